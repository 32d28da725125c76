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
 * The sampler side (memguard_recycle_sampler_init/_tick, see
 * mod_memguard_recycle.h) signals idle flagged children, flags the largest ones
 * when memory is short, and watches daemon processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
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
#include "mod_memguard_request.h"
#include "mod_memguard_statm.h"
#include "mg_board.h"
#include "mg_policy.h"
#include "mg_proc.h"

/* Added by handle: no lookup by name on every request. */
static ap_filter_rec_t *recycle_handle;

#define RECYCLE_FILTER "MEMGUARD_RECYCLE"

#define MIB (1024.0 * 1024.0)

/* ---- shared helpers ------------------------------------------------------ */

/* This process's settings, taken in child_init / sampler_init. */
static memguard_recycle_settings recycle_set;

static int recycle_configured(const memguard_recycle_settings *st)
{
    return st->soft_limit > 0 || st->hard_limit > 0;
}

int memguard_recycle_mpm_can_signal(void)
{
    int threaded = 0, forked = 0;

    if (ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) != APR_SUCCESS ||
        ap_mpm_query(AP_MPMQ_IS_FORKED, &forked) != APR_SUCCESS) {
        return 0;
    }
    return threaded == AP_MPMQ_NOT_SUPPORTED && forked != 0;
}

static uint64_t recycle_clock(void *arg)
{
    (void)arg;
    return memguard_now_us();
}

/* One token from the server-wide budget; 1: got it. */
static int recycle_take(mg_board_t *b)
{
    return mg_board_recycle_take_clock(b, recycle_clock, NULL,
                                       recycle_set.max_per_minute);
}

/*
 * Is size over a (jittered) limit for pid? Returns 0, or 1 with *limit
 * the jittered limit passed and *hard set when it is the hard one.
 */
/* This child's own jittered limits (recycle_set's, for its pid), worked
 * out once in child_init: a request compares, it does not hash. */
static apr_uint32_t recycle_own_pid;
static apr_uint64_t recycle_own_hard, recycle_own_soft;

static int recycle_over(const memguard_recycle_settings *st, apr_uint64_t size,
                        apr_uint32_t pid, apr_uint64_t *limit, int *hard)
{
    apr_uint64_t lim;

    *hard = 0;
    if (size == 0) {
        return 0;
    }
    if (st->hard_limit > 0) {
        lim =
            st == &recycle_set && pid == recycle_own_pid
                ? recycle_own_hard
                : mg_policy_jittered_limit(st->hard_limit, st->jitter_bp, pid);
        if (size > lim) {
            *limit = lim;
            *hard = 1;
            return 1;
        }
    }
    if (st->soft_limit > 0) {
        lim =
            st == &recycle_set && pid == recycle_own_pid
                ? recycle_own_soft
                : mg_policy_jittered_limit(st->soft_limit, st->jitter_bp, pid);
        if (size > lim) {
            *limit = lim;
            return 1;
        }
    }
    return 0;
}

/* The limit directive's name, for log lines. */
static const char *recycle_limit_name(uint32_t reason, int hard)
{
    switch (reason) {
    case MG_RECYCLE_RSS:
    case MG_RECYCLE_UNSHARED:
        return hard ? "MemGuardChildHardLimit" : "MemGuardChildSoftLimit";
    case MG_RECYCLE_HEADROOM:
        return "MemGuardRecycleOnPressure";
    case MG_RECYCLE_RESPONSE:
        return "MemGuardMaxResponse";
    case MG_RECYCLE_NICE:
        return "MemGuardMethod nice=";
    case MG_RECYCLE_CEILING:
        return "MemGuardCallCeiling";
    default:
        return "?";
    }
}

