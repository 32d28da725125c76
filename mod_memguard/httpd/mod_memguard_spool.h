/*
 * mod_memguard_spool.h - the inspected body's spool and its replay
 * (mod_memguard_spool.c).
 */
#ifndef MOD_MEMGUARD_SPOOL_H
#define MOD_MEMGUARD_SPOOL_H

#include "mod_memguard.h"

typedef struct {
    request_rec *r;
    apr_bucket_brigade *mem; /* heap buckets while the body fits */
    apr_off_t mem_len;
    apr_int64_t mem_max; /* MemGuardSpoolMemory */
    const char *dir;     /* MemGuardSpoolDir */
    apr_file_t *file;    /* once past mem_max: unlinked already */
    apr_off_t len;       /* bytes spooled */
} memguard_spool;

/* The post_config hook (the temporary directory) and MEMGUARD_REPLAY. */
void memguard_spool_register(apr_pool_t *p);

/* An empty spool for r's body: mem_max bytes in memory, then a file in
 * dir (NULL: the system's temporary directory). */
memguard_spool *memguard_spool_make(request_rec *r, apr_int64_t mem_max,
                                    const char *dir);

/* Add n bytes; past mem_max everything moves to an unlinked temporary
 * file. APR_SUCCESS, or the failure (logged). */
apr_status_t memguard_spool_write(memguard_spool *sp, const char *data,
                                  apr_size_t n);

/* The bytes of bb (data buckets of known length) in one piece: the
 * bucket's own when there is one, else a copy in p. */
apr_status_t memguard_brigade_bytes(apr_bucket_brigade *bb, apr_pool_t *p,
                                    const char **data, apr_size_t *len);

/* The spooled body in one piece, while it is in memory: *data points
 * into the spool's bucket when the body is in one (as a small body
 * usually is), else into a copy in r's pool. APR_SUCCESS, or an error
 * (the body is in a file: not for this). */
apr_status_t memguard_spool_bytes(memguard_spool *sp, const char **data,
                                  apr_size_t *len);

/* Hand the spooled body to the real handler through MEMGUARD_REPLAY, with
 * its true length (a chunked or inflated body becomes a plain one).
 * passthrough: DetectOnly left the rest unread; it follows from below. */
void memguard_spool_replay(memguard_spool *sp, int passthrough);

#endif /* MOD_MEMGUARD_SPOOL_H */
