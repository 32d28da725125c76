/*
 * mg_status_text.c - the status page's machine formats: ?auto ("Key:
 * value" lines), ?json and ?prometheus, from one snapshot (mg_status.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mg_format.h"
#include "mg_reason.h"
#include "mg_status.h"
#include "mg_status_int.h"
#include "mg_version.h"

/* ---- ?auto --------------------------------------------------------------- */

void mg_status_render_auto(const mg_status_io_t *o, const mg_status_t *s)
{
    const mg_sample_t *sm = &s->sys.sample;
    int k;

    mg_status_out_puts(o, "MemGuardStatusVersion: 1\n");
    mg_status_out_puts(o, "MemGuardVersion: " MG_VERSION "\n");
    mg_status_out_printf(o, "MemGuardState: %s\n", s->state_name);
    mg_status_out_printf(o, "MemGuardSignal: %s\n", s->signal_name);
    mg_status_out_printf(o, "MemGuardReason: %s\n", s->why);
    mg_status_out_printf(o, "MemGuardStale: %d\n", s->stale);
    mg_status_out_printf(o, "MemGuardHealth: %s\n", s->health_text);
    mg_status_out_printf(o, "MemGuardHealthWeight: %d\n", s->health_weight);
    mg_status_out_printf(o, "StateAgeMs: %" PRIu64 "\n",
                         s->sampled ? mg_status_age_ms(s, s->sys.state_since_us)
                                    : 0);
    mg_status_out_printf(o, "SignalValue: %" PRIu64 "\n",
                         s->sampled ? s->sys.value : 0);
    mg_status_out_printf(o, "SignalThreshold: %" PRIu64 "\n",
                         s->sampled ? s->sys.threshold : 0);
    mg_status_out_printf(o, "Sampled: %d\n", s->sampled);
    mg_status_out_printf(
        o, "SampleAgeMs: %s\n",
        s->sampled
            ? mg_status_tmp_printf(o, "%" PRIu64,
                                   mg_status_age_ms(s, s->sys.last_sample_us))
            : "-1");
    mg_status_out_printf(o, "SamplerPid: %d\n",
                         s->sampled ? (int)s->sys.sampler_pid : 0);
    mg_status_out_printf(o, "SamplerStarts: %u\n", s->sampler_starts);
    mg_status_out_printf(o, "Samples: %" PRIu64 "\n",
                         s->sampled ? s->sys.samples : 0);
    mg_status_out_printf(o, "Transitions: %" PRIu64 "\n",
                         s->sampled ? s->sys.ntransitions : 0);
    mg_status_out_printf(o, "SamplerReplaced: %u\n", s->sampler_replaced);
    mg_status_out_printf(o, "SamplerIntervalMs: %" PRIu64 "\n",
                         s->sampled ? s->sys.interval_us / 1000u : 0);
    mg_status_out_printf(o, "SamplerWorstGapMs: %" PRIu64 "\n",
                         s->sampled ? s->sys.gap_max_us / 1000u : 0);
    mg_status_out_printf(o, "SamplerWorstSampleUs: %" PRIu64 "\n",
                         s->sampled ? s->sys.loop_max_us : 0);
    mg_status_out_printf(o, "MeasureAgeMs: %s\n",
                         mg_status_age_or_never(o, s, s->measure_us, "-1"));
    mg_status_out_printf(o, "SmapsAgeMs: %s\n",
                         mg_status_age_or_never(o, s, s->smaps_us, "-1"));
    mg_status_out_printf(
        o, "SlabinfoAgeMs: %s\n",
        mg_status_age_or_never(
            o, s, s->sampled ? s->sys.sample.slab_taken_us : 0, "-1"));
    mg_status_out_printf(o, "FillSignal: %s\n",
                         mg_signal_name(s->sampled
                                            ? (mg_signal_t)s->sys.fill_signal
                                            : MG_SIGNAL_NONE));
    mg_status_out_printf(
        o, "FillRateBytesPerSecond: %" PRId64 "\n",
        s->sampled && s->sys.fill_signal ? (int64_t)s->sys.fill_rate : 0);
    mg_status_out_printf(o, "FillLevelBytes: %" PRIu64 "\n",
                         s->sampled && s->sys.fill_signal ? s->sys.fill_level
                                                          : 0);
    mg_status_out_printf(o, "FillTimeToLevelMs: %s\n",
                         s->sampled ? mg_status_tte_ms(o, &s->sys, "-1")
                                    : "-1");
    mg_status_out_printf(o, "AdmitBudgetBytes: %s\n",
                         mg_status_budget_str(o, s, "-1"));
    mg_status_out_printf(o, "AdmitRoomBytes: %" PRId64 "\n",
                         s->sampled ? (int64_t)s->sys.admit_room : 0);
    mg_status_out_printf(o, "AdmitCreditBytes: %" PRId64 "\n",
                         s->sampled ? (int64_t)s->sys.admit_credit : 0);
    mg_status_out_printf(o, "AdmitReservedBytes: %" PRId64 "\n",
                         (int64_t)s->admit_reserved);
    mg_status_out_printf(o, "AdmitReservedCalls: %u\n",
                         s->sampled ? s->sys.admit_calls : 0);
    mg_status_out_printf(o, "AdmitWaiting: %u\n", s->admit_waiting);
    mg_status_out_printf(o, "AdmitWaitingBytes: %" PRId64 "\n",
                         (int64_t)s->admit_waiting_bytes);
    for (k = 0; k < MG_ADMIT__COUNT; k++) {
        mg_status_out_printf(o, "Admit%s: %" PRIu64 "\n",
                             mg_status_admit_keys[k], s->admit_count[k]);
    }
    if (s->sampled) {
        mg_status_out_printf(o, "MemTotalBytes: %" PRIu64 "\n", sm->mem_total);
        mg_status_out_printf(o, "MemAvailableBytes: %" PRIu64 "\n",
                             sm->mem_available);
        mg_status_out_printf(o, "SlabBytes: %" PRIu64 "\n", sm->slab);
        mg_status_out_printf(o, "SReclaimableBytes: %" PRIu64 "\n",
                             sm->sreclaimable);
        mg_status_out_printf(o, "SUnreclaimBytes: %" PRIu64 "\n",
                             sm->sunreclaim);
        mg_status_out_printf(o, "PressureSomeAvg10: %s\n",
                             mg_status_hundredths(o, sm->psi_some_avg10));
        mg_status_out_printf(o, "PressureFullAvg10: %s\n",
                             mg_status_hundredths(o, sm->psi_full_avg10));
        mg_status_out_printf(o, "CgroupUsageBytes: %" PRIu64 "\n",
                             sm->cgroup_version ? sm->cgroup_usage : 0);
        mg_status_out_printf(o, "CgroupLimitBytes: %" PRIu64 "\n",
                             sm->cgroup_version &&
                                     sm->cgroup_limit != UINT64_MAX
                                 ? sm->cgroup_limit
                                 : 0);
    }
    else {
        /* Same keys before the first sample, so that a parser never
         * meets a missing key; Sampled: 0 says they mean nothing yet. */
        mg_status_out_puts(
            o, "MemTotalBytes: 0\nMemAvailableBytes: 0\nSlabBytes: 0\n"
               "SReclaimableBytes: 0\nSUnreclaimBytes: 0\n"
               "PressureSomeAvg10: 0.00\nPressureFullAvg10: 0.00\n"
               "CgroupUsageBytes: 0\nCgroupLimitBytes: 0\n");
    }
    mg_status_out_printf(o, "Generation: %u\n", s->generation);
    mg_status_out_printf(o, "Children: %u\n", s->nused);
    mg_status_out_printf(o, "Requests: %" PRIu64 "\n", s->requests);
    mg_status_out_printf(o, "InFlight: %" PRIu64 "\n", s->inflight);
    mg_status_out_printf(o, "RecyclePending: %" PRIu64 "\n",
                         s->recycle_pending);
    mg_status_out_printf(o, "RecycleRequested: %" PRIu64 "\n",
                         s->recycle_requested);
    mg_status_out_printf(o, "Recycled: %" PRIu64 "\n", s->recycle_done);
    mg_status_out_printf(o, "Methods: %u\n", s->nmeth > 0 ? s->nmeth - 1 : 0);
    mg_status_out_printf(o, "Refused: %" PRIu64 "\n", s->refused_total);
    for (k = 0; k < MG_REASON__COUNT; k++) {
        mg_status_out_printf(o, "Refused%s: %" PRIu64 "\n",
                             mg_status_reason_key(o, k), s->refused[k]);
    }
}

