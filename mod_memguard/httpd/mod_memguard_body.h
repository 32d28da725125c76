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

/* Is f MEMGUARD_BODY or MEMGUARD_WIRE? They count the body and hand it
 * on unchanged. */
int memguard_body_counter(const ap_filter_t *f);

/* The body-size refusal text, "[at least ]N bytes > limit L (what)":
 * at_least when only part of the body was read. */
const char *memguard_body_over_text(apr_pool_t *p, int at_least, apr_off_t n,
                                    apr_int64_t limit, const char *what);

#endif /* MOD_MEMGUARD_BODY_H */
