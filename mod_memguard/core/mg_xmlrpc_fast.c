/*
 * mg_xmlrpc_fast.c - the inspector's fast path: a small call, whole in one
 * feed, written the way every XML-RPC client writes one, is read here
 * instead of by libxml2, through the same handlers (mg_xmlrpc_sax.c).
 *
 * Why: a 138-byte getBuild(1) cost about 7 us in libxml2 (resetting its
 * parser context, the encoding switch of the XML declaration, the name
 * dictionary, its per-thread globals) and pushed its 60 KB of parser state
 * through the caches on every call; the handlers themselves cost well
 * under a microsecond. Python's xmlrpc.client, Koji's clients and the
 * other common clients write
 *
 *   <?xml version='1.0'?>\n<methodCall>\n<methodName>getBuild</methodName>
 *   \n<params>\n<param>\n<value><int>1</int></value>\n</param>\n</params>
 *   \n</methodCall>\n
 *
 * that is: an optional XML declaration (version 1.0, encoding UTF-8 if
 * any), elements without attributes or prefixes, ASCII text without
 * references, whitespace. Such a body is read in two passes over the
 * bytes: the first only checks that the body is of that form and
 * well-formed (every tag closed by its own name, one root, nothing after
 * it but whitespace); the second hands its tags and text to the handlers,
 * which judge it exactly as they judge libxml2's events. Anything else -
 * a comment, a CDATA section, a processing instruction, a DOCTYPE, an
 * attribute, a namespace prefix, an entity or character reference, a
 * carriage return, a byte outside printable ASCII, a name over 32 bytes,
 * nesting over MG_XMLRPC_FAST_DEPTH, any error at all - makes the first
 * pass answer 0 before a handler has run, and libxml2 parses the body
 * from its first byte as before. So the fast path decides nothing that
 * libxml2 would decide otherwise: it only accepts well-formed documents
 * (on which libxml2 reports no error), and everything the handlers decide
 * does not depend on how the text was cut into pieces (the unit tests
 * feed every fixture and thousands of mutations both ways and compare).
 */
#include <string.h>
#include <strings.h>

#include "mg_xmlrpc_int.h"

/* Byte classes. F_TEXT: character data (printable ASCII but '<' and
 * '&', tab, line feed); F_PLAIN: the same but ']', what a text run skips
 * over without a second look ("]]>" is not allowed in content). */
#define F_START 0x01 /* may begin a name */
#define F_NAME 0x02  /* may continue a name */
#define F_SPACE 0x04 /* whitespace between tags (no carriage return) */
#define F_TEXT 0x08
#define F_PLAIN 0x10

/* Longest element name taken here ("dateTime.iso8601" is 16). */
#define MG_XMLRPC_FAST_NAME 32

static uint8_t mg_xmlrpc_fast_class[256];

static void mg_xmlrpc_fast_init(void)
{
    int c;

    for (c = 0x20; c < 0x7f; c++) {
        mg_xmlrpc_fast_class[c] |= F_TEXT;
    }
    mg_xmlrpc_fast_class['<'] &= (uint8_t)~F_TEXT;
    mg_xmlrpc_fast_class['&'] &= (uint8_t)~F_TEXT;
    mg_xmlrpc_fast_class['\t'] |= F_TEXT | F_SPACE;
    mg_xmlrpc_fast_class['\n'] |= F_TEXT | F_SPACE;
    for (c = 0; c < 256; c++) {
        if ((mg_xmlrpc_fast_class[c] & F_TEXT) && c != ']') {
            mg_xmlrpc_fast_class[c] |= F_PLAIN;
        }
    }
    mg_xmlrpc_fast_class[' '] |= F_SPACE;
    for (c = 'a'; c <= 'z'; c++) {
        mg_xmlrpc_fast_class[c] |= F_START | F_NAME;
        mg_xmlrpc_fast_class[c - 'a' + 'A'] |= F_START | F_NAME;
    }
    mg_xmlrpc_fast_class['_'] |= F_START | F_NAME;
    for (c = '0'; c <= '9'; c++) {
        mg_xmlrpc_fast_class[c] |= F_NAME;
    }
    mg_xmlrpc_fast_class['.'] |= F_NAME;
    mg_xmlrpc_fast_class['-'] |= F_NAME;
}

