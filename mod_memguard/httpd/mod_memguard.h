/*
 * mod_memguard.h - what the glue files share: the module record, the
 * configuration structures, the per-request context and the refusal API.
 *
 * Glue files may include httpd and APR headers and the core's mg_*.h; the
 * core never includes this file (see README.md in this directory).
 */
#ifndef MOD_MEMGUARD_H
#define MOD_MEMGUARD_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"
#include "util_filter.h"

#include "mg_policy.h"
#include "mg_proc.h"
#include "mg_reason.h"
#include "mg_sample.h"
#include "mg_units.h"

#include "mg_log.h" /* MGLOGNO, shared with the core */

extern module AP_MODULE_DECLARE_DATA memguard_module;

/* mod_memguard.c gets this from AP_DECLARE_MODULE itself. */
#if defined(APLOG_USE_MODULE) && !defined(MEMGUARD_MODULE_FILE)
APLOG_USE_MODULE(memguard);
#endif

#define MEMGUARD_UNSET (-1)

/* MemGuardEngine */
typedef enum {
    MEMGUARD_ENGINE_OFF = 0,
    MEMGUARD_ENGINE_ON = 1,
    MEMGUARD_ENGINE_DETECT = 2 /* DetectOnly: log and count, refuse nothing */
} memguard_engine_e;

/* MemGuardRejectStyle */
typedef enum {
    MEMGUARD_STYLE_FAULT = 0, /* XML-RPC calls get a <fault>; others HTTP */
    MEMGUARD_STYLE_HTTP = 1,  /* always an HTTP status */
    MEMGUARD_STYLE_MIXED = 2  /* retryable refusals an HTTP status (503 +
                               * Retry-After), the others as in fault */
} memguard_style_e;

/* MemGuardCgroup */
typedef enum {
    MEMGUARD_CGROUP_OFF = 0,
    MEMGUARD_CGROUP_AUTO = 1, /* the sampler's own group = the server's */
    MEMGUARD_CGROUP_PATH = 2  /* a directory under MemGuardProcRoot */
} memguard_cgroup_e;

/*
 * Headroom settings (mod_memguard_sampler.c): one set for the whole server,
 * since there is one sampler; the directives are allowed in the main
 * server only. Every vhost's server conf points at the main server's.
 */
typedef struct {
    int configured;               /* a threshold was set: run the sampler */
    int engine_seen;              /* MemGuardEngine On/DetectOnly somewhere */
    apr_int64_t interval_us;      /* MemGuardSampleInterval, µs; UNSET */
    const char *proc_root;        /* MemGuardProcRoot; NULL = "/" */
    int cgroup;                   /* memguard_cgroup_e; UNSET = auto */
    const char *cgroup_path;      /* MemGuardCgroup PATH (under proc_root) */
    int numa;                     /* MemGuardNuma: 1 auto, 0 off; UNSET = 1 */
    apr_int64_t sustain_us;       /* MemGuardSustain, µs; UNSET */
    apr_int64_t hysteresis_bp;    /* MemGuardHysteresis, 1/100 %; UNSET */
    apr_int64_t fill_throttle_us; /* MemGuardFillHorizon, µs; 0 off; UNSET */
    apr_int64_t fill_shed_us;     /* its second value, µs; 0 off; UNSET */
    int fail_mode;                /* mg_fail_mode_t; UNSET = open */
    mg_policy_conf_t policy;      /* thresholds (the rest filled at start) */
    uint32_t ncaches;             /* MemGuardSlabCache entries */
    char caches[MG_SAMPLE_MAX_CACHES][MG_SAMPLE_NAME_LEN];
    /* admission by memory cost (server-wide: one budget) */
    apr_int64_t admit_default; /* MemGuardAdmitDefault, bytes; UNSET */
    apr_int64_t admit_tiny;    /* MemGuardAdmitTiny, bytes; UNSET */
    apr_int64_t admit_slow;    /* MemGuardAdmitSlowStart, calls; UNSET */
    apr_int64_t admit_wait_us; /* MemGuardAdmitWait, µs; UNSET */
    int ceiling;               /* MemGuardCallCeiling On = 1; UNSET */
} memguard_headroom_conf;

