/*
 * test_mg_proc.c - meminfo, PSI, slabinfo, per-process files, the I/O
 * primitives and the sampler's aggregate reader over fixture trees.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mg_log.h"
#include "mg_proc.h"
#include "mg_test.h"

#define KB 1024ULL
#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- log */

static int log_count;
static char log_last[512];
static char log_all[8192]; /* every message since the last clear, one a line */

static void log_sink(void *baton, int level, const char *msg)
{
    size_t n = strlen(log_all);

    (void)baton;
    (void)level;
    log_count++;
    snprintf(log_last, sizeof(log_last), "%s", msg);
    snprintf(log_all + n, sizeof(log_all) - n, "%s\n", msg);
}

/* ---------------------------------------------------------------- keyed */

typedef struct {
    uint64_t a, b;
} kv_out_t;

static void test_keyed(void **state)
{
    static const mg_proc_key_t keys[] = {{"A", offsetof(kv_out_t, a)},
                                         {"B(x)", offsetof(kv_out_t, b)}};
    static const struct {
        int style;
        const char *in;
        int rc;
        uint32_t found;
        uint64_t a, b;
    } cases[] = {
        {MG_PROC_KV_COLON, "A:   1 kB\nB(x): 2\n", 0, 3, 1024, 2},
        {MG_PROC_KV_COLON, "Z: 5 kB\nA: 7\n", 0, 1, 7, 0},
        {MG_PROC_KV_SPACE, "A 1\nB(x) 2\n", 0, 3, 1, 2},
        {MG_PROC_KV_NODE, "Node 3 A:    1 kB\n", 0, 1, 1024, 0},
        /* lines of shapes we do not know are skipped, wanted keys read */
        {MG_PROC_KV_COLON, "\n", 0, 0, 0, 0},
        {MG_PROC_KV_COLON, ": 1\n", 0, 0, 0, 0},
        {MG_PROC_KV_COLON,
         "A: 1 kB\nNew Thing (x): 1 2 3\nZ: off\n\n# note\nQ:\t\tx\nB(x): 2\n",
         0, 3, 1024, 2},
        {MG_PROC_KV_COLON, "Z: 18446744073709551616\nA: 7\n", 0, 1, 7, 0},
        {MG_PROC_KV_COLON, "AA: 1 MB\nA: 7\nB(x)y: 9 9\n", 0, 1, 7, 0},
        {MG_PROC_KV_SPACE,
         "A 1\nnuma_stat N0=1 N1=2\nflag: on\nlonely\nB(x) 2\n", 0, 3, 1, 2},
        {MG_PROC_KV_NODE,
         "Node 3 A: 1 kB\nA: 5 kB\nNode x A: 1\nNode 3 New: n/a\n"
         "Node 2 Other: 5 kB\nsomething\n",
         0, 1, 1024, 0},
        /* hostile: a wanted key's line must be exact */
        {MG_PROC_KV_COLON, "", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_COLON, "A: 1 kB", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_COLON, "A: 1 k\n", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_COLON, "A: 1 kB \n", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_COLON, "A:1 kB\n", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_COLON, "A:\t1 kB\n", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_COLON, "A: \n", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_COLON, "A: -1\n", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_COLON, "A: 0x10\n", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_COLON, "A 1\n", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_COLON, "A\t: 1\n", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_COLON, "B(x): 2 2\nA: 1\n", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_COLON, "A: 1\r\n", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_COLON, "A: 1\nA: 2\n", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_COLON, "A: 18014398509481984 kB\n", -EOVERFLOW, 0, 0, 0},
        {MG_PROC_KV_COLON, "A: 18014398509481983 kB\n", 0, 1,
         18014398509481983ULL * 1024, 0},
        {MG_PROC_KV_COLON, "A: 18446744073709551616\n", -EOVERFLOW, 0, 0, 0},
        {MG_PROC_KV_SPACE, "A  1\n", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_SPACE, "A 1 kB\n", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_SPACE, "A:1\n", -EBADMSG, 0, 0, 0},
        /* a wanted key on another node's line */
        {MG_PROC_KV_NODE, "Node 2 A:    1 kB\n", -EBADMSG, 0, 0, 0},
        {MG_PROC_KV_NODE, "Node 3 A:1 kB\n", -EBADMSG, 0, 0, 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        kv_out_t o = {0, 0};
        uint32_t found = 0;
        int rc = mg_proc_parse_keyed(cases[i].in, strlen(cases[i].in),
                                     cases[i].style, 3, keys, 2, &o, &found);
        if (rc != cases[i].rc ||
            (rc == 0 && (found != cases[i].found || o.a != cases[i].a ||
                         o.b != cases[i].b))) {
            fail_msg("keyed case %zu '%s': rc %d found %u a %llu b %llu", i,
                     cases[i].in, rc, found, (unsigned long long)o.a,
                     (unsigned long long)o.b);
        }
    }
    /* a NUL inside the buffer is garbage, not an end of text */
    {
        kv_out_t o;
        assert_int_equal(mg_proc_parse_keyed("A: 1\n\0B(x): 2\n", 14,
                                             MG_PROC_KV_COLON, -1, keys, 2, &o,
                                             NULL),
                         -EBADMSG);
    }
}

/* ---------------------------------------------------------------- meminfo */

#define MI_REQ                                                                 \
    "MemTotal:       16000000 kB\n"                                            \
    "MemFree:         1000000 kB\n"                                            \
    "Buffers:           10000 kB\n"                                            \
    "Cached:          2000000 kB\n"                                            \
    "Active(file):     600000 kB\n"                                            \
    "Inactive(file):   400000 kB\n"                                            \
    "Shmem:              5000 kB\n"                                            \
    "Slab:             300000 kB\n"                                            \
    "SReclaimable:     200000 kB\n"                                            \
    "SUnreclaim:       100000 kB\n"                                            \
    "SwapTotal:             0 kB\n"

static void test_meminfo_table(void **state)
{
    static char longkey[6000], longgarbage[6000];
    struct {
        const char *in;
        int rc;
        uint64_t avail;
        uint32_t est;
    } cases[] = {
        {MI_REQ "SwapFree:              0 kB\n"
                "MemAvailable:    3000000 kB\n",
         0, 3000000 * KB, 0},
        /* no MemAvailable: 1000000 + 1000000 - min(500000, 1000) + 200000 -
         * min(100000, 1000) with low = 1000 kB */
        {MI_REQ "SwapFree:              0 kB\n", 0, 2198000 * KB, 1},
        {MI_REQ "SwapFree:              0 kB\n"
                "HugePages_Total:       0\n",
         0, 2198000 * KB, 1},
        /* hostile */
        {"", -EBADMSG, 0, 0},
        {MI_REQ, -ENOMSG, 0, 0},
        {MI_REQ "SwapFree:              0 kB", -EBADMSG, 0, 0},
        {MI_REQ "SwapFree:     ", -EBADMSG, 0, 0},
        {MI_REQ "SwapFree:              0 kB\nMemTotal: 1 kB\n", -EBADMSG, 0,
         0},
        {MI_REQ "SwapFree:              x kB\n", -EBADMSG, 0, 0},
        {MI_REQ "SwapFree:  18014398509481984 kB\n", -EOVERFLOW, 0, 0},
        {MI_REQ "SwapFree:  99999999999999999999 kB\n", -EOVERFLOW, 0, 0},
        {MI_REQ "SwapFree:              0 MB\n", -EBADMSG, 0, 0},
        {MI_REQ "SwapFree:              0 kB\nMemAvailable: n/a\n", -EBADMSG, 0,
         0},
        /* lines of new shapes: skipped, MemAvailable still read */
        {MI_REQ "SwapFree:              0 kB\ngarbage\n"
                "MemAvailable:    3000000 kB\n",
         0, 3000000 * KB, 0},
        {MI_REQ "SwapFree:              0 kB\n\n", 0, 2198000 * KB, 1},
        {NULL, 0, 2198000 * KB, 1}, /* very long unknown key */
        {NULL, 0, 2198000 * KB, 1}, /* very long garbage line */
    };
    static char buf1[8192], buf2[8192];
    size_t i;

    (void)state;
    memset(longkey, 'K', sizeof(longkey) - 16);
    strcpy(longkey + sizeof(longkey) - 16, ": 1 kB\n");
    snprintf(buf1, sizeof(buf1), "%s%s%s", MI_REQ, longkey,
             "SwapFree:              0 kB\n");
    cases[NCASES(cases) - 2].in = buf1;
    memset(longgarbage, '~', sizeof(longgarbage) - 2);
    longgarbage[sizeof(longgarbage) - 2] = '\n';
    snprintf(buf2, sizeof(buf2), "%s%s%s", MI_REQ,
             "SwapFree:              0 kB\n", longgarbage);
    cases[NCASES(cases) - 1].in = buf2;
    for (i = 0; i < NCASES(cases); i++) {
        mg_sample_t s;
        int rc;
        memset(&s, 0, sizeof(s));
        rc = mg_proc_parse_meminfo(cases[i].in, strlen(cases[i].in), 1000 * KB,
                                   &s);
        if (rc != cases[i].rc ||
            (rc == 0 &&
             (s.mem_available != cases[i].avail ||
              s.mem_available_estimated != cases[i].est ||
              s.mem_total != 16000000 * KB || s.sreclaimable != 200000 * KB))) {
            fail_msg("meminfo case %zu: rc %d avail %llu est %u", i, rc,
                     (unsigned long long)s.mem_available,
                     s.mem_available_estimated);
        }
        if (rc != 0 && s.mem_total != 0) {
            fail_msg("meminfo case %zu: output touched on error", i);
        }
    }
}

static void test_meminfo_fixtures(void **state)
{
    mg_sample_t s;
    size_t len;
    char *buf;

    (void)state;
    buf = mg_test_slurp("proc/debian12-v1/proc/meminfo", &len);
    memset(&s, 0, sizeof(s));
    assert_int_equal(mg_proc_parse_meminfo(buf, len, 0, &s), 0);
    assert_int_equal(s.mem_total, 24684092 * KB);
    assert_int_equal(s.mem_available, 24338660 * KB);
    assert_int_equal(s.mem_available_estimated, 0);
    free(buf);

    buf = mg_test_slurp("proc/rhel8-4.18-2node/proc/meminfo", &len);
    assert_int_equal(mg_proc_parse_meminfo(buf, len, 0, &s), 0);
    assert_int_equal(s.mem_available, 23455268 * KB);
    assert_int_equal(s.slab, 1838392 * KB);
    free(buf);

    buf = mg_test_slurp("proc/rhel7-3.10-nfs-slab/proc/meminfo", &len);
    assert_int_equal(mg_proc_parse_meminfo(buf, len, 5041 * 4096, &s), 0);
    assert_int_equal(s.mem_available_estimated, 1);
    assert_int_equal(s.mem_available, mg_proc_mem_available_estimate(
                                          301244 * KB, (3391692 + 3781616) * KB,
                                          2815200 * KB, 5041 * 4096));
    free(buf);

    /* a future kernel's lines of new shapes (keys with spaces, words,
     * units, tabs, blank lines, numbers too large): the same figures as
     * the capture they were added to */
    {
        mg_sample_t f;
        char *fut = mg_test_slurp("proc/future-shapes/proc/meminfo", &len);

        buf = mg_test_slurp("proc/debian12-v1/proc/meminfo", &len);
        memset(&s, 0, sizeof(s));
        memset(&f, 0, sizeof(f));
        assert_int_equal(mg_proc_parse_meminfo(buf, strlen(buf), 0, &s), 0);
        assert_int_equal(mg_proc_parse_meminfo(fut, strlen(fut), 0, &f), 0);
        assert_memory_equal(&s, &f, sizeof(s));
        assert_int_equal(f.mem_available_estimated, 0);
        free(fut);
        free(buf);
    }

    buf = mg_test_slurp("proc/truncated/proc/meminfo", &len);
    assert_int_equal(mg_proc_parse_meminfo(buf, len, 0, &s), -EBADMSG);
    free(buf);
    buf = mg_test_slurp("proc/garbage/proc/meminfo", &len);
    assert_int_equal(mg_proc_parse_meminfo(buf, len, 0, &s), -EBADMSG);
    free(buf);
}

static void test_low_wmark(void **state)
{
    char root[1024], buf[64 * 1024];
    uint64_t low;
    size_t len;
    char *z;

    (void)state;
    assert_int_equal(mg_proc_mem_available_estimate(10, 100, 50, 1000),
                     10 + 50 + 25);
    assert_int_equal(
        mg_proc_mem_available_estimate(UINT64_MAX, UINT64_MAX, UINT64_MAX, 0),
        UINT64_MAX);

    z = mg_test_slurp("proc/rhel7-3.10-nfs-slab/proc/zoneinfo", &len);
    assert_int_equal(mg_proc_parse_zoneinfo_low(z, len, 4096, &low), 0);
    assert_int_equal(low, 5041 * 4096);
    free(z);
    z = mg_test_slurp("proc/debian12-v1/proc/zoneinfo", &len);
    assert_int_equal(mg_proc_parse_zoneinfo_low(z, len, 4096, &low), 0);
    assert_true(low > 0);
    free(z);
    assert_int_equal(mg_proc_parse_zoneinfo_low("", 0, 4096, &low), -ENOMSG);
    assert_int_equal(mg_proc_parse_zoneinfo_low("  low 12", 8, 4096, &low),
                     -EBADMSG);
    assert_int_equal(mg_proc_parse_zoneinfo_low("  low x\n", 8, 4096, &low),
                     -EBADMSG);
    assert_int_equal(mg_proc_parse_zoneinfo_low("  low 12 3\n", 11, 4096, &low),
                     -EBADMSG);

    /* zoneinfo, then min_free_kbytes * 5/4, then the boot formula */
    mg_test_fixture(root, sizeof(root), "proc/rhel7-3.10-nfs-slab");
    assert_int_equal(mg_proc_low_wmark(root, 0, 4096, buf, sizeof(buf)),
                     5041 * 4096);
    /* a buffer too small for zoneinfo falls back to min_free_kbytes */
    assert_int_equal(mg_proc_low_wmark(root, 0, 4096, buf, 256),
                     16133 * KB * 5 / 4);
    mg_test_fixture(root, sizeof(root), "proc/debian7-3.2-minfree");
    assert_int_equal(mg_proc_low_wmark(root, 0, 4096, buf, sizeof(buf)),
                     8048 * KB * 5 / 4);
    mg_test_fixture(root, sizeof(root), "proc/garbage");
    /* sqrt(16 * 16 GiB in kB) = 16384 kB */
    assert_int_equal(
        mg_proc_low_wmark(root, 16ULL << 30, 4096, buf, sizeof(buf)),
        16384 * KB * 5 / 4);
    assert_int_equal(mg_proc_low_wmark(root, 0, 4096, buf, sizeof(buf)),
                     128 * KB * 5 / 4);
    assert_int_equal(
        mg_proc_low_wmark(root, 1ULL << 50, 4096, buf, sizeof(buf)),
        65536 * KB * 5 / 4);
}

/* ---------------------------------------------------------------- PSI */

static void test_psi_table(void **state)
{
    static const struct {
        const char *in;
        int rc;
        uint32_t s10, f300;
        uint64_t stotal;
        int full;
    } cases[] = {
        {"some avg10=1.53 avg60=0.87 avg300=0.22 total=11834501\n"
         "full avg10=0.91 avg60=0.52 avg300=0.13 total=7215233\n",
         0, 153, 13, 11834501, 1},
        {"some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", 0, 0, 0, 0, 0},
        {"some avg10=100.00 avg60=5.5 avg300=7 total=1\n", 0, 10000, 0, 1, 0},
        {"some total=5 avg300=0.01 avg60=0.00 avg10=2.00\n", 0, 200, 0, 5, 0},
        {"some avg10=0.00 avg60=0.00 avg300=0.00 avg3600=1.00 total=9\n", 0, 0,
         0, 9, 0},
        /* hostile */
        {"", -EBADMSG, 0, 0, 0, 0},
        {"\n", -EBADMSG, 0, 0, 0, 0},
        {"some avg10=0.00 avg60=0.00 avg300=0.00 total=0", -EBADMSG, 0, 0, 0,
         0},
        {"some avg10=0.00 avg60=0.00 avg300=0.00\n", -EBADMSG, 0, 0, 0, 0},
        {"some avg10=0.00 avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
         -EBADMSG, 0, 0, 0, 0},
        {"some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
         "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
         -EBADMSG, 0, 0, 0, 0},
        {"full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -ENOMSG, 0, 0, 0,
         0},
        {"some avg10=100.01 avg60=0.00 avg300=0.00 total=0\n", -EBADMSG, 0, 0,
         0, 0},
        {"some avg10=1.234 avg60=0.00 avg300=0.00 total=0\n", -EBADMSG, 0, 0, 0,
         0},
        {"some avg10=.5 avg60=0.00 avg300=0.00 total=0\n", -EBADMSG, 0, 0, 0,
         0},
        {"some avg10=5. avg60=0.00 avg300=0.00 total=0\n", -EBADMSG, 0, 0, 0,
         0},
        {"some avg10=x avg60=0.00 avg300=0.00 total=0\n", -EBADMSG, 0, 0, 0, 0},
        {"some avg10=-1.00 avg60=0.00 avg300=0.00 total=0\n", -EBADMSG, 0, 0, 0,
         0},
        {"some avg10=0.00 avg60=0.00 avg300=0.00 total=99999999999999999999\n",
         -EOVERFLOW, 0, 0, 0, 0},
        {"some avg10=0.00  avg60=0.00 avg300=0.00 total=0\n", -EBADMSG, 0, 0, 0,
         0},
        {"some avg10=0.00 avg60=0.00 avg300=0.00 total=0 \n", -EBADMSG, 0, 0, 0,
         0},
        {"some\tavg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -EBADMSG, 0, 0, 0,
         0},
        {"some avg10=0.00 avg60=0.00 avg300=0.00 total=0x1\n", -EBADMSG, 0, 0,
         0, 0},
        {"some avg10 avg60=0.00 avg300=0.00 total=0\n", -EBADMSG, 0, 0, 0, 0},
        {"cpu avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -EBADMSG, 0, 0, 0,
         0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        mg_proc_psi_t p;
        int rc;
        memset(&p, 0xa5, sizeof(p));
        rc = mg_proc_parse_psi(cases[i].in, strlen(cases[i].in), &p);
        if (rc != cases[i].rc ||
            (rc == 0 &&
             (p.some.avg10 != cases[i].s10 || p.full.avg300 != cases[i].f300 ||
              p.some.total_us != cases[i].stotal ||
              p.full.present != cases[i].full))) {
            fail_msg("psi case %zu '%s': rc %d", i, cases[i].in, rc);
        }
    }
}

/* ---------------------------------------------------------------- slabinfo */

#define SLAB_HDR                                                               \
    "slabinfo - version: 2.1\n"                                                \
    "# name            <active_objs> <num_objs> <objsize> <objperslab> "       \
    "<pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : "         \
    "slabdata <active_slabs> <num_slabs> <sharedavail>\n"
#define SLAB_DENTRY                                                            \
    "dentry             51177  51177    192   21    1 : tunables    0    0"    \
    "    0 : slabdata   2437   2437      0\n"

static int count_cb(void *baton, const mg_proc_slab_t *c)
{
    (void)c;
    (*(int *)baton)++;
    return 0;
}

static void test_slabinfo_table(void **state)
{
    static const struct {
        const char *in;
        int rc;
        int n;
    } cases[] = {
        {SLAB_HDR SLAB_DENTRY, 0, 1},
        {SLAB_HDR, 0, 0},
        {"slabinfo - version: 2.1\n" SLAB_DENTRY, 0, 1},
        /* SLAB with CONFIG_DEBUG_SLAB adds more columns: accepted */
        {SLAB_HDR "dentry 1 2 192 21 1 : tunables 120 60 8 : slabdata 1 1 0"
                  " : globalstat 2 2 1 0 0 0 0 0 0 : cpustat 1 1 0 0\n",
         0, 1},
        /* hostile */
        {"", -EBADMSG, 0},
        {SLAB_DENTRY, -EBADMSG, 0},
        {"slabinfo - version: 2.0\n" SLAB_DENTRY, -EPROTONOSUPPORT, 0},
        {"slabinfo - version: 1.1\n", -EPROTONOSUPPORT, 0},
        {"slabinfo - version: 2.10\n", -EPROTONOSUPPORT, 0},
        {SLAB_HDR "dentry             51177  51177    192   21    1 : tun",
         -EBADMSG, 0},
        {SLAB_HDR "dentry             51177  51177    192   21    1 : tunables"
                  "    0    0    0 : slabdata   2437   2437\n",
         -EBADMSG, 0},
        {SLAB_HDR "dentry             x  51177    192   21    1 : tunables    "
                  "0    0    0 : slabdata   2437   2437      0\n",
         -EBADMSG, 0},
        {SLAB_HDR " 1 1 1 1 1 : tunables 0 0 0 : slabdata 1 1 0\n", -EBADMSG,
         0},
        {SLAB_HDR "dentry 1 1 1 1 1 : tunables 0 0 0 : slabdata 1 1 0 junk\n",
         -EBADMSG, 0},
        {SLAB_HDR "dentry 1 1 1 1 1 ; tunables 0 0 0 : slabdata 1 1 0\n",
         -EBADMSG, 0},
        {SLAB_HDR "dentry 1 99999999999999999999 1 1 1 : tunables 0 0 0 : "
                  "slabdata 1 1 0\n",
         -EOVERFLOW, 0},
        {SLAB_HDR SLAB_DENTRY "\n", -EBADMSG, 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        int n = 0;
        int rc = mg_proc_parse_slabinfo(cases[i].in, strlen(cases[i].in),
                                        count_cb, &n);
        if (rc != cases[i].rc || (rc == 0 && n != cases[i].n)) {
            fail_msg("slabinfo case %zu: rc %d n %d", i, rc, n);
        }
    }
}

static int stop_cb(void *baton, const mg_proc_slab_t *c)
{
    (void)baton;
    (void)c;
    return 7;
}

static void test_slabinfo_fill(void **state)
{
    static const char names[3][MG_SAMPLE_NAME_LEN] = {
        "nfs_inode_cache", "no_such_cache", "dentry"};
    mg_proc_slab_t c;
    mg_sample_t s;
    size_t len;
    char *buf;
    int n = 0;

    (void)state;
    buf = mg_test_slurp("proc/debian12-v1/proc/slabinfo", &len);
    assert_int_equal(mg_proc_parse_slabinfo(buf, len, count_cb, &n), 0);
    assert_int_equal(n, 235);
    assert_int_equal(mg_proc_parse_slabinfo(buf, len, stop_cb, NULL), 7);
    memset(&s, 0, sizeof(s));
    assert_int_equal(mg_proc_slabinfo_fill(buf, len, names, 3, &s), 0);
    assert_int_equal(s.ncaches, 3);
    assert_int_equal(s.ntop, MG_SAMPLE_TOP_CACHES);
    assert_string_equal(s.caches[2].name, "dentry");
    assert_int_equal(s.caches[2].bytes, 51177ULL * 192);
    assert_int_equal(s.caches[1].bytes, 0);
    for (n = 1; n < MG_SAMPLE_TOP_CACHES; n++) {
        assert_true(s.top[n - 1].bytes >= s.top[n].bytes);
    }
    free(buf);

    buf = mg_test_slurp("proc/rhel7-3.10-nfs-slab/proc/slabinfo", &len);
    assert_int_equal(mg_proc_slabinfo_fill(buf, len, names, 3, &s), 0);
    assert_string_equal(s.caches[0].name, "nfs_inode_cache");
    assert_int_equal(s.caches[0].bytes, 2332080ULL * 1072);
    assert_string_equal(s.top[0].name, "nfs_inode_cache");
    assert_string_equal(s.top[1].name, "dentry");
    assert_string_equal(s.top[2].name, "radix_tree_node");
    free(buf);

    buf = mg_test_slurp("proc/garbage/proc/slabinfo", &len);
    assert_int_equal(mg_proc_slabinfo_fill(buf, len, names, 3, &s),
                     -EPROTONOSUPPORT);
    assert_int_equal(s.ncaches, 0);
    free(buf);
    buf = mg_test_slurp("proc/truncated/proc/slabinfo", &len);
    assert_int_equal(mg_proc_slabinfo_fill(buf, len, names, 3, &s), -EBADMSG);
    free(buf);
    assert_int_equal(mg_proc_slabinfo_fill("", 0, names, 17, &s), -EINVAL);

    /* saturation, the two sizes, and a name longer than the record's */
    memset(&c, 0, sizeof(c));
    c.num_objs = UINT64_MAX / 2;
    c.objsize = 4;
    c.num_slabs = 10;
    c.pagesperslab = 8;
    assert_int_equal(mg_proc_slab_bytes(&c), UINT64_MAX);
    assert_int_equal(mg_proc_slab_pages_bytes(&c, 4096), 10 * 8 * 4096);
    {
        static const char in[] = SLAB_HDR
            "a_cache_name_that_is_longer_than_thirty_one 1 10 100 1 1 : "
            "tunables 0 0 0 : slabdata 10 10 0\n";
        assert_int_equal(
            mg_proc_slabinfo_fill(in, sizeof(in) - 1, names, 0, &s), 0);
        assert_int_equal(s.ntop, 1);
        assert_int_equal(strlen(s.top[0].name), MG_SAMPLE_NAME_LEN - 1);
        assert_int_equal(s.top[0].bytes, 1000);
    }
}

/* ------------------------------------------------------------ per process */

static void test_statm(void **state)
{
    static const struct {
        const char *in;
        int rc;
        uint64_t res;
    } cases[] = {
        {"730 439 411 5 0 89 0\n", 0, 439 * 4096},
        {"0 0 0 0 0 0 0\n", 0, 0},
        /* hostile */
        {"", -EBADMSG, 0},
        {"730 439 411 5 0 89 0", -EBADMSG, 0},
        {"730 439 411 5 0 89\n", -EBADMSG, 0},
        {"730 439 411 5 0 89 0 1\n", -EBADMSG, 0},
        {"730  439 411 5 0 89 0\n", -EBADMSG, 0},
        {"730 x 411 5 0 89 0\n", -EBADMSG, 0},
        {"730 4503599627370496 411 5 0 89 0\n", -EOVERFLOW, 0},
        {"730 99999999999999999999 411 5 0 89 0\n", -EOVERFLOW, 0},
        {"730 439 411 5 0 89 0\n\n", -EBADMSG, 0},
    };
    mg_proc_statm_t st;
    size_t i;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        int rc =
            mg_proc_parse_statm(cases[i].in, strlen(cases[i].in), 4096, &st);
        if (rc != cases[i].rc || (rc == 0 && st.resident != cases[i].res)) {
            fail_msg("statm case %zu: rc %d", i, rc);
        }
    }
    assert_int_equal(mg_proc_parse_statm("1 2 3 4 5 6 7\n", 14, 0, &st),
                     -EINVAL);
}

static void test_statm_fd(void **state)
{
    char root[1024];
    mg_proc_statm_t st;
    int fd;

    (void)state;
    mg_test_fixture(root, sizeof(root), "proc/debian12-v1-limited");
    fd = mg_proc_open_pid(root, 4242, "statm");
    assert_true(fd >= 0);
    assert_int_equal(mg_proc_read_statm(fd, 4096, &st), 0);
    assert_int_equal(st.resident, 78865ULL * 4096);
    assert_int_equal(st.size, 80289ULL * 4096);
    assert_int_equal(st.data, 78024ULL * 4096);
    /* again: pread at 0, the offset does not move */
    assert_int_equal(mg_proc_read_statm(fd, 4096, &st), 0);
    assert_int_equal(st.resident, 78865ULL * 4096);
    close(fd);
    assert_int_equal(mg_proc_read_statm(-1, 4096, &st), -EINVAL);

    /* the live file of this process */
    fd = mg_proc_open_pid("/", 0, "statm");
    assert_true(fd >= 0);
    assert_int_equal(
        mg_proc_read_statm(fd, (uint64_t)sysconf(_SC_PAGESIZE), &st), 0);
    assert_true(st.resident > 0);
    close(fd);
    assert_int_equal(mg_proc_open_pid(root, 4243, "statm"), -ENOENT);
    assert_int_equal(mg_proc_open_pid(root, -1, "statm"), -EINVAL);
}

#define SR_HDR                                                                 \
    "00400000-7ffee3f47000 ---p 00000000 00:00 0                        "      \
    "      [rollup]\n"
#define SR_BODY                                                                \
    "Rss:              315460 kB\n"                                            \
    "Pss:              313982 kB\n"                                            \
    "Private_Clean:      3748 kB\n"                                            \
    "Private_Dirty:    309976 kB\n"                                            \
    "Anonymous:        309976 kB\n"

static void test_smaps_rollup(void **state)
{
    static const struct {
        const char *in;
        int rc;
        uint64_t unshared, swap;
    } cases[] = {
        {SR_HDR SR_BODY "Swap:                 12 kB\n", 0,
         (3748 + 309976) * KB, 12 * KB},
        {SR_HDR SR_BODY, 0, (3748 + 309976) * KB, 0},
        /* hostile */
        {"", -EBADMSG, 0, 0},
        {SR_BODY, -EBADMSG, 0, 0},
        {SR_HDR, -EBADMSG, 0, 0},
        {SR_HDR "Rss:              315460 kB\n", -ENOMSG, 0, 0},
        {SR_HDR SR_BODY "Rss: 1 kB\n", -EBADMSG, 0, 0},
        {SR_HDR SR_BODY "Swap:   1", -EBADMSG, 0, 0},
        {SR_HDR SR_BODY "Swap:   18014398509481984 kB\n", -EOVERFLOW, 0, 0},
        {SR_HDR SR_BODY "Swap:   nothing\n", -EBADMSG, 0, 0},
    };
    mg_proc_smaps_t sm;
    char root[1024], buf[4096];
    size_t i;
    int fd;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        int rc =
            mg_proc_parse_smaps_rollup(cases[i].in, strlen(cases[i].in), &sm);
        if (rc != cases[i].rc ||
            (rc == 0 &&
             (sm.unshared != cases[i].unshared || sm.swap != cases[i].swap))) {
            fail_msg("smaps_rollup case %zu: rc %d", i, rc);
        }
    }
    mg_test_fixture(root, sizeof(root), "proc/debian12-v1-limited");
    fd = mg_proc_open_pid(root, 4242, "smaps_rollup");
    assert_true(fd >= 0);
    assert_int_equal(mg_proc_read_smaps_rollup(fd, buf, sizeof(buf), &sm), 0);
    assert_int_equal(sm.rss, 315460 * KB);
    assert_int_equal(sm.pss, 313982 * KB);
    assert_int_equal(sm.unshared, (3748 + 309976) * KB);
    assert_int_equal(sm.anonymous, 309976 * KB);
    assert_int_equal(mg_proc_read_smaps_rollup(fd, buf, 64, &sm), -EFBIG);
    close(fd);
    mg_test_fixture(root, sizeof(root), "proc/rhel8-4.18-2node");
    fd = mg_proc_open_pid(root, 4242, "smaps_rollup");
    assert_int_equal(mg_proc_read_smaps_rollup(fd, buf, sizeof(buf), &sm), 0);
    assert_int_equal(sm.unshared, (812 + 70468) * KB);
    close(fd);
}

static void test_cmdline(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"(wsgi:hub)      \0-k\0start\0", 26, "(wsgi:hub)       -k start"},
        {"/usr/sbin/httpd\0-DFOREGROUND\0", 29, "/usr/sbin/httpd -DFOREGROUND"},
        {"(wsgi:hub)\0\0\0\0\0", 15, "(wsgi:hub)"},
        {"", 0, ""},
        {"\0", 1, ""},
        {"no-nul", 6, "no-nul"},
        {"a\0\0b\0", 5, "a  b"},
    };
    char root[1024], out[64], tiny[8];
    size_t i;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        char b[64];
        size_t n;
        memcpy(b, cases[i].in, cases[i].len);
        n = mg_proc_cmdline_flatten(b, cases[i].len);
        b[n] = '\0';
        if (strcmp(b, cases[i].out) != 0) {
            fail_msg("cmdline case %zu: '%s'", i, b);
        }
    }
    mg_test_fixture(root, sizeof(root), "proc/rhel8-4.18-2node");
    assert_int_equal(mg_proc_read_cmdline(root, 4242, out, sizeof(out)), 25);
    assert_string_equal(out, "(wsgi:hub)       -k start");
    assert_int_equal(mg_proc_read_cmdline(root, 4242, tiny, sizeof(tiny)), 7);
    assert_string_equal(tiny, "(wsgi:h");
    mg_test_fixture(root, sizeof(root), "proc/debian12-v1");
    assert_int_equal(mg_proc_read_cmdline(root, 4242, out, sizeof(out)), 19);
    assert_string_equal(out, "(wsgi:hub)       60");
    assert_int_equal(mg_proc_read_cmdline(root, 1, out, sizeof(out)), -ENOENT);
    assert_int_equal(mg_proc_read_cmdline(root, 1, out, 1), -EINVAL);
}

