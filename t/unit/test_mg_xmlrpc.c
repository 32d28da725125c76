/*
 * test_mg_xmlrpc.c - the streaming XML-RPC inspector.
 *
 * Small fixtures live in fixtures/xmlrpc/ (ok_* must pass, the others are
 * refused; real calls as Python's xmlrpc.client.dumps() writes them are
 * ok_py_*). Big hostile bodies (50 MB string, a million items, depth
 * 100000, 100000 calls...) are generated here. libxml2's allocator is
 * replaced by a counting one, so the peak heap of the parser plus the
 * inspector can be asserted.
 */
#include <dirent.h>
#include <errno.h>
#include <unistd.h>

#include <libxml/xmlerror.h>
#include <libxml/xmlmemory.h>

#include "mg_test.h"
#include "mg_xmlmem.h"
#include "mg_xmlrpc.h"

/* ---- counting allocator for libxml2: mg_xmlmem.h ---------------------- */

/* ---- feeding ----------------------------------------------------------- */

enum { CHUNK_8K = 0, CHUNK_1, CHUNK_RANDOM, CHUNK_ALL };

typedef struct {
    mg_xmlrpc_state_t state;
    mg_reason_t reason;
    const char *what;
    char text[200];
    char method[64]; /* the top-level methodName, "" if none */
    size_t peak;     /* bytes over the baseline, inspector + libxml2 */
} outcome_t;

/* Method callback recorder. */
#define REC_MAX 16
typedef struct {
    unsigned calls;
    char names[REC_MAX][64];
    int inner[REC_MAX]; /* the multicall level */
    uint32_t index[REC_MAX];
    char paths[REC_MAX][96];
    const mg_xmlrpc_t *x; /* set by run(): paths are recorded */
    const char *deny;     /* refuse this name */
    mg_reason_t reason;   /* ... with this reason */
} rec_t;

static int rec_cb(void *baton, const char *name, size_t len, int inner,
                  uint32_t index, mg_reason_t *reason)
{
    rec_t *r = baton;

    assert_int_equal(strlen(name), len);
    if (r->calls < REC_MAX) {
        snprintf(r->names[r->calls], sizeof(r->names[0]), "%s", name);
        r->inner[r->calls] = inner;
        r->index[r->calls] = index;
        if (r->x != NULL) {
            mg_xmlrpc_call_path(r->x, r->paths[r->calls], sizeof(r->paths[0]));
        }
    }
    r->calls++;
    if (r->deny != NULL && strcmp(name, r->deny) == 0) {
        assert_int_equal(*reason, MG_REASON_METHOD_DENIED);
        *reason = r->reason;
        return 1;
    }
    return 0;
}

static unsigned rng_state = 12345;

static size_t rng(size_t n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (size_t)((rng_state >> 8) % n);
}

/* Feed a body to x in chunks of the given kind and say what came of it. */
static outcome_t feed_doc(mg_xmlrpc_t *x, const char *buf, size_t len, int mode)
{
    mg_xmlrpc_state_t st = MG_XR_CONTINUE;
    outcome_t o;
    size_t off = 0;

    memset(&o, 0, sizeof(o));
    while (st == MG_XR_CONTINUE) {
        size_t n = len - off;

        if (mode == CHUNK_1 && n > 1) {
            n = 1;
        }
        else if (mode == CHUNK_8K && n > 8192) {
            n = 8192;
        }
        else if (mode == CHUNK_RANDOM && n > 0) {
            n = 1 + rng(n < 3000 ? n : 3000);
        }
        st = mg_xmlrpc_feed(x, buf + off, n, off + n == len);
        off += n;
        assert_true(off <= len);
    }
    o.state = st;
    assert_int_equal(mg_xmlrpc_state(x), st);
    if (mg_xmlrpc_method(x) != NULL) {
        snprintf(o.method, sizeof(o.method), "%s", mg_xmlrpc_method(x));
    }
    if (st == MG_XR_ACCEPT) {
        assert_null(mg_xmlrpc_refusal(x));
        assert_non_null(mg_xmlrpc_method(x));
        assert_int_equal(mg_xmlrpc_counters(x)->bytes, len);
    }
    else {
        const mg_xmlrpc_refusal_t *r = mg_xmlrpc_refusal(x);

        assert_non_null(r);
        assert_non_null(r->what);
        o.reason = r->reason;
        o.what = r->what;
        snprintf(o.text, sizeof(o.text), "%s", r->text);
        /* once refused, the inspector stays refused */
        assert_int_equal(mg_xmlrpc_feed(x, "<", 1, 1), st);
    }
    return o;
}

static outcome_t run(const char *buf, size_t len, int mode,
                     const mg_xmlrpc_limits_t *lim, rec_t *rec)
{
    mg_xmlrpc_limits_t def;
    mg_xmlrpc_t *x = NULL;
    outcome_t o;
    size_t base;

    if (lim == NULL) {
        mg_xmlrpc_limits_default(&def);
        lim = &def;
    }
    /* libxml2 keeps a copy of the last error per thread, replaced by the
     * next one: not the inspector's memory */
    xmlResetLastError();
    base = mem_mark();
    assert_int_equal(mg_xmlrpc_new(&x, lim, rec != NULL ? rec_cb : NULL, rec),
                     0);
    if (rec != NULL) {
        rec->x = x;
    }
    o = feed_doc(x, buf, len, mode);
    if (rec != NULL) {
        rec->x = NULL;
    }
    mg_xmlrpc_free(x);
    o.peak = mem_peak - base;
    xmlResetLastError();
    if (mem_cur != base) { /* everything went back */
        fail_msg("%zu bytes not freed (%.60s)", mem_cur - base, buf);
    }
    return o;
}

/* ---- the corpus -------------------------------------------------------- */

typedef struct {
    const char *file;
    mg_xmlrpc_state_t state;
    mg_reason_t reason;
    const char *what;
} corpus_case_t;

#define OK(f)                                                                  \
    {                                                                          \
        f, MG_XR_ACCEPT, 0, NULL                                               \
    }
#define PARSE(f, w)                                                            \
    {                                                                          \
        f, MG_XR_REJECT, MG_REASON_XML_PARSE, w                                \
    }
#define INVALID(f, w)                                                          \
    {                                                                          \
        f, MG_XR_REJECT, MG_REASON_XML_INVALID, w                              \
    }
#define LIMIT(f, w)                                                            \
    {                                                                          \
        f, MG_XR_REJECT, MG_REASON_XML_LIMIT, w                                \
    }

static const corpus_case_t corpus[] = {
    OK("ok_py_getbuild.xml"),
    OK("ok_py_noparams.xml"),
    OK("ok_py_alltypes.xml"),
    OK("ok_py_unicode.xml"),
    OK("ok_py_latin1.xml"),
    OK("ok_py_multicall.xml"),
    OK("ok_py_koji_multicall.xml"),
    OK("ok_py_nested_multicall.xml"),
    OK("ok_py_builds.xml"),
    OK("ok_py_upload.xml"),
    OK("ok_bom.xml"),
    OK("ok_nodecl.xml"),
    OK("ok_cdata.xml"),
    OK("ok_comments_pi.xml"),
    OK("ok_all_types.xml"),
    OK("ok_untyped.xml"),
    OK("ok_nested_structs.xml"),
    OK("ok_ns_undeclared.xml"),
    OK("ok_default_ns.xml"),
    OK("ok_whitespace.xml"),
    OK("ok_utf16.xml"),
    OK("ok_attributes.xml"),
    /* entities and DTDs: refused at the DOCTYPE, nothing declared */
    INVALID("bad_billion_laughs.xml", "doctype"),
    INVALID("bad_quadratic.xml", "doctype"),
    INVALID("bad_xxe_passwd.xml", "doctype"),
    INVALID("bad_xxe_parameter.xml", "doctype"),
    INVALID("bad_doctype_bare.xml", "doctype"),
    INVALID("bad_doctype_external.xml", "doctype"),
    PARSE("bad_undeclared_entity.xml", "xml"),
    /* not XML */
    PARSE("bad_empty.xml", "empty"),
    PARSE("bad_blank.xml", "xml"),
    PARSE("bad_not_xml.txt", "xml"),
    PARSE("bad_truncated.xml", "xml"),
    PARSE("bad_truncated_tag.xml", "truncated"),
    PARSE("bad_truncated_end.xml", "xml"),
    PARSE("bad_invalid_utf8.xml", "xml"),
    PARSE("bad_invalid_utf8_name.xml", "xml"),
    PARSE("bad_overlong_utf8.xml", "xml"),
    /* not XML at all, said from the first bytes (not "Document is
     * empty") */
    PARSE("bad_ocsp.der", "xml"),
    PARSE("bad_form.txt", "xml"),
    PARSE("bad_utf32le.xml", "encoding"),
    PARSE("bad_utf32be_bom.xml", "encoding"),
    PARSE("bad_two_roots.xml", "xml"),
    PARSE("bad_trailing_text.xml", "xml"),
    PARSE("bad_mismatched.xml", "xml"),
    PARSE("bad_control_char.xml", "xml"),
    /* found by the fuzzer: an encoding error raised while libxml2 switches
     * to UCS-4; stopping the parser from the error handler crashed. Its
     * first bytes now say UTF-32 before libxml2 sees any. */
    PARSE("bad_ucs4_encoding_switch.xml", "encoding"),
    /* XML, but not an XML-RPC call */
    INVALID("inv_response.xml", "structure"),
    INVALID("inv_no_methodname.xml", "structure"),
    INVALID("inv_methodname_only_params.xml", "structure"),
    INVALID("inv_empty_methodname.xml", "structure"),
    INVALID("inv_two_methodnames.xml", "structure"),
    INVALID("inv_two_params.xml", "structure"),
    INVALID("inv_param_two_values.xml", "structure"),
    INVALID("inv_param_empty.xml", "structure"),
    INVALID("inv_text_in_params.xml", "structure"),
    INVALID("inv_text_and_type.xml", "structure"),
    INVALID("inv_type_and_text.xml", "structure"),
    INVALID("inv_two_types.xml", "structure"),
    INVALID("inv_unknown_type.xml", "structure"),
    INVALID("inv_member_no_name.xml", "structure"),
    INVALID("inv_member_value_first.xml", "structure"),
    INVALID("inv_array_no_data.xml", "structure"),
    INVALID("inv_array_value_direct.xml", "structure"),
    INVALID("inv_element_in_string.xml", "structure"),
    INVALID("inv_element_in_methodname.xml", "structure"),
    INVALID("inv_xinclude.xml", "structure"),
    INVALID("inv_value_in_struct.xml", "structure"),
    LIMIT("lim_methodname_10k.xml", "name"),
    /* multicalls that are not the shape a hub dispatches, or that would
     * hide a call from the rules */
    INVALID("inv_mc_kwargs.xml", "structure"),
    INVALID("inv_mc_no_methodname.xml", "structure"),
    INVALID("inv_mc_methodname_int.xml", "structure"),
    INVALID("inv_mc_item_not_struct.xml", "structure"),
    INVALID("inv_mc_params_first.xml", "structure"),
    LIMIT("lim_mc_nested_10.xml", "multicall-depth"),
};

/* A refusal text goes into a log line and a fault's XML: one line of
 * valid UTF-8, no control characters, no trailing space. */
static int text_clean(const char *t)
{
    const unsigned char *p = (const unsigned char *)t;
    size_t n = strlen(t);

    if (n > 0 && t[n - 1] == ' ') {
        return 0;
    }
    while (*p) {
        size_t k = *p < 0x80             ? 1
                   : (*p & 0xe0) == 0xc0 ? 2
                   : (*p & 0xf0) == 0xe0 ? 3
                   : (*p & 0xf8) == 0xf0 ? 4
                                         : 0;
        size_t i;

        if (k == 0 || *p < 0x20 || *p == 0x7f) {
            return 0;
        }
        for (i = 1; i < k; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return 0;
            }
        }
        p += k;
    }
    return 1;
}

