/*
 * test_mg_board.c - the board: layout checks, the seqlock under a real
 * concurrent writer, the method table under concurrent claimers, crash-safe
 * concurrency, the cost histogram, the recycle budget.
 *
 * Boards live in MAP_SHARED anonymous memory, as in httpd, so that forked
 * processes really share them.
 */
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mg_test.h"
#include "mg_board.h"

typedef struct {
    void *mem;
    size_t size;
    mg_board_t *b;
} board_t;

static void board_new(board_t *bd, uint32_t nslots, uint32_t nmethods)
{
    bd->size = mg_board_size(nslots, nmethods);
    assert_true(bd->size > 0);
    bd->mem = mmap(NULL, bd->size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(bd->mem != MAP_FAILED);
    assert_int_equal(mg_board_init(bd->mem, bd->size, nslots, nmethods, &bd->b),
                     0);
}

static void board_free(board_t *bd)
{
    munmap(bd->mem, bd->size);
}

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

/* Wait for a forked child; fail unless it exited 0. */
static void reap_ok(pid_t pid)
{
    int st;

    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fail_msg("child %d failed (status 0x%x)", (int)pid, st);
    }
}

/* ---- lifecycle ----------------------------------------------------------- */

static void test_size_and_init(void **state)
{
    board_t bd;
    size_t need = mg_board_size(256, 64);
    void *mem;
    mg_board_t *b = NULL;

    (void)state;
    assert_int_equal(mg_board_size(0, 64), 0);
    assert_int_equal(mg_board_size(256, 0), 0);
    assert_int_equal(mg_board_size(MG_BOARD_MAX_SLOTS + 1, 64), 0);
    assert_int_equal(mg_board_size(256, MG_BOARD_MAX_METHODS + 1), 0);
    assert_true(need > 0 && need % 64 == 0);
    /* the board grows with both counts */
    assert_true(mg_board_size(257, 64) > need);
    assert_true(mg_board_size(256, 65) > need);
    assert_true(mg_board_size(MG_BOARD_MAX_SLOTS, MG_BOARD_MAX_METHODS) > 0);

    mem = aligned_alloc(64, need + 64);
    assert_non_null(mem);
    assert_int_equal(mg_board_init(NULL, need, 256, 64, &b), -EINVAL);
    assert_int_equal(mg_board_init((char *)mem + 8, need, 256, 64, &b),
                     -EINVAL);
    assert_int_equal(mg_board_init(mem, need - 1, 256, 64, &b), -ENOSPC);
    assert_int_equal(mg_board_init(mem, need, 0, 64, &b), -EINVAL);
    assert_int_equal(mg_board_init(mem, need, 256, 0, &b), -EINVAL);
    assert_int_equal(mg_board_init(mem, need, 256, 64, &b), 0);
    assert_ptr_equal(b, mem);
    assert_int_equal(mg_board_nslots(b), 256);
    assert_int_equal(mg_board_nmethods(b), 64);
    assert_int_equal(mg_board_method_other(b), 64);
    assert_int_equal(mg_board_generation(b), 0);
    assert_int_equal(mg_board_verdict_load(b), 0);
    assert_int_equal(mg_board_generation_bump(b), 1);
    assert_int_equal(mg_board_generation_bump(b), 2);
    assert_int_equal(mg_board_sampler_starts_bump(b), 1);
    assert_int_equal(mg_board_sampler_starts(b), 1);
    assert_int_equal(mg_board_sampler_replaced(b), 0);
    assert_int_equal(mg_board_sampler_replaced_bump(b), 1);
    assert_int_equal(mg_board_sampler_replaced(b), 1);
    {
        uint64_t pass = 9, smaps = 9;

        mg_board_proc_times(b, &pass, &smaps);
        assert_int_equal(pass, 0);
        assert_int_equal(smaps, 0);
        mg_board_proc_times_set(b, 100, 0); /* 0 leaves a time alone */
        mg_board_proc_times_set(b, 0, 50);
        mg_board_proc_times(b, &pass, &smaps);
        assert_int_equal(pass, 100);
        assert_int_equal(smaps, 50);
        mg_board_proc_times(b, NULL, NULL);
    }
    free(mem);

    board_new(&bd, 4, 8);
    board_free(&bd);
}

static void test_attach(void **state)
{
    size_t need = mg_board_size(16, 8);
    unsigned char *mem = aligned_alloc(64, need);
    mg_board_t *b = NULL;
    size_t i;
    uint32_t x = 12345;

    (void)state;
    assert_non_null(mem);
    /* zeroes, then random garbage: never a board */
    memset(mem, 0, need);
    assert_int_equal(mg_board_attach(mem, need, 16, 8, &b), -EPROTO);
    for (i = 0; i < need; i++) {
        x = x * 1103515245u + 12345u;
        mem[i] = (unsigned char)(x >> 16);
    }
    assert_int_equal(mg_board_attach(mem, need, 16, 8, &b), -EPROTO);
    assert_int_equal(mg_board_attach(NULL, need, 16, 8, &b), -EINVAL);
    assert_int_equal(mg_board_attach(mem + 1, need, 16, 8, &b), -EINVAL);
    assert_int_equal(mg_board_attach(mem, 4, 16, 8, &b), -ENOSPC);

    /* a real board, kept over a "restart" with its counters */
    assert_int_equal(mg_board_init(mem, need, 16, 8, &b), 0);
    mg_board_generation_bump(b);
    assert_int_equal(mg_board_slot_start(b, 3, 4242, 1), 0);
    b = NULL;
    assert_int_equal(mg_board_attach(mem, need, 16, 8, &b), 0);
    assert_ptr_equal(b, mem);
    assert_int_equal(mg_board_generation(b), 1);
    assert_int_equal(mg_board_attach(mem, need, 16, 8, NULL), 0);

    /* configuration changed: the glue must re-create */
    assert_int_equal(mg_board_attach(mem, need, 17, 8, &b), -ENOSPC);
    assert_int_equal(mg_board_attach(mem, need, 8, 8, &b), -ESTALE);
    assert_int_equal(mg_board_attach(mem, need, 16, 4, &b), -ESTALE);
    assert_int_equal(mg_board_attach(mem, need - 64, 16, 8, &b), -ENOSPC);
    assert_int_equal(mg_board_attach(mem, need, 0, 8, &b), -EINVAL);

    /* magic right, layout version of another build */
    mem[8] ^= 0x40;
    assert_int_equal(mg_board_attach(mem, need, 16, 8, &b), -EPROTO);
    mem[8] ^= 0x40;
    assert_int_equal(mg_board_attach(mem, need, 16, 8, &b), 0);
    /* magic right, the rest garbage (e.g. a region offset) */
    mem[40] ^= 0x01;
    assert_int_equal(mg_board_attach(mem, need, 16, 8, &b), -ESTALE);
    mem[0] ^= 0x01;
    assert_int_equal(mg_board_attach(mem, need, 16, 8, &b), -EPROTO);
    free(mem);
}

/* ---- verdict word and system record -------------------------------------- */

static void test_verdict_word(void **state)
{
    board_t bd;
    mg_board_sys_t rec, got;
    mg_board_verdict_t w;

    (void)state;
    board_new(&bd, 2, 2);
    w = mg_board_verdict_pack(2, 7, 123456789);
    assert_int_equal(MG_BOARD_VERDICT_STATE(w), 2);
    assert_int_equal(MG_BOARD_VERDICT_SIGNAL(w), 7);
    assert_int_equal(MG_BOARD_VERDICT_TIME_US(w), 123456000);
    /* hostile: out-of-range fields do not bleed into each other */
    w = mg_board_verdict_pack(0x1ff, 0x1ff, UINT64_MAX);
    assert_int_equal(MG_BOARD_VERDICT_STATE(w), 0xff);
    assert_int_equal(MG_BOARD_VERDICT_SIGNAL(w), 0xff);

    assert_int_equal(mg_board_sys_read(bd.b, &got, 1), 0);
    assert_int_equal(got.samples, 0);
    memset(&rec, 0, sizeof(rec));
    rec.state = 1;
    rec.signal = 3;
    rec.last_sample_us = 5000000;
    rec.samples = 9;
    rec.sample.mem_total = 16ULL << 30;
    mg_board_sys_publish(bd.b, &rec);
    w = mg_board_verdict_load(bd.b);
    assert_int_equal(MG_BOARD_VERDICT_STATE(w), 1);
    assert_int_equal(MG_BOARD_VERDICT_SIGNAL(w), 3);
    assert_int_equal(MG_BOARD_VERDICT_TIME_US(w), 5000000);
    assert_int_equal(mg_board_sys_read(bd.b, &got, 0), 0);
    assert_memory_equal(&got, &rec, sizeof(rec));
    board_free(&bd);
}

