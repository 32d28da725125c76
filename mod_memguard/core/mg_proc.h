/*
 * mg_proc.h - the sampler's aggregate reader: every source of the sample
 * (meminfo, PSI, slabinfo, the server's cgroup, NUMA nodes) opened once
 * and read together into an mg_sample_t. It sits on top of the readers
 * (mg_procfs.h, mg_procpid.h, mg_cgroup.h, mg_numa.h), and includes them
 * so that a user of the sampler needs one header.
 *
 * FILES REWRITTEN UNDER A RUNNING SERVER (for test writers). With root "/"
 * every file is opened once and re-read with pread at offset 0, which is
 * what /proc and cgroupfs want; a file is re-opened only when reading it
 * fails with ENOENT, ENODEV (a removed cgroup) or ESTALE. With any other
 * root the sampler RE-OPENS EVERY FILE ON EVERY READ (a few microseconds
 * each, fixture trees only), so a test may replace a fixture file either
 * way:
 *   - preferred: write a temporary file in the same directory and
 *     rename(2) it over the old one (atomic; readers never see half a
 *     file);
 *   - or in place (open O_TRUNC + write): works, but a read racing the
 *     write sees an empty or partial file, which is refused (-EBADMSG),
 *     so that source is invalid for one sample.
 * Every file written must end with '\n', like the kernel's. Deleting a
 * file makes its source invalid (PSI: "not available") from the next
 * sample on. The source layout (which cgroup version, which NUMA nodes,
 * whether PSI exists) is decided in mg_proc_sampler_open() and is not
 * re-detected afterwards.
 */
#ifndef MG_PROC_H
#define MG_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mg_cgroup.h"
#include "mg_numa.h"
#include "mg_procfs.h"
#include "mg_procpid.h"
#include "mg_sample.h"

/* ------------------------------------------------------------------ */
/* the sampler's aggregate reader                                      */

enum {
    MG_PROC_CGROUP_OFF = 0,
    MG_PROC_CGROUP_AUTO = 1, /* the sampler's own group (= the server's) */
    MG_PROC_CGROUP_PATH = 2  /* conf.cgroup_path */
};

typedef struct {
    int cgroup;                /* MG_PROC_CGROUP_* */
    const char *cgroup_path;   /* relative to root, for MG_PROC_CGROUP_PATH */
    int numa;                  /* 1: read the allowed nodes, 0: off */
    const char *const *caches; /* named slab caches, config order */
    size_t ncaches;            /* at most MG_SAMPLE_MAX_CACHES */
    char *slab_buf;            /* slabinfo buffer (NULL: no slabinfo); */
    size_t slab_buf_size;      /*  MG_PROC_SLAB_BUF_DEFAULT is a good size */
    uint64_t page_size;        /* 0: sysconf(_SC_PAGESIZE) */
    int reopen;                /* -1: auto (root != "/"), 0: never, 1: always */
} mg_proc_sampler_conf_t;

/* cgroup v2 ancestors watched above the server's group (systemd nests
 * system.slice/httpd.service; user sessions go a few levels deeper). */
#define MG_PROC_CG_ANCESTORS 6

typedef struct {
    int fd;
    int last_rc; /* to log a change of state only once */
    char path[MG_PROC_PATH_MAX];
} mg_proc_file_t;

/* One reading of slabinfo, as it goes into a sample (see
 * mg_proc_sample_set_slab()). */
typedef struct {
    uint32_t valid;    /* 0: slabinfo could not be read or parsed */
    uint32_t ncaches;  /* named caches, in configuration order */
    uint64_t taken_us; /* when it was read */
    uint32_t ntop;
    uint32_t pad;
    mg_sample_cache_t caches[MG_SAMPLE_MAX_CACHES];
    mg_sample_cache_t top[MG_SAMPLE_TOP_CACHES];
} mg_proc_slab_result_t;

