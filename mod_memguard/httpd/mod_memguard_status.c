/*
 * mod_memguard_status.c - the status page (handler memguard-status) and a
 * section in mod_status's /server-status.
 *
 * One snapshot, then rendering: the board is copied into the request pool
 * first (the system record under its seqlock, every slot in use, every
 * claimed method entry: O(slots + methods), no lock, no I/O), and only
 * then is anything written to the client. A slow client therefore never
 * holds anything another process waits for.
 *
 * Formats, chosen by the query string (the first word that matches):
 *   (none)       HTML in the manner of server-status
 *   ?auto        "Key: value" lines, stable keys (README, "Status page")
 *   ?json        one JSON object, schema "memguard-status/1"
 *   ?prometheus  text exposition format 0.0.4
 *   ?health      "up ready 100%" / "up ready 50%" (200) or "drain" (503): for
 * load balancers, HAProxy's http-check and its agent protocol SetHandler
 * memguard-health answers ?health whatever the query. Every answer carries
 * Cache-Control: no-store. Only GET and HEAD.
 *
 * Everything a client could have chosen (method names) and everything the
 * kernel named (slab caches) goes through mg_format's escapers for the
 * format at hand.
 */
#include "apr_optional.h"
#include "apr_optional_hooks.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_main.h"
#include "mod_status.h"

#include "mod_memguard_board.h"
#include "mod_memguard_config.h"
#include "mod_memguard_status.h"
#include "mg_board.h"
#include "mg_format.h"
#include "mg_policy.h"
#include "mg_version.h"

#define MEMGUARD_STATUS_HANDLER "memguard-status"
/* Health only, whatever the query: a location a load balancer may reach
 * without seeing the rest of the page. */
#define MEMGUARD_HEALTH_HANDLER "memguard-health"
#define MEMGUARD_STATUS_SCHEMA "memguard-status/1"

/* Health weights (HAProxy agent syntax): full when ok, half when
 * throttling, drain when shedding. */
#define MEMGUARD_HEALTH_WEIGHT_OK 100
#define MEMGUARD_HEALTH_WEIGHT_THROTTLE 50

typedef enum {
    FMT_HTML,
    FMT_AUTO,
    FMT_JSON,
    FMT_PROM,
    FMT_HEALTH
} status_fmt_e;

/* What the page shows: a copy of the board taken before any output. */
typedef struct {
    int have_board;
    uint64_t now_us;
    uint32_t generation;
    uint32_t sampler_starts;
    mg_board_verdict_t word; /* 0: never sampled */
    int have_sys;            /* sys is a consistent copy */
    mg_board_sys_t sys;
    int sampled;              /* a verdict was ever published */
    int stale;                /* ... but it is too old */
    mg_verdict_state_t state; /* effective state (fail mode applied) */
    const char *state_name;   /* "ok", "throttle", "shed", "unknown" */
    const char *signal_name;
    char why[256];           /* mg_verdict_describe */
    int health_status;       /* 200 or 503 */
    int health_weight;       /* 0..100 */
    const char *health_text; /* "up ready 100%", "drain" */
    uint32_t nslots;         /* slots in the board */
    uint32_t nused;          /* slots with a process */
    uint32_t *slot_idx;
    mg_board_slot_info_t *slots;
    uint32_t nmeth; /* entries copied (named + other) */
    uint32_t *meth_idx;
    mg_board_method_info_t *meths;
    uint32_t other_idx;
    uint64_t refused[MG_REASON__COUNT]; /* sum over method entries */
    uint64_t refused_total;
    uint64_t recycle_requested;
    uint64_t recycle_done;
    uint64_t requests; /* live children only */
    uint64_t inflight;
    uint64_t recycle_pending;
    uint32_t sampler_replaced;
    uint64_t measure_us; /* the measuring thread's last pass; 0: never */
    uint64_t smaps_us;   /* its last smaps round; 0: never */
    /* admission */
    int64_t admit_reserved;
    uint32_t admit_waiting;
    int64_t admit_waiting_bytes;
    uint64_t admit_count[MG_ADMIT__COUNT];
    mg_board_cost_info_t *costs; /* per method entry copied */
    mg_board_res_info_t *res;    /* per slot copied: its reservations */
    uint64_t admit_default;      /* MemGuardAdmitDefault */
} status_snap;

static const char *const admit_counter_names[MG_ADMIT__COUNT] = {
    "admitted", "waited",      "tiny",  "refused",
    "ceiling",  "last-resort", "raised"};
static const char *const admit_counter_keys[MG_ADMIT__COUNT] = {
    "Admitted",    "Waited",     "Tiny",  "Refused",
    "CeilingHits", "LastResort", "Raised"};

/* The expected cost of method entry i as admission sees it (without a
 * location's memory=), and where it comes from. */
static uint64_t cost_expected(const status_snap *s, uint32_t i,
                              const char **source)
{
    const mg_board_cost_info_t *c = &s->costs[i];

    if (c->measured == 0) {
        *source = c->live > s->admit_default ? "live" : "default";
        return c->live > s->admit_default ? c->live : s->admit_default;
    }
    *source = c->live > c->learned ? "live" : "learned";
    return c->live > c->learned ? c->live : c->learned;
}

/* ---- helpers ------------------------------------------------------------- */

typedef size_t (*esc_fn)(char *, size_t, const char *, size_t);

static const char *esc(apr_pool_t *p, esc_fn f, const char *s)
{
    size_t len = strlen(s);
    size_t need = f(NULL, 0, s, len);
    char *d = apr_palloc(p, need + 1);

    f(d, need + 1, s, len);
    return d;
}

#define H(s) esc(r->pool, mg_format_html, (s))
#define J(s) esc(r->pool, mg_format_json, (s))
#define L(s) esc(r->pool, mg_format_prom_label, (s))

static const char *reason_name(int i)
{
    return mg_reason_info((mg_reason_t)i)->name;
}

/* "BodySize" for "body-size". */
static const char *reason_key(apr_pool_t *p, int i)
{
    const char *n = reason_name(i);
    size_t need = mg_format_camel(NULL, 0, n, strlen(n));
    char *d = apr_palloc(p, need + 1);

    mg_format_camel(d, need + 1, n, strlen(n));
    return d;
}

static const char *hundredths(apr_pool_t *p, uint64_t v)
{
    char buf[32];

    mg_format_hundredths(buf, sizeof(buf), v);
    return apr_pstrdup(p, buf);
}

static const char *size_h(apr_pool_t *p, uint64_t v)
{
    char buf[24];

    return apr_pstrdup(p, mg_units_format_size(v, buf, sizeof(buf)));
}

/* Age of a CLOCK_MONOTONIC time in ms; 0 for the future. */
static uint64_t age_ms(const status_snap *s, uint64_t t_us)
{
    return t_us != 0 && s->now_us > t_us ? (s->now_us - t_us) / 1000u : 0;
}

static int signal_is_psi(uint32_t sig)
{
    return sig == MG_SIGNAL_PSI_SOME || sig == MG_SIGNAL_PSI_FULL;
}

/* "3.5 s", "never" for UINT64_MAX milliseconds */
static const char *seconds_h(apr_pool_t *p, uint64_t ms)
{
    if (ms == UINT64_MAX) {
        return "never";
    }
    return apr_psprintf(p, "%" APR_UINT64_T_FMT ".%u s", ms / 1000u,
                        (unsigned)(ms % 1000u / 100u));
}

/* A signal's value or threshold for people: bytes, a PSI percentage, or
 * the time left for a fill signal. */
static const char *signal_value_h(apr_pool_t *p, uint32_t sig, uint64_t v)
{
    if (signal_is_psi(sig)) {
        return apr_pstrcat(p, hundredths(p, v), "%", NULL);
    }
    if (mg_signal_filled((mg_signal_t)sig) != MG_SIGNAL_NONE) {
        return seconds_h(p, v);
    }
    return size_h(p, v);
}

/* Age in ms of t_us, as a number for ?auto and JSON; -1 for never. */
static const char *age_or_never(apr_pool_t *p, const status_snap *s,
                                uint64_t t_us, const char *never)
{
    if (t_us == 0) {
        return never;
    }
    return apr_psprintf(p, "%" APR_UINT64_T_FMT, age_ms(s, t_us));
}

/* Time to the fill level in ms, for ?auto and JSON. */
static const char *tte_ms(apr_pool_t *p, const mg_board_sys_t *rec,
                          const char *never)
{
    if (rec->fill_signal == MG_SIGNAL_NONE ||
        rec->fill_tte_us == MG_POLICY_TTE_NEVER) {
        return never;
    }
    return apr_psprintf(p, "%" APR_UINT64_T_FMT, rec->fill_tte_us / 1000u);
}

