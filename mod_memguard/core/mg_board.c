/*
 * mg_board.c - see mg_board.h for the layout and who writes what.
 *
 * Every shared field is a C11 atomic, and the board is shared between
 * processes, so the atomics must be lock-free: a lock-based fallback would
 * keep its lock in the process, not in the segment. The static assertions
 * below refuse to build where that is not so.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

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

typedef struct {
    size_t sys;
    size_t slots;
    size_t holdings;
    size_t resholds;
    size_t queue;
    size_t methods;
    size_t total;
} mg_board_layout_t;

static int mg_board_layout(uint32_t nslots, uint32_t nmethods,
                           mg_board_layout_t *l)
{
    if (nslots == 0 || nmethods == 0 || nslots > MG_BOARD_MAX_SLOTS ||
        nmethods > MG_BOARD_MAX_METHODS) {
        return -EINVAL;
    }
    l->sys = MG_ROUND(sizeof(struct mg_board));
    l->slots = l->sys + MG_ROUND(sizeof(mg_board_sysreg_t));
    l->holdings = l->slots + MG_ROUND((size_t)nslots * sizeof(mg_board_slot_t));
    l->resholds = l->holdings + MG_ROUND((size_t)nslots * (nmethods + 1) *
                                         sizeof(_Atomic uint16_t));
    l->queue = l->resholds + MG_ROUND((size_t)nslots * (nmethods + 1) *
                                      sizeof(_Atomic uint16_t));
    l->methods =
        l->queue + MG_ROUND(MG_BOARD_QUEUE * sizeof(mg_board_qentry_t));
    l->total = l->methods +
               MG_ROUND((size_t)(nmethods + 1) * sizeof(mg_board_method_t));
    return 0;
}

static mg_board_sysreg_t *mg_board_sysreg(const mg_board_t *b)
{
    return (mg_board_sysreg_t *)((char *)(uintptr_t)b + b->off_sys);
}

static mg_board_slot_t *mg_board_slot(const mg_board_t *b, uint32_t slot)
{
    if (slot >= b->nslots) {
        return NULL;
    }
    return (mg_board_slot_t *)((char *)(uintptr_t)b + b->off_slots) + slot;
}

static mg_board_method_t *mg_board_method(const mg_board_t *b, uint32_t m)
{
    if (m > b->nmethods) {
        return NULL;
    }
    return (mg_board_method_t *)((char *)(uintptr_t)b + b->off_methods) + m;
}

static _Atomic uint16_t *mg_board_hold(const mg_board_t *b, uint32_t slot,
                                       uint32_t m)
{
    if (slot >= b->nslots || m > b->nmethods) {
        return NULL;
    }
    return (_Atomic uint16_t *)((char *)(uintptr_t)b + b->off_holdings) +
           (size_t)slot * (b->nmethods + 1) + m;
}

static _Atomic uint16_t *mg_board_reshold(const mg_board_t *b, uint32_t slot,
                                          uint32_t m)
{
    if (slot >= b->nslots || m > b->nmethods) {
        return NULL;
    }
    return (_Atomic uint16_t *)((char *)(uintptr_t)b + b->off_resholds) +
           (size_t)slot * (b->nmethods + 1) + m;
}

static mg_board_qentry_t *mg_board_qentry(const mg_board_t *b, int e)
{
    if (e < 0 || e >= MG_BOARD_QUEUE) {
        return NULL;
    }
    return (mg_board_qentry_t *)((char *)(uintptr_t)b + b->off_queue) + e;
}

/* ---- lifecycle ----------------------------------------------------------- */

size_t mg_board_size(uint32_t nslots, uint32_t nmethods)
{
    mg_board_layout_t l;

    if (mg_board_layout(nslots, nmethods, &l) != 0) {
        return 0;
    }
    return l.total;
}

