/*
 * memguard-watch - one line per interval with the machine's memory
 * headroom: MemAvailable, Slab, SUnreclaim, the largest slab caches and the
 * fastest-growing ones, PSI, the memory cgroup's usage and limit, and the
 * free memory of each NUMA node. tools/README.md ("memguard-watch")
 * documents the options and both output formats.
 *
 * It is meant to run while the machine is swapping or the memory cgroup is
 * at its limit, when a shell loop around `cat /proc/slabinfo` no longer
 * gets to run (every fork needs memory, every page of the shell's text may
 * have to be read back in). Hence:
 * - every buffer is static, the loop allocates nothing, and the whole
 *   process (including a pre-touched stack) is locked with
 *   mlockall(MCL_CURRENT | MCL_FUTURE), so a sample never waits for a
 *   page fault to be served from disk;
 * - no fork, no exec, no stdio: lines are built in a fixed buffer and
 *   written whole with write(2);
 * - the interval runs to absolute CLOCK_MONOTONIC deadlines, so a slow
 *   sample does not shift the ones after it (missed ticks are skipped);
 * - the output file has a size bound (rotated once to FILE.1) so that a
 *   watcher left running cannot fill the disk it reports about.
 *
 * The reading and parsing is the module's own (mg_proc): what this tool
 * shows is what the sampler inside httpd sees. Only slabinfo is read here
 * rather than through the sampler, because the sampler keeps just the
 * MG_SAMPLE_TOP_CACHES largest caches and growth needs all of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mg_format.h"
#include "mg_log.h"
#include "mg_proc.h"
#include "mg_sample.h"
#include "mg_units.h"

#define MW_PROG "memguard-watch"
#define MW_NAME_LEN 64     /* slab cache names are ~30 chars at most */
#define MW_MAX_CACHES 1024 /* caches whose growth is tracked */
#define MW_HASH_SLOTS 2048 /* power of two, twice MW_MAX_CACHES */
#define MW_TOP_MAX 32      /* --top ceiling */
#define MW_TOP_DEFAULT 5
#define MW_SLAB_BUF (1 << 20) /* slabinfo: 25 KB here, 200 KB on big hosts */
#define MW_LINE_BUF (64 * 1024)
#define MW_INTERVAL_MIN_US 10000ULL
#define MW_INTERVAL_MAX_US (24ULL * 3600 * 1000000)
#define MW_MAX_BYTES_MIN 1024ULL
#define MW_STACK_PREFAULT (256 * 1024)

/* ------------------------------------------------------------------ */
/* state: all of it static, sized at compile time                      */

typedef struct {
    char name[MW_NAME_LEN];
    uint64_t bytes;
} mw_cache_t;

/* One slabinfo read: every cache (up to MW_MAX_CACHES) and a hash of
 * their names, so the next read can find each cache's previous size. */
typedef struct {
    uint32_t n;
    uint16_t slot[MW_HASH_SLOTS]; /* index + 1 into c; 0 = empty */
    mw_cache_t c[MW_MAX_CACHES];
} mw_table_t;

typedef struct {
    char name[MW_NAME_LEN];
    uint64_t bytes;
    uint64_t delta; /* growth lists only */
} mw_rank_t;

typedef struct {
    /* options */
    const char *root;
    uint64_t interval_us;
    uint32_t top;
    int cgroup; /* MG_PROC_CGROUP_* */
    const char *cgroup_path;
    int numa;
    int json;
    int verbose;
    const char *output;
    uint64_t max_bytes;
    uint64_t count; /* 0: until a signal */

    /* slabinfo */
    char slab_path[MG_PROC_PATH_MAX];
    int slab_fd;
    int slab_reopen;
    int slab_last_rc; /* state changes are reported once */
    int slab_valid;   /* this line has slab data */
    int slab_base;    /* the previous line had slab data: growth valid */
    uint32_t slab_ignored;
    int slab_ignored_noted;
    int cur; /* index of the current table */

    /* output */
    int out_fd;
    char out_path1[MG_PROC_PATH_MAX + 2];
    uint64_t out_size;
    int out_state; /* 0 writing; else the errno that stopped it */
    int out_drop_noted;
} mw_t;

static mw_t mw;
static mg_proc_sampler_t mw_ps;
static mg_sample_t mw_s;
static mw_table_t mw_tab[2];
static mw_rank_t mw_top[MW_TOP_MAX], mw_grow[MW_TOP_MAX];
static uint32_t mw_ntop, mw_ngrow;
static char mw_slab_buf[MW_SLAB_BUF];
static char mw_line[MW_LINE_BUF];
static volatile sig_atomic_t mw_stop;

/* ------------------------------------------------------------------ */
/* messages: stderr, write(2), one line each                           */

