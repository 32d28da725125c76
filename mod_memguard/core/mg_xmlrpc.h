/*
 * mg_xmlrpc.h - streaming inspector for XML-RPC calls.
 *
 * The body of a call is fed in chunks (the glue's input filter hands over
 * buckets of up to 8 KB, sometimes a single byte) to a libxml2 SAX2 push
 * parser. No tree is ever built: the inspector keeps counters and a stack
 * of small frames (one per open element, at most `depth` of them), checks
 * them against the limits below and stops the parser the moment one trips.
 * Memory is therefore constant whatever the body holds: a 50 MB string is
 * counted as libxml2 hands it over in pieces, never accumulated.
 *
 * What is accepted (anything else is MG_REASON_XML_INVALID):
 *
 *   <methodCall>
 *     <methodName>NAME</methodName>        exactly one, first, not empty
 *     <params>                             optional, at most one
 *       <param><value>V</value></param>    zero or more
 *     </params>
 *   </methodCall>
 *
 *   V  is text (an untyped value is a string), or one type element with
 *      only whitespace around it: i4 int i8 boolean string double
 *      dateTime.iso8601 base64 nil (text only), any prefixed element such
 *      as <ex:nil/> or <ex:i8> (extensions; text only),
 *      <struct> (<member><name>..</name><value>V</value></member>)* </struct>
 *      <array><data> (<value>V</value>)* </data></array>
 *
 * Elements are matched on their local name, as Python's xmlrpc.client does
 * (it tries "ex:nil", then "nil"). Attributes are ignored. Comments,
 * processing instructions, CDATA sections, a UTF-8 BOM, an XML declaration
 * with any encoding libxml2 knows, and whitespace between elements are all
 * fine; text other than whitespace between structural elements is not.
 *
 * Refused as MG_REASON_XML_PARSE: not well-formed, invalid UTF-8, truncated,
 * empty, references to undeclared entities. Refused as MG_REASON_XML_INVALID
 * ("doctype"): any <!DOCTYPE>, before its internal subset is even read, so
 * no entity can be declared, let alone expanded (XML_PARSE_NOENT is never
 * set) or fetched (XML_PARSE_NONET, no DTD loading).
 *
 * Thread safety: one inspector per request at a time; different
 * inspectors may be used from different threads at once. An inspector
 * may serve one request after another (mg_xmlrpc_reset), which saves
 * creating libxml2's parser context each time.
 */
#ifndef MG_XMLRPC_H
#define MG_XMLRPC_H

#include <stddef.h>
#include <stdint.h>

#include "mg_reason.h"

/*
 * Limits. A count limit N refuses the body when the count reaches N + 1.
 * The defaults (mg_xmlrpc_limits_default) and why they are what they are
 * are documented next to their values in mg_xmlrpc.c.
 */
typedef struct {
    uint32_t depth;     /* element nesting; <methodCall> is depth 1 */
    uint32_t elements;  /* elements in the whole body */
    uint32_t params;    /* <param> of the call */
    uint32_t items;     /* <value> in any ONE <array>; the total over all
                         * arrays is bounded by `elements` */
    uint32_t members;   /* <member> in any one <struct> */
    uint32_t name;      /* bytes of a methodName, top-level or inner */
    uint32_t multicall; /* calls in multicalls, every nesting level
                         * counted together */
    uint32_t token;     /* bytes libxml2 may hold unparsed while it waits
                         * for the end of one tag, comment, processing
                         * instruction or CDATA section (libxml2 2.9 does
                         * not stream those; character data it does) */
    uint64_t string;    /* character data bytes since the last start tag:
                         * the content of one string, base64 or untyped
                         * value (also what Python's unmarshaller buffers
                         * before it sees the next element) */

    /* multicalls nested in one another; the top-level multicall is 1 */
    uint32_t multicall_depth;
} mg_xmlrpc_limits_t;

/* Largest accepted `depth`: libxml2 refuses deeper documents itself
 * (xmlParserMaxDepth) unless XML_PARSE_HUGE is set, which it never is. */
