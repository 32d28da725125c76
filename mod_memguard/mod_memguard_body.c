/*
 * mod_memguard_body.c - MemGuardMaxRequestBody.
 *
 * A declared Content-Length over the limit is refused in header_parser,
 * before anything reads the body: no "100 Continue" goes out, no byte is
 * read. A body without a length (chunked), or one that grows while it is
 * decoded, is counted by the MEMGUARD_BODY input filter and refused the
 * moment it passes the limit; the bytes past the limit never reach the
 * handler. Exactly at the limit passes.
 */
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

#include "mod_memguard.h"

/* Added by handle: no lookup by name on every request. */
static ap_filter_rec_t *body_handle;

static apr_status_t body_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                ap_input_mode_t mode, apr_read_type_e block,
                                apr_off_t readbytes)
{
    request_rec *r = f->r;
    memguard_req_ctx *ctx = memguard_req(r);
    apr_int64_t limit = memguard_max_body(r);
    apr_status_t rv;
    apr_off_t len = 0;

    rv = ap_get_brigade(f->next, bb, mode, block, readbytes);
    if (rv != APR_SUCCESS || mode != AP_MODE_READBYTES) {
        return rv;
    }
    rv = apr_brigade_length(bb, 1, &len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    ctx->body_seen += len;
    if (limit > 0 && ctx->body_seen > limit) {
        ap_remove_input_filter(f);
        if (ctx->engine == MEMGUARD_ENGINE_DETECT) {
            memguard_refuse_in_filter(
                f, MG_REASON_BODY_SIZE,
                apr_psprintf(r->pool,
                             "more than %" APR_INT64_T_FMT
                             " bytes > limit %" APR_INT64_T_FMT
                             " (MemGuardMaxRequestBody)",
                             (apr_int64_t)limit, limit));
            return APR_SUCCESS;
        }
        apr_brigade_cleanup(bb);
        return memguard_refuse_in_filter(
            f, MG_REASON_BODY_SIZE,
            apr_psprintf(r->pool,
                         "more than %" APR_INT64_T_FMT
                         " bytes > limit %" APR_INT64_T_FMT
                         " (MemGuardMaxRequestBody)",
                         limit, limit));
    }
    return APR_SUCCESS;
}

/*
 * header_parser: the per-directory configuration is known (the location
 * walk is done) but neither authentication nor the handler has run, and
 * nobody has read the body.
 */
static int body_header_parser(request_rec *r)
{
    apr_int64_t limit;
    const char *cl;
    apr_off_t len;
    char *end;

    if (r->main || r->prev || memguard_engine(r) == MEMGUARD_ENGINE_OFF ||
        memguard_is_status(r)) {
        return DECLINED;
    }
    limit = memguard_max_body(r);
    if (limit <= 0) {
        return DECLINED;
    }
    cl = apr_table_get(r->headers_in, "Content-Length");
    if (cl != NULL && apr_strtoff(&len, cl, &end, 10) == APR_SUCCESS &&
        *end == '\0' && len > limit) {
        int rc = memguard_refuse(r, MG_REASON_BODY_SIZE,
                                 apr_psprintf(r->pool,
                                              "%" APR_OFF_T_FMT
                                              " bytes > limit %" APR_INT64_T_FMT
                                              " (MemGuardMaxRequestBody)",
                                              len, limit));
        if (rc != OK) {
            return rc;
        }
        return DECLINED; /* DetectOnly: let it through */
    }
    if (cl != NULL || apr_table_get(r->headers_in, "Transfer-Encoding")) {
        ap_add_input_filter_handle(body_handle, NULL, r, r->connection);
    }
    return DECLINED;
}

void memguard_body_register(apr_pool_t *p)
{
    (void)p;
    /* Above mod_deflate's INFLATE (AP_FTYPE_RESOURCE - 1), so what is
     * counted is what the application would receive. */
    body_handle = ap_register_input_filter("MEMGUARD_BODY", body_filter, NULL,
                                           AP_FTYPE_RESOURCE - 2);
    /* Early among header parsers: a refusal here costs nothing, and
     * modules that might start reading the body come later. */
    ap_hook_header_parser(body_header_parser, NULL, NULL, APR_HOOK_FIRST);
}
