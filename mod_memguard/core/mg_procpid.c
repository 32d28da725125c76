/*
 * mg_procpid.c - see mg_procpid.h. Per-process files: statm,
 * smaps_rollup, cmdline, stat.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mg_procpid.h"

/* ------------------------------------------------------------------ */
/* per process                                                         */

/*
 * /proc/<pid>/statm, in pages (size resident shared text lib data dt;
 * lib and dt are always 0 since 2.6):
 *   80289 78865 1371 691 0 78024 0
 */
int mg_proc_parse_statm(const char *buf, size_t len, uint64_t page_size,
                        mg_proc_statm_t *out)
{
    const char *p = buf, *end = buf + len;
    uint64_t v[7];
    int i, rc;

    if (buf == NULL || out == NULL || page_size == 0) {
        return -EINVAL;
    }
    if (len == 0 || buf[len - 1] != '\n') {
        return -EBADMSG;
    }
    end--; /* the '\n' */
    for (i = 0; i < 7; i++) {
        if (i > 0) {
            if (p >= end || *p != ' ') {
                return -EBADMSG;
            }
            p++;
        }
        if ((rc = mg_proc_parse_u64(&p, end, &v[i])) < 0) {
            return rc;
        }
        if (v[i] > UINT64_MAX / page_size) {
            return -EOVERFLOW;
        }
    }
    if (p != end) {
        return -EBADMSG;
    }
    out->size = v[0] * page_size;
    out->resident = v[1] * page_size;
    out->shared = v[2] * page_size;
    out->text = v[3] * page_size;
    out->data = v[5] * page_size;
    return 0;
}

int mg_proc_parse_statm_rss(const char *buf, size_t len, uint64_t page_size,
                            uint64_t *rss)
{
    const char *p = buf, *end = buf + len;
    uint64_t size, res;
    int rc;

    if (buf == NULL || rss == NULL || page_size == 0) {
        return -EINVAL;
    }
    if ((rc = mg_proc_parse_u64(&p, end, &size)) < 0) {
        return rc;
    }
    if (p >= end || *p++ != ' ') {
        return -EBADMSG;
    }
    if ((rc = mg_proc_parse_u64(&p, end, &res)) < 0) {
        return rc;
    }
    if (p >= end || *p != ' ') {
        return -EBADMSG; /* five fields follow */
    }
    if (res > UINT64_MAX / page_size) {
        return -EOVERFLOW;
    }
    *rss = res * page_size;
    return 0;
}

int mg_proc_read_statm_rss(int fd, uint64_t page_size, uint64_t *rss)
{
    char buf[128];
    ssize_t n = mg_proc_pread(fd, buf, sizeof(buf));

    if (n < 0) {
        return (int)n;
    }
    return mg_proc_parse_statm_rss(buf, (size_t)n, page_size, rss);
}

int mg_proc_read_statm(int fd, uint64_t page_size, mg_proc_statm_t *out)
{
    char buf[128];
    ssize_t n = mg_proc_pread(fd, buf, sizeof(buf));

    if (n < 0) {
        return (int)n;
    }
    return mg_proc_parse_statm(buf, (size_t)n, page_size, out);
}

int mg_proc_open_pid(const char *root, pid_t pid, const char *file)
{
    char rel[64];
    int n;

    if (file == NULL || pid < 0) {
        return -EINVAL;
    }
    if (pid == 0) {
        n = snprintf(rel, sizeof(rel), "proc/self/%s", file);
    }
    else {
        n = snprintf(rel, sizeof(rel), "proc/%ld/%s", (long)pid, file);
    }
    if (n < 0 || (size_t)n >= sizeof(rel)) {
        return -ENAMETOOLONG;
    }
    return mg_proc_open(root, rel);
}

/*
 * /proc/<pid>/smaps_rollup (Linux 4.14+; the sums of smaps over every
 * mapping):
 *   00400000-7ffee3f47000 ---p 00000000 00:00 0          [rollup]
 *   Rss:              315460 kB
 *   Pss:              313982 kB
 *   Pss_Dirty:        309976 kB
 *   ...
 *   Private_Clean:      3748 kB
 *   Private_Dirty:    309976 kB
 *   Referenced:       315460 kB
 *   Anonymous:        309976 kB
 *   ...
 *   Swap:                  0 kB
 *   SwapPss:               0 kB
 *   Locked:                0 kB
 */
#define MG_SR(k, f)                                                            \
    {                                                                          \
        k, offsetof(mg_proc_smaps_t, f)                                        \
    }
static const mg_proc_key_t mg_proc_smaps_keys[] = {
    MG_SR("Rss", rss),
    MG_SR("Pss", pss),
    MG_SR("Private_Clean", private_clean),
    MG_SR("Private_Dirty", private_dirty),
    MG_SR("Anonymous", anonymous),
    MG_SR("Swap", swap),
};
#undef MG_SR

int mg_proc_parse_smaps_rollup(const char *buf, size_t len,
                               mg_proc_smaps_t *out)
{
    const char *eol;
    mg_proc_smaps_t r;
    uint32_t found = 0;
    size_t hl;
    int rc;

    if (buf == NULL || out == NULL) {
        return -EINVAL;
    }
    eol = memchr(buf, '\n', len);
    if (eol == NULL) {
        return -EBADMSG;
    }
    hl = (size_t)(eol - buf);
    if (hl < 8 || memcmp(eol - 8, "[rollup]", 8) != 0) {
        return -EBADMSG;
    }
    memset(&r, 0, sizeof(r));
    rc = mg_proc_parse_keyed(eol + 1, len - hl - 1, MG_PROC_KV_COLON, -1,
                             mg_proc_smaps_keys, 6, &r, &found);
    if (rc < 0) {
        return rc;
    }
    /* Swap is absent only without CONFIG_SWAP: count it as 0. */
    if ((found & 0x1f) != 0x1f) {
        return -ENOMSG;
    }
    r.unshared = mg_proc_sat_add(r.private_clean, r.private_dirty);
    *out = r;
    return 0;
}

