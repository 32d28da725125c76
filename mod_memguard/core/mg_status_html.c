/*
 * mg_status_html.c - the status page for people (HTML in the manner of
 * server-status) and the section in mod_status's page.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mg_format.h"
#include "mg_reason.h"
#include "mg_status.h"
#include "mg_status_int.h"
#include "mg_version.h"

/* httpd's DOCTYPE_HTML_4_01, which server-status uses too. */
#define MG_STATUS_DOCTYPE                                                      \
    "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\" "                     \
    "\"http://www.w3.org/TR/html4/strict.dtd\">\n"

/* ---- HTML ---------------------------------------------------------------- */

static const char *refusals_h(const mg_status_io_t *o, const uint64_t *v)
{
    const char *out = "";
    int k;

    for (k = 0; k < MG_REASON__COUNT; k++) {
        if (v[k] != 0) {
            out = mg_status_tmp_printf(o, "%s%s%s&nbsp;%" PRIu64, out,
                                       *out ? ", " : "",
                                       mg_status_reason_name(k), v[k]);
        }
    }
    return *out ? out : "-";
}

static void html_signal_row(const mg_status_io_t *o, const mg_status_t *s,
                            uint32_t sig, const char *label, const char *value)
{
    int deciding =
        s->sampled && s->sys.signal == sig && s->sys.state != MG_VERDICT_OK;

    mg_status_out_printf(
        o, "<tr%s><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
        deciding ? " class=\"deciding\"" : "", H(label), H(value),
        deciding ? H(mg_status_signal_value_h(o, sig, s->sys.threshold)) : "-",
        deciding ? H(mg_status_state_name(s->sys.state)) : "");
}

