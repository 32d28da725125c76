/*
 * mod_memguard_board.c - the board's shared-memory lifecycle and the
 * child's own slot.
 *
 * The board (mg_board.h) lives in one anonymous apr_shm segment created by
 * the parent in its first real post_config and kept in retained data, so
 * graceful and plain restarts reuse it: no leak, nothing on disk, counters
 * survive. It is sized from AP_MPMQ_HARD_LIMIT_DAEMONS, which cannot change
 * across restarts; if the layout or the sizes ever differ (a new build
 * loaded by a restart), the old segment is destroyed and a fresh one made.
 * Children inherit the mapping across fork().
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ap_mpm.h"
#include "apr_atomic.h"
#include "apr_shm.h"
#include "http_core.h"
#include "http_main.h"
#include "mpm_common.h"

#include "mod_memguard_board.h"
#include "mod_memguard_config.h"
#include "mod_memguard_request.h"
#include "mg_board.h"
#include "mg_status.h"
#include "mg_version.h"

#define MEMGUARD_RETAINED_KEY "mod_memguard-board"

typedef struct {
    apr_shm_t *shm; /* NULL until the first real post_config */
    uint32_t nslots;
    uint32_t nmethods;
} memguard_retained_t;

static mg_board_t *memguard_the_board;
static int memguard_threads_per_slot = 1; /* AP_MPMQ_HARD_LIMIT_THREADS */
static apr_uint32_t memguard_slot_plus1; /* this child's slot + 1; 0: unknown */

mg_board_t *memguard_board(void)
{
    return memguard_the_board;
}

void memguard_sys_verdict(const struct mg_board_sys *rec, mg_verdict_t *v)
{
    mg_status_sys_verdict(rec, v);
}

uint64_t memguard_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * apr_shm keeps its own length in front of the usable area, so the base
 * is only 8-byte aligned; the board wants 64 (cache lines). The segment is
 * made 64 bytes larger and the board starts at the first aligned byte.
 */
#define MEMGUARD_BOARD_ALIGN 64

static void *board_base(apr_shm_t *shm, size_t *size)
{
    uintptr_t a = (uintptr_t)apr_shm_baseaddr_get(shm);
    uintptr_t aligned =
        (a + MEMGUARD_BOARD_ALIGN - 1) & ~(uintptr_t)(MEMGUARD_BOARD_ALIGN - 1);

    *size = apr_shm_size_get(shm) - (size_t)(aligned - a);
    return (void *)aligned;
}

/* The board in the segment, made fresh unless a matching one is there. */
static apr_status_t board_setup(memguard_retained_t *rd, server_rec *s,
                                uint32_t nslots, uint32_t nmethods)
{
    size_t size = mg_board_size(nslots, nmethods);
    apr_status_t rv;
    int rc;

    if (size == 0) {
        ap_log_error(
            APLOG_MARK, APLOG_CRIT, 0, s,
            MGLOGNO(00301) "cannot size the board for %u slots and %u methods",
            nslots, nmethods);
        return APR_EINVAL;
    }
    if (rd->shm != NULL) {
        size_t have;
        void *base = board_base(rd->shm, &have);
        rc = mg_board_attach(base, have, nslots, nmethods, &memguard_the_board);
        if (rc == 0) {
            return APR_SUCCESS;
        }
        ap_log_error(
            APLOG_MARK, APLOG_NOTICE, 0, s,
            MGLOGNO(00302) "board layout changed (%d): starting a fresh one",
            rc);
        apr_shm_destroy(rd->shm);
        rd->shm = NULL;
    }
    /* The process pool lives until the server stops for good, so the
     * segment outlives restarts and is destroyed exactly once. */
    rv = apr_shm_create(&rd->shm, size + MEMGUARD_BOARD_ALIGN, NULL,
                        s->process->pool);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     MGLOGNO(00303) "cannot create the board (%" APR_SIZE_T_FMT
                                    " bytes)",
                     size);
        return rv;
    }
    {
        size_t have;
        void *base = board_base(rd->shm, &have);
        rc = mg_board_init(base, have, nslots, nmethods, &memguard_the_board);
    }
    if (rc != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     MGLOGNO(00304) "cannot lay out the board: error %d", rc);
        return APR_EGENERAL;
    }
    rd->nslots = nslots;
    rd->nmethods = nmethods;
    ap_log_error(
        APLOG_MARK, APLOG_DEBUG, 0, s,
        MGLOGNO(00305) "board created: %u slots, %u methods, %" APR_SIZE_T_FMT
                       " bytes",
        nslots, nmethods, size);
    return APR_SUCCESS;
}

static int board_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    memguard_retained_t *rd;
    int daemons = 0, threads = 0;

    (void)pconf;
    (void)plog;
    (void)ptemp;
    /* The first pass only checks the configuration; the board belongs to
     * the server that will really run. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    rd = ap_retained_data_get(MEMGUARD_RETAINED_KEY);
    if (rd == NULL) {
        rd = ap_retained_data_create(MEMGUARD_RETAINED_KEY, sizeof(*rd));
    }
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &daemons);
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &threads);
    memguard_threads_per_slot = threads > 0 ? threads : 1;
    if (daemons <= 0) {
        daemons = 1;
    }
    if (board_setup(rd, s, (uint32_t)daemons, MEMGUARD_BOARD_METHODS) !=
        APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    mg_board_generation_bump(memguard_the_board);
    /* Once per real start and restart (never in the configuration
     * check), so the log says which build the server runs. */
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 MGLOGNO(00520) "mod_memguard " MG_VERSION " configured "
                                "(board generation %u, %u slots)",
                 mg_board_generation(memguard_the_board),
                 mg_board_nslots(memguard_the_board));
    return OK;
}

