/*
 * mod_memguard_directives.h - the module's directive table
 * (mod_memguard_directives.c), for the module record.
 */
#ifndef MOD_MEMGUARD_DIRECTIVES_H
#define MOD_MEMGUARD_DIRECTIVES_H

#include "mod_memguard.h"

extern const command_rec memguard_cmds[];

#endif /* MOD_MEMGUARD_DIRECTIVES_H */
