/*
 * mod_memguard_rules.c - MemGuardMethod: per-method rules of an XML-RPC
 * location, and the server-wide per-method concurrency they impose.
 *
 *   MemGuardMethod PATTERN action...
 *
 * PATTERN is an exact method name or an fnmatch(3) glob (flags 0: `*`
 * matches any bytes, dots included, so "system.*" matches
 * "system.multicall" and "*" matches everything). Matching is
 * case-sensitive, as XML-RPC method names are. The FIRST matching rule
 * wins; its actions apply and no other rule is looked at. Rules are tried
 * in the order the directives appear in a section, the innermost (most
 * specific, or later-merged) section's rules first, then the enclosing
 * sections' (the merge in mod_memguard_config.c).
 *
 * Which rules a call meets is decided in mod_memguard_xmlrpc.c: the
 * top-level methodName, and for a multicall (MemGuardMulticall) every
 * call in it, at every nesting level, too.
 *
 * `essential` marks the calls that finish work or give resources back (a
 * builder's host.closeTask): such a call passes the verdict gate (shed,
 * throttle) and admission's wait for the budget (it still reserves), and
 * nothing else; it is still held to deny (which it cannot
 * be combined with), max-body=, max-response=, concurrency= and nice=,
 * and counted. A multicall is essential only if every call in it that is
 * not itself a multicall is.
 */
#include <errno.h>
#include <fnmatch.h>

#include "apr_atomic.h"
#include "apr_time.h"

#include "mod_memguard_board.h"
#include "mod_memguard_config.h"
#include "mod_memguard_nice.h"
#include "mod_memguard_parse.h"
#include "mod_memguard_reject.h"
#include "mod_memguard_request.h"
#include "mod_memguard_rules.h"
#include "mod_memguard_xrconf.h"
#include "mg_board.h"

