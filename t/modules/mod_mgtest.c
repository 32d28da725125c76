/*
 * mod_mgtest.c - a test-only module for mod_memguard's integration tests
 * and benchmarks. Never installed.
 *
 * SetHandler mgtest; the query string says what to do, in this order:
 *   alloc=N     allocate N MiB, touch every page, and keep it for the life
 *               of this child (so the child really grows)
 *   release=1   free everything this child holds
 *   sleep=MS    sleep MS milliseconds
 *   echo=1      read the request body and send it back byte for byte,
 *               streaming (each block written as soon as it is read)
 *   buffer=1    with echo: read the whole body first, then send it
 *   emit=N      send N bytes of 'x' (after anything above)
 *   chunked=1   with emit: no Content-Length (streamed, chunked on HTTP/1.1)
 *   flush=1     with emit: flush every 64 KiB so the response streams
 * The response ends with nothing else; without echo or emit it is a short
 * text line "pid=<pid> held=<MiB>". Deterministic memory, no Python.
 *
 * rpc=1 makes it a tiny XML-RPC application for a POST (behind
 * MemGuardXmlRpc, whose replay it reads): the call's methodName is
 * ignored, its first two <int> parameters are MiB and milliseconds, and
 * an optional third the milliseconds to wait after each MiB (a call that
 * grows slowly): allocate that much for the length of the call (touched),
 * sleep, free it, and answer <int>MiB</int>. When an allocation fails (a
 * ceiling, an exhausted box) it frees what it took and answers a fault
 * mentioning MemoryError, as a Python application would.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

module AP_MODULE_DECLARE_DATA mgtest_module;

#define MGTEST_MAX_BLOCKS 4096

static void *mgtest_blocks[MGTEST_MAX_BLOCKS];
static size_t mgtest_nblocks;
static apr_int64_t mgtest_held_mb;

static const char *arg(apr_table_t *t, const char *k)
{
    return t ? apr_table_get(t, k) : NULL;
}

static apr_table_t *parse_args(request_rec *r)
{
    apr_table_t *t = apr_table_make(r->pool, 8);
    char *args, *tok, *last;

    if (r->args == NULL) {
        return t;
    }
    args = apr_pstrdup(r->pool, r->args);
    for (tok = apr_strtok(args, "&", &last); tok;
         tok = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(tok, '=');
        if (eq) {
            *eq = '\0';
            apr_table_set(t, tok, eq + 1);
        }
        else {
            apr_table_set(t, tok, "1");
        }
    }
    return t;
}

static int do_alloc(apr_int64_t mb)
{
    apr_int64_t i;

    for (i = 0; i < mb && mgtest_nblocks < MGTEST_MAX_BLOCKS; i++) {
        char *p = malloc(1 << 20);
        if (p == NULL) {
            return -1;
        }
        /* Touch every page: untouched pages cost nothing and would not
         * show in RSS. */
        memset(p, 0xA5, 1 << 20);
        mgtest_blocks[mgtest_nblocks++] = p;
        mgtest_held_mb++;
    }
    return 0;
}

static void do_release(void)
{
    while (mgtest_nblocks > 0) {
        free(mgtest_blocks[--mgtest_nblocks]);
    }
    mgtest_held_mb = 0;
}

static int do_echo(request_rec *r, int buffer)
{
    char buf[8192];
    long n;
    int rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK);
    apr_bucket_brigade *bb;

    if (rc != OK) {
        return rc;
    }
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    ap_set_content_type(r, "application/octet-stream");
    if (ap_should_client_block(r)) {
        while ((n = ap_get_client_block(r, buf, sizeof(buf))) > 0) {
            if (buffer) {
                apr_brigade_write(bb, NULL, NULL, buf, (apr_size_t)n);
            }
            else {
                ap_rwrite(buf, (int)n, r);
            }
        }
        if (n < 0) {
            return AP_FILTER_ERROR;
        }
    }
    if (buffer) {
        apr_off_t len = 0;
        apr_brigade_length(bb, 1, &len);
        ap_set_content_length(r, len);
        return ap_pass_brigade(r->output_filters, bb) == APR_SUCCESS
                   ? OK
                   : AP_FILTER_ERROR;
    }
    return OK;
}

static void do_emit(request_rec *r, apr_int64_t n, int chunked, int flush)
{
    static char block[65536];
    apr_int64_t left = n;

    memset(block, 'x', sizeof(block));
    ap_set_content_type(r, "application/octet-stream");
    if (!chunked) {
        ap_set_content_length(r, (apr_off_t)n);
    }
    while (left > 0) {
        int k =
            left > (apr_int64_t)sizeof(block) ? (int)sizeof(block) : (int)left;
        if (ap_rwrite(block, k, r) < 0) {
            return;
        }
        left -= k;
        if (flush) {
            ap_rflush(r);
        }
    }
}