#define MEMGUARD_DEFAULT_INTERVAL_US 100000       /* 100 ms */
#define MEMGUARD_MIN_INTERVAL_US 10000            /* 10 ms */
#define MEMGUARD_DEFAULT_SUSTAIN_US 0             /* trip on the first sample */
#define MEMGUARD_DEFAULT_HYSTERESIS_BP 1000       /* 10 % */
#define MEMGUARD_STALE_MIN_US 2000000             /* stale: >= 2 s ... */
#define MEMGUARD_STALE_INTERVALS 10               /* ... and >= 10 intervals */
#define MEMGUARD_DEFAULT_FILL_THROTTLE_US 5000000 /* 5 s */
#define MEMGUARD_DEFAULT_FILL_SHED_US 1000000     /* 1 s */
#define MEMGUARD_DEFAULT_ADMIT_DEFAULT (32 << 20) /* 32 MiB */
#define MEMGUARD_DEFAULT_ADMIT_TINY (1 << 20)     /* 1 MiB */
#define MEMGUARD_DEFAULT_ADMIT_SLOW 2             /* calls */
#define MEMGUARD_DEFAULT_ADMIT_WAIT_US 10000000   /* 10 s */
/* The learned cost: this quantile (permille) of what the method's recent
 * calls took, about this many recent calls (mg_board.h). */
#define MEMGUARD_ADMIT_QUANTILE 950
#define MEMGUARD_ADMIT_RECENT 1000
/* MemGuardChildMetric */
typedef enum {
    MEMGUARD_METRIC_RSS = 0,     /* resident size (statm, every request) */
    MEMGUARD_METRIC_UNSHARED = 1 /* private pages (smaps_rollup, sampler) */
} memguard_metric_e;

/*
 * Recycling (mod_memguard_recycle.c). A child serves every virtual host,
 * so these are global: the directives are refused inside <VirtualHost>
 * and read from the main server's configuration only.
 */
typedef struct {
    apr_int64_t soft_limit; /* bytes; 0 = none; UNSET */
    apr_int64_t hard_limit; /* bytes; 0 = none; UNSET */
    int metric;             /* memguard_metric_e, or UNSET */
    apr_int64_t jitter_bp;  /* +- basis points (1000 = 10%); UNSET */
    int max_per_minute;     /* recycles per minute, 0 = no cap; UNSET */
    int on_pressure;        /* MemGuardRecycleOnPressure On = 1; UNSET */
    const char *watch;      /* MemGuardWatchDaemons pattern, or NULL */
} memguard_recycle_conf;

#define MEMGUARD_DEFAULT_METRIC MEMGUARD_METRIC_UNSHARED
#define MEMGUARD_DEFAULT_JITTER_BP 1000  /* 10% */
#define MEMGUARD_DEFAULT_MAX_RECYCLES 10 /* per minute */

/* Server (vhost) configuration. */
typedef struct {
    int engine;      /* memguard_engine_e, or UNSET */
    int retry_after; /* seconds in Retry-After; UNSET */
    /* the main server's headroom settings, shared by every vhost */
    memguard_headroom_conf *hr;
    memguard_recycle_conf recycle; /* main server only, see above */
} memguard_server_conf;

#define MEMGUARD_DEFAULT_RETRY_AFTER 5 /* seconds */

/* Per-directory configuration; every field UNSET until a directive sets it,
 * so a <Location> inherits what it does not override. */
typedef struct {
    int engine;           /* memguard_engine_e, or UNSET */
    apr_int64_t max_body; /* bytes; 0 = no limit; UNSET */
    int reject_style;     /* memguard_style_e, or UNSET */
    /* MemGuardMaxResponse: bytes; 0 = no cap; UNSET */
    apr_int64_t max_response;
    /* MemGuardShedExempt: 1 exempt from shedding and throttling; UNSET */
    int shed_exempt;
    /* MemGuardThrottleMaxBody: bytes; 0 = no limit; UNSET */
    apr_int64_t throttle_max_body;
    /* MemGuardRetryFault: 1 retry_fault is the faultCode of retryable
     * refusals; 0 each reason's own code ("default"); UNSET */
    int retry_fault_set;
    int retry_fault; /* a nonzero 32-bit faultCode, e.g. 1014 */
    /* MemGuardAdmission: 1 On, 0 Off; UNSET (On) */
    int admission;
    /* MemGuardXmlRpc, MemGuardXmlLimits, MemGuardMethod, MemGuardSpool*
     * (mod_memguard_xmlrpc.h); NULL when this section sets none of them */
    struct memguard_xr_conf *xr;
} memguard_dir_conf;

