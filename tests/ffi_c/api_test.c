/*
 * The C API of libbenchfs from C: every function, every error path we can provoke, the
 * thread rules (a context shared by threads, a context per thread, a finalize racing with
 * calls) and a job cluster started over collectives made of pthread barriers. Built and run
 * by tests/ffi_c.rs under LeakSanitizer (or valgrind), which must report no leak.
 *
 * Usage: api_test DATA_DIR      Prints "N passed, M failed"; exit status 1 on any failure.
 */
#include <benchfs.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int passed, failed;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *data_dir;

static void count(int ok, const char *what, const char *file, int line, long long got,
                  long long want) {
    pthread_mutex_lock(&count_lock);
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAIL %s:%d: %s (got %lld, want %lld) [last error: %s]\n", file, line,
                what, got, want, benchfs_get_error());
    }
    pthread_mutex_unlock(&count_lock);
}

#define EXPECT(cond) count((cond) ? 1 : 0, #cond, __FILE__, __LINE__, 0, 0)
#define EXPECT_EQ(a, b)                                                                      \
    do {                                                                                     \
        long long a_ = (long long)(a), b_ = (long long)(b);                                  \
        count(a_ == b_, #a " == " #b, __FILE__, __LINE__, a_, b_);                           \
    } while (0)
#define EXPECT_ERR(call, err) EXPECT_EQ((call), -(err))
#define EXPECT_NULL_ERRNO(call, err)                                                         \
    do {                                                                                     \
        errno = 0;                                                                           \
        void *p_ = (void *)(call);                                                           \
        EXPECT(p_ == NULL);                                                                  \
        EXPECT_EQ(errno, (err));                                                             \
    } while (0)
#define EXPECT_MSG(part) EXPECT(strstr(benchfs_get_error(), (part)) != NULL)

static void fill(unsigned char *buf, size_t len, unsigned seed) {
    for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)(i * 31u + seed);
}

static benchfs_context *embedded(unsigned servers, unsigned threads) {
    benchfs_config cfg = {0};
    cfg.servers = servers;
    cfg.data_dir = data_dir;
    cfg.chunk_size = 64 << 10;
    cfg.spare_chunks = -1;
    cfg.threads = threads;
    benchfs_context *ctx = benchfs_init(&cfg);
    EXPECT(ctx != NULL);
    return ctx;
}

struct listing {
    char names[16][64];
    benchfs_stat_t stats[16];
    int n;
};

static int collect(void *arg, const benchfs_dirent *e) {
    struct listing *l = arg;
    if (l->n < 16) {
        snprintf(l->names[l->n], sizeof l->names[0], "%s", e->name);
        l->stats[l->n] = e->stat;
    }
    l->n++;
    return 0;
}

static int stop_now(void *arg, const benchfs_dirent *e) {
    (void)e;
    (*(int *)arg)++;
    return 1;
}

