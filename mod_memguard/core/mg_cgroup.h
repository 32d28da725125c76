/*
 * mg_cgroup.h - the server's memory cgroup, v1 and v2:
 * locating it from /proc/self/cgroup and mountinfo, and its files' parsers.
 * Stacked on mg_procfs.h (see there for ROOT and the return codes).
 */
#ifndef MG_CGROUP_H
#define MG_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mg_procfs.h"

/* ------------------------------------------------------------------ */
/* cgroup of the server                                                */

/* A cgroup filesystem mount from mountinfo. */
typedef struct {
    int found;
    char root[MG_PROC_PATH_MAX];  /* 4th field: the group mounted there */
    char mount[MG_PROC_PATH_MAX]; /* 5th field: where, unescaped */
} mg_proc_cgmount_t;

/* From /proc/self/cgroup: the path of the v1 memory group ("N:...memory
 * ...:/path") and of the v2 group ("0::/path"); each "" when absent. */
int mg_proc_parse_self_cgroup(const char *buf, size_t len, char *v1,
                              size_t v1size, char *v2, size_t v2size);

/* From /proc/self/mountinfo: the first "cgroup" mount whose super options
 * include "memory", and the first "cgroup2" mount. */
int mg_proc_parse_mountinfo(const char *buf, size_t len,
                            mg_proc_cgmount_t *v1mem, mg_proc_cgmount_t *v2);

/*
 * The directory of group cgpath inside mount m: mount + (cgpath minus the
 * mount's root). In a container without a cgroup namespace the path is
 * the host's ("/docker/abc") and the mount root is that same group, so the
 * answer is the mount point itself; with a namespace both are "/". A path
 * outside the mount's root (the mount shows a sub-tree we are not in)
 * gives the mount point too: the closest group we can see.
 */
int mg_proc_cgroup_join(const mg_proc_cgmount_t *m, const char *cgpath,
                        char *out, size_t n);

typedef struct {
    uint32_t version;           /* 1 or 2 */
    char dir[MG_PROC_PATH_MAX]; /* relative to ROOT, starts with '/' */
} mg_proc_cgroup_loc_t;

/*
 * Find the server's memory cgroup: v1 when the memory controller is
 * attached to a v1 hierarchy and this process has a memory line (hybrid
 * layouts mount a v2 tree without it); otherwise the cgroup2 mount, if
 * the group's cgroup.controllers lists "memory". buf is scratch for
 * mountinfo (8 KB is enough for ~60 mounts; the sampler passes its slabinfo
 * buffer when it has one, since container hosts have hundreds).
 * -ENODATA when there is no memory cgroup.
 */
int mg_proc_cgroup_locate(const char *root, char *buf, size_t size,
                          mg_proc_cgroup_loc_t *loc);

/* An explicit directory (MemGuardCgroup PATH, relative to ROOT): v2 if it
 * holds memory.current, v1 if memory.usage_in_bytes. -ENODATA if
 * neither. */
int mg_proc_cgroup_probe(const char *root, const char *dir,
                         mg_proc_cgroup_loc_t *loc);

/* v2 memory.max ("max" -> UINT64_MAX) or v1 memory.limit_in_bytes (values
 * of 2^62 and more -> UINT64_MAX: v1 prints "unlimited" as LONG_MAX
 * rounded down to a page, 9223372036854771712 with 4K pages); also used
 * for memory.current / memory.usage_in_bytes (one number). */
int mg_proc_parse_cgroup_value(const char *buf, size_t len, uint64_t *out);

typedef struct {
    uint64_t inactive_file;
    uint64_t hierarchical_limit; /* v1 only; UINT64_MAX when unlimited */
} mg_proc_cgstat_t;

/* memory.stat: v2 "inactive_file"; v1 "total_inactive_file" (the group
 * and its children, what usage_in_bytes counts), else "inactive_file",
 * and "hierarchical_memory_limit" (the smallest limit of the group and
 * its ancestors). */
int mg_proc_parse_cgroup_stat(const char *buf, size_t len, uint32_t version,
                              mg_proc_cgstat_t *out);

/* v2 memory.events or v1 memory.oom_control: the "oom_kill" count (0 when
 * the line is absent: kernels before 4.13 do not count). */
int mg_proc_parse_cgroup_oom(const char *buf, size_t len, uint64_t *out);

#endif /* MG_CGROUP_H */
