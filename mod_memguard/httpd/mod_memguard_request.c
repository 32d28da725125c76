/*
 * mod_memguard_request.c - the per-request context: made on first use,
 * kept in r->request_config, read by every feature that sees the request.
 */
#include "mod_memguard_config.h"
#include "mod_memguard_request.h"

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