/* "cgroup headroom falling 120.0 MiB/s, shed level 102.4 MiB in 3.5 s" */
static const char *fill_h(apr_pool_t *p, const mg_board_sys_t *rec)
{
    mg_signal_t sig = (mg_signal_t)rec->fill_signal;
    int is_min = sig != MG_SIGNAL_SLAB && sig != MG_SIGNAL_SUNRECLAIM;
    const char *what = sig == MG_SIGNAL_NODE
                           ? apr_psprintf(p, "node %d", (int)rec->fill_detail)
                           : mg_signal_name(sig);

    if (sig == MG_SIGNAL_NONE) {
        return "no slope yet (or no level set)";
    }
    if (rec->fill_rate <= 0) {
        return apr_psprintf(p, "%s: not moving toward its %s level (%s)", what,
                            rec->fill_shed_level ? "shed" : "throttle",
                            size_h(p, rec->fill_level));
    }
    return apr_psprintf(
        p, "%s %s %s/s, %s level %s in %s", what, is_min ? "falling" : "rising",
        size_h(p, (uint64_t)rec->fill_rate),
        rec->fill_shed_level ? "shed" : "throttle", size_h(p, rec->fill_level),
        seconds_h(p, rec->fill_tte_us / 1000u));
}

static const char *state_name(uint32_t st)
{
    return mg_verdict_state_name((mg_verdict_state_t)st);
}

/* ---- the snapshot -------------------------------------------------------- */

static void snap_take(request_rec *r, status_snap *s)
{
    mg_board_t *b = memguard_board();
    mg_board_slot_info_t one;
    uint32_t i, nm;

    memset(s, 0, sizeof(*s));
    s->now_us = memguard_now_us();
    s->state_name = "unknown";
    s->signal_name = mg_signal_name(MG_SIGNAL_NONE);
    s->health_status = HTTP_OK;
    s->health_weight = MEMGUARD_HEALTH_WEIGHT_OK;
    apr_cpystrn(s->why, "no sample yet", sizeof(s->why));
    if (b == NULL) {
        apr_cpystrn(s->why, "the board is not available", sizeof(s->why));
        s->health_text = "up ready 100%";
        return;
    }
    s->have_board = 1;
    s->generation = mg_board_generation(b);
    s->sampler_starts = mg_board_sampler_starts(b);
    s->word = mg_board_verdict_load(b);
    /* A few tries: the sampler rewrites the record every 100 ms in about
     * a microsecond; failing that, the page says so instead of waiting. */
    s->have_sys = mg_board_sys_read(b, &s->sys, 100) == 0;
    s->sampled = s->word != 0 && s->have_sys && s->sys.last_sample_us != 0;
    if (s->sampled) {
        mg_policy_conf_t pc;
        mg_verdict_t v;
        mg_verdict_state_t fail_state;

        /* The gate's rule exactly: the sampler's staleness time and
         * MemGuardFailMode, so the page and health say what clients get. */
        const memguard_headroom_conf *hr = memguard_headroom(ap_server_conf);

        memset(&pc, 0, sizeof(pc));
        pc.stale_after_us = hr->policy.stale_after_us;
        pc.fail_mode = hr->policy.fail_mode;
        memguard_sys_verdict(&s->sys, &v);
        s->state = v.state;
        if (mg_policy_stale(&pc, s->sys.last_sample_us, s->now_us,
                            &fail_state)) {
            s->stale = 1;
            s->state = fail_state;
            v.state = fail_state;
            v.signal = MG_SIGNAL_STALE;
        }
        s->state_name = mg_verdict_state_name(s->state);
        s->signal_name = mg_signal_name(v.signal);
        mg_verdict_describe(&v, &s->sys.sample, s->why, sizeof(s->why));
        if (s->state == MG_VERDICT_SHED) {
            s->health_status = HTTP_SERVICE_UNAVAILABLE;
            s->health_weight = 0;
        }
        else if (s->state == MG_VERDICT_THROTTLE) {
            s->health_weight = MEMGUARD_HEALTH_WEIGHT_THROTTLE;
        }
    }
    else if (s->word != 0 && !s->have_sys) {
        apr_cpystrn(s->why, "the sampler was writing; reload", sizeof(s->why));
    }
    s->health_text =
        s->health_status == HTTP_OK
            ? apr_psprintf(r->pool, "up ready %d%%", s->health_weight)
            : "drain";

    /* Slots in use. */
    s->nslots = mg_board_nslots(b);
    s->slots = apr_palloc(r->pool, sizeof(*s->slots) * 8);
    s->slot_idx = apr_palloc(r->pool, sizeof(*s->slot_idx) * 8);
    s->res = apr_palloc(r->pool, sizeof(*s->res) * 8);
    {
        uint32_t cap = 8;
        for (i = 0; i < s->nslots; i++) {
            if (mg_board_slot_snapshot(b, i, &one) != 0 || one.pid == 0) {
                continue;
            }
            if (s->nused == cap) {
                mg_board_slot_info_t *ns;
                mg_board_res_info_t *nr;
                uint32_t *ni;
                cap *= 2;
                ns = apr_palloc(r->pool, sizeof(*ns) * cap);
                ni = apr_palloc(r->pool, sizeof(*ni) * cap);
                nr = apr_palloc(r->pool, sizeof(*nr) * cap);
                memcpy(ns, s->slots, sizeof(*ns) * s->nused);
                memcpy(ni, s->slot_idx, sizeof(*ni) * s->nused);
                memcpy(nr, s->res, sizeof(*nr) * s->nused);
                s->slots = ns;
                s->slot_idx = ni;
                s->res = nr;
            }
            s->slots[s->nused] = one;
            s->slot_idx[s->nused] = i;
            if (mg_board_admit_slot(b, i, &s->res[s->nused]) != 0) {
                memset(&s->res[s->nused], 0, sizeof(s->res[s->nused]));
            }
            s->requests += one.requests;
            s->inflight += one.inflight;
            s->recycle_pending += one.recycle_reason != 0;
            s->nused++;
        }
    }

    /* Method entries: the named ones claimed so far, then "other". The
     * totals of refusals come from here, not from the slots: a slot is
     * zeroed when its child exits, a method entry never is. */
    nm = mg_board_nmethods(b);
    s->other_idx = mg_board_method_other(b);
    s->meths = apr_palloc(r->pool, sizeof(*s->meths) * (nm + 1));
    s->meth_idx = apr_palloc(r->pool, sizeof(*s->meth_idx) * (nm + 1));
    s->costs = apr_palloc(r->pool, sizeof(*s->costs) * (nm + 1));
    for (i = 0; i <= nm; i++) {
        mg_board_method_info_t *m = &s->meths[s->nmeth];
        int k;

        if (mg_board_method_snapshot(b, i, m) != 0) {
            continue;
        }
        mg_board_method_cost_info(b, i, &s->costs[s->nmeth]);
        if (i == s->other_idx) {
            m->name[0] = '\0';
        }
        s->meth_idx[s->nmeth++] = i;
        for (k = 0; k < MG_REASON__COUNT; k++) {
            s->refused[k] += m->rejections[k];
            s->refused_total += m->rejections[k];
        }
    }
    mg_board_recycle_totals(b, &s->recycle_requested, &s->recycle_done);
    s->sampler_replaced = mg_board_sampler_replaced(b);
    mg_board_proc_times(b, &s->measure_us, &s->smaps_us);
    s->admit_reserved = mg_board_admit_reserved(b);
    s->admit_waiting =
        mg_board_queue_waiting(b, s->now_us, 500000, &s->admit_waiting_bytes);
    for (i = 0; i < MG_ADMIT__COUNT; i++) {
        s->admit_count[i] =
            mg_board_admit_counter(b, (mg_board_admit_counter_t)i);
    }
    {
        memguard_admit_settings as;

        memguard_admit_settings_get(&as);
        s->admit_default = (uint64_t)as.dflt;
    }
}

/* The budget for ?auto and JSON: bytes, or `none` when no level bounds
 * it. */
static const char *budget_str(apr_pool_t *p, const status_snap *s,
                              const char *none)
{
    if (!s->sampled || s->sys.admit_budget == MG_BOARD_BUDGET_NONE) {
        return none;
    }
    return apr_psprintf(p, "%" APR_INT64_T_FMT,
                        (apr_int64_t)s->sys.admit_budget);
}

/* ---- ?health ------------------------------------------------------------- */

static void render_health(request_rec *r, const status_snap *s)
{
    r->status = s->health_status;
    ap_rprintf(r, "%s\n", s->health_text);
}

/* ---- ?auto --------------------------------------------------------------- */

