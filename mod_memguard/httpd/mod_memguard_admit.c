/*
 * mod_memguard_admit.c - admission by memory cost: an XML-RPC call runs
 * only if what it is expected to take still fits above the shed level.
 *
 * Shedding refuses new work when memory is short; it cannot save the calls
 * already admitted. Twenty calls of a method nobody named, admitted
 * together while memory looked fine, take what a single one would never
 * take. So every inspected call carries an EXPECTED COST:
 *
 *   configured  memory=SIZE on its MemGuardMethod rule;
 *   learned     a high quantile of what its method's calls really took
 *               (the largest growth of the process while one ran: the
 *               child's own statm at the end, and the sampler's look at
 *               it while it ran), older calls weighing less (mg_board.h);
 *               raised at once when a running call grows past it;
 *   default     MemGuardAdmitDefault for a method not measured yet, which
 *               also runs at most MemGuardAdmitSlowStart calls at once
 *               until that many have been measured: an unknown crazy
 *               query teaches the module with two calls, not twenty.
 *
 * A multicall's cost is the sum of its inner calls'. A call whose cost is
 * at most MemGuardAdmitTiny (a builder's getBuild) is admitted without a
 * reservation and never waits. Any other reserves its cost on the board
 * (mg_board_admit_reserve: one compare-and-swap against the BUDGET the
 * sampler publishes every sample: the room above the shed level plus what
 * the calls in flight have grown already). A call that does not fit
 * waits in a bounded queue, first come first served across the server,
 * polling every 10 ms with no lock held, up to MemGuardAdmitWait, then
 * gets a retryable refusal (reason `budget`, Retry-After). The
 * reservation is given back at the end of the request (the sampler frees
 * it once a sample has seen what the call left behind; the parent frees a
 * dead child's).
 *
 * What a call really took is recorded at log_transaction
 * (memguard_admit_end(), from the accounting hook), whether it reserved
 * or not: that is how a tiny method that turns heavy gets a reservation
 * next time.
 */
#include <errno.h>
#include <sys/resource.h>

#include "apr_time.h"
#include "http_core.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"

#include "mod_memguard_admit.h"
#include "mod_memguard_board.h"
#include "mod_memguard_config.h"
#include "mod_memguard_recycle.h"
#include "mod_memguard_recycle_limits.h"
#include "mod_memguard_reject.h"
#include "mod_memguard_request.h"
#include "mod_memguard_sampler.h"
#include "mod_memguard_statm.h"
#include "mg_board.h"

/* How often a waiting call looks again. */
#define ADMIT_POLL_US 10000
/* A waiter whose heartbeat is older than this is gone (killed). */
#define ADMIT_STALE_US 500000
/* Distinct inner methods of a multicall costed one by one. */
#define ADMIT_INNER 16

#define MIB (1024.0 * 1024.0)

typedef enum {
    ADMIT_SRC_CONFIGURED = 0,
    ADMIT_SRC_LEARNED,
    ADMIT_SRC_DEFAULT
} admit_source_e;

static const char *const admit_source_names[] = {"configured", "learned",
                                                 "default"};

struct memguard_admit_call {
    uint32_t top;           /* the call's board method; UINT32_MAX: none */
    apr_int64_t top_memory; /* memory= of its rule; 0 */
    uint32_t ninner;        /* inner calls of a multicall */
    int ndistinct;
    struct {
        uint32_t method;
        uint32_t count;
        apr_int64_t memory;
    } inner[ADMIT_INNER];
    uint32_t unlisted; /* inner calls past ADMIT_INNER distinct methods */

    /* decided by memguard_admit() */
    apr_int64_t cost;
    admit_source_e source;
    int reserved; /* holds a reservation */
    int tiny;     /* admitted as tiny: no reservation, no wait */
    int alone;    /* larger than the budget, admitted with nothing beside */
    uint32_t res_method;
    uint32_t slot;
    /* the ceiling (prefork): RLIMIT_DATA for the length of the call */
    uint64_t ceiling;   /* 0: none set */
    uint64_t allowance; /* what the call may take above its start */
    int ceiling_hit;
    const char *name;
    apr_bucket_brigade *held; /* the ceiling filter's */
};

