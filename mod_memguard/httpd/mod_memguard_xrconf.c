/*
 * mod_memguard_xrconf.c - the XML-RPC part of the per-directory
 * configuration (memguard_dir_conf.xr): MemGuardXmlRpc, MemGuardXmlLimits,
 * MemGuardMulticall, MemGuardSpoolMemory, MemGuardSpoolDir, the rules list
 * MemGuardMethod fills (mod_memguard_rules.c), and their merging.
 *
 * Below the features that read it: the inspection (mod_memguard_xmlrpc.c),
 * the rules, and the gate, which asks whether a request may be essential
 * before the inspection has run.
 */
#include "apr_file_info.h"
#include "apr_lib.h"
#include "http_core.h"
#include "http_protocol.h"

#include "mod_memguard_config.h"
#include "mod_memguard_parse.h"
#include "mod_memguard_xrconf.h"

static const struct {
    const char *key;
    int is_size; /* bytes (512K, 16M); else a plain count */
} xl_keys[MEMGUARD_XL__COUNT] = {
    [MEMGUARD_XL_DEPTH] = {"depth", 0},
    [MEMGUARD_XL_ELEMENTS] = {"elements", 0},
    [MEMGUARD_XL_PARAMS] = {"params", 0},
    [MEMGUARD_XL_ITEMS] = {"items", 0},
    [MEMGUARD_XL_MEMBERS] = {"members", 0},
    [MEMGUARD_XL_STRING] = {"string", 1},
    [MEMGUARD_XL_NAME] = {"name", 1},
    [MEMGUARD_XL_MULTICALL] = {"multicall", 0},
    [MEMGUARD_XL_MULTICALL_DEPTH] = {"multicall-depth", 0},
    [MEMGUARD_XL_TOKEN] = {"token", 1},
};

static void xl_apply(mg_xmlrpc_limits_t *l, int key, uint64_t v)
{
    switch (key) {
    case MEMGUARD_XL_DEPTH:
        l->depth = (uint32_t)v;
        break;
    case MEMGUARD_XL_ELEMENTS:
        l->elements = (uint32_t)v;
        break;
    case MEMGUARD_XL_PARAMS:
        l->params = (uint32_t)v;
        break;
    case MEMGUARD_XL_ITEMS:
        l->items = (uint32_t)v;
        break;
    case MEMGUARD_XL_MEMBERS:
        l->members = (uint32_t)v;
        break;
    case MEMGUARD_XL_STRING:
        l->string = v;
        break;
    case MEMGUARD_XL_NAME:
        l->name = (uint32_t)v;
        break;
    case MEMGUARD_XL_MULTICALL:
        l->multicall = (uint32_t)v;
        break;
    case MEMGUARD_XL_MULTICALL_DEPTH:
        l->multicall_depth = (uint32_t)v;
        break;
    case MEMGUARD_XL_TOKEN:
        l->token = (uint32_t)v;
        break;
    }
}

struct memguard_xr_conf *memguard_xr_get(apr_pool_t *p, memguard_dir_conf *c)
{
    if (c->xr == NULL) {
        c->xr = apr_pcalloc(p, sizeof(*c->xr));
        c->xr->xmlrpc = MEMGUARD_UNSET;
        c->xr->spool_memory = MEMGUARD_UNSET;
    }
    return c->xr;
}

const char *memguard_set_xmlrpc(cmd_parms *cmd, void *dcfg, int on)
{
    memguard_xr_get(cmd->pool, dcfg)->xmlrpc = on ? 1 : 0;
    return NULL;
}

const char *memguard_set_xml_limits(cmd_parms *cmd, void *dcfg, const char *arg)
{
    struct memguard_xr_conf *xr = memguard_xr_get(cmd->pool, dcfg);
    const char *dir = cmd->directive->directive;
    const char *eq = strchr(arg, '=');
    const char *v, *field = NULL, *err;
    mg_xmlrpc_limits_t l;
    uint64_t val;
    int k;

    if (eq == NULL || eq == arg || eq[1] == '\0') {
        return apr_psprintf(cmd->pool, "%s: '%s' is not key=value", dir, arg);
    }
    v = eq + 1;
    for (k = 0; k < MEMGUARD_XL__COUNT; k++) {
        if (strlen(xl_keys[k].key) == (size_t)(eq - arg) &&
            !strncmp(arg, xl_keys[k].key, (size_t)(eq - arg))) {
            break;
        }
    }
    if (k == MEMGUARD_XL__COUNT) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s': unknown key (depth, elements, params, "
                            "items, members, string, name, multicall, "
                            "multicall-depth, token)",
                            dir, arg);
    }
    if (xl_keys[k].is_size) {
        apr_int64_t sz;
        if ((err = memguard_parse_size(cmd, v, &sz)) != NULL) {
            return apr_psprintf(cmd->pool, "%s (in '%s')", err, arg);
        }
        val = (uint64_t)sz;
    }
    else {
        char *end;
        apr_int64_t n;

        errno = 0;
        n = apr_strtoi64(v, &end, 10);
        if (*v < '0' || *v > '9' || *end != '\0' || n < 0 || errno == ERANGE) {
            return apr_psprintf(
                cmd->pool, "%s: '%s': '%s' is not a whole number", dir, arg, v);
        }
        val = (uint64_t)n;
    }
    if (k != MEMGUARD_XL_STRING && val > UINT32_MAX) {
        return apr_psprintf(cmd->pool, "%s: '%s' is too large", dir, arg);
    }
    /* The core knows which values it can work with (zero limits, depth
     * under 4 or over libxml2's own cap...). */
    mg_xmlrpc_limits_default(&l);
    xl_apply(&l, k, val);
    if (mg_xmlrpc_limits_check(&l, &field) != 0) {
        if (k == MEMGUARD_XL_DEPTH) {
            return apr_psprintf(cmd->pool,
                                "%s: '%s': depth must be from 4 "
                                "to %d",
                                dir, arg, MG_XMLRPC_DEPTH_CAP);
        }
        if (k == MEMGUARD_XL_MULTICALL_DEPTH) {
            return apr_psprintf(cmd->pool,
                                "%s: '%s': multicall-depth must be from 1 "
                                "to %d",
                                dir, arg, MG_XMLRPC_MULTICALL_DEPTH_CAP);
        }
        if (k == MEMGUARD_XL_NAME && val > 0) {
            return apr_psprintf(cmd->pool,
                                "%s: '%s': name must be at most "
                                "%d bytes",
                                dir, arg, MG_XMLRPC_NAME_CAP);
        }
        return apr_psprintf(cmd->pool, "%s: '%s': %s must be more than 0", dir,
                            arg, field ? field : xl_keys[k].key);
    }
    xr->limits[k] = val;
    xr->limits_set |= 1u << k;
    return NULL;
}