static void render_auto(request_rec *r, const status_snap *s)
{
    const mg_sample_t *sm = &s->sys.sample;
    int k;

    ap_rputs("MemGuardStatusVersion: 1\n", r);
    ap_rputs("MemGuardVersion: " MG_VERSION "\n", r);
    ap_rprintf(r, "MemGuardState: %s\n", s->state_name);
    ap_rprintf(r, "MemGuardSignal: %s\n", s->signal_name);
    ap_rprintf(r, "MemGuardReason: %s\n", s->why);
    ap_rprintf(r, "MemGuardStale: %d\n", s->stale);
    ap_rprintf(r, "MemGuardHealth: %s\n", s->health_text);
    ap_rprintf(r, "MemGuardHealthWeight: %d\n", s->health_weight);
    ap_rprintf(r, "StateAgeMs: %" APR_UINT64_T_FMT "\n",
               s->sampled ? age_ms(s, s->sys.state_since_us) : 0);
    ap_rprintf(r, "SignalValue: %" APR_UINT64_T_FMT "\n",
               s->sampled ? s->sys.value : 0);
    ap_rprintf(r, "SignalThreshold: %" APR_UINT64_T_FMT "\n",
               s->sampled ? s->sys.threshold : 0);
    ap_rprintf(r, "Sampled: %d\n", s->sampled);
    ap_rprintf(r, "SampleAgeMs: %s\n",
               s->sampled ? apr_psprintf(r->pool, "%" APR_UINT64_T_FMT,
                                         age_ms(s, s->sys.last_sample_us))
                          : "-1");
    ap_rprintf(r, "SamplerPid: %d\n", s->sampled ? (int)s->sys.sampler_pid : 0);
    ap_rprintf(r, "SamplerStarts: %u\n", s->sampler_starts);
    ap_rprintf(r, "Samples: %" APR_UINT64_T_FMT "\n",
               s->sampled ? s->sys.samples : 0);
    ap_rprintf(r, "Transitions: %" APR_UINT64_T_FMT "\n",
               s->sampled ? s->sys.ntransitions : 0);
    ap_rprintf(r, "SamplerReplaced: %u\n", s->sampler_replaced);
    ap_rprintf(r, "SamplerIntervalMs: %" APR_UINT64_T_FMT "\n",
               s->sampled ? s->sys.interval_us / 1000u : 0);
    ap_rprintf(r, "SamplerWorstGapMs: %" APR_UINT64_T_FMT "\n",
               s->sampled ? s->sys.gap_max_us / 1000u : 0);
    ap_rprintf(r, "SamplerWorstSampleUs: %" APR_UINT64_T_FMT "\n",
               s->sampled ? s->sys.loop_max_us : 0);
    ap_rprintf(r, "MeasureAgeMs: %s\n",
               age_or_never(r->pool, s, s->measure_us, "-1"));
    ap_rprintf(r, "SmapsAgeMs: %s\n",
               age_or_never(r->pool, s, s->smaps_us, "-1"));
    ap_rprintf(r, "SlabinfoAgeMs: %s\n",
               age_or_never(r->pool, s,
                            s->sampled ? s->sys.sample.slab_taken_us : 0,
                            "-1"));
    ap_rprintf(r, "FillSignal: %s\n",
               mg_signal_name(s->sampled ? (mg_signal_t)s->sys.fill_signal
                                         : MG_SIGNAL_NONE));
    ap_rprintf(r, "FillRateBytesPerSecond: %" APR_INT64_T_FMT "\n",
               s->sampled && s->sys.fill_signal ? (apr_int64_t)s->sys.fill_rate
                                                : 0);
    ap_rprintf(r, "FillLevelBytes: %" APR_UINT64_T_FMT "\n",
               s->sampled && s->sys.fill_signal ? s->sys.fill_level : 0);
    ap_rprintf(r, "FillTimeToLevelMs: %s\n",
               s->sampled ? tte_ms(r->pool, &s->sys, "-1") : "-1");
    ap_rprintf(r, "AdmitBudgetBytes: %s\n", budget_str(r->pool, s, "-1"));
    ap_rprintf(r, "AdmitRoomBytes: %" APR_INT64_T_FMT "\n",
               s->sampled ? (apr_int64_t)s->sys.admit_room : 0);
    ap_rprintf(r, "AdmitCreditBytes: %" APR_INT64_T_FMT "\n",
               s->sampled ? (apr_int64_t)s->sys.admit_credit : 0);
    ap_rprintf(r, "AdmitReservedBytes: %" APR_INT64_T_FMT "\n",
               (apr_int64_t)s->admit_reserved);
    ap_rprintf(r, "AdmitReservedCalls: %u\n",
               s->sampled ? s->sys.admit_calls : 0);
    ap_rprintf(r, "AdmitWaiting: %u\n", s->admit_waiting);
    ap_rprintf(r, "AdmitWaitingBytes: %" APR_INT64_T_FMT "\n",
               (apr_int64_t)s->admit_waiting_bytes);
    for (k = 0; k < MG_ADMIT__COUNT; k++) {
        ap_rprintf(r, "Admit%s: %" APR_UINT64_T_FMT "\n", admit_counter_keys[k],
                   s->admit_count[k]);
    }
    if (s->sampled) {
        ap_rprintf(r, "MemTotalBytes: %" APR_UINT64_T_FMT "\n", sm->mem_total);
        ap_rprintf(r, "MemAvailableBytes: %" APR_UINT64_T_FMT "\n",
                   sm->mem_available);
        ap_rprintf(r, "SlabBytes: %" APR_UINT64_T_FMT "\n", sm->slab);
        ap_rprintf(r, "SReclaimableBytes: %" APR_UINT64_T_FMT "\n",
                   sm->sreclaimable);
        ap_rprintf(r, "SUnreclaimBytes: %" APR_UINT64_T_FMT "\n",
                   sm->sunreclaim);
        ap_rprintf(r, "PressureSomeAvg10: %s\n",
                   hundredths(r->pool, sm->psi_some_avg10));
        ap_rprintf(r, "PressureFullAvg10: %s\n",
                   hundredths(r->pool, sm->psi_full_avg10));
        ap_rprintf(r, "CgroupUsageBytes: %" APR_UINT64_T_FMT "\n",
                   sm->cgroup_version ? sm->cgroup_usage : 0);
        ap_rprintf(r, "CgroupLimitBytes: %" APR_UINT64_T_FMT "\n",
                   sm->cgroup_version && sm->cgroup_limit != UINT64_MAX
                       ? sm->cgroup_limit
                       : 0);
    }
    else {
        /* Same keys before the first sample, so that a parser never
         * meets a missing key; Sampled: 0 says they mean nothing yet. */
        ap_rputs("MemTotalBytes: 0\nMemAvailableBytes: 0\nSlabBytes: 0\n"
                 "SReclaimableBytes: 0\nSUnreclaimBytes: 0\n"
                 "PressureSomeAvg10: 0.00\nPressureFullAvg10: 0.00\n"
                 "CgroupUsageBytes: 0\nCgroupLimitBytes: 0\n",
                 r);
    }
    ap_rprintf(r, "Generation: %u\n", s->generation);
    ap_rprintf(r, "Children: %u\n", s->nused);
    ap_rprintf(r, "Requests: %" APR_UINT64_T_FMT "\n", s->requests);
    ap_rprintf(r, "InFlight: %" APR_UINT64_T_FMT "\n", s->inflight);
    ap_rprintf(r, "RecyclePending: %" APR_UINT64_T_FMT "\n",
               s->recycle_pending);
    ap_rprintf(r, "RecycleRequested: %" APR_UINT64_T_FMT "\n",
               s->recycle_requested);
    ap_rprintf(r, "Recycled: %" APR_UINT64_T_FMT "\n", s->recycle_done);
    ap_rprintf(r, "Methods: %u\n", s->nmeth > 0 ? s->nmeth - 1 : 0);
    ap_rprintf(r, "Refused: %" APR_UINT64_T_FMT "\n", s->refused_total);
    for (k = 0; k < MG_REASON__COUNT; k++) {
        ap_rprintf(r, "Refused%s: %" APR_UINT64_T_FMT "\n",
                   reason_key(r->pool, k), s->refused[k]);
    }
}

/* ---- ?json --------------------------------------------------------------- */

static void json_reasons(request_rec *r, const uint64_t *v)
{
    int k;

    ap_rputs("{", r);
    for (k = 0; k < MG_REASON__COUNT; k++) {
        ap_rprintf(r, "%s\"%s\": %" APR_UINT64_T_FMT, k ? ", " : "",
                   reason_name(k), v[k]);
    }
    ap_rputs("}", r);
}

