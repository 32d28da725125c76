/*
 * mg_log.c - see mg_log.h.
 */
#include <stdio.h>

#include "mg_log.h"

static mg_log_fn mg_log_sink;
static void *mg_log_baton;

void mg_log_set(mg_log_fn fn, void *baton)
{
    mg_log_sink = fn;
    mg_log_baton = baton;
}

void mg_log(int level, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (mg_log_sink == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    mg_log_sink(mg_log_baton, level, buf);
}
