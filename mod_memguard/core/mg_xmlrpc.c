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

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlmemory.h>

#include "mg_xmlrpc.h"

/*
 * Defaults. Koji's clients are Python's xmlrpc.client (through
 * koji.xmlrpcplus); the largest real calls are uploads and imports.
 *
 * depth 64: a call nests 4 levels (methodCall/params/param/value) plus 3
 * per container (value/struct/member or value/array/data); Koji's deepest
 * data (CG import metadata, build info with extra dicts) stays under 10
 * containers, about 35 levels. libxml2 itself stops at 256.
 *
 * elements 10M: a struct member costs 5 elements for about 60-80 bytes,
 * so 10M elements is over 100 MB of Koji-shaped data (the listBuilds-like
 * body of t/bench has about 10 elements per 100 bytes); the request body
 * limit bites long before on real traffic, this one on dense junk such as
 * millions of empty <value/>.
 *
 * params 256: Koji methods take at most about 20 positional arguments
 * (keyword arguments travel as one struct).
 *
 * items 1M, per array: a list of every build of a big tag, or of every
 * RPM of a compose, stays in the hundreds of thousands.
 *
 * members 100000, per struct: record structs have tens of members, but
 * dicts keyed by package or NVR (CG metadata, tag data) can have tens of
 * thousands.
 *
 * name 256: Koji's longest method names ("host.importWrapperRPMs" ...) are
 * under 40 bytes; Python's server looks names up verbatim.
 *
 * multicall 10000, all levels together: koji's CLI and library batch
 * multicalls by 100 to 1000 calls, but ClientSession.multiCall() without a
 * batch size sends all of a loop's calls at once; 10000 keeps such
 * scripts working.
 *
 * multicall_depth 4: Koji's clients never nest (ClientSession sends one
 * multiCall of plain calls); 4 leaves room for a script that wraps a
 * multicall in another, and refuses the "multicall of multicalls, 10
 * deep" that only exists to hide a call.
 *
 * token 256 KiB: what libxml2 holds before parsing one tag, comment, PI
 * or CDATA section; its buffer doubles as it grows, so the parser's peak
 * is about three times this (measured: 3 MB for a limit of 1 MiB).
 * Python never writes CDATA or comments and a tag of a real call is a few
 * bytes; clients that wrap strings in CDATA do it for small texts.
 *
 * string 16 MiB per value: koji's uploadFile() sends base64 of 1 MiB
 * blocks by default (1.4 MB of text); 16 MiB leaves room for callers that
 * raise the block size to 8 MiB, and refuses a 50 MB string.
 */
#define MG_XMLRPC_DEF_DEPTH 64U
#define MG_XMLRPC_DEF_ELEMENTS 10000000U
#define MG_XMLRPC_DEF_PARAMS 256U
#define MG_XMLRPC_DEF_ITEMS 1000000U
#define MG_XMLRPC_DEF_MEMBERS 100000U
#define MG_XMLRPC_DEF_NAME 256U
#define MG_XMLRPC_DEF_MULTICALL 10000U
#define MG_XMLRPC_DEF_MULTICALL_DEPTH 4U
#define MG_XMLRPC_DEF_TOKEN (256U << 10)
#define MG_XMLRPC_DEF_STRING (16ULL << 20)

/* feed() hands libxml2 at most this much at a time, so that a caller
 * feeding 50 MB in one call does not make libxml2 copy 50 MB, and so that
 * the token check runs at least this often. */
#define MG_XMLRPC_SLICE 65536

/* What an open element is; frames[0] is the document itself. */
enum {
    MG_XK_DOC = 0,
    MG_XK_METHODCALL,
    MG_XK_METHODNAME,
    MG_XK_PARAMS,
    MG_XK_PARAM,
    MG_XK_VALUE,
    MG_XK_SCALAR,
    MG_XK_STRUCT,
    MG_XK_MEMBER,
    MG_XK_NAME,
    MG_XK_ARRAY,
    MG_XK_DATA,
    MG_XK_UNKNOWN
};

/* Frame flags. A multicall's calls array is the <data> of its first
 * argument (MC_ARG1); each <value> in it (MC_ITEM) holds a call struct
 * (MC_CALL) whose members (MC_MEMBER) are named methodName (MC_METHOD,
 * its value MC_CAPTURE) or params (MC_PARAMS, its value MC_PVALUE).
 * When the call is itself a multicall, the <data> of its params array
 * holds its arguments (MC_ARGS, each value MC_ARG), the first of which
 * is again a calls array. */
#define MG_XF_TEXT 0x001       /* value: non-whitespace text seen */
#define MG_XF_MC_DATA 0x002    /* data: a multicall's array of calls */
#define MG_XF_MC_CALL 0x004    /* struct: one call of a multicall */
#define MG_XF_MC_MEMBER 0x008  /* member of a call struct */
#define MG_XF_MC_METHOD 0x010  /* that member is named "methodName" */
#define MG_XF_MC_CAPTURE 0x020 /* value: holds an inner methodName */
#define MG_XF_MC_PARAMS 0x040  /* member of a call named "params" */
#define MG_XF_MC_PVALUE 0x080  /* value of that member */
#define MG_XF_MC_ARGS 0x100    /* data: the arguments of a multicall call */
#define MG_XF_MC_ARG 0x200     /* value: an argument of a multicall */
#define MG_XF_MC_ARG1 0x400    /* ... its first one */
#define MG_XF_MC_ITEM 0x800    /* value: one entry of a calls array */

/* Frames whose end has something to check. */
#define MG_XF_END                                                              \
    (MG_XF_MC_DATA | MG_XF_MC_CALL | MG_XF_MC_CAPTURE | MG_XF_MC_ITEM)

typedef struct {
    uint8_t kind;
    uint16_t flags;
    uint32_t count; /* children that matter: params, items, members... */
} mg_xmlrpc_frame_t;

