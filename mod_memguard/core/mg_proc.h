/*
 * mg_proc.h - readers and parsers for the kernel's memory accounting:
 * /proc/meminfo, /proc/slabinfo, /proc/pressure/memory, the server's
 * memory cgroup (v1 and v2), NUMA nodes and per-process files (statm,
 * smaps_rollup, cmdline).
 *
 * Two layers, so that tests can feed any text:
 * - parsers, mg_proc_parse_*(buf, len, ...): pure functions over a buffer,
 *   strict (a file that does not look exactly like the kernel's is refused
 *   rather than half-understood);
 * - readers: pread(2)/read(2) into a caller-provided fixed buffer,
 *   NUL-terminated, with EINTR retry; nothing allocates.
 *
 * ROOT. Every path is looked up under a root directory (MemGuardProcRoot,
 * normally "/"): root "/x/tree" reads "/x/tree/proc/meminfo". A fixture
 * tree holds proc/... and sys/... laid out like the real ones, including
 * proc/self/{cgroup,mountinfo,status}. Mount points found in the tree's
 * mountinfo are also taken relative to ROOT.
 *
 * Return codes (negative errno, 0 on success):
 *   -EBADMSG    malformed text: garbage, a truncated line, a duplicate key,
 *               a file not ending in '\n' (the kernel always ends its
 *               files with one: a missing one means a torn read)
 *   -ENOMSG     a required key is missing
 *   -EOVERFLOW  a number does not fit in 64 bits (also after kB -> bytes)
 *   -EFBIG      the file filled the whole buffer: it may be longer, so it
 *               is refused rather than parsed in half
 *   -ENODATA    the source does not exist on this kernel or machine (PSI
 *               off, no memory cgroup, no NUMA): not an error
 *   -EPROTONOSUPPORT  a slabinfo version other than 2.1
 *   -ENAMETOOLONG root + path longer than MG_PROC_PATH_MAX
 *   anything else: the errno of open(2)/read(2).
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

#include "mg_sample.h"

#define MG_PROC_PATH_MAX 512
#define MG_PROC_BUF 8192                      /* small files (meminfo: ~1.5K) */
#define MG_PROC_SLAB_BUF_DEFAULT (256 * 1024) /* slabinfo: 25K-200K */
#define MG_PROC_MAX_NODE_ID 1024 /* the kernel's MAX_NUMNODES cap */
#define MG_PROC_NODE_WORDS (MG_PROC_MAX_NODE_ID / 64)

/* ------------------------------------------------------------------ */
/* I/O primitives                                                      */

/* "<root>/<rel>" into out (root "/" or "" gives "/<rel>"). 0 or
 * -ENAMETOOLONG. */
int mg_proc_path(char *out, size_t n, const char *root, const char *rel);

/* open(2) "<root>/<rel>" read-only, O_CLOEXEC. Returns the fd or -errno. */
int mg_proc_open(const char *root, const char *rel);

/*
 * One pread(2) at offset 0 (EINTR retried) into buf, NUL-terminated.
 * For files the kernel produces in one piece: meminfo, pressure, statm,
 * smaps_rollup, cgroup files, node meminfo. Returns the length, -EFBIG if
 * the data filled buf (size - 1 bytes: so size must exceed the file's
 * length by 2), or -errno. Thread-safe on a shared
 * fd (no file offset is used).
 */
ssize_t mg_proc_pread(int fd, char *buf, size_t size);

/*
 * Whole-file read for seq_files that the kernel hands out one page at a
 * time (slabinfo, zoneinfo, mountinfo): lseek(0), then read(2) until EOF.
 * Sequential reads keep the kernel's iterator, so no line is torn between
 * chunks (pread at growing offsets would regenerate the file each time).
 * Not thread-safe on a shared fd. Returns the length, -EFBIG or -errno.
 */
ssize_t mg_proc_read_seq(int fd, char *buf, size_t size);

/* open + mg_proc_read_seq + close, for files read once at start-up. */
ssize_t mg_proc_read_file(const char *root, const char *rel, char *buf,
                          size_t size);

/* A decimal number at *p (digits only, at least one); advances *p.
 * 0, -EBADMSG or -EOVERFLOW. */
int mg_proc_parse_u64(const char **p, const char *end, uint64_t *out);

/*
 * Flat "key value" files. The line of a wanted key must be, exactly:
 *   MG_PROC_KV_COLON: "Key:<spaces>123[ kB]\n"  (meminfo, smaps_rollup)
 *   MG_PROC_KV_SPACE: "key 123\n"               (memory.stat, .events)
 *   MG_PROC_KV_NODE:  "Node N Key:<spaces>123[ kB]\n" with N == node
 * " kB" values are converted to bytes. keys[i].off is the offset of a
 * uint64_t in out; bit i of *found is set for each key seen. At most 32
 * keys. Every other line is skipped, whatever its shape (a kernel may add
 * lines of new shapes). -EBADMSG: the buffer is empty, does not end in a
 * newline (a torn read) or holds a NUL byte; a wanted key's line is
 * malformed, is on another node's line, or comes twice. -EOVERFLOW: a
 * wanted value does not fit.
 */
