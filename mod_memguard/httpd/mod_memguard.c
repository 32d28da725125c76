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
#include "http_protocol.h"
#include "http_request.h"

#include "mod_memguard_account.h"
#include "mod_memguard_admit.h"
#include "mod_memguard_board.h"
#include "mod_memguard_body.h"
#include "mod_memguard_config.h"
#include "mod_memguard_directives.h"
#include "mod_memguard_gate.h"
#include "mod_memguard_nice.h"
#include "mod_memguard_recycle.h"
#include "mod_memguard_reject.h"
#include "mod_memguard_respcap.h"
#include "mod_memguard_sampler.h"
#include "mod_memguard_status.h"
#include "mod_memguard_xmlrpc.h"

/*
 * One hook per request phase where several of our steps share it, calling
 * them in a fixed order. Registered apart, their order would be left to
 * chance: APR sorts a phase's hooks with qsort(3) on the rank alone
 * (apr_hooks.c, crude_order), which keeps no order among equal ranks, and
 * a predecessor list (aszPre) cannot help, since it names modules and
 * every hook of this one carries the same name, "mod_memguard.c" (APR
 * takes the first hook with that name, possibly the hook itself).
 *
 * header_parser, REALLY_FIRST: the per-directory configuration is known,
 * nobody has read the body, and no other module's header parser has
 * allocated for the request yet.
 *   1. accounting (mod_memguard_account.c): the size at the start and the
 *      slot's in-flight count; a prefork child already over its limit is
 *      recycled (this response says Connection: close). First, so that a
 *      request the next steps refuse is accounted too.
 *   2. the verdict gate (mod_memguard_gate.c): shed / throttle.
 *   3. MemGuardMaxRequestBody (mod_memguard_body.c): the declared length,
 *      and the body filters.
 * A refusal (DONE or an HTTP status) ends the phase.
 */
static int memguard_header_parser(request_rec *r)
{
    int rc;

    memguard_account_begin(r);
    rc = memguard_gate_header_parser(r);
    if (rc != DECLINED) {
        return rc;
    }
    return memguard_body_header_parser(r);
}

/*
 * log_transaction, REALLY_FIRST: before mod_log_config (APR_HOOK_MIDDLE)
 * writes the access log line.
 *   1. the status the client really got, set back after a refusal made
 *      inside an input filter (mod_memguard_reject.c);
 *   2. accounting (mod_memguard_account.c): the notes memguard-rss and
 *      memguard-rss-delta for that line, the slot's and the method's
 *      figures, the recycle decision.
 */
static int memguard_log_transaction(request_rec *r)
{
    memguard_reject_log_status(r);
    memguard_account_end(r);
    return DECLINED;
}

static void memguard_register_hooks(apr_pool_t *p)
{
    /* The request phases several features share, each step in its place
     * (see above). */
    ap_hook_header_parser(memguard_header_parser, NULL, NULL,
                          APR_HOOK_REALLY_FIRST);
    ap_hook_log_transaction(memguard_log_transaction, NULL, NULL,
                            APR_HOOK_REALLY_FIRST);
    /* The board: shared memory made in post_config, slots reset from
     * child_status when a child exits. */
    memguard_board_register(p);
    /* Refusals and the guard that silences a handler after one. */
    memguard_reject_register(p);
    /* MemGuardMaxRequestBody: the MEMGUARD_BODY (decoded bytes) and
     * MEMGUARD_WIRE (the body as sent) input filters. */
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
    /* Admission from the sampler's verdict: one atomic load per request,
     * in the header_parser above. */
    memguard_gate_register(p);
    /* MemGuardXmlRpc: the first handler inspects the body (in place when
     * it is small and already there, else read and spooled), applies
     * MemGuardMethod rules, then declines to the real handler, which
     * reads the body from httpd or a replay (MEMGUARD_REPLAY). */
    memguard_xmlrpc_register(p);
    /* Accounting: /proc/self/statm opened in child_init, read once per
     * request that runs code (at its end, or before the headers when the
     * response passed whole; the start is what the last request left),
     * not for a file httpd sends itself (a handler just before core's);
     * both hand the size to recycling. */
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

/* The module is built with -fvisibility=hidden (calls between its files
 * are then direct, and none of its names can clash with another module's):
 * the module record is the one symbol httpd looks up. */
__attribute__((visibility("default"))) AP_DECLARE_MODULE(memguard) = {
    STANDARD20_MODULE_STUFF,    memguard_create_dir_conf,
    memguard_merge_dir_conf,    memguard_create_server_conf,
    memguard_merge_server_conf, memguard_cmds,
    memguard_register_hooks,
#ifdef AP_MODULE_FLAG_NONE
    AP_MODULE_FLAG_NONE
#endif
};
