/*
 * mod_memguard_rules.h - MemGuardMethod (mod_memguard_rules.c): parsing,
 * first-match lookup, per-method concurrency slots.
 */
#ifndef MOD_MEMGUARD_RULES_H
#define MOD_MEMGUARD_RULES_H

#include "mod_memguard_xrconf.h"

/* MemGuardMethod's handler (the table is in mod_memguard_directives.c). */
const char *memguard_set_method(cmd_parms *cmd, void *dcfg, int argc,
                                char *const argv[]);

/* The first of xr's rules matching name (NUL-terminated), or NULL. */
const memguard_rule *memguard_rule_match(const struct memguard_xr_conf *xr,
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

#endif /* MOD_MEMGUARD_RULES_H */