static void test_stat_ppid(void **state)
{
    static const struct {
        const char *in;
        int rc;
        int32_t ppid;
    } cases[] = {
        {"20370 (apache2) S 20369 20369 20369 0 -1 4194624\n", 0, 20369},
        {"1 (systemd) S 0 1 1 0 -1\n", 0, 0},
        /* comm with spaces and parentheses: fields count from the last ) */
        {"77 (a) (b c)) R 42 77 77 0\n", 0, 42},
        {"77 ()) S 9 77\n", 0, 9},
        {"77 (x) Z 5\n", 0, 5},
        {"77 (x) S 5", -EBADMSG, 0}, /* ends inside the number */
        {"77 (x) S 2147483648 1\n", -EOVERFLOW, 0},
        {"77 (x) S 99999999999999999999999 1\n", -EOVERFLOW, 0},
        {"77 (x) S -1 1\n", -EBADMSG, 0},
        {"77 (x) s 5 1\n", -EBADMSG, 0}, /* state must be a capital */
        {"77 (x)S 5 1\n", -EBADMSG, 0},
        {"77 (x) S  5 1\n", -EBADMSG, 0},
        {"77 (x) S 5x 1\n", -EBADMSG, 0},
        {"77 x S 5 1\n", -EBADMSG, 0}, /* no parentheses */
        {"77 (x)\n", -EBADMSG, 0},
        {"", -EBADMSG, 0},
        {")", -EBADMSG, 0},
    };
    char root[1024];
    int32_t ppid;
    size_t i;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        int rc;
        ppid = -7;
        rc = mg_proc_parse_stat_ppid(cases[i].in, strlen(cases[i].in), &ppid);
        if (rc != cases[i].rc || (rc == 0 && ppid != cases[i].ppid)) {
            fail_msg("stat case %zu: rc %d ppid %d", i, rc, (int)ppid);
        }
    }
    assert_int_equal(mg_proc_parse_stat_ppid(NULL, 0, &ppid), -EINVAL);
    mg_test_fixture(root, sizeof(root), "proc/debian12-v1");
    assert_int_equal(mg_proc_read_ppid(root, 4242, &ppid), 0);
    assert_int_equal(ppid, 20369);
    assert_int_equal(mg_proc_read_ppid(root, 1, &ppid), -ENOENT);
    /* the real thing: our own parent */
    assert_int_equal(mg_proc_read_ppid("/", getpid(), &ppid), 0);
    assert_int_equal(ppid, (int32_t)getppid());
}

