/*
 * mg_policy.c - see mg_policy.h.
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
    MG_CK__COUNT
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

/* x * bp / 10000 for bp <= 10000, without overflow. */
static uint64_t mg_scale_bp(uint64_t x, uint32_t bp)
{
    return (x / 10000) * bp + (x % 10000) * bp / 10000;
}

/* The value a signal must reach to count as cleared. */
static uint64_t mg_clear_at(const mg_check_t *k, uint32_t h_bp)
{
    uint64_t m = mg_scale_bp(k->threshold, h_bp > 10000 ? 10000 : h_bp);

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

/* Build check number id from the configuration and the sample. */
static void mg_check_build(const mg_policy_conf_t *c, const mg_sample_t *s,
                           uint32_t id, mg_check_t *k)
{
    bool meminfo = (s->valid & MG_SRC_MEMINFO) != 0;
    uint32_t i;
    int shed;

    memset(k, 0, sizeof(*k));
    k->detail = -1;
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
    if (st->cause == MG_CK_STALE) {
        out->signal = MG_SIGNAL_STALE;
        return;
    }
    if (st->state == MG_VERDICT_OK || st->cause >= MG_CK__COUNT) {
        return;
    }
    mg_check_build(c, s, st->cause, &k);
    out->signal = k.signal;
    out->detail = k.detail;
    out->value = k.value;
    out->threshold = k.threshold;
    out->clear_at = mg_clear_at(&k, c->hysteresis_bp);
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
        if (next != old) {
            st->since_us = now_us;
        }
        st->state = next;
        st->cause = MG_CK_STALE;
        mg_verdict_fill(c, s, st, out);
        out->from = old;
        out->transition = next != old;
        return 0;
    }

    for (id = 0; id < MG_CK__COUNT; id++) {
        mg_check_build(c, s, id, &k[id]);
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
                    !mg_cleared(&k[id], c->hysteresis_bp)) {
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
            !mg_cleared(&k[st->cause], c->hysteresis_bp)) {
            cause = st->cause;
        }
        for (id = 0; id < MG_CK__COUNT && cause == MG_CK_NONE; id++) {
            if (tripped[id] && k[id].target == next) {
                cause = id;
            }
        }
        for (id = 0; id < MG_CK__COUNT && held == MG_CK_NONE; id++) {
            if (k[id].applies && k[id].target == next &&
                !mg_cleared(&k[id], c->hysteresis_bp)) {
                held = id;
            }
        }
        if (cause == MG_CK_NONE) {
            cause = held;
        }
    }

    if (next != old) {
        st->since_us = now_us;
    }
    st->state = next;
    st->cause = cause;
    mg_verdict_fill(c, s, st, out);
    out->from = old;
    out->transition = next != old;
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

/* A cache name from the sample, made safe to print. */
static void mg_cache_label(const mg_sample_t *s, int32_t i, char *buf, size_t n)
{
    size_t j, len;

    if (s == NULL || i < 0 || (uint32_t)i >= MG_SAMPLE_MAX_CACHES ||
        (uint32_t)i >= s->ncaches || s->caches[i].name[0] == '\0') {
        snprintf(buf, n, "#%d", (int)i);
        return;
    }
    len = strnlen(s->caches[i].name, MG_SAMPLE_NAME_LEN);
    if (len >= n) {
        len = n - 1;
    }
    for (j = 0; j < len; j++) {
        unsigned char ch = (unsigned char)s->caches[i].name[j];

        buf[j] = (ch >= 0x21 && ch <= 0x7e) ? (char)ch : '?';
    }
    buf[len] = '\0';
}

/* A signal's value in its unit: bytes, or PSI 1/100 %. */
static void mg_fmt_value(mg_signal_t sig, uint64_t v, char *buf, size_t n)
{
    if (sig == MG_SIGNAL_PSI_SOME || sig == MG_SIGNAL_PSI_FULL) {
        snprintf(buf, n, "%llu.%02llu%%", (unsigned long long)(v / 100),
                 (unsigned long long)(v % 100));
    }
    else {
        mg_units_format_size(v, buf, n);
    }
}

