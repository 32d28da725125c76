/*
 * mod_memguard_recycle_sampler.c - recycling, the sampler's side: from its
 * measuring thread, signal idle children that are flagged or over a limit
 * (prefork), flag the largest children when memory is short
 * (MemGuardRecycleOnPressure), and watch the server's daemon processes
 * (MemGuardWatchDaemons: mod_wsgi daemons, restarted with SIGUSR1 under
 * any MPM). The limits, the budget and the why of each step are the child
 * side's (mod_memguard_recycle.c); nothing here allocates after
 * memguard_recycle_sampler_init().
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "ap_mpm.h"
#include "http_main.h"
#include "mpm_common.h"

#include "mod_memguard_board.h"
#include "mod_memguard_config.h"
#include "mod_memguard_recycle_limits.h"
#include "mod_memguard_recycle_sampler.h"
#include "mg_board.h"
#include "mg_policy.h"
#include "mg_proc.h"

#define MIB (1024.0 * 1024.0)

#define WATCH_MAX 64                 /* daemon processes tracked */
#define WATCH_CMDLINE 256            /* bytes of a cmdline matched */
#define WATCH_SCAN_EVERY_US 2000000u /* /proc scan for new daemons */
#define SAMPLER_EVERY_US 1000000u    /* children, pressure, daemon sizes */
#define PRESSURE_PER_PASS 2          /* children flagged per pass (shed) */
#define WATCH_SCAN_MAX 65536         /* /proc entries looked at per scan */

typedef struct {
    pid_t pid; /* 0: free */
    int statm_fd;
    int smaps_fd;  /* -1: not readable (rss is used) */
    int signalled; /* SIGUSR1 sent; waiting for it to go */
    int deferred_logged;
    uint64_t first_size; /* size when first measured */
} watch_t;

static struct {
    int active;
    int children; /* prefork: children can be signalled */
    pid_t parent;
    int proc_fd; /* /proc, for the daemon scan */
    apr_uint64_t pagesize;
    uint32_t nslots;
    int32_t *signalled_pid; /* per slot: the pid we signalled */
    uint64_t *sizes;        /* per slot: candidates for pressure picks */
    uint32_t picks[PRESSURE_PER_PASS];
    watch_t watch[WATCH_MAX];
    apr_uint64_t next_pass_us, next_scan_us;
    uint64_t least_seen; /* smallest child size measured: "fresh" */
    int full_logged, smaps_logged;
    char smaps_buf[4096];
    char cmdline[WATCH_CMDLINE];
} rs;

void memguard_recycle_sampler_init(server_rec *s, apr_pool_t *p, pid_t parent)
{
    mg_board_t *b = memguard_board();
    long ps = sysconf(_SC_PAGESIZE);
    int i;

    memguard_recycle_limits_init(0);
    rs.active = 0;
    if (b == NULL || (!memguard_recycle_configured(&memguard_recycle_set) &&
                      !memguard_recycle_set.on_pressure)) {
        return;
    }
    rs.parent = parent;
    rs.pagesize = ps > 0 ? (apr_uint64_t)ps : 4096u;
    rs.children = memguard_recycle_mpm_can_signal();
    rs.nslots = mg_board_nslots(b);
    rs.signalled_pid = apr_pcalloc(p, rs.nslots * sizeof(*rs.signalled_pid));
    rs.sizes = apr_pcalloc(p, rs.nslots * sizeof(*rs.sizes));
    for (i = 0; i < WATCH_MAX; i++) {
        rs.watch[i].pid = 0;
        rs.watch[i].statm_fd = -1;
        rs.watch[i].smaps_fd = -1;
    }
    rs.proc_fd = -1;
    if (memguard_recycle_set.watch != NULL) {
        /* /proc as a directory: listed with mg_proc_scan_pids() on this fd,
         * which allocates nothing (opendir would). */
        rs.proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rs.proc_fd < 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, errno, s,
                         MGLOGNO(00421) "sampler: cannot open /proc: "
                                        "MemGuardWatchDaemons is off");
        }
    }
    rs.next_pass_us = 0;
    rs.next_scan_us = 0;
    rs.least_seen = UINT64_MAX;
    rs.full_logged = 0;
    rs.smaps_logged = 0;
    rs.active = 1;
}

/* kill(), with what went wrong logged: never SIGKILL, only graceful. */
static int sampler_signal(server_rec *s, pid_t pid, const char *what)
{
    if (kill(pid, AP_SIG_GRACEFUL) == 0) {
        return 0;
    }
    if (errno != ESRCH) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s,
                     MGLOGNO(00422) "sampler: cannot signal %s %ld", what,
                     (long)pid);
    }
    return -1;
}

