/*
 * mg_numa.c - the NUMA nodes the server may allocate on (see mg_numa.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mg_numa.h"

#define MG_NUMA_MPOL_BIND 2          /* <linux/mempolicy.h> */
#define MG_NUMA_MPOL_FLAGS (7 << 13) /* STATIC, RELATIVE, NUMA_BALANCING */

/*
 * A node list, as in /proc/self/status and sys/devices/system/node/online:
 *   0
 *   0-3
 *   0,2-3
 */
int mg_proc_parse_nodelist(const char *s, size_t len, uint64_t *mask)
{
    const char *p = s, *end = s + len;

    if (s == NULL || mask == NULL) {
        return -EINVAL;
    }
    memset(mask, 0, MG_PROC_NODE_WORDS * sizeof(uint64_t));
    while (p < end) {
        uint64_t a, b, i;
        int rc;

        if ((rc = mg_proc_parse_u64(&p, end, &a)) < 0) {
            return -EBADMSG;
        }
        b = a;
        if (p < end && *p == '-') {
            p++;
            if ((rc = mg_proc_parse_u64(&p, end, &b)) < 0) {
                return -EBADMSG;
            }
        }
        if (a > b || b >= MG_PROC_MAX_NODE_ID) {
            return -EBADMSG;
        }
        for (i = a; i <= b; i++) {
            mask[i / 64] |= 1ULL << (i % 64);
        }
        if (p < end) {
            if (*p != ',' || p + 1 == end) {
                return -EBADMSG;
            }
            p++;
        }
    }
    return 0;
}

/*
 * /proc/self/status (abridged; the separator is a tab):
 *   Cpus_allowed_list:<TAB>0-1
 *   Mems_allowed:<TAB>00000000,...,00000001
 *   Mems_allowed_list:<TAB>0
 */
int mg_proc_parse_mems_allowed(const char *buf, size_t len, uint64_t *mask)
{
    static const char key[] = "Mems_allowed_list:";
    const char *p = buf, *end = buf + len;

    if (buf == NULL || mask == NULL) {
        return -EINVAL;
    }
    if (len == 0 || buf[len - 1] != '\n') {
        return -EBADMSG;
    }
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if ((size_t)(eol - p) >= sizeof(key) - 1 &&
            memcmp(p, key, sizeof(key) - 1) == 0) {
            p += sizeof(key) - 1;
            while (p < eol && (*p == '\t' || *p == ' ')) {
                p++;
            }
            return mg_proc_parse_nodelist(p, (size_t)(eol - p), mask);
        }
        p = eol + 1;
    }
    return -ENOMSG;
}

static uint64_t mg_numa_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

typedef struct {
    uint64_t total, free, active_file, inactive_file, sreclaimable;
} mg_numa_raw_t;

/*
 * sys/devices/system/node/node0/meminfo (Linux 6.1, abridged):
 *   Node 0 MemTotal:        4810964 kB
 *   Node 0 MemFree:         3329220 kB
 *   Node 0 MemUsed:         1481744 kB
 *   ...
 *   Node 0 Active(file):     328824 kB
 *   Node 0 Inactive(file):   994504 kB
 *   ...
 *   Node 0 SReclaimable:      77052 kB
 *   Node 0 SUnreclaim:        21864 kB
 *   ...
 *   Node 0 HugePages_Total:     0
 */
int mg_proc_parse_node_meminfo(const char *buf, size_t len, int node,
                               mg_sample_node_t *n)
{
    static const mg_proc_key_t keys[] = {
        {"MemTotal", offsetof(mg_numa_raw_t, total)},
        {"MemFree", offsetof(mg_numa_raw_t, free)},
        {"Active(file)", offsetof(mg_numa_raw_t, active_file)},
        {"Inactive(file)", offsetof(mg_numa_raw_t, inactive_file)},
        {"SReclaimable", offsetof(mg_numa_raw_t, sreclaimable)},
    };
    mg_numa_raw_t r;
    uint32_t found = 0;
    uint64_t file, avail;
    int rc;

    if (buf == NULL || n == NULL || node < 0) {
        return -EINVAL;
    }
    memset(&r, 0, sizeof(r));
    rc = mg_proc_parse_keyed(buf, len, MG_PROC_KV_NODE, node, keys, 5, &r,
                             &found);
    if (rc < 0) {
        return rc;
    }
    if (found != 0x1f) {
        return -ENOMSG;
    }
    file = mg_numa_add(r.active_file, r.inactive_file);
    avail = mg_numa_add(mg_numa_add(r.free, file / 2), r.sreclaimable / 2);
    memset(n, 0, sizeof(*n));
    n->node = node;
    n->total = r.total;
    n->free = r.free;
    n->file = file;
    n->sreclaimable = r.sreclaimable;
    n->available = avail;
    return 0;
}

