/*
 * mod_memguard_request.c - the per-request context: made on first use,
 * kept in r->request_config, read by every feature that sees the request;
 * and the request's or response's Content-Length, as several read it.
 */
#include "mod_memguard_config.h"
#include "mod_memguard_request.h"
#include "mg_units.h"

memguard_req_ctx *memguard_req(request_rec *r)
{
    memguard_req_ctx *ctx =
        ap_get_module_config(r->request_config, &memguard_module);

    if (ctx == NULL) {
        ctx = apr_pcalloc(r->pool, sizeof(*ctx));
        ctx->engine = memguard_engine(r);
        ctx->method_idx = UINT32_MAX;
        ap_set_module_config(r->request_config, &memguard_module, ctx);
    }
    return ctx;
}

int memguard_content_length(const apr_table_t *headers, uint64_t *len)
{
    const char *cl = apr_table_get(headers, "Content-Length");

    if (cl == NULL) {
        return 0;
    }
    return mg_units_parse_length(cl, len) == 0 ? 1 : -1;
}
