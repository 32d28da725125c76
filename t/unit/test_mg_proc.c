/*
 * test_mg_proc.c - the sampler's aggregate reader over fixture trees (the
 * readers below it have their own drivers: test_mg_procfs.c,
 * test_mg_procpid.c, test_mg_cgroup.c, test_mg_numa.c).
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