static void check(const char *label, const outcome_t *o,
                  mg_xmlrpc_state_t state, mg_reason_t reason, const char *what)
{
    if (!text_clean(o->text)) {
        fail_msg("%s: refusal text not one clean line: '%s'", label, o->text);
    }
    if (o->state != state ||
        (state != MG_XR_ACCEPT &&
         (o->reason != reason || strcmp(o->what, what) != 0))) {
        fail_msg("%s: state %d reason %d what %s (%s); want state %d "
                 "reason %d what %s",
                 label, o->state, o->reason, o->what ? o->what : "-", o->text,
                 state, reason, what ? what : "-");
    }
}

/* Every fixture, in glue-sized chunks, one byte at a time and in random
 * chunks: the same answer each time. */
static void test_corpus(void **state)
{
    size_t i;
    int round;

    (void)state;
    for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        char rel[256], label[300];
        size_t len;
        char *buf;
        outcome_t o;

        snprintf(rel, sizeof(rel), "xmlrpc/%s", corpus[i].file);
        buf = mg_test_slurp(rel, &len);
        o = run(buf, len, CHUNK_8K, NULL, NULL);
        check(corpus[i].file, &o, corpus[i].state, corpus[i].reason,
              corpus[i].what);
        assert_true(o.peak < (1u << 20));
        snprintf(label, sizeof(label), "%s (1-byte chunks)", corpus[i].file);
        o = run(buf, len, CHUNK_1, NULL, NULL);
        check(label, &o, corpus[i].state, corpus[i].reason, corpus[i].what);
        for (round = 0; round < 5; round++) {
            snprintf(label, sizeof(label), "%s (random chunks %d)",
                     corpus[i].file, round);
            o = run(buf, len, CHUNK_RANDOM, NULL, NULL);
            check(label, &o, corpus[i].state, corpus[i].reason, corpus[i].what);
        }
        free(buf);
    }
}

/* A fixture nobody expects anything of is a test nobody runs. */
static void test_corpus_listed(void **state)
{
    char path[1024];
    DIR *d;
    struct dirent *e;

    (void)state;
    d = opendir(mg_test_fixture(path, sizeof(path), "xmlrpc"));
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t i;
        int found = 0;

        if (e->d_name[0] == '.') {
            continue;
        }
        for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
            found |= strcmp(corpus[i].file, e->d_name) == 0;
        }
        if (!found) {
            fail_msg("fixture %s is not in the corpus table", e->d_name);
        }
    }
    closedir(d);
}

/* ---- one inspector, reset between bodies ------------------------------ */

#define REUSE_MAX 96

typedef struct {
    const char *label;
    char *buf;
    size_t len;
    mg_xmlrpc_limits_t lim;
    const char *deny; /* refuse this method through the callback */
    outcome_t fresh;
} reuse_case_t;

static const char nested_body[] =
    "<methodCall><methodName>deep</methodName><params><param><value>"
    "<array><data><value><array><data><value>x</value></data></array>"
    "</value></data></array></value></param></params></methodCall>";

/* A call whose <value> has n attributes of distinct names: accepted (the
 * inspector ignores attributes), and each name goes to the dictionary. */
static char *attrs_body(size_t n, size_t *len)
{
    size_t cap = 200 + n * 16, off = 0, i;
    char *b = malloc(cap);

    assert_non_null(b);
    off += (size_t)snprintf(b + off, cap - off,
                            "<methodCall><methodName>attrs</methodName>"
                            "<params><param><value");
    for (i = 0; i < n; i++) {
        off += (size_t)snprintf(b + off, cap - off, " a%zu=''", i);
    }
    off += (size_t)snprintf(b + off, cap - off,
                            ">x</value></param></params></methodCall>");
    *len = off;
    return b;
}

static size_t reuse_cases(reuse_case_t *c)
{
    size_t i, n = 0;

    for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        char rel[256];

        snprintf(rel, sizeof(rel), "xmlrpc/%s", corpus[i].file);
        c[n].label = corpus[i].file;
        c[n].buf = mg_test_slurp(rel, &c[n].len);
        mg_xmlrpc_limits_default(&c[n].lim);
        n++;
    }
    /* refused by a limit, by the callback, and the limits change between
     * bodies (the buffers grow) */
    c[n].label = "depth limit 6";
    c[n].buf = strdup(nested_body);
    c[n].len = strlen(nested_body);
    mg_xmlrpc_limits_default(&c[n].lim);
    c[n].lim.depth = 6;
    n++;
    c[n].label = "denied getBuild";
    c[n].buf = mg_test_slurp("xmlrpc/ok_py_getbuild.xml", &c[n].len);
    mg_xmlrpc_limits_default(&c[n].lim);
    c[n].deny = "getBuild";
    n++;
    c[n].label = "name limit 4";
    c[n].buf = mg_test_slurp("xmlrpc/ok_py_getbuild.xml", &c[n].len);
    mg_xmlrpc_limits_default(&c[n].lim);
    c[n].lim.name = 4;
    n++;
    c[n].label = "big limits";
    c[n].buf = mg_test_slurp("xmlrpc/ok_py_multicall.xml", &c[n].len);
    mg_xmlrpc_limits_default(&c[n].lim);
    c[n].lim.depth = MG_XMLRPC_DEPTH_CAP;
    c[n].lim.name = 4096;
    n++;
    /* 300 attribute names: the next reset makes a new context */
    c[n].label = "300 attribute names";
    c[n].buf = attrs_body(300, &c[n].len);
    mg_xmlrpc_limits_default(&c[n].lim);
    n++;
    assert_true(n <= REUSE_MAX);
    return n;
}

static void same(const char *label, const outcome_t *a, const outcome_t *b)
{
    if (a->state != b->state || a->reason != b->reason ||
        strcmp(a->what ? a->what : "", b->what ? b->what : "") != 0 ||
        strcmp(a->text, b->text) != 0 || strcmp(a->method, b->method) != 0) {
        fail_msg("%s: reused: state %d reason %d what %s method '%s' (%s); "
                 "fresh: state %d reason %d what %s method '%s' (%s)",
                 label, a->state, a->reason, a->what ? a->what : "-", a->method,
                 a->text, b->state, b->reason, b->what ? b->what : "-",
                 b->method, b->text);
    }
}

/* Every body of the corpus, and a few refused by limits or the callback,
 * through ONE inspector reset between bodies, in several orders and two
 * chunkings: the same outcome as on a new inspector each time. */
static void test_reuse_corpus(void **state)
{
    static reuse_case_t c[REUSE_MAX];
    size_t n, i, order[REUSE_MAX], base;
    int round, mode;

    (void)state;
    n = reuse_cases(c);
    for (mode = CHUNK_8K; mode <= CHUNK_1; mode++) {
        for (i = 0; i < n; i++) {
            rec_t rec = {.deny = c[i].deny, .reason = MG_REASON_METHOD_DENIED};

            c[i].fresh = run(c[i].buf, c[i].len, mode, &c[i].lim, &rec);
        }
        for (round = 0; round < 6; round++) {
            mg_xmlrpc_t *x = NULL;
            mg_xmlrpc_limits_t small;

            for (i = 0; i < n; i++) {
                order[i] = round == 1 ? n - 1 - i : i;
            }
            for (i = n - 1; round >= 2 && i > 0; i--) {
                size_t j = rng(i + 1), t = order[i];

                order[i] = order[j];
                order[j] = t;
            }
            xmlResetLastError();
            base = mem_mark();
            /* the smallest buffers: every reset may have to grow them */
            mg_xmlrpc_limits_default(&small);
            small.depth = 4;
            small.name = 1;
            assert_int_equal(mg_xmlrpc_new(&x, &small, NULL, NULL), 0);
            for (i = 0; i < n; i++) {
                reuse_case_t *k = &c[order[i]];
                rec_t rec = {.deny = k->deny,
                             .reason = MG_REASON_METHOD_DENIED};
                char label[300];
                outcome_t o;

                assert_int_equal(mg_xmlrpc_reset(x, &k->lim, rec_cb, &rec), 0);
                assert_true(mg_xmlrpc_dict_size(x) <= 256);
                assert_int_equal(mg_xmlrpc_state(x), MG_XR_CONTINUE);
                assert_null(mg_xmlrpc_method(x));
                assert_null(mg_xmlrpc_refusal(x));
                assert_int_equal(mg_xmlrpc_counters(x)->bytes, 0);
                o = feed_doc(x, k->buf, k->len, mode);
                snprintf(label, sizeof(label), "%s (mode %d, round %d, #%zu)",
                         k->label, mode, round, i);
                same(label, &o, &k->fresh);
            }
            mg_xmlrpc_free(x);
            xmlResetLastError();
            assert_int_equal(mem_cur, base);
        }
    }
    for (i = 0; i < n; i++) {
        free(c[i].buf);
    }
}

/* After a refused body, an errored one or one left half-fed, a reset
 * inspector accepts a valid call. */
static void test_reuse_after_refusal(void **state)
{
    static const char *files[] = {
        "bad_doctype_bare.xml", "bad_billion_laughs.xml",
        "bad_xxe_passwd.xml",   "bad_ucs4_encoding_switch.xml",
        "bad_not_xml.txt",      "inv_response.xml",
        "ok_utf16.xml",         "lim_methodname_10k.xml",
    };
    mg_xmlrpc_limits_t def, shallow;
    mg_xmlrpc_t *x = NULL;
    char *ok, *buf;
    size_t ok_len, len, i, base;
    rec_t deny = {.deny = "getBuild", .reason = MG_REASON_THROTTLE};
    outcome_t o;

    (void)state;
    ok = mg_test_slurp("xmlrpc/ok_py_getbuild.xml", &ok_len);
    mg_xmlrpc_limits_default(&def);
    shallow = def;
    shallow.depth = 6;
    xmlResetLastError();
    base = mem_mark();
    assert_int_equal(mg_xmlrpc_new(&x, &def, NULL, NULL), 0);
    for (i = 0; i < sizeof(files) / sizeof(files[0]) + 3; i++) {
        if (i < sizeof(files) / sizeof(files[0])) {
            char rel[256];

            snprintf(rel, sizeof(rel), "xmlrpc/%s", files[i]);
            buf = mg_test_slurp(rel, &len);
            assert_int_equal(mg_xmlrpc_reset(x, &def, NULL, NULL), 0);
            o = feed_doc(x, buf, len, CHUNK_1);
            free(buf);
        }
        else if (i == sizeof(files) / sizeof(files[0])) {
            assert_int_equal(mg_xmlrpc_reset(x, &shallow, NULL, NULL), 0);
            o = feed_doc(x, nested_body, strlen(nested_body), CHUNK_8K);
            check("depth", &o, MG_XR_REJECT, MG_REASON_XML_LIMIT, "depth");
        }
        else if (i == sizeof(files) / sizeof(files[0]) + 1) {
            assert_int_equal(mg_xmlrpc_reset(x, &def, rec_cb, &deny), 0);
            o = feed_doc(x, ok, ok_len, CHUNK_8K);
            check("denied", &o, MG_XR_REJECT, MG_REASON_THROTTLE, "method");
        }
        else {
            /* half a body, never finished: the glue gives up on a
             * request whose client went away */
            assert_int_equal(mg_xmlrpc_reset(x, &def, NULL, NULL), 0);
            assert_int_equal(mg_xmlrpc_feed(x, ok, ok_len / 2, 0),
                             MG_XR_CONTINUE);
        }
        assert_int_equal(mg_xmlrpc_reset(x, &def, NULL, NULL), 0);
        o = feed_doc(x, ok, ok_len, i % 2 ? CHUNK_1 : CHUNK_8K);
        check("getBuild after", &o, MG_XR_ACCEPT, 0, NULL);
        assert_string_equal(o.method, "getBuild");
    }
    /* bad limits: refused, the inspector unchanged */
    shallow.depth = 2;
    assert_int_equal(mg_xmlrpc_reset(x, &shallow, NULL, NULL), -EINVAL);
    assert_int_equal(mg_xmlrpc_state(x), MG_XR_ACCEPT);
    mg_xmlrpc_free(x);
    xmlResetLastError();
    assert_int_equal(mem_cur, base);
    free(ok);
}

/* A client sending a new element name with every request must not grow
 * the dictionary of a long-lived inspector without bound. */
