/*
 * mod_memguard_xmlrpc.c - MemGuardXmlRpc: inspect an XML-RPC call before
 * the application sees a byte of it.
 *
 * For a POST to a location with MemGuardXmlRpc On, the first handler hook
 * reads the whole body through the input filter chain (so mod_deflate's
 * inflating filter and MEMGUARD_BODY run first: what is inspected and
 * counted is what the application would read), feeds every chunk to the
 * streaming inspector (mg_xmlrpc.h) and spools it: in memory up to
 * MemGuardSpoolMemory, then in an unlinked temporary file
 * (mod_memguard_spool.c). The inspector reports each methodName as soon
 * as it is parsed, top-level and every inner call of a multicall at every
 * nesting level (MemGuardMulticall names the multicall methods), and the
 * MemGuardMethod rules
 * (mod_memguard_rules.c) are applied right there: a denied method stops
 * the read at once. Only an accepted call goes on: the verdict gate, the
 * per-method concurrency slots, the per-method response cap, then the
 * handler declines to the real handler (mod_wsgi...), which reads an exact
 * replay of the spooled bytes from the MEMGUARD_REPLAY input filter, with
 * a Content-Length (a chunked or inflated body gets its true length).
 *
 * Most calls are small and come with their headers: such a body is read
 * in place (xr_in_place(): looked at in httpd's buffer, not taken), fed
 * to the inspector whole (its fast path reads what clients write without
 * libxml2), and left for the application to read as if memguard were not
 * there: no spool, no replay. That is most of what the inspection of a
 * getBuild costs.
 *
 * A refused call never reaches the application: nothing half-executed.
 */
#include <errno.h>

#include "apr_lib.h"
#include "apr_time.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"

#include "mod_memguard_admit.h"
#include "mod_memguard_board.h"
#include "mod_memguard_body.h"
#include "mod_memguard_config.h"
#include "mod_memguard_gate.h"
#include "mod_memguard_nice.h"
#include "mod_memguard_reject.h"
#include "mod_memguard_request.h"
#include "mod_memguard_respcap.h"
#include "mod_memguard_rules.h"
#include "mod_memguard_spool.h"
#include "mod_memguard_xmlrpc.h"
#include "mod_memguard_xrconf.h"
#include "mg_board.h"

/* MemGuardSpoolMemory default: a few hundred ordinary calls' worth; Koji's
 * uploadFile chunks (1.4 MB of base64) go to a file. */
#define MEMGUARD_DEFAULT_SPOOL_MEMORY (256 * 1024)

/*
 * The bound on an inspected body when MemGuardMaxRequestBody is 0 (no
 * limit): an inspected body is held until it is judged, on disk past
 * MemGuardSpoolMemory, so an unbounded one could fill the spool
 * directory. 64 MiB is sixteen times the Koji hub's own default
 * MaxRequestLength (4 MiB); set MemGuardMaxRequestBody to choose.
 */
#define MEMGUARD_XMLRPC_BODY_BOUND ((apr_int64_t)64 << 20)

/* Bytes asked of the input filters per read. */
#define MEMGUARD_XR_READ (64 * 1024)

/* Distinct board methods one call can need a concurrency slot of. */
#define MEMGUARD_XR_HOLDS (MEMGUARD_BOARD_METHODS + 1)

/* ---- inspection ---------------------------------------------------------- */

typedef struct {
    request_rec *r;
    memguard_req_ctx *ctx;
    const struct memguard_xr_conf *xr; /* its rules */
    mg_xmlrpc_t *x; /* the inspector: multicall names, the path to a call */
    int detect;
    apr_off_t declared; /* Content-Length of an unencoded body, or -1 */
    apr_off_t seen;     /* decoded bytes read so far */

    /* the first refusal a rule decided (On), with its reason and text */
    int verdict;
    mg_reason_t reason;
    const char *detail;
    int detect_noted; /* DetectOnly: one rule decision logged */
    int body_checked; /* max-body decided once */

    /* what the matched rules ask of this call */
    apr_int64_t max_body;
    const memguard_rule *max_body_rule;
    const char *max_body_method;
    apr_int64_t max_response;
    int expensive;
    int nice;                /* the largest nice= of its methods */
    const char *nice_method; /* the method it came from */
    memguard_hold *holds;    /* made when a rule first asks for a slot */
    int nholds;
    /* essential: the calls that do work (every method but the multicalls
     * that carry them), and whether one of them is not essential */
    uint32_t works;
    int not_essential;

    /* the last lookup: a multicall usually repeats one method */
    char *last_name;
    const memguard_rule *last_rule;
    uint32_t last_method; /* its board entry; UINT32_MAX: not looked up */
    int have_last;
} xr_call;

