/*
 * test_mg_policy.c - the verdict over timed sequences of samples (sustain,
 * hysteresis, shed over throttle, disabled and invalid signals, percent
 * bases, staleness, one transition per change), describe(), and the
 * recycle helpers.
 */
#include <errno.h>

#include "mg_test.h"
#include "mg_policy.h"

#define MIB (1ULL << 20)
#define U64MAX UINT64_MAX
#define ALL                                                                    \
    (MG_SRC_MEMINFO | MG_SRC_PSI | MG_SRC_CGROUP | MG_SRC_NUMA |               \
     MG_SRC_SLABINFO)

/* One sample of a scenario: only the fields the policy reads. Sizes in
 * MiB; cg_limit 0 means "no cgroup limit" (UINT64_MAX). */
typedef struct {
    uint64_t t_ms;
    uint32_t valid;
    uint64_t avail;
    uint64_t slab;
    uint64_t sunr;
    uint64_t cache0;
    uint32_t psi_some;
    uint32_t psi_full;
    uint64_t cg_limit;
    uint64_t cg_ws;
    uint64_t node_avail;
    mg_verdict_state_t want;
    mg_signal_t want_signal;
    int want_transition;
} step_t;

/* A quiet machine: 16 GiB, plenty available, two NUMA nodes numbered 2
 * and 3 (the verdict must report node numbers, not array indexes). */
static void sample_from(const step_t *st, mg_sample_t *s)
{
    memset(s, 0, sizeof(*s));
    s->taken_us = st->t_ms * 1000;
    s->valid = st->valid;
    s->mem_total = 16384 * MIB;
    s->mem_available = st->avail * MIB;
    s->slab = st->slab * MIB;
    s->sunreclaim = st->sunr * MIB;
    s->psi_some_avg10 = st->psi_some;
    s->psi_full_avg10 = st->psi_full;
    s->cgroup_version = 2;
    s->cgroup_limit = st->cg_limit ? st->cg_limit * MIB : U64MAX;
    s->cgroup_working_set = st->cg_ws * MIB;
    s->nnodes = 2;
    s->nodes[0].node = 2;
    s->nodes[0].total = 8192 * MIB;
    s->nodes[0].available = st->node_avail * MIB;
    s->nodes[1].node = 3;
    s->nodes[1].total = 8192 * MIB;
    s->nodes[1].available = 6000 * MIB;
    s->ncaches = 1;
    snprintf(s->caches[0].name, sizeof(s->caches[0].name), "%s",
             "nfs_inode_cache");
    s->caches[0].bytes = st->cache0 * MIB;
}

static mg_policy_limit_t pct(uint32_t bp)
{
    mg_policy_limit_t l = {1, {1, 0, bp}};

    return l;
}

static mg_policy_limit_t mib(uint64_t n)
{
    mg_policy_limit_t l = {1, {0, n * MIB, 0}};

    return l;
}

static void conf_base(mg_policy_conf_t *c)
{
    memset(c, 0, sizeof(*c));
    c->sustain_us = 1000000;
    c->hysteresis_bp = 500;
    c->stale_after_us = 2000000;
    c->fail_mode = MG_FAIL_OPEN;
}

static void run(const char *name, const mg_policy_conf_t *c,
                const step_t *steps, size_t n)
{
    mg_policy_state_t st;
    mg_sample_t s;
    mg_verdict_t v;
    size_t i;

    mg_policy_state_init(&st);
    for (i = 0; i < n; i++) {
        mg_verdict_state_t before = st.state;

        sample_from(&steps[i], &s);
        assert_int_equal(mg_policy_eval(c, &st, &s, steps[i].t_ms * 1000, &v),
                         0);
        if (v.state != steps[i].want || v.signal != steps[i].want_signal ||
            v.transition != steps[i].want_transition || v.from != before) {
            char d[160];

            mg_verdict_describe(&v, &s, d, sizeof(d));
            fail_msg("%s step %zu (t=%llums): got %s/%s transition %d, "
                     "want %s/%s transition %d [%s]",
                     name, i, (unsigned long long)steps[i].t_ms,
                     mg_verdict_state_name(v.state), mg_signal_name(v.signal),
                     v.transition, mg_verdict_state_name(steps[i].want),
                     mg_signal_name(steps[i].want_signal),
                     steps[i].want_transition, d);
        }
    }
}

#define RUN(name, c, steps) run(name, c, steps, sizeof(steps) / sizeof(*steps))

/* shorthand for expectations */
#define OK MG_VERDICT_OK, MG_SIGNAL_NONE
#define THR(sig) MG_VERDICT_THROTTLE, MG_SIGNAL_##sig
#define SHED(sig) MG_VERDICT_SHED, MG_SIGNAL_##sig

/* MinAvailable 20% / 10% of 16 GiB: 3276.8 MiB and 1638.4 MiB; cleared
 * at +5%: 3440.64 and 1720.32 MiB. */
static void test_available_sustain_hysteresis(void **state)
{
    mg_policy_conf_t c;
    static const step_t steps[] = {
        {0, ALL, 8000, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 0},
        {100, ALL, 3000, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 0},
        {600, ALL, 3000, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 0},
        {1099, ALL, 3000, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 0}, /* not yet */
        {1100, ALL, 3000, 0, 0, 0, 0, 0, 0, 0, 6000, THR(AVAILABLE), 1},
        {1200, ALL, 3000, 0, 0, 0, 0, 0, 0, 0, 6000, THR(AVAILABLE), 0},
        /* back above the threshold but inside the margin: held */
        {1300, ALL, 3300, 0, 0, 0, 0, 0, 0, 0, 6000, THR(AVAILABLE), 0},
        {1400, ALL, 3440, 0, 0, 0, 0, 0, 0, 0, 6000, THR(AVAILABLE), 0},
        {1500, ALL, 3441, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 1},
        {1600, ALL, 3441, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 0},
        /* one sample inside restarts the sustain clock */
        {3000, ALL, 3000, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 0},
        {3500, ALL, 5000, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 0},
        {3600, ALL, 3000, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 0},
        {4500, ALL, 3000, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 0},
        {4600, ALL, 3000, 0, 0, 0, 0, 0, 0, 0, 6000, THR(AVAILABLE), 1},
        /* sustained further down: shed, once */
        {4700, ALL, 1000, 0, 0, 0, 0, 0, 0, 0, 6000, THR(AVAILABLE), 0},
        {5700, ALL, 1000, 0, 0, 0, 0, 0, 0, 0, 6000, SHED(AVAILABLE), 1},
        {5800, ALL, 1000, 0, 0, 0, 0, 0, 0, 0, 6000, SHED(AVAILABLE), 0},
        /* shed clears past 1720 MiB, throttle still holds */
        {5900, ALL, 1700, 0, 0, 0, 0, 0, 0, 0, 6000, SHED(AVAILABLE), 0},
        {6000, ALL, 1721, 0, 0, 0, 0, 0, 0, 0, 6000, THR(AVAILABLE), 1},
        /* straight from throttle to ok in one step */
        {6100, ALL, 9000, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 1},
    };

    (void)state;
    conf_base(&c);
    c.min_available.throttle = pct(2000);
    c.min_available.shed = pct(1000);
    RUN("available", &c, steps);

    /* the same with hysteresis 0: inside is enough */
    {
        static const step_t h0[] = {
            {0, ALL, 1000, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 0},
            {1000, ALL, 1000, 0, 0, 0, 0, 0, 0, 0, 6000, SHED(AVAILABLE), 1},
            {1100, ALL, 3277, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 1},
        };

        c.hysteresis_bp = 0;
        RUN("available h=0", &c, h0);
    }
    /* hostile hysteresis over 100%: capped, not overflowing */
    {
        static const step_t hx[] = {
            {0, ALL, 1000, 0, 0, 0, 0, 0, 0, 0, 6000, SHED(AVAILABLE), 1},
            {10, ALL, 3300, 0, 0, 0, 0, 0, 0, 0, 6000, THR(AVAILABLE), 1},
            {20, ALL, 6552, 0, 0, 0, 0, 0, 0, 0, 6000, THR(AVAILABLE), 0},
            {30, ALL, 6554, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 1},
        };

        c.hysteresis_bp = 60000;
        c.sustain_us = 0;
        RUN("available h>100%", &c, hx);
    }
}