/* One open multicall: the call of it being read. */
typedef struct {
    uint32_t index; /* position of the call, from 0 */
    uint8_t named;  /* its methodName has been reported */
    uint8_t nested; /* ... and is a multicall name */
    uint8_t params; /* its params member has begun */
} mg_xmlrpc_level_t;

/* What character data is being copied, if any. */
enum { MG_XC_NONE = 0, MG_XC_TOP, MG_XC_MNAME, MG_XC_INNER };

#define MG_XMLRPC_MNAME_SIZE 16 /* holds "methodName" and tells longer */

/* Element names interned in the parser's dictionary, by address: libxml2
 * hands every local name over as a pointer into that dictionary, so one
 * hash of the pointer classifies an element (strcmp is the fallback). */
#define MG_XMLRPC_NAMES 32 /* power of two, over twice the known names */

typedef struct {
    const xmlChar *name;
    int kind;
} mg_xmlrpc_name_t;

struct mg_xmlrpc {
    mg_xmlrpc_limits_t lim;
    mg_xmlrpc_method_cb cb;
    void *baton;
    xmlParserCtxtPtr ctxt;
    mg_xmlrpc_state_t state;
    mg_xmlrpc_refusal_t refusal;
    mg_xmlrpc_counters_t counters;

    uint32_t depth;  /* open elements */
    uint64_t run;    /* character data bytes since the last start tag */
    int root_done;   /* </methodCall> parsed and checked */
    int multicall;   /* the top-level method is a multicall */
    int method_done; /* method[] holds the top-level name */
    int terminated;  /* libxml2 has been told the body ended */
    /* the first bytes, held back until they show the body is XML at all
     * (mg_xmlrpc_head_check) */
    unsigned char head[8];
    uint32_t head_len;
    int head_done;

    int capture;        /* MG_XC_* */
    uint32_t cap_depth; /* text directly in this element is captured */
    uint32_t cap_len;
    char mname[MG_XMLRPC_MNAME_SIZE];
    uint32_t mname_len;

    /* multicall names (borrowed) and the open multicalls: mc[1] is the
     * top-level one, mc[mc_level] the innermost */
    const char *mc_names[MG_XMLRPC_MULTICALL_NAMES_MAX];
    uint32_t mc_lens[MG_XMLRPC_MULTICALL_NAMES_MAX];
    uint32_t mc_count;
    uint32_t mc_level;
    mg_xmlrpc_level_t mc[MG_XMLRPC_MULTICALL_DEPTH_CAP + 1];

    mg_xmlrpc_name_t names[MG_XMLRPC_NAMES];
    /* the usual first and later child of each kind, e.g. "member" in a
     * struct: one pointer comparison classifies most elements */
    const xmlChar *expect[MG_XK_UNKNOWN][2];

    char *method;              /* name_cap + 1 bytes */
    char *inner;               /* name_cap + 1 bytes */
    mg_xmlrpc_frame_t *frames; /* depth_cap + 2 entries */
    uint32_t depth_cap;        /* the depth and name limits the buffers */
    uint32_t name_cap;         /* were allocated for (reset may raise) */
};

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

/* ---- refusing ---------------------------------------------------------- */

static void mg_xmlrpc_stop(mg_xmlrpc_t *x)
{
    if (x->ctxt != NULL) {
        xmlStopParser(x->ctxt);
    }
}

/*
 * The refusal text goes into a log line and into the fault's XML, where a
 * control character or a broken UTF-8 sequence (libxml2's messages end
 * in newlines and may quote the document; "%.100s" may cut a character
 * in two) would be a raw byte or make the answer unreadable: control
 * characters become spaces, runs of spaces one, bytes that are not part
 * of a valid UTF-8 character '?', trailing spaces go.
 */
static void mg_xmlrpc_clean_text(char *s)
{
    unsigned char *in = (unsigned char *)s, *out = in;

    while (*in != '\0') {
        unsigned char c = *in;
        size_t n = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        size_t k;

        if (c < 0x20 || c == 0x7f) {
            c = ' ';
        }
        if (c == ' ') {
            if (out > (unsigned char *)s && out[-1] != ' ') {
                *out++ = ' ';
            }
            in++;
            continue;
        }
        for (k = 1; k < n && (in[k] & 0xc0) == 0x80; k++) {
        }
        /* overlong forms and surrogates are not worth telling apart here:
         * the continuation bytes and the lead byte's range suffice */
        if (n == 0 || k < n || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4)) {
            *out++ = '?';
            in++;
            continue;
        }
        memmove(out, in, n);
        out += n;
        in += n;
    }
    while (out > (unsigned char *)s && out[-1] == ' ') {
        out--;
    }
    *out = '\0';
}

/* Record the first refusal; later ones are echoes. */
static void mg_xmlrpc_vrecord(mg_xmlrpc_t *x, mg_xmlrpc_state_t st,
                              mg_reason_t reason, const char *what,
                              uint64_t seen, uint64_t limit, const char *fmt,
                              va_list ap) __attribute__((format(printf, 7, 0)));

static void mg_xmlrpc_vrecord(mg_xmlrpc_t *x, mg_xmlrpc_state_t st,
                              mg_reason_t reason, const char *what,
                              uint64_t seen, uint64_t limit, const char *fmt,
                              va_list ap)
{
    x->state = st;
    x->refusal.reason = reason;
    x->refusal.what = what;
    x->refusal.seen = seen;
    x->refusal.limit = limit;
    vsnprintf(x->refusal.text, sizeof(x->refusal.text), fmt, ap);
    mg_xmlrpc_clean_text(x->refusal.text);
}

/*
 * Record without stopping the parser: for libxml2's error and entity
 * callbacks, which run deep inside the parser (encoding switch, entity
 * loading) where xmlStopParser() would free the input buffer under the
 * caller's feet. A fatal error halts libxml2 by itself; for the rest,
 * feed() stops feeding and every SAX callback returns at once.
 */
