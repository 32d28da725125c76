/*
 * mg_policy.h - pure decisions: the verdict (ok / throttle / shed) from a
 * sample, with a sustain time and a hysteresis margin; staleness; which
 * children to recycle. No I/O, no clock: the caller passes the time.
 *
 * Signals and the state each threshold leads to:
 *
 *   available   MemAvailable < MinAvailable           throttle / shed
 *   cgroup      limit - working set < MinAvailable    throttle / shed
 *               (percent of the cgroup limit; only with a finite limit)
 *   node        node available < MinNodeAvailable     throttle / shed
 *               (percent of the node's MemTotal; each allowed node)
 *   slab        Slab > MaxSlab                        throttle / shed
 *   sunreclaim  SUnreclaim > MaxUnreclaimableSlab     throttle / shed
 *   slab-cache  a named cache > its limit             throttle / shed
 *   psi-some    some avg10 > MaxPressure some         throttle
 *   psi-full    full avg10 > MaxPressure full         shed
 *
 * and the fill rate (MemGuardFillHorizon) of the byte signals available,
 * cgroup, node, slab and sunreclaim: the slope of the signal over the
 * samples of the last fill window, and the time it leaves until the
 * signal reaches its shed level (or its throttle level when no shed level
 * is set); for the minimum signals the slope is that of the value plus
 * the sample's reserved_growth (what admitted calls have grown within
 * their reservations: budgeted, not a fall):
 *
 *   *-fill      time to the level < throttle horizon  throttle
 *               time to the shed level < shed horizon shed
 *
 * The fill checks trip, sustain and clear like the others (value: the
 * time left in ms; threshold: the horizon in ms; cleared at horizon *
 * (1 + hysteresis), the hysteresis at least 50% for a rate), so a rate
 * that only flickers does not flap the verdict. Named slab caches have no fill
 * check: slabinfo is read about once a second, too seldom for a slope.
 *
 * Each pair has a throttle and a shed threshold, either or both unset.
 * Percent thresholds are of MemTotal unless said otherwise above. A signal
 * whose MG_SRC_* bit is clear in the sample is skipped, as if unset.
 */
#ifndef MG_POLICY_H
#define MG_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "mg_sample.h"
#include "mg_units.h"

typedef enum {
    MG_VERDICT_OK = 0,
    MG_VERDICT_THROTTLE = 1,
    MG_VERDICT_SHED = 2
} mg_verdict_state_t;

/* Signals; the numbers are stored in the board's verdict word. */
typedef enum {
    MG_SIGNAL_NONE = 0,
    MG_SIGNAL_AVAILABLE,
    MG_SIGNAL_CGROUP,
    MG_SIGNAL_NODE,
    MG_SIGNAL_SLAB,
    MG_SIGNAL_SUNRECLAIM,
    MG_SIGNAL_SLAB_CACHE,
    MG_SIGNAL_PSI_SOME,
    MG_SIGNAL_PSI_FULL,
    MG_SIGNAL_STALE,
    /* the fill rate of a byte signal (detail: node number for node) */
    MG_SIGNAL_FILL_AVAILABLE,
    MG_SIGNAL_FILL_CGROUP,
    MG_SIGNAL_FILL_NODE,
    MG_SIGNAL_FILL_SLAB,
    MG_SIGNAL_FILL_SUNRECLAIM,
    MG_SIGNAL__COUNT
} mg_signal_t;

/* MG_SIGNAL_FILL_* -> the level signal it follows; anything else -> NONE. */
mg_signal_t mg_signal_filled(mg_signal_t s);

/* "ok", "throttle", "shed"; "?" when out of range. */
const char *mg_verdict_state_name(mg_verdict_state_t s);

/* "available", "cgroup", "node", "slab", "sunreclaim", "slab-cache",
 * "psi-some", "psi-full", "stale", "available-fill", "cgroup-fill",
 * "node-fill", "slab-fill", "sunreclaim-fill"; "none" for MG_SIGNAL_NONE;
 * "?" when out of range. */
