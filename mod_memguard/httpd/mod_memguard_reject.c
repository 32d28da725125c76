/*
 * mod_memguard_reject.c - the answers a refused client gets.
 *
 * One place decides what a refusal looks like: an XML-RPC fault for XML-RPC
 * calls in fault style, an HTTP status otherwise; always logged at INFO (the
 * client caused it, the server is fine), counted, and noted for the access log
 * as memguard-verdict.
 */
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

#include "mg_board.h"
#include "mg_format.h"
#include "mod_memguard_board.h"
#include "mod_memguard_config.h"
#include "mod_memguard_reject.h"
#include "mod_memguard_request.h"

/* Added by handle: no lookup by name on every request. */
static ap_filter_rec_t *guard_handle;

int memguard_is_xmlrpc(const request_rec *r)
{
    const char *ct;

    if (r->method_number != M_POST) {
        return 0;
    }
    ct = apr_table_get(r->headers_in, "Content-Type");
    if (ct == NULL) {
        return 0;
    }
    /* text/xml (what xmlrpc.client and Koji send), application/xml, and
     * any +xml type; parameters such as charset are ignored. */
    return !strncasecmp(ct, "text/xml", 8) ||
           !strncasecmp(ct, "application/xml", 15) ||
           ap_strstr_c(ct, "+xml") != NULL;
}

/* The fault string through the core's XML escaper (mg_format.h): the
 * five XML specials as entities, other control characters as '?'. */
static const char *xml_escape(apr_pool_t *p, const char *s)
{
    apr_size_t len = strlen(s), n = mg_format_xml(NULL, 0, s, len);
    char *out = apr_palloc(p, n + 1);

    mg_format_xml(out, n + 1, s, len);
    return out;
}

const char *memguard_fault_xml(apr_pool_t *p, int code, const char *text)
{
    return apr_psprintf(p,
                        "<?xml version='1.0'?>\n"
                        "<methodResponse>\n"
                        "<fault>\n"
                        "<value><struct>\n"
                        "<member>\n<name>faultCode</name>\n"
                        "<value><int>%d</int></value>\n</member>\n"
                        "<member>\n<name>faultString</name>\n"
                        "<value><string>%s</string></value>\n</member>\n"
                        "</struct></value>\n"
                        "</fault>\n"
                        "</methodResponse>\n",
                        code, xml_escape(p, text));
}

/*
 * Does r still have request body bytes nobody has read? Its end was read
 * (ctx->body_eos) when MEMGUARD_WIRE (mod_memguard_body.c), the
 * inspection's spool or the discard of a body read in place saw its EOS.
 * Where MEMGUARD_WIRE is in place (a chunked or encoded body) it sees
 * every read: unread until then, whatever headers a decoder removed
 * (mod_deflate drops Content-Length at its first read). Otherwise the
 * body is plain, its headers are as sent, and only the reads before the
 * handler (all of them set body_eos at the end) could have taken it.
 */
static int body_unread(request_rec *r)
{
    memguard_req_ctx *ctx = memguard_req(r);
    const char *cl;

    if (ctx->body_eos) {
        return 0;
    }
    if (ctx->wire_added) {
        return 1;
    }
    if (apr_table_get(r->headers_in, "Transfer-Encoding")) {
        return 1;
    }
    cl = apr_table_get(r->headers_in, "Content-Length");
    return cl != NULL && strcmp(cl, "0") != 0;
}

/* Log, note and count a refusal; returns the reason's table entry. */
static const mg_reason_info_t *note_refusal(request_rec *r, mg_reason_t reason,
                                            const char *detail, int detect)
{
    const mg_reason_info_t *ri = mg_reason_info(reason);

    apr_table_setn(
        r->notes, "memguard-verdict",
        apr_pstrcat(r->pool, detect ? "detect:" : "reject:", ri->name, NULL));
    if (detect) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      MGLOGNO(00101) "DetectOnly: would refuse %s %s (%s): %s",
                      r->method, r->uri, ri->name, detail);
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      MGLOGNO(00102) "refused %s %s (%s): %s", r->method,
                      r->uri, ri->name, detail);
    }
    memguard_count_refusal(r, reason, detect);
    return ri;
}

/*
 * The faultCode of ri's fault: MemGuardRetryFault replaces a retryable
 * reason's own (Koji's clients retry 1014 only), and the faultString then
 * ends with the reason and its own code, so nothing is lost.
 */
static int fault_code(request_rec *r, const mg_reason_info_t *ri,
                      const char **tag)
{
    int code = ri->retryable ? memguard_retry_fault(r) : 0;

    *tag = "";
    if (code == 0) {
        return ri->fault_code;
    }
    *tag = apr_psprintf(r->pool, " [%s, %d]", ri->name, ri->fault_code);
    return code;
}

