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

#include "http_main.h"

#include "mod_memguard.h"

#define MERGE(field) (add->field != MEMGUARD_UNSET ? add->field : base->field)

void *memguard_create_server_conf(apr_pool_t *p, server_rec *s)
{
    memguard_server_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->engine = MEMGUARD_UNSET;
    c->retry_after = MEMGUARD_UNSET;
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
    return c;
}

static const memguard_dir_conf *dconf(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &memguard_module);
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
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is not one of fault, http",
                            cmd->directive->directive, arg);
    }
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

/* ---- recycling: global only --------------------------------------- */

static memguard_recycle_conf *recycle_conf(cmd_parms *cmd, const char **err)
{
    memguard_server_conf *c =
        ap_get_module_config(cmd->server->module_config, &memguard_module);

    *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    return c ? &c->recycle : NULL;
}

static const char *set_child_limit(cmd_parms *cmd, void *dcfg,
                                   const char *arg)
{
    const char *err;
    memguard_recycle_conf *rc = recycle_conf(cmd, &err);

    (void)dcfg;
    if (err) {
        return err;
    }
    return memguard_parse_size(
        cmd, arg, cmd->info ? &rc->hard_limit : &rc->soft_limit);
}

static const char *set_child_metric(cmd_parms *cmd, void *dcfg,
                                    const char *arg)
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

static const char *set_max_recycles(cmd_parms *cmd, void *dcfg,
                                    const char *arg)
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

static const char *set_recycle_on_pressure(cmd_parms *cmd, void *dcfg,
                                           int flag)
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
    out->metric = rc->metric == MEMGUARD_UNSET ? MEMGUARD_DEFAULT_METRIC
                                               : rc->metric;
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
                  "(always an HTTP status)"),
    AP_INIT_TAKE1("MemGuardRetryAfter", set_retry_after, NULL, RSRC_CONF,
                  "seconds to put in Retry-After on retryable refusals "
                  "(default 5)"),
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
    AP_INIT_TAKE1("MemGuardRecycleJitter", set_recycle_jitter, NULL,
                  RSRC_CONF,
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
