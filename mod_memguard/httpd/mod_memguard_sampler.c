/*
 * mod_memguard_sampler.c - the sampler: one process that watches the
 * machine's memory headroom and publishes the verdict on the board.
 * This file is the parent's side of it (the mod_cgid daemon pattern).
 * post_config (APR_HOOK_LAST, after the board exists) forks ONE sampler on
 * every start and restart of the configuration, registers it as an "other
 * child" so the MPM's wait loop (about once a second) tells us when it dies and
 * we start another, and registers a pconf cleanup that stops it (SIGTERM, then
 * SIGKILL after 2 s) and reaps it when the configuration goes away: a graceful
 * or plain restart (the next post_config starts exactly one new sampler with
 * the new settings) or the final stop. The board itself is retained across
 * restarts (mod_memguard_board.c), so counters and history continue. The
 * parent's monitor hook (every ten turns of the MPM's wait loop, about
 * 10 s) replaces a sampler that is alive but has published nothing for
 * SAMPLER_HUNG_MIN_US or twice the staleness time (stopped, hung in the
 * kernel): fail open is right for a moment, not for ever.
 *
 * The sampler process itself is in mod_memguard_sampler_proc.c.
 */
#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ap_mpm.h"
#include "apr_thread_proc.h"
#include "http_core.h"
#include "http_main.h"
#include "mpm_common.h"

#include "mod_memguard_board.h"
#include "mod_memguard_config.h"
#include "mod_memguard_sampler.h"
#include "mod_memguard_sampler_proc.h"
#include "mg_board.h"

#define SAMPLER_STOP_WAIT_US 2000000
#define SAMPLER_RETAINED_KEY "mod_memguard-sampler"
/* A sampler alive but silent this long (or twice the staleness time, if
 * longer) is replaced by the parent's monitor hook. */
#define SAMPLER_HUNG_MIN_US 5000000u

typedef struct {
    uint64_t first_start_us; /* first sampler ever started for this board */
} sampler_retained_t;

/* Parent (and, inherited, the children) */
static memguard_headroom_conf *sampler_hr; /* this generation's settings */
static int sampler_enabled;
static uint64_t sampler_first_start_us;
static server_rec *sampler_server;
static apr_pool_t *sampler_pool; /* pconf of this generation */
static apr_proc_t *sampler_proc; /* pid 0: none running */
static int sampler_stopping;     /* pconf cleanup under way */
/* sampler_proc is registered as an other child. APR crashes when asked to
 * unregister a record it no longer has, and its own pconf cleanup removes
 * the record too, so every path keeps this flag. */
static int sampler_registered;
static uint64_t sampler_forked_us; /* when the running sampler was forked */
static int sampler_replacing;      /* the monitor hook killed it */

int memguard_sampler_enabled(void)
{
    return sampler_enabled;
}

uint64_t memguard_sampler_first_start_us(void)
{
    return sampler_first_start_us;
}

static void sampler_maint(int reason, void *data, apr_wait_t status);

static void sampler_start(void)
{
    mg_board_t *b = memguard_board();
    uint32_t starts;
    pid_t parent = getpid(), pid;

    starts = mg_board_sampler_starts_bump(b);
    pid = fork();
    if (pid < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, sampler_server,
                     MGLOGNO(00318) "cannot fork the sampler");
        sampler_proc->pid = 0;
        return;
    }
    if (pid == 0) {
        memguard_pid_forget();
        /* _exit: no atexit handlers or pool cleanups of the parent's
         * state (they would destroy shared memory, kill its processes) */
        _exit(memguard_sampler_main(sampler_server, sampler_pool, sampler_hr, b,
                                    starts, parent));
    }
    sampler_proc->pid = pid;
    sampler_forked_us = memguard_now_us();
    sampler_proc->in = sampler_proc->out = sampler_proc->err = NULL;
    apr_proc_other_child_register(sampler_proc, sampler_maint, sampler_proc,
                                  NULL, sampler_pool);
    sampler_registered = 1;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, sampler_server,
                 MGLOGNO(00319) "forked the sampler: pid %d", (int)pid);
}

