/*
 * mod_memguard_recycle.c - recycling a bloated child: gracefully, never
 * all children at once, never by SIGKILL.
 *
 * A child is recycled when its size (MemGuardChildMetric: rss, or the
 * unshared size the sampler reads from smaps_rollup) passes
 * MemGuardChildSoftLimit or MemGuardChildHardLimit, each moved per pid by
 * MemGuardRecycleJitter (mg_policy_jittered_limit) so that children
 * started together do not all go together; when the response cap saw it
 * build a response over its cap (memguard_recycle_request()); or, with
 * MemGuardRecycleOnPressure, when memory is short and it is among the
 * largest. Recycles share one server-wide budget,
 * MemGuardMaxRecyclesPerMinute (the board's token bucket).
 *
 * How, under each MPM (httpd 2.4, read in server/mpm/prefork/prefork.c and
 * modules/http/http_{core,protocol}.c):
 *
 * - prefork: the child raises SIGUSR1 (AP_SIG_GRACEFUL) in itself. Its
 *   handler, stop_listening(), closes the child's listeners, sets the MPM
 *   state to AP_MPMQ_STOPPING and die_now. Nothing is interrupted: the
 *   request in hand runs to its end. If the signal comes before the
 *   response headers, ap_set_keepalive() sees the MPM stopping and the
 *   response carries "Connection: close"; either way the keep-alive loop
 *   (ap_process_http_sync_connection) stops after this response because
 *   the state is STOPPING, the connection is closed (lingering close), the
 *   child loop sees die_now and the child exits normally, running its
 *   pools' cleanups. The parent notices the exit and its idle-server
 *   maintenance starts a replacement (within about a second, as for
 *   MaxConnectionsPerChild). raise() rather than kill(getpid()): the
 *   handler then runs in this thread before raise() returns, even if an
 *   embedded interpreter has started threads of its own.
 *   Not ap_max_requests_per_child = 1 (the child would still accept one
 *   more connection when MaxConnectionsPerChild is 0) and not exit()
 *   (skips cleanups, cuts the response).
 * - worker / event: httpd 2.4 cannot stop one threaded child gracefully
 *   (the pod stops "a" child, not this one; signals to a child are no-ops
 *   or stop the whole server generation). Such a child is measured,
 *   flagged and reported (once per child, at INFO), never signalled. The
 *   memory that matters there usually lives in mod_wsgi daemon processes:
 *   those are watched by the sampler (MemGuardWatchDaemons) and restarted
 *   with SIGUSR1, mod_wsgi's graceful restart, under any MPM.
 *
 * When, for a prefork child (the request hooks are in
 * mod_memguard_account.c, which hands over the size it just read):
 *
 * - at the start of a request (header_parser): a child already flagged
 *   (by a previous request, the response cap or the sampler) or already
 *   over a limit recycles now: this response says Connection: close;
 * - just before the response headers (the MEMGUARD_RECYCLE output filter,
 *   which reads statm once on its first brigade): catches the request
 *   that made the child grow, since applications (mod_wsgi, mod_mgtest)
 *   build their response before writing it; again Connection: close;
 * - after the request (log_transaction), when growth came after the
 *   headers (a streamed response): over the HARD limit, or when the
 *   connection closes anyway, the child recycles now; over the SOFT limit
 *   on a connection the client was told to keep, it is not cut: the flag
 *   stays and the next request on it (or the sampler, once the child is
 *   idle) recycles it with a clean Connection: close.
 *
 * The budget: a soft recycle takes a token first; with none left it is
 * deferred (logged once per child), the flag stays, and the child tries
 * again after its next request. A hard recycle takes a token if there is
 * one but never waits for it: it is the ceiling. A HEADROOM flag is set by
 * the sampler only after it took the token, so the child does not take
 * another.
 *
 * The sampler side (mod_memguard_recycle_sampler.c) signals idle flagged
 * children, flags the largest ones when memory is short, and watches
 * daemon processes; what both sides share is in
 * mod_memguard_recycle_limits.c.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "ap_mpm.h"
#include "apr_atomic.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_main.h"
#include "http_request.h"
#include "mpm_common.h"

#include "mod_memguard_board.h"
#include "mod_memguard_config.h"
#include "mod_memguard_recycle.h"
#include "mod_memguard_recycle_limits.h"
#include "mod_memguard_request.h"
#include "mod_memguard_statm.h"
#include "mg_board.h"
#include "mg_policy.h"

/* Added by handle: no lookup by name on every request. */
static ap_filter_rec_t *recycle_handle;