/* Every function, on an embedded cluster. */
static void every_call(void) {
    benchfs_context *ctx = embedded(3, 0);
    if (!ctx) return;
    EXPECT(strncmp(benchfs_version(), "BenchFS ", 8) == 0);
    char reg[512];
    int64_t n = benchfs_context_registry(ctx, reg, sizeof reg);
    EXPECT(n > 0 && n < (int64_t)sizeof reg);
    EXPECT(strncmp(reg, data_dir, strlen(data_dir)) == 0);
    EXPECT_EQ(benchfs_context_registry(ctx, NULL, 0), n);

    EXPECT_EQ(benchfs_mkdir(ctx, "/d", 0750), 0);
    benchfs_file *f = benchfs_create(ctx, "/d/f", O_RDWR, 0640);
    EXPECT(f != NULL);
    size_t len = 3 * 65536 + 100;
    unsigned char *data = malloc(len), *back = malloc(len + 1000);
    fill(data, len, 7);
    EXPECT_EQ(benchfs_write(f, data, len, 10), len);
    EXPECT_EQ(benchfs_read(f, back, len, 10), len);
    EXPECT(memcmp(back, data, len) == 0);
    EXPECT_EQ(benchfs_read(f, back, 10, 0), 10);
    EXPECT(back[0] == 0 && back[9] == 0); /* the hole reads as zeros */
    int64_t end = 10 + (int64_t)len;
    EXPECT_EQ(benchfs_read(f, back, 1000, end - 4), 4); /* short read at the end */
    EXPECT_EQ(benchfs_read(f, back, 1000, end + 5), 0);
    /* The same data through an I/O buffer of the library; a second free is an error. */
    unsigned char *io = benchfs_alloc_io_buffer(ctx, len);
    EXPECT(io != NULL);
    if (io) {
        memcpy(io, data, len);
        EXPECT_EQ(benchfs_write(f, io, len, 10), len);
        memset(io, 0, len);
        EXPECT_EQ(benchfs_read(f, io, len, 10), len);
        EXPECT(memcmp(io, data, len) == 0);
        EXPECT_EQ(benchfs_free_io_buffer(io), 0);
        EXPECT_EQ(benchfs_free_io_buffer(io), -EINVAL);
    }
    EXPECT_EQ(benchfs_write(f, NULL, 0, 0), 0);
    EXPECT_EQ(benchfs_lseek(f, 5, SEEK_SET), 5);
    EXPECT_EQ(benchfs_lseek(f, 5, SEEK_CUR), 10);
    EXPECT_EQ(benchfs_lseek(f, -1, SEEK_END), end - 1);
    EXPECT_EQ(benchfs_fsync(f), 0);
    EXPECT_EQ(benchfs_close(f), 0);
    EXPECT_EQ(benchfs_get_file_size(ctx, "/d/f"), end);

    benchfs_stat_t st;
    EXPECT_EQ(benchfs_stat(ctx, "/d/f", &st), 0);
    EXPECT_EQ(st.size, end);
    EXPECT_EQ(st.type, BENCHFS_TYPE_FILE);
    EXPECT_EQ(st.mode, S_IFREG | 0640);
    EXPECT_EQ(st.chunk_size, 65536);
    EXPECT_EQ(st.servers, 3);
    EXPECT(st.mtime_sec > 1600000000);
    EXPECT_EQ(benchfs_stat(ctx, "/d", &st), 0);
    EXPECT_EQ(st.type, BENCHFS_TYPE_DIR);
    EXPECT_EQ(st.mode, S_IFDIR | 0750);

    benchfs_file *r = benchfs_open(ctx, "/d/f", O_RDONLY);
    EXPECT(r != NULL);
    memset(back, 0, len);
    EXPECT_EQ(benchfs_read(r, back, len, 10), len);
    EXPECT(memcmp(back, data, len) == 0);
    EXPECT_EQ(benchfs_close(r), 0);
    /* O_CREAT without O_TRUNC keeps the data; O_TRUNC drops it. */
    r = benchfs_open(ctx, "/d/f", O_WRONLY | O_CREAT);
    EXPECT_EQ(benchfs_close(r), 0);
    EXPECT_EQ(benchfs_get_file_size(ctx, "/d/f"), end);

    EXPECT_EQ(benchfs_truncate(ctx, "/d/f", 100), 0);
    EXPECT_EQ(benchfs_get_file_size(ctx, "/d/f"), 100);
    EXPECT_EQ(benchfs_access(ctx, "/d/f", F_OK), 0);
    EXPECT_EQ(benchfs_access(ctx, "/d/f", R_OK | W_OK), 0);
    EXPECT_ERR(benchfs_access(ctx, "/d/f", X_OK), EACCES);
    EXPECT_EQ(benchfs_rename(ctx, "/d/f", "/d/g"), 0);
    EXPECT_ERR(benchfs_access(ctx, "/d/f", F_OK), ENOENT);

    benchfs_file *e = benchfs_create(ctx, "/d/empty", O_WRONLY, 0600);
    EXPECT_EQ(benchfs_close(e), 0);
    EXPECT_EQ(benchfs_mkdir(ctx, "/d/sub", 0755), 0);
    struct listing l = {0};
    EXPECT_EQ(benchfs_readdir(ctx, "/d", collect, &l), 3);
    EXPECT_EQ(l.n, 3);
    EXPECT(strcmp(l.names[0], "empty") == 0 && l.stats[0].size == 0);
    EXPECT(strcmp(l.names[1], "g") == 0 && l.stats[1].size == 100);
    EXPECT(strcmp(l.names[2], "sub") == 0 && l.stats[2].type == BENCHFS_TYPE_DIR);
    int calls = 0;
    EXPECT_EQ(benchfs_readdir(ctx, "/d", stop_now, &calls), 1);
    EXPECT_EQ(calls, 1);

    benchfs_statfs_t sf;
    EXPECT_EQ(benchfs_statfs(ctx, "/", &sf), 0);
    EXPECT_EQ(sf.servers, 3);
    EXPECT(sf.total_bytes > 0 && sf.entries >= 4);
    EXPECT_EQ(benchfs_statfs(ctx, NULL, &sf), 0);
    EXPECT_EQ(benchfs_sync(ctx), 0);
    EXPECT_EQ(benchfs_settle(ctx, 1), 0);

    EXPECT_EQ(benchfs_remove(ctx, "/d/g"), 0);
    EXPECT_EQ(benchfs_remove(ctx, "/d/empty"), 0);
    EXPECT_EQ(benchfs_rmdir(ctx, "/d/sub"), 0);
    EXPECT_EQ(benchfs_rmdir(ctx, "/d"), 0);
    /* A file left open is closed by the finalize. */
    benchfs_file *left = benchfs_create(ctx, "/left", O_WRONLY, 0644);
    EXPECT_EQ(benchfs_write(left, "abc", 3, 0), 3);
    EXPECT_EQ(benchfs_finalize(ctx), 0);
    EXPECT_ERR(benchfs_close(left), EBADF);
    free(data);
    free(back);
}

