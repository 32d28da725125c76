/*
 * mod_memguard_sampler.c - the sampler: one process that watches the
 * machine's memory headroom and publishes the verdict on the board.
 *
 * Parent side (the mod_cgid daemon pattern). post_config (APR_HOOK_LAST,
 * after the board exists) forks ONE sampler on every start and restart of
 * the configuration, registers it as an "other child" so the MPM's wait
 * loop (about once a second) tells us when it dies and we start another,
 * and registers a pconf cleanup that stops it (SIGTERM, then SIGKILL after
 * 2 s) and reaps it when the configuration goes away: a graceful or plain
 * restart (the next post_config starts exactly one new sampler with the new
 * settings) or the final stop. The board itself is retained across
 * restarts (mod_memguard_board.c), so counters and history continue.
 *
 * Sampler side. In this order, because each step needs the previous one:
 *   1. own signal handlers (it inherited the parent's): TERM/HUP/INT stop
 *      it cleanly, USR1/WINCH (graceful) and PIPE are ignored;
 *   2. open every source (mg_proc_sampler_open) while still root:
 *      /proc/slabinfo is mode 0400 and is only read through that fd;
 *   3. mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) while still root
 *      (CAP_IPC_LOCK; afterwards RLIMIT_MEMLOCK would apply). ONFAULT locks
 *      pages as they are touched instead of populating every mapping it
 *      inherited from the parent: populating would break copy-on-write on
 *      the whole parent heap (tens of MiB with embedded Python) for pages
 *      the sampler never uses. What the loop touches stays resident, so it
 *      keeps working while the box is swapping. Failure: NOTICE, go on;
 *   4. drop to httpd's User/Group (ap_run_drop_privileges, as mod_cgid);
 *   5. prctl(PR_SET_PDEATHSIG, SIGTERM): after the drop, because changing
 *      credentials clears it; then check the parent is still ours.
 * Then it loops every MemGuardSampleInterval on absolute CLOCK_MONOTONIC
 * deadlines: read (slabinfo and children's smaps_rollup about once a
 * second), judge (mg_policy_eval), publish (seqlock + verdict word), log
 * each transition once at NOTICE. It never forks, never execs, and
 * allocates nothing in the loop (its buffers are set up before).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ap_listen.h"
#include "ap_mpm.h"
#include "apr_thread_proc.h"
#include "http_core.h"
#include "http_main.h"
#include "mpm_common.h"

#include "mod_memguard.h"
#include "mg_board.h"
#include "mg_proc.h"

#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4 /* Linux 4.4; older headers lack it */
#endif

#define SAMPLER_STARTUP_ERROR 2 /* exit status: do not restart */
#define SAMPLER_STOP_WAIT_US 2000000
#define SAMPLER_RETAINED_KEY "mod_memguard-sampler"

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

/* Sampler */
static volatile sig_atomic_t sampler_stop;

int memguard_sampler_enabled(void)
{
    return sampler_enabled;
}

uint64_t memguard_sampler_first_start_us(void)
{
    return sampler_first_start_us;
}

/* ---- the sampler process ------------------------------------------------ */

static void sampler_on_signal(int sig)
{
    (void)sig;
    sampler_stop = 1;
}

static void sampler_signals(void)
{
    struct sigaction sa;
    sigset_t set;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    /* no SA_RESTART: clock_nanosleep must return so the loop sees it */
    sa.sa_handler = sampler_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* httpd's hard restart: killpg(SIGHUP) */
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGUSR1, &sa, NULL);  /* AP_SIG_GRACEFUL */
    sigaction(SIGWINCH, &sa, NULL); /* AP_SIG_GRACEFUL_STOP */
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    sigemptyset(&set);
    sigprocmask(SIG_SETMASK, &set, NULL);
}

/* The core logs (mg_proc: a source unreadable, PSI off...) through this. */
static void sampler_core_log(void *baton, int level, const char *msg)
{
    ap_log_error(APLOG_MARK, level, 0, (server_rec *)baton, "%s", msg);
}

