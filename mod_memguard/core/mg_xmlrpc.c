/*
 * mg_xmlrpc.c - see mg_xmlrpc.h.
 *
 * A typical body, as Python's xmlrpc.client.dumps() writes it:
 *
 *   <?xml version='1.0'?>
 *   <methodCall>
 *   <methodName>getBuild</methodName>
 *   <params>
 *   <param>
 *   <value><string>bash-5.2.15-3.fc38</string></value>
 *   </param>
 *   </params>
 *   </methodCall>
 *
 * How libxml2 2.9.14's push parser behaves, measured, which shapes this
 * file: character data is handed to the SAX characters callback in pieces
 * as it arrives, so a 50 MB string costs nothing but a counter; the
 * parser's input buffer is shrunk as it goes. A start tag, a comment, a
 * processing instruction and a CDATA section are different: libxml2 keeps
 * all of it in its input buffer until the terminator arrives, up to 10 MB
 * (XML_MAX_LOOKUP_LIMIT, "Huge input lookup"), and it buffers it again to
 * report it. The `token` limit bounds that; feed() cuts large chunks into
 * slices so that the check runs often enough to mean something.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mg_xmlrpc_int.h"

int mg_xmlrpc_global_init(void)
{
    xmlInitParser();
    return 0;
}

void mg_xmlrpc_limits_default(mg_xmlrpc_limits_t *l)
{
    l->depth = MG_XMLRPC_DEF_DEPTH;
    l->elements = MG_XMLRPC_DEF_ELEMENTS;
    l->params = MG_XMLRPC_DEF_PARAMS;
    l->items = MG_XMLRPC_DEF_ITEMS;
    l->members = MG_XMLRPC_DEF_MEMBERS;
    l->name = MG_XMLRPC_DEF_NAME;
    l->multicall = MG_XMLRPC_DEF_MULTICALL;
    l->multicall_depth = MG_XMLRPC_DEF_MULTICALL_DEPTH;
    l->token = MG_XMLRPC_DEF_TOKEN;
    l->string = MG_XMLRPC_DEF_STRING;
}

int mg_xmlrpc_limits_check(const mg_xmlrpc_limits_t *l, const char **field)
{
    const char *bad = NULL;
    int rc = -EINVAL;

    /* depth 4 is the least a call with a parameter needs */
    if (l->depth < 4) {
        bad = "depth";
    }
    else if (l->elements == 0) {
        bad = "elements";
    }
    else if (l->items == 0) {
        bad = "items";
    }
    else if (l->members == 0) {
        bad = "members";
    }
    else if (l->name == 0) {
        bad = "name";
    }
    else if (l->multicall == 0) {
        bad = "multicall";
    }
    else if (l->multicall_depth == 0) {
        bad = "multicall-depth";
    }
    else if (l->token == 0) {
        bad = "token";
    }
    else if (l->string == 0) {
        bad = "string";
    }
    else if (l->depth > MG_XMLRPC_DEPTH_CAP) {
        bad = "depth";
        rc = -ERANGE;
    }
    else if (l->name > MG_XMLRPC_NAME_CAP) {
        bad = "name";
        rc = -ERANGE;
    }
    else if (l->multicall_depth > MG_XMLRPC_MULTICALL_DEPTH_CAP) {
        bad = "multicall-depth";
        rc = -ERANGE;
    }
    /* params 0 is allowed: it admits only calls without parameters */
    if (field != NULL) {
        *field = bad;
    }
    return bad == NULL ? 0 : rc;
}

/*
 * What reset() lets a reused parser context keep. The dictionary interns
 * every element and attribute name, prefix and namespace URI a document
 * used and never forgets one: a real call needs about 20 names (the 19
 * known ones and a version string), so a context whose dictionary grew
 * past MG_XMLRPC_DICT_MAX (random names sent by a client, one request
 * after another, to a long-lived child) is freed and made anew. The same
 * for the attribute and namespace tables, which a start tag with
 * thousands of attributes grows and nothing ever shrinks.
 */
