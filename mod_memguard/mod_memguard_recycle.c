/*
 * mod_memguard_recycle.c - recycling a bloated child (DESIGN.md section 6).
 *
 * A stub for now: features that know a child has grown (the response cap,
 * which has just watched the application build a response over its cap)
 * call memguard_recycle_request(), and this file only logs that the child
 * would be recycled. The recycling feature fills it in: on prefork a
 * graceful SIGUSR1 to itself before the next response's headers go out
 * (so that response carries Connection: close), rate-limited and
 * jittered; on threaded MPMs a graceful restart of the mod_wsgi daemon
 * process that holds the memory. Callers need not change when it does.
 */
#include "mod_memguard.h"

void memguard_recycle_request(request_rec *r, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  MGLOGNO(00449) "child marked for recycling: %s", why);
}
