/*
 * mg_proc.c - see mg_proc.h. I/O primitives, meminfo, PSI, slabinfo,
 * per-process files and the sampler's aggregate reader. The cgroup and
 * NUMA parts live in mg_cgroup.c and mg_numa.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mg_log.h"
#include "mg_proc.h"

/* ------------------------------------------------------------------ */
/* I/O primitives                                                      */

int mg_proc_path(char *out, size_t n, const char *root, const char *rel)
{
    size_t rl, ll;

    if (root == NULL) {
        root = "";
    }
    rl = strlen(root);
    /* "/" and "x/" would give "//proc": harmless, but keep paths tidy for
     * the log messages. */
    while (rl > 0 && root[rl - 1] == '/') {
        rl--;
    }
    while (*rel == '/') {
        rel++;
    }
    ll = strlen(rel);
    if (rl + 1 + ll + 1 > n) {
        return -ENAMETOOLONG;
    }
    memcpy(out, root, rl);
    out[rl] = '/';
    memcpy(out + rl + 1, rel, ll + 1);
    return 0;
}

int mg_proc_open(const char *root, const char *rel)
{
    char path[MG_PROC_PATH_MAX];
    int rc = mg_proc_path(path, sizeof(path), root, rel);
    int fd;

    if (rc < 0) {
        return rc;
    }
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    } while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