enum { MG_PROC_KV_COLON = 1, MG_PROC_KV_SPACE = 2, MG_PROC_KV_NODE = 3 };

typedef struct {
    const char *key;
    size_t off; /* offsetof() a uint64_t in the output struct */
} mg_proc_key_t;

int mg_proc_parse_keyed(const char *buf, size_t len, int style, int node,
                        const mg_proc_key_t *keys, size_t nkeys, void *out,
                        uint32_t *found);

/* ------------------------------------------------------------------ */
/* /proc/meminfo                                                       */

/*
 * Fill the meminfo fields of s (bytes). Required: MemTotal, MemFree,
 * Buffers, Cached, Active(file), Inactive(file), Shmem, Slab,
 * SReclaimable, SUnreclaim, SwapTotal, SwapFree (all present since
 * 2.6.32). Without MemAvailable (kernels before 3.14) mem_available is
 * set by mg_proc_mem_available_estimate() with low_wmark (bytes, see
 * mg_proc_low_wmark()) and mem_available_estimated = 1.
 */
int mg_proc_parse_meminfo(const char *buf, size_t len, uint64_t low_wmark,
                          mg_sample_t *s);

/*
 * The kernel's si_mem_available() without totalreserve_pages (not
 * exported): free + file - min(file / 2, low) + sreclaimable -
 * min(sreclaimable / 2, low), where file = Active(file) + Inactive(file)
 * and low = the sum of every zone's low watermark. Saturating.
 */
uint64_t mg_proc_mem_available_estimate(uint64_t mem_free, uint64_t file,
                                        uint64_t sreclaimable, uint64_t low);

/* Sum of the "low" watermarks (pages) of every zone in /proc/zoneinfo,
 * times page_size. -ENOMSG when there is no zone. */
int mg_proc_parse_zoneinfo_low(const char *buf, size_t len, uint64_t page_size,
                               uint64_t *low);

/*
 * Low watermark for the estimate: from <root>/proc/zoneinfo; if that is
 * unreadable, 5/4 of <root>/proc/sys/vm/min_free_kbytes (the kernel sets
 * low = min + min/4); if that too is missing, from mem_total the way the
 * kernel sizes min_free_kbytes at boot: sqrt(16 * MemTotal in kB), kept in
 * 128 kB .. 64 MB. buf is scratch (zoneinfo can be 10-100 KB; if it does
 * not fit, the next rule is used). Always succeeds.
 */
uint64_t mg_proc_low_wmark(const char *root, uint64_t mem_total,
                           uint64_t page_size, char *buf, size_t size);

/* ------------------------------------------------------------------ */
/* /proc/pressure/memory                                               */

typedef struct {
    int present;
    uint32_t avg10, avg60, avg300; /* hundredths of a percent */
    uint64_t total_us;
} mg_proc_psi_line_t;

typedef struct {
    mg_proc_psi_line_t some;
    mg_proc_psi_line_t full; /* absent for cpu before 5.13 */
} mg_proc_psi_t;

/* The sampler treats a missing file (kernel < 4.20 or no CONFIG_PSI) and
 * a read failing with EOPNOTSUPP (PSI built in, booted with psi=0) as "not
 * available": MG_SRC_PSI clear, logged once at INFO, not a warning.
 *
 * "some" is required, "full" optional; each line needs avg10, avg60,
 * avg300 and total exactly once (unknown fields are ignored); averages
 * must be 0.00 .. 100.00. */
int mg_proc_parse_psi(const char *buf, size_t len, mg_proc_psi_t *out);

/* ------------------------------------------------------------------ */
/* /proc/slabinfo                                                      */

typedef struct {
    const char *name; /* not NUL-terminated: use name_len */
    size_t name_len;
    uint64_t active_objs, num_objs, objsize, objperslab, pagesperslab;
    uint64_t active_slabs, num_slabs;
} mg_proc_slab_t;

/* Called once per cache; a nonzero return stops the parse and is
 * returned by mg_proc_parse_slabinfo(). */
typedef int (*mg_proc_slab_fn)(void *baton, const mg_proc_slab_t *c);

/* Version 2.1 only (-EPROTONOSUPPORT otherwise: the columns differ). */
int mg_proc_parse_slabinfo(const char *buf, size_t len, mg_proc_slab_fn fn,
                           void *baton);