/* Record a rule's refusal; nonzero stops the inspector (never under
 * DetectOnly, where the first decision is logged and the read goes on). */
static int xr_verdict(xr_call *c, mg_reason_t reason, const char *detail)
{
    if (c->detect) {
        if (!c->detect_noted) {
            c->detect_noted = 1;
            memguard_refuse(c->r, reason, detail);
        }
        return 0;
    }
    if (!c->verdict) {
        c->verdict = 1;
        c->reason = reason;
        c->detail = detail;
    }
    return 1;
}

/* max-body= is known once a methodName is: compare the declared length
 * (known up front) or what has been read so far. */
static int xr_check_body(xr_call *c)
{
    int declared = c->declared >= 0 && c->declared >= c->seen;
    apr_off_t n = declared ? c->declared : c->seen;

    if (c->max_body <= 0 || n <= c->max_body || c->body_checked) {
        return 0;
    }
    c->body_checked = 1;
    return xr_verdict(c, MG_REASON_METHOD_BODY,
                      apr_psprintf(c->r->pool,
                                   "%s%" APR_OFF_T_FMT
                                   " bytes > limit %" APR_INT64_T_FMT
                                   " for '%s' (%s)",
                                   declared ? "" : "at least ", n, c->max_body,
                                   c->max_body_method, c->max_body_rule->text));
}

static const memguard_rule *xr_match(xr_call *c, const char *name, size_t len)
{
    if (c->have_last && !strcmp(c->last_name, name)) {
        return c->last_rule;
    }
    c->last_rule = memguard_rule_match(c->xr, name);
    memcpy(c->last_name, name, len + 1);
    c->last_method = UINT32_MAX;
    c->have_last = 1;
    return c->last_rule;
}

/* The board entry of the name xr_match() just looked up. */
static uint32_t xr_method(xr_call *c, mg_board_t *board, const char *name,
                          size_t len)
{
    if (c->last_method == UINT32_MAX) {
        c->last_method = mg_board_method_get(board, name, len);
    }
    return c->last_method;
}

static void xr_add_hold(xr_call *c, uint32_t method, const memguard_rule *rule,
                        const char *name)
{
    int i;

    for (i = 0; i < c->nholds; i++) {
        if (c->holds[i].method == method) {
            return;
        }
    }
    if (c->nholds == MEMGUARD_XR_HOLDS) {
        return; /* cannot happen: one entry per board method */
    }
    if (c->holds == NULL) {
        /* most calls need none: not 3 KB cleared for every call */
        c->holds =
            apr_palloc(c->r->pool, MEMGUARD_XR_HOLDS * sizeof(*c->holds));
    }
    c->holds[c->nholds].method = method;
    c->holds[c->nholds].limit = rule->concurrency;
    c->holds[c->nholds].queue_us = rule->queue_us;
    c->holds[c->nholds].name = apr_pstrdup(c->r->pool, name);
    c->holds[c->nholds].rule = rule;
    c->holds[c->nholds].held = 0;
    c->nholds++;
}

/* The inspector's methodName callback (mg_xmlrpc.h): the top-level name,
 * then every call of a multicall at every level, in document order. */
