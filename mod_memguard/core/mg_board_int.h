/*
 * mg_board_int.h - the board's layout as its own files see it: the
 * structs behind the opaque mg_board_t, the region accessors and the
 * saturating atomics. Only mg_board.c (lifecycle, verdict word, system
 * record, slots, recycling), mg_board_method.c (method table, histograms)
 * and mg_board_admit.c (admission by memory cost, its queue, learned
 * costs, the last resort) include it; everyone else uses mg_board.h.
 *
 * Every shared field is a C11 atomic, and the board is shared between
 * processes, so the atomics must be lock-free: a lock-based fallback would
 * keep its lock in the process, not in the segment. The static assertions
 * below refuse to build where that is not so.
 */
#ifndef MG_BOARD_INT_H
#define MG_BOARD_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_board.h"

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");
_Static_assert(ATOMIC_SHORT_LOCK_FREE == 2, "16-bit atomics must be lock-free");

#define MG_ALIGN 64
#define MG_ROUND(x) (((x) + (MG_ALIGN - 1)) & ~(size_t)(MG_ALIGN - 1))

/* Method entry state, in the low two bits of the state word; the name's
 * hash sits in the upper 32 bits so that a prober can tell "someone is
 * claiming an entry for a different name" (skip it) from "for a name that
 * may be mine" (wait for it) without reading the name. */
#define MG_ENTRY_EMPTY 0u
#define MG_ENTRY_CLAIMING 1u
#define MG_ENTRY_READY 2u
#define MG_ENTRY_STATE(w) ((uint32_t)((w)&3u))
#define MG_ENTRY_HASH(w) ((uint32_t)((w) >> 32))

/* How long a prober waits for an entry being claimed under its own hash.
 * Claiming is a 64-byte copy; only a claimer killed in the middle makes
 * this run out, and then the caller gets "other". */
#define MG_CLAIM_SPINS 20000

/* A holding is a uint16: ThreadLimit cannot exceed 20000. */
#define MG_HOLD_MAX 65535u

/* The recycle flag while a writer fills in its numbers. */
#define MG_RECYCLE_SETTING UINT32_MAX

#define MG_SYS_WORDS ((sizeof(mg_board_sys_t) + 7) / 8)

struct mg_board {
    uint64_t magic; /* written last by init */
    uint32_t layout_version;
    uint32_t nslots;
    uint32_t nmethods; /* named entries; "other" is entry nmethods */
    uint32_t pad0;
    uint64_t total_size;
    /* region offsets from the base and element sizes: checked by attach,
     * so that a build whose structs differ (e.g. more refusal reasons)
     * does not adopt a board laid out by another */
    uint64_t off_sys;
    uint64_t off_slots;
    uint64_t off_holdings;
    uint64_t off_resholds;
    uint64_t off_queue;
    uint64_t off_methods;
    uint32_t sizeof_sys;
    uint32_t sizeof_slot;
    uint32_t sizeof_method;
    uint32_t nreasons;
    _Atomic uint32_t generation;
    _Atomic uint32_t sampler_starts;
    _Atomic uint32_t sampler_replaced;
    /* children: the staleness episode already logged (mg_board_stale_log_claim)
     */
    _Atomic uint32_t stale_logged;
    /* the sampler's measurement thread (mg_board_proc_times_set) */
    _Atomic uint64_t proc_pass_us;
    _Atomic uint64_t proc_smaps_us;
    /* written every sample, read on every request: own cache line */
    _Alignas(MG_ALIGN) _Atomic uint64_t verdict;
    _Alignas(MG_ALIGN) _Atomic uint64_t recycle_tat; /* GCRA, µs */
    _Atomic uint64_t recycles_requested;
    _Atomic uint64_t recycles_done;
    /* admission: the budget, written every sample, read by every
     * admission; the reservations, written by every admission */
    _Alignas(MG_ALIGN) _Atomic int64_t admit_budget;
    _Atomic uint64_t admit_budget_us;
    _Alignas(MG_ALIGN) _Atomic int64_t admit_reserved;
    _Alignas(MG_ALIGN) _Atomic uint64_t admit_counters[MG_ADMIT__COUNT];
};

/* One waiter of the admission queue. */
typedef struct {
    _Alignas(MG_ALIGN) _Atomic uint32_t state; /* mg_board_queue_state_t */
    uint32_t pad;
    _Atomic uint64_t arrival_us;
    _Atomic uint64_t beat_us;
    _Atomic int64_t cost;
} mg_board_qentry_t;

#define MG_CLIENT_WORDS 6 /* 48 bytes of client address text */

/*
 * The system record is stored as relaxed atomic words rather than a plain
 * struct: a seqlock reader necessarily reads while the writer may be
 * writing, and with plain memory that is a data race (undefined in C11).
 * Relaxed atomic words plus the fences in publish/read make it defined.
 */
typedef struct {
    _Atomic uint32_t seq; /* odd while the sampler writes */
    uint32_t pad;
    _Atomic uint64_t words[MG_SYS_WORDS];
} mg_board_sysreg_t;

