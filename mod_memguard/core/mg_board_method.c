/*
 * mg_board_method.c - the method table (found by name, lock-free
 * claiming, per-method concurrency) and the memory-delta histograms
 * (see mg_board.h for the layout and who writes what).
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "mg_board.h"
#include "mg_board_int.h"

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
