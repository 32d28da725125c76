/*
 * mg_policy.c - see mg_policy.h. The verdict (checks, sustain,
 * hysteresis, fill rates), staleness, the admission room and the sampling
 * interval; the verdict's description is in mg_policy_describe.c, the
 * recycling arithmetic in mg_policy_recycle.c. A little over 800 lines:
 * the admission room reads the same checks and fill sources as the
 * verdict, so it stays beside them.
 *
 * Every threshold of the configuration is one "check" with a fixed index
 * (so that its sustain clock survives from one sample to the next): the
 * signal, whether it is a minimum or a maximum, the state it leads to, and
 * where its value and its total come from in the sample.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mg_policy.h"

/* Check indexes: pairs are (throttle, shed). */
enum {
    MG_CK_AVAILABLE = 0,
    MG_CK_CGROUP = 2,
    MG_CK_SLAB = 4,
    MG_CK_SUNRECLAIM = 6,
    MG_CK_NODE = 8,
    MG_CK_CACHE = MG_CK_NODE + 2 * MG_SAMPLE_MAX_NODES,
    MG_CK_PSI_SOME = MG_CK_CACHE + 2 * MG_SAMPLE_MAX_CACHES,
    MG_CK_PSI_FULL,
    MG_CK_FILL, /* a (throttle, shed) pair per fill signal */
    MG_CK__COUNT = MG_CK_FILL + 2 * MG_POLICY_NFILL
};

/* Fill signal indexes (mg_policy_state_t.fill). */
enum {
    MG_FILL_AVAILABLE = 0,
    MG_FILL_CGROUP,
    MG_FILL_SLAB,
    MG_FILL_SUNRECLAIM,
    MG_FILL_NODE /* + node index in the sample */
};

_Static_assert(MG_CK__COUNT == MG_POLICY_NCHECKS, "check index space");

/* The cause of a state that no check decided: the first sample, or a
 * stale one. */
#define MG_CK_NONE ((uint32_t)MG_POLICY_NCHECKS)
#define MG_CK_STALE ((uint32_t)MG_POLICY_NCHECKS + 1)

/*
 * cgroup v1 reports "no limit" as a huge number (PAGE_COUNTER_MAX pages,
 * 2^63 - 4096 on x86-64) rather than "max"; treat anything this large as
 * unlimited whatever the reader made of it.
 */
#define MG_CGROUP_UNLIMITED (1ULL << 62)

typedef struct {
    bool applies; /* threshold set and source valid */
    bool is_min;  /* minimum (available) or maximum (slab) */
    mg_verdict_state_t target;
    mg_signal_t signal;
    int32_t detail;
    uint64_t value;
    uint64_t threshold;
} mg_check_t;

static const char *const mg_state_names[] = {"ok", "throttle", "shed"};

static const char *const mg_signal_names[MG_SIGNAL__COUNT] = {
    [MG_SIGNAL_NONE] = "none",
    [MG_SIGNAL_AVAILABLE] = "available",
    [MG_SIGNAL_CGROUP] = "cgroup",
    [MG_SIGNAL_NODE] = "node",
    [MG_SIGNAL_SLAB] = "slab",
    [MG_SIGNAL_SUNRECLAIM] = "sunreclaim",
    [MG_SIGNAL_SLAB_CACHE] = "slab-cache",
    [MG_SIGNAL_PSI_SOME] = "psi-some",
    [MG_SIGNAL_PSI_FULL] = "psi-full",
    [MG_SIGNAL_STALE] = "stale",
    [MG_SIGNAL_FILL_AVAILABLE] = "available-fill",
    [MG_SIGNAL_FILL_CGROUP] = "cgroup-fill",
    [MG_SIGNAL_FILL_NODE] = "node-fill",
    [MG_SIGNAL_FILL_SLAB] = "slab-fill",
    [MG_SIGNAL_FILL_SUNRECLAIM] = "sunreclaim-fill",
};

const char *mg_verdict_state_name(mg_verdict_state_t s)
{
    if ((unsigned)s > MG_VERDICT_SHED) {
        return "?";
    }
    return mg_state_names[s];
}

const char *mg_signal_name(mg_signal_t s)
{
    if ((unsigned)s >= MG_SIGNAL__COUNT) {
        return "?";
    }
    return mg_signal_names[s];
}