/* A method name, or a glob: printable ASCII without spaces. */
static int pattern_ok(const char *s)
{
    if (*s == '\0') {
        return 0;
    }
    for (; *s; s++) {
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* Largest concurrency=: a slot counts its holdings in 16 bits. */
#define MEMGUARD_RULE_CONCURRENCY_MAX 65535
/* Largest nice=: from nice 0, Linux's lowest priority (19). */
#define MEMGUARD_RULE_NICE_MAX 19
/* Longest queue-timeout=: a waiting call holds a worker the whole time. */
#define MEMGUARD_RULE_QUEUE_MAX_US (300 * APR_USEC_PER_SEC)

static const char *rule_error(cmd_parms *cmd, const char *action,
                              const char *why)
{
    return apr_psprintf(cmd->pool, "%s: '%s' %s", cmd->directive->directive,
                        action, why);
}

/* v, the value of action a, as a whole number from 1 to max of `what`. */
static const char *rule_number(cmd_parms *cmd, const char *a, const char *v,
                               int max, const char *what, int *out)
{
    char *end;
    apr_int64_t n = apr_strtoi64(v, &end, 10);

    if (*v < '0' || *v > '9' || *end != '\0' || n < 1 || n > max) {
        return rule_error(cmd, a,
                          apr_psprintf(cmd->pool,
                                       "is not a whole number of %s from 1 "
                                       "to %d",
                                       what, max));
    }
    *out = (int)n;
    return NULL;
}

const char *memguard_set_method(cmd_parms *cmd, void *dcfg, int argc,
                                char *const argv[])
{
    memguard_dir_conf *c = dcfg;
    struct memguard_xr_conf *xr;
    memguard_rule *rule;
    const char *err, *text;
    int i, seen_allow = 0, have_queue = 0, have_limit = 0;

    if (argc < 2) {
        return apr_psprintf(cmd->pool,
                            "%s: needs a method name or pattern and at "
                            "least one action (allow, deny, max-body=, "
                            "max-response=, memory=, concurrency=, "
                            "queue-timeout=, expensive, nice=, essential)"
                            "%s%s%s",
                            cmd->directive->directive, argc ? ": '" : "",
                            argc ? argv[0] : "", argc ? "'" : "");
    }
    if (!pattern_ok(argv[0])) {
        return rule_error(cmd, argv[0],
                          "is not a method name or pattern (printable "
                          "ASCII, no spaces)");
    }
    rule = apr_pcalloc(cmd->pool, sizeof(*rule));
    rule->pattern = argv[0];
    rule->is_glob = strpbrk(argv[0], "*?[") != NULL;
    text =
        apr_pstrcat(cmd->pool, cmd->directive->directive, " ", argv[0], NULL);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        const char *v = eq ? eq + 1 : NULL;
        size_t klen = eq ? (size_t)(eq - a) : strlen(a);

        text = apr_pstrcat(cmd->pool, text, " ", a, NULL);
#define IS(word) (klen == sizeof(word) - 1 && !strncmp(a, word, klen))
        if (IS("allow") && !eq) {
            if (seen_allow++) {
                return rule_error(cmd, a, "is given twice");
            }
        }
        else if (IS("deny") && !eq) {
            if (rule->deny) {
                return rule_error(cmd, a, "is given twice");
            }
            rule->deny = 1;
        }
        else if (IS("expensive") && !eq) {
            if (rule->expensive) {
                return rule_error(cmd, a, "is given twice");
            }
            rule->expensive = 1;
        }
        else if (IS("essential") && !eq) {
            if (rule->essential) {
                return rule_error(cmd, a, "is given twice");
            }
            rule->essential = 1;
        }
        else if ((IS("max-body") || IS("max-response") || IS("memory")) && eq) {
            apr_int64_t *field = IS("max-body") ? &rule->max_body
                                 : IS("memory") ? &rule->memory
                                                : &rule->max_response;
            if (*field) {
                return rule_error(cmd, a, "is given twice");
            }
            if ((err = memguard_parse_size(cmd, v, field)) != NULL) {
                return apr_psprintf(cmd->pool, "%s (in '%s')", err, a);
            }
            if (*field <= 0) {
                return rule_error(cmd, a, "must be more than 0");
            }
        }
        else if (IS("concurrency") && eq) {
            int n;

            if (rule->concurrency) {
                return rule_error(cmd, a, "is given twice");
            }
            if ((err = rule_number(cmd, a, v, MEMGUARD_RULE_CONCURRENCY_MAX,
                                   "calls", &n)) != NULL) {
                return err;
            }
            rule->concurrency = (uint32_t)n;
        }
        else if (IS("queue-timeout") && eq) {
            if (have_queue++) {
                return rule_error(cmd, a, "is given twice");
            }
            if ((err = memguard_parse_duration(cmd, v, &rule->queue_us)) !=
                NULL) {
                return apr_psprintf(cmd->pool, "%s (in '%s')", err, a);
            }
            if (rule->queue_us > MEMGUARD_RULE_QUEUE_MAX_US) {
                return rule_error(cmd, a,
                                  "is longer than 300s (a waiting call "
                                  "holds a worker)");
            }
        }
        else if (IS("nice") && eq) {
            if (rule->nice) {
                return rule_error(cmd, a, "is given twice");
            }
            if ((err = rule_number(cmd, a, v, MEMGUARD_RULE_NICE_MAX,
                                   "steps of CPU priority", &rule->nice)) !=
                NULL) {
                return err;
            }
            memguard_nice_note_used();
        }
        else {
            return rule_error(cmd, a,
                              "is not an action (allow, deny, max-body=SIZE, "
                              "max-response=SIZE, memory=SIZE, "
                              "concurrency=N, queue-timeout=DURATION, "
                              "expensive, nice=N, essential)");
        }
#undef IS
    }
    if (rule->essential && rule->deny) {
        return apr_psprintf(cmd->pool,
                            "%s %s: 'essential' cannot be combined with "
                            "'deny' (a denied call never gets through)",
                            cmd->directive->directive, argv[0]);
    }
    if (rule->essential && rule->expensive) {
        return apr_psprintf(cmd->pool,
                            "%s %s: 'essential' cannot be combined with "
                            "'expensive' (an essential call passes the "
                            "throttle that refuses expensive ones)",
                            cmd->directive->directive, argv[0]);
    }
    have_limit = rule->max_body || rule->max_response || rule->concurrency ||
                 rule->expensive || rule->nice || rule->memory ||
                 rule->essential || have_queue;
    if (rule->deny && (seen_allow || have_limit)) {
        return apr_psprintf(cmd->pool,
                            "%s %s: 'deny' cannot be combined with other "
                            "actions",
                            cmd->directive->directive, argv[0]);
    }
    if (have_queue && !rule->concurrency) {
        return apr_psprintf(cmd->pool,
                            "%s %s: 'queue-timeout=' needs 'concurrency=' "
                            "in the same rule",
                            cmd->directive->directive, argv[0]);
    }
    rule->text = text;
    xr = memguard_xr_get(cmd->pool, c);
    if (xr->rules == NULL) {
        xr->rules = apr_array_make(cmd->pool, 4, sizeof(memguard_rule *));
    }
    APR_ARRAY_PUSH(xr->rules, memguard_rule *) = rule;
    if (rule->is_glob && strchr("*?[\\", rule->pattern[0]) != NULL) {
        memset(xr->rule_first, 0xff, sizeof(xr->rule_first));
    }
    else {
        unsigned char b = (unsigned char)rule->pattern[0];

        xr->rule_first[b >> 5] |= 1u << (b & 31);
    }
    return NULL;
}

const memguard_rule *memguard_rule_match(const struct memguard_xr_conf *xr,
                                         const char *name)
{
    const apr_array_header_t *rules = xr->rules;
    unsigned char b = (unsigned char)name[0];
    int i;

    if (rules == NULL || !(xr->rule_first[b >> 5] & (1u << (b & 31)))) {
        return NULL;
    }
    for (i = 0; i < rules->nelts; i++) {
        const memguard_rule *rule = APR_ARRAY_IDX(rules, i, memguard_rule *);

        /* a name's first byte rules out most exact patterns without a
         * call (the shipped conf has twenty of them) */
        if (rule->is_glob ? fnmatch(rule->pattern, name, 0) == 0
                          : rule->pattern[0] == name[0] &&
                                strcmp(rule->pattern, name) == 0) {
            return rule;
        }
    }
    return NULL;
}

/* ---- concurrency --------------------------------------------------------- */

typedef struct {
    mg_board_t *board;
    uint32_t slot;
    memguard_hold *holds;
    int n;
} hold_set;

static void release_all(hold_set *hs)
{
    int i;

    for (i = hs->n - 1; i >= 0; i--) {
        if (hs->holds[i].held) {
            mg_board_method_release(hs->board, hs->slot, hs->holds[i].method);
            hs->holds[i].held = 0;
        }
    }
}

/* r->pool cleanup: every way a request ends (answer, error, aborted
 * connection, a handler that never returns normally) ends here. A child
 * killed outright never runs it; the parent's slot reset gives its
 * holdings back (mod_memguard_board.c). */
static apr_status_t hold_cleanup(void *data)
{
    release_all(data);
    return APR_SUCCESS;
}

/* Try each slot not yet held; -1 if all are held, else the index of a
 * full one. Other errors (a slot holding 65535 calls of one method) make
 * that slot unlimited for this call rather than fail it. */
static int try_all(request_rec *r, hold_set *hs, int count_only)
{
    int i;

    for (i = 0; i < hs->n; i++) {
        memguard_hold *h = &hs->holds[i];
        int rc;

        if (h->held) {
            continue;
        }
        rc = mg_board_method_acquire(hs->board, hs->slot, h->method,
                                     count_only ? 0 : h->limit);
        if (rc == 0) {
            h->held = 1;
        }
        else if (rc == -EBUSY) {
            return i;
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          MGLOGNO(00220) "concurrency of '%s' not counted for "
                                         "this call (error %d)",
                          h->name, rc);
        }
    }
    return -1;
}

