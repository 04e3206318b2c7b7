/*
 * aiori-BENCHFS.c: the BENCHFS backend of IOR and mdtest (IOR 4.1 backend table), over
 * libbenchfs, the C API of the BenchFS distributed file system.
 *
 *   mpirun -np 4 ior -a BENCHFS -w -r -t 1m -b 16m -o /testFile
 *   mpirun -np 4 mdtest -a BENCHFS -n 1000 -u -d /mdtest
 *
 * Where the servers come from:
 *  - --benchfs.registry DIR: the cluster of benchfs-server processes registered in DIR.
 *  - otherwise, under mpirun: the first --benchfs.servers-per-node ranks of every host start
 *    a server inside their IOR process; addresses and the cluster secret travel over MPI
 *    (one mpirun, no shared directory). The servers live until MPI_Finalize, across every
 *    test of the run, and their data is removed then.
 *  - otherwise (a single process): --benchfs.servers servers embedded in the process.
 *
 * Each test (initialize .. finalize) has its own libbenchfs context; IOR's calls map one to
 * one onto libbenchfs calls on IOR's own thread. Paths are BenchFS paths: a relative IOR file
 * name ("testFile", "./out") is taken from the root.
 *
 * See ior-compat/README.md for adding it to an IOR source tree.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mpi.h>

#include <benchfs.h>

#include "aiori.h"

/* IOR's globals (declared again here so that this file needs aiori.h only). */
extern int rank;
extern MPI_Comm testComm;

/* --benchfs.* options: the names and meanings benchfs-bench uses. */
typedef struct {
    char *registry;          /* registry directory of a running cluster */
    int servers;             /* servers of the embedded cluster (single process) */
    int servers_per_node;    /* in-job servers per host (under mpirun) */
    char *listen_host;       /* address in-job servers listen on and advertise */
    char *data_dir;          /* where embedded and in-job servers keep their data */
    IOR_offset_t chunk_size; /* chunk size of created files (0: the cluster's) */
    int spare_chunks;        /* preallocated chunk files per embedded/in-job server */
    int settle;              /* seconds the servers may take, untimed, before the test */
    char *transport;         /* tcp */
    int timeout;             /* seconds before a call to a silent server fails */
} benchfs_options_t;

static benchfs_context *ctx;           /* this test's context */
static benchfs_cluster *cluster;       /* servers this process started (or NULL) */
static char *cluster_servers;          /* the in-process or in-job cluster this process uses */
static char *cluster_secret;
static MPI_Comm cluster_comm = MPI_COMM_NULL; /* the ranks that started the in-job cluster */
static aiori_xfer_hint_t *hints;

/* ---- options ---- */

static option_help *BENCHFS_options(aiori_mod_opt_t **init_backend_options,
                                    aiori_mod_opt_t *init_values) {
    benchfs_options_t *o = malloc(sizeof *o);
    if (o == NULL) ERR("BENCHFS: out of memory");
    if (init_values != NULL) {
        memcpy(o, init_values, sizeof *o);
    } else {
        memset(o, 0, sizeof *o);
        o->servers = 4;
        o->servers_per_node = 1;
        o->spare_chunks = 64;
        o->settle = 5;
        o->timeout = 30;
    }
    *init_backend_options = (aiori_mod_opt_t *)o;
    option_help h[] = {
        {0, "benchfs.registry", "Registry directory of a running cluster (default: servers inside the job)",
         OPTION_OPTIONAL_ARGUMENT, 's', &o->registry},
        {0, "benchfs.servers", "Servers of the embedded cluster of a single-process run",
         OPTION_OPTIONAL_ARGUMENT, 'd', &o->servers},
        {0, "benchfs.servers-per-node", "Under MPI without a registry: servers started inside the job on each node",
         OPTION_OPTIONAL_ARGUMENT, 'd', &o->servers_per_node},
        {0, "benchfs.listen-host", "Under MPI: address the in-job servers listen on and advertise",
         OPTION_OPTIONAL_ARGUMENT, 's', &o->listen_host},
        {0, "benchfs.data-dir", "Where embedded and in-job servers keep their data (removed afterwards)",
         OPTION_OPTIONAL_ARGUMENT, 's', &o->data_dir},
        {0, "benchfs.chunk-size", "Chunk size of created files (power of two, 64k..64m; 0 = the cluster's)",
         OPTION_OPTIONAL_ARGUMENT, 'l', &o->chunk_size},
        {0, "benchfs.spare-chunks", "Chunk files each embedded or in-job server keeps preallocated (0: none)",
         OPTION_OPTIONAL_ARGUMENT, 'd', &o->spare_chunks},
        {0, "benchfs.settle", "Seconds the servers may take, untimed, before each test to get their spare chunk files ready (0: do not wait)",
         OPTION_OPTIONAL_ARGUMENT, 'd', &o->settle},
        {0, "benchfs.transport", "Transport to the servers: tcp",
         OPTION_OPTIONAL_ARGUMENT, 's', &o->transport},
        {0, "benchfs.timeout", "Seconds before a call to a server that does not answer fails",
         OPTION_OPTIONAL_ARGUMENT, 'd', &o->timeout},
        LAST_OPTION};
    option_help *help = malloc(sizeof h);
    if (help == NULL) ERR("BENCHFS: out of memory");
    memcpy(help, h, sizeof h);
    return help;
}