/* ---- ?json --------------------------------------------------------------- */

static void json_reasons(const mg_status_io_t *o, const uint64_t *v)
{
    int k;

    mg_status_out_puts(o, "{");
    for (k = 0; k < MG_REASON__COUNT; k++) {
        mg_status_out_printf(o, "%s\"%s\": %" PRIu64, k ? ", " : "",
                             mg_status_reason_name(k), v[k]);
    }
    mg_status_out_puts(o, "}");
}

void mg_status_render_json(const mg_status_io_t *o, const mg_status_t *s)
{
    const mg_sample_t *sm = &s->sys.sample;
    uint32_t i;

    mg_status_out_printf(o, "{\n\"schema\": \"%s\",\n", MG_STATUS_SCHEMA);
    mg_status_out_puts(o, "\"version\": \"" MG_VERSION "\",\n");
    mg_status_out_printf(o, "\"generation\": %u,\n", s->generation);
    mg_status_out_printf(
        o,
        "\"verdict\": {\"state\": \"%s\", \"sampled\": %s, "
        "\"stale\": %s, \"signal\": \"%s\", \"detail\": %d, "
        "\"value\": %" PRIu64 ", \"threshold\": %" PRIu64 ", \"why\": \"%s\", "
        "\"state_age_ms\": %s},\n",
        s->state_name, s->sampled ? "true" : "false",
        s->stale ? "true" : "false", J(s->signal_name),
        s->sampled ? (int)s->sys.detail : -1, s->sampled ? s->sys.value : 0,
        s->sampled ? s->sys.threshold : 0, J(s->why),
        s->sampled
            ? mg_status_tmp_printf(o, "%" PRIu64,
                                   mg_status_age_ms(s, s->sys.state_since_us))
            : "null");
    mg_status_out_printf(o,
                         "\"health\": {\"status\": %d, \"answer\": \"%s\", "
                         "\"weight\": %d},\n",
                         s->health_status, J(s->health_text), s->health_weight);
    mg_status_out_printf(
        o,
        "\"sampler\": {\"pid\": %d, \"starts\": %u, \"samples\": "
        "%" PRIu64 ", \"sample_age_ms\": %s, "
        "\"replaced\": %u, \"interval_ms\": %" PRIu64
        ", \"worst_gap_ms\": %" PRIu64 ", \"worst_sample_us\": %" PRIu64
        ", \"measure_age_ms\": %s, \"smaps_age_ms\": %s, "
        "\"slabinfo_age_ms\": %s},\n",
        s->sampled ? (int)s->sys.sampler_pid : 0, s->sampler_starts,
        s->sampled ? s->sys.samples : 0,
        s->sampled
            ? mg_status_tmp_printf(o, "%" PRIu64,
                                   mg_status_age_ms(s, s->sys.last_sample_us))
            : "null",
        s->sampler_replaced, s->sampled ? s->sys.interval_us / 1000u : 0,
        s->sampled ? s->sys.gap_max_us / 1000u : 0,
        s->sampled ? s->sys.loop_max_us : 0,
        mg_status_age_or_never(o, s, s->measure_us, "null"),
        mg_status_age_or_never(o, s, s->smaps_us, "null"),
        mg_status_age_or_never(
            o, s, s->sampled ? s->sys.sample.slab_taken_us : 0, "null"));
    if (s->sampled && s->sys.fill_signal != MG_SIGNAL_NONE) {
        mg_status_out_printf(
            o,
            "\"fill\": {\"signal\": \"%s\", \"detail\": %d, "
            "\"rate\": %" PRId64 ", \"level\": %" PRIu64
            ", \"shed_level\": %s, \"distance\": %" PRIu64
            ", \"time_to_level_ms\": %s},\n",
            mg_signal_name((mg_signal_t)s->sys.fill_signal),
            (int)s->sys.fill_detail, (int64_t)s->sys.fill_rate,
            s->sys.fill_level, s->sys.fill_shed_level ? "true" : "false",
            s->sys.fill_distance, mg_status_tte_ms(o, &s->sys, "null"));
    }
    else {
        mg_status_out_puts(o, "\"fill\": null,\n");
    }
    mg_status_out_printf(o,
                         "\"admission\": {\"budget\": %s, \"room\": %" PRId64
                         ", \"credit\": %" PRId64 ", \"reserved\": %" PRId64
                         ", \"reserved_calls\": %u, \"waiting\": %u, "
                         "\"waiting_bytes\": %" PRId64 ", \"counts\": {",
                         mg_status_budget_str(o, s, "null"),
                         s->sampled ? (int64_t)s->sys.admit_room : 0,
                         s->sampled ? (int64_t)s->sys.admit_credit : 0,
                         (int64_t)s->admit_reserved,
                         s->sampled ? s->sys.admit_calls : 0, s->admit_waiting,
                         (int64_t)s->admit_waiting_bytes);
    for (i = 0; i < MG_ADMIT__COUNT; i++) {
        mg_status_out_printf(o, "%s\"%s\": %" PRIu64, i ? ", " : "",
                             mg_status_admit_names[i], s->admit_count[i]);
    }
    mg_status_out_puts(o, "}},\n");
    if (!s->sampled) {
        mg_status_out_puts(o, "\"sample\": null,\n\"history\": [],\n");
    }
    else {
        mg_status_out_printf(
            o,
            "\"sample\": {\"valid\": {\"meminfo\": %s, \"psi\": %s, "
            "\"cgroup\": %s, \"numa\": %s, \"slabinfo\": %s},\n",
            sm->valid & MG_SRC_MEMINFO ? "true" : "false",
            sm->valid & MG_SRC_PSI ? "true" : "false",
            sm->valid & MG_SRC_CGROUP ? "true" : "false",
            sm->valid & MG_SRC_NUMA ? "true" : "false",
            sm->valid & MG_SRC_SLABINFO ? "true" : "false");
        mg_status_out_printf(
            o,
            " \"mem_total\": %" PRIu64 ", \"mem_available\": %" PRIu64
            ", \"slab\": %" PRIu64 ", \"sreclaimable\": %" PRIu64
            ", \"sunreclaim\": %" PRIu64 ", \"swap_total\": %" PRIu64
            ", \"swap_free\": %" PRIu64 ",\n",
            sm->mem_total, sm->mem_available, sm->slab, sm->sreclaimable,
            sm->sunreclaim, sm->swap_total, sm->swap_free);
        mg_status_out_printf(
            o,
            " \"psi\": {\"some_avg10\": %s, \"some_avg60\": %s, "
            "\"full_avg10\": %s, \"full_avg60\": %s},\n",
            mg_status_hundredths(o, sm->psi_some_avg10),
            mg_status_hundredths(o, sm->psi_some_avg60),
            mg_status_hundredths(o, sm->psi_full_avg10),
            mg_status_hundredths(o, sm->psi_full_avg60));
        if (sm->cgroup_version) {
            mg_status_out_printf(
                o,
                " \"cgroup\": {\"version\": %u, \"usage\": "
                "%" PRIu64 ", \"limit\": %s, "
                "\"working_set\": %" PRIu64 ", \"oom_kills\": %" PRIu64
                ", \"level\": %u},\n",
                sm->cgroup_version, sm->cgroup_usage,
                sm->cgroup_limit == UINT64_MAX
                    ? "null"
                    : mg_status_tmp_printf(o, "%" PRIu64, sm->cgroup_limit),
                sm->cgroup_working_set, sm->cgroup_oom_kills,
                (unsigned)sm->cgroup_level);
        }
        else {
            mg_status_out_puts(o, " \"cgroup\": null,\n");
        }
        mg_status_out_puts(o, " \"nodes\": [");
        for (i = 0; i < sm->nnodes && i < MG_SAMPLE_MAX_NODES; i++) {
            mg_status_out_printf(o,
                                 "%s{\"node\": %d, \"total\": %" PRIu64
                                 ", \"available\": %" PRIu64 "}",
                                 i ? ", " : "", (int)sm->nodes[i].node,
                                 sm->nodes[i].total, sm->nodes[i].available);
        }
        mg_status_out_puts(o, "],\n \"top_caches\": [");
        for (i = 0; i < sm->ntop && i < MG_SAMPLE_TOP_CACHES; i++) {
            char name[MG_SAMPLE_NAME_LEN + 1];
            mg_status_cache_name(name, sm->top[i].name);
            mg_status_out_printf(o,
                                 "%s{\"name\": \"%s\", \"bytes\": %" PRIu64 "}",
                                 i ? ", " : "", J(name), sm->top[i].bytes);
        }
        mg_status_out_puts(o, "]},\n\"history\": [");
        for (i = 0; i < MG_BOARD_HISTORY; i++) {
            const mg_board_transition_t *t =
                mg_board_sys_history_at(&s->sys, i);
            if (t == NULL) {
                break;
            }
            mg_status_out_printf(
                o,
                "%s\n {\"age_ms\": %" PRIu64
                ", \"from\": \"%s\", \"to\": \"%s\", \"signal\": "
                "\"%s\", \"detail\": %d, \"value\": %" PRIu64
                ", \"threshold\": %" PRIu64 "}",
                i ? "," : "", mg_status_age_ms(s, t->time_us),
                mg_status_state_name(t->from), mg_status_state_name(t->to),
                mg_signal_name((mg_signal_t)t->signal), (int)t->detail,
                t->value, t->threshold);
        }
        mg_status_out_puts(o, "],\n");
    }
    mg_status_out_printf(
        o, "\"refused_total\": %" PRIu64 ",\n\"refused\": ", s->refused_total);
    json_reasons(o, s->refused);
    mg_status_out_printf(
        o,
        ",\n\"recycle\": {\"requested\": %" PRIu64 ", \"done\": %" PRIu64
        ", \"pending\": %" PRIu64 "},\n",
        s->recycle_requested, s->recycle_done, s->recycle_pending);
    mg_status_out_puts(o, "\"children\": [");
    for (i = 0; i < s->nused; i++) {
        const mg_board_slot_info_t *c = &s->slots[i];
        mg_status_out_printf(
            o,
            "%s\n {\"slot\": %u, \"pid\": %d, \"generation\": %u, "
            "\"requests\": %" PRIu64 ", \"rss\": %" PRIu64
            ", \"unshared\": %" PRIu64 ", \"peak_rss\": %" PRIu64
            ", \"last_delta\": %" PRId64
            ", \"inflight\": %u, \"recycle_pending\": %s, "
            "\"recycle_reason\": \"%s\", \"reserved\": "
            "%" PRId64 ", \"reserved_calls\": %u, "
            "\"refused\": ",
            i ? "," : "", s->slot_idx[i], (int)c->pid, c->generation,
            c->requests, c->rss, c->unshared, c->peak_rss,
            (int64_t)c->last_delta, c->inflight,
            c->recycle_reason ? "true" : "false",
            mg_recycle_reason_name(c->recycle_reason),
            (int64_t)s->res[i].reserved, s->res[i].calls);
        json_reasons(o, c->rejections);
        mg_status_out_puts(o, "}");
    }
    mg_status_out_puts(o, "],\n\"methods\": [");
    for (i = 0; i < s->nmeth; i++) {
        const mg_board_method_info_t *m = &s->meths[i];
        int other = s->meth_idx[i] == s->other_idx;
        mg_status_out_printf(
            o,
            "%s\n {\"name\": %s, \"other\": %s, \"calls\": "
            "%" PRIu64 ", \"inflight\": %u, "
            "\"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64
            ", \"delta_count\": %" PRIu64 ", \"delta_max\": %" PRIu64
            ", \"delta_p95\": %" PRIu64 ", \"refused\": ",
            i ? "," : "",
            other ? "null" : mg_status_tmp_printf(o, "\"%s\"", J(m->name)),
            other ? "true" : "false", m->calls, m->inflight, m->bytes_in,
            m->bytes_out, m->delta_count, m->delta_max, m->delta_p95);
        json_reasons(o, m->rejections);
        {
            const char *src;
            uint64_t e = mg_status_cost_expected(s, i, &src);

            mg_status_out_printf(
                o,
                ", \"cost\": {\"expected\": %" PRIu64
                ", \"source\": \"%s\", \"learned\": "
                "%" PRIu64 ", \"live\": %" PRIu64 ", \"measured\": %" PRIu64
                ", \"reserved_inflight\": %u}",
                e, src, s->costs[i].learned, s->costs[i].live,
                s->costs[i].measured, s->costs[i].reserved_inflight);
        }
        mg_status_out_puts(o, "}");
    }
    mg_status_out_puts(o, "]\n}\n");
}

