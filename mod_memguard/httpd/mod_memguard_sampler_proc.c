/*
 * mod_memguard_sampler_proc.c - the sampler process (started, restarted
 * and stopped by the parent side, mod_memguard_sampler.c): it watches the
 * machine's memory headroom and publishes the verdict on the board.
 *
 * Sampler side. In this order, because each step needs the previous one:
 *   1. own signal handlers (it inherited the parent's): TERM/HUP/INT stop
 *      it cleanly, USR1/WINCH (graceful) and PIPE are ignored; its name in
 *      ps and top (comm "mg-sampler", command line "memguard-sampler");
 *   2. open every source (mg_proc_sampler_open) while still root:
 *      /proc/slabinfo is mode 0400 and is only read through that fd;
 *   3. mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) while still root
 *      (CAP_IPC_LOCK; afterwards RLIMIT_MEMLOCK would apply). ONFAULT locks
 *      pages as they are touched instead of populating every mapping it
 *      inherited from the parent: populating would break copy-on-write on
 *      the whole parent heap (tens of MiB with embedded Python) for pages
 *      the sampler never uses. What the loop touches stays resident, so it
 *      keeps working while the box is swapping. Failure: NOTICE, go on;
 *      and, while root, a nice value of SAMPLER_NICE for the publishing
 *      thread: it needs about 30 us of CPU per sample, and must get it
 *      promptly on a box whose load is in the tens;
 *   4. drop to httpd's User/Group (ap_run_drop_privileges, as mod_cgid);
 *   5. prctl(PR_SET_PDEATHSIG, SIGTERM): after the drop, because changing
 *      credentials clears it; then check the parent is still ours.
 *
 * Two threads, so that the verdict is never late:
 *   - the PUBLISHING thread (the process's main thread) loops on absolute
 *     CLOCK_MONOTONIC deadlines: read the system signals (meminfo, PSI,
 *     cgroup, NUMA nodes: a few small preads, tens of microseconds), judge
 *     (mg_policy_eval: levels and fill rate), publish (seqlock + verdict
 *     word), log each transition once at NOTICE. Nothing in it scales with
 *     the number or the size of the processes. Its interval adapts
 *     (mg_policy_interval): a quarter of MemGuardSampleInterval when a
 *     level is near or falling toward its threshold, one and a half times
 *     it when calm. It records the longest gap between two publishes and
 *     its longest sample over the last minute, for the status page.
 *   - the MEASURING thread does everything that reads other processes or
 *     big files, where a read can take milliseconds or, on a loaded box,
 *     seconds (smaps_rollup of a 165 MiB child whose mmap lock is busy):
 *     slabinfo about once a second, handed to the publishing thread
 *     through a small seqlock; recycling's pass (children flagged, idle
 *     ones signalled, the largest under pressure, mod_wsgi daemons); the
 *     children's smaps_rollup, only where MemGuardChildMetric unshared
 *     needs it, a time-bounded slice per tick, one round a second at most.
 *     It publishes the time of its last pass and of its last smaps round.
 * Neither thread forks, execs, or allocates in its loop (buffers are set up
 * before).
 *
 * Why one file of about 900 lines: the two threads share a handful of
 * words (the stop flag, the interval in force, the slabinfo seqlock, the
 * system record). Kept file-static here, everything they share is in one
 * place and nothing else in the module can touch it; the sections below
 * are the seams (the worst of the last minute, between the threads, the
 * measuring thread, the publishing thread).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
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

#include "mod_memguard_board.h"
#include "mod_memguard_config.h"
#include "mod_memguard_recycle_sampler.h"
#include "mod_memguard_sampler_proc.h"
#include "mg_board.h"
#include "mg_proc.h"

#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4 /* Linux 4.4; older headers lack it */
#endif

/* The publishing thread's nice value (set while root; the measuring
 * thread goes back to 0). */
#define SAMPLER_NICE (-5)
/* The measuring thread: slabinfo at most this often ... */
#define MEASURE_SLAB_EVERY_US 1000000u
/* ... a round of the children's smaps_rollup at most this often, in
 * slices of at most MEASURE_SMAPS_SLICE_US of wall time per tick. */
