/*
 * mod_memguard_respcap.c - MemGuardMaxResponse, the response cap.
 *
 * The MEMGUARD_RESPCAP output filter counts the response body bytes the
 * application produces. Two cases (every refusal is explicit: nothing is ever
 * truncated silently):
 *
 * - Nothing has gone out yet and the response is known to be over the cap
 *   (a Content-Length in r->headers_out, or more bytes in hand than the
 *   cap): the application's output is dropped and the client gets a clean
 *   refusal instead, response-size: a 200 fault (5001) for an XML-RPC call
 *   in fault style, otherwise a 500 built by ap_die().
 * - Part of a streamed response has gone out: nothing more is passed, and
 *   the response is aborted (memguard_abort_response(): chunked terminator
 *   withheld, connection closed) so the client sees it incomplete.
 *
 * Either way the child, which has just watched the application build a
 * response over the cap, is marked for recycling.
 *
 * Holding: a response without a known length is held back until it is
 * complete or larger than RESPCAP_HOLD (64 KiB) or the cap, whichever is
 * smaller. A small response over a small cap therefore still gets a clean
 * refusal, and a response that fits is sent whole; the price is that the
 * first 64 KiB of a streamed response leave together. FLUSH buckets do
 * not end the holding: mod_wsgi passes one after every block the
 * application yields, so honouring them would make holding useless for
 * the hub. A <Location> serving long-lived streams should set
 * MemGuardMaxResponse 0.
 *
 * Left alone: HEAD requests and 204/304 responses (no body goes out),
 * subrequests (their output flows into the main request's filters and is
 * counted there), and error pages httpd builds itself (ap_die() sends
 * them through the protocol filters only, below this one).
 */
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

#include "mod_memguard_board.h"
#include "mod_memguard_config.h"
#include "mod_memguard_recycle.h"
#include "mod_memguard_reject.h"
#include "mod_memguard_request.h"
#include "mod_memguard_respcap.h"

/* Added by handle: no lookup by name on every request. */
static ap_filter_rec_t *respcap_handle;

#define RESPCAP_FILTER "MEMGUARD_RESPCAP"

/* Bytes of a response without a known length held back before the first
 * byte goes out; also how much is gathered between passes later on. */
#define RESPCAP_HOLD ((apr_int64_t)64 * 1024)

#define RECYCLE_WHY "response over its cap (MemGuardMaxResponse)"

typedef enum {
    RESPCAP_HOLDING = 0, /* nothing passed down yet; output is held */
    RESPCAP_STREAMING,   /* bytes are on their way; still counting */
    RESPCAP_DONE         /* refused or aborted: drop everything */
} respcap_state_e;

typedef struct {
    respcap_state_e state;
    apr_int64_t bound;      /* hold at most this many bytes */
    apr_int64_t seen;       /* body bytes the application produced */
    apr_int64_t held_bytes; /* bytes in held */
    int declared;           /* a Content-Length within the cap: passed
                             * on as it comes, counted */
    /* held back, or gathered for the next pass; made when first needed
     * (a response of declared length never needs it) */
    apr_bucket_brigade *held;
} respcap_ctx;

/* The effective cap: MemGuardMaxResponse, lowered by a per-request limit
 * (memguard_respcap_set_limit); *source names where it came from. */
static apr_int64_t respcap_limit(request_rec *r, const char **source)
{
    apr_int64_t conf = memguard_max_response(r);
    const memguard_req_ctx *rq = memguard_req(r);

    if (rq->max_response > 0 && (conf <= 0 || rq->max_response < conf)) {
        *source = "max-response";
        return rq->max_response;
    }
    *source = "MemGuardMaxResponse";
    return conf;
}

/* The Content-Length the handler declared, or -1. */
static apr_int64_t declared_length(const request_rec *r)
{
    uint64_t len;

    if (memguard_content_length(r->headers_out, &len) <= 0) {
        return -1;
    }
    return (apr_int64_t)len;
}

static apr_status_t pass_held(ap_filter_t *f, respcap_ctx *fc)
{
    apr_status_t rv;

    if (fc->held == NULL || APR_BRIGADE_EMPTY(fc->held)) {
        return APR_SUCCESS;
    }
    rv = ap_pass_brigade(f->next, fc->held);
    apr_brigade_cleanup(fc->held);
    fc->held_bytes = 0;
    return rv;
}

