/*
 * mg_xmlrpc_sax.c - the inspector's SAX2 handlers: elements classified by
 * interned name, the shape of a call checked as it streams, multicalls
 * followed to their inner calls, text counted rather than kept (see
 * mg_xmlrpc.h and the measurements at the top of mg_xmlrpc.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mg_xmlrpc_int.h"

/* ---- elements ---------------------------------------------------------- */

int mg_xmlrpc_kind(const char *n, const xmlChar *prefix)
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
void mg_xmlrpc_names_init(mg_xmlrpc_t *x)
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

/* An element begins: localname NUL-terminated; k its kind, or -1 to
 * classify it here (libxml2's interned names). */
static void mg_xmlrpc_open(mg_xmlrpc_t *x, const xmlChar *localname,
                           const xmlChar *prefix, int k)
{
    mg_xmlrpc_frame_t *parent, *f;

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
    if (k < 0) {
        k = mg_xmlrpc_kind_of(x, parent, localname, prefix);
    }
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

static void mg_xmlrpc_on_start(void *ud, const xmlChar *localname,
                               const xmlChar *prefix, const xmlChar *uri,
                               int nb_ns, const xmlChar **ns, int nb_attrs,
                               int nb_defaulted, const xmlChar **attrs)
{
    mg_xmlrpc_t *x = ud;

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
    mg_xmlrpc_open(x, localname, prefix, -1);
}

void mg_xmlrpc_sax_start(mg_xmlrpc_t *x, const char *name)
{
    if (x->state == MG_XR_CONTINUE) {
        mg_xmlrpc_open(x, (const xmlChar *)name, NULL,
                       mg_xmlrpc_kind(name, NULL));
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
        mg_xmlrpc_sax_method(x);
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

void mg_xmlrpc_sax_method(mg_xmlrpc_t *x)
{
    x->method[x->cap_len] = '\0';
    x->method_done = 1;
    x->multicall = mg_xmlrpc_multicall_name(x, x->method, x->cap_len);
    mg_xmlrpc_report(x, x->method, x->cap_len, 0, 0);
}

void mg_xmlrpc_sax_end(mg_xmlrpc_t *x)
{
    mg_xmlrpc_on_end(x, NULL, NULL, NULL);
}

void mg_xmlrpc_sax_text(mg_xmlrpc_t *x, const char *s, size_t len)
{
    mg_xmlrpc_on_text(x, (const xmlChar *)s, (int)len);
}

void mg_xmlrpc_sax(xmlSAXHandler *h)
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