#define MEASURE_SMAPS_EVERY_US 1000000u
#define MEASURE_SMAPS_SLICE_US 2000u
/* A child whose resident size moved less than this since its last
 * smaps_rollup (hundreds of microseconds for a Python child: it walks
 * every mapping) keeps that figure, up to MEASURE_SMAPS_KEEP_US old:
 * what it holds privately changes with what it touches, which shows in
 * its size (one pread of statm), or when pages it shared are left to it
 * by an exiting sibling, which the age bounds. */
#define MEASURE_SMAPS_SAME_BYTES (1u << 20)
#define MEASURE_SMAPS_KEEP_US 10000000u
/* How the worst gap and the longest sample are kept: per second, a
 * minute of them. */
#define SAMPLER_WORST_SECONDS 60

static volatile sig_atomic_t sampler_stop;

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

/*
 * The name the sampler goes by in ps and top: comm (15 bytes, what top
 * and `ps -e` show) and the command line (what `ps aux` shows: argv's
 * memory rewritten, as mod_wsgi names its daemons). Only the bytes httpd's
 * own arguments occupied are used, and only if they are contiguous.
 */
static void sampler_set_name(server_rec *s)
{
    static const char title[] = "memguard-sampler";
    const char *const *argv = s->process->argv;
    char *start, *end;
    int i;

    prctl(PR_SET_NAME, "mg-sampler", 0, 0, 0);
    if (argv == NULL || s->process->argc < 1 || argv[0] == NULL) {
        return;
    }
    start = (char *)(uintptr_t)argv[0];
    end = start + strlen(start) + 1;
    for (i = 1; i < s->process->argc && argv[i] == end; i++) {
        end += strlen(argv[i]) + 1;
    }
    if ((size_t)(end - start) < sizeof(title)) {
        return;
    }
    memset(start, 0, (size_t)(end - start));
    memcpy(start, title, sizeof(title) - 1);
}

/* ---- worst of the last minute -------------------------------------------- */

typedef struct {
    uint64_t sec[SAMPLER_WORST_SECONDS];
    uint64_t max[SAMPLER_WORST_SECONDS];
} worst_t;

static void worst_add(worst_t *w, uint64_t now_us, uint64_t v)
{
    uint64_t sec = now_us / 1000000u;
    uint32_t i = (uint32_t)(sec % SAMPLER_WORST_SECONDS);

    if (w->sec[i] != sec) {
        w->sec[i] = sec;
        w->max[i] = 0;
    }
    if (v > w->max[i]) {
        w->max[i] = v;
    }
}

static uint64_t worst_get(const worst_t *w, uint64_t now_us)
{
    uint64_t sec = now_us / 1000000u, m = 0;
    uint32_t i;

    for (i = 0; i < SAMPLER_WORST_SECONDS; i++) {
        if (w->sec[i] + SAMPLER_WORST_SECONDS > sec && w->max[i] > m) {
            m = w->max[i];
        }
    }
    return m;
}

/* ---- between the two threads --------------------------------------------- */

/* Storage for the sampler, set up before the loops (never in them). */
static mg_proc_sampler_t sampler_ps;
static mg_board_sys_t sampler_rec;
static mg_sample_t sampler_sample;
static worst_t sampler_gaps, sampler_loops;

/* The latest slabinfo reading, written by the measuring thread under a
 * seqlock (odd while writing); the publishing thread copies it into each
 * sample, or keeps its previous copy if it meets a write in progress. */
static struct {
    uint32_t seq;
    mg_proc_slab_result_t res;
} sampler_slab;
static mg_proc_slab_result_t sampler_slab_mine; /* publishing thread */
static mg_proc_slab_result_t sampler_slab_read; /* measuring thread */

