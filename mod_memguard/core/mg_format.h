/*
 * mg_format.h - the module's one set of escapers, and number formatting.
 *
 * Everything the module prints that a client could have chosen (a method
 * name) goes through one of these escapers before it reaches HTML, an
 * XML-RPC fault, JSON or a Prometheus label: the status page, the refusal
 * fault and memguard-watch all use them. They are pure (libc only), so
 * the hostile cases are unit-tested without httpd.
 *
 * Conventions, snprintf-like: every function writes at most n bytes into
 * dst including a terminating NUL (dst may be NULL when n is 0) and
 * returns the length the full output needs, NUL not counted. So a caller
 * asks once with n = 0, allocates len + 1, and calls again. Output is
 * always valid UTF-8: a byte sequence that is not well-formed UTF-8
 * (stray continuation bytes, overlong forms, surrogates, code points over
 * U+10FFFF, a sequence cut short) becomes U+FFFD, one per bad byte.
 */
#ifndef MG_FORMAT_H
#define MG_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/*
 * HTML text or attribute value (double- or single-quoted): & < > " ' as
 * entities; control characters other than tab, LF and CR, and DEL, as
 * U+FFFD (they are not allowed in HTML text).
 */
size_t mg_format_html(char *dst, size_t n, const char *src, size_t len);

/*
 * XML 1.0 character data or attribute value (an XML-RPC fault string):
 * & < > " ' as &amp; &lt; &gt; &quot; &apos;; control characters other
 * than tab, LF and CR cannot appear in an XML 1.0 document at all, not
 * even as character references, so each becomes '?'.
 */
size_t mg_format_xml(char *dst, size_t n, const char *src, size_t len);

/*
 * The inside of a JSON string (without the quotes): " and \ escaped, LF,
 * CR, tab, backspace and form feed as \n \r \t \b \f, every other control
 * character and DEL as \u00XX (DEL is legal JSON, but a terminal reading
 * the page should not get it raw).
 */
size_t mg_format_json(char *dst, size_t n, const char *src, size_t len);

/*
 * A Prometheus label value in the text exposition format 0.0.4 (without
 * the quotes): backslash as \\, double quote as \", LF as \n (the three
 * escapes the format has); every other control character and DEL become
 * U+FFFD, since the format has no escape for them.
 */
size_t mg_format_prom_label(char *dst, size_t n, const char *src, size_t len);

/*
 * A name such as a reason ("body-size") as an UpperCamelCase key for
 * "Key: value" lines ("BodySize"): '-', '_', '.' and spaces separate
 * words, the first letter of each word is upper-cased, other letters and
 * digits are kept, every other byte is dropped.
 */
size_t mg_format_camel(char *dst, size_t n, const char *src, size_t len);

/*
 * A fixed-point number in hundredths as a decimal with two places:
 * 1234 -> "12.34", 5 -> "0.05", 0 -> "0.00". PSI averages are kept this
 * way (hundredths of a percent).
 */
size_t mg_format_hundredths(char *dst, size_t n, uint64_t v);

/*
 * Microseconds as milliseconds with three decimals ("1.500"), or as
 * seconds ("0.001500") when as_seconds is set: ages and durations for
 * JSON and Prometheus without floating point.
 */
size_t mg_format_us(char *dst, size_t n, uint64_t us, int as_seconds);

#endif /* MG_FORMAT_H */
