/*
 * mod_memguard_gate.c - admission from the sampler's verdict.
 *
 * Per request: ONE atomic load of the board's verdict word
 * (mg_board_verdict_load), nothing else unless the answer is no.
 *   ok        pass;
 *   throttle  a body over MemGuardThrottleMaxBody (or of unknown length)
 *             is refused with MG_REASON_THROTTLE; the XML-RPC inspector
 *             calls memguard_gate_method() for calls marked expensive;
 *   shed      everything not exempt is refused with MG_REASON_SHED and
 *             keep-alive goes off (a client that will retry later should
 *             not hold a worker meanwhile);
 *   stale     (no sample for max(10 intervals, 2 s): the sampler is dead
 *             or stopped) MemGuardFailMode: open passes, logged at ERR
 *             once per staleness episode for the whole server; closed
 *             sheds.
 * MemGuardShedExempt On locations (status, health checks), subrequests and
 * internal redirects always pass.
 *
 * Shedding a call that takes next to nothing saves nothing, and costs a
 * builder its poll (Koji's kojid waits two minutes before it asks again).
 * So for an XML-RPC call that admission by memory cost weighs, whose body
 * is small (a Content-Length within MemGuardThrottleMaxBody), header_parser
 * leaves a shed to the inspection too, and memguard_gate_method() to
 * admission (memguard_admit(), ctx->gate_shed): a call expected to cost at
 * most MemGuardAdmitTiny runs. Any other is refused at once when the shed
 * is on a LEVEL (memory is below it); when only the FILL RATE forecasts it
 * (memory still above the level, falling towards it within the horizon:
 * the calls already running are growing) it waits in the admission queue
 * until the forecast has gone. Everything else is shed as before.
 *
 * Essential calls (MemGuardMethod ... essential: a builder reporting a
 * finished task) pass whatever the verdict. Only the inspection knows the
 * method, so where a rule is essential header_parser lets a call that is
 * not ok go on to the inspection (its body is read, within
 * MemGuardMaxRequestBody) and memguard_gate_method() decides, the
 * throttle's body check included.
 */
#include "http_core.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"

#include "mod_memguard_admit.h"
#include "mod_memguard_board.h"
#include "mod_memguard_config.h"
#include "mod_memguard_gate.h"
#include "mod_memguard_reject.h"
#include "mod_memguard_request.h"
#include "mod_memguard_sampler.h"
#include "mod_memguard_status.h"
#include "mod_memguard_xrconf.h"
#include "mg_board.h"

/* Is w stale at now? Sets *state to the fail-mode state if so. */
static int gate_stale(mg_board_verdict_t w, uint64_t now,
                      mg_verdict_state_t *state, uint64_t *age_us)
{
    const memguard_headroom_conf *hr = memguard_headroom(ap_server_conf);
    uint64_t t = w == 0 ? 0 : MG_BOARD_VERDICT_TIME_US(w);

    if (t == 0) {
        /* never sampled: the first sampler is starting; give it the
         * staleness time from its start before calling it stale */
        t = memguard_sampler_first_start_us();
        if (t == 0) {
            return 0;
        }
        if (now < t || now - t <= hr->policy.stale_after_us) {
            return 0;
        }
    }
    *age_us = now > t ? now - t : 0;
    return mg_policy_stale(&hr->policy, t, now, state);
}

/*
 * The verdict as it stands, quietly: *state is the sampler's, or the fail
 * mode's when the verdict is stale (then 1, with *w and *age for the log
 * line); OK when nothing samples (no board, no sampler).
 */
static int gate_look(mg_board_verdict_t *w, uint64_t *age,
                     mg_verdict_state_t *state)
{
    mg_board_t *b = memguard_board();

    *state = MG_VERDICT_OK;
    if (b == NULL || !memguard_sampler_enabled()) {
        return 0;
    }
    *w = mg_board_verdict_load(b);
    if (gate_stale(*w, memguard_now_us(), state, age)) {
        return 1;
    }
    *state = (mg_verdict_state_t)MG_BOARD_VERDICT_STATE(*w);
    return 0;
}