static void slab_put(const mg_proc_slab_result_t *res)
{
    __atomic_add_fetch(&sampler_slab.seq, 1, __ATOMIC_ACQ_REL);
    memcpy(&sampler_slab.res, res, sizeof(*res));
    __atomic_add_fetch(&sampler_slab.seq, 1, __ATOMIC_RELEASE);
}

static void slab_get(mg_sample_t *out)
{
    static mg_proc_slab_result_t tmp;
    uint32_t s1 = __atomic_load_n(&sampler_slab.seq, __ATOMIC_ACQUIRE);

    if ((s1 & 1u) == 0) {
        memcpy(&tmp, &sampler_slab.res, sizeof(tmp));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&sampler_slab.seq, __ATOMIC_RELAXED) == s1) {
            sampler_slab_mine = tmp;
        }
    }
    if (sampler_slab_mine.taken_us != 0) {
        mg_proc_sample_set_slab(out, &sampler_slab_mine);
    }
}

/* The interval in force, for the measuring thread's ticks. */
static uint64_t sampler_interval_now;
/* The last resort is due (the publishing thread says, the measuring one
 * acts): how far below the shed level memory is, in bytes; 0: not due. */
static int64_t sampler_lastresort_room;
/* Set once the sampler has dropped privileges: the measuring thread starts
 * its work then. */
static uint32_t sampler_measure_go;

/* ---- the measuring thread ------------------------------------------------ */

typedef struct {
    server_rec *s;
    mg_board_t *b;
    uint64_t pagesize;
    uint64_t tiny;          /* MemGuardAdmitTiny: smaller growth is no news */
    uint64_t dflt;          /* MemGuardAdmitDefault */
    int32_t *statm_pid;     /* per slot: the process statm_fd is of */
    uint64_t *raise_logged; /* per method: growth last said (MG00343) */
    /* the last resort's candidate of this pass: the call furthest past
     * its estimate */
    int lr_slot;
    int32_t lr_pid;
    uint32_t lr_method;
    int64_t lr_over;
    uint64_t lr_grown, lr_expected, lr_data;
    uint64_t lr_next; /* not again before */
    int *statm_fd;    /* per slot: its /proc/<pid>/statm, or -1 */
    int smaps;        /* read the children's smaps_rollup */
    /* per slot: the process, resident size and time of its last
     * smaps_rollup */
    int32_t *smaps_pid;
    uint64_t *smaps_rss;
    uint64_t *smaps_at;
    int denied_logged;    /* smaps not readable: said once */
    uint32_t cursor;      /* next slot of the smaps round */
    uint64_t round_start; /* when the round under way began; 0: none */
    uint64_t next_round;
    uint64_t next_slab;
    char buf[4096];
} measure_t;

static measure_t sampler_measure;

/* Slot i's process's resident size (one pread of its statm, kept open per
 * slot and re-opened when the slot gets a new process): 0, or -1. */
static int measure_statm(measure_t *m, uint32_t i, int32_t pid,
                         mg_proc_statm_t *sm)
{
    if (m->statm_pid[i] != pid) {
        if (m->statm_fd[i] >= 0) {
            close(m->statm_fd[i]);
        }
        m->statm_fd[i] = mg_proc_open_pid("/", (pid_t)pid, "statm");
        m->statm_pid[i] = pid;
        if (m->statm_fd[i] < 0) {
            m->statm_fd[i] = -1;
        }
    }
    if (m->statm_fd[i] < 0 ||
        mg_proc_read_statm(m->statm_fd[i], m->pagesize, sm) != 0) {
        return -1;
    }
    return 0;
}

/*
 * One slice of the round of smaps_rollup over the board's slots: from the
 * cursor on, until MEASURE_SMAPS_SLICE_US of wall time is spent or the
 * round is complete (then not again for MEASURE_SMAPS_EVERY_US). httpd
 * children are not dumpable after setuid (unless CoreDumpDirectory is
 * set), and the kernel then refuses their smaps to an unprivileged reader
 * even of the same uid; mod_memguard_account.c makes them dumpable when
 * the sampler runs. If that failed: said once at INFO, then skipped.
 * Returns the round's end time when this slice completed it, else 0.
 */
