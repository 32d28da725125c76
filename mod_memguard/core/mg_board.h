/*
 * mg_board.h - the board: memguard's shared memory, laid out on a base
 * address the caller provides.
 *
 * The httpd parent creates one anonymous shared segment before forking and
 * keeps it across graceful restarts; the sampler and every child see it at
 * the same address. Nothing in the segment is a pointer, so the layout is
 * valid in any process. Regions, each 64-byte aligned:
 *
 *   header     magic, layout version, sizes, region offsets, generation,
 *              the staleness episode logged, the VERDICT WORD (one atomic
 *              load per request), the recycle token bucket, board-wide
 *              recycle totals
 *   system     the sampler's record (last sample, verdict and why, the
 *              last MG_BOARD_HISTORY transitions) under a seqlock
 *   slots      one per scoreboard process slot: counters of that child
 *   holdings   per slot, one uint16 per method entry: how many calls of
 *              that method the slot's process holds right now
 *   resholds   the same for calls admitted against the memory budget
 *              (the slow start of a method not yet measured)
 *   queue      MG_BOARD_QUEUE entries: calls waiting for the budget
 *   methods    nmethods named entries plus one "other" entry
 *
 * Who writes what (so that nothing needs a lock):
 *   - system record, the verdict word and the admission budget: the
 *     sampler only;
 *   - the memory reserved by calls in flight: children add (admission)
 *     and move their part to the slot's "ended" (end of the call); the
 *     sampler gives ended parts back, the parent a dead child's part;
 *   - a slot's counters: the child owning that slot, except `unshared`
 *     (the sampler, from smaps_rollup) and the recycle flag (the child or
 *     the sampler, by compare-and-swap); the parent zeroes the slot with
 *     mg_board_slot_reset() once the child is gone;
 *   - method entries and the staleness episode logged: any child, with
 *     atomic read-modify-write;
 *   - generation: the parent.
 * Every field a reader may load concurrently is an atomic; readers (the
 * status page) use the snapshot helpers, O(slots + methods), lock-free.
 *
 * Functions that take indexes check them and return -EINVAL (or do nothing
 * for the void ones) rather than write outside the board.
 */
#ifndef MG_BOARD_H
#define MG_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "mg_reason.h"
#include "mg_sample.h"

#define MG_BOARD_MAGIC 0x6472616f42674d6dULL /* "mMgBoard" little-endian */
#define MG_BOARD_LAYOUT_VERSION 6u /* bump on ANY change to the layout */

#define MG_BOARD_HISTORY 16         /* verdict transitions kept */
#define MG_BOARD_METHOD_NAME_MAX 64 /* bytes of a method name used as key */
#define MG_BOARD_MAX_SLOTS 200000u  /* prefork's own ServerLimit maximum */
#define MG_BOARD_MAX_METHODS 4096u  /* named entries; "other" not counted */

/*
 * Memory-delta histogram: bucket 0 holds deltas below 4 KiB (including
 * zero and negative ones); then two buckets per power of two, [2^k,
 * 1.5*2^k) and [1.5*2^k, 2^(k+1)), for k = 12 (4 KiB) .. 35 (up to
 * 64 GiB); the last bucket holds everything from 64 GiB up.
 */
#define MG_BOARD_HIST_MIN_SHIFT 12
#define MG_BOARD_HIST_MAX_SHIFT 36
#define MG_BOARD_HIST_BUCKETS                                                  \
    (2 + 2 * (MG_BOARD_HIST_MAX_SHIFT - MG_BOARD_HIST_MIN_SHIFT))

/* The board, as seen at its base address. Opaque: use the functions. */
typedef struct mg_board mg_board_t;

/* ---- lifecycle --------------------------------------------------------- */

/*
 * Bytes needed for a board with nslots child slots and nmethods named
 * method entries; 0 if either is 0 or over MG_BOARD_MAX_SLOTS /
 * MG_BOARD_MAX_METHODS.
 */
size_t mg_board_size(uint32_t nslots, uint32_t nmethods);

/*
 * Lay a fresh board out on base (size bytes, 64-byte aligned, at least
 * mg_board_size()): zeroes everything, then publishes the header. Must run
 * before any other process uses the segment. *out (may be NULL) receives
 * the board. Returns 0, -EINVAL (NULL, misaligned, bad counts) or -ENOSPC
 * (size too small).
 */
