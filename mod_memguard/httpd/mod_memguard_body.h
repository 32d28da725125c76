/*
 * mod_memguard_body.h - MemGuardMaxRequestBody, the MEMGUARD_BODY and
 * MEMGUARD_WIRE input filters (mod_memguard_body.c).
 */
#ifndef MOD_MEMGUARD_BODY_H
#define MOD_MEMGUARD_BODY_H

#include "mod_memguard.h"

void memguard_body_register(apr_pool_t *p);

/* header_parser, third of mod_memguard.c's steps: DECLINED to go on, or
 * a refusal's DONE / HTTP status, which ends the phase. */
int memguard_body_header_parser(request_rec *r);

#endif /* MOD_MEMGUARD_BODY_H */