/* Held buckets outlive this call: transient ones (mod_wsgi's, ap_rwrite's)
 * point into the caller's memory and must be copied. */
static apr_status_t setaside_held(ap_filter_t *f, respcap_ctx *fc)
{
    apr_bucket *e;

    for (e = APR_BRIGADE_FIRST(fc->held); e != APR_BRIGADE_SENTINEL(fc->held);
         e = APR_BUCKET_NEXT(e)) {
        apr_status_t rv = apr_bucket_setaside(e, f->r->pool);

        if (rv == APR_ENOTIMPL) {
            const char *data;
            apr_size_t len;

            rv = apr_bucket_read(e, &data, &len, APR_BLOCK_READ);
            if (rv == APR_SUCCESS) {
                rv = apr_bucket_setaside(e, f->r->pool);
            }
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/*
 * The response is over the cap: refuse it cleanly if nothing has gone out,
 * abort it otherwise; DetectOnly logs and lets all of it through. bb holds
 * what the handler passed and this filter has not taken yet.
 */
static apr_status_t over_cap(ap_filter_t *f, respcap_ctx *fc,
                             apr_bucket_brigade *bb, const char *detail)
{
    request_rec *r = f->r;
    memguard_req_ctx *rq = memguard_req(r);
    respcap_state_e was = fc->state;

    if (rq->engine == MEMGUARD_ENGINE_DETECT) {
        /* Logs MG00101 and notes detect:response-size, nothing more. */
        memguard_refuse_in_filter(f, MG_REASON_RESPONSE_SIZE, detail);
        ap_remove_output_filter(f);
        if (fc->held != NULL) {
            APR_BRIGADE_PREPEND(bb, fc->held);
            fc->held_bytes = 0;
        }
        return ap_pass_brigade(f->next, bb);
    }
    if (fc->held != NULL) {
        apr_brigade_cleanup(fc->held);
    }
    apr_brigade_cleanup(bb);
    fc->held_bytes = 0;
    fc->state = RESPCAP_DONE;
    if (was == RESPCAP_HOLDING) {
        /* Nothing went out: answer instead of the application. Its
         * headers describe a body nobody will see (length, encoding,
         * validators); the refusal sets its own type and length. */
        apr_table_clear(r->headers_out);
        r->content_encoding = NULL;
        memguard_refuse_in_filter(f, MG_REASON_RESPONSE_SIZE, detail);
    }
    else {
        apr_table_setn(r->notes, "memguard-verdict", "reject:response-size");
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      MGLOGNO(00402) "refused %s %s (response-size): %s; "
                                     "%" APR_INT64_T_FMT " bytes already "
                                     "passed on: aborting the response so "
                                     "the client sees it incomplete",
                      r->method, r->uri, detail, fc->seen);
        memguard_count_refusal(r, MG_REASON_RESPONSE_SIZE, 0);
        memguard_abort_response(r);
    }
    memguard_recycle_request(r, MG_RECYCLE_RESPONSE, RECYCLE_WHY);
    /* The handler finishes normally (mod_wsgi would log a failed write);
     * after an abort, c->aborted stops well-behaved writers early. */
    return APR_SUCCESS;
}

/*
 * Count data bucket e of bb (read first when its length is unknown: a
 * pipe or socket, CGI or mod_wsgi daemon mode, where one read turns it
 * into data and leaves the rest behind it, so a stream is counted a piece
 * at a time). *done 0: counted, within the cap; 1: a read failed or the
 * cap is passed, and the status to return (over_cap()'s) is returned.
 */
static apr_status_t respcap_count(ap_filter_t *f, respcap_ctx *fc,
                                  apr_bucket_brigade *bb, apr_bucket *e,
                                  apr_int64_t limit, const char *source,
                                  int *done)
{
    apr_status_t rv;

    *done = 1;
    if (e->length == (apr_size_t)-1) {
        const char *data;
        apr_size_t len;

        rv = apr_bucket_read(e, &data, &len, APR_BLOCK_READ);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    if (fc->seen + (apr_int64_t)e->length > limit) {
        return over_cap(f, fc, bb,
                        apr_psprintf(f->r->pool,
                                     "at least %" APR_INT64_T_FMT
                                     " bytes > limit %" APR_INT64_T_FMT " (%s)",
                                     fc->seen + (apr_int64_t)e->length, limit,
                                     source));
    }
    fc->seen += (apr_int64_t)e->length;
    *done = 0;
    return APR_SUCCESS;
}

static apr_status_t respcap_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    memguard_req_ctx *rq = memguard_req(r);
    respcap_ctx *fc = f->ctx;
    const char *source;
    apr_int64_t limit;
    apr_status_t rv;

    /* Memguard's own answers pass as they are, never counted. */
    if (rq->answering) {
        return ap_pass_brigade(f->next, bb);
    }
    if (fc != NULL && fc->state == RESPCAP_DONE) {
        apr_brigade_cleanup(bb);
        return APR_SUCCESS;
    }
    if (rq->refused) {
        /* Another part of memguard answered; MEMGUARD_GUARD decides. */
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, bb);
    }
    limit = respcap_limit(r, &source);
    if (fc == NULL) {
        if (limit <= 0 || r->header_only ||
            AP_STATUS_IS_HEADER_ONLY(r->status)) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          MGLOGNO(00401) "response cap: leaving %s %s alone "
                                         "(status %d, cap %" APR_INT64_T_FMT
                                         ")",
                          r->method, r->uri, r->status, limit);
            ap_remove_output_filter(f);
            return ap_pass_brigade(f->next, bb);
        }
        f->ctx = fc = apr_pcalloc(r->pool, sizeof(*fc));
        fc->state = RESPCAP_HOLDING;
        fc->bound = limit < RESPCAP_HOLD ? limit : RESPCAP_HOLD;
    }

    if (fc->state == RESPCAP_HOLDING) {
        apr_int64_t cl = declared_length(r);
        apr_int64_t in_hand = 0;
        int eos = 0, whole = 1;
        apr_bucket *e;

        if (cl > limit) {
            return over_cap(f, fc, bb,
                            apr_psprintf(r->pool,
                                         "%" APR_INT64_T_FMT
                                         " bytes > limit %" APR_INT64_T_FMT
                                         " (%s)",
                                         cl, limit, source));
        }
        /* Everything already in hand counts before a byte goes out: a
         * response passed whole (or in one big brigade) that is over the
         * cap still gets a clean refusal. */
        for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
             e = APR_BUCKET_NEXT(e)) {
            if (APR_BUCKET_IS_EOS(e)) {
                eos = 1;
                break;
            }
            if (e->length == (apr_size_t)-1) {
                whole = 0;
            }
            else if (!APR_BUCKET_IS_METADATA(e)) {
                in_hand += (apr_int64_t)e->length;
            }
        }
        if (fc->seen + in_hand > limit) {
            return over_cap(f, fc, bb,
                            apr_psprintf(r->pool,
                                         "%s%" APR_INT64_T_FMT
                                         " bytes > limit %" APR_INT64_T_FMT
                                         " (%s)",
                                         eos && whole ? "" : "at least ",
                                         fc->seen + in_hand, limit, source));
        }
        if (cl >= 0) {
            /* The declared length fits: no need to hold anything back.
             * Counting goes on, for a handler that sends more than it
             * declared. */
            fc->state = RESPCAP_STREAMING;
            fc->declared = 1;
        }
    }
    if (fc->declared && (fc->held == NULL || APR_BRIGADE_EMPTY(fc->held))) {
        /* Nothing to gather for a known length: each brigade is counted
         * and passed on as it came (no copy of the handler's buckets). */
        apr_bucket *e;
        int eos = 0, done;

        for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
             e = APR_BUCKET_NEXT(e)) {
            if (APR_BUCKET_IS_EOS(e)) {
                eos = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(e)) {
                continue;
            }
            rv = respcap_count(f, fc, bb, e, limit, source, &done);
            if (done) {
                return rv;
            }
        }
        if (eos) {
            ap_remove_output_filter(f);
        }
        return ap_pass_brigade(f->next, bb);
    }

    if (fc->held == NULL) {
        fc->held = apr_brigade_create(r->pool, f->c->bucket_alloc);
    }
    while (!APR_BRIGADE_EMPTY(bb)) {
        apr_bucket *e = APR_BRIGADE_FIRST(bb);
        int done;

        if (APR_BUCKET_IS_METADATA(e)) {
            int eos = APR_BUCKET_IS_EOS(e);

            APR_BUCKET_REMOVE(e);
            APR_BRIGADE_INSERT_TAIL(fc->held, e);
            if (eos) {
                /* Complete and within the cap. */
                ap_remove_output_filter(f);
                return pass_held(f, fc);
            }
            if (APR_BUCKET_IS_FLUSH(e) && fc->state == RESPCAP_STREAMING) {
                rv = pass_held(f, fc);
                if (rv != APR_SUCCESS) {
                    return rv;
                }
            }
            continue;
        }
        rv = respcap_count(f, fc, bb, e, limit, source, &done);
        if (done) {
            return rv;
        }
        fc->held_bytes += (apr_int64_t)e->length;
        APR_BUCKET_REMOVE(e);
        APR_BRIGADE_INSERT_TAIL(fc->held, e);
        if (fc->state == RESPCAP_HOLDING && fc->seen > fc->bound) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          MGLOGNO(00403) "response cap %" APR_INT64_T_FMT
                                         ": %" APR_INT64_T_FMT
                                         " bytes without a known length, "
                                         "streaming from here",
                          limit, fc->seen);
            fc->state = RESPCAP_STREAMING;
        }
        if (fc->state == RESPCAP_STREAMING && fc->held_bytes >= RESPCAP_HOLD) {
            rv = pass_held(f, fc);
            if (rv != APR_SUCCESS) {
                return rv;
            }
        }
    }
    if (fc->state == RESPCAP_STREAMING) {
        return pass_held(f, fc);
    }
    return setaside_held(f, fc);
}

