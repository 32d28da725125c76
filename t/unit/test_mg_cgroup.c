/*
 * test_mg_cgroup.c - /proc/self/cgroup, mountinfo, locating the memory
 * cgroup (v1, v2, containers) and the cgroup value files.
 */
#include <errno.h>

#include "mg_cgroup.h"
#include "mg_test.h"

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

static void test_self_cgroup(void **state)
{
    static const struct {
        const char *in;
        int rc;
        const char *v1, *v2;
    } cases[] = {
        {"4:memory:/system.slice/httpd.service\n0::/\n", 0,
         "/system.slice/httpd.service", "/"},
        {"0::/system.slice/httpd.service\n", 0, "",
         "/system.slice/httpd.service"},
        {"5:cpuacct,memory:/a\n1:name=systemd:/b\n", 0, "/a", ""},
        {"3:memoryx:/a\n2:xmemory:/b\n", 0, "", ""},
        {"1:name=systemd:/a:b\n4:memory:/with:colon\n", 0, "/with:colon", ""},
        /* hostile */
        {"", -EBADMSG, "", ""},
        {"4:memory:/a", -EBADMSG, "", ""},
        {"4:memory\n", -EBADMSG, "", ""},
        {"4:memory:\n", -EBADMSG, "", ""},
        {"4:memory:relative\n", -EBADMSG, "", ""},
        {"x:memory:/a\n", -EBADMSG, "", ""},
        {":memory:/a\n", -EBADMSG, "", ""},
        {"4:memory:/a\n4:memory:/b\n", -EBADMSG, "", ""},
        {"0::/a\n0::/b\n", -EBADMSG, "", ""},
        {"\n", -EBADMSG, "", ""},
        {"99999999999999999999:memory:/a\n", -EBADMSG, "", ""},
    };
    char v1[MG_PROC_PATH_MAX], v2[MG_PROC_PATH_MAX], small[8];
    size_t i;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        int rc = mg_proc_parse_self_cgroup(cases[i].in, strlen(cases[i].in), v1,
                                           sizeof(v1), v2, sizeof(v2));
        if (rc != cases[i].rc || (rc == 0 && (strcmp(v1, cases[i].v1) != 0 ||
                                              strcmp(v2, cases[i].v2) != 0))) {
            fail_msg("self cgroup case %zu: rc %d v1 '%s' v2 '%s'", i, rc, v1,
                     v2);
        }
    }
    assert_int_equal(mg_proc_parse_self_cgroup("4:memory:/a/long/path\n", 22,
                                               small, sizeof(small), v2,
                                               sizeof(v2)),
                     -ENAMETOOLONG);
}

