/*
 * mod_memguard_account.c - per-request memory accounting.
 *
 * Each child opens /proc/self/statm once, in child_init, and keeps the fd
 * (mod_memguard_statm.c).
 * A request reads it with ONE pread (mg_proc_read_statm_rss, about 1.3 us),
 * when it ends; its start is the size at the end of this process's
 * previous request (an idle child allocates nothing), so the difference
 * is what the request cost (or gave back). The child's board slot gets its size
 * after the request, its peak and the request count (mg_board_request_end); a
 * request whose size was read gets the notes memguard-rss and
 * memguard-rss-delta (bytes, in decimal, for the access log; none for a
 * file httpd sends itself, whose size is not read); and when the XML-RPC
 * inspection has named the call's method (ctx->method_idx), the board's method
 * table gets the call, its request and response bytes and its memory delta.
 *
 * What the numbers mean:
 * - rss is statm's resident size: shared pages (the code, what the parent
 *   loaded before forking) count in full. The unshared size, which is
 *   what a recycle gives back, needs smaps_rollup (~260 us for an httpd +
 *   Python child): the sampler reads it about once a second and writes it
 *   into the slot; it is never read on a request.
 * - Under a threaded MPM (worker, event) the delta is process-wide: other
 *   threads' allocations and frees during the request mix in. It is still
 *   what the process grew by while the request ran.
 * - malloc keeps freed memory for reuse, so a request that allocated and
 *   freed a lot may show a delta near 0 and the NEXT allocation-heavy one
 *   none: deltas show growth, not work.
 *
 * The size is /proc/self/statm's (mod_memguard_statm.c says why not
 * MemGuardProcRoot's).
 *
 * Only requests whose MemGuardEngine is not Off are accounted; the
 * per-directory value is known from header_parser on, which is why the
 * start is taken there (see memguard_account_register()).
 */
#include <errno.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include "mod_memguard_account.h"
#include "mod_memguard_admit.h"
#include "mod_memguard_board.h"
#include "mod_memguard_config.h"
#include "mod_memguard_recycle.h"
#include "mod_memguard_request.h"
#include "mod_memguard_sampler.h"
#include "mod_memguard_statm.h"
#include "mg_board.h"
#include "mg_proc.h"

/* The size at the end of this process's last request, without a read;
 * the first request of a child reads it. */
static int account_rss_before(apr_uint64_t *rss)
{
    *rss = memguard_statm_last_rss();
    return *rss != 0 ? 0 : memguard_statm_rss(rss);
}

/* child_init: /proc/self/statm, opened in the child itself. */
static void account_child_init(apr_pool_t *p, server_rec *s)
{
    if (memguard_statm_open(p, s) != 0) {
        return;
    }
    /* A child that dropped root is not dumpable, and the kernel then hides
     * its /proc/<pid>/smaps_rollup even from the sampler of the same uid:
     * the unshared size (MemGuardChildMetric unshared) could never be
     * measured. httpd itself makes children dumpable for
     * CoreDumpDirectory; do the same, only when the sampler runs. */
    if (memguard_sampler_enabled() && prctl(PR_SET_DUMPABLE, 1) != 0) {
        ap_log_error(
            APLOG_MARK, APLOG_NOTICE, errno, s,
            MGLOGNO(00432) "cannot make this child dumpable: the sampler will "
                           "not see its unshared size");
    }
}

/*
 * The start of a request. header_parser is the earliest hook where the
 * per-directory configuration (MemGuardEngine in a <Location>) is known;
 * between post_read_request and here only the location walk runs, which
 * allocates next to nothing. First of mod_memguard.c's header_parser
 * steps: before the verdict gate and MemGuardMaxRequestBody's check, so a
 * refused request is accounted too, and so a child over its limit
 * signals itself before anything is sent.
 */
void memguard_account_begin(request_rec *r)
{
    memguard_req_ctx *ctx;
    mg_board_t *b = memguard_board();
    apr_uint64_t rss = 0;
    int slot;

    /* Once per client request: not for subrequests, and not again for an
     * internal redirect (the original request's context ends it). */
    if (!ap_is_initial_req(r) || memguard_engine(r) == MEMGUARD_ENGINE_OFF ||
        b == NULL) {
        return;
    }
    slot = memguard_slot(r->connection);
    if (slot < 0) {
        return;
    }
    ctx = memguard_req(r);
    if (account_rss_before(&rss) == 0) {
        ctx->rss_begin = rss;
    }
    ctx->acct_begun = 1;
    mg_board_request_begin(b, (uint32_t)slot, rss);
    memguard_recycle_at_start(r, rss);
}

/* Add a note to r and to the request an internal redirect ended with:
 * mod_log_config reads %{...}n from the final request. Added, not set:
 * the request ends here once (ctx->acct_begun), so the note is new, and
 * set would first compare it with every other memguard-* note (APR's
 * table checksum is the key's first four bytes). */