/* ---- child side ---------------------------------------------------------- */

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
    memguard_recycle_settings_get(&recycle_set);
    recycle_can_signal = memguard_recycle_mpm_can_signal();
    apr_atomic_set32(&recycle_signalled, 0);
    apr_atomic_set32(&recycle_deferred_logged, 0);
    apr_atomic_set32(&recycle_threaded_logged, 0);
    apr_atomic_set32(&recycle_detect_logged, 0);
    apr_atomic_set32(&recycle_baseline_logged, 0);
    apr_atomic_set32(&recycle_baseline_set, 0);
    recycle_baseline = 0;
    /* getpid(), not memguard_pid(): child_init hooks of one rank run in
     * no set order, and board_child_init may not have run yet */
    recycle_own_pid = (apr_uint32_t)getpid();
    recycle_own_hard =
        recycle_set.hard_limit > 0
            ? mg_policy_jittered_limit(recycle_set.hard_limit,
                                       recycle_set.jitter_bp, recycle_own_pid)
            : 0;
    recycle_own_soft =
        recycle_set.soft_limit > 0
            ? mg_policy_jittered_limit(recycle_set.soft_limit,
                                       recycle_set.jitter_bp, recycle_own_pid)
            : 0;
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

    if (recycle_set.metric == MEMGUARD_METRIC_UNSHARED &&
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
            recycle_limit_name(reason, hard));
    }
    else if (reason == MG_RECYCLE_NICE) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      MGLOGNO(00450) "recycling this child (pid %ld) %s: it "
                                     "ran a call at a lower CPU priority "
                                     "and may not return from it (%s)",
                      (long)getpid(), recycle_when_names[when],
                      recycle_limit_name(reason, hard));
    }
    else if (reason == MG_RECYCLE_HEADROOM) {
        /* the sampler's pick: no limit was passed, memory was short */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      MGLOGNO(00260) "recycling this child (pid %ld) %s: the "
                                     "largest child (%.1f MiB) while memory "
                                     "was short (now %s) (%s)",
                      (long)getpid(), recycle_when_names[when],
                      (double)value / MIB, recycle_memory_now(r),
                      recycle_limit_name(reason, hard));
    }
    else if (reason == MG_RECYCLE_CEILING) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      MGLOGNO(00460) "recycling this child (pid %ld) %s: a "
                                     "call failed at its memory ceiling "
                                     "and left its heap behind (%s)",
                      (long)getpid(), recycle_when_names[when],
                      recycle_limit_name(reason, hard));
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
            (double)limit / MIB, recycle_limit_name(reason, hard));
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
    if (rss > 0 && recycle_configured(&recycle_set)) {
        size = recycle_child_size(b, (uint32_t)slot, rss, &mreason);
        if (recycle_over(&recycle_set, size, pid, &lim, &hard)) {
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
                        recycle_limit_name(mreason, hard));
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
                        recycle_limit_name(mreason, hard));
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
        reason != MG_RECYCLE_CEILING && recycle_set.max_per_minute > 0) {
        int got = recycle_take(b);
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
                    (long)pid, recycle_set.max_per_minute,
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
    const char *cl;
    apr_off_t declared, len = 0;
    apr_bucket *e;
    char *end;

    if (APR_BRIGADE_EMPTY(bb)) {
        return 0;
    }
    if (APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(bb))) {
        return 1;
    }
    cl = apr_table_get(r->headers_out, "Content-Length");
    if (cl == NULL || apr_strtoff(&declared, cl, &end, 10) != APR_SUCCESS ||
        *end != '\0' || declared <= 0) {
        return 0;
    }
    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
         e = APR_BUCKET_NEXT(e)) {
        if (e->length == (apr_size_t)-1) {
            return 0; /* not known without reading it */
        }
        len += (apr_off_t)e->length;
    }
    return len >= declared;
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
    apr_uint64_t rss = 0;

    ap_remove_output_filter(f);
    if (memguard_statm_rss(&rss) == 0) {
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
        !recycle_configured(&recycle_set)) {
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
    if (st.watch != NULL && !recycle_configured(&st)) {
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

/* ---- sampler side -------------------------------------------------------- */

#define WATCH_MAX 64                 /* daemon processes tracked */
#define WATCH_CMDLINE 256            /* bytes of a cmdline matched */
#define WATCH_SCAN_EVERY_US 2000000u /* /proc scan for new daemons */
#define SAMPLER_EVERY_US 1000000u    /* children, pressure, daemon sizes */
#define PRESSURE_PER_PASS 2          /* children flagged per pass (shed) */
#define WATCH_SCAN_MAX 65536         /* /proc entries looked at per scan */

typedef struct {
    pid_t pid; /* 0: free */
    int statm_fd;
    int smaps_fd;  /* -1: not readable (rss is used) */
    int signalled; /* SIGUSR1 sent; waiting for it to go */
    int deferred_logged;
    uint64_t first_size; /* size when first measured */
} watch_t;

static struct {
    int active;
    int children; /* prefork: children can be signalled */
    pid_t parent;
    int proc_fd; /* /proc, for the daemon scan */
    apr_uint64_t pagesize;
    uint32_t nslots;
    int32_t *signalled_pid; /* per slot: the pid we signalled */
    uint64_t *sizes;        /* per slot: candidates for pressure picks */
    uint32_t picks[PRESSURE_PER_PASS];
    watch_t watch[WATCH_MAX];
    apr_uint64_t next_pass_us, next_scan_us;
    uint64_t least_seen; /* smallest child size measured: "fresh" */
    int full_logged, smaps_logged;
    char smaps_buf[4096];
    char cmdline[WATCH_CMDLINE];
} rs;

void memguard_recycle_sampler_init(server_rec *s, apr_pool_t *p, pid_t parent)
{
    mg_board_t *b = memguard_board();
    long ps = sysconf(_SC_PAGESIZE);
    int i;

    memguard_recycle_settings_get(&recycle_set);
    rs.active = 0;
    if (b == NULL ||
        (!recycle_configured(&recycle_set) && !recycle_set.on_pressure)) {
        return;
    }
    rs.parent = parent;
    rs.pagesize = ps > 0 ? (apr_uint64_t)ps : 4096u;
    rs.children = memguard_recycle_mpm_can_signal();
    rs.nslots = mg_board_nslots(b);
    rs.signalled_pid = apr_pcalloc(p, rs.nslots * sizeof(*rs.signalled_pid));
    rs.sizes = apr_pcalloc(p, rs.nslots * sizeof(*rs.sizes));
    for (i = 0; i < WATCH_MAX; i++) {
        rs.watch[i].pid = 0;
        rs.watch[i].statm_fd = -1;
        rs.watch[i].smaps_fd = -1;
    }
    rs.proc_fd = -1;
    if (recycle_set.watch != NULL) {
        /* /proc as a directory: listed with getdents64 on this fd, which
         * allocates nothing (opendir would). */
        rs.proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rs.proc_fd < 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, errno, s,
                         MGLOGNO(00421) "sampler: cannot open /proc: "
                                        "MemGuardWatchDaemons is off");
        }
    }
    rs.next_pass_us = 0;
    rs.next_scan_us = 0;
    rs.least_seen = UINT64_MAX;
    rs.full_logged = 0;
    rs.smaps_logged = 0;
    rs.active = 1;
}