/* Take a token unless the budget is off; 1: go ahead. The pass's own
 * time is not used: the clock is read inside the take (see mg_board.h). */
static int sampler_budget(void)
{
    return memguard_recycle_set.max_per_minute == 0 ||
           memguard_recycle_take(memguard_board());
}

/*
 * Children (prefork only). Flag those over a limit by the figures the
 * sampler has (the child's unshared size, or its rss after its last
 * request); signal flagged children that are idle, since an idle child
 * has no next request to act on. A child that accepts a connection at the
 * same moment still recycles cleanly: the signal just arrives during its
 * request, as if it had raised it itself.
 */
static void sampler_children(server_rec *s, mg_board_t *b, apr_uint32_t verdict)
{
    mg_board_slot_info_t info;
    uint32_t i, k, n;
    uint64_t grown;

    for (i = 0; i < rs.nslots; i++) {
        uint64_t size, value = 0, limit = 0, lim = 0;
        uint32_t reason, mreason;
        int hard = 0;

        rs.sizes[i] = 0;
        if (mg_board_slot_snapshot(b, i, &info) != 0 || info.pid <= 0) {
            rs.signalled_pid[i] = 0;
            continue;
        }
        if (rs.signalled_pid[i] == info.pid || info.recycles_done > 0) {
            /* on its way out, signalled by us or recycled by itself: it
             * may still be closing its connection or waiting to be
             * reaped, and must not cost a second token */
            continue;
        }
        if (memguard_recycle_set.metric == MEMGUARD_METRIC_UNSHARED &&
            info.unshared > 0) {
            size = info.unshared;
            mreason = MG_RECYCLE_UNSHARED;
        }
        else {
            size = info.rss;
            mreason = MG_RECYCLE_RSS;
        }
        reason = info.recycle_reason;
        value = info.recycle_value;
        limit = info.recycle_limit;
        if (reason == 0 &&
            memguard_recycle_over(&memguard_recycle_set, size,
                                  (apr_uint32_t)info.pid, &lim, &hard) &&
            mg_board_slot_recycle_request(b, i, info.pid, mreason, size, lim) ==
                0) {
            reason = mreason;
            value = size;
            limit = lim;
        }
        if (reason == 0) {
            rs.sizes[i] = size; /* a candidate when memory is short */
            continue;
        }
        if (info.inflight > 0) {
            continue; /* the child acts at the end of its request */
        }
        if (reason != MG_RECYCLE_HEADROOM) {
            (void)memguard_recycle_over(&memguard_recycle_set, size,
                                        (apr_uint32_t)info.pid, &lim, &hard);
            if (!sampler_budget() && !hard) {
                continue; /* deferred; tried again next pass */
            }
        }
        if (sampler_signal(s, (pid_t)info.pid, "child") == 0) {
            rs.signalled_pid[i] = info.pid;
            mg_board_slot_recycle_done(b, i);
            ap_log_error(
                APLOG_MARK, APLOG_INFO, 0, s,
                MGLOGNO(00423) "sampler: recycling idle child %ld (slot %u): "
                               "%s %" APR_UINT64_T_FMT
                               " bytes (%.1f MiB) > limit %" APR_UINT64_T_FMT
                               " bytes (%.1f MiB) (%s)",
                (long)info.pid, i, mg_recycle_reason_name(reason), value,
                (double)value / MIB, limit, (double)limit / MIB,
                memguard_recycle_limit_name(reason, hard));
        }
    }
    if (!memguard_recycle_set.on_pressure) {
        return;
    }
    /* Memory is short: the largest children first, a few per pass, each
     * only with a token in hand (so the child need not take another).
     * Only children that have grown by half the smallest child this
     * sampler has measured, and at least 16 MiB: one barely larger would
     * come back as big as it goes, so pressure that children did not
     * cause (slab, another service, calls admitted by their memory cost
     * and still running) does not recycle fresh children over and over,
     * nor cut the keep-alive connections of builders for nothing. */
    for (i = 0; i < rs.nslots; i++) {
        if (rs.sizes[i] > 0 && rs.sizes[i] < rs.least_seen) {
            rs.least_seen = rs.sizes[i];
        }
    }
    k = mg_policy_headroom_victims((mg_verdict_state_t)verdict,
                                   PRESSURE_PER_PASS);
    if (k == 0) {
        return;
    }
    grown = rs.least_seen / 2 > ((uint64_t)16 << 20) ? rs.least_seen / 2
                                                     : ((uint64_t)16 << 20);
    for (i = 0; i < rs.nslots; i++) {
        if (rs.sizes[i] <= rs.least_seen + grown) {
            rs.sizes[i] = 0;
        }
    }
    n = mg_policy_pick_largest(rs.sizes, rs.nslots, k, rs.picks);
    for (k = 0; k < n; k++) {
        i = rs.picks[k];
        if (mg_board_slot_snapshot(b, i, &info) != 0 || info.pid <= 0) {
            continue;
        }
        if (!sampler_budget()) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                         MGLOGNO(00424) "sampler: memory is short but the "
                                        "recycle budget is spent");
            break;
        }
        if (mg_board_slot_recycle_request(b, i, info.pid, MG_RECYCLE_HEADROOM,
                                          rs.sizes[i], 0) != 0) {
            continue;
        }
        ap_log_error(
            APLOG_MARK, APLOG_INFO, 0, s,
            MGLOGNO(00425) "sampler: memory is short (%s): recycling child %ld "
                           "(slot %u, %.1f MiB), largest first",
            mg_verdict_state_name((mg_verdict_state_t)verdict), (long)info.pid,
            i, (double)rs.sizes[i] / MIB);
        if (info.inflight == 0 &&
            sampler_signal(s, (pid_t)info.pid, "child") == 0) {
            rs.signalled_pid[i] = info.pid;
            mg_board_slot_recycle_done(b, i);
        }
    }
}

