/*
 * mod_memguard_request.h - the per-request context every feature shares
 * (mod_memguard_request.c).
 */
#ifndef MOD_MEMGUARD_REQUEST_H
#define MOD_MEMGUARD_REQUEST_H

#include "mod_memguard.h"

/* Per-request state, created on first use and kept in the request config. */
typedef struct {
    int engine;          /* effective memguard_engine_e */
    int refused;         /* set once an answer was sent */
    int refused_early;   /* ... by memguard_refuse(): the handler never ran */
    int answering;       /* our own answer is passing the guard */
    int answer_status;   /* status of the answer we sent, or 0 */
    apr_off_t body_seen; /* request body bytes counted so far */
    /* The body as it comes off the wire, below every decoder
     * (MEMGUARD_WIRE, mod_memguard_body.c). What was read, not what the
     * headers say: mod_deflate removes Content-Length once it inflates. */
    int wire_added;  /* MEMGUARD_WIRE in place: a chunked or encoded body */
    int guard_added; /* MEMGUARD_GUARD in place: after a refusal */
    /* its end was read (MEMGUARD_WIRE, or the inspection's spool or
     * discard): nothing left unread */
    int body_eos;
    apr_off_t wire_seen;       /* bytes read off the wire (still encoded) */
    apr_status_t wire_rv;      /* the wire's last failure (client, chunks) */
    const char *body_encoding; /* Content-Encoding as sent, or NULL */
    int decoding;              /* a filter (DEFLATE) decodes the body */
    /* bytes the decoded body may reach before it is refused (0 = none):
     * inflating is paced against it (MEMGUARD_WIRE) */
    apr_int64_t body_bound;
    uint32_t method_idx; /* board method entry, or UINT32_MAX */
    /* bytes: this request's response cap from memguard_respcap_set_limit();
     * 0 = none (MemGuardMaxResponse alone applies) */
    apr_int64_t max_response;
    /* set once MEMGUARD_RESPCAP is in r's output filters */
    int respcap_added;
    /* accounting (mod_memguard_account.c): 1 once the size at the start
     * was read and the board slot counted the request in flight */
    int acct_begun;
    /* httpd's own file handler serves the request (core.c's default
     * handler): it cannot grow the child, so its size is not read */
    int file_served;
    /* the XML-RPC inspection read the body where it lies, without taking
     * it (mod_memguard_xmlrpc.c): a refusal takes it first */
    int body_in_place;
    apr_uint64_t rss_begin; /* bytes, /proc/self/statm at header_parser */
    /* bytes: the size MEMGUARD_RECYCLE read when the whole response went
     * through it in one brigade (EOS included): nothing of the request
     * was left to run, so its end needs no second read; 0 otherwise */
    apr_uint64_t rss_done;
    /* set by the XML-RPC inspection before memguard_gate_method(): every
     * method the call runs is MemGuardMethod ... essential */
    int essential;
    /* header_parser left the verdict to memguard_gate_method(): only the
     * inspection can tell an essential call */
    int gate_deferred;
    /* memguard_gate_method() left the sampler's shed to admission
     * (MEMGUARD_SHED_LEVEL or _FORECAST; 0 none): a tiny call runs, any
     * other is shed (level) or waits until the forecast has gone */
    int gate_shed;
    /* memguard_admit() has decided (the gate is asked again after it) */
    int admit_done;
    /* admission (mod_memguard_admit.c): the call's cost and reservation;
     * NULL until the inspector names a method */
    struct memguard_admit_call *admit;
} memguard_req_ctx;

#define MEMGUARD_SHED_LEVEL 1
#define MEMGUARD_SHED_FORECAST 2

/* r's context, created on first call (in r->request_config). */
memguard_req_ctx *memguard_req(request_rec *r);

/* The Content-Length in headers (r->headers_in or r->headers_out): 1, and
 * *len, when there is one written as HTTP writes it (digits only,
 * mg_units_parse_length()); 0 when there is none; -1 when it is not a
 * length (HTTP_IN answers such a request 400 at its first read). */
int memguard_content_length(const apr_table_t *headers, uint64_t *len);

#endif /* MOD_MEMGUARD_REQUEST_H */
