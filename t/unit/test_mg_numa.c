/*
 * test_mg_numa.c - node lists, Mems_allowed_list, per-node meminfo and the
 * allowed-node discovery over fixture trees.
 */
#include <errno.h>
#include <unistd.h>

#include "mg_numa.h"
#include "mg_test.h"

#define KB 1024ULL
#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

static int bit(const uint64_t *m, unsigned i)
{
    return (m[i / 64] >> (i % 64)) & 1;
}

static void test_nodelist(void **state)
{
    static const struct {
        const char *in;
        int rc;
        const char *bits; /* '1' per allowed node among the first 8 */
    } cases[] = {
        {"0", 0, "10000000"},
        {"0-3", 0, "11110000"},
        {"0,2-3", 0, "10110000"},
        {"7,1", 0, "01000001"},
        {"1-1", 0, "01000000"},
        {"", 0, "00000000"},
        {"1023", 0, "00000000"},
        /* hostile */
        {"1024", -EBADMSG, ""},
        {"3-1", -EBADMSG, ""},
        {"0-", -EBADMSG, ""},
        {"-1", -EBADMSG, ""},
        {"0,", -EBADMSG, ""},
        {",0", -EBADMSG, ""},
        {"0,,1", -EBADMSG, ""},
        {"0 1", -EBADMSG, ""},
        {"a", -EBADMSG, ""},
        {"0\n", -EBADMSG, ""},
        {"99999999999999999999", -EBADMSG, ""},
        {"0-99999999999999999999", -EBADMSG, ""},
    };
    uint64_t mask[MG_PROC_NODE_WORDS];
    size_t i;
    unsigned b;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        int rc = mg_proc_parse_nodelist(cases[i].in, strlen(cases[i].in), mask);
        if (rc != cases[i].rc) {
            fail_msg("nodelist case %zu '%s': rc %d", i, cases[i].in, rc);
        }
        for (b = 0; rc == 0 && b < 8; b++) {
            if (bit(mask, b) != (cases[i].bits[b] == '1')) {
                fail_msg("nodelist case %zu '%s': bit %u", i, cases[i].in, b);
            }
        }
    }
    assert_int_equal(mg_proc_parse_nodelist("1023", 4, mask), 0);
    assert_true(bit(mask, 1023));
}

static void test_mems_allowed(void **state)
{
    uint64_t mask[MG_PROC_NODE_WORDS];
    size_t len;
    char *buf;

    (void)state;
    buf = mg_test_slurp("proc/debian12-v1/proc/self/status", &len);
    assert_int_equal(mg_proc_parse_mems_allowed(buf, len, mask), 0);
    assert_true(bit(mask, 0));
    assert_false(bit(mask, 1));
    free(buf);
    buf = mg_test_slurp("proc/numa-4node-cpuset/proc/self/status", &len);
    assert_int_equal(mg_proc_parse_mems_allowed(buf, len, mask), 0);
    assert_true(bit(mask, 0) && !bit(mask, 1) && bit(mask, 2) && bit(mask, 3));
    free(buf);
    buf = mg_test_slurp("proc/truncated/proc/self/status", &len);
    assert_int_equal(mg_proc_parse_mems_allowed(buf, len, mask), -EBADMSG);
    free(buf);
    assert_int_equal(mg_proc_parse_mems_allowed("Name:\thttpd\n", 12, mask),
                     -ENOMSG);
    assert_int_equal(
        mg_proc_parse_mems_allowed("Mems_allowed_list:\t0-x\n", 23, mask),
        -EBADMSG);
    assert_int_equal(mg_proc_parse_mems_allowed("", 0, mask), -EBADMSG);
    /* "Mems_allowed:" (the hex mask) must not be taken for the list */
    assert_int_equal(
        mg_proc_parse_mems_allowed("Mems_allowed:\t00000001\n", 23, mask),
        -ENOMSG);
}

#define NODE_OK                                                                \
    "Node 1 MemTotal:       32769040 kB\n"                                     \
    "Node 1 MemFree:          159196 kB\n"                                     \
    "Node 1 Active(file):    3377188 kB\n"                                     \
    "Node 1 Inactive(file):  8116912 kB\n"                                     \
    "Node 1 SReclaimable:     500492 kB\n"

