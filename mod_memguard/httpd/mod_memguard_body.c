/*
 * mod_memguard_body.c - MemGuardMaxRequestBody, and the request body as it
 * comes off the wire.
 *
 * A declared Content-Length over the limit is refused in header_parser,
 * before anything reads the body: no "100 Continue" goes out, no byte is
 * read. A body without a length (chunked), or one that grows while it is
 * decoded, is counted by the MEMGUARD_BODY input filter and refused the
 * moment it passes the limit; the bytes past the limit never reach the
 * handler. Exactly at the limit passes.
 *
 * Two input filters sit around the decoders (mod_deflate's DEFLATE, added
 * by SetInputFilter):
 *
 *   handler / XML-RPC inspection
 *   MEMGUARD_BODY  (AP_FTYPE_RESOURCE - 2)  counts decoded bytes, refuses
 *   DEFLATE        (AP_FTYPE_CONTENT_SET)   inflates
 *   MEMGUARD_WIRE  (AP_FTYPE_PROTOCOL - 1)  sees the body as sent
 *   HTTP_IN        (AP_FTYPE_PROTOCOL)      Content-Length, chunks
 *
 * Both are added only where they can act: a body without a length
 * (chunked), with a Content-Encoding, or declared over the limit
 * (DetectOnly lets it through). A plain body of declared length within
 * the limit has neither: HTTP_IN hands on exactly its bytes.
 *
 * MEMGUARD_WIRE records what was really read: the body's EOS (so a refusal
 * knows whether any of the body is still unread, whatever headers a
 * decoder removed) and whether the wire itself failed (so a failure that
 * comes from a decoder above it is told apart from a client that went
 * away). It also paces inflating: deflate expands at most
 * MEMGUARD_INFLATE_MAX_RATIO times, so each read below a decoder asks for
 * no more compressed bytes than could inflate to the room left under the
 * bound, and never more than 4 KiB. A body that passes the bound has then
 * made httpd inflate at most the bound plus about 64 KiB, and httpd never
 * holds more than about 4 MiB of it at once, however compressed it was.
 */
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

#include "mod_memguard_body.h"
#include "mod_memguard_config.h"
#include "mod_memguard_reject.h"
#include "mod_memguard_request.h"
#include "mod_memguard_status.h"

/* deflate's largest expansion: a 258-byte match in 2 bits. */
#define MEMGUARD_INFLATE_MAX_RATIO 1032
/* The smallest read below a decoder near the bound: at most 64 KiB more
 * inflated bytes, few reads in all. */
#define MEMGUARD_WIRE_MIN_READ 64
/* The largest: mod_deflate inflates all it reads at once and holds what
 * the reader has not taken yet, so one read of 4 KiB holds at most 4 MiB
 * (an ordinary gzip call, ten times smaller than its XML: 40 KiB). */
#define MEMGUARD_WIRE_MAX_READ 4096

/* Added by handle: no lookup by name on every request. */
static ap_filter_rec_t *body_handle;
static ap_filter_rec_t *wire_handle;

const char *memguard_body_over_text(apr_pool_t *p, int at_least, apr_off_t n,
                                    apr_int64_t limit, const char *what)
{
    return apr_psprintf(
        p, "%s%" APR_OFF_T_FMT " bytes > limit %" APR_INT64_T_FMT " (%s)",
        at_least ? "at least " : "", n, limit, what);
}

/* "at least N bytes > limit L (what)", and what the wire carried when a
 * decoder made the body larger than it was sent. */
static const char *body_over(request_rec *r, memguard_req_ctx *ctx,
                             apr_int64_t limit, const char *what)
{
    const char *detail =
        memguard_body_over_text(r->pool, 1, ctx->body_seen, limit, what);

    if (ctx->decoding && ctx->body_encoding != NULL) {
        detail = apr_psprintf(r->pool,
                              "%s, decoded from %" APR_OFF_T_FMT " %s bytes",
                              detail, ctx->wire_seen, ctx->body_encoding);
    }
    return detail;
}

/*
 * A read failed above the wire while the wire itself read fine: the
 * decoder refused the body (mod_deflate: not gzip, CRC or length wrong,
 * truncated, bytes after the end, or over its own limits; it logs which).
 * Refuse it as ours, with the client's answer and our log line.
 */
