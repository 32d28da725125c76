/*
 * mod_memguard.h - what every glue file needs: the module record (defined
 * in mod_memguard.c, through which each file reaches its configuration and
 * logs), the httpd and APR headers they all use, MGLOGNO and UNSET.
 *
 * Each feature and shared service has a header of its own
 * (mod_memguard_<name>.h) declaring what it offers; the files include the
 * headers of what they call, which is below them (README.md in this
 * directory: the layers, and tools/layers.py, which checks them).
 * Glue files may include httpd and APR headers and the core's mg_*.h; the
 * core never includes a glue header.
 */
#ifndef MOD_MEMGUARD_H
#define MOD_MEMGUARD_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"
#include "util_filter.h"

#include "mg_log.h" /* MGLOGNO, shared with the core */

extern module AP_MODULE_DECLARE_DATA memguard_module;

/* mod_memguard.c gets this from AP_DECLARE_MODULE itself. */
#if defined(APLOG_USE_MODULE) && !defined(MEMGUARD_MODULE_FILE)
APLOG_USE_MODULE(memguard);
#endif

#define MEMGUARD_UNSET (-1)

#endif /* MOD_MEMGUARD_H */