/* This process's settings, taken in child_init. */
static memguard_admit_settings admit_set;
/* RLIMIT_DATA as the child started, and whether it may set a ceiling:
 * one request at a time (prefork) and MemGuardCallCeiling On. */
static struct rlimit admit_rlim0;
static int admit_can_ceil;
static ap_filter_rec_t *ceiling_handle;

/* The ceiling filter holds this much of a response before it decides. */
#define CEILING_HOLD 8192

static const char *mib(apr_pool_t *p, apr_int64_t v)
{
    return apr_psprintf(p, "%.1f MiB", (double)v / MIB);
}

static memguard_admit_call *admit_call(request_rec *r)
{
    memguard_req_ctx *ctx = memguard_req(r);

    if (ctx->admit == NULL) {
        ctx->admit = apr_pcalloc(r->pool, sizeof(*ctx->admit));
        ctx->admit->top = UINT32_MAX;
    }
    return ctx->admit;
}

void memguard_admit_method(request_rec *r, uint32_t method, apr_int64_t memory,
                           int inner)
{
    memguard_admit_call *c = admit_call(r);
    int i;

    if (!inner) {
        mg_board_t *b = memguard_board();
        int slot = memguard_slot(r->connection);

        c->top = method;
        c->top_memory = memory;
        /* the sampler's live look at this call is per method */
        if (b != NULL && slot >= 0) {
            mg_board_request_method(b, (uint32_t)slot, method);
        }
        return;
    }
    c->ninner++;
    for (i = 0; i < c->ndistinct; i++) {
        if (c->inner[i].method == method && c->inner[i].memory == memory) {
            c->inner[i].count++;
            return;
        }
    }
    if (c->ndistinct == ADMIT_INNER) {
        c->unlisted++;
        return;
    }
    c->inner[c->ndistinct].method = method;
    c->inner[c->ndistinct].count = 1;
    c->inner[c->ndistinct].memory = memory;
    c->ndistinct++;
}

/*
 * The expected cost of one call of method under a rule's memory= (0: no
 * such rule). *slow is set when the method is still in its slow start.
 */
static apr_int64_t admit_expected(mg_board_t *b, uint32_t method,
                                  apr_int64_t memory, admit_source_e *source,
                                  int *slow)
{
    uint64_t measured = 0, c;

    if (memory > 0) {
        *source = ADMIT_SRC_CONFIGURED;
        return memory;
    }
    c = mg_board_method_cost(b, method, &measured);
    if (measured < admit_set.slow) {
        *slow = 1;
    }
    if (measured == 0) {
        *source = ADMIT_SRC_DEFAULT;
        return (uint64_t)admit_set.dflt > c ? admit_set.dflt : (apr_int64_t)c;
    }
    *source = ADMIT_SRC_LEARNED;
    return c > (uint64_t)APR_INT64_MAX / 1024 ? APR_INT64_MAX / 1024
                                              : (apr_int64_t)c;
}

/* The call's cost: its own, or the sum of its inner calls'. */
static apr_int64_t admit_cost(mg_board_t *b, memguard_admit_call *c, int *slow)
{
    admit_source_e src;
    apr_int64_t sum = 0, e;
    int i;

    *slow = 0;
    if (c->ninner == 0) {
        return admit_expected(b, c->top, c->top_memory, &c->source, slow);
    }
    c->source = ADMIT_SRC_CONFIGURED;
    for (i = 0; i < c->ndistinct; i++) {
        e = admit_expected(b, c->inner[i].method, c->inner[i].memory, &src,
                           slow);
        sum += e * c->inner[i].count;
        if (src > c->source) {
            c->source = src; /* the least certain part names the whole */
        }
    }
    if (c->unlisted > 0) {
        sum += admit_set.dflt * (apr_int64_t)c->unlisted;
        c->source = ADMIT_SRC_DEFAULT;
    }
    return sum;
}

/* Requests this child has ended: its first one also loads the
 * application (mod_wsgi imports it on the first call unless
 * WSGIImportScript did at start), which is not what the call costs. */
