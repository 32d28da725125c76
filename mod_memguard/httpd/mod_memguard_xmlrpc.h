/*
 * mod_memguard_xmlrpc.h - MemGuardXmlRpc (mod_memguard_xmlrpc.c): inspect
 * before dispatch, spool, replay.
 */
#ifndef MOD_MEMGUARD_XMLRPC_H
#define MOD_MEMGUARD_XMLRPC_H

#include "mod_memguard.h"

void memguard_xmlrpc_register(apr_pool_t *p);

#endif /* MOD_MEMGUARD_XMLRPC_H */
