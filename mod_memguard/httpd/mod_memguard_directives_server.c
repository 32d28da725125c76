/*
 * mod_memguard_directives_server.c - the server-wide directives: the
 * sampler's thresholds and timing (memguard_headroom_conf), the admission
 * budget, and recycling (memguard_recycle_conf). There is one sampler and
 * one budget per server, and a child serves every virtual host, so each
 * is refused inside <VirtualHost> and read from the main server only.
 *
 * Every bad value is refused while the configuration is read
 * (apachectl -t), with a message that names the directive and echoes the
 * value; a throttle threshold must be milder than its shed threshold.
 */
#include <errno.h>

#include "apr_file_info.h"

#include "mod_memguard_config.h"
#include "mod_memguard_directives_server.h"
#include "mod_memguard_parse.h"

/* ---- headroom (the sampler's settings: main server only) --------------- */

static const char *headroom_cmd(cmd_parms *cmd, memguard_headroom_conf **hr)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err != NULL) {
        return err;
    }
    *hr = memguard_headroom(cmd->server);
    return NULL;
}

/* Are a and b in the same unit (both sizes or both percentages)? Then
 * a throttle threshold must be milder than the shed one. */
static int threshold_milder(const mg_threshold_t *thr,
                            const mg_threshold_t *shed, int is_min)
{
    uint64_t a, b;

    if (thr->is_percent != shed->is_percent) {
        return 1; /* not comparable before MemTotal is known */
    }
    a = thr->is_percent ? thr->bp : thr->bytes;
    b = shed->is_percent ? shed->bp : shed->bytes;
    return is_min ? a > b : a < b;
}

/* "[THROTTLE] SHED": one value sheds; two throttle, then shed. */
static const char *set_pair(cmd_parms *cmd, mg_policy_pair_t *pair,
                            const char *a1, const char *a2, int is_min)
{
    mg_threshold_t t1, t2;
    const char *err;

    if ((err = memguard_parse_threshold(cmd, a1, &t1)) != NULL) {
        return err;
    }
    if (a2 == NULL) {
        memset(pair, 0, sizeof(*pair));
        pair->shed.set = 1;
        pair->shed.t = t1;
        return NULL;
    }
    if ((err = memguard_parse_threshold(cmd, a2, &t2)) != NULL) {
        return err;
    }
    if (!threshold_milder(&t1, &t2, is_min)) {
        return apr_psprintf(cmd->pool,
                            "%s: the throttle threshold '%s' must be %s "
                            "than the shed threshold '%s'",
                            cmd->directive->directive, a1,
                            is_min ? "larger" : "smaller", a2);
    }
    pair->throttle.set = 1;
    pair->throttle.t = t1;
    pair->shed.set = 1;
    pair->shed.t = t2;
    return NULL;
}

const memguard_pair_field memguard_pair_min_available = {
    APR_OFFSETOF(mg_policy_conf_t, min_available), 1};
const memguard_pair_field memguard_pair_min_node_available = {
    APR_OFFSETOF(mg_policy_conf_t, min_node_available), 1};
const memguard_pair_field memguard_pair_max_slab = {
    APR_OFFSETOF(mg_policy_conf_t, max_slab), 0};
const memguard_pair_field memguard_pair_max_sunreclaim = {
    APR_OFFSETOF(mg_policy_conf_t, max_sunreclaim), 0};

/* MemGuardMinAvailable, MemGuardMinNodeAvailable, MemGuardMaxSlab,
 * MemGuardMaxUnreclaimableSlab: [THROTTLE] SHED */
const char *memguard_set_threshold_pair(cmd_parms *cmd, void *dcfg,
                                        const char *a1, const char *a2)
{
    const memguard_pair_field *f = cmd->info;
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);

    (void)dcfg;
    if (err == NULL) {
        err =
            set_pair(cmd, (mg_policy_pair_t *)((char *)&hr->policy + f->offset),
                     a1, a2, f->is_min);
    }
    if (err == NULL) {
        hr->configured = 1;
    }
    return err;
}

