/*
 * mod_memguard_config.c - directives, their parsing, and config merging.
 *
 * Every field starts UNSET so that merging can tell "not said here" from
 * "said, and the value is the default": a <Location> overrides only what
 * it sets. Every bad value is refused while the configuration is read
 * (apachectl -t), with a message that names the directive and echoes the
 * value.
 */
#include <errno.h>

#include "apr_file_info.h"
#include "http_main.h"

#include "mod_memguard.h"

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
    c->xr = memguard_xr_merge(p, base->xr, add->xr);
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

/*
 * Shared value parsers: each returns NULL or the error text for httpd to
 * print, naming the directive and quoting the value as given.
 */
const char *memguard_parse_size(cmd_parms *cmd, const char *arg,
                                apr_int64_t *out)
{
    uint64_t v;
    int rc = mg_units_parse_size(arg, &v);

    if (rc == -ERANGE) {
        return apr_psprintf(cmd->pool, "%s: '%s' is too large",
                            cmd->directive->directive, arg);
    }
    if (rc != 0) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a size (bytes, or a number "
                            "with K, M, G or T, e.g. 512K or 16M)",
                            cmd->directive->directive, arg);
    }
    *out = (apr_int64_t)v;
    return NULL;
}

const char *memguard_parse_duration(cmd_parms *cmd, const char *arg,
                                    apr_int64_t *out_us)
{
    uint64_t v;
    int rc = mg_units_parse_duration(arg, &v);

    if (rc == -ERANGE) {
        return apr_psprintf(cmd->pool, "%s: '%s' is too long",
                            cmd->directive->directive, arg);
    }
    if (rc != 0) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a duration (e.g. 100ms, 2s, "
                            "5m; a bare number means seconds)",
                            cmd->directive->directive, arg);
    }
    *out_us = (apr_int64_t)v;
    return NULL;
}

const char *memguard_parse_percent(cmd_parms *cmd, const char *arg,
                                   apr_int64_t *out_bp)
{
    uint32_t v;
    int rc = mg_units_parse_percent(arg, 1, &v);

    if (rc != 0) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a percentage from 0%% to 100%%",
                            cmd->directive->directive, arg);
    }
    *out_bp = v;
    return NULL;
}

const char *memguard_parse_threshold(cmd_parms *cmd, const char *arg,
                                     mg_threshold_t *out)
{
    int rc = mg_units_parse_threshold(arg, out);

    if (rc != 0) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is neither a size (e.g. 512M) nor a "
                            "percentage (e.g. 10%%)",
                            cmd->directive->directive, arg);
    }
    return NULL;
}

static const char *set_engine(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_dir_conf *c = dcfg;

    if (!strcasecmp(arg, "On")) {
        c->engine = MEMGUARD_ENGINE_ON;
    }
    else if (!strcasecmp(arg, "Off")) {
        c->engine = MEMGUARD_ENGINE_OFF;
    }
    else if (!strcasecmp(arg, "DetectOnly")) {
        c->engine = MEMGUARD_ENGINE_DETECT;
    }
    else {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not one of On, Off, DetectOnly",
                            cmd->directive->directive, arg);
    }
    /* an engine anywhere starts the sampler (mod_memguard_sampler.c) */
    if (c->engine != MEMGUARD_ENGINE_OFF && ap_server_conf != NULL) {
        memguard_headroom(ap_server_conf)->engine_seen = 1;
    }
    return NULL;
}

static const char *set_max_body(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_dir_conf *c = dcfg;

    return memguard_parse_size(cmd, arg, &c->max_body);
}

static const char *set_max_response(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_dir_conf *c = dcfg;

    return memguard_parse_size(cmd, arg, &c->max_response);
}

static const char *set_reject_style(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_dir_conf *c = dcfg;

    if (!strcasecmp(arg, "fault")) {
        c->reject_style = MEMGUARD_STYLE_FAULT;
    }
    else if (!strcasecmp(arg, "http")) {
        c->reject_style = MEMGUARD_STYLE_HTTP;
    }
    else if (!strcasecmp(arg, "mixed")) {
        c->reject_style = MEMGUARD_STYLE_MIXED;
    }
    else {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not one of fault, http, mixed",
                            cmd->directive->directive, arg);
    }
    return NULL;
}