/* ---------------------------------------------------------------- I/O */

static void test_io(void **state)
{
    char path[MG_PROC_PATH_MAX], big[2 * MG_PROC_PATH_MAX], buf[128];
    char root[1024];
    ssize_t n;
    int fd;

    (void)state;
    assert_int_equal(mg_proc_path(path, sizeof(path), "/", "proc/meminfo"), 0);
    assert_string_equal(path, "/proc/meminfo");
    assert_int_equal(mg_proc_path(path, sizeof(path), "", "/proc/meminfo"), 0);
    assert_string_equal(path, "/proc/meminfo");
    assert_int_equal(mg_proc_path(path, sizeof(path), "/x/tree//", "proc"), 0);
    assert_string_equal(path, "/x/tree/proc");
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(mg_proc_path(path, sizeof(path), big, "proc"),
                     -ENAMETOOLONG);
    assert_int_equal(mg_proc_open(big, "proc/meminfo"), -ENAMETOOLONG);

    mg_test_fixture(root, sizeof(root), "proc/debian12-v1");
    fd = mg_proc_open(root, "proc/pressure/memory");
    assert_true(fd >= 0);
    n = mg_proc_pread(fd, buf, sizeof(buf));
    assert_int_equal(n, 94);
    assert_int_equal(buf[n], '\0');
    assert_int_equal(mg_proc_pread(fd, buf, 96), 94);
    assert_int_equal(mg_proc_pread(fd, buf, 95), -EFBIG);
    assert_int_equal(mg_proc_pread(fd, buf, 1), -EINVAL);
    assert_int_equal(mg_proc_read_seq(fd, buf, 20), -EFBIG);
    close(fd);
    assert_int_equal(
        mg_proc_read_file(root, "proc/self/cgroup", buf, sizeof(buf)), -EFBIG);
    n = mg_proc_read_file(root, "proc/sys/vm/min_free_kbytes", buf,
                          sizeof(buf));
    assert_int_equal(n, 6);
    assert_int_equal(mg_proc_read_file(root, "proc/nothing", buf, 64), -ENOENT);
    assert_int_equal(mg_proc_read_file(root, "proc", buf, 64), -EISDIR);

    /* the real seq_files come in several read(2)s */
    {
        static char slab[512 * 1024];
        n = mg_proc_read_file("/", "proc/self/mountinfo", slab, sizeof(slab));
        assert_true(n > 0);
        assert_int_equal(slab[n - 1], '\n');
        n = mg_proc_read_file("/", "proc/zoneinfo", slab, sizeof(slab));
        if (n > 0) {
            uint64_t low;
            assert_true(n > 4096);
            assert_int_equal(
                mg_proc_parse_zoneinfo_low(slab, (size_t)n, 4096, &low), 0);
        }
    }
}