#define MG_XMLRPC_DICT_MAX 256
#define MG_XMLRPC_ATTS_MAX 275 /* libxml2 slots: 5 per attribute */
#define MG_XMLRPC_NS_MAX 40    /* two per namespace declaration */

/* Frames and name buffers for the limits l; kept if already big enough. */
static int mg_xmlrpc_buffers(mg_xmlrpc_t *x, const mg_xmlrpc_limits_t *l)
{
    if (x->frames == NULL || l->depth > x->depth_cap) {
        mg_xmlrpc_frame_t *f =
            xmlMalloc(((size_t)l->depth + 2) * sizeof(*x->frames));

        if (f == NULL) {
            return -ENOMEM;
        }
        xmlFree(x->frames);
        x->frames = f;
        x->depth_cap = l->depth;
    }
    if (x->method == NULL || x->inner == NULL || l->name > x->name_cap) {
        char *m = xmlMalloc((size_t)l->name + 1);
        char *i = xmlMalloc((size_t)l->name + 1);

        if (m == NULL || i == NULL) {
            xmlFree(m);
            xmlFree(i);
            return -ENOMEM;
        }
        xmlFree(x->method);
        xmlFree(x->inner);
        x->method = m;
        x->inner = i;
        x->name_cap = l->name;
    }
    /* frames[0], the document, is the only frame not set when pushed */
    memset(&x->frames[0], 0, sizeof(x->frames[0]));
    x->method[0] = '\0';
    x->inner[0] = '\0';
    return 0;
}

/* A new libxml2 context, and the names interned in its dictionary. */
static int mg_xmlrpc_ctxt_new(mg_xmlrpc_t *x)
{
    xmlSAXHandler sax;

    /* The handler is copied into the context. No initial bytes: libxml2
     * detects the encoding (BOM, UTF-16...) once 4 bytes have arrived,
     * even one at a time. */
    mg_xmlrpc_sax(&sax);
    x->ctxt = xmlCreatePushParserCtxt(&sax, x, NULL, 0, NULL);
    if (x->ctxt == NULL) {
        return -ENOMEM;
    }
    /* NONET: nothing fetched, ever. Deliberately absent: NOENT (expand
     * entities), DTDLOAD/DTDATTR/DTDVALID (read a DTD), HUGE (lift
     * libxml2's own depth and size safety limits), NOBLANKS (guesses
     * which whitespace is ignorable; we treat all text alike). */
    xmlCtxtUseOptions(x->ctxt, XML_PARSE_NONET);
    memset(x->names, 0, sizeof(x->names));
    memset(x->expect, 0, sizeof(x->expect));
    mg_xmlrpc_names_init(x);
    return 0;
}

/* Forget the previous document: everything but the buffers and ctxt. */
static void mg_xmlrpc_clear(mg_xmlrpc_t *x)
{
    x->state = MG_XR_CONTINUE;
    memset(&x->refusal, 0, sizeof(x->refusal));
    memset(&x->counters, 0, sizeof(x->counters));
    x->depth = 0;
    x->run = 0;
    x->root_done = 0;
    x->multicall = 0;
    x->method_done = 0;
    x->terminated = 0;
    x->capture = MG_XC_NONE;
    x->cap_depth = 0;
    x->cap_len = 0;
    x->mname_len = 0;
    x->mc_level = 0;
    memset(&x->mc[0], 0, sizeof(x->mc[0]));
    x->head_len = 0;
    x->head_done = 0;
}

static const char *const mg_xmlrpc_default_mc[] = {"system.multicall",
                                                   "multiCall"};
static const uint32_t mg_xmlrpc_default_mc_lens[] = {
    sizeof("system.multicall") - 1, sizeof("multiCall") - 1};

