/*
 * mod_memguard_config.h - the configuration: server and per-directory
 * structures, their creation and merging (mod_memguard_config.c), and the
 * effective settings with defaults applied. The directive handlers that
 * fill the structures are in mod_memguard_directives*.c, the XML-RPC part
 * (memguard_dir_conf.xr) in mod_memguard_xrconf.c.
 */
#ifndef MOD_MEMGUARD_CONFIG_H
#define MOD_MEMGUARD_CONFIG_H

#include "mod_memguard.h"

#include "mg_policy.h"
#include "mg_sample.h"

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
 * Headroom settings (the sampler's, mod_memguard_sampler.c): one set for the
 * whole server, since there is one sampler; the directives are allowed in the
 * main server only. Every vhost's server conf points at the main server's.
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

/* MemGuardXmlLimits keys, in the order the README lists them. */
typedef enum {
    MEMGUARD_XL_DEPTH = 0,
    MEMGUARD_XL_ELEMENTS,
    MEMGUARD_XL_PARAMS,
    MEMGUARD_XL_ITEMS,
    MEMGUARD_XL_MEMBERS,
    MEMGUARD_XL_STRING,
    MEMGUARD_XL_NAME,
    MEMGUARD_XL_MULTICALL,
    MEMGUARD_XL_MULTICALL_DEPTH,
    MEMGUARD_XL_TOKEN,
    MEMGUARD_XL__COUNT
} memguard_xl_key_e;

/* The per-directory XML-RPC part (memguard_dir_conf.xr). NULL in a
 * section that sets none of it. */
struct memguard_xr_conf {
    int xmlrpc;          /* MemGuardXmlRpc: 1 On, 0 Off, or UNSET */
    unsigned limits_set; /* bit (1 << key) per key set here */
    uint64_t limits[MEMGUARD_XL__COUNT]; /* counts or bytes, per key */
    /* MemGuardMethod rules (memguard_rule *), in matching order: this
     * section's in directive order, then the enclosing scopes' (merge);
     * NULL when none apply */
    apr_array_header_t *rules;
    /* a bit per byte some rule's name can begin with (every bit for a
     * glob that does not begin with a plain byte): most calls name a
     * method no rule names, and are told so without reading a rule */
    uint32_t rule_first[8];
    apr_int64_t spool_memory; /* MemGuardSpoolMemory, bytes; UNSET */
    const char *spool_dir;    /* MemGuardSpoolDir; NULL: unset */
    /* MemGuardMulticall: the multicall method names (const char *), at
     * most MG_XMLRPC_MULTICALL_NAMES_MAX; NULL: unset (the inspector's
     * default, system.multicall and multiCall) */
    apr_array_header_t *multicall;
};

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
     * (struct memguard_xr_conf above); NULL when this section sets none of them
     */
    struct memguard_xr_conf *xr;
} memguard_dir_conf;

/* Defaults applied when a field is still UNSET at request time. */
#define MEMGUARD_DEFAULT_MAX_BODY 0 /* no limit */
#define MEMGUARD_DEFAULT_STYLE MEMGUARD_STYLE_FAULT
#define MEMGUARD_DEFAULT_MAX_RESPONSE 0                  /* no cap */
#define MEMGUARD_DEFAULT_THROTTLE_MAX_BODY (1024 * 1024) /* 1 MiB */

void *memguard_create_server_conf(apr_pool_t *p, server_rec *s);
void *memguard_merge_server_conf(apr_pool_t *p, void *base, void *add);
void *memguard_create_dir_conf(apr_pool_t *p, char *dir);
void *memguard_merge_dir_conf(apr_pool_t *p, void *base, void *add);

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

/* MemGuardAdmission for r: 1 On (the default), 0 Off. */
int memguard_admission(const request_rec *r);

/* The server-wide admission settings (main server), defaults applied. */
typedef struct {
    apr_int64_t dflt;    /* cost of a method not measured yet, bytes */
    apr_int64_t tiny;    /* at most this: no reservation, no wait */
    uint32_t slow;       /* slow start: calls at once until measured */
    apr_int64_t wait_us; /* longest wait for the budget */
    int ceiling;         /* MemGuardCallCeiling On */
} memguard_admit_settings;
void memguard_admit_settings_get(memguard_admit_settings *out);

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

#endif /* MOD_MEMGUARD_CONFIG_H */