static void render_html_verdict(const mg_status_io_t *o, const mg_status_t *s)
{
    const mg_sample_t *sm = &s->sys.sample;
    uint32_t i;

    mg_status_out_printf(
        o,
        "<dl>\n<dt>Verdict: <b class=\"state-%s\">%s</b>%s</dt>\n"
        "<dt>Why: %s</dt>\n",
        s->state_name, s->state_name, s->stale ? " (stale)" : "", H(s->why));
    mg_status_out_printf(o,
                         "<dt>Health answer: <code>%s</code> (HTTP %d)</dt>\n",
                         H(s->health_text), s->health_status);
    if (s->sampled) {
        mg_status_out_printf(
            o,
            "<dt>State since: %" PRIu64
            " s ago</dt>\n<dt>Sampler: pid %d, started %u time(s), "
            "%" PRIu64 " samples, last one %" PRIu64 " ms ago</dt>\n",
            mg_status_age_ms(s, s->sys.state_since_us) / 1000u,
            (int)s->sys.sampler_pid, s->sampler_starts, s->sys.samples,
            mg_status_age_ms(s, s->sys.last_sample_us));
        mg_status_out_printf(
            o,
            "<dt>Sampling every %" PRIu64
            " ms; over the last minute the longest gap between two "
            "samples was %" PRIu64 " ms and the longest sample %" PRIu64
            " us; replaced %u time(s) for not publishing</dt>\n",
            s->sys.interval_us / 1000u, s->sys.gap_max_us / 1000u,
            s->sys.loop_max_us, s->sampler_replaced);
        mg_status_out_printf(
            o,
            "<dt>Measurements: processes %s ms ago, smaps_rollup %s "
            "ms ago, slabinfo %s ms ago</dt>\n",
            mg_status_age_or_never(o, s, s->measure_us, "never"),
            mg_status_age_or_never(o, s, s->smaps_us, "never"),
            mg_status_age_or_never(o, s, s->sys.sample.slab_taken_us, "never"));
        mg_status_out_printf(o, "<dt>Fill rate: %s</dt>\n",
                             H(mg_status_fill_h(o, &s->sys)));
    }
    else {
        mg_status_out_printf(
            o, "<dt>Sampler: no sample yet (started %u time(s))</dt>\n",
            s->sampler_starts);
    }
    mg_status_out_printf(o, "<dt>Server generation: %u</dt>\n</dl>\n",
                         s->generation);
    if (!s->sampled) {
        return;
    }

    mg_status_out_puts(
        o, "<h2>Signals</h2>\n<table>\n<tr><th>signal</th><th>value</th>"
           "<th>threshold</th><th>state</th></tr>\n");
    html_signal_row(o, s, MG_SIGNAL_AVAILABLE, "MemAvailable",
                    mg_status_size_h(o, sm->mem_available));
    if (sm->cgroup_version) {
        html_signal_row(o, s, MG_SIGNAL_CGROUP,
                        sm->cgroup_level == 0
                            ? "cgroup usage / limit"
                            : mg_status_tmp_printf(
                                  o, "cgroup usage / limit (%u level%s up)",
                                  (unsigned)sm->cgroup_level,
                                  sm->cgroup_level == 1 ? "" : "s"),
                        mg_status_tmp_printf(
                            o, "%s / %s", mg_status_size_h(o, sm->cgroup_usage),
                            sm->cgroup_limit == UINT64_MAX
                                ? "none"
                                : mg_status_size_h(o, sm->cgroup_limit)));
    }
    for (i = 0; i < sm->nnodes && i < MG_SAMPLE_MAX_NODES; i++) {
        html_signal_row(o, s, MG_SIGNAL_NODE,
                        mg_status_tmp_printf(o, "node %d available",
                                             (int)sm->nodes[i].node),
                        mg_status_size_h(o, sm->nodes[i].available));
    }
    html_signal_row(o, s, MG_SIGNAL_SLAB, "Slab",
                    mg_status_size_h(o, sm->slab));
    html_signal_row(o, s, MG_SIGNAL_SUNRECLAIM, "SUnreclaim",
                    mg_status_size_h(o, sm->sunreclaim));
    html_signal_row(
        o, s, MG_SIGNAL_PSI_SOME, "pressure some avg10",
        mg_status_signal_value_h(o, MG_SIGNAL_PSI_SOME, sm->psi_some_avg10));
    html_signal_row(
        o, s, MG_SIGNAL_PSI_FULL, "pressure full avg10",
        mg_status_signal_value_h(o, MG_SIGNAL_PSI_FULL, sm->psi_full_avg10));
    mg_status_out_puts(o, "</table>\n");

    if (sm->ntop > 0) {
        mg_status_out_puts(
            o, "<h2>Largest slab caches</h2>\n<table>\n<tr><th>cache</th>"
               "<th>size</th></tr>\n");
        for (i = 0; i < sm->ntop && i < MG_SAMPLE_TOP_CACHES; i++) {
            char name[MG_SAMPLE_NAME_LEN + 1];
            mg_status_cache_name(name, sm->top[i].name);
            mg_status_out_printf(o, "<tr><td>%s</td><td>%s</td></tr>\n",
                                 H(name),
                                 mg_status_size_h(o, sm->top[i].bytes));
        }
        mg_status_out_puts(o, "</table>\n");
    }

    mg_status_out_puts(o, "<h2>Transitions</h2>\n");
    if (mg_board_sys_history_at(&s->sys, 0) == NULL) {
        mg_status_out_puts(o, "<p>none</p>\n");
        return;
    }
    mg_status_out_puts(
        o, "<table>\n<tr><th>when</th><th>from</th><th>to</th>"
           "<th>signal</th><th>value</th><th>threshold</th></tr>\n");
    for (i = 0; i < MG_BOARD_HISTORY; i++) {
        const mg_board_transition_t *t = mg_board_sys_history_at(&s->sys, i);
        if (t == NULL) {
            break;
        }
        mg_status_out_printf(
            o,
            "<tr><td>%" PRIu64 " s ago</td><td>%s</td>"
            "<td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
            mg_status_age_ms(s, t->time_us) / 1000u,
            mg_status_state_name(t->from), mg_status_state_name(t->to),
            mg_signal_name((mg_signal_t)t->signal),
            H(mg_status_signal_value_h(o, t->signal, t->value)),
            H(mg_status_signal_value_h(o, t->signal, t->threshold)));
    }
    mg_status_out_puts(o, "</table>\n");
}