#define MG_XMLRPC_DEPTH_CAP 256
/* Largest accepted `name`: two buffers of this size live per request. */
#define MG_XMLRPC_NAME_CAP 65536
/* Largest accepted `multicall_depth`: a level of multicall costs nine
 * elements of depth, so MG_XMLRPC_DEPTH_CAP allows about 27 anyway. */
#define MG_XMLRPC_MULTICALL_DEPTH_CAP 32
/* Most multicall method names mg_xmlrpc_set_multicall() takes. */
#define MG_XMLRPC_MULTICALL_NAMES_MAX 16

typedef enum {
    MG_XR_CONTINUE = 0, /* nothing wrong so far: feed more */
    MG_XR_ACCEPT,       /* last chunk seen, the call is fine */
    MG_XR_REJECT,       /* refused: see mg_xmlrpc_refusal() */
    MG_XR_ERROR         /* out of memory inside the parser: a server
                         * fault, not the client's; refusal() says so */
} mg_xmlrpc_state_t;

/*
 * Multicalls. A method named in the inspector's multicall list
 * (mg_xmlrpc_set_multicall; by default "system.multicall" and Koji's
 * "multiCall", which its hub dispatches to the same handler) takes an
 * array of calls as its first parameter:
 *
 *   <value><struct>
 *     <member><name>methodName</name><value>NAME</value></member>
 *     <member><name>params</name><value><array><data>
 *       ... the call's arguments ...
 *     </data></array></value></member>
 *   </struct></value>
 *
 * and a call in that array may itself be a multicall, whose first
 * argument is again an array of calls: the hub dispatches inner calls
 * through the same path. The inspector follows every level while it
 * streams, in constant memory, and holds multicalls to this shape
 * (anything else is MG_REASON_XML_INVALID, naming the path to the call):
 * every entry of a calls array is a struct with a methodName member that
 * is a non-empty string (<string> or untyped text); a call whose
 * methodName is a multicall name has its methodName member before its
 * params member (as every client writes it: the params of such a call
 * are only known to be calls once its name is); and no argument of a
 * multicall is a struct (Koji's hub takes a trailing struct as keyword
 * arguments, so calls=[...] in one would reach it uninspected). Calls are
 * counted over all levels together against `multicall`, nesting against
 * `multicall_depth`.
 *
 * The method callback is called for the top-level methodName (level 0,
 * index 0) as soon as its end tag is parsed, and for the methodName member
 * of every call of a multicall, at every level, in document order: level
 * is 1 for a call of the top-level multicall, 2 for a call of a multicall
 * that is itself one of those calls, and so on; index is the position of
 * the call in its multicall, from 0. mg_xmlrpc_call_path() names the call
 * being reported. A multicall call reported is itself reported as a call
 * (its own name meets the rules), then its calls are. If a call struct has
 * several methodName members, each one is reported (Python keeps the
 * last; a deny rule must see every candidate). `name` is NUL-terminated,
 * `len` excludes the NUL. Return 0 to go on; nonzero refuses the body with
 * *reason, which is preset to MG_REASON_METHOD_DENIED and may be changed
 * by the callback (e.g. to MG_REASON_THROTTLE).
 */
typedef int (*mg_xmlrpc_method_cb)(void *baton, const char *name, size_t len,
                                   int level, uint32_t index,
                                   mg_reason_t *reason);

/* Why a body was refused; valid after MG_XR_REJECT or MG_XR_ERROR. */
typedef struct {
    mg_reason_t reason;
    const char *what; /* static: the limit's field name ("depth", "items",
                       * ...) for MG_REASON_XML_LIMIT; "xml" for a parse
                       * error, "empty", "truncated", "doctype",
                       * "structure", "method", "memory" otherwise */
    uint64_t seen;    /* the count that tripped the limit (0 if none) */
    uint64_t limit;   /* the limit (0 if none) */
    char text[200];   /* one line for humans, e.g. "array items 1000001 >
                       * limit 1000000", or libxml2's message with line */
} mg_xmlrpc_refusal_t;