/* The current value of signal sig in sample s (for transition lines). */
static uint64_t signal_value(const mg_sample_t *s, uint32_t sig, int32_t detail)
{
    uint32_t i;

    switch (sig) {
    case MG_SIGNAL_AVAILABLE:
        return s->mem_available;
    case MG_SIGNAL_CGROUP:
        return s->cgroup_limit > s->cgroup_working_set
                   ? s->cgroup_limit - s->cgroup_working_set
                   : 0;
    case MG_SIGNAL_NODE:
        for (i = 0; i < s->nnodes && i < MG_SAMPLE_MAX_NODES; i++) {
            if (s->nodes[i].node == detail) {
                return s->nodes[i].available;
            }
        }
        return 0;
    case MG_SIGNAL_SLAB:
        return s->slab;
    case MG_SIGNAL_SUNRECLAIM:
        return s->sunreclaim;
    case MG_SIGNAL_SLAB_CACHE:
        return detail >= 0 && (uint32_t)detail < s->ncaches
                   ? s->caches[detail].bytes
                   : 0;
    case MG_SIGNAL_PSI_SOME:
        return s->psi_some_avg10;
    case MG_SIGNAL_PSI_FULL:
        return s->psi_full_avg10;
    default:
        return 0;
    }
}

/* Append a transition to the history (t: what was appended). */
static void sampler_transition(mg_board_sys_t *rec, const mg_verdict_t *v,
                               const mg_verdict_t *prev, const mg_sample_t *smp,
                               uint64_t now_us, mg_board_transition_t *t)
{
    memset(t, 0, sizeof(*t));
    t->time_us = now_us;
    t->from = v->from;
    t->to = v->state;
    if (v->signal != MG_SIGNAL_NONE) {
        t->signal = v->signal;
        t->detail = v->detail;
        t->value = v->value;
        t->threshold = v->threshold;
    }
    else {
        /* back to ok: name the signal that held the old state */
        t->signal = prev->signal;
        t->detail = prev->detail;
        t->value = signal_value(smp, prev->signal, prev->detail);
        t->threshold = prev->threshold;
    }
    mg_board_sys_add_transition(rec, t);
}

/* Log a transition once, after it is published: when the line is in the
 * log, the children already act on the new verdict. NOTICE: it is the
 * module working as designed, not a server fault. */
static void sampler_transition_log(server_rec *s, const mg_verdict_t *v,
                                   const mg_board_transition_t *t,
                                   const mg_sample_t *smp)
{
    char desc[256];

    mg_verdict_describe(v, smp, desc, sizeof(desc));
    ap_log_error(
        APLOG_MARK, APLOG_NOTICE, 0, s,
        MGLOGNO(00310) "verdict %s -> %s: signal %s value %" APR_UINT64_T_FMT
                       " threshold %" APR_UINT64_T_FMT " (%s)",
        mg_verdict_state_name(v->from), mg_verdict_state_name(v->state),
        mg_signal_name((mg_signal_t)t->signal), t->value, t->threshold, desc);
}

/*
 * smaps_rollup of every child in the board's slots -> unshared bytes.
 * httpd children are not dumpable after setuid (unless CoreDumpDirectory
 * is set), and the kernel then refuses their smaps to an unprivileged
 * reader even of the same uid; mod_memguard_account.c makes them dumpable
 * when the sampler runs. If that failed: said once at INFO, then skipped.
 */
static void sampler_smaps(server_rec *s, mg_board_t *b, const char *root,
                          char *buf, size_t size, int *denied_logged)
{
    uint32_t i, n = mg_board_nslots(b);

    for (i = 0; i < n; i++) {
        mg_board_slot_info_t info;
        mg_proc_smaps_t sm;
        int fd, rc;

        if (mg_board_slot_snapshot(b, i, &info) != 0 || info.pid <= 0) {
            continue;
        }
        fd = mg_proc_open_pid(root, (pid_t)info.pid, "smaps_rollup");
        if (fd < 0) {
            if ((fd == -EACCES || fd == -EPERM) && !*denied_logged) {
                *denied_logged = 1;
                ap_log_error(
                    APLOG_MARK, APLOG_INFO, 0, s,
                    MGLOGNO(
                        00311) "sampler: smaps_rollup of child %d not "
                               "readable (children are not dumpable without "
                               "CoreDumpDirectory): unshared sizes not "
                               "measured",
                    (int)info.pid);
            }
            continue;
        }
        rc = mg_proc_read_smaps_rollup(fd, buf, size, &sm);
        close(fd);
        if (rc == 0) {
            mg_board_slot_set_unshared(b, i, info.pid, sm.unshared);
        }
    }
}

static uint64_t mono_us(void)
{
    return memguard_now_us();
}

