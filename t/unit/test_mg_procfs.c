/*
 * test_mg_procfs.c - the I/O primitives, the key parser, meminfo,
 * zoneinfo, PSI and slabinfo.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mg_procfs.h"
#include "mg_test.h"

#define KB 1024ULL
#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

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
        cmocka_unit_test(test_io),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