static int xr_method_cb(void *baton, const char *name, size_t len, int level,
                        uint32_t index, mg_reason_t *reason)
{
    xr_call *c = baton;
    request_rec *r = c->r;
    mg_board_t *board = memguard_board();
    const memguard_rule *rule;
    uint32_t method = UINT32_MAX;
    char path[160];
    int multicall = mg_xmlrpc_multicall_name(c->x, name, len);

    (void)index; /* in the path */
    rule = xr_match(c, name, len);
    if (board != NULL) {
        method = xr_method(c, board, name, len);
    }
    if (!level) {
        /* Known from here on: refusals and statistics are per method. */
        c->ctx->method_idx = method;
        apr_table_setn(r->notes, "memguard-method",
                       apr_pstrmemdup(r->pool, name, len));
    }
    else if (method != UINT32_MAX) {
        /* a call of its own on the status page; its bytes and memory are
         * the multicall's */
        mg_board_method_count(board, method, 1);
    }
    if (!multicall) {
        c->works++;
        c->not_essential |= rule == NULL || !rule->essential;
    }
    /* admission by memory cost: the call's method, and every call that
     * does work at every level (a multicall's cost is the sum of theirs;
     * the multicalls that carry them cost nothing of their own) */
    if (board != NULL && (!level || !multicall)) {
        memguard_admit_method(r, method, rule ? rule->memory : 0, level);
    }
    if (rule == NULL) {
        return 0;
    }
    if (rule->deny) {
        *reason = MG_REASON_METHOD_DENIED;
        if (level) {
            mg_xmlrpc_call_path(c->x, path, sizeof(path));
        }
        return xr_verdict(
            c, MG_REASON_METHOD_DENIED,
            level ? apr_psprintf(r->pool, "'%s' in %s (%s)", name, path,
                                 rule->text)
                  : apr_psprintf(r->pool, "'%s' (%s)", name, rule->text));
    }
    c->expensive |= rule->expensive;
    if (rule->nice > c->nice) {
        c->nice = rule->nice;
        c->nice_method = apr_pstrmemdup(r->pool, name, len);
    }
    if (rule->max_body > 0 &&
        (c->max_body == 0 || rule->max_body < c->max_body)) {
        c->max_body = rule->max_body;
        c->max_body_rule = rule;
        c->max_body_method = apr_pstrmemdup(r->pool, name, len);
    }
    if (rule->max_response > 0 &&
        (c->max_response == 0 || rule->max_response < c->max_response)) {
        c->max_response = rule->max_response;
    }
    if (rule->concurrency > 0 && board != NULL) {
        xr_add_hold(c, method, rule, name);
    }
    if (xr_check_body(c)) {
        *reason = MG_REASON_METHOD_BODY;
        return 1;
    }
    return 0;
}

/*
 * One inspector per thread, reused from one request to the next
 * (mg_xmlrpc_reset), which saves creating and freeing libxml2's parser
 * context each time. A request takes it out of the cache (NULL while in
 * use) and gives it back in its pool cleanup. httpd's threads (prefork's
 * one, event/worker's workers) live as long as the child, so nothing is
 * freed at thread exit: at most one idle inspector per thread, about
 * 60 KB; one that mg_xmlrpc_reusable() refuses (error, a grown
 * dictionary) is freed instead of kept.
 */
static __thread mg_xmlrpc_t *xr_cached;

static apr_status_t xr_free_inspector(void *p)
{
    mg_xmlrpc_t *x = p;

    if (xr_cached == NULL && mg_xmlrpc_reusable(x)) {
        xr_cached = x;
    }
    else {
        mg_xmlrpc_free(x);
    }
    return APR_SUCCESS;
}

/* The refusal text for the inspector's own decisions. */
static const char *xr_detail(request_rec *r, const mg_xmlrpc_refusal_t *rf)
{
    if (rf->reason == MG_REASON_XML_LIMIT) {
        return apr_psprintf(r->pool, "%s (MemGuardXmlLimits %s)", rf->text,
                            rf->what);
    }
    return rf->text;
}

/* The Content-Length of the body, when it says up front what max-body=
 * and the bound will find (no chunks, no Content-Encoding that makes the
 * decoded body differ); else -1. */