/* ---------------------------------------------------------------- sampler */

static mg_proc_sampler_t *sampler_new(void)
{
    mg_proc_sampler_t *ps = calloc(1, sizeof(*ps));
    assert_non_null(ps);
    return ps;
}

static char slab_buf[MG_PROC_SLAB_BUF_DEFAULT];

static void sampler_conf(mg_proc_sampler_conf_t *c, const char *const *names,
                         size_t n)
{
    memset(c, 0, sizeof(*c));
    c->cgroup = MG_PROC_CGROUP_AUTO;
    c->numa = 1;
    c->caches = names;
    c->ncaches = n;
    c->slab_buf = slab_buf;
    c->slab_buf_size = sizeof(slab_buf);
    c->page_size = 4096;
    c->reopen = -1;
}

static void test_sampler_debian12(void **state)
{
    static const char *const names[] = {"dentry", "ext4_inode_cache"};
    mg_proc_sampler_conf_t conf;
    mg_proc_sampler_t *ps = sampler_new();
    mg_sample_t s;
    char root[1024];

    (void)state;
    sampler_conf(&conf, names, 2);
    mg_test_fixture(root, sizeof(root), "proc/debian12-v1");
    assert_int_equal(mg_proc_sampler_open(ps, root, &conf), 0);
    assert_int_equal(ps->reopen, 1);
    assert_int_equal(mg_proc_sampler_read(ps, &s, 1, 1000), 0);
    assert_int_equal(s.valid, MG_SRC_MEMINFO | MG_SRC_PSI | MG_SRC_CGROUP |
                                  MG_SRC_NUMA | MG_SRC_SLABINFO);
    assert_int_equal(s.taken_us, 1000);
    assert_int_equal(s.seq, 1);
    assert_int_equal(s.mem_total, 24684092 * KB);
    assert_int_equal(s.mem_available_estimated, 0);
    assert_int_equal(s.cgroup_version, 1);
    assert_int_equal(s.cgroup_limit, UINT64_MAX);
    assert_int_equal(s.cgroup_usage, 4198400);
    assert_int_equal(s.cgroup_inactive_file, 196608);
    assert_int_equal(s.cgroup_working_set, 4198400 - 196608);
    assert_int_equal(s.cgroup_oom_kills, 0);
    assert_int_equal(s.nnodes, 1);
    assert_int_equal(s.nodes[0].node, 0);
    assert_int_equal(s.nodes[0].total, 5466324 * KB);
    assert_int_equal(s.ncaches, 2);
    assert_string_equal(s.caches[0].name, "dentry");
    assert_int_equal(s.caches[0].bytes, 51177ULL * 192);
    assert_int_equal(s.slab_taken_us, 1000);
    assert_int_equal(s.ntop, MG_SAMPLE_TOP_CACHES);

    /* without slabinfo: the last result is carried over */
    assert_int_equal(mg_proc_sampler_read(ps, &s, 0, 2000), 0);
    assert_true(s.valid & MG_SRC_SLABINFO);
    assert_int_equal(s.slab_taken_us, 1000);
    assert_int_equal(s.caches[0].bytes, 51177ULL * 192);
    assert_int_equal(s.seq, 2);

    /* slabinfo read apart (the sampler's measuring thread) and put into a
     * sample read without it */
    {
        mg_proc_slab_result_t res;

        memset(&res, 0xff, sizeof(res));
        assert_int_equal(mg_proc_sampler_read_slab(ps, &res, 5000), 1);
        assert_int_equal(res.valid, 1);
        assert_int_equal(res.taken_us, 5000);
        assert_int_equal(res.ncaches, 2);
        assert_int_equal(res.caches[0].bytes, 51177ULL * 192);
        assert_int_equal(mg_proc_sampler_read(ps, &s, 0, 6000), 0);
        assert_int_equal(s.slab_taken_us, 1000); /* ps's own is untouched */
        mg_proc_sample_set_slab(&s, &res);
        assert_true(s.valid & MG_SRC_SLABINFO);
        assert_int_equal(s.slab_taken_us, 5000);
        assert_int_equal(s.ncaches, 2);
        /* an invalid reading clears the slab part of a sample */
        res.valid = 0;
        res.taken_us = 7000;
        mg_proc_sample_set_slab(&s, &res);
        assert_false(s.valid & MG_SRC_SLABINFO);
        assert_int_equal(s.ncaches, 0);
        assert_int_equal(s.ntop, 0);
        assert_int_equal(s.caches[0].bytes, 0);
        assert_int_equal(s.slab_taken_us, 7000);
        /* hostile: no ps, no result */
        assert_int_equal(mg_proc_sampler_read_slab(NULL, &res, 1), 0);
        assert_int_equal(mg_proc_sampler_read_slab(ps, NULL, 1), 0);
    }
    mg_proc_sampler_close(ps);
    mg_proc_sampler_close(ps);

    /* slabinfo larger than its buffer: refused, not half-parsed */
    conf.slab_buf_size = 4096;
    assert_int_equal(mg_proc_sampler_open(ps, root, &conf), 0);
    log_count = 0;
    assert_int_equal(mg_proc_sampler_read(ps, &s, 1, 3000), 0);
    assert_false(s.valid & MG_SRC_SLABINFO);
    assert_true(s.valid & MG_SRC_MEMINFO);
    assert_int_equal(s.ncaches, 0);
    assert_int_equal(log_count, 1);
    assert_non_null(strstr(log_last, "larger than the buffer"));
    assert_int_equal(mg_proc_sampler_read(ps, &s, 1, 4000), 0);
    assert_int_equal(log_count, 1); /* logged once, not every sample */
    mg_proc_sampler_close(ps);
    free(ps);
}