int mg_board_init(void *base, size_t size, uint32_t nslots, uint32_t nmethods,
                  mg_board_t **out)
{
    mg_board_layout_t l;
    mg_board_t *b = base;
    mg_board_method_t *other;

    if (base == NULL || ((uintptr_t)base % MG_ALIGN) != 0 ||
        mg_board_layout(nslots, nmethods, &l) != 0) {
        return -EINVAL;
    }
    if (size < l.total) {
        return -ENOSPC;
    }
    /* Before any fork: nobody else looks at the memory yet, so plain
     * stores are fine, and all-zero bits are every atomic's zero value. */
    memset(base, 0, l.total);
    b->layout_version = MG_BOARD_LAYOUT_VERSION;
    b->nslots = nslots;
    b->nmethods = nmethods;
    b->total_size = l.total;
    b->off_sys = l.sys;
    b->off_slots = l.slots;
    b->off_holdings = l.holdings;
    b->off_resholds = l.resholds;
    b->off_queue = l.queue;
    b->off_methods = l.methods;
    b->sizeof_sys = (uint32_t)sizeof(mg_board_sys_t);
    b->sizeof_slot = (uint32_t)sizeof(mg_board_slot_t);
    b->sizeof_method = (uint32_t)sizeof(mg_board_method_t);
    b->nreasons = MG_REASON__COUNT;
    /* "other" is always ready and has the empty name, which no lookup can
     * produce (empty names are refused before hashing). */
    other = mg_board_method(b, nmethods);
    atomic_store_explicit(&other->state, MG_ENTRY_READY, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    b->magic = MG_BOARD_MAGIC;
    if (out) {
        *out = b;
    }
    return 0;
}

int mg_board_attach(void *base, size_t size, uint32_t nslots, uint32_t nmethods,
                    mg_board_t **out)
{
    mg_board_layout_t l;
    const mg_board_t *b = base;

    if (base == NULL || ((uintptr_t)base % MG_ALIGN) != 0) {
        return -EINVAL;
    }
    if (size < sizeof(struct mg_board)) {
        return -ENOSPC;
    }
    if (b->magic != MG_BOARD_MAGIC ||
        b->layout_version != MG_BOARD_LAYOUT_VERSION) {
        return -EPROTO;
    }
    if (mg_board_layout(nslots, nmethods, &l) != 0) {
        return -EINVAL;
    }
    if (size < l.total) {
        return -ENOSPC;
    }
    if (b->nslots != nslots || b->nmethods != nmethods ||
        b->total_size != l.total || b->off_sys != l.sys ||
        b->off_slots != l.slots || b->off_holdings != l.holdings ||
        b->off_resholds != l.resholds || b->off_queue != l.queue ||
        b->off_methods != l.methods ||
        b->sizeof_sys != sizeof(mg_board_sys_t) ||
        b->sizeof_slot != sizeof(mg_board_slot_t) ||
        b->sizeof_method != sizeof(mg_board_method_t) ||
        b->nreasons != MG_REASON__COUNT) {
        return -ESTALE;
    }
    if (out) {
        *out = (mg_board_t *)base;
    }
    return 0;
}

uint32_t mg_board_nslots(const mg_board_t *b)
{
    return b->nslots;
}

uint32_t mg_board_nmethods(const mg_board_t *b)
{
    return b->nmethods;
}

uint32_t mg_board_generation(const mg_board_t *b)
{
    return atomic_load_explicit(&((mg_board_t *)(uintptr_t)b)->generation,
                                memory_order_relaxed);
}

uint32_t mg_board_generation_bump(mg_board_t *b)
{
    return atomic_fetch_add_explicit(&b->generation, 1, memory_order_relaxed) +
           1;
}

uint32_t mg_board_sampler_starts_bump(mg_board_t *b)
{
    return atomic_fetch_add_explicit(&b->sampler_starts, 1,
                                     memory_order_relaxed) +
           1;
}

uint32_t mg_board_sampler_replaced_bump(mg_board_t *b)
{
    return atomic_fetch_add_explicit(&b->sampler_replaced, 1,
                                     memory_order_relaxed) +
           1;
}

uint32_t mg_board_sampler_replaced(const mg_board_t *b)
{
    return atomic_load_explicit(&((mg_board_t *)(uintptr_t)b)->sampler_replaced,
                                memory_order_relaxed);
}

int mg_board_stale_log_claim(mg_board_t *b, uint32_t mark)
{
    uint32_t old = atomic_load_explicit(&b->stale_logged, memory_order_relaxed);

    return old != mark && atomic_compare_exchange_strong_explicit(
                              &b->stale_logged, &old, mark,
                              memory_order_relaxed, memory_order_relaxed);
}

void mg_board_proc_times_set(mg_board_t *b, uint64_t pass_us, uint64_t smaps_us)
{
    if (pass_us != 0) {
        atomic_store_explicit(&b->proc_pass_us, pass_us, memory_order_relaxed);
    }
    if (smaps_us != 0) {
        atomic_store_explicit(&b->proc_smaps_us, smaps_us,
                              memory_order_relaxed);
    }
}

void mg_board_proc_times(const mg_board_t *b, uint64_t *pass_us,
                         uint64_t *smaps_us)
{
    mg_board_t *w = (mg_board_t *)(uintptr_t)b;

    if (pass_us) {
        *pass_us = atomic_load_explicit(&w->proc_pass_us, memory_order_relaxed);
    }
    if (smaps_us) {
        *smaps_us =
            atomic_load_explicit(&w->proc_smaps_us, memory_order_relaxed);
    }
}

uint32_t mg_board_sampler_starts(const mg_board_t *b)
{
    return atomic_load_explicit(&((mg_board_t *)(uintptr_t)b)->sampler_starts,
                                memory_order_relaxed);
}

/* ---- verdict word -------------------------------------------------------- */

mg_board_verdict_t mg_board_verdict_pack(uint32_t state, uint32_t signal,
                                         uint64_t sample_us)
{
    uint64_t ms = (sample_us / 1000) & ((1ULL << 48) - 1);

    return (ms << 16) | ((uint64_t)(signal & 0xffu) << 8) | (state & 0xffu);
}

mg_board_verdict_t mg_board_verdict_load(const mg_board_t *b)
{
    return atomic_load_explicit(&((mg_board_t *)(uintptr_t)b)->verdict,
                                memory_order_acquire);
}

/* ---- system record: the seqlock ------------------------------------------ */

void mg_board_sys_publish(mg_board_t *b, const mg_board_sys_t *rec)
{
    mg_board_sysreg_t *r = mg_board_sysreg(b);
    uint64_t words[MG_SYS_WORDS];
    uint32_t seq;
    size_t i;

    words[MG_SYS_WORDS - 1] = 0;
    memcpy(words, rec, sizeof(*rec));
    seq = atomic_load_explicit(&r->seq, memory_order_relaxed);
    /* An odd sequence here means the previous sampler was killed while
     * writing; stay odd and finish its write, else readers would see
     * "busy" for ever. */
    if ((seq & 1u) == 0) {
        seq++;
        atomic_store_explicit(&r->seq, seq, memory_order_relaxed);
    }
    /* Orders the odd sequence before every data store below: a reader
     * that sees any new word also sees the sequence change. */
    atomic_thread_fence(memory_order_release);
    for (i = 0; i < MG_SYS_WORDS; i++) {
        atomic_store_explicit(&r->words[i], words[i], memory_order_relaxed);
    }
    atomic_store_explicit(&r->seq, seq + 1, memory_order_release);
    atomic_store_explicit(
        &b->verdict,
        mg_board_verdict_pack(rec->state, rec->signal, rec->last_sample_us),
        memory_order_release);
}

int mg_board_sys_read(const mg_board_t *b, mg_board_sys_t *out,
                      unsigned max_tries)
{
    mg_board_sysreg_t *r = mg_board_sysreg(b);
    uint64_t words[MG_SYS_WORDS];
    uint32_t s1, s2;
    unsigned t;
    size_t i;

    if (max_tries == 0) {
        max_tries = 1;
    }
    for (t = 0; t < max_tries; t++) {
        s1 = atomic_load_explicit(&r->seq, memory_order_acquire);
        if (s1 & 1u) {
            continue;
        }
        for (i = 0; i < MG_SYS_WORDS; i++) {
            words[i] = atomic_load_explicit(&r->words[i], memory_order_relaxed);
        }
        /* Keeps the data loads above before the second sequence load. */
        atomic_thread_fence(memory_order_acquire);
        s2 = atomic_load_explicit(&r->seq, memory_order_relaxed);
        if (s1 == s2) {
            memcpy(out, words, sizeof(*out));
            return 0;
        }
    }
    return -EBUSY;
}

void mg_board_sys_add_transition(mg_board_sys_t *rec,
                                 const mg_board_transition_t *t)
{
    rec->history[rec->ntransitions % MG_BOARD_HISTORY] = *t;
    rec->ntransitions++;
}

const mg_board_transition_t *mg_board_sys_history_at(const mg_board_sys_t *rec,
                                                     uint32_t i)
{
    if (i >= MG_BOARD_HISTORY || i >= rec->ntransitions) {
        return NULL;
    }
    return &rec->history[(rec->ntransitions - 1 - i) % MG_BOARD_HISTORY];
}

/* ---- saturating helpers -------------------------------------------------- */

/* Subtract n from *p, stopping at zero (see mg_board_method_acquire). */
static void mg_sub_floor32(_Atomic uint32_t *p, uint32_t n)
{
    uint32_t cur = atomic_load_explicit(p, memory_order_relaxed);
    uint32_t want;

    do {
        want = cur > n ? cur - n : 0;
    } while (!atomic_compare_exchange_weak_explicit(
        p, &cur, want, memory_order_acq_rel, memory_order_relaxed));
}

static void mg_sub_floor16(_Atomic uint16_t *p)
{
    uint16_t cur = atomic_load_explicit(p, memory_order_relaxed);

    while (cur > 0 && !atomic_compare_exchange_weak_explicit(
                          p, &cur, (uint16_t)(cur - 1), memory_order_acq_rel,
                          memory_order_relaxed)) {
    }
}

static void mg_max64(_Atomic uint64_t *p, uint64_t v)
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

/* ---- child slots --------------------------------------------------------- */

static void mg_board_slot_zero(mg_board_slot_t *s)
{
    size_t i;

    MG_STORE(&s->generation, 0);
    MG_STORE(&s->started_us, 0);
    MG_STORE(&s->requests, 0);
    MG_STORE(&s->rss, 0);
    MG_STORE(&s->unshared, 0);
    MG_STORE(&s->peak_rss, 0);
    MG_STORE(&s->last_delta, 0);
    MG_STORE(&s->inflight, 0);
    MG_STORE(&s->recycle_value, 0);
    MG_STORE(&s->recycle_limit, 0);
    MG_STORE(&s->recycles_requested, 0);
    MG_STORE(&s->recycles_done, 0);
    for (i = 0; i < MG_REASON__COUNT; i++) {
        MG_STORE(&s->rejections[i], 0);
    }
    MG_STORE(&s->res_calls, 0);
    MG_STORE(&s->res_method, 0);
    MG_STORE(&s->res_base, 0);
    MG_STORE(&s->res_grown, 0);
    MG_STORE(&s->res_peak, 0);
    MG_STORE(&s->res_ceiling, 0);
    for (i = 0; i < MG_CLIENT_WORDS; i++) {
        MG_STORE(&s->res_client[i], 0);
    }
    MG_STORE(&s->cur_method, UINT32_MAX);
    MG_STORE(&s->cur_base, 0);
    MG_STORE(&s->cur_peak, 0);
    MG_STORE(&s->lastresort, 0);
    atomic_store_explicit(&s->recycle, 0, memory_order_release);
}

/* Give back everything slot still reserves (its process is gone, or a
 * new one takes the slot): the bytes, and each method's slow-start
 * count. Returns the bytes given back. */
static int64_t mg_board_res_giveback(mg_board_t *b, uint32_t slot)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);
    int64_t x;
    uint32_t m;

    x = atomic_exchange_explicit(&s->res_active, 0, memory_order_acq_rel) +
        atomic_exchange_explicit(&s->res_ended, 0, memory_order_acq_rel);
    if (x != 0) {
        atomic_fetch_sub_explicit(&b->admit_reserved, x, memory_order_acq_rel);
    }
    for (m = 0; m <= b->nmethods; m++) {
        _Atomic uint16_t *h = mg_board_reshold(b, slot, m);
        uint16_t n;

        if (atomic_load_explicit(h, memory_order_relaxed) == 0) {
            continue;
        }
        n = atomic_exchange_explicit(h, 0, memory_order_acq_rel);
        if (n > 0) {
            mg_sub_floor32(&mg_board_method(b, m)->res_inflight, n);
        }
    }
    return x;
}