static void test_mountinfo(void **state)
{
    static const struct {
        const char *in;
        int rc;
        const char *r1, *m1, *r2, *m2;
    } cases[] = {
        {"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup "
         "rw,memory\n"
         "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 "
         "rw\n",
         0, "/", "/sys/fs/cgroup/memory", "/", "/sys/fs/cgroup/unified"},
        /* optional fields, several super options, the host's group */
        {"2260 2250 0:33 /docker/ab /sys/fs/cgroup/memory ro,nosuid "
         "master:17 shared:3 - cgroup cgroup rw,seclabel,memory\n",
         0, "/docker/ab", "/sys/fs/cgroup/memory", "", ""},
        /* escaped spaces */
        {"1 1 0:1 /a\\040b /mnt/c\\040g rw - cgroup2 none rw\n", 0, "", "",
         "/a b", "/mnt/c g"},
        /* "memory" only as a word of the super options, not of mount opts */
        {"1 1 0:1 / /x rw,memory - cgroup cgroup rw,cpu\n"
         "2 1 0:2 / /y rw - cgroup cgroup rw,memoryx\n",
         0, "", "", "", ""},
        /* the first of several counts */
        {"1 1 0:1 / /a rw - cgroup2 cgroup2 rw\n"
         "2 1 0:1 / /b rw - cgroup2 cgroup2 rw\n",
         0, "", "", "/", "/a"},
        {"1 1 0:1 / / rw - ext4 /dev/vda rw\n", 0, "", "", "", ""},
        /* hostile */
        {"", -EBADMSG, "", "", "", ""},
        {"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup "
         "rw,memory",
         -EBADMSG, "", "", "", ""},
        {"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime cgroup cgroup "
         "rw,memory\n",
         -EBADMSG, "", "", "", ""},
        {"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup\n", -EBADMSG,
         "", "", "", ""},
        {"35 31 0:32 /\n", -EBADMSG, "", "", "", ""},
        {"35  31 0:32 / /m rw - cgroup cgroup rw,memory\n", -EBADMSG, "", "",
         "", ""},
        {"1 1 0:1 rel /m rw - cgroup cgroup rw,memory\n", -EBADMSG, "", "", "",
         ""},
        {"\n", -EBADMSG, "", "", "", ""},
    };
    mg_proc_cgmount_t m1, m2;
    size_t i;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        int rc =
            mg_proc_parse_mountinfo(cases[i].in, strlen(cases[i].in), &m1, &m2);
        if (rc != cases[i].rc ||
            (rc == 0 && (strcmp(m1.root, cases[i].r1) != 0 ||
                         strcmp(m1.mount, cases[i].m1) != 0 ||
                         strcmp(m2.root, cases[i].r2) != 0 ||
                         strcmp(m2.mount, cases[i].m2) != 0 ||
                         m1.found != (cases[i].m1[0] != '\0') ||
                         m2.found != (cases[i].m2[0] != '\0')))) {
            fail_msg("mountinfo case %zu: rc %d '%s' '%s' '%s' '%s'", i, rc,
                     m1.root, m1.mount, m2.root, m2.mount);
        }
    }
}

static void test_join(void **state)
{
    static const struct {
        const char *root, *mount, *path, *out;
    } cases[] = {
        {"/", "/sys/fs/cgroup/memory", "/system.slice/httpd.service",
         "/sys/fs/cgroup/memory/system.slice/httpd.service"},
        {"/", "/sys/fs/cgroup/memory", "/", "/sys/fs/cgroup/memory"},
        {"/", "/sys/fs/cgroup/", "/a/", "/sys/fs/cgroup/a/"},
        {"/docker/ab", "/sys/fs/cgroup/memory", "/docker/ab",
         "/sys/fs/cgroup/memory"},
        {"/docker/ab", "/sys/fs/cgroup/memory", "/docker/ab/sub",
         "/sys/fs/cgroup/memory/sub"},
        {"/docker/ab/", "/sys/fs/cgroup/memory", "/docker/ab/sub",
         "/sys/fs/cgroup/memory/sub"},
        /* a prefix that is not a path component */
        {"/docker/ab", "/sys/fs/cgroup/memory", "/docker/abc",
         "/sys/fs/cgroup/memory"},
        /* namespaced path "/" with a mount of a sub-tree */
        {"/docker/ab", "/sys/fs/cgroup", "/", "/sys/fs/cgroup"},
        {"/", "/", "/a", "/a"},
        {"/", "/", "/", "/"},
    };
    mg_proc_cgmount_t m;
    char out[MG_PROC_PATH_MAX];
    size_t i;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        memset(&m, 0, sizeof(m));
        m.found = 1;
        strcpy(m.root, cases[i].root);
        strcpy(m.mount, cases[i].mount);
        assert_int_equal(
            mg_proc_cgroup_join(&m, cases[i].path, out, sizeof(out)), 0);
        if (strcmp(out, cases[i].out) != 0) {
            fail_msg("join case %zu: '%s'", i, out);
        }
    }
    strcpy(m.root, "/");
    strcpy(m.mount, "/sys/fs/cgroup/memory");
    assert_int_equal(mg_proc_cgroup_join(&m, "/a", out, 10), -ENAMETOOLONG);
}