/* What the inspector saw so far. */
typedef struct {
    uint64_t bytes;       /* bytes fed */
    uint64_t string_max;  /* longest character data run */
    uint32_t depth_max;   /* deepest nesting */
    uint32_t elements;    /* elements */
    uint32_t params;      /* <param> of the call */
    uint32_t items_max;   /* most <value> in one array */
    uint32_t members_max; /* most <member> in one struct */
    uint32_t multicall;   /* calls in multicalls, all levels (0: none) */
    uint32_t token_max;   /* most bytes libxml2 held unparsed after a chunk */

    uint32_t multicall_depth; /* deepest multicall nesting (0: none) */
    uint32_t fast;            /* who read the body: MG_XMLRPC_READ_* */
} mg_xmlrpc_counters_t;

/* counters.fast: libxml2, the fast path's general walk, its plain tier */
#define MG_XMLRPC_READ_LIBXML2 0
#define MG_XMLRPC_READ_WALK 1
#define MG_XMLRPC_READ_PLAIN 2

typedef struct mg_xmlrpc mg_xmlrpc_t;

/*
 * Initialise libxml2. Call once in the httpd parent (post_config), before
 * any child is forked and before any inspector exists: xmlInitParser() is
 * not safe to race from several threads. A program that installs its own
 * allocator with xmlMemSetup() must do so before this call. Returns 0.
 */
int mg_xmlrpc_global_init(void);

/* Defaults that pass every real Koji call. */
void mg_xmlrpc_limits_default(mg_xmlrpc_limits_t *l);

/* 0 if l is usable; -EINVAL (a zero limit) or -ERANGE (depth or name
 * above its cap) with *field set to the offending field's name. */
int mg_xmlrpc_limits_check(const mg_xmlrpc_limits_t *l, const char **field);

/*
 * Create an inspector for one body. Limits are copied; cb may be NULL.
 * Every allocation (this object, the frame stack, libxml2's context) goes
 * through libxml2's allocator, so xmlMemSetup() hooks see all of it.
 * Returns 0, -EINVAL (bad limits) or -ENOMEM.
 */
int mg_xmlrpc_new(mg_xmlrpc_t **xp, const mg_xmlrpc_limits_t *l,
                  mg_xmlrpc_method_cb cb, void *baton);

/*
 * Feed the next len bytes (len may be 0); last is nonzero with (or after)
 * the final chunk. Returns MG_XR_CONTINUE until last, then MG_XR_ACCEPT;
 * or MG_XR_REJECT / MG_XR_ERROR as soon as the body is refused, after
 * which every further call returns the same state without parsing. The
 * bytes need not be kept after the call returns.
 *
 * A body of at most MG_XMLRPC_FAST_MAX fed whole in the first call (last set)
 * is read without libxml2 when it is in the form clients write (an XML
 * declaration, elements without attributes, ASCII text without
 * references: mg_xmlrpc_fast.c); the outcome is the one libxml2's reading
 * would give, several times faster. Anything else, and every body fed in
 * pieces, goes to libxml2.
 */
#define MG_XMLRPC_FAST_MAX (64U << 10)
mg_xmlrpc_state_t mg_xmlrpc_feed(mg_xmlrpc_t *x, const char *buf, size_t len,
                                 int last);

/* The current state (the last value feed returned). */
mg_xmlrpc_state_t mg_xmlrpc_state(const mg_xmlrpc_t *x);

/* NULL unless the state is MG_XR_REJECT or MG_XR_ERROR. */
const mg_xmlrpc_refusal_t *mg_xmlrpc_refusal(const mg_xmlrpc_t *x);

/* The top-level methodName (NUL-terminated copy, at most `name` bytes), or
 * NULL until its end tag has been parsed. */
const char *mg_xmlrpc_method(const mg_xmlrpc_t *x);

/* Nonzero if the top-level method is a multicall name. */
int mg_xmlrpc_is_multicall(const mg_xmlrpc_t *x);