static void test_shed_dominates(void **state)
{
    mg_policy_conf_t c;
    static const step_t steps[] = {
        /* psi some (throttle) and slab (shed) past together: shed */
        {0, ALL, 8000, 3000, 0, 0, 2000, 0, 0, 0, 6000, SHED(SLAB), 1},
        /* psi full joins: still shed, no new transition */
        {100, ALL, 8000, 3000, 0, 0, 2000, 900, 0, 0, 6000, SHED(SLAB), 0},
        /* slab clear: psi full keeps it shed, and takes the blame */
        {200, ALL, 8000, 100, 0, 0, 2000, 900, 0, 0, 6000, SHED(PSI_FULL), 0},
        /* full clear, some still past: down to throttle */
        {300, ALL, 8000, 100, 0, 0, 2000, 0, 0, 0, 6000, THR(PSI_SOME), 1},
        {400, ALL, 8000, 100, 0, 0, 0, 0, 0, 0, 6000, OK, 1},
    };

    (void)state;
    conf_base(&c);
    c.sustain_us = 0;
    c.max_slab.shed = pct(1500);
    c.psi_some_set = 1;
    c.psi_some_max = 1000;
    c.psi_full_set = 1;
    c.psi_full_max = 500;
    RUN("shed dominates", &c, steps);
}

static void test_disabled_and_invalid(void **state)
{
    mg_policy_conf_t c;
    static const step_t none[] = {
        /* everything dreadful, nothing configured */
        {0, ALL, 0, 16000, 16000, 9000, 10000, 10000, 100, 200, 0, OK, 0},
        {5000, ALL, 0, 16000, 16000, 9000, 10000, 10000, 100, 200, 0, OK, 0},
    };
    static const step_t invalid[] = {
        /* everything dreadful and configured, but no source valid for
         * it except NUMA... */
        {0, MG_SRC_NUMA, 0, 16000, 16000, 9000, 10000, 10000, 100, 200, 6000,
         OK, 0},
        /* ...then only PSI valid, with a calm PSI */
        {100, MG_SRC_PSI, 0, 16000, 16000, 9000, 0, 0, 100, 200, 6000, OK, 0},
        /* a signal whose source disappears no longer holds the state */
        {200, ALL, 0, 0, 0, 0, 0, 0, 0, 0, 6000, SHED(AVAILABLE), 1},
        {300, MG_SRC_PSI, 0, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 1},
    };

    (void)state;
    conf_base(&c);
    c.sustain_us = 0;
    RUN("disabled", &c, none);

    c.min_available.shed = pct(1000);
    c.min_node_available.shed = pct(1000);
    c.max_slab.shed = pct(1000);
    c.max_sunreclaim.shed = mib(100);
    c.ncaches = 1;
    c.max_cache[0].shed = mib(100);
    c.psi_some_set = 1;
    c.psi_some_max = 100;
    c.psi_full_set = 1;
    c.psi_full_max = 100;
    RUN("invalid", &c, invalid);

    /* a set flag of 0 disables even with a value in place */
    memset(&c.min_available, 0, sizeof(c.min_available));
    c.min_available.shed.t.bytes = U64MAX;
    c.min_node_available.shed.set = 0;
    c.max_slab.shed.set = 0;
    c.max_sunreclaim.shed.set = 0;
    c.max_cache[0].shed.set = 0;
    c.psi_some_set = c.psi_full_set = 0;
    RUN("disabled with values", &c, none);
}

static void test_cgroup(void **state)
{
    mg_policy_conf_t c;
    /* 10% of a 4 GiB limit = 409.6 MiB of headroom; 5% of MemTotal for
     * the system = 819.2 MiB, never reached here */
    static const step_t steps[] = {
        {0, ALL, 8000, 0, 0, 0, 0, 0, 4096, 3000, 6000, OK, 0},
        {100, ALL, 8000, 0, 0, 0, 0, 0, 4096, 3700, 6000, THR(CGROUP), 1},
        /* working set over the limit (usage races the limit): 0 headroom */
        {200, ALL, 8000, 0, 0, 0, 0, 0, 4096, 5000, 6000, SHED(CGROUP), 1},
        /* cgroup source lost: ignored */
        {300, ALL & ~MG_SRC_CGROUP, 8000, 0, 0, 0, 0, 0, 4096, 5000, 6000, OK,
         1},
        /* unlimited (UINT64_MAX), or v1's 2^63 - 4096 in MiB terms */
        {400, ALL, 8000, 0, 0, 0, 0, 0, 0, 100000, 6000, OK, 0},
        {500, ALL, 8000, 0, 0, 0, 0, 0, (1ULL << 43) - 1, (1ULL << 43) - 2,
         6000, OK, 0},
    };

    (void)state;
    conf_base(&c);
    c.sustain_us = 0;
    c.min_available.throttle = pct(1000);
    c.min_available.shed = pct(500);
    RUN("cgroup", &c, steps);

    /* a byte threshold applies to the cgroup headroom as is */
    {
        static const step_t bytes[] = {
            {0, ALL, 8000, 0, 0, 0, 0, 0, 4096, 3700, 6000, OK, 0},
            {100, ALL, 8000, 0, 0, 0, 0, 0, 4096, 3900, 6000, SHED(CGROUP), 1},
        };

        c.min_available.throttle.set = 0;
        c.min_available.shed = mib(256);
        RUN("cgroup bytes", &c, bytes);
    }
}