/* kill(), with what went wrong logged: never SIGKILL, only graceful. */
static int sampler_signal(server_rec *s, pid_t pid, const char *what)
{
    if (kill(pid, AP_SIG_GRACEFUL) == 0) {
        return 0;
    }
    if (errno != ESRCH) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s,
                     MGLOGNO(00422) "sampler: cannot signal %s %ld", what,
                     (long)pid);
    }
    return -1;
}

/* Take a token unless the budget is off; 1: go ahead. The pass's own
 * time is not used: the clock is read inside the take (see mg_board.h). */
static int sampler_budget(void)
{
    return recycle_set.max_per_minute == 0 || recycle_take(memguard_board());
}

/*
 * Children (prefork only). Flag those over a limit by the figures the
 * sampler has (the child's unshared size, or its rss after its last
 * request); signal flagged children that are idle, since an idle child
 * has no next request to act on. A child that accepts a connection at the
 * same moment still recycles cleanly: the signal just arrives during its
 * request, as if it had raised it itself.
 */
static void sampler_children(server_rec *s, mg_board_t *b, apr_uint32_t verdict)
{
    mg_board_slot_info_t info;
    uint32_t i, k, n;
    uint64_t grown;

    for (i = 0; i < rs.nslots; i++) {
        uint64_t size, value = 0, limit = 0, lim = 0;
        uint32_t reason, mreason;
        int hard = 0;

        rs.sizes[i] = 0;
        if (mg_board_slot_snapshot(b, i, &info) != 0 || info.pid <= 0) {
            rs.signalled_pid[i] = 0;
            continue;
        }
        if (rs.signalled_pid[i] == info.pid || info.recycles_done > 0) {
            /* on its way out, signalled by us or recycled by itself: it
             * may still be closing its connection or waiting to be
             * reaped, and must not cost a second token */
            continue;
        }
        if (recycle_set.metric == MEMGUARD_METRIC_UNSHARED &&
            info.unshared > 0) {
            size = info.unshared;
            mreason = MG_RECYCLE_UNSHARED;
        }
        else {
            size = info.rss;
            mreason = MG_RECYCLE_RSS;
        }
        reason = info.recycle_reason;
        value = info.recycle_value;
        limit = info.recycle_limit;
        if (reason == 0 &&
            recycle_over(&recycle_set, size, (apr_uint32_t)info.pid, &lim,
                         &hard) &&
            mg_board_slot_recycle_request(b, i, info.pid, mreason, size, lim) ==
                0) {
            reason = mreason;
            value = size;
            limit = lim;
        }
        if (reason == 0) {
            rs.sizes[i] = size; /* a candidate when memory is short */
            continue;
        }
        if (info.inflight > 0) {
            continue; /* the child acts at the end of its request */
        }
        if (reason != MG_RECYCLE_HEADROOM) {
            (void)recycle_over(&recycle_set, size, (apr_uint32_t)info.pid, &lim,
                               &hard);
            if (!sampler_budget() && !hard) {
                continue; /* deferred; tried again next pass */
            }
        }
        if (sampler_signal(s, (pid_t)info.pid, "child") == 0) {
            rs.signalled_pid[i] = info.pid;
            mg_board_slot_recycle_done(b, i);
            ap_log_error(
                APLOG_MARK, APLOG_INFO, 0, s,
                MGLOGNO(00423) "sampler: recycling idle child %ld (slot %u): "
                               "%s %" APR_UINT64_T_FMT
                               " bytes (%.1f MiB) > limit %" APR_UINT64_T_FMT
                               " bytes (%.1f MiB) (%s)",
                (long)info.pid, i, mg_recycle_reason_name(reason), value,
                (double)value / MIB, limit, (double)limit / MIB,
                recycle_limit_name(reason, hard));
        }
    }
    if (!recycle_set.on_pressure) {
        return;
    }
    /* Memory is short: the largest children first, a few per pass, each
     * only with a token in hand (so the child need not take another).
     * Only children that have grown by half the smallest child this
     * sampler has measured, and at least 16 MiB: one barely larger would
     * come back as big as it goes, so pressure that children did not
     * cause (slab, another service, calls admitted by their memory cost
     * and still running) does not recycle fresh children over and over,
     * nor cut the keep-alive connections of builders for nothing. */
    for (i = 0; i < rs.nslots; i++) {
        if (rs.sizes[i] > 0 && rs.sizes[i] < rs.least_seen) {
            rs.least_seen = rs.sizes[i];
        }
    }
    k = mg_policy_headroom_victims((mg_verdict_state_t)verdict,
                                   PRESSURE_PER_PASS);
    if (k == 0) {
        return;
    }
    grown = rs.least_seen / 2 > ((uint64_t)16 << 20) ? rs.least_seen / 2
                                                     : ((uint64_t)16 << 20);
    for (i = 0; i < rs.nslots; i++) {
        if (rs.sizes[i] <= rs.least_seen + grown) {
            rs.sizes[i] = 0;
        }
    }
    n = mg_policy_pick_largest(rs.sizes, rs.nslots, k, rs.picks);
    for (k = 0; k < n; k++) {
        i = rs.picks[k];
        if (mg_board_slot_snapshot(b, i, &info) != 0 || info.pid <= 0) {
            continue;
        }
        if (!sampler_budget()) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                         MGLOGNO(00424) "sampler: memory is short but the "
                                        "recycle budget is spent");
            break;
        }
        if (mg_board_slot_recycle_request(b, i, info.pid, MG_RECYCLE_HEADROOM,
                                          rs.sizes[i], 0) != 0) {
            continue;
        }
        ap_log_error(
            APLOG_MARK, APLOG_INFO, 0, s,
            MGLOGNO(00425) "sampler: memory is short (%s): recycling child %ld "
                           "(slot %u, %.1f MiB), largest first",
            mg_verdict_state_name((mg_verdict_state_t)verdict), (long)info.pid,
            i, (double)rs.sizes[i] / MIB);
        if (info.inflight == 0 &&
            sampler_signal(s, (pid_t)info.pid, "child") == 0) {
            rs.signalled_pid[i] = info.pid;
            mg_board_slot_recycle_done(b, i);
        }
    }
}