/*
 * Bytes of a cache. mg_proc_slab_bytes() = num_objs * objsize: objsize is
 * the kernel's per-object stride including metadata and alignment, so
 * this is what the objects really occupy; it is the figure in the sample
 * (mg_sample_cache_t.bytes). mg_proc_slab_pages_bytes() = num_slabs *
 * pagesperslab * page_size adds the unused tail of each slab: that is
 * what the page allocator (and the memory cgroup) gave away, a few percent
 * more. Both saturate.
 */
uint64_t mg_proc_slab_bytes(const mg_proc_slab_t *c);
uint64_t mg_proc_slab_pages_bytes(const mg_proc_slab_t *c, uint64_t page_size);

/*
 * Fill s->caches with the named caches (in the order given; a name absent
 * from slabinfo gets 0 bytes: SLUB may have merged it into another cache)
 * and s->top with the MG_SAMPLE_TOP_CACHES largest caches, largest first.
 * Sets ncaches and ntop.
 */
int mg_proc_slabinfo_fill(const char *buf, size_t len,
                          const char (*names)[MG_SAMPLE_NAME_LEN],
                          size_t nnames, mg_sample_t *s);

/* ------------------------------------------------------------------ */
/* cgroup of the server                                                */

/* A cgroup filesystem mount from mountinfo. */
typedef struct {
    int found;
    char root[MG_PROC_PATH_MAX];  /* 4th field: the group mounted there */
    char mount[MG_PROC_PATH_MAX]; /* 5th field: where, unescaped */
} mg_proc_cgmount_t;

/* From /proc/self/cgroup: the path of the v1 memory group ("N:...memory
 * ...:/path") and of the v2 group ("0::/path"); each "" when absent. */
int mg_proc_parse_self_cgroup(const char *buf, size_t len, char *v1,
                              size_t v1size, char *v2, size_t v2size);

/* From /proc/self/mountinfo: the first "cgroup" mount whose super options
 * include "memory", and the first "cgroup2" mount. */
int mg_proc_parse_mountinfo(const char *buf, size_t len,
                            mg_proc_cgmount_t *v1mem, mg_proc_cgmount_t *v2);

/*
 * The directory of group cgpath inside mount m: mount + (cgpath minus the
 * mount's root). In a container without a cgroup namespace the path is
 * the host's ("/docker/abc") and the mount root is that same group, so the
 * answer is the mount point itself; with a namespace both are "/". A path
 * outside the mount's root (the mount shows a sub-tree we are not in)
 * gives the mount point too: the closest group we can see.
 */
int mg_proc_cgroup_join(const mg_proc_cgmount_t *m, const char *cgpath,
                        char *out, size_t n);

typedef struct {
    uint32_t version;           /* 1 or 2 */
    char dir[MG_PROC_PATH_MAX]; /* relative to ROOT, starts with '/' */
} mg_proc_cgroup_loc_t;

/*
 * Find the server's memory cgroup: v1 when the memory controller is
 * attached to a v1 hierarchy and this process has a memory line (hybrid
 * layouts mount a v2 tree without it); otherwise the cgroup2 mount, if
 * the group's cgroup.controllers lists "memory". buf is scratch for
 * mountinfo (8 KB is enough for ~60 mounts; the sampler passes its slabinfo
 * buffer when it has one, since container hosts have hundreds).
 * -ENODATA when there is no memory cgroup.
 */
int mg_proc_cgroup_locate(const char *root, char *buf, size_t size,
                          mg_proc_cgroup_loc_t *loc);

/* An explicit directory (MemGuardCgroup PATH, relative to ROOT): v2 if it
 * holds memory.current, v1 if memory.usage_in_bytes. -ENODATA if
 * neither. */
int mg_proc_cgroup_probe(const char *root, const char *dir,
                         mg_proc_cgroup_loc_t *loc);

/* v2 memory.max ("max" -> UINT64_MAX) or v1 memory.limit_in_bytes (values
 * of 2^62 and more -> UINT64_MAX: v1 prints "unlimited" as LONG_MAX
 * rounded down to a page, 9223372036854771712 with 4K pages); also used
 * for memory.current / memory.usage_in_bytes (one number). */
int mg_proc_parse_cgroup_value(const char *buf, size_t len, uint64_t *out);

typedef struct {
    uint64_t inactive_file;
    uint64_t hierarchical_limit; /* v1 only; UINT64_MAX when unlimited */
} mg_proc_cgstat_t;

/* memory.stat: v2 "inactive_file"; v1 "total_inactive_file" (the group
 * and its children, what usage_in_bytes counts), else "inactive_file",
 * and "hierarchical_memory_limit" (the smallest limit of the group and
 * its ancestors). */
int mg_proc_parse_cgroup_stat(const char *buf, size_t len, uint32_t version,
                              mg_proc_cgstat_t *out);