static void mg_xmlrpc_record(mg_xmlrpc_t *x, mg_xmlrpc_state_t st,
                             mg_reason_t reason, const char *what,
                             const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void mg_xmlrpc_record(mg_xmlrpc_t *x, mg_xmlrpc_state_t st,
                             mg_reason_t reason, const char *what,
                             const char *fmt, ...)
{
    va_list ap;

    if (x->state != MG_XR_CONTINUE) {
        return;
    }
    va_start(ap, fmt);
    mg_xmlrpc_vrecord(x, st, reason, what, 0, 0, fmt, ap);
    va_end(ap);
}

/* Record and stop the parser: from element and text callbacks (where
 * libxml2 expects xmlStopParser) and between chunks. */
static void mg_xmlrpc_refuse(mg_xmlrpc_t *x, mg_xmlrpc_state_t st,
                             mg_reason_t reason, const char *what,
                             uint64_t seen, uint64_t limit, const char *fmt,
                             ...) __attribute__((format(printf, 7, 8)));

static void mg_xmlrpc_refuse(mg_xmlrpc_t *x, mg_xmlrpc_state_t st,
                             mg_reason_t reason, const char *what,
                             uint64_t seen, uint64_t limit, const char *fmt,
                             ...)
{
    va_list ap;

    if (x->state != MG_XR_CONTINUE) {
        return;
    }
    va_start(ap, fmt);
    mg_xmlrpc_vrecord(x, st, reason, what, seen, limit, fmt, ap);
    va_end(ap);
    mg_xmlrpc_stop(x);
}

static void mg_xmlrpc_over(mg_xmlrpc_t *x, const char *what, const char *label,
                           uint64_t seen, uint64_t limit)
{
    mg_xmlrpc_refuse(x, MG_XR_REJECT, MG_REASON_XML_LIMIT, what, seen, limit,
                     "%s %llu > limit %llu", label, (unsigned long long)seen,
                     (unsigned long long)limit);
}

/* The reason's summary already says "invalid XML-RPC call": msg alone. */
static void mg_xmlrpc_invalid(mg_xmlrpc_t *x, const char *msg)
{
    mg_xmlrpc_refuse(x, MG_XR_REJECT, MG_REASON_XML_INVALID, "structure", 0, 0,
                     "%s", msg);
}

/*
 * libxml2 errors. Installed both as the SAX serror (errors raised with the
 * parser context) and, during feed(), as this thread's structured error
 * handler (errors raised without one, e.g. by encoding conversion), so
 * that nothing reaches libxml2's default handler, which prints to stderr.
 */
static void mg_xmlrpc_on_error(void *ud, xmlErrorPtr e)
{
    mg_xmlrpc_t *x = ud;

    if (x == NULL || e == NULL || e->level == XML_ERR_WARNING) {
        return;
    }
    /* Namespace well-formedness (an undeclared prefix as in <ex:nil/>
     * without xmlns:ex) is not an XML 1.0 error, and Python, which parses
     * without namespaces, accepts it. */
    if (e->domain == XML_FROM_NAMESPACE && e->level == XML_ERR_ERROR) {
        return;
    }
    if (e->code == XML_ERR_NO_MEMORY) {
        mg_xmlrpc_record(x, MG_XR_ERROR, MG_REASON_XML_PARSE, "memory",
                         "out of memory while parsing");
        return;
    }
    if (x->state != MG_XR_CONTINUE) {
        return;
    }
    mg_xmlrpc_record(x, MG_XR_REJECT, MG_REASON_XML_PARSE, "xml", "line %d: %s",
                     e->line, e->message != NULL ? e->message : "parse error");
}

/* ---- DTDs and entities: refused, never looked at ----------------------- */

static void mg_xmlrpc_on_subset(void *ud, const xmlChar *name,
                                const xmlChar *ext, const xmlChar *sys)
{
    (void)name;
    (void)ext;
    (void)sys;
    mg_xmlrpc_refuse(ud, MG_XR_REJECT, MG_REASON_XML_INVALID, "doctype", 0, 0,
                     "DOCTYPE is not allowed");
}

static void mg_xmlrpc_on_entity_decl(void *ud, const xmlChar *name, int type,
                                     const xmlChar *pub, const xmlChar *sys,
                                     xmlChar *content)
{
    (void)name;
    (void)type;
    (void)pub;
    (void)sys;
    (void)content;
    mg_xmlrpc_record(ud, MG_XR_REJECT, MG_REASON_XML_INVALID, "doctype",
                     "entity declaration");
}

/* No entity exists but the five predefined ones, which libxml2 resolves
 * before it asks; any other reference is then an undeclared-entity
 * well-formedness error. */
static xmlEntityPtr mg_xmlrpc_on_get_entity(void *ud, const xmlChar *name)
{
    (void)ud;
    (void)name;
    return NULL;
}

/* Never load anything. */
static xmlParserInputPtr mg_xmlrpc_on_resolve(void *ud, const xmlChar *pub,
                                              const xmlChar *sys)
{
    (void)pub;
    (void)sys;
    mg_xmlrpc_record(ud, MG_XR_REJECT, MG_REASON_XML_INVALID, "doctype",
                     "external entity");
    return NULL;
}

/* ---- elements ---------------------------------------------------------- */

/* The kind of an element from its local name. */
static int mg_xmlrpc_kind(const char *n, const xmlChar *prefix)
{
    switch (n[0]) {
    case 'a':
        if (strcmp(n, "array") == 0) {
            return MG_XK_ARRAY;
        }
        break;
    case 'b':
        if (strcmp(n, "base64") == 0 || strcmp(n, "boolean") == 0) {
            return MG_XK_SCALAR;
        }
        break;
    case 'd':
        if (strcmp(n, "data") == 0) {
            return MG_XK_DATA;
        }
        if (strcmp(n, "double") == 0 || strcmp(n, "dateTime.iso8601") == 0) {
            return MG_XK_SCALAR;
        }
        break;
    case 'i':
        if (strcmp(n, "int") == 0 || strcmp(n, "i4") == 0 ||
            strcmp(n, "i8") == 0) {
            return MG_XK_SCALAR;
        }
        break;
    case 'm':
        if (strcmp(n, "member") == 0) {
            return MG_XK_MEMBER;
        }
        if (strcmp(n, "methodCall") == 0) {
            return MG_XK_METHODCALL;
        }
        if (strcmp(n, "methodName") == 0) {
            return MG_XK_METHODNAME;
        }
        break;
    case 'n':
        if (strcmp(n, "name") == 0) {
            return MG_XK_NAME;
        }
        if (strcmp(n, "nil") == 0) {
            return MG_XK_SCALAR;
        }
        break;
    case 'p':
        if (strcmp(n, "param") == 0) {
            return MG_XK_PARAM;
        }
        if (strcmp(n, "params") == 0) {
            return MG_XK_PARAMS;
        }
        break;
    case 's':
        if (strcmp(n, "string") == 0) {
            return MG_XK_SCALAR;
        }
        if (strcmp(n, "struct") == 0) {
            return MG_XK_STRUCT;
        }
        break;
    case 'v':
        if (strcmp(n, "value") == 0) {
            return MG_XK_VALUE;
        }
        break;
    default:
        break;
    }
    /* ex:i1, ex:float, ex:bigdecimal, ex:serializable...: extensions
     * that some clients (Apache XML-RPC) send; plain text to us. */
    return prefix != NULL ? MG_XK_SCALAR : MG_XK_UNKNOWN;
}

static size_t mg_xmlrpc_slot(const xmlChar *p)
{
    uintptr_t h = (uintptr_t)p;

    h ^= h >> 9;
    return (size_t)(h >> 3) & (MG_XMLRPC_NAMES - 1);
}

/* Intern the known names into the parser's dictionary and index them. */
static void mg_xmlrpc_names_init(mg_xmlrpc_t *x)
{
    static const char *const known[] = {"methodCall",
                                        "methodName",
                                        "params",
                                        "param",
                                        "value",
                                        "struct",
                                        "member",
                                        "name",
                                        "array",
                                        "data",
                                        "string",
                                        "int",
                                        "i4",
                                        "i8",
                                        "boolean",
                                        "double",
                                        "dateTime.iso8601",
                                        "base64",
                                        "nil"};
    static const struct {
        int parent, later;
        const char *name;
    } usual[] = {{MG_XK_PARAMS, 0, "param"},  {MG_XK_PARAMS, 1, "param"},
                 {MG_XK_PARAM, 0, "value"},   {MG_XK_VALUE, 0, "string"},
                 {MG_XK_STRUCT, 0, "member"}, {MG_XK_STRUCT, 1, "member"},
                 {MG_XK_MEMBER, 0, "name"},   {MG_XK_MEMBER, 1, "value"},
                 {MG_XK_ARRAY, 0, "data"},    {MG_XK_DATA, 0, "value"},
                 {MG_XK_DATA, 1, "value"}};
    size_t i, j;

    if (x->ctxt->dict == NULL) {
        return;
    }
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        const xmlChar *p =
            xmlDictLookup(x->ctxt->dict, (const xmlChar *)known[i], -1);

        if (p == NULL) {
            return; /* out of memory: strcmp will do */
        }
        j = mg_xmlrpc_slot(p);
        while (x->names[j].name != NULL) {
            j = (j + 1) & (MG_XMLRPC_NAMES - 1);
        }
        x->names[j].name = p;
        x->names[j].kind = mg_xmlrpc_kind(known[i], NULL);
    }
    for (i = 0; i < sizeof(usual) / sizeof(usual[0]); i++) {
        x->expect[usual[i].parent][usual[i].later] =
            xmlDictLookup(x->ctxt->dict, (const xmlChar *)usual[i].name, -1);
    }
}

