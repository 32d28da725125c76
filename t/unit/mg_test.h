/*
 * mg_test.h - what every cmocka driver includes.
 *
 * cmocka needs <stdarg.h>, <stddef.h>, <stdint.h> and <setjmp.h> before
 * <cmocka.h>; MG_FIXTURE_DIR is the absolute path of t/unit/fixtures, set
 * by the Makefile.
 */
#ifndef MG_TEST_H
#define MG_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifndef MG_FIXTURE_DIR
#error "MG_FIXTURE_DIR must be defined by the build"
#endif

/* Build "<fixture dir>/<rel>" into buf and return buf. */
static inline const char *mg_test_fixture(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "%s/%s", MG_FIXTURE_DIR, rel);
    return buf;
}

/* Read a whole fixture file into a malloc'd, NUL-terminated buffer. */
static inline char *mg_test_slurp(const char *rel, size_t *len_out)
{
    char path[1024];
    FILE *f = fopen(mg_test_fixture(path, sizeof(path), rel), "rb");
    char *buf;
    long n;

    if (f == NULL) {
        fail_msg("cannot open fixture %s", path);
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len_out) {
        *len_out = (size_t)n;
    }
    return buf;
}

/* Every meminfo key the parser requires but SwapFree and MemAvailable, as
 * a kernel prints them (test_mg_procfs.c, test_mg_proc.c). */
#define MI_REQ                                                                 \
    "MemTotal:       16000000 kB\n"                                            \
    "MemFree:         1000000 kB\n"                                            \
    "Buffers:           10000 kB\n"                                            \
    "Cached:          2000000 kB\n"                                            \
    "Active(file):     600000 kB\n"                                            \
    "Inactive(file):   400000 kB\n"                                            \
    "Shmem:              5000 kB\n"                                            \
    "Slab:             300000 kB\n"                                            \
    "SReclaimable:     200000 kB\n"                                            \
    "SUnreclaim:       100000 kB\n"                                            \
    "SwapTotal:             0 kB\n"

#endif /* MG_TEST_H */