/* Longest MemGuardMulticall name: MemGuardXmlLimits name's default. */
#define MEMGUARD_MULTICALL_NAME_MAX 256

/* An XML-RPC method name: "identifier characters, upper and lower-case
 * A-Z, the numeric characters, 0-9, underscore, dot, colon and slash"
 * (the XML-RPC specification). */
static int multicall_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > MEMGUARD_MULTICALL_NAME_MAX) {
        return 0;
    }
    for (; *s; s++) {
        if (!apr_isalnum(*s) && !strchr("_.:/", *s)) {
            return 0;
        }
    }
    return 1;
}

const char *memguard_set_multicall(cmd_parms *cmd, void *dcfg, int argc,
                                   char *const argv[])
{
    const char *dir = cmd->directive->directive;
    apr_array_header_t *names;
    int i, j;

    if (argc == 0) {
        return apr_psprintf(cmd->pool,
                            "%s: needs at least one method name (the "
                            "default is: system.multicall multiCall)",
                            dir);
    }
    if (argc > MG_XMLRPC_MULTICALL_NAMES_MAX) {
        return apr_psprintf(cmd->pool, "%s: %d names: at most %d", dir, argc,
                            MG_XMLRPC_MULTICALL_NAMES_MAX);
    }
    names = apr_array_make(cmd->pool, argc, sizeof(const char *));
    for (i = 0; i < argc; i++) {
        if (!multicall_name_ok(argv[i])) {
            return apr_psprintf(cmd->pool,
                                "%s: '%s' is not a method name (letters, "
                                "digits, '_', '.', ':' and '/', at most %d "
                                "bytes)",
                                dir, argv[i], MEMGUARD_MULTICALL_NAME_MAX);
        }
        for (j = 0; j < i; j++) {
            if (!strcmp(argv[i], argv[j])) {
                return apr_psprintf(cmd->pool, "%s: '%s' is given twice", dir,
                                    argv[i]);
            }
        }
        APR_ARRAY_PUSH(names, const char *) = argv[i];
    }
    memguard_xr_get(cmd->pool, dcfg)->multicall = names;
    return NULL;
}

const char *memguard_set_spool_memory(cmd_parms *cmd, void *dcfg,
                                      const char *arg)
{
    return memguard_parse_size(cmd, arg,
                               &memguard_xr_get(cmd->pool, dcfg)->spool_memory);
}

const char *memguard_set_spool_dir(cmd_parms *cmd, void *dcfg, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t fi;
    apr_status_t rv;

    if (path == NULL) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid path",
                            cmd->directive->directive, arg);
    }
    rv = apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool);
    if (rv != APR_SUCCESS || fi.filetype != APR_DIR) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a directory",
                            cmd->directive->directive, arg);
    }
    memguard_xr_get(cmd->pool, dcfg)->spool_dir = path;
    return NULL;
}

const struct memguard_xr_conf *memguard_xr_for(const request_rec *r)
{
    const memguard_dir_conf *c =
        ap_get_module_config(r->per_dir_config, &memguard_module);

    return c->xr;
}

int memguard_xmlrpc_may_be_essential(const request_rec *r)
{
    const struct memguard_xr_conf *xr = memguard_xr_for(r);
    int i;

    if (r->method_number != M_POST || xr == NULL || xr->xmlrpc != 1 ||
        xr->rules == NULL) {
        return 0;
    }
    for (i = 0; i < xr->rules->nelts; i++) {
        if (APR_ARRAY_IDX(xr->rules, i, const memguard_rule *)->essential) {
            return 1;
        }
    }
    return 0;
}

int memguard_xmlrpc_admitted_by_cost(const request_rec *r)
{
    const struct memguard_xr_conf *xr = memguard_xr_for(r);

    return r->method_number == M_POST && xr != NULL && xr->xmlrpc == 1 &&
           memguard_admission(r);
}

void memguard_xr_limits(const struct memguard_xr_conf *xr,
                        mg_xmlrpc_limits_t *lim)
{
    int k;

    mg_xmlrpc_limits_default(lim);
    for (k = 0; k < MEMGUARD_XL__COUNT; k++) {
        if (xr->limits_set & (1u << k)) {
            xl_apply(lim, k, xr->limits[k]);
        }
    }
}