int mg_board_slot_start(mg_board_t *b, uint32_t slot, int32_t pid,
                        uint64_t now_us)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);

    if (s == NULL || pid <= 0) {
        return -EINVAL;
    }
    /* a reset that was missed (a retained board) must not leave bytes
     * reserved for ever */
    (void)mg_board_res_giveback(b, slot);
    mg_board_slot_zero(s);
    MG_STORE(&s->generation, mg_board_generation(b));
    MG_STORE(&s->started_us, now_us);
    atomic_store_explicit(&s->pid, pid, memory_order_release);
    return 0;
}

int mg_board_slot_reset(mg_board_t *b, uint32_t slot)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);
    int given = 0;
    uint32_t m;

    if (s == NULL) {
        return -EINVAL;
    }
    /* pid first, so the sampler stops writing into the slot */
    atomic_store_explicit(&s->pid, 0, memory_order_release);
    for (m = 0; m <= b->nmethods; m++) {
        _Atomic uint16_t *h = mg_board_hold(b, slot, m);
        uint16_t n = atomic_exchange_explicit(h, 0, memory_order_acq_rel);

        if (n > 0) {
            mg_sub_floor32(&mg_board_method(b, m)->inflight, n);
            given += n;
        }
    }
    (void)mg_board_res_giveback(b, slot);
    mg_board_slot_zero(s);
    return given;
}

void mg_board_request_begin(mg_board_t *b, uint32_t slot, uint64_t rss)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);

    if (s) {
        MG_STORE(&s->cur_method, UINT32_MAX);
        MG_STORE(&s->cur_base, rss);
        MG_STORE(&s->cur_peak, 0);
        MG_INC(&s->inflight, 1);
    }
}

void mg_board_request_method(mg_board_t *b, uint32_t slot, uint32_t method)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);

    if (s) {
        MG_STORE(&s->cur_method, method);
    }
}

uint64_t mg_board_request_peak(const mg_board_t *b, uint32_t slot)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);

    return s ? MG_LOAD(&s->cur_peak) : 0;
}

int mg_board_observe(mg_board_t *b, uint32_t slot, int32_t pid, uint64_t rss,
                     uint32_t *method, uint64_t *grown)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);
    uint64_t base;
    uint32_t m;

    if (s == NULL ||
        atomic_load_explicit(&s->pid, memory_order_acquire) != pid) {
        return 0;
    }
    if (MG_LOAD(&s->res_calls) > 0) {
        base = MG_LOAD(&s->res_base);
        if (base > 0) {
            MG_STORE(&s->res_grown, rss > base ? rss - base : 0);
            mg_max64(&s->res_peak, rss > base ? rss - base : 0);
        }
    }
    base = MG_LOAD(&s->cur_base);
    if (MG_LOAD(&s->inflight) != 1 || base == 0) {
        return 0;
    }
    mg_max64(&s->cur_peak, rss > base ? rss - base : 0);
    m = MG_LOAD(&s->cur_method);
    if (m == UINT32_MAX) {
        return 0;
    }
    *method = m;
    *grown = rss > base ? rss - base : 0;
    return 1;
}

void mg_board_request_end(mg_board_t *b, uint32_t slot, uint64_t rss,
                          int64_t delta)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);

    if (s == NULL) {
        return;
    }
    mg_sub_floor32(&s->inflight, 1);
    MG_INC(&s->requests, 1);
    MG_STORE(&s->rss, rss);
    MG_STORE(&s->last_delta, delta);
    mg_max64(&s->peak_rss, rss);
}

void mg_board_reject(mg_board_t *b, uint32_t slot, uint32_t method,
                     mg_reason_t reason)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);
    mg_board_method_t *m = mg_board_method(b, method);

    if ((unsigned)reason >= MG_REASON__COUNT) {
        return;
    }
    if (s) {
        MG_INC(&s->rejections[reason], 1);
    }
    if (m) {
        MG_INC(&m->rejections[reason], 1);
    }
}

int mg_board_slot_set_unshared(mg_board_t *b, uint32_t slot, int32_t pid,
                               uint64_t bytes)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);

    if (s == NULL || pid <= 0) {
        return -EINVAL;
    }
    if (atomic_load_explicit(&s->pid, memory_order_acquire) != pid) {
        return -ESRCH;
    }
    MG_STORE(&s->unshared, bytes);
    /* The child may have been replaced between the check and the store;
     * the new one must not inherit the old figure. */
    if (atomic_load_explicit(&s->pid, memory_order_acquire) != pid) {
        MG_STORE(&s->unshared, 0);
        return -ESRCH;
    }
    return 0;
}