/* One staleness episode is claimed once, a new one again. */
static void test_stale_log_claim(void **state)
{
    board_t bd;

    (void)state;
    board_new(&bd, 2, 2);
    assert_int_equal(mg_board_stale_log_claim(bd.b, 5001), 1);
    assert_int_equal(mg_board_stale_log_claim(bd.b, 5001), 0);
    assert_int_equal(mg_board_stale_log_claim(bd.b, 5001), 0);
    assert_int_equal(mg_board_stale_log_claim(bd.b, 9001), 1);
    assert_int_equal(mg_board_stale_log_claim(bd.b, 5001), 1);
    /* the verdict word is another word */
    assert_int_equal(mg_board_verdict_load(bd.b), 0);
    board_free(&bd);
}

static void test_history_ring(void **state)
{
    mg_board_sys_t rec;
    mg_board_transition_t t;
    uint32_t i;

    (void)state;
    memset(&rec, 0, sizeof(rec));
    assert_null(mg_board_sys_history_at(&rec, 0));
    memset(&t, 0, sizeof(t));
    for (i = 0; i < 20; i++) {
        t.time_us = i;
        mg_board_sys_add_transition(&rec, &t);
        assert_int_equal(mg_board_sys_history_at(&rec, 0)->time_us, i);
    }
    assert_int_equal(rec.ntransitions, 20);
    for (i = 0; i < MG_BOARD_HISTORY; i++) {
        assert_int_equal(mg_board_sys_history_at(&rec, i)->time_us, 19 - i);
    }
    assert_null(mg_board_sys_history_at(&rec, MG_BOARD_HISTORY));
    assert_null(mg_board_sys_history_at(&rec, UINT32_MAX));
}

/* Every 64-bit word of the record set to the same number. */
static void fill_pattern(mg_board_sys_t *rec, uint64_t v)
{
    uint64_t words[sizeof(*rec) / 8];
    size_t i;

    for (i = 0; i < sizeof(words) / 8; i++) {
        words[i] = v;
    }
    memcpy(rec, words, sizeof(words));
}

static int pattern_ok(const mg_board_sys_t *rec, uint64_t *v)
{
    uint64_t words[sizeof(*rec) / 8];
    size_t i;

    memcpy(words, rec, sizeof(words));
    for (i = 1; i < sizeof(words) / 8; i++) {
        if (words[i] != words[0]) {
            return 0;
        }
    }
    *v = words[0];
    return 1;
}

/*
 * A forked writer publishes records whose words all carry the same number,
 * as fast as it can; the reader must never see two different numbers in
 * one copy, and must see the numbers go up.
 */
static void test_seqlock_concurrent(void **state)
{
    _Static_assert(sizeof(mg_board_sys_t) % 8 == 0, "record in words");
    board_t bd;
    mg_board_sys_t rec;
    volatile uint64_t *stop;
    pid_t pid;
    uint64_t v = 0, last = 0, reads = 0, busy = 0, changes = 0;
    uint64_t end;

    (void)state;
    board_new(&bd, 2, 2);
    stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                -1, 0);
    assert_true(stop != MAP_FAILED);
    *stop = 0;
    fill_pattern(&rec, 0);
    mg_board_sys_publish(bd.b, &rec);

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint64_t i;

        for (i = 1; !__atomic_load_n(stop, __ATOMIC_RELAXED); i++) {
            fill_pattern(&rec, i);
            mg_board_sys_publish(bd.b, &rec);
        }
        _exit(0);
    }
    end = now_us() + 700000;
    while (now_us() < end) {
        if (mg_board_sys_read(bd.b, &rec, 1000) != 0) {
            busy++;
            continue;
        }
        reads++;
        if (!pattern_ok(&rec, &v)) {
            __atomic_store_n(stop, 1, __ATOMIC_RELAXED);
            reap_ok(pid);
            fail_msg("torn record after %llu reads", (unsigned long long)reads);
        }
        if (v < last) {
            fail_msg("record went back from %llu to %llu",
                     (unsigned long long)last, (unsigned long long)v);
        }
        changes += v != last;
        last = v;
    }
    __atomic_store_n(stop, 1, __ATOMIC_RELAXED);
    reap_ok(pid);
    assert_true(reads > 100);
    assert_true(changes > 2); /* the writer really ran concurrently */
    print_message("seqlock: %llu reads, %llu values, %llu busy\n",
                  (unsigned long long)reads, (unsigned long long)changes,
                  (unsigned long long)busy);
    munmap((void *)stop, 4096);
    board_free(&bd);
}

/*
 * A sampler SIGKILLed in the middle of a write leaves the sequence odd; the
 * next sampler's first publish must make the record readable again.
 */
static void test_seqlock_writer_killed(void **state)
{
    board_t bd;
    mg_board_sys_t rec, got;
    uint64_t v = 0;
    int i;

    (void)state;
    board_new(&bd, 2, 2);
    for (i = 0; i < 20; i++) {
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
            uint64_t n;

            for (n = 1;; n++) {
                fill_pattern(&rec, n);
                mg_board_sys_publish(bd.b, &rec);
            }
        }
        usleep(2000 + (useconds_t)i * 300);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fill_pattern(&rec, 777);
        mg_board_sys_publish(bd.b, &rec);
        assert_int_equal(mg_board_sys_read(bd.b, &got, 1), 0);
        assert_true(pattern_ok(&got, &v));
        assert_int_equal(v, 777);
    }
    board_free(&bd);
}

/* ---- method table -------------------------------------------------------- */

