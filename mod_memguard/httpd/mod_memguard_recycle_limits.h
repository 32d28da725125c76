/*
 * mod_memguard_recycle_limits.h - what both sides of recycling share
 * (mod_memguard_recycle_limits.c).
 */
#ifndef MOD_MEMGUARD_RECYCLE_LIMITS_H
#define MOD_MEMGUARD_RECYCLE_LIMITS_H

#include "mod_memguard_config.h"

struct mg_board;

/* This process's recycling settings, defaults applied: read once, in
 * child_init (a child) or sampler_init (the sampler), by
 * memguard_recycle_limits_init(); read-only afterwards. */
extern memguard_recycle_settings memguard_recycle_set;

/* Read the settings into memguard_recycle_set; child: also work out this
 * child's own jittered limits once (a request then compares, it does not
 * hash). */
void memguard_recycle_limits_init(int child);

/* A soft or hard limit is set. */
int memguard_recycle_configured(const memguard_recycle_settings *st);

/* Can a child of this MPM recycle itself by a signal (prefork-like:
 * forked, not threaded)? */
int memguard_recycle_mpm_can_signal(void);

/* One token from the server-wide budget (MemGuardMaxRecyclesPerMinute);
 * 1: got it. */
int memguard_recycle_take(struct mg_board *b);

/*
 * Is size over a (jittered) limit for pid? Returns 0, or 1 with *limit
 * the jittered limit passed and *hard set when it is the hard one.
 */
int memguard_recycle_over(const memguard_recycle_settings *st,
                          apr_uint64_t size, apr_uint32_t pid,
                          apr_uint64_t *limit, int *hard);

/* The limit directive's name for a recycle reason, for log lines. */
const char *memguard_recycle_limit_name(uint32_t reason, int hard);

#endif /* MOD_MEMGUARD_RECYCLE_LIMITS_H */