static void test_node(void **state)
{
    mg_policy_conf_t c;
    mg_policy_state_t st;
    mg_sample_t s;
    mg_verdict_t v;
    /* 10% of an 8 GiB node = 819.2 MiB */
    static const step_t steps[] = {
        {0, ALL, 8000, 0, 0, 0, 0, 0, 0, 0, 900, OK, 0},
        {100, ALL, 8000, 0, 0, 0, 0, 0, 0, 0, 500, OK, 0},
        {1100, ALL, 8000, 0, 0, 0, 0, 0, 0, 0, 500, SHED(NODE), 1},
        {1200, ALL & ~MG_SRC_NUMA, 8000, 0, 0, 0, 0, 0, 0, 0, 500, OK, 1},
    };
    static const step_t first = {0, ALL, 8000, 0, 0, 0, 0, 0, 0, 0, 500, OK, 0};

    (void)state;
    conf_base(&c);
    c.min_node_available.shed = pct(1000);
    RUN("node", &c, steps);

    /* the verdict names the node by its number, not its index */
    c.sustain_us = 0;
    mg_policy_state_init(&st);
    sample_from(&first, &s);
    assert_int_equal(mg_policy_eval(&c, &st, &s, 0, &v), 0);
    assert_int_equal(v.signal, MG_SIGNAL_NODE);
    assert_int_equal(v.detail, 2);
    assert_int_equal(v.value, 500 * MIB);
    assert_int_equal(v.threshold, 8192 * MIB / 10);

    /* hostile: nnodes far beyond the array, node totals of 0 */
    s.nnodes = 100000;
    s.nodes[0].total = 0;
    s.nodes[0].available = 0;
    mg_policy_state_init(&st);
    assert_int_equal(mg_policy_eval(&c, &st, &s, 0, &v), 0);
    assert_int_equal(v.state, MG_VERDICT_OK);
}

static void test_slab(void **state)
{
    mg_policy_conf_t c;
    /* Slab 15% of 16 GiB = 2457.6 MiB, cleared at <= 2334.72 MiB;
     * SUnreclaim throttle at 1 GiB */
    static const step_t steps[] = {
        {0, ALL, 8000, 3000, 0, 0, 0, 0, 0, 0, 6000, SHED(SLAB), 1},
        {100, ALL, 8000, 2400, 0, 0, 0, 0, 0, 0, 6000, SHED(SLAB), 0},
        {200, ALL, 8000, 2335, 0, 0, 0, 0, 0, 0, 6000, SHED(SLAB), 0},
        {300, ALL, 8000, 2334, 0, 0, 0, 0, 0, 0, 6000, OK, 1},
        {400, ALL, 8000, 2334, 2048, 0, 0, 0, 0, 0, 6000, THR(SUNRECLAIM), 1},
        {500, ALL, 8000, 2334, 1024, 0, 0, 0, 0, 0, 6000, THR(SUNRECLAIM), 0},
        {600, ALL, 8000, 2334, 900, 0, 0, 0, 0, 0, 6000, OK, 1},
    };

    (void)state;
    conf_base(&c);
    c.sustain_us = 0;
    c.max_slab.shed = pct(1500);
    c.max_sunreclaim.throttle = mib(1024);
    RUN("slab", &c, steps);
}

static void test_slab_cache(void **state)
{
    mg_policy_conf_t c;
    static const step_t steps[] = {
        {0, ALL, 8000, 0, 0, 1000, 0, 0, 0, 0, 6000, OK, 0},
        {100, ALL, 8000, 0, 0, 2560, 0, 0, 0, 0, 6000, SHED(SLAB_CACHE), 1},
        /* slabinfo unreadable: the cache is not judged */
        {200, ALL & ~MG_SRC_SLABINFO, 8000, 0, 0, 2560, 0, 0, 0, 0, 6000, OK,
         1},
        /* a byte limit does not need MemTotal */
        {300, MG_SRC_SLABINFO, 8000, 0, 0, 2560, 0, 0, 0, 0, 6000,
         SHED(SLAB_CACHE), 1},
    };
    static const step_t pct_steps[] = {
        /* 10% of MemTotal = 1638.4 MiB; without MemTotal: skipped */
        {0, ALL, 8000, 0, 0, 2000, 0, 0, 0, 0, 6000, THR(SLAB_CACHE), 1},
        {100, MG_SRC_SLABINFO, 8000, 0, 0, 2000, 0, 0, 0, 0, 6000, OK, 1},
    };

    (void)state;
    conf_base(&c);
    c.sustain_us = 0;
    c.ncaches = 1;
    c.max_cache[0].shed = mib(2048);
    RUN("slab cache", &c, steps);

    c.max_cache[0].shed.set = 0;
    c.max_cache[0].throttle = pct(1000);
    RUN("slab cache percent", &c, pct_steps);

    /* configured caches beyond what the sample carries are skipped */
    {
        static const step_t more[] = {
            {0, ALL, 8000, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 0},
        };

        c.ncaches = MG_SAMPLE_MAX_CACHES;
        c.max_cache[5].shed = mib(0);
        c.max_cache[MG_SAMPLE_MAX_CACHES - 1].shed = mib(0);
        RUN("slab cache beyond sample", &c, more);
        c.ncaches = 1000; /* hostile */
        RUN("slab cache ncaches hostile", &c, more);
    }
}

static void test_psi(void **state)
{
    mg_policy_conf_t c;
    static const step_t steps[] = {
        {0, ALL, 8000, 0, 0, 0, 1000, 0, 0, 0, 6000, OK, 0},
        {100, ALL, 8000, 0, 0, 0, 1001, 0, 0, 0, 6000, OK, 0},
        {600, ALL, 8000, 0, 0, 0, 2500, 0, 0, 0, 6000, THR(PSI_SOME), 1},
        {700, ALL, 8000, 0, 0, 0, 2500, 501, 0, 0, 6000, THR(PSI_SOME), 0},
        {1200, ALL, 8000, 0, 0, 0, 2500, 800, 0, 0, 6000, SHED(PSI_FULL), 1},
        /* PSI switched off (the file reads EOPNOTSUPP): skipped */
        {1300, ALL & ~MG_SRC_PSI, 8000, 0, 0, 0, 9999, 9999, 0, 0, 6000, OK, 1},
        /* psi some 9.50% clears a 10.00% limit with 5% hysteresis; 9.51
         * does not */
        {1400, ALL, 8000, 0, 0, 0, 1500, 0, 0, 0, 6000, OK, 0},
        {1900, ALL, 8000, 0, 0, 0, 1500, 0, 0, 0, 6000, THR(PSI_SOME), 1},
        {2000, ALL, 8000, 0, 0, 0, 951, 0, 0, 0, 6000, THR(PSI_SOME), 0},
        {2100, ALL, 8000, 0, 0, 0, 950, 0, 0, 0, 6000, OK, 1},
    };

    (void)state;
    conf_base(&c);
    c.sustain_us = 500000;
    c.psi_some_set = 1;
    c.psi_some_max = 1000;
    c.psi_full_set = 1;
    c.psi_full_max = 500;
    RUN("psi", &c, steps);
}