mg_signal_t mg_signal_filled(mg_signal_t s)
{
    switch (s) {
    case MG_SIGNAL_FILL_AVAILABLE:
        return MG_SIGNAL_AVAILABLE;
    case MG_SIGNAL_FILL_CGROUP:
        return MG_SIGNAL_CGROUP;
    case MG_SIGNAL_FILL_NODE:
        return MG_SIGNAL_NODE;
    case MG_SIGNAL_FILL_SLAB:
        return MG_SIGNAL_SLAB;
    case MG_SIGNAL_FILL_SUNRECLAIM:
        return MG_SIGNAL_SUNRECLAIM;
    default:
        return MG_SIGNAL_NONE;
    }
}

/* The fill signal of a level signal. */
static mg_signal_t mg_signal_fill_of(mg_signal_t s)
{
    switch (s) {
    case MG_SIGNAL_AVAILABLE:
        return MG_SIGNAL_FILL_AVAILABLE;
    case MG_SIGNAL_CGROUP:
        return MG_SIGNAL_FILL_CGROUP;
    case MG_SIGNAL_NODE:
        return MG_SIGNAL_FILL_NODE;
    case MG_SIGNAL_SLAB:
        return MG_SIGNAL_FILL_SLAB;
    case MG_SIGNAL_SUNRECLAIM:
        return MG_SIGNAL_FILL_SUNRECLAIM;
    default:
        return MG_SIGNAL_NONE;
    }
}

uint64_t mg_policy_scale_bp(uint64_t x, uint32_t bp)
{
    return (x / 10000) * bp + (x % 10000) * bp / 10000;
}

/* The value a signal must reach to count as cleared. */
static uint64_t mg_clear_at(const mg_check_t *k, uint32_t h_bp)
{
    uint64_t m = mg_policy_scale_bp(k->threshold, h_bp > 10000 ? 10000 : h_bp);

    if (k->is_min) {
        return k->threshold > UINT64_MAX - m ? UINT64_MAX : k->threshold + m;
    }
    return k->threshold - m;
}

static bool mg_past(const mg_check_t *k)
{
    return k->is_min ? k->value < k->threshold : k->value > k->threshold;
}

static bool mg_cleared(const mg_check_t *k, uint32_t h_bp)
{
    uint64_t at = mg_clear_at(k, h_bp);

    return k->is_min ? k->value >= at : k->value <= at;
}

/* Is the value of check k within `bp` basis points of its threshold (or
 * past it)? */
static bool mg_near(const mg_check_t *k, uint32_t bp)
{
    uint64_t m = mg_policy_scale_bp(k->threshold, bp);

    if (k->is_min) {
        return k->value <
               (k->threshold > UINT64_MAX - m ? UINT64_MAX : k->threshold + m);
    }
    return k->value > k->threshold - m;
}

/*
 * Fill *k for one side of a pair. A percent threshold needs a nonzero
 * total; a byte threshold does not.
 */
static void mg_check_pair(mg_check_t *k, const mg_policy_pair_t *p, int shed,
                          bool valid, uint64_t value, uint64_t total)
{
    const mg_policy_limit_t *l = shed ? &p->shed : &p->throttle;

    k->target = shed ? MG_VERDICT_SHED : MG_VERDICT_THROTTLE;
    if (!l->set || !valid || (l->t.is_percent && total == 0)) {
        return;
    }
    k->applies = true;
    k->value = value;
    k->threshold = mg_units_threshold_bytes(&l->t, total);
}

/* The signal a fill index follows. */
static mg_signal_t mg_fill_signal(uint32_t i)
{
    static const mg_signal_t sig[MG_FILL_NODE] = {
        MG_SIGNAL_AVAILABLE, MG_SIGNAL_CGROUP, MG_SIGNAL_SLAB,
        MG_SIGNAL_SUNRECLAIM};

    return i < MG_FILL_NODE ? sig[i] : MG_SIGNAL_NODE;
}

/*
 * What fill signal i is made of in sample s: its value (headroom bytes
 * for a minimum, bytes used for a maximum), the pair of thresholds and
 * the total a percent is of. false when s has no such signal.
 */
