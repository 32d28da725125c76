/*
 * bench_xmlrpc.c - what the XML-RPC inspector costs over parsing alone.
 *
 * Generates a realistic call (one parameter: an array of Koji-like build
 * records, written the way Python's xmlrpc.client.dumps() writes them) of
 * 10 MB and of 100 MB, then, alternating in the same run so that both
 * see the same machine state, parses it in 8 KB chunks (the glue's bucket
 * size) with
 *   raw:       libxml2's SAX2 push parser with empty callbacks, same options
 *   inspector: mg_xmlrpc with its default limits
 * and prints the throughput of each (best round); the ratio inspector/raw
 * (target >= 0.9), as the median over the rounds of the ratio of a raw and
 * an inspector run made back to back, which a shared machine disturbs
 * least, and also as the ratio of the two bests; and the peak heap of each
 * run as seen by libxml2's allocator hooks (target for the inspector:
 * < 1 MiB, whatever the body size). The last line of output is one JSON
 * object.
 *
 * Usage: bench_xmlrpc [size_mb ...]   (default: 10 100)
 * Environment: MG_BENCH_ROUNDS (default 7 for 10 MB, 5 for bigger bodies;
 * at most 64).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlmemory.h>

#include "../unit/mg_xmlmem.h" /* counting allocator for libxml2 */
#include "mg_xmlrpc.h"

#define BENCH_CHUNK 8192
#define BENCH_MAX_SIZES 8
#define MiB (1024.0 * 1024.0)

/* ---- the body ---------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} bench_buf_t;

static int bench_put(bench_buf_t *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2;
        char *p = realloc(b->p, cap);

        if (p == NULL) {
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* One build record as Python writes a dict: a member per line. */
static int bench_record(bench_buf_t *b, unsigned i)
{
    char rec[2048];
    int n;

    n = snprintf(
        rec, sizeof(rec),
        "<value><struct>\n"
        "<member>\n<name>build_id</name>\n<value><int>%u</int></value>\n"
        "</member>\n"
        "<member>\n<name>package_name</name>\n<value><string>python-pkg%u"
        "</string></value>\n</member>\n"
        "<member>\n<name>version</name>\n<value><string>%u.%u.%u</string>"
        "</value>\n</member>\n"
        "<member>\n<name>release</name>\n<value><string>%u.fc%u</string>"
        "</value>\n</member>\n"
        "<member>\n<name>epoch</name>\n<value><nil/></value>\n</member>\n"
        "<member>\n<name>nvr</name>\n<value><string>python-pkg%u-%u.%u.%u-"
        "%u.fc%u</string></value>\n</member>\n"
        "<member>\n<name>state</name>\n<value><int>1</int></value>\n"
        "</member>\n"
        "<member>\n<name>owner_name</name>\n<value><string>releng</string>"
        "</value>\n</member>\n"
        "<member>\n<name>task_id</name>\n<value><int>%u</int></value>\n"
        "</member>\n"
        "<member>\n<name>creation_time</name>\n<value><string>2023-04-05 "
        "06:07:08.%06u+00:00</string></value>\n</member>\n"
        "<member>\n<name>completion_ts</name>\n<value><double>1680674828.%u"
        "</double></value>\n</member>\n"
        "<member>\n<name>volume_name</name>\n<value><string>DEFAULT</string>"
        "</value>\n</member>\n"
        "<member>\n<name>cg_id</name>\n<value><nil/></value>\n</member>\n"
        "<member>\n<name>source</name>\n<value><string>git+https://src."
        "fedoraproject.org/rpms/python-pkg%u.git#%08x%08x</string></value>\n"
        "</member>\n"
        "<member>\n<name>extra</name>\n<value><struct>\n<member>\n<name>"
        "source</name>\n<value><struct>\n<member>\n<name>original_url</name>"
        "\n<value><string>git+https://src.fedoraproject.org/rpms/python-"
        "pkg%u.git#master</string></value>\n</member>\n</struct></value>\n"
        "</member>\n<member>\n<name>tags</name>\n<value><array><data>\n"
        "<value><string>f%u</string></value>\n<value><string>f%u-updates"
        "</string></value>\n</data></array></value>\n</member>\n"
        "</struct></value>\n</member>\n"
        "</struct></value>\n",
        2000000 + i, i, i % 7, i % 13, i % 31, i % 5 + 1, 30 + i % 10, i, i % 7,
        i % 13, i % 31, i % 5 + 1, 30 + i % 10, 90000000 + i, i % 1000000,
        i % 100, i, i * 2654435761u, i ^ 0x5bd1e995u, i, 30 + i % 10,
        30 + i % 10);
    if (n < 0 || (size_t)n >= sizeof(rec)) {
        return -1;
    }
    return bench_put(b, rec, (size_t)n);
}