/*
 * The effective state for r: OK with *why NULL when there is nothing to
 * do; else the state (stale already mapped to the fail mode).
 */
static mg_verdict_state_t gate_state(request_rec *r, const char **why)
{
    mg_board_t *b = memguard_board();
    mg_board_verdict_t w = 0;
    mg_verdict_state_t state;
    uint64_t age = 0;

    *why = NULL;
    if (gate_look(&w, &age, &state)) {
        /* one line per staleness episode for the whole server, not one
         * per child: the board remembers the episode logged */
        uint32_t mark = (uint32_t)(MG_BOARD_VERDICT_TIME_US(w) / 1000u) + 1;

        if (mg_board_stale_log_claim(b, mark)) {
            ap_log_rerror(
                APLOG_MARK, APLOG_ERR, 0, r,
                MGLOGNO(00330) "no fresh memory sample for %" APR_UINT64_T_FMT
                               " ms (sampler dead or stopped): failing %s "
                               "(MemGuardFailMode)",
                age / 1000u,
                state == MG_VERDICT_OK ? "open, requests pass"
                                       : "closed, shedding");
        }
        if (state != MG_VERDICT_OK) {
            *why = apr_psprintf(r->pool,
                                "no fresh memory sample for %" APR_UINT64_T_FMT
                                " ms (MemGuardFailMode closed)",
                                age / 1000u);
        }
    }
    return state;
}

/* Nothing to do for any request: the verdict is ok and fresh (one atomic
 * load and the clock). Asked first, so that the usual request never looks
 * at its configuration (the status page's SetHandler is an expression). */
static int gate_clear(void)
{
    mg_board_verdict_t w = 0;
    mg_verdict_state_t state;
    uint64_t age = 0;

    return !gate_look(&w, &age, &state) && state == MG_VERDICT_OK;
}

static int gate_applies(request_rec *r)
{
    /* The status page and health answer are how an operator and a load
     * balancer see that the server sheds: never refuse them. */
    return !(r->main || r->prev || memguard_engine(r) == MEMGUARD_ENGINE_OFF ||
             memguard_shed_exempt(r) || memguard_is_status(r));
}

/* The sampler's shed, for a call admission weighs: MEMGUARD_SHED_LEVEL
 * or MEMGUARD_SHED_FORECAST (its signal is a fill rate); else 0. */
static int gate_shed_kind(request_rec *r, mg_verdict_state_t state,
                          const char *why)
{
    if (state != MG_VERDICT_SHED || why != NULL ||
        !memguard_xmlrpc_admitted_by_cost(r)) {
        return 0; /* why: the fail mode's shed, not the sampler's */
    }
    return memguard_board_shedding();
}

/* A body whose Content-Length is at most MemGuardThrottleMaxBody (when
 * set): under shed only such a call is read and inspected to see whether
 * it is tiny; a large or chunked one is shed before a byte of it is read,
 * as any request. */
static int gate_small_body(request_rec *r)
{
    apr_int64_t limit = memguard_throttle_max_body(r);
    uint64_t len;

    return memguard_content_length(r->headers_in, &len) > 0 &&
           (limit <= 0 || len <= (uint64_t)limit);
}

/* header_parser (mod_memguard.c's, after accounting, before the body
 * check): see the comment at the top. */