static void watch_close(watch_t *w)
{
    if (w->statm_fd >= 0) {
        close(w->statm_fd);
    }
    if (w->smaps_fd >= 0) {
        close(w->smaps_fd);
    }
    w->statm_fd = w->smaps_fd = -1;
    w->pid = 0;
    w->signalled = 0;
    w->deferred_logged = 0;
    w->first_size = 0;
}

/* Track pid if it is a child of the httpd parent whose flattened command
 * line matches MemGuardWatchDaemons. */
static void watch_consider(server_rec *s, pid_t pid)
{
    int32_t ppid;
    int i, free_i = -1;
    watch_t *w;

    for (i = 0; i < WATCH_MAX; i++) {
        if (rs.watch[i].pid == pid) {
            return;
        }
        if (rs.watch[i].pid == 0 && free_i < 0) {
            free_i = i;
        }
    }
    if (mg_proc_read_ppid("/", pid, &ppid) != 0 || ppid != rs.parent) {
        return;
    }
    if (mg_proc_read_cmdline("/", pid, rs.cmdline, sizeof(rs.cmdline)) <= 0 ||
        fnmatch(recycle_set.watch, rs.cmdline, 0) != 0) {
        return;
    }
    if (free_i < 0) {
        if (!rs.full_logged) {
            rs.full_logged = 1;
            ap_log_error(
                APLOG_MARK, APLOG_NOTICE, 0, s,
                MGLOGNO(00426) "sampler: more than %d processes "
                               "match MemGuardWatchDaemons \"%s\": the "
                               "others are not watched",
                WATCH_MAX, recycle_set.watch);
        }
        return;
    }
    w = &rs.watch[free_i];
    w->statm_fd = mg_proc_open_pid("/", pid, "statm");
    if (w->statm_fd < 0) {
        w->statm_fd = -1;
        return;
    }
    w->smaps_fd = -1;
    if (recycle_set.metric == MEMGUARD_METRIC_UNSHARED) {
        /* Needs ptrace read access: a daemon that changed its uid is not
         * dumpable, so an unprivileged sampler gets EACCES. */
        int fd = mg_proc_open_pid("/", pid, "smaps_rollup");
        if (fd >= 0) {
            w->smaps_fd = fd;
        }
        else if (!rs.smaps_logged) {
            rs.smaps_logged = 1;
            ap_log_error(
                APLOG_MARK, APLOG_INFO, -fd, s,
                MGLOGNO(00427) "sampler: smaps_rollup of daemon %ld is not "
                               "readable: daemons are judged on their rss",
                (long)pid);
        }
    }
    w->pid = pid;
    w->signalled = 0;
    w->deferred_logged = 0;
    w->first_size = 0;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 MGLOGNO(00428) "sampler: watching daemon %ld \"%s\"",
                 (long)pid, rs.cmdline);
}