static void test_stale(void **state)
{
    mg_policy_conf_t c;
    mg_verdict_state_t out;
    static const step_t closed[] = {
        {0, ALL, 8000, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 0},
        {100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, SHED(STALE), 1},
        {200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, SHED(STALE), 0},
        /* a real sample ends it at once: no hysteresis on "no data" */
        {300, ALL, 8000, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 1},
    };
    static const step_t open[] = {
        {0, ALL, 8000, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 0},
        {100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, MG_VERDICT_OK, MG_SIGNAL_STALE, 0},
        {200, ALL, 8000, 0, 0, 0, 0, 0, 0, 0, 6000, OK, 0},
        /* shed, then the sampler reads nothing: fail open drops it */
        {300, ALL, 100, 0, 0, 0, 0, 0, 0, 0, 6000, SHED(AVAILABLE), 1},
        {400, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, MG_VERDICT_OK, MG_SIGNAL_STALE, 1},
    };
    static const struct {
        uint64_t last, now, after;
        mg_fail_mode_t mode;
        int stale;
        mg_verdict_state_t want;
    } cases[] = {
        {1000000, 2000000, 2000000, MG_FAIL_OPEN, 0, 0},
        {1000000, 3000000, 2000000, MG_FAIL_OPEN, 0, 0}, /* exactly: fresh */
        {1000000, 3000001, 2000000, MG_FAIL_OPEN, 1, MG_VERDICT_OK},
        {1000000, 3000001, 2000000, MG_FAIL_CLOSED, 1, MG_VERDICT_SHED},
        {0, 5, 2000000, MG_FAIL_CLOSED, 1, MG_VERDICT_SHED}, /* never */
        {9000000, 1000, 2000000, MG_FAIL_CLOSED, 0, 0},      /* clock back */
        {1, U64MAX, 2000000, MG_FAIL_CLOSED, 1, MG_VERDICT_SHED},
        {1, U64MAX, 0, MG_FAIL_CLOSED, 0, 0}, /* disabled */
        {0, 0, 0, MG_FAIL_CLOSED, 0, 0},
    };
    size_t i;

    (void)state;
    conf_base(&c);
    c.sustain_us = 0;
    c.min_available.shed = pct(1000);
    c.fail_mode = MG_FAIL_CLOSED;
    RUN("stale closed", &c, closed);
    c.fail_mode = MG_FAIL_OPEN;
    RUN("stale open", &c, open);

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        out = (mg_verdict_state_t)77;
        c.stale_after_us = cases[i].after;
        c.fail_mode = cases[i].mode;
        if (mg_policy_stale(&c, cases[i].last, cases[i].now, &out) !=
            cases[i].stale) {
            fail_msg("stale case %zu", i);
        }
        if (cases[i].stale ? out != cases[i].want : out != 77) {
            fail_msg("stale case %zu: state %d", i, (int)out);
        }
    }
    assert_int_equal(mg_policy_stale(NULL, 0, 100, &out), 0);
    c.stale_after_us = 1;
    assert_int_equal(mg_policy_stale(&c, 0, 100, NULL), 1);
}

static void test_eval_hostile(void **state)
{
    mg_policy_conf_t c;
    mg_policy_state_t st;
    mg_sample_t s;
    mg_verdict_t v;

    (void)state;
    conf_base(&c);
    mg_policy_state_init(&st);
    memset(&s, 0, sizeof(s));
    assert_int_equal(mg_policy_eval(NULL, &st, &s, 0, &v), -EINVAL);
    assert_int_equal(mg_policy_eval(&c, NULL, &s, 0, &v), -EINVAL);
    assert_int_equal(mg_policy_eval(&c, &st, NULL, 0, &v), -EINVAL);
    assert_int_equal(mg_policy_eval(&c, &st, &s, 0, NULL), -EINVAL);

    /* percent thresholds with MemTotal 0: skipped, not "0 bytes" */
    c.min_available.shed = pct(1000);
    c.max_slab.shed = pct(1000);
    c.sustain_us = 0;
    s.valid = MG_SRC_MEMINFO;
    s.slab = 1;
    assert_int_equal(mg_policy_eval(&c, &st, &s, 0, &v), 0);
    assert_int_equal(v.state, MG_VERDICT_OK);
    /* absurd totals and values do not overflow */
    s.mem_total = U64MAX;
    s.mem_available = 0;
    s.slab = U64MAX;
    c.hysteresis_bp = UINT32_MAX;
    assert_int_equal(mg_policy_eval(&c, &st, &s, U64MAX, &v), 0);
    assert_int_equal(v.state, MG_VERDICT_SHED);
    assert_int_equal(v.transition, 1);
    /* time going backwards does not trip or untrip anything by itself */
    c.sustain_us = 1000;
    mg_policy_state_init(&st);
    assert_int_equal(mg_policy_eval(&c, &st, &s, 5000, &v), 0);
    assert_int_equal(v.state, MG_VERDICT_OK);
    assert_int_equal(mg_policy_eval(&c, &st, &s, 10, &v), 0);
    assert_int_equal(v.state, MG_VERDICT_OK);
    assert_int_equal(mg_policy_eval(&c, &st, &s, 1009, &v), 0);
    assert_int_equal(v.state, MG_VERDICT_OK);
    assert_int_equal(mg_policy_eval(&c, &st, &s, 1010, &v), 0);
    assert_int_equal(v.state, MG_VERDICT_SHED);
}