int mg_board_slot_recycle_request(mg_board_t *b, uint32_t slot, int32_t pid,
                                  uint32_t reason, uint64_t value,
                                  uint64_t limit)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);
    uint32_t cur = 0;
    uint32_t setting = MG_RECYCLE_SETTING;

    if (s == NULL || pid <= 0 || reason == 0 || reason == MG_RECYCLE_SETTING) {
        return -EINVAL;
    }
    if (atomic_load_explicit(&s->pid, memory_order_acquire) != pid) {
        return -ESRCH;
    }
    /* Claim the flag first, then fill in the numbers, then publish the
     * reason: the child and the sampler may both try, and the numbers
     * shown must be those of the one that won. */
    if (!atomic_compare_exchange_strong_explicit(
            &s->recycle, &cur, MG_RECYCLE_SETTING, memory_order_acq_rel,
            memory_order_acquire)) {
        return -EALREADY;
    }
    if (atomic_load_explicit(&s->pid, memory_order_acquire) != pid) {
        atomic_store_explicit(&s->recycle, 0, memory_order_release);
        return -ESRCH;
    }
    MG_STORE(&s->recycle_value, value);
    MG_STORE(&s->recycle_limit, limit);
    /* A CAS, not a store: if a new child took the slot meanwhile,
     * mg_board_slot_start() has cleared the flag and this must fail. */
    if (!atomic_compare_exchange_strong_explicit(&s->recycle, &setting, reason,
                                                 memory_order_acq_rel,
                                                 memory_order_relaxed)) {
        return -ESRCH;
    }
    MG_INC(&s->recycles_requested, 1);
    MG_INC(&b->recycles_requested, 1);
    return 0;
}

uint32_t mg_board_slot_recycle_get(const mg_board_t *b, uint32_t slot,
                                   uint64_t *value, uint64_t *limit)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);
    uint32_t r;

    if (s == NULL) {
        return 0;
    }
    r = atomic_load_explicit(&s->recycle, memory_order_acquire);
    if (r == 0 || r == MG_RECYCLE_SETTING) {
        return 0;
    }
    if (value) {
        *value = MG_LOAD(&s->recycle_value);
    }
    if (limit) {
        *limit = MG_LOAD(&s->recycle_limit);
    }
    return r;
}

void mg_board_slot_recycle_done(mg_board_t *b, uint32_t slot)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);

    if (s) {
        MG_INC(&s->recycles_done, 1);
        MG_INC(&b->recycles_done, 1);
    }
}

int mg_board_slot_snapshot(const mg_board_t *b, uint32_t slot,
                           mg_board_slot_info_t *out)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);
    size_t i;

    if (s == NULL || out == NULL) {
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    out->pid = atomic_load_explicit(&s->pid, memory_order_acquire);
    out->generation = MG_LOAD(&s->generation);
    out->started_us = MG_LOAD(&s->started_us);
    out->requests = MG_LOAD(&s->requests);
    out->rss = MG_LOAD(&s->rss);
    out->unshared = MG_LOAD(&s->unshared);
    out->peak_rss = MG_LOAD(&s->peak_rss);
    out->last_delta = MG_LOAD(&s->last_delta);
    out->inflight = MG_LOAD(&s->inflight);
    out->recycle_reason = mg_board_slot_recycle_get(
        b, slot, &out->recycle_value, &out->recycle_limit);
    out->recycles_requested = MG_LOAD(&s->recycles_requested);
    out->recycles_done = MG_LOAD(&s->recycles_done);
    for (i = 0; i < MG_REASON__COUNT; i++) {
        out->rejections[i] = MG_LOAD(&s->rejections[i]);
    }
    return 0;
}

uint64_t mg_board_slot_unshared(const mg_board_t *b, uint32_t slot)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);

    return s != NULL ? MG_LOAD(&s->unshared) : 0;
}

void mg_board_recycle_totals(const mg_board_t *b, uint64_t *requested,
                             uint64_t *done)
{
    mg_board_t *w = (mg_board_t *)(uintptr_t)b;

    if (requested) {
        *requested = MG_LOAD(&w->recycles_requested);
    }
    if (done) {
        *done = MG_LOAD(&w->recycles_done);
    }
}

int mg_board_recycle_take_clock(mg_board_t *b, mg_clock_us_fn clock, void *arg,
                                uint32_t max_per_minute)
{
    const uint64_t minute = 60000000ULL;
    uint64_t t, tau, tat, start, now_us;

    if (max_per_minute == 0) {
        return 0;
    }
    /* GCRA: each token moves the "theoretical arrival time" T forward;
     * a take is allowed while that time is at most tau ahead of now,
     * which allows a burst of max_per_minute and then one per T. */
    t = minute / max_per_minute;
    if (t == 0) {
        t = 1;
    }
    tau = minute - t;
    tat = atomic_load_explicit(&b->recycle_tat, memory_order_acquire);
    for (;;) {
        /* The clock is read after the bucket, on every attempt: a time
         * read before another process's take would be older than the one
         * that take used, and the last token of a burst would look
         * spent by the difference. */
        now_us = clock(arg);
        start = tat > now_us ? tat : now_us;
        if (start - now_us > tau) {
            return 0;
        }
        if (atomic_compare_exchange_weak_explicit(
                &b->recycle_tat, &tat, start + t, memory_order_acq_rel,
                memory_order_acquire)) {
            return 1;
        }
    }
}

static uint64_t mg_board_fixed_clock(void *arg)
{
    return *(const uint64_t *)arg;
}

int mg_board_recycle_take(mg_board_t *b, uint64_t now_us,
                          uint32_t max_per_minute)
{
    return mg_board_recycle_take_clock(b, mg_board_fixed_clock, &now_us,
                                       max_per_minute);
}

/* ---- method table -------------------------------------------------------- */

uint32_t mg_board_method_other(const mg_board_t *b)
{
    return b->nmethods;
}

/* FNV-1a: short keys, and a client choosing colliding names only costs
 * itself probes within a table of a fixed size. */
static uint32_t mg_board_hash(const char *name, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 16777619u;
    }
    return h;
}

/* The key length for name, or 0 if the name is not storable. */
static size_t mg_board_key_len(const char *name, size_t len)
{
    size_t i;

    if (name == NULL || len == 0) {
        return 0;
    }
    if (len > MG_BOARD_METHOD_NAME_MAX) {
        len = MG_BOARD_METHOD_NAME_MAX;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];

        if (c < 0x21 || c > 0x7e) {
            return 0;
        }
    }
    return len;
}

static bool mg_board_name_eq(const mg_board_method_t *e, const char *key,
                             size_t klen)
{
    return memcmp(e->name, key, klen) == 0 && e->name[klen] == '\0';
}

