/*
 * test_mg_status.c - the status page's model and its renderers: every
 * format on a board with no board at all, a fresh board (no sample yet)
 * and a sampled board that sheds with a hostile method name and slab
 * cache name; every ?auto key present, escaping in each format, the
 * query-string choice of format.
 */
#include <sys/mman.h>
#include <time.h>

#include "mg_status.h"
#include "mg_test.h"

/* ---- an allocator that frees at the end, and a growing sink ------------- */

typedef struct {
    void *ptrs[4096];
    size_t n;
} arena_t;

static void *arena_alloc(void *baton, size_t n)
{
    arena_t *a = baton;
    void *p = malloc(n ? n : 1);

    assert_non_null(p);
    assert_true(a->n < sizeof(a->ptrs) / sizeof(a->ptrs[0]));
    a->ptrs[a->n++] = p;
    return p;
}

static void arena_free(arena_t *a)
{
    while (a->n > 0) {
        free(a->ptrs[--a->n]);
    }
}

typedef struct {
    char *b;
    size_t n, cap;
} sink_t;

static void sink_write(void *baton, const char *buf, size_t len)
{
    sink_t *s = baton;

    if (s->n + len + 1 > s->cap) {
        s->cap = (s->n + len + 1) * 2;
        s->b = realloc(s->b, s->cap);
        assert_non_null(s->b);
    }
    memcpy(s->b + s->n, buf, len);
    s->n += len;
    s->b[s->n] = '\0';
}

typedef struct {
    arena_t arena;
    sink_t out;
    mg_status_io_t io;
    void *mem;
    size_t size;
    mg_board_t *b;
    mg_status_t snap;
} fix_t;