/* The libbenchfs settings of the options (strings point into `o`). */
static void make_config(const benchfs_options_t *o, benchfs_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->registry = o->registry;
    cfg->chunk_size = o->chunk_size > 0 && o->chunk_size <= UINT32_MAX ? (uint32_t)o->chunk_size : 0;
    cfg->timeout_ms = o->timeout > 0 && o->timeout <= INT_MAX / 1000 ? (uint32_t)o->timeout * 1000 : 0;
    cfg->transport = o->transport;
    cfg->servers = o->servers > 0 ? (uint32_t)o->servers : 0;
    cfg->data_dir = o->data_dir;
    cfg->spare_chunks = o->spare_chunks == 0 ? -1 : o->spare_chunks;
    cfg->servers_per_node = o->servers_per_node > 0 ? (uint32_t)o->servers_per_node : 0;
    cfg->listen_host = o->listen_host;
}

static int BENCHFS_check_params(aiori_mod_opt_t *param) {
    benchfs_options_t *o = (benchfs_options_t *)param;
    /* Values libbenchfs would read as "the default" are refused here. */
    if (o->servers <= 0) ERRF("BENCHFS: invalid option benchfs.servers %d: must be positive", o->servers);
    if (o->servers_per_node <= 0)
        ERRF("BENCHFS: invalid option benchfs.servers-per-node %d: must be positive", o->servers_per_node);
    if (o->timeout <= 0 || o->timeout > INT_MAX / 1000)
        ERRF("BENCHFS: invalid option benchfs.timeout %d: must be at least 1 second", o->timeout);
    if (o->chunk_size < 0 || o->chunk_size > UINT32_MAX)
        ERRF("BENCHFS: invalid option benchfs.chunk-size %lld: must be a power of two from 64k to 64m",
             (long long)o->chunk_size);
    if (o->spare_chunks < 0)
        ERRF("BENCHFS: invalid option benchfs.spare-chunks %d: must not be negative", o->spare_chunks);
    if (o->settle < 0) ERRF("BENCHFS: invalid option benchfs.settle %d: must not be negative", o->settle);
    /* Everything else is checked by libbenchfs, in the words benchfs-bench uses. */
    benchfs_config cfg;
    make_config(o, &cfg);
    if (benchfs_check_config(&cfg) != 0) ERRF("BENCHFS: invalid option: %s", benchfs_get_error());
    return 0;
}

static void BENCHFS_xfer_hints(aiori_xfer_hint_t *params) { hints = params; }

static int dry_run(void) { return hints != NULL && hints->dryRun; }

/* ---- the cluster: joined, started inside the job, or embedded ---- */

static int mpi_allgather(void *arg, const void *send, size_t len, void *recv) {
    if (len > INT_MAX) return 1;
    return MPI_Allgather((void *)send, (int)len, MPI_BYTE, recv, (int)len, MPI_BYTE,
                         *(MPI_Comm *)arg) != MPI_SUCCESS;
}

static int mpi_barrier(void *arg) { return MPI_Barrier(*(MPI_Comm *)arg) != MPI_SUCCESS; }

/* A string libbenchfs writes snprintf-style (`get` returns the full length). */
static char *fetch_string(int64_t (*get)(const benchfs_cluster *, char *, size_t)) {
    int64_t n = get(cluster, NULL, 0);
    if (n < 0) ERRF("BENCHFS: %s", benchfs_get_error());
    char *s = malloc((size_t)n + 1);
    if (s == NULL) ERR("BENCHFS: out of memory");
    if (get(cluster, s, (size_t)n + 1) != n) ERRF("BENCHFS: %s", benchfs_get_error());
    return s;
}

/* MPI_Finalize deletes MPI_COMM_SELF's attributes first, while MPI still works: the servers
 * stop there, once every rank that runs one is done with the whole run. */