static void test_reuse_dict_bound(void **state)
{
    mg_xmlrpc_limits_t def;
    mg_xmlrpc_t *x = NULL;
    size_t i, base, first, most = 0, held = 0;
    int renewed = 0;
    char *ok;
    size_t ok_len;
    outcome_t o;

    (void)state;
    ok = mg_test_slurp("xmlrpc/ok_py_getbuild.xml", &ok_len);
    mg_xmlrpc_limits_default(&def);
    xmlResetLastError();
    base = mem_mark();
    assert_int_equal(mg_xmlrpc_new(&x, &def, NULL, NULL), 0);
    first = mg_xmlrpc_dict_size(x);
    assert_true(first > 0 && first < 64);
    /* the fast path never names anything in libxml2's dictionary */
    o = feed_doc(x,
                 "<methodCall><methodName>m</methodName><params><junkfast/>"
                 "</params></methodCall>",
                 79, CHUNK_8K);
    check("junk element, fast path", &o, MG_XR_REJECT, MG_REASON_XML_INVALID,
          "structure");
    assert_string_equal(o.text, "unexpected <junkfast>");
    assert_int_equal(mg_xmlrpc_dict_size(x), first);
    /* libxml2's dictionary: what a long-lived inspector keeps of it */
    mg_xmlrpc_set_fast(x, 0);
    for (i = 0; i < 300; i++) {
        char body[200];
        size_t before = mg_xmlrpc_dict_size(x), now;
        int n = snprintf(body, sizeof(body),
                         "<methodCall><methodName>m</methodName><params>"
                         "<junk%zu/></params></methodCall>",
                         i);

        assert_int_equal(mg_xmlrpc_reset(x, &def, NULL, NULL), 0);
        now = mg_xmlrpc_dict_size(x);
        assert_true(now <= 256);
        renewed += now < before;
        o = feed_doc(x, body, (size_t)n, CHUNK_8K);
        check("junk element", &o, MG_XR_REJECT, MG_REASON_XML_INVALID,
              "structure");
        assert_true(mg_xmlrpc_dict_size(x) > now);
        if (mg_xmlrpc_dict_size(x) > most) {
            most = mg_xmlrpc_dict_size(x);
        }
        if (mem_cur - base > held) {
            held = mem_cur - base;
        }
    }
    /* made anew about once every 256 - 20 bodies */
    assert_int_equal(renewed, 1);
    assert_true(most <= 257);
    /* one inspector: its buffers, libxml2's context and a small dict */
    assert_true(held < (128u << 10));
    assert_int_equal(mg_xmlrpc_reset(x, &def, NULL, NULL), 0);
    o = feed_doc(x, ok, ok_len, CHUNK_8K);
    check("getBuild after junk", &o, MG_XR_ACCEPT, 0, NULL);
    mg_xmlrpc_free(x);
    xmlResetLastError();
    assert_int_equal(mem_cur, base);
    free(ok);
}

/* ---- generated bodies -------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} gbuf_t;

static void put(gbuf_t *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 4096;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void puts_(gbuf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_rep(gbuf_t *b, const char *s, size_t times)
{
    size_t n = strlen(s), i;

    for (i = 0; i < times; i++) {
        put(b, s, n);
    }
}

static void put_fill(gbuf_t *b, char c, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = b->len + n + 4096;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memset(b->p + b->len, c, n);
    b->len += n;
}

#define HEAD "<?xml version='1.0'?>\n<methodCall><methodName>m</methodName>"
#define P1 "<params><param><value>"
#define P1_END "</value></param></params></methodCall>\n"

/* One string parameter of n bytes, in the given type element. */
static void gen_string(gbuf_t *b, size_t n, const char *open, const char *close)
{
    puts_(b, HEAD P1);
    puts_(b, open);
    put_fill(b, 'A', n);
    puts_(b, close);
    puts_(b, P1_END);
}

static void gen_items(gbuf_t *b, size_t n)
{
    puts_(b, HEAD P1 "<array><data>");
    put_rep(b, "<value/>", n);
    puts_(b, "</data></array>" P1_END);
}

static void gen_depth(gbuf_t *b, size_t levels)
{
    puts_(b, HEAD P1);
    put_rep(b, "<array><data><value>", levels);
    put_rep(b, "</value></data></array>", levels);
    puts_(b, P1_END);
}

static void gen_members(gbuf_t *b, size_t n)
{
    puts_(b, HEAD P1 "<struct>");
    put_rep(b, "<member><name>k</name><value/></member>", n);
    puts_(b, "</struct>" P1_END);
}

static void gen_params(gbuf_t *b, size_t n)
{
    puts_(b, HEAD "<params>");
    put_rep(b, "<param><value/></param>", n);
    puts_(b, "</params></methodCall>");
}

static void gen_multicall(gbuf_t *b, size_t n)
{
    puts_(b, "<?xml version='1.0'?>\n<methodCall><methodName>"
             "system.multicall</methodName><params><param><value><array>"
             "<data>\n");
    put_rep(b,
            "<value><struct><member><name>methodName</name><value><string>"
            "getBuild</string></value></member><member><name>params</name>"
            "<value><array><data><value><int>1</int></value></data></array>"
            "</value></member></struct></value>\n",
            n);
    puts_(b, "</data></array>" P1_END);
}

static void gen_comment(gbuf_t *b, size_t n)
{
    puts_(b, HEAD "<!--");
    put_fill(b, '-' + 1, n);
    puts_(b, "--></methodCall>");
}

static void gen_cdata(gbuf_t *b, size_t n)
{
    gen_string(b, n, "<string><![CDATA[", "]]></string>");
}

static void gen_blank_run(gbuf_t *b, size_t n)
{
    puts_(b, HEAD "<params>");
    put_fill(b, ' ', n);
    puts_(b, "</params></methodCall>");
}

static void gen_long_tag(gbuf_t *b, size_t n)
{
    puts_(b, HEAD P1 "<string");
    put_fill(b, ' ', n);
    puts_(b, ">x</string>" P1_END);
}

static void gen_inner_name(gbuf_t *b, size_t n)
{
    puts_(b, "<methodCall><methodName>system.multicall</methodName><params>"
             "<param><value><array><data><value><struct><member><name>"
             "methodName</name><value>");
    put_fill(b, 'n', n);
    puts_(b, "</value></member></struct></value></data></array>" P1_END);
}

typedef struct {
    const char *label;
    void (*gen)(gbuf_t *b, size_t n);
    size_t n;
    mg_xmlrpc_state_t state;
    mg_reason_t reason;
    const char *what;
    uint64_t seen;     /* refusal's seen, when it is exact */
    size_t max_peak;   /* parser + inspector heap */
    uint32_t elements; /* nonzero: override the elements limit */
} gen_case_t;

static void gen_string_plain(gbuf_t *b, size_t n)
{
    gen_string(b, n, "<string>", "</string>");
}

static void gen_string_untyped(gbuf_t *b, size_t n)
{
    gen_string(b, n, "", "");
}

static void gen_base64(gbuf_t *b, size_t n)
{
    gen_string(b, n, "<base64>", "</base64>");
}

static void gen_int_digits(gbuf_t *b, size_t n)
{
    puts_(b, HEAD P1 "<int>");
    put_fill(b, '7', n);
    puts_(b, "</int>" P1_END);
}

#define MiB (1u << 20)

static const gen_case_t gen_cases[] = {
    /* refused, with memory that does not grow with the body */
    {"50 MB string", gen_string_plain, 50u * MiB, MG_XR_REJECT,
     MG_REASON_XML_LIMIT, "string", 0, MiB, 0},
    {"50 MB untyped value", gen_string_untyped, 50u * MiB, MG_XR_REJECT,
     MG_REASON_XML_LIMIT, "string", 0, MiB, 0},
    {"20 MB int", gen_int_digits, 20u * MiB, MG_XR_REJECT, MG_REASON_XML_LIMIT,
     "string", 0, MiB, 0},
    {"20 MB of blanks between elements", gen_blank_run, 20u * MiB, MG_XR_REJECT,
     MG_REASON_XML_LIMIT, "string", 0, MiB, 0},
    {"1M+1 array items", gen_items, 1000001, MG_XR_REJECT, MG_REASON_XML_LIMIT,
     "items", 1000001, MiB, 0},
    {"depth 100000", gen_depth, 33334, MG_XR_REJECT, MG_REASON_XML_LIMIT,
     "depth", 65, MiB, 0},
    {"multicall of 100000 calls", gen_multicall, 100000, MG_XR_REJECT,
     MG_REASON_XML_LIMIT, "multicall", 10001, MiB, 0},
    {"100001 struct members", gen_members, 100001, MG_XR_REJECT,
     MG_REASON_XML_LIMIT, "members", 100001, MiB, 0},
    {"257 params", gen_params, 257, MG_XR_REJECT, MG_REASON_XML_LIMIT, "params",
     257, MiB, 0},
    {"1001 elements over a limit of 1000", gen_items, 2000, MG_XR_REJECT,
     MG_REASON_XML_LIMIT, "elements", 1001, MiB, 1000},
    {"10 KB inner methodName", gen_inner_name, 10240, MG_XR_REJECT,
     MG_REASON_XML_LIMIT, "name", 0, MiB, 0},
    /* what libxml2 would buffer: stopped at the token limit */
    {"2 MB comment", gen_comment, 2u * MiB, MG_XR_REJECT, MG_REASON_XML_LIMIT,
     "token", 0, MiB, 0},
    {"2 MB CDATA section", gen_cdata, 2u * MiB, MG_XR_REJECT,
     MG_REASON_XML_LIMIT, "token", 0, MiB, 0},
    {"2 MB start tag", gen_long_tag, 2u * MiB, MG_XR_REJECT,
     MG_REASON_XML_LIMIT, "token", 0, MiB, 0},
    /* passes: bigger than libxml2's 10 MB text node limit, still
     * streamed in constant memory */
    {"12 MB string", gen_string_plain, 12u * MiB, MG_XR_ACCEPT, 0, NULL, 0, MiB,
     0},
    {"12 MB base64", gen_base64, 12u * MiB, MG_XR_ACCEPT, 0, NULL, 0, MiB, 0},
    {"16 MiB string, at the limit", gen_string_plain, 16u * MiB, MG_XR_ACCEPT,
     0, NULL, 0, MiB, 0},
    {"1M array items, at the limit", gen_items, 1000000, MG_XR_ACCEPT, 0, NULL,
     0, MiB, 0},
    {"multicall of 10000 calls", gen_multicall, 10000, MG_XR_ACCEPT, 0, NULL, 0,
     MiB, 0},
    {"200 KB CDATA section", gen_cdata, 200u * 1024, MG_XR_ACCEPT, 0, NULL, 0,
     MiB, 0},
    {"depth 64", gen_depth, 20, MG_XR_ACCEPT, 0, NULL, 0, MiB, 0},
};

static void test_generated(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(gen_cases) / sizeof(gen_cases[0]); i++) {
        const gen_case_t *c = &gen_cases[i];
        mg_xmlrpc_limits_t lim;
        gbuf_t b = {NULL, 0, 0};
        outcome_t o;
        rec_t rec;

        memset(&rec, 0, sizeof(rec));
        mg_xmlrpc_limits_default(&lim);
        if (c->elements != 0) {
            lim.elements = c->elements;
        }
        c->gen(&b, c->n);
        o = run(b.p, b.len, CHUNK_8K, &lim, &rec);
        check(c->label, &o, c->state, c->reason, c->what);
        if (o.peak >= c->max_peak) {
            fail_msg("%s: peak heap %zu >= %zu", c->label, o.peak, c->max_peak);
        }
        if (c->seen != 0) {
            char want[64];

            snprintf(want, sizeof(want), " %llu > limit ",
                     (unsigned long long)c->seen);
            if (strstr(o.text, want) == NULL) {
                fail_msg("%s: text '%s' lacks '%s'", c->label, o.text, want);
            }
        }
        print_message("%-40s %9zu bytes, peak heap %7zu: %s\n", c->label, b.len,
                      o.peak, o.state == MG_XR_ACCEPT ? "accepted" : o.text);
        free(b.p);
    }
}

