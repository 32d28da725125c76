/*
 * mod_memguard_gate.h - per-request admission from the verdict word
 * (mod_memguard_gate.c).
 */
#ifndef MOD_MEMGUARD_GATE_H
#define MOD_MEMGUARD_GATE_H

#include "mod_memguard.h"

void memguard_gate_register(apr_pool_t *p);

/* header_parser, second of mod_memguard.c's steps: DECLINED to go on, or
 * a refusal's DONE / HTTP status, which ends the phase. */
int memguard_gate_header_parser(request_rec *r);

/*
 * For the XML-RPC inspector, once it knows the method: under `shed` every
 * call is refused (MG_REASON_SHED), under `throttle` a call marked
 * expensive (a MemGuardMethod rule marks the method, or for a multicall
 * any inner method, expensive) is refused (MG_REASON_THROTTLE), and so is
 * a body over MemGuardThrottleMaxBody when header_parser left that check
 * here (ctx->gate_deferred). A call whose ctx->essential is set passes
 * whatever the verdict. A shed that only the fill rate forecasts (memory
 * still above the shed level, falling fast) leaves a call admitted by
 * memory cost (memguard_admit()) to admission: it sets
 * ctx->gate_forecast and returns OK; a tiny call then runs (it takes next
 * to nothing), any other waits in the admission queue until the forecast
 * is gone. Returns OK to go on, or the refusal's return
 * value (DONE or an HTTP status, see memguard_refuse()). Exempt
 * locations, subrequests and an engine that is Off always get OK.
 */
int memguard_gate_method(request_rec *r, int expensive);

/* Is the verdict now a fresh shed that only the fill rate forecasts? Its
 * description in *why (r's pool) when so. */
int memguard_gate_forecast(request_rec *r, const char **why);

#endif /* MOD_MEMGUARD_GATE_H */