int mg_verdict_describe(const mg_verdict_t *v, const mg_sample_t *s, char *buf,
                        size_t n)
{
    char what[64], val[24], thr[24], at[24];
    const char *state;
    bool is_min;

    if (v == NULL || buf == NULL) {
        return -EINVAL;
    }
    state = mg_verdict_state_name(v->state);
    switch (v->signal) {
    case MG_SIGNAL_NONE:
        return snprintf(buf, n, "%s", state);
    case MG_SIGNAL_STALE:
        return snprintf(buf, n, "%s: no fresh sample (fail %s)", state,
                        v->state == MG_VERDICT_OK ? "open" : "closed");
    case MG_SIGNAL_AVAILABLE:
        snprintf(what, sizeof(what), "available");
        break;
    case MG_SIGNAL_CGROUP:
        snprintf(what, sizeof(what), "cgroup headroom");
        break;
    case MG_SIGNAL_NODE:
        snprintf(what, sizeof(what), "node %d available", (int)v->detail);
        break;
    case MG_SIGNAL_SLAB:
        snprintf(what, sizeof(what), "slab");
        break;
    case MG_SIGNAL_SUNRECLAIM:
        snprintf(what, sizeof(what), "unreclaimable slab");
        break;
    case MG_SIGNAL_SLAB_CACHE: {
        char name[MG_SAMPLE_NAME_LEN];

        mg_cache_label(s, v->detail, name, sizeof(name));
        snprintf(what, sizeof(what), "slab cache %s", name);
        break;
    }
    case MG_SIGNAL_PSI_SOME:
        snprintf(what, sizeof(what), "memory pressure (some avg10)");
        break;
    case MG_SIGNAL_PSI_FULL:
        snprintf(what, sizeof(what), "memory pressure (full avg10)");
        break;
    default:
        return snprintf(buf, n, "%s: signal %d", state, (int)v->signal);
    }
    is_min = v->signal == MG_SIGNAL_AVAILABLE ||
             v->signal == MG_SIGNAL_CGROUP || v->signal == MG_SIGNAL_NODE;
    mg_fmt_value(v->signal, v->value, val, sizeof(val));
    mg_fmt_value(v->signal, v->threshold, thr, sizeof(thr));
    mg_fmt_value(v->signal, v->clear_at, at, sizeof(at));
    if (is_min && v->value < v->threshold) {
        return snprintf(buf, n, "%s: %s %s < minimum %s", state, what, val,
                        thr);
    }
    if (!is_min && v->value > v->threshold) {
        return snprintf(buf, n, "%s: %s %s > limit %s", state, what, val, thr);
    }
    /* inside the threshold, but not yet by the hysteresis margin */
    return snprintf(buf, n, "%s: %s %s, holding until %s %s (%s %s)", state,
                    what, val, is_min ? ">=" : "<=", at,
                    is_min ? "minimum" : "limit", thr);
}

/* ---- recycling ----------------------------------------------------------- */

const char *mg_recycle_reason_name(uint32_t r)
{
    static const char *const names[MG_RECYCLE__COUNT] = {
        "none", "rss", "unshared", "headroom", "response", "nice"};

    return r < MG_RECYCLE__COUNT ? names[r] : "?";
}

/* splitmix64's finaliser: consecutive pids land far apart. */
static uint64_t mg_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t mg_policy_jittered_limit(uint64_t limit, uint32_t jitter_bp,
                                  uint32_t pid)
{
    uint64_t span, off, d;

    if (jitter_bp > 10000) {
        jitter_bp = 10000;
    }
    if (limit == 0 || jitter_bp == 0) {
        return limit;
    }
    span = 2 * (uint64_t)jitter_bp + 1;
    off = mg_mix(pid) % span; /* 0 .. 2j: j is "no change" */
    if (off >= jitter_bp) {
        d = mg_scale_bp(limit, (uint32_t)(off - jitter_bp));
        return limit > UINT64_MAX - d ? UINT64_MAX : limit + d;
    }
    d = mg_scale_bp(limit, (uint32_t)(jitter_bp - off));
    return limit - d;
}

uint32_t mg_policy_recycle_check(uint64_t rss, uint64_t max_rss,
                                 uint64_t unshared, uint64_t max_unshared,
                                 uint32_t jitter_bp, uint32_t pid,
                                 uint64_t *value, uint64_t *limit)
{
    uint64_t lim;

    if (max_rss != 0) {
        lim = mg_policy_jittered_limit(max_rss, jitter_bp, pid);
        if (rss > lim) {
            if (value) {
                *value = rss;
            }
            if (limit) {
                *limit = lim;
            }
            return MG_RECYCLE_RSS;
        }
    }
    if (max_unshared != 0) {
        lim = mg_policy_jittered_limit(max_unshared, jitter_bp, pid);
        if (unshared > lim) {
            if (value) {
                *value = unshared;
            }
            if (limit) {
                *limit = lim;
            }
            return MG_RECYCLE_UNSHARED;
        }
    }
    return MG_RECYCLE_NONE;
}

uint32_t mg_policy_pick_largest(const uint64_t *sizes, uint32_t n, uint32_t k,
                                uint32_t *out_idx)
{
    uint32_t got = 0, i, best;
    uint64_t pv = 0;
    uint32_t pi = 0;

    if (sizes == NULL || out_idx == NULL) {
        return 0;
    }
    /* k passes over the array, each taking the largest element that comes
     * after the previous pick in (size descending, index ascending) order:
     * O(n * k) with k small, no allocation, no mutation. */
    while (got < k) {
        best = UINT32_MAX;
        for (i = 0; i < n; i++) {
            if (sizes[i] == 0) {
                continue;
            }
            if (got > 0 && !(sizes[i] < pv || (sizes[i] == pv && i > pi))) {
                continue;
            }
            if (best == UINT32_MAX || sizes[i] > sizes[best]) {
                best = i;
            }
        }
        if (best == UINT32_MAX) {
            break;
        }
        out_idx[got++] = best;
        pv = sizes[best];
        pi = best;
    }
    return got;
}

uint32_t mg_policy_headroom_victims(mg_verdict_state_t state,
                                    uint32_t max_per_pass)
{
    switch (state) {
    case MG_VERDICT_SHED:
        return max_per_pass;
    case MG_VERDICT_THROTTLE:
        return max_per_pass > 0 ? 1 : 0;
    default:
        return 0;
    }
}