/* Defaults applied when a field is still UNSET at request time. */
#define MEMGUARD_DEFAULT_MAX_BODY 0 /* no limit */
#define MEMGUARD_DEFAULT_STYLE MEMGUARD_STYLE_FAULT
#define MEMGUARD_DEFAULT_MAX_RESPONSE 0                  /* no cap */
#define MEMGUARD_DEFAULT_THROTTLE_MAX_BODY (1024 * 1024) /* 1 MiB */

/* Per-request state, created on first use and kept in the request config. */
typedef struct {
    int engine;          /* effective memguard_engine_e */
    int refused;         /* set once an answer was sent */
    int answering;       /* our own answer is passing the guard */
    int answer_status;   /* status of the answer we sent, or 0 */
    apr_off_t body_seen; /* request body bytes counted so far */
    /* The body as it comes off the wire, below every decoder
     * (MEMGUARD_WIRE, mod_memguard_body.c). What was read, not what the
     * headers say: mod_deflate removes Content-Length once it inflates. */
    int wire_added;            /* MEMGUARD_WIRE in place: a body announced */
    int body_eos;              /* its end was read: nothing left unread */
    apr_off_t wire_seen;       /* bytes read off the wire (still encoded) */
    apr_status_t wire_rv;      /* the wire's last failure (client, chunks) */
    const char *body_encoding; /* Content-Encoding as sent, or NULL */
    int decoding;              /* a filter (DEFLATE) decodes the body */
    /* bytes the decoded body may reach before it is refused (0 = none):
     * inflating is paced against it (MEMGUARD_WIRE) */
    apr_int64_t body_bound;
    uint32_t method_idx; /* board method entry, or UINT32_MAX */
    /* bytes: this request's response cap from memguard_respcap_set_limit();
     * 0 = none (MemGuardMaxResponse alone applies) */
    apr_int64_t max_response;
    /* set once MEMGUARD_RESPCAP is in r's output filters */
    int respcap_added;
    /* accounting (mod_memguard_account.c): 1 once the size at the start
     * was read and the board slot counted the request in flight */
    int acct_begun;
    apr_uint64_t rss_begin; /* bytes, /proc/self/statm at header_parser */
    /* bytes: the size MEMGUARD_RECYCLE read when the whole response went
     * through it in one brigade (EOS included): nothing of the request
     * was left to run, so its end needs no second read; 0 otherwise */
    apr_uint64_t rss_done;
    /* set by the XML-RPC inspection before memguard_gate_method(): every
     * method the call runs is MemGuardMethod ... essential */
    int essential;
    /* header_parser left the verdict to memguard_gate_method(): only the
     * inspection can tell an essential call */
    int gate_deferred;
    /* admission (mod_memguard_admit.c): the call's cost and reservation;
     * NULL until the inspector names a method */
    struct memguard_admit_call *admit;
} memguard_req_ctx;

/* mod_memguard_config.c */
extern const command_rec memguard_cmds[];
void *memguard_create_server_conf(apr_pool_t *p, server_rec *s);
void *memguard_merge_server_conf(apr_pool_t *p, void *base, void *add);
void *memguard_create_dir_conf(apr_pool_t *p, char *dir);
void *memguard_merge_dir_conf(apr_pool_t *p, void *base, void *add);

/* Value parsers for directive handlers: NULL, or an error naming the
 * directive and the value. */
const char *memguard_parse_size(cmd_parms *cmd, const char *arg,
                                apr_int64_t *out);
const char *memguard_parse_duration(cmd_parms *cmd, const char *arg,
                                    apr_int64_t *out_us);
const char *memguard_parse_percent(cmd_parms *cmd, const char *arg,
                                   apr_int64_t *out_bp);
const char *memguard_parse_threshold(cmd_parms *cmd, const char *arg,
                                     mg_threshold_t *out);

/* The effective settings for r (defaults applied). */
int memguard_engine(const request_rec *r);
int memguard_style(const request_rec *r);
apr_int64_t memguard_max_body(const request_rec *r);
apr_int64_t memguard_max_response(const request_rec *r);
int memguard_retry_after(const request_rec *r);
/* MemGuardRetryFault: the faultCode of retryable refusals, or 0 for each
 * reason's own. */
int memguard_retry_fault(const request_rec *r);
int memguard_shed_exempt(const request_rec *r);
apr_int64_t memguard_throttle_max_body(const request_rec *r);

/* The headroom settings of the server being configured or running. */
memguard_headroom_conf *memguard_headroom(server_rec *s);
/* The stale-sample limit for hr (µs): max(10 intervals, 2 s). */
uint64_t memguard_stale_after_us(const memguard_headroom_conf *hr);

