/*
 * test_mg_format.c - the module's escapers and number printers.
 *
 * Every escaper gets the same hostile table (control characters, quotes,
 * backslashes, newlines, invalid UTF-8 of every kind, markup, 10 KB
 * strings) and is checked three ways: the exact output for known inputs;
 * the snprintf contract (length query, truncation at every size, always
 * NUL-terminated, never a byte past n); and structural properties of the
 * output for arbitrary input (valid UTF-8; nothing the target syntax
 * would read as markup, string end or label end).
 */
#include "mg_test.h"
#include "mg_format.h"

typedef size_t (*esc_fn)(char *, size_t, const char *, size_t);

/* An independent UTF-8 check (the decoder's own rules are not reused). */
static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned long cp;
        size_t k, j;

        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if ((s[i] & 0xe0) == 0xc0) {
            k = 2;
            cp = s[i] & 0x1fu;
        }
        else if ((s[i] & 0xf0) == 0xe0) {
            k = 3;
            cp = s[i] & 0x0fu;
        }
        else if ((s[i] & 0xf8) == 0xf0) {
            k = 4;
            cp = s[i] & 0x07u;
        }
        else {
            return 0;
        }
        if (i + k > n) {
            return 0;
        }
        for (j = 1; j < k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + j] & 0x3fu);
        }
        if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) ||
            (k == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += k;
    }
    return 1;
}

/* Escape into a fresh buffer, checking the length contract on the way. */
static char *run(esc_fn f, const char *src, size_t len, size_t *out_len)
{
    size_t need = f(NULL, 0, src, len);
    char *buf = malloc(need + 1);
    size_t got;

    assert_non_null(buf);
    got = f(buf, need + 1, src, len);
    assert_int_equal(got, need);
    assert_int_equal(strlen(buf), need); /* no NUL inside the output */
    if (out_len) {
        *out_len = need;
    }
    return buf;
}

/* Truncation at every size: a NUL-terminated prefix, nothing past n. */
static void check_truncation(esc_fn f, const char *src, size_t len)
{
    size_t full_len;
    char *full = run(f, src, len, &full_len);
    size_t n, limit = full_len + 2 > 300 ? 300 : full_len + 2;
    char *buf = malloc(limit + 16);

    assert_non_null(buf);
    for (n = 0; n <= limit; n++) {
        memset(buf, 'Z', limit + 16);
        assert_int_equal(f(buf, n, src, len), full_len);
        if (n > 0) {
            size_t want = full_len < n - 1 ? full_len : n - 1;
            assert_int_equal(strlen(buf), want);
            assert_memory_equal(buf, full, want);
        }
        {
            size_t k;
            for (k = n; k < limit + 16; k++) {
                assert_int_equal(buf[k], 'Z');
            }
        }
    }
    free(buf);
    free(full);
}

/* Known inputs and their exact escaped outputs. */
typedef struct {
    const char *in;
    size_t len; /* 0: strlen */
    const char *want;
} case_t;

static void check_cases(const char *name, esc_fn f, const case_t *cases,
                        size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        char *out = run(f, cases[i].in, len, NULL);
        if (strcmp(out, cases[i].want) != 0) {
            fail_msg("%s case %zu: got '%s' want '%s'", name, i, out,
                     cases[i].want);
        }
        free(out);
    }
}

/* The hostile table every escaper gets. */
typedef struct {
    const char *in;
    size_t len; /* 0: strlen */
} hostile_t;

static const hostile_t hostile[] = {
    {"", 0},
    {"plain.method_name", 0},
    {"<script>alert(1)</script>", 0},
    {"\"quoted\" and 'single'", 0},
    {"back\\slash\\", 0},
    {"new\nline\r\ntab\t", 0},
    {"\x01\x02\x1b[31mred\x1b[0m\x7f", 0},
    {"nul\0inside", 11},
    {"a&b&amp;c", 0},
    {"}{\"],", 0},
    {"\\\"\\n\"", 0},
    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0}, /* valid UTF-8 */
    {"\x80\xbf", 0},                                  /* stray continuation */
    {"\xc0\xaf", 0},                                  /* overlong '/' */
    {"\xe0\x80\xaf", 0},                              /* overlong */
    {"\xed\xa0\x80", 0},                              /* surrogate */
    {"\xf4\x90\x80\x80", 0},                          /* > U+10FFFF */
    {"\xf5\x80\x80\x80", 0},
    {"\xfe\xff", 0},
    {"cut \xe2\x82", 0}, /* truncated sequence at the end */
    {"cut \xe2\x82x", 0},
    {"\xc3", 0},
};