static void test_locate(void **state)
{
    static const struct {
        const char *tree;
        int rc;
        uint32_t version;
        const char *dir;
    } cases[] = {
        {"proc/debian12-v1", 0, 1,
         "/sys/fs/cgroup/memory/system.slice/httpd.service"},
        {"proc/debian12-v1-oom", 0, 1,
         "/sys/fs/cgroup/memory/system.slice/httpd.service"},
        {"proc/rhel7-3.10-nfs-slab", 0, 1,
         "/sys/fs/cgroup/memory/system.slice/httpd.service"},
        {"proc/fedora38-v2-max", 0, 2,
         "/sys/fs/cgroup/system.slice/httpd.service"},
        {"proc/container-v2-ns", 0, 2, "/sys/fs/cgroup"},
        {"proc/container-v1-nons", 0, 1, "/sys/fs/cgroup/memory"},
        {"proc/garbage", 0, 2, "/sys/fs/cgroup/web"},
        {"proc/truncated", -EBADMSG, 0, ""},
        {"proc/numa-20node", -ENODATA, 0, ""},
    };
    mg_proc_cgroup_loc_t loc;
    char root[1024], buf[8192];
    size_t i;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        int rc;
        memset(&loc, 0, sizeof(loc));
        mg_test_fixture(root, sizeof(root), cases[i].tree);
        rc = mg_proc_cgroup_locate(root, buf, sizeof(buf), &loc);
        if (rc != cases[i].rc ||
            (rc == 0 && (loc.version != cases[i].version ||
                         strcmp(loc.dir, cases[i].dir) != 0))) {
            fail_msg("locate %s: rc %d v%u '%s'", cases[i].tree, rc,
                     loc.version, loc.dir);
        }
    }
    /* mountinfo larger than the scratch buffer */
    mg_test_fixture(root, sizeof(root), "proc/debian12-v1");
    assert_int_equal(mg_proc_cgroup_locate(root, buf, 256, &loc), -EFBIG);

    /* explicit paths */
    mg_test_fixture(root, sizeof(root), "proc/fedora38-v2-limit");
    assert_int_equal(mg_proc_cgroup_probe(root,
                                          "sys/fs/cgroup/system.slice/"
                                          "httpd.service",
                                          &loc),
                     0);
    assert_int_equal(loc.version, 2);
    assert_string_equal(loc.dir, "/sys/fs/cgroup/system.slice/httpd.service");
    assert_int_equal(mg_proc_cgroup_probe(root, "/sys/fs/cgroup", &loc),
                     -ENODATA);
    mg_test_fixture(root, sizeof(root), "proc/container-v1-nons");
    assert_int_equal(mg_proc_cgroup_probe(root, "/sys/fs/cgroup/memory", &loc),
                     0);
    assert_int_equal(loc.version, 1);
}

