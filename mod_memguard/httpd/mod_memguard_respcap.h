/*
 * mod_memguard_respcap.h - MemGuardMaxResponse, the MEMGUARD_RESPCAP
 * output filter (mod_memguard_respcap.c).
 */
#ifndef MOD_MEMGUARD_RESPCAP_H
#define MOD_MEMGUARD_RESPCAP_H

#include "mod_memguard.h"

void memguard_respcap_register(apr_pool_t *p);

/*
 * Lower the response cap of r to `limit` bytes (a per-method
 * max-response= rule). The effective cap is the smaller of this and
 * MemGuardMaxResponse; limit <= 0 changes nothing, and a call can only
 * lower the cap, never raise it. Call it before the handler writes
 * (fixups at the latest); the filter is added if it is not in place yet.
 * Does nothing when MemGuardEngine is Off.
 */
void memguard_respcap_set_limit(request_rec *r, apr_int64_t limit);

#endif /* MOD_MEMGUARD_RESPCAP_H */