static uint64_t measure_smaps(measure_t *m, uint64_t now)
{
    uint32_t n = mg_board_nslots(m->b);
    uint64_t t0 = mono_us();

    if (m->round_start == 0) {
        if (now < m->next_round) {
            return 0;
        }
        m->round_start = now;
        m->cursor = 0;
    }
    while (m->cursor < n) {
        mg_board_slot_info_t info;
        mg_proc_smaps_t sm;
        mg_proc_statm_t st = {0};
        uint32_t i = m->cursor++;
        int fd, rc;

        if (mg_board_slot_snapshot(m->b, i, &info) != 0 || info.pid <= 0) {
            continue;
        }
        /* unchanged since its last smaps_rollup, and that one recent:
         * the figure on the board stands */
        if (measure_statm(m, i, info.pid, &st) == 0 &&
            m->smaps_pid[i] == info.pid &&
            now - m->smaps_at[i] < MEASURE_SMAPS_KEEP_US &&
            (st.resident > m->smaps_rss[i]
                 ? st.resident - m->smaps_rss[i]
                 : m->smaps_rss[i] - st.resident) < MEASURE_SMAPS_SAME_BYTES) {
            continue;
        }
        /* the children are real processes: always the real /proc,
         * whatever MemGuardProcRoot fakes for the machine */
        fd = mg_proc_open_pid("/", (pid_t)info.pid, "smaps_rollup");
        if (fd < 0) {
            if ((fd == -EACCES || fd == -EPERM) && !m->denied_logged) {
                m->denied_logged = 1;
                ap_log_error(
                    APLOG_MARK, APLOG_INFO, 0, m->s,
                    MGLOGNO(
                        00311) "sampler: smaps_rollup of child %d not "
                               "readable (children are not dumpable without "
                               "CoreDumpDirectory): unshared sizes not "
                               "measured",
                    (int)info.pid);
            }
            continue;
        }
        rc = mg_proc_read_smaps_rollup(fd, m->buf, sizeof(m->buf), &sm);
        close(fd);
        if (rc == 0) {
            mg_board_slot_set_unshared(m->b, i, info.pid, sm.unshared);
            m->smaps_pid[i] = info.pid;
            m->smaps_rss[i] = st.resident;
            m->smaps_at[i] = now;
        }
        if (mono_us() - t0 >= MEASURE_SMAPS_SLICE_US) {
            return 0; /* the rest at the next tick */
        }
    }
    m->next_round = m->round_start + MEASURE_SMAPS_EVERY_US;
    m->round_start = 0;
    return mono_us();
}

/*
 * The processes serving a request: one pread of statm each (kept open per
 * slot, re-opened when the slot gets a new process). Their growth goes on
 * the board: the credit of reserved calls, the peak of the request, and,
 * where one call of a known method has grown past its method's expected
 * cost, a live raise of that estimate, so that the calls admitted next
 * are costed right while this one still runs.
 */
