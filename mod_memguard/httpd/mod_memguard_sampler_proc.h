/*
 * mod_memguard_sampler_proc.h - the sampler process
 * (mod_memguard_sampler_proc.c), for the parent side that forks it.
 */
#ifndef MOD_MEMGUARD_SAMPLER_PROC_H
#define MOD_MEMGUARD_SAMPLER_PROC_H

#include "mod_memguard_config.h"

struct mg_board;

/* The exit status of a sampler that could not start: do not restart. */
#define MEMGUARD_SAMPLER_STARTUP_ERROR 2

/*
 * The sampler process's life, in the process just forked: its signals,
 * its sources (opened while root, under hr->proc_root), mlockall, the
 * measuring thread, the drop to User/Group, then the publishing loop
 * until it is told to stop. p is the configuration's pool (pconf,
 * inherited); starts is the board's count of sampler starts, parent the
 * httpd parent's pid. Returns the exit status.
 */
int memguard_sampler_main(server_rec *s, apr_pool_t *p,
                          memguard_headroom_conf *hr, struct mg_board *b,
                          uint32_t starts, pid_t parent);

#endif /* MOD_MEMGUARD_SAMPLER_PROC_H */