static const char *fault_text(request_rec *r, const mg_reason_info_t *ri,
                              const char *detail, const char *tag)
{
    return apr_psprintf(r->pool, "memguard: %s: %s%s", ri->summary, detail,
                        tag);
}

/* Does ri's answer to r go as a fault (else as an HTTP status)? */
static int answer_is_fault(request_rec *r, const mg_reason_info_t *ri)
{
    int style = memguard_style(r);

    if (!memguard_is_xmlrpc(r)) {
        return 0;
    }
    /* mixed: what a load balancer retries elsewhere gets the status it
     * looks for; what no retry will change stays a fault */
    return style == MEMGUARD_STYLE_FAULT ||
           (style == MEMGUARD_STYLE_MIXED && !ri->retryable);
}

static void set_retry_after(request_rec *r, const mg_reason_info_t *ri)
{
    if (ri->retryable) {
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_itoa(r->pool, memguard_retry_after(r)));
    }
}

int memguard_refuse(request_rec *r, mg_reason_t reason, const char *detail)
{
    memguard_req_ctx *ctx = memguard_req(r);
    int detect = ctx->engine == MEMGUARD_ENGINE_DETECT;
    const mg_reason_info_t *ri = note_refusal(r, reason, detail, detect);
    const char *body, *tag;
    int code;

    if (detect) {
        return OK;
    }
    ctx->refused = 1;
    ctx->refused_early = 1;
    if (ctx->body_in_place) {
        /* a small body the inspection read where it lies, whole in
         * httpd's buffer: taken now, so the connection serves the next
         * call (nothing of it reaches the handler, which never runs) */
        ctx->body_in_place = 0;
        if (ap_discard_request_body(r) == OK) {
            ctx->body_eos = 1;
        }
    }
    if (body_unread(r)) {
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    set_retry_after(r, ri);
    if (!answer_is_fault(r, ri)) {
        return ri->http_status;
    }
    /* An XML-RPC fault travels in a 200 response (the XML-RPC spec), so
     * clients raise a Fault with our code and text, not a ProtocolError. */
    code = fault_code(r, ri, &tag);
    body = memguard_fault_xml(r->pool, code, fault_text(r, ri, detail, tag));
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/xml");
    ap_set_content_length(r, (apr_off_t)strlen(body));
    ctx->answering = 1;
    ap_rputs(body, r);
    /* ap_rputs() only buffers (OLD_WRITE) until the request ends, where
     * MEMGUARD_GUARD, if a refusal had put it in place, would drop it. It
     * goes out now, as our answer. */
    ap_rflush(r);
    ctx->answering = 0;
    ctx->answer_status = HTTP_OK;
    return DONE;
}

int memguard_refuse_shed(request_rec *r, const char *why)
{
    ap_conn_keepalive_e ka = r->connection->keepalive;
    int rc;

    /* Whatever the body: the client comes back after Retry-After. Said
     * before the answer is written (a fault goes out at once), so that its
     * headers carry "Connection: close": a connection closed without it
     * is one the client sends its next call on, and loses. */
    r->connection->keepalive = AP_CONN_CLOSE;
    rc = memguard_refuse(r, MG_REASON_SHED,
                         why ? why
                             : memguard_verdict_detail(
                                   r, mg_board_verdict_load(memguard_board())));
    if (rc == OK) {
        r->connection->keepalive = ka; /* DetectOnly: nothing refused */
    }
    return rc;
}

/*
 * Pass our answer down r's output filters. An error bucket makes the HTTP
 * header filter call ap_die(), and ap_send_error_response() points
 * r->output_filters at the protocol filters to skip content filters: left
 * so, whatever the handler writes after our answer would go straight onto
 * the wire behind it. Put the whole chain back so it meets MEMGUARD_GUARD
 * and is dropped.
 */
static void memguard_pass_keeping_chain(request_rec *r, apr_bucket_brigade *bb)
{
    ap_filter_t *top = r->output_filters;
    memguard_req_ctx *ctx = memguard_req(r);

    ap_pass_brigade(r->output_filters, bb);
    r->output_filters = top;
    /* MEMGUARD_GUARD joins the chain now, at its head (the first content
     * filter): whatever the handler writes from here on passes it, and
     * a request never refused pays nothing for it. */
    if (!ctx->guard_added) {
        ctx->guard_added = 1;
        ap_add_output_filter_handle(guard_handle, NULL, r, r->connection);
    }
}

void memguard_abort_response(request_rec *r)
{
    memguard_req_ctx *ctx = memguard_req(r);
    apr_bucket_brigade *bb;

    /* The way mod_proxy aborts a broken backend's response: an error
     * bucket with 502 makes the chunk filter withhold the last-chunk, the
     * connection closes, and a client reading a Content-Length sees it
     * short. Either way the client knows the response is incomplete. */
    r->connection->keepalive = AP_CONN_CLOSE;
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(
        bb, ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL, r->pool,
                                   r->connection->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb,
                            apr_bucket_eos_create(r->connection->bucket_alloc));
    ctx->answering = 1;
    memguard_pass_keeping_chain(r, bb);
    ctx->answering = 0;
    ctx->refused = 1;
    ctx->answer_status = HTTP_BAD_GATEWAY;
    r->connection->aborted = 1;
}

apr_status_t memguard_refuse_in_filter(ap_filter_t *f, mg_reason_t reason,
                                       const char *detail)
{
    request_rec *r = f->r;
    memguard_req_ctx *ctx = memguard_req(r);
    int detect = ctx->engine == MEMGUARD_ENGINE_DETECT;
    const mg_reason_info_t *ri = note_refusal(r, reason, detail, detect);
    apr_bucket_brigade *bb;
    apr_bucket *e;

    if (detect) {
        return APR_SUCCESS;
    }
    /* The rest of the body stays unread: the connection cannot be reused,
     * exactly as with httpd's own LimitRequestBody. */
    r->connection->keepalive = AP_CONN_CLOSE;
    if (r->sent_bodyct || r->bytes_sent > 0) {
        /* The handler streams: its response is already on the wire. */
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            MGLOGNO(00103) "response already started: aborting it so the "
                           "client sees it incomplete");
        memguard_abort_response(r);
        return AP_FILTER_ERROR;
    }
    set_retry_after(r, ri);
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    ctx->answering = 1;
    if (answer_is_fault(r, ri)) {
        const char *tag;
        int code = fault_code(r, ri, &tag);
        const char *body =
            memguard_fault_xml(r->pool, code, fault_text(r, ri, detail, tag));
        r->status = HTTP_OK;
        ctx->answer_status = HTTP_OK;
        ap_set_content_type(r, "text/xml");
        ap_set_content_length(r, (apr_off_t)strlen(body));
        apr_brigade_write(bb, NULL, NULL, body, strlen(body));
    }
    else {
        /* The error bucket makes the HTTP header filter call ap_die(),
         * which builds the usual error page (ErrorDocument applies). */
        ctx->answer_status = ri->http_status;
        e = ap_bucket_error_create(ri->http_status, NULL, r->pool,
                                   r->connection->bucket_alloc);
        APR_BRIGADE_INSERT_TAIL(bb, e);
    }
    APR_BRIGADE_INSERT_TAIL(bb,
                            apr_bucket_eos_create(r->connection->bucket_alloc));
    memguard_pass_keeping_chain(r, bb);
    ctx->answering = 0;
    ctx->refused = 1;
    return AP_FILTER_ERROR;
}

