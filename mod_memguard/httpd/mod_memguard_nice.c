/*
 * mod_memguard_nice.c - MemGuardMethod ... nice=N: an expensive call runs
 * at a lower CPU priority, so that the cheap calls beside it keep their
 * latency while it keeps the CPUs busy.
 *
 * Under prefork, the child that runs the call (with mod_wsgi in embedded
 * mode or mod_python, the application runs in that child) lowers its own
 * priority by N (setpriority(2), at most to nice 19) once the call is
 * admitted, just before the handler runs.
 *
 * Going back: an unprivileged process may lower its nice value only down
 * to 20 - RLIMIT_NICE, which is 0 by default. So the parent, while still
 * root (post_config), raises RLIMIT_NICE to 20, which its children keep
 * across setuid: a child may then return to nice 0, and does, at the end
 * of the request (a pool cleanup), keeping its connection and serving
 * on. Where the limit cannot be raised (no CAP_SYS_RESOURCE: a container,
 * httpd not started as root), the child cannot go back and serves no
 * further request: the connection is closed after this response and the
 * child is recycled (MG_RECYCLE_NICE, outside MemGuardMaxRecyclesPerMinute's
 * budget: a child left at a low priority would serve cheap calls slowly).

 *
 * Under threaded MPMs nice= is not applied (said once at startup): one
 * thread of a child lowered for good among the others would be worse than
 * none. Under mod_wsgi's daemon mode the application runs in the daemon
 * processes, not in the child: nice= changes nothing there.
 */
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "ap_mpm.h"
#include "http_core.h"
#include "mod_memguard_nice.h"
#include "mod_memguard_recycle.h"
#include "mod_memguard_recycle_limits.h"

#define NICE_MAX 19 /* the lowest priority Linux has */
/* RLIMIT_NICE that lets a process return to nice 0 (20 - limit). */
#define NICE_RLIMIT_BACK 20

/* Set while the configuration is read (memguard_nice_note_used()), looked
 * at in post_config: is there any nice= at all? */
static int nice_used;
/* Parent, post_config; inherited by the children: nice= is applied. */
static int nice_on;

void memguard_nice_note_used(void)
{
    nice_used = 1;
}

/* The nice value this process may return to: 20 - RLIMIT_NICE. */
static int nice_floor(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NICE, &rl) != 0) {
        return NICE_MAX + 1;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= 40) {
        return -20;
    }
    return 20 - (int)rl.rlim_cur;
}

typedef struct {
    request_rec *r;
    int base;
} nice_back_t;

/* End of the request: back to the priority the child had. */
static apr_status_t nice_back(void *data)
{
    nice_back_t *nb = data;

    if (setpriority(PRIO_PROCESS, 0, nb->base) != 0) {
        /* the application lowered RLIMIT_NICE meanwhile: this child
         * cannot serve on at a low priority; prefork's graceful stop */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, errno, nb->r,
                      MGLOGNO(00603) "cannot return this child (pid %ld) to "
                                     "nice %d after its call: it stops",
                      (long)getpid(), nb->base);
        raise(SIGUSR1);
    }
    return APR_SUCCESS;
}

void memguard_nice_begin(request_rec *r, int nice, const char *method)
{
    nice_back_t *nb;
    int base, target;

    if (!nice_on || nice <= 0) {
        return;
    }
    errno = 0;
    base = getpriority(PRIO_PROCESS, 0);
    if (base == -1 && errno != 0) {
        return;
    }
    target = base + nice > NICE_MAX ? NICE_MAX : base + nice;
    if (target <= base) {
        return; /* already as low as it gets */
    }
    if (setpriority(PRIO_PROCESS, 0, target) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, errno, r,
                      MGLOGNO(00230) "cannot lower this child to nice %d",
                      target);
        return;
    }
    apr_table_setn(r->notes, "memguard-nice", apr_itoa(r->pool, target));
    if (base >= nice_floor()) {
        /* it may return: at the end of the request */
        nb = apr_palloc(r->pool, sizeof(*nb));
        nb->r = r;
        nb->base = base;
        apr_pool_cleanup_register(r->pool, nb, nice_back,
                                  apr_pool_cleanup_null);
        return;
    }
    /* This child stays at the lower priority: it serves no further
     * request. Said before the headers, so the client is told. */
    r->connection->keepalive = AP_CONN_CLOSE;
    memguard_recycle_request(r, MG_RECYCLE_NICE,
                             apr_psprintf(r->pool,
                                          "'%s' runs at nice %d (was %d; "
                                          "MemGuardMethod nice=)",
                                          method ? method : "?", target, base));
}

/* Parent, while root: let the children return to nice 0 (see the top). */
static void nice_allow_back(server_rec *s)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NICE, &rl) != 0 ||
        (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < NICE_RLIMIT_BACK)) {
        rl.rlim_cur = NICE_RLIMIT_BACK;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < NICE_RLIMIT_BACK) {
            rl.rlim_max = NICE_RLIMIT_BACK;
        }
        if (setrlimit(RLIMIT_NICE, &rl) != 0) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, errno, s,
                         MGLOGNO(00604) "cannot raise RLIMIT_NICE: a child "
                                        "that ran a call at a lower CPU "
                                        "priority is recycled after it");
        }
    }
}

static int nice_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    nice_used = 0;
    return OK;
}

/* Parent, every (re)start: is nice= applied under this MPM? Exactly where
 * a child can be recycled, which is how it is undone. */
static int nice_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    nice_on = 0;
    if (!nice_used) {
        return OK;
    }
    if (!memguard_recycle_mpm_can_signal()) {
        /* Logged on the real start only, not on the first pass. */
        if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         MGLOGNO(00231) "MemGuardMethod nice= is not applied "
                                        "under the %s MPM: a thread cannot "
                                        "be put back to its priority, and "
                                        "one lowered for good would slow "
                                        "every later request on it (prefork "
                                        "only)",
                         ap_show_mpm());
        }
        return OK;
    }
    nice_on = 1;
    nice_allow_back(s);
    return OK;
}

void memguard_nice_register(apr_pool_t *p)
{
    (void)p;
    /* MIDDLE: no ordering against other modules; pre_config only resets
     * the "used" flag before the configuration is read. */
    ap_hook_pre_config(nice_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* MIDDLE: only asks the MPM; before any child is forked. */
    ap_hook_post_config(nice_post_config, NULL, NULL, APR_HOOK_MIDDLE);
}
