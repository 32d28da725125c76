/*
 * test_mg_procpid.c - per-process files (statm, smaps_rollup, cmdline,
 * stat) and the scan of /proc for pids.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mg_procpid.h"
#include "mg_test.h"

#define KB 1024ULL
#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

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

/* The per-request parse: the resident size alone, the same answer as the
 * whole line's wherever the first two fields are well formed. */
static void test_statm_rss(void **state)
{
    static const struct {
        const char *in;
        int rc;
        uint64_t res;
    } cases[] = {
        {"730 439 411 5 0 89 0\n", 0, 439 * 4096},
        {"0 0 0 0 0 0 0\n", 0, 0},
        {"18446744073709551615 1 0 0 0 0 0\n", 0, 4096},
        /* hostile */
        {"", -EBADMSG, 0},
        {"730", -EBADMSG, 0},
        {"730 ", -EBADMSG, 0},
        {"730 439", -EBADMSG, 0},
        {"730 439\n", -EBADMSG, 0},
        {"730  439 411 5 0 89 0\n", -EBADMSG, 0},
        {" 730 439 411 5 0 89 0\n", -EBADMSG, 0},
        {"730 x 411 5 0 89 0\n", -EBADMSG, 0},
        {"730 -1 411 5 0 89 0\n", -EBADMSG, 0},
        {"730 439x 411 5 0 89 0\n", -EBADMSG, 0},
        {"730 4503599627370496 411 5 0 89 0\n", -EOVERFLOW, 0},
        {"730 99999999999999999999 411 5 0 89 0\n", -EOVERFLOW, 0},
        {"99999999999999999999 1 411 5 0 89 0\n", -EOVERFLOW, 0},
    };
    uint64_t rss;
    size_t i;

    (void)state;
    for (i = 0; i < NCASES(cases); i++) {
        int rc = mg_proc_parse_statm_rss(cases[i].in, strlen(cases[i].in), 4096,
                                         &rss);
        if (rc != cases[i].rc || (rc == 0 && rss != cases[i].res)) {
            fail_msg("statm rss case %zu: rc %d", i, rc);
        }
    }
    assert_int_equal(mg_proc_parse_statm_rss("1 2 3 4 5 6 7\n", 14, 0, &rss),
                     -EINVAL);
    assert_int_equal(mg_proc_parse_statm_rss(NULL, 0, 4096, &rss), -EINVAL);
}

static void test_statm_fd(void **state)
{
    char root[1024];
    mg_proc_statm_t st;
    uint64_t rss;
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
    assert_int_equal(mg_proc_read_statm_rss(fd, 4096, &rss), 0);
    assert_int_equal(rss, 78865ULL * 4096);
    close(fd);
    assert_int_equal(mg_proc_read_statm_rss(-1, 4096, &rss), -EINVAL);
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

/* ------------------------------------------------------------ pid scan */

typedef struct {
    pid_t pids[64];
    int n;
    int stop_after; /* 0: never */
} scan_t;

static int scan_cb(void *baton, pid_t pid)
{
    scan_t *sc = baton;

    if (sc->n < (int)NCASES(sc->pids)) {
        sc->pids[sc->n] = pid;
    }
    sc->n++;
    return sc->stop_after != 0 && sc->n >= sc->stop_after;
}

static int scan_has(const scan_t *sc, pid_t pid)
{
    int i;

    for (i = 0; i < sc->n && i < (int)NCASES(sc->pids); i++) {
        if (sc->pids[i] == pid) {
            return 1;
        }
    }
    return 0;
}

static int open_dir(const char *rel)
{
    char path[1024];
    int fd = open(mg_test_fixture(path, sizeof(path), rel),
                  O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    assert_true(fd >= 0);
    return fd;
}

/* A captured tree: one process (4242) beside meminfo, self, sys... */
static void test_scan_captured(void **state)
{
    scan_t sc = {{0}, 0, 0};
    int fd = open_dir("proc/debian12-v1/proc");

    (void)state;
    assert_int_equal(mg_proc_scan_pids(fd, 1000, scan_cb, &sc), 1);
    assert_int_equal(sc.n, 1);
    assert_int_equal(sc.pids[0], 4242);
    /* the fd is rewound: a second pass sees the same */
    sc.n = 0;
    assert_int_equal(mg_proc_scan_pids(fd, 1000, scan_cb, &sc), 1);
    assert_int_equal(sc.pids[0], 4242);
    close(fd);
}

/* Hostile names: only whole decimal numbers above 1 that fit a pid_t. */
static void test_scan_hostile(void **state)
{
    scan_t sc = {{0}, 0, 0};
    int fd = open_dir("proc/scan-hostile/proc");
    long n;

    (void)state;
    n = mg_proc_scan_pids(fd, 1000, scan_cb, &sc);
    assert_int_equal(n, 5);
    assert_int_equal(sc.n, 5);
    assert_true(scan_has(&sc, 2));
    assert_true(scan_has(&sc, 300));
    assert_true(scan_has(&sc, 42)); /* "0042" */
    assert_true(scan_has(&sc, 4194304));
    assert_true(scan_has(&sc, 999999999));
    assert_false(scan_has(&sc, 1));
    assert_false(scan_has(&sc, 12));

    /* the callback stops the scan */
    sc.n = 0;
    sc.stop_after = 2;
    assert_int_equal(mg_proc_scan_pids(fd, 1000, scan_cb, &sc), 2);
    assert_int_equal(sc.n, 2);

    /* bounded: no entry looked at, none found; every entry counts */
    sc.n = 0;
    sc.stop_after = 0;
    assert_int_equal(mg_proc_scan_pids(fd, 0, scan_cb, &sc), 0);
    assert_int_equal(sc.n, 0);
    n = mg_proc_scan_pids(fd, 4, scan_cb, &sc);
    assert_true(n >= 0 && n <= 4);
    close(fd);
}

/* The real /proc holds this process; a file is no directory. */
static void test_scan_live(void **state)
{
    scan_t sc = {{0}, 0, 0};
    int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char path[1024];
    long n;

    (void)state;
    assert_true(fd >= 0);
    n = mg_proc_scan_pids(fd, 1000000, scan_cb, &sc);
    assert_true(n >= 1);
    if (sc.n <= (int)NCASES(sc.pids)) {
        assert_true(scan_has(&sc, getpid()));
    }
    close(fd);
    fd = open(
        mg_test_fixture(path, sizeof(path), "proc/debian12-v1/proc/meminfo"),
        O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(mg_proc_scan_pids(fd, 10, scan_cb, &sc), -ENOTDIR);
    close(fd);
    assert_int_equal(mg_proc_scan_pids(-1, 10, scan_cb, &sc), -EBADF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statm),
        cmocka_unit_test(test_statm_rss),
        cmocka_unit_test(test_statm_fd),
        cmocka_unit_test(test_smaps_rollup),
        cmocka_unit_test(test_cmdline),
        cmocka_unit_test(test_stat_ppid),
        cmocka_unit_test(test_scan_captured),
        cmocka_unit_test(test_scan_hostile),
        cmocka_unit_test(test_scan_live),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