static void test_describe(void **state)
{
    mg_sample_t s;
    char buf[160];
    size_t i;
    static const struct {
        mg_verdict_t v;
        const char *want;
    } cases[] = {
        {{MG_VERDICT_OK, 0, 0, MG_SIGNAL_NONE, -1, 0, 0, 0, 0, {0}}, "ok"},
        {{MG_VERDICT_SHED,
          0,
          1,
          MG_SIGNAL_SLAB_CACHE,
          0,
          2560 * MIB,
          2048 * MIB,
          0,
          0,
          {0}},
         "shed: slab cache nfs_inode_cache 2.5 GiB > limit 2.0 GiB"},
        {{MG_VERDICT_THROTTLE,
          0,
          1,
          MG_SIGNAL_AVAILABLE,
          -1,
          1228 * MIB,
          1536 * MIB,
          1613 * MIB,
          0,
          {0}},
         "throttle: available 1.2 GiB < minimum 1.5 GiB"},
        {{MG_VERDICT_THROTTLE,
          0,
          0,
          MG_SIGNAL_AVAILABLE,
          -1,
          1600 * MIB,
          1536 * MIB,
          1740 * MIB,
          0,
          {0}},
         "throttle: available 1.6 GiB, holding until >= 1.7 GiB "
         "(minimum 1.5 GiB)"},
        {{MG_VERDICT_SHED,
          0,
          0,
          MG_SIGNAL_SLAB,
          -1,
          2400 * MIB,
          2457 * MIB,
          2334 * MIB,
          0,
          {0}},
         "shed: slab 2.3 GiB, holding until <= 2.3 GiB (limit 2.4 GiB)"},
        {{MG_VERDICT_SHED,
          0,
          1,
          MG_SIGNAL_CGROUP,
          -1,
          100 * MIB,
          200 * MIB,
          0,
          0,
          {0}},
         "shed: cgroup headroom 100.0 MiB < minimum 200.0 MiB"},
        {{MG_VERDICT_SHED,
          0,
          1,
          MG_SIGNAL_NODE,
          1,
          500 * MIB,
          819 * MIB,
          0,
          0,
          {0}},
         "shed: node 1 available 500.0 MiB < minimum 819.0 MiB"},
        {{MG_VERDICT_SHED,
          0,
          1,
          MG_SIGNAL_SUNRECLAIM,
          -1,
          3 * 1024 * MIB,
          2 * 1024 * MIB,
          0,
          0,
          {0}},
         "shed: unreclaimable slab 3.0 GiB > limit 2.0 GiB"},
        {{MG_VERDICT_THROTTLE,
          0,
          1,
          MG_SIGNAL_PSI_SOME,
          -1,
          1234,
          1000,
          0,
          0,
          {0}},
         "throttle: memory pressure (some avg10) 12.34% > limit 10.00%"},
        {{MG_VERDICT_SHED, 0, 1, MG_SIGNAL_PSI_FULL, -1, 10000, 5, 0, 0, {0}},
         "shed: memory pressure (full avg10) 100.00% > limit 0.05%"},
        {{MG_VERDICT_SHED, 0, 1, MG_SIGNAL_STALE, -1, 0, 0, 0, 0, {0}},
         "shed: no fresh sample (fail closed)"},
        {{MG_VERDICT_OK, 0, 0, MG_SIGNAL_STALE, -1, 0, 0, 0, 0, {0}},
         "ok: no fresh sample (fail open)"},
        /* hostile: cache index out of range, unknown signal and state */
        {{MG_VERDICT_SHED, 0, 1, MG_SIGNAL_SLAB_CACHE, 99, 2, 1, 0, 0, {0}},
         "shed: slab cache #99 2 B > limit 1 B"},
        {{MG_VERDICT_SHED, 0, 1, MG_SIGNAL_SLAB_CACHE, -5, 2, 1, 0, 0, {0}},
         "shed: slab cache #-5 2 B > limit 1 B"},
        {{MG_VERDICT_SHED, 0, 1, (mg_signal_t)250, -1, 0, 0, 0, 0, {0}},
         "shed: signal 250"},
        {{(mg_verdict_state_t)9, 0, 1, MG_SIGNAL_NONE, -1, 0, 0, 0, 0, {0}},
         "?"},
    };

    (void)state;
    memset(&s, 0, sizeof(s));
    s.ncaches = 2;
    snprintf(s.caches[0].name, sizeof(s.caches[0].name), "nfs_inode_cache");
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mg_verdict_describe(&cases[i].v, &s, buf, sizeof(buf));
        if (strcmp(buf, cases[i].want) != 0) {
            fail_msg("describe %zu: '%s', want '%s'", i, buf, cases[i].want);
        }
    }
    /* a cache name with control characters and no NUL is made safe */
    memset(s.caches[1].name, '\x1b', sizeof(s.caches[1].name));
    {
        mg_verdict_t v = {
            MG_VERDICT_SHED, 0, 1, MG_SIGNAL_SLAB_CACHE, 1, 2, 1, 0, 0, {0}};

        mg_verdict_describe(&v, &s, buf, sizeof(buf));
        assert_null(strchr(buf, '\x1b'));
        assert_non_null(strstr(buf, "slab cache ???"));
        /* NULL sample: the index stands in for the name */
        mg_verdict_describe(&v, NULL, buf, sizeof(buf));
        assert_string_equal(buf, "shed: slab cache #1 2 B > limit 1 B");
        /* truncation keeps a terminated string */
        assert_true(mg_verdict_describe(&v, &s, buf, 8) > 8);
        assert_string_equal(buf, "shed: s");
        assert_int_equal(mg_verdict_describe(NULL, &s, buf, 8), -EINVAL);
    }
    /* the describe of a real eval, as the brief's example */
    {
        mg_policy_conf_t c;
        mg_policy_state_t st;
        mg_verdict_t v;
        static const step_t step = {0, ALL, 8000, 0,    0,  2560, 0,
                                    0, 0,   0,    6000, OK, 0};

        conf_base(&c);
        c.sustain_us = 0;
        c.ncaches = 1;
        c.max_cache[0].shed = mib(2048);
        mg_policy_state_init(&st);
        sample_from(&step, &s);
        assert_int_equal(mg_policy_eval(&c, &st, &s, 0, &v), 0);
        mg_verdict_describe(&v, &s, buf, sizeof(buf));
        assert_string_equal(
            buf, "shed: slab cache nfs_inode_cache 2.5 GiB > limit 2.0 GiB");
        assert_int_equal(v.detail, 0);
        assert_int_equal(v.clear_at, 2048 * MIB - 2048 * MIB / 20);
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(mg_verdict_state_name(MG_VERDICT_OK), "ok");
    assert_string_equal(mg_verdict_state_name(MG_VERDICT_THROTTLE), "throttle");
    assert_string_equal(mg_verdict_state_name(MG_VERDICT_SHED), "shed");
    assert_string_equal(mg_verdict_state_name((mg_verdict_state_t)3), "?");
    assert_string_equal(mg_signal_name(MG_SIGNAL_AVAILABLE), "available");
    assert_string_equal(mg_signal_name(MG_SIGNAL_CGROUP), "cgroup");
    assert_string_equal(mg_signal_name(MG_SIGNAL_NODE), "node");
    assert_string_equal(mg_signal_name(MG_SIGNAL_SLAB), "slab");
    assert_string_equal(mg_signal_name(MG_SIGNAL_SUNRECLAIM), "sunreclaim");
    assert_string_equal(mg_signal_name(MG_SIGNAL_SLAB_CACHE), "slab-cache");
    assert_string_equal(mg_signal_name(MG_SIGNAL_PSI_SOME), "psi-some");
    assert_string_equal(mg_signal_name(MG_SIGNAL_PSI_FULL), "psi-full");
    assert_string_equal(mg_signal_name(MG_SIGNAL_STALE), "stale");
    assert_string_equal(mg_signal_name(MG_SIGNAL__COUNT), "?");
    assert_string_equal(mg_signal_name((mg_signal_t)-1), "?");
    assert_string_equal(mg_recycle_reason_name(MG_RECYCLE_RSS), "rss");
    assert_string_equal(mg_recycle_reason_name(MG_RECYCLE_HEADROOM),
                        "headroom");
    assert_string_equal(mg_recycle_reason_name(MG_RECYCLE_RESPONSE),
                        "response");
    assert_string_equal(mg_recycle_reason_name(MG_RECYCLE_NICE), "nice");
    assert_string_equal(mg_recycle_reason_name(MG_RECYCLE__COUNT), "?");
    assert_string_equal(mg_recycle_reason_name(UINT32_MAX), "?");
}

/* ---- recycling ----------------------------------------------------------- */

static void test_jitter(void **state)
{
    const uint64_t lim = 1000 * MIB;
    uint64_t lo = U64MAX, hi = 0, v;
    uint32_t pid, below = 0, above = 0;

    (void)state;
    for (pid = 1; pid <= 20000; pid++) {
        v = mg_policy_jittered_limit(lim, 1000, pid);
        assert_int_equal(v, mg_policy_jittered_limit(lim, 1000, pid));
        if (v < lim - lim / 10 || v > lim + lim / 10) {
            fail_msg("pid %u: %llu outside +-10%%", pid, (unsigned long long)v);
        }
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        below += v < lim;
        above += v > lim;
    }
    /* spread over the whole range, about evenly on both sides */
    assert_true(lo < lim - lim / 10 + lim / 200);
    assert_true(hi > lim + lim / 10 - lim / 200);
    assert_true(below > 9000 && above > 9000);
    /* consecutive pids differ (children forked together) */
    assert_true(mg_policy_jittered_limit(lim, 1000, 4000) !=
                mg_policy_jittered_limit(lim, 1000, 4001));

    /* hostile */
    assert_int_equal(mg_policy_jittered_limit(lim, 0, 7), lim);
    assert_int_equal(mg_policy_jittered_limit(0, 1000, 7), 0);
    for (below = 0, pid = 0; pid < 1000; pid++) {
        /* the upper side saturates instead of wrapping to a tiny limit */
        v = mg_policy_jittered_limit(U64MAX, 10000, pid);
        below += v == U64MAX;
        /* jitter over 100% is capped at 100% */
        v = mg_policy_jittered_limit(lim, UINT32_MAX, pid);
        assert_true(v <= 2 * lim);
    }
    assert_true(below > 0);
    assert_int_equal(mg_policy_jittered_limit(1, 5000, 3) <= 2, 1);
}