/* A faultCode is an XML-RPC <int>: 32 bits, signed. 0 is refused: it is
 * what "no code" looks like to many clients. */
static const char *set_retry_fault(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_dir_conf *c = dcfg;
    const char *digits = *arg == '-' ? arg + 1 : arg;
    char *end;
    apr_int64_t v;

    if (!strcasecmp(arg, "default")) {
        c->retry_fault_set = 0;
        c->retry_fault = 0;
        return NULL;
    }
    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (*digits < '0' || *digits > '9' || *end != '\0' || errno != 0 ||
        v == 0 || v < INT32_MIN || v > INT32_MAX) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a faultCode (a whole number "
                            "from -2147483648 to 2147483647 other than 0, "
                            "e.g. 1014, Koji's ServerOffline) nor 'default'",
                            cmd->directive->directive, arg);
    }
    c->retry_fault_set = 1;
    c->retry_fault = (int)v;
    return NULL;
}

static const char *set_retry_after(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_server_conf *c =
        ap_get_module_config(cmd->server->module_config, &memguard_module);
    char *end;
    long v;

    (void)dcfg;
    errno = 0;
    v = strtol(arg, &end, 10);
    if (*arg < '0' || *arg > '9' || *end != '\0' || errno || v > 86400) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a whole number of seconds "
                            "from 0 to 86400",
                            cmd->directive->directive, arg);
    }
    c->retry_after = (int)v;
    return NULL;
}

/* ---- headroom (the sampler's settings: main server only) --------------- */

static const char *headroom_cmd(cmd_parms *cmd, memguard_headroom_conf **hr)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err != NULL) {
        return err;
    }
    *hr = memguard_headroom(cmd->server);
    return NULL;
}

/* Are a and b in the same unit (both sizes or both percentages)? Then
 * a throttle threshold must be milder than the shed one. */
static int threshold_milder(const mg_threshold_t *thr,
                            const mg_threshold_t *shed, int is_min)
{
    uint64_t a, b;

    if (thr->is_percent != shed->is_percent) {
        return 1; /* not comparable before MemTotal is known */
    }
    a = thr->is_percent ? thr->bp : thr->bytes;
    b = shed->is_percent ? shed->bp : shed->bytes;
    return is_min ? a > b : a < b;
}

/* "[THROTTLE] SHED": one value sheds; two throttle, then shed. */
static const char *set_pair(cmd_parms *cmd, mg_policy_pair_t *pair,
                            const char *a1, const char *a2, int is_min)
{
    mg_threshold_t t1, t2;
    const char *err;

    if ((err = memguard_parse_threshold(cmd, a1, &t1)) != NULL) {
        return err;
    }
    if (a2 == NULL) {
        memset(pair, 0, sizeof(*pair));
        pair->shed.set = 1;
        pair->shed.t = t1;
        return NULL;
    }
    if ((err = memguard_parse_threshold(cmd, a2, &t2)) != NULL) {
        return err;
    }
    if (!threshold_milder(&t1, &t2, is_min)) {
        return apr_psprintf(cmd->pool,
                            "%s: the throttle threshold '%s' must be %s "
                            "than the shed threshold '%s'",
                            cmd->directive->directive, a1,
                            is_min ? "larger" : "smaller", a2);
    }
    pair->throttle.set = 1;
    pair->throttle.t = t1;
    pair->shed.set = 1;
    pair->shed.t = t2;
    return NULL;
}

/* Which [THROTTLE] SHED pair of the policy a directive sets (cmd->info). */
typedef struct {
    apr_size_t offset; /* of the mg_policy_pair_t in mg_policy_conf_t */
    int is_min;        /* 1: a minimum (headroom), 0: a maximum (slab) */
} memguard_pair_field;