static bool mg_fill_source(const mg_policy_conf_t *c, const mg_sample_t *s,
                           uint32_t i, bool *is_min, int32_t *detail,
                           uint64_t *value, const mg_policy_pair_t **pair,
                           uint64_t *total)
{
    bool meminfo = (s->valid & MG_SRC_MEMINFO) != 0;

    *detail = -1;
    switch (i) {
    case MG_FILL_AVAILABLE:
        *is_min = true;
        *value = s->mem_available;
        *pair = &c->min_available;
        *total = s->mem_total;
        return meminfo;
    case MG_FILL_CGROUP: {
        uint64_t lim = s->cgroup_limit, ws = s->cgroup_working_set;

        *is_min = true;
        *value = ws < lim ? lim - ws : 0;
        *pair = &c->min_available;
        *total = lim;
        return (s->valid & MG_SRC_CGROUP) && lim != 0 &&
               lim < MG_CGROUP_UNLIMITED;
    }
    case MG_FILL_SLAB:
    case MG_FILL_SUNRECLAIM:
        *is_min = false;
        *value = i == MG_FILL_SLAB ? s->slab : s->sunreclaim;
        *pair = i == MG_FILL_SLAB ? &c->max_slab : &c->max_sunreclaim;
        *total = s->mem_total;
        return meminfo;
    default:
        i -= MG_FILL_NODE;
        if (!(s->valid & MG_SRC_NUMA) || i >= s->nnodes ||
            i >= MG_SAMPLE_MAX_NODES) {
            return false;
        }
        *is_min = true;
        *detail = s->nodes[i].node;
        *value = s->nodes[i].available;
        *pair = &c->min_node_available;
        *total = s->nodes[i].total;
        return true;
    }
}

/* A threshold in bytes, if it is set and can be resolved. */
static bool mg_limit_bytes(const mg_policy_limit_t *l, uint64_t total,
                           uint64_t *out)
{
    if (!l->set || (l->t.is_percent && total == 0)) {
        return false;
    }
    *out = mg_units_threshold_bytes(&l->t, total);
    return true;
}

/*
 * Least-squares slope, in bytes per second, of fill signal i over the
 * samples of the last `window` microseconds in which it was valid; false
 * with fewer than 3 such samples or a span under a quarter window (too
 * little to tell a trend from a jump). *span_us receives the span.
 */
static bool mg_fill_slope(const mg_policy_state_t *st, uint32_t i,
                          uint64_t now_us, uint64_t window, double *slope,
                          uint64_t *span_us)
{
    double n = 0, st_ = 0, sv = 0, mt, mv, sxx = 0, sxy = 0;
    uint64_t oldest = now_us;
    uint32_t j;

    for (j = 0; j < st->fill_n; j++) {
        uint64_t t = st->fill_t[j];

        if (!(st->fill_ok[j] & (1u << i)) || t > now_us ||
            now_us - t > window) {
            continue;
        }
        n += 1;
        st_ += (double)(now_us - t);
        sv += (double)st->fill_v[i][j];
        if (t < oldest) {
            oldest = t;
        }
    }
    *span_us = now_us - oldest;
    if (n < 3 || *span_us < window / 4) {
        return false;
    }
    mt = st_ / n;
    mv = sv / n;
    for (j = 0; j < st->fill_n; j++) {
        uint64_t t = st->fill_t[j];
        double dt, dv;

        if (!(st->fill_ok[j] & (1u << i)) || t > now_us ||
            now_us - t > window) {
            continue;
        }
        /* time runs backwards in (now - t): negate for the slope */
        dt = -((double)(now_us - t) - mt);
        dv = (double)st->fill_v[i][j] - mv;
        sxx += dt * dt;
        sxy += dt * dv;
    }
    if (sxx <= 0) {
        return false;
    }
    *slope = sxy / sxx * 1e6;
    return true;
}

/*
 * Record sample s in the fill ring, then work out, for every fill signal,
 * how fast it moves toward its level and when it gets there.
 */