static void test_recycle_check(void **state)
{
    uint64_t v = 0, l = 0;

    (void)state;
    assert_int_equal(mg_policy_recycle_check(500, 0, 500, 0, 0, 1, &v, &l),
                     MG_RECYCLE_NONE);
    assert_int_equal(mg_policy_recycle_check(501, 500, 0, 0, 0, 1, &v, &l),
                     MG_RECYCLE_RSS);
    assert_int_equal(v, 501);
    assert_int_equal(l, 500);
    assert_int_equal(mg_policy_recycle_check(500, 500, 0, 0, 0, 1, &v, &l),
                     MG_RECYCLE_NONE);
    assert_int_equal(mg_policy_recycle_check(10, 500, 301, 300, 0, 1, &v, &l),
                     MG_RECYCLE_UNSHARED);
    assert_int_equal(v, 301);
    assert_int_equal(l, 300);
    /* rss first when both are over */
    assert_int_equal(
        mg_policy_recycle_check(900, 500, 900, 300, 0, 1, NULL, NULL),
        MG_RECYCLE_RSS);
    /* the jittered limit is the one compared and reported */
    l = 0;
    mg_policy_recycle_check(U64MAX, 1000 * MIB, 0, 0, 1000, 1234, &v, &l);
    assert_int_equal(l, mg_policy_jittered_limit(1000 * MIB, 1000, 1234));
}

static void test_pick_largest(void **state)
{
    static const uint64_t sizes[] = {5, 0, 9, 7, 9, 0, 1, 7};
    uint32_t out[16];

    (void)state;
    memset(out, 0xff, sizeof(out));
    assert_int_equal(mg_policy_pick_largest(sizes, 8, 3, out), 3);
    assert_int_equal(out[0], 2); /* ties: lower index first */
    assert_int_equal(out[1], 4);
    assert_int_equal(out[2], 3);
    assert_int_equal(out[3], UINT32_MAX); /* nothing written beyond k */
    /* k larger than the nonzero sizes: zeros never picked */
    assert_int_equal(mg_policy_pick_largest(sizes, 8, 16, out), 6);
    assert_int_equal(out[3], 7);
    assert_int_equal(out[4], 0);
    assert_int_equal(out[5], 6);
    /* hostile */
    assert_int_equal(mg_policy_pick_largest(sizes, 8, 0, out), 0);
    assert_int_equal(mg_policy_pick_largest(sizes, 0, 3, out), 0);
    assert_int_equal(mg_policy_pick_largest(NULL, 8, 3, out), 0);
    assert_int_equal(mg_policy_pick_largest(sizes, 8, 3, NULL), 0);
    {
        static const uint64_t zeros[4] = {0};
        static const uint64_t same[4] = {U64MAX, U64MAX, U64MAX, U64MAX};

        assert_int_equal(mg_policy_pick_largest(zeros, 4, 4, out), 0);
        assert_int_equal(mg_policy_pick_largest(same, 4, 4, out), 4);
        assert_int_equal(out[0], 0);
        assert_int_equal(out[3], 3);
    }

    assert_int_equal(mg_policy_headroom_victims(MG_VERDICT_OK, 4), 0);
    assert_int_equal(mg_policy_headroom_victims(MG_VERDICT_THROTTLE, 4), 1);
    assert_int_equal(mg_policy_headroom_victims(MG_VERDICT_THROTTLE, 0), 0);
    assert_int_equal(mg_policy_headroom_victims(MG_VERDICT_SHED, 4), 4);
    assert_int_equal(mg_policy_headroom_victims((mg_verdict_state_t)7, 4), 0);
}

/* ---- fill rate ----------------------------------------------------------- */

/* A cgroup of 1 GiB, MinAvailable 20% / 10% (204.8 / 102.4 MiB of
 * headroom), fill horizons 5 s / 1 s, no sustain, 10% hysteresis. */
static void conf_fill(mg_policy_conf_t *c)
{
    conf_base(c);
    c->sustain_us = 0;
    c->hysteresis_bp = 1000;
    c->min_available.throttle = pct(2000);
    c->min_available.shed = pct(1000);
    c->fill_throttle_us = 5000000;
    c->fill_shed_us = 1000000;
}

/* One sample of the cgroup with `headroom` MiB left, at t_ms. */
static void eval_cg(const mg_policy_conf_t *c, mg_policy_state_t *st,
                    uint64_t t_ms, double headroom, mg_verdict_t *v)
{
    mg_sample_t s;

    memset(&s, 0, sizeof(s));
    s.valid = MG_SRC_MEMINFO | MG_SRC_CGROUP;
    s.mem_total = 16384 * MIB;
    s.mem_available = 12000 * MIB;
    s.cgroup_version = 1;
    s.cgroup_limit = 1024 * MIB;
    s.cgroup_working_set = s.cgroup_limit - (uint64_t)(headroom * (double)MIB);
    assert_int_equal(mg_policy_eval(c, st, &s, t_ms * 1000, v), 0);
}

static void test_fill_throttles_before_the_level(void **state)
{
    mg_policy_conf_t c;
    mg_policy_state_t st;
    mg_verdict_t v;
    uint64_t t;
    double h = 924;
    int seen_throttle = 0, seen_shed = 0, transitions = 0;
    char d[256];

    (void)state;
    conf_fill(&c);
    mg_policy_state_init(&st);
    /* 200 MiB/s: 20 MiB per 100 ms sample */
    for (t = 0; t <= 5000; t += 100, h -= 20) {
        eval_cg(&c, &st, t, h, &v);
        transitions += v.transition;
        if (t < 300) {
            /* too few samples for a slope yet */
            assert_int_equal(v.state, MG_VERDICT_OK);
            continue;
        }
        if (h > 204.8 * 1.1 + 200) {
            /* far above the throttle level, but the shed level is less
             * than 5 s away at this rate */
            assert_int_equal(v.state, MG_VERDICT_THROTTLE);
            assert_int_equal(v.signal, MG_SIGNAL_FILL_CGROUP);
            seen_throttle = 1;
        }
        if (h < 300 && h > 204.8) {
            /* under 1 s from the shed level, still above the throttle
             * level: shed on the rate alone */
            assert_int_equal(v.state, MG_VERDICT_SHED);
            assert_int_equal(v.signal, MG_SIGNAL_FILL_CGROUP);
            assert_true(v.fill.rate > 190 * (int64_t)MIB);
            assert_true(v.fill.rate < 210 * (int64_t)MIB);
            assert_true(v.fill.tte_us < 1000000);
            mg_verdict_describe(&v, NULL, d, sizeof(d));
            assert_non_null(strstr(d, "shed: cgroup headroom "));
            assert_non_null(strstr(d, "falling 200.0 MiB/s, shed level "
                                      "102.4 MiB in 0."));
            seen_shed = 1;
        }
        if (h <= 102) {
            break;
        }
    }
    assert_true(seen_throttle);
    assert_true(seen_shed);
    assert_int_equal(transitions, 2); /* ok -> throttle -> shed */

    /* The fill stops at 150 MiB (between the two levels): the rate
     * fades out of the window and the verdict comes back to the level's
     * throttle, through the hysteresis, without flapping. */
    for (transitions = 0; t <= 9000; t += 100) {
        eval_cg(&c, &st, t, 150, &v);
        transitions += v.transition;
    }
    assert_int_equal(v.state, MG_VERDICT_THROTTLE);
    assert_int_equal(v.signal, MG_SIGNAL_CGROUP);
    assert_int_equal(transitions, 1);
    assert_int_equal(v.fill.rate, 0);
    assert_int_equal(v.fill.tte_us, MG_POLICY_TTE_NEVER);
}

