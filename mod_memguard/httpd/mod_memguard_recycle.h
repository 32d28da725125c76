/*
 * mod_memguard_recycle.h - recycling a bloated child
 * (mod_memguard_recycle.c). Its settings are memguard_recycle_settings
 * (mod_memguard_config.h).
 */
#ifndef MOD_MEMGUARD_RECYCLE_H
#define MOD_MEMGUARD_RECYCLE_H

#include "mod_memguard.h"

#include "mg_policy.h" /* mg_recycle_reason_t */

void memguard_recycle_register(apr_pool_t *p);

/*
 * Mark the child serving r for recycling for reason (mg_recycle_reason_t:
 * RESPONSE, NICE, CEILING); `why` goes into the INFO log line. On prefork
 * the child recycles itself once this request is over; under a threaded
 * MPM the mark is only reported.
 */
void memguard_recycle_request(request_rec *r, uint32_t reason, const char *why);

/* Can a child of this MPM recycle itself by a signal (prefork-like:
 * forked, not threaded)? */
int memguard_recycle_mpm_can_signal(void);

/*
 * Child side, called by the accounting hooks with the size just read (0
 * when unknown): at the start of a request (header_parser: nothing sent
 * yet) and at its end (log_transaction). They compare with the child
 * limits and act on this child's recycle flag.
 */
void memguard_recycle_at_start(request_rec *r, apr_uint64_t rss);
void memguard_recycle_at_end(request_rec *r, apr_uint64_t rss);

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

#endif /* MOD_MEMGUARD_RECYCLE_H */