#define RECYCLE_FILTER "MEMGUARD_RECYCLE"

#define MIB (1024.0 * 1024.0)

static int recycle_can_signal;         /* this MPM: prefork-like */
static apr_uint32_t recycle_signalled; /* this child raised SIGUSR1 */
static apr_uint32_t recycle_deferred_logged;
static apr_uint32_t recycle_threaded_logged;
static apr_uint32_t recycle_detect_logged;
static apr_uint32_t recycle_baseline_logged;
static apr_uint32_t recycle_baseline_set;
static apr_uint64_t recycle_baseline; /* rss at the first request */

typedef enum {
    RECYCLE_AT_START,   /* header_parser: nothing sent */
    RECYCLE_AT_HEADERS, /* first output brigade: headers not yet sent */
    RECYCLE_AT_END      /* log_transaction: the response is out */
} recycle_when_e;

static const char *const recycle_when_names[] = {
    "before this response", "before this response", "after this request"};

static void recycle_child_init(apr_pool_t *p, server_rec *s)
{
    (void)p;
    (void)s;
    memguard_recycle_limits_init(1);
    recycle_can_signal = memguard_recycle_mpm_can_signal();
    apr_atomic_set32(&recycle_signalled, 0);
    apr_atomic_set32(&recycle_deferred_logged, 0);
    apr_atomic_set32(&recycle_threaded_logged, 0);
    apr_atomic_set32(&recycle_detect_logged, 0);
    apr_atomic_set32(&recycle_baseline_logged, 0);
    apr_atomic_set32(&recycle_baseline_set, 0);
    recycle_baseline = 0;
}

/*
 * The size the limits are compared with, and the reason code naming it.
 * unshared comes from the sampler (about once a second, so it lags this
 * request); a child it has not measured yet (0: no sampler, or smaps not
 * readable) is judged on its rss, which is never smaller.
 */
static apr_uint64_t recycle_child_size(mg_board_t *b, uint32_t slot,
                                       apr_uint64_t rss, uint32_t *reason)
{
    apr_uint64_t unshared;

    if (memguard_recycle_set.metric == MEMGUARD_METRIC_UNSHARED &&
        (unshared = mg_board_slot_unshared(b, slot)) > 0) {
        *reason = MG_RECYCLE_UNSHARED;
        return unshared;
    }
    *reason = MG_RECYCLE_RSS;
    return rss;
}

/* "throttle: available 150.0 MiB < minimum 200.0 MiB" from the sampler's
 * record, as it is now (the mark was made up to a request ago). */
static const char *recycle_memory_now(request_rec *r)
{
    mg_board_sys_t *rec = apr_palloc(r->pool, sizeof(*rec));
    mg_verdict_t v;
    char buf[256];

    if (mg_board_sys_read(memguard_board(), rec, 8) != 0) {
        return "verdict being written";
    }
    memguard_sys_verdict(rec, &v);
    mg_verdict_describe(&v, &rec->sample, buf, sizeof(buf));
    return apr_pstrdup(r->pool, buf);
}

