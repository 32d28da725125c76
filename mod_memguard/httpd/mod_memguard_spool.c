/*
 * mod_memguard_spool.c - the inspected body, held until it is judged: in
 * memory up to MemGuardSpoolMemory, then in an unlinked temporary file in
 * MemGuardSpoolDir (the system's temporary directory by default); then
 * handed to the real handler, byte for byte, by the MEMGUARD_REPLAY input
 * filter. Used by the XML-RPC inspection (mod_memguard_xmlrpc.c).
 */
#include "apr_file_io.h"
#include "apr_file_info.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"

#include "mod_memguard_spool.h"

/* The system's temporary directory, found once in post_config. */
static const char *spool_tmpdir = "/tmp";

memguard_spool *memguard_spool_make(request_rec *r, apr_int64_t mem_max,
                                    const char *dir)
{
    memguard_spool *sp = apr_pcalloc(r->pool, sizeof(*sp));

    sp->r = r;
    sp->mem = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    sp->mem_max = mem_max;
    sp->dir = dir ? dir : spool_tmpdir;
    return sp;
}

static apr_status_t unlink_cleanup(void *path)
{
    apr_pool_t *p = NULL;

    if (apr_pool_create(&p, NULL) == APR_SUCCESS) {
        apr_file_remove(path, p);
        apr_pool_destroy(p);
    }
    return APR_SUCCESS;
}

/* Move what is in memory to a fresh temporary file, unlinked at once: it
 * lives exactly as long as its descriptor (the request), whatever way the
 * process ends. */
static apr_status_t spool_to_file(memguard_spool *sp)
{
    request_rec *r = sp->r;
    char *path = apr_pstrcat(r->pool, sp->dir, "/memguard-spool-XXXXXX", NULL);
    apr_bucket *e;
    apr_status_t rv;

    rv = apr_file_mktemp(&sp->file, path,
                         APR_FOPEN_CREATE | APR_FOPEN_READ | APR_FOPEN_WRITE |
                             APR_FOPEN_EXCL,
                         r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      MGLOGNO(00202) "cannot create a spool file in %s "
                                     "(MemGuardSpoolDir)",
                      sp->dir);
        sp->file = NULL;
        return rv;
    }
    rv = apr_file_remove(path, r->pool);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                      MGLOGNO(00203) "cannot unlink spool file %s now: it is "
                                     "removed when the request ends",
                      path);
        apr_pool_cleanup_register(r->pool, path, unlink_cleanup,
                                  apr_pool_cleanup_null);
    }
    for (e = APR_BRIGADE_FIRST(sp->mem); e != APR_BRIGADE_SENTINEL(sp->mem);
         e = APR_BUCKET_NEXT(e)) {
        const char *data;
        apr_size_t n;

        rv = apr_bucket_read(e, &data, &n, APR_BLOCK_READ);
        if (rv == APR_SUCCESS) {
            rv = apr_file_write_full(sp->file, data, n, NULL);
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    apr_brigade_cleanup(sp->mem);
    sp->mem_len = 0;
    return APR_SUCCESS;
}

apr_status_t memguard_spool_write(memguard_spool *sp, const char *data,
                                  apr_size_t n)
{
    apr_status_t rv;

    if (sp->file == NULL && sp->mem_len + (apr_off_t)n <= sp->mem_max) {
        /* Copied into 8 KB heap buckets: the socket's buffers go back at
         * once, and many tiny chunks do not cost a bucket each. */
        rv = apr_brigade_write(sp->mem, NULL, NULL, data, n);
        sp->mem_len += (apr_off_t)n;
    }
    else {
        if (sp->file == NULL && (rv = spool_to_file(sp)) != APR_SUCCESS) {
            return rv;
        }
        rv = apr_file_write_full(sp->file, data, n, NULL);
        if (rv != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, sp->r,
                          MGLOGNO(00204) "cannot write to a spool file in %s "
                                         "(MemGuardSpoolDir)",
                          sp->dir);
        }
    }
    if (rv == APR_SUCCESS) {
        sp->len += (apr_off_t)n;
    }
    return rv;
}

apr_status_t memguard_brigade_bytes(apr_bucket_brigade *bb, apr_pool_t *p,
                                    const char **data, apr_size_t *len)
{
    apr_bucket *e = APR_BRIGADE_FIRST(bb);
    char *copy;
    apr_status_t rv;

    if (APR_BRIGADE_EMPTY(bb)) {
        *data = "";
        *len = 0;
        return APR_SUCCESS;
    }
    if (APR_BUCKET_NEXT(e) == APR_BRIGADE_SENTINEL(bb)) {
        return apr_bucket_read(e, data, len, APR_BLOCK_READ);
    }
    rv = apr_brigade_pflatten(bb, &copy, len, p);
    *data = copy;
    return rv;
}

apr_status_t memguard_spool_bytes(memguard_spool *sp, const char **data,
                                  apr_size_t *len)
{
    if (sp->file != NULL) {
        return APR_EINVAL;
    }
    return memguard_brigade_bytes(sp->mem, sp->r->pool, data, len);
}

