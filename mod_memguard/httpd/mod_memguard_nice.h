/*
 * mod_memguard_nice.h - MemGuardMethod nice= (mod_memguard_nice.c).
 */
#ifndef MOD_MEMGUARD_NICE_H
#define MOD_MEMGUARD_NICE_H

#include "mod_memguard.h"

void memguard_nice_register(apr_pool_t *p);
/* While the configuration is read: some rule has nice=. */
void memguard_nice_note_used(void);
/* Prefork: lower this child's priority by nice (1 to 19) for r; back at
 * the end of r, or, where the child may not return (RLIMIT_NICE), it is
 * recycled after r. Nothing under threaded MPMs. */
void memguard_nice_begin(request_rec *r, int nice, const char *method);

#endif /* MOD_MEMGUARD_NICE_H */