/* Raise SIGUSR1 in this child: see the file comment. */
static void recycle_now(request_rec *r, mg_board_t *b, uint32_t slot,
                        uint32_t reason, apr_uint64_t value, apr_uint64_t limit,
                        int hard, recycle_when_e when)
{
    if (apr_atomic_cas32(&recycle_signalled, 1, 0) != 0) {
        return;
    }
    /* Also say it ourselves: ap_set_keepalive() honours it before the
     * headers, the keep-alive loop after them. */
    r->connection->keepalive = AP_CONN_CLOSE;
    mg_board_slot_recycle_done(b, slot);
    if (reason == MG_RECYCLE_RESPONSE) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            MGLOGNO(00411) "recycling this child (pid %ld) %s: it built a "
                           "response over its cap (%s)",
            (long)getpid(), recycle_when_names[when],
            memguard_recycle_limit_name(reason, hard));
    }
    else if (reason == MG_RECYCLE_NICE) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      MGLOGNO(00450) "recycling this child (pid %ld) %s: it "
                                     "ran a call at a lower CPU priority "
                                     "and may not return from it (%s)",
                      (long)getpid(), recycle_when_names[when],
                      memguard_recycle_limit_name(reason, hard));
    }
    else if (reason == MG_RECYCLE_HEADROOM) {
        /* the sampler's pick: no limit was passed, memory was short */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      MGLOGNO(00260) "recycling this child (pid %ld) %s: the "
                                     "largest child (%.1f MiB) while memory "
                                     "was short (now %s) (%s)",
                      (long)getpid(), recycle_when_names[when],
                      (double)value / MIB, recycle_memory_now(r),
                      memguard_recycle_limit_name(reason, hard));
    }
    else if (reason == MG_RECYCLE_CEILING) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      MGLOGNO(00460) "recycling this child (pid %ld) %s: a "
                                     "call failed at its memory ceiling "
                                     "and left its heap behind (%s)",
                      (long)getpid(), recycle_when_names[when],
                      memguard_recycle_limit_name(reason, hard));
    }
    else {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            MGLOGNO(00412) "recycling this child (pid %ld) %s: %s "
                           "%" APR_UINT64_T_FMT
                           " bytes (%.1f MiB) > limit %" APR_UINT64_T_FMT
                           " bytes (%.1f MiB) (%s)",
            (long)getpid(), recycle_when_names[when],
            mg_recycle_reason_name(reason), value, (double)value / MIB, limit,
            (double)limit / MIB, memguard_recycle_limit_name(reason, hard));
    }
    raise(AP_SIG_GRACEFUL);
}