static void mg_fill_update(const mg_policy_conf_t *c, mg_policy_state_t *st,
                           const mg_sample_t *s, uint64_t now_us)
{
    uint64_t window =
        c->fill_window_us ? c->fill_window_us : MG_POLICY_FILL_WINDOW_US;
    uint64_t best_tte = MG_POLICY_TTE_NEVER, best_dist = UINT64_MAX;
    uint32_t slot = st->fill_head, i, ok = 0;

    st->fill_t[slot] = now_us;
    for (i = 0; i < MG_POLICY_NFILL; i++) {
        const mg_policy_pair_t *pair;
        uint64_t v, total;
        int32_t detail;
        bool is_min;

        if (mg_fill_source(c, s, i, &is_min, &detail, &v, &pair, &total)) {
            /* growth of admitted calls within their reservations was
             * budgeted above the shed level: it is not a fall toward it */
            if (is_min) {
                v = v > UINT64_MAX - s->reserved_growth
                        ? UINT64_MAX
                        : v + s->reserved_growth;
            }
            st->fill_v[i][slot] = v;
            ok |= 1u << i;
        }
    }
    st->fill_ok[slot] = ok;
    st->fill_head = (slot + 1) % MG_POLICY_FILL_RING;
    if (st->fill_n < MG_POLICY_FILL_RING) {
        st->fill_n++;
    }

    st->fill_watch = 0;
    for (i = 0; i < MG_POLICY_NFILL; i++) {
        mg_policy_fill_t *f = &st->fill[i];
        const mg_policy_pair_t *pair;
        uint64_t v, total, level, span = 0, floor;
        double slope = 0, toward;
        int32_t detail;
        bool is_min;

        memset(f, 0, sizeof(*f));
        f->signal = MG_SIGNAL_NONE;
        f->detail = -1;
        f->tte_us = MG_POLICY_TTE_NEVER;
        if (!(ok & (1u << i)) ||
            !mg_fill_source(c, s, i, &is_min, &detail, &v, &pair, &total)) {
            continue;
        }
        if (mg_limit_bytes(&pair->shed, total, &level)) {
            f->shed_level = 1;
        }
        else if (!mg_limit_bytes(&pair->throttle, total, &level)) {
            continue; /* no level to head for */
        }
        f->signal = mg_fill_signal(i);
        f->detail = detail;
        f->level = level;
        if (is_min) {
            f->distance = v > level ? v - level : 0;
        }
        else {
            f->distance = level > v ? level - v : 0;
        }
        if (mg_fill_slope(st, i, now_us, window, &slope, &span)) {
            /* noise: a change over the window smaller than 1 MiB or
             * 0.1% of the total is no trend */
            floor = total / 1000 > (1u << 20) ? total / 1000 : (1u << 20);
            if ((slope < 0 ? -slope : slope) * ((double)span / 1e6) <
                (double)floor) {
                slope = 0;
            }
        }
        toward = is_min ? -slope : slope;
        if (toward > 9.2e18) {
            toward = 9.2e18;
        }
        else if (toward < -9.2e18) {
            toward = -9.2e18;
        }
        f->rate = (int64_t)toward;
        if (f->distance == 0) {
            f->tte_us = 0;
        }
        else if (f->rate > 0) {
            double t = (double)f->distance / (double)f->rate * 1e6;

            f->tte_us = t >= 1.8e19 ? MG_POLICY_TTE_NEVER - 1 : (uint64_t)t;
        }
        if (f->tte_us < best_tte ||
            (f->tte_us == best_tte && f->distance < best_dist)) {
            best_tte = f->tte_us;
            best_dist = f->distance;
            st->fill_watch = i;
        }
    }
}

/*
 * The hysteresis of check id: MemGuardHysteresis, and at least 50% for a
 * fill check. A rate is noisier than a level (a child that allocates in
 * bursts makes it jump between two samples), and a state that flips
 * between throttle and shed on it helps nobody: a fill state clears only
 * once the time left is half as long again as its horizon.
 */
static uint32_t mg_check_h(const mg_policy_conf_t *c, uint32_t id)
{
    if (id >= MG_CK_FILL && id < MG_CK__COUNT && c->hysteresis_bp < 5000) {
        return 5000;
    }
    return c->hysteresis_bp;
}