static void watch_close(watch_t *w)
{
    if (w->statm_fd >= 0) {
        close(w->statm_fd);
    }
    if (w->smaps_fd >= 0) {
        close(w->smaps_fd);
    }
    w->statm_fd = w->smaps_fd = -1;
    w->pid = 0;
    w->signalled = 0;
    w->deferred_logged = 0;
    w->first_size = 0;
}

/* Track pid if it is a child of the httpd parent whose flattened command
 * line matches MemGuardWatchDaemons. */
static void watch_consider(server_rec *s, pid_t pid)
{
    int32_t ppid;
    int i, free_i = -1;
    watch_t *w;

    for (i = 0; i < WATCH_MAX; i++) {
        if (rs.watch[i].pid == pid) {
            return;
        }
        if (rs.watch[i].pid == 0 && free_i < 0) {
            free_i = i;
        }
    }
    if (mg_proc_read_ppid("/", pid, &ppid) != 0 || ppid != rs.parent) {
        return;
    }
    if (mg_proc_read_cmdline("/", pid, rs.cmdline, sizeof(rs.cmdline)) <= 0 ||
        fnmatch(memguard_recycle_set.watch, rs.cmdline, 0) != 0) {
        return;
    }
    if (free_i < 0) {
        if (!rs.full_logged) {
            rs.full_logged = 1;
            ap_log_error(
                APLOG_MARK, APLOG_NOTICE, 0, s,
                MGLOGNO(00426) "sampler: more than %d processes "
                               "match MemGuardWatchDaemons \"%s\": the "
                               "others are not watched",
                WATCH_MAX, memguard_recycle_set.watch);
        }
        return;
    }
    w = &rs.watch[free_i];
    w->statm_fd = mg_proc_open_pid("/", pid, "statm");
    if (w->statm_fd < 0) {
        w->statm_fd = -1;
        return;
    }
    w->smaps_fd = -1;
    if (memguard_recycle_set.metric == MEMGUARD_METRIC_UNSHARED) {
        /* Needs ptrace read access: a daemon that changed its uid is not
         * dumpable, so an unprivileged sampler gets EACCES. */
        int fd = mg_proc_open_pid("/", pid, "smaps_rollup");
        if (fd >= 0) {
            w->smaps_fd = fd;
        }
        else if (!rs.smaps_logged) {
            rs.smaps_logged = 1;
            ap_log_error(
                APLOG_MARK, APLOG_INFO, -fd, s,
                MGLOGNO(00427) "sampler: smaps_rollup of daemon %ld is not "
                               "readable: daemons are judged on their rss",
                (long)pid);
        }
    }
    w->pid = pid;
    w->signalled = 0;
    w->deferred_logged = 0;
    w->first_size = 0;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 MGLOGNO(00428) "sampler: watching daemon %ld \"%s\"",
                 (long)pid, rs.cmdline);
}

/* One pid of the scan: neither this process nor the parent. */
static int watch_scan_one(void *baton, pid_t pid)
{
    if (pid > 1 && pid != getpid() && pid != rs.parent) {
        watch_consider(baton, pid);
    }
    return 0;
}

