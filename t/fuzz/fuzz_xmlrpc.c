/*
 * fuzz_xmlrpc.c - libFuzzer target for the XML-RPC inspector.
 *
 * The whole input is the body, so the unit fixtures are seeds as they
 * are. Its first byte also picks how the body is cut into chunks (the
 * glue feeds whatever the input filter hands over, down to one byte) and
 * whether tiny limits are used, so that every limit's refusal path runs,
 * and which names are multicalls.
 * Invariants that do not depend on the input are checked with a trap.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mg_xmlrpc.h"

#define FUZZ_CHECK(c)                                                          \
    do {                                                                       \
        if (!(c)) {                                                            \
            __builtin_trap();                                                  \
        }                                                                      \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return mg_xmlrpc_global_init();
}

typedef struct {
    unsigned calls;
    const mg_xmlrpc_t *x;
    uint32_t depth; /* multicall_depth */
} fuzz_rec_t;

/* Refuse a few names, to run the refusal path of the callback. */
static int fuzz_cb(void *baton, const char *name, size_t len, int level,
                   uint32_t index, mg_reason_t *reason)
{
    fuzz_rec_t *f = baton;
    char path[64];
    int n;

    FUZZ_CHECK(strlen(name) == len);
    FUZZ_CHECK(len > 0);
    FUZZ_CHECK(level >= 0 && (uint32_t)level <= f->depth);
    FUZZ_CHECK(level > 0 || index == 0);
    n = mg_xmlrpc_call_path(f->x, path, sizeof(path));
    FUZZ_CHECK(n >= 0 &&
               strlen(path) ==
                   ((size_t)n < sizeof(path) ? (size_t)n : sizeof(path) - 1));
    f->calls++;
    if (name[0] == 'd') {
        *reason = level ? MG_REASON_THROTTLE : MG_REASON_METHOD_DENIED;
        return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t sizes[] = {1, 2, 3, 7, 64, 511, 4096, 8192};
    mg_xmlrpc_limits_t lim;
    mg_xmlrpc_t *x;
    mg_xmlrpc_state_t st = MG_XR_CONTINUE;
    const mg_xmlrpc_refusal_t *r;
    static const char *const names[] = {"a", "multiCall", "m"};
    fuzz_rec_t rec = {0, NULL, 0};
    uint8_t sel = size > 0 ? data[0] : 0;
    size_t chunk = sizes[sel & 7], off = 0;

    mg_xmlrpc_limits_default(&lim);
    if (sel & 0x08) {
        lim.depth = 6;
        lim.elements = 40;
        lim.params = 3;
        lim.items = 4;
        lim.members = 4;
        lim.name = 8;
        lim.multicall = 2;
        lim.multicall_depth = 2;
        lim.token = 64;
        lim.string = 32;
    }
    rec.depth = lim.multicall_depth;
    if (mg_xmlrpc_new(&x, &lim, fuzz_cb, &rec) != 0) {
        return 0;
    }
    rec.x = x;
    /* bit 5: short names are multicalls too, so nesting is cheap to find */
    if (sel & 0x20) {
        FUZZ_CHECK(mg_xmlrpc_set_multicall(x, names, 3) == 0);
    }
    while (st == MG_XR_CONTINUE) {
        size_t n = size - off;

        /* bit 4: alternate the chunk size with single bytes */
        if ((sel & 0x10) && (off & 1)) {
            n = n > 1 ? 1 : n;
        }
        else if (n > chunk) {
            n = chunk;
        }
        st = mg_xmlrpc_feed(x, (const char *)data + off, n, off + n == size);
        off += n;
        FUZZ_CHECK(off <= size);
    }
    FUZZ_CHECK(st == mg_xmlrpc_state(x));
    r = mg_xmlrpc_refusal(x);
    if (st == MG_XR_ACCEPT) {
        FUZZ_CHECK(r == NULL);
        FUZZ_CHECK(mg_xmlrpc_method(x) != NULL);
        FUZZ_CHECK(strlen(mg_xmlrpc_method(x)) <= lim.name);
        FUZZ_CHECK(mg_xmlrpc_counters(x)->bytes == size);
        FUZZ_CHECK(rec.calls >= 1);
        FUZZ_CHECK(mg_xmlrpc_counters(x)->depth_max <= lim.depth);
        FUZZ_CHECK(mg_xmlrpc_counters(x)->multicall <= lim.multicall);
        FUZZ_CHECK(mg_xmlrpc_counters(x)->multicall_depth <=
                   lim.multicall_depth);
        /* every call of an accepted multicall had its name reported */
        FUZZ_CHECK(rec.calls >= 1 + mg_xmlrpc_counters(x)->multicall);
    }
    else {
        FUZZ_CHECK(r != NULL && r->what != NULL);
        FUZZ_CHECK(memchr(r->text, '\0', sizeof(r->text)) != NULL);
        FUZZ_CHECK(r->reason < MG_REASON__COUNT);
        FUZZ_CHECK(mg_xmlrpc_feed(x, "<", 1, 1) == st);
    }
    /* fed whole: the fast path, if it read it, decided as libxml2 does
     * (its plain tier as its general walk does) */
    if (mg_xmlrpc_counters(x)->fast) {
        fuzz_rec_t rec2 = {0, NULL, lim.multicall_depth};
        mg_xmlrpc_t *y;
        const mg_xmlrpc_refusal_t *r2;

        FUZZ_CHECK(size <= chunk);
        FUZZ_CHECK(mg_xmlrpc_new(&y, &lim, fuzz_cb, &rec2) == 0);
        rec2.x = y;
        if (sel & 0x20) {
            FUZZ_CHECK(mg_xmlrpc_set_multicall(y, names, 3) == 0);
        }
        /* the plain tier's against the general walk, the rest against
         * libxml2 */
        mg_xmlrpc_set_fast(y,
                           mg_xmlrpc_counters(x)->fast == MG_XMLRPC_READ_PLAIN
                               ? MG_XMLRPC_FAST_GENERAL
                               : MG_XMLRPC_FAST_NONE);
        FUZZ_CHECK(mg_xmlrpc_feed(y, (const char *)data, size, 1) == st);
        FUZZ_CHECK(rec2.calls == rec.calls);
        r2 = mg_xmlrpc_refusal(y);
        FUZZ_CHECK((r == NULL) == (r2 == NULL));
        if (r != NULL) {
            FUZZ_CHECK(r->reason == r2->reason &&
                       strcmp(r->what, r2->what) == 0);
        }
        if (mg_xmlrpc_counters(x)->fast == MG_XMLRPC_READ_PLAIN) {
            const mg_xmlrpc_counters_t *a = mg_xmlrpc_counters(x);
            const mg_xmlrpc_counters_t *b = mg_xmlrpc_counters(y);

            FUZZ_CHECK(b->fast == MG_XMLRPC_READ_WALK &&
                       a->elements == b->elements &&
                       a->depth_max == b->depth_max && a->params == b->params &&
                       a->string_max == b->string_max);
        }
        mg_xmlrpc_free(y);
    }
    mg_xmlrpc_free(x);
    return 0;
}
