/*
 * mod_memguard_account.h - per-request memory accounting
 * (mod_memguard_account.c).
 */
#ifndef MOD_MEMGUARD_ACCOUNT_H
#define MOD_MEMGUARD_ACCOUNT_H

#include "mod_memguard.h"

void memguard_account_register(apr_pool_t *p);

/* header_parser, first of mod_memguard.c's steps: the size at the start,
 * the slot counts the request in flight, the child's limits. */
void memguard_account_begin(request_rec *r);

/* log_transaction, after memguard_reject_log_status(): the size at the
 * end, the notes, the slot and method statistics, admission's record and
 * the child's limits. */
void memguard_account_end(request_rec *r);

#endif /* MOD_MEMGUARD_ACCOUNT_H */