static void recycle_decide(request_rec *r, apr_uint64_t rss,
                           recycle_when_e when)
{
    mg_board_t *b = memguard_board();
    memguard_req_ctx *ctx;
    apr_uint64_t value = 0, limit = 0, size, lim = 0;
    uint32_t reason, mreason = MG_RECYCLE_RSS;
    apr_uint32_t pid = (apr_uint32_t)memguard_pid();
    int slot, hard = 0;

    if (b == NULL || apr_atomic_read32(&recycle_signalled)) {
        return;
    }
    slot = memguard_slot(r->connection);
    if (slot < 0) {
        return;
    }
    ctx = memguard_req(r);
    if (when == RECYCLE_AT_START && rss > 0 &&
        apr_atomic_cas32(&recycle_baseline_set, 1, 0) == 0) {
        recycle_baseline = rss;
    }
    reason = mg_board_slot_recycle_get(b, (uint32_t)slot, &value, &limit);
    if (rss > 0 && memguard_recycle_configured(&memguard_recycle_set)) {
        size = recycle_child_size(b, (uint32_t)slot, rss, &mreason);
        if (memguard_recycle_over(&memguard_recycle_set, size, pid, &lim,
                                  &hard)) {
            /* A limit below what a fresh child of this server weighs
             * would recycle every child after every request. */
            if (mreason == MG_RECYCLE_RSS && recycle_baseline >= lim) {
                if (apr_atomic_cas32(&recycle_baseline_logged, 1, 0) == 0) {
                    ap_log_rerror(
                        APLOG_MARK, APLOG_NOTICE, 0, r,
                        MGLOGNO(00413) "child limit %" APR_UINT64_T_FMT
                                       " bytes is below this child's size at "
                                       "its first request (%" APR_UINT64_T_FMT
                                       " bytes): not recycling it for size; "
                                       "raise %s",
                        lim, recycle_baseline,
                        memguard_recycle_limit_name(mreason, hard));
                }
                hard = 0;
            }
            else if (ctx->engine == MEMGUARD_ENGINE_DETECT) {
                if (apr_atomic_cas32(&recycle_detect_logged, 1, 0) == 0) {
                    ap_log_rerror(
                        APLOG_MARK, APLOG_INFO, 0, r,
                        MGLOGNO(00414) "DetectOnly: would recycle this child "
                                       "(pid %ld): %s %" APR_UINT64_T_FMT
                                       " bytes > limit %" APR_UINT64_T_FMT
                                       " bytes (%s)",
                        (long)pid, mg_recycle_reason_name(mreason), size, lim,
                        memguard_recycle_limit_name(mreason, hard));
                }
                return;
            }
            else if (reason == 0) {
                if (mg_board_slot_recycle_request(b, (uint32_t)slot,
                                                  (int32_t)pid, mreason, size,
                                                  lim) == 0) {
                    reason = mreason;
                    value = size;
                    limit = lim;
                }
                else {
                    reason = mg_board_slot_recycle_get(b, (uint32_t)slot,
                                                       &value, &limit);
                }
            }
        }
    }
    if (reason == 0 || ctx->engine != MEMGUARD_ENGINE_ON) {
        return;
    }
    if (!recycle_can_signal) {
        if (apr_atomic_cas32(&recycle_threaded_logged, 1, 0) == 0) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          MGLOGNO(00415) "child (pid %ld) is marked for "
                                         "recycling (%s %" APR_UINT64_T_FMT
                                         " bytes, limit %" APR_UINT64_T_FMT
                                         " bytes) but cannot be recycled "
                                         "under a threaded MPM: reported only",
                          (long)pid, mg_recycle_reason_name(reason), value,
                          limit);
        }
        return;
    }
    if (when == RECYCLE_AT_END && !hard &&
        r->connection->keepalive == AP_CONN_KEEPALIVE &&
        !r->connection->aborted) {
        /* Soft: the client was told it may send another request on this
         * connection; recycle when it does (or when the sampler finds the
         * child idle), with a clean Connection: close. */
        ap_log_rerror(
            APLOG_MARK, APLOG_DEBUG, 0, r,
            MGLOGNO(00416) "child marked for recycling (%s): at the start of "
                           "its next request",
            mg_recycle_reason_name(reason));
        return;
    }
    /* No budget for headroom (memory is short), for nice (a child left
     * at a low priority would serve the cheap calls slowly) nor for a
     * ceiling (a heap left behind by a call that failed in it). */
    if (reason != MG_RECYCLE_HEADROOM && reason != MG_RECYCLE_NICE &&
        reason != MG_RECYCLE_CEILING &&
        memguard_recycle_set.max_per_minute > 0) {
        int got = memguard_recycle_take(b);
        if (!got && !hard) {
            if (apr_atomic_cas32(&recycle_deferred_logged, 1, 0) == 0) {
                ap_log_rerror(
                    APLOG_MARK, APLOG_INFO, 0, r,
                    MGLOGNO(00417) "recycling this child (pid %ld) deferred: "
                                   "MemGuardMaxRecyclesPerMinute %u reached "
                                   "(%s %" APR_UINT64_T_FMT
                                   " bytes > limit %" APR_UINT64_T_FMT
                                   " bytes); trying again "
                                   "after its next request",
                    (long)pid, memguard_recycle_set.max_per_minute,
                    mg_recycle_reason_name(reason), value, limit);
            }
            else {
                ap_log_rerror(
                    APLOG_MARK, APLOG_DEBUG, 0, r,
                    MGLOGNO(00418) "recycling still deferred: no budget");
            }
            return;
        }
    }
    recycle_now(r, b, (uint32_t)slot, reason, value, limit, hard, when);
}

void memguard_recycle_at_start(request_rec *r, apr_uint64_t rss)
{
    recycle_decide(r, rss, RECYCLE_AT_START);
}

void memguard_recycle_at_end(request_rec *r, apr_uint64_t rss)
{
    recycle_decide(r, rss, RECYCLE_AT_END);
}

void memguard_recycle_request(request_rec *r, uint32_t reason, const char *why)
{
    mg_board_t *b = memguard_board();
    apr_uint64_t rss = 0;
    int slot;

    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  MGLOGNO(00449) "child marked for recycling: %s", why);
    if (b == NULL || (slot = memguard_slot(r->connection)) < 0) {
        return;
    }
    (void)memguard_statm_rss(&rss);
    /* value: the child's size now; no memory limit was involved */
    (void)mg_board_slot_recycle_request(
        b, (uint32_t)slot, (int32_t)memguard_pid(), reason, rss, 0);
    /* The cap calls this after its answer went out: acted on at
     * log_transaction (the connection closes after a refusal anyway). */
}

/*
 * Is bb the whole response? With its EOS, or with as many bytes as the
 * response's Content-Length (mod_wsgi passes a call's answer with a FLUSH,
 * its EOS comes once the handler returns): the handler cannot send more,
 * what it built is all built.
 */