static void test_sampler_trees(void **state)
{
    static const char *const names[] = {"nfs_inode_cache"};
    mg_proc_sampler_conf_t conf;
    mg_proc_sampler_t *ps = sampler_new();
    mg_sample_t s;
    char root[1024];

    (void)state;
    sampler_conf(&conf, names, 1);

    /* 3.10: estimated MemAvailable, hierarchical v1 limit, no PSI */
    mg_test_fixture(root, sizeof(root), "proc/rhel7-3.10-nfs-slab");
    assert_int_equal(mg_proc_sampler_open(ps, root, &conf), 0);
    assert_int_equal(mg_proc_sampler_read(ps, &s, 1, 1), 0);
    assert_int_equal(s.valid, MG_SRC_MEMINFO | MG_SRC_CGROUP | MG_SRC_NUMA |
                                  MG_SRC_SLABINFO);
    assert_int_equal(s.mem_available_estimated, 1);
    assert_int_equal(s.mem_available, mg_proc_mem_available_estimate(
                                          301244 * KB, (3391692 + 3781616) * KB,
                                          2815200 * KB, 5041 * 4096));
    assert_int_equal(s.cgroup_limit, 4294967296ULL);
    assert_int_equal(s.cgroup_working_set, 3914387456ULL - 1040384000ULL);
    assert_int_equal(s.cgroup_oom_kills, 0);
    assert_int_equal(s.caches[0].bytes, 2332080ULL * 1072);
    assert_string_equal(s.top[0].name, "nfs_inode_cache");
    mg_proc_sampler_close(ps);

    /* 4.18, two nodes, no PSI, v1 limit with OOM kills */
    mg_test_fixture(root, sizeof(root), "proc/rhel8-4.18-2node");
    assert_int_equal(mg_proc_sampler_open(ps, root, &conf), 0);
    assert_int_equal(mg_proc_sampler_read(ps, &s, 0, 1), 0);
    assert_int_equal(s.valid, MG_SRC_MEMINFO | MG_SRC_CGROUP | MG_SRC_NUMA);
    assert_int_equal(s.cgroup_limit, 34359738368ULL);
    assert_int_equal(s.cgroup_oom_kills, 4);
    assert_int_equal(s.nnodes, 2);
    assert_int_equal(s.nodes[1].node, 1);
    assert_int_equal(s.nodes[1].free, 159196 * KB);
    assert_int_equal(s.ncaches, 0);
    mg_proc_sampler_close(ps);

    /* pure v2 with a limit and PSI */
    mg_test_fixture(root, sizeof(root), "proc/fedora38-v2-limit");
    assert_int_equal(mg_proc_sampler_open(ps, root, &conf), 0);
    assert_int_equal(mg_proc_sampler_read(ps, &s, 1, 1), 0);
    assert_int_equal(s.valid,
                     MG_SRC_MEMINFO | MG_SRC_PSI | MG_SRC_CGROUP | MG_SRC_NUMA);
    assert_int_equal(s.cgroup_version, 2);
    assert_int_equal(s.cgroup_limit, 805306368);
    assert_int_equal(s.cgroup_working_set, 801173504 - 20480000);
    assert_int_equal(ps->cg_nanc, 0); /* system.slice: no memory.max */
    assert_int_equal(s.cgroup_level, 0);
    assert_int_equal(s.cgroup_oom_kills, 17);
    assert_int_equal(s.psi_some_avg10, 3158);
    assert_int_equal(s.psi_full_avg300, 236);
    assert_int_equal(s.psi_full_total_us, 9215233);
    mg_proc_sampler_close(ps);

    mg_test_fixture(root, sizeof(root), "proc/fedora38-v2-max");
    assert_int_equal(mg_proc_sampler_open(ps, root, &conf), 0);
    assert_int_equal(mg_proc_sampler_read(ps, &s, 1, 1), 0);
    assert_int_equal(s.cgroup_limit, UINT64_MAX);
    assert_int_equal(s.cgroup_usage, 1310355456);
    assert_int_equal(s.cgroup_level, 0);
    mg_proc_sampler_close(ps);

    /* the same service, unlimited itself, under a limited system.slice:
     * the slice's figures decide (its current counts the siblings) */
    mg_test_fixture(root, sizeof(root), "proc/fedora38-v2-slice");
    assert_int_equal(mg_proc_sampler_open(ps, root, &conf), 0);
    assert_int_equal(ps->cg_nanc, 1);
    assert_int_equal(mg_proc_sampler_read(ps, &s, 1, 1), 0);
    assert_int_equal(s.cgroup_version, 2);
    assert_int_equal(s.cgroup_level, 1);
    assert_int_equal(s.cgroup_limit, 2147483648ULL);
    assert_int_equal(s.cgroup_usage, 2080374784ULL);
    assert_int_equal(s.cgroup_inactive_file, 536870912ULL);
    assert_int_equal(s.cgroup_working_set, 2080374784ULL - 536870912ULL);
    mg_proc_sampler_close(ps);

    /* containers */
    mg_test_fixture(root, sizeof(root), "proc/container-v2-ns");
    assert_int_equal(mg_proc_sampler_open(ps, root, &conf), 0);
    assert_string_equal(ps->cg_loc.dir, "/sys/fs/cgroup");
    assert_int_equal(mg_proc_sampler_read(ps, &s, 1, 1), 0);
    assert_int_equal(s.cgroup_limit, 1073741824);
    assert_int_equal(s.cgroup_working_set, 1018789888 - 154140672);
    assert_int_equal(s.cgroup_oom_kills, 2);
    mg_proc_sampler_close(ps);

    mg_test_fixture(root, sizeof(root), "proc/container-v1-nons");
    assert_int_equal(mg_proc_sampler_open(ps, root, &conf), 0);
    assert_string_equal(ps->cg_loc.dir, "/sys/fs/cgroup/memory");
    assert_int_equal(mg_proc_sampler_read(ps, &s, 1, 1), 0);
    assert_int_equal(s.valid, MG_SRC_MEMINFO | MG_SRC_CGROUP);
    assert_int_equal(s.cgroup_limit, 2147483648ULL);
    assert_int_equal(s.cgroup_oom_kills, 2);
    mg_proc_sampler_close(ps);

    /* explicit cgroup path, cgroup and NUMA off */
    conf.cgroup = MG_PROC_CGROUP_PATH;
    conf.cgroup_path = "sys/fs/cgroup/memory/system.slice/httpd.service";
    mg_test_fixture(root, sizeof(root), "proc/debian12-v1-oom");
    assert_int_equal(mg_proc_sampler_open(ps, root, &conf), 0);
    assert_int_equal(mg_proc_sampler_read(ps, &s, 0, 1), 0);
    assert_int_equal(s.cgroup_version, 1);
    assert_int_equal(s.cgroup_oom_kills, 3);
    assert_int_equal(s.cgroup_limit, 64ULL << 20);
    mg_proc_sampler_close(ps);
    conf.cgroup_path = "/sys/fs/cgroup/nowhere";
    assert_int_equal(mg_proc_sampler_open(ps, root, &conf), 0);
    assert_int_equal(mg_proc_sampler_read(ps, &s, 0, 1), 0);
    assert_false(s.valid & MG_SRC_CGROUP);
    mg_proc_sampler_close(ps);
    conf.cgroup = MG_PROC_CGROUP_OFF;
    conf.numa = 0;
    assert_int_equal(mg_proc_sampler_open(ps, root, &conf), 0);
    assert_int_equal(mg_proc_sampler_read(ps, &s, 0, 1), 0);
    assert_int_equal(s.valid, MG_SRC_MEMINFO | MG_SRC_PSI);
    mg_proc_sampler_close(ps);
    free(ps);
}