static const memguard_pair_field pair_min_available = {
    APR_OFFSETOF(mg_policy_conf_t, min_available), 1};
static const memguard_pair_field pair_min_node_available = {
    APR_OFFSETOF(mg_policy_conf_t, min_node_available), 1};
static const memguard_pair_field pair_max_slab = {
    APR_OFFSETOF(mg_policy_conf_t, max_slab), 0};
static const memguard_pair_field pair_max_sunreclaim = {
    APR_OFFSETOF(mg_policy_conf_t, max_sunreclaim), 0};

/* MemGuardMinAvailable, MemGuardMinNodeAvailable, MemGuardMaxSlab,
 * MemGuardMaxUnreclaimableSlab: [THROTTLE] SHED */
static const char *set_threshold_pair(cmd_parms *cmd, void *dcfg,
                                      const char *a1, const char *a2)
{
    const memguard_pair_field *f = cmd->info;
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);

    (void)dcfg;
    if (err == NULL) {
        err =
            set_pair(cmd, (mg_policy_pair_t *)((char *)&hr->policy + f->offset),
                     a1, a2, f->is_min);
    }
    if (err == NULL) {
        hr->configured = 1;
    }
    return err;
}

/* MemGuardSlabCache NAME [THROTTLE] SHED */
static const char *set_slab_cache(cmd_parms *cmd, void *dcfg, const char *name,
                                  const char *a1, const char *a2)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    size_t len, i;

    (void)dcfg;
    if (err != NULL) {
        return err;
    }
    len = strlen(name);
    if (len == 0 || len >= MG_SAMPLE_NAME_LEN) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a slab cache name (1 to %d "
                            "characters)",
                            cmd->directive->directive, name,
                            MG_SAMPLE_NAME_LEN - 1);
    }
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x21 || ch > 0x7e) {
            return apr_psprintf(cmd->pool,
                                "%s: '%s' is not a slab cache name "
                                "(printable characters, no spaces)",
                                cmd->directive->directive, name);
        }
    }
    for (i = 0; i < hr->ncaches; i++) {
        if (!strcmp(hr->caches[i], name)) {
            return apr_psprintf(cmd->pool, "%s: cache '%s' is named twice",
                                cmd->directive->directive, name);
        }
    }
    if (hr->ncaches >= MG_SAMPLE_MAX_CACHES) {
        return apr_psprintf(
            cmd->pool, "%s: '%s': at most %d caches can be watched",
            cmd->directive->directive, name, MG_SAMPLE_MAX_CACHES);
    }
    /* TAKE23: with two arguments after NAME the first throttles */
    err = set_pair(cmd, &hr->policy.max_cache[hr->ncaches], a1, a2, 0);
    if (err != NULL) {
        return err;
    }
    memcpy(hr->caches[hr->ncaches], name, len + 1);
    hr->ncaches++;
    hr->policy.ncaches = hr->ncaches;
    hr->configured = 1;
    return NULL;
}

/* MemGuardMaxPressure some|full PCT */
static const char *set_max_pressure(cmd_parms *cmd, void *dcfg,
                                    const char *kind, const char *pct)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    apr_int64_t bp = 0;

    (void)dcfg;
    if (err != NULL) {
        return err;
    }
    if (strcasecmp(kind, "some") && strcasecmp(kind, "full")) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not one of some (throttle), full "
                            "(shed)",
                            cmd->directive->directive, kind);
    }
    if ((err = memguard_parse_percent(cmd, pct, &bp)) != NULL) {
        return err;
    }
    /* PSI averages are kept in 1/100 %, the same unit as basis points */
    if (!strcasecmp(kind, "some")) {
        hr->policy.psi_some_set = 1;
        hr->policy.psi_some_max = (uint32_t)bp;
    }
    else {
        hr->policy.psi_full_set = 1;
        hr->policy.psi_full_max = (uint32_t)bp;
    }
    hr->configured = 1;
    return NULL;
}

