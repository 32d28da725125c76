/*
 * mg_status_render.c - the status page in the format asked for: the one
 * place that knows every renderer (mg_status_text.c, mg_status_html.c),
 * above them and above the model they read (mg_status.c), so that calls
 * run one way.
 */
#include "mg_status.h"
#include "mg_status_int.h"

/* ---- ?health ------------------------------------------------------------- */

static void mg_status_render_health(const mg_status_io_t *o,
                                    const mg_status_t *s)
{
    mg_status_out_printf(o, "%s\n", s->health_text);
}

void mg_status_render(const mg_status_t *s, mg_status_format_t fmt,
                      const mg_status_io_t *o)
{
    switch (fmt) {
    case MG_STATUS_HTML:
        mg_status_render_html(o, s);
        break;
    case MG_STATUS_AUTO:
        mg_status_render_auto(o, s);
        break;
    case MG_STATUS_JSON:
        mg_status_render_json(o, s);
        break;
    case MG_STATUS_PROM:
        mg_status_render_prom(o, s);
        break;
    case MG_STATUS_HEALTH:
        mg_status_render_health(o, s);
        break;
    }
}
