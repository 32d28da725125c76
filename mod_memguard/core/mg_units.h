/*
 * mg_units.h - strict parsers and printers for the units directives take:
 * sizes, durations and percentages.
 *
 * Every parser takes the whole string: leading or trailing garbage, an
 * empty string, a sign, or a value that does not fit is refused with
 * -EINVAL or -ERANGE, never clamped. Nothing here allocates.
 */
#ifndef MG_UNITS_H
#define MG_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Size in bytes: "1048576", "512K", "16M", "2G", "1T" (also "16MB",
 * "16MiB"; case-insensitive; binary multiples: K = 1024). A decimal point
 * is allowed with a suffix ("1.5G"). Returns 0, -EINVAL (syntax) or
 * -ERANGE (does not fit in 63 bits).
 */
int mg_units_parse_size(const char *s, uint64_t *out);

/*
 * A length as HTTP writes it (Content-Length): one or more decimal digits
 * and nothing else (no sign, no blank, no suffix). Returns 0, -EINVAL or
 * -ERANGE (does not fit in 63 bits). The request path's parse: a few
 * instructions a digit, where strtol's costs ~150 a call.
 */
int mg_units_parse_length(const char *s, uint64_t *out);

/*
 * Duration in microseconds: "250ms", "10s", "2m", "1h", "1500us"; a bare
 * number means seconds, as with httpd's Timeout. Returns 0, -EINVAL or
 * -ERANGE.
 */
int mg_units_parse_duration(const char *s, uint64_t *out_us);

/*
 * Percentage with two decimals, as basis points (1% = 100): "15%",
 * "12.5%", "0.25%". The '%' sign is required unless allow_bare is set.
 * Range 0..100%. Returns 0, -EINVAL or -ERANGE.
 */
int mg_units_parse_percent(const char *s, int allow_bare, uint32_t *out_bp);

/* A threshold given either as a size or as a share of some total. */
typedef struct {
    int is_percent; /* 1: use .bp, 0: use .bytes */
    uint64_t bytes; /* bytes, when !is_percent */
    uint32_t bp;    /* basis points (1/100 %), when is_percent */
} mg_threshold_t;

/* "512M" or "10%". Returns 0, -EINVAL or -ERANGE. */
int mg_units_parse_threshold(const char *s, mg_threshold_t *out);

/* The threshold in bytes for a given total (percent of total, or bytes). */
uint64_t mg_units_threshold_bytes(const mg_threshold_t *t, uint64_t total);

/*
 * Human-readable size into buf ("512 B", "1.5 KiB", "2.0 GiB"); returns
 * buf. bufsize of 16 always suffices.
 */
char *mg_units_format_size(uint64_t bytes, char *buf, size_t bufsize);

#endif /* MG_UNITS_H */