/* v2 memory.events or v1 memory.oom_control: the "oom_kill" count (0 when
 * the line is absent: kernels before 4.13 do not count). */
int mg_proc_parse_cgroup_oom(const char *buf, size_t len, uint64_t *out);

/* ------------------------------------------------------------------ */
/* NUMA                                                                */

/* A node list as in "0", "0-3", "0,2-3" (also "" = none) into a bitmap
 * of MG_PROC_NODE_WORDS words. */
int mg_proc_parse_nodelist(const char *s, size_t len, uint64_t *mask);

/* The "Mems_allowed_list:" line of /proc/<pid>/status into mask.
 * -ENOMSG when absent (kernel without cpusets). */
int mg_proc_parse_mems_allowed(const char *buf, size_t len, uint64_t *mask);

/*
 * sys/devices/system/node/nodeN/meminfo into n (bytes). available is an
 * estimate that errs low: MemFree + (Active(file) + Inactive(file)) / 2 +
 * SReclaimable / 2. A process bound to a node (numactl --membind, cpuset
 * mems) is OOM-killed when that node's free memory cannot be refilled;
 * reclaim can take page cache and reclaimable slab back, but not all of
 * it (dirty and hot pages, slab objects in use), and nodes have no
 * MemAvailable of their own. Halving keeps the verdict early rather than
 * late.
 */
int mg_proc_parse_node_meminfo(const char *buf, size_t len, int node,
                               mg_sample_node_t *n);

/*
 * The nodes the server may allocate on, ascending: Mems_allowed_list of
 * <root>/proc/self/status (cpuset.mems), intersected, when root is "/",
 * with this process's memory policy if it is MPOL_BIND (numactl
 * --membind: a policy, invisible in /proc/self/status). Only nodes that
 * have <root>/sys/devices/system/node/nodeN are kept; more than max are
 * counted in *skipped. -ENODATA when <root>/sys/devices/system/node does
 * not exist (kernel without NUMA).
 */
int mg_proc_numa_nodes(const char *root, char *buf, size_t size, int32_t *nodes,
                       uint32_t max, uint32_t *n, uint32_t *skipped);

/* ------------------------------------------------------------------ */
/* per process                                                         */

typedef struct {
    uint64_t size, resident, shared, text, data; /* bytes */
} mg_proc_statm_t;

/* "size resident shared text lib data dt\n" in pages -> bytes. */
int mg_proc_parse_statm(const char *buf, size_t len, uint64_t page_size,
                        mg_proc_statm_t *out);

/* One pread of an fd kept open (from mg_proc_open_pid(.., "statm")):
 * the per-request path. Uses a 128-byte stack buffer. */
int mg_proc_read_statm(int fd, uint64_t page_size, mg_proc_statm_t *out);

/* open <root>/proc/<pid>/<file>; pid 0 means "self". fd or -errno. */
int mg_proc_open_pid(const char *root, pid_t pid, const char *file);

typedef struct {
    uint64_t rss, pss, private_clean, private_dirty, anonymous, swap;
    uint64_t unshared; /* private_clean + private_dirty */
} mg_proc_smaps_t;

/* smaps_rollup (Linux 4.14+): the "[rollup]" header line, then keys. */
int mg_proc_parse_smaps_rollup(const char *buf, size_t len,
                               mg_proc_smaps_t *out);

/* pread fd into buf (an httpd+Python child's rollup is ~1 KB), parse. */
int mg_proc_read_smaps_rollup(int fd, char *buf, size_t size,
                              mg_proc_smaps_t *out);

/*
 * <root>/proc/<pid>/cmdline into out with the NULs between arguments
 * turned into spaces and trailing NULs dropped: mod_wsgi daemons rewrite
 * their argv to "(wsgi:hub)      -k start". Kernel threads and zombies
 * have an empty cmdline (length 0). A longer cmdline is cut to size - 1.
 * Returns the length or -errno.
 */
ssize_t mg_proc_read_cmdline(const char *root, pid_t pid, char *out,
                             size_t size);

/* The in-place conversion used by mg_proc_read_cmdline(); returns the new
 * length. */
size_t mg_proc_cmdline_flatten(char *buf, size_t len);

/*
 * The parent pid (4th field) of a /proc/<pid>/stat line. The command name
 * (2nd field, in parentheses) may hold spaces and ')' itself, so the
 * fields are counted from the LAST ')'. 0, -EBADMSG or -EOVERFLOW.
 */
int mg_proc_parse_stat_ppid(const char *buf, size_t len, int32_t *ppid);

/* open + one pread + close of <root>/proc/<pid>/stat (a 512-byte stack
 * buffer), then mg_proc_parse_stat_ppid(). 0 or -errno. */
int mg_proc_read_ppid(const char *root, pid_t pid, int32_t *ppid);

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
