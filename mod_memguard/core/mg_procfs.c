/*
 * mg_procfs.c - see mg_procfs.h. I/O primitives, the number and key
 * parsers, meminfo, zoneinfo, PSI and slabinfo.
 *
 * A little over 800 lines: each parser carries a quoted sample of the
 * file it parses, and they share the strict key and number helpers at
 * the top; split by file, the helpers would have to become public.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mg_procfs.h"

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

uint64_t mg_proc_sat_add(uint64_t a, uint64_t b)
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