int mg_xmlrpc_set_multicall(mg_xmlrpc_t *x, const char *const *names, size_t n)
{
    size_t i, len;
    int same;

    if (x == NULL) {
        return -EINVAL;
    }
    if (names == NULL) {
        x->mc_names = mg_xmlrpc_default_mc;
        x->mc_lens = mg_xmlrpc_default_mc_lens;
        x->mc_count = sizeof(mg_xmlrpc_default_mc_lens) /
                      sizeof(mg_xmlrpc_default_mc_lens[0]);
        return 0;
    }
    if (n > MG_XMLRPC_MULTICALL_NAMES_MAX) {
        return -EINVAL;
    }
    /* the list checked last time, the same strings (each request of a
     * reused inspector under one configuration): taken as it was */
    same = n == x->mc_cfg_count;
    for (i = 0; same && i < n; i++) {
        same = names[i] == x->mc_cfg[i];
    }
    if (!same) {
        for (i = 0; i < n; i++) {
            if (names[i] == NULL) {
                return -EINVAL;
            }
            len = strnlen(names[i], MG_XMLRPC_NAME_CAP + 1);
            if (len == 0 || len > MG_XMLRPC_NAME_CAP) {
                return -EINVAL;
            }
        }
        for (i = 0; i < n; i++) {
            x->mc_cfg[i] = names[i];
            x->mc_cfg_lens[i] = (uint32_t)strlen(names[i]);
        }
        x->mc_cfg_count = (uint32_t)n;
    }
    x->mc_names = x->mc_cfg;
    x->mc_lens = x->mc_cfg_lens;
    x->mc_count = (uint32_t)n;
    return 0;
}

int mg_xmlrpc_new(mg_xmlrpc_t **xp, const mg_xmlrpc_limits_t *l,
                  mg_xmlrpc_method_cb cb, void *baton)
{
    mg_xmlrpc_t *x;

    *xp = NULL;
    if (l == NULL || mg_xmlrpc_limits_check(l, NULL) != 0) {
        return -EINVAL;
    }
    x = xmlMalloc(sizeof(*x));
    if (x == NULL) {
        return -ENOMEM;
    }
    memset(x, 0, sizeof(*x));
    x->lim = *l;
    x->cb = cb;
    x->baton = baton;
    mg_xmlrpc_set_multicall(x, NULL, 0);
    if (mg_xmlrpc_buffers(x, l) != 0 || mg_xmlrpc_ctxt_new(x) != 0) {
        mg_xmlrpc_free(x);
        return -ENOMEM;
    }
    *xp = x;
    return 0;
}

size_t mg_xmlrpc_dict_size(const mg_xmlrpc_t *x)
{
    if (x == NULL || x->ctxt == NULL || x->ctxt->dict == NULL) {
        return 0;
    }
    return (size_t)xmlDictSize(x->ctxt->dict);
}

int mg_xmlrpc_reusable(const mg_xmlrpc_t *x)
{
    const xmlParserCtxt *c;

    if (x == NULL || x->state == MG_XR_ERROR || x->ctxt == NULL) {
        return 0;
    }
    if (x->ctxt_stale) {
        return 1; /* libxml2 not used since it was found reusable */
    }
    c = x->ctxt;
    return c->dict != NULL && c->sax != NULL && c->userData == x &&
           xmlDictSize(c->dict) <= MG_XMLRPC_DICT_MAX &&
           c->maxatts <= MG_XMLRPC_ATTS_MAX && c->nsMax <= MG_XMLRPC_NS_MAX;
}

/* libxml2 2.9.14's xmlCtxtResetPush() (through xmlCtxtReset) frees the
 * input, empties the element, name and node stacks, clears the error and
 * the parser state, and keeps the SAX handler, userData, the options set
 * by xmlCtxtUseOptions() and the dictionary. It leaves a context that
 * differs from a new one in a few fields, set back here: the charset
 * (UTF-8 after a reset, "not yet known" in a new push context, which is
 * what makes libxml2 look at the first 4 bytes for a BOM or UTF-16),
 * `progressive` (left at the previous document's last value), the space
 * stack (a new context holds one entry) and the namespace stack. */
static int mg_xmlrpc_ctxt_reset(mg_xmlrpc_t *x)
{
    xmlParserCtxtPtr c = x->ctxt;

    if (xmlCtxtResetPush(c, NULL, 0, NULL, NULL) != 0 || c->input == NULL ||
        c->input->buf == NULL || c->inputNr != 1) {
        return -1;
    }
    c->charset = XML_CHAR_ENCODING_NONE;
    c->progressive = 0;
    c->nsNr = 0;
    if (c->spaceTab != NULL) {
        c->spaceNr = 1;
        c->spaceTab[0] = -1;
        c->space = &c->spaceTab[0];
    }
    c->userData = x;
    return 0;
}

