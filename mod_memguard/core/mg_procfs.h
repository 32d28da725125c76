/*
 * mg_procfs.h - the bottom of the /proc and /sys readers: I/O primitives,
 * the number and "key value" parsers, and the system-wide files
 * (/proc/meminfo, zoneinfo, /proc/pressure/memory, /proc/slabinfo).
 *
 * The readers stack in one direction, each header including only those
 * below it:
 *   mg_procfs.h    I/O, number and key parsers, system-wide files
 *   mg_procpid.h   per-process files (statm, smaps_rollup, cmdline, stat)
 *                  and the scan of /proc for processes
 *   mg_cgroup.h    the server's memory cgroup (v1, v2)
 *   mg_numa.h      the NUMA nodes the server may allocate on
 *   mg_proc.h      the sampler's aggregate reader, over all of the above
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
 */
#ifndef MG_PROCFS_H
#define MG_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mg_sample.h"

#define MG_PROC_PATH_MAX 512
#define MG_PROC_BUF 8192                      /* small files (meminfo: ~1.5K) */
#define MG_PROC_SLAB_BUF_DEFAULT (256 * 1024) /* slabinfo: 25K-200K */

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

/* a + b, or UINT64_MAX if that does not fit (for the parsers above it). */
uint64_t mg_proc_sat_add(uint64_t a, uint64_t b);

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

#endif /* MG_PROCFS_H */