int mg_proc_read_smaps_rollup(int fd, char *buf, size_t size,
                              mg_proc_smaps_t *out)
{
    ssize_t n = mg_proc_pread(fd, buf, size);

    if (n < 0) {
        return (int)n;
    }
    return mg_proc_parse_smaps_rollup(buf, (size_t)n, out);
}

/*
 * /proc/<pid>/cmdline: the argv strings, each followed by a NUL. A
 * process that rewrote its argv area (mod_wsgi daemons do, to show
 * "(wsgi:hub)" in ps) may leave padding spaces and trailing NULs:
 *   "(wsgi:hub)      \0-k\0start\0"
 */
size_t mg_proc_cmdline_flatten(char *buf, size_t len)
{
    size_t i;

    while (len > 0 && buf[len - 1] == '\0') {
        len--;
    }
    for (i = 0; i < len; i++) {
        if (buf[i] == '\0') {
            buf[i] = ' ';
        }
    }
    return len;
}

ssize_t mg_proc_read_cmdline(const char *root, pid_t pid, char *out,
                             size_t size)
{
    int fd;
    ssize_t n;
    size_t len;

    if (out == NULL || size < 2) {
        return -EINVAL;
    }
    fd = mg_proc_open_pid(root, pid, "cmdline");
    if (fd < 0) {
        return fd;
    }
    do {
        n = pread(fd, out, size - 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        n = -errno;
        close(fd);
        out[0] = '\0';
        return n;
    }
    close(fd);
    len = mg_proc_cmdline_flatten(out, (size_t)n);
    out[len] = '\0';
    return (ssize_t)len;
}

/*
 * /proc/<pid>/stat of a mod_wsgi daemon process (its parent is the httpd
 * parent, 20369):
 *   20370 (apache2) S 20369 20369 20369 0 -1 4194624 3462 0 0 0 8 2 ...
 * comm is at most 15 bytes but may be "a) (b" or contain spaces: search
 * from the end.
 */
int mg_proc_parse_stat_ppid(const char *buf, size_t len, int32_t *ppid)
{
    const char *p, *end = buf + len;
    uint64_t v;
    int rc;

    if (buf == NULL || ppid == NULL) {
        return -EINVAL;
    }
    p = end;
    while (p > buf && p[-1] != ')') {
        p--;
    }
    if (p == buf) {
        return -EBADMSG; /* no ')' */
    }
    /* ") S 123 " : a space, one state letter, a space, the number */
    if (end - p < 4 || p[0] != ' ' || p[1] < 'A' || p[1] > 'Z' || p[2] != ' ') {
        return -EBADMSG;
    }
    p += 3;
    if ((rc = mg_proc_parse_u64(&p, end, &v)) < 0) {
        return rc;
    }
    if (p == end || (*p != ' ' && *p != '\n')) {
        return -EBADMSG;
    }
    if (v > INT32_MAX) {
        return -EOVERFLOW;
    }
    *ppid = (int32_t)v;
    return 0;
}

int mg_proc_read_ppid(const char *root, pid_t pid, int32_t *ppid)
{
    char buf[512];
    ssize_t n;
    int fd = mg_proc_open_pid(root, pid, "stat");

    if (fd < 0) {
        return fd;
    }
    n = mg_proc_pread(fd, buf, sizeof(buf));
    close(fd);
    if (n < 0) {
        return (int)n;
    }
    return mg_proc_parse_stat_ppid(buf, (size_t)n, ppid);
}

/* ------------------------------------------------------------------ */
/* the processes in /proc                                              */

/* The record getdents64(2) fills in (glibc declares no type for it). */
struct mg_proc_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* The pid an entry's name stands for, or 0 if the name is not one. */
static long mg_proc_name_pid(const char *c)
{
    long pid = 0;

    while (*c >= '0' && *c <= '9' && pid < 0x7fffffffL / 10) {
        pid = pid * 10 + (*c++ - '0');
    }
    return *c == '\0' ? pid : 0;
}

long mg_proc_scan_pids(int dirfd, long max_entries, mg_proc_pid_fn fn,
                       void *baton)
{
    _Alignas(8) char buf[8192];
    long n, off, seen = 0, found = 0;

    if (lseek(dirfd, 0, SEEK_SET) != 0) {
        return -errno;
    }
    while ((n = syscall(SYS_getdents64, dirfd, buf, sizeof(buf))) > 0) {
        for (off = 0; off < n;) {
            const struct mg_proc_dirent64 *d =
                (const struct mg_proc_dirent64 *)(buf + off);
            long pid;

            off += d->d_reclen;
            if (++seen > max_entries) {
                return found;
            }
            pid = mg_proc_name_pid(d->d_name);
            if (pid <= 1) {
                continue;
            }
            found++;
            if (fn(baton, (pid_t)pid) != 0) {
                return found;
            }
        }
    }
    return n < 0 ? -errno : found;
}