int memguard_gate_header_parser(request_rec *r)
{
    mg_verdict_state_t state;
    const char *why;
    apr_int64_t limit;
    uint64_t len;
    int rc, has_cl;

    if (gate_clear() || !gate_applies(r)) {
        return DECLINED;
    }
    state = gate_state(r, &why);
    if (state == MG_VERDICT_OK) {
        return DECLINED;
    }
    if (memguard_xmlrpc_may_be_essential(r) ||
        (gate_shed_kind(r, state, why) != 0 && gate_small_body(r))) {
        memguard_req(r)->gate_deferred = 1;
        return DECLINED;
    }
    if (state == MG_VERDICT_SHED) {
        rc = memguard_refuse_shed(r, why);
        return rc == OK ? DECLINED : rc; /* OK: DetectOnly */
    }
    /* throttle: a large (or unknown) body is the expensive part we can
     * see before the method is known */
    limit = memguard_throttle_max_body(r);
    if (limit <= 0) {
        return DECLINED;
    }
    has_cl = memguard_content_length(r->headers_in, &len);
    if (has_cl != 0) {
        if (has_cl < 0 || len <= (uint64_t)limit) {
            return DECLINED;
        }
        rc = memguard_refuse(
            r, MG_REASON_THROTTLE,
            apr_psprintf(r->pool,
                         "%" APR_UINT64_T_FMT " bytes > %" APR_INT64_T_FMT
                         " while throttling (MemGuardThrottleMaxBody; %s)",
                         len, limit,
                         memguard_verdict_detail(
                             r, mg_board_verdict_load(memguard_board()))));
    }
    else if (apr_table_get(r->headers_in, "Transfer-Encoding") != NULL) {
        rc = memguard_refuse(
            r, MG_REASON_THROTTLE,
            apr_psprintf(r->pool,
                         "body of unknown length while throttling "
                         "(MemGuardThrottleMaxBody %" APR_INT64_T_FMT "; %s)",
                         limit,
                         memguard_verdict_detail(
                             r, mg_board_verdict_load(memguard_board()))));
    }
    else {
        return DECLINED;
    }
    return rc == OK ? DECLINED : rc;
}

/* An essential call passes: once logged per request, and noted. */
static int gate_essential(request_rec *r, mg_verdict_state_t state)
{
    const char *method;

    if (apr_table_get(r->notes, "memguard-essential") != NULL) {
        return OK;
    }
    apr_table_setn(r->notes, "memguard-essential",
                   mg_verdict_state_name(state));
    method = apr_table_get(r->notes, "memguard-method");
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  MGLOGNO(00150) "admitted %s %s while %s: '%s' runs only "
                                 "essential methods (MemGuardMethod ... "
                                 "essential)",
                  r->method, r->uri,
                  state == MG_VERDICT_SHED ? "shedding" : "throttling",
                  method ? method : "?");
    return OK;
}

int memguard_gate_method(request_rec *r, int expensive)
{
    memguard_req_ctx *ctx = memguard_req(r);
    mg_verdict_state_t state;
    const char *why;
    apr_int64_t limit;
    int k;

    if (gate_clear() || !gate_applies(r)) {
        return OK;
    }
    state = gate_state(r, &why);
    if (state == MG_VERDICT_OK) {
        return OK;
    }
    if (ctx->essential) {
        return gate_essential(r, state);
    }
    if ((k = gate_shed_kind(r, state, why)) != 0) {
        if (!ctx->admit_done) {
            ctx->gate_shed = k; /* memguard_admit() decides */
            return OK;
        }
        /* asked again after admission waited: only a tiny call runs */
        if (memguard_admit_tiny(r)) {
            return OK;
        }
    }
    if (state == MG_VERDICT_SHED) {
        return memguard_refuse_shed(r, why);
    }
    if (state == MG_VERDICT_THROTTLE && expensive) {
        return memguard_refuse(
            r, MG_REASON_THROTTLE,
            apr_psprintf(r->pool, "expensive call while throttling (%s)",
                         memguard_verdict_detail(
                             r, mg_board_verdict_load(memguard_board()))));
    }
    /* header_parser's check, left here: the body was read meanwhile, so
     * its length is known even if it came chunked */
    limit = memguard_throttle_max_body(r);
    if (state == MG_VERDICT_THROTTLE && ctx->gate_deferred && limit > 0 &&
        ctx->body_seen > limit) {
        return memguard_refuse(
            r, MG_REASON_THROTTLE,
            apr_psprintf(r->pool,
                         "%" APR_OFF_T_FMT " bytes > %" APR_INT64_T_FMT
                         " while throttling (MemGuardThrottleMaxBody; %s)",
                         ctx->body_seen, limit,
                         memguard_verdict_detail(
                             r, mg_board_verdict_load(memguard_board()))));
    }
    return OK;
}

void memguard_gate_register(apr_pool_t *p)
{
    (void)p;
    /* header_parser: memguard_gate_header_parser(), called from
     * mod_memguard.c's one header_parser hook, which orders it after
     * accounting and before the body check. */
}