static void measure_inflight(measure_t *m)
{
    uint32_t i, n = mg_board_nslots(m->b);

    m->lr_slot = -1;

    for (i = 0; i < n; i++) {
        mg_board_slot_info_t info;
        mg_proc_statm_t sm;
        uint64_t grown = 0, before, measured;
        uint32_t method;

        if (mg_board_slot_snapshot(m->b, i, &info) != 0 || info.pid <= 0 ||
            info.inflight == 0) {
            continue;
        }
        if (measure_statm(m, i, info.pid, &sm) != 0) {
            continue;
        }
        if (!mg_board_observe(m->b, i, info.pid, sm.resident, &method,
                              &grown) ||
            grown <= m->tiny) {
            continue;
        }

        /* what admission expects of the method now (a rule's memory=
         * is per location: not known here, and it wins anyway) */
        before = mg_board_method_cost(m->b, method, &measured);
        if (measured == 0 && before < m->dflt) {
            before = m->dflt;
        }
        if (m->lr_slot < 0 || (int64_t)(grown - before) > m->lr_over) {
            m->lr_slot = (int)i;
            m->lr_pid = info.pid;
            m->lr_method = method;
            m->lr_over = (int64_t)(grown - before);
            m->lr_grown = grown;
            m->lr_expected = before;
            m->lr_data = sm.data;
        }
        /* A child's first request also loads the application (mod_wsgi
         * imports it on the first call unless WSGIImportScript did it at
         * start): that growth is not a measured method's. (It is still
         * the last resort's to see, above: the memory is real.) */
        if (grown <= before || (info.requests == 0 && measured > 0)) {
            continue;
        }
        {
            mg_board_cost_info_t ci;

            /* a new wave of calls (the last one's floor is gone): its
             * first raise is said again */
            if (mg_board_method_cost_info(m->b, method, &ci) == 0 &&
                ci.live == 0 && method <= mg_board_nmethods(m->b)) {
                m->raise_logged[method] = 0;
            }
        }
        if (mg_board_method_cost_raise(m->b, method, grown, mono_us())) {
            mg_board_method_info_t mi;

            mg_board_admit_count(m->b, MG_ADMIT_RAISED);
            /* said at the first raise, then once per doubling, not at
             * every look while the call grows */
            if (method <= mg_board_nmethods(m->b) &&
                grown >= 2 * m->raise_logged[method] &&
                mg_board_method_snapshot(m->b, method, &mi) == 0) {
                m->raise_logged[method] = grown;
                ap_log_error(
                    APLOG_MARK, APLOG_INFO, 0, m->s,
                    MGLOGNO(00343) "sampler: a call of '%s' in process %d "
                                   "has grown %.1f MiB, past its expected "
                                   "cost %.1f MiB: raised",
                    mi.name[0] ? mi.name : "(other)", (int)info.pid,
                    (double)grown / (1024.0 * 1024.0),
                    (double)before / (1024.0 * 1024.0));
            }
        }
    }
}

/*
 * The last resort: memory is past the shed level by more than half of it,
 * the OOM killer is next, and the calls already running are what fills
 * it. Stop the one call that has grown furthest past its estimate, with
 * an answer rather than a reset: its process's RLIMIT_DATA is lowered to
 * what it holds now (prlimit: the sampler and the children run as the
 * same user), so its next allocation fails inside the application
 * (MemoryError, a fault), and the child, seeing the mark at the end of
 * the request, lifts the limit and is recycled. One call a second at
 * most: the next sample shows what that one gave back.
 */
static void measure_lastresort(measure_t *m, uint64_t now)
{
    int64_t room = __atomic_load_n(&sampler_lastresort_room, __ATOMIC_RELAXED);
    mg_board_res_info_t ri;
    mg_board_method_info_t mi;
    struct rlimit old, rl;

    if (room >= 0 || m->lr_slot < 0 || now < m->lr_next) {
        return;
    }
    m->lr_next = now + 1000000u;
    if (prlimit(m->lr_pid, RLIMIT_DATA, NULL, &old) != 0) {
        return;
    }
    rl.rlim_cur = m->lr_data;
    rl.rlim_max = old.rlim_max;
    if ((old.rlim_cur != RLIM_INFINITY && old.rlim_cur <= rl.rlim_cur) ||
        (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max) ||
        mg_board_lastresort_set(m->b, (uint32_t)m->lr_slot, m->lr_pid) != 0) {
        return;
    }
    if (prlimit(m->lr_pid, RLIMIT_DATA, &rl, NULL) != 0) {
        (void)mg_board_lastresort_take(m->b, (uint32_t)m->lr_slot);
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, m->s,
                     MGLOGNO(00345) "sampler: cannot lower the memory limit "
                                    "of process %d (last resort)",
                     (int)m->lr_pid);
        return;
    }
    mg_board_admit_count(m->b, MG_ADMIT_LAST_RESORT);
    if (mg_board_method_snapshot(m->b, m->lr_method, &mi) != 0) {
        mi.name[0] = '\0';
    }
    if (mg_board_admit_slot(m->b, (uint32_t)m->lr_slot, &ri) != 0 ||
        ri.client[0] == '\0') {
        apr_cpystrn(ri.client, "unknown", sizeof(ri.client));
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, m->s,
                 MGLOGNO(00344) "last resort: memory is %.1f MiB past the "
                                "shed level; stopping the call of '%s' in "
                                "process %d (client %s), grown %.1f MiB, "
                                "expected %.1f MiB: its next allocation "
                                "fails",
                 (double)-room / (1024.0 * 1024.0),
                 mi.name[0] ? mi.name : "(other)", (int)m->lr_pid, ri.client,
                 (double)m->lr_grown / (1024.0 * 1024.0),
                 (double)m->lr_expected / (1024.0 * 1024.0));
}