int mg_xmlrpc_reset(mg_xmlrpc_t *x, const mg_xmlrpc_limits_t *l,
                    mg_xmlrpc_method_cb cb, void *baton)
{
    int reuse;

    if (x == NULL || l == NULL || mg_xmlrpc_limits_check(l, NULL) != 0) {
        return -EINVAL;
    }
    reuse = mg_xmlrpc_reusable(x);
    x->lim = *l;
    x->cb = cb;
    x->baton = baton;
    mg_xmlrpc_clear(x);
    mg_xmlrpc_set_multicall(x, NULL, 0);
    if (mg_xmlrpc_buffers(x, l) != 0) {
        goto nomem;
    }
    if (reuse) {
        /* libxml2's reset (xmlCtxtResetPush) waits until libxml2 is asked
         * to read something: a body the fast path takes never needs it */
        x->ctxt_stale = 1;
        return 0;
    }
    if (x->ctxt != NULL) {
        xmlFreeParserCtxt(x->ctxt);
        x->ctxt = NULL;
    }
    x->ctxt_stale = 0;
    if (mg_xmlrpc_ctxt_new(x) == 0) {
        return 0;
    }
nomem:
    /* feed() answers MG_XR_ERROR without touching anything */
    mg_xmlrpc_record(x, MG_XR_ERROR, MG_REASON_XML_PARSE, "memory",
                     "out of memory while preparing the parser");
    return -ENOMEM;
}

/* The context that mg_xmlrpc_reset() left as it was, reset now or made
 * anew; -1 (recorded as MG_XR_ERROR) when memory runs out. */
static int mg_xmlrpc_ctxt_fresh(mg_xmlrpc_t *x)
{
    x->ctxt_stale = 0;
    if (x->ctxt != NULL && mg_xmlrpc_ctxt_reset(x) == 0) {
        return 0;
    }
    if (x->ctxt != NULL) {
        xmlFreeParserCtxt(x->ctxt);
        x->ctxt = NULL;
    }
    if (mg_xmlrpc_ctxt_new(x) == 0) {
        return 0;
    }
    mg_xmlrpc_record(x, MG_XR_ERROR, MG_REASON_XML_PARSE, "memory",
                     "out of memory while preparing the parser");
    return -1;
}

void mg_xmlrpc_set_fast(mg_xmlrpc_t *x, int on)
{
    if (x != NULL) {
        x->fast_off = on == MG_XMLRPC_FAST_NONE;
        x->plain_off = on == MG_XMLRPC_FAST_GENERAL;
    }
}

void mg_xmlrpc_free(mg_xmlrpc_t *x)
{
    if (x == NULL) {
        return;
    }
    if (x->ctxt != NULL) {
        xmlFreeParserCtxt(x->ctxt);
    }
    xmlFree(x->frames);
    xmlFree(x->method);
    xmlFree(x->inner);
    xmlFree(x);
}

/* After a slice: catch what libxml2 reported without calling us, and
 * bound what it holds unparsed. */
static void mg_xmlrpc_after_slice(mg_xmlrpc_t *x)
{
    xmlParserCtxtPtr c = x->ctxt;
    uint64_t pending;

    mg_xmlrpc_run_max(x);
    if (x->state != MG_XR_CONTINUE) {
        return;
    }
    if (c->wellFormed == 0 || c->instate == XML_PARSER_EOF) {
        mg_xmlrpc_refuse(x, MG_XR_REJECT, MG_REASON_XML_PARSE, "xml", 0, 0,
                         "parse error (libxml2 error %d)", c->errNo);
        return;
    }
    if (c->input == NULL || c->input->cur == NULL) {
        return;
    }
    pending = (uint64_t)(c->input->end - c->input->cur);
    if (pending > x->counters.token_max) {
        x->counters.token_max = (uint32_t)pending;
    }
    if (pending > x->lim.token) {
        mg_xmlrpc_over(x, "token", "unparsed bytes", pending, x->lim.token);
    }
}