/* ---- ?prometheus --------------------------------------------------------- */

static void prom_head(const mg_status_io_t *o, const char *name,
                      const char *type, const char *help)
{
    mg_status_out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                         type);
}

static void prom_u64(const mg_status_io_t *o, const char *name,
                     const char *type, const char *help, uint64_t v)
{
    prom_head(o, name, type, help);
    mg_status_out_printf(o, "%s %" PRIu64 "\n", name, v);
}

/* microseconds as seconds with six decimals */
static const char *prom_seconds(const mg_status_io_t *o, uint64_t us)
{
    return mg_status_tmp_printf(o, "%" PRIu64 ".%06u", us / 1000000u,
                                (unsigned)(us % 1000000u));
}

/* hundredths of a percent as a ratio 0..1 with four decimals */
static const char *ratio(const mg_status_io_t *o, uint64_t hundredths_pct)
{
    return mg_status_tmp_printf(o, "%" PRIu64 ".%04u", hundredths_pct / 10000u,
                                (unsigned)(hundredths_pct % 10000u));
}

void mg_status_render_prom(const mg_status_io_t *o, const mg_status_t *s)
{
    const mg_sample_t *sm = &s->sys.sample;
    static const char *const states[] = {"ok", "throttle", "shed", "unknown"};
    uint32_t i;
    int k;

    prom_head(o, "memguard_build_info", "gauge",
              "always 1; the label says which version of mod_memguard runs");
    mg_status_out_puts(o,
                       "memguard_build_info{version=\"" MG_VERSION "\"} 1\n");
    prom_head(o, "memguard_state", "gauge",
              "1 for the current verdict state (fail mode applied), else 0; "
              "unknown before the first sample");
    for (k = 0; k < 4; k++) {
        mg_status_out_printf(o, "memguard_state{state=\"%s\"} %d\n", states[k],
                             strcmp(states[k], s->state_name) == 0);
    }
    prom_u64(o, "memguard_stale", "gauge",
             "1 if the last sample is too old (the sampler is stuck or dead)",
             (uint64_t)s->stale);
    prom_u64(o, "memguard_health_weight_percent", "gauge",
             "the weight ?health gives a load balancer: 100, 50, 0 (drain)",
             (uint64_t)s->health_weight);
    prom_u64(o, "memguard_sampler_starts_total", "counter",
             "sampler processes started", s->sampler_starts);
    prom_u64(o, "memguard_samples_total", "counter",
             "samples taken by the sampler", s->sampled ? s->sys.samples : 0);
    prom_u64(o, "memguard_transitions_total", "counter",
             "verdict state changes", s->sampled ? s->sys.ntransitions : 0);
    prom_u64(o, "memguard_sampler_replaced_total", "counter",
             "samplers the parent replaced because they stopped publishing",
             s->sampler_replaced);
    if (s->sampled) {
        prom_head(o, "memguard_sampler_interval_seconds", "gauge",
                  "the sampling interval in force");
        mg_status_out_printf(o, "memguard_sampler_interval_seconds %s\n",
                             prom_seconds(o, s->sys.interval_us));
        prom_head(o, "memguard_sampler_worst_gap_seconds", "gauge",
                  "longest time between two published samples, last minute");
        mg_status_out_printf(o, "memguard_sampler_worst_gap_seconds %s\n",
                             prom_seconds(o, s->sys.gap_max_us));
        prom_head(o, "memguard_sampler_worst_sample_seconds", "gauge",
                  "longest sample (read, judge, publish), last minute");
        mg_status_out_printf(o, "memguard_sampler_worst_sample_seconds %s\n",
                             prom_seconds(o, s->sys.loop_max_us));
        prom_head(o, "memguard_measurement_age_seconds", "gauge",
                  "age of each kind of measurement (absent: never made)");
        mg_status_out_printf(
            o, "memguard_measurement_age_seconds{kind=\"sample\"} %s\n",
            prom_seconds(o,
                         1000u * mg_status_age_ms(s, s->sys.last_sample_us)));
        if (s->measure_us) {
            mg_status_out_printf(
                o, "memguard_measurement_age_seconds{kind=\"processes\"} %s\n",
                prom_seconds(o, 1000u * mg_status_age_ms(s, s->measure_us)));
        }
        if (s->smaps_us) {
            mg_status_out_printf(
                o, "memguard_measurement_age_seconds{kind=\"smaps\"} %s\n",
                prom_seconds(o, 1000u * mg_status_age_ms(s, s->smaps_us)));
        }
        if (s->sys.sample.slab_taken_us) {
            mg_status_out_printf(
                o, "memguard_measurement_age_seconds{kind=\"slabinfo\"} %s\n",
                prom_seconds(o, 1000u * mg_status_age_ms(
                                            s, s->sys.sample.slab_taken_us)));
        }
        if (s->sys.fill_signal != MG_SIGNAL_NONE) {
            prom_head(o, "memguard_fill_rate_bytes_per_second", "gauge",
                      "how fast the signal nearest its level moves toward "
                      "it (negative: away)");
            mg_status_out_printf(
                o,
                "memguard_fill_rate_bytes_per_second{signal=\"%s\"} "
                "%" PRId64 "\n",
                mg_signal_name((mg_signal_t)s->sys.fill_signal),
                (int64_t)s->sys.fill_rate);
            prom_head(o, "memguard_fill_time_to_level_seconds", "gauge",
                      "time until that signal reaches its level at that rate");
            mg_status_out_printf(
                o, "memguard_fill_time_to_level_seconds{signal=\"%s\"} %s\n",
                mg_signal_name((mg_signal_t)s->sys.fill_signal),
                s->sys.fill_tte_us == MG_POLICY_TTE_NEVER
                    ? "+Inf"
                    : prom_seconds(o, s->sys.fill_tte_us));
        }
    }
    if (s->sampled) {
        prom_head(o, "memguard_sample_age_seconds", "gauge",
                  "age of the last sample");
        mg_status_out_printf(
            o, "memguard_sample_age_seconds %s\n",
            mg_status_tmp_printf(
                o, "%" PRIu64 ".%03u",
                mg_status_age_ms(s, s->sys.last_sample_us) / 1000u,
                (unsigned)(mg_status_age_ms(s, s->sys.last_sample_us) %
                           1000u)));
        prom_u64(o, "memguard_memory_total_bytes", "gauge", "MemTotal",
                 sm->mem_total);
        prom_u64(o, "memguard_memory_available_bytes", "gauge", "MemAvailable",
                 sm->mem_available);
        prom_u64(o, "memguard_slab_bytes", "gauge", "Slab", sm->slab);
        prom_u64(o, "memguard_slab_reclaimable_bytes", "gauge", "SReclaimable",
                 sm->sreclaimable);
        prom_u64(o, "memguard_slab_unreclaimable_bytes", "gauge", "SUnreclaim",
                 sm->sunreclaim);
        prom_head(o, "memguard_pressure_avg10_ratio", "gauge",
                  "memory pressure (PSI) avg10, 0..1");
        mg_status_out_printf(
            o, "memguard_pressure_avg10_ratio{kind=\"some\"} %s\n",
            ratio(o, sm->psi_some_avg10));
        mg_status_out_printf(
            o, "memguard_pressure_avg10_ratio{kind=\"full\"} %s\n",
            ratio(o, sm->psi_full_avg10));
        if (sm->cgroup_version) {
            prom_u64(o, "memguard_cgroup_usage_bytes", "gauge",
                     "the server's memory cgroup: usage", sm->cgroup_usage);
            prom_head(o, "memguard_cgroup_limit_bytes", "gauge",
                      "the server's memory cgroup: limit (+Inf: none)");
            if (sm->cgroup_limit == UINT64_MAX) {
                mg_status_out_puts(o, "memguard_cgroup_limit_bytes +Inf\n");
            }
            else {
                mg_status_out_printf(
                    o, "memguard_cgroup_limit_bytes %" PRIu64 "\n",
                    sm->cgroup_limit);
            }
        }
        if (sm->ntop > 0) {
            prom_head(o, "memguard_slab_cache_bytes", "gauge",
                      "the largest slab caches");
            for (i = 0; i < sm->ntop && i < MG_SAMPLE_TOP_CACHES; i++) {
                char name[MG_SAMPLE_NAME_LEN + 1];
                mg_status_cache_name(name, sm->top[i].name);
                mg_status_out_printf(o,
                                     "memguard_slab_cache_bytes{cache=\"%s\"} "
                                     "%" PRIu64 "\n",
                                     L(name), sm->top[i].bytes);
            }
        }
    }
    prom_head(o, "memguard_refused_total", "counter",
              "requests refused, by reason");
    for (k = 0; k < MG_REASON__COUNT; k++) {
        mg_status_out_printf(
            o, "memguard_refused_total{reason=\"%s\"} %" PRIu64 "\n",
            mg_status_reason_name(k), s->refused[k]);
    }
    prom_head(o, "memguard_admit_budget_bytes", "gauge",
              "what calls may still take above the shed level (absent: no "
              "level set)");
    if (s->sampled && s->sys.admit_budget != MG_BOARD_BUDGET_NONE) {
        mg_status_out_printf(o, "memguard_admit_budget_bytes %" PRId64 "\n",
                             (int64_t)s->sys.admit_budget);
    }
    prom_head(o, "memguard_admit_reserved_bytes", "gauge",
              "expected costs of the calls in flight");
    mg_status_out_printf(o, "memguard_admit_reserved_bytes %" PRId64 "\n",
                         (int64_t)s->admit_reserved);
    prom_u64(o, "memguard_admit_waiting", "gauge",
             "calls waiting for room in the budget", s->admit_waiting);
    prom_head(o, "memguard_admit_total", "counter",
              "admission outcomes and events");
    for (k = 0; k < MG_ADMIT__COUNT; k++) {
        mg_status_out_printf(o,
                             "memguard_admit_total{what=\"%s\"} %" PRIu64 "\n",
                             mg_status_admit_names[k], s->admit_count[k]);
    }
    prom_u64(o, "memguard_recycles_requested_total", "counter",
             "children flagged for recycling", s->recycle_requested);
    prom_u64(o, "memguard_recycles_total", "counter",
             "children that recycled themselves", s->recycle_done);
    prom_u64(o, "memguard_generation", "gauge", "restart generation",
             s->generation);

    /* Per child; the pid label changes when a slot gets a new child. */
#define CHILD_METRIC(metric, type, help, expr)                                 \
    do {                                                                       \
        prom_head(o, metric, type, help);                                      \
        for (i = 0; i < s->nused; i++) {                                       \
            const mg_board_slot_info_t *c = &s->slots[i];                      \
            mg_status_out_printf(                                              \
                o, metric "{slot=\"%u\",pid=\"%d\"} %" PRIu64 "\n",            \
                s->slot_idx[i], (int)c->pid, (uint64_t)(expr));                \
        }                                                                      \
    } while (0)
    CHILD_METRIC("memguard_child_requests_total", "counter",
                 "requests served by the child", c->requests);
    CHILD_METRIC("memguard_child_rss_bytes", "gauge",
                 "child size after its last request", c->rss);
    CHILD_METRIC("memguard_child_unshared_bytes", "gauge",
                 "child unshared size (smaps_rollup)", c->unshared);
    CHILD_METRIC("memguard_child_peak_rss_bytes", "gauge", "child peak size",
                 c->peak_rss);
    CHILD_METRIC("memguard_child_inflight", "gauge",
                 "requests the child serves now", c->inflight);
    CHILD_METRIC("memguard_child_recycle_pending", "gauge",
                 "1 if the child is flagged for recycling",
                 c->recycle_reason != 0);
#undef CHILD_METRIC

    /* Per method; method="" is the "other" entry. */
#define METHOD_METRIC(metric, type, help, field)                               \
    do {                                                                       \
        prom_head(o, metric, type, help);                                      \
        for (i = 0; i < s->nmeth; i++) {                                       \
            const mg_board_method_info_t *m = &s->meths[i];                    \
            mg_status_out_printf(o, metric "{method=\"%s\"} %" PRIu64 "\n",    \
                                 L(m->name), (uint64_t)m->field);              \
        }                                                                      \
    } while (0)
    METHOD_METRIC("memguard_method_calls_total", "counter",
                  "XML-RPC calls by method (\"\": other)", calls);
    METHOD_METRIC("memguard_method_inflight", "gauge",
                  "calls of the method being served now", inflight);
    METHOD_METRIC("memguard_method_request_bytes_total", "counter",
                  "request body bytes by method", bytes_in);
    METHOD_METRIC("memguard_method_response_bytes_total", "counter",
                  "response bytes by method", bytes_out);
    METHOD_METRIC("memguard_method_memory_delta_max_bytes", "gauge",
                  "largest memory growth of one call", delta_max);
    METHOD_METRIC("memguard_method_memory_delta_p95_bytes", "gauge",
                  "95th percentile of memory growth per call (upper bound)",
                  delta_p95);
#undef METHOD_METRIC
    prom_head(o, "memguard_method_expected_cost_bytes", "gauge",
              "what admission expects a call of the method to cost");
    for (i = 0; i < s->nmeth; i++) {
        const char *src;
        uint64_t e = mg_status_cost_expected(s, i, &src);

        mg_status_out_printf(
            o,
            "memguard_method_expected_cost_bytes{method=\"%s\","
            "source=\"%s\"} %" PRIu64 "\n",
            L(s->meths[i].name), src, e);
    }
    prom_head(o, "memguard_method_refused_total", "counter",
              "refusals by method and reason (nonzero only)");
    for (i = 0; i < s->nmeth; i++) {
        const mg_board_method_info_t *m = &s->meths[i];
        for (k = 0; k < MG_REASON__COUNT; k++) {
            if (m->rejections[k] == 0) {
                continue;
            }
            mg_status_out_printf(o,
                                 "memguard_method_refused_total{method=\"%s\","
                                 "reason=\"%s\"} %" PRIu64 "\n",
                                 L(m->name), mg_status_reason_name(k),
                                 m->rejections[k]);
        }
    }
}