static void test_fill_flat_low_level_does_not_flap(void **state)
{
    mg_policy_conf_t c;
    mg_policy_state_t st;
    mg_verdict_t v;
    uint64_t t;
    int transitions = 0;

    (void)state;
    conf_fill(&c);
    mg_policy_state_init(&st);
    /* 150 MiB, +-2 MiB of noise: throttled by the level, never shed */
    for (t = 0; t <= 20000; t += 100) {
        eval_cg(&c, &st, t, 150 + ((t / 100) % 2 ? 2 : -2), &v);
        transitions += v.transition;
        assert_int_equal(v.state, MG_VERDICT_THROTTLE);
        assert_int_equal(v.signal, MG_SIGNAL_CGROUP);
    }
    assert_int_equal(transitions, 1);
    /* a slow drift that takes minutes to reach the level does not count */
    for (t = 20100; t <= 30000; t += 100) {
        eval_cg(&c, &st, t, 150 - (double)(t - 20000) / 1000.0, &v);
        assert_int_equal(v.state, MG_VERDICT_THROTTLE);
        assert_int_equal(v.signal, MG_SIGNAL_CGROUP);
    }
}

static void test_fill_off_and_hostile(void **state)
{
    mg_policy_conf_t c;
    mg_policy_state_t st;
    mg_verdict_t v;
    mg_sample_t s;
    uint64_t t;
    double h = 924;

    (void)state;
    /* horizons 0: the same ramp meets only the levels */
    conf_fill(&c);
    c.fill_throttle_us = c.fill_shed_us = 0;
    mg_policy_state_init(&st);
    for (t = 0; h > 120; t += 100, h -= 20) {
        eval_cg(&c, &st, t, h, &v);
        if (h >= 204.8) {
            assert_int_equal(v.state, MG_VERDICT_OK);
        }
        /* the rate is still worked out, for the status page */
        if (t >= 300) {
            assert_int_equal(v.fill.signal, MG_SIGNAL_CGROUP);
            assert_true(v.fill.rate > 0);
        }
    }
    assert_int_equal(v.state, MG_VERDICT_THROTTLE);
    assert_int_equal(v.signal, MG_SIGNAL_CGROUP);

    /* the clock going backwards, a source going invalid in the middle,
     * headroom jumping to the edges: no crash, no nonsense rate */
    conf_fill(&c);
    mg_policy_state_init(&st);
    eval_cg(&c, &st, 5000, 900, &v);
    eval_cg(&c, &st, 4000, 800, &v);
    eval_cg(&c, &st, 4100, 0, &v);
    assert_int_equal(v.state, MG_VERDICT_SHED); /* the level itself */
    assert_int_equal(v.signal, MG_SIGNAL_CGROUP);
    memset(&s, 0, sizeof(s));
    s.valid = MG_SRC_MEMINFO; /* the cgroup unreadable for one sample */
    s.mem_total = 16384 * MIB;
    s.mem_available = 12000 * MIB;
    assert_int_equal(mg_policy_eval(&c, &st, &s, 4200 * 1000, &v), 0);
    for (t = 4300; t < 7000; t += 100) {
        eval_cg(&c, &st, t, (t / 100) % 2 ? 1024 : 0.001, &v);
        assert_true(v.fill.tte_us == MG_POLICY_TTE_NEVER ||
                    v.fill.tte_us < 100000000);
    }
    /* huge values: a max signal near UINT64_MAX */
    conf_fill(&c);
    c.max_slab.shed = mib(1);
    mg_policy_state_init(&st);
    for (t = 0; t < 2000; t += 100) {
        memset(&s, 0, sizeof(s));
        s.valid = MG_SRC_MEMINFO;
        s.mem_total = U64MAX;
        s.mem_available = U64MAX - t;
        s.slab = t % 200 ? U64MAX : 0;
        assert_int_equal(mg_policy_eval(&c, &st, &s, t * 1000, &v), 0);
    }
}

/* slab is a maximum: rising toward its shed limit counts */
static void test_fill_slab_rising(void **state)
{
    mg_policy_conf_t c;
    mg_policy_state_t st;
    mg_verdict_t v;
    mg_sample_t s;
    uint64_t t;
    char d[256];

    (void)state;
    conf_fill(&c);
    c.min_available.throttle.set = c.min_available.shed.set = 0;
    c.max_slab.shed = mib(4096);
    mg_policy_state_init(&st);
    for (t = 0; t <= 1000; t += 100) {
        memset(&s, 0, sizeof(s));
        s.valid = MG_SRC_MEMINFO;
        s.mem_total = 16384 * MIB;
        s.mem_available = 12000 * MIB;
        s.slab = (1024 + t) * MIB; /* +1000 MiB/s */
        assert_int_equal(mg_policy_eval(&c, &st, &s, t * 1000, &v), 0);
    }
    /* 2.0 GiB to go at ~1000 MiB/s: about 2 s, under the 5 s horizon */
    assert_int_equal(v.state, MG_VERDICT_THROTTLE);
    assert_int_equal(v.signal, MG_SIGNAL_FILL_SLAB);
    mg_verdict_describe(&v, NULL, d, sizeof(d));
    assert_non_null(strstr(d, "throttle: slab 2.0 GiB rising 1000.0 MiB/s, "
                              "shed level 4.0 GiB in 2."));
    assert_string_equal(mg_signal_name(MG_SIGNAL_FILL_SLAB), "slab-fill");
    assert_int_equal(mg_signal_filled(MG_SIGNAL_FILL_NODE), MG_SIGNAL_NODE);
    assert_int_equal(mg_signal_filled(MG_SIGNAL_SLAB), MG_SIGNAL_NONE);
}

