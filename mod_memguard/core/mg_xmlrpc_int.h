/*
 * mg_xmlrpc_int.h - the inspector's state as its own files see it: the
 * struct behind the opaque mg_xmlrpc_t and what the three files share.
 * mg_xmlrpc.c (limits, life cycle, feeding), mg_xmlrpc_refuse.c (the
 * refusal record and texts, libxml2's errors, DTDs and entities) and
 * mg_xmlrpc_sax.c (the element and text handlers, multicall tracking)
 * include it; everyone else uses mg_xmlrpc.h.
 */
#ifndef MG_XMLRPC_INT_H
#define MG_XMLRPC_INT_H

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
    int ctxt_stale;  /* libxml2's context must be reset before its next
                      * use (mg_xmlrpc_reset leaves that to feed()) */
    int fast_off;    /* never the fast path (mg_xmlrpc_set_fast) */
    int plain_off;   /* never its plain tier (mg_xmlrpc_set_fast) */
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

    /* multicall names (borrowed) in use: the default list (static) or
     * the one kept in mc_cfg; and the open multicalls: mc[1] is the
     * top-level one, mc[mc_level] the innermost */
    const char *const *mc_names;
    const uint32_t *mc_lens;
    uint32_t mc_count;
    uint32_t mc_level;
    /* the last list mg_xmlrpc_set_multicall() was given, checked and
     * measured: given again (each request of a reused inspector under
     * the same configuration), it is taken as it is */
    const char *mc_cfg[MG_XMLRPC_MULTICALL_NAMES_MAX];
    uint32_t mc_cfg_lens[MG_XMLRPC_MULTICALL_NAMES_MAX];
    uint32_t mc_cfg_count;
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

/* ---- mg_xmlrpc_refuse.c ---- */

/* Stop libxml2 (xmlStopParser) unless it is already stopped. */
void mg_xmlrpc_stop(mg_xmlrpc_t *x);

/*
 * Record without stopping the parser: for libxml2's error and entity
 * callbacks (see mg_xmlrpc_refuse.c).
 */
void mg_xmlrpc_record(mg_xmlrpc_t *x, mg_xmlrpc_state_t st, mg_reason_t reason,
                      const char *what, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Record and stop the parser: from element and text callbacks (where
 * libxml2 expects xmlStopParser) and between chunks. */
void mg_xmlrpc_refuse(mg_xmlrpc_t *x, mg_xmlrpc_state_t st, mg_reason_t reason,
                      const char *what, uint64_t seen, uint64_t limit,
                      const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* A limit passed: "label seen > limit limit". */
void mg_xmlrpc_over(mg_xmlrpc_t *x, const char *what, const char *label,
                    uint64_t seen, uint64_t limit);

/* Not an XML-RPC call: msg says why. */
void mg_xmlrpc_invalid(mg_xmlrpc_t *x, const char *msg);

/* libxml2's errors, and the DTD and entity callbacks that refuse. */
void mg_xmlrpc_on_error(void *ud, xmlErrorPtr e);
void mg_xmlrpc_on_subset(void *ud, const xmlChar *name, const xmlChar *ext_id,
                         const xmlChar *sys_id);
void mg_xmlrpc_on_entity_decl(void *ud, const xmlChar *name, int type,
                              const xmlChar *pub, const xmlChar *sys,
                              xmlChar *content);
xmlEntityPtr mg_xmlrpc_on_get_entity(void *ud, const xmlChar *name);
xmlParserInputPtr mg_xmlrpc_on_resolve(void *ud, const xmlChar *pub,
                                       const xmlChar *sys);

/* ---- mg_xmlrpc_sax.c ---- */

/* The kind of an element (MG_XK_*) from its local name, NUL-terminated;
 * an unknown name is MG_XK_UNKNOWN, or a scalar with a prefix. */
int mg_xmlrpc_kind(const char *n, const xmlChar *prefix);

/* The known element names, interned in x's dictionary. */
void mg_xmlrpc_names_init(mg_xmlrpc_t *x);

/* Fill h with the inspector's SAX2 handlers. */
void mg_xmlrpc_sax(xmlSAXHandler *h);

/* The same handlers for mg_xmlrpc_fast.c's events: a start tag (name
 * NUL-terminated, no prefix), an end tag, and character data with no
 * reference in it. */
void mg_xmlrpc_sax_start(mg_xmlrpc_t *x, const char *name);
void mg_xmlrpc_sax_end(mg_xmlrpc_t *x);
void mg_xmlrpc_sax_text(mg_xmlrpc_t *x, const char *s, size_t len);
/* The top-level methodName is complete: its cap_len bytes in x->method
 * (not empty). What the end of <methodName> does: noted, reported to the
 * callback (which may refuse the call). */
void mg_xmlrpc_sax_method(mg_xmlrpc_t *x);

/* ---- mg_xmlrpc_fast.c ---- */

/* ... and nest at most this deep there (libxml2 takes deeper ones). */
#define MG_XMLRPC_FAST_DEPTH 64

/*
 * A whole body, fed at once, in the plain form every XML-RPC client
 * writes: if it is, run the handlers over it, decide, and return 1; if it
 * uses anything else XML allows (or is not well-formed), touch nothing and
 * return 0: libxml2 parses it. See mg_xmlrpc_fast.c.
 */
int mg_xmlrpc_fast(mg_xmlrpc_t *x, const char *buf, size_t len);

/* string_max is brought up to date when a run ends (next start tag), after
 * each chunk and at a refusal, rather than on every piece of text. */
static inline void mg_xmlrpc_run_max(mg_xmlrpc_t *x)
{
    if (x->run > x->counters.string_max) {
        x->counters.string_max = x->run;
    }
}

#endif /* MG_XMLRPC_INT_H */