typedef struct {
    _Alignas(MG_ALIGN) _Atomic int32_t pid;
    _Atomic uint32_t generation;
    _Atomic uint64_t started_us;
    _Atomic uint64_t requests;
    _Atomic uint64_t rss;
    _Atomic uint64_t unshared; /* the one counter the SAMPLER writes */
    _Atomic uint64_t peak_rss;
    _Atomic int64_t last_delta;
    _Atomic uint32_t inflight; /* threaded MPMs: many per process */
    _Atomic uint32_t recycle;  /* 0, MG_RECYCLE_SETTING or a reason */
    _Atomic uint64_t recycle_value;
    _Atomic uint64_t recycle_limit;
    _Atomic uint64_t recycles_requested;
    _Atomic uint64_t recycles_done;
    _Atomic uint64_t rejections[MG_REASON__COUNT];
    /* reservations of the calls in flight (mg_board_admit_*) */
    _Atomic int64_t res_active;
    _Atomic int64_t res_ended;
    _Atomic uint32_t res_calls;
    _Atomic uint32_t res_method;
    _Atomic uint64_t res_base;
    _Atomic uint64_t res_grown; /* the sampler */
    _Atomic uint64_t res_peak;  /* the sampler */
    _Atomic uint64_t res_ceiling;
    _Atomic uint64_t res_client[MG_CLIENT_WORDS];
    /* the request being served (mg_board_request_begin/_method) */
    _Atomic uint32_t cur_method;
    _Atomic uint64_t cur_base;
    _Atomic uint64_t cur_peak;   /* the sampler */
    _Atomic uint32_t lastresort; /* the sampler set it, the child takes it */
} mg_board_slot_t;

typedef struct {
    _Alignas(MG_ALIGN) _Atomic uint64_t state; /* MG_ENTRY_*, hash << 32 */
    char name[MG_BOARD_METHOD_NAME_MAX + 1];   /* set before READY */
    _Atomic uint32_t inflight;
    _Atomic uint64_t calls;
    _Atomic uint64_t bytes_in;
    _Atomic uint64_t bytes_out;
    _Atomic uint64_t delta_count;
    _Atomic uint64_t delta_sum;
    _Atomic uint64_t delta_max;
    _Atomic uint64_t rejections[MG_REASON__COUNT];
    _Atomic uint64_t hist[MG_BOARD_HIST_BUCKETS];
    /* learned cost (mg_board_method_cost_*) */
    _Atomic uint64_t cost_hist[MG_BOARD_HIST_BUCKETS]; /* x COST_ONE */
    _Atomic uint64_t cost_measured;
    _Atomic uint64_t cost_live;
    _Atomic uint64_t cost_live_us; /* when a look last saw it */
    _Atomic uint64_t cost_learned;
    _Atomic uint32_t res_inflight;
} mg_board_method_t;

static inline mg_board_sysreg_t *mg_board_sysreg(const mg_board_t *b)
{
    return (mg_board_sysreg_t *)((char *)(uintptr_t)b + b->off_sys);
}

static inline mg_board_slot_t *mg_board_slot(const mg_board_t *b, uint32_t slot)
{
    if (slot >= b->nslots) {
        return NULL;
    }
    return (mg_board_slot_t *)((char *)(uintptr_t)b + b->off_slots) + slot;
}

static inline mg_board_method_t *mg_board_method(const mg_board_t *b,
                                                 uint32_t m)
{
    if (m > b->nmethods) {
        return NULL;
    }
    return (mg_board_method_t *)((char *)(uintptr_t)b + b->off_methods) + m;
}

static inline _Atomic uint16_t *mg_board_hold(const mg_board_t *b,
                                              uint32_t slot, uint32_t m)
{
    if (slot >= b->nslots || m > b->nmethods) {
        return NULL;
    }
    return (_Atomic uint16_t *)((char *)(uintptr_t)b + b->off_holdings) +
           (size_t)slot * (b->nmethods + 1) + m;
}

static inline _Atomic uint16_t *mg_board_reshold(const mg_board_t *b,
                                                 uint32_t slot, uint32_t m)
{
    if (slot >= b->nslots || m > b->nmethods) {
        return NULL;
    }
    return (_Atomic uint16_t *)((char *)(uintptr_t)b + b->off_resholds) +
           (size_t)slot * (b->nmethods + 1) + m;
}

static inline mg_board_qentry_t *mg_board_qentry(const mg_board_t *b, int e)
{
    if (e < 0 || e >= MG_BOARD_QUEUE) {
        return NULL;
    }
    return (mg_board_qentry_t *)((char *)(uintptr_t)b + b->off_queue) + e;
}

/* ---- saturating helpers -------------------------------------------------- */

/* Subtract n from *p, stopping at zero (see mg_board_method_acquire). */
static inline void mg_sub_floor32(_Atomic uint32_t *p, uint32_t n)
{
    uint32_t cur = atomic_load_explicit(p, memory_order_relaxed);
    uint32_t want;

    do {
        want = cur > n ? cur - n : 0;
    } while (!atomic_compare_exchange_weak_explicit(
        p, &cur, want, memory_order_acq_rel, memory_order_relaxed));
}

static inline void mg_sub_floor16(_Atomic uint16_t *p)
{
    uint16_t cur = atomic_load_explicit(p, memory_order_relaxed);

    while (cur > 0 && !atomic_compare_exchange_weak_explicit(
                          p, &cur, (uint16_t)(cur - 1), memory_order_acq_rel,
                          memory_order_relaxed)) {
    }
}

static inline void mg_max64(_Atomic uint64_t *p, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(p, memory_order_relaxed);

    while (v > cur &&
           !atomic_compare_exchange_weak_explicit(
               p, &cur, v, memory_order_relaxed, memory_order_relaxed)) {
    }
}

#define MG_LOAD(p) atomic_load_explicit((p), memory_order_relaxed)
#define MG_STORE(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define MG_INC(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)

#endif /* MG_BOARD_INT_H */
