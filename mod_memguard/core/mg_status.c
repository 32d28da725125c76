/*
 * mg_status.c - see mg_status.h. The sink, the helpers every renderer
 * shares (mg_status_int.h), the snapshot, ?health, the choice of format.
 * The renderers: mg_status_text.c (?auto, ?json, ?prometheus) and
 * mg_status_html.c (the page, mod_status's section).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mg_format.h"
#include "mg_reason.h"
#include "mg_status.h"
#include "mg_status_int.h"
#include "mg_units.h"

/* ---- the sink ------------------------------------------------------------ */

static void *mg_status_alloc(const mg_status_io_t *o, size_t n)
{
    return o->alloc(o->alloc_baton, n);
}

void mg_status_out_puts(const mg_status_io_t *o, const char *s)
{
    o->write(o->write_baton, s, strlen(s));
}

/* vsnprintf into a stack buffer, or into an allocation when it is longer. */
static char *vfmt(const mg_status_io_t *o, char *stack, size_t n,
                  const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static char *vfmt(const mg_status_io_t *o, char *stack, size_t n,
                  const char *fmt, va_list ap)
{
    va_list ap2;
    int len;
    char *d;

    va_copy(ap2, ap);
    len = vsnprintf(stack, n, fmt, ap2);
    va_end(ap2);
    if (len < 0) {
        stack[0] = '\0';
        return stack;
    }
    if ((size_t)len < n) {
        return stack;
    }
    d = mg_status_alloc(o, (size_t)len + 1);
    vsnprintf(d, (size_t)len + 1, fmt, ap);
    return d;
}

void mg_status_out_printf(const mg_status_io_t *o, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    const char *s;

    va_start(ap, fmt);
    s = vfmt(o, buf, sizeof(buf), fmt, ap);
    va_end(ap);
    mg_status_out_puts(o, s);
}

const char *mg_status_tmp_printf(const mg_status_io_t *o, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    const char *s;
    char *d;
    size_t n;

    va_start(ap, fmt);
    s = vfmt(o, buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (s != buf) {
        return s;
    }
    n = strlen(buf);
    d = mg_status_alloc(o, n + 1);
    memcpy(d, buf, n + 1);
    return d;
}

/* A slab cache name from the sample (not NUL-terminated when it fills
 * its field) as a string. */
void mg_status_cache_name(char name[MG_SAMPLE_NAME_LEN + 1], const char *src)
{
    size_t n = strnlen(src, MG_SAMPLE_NAME_LEN);

    memcpy(name, src, n);
    name[n] = '\0';
}

void mg_status_sys_verdict(const mg_board_sys_t *rec, mg_verdict_t *v)
{
    memset(v, 0, sizeof(*v));
    v->state = (mg_verdict_state_t)rec->state;
    v->signal = (mg_signal_t)rec->signal;
    v->detail = rec->detail;
    v->value = rec->value;
    v->threshold = rec->threshold;
    v->clear_at = rec->clear_at;
    v->since_us = rec->state_since_us;
    v->fill.signal = (mg_signal_t)rec->fill_signal;
    v->fill.detail = rec->fill_detail;
    v->fill.rate = rec->fill_rate;
    v->fill.level = rec->fill_level;
    v->fill.distance = rec->fill_distance;
    v->fill.tte_us = rec->fill_tte_us;
    v->fill.shed_level = rec->fill_shed_level;
}

const char *const mg_status_admit_names[MG_ADMIT__COUNT] = {
    "admitted", "waited",      "tiny",  "refused",
    "ceiling",  "last-resort", "raised"};
const char *const mg_status_admit_keys[MG_ADMIT__COUNT] = {
    "Admitted",    "Waited",     "Tiny",  "Refused",
    "CeilingHits", "LastResort", "Raised"};

/* The expected cost of method entry i as admission sees it (without a
 * location's memory=), and where it comes from. */
uint64_t mg_status_cost_expected(const mg_status_t *s, uint32_t i,
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

const char *mg_status_esc(const mg_status_io_t *o, mg_status_esc_fn f,
                          const char *s)
{
    size_t len = strlen(s);
    size_t need = f(NULL, 0, s, len);
    char *d = mg_status_alloc(o, need + 1);

    f(d, need + 1, s, len);
    return d;
}

const char *mg_status_reason_name(int i)
{
    return mg_reason_info((mg_reason_t)i)->name;
}

/* "BodySize" for "body-size". */
const char *mg_status_reason_key(const mg_status_io_t *o, int i)
{
    const char *n = mg_status_reason_name(i);
    size_t need = mg_format_camel(NULL, 0, n, strlen(n));
    char *d = mg_status_alloc(o, need + 1);

    mg_format_camel(d, need + 1, n, strlen(n));
    return d;
}

const char *mg_status_hundredths(const mg_status_io_t *o, uint64_t v)
{
    char buf[32];

    mg_format_hundredths(buf, sizeof(buf), v);
    return mg_status_tmp_printf(o, "%s", buf);
}

const char *mg_status_size_h(const mg_status_io_t *o, uint64_t v)
{
    char buf[24];

    return mg_status_tmp_printf(o, "%s",
                                mg_units_format_size(v, buf, sizeof(buf)));
}

/* Age of a CLOCK_MONOTONIC time in ms; 0 for the future. */
uint64_t mg_status_age_ms(const mg_status_t *s, uint64_t t_us)
{
    return t_us != 0 && s->now_us > t_us ? (s->now_us - t_us) / 1000u : 0;
}

static int signal_is_psi(uint32_t sig)
{
    return sig == MG_SIGNAL_PSI_SOME || sig == MG_SIGNAL_PSI_FULL;
}

/* "3.5 s", "never" for UINT64_MAX milliseconds */
const char *mg_status_seconds_h(const mg_status_io_t *o, uint64_t ms)
{
    if (ms == UINT64_MAX) {
        return "never";
    }
    return mg_status_tmp_printf(o, "%" PRIu64 ".%u s", ms / 1000u,
                                (unsigned)(ms % 1000u / 100u));
}

/* A signal's value or threshold for people: bytes, a PSI percentage, or
 * the time left for a fill signal. */
const char *mg_status_signal_value_h(const mg_status_io_t *o, uint32_t sig,
                                     uint64_t v)
{
    if (signal_is_psi(sig)) {
        return mg_status_tmp_printf(o, "%s%%", mg_status_hundredths(o, v));
    }
    if (mg_signal_filled((mg_signal_t)sig) != MG_SIGNAL_NONE) {
        return mg_status_seconds_h(o, v);
    }
    return mg_status_size_h(o, v);
}

/* Age in ms of t_us, as a number for ?auto and JSON; -1 for never. */
const char *mg_status_age_or_never(const mg_status_io_t *o,
                                   const mg_status_t *s, uint64_t t_us,
                                   const char *never)
{
    if (t_us == 0) {
        return never;
    }
    return mg_status_tmp_printf(o, "%" PRIu64, mg_status_age_ms(s, t_us));
}

/* Time to the fill level in ms, for ?auto and JSON. */
const char *mg_status_tte_ms(const mg_status_io_t *o, const mg_board_sys_t *rec,
                             const char *never)
{
    if (rec->fill_signal == MG_SIGNAL_NONE ||
        rec->fill_tte_us == MG_POLICY_TTE_NEVER) {
        return never;
    }
    return mg_status_tmp_printf(o, "%" PRIu64, rec->fill_tte_us / 1000u);
}

/* "cgroup headroom falling 120.0 MiB/s, shed level 102.4 MiB in 3.5 s" */
const char *mg_status_fill_h(const mg_status_io_t *o, const mg_board_sys_t *rec)
{
    mg_signal_t sig = (mg_signal_t)rec->fill_signal;
    int is_min = sig != MG_SIGNAL_SLAB && sig != MG_SIGNAL_SUNRECLAIM;
    const char *what =
        sig == MG_SIGNAL_NODE
            ? mg_status_tmp_printf(o, "node %d", (int)rec->fill_detail)
            : mg_signal_name(sig);

    if (sig == MG_SIGNAL_NONE) {
        return "no slope yet (or no level set)";
    }
    if (rec->fill_rate <= 0) {
        return mg_status_tmp_printf(
            o, "%s: not moving toward its %s level (%s)", what,
            rec->fill_shed_level ? "shed" : "throttle",
            mg_status_size_h(o, rec->fill_level));
    }
    return mg_status_tmp_printf(
        o, "%s %s %s/s, %s level %s in %s", what, is_min ? "falling" : "rising",
        mg_status_size_h(o, (uint64_t)rec->fill_rate),
        rec->fill_shed_level ? "shed" : "throttle",
        mg_status_size_h(o, rec->fill_level),
        mg_status_seconds_h(o, rec->fill_tte_us / 1000u));
}

const char *mg_status_state_name(uint32_t st)
{
    return mg_verdict_state_name((mg_verdict_state_t)st);
}

/* ---- the snapshot -------------------------------------------------------- */

void mg_status_snapshot(mg_status_t *s, const mg_board_t *b,
                        const mg_status_facts_t *facts, const mg_status_io_t *o)
{
    mg_board_slot_info_t one;
    uint32_t i, nm;

    memset(s, 0, sizeof(*s));
    s->server_name = facts->server_name;
    s->now_us = facts->now_us;
    s->state_name = "unknown";
    s->signal_name = mg_signal_name(MG_SIGNAL_NONE);
    s->health_status = MG_STATUS_HTTP_OK;
    s->health_weight = MG_STATUS_HEALTH_WEIGHT_OK;
    snprintf(s->why, sizeof(s->why), "%s", "no sample yet");
    if (b == NULL) {
        snprintf(s->why, sizeof(s->why), "%s", "the board is not available");
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
        memset(&pc, 0, sizeof(pc));
        pc.stale_after_us = facts->stale_after_us;
        pc.fail_mode = facts->fail_mode;
        mg_status_sys_verdict(&s->sys, &v);
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
            s->health_status = MG_STATUS_HTTP_UNAVAILABLE;
            s->health_weight = 0;
        }
        else if (s->state == MG_VERDICT_THROTTLE) {
            s->health_weight = MG_STATUS_HEALTH_WEIGHT_THROTTLE;
        }
    }
    else if (s->word != 0 && !s->have_sys) {
        snprintf(s->why, sizeof(s->why), "%s",
                 "the sampler was writing; reload");
    }
    s->health_text =
        s->health_status == MG_STATUS_HTTP_OK
            ? mg_status_tmp_printf(o, "up ready %d%%", s->health_weight)
            : "drain";

    /* Slots in use. */
    s->nslots = mg_board_nslots(b);
    s->slots = mg_status_alloc(o, sizeof(*s->slots) * 8);
    s->slot_idx = mg_status_alloc(o, sizeof(*s->slot_idx) * 8);
    s->res = mg_status_alloc(o, sizeof(*s->res) * 8);
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
                ns = mg_status_alloc(o, sizeof(*ns) * cap);
                ni = mg_status_alloc(o, sizeof(*ni) * cap);
                nr = mg_status_alloc(o, sizeof(*nr) * cap);
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
    s->meths = mg_status_alloc(o, sizeof(*s->meths) * (nm + 1));
    s->meth_idx = mg_status_alloc(o, sizeof(*s->meth_idx) * (nm + 1));
    s->costs = mg_status_alloc(o, sizeof(*s->costs) * (nm + 1));
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
    s->admit_default = facts->admit_default;
}

/* The budget for ?auto and JSON: bytes, or `none` when no level bounds
 * it. */
const char *mg_status_budget_str(const mg_status_io_t *o, const mg_status_t *s,
                                 const char *none)
{
    if (!s->sampled || s->sys.admit_budget == MG_BOARD_BUDGET_NONE) {
        return none;
    }
    return mg_status_tmp_printf(o, "%" PRId64, (int64_t)s->sys.admit_budget);
}

/* ---- choosing the format ------------------------------------------------- */

mg_status_format_t mg_status_format(const char *a)
{
    while (a != NULL && *a) {
        size_t n = strcspn(a, "&;");
        size_t w = strcspn(a, "=&;");

        if (w > n) {
            w = n;
        }
#define IS(word) (w == sizeof(word) - 1 && !strncmp(a, word, w))
        if (IS("auto")) {
            return MG_STATUS_AUTO;
        }
        if (IS("json")) {
            return MG_STATUS_JSON;
        }
        if (IS("prometheus") || IS("metrics")) {
            return MG_STATUS_PROM;
        }
        if (IS("health")) {
            return MG_STATUS_HEALTH;
        }
#undef IS
        a += n;
        if (*a) {
            a++;
        }
    }
    return MG_STATUS_HTML;
}

int mg_status_is_handler(const char *h)
{
    return h != NULL && (!strcmp(h, MG_STATUS_HANDLER) ||
                         !strcmp(h, MG_STATUS_HEALTH_HANDLER));
}

const char *mg_status_content_type(mg_status_format_t fmt)
{
    switch (fmt) {
    case MG_STATUS_HTML:
        return "text/html; charset=utf-8";
    case MG_STATUS_JSON:
        return "application/json";
    case MG_STATUS_PROM:
        return "text/plain; version=0.0.4; charset=utf-8";
    case MG_STATUS_AUTO:
    case MG_STATUS_HEALTH:
        break;
    }
    return "text/plain; charset=utf-8";
}
