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

/*
 * Child side, called by the accounting hooks with the size just read (0
 * when unknown): at the start of a request (header_parser: nothing sent
 * yet) and at its end (log_transaction). They compare with the child
 * limits and act on this child's recycle flag.
 */
void memguard_recycle_at_start(request_rec *r, apr_uint64_t rss);
void memguard_recycle_at_end(request_rec *r, apr_uint64_t rss);

#endif /* MOD_MEMGUARD_RECYCLE_H */