static apr_off_t xr_declared(request_rec *r)
{
    uint64_t n;

    if (memguard_content_length(r->headers_in, &n) > 0 &&
        !apr_table_get(r->headers_in, "Transfer-Encoding") &&
        !apr_table_get(r->headers_in, "Content-Encoding")) {
        return (apr_off_t)n;
    }
    return -1;
}

/* The inspector for c (this thread's cached one, reset, when it can be
 * reused), freed or cached again with r's pool. NULL (logged) when it
 * cannot be made. */
static mg_xmlrpc_t *xr_inspector(request_rec *r, xr_call *c,
                                 const struct memguard_xr_conf *xr)
{
    mg_xmlrpc_limits_t lim;
    mg_xmlrpc_t *x;
    int rc;

    memguard_xr_limits(xr, &lim);
    c->last_name = apr_palloc(r->pool, (apr_size_t)lim.name + 1);
    x = xr_cached;
    xr_cached = NULL;
    if (x != NULL) {
        rc = mg_xmlrpc_reset(x, &lim, xr_method_cb, c);
        if (rc != 0) {
            mg_xmlrpc_free(x);
            x = NULL;
        }
    }
    else {
        rc = mg_xmlrpc_new(&x, &lim, xr_method_cb, c);
    }
    /* MemGuardMulticall (names checked when the configuration was
     * read; a reset brought the default back) */
    if (rc == 0 && xr->multicall != NULL) {
        rc =
            mg_xmlrpc_set_multicall(x, (const char *const *)xr->multicall->elts,
                                    (size_t)xr->multicall->nelts);
        if (rc != 0) {
            mg_xmlrpc_free(x);
        }
    }
    if (rc != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      MGLOGNO(00205) "cannot create the XML-RPC inspector "
                                     "(error %d)",
                      rc);
        return NULL;
    }
    c->x = x;
    apr_pool_cleanup_register(r->pool, x, xr_free_inspector,
                              apr_pool_cleanup_null);
    return x;
}

/* A body the inspector can take whole (its fast path's size): a
 * Content-Length of an unencoded body, at most 64 KiB, within the bound. */
static int xr_small(const xr_call *c, apr_int64_t bound)
{
    return c->declared > 0 && c->declared <= MG_XMLRPC_FAST_MAX &&
           c->declared <= bound;
}

/* A read of the body failed: AP_FILTER_ERROR when a filter
 * (MEMGUARD_BODY, LimitRequestBody) has answered already; else the client
 * went away or timed out, or sent a broken chunk. */
static int xr_read_failed(request_rec *r, const xr_call *c, apr_status_t rv)
{
    if (rv != AP_FILTER_ERROR) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                      MGLOGNO(00206) "reading the request body "
                                     "failed after %" APR_OFF_T_FMT " bytes",
                      c->seen);
    }
    return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
}

/*
 * Read the whole body through the input filters, spooling it and feeding
 * the inspector, until its end, the inspector's decision, a rule's
 * refusal (On), or the bound. *stp: the inspector's state; *pass: under
 * DetectOnly, the body outgrew the bound and the rest is left to the
 * handler. OK, or the status to return (a refusal, a read error).
 */
