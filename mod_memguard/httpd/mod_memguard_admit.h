/*
 * mod_memguard_admit.h - admission by memory cost (mod_memguard_admit.c).
 * Its settings are memguard_admit_settings (mod_memguard_config.h).
 */
#ifndef MOD_MEMGUARD_ADMIT_H
#define MOD_MEMGUARD_ADMIT_H

#include "mod_memguard.h"

typedef struct memguard_admit_call memguard_admit_call;

void memguard_admit_register(apr_pool_t *p);
/* The inspector, for the call's method (inner: 0) and each inner call of
 * a multicall (inner: 1): its board method and its rule's memory= (0). */
void memguard_admit_method(request_rec *r, uint32_t method, apr_int64_t memory,
                           int inner);
/* After the rules and the gate: reserve the call's expected cost, waiting
 * up to MemGuardAdmitWait. OK, or what memguard_refuse() returned. */
int memguard_admit(request_rec *r);
/* Was r's call admitted as tiny (no reservation, no wait)? */
int memguard_admit_tiny(request_rec *r);
/* log_transaction (accounting): record what the call took (rss and delta
 * when have), give its reservation back. */
void memguard_admit_end(request_rec *r, uint64_t rss, int64_t delta, int have);

#endif /* MOD_MEMGUARD_ADMIT_H */