/* The table is filled once, before any thread reads it. */
static void __attribute__((constructor)) mg_xmlrpc_fast_ctor(void)
{
    mg_xmlrpc_fast_init();
}

#define CLS(c) (mg_xmlrpc_fast_class[(unsigned char)(c)])

static size_t mg_xmlrpc_fast_space(const char *b, size_t i, size_t len)
{
    while (i < len && (CLS(b[i]) & F_SPACE)) {
        i++;
    }
    return i;
}

/* At b[i]: S? '=' S? and a quoted value; its bounds in *v, *vlen; the
 * index after the closing quote, or 0. */
static size_t mg_xmlrpc_fast_attr(const char *b, size_t i, size_t len,
                                  const char *name, size_t *v, size_t *vlen)
{
    size_t n = strlen(name), j;
    char q;

    if (len - i < n || memcmp(b + i, name, n) != 0) {
        return 0;
    }
    i = mg_xmlrpc_fast_space(b, i + n, len);
    if (i >= len || b[i] != '=') {
        return 0;
    }
    i = mg_xmlrpc_fast_space(b, i + 1, len);
    if (i >= len || (b[i] != '\'' && b[i] != '"')) {
        return 0;
    }
    q = b[i++];
    for (j = i; j < len && b[j] != q; j++) {
        if (!(CLS(b[j]) & F_NAME)) {
            return 0;
        }
    }
    if (j >= len) {
        return 0;
    }
    *v = i;
    *vlen = j - i;
    return j + 1;
}

/* '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' (encoding and
 * standalone optional, each after whitespace): the index after it, or 0. */
static size_t mg_xmlrpc_fast_decl(const char *b, size_t len)
{
    /* what Python's xmlrpc.client (Koji's clients) writes, every call */
    static const char python[] = "<?xml version='1.0'?>";
    size_t i, j, k, v, n;

    if (len >= sizeof(python) - 1 &&
        memcmp(b, python, sizeof(python) - 1) == 0) {
        return sizeof(python) - 1;
    }
    if (len < 6 || memcmp(b, "<?xml", 5) != 0 || !(CLS(b[5]) & F_SPACE)) {
        return 0;
    }
    i = mg_xmlrpc_fast_space(b, 5, len);
    i = mg_xmlrpc_fast_attr(b, i, len, "version", &v, &n);
    if (i == 0 || n != 3 || memcmp(b + v, "1.0", 3) != 0) {
        return 0;
    }
    j = mg_xmlrpc_fast_space(b, i, len);
    if (j > i && (k = mg_xmlrpc_fast_attr(b, j, len, "encoding", &v, &n))) {
        if (n != 5 || strncasecmp(b + v, "utf-8", 5) != 0) {
            return 0;
        }
        i = k;
        j = mg_xmlrpc_fast_space(b, i, len);
    }
    if (j > i && (k = mg_xmlrpc_fast_attr(b, j, len, "standalone", &v, &n))) {
        if (!(n == 3 && memcmp(b + v, "yes", 3) == 0) &&
            !(n == 2 && memcmp(b + v, "no", 2) == 0)) {
            return 0;
        }
        j = mg_xmlrpc_fast_space(b, k, len);
    }
    if (len - j < 2 || b[j] != '?' || b[j + 1] != '>') {
        return 0;
    }
    return j + 2;
}

/* Before the root element: an XML declaration, if any, and whitespace
 * (not text to the handlers). 1 and *at the index of the root's '<';
 * 0 if the body does not begin so. */
static int mg_xmlrpc_fast_prolog(const char *b, size_t len, size_t *at)
{
    size_t i = 0;

    if (len >= 5 && memcmp(b, "<?xml", 5) == 0) {
        i = mg_xmlrpc_fast_decl(b, len);
        if (i == 0) {
            return 0;
        }
    }
    i = mg_xmlrpc_fast_space(b, i, len);
    if (i >= len || b[i] != '<') {
        return 0;
    }
    *at = i;
    return 1;
}

/* What the checking pass saw, for the second pass to replay without
 * reading the bytes again: a start tag (its name), an end tag, an empty
 * element, a text run. A small call has a few dozen; a body with more
 * is read a second time instead. */