static apr_status_t body_decode_failed(ap_filter_t *f, memguard_req_ctx *ctx,
                                       apr_status_t rv)
{
    request_rec *r = f->r;
    mg_reason_t reason = MG_REASON_BODY_ENCODING;
    const char *why;
    apr_status_t rc;

    if (APR_STATUS_IS_ENOSPC(rv)) {
        /* DeflateInflateLimitRequestBody (LimitRequestBody by default) */
        reason = MG_REASON_BODY_SIZE;
        why = "inflates past mod_deflate's DeflateInflateLimitRequestBody";
    }
    else if (APR_STATUS_IS_EINVAL(rv)) {
        why = "inflates more than mod_deflate's DeflateInflateRatioLimit "
              "allows";
    }
    else {
        why = "is not valid: corrupt, truncated, followed by other bytes, or "
              "not encoded at all";
    }
    ap_remove_input_filter(f);
    rc = memguard_refuse_in_filter(
        f, reason,
        apr_psprintf(r->pool,
                     "the %s body %s (after %" APR_OFF_T_FMT
                     " bytes read, %" APR_OFF_T_FMT " decoded)",
                     ctx->body_encoding, why, ctx->wire_seen, ctx->body_seen));
    /* DetectOnly: the read failed all the same */
    return rc == APR_SUCCESS ? rv : rc;
}

static apr_status_t body_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                ap_input_mode_t mode, apr_read_type_e block,
                                apr_off_t readbytes)
{
    request_rec *r = f->r;
    memguard_req_ctx *ctx = f->ctx;
    apr_int64_t limit = memguard_max_body(r);
    apr_status_t rv;
    apr_off_t len = 0;

    /* Anything between us and the wire transforms the body. */
    ctx->decoding = f->next != NULL && f->next->frec != wire_handle;
    ctx->wire_rv = APR_SUCCESS;
    rv = ap_get_brigade(f->next, bb, mode, block, readbytes);
    if (rv != APR_SUCCESS) {
        if (ctx->decoding && ctx->body_encoding != NULL &&
            ctx->wire_rv == APR_SUCCESS && rv != AP_FILTER_ERROR &&
            !APR_STATUS_IS_EAGAIN(rv) && mode == AP_MODE_READBYTES) {
            return body_decode_failed(f, ctx, rv);
        }
        return rv;
    }
    if (mode != AP_MODE_READBYTES) {
        return rv;
    }
    rv = apr_brigade_length(bb, 1, &len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    ctx->body_seen += len;
    if (limit > 0 && ctx->body_seen > limit) {
        const char *detail = body_over(r, ctx, limit, "MemGuardMaxRequestBody");

        ap_remove_input_filter(f);
        if (ctx->engine == MEMGUARD_ENGINE_DETECT) {
            memguard_refuse_in_filter(f, MG_REASON_BODY_SIZE, detail);
            return APR_SUCCESS;
        }
        apr_brigade_cleanup(bb);
        return memguard_refuse_in_filter(f, MG_REASON_BODY_SIZE, detail);
    }
    return APR_SUCCESS;
}

/*
 * MEMGUARD_WIRE: right above HTTP_IN, below every decoder. Records the
 * body's end and the wire's own failures; below a decoder, and while the
 * decoded body is under its bound, asks for only as many bytes as could
 * inflate into the room left.
 */
static apr_status_t wire_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                ap_input_mode_t mode, apr_read_type_e block,
                                apr_off_t readbytes)
{
    memguard_req_ctx *ctx = f->ctx;
    apr_status_t rv;
    apr_bucket *e;

    if (mode == AP_MODE_READBYTES && ctx->decoding && ctx->body_bound > 0 &&
        ctx->body_seen <= ctx->body_bound) {
        apr_off_t step =
            (ctx->body_bound - ctx->body_seen) / MEMGUARD_INFLATE_MAX_RATIO +
            MEMGUARD_WIRE_MIN_READ;
        if (step > MEMGUARD_WIRE_MAX_READ) {
            step = MEMGUARD_WIRE_MAX_READ;
        }
        if (readbytes > step) {
            readbytes = step;
        }
    }
    rv = ap_get_brigade(f->next, bb, mode, block, readbytes);
    if (rv != APR_SUCCESS) {
        ctx->wire_rv = rv;
        return rv;
    }
    if (mode == AP_MODE_SPECULATIVE) {
        return rv;
    }
    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
         e = APR_BUCKET_NEXT(e)) {
        if (APR_BUCKET_IS_EOS(e)) {
            ctx->body_eos = 1;
        }
        else if (e->length != (apr_size_t)-1) {
            ctx->wire_seen += (apr_off_t)e->length;
        }
    }
    return rv;
}