/* The cgroup's path in MG00004 is joined as the readers join it: a root
 * "/" (or any root ending in '/') and the directory "/sys/..." make one
 * slash, not "//sys/fs/cgroup/...". */
static void test_sampler_cgroup_log_path(void **state)
{
    static const char *const names[] = {"dentry"};
    mg_proc_sampler_conf_t conf;
    mg_proc_sampler_t *ps = sampler_new();
    char root[1024], slashed[1100], want[1200];

    (void)state;
    sampler_conf(&conf, names, 1);
    mg_test_fixture(root, sizeof(root), "proc/fedora38-v2-slice");
    snprintf(slashed, sizeof(slashed), "%s/", root);
    snprintf(want, sizeof(want),
             "MG00004: memory cgroup v2 at %s/sys/fs/cgroup/system.slice/"
             "httpd.service (1 ancestor(s) with memory.max watched too)\n",
             root);
    log_all[0] = '\0';
    assert_int_equal(mg_proc_sampler_open(ps, slashed, &conf), 0);
    if (strstr(log_all, want) == NULL || strstr(log_all, "//") != NULL) {
        fail_msg("log:\n%swant:\n%s", log_all, want);
    }
    mg_proc_sampler_close(ps);
    free(ps);
}

static void test_sampler_hostile(void **state)
{
    static const char *const names[] = {"dentry"};
    mg_proc_sampler_conf_t conf;
    mg_proc_sampler_t *ps = sampler_new();
    mg_sample_t s;
    char root[1024];
    int before;

    (void)state;
    sampler_conf(&conf, names, 1);
    mg_test_fixture(root, sizeof(root), "proc/garbage");
    assert_int_equal(mg_proc_sampler_open(ps, root, &conf), 0);
    assert_int_equal(ps->cg_version, 2);
    log_count = 0;
    assert_int_equal(mg_proc_sampler_read(ps, &s, 1, 1), 0);
    assert_int_equal(s.valid, 0);
    assert_int_equal(s.mem_total, 0);
    assert_int_equal(s.cgroup_version, 0);
    assert_int_equal(s.nnodes, 0);
    assert_int_equal(s.ncaches, 0);
    before = log_count;
    assert_true(before >= 4);
    assert_int_equal(mg_proc_sampler_read(ps, &s, 1, 2), 0);
    assert_int_equal(log_count, before);
    mg_proc_sampler_close(ps);

    mg_test_fixture(root, sizeof(root), "proc/truncated");
    assert_int_equal(mg_proc_sampler_open(ps, root, &conf), 0);
    assert_int_equal(mg_proc_sampler_read(ps, &s, 1, 1), 0);
    assert_int_equal(s.valid, 0);
    mg_proc_sampler_close(ps);

    /* a root that does not exist: nothing valid, nothing fails */
    assert_int_equal(mg_proc_sampler_open(ps, "/nonexistent-root", &conf), 0);
    assert_int_equal(mg_proc_sampler_read(ps, &s, 1, 1), 0);
    assert_int_equal(s.valid, 0);
    mg_proc_sampler_close(ps);

    /* bad arguments */
    assert_int_equal(mg_proc_sampler_open(NULL, "/", &conf), -EINVAL);
    assert_int_equal(mg_proc_sampler_open(ps, NULL, &conf), -EINVAL);
    conf.ncaches = MG_SAMPLE_MAX_CACHES + 1;
    assert_int_equal(mg_proc_sampler_open(ps, "/", &conf), -EINVAL);
    {
        static const char *const bad[] = {
            "a_cache_name_that_is_longer_than_thirty_one"};
        conf.caches = bad;
        conf.ncaches = 1;
        assert_int_equal(mg_proc_sampler_open(ps, "/", &conf), -EINVAL);
    }
    conf.ncaches = 0;
    conf.cgroup = MG_PROC_CGROUP_PATH;
    conf.cgroup_path = NULL;
    assert_int_equal(mg_proc_sampler_open(ps, "/", &conf), -EINVAL);
    assert_int_equal(mg_proc_sampler_read(NULL, &s, 0, 0), -EINVAL);
    mg_proc_sampler_close(NULL);
    free(ps);
}

