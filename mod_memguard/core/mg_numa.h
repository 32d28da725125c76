/*
 * mg_numa.h - the NUMA nodes the server may allocate on, and
 * their per-node meminfo.
 * Stacked on mg_procfs.h (see there for ROOT and the return codes).
 */
#ifndef MG_NUMA_H
#define MG_NUMA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mg_procfs.h"

#define MG_PROC_MAX_NODE_ID 1024 /* the kernel's MAX_NUMNODES cap */
#define MG_PROC_NODE_WORDS (MG_PROC_MAX_NODE_ID / 64)

/* ------------------------------------------------------------------ */
/* NUMA                                                                */

/* A node list as in "0", "0-3", "0,2-3" (also "" = none) into a bitmap
 * of MG_PROC_NODE_WORDS words. */
int mg_proc_parse_nodelist(const char *s, size_t len, uint64_t *mask);

/* The "Mems_allowed_list:" line of /proc/<pid>/status into mask.
 * -ENOMSG when absent (kernel without cpusets). */
int mg_proc_parse_mems_allowed(const char *buf, size_t len, uint64_t *mask);

/*
 * sys/devices/system/node/nodeN/meminfo into n (bytes). available is an
 * estimate that errs low: MemFree + (Active(file) + Inactive(file)) / 2 +
 * SReclaimable / 2. A process bound to a node (numactl --membind, cpuset
 * mems) is OOM-killed when that node's free memory cannot be refilled;
 * reclaim can take page cache and reclaimable slab back, but not all of
 * it (dirty and hot pages, slab objects in use), and nodes have no
 * MemAvailable of their own. Halving keeps the verdict early rather than
 * late.
 */
int mg_proc_parse_node_meminfo(const char *buf, size_t len, int node,
                               mg_sample_node_t *n);

/*
 * The nodes the server may allocate on, ascending: Mems_allowed_list of
 * <root>/proc/self/status (cpuset.mems), intersected, when root is "/",
 * with this process's memory policy if it is MPOL_BIND (numactl
 * --membind: a policy, invisible in /proc/self/status). Only nodes that
 * have <root>/sys/devices/system/node/nodeN are kept; more than max are
 * counted in *skipped. -ENODATA when <root>/sys/devices/system/node does
 * not exist (kernel without NUMA).
 */
int mg_proc_numa_nodes(const char *root, char *buf, size_t size, int32_t *nodes,
                       uint32_t max, uint32_t *n, uint32_t *skipped);

#endif /* MG_NUMA_H */