enum { EV_START, EV_END, EV_EMPTY, EV_TEXT };
#define MG_XMLRPC_FAST_EVENTS 96

typedef struct {
    uint32_t off;
    uint16_t len;
    uint8_t kind;
} mg_xmlrpc_fast_ev_t;

typedef struct {
    mg_xmlrpc_fast_ev_t ev[MG_XMLRPC_FAST_EVENTS];
    size_t n; /* recorded; over MG_XMLRPC_FAST_EVENTS: too many */
} mg_xmlrpc_fast_evs_t;

static void mg_xmlrpc_fast_note(mg_xmlrpc_fast_evs_t *e, int kind, size_t off,
                                size_t len)
{
    if (e == NULL) {
        return; /* the emitting pass notes nothing */
    }
    if (e->n < MG_XMLRPC_FAST_EVENTS && len <= UINT16_MAX) {
        e->ev[e->n].off = (uint32_t)off;
        e->ev[e->n].len = (uint16_t)len;
        e->ev[e->n].kind = (uint8_t)kind;
        e->n++;
    }
    else {
        e->n = MG_XMLRPC_FAST_EVENTS + 1;
    }
}

/* A start tag to the handlers: its name NUL-terminated. */
static void mg_xmlrpc_fast_start(mg_xmlrpc_t *x, const char *b, size_t n)
{
    char name[MG_XMLRPC_FAST_NAME + 1];

    memcpy(name, b, n);
    name[n] = '\0';
    mg_xmlrpc_sax_start(x, name);
}

/*
 * One pass over the body. emit 0: check that it is of the plain form and
 * well-formed, calling nothing, noting its events in *evs; 1 (only after
 * a 0 pass said yes): hand the handlers its events, stopping when they
 * decide. 1 if the body is of the plain form, 0 if libxml2 must read it.
 */
static int mg_xmlrpc_fast_walk(mg_xmlrpc_t *x, const char *b, size_t len,
                               int emit, mg_xmlrpc_fast_evs_t *evs)
{
    /* open elements: where each name starts, and its length */
    uint32_t at[MG_XMLRPC_FAST_DEPTH];
    uint8_t nlen[MG_XMLRPC_FAST_DEPTH];
    size_t i, depth = 0, s, n;

    if (!mg_xmlrpc_fast_prolog(b, len, &i)) {
        return 0;
    }
    for (;;) {
        if (emit && x->state != MG_XR_CONTINUE) {
            return 1;
        }
        if (i >= len) {
            return 0; /* the body ends inside the root element */
        }
        if (b[i] != '<') {
            /* character data, up to the next tag */
            s = i;
            for (;;) {
                while (i < len && (CLS(b[i]) & F_PLAIN)) {
                    i++;
                }
                if (i >= len || b[i] != ']') {
                    break;
                }
                /* "]]>" is not allowed in content */
                if (len - i >= 3 && b[i + 1] == ']' && b[i + 2] == '>') {
                    return 0;
                }
                i++;
            }
            if (i >= len || b[i] != '<' || depth == 0) {
                return 0;
            }
            if (emit) {
                mg_xmlrpc_sax_text(x, b + s, i - s);
            }
            else {
                mg_xmlrpc_fast_note(evs, EV_TEXT, s, i - s);
            }
            continue;
        }
        i++;
        if (i < len && b[i] == '/') {
            /* an end tag: the name of the innermost open element */
            i++;
            if (depth == 0) {
                return 0;
            }
            depth--;
            n = nlen[depth];
            if (len - i < n || memcmp(b + i, b + at[depth], n) != 0) {
                return 0;
            }
            i = mg_xmlrpc_fast_space(b, i + n, len);
            if (i >= len || b[i] != '>') {
                return 0;
            }
            i++;
            if (emit) {
                mg_xmlrpc_sax_end(x);
            }
            else {
                mg_xmlrpc_fast_note(evs, EV_END, 0, 0);
            }
            if (depth == 0) {
                /* the root is closed: whitespace to the end, or libxml2 */
                return mg_xmlrpc_fast_space(b, i, len) == len;
            }
            continue;
        }
        /* a start tag or an empty element, without attributes */
        if (i >= len || !(CLS(b[i]) & F_START)) {
            return 0;
        }
        s = i;
        while (i < len && (CLS(b[i]) & F_NAME)) {
            i++;
        }
        n = i - s;
        if (n > MG_XMLRPC_FAST_NAME || depth == MG_XMLRPC_FAST_DEPTH) {
            return 0;
        }
        i = mg_xmlrpc_fast_space(b, i, len);
        if (i < len && b[i] == '>') {
            i++;
            at[depth] = (uint32_t)s;
            nlen[depth] = (uint8_t)n;
            depth++;
            if (emit) {
                mg_xmlrpc_fast_start(x, b + s, n);
            }
            else {
                mg_xmlrpc_fast_note(evs, EV_START, s, n);
            }
            continue;
        }
        if (len - i >= 2 && b[i] == '/' && b[i + 1] == '>') {
            i += 2;
            if (emit) {
                mg_xmlrpc_fast_start(x, b + s, n);
                mg_xmlrpc_sax_end(x);
            }
            else {
                mg_xmlrpc_fast_note(evs, EV_EMPTY, s, n);
            }
            if (depth == 0) {
                return mg_xmlrpc_fast_space(b, i, len) == len;
            }
            continue;
        }
        return 0; /* an attribute, a prefix, a stray byte */
    }
}