static void render_json(request_rec *r, const status_snap *s)
{
    const mg_sample_t *sm = &s->sys.sample;
    uint32_t i;

    ap_rprintf(r, "{\n\"schema\": \"%s\",\n", MEMGUARD_STATUS_SCHEMA);
    ap_rputs("\"version\": \"" MG_VERSION "\",\n", r);
    ap_rprintf(r, "\"generation\": %u,\n", s->generation);
    ap_rprintf(r,
               "\"verdict\": {\"state\": \"%s\", \"sampled\": %s, "
               "\"stale\": %s, \"signal\": \"%s\", \"detail\": %d, "
               "\"value\": %" APR_UINT64_T_FMT
               ", \"threshold\": %" APR_UINT64_T_FMT ", \"why\": \"%s\", "
               "\"state_age_ms\": %s},\n",
               s->state_name, s->sampled ? "true" : "false",
               s->stale ? "true" : "false", J(s->signal_name),
               s->sampled ? (int)s->sys.detail : -1,
               s->sampled ? s->sys.value : 0, s->sampled ? s->sys.threshold : 0,
               J(s->why),
               s->sampled ? apr_psprintf(r->pool, "%" APR_UINT64_T_FMT,
                                         age_ms(s, s->sys.state_since_us))
                          : "null");
    ap_rprintf(r,
               "\"health\": {\"status\": %d, \"answer\": \"%s\", "
               "\"weight\": %d},\n",
               s->health_status, J(s->health_text), s->health_weight);
    ap_rprintf(r,
               "\"sampler\": {\"pid\": %d, \"starts\": %u, \"samples\": "
               "%" APR_UINT64_T_FMT ", \"sample_age_ms\": %s, "
               "\"replaced\": %u, \"interval_ms\": %" APR_UINT64_T_FMT
               ", \"worst_gap_ms\": %" APR_UINT64_T_FMT
               ", \"worst_sample_us\": %" APR_UINT64_T_FMT
               ", \"measure_age_ms\": %s, \"smaps_age_ms\": %s, "
               "\"slabinfo_age_ms\": %s},\n",
               s->sampled ? (int)s->sys.sampler_pid : 0, s->sampler_starts,
               s->sampled ? s->sys.samples : 0,
               s->sampled ? apr_psprintf(r->pool, "%" APR_UINT64_T_FMT,
                                         age_ms(s, s->sys.last_sample_us))
                          : "null",
               s->sampler_replaced, s->sampled ? s->sys.interval_us / 1000u : 0,
               s->sampled ? s->sys.gap_max_us / 1000u : 0,
               s->sampled ? s->sys.loop_max_us : 0,
               age_or_never(r->pool, s, s->measure_us, "null"),
               age_or_never(r->pool, s, s->smaps_us, "null"),
               age_or_never(r->pool, s,
                            s->sampled ? s->sys.sample.slab_taken_us : 0,
                            "null"));
    if (s->sampled && s->sys.fill_signal != MG_SIGNAL_NONE) {
        ap_rprintf(r,
                   "\"fill\": {\"signal\": \"%s\", \"detail\": %d, "
                   "\"rate\": %" APR_INT64_T_FMT
                   ", \"level\": %" APR_UINT64_T_FMT
                   ", \"shed_level\": %s, \"distance\": %" APR_UINT64_T_FMT
                   ", \"time_to_level_ms\": %s},\n",
                   mg_signal_name((mg_signal_t)s->sys.fill_signal),
                   (int)s->sys.fill_detail, (apr_int64_t)s->sys.fill_rate,
                   s->sys.fill_level, s->sys.fill_shed_level ? "true" : "false",
                   s->sys.fill_distance, tte_ms(r->pool, &s->sys, "null"));
    }
    else {
        ap_rputs("\"fill\": null,\n", r);
    }
    ap_rprintf(
        r,
        "\"admission\": {\"budget\": %s, \"room\": %" APR_INT64_T_FMT
        ", \"credit\": %" APR_INT64_T_FMT ", \"reserved\": %" APR_INT64_T_FMT
        ", \"reserved_calls\": %u, \"waiting\": %u, "
        "\"waiting_bytes\": %" APR_INT64_T_FMT ", \"counts\": {",
        budget_str(r->pool, s, "null"),
        s->sampled ? (apr_int64_t)s->sys.admit_room : 0,
        s->sampled ? (apr_int64_t)s->sys.admit_credit : 0,
        (apr_int64_t)s->admit_reserved, s->sampled ? s->sys.admit_calls : 0,
        s->admit_waiting, (apr_int64_t)s->admit_waiting_bytes);
    for (i = 0; i < MG_ADMIT__COUNT; i++) {
        ap_rprintf(r, "%s\"%s\": %" APR_UINT64_T_FMT, i ? ", " : "",
                   admit_counter_names[i], s->admit_count[i]);
    }
    ap_rputs("}},\n", r);
    if (!s->sampled) {
        ap_rputs("\"sample\": null,\n\"history\": [],\n", r);
    }
    else {
        ap_rprintf(r,
                   "\"sample\": {\"valid\": {\"meminfo\": %s, \"psi\": %s, "
                   "\"cgroup\": %s, \"numa\": %s, \"slabinfo\": %s},\n",
                   sm->valid & MG_SRC_MEMINFO ? "true" : "false",
                   sm->valid & MG_SRC_PSI ? "true" : "false",
                   sm->valid & MG_SRC_CGROUP ? "true" : "false",
                   sm->valid & MG_SRC_NUMA ? "true" : "false",
                   sm->valid & MG_SRC_SLABINFO ? "true" : "false");
        ap_rprintf(r,
                   " \"mem_total\": %" APR_UINT64_T_FMT
                   ", \"mem_available\": %" APR_UINT64_T_FMT
                   ", \"slab\": %" APR_UINT64_T_FMT
                   ", \"sreclaimable\": %" APR_UINT64_T_FMT
                   ", \"sunreclaim\": %" APR_UINT64_T_FMT
                   ", \"swap_total\": %" APR_UINT64_T_FMT
                   ", \"swap_free\": %" APR_UINT64_T_FMT ",\n",
                   sm->mem_total, sm->mem_available, sm->slab, sm->sreclaimable,
                   sm->sunreclaim, sm->swap_total, sm->swap_free);
        ap_rprintf(r,
                   " \"psi\": {\"some_avg10\": %s, \"some_avg60\": %s, "
                   "\"full_avg10\": %s, \"full_avg60\": %s},\n",
                   hundredths(r->pool, sm->psi_some_avg10),
                   hundredths(r->pool, sm->psi_some_avg60),
                   hundredths(r->pool, sm->psi_full_avg10),
                   hundredths(r->pool, sm->psi_full_avg60));
        if (sm->cgroup_version) {
            ap_rprintf(r,
                       " \"cgroup\": {\"version\": %u, \"usage\": "
                       "%" APR_UINT64_T_FMT ", \"limit\": %s, "
                       "\"working_set\": %" APR_UINT64_T_FMT
                       ", \"oom_kills\": %" APR_UINT64_T_FMT
                       ", \"level\": %u},\n",
                       sm->cgroup_version, sm->cgroup_usage,
                       sm->cgroup_limit == UINT64_MAX
                           ? "null"
                           : apr_psprintf(r->pool, "%" APR_UINT64_T_FMT,
                                          sm->cgroup_limit),
                       sm->cgroup_working_set, sm->cgroup_oom_kills,
                       (unsigned)sm->cgroup_level);
        }
        else {
            ap_rputs(" \"cgroup\": null,\n", r);
        }
        ap_rputs(" \"nodes\": [", r);
        for (i = 0; i < sm->nnodes && i < MG_SAMPLE_MAX_NODES; i++) {
            ap_rprintf(r,
                       "%s{\"node\": %d, \"total\": %" APR_UINT64_T_FMT
                       ", \"available\": %" APR_UINT64_T_FMT "}",
                       i ? ", " : "", (int)sm->nodes[i].node,
                       sm->nodes[i].total, sm->nodes[i].available);
        }
        ap_rputs("],\n \"top_caches\": [", r);
        for (i = 0; i < sm->ntop && i < MG_SAMPLE_TOP_CACHES; i++) {
            char name[MG_SAMPLE_NAME_LEN + 1];
            apr_cpystrn(name, sm->top[i].name, sizeof(name));
            ap_rprintf(r,
                       "%s{\"name\": \"%s\", \"bytes\": %" APR_UINT64_T_FMT "}",
                       i ? ", " : "", J(name), sm->top[i].bytes);
        }
        ap_rputs("]},\n\"history\": [", r);
        for (i = 0; i < MG_BOARD_HISTORY; i++) {
            const mg_board_transition_t *t =
                mg_board_sys_history_at(&s->sys, i);
            if (t == NULL) {
                break;
            }
            ap_rprintf(r,
                       "%s\n {\"age_ms\": %" APR_UINT64_T_FMT
                       ", \"from\": \"%s\", \"to\": \"%s\", \"signal\": "
                       "\"%s\", \"detail\": %d, \"value\": %" APR_UINT64_T_FMT
                       ", \"threshold\": %" APR_UINT64_T_FMT "}",
                       i ? "," : "", age_ms(s, t->time_us), state_name(t->from),
                       state_name(t->to),
                       mg_signal_name((mg_signal_t)t->signal), (int)t->detail,
                       t->value, t->threshold);
        }
        ap_rputs("],\n", r);
    }
    ap_rprintf(r, "\"refused_total\": %" APR_UINT64_T_FMT ",\n\"refused\": ",
               s->refused_total);
    json_reasons(r, s->refused);
    ap_rprintf(r,
               ",\n\"recycle\": {\"requested\": %" APR_UINT64_T_FMT
               ", \"done\": %" APR_UINT64_T_FMT
               ", \"pending\": %" APR_UINT64_T_FMT "},\n",
               s->recycle_requested, s->recycle_done, s->recycle_pending);
    ap_rputs("\"children\": [", r);
    for (i = 0; i < s->nused; i++) {
        const mg_board_slot_info_t *c = &s->slots[i];
        ap_rprintf(r,
                   "%s\n {\"slot\": %u, \"pid\": %d, \"generation\": %u, "
                   "\"requests\": %" APR_UINT64_T_FMT
                   ", \"rss\": %" APR_UINT64_T_FMT
                   ", \"unshared\": %" APR_UINT64_T_FMT
                   ", \"peak_rss\": %" APR_UINT64_T_FMT
                   ", \"last_delta\": %" APR_INT64_T_FMT
                   ", \"inflight\": %u, \"recycle_pending\": %s, "
                   "\"recycle_reason\": \"%s\", \"reserved\": "
                   "%" APR_INT64_T_FMT ", \"reserved_calls\": %u, "
                   "\"refused\": ",
                   i ? "," : "", s->slot_idx[i], (int)c->pid, c->generation,
                   c->requests, c->rss, c->unshared, c->peak_rss,
                   (apr_int64_t)c->last_delta, c->inflight,
                   c->recycle_reason ? "true" : "false",
                   mg_recycle_reason_name(c->recycle_reason),
                   (apr_int64_t)s->res[i].reserved, s->res[i].calls);
        json_reasons(r, c->rejections);
        ap_rputs("}", r);
    }
    ap_rputs("],\n\"methods\": [", r);
    for (i = 0; i < s->nmeth; i++) {
        const mg_board_method_info_t *m = &s->meths[i];
        int other = s->meth_idx[i] == s->other_idx;
        ap_rprintf(r,
                   "%s\n {\"name\": %s, \"other\": %s, \"calls\": "
                   "%" APR_UINT64_T_FMT ", \"inflight\": %u, "
                   "\"bytes_in\": %" APR_UINT64_T_FMT
                   ", \"bytes_out\": %" APR_UINT64_T_FMT
                   ", \"delta_count\": %" APR_UINT64_T_FMT
                   ", \"delta_max\": %" APR_UINT64_T_FMT
                   ", \"delta_p95\": %" APR_UINT64_T_FMT ", \"refused\": ",
                   i ? "," : "",
                   other ? "null"
                         : apr_pstrcat(r->pool, "\"", J(m->name), "\"", NULL),
                   other ? "true" : "false", m->calls, m->inflight, m->bytes_in,
                   m->bytes_out, m->delta_count, m->delta_max, m->delta_p95);
        json_reasons(r, m->rejections);
        {
            const char *src;
            uint64_t e = cost_expected(s, i, &src);

            ap_rprintf(r,
                       ", \"cost\": {\"expected\": %" APR_UINT64_T_FMT
                       ", \"source\": \"%s\", \"learned\": "
                       "%" APR_UINT64_T_FMT ", \"live\": %" APR_UINT64_T_FMT
                       ", \"measured\": %" APR_UINT64_T_FMT
                       ", \"reserved_inflight\": %u}",
                       e, src, s->costs[i].learned, s->costs[i].live,
                       s->costs[i].measured, s->costs[i].reserved_inflight);
        }
        ap_rputs("}", r);
    }
    ap_rputs("]\n}\n", r);
}