static int stop_cluster(MPI_Comm comm, int keyval, void *value, void *extra) {
    (void)comm;
    (void)keyval;
    (void)value;
    (void)extra;
    if (ctx != NULL) {
        benchfs_finalize(ctx);
        ctx = NULL;
    }
    if (cluster != NULL && benchfs_cluster_stop(cluster) != 0)
        fprintf(stderr, "WARNING: BENCHFS: %s\n", benchfs_get_error());
    cluster = NULL;
    if (cluster_comm != MPI_COMM_NULL) MPI_Comm_free(&cluster_comm);
    free(cluster_servers);
    free(cluster_secret);
    cluster_servers = cluster_secret = NULL;
    return MPI_SUCCESS;
}

static void stop_at_mpi_finalize(void) {
    int keyval;
    if (MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, stop_cluster, &keyval, NULL) != MPI_SUCCESS ||
        MPI_Comm_set_attr(MPI_COMM_SELF, keyval, NULL) != MPI_SUCCESS)
        ERR("BENCHFS: cannot register the end of the in-job servers with MPI_Finalize");
}

/* Rank 0's copy of *s on every rank of testComm. */
static void bcast_string(char **s) {
    int n = rank == 0 ? (int)strlen(*s) : 0;
    MPI_Bcast(&n, 1, MPI_INT, 0, testComm);
    if (rank != 0) {
        free(*s);
        *s = calloc((size_t)n + 1, 1);
        if (*s == NULL) ERR("BENCHFS: out of memory");
    }
    MPI_Bcast(*s, n, MPI_CHAR, 0, testComm);
}

/* Makes sure this process knows the servers of the run's cluster, starting it (collectively
 * over testComm) the first time. Ranks that join in a later test (with more tasks) learn its
 * addresses from rank 0. */
static void ensure_cluster(const benchfs_options_t *o) {
    int known = cluster_servers != NULL;
    MPI_Bcast(&known, 1, MPI_INT, 0, testComm);
    if (!known) {
        int world;
        MPI_Comm_size(MPI_COMM_WORLD, &world);
        benchfs_config cfg;
        make_config(o, &cfg);
        cfg.registry = NULL;
        if (world == 1) {
            cluster = benchfs_cluster_start(&cfg);
        } else {
            int me, size;
            MPI_Comm_dup(testComm, &cluster_comm);
            MPI_Comm_rank(cluster_comm, &me);
            MPI_Comm_size(cluster_comm, &size);
            benchfs_comm comm = {&cluster_comm, me, size, mpi_allgather, mpi_barrier};
            cluster = benchfs_cluster_start_job(&cfg, &comm);
        }
        if (cluster == NULL) ERRF("BENCHFS: cannot start the servers: %s", benchfs_get_error());
        cluster_servers = fetch_string(benchfs_cluster_servers);
        cluster_secret = fetch_string(benchfs_cluster_secret);
        stop_at_mpi_finalize();
    }
    bcast_string(&cluster_servers);
    bcast_string(&cluster_secret);
}

static void BENCHFS_initialize(aiori_mod_opt_t *param) {
    benchfs_options_t *o = (benchfs_options_t *)param;
    if (ctx != NULL) return;
    benchfs_config cfg;
    make_config(o, &cfg);
    if (o->registry == NULL || o->registry[0] == '\0') {
        ensure_cluster(o);
        cfg.registry = NULL;
        cfg.server_list = cluster_servers;
        cfg.secret = cluster_secret;
    }
    ctx = benchfs_init(&cfg);
    if (ctx == NULL) ERRF("BENCHFS: cannot connect to the cluster: %s", benchfs_get_error());
    if (o->settle > 0 && !dry_run()) {
        /* One rank asks every server; the others wait for it, untimed. */
        if (rank == 0 && benchfs_settle(ctx, (uint32_t)o->settle) != 0)
            WARNF("BENCHFS: %s", benchfs_get_error());
        MPI_Barrier(testComm);
    }
}

static void BENCHFS_finalize(aiori_mod_opt_t *param) {
    (void)param;
    if (ctx == NULL) return;
    if (benchfs_finalize(ctx) != 0) WARNF("BENCHFS: %s", benchfs_get_error());
    ctx = NULL;
}

static char *BENCHFS_get_version(void) { return (char *)benchfs_version(); }

/* ---- paths and errors ---- */

/* The BenchFS path of an IOR path: relative names start at the root. */
static const char *fs_path(const char *path, char *buf, size_t len) {
    if (path[0] == '/') return path;
    while (path[0] == '.' && path[1] == '/') path += 2;
    snprintf(buf, len, "/%s", path);
    return buf;
}
#define FS_PATH(p) fs_path((p), path_buf, sizeof path_buf)

