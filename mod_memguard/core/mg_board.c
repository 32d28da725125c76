/*
 * mg_board.c - the board's lifecycle, verdict word, system record, child
 * slots and recycling
 * (see mg_board.h for the layout and who writes what).
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "mg_board.h"
#include "mg_board_int.h"

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