int mg_board_init(void *base, size_t size, uint32_t nslots, uint32_t nmethods,
                  mg_board_t **out);

/*
 * Adopt a board that already lives at base (a segment kept over a graceful
 * restart), after checking magic, layout version, total size and both
 * counts against what this build and configuration expect. Changes
 * nothing. Returns 0, -EINVAL (NULL or misaligned), -EPROTO (wrong magic or
 * layout version: garbage or another build), -ENOSPC (the segment is too
 * small) or -ESTALE (sizes differ from the configuration). On any error
 * the caller re-creates the segment and calls mg_board_init().
 */
int mg_board_attach(void *base, size_t size, uint32_t nslots, uint32_t nmethods,
                    mg_board_t **out);

uint32_t mg_board_nslots(const mg_board_t *b);
uint32_t mg_board_nmethods(const mg_board_t *b); /* named entries only */

/* The restart generation (0 after init). */
uint32_t mg_board_generation(const mg_board_t *b);

/* Parent, on every (graceful) restart: bump and return the generation. */
uint32_t mg_board_generation_bump(mg_board_t *b);

/* Parent, when it replaced a sampler that had stopped publishing: bump
 * and return the count; and read it. */
uint32_t mg_board_sampler_replaced_bump(mg_board_t *b);
uint32_t mg_board_sampler_replaced(const mg_board_t *b);

/*
 * Children, when they find the verdict stale: mark names the staleness
 * episode (the stale sample's time in ms, plus 1 so that 0 means none).
 * Returns 1 for the one caller that moved the board to mark (it logs the
 * episode), 0 if the episode was already logged or another caller won, so
 * that N children log one line, not N.
 */
int mg_board_stale_log_claim(mg_board_t *b, uint32_t mark);

/*
 * The sampler's measurement thread: the CLOCK_MONOTONIC time (µs) of its
 * last pass over the processes (statm of those in a call, recycling) and
 * of its last complete round of smaps_rollup over the children; a 0
 * argument leaves that time as it is. Readers get 0 for "never".
 */
void mg_board_proc_times_set(mg_board_t *b, uint64_t pass_us,
                             uint64_t smaps_us);
void mg_board_proc_times(const mg_board_t *b, uint64_t *pass_us,
                         uint64_t *smaps_us);

/* Parent, each time it forks a sampler: bump and return the start count. */
uint32_t mg_board_sampler_starts_bump(mg_board_t *b);
uint32_t mg_board_sampler_starts(const mg_board_t *b);

/* ---- verdict word: the per-request path --------------------------------- */

/*
 * The verdict packed into one 64-bit word: bits 0-7 state, 8-15 signal
 * (both opaque to the board; mg_policy defines them), 16-63 the time of
 * the sample that produced it, in milliseconds of CLOCK_MONOTONIC. The
 * reader decides staleness itself (mg_policy_stale()), because a dead
 * sampler cannot raise a flag. A word of 0 means "never sampled".
 */
typedef uint64_t mg_board_verdict_t;

#define MG_BOARD_VERDICT_STATE(w) ((uint32_t)((w)&0xffu))
#define MG_BOARD_VERDICT_SIGNAL(w) ((uint32_t)(((w) >> 8) & 0xffu))
#define MG_BOARD_VERDICT_TIME_US(w) (((w) >> 16) * 1000u)

/* Pack state, signal and sample time (µs, kept at ms resolution). */
mg_board_verdict_t mg_board_verdict_pack(uint32_t state, uint32_t signal,
                                         uint64_t sample_us);

/* One acquire load; never blocks, never retries. */
mg_board_verdict_t mg_board_verdict_load(const mg_board_t *b);

/* ---- system record (sampler writes, anyone reads) ------------------------ */

typedef struct {
    uint64_t time_us; /* CLOCK_MONOTONIC of the transition */
    uint32_t from;    /* verdict states (mg_policy) */
    uint32_t to;
    uint32_t signal;    /* deciding signal (mg_policy) */
    int32_t detail;     /* node number / cache index, or -1 */
    uint64_t value;     /* the signal's value ... */
    uint64_t threshold; /* ... and the threshold it crossed */
} mg_board_transition_t;

