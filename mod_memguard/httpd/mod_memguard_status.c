/*
 * mod_memguard_status.c - the status page (handler memguard-status) and a
 * section in mod_status's /server-status: the glue around mg_status.
 *
 * One snapshot, then rendering (mg_status.h): the board is copied into
 * the request pool first, with the facts only httpd knows (the clock, the
 * gate's staleness rule, MemGuardAdmitDefault, the server name), and only
 * then is anything written to the client.
 *
 * Formats, chosen by the query string (the first word that matches):
 *   (none)       HTML in the manner of server-status
 *   ?auto        "Key: value" lines, stable keys
 *   ?json        one JSON object, schema "memguard-status/1"
 *   ?prometheus  text exposition format 0.0.4
 *   ?health      "up ready 100%" / "up ready 50%" (200) or "drain" (503): for
 * load balancers, HAProxy's http-check and its agent protocol. SetHandler
 * memguard-health answers ?health whatever the query. Every answer carries
 * Cache-Control: no-store. Only GET and HEAD.
 */
#include "apr_optional.h"
#include "apr_optional_hooks.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_main.h"
#include "mod_status.h"

#include "mod_memguard_board.h"
#include "mod_memguard_config.h"
#include "mod_memguard_status.h"
#include "mg_board.h"
#include "mg_status.h"

static void *status_alloc(void *baton, size_t n)
{
    return apr_palloc(((request_rec *)baton)->pool, n);
}

static void status_write(void *baton, const char *buf, size_t len)
{
    ap_rwrite(buf, (int)len, (request_rec *)baton);
}

static void status_io(request_rec *r, mg_status_io_t *io)
{
    io->alloc = status_alloc;
    io->alloc_baton = r;
    io->write = status_write;
    io->write_baton = r;
}

/* The board, copied into r's pool with the facts only httpd knows. */
static void snap_take(request_rec *r, mg_status_t *s, const mg_status_io_t *io)
{
    const memguard_headroom_conf *hr = memguard_headroom(ap_server_conf);
    memguard_admit_settings as;
    mg_status_facts_t f;

    memguard_admit_settings_get(&as);
    memset(&f, 0, sizeof(f));
    f.now_us = memguard_now_us();
    /* The gate's rule exactly: the sampler's staleness time and
     * MemGuardFailMode, so the page and health say what clients get. */
    f.stale_after_us = hr->policy.stale_after_us;
    f.fail_mode = hr->policy.fail_mode;
    f.admit_default = (uint64_t)as.dflt;
    f.server_name = ap_get_server_name(r);
    mg_status_snapshot(s, memguard_board(), &f, io);
}

/* ---- the handler --------------------------------------------------------- */

static int status_handler(request_rec *r)
{
    mg_status_io_t io;
    mg_status_t snap;
    mg_status_format_t fmt;

    if (r->handler == NULL || !mg_status_is_handler(r->handler)) {
        return DECLINED;
    }
    /* err_headers_out: also on the 405 and on a 503 from ?health. */
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    /* The Allow header of the 405 comes from allowed_methods; HEAD goes
     * with GET. */
    r->allowed = (AP_METHOD_BIT << M_GET);
    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    /* The child serving the page takes its slot, so it is listed. */
    memguard_slot(r->connection);
    fmt = strcmp(r->handler, MG_STATUS_HEALTH_HANDLER) == 0
              ? MG_STATUS_HEALTH
              : mg_status_format(r->args);
    status_io(r, &io);
    snap_take(r, &snap, &io);
    ap_set_content_type(r, mg_status_content_type(fmt));
    if (fmt == MG_STATUS_HEALTH) {
        /* The status goes out with or without a body (HEAD). */
        r->status = snap.health_status;
    }
    if (r->header_only) {
        return OK;
    }
    mg_status_render(&snap, fmt, &io);
    return OK;
}

int memguard_is_status(request_rec *r)
{
    core_dir_config *d;
    const char *err = NULL;
    const char *h;

    if (r->handler != NULL) {
        return mg_status_is_handler(r->handler);
    }
    /* Before fixups r->handler is not set yet: read SetHandler. */
    d = ap_get_core_module_config(r->per_dir_config);
    if (d == NULL || d->expr_handler == NULL) {
        return 0;
    }
    h = ap_expr_str_exec(r, d->expr_handler, &err);
    return err == NULL && h != NULL && mg_status_is_handler(h);
}

/* ---- mod_status ---------------------------------------------------------- */

static int status_section(request_rec *r, int flags)
{
    mg_status_io_t io;
    mg_status_t snap;

    if (memguard_board() == NULL) {
        return OK;
    }
    status_io(r, &io);
    snap_take(r, &snap, &io);
    mg_status_render_section(&snap, (flags & AP_STATUS_SHORT) != 0, &io);
    return OK;
}

void memguard_status_register(apr_pool_t *p)
{
    (void)p;
    /* MIDDLE, like every generator: only answers its own handler name. */
    ap_hook_handler(status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* mod_status's optional hook: a section in /server-status (and
     * "Key: value" lines in its ?auto). A no-op when mod_status is not
     * loaded. */
    APR_OPTIONAL_HOOK(ap, status_hook, status_section, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