static void mw_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void mw_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void mw_say(const char *fmt, ...)
{
    char buf[1024];
    size_t n = sizeof(MW_PROG ": ") - 1;
    va_list ap;
    int r;

    memcpy(buf, MW_PROG ": ", n);
    va_start(ap, fmt);
    r = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
    va_end(ap);
    if (r < 0) {
        return;
    }
    n += (size_t)r < sizeof(buf) - n - 1 ? (size_t)r : sizeof(buf) - n - 2;
    buf[n++] = '\n';
    mw_write_all(2, buf, n);
}

/* The core logs through this sink: state changes of its sources ("cannot
 * use .../meminfo: malformed", "readable again") once each. INFO (PSI off,
 * which cgroup was found) only with --verbose. */
static void mw_log_sink(void *baton, int level, const char *msg)
{
    (void)baton;
    if (level <= MG_LOG_NOTICE || mw.verbose) {
        mw_say("%s", msg);
    }
}

static void mw_on_signal(int sig)
{
    (void)sig;
    mw_stop = 1;
}

/* ------------------------------------------------------------------ */
/* slab caches: all of them, top N by size and by growth               */

static uint32_t mw_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    while (*s) {
        h = (h ^ (uint8_t)*s++) * 16777619u;
    }
    return h;
}

/* Index of name in t, or -1. */
static int mw_table_find(const mw_table_t *t, const char *name)
{
    uint32_t i = mw_hash(name) & (MW_HASH_SLOTS - 1);

    while (t->slot[i] != 0) {
        const mw_cache_t *c = &t->c[t->slot[i] - 1];
        if (strcmp(c->name, name) == 0) {
            return t->slot[i] - 1;
        }
        i = (i + 1) & (MW_HASH_SLOTS - 1);
    }
    return -1;
}

/* Add bytes to name's entry (a name seen twice is summed); 0, or -1 when
 * the table is full. */
static int mw_table_add(mw_table_t *t, const char *name, uint64_t bytes)
{
    uint32_t i = mw_hash(name) & (MW_HASH_SLOTS - 1);
    mw_cache_t *c;

    while (t->slot[i] != 0) {
        c = &t->c[t->slot[i] - 1];
        if (strcmp(c->name, name) == 0) {
            c->bytes =
                c->bytes > UINT64_MAX - bytes ? UINT64_MAX : c->bytes + bytes;
            return 0;
        }
        i = (i + 1) & (MW_HASH_SLOTS - 1);
    }
    if (t->n >= MW_MAX_CACHES) {
        return -1;
    }
    c = &t->c[t->n];
    memcpy(c->name, name, strlen(name) + 1);
    c->bytes = bytes;
    t->slot[i] = (uint16_t)(++t->n);
    return 0;
}

/* Keep r[0..*n) sorted by key, largest first, at most max entries; equal
 * keys keep the order they came in (slabinfo order). */
static void mw_rank_insert(mw_rank_t *r, uint32_t *n, uint32_t max,
                           const char *name, uint64_t bytes, uint64_t delta,
                           int by_delta)
{
    uint64_t key = by_delta ? delta : bytes;
    uint32_t pos = *n;

    while (pos > 0 && (by_delta ? r[pos - 1].delta : r[pos - 1].bytes) < key) {
        pos--;
    }
    if (pos >= max) {
        return;
    }
    if (*n < max) {
        (*n)++;
    }
    memmove(&r[pos + 1], &r[pos], (size_t)(*n - 1 - pos) * sizeof(*r));
    memcpy(r[pos].name, name, strlen(name) + 1);
    r[pos].bytes = bytes;
    r[pos].delta = delta;
}

static int mw_slab_cb(void *baton, const mg_proc_slab_t *c)
{
    mw_table_t *t = baton;
    char name[MW_NAME_LEN];
    size_t n = c->name_len < MW_NAME_LEN - 1 ? c->name_len : MW_NAME_LEN - 1;
    uint64_t bytes = mg_proc_slab_bytes(c);

    memcpy(name, c->name, n);
    name[n] = '\0';
    /* A cache past the table is still ranked by size (here: the table's
     * caches are ranked after the parse); only its growth is not tracked. */
    if (mw_table_add(t, name, bytes) < 0) {
        mw.slab_ignored++;
        mw_rank_insert(mw_top, &mw_ntop, mw.top, name, bytes, 0, 0);
    }
    return 0;
}

static const char *mw_strerr(int rc)
{
    return rc == -EBADMSG           ? "malformed or truncated"
           : rc == -EFBIG           ? "larger than the buffer"
           : rc == -EPROTONOSUPPORT ? "unsupported slabinfo version"
                                    : strerror(-rc);
}