static void test_method_names(void **state)
{
    board_t bd;
    mg_board_t *b;
    uint32_t other, a, c;
    char big[10240], big2[10240];
    mg_board_method_info_t mi;
    static const struct {
        const char *name;
        size_t len;
    } refused[] = {
        {"", 0},          {"a\0b", 3},     {"\0", 1},      {"get\nHost", 8},
        {"get\tHost", 8}, {"get Host", 8}, {"\x1b[2J", 4}, {"caf\xc3\xa9", 5},
        {"del\x7f", 4},   {"x\xff", 2},
    };
    size_t i;

    (void)state;
    board_new(&bd, 4, 8);
    b = bd.b;
    other = mg_board_method_other(b);
    assert_int_equal(other, 8);

    assert_int_equal(mg_board_method_find(b, "getBuild", 8), -ENOENT);
    a = mg_board_method_get(b, "getBuild", 8);
    assert_true(a < other);
    assert_int_equal(mg_board_method_get(b, "getBuild", 8), a);
    assert_int_equal(mg_board_method_find(b, "getBuild", 8), (int)a);
    /* length, not the NUL, delimits the name */
    assert_int_equal(mg_board_method_get(b, "getBuildX", 8), a);
    c = mg_board_method_get(b, "getBuil", 7);
    assert_true(c < other && c != a);
    assert_int_equal(mg_board_method_snapshot(b, a, &mi), 0);
    assert_string_equal(mi.name, "getBuild");

    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (mg_board_method_get(b, refused[i].name, refused[i].len) != other) {
            fail_msg("refused name #%zu was stored", i);
        }
        assert_int_equal(
            mg_board_method_find(b, refused[i].name, refused[i].len), -ENOENT);
    }
    assert_int_equal(mg_board_method_get(b, NULL, 5), other);

    /* 10 KB names: keyed by their first 64 bytes */
    memset(big, 'a', sizeof(big));
    memcpy(big2, big, sizeof(big2));
    big2[sizeof(big2) - 1] = 'b';
    a = mg_board_method_get(b, big, sizeof(big));
    assert_true(a < other);
    assert_int_equal(mg_board_method_get(b, big2, sizeof(big2)), a);
    assert_int_equal(mg_board_method_get(b, big, MG_BOARD_METHOD_NAME_MAX), a);
    assert_int_equal(mg_board_method_get(b, big, MG_BOARD_METHOD_NAME_MAX + 1),
                     a);
    assert_true(mg_board_method_get(b, big, MG_BOARD_METHOD_NAME_MAX - 1) != a);
    assert_int_equal(mg_board_method_snapshot(b, a, &mi), 0);
    assert_int_equal(strlen(mi.name), MG_BOARD_METHOD_NAME_MAX);
    /* a 10 KB name with a control character deep inside is refused only
     * if the bad byte is within the key */
    big2[100] = '\n';
    assert_int_equal(mg_board_method_get(b, big2, sizeof(big2)), a);
    big2[10] = '\n';
    assert_int_equal(mg_board_method_get(b, big2, sizeof(big2)), other);

    /* "other" is there from the start, under the empty name */
    assert_int_equal(mg_board_method_snapshot(b, other, &mi), 0);
    assert_string_equal(mi.name, "");
    assert_int_equal(mg_board_method_snapshot(b, other + 1, &mi), -EINVAL);
    assert_int_equal(mg_board_method_snapshot(b, UINT32_MAX, &mi), -EINVAL);
    board_free(&bd);
}

static void test_method_table_full(void **state)
{
    board_t bd;
    mg_board_t *b;
    char name[32];
    uint32_t idx[8], i, j, other;
    mg_board_method_info_t mi;

    (void)state;
    board_new(&bd, 2, 8);
    b = bd.b;
    other = mg_board_method_other(b);
    for (i = 0; i < 8; i++) {
        assert_int_equal(mg_board_method_snapshot(b, i, &mi), -ENOENT);
    }
    for (i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "method.%u", i);
        idx[i] = mg_board_method_get(b, name, strlen(name));
        assert_true(idx[i] < other);
        for (j = 0; j < i; j++) {
            assert_true(idx[j] != idx[i]);
        }
    }
    /* full: new names all land in "other", old ones keep their entry */
    for (i = 8; i < 1000; i++) {
        snprintf(name, sizeof(name), "method.%u", i);
        assert_int_equal(mg_board_method_get(b, name, strlen(name)), other);
        assert_int_equal(mg_board_method_find(b, name, strlen(name)), -ENOENT);
    }
    for (i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "method.%u", i);
        assert_int_equal(mg_board_method_get(b, name, strlen(name)), idx[i]);
        assert_int_equal(mg_board_method_snapshot(b, idx[i], &mi), 0);
        assert_string_equal(mi.name, name);
    }
    board_free(&bd);
}

#define CLAIMERS 4
#define CLAIM_NAMES 10000

/*
 * Several processes claim the same 10 000 names, each in its own order.
 * Afterwards the table must hold exactly nmethods names, no name twice,
 * and every process must have been given the same index for a name.
 */
static void test_method_claim_concurrent(void **state)
{
    board_t bd;
    mg_board_t *b;
    uint32_t *seen, other, n, i, p;
    pid_t pids[CLAIMERS];
    mg_board_method_info_t mi[64];
    char name[32];

    (void)state;
    board_new(&bd, 2, 64);
    b = bd.b;
    other = mg_board_method_other(b);
    seen = mmap(NULL, sizeof(uint32_t) * CLAIMERS * CLAIM_NAMES,
                PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(seen != MAP_FAILED);
    memset(seen, 0xff, sizeof(uint32_t) * CLAIMERS * CLAIM_NAMES);
    for (p = 0; p < CLAIMERS; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            /* strides prime to 10 000: each process visits every name */
            static const uint32_t stride[CLAIMERS] = {1, 3, 7, 9999};

            for (i = 0; i < CLAIM_NAMES; i++) {
                uint32_t k = (i * stride[p] + p * 977) % CLAIM_NAMES;
                int len = snprintf(name, sizeof(name), "hub.call%u", k);

                seen[p * CLAIM_NAMES + k] =
                    mg_board_method_get(b, name, (size_t)len);
            }
            _exit(0);
        }
    }
    for (p = 0; p < CLAIMERS; p++) {
        reap_ok(pids[p]);
    }
    for (n = 0, i = 0; i < 64; i++) {
        uint32_t j;

        if (mg_board_method_snapshot(b, i, &mi[n]) != 0) {
            continue;
        }
        for (j = 0; j < n; j++) {
            if (strcmp(mi[j].name, mi[n].name) == 0) {
                fail_msg("name %s stored twice", mi[n].name);
            }
        }
        n++;
    }
    assert_int_equal(n, 64);
    for (i = 0; i < CLAIM_NAMES; i++) {
        int len = snprintf(name, sizeof(name), "hub.call%u", i);
        int f = mg_board_method_find(b, name, (size_t)len);
        uint32_t want = f >= 0 ? (uint32_t)f : other;

        for (p = 0; p < CLAIMERS; p++) {
            if (seen[p * CLAIM_NAMES + i] != want) {
                fail_msg("process %u got %u for %s, table says %u", p,
                         seen[p * CLAIM_NAMES + i], name, want);
            }
        }
    }
    munmap(seen, sizeof(uint32_t) * CLAIMERS * CLAIM_NAMES);
    board_free(&bd);
}

/* ---- concurrency limits -------------------------------------------------- */

static void test_concurrency(void **state)
{
    board_t bd;
    mg_board_t *b;
    uint32_t m, o;
    int i;

    (void)state;
    board_new(&bd, 4, 8);
    b = bd.b;
    m = mg_board_method_get(b, "listHistory", 11);
    o = mg_board_method_other(b);

    assert_int_equal(mg_board_method_acquire(b, 0, m, 2), 0);
    assert_int_equal(mg_board_method_acquire(b, 1, m, 2), 0);
    assert_int_equal(mg_board_method_acquire(b, 2, m, 2), -EBUSY);
    assert_int_equal(mg_board_method_inflight(b, m), 2);
    /* a refused acquire leaves no holding behind */
    assert_int_equal(mg_board_slot_holding(b, 2, m), 0);
    mg_board_method_release(b, 1, m);
    assert_int_equal(mg_board_method_acquire(b, 2, m, 2), 0);
    assert_int_equal(mg_board_method_acquire(b, 2, m, 2), -EBUSY);
    /* limit 0: counts, never refuses; "other" works like any entry */
    for (i = 0; i < 100; i++) {
        assert_int_equal(mg_board_method_acquire(b, 3, o, 0), 0);
    }
    assert_int_equal(mg_board_method_inflight(b, o), 100);
    assert_int_equal(mg_board_slot_holding(b, 3, o), 100);

    /* a release without a holding must not eat another slot's call */
    mg_board_method_release(b, 1, m);
    mg_board_method_release(b, 3, m);
    assert_int_equal(mg_board_method_inflight(b, m), 2);

    /* hostile indexes */
    assert_int_equal(mg_board_method_acquire(b, 4, m, 2), -EINVAL);
    assert_int_equal(mg_board_method_acquire(b, 0, o + 1, 2), -EINVAL);
    assert_int_equal(mg_board_method_acquire(b, UINT32_MAX, UINT32_MAX, 0),
                     -EINVAL);
    mg_board_method_release(b, 99, m);
    assert_int_equal(mg_board_method_inflight(b, UINT32_MAX), 0);
    assert_int_equal(mg_board_slot_holding(b, 99, m), 0);

    /* slot 2 "crashes": its holding comes back, the others stay */
    assert_int_equal(mg_board_slot_reset(b, 2), 1);
    assert_int_equal(mg_board_method_inflight(b, m), 1);
    assert_int_equal(mg_board_slot_holding(b, 2, m), 0);
    assert_int_equal(mg_board_slot_reset(b, 2), 0);
    assert_int_equal(mg_board_slot_reset(b, 3), 100);
    assert_int_equal(mg_board_method_inflight(b, o), 0);
    assert_int_equal(mg_board_slot_reset(b, 4), -EINVAL);
    mg_board_method_release(b, 0, m);
    assert_int_equal(mg_board_method_inflight(b, m), 0);

    /* a slot's holding is a uint16: refused, not wrapped */
    for (i = 0; i < 65535; i++) {
        assert_int_equal(mg_board_method_acquire(b, 1, m, 0), 0);
    }
    assert_int_equal(mg_board_method_acquire(b, 1, m, 0), -EOVERFLOW);
    assert_int_equal(mg_board_method_inflight(b, m), 65535);
    assert_int_equal(mg_board_slot_reset(b, 1), 65535);
    assert_int_equal(mg_board_method_inflight(b, m), 0);
    board_free(&bd);
}

