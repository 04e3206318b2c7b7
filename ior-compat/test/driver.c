/*
 * Drives the function table of ../aiori-BENCHFS.c as IOR and mdtest do, without IOR: options
 * parsed into the backend's option table, check_params, xfer_hints, then two tests (each
 * initialize .. finalize) of an IOR-like sequence: a shared file written by every rank at
 * once (N-1) and read back by a neighbour, a file per rank (N-N) written, read back,
 * verified, stat'ed, fsync'ed and removed, directories made, renamed and removed as mdtest
 * does, statfs, sync, and a file of the first test read in the second (the servers live as
 * long as the job). Runs under mpirun (in-job servers, or --benchfs.registry DIR) or as a
 * single process (embedded servers). Rank 0 prints "N passed, M failed"; exit 1 on failure.
 *
 * Usage: driver [--benchfs.NAME VALUE]...
 */
#include "aiori.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

FILE *out_logfile;
int verbose;
int aiori_warning_as_errors;
int rank;
MPI_Comm testComm;

extern ior_aiori_t benchfs_aiori;

static int passed, failed, size;

static void count(int ok, const char *what, int line, long long got, long long want) {
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAIL rank %d, driver.c:%d: %s (got %lld, want %lld)\n", rank, line, what,
                got, want);
    }
}
#define EXPECT(c) count((c) ? 1 : 0, #c, __LINE__, 0, 0)
#define EXPECT_EQ(a, b)                                                                     \
    do {                                                                                    \
        long long a_ = (long long)(a), b_ = (long long)(b);                                 \
        count(a_ == b_, #a " == " #b, __LINE__, a_, b_);                                    \
    } while (0)
#define EXPECT_ERRNO(call, err)                                                             \
    do {                                                                                    \
        errno = 0;                                                                          \
        EXPECT_EQ((call), -1);                                                              \
        EXPECT_EQ(errno, (err));                                                            \
    } while (0)

/* Sets option `name` of the backend's table as IOR's option parser does. */
static void set_option(option_help *table, const char *name, const char *value) {
    for (option_help *o = table; o->longVar != NULL; o++) {
        if (strcmp(o->longVar, name) != 0) continue;
        switch (o->type) {
        case 's':
            *(char **)o->variable = strdup(value);
            return;
        case 'd':
            *(int *)o->variable = atoi(value);
            return;
        case 'l': {
            char *end;
            long long v = strtoll(value, &end, 10);
            if (*end == 'k' || *end == 'K') v <<= 10;
            if (*end == 'm' || *end == 'M') v <<= 20;
            if (*end == 'g' || *end == 'G') v <<= 30;
            *(long long *)o->variable = v;
            return;
        }
        default:
            fprintf(stderr, "option %s has type %c the driver does not know\n", name, o->type);
            exit(2);
        }
    }
    fprintf(stderr, "no option %s in the BENCHFS table\n", name);
    exit(2);
}

static void fill(IOR_size_t *buf, size_t bytes, long long seed) {
    for (size_t i = 0; i < bytes / sizeof *buf; i++) buf[i] = seed * 1000003LL + (long long)i;
}

enum { XFER = 65536, XFERS = 4, BLOCK = XFER * XFERS };

static void shared_file(aiori_mod_opt_t *o, int test) {
    char path[64];
    snprintf(path, sizeof path, "/shared-%d", test);
    IOR_size_t *buf = malloc(XFER), *back = malloc(XFER);
    /* Every rank creates the one file at once, then writes its block. */
    aiori_fd_t *fd = benchfs_aiori.create(path, IOR_WRONLY | IOR_CREAT | IOR_TRUNC, o);
    EXPECT(fd != NULL);
    for (int x = 0; x < XFERS; x++) {
        fill(buf, XFER, rank * 100 + x);
        EXPECT_EQ(benchfs_aiori.xfer(WRITE, fd, buf, XFER, (IOR_offset_t)rank * BLOCK + x * XFER, o),
                  XFER);
    }
    benchfs_aiori.close(fd, o);
    MPI_Barrier(testComm);
    EXPECT_EQ(benchfs_aiori.get_file_size(o, path), (long long)size * BLOCK);
    /* Read the neighbour's block (as -C does). */
    int other = (rank + 1) % size;
    fd = benchfs_aiori.open(path, IOR_RDONLY, o);
    for (int x = 0; x < XFERS; x++) {
        fill(buf, XFER, other * 100 + x);
        EXPECT_EQ(benchfs_aiori.xfer(READCHECK, fd, back, XFER, (IOR_offset_t)other * BLOCK + x * XFER, o),
                  XFER);
        EXPECT(memcmp(buf, back, XFER) == 0);
    }
    benchfs_aiori.close(fd, o);
    MPI_Barrier(testComm);
    if (rank == 0) {
        EXPECT_EQ(benchfs_aiori.access(path, F_OK, o), 0);
        benchfs_aiori.remove(path, o);
        EXPECT_ERRNO(benchfs_aiori.access(path, F_OK, o), ENOENT);
    }
    MPI_Barrier(testComm);
    free(buf);
    free(back);
}

static void file_per_rank(aiori_mod_opt_t *o, int test) {
    char path[64];
    snprintf(path, sizeof path, "testFile-%d.%08d", test, rank); /* relative, as IOR's -o */
    IOR_size_t *buf = malloc(XFER), *back = malloc(XFER);
    aiori_fd_t *fd = benchfs_aiori.create(path, IOR_WRONLY | IOR_CREAT | IOR_TRUNC, o);
    for (int x = 0; x < XFERS; x++) {
        fill(buf, XFER, rank * 7 + x);
        EXPECT_EQ(benchfs_aiori.xfer(WRITE, fd, buf, XFER, (IOR_offset_t)x * XFER, o), XFER);
    }
    benchfs_aiori.fsync(fd, o);
    benchfs_aiori.close(fd, o);
    EXPECT_EQ(benchfs_aiori.get_file_size(o, path), BLOCK);
    struct stat st;
    EXPECT_EQ(benchfs_aiori.stat(path, &st, o), 0);
    EXPECT_EQ(st.st_size, BLOCK);
    EXPECT(S_ISREG(st.st_mode));
    fd = benchfs_aiori.open(path, IOR_RDONLY, o);
    for (int x = XFERS - 1; x >= 0; x--) { /* backwards, as -z visits offsets out of order */
        fill(buf, XFER, rank * 7 + x);
        EXPECT_EQ(benchfs_aiori.xfer(READ, fd, back, XFER, (IOR_offset_t)x * XFER, o), XFER);
        EXPECT(memcmp(buf, back, XFER) == 0);
    }
    benchfs_aiori.close(fd, o);
    benchfs_aiori.remove(path, o);
    EXPECT_ERRNO(benchfs_aiori.stat(path, &st, o), ENOENT);
    free(buf);
    free(back);
}

static void directories(aiori_mod_opt_t *o, int test) {
    char dir[64], node[96], moved[64], moved_node[96];
    snprintf(dir, sizeof dir, "/mdtest-%d.%d", test, rank);
    snprintf(node, sizeof node, "%s/file.mdtest.%d.0", dir, rank);
    snprintf(moved, sizeof moved, "/moved-%d.%d", test, rank);
    snprintf(moved_node, sizeof moved_node, "%s/file.mdtest.%d.0", moved, rank);
    EXPECT_EQ(benchfs_aiori.mkdir(dir, 0755, o), 0);
    EXPECT_ERRNO(benchfs_aiori.mkdir(dir, 0755, o), EEXIST);
    EXPECT_EQ(benchfs_aiori.mknod(node), 0);
    EXPECT_ERRNO(benchfs_aiori.mknod(node), EEXIST);
    struct stat st;
    EXPECT_EQ(benchfs_aiori.stat(dir, &st, o), 0);
    EXPECT(S_ISDIR(st.st_mode));
    EXPECT_EQ(benchfs_aiori.rename(dir, moved, o), 0);
    EXPECT_ERRNO(benchfs_aiori.stat(dir, &st, o), ENOENT);
    EXPECT_EQ(benchfs_aiori.stat(moved_node, &st, o), 0);
    EXPECT_EQ(st.st_size, 0);
    EXPECT_ERRNO(benchfs_aiori.rmdir(moved, o), ENOTEMPTY);
    EXPECT_EQ(benchfs_aiori.access(moved_node, W_OK, o), 0);
    benchfs_aiori.remove(moved_node, o);
    EXPECT_EQ(benchfs_aiori.rmdir(moved, o), 0);
    EXPECT_ERRNO(benchfs_aiori.rmdir(moved, o), ENOENT);
    ior_aiori_statfs_t sf;
    EXPECT_EQ(benchfs_aiori.statfs("/", &sf, o), 0);
    EXPECT_EQ(sf.f_bsize, 4096);
    EXPECT(sf.f_blocks > 0 && sf.f_bfree <= sf.f_blocks && sf.f_files > 0);
    benchfs_aiori.sync(o);
}

/* A file written in the first test and read in the second: the servers outlive a test. */
static void kept_across_tests(aiori_mod_opt_t *o, int test) {
    char path[64];
    snprintf(path, sizeof path, "/kept.%d", rank);
    IOR_size_t *buf = malloc(XFER), *back = malloc(XFER);
    fill(buf, XFER, 4242 + rank);
    if (test == 0) {
        aiori_fd_t *fd = benchfs_aiori.create(path, IOR_WRONLY | IOR_CREAT, o);
        EXPECT_EQ(benchfs_aiori.xfer(WRITE, fd, buf, XFER, 0, o), XFER);
        benchfs_aiori.close(fd, o);
    } else {
        aiori_fd_t *fd = benchfs_aiori.open(path, IOR_RDONLY, o);
        EXPECT_EQ(benchfs_aiori.xfer(READ, fd, back, XFER, 0, o), XFER);
        EXPECT(memcmp(buf, back, XFER) == 0);
        benchfs_aiori.close(fd, o);
        benchfs_aiori.remove(path, o);
    }
    free(buf);
    free(back);
}

int main(int argc, char **argv) {
    out_logfile = stdout;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    testComm = MPI_COMM_WORLD;

    EXPECT(strcmp(benchfs_aiori.name, "BENCHFS") == 0);
    EXPECT(benchfs_aiori.enable_mdtest);
    /* IOR asks every backend for its options at start-up (help listing), then again with
     * the values parsed from the command line as defaults. */
    aiori_mod_opt_t *defaults;
    option_help *table = benchfs_aiori.get_options(&defaults, NULL);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strncmp(argv[i], "--", 2) != 0) {
            fprintf(stderr, "usage: %s [--benchfs.NAME VALUE]...\n", argv[0]);
            return 2;
        }
        set_option(table, argv[i] + 2, argv[i + 1]);
    }
    aiori_mod_opt_t *o;
    option_help *table2 = benchfs_aiori.get_options(&o, defaults);
    free(table);
    free(table2);
    free(defaults);
    EXPECT_EQ(benchfs_aiori.check_params(o), 0);
    aiori_xfer_hint_t hints = {0};
    hints.numTasks = size;
    hints.transferSize = XFER;
    hints.blockSize = BLOCK;
    benchfs_aiori.xfer_hints(&hints);
    EXPECT(strncmp(benchfs_aiori.get_version(), "BenchFS ", 8) == 0);

    for (int test = 0; test < 2; test++) {
        benchfs_aiori.initialize(o);
        shared_file(o, test);
        file_per_rank(o, test);
        directories(o, test);
        kept_across_tests(o, test);
        benchfs_aiori.finalize(o);
        MPI_Barrier(MPI_COMM_WORLD);
    }
    int counts[2] = {passed, failed}, total[2];
    MPI_Reduce(counts, total, 2, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    free(o);
    MPI_Finalize(); /* stops the servers this job started */
    if (rank == 0) printf("%d passed, %d failed\n", total[0], total[1]);
    return rank == 0 && total[1] != 0 ? 1 : 0;
}