/*
 * header_parser: the per-directory configuration is known (the location
 * walk is done) but neither authentication nor the handler has run, and
 * nobody has read the body. The last of mod_memguard.c's header_parser
 * steps.
 */
int memguard_body_header_parser(request_rec *r)
{
    memguard_req_ctx *ctx;
    apr_int64_t limit;
    const char *te, *ce;
    apr_off_t len = 0;
    uint64_t v;
    int has_cl;

    if (r->main || r->prev || memguard_engine(r) == MEMGUARD_ENGINE_OFF ||
        memguard_is_status(r)) {
        return DECLINED;
    }
    has_cl = memguard_content_length(r->headers_in, &v);
    te = apr_table_get(r->headers_in, "Transfer-Encoding");
    if (has_cl < 0) {
        return DECLINED; /* HTTP_IN answers 400 at the first read */
    }
    if (has_cl) {
        len = (apr_off_t)v;
    }
    if (te == NULL && len == 0) {
        return DECLINED; /* no body */
    }
    ctx = memguard_req(r);
    ce = apr_table_get(r->headers_in, "Content-Encoding");
    if (ce != NULL && *ce != '\0' && strcasecmp(ce, "identity") != 0) {
        ctx->body_encoding = apr_pstrdup(r->pool, ce);
    }
    limit = memguard_max_body(r);
    ctx->body_bound = limit > 0 ? limit : 0;
    /* The declared length of an encoded body is the encoded size: the
     * limit is on the decoded bytes, counted as they stream. */
    if (limit > 0 && has_cl && te == NULL && ctx->body_encoding == NULL &&
        len > limit) {
        int rc =
            memguard_refuse(r, MG_REASON_BODY_SIZE,
                            memguard_body_over_text(r->pool, 0, len, limit,
                                                    "MemGuardMaxRequestBody"));
        if (rc != OK) {
            return rc;
        }
        /* DetectOnly: let it through */
    }
    /* A plain body (a length, no chunks, no encoding) within the limit
     * cannot outgrow it: HTTP_IN hands on exactly that many bytes.
     * MEMGUARD_BODY would only count them, the inspection and httpd's
     * own reader count them anyway; and with nothing to decode there is
     * nothing for MEMGUARD_WIRE to pace or tell apart. Whether such a
     * body was read to its end, the reads that take it before the
     * handler say (the inspection's spool, the discard of a body read
     * in place: ctx->body_eos), or else its Content-Length. */
    if (!has_cl || te != NULL || ctx->body_encoding != NULL ||
        (limit > 0 && len > limit)) {
        ap_add_input_filter_handle(body_handle, ctx, r, r->connection);
        ap_add_input_filter_handle(wire_handle, ctx, r, r->connection);
        ctx->wire_added = 1;
    }
    return DECLINED;
}

int memguard_body_counter(const ap_filter_t *f)
{
    return f->frec == body_handle || f->frec == wire_handle;
}

void memguard_body_register(apr_pool_t *p)
{
    (void)p;
    /* Above mod_deflate's DEFLATE input filter (AP_FTYPE_CONTENT_SET), so
     * what is counted is what the application would receive. */
    body_handle = ap_register_input_filter("MEMGUARD_BODY", body_filter, NULL,
                                           AP_FTYPE_RESOURCE - 2);
    /* Below every decoder, right above HTTP_IN (AP_FTYPE_PROTOCOL): the
     * body as it was sent. */
    wire_handle = ap_register_input_filter("MEMGUARD_WIRE", wire_filter, NULL,
                                           AP_FTYPE_PROTOCOL - 1);
    /* header_parser: memguard_body_header_parser(), from mod_memguard.c. */
}