static int bench_body(bench_buf_t *b, size_t size)
{
    static const char head[] = "<?xml version='1.0'?>\n<methodCall>\n"
                               "<methodName>host.importBuilds</methodName>\n"
                               "<params>\n<param>\n<value><array><data>\n";
    static const char tail[] = "</data></array></value>\n</param>\n"
                               "</params>\n</methodCall>\n";
    unsigned i = 0;

    if (bench_put(b, head, sizeof(head) - 1) != 0) {
        return -1;
    }
    while (b->len + sizeof(tail) < size) {
        if (bench_record(b, i++) != 0) {
            return -1;
        }
    }
    return bench_put(b, tail, sizeof(tail) - 1);
}

/* ---- the two parsers --------------------------------------------------- */

static void raw_start(void *ud, const xmlChar *l, const xmlChar *p,
                      const xmlChar *u, int nns, const xmlChar **ns, int na,
                      int nd, const xmlChar **a)
{
    (void)ud;
    (void)l;
    (void)p;
    (void)u;
    (void)nns;
    (void)ns;
    (void)na;
    (void)nd;
    (void)a;
}

static void raw_end(void *ud, const xmlChar *l, const xmlChar *p,
                    const xmlChar *u)
{
    (void)ud;
    (void)l;
    (void)p;
    (void)u;
}

static void raw_text(void *ud, const xmlChar *s, int len)
{
    (void)ud;
    (void)s;
    (void)len;
}

static void raw_error(void *ud, xmlErrorPtr e)
{
    int *bad = ud;

    if (e != NULL && e->level >= XML_ERR_ERROR) {
        *bad = 1;
    }
}

/* The baseline: what any streaming check must pay, nothing else. Same
 * handler shape and options as the inspector (no tree, no DTD). */
static int bench_raw(const char *body, size_t len)
{
    xmlSAXHandler h;
    xmlParserCtxtPtr c;
    size_t off;
    int bad = 0;

    memset(&h, 0, sizeof(h));
    xmlSAXVersion(&h, 2);
    h.startDocument = NULL;
    h.endDocument = NULL;
    h.startElement = NULL;
    h.endElement = NULL;
    h.internalSubset = NULL;
    h.setDocumentLocator = NULL;
    h.startElementNs = raw_start;
    h.endElementNs = raw_end;
    h.characters = raw_text;
    h.ignorableWhitespace = raw_text;
    h.cdataBlock = raw_text;
    h.serror = raw_error;
    c = xmlCreatePushParserCtxt(&h, &bad, NULL, 0, NULL);
    if (c == NULL) {
        return -1;
    }
    xmlCtxtUseOptions(c, XML_PARSE_NONET);
    for (off = 0; off < len; off += BENCH_CHUNK) {
        size_t n = len - off < BENCH_CHUNK ? len - off : BENCH_CHUNK;

        xmlParseChunk(c, body + off, (int)n, off + n == len);
    }
    if (!c->wellFormed) {
        bad = 1;
    }
    xmlFreeParserCtxt(c);
    return bad ? -1 : 0;
}

