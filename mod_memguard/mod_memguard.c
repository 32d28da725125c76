/*
 * mod_memguard.c - the module record and its hooks: a table of contents.
 *
 * Each feature lives in its own file and registers its own hooks from a
 * memguard_<feature>_register() function, where every registration says
 * why it uses that hook and that order. See README.md in this directory
 * for the terms, which file owns what, and the request and child
 * lifecycles.
 */
#define MEMGUARD_MODULE_FILE
#include "mod_memguard.h"

static void memguard_register_hooks(apr_pool_t *p)
{
    /* The board: shared memory made in post_config, slots reset from
     * child_status when a child exits. */
    memguard_board_register(p);
    /* Refusals and the guard that silences a handler after one. */
    memguard_reject_register(p);
    /* MemGuardMaxRequestBody: header_parser + MEMGUARD_BODY input filter. */
    memguard_body_register(p);
    /* MemGuardMaxResponse: insert_filter + MEMGUARD_RESPCAP output filter
     * (above mod_deflate, below the guard). */
    memguard_respcap_register(p);
    /* The status page (handler memguard-status) and mod_status's section:
     * read-only views of the board. */
    memguard_status_register(p);
    /* Headroom: the sampler process, forked from post_config (LAST, after
     * the board exists) and restarted by the parent if it dies. */
    memguard_sampler_register(p);
    /* Admission from the sampler's verdict: header_parser REALLY_FIRST,
     * before the body check, one atomic load per request. */
    memguard_gate_register(p);
    /* MemGuardXmlRpc: the first handler reads, inspects and spools the
     * body, applies MemGuardMethod rules, then declines to the real
     * handler, which reads a replay (MEMGUARD_REPLAY input filter). */
    memguard_xmlrpc_register(p);
    /* Accounting: header_parser REALLY_FIRST reads /proc/self/statm,
     * log_transaction REALLY_FIRST reads it again and sets the notes
     * before mod_log_config writes; both hand the size to recycling. */
    memguard_account_register(p);
    /* Recycling: the check before response headers (MEMGUARD_RECYCLE
     * output filter, prefork only) and the limits' sanity check. */
    memguard_recycle_register(p);
    /* MemGuardMethod nice=: whether the MPM allows it, in post_config;
     * applied from the XML-RPC handler, undone by recycling the child. */
    memguard_nice_register(p);
    /* admission by memory cost: settings in child_init; called by the
     * XML-RPC inspector and the accounting hooks, no hook of its own on
     * the request path */
    memguard_admit_register(p);
}

AP_DECLARE_MODULE(memguard) = {
    STANDARD20_MODULE_STUFF,    memguard_create_dir_conf,
    memguard_merge_dir_conf,    memguard_create_server_conf,
    memguard_merge_server_conf, memguard_cmds,
    memguard_register_hooks,
#ifdef AP_MODULE_FLAG_NONE
    AP_MODULE_FLAG_NONE
#endif
};