static apr_uint64_t admit_requests;

/* Are all the call's methods measured already? Then a first request's
 * growth (mostly the application's import) is left out of their costs;
 * a method never measured takes it: too high is safer than nothing. */
static int admit_known(mg_board_t *b, const memguard_admit_call *c)
{
    uint64_t measured;
    int i;

    if (c->ninner == 0) {
        mg_board_method_cost(b, c->top, &measured);
        return measured > 0;
    }
    for (i = 0; i < c->ndistinct; i++) {
        mg_board_method_cost(b, c->inner[i].method, &measured);
        if (measured == 0) {
            return 0;
        }
    }
    return 1;
}

/* If the sampler's last resort marked this child's slot (and lowered its
 * RLIMIT_DATA): take the mark, lift the limit, and let a fresh child take
 * over after this request (what the stopped call left behind is no use to
 * anyone). */
static void admit_lastresort_lift(request_rec *r, int slot, const char *why)
{
    if (mg_board_lastresort_take(memguard_board(), (uint32_t)slot)) {
        setrlimit(RLIMIT_DATA, &admit_rlim0);
        memguard_recycle_request(r, MG_RECYCLE_CEILING, why);
    }
}

/* Give RLIMIT_DATA back as the child had it. */
static void admit_ceiling_restore(memguard_admit_call *c)
{
    if (c->ceiling != 0) {
        c->ceiling = 0;
        setrlimit(RLIMIT_DATA, &admit_rlim0);
    }
}

static apr_status_t admit_release_cleanup(void *data)
{
    memguard_admit_call *c = data;
    mg_board_t *b = memguard_board();

    admit_ceiling_restore(c);
    if (c->reserved && b != NULL) {
        c->reserved = 0;
        mg_board_admit_release(b, c->slot, c->res_method, c->cost);
    }
    return APR_SUCCESS;
}

/*
 * The ceiling. Under prefork the child serves this one call, so its own
 * RLIMIT_DATA can be lowered for the length of the call to what the call
 * may take: its size now plus twice its expected cost (at least 64 MiB
 * more than the cost), but no more than what the budget had free for it
 * (a method never measured: its share of that, MemGuardAdmitSlowStart
 * of them may run at once).
 * An allocation past it fails inside the application (Python raises
 * MemoryError, which the hub turns into a fault): that call fails alone,
 * instead of the kernel's OOM killer choosing a victim (on a real hub it
 * may be PostgreSQL). RLIMIT_DATA counts private writable mappings, what
 * malloc and Python's arenas take. Given back at the end of the request.
 */
static void admit_ceiling(request_rec *r, memguard_admit_call *c,
                          int64_t budget)
{
    mg_board_t *b = memguard_board();
    int64_t room = budget - mg_board_admit_reserved(b) + c->cost;
    uint64_t allow = (uint64_t)c->cost * 2;
    mg_proc_statm_t st;
    struct rlimit rl;

    if (!admit_can_ceil || budget == MG_BOARD_BUDGET_NONE ||
        memguard_statm_read(&st) != 0) {
        return;
    }
    if (allow < (uint64_t)c->cost + ((uint64_t)64 << 20)) {
        allow = (uint64_t)c->cost + ((uint64_t)64 << 20);
    }
    if (c->source == ADMIT_SRC_DEFAULT && room > 0) {
        /* a method never measured: nothing says what it may need, so it
         * may take its share of what the budget has free: its slow start
         * runs MemGuardAdmitSlowStart at once, and together they must
         * stay above the shed level; it must not fail for being new */
        allow = (uint64_t)room / (admit_set.slow > 0 ? admit_set.slow : 1);
    }
    if (room > 0 && allow > (uint64_t)room) {
        allow = (uint64_t)room > (uint64_t)c->cost || c->alone
                    ? (uint64_t)room
                    : (uint64_t)c->cost;
    }
    rl.rlim_cur = st.data + allow;
    rl.rlim_max = admit_rlim0.rlim_max;
    if ((admit_rlim0.rlim_cur != RLIM_INFINITY &&
         rl.rlim_cur >= admit_rlim0.rlim_cur) ||
        (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)) {
        return; /* the child's own limit is tighter already */
    }
    if (setrlimit(RLIMIT_DATA, &rl) != 0) {
        return;
    }
    c->ceiling = rl.rlim_cur;
    c->allowance = allow;
    mg_board_admit_note(b, c->slot, NULL, c->ceiling);
    ap_add_output_filter_handle(ceiling_handle, c, r, r->connection);
}