/* Wait while entry e is being claimed; returns its state word after. */
static uint64_t mg_board_wait_claim(mg_board_method_t *e, uint64_t w)
{
    int i;

    for (i = 0; i < MG_CLAIM_SPINS && MG_ENTRY_STATE(w) == MG_ENTRY_CLAIMING;
         i++) {
        if (i >= 64) {
            sched_yield();
        }
        w = atomic_load_explicit(&e->state, memory_order_acquire);
    }
    return w;
}

/*
 * Open addressing over the named entries, linear probing from the hash.
 * Entries only ever go EMPTY -> CLAIMING -> READY, so every prober of a
 * name meets the same first EMPTY entry and only one can win its CAS: no
 * name is ever stored twice.
 */
static int mg_board_lookup(mg_board_t *b, const char *name, size_t len,
                           bool claim)
{
    size_t klen = mg_board_key_len(name, len);
    uint32_t h, n = b->nmethods, k, i;
    uint64_t want;

    if (klen == 0) {
        return claim ? (int)n : -ENOENT;
    }
    h = mg_board_hash(name, klen);
    for (k = 0; k < n; k++) {
        mg_board_method_t *e;
        uint64_t w;

        i = (uint32_t)((h + (uint64_t)k) % n);
        e = mg_board_method(b, i);
        w = atomic_load_explicit(&e->state, memory_order_acquire);
        for (;;) {
            if (MG_ENTRY_STATE(w) == MG_ENTRY_EMPTY) {
                if (!claim) {
                    return -ENOENT;
                }
                want = ((uint64_t)h << 32) | MG_ENTRY_CLAIMING;
                if (atomic_compare_exchange_strong_explicit(
                        &e->state, &w, want, memory_order_acq_rel,
                        memory_order_acquire)) {
                    memcpy(e->name, name, klen);
                    e->name[klen] = '\0';
                    atomic_store_explicit(&e->state,
                                          ((uint64_t)h << 32) | MG_ENTRY_READY,
                                          memory_order_release);
                    return (int)i;
                }
                continue; /* lost the race: look at what won */
            }
            if (MG_ENTRY_HASH(w) != h) {
                break; /* another name, claimed or being claimed */
            }
            if (MG_ENTRY_STATE(w) == MG_ENTRY_CLAIMING) {
                w = mg_board_wait_claim(e, w);
                if (MG_ENTRY_STATE(w) == MG_ENTRY_CLAIMING) {
                    /* its claimer died half-way: this may be our name,
                     * so claiming further on could store it twice */
                    return claim ? (int)n : -ENOENT;
                }
                continue;
            }
            if (mg_board_name_eq(e, name, klen)) {
                return (int)i;
            }
            break;
        }
    }
    return claim ? (int)n : -ENOENT;
}

uint32_t mg_board_method_get(mg_board_t *b, const char *name, size_t len)
{
    return (uint32_t)mg_board_lookup(b, name, len, true);
}

int mg_board_method_find(const mg_board_t *b, const char *name, size_t len)
{
    return mg_board_lookup((mg_board_t *)(uintptr_t)b, name, len, false);
}

void mg_board_method_record(mg_board_t *b, uint32_t method, uint64_t bytes_in,
                            uint64_t bytes_out, int64_t delta)
{
    mg_board_method_t *m = mg_board_method(b, method);
    uint64_t d = delta > 0 ? (uint64_t)delta : 0;

    if (m == NULL) {
        return;
    }
    MG_INC(&m->calls, 1);
    MG_INC(&m->bytes_in, bytes_in);
    MG_INC(&m->bytes_out, bytes_out);
    MG_INC(&m->delta_count, 1);
    MG_INC(&m->delta_sum, d);
    mg_max64(&m->delta_max, d);
    MG_INC(&m->hist[mg_board_hist_bucket(delta)], 1);
}

void mg_board_method_count(mg_board_t *b, uint32_t method, uint64_t n)
{
    mg_board_method_t *m = mg_board_method(b, method);

    if (m != NULL) {
        MG_INC(&m->calls, n);
    }
}

int mg_board_method_acquire(mg_board_t *b, uint32_t slot, uint32_t method,
                            uint32_t limit)
{
    _Atomic uint16_t *hold = mg_board_hold(b, slot, method);
    mg_board_method_t *m = mg_board_method(b, method);
    uint16_t h;
    uint32_t cur;

    if (hold == NULL || m == NULL) {
        return -EINVAL;
    }
    h = atomic_load_explicit(hold, memory_order_relaxed);
    do {
        if (h >= MG_HOLD_MAX) {
            return -EOVERFLOW;
        }
    } while (!atomic_compare_exchange_weak_explicit(hold, &h, (uint16_t)(h + 1),
                                                    memory_order_acq_rel,
                                                    memory_order_relaxed));
    cur = atomic_load_explicit(&m->inflight, memory_order_relaxed);
    do {
        if (limit != 0 && cur >= limit) {
            mg_sub_floor16(hold);
            return -EBUSY;
        }
    } while (!atomic_compare_exchange_weak_explicit(&m->inflight, &cur, cur + 1,
                                                    memory_order_acq_rel,
                                                    memory_order_relaxed));
    return 0;
}

void mg_board_method_release(mg_board_t *b, uint32_t slot, uint32_t method)
{
    _Atomic uint16_t *hold = mg_board_hold(b, slot, method);
    mg_board_method_t *m = mg_board_method(b, method);

    if (hold == NULL || m == NULL) {
        return;
    }
    /* A release without a holding is a caller bug; ignoring it keeps one
     * bug from pushing the server-wide count below the truth. */
    if (atomic_load_explicit(hold, memory_order_relaxed) == 0) {
        return;
    }
    mg_sub_floor32(&m->inflight, 1);
    mg_sub_floor16(hold);
}

uint32_t mg_board_method_inflight(const mg_board_t *b, uint32_t method)
{
    mg_board_method_t *m = mg_board_method(b, method);

    return m ? MG_LOAD(&m->inflight) : 0;
}

uint32_t mg_board_slot_holding(const mg_board_t *b, uint32_t slot,
                               uint32_t method)
{
    _Atomic uint16_t *hold = mg_board_hold(b, slot, method);

    return hold ? MG_LOAD(hold) : 0;
}

int mg_board_method_snapshot(const mg_board_t *b, uint32_t method,
                             mg_board_method_info_t *out)
{
    mg_board_method_t *m = mg_board_method(b, method);
    uint64_t w;
    size_t i;

    if (m == NULL || out == NULL) {
        return -EINVAL;
    }
    w = atomic_load_explicit(&m->state, memory_order_acquire);
    if (MG_ENTRY_STATE(w) != MG_ENTRY_READY) {
        return -ENOENT;
    }
    memset(out, 0, sizeof(*out));
    memcpy(out->name, m->name, sizeof(out->name));
    out->name[MG_BOARD_METHOD_NAME_MAX] = '\0';
    out->calls = MG_LOAD(&m->calls);
    out->bytes_in = MG_LOAD(&m->bytes_in);
    out->bytes_out = MG_LOAD(&m->bytes_out);
    out->delta_count = MG_LOAD(&m->delta_count);
    out->delta_sum = MG_LOAD(&m->delta_sum);
    out->delta_max = MG_LOAD(&m->delta_max);
    out->inflight = MG_LOAD(&m->inflight);
    for (i = 0; i < MG_REASON__COUNT; i++) {
        out->rejections[i] = MG_LOAD(&m->rejections[i]);
    }
    for (i = 0; i < MG_BOARD_HIST_BUCKETS; i++) {
        out->hist[i] = MG_LOAD(&m->hist[i]);
    }
    out->delta_p95 = mg_board_hist_quantile(out->hist, 950, out->delta_max);
    return 0;
}

