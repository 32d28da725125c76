/*
 * mod_memguard_status.h - the memguard-status handler (HTML, ?auto, ?json,
 * ?prometheus, ?health) and a section in mod_status's page
 * (mod_memguard_status.c).
 */
#ifndef MOD_MEMGUARD_STATUS_H
#define MOD_MEMGUARD_STATUS_H

#include "mod_memguard.h"

void memguard_status_register(apr_pool_t *p);

/*
 * Is r for the status page (SetHandler memguard-status or
 * memguard-health)? Works from header_parser on, before r->handler is
 * set. Limits and the shedding gate must let such a request through: the
 * page is how an operator and a load balancer see that the server is
 * shedding.
 */
int memguard_is_status(request_rec *r);

#endif /* MOD_MEMGUARD_STATUS_H */
