/*
 * mg_procpid.h - per-process files under /proc/<pid>
 * (statm, smaps_rollup, cmdline, stat), and the scan of /proc for pids.
 * Stacked on mg_procfs.h (see there for ROOT and the return codes).
 */
#ifndef MG_PROCPID_H
#define MG_PROCPID_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mg_procfs.h"

/* ------------------------------------------------------------------ */
/* per process                                                         */

typedef struct {
    uint64_t size, resident, shared, text, data; /* bytes */
} mg_proc_statm_t;

/* "size resident shared text lib data dt\n" in pages -> bytes. */
int mg_proc_parse_statm(const char *buf, size_t len, uint64_t page_size,
                        mg_proc_statm_t *out);

/* One pread of an fd kept open (from mg_proc_open_pid(.., "statm")).
 * Uses a 128-byte stack buffer. */
int mg_proc_read_statm(int fd, uint64_t page_size, mg_proc_statm_t *out);

/* The resident size only, in bytes: the per-request path, which parses
 * the first two fields and checks that more follow (a quarter of the
 * instructions of the whole line). */
int mg_proc_parse_statm_rss(const char *buf, size_t len, uint64_t page_size,
                            uint64_t *rss);
int mg_proc_read_statm_rss(int fd, uint64_t page_size, uint64_t *rss);

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

/*
 * The processes listed in a /proc directory open on dirfd (open(2) with
 * O_RDONLY | O_DIRECTORY, kept open: it is rewound on every call):
 * fn(baton, pid) for every entry whose whole name is a decimal pid above
 * 1, in directory order. At most max_entries entries are looked at,
 * whatever their kind (".", "self" and files count too), so a pass is
 * bounded however many processes there are. The entries are read with
 * getdents64(2) into a stack buffer: nothing allocates (opendir(3) would).
 * A number too large for a pid_t is not a pid. fn returning nonzero stops the
 * scan. Returns how many pids were passed to fn, or -errno of lseek(2) or
 * getdents64(2).
 */
typedef int (*mg_proc_pid_fn)(void *baton, pid_t pid);

long mg_proc_scan_pids(int dirfd, long max_entries, mg_proc_pid_fn fn,
                       void *baton);

#endif /* MG_PROCPID_H */