static void test_values(void **state)
{
    static const struct {
        const char *in;
        int rc;
        uint64_t v;
    } cases[] = {
        {"max\n", 0, UINT64_MAX},
        {"805306368\n", 0, 805306368},
        {"0\n", 0, 0},
        {"9223372036854771712\n", 0, UINT64_MAX},
        {"9223372036854710272\n", 0, UINT64_MAX}, /* 64K pages */
        {"4611686018427387903\n", 0, 4611686018427387903ULL},
        /* hostile */
        {"", -EBADMSG, 0},
        {"\n", -EBADMSG, 0},
        {"max", -EBADMSG, 0},
        {"805306368", -EBADMSG, 0},
        {"MAX\n", -EBADMSG, 0},
        {"max \n", -EBADMSG, 0},
        {"-1\n", -EBADMSG, 0},
        {"12 34\n", -EBADMSG, 0},
        {"lots\n", -EBADMSG, 0},
        {"18446744073709551616\n", -EOVERFLOW, 0},
        {"1\n2\n", -EBADMSG, 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        uint64_t v = 7;
        int rc =
            mg_proc_parse_cgroup_value(cases[i].in, strlen(cases[i].in), &v);
        if (rc != cases[i].rc || (rc == 0 && v != cases[i].v)) {
            fail_msg("value case %zu '%s': rc %d", i, cases[i].in, rc);
        }
    }
}

static void test_stat_oom(void **state)
{
    static const struct {
        const char *in;
        uint32_t version;
        int rc;
        uint64_t inactive, hier;
    } cases[] = {
        {"anon 1\ninactive_file 5\nactive_file 2\n", 2, 0, 5, UINT64_MAX},
        /* v2 ignores the v1 names */
        {"total_inactive_file 9\ninactive_file 5\n", 2, 0, 5, UINT64_MAX},
        {"inactive_file 5\ntotal_inactive_file 9\n"
         "hierarchical_memory_limit 4096\n",
         1, 0, 9, 4096},
        {"inactive_file 5\nhierarchical_memory_limit 9223372036854771712\n", 1,
         0, 5, UINT64_MAX},
        /* lines of shapes we do not know: skipped */
        {"numa_stat N0=1 N1=2\nflag: on\nlonely\n\ninactive_file 5\n", 2, 0, 5,
         UINT64_MAX},
        /* hostile */
        {"", 2, -EBADMSG, 0, 0},
        {"anon 1\n", 2, -ENOMSG, 0, 0},
        {"anon 1\n", 1, -ENOMSG, 0, 0},
        {"inactive_file 5", 2, -EBADMSG, 0, 0},
        {"inactive_file 1\ninactive_file 2\n", 2, -EBADMSG, 0, 0},
        {"inactive_file x\n", 2, -EBADMSG, 0, 0},
        {"inactive_file  5\n", 2, -EBADMSG, 0, 0},
        {"inactive_file: 5\n", 2, -EBADMSG, 0, 0},
        {"inactive_file 5\n", 3, -EINVAL, 0, 0},
        {"inactive_file 99999999999999999999\n", 2, -EOVERFLOW, 0, 0},
    };
    mg_proc_cgstat_t st;
    char root[1024];
    size_t i, len;
    uint64_t oom;
    char *buf;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        int rc = mg_proc_parse_cgroup_stat(cases[i].in, strlen(cases[i].in),
                                           cases[i].version, &st);
        if (rc != cases[i].rc ||
            (rc == 0 && (st.inactive_file != cases[i].inactive ||
                         st.hierarchical_limit != cases[i].hier))) {
            fail_msg("stat case %zu: rc %d", i, rc);
        }
    }
    buf = mg_test_slurp("proc/debian12-v1-limited/sys/fs/cgroup/memory/"
                        "system.slice/httpd.service/memory.stat",
                        &len);
    assert_int_equal(mg_proc_parse_cgroup_stat(buf, len, 1, &st), 0);
    assert_int_equal(st.inactive_file, 52428800);
    assert_int_equal(st.hierarchical_limit, 805306368);
    free(buf);
    /* a future kernel's memory.stat with lines of new shapes */
    buf = mg_test_slurp("proc/future-shapes/sys/fs/cgroup/system.slice/"
                        "httpd.service/memory.stat",
                        &len);
    assert_int_equal(mg_proc_parse_cgroup_stat(buf, len, 2, &st), 0);
    assert_int_equal(st.inactive_file, 402653184);
    free(buf);

    {
        static const char oc[] = "oom_kill_disable 0\nunder_oom 0\n"
                                 "oom_kill 3\n";
        assert_int_equal(mg_proc_parse_cgroup_oom(oc, sizeof(oc) - 1, &oom), 0);
    }
    assert_int_equal(oom, 3);
    assert_int_equal(mg_proc_parse_cgroup_oom("oom_kill_disable 0\n"
                                              "under_oom 0\n",
                                              31, &oom),
                     0);
    assert_int_equal(oom, 0);
    assert_int_equal(mg_proc_parse_cgroup_oom("oom_kill x\n", 11, &oom),
                     -EBADMSG);
    assert_int_equal(
        mg_proc_parse_cgroup_oom("oom_kill 1\noom_kill 1\n", 22, &oom),
        -EBADMSG);
    assert_int_equal(mg_proc_parse_cgroup_oom("", 0, &oom), -EBADMSG);
    mg_test_fixture(root, sizeof(root), "proc/fedora38-v2-limit");
    buf = mg_test_slurp("proc/fedora38-v2-limit/sys/fs/cgroup/system.slice/"
                        "httpd.service/memory.events",
                        &len);
    assert_int_equal(mg_proc_parse_cgroup_oom(buf, len, &oom), 0);
    assert_int_equal(oom, 17);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self_cgroup), cmocka_unit_test(test_mountinfo),
        cmocka_unit_test(test_join),        cmocka_unit_test(test_locate),
        cmocka_unit_test(test_values),      cmocka_unit_test(test_stat_oom),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
