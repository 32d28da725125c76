/*
 * mod_memguard_sampler.h - the sampler process and its parent-side life
 * (mod_memguard_sampler.c): fork in post_config, restart on death, stop on
 * restart/shutdown.
 */
#ifndef MOD_MEMGUARD_SAMPLER_H
#define MOD_MEMGUARD_SAMPLER_H

#include "mod_memguard.h"

void memguard_sampler_register(apr_pool_t *p);
/* Is a sampler configured for this generation (thresholds set, or an
 * engine On/DetectOnly somewhere)? Valid in children. */
int memguard_sampler_enabled(void);
/* CLOCK_MONOTONIC µs when the parent first started a sampler for this
 * board, 0 if never (inherited by children: the start-up grace for a
 * board that was never sampled). */
uint64_t memguard_sampler_first_start_us(void);

#endif /* MOD_MEMGUARD_SAMPLER_H */
