/*
 * mod_memguard_xrconf.h - the XML-RPC part of the per-directory
 * configuration (mod_memguard_xrconf.c): MemGuardXmlRpc, MemGuardXmlLimits,
 * MemGuardMulticall, MemGuardSpool*, and the MemGuardMethod rules list.
 */
#ifndef MOD_MEMGUARD_XRCONF_H
#define MOD_MEMGUARD_XRCONF_H

#include "mod_memguard_config.h"

#include "mg_xmlrpc.h"

/* One MemGuardMethod line. */
typedef struct {
    const char *pattern;      /* exact name or fnmatch(3) glob */
    int is_glob;              /* pattern has * ? or [ */
    int deny;                 /* 1: deny; else allow (the default) */
    apr_int64_t max_body;     /* bytes; 0 = none */
    apr_int64_t max_response; /* bytes; 0 = none */
    uint32_t concurrency;     /* calls at once server-wide; 0 = no limit */
    apr_int64_t queue_us;     /* queue-timeout, microseconds; 0 = no wait */
    int expensive;            /* refused by the gate under throttle */
    int nice;                 /* nice=: run 1..19 lower; 0 = unchanged */
    int essential;            /* admitted whatever the verdict */
    apr_int64_t memory;       /* memory=: expected cost, bytes; 0 = learn */
    const char *text;         /* "MemGuardMethod slowCall concurrency=1",
                               * for log lines and faultStrings */
} memguard_rule;

/* c's xr part, made empty (all UNSET) if absent. */
struct memguard_xr_conf *memguard_xr_get(apr_pool_t *p, memguard_dir_conf *c);

/* r's xr part (merged), or NULL when no section sets any of it. */
const struct memguard_xr_conf *memguard_xr_for(const request_rec *r);

/* The inspector's limits for xr: the defaults, with MemGuardXmlLimits'
 * keys applied. */
void memguard_xr_limits(const struct memguard_xr_conf *xr,
                        mg_xmlrpc_limits_t *lim);

/* Can r be an essential call (a POST to be inspected where some
 * MemGuardMethod rule is essential)? Then only its inspection can tell,
 * and the verdict gate waits for it (memguard_gate_method()). */
int memguard_xmlrpc_may_be_essential(const request_rec *r);

/* Is r an XML-RPC call that admission by memory cost will weigh (POST
 * to a location with MemGuardXmlRpc On and MemGuardAdmission on)? */
int memguard_xmlrpc_admitted_by_cost(const request_rec *r);

/* Directive handlers (the table is in mod_memguard_directives.c). */
const char *memguard_set_xmlrpc(cmd_parms *cmd, void *dcfg, int on);
const char *memguard_set_xml_limits(cmd_parms *cmd, void *dcfg,
                                    const char *arg);
const char *memguard_set_multicall(cmd_parms *cmd, void *dcfg, int argc,
                                   char *const argv[]);
const char *memguard_set_spool_memory(cmd_parms *cmd, void *dcfg,
                                      const char *arg);
const char *memguard_set_spool_dir(cmd_parms *cmd, void *dcfg, const char *arg);

#endif /* MOD_MEMGUARD_XRCONF_H */