typedef struct mg_board_sys {
    mg_sample_t sample; /* the last sample */
    uint32_t state;     /* current verdict state */
    uint32_t signal;    /* the signal that decided it */
    int32_t detail;     /* node number / cache index, or -1 */
    uint32_t pad0;
    uint64_t value;          /* that signal's value and threshold, */
    uint64_t threshold;      /* bytes or PSI hundredths of a percent */
    uint64_t clear_at;       /* where the signal clears (hysteresis) */
    uint64_t state_since_us; /* when the current state began */
    int32_t sampler_pid;
    uint32_t sampler_starts; /* copy of mg_board_sampler_starts() */
    uint64_t samples;        /* samples taken by this board's samplers */
    uint64_t last_sample_us; /* CLOCK_MONOTONIC of the last publish */
    uint64_t ntransitions;   /* total; the ring keeps the last 16 */
    /* how the sampler keeps up */
    uint64_t interval_us; /* the sampling interval in force */
    uint64_t gap_max_us;  /* longest time between two publishes, over the
                             last minute */
    uint64_t loop_max_us; /* longest sample (read, judge, publish), over
                             the last minute */
    /* the fill rate (mg_policy_fill_t) of the signal that decided, or
     * of the one nearest its level */
    uint32_t fill_signal; /* the level signal; 0: none */
    int32_t fill_detail;
    int64_t fill_rate; /* bytes/s toward the level */
    uint64_t fill_level;
    uint64_t fill_distance;
    uint64_t fill_tte_us; /* UINT64_MAX: never */
    uint32_t fill_shed_level;
    uint32_t admit_calls; /* reserved calls in flight at the sample */
    /* admission: budget = room + credit (MG_BOARD_BUDGET_NONE: no level) */
    int64_t admit_budget;
    int64_t admit_room;   /* room above the shed level in the sample */
    int64_t admit_credit; /* growth of the reserved calls in flight */
    mg_board_transition_t history[MG_BOARD_HISTORY]; /* see _history_at */
} mg_board_sys_t;

/*
 * Sampler only: publish rec as the system record under the seqlock, then
 * store the verdict word from rec->state, rec->signal and
 * rec->last_sample_us. The sampler keeps its own mg_board_sys_t between
 * samples and publishes the whole of it every time (about 2 KiB).
 */
void mg_board_sys_publish(mg_board_t *b, const mg_board_sys_t *rec);

/*
 * Copy the system record into *out. Retries while the sampler is writing,
 * at most max_tries times (0 means 1). Returns 0 or -EBUSY; on -EBUSY *out
 * holds garbage and must not be used.
 */
int mg_board_sys_read(const mg_board_t *b, mg_board_sys_t *out,
                      unsigned max_tries);

/* Append a transition to rec's ring (a local copy; publish afterwards). */
void mg_board_sys_add_transition(mg_board_sys_t *rec,
                                 const mg_board_transition_t *t);

/*
 * The i-th most recent transition of rec (0 = newest), or NULL if fewer
 * than i+1 were recorded.
 */
const mg_board_transition_t *mg_board_sys_history_at(const mg_board_sys_t *rec,
                                                     uint32_t i);

/* ---- child slots --------------------------------------------------------- */

/* A plain copy of a slot for the status page (mg_board_slot_snapshot). */
typedef struct {
    int32_t pid;         /* 0: slot unused */
    uint32_t generation; /* board generation the child started in */
    uint64_t started_us;
    uint64_t requests;
    uint64_t rss;      /* after the last request (child) */
    uint64_t unshared; /* from smaps_rollup (sampler) */
    uint64_t peak_rss;
    int64_t last_delta;      /* rss change of the last request */
    uint32_t inflight;       /* requests being served right now */
    uint32_t recycle_reason; /* 0: not flagged (see mg_policy) */
    uint64_t recycle_value;  /* what was measured ... */
    uint64_t recycle_limit;  /* ... against which limit */
    uint64_t recycles_requested;
    uint64_t recycles_done; /* > 0: this child is on its way out */
    uint64_t rejections[MG_REASON__COUNT];
} mg_board_slot_info_t;