/*
 * Real processes: children take calls and are SIGKILLed holding them; the
 * parent's slot_reset must give every one back, and the limit must admit
 * again afterwards.
 */
static void test_concurrency_crash(void **state)
{
    board_t bd;
    mg_board_t *b;
    uint32_t m;
    pid_t pids[3];
    int k, *ready;

    (void)state;
    board_new(&bd, 3, 4);
    b = bd.b;
    m = mg_board_method_get(b, "buildArch", 9);
    ready = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
    assert_true(ready != MAP_FAILED);
    for (k = 0; k < 3; k++) {
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            int got = 0;

            mg_board_slot_start(b, (uint32_t)k, getpid(), 1);
            while (mg_board_method_acquire(b, (uint32_t)k, m, 5) == 0) {
                got++;
            }
            __atomic_add_fetch(&ready[0], got, __ATOMIC_SEQ_CST);
            __atomic_add_fetch(&ready[1], 1, __ATOMIC_SEQ_CST);
            for (;;) {
                pause();
            }
        }
    }
    while (__atomic_load_n(&ready[1], __ATOMIC_SEQ_CST) < 3) {
        usleep(1000);
    }
    assert_int_equal(ready[0], 5);
    assert_int_equal(mg_board_method_inflight(b, m), 5);
    assert_int_equal(mg_board_method_acquire(b, 0, m, 5), -EBUSY);
    for (k = 0; k < 3; k++) {
        kill(pids[k], SIGKILL);
        waitpid(pids[k], NULL, 0);
        assert_true(mg_board_slot_reset(b, (uint32_t)k) >= 0);
    }
    assert_int_equal(mg_board_method_inflight(b, m), 0);
    assert_int_equal(mg_board_method_acquire(b, 0, m, 5), 0);
    munmap(ready, 4096);
    board_free(&bd);
}

/* ---- slots --------------------------------------------------------------- */

static void test_slots(void **state)
{
    board_t bd;
    mg_board_t *b;
    mg_board_slot_info_t si;
    uint64_t v = 0, l = 0, req, done;
    uint32_t m;

    (void)state;
    board_new(&bd, 4, 4);
    b = bd.b;
    m = mg_board_method_get(b, "getTag", 6);
    mg_board_generation_bump(b);
    assert_int_equal(mg_board_slot_start(b, 1, 100, 55), 0);
    assert_int_equal(mg_board_slot_start(b, 4, 100, 55), -EINVAL);
    assert_int_equal(mg_board_slot_start(b, 1, 0, 55), -EINVAL);
    assert_int_equal(mg_board_slot_start(b, 1, -3, 55), -EINVAL);

    mg_board_request_begin(b, 1, 0);
    mg_board_request_begin(b, 1, 0);
    mg_board_request_end(b, 1, 300 << 20, 200 << 20);
    mg_board_request_end(b, 1, 100 << 20, -(200 << 20));
    mg_board_request_end(b, 1, 100 << 20, 0); /* unbalanced: floor 0 */
    mg_board_request_begin(b, 7, 0);          /* ignored */
    mg_board_reject(b, 1, m, MG_REASON_SHED);
    mg_board_reject(b, 1, UINT32_MAX, MG_REASON_BODY_SIZE);
    mg_board_reject(b, 1, m, MG_REASON__COUNT); /* ignored */
    mg_board_reject(b, 1, m, (mg_reason_t)-1);  /* ignored */
    assert_int_equal(mg_board_slot_set_unshared(b, 1, 100, 42 << 20), 0);
    assert_int_equal(mg_board_slot_set_unshared(b, 1, 101, 1), -ESRCH);
    assert_int_equal(mg_board_slot_set_unshared(b, 9, 100, 1), -EINVAL);

    assert_int_equal(mg_board_slot_snapshot(b, 1, &si), 0);
    assert_int_equal(si.pid, 100);
    assert_int_equal(si.generation, 1);
    assert_int_equal(si.started_us, 55);
    assert_int_equal(si.requests, 3);
    assert_int_equal(si.inflight, 0);
    assert_int_equal(si.rss, 100 << 20);
    assert_int_equal(si.peak_rss, 300 << 20);
    assert_int_equal(si.last_delta, 0);
    assert_int_equal(si.unshared, 42 << 20);
    assert_int_equal(si.rejections[MG_REASON_SHED], 1);
    assert_int_equal(si.rejections[MG_REASON_BODY_SIZE], 1);
    assert_int_equal(si.recycle_reason, 0);
    assert_int_equal(mg_board_slot_snapshot(b, 4, &si), -EINVAL);
    assert_int_equal(mg_board_slot_snapshot(b, 1, NULL), -EINVAL);

    /* recycle flag: first one wins, its numbers stay */
    assert_int_equal(mg_board_slot_recycle_get(b, 1, &v, &l), 0);
    assert_int_equal(mg_board_slot_recycle_request(b, 1, 100, 0, 1, 2),
                     -EINVAL);
    assert_int_equal(mg_board_slot_recycle_request(b, 1, 100, UINT32_MAX, 1, 2),
                     -EINVAL);
    assert_int_equal(mg_board_slot_recycle_request(b, 1, 99, 1, 1, 2), -ESRCH);
    assert_int_equal(mg_board_slot_recycle_request(b, 1, 100, 1, 900, 800), 0);
    assert_int_equal(mg_board_slot_recycle_request(b, 1, 100, 3, 5, 6),
                     -EALREADY);
    assert_int_equal(mg_board_slot_recycle_get(b, 1, &v, &l), 1);
    assert_int_equal(v, 900);
    assert_int_equal(l, 800);
    assert_int_equal(mg_board_slot_recycle_get(b, 1, NULL, NULL), 1);
    assert_int_equal(mg_board_slot_recycle_get(b, 42, &v, &l), 0);
    mg_board_slot_recycle_done(b, 1);
    assert_int_equal(mg_board_slot_snapshot(b, 1, &si), 0);
    assert_int_equal(si.recycle_reason, 1);
    assert_int_equal(si.recycle_value, 900);
    assert_int_equal(si.recycles_requested, 1);
    assert_int_equal(si.recycles_done, 1);

    /* the child exits: slot cleared, board totals kept */
    assert_int_equal(mg_board_slot_reset(b, 1), 0);
    assert_int_equal(mg_board_slot_snapshot(b, 1, &si), 0);
    assert_int_equal(si.pid, 0);
    assert_int_equal(si.requests, 0);
    assert_int_equal(si.recycle_reason, 0);
    assert_int_equal(si.rejections[MG_REASON_SHED], 0);
    assert_int_equal(mg_board_slot_set_unshared(b, 1, 100, 1), -ESRCH);
    assert_int_equal(mg_board_slot_recycle_request(b, 1, 100, 1, 1, 1), -ESRCH);
    mg_board_recycle_totals(b, &req, &done);
    assert_int_equal(req, 1);
    assert_int_equal(done, 1);
    mg_board_recycle_totals(b, NULL, NULL);
    board_free(&bd);
}