static const uint8_t mg_xmlrpc_usual_kind[MG_XK_UNKNOWN] = {
    [MG_XK_PARAMS] = MG_XK_PARAM, [MG_XK_PARAM] = MG_XK_VALUE,
    [MG_XK_VALUE] = MG_XK_SCALAR, [MG_XK_STRUCT] = MG_XK_MEMBER,
    [MG_XK_ARRAY] = MG_XK_DATA,   [MG_XK_DATA] = MG_XK_VALUE,
};

static int mg_xmlrpc_kind_of(const mg_xmlrpc_t *x,
                             const mg_xmlrpc_frame_t *parent,
                             const xmlChar *localname, const xmlChar *prefix)
{
    size_t j;

    if (localname == x->expect[parent->kind][parent->count != 0]) {
        if (parent->kind == MG_XK_MEMBER) {
            return parent->count == 0 ? MG_XK_NAME : MG_XK_VALUE;
        }
        return mg_xmlrpc_usual_kind[parent->kind];
    }
    j = mg_xmlrpc_slot(localname);

    while (x->names[j].name != NULL) {
        if (x->names[j].name == localname) {
            return x->names[j].kind;
        }
        j = (j + 1) & (MG_XMLRPC_NAMES - 1);
    }
    return mg_xmlrpc_kind((const char *)localname, prefix);
}

#define MG_XB(k) (1U << (k))

/*
 * The grammar of mg_xmlrpc.h as a table: the kinds of element allowed as
 * the first, the second, and any later child of each kind of parent (a
 * lookup rather than a switch: this runs for every element).
 */
static const uint16_t mg_xmlrpc_allow[MG_XK_UNKNOWN][3] = {
    [MG_XK_DOC] = {MG_XB(MG_XK_METHODCALL), 0, 0},
    [MG_XK_METHODCALL] = {MG_XB(MG_XK_METHODNAME), MG_XB(MG_XK_PARAMS), 0},
    [MG_XK_PARAMS] = {MG_XB(MG_XK_PARAM), MG_XB(MG_XK_PARAM),
                      MG_XB(MG_XK_PARAM)},
    [MG_XK_PARAM] = {MG_XB(MG_XK_VALUE), 0, 0},
    [MG_XK_VALUE] = {MG_XB(MG_XK_SCALAR) | MG_XB(MG_XK_STRUCT) |
                         MG_XB(MG_XK_ARRAY),
                     0, 0},
    [MG_XK_STRUCT] = {MG_XB(MG_XK_MEMBER), MG_XB(MG_XK_MEMBER),
                      MG_XB(MG_XK_MEMBER)},
    [MG_XK_MEMBER] = {MG_XB(MG_XK_NAME), MG_XB(MG_XK_VALUE), 0},
    [MG_XK_ARRAY] = {MG_XB(MG_XK_DATA), 0, 0},
    [MG_XK_DATA] = {MG_XB(MG_XK_VALUE), MG_XB(MG_XK_VALUE), MG_XB(MG_XK_VALUE)},
    /* methodName, name and scalars hold text only */
};