/* A random document of XML-RPC's elements, well-formed by construction
 * and mostly of the call's shape, with its mistakes: an element where
 * another belongs, a missing or extra child, stray text, multicalls and
 * their inner names. */
static const char *const fast_names[] = {
    "methodCall", "methodName", "params", "param",  "value",  "struct",
    "member",     "name",       "array",  "data",   "string", "int",
    "nil",        "i8",         "base64", "double", "foo",    "methodResponse"};
static const char *const fast_texts[] = {"getBuild",
                                         "multiCall",
                                         "system.multicall",
                                         "deny",
                                         "methodName",
                                         "params",
                                         "x",
                                         "",
                                         " ",
                                         "\n",
                                         "1",
                                         "a > b",
                                         "0123456789abcdefghij"};

static void fast_tree(gbuf_t *b, const char *name, int depth)
{
    static const struct {
        const char *name;
        const char *kids[2];
        int rep; /* the second kid repeats up to this often */
    } shape[] = {
        {"methodCall", {"methodName", "params"}, 1},
        {"params", {NULL, "param"}, 3},
        {"param", {NULL, "value"}, 1},
        {"struct", {NULL, "member"}, 3},
        {"member", {"name", "value"}, 1},
        {"array", {NULL, "data"}, 1},
        {"data", {NULL, "value"}, 4},
    };
    size_t i, k, n;
    const char *kids[2] = {NULL, NULL};
    int rep = 0, leaf = 1;

    if (rng(12) == 0) {
        name = fast_names[rng(sizeof(fast_names) / sizeof(fast_names[0]))];
    }
    if (rng(10) == 0) {
        puts_(b, "<");
        puts_(b, name);
        puts_(b, rng(2) ? "/>" : " />");
        return;
    }
    puts_(b, "<");
    puts_(b, name);
    puts_(b, rng(8) ? ">" : "\n>");
    for (i = 0; i < sizeof(shape) / sizeof(shape[0]); i++) {
        if (strcmp(shape[i].name, name) == 0) {
            kids[0] = shape[i].kids[0];
            kids[1] = shape[i].kids[1];
            rep = shape[i].rep;
            leaf = 0;
        }
    }
    if (strcmp(name, "value") == 0 && depth < 9) {
        static const char *const v[] = {"string", "int", "struct", "array",
                                        "nil",    NULL,  "struct", "array"};
        kids[1] = v[rng(sizeof(v) / sizeof(v[0]))];
        rep = kids[1] != NULL;
        leaf = kids[1] == NULL;
    }
    if (leaf || depth >= 9) {
        puts_(b, fast_texts[rng(sizeof(fast_texts) / sizeof(fast_texts[0]))]);
    }
    else {
        for (k = 0; k < 2; k++) {
            n = k == 0 ? (kids[0] != NULL) : (size_t)rng((size_t)rep + 1);
            if (k == 1 && rep == 1 && rng(6) != 0) {
                n = 1; /* usually the one child it must have */
            }
            for (i = 0; i < n; i++) {
                if (rng(15) == 0) {
                    puts_(b, fast_texts[rng(sizeof(fast_texts) /
                                            sizeof(fast_texts[0]))]);
                }
                fast_tree(b, kids[k], depth + 1);
                if (rng(3) == 0) {
                    puts_(b, "\n");
                }
            }
        }
    }
    puts_(b, "</");
    puts_(b, name);
    puts_(b, rng(10) ? ">" : " >");
}
/* A call with scalar parameters in the form Python's xmlrpc.client
 * writes (the fast path's plain tier), its whitespace, types and texts
 * varied; now and then one byte of it is not of that form. */
static void plain_call(gbuf_t *b)
{
    static const char *const types[] = {
        "int",    "i4",     "i8",  "boolean",          "string",
        "double", "base64", "nil", "dateTime.iso8601", "float"};
    static const char *const spaces[] = {"\n", "", " ", "\t\n  ", "\n\n"};
    size_t i, n = rng(6);

#define SP() puts_(b, spaces[rng(sizeof(spaces) / sizeof(spaces[0]))])
    if (rng(2) == 0) {
        puts_(b, "<?xml version='1.0'?>\n");
    }
    puts_(b, "<methodCall>");
    SP();
    puts_(b, "<methodName>");
    puts_(b, fast_texts[rng(sizeof(fast_texts) / sizeof(fast_texts[0]))]);
    puts_(b, "</methodName>");
    SP();
    if (rng(8) != 0) {
        puts_(b, "<params>");
        SP();
        for (i = 0; i < n; i++) {
            const char *t = types[rng(sizeof(types) / sizeof(types[0]))];

            puts_(b, "<param>");
            SP();
            puts_(b, rng(12) ? "<value><" : "<value> <");
            puts_(b, t);
            if (rng(6) == 0) {
                puts_(b, "/>");
            }
            else {
                puts_(b, ">");
                puts_(b, fast_texts[rng(sizeof(fast_texts) /
                                        sizeof(fast_texts[0]))]);
                puts_(b, "</");
                puts_(b, rng(15) ? t : "int");
                puts_(b, ">");
            }
            puts_(b, "</value>");
            SP();
            puts_(b, "</param>");
            SP();
        }
        puts_(b, "</params>");
        SP();
    }
    puts_(b, "</methodCall>");
    if (rng(10) == 0) {
        SP();
    }
#undef SP
}

/* ---- the fast path against libxml2 ------------------------------------ */

/* Bodies the fast path takes, as clients write them, and near misses.
 * The first PLAIN_SEEDS are calls with scalar parameters (or none) as
 * Python's xmlrpc.client writes them: the plain tier's. */
#define PLAIN_SEEDS 4
static const char *const fast_seeds[] = {
    "<?xml version='1.0'?>\n<methodCall>\n<methodName>getBuild</methodName>\n"
    "<params>\n<param>\n<value><int>1</int></value>\n</param>\n</params>\n"
    "</methodCall>\n",
    "<?xml version='1.0'?>\n<methodCall>\n<methodName>host.updateHost"
    "</methodName>\n<params>\n<param>\n<value><double>0.5</double></value>\n"
    "</param>\n<param>\n<value><boolean>1</boolean></value>\n</param>\n"
    "<param>\n<value><nil/></value></param>\n<param>\n<value><string>"
    "x86_64 noarch</string></value>\n</param>\n<param>\n<value><string>"
    "</string></value>\n</param>\n<param>\n<value><i8>-7</i8></value>\n"
    "</param>\n<param>\n<value><dateTime.iso8601>20261207T12:00:00"
    "</dateTime.iso8601></value>\n</param>\n<param>\n<value><base64>\nAAEC\n"
    "</base64></value>\n</param>\n</params>\n</methodCall>\n",
    "<?xml version='1.0'?>\n<methodCall>\n<methodName>hello</methodName>\n"
    "<params>\n</params>\n</methodCall>\n",
    "  \n<methodCall><methodName>m</methodName></methodCall>  \n",
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><methodCall><methodName>"
    "listBuilds</methodName><params><param><value><struct><member><name>"
    "state</name><value><i4>1</i4></value></member><member><name>queryOpts"
    "</name><value><struct><member><name>limit</name><value><int>5</int>"
    "</value></member></struct></value></member></struct></value></param>"
    "</params></methodCall>",
    "<?xml version = '1.0' encoding = 'utf-8' standalone = 'yes' ?>"
    "<methodCall ><methodName >a.b</methodName ><params><param><value>"
    "<array><data><value>x</value><value><nil/></value><value><boolean>1"
    "</boolean></value><value><double>1.5</double></value><value>"
    "<dateTime.iso8601>20261207T12:00:00</dateTime.iso8601></value><value>"
    "<base64>AAEC</base64></value><value><string/></value></data></array>"
    "</value></param></params></methodCall>",
    "<?xml version='1.0'?>\n<methodCall>\n<methodName>multiCall</methodName>"
    "\n<params>\n<param>\n<value><array><data>\n<value><struct>\n<member>\n"
    "<name>methodName</name>\n<value><string>getBuild</string></value>\n"
    "</member>\n<member>\n<name>params</name>\n<value><array><data>\n<value>"
    "<int>1</int></value>\n</data></array></value>\n</member>\n</struct>"
    "</value>\n<value><struct>\n<member>\n<name>methodName</name>\n<value>"
    "<string>multiCall</string></value>\n</member>\n<member>\n<name>params"
    "</name>\n<value><array><data>\n<value><array><data><value><struct>"
    "<member><name>methodName</name><value>deny</value></member><member>"
    "<name>params</name><value><array><data></data></array></value>"
    "</member></struct></value></data></array></value>\n</data></array>"
    "</value>\n</member>\n</struct></value>\n</data></array></value>\n"
    "</param>\n</params>\n</methodCall>\n",
    "<methodCall><methodName>m</methodName><params/></methodCall>",
    "<methodCall/>",
    "<methodResponse><params/></methodResponse>",
    "<methodCall><methodName>m</methodName><params><param><value>a ]] > b"
    "</value></param></params></methodCall>",
    "<methodCall><methodName>m</methodName><params><param><value>a]]>b"
    "</value></param></params></methodCall>",
    "<methodCall><methodName>m</methodName><params><param><value>]]]x]"
    "</value></param></params></methodCall>",
    /* the plain tier's near misses: the general walk's */
    "<methodCall><methodName>m</methodName><params><param><value>\n<int>1"
    "</int>\n</value></param></params></methodCall>",
    "<methodCall><methodName>m</methodName><params><param><value>x</value>"
    "</param></params></methodCall>",
    "<methodCall><methodName>m</methodName><params><param><value><int >1"
    "</int></value></param></params></methodCall>",
    "<methodCall><methodName>m</methodName><params><param><value><int>1"
    "</int></value></param><param><value><struct></struct></value></param>"
    "</params></methodCall>",
    "<methodCall><methodName>m</methodName><params><param><value><string>"
    "a]b</string></value></param></params></methodCall>",
    "<methodCall><methodName></methodName><params/></methodCall>",
    "<methodCall><methodName>multiCall</methodName><params><param><value>"
    "<int>1</int></value></param></params></methodCall>",
    "<methodCall><methodName>m</methodName><params><param><value><float>1"
    "</float></value></param></params></methodCall>",
    "<methodCall><methodName>m</methodName><params><param><value><int>1"
    "</i4></value></param></params></methodCall>",
    "<methodCall><methodName>m</methodName></methodCall>x",
};

/* What a body may be cut into: bytes that matter to XML and to the
 * fast path's choice. */
static const char fast_bytes[] = "<>/&;= \t\n\r\"'?!:]-._a0x\x80\xc3\xa9";
/* ... and those that keep a body plain, three times in four */
static const char fast_plain[] = "<>/ \n]_.-a0";

static char fast_byte(void)
{
    if (rng(4) != 0) {
        return fast_plain[rng(sizeof(fast_plain) - 1)];
    }
    return fast_bytes[rng(sizeof(fast_bytes) - 1)];
}

static size_t fast_mutate(const char *src, size_t len, char *dst, size_t cap)
{
    size_t a = len ? rng(len) : 0, b = a + rng(12), n = 0;

    if (b > len) {
        b = len;
    }
    switch (rng(6)) {
    case 0: /* delete a few bytes */
        n = len - (b - a);
        memcpy(dst, src, a);
        memcpy(dst + a, src + b, len - b);
        break;
    case 1: /* insert a byte */
    case 2:
        memcpy(dst, src, a);
        dst[a] = fast_byte();
        memcpy(dst + a + 1, src + a, len - a);
        n = len + 1;
        break;
    case 3: /* replace a byte */
        memcpy(dst, src, len);
        if (len) {
            dst[a] = fast_byte();
        }
        n = len;
        break;
    case 4: /* repeat a piece (a tag, twice) */
        memcpy(dst, src, b);
        memcpy(dst + b, src + a, b - a);
        memcpy(dst + b + (b - a), src + b, len - b);
        n = len + (b - a);
        break;
    default: /* truncate */
        n = a;
        memcpy(dst, src, n);
        break;
    }
    assert_true(n <= cap);
    return n;
}