/*
 * Parent: a child left its slot (clean exit, crash, SIGKILL from the OOM
 * killer: httpd reaps them all). Give back any per-method concurrency it
 * still held and zero the slot, so nothing leaks to the next child.
 */
static void board_child_status(server_rec *s, pid_t pid, ap_generation_t gen,
                               int slot, mpm_child_status status)
{
    int given;

    (void)gen;
    if (memguard_the_board == NULL || slot < 0 ||
        (uint32_t)slot >= mg_board_nslots(memguard_the_board) ||
        status != MPM_CHILD_EXITED) {
        return;
    }
    given = mg_board_slot_reset(memguard_the_board, (uint32_t)slot);
    if (given > 0) {
        ap_log_error(
            APLOG_MARK, APLOG_INFO, 0, s,
            MGLOGNO(00306) "child %ld in slot %d exited holding %d method "
                           "call(s): given back",
            (long)pid, slot, given);
    }
}

/* This process's pid once known (0: not yet); a child's is set in its
 * child_init, before any request, and a process forked later (the sampler)
 * starts by clearing it. */
static pid_t memguard_my_pid;

pid_t memguard_pid(void)
{
    pid_t pid = __atomic_load_n(&memguard_my_pid, __ATOMIC_RELAXED);

    if (pid == 0) {
        pid = getpid();
        __atomic_store_n(&memguard_my_pid, pid, __ATOMIC_RELAXED);
    }
    return pid;
}

void memguard_pid_forget(void)
{
    __atomic_store_n(&memguard_my_pid, 0, __ATOMIC_RELAXED);
}

/* A fresh child does not know its slot until its first connection. */
static void board_child_init(apr_pool_t *p, server_rec *s)
{
    (void)p;
    (void)s;
    memguard_pid_forget();
    (void)memguard_pid();
    apr_atomic_set32(&memguard_slot_plus1, 0);
}

int memguard_slot(conn_rec *c)
{
    apr_uint32_t v = apr_atomic_read32(&memguard_slot_plus1);
    long slot;

    if (v != 0) {
        return (int)v - 1;
    }
    if (memguard_the_board == NULL || c == NULL) {
        return -1;
    }
    while (c->master != NULL) {
        c = c->master;
    }
    /* prefork: c->id is the child's slot; worker/event: slot * threads +
     * thread (ID_FROM_CHILD_THREAD). */
    slot = c->id / memguard_threads_per_slot;
    if (slot < 0 || (uint32_t)slot >= mg_board_nslots(memguard_the_board)) {
        return -1;
    }
    /* The first thread to get here takes the slot for this process. */
    if (apr_atomic_cas32(&memguard_slot_plus1, (apr_uint32_t)slot + 1, 0) ==
        0) {
        mg_board_slot_start(memguard_the_board, (uint32_t)slot,
                            (int32_t)memguard_pid(), memguard_now_us());
    }
    return (int)slot;
}

void memguard_count_refusal(request_rec *r, mg_reason_t reason, int detect)
{
    memguard_req_ctx *ctx = memguard_req(r);
    int slot;

    /* DetectOnly decisions are logged and noted, but the board counts what
     * clients really got. */
    if (detect || memguard_the_board == NULL) {
        return;
    }
    slot = memguard_slot(r->connection);
    if (slot < 0) {
        return;
    }
    /* A refusal before the method is known counts under "other": the
     * method entries, unlike the slots, are never zeroed when a child
     * exits, so their sum is the server's total (the status page). */
    mg_board_reject(memguard_the_board, (uint32_t)slot,
                    ctx->method_idx != UINT32_MAX
                        ? ctx->method_idx
                        : mg_board_method_other(memguard_the_board),
                    reason);
}

void memguard_board_register(apr_pool_t *p)
{
    (void)p;
    /* MIDDLE: after the MPM has settled its limits (check_config), before
     * the sampler's post_config (APR_HOOK_LAST), which needs the board. */
    ap_hook_post_config(board_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(board_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_status(board_child_status, NULL, NULL, APR_HOOK_MIDDLE);
}

const char *memguard_verdict_detail(request_rec *r, uint64_t w)
{
    mg_board_t *b = memguard_board();
    mg_board_sys_t *rec = apr_palloc(r->pool, sizeof(*rec));
    mg_verdict_t v;
    char buf[256];

    if (b == NULL || mg_board_sys_read(b, rec, 8) != 0 ||
        rec->state != MG_BOARD_VERDICT_STATE(w)) {
        return apr_psprintf(
            r->pool, "low memory (%s)",
            mg_signal_name((mg_signal_t)MG_BOARD_VERDICT_SIGNAL(w)));
    }
    memguard_sys_verdict(rec, &v);
    mg_verdict_describe(&v, &rec->sample, buf, sizeof(buf));
    return apr_pstrdup(r->pool, buf);
}

int memguard_board_shedding(void)
{
    mg_board_t *b = memguard_board();
    mg_board_verdict_t w;

    if (b == NULL) {
        return 0;
    }
    w = mg_board_verdict_load(b);
    if (w == 0 || MG_BOARD_VERDICT_STATE(w) != MG_VERDICT_SHED ||
        mg_policy_stale(&memguard_headroom(ap_server_conf)->policy,
                        MG_BOARD_VERDICT_TIME_US(w), memguard_now_us(), NULL)) {
        return 0; /* stale: the fail mode's business (the gate) */
    }
    return mg_signal_filled((mg_signal_t)MG_BOARD_VERDICT_SIGNAL(w)) !=
                   MG_SIGNAL_NONE
               ? MEMGUARD_SHED_FORECAST
               : MEMGUARD_SHED_LEVEL;
}