/* ---- histogram ----------------------------------------------------------- */

uint32_t mg_board_hist_bucket(int64_t delta)
{
    uint64_t v;
    uint32_t k;

    if (delta < (1LL << MG_BOARD_HIST_MIN_SHIFT)) {
        return 0;
    }
    v = (uint64_t)delta;
    if (v >= (1ULL << MG_BOARD_HIST_MAX_SHIFT)) {
        return MG_BOARD_HIST_BUCKETS - 1;
    }
    k = 63u - (uint32_t)__builtin_clzll(v); /* 2^k <= v < 2^(k+1) */
    return 1 + 2 * (k - MG_BOARD_HIST_MIN_SHIFT) +
           (uint32_t)((v >> (k - 1)) & 1u);
}

uint64_t mg_board_hist_upper(uint32_t i)
{
    uint32_t k;

    if (i == 0) {
        return (1ULL << MG_BOARD_HIST_MIN_SHIFT) - 1;
    }
    if (i >= MG_BOARD_HIST_BUCKETS - 1) {
        return UINT64_MAX;
    }
    k = MG_BOARD_HIST_MIN_SHIFT + (i - 1) / 2;
    if ((i - 1) % 2 == 0) {
        return (1ULL << k) + (1ULL << (k - 1)) - 1; /* [2^k, 1.5*2^k) */
    }
    return (1ULL << (k + 1)) - 1; /* [1.5*2^k, 2^(k+1)) */
}

uint64_t mg_board_hist_quantile(const uint64_t *hist, uint32_t q_permille,
                                uint64_t max)
{
    uint64_t n = 0, rank, seen = 0, up;
    uint32_t i;

    for (i = 0; i < MG_BOARD_HIST_BUCKETS; i++) {
        n = hist[i] > UINT64_MAX - n ? UINT64_MAX : n + hist[i];
    }
    if (n == 0) {
        return 0;
    }
    if (q_permille > 1000) {
        q_permille = 1000;
    }
    /* rank = ceil(q * n / 1000), at least 1, split so that it cannot
     * overflow whatever the counts */
    rank = (n / 1000) * q_permille + ((n % 1000) * q_permille + 999) / 1000;
    if (rank == 0) {
        rank = 1;
    }
    for (i = 0; i < MG_BOARD_HIST_BUCKETS; i++) {
        seen = hist[i] > UINT64_MAX - seen ? UINT64_MAX : seen + hist[i];
        if (seen >= rank) {
            break;
        }
    }
    up = mg_board_hist_upper(
        i < MG_BOARD_HIST_BUCKETS ? i : MG_BOARD_HIST_BUCKETS - 1);
    return up < max ? up : max;
}

/* ---- admission by memory cost ------------------------------------------- */

void mg_board_admit_budget_set(mg_board_t *b, int64_t budget, uint64_t now_us)
{
    atomic_store_explicit(&b->admit_budget, budget, memory_order_relaxed);
    atomic_store_explicit(&b->admit_budget_us, now_us, memory_order_release);
}

int64_t mg_board_admit_budget(const mg_board_t *b, uint64_t *at_us)
{
    mg_board_t *w = (mg_board_t *)(uintptr_t)b;

    if (at_us) {
        *at_us =
            atomic_load_explicit(&w->admit_budget_us, memory_order_acquire);
    }
    return atomic_load_explicit(&w->admit_budget, memory_order_relaxed);
}

int64_t mg_board_admit_reserved(const mg_board_t *b)
{
    return atomic_load_explicit(&((mg_board_t *)(uintptr_t)b)->admit_reserved,
                                memory_order_relaxed);
}

int mg_board_admit_reserve(mg_board_t *b, uint32_t slot, uint32_t method,
                           int64_t cost, uint64_t base_rss, int64_t budget,
                           uint32_t slow, int force)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);
    mg_board_method_t *m = mg_board_method(b, method);
    _Atomic uint16_t *rh = mg_board_reshold(b, slot, method);
    uint32_t cur, prev;
    uint16_t h;
    int64_t r;

    if (s == NULL || m == NULL || rh == NULL || cost < 0) {
        return -EINVAL;
    }
    /* The slot's counts go up before the shared ones and down after them
     * (see mg_board_method_acquire): a process killed in between leaves
     * a shared count LOW once its slot is given back, never stuck high. */
    h = atomic_load_explicit(rh, memory_order_relaxed);
    do {
        if (h >= MG_HOLD_MAX) {
            return -EOVERFLOW;
        }
    } while (!atomic_compare_exchange_weak_explicit(
        rh, &h, (uint16_t)(h + 1), memory_order_acq_rel, memory_order_relaxed));
    cur = atomic_load_explicit(&m->res_inflight, memory_order_relaxed);
    do {
        if (!force && slow != 0 && cur >= slow) {
            mg_sub_floor16(rh);
            return -EBUSY;
        }
    } while (!atomic_compare_exchange_weak_explicit(
        &m->res_inflight, &cur, cur + 1, memory_order_acq_rel,
        memory_order_relaxed));
    atomic_fetch_add_explicit(&s->res_active, cost, memory_order_acq_rel);
    r = atomic_load_explicit(&b->admit_reserved, memory_order_relaxed);
    do {
        if (!force && (budget < cost || r > budget - cost)) {
            atomic_fetch_sub_explicit(&s->res_active, cost,
                                      memory_order_acq_rel);
            mg_sub_floor32(&m->res_inflight, 1);
            mg_sub_floor16(rh);
            return -ENOSPC;
        }
    } while (!atomic_compare_exchange_weak_explicit(
        &b->admit_reserved, &r, r + cost, memory_order_acq_rel,
        memory_order_relaxed));
    prev = atomic_fetch_add_explicit(&s->res_calls, 1, memory_order_acq_rel);
    if (prev == 0) {
        /* the first reserved call of this process: growth counts from
         * here */
        MG_STORE(&s->res_base, base_rss);
        MG_STORE(&s->res_grown, 0);
        MG_STORE(&s->res_peak, 0);
        MG_STORE(&s->res_method, method);
    }
    else if (MG_LOAD(&s->res_method) != method) {
        MG_STORE(&s->res_method, UINT32_MAX);
    }
    return 0;
}