static void respcap_add(request_rec *r, memguard_req_ctx *rq)
{
    ap_add_output_filter_handle(respcap_handle, NULL, r, r->connection);
    rq->respcap_added = 1;
}

/* Only where a cap applies: every other request pays nothing. */
static void respcap_insert(request_rec *r)
{
    memguard_req_ctx *rq;

    if (r->main || r->header_only ||
        memguard_engine(r) == MEMGUARD_ENGINE_OFF) {
        return;
    }
    rq = memguard_req(r);
    if (rq->respcap_added ||
        (memguard_max_response(r) <= 0 && rq->max_response <= 0)) {
        return;
    }
    respcap_add(r, rq);
}

void memguard_respcap_set_limit(request_rec *r, apr_int64_t limit)
{
    memguard_req_ctx *rq;

    if (limit <= 0 || memguard_engine(r) == MEMGUARD_ENGINE_OFF) {
        return;
    }
    rq = memguard_req(r);
    if (rq->max_response <= 0 || limit < rq->max_response) {
        rq->max_response = limit;
    }
    /* Called after insert_filter (or where MemGuardMaxResponse is 0):
     * the filter reads the cap on every call, so adding it now is
     * enough. */
    if (!rq->respcap_added && !r->main && !r->header_only) {
        respcap_add(r, rq);
    }
}

void memguard_respcap_register(apr_pool_t *p)
{
    (void)p;
    /* AP_FTYPE_CONTENT_SET - 1: after the resource filters that make the
     * body (mod_include, mod_substitute, subrequest output), and above
     * mod_deflate's DEFLATE (AP_FTYPE_CONTENT_SET), so the cap is on the
     * uncompressed bytes the application produced, and the handler's
     * Content-Length is still in r->headers_out (DEFLATE removes it).
     * Below MEMGUARD_GUARD (AP_FTYPE_RESOURCE - 1), which drops what the
     * handler writes after a refusal before it gets here. */
    respcap_handle = ap_register_output_filter(RESPCAP_FILTER, respcap_filter,
                                               NULL, AP_FTYPE_CONTENT_SET - 1);
    /* Any order among insert_filter hooks: the filter type places it. */
    ap_hook_insert_filter(respcap_insert, NULL, NULL, APR_HOOK_MIDDLE);
}