static void sleep_until(uint64_t deadline_us)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(deadline_us / 1000000u);
    ts.tv_nsec = (long)(deadline_us % 1000000u) * 1000;
    /* EINTR (a signal) returns early; the loop checks sampler_stop */
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* Storage for the sampler, set up before the loop (never in it). */
static mg_proc_sampler_t sampler_ps;
static mg_board_sys_t sampler_rec;
static mg_sample_t sampler_sample;
static char sampler_smaps_buf[4096];

static int sampler_main(server_rec *s, memguard_headroom_conf *hr,
                        mg_board_t *b, uint32_t starts, pid_t parent)
{
    const char *root = hr->proc_root ? hr->proc_root : "/";
    const char *names[MG_SAMPLE_MAX_CACHES];
    mg_proc_sampler_conf_t pc;
    mg_policy_state_t st;
    mg_verdict_t v, prev;
    mg_board_transition_t trans;
    uint64_t interval = hr->interval_us == MEMGUARD_UNSET
                            ? MEMGUARD_DEFAULT_INTERVAL_US
                            : (uint64_t)hr->interval_us;
    uint64_t every = 1000000u / interval, n = 0, next, last = 0;
    uint64_t stale_us = memguard_stale_after_us(hr);
    char *slab_buf, path[MG_PROC_PATH_MAX];
    int rc, denied_logged = 0;
    uint32_t i;

    sampler_signals();
    mg_log_set(sampler_core_log, s);
    /* Nothing of the server's sockets belongs to us: a stopped server
     * frees its port even if we were slow to go. */
    ap_close_listeners();
    if (every == 0) {
        every = 1;
    }

    /* 2. every source, while root */
    for (i = 0; i < hr->ncaches; i++) {
        names[i] = hr->caches[i];
    }
    /* slabinfo: always when caches are named (a missing or unreadable
     * file is then worth the core's warning); otherwise only if we can
     * read it (not when httpd was started without root), for the status
     * page's largest caches */
    slab_buf = NULL;
    if (hr->ncaches > 0 ||
        mg_proc_path(path, sizeof(path), root, "proc/slabinfo") != 0 ||
        access(path, R_OK) == 0) {
        slab_buf = malloc(MG_PROC_SLAB_BUF_DEFAULT);
    }
    memset(&pc, 0, sizeof(pc));
    pc.cgroup = hr->cgroup == MEMGUARD_UNSET         ? MG_PROC_CGROUP_AUTO
                : hr->cgroup == MEMGUARD_CGROUP_OFF  ? MG_PROC_CGROUP_OFF
                : hr->cgroup == MEMGUARD_CGROUP_PATH ? MG_PROC_CGROUP_PATH
                                                     : MG_PROC_CGROUP_AUTO;
    pc.cgroup_path = hr->cgroup_path;
    pc.numa = hr->numa == MEMGUARD_UNSET ? 1 : hr->numa;
    pc.caches = names;
    pc.ncaches = hr->ncaches;
    pc.slab_buf = slab_buf;
    pc.slab_buf_size = slab_buf ? MG_PROC_SLAB_BUF_DEFAULT : 0;
    pc.reopen = -1;
    rc = mg_proc_sampler_open(&sampler_ps, root, &pc);
    if (rc != 0) {
        ap_log_error(
            APLOG_MARK, APLOG_ERR, 0, s,
            MGLOGNO(00312) "sampler: cannot open the sources under %s: "
                           "error %d",
            root, rc);
        return SAMPLER_STARTUP_ERROR;
    }
    /* Recycling's sampler side (idle prefork children, the largest first
     * under pressure, watched daemons): its fixed tables, while root. */
    memguard_recycle_sampler_init(s, sampler_pool, getppid());

    /* 3. lock what we touch, while root */
    if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 &&
        (errno != EINVAL || mlockall(MCL_CURRENT | MCL_FUTURE) != 0)) {
        ap_log_error(
            APLOG_MARK, APLOG_NOTICE, errno, s,
            MGLOGNO(00313) "sampler: mlockall failed; it may be paged out when "
                           "memory is short");
    }

    /* 4. httpd's User and Group */
    if (ap_run_drop_privileges(sampler_pool, s) != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     MGLOGNO(00314) "sampler: cannot drop privileges");
        return SAMPLER_STARTUP_ERROR;
    }

    /* 5. die with the parent (set after the drop, which clears it) */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) {
        return 0;
    }

    /* Continue the board's record: history, counters and (unless it was
     * only a stale verdict) the state, so a new sampler does not log a
     * transition the server never made. */
    mg_policy_state_init(&st);
    memset(&prev, 0, sizeof(prev));
    if (mg_board_sys_read(b, &sampler_rec, 100) != 0) {
        memset(&sampler_rec, 0, sizeof(sampler_rec));
    }
    if (sampler_rec.last_sample_us != 0 &&
        sampler_rec.signal != MG_SIGNAL_STALE &&
        sampler_rec.state <= MG_VERDICT_SHED) {
        st.state = (mg_verdict_state_t)sampler_rec.state;
        st.since_us = sampler_rec.state_since_us;
        prev.state = st.state;
        prev.signal = (mg_signal_t)sampler_rec.signal;
        prev.detail = sampler_rec.detail;
        prev.threshold = sampler_rec.threshold;
    }
    else {
        sampler_rec.state = MG_VERDICT_OK;
        sampler_rec.signal = MG_SIGNAL_NONE;
    }
    sampler_rec.sampler_pid = (int32_t)getpid();
    sampler_rec.sampler_starts = starts;

    ap_log_error(
        APLOG_MARK, APLOG_INFO, 0, s,
        MGLOGNO(00315) "sampler started (pid %d, start %u, board generation "
                       "%u, interval %" APR_UINT64_T_FMT "us, root %s)",
        (int)getpid(), starts, mg_board_generation(b), interval, root);

    next = mono_us();
    while (!sampler_stop) {
        uint64_t now = mono_us();

        if (getppid() != parent) {
            break; /* orphaned between checks: PDEATHSIG covers the rest */
        }
        /* A sampler that was stopped (SIGSTOP, a debugger, the box
         * swapping despite mlock) says so when it resumes. */
        if (last != 0 && now - last > stale_us) {
            ap_log_error(
                APLOG_MARK, APLOG_NOTICE, 0, s,
                MGLOGNO(00316) "sampler resumed after %" APR_UINT64_T_FMT
                               " ms without a sample",
                (now - last) / 1000u);
        }
        mg_proc_sampler_read(&sampler_ps, &sampler_sample, n % every == 0, now);
        if (n % every == 0 && mg_board_nslots(b) > 0) {
            /* the children are real processes: always the real /proc,
             * whatever MemGuardProcRoot fakes for the machine */
            sampler_smaps(s, b, "/", sampler_smaps_buf,
                          sizeof(sampler_smaps_buf), &denied_logged);
        }
        mg_policy_eval(&hr->policy, &st, &sampler_sample, now, &v);
        if (v.transition) {
            sampler_transition(&sampler_rec, &v, &prev, &sampler_sample, now,
                               &trans);
        }
        sampler_rec.sample = sampler_sample;
        sampler_rec.state = v.state;
        sampler_rec.signal = v.signal;
        sampler_rec.detail = v.detail;
        sampler_rec.value = v.value;
        sampler_rec.threshold = v.threshold;
        sampler_rec.clear_at = v.clear_at;
        sampler_rec.state_since_us = v.since_us;
        sampler_rec.samples++;
        sampler_rec.last_sample_us = now;
        mg_board_sys_publish(b, &sampler_rec);
        if (v.transition) {
            sampler_transition_log(s, &v, &trans, &sampler_sample);
        }
        memguard_recycle_sampler_tick(s, now, v.state);
        prev = v;
        last = now;
        n++;

        next += interval;
        now = mono_us();
        if (next <= now) {
            /* late (stopped, or a slow read): no burst of catch-up samples */
            next = now + interval;
        }
        sleep_until(next);
    }
    mg_proc_sampler_close(&sampler_ps);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 MGLOGNO(00317) "sampler %d exiting", (int)getpid());
    return 0;
}

/* ---- parent: start, restart, stop --------------------------------------- */

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
        /* _exit: no atexit handlers or pool cleanups of the parent's
         * state (they would destroy shared memory, kill its processes) */
        _exit(sampler_main(sampler_server, sampler_hr, b, starts, parent));
    }
    sampler_proc->pid = pid;
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
            WEXITSTATUS(status) == SAMPLER_STARTUP_ERROR) {
            ap_log_error(
                APLOG_MARK, APLOG_ERR, 0, sampler_server,
                MGLOGNO(00320) "the sampler failed to start; not "
                               "restarting it: samples will go stale (see "
                               "MemGuardFailMode)");
            break;
        }
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, sampler_server,
                     MGLOGNO(00321) "sampler died (%s %d): starting a new one",
                     WIFSIGNALED(status) ? "signal" : "exit status",
                     WIFSIGNALED(status) ? WTERMSIG(status)
                                         : WEXITSTATUS(status));
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
}