/* mod_memguard_board.c: the board in shared memory. */
#define MEMGUARD_BOARD_METHODS 64 /* named method entries (+ "other") */

struct mg_board;
/* The board, in every process after post_config; NULL before. */
struct mg_board *memguard_board(void);
/* This child's board slot (found from its first connection), or -1. */
int memguard_slot(conn_rec *c);
/* CLOCK_MONOTONIC in microseconds (the board's clock). */
uint64_t memguard_now_us(void);
/* This process's pid, read once per process (getpid(2) is a system call
 * each time: glibc stopped caching it). */
pid_t memguard_pid(void);
/* Forget it: for a process just forked (the sampler, a child). */
void memguard_pid_forget(void);
struct mg_board_sys;
/* The verdict the sampler's record (mg_board_sys_read) describes, for
 * mg_verdict_describe(): state, deciding signal, value, threshold, and
 * the level it clears at. */
void memguard_sys_verdict(const struct mg_board_sys *rec, mg_verdict_t *v);
/* Count a refusal in this child's slot and the request's method. */
void memguard_count_refusal(request_rec *r, mg_reason_t reason, int detect);
void memguard_board_register(apr_pool_t *p);

/* mod_memguard_reject.c */

/* The request's context, created on first call. */
memguard_req_ctx *memguard_req(request_rec *r);

/* Is r an XML-RPC call (a POST with an XML content type)? */
int memguard_is_xmlrpc(const request_rec *r);

/*
 * Refuse r for `reason`. detail is the human part with the numbers
 * ("10485760 bytes > limit 1048576 (MemGuardMaxRequestBody)"). Logs once
 * at INFO, counts, sets the note memguard-verdict, then:
 * - DetectOnly: returns OK; the caller lets the request go on;
 * - fault style and an XML-RPC call: writes a 200 <methodResponse><fault>
 *   and returns DONE;
 * - otherwise: returns the reason's HTTP status for ap_die (Retry-After
 *   set for retryable reasons).
 * A refusal made while the request body is still unread switches
 * keep-alive off so httpd does not read a body nobody wants.
 */
int memguard_refuse(request_rec *r, mg_reason_t reason, const char *detail);

/*
 * The same, from inside an input filter once the handler is reading the
 * body: the answer goes out through r->output_filters at once (an error
 * bucket for http style, so ap_die builds the page), and whatever the
 * handler writes afterwards is dropped by the MEMGUARD_GUARD filter.
 * Returns the status to return from the input filter (AP_FILTER_ERROR),
 * or APR_SUCCESS in DetectOnly mode.
 */
apr_status_t memguard_refuse_in_filter(ap_filter_t *f, mg_reason_t reason,
                                       const char *detail);

/*
 * Abort a response that has already started (headers or bytes sent): the
 * client must see it incomplete (chunked terminator withheld, connection
 * closed), never a short success. Later output is dropped.
 */
void memguard_abort_response(request_rec *r);

/* The XML-RPC fault document for code and text (text escaped here). */
const char *memguard_fault_xml(apr_pool_t *p, int code, const char *text);

/* Register the MEMGUARD_GUARD output filter. */
void memguard_reject_register(apr_pool_t *p);

/*
 * The steps of mod_memguard.c's one hook per request phase, in the order
 * it calls them (see there for why).
 * header_parser: memguard_account_begin(), memguard_gate_header_parser(),
 * memguard_body_header_parser() (these two return DECLINED to go on, or
 * a refusal's DONE / HTTP status, which ends the phase).
 * log_transaction: memguard_reject_log_status(), memguard_account_end().
 */
void memguard_account_begin(request_rec *r);
int memguard_gate_header_parser(request_rec *r);
int memguard_body_header_parser(request_rec *r);
void memguard_reject_log_status(request_rec *r);
void memguard_account_end(request_rec *r);

/* mod_memguard_body.c: MemGuardMaxRequestBody, the MEMGUARD_BODY and
 * MEMGUARD_WIRE input filters */
void memguard_body_register(apr_pool_t *p);

/* mod_memguard_respcap.c: MemGuardMaxResponse, the MEMGUARD_RESPCAP
 * output filter. */
void memguard_respcap_register(apr_pool_t *p);

/*
 * Lower the response cap of r to `limit` bytes (a per-method
 * max-response= rule). The effective cap is the smaller of this and
 * MemGuardMaxResponse; limit <= 0 changes nothing, and a call can only
 * lower the cap, never raise it. Call it before the handler writes
 * (fixups at the latest); the filter is added if it is not in place yet.
 * Does nothing when MemGuardEngine is Off.
 */