const char *mg_signal_name(mg_signal_t s);

/* One threshold that may be unset. */
typedef struct {
    int set;          /* 0: disabled */
    mg_threshold_t t; /* bytes, or basis points of a total */
} mg_policy_limit_t;

/* A throttle and a shed threshold for one signal. */
typedef struct {
    mg_policy_limit_t throttle;
    mg_policy_limit_t shed;
} mg_policy_pair_t;

typedef enum {
    MG_FAIL_OPEN = 0,  /* stale: let everything through */
    MG_FAIL_CLOSED = 1 /* stale: shed */
} mg_fail_mode_t;

typedef struct {
    mg_policy_pair_t min_available;      /* MemGuardMinAvailable; % of MemTotal,
                                            and of the limit for the cgroup */
    mg_policy_pair_t min_node_available; /* % of the node's MemTotal */
    mg_policy_pair_t max_slab;           /* Slab; % of MemTotal */
    mg_policy_pair_t max_sunreclaim;     /* SUnreclaim; % of MemTotal */
    uint32_t ncaches; /* named caches, <= MG_SAMPLE_MAX_CACHES */
    mg_policy_pair_t max_cache[MG_SAMPLE_MAX_CACHES]; /* index-aligned with
                                        mg_sample_t.caches; % of MemTotal */
    int psi_some_set;
    uint32_t psi_some_max; /* some avg10, 1/100 %: -> throttle */
    int psi_full_set;
    uint32_t psi_full_max;   /* full avg10, 1/100 %: -> shed */
    uint64_t sustain_us;     /* past a threshold this long to trip */
    uint32_t hysteresis_bp;  /* clear margin, 1/100 % (500 = 5%) */
    uint64_t stale_after_us; /* sample older than this: stale; 0 off */
    mg_fail_mode_t fail_mode;
    uint64_t fill_throttle_us; /* MemGuardFillHorizon: time to the level
                                  under which it throttles; 0 off */
    uint64_t fill_shed_us;     /* ... to the shed level: sheds; 0 off */
    uint64_t fill_window_us;   /* the slope's window; 0: 1 s */
} mg_policy_conf_t;

/* The byte signals whose fill rate is followed: available, cgroup, slab,
 * sunreclaim, then one per NUMA node of the sample. */
#define MG_POLICY_NFILL (4 + MG_SAMPLE_MAX_NODES)
/* Samples kept for the slope (at a 25 ms interval: the last 0.8 s). */
#define MG_POLICY_FILL_RING 32
#define MG_POLICY_FILL_WINDOW_US 1000000u
/* "never": the signal does not move toward its level */
#define MG_POLICY_TTE_NEVER UINT64_MAX

/* How fast one signal moves toward its level, as of the last sample. */
typedef struct {
    mg_signal_t signal;  /* the level signal (MG_SIGNAL_AVAILABLE...);
                            MG_SIGNAL_NONE: no level set or no slope yet */
    int32_t detail;      /* node number for node, else -1 */
    int64_t rate;        /* bytes per second toward the level (negative:
                            away from it; 0 inside the noise) */
    uint32_t shed_level; /* 1: level is the shed level */
    uint32_t pad;
    uint64_t level;    /* bytes: the shed level, else the throttle level */
    uint64_t distance; /* bytes still to go (0: at or past it) */
    uint64_t tte_us;   /* distance / rate; MG_POLICY_TTE_NEVER */
} mg_policy_fill_t;

/*
 * Evaluation state between samples; zero it before the first sample
 * (mg_policy_state_init). Owned by the sampler, never shared.
 */
#define MG_POLICY_NCHECKS                                                      \
    (2 * (4 + MG_SAMPLE_MAX_NODES + MG_SAMPLE_MAX_CACHES) + 2 +                \
     2 * MG_POLICY_NFILL)