static void test_node_meminfo(void **state)
{
    static const struct {
        const char *in;
        int node;
        int rc;
    } cases[] = {
        {NODE_OK, 1, 0},
        {NODE_OK "Node 1 HugePages_Total:     0\n", 1, 0},
        /* hostile */
        {"", 1, -EBADMSG},
        /* lines of shapes we do not know: skipped */
        {NODE_OK "MemTotal: 1 kB\n", 1, 0},
        {NODE_OK "Node 1 Unaccepted: n/a\nNode 1 Tiered (slow): 0 kB\n\n", 1,
         0},
        {NODE_OK "Node 0 Other:  5 kB\n", 1, 0},
        /* hostile: wanted keys on another node's lines, malformed, twice */
        {NODE_OK, 0, -EBADMSG},
        {NODE_OK "Node 1 MemFree:  1 kB\n", 1, -EBADMSG},
        {"Node 1 MemTotal:       32769040 kB\n", 1, -ENOMSG},
        {NODE_OK "Node 1 Slab:  x kB\n", 1, 0}, /* not wanted */
        {NODE_OK "Node 1 Slab:  1 kB", 1, -EBADMSG},
        {"Node 1 MemTotal:  18014398509481984 kB\n", 1, -EOVERFLOW},
        {NODE_OK, -1, -EINVAL},
    };
    mg_sample_node_t n;
    size_t i, len;
    char *buf;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        int rc = mg_proc_parse_node_meminfo(cases[i].in, strlen(cases[i].in),
                                            cases[i].node, &n);
        if (rc != cases[i].rc) {
            fail_msg("node meminfo case %zu: rc %d", i, rc);
        }
    }
    assert_int_equal(
        mg_proc_parse_node_meminfo(NODE_OK, strlen(NODE_OK), 1, &n), 0);
    assert_int_equal(n.node, 1);
    assert_int_equal(n.total, 32769040 * KB);
    assert_int_equal(n.free, 159196 * KB);
    assert_int_equal(n.file, (3377188 + 8116912) * KB);
    assert_int_equal(n.sreclaimable, 500492 * KB);
    assert_int_equal(n.available, 159196 * KB + (3377188 + 8116912) * KB / 2 +
                                      500492 * KB / 2);

    buf = mg_test_slurp("proc/debian12-v1/sys/devices/system/node/node0/"
                        "meminfo",
                        &len);
    assert_int_equal(mg_proc_parse_node_meminfo(buf, len, 0, &n), 0);
    assert_int_equal(n.total, 5466324 * KB);
    free(buf);
    /* the same node file with a future kernel's lines of new shapes */
    {
        mg_sample_node_t f;

        buf = mg_test_slurp("proc/future-shapes/sys/devices/system/node/"
                            "node0/meminfo",
                            &len);
        memset(&f, 0xff, sizeof(f));
        assert_int_equal(mg_proc_parse_node_meminfo(buf, len, 0, &f), 0);
        assert_memory_equal(&n, &f, sizeof(n));
        free(buf);
    }
    buf = mg_test_slurp("proc/rhel7-3.10-nfs-slab/sys/devices/system/node/"
                        "node0/meminfo",
                        &len);
    assert_int_equal(mg_proc_parse_node_meminfo(buf, len, 0, &n), 0);
    free(buf);
    buf = mg_test_slurp("proc/garbage/sys/devices/system/node/node0/meminfo",
                        &len);
    assert_int_equal(mg_proc_parse_node_meminfo(buf, len, 0, &n), -EBADMSG);
    free(buf);
}

static void test_numa_nodes(void **state)
{
    static const struct {
        const char *tree;
        int rc;
        uint32_t n, skipped;
        int32_t first, last;
    } cases[] = {
        {"proc/debian12-v1", 0, 1, 0, 0, 0},
        {"proc/rhel8-4.18-2node", 0, 2, 0, 0, 1},
        {"proc/numa-4node-cpuset", 0, 3, 0, 0, 3},
        {"proc/numa-20node", 0, MG_SAMPLE_MAX_NODES, 4, 0, 15},
        {"proc/container-v1-nons", -ENODATA, 0, 0, 0, 0},
        /* status truncated: falls back to online, which is absent */
        {"proc/truncated", -ENODATA, 0, 0, 0, 0},
    };
    int32_t nodes[MG_SAMPLE_MAX_NODES];
    char root[1024], buf[8192];
    uint32_t n, sk;
    size_t i;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        int rc;
        mg_test_fixture(root, sizeof(root), cases[i].tree);
        rc = mg_proc_numa_nodes(root, buf, sizeof(buf), nodes,
                                MG_SAMPLE_MAX_NODES, &n, &sk);
        if (rc != cases[i].rc ||
            (rc == 0 &&
             (n != cases[i].n || sk != cases[i].skipped ||
              nodes[0] != cases[i].first || nodes[n - 1] != cases[i].last))) {
            fail_msg("numa %s: rc %d n %u skipped %u", cases[i].tree, rc, n,
                     sk);
        }
    }
    mg_test_fixture(root, sizeof(root), "proc/numa-4node-cpuset");
    assert_int_equal(
        mg_proc_numa_nodes(root, buf, sizeof(buf), nodes, 16, &n, NULL), 0);
    assert_int_equal(nodes[1], 2);
    /* the live machine: some node must be allowed if the directory is
     * there */
    if (access("/sys/devices/system/node", F_OK) == 0) {
        assert_int_equal(
            mg_proc_numa_nodes("/", buf, sizeof(buf), nodes, 16, &n, &sk), 0);
        assert_true(n >= 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nodelist),
        cmocka_unit_test(test_mems_allowed),
        cmocka_unit_test(test_node_meminfo),
        cmocka_unit_test(test_numa_nodes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