/* Did the call come near its ceiling (or did the last resort stop it)? */
static int ceiling_reached(memguard_admit_call *c)
{
    mg_board_t *b = memguard_board();
    mg_proc_statm_t st;
    uint64_t margin = c->allowance / 8, peak;

    if (margin < ((uint64_t)8 << 20)) {
        margin = (uint64_t)8 << 20;
    }
    if (memguard_statm_read(&st) == 0 && st.data + margin >= c->ceiling) {
        return 1;
    }
    peak = b != NULL ? mg_board_request_peak(b, c->slot) : 0;
    return peak + margin >= c->allowance ||
           (b != NULL && mg_board_lastresort_peek(b, c->slot));
}

/* Does the held start of a response say the call failed for memory? */
static int ceiling_failed(request_rec *r, memguard_admit_call *c,
                          apr_bucket_brigade *held)
{
    char *text;
    apr_size_t len = CEILING_HOLD;
    int fault, memerr;

    text = apr_palloc(r->pool, CEILING_HOLD + 1);
    if (apr_brigade_flatten(held, text, &len) != APR_SUCCESS) {
        len = 0;
    }
    text[len] = '\0';
    fault = strstr(text, "<fault>") != NULL;
    if (r->status < 500 && !fault) {
        return 0; /* an answer, not an error */
    }
    memerr = strstr(text, "MemoryError") != NULL ||
             strstr(text, "Cannot allocate memory") != NULL;
    return memerr || ceiling_reached(c);
}

/*
 * MEMGUARD_CEILING: added only for a call under a ceiling. It holds the
 * start of the response (up to CEILING_HOLD bytes, or all of it) and, if
 * it is an error from a call that failed at its ceiling, answers with
 * memguard's own fault instead (the application's says "MemoryError" at
 * best), counts it, and has the child recycled (its heap is what the
 * failed call left). Anything else passes as it was.
 */
static apr_status_t ceiling_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    memguard_req_ctx *rq = memguard_req(r);
    memguard_admit_call *c = f->ctx;
    apr_bucket *e;
    apr_off_t n = 0;
    int eos = 0;

    if (rq->answering || rq->refused || c->ceiling_hit) {
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, bb);
    }
    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
         e = APR_BUCKET_NEXT(e)) {
        if (APR_BUCKET_IS_EOS(e)) {
            eos = 1;
        }
    }
    if (c->held == NULL) {
        c->held = apr_brigade_create(r->pool, f->c->bucket_alloc);
    }
    if (ap_save_brigade(f, &c->held, &bb, r->pool) != APR_SUCCESS) {
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, c->held);
    }
    apr_brigade_length(c->held, 0, &n);
    if (!eos && n >= 0 && n < CEILING_HOLD) {
        return APR_SUCCESS; /* hold on */
    }
    ap_remove_output_filter(f);
    if (!ceiling_failed(r, c, c->held)) {
        return ap_pass_brigade(f->next, c->held);
    }
    c->ceiling_hit = 1;
    apr_brigade_cleanup(c->held);
    mg_board_admit_count(memguard_board(), MG_ADMIT_CEILING);
    apr_table_clear(r->headers_out);
    r->content_encoding = NULL;
    if (mg_board_lastresort_peek(memguard_board(), c->slot)) {
        /* memguard_admit_end() lifts the limit and recycles the child */
        return memguard_refuse_in_filter(
            f, MG_REASON_CEILING,
            apr_psprintf(r->pool,
                         "'%s' was stopped as a last resort: memory went "
                         "far past the shed level while it ran, and it had "
                         "grown the most past its expected cost (%s, %s)",
                         c->name, mib(r->pool, c->cost),
                         admit_source_names[c->source]));
    }
    memguard_recycle_request(r, MG_RECYCLE_CEILING,
                             "a call failed at its memory ceiling");
    return memguard_refuse_in_filter(
        f, MG_REASON_CEILING,
        apr_psprintf(r->pool,
                     "'%s' failed needing more than its ceiling of %s above "
                     "its start (expected cost %s, %s; MemGuardCallCeiling)",
                     c->name, mib(r->pool, (apr_int64_t)c->allowance),
                     mib(r->pool, c->cost), admit_source_names[c->source]));
}