static int bench_inspector(const char *body, size_t len)
{
    mg_xmlrpc_limits_t lim;
    mg_xmlrpc_t *x;
    mg_xmlrpc_state_t st = MG_XR_CONTINUE;
    size_t off;

    mg_xmlrpc_limits_default(&lim);
    if (mg_xmlrpc_new(&x, &lim, NULL, NULL) != 0) {
        return -1;
    }
    for (off = 0; off < len && st == MG_XR_CONTINUE; off += BENCH_CHUNK) {
        size_t n = len - off < BENCH_CHUNK ? len - off : BENCH_CHUNK;

        st = mg_xmlrpc_feed(x, body + off, n, off + n == len);
    }
    if (st != MG_XR_ACCEPT) {
        const mg_xmlrpc_refusal_t *r = mg_xmlrpc_refusal(x);

        fprintf(stderr, "bench_xmlrpc: inspector refused the body: %s\n",
                r != NULL ? r->text : "no end");
        mg_xmlrpc_free(x);
        return -1;
    }
    mg_xmlrpc_free(x);
    return 0;
}

/* ---- measuring --------------------------------------------------------- */

static double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define BENCH_MAX_ROUNDS 64

typedef struct {
    size_t bytes;
    unsigned rounds;
    double raw_best, insp_best; /* seconds */
    double ratio;               /* median of the rounds' ratios */
    size_t raw_peak, insp_peak; /* bytes over the baseline */
} bench_result_t;

static int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Time one run and measure its peak heap. */
static int bench_one(int (*fn)(const char *, size_t), const char *body,
                     size_t len, double *best, size_t *peak, double *took)
{
    size_t base;
    double t0, t;

    base = mem_mark();
    t0 = bench_now();
    if (fn(body, len) != 0) {
        return -1;
    }
    t = bench_now() - t0;
    *took = t;
    if (*best == 0 || t < *best) {
        *best = t;
    }
    if (mem_peak - base > *peak) {
        *peak = mem_peak - base;
    }
    return 0;
}

static int bench_size(size_t mb, unsigned rounds, bench_result_t *res)
{
    bench_buf_t b = {NULL, 0, 0};
    double ratios[BENCH_MAX_ROUNDS];
    unsigned r;

    memset(res, 0, sizeof(*res));
    if (bench_body(&b, mb << 20) != 0) {
        fprintf(stderr, "bench_xmlrpc: out of memory\n");
        free(b.p);
        return -1;
    }
    res->bytes = b.len;
    res->rounds = rounds;
    /* one unmeasured run of each warms caches and the page tables */
    if (bench_raw(b.p, b.len) != 0 || bench_inspector(b.p, b.len) != 0) {
        fprintf(stderr, "bench_xmlrpc: warm-up failed\n");
        free(b.p);
        return -1;
    }
    for (r = 0; r < rounds; r++) {
        /* alternate which goes first, so neither always runs second */
        int first_raw = (r & 1) == 0, k;
        double t_raw = 0, t_insp = 0;

        for (k = 0; k < 2; k++) {
            int rc;

            if ((k == 0) == first_raw) {
                rc = bench_one(bench_raw, b.p, b.len, &res->raw_best,
                               &res->raw_peak, &t_raw);
            }
            else {
                rc = bench_one(bench_inspector, b.p, b.len, &res->insp_best,
                               &res->insp_peak, &t_insp);
            }
            if (rc != 0) {
                fprintf(stderr, "bench_xmlrpc: parse failed\n");
                free(b.p);
                return -1;
            }
        }
        /* a pair run back to back sees the same load: the ratio of the
         * pair is steadier than the ratio of two separate bests */
        ratios[r] = t_raw / t_insp;
    }
    qsort(ratios, rounds, sizeof(ratios[0]), bench_cmp);
    res->ratio = rounds % 2 ? ratios[rounds / 2]
                            : (ratios[rounds / 2 - 1] + ratios[rounds / 2]) / 2;
    free(b.p);
    return 0;
}