/* The spooled bytes as a brigade: the heap buckets, or the file. */
static apr_bucket_brigade *spool_brigade(memguard_spool *sp)
{
    apr_bucket *e;

    if (sp->file == NULL) {
        return sp->mem;
    }
    apr_brigade_insert_file(sp->mem, sp->file, 0, sp->len, sp->r->pool);
    /* Read in 8 KB heap buckets, not a mapping per piece the handler
     * asks for. */
    for (e = APR_BRIGADE_FIRST(sp->mem); e != APR_BRIGADE_SENTINEL(sp->mem);
         e = APR_BUCKET_NEXT(e)) {
        if (APR_BUCKET_IS_FILE(e)) {
            apr_bucket_file_enable_mmap(e, 0);
        }
    }
    return sp->mem;
}

typedef struct {
    apr_bucket_brigade *bb; /* what is left to hand over */
    int passthrough;        /* body not all read: go on below afterwards */
} spool_replay;

/*
 * MEMGUARD_REPLAY: hands the handler the spooled body, byte for byte, then
 * EOS (in the same brigade as the last bytes, so a reader that stops at
 * EOS needs no extra call). It never reads below itself: the body was
 * read to its end already. Under DetectOnly a body over the bound was not
 * all read; then the rest comes from below once the spool is empty.
 */
static apr_status_t replay_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                  ap_input_mode_t mode, apr_read_type_e block,
                                  apr_off_t readbytes)
{
    spool_replay *rp = f->ctx;
    apr_bucket *e;
    apr_status_t rv;

    if (APR_BRIGADE_EMPTY(rp->bb)) {
        if (rp->passthrough ||
            (mode != AP_MODE_READBYTES && mode != AP_MODE_GETLINE &&
             mode != AP_MODE_SPECULATIVE)) {
            return ap_get_brigade(f->next, bb, mode, block, readbytes);
        }
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
        return APR_SUCCESS;
    }
    if (mode == AP_MODE_GETLINE) {
        rv = apr_brigade_split_line(
            bb, rp->bb, block, readbytes > 0 ? readbytes : HUGE_STRING_LEN);
    }
    else if (mode == AP_MODE_READBYTES || mode == AP_MODE_SPECULATIVE) {
        if (readbytes <= 0) {
            readbytes = AP_IOBUFSIZE;
        }
        rv = apr_brigade_partition(rp->bb, readbytes, &e);
        if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
            return rv;
        }
        rv = APR_SUCCESS;
        if (mode == AP_MODE_SPECULATIVE) {
            apr_bucket *b, *copy;
            for (b = APR_BRIGADE_FIRST(rp->bb); b != e;
                 b = APR_BUCKET_NEXT(b)) {
                rv = apr_bucket_copy(b, &copy);
                if (rv != APR_SUCCESS) {
                    return rv;
                }
                APR_BRIGADE_INSERT_TAIL(bb, copy);
            }
            return APR_SUCCESS;
        }
        while (APR_BRIGADE_FIRST(rp->bb) != e) {
            apr_bucket *b = APR_BRIGADE_FIRST(rp->bb);
            APR_BUCKET_REMOVE(b);
            APR_BRIGADE_INSERT_TAIL(bb, b);
        }
    }
    else {
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    if (rv == APR_SUCCESS && !rp->passthrough && APR_BRIGADE_EMPTY(rp->bb)) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
    }
    return rv;
}

static ap_filter_rec_t *replay_handle;

void memguard_spool_replay(memguard_spool *sp, int passthrough)
{
    request_rec *r = sp->r;
    spool_replay *rp;

    /* Hand the body over with its true length: a chunked or inflated
     * body is now a plain one, so mod_wsgi accepts it without
     * WSGIChunkedRequest. */
    rp = apr_palloc(r->pool, sizeof(*rp));
    rp->bb = spool_brigade(sp);
    rp->passthrough = passthrough;
    if (!passthrough) {
        apr_table_setn(r->headers_in, "Content-Length",
                       apr_off_t_toa(r->pool, sp->len));
        apr_table_unset(r->headers_in, "Transfer-Encoding");
        r->read_chunked = 0;
        r->remaining = sp->len;
    }
    ap_add_input_filter_handle(replay_handle, rp, r, r->connection);
}

/* The system's temporary directory, in the parent before any child. */
static int spool_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    const char *dir = NULL;

    (void)plog;
    (void)ptemp;
    (void)s;
    if (apr_temp_dir_get(&dir, pconf) == APR_SUCCESS && dir != NULL) {
        spool_tmpdir = dir;
    }
    return OK;
}

void memguard_spool_register(apr_pool_t *p)
{
    (void)p;
    /* MIDDLE: only asks APR; no ordering against other modules. */
    ap_hook_post_config(spool_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* Above MEMGUARD_BODY (AP_FTYPE_RESOURCE - 2) and every other request
     * input filter: the handler reads the replay, nothing is counted or
     * inflated twice. */
    replay_handle = ap_register_input_filter("MEMGUARD_REPLAY", replay_filter,
                                             NULL, AP_FTYPE_RESOURCE - 3);
}