/* Build check number id from the configuration and the sample. */
static void mg_check_build(const mg_policy_conf_t *c, const mg_sample_t *s,
                           const mg_policy_fill_t *fills, uint32_t id,
                           mg_check_t *k)
{
    bool meminfo = (s->valid & MG_SRC_MEMINFO) != 0;
    uint32_t i;
    int shed;

    memset(k, 0, sizeof(*k));
    k->detail = -1;
    if (id >= MG_CK_FILL) {
        const mg_policy_fill_t *f;
        uint64_t horizon;

        i = (id - MG_CK_FILL) / 2;
        shed = (int)((id - MG_CK_FILL) & 1u);
        f = &fills[i];
        k->signal = mg_signal_fill_of(mg_fill_signal(i));
        k->detail = f->detail;
        k->is_min = true;
        k->target = shed ? MG_VERDICT_SHED : MG_VERDICT_THROTTLE;
        horizon = shed ? c->fill_shed_us : c->fill_throttle_us;
        if (horizon == 0 || f->signal == MG_SIGNAL_NONE ||
            (shed && !f->shed_level)) {
            return;
        }
        k->applies = true;
        k->value =
            f->tte_us == MG_POLICY_TTE_NEVER ? UINT64_MAX : f->tte_us / 1000;
        k->threshold = horizon / 1000;
        return;
    }
    if (id >= MG_CK_PSI_SOME) {
        bool psi = (s->valid & MG_SRC_PSI) != 0;

        k->is_min = false;
        if (id == MG_CK_PSI_SOME) {
            k->signal = MG_SIGNAL_PSI_SOME;
            k->target = MG_VERDICT_THROTTLE;
            k->applies = psi && c->psi_some_set;
            k->value = s->psi_some_avg10;
            k->threshold = c->psi_some_max;
        }
        else {
            k->signal = MG_SIGNAL_PSI_FULL;
            k->target = MG_VERDICT_SHED;
            k->applies = psi && c->psi_full_set;
            k->value = s->psi_full_avg10;
            k->threshold = c->psi_full_max;
        }
        return;
    }
    shed = (int)(id & 1u);
    if (id >= MG_CK_CACHE) {
        i = (id - MG_CK_CACHE) / 2;
        k->signal = MG_SIGNAL_SLAB_CACHE;
        k->detail = (int32_t)i;
        if (i < c->ncaches && i < s->ncaches && i < MG_SAMPLE_MAX_CACHES) {
            /* a percent limit needs MemTotal, a byte limit does not */
            mg_check_pair(k, &c->max_cache[i], shed,
                          (s->valid & MG_SRC_SLABINFO) != 0, s->caches[i].bytes,
                          meminfo ? s->mem_total : 0);
        }
        return;
    }
    if (id >= MG_CK_NODE) {
        const mg_sample_node_t *nd;

        i = (id - MG_CK_NODE) / 2;
        k->signal = MG_SIGNAL_NODE;
        k->is_min = true;
        if (i >= s->nnodes || i >= MG_SAMPLE_MAX_NODES) {
            return;
        }
        nd = &s->nodes[i];
        k->detail = nd->node;
        mg_check_pair(k, &c->min_node_available, shed,
                      (s->valid & MG_SRC_NUMA) != 0, nd->available, nd->total);
        return;
    }
    switch (id & ~1u) {
    case MG_CK_AVAILABLE:
        k->signal = MG_SIGNAL_AVAILABLE;
        k->is_min = true;
        mg_check_pair(k, &c->min_available, shed, meminfo, s->mem_available,
                      s->mem_total);
        break;
    case MG_CK_CGROUP: {
        uint64_t lim = s->cgroup_limit, ws = s->cgroup_working_set;

        k->signal = MG_SIGNAL_CGROUP;
        k->is_min = true;
        mg_check_pair(k, &c->min_available, shed,
                      (s->valid & MG_SRC_CGROUP) && lim != 0 &&
                          lim < MG_CGROUP_UNLIMITED,
                      ws < lim ? lim - ws : 0, lim);
        break;
    }
    case MG_CK_SLAB:
        k->signal = MG_SIGNAL_SLAB;
        mg_check_pair(k, &c->max_slab, shed, meminfo, s->slab, s->mem_total);
        break;
    default:
        k->signal = MG_SIGNAL_SUNRECLAIM;
        mg_check_pair(k, &c->max_sunreclaim, shed, meminfo, s->sunreclaim,
                      s->mem_total);
        break;
    }
}

void mg_policy_state_init(mg_policy_state_t *st)
{
    memset(st, 0, sizeof(*st));
    st->state = MG_VERDICT_OK;
    st->cause = MG_CK_NONE;
}