static void account_note(request_rec *r, const char *name, const char *v)
{
    request_rec *f;

    apr_table_addn(r->notes, name, v);
    for (f = r->next; f != NULL; f = f->next) {
        apr_table_addn(f->notes, name, v);
    }
}

/*
 * The end of a request: mod_memguard.c's log_transaction (REALLY_FIRST),
 * after the status is set back to what the client got, and before
 * mod_log_config (APR_HOOK_MIDDLE) writes the access log line, so the
 * notes are there for it. The response has gone out (or failed); what the
 * request left behind is still held, which is what the delta should show.
 */
void memguard_account_end(request_rec *r)
{
    memguard_req_ctx *ctx;
    mg_board_t *b = memguard_board();
    apr_uint64_t rss = 0;
    apr_int64_t delta = 0;
    int slot, have, measured = 1;

    if (r->main != NULL || b == NULL) {
        return;
    }
    ctx = ap_get_module_config(r->request_config, &memguard_module);
    if (ctx == NULL || !ctx->acct_begun) {
        return;
    }
    ctx->acct_begun = 0;
    slot = memguard_slot(r->connection);
    if (slot < 0) {
        return;
    }
    /* One read per request: none here when MEMGUARD_RECYCLE read the
     * size with the whole response in hand (sending it allocates
     * nothing of the request's) */
    if (ctx->rss_done > 0) {
        rss = ctx->rss_done;
        memguard_statm_remember(rss);
        have = ctx->rss_begin > 0;
    }
    else if (ctx->file_served && ctx->rss_begin > 0) {
        /* a file sent by httpd itself: from the request's pool and a
         * mapping gone with it, nothing of the child's grows; the size
         * stands as read at the end of the last request that ran code,
         * for the board. Nothing was measured: no notes (their
         * formatting and mod_log_config's lookups were a third of what
         * the module cost such a request). */
        rss = ctx->rss_begin;
        have = 1;
        measured = 0;
    }
    else {
        have = memguard_statm_rss(&rss) == 0 && ctx->rss_begin > 0;
    }
    if (have) {
        delta = (apr_int64_t)rss - (apr_int64_t)ctx->rss_begin;
    }
    else {
        rss = 0;
    }
    if (have && measured) {
        account_note(r, "memguard-rss", apr_off_t_toa(r->pool, (apr_off_t)rss));
        account_note(r, "memguard-rss-delta",
                     apr_off_t_toa(r->pool, (apr_off_t)delta));
    }
    /* in-flight - 1, requests + 1; the size and peak only when known */
    mg_board_request_end(b, (uint32_t)slot, rss, delta);
    /*
     * Per-method statistics, only for calls whose method the XML-RPC
     * inspection named (ctx->method_idx; the "other" entry when the name
     * was not storable or the table is full). A request with no known
     * method (not XML-RPC, refused before the method was read) is
     * recorded nowhere: charging it to "other" would mix static files
     * into what admission learns about unnamed XML-RPC calls.
     * bytes_in: the body bytes the application got (MEMGUARD_BODY's
     * count), or what httpd's own body reader counted; bytes_out: the
     * response body as sent (r->bytes_sent: after compression, without
     * headers).
     */
    if (ctx->method_idx != UINT32_MAX) {
        apr_off_t in =
            ctx->body_seen > r->read_length ? ctx->body_seen : r->read_length;
        mg_board_method_record(b, ctx->method_idx, in > 0 ? (uint64_t)in : 0,
                               r->bytes_sent > 0 ? (uint64_t)r->bytes_sent : 0,
                               have ? delta : 0);
        /* what the call cost, for admission; its reservation back */
        memguard_admit_end(r, rss, delta, have);
    }
    memguard_recycle_at_end(r, have ? rss : 0);
}

/*
 * After every module's handler and before core.c's default handler
 * (REALLY_LAST, the only handler there in httpd and in the modules that
 * run applications: mod_wsgi, mod_python, mod_php, mod_cgi, mod_proxy
 * are at MIDDLE or earlier): reached only when no handler took the
 * request, so httpd sends the file itself. Its size is then not read,
 * here or before its headers (MEMGUARD_RECYCLE): a microsecond and more
 * of a static GET's hundred. (A successor "core.c" would not do: core.c
 * has a REALLY_FIRST handler too, and apr's sort puts this before it.)
 */
static int account_file_handler(request_rec *r)
{
    memguard_req_ctx *ctx =
        ap_get_module_config(r->request_config, &memguard_module);

    if (ctx != NULL && ctx->acct_begun) {
        ctx->file_served = 1;
    }
    return DECLINED;
}

void memguard_account_register(apr_pool_t *p)
{
    (void)p;
    /* MIDDLE: only opens a file; no ordering against other modules. */
    ap_hook_child_init(account_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(account_file_handler, NULL, NULL, APR_HOOK_REALLY_LAST - 1);
    /* header_parser and log_transaction: memguard_account_begin() and
     * memguard_account_end(), called in their place in the order of
     * mod_memguard.c's one hook per phase. */
}