/* Restrict mask to this process's MPOL_BIND policy, if it has one. A
 * policy is per thread and inherited over fork and exec, so the sampler
 * (forked from the httpd parent) sees what numactl gave httpd. */
static void mg_numa_apply_mempolicy(uint64_t *mask)
{
#ifdef SYS_get_mempolicy
    unsigned long nodes[MG_PROC_MAX_NODE_ID / (8 * sizeof(unsigned long))];
    int mode = 0;
    size_t i;

    memset(nodes, 0, sizeof(nodes));
    if (syscall(SYS_get_mempolicy, &mode, nodes,
                (unsigned long)MG_PROC_MAX_NODE_ID, NULL, 0UL) != 0) {
        return;
    }
    if ((mode & ~MG_NUMA_MPOL_FLAGS) != MG_NUMA_MPOL_BIND) {
        return;
    }
    for (i = 0; i < MG_PROC_MAX_NODE_ID; i++) {
        size_t bits = 8 * sizeof(unsigned long);
        if (!(nodes[i / bits] & (1UL << (i % bits)))) {
            mask[i / 64] &= ~(1ULL << (i % 64));
        }
    }
#else
    (void)mask;
#endif
}

int mg_proc_numa_nodes(const char *root, char *buf, size_t size, int32_t *nodes,
                       uint32_t max, uint32_t *n, uint32_t *skipped)
{
    uint64_t mask[MG_PROC_NODE_WORDS];
    char path[MG_PROC_PATH_MAX];
    struct stat st;
    ssize_t len;
    uint32_t i, k = 0, sk = 0;
    int rc;

    if (root == NULL || buf == NULL || nodes == NULL || n == NULL) {
        return -EINVAL;
    }
    *n = 0;
    if (skipped) {
        *skipped = 0;
    }
    if ((rc = mg_proc_path(path, sizeof(path), root,
                           "sys/devices/system/node")) < 0) {
        return rc;
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return -ENODATA;
    }
    len = mg_proc_read_file(root, "proc/self/status", buf, size);
    rc =
        len < 0 ? (int)len : mg_proc_parse_mems_allowed(buf, (size_t)len, mask);
    if (rc < 0) {
        /* No cpusets: every node that has memory. */
        len = mg_proc_read_file(root, "sys/devices/system/node/has_memory", buf,
                                size);
        if (len < 0) {
            len = mg_proc_read_file(root, "sys/devices/system/node/online", buf,
                                    size);
        }
        if (len <= 0 || buf[len - 1] != '\n') {
            return len < 0 ? (int)len : -EBADMSG;
        }
        if ((rc = mg_proc_parse_nodelist(buf, (size_t)len - 1, mask)) < 0) {
            return rc;
        }
    }
    /* A fixture tree describes another machine: our own policy is
     * irrelevant there. */
    if (root[0] == '\0' || strcmp(root, "/") == 0) {
        mg_numa_apply_mempolicy(mask);
    }
    for (i = 0; i < MG_PROC_MAX_NODE_ID; i++) {
        char rel[64];
        if (!(mask[i / 64] & (1ULL << (i % 64)))) {
            continue;
        }
        snprintf(rel, sizeof(rel), "sys/devices/system/node/node%u/meminfo",
                 (unsigned)i);
        if (mg_proc_path(path, sizeof(path), root, rel) < 0 ||
            access(path, F_OK) != 0) {
            continue;
        }
        if (k < max) {
            nodes[k++] = (int32_t)i;
        }
        else {
            sk++;
        }
    }
    *n = k;
    if (skipped) {
        *skipped = sk;
    }
    return k > 0 ? 0 : -ENODATA;
}
