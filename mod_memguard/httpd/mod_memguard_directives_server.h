/*
 * mod_memguard_directives_server.h - the handlers of the server-wide
 * directives (mod_memguard_directives_server.c): the sampler's thresholds
 * and timing, the admission budget, recycling. Each is allowed in the main
 * server only; the table is in mod_memguard_directives.c.
 */
#ifndef MOD_MEMGUARD_DIRECTIVES_SERVER_H
#define MOD_MEMGUARD_DIRECTIVES_SERVER_H

#include "mod_memguard.h"

/* Which [THROTTLE] SHED pair of the policy a directive sets (cmd->info). */
typedef struct {
    apr_size_t offset; /* of the mg_policy_pair_t in mg_policy_conf_t */
    int is_min;        /* 1: a minimum (headroom), 0: a maximum (slab) */
} memguard_pair_field;

/* The cmd_data of MemGuardMinAvailable, MemGuardMinNodeAvailable,
 * MemGuardMaxSlab and MemGuardMaxUnreclaimableSlab. */
extern const memguard_pair_field memguard_pair_min_available;
extern const memguard_pair_field memguard_pair_min_node_available;
extern const memguard_pair_field memguard_pair_max_slab;
extern const memguard_pair_field memguard_pair_max_sunreclaim;

const char *memguard_set_threshold_pair(cmd_parms *cmd, void *dcfg,
                                        const char *a1, const char *a2);
const char *memguard_set_slab_cache(cmd_parms *cmd, void *dcfg,
                                    const char *name, const char *a1,
                                    const char *a2);
const char *memguard_set_max_pressure(cmd_parms *cmd, void *dcfg,
                                      const char *kind, const char *pct);
const char *memguard_set_sample_interval(cmd_parms *cmd, void *dcfg,
                                         const char *arg);
const char *memguard_set_proc_root(cmd_parms *cmd, void *dcfg, const char *arg);
const char *memguard_set_cgroup(cmd_parms *cmd, void *dcfg, const char *arg);
const char *memguard_set_numa(cmd_parms *cmd, void *dcfg, const char *arg);
const char *memguard_set_sustain(cmd_parms *cmd, void *dcfg, const char *arg);
const char *memguard_set_fill_horizon(cmd_parms *cmd, void *dcfg,
                                      const char *thr, const char *shed);
const char *memguard_set_hysteresis(cmd_parms *cmd, void *dcfg,
                                    const char *arg);
const char *memguard_set_fail_mode(cmd_parms *cmd, void *dcfg, const char *arg);
const char *memguard_set_admit_size(cmd_parms *cmd, void *dcfg,
                                    const char *arg);
const char *memguard_set_admit_slow(cmd_parms *cmd, void *dcfg,
                                    const char *arg);
const char *memguard_set_admit_wait(cmd_parms *cmd, void *dcfg,
                                    const char *arg);
const char *memguard_set_call_ceiling(cmd_parms *cmd, void *dcfg, int on);
const char *memguard_set_child_limit(cmd_parms *cmd, void *dcfg,
                                     const char *arg);
const char *memguard_set_child_metric(cmd_parms *cmd, void *dcfg,
                                      const char *arg);
const char *memguard_set_recycle_jitter(cmd_parms *cmd, void *dcfg,
                                        const char *arg);
const char *memguard_set_max_recycles(cmd_parms *cmd, void *dcfg,
                                      const char *arg);
const char *memguard_set_recycle_on_pressure(cmd_parms *cmd, void *dcfg,
                                             int flag);
const char *memguard_set_watch_daemons(cmd_parms *cmd, void *dcfg,
                                       const char *arg);

#endif /* MOD_MEMGUARD_DIRECTIVES_SERVER_H */
