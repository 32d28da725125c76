/*
 * mod_memguard_parse.h - value parsers for directive handlers
 * (mod_memguard_parse.c): strict, through the core's mg_units; each returns
 * NULL, or an error naming the directive and echoing the value.
 */
#ifndef MOD_MEMGUARD_PARSE_H
#define MOD_MEMGUARD_PARSE_H

#include "mod_memguard.h"

#include "mg_units.h"

const char *memguard_parse_size(cmd_parms *cmd, const char *arg,
                                apr_int64_t *out);
const char *memguard_parse_duration(cmd_parms *cmd, const char *arg,
                                    apr_int64_t *out_us);
const char *memguard_parse_percent(cmd_parms *cmd, const char *arg,
                                   apr_int64_t *out_bp);
const char *memguard_parse_threshold(cmd_parms *cmd, const char *arg,
                                     mg_threshold_t *out);

/* One of a directive's keywords and the value it stands for. */
typedef struct {
    const char *name;
    int value;
} memguard_keyword;

/* arg is one of keys (case-insensitive; the list ends with a NULL name):
 * *out is its value. Else the error "Directive: 'arg' is not one of A, B",
 * listing the names in the table's order. */
const char *memguard_parse_keyword(cmd_parms *cmd, const char *arg,
                                   const memguard_keyword *keys, int *out);

#endif /* MOD_MEMGUARD_PARSE_H */
