/*
 * mg_policy_describe.c - mg_verdict_describe(): a verdict in words for the
 * error log and the status page (see mg_policy.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mg_policy.h"

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

/* "3.5 s" from milliseconds. */
static void mg_fmt_ms(uint64_t ms, char *buf, size_t n)
{
    snprintf(buf, n, "%llu.%01llu s", (unsigned long long)(ms / 1000),
             (unsigned long long)(ms % 1000 / 100));
}

/* A level signal in words; anything else is the unreclaimable slab. */
static void mg_level_what(mg_signal_t sig, int32_t detail, char *what, size_t n)
{
    switch (sig) {
    case MG_SIGNAL_AVAILABLE:
        snprintf(what, n, "available");
        break;
    case MG_SIGNAL_CGROUP:
        snprintf(what, n, "cgroup headroom");
        break;
    case MG_SIGNAL_NODE:
        snprintf(what, n, "node %d available", (int)detail);
        break;
    case MG_SIGNAL_SLAB:
        snprintf(what, n, "slab");
        break;
    default:
        snprintf(what, n, "unreclaimable slab");
        break;
    }
}

/*
 * A fill verdict: "throttle: cgroup headroom 812.0 MiB falling 201.3 MiB/s,
 * shed level 102.4 MiB in 3.5 s (horizon 5.0 s)"; inside the horizon but
 * not yet by the hysteresis margin: "..., holding until 5.5 s (horizon
 * 5.0 s)".
 */
static int mg_fill_describe(const mg_verdict_t *v, const char *state, char *buf,
                            size_t n)
{
    const mg_policy_fill_t *f = &v->fill;
    mg_signal_t lvl = mg_signal_filled(v->signal);
    char what[48], val[24], rate[24], level[24], tte[24], hor[24], at[24];
    uint64_t r = f->rate < 0 ? 0 : (uint64_t)f->rate;
    bool is_min = lvl != MG_SIGNAL_SLAB && lvl != MG_SIGNAL_SUNRECLAIM;

    mg_level_what(lvl, v->detail, what, sizeof(what));
    mg_units_format_size(is_min ? f->level + f->distance
                                : f->level - f->distance,
                         val, sizeof(val));
    mg_units_format_size(r, rate, sizeof(rate));
    mg_units_format_size(f->level, level, sizeof(level));
    mg_fmt_ms(v->threshold, hor, sizeof(hor));
    if (f->tte_us == MG_POLICY_TTE_NEVER) {
        snprintf(tte, sizeof(tte), "never");
    }
    else {
        mg_fmt_ms(f->tte_us / 1000, tte, sizeof(tte));
    }
    if (v->value < v->threshold) {
        return snprintf(buf, n,
                        "%s: %s %s %s %s/s, %s level %s in %s "
                        "(horizon %s)",
                        state, what, val, is_min ? "falling" : "rising", rate,
                        f->shed_level ? "shed" : "throttle", level, tte, hor);
    }
    mg_fmt_ms(v->clear_at, at, sizeof(at));
    return snprintf(buf, n,
                    "%s: %s %s %s %s/s, %s level %s in %s, "
                    "holding until %s (horizon %s)",
                    state, what, val, is_min ? "falling" : "rising", rate,
                    f->shed_level ? "shed" : "throttle", level, tte, at, hor);
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
    case MG_SIGNAL_CGROUP:
    case MG_SIGNAL_NODE:
    case MG_SIGNAL_SLAB:
    case MG_SIGNAL_SUNRECLAIM:
        mg_level_what(v->signal, v->detail, what, sizeof(what));
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
    case MG_SIGNAL_FILL_AVAILABLE:
    case MG_SIGNAL_FILL_CGROUP:
    case MG_SIGNAL_FILL_NODE:
    case MG_SIGNAL_FILL_SLAB:
    case MG_SIGNAL_FILL_SUNRECLAIM:
        return mg_fill_describe(v, state, buf, n);
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