void mg_status_render_html(const mg_status_io_t *o, const mg_status_t *s)
{
    uint32_t i;
    int k;

    mg_status_out_puts(o, MG_STATUS_DOCTYPE);
    mg_status_out_puts(
        o, "<html><head>\n<meta http-equiv=\"Content-Type\" "
           "content=\"text/html; charset=utf-8\">\n"
           "<title>mod_memguard status</title>\n<style>\n"
           "body{font-family:sans-serif}\n"
           "table{border-collapse:collapse}\n"
           "td,th{border:1px solid #aaa;padding:2px 6px;text-align:right}\n"
           "td:first-child,th:first-child{text-align:left}\n"
           "tr.deciding{background:#fdd}\n"
           ".state-ok{color:#070}.state-throttle{color:#a60}"
           ".state-shed{color:#c00}.state-unknown{color:#555}\n"
           "</style>\n</head><body>\n");
    mg_status_out_printf(o, "<h1>mod_memguard status for %s</h1>\n",
                         H(s->server_name));
    mg_status_out_puts(o, "<p>mod_memguard " MG_VERSION "</p>\n");
    if (!s->have_board) {
        mg_status_out_puts(
            o, "<p>The board is not available.</p>\n</body></html>\n");
        return;
    }
    render_html_verdict(o, s);

    mg_status_out_printf(
        o,
        "<h2>Refusals</h2>\n<p>%" PRIu64
        " refused in all</p>\n<table>\n<tr><th>reason</th>"
        "<th>refused</th><th>faultCode</th><th>HTTP</th></tr>\n",
        s->refused_total);
    for (k = 0; k < MG_REASON__COUNT; k++) {
        const mg_reason_info_t *ri = mg_reason_info((mg_reason_t)k);
        mg_status_out_printf(o,
                             "<tr><td>%s</td><td>%" PRIu64 "</td><td>%d</td>"
                             "<td>%d</td></tr>\n",
                             ri->name, s->refused[k], ri->fault_code,
                             ri->http_status);
    }
    mg_status_out_puts(o, "</table>\n");
    mg_status_out_printf(
        o,
        "<h2>Recycling</h2>\n<p>%" PRIu64 " requested, %" PRIu64
        " done, %" PRIu64 " pending</p>\n",
        s->recycle_requested, s->recycle_done, s->recycle_pending);

    mg_status_out_printf(o,
                         "<h2>Children</h2>\n<p>%u of %u slots in use, %" PRIu64
                         " requests, %" PRIu64 " in flight</p>\n",
                         s->nused, s->nslots, s->requests, s->inflight);
    mg_status_out_puts(
        o, "<table>\n<tr><th>slot</th><th>pid</th><th>generation</th>"
           "<th>requests</th><th>size</th><th>unshared</th><th>peak</th>"
           "<th>in flight</th><th>pending recycle</th><th>refused</th>"
           "</tr>\n");
    for (i = 0; i < s->nused; i++) {
        const mg_board_slot_info_t *c = &s->slots[i];
        const char *pending =
            c->recycle_reason == 0
                ? "-"
                : mg_status_tmp_printf(
                      o, "%s (%s &gt; %s)",
                      mg_recycle_reason_name(c->recycle_reason),
                      mg_status_size_h(o, c->recycle_value),
                      mg_status_size_h(o, c->recycle_limit));
        mg_status_out_printf(o,
                             "<tr><td>%u</td><td>%d</td><td>%u</td><td>%" PRIu64
                             "</td><td>%s</td><td>%s</td><td>%s</td><td>%u</td>"
                             "<td>%s</td><td>%s</td></tr>\n",
                             s->slot_idx[i], (int)c->pid, c->generation,
                             c->requests, mg_status_size_h(o, c->rss),
                             mg_status_size_h(o, c->unshared),
                             mg_status_size_h(o, c->peak_rss), c->inflight,
                             pending, refusals_h(o, c->rejections));
    }
    mg_status_out_puts(o, "</table>\n");

    mg_status_out_puts(o, "<h2>Admission by memory cost</h2>\n");
    if (!s->sampled || s->sys.admit_budget == MG_BOARD_BUDGET_NONE) {
        mg_status_out_puts(
            o, "<p>No budget: no shed level is set (MemGuardMinAvailable, "
               "MemGuardMinNodeAvailable).</p>\n");
    }
    else {
        mg_status_out_printf(
            o,
            "<p>Budget %s (room above the shed level %s, plus %s the calls "
            "in flight have grown); reserved %s by %u call(s); %u waiting "
            "for %s.</p>\n",
            H(mg_status_size_h(o, s->sys.admit_budget > 0
                                      ? (uint64_t)s->sys.admit_budget
                                      : 0)),
            H(mg_status_size_h(
                o, s->sys.admit_room > 0 ? (uint64_t)s->sys.admit_room : 0)),
            H(mg_status_size_h(o, (uint64_t)s->sys.admit_credit)),
            H(mg_status_size_h(
                o, s->admit_reserved > 0 ? (uint64_t)s->admit_reserved : 0)),
            s->sys.admit_calls, s->admit_waiting,
            H(mg_status_size_h(o, s->admit_waiting_bytes > 0
                                      ? (uint64_t)s->admit_waiting_bytes
                                      : 0)));
    }
    mg_status_out_puts(o, "<table>\n<tr>");
    for (k = 0; k < MG_ADMIT__COUNT; k++) {
        mg_status_out_printf(o, "<th>%s</th>", mg_status_admit_names[k]);
    }
    mg_status_out_puts(o, "</tr>\n<tr>");
    for (k = 0; k < MG_ADMIT__COUNT; k++) {
        mg_status_out_printf(o, "<td>%" PRIu64 "</td>", s->admit_count[k]);
    }
    mg_status_out_puts(o, "</tr>\n</table>\n");

    mg_status_out_puts(
        o, "<h2>Methods</h2>\n<table>\n<tr><th>method</th><th>calls</th>"
           "<th>in flight</th><th>refused</th><th>bytes in</th>"
           "<th>bytes out</th><th>memory delta max</th>"
           "<th>memory delta p95</th><th>expected cost</th>"
           "<th>measured</th><th>reserved</th></tr>\n");
    for (i = 0; i < s->nmeth; i++) {
        const mg_board_method_info_t *m = &s->meths[i];
        int other = s->meth_idx[i] == s->other_idx;
        const char *src;
        uint64_t e = mg_status_cost_expected(s, i, &src);

        mg_status_out_printf(
            o,
            "<tr><td>%s</td><td>%" PRIu64
            "</td><td>%u</td><td>%s</td><td>%s</td><td>%s</td>"
            "<td>%s</td><td>%s</td><td>%s (%s)</td><td>%" PRIu64
            "</td><td>%u</td></tr>\n",
            other ? "<i>(other)</i>" : H(m->name), m->calls, m->inflight,
            refusals_h(o, m->rejections), mg_status_size_h(o, m->bytes_in),
            mg_status_size_h(o, m->bytes_out),
            m->delta_count ? mg_status_size_h(o, m->delta_max) : "-",
            m->delta_count ? mg_status_size_h(o, m->delta_p95) : "-",
            mg_status_size_h(o, e), src, s->costs[i].measured,
            s->costs[i].reserved_inflight);
    }
    mg_status_out_puts(
        o, "</table>\n<p><i>(other)</i>: calls refused before their "
           "method was read, names not stored, and names past a full "
           "table.</p>\n");
    mg_status_out_puts(o, "</body></html>\n");
}