static const char *set_sample_interval(cmd_parms *cmd, void *dcfg,
                                       const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    apr_int64_t us;

    (void)dcfg;
    if (err != NULL || (err = memguard_parse_duration(cmd, arg, &us))) {
        return err;
    }
    if (us < MEMGUARD_MIN_INTERVAL_US || us > apr_time_from_sec(60)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is out of range (10ms to 60s)",
                            cmd->directive->directive, arg);
    }
    hr->interval_us = us;
    return NULL;
}

static const char *set_proc_root(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    const char *path;
    apr_finfo_t fi;

    (void)dcfg;
    if (err != NULL) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (path == NULL || strlen(path) > 256 ||
        apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool) != APR_SUCCESS ||
        fi.filetype != APR_DIR) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an existing directory",
                            cmd->directive->directive, arg);
    }
    hr->proc_root = path;
    return NULL;
}

static const char *set_cgroup(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);

    (void)dcfg;
    if (err != NULL) {
        return err;
    }
    if (!strcasecmp(arg, "auto")) {
        hr->cgroup = MEMGUARD_CGROUP_AUTO;
    }
    else if (!strcasecmp(arg, "off")) {
        hr->cgroup = MEMGUARD_CGROUP_OFF;
    }
    else if (arg[0] == '/' && strlen(arg) < 256 && !strstr(arg, "/../")) {
        hr->cgroup = MEMGUARD_CGROUP_PATH;
        hr->cgroup_path = arg;
    }
    else {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not auto, off or an absolute "
                            "cgroup directory (under MemGuardProcRoot)",
                            cmd->directive->directive, arg);
    }
    return NULL;
}

static const char *set_numa(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);

    (void)dcfg;
    if (err != NULL) {
        return err;
    }
    if (!strcasecmp(arg, "auto")) {
        hr->numa = 1;
    }
    else if (!strcasecmp(arg, "off")) {
        hr->numa = 0;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not one of auto, off",
                            cmd->directive->directive, arg);
    }
    return NULL;
}

static const char *set_sustain(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    apr_int64_t us;

    (void)dcfg;
    if (err != NULL || (err = memguard_parse_duration(cmd, arg, &us))) {
        return err;
    }
    if (us > apr_time_from_sec(3600)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is longer than 1h",
                            cmd->directive->directive, arg);
    }
    hr->sustain_us = us;
    return NULL;
}

/* One horizon of MemGuardFillHorizon: a duration from 100ms to 10min, or
 * "off" (0). */
static const char *fill_horizon(cmd_parms *cmd, const char *arg,
                                apr_int64_t *out)
{
    const char *err;

    if (!strcasecmp(arg, "off")) {
        *out = 0;
        return NULL;
    }
    if ((err = memguard_parse_duration(cmd, arg, out)) != NULL) {
        return err;
    }
    if (*out < apr_time_from_msec(100) || *out > apr_time_from_sec(600)) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is out of range (100ms to 10min, or "
                            "off)",
                            cmd->directive->directive, arg);
    }
    return NULL;
}

/* MemGuardFillHorizon THROTTLE [SHED]: "off" switches either off; a shed
 * horizon must be shorter than the throttle one (closer means worse). */
static const char *set_fill_horizon(cmd_parms *cmd, void *dcfg, const char *thr,
                                    const char *shed)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    apr_int64_t t, sh = 0;

    (void)dcfg;
    if (err != NULL || (err = fill_horizon(cmd, thr, &t)) != NULL ||
        (shed != NULL && (err = fill_horizon(cmd, shed, &sh)) != NULL)) {
        return err;
    }
    if (t > 0 && sh >= t) {
        return apr_psprintf(cmd->pool,
                            "%s: the shed horizon '%s' must be shorter than "
                            "the throttle horizon '%s'",
                            cmd->directive->directive, shed, thr);
    }
    hr->fill_throttle_us = t;
    hr->fill_shed_us = sh;
    return NULL;
}