static void same_calls(const char *label, const rec_t *a, const rec_t *b)
{
    unsigned i;

    if (a->calls != b->calls) {
        fail_msg("%s: %u calls reported by the fast path, %u by libxml2", label,
                 a->calls, b->calls);
    }
    for (i = 0; i < a->calls && i < REC_MAX; i++) {
        if (strcmp(a->names[i], b->names[i]) != 0 ||
            a->inner[i] != b->inner[i] || a->index[i] != b->index[i] ||
            strcmp(a->paths[i], b->paths[i]) != 0) {
            fail_msg("%s: call %u: fast '%s' level %d #%u %s; libxml2 '%s' "
                     "level %d #%u %s",
                     label, i, a->names[i], a->inner[i], a->index[i],
                     a->paths[i], b->names[i], b->inner[i], b->index[i],
                     b->paths[i]);
        }
    }
}

/* One body read one way (whole, in one feed): its outcome, the calls
 * reported, the counters. */
static outcome_t fast_read(const char *buf, size_t len,
                           const mg_xmlrpc_limits_t *lim, rec_t *rec, int how,
                           mg_xmlrpc_counters_t *n)
{
    mg_xmlrpc_t *x = NULL;
    outcome_t o;

    assert_int_equal(mg_xmlrpc_new(&x, lim, rec_cb, rec), 0);
    mg_xmlrpc_set_fast(x, how);
    rec->x = x;
    o = feed_doc(x, buf, len, CHUNK_ALL);
    *n = *mg_xmlrpc_counters(x);
    mg_xmlrpc_free(x);
    return o;
}

static int same_outcome(const outcome_t *a, const outcome_t *b)
{
    return a->state == b->state && a->reason == b->reason &&
           strcmp(a->what ? a->what : "", b->what ? b->what : "") == 0 &&
           strcmp(a->method, b->method) == 0 &&
           /* how the text of one string was cut shows in "string bytes N" */
           (strcmp(a->text, b->text) == 0 ||
            strcmp(a->what ? a->what : "", "string") == 0);
}

static void fast_differ(const char *label, const char *buf, size_t len,
                        const char *how, const outcome_t *a, int fast,
                        const outcome_t *b)
{
    fail_msg("%s (%.*s): fast%s: state %d reason %d what %s method '%s' "
             "(%s); %s: state %d reason %d what %s method '%s' (%s)",
             label, (int)(len < 300 ? len : 300), buf,
             fast ? "" : " (not taken)", a->state, a->reason,
             a->what ? a->what : "-", a->method, a->text, how, b->state,
             b->reason, b->what ? b->what : "-", b->method, b->text);
}

/* One body three ways (whole, in one feed): the fast path as it is, its
 * general walk alone (no plain tier), libxml2: the same outcome, the same
 * calls reported; and where the plain tier read it, the same counters as
 * the general walk. Who read it as it is: MG_XMLRPC_READ_*. */
static int fast_compare(const char *label, const char *buf, size_t len,
                        const mg_xmlrpc_limits_t *lim, const char *deny)
{
    rec_t ra = {.deny = deny, .reason = MG_REASON_THROTTLE};
    rec_t rg = {.deny = deny, .reason = MG_REASON_THROTTLE};
    rec_t rb = {.deny = deny, .reason = MG_REASON_THROTTLE};
    mg_xmlrpc_counters_t na, ng, nb;
    outcome_t a, g, b;

    xmlResetLastError();
    a = fast_read(buf, len, lim, &ra, MG_XMLRPC_FAST_ALL, &na);
    g = fast_read(buf, len, lim, &rg, MG_XMLRPC_FAST_GENERAL, &ng);
    assert_true(ng.fast != MG_XMLRPC_READ_PLAIN);
    b = fast_read(buf, len, lim, &rb, MG_XMLRPC_FAST_NONE, &nb);
    assert_int_equal(nb.fast, MG_XMLRPC_READ_LIBXML2);
    xmlResetLastError();
    if (!same_outcome(&a, &b)) {
        fast_differ(label, buf, len, "libxml2", &a, (int)na.fast, &b);
    }
    same_calls(label, &ra, &rb);
    if (!same_outcome(&a, &g) || strcmp(a.text, g.text) != 0) {
        fast_differ(label, buf, len, "general walk", &a, (int)na.fast, &g);
    }
    same_calls(label, &ra, &rg);
    if (na.fast == MG_XMLRPC_READ_PLAIN) {
        /* the plain tier counts as the handlers do */
        assert_int_equal(ng.fast, MG_XMLRPC_READ_WALK);
        if (na.bytes != ng.bytes || na.string_max != ng.string_max ||
            na.depth_max != ng.depth_max || na.elements != ng.elements ||
            na.params != ng.params || na.items_max != ng.items_max ||
            na.members_max != ng.members_max || na.multicall != ng.multicall ||
            na.token_max != ng.token_max ||
            na.multicall_depth != ng.multicall_depth) {
            fail_msg("%s (%.*s): plain tier counted elements %u depth %u "
                     "params %u string %llu; the general walk %u %u %u %llu",
                     label, (int)(len < 300 ? len : 300), buf, na.elements,
                     na.depth_max, na.params, (unsigned long long)na.string_max,
                     ng.elements, ng.depth_max, ng.params,
                     (unsigned long long)ng.string_max);
        }
    }
    return (int)na.fast;
}

static void fast_count(int fast, size_t *taken, size_t *plain)
{
    *taken += fast != MG_XMLRPC_READ_LIBXML2;
    *plain += fast == MG_XMLRPC_READ_PLAIN;
}

/* The fast path decides every body exactly as libxml2's reading does:
 * the client-written seeds, every fixture, and thousands of mutations of
 * them (bytes cut, inserted, replaced, pieces repeated, truncated), with
 * the default limits, tiny ones, and a method refused by the callback. */
static void test_fast_same_as_libxml2(void **state)
{
    mg_xmlrpc_limits_t lims[2];
    size_t i, nseeds = 0, taken = 0, plain = 0, runs = 0, m;
    char *seeds[128];
    size_t lens[128];
    static char mut[4][70000];

    (void)state;
    mg_xmlrpc_limits_default(&lims[0]);
    lims[1] = lims[0];
    lims[1].depth = 6;
    lims[1].elements = 40;
    lims[1].params = 3;
    lims[1].items = 4;
    lims[1].members = 4;
    lims[1].name = 8;
    lims[1].multicall = 3;
    lims[1].multicall_depth = 1;
    lims[1].string = 16;
    for (i = 0; i < sizeof(fast_seeds) / sizeof(fast_seeds[0]); i++) {
        seeds[nseeds] = strdup(fast_seeds[i]);
        lens[nseeds++] = strlen(fast_seeds[i]);
    }
    for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        char rel[256];
        size_t len;
        char *buf;

        snprintf(rel, sizeof(rel), "xmlrpc/%s", corpus[i].file);
        buf = mg_test_slurp(rel, &len);
        if (len > 60000 || nseeds == 128) {
            free(buf);
            continue;
        }
        seeds[nseeds] = buf;
        lens[nseeds++] = len;
    }
    /* the client-written seeds are the fast path's to take, the first
     * ones its plain tier's */
    for (i = 0; i < PLAIN_SEEDS + 3; i++) {
        assert_int_equal(
            fast_compare("seed", seeds[i], lens[i], &lims[0], NULL),
            i < PLAIN_SEEDS ? MG_XMLRPC_READ_PLAIN : MG_XMLRPC_READ_WALK);
    }
    for (i = 0; i < nseeds; i++) {
        size_t l;

        for (l = 0; l < 2; l++) {
            fast_count(fast_compare("seed", seeds[i], lens[i], &lims[l], NULL),
                       &taken, &plain);
            fast_count(fast_compare("seed, deny", seeds[i], lens[i], &lims[l],
                                    "getBuild"),
                       &taken, &plain);
            runs += 2;
        }
        /* many more of the client-written ones, which mostly stay plain,
         * and of the near misses */
        for (m = 0;
             m < (i < PLAIN_SEEDS + 3                              ? 4000U
                  : i < sizeof(fast_seeds) / sizeof(fast_seeds[0]) ? 1500U
                                                                   : 200U);
             m++) {
            /* one to four mutations in a row */
            size_t k, steps = 1 + rng(4), len = lens[i];
            const char *src = seeds[i];

            for (k = 0; k < steps; k++) {
                len = fast_mutate(src, len, mut[k], sizeof(mut[k]));
                src = mut[k];
            }
            fast_count(fast_compare("mutation", src, len, &lims[m % 2],
                                    m % 3 ? NULL : "deny"),
                       &taken, &plain);
            runs++;
        }
        free(seeds[i]);
    }
    /* generated documents: the fast path reads nearly all of them */
    for (m = 0; m < 6000; m++) {
        gbuf_t b = {NULL, 0, 0};
        int fast;

        if (rng(3) == 0) {
            puts_(&b, "<?xml version='1.0'?>\n");
        }
        fast_tree(&b, "methodCall", 0);
        fast = fast_compare("generated", b.p, b.len, &lims[m % 2],
                            m % 4 ? NULL : "deny");
        if (!fast && b.len <= 60000) {
            fail_msg("generated body not taken by the fast path: %.300s", b.p);
        }
        fast_count(fast, &taken, &plain);
        runs++;
        free(b.p);
    }
    /* calls as Python writes them: the plain tier takes most */
    for (m = 0; m < 6000; m++) {
        gbuf_t b = {NULL, 0, 0};

        plain_call(&b);
        fast_count(fast_compare("plain", b.p, b.len, &lims[m % 2],
                                m % 4 ? NULL : "deny"),
                   &taken, &plain);
        runs++;
        free(b.p);
    }
    /* the ways were compared only if many took each */
    print_message("fast path: %zu of %zu bodies (plain tier %zu)\n", taken,
                  runs, plain);
    assert_true(taken * 10 > runs);
    assert_true(taken < runs);
    assert_true(plain * 40 > runs);
    assert_true(plain < taken);
}

/* A 50 MB string fed in one call: feed() slices it, libxml2 never holds
 * the whole thing. */
static void test_one_big_feed(void **state)
{
    gbuf_t b = {NULL, 0, 0};
    mg_xmlrpc_limits_t lim;
    outcome_t o;

    (void)state;
    mg_xmlrpc_limits_default(&lim);
    lim.string = 64u * MiB;
    gen_string_plain(&b, 50u * MiB);
    o = run(b.p, b.len, CHUNK_ALL, &lim, NULL);
    check("50 MB in one feed", &o, MG_XR_ACCEPT, 0, NULL);
    assert_true(o.peak < MiB);
    free(b.p);
}

/* ---- methods and multicall ------------------------------------------- */

static void test_multicall_names(void **state)
{
    char *buf;
    size_t len;
    rec_t rec;
    outcome_t o;
    static const char *want[] = {"system.multicall", "getBuild", "listTagged",
                                 "getLoggedInUser"};
    unsigned i;
    int mode;

    (void)state;
    buf = mg_test_slurp("xmlrpc/ok_py_multicall.xml", &len);
    for (mode = CHUNK_8K; mode <= CHUNK_RANDOM; mode++) {
        memset(&rec, 0, sizeof(rec));
        o = run(buf, len, mode, NULL, &rec);
        check("multicall", &o, MG_XR_ACCEPT, 0, NULL);
        assert_int_equal(rec.calls, 4);
        for (i = 0; i < 4; i++) {
            assert_string_equal(rec.names[i], want[i]);
            assert_int_equal(rec.inner[i], i > 0);
            assert_int_equal(rec.index[i], i > 0 ? i - 1 : 0);
        }
    }

    /* refusing an inner call refuses the body */
    memset(&rec, 0, sizeof(rec));
    rec.deny = "listTagged";
    rec.reason = MG_REASON_METHOD_DENIED;
    o = run(buf, len, CHUNK_1, NULL, &rec);
    check("deny inner", &o, MG_XR_REJECT, MG_REASON_METHOD_DENIED, "method");
    assert_int_equal(rec.calls, 3); /* stopped right there */
    assert_string_equal(o.text, "method 'listTagged' refused (call 2 of "
                                "system.multicall)");
    assert_string_equal(rec.paths[2], "call 2 of system.multicall");
    assert_string_equal(rec.paths[0], "system.multicall");

    /* the callback chooses the reason */
    memset(&rec, 0, sizeof(rec));
    rec.deny = "getBuild";
    rec.reason = MG_REASON_THROTTLE;
    o = run(buf, len, CHUNK_8K, NULL, &rec);
    check("throttle inner", &o, MG_XR_REJECT, MG_REASON_THROTTLE, "method");

    /* and the top level */
    memset(&rec, 0, sizeof(rec));
    rec.deny = "system.multicall";
    rec.reason = MG_REASON_METHOD_DENIED;
    o = run(buf, len, CHUNK_8K, NULL, &rec);
    check("deny top", &o, MG_XR_REJECT, MG_REASON_METHOD_DENIED, "method");
    assert_int_equal(rec.calls, 1);
    free(buf);
}