typedef struct {
    char root[MG_PROC_PATH_MAX];
    int reopen;
    uint64_t page_size;
    uint64_t low_wmark; /* for kernels without MemAvailable */
    uint32_t seq;

    mg_proc_file_t meminfo;
    mg_proc_file_t psi;
    int psi_state; /* 0 unknown, 1 ok, -ENODATA off */

    uint32_t cg_version; /* 0: no cgroup source */
    mg_proc_cgroup_loc_t cg_loc;
    mg_proc_file_t cg_limit, cg_usage, cg_stat, cg_oom;
    /* v2: the ancestors that have a memory.max, nearest first */
    uint32_t cg_nanc;
    mg_proc_file_t cg_anc_max[MG_PROC_CG_ANCESTORS];
    mg_proc_file_t cg_anc_cur[MG_PROC_CG_ANCESTORS];
    mg_proc_file_t cg_anc_stat[MG_PROC_CG_ANCESTORS];

    uint32_t nnodes, nodes_skipped;
    int32_t node_ids[MG_SAMPLE_MAX_NODES];
    mg_proc_file_t node[MG_SAMPLE_MAX_NODES];

    mg_proc_file_t slab;
    char *slab_buf;
    size_t slab_buf_size;
    size_t ncaches;
    char cache_names[MG_SAMPLE_MAX_CACHES][MG_SAMPLE_NAME_LEN];
    /* last slabinfo result, carried into samples taken without it */
    mg_proc_slab_result_t slab_last;
    mg_sample_t slab_scratch; /* mg_proc_sampler_read_slab() only */

    char buf[MG_PROC_BUF]; /* scratch for every small file */
} mg_proc_sampler_t;

/*
 * Detect the layout under root and open every file. Call it in the
 * sampler BEFORE dropping root privileges: /proc/slabinfo is mode 0400
 * and is only ever read through the fd opened here (a failed re-open with
 * EACCES keeps the old fd). Everything else is world-readable. Sources
 * that do not exist are left out (their valid bit stays clear); only a
 * bad argument (-EINVAL, -ENAMETOOLONG) fails, and then every fd is closed
 * again. Allocates nothing; ps is large (~32 KB): allocate it once, not on
 * a small stack. Call mg_proc_sampler_close() before opening ps again.
 *
 * Limits: with cgroup v2 the group's own memory.max and those of up to
 * MG_PROC_CG_ANCESTORS ancestors are read (the walk up stops at the first
 * directory without memory.max: the root group); each sample reports the
 * level with the least room (max - current), see mg_sample_t.cgroup_level.
 * v1 has hierarchical_memory_limit, which is used. The memory policy
 * (numactl --membind) is read once here.
 */
int mg_proc_sampler_open(mg_proc_sampler_t *ps, const char *root,
                         const mg_proc_sampler_conf_t *conf);

/*
 * Read every source into out (zeroed first), set out->valid, taken_us =
 * now_us, seq. Slabinfo (~250 us on a small machine, much more on a large
 * one) is read only when with_slabinfo is set; otherwise the last slab
 * result and its slab_taken_us are carried over. Returns 0 even when some
 * sources are invalid; -EINVAL for bad arguments.
 */
int mg_proc_sampler_read(mg_proc_sampler_t *ps, mg_sample_t *out,
                         int with_slabinfo, uint64_t now_us);

/*
 * Read slabinfo now (~250 us on a small machine, milliseconds on a large
 * one) into *res, when mg_proc_sampler_open() set slabinfo up (1), or do
 * nothing (0). It uses only the slab buffer and the slabinfo fd of ps, so
 * it may run in another thread than mg_proc_sampler_read(ps, ..., 0, ...)
 * on the same ps: the two share nothing else. Returns 1 when slabinfo was
 * read (res->valid says whether it parsed), 0 when there is none to read.
 */
int mg_proc_sampler_read_slab(mg_proc_sampler_t *ps, mg_proc_slab_result_t *res,
                              uint64_t now_us);

/* Put a slabinfo reading into a sample: caches, top caches, the
 * MG_SRC_SLABINFO bit and slab_taken_us (all cleared when res is not
 * valid). */
void mg_proc_sample_set_slab(mg_sample_t *out,
                             const mg_proc_slab_result_t *res);

/* Close every fd. Safe to call twice. */
void mg_proc_sampler_close(mg_proc_sampler_t *ps);

#endif /* MG_PROC_H */