/* MemGuardSlabCache NAME [THROTTLE] SHED */
const char *memguard_set_slab_cache(cmd_parms *cmd, void *dcfg,
                                    const char *name, const char *a1,
                                    const char *a2)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    size_t len, i;

    (void)dcfg;
    if (err != NULL) {
        return err;
    }
    len = strlen(name);
    if (len == 0 || len >= MG_SAMPLE_NAME_LEN) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a slab cache name (1 to %d "
                            "characters)",
                            cmd->directive->directive, name,
                            MG_SAMPLE_NAME_LEN - 1);
    }
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x21 || ch > 0x7e) {
            return apr_psprintf(cmd->pool,
                                "%s: '%s' is not a slab cache name "
                                "(printable characters, no spaces)",
                                cmd->directive->directive, name);
        }
    }
    for (i = 0; i < hr->ncaches; i++) {
        if (!strcmp(hr->caches[i], name)) {
            return apr_psprintf(cmd->pool, "%s: cache '%s' is named twice",
                                cmd->directive->directive, name);
        }
    }
    if (hr->ncaches >= MG_SAMPLE_MAX_CACHES) {
        return apr_psprintf(
            cmd->pool, "%s: '%s': at most %d caches can be watched",
            cmd->directive->directive, name, MG_SAMPLE_MAX_CACHES);
    }
    /* TAKE23: with two arguments after NAME the first throttles */
    err = set_pair(cmd, &hr->policy.max_cache[hr->ncaches], a1, a2, 0);
    if (err != NULL) {
        return err;
    }
    memcpy(hr->caches[hr->ncaches], name, len + 1);
    hr->ncaches++;
    hr->policy.ncaches = hr->ncaches;
    hr->configured = 1;
    return NULL;
}

/* MemGuardMaxPressure some|full PCT */
const char *memguard_set_max_pressure(cmd_parms *cmd, void *dcfg,
                                      const char *kind, const char *pct)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    apr_int64_t bp = 0;

    (void)dcfg;
    if (err != NULL) {
        return err;
    }
    if (strcasecmp(kind, "some") && strcasecmp(kind, "full")) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not one of some (throttle), full "
                            "(shed)",
                            cmd->directive->directive, kind);
    }
    if ((err = memguard_parse_percent(cmd, pct, &bp)) != NULL) {
        return err;
    }
    /* PSI averages are kept in 1/100 %, the same unit as basis points */
    if (!strcasecmp(kind, "some")) {
        hr->policy.psi_some_set = 1;
        hr->policy.psi_some_max = (uint32_t)bp;
    }
    else {
        hr->policy.psi_full_set = 1;
        hr->policy.psi_full_max = (uint32_t)bp;
    }
    hr->configured = 1;
    return NULL;
}

const char *memguard_set_sample_interval(cmd_parms *cmd, void *dcfg,
                                         const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    apr_int64_t us;

    (void)dcfg;
    if (err != NULL || (err = memguard_parse_duration(cmd, arg, &us))) {
        return err;
    }
    if (us < MEMGUARD_MIN_INTERVAL_US || us > apr_time_from_sec(60)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is out of range (10ms to 60s)",
                            cmd->directive->directive, arg);
    }
    hr->interval_us = us;
    return NULL;
}

const char *memguard_set_proc_root(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    const char *path;
    apr_finfo_t fi;

    (void)dcfg;
    if (err != NULL) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (path == NULL || strlen(path) > 256 ||
        apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool) != APR_SUCCESS ||
        fi.filetype != APR_DIR) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an existing directory",
                            cmd->directive->directive, arg);
    }
    hr->proc_root = path;
    return NULL;
}

const char *memguard_set_cgroup(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);

    (void)dcfg;
    if (err != NULL) {
        return err;
    }
    if (!strcasecmp(arg, "auto")) {
        hr->cgroup = MEMGUARD_CGROUP_AUTO;
    }
    else if (!strcasecmp(arg, "off")) {
        hr->cgroup = MEMGUARD_CGROUP_OFF;
    }
    else if (arg[0] == '/' && strlen(arg) < 256 && !strstr(arg, "/../")) {
        hr->cgroup = MEMGUARD_CGROUP_PATH;
        hr->cgroup_path = arg;
    }
    else {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not auto, off or an absolute "
                            "cgroup directory (under MemGuardProcRoot)",
                            cmd->directive->directive, arg);
    }
    return NULL;
}