static fix_t *fix_new(int with_board)
{
    fix_t *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->io.alloc = arena_alloc;
    f->io.alloc_baton = &f->arena;
    f->io.write = sink_write;
    f->io.write_baton = &f->out;
    if (with_board) {
        f->size = mg_board_size(4, 8);
        f->mem = mmap(NULL, f->size, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        assert_true(f->mem != MAP_FAILED);
        assert_int_equal(mg_board_init(f->mem, f->size, 4, 8, &f->b), 0);
    }
    return f;
}

static void fix_free(fix_t *f)
{
    arena_free(&f->arena);
    free(f->out.b);
    if (f->mem != NULL) {
        munmap(f->mem, f->size);
    }
    free(f);
}

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

static void snap(fix_t *f, uint64_t now)
{
    mg_status_facts_t facts;

    memset(&facts, 0, sizeof(facts));
    facts.now_us = now;
    facts.stale_after_us = 10000000;
    facts.fail_mode = MG_FAIL_OPEN;
    facts.admit_default = 1u << 20;
    facts.server_name = "hub<&>.example";
    mg_status_snapshot(&f->snap, f->b, &facts, &f->io);
}

static const char *render(fix_t *f, mg_status_format_t fmt)
{
    f->out.n = 0;
    sink_write(&f->out, "", 0);
    mg_status_render(&f->snap, fmt, &f->io);
    return f->out.b;
}

/* The hostile names: markup, quotes, backslash, newline, escape. */
/* (the board stores only printable ASCII method names: see mg_board.h) */
#define EVIL_METHOD "ev<il>\"m'e\\th&od"
#define EVIL_CACHE "c<a>\"che\\\n\x1b"

/* A board that sheds: one child, a hostile method with refusals, a
 * published sample naming a hostile slab cache. */
static void fill_shedding(fix_t *f, uint64_t now)
{
    mg_board_sys_t rec;
    uint32_t m;

    assert_int_equal(mg_board_slot_start(f->b, 1, 4242, now), 0);
    m = mg_board_method_get(f->b, EVIL_METHOD, strlen(EVIL_METHOD));
    assert_true(m < mg_board_nmethods(f->b));
    mg_board_method_record(f->b, m, 100, 200, 4096);
    mg_board_reject(f->b, 1, m, MG_REASON_SHED);
    mg_board_reject(f->b, 1, m, MG_REASON_SHED);
    mg_board_reject(f->b, 1, mg_board_method_other(f->b), MG_REASON_BODY_SIZE);
    memset(&rec, 0, sizeof(rec));
    rec.state = MG_VERDICT_SHED;
    rec.signal = MG_SIGNAL_AVAILABLE;
    rec.value = 100u << 20;
    rec.threshold = 200u << 20;
    rec.last_sample_us = now - 1000;
    rec.state_since_us = now - 5000000;
    rec.samples = 42;
    rec.interval_us = 100000;
    rec.sampler_pid = 999;
    rec.sample.valid = MG_SRC_MEMINFO | MG_SRC_SLABINFO;
    rec.sample.mem_total = 16ULL << 30;
    rec.sample.mem_available = 100u << 20;
    rec.sample.ntop = 1;
    memcpy(rec.sample.top[0].name, EVIL_CACHE, strlen(EVIL_CACHE));
    rec.sample.top[0].bytes = 12345;
    rec.admit_budget = MG_BOARD_BUDGET_NONE;
    mg_board_sys_publish(f->b, &rec);
}

/* ---- ?auto: every key, once, in "Key: value" form ------------------------ */

static const char *const auto_keys[] = {"MemGuardStatusVersion",
                                        "MemGuardVersion",
                                        "MemGuardState",
                                        "MemGuardSignal",
                                        "MemGuardReason",
                                        "MemGuardStale",
                                        "MemGuardHealth",
                                        "MemGuardHealthWeight",
                                        "StateAgeMs",
                                        "SignalValue",
                                        "SignalThreshold",
                                        "Sampled",
                                        "SampleAgeMs",
                                        "SamplerPid",
                                        "SamplerStarts",
                                        "Samples",
                                        "Transitions",
                                        "SamplerReplaced",
                                        "SamplerIntervalMs",
                                        "SamplerWorstGapMs",
                                        "SamplerWorstSampleUs",
                                        "MeasureAgeMs",
                                        "SmapsAgeMs",
                                        "SlabinfoAgeMs",
                                        "FillSignal",
                                        "FillRateBytesPerSecond",
                                        "FillLevelBytes",
                                        "FillTimeToLevelMs",
                                        "AdmitBudgetBytes",
                                        "AdmitRoomBytes",
                                        "AdmitCreditBytes",
                                        "AdmitReservedBytes",
                                        "AdmitReservedCalls",
                                        "AdmitWaiting",
                                        "AdmitWaitingBytes",
                                        "AdmitAdmitted",
                                        "AdmitWaited",
                                        "AdmitTiny",
                                        "AdmitRefused",
                                        "AdmitCeilingHits",
                                        "AdmitLastResort",
                                        "AdmitRaised",
                                        "MemTotalBytes",
                                        "MemAvailableBytes",
                                        "SlabBytes",
                                        "SReclaimableBytes",
                                        "SUnreclaimBytes",
                                        "PressureSomeAvg10",
                                        "PressureFullAvg10",
                                        "CgroupUsageBytes",
                                        "CgroupLimitBytes",
                                        "Generation",
                                        "Children",
                                        "Requests",
                                        "InFlight",
                                        "RecyclePending",
                                        "RecycleRequested",
                                        "Recycled",
                                        "Methods",
                                        "Refused",
                                        "RefusedBodySize",
                                        "RefusedShed",
                                        "RefusedCeiling"};

static void check_auto(const char *out)
{
    size_t i;
    const char *p;

    for (i = 0; i < sizeof(auto_keys) / sizeof(auto_keys[0]); i++) {
        char key[64];
        const char *hit;

        snprintf(key, sizeof(key), "\n%s: ", auto_keys[i]);
        hit = strstr(out, key);
        if (hit == NULL && strncmp(out, key + 1, strlen(key + 1)) != 0) {
            fail_msg("?auto lacks %s", auto_keys[i]);
        }
        if (hit != NULL && strstr(hit + 1, key) != NULL) {
            fail_msg("?auto has %s twice", auto_keys[i]);
        }
    }
    /* every line "Key: value", value not empty */
    for (p = out; *p != '\0';) {
        const char *eol = strchr(p, '\n');
        const char *colon = strstr(p, ": ");

        assert_non_null(eol);
        assert_true(colon != NULL && colon < eol && colon + 2 < eol);
        p = eol + 1;
    }
}

/* ---- JSON: balanced, keys present, no raw control characters ------------ */

static void check_json(const char *out)
{
    static const char *const keys[] = {"\"schema\": \"memguard-status/1\"",
                                       "\"version\": ",
                                       "\"verdict\": ",
                                       "\"health\": ",
                                       "\"sampler\": ",
                                       "\"fill\": ",
                                       "\"admission\": ",
                                       "\"sample\": ",
                                       "\"history\": ",
                                       "\"refused_total\": ",
                                       "\"refused\": ",
                                       "\"recycle\": ",
                                       "\"children\": ",
                                       "\"methods\": "};
    int depth = 0, in_str = 0;
    size_t i;
    const char *p;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strstr(out, keys[i]) == NULL) {
            fail_msg("JSON lacks %s", keys[i]);
        }
    }
    for (p = out; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (in_str) {
            assert_true(c >= 0x20);
            if (c == '\\') {
                p++;
                assert_non_null(strchr("\"\\/bfnrtu", *p));
            }
            else if (c == '"') {
                in_str = 0;
            }
            continue;
        }
        if (c == '"') {
            in_str = 1;
        }
        else if (c == '{' || c == '[') {
            depth++;
        }
        else if (c == '}' || c == ']') {
            depth--;
            assert_true(depth >= 0);
        }
    }
    assert_false(in_str);
    assert_int_equal(depth, 0);
    assert_true(strlen(out) > 4 &&
                !strcmp(out + strlen(out) - 3, "]\n}\n" + 1));
}

