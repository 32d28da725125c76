/*
 * mg_reason.c - see mg_reason.h. Fault codes: JSON-RPC/xmlrpc-epi's
 * -32700 for parse errors and -32600 for an invalid call, which clients
 * already understand; the rest in a memguard range whose first three digits
 * echo the HTTP status.
 */
#include <stddef.h>
#include <string.h>

#include "mg_reason.h"

static const mg_reason_info_t mg_reasons[MG_REASON__COUNT] = {
    [MG_REASON_BODY_SIZE] = {"body-size", 4130, 413, 0,
                             "request body too large"},
    [MG_REASON_XML_PARSE] = {"xml-parse", -32700, 400, 0,
                             "parse error: not well-formed XML"},
    [MG_REASON_XML_INVALID] = {"xml-invalid", -32600, 400, 0,
                               "invalid XML-RPC call"},
    [MG_REASON_XML_LIMIT] = {"xml-limit", 4131, 413, 0,
                             "XML-RPC call over a structure limit"},
    [MG_REASON_METHOD_DENIED] = {"method-denied", 4030, 403, 0,
                                 "method not allowed here"},
    [MG_REASON_METHOD_BODY] = {"method-body", 4132, 413, 0,
                               "request body too large for this method"},
    [MG_REASON_METHOD_BUSY] = {"method-busy", 5033, 503, 1,
                               "method busy, retry later"},
    [MG_REASON_THROTTLE] = {"throttle", 5031, 503, 1,
                            "server low on memory, expensive call refused"},
    [MG_REASON_SHED] = {"shed", 5030, 503, 1,
                        "server low on memory, retry later"},
    [MG_REASON_RESPONSE_SIZE] = {"response-size", 5001, 500, 0,
                                 "response too large"},
    [MG_REASON_BODY_ENCODING] = {"body-encoding", 4000, 400, 0,
                                 "request body could not be decoded"},
    [MG_REASON_BUDGET] = {"budget", 5034, 503, 1,
                          "server busy with memory-heavy calls, retry later"},
    [MG_REASON_CEILING] = {"ceiling", 5002, 500, 0,
                           "call needed more memory than it may take"},
};

const mg_reason_info_t *mg_reason_info(mg_reason_t r)
{
    if ((unsigned)r >= MG_REASON__COUNT) {
        return NULL;
    }
    return &mg_reasons[r];
}

int mg_reason_by_name(const char *name)
{
    int i;

    if (name == NULL) {
        return -1;
    }
    for (i = 0; i < MG_REASON__COUNT; i++) {
        if (strcmp(mg_reasons[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}