static void mg_verdict_fill(const mg_policy_conf_t *c, const mg_sample_t *s,
                            const mg_policy_state_t *st, mg_verdict_t *out)
{
    mg_check_t k;

    out->state = st->state;
    out->since_us = st->since_us;
    out->signal = MG_SIGNAL_NONE;
    out->detail = -1;
    out->value = out->threshold = out->clear_at = 0;
    memset(&out->fill, 0, sizeof(out->fill));
    out->fill.detail = -1;
    out->fill.tte_us = MG_POLICY_TTE_NEVER;
    if (st->cause == MG_CK_STALE) {
        out->signal = MG_SIGNAL_STALE;
        return;
    }
    if (st->cause >= MG_CK_FILL && st->cause < MG_CK__COUNT) {
        out->fill = st->fill[(st->cause - MG_CK_FILL) / 2];
    }
    else {
        out->fill = st->fill[st->fill_watch];
    }
    if (st->state == MG_VERDICT_OK || st->cause >= MG_CK__COUNT) {
        return;
    }
    mg_check_build(c, s, st->fill, st->cause, &k);
    out->signal = k.signal;
    out->detail = k.detail;
    out->value = k.value;
    out->threshold = k.threshold;
    out->clear_at = mg_clear_at(&k, mg_check_h(c, st->cause));
}

/* The state decided: kept in st (with the time it began when it changed)
 * and described in out. */
static void mg_verdict_settle(const mg_policy_conf_t *c, const mg_sample_t *s,
                              mg_policy_state_t *st, mg_verdict_state_t old,
                              mg_verdict_state_t next, uint32_t cause,
                              uint64_t now_us, mg_verdict_t *out)
{
    if (next != old) {
        st->since_us = now_us;
    }
    st->state = next;
    st->cause = cause;
    mg_verdict_fill(c, s, st, out);
    out->from = old;
    out->transition = next != old;
}

int mg_policy_eval(const mg_policy_conf_t *c, mg_policy_state_t *st,
                   const mg_sample_t *s, uint64_t now_us, mg_verdict_t *out)
{
    mg_check_t k[MG_CK__COUNT];
    bool tripped[MG_CK__COUNT];
    mg_verdict_state_t cand = MG_VERDICT_OK, next, old;
    uint32_t id, cause = MG_CK_NONE;

    if (c == NULL || st == NULL || s == NULL || out == NULL) {
        return -EINVAL;
    }
    old = st->state;
    if (s->valid == 0) {
        /* the sampler read nothing at all: as good as no sample */
        memset(st->past_since, 0, sizeof(st->past_since));
        next = c->fail_mode == MG_FAIL_CLOSED ? MG_VERDICT_SHED : MG_VERDICT_OK;
        mg_verdict_settle(c, s, st, old, next, MG_CK_STALE, now_us, out);
        return 0;
    }

    mg_fill_update(c, st, s, now_us);
    for (id = 0; id < MG_CK__COUNT; id++) {
        mg_check_build(c, s, st->fill, id, &k[id]);
        tripped[id] = false;
        if (!k[id].applies || !mg_past(&k[id])) {
            st->past_since[id] = 0;
            continue;
        }
        /* stored +1 so that 0 can mean "inside" even at time 0 */
        if (st->past_since[id] == 0 || st->past_since[id] - 1 > now_us) {
            st->past_since[id] = now_us + 1;
        }
        if (now_us - (st->past_since[id] - 1) >= c->sustain_us) {
            tripped[id] = true;
            if (k[id].target > cand) {
                cand = k[id].target;
                cause = id;
            }
        }
    }

    /* for mg_policy_interval(): how close the levels are */
    st->near = 0;
    for (id = 0; id < MG_CK_FILL; id++) {
        if (k[id].applies && k[id].target != MG_VERDICT_OK &&
            mg_near(&k[id], 2500)) {
            st->near = 1;
        }
    }

    next = old;
    if (st->cause == MG_CK_STALE && old > cand) {
        /* a fresh sample ends a fail-closed shed at once: it was never
         * a measurement, so there is nothing to be hysteretic about */
        next = cand;
    }
    else if (cand > old) {
        next = cand;
    }
    else {
        while (next > cand) {
            bool all_clear = true;

            for (id = 0; id < MG_CK__COUNT; id++) {
                if (k[id].applies && k[id].target == next &&
                    !mg_cleared(&k[id], mg_check_h(c, id))) {
                    all_clear = false;
                    break;
                }
            }
            if (!all_clear) {
                break;
            }
            next = (mg_verdict_state_t)(next - 1);
        }
    }

    /* Who is to blame for `next`: the escalating check; else keep the
     * current cause while it still holds the state; else the first
     * tripped, then the first not yet cleared, check of that state. */
    if (next == MG_VERDICT_OK) {
        cause = MG_CK_NONE;
    }
    else if (!(next > old && cause < MG_CK__COUNT)) {
        uint32_t held = MG_CK_NONE;

        cause = MG_CK_NONE;
        if (st->cause < MG_CK__COUNT && k[st->cause].applies &&
            k[st->cause].target == next &&
            !mg_cleared(&k[st->cause], mg_check_h(c, st->cause))) {
            cause = st->cause;
        }
        for (id = 0; id < MG_CK__COUNT && cause == MG_CK_NONE; id++) {
            if (tripped[id] && k[id].target == next) {
                cause = id;
            }
        }
        for (id = 0; id < MG_CK__COUNT && held == MG_CK_NONE; id++) {
            if (k[id].applies && k[id].target == next &&
                !mg_cleared(&k[id], mg_check_h(c, id))) {
                held = id;
            }
        }
        if (cause == MG_CK_NONE) {
            cause = held;
        }
    }

    mg_verdict_settle(c, s, st, old, next, cause, now_us, out);
    return 0;
}

