/*
 * mg_sample.h - one sample of the machine's memory headroom.
 *
 * Filled by the sampler (mg_proc readers), published in the board's system
 * record (mg_board) and judged by mg_policy. Plain data, fixed size, no
 * pointers: it lives in shared memory. All sizes in bytes; PSI averages in
 * hundredths of a percent (12.34% -> 1234). A source that could not be
 * read has its MG_SRC_* bit clear in .valid and its fields are zero.
 */
#ifndef MG_SAMPLE_H
#define MG_SAMPLE_H

#include <stdint.h>

#define MG_SAMPLE_MAX_NODES 16  /* NUMA nodes kept (allowed ones only) */
#define MG_SAMPLE_MAX_CACHES 16 /* named slab caches (MemGuardSlabCache) */
#define MG_SAMPLE_TOP_CACHES 8  /* largest slab caches, for the status page */
#define MG_SAMPLE_NAME_LEN 32   /* slab cache names are at most 31 chars */

enum {
    MG_SRC_MEMINFO = 1u << 0,
    MG_SRC_PSI = 1u << 1, /* clear: PSI absent or switched off */
    MG_SRC_CGROUP = 1u << 2,
    MG_SRC_NUMA = 1u << 3,
    MG_SRC_SLABINFO = 1u << 4, /* clear: not readable (not root) */
};

typedef struct {
    char name[MG_SAMPLE_NAME_LEN];
    uint64_t bytes; /* num_objs * objsize */
} mg_sample_cache_t;

typedef struct {
    int32_t node; /* node number N of nodeN */
    uint32_t pad;
    uint64_t total;        /* Node N MemTotal */
    uint64_t free;         /* Node N MemFree */
    uint64_t file;         /* Node N Active(file) + Inactive(file) */
    uint64_t sreclaimable; /* Node N SReclaimable */
    uint64_t available;    /* estimate, see mg_numa.h */
} mg_sample_node_t;

typedef struct {
    uint64_t taken_us; /* CLOCK_MONOTONIC when read */
    uint32_t valid;    /* MG_SRC_* bits */
    uint32_t seq;      /* samples taken by this sampler */

    /* /proc/meminfo */
    uint64_t mem_total;
    uint64_t mem_free;
    uint64_t mem_available;           /* MemAvailable, or the estimate */
    uint32_t mem_available_estimated; /* 1: kernel had no MemAvailable */
    uint32_t pad0;
    uint64_t buffers;
    uint64_t cached;
    uint64_t active_file;
    uint64_t inactive_file;
    uint64_t shmem;
    uint64_t slab;
    uint64_t sreclaimable;
    uint64_t sunreclaim;
    uint64_t swap_total;
    uint64_t swap_free;

    /* /proc/pressure/memory */
    uint32_t psi_some_avg10;
    uint32_t psi_some_avg60;
    uint32_t psi_some_avg300;
    uint32_t psi_full_avg10;
    uint32_t psi_full_avg60;
    uint32_t psi_full_avg300;
    uint64_t psi_some_total_us;
    uint64_t psi_full_total_us;

    /* the server's memory cgroup */
    uint32_t cgroup_version; /* 1 or 2; 0 when none */
    /* v2: 0 when the figures below are the server's own group's; n when
     * they are its n-th ancestor's, whose memory.max leaves less room
     * (max - current) than the group's own. v1: always 0 (its limit is
     * already the smallest of the group and its ancestors). */
    uint32_t cgroup_level;
    uint64_t cgroup_limit; /* UINT64_MAX when unlimited ("max") */
    uint64_t cgroup_usage;
    uint64_t cgroup_inactive_file;
    uint64_t cgroup_working_set; /* usage - inactive_file, floor 0 */
    uint64_t cgroup_oom_kills;

    /* NUMA: the nodes this server may allocate on */
    uint32_t nnodes;
    uint32_t pad2;
    mg_sample_node_t nodes[MG_SAMPLE_MAX_NODES];

    /* /proc/slabinfo, read every few samples */
    uint64_t slab_taken_us; /* when slabinfo was last read */
    uint32_t ncaches;       /* named caches, in config order */
    uint32_t ntop;
    mg_sample_cache_t caches[MG_SAMPLE_MAX_CACHES];
    mg_sample_cache_t top[MG_SAMPLE_TOP_CACHES]; /* largest first */

    /* what the calls admitted against the memory budget have grown so far,
     * within their reservations (the sampler fills it in; 0 elsewhere):
     * memory expected to go, which the fill rate does not count as a
     * fall toward the shed level */
    uint64_t reserved_growth;
} mg_sample_t;

#endif /* MG_SAMPLE_H */