/* ---- mod_status ---------------------------------------------------------- */

void mg_status_render_section(const mg_status_t *sp, int short_form,
                              const mg_status_io_t *o)
{
    if (short_form) {
        mg_status_out_printf(
            o,
            "MemGuardState: %s\nMemGuardHealth: %s\n"
            "MemGuardSampleAgeMs: %s\nMemGuardRefused: "
            "%" PRIu64 "\nMemGuardRecycled: "
            "%" PRIu64 "\n",
            sp->state_name, sp->health_text,
            sp->sampled ? mg_status_tmp_printf(
                              o, "%" PRIu64,
                              mg_status_age_ms(sp, sp->sys.last_sample_us))
                        : "-1",
            sp->refused_total, sp->recycle_done);
        return;
    }
    mg_status_out_printf(o,
                         "<hr />\n<h2>mod_memguard</h2>\n<dl>\n"
                         "<dt>Verdict: <b>%s</b>%s &mdash; %s</dt>\n"
                         "<dt>Health answer: <code>%s</code></dt>\n"
                         "<dt>Refused: %" PRIu64 ", children recycled: "
                         "%" PRIu64 "</dt>\n</dl>\n",
                         sp->state_name, sp->stale ? " (stale)" : "",
                         H(sp->why), H(sp->health_text), sp->refused_total,
                         sp->recycle_done);
}
