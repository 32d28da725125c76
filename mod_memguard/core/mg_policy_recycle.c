/*
 * mg_policy_recycle.c - the recycling arithmetic: reason names, jittered
 * limits, which child to recycle (see mg_policy.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mg_policy.h"

/* ---- recycling ----------------------------------------------------------- */

const char *mg_recycle_reason_name(uint32_t r)
{
    static const char *const names[MG_RECYCLE__COUNT] = {
        "none", "rss", "unshared", "headroom", "response", "nice", "ceiling"};

    return r < MG_RECYCLE__COUNT ? names[r] : "?";
}

/* splitmix64's finaliser: consecutive pids land far apart. */
static uint64_t mg_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t mg_policy_jittered_limit(uint64_t limit, uint32_t jitter_bp,
                                  uint32_t pid)
{
    uint64_t span, off, d;

    if (jitter_bp > 10000) {
        jitter_bp = 10000;
    }
    if (limit == 0 || jitter_bp == 0) {
        return limit;
    }
    span = 2 * (uint64_t)jitter_bp + 1;
    off = mg_mix(pid) % span; /* 0 .. 2j: j is "no change" */
    if (off >= jitter_bp) {
        d = mg_policy_scale_bp(limit, (uint32_t)(off - jitter_bp));
        return limit > UINT64_MAX - d ? UINT64_MAX : limit + d;
    }
    d = mg_policy_scale_bp(limit, (uint32_t)(jitter_bp - off));
    return limit - d;
}

uint32_t mg_policy_recycle_check(uint64_t rss, uint64_t max_rss,
                                 uint64_t unshared, uint64_t max_unshared,
                                 uint32_t jitter_bp, uint32_t pid,
                                 uint64_t *value, uint64_t *limit)
{
    uint64_t lim;

    if (max_rss != 0) {
        lim = mg_policy_jittered_limit(max_rss, jitter_bp, pid);
        if (rss > lim) {
            if (value) {
                *value = rss;
            }
            if (limit) {
                *limit = lim;
            }
            return MG_RECYCLE_RSS;
        }
    }
    if (max_unshared != 0) {
        lim = mg_policy_jittered_limit(max_unshared, jitter_bp, pid);
        if (unshared > lim) {
            if (value) {
                *value = unshared;
            }
            if (limit) {
                *limit = lim;
            }
            return MG_RECYCLE_UNSHARED;
        }
    }
    return MG_RECYCLE_NONE;
}

uint32_t mg_policy_pick_largest(const uint64_t *sizes, uint32_t n, uint32_t k,
                                uint32_t *out_idx)
{
    uint32_t got = 0, i, best;
    uint64_t pv = 0;
    uint32_t pi = 0;

    if (sizes == NULL || out_idx == NULL) {
        return 0;
    }
    /* k passes over the array, each taking the largest element that comes
     * after the previous pick in (size descending, index ascending) order:
     * O(n * k) with k small, no allocation, no mutation. */
    while (got < k) {
        best = UINT32_MAX;
        for (i = 0; i < n; i++) {
            if (sizes[i] == 0) {
                continue;
            }
            if (got > 0 && !(sizes[i] < pv || (sizes[i] == pv && i > pi))) {
                continue;
            }
            if (best == UINT32_MAX || sizes[i] > sizes[best]) {
                best = i;
            }
        }
        if (best == UINT32_MAX) {
            break;
        }
        out_idx[got++] = best;
        pv = sizes[best];
        pi = best;
    }
    return got;
}

uint32_t mg_policy_headroom_victims(mg_verdict_state_t state,
                                    uint32_t max_per_pass)
{
    switch (state) {
    case MG_VERDICT_SHED:
        return max_per_pass;
    case MG_VERDICT_THROTTLE:
        return max_per_pass > 0 ? 1 : 0;
    default:
        return 0;
    }
}