/*
 * Child, in child_init: take slot for pid. Clears the slot's counters and
 * recycle flag (the parent has reset it, but a retained board may hold a
 * slot whose reset was missed). Returns 0 or -EINVAL.
 */
int mg_board_slot_start(mg_board_t *b, uint32_t slot, int32_t pid,
                        uint64_t now_us);

/*
 * Parent, when the child in slot has exited (normally, crashed or was
 * SIGKILLed), or before a new child takes the slot: give back to every
 * method the concurrency the slot still held, then zero the slot. The
 * child must be gone; the sampler may still look at the slot, which is why
 * its writes check the pid (see mg_board_slot_set_unshared()). Returns the
 * number of calls given back (0 for a clean exit), or -EINVAL.
 */
int mg_board_slot_reset(mg_board_t *b, uint32_t slot);

/* Child: a request starts (in-flight + 1); rss is the process's size at
 * its start (0: unknown), growth during it is measured from there. */
void mg_board_request_begin(mg_board_t *b, uint32_t slot, uint64_t rss);

/* Child: the request being served is a call of method (for the sampler's
 * live look at what calls cost). */
void mg_board_request_method(mg_board_t *b, uint32_t slot, uint32_t method);

/* Child, at the end of a request: the largest growth the sampler saw
 * while it ran (0: none seen). */
uint64_t mg_board_request_peak(const mg_board_t *b, uint32_t slot);

/*
 * Sampler (measuring thread): the process of slot, still pid, is rss
 * bytes now. Updates the growth of its reserved calls (the credit) and of
 * the request it serves (its peak). When it serves exactly one request
 * whose method is known, *method and *grown receive them (for a live
 * raise of the method's estimate) and 1 is returned; else 0.
 */
int mg_board_observe(mg_board_t *b, uint32_t slot, int32_t pid, uint64_t rss,
                     uint32_t *method, uint64_t *grown);

/*
 * Child: a request ended; rss is the process size after it and delta the
 * change it caused. Updates in-flight, requests, rss, peak and last delta.
 */
void mg_board_request_end(mg_board_t *b, uint32_t slot, uint64_t rss,
                          int64_t delta);

/*
 * Child: a request was refused for reason. Counts it in the slot and, if
 * method is a valid method index (else pass UINT32_MAX: refused before the
 * method was known), in that method.
 */
void mg_board_reject(mg_board_t *b, uint32_t slot, uint32_t method,
                     mg_reason_t reason);

/* The unshared size the sampler last recorded for slot (0: none yet): one
 * load, for the request path (mg_board_slot_snapshot() copies the whole
 * slot). */
uint64_t mg_board_slot_unshared(const mg_board_t *b, uint32_t slot);

/*
 * Sampler: record the unshared size of the child pid in slot. Ignored
 * (-ESRCH) if the slot now belongs to another process: the sampler read
 * smaps_rollup a moment ago and the child may have been replaced since.
 */
int mg_board_slot_set_unshared(mg_board_t *b, uint32_t slot, int32_t pid,
                               uint64_t bytes);

/*
 * Child or sampler: flag the child pid in slot for recycling, with a
 * nonzero reason code (mg_policy) and the two numbers behind it. The first
 * flag wins: returns 0 if this call set it, -EALREADY if the slot was
 * already flagged, -ESRCH if pid no longer owns the slot, -EINVAL.
 */
int mg_board_slot_recycle_request(mg_board_t *b, uint32_t slot, int32_t pid,
                                  uint32_t reason, uint64_t value,
                                  uint64_t limit);

/*
 * Child: is this slot flagged? Returns the reason (0: no); value and limit
 * (may be NULL) receive the numbers. One acquire load when not flagged.
 */
uint32_t mg_board_slot_recycle_get(const mg_board_t *b, uint32_t slot,
                                   uint64_t *value, uint64_t *limit);

/* Child or sampler: the flag was acted on (the child was signalled).
 * Counts it, here (zeroed for the slot's next child, so > 0 means this
 * child is leaving) and in the board-wide total that survives the slot's
 * reset. */
void mg_board_slot_recycle_done(mg_board_t *b, uint32_t slot);