#define NHOSTILE (sizeof(hostile) / sizeof(hostile[0]))

static size_t hlen(const hostile_t *h)
{
    return h->len ? h->len : strlen(h->in);
}

/* 10 KB inputs: every byte value, and a wall of specials. */
static char *big_input(int kind, size_t *len)
{
    size_t n = 10 * 1024, i;
    char *s = malloc(n);

    assert_non_null(s);
    for (i = 0; i < n; i++) {
        if (kind == 0) {
            s[i] = (char)(unsigned char)((i * 131 + 7) % 256);
        }
        else {
            s[i] = "<>&\"'\\\n\x01"[i % 8];
        }
    }
    *len = n;
    return s;
}

/* ---- HTML ---------------------------------------------------------------- */

/* HTML and XML output: no markup character left, only our own entities
 * (apos: the one for '), no control character but tab, LF and CR. */
static void check_markup_props(const char *out, size_t n, const char *apos)
{
    size_t i;

    assert_true(valid_utf8((const unsigned char *)out, n));
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        assert_true(c != '<' && c != '>' && c != '"' && c != '\'');
        assert_true(c >= 0x20 || c == '\t' || c == '\n' || c == '\r');
        if (c == '&') {
            assert_true(!strncmp(out + i, "&amp;", 5) ||
                        !strncmp(out + i, "&lt;", 4) ||
                        !strncmp(out + i, "&gt;", 4) ||
                        !strncmp(out + i, "&quot;", 6) ||
                        !strncmp(out + i, apos, strlen(apos)));
        }
    }
}

static void check_html_props(const char *out, size_t n)
{
    size_t i;

    check_markup_props(out, n, "&#39;");
    for (i = 0; i < n; i++) {
        assert_true(out[i] != 0x7f);
    }
}

static void test_html(void **state)
{
    static const case_t cases[] = {
        {"", 0, ""},
        {"getBuild", 0, "getBuild"},
        {"<script>alert(1)</script>", 0,
         "&lt;script&gt;alert(1)&lt;/script&gt;"},
        {"a&b", 0, "a&amp;b"},
        {"\"'", 0, "&quot;&#39;"},
        {"t\tn\nr\r", 0, "t\tn\nr\r"},
        {"\x01\x1b\x7f", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"a\0b", 3,
         "a\xef\xbf\xbd"
         "b"},
        {"caf\xc3\xa9", 0, "caf\xc3\xa9"},
        {"\xc0\xaf", 0, "\xef\xbf\xbd\xef\xbf\xbd"},
        {"x\xe2\x82", 0, "x\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xed\xa0\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"back\\slash", 0, "back\\slash"},
    };

    (void)state;
    check_cases("html", mg_format_html, cases,
                sizeof(cases) / sizeof(cases[0]));
}

/* ---- XML (the refusal fault) ----------------------------------------------
 */

static void check_xml_props(const char *out, size_t n)
{
    /* XML 1.0 Char: no C0 control but tab, LF and CR (DEL is allowed) */
    check_markup_props(out, n, "&apos;");
}

static void test_xml(void **state)
{
    static const case_t cases[] = {
        {"", 0, ""},
        {"memguard: shed: getBuild", 0, "memguard: shed: getBuild"},
        {"<methodName>x</methodName>", 0,
         "&lt;methodName&gt;x&lt;/methodName&gt;"},
        {"a&b", 0, "a&amp;b"},
        {"\"'", 0, "&quot;&apos;"},
        {"t\tn\nr\r", 0, "t\tn\nr\r"},
        {"\x01\x1b[31m", 0, "??[31m"},
        {"del\x7f", 0, "del\x7f"},
        {"a\0b", 3, "a?b"},
        {"caf\xc3\xa9", 0, "caf\xc3\xa9"},
        {"\xc0\xaf", 0, "\xef\xbf\xbd\xef\xbf\xbd"},
        {"back\\slash", 0, "back\\slash"},
    };

    (void)state;
    check_cases("xml", mg_format_xml, cases, sizeof(cases) / sizeof(cases[0]));
}

/* ---- JSON ---------------------------------------------------------------- */

static void check_json_props(const char *out, size_t n)
{
    size_t i;

    assert_true(valid_utf8((const unsigned char *)out, n));
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        assert_true(c >= 0x20 && c != 0x7f);
        assert_true(c != '"');
        if (c == '\\') {
            char e;
            assert_true(i + 1 < n);
            e = out[i + 1];
            if (e == 'u') {
                size_t k;
                assert_true(i + 5 < n);
                for (k = 2; k < 6; k++) {
                    assert_non_null(strchr("0123456789abcdef", out[i + k]));
                }
                i += 5;
            }
            else {
                assert_non_null(strchr("\"\\nrtbf", e));
                i++;
            }
        }
    }
}

