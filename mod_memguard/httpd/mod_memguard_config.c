/*
 * mod_memguard_config.c - the configuration's structures: creation,
 * merging, and the effective settings with defaults applied (as
 * mod_reqtimeout's MERGE_INT). The directive handlers that fill them are in
 * mod_memguard_directives*.c.
 *
 * Every field starts UNSET so that merging can tell "not said here" from
 * "said, and the value is the default": a <Location> overrides only what
 * it sets.
 */
#include "http_main.h"

#include "mod_memguard_config.h"

#define MERGE(field) (add->field != MEMGUARD_UNSET ? add->field : base->field)

void *memguard_create_server_conf(apr_pool_t *p, server_rec *s)
{
    memguard_server_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->engine = MEMGUARD_UNSET;
    c->retry_after = MEMGUARD_UNSET;
    c->hr = apr_pcalloc(p, sizeof(*c->hr));
    c->hr->interval_us = MEMGUARD_UNSET;
    c->hr->cgroup = MEMGUARD_UNSET;
    c->hr->numa = MEMGUARD_UNSET;
    c->hr->sustain_us = MEMGUARD_UNSET;
    c->hr->hysteresis_bp = MEMGUARD_UNSET;
    c->hr->fill_throttle_us = MEMGUARD_UNSET;
    c->hr->fill_shed_us = MEMGUARD_UNSET;
    c->hr->admit_default = MEMGUARD_UNSET;
    c->hr->admit_tiny = MEMGUARD_UNSET;
    c->hr->admit_slow = MEMGUARD_UNSET;
    c->hr->admit_wait_us = MEMGUARD_UNSET;
    c->hr->ceiling = MEMGUARD_UNSET;
    c->hr->fail_mode = MEMGUARD_UNSET;
    c->recycle.soft_limit = MEMGUARD_UNSET;
    c->recycle.hard_limit = MEMGUARD_UNSET;
    c->recycle.metric = MEMGUARD_UNSET;
    c->recycle.jitter_bp = MEMGUARD_UNSET;
    c->recycle.max_per_minute = MEMGUARD_UNSET;
    c->recycle.on_pressure = MEMGUARD_UNSET;
    c->recycle.watch = NULL;
    return c;
}

void *memguard_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    memguard_server_conf *base = basev, *add = addv;
    memguard_server_conf *c = apr_pcalloc(p, sizeof(*c));

    c->engine = MERGE(engine);
    c->retry_after = MERGE(retry_after);
    /* headroom directives are main-server only: every vhost shares it */
    c->hr = base->hr;
    /* Global only (a child serves every vhost): read from the main
     * server, never from a merged vhost. */
    c->recycle = base->recycle;
    return c;
}

void *memguard_create_dir_conf(apr_pool_t *p, char *dir)
{
    memguard_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)dir;
    c->engine = MEMGUARD_UNSET;
    c->max_body = MEMGUARD_UNSET;
    c->reject_style = MEMGUARD_UNSET;
    c->max_response = MEMGUARD_UNSET;
    c->shed_exempt = MEMGUARD_UNSET;
    c->throttle_max_body = MEMGUARD_UNSET;
    c->retry_fault_set = MEMGUARD_UNSET;
    c->admission = MEMGUARD_UNSET;
    return c;
}

/*
 * Per key: what a section sets overrides the enclosing scope, key by key
 * for MemGuardXmlLimits. MemGuardMethod rules accumulate: this section's
 * first (in directive order), then the enclosing scope's, so an inner
 * rule for a method shadows an outer one (first match wins).
 */
static struct memguard_xr_conf *xr_merge(apr_pool_t *p,
                                         struct memguard_xr_conf *base,
                                         struct memguard_xr_conf *add)
{
    struct memguard_xr_conf *m;
    int k;

    if (add == NULL) {
        return base;
    }
    if (base == NULL) {
        return add;
    }
    m = apr_palloc(p, sizeof(*m));
    m->xmlrpc = add->xmlrpc != MEMGUARD_UNSET ? add->xmlrpc : base->xmlrpc;
    m->limits_set = base->limits_set | add->limits_set;
    for (k = 0; k < MEMGUARD_XL__COUNT; k++) {
        m->limits[k] =
            (add->limits_set & (1u << k)) ? add->limits[k] : base->limits[k];
    }
    if (add->rules == NULL || base->rules == NULL) {
        m->rules = add->rules ? add->rules : base->rules;
    }
    else {
        m->rules = apr_array_append(p, add->rules, base->rules);
    }
    for (k = 0; k < (int)(sizeof(m->rule_first) / sizeof(m->rule_first[0]));
         k++) {
        m->rule_first[k] = add->rule_first[k] | base->rule_first[k];
    }
    m->spool_memory = add->spool_memory != MEMGUARD_UNSET ? add->spool_memory
                                                          : base->spool_memory;
    m->spool_dir = add->spool_dir ? add->spool_dir : base->spool_dir;
    m->multicall = add->multicall ? add->multicall : base->multicall;
    return m;
}

