/*
 * mg_status.h - the status page's data model and its renderers.
 *
 * The glue takes one snapshot of the board (mg_status_snapshot(): the
 * system record under its seqlock, every slot in use, every claimed
 * method entry; O(slots + methods), no lock, no I/O) together with the
 * few facts only httpd knows (the clock, MemGuardFailMode and the
 * staleness time, MemGuardAdmitDefault, the server name), and only then
 * renders it in one of the formats into a sink. A slow client therefore
 * never holds anything another process waits for.
 *
 * Formats (mg_status_format_t), chosen by the query string:
 *   HTML        in the manner of server-status
 *   AUTO        "Key: value" lines, stable keys (conf/README.md)
 *   JSON        one JSON object, schema "memguard-status/1"
 *   PROM        Prometheus text exposition format 0.0.4
 *   HEALTH      "up ready 100%" / "up ready 50%" (200) or "drain" (503)
 * and mod_status's section (mg_status_render_section()).
 *
 * Everything a client could have chosen (method names) and everything the
 * kernel named (slab caches) goes through mg_format's escapers for the
 * format at hand.
 *
 * Memory: the snapshot's arrays and the renderers' temporary strings come
 * from the caller's allocator (httpd: the request pool), which must not
 * return NULL; nothing is freed here. Output goes to the caller's write
 * callback, in pieces.
 */
#ifndef MG_STATUS_H
#define MG_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "mg_board.h"
#include "mg_policy.h"

#define MG_STATUS_SCHEMA "memguard-status/1"
#define MG_STATUS_HANDLER "memguard-status"
/* Health only, whatever the query: a location a load balancer may reach
 * without seeing the rest of the page. */
#define MG_STATUS_HEALTH_HANDLER "memguard-health"

/* The HTTP statuses ?health answers with. */
#define MG_STATUS_HTTP_OK 200
#define MG_STATUS_HTTP_UNAVAILABLE 503

/* Health weights (HAProxy agent syntax): full when ok, half when
 * throttling, drain when shedding. */
#define MG_STATUS_HEALTH_WEIGHT_OK 100
#define MG_STATUS_HEALTH_WEIGHT_THROTTLE 50

/* Where the renderers write and the snapshot allocates. */
typedef struct {
    void *(*alloc)(void *baton, size_t n); /* never NULL; not freed here */
    void *alloc_baton;
    void (*write)(void *baton, const char *buf, size_t len);
    void *write_baton;
} mg_status_io_t;

/* What only the glue knows. */
typedef struct {
    uint64_t now_us;         /* CLOCK_MONOTONIC, µs */
    uint64_t stale_after_us; /* the sampler's staleness time (the gate's) */
    mg_fail_mode_t fail_mode;
    uint64_t admit_default;  /* MemGuardAdmitDefault, bytes */
    const char *server_name; /* the HTML page's title */
} mg_status_facts_t;

/* What the page shows: a copy of the board taken before any output. */
typedef struct {
    int have_board;
    const char *server_name;
    uint64_t now_us;
    uint32_t generation;
    uint32_t sampler_starts;
    mg_board_verdict_t word; /* 0: never sampled */
    int have_sys;            /* sys is a consistent copy */
    mg_board_sys_t sys;
    int sampled;              /* a verdict was ever published */
    int stale;                /* ... but it is too old */
    mg_verdict_state_t state; /* effective state (fail mode applied) */
    const char *state_name;   /* "ok", "throttle", "shed", "unknown" */
    const char *signal_name;
    char why[256];           /* mg_verdict_describe */
    int health_status;       /* MG_STATUS_HTTP_OK or _UNAVAILABLE */
    int health_weight;       /* 0..100 */
    const char *health_text; /* "up ready 100%", "drain" */
    uint32_t nslots;         /* slots in the board */
    uint32_t nused;          /* slots with a process */
    uint32_t *slot_idx;
    mg_board_slot_info_t *slots;
    uint32_t nmeth; /* entries copied (named + other) */
    uint32_t *meth_idx;
    mg_board_method_info_t *meths;
    uint32_t other_idx;
    uint64_t refused[MG_REASON__COUNT]; /* sum over method entries */
    uint64_t refused_total;
    uint64_t recycle_requested;
    uint64_t recycle_done;
    uint64_t requests; /* live children only */
    uint64_t inflight;
    uint64_t recycle_pending;
    uint32_t sampler_replaced;
    uint64_t measure_us; /* the measuring thread's last pass; 0: never */
    uint64_t smaps_us;   /* its last smaps round; 0: never */
    /* admission */
    int64_t admit_reserved;
    uint32_t admit_waiting;
    int64_t admit_waiting_bytes;
    uint64_t admit_count[MG_ADMIT__COUNT];
    mg_board_cost_info_t *costs; /* per method entry copied */
    mg_board_res_info_t *res;    /* per slot copied: its reservations */
    uint64_t admit_default;      /* MemGuardAdmitDefault */
} mg_status_t;

typedef enum {
    MG_STATUS_HTML,
    MG_STATUS_AUTO,
    MG_STATUS_JSON,
    MG_STATUS_PROM,
    MG_STATUS_HEALTH
} mg_status_format_t;

/* The sampler's record as a verdict (for mg_verdict_describe()). */
void mg_status_sys_verdict(const mg_board_sys_t *rec, mg_verdict_t *v);

/*
 * Fill s from board b (NULL: the board is not available, and s says so)
 * and the glue's facts. The staleness rule is the gate's exactly, so the
 * page and ?health say what clients get.
 */
void mg_status_snapshot(mg_status_t *s, const mg_board_t *b,
                        const mg_status_facts_t *facts,
                        const mg_status_io_t *io);

/* The format a query string asks for: the first of the words auto, json,
 * prometheus (or metrics), health in args ('&' or ';' separated, a word
 * may carry "=value"); HTML when none (args may be NULL). */
mg_status_format_t mg_status_format(const char *args);

/* Is h one of the two handler names? */
int mg_status_is_handler(const char *h);

/* The content type of a format's answer. */
const char *mg_status_content_type(mg_status_format_t fmt);

/* Write s in format fmt. */
void mg_status_render(const mg_status_t *s, mg_status_format_t fmt,
                      const mg_status_io_t *io);

/* mod_status's section: "Key: value" lines for its ?auto (short), else
 * an HTML fragment. */
void mg_status_render_section(const mg_status_t *s, int short_form,
                              const mg_status_io_t *io);

#endif /* MG_STATUS_H */