static void test_json(void **state)
{
    static const case_t cases[] = {
        {"", 0, ""},
        {"getBuild", 0, "getBuild"},
        {"<script>alert(1)</script>", 0, "<script>alert(1)</script>"},
        {"\"q\"", 0, "\\\"q\\\""},
        {"a\\b", 0, "a\\\\b"},
        {"\n\r\t\b\f", 0, "\\n\\r\\t\\b\\f"},
        {"\x01\x1f\x7f", 0, "\\u0001\\u001f\\u007f"},
        {"a\0b", 3, "a\\u0000b"},
        {"caf\xc3\xa9", 0, "caf\xc3\xa9"},
        {"\xff", 0, "\xef\xbf\xbd"},
        {"\xf4\x90\x80\x80", 0,
         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    };

    (void)state;
    check_cases("json", mg_format_json, cases,
                sizeof(cases) / sizeof(cases[0]));
}

/* ---- Prometheus -----------------------------------------------------------
 */

static void check_prom_props(const char *out, size_t n)
{
    size_t i;

    assert_true(valid_utf8((const unsigned char *)out, n));
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        assert_true(c >= 0x20 && c != 0x7f);
        assert_true(c != '"');
        if (c == '\\') {
            assert_true(i + 1 < n);
            assert_non_null(strchr("\\\"n", out[i + 1]));
            i++;
        }
    }
}

static void test_prom(void **state)
{
    static const case_t cases[] = {
        {"", 0, ""},
        {"getBuild", 0, "getBuild"},
        {"<script>alert(1)</script>", 0, "<script>alert(1)</script>"},
        {"a\\b", 0, "a\\\\b"},
        {"say \"hi\"", 0, "say \\\"hi\\\""},
        {"two\nlines", 0, "two\\nlines"},
        {"cr\rtab\t", 0, "cr\xef\xbf\xbdtab\xef\xbf\xbd"},
        {"a\0b", 3,
         "a\xef\xbf\xbd"
         "b"},
        {"\\n", 0, "\\\\n"},
        {"\x80", 0, "\xef\xbf\xbd"},
    };

    (void)state;
    check_cases("prom", mg_format_prom_label, cases,
                sizeof(cases) / sizeof(cases[0]));
}

/* ---- every escaper, the whole hostile table --------------------------------
 */

static const struct {
    const char *name;
    esc_fn f;
    void (*props)(const char *, size_t);
} escapers[] = {
    {"html", mg_format_html, check_html_props},
    {"xml", mg_format_xml, check_xml_props},
    {"json", mg_format_json, check_json_props},
    {"prom", mg_format_prom_label, check_prom_props},
};

static void test_hostile_table(void **state)
{
    size_t e, i;

    (void)state;
    for (e = 0; e < sizeof(escapers) / sizeof(escapers[0]); e++) {
        for (i = 0; i < NHOSTILE; i++) {
            size_t n;
            char *out =
                run(escapers[e].f, hostile[i].in, hlen(&hostile[i]), &n);
            escapers[e].props(out, n);
            free(out);
            check_truncation(escapers[e].f, hostile[i].in, hlen(&hostile[i]));
        }
    }
}