void *memguard_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    memguard_dir_conf *base = basev, *add = addv;
    memguard_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    c->engine = MERGE(engine);
    c->max_body = MERGE(max_body);
    c->reject_style = MERGE(reject_style);
    c->max_response = MERGE(max_response);
    c->shed_exempt = MERGE(shed_exempt);
    c->throttle_max_body = MERGE(throttle_max_body);
    /* the code and whether it is set go together */
    if (add->retry_fault_set != MEMGUARD_UNSET) {
        c->retry_fault_set = add->retry_fault_set;
        c->retry_fault = add->retry_fault;
    }
    else {
        c->retry_fault_set = base->retry_fault_set;
        c->retry_fault = base->retry_fault;
    }
    c->admission = MERGE(admission);
    c->xr = xr_merge(p, base->xr, add->xr);
    return c;
}

static const memguard_dir_conf *dconf(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &memguard_module);
}

int memguard_admission(const request_rec *r)
{
    return dconf(r)->admission != 0; /* UNSET: On */
}

void memguard_admit_settings_get(memguard_admit_settings *out)
{
    const memguard_headroom_conf *hr = memguard_headroom(ap_server_conf);

#define OR(v, d) ((v) == MEMGUARD_UNSET ? (d) : (v))
    out->dflt = OR(hr->admit_default, MEMGUARD_DEFAULT_ADMIT_DEFAULT);
    out->tiny = OR(hr->admit_tiny, MEMGUARD_DEFAULT_ADMIT_TINY);
    out->slow = (uint32_t)OR(hr->admit_slow, MEMGUARD_DEFAULT_ADMIT_SLOW);
    out->wait_us = OR(hr->admit_wait_us, MEMGUARD_DEFAULT_ADMIT_WAIT_US);
    out->ceiling = OR(hr->ceiling, 1);
#undef OR
}

int memguard_engine(const request_rec *r)
{
    const memguard_dir_conf *c = dconf(r);

    return c->engine == MEMGUARD_UNSET ? MEMGUARD_ENGINE_OFF : c->engine;
}

int memguard_style(const request_rec *r)
{
    const memguard_dir_conf *c = dconf(r);

    return c->reject_style == MEMGUARD_UNSET ? MEMGUARD_DEFAULT_STYLE
                                             : c->reject_style;
}

apr_int64_t memguard_max_body(const request_rec *r)
{
    const memguard_dir_conf *c = dconf(r);

    return c->max_body == MEMGUARD_UNSET ? MEMGUARD_DEFAULT_MAX_BODY
                                         : c->max_body;
}

apr_int64_t memguard_max_response(const request_rec *r)
{
    const memguard_dir_conf *c = dconf(r);

    return c->max_response == MEMGUARD_UNSET ? MEMGUARD_DEFAULT_MAX_RESPONSE
                                             : c->max_response;
}

int memguard_retry_after(const request_rec *r)
{
    const memguard_server_conf *c =
        ap_get_module_config(r->server->module_config, &memguard_module);

    return c->retry_after == MEMGUARD_UNSET ? MEMGUARD_DEFAULT_RETRY_AFTER
                                            : c->retry_after;
}

int memguard_retry_fault(const request_rec *r)
{
    const memguard_dir_conf *c = dconf(r);

    return c->retry_fault_set == 1 ? c->retry_fault : 0;
}

int memguard_shed_exempt(const request_rec *r)
{
    const memguard_dir_conf *c = dconf(r);

    return c->shed_exempt == MEMGUARD_UNSET ? 0 : c->shed_exempt;
}

apr_int64_t memguard_throttle_max_body(const request_rec *r)
{
    const memguard_dir_conf *c = dconf(r);

    return c->throttle_max_body == MEMGUARD_UNSET
               ? MEMGUARD_DEFAULT_THROTTLE_MAX_BODY
               : c->throttle_max_body;
}

memguard_headroom_conf *memguard_headroom(server_rec *s)
{
    const memguard_server_conf *c =
        ap_get_module_config(s->module_config, &memguard_module);

    return c->hr;
}

uint64_t memguard_stale_after_us(const memguard_headroom_conf *hr)
{
    uint64_t iv = hr->interval_us == MEMGUARD_UNSET
                      ? MEMGUARD_DEFAULT_INTERVAL_US
                      : (uint64_t)hr->interval_us;
    uint64_t t = iv * MEMGUARD_STALE_INTERVALS;

    return t > MEMGUARD_STALE_MIN_US ? t : MEMGUARD_STALE_MIN_US;
}

void memguard_recycle_settings_get(memguard_recycle_settings *out)
{
    const memguard_server_conf *c =
        ap_get_module_config(ap_server_conf->module_config, &memguard_module);
    const memguard_recycle_conf *rc = &c->recycle;

    out->soft_limit = rc->soft_limit > 0 ? (apr_uint64_t)rc->soft_limit : 0;
    out->hard_limit = rc->hard_limit > 0 ? (apr_uint64_t)rc->hard_limit : 0;
    out->metric =
        rc->metric == MEMGUARD_UNSET ? MEMGUARD_DEFAULT_METRIC : rc->metric;
    out->jitter_bp = rc->jitter_bp == MEMGUARD_UNSET
                         ? MEMGUARD_DEFAULT_JITTER_BP
                         : (apr_uint32_t)rc->jitter_bp;
    out->max_per_minute = rc->max_per_minute == MEMGUARD_UNSET
                              ? MEMGUARD_DEFAULT_MAX_RECYCLES
                              : (apr_uint32_t)rc->max_per_minute;
    out->on_pressure = rc->on_pressure == 1;
    out->watch = rc->watch;
}