/* Copy a slot. Returns 0 or -EINVAL. Fields are individually atomic, not
 * collectively consistent (a counter may lag another by one request). */
int mg_board_slot_snapshot(const mg_board_t *b, uint32_t slot,
                           mg_board_slot_info_t *out);

/* Board-wide recycle totals (requested, done) since init. */
void mg_board_recycle_totals(const mg_board_t *b, uint64_t *requested,
                             uint64_t *done);

/*
 * Recycle budget shared by every process: a token bucket holding up to
 * max_per_minute tokens, refilled at max_per_minute per 60 s. Returns 1 and
 * takes a token if one is available at now_us (CLOCK_MONOTONIC), else 0;
 * max_per_minute 0 always refuses. Lock-free: one CAS on one word (the
 * bucket is kept as a "theoretical arrival time", GCRA).
 */
int mg_board_recycle_take(mg_board_t *b, uint64_t now_us,
                          uint32_t max_per_minute);

/*
 * The same, reading the time itself (clock(arg), CLOCK_MONOTONIC µs) after
 * it has read the bucket, again on every retry. Callers that may race
 * other processes use this one: a time taken before the call can be older
 * than the time another process's take has just used, and then the last
 * token of a burst would wrongly look spent.
 */
typedef uint64_t (*mg_clock_us_fn)(void *arg);
int mg_board_recycle_take_clock(mg_board_t *b, mg_clock_us_fn clock, void *arg,
                                uint32_t max_per_minute);

/* ---- method table -------------------------------------------------------- */

/*
 * Method entries are found by name: the first MG_BOARD_METHOD_NAME_MAX
 * bytes are the key (longer names are truncated for keying: two names
 * sharing their first 64 bytes share an entry; real XML-RPC method names
 * are far shorter). A name that is empty or has a byte outside printable
 * ASCII 0x21-0x7e (NUL, control characters, spaces, non-ASCII - none of
 * which XML-RPC allows) is never stored: it counts under "other", as does
 * every new name once the table is full. So a client cannot grow the table
 * or put terminal escapes on the status page by inventing names.
 */

/* Index of the "other" entry (== mg_board_nmethods()). */
uint32_t mg_board_method_other(const mg_board_t *b);

/*
 * Index of the entry for name (len bytes, no NUL needed), claiming a free
 * entry if the name is new. Never fails: returns the "other" index when the
 * name is not storable, the table is full, or (after a bounded wait) a
 * process died half-way through claiming the entry this name hashes to.
 */
uint32_t mg_board_method_get(mg_board_t *b, const char *name, size_t len);

/* Like mg_board_method_get() but never claims: index, or -ENOENT. */
int mg_board_method_find(const mg_board_t *b, const char *name, size_t len);

/*
 * Child, when a call of method finished: count the call, its request and
 * response sizes, and its memory delta (a negative delta counts as 0: the
 * call returned memory, it did not cost any).
 */
void mg_board_method_record(mg_board_t *b, uint32_t method, uint64_t bytes_in,
                            uint64_t bytes_out, int64_t delta);

/*
 * Child: count n calls of method that ran inside another call (the inner
 * calls of a multicall): `calls` only. Their bytes and memory are the
 * multicall's, recorded under its own method.
 */
void mg_board_method_count(mg_board_t *b, uint32_t method, uint64_t n);

/*
 * Child: admit one call of method under a server-wide limit of concurrent
 * calls (0: no limit, just count). Returns 0 (acquired: call
 * mg_board_method_release() when the call ends), -EBUSY (limit reached),
 * -EOVERFLOW (this slot already holds 65535 calls of it) or -EINVAL.
 * The slot's holding is raised BEFORE the method count and dropped AFTER
 * it, so a process killed between the two leaves the count one LOW once
 * mg_board_slot_reset() has run, never one high: releases stop at zero, so
 * that error vanishes the next time the method is idle, whereas a count
 * stuck high would refuse calls for good.
 */
int mg_board_method_acquire(mg_board_t *b, uint32_t slot, uint32_t method,
                            uint32_t limit);

/* Child: end of a call admitted by mg_board_method_acquire(). */
void mg_board_method_release(mg_board_t *b, uint32_t slot, uint32_t method);

