/*
 * mg_cgroup.c - the server's memory cgroup, v1 and v2 (see mg_cgroup.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mg_cgroup.h"

/* Values this large in a v1 limit mean "unlimited": the kernel prints
 * PAGE_COUNTER_MAX pages, LONG_MAX rounded down to a page. */
#define MG_CGROUP_V1_UNLIMITED (1ULL << 62)

static int mg_cgroup_copy(char *dst, size_t n, const char *src, size_t len)
{
    if (len + 1 > n) {
        return -ENAMETOOLONG;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

/* Is word w one of the comma-separated items of [p, end)? */
static int mg_cgroup_has_item(const char *p, const char *end, const char *w)
{
    size_t wl = strlen(w);

    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        if (c == NULL) {
            c = end;
        }
        if ((size_t)(c - p) == wl && memcmp(p, w, wl) == 0) {
            return 1;
        }
        p = c + 1;
    }
    return 0;
}

/*
 * /proc/self/cgroup (hybrid layout: v1 controllers plus a v2 tree):
 *   4:memory:/system.slice/httpd.service
 *   3:cpuset:/
 *   1:name=systemd:/system.slice/httpd.service
 *   0::/system.slice/httpd.service
 * Pure v2 has the "0::" line only. Controllers can share a hierarchy
 * ("5:cpu,cpuacct:/").
 */
int mg_proc_parse_self_cgroup(const char *buf, size_t len, char *v1,
                              size_t v1size, char *v2, size_t v2size)
{
    const char *p = buf, *end = buf + len;
    int have1 = 0, have2 = 0, rc;

    if (buf == NULL || v1 == NULL || v2 == NULL || v1size == 0 || v2size == 0) {
        return -EINVAL;
    }
    v1[0] = v2[0] = '\0';
    if (len == 0 || buf[len - 1] != '\n') {
        return -EBADMSG;
    }
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *c1, *c2;
        uint64_t hier;

        if ((rc = mg_proc_parse_u64(&p, eol, &hier)) < 0) {
            return -EBADMSG;
        }
        if (p >= eol || *p != ':') {
            return -EBADMSG;
        }
        c1 = p + 1;
        c2 = memchr(c1, ':', (size_t)(eol - c1));
        if (c2 == NULL || c2 + 1 >= eol || c2[1] != '/') {
            return -EBADMSG;
        }
        if (hier == 0 && c2 == c1) {
            if (have2++) {
                return -EBADMSG;
            }
            rc = mg_cgroup_copy(v2, v2size, c2 + 1, (size_t)(eol - c2 - 1));
        }
        else if (mg_cgroup_has_item(c1, c2, "memory")) {
            if (have1++) {
                return -EBADMSG;
            }
            rc = mg_cgroup_copy(v1, v1size, c2 + 1, (size_t)(eol - c2 - 1));
        }
        else {
            rc = 0;
        }
        if (rc < 0) {
            return rc;
        }
        p = eol + 1;
    }
    return 0;
}

/* Copy a mountinfo path field, undoing the kernel's octal escapes of
 * space, tab, newline and backslash ("\040"). */
static int mg_cgroup_unescape(char *dst, size_t n, const char *p,
                              const char *end)
{
    size_t o = 0;

    while (p < end) {
        char ch = *p;
        if (ch == '\\' && end - p >= 4 && p[1] >= '0' && p[1] <= '3' &&
            p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
            ch = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 4;
        }
        else {
            p++;
        }
        if (o + 1 >= n) {
            return -ENAMETOOLONG;
        }
        dst[o++] = ch;
    }
    dst[o] = '\0';
    return 0;
}

/*
 * /proc/self/mountinfo (fields: id parent major:minor root mount-point
 * options [optional fields...] - fstype source super-options):
 *   35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
 *   41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
 * In a container without a cgroup namespace, root is the container's
 * group on the host:
 *   1290 1283 0:32 /docker/4f1c... /sys/fs/cgroup/memory ro,nosuid,nodev,
 *     noexec,relatime master:15 - cgroup cgroup rw,memory
 */