/* ---- histogram ----------------------------------------------------------- */

static void test_hist_buckets(void **state)
{
    static const struct {
        int64_t v;
        uint32_t want;
    } cases[] = {
        {INT64_MIN, 0},
        {-1, 0},
        {0, 0},
        {4095, 0},
        {4096, 1},
        {6143, 1},
        {6144, 2},
        {8191, 2},
        {8192, 3},
        {12288, 4},
        {(1LL << 20), 1 + 2 * 8},
        {(1LL << 36) - 1, MG_BOARD_HIST_BUCKETS - 2},
        {(1LL << 36), MG_BOARD_HIST_BUCKETS - 1},
        {INT64_MAX, MG_BOARD_HIST_BUCKETS - 1},
    };
    size_t i;
    uint32_t k;

    (void)state;
    assert_int_equal(MG_BOARD_HIST_BUCKETS, 50);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (mg_board_hist_bucket(cases[i].v) != cases[i].want) {
            fail_msg("bucket(%lld) = %u, want %u", (long long)cases[i].v,
                     mg_board_hist_bucket(cases[i].v), cases[i].want);
        }
    }
    /* upper edges are exactly where the next bucket starts */
    for (k = 0; k + 1 < MG_BOARD_HIST_BUCKETS; k++) {
        uint64_t up = mg_board_hist_upper(k);

        assert_int_equal(mg_board_hist_bucket((int64_t)up), k);
        assert_int_equal(mg_board_hist_bucket((int64_t)up + 1), k + 1);
    }
    assert_int_equal(mg_board_hist_upper(MG_BOARD_HIST_BUCKETS - 1),
                     UINT64_MAX);
    assert_int_equal(mg_board_hist_upper(UINT32_MAX), UINT64_MAX);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Check the documented bound on one distribution of n values. */
static void check_p95(const char *what, uint64_t *vals, size_t n)
{
    uint64_t hist[MG_BOARD_HIST_BUCKETS] = {0};
    uint64_t max = 0, truth, est, bound;
    size_t i, rank;

    for (i = 0; i < n; i++) {
        hist[mg_board_hist_bucket((int64_t)vals[i])]++;
        max = vals[i] > max ? vals[i] : max;
    }
    qsort(vals, n, sizeof(vals[0]), cmp_u64);
    rank = (n * 950 + 999) / 1000;
    truth = vals[rank - 1];
    est = mg_board_hist_quantile(hist, 950, max);
    bound = truth + truth / 2;
    if (bound < 4095) {
        bound = 4095;
    }
    if (est < truth || est > bound) {
        fail_msg("%s: p95 %llu, estimate %llu, allowed [%llu, %llu]", what,
                 (unsigned long long)truth, (unsigned long long)est,
                 (unsigned long long)truth, (unsigned long long)bound);
    }
}

static void test_hist_p95(void **state)
{
    enum { N = 20000 };
    uint64_t *v = malloc(N * sizeof(uint64_t));
    uint64_t hist[MG_BOARD_HIST_BUCKETS] = {0};
    size_t i;
    int trial;

    (void)state;
    assert_non_null(v);
    for (trial = 0; trial < 50; trial++) {
        /* uniform over 0..1 GiB */
        for (i = 0; i < N; i++) {
            v[i] = rng() % (1ULL << 30);
        }
        check_p95("uniform", v, N);
        /* log-uniform 4 KiB .. 32 GiB: lands everywhere in the buckets */
        for (i = 0; i < N; i++) {
            v[i] = (1ULL << (12 + rng() % 23)) + rng() % (1ULL << 12);
        }
        check_p95("log-uniform", v, N);
        /* bimodal: 94% cheap calls, 6% huge ones */
        for (i = 0; i < N; i++) {
            v[i] = (rng() % 100 < 94) ? 64 * 1024 + rng() % 4096
                                      : (3ULL << 30) + rng() % (1 << 20);
        }
        check_p95("bimodal", v, N);
        /* small n */
        for (i = 0; i < 7; i++) {
            v[i] = rng() % (1ULL << 32);
        }
        check_p95("seven", v, 7);
    }
    /* all equal: capped at the max, so exact */
    for (i = 0; i < N; i++) {
        v[i] = 5000000;
    }
    check_p95("constant", v, N);
    for (i = 0; i < N; i++) {
        hist[mg_board_hist_bucket(5000000)]++;
    }
    assert_int_equal(mg_board_hist_quantile(hist, 950, 5000000), 5000000);
    /* edges of the range */
    v[0] = 4096;
    check_p95("one at 4 KiB", v, 1);
    v[0] = (1ULL << 36) - 1;
    check_p95("just under 64 GiB", v, 1);
    v[0] = 0;
    check_p95("zero", v, 1);

    /* hostile: empty, saturated counts, q out of range */
    memset(hist, 0, sizeof(hist));
    assert_int_equal(mg_board_hist_quantile(hist, 950, 123), 0);
    for (i = 0; i < MG_BOARD_HIST_BUCKETS; i++) {
        hist[i] = UINT64_MAX;
    }
    assert_true(mg_board_hist_quantile(hist, 950, UINT64_MAX) > 0);
    assert_int_equal(mg_board_hist_quantile(hist, 5000, 77), 77);
    assert_int_equal(mg_board_hist_quantile(hist, 0, UINT64_MAX),
                     mg_board_hist_upper(0));
    free(v);
}

static void test_method_record(void **state)
{
    board_t bd;
    mg_board_t *b;
    mg_board_method_info_t mi;
    uint32_t m, i;

    (void)state;
    board_new(&bd, 2, 4);
    b = bd.b;
    m = mg_board_method_get(b, "queryHistory", 12);
    for (i = 0; i < 100; i++) {
        /* 95 calls of ~1 MiB, 5 of 1 GiB, one that freed memory */
        int64_t d = i < 95 ? (1 << 20) : (1LL << 30);

        mg_board_method_record(b, m, 300, 1000, i == 0 ? -(1 << 20) : d);
    }
    mg_board_reject(b, 0, m, MG_REASON_THROTTLE);
    mg_board_method_record(b, UINT32_MAX, 1, 1, 1); /* ignored */
    assert_int_equal(mg_board_method_snapshot(b, m, &mi), 0);
    assert_string_equal(mi.name, "queryHistory");
    assert_int_equal(mi.calls, 100);
    assert_int_equal(mi.bytes_in, 30000);
    assert_int_equal(mi.bytes_out, 100000);
    assert_int_equal(mi.delta_count, 100);
    assert_int_equal(mi.delta_sum, 94ULL * (1 << 20) + 5 * (1ULL << 30));
    assert_int_equal(mi.delta_max, 1ULL << 30);
    assert_int_equal(mi.rejections[MG_REASON_THROTTLE], 1);
    assert_int_equal(mi.hist[0], 1);
    /* rank 95 is the last ~1 MiB call: estimate within 1.5x */
    assert_true(mi.delta_p95 >= (1 << 20));
    assert_true(mi.delta_p95 <= (3 << 19));

    /* inner calls of a multicall: counted as calls, nothing else */
    mg_board_method_count(b, m, 3);
    mg_board_method_count(b, UINT32_MAX, 1); /* ignored */
    mg_board_method_count(b, 5, 1);          /* past "other": ignored */
    assert_int_equal(mg_board_method_snapshot(b, m, &mi), 0);
    assert_int_equal(mi.calls, 103);
    assert_int_equal(mi.delta_count, 100);
    assert_int_equal(mi.bytes_in, 30000);
    assert_int_equal(mi.hist[0], 1);
    board_free(&bd);
}

/* ---- recycle budget ------------------------------------------------------ */