/* Calls of method in flight server-wide (0 for a bad index). */
uint32_t mg_board_method_inflight(const mg_board_t *b, uint32_t method);

/* Calls of method held by slot (0 for bad indexes). */
uint32_t mg_board_slot_holding(const mg_board_t *b, uint32_t slot,
                               uint32_t method);

typedef struct {
    char name[MG_BOARD_METHOD_NAME_MAX + 1]; /* NUL-terminated; "" = other */
    uint64_t calls;
    uint64_t rejections[MG_REASON__COUNT];
    uint64_t bytes_in;    /* request bodies, total */
    uint64_t bytes_out;   /* responses, total */
    uint64_t delta_count; /* calls with a recorded memory delta */
    uint64_t delta_sum;   /* bytes, negative deltas counted as 0 */
    uint64_t delta_max;
    uint64_t delta_p95; /* mg_board_hist_quantile(..., 950, ...) */
    uint32_t inflight;
    uint32_t pad;
    uint64_t hist[MG_BOARD_HIST_BUCKETS];
} mg_board_method_info_t;

/*
 * Copy entry method (0..nmethods, the last being "other"). Returns 0, or
 * -ENOENT for an entry not (yet) claimed, or -EINVAL.
 */
int mg_board_method_snapshot(const mg_board_t *b, uint32_t method,
                             mg_board_method_info_t *out);

/* ---- admission by memory cost ------------------------------------------- */

/*
 * The BUDGET is what calls may still take before memory reaches the shed
 * level: the room above it in the last sample, plus what the calls in
 * flight have already grown (up to their reservations: it is in the
 * sample, and in their reservations too). The sampler publishes it every
 * sample. RESERVED is the sum of the expected costs of the calls
 * admitted and in flight; a call is admitted when reserved + its cost
 * fits in the budget, with one compare-and-swap. Reservations are kept
 * per slot, so a dead child's are given back with its slot.
 */
#define MG_BOARD_BUDGET_NONE INT64_MAX /* no shed level: no limit */

/* Sampler: publish the budget (bytes, may be negative) at now_us. */
void mg_board_admit_budget_set(mg_board_t *b, int64_t budget, uint64_t now_us);

/* The budget and when it was published (0: never). */
int64_t mg_board_admit_budget(const mg_board_t *b, uint64_t *at_us);

/* Bytes reserved by the calls in flight (including ended ones the sampler
 * has not given back yet). */
int64_t mg_board_admit_reserved(const mg_board_t *b);

/*
 * Child: reserve cost bytes for a call of method in slot, if reserved +
 * cost <= budget, or if the call is larger than the budget but may still
 * fit and runs ALONE: nothing else is reserved and the budget holds at
 * least two thirds of its cost (a learned cost is rounded up by at most
 * half; an empty budget is the largest there will be: waiting would
 * starve the call). force: whatever the budget, for a stale budget with
 * fail-open or DetectOnly. And, when slow > 0, fewer than slow calls of
 * method are reserved already (a method not yet measured). base_rss: the
 * process's size at the start of the call (the slot keeps it while any
 * call of the slot is reserved: growth is measured from it). Returns 0
 * (reserved: call mg_board_admit_release() when the call ends), -ENOSPC
 * (does not fit in the budget), -EBUSY (slow start full), -EOVERFLOW (the
 * slot holds 65535 calls of the method) or -EINVAL.
 */
int mg_board_admit_reserve(mg_board_t *b, uint32_t slot, uint32_t method,
                           int64_t cost, uint64_t base_rss, int64_t budget,
                           uint32_t slow, int force);

/* Child: the call reserved with mg_board_admit_reserve() ended: its cost
 * moves to the slot's ended part, which the sampler gives back once a
 * sample taken after the end has accounted for what the call left. */
void mg_board_admit_release(mg_board_t *b, uint32_t slot, uint32_t method,
                            int64_t cost);

/* Reserved calls of method in flight, server-wide. */
uint32_t mg_board_admit_method_inflight(const mg_board_t *b, uint32_t method);

/*
 * Sampler, before it reads a sample: give back the ended parts of every
 * slot, and return the credit: the sum over slots of what their calls in
 * flight have grown so far (the last mg_board_admit_observe()), each at
 * most its reservation. *calls (may be NULL) receives the reserved calls
 * in flight.
 */