static int mpm_stopping(void)
{
    int state;

    /* if the MPM cannot say, assume it is stopping (as mod_cgid does) */
    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) != APR_SUCCESS ||
           state == AP_MPMQ_STOPPING;
}

static void sampler_unregister(void *data)
{
    if (sampler_registered) {
        sampler_registered = 0;
        apr_proc_other_child_unregister(data);
    }
}

/* Called by the MPM's wait loop (other-child maintenance, ~1 s). */
static void sampler_maint(int reason, void *data, apr_wait_t status)
{
    apr_proc_t *proc = data;

    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST:
        sampler_unregister(data);
        proc->pid = 0; /* reaped (or gone): never signal that pid again */
        if (sampler_stopping || mpm_stopping()) {
            break;
        }
        if (reason == APR_OC_REASON_DEATH && WIFEXITED(status) &&
            WEXITSTATUS(status) == MEMGUARD_SAMPLER_STARTUP_ERROR) {
            ap_log_error(
                APLOG_MARK, APLOG_ERR, 0, sampler_server,
                MGLOGNO(00320) "the sampler failed to start; not "
                               "restarting it: samples will go stale (see "
                               "MemGuardFailMode)");
            break;
        }
        if (sampler_replacing) {
            /* the monitor hook killed it and said so (MG00340) */
            sampler_replacing = 0;
        }
        else {
            ap_log_error(
                APLOG_MARK, APLOG_ERR, 0, sampler_server,
                MGLOGNO(00321) "sampler died (%s %d): starting a new one",
                WIFSIGNALED(status) ? "signal" : "exit status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        }
        sampler_start();
        break;
    case APR_OC_REASON_RESTART:
        /* the server is restarting or stopping: the pconf cleanup stops
         * and reaps it */
        sampler_unregister(data);
        break;
    case APR_OC_REASON_UNREGISTER:
        /* APR is removing the record (its pconf cleanup, or ours) */
        sampler_registered = 0;
        break;
    default:
        break;
    }
}

/* pconf cleanup: the configuration ends (restart or stop). */
static apr_status_t sampler_cleanup(void *data)
{
    apr_proc_t *proc = data;
    pid_t pid = proc->pid;
    uint64_t t0;
    int st;

    sampler_stopping = 1;
    sampler_unregister(proc);
    if (pid <= 0) {
        return APR_SUCCESS;
    }
    proc->pid = 0;
    kill(pid, SIGTERM);
    kill(pid, SIGCONT); /* a stopped sampler must see the SIGTERM */
    t0 = memguard_now_us();
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);

        if (r == pid || (r < 0 && errno != EINTR)) {
            return APR_SUCCESS; /* reaped, or not ours any more */
        }
        if (memguard_now_us() - t0 > SAMPLER_STOP_WAIT_US) {
            break;
        }
        apr_sleep(5000);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return APR_SUCCESS;
}

/*
 * monitor (the parent, every ten turns of the MPM's wait loop): a sampler
 * that is alive but has published nothing for a while is stopped or hung
 * (SIGSTOP, a debugger, a read stuck in the kernel). Children fail open
 * meanwhile (MemGuardFailMode), which is right for a moment and wrong for
 * ever: kill it (SIGKILL: a hung process does not act on SIGTERM), and the
 * other-child callback starts a new one, which continues the board.
 */
static int sampler_monitor(apr_pool_t *p, server_rec *s)
{
    mg_board_t *b = memguard_board();
    uint64_t now, since, hung;
    mg_board_verdict_t w;

    (void)p;
    if (!sampler_enabled || b == NULL || sampler_proc == NULL ||
        sampler_proc->pid <= 0 || sampler_stopping || sampler_replacing) {
        return DECLINED;
    }
    w = mg_board_verdict_load(b);
    since = w != 0 ? MG_BOARD_VERDICT_TIME_US(w) : 0;
    if (since < sampler_forked_us) {
        since = sampler_forked_us; /* give a new sampler its start */
    }
    hung = 2 * memguard_stale_after_us(sampler_hr);
    if (hung < SAMPLER_HUNG_MIN_US) {
        hung = SAMPLER_HUNG_MIN_US;
    }
    now = memguard_now_us();
    if (now <= since || now - since <= hung) {
        return DECLINED;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                 MGLOGNO(00340) "sampler (pid %d) has published nothing for "
                                "%" APR_UINT64_T_FMT " ms: replacing it "
                                "(replacement %u)",
                 (int)sampler_proc->pid, (now - since) / 1000u,
                 mg_board_sampler_replaced_bump(b));
    sampler_replacing = 1;
    if (kill(sampler_proc->pid, SIGKILL) != 0) {
        sampler_replacing = 0;
    }
    return OK;
}