static int recycle_whole_response(request_rec *r, apr_bucket_brigade *bb)
{
    uint64_t declared;
    apr_off_t len = 0;
    apr_bucket *e;

    if (APR_BRIGADE_EMPTY(bb)) {
        return 0;
    }
    if (APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(bb))) {
        return 1;
    }
    if (memguard_content_length(r->headers_out, &declared) <= 0 ||
        declared == 0) {
        return 0;
    }
    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
         e = APR_BUCKET_NEXT(e)) {
        if (e->length == (apr_size_t)-1) {
            return 0; /* not known without reading it */
        }
        len += (apr_off_t)e->length;
    }
    return (uint64_t)len >= declared;
}

/*
 * MEMGUARD_RECYCLE: one look at the child's size just before the response
 * headers are made, then out of the way. Between the application's end
 * (it builds its response before writing it) and the first byte on the
 * wire, this is the last moment a recycle can still put
 * "Connection: close" into this very response.
 */
static apr_status_t recycle_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    const memguard_req_ctx *rq =
        ap_get_module_config(r->request_config, &memguard_module);
    apr_uint64_t rss = 0;

    ap_remove_output_filter(f);
    /* a file httpd sends itself grows nothing: the size the last request
     * left was judged at its end (mod_memguard_account.c) */
    if ((rq == NULL || !rq->file_served) && memguard_statm_rss(&rss) == 0) {
        /* The whole response at once (a call that built its answer
         * before writing it): the request's work is done, and this size
         * is also the one at its end (mod_memguard_account.c). */
        if (recycle_whole_response(r, bb)) {
            memguard_req_ctx *ctx =
                ap_get_module_config(r->request_config, &memguard_module);
            if (ctx != NULL) {
                ctx->rss_done = rss;
            }
        }
        recycle_decide(r, rss, RECYCLE_AT_HEADERS);
    }
    return ap_pass_brigade(f->next, bb);
}

static void recycle_insert_filter(request_rec *r)
{
    memguard_req_ctx *ctx;

    if (!recycle_can_signal || r->main != NULL ||
        apr_atomic_read32(&recycle_signalled)) {
        return;
    }
    ctx = ap_get_module_config(r->request_config, &memguard_module);
    if (ctx == NULL || !ctx->acct_begun || ctx->engine != MEMGUARD_ENGINE_ON ||
        !memguard_recycle_configured(&memguard_recycle_set)) {
        return;
    }
    ap_add_output_filter_handle(recycle_handle, NULL, r, r->connection);
}

/* Refuse settings that cannot work, at apachectl -t already. */
static int recycle_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                                apr_pool_t *ptemp, server_rec *s)
{
    memguard_recycle_settings st;

    (void)pconf;
    (void)plog;
    (void)ptemp;
    memguard_recycle_settings_get(&st);
    if (st.soft_limit > 0 && st.hard_limit > 0 &&
        st.hard_limit <= st.soft_limit) {
        ap_log_error(
            APLOG_MARK, APLOG_EMERG, 0, s,
            MGLOGNO(00419) "MemGuardChildHardLimit (%" APR_UINT64_T_FMT
                           " bytes) must be larger than MemGuardChildSoftLimit "
                           "(%" APR_UINT64_T_FMT " bytes)",
            st.hard_limit, st.soft_limit);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (st.watch != NULL && !memguard_recycle_configured(&st)) {
        ap_log_error(
            APLOG_MARK, APLOG_EMERG, 0, s,
            MGLOGNO(00420) "MemGuardWatchDaemons \"%s\" needs "
                           "MemGuardChildSoftLimit or MemGuardChildHardLimit "
                           "to compare the daemons with",
            st.watch);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

void memguard_recycle_register(apr_pool_t *p)
{
    (void)p;
    /* MIDDLE: reads settings; no ordering against other modules. */
    ap_hook_child_init(recycle_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* check_config runs for apachectl -t too (post_config does not). */
    ap_hook_check_config(recycle_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* MIDDLE: the filter's place is fixed by its ftype, not by when it
     * is added. */
    ap_hook_insert_filter(recycle_insert_filter, NULL, NULL, APR_HOOK_MIDDLE);
    /* AP_FTYPE_PROTOCOL - 1: below every content filter (the response cap,
     * mod_deflate), right above HTTP_HEADER, which decides keep-alive. */
    recycle_handle = ap_register_output_filter(RECYCLE_FILTER, recycle_filter,
                                               NULL, AP_FTYPE_PROTOCOL - 1);
}