static void test_recycle_budget(void **state)
{
    board_t bd;
    mg_board_t *b;
    uint64_t t0 = 1000000000ULL;
    int i, got;

    (void)state;
    board_new(&bd, 2, 2);
    b = bd.b;
    assert_int_equal(mg_board_recycle_take(b, t0, 0), 0);
    /* a full bucket: a burst of 6, then nothing */
    for (i = 0; i < 6; i++) {
        assert_int_equal(mg_board_recycle_take(b, t0, 6), 1);
    }
    assert_int_equal(mg_board_recycle_take(b, t0, 6), 0);
    assert_int_equal(mg_board_recycle_take(b, t0 + 9999999, 6), 0);
    /* one token per 10 s */
    assert_int_equal(mg_board_recycle_take(b, t0 + 10000000, 6), 1);
    assert_int_equal(mg_board_recycle_take(b, t0 + 10000000, 6), 0);
    /* after a long quiet spell, the bucket holds 6 again, not more */
    for (got = 0, i = 0; i < 100; i++) {
        got += mg_board_recycle_take(b, t0 + 3600000000ULL, 6);
    }
    assert_int_equal(got, 6);
    /* a clock far in the past does not refill anything */
    assert_int_equal(mg_board_recycle_take(b, 0, 6), 0);
    /* huge rates stay sane */
    for (got = 0, i = 0; i < 1000; i++) {
        got += mg_board_recycle_take(b, t0 + 7200000000ULL, UINT32_MAX);
    }
    assert_int_equal(got, 1000);
    board_free(&bd);
}

/*
 * Another process takes a token between our reading of the bucket and our
 * CAS, with a time later than the one we read first. The take must read
 * the time again after the failed CAS: with the first (older) reading the
 * last token of the burst would look spent by those few microseconds.
 */
typedef struct {
    mg_board_t *b;
    uint64_t t;
    int calls;
} racing_clock_t;

static uint64_t racing_clock(void *arg)
{
    racing_clock_t *c = arg;

    if (c->calls++ == 0) {
        /* "another process", which read its clock after ours */
        assert_int_equal(mg_board_recycle_take(c->b, c->t + 5, 2), 1);
        return c->t;
    }
    return c->t + 6;
}

static void test_recycle_budget_stale_time(void **state)
{
    board_t bd;
    racing_clock_t c;

    (void)state;
    board_new(&bd, 2, 2);
    c.b = bd.b;
    c.t = 1000000000ULL;
    c.calls = 0;
    /* the burst is 2: the other process's token and ours */
    assert_int_equal(mg_board_recycle_take_clock(bd.b, racing_clock, &c, 2), 1);
    assert_int_equal(c.calls, 2);
    /* and then it is spent, whatever clock reads it */
    assert_int_equal(mg_board_recycle_take(bd.b, c.t + 7, 2), 0);
    c.calls = 1;
    assert_int_equal(mg_board_recycle_take_clock(bd.b, racing_clock, &c, 2), 0);
    board_free(&bd);
}

/* Several processes draw from one bucket: exactly the burst is granted. */
static void test_recycle_budget_concurrent(void **state)
{
    board_t bd;
    int *granted, p;
    pid_t pids[4];

    (void)state;
    board_new(&bd, 2, 2);
    granted = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(granted != MAP_FAILED);
    for (p = 0; p < 4; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            int i, g = 0;

            for (i = 0; i < 10000; i++) {
                g += mg_board_recycle_take(bd.b, 5000000, 30);
            }
            __atomic_add_fetch(granted, g, __ATOMIC_SEQ_CST);
            _exit(0);
        }
    }
    for (p = 0; p < 4; p++) {
        reap_ok(pids[p]);
    }
    assert_int_equal(*granted, 30);
    munmap(granted, 4096);
    board_free(&bd);
}

/* ---- admission by memory cost ------------------------------------------- */

#define MIB (1LL << 20)

static void test_admit_budget_and_reservations(void **state)
{
    board_t bd;
    mg_board_t *b;
    mg_board_res_info_t ri;
    uint64_t at = 9;
    uint32_t m, m2, calls = 9;
    int64_t budget = 300 * MIB;

    (void)state;
    board_new(&bd, 4, 8);
    b = bd.b;
    m = mg_board_method_get(b, "queryHistory", 12);
    m2 = mg_board_method_get(b, "listBuilds", 10);
    assert_int_equal(mg_board_admit_budget(b, &at), 0);
    assert_int_equal(at, 0);
    mg_board_admit_budget_set(b, budget, 1234);
    assert_int_equal(mg_board_admit_budget(b, &at), budget);
    assert_int_equal(at, 1234);
    mg_board_slot_start(b, 0, 100, 1);
    mg_board_slot_start(b, 1, 101, 1);

    /* two of 100 MiB fit, with 100 MiB left; a third of 150 does not */
    assert_int_equal(
        mg_board_admit_reserve(b, 0, m, 100 * MIB, 50 * MIB, budget, 0, 0), 0);
    assert_int_equal(
        mg_board_admit_reserve(b, 1, m, 100 * MIB, 60 * MIB, budget, 0, 0), 0);
    assert_int_equal(mg_board_admit_reserved(b), 200 * MIB);
    assert_int_equal(
        mg_board_admit_reserve(b, 1, m2, 150 * MIB, 0, budget, 0, 0), -ENOSPC);
    assert_int_equal(mg_board_admit_reserved(b), 200 * MIB);
    assert_int_equal(mg_board_admit_method_inflight(b, m2), 0);
    /* exactly the rest fits; force passes whatever the budget */
    assert_int_equal(
        mg_board_admit_reserve(b, 1, m2, 100 * MIB, 0, budget, 0, 0), 0);
    assert_int_equal(mg_board_admit_reserve(b, 1, m2, 1, 0, budget, 0, 0),
                     -ENOSPC);
    assert_int_equal(mg_board_admit_reserve(b, 1, m2, 1, 0, budget, 0, 1), 0);
    assert_int_equal(mg_board_admit_reserved(b), 300 * MIB + 1);
    assert_int_equal(mg_board_admit_method_inflight(b, m), 2);
    assert_int_equal(mg_board_admit_method_inflight(b, m2), 2);

    /* the slot's view: two methods in slot 1 */
    assert_int_equal(mg_board_admit_slot(b, 1, &ri), 0);
    assert_int_equal(ri.pid, 101);
    assert_int_equal(ri.calls, 3);
    assert_int_equal(ri.method, UINT32_MAX);
    assert_int_equal(ri.reserved, 200 * MIB + 1);
    assert_int_equal(ri.base, 60 * MIB);
    assert_int_equal(mg_board_admit_slot(b, 2, &ri), -ENOENT);
    assert_int_equal(mg_board_admit_slot(b, 99, &ri), -EINVAL);

    /* growth: slot 0's process is 80 MiB above its base: the credit is
     * that, at most its reservation */
    /* the slot serves no request (only reservations): no per-call look */
    assert_int_equal(mg_board_observe(b, 0, 100, 130 * MIB, &m2, &at), 0);
    assert_int_equal(mg_board_admit_settle(b, &calls), 80 * MIB);
    assert_int_equal(calls, 4);
    mg_board_observe(b, 0, 100, 500 * MIB, &m2, &at);
    assert_int_equal(mg_board_admit_settle(b, NULL), 100 * MIB);
    /* a write for another process is ignored */
    mg_board_observe(b, 0, 999, 900 * MIB, &m2, &at);
    assert_int_equal(mg_board_admit_settle(b, NULL), 100 * MIB);

    /* the end of a call: its part stays reserved until the sampler's
     * settle gives it back */
    mg_board_admit_release(b, 0, m, 100 * MIB);
    assert_int_equal(mg_board_admit_reserved(b), 300 * MIB + 1);
    assert_int_equal(mg_board_admit_settle(b, &calls), 0);
    assert_int_equal(calls, 3);
    assert_int_equal(mg_board_admit_reserved(b), 200 * MIB + 1);
    assert_int_equal(mg_board_admit_method_inflight(b, m), 1);
    /* a release of nothing reserved changes nothing */
    mg_board_admit_release(b, 0, m, 100 * MIB);
    mg_board_admit_release(b, 3, m, 5);
    mg_board_admit_release(b, 99, m, 5);
    assert_int_equal(mg_board_admit_settle(b, NULL), 0);
    assert_int_equal(mg_board_admit_reserved(b), 200 * MIB + 1);

    /* a child killed with three calls reserved: its slot gives all back */
    assert_true(mg_board_slot_reset(b, 1) >= 0);
    assert_int_equal(mg_board_admit_reserved(b), 0);
    assert_int_equal(mg_board_admit_method_inflight(b, m), 0);
    assert_int_equal(mg_board_admit_method_inflight(b, m2), 0);

    /* hostile */
    assert_int_equal(mg_board_admit_reserve(b, 9, m, 1, 0, budget, 0, 0),
                     -EINVAL);
    assert_int_equal(mg_board_admit_reserve(b, 0, 99, 1, 0, budget, 0, 0),
                     -EINVAL);
    assert_int_equal(mg_board_admit_reserve(b, 0, m, -1, 0, budget, 0, 0),
                     -EINVAL);
    /* larger than the budget: runs alone when nothing else is reserved
     * and the budget holds two thirds of it, never beside another */
    assert_int_equal(
        mg_board_admit_reserve(b, 0, m, 450 * MIB, 0, budget, 0, 0), 0);
    assert_int_equal(mg_board_admit_reserved(b), 450 * MIB);
    assert_int_equal(mg_board_admit_reserve(b, 2, m, 1, 0, budget, 0, 0),
                     -ENOSPC);
    mg_board_admit_release(b, 0, m, 450 * MIB);
    mg_board_admit_settle(b, NULL);
    assert_int_equal(mg_board_admit_reserved(b), 0);
    assert_int_equal(
        mg_board_admit_reserve(b, 0, m, 451 * MIB, 0, budget, 0, 0), -ENOSPC);
    assert_int_equal(mg_board_admit_reserve(b, 2, m, 1, 0, budget, 0, 0), 0);
    assert_int_equal(
        mg_board_admit_reserve(b, 0, m, 300 * MIB, 0, budget, 0, 0), -ENOSPC);
    mg_board_admit_release(b, 2, m, 1);
    mg_board_admit_settle(b, NULL);
    /* a negative budget (already past the level) admits nothing */
    assert_int_equal(mg_board_admit_reserve(b, 0, m, 1, 0, -5 * MIB, 0, 0),
                     -ENOSPC);
    assert_int_equal(mg_board_admit_reserve(b, 0, m, 0, 0, INT64_MIN + 1, 0, 0),
                     -ENOSPC);
    board_free(&bd);
}