/* Shapes of multicall entries that are not the usual one, and pass. */
static void test_multicall_shapes(void **state)
{
    static const char body[] =
        "<methodCall><methodName>system.multicall</methodName><params>"
        "<param><value><array><data>"
        /* 0: untyped name, after params (not a multicall: its params are
         * arguments, whatever order) */
        "<value><struct><member><name>params</name><value><array><data/>"
        "</array></value></member><member><name>methodName</name>"
        "<value>a.b</value></member></struct></value>"
        /* 1: two methodName members: both reported */
        "<value><struct><member><name>methodName</name><value> <string>"
        "first</string> </value></member><member><name>methodName</name>"
        "<value><string>second</string></value></member></struct></value>"
        /* 2: a member called methodNameX, and a struct argument with a
         * methodName that is no call */
        "<value><struct><member><name>methodNameX</name><value>no</value>"
        "</member><member><name>methodName</name><value>c</value></member>"
        "<member><name>params</name><value><array><data><value><struct>"
        "<member><name>methodName</name><value>nested</value></member>"
        "</struct></value></data></array></value></member></struct></value>"
        /* 3: a multicall name inside a struct argument of a plain call */
        "<value><struct><member><name>methodName</name><value>d</value>"
        "</member><member><name>params</name><value><array><data><value>"
        "<struct><member><name>methodName</name><value>multiCall</value>"
        "</member><member><name>params</name><value><array><data><value>"
        "<array><data><value><struct><member><name>methodName</name>"
        "<value>hidden</value></member></struct></value></data></array>"
        "</value></data></array></value></member></struct></value></data>"
        "</array></value></member></struct></value>"
        "</data></array></value></param>"
        /* a second param that looks like calls: not part of it */
        "<param><value><array><data><value><struct><member><name>methodName"
        "</name><value>other</value></member></struct></value></data>"
        "</array></value></param></params></methodCall>";
    rec_t rec;
    mg_xmlrpc_limits_t lim;
    mg_xmlrpc_t *x;

    (void)state;
    memset(&rec, 0, sizeof(rec));
    mg_xmlrpc_limits_default(&lim);
    assert_int_equal(mg_xmlrpc_new(&x, &lim, rec_cb, &rec), 0);
    assert_int_equal(mg_xmlrpc_feed(x, body, sizeof(body) - 1, 1),
                     MG_XR_ACCEPT);
    assert_int_equal(rec.calls, 6);
    assert_string_equal(rec.names[1], "a.b");
    assert_int_equal(rec.index[1], 0);
    assert_string_equal(rec.names[2], "first");
    assert_int_equal(rec.index[2], 1);
    assert_string_equal(rec.names[3], "second");
    assert_int_equal(rec.index[3], 1);
    assert_string_equal(rec.names[4], "c");
    assert_string_equal(rec.names[5], "d");
    assert_int_equal(rec.inner[5], 1);
    assert_int_equal(mg_xmlrpc_counters(x)->multicall, 4);
    assert_int_equal(mg_xmlrpc_counters(x)->multicall_depth, 1);
    assert_true(mg_xmlrpc_is_multicall(x));
    assert_string_equal(mg_xmlrpc_method(x), "system.multicall");
    mg_xmlrpc_free(x);
}

/* multicall(V): a multiCall whose first parameter's array is V */
#define MC_HEAD                                                                \
    "<methodCall><methodName>multiCall</methodName><params><param><value>"     \
    "<array><data>"
#define MC_END "</data></array></value></param></params></methodCall>"
#define CALL(name, args)                                                       \
    "<value><struct><member><name>methodName</name><value><string>" name       \
    "</string></value></member><member><name>params</name><value><array>"      \
    "<data>" args "</data></array></value></member></struct></value>"

/* Multicalls refused for their shape, each naming the path to the call. */
static void test_multicall_refused_shapes(void **state)
{
    static const struct {
        const char *label, *body, *text;
    } cases[] = {
        {"an item that is not a struct",
         MC_HEAD CALL("a", "") "<value><int>5</int></value>" MC_END,
         "call 2 of multiCall is not a struct"},
        {"an untyped item", MC_HEAD "<value>getBuild</value>" MC_END,
         "call 1 of multiCall is not a struct"},
        {"an empty item", MC_HEAD "<value/>" MC_END,
         "call 1 of multiCall is not a struct"},
        {"an array item",
         MC_HEAD "<value><array><data/></array></value>" MC_END,
         "call 1 of multiCall is not a struct"},
        {"no methodName",
         MC_HEAD
         "<value><struct><member><name>params"
         "</name><value><array><data/></array></value></member></struct>"
         "</value>" MC_END,
         "call 1 of multiCall has no methodName"},
        {"an empty struct", MC_HEAD "<value><struct/></value>" MC_END,
         "call 1 of multiCall has no methodName"},
        {"a methodName that is an int",
         MC_HEAD "<value><struct><member>"
                 "<name>methodName</name><value><int>5</int></value></member>"
                 "</struct></value>" MC_END,
         "call 1 of multiCall has a methodName that is "
         "not a string"},
        {"a methodName that is a struct",
         MC_HEAD "<value><struct><member>"
                 "<name>methodName</name><value><struct/></value></member>"
                 "</struct></value>" MC_END,
         "call 1 of multiCall has a methodName that is "
         "not a string"},
        {"a methodName that is an array",
         MC_HEAD "<value><struct><member>"
                 "<name>methodName</name><value><array><data/></array></value>"
                 "</member></struct></value>" MC_END,
         "call 1 of multiCall has a methodName that is "
         "not a string"},
        {"an empty methodName",
         MC_HEAD "<value><struct><member>"
                 "<name>methodName</name><value><string/></value></member>"
                 "</struct></value>" MC_END,
         "call 1 of multiCall has an empty methodName"},
        {"keyword arguments to the top-level multicall",
         "<methodCall><methodName>multiCall</methodName><params><param>"
         "<value><struct><member><name>calls</name><value><array><data>" CALL(
             "queryHistory",
             "") "</data></array></value></member>"
                 "</struct></value></param></params></methodCall>",
         "multiCall has a struct argument (keyword "
         "arguments would hide its calls)"},
        {"keyword arguments after the calls",
         "<methodCall><methodName>system.multicall</methodName><params>"
         "<param><value><array><data/></array></value></param><param>"
         "<value><struct/></value></param></params></methodCall>",
         "system.multicall has a struct argument "
         "(keyword arguments would hide its calls)"},
        {"keyword arguments to a nested multicall",
         MC_HEAD CALL("a", "")
             CALL("system.multicall", "<value><struct/></value>") MC_END,
         "call 2 of multiCall has a struct argument "
         "(keyword arguments would hide its calls)"},
        {"a nested multicall with its params first",
         MC_HEAD
         "<value><struct><member><name>params</name><value><array>"
         "<data/></array></value></member><member><name>methodName</name>"
         "<value>multiCall</value></member></struct></value>" MC_END,
         "call 1 of multiCall is a multicall whose "
         "params come before its methodName"},
        {"an item that is not a struct, nested",
         MC_HEAD CALL("multiCall", "<value><array><data>" CALL("a", "")
                                       CALL("b", "") "<value>x</value>"
                                                     "</data></array></value>")
             MC_END,
         "call 3 of call 1 of multiCall is not a "
         "struct"},
    };
    size_t i;
    int mode;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (mode = CHUNK_8K; mode <= CHUNK_RANDOM; mode++) {
            outcome_t o;
            rec_t rec;

            memset(&rec, 0, sizeof(rec));
            o = run(cases[i].body, strlen(cases[i].body), mode, NULL, &rec);
            check(cases[i].label, &o, MG_XR_REJECT, MG_REASON_XML_INVALID,
                  "structure");
            if (strcmp(o.text, cases[i].text) != 0) {
                fail_msg("%s: '%s', want '%s'", cases[i].label, o.text,
                         cases[i].text);
            }
        }
    }
}

/* Nested multicalls: every call at every level is reported, with its
 * level, position and path, and each level's calls are counted. */
static void test_multicall_nested(void **state)
{
    static const char body[] = MC_HEAD CALL("hello", "") CALL(
        "system.multicall",
        "<value><array><data>" CALL("getBuild", "<value>1</value>")
            CALL("listBuilds", "")
                CALL("queryHistory",
                     "<value><int>3</int></value>") "</data></array></value>")
        CALL("multiCall",
             "<value><array><data>" CALL("echo", "") "</data></array>"
                                                     "</value>") MC_END;
    static const struct {
        const char *name, *path;
        int level;
        uint32_t index;
    } want[] = {
        {"multiCall", "multiCall", 0, 0},
        {"hello", "call 1 of multiCall", 1, 0},
        {"system.multicall", "call 2 of multiCall", 1, 1},
        {"getBuild", "call 1 of call 2 of multiCall", 2, 0},
        {"listBuilds", "call 2 of call 2 of multiCall", 2, 1},
        {"queryHistory", "call 3 of call 2 of multiCall", 2, 2},
        {"multiCall", "call 3 of multiCall", 1, 2},
        {"echo", "call 1 of call 3 of multiCall", 2, 0},
    };
    mg_xmlrpc_limits_t lim;
    outcome_t o;
    rec_t rec;
    unsigned i;
    int mode;

    (void)state;
    for (mode = CHUNK_8K; mode <= CHUNK_RANDOM; mode++) {
        memset(&rec, 0, sizeof(rec));
        o = run(body, sizeof(body) - 1, mode, NULL, &rec);
        check("nested", &o, MG_XR_ACCEPT, 0, NULL);
        assert_int_equal(rec.calls, 8);
        for (i = 0; i < 8; i++) {
            assert_string_equal(rec.names[i], want[i].name);
            assert_string_equal(rec.paths[i], want[i].path);
            assert_int_equal(rec.inner[i], want[i].level);
            assert_int_equal(rec.index[i], want[i].index);
        }
    }

    /* a rule refusing an inner call of the inner multicall */
    memset(&rec, 0, sizeof(rec));
    rec.deny = "queryHistory";
    rec.reason = MG_REASON_METHOD_DENIED;
    o = run(body, sizeof(body) - 1, CHUNK_1, NULL, &rec);
    check("deny nested", &o, MG_XR_REJECT, MG_REASON_METHOD_DENIED, "method");
    assert_string_equal(o.text, "method 'queryHistory' refused (call 3 of "
                                "call 2 of multiCall)");
    assert_int_equal(rec.calls, 6);

    /* the calls of every level count against `multicall`: 7 in all */
    mg_xmlrpc_limits_default(&lim);
    lim.multicall = 7;
    o = run(body, sizeof(body) - 1, CHUNK_RANDOM, &lim, NULL);
    check("7 calls", &o, MG_XR_ACCEPT, 0, NULL);
    lim.multicall = 6;
    o = run(body, sizeof(body) - 1, CHUNK_8K, &lim, NULL);
    check("7 calls over 6", &o, MG_XR_REJECT, MG_REASON_XML_LIMIT, "multicall");
    assert_string_equal(o.text, "multicall calls 7 > limit 6");

    /* nesting: 2 levels; a limit of 1 refuses the inner multicall as
     * soon as its name is read */
    lim.multicall = 100;
    lim.multicall_depth = 2;
    o = run(body, sizeof(body) - 1, CHUNK_1, &lim, NULL);
    check("depth 2", &o, MG_XR_ACCEPT, 0, NULL);
    lim.multicall_depth = 1;
    memset(&rec, 0, sizeof(rec));
    o = run(body, sizeof(body) - 1, CHUNK_8K, &lim, &rec);
    check("depth 2 over 1", &o, MG_XR_REJECT, MG_REASON_XML_LIMIT,
          "multicall-depth");
    assert_string_equal(o.text, "multicall nesting 2 > limit 1");
    assert_int_equal(rec.calls, 3);

    /* with no multicall names, it is a plain call */
    {
        mg_xmlrpc_t *x;
        static const char *const none[] = {NULL};

        memset(&rec, 0, sizeof(rec));
        mg_xmlrpc_limits_default(&lim);
        assert_int_equal(mg_xmlrpc_new(&x, &lim, rec_cb, &rec), 0);
        assert_int_equal(mg_xmlrpc_set_multicall(x, none, 0), 0);
        assert_int_equal(mg_xmlrpc_feed(x, body, sizeof(body) - 1, 1),
                         MG_XR_ACCEPT);
        assert_int_equal(rec.calls, 1);
        assert_false(mg_xmlrpc_is_multicall(x));
        assert_int_equal(mg_xmlrpc_counters(x)->multicall, 0);
        mg_xmlrpc_free(x);
    }
}