/* One pass over /proc: bounded by WATCH_SCAN_MAX entries, no allocation
 * (mg_proc_scan_pids). */
static void watch_scan(server_rec *s)
{
    (void)mg_proc_scan_pids(rs.proc_fd, WATCH_SCAN_MAX, watch_scan_one, s);
}

/* Measure each watched daemon; restart a bloated one gracefully. */
static void watch_measure(server_rec *s, apr_uint32_t verdict)
{
    mg_proc_statm_t st;
    mg_proc_smaps_t sm;
    uint64_t size, lim = 0, biggest = 0;
    int i, hard, pick = -1;

    for (i = 0; i < WATCH_MAX; i++) {
        watch_t *w = &rs.watch[i];
        const char *metric = "rss";

        if (w->pid == 0) {
            continue;
        }
        if (mg_proc_read_statm(w->statm_fd, rs.pagesize, &st) != 0) {
            watch_close(w); /* gone: its successor is found by the scan */
            continue;
        }
        size = st.resident;
        if (w->smaps_fd >= 0 &&
            mg_proc_read_smaps_rollup(w->smaps_fd, rs.smaps_buf,
                                      sizeof(rs.smaps_buf), &sm) == 0) {
            size = sm.unshared;
            metric = "unshared";
        }
        if (w->first_size == 0) {
            w->first_size = size;
        }
        if (w->signalled) {
            continue; /* finishing its requests (mod_wsgi graceful) */
        }
        if (!memguard_recycle_over(&memguard_recycle_set, size,
                                   (apr_uint32_t)w->pid, &lim, &hard)) {
            /* under pressure, only a daemon that has at least doubled
             * since it was first seen is worth a restart */
            if (size > biggest && size > 2 * w->first_size) {
                biggest = size;
                pick = i;
            }
            continue;
        }
        if (!sampler_budget() && !hard) {
            if (!w->deferred_logged) {
                w->deferred_logged = 1;
                ap_log_error(
                    APLOG_MARK, APLOG_INFO, 0, s,
                    MGLOGNO(00429) "sampler: restarting daemon %ld deferred: "
                                   "MemGuardMaxRecyclesPerMinute %u reached",
                    (long)w->pid, memguard_recycle_set.max_per_minute);
            }
            continue;
        }
        if (sampler_signal(s, w->pid, "daemon") == 0) {
            w->signalled = 1;
            ap_log_error(
                APLOG_MARK, APLOG_INFO, 0, s,
                MGLOGNO(00430) "sampler: restarting daemon %ld gracefully "
                               "(SIGUSR1): %s %" APR_UINT64_T_FMT " bytes "
                               "(%.1f MiB) > limit %" APR_UINT64_T_FMT " bytes "
                               "(%.1f MiB) (%s)",
                (long)w->pid, metric, size, (double)size / MIB, lim,
                (double)lim / MIB,
                hard ? "MemGuardChildHardLimit" : "MemGuardChildSoftLimit");
        }
    }
    /* Memory short: the largest daemon too, one per pass. */
    if (memguard_recycle_set.on_pressure && pick >= 0 &&
        mg_policy_headroom_victims((mg_verdict_state_t)verdict, 1) > 0 &&
        sampler_budget() &&
        sampler_signal(s, rs.watch[pick].pid, "daemon") == 0) {
        rs.watch[pick].signalled = 1;
        ap_log_error(
            APLOG_MARK, APLOG_INFO, 0, s,
            MGLOGNO(00431) "sampler: memory is short (%s): "
                           "restarting daemon %ld (%.1f MiB) gracefully, "
                           "largest first",
            mg_verdict_state_name((mg_verdict_state_t)verdict),
            (long)rs.watch[pick].pid, (double)biggest / MIB);
    }
}

void memguard_recycle_sampler_tick(server_rec *s, apr_uint64_t now_us,
                                   apr_uint32_t verdict_state)
{
    mg_board_t *b = memguard_board();

    if (!rs.active || b == NULL) {
        return;
    }
    if (rs.proc_fd >= 0 && now_us >= rs.next_scan_us) {
        rs.next_scan_us = now_us + WATCH_SCAN_EVERY_US;
        watch_scan(s);
    }
    if (now_us < rs.next_pass_us) {
        return;
    }
    rs.next_pass_us = now_us + SAMPLER_EVERY_US;
    if (rs.children) {
        sampler_children(s, b, verdict_state);
    }
    if (rs.proc_fd >= 0) {
        watch_measure(s, verdict_state);
    }
}