/* Is child kind k allowed as child number `count` of parent p? */
static int mg_xmlrpc_allowed(int p, uint32_t count, int k)
{
    return (mg_xmlrpc_allow[p][count < 2 ? count : 2] >> k) & 1;
}

/* Copy s to buf[*len..n) as far as it fits; *len counts every byte. */
static void mg_xmlrpc_append(char *buf, size_t n, size_t *len, const char *s)
{
    size_t k = strlen(s);

    if (*len + 1 < n) {
        size_t room = n - 1 - *len;

        memcpy(buf + *len, s, k < room ? k : room);
        buf[*len + (k < room ? k : room)] = '\0';
    }
    *len += k;
}

int mg_xmlrpc_call_path(const mg_xmlrpc_t *x, char *buf, size_t n)
{
    char num[40];
    size_t len = 0;
    uint32_t l;

    if (buf != NULL && n > 0) {
        buf[0] = '\0';
    }
    else {
        n = 0;
    }
    for (l = x->mc_level; l > 0; l--) {
        snprintf(num, sizeof(num), "call %u of ", x->mc[l].index + 1U);
        mg_xmlrpc_append(buf, n, &len, num);
    }
    mg_xmlrpc_append(buf, n, &len, x->method_done ? x->method : "?");
    return len > INT32_MAX ? INT32_MAX : (int)len;
}

static void mg_xmlrpc_report(mg_xmlrpc_t *x, const char *name, size_t len,
                             int level, uint32_t index)
{
    mg_reason_t reason = MG_REASON_METHOD_DENIED;
    char path[160];

    if (x->cb == NULL ||
        x->cb(x->baton, name, len, level, index, &reason) == 0) {
        return;
    }
    if (level > 0) {
        mg_xmlrpc_call_path(x, path, sizeof(path));
        mg_xmlrpc_refuse(x, MG_XR_REJECT, reason, "method", 0, 0,
                         "method '%.100s' refused (%s)", name, path);
    }
    else {
        mg_xmlrpc_refuse(x, MG_XR_REJECT, reason, "method", 0, 0,
                         "method '%.100s' refused", name);
    }
}

/* A multicall that is not the shape of mg_xmlrpc.h: "call 2 of multiCall
 * has no methodName". Out of line, as below. */
static void __attribute__((noinline))
mg_xmlrpc_mc_invalid(mg_xmlrpc_t *x, const char *what)
{
    char path[160];

    mg_xmlrpc_call_path(x, path, sizeof(path));
    mg_xmlrpc_refuse(x, MG_XR_REJECT, MG_REASON_XML_INVALID, "structure", 0, 0,
                     "%s %s", path, what);
}