/* The running kernel, root "/": whatever it has must parse. */
static void test_sampler_live(void **state)
{
    mg_proc_sampler_t *ps = sampler_new();
    mg_sample_t s;

    (void)state;
    assert_int_equal(mg_proc_sampler_open(ps, "/", NULL), 0);
    assert_int_equal(ps->reopen, 0);
    assert_int_equal(mg_proc_sampler_read(ps, &s, 0, 1), 0);
    assert_true(s.valid & MG_SRC_MEMINFO);
    assert_true(s.mem_total > 0 && s.mem_available <= s.mem_total);
    if (access("/proc/pressure/memory", R_OK) == 0) {
        assert_true(s.valid & MG_SRC_PSI);
    }
    if (access("/sys/devices/system/node/node0/meminfo", R_OK) == 0) {
        assert_true(s.valid & MG_SRC_NUMA);
    }
    mg_proc_sampler_close(ps);
    free(ps);
}

/* ---------------------------------------------------------------- rewrites */

static void put(const char *dir, const char *rel, const char *text)
{
    char p[1024];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    f = fopen(p, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    fclose(f);
}

static void put_renamed(const char *dir, const char *rel, const char *text)
{
    char p[1024], t[1024];

    snprintf(t, sizeof(t), "%s/%s.tmp", dir, rel);
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    put(dir, "tmpfile", text);
    snprintf(t, sizeof(t), "%s/tmpfile", dir);
    assert_int_equal(rename(t, p), 0);
}

static void test_sampler_rewrite(void **state)
{
    static const char mi1[] = MI_REQ "SwapFree: 0 kB\nMemAvailable: 100 kB\n";
    static const char mi2[] = MI_REQ "SwapFree: 0 kB\nMemAvailable: 200 kB\n";
    static const char mi3[] = MI_REQ "SwapFree: 0 kB\nMemAvailable: 300 kB\n";
    static const char psi[] = "some avg10=1.00 avg60=0.00 avg300=0.00 "
                              "total=5\n";
    mg_proc_sampler_conf_t conf;
    mg_proc_sampler_t *ps = sampler_new();
    mg_sample_t s;
    char dir[] = "/tmp/mg_proc_test_XXXXXX", p[1024];
    int reopen;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof(p), "%s/proc", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/proc/pressure", dir);
    assert_int_equal(mkdir(p, 0755), 0);

    for (reopen = 1; reopen >= 0; reopen--) {
        sampler_conf(&conf, NULL, 0);
        conf.slab_buf = NULL;
        conf.reopen = reopen ? -1 : 0;
        put(dir, "proc/meminfo", mi1);
        put(dir, "proc/pressure/memory", psi);
        assert_int_equal(mg_proc_sampler_open(ps, dir, &conf), 0);
        assert_int_equal(ps->reopen, reopen);
        assert_int_equal(mg_proc_sampler_read(ps, &s, 0, 1), 0);
        assert_int_equal(s.mem_available, 100 * KB);
        assert_true(s.valid & MG_SRC_PSI);

        /* in place (O_TRUNC + write): same inode, pread at 0 sees it */
        put(dir, "proc/meminfo", mi2);
        assert_int_equal(mg_proc_sampler_read(ps, &s, 0, 2), 0);
        assert_int_equal(s.mem_available, 200 * KB);

        /* a half-written file is refused for that one sample */
        put(dir, "proc/meminfo", "MemTotal:   1");
        assert_int_equal(mg_proc_sampler_read(ps, &s, 0, 3), 0);
        assert_false(s.valid & MG_SRC_MEMINFO);
        put(dir, "proc/meminfo", mi1);
        assert_int_equal(mg_proc_sampler_read(ps, &s, 0, 3), 0);
        assert_int_equal(s.mem_available, 100 * KB);

        /* replaced by rename(2): a new inode, seen only when re-opening;
         * without reopen the fd keeps the old inode for good */
        put_renamed(dir, "proc/meminfo", mi3);
        assert_int_equal(mg_proc_sampler_read(ps, &s, 0, 3), 0);
        assert_int_equal(s.mem_available, (reopen ? 300 : 100) * KB);

        /* PSI deleted: "not available" from the next sample on (only
         * visible with reopen: a kept fd still reads the unlinked file) */
        snprintf(p, sizeof(p), "%s/proc/pressure/memory", dir);
        assert_int_equal(unlink(p), 0);
        assert_int_equal(mg_proc_sampler_read(ps, &s, 0, 6), 0);
        assert_int_equal(!!(s.valid & MG_SRC_PSI), !reopen);
        assert_int_equal(ps->psi_state, reopen ? -ENODATA : 1);
        mg_proc_sampler_close(ps);
    }
    snprintf(p, sizeof(p), "%s/proc/meminfo", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/proc/pressure", dir);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/proc", dir);
    rmdir(p);
    rmdir(dir);
    free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyed),
        cmocka_unit_test(test_meminfo_table),
        cmocka_unit_test(test_meminfo_fixtures),
        cmocka_unit_test(test_low_wmark),
        cmocka_unit_test(test_psi_table),
        cmocka_unit_test(test_slabinfo_table),
        cmocka_unit_test(test_slabinfo_fill),
        cmocka_unit_test(test_statm),
        cmocka_unit_test(test_statm_fd),
        cmocka_unit_test(test_smaps_rollup),
        cmocka_unit_test(test_cmdline),
        cmocka_unit_test(test_stat_ppid),
        cmocka_unit_test(test_io),
        cmocka_unit_test(test_sampler_debian12),
        cmocka_unit_test(test_sampler_trees),
        cmocka_unit_test(test_sampler_hostile),
        cmocka_unit_test(test_sampler_cgroup_log_path),
        cmocka_unit_test(test_sampler_live),
        cmocka_unit_test(test_sampler_rewrite),
    };

    mg_log_set(log_sink, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
