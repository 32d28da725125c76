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

#include "mod_memguard.h"

#define MERGE(field) (add->field != MEMGUARD_UNSET ? add->field : base->field)

void *memguard_create_server_conf(apr_pool_t *p, server_rec *s)
{
    memguard_server_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->engine = MEMGUARD_UNSET;
    c->retry_after = MEMGUARD_UNSET;
    return c;
}

void *memguard_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    memguard_server_conf *base = basev, *add = addv;
    memguard_server_conf *c = apr_pcalloc(p, sizeof(*c));

    c->engine = MERGE(engine);
    c->retry_after = MERGE(retry_after);
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
    c->xr = memguard_xr_merge(p, base->xr, add->xr);
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
    /* mod_memguard_xmlrpc.c, mod_memguard_rules.c */
    AP_INIT_FLAG("MemGuardXmlRpc", memguard_set_xmlrpc, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "On: inspect XML-RPC calls (POST) before the handler runs; "
                 "default Off"),
    AP_INIT_ITERATE("MemGuardXmlLimits", memguard_set_xml_limits, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "key=value ...: depth, elements, params, items, members, "
                    "string, name, multicall, token"),
    AP_INIT_TAKE_ARGV("MemGuardMethod", memguard_set_method, NULL,
                      RSRC_CONF | ACCESS_CONF,
                      "PATTERN action...: allow | deny | max-body=SIZE | "
                      "max-response=SIZE | concurrency=N | "
                      "queue-timeout=DURATION | expensive"),
    AP_INIT_TAKE1("MemGuardSpoolMemory", memguard_set_spool_memory, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "bytes of an inspected body kept in memory before it "
                  "goes to a file (default 256K)"),
    AP_INIT_TAKE1("MemGuardSpoolDir", memguard_set_spool_dir, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "directory for spooled bodies (default: the system's "
                  "temporary directory)"),
    {NULL}};