static void *measure_main(void *arg)
{
    measure_t *m = arg;
    uint64_t next = mono_us();

    /* back to the server's own priority: this thread may take its time */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 0);
    prctl(PR_SET_NAME, "mg-measure", 0, 0, 0);
    while (!sampler_stop &&
           !__atomic_load_n(&sampler_measure_go, __ATOMIC_ACQUIRE)) {
        sleep_until(mono_us() + 5000);
    }
    next = mono_us();
    while (!sampler_stop) {
        uint64_t now = mono_us(), smaps_done = 0, iv;

        if (now >= m->next_slab &&
            mg_proc_sampler_read_slab(&sampler_ps, &sampler_slab_read, now)) {
            slab_put(&sampler_slab_read);
            m->next_slab = now + MEASURE_SLAB_EVERY_US;
        }
        measure_inflight(m);
        measure_lastresort(m, now);
        /* the learned costs from the histograms of what calls took */
        mg_board_method_cost_refresh(m->b, MEMGUARD_ADMIT_QUANTILE,
                                     MEMGUARD_ADMIT_RECENT, now);
        memguard_recycle_sampler_tick(
            m->s, now, MG_BOARD_VERDICT_STATE(mg_board_verdict_load(m->b)));
        if (m->smaps) {
            smaps_done = measure_smaps(m, now);
        }
        mg_board_proc_times_set(m->b, mono_us(), smaps_done);

        iv = __atomic_load_n(&sampler_interval_now, __ATOMIC_RELAXED);
        next += iv ? iv : MEMGUARD_DEFAULT_INTERVAL_US;
        now = mono_us();
        if (next <= now) {
            next = now + (iv ? iv : MEMGUARD_DEFAULT_INTERVAL_US);
        }
        sleep_until(next);
    }
    return NULL;
}

/* Start the measuring thread with every signal blocked (they are the
 * publishing thread's: its sleep must be the one they interrupt). */
static int measure_start(pthread_t *t)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(t, NULL, measure_main, &sampler_measure);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* ---- the publishing thread ----------------------------------------------- */

/* The verdict's fill rate into the record, for the status page. */
static void record_fill(mg_board_sys_t *rec, const mg_verdict_t *v)
{
    rec->fill_signal = (uint32_t)v->fill.signal;
    rec->fill_detail = v->fill.detail;
    rec->fill_rate = v->fill.rate;
    rec->fill_level = v->fill.level;
    rec->fill_distance = v->fill.distance;
    rec->fill_tte_us = v->fill.tte_us;
    rec->fill_shed_level = v->fill.shed_level;
}

