/*
 * mg_xmlrpc_refuse.c - the inspector's refusals: the first one recorded
 * with its text (made safe to log), libxml2's errors, and DTDs and
 * entities, which are refused and never looked at (see mg_xmlrpc.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mg_xmlrpc_int.h"

/* ---- refusing ---------------------------------------------------------- */

void mg_xmlrpc_stop(mg_xmlrpc_t *x)
{
    /* a stale context is not reading this body (the fast path is) */
    if (x->ctxt != NULL && !x->ctxt_stale) {
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

void mg_xmlrpc_record(mg_xmlrpc_t *x, mg_xmlrpc_state_t st, mg_reason_t reason,
                      const char *what, const char *fmt, ...)
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

void mg_xmlrpc_refuse(mg_xmlrpc_t *x, mg_xmlrpc_state_t st, mg_reason_t reason,
                      const char *what, uint64_t seen, uint64_t limit,
                      const char *fmt, ...)
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

void mg_xmlrpc_over(mg_xmlrpc_t *x, const char *what, const char *label,
                    uint64_t seen, uint64_t limit)
{
    mg_xmlrpc_refuse(x, MG_XR_REJECT, MG_REASON_XML_LIMIT, what, seen, limit,
                     "%s %llu > limit %llu", label, (unsigned long long)seen,
                     (unsigned long long)limit);
}

/* The reason's summary already says "invalid XML-RPC call": msg alone. */
void mg_xmlrpc_invalid(mg_xmlrpc_t *x, const char *msg)
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
void mg_xmlrpc_on_error(void *ud, xmlErrorPtr e)
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

void mg_xmlrpc_on_subset(void *ud, const xmlChar *name, const xmlChar *ext,
                         const xmlChar *sys)
{
    (void)name;
    (void)ext;
    (void)sys;
    mg_xmlrpc_refuse(ud, MG_XR_REJECT, MG_REASON_XML_INVALID, "doctype", 0, 0,
                     "DOCTYPE is not allowed");
}

void mg_xmlrpc_on_entity_decl(void *ud, const xmlChar *name, int type,
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
xmlEntityPtr mg_xmlrpc_on_get_entity(void *ud, const xmlChar *name)
{
    (void)ud;
    (void)name;
    return NULL;
}

/* Never load anything. */
xmlParserInputPtr mg_xmlrpc_on_resolve(void *ud, const xmlChar *pub,
                                       const xmlChar *sys)
{
    (void)pub;
    (void)sys;
    mg_xmlrpc_record(ud, MG_XR_REJECT, MG_REASON_XML_INVALID, "doctype",
                     "external entity");
    return NULL;
}