static int xr_read(request_rec *r, xr_call *c, memguard_spool *sp,
                   apr_int64_t max_body, apr_int64_t bound,
                   const char *bound_what, mg_xmlrpc_state_t *stp, int *pass)
{
    mg_xmlrpc_t *x = c->x;
    mg_xmlrpc_state_t st = MG_XR_CONTINUE;
    apr_bucket_brigade *bb;
    int eos = 0, passthrough = 0;
    /* A small body held in memory until it is judged: fed to the
     * inspector whole at its end, where a call written as clients write
     * it is read without libxml2 (mg_xmlrpc.h). A deny rule stops it no
     * later than the end of 64 KiB would anyway. */
    int whole = xr_small(c, bound) && c->declared <= sp->mem_max;

    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    while (!eos && !passthrough) {
        apr_bucket *e;
        apr_status_t rv;

        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                            APR_BLOCK_READ, MEMGUARD_XR_READ);
        if (rv != APR_SUCCESS) {
            apr_brigade_cleanup(bb);
            return xr_read_failed(r, c, rv);
        }
        for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
             e = APR_BUCKET_NEXT(e)) {
            const char *data;
            apr_size_t n;

            if (APR_BUCKET_IS_EOS(e)) {
                eos = 1;
                c->ctx->body_eos = 1; /* nothing of it is left unread */
                break;
            }
            if (APR_BUCKET_IS_METADATA(e)) {
                continue;
            }
            rv = apr_bucket_read(e, &data, &n, APR_BLOCK_READ);
            if (rv != APR_SUCCESS) {
                apr_brigade_cleanup(bb);
                ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                              MGLOGNO(00207) "reading the request body "
                                             "failed");
                return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
            }
            if (n == 0) {
                continue;
            }
            c->seen += (apr_off_t)n;
            if (c->seen > bound && !passthrough) {
                const char *over = memguard_body_over_text(r->pool, 1, c->seen,
                                                           bound, bound_what);

                if (!c->detect) {
                    apr_brigade_cleanup(bb);
                    return memguard_refuse(r, MG_REASON_BODY_SIZE, over);
                }
                /* DetectOnly: the rest is not held back; what is in hand
                 * is replayed, then the handler reads on from below. */
                if (max_body <= 0) {
                    memguard_refuse(r, MG_REASON_BODY_SIZE, over);
                }
                ap_log_rerror(
                    APLOG_MARK, APLOG_DEBUG, 0, r,
                    MGLOGNO(00208) "DetectOnly: body over %" APR_INT64_T_FMT
                                   " bytes: not "
                                   "inspected further",
                    bound);
                passthrough = 1;
            }
            if (memguard_spool_write(sp, data, n) != APR_SUCCESS) {
                apr_brigade_cleanup(bb);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            if (passthrough || whole) {
                continue;
            }
            if (st == MG_XR_CONTINUE) {
                st = mg_xmlrpc_feed(x, data, n, 0);
            }
            if (st == MG_XR_CONTINUE) {
                xr_check_body(c);
            }
            if (!c->detect && (st != MG_XR_CONTINUE || c->verdict)) {
                break;
            }
        }
        apr_brigade_cleanup(bb);
        if (!c->detect && (st != MG_XR_CONTINUE || c->verdict)) {
            break;
        }
    }
    if (eos && st == MG_XR_CONTINUE && whole) {
        const char *data;
        apr_size_t n;

        if (memguard_spool_bytes(sp, &data, &n) != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR; /* cannot happen: in memory */
        }
        st = mg_xmlrpc_feed(x, data, n, 1);
    }
    else if (eos && st == MG_XR_CONTINUE) {
        st = mg_xmlrpc_feed(x, NULL, 0, 1);
    }
    *stp = st;
    *pass = passthrough;
    return OK;
}

/* httpd's filters an in-place read looks for, looked up once per
 * configuration pass (xr_post_config()): filter names are lower-cased
 * and unique, so a record stands for its name. deflate is NULL when
 * mod_deflate is not loaded. */
static ap_filter_rec_t *xr_deflate_rec, *xr_http_in_rec;

/*
 * A small body that has arrived with the request (clients write headers
 * and body at once), looked at where it lies without taking it: a
 * speculative, non-blocking read through the request's input filters.
 * Then nothing is spooled or replayed: the application reads the body
 * from httpd as it would without memguard. Only where what lies there is
 * exactly what the application would read: a Content-Length, no
 * Content-Encoding or chunks (c->declared), no input filter of the
 * request's own above HTTP_IN (an inflating or rewriting one would show
 * the inspector other bytes than the application), no
 * "Expect: 100-continue" (the body is not sent before httpd answers it),
 * within LimitRequestBody (HTTP_IN would refuse it on the real read).
 * A body written after its headers is waited for (as spooling would).
 * Else, or when not all of it is there at once, 0: the body is read and
 * spooled as before (*rv set when waiting for it failed). *bbp: the
 * brigade that keeps what *data points into.
 */
