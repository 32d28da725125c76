/*
 * mod_memguard_directives.c - the module's directive table, and the
 * handlers of the per-directory and per-server directives (engine, limits,
 * refusal style, the shedding exemption, admission on or off).
 *
 * The table sits at the top with the module record: it names every
 * feature's handlers (the server-wide ones in
 * mod_memguard_directives_server.c, the XML-RPC ones in
 * mod_memguard_xrconf.c, MemGuardMethod in mod_memguard_rules.c), so the
 * configuration below it needs to know none of them.
 *
 * Every field starts UNSET so that merging can tell "not said here" from
 * "said, and the value is the default": a <Location> overrides only what
 * it sets. Every bad value is refused while the configuration is read
 * (apachectl -t), with a message that names the directive and echoes the
 * value.
 */
#include "http_main.h"

#include "mod_memguard_config.h"
#include "mod_memguard_directives.h"
#include "mod_memguard_directives_server.h"
#include "mod_memguard_parse.h"
#include "mod_memguard_rules.h"
#include "mod_memguard_xrconf.h"

static const char *set_engine(cmd_parms *cmd, void *dcfg, const char *arg)
{
    static const memguard_keyword keys[] = {
        {"On", MEMGUARD_ENGINE_ON},
        {"Off", MEMGUARD_ENGINE_OFF},
        {"DetectOnly", MEMGUARD_ENGINE_DETECT},
        {NULL, 0}};
    memguard_dir_conf *c = dcfg;
    const char *err = memguard_parse_keyword(cmd, arg, keys, &c->engine);

    if (err != NULL) {
        return err;
    }
    /* an engine anywhere starts the sampler (mod_memguard_sampler.c) */
    if (c->engine != MEMGUARD_ENGINE_OFF && ap_server_conf != NULL) {
        memguard_headroom(ap_server_conf)->engine_seen = 1;
    }
    return NULL;
}

static const char *set_max_body(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_dir_conf *c = dcfg;

    return memguard_parse_size(cmd, arg, &c->max_body);
}

static const char *set_max_response(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_dir_conf *c = dcfg;

    return memguard_parse_size(cmd, arg, &c->max_response);
}

static const char *set_reject_style(cmd_parms *cmd, void *dcfg, const char *arg)
{
    static const memguard_keyword keys[] = {{"fault", MEMGUARD_STYLE_FAULT},
                                            {"http", MEMGUARD_STYLE_HTTP},
                                            {"mixed", MEMGUARD_STYLE_MIXED},
                                            {NULL, 0}};
    memguard_dir_conf *c = dcfg;

    return memguard_parse_keyword(cmd, arg, keys, &c->reject_style);
}

/* A faultCode is an XML-RPC <int>: 32 bits, signed. 0 is refused: it is
 * what "no code" looks like to many clients. */
static const char *set_retry_fault(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_dir_conf *c = dcfg;
    const char *digits = *arg == '-' ? arg + 1 : arg;
    char *end;
    apr_int64_t v;

    if (!strcasecmp(arg, "default")) {
        c->retry_fault_set = 0;
        c->retry_fault = 0;
        return NULL;
    }
    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (*digits < '0' || *digits > '9' || *end != '\0' || errno != 0 ||
        v == 0 || v < INT32_MIN || v > INT32_MAX) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a faultCode (a whole number "
                            "from -2147483648 to 2147483647 other than 0, "
                            "e.g. 1014, Koji's ServerOffline) nor 'default'",
                            cmd->directive->directive, arg);
    }
    c->retry_fault_set = 1;
    c->retry_fault = (int)v;
    return NULL;
}

static const char *set_retry_after(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_server_conf *c =
        ap_get_module_config(cmd->server->module_config, &memguard_module);
    char *end;
    long v;

    (void)dcfg;
    errno = 0;
    v = strtol(arg, &end, 10);
    if (*arg < '0' || *arg > '9' || *end != '\0' || errno || v > 86400) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a whole number of seconds "
                            "from 0 to 86400",
                            cmd->directive->directive, arg);
    }
    c->retry_after = (int)v;
    return NULL;
}

static const char *set_shed_exempt(cmd_parms *cmd, void *dcfg, int on)
{
    memguard_dir_conf *c = dcfg;

    (void)cmd;
    c->shed_exempt = on ? 1 : 0;
    return NULL;
}

static const char *set_throttle_max_body(cmd_parms *cmd, void *dcfg,
                                         const char *arg)
{
    memguard_dir_conf *c = dcfg;

    return memguard_parse_size(cmd, arg, &c->throttle_max_body);
}

static const char *set_admission(cmd_parms *cmd, void *dcfg, int on)
{
    memguard_dir_conf *c = dcfg;

    (void)cmd;
    c->admission = on ? 1 : 0;
    return NULL;
}