const char *memguard_set_numa(cmd_parms *cmd, void *dcfg, const char *arg)
{
    static const memguard_keyword keys[] = {{"auto", 1}, {"off", 0}, {NULL, 0}};
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);

    (void)dcfg;
    if (err != NULL) {
        return err;
    }
    return memguard_parse_keyword(cmd, arg, keys, &hr->numa);
}

const char *memguard_set_sustain(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    apr_int64_t us;

    (void)dcfg;
    if (err != NULL || (err = memguard_parse_duration(cmd, arg, &us))) {
        return err;
    }
    if (us > apr_time_from_sec(3600)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is longer than 1h",
                            cmd->directive->directive, arg);
    }
    hr->sustain_us = us;
    return NULL;
}

/* One horizon of MemGuardFillHorizon: a duration from 100ms to 10min, or
 * "off" (0). */
static const char *fill_horizon(cmd_parms *cmd, const char *arg,
                                apr_int64_t *out)
{
    const char *err;

    if (!strcasecmp(arg, "off")) {
        *out = 0;
        return NULL;
    }
    if ((err = memguard_parse_duration(cmd, arg, out)) != NULL) {
        return err;
    }
    if (*out < apr_time_from_msec(100) || *out > apr_time_from_sec(600)) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is out of range (100ms to 10min, or "
                            "off)",
                            cmd->directive->directive, arg);
    }
    return NULL;
}

/* MemGuardFillHorizon THROTTLE [SHED]: "off" switches either off; a shed
 * horizon must be shorter than the throttle one (closer means worse). */
const char *memguard_set_fill_horizon(cmd_parms *cmd, void *dcfg,
                                      const char *thr, const char *shed)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    apr_int64_t t, sh = 0;

    (void)dcfg;
    if (err != NULL || (err = fill_horizon(cmd, thr, &t)) != NULL ||
        (shed != NULL && (err = fill_horizon(cmd, shed, &sh)) != NULL)) {
        return err;
    }
    if (t > 0 && sh >= t) {
        return apr_psprintf(cmd->pool,
                            "%s: the shed horizon '%s' must be shorter than "
                            "the throttle horizon '%s'",
                            cmd->directive->directive, shed, thr);
    }
    hr->fill_throttle_us = t;
    hr->fill_shed_us = sh;
    return NULL;
}

const char *memguard_set_hysteresis(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    apr_int64_t bp = 0;

    (void)dcfg;
    if (err != NULL || (err = memguard_parse_percent(cmd, arg, &bp))) {
        return err;
    }
    hr->hysteresis_bp = bp;
    return NULL;
}

const char *memguard_set_fail_mode(cmd_parms *cmd, void *dcfg, const char *arg)
{
    static const memguard_keyword keys[] = {
        {"open", MG_FAIL_OPEN}, {"closed", MG_FAIL_CLOSED}, {NULL, 0}};
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);

    (void)dcfg;
    if (err != NULL) {
        return err;
    }
    return memguard_parse_keyword(cmd, arg, keys, &hr->fail_mode);
}

/* ---- admission by memory cost -------------------------------------- */

/* MemGuardAdmitDefault / MemGuardAdmitTiny: a size, at most 1T; the
 * default cost must be more than 0. */
const char *memguard_set_admit_size(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    int is_default = cmd->info == NULL;
    apr_int64_t v;

    (void)dcfg;
    if (err != NULL || (err = memguard_parse_size(cmd, arg, &v)) != NULL) {
        return err;
    }
    if ((is_default && v <= 0) || v > ((apr_int64_t)1 << 40)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is out of range (%s to 1T)",
                            cmd->directive->directive, arg,
                            is_default ? "1" : "0");
    }
    *(is_default ? &hr->admit_default : &hr->admit_tiny) = v;
    return NULL;
}

const char *memguard_set_admit_slow(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    char *end;
    apr_int64_t n;

    (void)dcfg;
    if (err != NULL) {
        return err;
    }
    n = apr_strtoi64(arg, &end, 10);
    if (*arg < '0' || *arg > '9' || *end != '\0' || n < 1 || n > 1000) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a whole number of calls from "
                            "1 to 1000",
                            cmd->directive->directive, arg);
    }
    hr->admit_slow = n;
    return NULL;
}

