/*
 * mod_memguard_reject.h - the answers a refused client gets
 * (mod_memguard_reject.c): the one refusal API every feature uses.
 */
#ifndef MOD_MEMGUARD_REJECT_H
#define MOD_MEMGUARD_REJECT_H

#include "mod_memguard.h"

#include "mg_reason.h"

/* Is r an XML-RPC call (a POST with an XML content type)? */
int memguard_is_xmlrpc(const request_rec *r);

/*
 * Refuse r for `reason`. detail is the human part with the numbers
 * ("10485760 bytes > limit 1048576 (MemGuardMaxRequestBody)"). Logs once
 * at INFO, counts, sets the note memguard-verdict, then:
 * - DetectOnly: returns OK; the caller lets the request go on;
 * - fault style and an XML-RPC call: writes a 200 <methodResponse><fault>
 *   and returns DONE;
 * - otherwise: returns the reason's HTTP status for ap_die (Retry-After
 *   set for retryable reasons).
 * A refusal made while the request body is still unread switches
 * keep-alive off so httpd does not read a body nobody wants.
 */
int memguard_refuse(request_rec *r, mg_reason_t reason, const char *detail);

/* Refuse r as shed (MG_REASON_SHED) with why, or the verdict's own
 * description (memguard_verdict_detail) when why is NULL; keep-alive off
 * (the client comes back after Retry-After). As memguard_refuse(). */
int memguard_refuse_shed(request_rec *r, const char *why);

/*
 * The same, from inside an input filter once the handler is reading the
 * body: the answer goes out through r->output_filters at once (an error
 * bucket for http style, so ap_die builds the page), and whatever the
 * handler writes afterwards is dropped by the MEMGUARD_GUARD filter.
 * Returns the status to return from the input filter (AP_FILTER_ERROR),
 * or APR_SUCCESS in DetectOnly mode.
 */
apr_status_t memguard_refuse_in_filter(ap_filter_t *f, mg_reason_t reason,
                                       const char *detail);

/*
 * Abort a response that has already started (headers or bytes sent): the
 * client must see it incomplete (chunked terminator withheld, connection
 * closed), never a short success. Later output is dropped.
 */
void memguard_abort_response(request_rec *r);

/* The XML-RPC fault document for code and text (text escaped here). */
const char *memguard_fault_xml(apr_pool_t *p, int code, const char *text);

/* log_transaction, first of mod_memguard.c's steps: the status of the
 * answer we sent, for the access log. */
void memguard_reject_log_status(request_rec *r);

/* Register the MEMGUARD_GUARD output filter. */
void memguard_reject_register(apr_pool_t *p);

#endif /* MOD_MEMGUARD_REJECT_H */