/* The body has ended: decide. */
static void mg_xmlrpc_finish(mg_xmlrpc_t *x)
{
    if (x->state != MG_XR_CONTINUE) {
        return;
    }
    if (x->counters.bytes == 0) {
        mg_xmlrpc_refuse(x, MG_XR_REJECT, MG_REASON_XML_PARSE, "empty", 0, 0,
                         "empty body");
        return;
    }
    if (!x->terminated) {
        x->terminated = 1;
        xmlParseChunk(x->ctxt, NULL, 0, 1);
    }
    if (x->state != MG_XR_CONTINUE) {
        return;
    }
    if (!x->root_done || x->ctxt->wellFormed == 0) {
        mg_xmlrpc_refuse(x, MG_XR_REJECT, MG_REASON_XML_PARSE, "truncated", 0,
                         0, "body ends inside the document");
        return;
    }
    x->state = MG_XR_ACCEPT;
}

/* "00 00 fe ff" for the held first bytes, and their text in quotes when
 * every one is printable ASCII. */
static void mg_xmlrpc_head_refuse(mg_xmlrpc_t *x, const char *what,
                                  const char *why)
{
    char hex[sizeof(x->head) * 3 + 1] = "", txt[sizeof(x->head) + 6];
    uint32_t i;
    int printable = 1;

    for (i = 0; i < x->head_len; i++) {
        /* "3c", then " 00" each: 3 bytes per byte, less the first space */
        snprintf(hex + (i ? 3 * i - 1 : 0), 4, "%s%02x", i ? " " : "",
                 x->head[i]);
        printable &= x->head[i] >= 0x20 && x->head[i] < 0x7f;
    }
    snprintf(txt, sizeof(txt), " (\"%.*s\")", (int)x->head_len,
             (const char *)x->head);
    mg_xmlrpc_refuse(x, MG_XR_REJECT, MG_REASON_XML_PARSE, what, 0, 0,
                     "%s the body starts with bytes %s%s", why, hex,
                     printable ? txt : "");
}

/*
 * Is the body XML at all? Decided on its first bytes (8, or fewer when
 * that is all there is; libxml2 guesses the encoding from 4):
 * without this, libxml2 answers "Document is empty" for a DER blob, a
 * form or JSON, and for UTF-32, which it does not read here. XML starts
 * with '<' or white space, after a BOM for UTF-8 or UTF-16; UTF-16 without
 * a BOM starts "00 3c" or "3c 00", EBCDIC "4c 6f a7 94".
 */
static int mg_xmlrpc_head_check(mg_xmlrpc_t *x)
{
    static const unsigned char utf32[][4] = {
        {0x00, 0x00, 0xfe, 0xff}, {0xff, 0xfe, 0x00, 0x00},
        {0x00, 0x00, 0x00, 0x3c}, {0x3c, 0x00, 0x00, 0x00},
        {0x00, 0x00, 0x3c, 0x00}, {0x00, 0x3c, 0x00, 0x00}};
    static const unsigned char *const starts[] = {
        (const unsigned char *)"\xef\xbb\xbf",
        (const unsigned char *)"\xfe\xff", (const unsigned char *)"\xff\xfe",
        (const unsigned char *)"\x00\x3c",
        (const unsigned char *)"\x4c\x6f\xa7\x94"};
    const unsigned char *h = x->head;
    size_t i, n;

    if (x->head_len >= 4) {
        for (i = 0; i < sizeof(utf32) / sizeof(utf32[0]); i++) {
            if (memcmp(h, utf32[i], 4) == 0) {
                mg_xmlrpc_head_refuse(x, "encoding",
                                      "UTF-32 is not supported:");
                return -1;
            }
        }
    }
    if (x->head_len == 0 || h[0] == '<' || h[0] == ' ' || h[0] == '\t' ||
        h[0] == '\r' || h[0] == '\n') {
        return 0;
    }
    for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
        n = strlen((const char *)starts[i] + 1) + 1; /* "\x00\x3c": 2 */
        if (n > x->head_len) {
            n = x->head_len; /* a body this short: libxml2 decides */
        }
        if (memcmp(h, starts[i], n) == 0) {
            return 0;
        }
    }
    mg_xmlrpc_head_refuse(x, "xml", "not XML:");
    return -1;
}