static int xr_in_place(request_rec *r, const xr_call *c, apr_int64_t bound,
                       apr_bucket_brigade **bbp, const char **data,
                       apr_size_t *len, apr_status_t *rv)
{
    apr_off_t limit = ap_get_limit_req_body(r), n = 0;
    apr_bucket_brigade *bb;
    ap_filter_t *f;

    if (!xr_small(c, bound) || r->expecting_100 ||
        (limit > 0 && c->declared > limit)) {
        return 0;
    }
    /* above HTTP_IN only filters that hand such a body on as it is:
     * mod_deflate's (it inflates only a Content-Encoding) and ours (they
     * count) */
    for (f = r->input_filters; f != r->proto_input_filters; f = f->next) {
        if (f == NULL ||
            (f->frec != xr_deflate_rec && !memguard_body_counter(f))) {
            return 0;
        }
    }
    if (f == NULL || f->frec != xr_http_in_rec) {
        return 0;
    }
    *bbp = bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    if (ap_get_brigade(r->input_filters, bb, AP_MODE_SPECULATIVE,
                       APR_NONBLOCK_READ, c->declared) != APR_SUCCESS ||
        apr_brigade_length(bb, 0, &n) != APR_SUCCESS) {
        apr_brigade_cleanup(bb);
        return 0;
    }
    if (n == 0) {
        /* Headers and body written apart (Python's http.client, for
         * one): wait for the body as spooling it would, then look again.
         * A blocking speculative read waits only while nothing has
         * arrived, and takes what has at once. A client that never
         * sends it has had its Timeout: *rv, not a second wait. */
        *rv = ap_get_brigade(r->input_filters, bb, AP_MODE_SPECULATIVE,
                             APR_BLOCK_READ, c->declared);
        if (*rv != APR_SUCCESS ||
            apr_brigade_length(bb, 0, &n) != APR_SUCCESS) {
            apr_brigade_cleanup(bb);
            return 0;
        }
    }
    if (n != c->declared) {
        apr_brigade_cleanup(bb);
        return 0;
    }
    if (memguard_brigade_bytes(bb, r->pool, data, len) != APR_SUCCESS ||
        *len != (apr_size_t)n) {
        apr_brigade_cleanup(bb);
        return 0;
    }
    return 1;
}

/* The verdict of the body: OK to go on (accepted, or DetectOnly), or the
 * refusal's return value. */