int mg_proc_parse_mountinfo(const char *buf, size_t len,
                            mg_proc_cgmount_t *v1mem, mg_proc_cgmount_t *v2)
{
    const char *p = buf, *end = buf + len;
    int rc;

    if (buf == NULL || v1mem == NULL || v2 == NULL) {
        return -EINVAL;
    }
    memset(v1mem, 0, sizeof(*v1mem));
    memset(v2, 0, sizeof(*v2));
    if (len == 0 || buf[len - 1] != '\n') {
        return -EBADMSG;
    }
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *f[6], *fe[6], *fs, *fse, *so, *soe, *q = p;
        mg_proc_cgmount_t *m = NULL;
        int i;

        /* The six fixed fields, then optional ones up to "-". */
        for (i = 0; i < 6; i++) {
            if (q >= eol || *q == ' ') {
                return -EBADMSG;
            }
            f[i] = q;
            while (q < eol && *q != ' ') {
                q++;
            }
            fe[i] = q;
            if (q < eol) {
                q++;
            }
        }
        for (;;) {
            const char *t = q;
            if (q >= eol) {
                return -EBADMSG;
            }
            while (q < eol && *q != ' ') {
                q++;
            }
            if (q - t == 1 && *t == '-') {
                break;
            }
            if (q < eol) {
                q++;
            }
        }
        if (q >= eol) {
            return -EBADMSG;
        }
        fs = ++q;
        while (q < eol && *q != ' ') {
            q++;
        }
        fse = q;
        if (q >= eol) {
            return -EBADMSG;
        }
        q++;
        while (q < eol && *q != ' ') { /* source */
            q++;
        }
        if (q >= eol) {
            return -EBADMSG;
        }
        so = q + 1;
        soe = eol;
        if (fse - fs == 6 && memcmp(fs, "cgroup", 6) == 0) {
            if (!v1mem->found && mg_cgroup_has_item(so, soe, "memory")) {
                m = v1mem;
            }
        }
        else if (fse - fs == 7 && memcmp(fs, "cgroup2", 7) == 0) {
            if (!v2->found) {
                m = v2;
            }
        }
        if (m != NULL) {
            if ((rc = mg_cgroup_unescape(m->root, sizeof(m->root), f[3],
                                         fe[3])) < 0 ||
                (rc = mg_cgroup_unescape(m->mount, sizeof(m->mount), f[4],
                                         fe[4])) < 0) {
                return rc;
            }
            if (m->root[0] != '/' || m->mount[0] != '/') {
                return -EBADMSG;
            }
            m->found = 1;
        }
        p = eol + 1;
    }
    return 0;
}

int mg_proc_cgroup_join(const mg_proc_cgmount_t *m, const char *cgpath,
                        char *out, size_t n)
{
    size_t rl = strlen(m->root), ml = strlen(m->mount);
    const char *rel = cgpath;
    int w;

    while (rl > 1 && m->root[rl - 1] == '/') {
        rl--;
    }
    if (rl == 1) {
        rel = cgpath; /* mount root "/": the whole tree */
    }
    else if (strncmp(cgpath, m->root, rl) == 0 &&
             (cgpath[rl] == '/' || cgpath[rl] == '\0')) {
        rel = cgpath + rl; /* container without a cgroup namespace */
    }
    else {
        rel = ""; /* outside the mounted sub-tree */
    }
    while (*rel == '/') {
        rel++;
    }
    while (ml > 1 && m->mount[ml - 1] == '/') {
        ml--;
    }
    w = snprintf(out, n, "%.*s%s%s", (int)ml, m->mount,
                 (*rel && ml > 1) ? "/" : "", rel);
    if (w < 0 || (size_t)w >= n) {
        return -ENAMETOOLONG;
    }
    return 0;
}