ssize_t mg_proc_pread(int fd, char *buf, size_t size)
{
    ssize_t n;

    if (fd < 0 || buf == NULL || size < 2) {
        return -EINVAL;
    }
    do {
        n = pread(fd, buf, size - 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -errno;
    }
    if ((size_t)n == size - 1) {
        buf[0] = '\0';
        return -EFBIG;
    }
    buf[n] = '\0';
    return n;
}

ssize_t mg_proc_read_seq(int fd, char *buf, size_t size)
{
    size_t len = 0;
    ssize_t n;

    if (fd < 0 || buf == NULL || size < 2) {
        return -EINVAL;
    }
    if (lseek(fd, 0, SEEK_SET) < 0) {
        return -errno;
    }
    for (;;) {
        if (len == size - 1) {
            buf[0] = '\0';
            return -EFBIG;
        }
        n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            buf[0] = '\0';
            return -errno;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

ssize_t mg_proc_read_file(const char *root, const char *rel, char *buf,
                          size_t size)
{
    int fd = mg_proc_open(root, rel);
    ssize_t n;

    if (fd < 0) {
        return fd;
    }
    n = mg_proc_read_seq(fd, buf, size);
    close(fd);
    return n;
}

/* ------------------------------------------------------------------ */
/* small parsing helpers                                               */

int mg_proc_parse_u64(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;

    if (s >= end || *s < '0' || *s > '9') {
        return -EBADMSG;
    }
    while (s < end && *s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        /* UINT64_MAX is 1844674407370955161 * 10 + 5 */
        if (v >= UINT64_MAX / 10 && (v > UINT64_MAX / 10 || d > 5)) {
            return -EOVERFLOW;
        }
        v = v * 10 + d;
        s++;
    }
    *p = s;
    *out = v;
    return 0;
}

static uint64_t mg_proc_sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t mg_proc_sat_mul(uint64_t a, uint64_t b)
{
    return (b != 0 && a > UINT64_MAX / b) ? UINT64_MAX : a * b;
}

static uint64_t mg_proc_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Does [p, end) start with the NUL-terminated word w? */
static int mg_proc_starts(const char *p, const char *end, const char *w)
{
    size_t n = strlen(w);

    return (size_t)(end - p) >= n && memcmp(p, w, n) == 0;
}

/* keys[i] named by [key, key + klen), or nkeys. Most lines are unwanted:
 * reject on the first byte. strncmp stops at the NUL of keys[i].key; the
 * line's key has none. */
static size_t mg_proc_key_index(const mg_proc_key_t *keys, size_t nkeys,
                                const char *key, size_t klen)
{
    size_t i;

    for (i = 0; i < nkeys && klen > 0; i++) {
        if (keys[i].key[0] == key[0] && strncmp(keys[i].key, key, klen) == 0 &&
            keys[i].key[klen] == '\0') {
            return i;
        }
    }
    return nkeys;
}

/*
 * Only the wanted keys are read, and strictly; every other line is
 * skipped whatever its shape, so that a line a newer kernel adds (a new
 * shape, a value that is not a number) never makes the whole file
 * unreadable and switches a signal off. What still fails the file: a
 * NUL byte, no final newline (a torn read), a wanted key whose line is
 * malformed (separator, number, unit, trailing bytes), or a wanted key
 * seen twice, or (node files) on another node's line.
 */
int mg_proc_parse_keyed(const char *buf, size_t len, int style, int node,
                        const mg_proc_key_t *keys, size_t nkeys, void *out,
                        uint32_t *found)
{
    const char *p = buf, *end = buf + len;
    uint32_t seen = 0;

    if (buf == NULL || nkeys > 32) {
        return -EINVAL;
    }
    if (len == 0 || buf[len - 1] != '\n' || memchr(buf, '\0', len) != NULL) {
        return -EBADMSG;
    }
    while (p < end) {
        /* never NULL: the buffer ends in a newline */
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *q = p, *key;
        size_t klen, i;
        uint64_t v, nn = 0;
        int rc, kb = 0;

        p = eol + 1;

        if (style == MG_PROC_KV_NODE) {
            /* "Node N ": a line without it is of a shape we do not know */
            if (!mg_proc_starts(q, eol, "Node ")) {
                continue;
            }
            q += 5;
            if (mg_proc_parse_u64(&q, eol, &nn) < 0 || q >= eol || *q != ' ') {
                continue;
            }
            q++;
        }
        key = q;
        while (q < eol && *q != ':' && *q != ' ' && *q != '\t') {
            q++;
        }
        klen = (size_t)(q - key);
        i = mg_proc_key_index(keys, nkeys, key, klen);
        if (i == nkeys) {
            continue;
        }
        /* a wanted key: its line must be exactly as documented */
        if (style == MG_PROC_KV_NODE && node >= 0 && nn != (uint64_t)node) {
            return -EBADMSG;
        }
        if (style == MG_PROC_KV_SPACE) {
            if (q >= eol || *q != ' ') {
                return -EBADMSG;
            }
            q++;
        }
        else {
            if (q >= eol || *q != ':') {
                return -EBADMSG;
            }
            q++;
            if (q >= eol || *q != ' ') {
                return -EBADMSG;
            }
            while (q < eol && *q == ' ') {
                q++;
            }
        }
        if ((rc = mg_proc_parse_u64(&q, eol, &v)) < 0) {
            return rc;
        }
        if (q < eol) {
            if (style != MG_PROC_KV_SPACE && eol - q == 3 &&
                memcmp(q, " kB", 3) == 0) {
                kb = 1;
            }
            else {
                return -EBADMSG;
            }
        }
        if (seen & (1u << i)) {
            return -EBADMSG;
        }
        if (kb) {
            if (v > UINT64_MAX / 1024) {
                return -EOVERFLOW;
            }
            v *= 1024;
        }
        seen |= 1u << i;
        memcpy((char *)out + keys[i].off, &v, sizeof(v));
    }
    if (found) {
        *found = seen;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* /proc/meminfo                                                       */

/*
 * /proc/meminfo (Linux 6.1, abridged):
 *   MemTotal:       24684092 kB
 *   MemFree:        23202044 kB
 *   MemAvailable:   24356244 kB
 *   Buffers:           49524 kB
 *   Cached:          1282660 kB
 *   ...
 *   Active(file):     328824 kB
 *   Inactive(file):   994504 kB
 *   ...
 *   SwapTotal:             0 kB
 *   SwapFree:              0 kB
 *   ...
 *   Shmem:              8856 kB
 *   KReclaimable:      77052 kB
 *   Slab:              98916 kB
 *   SReclaimable:      77052 kB
 *   SUnreclaim:        21864 kB
 *   ...
 *   HugePages_Total:       0
 * Kernels before 3.14 have no MemAvailable line.
 */
#define MG_MI(k, f)                                                            \
    {                                                                          \
        k, offsetof(mg_sample_t, f)                                            \
    }
static const mg_proc_key_t mg_proc_meminfo_keys[] = {
    MG_MI("MemTotal", mem_total),
    MG_MI("MemFree", mem_free),
    MG_MI("Buffers", buffers),
    MG_MI("Cached", cached),
    MG_MI("Active(file)", active_file),
    MG_MI("Inactive(file)", inactive_file),
    MG_MI("Shmem", shmem),
    MG_MI("Slab", slab),
    MG_MI("SReclaimable", sreclaimable),
    MG_MI("SUnreclaim", sunreclaim),
    MG_MI("SwapTotal", swap_total),
    MG_MI("SwapFree", swap_free),
    MG_MI("MemAvailable", mem_available), /* last: the optional one */
};
#undef MG_MI
#define MG_PROC_MEMINFO_NKEYS                                                  \
    (sizeof(mg_proc_meminfo_keys) / sizeof(mg_proc_meminfo_keys[0]))
#define MG_PROC_MEMINFO_REQUIRED ((1u << (MG_PROC_MEMINFO_NKEYS - 1)) - 1)

uint64_t mg_proc_mem_available_estimate(uint64_t mem_free, uint64_t file,
                                        uint64_t sreclaimable, uint64_t low)
{
    uint64_t avail = mem_free;

    avail = mg_proc_sat_add(avail, file - mg_proc_min(file / 2, low));
    avail = mg_proc_sat_add(avail,
                            sreclaimable - mg_proc_min(sreclaimable / 2, low));
    return avail;
}

int mg_proc_parse_meminfo(const char *buf, size_t len, uint64_t low_wmark,
                          mg_sample_t *s)
{
    mg_sample_t tmp;
    uint32_t found = 0;
    int rc;

    if (buf == NULL || s == NULL) {
        return -EINVAL;
    }
    memset(&tmp, 0, sizeof(tmp));
    rc = mg_proc_parse_keyed(buf, len, MG_PROC_KV_COLON, -1,
                             mg_proc_meminfo_keys, MG_PROC_MEMINFO_NKEYS, &tmp,
                             &found);
    if (rc < 0) {
        return rc;
    }
    if ((found & MG_PROC_MEMINFO_REQUIRED) != MG_PROC_MEMINFO_REQUIRED) {
        return -ENOMSG;
    }
    s->mem_total = tmp.mem_total;
    s->mem_free = tmp.mem_free;
    s->buffers = tmp.buffers;
    s->cached = tmp.cached;
    s->active_file = tmp.active_file;
    s->inactive_file = tmp.inactive_file;
    s->shmem = tmp.shmem;
    s->slab = tmp.slab;
    s->sreclaimable = tmp.sreclaimable;
    s->sunreclaim = tmp.sunreclaim;
    s->swap_total = tmp.swap_total;
    s->swap_free = tmp.swap_free;
    if (found & (1u << (MG_PROC_MEMINFO_NKEYS - 1))) {
        s->mem_available = tmp.mem_available;
        s->mem_available_estimated = 0;
    }
    else {
        s->mem_available = mg_proc_mem_available_estimate(
            tmp.mem_free, mg_proc_sat_add(tmp.active_file, tmp.inactive_file),
            tmp.sreclaimable, low_wmark);
        s->mem_available_estimated = 1;
    }
    return 0;
}

/*
 * /proc/zoneinfo (Linux 6.1; 3.10 has the same "pages free / min / low /
 * high" block without "boost" and "per-node stats"):
 *   Node 0, zone   Normal
 *     pages free     5775040
 *           boost    0
 *           min      14879
 *           low      18598
 *           high     22317
 *           spanned  5505024
 *   ...
 * Only the "low" lines matter; everything else is skipped.
 */
int mg_proc_parse_zoneinfo_low(const char *buf, size_t len, uint64_t page_size,
                               uint64_t *low)
{
    const char *p = buf, *end = buf + len;
    uint64_t sum = 0;
    int zones = 0;

    if (buf == NULL || low == NULL) {
        return -EINVAL;
    }
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL) {
            return -EBADMSG;
        }
        while (p < eol && *p == ' ') {
            p++;
        }
        if (mg_proc_starts(p, eol, "low ")) {
            uint64_t v;
            int rc;
            p += 4;
            while (p < eol && *p == ' ') {
                p++;
            }
            if ((rc = mg_proc_parse_u64(&p, eol, &v)) < 0) {
                return rc;
            }
            if (p != eol) {
                return -EBADMSG;
            }
            sum = mg_proc_sat_add(sum, v);
            zones++;
        }
        p = eol + 1;
    }
    if (zones == 0) {
        return -ENOMSG;
    }
    *low = mg_proc_sat_mul(sum, page_size);
    return 0;
}

static uint64_t mg_proc_isqrt(uint64_t x)
{
    uint64_t r = 0, bit = 1ULL << 62;

    while (bit > x) {
        bit >>= 2;
    }
    while (bit != 0) {
        if (x >= r + bit) {
            x -= r + bit;
            r = (r >> 1) + bit;
        }
        else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

uint64_t mg_proc_low_wmark(const char *root, uint64_t mem_total,
                           uint64_t page_size, char *buf, size_t size)
{
    uint64_t low, kb;
    ssize_t n;

    n = mg_proc_read_file(root, "proc/zoneinfo", buf, size);
    if (n >= 0 &&
        mg_proc_parse_zoneinfo_low(buf, (size_t)n, page_size, &low) == 0) {
        return low;
    }
    n = mg_proc_read_file(root, "proc/sys/vm/min_free_kbytes", buf, size);
    if (n > 0) {
        const char *p = buf;
        if (mg_proc_parse_u64(&p, buf + n, &kb) == 0 && *p == '\n' &&
            kb < UINT64_MAX / 1280) {
            return kb * 1024 + kb * 256;
        }
    }
    /* The kernel's boot-time sizing (init_per_zone_wmark_min). */
    kb = mg_proc_isqrt(mg_proc_sat_mul(mem_total / 1024, 16));
    if (kb < 128) {
        kb = 128;
    }
    if (kb > 65536) {
        kb = 65536;
    }
    return kb * 1024 + kb * 256;
}

/* ------------------------------------------------------------------ */
/* /proc/pressure/memory                                               */

/* "12.34" -> 1234; at most two decimals, at most 100.00. */
static int mg_proc_parse_avg(const char **p, const char *end, uint32_t *out)
{
    uint64_t ip, frac = 0;
    int rc, digits = 0;

    if ((rc = mg_proc_parse_u64(p, end, &ip)) < 0) {
        return -EBADMSG;
    }
    if (*p < end && **p == '.') {
        (*p)++;
        while (*p < end && **p >= '0' && **p <= '9') {
            if (++digits > 2) {
                return -EBADMSG;
            }
            frac = frac * 10 + (uint64_t)(**p - '0');
            (*p)++;
        }
        if (digits == 0) {
            return -EBADMSG;
        }
        if (digits == 1) {
            frac *= 10;
        }
    }
    if (ip > 100 || (ip == 100 && frac != 0)) {
        return -EBADMSG;
    }
    *out = (uint32_t)(ip * 100 + frac);
    return 0;
}

/*
 * /proc/pressure/memory (Linux 4.20+, CONFIG_PSI; averages are percent
 * of wall time stalled, total is cumulative microseconds):
 *   some avg10=0.00 avg60=0.00 avg300=0.00 total=1734
 *   full avg10=0.00 avg60=0.00 avg300=0.00 total=1144
 */
int mg_proc_parse_psi(const char *buf, size_t len, mg_proc_psi_t *out)
{
    const char *p = buf, *end = buf + len;
    mg_proc_psi_t r;

    if (buf == NULL || out == NULL) {
        return -EINVAL;
    }
    if (len == 0 || buf[len - 1] != '\n') {
        return -EBADMSG;
    }
    memset(&r, 0, sizeof(r));
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        mg_proc_psi_line_t *l;
        unsigned seen = 0;

        if (mg_proc_starts(p, eol, "some ")) {
            l = &r.some;
        }
        else if (mg_proc_starts(p, eol, "full ")) {
            l = &r.full;
        }
        else {
            return -EBADMSG;
        }
        if (l->present) {
            return -EBADMSG;
        }
        p += 5;
        while (p < eol) {
            const char *k = p;
            unsigned bit;
            int rc;

            while (p < eol && *p != '=' && *p != ' ') {
                p++;
            }
            if (p >= eol || *p != '=' || p == k) {
                return -EBADMSG;
            }
            p++;
            if (mg_proc_starts(k, p, "avg10=")) {
                bit = 1;
                rc = mg_proc_parse_avg(&p, eol, &l->avg10);
            }
            else if (mg_proc_starts(k, p, "avg60=")) {
                bit = 2;
                rc = mg_proc_parse_avg(&p, eol, &l->avg60);
            }
            else if (mg_proc_starts(k, p, "avg300=")) {
                bit = 4;
                rc = mg_proc_parse_avg(&p, eol, &l->avg300);
            }
            else if (mg_proc_starts(k, p, "total=")) {
                bit = 8;
                rc = mg_proc_parse_u64(&p, eol, &l->total_us);
            }
            else {
                /* A field a later kernel may add: skip its value. */
                bit = 0;
                rc = 0;
                while (p < eol && *p != ' ') {
                    p++;
                }
            }
            if (rc < 0) {
                return rc;
            }
            if (seen & bit) {
                return -EBADMSG;
            }
            seen |= bit;
            if (p < eol) {
                if (*p != ' ' || p + 1 == eol) {
                    return -EBADMSG;
                }
                p++;
            }
        }
        if (seen != 15) {
            return -EBADMSG;
        }
        l->present = 1;
        p = eol + 1;
    }
    if (!r.some.present) {
        return -ENOMSG;
    }
    *out = r;
    return 0;
}

/* ------------------------------------------------------------------ */
/* /proc/slabinfo                                                      */

uint64_t mg_proc_slab_bytes(const mg_proc_slab_t *c)
{
    return mg_proc_sat_mul(c->num_objs, c->objsize);
}

uint64_t mg_proc_slab_pages_bytes(const mg_proc_slab_t *c, uint64_t page_size)
{
    return mg_proc_sat_mul(mg_proc_sat_mul(c->num_slabs, c->pagesperslab),
                           page_size);
}

/* Skip spaces, then read one number; the field must end at a space or
 * the end of the line. */
static int mg_proc_slab_num(const char **p, const char *eol, uint64_t *v)
{
    int rc;

    if (*p >= eol || **p != ' ') {
        return -EBADMSG;
    }
    while (*p < eol && **p == ' ') {
        (*p)++;
    }
    if ((rc = mg_proc_parse_u64(p, eol, v)) < 0) {
        return rc;
    }
    if (*p < eol && **p != ' ') {
        return -EBADMSG;
    }
    return 0;
}

static int mg_proc_slab_word(const char **p, const char *eol, const char *w)
{
    if (*p >= eol || **p != ' ') {
        return -EBADMSG;
    }
    while (*p < eol && **p == ' ') {
        (*p)++;
    }
    if (!mg_proc_starts(*p, eol, w)) {
        return -EBADMSG;
    }
    *p += strlen(w);
    return 0;
}

/*
 * /proc/slabinfo (Linux 6.1, SLUB; root only, mode 0400):
 *   slabinfo - version: 2.1
 *   # name            <active_objs> <num_objs> <objsize> <objperslab>
 *     <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> :
 *     slabdata <active_slabs> <num_slabs> <sharedavail>
 *   ext4_inode_cache   1170   1170   1176   27    8 : tunables    0    0
 *     0 : slabdata     44     44      0
 * (the header and each cache are one line each; wrapped here). SLAB
 * kernels append ": globalstat ..." and ": cpustat ..." with
 * CONFIG_DEBUG_SLAB; those are accepted and ignored.
 */
int mg_proc_parse_slabinfo(const char *buf, size_t len, mg_proc_slab_fn fn,
                           void *baton)
{
    const char *p = buf, *end = buf + len, *eol;
    static const char hdr[] = "slabinfo - version: ";

    if (buf == NULL || fn == NULL) {
        return -EINVAL;
    }
    if (len == 0 || buf[len - 1] != '\n') {
        return -EBADMSG;
    }
    eol = memchr(p, '\n', len);
    if (!mg_proc_starts(p, eol, hdr)) {
        return -EBADMSG;
    }
    p += sizeof(hdr) - 1;
    if ((size_t)(eol - p) != 3 || memcmp(p, "2.1", 3) != 0) {
        return -EPROTONOSUPPORT;
    }
    p = eol + 1;
    while (p < end) {
        mg_proc_slab_t c;
        uint64_t t[3];
        int rc;

        eol = memchr(p, '\n', (size_t)(end - p));
        if (*p == '#') {
            p = eol + 1;
            continue;
        }
        memset(&c, 0, sizeof(c));
        c.name = p;
        while (p < eol && *p != ' ') {
            p++;
        }
        c.name_len = (size_t)(p - c.name);
        if (c.name_len == 0) {
            return -EBADMSG;
        }
        if ((rc = mg_proc_slab_num(&p, eol, &c.active_objs)) < 0 ||
            (rc = mg_proc_slab_num(&p, eol, &c.num_objs)) < 0 ||
            (rc = mg_proc_slab_num(&p, eol, &c.objsize)) < 0 ||
            (rc = mg_proc_slab_num(&p, eol, &c.objperslab)) < 0 ||
            (rc = mg_proc_slab_num(&p, eol, &c.pagesperslab)) < 0 ||
            (rc = mg_proc_slab_word(&p, eol, ": tunables")) < 0 ||
            (rc = mg_proc_slab_num(&p, eol, &t[0])) < 0 ||
            (rc = mg_proc_slab_num(&p, eol, &t[1])) < 0 ||
            (rc = mg_proc_slab_num(&p, eol, &t[2])) < 0 ||
            (rc = mg_proc_slab_word(&p, eol, ": slabdata")) < 0 ||
            (rc = mg_proc_slab_num(&p, eol, &c.active_slabs)) < 0 ||
            (rc = mg_proc_slab_num(&p, eol, &c.num_slabs)) < 0 ||
            (rc = mg_proc_slab_num(&p, eol, &t[0])) < 0) {
            return rc;
        }
        if (p < eol && !mg_proc_starts(p, eol, " : ")) {
            return -EBADMSG;
        }
        if ((rc = fn(baton, &c)) != 0) {
            return rc;
        }
        p = eol + 1;
    }
    return 0;
}

typedef struct {
    const char (*names)[MG_SAMPLE_NAME_LEN];
    size_t nnames;
    mg_sample_t *s;
} mg_proc_slabfill_t;

static void mg_proc_cache_set(mg_sample_cache_t *d, const mg_proc_slab_t *c,
                              uint64_t bytes)
{
    size_t n = c->name_len < MG_SAMPLE_NAME_LEN - 1 ? c->name_len
                                                    : MG_SAMPLE_NAME_LEN - 1;

    memset(d->name, 0, sizeof(d->name));
    memcpy(d->name, c->name, n);
    d->bytes = bytes;
}

static int mg_proc_slabfill_cb(void *baton, const mg_proc_slab_t *c)
{
    mg_proc_slabfill_t *f = baton;
    mg_sample_t *s = f->s;
    uint64_t bytes = mg_proc_slab_bytes(c);
    size_t i;
    uint32_t j;

    for (i = 0; i < f->nnames; i++) {
        if (strlen(f->names[i]) == c->name_len &&
            memcmp(f->names[i], c->name, c->name_len) == 0) {
            s->caches[i].bytes = bytes;
        }
    }
    /* Insertion into the top list, largest first; ties keep file order. */
    if (s->ntop == MG_SAMPLE_TOP_CACHES &&
        bytes <= s->top[MG_SAMPLE_TOP_CACHES - 1].bytes) {
        return 0;
    }
    j = s->ntop < MG_SAMPLE_TOP_CACHES ? s->ntop++ : MG_SAMPLE_TOP_CACHES - 1;
    while (j > 0 && s->top[j - 1].bytes < bytes) {
        s->top[j] = s->top[j - 1];
        j--;
    }
    mg_proc_cache_set(&s->top[j], c, bytes);
    return 0;
}

int mg_proc_slabinfo_fill(const char *buf, size_t len,
                          const char (*names)[MG_SAMPLE_NAME_LEN],
                          size_t nnames, mg_sample_t *s)
{
    mg_proc_slabfill_t f;
    size_t i;
    int rc;

    if (s == NULL || nnames > MG_SAMPLE_MAX_CACHES ||
        (nnames > 0 && names == NULL)) {
        return -EINVAL;
    }
    memset(s->caches, 0, sizeof(s->caches));
    memset(s->top, 0, sizeof(s->top));
    s->ntop = 0;
    for (i = 0; i < nnames; i++) {
        memcpy(s->caches[i].name, names[i], MG_SAMPLE_NAME_LEN);
        s->caches[i].name[MG_SAMPLE_NAME_LEN - 1] = '\0';
    }
    s->ncaches = (uint32_t)nnames;
    f.names = names;
    f.nnames = nnames;
    f.s = s;
    rc = mg_proc_parse_slabinfo(buf, len, mg_proc_slabfill_cb, &f);
    if (rc != 0) {
        memset(s->caches, 0, sizeof(s->caches));
        memset(s->top, 0, sizeof(s->top));
        s->ncaches = 0;
        s->ntop = 0;
        return rc < 0 ? rc : -EBADMSG;
    }
    return 0;
}

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
/* the sampler                                                         */

static void mg_proc_file_init(mg_proc_file_t *f)
{
    f->fd = -1;
    f->last_rc = 0;
    f->path[0] = '\0';
}

static int mg_proc_file_set(mg_proc_file_t *f, const char *root,
                            const char *rel)
{
    mg_proc_file_init(f);
    return mg_proc_path(f->path, sizeof(f->path), root, rel);
}

static int mg_proc_file_open(mg_proc_file_t *f)
{
    int fd;

    do {
        fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return -errno;
    }
    if (f->fd >= 0) {
        close(f->fd);
    }
    f->fd = fd;
    return 0;
}

static void mg_proc_file_close(mg_proc_file_t *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
}

/*
 * Read one file of the sampler. The kept fd is re-opened when the root is
 * a fixture tree (reopen) or when a read says the file went away: a
 * removed and re-created cgroup (ENODEV), a file replaced by rename on NFS
 * (ESTALE). An open refused with EACCES keeps the old fd: that is
 * slabinfo after the sampler dropped root.
 */
static ssize_t mg_proc_file_read(mg_proc_file_t *f, int reopen, char *buf,
                                 size_t size, int seq)
{
    ssize_t n;
    int rc, tried = 0;

    if (f->path[0] == '\0') {
        return -ENOENT;
    }
    if (reopen || f->fd < 0) {
        tried = 1;
        rc = mg_proc_file_open(f);
        if (rc < 0 && rc != -EACCES && rc != -EPERM) {
            mg_proc_file_close(f);
            return rc;
        }
        if (f->fd < 0) {
            return rc;
        }
    }
    for (;;) {
        n = seq ? mg_proc_read_seq(f->fd, buf, size)
                : mg_proc_pread(f->fd, buf, size);
        if (n >= 0 || tried || (n != -ENOENT && n != -ENODEV && n != -ESTALE)) {
            return n;
        }
        tried = 1;
        rc = mg_proc_file_open(f);
        if (rc < 0) {
            mg_proc_file_close(f);
            return rc;
        }
    }
}

/* Log when a source changes state (works -> fails, or back), not on every
 * sample: the sampler runs ten times a second. */
static void mg_proc_note(mg_proc_file_t *f, int rc)
{
    if (rc == f->last_rc) {
        return;
    }
    if (rc < 0) {
        mg_log(MG_LOG_WARNING, MGLOGNO(00001) "cannot use %s: %s (error %d)",
               f->path,
               rc == -EBADMSG           ? "malformed or truncated"
               : rc == -ENOMSG          ? "a required line is missing"
               : rc == -EFBIG           ? "larger than the buffer"
               : rc == -EPROTONOSUPPORT ? "unsupported format version"
                                        : strerror(-rc),
               -rc);
    }
    else {
        mg_log(MG_LOG_NOTICE, MGLOGNO(00002) "%s readable again", f->path);
    }
    f->last_rc = rc;
}

/* Start-up scratch: mountinfo on a container host and zoneinfo on a big
 * machine outgrow the 8 KB buffer; the slabinfo buffer, when there is one,
 * is not in use yet. */
static char *mg_proc_scratch(mg_proc_sampler_t *ps)
{
    return ps->slab_buf_size > sizeof(ps->buf) ? ps->slab_buf : ps->buf;
}

static size_t mg_proc_scratch_size(mg_proc_sampler_t *ps)
{
    return ps->slab_buf_size > sizeof(ps->buf) ? ps->slab_buf_size
                                               : sizeof(ps->buf);
}

/* Point f at ROOT/dir/name and open it; a failed open is not an error
 * (it is tried again at each read). Returns 0 or mg_proc_file_set()'s
 * error. */
static int mg_proc_cg_file(mg_proc_sampler_t *ps, mg_proc_file_t *f,
                           const char *dir, const char *name)
{
    char rel[MG_PROC_PATH_MAX + 32];
    int rc;

    snprintf(rel, sizeof(rel), "%s/%s", dir, name);
    if ((rc = mg_proc_file_set(f, ps->root, rel)) < 0) {
        return rc;
    }
    (void)mg_proc_file_open(f);
    return 0;
}

/*
 * v2: a limit set on a slice (systemctl set-property system.slice
 * MemoryMax=...) binds the service below it as well, and counts its
 * siblings' memory (PostgreSQL beside httpd). Walk up from the group to
 * the first directory without memory.max (the root group has none; in v2
 * a group with the memory controller has a parent with it too, unless the
 * parent is the root), keeping at most MG_PROC_CG_ANCESTORS levels.
 */
static void mg_proc_sampler_cgroup_ancestors_open(mg_proc_sampler_t *ps)
{
    char dir[MG_PROC_PATH_MAX];
    char *slash;
    uint32_t k;

    snprintf(dir, sizeof(dir), "%s", ps->cg_loc.dir);
    while (ps->cg_nanc < MG_PROC_CG_ANCESTORS &&
           (slash = strrchr(dir, '/')) != NULL && slash != dir) {
        *slash = '\0';
        k = ps->cg_nanc;
        /* without memory.max: the root group, or no memory controller
         * up there. Files of a level not counted are closed with the
         * others by mg_proc_sampler_close(). */
        if (mg_proc_cg_file(ps, &ps->cg_anc_max[k], dir, "memory.max") < 0 ||
            ps->cg_anc_max[k].fd < 0 ||
            mg_proc_cg_file(ps, &ps->cg_anc_cur[k], dir, "memory.current") <
                0 ||
            mg_proc_cg_file(ps, &ps->cg_anc_stat[k], dir, "memory.stat") < 0) {
            break;
        }
        ps->cg_nanc++;
    }
}

static int mg_proc_sampler_cgroup_open(mg_proc_sampler_t *ps,
                                       const mg_proc_sampler_conf_t *conf)
{
    char where[2 * MG_PROC_PATH_MAX];
    static const char *const v2[] = {"memory.max", "memory.current",
                                     "memory.stat", "memory.events"};
    static const char *const v1[] = {"memory.limit_in_bytes",
                                     "memory.usage_in_bytes", "memory.stat",
                                     "memory.oom_control"};
    const mg_proc_cgroup_loc_t *l = &ps->cg_loc;
    mg_proc_file_t *files[] = {&ps->cg_limit, &ps->cg_usage, &ps->cg_stat,
                               &ps->cg_oom};
    size_t i;
    int rc;

    if (conf->cgroup == MG_PROC_CGROUP_AUTO) {
        rc = mg_proc_cgroup_locate(ps->root, mg_proc_scratch(ps),
                                   mg_proc_scratch_size(ps), &ps->cg_loc);
    }
    else {
        rc = mg_proc_cgroup_probe(ps->root, conf->cgroup_path, &ps->cg_loc);
    }
    if (rc < 0) {
        mg_log(rc == -ENODATA ? MG_LOG_INFO : MG_LOG_WARNING,
               MGLOGNO(00003) "no memory cgroup found under %s%s%s (%d)",
               ps->root, conf->cgroup == MG_PROC_CGROUP_PATH ? " at " : "",
               conf->cgroup == MG_PROC_CGROUP_PATH ? conf->cgroup_path : "",
               -rc);
        return rc;
    }
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        rc = mg_proc_cg_file(ps, files[i], l->dir,
                             l->version == 2 ? v2[i] : v1[i]);
        if (rc < 0) {
            return rc;
        }
    }
    ps->cg_version = l->version;
    if (l->version == 2) {
        mg_proc_sampler_cgroup_ancestors_open(ps);
    }
    /* joined as the readers join it: the root "/" and the directory
     * "/sys/fs/cgroup/..." make one slash, not two */
    if (mg_proc_path(where, sizeof(where), ps->root, l->dir) < 0) {
        snprintf(where, sizeof(where), "%s", l->dir);
    }
    mg_log(MG_LOG_INFO,
           MGLOGNO(00004) "memory cgroup v%u at %s (%u ancestor(s) with "
                          "memory.max watched too)",
           (unsigned)l->version, where, (unsigned)ps->cg_nanc);
    return 0;
}

static int mg_proc_sampler_open_all(mg_proc_sampler_t *ps, const char *root,
                                    const mg_proc_sampler_conf_t *conf);

int mg_proc_sampler_open(mg_proc_sampler_t *ps, const char *root,
                         const mg_proc_sampler_conf_t *conf)
{
    int rc = mg_proc_sampler_open_all(ps, root, conf);

    if (rc < 0 && ps != NULL) {
        mg_proc_sampler_close(ps);
    }
    return rc;
}

static int mg_proc_sampler_open_all(mg_proc_sampler_t *ps, const char *root,
                                    const mg_proc_sampler_conf_t *conf)
{
    mg_proc_sampler_conf_t defconf;
    size_t rl, i;
    long pg;
    ssize_t n;
    int rc;

    if (ps == NULL) {
        return -EINVAL;
    }
    memset(ps, 0, sizeof(*ps));
    mg_proc_file_init(&ps->meminfo);
    mg_proc_file_init(&ps->psi);
    mg_proc_file_init(&ps->cg_limit);
    mg_proc_file_init(&ps->cg_usage);
    mg_proc_file_init(&ps->cg_stat);
    mg_proc_file_init(&ps->cg_oom);
    for (i = 0; i < MG_PROC_CG_ANCESTORS; i++) {
        mg_proc_file_init(&ps->cg_anc_max[i]);
        mg_proc_file_init(&ps->cg_anc_cur[i]);
        mg_proc_file_init(&ps->cg_anc_stat[i]);
    }
    mg_proc_file_init(&ps->slab);
    for (i = 0; i < MG_SAMPLE_MAX_NODES; i++) {
        mg_proc_file_init(&ps->node[i]);
    }
    if (root == NULL) {
        return -EINVAL;
    }
    if (conf == NULL) {
        memset(&defconf, 0, sizeof(defconf));
        defconf.cgroup = MG_PROC_CGROUP_AUTO;
        defconf.numa = 1;
        defconf.reopen = -1;
        conf = &defconf;
    }
    if (conf->ncaches > MG_SAMPLE_MAX_CACHES ||
        (conf->ncaches > 0 && conf->caches == NULL) ||
        (conf->cgroup == MG_PROC_CGROUP_PATH && conf->cgroup_path == NULL) ||
        (conf->slab_buf != NULL && conf->slab_buf_size < 2)) {
        return -EINVAL;
    }
    rl = strlen(root);
    if (rl >= sizeof(ps->root)) {
        return -ENAMETOOLONG;
    }
    memcpy(ps->root, root, rl + 1);
    /* A root other than "/" is a test tree that tests rewrite: re-open
     * so that a file replaced by rename(2) is seen (see mg_proc.h). */
    if (conf->reopen < 0) {
        ps->reopen = !(rl == 0 || strcmp(root, "/") == 0);
    }
    else {
        ps->reopen = conf->reopen != 0;
    }
    pg = sysconf(_SC_PAGESIZE);
    ps->page_size =
        conf->page_size ? conf->page_size : (pg > 0 ? (uint64_t)pg : 4096);
    for (i = 0; i < conf->ncaches; i++) {
        size_t nl = strlen(conf->caches[i]);
        if (nl == 0 || nl >= MG_SAMPLE_NAME_LEN) {
            return -EINVAL;
        }
        memcpy(ps->cache_names[i], conf->caches[i], nl + 1);
    }
    ps->ncaches = conf->ncaches;
    if (conf->slab_buf != NULL) {
        ps->slab_buf = conf->slab_buf;
        ps->slab_buf_size = conf->slab_buf_size;
    }

    if ((rc = mg_proc_file_set(&ps->meminfo, root, "proc/meminfo")) < 0 ||
        (rc = mg_proc_file_set(&ps->psi, root, "proc/pressure/memory")) < 0) {
        return rc;
    }
    (void)mg_proc_file_open(&ps->meminfo);
    (void)mg_proc_file_open(&ps->psi);

    /* Kernels before 3.14 need the low watermark for the MemAvailable
     * estimate; watermarks move only with memory hotplug or a sysctl, so
     * read them once. */
    n = mg_proc_file_read(&ps->meminfo, 0, ps->buf, sizeof(ps->buf), 0);
    if (n > 0 && memmem(ps->buf, (size_t)n, "\nMemAvailable:", 14) == NULL) {
        mg_sample_t tmp;
        memset(&tmp, 0, sizeof(tmp));
        (void)mg_proc_parse_meminfo(ps->buf, (size_t)n, 0, &tmp);
        ps->low_wmark =
            mg_proc_low_wmark(root, tmp.mem_total, ps->page_size,
                              mg_proc_scratch(ps), mg_proc_scratch_size(ps));
        mg_log(MG_LOG_INFO,
               MGLOGNO(00005) "no MemAvailable in %s: estimating it with a "
                              "low watermark of %llu bytes",
               ps->meminfo.path, (unsigned long long)ps->low_wmark);
    }

    if (conf->cgroup != MG_PROC_CGROUP_OFF) {
        (void)mg_proc_sampler_cgroup_open(ps, conf);
    }
    if (conf->numa) {
        uint32_t nn = 0, skipped = 0;
        rc = mg_proc_numa_nodes(root, ps->buf, sizeof(ps->buf), ps->node_ids,
                                MG_SAMPLE_MAX_NODES, &nn, &skipped);
        if (rc == 0) {
            for (i = 0; i < nn; i++) {
                char rel[64];
                snprintf(rel, sizeof(rel),
                         "sys/devices/system/node/node%d/meminfo",
                         (int)ps->node_ids[i]);
                if ((rc = mg_proc_file_set(&ps->node[i], root, rel)) < 0) {
                    return rc;
                }
                (void)mg_proc_file_open(&ps->node[i]);
            }
            ps->nnodes = nn;
            ps->nodes_skipped = skipped;
            if (skipped > 0) {
                mg_log(MG_LOG_WARNING,
                       MGLOGNO(00006) "%u allowed NUMA nodes beyond the "
                                      "first %d are not watched",
                       (unsigned)skipped, MG_SAMPLE_MAX_NODES);
            }
        }
    }
    if (conf->slab_buf != NULL) {
        if ((rc = mg_proc_file_set(&ps->slab, root, "proc/slabinfo")) < 0) {
            return rc;
        }
        rc = mg_proc_file_open(&ps->slab);
        if (rc < 0) {
            mg_log(MG_LOG_WARNING,
                   MGLOGNO(00007) "cannot open %s (%s): slab caches are not "
                                  "watched; it must be opened as root",
                   ps->slab.path, strerror(-rc));
        }
    }
    return 0;
}

static int mg_proc_read_value(mg_proc_sampler_t *ps, mg_proc_file_t *f,
                              uint64_t *v)
{
    ssize_t n = mg_proc_file_read(f, ps->reopen, ps->buf, sizeof(ps->buf), 0);

    if (n < 0) {
        return (int)n;
    }
    return mg_proc_parse_cgroup_value(ps->buf, (size_t)n, v);
}

static int mg_proc_read_cgstat(mg_proc_sampler_t *ps, mg_proc_file_t *f,
                               mg_proc_cgstat_t *st)
{
    ssize_t n = mg_proc_file_read(f, ps->reopen, ps->buf, sizeof(ps->buf), 0);

    if (n < 0) {
        return (int)n;
    }
    return mg_proc_parse_cgroup_stat(ps->buf, (size_t)n, ps->cg_version, st);
}

/* One level's figures; the working set is usage less inactive file pages,
 * floored at 0. */
static void mg_proc_cgroup_fill(mg_sample_t *out, uint64_t limit,
                                uint64_t usage, uint64_t inactive_file)
{
    out->cgroup_limit = limit;
    out->cgroup_usage = usage;
    out->cgroup_inactive_file = inactive_file;
    out->cgroup_working_set = usage > inactive_file ? usage - inactive_file : 0;
}

/*
 * v2 ancestors: the level with the least room (max - current) decides, as
 * the kernel's OOM killer acts at whichever level runs out first. Its
 * memory.stat gives that level's inactive file pages. An ancestor whose
 * files cannot be read (or parsed) is left out; the group's own figures
 * and OOM kill count stay.
 */
static void mg_proc_sampler_cgroup_ancestors(mg_proc_sampler_t *ps,
                                             mg_sample_t *out)
{
    uint64_t best_room, max, cur, room;
    uint32_t i;
    mg_proc_cgstat_t st;
    int rc;

    best_room = out->cgroup_limit == UINT64_MAX ? UINT64_MAX
                : out->cgroup_limit > out->cgroup_usage
                    ? out->cgroup_limit - out->cgroup_usage
                    : 0;
    for (i = 0; i < ps->cg_nanc; i++) {
        rc = mg_proc_read_value(ps, &ps->cg_anc_max[i], &max);
        mg_proc_note(&ps->cg_anc_max[i], rc);
        if (rc < 0 || max == UINT64_MAX) {
            continue;
        }
        rc = mg_proc_read_value(ps, &ps->cg_anc_cur[i], &cur);
        mg_proc_note(&ps->cg_anc_cur[i], rc);
        if (rc < 0) {
            continue;
        }
        room = max > cur ? max - cur : 0;
        if (room >= best_room) {
            continue;
        }
        rc = mg_proc_read_cgstat(ps, &ps->cg_anc_stat[i], &st);
        mg_proc_note(&ps->cg_anc_stat[i], rc);
        if (rc < 0) {
            continue;
        }
        best_room = room;
        out->cgroup_level = i + 1;
        mg_proc_cgroup_fill(out, max, cur, st.inactive_file);
    }
}

static int mg_proc_sampler_cgroup(mg_proc_sampler_t *ps, mg_sample_t *out)
{
    mg_proc_cgstat_t st;
    uint64_t limit, usage, oom = 0;
    ssize_t n;
    int rc;

    /* The root group of v2 has no memory.max: no limit of its own. */
    rc = mg_proc_read_value(ps, &ps->cg_limit, &limit);
    if (rc == -ENOENT && ps->cg_version == 2) {
        limit = UINT64_MAX;
        rc = 0;
    }
    mg_proc_note(&ps->cg_limit, rc);
    if (rc < 0) {
        return rc;
    }
    rc = mg_proc_read_value(ps, &ps->cg_usage, &usage);
    mg_proc_note(&ps->cg_usage, rc);
    if (rc < 0) {
        return rc;
    }
    rc = mg_proc_read_cgstat(ps, &ps->cg_stat, &st);
    mg_proc_note(&ps->cg_stat, rc);
    if (rc < 0) {
        return rc;
    }
    n = mg_proc_file_read(&ps->cg_oom, ps->reopen, ps->buf, sizeof(ps->buf), 0);
    rc = n < 0 ? (int)n : mg_proc_parse_cgroup_oom(ps->buf, (size_t)n, &oom);
    mg_proc_note(&ps->cg_oom, rc);
    if (rc < 0) {
        return rc;
    }
    /* v1: a group without a limit of its own is still bound by its
     * ancestors' (systemd slices); hierarchical_memory_limit has it. */
    mg_proc_cgroup_fill(out, mg_proc_min(limit, st.hierarchical_limit), usage,
                        st.inactive_file);
    out->cgroup_oom_kills = oom;
    out->cgroup_version = ps->cg_version;
    out->cgroup_level = 0;
    mg_proc_sampler_cgroup_ancestors(ps, out);
    return 0;
}

int mg_proc_sampler_read_slab(mg_proc_sampler_t *ps, mg_proc_slab_result_t *res,
                              uint64_t now_us)
{
    mg_sample_t *tmp;
    ssize_t n;
    int rc;

    if (ps == NULL || res == NULL || ps->slab_buf == NULL) {
        return 0;
    }
    memset(res, 0, sizeof(*res));
    res->taken_us = now_us;
    n = mg_proc_file_read(&ps->slab, ps->reopen, ps->slab_buf,
                          ps->slab_buf_size, 1);
    if (n < 0) {
        mg_proc_note(&ps->slab, (int)n);
        return 1;
    }
    /* mg_proc_slabinfo_fill() writes into a sample: a scratch one that
     * nothing else of ps touches */
    tmp = &ps->slab_scratch;
    memset(tmp, 0, sizeof(*tmp));
    rc = mg_proc_slabinfo_fill(
        ps->slab_buf, (size_t)n,
        (const char(*)[MG_SAMPLE_NAME_LEN])ps->cache_names, ps->ncaches, tmp);
    mg_proc_note(&ps->slab, rc);
    if (rc == 0) {
        res->valid = 1;
        res->ncaches = tmp->ncaches;
        res->ntop = tmp->ntop;
        memcpy(res->caches, tmp->caches, sizeof(res->caches));
        memcpy(res->top, tmp->top, sizeof(res->top));
    }
    return 1;
}

void mg_proc_sample_set_slab(mg_sample_t *out, const mg_proc_slab_result_t *res)
{
    if (res->valid) {
        out->valid |= MG_SRC_SLABINFO;
        out->slab_taken_us = res->taken_us;
        out->ncaches = res->ncaches;
        out->ntop = res->ntop;
        memcpy(out->caches, res->caches, sizeof(out->caches));
        memcpy(out->top, res->top, sizeof(out->top));
    }
    else {
        out->valid &= ~(uint32_t)MG_SRC_SLABINFO;
        out->slab_taken_us = res->taken_us;
        out->ncaches = out->ntop = 0;
        memset(out->caches, 0, sizeof(out->caches));
        memset(out->top, 0, sizeof(out->top));
    }
}

int mg_proc_sampler_read(mg_proc_sampler_t *ps, mg_sample_t *out,
                         int with_slabinfo, uint64_t now_us)
{
    mg_proc_psi_t psi;
    ssize_t n;
    uint32_t i, k;
    int rc;

    if (ps == NULL || out == NULL) {
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    out->taken_us = now_us;
    out->seq = ++ps->seq;

    n = mg_proc_file_read(&ps->meminfo, ps->reopen, ps->buf, sizeof(ps->buf),
                          0);
    rc = n < 0 ? (int)n
               : mg_proc_parse_meminfo(ps->buf, (size_t)n, ps->low_wmark, out);
    mg_proc_note(&ps->meminfo, rc);
    if (rc == 0) {
        out->valid |= MG_SRC_MEMINFO;
    }

    /* PSI: a missing file (no CONFIG_PSI, kernel < 4.20) and EOPNOTSUPP
     * (built in but booted with psi=0: the file exists, reads fail) both
     * mean "not available", which is not worth a warning. */
    n = mg_proc_file_read(&ps->psi, ps->reopen, ps->buf, sizeof(ps->buf), 0);
    if (n == -ENOENT || n == -EOPNOTSUPP) {
        if (ps->psi_state != -ENODATA) {
            mg_log(MG_LOG_INFO, MGLOGNO(00008) "%s: PSI not available (%s)",
                   ps->psi.path, strerror((int)-n));
        }
        ps->psi_state = -ENODATA;
        ps->psi.last_rc = 0;
    }
    else {
        rc = n < 0 ? (int)n : mg_proc_parse_psi(ps->buf, (size_t)n, &psi);
        mg_proc_note(&ps->psi, rc);
        ps->psi_state = rc == 0 ? 1 : rc;
        if (rc == 0) {
            out->psi_some_avg10 = psi.some.avg10;
            out->psi_some_avg60 = psi.some.avg60;
            out->psi_some_avg300 = psi.some.avg300;
            out->psi_some_total_us = psi.some.total_us;
            out->psi_full_avg10 = psi.full.avg10;
            out->psi_full_avg60 = psi.full.avg60;
            out->psi_full_avg300 = psi.full.avg300;
            out->psi_full_total_us = psi.full.total_us;
            out->valid |= MG_SRC_PSI;
        }
    }

    if (ps->cg_version != 0) {
        if (mg_proc_sampler_cgroup(ps, out) == 0) {
            out->valid |= MG_SRC_CGROUP;
        }
        else {
            out->cgroup_version = 0;
            out->cgroup_limit = out->cgroup_usage = 0;
            out->cgroup_inactive_file = out->cgroup_working_set = 0;
            out->cgroup_oom_kills = 0;
        }
    }

    /* NUMA is valid when every watched node was read: a verdict on some
     * of the nodes could miss the full one. */
    if (ps->nnodes > 0) {
        for (i = 0, k = 0; i < ps->nnodes; i++) {
            n = mg_proc_file_read(&ps->node[i], ps->reopen, ps->buf,
                                  sizeof(ps->buf), 0);
            rc = n < 0 ? (int)n
                       : mg_proc_parse_node_meminfo(ps->buf, (size_t)n,
                                                    ps->node_ids[i],
                                                    &out->nodes[i]);
            mg_proc_note(&ps->node[i], rc);
            if (rc == 0) {
                k++;
            }
        }
        if (k == ps->nnodes) {
            out->nnodes = ps->nnodes;
            out->valid |= MG_SRC_NUMA;
        }
        else {
            memset(out->nodes, 0, sizeof(out->nodes));
        }
    }

    if (with_slabinfo) {
        (void)mg_proc_sampler_read_slab(ps, &ps->slab_last, now_us);
    }
    mg_proc_sample_set_slab(out, &ps->slab_last);
    return 0;
}

void mg_proc_sampler_close(mg_proc_sampler_t *ps)
{
    uint32_t i;

    if (ps == NULL) {
        return;
    }
    mg_proc_file_close(&ps->meminfo);
    mg_proc_file_close(&ps->psi);
    mg_proc_file_close(&ps->cg_limit);
    mg_proc_file_close(&ps->cg_usage);
    mg_proc_file_close(&ps->cg_stat);
    mg_proc_file_close(&ps->cg_oom);
    for (i = 0; i < MG_PROC_CG_ANCESTORS; i++) {
        mg_proc_file_close(&ps->cg_anc_max[i]);
        mg_proc_file_close(&ps->cg_anc_cur[i]);
        mg_proc_file_close(&ps->cg_anc_stat[i]);
    }
    ps->cg_nanc = 0;
    mg_proc_file_close(&ps->slab);
    for (i = 0; i < MG_SAMPLE_MAX_NODES; i++) {
        mg_proc_file_close(&ps->node[i]);
    }
}
