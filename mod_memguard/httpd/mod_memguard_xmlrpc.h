/*
 * mod_memguard_xmlrpc.h - what mod_memguard_xmlrpc.c (inspection, spool,
 * replay) and mod_memguard_rules.c (MemGuardMethod) share. Private to the
 * two of them: other glue files see only mod_memguard.h.
 */
#ifndef MOD_MEMGUARD_XMLRPC_H
#define MOD_MEMGUARD_XMLRPC_H

#include "mod_memguard.h"
#include "mg_xmlrpc.h"

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

/* One MemGuardMethod line. */
typedef struct {
    const char *pattern;      /* exact name or fnmatch(3) glob */
    int is_glob;              /* pattern has * ? or [ */
    int deny;                 /* 1: deny; else allow (the default) */
    apr_int64_t max_body;     /* bytes; 0 = none */
    apr_int64_t max_response; /* bytes; 0 = none */
    uint32_t concurrency;     /* calls at once server-wide; 0 = no limit */
    apr_int64_t queue_us;     /* queue-timeout, microseconds; 0 = no wait */
    int expensive;            /* refused by the gate under throttle */
    int nice;                 /* nice=: run 1..19 lower; 0 = unchanged */
    int essential;            /* admitted whatever the verdict */
    apr_int64_t memory;       /* memory=: expected cost, bytes; 0 = learn */
    const char *text;         /* "MemGuardMethod slowCall concurrency=1",
                               * for log lines and faultStrings */
} memguard_rule;

/* The per-directory part owned by these two files (memguard_dir_conf.xr).
 * NULL in a section that sets none of it. */
struct memguard_xr_conf {
    int xmlrpc;          /* MemGuardXmlRpc: 1 On, 0 Off, or UNSET */
    unsigned limits_set; /* bit (1 << key) per key set here */
    uint64_t limits[MEMGUARD_XL__COUNT]; /* counts or bytes, per key */
    /* MemGuardMethod rules (memguard_rule *), in matching order: this
     * section's in directive order, then the enclosing scopes' (merge);
     * NULL when none apply */
    apr_array_header_t *rules;
    apr_int64_t spool_memory; /* MemGuardSpoolMemory, bytes; UNSET */
    const char *spool_dir;    /* MemGuardSpoolDir; NULL: unset */
    /* MemGuardMulticall: the multicall method names (const char *), at
     * most MG_XMLRPC_MULTICALL_NAMES_MAX; NULL: unset (the inspector's
     * default, system.multicall and multiCall) */
    apr_array_header_t *multicall;
};

/* mod_memguard_xmlrpc.c: c's xr part, made empty (all UNSET) if absent. */
struct memguard_xr_conf *memguard_xr_get(apr_pool_t *p, memguard_dir_conf *c);

/* mod_memguard_rules.c */

/* The first rule matching name (NUL-terminated), or NULL. */
const memguard_rule *memguard_rule_match(const apr_array_header_t *rules,
                                         const char *name);

/* One per-method concurrency slot a call needs. */
typedef struct {
    uint32_t method;      /* board method index */
    uint32_t limit;       /* the rule's concurrency= */
    apr_int64_t queue_us; /* the rule's queue-timeout= */
    const char *name;     /* method name, for messages */
    const memguard_rule *rule;
    int held;
} memguard_hold;

/*
 * Take every slot in holds[0..n) (a call of one method, or a multicall's
 * distinct rule-limited methods), waiting while any is full up to the
 * smallest queue-timeout among them. All or nothing: while waiting nothing
 * is held, so two callers never block each other. On success the slots
 * are released by a cleanup of r->pool, whatever way the request ends.
 * Returns OK, or what memguard_refuse() returned for method-busy (OK under
 * DetectOnly, where nothing waits and every slot is only counted).
 */
int memguard_rules_hold(request_rec *r, memguard_hold *holds, int n);

#endif /* MOD_MEMGUARD_XMLRPC_H */