int64_t mg_board_admit_settle(mg_board_t *b, uint32_t *calls);

/* What the sampler's measuring thread needs of a slot with reserved calls
 * in flight. */
typedef struct {
    int32_t pid;
    uint32_t calls;  /* reserved calls in flight */
    uint32_t method; /* their method, UINT32_MAX when several differ */
    uint32_t pad;
    int64_t reserved; /* their reservations */
    uint64_t base;    /* process size when the first of them began */
    uint64_t grown;   /* growth at the last look */
    uint64_t peak;    /* the largest growth seen while they run */
    uint64_t ceiling; /* RLIMIT_DATA the child set for its call; 0 */
    char client[48];  /* the client of the call, for log lines */
} mg_board_res_info_t;

/* Copy slot's reservation state; -ENOENT when it has no reserved call in
 * flight, -EINVAL. */
int mg_board_admit_slot(const mg_board_t *b, uint32_t slot,
                        mg_board_res_info_t *out);

/*
 * The last resort: the sampler lowered the RLIMIT_DATA of the process in
 * slot (still pid) to stop the call it serves. _set: 0, or -ESRCH when pid
 * no longer owns the slot, -EALREADY when it was set already. _peek: is
 * it set? _take (the child, at the end of the request): 1 once if it was
 * set, clearing it.
 */
int mg_board_lastresort_set(mg_board_t *b, uint32_t slot, int32_t pid);
int mg_board_lastresort_peek(const mg_board_t *b, uint32_t slot);
int mg_board_lastresort_take(mg_board_t *b, uint32_t slot);

/* Child: the client address (text) and the RLIMIT_DATA ceiling of the
 * reserved call it is running, for the sampler's log lines and last
 * resort. */
void mg_board_admit_note(mg_board_t *b, uint32_t slot, const char *client,
                         uint64_t ceiling);

/* ---- the queue of calls waiting for the budget --------------------------- */

#define MG_BOARD_QUEUE 64 /* entries; a call finding none is refused */

typedef enum {
    MG_QUEUE_FREE = 0,
    MG_QUEUE_SLOW = 1,  /* waiting for its method's slow start */
    MG_QUEUE_BUDGET = 2 /* waiting for the budget, in arrival order */
} mg_board_queue_state_t;

/* Child: take a free entry for a call that arrived at arrival_us (its
 * heartbeat starts there). Returns the entry, or -ENOSPC when every
 * entry is taken by a live waiter (entries whose heartbeat is older than
 * stale_us are taken over). */
int mg_board_queue_enter(mg_board_t *b, uint64_t arrival_us, int64_t cost,
                         mg_board_queue_state_t state, uint64_t now_us,
                         uint64_t stale_us);

/* Child: the waiter in entry e is still there (heartbeat) and in state. */
void mg_board_queue_beat(mg_board_t *b, int e, mg_board_queue_state_t state,
                         uint64_t now_us);

/* Child: free entry e. */
void mg_board_queue_leave(mg_board_t *b, int e);

/*
 * Is entry e first in line: no live MG_QUEUE_BUDGET entry (heartbeat not
 * older than stale_us) arrived before it (ties: the lower entry first)?
 * An entry in MG_QUEUE_SLOW is never first.
 */
int mg_board_queue_first(const mg_board_t *b, int e, uint64_t now_us,
                         uint64_t stale_us);

/* Live MG_QUEUE_BUDGET waiters: a call arriving now is behind them all
 * (first come, first served: it may not take the budget before them). */
uint32_t mg_board_queue_ahead(const mg_board_t *b, uint64_t now_us,
                              uint64_t stale_us);

/* Live waiters: in total, and the bytes they wait for. */
uint32_t mg_board_queue_waiting(const mg_board_t *b, uint64_t now_us,
                                uint64_t stale_us, int64_t *bytes);

/* ---- learned cost per method ----------------------------------------------
 */