int memguard_sampler_main(server_rec *s, apr_pool_t *sampler_pool,
                          memguard_headroom_conf *hr, mg_board_t *b,
                          uint32_t starts, pid_t parent)
{
    const char *root = hr->proc_root ? hr->proc_root : "/";
    const char *names[MG_SAMPLE_MAX_CACHES];
    mg_proc_sampler_conf_t pc;
    mg_policy_state_t st;
    mg_verdict_t v, prev;
    mg_board_transition_t trans;
    memguard_recycle_settings rset;
    uint64_t base = hr->interval_us == MEMGUARD_UNSET
                        ? MEMGUARD_DEFAULT_INTERVAL_US
                        : (uint64_t)hr->interval_us;
    uint64_t interval = base, next, last = 0;
    int64_t credit, room = 0;
    uint64_t shed_level = 0;
    uint32_t admit_calls;
    uint64_t stale_us = memguard_stale_after_us(hr);
    char *slab_buf, path[MG_PROC_PATH_MAX];
    pthread_t measure;
    int rc, have_measure;
    uint32_t i;

    sampler_signals();
    sampler_set_name(s);
    mg_log_set(sampler_core_log, s);
    /* Nothing of the server's sockets belongs to us: a stopped server
     * frees its port even if we were slow to go. */
    ap_close_listeners();

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
        return MEMGUARD_SAMPLER_STARTUP_ERROR;
    }
    /* Recycling's sampler side (idle prefork children, the largest first
     * under pressure, watched daemons): its fixed tables, while root. */
    memguard_recycle_sampler_init(s, sampler_pool, getppid());

    /* 3. lock what we touch, and a head start for this thread, while
     * root */
    if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 &&
        (errno != EINVAL || mlockall(MCL_CURRENT | MCL_FUTURE) != 0)) {
        ap_log_error(
            APLOG_MARK, APLOG_NOTICE, errno, s,
            MGLOGNO(00313) "sampler: mlockall failed; it may be paged out when "
                           "memory is short");
    }
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), SAMPLER_NICE) !=
        0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, errno, s,
                     MGLOGNO(00341) "sampler: cannot raise its priority "
                                    "(nice %d); it runs at the server's",
                     SAMPLER_NICE);
    }

    /* The measuring thread, while root: once the sampler has dropped
     * privileges, every new mapping (a thread's stack) counts against
     * RLIMIT_MEMLOCK because of mlockall(MCL_FUTURE), and the parent's
     * inherited mappings already exceed it. It waits for the drop before
     * it does anything. smaps only where the unshared size is what
     * recycling compares or ranks. */
    memguard_recycle_settings_get(&rset);
    memset(&sampler_measure, 0, sizeof(sampler_measure));
    sampler_measure.s = s;
    sampler_measure.b = b;
    {
        memguard_admit_settings as;
        long ps = sysconf(_SC_PAGESIZE);
        uint32_t k, nslots = mg_board_nslots(b);

        memguard_admit_settings_get(&as);
        sampler_measure.tiny = (uint64_t)as.tiny;
        sampler_measure.dflt = (uint64_t)as.dflt;
        sampler_measure.pagesize = ps > 0 ? (uint64_t)ps : 4096u;
        sampler_measure.statm_pid =
            apr_pcalloc(sampler_pool, (nslots + 1) * sizeof(int32_t));
        sampler_measure.statm_fd =
            apr_palloc(sampler_pool, (nslots + 1) * sizeof(int));
        sampler_measure.smaps_pid =
            apr_pcalloc(sampler_pool, (nslots + 1) * sizeof(int32_t));
        sampler_measure.smaps_rss =
            apr_pcalloc(sampler_pool, (nslots + 1) * sizeof(uint64_t));
        sampler_measure.smaps_at =
            apr_pcalloc(sampler_pool, (nslots + 1) * sizeof(uint64_t));
        sampler_measure.raise_logged = apr_pcalloc(
            sampler_pool, (mg_board_nmethods(b) + 1) * sizeof(uint64_t));
        for (k = 0; k <= nslots; k++) {
            sampler_measure.statm_fd[k] = -1;
        }
    }
    sampler_measure.smaps =
        mg_board_nslots(b) > 0 && rset.metric == MEMGUARD_METRIC_UNSHARED &&
        (rset.soft_limit > 0 || rset.hard_limit > 0 || rset.on_pressure);
    __atomic_store_n(&sampler_interval_now, base, __ATOMIC_RELAXED);
    rc = measure_start(&measure);
    have_measure = rc == 0;
    if (!have_measure) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rc, s,
                     MGLOGNO(00342) "sampler: cannot start its measuring "
                                    "thread: no slabinfo, no recycling by "
                                    "the sampler, no unshared sizes");
    }

    /* 4. httpd's User and Group */
    if (ap_run_drop_privileges(sampler_pool, s) != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     MGLOGNO(00314) "sampler: cannot drop privileges");
        return MEMGUARD_SAMPLER_STARTUP_ERROR;
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

    /* the measuring thread may start its work now */
    __atomic_store_n(&sampler_measure_go, 1, __ATOMIC_RELEASE);

    ap_log_error(
        APLOG_MARK, APLOG_INFO, 0, s,
        MGLOGNO(00315) "sampler started (pid %d, start %u, board generation "
                       "%u, interval %" APR_UINT64_T_FMT "us, root %s)",
        (int)getpid(), starts, mg_board_generation(b), base, root);

    next = mono_us();
    while (!sampler_stop) {
        uint64_t now = mono_us(), done;

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
        /* Admission: give back what ended calls reserved and sum what the
         * calls in flight have grown, BEFORE the sample is read: what the
         * ended calls left and what the running ones took are then in
         * it (see mg_board_admit_settle()). */
        credit = mg_board_admit_settle(b, &admit_calls);
        mg_proc_sampler_read(&sampler_ps, &sampler_sample, 0, now);
        slab_get(&sampler_sample);
        sampler_sample.reserved_growth = credit > 0 ? (uint64_t)credit : 0;
        mg_policy_eval(&hr->policy, &st, &sampler_sample, now, &v);
        if (mg_policy_room(&hr->policy, &sampler_sample, &room, NULL, NULL,
                           &shed_level) == 0) {
            sampler_rec.admit_room = room;
            sampler_rec.admit_budget =
                room > INT64_MAX - credit ? INT64_MAX - 1 : room + credit;
        }
        else {
            sampler_rec.admit_room = 0;
            sampler_rec.admit_budget = MG_BOARD_BUDGET_NONE;
        }
        sampler_rec.admit_credit = credit;
        sampler_rec.admit_calls = admit_calls;
        /* Shedding, and memory more than half way from the shed level to
         * nothing: the OOM killer is next, and shedding new work cannot
         * save the calls that run. The measuring thread stops one. */
        __atomic_store_n(&sampler_lastresort_room,
                         v.state == MG_VERDICT_SHED &&
                                 sampler_rec.admit_budget !=
                                     MG_BOARD_BUDGET_NONE &&
                                 room < -(int64_t)(shed_level / 2)
                             ? room
                             : 0,
                         __ATOMIC_RELAXED);
        mg_board_admit_budget_set(b, sampler_rec.admit_budget, now);
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
        record_fill(&sampler_rec, &v);
        if (last != 0) {
            worst_add(&sampler_gaps, now, now - last);
        }
        sampler_rec.gap_max_us = worst_get(&sampler_gaps, now);
        sampler_rec.loop_max_us = worst_get(&sampler_loops, now);
        interval = mg_policy_interval(&hr->policy, &st, base,
                                      MEMGUARD_MIN_INTERVAL_US);
        sampler_rec.interval_us = interval;
        sampler_rec.last_sample_us = now;
        mg_board_sys_publish(b, &sampler_rec);
        if (v.transition) {
            sampler_transition_log(s, &v, &trans, &sampler_sample);
        }
        __atomic_store_n(&sampler_interval_now, interval, __ATOMIC_RELAXED);
        prev = v;
        last = now;

        done = mono_us();
        worst_add(&sampler_loops, now, done - now);
        next += interval;
        if (next <= done) {
            /* late (stopped, or a slow read): no burst of catch-up samples */
            next = done + interval;
        }
        sleep_until(next);
    }
    if (have_measure) {
        struct timespec ts;

        /* the measuring thread sees sampler_stop within a tick; one stuck
         * in a read is not waited for: _exit() ends it */
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_timedjoin_np(measure, NULL, &ts);
    }
    mg_proc_sampler_close(&sampler_ps);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 MGLOGNO(00317) "sampler %d exiting", (int)getpid());
    return 0;
}