typedef struct {
    mg_verdict_state_t state;
    uint32_t cause;                         /* check index behind the state */
    uint64_t since_us;                      /* when the state began */
    uint64_t past_since[MG_POLICY_NCHECKS]; /* 0: inside; else first time
                                               seen past (+1, so 0 is free) */
    /* the fill signals' last samples (a ring), for the slopes */
    uint32_t fill_n, fill_head;
    uint64_t fill_t[MG_POLICY_FILL_RING];
    uint32_t fill_ok[MG_POLICY_FILL_RING]; /* bit i: signal i was valid */
    uint64_t fill_v[MG_POLICY_NFILL][MG_POLICY_FILL_RING];
    mg_policy_fill_t fill[MG_POLICY_NFILL]; /* as of the last eval */
    uint32_t fill_watch; /* index of the fill nearest its level */
    uint32_t near;       /* a level within 25% of a threshold */

} mg_policy_state_t;

typedef struct {
    mg_verdict_state_t state;
    mg_verdict_state_t from; /* state before this eval */
    int transition;          /* 1 exactly once per change of state */
    mg_signal_t signal;      /* NONE when ok */
    int32_t detail;          /* node number (node), cache index
                                (slab-cache), else -1 */
    uint64_t value;          /* the signal's value now, and ... */
    uint64_t threshold;      /* ... the threshold of the state: bytes,
                                or 1/100 % for PSI */
    uint64_t clear_at;       /* value the signal must reach to clear
                                (threshold moved by the hysteresis) */
    uint64_t since_us;       /* when the current state began */
    /* the fill rate behind a MG_SIGNAL_FILL_* verdict; otherwise the
     * signal that would reach its level first (signal NONE: no slope) */
    mg_policy_fill_t fill;
} mg_verdict_t;

/* Start from ok, no signal past. */
void mg_policy_state_init(mg_policy_state_t *st);

/*
 * Judge sample s taken at now_us. A threshold TRIPS its state when the
 * signal has been past it in every sample for at least sustain_us (the
 * first sample past it starts the clock; one sample inside resets it).
 * The state rises to the highest tripped state at once (shed dominates
 * throttle), and steps down only when every signal of the states above is
 * back inside its threshold by the hysteresis margin: for a minimum,
 * value >= threshold * (1 + h); for a maximum, value <= threshold * (1 - h).
 * A sample with no valid source at all is judged stale (fail mode).
 * *out describes the state, the deciding signal and whether this call
 * changed the state. Returns 0, or -EINVAL for NULL arguments.
 */
int mg_policy_eval(const mg_policy_conf_t *c, mg_policy_state_t *st,
                   const mg_sample_t *s, uint64_t now_us, mg_verdict_t *out);

/*
 * The interval to sample at next, from base_us (MemGuardSampleInterval)
 * and the state of the last eval: base / 4 (not under min_us) while the
 * verdict is not ok, a level is within 25% of a threshold, or a signal
 * would reach its level within twice the throttle horizon (10 s when the
 * fill rate is off); else base, never more (a stretched interval would
 * see a storm's start that much later). Sampling fast when it matters
 * costs nothing when it does not.
 */
uint64_t mg_policy_interval(const mg_policy_conf_t *c,
                            const mg_policy_state_t *st, uint64_t base_us,
                            uint64_t min_us);

/*
 * The admission budget's base: the room left above the shed level in
 * sample s, the least over the minimum signals (available, cgroup, each
 * node); a signal with no shed level uses its throttle level. *room may
 * be negative (already past it); *signal and *detail (may be NULL) name
 * the signal with the least room, *level (may be NULL) its level. Returns 0, or
 * -ENOENT when no such level is set or its source is not in the sample (nothing
 * to bound).
 */