static benchfs_context *context(void) {
    if (ctx == NULL) ERR("BENCHFS: called before initialize");
    return ctx;
}

/* POSIX style for the calls IOR and mdtest check: 0, or -1 with errno set. */
static int posix_status(int rc) {
    if (rc >= 0) return 0;
    errno = -rc;
    return -1;
}

/* ---- files ---- */

static int open_flags(int iorflags) {
    int flags;
    if (iorflags & IOR_RDWR)
        flags = O_RDWR;
    else if (iorflags & IOR_WRONLY)
        flags = O_WRONLY;
    else
        flags = O_RDONLY;
    if (iorflags & IOR_CREAT) flags |= O_CREAT;
    if (iorflags & IOR_EXCL) flags |= O_EXCL;
    if (iorflags & IOR_APPEND) flags |= O_APPEND;
    /* IOR_DIRECT: BenchFS clients keep no cache, every access goes to the servers. */
    return flags;
}

static aiori_fd_t *BENCHFS_create(char *path, int iorflags, aiori_mod_opt_t *param) {
    (void)param;
    char path_buf[PATH_MAX];
    if (dry_run()) return NULL;
    /* Create without truncating, read-write, as IOR's POSIX backend does: every task of a
     * shared file creates it at once, and a late truncation would drop others' data. */
    int flags = (open_flags(iorflags) & ~O_ACCMODE) | O_RDWR | O_CREAT;
    benchfs_file *f = benchfs_open(context(), FS_PATH(path), flags);
    if (f == NULL) ERRF("BENCHFS: cannot create \"%s\": %s", path, benchfs_get_error());
    return (aiori_fd_t *)f;
}

static int BENCHFS_mknod(char *path) {
    char path_buf[PATH_MAX];
    benchfs_file *f = benchfs_open(context(), FS_PATH(path), O_WRONLY | O_CREAT | O_EXCL);
    if (f == NULL) return posix_status(-errno);
    return posix_status(benchfs_close(f));
}

static aiori_fd_t *BENCHFS_open(char *path, int iorflags, aiori_mod_opt_t *param) {
    (void)param;
    char path_buf[PATH_MAX];
    if (dry_run()) return NULL;
    benchfs_file *f = benchfs_open(context(), FS_PATH(path), open_flags(iorflags));
    if (f == NULL) ERRF("BENCHFS: cannot open \"%s\": %s", path, benchfs_get_error());
    return (aiori_fd_t *)f;
}

static IOR_offset_t BENCHFS_xfer(int access, aiori_fd_t *fd, IOR_size_t *buffer,
                                 IOR_offset_t length, IOR_offset_t offset,
                                 aiori_mod_opt_t *param) {
    (void)param;
    if (dry_run()) return length;
    benchfs_file *f = (benchfs_file *)fd;
    int64_t n;
    /* IOR allocates its transfer buffers itself (aligned_buffer_alloc) and ior_aiori_t has
       no hook to supply them, so they are plain memory here, not benchfs_alloc_io_buffer
       buffers: copying into one would add the very copy those buffers save. */
    if (access == WRITE) {
        n = benchfs_write(f, buffer, (size_t)length, offset);
        if (n >= 0 && hints != NULL && hints->fsyncPerWrite && benchfs_fsync(f) != 0)
            ERRF("BENCHFS: %s", benchfs_get_error());
    } else {
        n = benchfs_read(f, buffer, (size_t)length, offset);
    }
    if (n < 0) ERRF("BENCHFS: %s", benchfs_get_error());
    return n;
}

static void BENCHFS_close(aiori_fd_t *fd, aiori_mod_opt_t *param) {
    (void)param;
    if (dry_run()) return;
    if (benchfs_close((benchfs_file *)fd) != 0) ERRF("BENCHFS: %s", benchfs_get_error());
}

static void BENCHFS_fsync(aiori_fd_t *fd, aiori_mod_opt_t *param) {
    (void)param;
    if (dry_run()) return;
    if (benchfs_fsync((benchfs_file *)fd) != 0) WARNF("BENCHFS: %s", benchfs_get_error());
}

static void BENCHFS_sync(aiori_mod_opt_t *param) {
    (void)param;
    if (dry_run()) return;
    if (benchfs_sync(context()) != 0) WARNF("BENCHFS: %s", benchfs_get_error());
}

static void BENCHFS_remove(char *path, aiori_mod_opt_t *param) {
    (void)param;
    char path_buf[PATH_MAX];
    if (dry_run()) return;
    if (benchfs_remove(context(), FS_PATH(path)) != 0)
        WARNF("[RANK %03d]: BENCHFS: %s", rank, benchfs_get_error());
}