/* The events the checking pass noted, to the handlers. */
static void mg_xmlrpc_fast_replay(mg_xmlrpc_t *x, const char *b,
                                  const mg_xmlrpc_fast_evs_t *evs)
{
    size_t k;

    for (k = 0; k < evs->n && x->state == MG_XR_CONTINUE; k++) {
        const mg_xmlrpc_fast_ev_t *e = &evs->ev[k];

        switch (e->kind) {
        case EV_START:
            mg_xmlrpc_fast_start(x, b + e->off, e->len);
            break;
        case EV_EMPTY:
            mg_xmlrpc_fast_start(x, b + e->off, e->len);
            mg_xmlrpc_sax_end(x);
            break;
        case EV_END:
            mg_xmlrpc_sax_end(x);
            break;
        default:
            mg_xmlrpc_sax_text(x, b + e->off, e->len);
            break;
        }
    }
}

/* ---- the plain tier ---------------------------------------------------- */

/*
 * What Python's xmlrpc.client (every Koji client) writes for a call whose
 * parameters are scalars, tag for tag:
 *
 *   <?xml version='1.0'?>\n<methodCall>\n<methodName>getBuild</methodName>
 *   \n<params>\n<param>\n<value><int>1</int></value>\n</param>\n</params>
 *   \n</methodCall>\n
 *
 * (any declaration the general walk takes, any whitespace between the
 * structural tags, scalars of any XML-RPC type, empty ones as <nil/>).
 * Such a body is a well-formed call of the right shape by construction,
 * so its reading needs no events and no handlers: one pass checks it
 * byte for byte and counts what the handlers would count; what is left
 * to judge is its limits and its method. Anything else - a struct, an
 * array, an untyped or a blank-wrapped value, a space inside a tag, a
 * ']', an empty <methodName>, a multicall - and any body that reaches a
 * limit, leaves everything untouched: the general walk reads it (and
 * refuses it with the handlers' own words).
 */
typedef struct {
    size_t name, name_len; /* the methodName's text */
    uint64_t name_max;     /* the longest run when it was complete */
    uint64_t run, run_max; /* the handlers' x->run and string_max */
    uint32_t elements, params, depth_max;
} mg_xmlrpc_plain_t;

/* At b[*i]: the literal lit (n bytes), stepped over; else 0. */
static inline int mg_xmlrpc_plain_lit(const char *b, size_t len, size_t *i,
                                      const char *lit, size_t n)
{
    if (len - *i < n || memcmp(b + *i, lit, n) != 0) {
        return 0;
    }
    *i += n;
    return 1;
}

#define PLAIN_LIT(s) mg_xmlrpc_plain_lit(b, len, &i, s, sizeof(s) - 1)

/* A start tag opens at depth d: what mg_xmlrpc_open() counts and checks
 * first. 0 when a limit is reached (the general walk refuses it). */
static int mg_xmlrpc_plain_open(const mg_xmlrpc_t *x, mg_xmlrpc_plain_t *p,
                                uint32_t d)
{
    if (++p->elements > x->lim.elements || d > x->lim.depth) {
        return 0;
    }
    if (p->run > p->run_max) {
        p->run_max = p->run;
    }
    p->run = 0;
    if (d > p->depth_max) {
        p->depth_max = d;
    }
    return 1;
}