static void test_interval(void **state)
{
    mg_policy_conf_t c;
    mg_policy_state_t st;
    mg_verdict_t v;
    uint64_t t;

    (void)state;
    conf_fill(&c);
    mg_policy_state_init(&st);
    /* calm: far from both levels, flat: the configured interval, never
     * a longer one */
    for (t = 0; t <= 1000; t += 100) {
        eval_cg(&c, &st, t, 900, &v);
    }
    assert_int_equal(mg_policy_interval(&c, &st, 100000, 10000), 100000);
    /* within 25% of the throttle level (204.8 -> 256 MiB): fast (a
     * fresh state: a jump from 900 would be a steep fall) */
    mg_policy_state_init(&st);
    for (t = 0; t <= 1000; t += 100) {
        eval_cg(&c, &st, t, 250, &v);
    }
    assert_int_equal(v.state, MG_VERDICT_OK);
    assert_int_equal(mg_policy_interval(&c, &st, 100000, 10000), 25000);
    /* between 25% and 50% away, flat: the configured interval */
    mg_policy_state_init(&st);
    for (t = 0; t <= 1000; t += 100) {
        eval_cg(&c, &st, t, 280, &v);
    }
    assert_int_equal(mg_policy_interval(&c, &st, 100000, 10000), 100000);
    /* far, but falling toward the shed level within 2 horizons: fast */
    mg_policy_state_init(&st);
    for (t = 0; t <= 1000; t += 100) {
        eval_cg(&c, &st, t, 1000 - (double)t / 10, &v); /* 100 MiB/s */
    }
    assert_int_equal(v.state, MG_VERDICT_OK);
    assert_int_equal(mg_policy_interval(&c, &st, 100000, 10000), 25000);
    /* throttling: fast, and never under the minimum */
    mg_policy_state_init(&st);
    for (t = 0; t <= 1000; t += 100) {
        eval_cg(&c, &st, t, 150, &v);
    }
    assert_int_equal(v.state, MG_VERDICT_THROTTLE);
    assert_int_equal(mg_policy_interval(&c, &st, 100000, 10000), 25000);
    assert_int_equal(mg_policy_interval(&c, &st, 20000, 10000), 10000);
    assert_int_equal(mg_policy_interval(&c, &st, 5000, 10000), 5000);
}

static void test_room(void **state)
{
    mg_policy_conf_t c;
    mg_sample_t s;
    mg_signal_t sig = MG_SIGNAL_NONE;
    int32_t detail = 7;
    int64_t room = 0;

    (void)state;
    conf_base(&c);
    memset(&s, 0, sizeof(s));
    s.valid = MG_SRC_MEMINFO | MG_SRC_CGROUP | MG_SRC_NUMA;
    s.mem_total = 16384 * MIB;
    s.mem_available = 4000 * MIB;
    s.cgroup_version = 1;
    s.cgroup_limit = 1024 * MIB;
    s.cgroup_working_set = 800 * MIB;
    s.nnodes = 1;
    s.nodes[0].node = 3;
    s.nodes[0].total = 8192 * MIB;
    s.nodes[0].available = 5000 * MIB;
    /* no level: nothing to bound */
    assert_int_equal(mg_policy_room(&c, &s, &room, &sig, &detail, NULL),
                     -ENOENT);
    /* shed at 10%: available 4000 - 1638.4, cgroup 224 - 102.4: the
     * cgroup has the least room */
    c.min_available.throttle = pct(2000);
    c.min_available.shed = pct(1000);
    {
        uint64_t level = 0;

        assert_int_equal(mg_policy_room(&c, &s, &room, &sig, &detail, &level),
                         0);
        assert_int_equal(level, 1024 * MIB / 10);
    }
    assert_int_equal(room, 224 * MIB - (int64_t)(1024 * MIB / 10));
    assert_int_equal(sig, MG_SIGNAL_CGROUP);
    assert_int_equal(detail, -1);
    /* past the level: negative */
    s.cgroup_working_set = 1000 * MIB;
    assert_int_equal(mg_policy_room(&c, &s, &room, NULL, NULL, NULL), 0);
    assert_int_equal(room, 24 * MIB - (int64_t)(1024 * MIB / 10));
    /* only a throttle level: it is the one */
    c.min_available.shed.set = 0;
    s.cgroup_working_set = 800 * MIB;
    assert_int_equal(mg_policy_room(&c, &s, &room, NULL, NULL, NULL), 0);
    assert_int_equal(room, 224 * MIB - (int64_t)(1024 * MIB / 5));
    /* a node with less room: it decides, by its number */
    c.min_available.throttle.set = 0;
    c.min_node_available.shed = mib(4990);
    assert_int_equal(mg_policy_room(&c, &s, &room, &sig, &detail, NULL), 0);
    assert_int_equal(room, 10 * MIB);
    assert_int_equal(sig, MG_SIGNAL_NODE);
    assert_int_equal(detail, 3);
    /* sources missing from the sample: skipped */
    s.valid = MG_SRC_MEMINFO;
    assert_int_equal(mg_policy_room(&c, &s, &room, &sig, &detail, NULL),
                     -ENOENT);
    /* hostile */
    assert_int_equal(mg_policy_room(NULL, &s, &room, NULL, NULL, NULL),
                     -EINVAL);
    assert_int_equal(mg_policy_room(&c, NULL, &room, NULL, NULL, NULL),
                     -EINVAL);
    assert_int_equal(mg_policy_room(&c, &s, NULL, NULL, NULL, NULL), -EINVAL);
    c.min_available.shed = mib(1);
    s.mem_available = UINT64_MAX;
    assert_int_equal(mg_policy_room(&c, &s, &room, NULL, NULL, NULL), 0);
    assert_int_equal(room, INT64_MAX);
    s.mem_available = 0;
    c.min_available.shed = mib(1ULL << 40);
    assert_int_equal(mg_policy_room(&c, &s, &room, NULL, NULL, NULL), 0);
    assert_true(room < 0);
}

/* Admitted calls growing within their reservations: budgeted, not a fall */
static void test_fill_ignores_reserved_growth(void **state)
{
    mg_policy_conf_t c;
    mg_policy_state_t st;
    mg_verdict_t v;
    mg_sample_t s;
    uint64_t t;
    double h = 900;

    (void)state;
    conf_fill(&c);
    mg_policy_state_init(&st);
    for (t = 0; t <= 2000; t += 100, h -= 20) {
        memset(&s, 0, sizeof(s));
        s.valid = MG_SRC_MEMINFO | MG_SRC_CGROUP;
        s.mem_total = 16384 * MIB;
        s.mem_available = 12000 * MIB;
        s.cgroup_version = 1;
        s.cgroup_limit = 1024 * MIB;
        s.cgroup_working_set = s.cgroup_limit - (uint64_t)(h * (double)MIB);
        s.reserved_growth = (uint64_t)((900 - h) * (double)MIB);
        assert_int_equal(mg_policy_eval(&c, &st, &s, t * 1000, &v), 0);
        assert_int_equal(v.state, MG_VERDICT_OK);
    }
    assert_int_equal(v.fill.rate, 0);
    /* the same fall with nothing reserved throttles */
    mg_policy_state_init(&st);
    for (t = 0, h = 900; t <= 2000; t += 100, h -= 20) {
        eval_cg(&c, &st, t, h, &v);
    }
    assert_int_equal(v.state, MG_VERDICT_THROTTLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_available_sustain_hysteresis),
        cmocka_unit_test(test_shed_dominates),
        cmocka_unit_test(test_disabled_and_invalid),
        cmocka_unit_test(test_cgroup),
        cmocka_unit_test(test_node),
        cmocka_unit_test(test_slab),
        cmocka_unit_test(test_slab_cache),
        cmocka_unit_test(test_psi),
        cmocka_unit_test(test_stale),
        cmocka_unit_test(test_eval_hostile),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_recycle_check),
        cmocka_unit_test(test_pick_largest),
        cmocka_unit_test(test_fill_throttles_before_the_level),
        cmocka_unit_test(test_fill_flat_low_level_does_not_flap),
        cmocka_unit_test(test_fill_off_and_hostile),
        cmocka_unit_test(test_fill_slab_rising),
        cmocka_unit_test(test_interval),
        cmocka_unit_test(test_room),
        cmocka_unit_test(test_fill_ignores_reserved_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
