/*
 * mod_memguard_board.h - the board in shared memory, from the glue's side
 * (mod_memguard_board.c): the segment, this child's slot, the clock, the
 * pid, and counting refusals.
 */
#ifndef MOD_MEMGUARD_BOARD_H
#define MOD_MEMGUARD_BOARD_H

#include "mod_memguard.h"

#include "mg_policy.h"
#include "mg_reason.h"

#define MEMGUARD_BOARD_METHODS 64 /* named method entries (+ "other") */

struct mg_board;
/* The board, in every process after post_config; NULL before. */
struct mg_board *memguard_board(void);
/* This child's board slot (found from its first connection), or -1. */
int memguard_slot(conn_rec *c);
/* CLOCK_MONOTONIC in microseconds (the board's clock). */
uint64_t memguard_now_us(void);
/* This process's pid, read once per process (getpid(2) is a system call
 * each time: glibc stopped caching it). */
pid_t memguard_pid(void);
/* Forget it: for a process just forked (the sampler, a child). */
void memguard_pid_forget(void);
struct mg_board_sys;
/* The verdict the sampler's record (mg_board_sys_read) describes, for
 * mg_verdict_describe(): state, deciding signal, value, threshold, and
 * the level it clears at. */
void memguard_sys_verdict(const struct mg_board_sys *rec, mg_verdict_t *v);
/* "available 150.0 MiB < minimum 200.0 MiB (MemGuardMinAvailable)" for
 * the verdict word w, from the sampler's record (or just the signal's
 * name while the record is being written); in r's pool. */
const char *memguard_verdict_detail(request_rec *r, uint64_t w);
/* Is the sampler shedding now (a fresh verdict)? MEMGUARD_SHED_LEVEL,
 * MEMGUARD_SHED_FORECAST (its signal is a fill rate: memory still above
 * the level) or 0. A stale verdict is 0: the fail mode decides that. */
int memguard_board_shedding(void);
/* Count a refusal in this child's slot and the request's method. */
void memguard_count_refusal(request_rec *r, mg_reason_t reason, int detect);
void memguard_board_register(apr_pool_t *p);

#endif /* MOD_MEMGUARD_BOARD_H */
