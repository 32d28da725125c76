/*
 * mg_board_admit.c - admission by memory cost: the budget,
 * reservations, the waiting queue, learned costs per method, the last
 * resort
 * (see mg_board.h for the layout and who writes what).
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "mg_board.h"
#include "mg_board_int.h"

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

/* Does a call of cost run alone in budget? Nothing else is reserved and
 * the budget holds at least two thirds of the cost: a learned cost is
 * rounded up by at most half (mg_board_hist_quantile), so what the call
 * really takes may fit, and no later budget will be larger than an empty
 * one; waiting for more would starve it. */
static bool mg_admit_alone(int64_t reserved, int64_t cost, int64_t budget)
{
    return reserved == 0 && budget > 0 && cost > budget &&
           budget >= cost - cost / 3;
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
        if (!force && (budget < cost || r > budget - cost) &&
            !mg_admit_alone(r, cost, budget)) {
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

uint32_t mg_board_queue_ahead(const mg_board_t *b, uint64_t now_us,
                              uint64_t stale_us)
{
    uint32_t n = 0, st;
    int i;

    for (i = 0; i < MG_BOARD_QUEUE; i++) {
        if (mg_queue_live(mg_board_qentry(b, i), now_us, stale_us, &st) &&
            st == MG_QUEUE_BUDGET) {
            n++;
        }
    }
    return n;
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
