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
 * whatever the verdict. The sampler's shed leaves a call that admission by
 * memory cost weighs to admission (memguard_admit()): it sets
 * ctx->gate_shed (MEMGUARD_SHED_LEVEL or _FORECAST) and returns OK; a
 * tiny call then runs, any other is shed (level) or waits in the
 * admission queue until the forecast has gone. Asked again once admission
 * is done (ctx->admit_done), a shed lets only a tiny call through. Returns OK
 * to go on, or the refusal's return value (DONE or an HTTP status, see
 * memguard_refuse()). Exempt locations, subrequests and an engine that is Off
 * always get OK.
 */
int memguard_gate_method(request_rec *r, int expensive);

#endif /* MOD_MEMGUARD_GATE_H */
