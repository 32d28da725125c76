/*
 * mg_units.c - see mg_units.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mg_units.h"

#define MG_UNITS_MAX ((uint64_t)INT64_MAX)

/*
 * Parse "<digits>[.<digits>]" at *sp into a fixed-point value scaled by
 * 10^frac_digits_wanted. Advances *sp. Refuses an empty number, more
 * fraction digits than wanted, and overflow.
 */
static int mg_units_fixed(const char **sp, unsigned frac_wanted, uint64_t *out,
                          unsigned *frac_seen)
{
    const char *s = *sp;
    uint64_t v = 0;
    unsigned frac = 0;
    int digits = 0;

    while (*s >= '0' && *s <= '9') {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (MG_UNITS_MAX - d) / 10) {
            return -ERANGE;
        }
        v = v * 10 + d;
        s++;
        digits++;
    }
    if (*s == '.') {
        if (digits == 0) {
            return -EINVAL; /* ".5M": a leading point is refused */
        }
        s++;
        while (*s >= '0' && *s <= '9') {
            uint64_t d = (uint64_t)(*s - '0');
            if (frac == frac_wanted) {
                return -EINVAL;
            }
            if (v > (MG_UNITS_MAX - d) / 10) {
                return -ERANGE;
            }
            v = v * 10 + d;
            frac++;
            s++;
            digits++;
        }
        if (frac == 0) {
            return -EINVAL;
        }
    }
    if (digits == 0) {
        return -EINVAL;
    }
    *sp = s;
    *out = v;
    *frac_seen = frac;
    return 0;
}

static int mg_units_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a + 32) : *a;
        if (x != *b) {
            return 0;
        }
    }
    return *a == '\0' && *b == '\0';
}

/* Multiply v (carrying frac decimal digits) by mult and drop the fraction;
 * a result that is not a whole number of units is truncated toward zero. */
static int mg_units_scale(uint64_t v, unsigned frac, uint64_t mult,
                          uint64_t div, uint64_t *out)
{
    uint64_t pow10 = 1;

    while (frac--) {
        pow10 *= 10;
    }
    if (mult != 0 && v > MG_UNITS_MAX / mult) {
        return -ERANGE;
    }
    *out = v * mult / (pow10 * div);
    return 0;
}

/* A unit's name and what one of it is worth. */
typedef struct {
    const char *name;
    uint64_t mult;
} mg_units_suffix_t;

/*
 * A fixed-point number with up to `digits` decimals, then one of the n
 * suffixes (case-insensitive), scaled by it. `whole_unit`: a unit worth 1
 * takes no fraction (a fraction of a byte means nothing).
 */
static int mg_units_suffixed(const char *s, unsigned digits,
                             const mg_units_suffix_t *suffixes, size_t n,
                             int whole_unit, uint64_t *out)
{
    uint64_t v;
    unsigned frac;
    size_t i;
    int rc;

    if (s == NULL) {
        return -EINVAL;
    }
    rc = mg_units_fixed(&s, digits, &v, &frac);
    if (rc != 0) {
        return rc;
    }
    for (i = 0; i < n; i++) {
        if (mg_units_ieq(s, suffixes[i].name)) {
            if (whole_unit && frac > 0 && suffixes[i].mult == 1) {
                return -EINVAL;
            }
            return mg_units_scale(v, frac, suffixes[i].mult, 1, out);
        }
    }
    return -EINVAL;
}

int mg_units_parse_length(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (s == NULL || out == NULL || *s == '\0') {
        return -EINVAL;
    }
    for (; *s != '\0'; s++) {
        unsigned d = (unsigned)(*s - '0');

        if (d > 9) {
            return -EINVAL;
        }
        if (v > ((uint64_t)INT64_MAX - d) / 10) {
            return -ERANGE;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int mg_units_parse_size(const char *s, uint64_t *out)
{
    static const mg_units_suffix_t suffixes[] = {
        {"", 1},
        {"b", 1},
        {"k", 1ULL << 10},
        {"kb", 1ULL << 10},
        {"kib", 1ULL << 10},
        {"m", 1ULL << 20},
        {"mb", 1ULL << 20},
        {"mib", 1ULL << 20},
        {"g", 1ULL << 30},
        {"gb", 1ULL << 30},
        {"gib", 1ULL << 30},
        {"t", 1ULL << 40},
        {"tb", 1ULL << 40},
        {"tib", 1ULL << 40},
    };

    /* "1.5" alone is refused */
    return mg_units_suffixed(s, 6, suffixes,
                             sizeof(suffixes) / sizeof(suffixes[0]), 1, out);
}

int mg_units_parse_duration(const char *s, uint64_t *out_us)
{
    static const mg_units_suffix_t suffixes[] = {
        /* microseconds per unit */
        {"", 1000000},   {"s", 1000000},    {"ms", 1000},         {"us", 1},
        {"m", 60000000}, {"min", 60000000}, {"h", 3600000000ULL},
    };

    return mg_units_suffixed(s, 3, suffixes,
                             sizeof(suffixes) / sizeof(suffixes[0]), 0, out_us);
}

int mg_units_parse_percent(const char *s, int allow_bare, uint32_t *out_bp)
{
    uint64_t v, bp;
    unsigned frac;
    int rc;

    if (s == NULL) {
        return -EINVAL;
    }
    rc = mg_units_fixed(&s, 2, &v, &frac);
    if (rc != 0) {
        return rc;
    }
    if (*s == '%') {
        s++;
    }
    else if (!allow_bare) {
        return -EINVAL;
    }
    if (*s != '\0') {
        return -EINVAL;
    }
    rc = mg_units_scale(v, frac, 100, 1, &bp);
    if (rc != 0) {
        return rc;
    }
    if (bp > 10000) {
        return -ERANGE;
    }
    *out_bp = (uint32_t)bp;
    return 0;
}

int mg_units_parse_threshold(const char *s, mg_threshold_t *out)
{
    size_t n;
    int rc;

    if (s == NULL) {
        return -EINVAL;
    }
    n = strlen(s);
    memset(out, 0, sizeof(*out));
    if (n > 0 && s[n - 1] == '%') {
        out->is_percent = 1;
        rc = mg_units_parse_percent(s, 0, &out->bp);
    }
    else {
        rc = mg_units_parse_size(s, &out->bytes);
    }
    return rc;
}

uint64_t mg_units_threshold_bytes(const mg_threshold_t *t, uint64_t total)
{
    if (!t->is_percent) {
        return t->bytes;
    }
    /* total / 10000 * bp would lose precision for small totals; total is
     * below 2^63 and bp <= 10000, so split to avoid overflow. */
    return (total / 10000) * t->bp + (total % 10000) * t->bp / 10000;
}

char *mg_units_format_size(uint64_t bytes, char *buf, size_t bufsize)
{
    static const char *const units[] = {"KiB", "MiB", "GiB",
                                        "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    int u = -1;

    if (bytes < 1024) {
        snprintf(buf, bufsize, "%llu B", (unsigned long long)bytes);
        return buf;
    }
    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, bufsize, "%.1f %s", v, units[u]);
    return buf;
}