/* ---- Prometheus: HELP/TYPE before samples, label values escaped ---------- */

static void check_prom(const char *out)
{
    const char *p;

    assert_non_null(strstr(out, "# TYPE memguard_state gauge\n"));
    assert_non_null(strstr(out, "memguard_build_info{version=\""));
    for (p = out; *p != '\0';) {
        const char *eol = strchr(p, '\n');

        assert_non_null(eol);
        if (*p != '#') {
            /* name{labels} value: no raw quote inside a label value is
             * left unescaped, so the braces balance */
            const char *sp = memchr(p, ' ', (size_t)(eol - p));
            const char *q;
            int in_q = 0;
            assert_non_null(sp);
            for (q = p; q < eol; q++) {
                if (in_q && *q == '\\') {
                    q++;
                    assert_non_null(strchr("\\\"n", *q));
                }
                else if (*q == '"') {
                    in_q = !in_q;
                }
            }
            assert_false(in_q);
        }
        p = eol + 1;
    }
}

/* ---- the tests ----------------------------------------------------------- */

static void test_no_board(void **state)
{
    fix_t *f = fix_new(0);
    const char *out;

    (void)state;
    snap(f, now_us());
    assert_false(f->snap.have_board);
    assert_int_equal(f->snap.health_status, MG_STATUS_HTTP_OK);
    assert_string_equal(render(f, MG_STATUS_HEALTH), "up ready 100%\n");
    out = render(f, MG_STATUS_HTML);
    assert_non_null(strstr(out, "<p>The board is not available.</p>"));
    assert_non_null(strstr(out, "hub&lt;&amp;&gt;.example"));
    check_auto(render(f, MG_STATUS_AUTO));
    assert_non_null(strstr(f->out.b, "MemGuardReason: the board is not "
                                     "available\n"));
    check_json(render(f, MG_STATUS_JSON));
    check_prom(render(f, MG_STATUS_PROM));
    fix_free(f);
}

static void test_empty_board(void **state)
{
    fix_t *f = fix_new(1);
    const char *out;

    (void)state;
    snap(f, now_us());
    assert_true(f->snap.have_board);
    assert_false(f->snap.sampled);
    assert_string_equal(f->snap.state_name, "unknown");
    assert_string_equal(render(f, MG_STATUS_HEALTH), "up ready 100%\n");
    out = render(f, MG_STATUS_AUTO);
    check_auto(out);
    assert_non_null(strstr(out, "Sampled: 0\nSampleAgeMs: -1\n"));
    assert_non_null(strstr(out, "MemTotalBytes: 0\n"));
    assert_non_null(strstr(out, "Methods: 0\n"));
    out = render(f, MG_STATUS_JSON);
    check_json(out);
    assert_non_null(strstr(out, "\"sample\": null,\n\"history\": [],\n"));
    assert_non_null(strstr(out, "\"fill\": null,\n"));
    check_prom(render(f, MG_STATUS_PROM));
    assert_non_null(strstr(f->out.b, "memguard_state{state=\"unknown\"} 1\n"));
    out = render(f, MG_STATUS_HTML);
    assert_non_null(strstr(out, "no sample yet (started 0 time(s))"));
    assert_non_null(strstr(out, "</body></html>\n"));
    fix_free(f);
}

