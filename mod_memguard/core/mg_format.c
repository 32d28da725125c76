/*
 * mg_format.c - see mg_format.h.
 *
 * One writer (a cursor that counts every byte and stores those that fit)
 * serves every function, so the "ask for the length, then fill" contract
 * holds by construction: both passes run the same code.
 */
#include <stdio.h>
#include <string.h>

#include "mg_format.h"

typedef struct {
    char *dst;
    size_t n;   /* room in dst, NUL included */
    size_t len; /* bytes the full output needs */
} mg_out_t;

static void out_init(mg_out_t *o, char *dst, size_t n)
{
    o->dst = dst;
    o->n = dst != NULL ? n : 0;
    o->len = 0;
}

static void out_bytes(mg_out_t *o, const char *s, size_t k)
{
    size_t i;

    for (i = 0; i < k; i++) {
        if (o->len + 1 < o->n) {
            o->dst[o->len] = s[i];
        }
        o->len++;
    }
}

static void out_str(mg_out_t *o, const char *s)
{
    out_bytes(o, s, strlen(s));
}

static size_t out_end(mg_out_t *o)
{
    if (o->n > 0) {
        o->dst[o->len < o->n ? o->len : o->n - 1] = '\0';
    }
    return o->len;
}

#define MG_FFFD "\xef\xbf\xbd"

/*
 * Length of the well-formed UTF-8 sequence at s (k bytes left), 1..4, or
 * 0 if the bytes there are not one (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF).
 */
static size_t utf8_len(const unsigned char *s, size_t k)
{
    size_t need, i;
    unsigned char lo = 0x80, hi = 0xbf;

    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        need = 2;
    }
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        need = 3;
        if (s[0] == 0xe0) {
            lo = 0xa0; /* overlong */
        }
        else if (s[0] == 0xed) {
            hi = 0x9f; /* surrogates */
        }
    }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        need = 4;
        if (s[0] == 0xf0) {
            lo = 0x90; /* overlong */
        }
        else if (s[0] == 0xf4) {
            hi = 0x8f; /* above U+10FFFF */
        }
    }
    else {
        return 0;
    }
    if (k < need || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (i = 2; i < need; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return need;
}

typedef enum { MG_ESC_HTML, MG_ESC_XML, MG_ESC_JSON, MG_ESC_PROM } mg_esc_t;

/* The entity HTML and XML share for c, or NULL (they differ on '). */
static const char *markup_entity(unsigned char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    }
    return NULL;
}

/* The escape for the ASCII byte c in style st, or NULL to copy c. */
static const char *esc_ascii(mg_esc_t st, unsigned char c, char *tmp,
                             size_t tmpn)
{
    int ctl = c < 0x20 || c == 0x7f;

    switch (st) {
    case MG_ESC_HTML:
        if (markup_entity(c) != NULL) {
            return markup_entity(c);
        }
        switch (c) {
        case '\'':
            return "&#39;";
        case '\t':
        case '\n':
        case '\r':
            return NULL;
        default:
            return ctl ? MG_FFFD : NULL;
        }
    case MG_ESC_XML:
        if (markup_entity(c) != NULL) {
            return markup_entity(c);
        }
        switch (c) {
        case '\'':
            return "&apos;";
        default:
            return c < 0x20 && c != '\t' && c != '\n' && c != '\r' ? "?" : NULL;
        }
    case MG_ESC_JSON:
        switch (c) {
        case '"':
            return "\\\"";
        case '\\':
            return "\\\\";
        case '\n':
            return "\\n";
        case '\r':
            return "\\r";
        case '\t':
            return "\\t";
        case '\b':
            return "\\b";
        case '\f':
            return "\\f";
        default:
            if (ctl) {
                snprintf(tmp, tmpn, "\\u%04x", (unsigned)c);
                return tmp;
            }
            return NULL;
        }
    case MG_ESC_PROM:
        switch (c) {
        case '\\':
            return "\\\\";
        case '"':
            return "\\\"";
        case '\n':
            return "\\n";
        default:
            return ctl ? MG_FFFD : NULL;
        }
    }
    return NULL;
}

static size_t escape(mg_esc_t st, char *dst, size_t n, const char *src,
                     size_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    mg_out_t o;
    char tmp[8];
    size_t i = 0;

    out_init(&o, dst, n);
    if (src == NULL) {
        len = 0;
    }
    while (i < len) {
        size_t k = utf8_len(s + i, len - i);

        if (k == 0) {
            out_str(&o, MG_FFFD);
            i++;
        }
        else if (k == 1) {
            const char *e = esc_ascii(st, s[i], tmp, sizeof(tmp));
            if (e != NULL) {
                out_str(&o, e);
            }
            else {
                out_bytes(&o, (const char *)s + i, 1);
            }
            i++;
        }
        else {
            out_bytes(&o, (const char *)s + i, k);
            i += k;
        }
    }
    return out_end(&o);
}

size_t mg_format_html(char *dst, size_t n, const char *src, size_t len)
{
    return escape(MG_ESC_HTML, dst, n, src, len);
}

size_t mg_format_xml(char *dst, size_t n, const char *src, size_t len)
{
    return escape(MG_ESC_XML, dst, n, src, len);
}

size_t mg_format_json(char *dst, size_t n, const char *src, size_t len)
{
    return escape(MG_ESC_JSON, dst, n, src, len);
}

size_t mg_format_prom_label(char *dst, size_t n, const char *src, size_t len)
{
    return escape(MG_ESC_PROM, dst, n, src, len);
}

size_t mg_format_camel(char *dst, size_t n, const char *src, size_t len)
{
    mg_out_t o;
    int start = 1;
    size_t i;

    out_init(&o, dst, n);
    for (i = 0; src != NULL && i < len; i++) {
        char c = src[i];

        if (c == '-' || c == '_' || c == '.' || c == ' ') {
            start = 1;
        }
        else if (c >= 'a' && c <= 'z') {
            char u = start ? (char)(c - 'a' + 'A') : c;
            out_bytes(&o, &u, 1);
            start = 0;
        }
        else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            out_bytes(&o, &c, 1);
            start = 0;
        }
    }
    return out_end(&o);
}

size_t mg_format_hundredths(char *dst, size_t n, uint64_t v)
{
    char buf[32];
    mg_out_t o;

    snprintf(buf, sizeof(buf), "%llu.%02u", (unsigned long long)(v / 100),
             (unsigned)(v % 100));
    out_init(&o, dst, n);
    out_str(&o, buf);
    return out_end(&o);
}

size_t mg_format_us(char *dst, size_t n, uint64_t us, int as_seconds)
{
    char buf[40];
    mg_out_t o;

    if (as_seconds) {
        snprintf(buf, sizeof(buf), "%llu.%06u",
                 (unsigned long long)(us / 1000000u),
                 (unsigned)(us % 1000000u));
    }
    else {
        snprintf(buf, sizeof(buf), "%llu.%03u",
                 (unsigned long long)(us / 1000u), (unsigned)(us % 1000u));
    }
    out_init(&o, dst, n);
    out_str(&o, buf);
    return out_end(&o);
}