/* ---- ?prometheus --------------------------------------------------------- */

static void prom_head(request_rec *r, const char *name, const char *type,
                      const char *help)
{
    ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_u64(request_rec *r, const char *name, const char *type,
                     const char *help, uint64_t v)
{
    prom_head(r, name, type, help);
    ap_rprintf(r, "%s %" APR_UINT64_T_FMT "\n", name, v);
}

/* microseconds as seconds with six decimals */
static const char *prom_seconds(apr_pool_t *p, uint64_t us)
{
    return apr_psprintf(p, "%" APR_UINT64_T_FMT ".%06u", us / 1000000u,
                        (unsigned)(us % 1000000u));
}

/* hundredths of a percent as a ratio 0..1 with four decimals */
static const char *ratio(apr_pool_t *p, uint64_t hundredths_pct)
{
    return apr_psprintf(p, "%" APR_UINT64_T_FMT ".%04u",
                        hundredths_pct / 10000u,
                        (unsigned)(hundredths_pct % 10000u));
}

static void render_prom(request_rec *r, const status_snap *s)
{
    const mg_sample_t *sm = &s->sys.sample;
    static const char *const states[] = {"ok", "throttle", "shed", "unknown"};
    uint32_t i;
    int k;

    prom_head(r, "memguard_build_info", "gauge",
              "always 1; the label says which version of mod_memguard runs");
    ap_rputs("memguard_build_info{version=\"" MG_VERSION "\"} 1\n", r);
    prom_head(r, "memguard_state", "gauge",
              "1 for the current verdict state (fail mode applied), else 0; "
              "unknown before the first sample");
    for (k = 0; k < 4; k++) {
        ap_rprintf(r, "memguard_state{state=\"%s\"} %d\n", states[k],
                   strcmp(states[k], s->state_name) == 0);
    }
    prom_u64(r, "memguard_stale", "gauge",
             "1 if the last sample is too old (the sampler is stuck or dead)",
             (uint64_t)s->stale);
    prom_u64(r, "memguard_health_weight_percent", "gauge",
             "the weight ?health gives a load balancer: 100, 50, 0 (drain)",
             (uint64_t)s->health_weight);
    prom_u64(r, "memguard_sampler_starts_total", "counter",
             "sampler processes started", s->sampler_starts);
    prom_u64(r, "memguard_samples_total", "counter",
             "samples taken by the sampler", s->sampled ? s->sys.samples : 0);
    prom_u64(r, "memguard_transitions_total", "counter",
             "verdict state changes", s->sampled ? s->sys.ntransitions : 0);
    prom_u64(r, "memguard_sampler_replaced_total", "counter",
             "samplers the parent replaced because they stopped publishing",
             s->sampler_replaced);
    if (s->sampled) {
        prom_head(r, "memguard_sampler_interval_seconds", "gauge",
                  "the sampling interval in force");
        ap_rprintf(r, "memguard_sampler_interval_seconds %s\n",
                   prom_seconds(r->pool, s->sys.interval_us));
        prom_head(r, "memguard_sampler_worst_gap_seconds", "gauge",
                  "longest time between two published samples, last minute");
        ap_rprintf(r, "memguard_sampler_worst_gap_seconds %s\n",
                   prom_seconds(r->pool, s->sys.gap_max_us));
        prom_head(r, "memguard_sampler_worst_sample_seconds", "gauge",
                  "longest sample (read, judge, publish), last minute");
        ap_rprintf(r, "memguard_sampler_worst_sample_seconds %s\n",
                   prom_seconds(r->pool, s->sys.loop_max_us));
        prom_head(r, "memguard_measurement_age_seconds", "gauge",
                  "age of each kind of measurement (absent: never made)");
        ap_rprintf(
            r, "memguard_measurement_age_seconds{kind=\"sample\"} %s\n",
            prom_seconds(r->pool, 1000u * age_ms(s, s->sys.last_sample_us)));
        if (s->measure_us) {
            ap_rprintf(
                r, "memguard_measurement_age_seconds{kind=\"processes\"} %s\n",
                prom_seconds(r->pool, 1000u * age_ms(s, s->measure_us)));
        }
        if (s->smaps_us) {
            ap_rprintf(r,
                       "memguard_measurement_age_seconds{kind=\"smaps\"} %s\n",
                       prom_seconds(r->pool, 1000u * age_ms(s, s->smaps_us)));
        }
        if (s->sys.sample.slab_taken_us) {
            ap_rprintf(
                r, "memguard_measurement_age_seconds{kind=\"slabinfo\"} %s\n",
                prom_seconds(r->pool,
                             1000u * age_ms(s, s->sys.sample.slab_taken_us)));
        }
        if (s->sys.fill_signal != MG_SIGNAL_NONE) {
            prom_head(r, "memguard_fill_rate_bytes_per_second", "gauge",
                      "how fast the signal nearest its level moves toward "
                      "it (negative: away)");
            ap_rprintf(r,
                       "memguard_fill_rate_bytes_per_second{signal=\"%s\"} "
                       "%" APR_INT64_T_FMT "\n",
                       mg_signal_name((mg_signal_t)s->sys.fill_signal),
                       (apr_int64_t)s->sys.fill_rate);
            prom_head(r, "memguard_fill_time_to_level_seconds", "gauge",
                      "time until that signal reaches its level at that rate");
            ap_rprintf(
                r, "memguard_fill_time_to_level_seconds{signal=\"%s\"} %s\n",
                mg_signal_name((mg_signal_t)s->sys.fill_signal),
                s->sys.fill_tte_us == MG_POLICY_TTE_NEVER
                    ? "+Inf"
                    : prom_seconds(r->pool, s->sys.fill_tte_us));
        }
    }
    if (s->sampled) {
        prom_head(r, "memguard_sample_age_seconds", "gauge",
                  "age of the last sample");
        ap_rprintf(
            r, "memguard_sample_age_seconds %s\n",
            apr_psprintf(r->pool, "%" APR_UINT64_T_FMT ".%03u",
                         age_ms(s, s->sys.last_sample_us) / 1000u,
                         (unsigned)(age_ms(s, s->sys.last_sample_us) % 1000u)));
        prom_u64(r, "memguard_memory_total_bytes", "gauge", "MemTotal",
                 sm->mem_total);
        prom_u64(r, "memguard_memory_available_bytes", "gauge", "MemAvailable",
                 sm->mem_available);
        prom_u64(r, "memguard_slab_bytes", "gauge", "Slab", sm->slab);
        prom_u64(r, "memguard_slab_reclaimable_bytes", "gauge", "SReclaimable",
                 sm->sreclaimable);
        prom_u64(r, "memguard_slab_unreclaimable_bytes", "gauge", "SUnreclaim",
                 sm->sunreclaim);
        prom_head(r, "memguard_pressure_avg10_ratio", "gauge",
                  "memory pressure (PSI) avg10, 0..1");
        ap_rprintf(r, "memguard_pressure_avg10_ratio{kind=\"some\"} %s\n",
                   ratio(r->pool, sm->psi_some_avg10));
        ap_rprintf(r, "memguard_pressure_avg10_ratio{kind=\"full\"} %s\n",
                   ratio(r->pool, sm->psi_full_avg10));
        if (sm->cgroup_version) {
            prom_u64(r, "memguard_cgroup_usage_bytes", "gauge",
                     "the server's memory cgroup: usage", sm->cgroup_usage);
            prom_head(r, "memguard_cgroup_limit_bytes", "gauge",
                      "the server's memory cgroup: limit (+Inf: none)");
            if (sm->cgroup_limit == UINT64_MAX) {
                ap_rputs("memguard_cgroup_limit_bytes +Inf\n", r);
            }
            else {
                ap_rprintf(
                    r, "memguard_cgroup_limit_bytes %" APR_UINT64_T_FMT "\n",
                    sm->cgroup_limit);
            }
        }
        if (sm->ntop > 0) {
            prom_head(r, "memguard_slab_cache_bytes", "gauge",
                      "the largest slab caches");
            for (i = 0; i < sm->ntop && i < MG_SAMPLE_TOP_CACHES; i++) {
                char name[MG_SAMPLE_NAME_LEN + 1];
                apr_cpystrn(name, sm->top[i].name, sizeof(name));
                ap_rprintf(r,
                           "memguard_slab_cache_bytes{cache=\"%s\"} "
                           "%" APR_UINT64_T_FMT "\n",
                           L(name), sm->top[i].bytes);
            }
        }
    }
    prom_head(r, "memguard_refused_total", "counter",
              "requests refused, by reason");
    for (k = 0; k < MG_REASON__COUNT; k++) {
        ap_rprintf(
            r, "memguard_refused_total{reason=\"%s\"} %" APR_UINT64_T_FMT "\n",
            reason_name(k), s->refused[k]);
    }
    prom_head(r, "memguard_admit_budget_bytes", "gauge",
              "what calls may still take above the shed level (absent: no "
              "level set)");
    if (s->sampled && s->sys.admit_budget != MG_BOARD_BUDGET_NONE) {
        ap_rprintf(r, "memguard_admit_budget_bytes %" APR_INT64_T_FMT "\n",
                   (apr_int64_t)s->sys.admit_budget);
    }
    prom_head(r, "memguard_admit_reserved_bytes", "gauge",
              "expected costs of the calls in flight");
    ap_rprintf(r, "memguard_admit_reserved_bytes %" APR_INT64_T_FMT "\n",
               (apr_int64_t)s->admit_reserved);
    prom_u64(r, "memguard_admit_waiting", "gauge",
             "calls waiting for room in the budget", s->admit_waiting);
    prom_head(r, "memguard_admit_total", "counter",
              "admission outcomes and events");
    for (k = 0; k < MG_ADMIT__COUNT; k++) {
        ap_rprintf(r,
                   "memguard_admit_total{what=\"%s\"} %" APR_UINT64_T_FMT "\n",
                   admit_counter_names[k], s->admit_count[k]);
    }
    prom_u64(r, "memguard_recycles_requested_total", "counter",
             "children flagged for recycling", s->recycle_requested);
    prom_u64(r, "memguard_recycles_total", "counter",
             "children that recycled themselves", s->recycle_done);
    prom_u64(r, "memguard_generation", "gauge", "restart generation",
             s->generation);

    /* Per child; the pid label changes when a slot gets a new child. */
#define CHILD_METRIC(metric, type, help, expr)                                 \
    do {                                                                       \
        prom_head(r, metric, type, help);                                      \
        for (i = 0; i < s->nused; i++) {                                       \
            const mg_board_slot_info_t *c = &s->slots[i];                      \
            ap_rprintf(                                                        \
                r, metric "{slot=\"%u\",pid=\"%d\"} %" APR_UINT64_T_FMT "\n",  \
                s->slot_idx[i], (int)c->pid, (uint64_t)(expr));                \
        }                                                                      \
    } while (0)
    CHILD_METRIC("memguard_child_requests_total", "counter",
                 "requests served by the child", c->requests);
    CHILD_METRIC("memguard_child_rss_bytes", "gauge",
                 "child size after its last request", c->rss);
    CHILD_METRIC("memguard_child_unshared_bytes", "gauge",
                 "child unshared size (smaps_rollup)", c->unshared);
    CHILD_METRIC("memguard_child_peak_rss_bytes", "gauge", "child peak size",
                 c->peak_rss);
    CHILD_METRIC("memguard_child_inflight", "gauge",
                 "requests the child serves now", c->inflight);
    CHILD_METRIC("memguard_child_recycle_pending", "gauge",
                 "1 if the child is flagged for recycling",
                 c->recycle_reason != 0);
#undef CHILD_METRIC

    /* Per method; method="" is the "other" entry. */
#define METHOD_METRIC(metric, type, help, field)                               \
    do {                                                                       \
        prom_head(r, metric, type, help);                                      \
        for (i = 0; i < s->nmeth; i++) {                                       \
            const mg_board_method_info_t *m = &s->meths[i];                    \
            ap_rprintf(r, metric "{method=\"%s\"} %" APR_UINT64_T_FMT "\n",    \
                       L(m->name), (uint64_t)m->field);                        \
        }                                                                      \
    } while (0)
    METHOD_METRIC("memguard_method_calls_total", "counter",
                  "XML-RPC calls by method (\"\": other)", calls);
    METHOD_METRIC("memguard_method_inflight", "gauge",
                  "calls of the method being served now", inflight);
    METHOD_METRIC("memguard_method_request_bytes_total", "counter",
                  "request body bytes by method", bytes_in);
    METHOD_METRIC("memguard_method_response_bytes_total", "counter",
                  "response bytes by method", bytes_out);
    METHOD_METRIC("memguard_method_memory_delta_max_bytes", "gauge",
                  "largest memory growth of one call", delta_max);
    METHOD_METRIC("memguard_method_memory_delta_p95_bytes", "gauge",
                  "95th percentile of memory growth per call (upper bound)",
                  delta_p95);
#undef METHOD_METRIC
    prom_head(r, "memguard_method_expected_cost_bytes", "gauge",
              "what admission expects a call of the method to cost");
    for (i = 0; i < s->nmeth; i++) {
        const char *src;
        uint64_t e = cost_expected(s, i, &src);

        ap_rprintf(r,
                   "memguard_method_expected_cost_bytes{method=\"%s\","
                   "source=\"%s\"} %" APR_UINT64_T_FMT "\n",
                   L(s->meths[i].name), src, e);
    }
    prom_head(r, "memguard_method_refused_total", "counter",
              "refusals by method and reason (nonzero only)");
    for (i = 0; i < s->nmeth; i++) {
        const mg_board_method_info_t *m = &s->meths[i];
        for (k = 0; k < MG_REASON__COUNT; k++) {
            if (m->rejections[k] == 0) {
                continue;
            }
            ap_rprintf(r,
                       "memguard_method_refused_total{method=\"%s\","
                       "reason=\"%s\"} %" APR_UINT64_T_FMT "\n",
                       L(m->name), reason_name(k), m->rejections[k]);
        }
    }
}

/* ---- HTML ---------------------------------------------------------------- */

static const char *refusals_h(request_rec *r, const uint64_t *v)
{
    const char *out = "";
    int k;

    for (k = 0; k < MG_REASON__COUNT; k++) {
        if (v[k] != 0) {
            out = apr_psprintf(r->pool, "%s%s%s&nbsp;%" APR_UINT64_T_FMT, out,
                               *out ? ", " : "", reason_name(k), v[k]);
        }
    }
    return *out ? out : "-";
}

static void html_signal_row(request_rec *r, const status_snap *s, uint32_t sig,
                            const char *label, const char *value)
{
    int deciding =
        s->sampled && s->sys.signal == sig && s->sys.state != MG_VERDICT_OK;

    ap_rprintf(r, "<tr%s><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
               deciding ? " class=\"deciding\"" : "", H(label), H(value),
               deciding ? H(signal_value_h(r->pool, sig, s->sys.threshold))
                        : "-",
               deciding ? H(state_name(s->sys.state)) : "");
}

static void render_html_verdict(request_rec *r, const status_snap *s)
{
    const mg_sample_t *sm = &s->sys.sample;
    uint32_t i;

    ap_rprintf(r,
               "<dl>\n<dt>Verdict: <b class=\"state-%s\">%s</b>%s</dt>\n"
               "<dt>Why: %s</dt>\n",
               s->state_name, s->state_name, s->stale ? " (stale)" : "",
               H(s->why));
    ap_rprintf(r, "<dt>Health answer: <code>%s</code> (HTTP %d)</dt>\n",
               H(s->health_text), s->health_status);
    if (s->sampled) {
        ap_rprintf(r,
                   "<dt>State since: %" APR_UINT64_T_FMT
                   " s ago</dt>\n<dt>Sampler: pid %d, started %u time(s), "
                   "%" APR_UINT64_T_FMT " samples, last one %" APR_UINT64_T_FMT
                   " ms ago</dt>\n",
                   age_ms(s, s->sys.state_since_us) / 1000u,
                   (int)s->sys.sampler_pid, s->sampler_starts, s->sys.samples,
                   age_ms(s, s->sys.last_sample_us));
        ap_rprintf(r,
                   "<dt>Sampling every %" APR_UINT64_T_FMT
                   " ms; over the last minute the longest gap between two "
                   "samples was %" APR_UINT64_T_FMT
                   " ms and the longest sample %" APR_UINT64_T_FMT
                   " us; replaced %u time(s) for not publishing</dt>\n",
                   s->sys.interval_us / 1000u, s->sys.gap_max_us / 1000u,
                   s->sys.loop_max_us, s->sampler_replaced);
        ap_rprintf(
            r,
            "<dt>Measurements: processes %s ms ago, smaps_rollup %s "
            "ms ago, slabinfo %s ms ago</dt>\n",
            age_or_never(r->pool, s, s->measure_us, "never"),
            age_or_never(r->pool, s, s->smaps_us, "never"),
            age_or_never(r->pool, s, s->sys.sample.slab_taken_us, "never"));
        ap_rprintf(r, "<dt>Fill rate: %s</dt>\n", H(fill_h(r->pool, &s->sys)));
    }
    else {
        ap_rprintf(r, "<dt>Sampler: no sample yet (started %u time(s))</dt>\n",
                   s->sampler_starts);
    }
    ap_rprintf(r, "<dt>Server generation: %u</dt>\n</dl>\n", s->generation);
    if (!s->sampled) {
        return;
    }

    ap_rputs("<h2>Signals</h2>\n<table>\n<tr><th>signal</th><th>value</th>"
             "<th>threshold</th><th>state</th></tr>\n",
             r);
    html_signal_row(r, s, MG_SIGNAL_AVAILABLE, "MemAvailable",
                    size_h(r->pool, sm->mem_available));
    if (sm->cgroup_version) {
        html_signal_row(
            r, s, MG_SIGNAL_CGROUP,
            sm->cgroup_level == 0
                ? "cgroup usage / limit"
                : apr_psprintf(r->pool, "cgroup usage / limit (%u level%s up)",
                               (unsigned)sm->cgroup_level,
                               sm->cgroup_level == 1 ? "" : "s"),
            apr_psprintf(r->pool, "%s / %s", size_h(r->pool, sm->cgroup_usage),
                         sm->cgroup_limit == UINT64_MAX
                             ? "none"
                             : size_h(r->pool, sm->cgroup_limit)));
    }
    for (i = 0; i < sm->nnodes && i < MG_SAMPLE_MAX_NODES; i++) {
        html_signal_row(
            r, s, MG_SIGNAL_NODE,
            apr_psprintf(r->pool, "node %d available", (int)sm->nodes[i].node),
            size_h(r->pool, sm->nodes[i].available));
    }
    html_signal_row(r, s, MG_SIGNAL_SLAB, "Slab", size_h(r->pool, sm->slab));
    html_signal_row(r, s, MG_SIGNAL_SUNRECLAIM, "SUnreclaim",
                    size_h(r->pool, sm->sunreclaim));
    html_signal_row(
        r, s, MG_SIGNAL_PSI_SOME, "pressure some avg10",
        signal_value_h(r->pool, MG_SIGNAL_PSI_SOME, sm->psi_some_avg10));
    html_signal_row(
        r, s, MG_SIGNAL_PSI_FULL, "pressure full avg10",
        signal_value_h(r->pool, MG_SIGNAL_PSI_FULL, sm->psi_full_avg10));
    ap_rputs("</table>\n", r);

    if (sm->ntop > 0) {
        ap_rputs("<h2>Largest slab caches</h2>\n<table>\n<tr><th>cache</th>"
                 "<th>size</th></tr>\n",
                 r);
        for (i = 0; i < sm->ntop && i < MG_SAMPLE_TOP_CACHES; i++) {
            char name[MG_SAMPLE_NAME_LEN + 1];
            apr_cpystrn(name, sm->top[i].name, sizeof(name));
            ap_rprintf(r, "<tr><td>%s</td><td>%s</td></tr>\n", H(name),
                       size_h(r->pool, sm->top[i].bytes));
        }
        ap_rputs("</table>\n", r);
    }

    ap_rputs("<h2>Transitions</h2>\n", r);
    if (mg_board_sys_history_at(&s->sys, 0) == NULL) {
        ap_rputs("<p>none</p>\n", r);
        return;
    }
    ap_rputs("<table>\n<tr><th>when</th><th>from</th><th>to</th>"
             "<th>signal</th><th>value</th><th>threshold</th></tr>\n",
             r);
    for (i = 0; i < MG_BOARD_HISTORY; i++) {
        const mg_board_transition_t *t = mg_board_sys_history_at(&s->sys, i);
        if (t == NULL) {
            break;
        }
        ap_rprintf(r,
                   "<tr><td>%" APR_UINT64_T_FMT " s ago</td><td>%s</td>"
                   "<td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                   age_ms(s, t->time_us) / 1000u, state_name(t->from),
                   state_name(t->to), mg_signal_name((mg_signal_t)t->signal),
                   H(signal_value_h(r->pool, t->signal, t->value)),
                   H(signal_value_h(r->pool, t->signal, t->threshold)));
    }
    ap_rputs("</table>\n", r);
}

static void render_html(request_rec *r, const status_snap *s)
{
    uint32_t i;
    int k;

    ap_rputs(DOCTYPE_HTML_4_01, r);
    ap_rputs("<html><head>\n<meta http-equiv=\"Content-Type\" "
             "content=\"text/html; charset=utf-8\">\n"
             "<title>mod_memguard status</title>\n<style>\n"
             "body{font-family:sans-serif}\n"
             "table{border-collapse:collapse}\n"
             "td,th{border:1px solid #aaa;padding:2px 6px;text-align:right}\n"
             "td:first-child,th:first-child{text-align:left}\n"
             "tr.deciding{background:#fdd}\n"
             ".state-ok{color:#070}.state-throttle{color:#a60}"
             ".state-shed{color:#c00}.state-unknown{color:#555}\n"
             "</style>\n</head><body>\n",
             r);
    ap_rprintf(r, "<h1>mod_memguard status for %s</h1>\n",
               H(ap_get_server_name(r)));
    ap_rputs("<p>mod_memguard " MG_VERSION "</p>\n", r);
    if (!s->have_board) {
        ap_rputs("<p>The board is not available.</p>\n</body></html>\n", r);
        return;
    }
    render_html_verdict(r, s);

    ap_rprintf(r,
               "<h2>Refusals</h2>\n<p>%" APR_UINT64_T_FMT
               " refused in all</p>\n<table>\n<tr><th>reason</th>"
               "<th>refused</th><th>faultCode</th><th>HTTP</th></tr>\n",
               s->refused_total);
    for (k = 0; k < MG_REASON__COUNT; k++) {
        const mg_reason_info_t *ri = mg_reason_info((mg_reason_t)k);
        ap_rprintf(r,
                   "<tr><td>%s</td><td>%" APR_UINT64_T_FMT "</td><td>%d</td>"
                   "<td>%d</td></tr>\n",
                   ri->name, s->refused[k], ri->fault_code, ri->http_status);
    }
    ap_rputs("</table>\n", r);
    ap_rprintf(r,
               "<h2>Recycling</h2>\n<p>%" APR_UINT64_T_FMT
               " requested, %" APR_UINT64_T_FMT " done, %" APR_UINT64_T_FMT
               " pending</p>\n",
               s->recycle_requested, s->recycle_done, s->recycle_pending);

    ap_rprintf(r,
               "<h2>Children</h2>\n<p>%u of %u slots in use, %" APR_UINT64_T_FMT
               " requests, %" APR_UINT64_T_FMT " in flight</p>\n",
               s->nused, s->nslots, s->requests, s->inflight);
    ap_rputs("<table>\n<tr><th>slot</th><th>pid</th><th>generation</th>"
             "<th>requests</th><th>size</th><th>unshared</th><th>peak</th>"
             "<th>in flight</th><th>pending recycle</th><th>refused</th>"
             "</tr>\n",
             r);
    for (i = 0; i < s->nused; i++) {
        const mg_board_slot_info_t *c = &s->slots[i];
        const char *pending =
            c->recycle_reason == 0
                ? "-"
                : apr_psprintf(r->pool, "%s (%s &gt; %s)",
                               mg_recycle_reason_name(c->recycle_reason),
                               size_h(r->pool, c->recycle_value),
                               size_h(r->pool, c->recycle_limit));
        ap_rprintf(r,
                   "<tr><td>%u</td><td>%d</td><td>%u</td><td>%" APR_UINT64_T_FMT
                   "</td><td>%s</td><td>%s</td><td>%s</td><td>%u</td>"
                   "<td>%s</td><td>%s</td></tr>\n",
                   s->slot_idx[i], (int)c->pid, c->generation, c->requests,
                   size_h(r->pool, c->rss), size_h(r->pool, c->unshared),
                   size_h(r->pool, c->peak_rss), c->inflight, pending,
                   refusals_h(r, c->rejections));
    }
    ap_rputs("</table>\n", r);

    ap_rputs("<h2>Admission by memory cost</h2>\n", r);
    if (!s->sampled || s->sys.admit_budget == MG_BOARD_BUDGET_NONE) {
        ap_rputs("<p>No budget: no shed level is set (MemGuardMinAvailable, "
                 "MemGuardMinNodeAvailable).</p>\n",
                 r);
    }
    else {
        ap_rprintf(
            r,
            "<p>Budget %s (room above the shed level %s, plus %s the calls "
            "in flight have grown); reserved %s by %u call(s); %u waiting "
            "for %s.</p>\n",
            H(size_h(r->pool, s->sys.admit_budget > 0
                                  ? (uint64_t)s->sys.admit_budget
                                  : 0)),
            H(size_h(r->pool,
                     s->sys.admit_room > 0 ? (uint64_t)s->sys.admit_room : 0)),
            H(size_h(r->pool, (uint64_t)s->sys.admit_credit)),
            H(size_h(r->pool,
                     s->admit_reserved > 0 ? (uint64_t)s->admit_reserved : 0)),
            s->sys.admit_calls, s->admit_waiting,
            H(size_h(r->pool, s->admit_waiting_bytes > 0
                                  ? (uint64_t)s->admit_waiting_bytes
                                  : 0)));
    }
    ap_rputs("<table>\n<tr>", r);
    for (k = 0; k < MG_ADMIT__COUNT; k++) {
        ap_rprintf(r, "<th>%s</th>", admit_counter_names[k]);
    }
    ap_rputs("</tr>\n<tr>", r);
    for (k = 0; k < MG_ADMIT__COUNT; k++) {
        ap_rprintf(r, "<td>%" APR_UINT64_T_FMT "</td>", s->admit_count[k]);
    }
    ap_rputs("</tr>\n</table>\n", r);

    ap_rputs("<h2>Methods</h2>\n<table>\n<tr><th>method</th><th>calls</th>"
             "<th>in flight</th><th>refused</th><th>bytes in</th>"
             "<th>bytes out</th><th>memory delta max</th>"
             "<th>memory delta p95</th><th>expected cost</th>"
             "<th>measured</th><th>reserved</th></tr>\n",
             r);
    for (i = 0; i < s->nmeth; i++) {
        const mg_board_method_info_t *m = &s->meths[i];
        int other = s->meth_idx[i] == s->other_idx;
        const char *src;
        uint64_t e = cost_expected(s, i, &src);

        ap_rprintf(
            r,
            "<tr><td>%s</td><td>%" APR_UINT64_T_FMT
            "</td><td>%u</td><td>%s</td><td>%s</td><td>%s</td>"
            "<td>%s</td><td>%s</td><td>%s (%s)</td><td>%" APR_UINT64_T_FMT
            "</td><td>%u</td></tr>\n",
            other ? "<i>(other)</i>" : H(m->name), m->calls, m->inflight,
            refusals_h(r, m->rejections), size_h(r->pool, m->bytes_in),
            size_h(r->pool, m->bytes_out),
            m->delta_count ? size_h(r->pool, m->delta_max) : "-",
            m->delta_count ? size_h(r->pool, m->delta_p95) : "-",
            size_h(r->pool, e), src, s->costs[i].measured,
            s->costs[i].reserved_inflight);
    }
    ap_rputs("</table>\n<p><i>(other)</i>: calls refused before their "
             "method was read, names not stored, and names past a full "
             "table.</p>\n",
             r);
    ap_rputs("</body></html>\n", r);
}

/* ---- the handler --------------------------------------------------------- */

static status_fmt_e status_format(const request_rec *r)
{
    const char *a = r->args;

    while (a != NULL && *a) {
        size_t n = strcspn(a, "&;");
        size_t w = strcspn(a, "=&;");

        if (w > n) {
            w = n;
        }
#define IS(word) (w == sizeof(word) - 1 && !strncmp(a, word, w))
        if (IS("auto")) {
            return FMT_AUTO;
        }
        if (IS("json")) {
            return FMT_JSON;
        }
        if (IS("prometheus") || IS("metrics")) {
            return FMT_PROM;
        }
        if (IS("health")) {
            return FMT_HEALTH;
        }
#undef IS
        a += n;
        if (*a) {
            a++;
        }
    }
    return FMT_HTML;
}

static int is_status_handler(const char *h)
{
    return !strcmp(h, MEMGUARD_STATUS_HANDLER) ||
           !strcmp(h, MEMGUARD_HEALTH_HANDLER);
}

static int status_handler(request_rec *r)
{
    status_snap snap;
    status_fmt_e fmt;

    if (r->handler == NULL || !is_status_handler(r->handler)) {
        return DECLINED;
    }
    /* err_headers_out: also on the 405 and on a 503 from ?health. */
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    /* The Allow header of the 405 comes from allowed_methods; HEAD goes
     * with GET. */
    r->allowed = (AP_METHOD_BIT << M_GET);
    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    /* The child serving the page takes its slot, so it is listed. */
    memguard_slot(r->connection);
    fmt = strcmp(r->handler, MEMGUARD_HEALTH_HANDLER) == 0 ? FMT_HEALTH
                                                           : status_format(r);
    snap_take(r, &snap);

    switch (fmt) {
    case FMT_HTML:
        ap_set_content_type(r, "text/html; charset=utf-8");
        break;
    case FMT_AUTO:
    case FMT_HEALTH:
        ap_set_content_type(r, "text/plain; charset=utf-8");
        break;
    case FMT_JSON:
        ap_set_content_type(r, "application/json");
        break;
    case FMT_PROM:
        ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
        break;
    }
    if (fmt == FMT_HEALTH) {
        /* The status goes out with or without a body (HEAD). */
        r->status = snap.health_status;
    }
    if (r->header_only) {
        return OK;
    }
    switch (fmt) {
    case FMT_HTML:
        render_html(r, &snap);
        break;
    case FMT_AUTO:
        render_auto(r, &snap);
        break;
    case FMT_JSON:
        render_json(r, &snap);
        break;
    case FMT_PROM:
        render_prom(r, &snap);
        break;
    case FMT_HEALTH:
        render_health(r, &snap);
        break;
    }
    return OK;
}

int memguard_is_status(request_rec *r)
{
    core_dir_config *d;
    const char *err = NULL;
    const char *h;

    if (r->handler != NULL) {
        return is_status_handler(r->handler);
    }
    /* Before fixups r->handler is not set yet: read SetHandler. */
    d = ap_get_core_module_config(r->per_dir_config);
    if (d == NULL || d->expr_handler == NULL) {
        return 0;
    }
    h = ap_expr_str_exec(r, d->expr_handler, &err);
    return err == NULL && h != NULL && is_status_handler(h);
}

/* ---- mod_status ---------------------------------------------------------- */

static int status_section(request_rec *r, int flags)
{
    status_snap snap;

    if (memguard_board() == NULL) {
        return OK;
    }
    snap_take(r, &snap);
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r,
                   "MemGuardState: %s\nMemGuardHealth: %s\n"
                   "MemGuardSampleAgeMs: %s\nMemGuardRefused: "
                   "%" APR_UINT64_T_FMT "\nMemGuardRecycled: "
                   "%" APR_UINT64_T_FMT "\n",
                   snap.state_name, snap.health_text,
                   snap.sampled
                       ? apr_psprintf(r->pool, "%" APR_UINT64_T_FMT,
                                      age_ms(&snap, snap.sys.last_sample_us))
                       : "-1",
                   snap.refused_total, snap.recycle_done);
        return OK;
    }
    ap_rprintf(r,
               "<hr />\n<h2>mod_memguard</h2>\n<dl>\n"
               "<dt>Verdict: <b>%s</b>%s &mdash; %s</dt>\n"
               "<dt>Health answer: <code>%s</code></dt>\n"
               "<dt>Refused: %" APR_UINT64_T_FMT ", children recycled: "
               "%" APR_UINT64_T_FMT "</dt>\n</dl>\n",
               snap.state_name, snap.stale ? " (stale)" : "", H(snap.why),
               H(snap.health_text), snap.refused_total, snap.recycle_done);
    return OK;
}

void memguard_status_register(apr_pool_t *p)
{
    (void)p;
    /* MIDDLE, like every generator: only answers its own handler name. */
    ap_hook_handler(status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* mod_status's optional hook: a section in /server-status (and
     * "Key: value" lines in its ?auto). A no-op when mod_status is not
     * loaded. */
    APR_OPTIONAL_HOOK(ap, status_hook, status_section, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