static void test_admit_slow_start(void **state)
{
    board_t bd;
    mg_board_t *b;
    uint32_t m;

    (void)state;
    board_new(&bd, 4, 8);
    b = bd.b;
    m = mg_board_method_get(b, "crazyQuery", 10);
    mg_board_slot_start(b, 0, 100, 1);
    assert_int_equal(mg_board_admit_reserve(b, 0, m, MIB, 0, INT64_MAX, 2, 0),
                     0);
    assert_int_equal(mg_board_admit_reserve(b, 0, m, MIB, 0, INT64_MAX, 2, 0),
                     0);
    assert_int_equal(mg_board_admit_reserve(b, 0, m, MIB, 0, INT64_MAX, 2, 0),
                     -EBUSY);
    /* force (DetectOnly, a stale budget) passes */
    assert_int_equal(mg_board_admit_reserve(b, 0, m, MIB, 0, INT64_MAX, 2, 1),
                     0);
    /* three in flight (one forced): two must end before the next */
    mg_board_admit_release(b, 0, m, MIB);
    assert_int_equal(mg_board_admit_reserve(b, 0, m, MIB, 0, INT64_MAX, 2, 0),
                     -EBUSY);
    mg_board_admit_release(b, 0, m, MIB);
    assert_int_equal(mg_board_admit_reserve(b, 0, m, MIB, 0, INT64_MAX, 2, 0),
                     0);
    assert_int_equal(mg_board_admit_method_inflight(b, m), 2);
    board_free(&bd);
}

/* A child killed between its reservation and its release: crash-safe. */
static void test_admit_crash(void **state)
{
    board_t bd;
    mg_board_t *b;
    uint32_t m;
    pid_t pid;
    int *ready;

    (void)state;
    board_new(&bd, 2, 4);
    b = bd.b;
    m = mg_board_method_get(b, "buildArch", 9);
    ready = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        mg_board_slot_start(b, 1, getpid(), 1);
        mg_board_admit_reserve(b, 1, m, 70 * MIB, 0, 100 * MIB, 1, 0);
        __atomic_store_n(&ready[0], 1, __ATOMIC_SEQ_CST);
        for (;;) {
            pause();
        }
    }
    while (!__atomic_load_n(&ready[0], __ATOMIC_SEQ_CST)) {
        usleep(1000);
    }
    assert_int_equal(mg_board_admit_reserved(b), 70 * MIB);
    assert_int_equal(
        mg_board_admit_reserve(b, 0, m, 70 * MIB, 0, 100 * MIB, 1, 0), -EBUSY);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_true(mg_board_slot_reset(b, 1) >= 0);
    assert_int_equal(mg_board_admit_reserved(b), 0);
    assert_int_equal(
        mg_board_admit_reserve(b, 0, m, 70 * MIB, 0, 100 * MIB, 1, 0), 0);
    munmap(ready, 4096);
    board_free(&bd);
}

static void test_admit_queue(void **state)
{
    board_t bd;
    mg_board_t *b;
    int e[MG_BOARD_QUEUE + 1], i;
    int64_t bytes = 0;

    (void)state;
    board_new(&bd, 2, 4);
    b = bd.b;
    /* arrival order decides, not entry order */
    e[0] = mg_board_queue_enter(b, 300, 10, MG_QUEUE_BUDGET, 1000, 500);
    e[1] = mg_board_queue_enter(b, 100, 20, MG_QUEUE_BUDGET, 1000, 500);
    e[2] = mg_board_queue_enter(b, 200, 30, MG_QUEUE_SLOW, 1000, 500);
    assert_true(e[0] >= 0 && e[1] >= 0 && e[2] >= 0);
    assert_false(mg_board_queue_first(b, e[0], 1000, 500));
    assert_true(mg_board_queue_first(b, e[1], 1000, 500));
    /* a slow-start waiter is never first, and never ahead of anyone */
    assert_false(mg_board_queue_first(b, e[2], 1000, 500));
    assert_int_equal(mg_board_queue_waiting(b, 1000, 500, &bytes), 3);
    assert_int_equal(bytes, 60);
    /* a call arriving now is behind the two waiting for the budget */
    assert_int_equal(mg_board_queue_ahead(b, 1000, 500), 2);
    assert_int_equal(mg_board_queue_ahead(b, 1600, 500), 0); /* all stale */
    /* the first leaves: the next by arrival is first */
    mg_board_queue_leave(b, e[1]);
    assert_true(mg_board_queue_first(b, e[0], 1000, 500));
    /* the slow one joins the line with its own arrival time (200 < 300) */
    mg_board_queue_beat(b, e[2], MG_QUEUE_BUDGET, 1000);
    assert_false(mg_board_queue_first(b, e[0], 1000, 500));
    assert_true(mg_board_queue_first(b, e[2], 1000, 500));
    /* a waiter that stopped beating (killed) no longer counts, and its
     * entry is taken over */
    mg_board_queue_beat(b, e[0], MG_QUEUE_BUDGET, 2000);
    assert_true(mg_board_queue_first(b, e[0], 2000, 500));
    assert_int_equal(mg_board_queue_waiting(b, 2000, 500, NULL), 1);
    mg_board_queue_leave(b, e[0]);
    mg_board_queue_leave(b, e[2]);
    /* bounded: MG_BOARD_QUEUE live waiters, then -ENOSPC */
    for (i = 0; i < MG_BOARD_QUEUE; i++) {
        assert_true(mg_board_queue_enter(b, 5000 + (uint64_t)i, 1,
                                         MG_QUEUE_BUDGET, 5000, 500) >= 0);
    }
    assert_int_equal(
        mg_board_queue_enter(b, 9000, 1, MG_QUEUE_BUDGET, 5000, 500), -ENOSPC);
    /* all gone stale: taken over */
    assert_true(mg_board_queue_enter(b, 9000, 1, MG_QUEUE_BUDGET, 6000, 500) >=
                0);
    /* hostile */
    assert_int_equal(mg_board_queue_enter(b, 1, 1, MG_QUEUE_FREE, 1, 1),
                     -EINVAL);
    assert_false(mg_board_queue_first(b, -1, 1, 1));
    assert_false(mg_board_queue_first(b, MG_BOARD_QUEUE, 1, 1));
    mg_board_queue_leave(b, -3);
    mg_board_queue_beat(b, 1000, MG_QUEUE_BUDGET, 1);
    board_free(&bd);
}