/* A configured list of multicall names replaces the default one; reset
 * brings the default back. */
static void test_multicall_names_list(void **state)
{
    static const char body[] =
        "<methodCall><methodName>batch</methodName><params><param><value>"
        "<array><data>" CALL(
            "multiCall", "<value><array><data>" CALL("a", "") "</data></array>"
                                                              "</value>")
            CALL("batch", "<value><array>"
                          "<data>" CALL("b", "") "</data></array>"
                                                 "</value>") MC_END;
    static const char *const names[] = {"batch", "x.y"};
    static const char *const empty[] = {""};
    static const char *const null[] = {"batch", NULL};
    static const char *many[MG_XMLRPC_MULTICALL_NAMES_MAX + 1];
    char longname[MG_XMLRPC_NAME_CAP + 2];
    const char *toolong[1];
    mg_xmlrpc_limits_t lim;
    mg_xmlrpc_t *x;
    rec_t rec;
    char path[16];
    size_t i;

    (void)state;
    memset(&rec, 0, sizeof(rec));
    mg_xmlrpc_limits_default(&lim);
    assert_int_equal(mg_xmlrpc_new(&x, &lim, rec_cb, &rec), 0);
    assert_true(mg_xmlrpc_multicall_name(x, "multiCall", 9));
    assert_true(mg_xmlrpc_multicall_name(x, "system.multicall", 16));
    assert_false(mg_xmlrpc_multicall_name(x, "multiCal", 8));
    assert_false(mg_xmlrpc_multicall_name(x, "batch", 5));
    /* bad lists leave the list as it was */
    assert_int_equal(mg_xmlrpc_set_multicall(x, empty, 1), -EINVAL);
    assert_int_equal(mg_xmlrpc_set_multicall(x, null, 2), -EINVAL);
    for (i = 0; i < MG_XMLRPC_MULTICALL_NAMES_MAX + 1; i++) {
        many[i] = "m";
    }
    assert_int_equal(
        mg_xmlrpc_set_multicall(x, many, MG_XMLRPC_MULTICALL_NAMES_MAX + 1),
        -EINVAL);
    assert_int_equal(
        mg_xmlrpc_set_multicall(x, many, MG_XMLRPC_MULTICALL_NAMES_MAX), 0);
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    toolong[0] = longname;
    assert_int_equal(mg_xmlrpc_set_multicall(x, toolong, 1), -EINVAL);
    assert_int_equal(mg_xmlrpc_set_multicall(NULL, names, 2), -EINVAL);
    assert_true(mg_xmlrpc_multicall_name(x, "m", 1));

    assert_int_equal(mg_xmlrpc_set_multicall(x, names, 2), 0);
    assert_false(mg_xmlrpc_multicall_name(x, "multiCall", 9));
    assert_int_equal(mg_xmlrpc_feed(x, body, sizeof(body) - 1, 1),
                     MG_XR_ACCEPT);
    /* batch, multiCall (a plain call now: its params are not looked at),
     * batch, and b inside it */
    assert_int_equal(rec.calls, 4);
    assert_string_equal(rec.names[3], "b");
    assert_int_equal(rec.inner[3], 2);
    assert_true(mg_xmlrpc_is_multicall(x));
    assert_int_equal(mg_xmlrpc_counters(x)->multicall, 3);
    assert_int_equal(mg_xmlrpc_counters(x)->multicall_depth, 2);
    /* a short buffer truncates the path, NUL-terminated */
    assert_int_equal(mg_xmlrpc_call_path(x, path, sizeof(path)), 5);
    assert_string_equal(path, "batch");
    assert_int_equal(mg_xmlrpc_call_path(x, NULL, 0), 5);

    /* reset: the default list again */
    memset(&rec, 0, sizeof(rec));
    assert_int_equal(mg_xmlrpc_reset(x, &lim, rec_cb, &rec), 0);
    assert_true(mg_xmlrpc_multicall_name(x, "multiCall", 9));
    assert_false(mg_xmlrpc_multicall_name(x, "batch", 5));
    assert_int_equal(mg_xmlrpc_feed(x, body, sizeof(body) - 1, 1),
                     MG_XR_ACCEPT);
    assert_int_equal(rec.calls, 1); /* batch is a plain call again */
    assert_false(mg_xmlrpc_is_multicall(x));

    /* the same list after the reset (a reused inspector's next request):
     * in use again; a list that differs by one string, or by its count,
     * is the new one; a bad one leaves the one in use */
    assert_int_equal(mg_xmlrpc_set_multicall(x, names, 2), 0);
    assert_true(mg_xmlrpc_multicall_name(x, "batch", 5));
    assert_true(mg_xmlrpc_multicall_name(x, "x.y", 3));
    assert_false(mg_xmlrpc_multicall_name(x, "multiCall", 9));
    {
        const char *other[2];

        other[0] = names[0];
        other[1] = "longer.name";
        assert_int_equal(mg_xmlrpc_set_multicall(x, other, 2), 0);
        assert_true(mg_xmlrpc_multicall_name(x, "longer.name", 11));
        assert_false(mg_xmlrpc_multicall_name(x, "x.y", 3));
        /* the same array holding another string */
        other[1] = "y.zz";
        assert_int_equal(mg_xmlrpc_set_multicall(x, other, 2), 0);
        assert_true(mg_xmlrpc_multicall_name(x, "y.zz", 4));
        assert_false(mg_xmlrpc_multicall_name(x, "longer.name", 11));
        other[1] = "longer.name";
        assert_int_equal(mg_xmlrpc_set_multicall(x, other, 1), 0);
        assert_true(mg_xmlrpc_multicall_name(x, "batch", 5));
        assert_false(mg_xmlrpc_multicall_name(x, "longer.name", 11));
        other[1] = NULL;
        assert_int_equal(mg_xmlrpc_set_multicall(x, other, 2), -EINVAL);
        assert_true(mg_xmlrpc_multicall_name(x, "batch", 5));
        assert_false(mg_xmlrpc_multicall_name(x, "longer.name", 11));
    }
    assert_int_equal(mg_xmlrpc_set_multicall(x, names, 2), 0);
    assert_true(mg_xmlrpc_multicall_name(x, "x.y", 3));
    mg_xmlrpc_free(x);
}

/* n multicalls nested in one another, one call each, getBuild inside. */
static void gen_nested(gbuf_t *b, size_t n)
{
    size_t i;

    puts_(b, "<methodCall><methodName>multiCall</methodName><params><param>"
             "<value><array><data>");
    for (i = 1; i < n; i++) {
        puts_(b, "<value><struct><member><name>methodName</name><value>"
                 "multiCall</value></member><member><name>params</name>"
                 "<value><array><data><value><array><data>");
    }
    puts_(b, CALL("getBuild", "<value><int>1</int></value>"));
    for (i = 1; i < n; i++) {
        puts_(b, "</data></array></value></data></array></value></member>"
                 "</struct></value>");
    }
    puts_(b, MC_END);
}

/* Nesting as deep as the XML depth allows, in constant memory; one more
 * level is refused when its name is read. */
static void test_multicall_deep(void **state)
{
    mg_xmlrpc_limits_t lim;
    gbuf_t b = {NULL, 0, 0};
    outcome_t o;
    rec_t rec;

    (void)state;
    mg_xmlrpc_limits_default(&lim);
    lim.depth = MG_XMLRPC_DEPTH_CAP;
    lim.multicall_depth = 27;
    gen_nested(&b, 27);
    memset(&rec, 0, sizeof(rec));
    o = run(b.p, b.len, CHUNK_RANDOM, &lim, &rec);
    check("27 levels", &o, MG_XR_ACCEPT, 0, NULL);
    assert_int_equal(rec.calls, 1 + 27);
    assert_true(o.peak < 64 * 1024);
    free(b.p);

    b.p = NULL;
    b.len = b.cap = 0;
    gen_nested(&b, 28);
    o = run(b.p, b.len, CHUNK_1, &lim, NULL);
    check("28 levels", &o, MG_XR_REJECT, MG_REASON_XML_LIMIT,
          "multicall-depth");
    assert_string_equal(o.text, "multicall nesting 28 > limit 27");
    /* the default: 4 */
    o = run(b.p, b.len, CHUNK_8K, NULL, NULL);
    check("28 levels, default", &o, MG_XR_REJECT, MG_REASON_XML_LIMIT,
          "multicall-depth");
    assert_string_equal(o.text, "multicall nesting 5 > limit 4");
    free(b.p);
}

/* The path names positions from 1 and is cut to the buffer. */
static void test_multicall_path_truncated(void **state)
{
    static const char body[] = MC_HEAD CALL("a", "")
        CALL("multiCall", "<value><array><data>" CALL("b", "")
                              CALL("c", "") "</data></array></value>") MC_END;
    rec_t rec;
    outcome_t o;
    char small[12];
    mg_xmlrpc_limits_t lim;
    mg_xmlrpc_t *x;

    (void)state;
    memset(&rec, 0, sizeof(rec));
    rec.deny = "c";
    rec.reason = MG_REASON_METHOD_DENIED;
    mg_xmlrpc_limits_default(&lim);
    assert_int_equal(mg_xmlrpc_new(&x, &lim, rec_cb, &rec), 0);
    o = feed_doc(x, body, sizeof(body) - 1, CHUNK_RANDOM);
    check("deny c", &o, MG_XR_REJECT, MG_REASON_METHOD_DENIED, "method");
    /* after the refusal: the call the parser was in */
    assert_int_equal(mg_xmlrpc_call_path(x, small, sizeof(small)),
                     (int)strlen("call 2 of call 2 of multiCall"));
    assert_string_equal(small, "call 2 of c");
    assert_string_equal(o.text, "method 'c' refused (call 2 of call 2 of "
                                "multiCall)");
    mg_xmlrpc_free(x);
}

static void test_multicall_count_at_refusal(void **state)
{
    gbuf_t b = {NULL, 0, 0};
    rec_t rec;
    outcome_t o;

    (void)state;
    memset(&rec, 0, sizeof(rec));
    gen_multicall(&b, 100000);
    o = run(b.p, b.len, CHUNK_8K, NULL, &rec);
    check("multicall 100000", &o, MG_XR_REJECT, MG_REASON_XML_LIMIT,
          "multicall");
    /* the top-level name and every call up to the limit, no further */
    assert_int_equal(rec.calls, 1 + 10000);
    assert_string_equal(rec.names[REC_MAX - 1], "getBuild");
    free(b.p);
}

/* ---- counters, limits, API edges ------------------------------------- */