int main(int argc, char **argv)
{
    size_t sizes[BENCH_MAX_SIZES] = {10, 100};
    bench_result_t res[BENCH_MAX_SIZES];
    unsigned nsizes = 2, i, base_rounds = 7;
    const char *env = getenv("MG_BENCH_ROUNDS");
    double ratio_min = 0;
    size_t peak_max = 0;
    int pass;

    if (argc > 1) {
        nsizes = 0;
        for (i = 1; i < (unsigned)argc && nsizes < BENCH_MAX_SIZES; i++) {
            long v = strtol(argv[i], NULL, 10);

            if (v <= 0 || v > 4096) {
                fprintf(stderr, "usage: %s [size_mb ...] (1..4096)\n", argv[0]);
                return 2;
            }
            sizes[nsizes++] = (size_t)v;
        }
    }
    if (env != NULL && atoi(env) > 0) {
        base_rounds = (unsigned)atoi(env);
        if (base_rounds > BENCH_MAX_ROUNDS) {
            base_rounds = BENCH_MAX_ROUNDS;
        }
    }
    if (xmlMemSetup(mem_free, mem_malloc, mem_realloc, mem_strdup) != 0) {
        return 1;
    }
    mg_xmlrpc_global_init();

    printf("XML-RPC inspector vs raw libxml2 %s SAX2 push parse, "
           "%d-byte chunks\n",
           LIBXML_DOTTED_VERSION, BENCH_CHUNK);
    for (i = 0; i < nsizes; i++) {
        /* fewer rounds for big bodies, but never fewer than 3 */
        unsigned rounds = base_rounds;
        double raw_mbps, insp_mbps, ratio;

        if (env == NULL && sizes[i] > 10) {
            rounds = 5;
        }
        if (bench_size(sizes[i], rounds, &res[i]) != 0) {
            return 1;
        }
        raw_mbps = (double)res[i].bytes / MiB / res[i].raw_best;
        insp_mbps = (double)res[i].bytes / MiB / res[i].insp_best;
        ratio = res[i].ratio;
        if (i == 0 || ratio < ratio_min) {
            ratio_min = ratio;
        }
        if (res[i].insp_peak > peak_max) {
            peak_max = res[i].insp_peak;
        }
        printf("%4zu MB body (%zu bytes), best of %u rounds:\n", sizes[i],
               res[i].bytes, res[i].rounds);
        printf("  raw SAX    %8.1f MB/s  peak heap %8zu bytes\n", raw_mbps,
               res[i].raw_peak);
        printf("  inspector  %8.1f MB/s  peak heap %8zu bytes "
               "(%+ld over raw)\n",
               insp_mbps, res[i].insp_peak,
               (long)res[i].insp_peak - (long)res[i].raw_peak);
        printf("  ratio inspector/raw %.3f (median of the rounds' paired "
               "ratios; of the bests %.3f)\n",
               ratio, insp_mbps / raw_mbps);
    }
    pass = ratio_min >= 0.9 && peak_max < (1u << 20);
    printf("targets: ratio >= 0.90 (worst %.3f), inspector peak heap < "
           "1 MiB (worst %zu): %s\n",
           ratio_min, peak_max, pass ? "met" : "NOT met");

    printf("{\"bench\":\"xmlrpc\",\"libxml2\":\"%s\",\"chunk\":%d,"
           "\"results\":[",
           LIBXML_DOTTED_VERSION, BENCH_CHUNK);
    for (i = 0; i < nsizes; i++) {
        double raw_mbps = (double)res[i].bytes / MiB / res[i].raw_best;
        double insp_mbps = (double)res[i].bytes / MiB / res[i].insp_best;

        printf("%s{\"size_mb\":%zu,\"bytes\":%zu,\"rounds\":%u,"
               "\"raw_mbps\":%.1f,\"inspector_mbps\":%.1f,\"ratio\":%.3f,"
               "\"raw_peak_bytes\":%zu,\"inspector_peak_bytes\":%zu,"
               "\"extra_peak_bytes\":%ld}",
               i ? "," : "", sizes[i], res[i].bytes, res[i].rounds, raw_mbps,
               insp_mbps, res[i].ratio, res[i].raw_peak, res[i].insp_peak,
               (long)res[i].insp_peak - (long)res[i].raw_peak);
    }
    printf("],\"ratio_min\":%.3f,\"ratio_target\":0.9,"
           "\"inspector_peak_max\":%zu,\"peak_target\":1048576,"
           "\"pass\":%s}\n",
           ratio_min, peak_max, pass ? "true" : "false");
    return 0;
}