static void test_cost_learning(void **state)
{
    board_t bd;
    mg_board_t *b;
    mg_board_cost_info_t ci;
    uint64_t measured = 9, c;
    uint32_t m, other, i;

    (void)state;
    board_new(&bd, 2, 4);
    b = bd.b;
    m = mg_board_method_get(b, "queryHistory", 12);
    other = mg_board_method_other(b);
    assert_int_equal(mg_board_method_cost(b, m, &measured), 0);
    assert_int_equal(measured, 0);
    /* the first call counts at once, before any refresh */
    mg_board_method_cost_record(b, m, 165 * MIB);
    assert_int_equal(mg_board_method_cost(b, m, &measured), 165 * MIB);
    assert_int_equal(measured, 1);
    /* the refresh puts it at the bucket's upper edge: >= the truth,
     * < 1.5 times it */
    mg_board_method_cost_refresh(b, 950, 64, 0);
    c = mg_board_method_cost(b, m, NULL);
    assert_true(c >= 165 * MIB && c < 248 * MIB);
    /* 99 cheap calls and one heavy: p95 is cheap */
    for (i = 0; i < 99; i++) {
        mg_board_method_cost_record(b, other, 2000);
    }
    mg_board_method_cost_record(b, other, 500 * MIB);
    mg_board_method_cost_refresh(b, 950, 1000, 0);
    assert_int_equal(mg_board_method_cost(b, other, NULL), 4095);
    /* recent calls weigh more: 100 heavy calls after them, with the
     * histogram halved past 64 calls, move p95 to the heavy ones */
    for (i = 0; i < 100; i++) {
        mg_board_method_cost_record(b, other, 300 * MIB);
        mg_board_method_cost_refresh(b, 950, 64, 0);
    }
    c = mg_board_method_cost(b, other, NULL);
    assert_true(c >= 300 * MIB && c < 450 * MIB);
    /* a live raise while a call runs; it lapses 3 s after the last look
     * that saw a call that high */
    assert_int_equal(mg_board_method_cost_raise(b, m, 100 * MIB, 1000), 1);
    c = mg_board_method_cost(b, m, NULL); /* the learned one still rules */
    assert_true(c >= 165 * MIB && c < 248 * MIB);
    assert_int_equal(mg_board_method_cost_raise(b, m, 50 * MIB, 1000), 0);
    assert_int_equal(mg_board_method_cost_raise(b, m, 400 * MIB, 1000), 1);
    assert_int_equal(mg_board_method_cost(b, m, NULL), 400 * MIB);
    mg_board_method_cost_refresh(b, 950, 64, 1000 + MG_BOARD_LIVE_US);
    assert_int_equal(mg_board_method_cost(b, m, NULL), 400 * MIB);
    /* seen again at that height: kept alive */
    assert_int_equal(
        mg_board_method_cost_raise(b, m, 400 * MIB, 2000000 + 1000), 0);
    mg_board_method_cost_refresh(b, 950, 64, 2000000 + 1000 + MG_BOARD_LIVE_US);
    assert_int_equal(mg_board_method_cost(b, m, NULL), 400 * MIB);
    mg_board_method_cost_refresh(b, 950, 64, 2000000 + 1001 + MG_BOARD_LIVE_US);
    c = mg_board_method_cost(b, m, NULL);
    assert_true(c >= 165 * MIB && c < 248 * MIB);
    assert_int_equal(mg_board_method_cost_info(b, m, &ci), 0);
    assert_int_equal(ci.measured, 1);
    assert_int_equal(ci.live, 0);
    /* hostile */
    assert_int_equal(mg_board_method_cost(b, 99, &measured), 0);
    assert_int_equal(measured, 0);
    mg_board_method_cost_record(b, 99, 1);
    assert_int_equal(mg_board_method_cost_raise(b, 99, 1, 0), 0);
    assert_int_equal(mg_board_method_cost_info(b, 99, &ci), -EINVAL);
    mg_board_method_cost_record(b, m, UINT64_MAX);
    mg_board_method_cost_refresh(b, 950, 64, 0);
    board_free(&bd);
}

static void test_request_peak_and_observe(void **state)
{
    board_t bd;
    mg_board_t *b;
    uint32_t m, method = 9;
    uint64_t grown = 9;

    (void)state;
    board_new(&bd, 2, 4);
    b = bd.b;
    m = mg_board_method_get(b, "getBuild", 8);
    mg_board_slot_start(b, 0, 100, 1);
    mg_board_request_begin(b, 0, 50 * MIB);
    /* the method is not known yet: growth is kept, no raise offered */
    assert_int_equal(mg_board_observe(b, 0, 100, 60 * MIB, &method, &grown), 0);
    assert_int_equal(mg_board_request_peak(b, 0), 10 * MIB);
    mg_board_request_method(b, 0, m);
    assert_int_equal(mg_board_observe(b, 0, 100, 90 * MIB, &method, &grown), 1);
    assert_int_equal(method, m);
    assert_int_equal(grown, 40 * MIB);
    mg_board_observe(b, 0, 100, 70 * MIB, &method, &grown);
    assert_int_equal(mg_board_request_peak(b, 0), 40 * MIB);
    /* two requests in one process: no per-call figure */
    mg_board_request_begin(b, 0, 50 * MIB);
    assert_int_equal(mg_board_observe(b, 0, 100, 90 * MIB, &method, &grown), 0);
    /* another process in the slot */
    assert_int_equal(mg_board_observe(b, 0, 101, 90 * MIB, &method, &grown), 0);
    assert_int_equal(mg_board_observe(b, 7, 100, 90 * MIB, &method, &grown), 0);
    board_free(&bd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admit_budget_and_reservations),
        cmocka_unit_test(test_admit_slow_start),
        cmocka_unit_test(test_admit_crash),
        cmocka_unit_test(test_admit_queue),
        cmocka_unit_test(test_cost_learning),
        cmocka_unit_test(test_request_peak_and_observe),
        cmocka_unit_test(test_size_and_init),
        cmocka_unit_test(test_attach),
        cmocka_unit_test(test_verdict_word),
        cmocka_unit_test(test_stale_log_claim),
        cmocka_unit_test(test_history_ring),
        cmocka_unit_test(test_seqlock_concurrent),
        cmocka_unit_test(test_seqlock_writer_killed),
        cmocka_unit_test(test_method_names),
        cmocka_unit_test(test_method_table_full),
        cmocka_unit_test(test_method_claim_concurrent),
        cmocka_unit_test(test_concurrency),
        cmocka_unit_test(test_concurrency_crash),
        cmocka_unit_test(test_slots),
        cmocka_unit_test(test_hist_buckets),
        cmocka_unit_test(test_hist_p95),
        cmocka_unit_test(test_method_record),
        cmocka_unit_test(test_recycle_budget),
        cmocka_unit_test(test_recycle_budget_concurrent),
        cmocka_unit_test(test_recycle_budget_stale_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
