/*
 * mg_log.h - logging from the core through a callback.
 *
 * The core never writes to stderr or to httpd's log directly: the glue
 * installs a callback (ap_log_error with APLOG_MODULE_INDEX) so that
 * "LogLevel memguard:debug" works, and unit tests install one that records
 * messages so they can be asserted.
 */
#ifndef MG_LOG_H
#define MG_LOG_H

#include <stdarg.h>

/*
 * Every log line carries a number of its own, core and glue alike;
 * tools/lognos.py checks that none is used twice and prints the next free
 * one. Ranges: core 00001-00099, refusals and bodies 001xx, XML-RPC 002xx,
 * board/sampler/verdict 003xx, children/responses/recycling 004xx,
 * status 005xx.
 */
#define MGLOGNO(n) "MG" #n ": "

/* Levels use syslog's numbers, which are also httpd's APLOG_* values. */
enum {
    MG_LOG_ERR = 3,
    MG_LOG_WARNING = 4,
    MG_LOG_NOTICE = 5,
    MG_LOG_INFO = 6,
    MG_LOG_DEBUG = 7
};

/* The sink: receives a formatted, NUL-terminated message. */
typedef void (*mg_log_fn)(void *baton, int level, const char *msg);

/* Install the sink (NULL discards every message). Not thread-safe: call
 * once at start-up, before any other core function. */
void mg_log_set(mg_log_fn fn, void *baton);

/* Format into a fixed stack buffer (truncated at 512 bytes) and hand the
 * result to the sink. Allocates nothing. */
void mg_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* MG_LOG_H */