const char *memguard_set_admit_wait(cmd_parms *cmd, void *dcfg, const char *arg)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);
    apr_int64_t us;

    (void)dcfg;
    if (err != NULL || (err = memguard_parse_duration(cmd, arg, &us))) {
        return err;
    }
    if (us > apr_time_from_sec(300)) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is longer than 300s (a waiting call "
                            "holds a worker)",
                            cmd->directive->directive, arg);
    }
    hr->admit_wait_us = us;
    return NULL;
}

const char *memguard_set_call_ceiling(cmd_parms *cmd, void *dcfg, int on)
{
    memguard_headroom_conf *hr;
    const char *err = headroom_cmd(cmd, &hr);

    (void)dcfg;
    if (err != NULL) {
        return err;
    }
    hr->ceiling = on ? 1 : 0;
    return NULL;
}

/* ---- recycling: global only --------------------------------------- */

static memguard_recycle_conf *recycle_conf(cmd_parms *cmd, const char **err)
{
    memguard_server_conf *c =
        ap_get_module_config(cmd->server->module_config, &memguard_module);

    *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    return c ? &c->recycle : NULL;
}

const char *memguard_set_child_limit(cmd_parms *cmd, void *dcfg,
                                     const char *arg)
{
    const char *err;
    memguard_recycle_conf *rc = recycle_conf(cmd, &err);

    (void)dcfg;
    if (err) {
        return err;
    }
    return memguard_parse_size(cmd, arg,
                               cmd->info ? &rc->hard_limit : &rc->soft_limit);
}

const char *memguard_set_child_metric(cmd_parms *cmd, void *dcfg,
                                      const char *arg)
{
    static const memguard_keyword keys[] = {
        {"rss", MEMGUARD_METRIC_RSS},
        {"unshared", MEMGUARD_METRIC_UNSHARED},
        {NULL, 0}};
    const char *err;
    memguard_recycle_conf *rc = recycle_conf(cmd, &err);

    (void)dcfg;
    if (err) {
        return err;
    }
    return memguard_parse_keyword(cmd, arg, keys, &rc->metric);
}

const char *memguard_set_recycle_jitter(cmd_parms *cmd, void *dcfg,
                                        const char *arg)
{
    const char *err;
    memguard_recycle_conf *rc = recycle_conf(cmd, &err);

    (void)dcfg;
    if (err) {
        return err;
    }
    return memguard_parse_percent(cmd, arg, &rc->jitter_bp);
}

const char *memguard_set_max_recycles(cmd_parms *cmd, void *dcfg,
                                      const char *arg)
{
    const char *err;
    memguard_recycle_conf *rc = recycle_conf(cmd, &err);
    char *end;
    long v;

    (void)dcfg;
    if (err) {
        return err;
    }
    errno = 0;
    v = strtol(arg, &end, 10);
    if (*arg < '0' || *arg > '9' || *end != '\0' || errno || v > 100000) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a whole number from 0 (no cap) "
                            "to 100000",
                            cmd->directive->directive, arg);
    }
    rc->max_per_minute = (int)v;
    return NULL;
}

const char *memguard_set_recycle_on_pressure(cmd_parms *cmd, void *dcfg,
                                             int flag)
{
    const char *err;
    memguard_recycle_conf *rc = recycle_conf(cmd, &err);

    (void)dcfg;
    if (err) {
        return err;
    }
    rc->on_pressure = flag ? 1 : 0;
    return NULL;
}

const char *memguard_set_watch_daemons(cmd_parms *cmd, void *dcfg,
                                       const char *arg)
{
    const char *err;
    memguard_recycle_conf *rc = recycle_conf(cmd, &err);

    (void)dcfg;
    if (err) {
        return err;
    }
    if (*arg == '\0' || strlen(arg) > 255) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a pattern of 1 to 255 bytes "
                            "(e.g. \"(wsgi:*\")",
                            cmd->directive->directive, arg);
    }
    rc->watch = arg;
    return NULL;
}