/* A TCP port on 127.0.0.1 that accepts connections and never answers (listen_fd >= 0), or
 * one nothing listens on (listen_fd closed). */
static int listener(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        EXPECT(!"cannot make a listening socket");
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* Every error path, with its errno and message. */
static void errors(void) {
    benchfs_context *ctx = embedded(2, 0);
    if (!ctx) return;
    EXPECT_NULL_ERRNO(benchfs_open(ctx, "/missing", O_RDONLY), ENOENT);
    EXPECT(strncmp(benchfs_get_error(), "benchfs_open: /missing: no such file", 36) == 0);
    EXPECT_MSG("(server 127.0.0.1:");
    benchfs_file *w = benchfs_create(ctx, "/x", O_WRONLY, 0644);
    EXPECT(w != NULL);
    EXPECT_NULL_ERRNO(benchfs_create(ctx, "/x", O_WRONLY | O_EXCL, 0644), EEXIST);
    EXPECT_NULL_ERRNO(benchfs_open(ctx, "/x", O_WRONLY | O_CREAT | O_EXCL), EEXIST);
    EXPECT_ERR(benchfs_mkdir(ctx, "/x/y", 0755), ENOTDIR);
    EXPECT_EQ(benchfs_mkdir(ctx, "/dir", 0755), 0);
    EXPECT_ERR(benchfs_mkdir(ctx, "/dir", 0755), EEXIST);
    EXPECT_ERR(benchfs_mkdir(ctx, "/no/parent", 0755), ENOENT);
    EXPECT_NULL_ERRNO(benchfs_open(ctx, "/dir", O_RDONLY), EISDIR);
    EXPECT_NULL_ERRNO(benchfs_create(ctx, "/dir", O_WRONLY, 0644), EISDIR);
    EXPECT_EQ(benchfs_mkdir(ctx, "/dir/in", 0755), 0);
    EXPECT_ERR(benchfs_rmdir(ctx, "/dir"), ENOTEMPTY);
    EXPECT_ERR(benchfs_rmdir(ctx, "/x"), ENOTDIR);
    EXPECT_ERR(benchfs_rmdir(ctx, "/nope"), ENOENT);
    EXPECT_ERR(benchfs_rmdir(ctx, "/"), EBUSY);
    EXPECT_ERR(benchfs_remove(ctx, "/nope"), ENOENT);
    EXPECT_ERR(benchfs_rename(ctx, "/nope", "/n2"), ENOENT);
    EXPECT_MSG("/nope -> /n2");
    EXPECT_ERR(benchfs_rename(ctx, "/dir", "/dir/in/deeper"), EINVAL);
    EXPECT_ERR(benchfs_stat(ctx, "/nope", &(benchfs_stat_t){0}), ENOENT);
    EXPECT_ERR(benchfs_get_file_size(ctx, "/nope"), ENOENT);
    EXPECT_ERR(benchfs_truncate(ctx, "/nope", 0), ENOENT);
    EXPECT_ERR(benchfs_truncate(ctx, "/x", -1), EINVAL);
    EXPECT_ERR(benchfs_truncate(ctx, "/dir", 0), EISDIR);
    EXPECT_ERR(benchfs_access(ctx, "/nope", F_OK), ENOENT);
    EXPECT_ERR(benchfs_access(ctx, "/x", 0100), EINVAL);
    EXPECT_ERR(benchfs_readdir(ctx, "/x", collect, NULL), ENOTDIR);
    EXPECT_ERR(benchfs_readdir(ctx, "/nope", collect, NULL), ENOENT);

    /* Bad arguments. */
    EXPECT_NULL_ERRNO(benchfs_open(ctx, NULL, O_RDONLY), EINVAL);
    EXPECT_MSG("path is NULL");
    EXPECT_ERR(benchfs_mkdir(ctx, "/\xff\xfe", 0755), EINVAL);
    EXPECT_MSG("not valid UTF-8");
    EXPECT_ERR(benchfs_mkdir(ctx, "relative", 0755), EINVAL);
    EXPECT_ERR(benchfs_rename(ctx, "/x", NULL), EINVAL);
    EXPECT_NULL_ERRNO(benchfs_open(ctx, "/x", O_RDWR | O_SYNC), EINVAL);
    EXPECT_MSG("unsupported open flags");
    EXPECT_NULL_ERRNO(benchfs_open(ctx, "/x", 3), EINVAL);
    EXPECT_ERR(benchfs_write(w, "ab", 2, -5), EINVAL);
    EXPECT_ERR(benchfs_write(w, NULL, 2, 0), EINVAL);
    char buf[8];
    EXPECT_ERR(benchfs_read(w, NULL, 2, 0), EINVAL);
    EXPECT_ERR(benchfs_lseek(w, 0, 99), EINVAL);
    EXPECT_ERR(benchfs_lseek(w, -1, SEEK_SET), EINVAL);
    EXPECT_ERR(benchfs_stat(ctx, "/x", NULL), EINVAL);
    EXPECT_ERR(benchfs_statfs(ctx, NULL, NULL), EINVAL);
    EXPECT_ERR(benchfs_readdir(ctx, "/", NULL, NULL), EINVAL);
    EXPECT_ERR(benchfs_context_registry(ctx, NULL, 10), EINVAL);
    /* A handle used for an access it was not opened for. */
    EXPECT_ERR(benchfs_read(w, buf, 4, 0), EBADF);
    EXPECT_MSG("not open for reading");

    /* Handles: NULL, foreign, of another kind, closed. */
    EXPECT_ERR(benchfs_close(NULL), EINVAL);
    EXPECT_ERR(benchfs_finalize(NULL), EINVAL);
    long on_stack = 0;
    EXPECT_ERR(benchfs_close((benchfs_file *)&on_stack), EBADF);
    EXPECT_MSG("not a handle made by libbenchfs");
    EXPECT_ERR(benchfs_fsync((benchfs_file *)ctx), EBADF);
    EXPECT_MSG("is a benchfs_context, not a benchfs_file");
    EXPECT_ERR(benchfs_sync((benchfs_context *)w), EBADF);
    EXPECT_ERR(benchfs_cluster_stop((benchfs_cluster *)ctx), EBADF);
    EXPECT_EQ(benchfs_close(w), 0);
    EXPECT_ERR(benchfs_close(w), EBADF);
    EXPECT_MSG("is closed");
    EXPECT_ERR(benchfs_write(w, "a", 1, 0), EBADF);

    /* Use after finalize. */
    benchfs_file *kept = benchfs_open(ctx, "/x", O_RDONLY);
    EXPECT(kept != NULL);
    EXPECT_EQ(benchfs_finalize(ctx), 0);
    EXPECT_ERR(benchfs_finalize(ctx), EBADF);
    EXPECT_ERR(benchfs_mkdir(ctx, "/z", 0755), EBADF);
    EXPECT_ERR(benchfs_read(kept, buf, 4, 0), EBADF);
    EXPECT_MSG("context was finalized");
    EXPECT_NULL_ERRNO(benchfs_open(ctx, "/x", O_RDONLY), EBADF);

    /* Bad settings. */
    benchfs_config bad = {0};
    EXPECT_EQ(benchfs_check_config(&bad), 0);
    EXPECT_EQ(benchfs_check_config(NULL), 0);
    bad.chunk_size = 3 << 20;
    EXPECT_ERR(benchfs_check_config(&bad), EINVAL);
    EXPECT_MSG("benchfs.chunk-size");
    EXPECT_NULL_ERRNO(benchfs_init(&bad), EINVAL);
    EXPECT_MSG("benchfs.chunk-size");
    bad.chunk_size = 0;
    bad.transport = "carrier-pigeon";
    EXPECT_NULL_ERRNO(benchfs_init(&bad), EINVAL);
    bad.transport = NULL;
    bad.server_list = "127.0.0.1:1";
    EXPECT_NULL_ERRNO(benchfs_init(&bad), EINVAL);
    EXPECT_MSG("needs benchfs_config.secret");
    bad.secret = "not base64!";
    EXPECT_NULL_ERRNO(benchfs_init(&bad), EINVAL);

    /* Servers that refuse, that never answer, and a wrong secret. */
    int port;
    int fd = listener(&port);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    benchfs_config cfg = {0};
    cfg.server_list = addr;
    cfg.secret = "AAAA";
    cfg.timeout_ms = 300;
    EXPECT_NULL_ERRNO(benchfs_init(&cfg), ETIMEDOUT);
    EXPECT_MSG(addr);
    close(fd);
    EXPECT_NULL_ERRNO(benchfs_init(&cfg), ECONNREFUSED);
    EXPECT_MSG(addr);

    benchfs_config one = {0};
    one.servers = 1;
    one.data_dir = data_dir;
    benchfs_cluster *cl = benchfs_cluster_start(&one);
    EXPECT(cl != NULL);
    char list[256], secret[128];
    EXPECT(benchfs_cluster_servers(cl, list, sizeof list) > 0);
    EXPECT(benchfs_cluster_secret(cl, secret, sizeof secret) > 0);
    benchfs_config wrong = {0};
    wrong.server_list = list;
    wrong.secret = "d3Jvbmcgc2VjcmV0";
    EXPECT_NULL_ERRNO(benchfs_init(&wrong), EACCES);
    wrong.secret = secret;
    benchfs_context *ok = benchfs_init(&wrong);
    EXPECT(ok != NULL);
    EXPECT_ERR(benchfs_context_registry(ok, NULL, 0), ENOENT);
    EXPECT_EQ(benchfs_finalize(ok), 0);
    EXPECT_EQ(benchfs_cluster_stop(cl), 0);
    EXPECT_ERR(benchfs_cluster_stop(cl), EBADF);
    EXPECT_ERR(benchfs_cluster_servers(cl, list, sizeof list), EBADF);
}

/* Threads sharing one context and one file handle. */
struct shared {
    benchfs_context *ctx;
    benchfs_file *f;
    int t;
};

static void *shared_worker(void *arg) {
    struct shared *s = arg;
    unsigned char data[65536], back[65536];
    for (int block = 0; block < 8; block++) {
        int64_t off = (int64_t)(block * 4 + s->t) * 65536;
        fill(data, sizeof data, (unsigned)(s->t * 8 + block));
        EXPECT_EQ(benchfs_write(s->f, data, sizeof data, off), sizeof data);
        EXPECT_EQ(benchfs_read(s->f, back, sizeof back, off), sizeof back);
        EXPECT(memcmp(data, back, sizeof data) == 0);
    }
    char name[32];
    snprintf(name, sizeof name, "/t%d", s->t);
    EXPECT_EQ(benchfs_mkdir(s->ctx, name, 0755), 0);
    return NULL;
}

static void shared_by_threads(unsigned ctx_threads) {
    benchfs_context *ctx = embedded(2, ctx_threads);
    if (!ctx) return;
    benchfs_file *f = benchfs_create(ctx, "/shared", O_RDWR, 0644);
    pthread_t th[4];
    struct shared s[4];
    for (int t = 0; t < 4; t++) {
        s[t] = (struct shared){ctx, f, t};
        pthread_create(&th[t], NULL, shared_worker, &s[t]);
    }
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    EXPECT_EQ(benchfs_close(f), 0);
    EXPECT_EQ(benchfs_get_file_size(ctx, "/shared"), 32 * 65536);
    struct listing l = {0};
    EXPECT_EQ(benchfs_readdir(ctx, "/", collect, &l), 5);
    EXPECT_EQ(benchfs_finalize(ctx), 0);
}

/* One context per thread, all of one cluster. */
struct own {
    const char *registry;
    int t;
};

static void *own_worker(void *arg) {
    struct own *o = arg;
    benchfs_config cfg = {0};
    cfg.registry = o->registry;
    benchfs_context *ctx = benchfs_init(&cfg);
    EXPECT(ctx != NULL);
    if (!ctx) return NULL;
    char missing[32], name[32];
    snprintf(missing, sizeof missing, "/missing%d", o->t);
    snprintf(name, sizeof name, "/own%d", o->t);
    EXPECT(benchfs_open(ctx, missing, O_RDONLY) == NULL);
    unsigned char data[100000];
    fill(data, sizeof data, (unsigned)o->t);
    benchfs_file *f = benchfs_create(ctx, name, O_WRONLY, 0644);
    EXPECT_EQ(benchfs_write(f, data, sizeof data, 0), sizeof data);
    EXPECT_EQ(benchfs_close(f), 0);
    EXPECT_MSG(missing); /* the error message is this thread's own */
    EXPECT_EQ(benchfs_get_file_size(ctx, name), sizeof data);
    EXPECT_EQ(benchfs_finalize(ctx), 0);
    return NULL;
}

static void context_per_thread(void) {
    benchfs_config cfg = {0};
    cfg.servers = 2;
    cfg.data_dir = data_dir;
    benchfs_cluster *cl = benchfs_cluster_start(&cfg);
    EXPECT(cl != NULL);
    if (!cl) return;
    char reg[512];
    EXPECT(benchfs_cluster_registry(cl, reg, sizeof reg) > 0);
    pthread_t th[4];
    struct own o[4];
    for (int t = 0; t < 4; t++) {
        o[t] = (struct own){reg, t};
        pthread_create(&th[t], NULL, own_worker, &o[t]);
    }
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    EXPECT_EQ(benchfs_cluster_stop(cl), 0);
}

/* A finalize racing with a thread that keeps writing. */
struct racer {
    benchfs_file *f;
    pthread_barrier_t *started;
    int64_t last;
    int ok;
};

static void *racer(void *arg) {
    struct racer *r = arg;
    char data[4096] = {1};
    for (;;) {
        r->last = benchfs_write(r->f, data, sizeof data, 0);
        if (r->last != (int64_t)sizeof data) return NULL;
        if (++r->ok == 10) pthread_barrier_wait(r->started);
    }
}

static void finalize_race(void) {
    benchfs_context *ctx = embedded(1, 0);
    if (!ctx) return;
    pthread_barrier_t started;
    pthread_barrier_init(&started, NULL, 2);
    struct racer r = {benchfs_create(ctx, "/race", O_RDWR, 0644), &started, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, racer, &r);
    pthread_barrier_wait(&started);
    EXPECT_EQ(benchfs_finalize(ctx), 0);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&started);
    EXPECT(r.ok >= 10);
    EXPECT_EQ(r.last, -EBADF);
}