void memguard_respcap_set_limit(request_rec *r, apr_int64_t limit);

/* mod_memguard_xmlrpc.c: MemGuardXmlRpc (inspect before dispatch, spool,
 * replay) and its directives; mod_memguard_rules.c: MemGuardMethod. */
struct memguard_xr_conf *memguard_xr_merge(apr_pool_t *p,
                                           struct memguard_xr_conf *base,
                                           struct memguard_xr_conf *add);
const char *memguard_set_xmlrpc(cmd_parms *cmd, void *dcfg, int on);
const char *memguard_set_xml_limits(cmd_parms *cmd, void *dcfg,
                                    const char *arg);
const char *memguard_set_spool_memory(cmd_parms *cmd, void *dcfg,
                                      const char *arg);
const char *memguard_set_spool_dir(cmd_parms *cmd, void *dcfg, const char *arg);
const char *memguard_set_method(cmd_parms *cmd, void *dcfg, int argc,
                                char *const argv[]);
const char *memguard_set_multicall(cmd_parms *cmd, void *dcfg, int argc,
                                   char *const argv[]);
void memguard_xmlrpc_register(apr_pool_t *p);
/* Can r be an essential call (a POST to be inspected where some
 * MemGuardMethod rule is essential)? Then only its inspection can tell,
 * and the verdict gate waits for it (memguard_gate_method()). */
int memguard_xmlrpc_may_be_essential(const request_rec *r);

/*
 * mod_memguard_gate.c: the verdict gate for a call whose method is known
 * (after inspection, before dispatch). expensive: a MemGuardMethod rule
 * marks the method (or, for a multicall, any inner method) expensive.
 * Returns OK, or the refusal's return value (memguard_refuse()).
 */
int memguard_gate_method(request_rec *r, int expensive);

/* mod_memguard_recycle.c: mark the child serving r for recycling
 * (DESIGN.md section 6); `why` goes into the INFO log line. */
/* mod_memguard_account.c: per-request memory accounting. */
void memguard_account_register(apr_pool_t *p);

/* This process's resident size in bytes from /proc/self/statm (the fd
 * opened in child_init; one pread). 0, or -1 when it cannot be read. */
int memguard_account_rss(apr_uint64_t *rss);
/* The whole of /proc/self/statm (one pread): 0 or -1. */
int memguard_account_statm(mg_proc_statm_t *st);

/* The global recycling settings (main server), defaults applied. */
typedef struct {
    apr_uint64_t soft_limit, hard_limit; /* bytes, 0 = none */
    int metric;                          /* memguard_metric_e */
    apr_uint32_t jitter_bp;
    apr_uint32_t max_per_minute; /* 0 = no cap */
    int on_pressure;
    const char *watch; /* NULL = watch no daemons */
} memguard_recycle_settings;
void memguard_recycle_settings_get(memguard_recycle_settings *out);

/*
 * mod_memguard_recycle.c: mark the child serving r for recycling
 * (DESIGN.md section 6) for reason (mg_recycle_reason_t: RESPONSE,
 * NICE); `why` goes into the INFO log line. On prefork the
 * child recycles itself once this request is over; under a threaded MPM
 * the mark is only reported.
 */
void memguard_recycle_request(request_rec *r, uint32_t reason, const char *why);
/* mod_memguard_recycle.c: can a child of this MPM recycle itself by a
 * signal (prefork-like: forked, not threaded)? */
int memguard_recycle_mpm_can_signal(void);

/* mod_memguard_admit.c: admission by memory cost. */
typedef struct memguard_admit_call memguard_admit_call;
typedef struct {
    apr_int64_t dflt;    /* cost of a method not measured yet, bytes */
    apr_int64_t tiny;    /* at most this: no reservation, no wait */
    uint32_t slow;       /* slow start: calls at once until measured */
    apr_int64_t wait_us; /* longest wait for the budget */
    int ceiling;         /* MemGuardCallCeiling On */
} memguard_admit_settings;
void memguard_admit_settings_get(memguard_admit_settings *out);
int memguard_admission(const request_rec *r);
void memguard_admit_register(apr_pool_t *p);
/* The inspector, for the call's method (inner: 0) and each inner call of
 * a multicall (inner: 1): its board method and its rule's memory= (0). */