/* How often a queued call looks for a free slot. */
#define MEMGUARD_QUEUE_POLL_US 10000

int memguard_rules_hold(request_rec *r, memguard_hold *holds, int n)
{
    memguard_req_ctx *ctx = memguard_req(r);
    int detect = ctx->engine == MEMGUARD_ENGINE_DETECT;
    hold_set *hs;
    apr_int64_t wait_us = -1;
    uint64_t start, now, deadline;
    int i, busy = -1, slot;
    uint32_t busy_inflight = 0;

    if (n <= 0) {
        return OK;
    }
    slot = memguard_slot(r->connection);
    if (memguard_board() == NULL || slot < 0) {
        static apr_uint32_t warned;
        if (apr_atomic_cas32(&warned, 1, 0) == 0) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          MGLOGNO(00221) "no board slot for this process: "
                                         "MemGuardMethod concurrency= is not "
                                         "enforced here");
        }
        return OK;
    }
    hs = apr_palloc(r->pool, sizeof(*hs));
    hs->board = memguard_board();
    hs->slot = (uint32_t)slot;
    hs->holds = holds;
    hs->n = n;
    for (i = 0; i < n; i++) {
        holds[i].held = 0;
        if (wait_us < 0 || holds[i].queue_us < wait_us) {
            wait_us = holds[i].queue_us;
        }
    }

    if (detect) {
        /* Refuse nothing, wait for nothing: note what would be refused,
         * and count the call so that others see it in flight. */
        for (i = 0; i < n && busy < 0; i++) {
            busy_inflight =
                mg_board_method_inflight(hs->board, holds[i].method);
            if (busy_inflight >= holds[i].limit) {
                busy = i;
            }
        }
        try_all(r, hs, 1);
        apr_pool_cleanup_register(r->pool, hs, hold_cleanup,
                                  apr_pool_cleanup_null);
        if (busy >= 0) {
            memguard_refuse(
                r, MG_REASON_METHOD_BUSY,
                apr_psprintf(r->pool,
                             "'%s' has %u calls in flight, limit %u (%s)",
                             holds[busy].name, busy_inflight, holds[busy].limit,
                             holds[busy].rule->text));
        }
        return OK;
    }

    start = memguard_now_us();
    deadline = start + (uint64_t)wait_us;
    for (;;) {
        busy = try_all(r, hs, 0);
        if (busy < 0) {
            break;
        }
        /* All or nothing: hold nothing while waiting, so two multicalls
         * needing the same two methods never wait on each other. */
        release_all(hs);
        now = memguard_now_us();
        if (now >= deadline) {
            return memguard_refuse(
                r, MG_REASON_METHOD_BUSY,
                apr_psprintf(
                    r->pool,
                    "'%s' has %u calls in flight, limit %u; waited "
                    "%" APR_UINT64_T_FMT " ms (%s)",
                    holds[busy].name,
                    mg_board_method_inflight(hs->board, holds[busy].method),
                    holds[busy].limit, (now - start) / 1000,
                    holds[busy].rule->text));
        }
        apr_sleep(deadline - now < MEMGUARD_QUEUE_POLL_US
                      ? (apr_interval_time_t)(deadline - now)
                      : MEMGUARD_QUEUE_POLL_US);
    }
    apr_pool_cleanup_register(r->pool, hs, hold_cleanup, apr_pool_cleanup_null);
    now = memguard_now_us();
    if (now - start >= 1000) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      MGLOGNO(00222) "waited %" APR_UINT64_T_FMT
                                     " ms for a free concurrency slot",
                      (now - start) / 1000);
    }
    return OK;
}
