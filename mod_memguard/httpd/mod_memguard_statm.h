/*
 * mod_memguard_statm.h - this process's size from /proc/self/statm
 * (mod_memguard_statm.c): one fd per child, opened in child_init, one pread
 * per read.
 */
#ifndef MOD_MEMGUARD_STATM_H
#define MOD_MEMGUARD_STATM_H

#include "mod_memguard.h"

#include "mg_proc.h"

/* Open /proc/self/statm for this process (from a child_init hook: an fd
 * opened in the parent would keep describing the parent); closed with p.
 * 0, or -1 (logged at NOTICE: the per-request accounting is off). */
int memguard_statm_open(apr_pool_t *p, server_rec *s);

/* This process's resident size in bytes (one pread), also remembered as
 * the last size read. 0, or -1 when it cannot be read. */
int memguard_statm_rss(apr_uint64_t *rss);

/* The last size memguard_statm_rss() read (0: none yet), without a read. */
apr_uint64_t memguard_statm_last_rss(void);

/* Remember rss as the last size, read elsewhere (the size the recycle
 * filter read with the whole response in hand). */
void memguard_statm_remember(apr_uint64_t rss);

/* The whole of /proc/self/statm (one pread): 0 or -1. */
int memguard_statm_read(mg_proc_statm_t *st);

#endif /* MOD_MEMGUARD_STATM_H */