/* For a call the gate left its shed to (ctx->gate_shed): is the sampler
 * shedding now? MEMGUARD_SHED_LEVEL, MEMGUARD_SHED_FORECAST (nothing
 * reserves while the forecast stands: the calls already running are
 * growing towards the shed level) or 0. *why gets the verdict. */
static int admit_shedding(request_rec *r, const char **why)
{
    int k = memguard_req(r)->gate_shed ? memguard_board_shedding() : 0;

    if (k != 0 && why != NULL) {
        *why =
            memguard_verdict_detail(r, mg_board_verdict_load(memguard_board()));
    }
    return k;
}

int memguard_admit_tiny(request_rec *r)
{
    memguard_admit_call *c = memguard_req(r)->admit;

    return c != NULL && c->tiny;
}

/* Why a call waits or is refused: the numbers an operator needs. */
static const char *admit_why(request_rec *r, memguard_admit_call *c,
                             const char *name, int64_t budget)
{
    mg_board_t *b = memguard_board();
    int64_t reserved = mg_board_admit_reserved(b), waiting_bytes = 0;
    uint32_t waiting = mg_board_queue_waiting(b, memguard_now_us(),
                                              ADMIT_STALE_US, &waiting_bytes);
    const char *sfree =
        budget > reserved ? mib(r->pool, budget - reserved) : "nothing";
    const char *fc = NULL;

    if (admit_shedding(r, &fc)) {
        sfree = "nothing";
    }
    return apr_psprintf(
        r->pool,
        "'%s' expects %s (%s); the budget has %s free (%s above the shed "
        "level, %s reserved by the calls in flight), %u call(s) waiting%s%s",
        name, mib(r->pool, c->cost), admit_source_names[c->source], sfree,
        mib(r->pool, budget), mib(r->pool, reserved), waiting,
        fc ? "; the calls in flight are nearing the shed level: " : "",
        fc ? fc : "");
}