static int xr_body_verdict(request_rec *r, xr_call *c, mg_xmlrpc_state_t st,
                           int passthrough)
{
    int rc;

    if (!passthrough && st != MG_XR_ACCEPT) {
        const mg_xmlrpc_refusal_t *rf = mg_xmlrpc_refusal(c->x);

        if (c->verdict) {
            return memguard_refuse(r, c->reason, c->detail);
        }
        if (st == MG_XR_ERROR) {
            /* Out of memory inside libxml2: ours, not the client's. */
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          MGLOGNO(00209) "XML-RPC inspection failed: %s",
                          rf ? rf->text : "?");
            if (!c->detect) {
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
        else if (st == MG_XR_REJECT && rf != NULL) {
            rc = memguard_refuse(r, rf->reason, xr_detail(r, rf));
            if (rc != OK) {
                return rc;
            }
        }
    }
    else if (c->verdict) { /* a rule refused it after the last byte */
        return memguard_refuse(r, c->reason, c->detail);
    }
    return OK;
}

/*
 * An accepted call (or any under DetectOnly): the gate, the slots, the
 * response cap. A call every working method of which is essential passes
 * the gate whatever the verdict; a multicall of nothing but multicalls is
 * no work to let through. OK, or the refusal's return value.
 */
static int xr_admit_call(request_rec *r, memguard_req_ctx *ctx, xr_call *c)
{
    apr_time_t waited;
    int rc;

    ctx->essential = c->works > 0 && !c->not_essential;
    rc = memguard_gate_method(r, c->expensive);
    if (rc != OK) {
        return rc;
    }
    waited = apr_time_now();
    rc = memguard_rules_hold(r, c->holds, c->nholds);
    if (rc != OK) {
        return rc;
    }
    /* Then its memory: the expected cost must fit in the budget. */
    rc = memguard_admit(r);
    if (rc != OK) {
        return rc;
    }
    /* A call that queued for its slots or for memory may have waited
     * seconds: the verdict it passed is old. Ask again before it runs
     * (its slots and reservation go back through the pool cleanups if it
     * is refused now). */
    if (apr_time_now() - waited > apr_time_from_msec(1)) {
        rc = memguard_gate_method(r, c->expensive);
        if (rc != OK) {
            return rc;
        }
    }
    if (c->max_response > 0) {
        memguard_respcap_set_limit(r, c->max_response);
    }
    /* Last: nothing can refuse the call any more. Not under DetectOnly,
     * which changes nothing about how a call runs. */
    if (c->nice > 0 && !c->detect) {
        memguard_nice_begin(r, c->nice, c->nice_method);
    }
    return OK;
}

/* The body read: its verdict, its size (len) for the per-method
 * statistics and the gate, then the call's admission. OK, or the
 * refusal's return value. */
static int xr_decide(request_rec *r, memguard_req_ctx *ctx, xr_call *c,
                     mg_xmlrpc_state_t st, int passthrough, apr_off_t len)
{
    int rc = xr_body_verdict(r, c, st, passthrough);

    if (rc != OK) {
        return rc;
    }
    /* the inspected (decoded) body, whatever reads it afterwards
     * (mod_wsgi reads brigades, so r->read_length stays 0) */
    if (ctx->body_seen < len) {
        ctx->body_seen = len;
    }
    return xr_admit_call(r, ctx, c);
}

/* At debug level, what the inspection saw: bytes (and where they were),
 * who read them, the counters, the time. */
static void xr_log_inspected(request_rec *r, mg_xmlrpc_t *x, apr_off_t len,
                             const char *where, int passthrough,
                             apr_time_t started)
{
    const mg_xmlrpc_counters_t *n;
    const char *m;

    if (!APLOG_R_IS_LEVEL(r, APLOG_DEBUG)) {
        return;
    }
    n = mg_xmlrpc_counters(x);
    m = mg_xmlrpc_method(x);
    ap_log_rerror(
        APLOG_MARK, APLOG_DEBUG, 0, r,
        MGLOGNO(00201) "inspected %s%s: %" APR_OFF_T_FMT
                       " bytes %s, read by %s, depth %u, "
                       "elements %u, items %u, members %u, "
                       "multicall %u (nesting %u), longest string "
                       "%" APR_UINT64_T_FMT "; %" APR_TIME_T_FMT " us",
        m ? m : "(no method)", passthrough ? " (partly, DetectOnly)" : "", len,
        where, n->fast ? "the fast path" : "libxml2", n->depth_max, n->elements,
        n->items_max, n->members_max, n->multicall, n->multicall_depth,
        n->string_max, apr_time_now() - started);
}

static int xr_inspect(request_rec *r, memguard_req_ctx *ctx,
                      const struct memguard_xr_conf *xr)
{
    apr_int64_t max_body = memguard_max_body(r);
    apr_int64_t bound = max_body > 0 ? max_body : MEMGUARD_XMLRPC_BODY_BOUND;
    const char *bound_what =
        max_body > 0 ? "MemGuardMaxRequestBody"
                     : "MemGuardXmlRpc bound without MemGuardMaxRequestBody";
    /* for the debug line only (a clock read less on every other call) */
    apr_time_t started = APLOG_R_IS_LEVEL(r, APLOG_DEBUG) ? apr_time_now() : 0;
    mg_xmlrpc_state_t st = MG_XR_CONTINUE;
    mg_xmlrpc_t *x;
    xr_call *c;
    memguard_spool *sp;
    apr_bucket_brigade *peek = NULL;
    const char *data;
    apr_size_t n;
    apr_status_t rv = APR_SUCCESS;
    int rc, passthrough = 0;

    c = apr_pcalloc(r->pool, sizeof(*c));
    c->r = r;
    c->ctx = ctx;
    c->xr = xr;
    c->detect = ctx->engine == MEMGUARD_ENGINE_DETECT;
    c->declared = xr_declared(r);
    if (max_body <= 0 && c->declared > bound) {
        rc = memguard_refuse(r, MG_REASON_BODY_SIZE,
                             memguard_body_over_text(r->pool, 0, c->declared,
                                                     bound, bound_what));
        /* DetectOnly: leave such a body alone, uninspected. */
        return rc;
    }

    /* What MEMGUARD_WIRE paces inflating against (a gzip body). */
    ctx->body_bound = bound;

    x = xr_inspector(r, c, xr);
    if (x == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    if (xr_in_place(r, c, bound, &peek, &data, &n, &rv)) {
        c->seen = (apr_off_t)n;
        ctx->body_in_place = 1;
        st = mg_xmlrpc_feed(x, data, n, 1);
        apr_brigade_cleanup(peek);
        rc = xr_decide(r, ctx, c, st, 0, c->seen);
        if (rc != OK) {
            return rc;
        }
        ctx->body_in_place = 0; /* the application's to read */
        xr_log_inspected(r, x, c->seen, "read in place", 0, started);
        return OK;
    }
    if (rv != APR_SUCCESS) {
        return xr_read_failed(r, c, rv);
    }

    sp = memguard_spool_make(r,
                             xr->spool_memory != MEMGUARD_UNSET
                                 ? xr->spool_memory
                                 : MEMGUARD_DEFAULT_SPOOL_MEMORY,
                             xr->spool_dir);

    rc = xr_read(r, c, sp, max_body, bound, bound_what, &st, &passthrough);
    if (rc != OK) {
        return rc;
    }
    rc = xr_decide(r, ctx, c, st, passthrough, sp->len);
    if (rc != OK) {
        return rc;
    }
    memguard_spool_replay(sp, passthrough);
    xr_log_inspected(r, x, sp->len,
                     sp->file ? "spooled (file)" : "spooled (memory)",
                     passthrough, started);
    return OK;
}

/*
 * The first handler: inspect, then DECLINED to let the real handler run on
 * the replay, or the refusal's DONE / HTTP status.
 */
static int xr_handler(request_rec *r)
{
    const struct memguard_xr_conf *xr;
    memguard_req_ctx *ctx;
    int rc;

    if (r->main || r->prev || r->method_number != M_POST) {
        return DECLINED;
    }
    xr = memguard_xr_for(r);
    if (xr == NULL || xr->xmlrpc != 1 ||
        memguard_engine(r) == MEMGUARD_ENGINE_OFF) {
        return DECLINED;
    }
    ctx = memguard_req(r);
    if (ctx->refused) {
        return DECLINED;
    }
    rc = xr_inspect(r, ctx, xr);
    return rc == OK ? DECLINED : rc;
}

static int xr_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    (void)s;
    /* In the parent, before any child exists: xmlInitParser() must not
     * race (mg_xmlrpc.h). Idempotent, so every pass may call it. */
    mg_xmlrpc_global_init();
    /* every module's filters are registered by now (register_hooks) */
    xr_deflate_rec = ap_get_input_filter_handle("deflate");
    xr_http_in_rec = ap_get_input_filter_handle("http_in");
    return OK;
}

void memguard_xmlrpc_register(apr_pool_t *p)
{
    ap_hook_post_config(xr_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /*
     * Why a handler, and the very first: the body must be read through
     * the complete input filter chain, and filters set with
     * SetInputFilter (mod_deflate's DEFLATE to inflate a gzip body) are
     * only added by the core's insert_filter hook, which runs after
     * fixups, right before the handlers. In fixups the inspector would
     * see compressed bytes. At the first handler, authentication and
     * authorization are done (an unauthenticated client never gets a
     * body read or spooled), every fixup (mod_rewrite's per-directory
     * rules, which may still redirect) has run, and no handler has read a
     * byte. Declining then lets the real handler (mod_wsgi at MIDDLE) run
     * as if nothing happened, on the replay.
     */
    ap_hook_handler(xr_handler, NULL, NULL, APR_HOOK_REALLY_FIRST);
    /* The spool's temporary directory, the MEMGUARD_REPLAY filter. */
    memguard_spool_register(p);
}