static IOR_offset_t BENCHFS_get_file_size(aiori_mod_opt_t *param, char *path) {
    (void)param;
    char path_buf[PATH_MAX];
    if (dry_run()) return 0;
    int64_t size = benchfs_get_file_size(context(), FS_PATH(path));
    if (size < 0) ERRF("BENCHFS: %s", benchfs_get_error());
    return size;
}

/* ---- namespace ---- */

static int BENCHFS_statfs(const char *path, ior_aiori_statfs_t *st, aiori_mod_opt_t *param) {
    (void)param;
    char path_buf[PATH_MAX];
    benchfs_statfs_t s;
    int rc = benchfs_statfs(context(), FS_PATH(path), &s);
    if (rc != 0) return posix_status(rc);
    const uint64_t bsize = 4096;
    st->f_bsize = bsize;
    st->f_blocks = s.total_bytes / bsize;
    st->f_bfree = s.free_bytes / bsize;
    st->f_bavail = s.avail_bytes / bsize;
    /* BenchFS has no inode limit: the entries held count as inodes, none of them "used up". */
    st->f_files = s.entries > 0 ? s.entries : 1;
    st->f_ffree = st->f_files;
    return 0;
}

static int BENCHFS_mkdir(const char *path, mode_t mode, aiori_mod_opt_t *param) {
    (void)param;
    char path_buf[PATH_MAX];
    return posix_status(benchfs_mkdir(context(), FS_PATH(path), (uint32_t)mode));
}

static int BENCHFS_rmdir(const char *path, aiori_mod_opt_t *param) {
    (void)param;
    char path_buf[PATH_MAX];
    return posix_status(benchfs_rmdir(context(), FS_PATH(path)));
}

static int BENCHFS_access(const char *path, int mode, aiori_mod_opt_t *param) {
    (void)param;
    char path_buf[PATH_MAX];
    return posix_status(benchfs_access(context(), FS_PATH(path), mode));
}

static int BENCHFS_stat(const char *path, struct stat *buf, aiori_mod_opt_t *param) {
    (void)param;
    char path_buf[PATH_MAX];
    benchfs_stat_t s;
    int rc = benchfs_stat(context(), FS_PATH(path), &s);
    if (rc != 0) return posix_status(rc);
    memset(buf, 0, sizeof *buf);
    buf->st_size = (off_t)s.size;
    buf->st_mode = (mode_t)s.mode;
    buf->st_ino = (ino_t)s.ino;
    buf->st_nlink = s.type == BENCHFS_TYPE_DIR ? 2 : 1;
    buf->st_uid = getuid();
    buf->st_gid = getgid();
    buf->st_blksize = s.chunk_size > 0 ? s.chunk_size : 4096;
    buf->st_blocks = (blkcnt_t)((s.size + 511) / 512);
    buf->st_atim.tv_sec = s.atime_sec;
    buf->st_atim.tv_nsec = s.atime_nsec;
    buf->st_mtim.tv_sec = s.mtime_sec;
    buf->st_mtim.tv_nsec = s.mtime_nsec;
    buf->st_ctim.tv_sec = s.ctime_sec;
    buf->st_ctim.tv_nsec = s.ctime_nsec;
    return 0;
}

static int BENCHFS_rename(const char *from, const char *to, aiori_mod_opt_t *param) {
    (void)param;
    char path_buf[PATH_MAX], to_buf[PATH_MAX];
    const char *t = fs_path(to, to_buf, sizeof to_buf);
    return posix_status(benchfs_rename(context(), FS_PATH(from), t));
}

ior_aiori_t benchfs_aiori = {
    .name = "BENCHFS",
    .name_legacy = NULL,
    .create = BENCHFS_create,
    .mknod = BENCHFS_mknod,
    .open = BENCHFS_open,
    .xfer_hints = BENCHFS_xfer_hints,
    .xfer = BENCHFS_xfer,
    .close = BENCHFS_close,
    .remove = BENCHFS_remove,
    .get_version = BENCHFS_get_version,
    .fsync = BENCHFS_fsync,
    .get_file_size = BENCHFS_get_file_size,
    .statfs = BENCHFS_statfs,
    .mkdir = BENCHFS_mkdir,
    .rmdir = BENCHFS_rmdir,
    .access = BENCHFS_access,
    .stat = BENCHFS_stat,
    .initialize = BENCHFS_initialize,
    .finalize = BENCHFS_finalize,
    .rename = BENCHFS_rename,
    .get_options = BENCHFS_options,
    .check_params = BENCHFS_check_params,
    .sync = BENCHFS_sync,
    .enable_mdtest = true,
};