static void test_counters(void **state)
{
    char *buf;
    size_t len;
    mg_xmlrpc_limits_t lim;
    mg_xmlrpc_t *x;
    const mg_xmlrpc_counters_t *c;

    (void)state;
    buf = mg_test_slurp("xmlrpc/ok_py_builds.xml", &len);
    mg_xmlrpc_limits_default(&lim);
    assert_int_equal(mg_xmlrpc_new(&x, &lim, NULL, NULL), 0);
    assert_null(mg_xmlrpc_method(x));
    assert_int_equal(mg_xmlrpc_feed(x, buf, len, 0), MG_XR_CONTINUE);
    assert_string_equal(mg_xmlrpc_method(x), "host.tagNotification");
    assert_false(mg_xmlrpc_is_multicall(x));
    /* the end comes separately, with no bytes */
    assert_int_equal(mg_xmlrpc_feed(x, NULL, 0, 1), MG_XR_ACCEPT);
    c = mg_xmlrpc_counters(x);
    assert_int_equal(c->bytes, len);
    assert_int_equal(c->params, 1);
    assert_int_equal(c->items_max, 20);
    assert_int_equal(c->members_max, 13);
    assert_int_equal(c->multicall, 0);
    /* methodCall params param value array data value struct member
     * value(extra) struct member value(source) struct member value
     * string = 17 */
    assert_int_equal(c->depth_max, 17);
    assert_true(c->elements > 20 * 13 * 4);
    assert_true(c->string_max > 40 && c->string_max < 200);
    mg_xmlrpc_free(x);
    free(buf);
}

/* a string literal and its length, NULs included */
#define LIT(s) s, sizeof(s) - 1

/* What a refused client reads: each said once, precisely, whatever the
 * chunking (the first bytes are held back until 4 have arrived). */
static void test_refusal_texts(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        mg_reason_t reason;
        const char *what;
        const char *text; /* NULL: libxml2's own words, below */
    } cases[] = {
        {LIT("\x30\x82\x01\x0a\x02\x01\x00\x30\x0d"), MG_REASON_XML_PARSE,
         "xml", "not XML: the body starts with bytes 30 82 01 0a 02 01 00 30"},
        {LIT("method=getBuild&id=1"), MG_REASON_XML_PARSE, "xml",
         "not XML: the body starts with bytes 6d 65 74 68 6f 64 3d 67 "
         "(\"method=g\")"},
        {LIT("{\"a\":1}"), MG_REASON_XML_PARSE, "xml",
         "not XML: the body starts with bytes 7b 22 61 22 3a 31 7d "
         "(\"{\"a\":1}\")"},
        {LIT("ab"), MG_REASON_XML_PARSE, "xml",
         "not XML: the body starts with bytes 61 62 (\"ab\")"},
        {LIT("\x00\x00\xfe\xff\x00\x00\x00<"), MG_REASON_XML_PARSE, "encoding",
         "UTF-32 is not supported: the body starts with bytes 00 00 fe ff 00 "
         "00 00 3c"},
        {LIT("<\x00\x00\x00?\x00\x00\x00"), MG_REASON_XML_PARSE, "encoding",
         "UTF-32 is not supported: the body starts with bytes 3c 00 00 00 3f "
         "00 00 00"},
        {LIT(""), MG_REASON_XML_PARSE, "empty", "empty body"},
        {LIT("<?xml version='1.0'?><!DOCTYPE x><methodCall/>"),
         MG_REASON_XML_INVALID, "doctype", "DOCTYPE is not allowed"},
        {LIT("<methodResponse/>"), MG_REASON_XML_INVALID, "structure",
         "unexpected <methodResponse>"},
        /* libxml2's message spans two lines: one line here */
        {LIT("<?xml version='1.0'?><methodCall><methodName>a\xff\xfe"
             "</methodName></methodCall>"),
         MG_REASON_XML_PARSE, "xml", NULL},
    };
    /* libxml2 words it differently when fed a byte at a time */
    static const char utf8_text[] = "line 1: Input is not proper UTF-8, "
                                    "indicate encoding ! Bytes: 0xFF 0xFE "
                                    "0x3C 0x2F";
    size_t i;
    int mode;

    (void)state;
    for (i = 0; i < (sizeof(cases) / sizeof(cases[0])); i++) {
        for (mode = CHUNK_8K; mode <= CHUNK_RANDOM; mode++) {
            outcome_t o = run(cases[i].in, cases[i].len, mode, NULL, NULL);
            char label[64];

            snprintf(label, sizeof(label), "text case %zu mode %d", i, mode);
            check(label, &o, MG_XR_REJECT, cases[i].reason, cases[i].what);
            if (cases[i].text == NULL && mode == CHUNK_8K &&
                strcmp(o.text, utf8_text) != 0) {
                fail_msg("%s: '%s', want '%s'", label, o.text, utf8_text);
            }
            if (cases[i].text != NULL && strcmp(o.text, cases[i].text) != 0) {
                fail_msg("%s: '%s', want '%s'", label, o.text, cases[i].text);
            }
        }
    }
    /* what XML may start with still reaches libxml2 */
    {
        static const char *const good[] = {
            "\xef\xbb\xbf<methodCall><methodName>a</methodName></methodCall>",
            " \r\n\t<methodCall><methodName>a</methodName></methodCall>",
        };
        for (i = 0; i < (sizeof(good) / sizeof(good[0])); i++) {
            for (mode = CHUNK_8K; mode <= CHUNK_RANDOM; mode++) {
                outcome_t o = run(good[i], strlen(good[i]), mode, NULL, NULL);
                check(good[i], &o, MG_XR_ACCEPT, 0, NULL);
                assert_string_equal(o.method, "a");
            }
        }
    }
}

static void test_text_limit_counts_across_comments(void **state)
{
    static const char body[] =
        "<methodCall><methodName>m</methodName><params><param><value>"
        "<string>aaaaa<!-- c -->aaaaa<![CDATA[aaaaa]]>&amp;</string>"
        "</value></param></params></methodCall>";
    mg_xmlrpc_limits_t lim;
    outcome_t o;

    (void)state;
    mg_xmlrpc_limits_default(&lim);
    lim.string = 16;
    o = run(body, sizeof(body) - 1, CHUNK_8K, &lim, NULL);
    check("16 bytes of text", &o, MG_XR_ACCEPT, 0, NULL);
    lim.string = 15;
    o = run(body, sizeof(body) - 1, CHUNK_1, &lim, NULL);
    check("16 bytes over 15", &o, MG_XR_REJECT, MG_REASON_XML_LIMIT, "string");
}

static void test_name_limit(void **state)
{
    static const char body[] =
        "<methodCall><methodName>abcdefgh</methodName></methodCall>";
    mg_xmlrpc_limits_t lim;
    outcome_t o;

    (void)state;
    mg_xmlrpc_limits_default(&lim);
    lim.name = 8;
    o = run(body, sizeof(body) - 1, CHUNK_1, &lim, NULL);
    check("name at limit", &o, MG_XR_ACCEPT, 0, NULL);
    lim.name = 7;
    o = run(body, sizeof(body) - 1, CHUNK_8K, &lim, NULL);
    check("name over limit", &o, MG_XR_REJECT, MG_REASON_XML_LIMIT, "name");
    assert_string_equal(o.text, "methodName bytes 8 > limit 7");
}

static void test_limits_check(void **state)
{
    mg_xmlrpc_limits_t lim, bad;
    const char *field = "x";
    mg_xmlrpc_t *x = (mg_xmlrpc_t *)&lim;

    (void)state;
    mg_xmlrpc_limits_default(&lim);
    assert_int_equal(mg_xmlrpc_limits_check(&lim, &field), 0);
    assert_null(field);
    assert_int_equal(lim.depth, 64);
    assert_int_equal(lim.items, 1000000);
    assert_int_equal(lim.string, 16u * MiB);

    bad = lim;
    bad.items = 0;
    assert_int_equal(mg_xmlrpc_limits_check(&bad, &field), -EINVAL);
    assert_string_equal(field, "items");
    bad = lim;
    bad.depth = 3;
    assert_int_equal(mg_xmlrpc_limits_check(&bad, &field), -EINVAL);
    assert_string_equal(field, "depth");
    bad = lim;
    bad.depth = MG_XMLRPC_DEPTH_CAP + 1;
    assert_int_equal(mg_xmlrpc_limits_check(&bad, &field), -ERANGE);
    assert_string_equal(field, "depth");
    bad = lim;
    bad.name = MG_XMLRPC_NAME_CAP + 1;
    assert_int_equal(mg_xmlrpc_limits_check(&bad, &field), -ERANGE);
    assert_string_equal(field, "name");
    assert_int_equal(lim.multicall_depth, 4);
    bad = lim;
    bad.multicall_depth = 0;
    assert_int_equal(mg_xmlrpc_limits_check(&bad, &field), -EINVAL);
    assert_string_equal(field, "multicall-depth");
    bad.multicall_depth = MG_XMLRPC_MULTICALL_DEPTH_CAP + 1;
    assert_int_equal(mg_xmlrpc_limits_check(&bad, &field), -ERANGE);
    assert_string_equal(field, "multicall-depth");
    bad.multicall_depth = MG_XMLRPC_MULTICALL_DEPTH_CAP;
    assert_int_equal(mg_xmlrpc_limits_check(&bad, &field), 0);
    bad = lim;
    bad.params = 0; /* only calls without parameters */
    assert_int_equal(mg_xmlrpc_limits_check(&bad, &field), 0);

    bad = lim;
    bad.string = 0;
    assert_int_equal(mg_xmlrpc_new(&x, &bad, NULL, NULL), -EINVAL);
    assert_null(x);
    assert_int_equal(mg_xmlrpc_new(&x, NULL, NULL, NULL), -EINVAL);
    mg_xmlrpc_free(NULL);
}

/* The refused corpus must not make libxml2 print anything: in httpd,
 * stderr is the error log. */
static void test_quiet(void **state)
{
    FILE *tmp = tmpfile();
    int saved;
    size_t i;
    long size;

    (void)state;
    assert_non_null(tmp);
    fflush(stderr);
    saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fileno(tmp), 2), 2);
    for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        char rel[256];
        size_t len, off;
        char *buf;
        mg_xmlrpc_limits_t lim;
        mg_xmlrpc_t *x;

        /* no assertion while stderr is away: they would report there */
        snprintf(rel, sizeof(rel), "xmlrpc/%s", corpus[i].file);
        buf = mg_test_slurp(rel, &len);
        mg_xmlrpc_limits_default(&lim);
        if (mg_xmlrpc_new(&x, &lim, NULL, NULL) == 0) {
            for (off = 0; off < len; off++) {
                if (mg_xmlrpc_feed(x, buf + off, 1, 0) != MG_XR_CONTINUE) {
                    break;
                }
            }
            (void)mg_xmlrpc_feed(x, NULL, 0, 1);
            mg_xmlrpc_free(x);
        }
        free(buf);
    }
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    fseek(tmp, 0, SEEK_END);
    size = ftell(tmp);
    fclose(tmp);
    assert_int_equal(size, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_check),
        cmocka_unit_test(test_corpus_listed),
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_reuse_corpus),
        cmocka_unit_test(test_reuse_after_refusal),
        cmocka_unit_test(test_reuse_dict_bound),
        cmocka_unit_test(test_fast_same_as_libxml2),
        cmocka_unit_test(test_quiet),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_name_limit),
        cmocka_unit_test(test_text_limit_counts_across_comments),
        cmocka_unit_test(test_refusal_texts),
        cmocka_unit_test(test_multicall_names),
        cmocka_unit_test(test_multicall_shapes),
        cmocka_unit_test(test_multicall_refused_shapes),
        cmocka_unit_test(test_multicall_nested),
        cmocka_unit_test(test_multicall_names_list),
        cmocka_unit_test(test_multicall_path_truncated),
        cmocka_unit_test(test_multicall_deep),
        cmocka_unit_test(test_multicall_count_at_refusal),
        cmocka_unit_test(test_generated),
        cmocka_unit_test(test_one_big_feed),
    };

    /* before libxml2 allocates anything */
    if (xmlMemSetup(mem_free, mem_malloc, mem_realloc, mem_strdup) != 0) {
        return 1;
    }
    mg_xmlrpc_global_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