/*
 * MEMGUARD_GUARD: once we have answered from inside an input filter, the
 * handler goes on and writes its own (error) response; none of it may
 * reach the client after our answer. Data passes only while we answer.
 */
static apr_status_t guard_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    memguard_req_ctx *ctx =
        ap_get_module_config(f->r->request_config, &memguard_module);

    if (ctx == NULL || ctx->answering || !ctx->refused) {
        return ap_pass_brigade(f->next, bb);
    }
    apr_brigade_cleanup(bb);
    return APR_SUCCESS;
}

/*
 * After a refusal from inside an input filter the handler goes on and
 * sets its own status (mod_wsgi: 500 for the failed read) that nobody
 * received; the access log must show what the client really got. First
 * of mod_memguard.c's log_transaction steps.
 */
void memguard_reject_log_status(request_rec *r)
{
    memguard_req_ctx *ctx =
        ap_get_module_config(r->request_config, &memguard_module);

    if (ctx != NULL && ctx->answer_status != 0) {
        r->status = ctx->answer_status;
    }
}

void memguard_reject_register(apr_pool_t *p)
{
    (void)p;
    /* log_transaction: memguard_reject_log_status(), from mod_memguard.c,
     * before mod_log_config (APR_HOOK_MIDDLE) writes the access log. */
    /* First of all content filters, so nothing the handler writes after a
     * refusal is transformed (compressed, capped) before being dropped.
     * No insert_filter hook: the guard is added with an answer made inside
     * a filter (memguard_pass_keeping_chain()), the only refusal after
     * which a handler goes on; every other one ends the request. */
    guard_handle = ap_register_output_filter("MEMGUARD_GUARD", guard_filter,
                                             NULL, AP_FTYPE_RESOURCE - 1);
}