static int mg_cgroup_exists(const char *root, const char *dir, const char *file)
{
    char rel[MG_PROC_PATH_MAX + 64], path[MG_PROC_PATH_MAX];
    int w = snprintf(rel, sizeof(rel), "%s/%s", dir, file);

    if (w < 0 || (size_t)w >= sizeof(rel) ||
        mg_proc_path(path, sizeof(path), root, rel) < 0) {
        return 0;
    }
    return access(path, F_OK) == 0;
}

int mg_proc_cgroup_probe(const char *root, const char *dir,
                         mg_proc_cgroup_loc_t *loc)
{
    size_t dl;

    if (root == NULL || dir == NULL || loc == NULL) {
        return -EINVAL;
    }
    dl = strlen(dir);
    if (dl + 2 > sizeof(loc->dir)) {
        return -ENAMETOOLONG;
    }
    loc->dir[0] = '/';
    memcpy(loc->dir + (dir[0] == '/' ? 0 : 1), dir, dl + 1);
    if (mg_cgroup_exists(root, loc->dir, "memory.current")) {
        loc->version = 2;
        return 0;
    }
    if (mg_cgroup_exists(root, loc->dir, "memory.usage_in_bytes")) {
        loc->version = 1;
        return 0;
    }
    return -ENODATA;
}

/* cgroup.controllers: "cpuset cpu io memory hugetlb pids rdma misc\n" */
static int mg_cgroup_v2_has_memory(const char *root, const char *dir, char *buf,
                                   size_t size)
{
    char rel[MG_PROC_PATH_MAX + 32];
    const char *p, *end;
    ssize_t n;
    int w = snprintf(rel, sizeof(rel), "%s/cgroup.controllers", dir);

    if (w < 0 || (size_t)w >= sizeof(rel)) {
        return 0;
    }
    n = mg_proc_read_file(root, rel, buf, size);
    if (n <= 0) {
        return 0;
    }
    p = buf;
    end = buf + n;
    while (p < end) {
        const char *t = p;
        while (p < end && *p != ' ' && *p != '\n') {
            p++;
        }
        if (p - t == 6 && memcmp(t, "memory", 6) == 0) {
            return 1;
        }
        p++;
    }
    return 0;
}

int mg_proc_cgroup_locate(const char *root, char *buf, size_t size,
                          mg_proc_cgroup_loc_t *loc)
{
    char v1[MG_PROC_PATH_MAX], v2[MG_PROC_PATH_MAX];
    mg_proc_cgmount_t m1, m2;
    ssize_t n;
    int rc;

    if (root == NULL || buf == NULL || loc == NULL) {
        return -EINVAL;
    }
    n = mg_proc_read_file(root, "proc/self/cgroup", buf, size);
    if (n == -ENOENT) {
        return -ENODATA; /* kernel without cgroups */
    }
    if (n < 0) {
        return (int)n;
    }
    if ((rc = mg_proc_parse_self_cgroup(buf, (size_t)n, v1, sizeof(v1), v2,
                                        sizeof(v2))) < 0) {
        return rc;
    }
    n = mg_proc_read_file(root, "proc/self/mountinfo", buf, size);
    if (n < 0) {
        return (int)n;
    }
    if ((rc = mg_proc_parse_mountinfo(buf, (size_t)n, &m1, &m2)) < 0) {
        return rc;
    }
    if (v1[0] != '\0' && m1.found) {
        if ((rc = mg_proc_cgroup_join(&m1, v1, loc->dir, sizeof(loc->dir))) <
            0) {
            return rc;
        }
        if (mg_cgroup_exists(root, loc->dir, "memory.usage_in_bytes")) {
            loc->version = 1;
            return 0;
        }
    }
    if (v2[0] != '\0' && m2.found) {
        if ((rc = mg_proc_cgroup_join(&m2, v2, loc->dir, sizeof(loc->dir))) <
            0) {
            return rc;
        }
        /* The host's root group lists every controller but has no
         * memory.current: no limit there, /proc/meminfo says it all. */
        if (mg_cgroup_v2_has_memory(root, loc->dir, buf, size) &&
            mg_cgroup_exists(root, loc->dir, "memory.current")) {
            loc->version = 2;
            return 0;
        }
    }
    loc->dir[0] = '\0';
    loc->version = 0;
    return -ENODATA;
}