void mg_board_admit_release(mg_board_t *b, uint32_t slot, uint32_t method,
                            int64_t cost)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);
    mg_board_method_t *m = mg_board_method(b, method);
    _Atomic uint16_t *rh = mg_board_reshold(b, slot, method);

    if (s == NULL || m == NULL || rh == NULL || cost < 0 ||
        atomic_load_explicit(rh, memory_order_relaxed) == 0) {
        return; /* not reserved: a caller bug must not skew the sums */
    }
    atomic_fetch_add_explicit(&s->res_ended, cost, memory_order_acq_rel);
    atomic_fetch_sub_explicit(&s->res_active, cost, memory_order_acq_rel);
    mg_sub_floor32(&s->res_calls, 1);
    if (MG_LOAD(&s->res_calls) == 0) {
        MG_STORE(&s->res_ceiling, 0);
    }
    mg_sub_floor32(&m->res_inflight, 1);
    mg_sub_floor16(rh);
}

uint32_t mg_board_admit_method_inflight(const mg_board_t *b, uint32_t method)
{
    mg_board_method_t *m = mg_board_method(b, method);

    return m ? MG_LOAD(&m->res_inflight) : 0;
}

int64_t mg_board_admit_settle(mg_board_t *b, uint32_t *calls)
{
    int64_t credit = 0;
    uint32_t i, n = 0;

    for (i = 0; i < b->nslots; i++) {
        mg_board_slot_t *s = mg_board_slot(b, i);
        int64_t x, act;
        uint32_t c;

        if (MG_LOAD(&s->res_ended) != 0) {
            x = atomic_exchange_explicit(&s->res_ended, 0,
                                         memory_order_acq_rel);
            atomic_fetch_sub_explicit(&b->admit_reserved, x,
                                      memory_order_acq_rel);
        }
        c = MG_LOAD(&s->res_calls);
        if (c == 0) {
            continue;
        }
        n += c;
        act = MG_LOAD(&s->res_active);
        if (act > 0) {
            uint64_t g = MG_LOAD(&s->res_grown);

            credit += g < (uint64_t)act ? (int64_t)g : act;
        }
    }
    if (calls) {
        *calls = n;
    }
    return credit;
}

int mg_board_admit_slot(const mg_board_t *b, uint32_t slot,
                        mg_board_res_info_t *out)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);
    uint64_t words[MG_CLIENT_WORDS];
    size_t i;

    if (s == NULL || out == NULL) {
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    out->calls = MG_LOAD(&s->res_calls);
    out->pid = atomic_load_explicit(&s->pid, memory_order_acquire);
    if (out->calls == 0 || out->pid <= 0) {
        return -ENOENT;
    }
    out->method = MG_LOAD(&s->res_method);
    out->reserved = MG_LOAD(&s->res_active);
    out->base = MG_LOAD(&s->res_base);
    out->grown = MG_LOAD(&s->res_grown);
    out->peak = MG_LOAD(&s->res_peak);
    out->ceiling = MG_LOAD(&s->res_ceiling);
    for (i = 0; i < MG_CLIENT_WORDS; i++) {
        words[i] = MG_LOAD(&s->res_client[i]);
    }
    memcpy(out->client, words, sizeof(out->client));
    out->client[sizeof(out->client) - 1] = '\0';
    return 0;
}

void mg_board_admit_note(mg_board_t *b, uint32_t slot, const char *client,
                         uint64_t ceiling)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);
    uint64_t words[MG_CLIENT_WORDS];
    size_t i;

    if (s == NULL) {
        return;
    }
    if (client != NULL) {
        memset(words, 0, sizeof(words));
        strncpy((char *)words, client, sizeof(words) - 1);
        for (i = 0; i < MG_CLIENT_WORDS; i++) {
            MG_STORE(&s->res_client[i], words[i]);
        }
    }
    MG_STORE(&s->res_ceiling, ceiling);
}

/* ---- the queue ----------------------------------------------------------- */

static bool mg_queue_live(mg_board_qentry_t *q, uint64_t now_us,
                          uint64_t stale_us, uint32_t *state)
{
    uint64_t beat;

    *state = atomic_load_explicit(&q->state, memory_order_acquire);
    if (*state == MG_QUEUE_FREE) {
        return false;
    }
    beat = MG_LOAD(&q->beat_us);
    return now_us < beat || now_us - beat <= stale_us;
}

int mg_board_queue_enter(mg_board_t *b, uint64_t arrival_us, int64_t cost,
                         mg_board_queue_state_t state, uint64_t now_us,
                         uint64_t stale_us)
{
    int e;

    if (state == MG_QUEUE_FREE) {
        return -EINVAL;
    }
    for (e = 0; e < MG_BOARD_QUEUE; e++) {
        mg_board_qentry_t *q = mg_board_qentry(b, e);
        uint32_t st;

        if (mg_queue_live(q, now_us, stale_us, &st)) {
            continue;
        }
        /* free, or its waiter is gone (killed while waiting): take it */
        if (!atomic_compare_exchange_strong_explicit(
                &q->state, &st, (uint32_t)state, memory_order_acq_rel,
                memory_order_relaxed)) {
            continue;
        }
        MG_STORE(&q->arrival_us, arrival_us);
        MG_STORE(&q->cost, cost);
        atomic_store_explicit(&q->beat_us, now_us, memory_order_release);
        return e;
    }
    return -ENOSPC;
}

void mg_board_queue_beat(mg_board_t *b, int e, mg_board_queue_state_t state,
                         uint64_t now_us)
{
    mg_board_qentry_t *q = mg_board_qentry(b, e);

    if (q != NULL && state != MG_QUEUE_FREE) {
        atomic_store_explicit(&q->beat_us, now_us, memory_order_release);
        atomic_store_explicit(&q->state, (uint32_t)state, memory_order_release);
    }
}

void mg_board_queue_leave(mg_board_t *b, int e)
{
    mg_board_qentry_t *q = mg_board_qentry(b, e);

    if (q != NULL) {
        atomic_store_explicit(&q->state, MG_QUEUE_FREE, memory_order_release);
    }
}

int mg_board_queue_first(const mg_board_t *b, int e, uint64_t now_us,
                         uint64_t stale_us)
{
    mg_board_qentry_t *me = mg_board_qentry(b, e);
    uint64_t mine;
    uint32_t st;
    int i;

    if (me == NULL || atomic_load_explicit(&me->state, memory_order_acquire) !=
                          MG_QUEUE_BUDGET) {
        return 0;
    }
    mine = MG_LOAD(&me->arrival_us);
    for (i = 0; i < MG_BOARD_QUEUE; i++) {
        mg_board_qentry_t *q = mg_board_qentry(b, i);
        uint64_t a;

        if (i == e || !mg_queue_live(q, now_us, stale_us, &st) ||
            st != MG_QUEUE_BUDGET) {
            continue;
        }
        a = MG_LOAD(&q->arrival_us);
        if (a < mine || (a == mine && i < e)) {
            return 0;
        }
    }
    return 1;
}