struct watch_dirent64 {
    apr_uint64_t d_ino;
    apr_int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* One pass over /proc: bounded by WATCH_SCAN_MAX entries, a stack buffer,
 * no allocation. */
static void watch_scan(server_rec *s)
{
    char buf[8192];
    long n, off, seen = 0;
    pid_t self = getpid();

    if (lseek(rs.proc_fd, 0, SEEK_SET) != 0) {
        return;
    }
    while ((n = syscall(SYS_getdents64, rs.proc_fd, buf, sizeof(buf))) > 0) {
        for (off = 0; off < n;) {
            struct watch_dirent64 *d = (struct watch_dirent64 *)(buf + off);
            const char *c = d->d_name;
            long pid = 0;

            off += d->d_reclen;
            if (++seen > WATCH_SCAN_MAX) {
                return;
            }
            while (*c >= '0' && *c <= '9' && pid < 0x7fffffffL / 10) {
                pid = pid * 10 + (*c++ - '0');
            }
            if (*c != '\0' || pid <= 1 || pid == self || pid == rs.parent) {
                continue;
            }
            watch_consider(s, (pid_t)pid);
        }
    }
}

/* Measure each watched daemon; restart a bloated one gracefully. */
static void watch_measure(server_rec *s, apr_uint32_t verdict)
{
    mg_proc_statm_t st;
    mg_proc_smaps_t sm;
    uint64_t size, lim = 0, biggest = 0;
    int i, hard, pick = -1;

    for (i = 0; i < WATCH_MAX; i++) {
        watch_t *w = &rs.watch[i];
        const char *metric = "rss";

        if (w->pid == 0) {
            continue;
        }
        if (mg_proc_read_statm(w->statm_fd, rs.pagesize, &st) != 0) {
            watch_close(w); /* gone: its successor is found by the scan */
            continue;
        }
        size = st.resident;
        if (w->smaps_fd >= 0 &&
            mg_proc_read_smaps_rollup(w->smaps_fd, rs.smaps_buf,
                                      sizeof(rs.smaps_buf), &sm) == 0) {
            size = sm.unshared;
            metric = "unshared";
        }
        if (w->first_size == 0) {
            w->first_size = size;
        }
        if (w->signalled) {
            continue; /* finishing its requests (mod_wsgi graceful) */
        }
        if (!recycle_over(&recycle_set, size, (apr_uint32_t)w->pid, &lim,
                          &hard)) {
            /* under pressure, only a daemon that has at least doubled
             * since it was first seen is worth a restart */
            if (size > biggest && size > 2 * w->first_size) {
                biggest = size;
                pick = i;
            }
            continue;
        }
        if (!sampler_budget() && !hard) {
            if (!w->deferred_logged) {
                w->deferred_logged = 1;
                ap_log_error(
                    APLOG_MARK, APLOG_INFO, 0, s,
                    MGLOGNO(00429) "sampler: restarting daemon %ld deferred: "
                                   "MemGuardMaxRecyclesPerMinute %u reached",
                    (long)w->pid, recycle_set.max_per_minute);
            }
            continue;
        }
        if (sampler_signal(s, w->pid, "daemon") == 0) {
            w->signalled = 1;
            ap_log_error(
                APLOG_MARK, APLOG_INFO, 0, s,
                MGLOGNO(00430) "sampler: restarting daemon %ld gracefully "
                               "(SIGUSR1): %s %" APR_UINT64_T_FMT " bytes "
                               "(%.1f MiB) > limit %" APR_UINT64_T_FMT " bytes "
                               "(%.1f MiB) (%s)",
                (long)w->pid, metric, size, (double)size / MIB, lim,
                (double)lim / MIB,
                hard ? "MemGuardChildHardLimit" : "MemGuardChildSoftLimit");
        }
    }
    /* Memory short: the largest daemon too, one per pass. */
    if (recycle_set.on_pressure && pick >= 0 &&
        mg_policy_headroom_victims((mg_verdict_state_t)verdict, 1) > 0 &&
        sampler_budget() &&
        sampler_signal(s, rs.watch[pick].pid, "daemon") == 0) {
        rs.watch[pick].signalled = 1;
        ap_log_error(
            APLOG_MARK, APLOG_INFO, 0, s,
            MGLOGNO(00431) "sampler: memory is short (%s): "
                           "restarting daemon %ld (%.1f MiB) gracefully, "
                           "largest first",
            mg_verdict_state_name((mg_verdict_state_t)verdict),
            (long)rs.watch[pick].pid, (double)biggest / MIB);
    }
}

void memguard_recycle_sampler_tick(server_rec *s, apr_uint64_t now_us,
                                   apr_uint32_t verdict_state)
{
    mg_board_t *b = memguard_board();

    if (!rs.active || b == NULL) {
        return;
    }
    if (rs.proc_fd >= 0 && now_us >= rs.next_scan_us) {
        rs.next_scan_us = now_us + WATCH_SCAN_EVERY_US;
        watch_scan(s);
    }
    if (now_us < rs.next_pass_us) {
        return;
    }
    rs.next_pass_us = now_us + SAMPLER_EVERY_US;
    if (rs.children) {
        sampler_children(s, b, verdict_state);
    }
    if (rs.proc_fd >= 0) {
        watch_measure(s, verdict_state);
    }
}