static int admit_decide(request_rec *r)
{
    memguard_req_ctx *ctx = memguard_req(r);
    memguard_admit_call *c = ctx->admit;
    mg_board_t *b = memguard_board();
    const char *name;
    int64_t budget;
    uint64_t at, now, start, deadline;
    int slot, slow, force, rc, e = -1;
    uint32_t slow_n;
    mg_board_queue_state_t qs;

    if (c == NULL || c->top == UINT32_MAX || b == NULL || r->main ||
        !memguard_admission(r) || !memguard_sampler_enabled()) {
        return OK;
    }
    slot = memguard_slot(r->connection);
    if (slot < 0) {
        return OK;
    }
    c->slot = (uint32_t)slot;
    /* The last resort aimed at this process's previous call after it had
     * ended: lift the limit before this call needs it. */
    admit_lastresort_lift(r, slot,
                          "the sampler's last resort came after the call it "
                          "aimed at had ended");
    c->cost = admit_cost(b, c, &slow);
    slow_n = slow ? admit_set.slow : 0;
    if (c->cost <= admit_set.tiny && !slow) {
        mg_board_admit_count(b, MG_ADMIT_TINY);
        c->tiny = 1; /* it runs even while shedding (ctx->gate_shed) */
        return OK;
    }
    /* Only for a call admission weighs: on the common tiny call one more
     * "memguard-" note would cost every other one a strcasecmp (APR's
     * table checksum is the key's first four bytes, the same for all). */
    apr_table_setn(r->notes, "memguard-cost",
                   apr_off_t_toa(r->pool, (apr_off_t)c->cost));
    /* for the log lines and refusals below; a tiny call needs none */
    name = apr_table_get(r->notes, "memguard-method");
    if (name == NULL) {
        name = "?";
    }
    if (admit_shedding(r, NULL) == MEMGUARD_SHED_LEVEL) {
        return memguard_refuse_shed(r, NULL); /* OK under DetectOnly */
    }
    budget = mg_board_admit_budget(b, &at);
    if (budget == MG_BOARD_BUDGET_NONE) {
        return OK; /* no shed level: nothing to keep room above */
    }
    now = memguard_now_us();
    /* A stale budget (the sampler is stuck): the gate has applied
     * MemGuardFailMode already; an admitted call still reserves, so that
     * the accounting stays whole, but does not wait. DetectOnly never
     * waits either. */
    force =
        at == 0 || now < at ||
        now - at > memguard_stale_after_us(memguard_headroom(ap_server_conf));
    /* An essential call (MemGuardMethod ... essential) finishes work: it
     * reserves, so that what it takes is counted, but never waits. */
    if (ctx->essential) {
        force = 1;
    }
    if (ctx->engine == MEMGUARD_ENGINE_DETECT) {
        rc = admit_shedding(r, NULL)
                 ? -ENOSPC
                 : mg_board_admit_reserve(b, c->slot, c->top, c->cost,
                                          ctx->rss_begin, budget, slow_n, 0);
        if (rc == -ENOSPC || rc == -EBUSY) {
            ap_log_rerror(
                APLOG_MARK, APLOG_INFO, 0, r,
                MGLOGNO(00600) "DetectOnly: would queue this call: %s",
                rc == -EBUSY
                    ? apr_psprintf(r->pool,
                                   "'%s' is in its slow start (%u calls at "
                                   "once until measured)",
                                   name, admit_set.slow)
                    : admit_why(r, c, name, budget));
            force = 1;
        }
        else if (rc == 0) {
            goto admitted;
        }
        else {
            return OK;
        }
    }
    c->res_method = c->top;
    /* First come, first served: while calls wait for the budget, a new
     * one goes behind them, even if it would fit (a big call waiting for
     * room must not be overtaken for ever by smaller ones). */
    rc = !force && (admit_shedding(r, NULL) ||
                    mg_board_queue_ahead(b, now, ADMIT_STALE_US) > 0)
             ? -ENOSPC
             : mg_board_admit_reserve(b, c->slot, c->top, c->cost,
                                      ctx->rss_begin, budget, slow_n, force);
    if (rc == 0) {
        goto admitted;
    }
    if (rc != -ENOSPC && rc != -EBUSY) {
        return OK; /* a slot holding 65535 calls: not bounded here */
    }

    /* Wait: in arrival order for the budget; beside the line while the
     * method is in its slow start. */
    start = now;
    deadline = start + (uint64_t)admit_set.wait_us;
    qs = rc == -EBUSY ? MG_QUEUE_SLOW : MG_QUEUE_BUDGET;
    if (admit_set.wait_us > 0) {
        e = mg_board_queue_enter(b, start, c->cost, qs, now, ADMIT_STALE_US);
    }
    if (e < 0) {
        mg_board_admit_count(b, MG_ADMIT_REFUSED);
        return memguard_refuse(
            r, MG_REASON_BUDGET,
            apr_psprintf(r->pool, "%s%s", admit_why(r, c, name, budget),
                         admit_set.wait_us > 0
                             ? "; the queue is full"
                             : " (MemGuardAdmitWait 0: no waiting)"));
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, MGLOGNO(00601) "queued: %s",
                  qs == MG_QUEUE_SLOW ? "slow start"
                                      : admit_why(r, c, name, budget));
    for (;;) {
        apr_sleep(ADMIT_POLL_US);
        now = memguard_now_us();
        mg_board_queue_beat(b, e, qs, now);
        budget = mg_board_admit_budget(b, &at);
        if (budget == MG_BOARD_BUDGET_NONE) {
            rc = 0; /* the levels went away (a restart): go */
            break;
        }
        if ((rc = admit_shedding(r, NULL)) == MEMGUARD_SHED_LEVEL) {
            /* the forecast came true: shed, as any call now */
            mg_board_queue_leave(b, e);
            return memguard_refuse_shed(r, NULL);
        }
        if (rc != 0) {
            /* the forecast stands: nobody in the line reserves */
        }
        else if (qs == MG_QUEUE_SLOW ||
                 mg_board_queue_first(b, e, now, ADMIT_STALE_US)) {
            rc = mg_board_admit_reserve(b, c->slot, c->top, c->cost,
                                        ctx->rss_begin, budget, slow_n, 0);
            if (rc == 0) {
                break;
            }
            if (rc == -ENOSPC && qs == MG_QUEUE_SLOW) {
                /* past its slow start: in line for the budget, by the
                 * time it arrived */
                qs = MG_QUEUE_BUDGET;
                mg_board_queue_beat(b, e, qs, now);
            }
            else if (rc != -ENOSPC && rc != -EBUSY) {
                break;
            }
        }
        if (now >= deadline) {
            mg_board_queue_leave(b, e);
            mg_board_admit_count(b, MG_ADMIT_REFUSED);
            return memguard_refuse(
                r, MG_REASON_BUDGET,
                apr_psprintf(r->pool,
                             "%s; waited %" APR_UINT64_T_FMT
                             " ms (MemGuardAdmitWait)",
                             qs == MG_QUEUE_SLOW
                                 ? apr_psprintf(r->pool,
                                                "'%s' is in its slow start "
                                                "(%u calls at once until "
                                                "measured)",
                                                name, admit_set.slow)
                                 : admit_why(r, c, name, budget),
                             (now - start) / 1000));
        }
    }
    mg_board_queue_leave(b, e);
    if (rc != 0 || budget == MG_BOARD_BUDGET_NONE) {
        return OK;
    }
    mg_board_admit_count(b, MG_ADMIT_WAITED);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  MGLOGNO(00602) "admitted '%s' (%s) after %" APR_UINT64_T_FMT
                                 " ms in the queue",
                  name, mib(r->pool, c->cost), (now - start) / 1000);