/*
 * Each method keeps a second histogram of what its calls cost (the
 * largest growth of the process while the call ran), in fixed point
 * (MG_BOARD_COST_ONE per call) so that older calls can weigh less: once it
 * holds more than `recent_calls` calls, every count is halved. The
 * learned cost is a high quantile of it (the bucket's upper edge: never
 * below the truth, at most 1.5 times it), refreshed by the sampler; a
 * method called once a day keeps its estimate however long ago that was.
 * A running call that has grown past its method's estimate raises a
 * "live" floor at once; it lapses a few seconds after no look has seen
 * a call that high (its peak is in the histogram by then).
 */
#define MG_BOARD_COST_ONE 256u /* one call in the cost histogram */

/* Child: a call of method cost `bytes` (its peak growth). Until the next
 * refresh the estimate is at least `bytes`. */
void mg_board_method_cost_record(mg_board_t *b, uint32_t method,
                                 uint64_t bytes);

/* Sampler: a call of method in flight has grown `bytes` at now_us; raise
 * the live floor to it if higher (and keep the floor alive if it is at
 * least as high). Returns 1 if it was raised. */
int mg_board_method_cost_raise(mg_board_t *b, uint32_t method, uint64_t bytes,
                               uint64_t now_us);

/* A live floor no look has confirmed for this long lapses. */
#define MG_BOARD_LIVE_US 3000000u

/* Sampler: halve the histograms holding more than recent_calls calls
 * (0: never), set each learned cost to the q_permille quantile, drop the
 * live floors not confirmed for MG_BOARD_LIVE_US. O(methods x buckets). */
void mg_board_method_cost_refresh(mg_board_t *b, uint32_t q_permille,
                                  uint32_t recent_calls, uint64_t now_us);

/* The learned cost of method: max(learned quantile, live floor); *measured
 * (may be NULL) receives the number of calls measured so far. */
uint64_t mg_board_method_cost(const mg_board_t *b, uint32_t method,
                              uint64_t *measured);

/* For the status page. */
typedef struct {
    uint64_t learned;  /* the quantile */
    uint64_t live;     /* the live floor */
    uint64_t measured; /* calls measured */
    uint32_t reserved_inflight;
    uint32_t pad;
} mg_board_cost_info_t;
int mg_board_method_cost_info(const mg_board_t *b, uint32_t method,
                              mg_board_cost_info_t *out);

/* Board-wide admission counters. */
typedef enum {
    MG_ADMIT_ADMITTED = 0, /* calls reserved */
    MG_ADMIT_WAITED,       /* ... of them after waiting */
    MG_ADMIT_TINY,         /* calls too small to reserve */
    MG_ADMIT_REFUSED,      /* waited past the queue timeout, or no entry */
    MG_ADMIT_CEILING,      /* calls that hit their ceiling */
    MG_ADMIT_LAST_RESORT,  /* calls stopped by the sampler's last resort */
    MG_ADMIT_RAISED,       /* live raises of an estimate */
    MG_ADMIT__COUNT
} mg_board_admit_counter_t;
void mg_board_admit_count(mg_board_t *b, mg_board_admit_counter_t c);
uint64_t mg_board_admit_counter(const mg_board_t *b,
                                mg_board_admit_counter_t c);

/* ---- histogram (pure, testable without a board) -------------------------- */

/* The bucket a delta falls in. */
uint32_t mg_board_hist_bucket(int64_t delta);

/* Largest value bucket i stands for (its exclusive upper edge - 1);
 * UINT64_MAX for the last bucket. */
uint64_t mg_board_hist_upper(uint32_t i);

/*
 * Estimate the q-th quantile (q in permille: 950 = p95) of the values
 * counted in hist[MG_BOARD_HIST_BUCKETS], where max is the largest value
 * recorded. The estimate is the upper edge of the bucket holding the
 * rank-ceil(q*n/1000) value, capped at max, so it never UNDER-states a
 * cost: with t the true quantile, t <= estimate <= max(1.5 * t, 4 KiB),
 * since a bucket's upper edge is at most 1.5 times its lower edge. Above
 * 64 GiB (the last, open bucket) the estimate is max itself. Counts are
 * summed with saturation, so hostile values cannot wrap. Returns 0 for an
 * empty histogram.
 */
uint64_t mg_board_hist_quantile(const uint64_t *hist, uint32_t q_permille,
                                uint64_t max);

#endif /* MG_BOARD_H */