void memguard_admit_method(request_rec *r, uint32_t method, apr_int64_t memory,
                           int inner);
/* After the rules and the gate: reserve the call's expected cost, waiting
 * up to MemGuardAdmitWait. OK, or what memguard_refuse() returned. */
int memguard_admit(request_rec *r);
/* log_transaction (accounting): record what the call took (rss and delta
 * when have), give its reservation back. */
void memguard_admit_end(request_rec *r, uint64_t rss, int64_t delta, int have);

/* mod_memguard_nice.c: MemGuardMethod nice=. */
void memguard_nice_register(apr_pool_t *p);
/* While the configuration is read: some rule has nice=. */
void memguard_nice_note_used(void);
/* Prefork: lower this child's priority by nice (1 to 19) for r, and have
 * the child recycled after r (it may not return); nothing under threaded
 * MPMs. */
void memguard_nice_begin(request_rec *r, int nice, const char *method);
/* mod_memguard_status.c: the memguard-status handler (HTML, ?auto, ?json,
 * ?prometheus, ?health) and a section in mod_status's page. */
void memguard_status_register(apr_pool_t *p);

/*
 * Is r for the status page (SetHandler memguard-status or
 * memguard-health)? Works from
 * header_parser on, before r->handler is set. Limits and the shedding
 * gate must let such a request through: the page is how an operator and
 * a load balancer see that the server is shedding.
 */
int memguard_is_status(request_rec *r);
/* mod_memguard_sampler.c: the sampler process and its parent-side life
 * (fork in post_config, restart on death, stop on restart/shutdown). */
void memguard_sampler_register(apr_pool_t *p);
/* Is a sampler configured for this generation (thresholds set, or an
 * engine On/DetectOnly somewhere)? Valid in children. */
int memguard_sampler_enabled(void);
/* CLOCK_MONOTONIC µs when the parent first started a sampler for this
 * board, 0 if never (inherited by children: the start-up grace for a
 * board that was never sampled). */
uint64_t memguard_sampler_first_start_us(void);

/* mod_memguard_gate.c: per-request admission from the verdict word. */
void memguard_gate_register(apr_pool_t *p);
/*
 * For the XML-RPC inspector, once it knows the method: under `shed` every
 * call is refused (MG_REASON_SHED), under `throttle` a call marked
 * expensive is refused (MG_REASON_THROTTLE), and so is a body over
 * MemGuardThrottleMaxBody when header_parser left that check here
 * (ctx->gate_deferred). A call whose ctx->essential is set passes
 * whatever the verdict. Returns OK to go on, or the refusal's return
 * value (DONE or an HTTP status, see memguard_refuse()). Exempt
 * locations, subrequests and an engine that is Off always get OK.
 */
int memguard_gate_method(request_rec *r, int expensive);

/*
 * Child side, called by the accounting hooks with the size just read (0
 * when unknown): at the start of a request (header_parser: nothing sent
 * yet) and at its end (log_transaction). They compare with the child
 * limits and act on this child's recycle flag.
 */
void memguard_recycle_at_start(request_rec *r, apr_uint64_t rss);
void memguard_recycle_at_end(request_rec *r, apr_uint64_t rss);
void memguard_recycle_register(apr_pool_t *p);

/*
 * Sampler side: the sampler process calls these (mod_memguard_sampler.c).
 *
 * memguard_recycle_sampler_init(): once in the sampler process, after its
 * own signal handlers are set and BEFORE it drops privileges (it opens
 * /proc as a directory for the daemon scan and allocates its fixed tables
 * from p; nothing is allocated later). parent is the httpd parent's pid:
 * watched daemons must be its children.
 *
 * memguard_recycle_sampler_tick(): from the sampler's measuring thread
 * (never the publishing one: reading other processes can take long on a
 * loaded box), at each of its ticks, with the CLOCK_MONOTONIC time
 * (memguard_now_us()) and the verdict state last published
 * (mg_verdict_state_t). Never allocates;
 * its own work is paced inside (children every call: O(slots); pressure
 * picks and daemon sizes once a second: O(slots + watched daemons); the
 * /proc scan for new daemons every 2 s: O(processes)). Does nothing when
 * no recycling directive is set.
 */
void memguard_recycle_sampler_init(server_rec *s, apr_pool_t *p, pid_t parent);
void memguard_recycle_sampler_tick(server_rec *s, apr_uint64_t now_us,
                                   apr_uint32_t verdict_state);

#endif /* MOD_MEMGUARD_H */