const command_rec memguard_cmds[] = {
    AP_INIT_TAKE1("MemGuardEngine", set_engine, NULL, RSRC_CONF | ACCESS_CONF,
                  "On | Off | DetectOnly (log and count, never refuse); "
                  "default Off"),
    AP_INIT_TAKE1("MemGuardMaxRequestBody", set_max_body, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "largest request body accepted, e.g. 16M; 0 = no limit "
                  "(default)"),
    AP_INIT_TAKE1("MemGuardMaxResponse", set_max_response, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "largest response body the application may send, e.g. "
                  "64M; 0 = no cap (default)"),
    AP_INIT_TAKE1("MemGuardRejectStyle", set_reject_style, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "fault (XML-RPC calls get a <fault>, default) | http "
                  "(always an HTTP status) | mixed (retryable refusals "
                  "an HTTP status, the others a <fault>)"),
    AP_INIT_TAKE1("MemGuardRetryFault", set_retry_fault, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "faultCode of retryable refusals (shed, throttle, "
                  "method-busy, budget), e.g. 1014 for Koji's "
                  "ServerOffline; default: each reason's own"),
    AP_INIT_TAKE1("MemGuardRetryAfter", set_retry_after, NULL, RSRC_CONF,
                  "seconds to put in Retry-After on retryable refusals "
                  "(default 5)"),
    /* headroom: the sampler (main server only) */
    AP_INIT_TAKE1("MemGuardSampleInterval", memguard_set_sample_interval, NULL,
                  RSRC_CONF,
                  "time between samples of the machine's memory, 10ms to "
                  "60s (default 100ms)"),
    AP_INIT_TAKE1("MemGuardProcRoot", memguard_set_proc_root, NULL, RSRC_CONF,
                  "directory holding proc/ and sys/ (default /; a fixture "
                  "tree in tests)"),
    AP_INIT_TAKE12("MemGuardMinAvailable", memguard_set_threshold_pair,
                   (void *)&memguard_pair_min_available, RSRC_CONF,
                   "[THROTTLE] SHED: MemAvailable (and the cgroup's "
                   "headroom) below which to throttle / shed; size or % "
                   "of MemTotal (of the cgroup limit)"),
    AP_INIT_TAKE12("MemGuardMaxSlab", memguard_set_threshold_pair,
                   (void *)&memguard_pair_max_slab, RSRC_CONF,
                   "[THROTTLE] SHED: kernel slab above which to throttle / "
                   "shed; size or % of MemTotal"),
    AP_INIT_TAKE12("MemGuardMaxUnreclaimableSlab", memguard_set_threshold_pair,
                   (void *)&memguard_pair_max_sunreclaim, RSRC_CONF,
                   "[THROTTLE] SHED: SUnreclaim above which to throttle / "
                   "shed; size or % of MemTotal"),
    AP_INIT_TAKE23("MemGuardSlabCache", memguard_set_slab_cache, NULL,
                   RSRC_CONF,
                   "NAME [THROTTLE] SHED: a /proc/slabinfo cache and its "
                   "limit(s); size or % of MemTotal; up to 16"),
    AP_INIT_TAKE2("MemGuardMaxPressure", memguard_set_max_pressure, NULL,
                  RSRC_CONF,
                  "some|full PCT: memory PSI avg10 above which to throttle "
                  "(some) or shed (full)"),
    AP_INIT_TAKE1("MemGuardCgroup", memguard_set_cgroup, NULL, RSRC_CONF,
                  "auto (the server's memory cgroup, default) | off | "
                  "PATH of a cgroup directory"),
    AP_INIT_TAKE1("MemGuardNuma", memguard_set_numa, NULL, RSRC_CONF,
                  "auto (watch the NUMA nodes the server may use, default) "
                  "| off"),
    AP_INIT_TAKE12("MemGuardMinNodeAvailable", memguard_set_threshold_pair,
                   (void *)&memguard_pair_min_node_available, RSRC_CONF,
                   "[THROTTLE] SHED: available memory of an allowed NUMA "
                   "node below which to throttle / shed; size or % of the "
                   "node"),
    AP_INIT_TAKE1("MemGuardSustain", memguard_set_sustain, NULL, RSRC_CONF,
                  "how long a signal must stay past its threshold before "
                  "the state changes (default 0: at once)"),
    AP_INIT_TAKE12("MemGuardFillHorizon", memguard_set_fill_horizon, NULL,
                   RSRC_CONF,
                   "throttle (and shed) when a byte signal would reach its "
                   "shed level within this time at its current rate: "
                   "THROTTLE [SHED] durations, or off"),
    AP_INIT_TAKE1("MemGuardHysteresis", memguard_set_hysteresis, NULL,
                  RSRC_CONF,
                  "margin past a threshold before a state clears "
                  "(default 10%)"),
    AP_INIT_TAKE1("MemGuardFailMode", memguard_set_fail_mode, NULL, RSRC_CONF,
                  "open (default: no fresh sample lets everything through) "
                  "| closed (no fresh sample sheds)"),
    AP_INIT_FLAG("MemGuardShedExempt", set_shed_exempt, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "On: answer here even while shedding or throttling "
                 "(status, health checks); default Off"),
    AP_INIT_FLAG("MemGuardAdmission", set_admission, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "admit XML-RPC calls by their expected memory cost: On "
                 "(default) or Off"),
    AP_INIT_TAKE1("MemGuardAdmitDefault", memguard_set_admit_size, NULL,
                  RSRC_CONF,
                  "expected cost of a method not measured yet (default 32M)"),
    AP_INIT_TAKE1("MemGuardAdmitTiny", memguard_set_admit_size, (void *)1,
                  RSRC_CONF,
                  "calls expected to cost at most this never wait (default "
                  "1M)"),
    AP_INIT_TAKE1("MemGuardAdmitSlowStart", memguard_set_admit_slow, NULL,
                  RSRC_CONF,
                  "calls of a method not measured yet at once, until that "
                  "many are measured (default 2)"),
    AP_INIT_TAKE1("MemGuardAdmitWait", memguard_set_admit_wait, NULL, RSRC_CONF,
                  "how long a call waits for room in the memory budget "
                  "(default 10s; 0: refuse at once)"),
    AP_INIT_FLAG("MemGuardCallCeiling", memguard_set_call_ceiling, NULL,
                 RSRC_CONF,
                 "prefork: lower RLIMIT_DATA for the length of a call to "
                 "what it may take (default On)"),
    AP_INIT_TAKE1("MemGuardThrottleMaxBody", set_throttle_max_body, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "while throttling, refuse request bodies larger than this "
                  "(default 1M; 0 = no limit)"),
    /* mod_memguard_xmlrpc.c, mod_memguard_rules.c */
    AP_INIT_FLAG("MemGuardXmlRpc", memguard_set_xmlrpc, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "On: inspect XML-RPC calls (POST) before the handler runs; "
                 "default Off"),
    AP_INIT_ITERATE("MemGuardXmlLimits", memguard_set_xml_limits, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "key=value ...: depth, elements, params, items, members, "
                    "string, name, multicall, multicall-depth, token"),
    AP_INIT_TAKE_ARGV("MemGuardMethod", memguard_set_method, NULL,
                      RSRC_CONF | ACCESS_CONF,
                      "PATTERN action...: allow | deny | max-body=SIZE | "
                      "max-response=SIZE | concurrency=N | "
                      "queue-timeout=DURATION | expensive | nice=N | "
                      "essential"),
    AP_INIT_TAKE_ARGV("MemGuardMulticall", memguard_set_multicall, NULL,
                      RSRC_CONF | ACCESS_CONF,
                      "NAME...: the methods that are multicalls, whose "
                      "calls meet the rules too (default: system.multicall "
                      "multiCall)"),
    AP_INIT_TAKE1("MemGuardSpoolMemory", memguard_set_spool_memory, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "bytes of an inspected body kept in memory before it "
                  "goes to a file (default 256K)"),
    AP_INIT_TAKE1("MemGuardSpoolDir", memguard_set_spool_dir, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "directory for spooled bodies (default: the system's "
                  "temporary directory)"),
    AP_INIT_TAKE1("MemGuardChildSoftLimit", memguard_set_child_limit, NULL,
                  RSRC_CONF,
                  "recycle a child once it is over this size, gracefully "
                  "(its response says Connection: close), e.g. 512M; "
                  "0 = none (default); global only"),
    AP_INIT_TAKE1("MemGuardChildHardLimit", memguard_set_child_limit, (void *)1,
                  RSRC_CONF,
                  "recycle a child right after the request that took it "
                  "over this size, even on a keep-alive connection and "
                  "over the per-minute cap; 0 = none (default); global "
                  "only"),
    AP_INIT_TAKE1("MemGuardChildMetric", memguard_set_child_metric, NULL,
                  RSRC_CONF,
                  "rss | unshared (default): what the child limits are "
                  "compared with; global only"),
    AP_INIT_TAKE1("MemGuardRecycleJitter", memguard_set_recycle_jitter, NULL,
                  RSRC_CONF,
                  "move each child's limits by up to +- this percentage, "
                  "fixed per pid (default 10%); global only"),
    AP_INIT_TAKE1("MemGuardMaxRecyclesPerMinute", memguard_set_max_recycles,
                  NULL, RSRC_CONF,
                  "at most this many recycles per minute server-wide "
                  "(default 10; 0 = no cap); global only"),
    AP_INIT_FLAG("MemGuardRecycleOnPressure", memguard_set_recycle_on_pressure,
                 NULL, RSRC_CONF,
                 "On: while memory is short (throttle or shed), recycle "
                 "the largest children first (default Off); global only"),
    AP_INIT_TAKE1("MemGuardWatchDaemons", memguard_set_watch_daemons, NULL,
                  RSRC_CONF,
                  "fnmatch pattern for the command line of the server's "
                  "daemon processes to hold to the child limits, e.g. "
                  "\"(wsgi:*\" for mod_wsgi daemons; global only"),
    {NULL}};