uint32_t mg_board_queue_waiting(const mg_board_t *b, uint64_t now_us,
                                uint64_t stale_us, int64_t *bytes)
{
    uint32_t n = 0, st;
    int64_t sum = 0;
    int i;

    for (i = 0; i < MG_BOARD_QUEUE; i++) {
        mg_board_qentry_t *q = mg_board_qentry(b, i);

        if (mg_queue_live(q, now_us, stale_us, &st)) {
            n++;
            sum += MG_LOAD(&q->cost);
        }
    }
    if (bytes) {
        *bytes = sum;
    }
    return n;
}

/* ---- learned cost per method --------------------------------------------- */

void mg_board_method_cost_record(mg_board_t *b, uint32_t method, uint64_t bytes)
{
    mg_board_method_t *m = mg_board_method(b, method);
    uint32_t k;

    if (m == NULL) {
        return;
    }
    k = mg_board_hist_bucket(bytes > INT64_MAX ? INT64_MAX : (int64_t)bytes);
    MG_INC(&m->cost_hist[k], MG_BOARD_COST_ONE);
    MG_INC(&m->cost_measured, 1);
    /* Until the sampler's next refresh puts it at the quantile, the new
     * call's cost is at least the estimate: a method's first calls must
     * not look free in between. */
    mg_max64(&m->cost_learned, bytes);
}

int mg_board_method_cost_raise(mg_board_t *b, uint32_t method, uint64_t bytes,
                               uint64_t now_us)
{
    mg_board_method_t *m = mg_board_method(b, method);
    uint64_t live;

    if (m == NULL) {
        return 0;
    }
    live = MG_LOAD(&m->cost_live);
    if (bytes >= live) {
        MG_STORE(&m->cost_live_us, now_us); /* still there, or higher */
    }
    if (bytes <= live) {
        return 0;
    }
    mg_max64(&m->cost_live, bytes);
    return 1;
}

/* *p = *p * keep / 1000, atomically. */
static void mg_scale64(_Atomic uint64_t *p, uint32_t keep)
{
    uint64_t cur = atomic_load_explicit(p, memory_order_relaxed), want;

    do {
        want = cur / 1000 * keep + cur % 1000 * keep / 1000;
    } while (cur != 0 &&
             !atomic_compare_exchange_weak_explicit(
                 p, &cur, want, memory_order_relaxed, memory_order_relaxed));
}

static void mg_board_cost_refresh_one(mg_board_method_t *m, uint32_t q_permille)
{
    uint64_t h[MG_BOARD_HIST_BUCKETS], n = 0;
    size_t i;

    for (i = 0; i < MG_BOARD_HIST_BUCKETS; i++) {
        h[i] = MG_LOAD(&m->cost_hist[i]);
        n += h[i];
    }
    if (n > 0) {
        MG_STORE(&m->cost_learned,
                 mg_board_hist_quantile(h, q_permille, UINT64_MAX));
    }
}

void mg_board_method_cost_refresh(mg_board_t *b, uint32_t q_permille,
                                  uint32_t recent_calls, uint64_t now_us)
{
    uint64_t cap = (uint64_t)recent_calls * MG_BOARD_COST_ONE;
    uint32_t i;
    size_t k;

    for (i = 0; i <= b->nmethods; i++) {
        mg_board_method_t *m = mg_board_method(b, i);
        uint64_t total = 0;

        if (MG_ENTRY_STATE(atomic_load_explicit(
                &m->state, memory_order_acquire)) != MG_ENTRY_READY ||
            MG_LOAD(&m->cost_measured) == 0) {
            continue;
        }
        for (k = 0; k < MG_BOARD_HIST_BUCKETS; k++) {
            total += MG_LOAD(&m->cost_hist[k]);
        }
        if (cap > 0 && total > cap) {
            /* older calls weigh half from now on */
            for (k = 0; k < MG_BOARD_HIST_BUCKETS; k++) {
                mg_scale64(&m->cost_hist[k], 500);
            }
        }
        mg_board_cost_refresh_one(m, q_permille);
        /* the live floor stands for a call still running past the
         * estimate: a few seconds after the sampler last saw one, its
         * peak is in the histogram (or the call plateaued and a look at
         * it raises the floor again) */
        if (MG_LOAD(&m->cost_live) != 0 &&
            now_us > MG_LOAD(&m->cost_live_us) + MG_BOARD_LIVE_US) {
            MG_STORE(&m->cost_live, 0);
        }
    }
}

uint64_t mg_board_method_cost(const mg_board_t *b, uint32_t method,
                              uint64_t *measured)
{
    mg_board_method_t *m = mg_board_method(b, method);
    uint64_t l, v;

    if (m == NULL) {
        if (measured) {
            *measured = 0;
        }
        return 0;
    }
    if (measured) {
        *measured = MG_LOAD(&m->cost_measured);
    }
    l = MG_LOAD(&m->cost_learned);
    v = MG_LOAD(&m->cost_live);
    return l > v ? l : v;
}

int mg_board_method_cost_info(const mg_board_t *b, uint32_t method,
                              mg_board_cost_info_t *out)
{
    mg_board_method_t *m = mg_board_method(b, method);

    if (m == NULL || out == NULL) {
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    out->learned = MG_LOAD(&m->cost_learned);
    out->live = MG_LOAD(&m->cost_live);
    out->measured = MG_LOAD(&m->cost_measured);
    out->reserved_inflight = MG_LOAD(&m->res_inflight);
    return 0;
}

void mg_board_admit_count(mg_board_t *b, mg_board_admit_counter_t c)
{
    if ((unsigned)c < MG_ADMIT__COUNT) {
        MG_INC(&b->admit_counters[c], 1);
    }
}

uint64_t mg_board_admit_counter(const mg_board_t *b, mg_board_admit_counter_t c)
{
    if ((unsigned)c >= MG_ADMIT__COUNT) {
        return 0;
    }
    return MG_LOAD(&((mg_board_t *)(uintptr_t)b)->admit_counters[c]);
}

/* ---- the last resort ------------------------------------------------------
 */

int mg_board_lastresort_set(mg_board_t *b, uint32_t slot, int32_t pid)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);
    uint32_t zero = 0;

    if (s == NULL) {
        return -EINVAL;
    }
    if (atomic_load_explicit(&s->pid, memory_order_acquire) != pid) {
        return -ESRCH;
    }
    return atomic_compare_exchange_strong_explicit(&s->lastresort, &zero, 1,
                                                   memory_order_acq_rel,
                                                   memory_order_relaxed)
               ? 0
               : -EALREADY;
}

int mg_board_lastresort_peek(const mg_board_t *b, uint32_t slot)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);

    return s != NULL && MG_LOAD(&s->lastresort) != 0;
}

int mg_board_lastresort_take(mg_board_t *b, uint32_t slot)
{
    mg_board_slot_t *s = mg_board_slot(b, slot);

    if (s == NULL || MG_LOAD(&s->lastresort) == 0) {
        return 0;
    }
    return atomic_exchange_explicit(&s->lastresort, 0, memory_order_acq_rel) !=
           0;
}
