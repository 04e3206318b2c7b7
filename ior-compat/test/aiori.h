/*
 * Minimal declarations of the IOR 4.1 backend interface, written from its specification
 * (the backend table, option table and helper macros an IOR backend uses), so that CI can
 * compile and drive ../aiori-BENCHFS.c without IOR. Only what the BENCHFS backend uses is
 * here; field order and types follow the interface of IOR 4.1.
 */
#ifndef BENCHFS_TEST_AIORI_H
#define BENCHFS_TEST_AIORI_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

typedef long long IOR_offset_t;
typedef long long IOR_size_t;

/* Open flags IOR passes to create and open. */
#define IOR_RDONLY 0x01
#define IOR_WRONLY 0x02
#define IOR_RDWR 0x04
#define IOR_APPEND 0x08
#define IOR_CREAT 0x10
#define IOR_TRUNC 0x20
#define IOR_EXCL 0x40
#define IOR_DIRECT 0x80

/* Access codes of xfer: WRITE writes, every other code reads. */
#define WRITE 0
#define WRITECHECK 1
#define READ 2
#define READCHECK 3

typedef struct ior_aiori_statfs {
    uint64_t f_bsize;
    uint64_t f_blocks;
    uint64_t f_bfree;
    uint64_t f_bavail;
    uint64_t f_files;
    uint64_t f_ffree;
} ior_aiori_statfs_t;

/* What IOR tells a backend of the access pattern before a test. */
typedef struct aiori_xfer_hint_t {
    int dryRun;
    int filePerProc;
    int collective;
    int numTasks;
    int numNodes;
    int randomOffset;
    int fsyncPerWrite;
    IOR_offset_t segmentCount;
    IOR_offset_t blockSize;
    IOR_offset_t transferSize;
    IOR_offset_t expectedAggFileSize;
    int singleXferAttempt;
} aiori_xfer_hint_t;

/* Opaque to IOR: a backend's own option struct and file handle, cast. */
typedef struct aiori_mod_opt_t aiori_mod_opt_t;
struct aiori_mod_opt_t {
    void *dummy;
};
typedef struct aiori_fd_t {
    void *dummy;
} aiori_fd_t;

/* One module option: "--benchfs.name" of type 'd' (int), 'l' (long long with size
 * suffixes), 's' (string, copied) ... stored at `variable`. */
typedef enum { OPTION_FLAG, OPTION_OPTIONAL_ARGUMENT, OPTION_REQUIRED_ARGUMENT } option_value_type;
typedef struct {
    char shortVar;
    char *longVar;
    char *help;
    option_value_type arg;
    char type;
    void *variable;
} option_help;
#define LAST_OPTION {0, 0, 0, (option_value_type)0, 0, NULL}

/* The backend table. */
typedef struct ior_aiori {
    char *name;
    char *name_legacy;
    aiori_fd_t *(*create)(char *, int iorflags, aiori_mod_opt_t *);
    int (*mknod)(char *);
    aiori_fd_t *(*open)(char *, int iorflags, aiori_mod_opt_t *);
    void (*xfer_hints)(aiori_xfer_hint_t *params);
    IOR_offset_t (*xfer)(int access, aiori_fd_t *, IOR_size_t *, IOR_offset_t size,
                         IOR_offset_t offset, aiori_mod_opt_t *);
    void (*close)(aiori_fd_t *, aiori_mod_opt_t *);
    void (*remove)(char *, aiori_mod_opt_t *);
    char *(*get_version)(void);
    void (*fsync)(aiori_fd_t *, aiori_mod_opt_t *);
    IOR_offset_t (*get_file_size)(aiori_mod_opt_t *, char *);
    int (*statfs)(const char *, ior_aiori_statfs_t *, aiori_mod_opt_t *);
    int (*mkdir)(const char *path, mode_t mode, aiori_mod_opt_t *);
    int (*rmdir)(const char *path, aiori_mod_opt_t *);
    int (*access)(const char *path, int mode, aiori_mod_opt_t *);
    int (*stat)(const char *path, struct stat *buf, aiori_mod_opt_t *);
    void (*initialize)(aiori_mod_opt_t *);
    void (*finalize)(aiori_mod_opt_t *);
    int (*rename)(const char *oldpath, const char *newpath, aiori_mod_opt_t *);
    option_help *(*get_options)(aiori_mod_opt_t **init_backend_options,
                                aiori_mod_opt_t *init_values);
    int (*check_params)(aiori_mod_opt_t *);
    void (*sync)(aiori_mod_opt_t *);
    bool enable_mdtest;
} ior_aiori_t;

/* IOR's globals a backend may use. */
extern FILE *out_logfile;
extern int verbose;
extern int aiori_warning_as_errors;

/* Messages: ERR/ERRF print "ERROR: ..., (file:line)" and abort the job; WARN/WARNF print
 * "WARNING: ...". */
#define ERRF(FORMAT, ...)                                                                   \
    do {                                                                                    \
        fprintf(out_logfile, "ERROR: " FORMAT ", (%s:%d)\n", __VA_ARGS__, __FILE__, __LINE__); \
        fflush(out_logfile);                                                                \
        MPI_Abort(MPI_COMM_WORLD, -1);                                                      \
    } while (0)
#define ERR(MSG) ERRF("%s", MSG)
#define WARNF(FORMAT, ...)                                                                  \
    do {                                                                                    \
        if (aiori_warning_as_errors) ERRF(FORMAT, __VA_ARGS__);                             \
        fprintf(out_logfile, "WARNING: " FORMAT "\n", __VA_ARGS__);                         \
        fflush(out_logfile);                                                                \
    } while (0)
#define WARN(MSG) WARNF("%s", MSG)

#endif