/*
 * One value: v2 memory.max / memory.current, v1 memory.limit_in_bytes /
 * memory.usage_in_bytes:
 *   max
 *   805306368
 *   9223372036854771712
 */
int mg_proc_parse_cgroup_value(const char *buf, size_t len, uint64_t *out)
{
    const char *p = buf;
    uint64_t v;
    int rc;

    if (buf == NULL || out == NULL) {
        return -EINVAL;
    }
    if (len == 0 || buf[len - 1] != '\n') {
        return -EBADMSG;
    }
    if (len == 4 && memcmp(buf, "max\n", 4) == 0) {
        *out = UINT64_MAX;
        return 0;
    }
    if ((rc = mg_proc_parse_u64(&p, buf + len - 1, &v)) < 0) {
        return rc;
    }
    if (p != buf + len - 1) {
        return -EBADMSG;
    }
    *out = v >= MG_CGROUP_V1_UNLIMITED ? UINT64_MAX : v;
    return 0;
}

typedef struct {
    uint64_t inactive_file, total_inactive_file, hier;
} mg_cgroup_stat_raw_t;

/*
 * memory.stat, v2 (Linux 6.1, abridged):
 *   anon 309899264
 *   file 56946688
 *   ...
 *   inactive_file 52428800
 *   active_file 4517888
 * v1 (the group's own counters, then hierarchical ones):
 *   cache 57344
 *   ...
 *   inactive_file 52428800
 *   hierarchical_memory_limit 805306368
 *   ...
 *   total_inactive_file 52428800
 */
int mg_proc_parse_cgroup_stat(const char *buf, size_t len, uint32_t version,
                              mg_proc_cgstat_t *out)
{
    static const mg_proc_key_t keys[] = {
        {"inactive_file", offsetof(mg_cgroup_stat_raw_t, inactive_file)},
        {"total_inactive_file",
         offsetof(mg_cgroup_stat_raw_t, total_inactive_file)},
        {"hierarchical_memory_limit", offsetof(mg_cgroup_stat_raw_t, hier)},
    };
    mg_cgroup_stat_raw_t r;
    uint32_t found = 0;
    int rc;

    if (buf == NULL || out == NULL || (version != 1 && version != 2)) {
        return -EINVAL;
    }
    memset(&r, 0, sizeof(r));
    rc = mg_proc_parse_keyed(buf, len, MG_PROC_KV_SPACE, -1, keys,
                             version == 2 ? 1 : 3, &r, &found);
    if (rc < 0) {
        return rc;
    }
    out->hierarchical_limit = UINT64_MAX;
    if (version == 1) {
        if (found & 4) {
            out->hierarchical_limit =
                r.hier >= MG_CGROUP_V1_UNLIMITED ? UINT64_MAX : r.hier;
        }
        if (found & 2) {
            out->inactive_file = r.total_inactive_file;
            return 0;
        }
    }
    if (!(found & 1)) {
        return -ENOMSG;
    }
    out->inactive_file = r.inactive_file;
    return 0;
}

/*
 * v2 memory.events:            v1 memory.oom_control:
 *   low 0                        oom_kill_disable 0
 *   high 0                       under_oom 0
 *   max 1520                     oom_kill 3
 *   oom 3
 *   oom_kill 3
 *   oom_group_kill 0
 */
int mg_proc_parse_cgroup_oom(const char *buf, size_t len, uint64_t *out)
{
    static const mg_proc_key_t keys[] = {{"oom_kill", 0}};
    uint64_t v = 0;
    int rc;

    if (buf == NULL || out == NULL) {
        return -EINVAL;
    }
    rc = mg_proc_parse_keyed(buf, len, MG_PROC_KV_SPACE, -1, keys, 1, &v, NULL);
    if (rc < 0) {
        return rc;
    }
    *out = v;
    return 0;
}