/* The n-th <int> (or <i4>) value of body, or -1. */
static apr_int64_t rpc_int(const char *body, int n)
{
    const char *p = body;
    int i;

    for (i = 0; p != NULL; i++) {
        const char *a = strstr(p, "<int>"), *b = strstr(p, "<i4>");
        const char *t = a && (!b || a < b) ? a + 5 : (b ? b + 4 : NULL);

        if (t == NULL) {
            return -1;
        }
        if (i == n) {
            return apr_atoi64(t);
        }
        p = t;
    }
    return -1;
}

static int do_rpc(request_rec *r)
{
    apr_bucket_brigade *bb;
    char *body;
    apr_off_t len = 0;
    apr_size_t got;
    apr_int64_t mb, ms, pace, i;
    void **held;
    int rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK), failed = 0;
    char buf[8192];
    long n;

    if (rc != OK) {
        return rc;
    }
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    if (ap_should_client_block(r)) {
        while ((n = ap_get_client_block(r, buf, sizeof(buf))) > 0) {
            apr_brigade_write(bb, NULL, NULL, buf, (apr_size_t)n);
        }
        if (n < 0) {
            return AP_FILTER_ERROR;
        }
    }
    apr_brigade_length(bb, 1, &len);
    body = apr_palloc(r->pool, (apr_size_t)len + 1);
    got = (apr_size_t)len;
    apr_brigade_flatten(bb, body, &got);
    body[got] = '\0';
    mb = rpc_int(body, 0);
    ms = rpc_int(body, 1);
    pace = rpc_int(body, 2);
    held = calloc(mb > 0 ? (size_t)mb : 1, sizeof(void *));
    for (i = 0; held != NULL && i < mb; i++) {
        held[i] = malloc(1 << 20);
        if (held[i] == NULL) {
            failed = 1;
            break;
        }
        memset(held[i], 0x5A, 1 << 20);
        if (pace > 0) {
            apr_sleep(apr_time_from_msec(pace));
        }
    }
    if (!failed && held != NULL && ms > 0) {
        apr_sleep(apr_time_from_msec(ms));
    }
    for (i = 0; held != NULL && i < mb && held[i] != NULL; i++) {
        free(held[i]);
    }
    free(held);
    ap_set_content_type(r, "text/xml");
    if (failed || held == NULL) {
        ap_rprintf(r,
                   "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n"
                   "<value><struct>\n<member>\n<name>faultCode</name>\n"
                   "<value><int>1</int></value>\n</member>\n<member>\n"
                   "<name>faultString</name>\n<value><string>&lt;class "
                   "'MemoryError'&gt;:allocating %" APR_INT64_T_FMT
                   " MiB</string></value>\n</member>\n</struct></value>\n"
                   "</fault>\n</methodResponse>\n",
                   mb);
        return OK;
    }
    ap_rprintf(r,
               "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n"
               "<value><int>%" APR_INT64_T_FMT "</int></value>\n</param>\n"
               "</params>\n</methodResponse>\n",
               mb);
    return OK;
}

static int mgtest_handler(request_rec *r)
{
    apr_table_t *a;
    const char *v;

    if (strcmp(r->handler, "mgtest")) {
        return DECLINED;
    }
    a = parse_args(r);
    if (arg(a, "rpc") && r->method_number == M_POST) {
        return do_rpc(r);
    }
    if ((v = arg(a, "alloc")) != NULL) {
        if (do_alloc(apr_atoi64(v)) != 0) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    if (arg(a, "release")) {
        do_release();
    }
    if ((v = arg(a, "sleep")) != NULL) {
        apr_sleep(apr_time_from_msec(apr_atoi64(v)));
    }
    if (arg(a, "echo")) {
        return do_echo(r, arg(a, "buffer") != NULL);
    }
    if ((v = arg(a, "emit")) != NULL) {
        do_emit(r, apr_atoi64(v), arg(a, "chunked") != NULL,
                arg(a, "flush") != NULL);
        return OK;
    }
    ap_set_content_type(r, "text/plain");
    ap_rprintf(r, "pid=%ld held=%" APR_INT64_T_FMT "\n", (long)getpid(),
               mgtest_held_mb);
    return OK;
}

static void mgtest_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(mgtest_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(mgtest) = {STANDARD20_MODULE_STUFF,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             mgtest_register_hooks,
                             AP_MODULE_FLAG_NONE};