/* A job of three ranks (threads) whose collectives are pthread barriers. */
#define RANKS 3
struct job {
    pthread_barrier_t barrier;
    unsigned char slots[RANKS * 4096];
};
struct rank {
    struct job *job;
    int rank;
};

static int job_barrier(void *arg) {
    struct rank *r = arg;
    int rc = pthread_barrier_wait(&r->job->barrier);
    return rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD ? 0 : 1;
}

static int job_allgather(void *arg, const void *send, size_t len, void *recv) {
    struct rank *r = arg;
    if (len > 4096) return 1;
    memcpy(r->job->slots + (size_t)r->rank * len, send, len);
    if (job_barrier(arg)) return 1;
    memcpy(recv, r->job->slots, RANKS * len);
    return job_barrier(arg);
}

static void *job_rank(void *arg) {
    struct rank *r = arg;
    benchfs_comm comm = {r, r->rank, RANKS, job_allgather, job_barrier};
    benchfs_config cfg = {0};
    cfg.data_dir = data_dir;
    cfg.servers_per_node = 2;
    cfg.spare_chunks = -1;
    benchfs_cluster *cl = benchfs_cluster_start_job(&cfg, &comm);
    EXPECT(cl != NULL);
    if (!cl) return NULL;
    char list[512], secret[128];
    EXPECT(benchfs_cluster_servers(cl, list, sizeof list) > 0);
    EXPECT(strchr(list, ',') != NULL); /* two servers */
    EXPECT(benchfs_cluster_secret(cl, secret, sizeof secret) > 0);
    EXPECT_ERR(benchfs_cluster_registry(cl, NULL, 0), ENOENT);
    benchfs_config c = {0};
    c.server_list = list;
    c.secret = secret;
    benchfs_context *ctx = benchfs_init(&c);
    EXPECT(ctx != NULL);
    char name[32];
    snprintf(name, sizeof name, "/rank%d", r->rank);
    unsigned char data[50000], back[50000];
    fill(data, sizeof data, (unsigned)r->rank);
    benchfs_file *f = benchfs_create(ctx, name, O_WRONLY, 0644);
    EXPECT_EQ(benchfs_write(f, data, sizeof data, 0), sizeof data);
    EXPECT_EQ(benchfs_close(f), 0);
    job_barrier(r);
    for (int other = 0; other < RANKS; other++) {
        snprintf(name, sizeof name, "/rank%d", other);
        fill(data, sizeof data, (unsigned)other);
        benchfs_file *g = benchfs_open(ctx, name, O_RDONLY);
        EXPECT_EQ(benchfs_read(g, back, sizeof back, 0), sizeof back);
        EXPECT(memcmp(data, back, sizeof data) == 0);
        EXPECT_EQ(benchfs_close(g), 0);
    }
    EXPECT_EQ(benchfs_finalize(ctx), 0);
    EXPECT_EQ(benchfs_cluster_stop(cl), 0);
    return NULL;
}

static void job_cluster(void) {
    struct job job;
    pthread_barrier_init(&job.barrier, NULL, RANKS);
    pthread_t th[RANKS];
    struct rank ranks[RANKS];
    for (int i = 0; i < RANKS; i++) {
        ranks[i] = (struct rank){&job, i};
        pthread_create(&th[i], NULL, job_rank, &ranks[i]);
    }
    for (int i = 0; i < RANKS; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&job.barrier);
    /* A comm with a NULL callback or an impossible rank is refused. */
    benchfs_comm bad = {NULL, 5, 2, job_allgather, NULL};
    EXPECT_NULL_ERRNO(benchfs_cluster_start_job(NULL, &bad), EINVAL);
    bad.barrier = job_barrier;
    EXPECT_NULL_ERRNO(benchfs_cluster_start_job(NULL, &bad), EINVAL);
    EXPECT_NULL_ERRNO(benchfs_cluster_start_job(NULL, NULL), EINVAL);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
        return 2;
    }
    data_dir = argv[1];
    every_call();
    errors();
    shared_by_threads(0);
    shared_by_threads(2);
    context_per_thread();
    finalize_race();
    job_cluster();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