static void mw_slab_note(int rc)
{
    if (rc == mw.slab_last_rc) {
        return;
    }
    if (rc == -EACCES || rc == -EPERM) {
        mw_say("cannot read %s: %s (it is readable by root only): slab "
               "caches are not shown (top=n/a); carrying on",
               mw.slab_path, strerror(-rc));
    }
    else if (rc < 0) {
        mw_say("cannot use %s: %s: slab caches are not shown (top=n/a); "
               "carrying on",
               mw.slab_path, mw_strerr(rc));
    }
    else {
        mw_say("%s readable again", mw.slab_path);
    }
    mw.slab_last_rc = rc;
}

static int mw_slab_open(void)
{
    int fd;

    do {
        fd = open(mw.slab_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return -errno;
    }
    if (mw.slab_fd >= 0) {
        close(mw.slab_fd);
    }
    mw.slab_fd = fd;
    return 0;
}

/* Read and parse slabinfo into the current table, then rank. As in the
 * sampler: the fd opened at start is kept (slabinfo is mode 0400, opened
 * while we may still be root); a fixture root is re-opened on every read
 * so a test can rename a new file over the old one. */
static void mw_slab_sample(void)
{
    mw_table_t *t = &mw_tab[mw.cur], *prev = &mw_tab[mw.cur ^ 1];
    ssize_t n = 0;
    uint32_t i;
    int rc = 0;

    t->n = 0;
    memset(t->slot, 0, sizeof(t->slot));
    mw.slab_ignored = 0;
    mw_ntop = mw_ngrow = 0;
    if (mw.slab_reopen || mw.slab_fd < 0) {
        rc = mw_slab_open();
        if (rc < 0 && !(mw.slab_fd >= 0 && (rc == -EACCES || rc == -EPERM))) {
            if (mw.slab_fd >= 0) {
                close(mw.slab_fd);
                mw.slab_fd = -1;
            }
        }
        else {
            rc = 0;
        }
    }
    if (rc == 0) {
        n = mg_proc_read_seq(mw.slab_fd, mw_slab_buf, sizeof(mw_slab_buf));
        rc = n < 0 ? (int)n
                   : mg_proc_parse_slabinfo(mw_slab_buf, (size_t)n, mw_slab_cb,
                                            t);
    }
    mw_slab_note(rc);
    if (rc < 0) {
        mw.slab_valid = mw.slab_base = 0;
        return;
    }
    if (mw.slab_ignored > 0 && !mw.slab_ignored_noted) {
        mw_say("more than %d slab caches: the growth of %u of them is not "
               "tracked",
               MW_MAX_CACHES, (unsigned)mw.slab_ignored);
        mw.slab_ignored_noted = 1;
    }
    for (i = 0; i < t->n; i++) {
        const mw_cache_t *c = &t->c[i];
        mw_rank_insert(mw_top, &mw_ntop, mw.top, c->name, c->bytes, 0, 0);
        if (mw.slab_valid) {
            int j = mw_table_find(prev, c->name);
            uint64_t before = j < 0 ? 0 : prev->c[j].bytes;
            if (c->bytes > before) {
                mw_rank_insert(mw_grow, &mw_ngrow, mw.top, c->name, c->bytes,
                               c->bytes - before, 1);
            }
        }
    }
    mw.slab_base = mw.slab_valid;
    mw.slab_valid = 1;
    mw.cur ^= 1;
}

/* ------------------------------------------------------------------ */
/* formatting                                                          */

typedef struct {
    char *b;
    size_t n, cap;
    int over;
} mw_buf_t;

static void mw_put(mw_buf_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void mw_put(mw_buf_t *o, const char *fmt, ...)
{
    va_list ap;
    int r;

    if (o->over) {
        return;
    }
    va_start(ap, fmt);
    r = vsnprintf(o->b + o->n, o->cap - o->n, fmt, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= o->cap - o->n) {
        o->over = 1;
        return;
    }
    o->n += (size_t)r;
}

/* "23.2GiB", "512B": the core's format without its space, so that a text
 * line splits on spaces. */
static const char *mw_size(uint64_t v, char *buf)
{
    char tmp[24];
    size_t i, j = 0;

    mg_units_format_size(v, tmp, sizeof(tmp));
    for (i = 0; tmp[i] != '\0'; i++) {
        if (tmp[i] != ' ') {
            buf[j++] = tmp[i];
        }
    }
    buf[j] = '\0';
    return buf;
}

/* A cache name in a text line: the separators of the format (space , : =)
 * and anything unprintable become '?'. */
static void mw_put_name_text(mw_buf_t *o, const char *s)
{
    char tmp[MW_NAME_LEN];
    size_t i;

    for (i = 0; i < sizeof(tmp) - 1 && s[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)s[i];
        tmp[i] = (ch <= ' ' || ch >= 127 || ch == ',' || ch == ':' || ch == '=')
                     ? '?'
                     : (char)ch;
    }
    tmp[i] = '\0';
    mw_put(o, "%s", tmp);
}

/* A cache name as a JSON string, through the core's escaper (the one the
 * status page uses). Six bytes per input byte is the escaper's worst case
 * (\u00XX), so the whole name always fits. */
static void mw_put_name_json(mw_buf_t *o, const char *s)
{
    char tmp[MW_NAME_LEN * 6 + 1];

    mg_format_json(tmp, sizeof(tmp), s, strnlen(s, MW_NAME_LEN));
    mw_put(o, "\"%s\"", tmp);
}

/* Civil date from a Unix time, without gmtime_r (which may take locks and
 * consult the time zone files): Howard Hinnant's days_from_civil, inverted. */
static void mw_put_time(mw_buf_t *o, const struct timespec *ts)
{
    int64_t secs = (int64_t)ts->tv_sec;
    int64_t days = secs / 86400, rem = secs % 86400;
    int64_t z, era, doe, yoe, y, doy, mp, d, m;

    if (rem < 0) {
        rem += 86400;
        days--;
    }
    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    mw_put(o, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03ldZ", (long long)y,
           (long long)m, (long long)d, (long long)(rem / 3600),
           (long long)(rem / 60 % 60), (long long)(rem % 60),
           (long)(ts->tv_nsec / 1000000));
}

static void mw_format_text(mw_buf_t *o, const struct timespec *now)
{
    const mg_sample_t *s = &mw_s;
    char a[24], b[24];
    uint32_t i;

    mw_put_time(o, now);
    if (s->valid & MG_SRC_MEMINFO) {
        mw_put(o, " avail=%s%s", s->mem_available_estimated ? "~" : "",
               mw_size(s->mem_available, a));
        mw_put(o, " slab=%s", mw_size(s->slab, a));
        mw_put(o, " sunreclaim=%s", mw_size(s->sunreclaim, a));
    }
    else {
        mw_put(o, " avail=n/a slab=n/a sunreclaim=n/a");
    }
    if (s->valid & MG_SRC_PSI) {
        mw_put(o, " psi_some10=%u.%02u psi_full10=%u.%02u",
               (unsigned)(s->psi_some_avg10 / 100),
               (unsigned)(s->psi_some_avg10 % 100),
               (unsigned)(s->psi_full_avg10 / 100),
               (unsigned)(s->psi_full_avg10 % 100));
    }
    else {
        mw_put(o, " psi_some10=n/a psi_full10=n/a");
    }
    if (mw.cgroup == MG_PROC_CGROUP_OFF) {
        mw_put(o, " cg=off");
    }
    else if (s->valid & MG_SRC_CGROUP) {
        mw_put(o, " cg=%s/%s", mw_size(s->cgroup_usage, a),
               s->cgroup_limit == UINT64_MAX ? "unlimited"
                                             : mw_size(s->cgroup_limit, b));
    }
    else {
        mw_put(o, " cg=n/a");
    }
    if (!mw.numa) {
        mw_put(o, " node_free=off");
    }
    else if (s->valid & MG_SRC_NUMA) {
        mw_put(o, " node_free=");
        for (i = 0; i < s->nnodes; i++) {
            mw_put(o, "%s%d:%s", i ? "," : "", (int)s->nodes[i].node,
                   mw_size(s->nodes[i].free, a));
        }
    }
    else {
        mw_put(o, " node_free=n/a");
    }
    if (!mw.slab_valid) {
        mw_put(o, " top=n/a grow=n/a");
        return;
    }
    mw_put(o, " top=");
    for (i = 0; i < mw_ntop; i++) {
        mw_put(o, "%s", i ? "," : "");
        mw_put_name_text(o, mw_top[i].name);
        mw_put(o, ":%s", mw_size(mw_top[i].bytes, a));
    }
    if (mw_ntop == 0) {
        mw_put(o, "none");
    }
    if (!mw.slab_base) {
        mw_put(o, " grow=n/a");
        return;
    }
    mw_put(o, " grow=");
    for (i = 0; i < mw_ngrow; i++) {
        mw_put(o, "%s", i ? "," : "");
        mw_put_name_text(o, mw_grow[i].name);
        mw_put(o, ":+%s", mw_size(mw_grow[i].delta, a));
    }
    if (mw_ngrow == 0) {
        mw_put(o, "none");
    }
}

static void mw_put_u64(mw_buf_t *o, const char *key, int ok, uint64_t v)
{
    if (ok) {
        mw_put(o, ",\"%s\":%llu", key, (unsigned long long)v);
    }
    else {
        mw_put(o, ",\"%s\":null", key);
    }
}

static void mw_put_pct(mw_buf_t *o, const char *key, int ok, uint32_t v)
{
    if (ok) {
        mw_put(o, ",\"%s\":%u.%02u", key, (unsigned)(v / 100),
               (unsigned)(v % 100));
    }
    else {
        mw_put(o, ",\"%s\":null", key);
    }
}

static void mw_format_json(mw_buf_t *o, const struct timespec *now)
{
    const mg_sample_t *s = &mw_s;
    int mi = (s->valid & MG_SRC_MEMINFO) != 0;
    int psi = (s->valid & MG_SRC_PSI) != 0;
    int cg = (s->valid & MG_SRC_CGROUP) != 0;
    int unl = cg && s->cgroup_limit == UINT64_MAX;
    uint32_t i;

    mw_put(o, "{\"time\":\"");
    mw_put_time(o, now);
    mw_put(o, "\",\"seq\":%u", (unsigned)s->seq);
    mw_put_u64(o, "mem_total", mi, s->mem_total);
    mw_put_u64(o, "mem_free", mi, s->mem_free);
    mw_put_u64(o, "mem_available", mi, s->mem_available);
    mw_put(o, ",\"mem_available_estimated\":%s",
           !mi                          ? "null"
           : s->mem_available_estimated ? "true"
                                        : "false");
    mw_put_u64(o, "slab", mi, s->slab);
    mw_put_u64(o, "sreclaimable", mi, s->sreclaimable);
    mw_put_u64(o, "sunreclaim", mi, s->sunreclaim);
    mw_put_u64(o, "swap_total", mi, s->swap_total);
    mw_put_u64(o, "swap_free", mi, s->swap_free);
    mw_put_pct(o, "psi_some_avg10", psi, s->psi_some_avg10);
    mw_put_pct(o, "psi_some_avg60", psi, s->psi_some_avg60);
    mw_put_pct(o, "psi_some_avg300", psi, s->psi_some_avg300);
    mw_put_u64(o, "psi_some_total_us", psi, s->psi_some_total_us);
    mw_put_pct(o, "psi_full_avg10", psi, s->psi_full_avg10);
    mw_put_pct(o, "psi_full_avg60", psi, s->psi_full_avg60);
    mw_put_pct(o, "psi_full_avg300", psi, s->psi_full_avg300);
    mw_put_u64(o, "psi_full_total_us", psi, s->psi_full_total_us);
    mw_put_u64(o, "cg_version", cg, s->cgroup_version);
    mw_put_u64(o, "cg_usage", cg, s->cgroup_usage);
    mw_put_u64(o, "cg_limit", cg && !unl, s->cgroup_limit);
    mw_put(o, ",\"cg_unlimited\":%s", !cg ? "null" : unl ? "true" : "false");
    mw_put_u64(o, "cg_working_set", cg, s->cgroup_working_set);
    mw_put_u64(o, "cg_oom_kills", cg, s->cgroup_oom_kills);
    if (s->valid & MG_SRC_NUMA) {
        mw_put(o, ",\"nodes\":[");
        for (i = 0; i < s->nnodes; i++) {
            const mg_sample_node_t *n = &s->nodes[i];
            mw_put(o,
                   "%s{\"node\":%d,\"total\":%llu,\"free\":%llu,"
                   "\"available\":%llu}",
                   i ? "," : "", (int)n->node, (unsigned long long)n->total,
                   (unsigned long long)n->free,
                   (unsigned long long)n->available);
        }
        mw_put(o, "]");
    }
    else {
        mw_put(o, ",\"nodes\":null");
    }
    if (mw.slab_valid) {
        mw_put(o, ",\"top\":[");
        for (i = 0; i < mw_ntop; i++) {
            mw_put(o, "%s{\"name\":", i ? "," : "");
            mw_put_name_json(o, mw_top[i].name);
            mw_put(o, ",\"bytes\":%llu}", (unsigned long long)mw_top[i].bytes);
        }
        mw_put(o, "]");
    }
    else {
        mw_put(o, ",\"top\":null");
    }
    if (mw.slab_valid && mw.slab_base) {
        mw_put(o, ",\"grow\":[");
        for (i = 0; i < mw_ngrow; i++) {
            mw_put(o, "%s{\"name\":", i ? "," : "");
            mw_put_name_json(o, mw_grow[i].name);
            mw_put(o, ",\"delta\":%llu,\"bytes\":%llu}",
                   (unsigned long long)mw_grow[i].delta,
                   (unsigned long long)mw_grow[i].bytes);
        }
        mw_put(o, "]");
    }
    else {
        mw_put(o, ",\"grow\":null");
    }
    mw_put(o, "}");
}

/* ------------------------------------------------------------------ */
/* output: stdout, or a file bounded by --max-bytes                    */

static int mw_out_open(int trunc)
{
    struct stat st;
    int fd;

    do {
        fd = open(mw.output,
                  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY |
                      (trunc ? O_TRUNC : 0),
                  0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (mw.out_fd >= 0) {
        close(mw.out_fd);
    }
    mw.out_fd = fd;
    mw.out_size = (uint64_t)st.st_size;
    return 0;
}

/* The output stopped (rc < 0) or works again (0): say so once per change.
 * The watcher keeps sampling either way; it never exits because its
 * output is full. */
static void mw_out_note(int rc, const char *what)
{
    if (rc == mw.out_state) {
        return;
    }
    if (rc < 0) {
        mw_say("%s %s: %s: lines are dropped until it works again; still "
               "running",
               what, mw.output, strerror(-rc));
    }
    else {
        mw_say("writing to %s again", mw.output);
    }
    mw.out_state = rc;
}

/* FILE is full: FILE -> FILE.1 (replacing the previous FILE.1), new FILE.
 * rename(2), no fork: no logrotate, no gzip. */
static int mw_out_rotate(void)
{
    int rc;

    if (rename(mw.output, mw.out_path1) < 0 && errno != ENOENT) {
        rc = -errno;
        mw_out_note(rc, "cannot rotate");
        return rc;
    }
    rc = mw_out_open(1);
    if (rc < 0) {
        mw_out_note(rc, "cannot reopen");
    }
    return rc;
}

/* 0, or -1 when the line could not be written to stdout (the reader went
 * away): the caller exits. */
static int mw_out_line(const char *line, size_t len)
{
    const char *p = line;
    size_t left = len;

    if (mw.output == NULL) {
        while (left > 0) {
            ssize_t w = write(1, p, left);
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                if (w < 0 && errno != EPIPE) {
                    mw_say("cannot write to stdout: %s", strerror(errno));
                }
                return -1;
            }
            p += w;
            left -= (size_t)w;
        }
        return 0;
    }
    if (mw.max_bytes > 0 && len > mw.max_bytes) {
        if (!mw.out_drop_noted) {
            mw_say("a line of %zu bytes does not fit in --max-bytes %llu: "
                   "dropped (noted once)",
                   len, (unsigned long long)mw.max_bytes);
            mw.out_drop_noted = 1;
        }
        return 0;
    }
    if (mw.out_fd < 0) {
        int rc = mw_out_open(0);
        if (rc < 0) {
            mw_out_note(rc, "cannot reopen");
            return 0;
        }
    }
    if (mw.max_bytes > 0 && mw.out_size + len > mw.max_bytes &&
        mw_out_rotate() < 0) {
        return 0;
    }
    while (left > 0) {
        ssize_t w = write(mw.out_fd, p, left);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            int rc = w < 0 ? -errno : -ENOSPC;
            /* Never leave half a line: cut back to the last whole one. */
            if (ftruncate(mw.out_fd, (off_t)mw.out_size) < 0) {
                mw.out_size += len - left;
            }
            mw_out_note(rc, "cannot write to");
            return 0;
        }
        p += w;
        left -= (size_t)w;
    }
    mw.out_size += len;
    mw_out_note(0, "");
    return 0;
}

/* ------------------------------------------------------------------ */
/* start-up                                                            */

static const char mw_usage[] =
    "usage: " MW_PROG " [options]\n"
    "Every interval, one line (or one JSON object) with MemAvailable, Slab,\n"
    "SUnreclaim, PSI, the memory cgroup, per-node free memory and the top\n"
    "slab caches by size and by growth since the previous line.\n"
    "\n"
    "  -i, --interval DUR   time between lines (10ms .. 24h; default 1s;\n"
    "                       a bare number is seconds)\n"
    "  -n, --top N          slab caches per list (1..32; default 5)\n"
    "  -r, --root PATH      read PATH/proc and PATH/sys (default /)\n"
    "      --cgroup auto|off|DIR  memory cgroup: this process's own (auto,\n"
    "                       default), none, or DIR relative to the root,\n"
    "                       e.g. /sys/fs/cgroup/system.slice/httpd.service\n"
    "      --numa auto|off  per-node free memory (default auto)\n"
    "  -j, --json           one JSON object per line\n"
    "  -o, --output FILE    append to FILE instead of stdout\n"
    "  -m, --max-bytes SIZE bound FILE: when the next line would pass SIZE,\n"
    "                       FILE is renamed to FILE.1 and started again\n"
    "  -1, --once           one line, then exit (same as --count 1)\n"
    "  -c, --count N        N lines, then exit\n"
    "  -v, --verbose        also report which sources were found\n"
    "  -h, --help           this text\n"
    "Exit status: 0 done (or SIGTERM/SIGINT), 1 cannot start (output file,\n"
    "root), 2 usage error.\n";

static void mw_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void mw_usage_error(const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    mw_say("%s (try --help)", buf);
    exit(2);
}

static uint64_t mw_parse_count(const char *opt, const char *s, uint64_t lo,
                               uint64_t hi)
{
    const char *p = s;
    uint64_t v;

    if (mg_proc_parse_u64(&p, s + strlen(s), &v) < 0 || *p != '\0' || v < lo ||
        v > hi) {
        mw_usage_error("%s: '%s' is not a number in %llu..%llu", opt, s,
                       (unsigned long long)lo, (unsigned long long)hi);
    }
    return v;
}

static void mw_options(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"interval", required_argument, NULL, 'i'},
        {"top", required_argument, NULL, 'n'},
        {"root", required_argument, NULL, 'r'},
        {"cgroup", required_argument, NULL, 'C'},
        {"numa", required_argument, NULL, 'N'},
        {"json", no_argument, NULL, 'j'},
        {"output", required_argument, NULL, 'o'},
        {"max-bytes", required_argument, NULL, 'm'},
        {"once", no_argument, NULL, '1'},
        {"count", required_argument, NULL, 'c'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch, rc;

    mw.root = "/";
    mw.interval_us = 1000000;
    mw.top = MW_TOP_DEFAULT;
    mw.cgroup = MG_PROC_CGROUP_AUTO;
    mw.numa = 1;
    opterr = 0; /* one message, ours */
    while ((ch = getopt_long(argc, argv, "i:n:r:jo:m:1c:vh", longopts, NULL)) !=
           -1) {
        switch (ch) {
        case 'i':
            rc = mg_units_parse_duration(optarg, &mw.interval_us);
            if (rc < 0 || mw.interval_us < MW_INTERVAL_MIN_US ||
                mw.interval_us > MW_INTERVAL_MAX_US) {
                mw_usage_error("--interval: '%s' is not a duration in "
                               "10ms..24h",
                               optarg);
            }
            break;
        case 'n':
            mw.top = (uint32_t)mw_parse_count("--top", optarg, 1, MW_TOP_MAX);
            break;
        case 'r':
            if (optarg[0] == '\0' || strlen(optarg) > 256) {
                mw_usage_error("--root: '%s' is empty or too long", optarg);
            }
            mw.root = optarg;
            break;
        case 'C':
            if (strcmp(optarg, "auto") == 0) {
                mw.cgroup = MG_PROC_CGROUP_AUTO;
            }
            else if (strcmp(optarg, "off") == 0) {
                mw.cgroup = MG_PROC_CGROUP_OFF;
            }
            else if (optarg[0] == '/' && strlen(optarg) < 256) {
                mw.cgroup = MG_PROC_CGROUP_PATH;
                mw.cgroup_path = optarg;
            }
            else {
                mw_usage_error("--cgroup: '%s' is not auto, off or an "
                               "absolute directory",
                               optarg);
            }
            break;
        case 'N':
            if (strcmp(optarg, "auto") == 0) {
                mw.numa = 1;
            }
            else if (strcmp(optarg, "off") == 0) {
                mw.numa = 0;
            }
            else {
                mw_usage_error("--numa: '%s' is not auto or off", optarg);
            }
            break;
        case 'j':
            mw.json = 1;
            break;
        case 'o':
            if (optarg[0] == '\0' || strlen(optarg) >= MG_PROC_PATH_MAX) {
                mw_usage_error("--output: '%s' is empty or too long", optarg);
            }
            mw.output = optarg;
            break;
        case 'm':
            rc = mg_units_parse_size(optarg, &mw.max_bytes);
            if (rc < 0 || mw.max_bytes < MW_MAX_BYTES_MIN) {
                mw_usage_error("--max-bytes: '%s' is not a size of at least "
                               "1K",
                               optarg);
            }
            break;
        case '1':
            mw.count = 1;
            break;
        case 'c':
            mw.count = mw_parse_count("--count", optarg, 1, UINT64_MAX);
            break;
        case 'v':
            mw.verbose = 1;
            break;
        case 'h':
            mw_write_all(1, mw_usage, sizeof(mw_usage) - 1);
            exit(0);
        default:
            mw_usage_error("unknown option or missing value: '%s'",
                           argv[optind - 1]);
        }
    }
    if (optind < argc) {
        mw_usage_error("unexpected argument '%s'", argv[optind]);
    }
    if (mw.max_bytes > 0 && mw.output == NULL) {
        mw_usage_error("--max-bytes needs --output");
    }
}

/* Touch the stack this process will use, so that mlockall(MCL_CURRENT)
 * locks it and no sample has to fault in a stack page. */
static void __attribute__((noinline)) mw_prefault_stack(void)
{
    volatile char pad[MW_STACK_PREFAULT];
    size_t i;

    for (i = 0; i < sizeof(pad); i += 4096) {
        pad[i] = 0;
    }
}

static int mw_start(void)
{
    mg_proc_sampler_conf_t conf;
    mg_proc_cgroup_loc_t loc;
    struct stat st;
    int rc;

    if (stat(mw.root, &st) < 0 || !S_ISDIR(st.st_mode)) {
        mw_say("--root %s: not a directory", mw.root);
        return -1;
    }
    if (mw.output != NULL) {
        int n = snprintf(mw.out_path1, sizeof(mw.out_path1), "%s.1", mw.output);
        if (n < 0 || (size_t)n >= sizeof(mw.out_path1)) {
            mw_say("--output %s: name too long", mw.output);
            return -1;
        }
        if ((rc = mw_out_open(0)) < 0) {
            mw_say("cannot open %s: %s", mw.output, strerror(-rc));
            return -1;
        }
    }

    memset(&conf, 0, sizeof(conf));
    conf.cgroup = mw.cgroup;
    conf.cgroup_path = mw.cgroup_path;
    conf.numa = mw.numa;
    conf.reopen = -1;
    /* "auto" is located here rather than by the sampler: the sampler's
     * 8 KB scratch buffer is too small for the mountinfo of a container
     * host, and without a slab buffer of its own it has no bigger one. */
    if (mw.cgroup == MG_PROC_CGROUP_AUTO) {
        rc = mg_proc_cgroup_locate(mw.root, mw_slab_buf, sizeof(mw_slab_buf),
                                   &loc);
        if (rc == 0) {
            conf.cgroup = MG_PROC_CGROUP_PATH;
            conf.cgroup_path = loc.dir;
        }
        else {
            if (mw.verbose) {
                mw_say("no memory cgroup found under %s (%s)", mw.root,
                       strerror(-rc));
            }
            conf.cgroup = MG_PROC_CGROUP_OFF;
        }
    }
    rc = mg_proc_sampler_open(&mw_ps, mw.root, &conf);
    if (rc < 0) {
        mw_say("cannot read under %s: %s", mw.root, strerror(-rc));
        return -1;
    }

    /* slabinfo is mode 0400: opened now, kept open, re-read with lseek. */
    mw.slab_fd = -1;
    mw.slab_reopen = strcmp(mw.root, "/") != 0;
    if ((rc = mg_proc_path(mw.slab_path, sizeof(mw.slab_path), mw.root,
                           "proc/slabinfo")) < 0) {
        mw_say("--root %s: name too long", mw.root);
        return -1;
    }
    (void)mw_slab_open();
    return 0;
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    struct timespec next, now, wall;
    uint64_t lines = 0;

    mw.out_fd = -1;
    mw_options(argc, argv);
    mg_log_set(mw_log_sink, NULL);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = mw_on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: the sleep returns EINTR and the loop sees mw_stop. */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    if (mw_start() < 0) {
        return 1;
    }
    mw_prefault_stack();
    if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0) {
        mw_say("mlockall: %s (needs root or CAP_IPC_LOCK and a large enough "
               "RLIMIT_MEMLOCK): running unlocked, so samples may stall "
               "when memory is short",
               strerror(errno));
    }

    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!mw_stop) {
        mw_buf_t o = {mw_line, 0, sizeof(mw_line) - 1, 0};
        uint64_t now_us;

        clock_gettime(CLOCK_MONOTONIC, &now);
        clock_gettime(CLOCK_REALTIME, &wall);
        now_us = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
        (void)mg_proc_sampler_read(&mw_ps, &mw_s, 0, now_us);
        mw_slab_sample();
        if (mw.json) {
            mw_format_json(&o, &wall);
        }
        else {
            mw_format_text(&o, &wall);
        }
        if (o.over) {
            /* Cannot happen with 64 KB (32 + 32 names of 63 chars); if it
             * did, a cut line would be unparseable: say so instead. */
            o.n = (size_t)snprintf(mw_line, sizeof(mw_line),
                                   mw.json ? "{\"error\":\"line too long\"}"
                                           : "line too long");
        }
        mw_line[o.n++] = '\n';
        if (mw_out_line(mw_line, o.n) < 0) {
            mg_proc_sampler_close(&mw_ps);
            return 1;
        }
        if (mw.count > 0 && ++lines >= mw.count) {
            break;
        }

        /* Next deadline; ticks missed by a slow sample (a stalled read
         * under pressure) are skipped, not caught up in a burst. */
        next.tv_sec += (time_t)(mw.interval_us / 1000000);
        next.tv_nsec += (long)(mw.interval_us % 1000000) * 1000;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        while (now.tv_sec > next.tv_sec ||
               (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)) {
            next.tv_sec += (time_t)(mw.interval_us / 1000000);
            next.tv_nsec += (long)(mw.interval_us % 1000000) * 1000;
            if (next.tv_nsec >= 1000000000L) {
                next.tv_sec++;
                next.tv_nsec -= 1000000000L;
            }
        }
        while (!mw_stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
                                           &next, NULL) == EINTR) {
        }
    }
    mg_proc_sampler_close(&mw_ps);
    if (mw.slab_fd >= 0) {
        close(mw.slab_fd);
    }
    if (mw.out_fd >= 0) {
        close(mw.out_fd);
    }
    return 0;
}