int mg_policy_stale(const mg_policy_conf_t *c, uint64_t last_sample_us,
                    uint64_t now_us, mg_verdict_state_t *out)
{
    if (c == NULL || c->stale_after_us == 0) {
        return 0;
    }
    if (last_sample_us != 0 && (now_us < last_sample_us ||
                                now_us - last_sample_us <= c->stale_after_us)) {
        return 0;
    }
    if (out) {
        *out = c->fail_mode == MG_FAIL_CLOSED ? MG_VERDICT_SHED : MG_VERDICT_OK;
    }
    return 1;
}

/* ---- admission budget ---------------------------------------------------- */

int mg_policy_room(const mg_policy_conf_t *c, const mg_sample_t *s,
                   int64_t *room, mg_signal_t *signal, int32_t *detail,
                   uint64_t *level_out)
{
    bool found = false;
    int64_t best = 0;
    uint64_t blevel = 0;
    mg_signal_t bs = MG_SIGNAL_NONE;
    int32_t bd = -1;
    uint32_t i;

    if (c == NULL || s == NULL || room == NULL) {
        return -EINVAL;
    }
    for (i = 0; i < MG_POLICY_NFILL; i++) {
        const mg_policy_pair_t *pair;
        uint64_t v, total, level;
        int64_t r;
        int32_t d;
        bool is_min;

        if (!mg_fill_source(c, s, i, &is_min, &d, &v, &pair, &total) ||
            !is_min) {
            continue;
        }
        if (!mg_limit_bytes(&pair->shed, total, &level) &&
            !mg_limit_bytes(&pair->throttle, total, &level)) {
            continue;
        }
        if (v >= level) {
            r = v - level > (uint64_t)INT64_MAX ? INT64_MAX
                                                : (int64_t)(v - level);
        }
        else {
            r = level - v > (uint64_t)INT64_MAX ? INT64_MIN + 1
                                                : -(int64_t)(level - v);
        }
        if (!found || r < best) {
            found = true;
            best = r;
            bs = mg_fill_signal(i);
            bd = d;
            blevel = level;
        }
    }
    if (!found) {
        return -ENOENT;
    }
    *room = best;
    if (signal) {
        *signal = bs;
    }
    if (detail) {
        *detail = bd;
    }
    if (level_out) {
        *level_out = blevel;
    }
    return 0;
}

/* ---- sampling interval --------------------------------------------------- */

uint64_t mg_policy_interval(const mg_policy_conf_t *c,
                            const mg_policy_state_t *st, uint64_t base_us,
                            uint64_t min_us)
{
    uint64_t fast = base_us / 4 > min_us ? base_us / 4 : min_us;
    uint64_t steep = c->fill_throttle_us ? 2 * c->fill_throttle_us : 10000000u;
    uint32_t i;

    if (fast > base_us) {
        fast = base_us;
    }
    if (st->state != MG_VERDICT_OK || st->near) {
        return fast;
    }
    for (i = 0; i < MG_POLICY_NFILL; i++) {
        const mg_policy_fill_t *f = &st->fill[i];

        if (f->signal == MG_SIGNAL_NONE) {
            continue;
        }
        if (f->tte_us < steep) {
            return fast;
        }
    }
    /* Never slower than configured, even when calm: a storm that starts
     * during a stretched interval would be seen that much later, and
     * the sampler's cost at the configured interval is small already
     * (t/bench/bench_headroom.py). */
    return base_us;
}
