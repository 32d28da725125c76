/*
 * mg_reason.h - why a request was refused: the stable table.
 *
 * Each reason has a short name (used in the request note
 * "memguard-verdict" as "reject:<name>", in log lines, on the status page
 * and as a Prometheus label), an XML-RPC fault code and an HTTP status.
 * The codes are part of the public interface (conf/refusals.md, "Fault codes"):
 * append new reasons at the end, never renumber.
 */
#ifndef MG_REASON_H
#define MG_REASON_H

typedef enum {
    MG_REASON_BODY_SIZE = 0, /* body over MemGuardMaxRequestBody */
    MG_REASON_XML_PARSE,     /* body is not well-formed XML */
    MG_REASON_XML_INVALID,   /* well-formed, but not an XML-RPC call */
    MG_REASON_XML_LIMIT,     /* structure over a MemGuardXmlLimits limit */
    MG_REASON_METHOD_DENIED, /* MemGuardMethod ... deny */
    MG_REASON_METHOD_BODY,   /* over a per-method max-body= */
    MG_REASON_METHOD_BUSY,   /* concurrency= full for queue-timeout */
    MG_REASON_THROTTLE,      /* verdict throttle: expensive call refused */
    MG_REASON_SHED,          /* verdict shed: no new work */
    MG_REASON_RESPONSE_SIZE, /* response over MemGuardMaxResponse */
    MG_REASON_BODY_ENCODING, /* Content-Encoding that does not decode */
    MG_REASON_BUDGET,        /* the memory budget had no room for the call
                                within MemGuardAdmitWait */
    MG_REASON_CEILING,       /* the call needed more than its ceiling */
    MG_REASON__COUNT
} mg_reason_t;

typedef struct {
    const char *name;    /* "body-size" */
    int fault_code;      /* XML-RPC faultCode */
    int http_status;     /* status in http mode (and for non-XML-RPC) */
    int retryable;       /* 1: answer carries Retry-After */
    const char *summary; /* first words of the faultString */
} mg_reason_info_t;

/* The table entry for r; NULL if r is out of range. */
const mg_reason_info_t *mg_reason_info(mg_reason_t r);

/* Look a reason up by name; returns -1 if unknown. */
int mg_reason_by_name(const char *name);

#endif /* MG_REASON_H */
