/*
 * mod_memguard_recycle_sampler.h - recycling, the sampler's side
 * (mod_memguard_recycle_sampler.c).
 */
#ifndef MOD_MEMGUARD_RECYCLE_SAMPLER_H
#define MOD_MEMGUARD_RECYCLE_SAMPLER_H

#include "mod_memguard.h"

/*
 * Sampler side: the sampler process calls these (mod_memguard_sampler.c).
 *
 * memguard_recycle_sampler_init(): once in the sampler process, after its
 * own signal handlers are set and BEFORE it drops privileges (it opens
 * /proc as a directory for the daemon scan and allocates its fixed tables
 * from p; nothing is allocated later). parent is the httpd parent's pid:
 * watched daemons must be its children.
 *
 * memguard_recycle_sampler_tick(): from the sampler's measuring thread
 * (never the publishing one: reading other processes can take long on a
 * loaded box), at each of its ticks, with the CLOCK_MONOTONIC time
 * (memguard_now_us()) and the verdict state last published
 * (mg_verdict_state_t). Never allocates;
 * its own work is paced inside (children every call: O(slots); pressure
 * picks and daemon sizes once a second: O(slots + watched daemons); the
 * /proc scan for new daemons every 2 s: O(processes)). Does nothing when
 * no recycling directive is set.
 */
void memguard_recycle_sampler_init(server_rec *s, apr_pool_t *p, pid_t parent);
void memguard_recycle_sampler_tick(server_rec *s, apr_uint64_t now_us,
                                   apr_uint32_t verdict_state);

#endif /* MOD_MEMGUARD_RECYCLE_SAMPLER_H */