static const char *set_hysteresis(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    apr_int64_t bp = 0;

    (void)dcfg;
    if (err != NULL || (err = memguard_parse_percent(cmd, arg, &bp))) {
        return err;
    }
    hr->hysteresis_bp = bp;
    return NULL;
}

static const char *set_fail_mode(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);

    (void)dcfg;
    if (err != NULL) {
        return err;
    }
    if (!strcasecmp(arg, "open")) {
        hr->fail_mode = MG_FAIL_OPEN;
    }
    else if (!strcasecmp(arg, "closed")) {
        hr->fail_mode = MG_FAIL_CLOSED;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not one of open, closed",
                            cmd->directive->directive, arg);
    }
    return NULL;
}

static const char *set_shed_exempt(cmd_parms *cmd, void *dcfg, int on)
{
    memguard_dir_conf *c = dcfg;

    (void)cmd;
    c->shed_exempt = on ? 1 : 0;
    return NULL;
}

static const char *set_throttle_max_body(cmd_parms *cmd, void *dcfg,
                                         const char *arg)
{
    memguard_dir_conf *c = dcfg;

    return memguard_parse_size(cmd, arg, &c->throttle_max_body);
}

/* ---- admission by memory cost -------------------------------------- */

static const char *set_admission(cmd_parms *cmd, void *dcfg, int on)
{
    memguard_dir_conf *c = dcfg;

    (void)cmd;
    c->admission = on ? 1 : 0;
    return NULL;
}

/* MemGuardAdmitDefault / MemGuardAdmitTiny: a size, at most 1T; the
 * default cost must be more than 0. */
static const char *set_admit_size(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    int is_default = cmd->info == NULL;
    apr_int64_t v;

    (void)dcfg;
    if (err != NULL || (err = memguard_parse_size(cmd, arg, &v)) != NULL) {
        return err;
    }
    if ((is_default && v <= 0) || v > ((apr_int64_t)1 << 40)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is out of range (%s to 1T)",
                            cmd->directive->directive, arg,
                            is_default ? "1" : "0");
    }
    *(is_default ? &hr->admit_default : &hr->admit_tiny) = v;
    return NULL;
}

static const char *set_admit_slow(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    char *end;
    apr_int64_t n;

    (void)dcfg;
    if (err != NULL) {
        return err;
    }
    n = apr_strtoi64(arg, &end, 10);
    if (*arg < '0' || *arg > '9' || *end != '\0' || n < 1 || n > 1000) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a whole number of calls from "
                            "1 to 1000",
                            cmd->directive->directive, arg);
    }
    hr->admit_slow = n;
    return NULL;
}

static const char *set_admit_wait(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    apr_int64_t us;

    (void)dcfg;
    if (err != NULL || (err = memguard_parse_duration(cmd, arg, &us))) {
        return err;
    }
    if (us > apr_time_from_sec(300)) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is longer than 300s (a waiting call "
                            "holds a worker)",
                            cmd->directive->directive, arg);
    }
    hr->admit_wait_us = us;
    return NULL;
}

static const char *set_call_ceiling(cmd_parms *cmd, void *dcfg, int on)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);

    (void)dcfg;
    if (err != NULL) {
        return err;
    }
    hr->ceiling = on ? 1 : 0;
    return NULL;
}

/* ---- recycling: global only --------------------------------------- */

static memguard_recycle_conf *recycle_conf(cmd_parms *cmd, const char **err)
{
    memguard_server_conf *c =
        ap_get_module_config(cmd->server->module_config, &memguard_module);

    *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    return c ? &c->recycle : NULL;
}

static const char *set_child_limit(cmd_parms *cmd, void *dcfg, const char *arg)
{
    const char *err;
    memguard_recycle_conf *rc = recycle_conf(cmd, &err);

    (void)dcfg;
    if (err) {
        return err;
    }
    return memguard_parse_size(cmd, arg,
                               cmd->info ? &rc->hard_limit : &rc->soft_limit);
}

