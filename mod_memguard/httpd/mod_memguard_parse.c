/*
 * mod_memguard_parse.c - value parsers for directive handlers, through the
 * core's strict parsers (mg_units). Each returns NULL or the error text for
 * httpd to print, naming the directive and quoting the value as given.
 */
#include <errno.h>

#include "mod_memguard_parse.h"

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

const char *memguard_parse_keyword(cmd_parms *cmd, const char *arg,
                                   const memguard_keyword *keys, int *out)
{
    const char *names = NULL;
    const memguard_keyword *k;

    for (k = keys; k->name != NULL; k++) {
        if (!strcasecmp(arg, k->name)) {
            *out = k->value;
            return NULL;
        }
        names = names ? apr_pstrcat(cmd->pool, names, ", ", k->name, NULL)
                      : k->name;
    }
    return apr_psprintf(cmd->pool, "%s: '%s' is not one of %s",
                        cmd->directive->directive, arg, names);
}