/* Text of n bytes: what mg_xmlrpc_on_text() adds to the run. 0 past the
 * string limit. */
static int mg_xmlrpc_plain_text(const mg_xmlrpc_t *x, mg_xmlrpc_plain_t *p,
                                size_t n)
{
    p->run += n;
    return p->run <= x->lim.string;
}

/* Whitespace from b[*i] (between structural tags), counted as text. */
static int mg_xmlrpc_plain_space(const mg_xmlrpc_t *x, mg_xmlrpc_plain_t *p,
                                 const char *b, size_t len, size_t *i)
{
    size_t s = *i;

    *i = mg_xmlrpc_fast_space(b, s, len);
    return mg_xmlrpc_plain_text(x, p, *i - s);
}

/* Character data from b[*i] up to the next '<' (none of ']', '&', a
 * carriage return or a byte outside printable ASCII): its length, or -1. */
static long mg_xmlrpc_plain_chars(const char *b, size_t len, size_t *i)
{
    size_t s = *i;

    while (*i < len && (CLS(b[*i]) & F_PLAIN)) {
        (*i)++;
    }
    return *i < len && b[*i] == '<' ? (long)(*i - s) : -1;
}

/* <param><value><T>text</T></value></param> or <T/>, the whitespace after
 * it included; at "<param>". 0: not of that form, or a limit. */
static int mg_xmlrpc_plain_param(const mg_xmlrpc_t *x, mg_xmlrpc_plain_t *p,
                                 const char *b, size_t len, size_t *ip)
{
    char type[MG_XMLRPC_FAST_NAME + 1];
    size_t i = *ip, t;
    long n;

    if (!PLAIN_LIT("<param>") || !mg_xmlrpc_plain_open(x, p, 3) ||
        ++p->params > x->lim.params ||
        !mg_xmlrpc_plain_space(x, p, b, len, &i) || !PLAIN_LIT("<value><") ||
        !mg_xmlrpc_plain_open(x, p, 4) || !mg_xmlrpc_plain_open(x, p, 5)) {
        return 0;
    }
    t = i;
    while (i < len && (CLS(b[i]) & F_NAME)) {
        i++;
    }
    /* a scalar's type, as the handlers know them */
    if (i - t > MG_XMLRPC_FAST_NAME) {
        return 0;
    }
    memcpy(type, b + t, i - t);
    type[i - t] = '\0';
    if (mg_xmlrpc_kind(type, NULL) != MG_XK_SCALAR) {
        return 0;
    }
    if (!PLAIN_LIT("/>")) {
        /* <T>text</T> */
        size_t tn = i - t;

        if (!PLAIN_LIT(">") || (n = mg_xmlrpc_plain_chars(b, len, &i)) < 0 ||
            !mg_xmlrpc_plain_text(x, p, (size_t)n) || !PLAIN_LIT("</") ||
            len - i < tn + 1 || memcmp(b + i, b + t, tn) != 0 ||
            b[i + tn] != '>') {
            return 0;
        }
        i += tn + 1;
    }
    if (!PLAIN_LIT("</value>") || !mg_xmlrpc_plain_space(x, p, b, len, &i) ||
        !PLAIN_LIT("</param>") || !mg_xmlrpc_plain_space(x, p, b, len, &i)) {
        return 0;
    }
    *ip = i;
    return 1;
}