static const char *set_child_metric(cmd_parms *cmd, void *dcfg, const char *arg)
{
    const char *err;
    memguard_recycle_conf *rc = recycle_conf(cmd, &err);

    (void)dcfg;
    if (err) {
        return err;
    }
    if (!strcasecmp(arg, "rss")) {
        rc->metric = MEMGUARD_METRIC_RSS;
    }
    else if (!strcasecmp(arg, "unshared")) {
        rc->metric = MEMGUARD_METRIC_UNSHARED;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not one of rss, unshared",
                            cmd->directive->directive, arg);
    }
    return NULL;
}

static const char *set_recycle_jitter(cmd_parms *cmd, void *dcfg,
                                      const char *arg)
{
    const char *err;
    memguard_recycle_conf *rc = recycle_conf(cmd, &err);

    (void)dcfg;
    if (err) {
        return err;
    }
    return memguard_parse_percent(cmd, arg, &rc->jitter_bp);
}

static const char *set_max_recycles(cmd_parms *cmd, void *dcfg, const char *arg)
{
    const char *err;
    memguard_recycle_conf *rc = recycle_conf(cmd, &err);
    char *end;
    long v;

    (void)dcfg;
    if (err) {
        return err;
    }
    errno = 0;
    v = strtol(arg, &end, 10);
    if (*arg < '0' || *arg > '9' || *end != '\0' || errno || v > 100000) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a whole number from 0 (no cap) "
                            "to 100000",
                            cmd->directive->directive, arg);
    }
    rc->max_per_minute = (int)v;
    return NULL;
}

static const char *set_recycle_on_pressure(cmd_parms *cmd, void *dcfg, int flag)
{
    const char *err;
    memguard_recycle_conf *rc = recycle_conf(cmd, &err);

    (void)dcfg;
    if (err) {
        return err;
    }
    rc->on_pressure = flag ? 1 : 0;
    return NULL;
}

static const char *set_watch_daemons(cmd_parms *cmd, void *dcfg,
                                     const char *arg)
{
    const char *err;
    memguard_recycle_conf *rc = recycle_conf(cmd, &err);

    (void)dcfg;
    if (err) {
        return err;
    }
    if (*arg == '\0' || strlen(arg) > 255) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a pattern of 1 to 255 bytes "
                            "(e.g. \"(wsgi:*\")",
                            cmd->directive->directive, arg);
    }
    rc->watch = arg;
    return NULL;
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