/* Hand bytes to libxml2 in slices. */
static void mg_xmlrpc_push(mg_xmlrpc_t *x, const char *buf, size_t len,
                           int last)
{
    while (len > 0 && x->state == MG_XR_CONTINUE) {
        size_t n = len > MG_XMLRPC_SLICE ? MG_XMLRPC_SLICE : len;
        int term = last && n == len;

        x->counters.bytes += n;
        x->terminated = term;
        xmlParseChunk(x->ctxt, buf, (int)n, term);
        buf += n;
        len -= n;
        if (!term) {
            mg_xmlrpc_after_slice(x);
        }
    }
}

mg_xmlrpc_state_t mg_xmlrpc_feed(mg_xmlrpc_t *x, const char *buf, size_t len,
                                 int last)
{
    xmlStructuredErrorFunc old_fn;
    void *old_ctx;

    if (x == NULL) {
        return MG_XR_ERROR;
    }
    if (x->state != MG_XR_CONTINUE) {
        return x->state;
    }
    /* A small body in one piece, in the form clients write: read by the
     * fast path (mg_xmlrpc_fast.c), libxml2 never called. */
    if (last && !x->head_done && x->head_len == 0 &&
        mg_xmlrpc_fast(x, buf, len)) {
        return x->state;
    }
    if (x->ctxt_stale && mg_xmlrpc_ctxt_fresh(x) != 0) {
        return x->state;
    }
    /* The first 8 bytes wait (copied) until all 8 are there or the body
     * ends, so the answer is the same however the body was cut; then the
     * earlier ones go to libxml2 first. */
    if (!x->head_done) {
        uint32_t before = x->head_len;
        size_t take = sizeof(x->head) - before;

        if (take > len) {
            take = len;
        }
        if (take > 0) { /* buf may be NULL with len 0 */
            memcpy(x->head + before, buf, take);
            x->head_len += (uint32_t)take;
        }
        if (x->head_len < sizeof(x->head) && !last) {
            return x->state;
        }
        x->head_done = 1;
        if (mg_xmlrpc_head_check(x) != 0) {
            return x->state;
        }
        if (before > 0) {
            old_fn = xmlStructuredError;
            old_ctx = xmlStructuredErrorContext;
            xmlSetStructuredErrorFunc(x, mg_xmlrpc_on_error);
            mg_xmlrpc_push(x, (const char *)x->head, before, 0);
            xmlSetStructuredErrorFunc(old_ctx, old_fn);
        }
    }
    /* per-thread in libxml2, so this does not disturb other requests */
    old_fn = xmlStructuredError;
    old_ctx = xmlStructuredErrorContext;
    xmlSetStructuredErrorFunc(x, mg_xmlrpc_on_error);

    mg_xmlrpc_push(x, buf, len, last);
    if (last) {
        mg_xmlrpc_finish(x);
    }
    mg_xmlrpc_run_max(x);

    xmlSetStructuredErrorFunc(old_ctx, old_fn);
    return x->state;
}

mg_xmlrpc_state_t mg_xmlrpc_state(const mg_xmlrpc_t *x)
{
    return x->state;
}

const mg_xmlrpc_refusal_t *mg_xmlrpc_refusal(const mg_xmlrpc_t *x)
{
    if (x->state != MG_XR_REJECT && x->state != MG_XR_ERROR) {
        return NULL;
    }
    return &x->refusal;
}

const char *mg_xmlrpc_method(const mg_xmlrpc_t *x)
{
    return x->method_done ? x->method : NULL;
}

int mg_xmlrpc_is_multicall(const mg_xmlrpc_t *x)
{
    return x->multicall;
}

const mg_xmlrpc_counters_t *mg_xmlrpc_counters(const mg_xmlrpc_t *x)
{
    return &x->counters;
}