/* The whole body in the plain form, within every limit: 1 and *p. */
static int mg_xmlrpc_plain_scan(const mg_xmlrpc_t *x, const char *b, size_t len,
                                mg_xmlrpc_plain_t *p)
{
    size_t i;
    long n;

    memset(p, 0, sizeof(*p));
    if (!mg_xmlrpc_fast_prolog(b, len, &i) || !PLAIN_LIT("<methodCall>") ||
        !mg_xmlrpc_plain_open(x, p, 1) ||
        !mg_xmlrpc_plain_space(x, p, b, len, &i) ||
        !PLAIN_LIT("<methodName>") || !mg_xmlrpc_plain_open(x, p, 2)) {
        return 0;
    }
    p->name = i;
    n = mg_xmlrpc_plain_chars(b, len, &i);
    if (n <= 0 || (uint64_t)n > x->lim.name ||
        !mg_xmlrpc_plain_text(x, p, (size_t)n) || !PLAIN_LIT("</methodName>") ||
        mg_xmlrpc_multicall_name(x, b + p->name, (size_t)n)) {
        return 0;
    }
    p->name_len = (size_t)n;
    p->name_max = p->run > p->run_max ? p->run : p->run_max;
    if (!mg_xmlrpc_plain_space(x, p, b, len, &i)) {
        return 0;
    }
    if (PLAIN_LIT("<params>")) {
        if (!mg_xmlrpc_plain_open(x, p, 2) ||
            !mg_xmlrpc_plain_space(x, p, b, len, &i)) {
            return 0;
        }
        while (!PLAIN_LIT("</params>")) {
            if (!mg_xmlrpc_plain_param(x, p, b, len, &i)) {
                return 0;
            }
        }
        if (!mg_xmlrpc_plain_space(x, p, b, len, &i)) {
            return 0;
        }
    }
    if (!PLAIN_LIT("</methodCall>")) {
        return 0;
    }
    /* the root is closed: whitespace to the end, or the general walk */
    return mg_xmlrpc_fast_space(b, i, len) == len;
}

#undef PLAIN_LIT

/* The handlers' state after reading a body mg_xmlrpc_plain_scan() took:
 * the method reported (the callback may refuse it, as at the end of its
 * <methodName>: then the counters stop there), the root closed. */
static void mg_xmlrpc_plain_commit(mg_xmlrpc_t *x, const char *b,
                                   const mg_xmlrpc_plain_t *p)
{
    memcpy(x->method, b + p->name, p->name_len);
    x->cap_len = (uint32_t)p->name_len;
    x->counters.elements = 2;
    x->counters.depth_max = 2;
    x->counters.string_max = p->name_max;
    x->depth = 1;
    mg_xmlrpc_sax_method(x);
    if (x->state != MG_XR_CONTINUE) {
        return;
    }
    x->counters.elements = p->elements;
    x->counters.depth_max = p->depth_max;
    x->counters.params = p->params;
    x->run = p->run;
    x->counters.string_max = p->run_max;
    x->depth = 0;
    x->root_done = 1;
}

int mg_xmlrpc_fast(mg_xmlrpc_t *x, const char *buf, size_t len)
{
    mg_xmlrpc_fast_evs_t evs;
    mg_xmlrpc_plain_t p;
    int plain;

    evs.n = 0;
    if (x->fast_off || len == 0 || len > MG_XMLRPC_FAST_MAX ||
        len > x->lim.token) {
        return 0;
    }
    plain = !x->plain_off && mg_xmlrpc_plain_scan(x, buf, len, &p);
    if (!plain && !mg_xmlrpc_fast_walk(x, buf, len, 0, &evs)) {
        return 0;
    }
    /* libxml2's context has nothing to do with this body: a refusal does
     * not stop it, the next body that needs it resets it first */
    x->ctxt_stale = 1;
    /* what feed() would have recorded had libxml2 read it */
    x->counters.bytes = len;
    x->counters.fast = plain ? MG_XMLRPC_READ_PLAIN : MG_XMLRPC_READ_WALK;
    x->head_len = (uint32_t)(len < sizeof(x->head) ? len : sizeof(x->head));
    memcpy(x->head, buf, x->head_len);
    x->head_done = 1;
    if (plain) {
        mg_xmlrpc_plain_commit(x, buf, &p);
    }
    else if (evs.n <= MG_XMLRPC_FAST_EVENTS) {
        mg_xmlrpc_fast_replay(x, buf, &evs);
    }
    else {
        mg_xmlrpc_fast_walk(x, buf, len, 1, NULL);
    }
    x->terminated = 1;
    mg_xmlrpc_run_max(x);
    if (x->state == MG_XR_CONTINUE) {
        /* the walk closed the root: </methodCall> was checked (another
         * root is refused as unexpected when it opens) */
        if (x->root_done) {
            x->state = MG_XR_ACCEPT;
        }
        else {
            mg_xmlrpc_invalid(x, "no <methodCall>");
        }
    }
    return 1;
}
