/*
 * mg_status_int.h - what the status renderers share (mg_status.c defines
 * it; mg_status_text.c and mg_status_html.c use it). Not for the glue: it
 * includes mg_status.h and uses only its public functions.
 *
 * Strings returned here come from the caller's allocator (mg_status_io_t)
 * and live as long as it does, like the request pool's in httpd.
 */
#ifndef MG_STATUS_INT_H
#define MG_STATUS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "mg_format.h"
#include "mg_status.h"

/* The admission counters' names (JSON, Prometheus, HTML) and ?auto keys. */
extern const char *const mg_status_admit_names[MG_ADMIT__COUNT];
extern const char *const mg_status_admit_keys[MG_ADMIT__COUNT];

/* ---- output ---- */
void mg_status_out_puts(const mg_status_io_t *o, const char *s);
void mg_status_out_printf(const mg_status_io_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *mg_status_tmp_printf(const mg_status_io_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* s through one of mg_format's escapers, as a string. */
typedef size_t (*mg_status_esc_fn)(char *, size_t, const char *, size_t);
const char *mg_status_esc(const mg_status_io_t *o, mg_status_esc_fn f,
                          const char *s);

/* Shorthands for the renderers, which name their sink o. */
#define H(s) mg_status_esc(o, mg_format_html, (s))
#define J(s) mg_status_esc(o, mg_format_json, (s))
#define L(s) mg_status_esc(o, mg_format_prom_label, (s))

/* ---- values as text ---- */
const char *mg_status_reason_name(int i);
/* "BodySize" for "body-size". */
const char *mg_status_reason_key(const mg_status_io_t *o, int i);
const char *mg_status_hundredths(const mg_status_io_t *o, uint64_t v);
/* "23.2 GiB" */
const char *mg_status_size_h(const mg_status_io_t *o, uint64_t v);
/* Age of a CLOCK_MONOTONIC time in ms at the snapshot; 0 for the future. */
uint64_t mg_status_age_ms(const mg_status_t *s, uint64_t t_us);
/* "3.5 s", "never" for UINT64_MAX milliseconds */
const char *mg_status_seconds_h(const mg_status_io_t *o, uint64_t ms);
/* A signal's value or threshold for people: bytes, a PSI percentage, or
 * the time left for a fill signal. */
const char *mg_status_signal_value_h(const mg_status_io_t *o, uint32_t sig,
                                     uint64_t v);
/* Age in ms of t_us, as a number for ?auto and JSON; never for 0. */
const char *mg_status_age_or_never(const mg_status_io_t *o,
                                   const mg_status_t *s, uint64_t t_us,
                                   const char *never);
/* Time to the fill level in ms, for ?auto and JSON. */
const char *mg_status_tte_ms(const mg_status_io_t *o, const mg_board_sys_t *rec,
                             const char *never);
/* "cgroup headroom falling 120.0 MiB/s, shed level 102.4 MiB in 3.5 s" */
const char *mg_status_fill_h(const mg_status_io_t *o,
                             const mg_board_sys_t *rec);
const char *mg_status_state_name(uint32_t st);
/* The budget for ?auto and JSON: bytes, or none when no level bounds it. */
const char *mg_status_budget_str(const mg_status_io_t *o, const mg_status_t *s,
                                 const char *none);
/* The expected cost of method entry i as admission sees it (without a
 * location's memory=), and where it comes from. */
uint64_t mg_status_cost_expected(const mg_status_t *s, uint32_t i,
                                 const char **source);
/* A slab cache name from the sample (not NUL-terminated when it fills its
 * field) as a string. */
void mg_status_cache_name(char name[MG_SAMPLE_NAME_LEN + 1], const char *src);

/* ---- the renderers ---- */
void mg_status_render_auto(const mg_status_io_t *o, const mg_status_t *s);
void mg_status_render_json(const mg_status_io_t *o, const mg_status_t *s);
void mg_status_render_prom(const mg_status_io_t *o, const mg_status_t *s);
void mg_status_render_html(const mg_status_io_t *o, const mg_status_t *s);

#endif /* MG_STATUS_INT_H */
