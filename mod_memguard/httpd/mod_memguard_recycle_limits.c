/*
 * mod_memguard_recycle_limits.c - what both sides of recycling share
 * (the child side in mod_memguard_recycle.c, the sampler side in
 * mod_memguard_recycle_sampler.c): this process's settings, the jittered
 * limits, the server-wide budget, whether the MPM lets a child recycle
 * itself, and the directive names for log lines.
 */
#include <unistd.h>

#include "ap_mpm.h"

#include "mod_memguard_board.h"
#include "mod_memguard_config.h"
#include "mod_memguard_recycle_limits.h"
#include "mg_board.h"
#include "mg_policy.h"

memguard_recycle_settings memguard_recycle_set;

int memguard_recycle_configured(const memguard_recycle_settings *st)
{
    return st->soft_limit > 0 || st->hard_limit > 0;
}

int memguard_recycle_mpm_can_signal(void)
{
    int threaded = 0, forked = 0;

    if (ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) != APR_SUCCESS ||
        ap_mpm_query(AP_MPMQ_IS_FORKED, &forked) != APR_SUCCESS) {
        return 0;
    }
    return threaded == AP_MPMQ_NOT_SUPPORTED && forked != 0;
}

static uint64_t recycle_clock(void *arg)
{
    (void)arg;
    return memguard_now_us();
}

/* One token from the server-wide budget; 1: got it. */
int memguard_recycle_take(mg_board_t *b)
{
    return mg_board_recycle_take_clock(b, recycle_clock, NULL,
                                       memguard_recycle_set.max_per_minute);
}

/* This child's own jittered limits (memguard_recycle_set's, for its pid),
 * worked out once in child_init: a request compares, it does not hash. */
static apr_uint32_t recycle_own_pid;
static apr_uint64_t recycle_own_hard, recycle_own_soft;

void memguard_recycle_limits_init(int child)
{
    memguard_recycle_settings_get(&memguard_recycle_set);
    if (!child) {
        return;
    }
    /* getpid(), not memguard_pid(): child_init hooks of one rank run in
     * no set order, and board_child_init may not have run yet */
    recycle_own_pid = (apr_uint32_t)getpid();
    recycle_own_hard =
        memguard_recycle_set.hard_limit > 0
            ? mg_policy_jittered_limit(memguard_recycle_set.hard_limit,
                                       memguard_recycle_set.jitter_bp,
                                       recycle_own_pid)
            : 0;
    recycle_own_soft =
        memguard_recycle_set.soft_limit > 0
            ? mg_policy_jittered_limit(memguard_recycle_set.soft_limit,
                                       memguard_recycle_set.jitter_bp,
                                       recycle_own_pid)
            : 0;
}

int memguard_recycle_over(const memguard_recycle_settings *st,
                          apr_uint64_t size, apr_uint32_t pid,
                          apr_uint64_t *limit, int *hard)
{
    apr_uint64_t lim;

    *hard = 0;
    if (size == 0) {
        return 0;
    }
    if (st->hard_limit > 0) {
        lim =
            st == &memguard_recycle_set && pid == recycle_own_pid
                ? recycle_own_hard
                : mg_policy_jittered_limit(st->hard_limit, st->jitter_bp, pid);
        if (size > lim) {
            *limit = lim;
            *hard = 1;
            return 1;
        }
    }
    if (st->soft_limit > 0) {
        lim =
            st == &memguard_recycle_set && pid == recycle_own_pid
                ? recycle_own_soft
                : mg_policy_jittered_limit(st->soft_limit, st->jitter_bp, pid);
        if (size > lim) {
            *limit = lim;
            return 1;
        }
    }
    return 0;
}

/* The limit directive's name, for log lines. */
const char *memguard_recycle_limit_name(uint32_t reason, int hard)
{
    switch (reason) {
    case MG_RECYCLE_RSS:
    case MG_RECYCLE_UNSHARED:
        return hard ? "MemGuardChildHardLimit" : "MemGuardChildSoftLimit";
    case MG_RECYCLE_HEADROOM:
        return "MemGuardRecycleOnPressure";
    case MG_RECYCLE_RESPONSE:
        return "MemGuardMaxResponse";
    case MG_RECYCLE_NICE:
        return "MemGuardMethod nice=";
    case MG_RECYCLE_CEILING:
        return "MemGuardCallCeiling";
    default:
        return "?";
    }
}