/*
 * The methods that are multicalls: n names (at most
 * MG_XMLRPC_MULTICALL_NAMES_MAX; 0 recognises none), each 1 to
 * MG_XMLRPC_NAME_CAP bytes, compared byte for byte. names == NULL restores
 * the default, "system.multicall" and "multiCall", which mg_xmlrpc_new()
 * and mg_xmlrpc_reset() set. The strings are not copied: they must
 * outlive the inspector's use of them, unchanged (the same strings given
 * again, as each request of a reused inspector does, are not checked
 * and measured again). Call before the first byte of a body is fed.
 * Returns 0, or -EINVAL (the list is then unchanged).
 */
int mg_xmlrpc_set_multicall(mg_xmlrpc_t *x, const char *const *names, size_t n);

/* Nonzero if name (len bytes) is one of the inspector's multicall names. */
int mg_xmlrpc_multicall_name(const mg_xmlrpc_t *x, const char *name,
                             size_t len);

/*
 * Write the path to the call being reported (valid in the method
 * callback; after a refusal, the call the parser was in) into buf, e.g.
 * "call 3 of call 2 of multiCall": the innermost call first, positions
 * from 1, the top-level method last; the top-level name alone for the
 * top-level call. Truncated to n - 1 bytes, always NUL-terminated when
 * n > 0. Returns the length it would have written (snprintf's).
 */
int mg_xmlrpc_call_path(const mg_xmlrpc_t *x, char *buf, size_t n);

const mg_xmlrpc_counters_t *mg_xmlrpc_counters(const mg_xmlrpc_t *x);

/*
 * Make an inspector that has been used (accepted, refused, errored, or
 * left half-fed) ready for a new body, as if mg_xmlrpc_new(l, cb, baton)
 * had just made it: same outcome for every body. The libxml2 context is
 * reset (xmlCtxtResetPush, when libxml2 is next needed: a body the fast
 * path reads does without) rather than re-created, keeping its SAX
 * handler, options and dictionary of interned names. It is instead freed
 * and created anew when mg_xmlrpc_reusable() says no: after MG_XR_ERROR,
 * when the dictionary holds more than 256 names (real calls use about
 * 20; this bounds what a client sending random element or attribute
 * names can make a long-lived inspector keep), when a start tag grew
 * libxml2's attribute or namespace tables, or when the reset fails.
 * The limits may differ from the previous ones (bigger buffers are
 * allocated as needed). Returns 0, -EINVAL (bad limits; the inspector is
 * unchanged) or -ENOMEM: then the inspector is in state MG_XR_ERROR and
 * can only be reset again or freed.
 */
int mg_xmlrpc_reset(mg_xmlrpc_t *x, const mg_xmlrpc_limits_t *l,
                    mg_xmlrpc_method_cb cb, void *baton);

/* on 0 (MG_XMLRPC_FAST_NONE): every body goes to libxml2, even one the
 * fast path would take; MG_XMLRPC_FAST_GENERAL: the fast path without its
 * plain tier (tests and benchmarks compare the three); 1
 * (MG_XMLRPC_FAST_ALL), the default, restores both. mg_xmlrpc_reset()
 * keeps the setting. */
#define MG_XMLRPC_FAST_NONE 0
#define MG_XMLRPC_FAST_ALL 1
#define MG_XMLRPC_FAST_GENERAL 2
void mg_xmlrpc_set_fast(mg_xmlrpc_t *x, int on);

/* Nonzero if mg_xmlrpc_reset() would keep the libxml2 context: what a
 * cache of inspectors checks before keeping one between requests, so that
 * an idle inspector holds no more than a small one (about 60 KB). */
int mg_xmlrpc_reusable(const mg_xmlrpc_t *x);

/* Names in the parser's dictionary (for tests and debugging). */
size_t mg_xmlrpc_dict_size(const mg_xmlrpc_t *x);

/* Free the inspector and its parser; NULL is fine. */
void mg_xmlrpc_free(mg_xmlrpc_t *x);

#endif /* MG_XMLRPC_H */