const command_rec memguard_cmds[] = {
    AP_INIT_TAKE1("MemGuardEngine", set_engine, NULL, RSRC_CONF | ACCESS_CONF,
                  "On | Off | DetectOnly (log and count, never refuse); "
                  "default Off"),
    AP_INIT_TAKE1("MemGuardMaxRequestBody", set_max_body, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "largest request body accepted, e.g. 16M; 0 = no limit "
                  "(default)"),
    AP_INIT_TAKE1("MemGuardMaxResponse", set_max_response, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "largest response body the application may send, e.g. "
                  "64M; 0 = no cap (default)"),
    AP_INIT_TAKE1("MemGuardRejectStyle", set_reject_style, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "fault (XML-RPC calls get a <fault>, default) | http "
                  "(always an HTTP status) | mixed (retryable refusals "
                  "an HTTP status, the others a <fault>)"),
    AP_INIT_TAKE1("MemGuardRetryFault", set_retry_fault, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "faultCode of retryable refusals (shed, throttle, "
                  "method-busy, budget), e.g. 1014 for Koji's "
                  "ServerOffline; default: each reason's own"),
    AP_INIT_TAKE1("MemGuardRetryAfter", set_retry_after, NULL, RSRC_CONF,
                  "seconds to put in Retry-After on retryable refusals "
                  "(default 5)"),
    /* headroom: the sampler (main server only) */
    AP_INIT_TAKE1("MemGuardSampleInterval", set_sample_interval, NULL,
                  RSRC_CONF,
                  "time between samples of the machine's memory, 10ms to "
                  "60s (default 100ms)"),
    AP_INIT_TAKE1("MemGuardProcRoot", set_proc_root, NULL, RSRC_CONF,
                  "directory holding proc/ and sys/ (default /; a fixture "
                  "tree in tests)"),
    AP_INIT_TAKE12("MemGuardMinAvailable", set_threshold_pair,
                   (void *)&pair_min_available, RSRC_CONF,
                   "[THROTTLE] SHED: MemAvailable (and the cgroup's "
                   "headroom) below which to throttle / shed; size or % "
                   "of MemTotal (of the cgroup limit)"),
    AP_INIT_TAKE12("MemGuardMaxSlab", set_threshold_pair,
                   (void *)&pair_max_slab, RSRC_CONF,
                   "[THROTTLE] SHED: kernel slab above which to throttle / "
                   "shed; size or % of MemTotal"),
    AP_INIT_TAKE12("MemGuardMaxUnreclaimableSlab", set_threshold_pair,
                   (void *)&pair_max_sunreclaim, RSRC_CONF,
                   "[THROTTLE] SHED: SUnreclaim above which to throttle / "
                   "shed; size or % of MemTotal"),
    AP_INIT_TAKE23("MemGuardSlabCache", set_slab_cache, NULL, RSRC_CONF,
                   "NAME [THROTTLE] SHED: a /proc/slabinfo cache and its "
                   "limit(s); size or % of MemTotal; up to 16"),
    AP_INIT_TAKE2("MemGuardMaxPressure", set_max_pressure, NULL, RSRC_CONF,
                  "some|full PCT: memory PSI avg10 above which to throttle "
                  "(some) or shed (full)"),
    AP_INIT_TAKE1("MemGuardCgroup", set_cgroup, NULL, RSRC_CONF,
                  "auto (the server's memory cgroup, default) | off | "
                  "PATH of a cgroup directory"),
    AP_INIT_TAKE1("MemGuardNuma", set_numa, NULL, RSRC_CONF,
                  "auto (watch the NUMA nodes the server may use, default) "
                  "| off"),
    AP_INIT_TAKE12("MemGuardMinNodeAvailable", set_threshold_pair,
                   (void *)&pair_min_node_available, RSRC_CONF,
                   "[THROTTLE] SHED: available memory of an allowed NUMA "
                   "node below which to throttle / shed; size or % of the "
                   "node"),
    AP_INIT_TAKE1("MemGuardSustain", set_sustain, NULL, RSRC_CONF,
                  "how long a signal must stay past its threshold before "
                  "the state changes (default 0: at once)"),
    AP_INIT_TAKE12("MemGuardFillHorizon", set_fill_horizon, NULL, RSRC_CONF,
                   "throttle (and shed) when a byte signal would reach its "
                   "shed level within this time at its current rate: "
                   "THROTTLE [SHED] durations, or off"),
    AP_INIT_TAKE1("MemGuardHysteresis", set_hysteresis, NULL, RSRC_CONF,
                  "margin past a threshold before a state clears "
                  "(default 10%)"),
    AP_INIT_TAKE1("MemGuardFailMode", set_fail_mode, NULL, RSRC_CONF,
                  "open (default: no fresh sample lets everything through) "
                  "| closed (no fresh sample sheds)"),
    AP_INIT_FLAG("MemGuardShedExempt", set_shed_exempt, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "On: answer here even while shedding or throttling "
                 "(status, health checks); default Off"),
    AP_INIT_FLAG("MemGuardAdmission", set_admission, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "admit XML-RPC calls by their expected memory cost: On "
                 "(default) or Off"),
    AP_INIT_TAKE1("MemGuardAdmitDefault", set_admit_size, NULL, RSRC_CONF,
                  "expected cost of a method not measured yet (default 32M)"),
    AP_INIT_TAKE1("MemGuardAdmitTiny", set_admit_size, (void *)1, RSRC_CONF,
                  "calls expected to cost at most this never wait (default "
                  "1M)"),
    AP_INIT_TAKE1("MemGuardAdmitSlowStart", set_admit_slow, NULL, RSRC_CONF,
                  "calls of a method not measured yet at once, until that "
                  "many are measured (default 2)"),
    AP_INIT_TAKE1("MemGuardAdmitWait", set_admit_wait, NULL, RSRC_CONF,
                  "how long a call waits for room in the memory budget "
                  "(default 10s; 0: refuse at once)"),
    AP_INIT_FLAG("MemGuardCallCeiling", set_call_ceiling, NULL, RSRC_CONF,
                 "prefork: lower RLIMIT_DATA for the length of a call to "
                 "what it may take (default On)"),
    AP_INIT_TAKE1("MemGuardThrottleMaxBody", set_throttle_max_body, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "while throttling, refuse request bodies larger than this "
                  "(default 1M; 0 = no limit)"),
    /* mod_memguard_xmlrpc.c, mod_memguard_rules.c */
    AP_INIT_FLAG("MemGuardXmlRpc", memguard_set_xmlrpc, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "On: inspect XML-RPC calls (POST) before the handler runs; "
                 "default Off"),
    AP_INIT_ITERATE("MemGuardXmlLimits", memguard_set_xml_limits, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "key=value ...: depth, elements, params, items, members, "
                    "string, name, multicall, multicall-depth, token"),
    AP_INIT_TAKE_ARGV("MemGuardMethod", memguard_set_method, NULL,
                      RSRC_CONF | ACCESS_CONF,
                      "PATTERN action...: allow | deny | max-body=SIZE | "
                      "max-response=SIZE | concurrency=N | "
                      "queue-timeout=DURATION | expensive | nice=N | "
                      "essential"),
    AP_INIT_TAKE_ARGV("MemGuardMulticall", memguard_set_multicall, NULL,
                      RSRC_CONF | ACCESS_CONF,
                      "NAME...: the methods that are multicalls, whose "
                      "calls meet the rules too (default: system.multicall "
                      "multiCall)"),
    AP_INIT_TAKE1("MemGuardSpoolMemory", memguard_set_spool_memory, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "bytes of an inspected body kept in memory before it "
                  "goes to a file (default 256K)"),
    AP_INIT_TAKE1("MemGuardSpoolDir", memguard_set_spool_dir, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "directory for spooled bodies (default: the system's "
                  "temporary directory)"),
    AP_INIT_TAKE1("MemGuardChildSoftLimit", set_child_limit, NULL, RSRC_CONF,
                  "recycle a child once it is over this size, gracefully "
                  "(its response says Connection: close), e.g. 512M; "
                  "0 = none (default); global only"),
    AP_INIT_TAKE1("MemGuardChildHardLimit", set_child_limit, (void *)1,
                  RSRC_CONF,
                  "recycle a child right after the request that took it "
                  "over this size, even on a keep-alive connection and "
                  "over the per-minute cap; 0 = none (default); global "
                  "only"),
    AP_INIT_TAKE1("MemGuardChildMetric", set_child_metric, NULL, RSRC_CONF,
                  "rss | unshared (default): what the child limits are "
                  "compared with; global only"),
    AP_INIT_TAKE1("MemGuardRecycleJitter", set_recycle_jitter, NULL, RSRC_CONF,
                  "move each child's limits by up to +- this percentage, "
                  "fixed per pid (default 10%); global only"),
    AP_INIT_TAKE1("MemGuardMaxRecyclesPerMinute", set_max_recycles, NULL,
                  RSRC_CONF,
                  "at most this many recycles per minute server-wide "
                  "(default 10; 0 = no cap); global only"),
    AP_INIT_FLAG("MemGuardRecycleOnPressure", set_recycle_on_pressure, NULL,
                 RSRC_CONF,
                 "On: while memory is short (throttle or shed), recycle "
                 "the largest children first (default Off); global only"),
    AP_INIT_TAKE1("MemGuardWatchDaemons", set_watch_daemons, NULL, RSRC_CONF,
                  "fnmatch pattern for the command line of the server's "
                  "daemon processes to hold to the child limits, e.g. "
                  "\"(wsgi:*\" for mod_wsgi daemons; global only"),
    {NULL}};