static void test_big_inputs(void **state)
{
    size_t e;
    int kind;

    (void)state;
    for (kind = 0; kind < 2; kind++) {
        size_t len;
        char *in = big_input(kind, &len);
        for (e = 0; e < sizeof(escapers) / sizeof(escapers[0]); e++) {
            size_t n;
            char *out = run(escapers[e].f, in, len, &n);
            assert_true(n >= len);
            escapers[e].props(out, n);
            free(out);
            check_truncation(escapers[e].f, in, len);
        }
        free(in);
    }
}

static void test_null_source(void **state)
{
    char buf[4] = "xyz";

    (void)state;
    assert_int_equal(mg_format_html(buf, sizeof(buf), NULL, 5), 0);
    assert_string_equal(buf, "");
    assert_int_equal(mg_format_json(NULL, 0, NULL, 0), 0);
    assert_int_equal(mg_format_camel(buf, sizeof(buf), NULL, 3), 0);
}

/* ---- camel keys ------------------------------------------------------------
 */

static void test_camel(void **state)
{
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"body-size", "BodySize"},
        {"xml-parse", "XmlParse"},
        {"method-busy", "MethodBusy"},
        {"shed", "Shed"},
        {"response-size", "ResponseSize"},
        {"psi_some.avg10", "PsiSomeAvg10"},
        {"", ""},
        {"--", ""},
        {"a<b>\"c\n\x01\xff", "Abc"},
        {"ALREADY-Up", "ALREADYUp"},
        {"9lives", "9lives"},
    };
    size_t i;
    char buf[64];

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n =
            mg_format_camel(buf, sizeof(buf), cases[i].in, strlen(cases[i].in));
        assert_string_equal(buf, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
    for (i = 0; i < NHOSTILE; i++) {
        size_t n;
        char *out = run(mg_format_camel, hostile[i].in, hlen(&hostile[i]), &n);
        size_t k;
        for (k = 0; k < n; k++) {
            assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "abcdefghijklmnopqrstuvwxyz0123456789",
                                   out[k]));
        }
        free(out);
        check_truncation(mg_format_camel, hostile[i].in, hlen(&hostile[i]));
    }
}

/* ---- numbers ------------------------------------------------------------- */

static void test_numbers(void **state)
{
    static const struct {
        uint64_t v;
        const char *want;
    } hund[] = {
        {0, "0.00"},
        {5, "0.05"},
        {99, "0.99"},
        {100, "1.00"},
        {1234, "12.34"},
        {10000, "100.00"},
        {UINT64_MAX, "184467440737095516.15"},
    };
    static const struct {
        uint64_t us;
        int secs;
        const char *want;
    } us[] = {
        {0, 0, "0.000"},
        {1500, 0, "1.500"},
        {999, 0, "0.999"},
        {1500, 1, "0.001500"},
        {12345678, 1, "12.345678"},
        {UINT64_MAX, 1, "18446744073709.551615"},
        {UINT64_MAX, 0, "18446744073709551.615"},
    };
    char buf[64], small[5];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(hund) / sizeof(hund[0]); i++) {
        assert_int_equal(mg_format_hundredths(buf, sizeof(buf), hund[i].v),
                         strlen(hund[i].want));
        assert_string_equal(buf, hund[i].want);
        assert_int_equal(mg_format_hundredths(NULL, 0, hund[i].v),
                         strlen(hund[i].want));
    }
    for (i = 0; i < sizeof(us) / sizeof(us[0]); i++) {
        assert_int_equal(mg_format_us(buf, sizeof(buf), us[i].us, us[i].secs),
                         strlen(us[i].want));
        assert_string_equal(buf, us[i].want);
    }
    /* truncated, still terminated */
    assert_int_equal(mg_format_hundredths(small, sizeof(small), 123456), 7);
    assert_string_equal(small, "1234");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html),          cmocka_unit_test(test_xml),
        cmocka_unit_test(test_json),          cmocka_unit_test(test_prom),
        cmocka_unit_test(test_hostile_table), cmocka_unit_test(test_big_inputs),
        cmocka_unit_test(test_null_source),   cmocka_unit_test(test_camel),
        cmocka_unit_test(test_numbers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