int mg_policy_room(const mg_policy_conf_t *c, const mg_sample_t *s,
                   int64_t *room, mg_signal_t *signal, int32_t *detail,
                   uint64_t *level);

/*
 * Is a sample taken at last_sample_us stale at now_us? Returns 1 and sets
 * *out to the fail-mode state (open: ok, closed: shed) if so; 0 and leaves
 * *out alone if fresh. last_sample_us == 0 (never sampled) is stale; a
 * clock that went backwards is not; stale_after_us 0 disables the check.
 */
int mg_policy_stale(const mg_policy_conf_t *c, uint64_t last_sample_us,
                    uint64_t now_us, mg_verdict_state_t *out);

/*
 * One line for logs and the status page, e.g.
 *   "shed: slab cache nfs_inode_cache 2.5 GiB > limit 2.0 GiB"
 *   "throttle: available 1.6 GiB, holding until >= 1.7 GiB (min 1.5 GiB)"
 * s (may be NULL) supplies the cache name. Always NUL-terminates when
 * n > 0; returns the length snprintf would have produced.
 */
int mg_verdict_describe(const mg_verdict_t *v, const mg_sample_t *s, char *buf,
                        size_t n);

/* ---- recycling ----------------------------------------------------------- */

/* Why a child is flagged for recycling (the board stores the code). */
typedef enum {
    MG_RECYCLE_NONE = 0,
    MG_RECYCLE_RSS = 1,      /* rss over a child limit */
    MG_RECYCLE_UNSHARED = 2, /* unshared over a child limit */
    MG_RECYCLE_HEADROOM = 3, /* biggest child while memory is short */
    MG_RECYCLE_RESPONSE = 4, /* built a response over its cap */
    MG_RECYCLE_NICE = 5,     /* ran a nice= call, cannot return from it */
    MG_RECYCLE_CEILING = 6,  /* a call hit its memory ceiling */
    MG_RECYCLE__COUNT
} mg_recycle_reason_t;

/* "rss", "unshared", "headroom", "response", "nice", "ceiling"; "none";
 * "?" when out of range. */
const char *mg_recycle_reason_name(uint32_t r);

/*
 * limit moved by a per-pid offset within +-jitter_bp (basis points, capped
 * at 100%), the same for the same pid every time, spread evenly over the
 * range for different pids, so that children started together do not all
 * reach their limit together. Saturates instead of overflowing; 0 stays 0.
 */
uint64_t mg_policy_jittered_limit(uint64_t limit, uint32_t jitter_bp,
                                  uint32_t pid);

/*
 * Should a child with this rss / unshared size be recycled? Compares with
 * the jittered limits (0 = limit unset). Returns the reason (0: no); value
 * and limit (may be NULL) receive the measured size and the jittered limit
 * it is over. rss is tested first.
 */
uint32_t mg_policy_recycle_check(uint64_t rss, uint64_t max_rss,
                                 uint64_t unshared, uint64_t max_unshared,
                                 uint32_t jitter_bp, uint32_t pid,
                                 uint64_t *value, uint64_t *limit);

/*
 * The indexes of the k largest nonzero sizes[0..n-1], largest first (ties:
 * lower index first), into out_idx (room for k). Pass 0 for children to
 * leave out (empty slots, already flagged). Returns how many were picked.
 */
uint32_t mg_policy_pick_largest(const uint64_t *sizes, uint32_t n, uint32_t k,
                                uint32_t *out_idx);

/*
 * How many children the sampler should flag biggest-first in one pass,
 * given the verdict: none when ok, one when throttling, up to max_per_pass
 * when shedding. The board's recycle budget still limits the total.
 */
uint32_t mg_policy_headroom_victims(mg_verdict_state_t state,
                                    uint32_t max_per_pass);

/* x * bp / 10000 for bp <= 10000 (basis points), without overflow. */
uint64_t mg_policy_scale_bp(uint64_t x, uint32_t bp);

#endif /* MG_POLICY_H */
