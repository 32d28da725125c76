/*
 * mod_memguard_board.c - the board in shared memory: counters the status
 * page shows.
 */
#include "mod_memguard.h"

void memguard_count_refusal(request_rec *r, mg_reason_t reason, int detect)
{
    (void)r;
    (void)reason;
    (void)detect;
}