admitted:
    c->reserved = 1;
    c->res_method = c->top;
    c->name = name;
    if (!force && c->cost > budget) {
        /* mg_board_admit_reserve()'s "alone": nothing else was reserved,
         * and no budget will be larger than an empty one */
        c->alone = 1;
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      MGLOGNO(00605) "admitted '%s' alone: it expects %s "
                                     "(%s), more than the whole budget "
                                     "(%s); nothing else is admitted "
                                     "beside it",
                      name, mib(r->pool, c->cost),
                      admit_source_names[c->source], mib(r->pool, budget));
    }
    apr_pool_cleanup_register(r->pool, c, admit_release_cleanup,
                              apr_pool_cleanup_null);
    mg_board_admit_note(b, c->slot, r->useragent_ip, 0);
    mg_board_admit_count(b, MG_ADMIT_ADMITTED);
    if (ctx->engine == MEMGUARD_ENGINE_ON) {
        admit_ceiling(r, c, budget);
    }
    return OK;
}

int memguard_admit(request_rec *r)
{
    memguard_req_ctx *ctx = memguard_req(r);
    int rc = admit_decide(r);

    ctx->admit_done = 1;
    /* A call the gate left its shed to runs only if it was tiny, or
     * admitted once the forecast had gone (it reserved): not one that
     * admission let go unweighed (no budget, no board slot...). */
    if (rc == OK && ctx->gate_shed && !ctx->refused &&
        (ctx->admit == NULL || (!ctx->admit->tiny && !ctx->admit->reserved))) {
        rc = memguard_refuse_shed(r, NULL);
    }
    return rc;
}