int mg_xmlrpc_multicall_name(const mg_xmlrpc_t *x, const char *name, size_t len)
{
    uint32_t i;

    for (i = 0; i < x->mc_count; i++) {
        if (x->mc_lens[i] == len && memcmp(x->mc_names[i], name, len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The methodName of a call of a multicall is complete in x->inner. */
static void __attribute__((noinline)) mg_xmlrpc_inner_name(mg_xmlrpc_t *x)
{
    mg_xmlrpc_level_t *lev = &x->mc[x->mc_level];
    int nested;

    if (x->cap_len == 0) {
        mg_xmlrpc_mc_invalid(x, "has an empty methodName");
        return;
    }
    nested = mg_xmlrpc_multicall_name(x, x->inner, x->cap_len);
    if (nested && lev->params) {
        /* its params went by uninspected: they were not known to be
         * calls */
        mg_xmlrpc_mc_invalid(x, "is a multicall whose params come before "
                                "its methodName");
        return;
    }
    lev->named = 1;
    mg_xmlrpc_report(x, x->inner, x->cap_len, (int)x->mc_level, lev->index);
    if (!nested || x->state != MG_XR_CONTINUE) {
        return;
    }
    if (x->mc_level + 1 > x->lim.multicall_depth) {
        mg_xmlrpc_over(x, "multicall-depth", "multicall nesting",
                       x->mc_level + 1ULL, x->lim.multicall_depth);
        return;
    }
    lev->nested = 1;
}

/* A <data> that is a multicall's array of calls opens a level. */
static void mg_xmlrpc_mc_push(mg_xmlrpc_t *x, mg_xmlrpc_frame_t *f)
{
    mg_xmlrpc_level_t *lev;

    /* inner_name() checked the nesting already; this keeps mc[] safe */
    if (x->mc_level >= x->lim.multicall_depth ||
        x->mc_level >= MG_XMLRPC_MULTICALL_DEPTH_CAP) {
        mg_xmlrpc_over(x, "multicall-depth", "multicall nesting",
                       x->mc_level + 1ULL, x->lim.multicall_depth);
        return;
    }
    f->flags |= MG_XF_MC_DATA;
    lev = &x->mc[++x->mc_level];
    memset(lev, 0, sizeof(*lev));
    if (x->mc_level > x->counters.multicall_depth) {
        x->counters.multicall_depth = x->mc_level;
    }
}

/* Out of line: its buffer would cost every start tag a stack canary. */
static void __attribute__((noinline))
mg_xmlrpc_unexpected(mg_xmlrpc_t *x, const xmlChar *localname)
{
    char msg[120];

    snprintf(msg, sizeof(msg), "unexpected <%.64s>", (const char *)localname);
    mg_xmlrpc_invalid(x, msg);
}

/* string_max is brought up to date when a run ends (next start tag), after
 * each chunk and at a refusal, rather than on every piece of text. */
static void mg_xmlrpc_run_max(mg_xmlrpc_t *x)
{
    if (x->run > x->counters.string_max) {
        x->counters.string_max = x->run;
    }
}

static void mg_xmlrpc_on_start(void *ud, const xmlChar *localname,
                               const xmlChar *prefix, const xmlChar *uri,
                               int nb_ns, const xmlChar **ns, int nb_attrs,
                               int nb_defaulted, const xmlChar **attrs)
{
    mg_xmlrpc_t *x = ud;
    mg_xmlrpc_frame_t *parent, *f;
    int k;

    (void)uri;
    (void)nb_ns;
    (void)ns;
    (void)nb_attrs;
    (void)nb_defaulted;
    (void)attrs;
    if (x->state != MG_XR_CONTINUE) {
        return;
    }
    /* At the end of the body libxml2 reports a start tag cut short ("<pa"
     * then EOF) before it notices the missing '>': that is truncation,
     * not an unexpected element. */
    if (x->terminated && x->ctxt->input != NULL &&
        x->ctxt->input->cur >= x->ctxt->input->end) {
        mg_xmlrpc_refuse(x, MG_XR_REJECT, MG_REASON_XML_PARSE, "truncated", 0,
                         0, "body ends inside a start tag");
        return;
    }
    if (++x->counters.elements > x->lim.elements) {
        mg_xmlrpc_over(x, "elements", "elements", x->counters.elements,
                       x->lim.elements);
        return;
    }
    if (x->depth + 1 > x->lim.depth) {
        mg_xmlrpc_over(x, "depth", "nesting depth", x->depth + 1ULL,
                       x->lim.depth);
        return;
    }
    parent = &x->frames[x->depth];
    k = mg_xmlrpc_kind_of(x, parent, localname, prefix);
    if (!mg_xmlrpc_allowed(parent->kind, parent->count, k)) {
        mg_xmlrpc_unexpected(x, localname);
        return;
    }
    if (parent->kind == MG_XK_VALUE && (parent->flags & MG_XF_TEXT)) {
        mg_xmlrpc_invalid(x, "text next to a typed value");
        return;
    }
    parent->count++;
    mg_xmlrpc_run_max(x);
    x->run = 0;
    f = &x->frames[++x->depth];
    f->kind = (uint8_t)k;
    f->flags = 0;
    f->count = 0;
    if (x->depth > x->counters.depth_max) {
        x->counters.depth_max = x->depth;
    }

    switch (k) {
    case MG_XK_METHODNAME:
        x->capture = MG_XC_TOP;
        x->cap_depth = x->depth;
        x->cap_len = 0;
        break;
    case MG_XK_PARAM:
        x->counters.params = parent->count;
        if (parent->count > x->lim.params) {
            mg_xmlrpc_over(x, "params", "params", parent->count, x->lim.params);
        }
        break;
    case MG_XK_MEMBER:
        if (parent->count > x->counters.members_max) {
            x->counters.members_max = parent->count;
        }
        if (parent->count > x->lim.members) {
            mg_xmlrpc_over(x, "members", "struct members", parent->count,
                           x->lim.members);
            return;
        }
        if (parent->flags & MG_XF_MC_CALL) {
            f->flags |= MG_XF_MC_MEMBER;
        }
        break;
    case MG_XK_NAME:
        if (parent->flags & MG_XF_MC_MEMBER) {
            x->capture = MG_XC_MNAME;
            x->cap_depth = x->depth;
            x->mname_len = 0;
        }
        break;
    case MG_XK_DATA: {
        /* the value that holds this data's array */
        uint16_t held = x->frames[x->depth - 2].flags;

        if (held & MG_XF_MC_ARG1) {
            mg_xmlrpc_mc_push(x, f);
        }
        else if ((held & MG_XF_MC_PVALUE) && x->mc[x->mc_level].nested) {
            f->flags |= MG_XF_MC_ARGS;
        }
        break;
    }
    case MG_XK_VALUE:
        if (parent->kind == MG_XK_DATA) {
            if (parent->count > x->counters.items_max) {
                x->counters.items_max = parent->count;
            }
            if (parent->count > x->lim.items) {
                mg_xmlrpc_over(x, "items", "array items", parent->count,
                               x->lim.items);
                return;
            }
            if (parent->flags & MG_XF_MC_DATA) {
                mg_xmlrpc_level_t *lev = &x->mc[x->mc_level];

                /* all levels together */
                if (++x->counters.multicall > x->lim.multicall) {
                    mg_xmlrpc_over(x, "multicall", "multicall calls",
                                   x->counters.multicall, x->lim.multicall);
                    return;
                }
                f->flags |= MG_XF_MC_ITEM;
                lev->index = parent->count - 1;
                lev->named = lev->nested = lev->params = 0;
            }
            else if (parent->flags & MG_XF_MC_ARGS) {
                f->flags |= MG_XF_MC_ARG;
                if (parent->count == 1) {
                    f->flags |= MG_XF_MC_ARG1;
                }
            }
        }
        else if (parent->kind == MG_XK_PARAM) {
            /* methodCall(1) params(2) param(3) value(4): a parameter of
             * a top-level multicall; params' count is its position */
            if (x->multicall) {
                f->flags |= MG_XF_MC_ARG;
                if (x->frames[2].count == 1) {
                    f->flags |= MG_XF_MC_ARG1;
                }
            }
        }
        else if (parent->flags & MG_XF_MC_METHOD) {
            f->flags |= MG_XF_MC_CAPTURE;
            x->capture = MG_XC_INNER;
            x->cap_depth = x->depth;
            x->cap_len = 0;
        }
        else if (parent->flags & MG_XF_MC_PARAMS) {
            f->flags |= MG_XF_MC_PVALUE;
            x->mc[x->mc_level].params = 1;
        }
        break;
    case MG_XK_STRUCT:
        if (parent->flags & MG_XF_MC_ITEM) {
            f->flags |= MG_XF_MC_CALL;
        }
        else if (parent->flags & MG_XF_MC_ARG) {
            mg_xmlrpc_mc_invalid(x, "has a struct argument (keyword "
                                    "arguments would hide its calls)");
        }
        else if (parent->flags & MG_XF_MC_CAPTURE) {
            mg_xmlrpc_mc_invalid(x, "has a methodName that is not a string");
        }
        break;
    case MG_XK_ARRAY:
        if (parent->flags & MG_XF_MC_ITEM) {
            mg_xmlrpc_mc_invalid(x, "is not a struct");
        }
        else if (parent->flags & MG_XF_MC_CAPTURE) {
            mg_xmlrpc_mc_invalid(x, "has a methodName that is not a string");
        }
        break;
    case MG_XK_SCALAR:
        if (parent->flags & MG_XF_MC_ITEM) {
            mg_xmlrpc_mc_invalid(x, "is not a struct");
        }
        else if (parent->flags & MG_XF_MC_CAPTURE) {
            if (localname != x->expect[MG_XK_VALUE][0] &&
                strcmp((const char *)localname, "string") != 0) {
                mg_xmlrpc_mc_invalid(x, "has a methodName that is not a "
                                        "string");
                return;
            }
            /* <value><string>name</string></value>: the name is the
             * scalar's text, not the whitespace around it */
            x->cap_depth = x->depth;
            x->cap_len = 0;
        }
        break;
    default:
        break;
    }
}

#define MG_XMLRPC_PLAIN_END                                                    \
    ((1U << MG_XK_VALUE) | (1U << MG_XK_SCALAR) | (1U << MG_XK_STRUCT) |       \
     (1U << MG_XK_DATA) | (1U << MG_XK_PARAMS))

static void mg_xmlrpc_on_end(void *ud, const xmlChar *localname,
                             const xmlChar *prefix, const xmlChar *uri)
{
    mg_xmlrpc_t *x = ud;
    mg_xmlrpc_frame_t *f;

    (void)localname;
    (void)prefix;
    (void)uri;
    if (x->state != MG_XR_CONTINUE || x->depth == 0) {
        return;
    }
    f = &x->frames[x->depth];
    /* the common ends have nothing to check */
    if (((MG_XMLRPC_PLAIN_END >> f->kind) & 1) && x->capture == MG_XC_NONE &&
        !(f->flags & MG_XF_END)) {
        x->depth--;
        return;
    }
    switch (f->kind) {
    case MG_XK_METHODCALL:
        if (f->count == 0) {
            mg_xmlrpc_invalid(x, "no <methodName>");
            return;
        }
        x->root_done = 1;
        break;
    case MG_XK_METHODNAME:
        x->capture = MG_XC_NONE;
        if (x->cap_len == 0) {
            mg_xmlrpc_invalid(x, "empty <methodName>");
            return;
        }
        x->method[x->cap_len] = '\0';
        x->method_done = 1;
        x->multicall = mg_xmlrpc_multicall_name(x, x->method, x->cap_len);
        mg_xmlrpc_report(x, x->method, x->cap_len, 0, 0);
        break;
    case MG_XK_PARAM:
        if (f->count != 1) {
            mg_xmlrpc_invalid(x, "<param> without a <value>");
            return;
        }
        break;
    case MG_XK_MEMBER:
        if (f->count != 2) {
            mg_xmlrpc_invalid(x, "<member> without <name> and <value>");
            return;
        }
        break;
    case MG_XK_ARRAY:
        if (f->count != 1) {
            mg_xmlrpc_invalid(x, "<array> without <data>");
            return;
        }
        break;
    case MG_XK_NAME:
        if (x->capture == MG_XC_MNAME) {
            x->capture = MG_XC_NONE;
            if (x->mname_len == 10 && memcmp(x->mname, "methodName", 10) == 0) {
                x->frames[x->depth - 1].flags |= MG_XF_MC_METHOD;
            }
            else if (x->mname_len == 6 && memcmp(x->mname, "params", 6) == 0) {
                x->frames[x->depth - 1].flags |= MG_XF_MC_PARAMS;
            }
        }
        break;
    case MG_XK_STRUCT:
        if ((f->flags & MG_XF_MC_CALL) && !x->mc[x->mc_level].named) {
            mg_xmlrpc_mc_invalid(x, "has no methodName");
            return;
        }
        break;
    case MG_XK_DATA:
        if (f->flags & MG_XF_MC_DATA) {
            x->mc_level--;
        }
        break;
    case MG_XK_SCALAR:
        if (x->capture == MG_XC_INNER && x->cap_depth == x->depth) {
            x->cap_depth = 0; /* text after </string> is not the name */
        }
        break;
    case MG_XK_VALUE:
        if ((f->flags & MG_XF_MC_CAPTURE) && x->capture == MG_XC_INNER) {
            x->capture = MG_XC_NONE;
            x->inner[x->cap_len] = '\0';
            x->depth--;
            mg_xmlrpc_inner_name(x);
            return;
        }
        if ((f->flags & MG_XF_MC_ITEM) && f->count == 0) {
            mg_xmlrpc_mc_invalid(x, "is not a struct");
            return;
        }
        break;
    default:
        break;
    }
    x->depth--;
}

/* Is every byte XML whitespace? */
static inline int mg_xmlrpc_blank(const xmlChar *s, int len)
{
    int i;

    for (i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\n' && s[i] != '\r' && s[i] != '\t') {
            return 0;
        }
    }
    return 1;
}

/* Also the CDATA and ignorable-whitespace callback: to XML-RPC they are
 * all text. Called with pieces of at most a few KB. */
/* Elements that hold nothing but other elements and whitespace. */
#define MG_XMLRPC_STRUCTURAL                                                   \
    ((1U << MG_XK_METHODCALL) | (1U << MG_XK_PARAMS) | (1U << MG_XK_PARAM) |   \
     (1U << MG_XK_STRUCT) | (1U << MG_XK_MEMBER) | (1U << MG_XK_ARRAY) |       \
     (1U << MG_XK_DATA))

/* Text outside a scalar: check it, copy what is being captured. */
static void mg_xmlrpc_text_slow(mg_xmlrpc_t *x, mg_xmlrpc_frame_t *f,
                                const xmlChar *s, int len)
{
    uint32_t room;

    switch (f->kind) {
    case MG_XK_SCALAR:
    case MG_XK_NAME:
    case MG_XK_METHODNAME:
        break;
    case MG_XK_VALUE:
        /* untyped string, or whitespace around a type element */
        if (!(f->flags & MG_XF_TEXT) && !mg_xmlrpc_blank(s, len)) {
            if (f->count > 0) {
                mg_xmlrpc_invalid(x, "text next to a typed value");
                return;
            }
            f->flags |= MG_XF_TEXT;
        }
        break;
    default:
        if (!mg_xmlrpc_blank(s, len)) {
            mg_xmlrpc_invalid(x, "text between elements");
            return;
        }
        break;
    }
    if (x->capture == MG_XC_NONE || x->cap_depth != x->depth) {
        return;
    }
    if (x->capture == MG_XC_MNAME) {
        room = MG_XMLRPC_MNAME_SIZE - x->mname_len;
        if ((uint32_t)len > room) {
            x->mname_len = MG_XMLRPC_MNAME_SIZE; /* too long to match */
            return;
        }
        memcpy(x->mname + x->mname_len, s, (size_t)len);
        x->mname_len += (uint32_t)len;
        return;
    }
    if ((uint64_t)x->cap_len + (uint64_t)len > x->lim.name) {
        mg_xmlrpc_over(x, "name", "methodName bytes",
                       (uint64_t)x->cap_len + (uint64_t)len, x->lim.name);
        return;
    }
    memcpy((x->capture == MG_XC_TOP ? x->method : x->inner) + x->cap_len, s,
           (size_t)len);
    x->cap_len += (uint32_t)len;
}

/* Also the CDATA and ignorable-whitespace callback: to XML-RPC they are
 * all text. Called with pieces of at most a few KB, and for every line
 * break between two tags: the scalar case is kept short. */
static void mg_xmlrpc_on_text(void *ud, const xmlChar *s, int len)
{
    mg_xmlrpc_t *x = ud;
    mg_xmlrpc_frame_t *f;

    if (x->state != MG_XR_CONTINUE || len <= 0) {
        return;
    }
    x->run += (uint64_t)len;
    if (x->run > x->lim.string) {
        mg_xmlrpc_run_max(x);
        mg_xmlrpc_over(x, "string", "string bytes", x->run, x->lim.string);
        return;
    }
    f = &x->frames[x->depth];
    if (x->capture == MG_XC_NONE) {
        if (f->kind == MG_XK_SCALAR) {
            return;
        }
        /* the line breaks between tags */
        if (((MG_XMLRPC_STRUCTURAL >> f->kind) & 1) &&
            mg_xmlrpc_blank(s, len)) {
            return;
        }
    }
    mg_xmlrpc_text_slow(x, f, s, len);
}

/* ---- life cycle -------------------------------------------------------- */

static void mg_xmlrpc_sax(xmlSAXHandler *h)
{
    memset(h, 0, sizeof(*h));
    xmlSAXVersion(h, 2);
    /* Everything that would build a tree or touch a DTD is replaced or
     * removed: the SAX2 defaults create an xmlDoc. */
    h->internalSubset = mg_xmlrpc_on_subset;
    h->externalSubset = mg_xmlrpc_on_subset;
    h->isStandalone = NULL;
    h->hasInternalSubset = NULL;
    h->hasExternalSubset = NULL;
    h->resolveEntity = mg_xmlrpc_on_resolve;
    h->getEntity = mg_xmlrpc_on_get_entity;
    h->getParameterEntity = mg_xmlrpc_on_get_entity;
    h->entityDecl = mg_xmlrpc_on_entity_decl;
    h->notationDecl = NULL;
    h->attributeDecl = NULL;
    h->elementDecl = NULL;
    h->unparsedEntityDecl = NULL;
    h->setDocumentLocator = NULL;
    h->startDocument = NULL;
    h->endDocument = NULL;
    h->startElement = NULL;
    h->endElement = NULL;
    h->reference = NULL;
    h->processingInstruction = NULL;
    h->comment = NULL;
    h->warning = NULL;
    h->error = NULL;
    h->fatalError = NULL;
    h->startElementNs = mg_xmlrpc_on_start;
    h->endElementNs = mg_xmlrpc_on_end;
    h->characters = mg_xmlrpc_on_text;
    h->ignorableWhitespace = mg_xmlrpc_on_text;
    h->cdataBlock = mg_xmlrpc_on_text;
    h->serror = mg_xmlrpc_on_error;
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

int mg_xmlrpc_set_multicall(mg_xmlrpc_t *x, const char *const *names, size_t n)
{
    size_t i, len;

    if (x == NULL) {
        return -EINVAL;
    }
    if (names == NULL) {
        names = mg_xmlrpc_default_mc;
        n = sizeof(mg_xmlrpc_default_mc) / sizeof(mg_xmlrpc_default_mc[0]);
    }
    if (n > MG_XMLRPC_MULTICALL_NAMES_MAX) {
        return -EINVAL;
    }
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
        x->mc_names[i] = names[i];
        x->mc_lens[i] = (uint32_t)strlen(names[i]);
    }
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
    if (reuse && mg_xmlrpc_ctxt_reset(x) == 0) {
        return 0;
    }
    if (x->ctxt != NULL) {
        xmlFreeParserCtxt(x->ctxt);
        x->ctxt = NULL;
    }
    if (mg_xmlrpc_ctxt_new(x) == 0) {
        return 0;
    }
nomem:
    /* feed() answers MG_XR_ERROR without touching anything */
    mg_xmlrpc_record(x, MG_XR_ERROR, MG_REASON_XML_PARSE, "memory",
                     "out of memory while preparing the parser");
    return -ENOMEM;
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