static void test_shedding_hostile(void **state)
{
    fix_t *f = fix_new(1);
    uint64_t now = now_us() + 10000000;
    const char *out;

    (void)state;
    fill_shedding(f, now);
    snap(f, now);
    assert_true(f->snap.sampled);
    assert_false(f->snap.stale);
    assert_int_equal(f->snap.health_status, MG_STATUS_HTTP_UNAVAILABLE);
    assert_int_equal(f->snap.nused, 1);
    assert_int_equal(f->snap.refused_total, 3);
    assert_string_equal(render(f, MG_STATUS_HEALTH), "drain\n");

    out = render(f, MG_STATUS_AUTO);
    check_auto(out);
    assert_non_null(strstr(out, "MemGuardState: shed\n"));
    assert_non_null(strstr(out, "MemGuardHealth: drain\n"));
    assert_non_null(strstr(out, "RefusedShed: 2\n"));
    assert_non_null(strstr(out, "RefusedBodySize: 1\n"));
    assert_non_null(strstr(out, "Children: 1\n"));
    assert_non_null(strstr(out, "Methods: 1\n"));

    out = render(f, MG_STATUS_JSON);
    check_json(out);
    assert_non_null(strstr(out, "\"name\": \"ev<il>\\\"m'e\\\\th&od\""));
    assert_non_null(strstr(out, "{\"name\": \"c<a>\\\"che\\\\\\n\\u001b\""));
    assert_non_null(strstr(out, "{\"name\": null, \"other\": true"));
    assert_null(strstr(out, "\x1b"));

    out = render(f, MG_STATUS_PROM);
    check_prom(out);
    assert_non_null(strstr(out, "memguard_state{state=\"shed\"} 1\n"));
    assert_non_null(
        strstr(out, "memguard_method_calls_total{method=\"ev<il>\\\"m'e\\\\th"
                    "&od\"} 1\n"));
    assert_non_null(strstr(out, "memguard_method_refused_total{method=\"ev"));
    assert_non_null(
        strstr(out, "memguard_slab_cache_bytes{cache=\"c<a>\\\"che\\\\\\n"
                    "\xef\xbf\xbd\"} 12345\n"));

    out = render(f, MG_STATUS_HTML);
    assert_null(strstr(out, "<il>"));
    assert_null(strstr(out, "<a>"));
    assert_null(strstr(out, "\x1b"));
    assert_non_null(strstr(out, "ev&lt;il&gt;&quot;m&#39;e\\th&amp;od"));
    assert_non_null(strstr(out, "c&lt;a&gt;&quot;che\\\n\xef\xbf\xbd"));
    assert_non_null(strstr(out, "<b class=\"state-shed\">shed</b>"));
    assert_non_null(strstr(out, "<i>(other)</i>"));

    /* mod_status's section, both forms */
    f->out.n = 0;
    mg_status_render_section(&f->snap, 1, &f->io);
    assert_non_null(strstr(f->out.b, "MemGuardState: shed\n"
                                     "MemGuardHealth: drain\n"));
    assert_non_null(strstr(f->out.b, "MemGuardRefused: 3\n"));
    f->out.n = 0;
    mg_status_render_section(&f->snap, 0, &f->io);
    assert_non_null(strstr(f->out.b, "<h2>mod_memguard</h2>"));
    assert_non_null(strstr(f->out.b, "<code>drain</code>"));
    fix_free(f);
}

/* A sample older than the staleness time: the fail mode decides. */
static void test_stale(void **state)
{
    fix_t *f = fix_new(1);
    uint64_t now = now_us() + 10000000;

    (void)state;
    fill_shedding(f, now);
    snap(f, now + 60000000);
    assert_true(f->snap.stale);
    assert_string_equal(f->snap.state_name, "ok"); /* fail open */
    assert_string_equal(f->snap.signal_name, mg_signal_name(MG_SIGNAL_STALE));
    assert_string_equal(render(f, MG_STATUS_HEALTH), "up ready 100%\n");
    assert_non_null(strstr(render(f, MG_STATUS_AUTO), "MemGuardStale: 1\n"));
    fix_free(f);
}

static void test_format_choice(void **state)
{
    (void)state;
    assert_int_equal(mg_status_format(NULL), MG_STATUS_HTML);
    assert_int_equal(mg_status_format(""), MG_STATUS_HTML);
    assert_int_equal(mg_status_format("auto"), MG_STATUS_AUTO);
    assert_int_equal(mg_status_format("json"), MG_STATUS_JSON);
    assert_int_equal(mg_status_format("prometheus"), MG_STATUS_PROM);
    assert_int_equal(mg_status_format("metrics"), MG_STATUS_PROM);
    assert_int_equal(mg_status_format("health"), MG_STATUS_HEALTH);
    assert_int_equal(mg_status_format("x=1&json"), MG_STATUS_JSON);
    assert_int_equal(mg_status_format("refresh=5;auto"), MG_STATUS_AUTO);
    assert_int_equal(mg_status_format("json=1&auto"), MG_STATUS_JSON);
    assert_int_equal(mg_status_format("jsonx&autox"), MG_STATUS_HTML);
    assert_int_equal(mg_status_format("&&;;"), MG_STATUS_HTML);
    assert_true(mg_status_is_handler(MG_STATUS_HANDLER));
    assert_true(mg_status_is_handler(MG_STATUS_HEALTH_HANDLER));
    assert_false(mg_status_is_handler("server-status"));
    assert_false(mg_status_is_handler(NULL));
    assert_string_equal(mg_status_content_type(MG_STATUS_JSON),
                        "application/json");
    assert_string_equal(mg_status_content_type(MG_STATUS_HEALTH),
                        "text/plain; charset=utf-8");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_board),
        cmocka_unit_test(test_empty_board),
        cmocka_unit_test(test_shedding_hostile),
        cmocka_unit_test(test_stale),
        cmocka_unit_test(test_format_choice),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