void memguard_admit_end(request_rec *r, uint64_t rss, int64_t delta, int have)
{
    memguard_req_ctx *ctx =
        ap_get_module_config(r->request_config, &memguard_module);
    memguard_admit_call *c = ctx ? ctx->admit : NULL;
    mg_board_t *b = memguard_board();
    uint64_t cost, peak = 0;
    int slot, first;

    (void)rss;
    if (c == NULL || b == NULL || c->top == UINT32_MAX) {
        return;
    }
    slot = memguard_slot(r->connection);
    /* A call that reached its ceiling and answered with an error document
     * (httpd sends those without the content filters, the ceiling filter
     * among them) still had an allocation fail somewhere inside the
     * application, which may leave an interpreter inconsistent (Python
     * then crashes in a later call, or at exit): recycle the child all
     * the same. */
    if (c->ceiling != 0 && !c->ceiling_hit && r->status >= 500 &&
        ceiling_reached(c)) {
        c->ceiling_hit = 1;
        mg_board_admit_count(b, MG_ADMIT_CEILING);
        memguard_recycle_request(r, MG_RECYCLE_CEILING,
                                 "a call failed at its memory ceiling "
                                 "(its answer was the application's error)");
    }
    first = admit_requests++ == 0;
    /* A call refused before it ran took nothing of what its method
     * costs: measuring it would teach that the method is free. */
    if (have && slot >= 0 && !ctx->refused_early &&
        !(first && admit_known(b, c))) {
        /* what the call took: its growth at the end, or more if the
         * sampler saw it larger while it ran */
        cost = delta > 0 ? (uint64_t)delta : 0;
        peak = mg_board_request_peak(b, (uint32_t)slot);
        if (peak > cost) {
            cost = peak;
        }
        if (c->ninner == 0) {
            mg_board_method_cost_record(b, c->top, cost);
        }
        else if (c->cost > 0) {
            /* shared among the inner calls as they were expected to */
            int i;
            uint32_t k;

            for (i = 0; i < c->ndistinct; i++) {
                admit_source_e src;
                int sl = 0;
                apr_int64_t e = admit_expected(b, c->inner[i].method,
                                               c->inner[i].memory, &src, &sl);
                uint64_t each =
                    (uint64_t)((double)cost * (double)e / (double)c->cost);

                for (k = 0; k < c->inner[i].count && k < 64; k++) {
                    mg_board_method_cost_record(b, c->inner[i].method, each);
                }
            }
        }
    }
    /* The sampler's last resort lowered this process's RLIMIT_DATA to
     * stop this call. */
    if (slot >= 0) {
        admit_lastresort_lift(r, slot,
                              "the sampler stopped its call as a last resort");
    }
    admit_release_cleanup(c);
}

/*
 * A child leaves with the RLIMIT_DATA it started with. The sampler's last
 * resort may lower it just after the call it aimed at has ended (no
 * request then takes the mark), and an embedded interpreter's finalization
 * at exit needs memory: Python's garbage collector crashes (SIGSEGV) in
 * Py_FinalizeEx under a limit below what the process holds. A pre-cleanup
 * of the child's pool runs before every other cleanup and subpool of it,
 * mod_wsgi's finalization included.
 */
static apr_status_t admit_child_exit(void *data)
{
    (void)data;
    setrlimit(RLIMIT_DATA, &admit_rlim0);
    return APR_SUCCESS;
}

static void admit_child_init(apr_pool_t *p, server_rec *s)
{
    (void)s;
    memguard_admit_settings_get(&admit_set);
    if (getrlimit(RLIMIT_DATA, &admit_rlim0) != 0) {
        admit_rlim0.rlim_cur = admit_rlim0.rlim_max = RLIM_INFINITY;
    }
    admit_can_ceil = admit_set.ceiling && memguard_recycle_mpm_can_signal();
    apr_pool_pre_cleanup_register(p, NULL, admit_child_exit);
}

void memguard_admit_register(apr_pool_t *p)
{
    (void)p;
    /* MIDDLE: copies settings, nothing else depends on it */
    ap_hook_child_init(admit_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    /* Above MEMGUARD_RESPCAP (AP_FTYPE_CONTENT_SET - 1): it must see the
     * application's answer before anything else decides on it. */
    ceiling_handle = ap_register_output_filter(
        "MEMGUARD_CEILING", ceiling_filter, NULL, AP_FTYPE_CONTENT_SET - 2);
}