static int sampler_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp, server_rec *s)
{
    memguard_headroom_conf *hr = memguard_headroom(s);
    sampler_retained_t *rd;

    (void)plog;
    (void)ptemp;
    sampler_hr = hr;
    sampler_enabled = 0;
    sampler_stopping = 0;
    sampler_registered = 0;
    sampler_replacing = 0;
    /* the first pass only checks the configuration */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    /* settings the directives left unset */
    hr->policy.sustain_us = hr->sustain_us == MEMGUARD_UNSET
                                ? MEMGUARD_DEFAULT_SUSTAIN_US
                                : (uint64_t)hr->sustain_us;
    hr->policy.hysteresis_bp = hr->hysteresis_bp == MEMGUARD_UNSET
                                   ? MEMGUARD_DEFAULT_HYSTERESIS_BP
                                   : (uint32_t)hr->hysteresis_bp;
    hr->policy.fail_mode = hr->fail_mode == MEMGUARD_UNSET
                               ? MG_FAIL_OPEN
                               : (mg_fail_mode_t)hr->fail_mode;
    hr->policy.stale_after_us = memguard_stale_after_us(hr);
    hr->policy.ncaches = hr->ncaches;
    hr->policy.fill_throttle_us = hr->fill_throttle_us == MEMGUARD_UNSET
                                      ? MEMGUARD_DEFAULT_FILL_THROTTLE_US
                                      : (uint64_t)hr->fill_throttle_us;
    hr->policy.fill_shed_us = hr->fill_shed_us == MEMGUARD_UNSET
                                  ? MEMGUARD_DEFAULT_FILL_SHED_US
                                  : (uint64_t)hr->fill_shed_us;
    hr->policy.fill_window_us = MG_POLICY_FILL_WINDOW_US;

    /* No threshold and no engine anywhere: nothing would ever read a
     * verdict, so no process is spent on it. */
    if (!hr->configured && !hr->engine_seen) {
        return OK;
    }
    if (memguard_board() == NULL) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     MGLOGNO(00322) "no board: cannot start the sampler");
        return OK;
    }
    rd = ap_retained_data_get(SAMPLER_RETAINED_KEY);
    if (rd == NULL) {
        rd = ap_retained_data_create(SAMPLER_RETAINED_KEY, sizeof(*rd));
        rd->first_start_us = memguard_now_us();
    }
    sampler_first_start_us = rd->first_start_us;
    sampler_enabled = 1;
    sampler_server = s;
    sampler_pool = pconf;
    sampler_proc = apr_pcalloc(pconf, sizeof(*sampler_proc));
    /* registered before the other-child record, so it runs after the
     * other-child cleanup (LIFO) */
    apr_pool_cleanup_register(pconf, sampler_proc, sampler_cleanup,
                              apr_pool_cleanup_null);
    sampler_start();
    return OK;
}

void memguard_sampler_register(apr_pool_t *p)
{
    (void)p;
    /* LAST: after the board's post_config (MIDDLE) has made or adopted
     * the board the sampler publishes to, and after every other module's
     * post_config, so the process we fork inherits a finished server. */
    ap_hook_post_config(sampler_post_config, NULL, NULL, APR_HOOK_LAST);
    /* MIDDLE: it only looks at the board and may signal our own sampler;
     * nothing of another module's monitor depends on it. */
    ap_hook_monitor(sampler_monitor, NULL, NULL, APR_HOOK_MIDDLE);
}
