/*
 * mg_proc.c - see mg_proc.h. The sampler's aggregate reader, over the
 * readers of mg_procfs.c, mg_procpid.c, mg_cgroup.c and mg_numa.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mg_log.h"
#include "mg_proc.h"

/* ------------------------------------------------------------------ */
/* the sampler                                                         */

static void mg_proc_file_init(mg_proc_file_t *f)
{
    f->fd = -1;
    f->last_rc = 0;
    f->path[0] = '\0';
}

static int mg_proc_file_set(mg_proc_file_t *f, const char *root,
                            const char *rel)
{
    mg_proc_file_init(f);
    return mg_proc_path(f->path, sizeof(f->path), root, rel);
}

static int mg_proc_file_open(mg_proc_file_t *f)
{
    int fd;

    do {
        fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return -errno;
    }
    if (f->fd >= 0) {
        close(f->fd);
    }
    f->fd = fd;
    return 0;
}

static void mg_proc_file_close(mg_proc_file_t *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
}

/*
 * Read one file of the sampler. The kept fd is re-opened when the root is
 * a fixture tree (reopen) or when a read says the file went away: a
 * removed and re-created cgroup (ENODEV), a file replaced by rename on NFS
 * (ESTALE). An open refused with EACCES keeps the old fd: that is
 * slabinfo after the sampler dropped root.
 */
static ssize_t mg_proc_file_read(mg_proc_file_t *f, int reopen, char *buf,
                                 size_t size, int seq)
{
    ssize_t n;
    int rc, tried = 0;

    if (f->path[0] == '\0') {
        return -ENOENT;
    }
    if (reopen || f->fd < 0) {
        tried = 1;
        rc = mg_proc_file_open(f);
        if (rc < 0 && rc != -EACCES && rc != -EPERM) {
            mg_proc_file_close(f);
            return rc;
        }
        if (f->fd < 0) {
            return rc;
        }
    }
    for (;;) {
        n = seq ? mg_proc_read_seq(f->fd, buf, size)
                : mg_proc_pread(f->fd, buf, size);
        if (n >= 0 || tried || (n != -ENOENT && n != -ENODEV && n != -ESTALE)) {
            return n;
        }
        tried = 1;
        rc = mg_proc_file_open(f);
        if (rc < 0) {
            mg_proc_file_close(f);
            return rc;
        }
    }
}

/* Log when a source changes state (works -> fails, or back), not on every
 * sample: the sampler runs ten times a second. */
static void mg_proc_note(mg_proc_file_t *f, int rc)
{
    if (rc == f->last_rc) {
        return;
    }
    if (rc < 0) {
        mg_log(MG_LOG_WARNING, MGLOGNO(00001) "cannot use %s: %s (error %d)",
               f->path,
               rc == -EBADMSG           ? "malformed or truncated"
               : rc == -ENOMSG          ? "a required line is missing"
               : rc == -EFBIG           ? "larger than the buffer"
               : rc == -EPROTONOSUPPORT ? "unsupported format version"
                                        : strerror(-rc),
               -rc);
    }
    else {
        mg_log(MG_LOG_NOTICE, MGLOGNO(00002) "%s readable again", f->path);
    }
    f->last_rc = rc;
}

/* Start-up scratch: mountinfo on a container host and zoneinfo on a big
 * machine outgrow the 8 KB buffer; the slabinfo buffer, when there is one,
 * is not in use yet. */
static char *mg_proc_scratch(mg_proc_sampler_t *ps)
{
    return ps->slab_buf_size > sizeof(ps->buf) ? ps->slab_buf : ps->buf;
}

static size_t mg_proc_scratch_size(mg_proc_sampler_t *ps)
{
    return ps->slab_buf_size > sizeof(ps->buf) ? ps->slab_buf_size
                                               : sizeof(ps->buf);
}

/* Point f at ROOT/dir/name and open it; a failed open is not an error
 * (it is tried again at each read). Returns 0 or mg_proc_file_set()'s
 * error. */
static int mg_proc_cg_file(mg_proc_sampler_t *ps, mg_proc_file_t *f,
                           const char *dir, const char *name)
{
    char rel[MG_PROC_PATH_MAX + 32];
    int rc;

    snprintf(rel, sizeof(rel), "%s/%s", dir, name);
    if ((rc = mg_proc_file_set(f, ps->root, rel)) < 0) {
        return rc;
    }
    (void)mg_proc_file_open(f);
    return 0;
}

/*
 * v2: a limit set on a slice (systemctl set-property system.slice
 * MemoryMax=...) binds the service below it as well, and counts its
 * siblings' memory (PostgreSQL beside httpd). Walk up from the group to
 * the first directory without memory.max (the root group has none; in v2
 * a group with the memory controller has a parent with it too, unless the
 * parent is the root), keeping at most MG_PROC_CG_ANCESTORS levels.
 */
static void mg_proc_sampler_cgroup_ancestors_open(mg_proc_sampler_t *ps)
{
    char dir[MG_PROC_PATH_MAX];
    char *slash;
    uint32_t k;

    snprintf(dir, sizeof(dir), "%s", ps->cg_loc.dir);
    while (ps->cg_nanc < MG_PROC_CG_ANCESTORS &&
           (slash = strrchr(dir, '/')) != NULL && slash != dir) {
        *slash = '\0';
        k = ps->cg_nanc;
        /* without memory.max: the root group, or no memory controller
         * up there. Files of a level not counted are closed with the
         * others by mg_proc_sampler_close(). */
        if (mg_proc_cg_file(ps, &ps->cg_anc_max[k], dir, "memory.max") < 0 ||
            ps->cg_anc_max[k].fd < 0 ||
            mg_proc_cg_file(ps, &ps->cg_anc_cur[k], dir, "memory.current") <
                0 ||
            mg_proc_cg_file(ps, &ps->cg_anc_stat[k], dir, "memory.stat") < 0) {
            break;
        }
        ps->cg_nanc++;
    }
}

static int mg_proc_sampler_cgroup_open(mg_proc_sampler_t *ps,
                                       const mg_proc_sampler_conf_t *conf)
{
    char where[2 * MG_PROC_PATH_MAX];
    static const char *const v2[] = {"memory.max", "memory.current",
                                     "memory.stat", "memory.events"};
    static const char *const v1[] = {"memory.limit_in_bytes",
                                     "memory.usage_in_bytes", "memory.stat",
                                     "memory.oom_control"};
    const mg_proc_cgroup_loc_t *l = &ps->cg_loc;
    mg_proc_file_t *files[] = {&ps->cg_limit, &ps->cg_usage, &ps->cg_stat,
                               &ps->cg_oom};
    size_t i;
    int rc;

    if (conf->cgroup == MG_PROC_CGROUP_AUTO) {
        rc = mg_proc_cgroup_locate(ps->root, mg_proc_scratch(ps),
                                   mg_proc_scratch_size(ps), &ps->cg_loc);
    }
    else {
        rc = mg_proc_cgroup_probe(ps->root, conf->cgroup_path, &ps->cg_loc);
    }
    if (rc < 0) {
        mg_log(rc == -ENODATA ? MG_LOG_INFO : MG_LOG_WARNING,
               MGLOGNO(00003) "no memory cgroup found under %s%s%s (%d)",
               ps->root, conf->cgroup == MG_PROC_CGROUP_PATH ? " at " : "",
               conf->cgroup == MG_PROC_CGROUP_PATH ? conf->cgroup_path : "",
               -rc);
        return rc;
    }
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        rc = mg_proc_cg_file(ps, files[i], l->dir,
                             l->version == 2 ? v2[i] : v1[i]);
        if (rc < 0) {
            return rc;
        }
    }
    ps->cg_version = l->version;
    if (l->version == 2) {
        mg_proc_sampler_cgroup_ancestors_open(ps);
    }
    /* joined as the readers join it: the root "/" and the directory
     * "/sys/fs/cgroup/..." make one slash, not two */
    if (mg_proc_path(where, sizeof(where), ps->root, l->dir) < 0) {
        snprintf(where, sizeof(where), "%s", l->dir);
    }
    mg_log(MG_LOG_INFO,
           MGLOGNO(00004) "memory cgroup v%u at %s (%u ancestor(s) with "
                          "memory.max watched too)",
           (unsigned)l->version, where, (unsigned)ps->cg_nanc);
    return 0;
}

static int mg_proc_sampler_open_all(mg_proc_sampler_t *ps, const char *root,
                                    const mg_proc_sampler_conf_t *conf);

int mg_proc_sampler_open(mg_proc_sampler_t *ps, const char *root,
                         const mg_proc_sampler_conf_t *conf)
{
    int rc = mg_proc_sampler_open_all(ps, root, conf);

    if (rc < 0 && ps != NULL) {
        mg_proc_sampler_close(ps);
    }
    return rc;
}

static int mg_proc_sampler_open_all(mg_proc_sampler_t *ps, const char *root,
                                    const mg_proc_sampler_conf_t *conf)
{
    mg_proc_sampler_conf_t defconf;
    size_t rl, i;
    long pg;
    ssize_t n;
    int rc;

    if (ps == NULL) {
        return -EINVAL;
    }
    memset(ps, 0, sizeof(*ps));
    mg_proc_file_init(&ps->meminfo);
    mg_proc_file_init(&ps->psi);
    mg_proc_file_init(&ps->cg_limit);
    mg_proc_file_init(&ps->cg_usage);
    mg_proc_file_init(&ps->cg_stat);
    mg_proc_file_init(&ps->cg_oom);
    for (i = 0; i < MG_PROC_CG_ANCESTORS; i++) {
        mg_proc_file_init(&ps->cg_anc_max[i]);
        mg_proc_file_init(&ps->cg_anc_cur[i]);
        mg_proc_file_init(&ps->cg_anc_stat[i]);
    }
    mg_proc_file_init(&ps->slab);
    for (i = 0; i < MG_SAMPLE_MAX_NODES; i++) {
        mg_proc_file_init(&ps->node[i]);
    }
    if (root == NULL) {
        return -EINVAL;
    }
    if (conf == NULL) {
        memset(&defconf, 0, sizeof(defconf));
        defconf.cgroup = MG_PROC_CGROUP_AUTO;
        defconf.numa = 1;
        defconf.reopen = -1;
        conf = &defconf;
    }
    if (conf->ncaches > MG_SAMPLE_MAX_CACHES ||
        (conf->ncaches > 0 && conf->caches == NULL) ||
        (conf->cgroup == MG_PROC_CGROUP_PATH && conf->cgroup_path == NULL) ||
        (conf->slab_buf != NULL && conf->slab_buf_size < 2)) {
        return -EINVAL;
    }
    rl = strlen(root);
    if (rl >= sizeof(ps->root)) {
        return -ENAMETOOLONG;
    }
    memcpy(ps->root, root, rl + 1);
    /* A root other than "/" is a test tree that tests rewrite: re-open
     * so that a file replaced by rename(2) is seen (see mg_proc.h). */
    if (conf->reopen < 0) {
        ps->reopen = !(rl == 0 || strcmp(root, "/") == 0);
    }
    else {
        ps->reopen = conf->reopen != 0;
    }
    pg = sysconf(_SC_PAGESIZE);
    ps->page_size =
        conf->page_size ? conf->page_size : (pg > 0 ? (uint64_t)pg : 4096);
    for (i = 0; i < conf->ncaches; i++) {
        size_t nl = strlen(conf->caches[i]);
        if (nl == 0 || nl >= MG_SAMPLE_NAME_LEN) {
            return -EINVAL;
        }
        memcpy(ps->cache_names[i], conf->caches[i], nl + 1);
    }
    ps->ncaches = conf->ncaches;
    if (conf->slab_buf != NULL) {
        ps->slab_buf = conf->slab_buf;
        ps->slab_buf_size = conf->slab_buf_size;
    }

    if ((rc = mg_proc_file_set(&ps->meminfo, root, "proc/meminfo")) < 0 ||
        (rc = mg_proc_file_set(&ps->psi, root, "proc/pressure/memory")) < 0) {
        return rc;
    }
    (void)mg_proc_file_open(&ps->meminfo);
    (void)mg_proc_file_open(&ps->psi);

    /* Kernels before 3.14 need the low watermark for the MemAvailable
     * estimate; watermarks move only with memory hotplug or a sysctl, so
     * read them once. */
    n = mg_proc_file_read(&ps->meminfo, 0, ps->buf, sizeof(ps->buf), 0);
    if (n > 0 && memmem(ps->buf, (size_t)n, "\nMemAvailable:", 14) == NULL) {
        mg_sample_t tmp;
        memset(&tmp, 0, sizeof(tmp));
        (void)mg_proc_parse_meminfo(ps->buf, (size_t)n, 0, &tmp);
        ps->low_wmark =
            mg_proc_low_wmark(root, tmp.mem_total, ps->page_size,
                              mg_proc_scratch(ps), mg_proc_scratch_size(ps));
        mg_log(MG_LOG_INFO,
               MGLOGNO(00005) "no MemAvailable in %s: estimating it with a "
                              "low watermark of %llu bytes",
               ps->meminfo.path, (unsigned long long)ps->low_wmark);
    }

    if (conf->cgroup != MG_PROC_CGROUP_OFF) {
        (void)mg_proc_sampler_cgroup_open(ps, conf);
    }
    if (conf->numa) {
        uint32_t nn = 0, skipped = 0;
        rc = mg_proc_numa_nodes(root, ps->buf, sizeof(ps->buf), ps->node_ids,
                                MG_SAMPLE_MAX_NODES, &nn, &skipped);
        if (rc == 0) {
            for (i = 0; i < nn; i++) {
                char rel[64];
                snprintf(rel, sizeof(rel),
                         "sys/devices/system/node/node%d/meminfo",
                         (int)ps->node_ids[i]);
                if ((rc = mg_proc_file_set(&ps->node[i], root, rel)) < 0) {
                    return rc;
                }
                (void)mg_proc_file_open(&ps->node[i]);
            }
            ps->nnodes = nn;
            ps->nodes_skipped = skipped;
            if (skipped > 0) {
                mg_log(MG_LOG_WARNING,
                       MGLOGNO(00006) "%u allowed NUMA nodes beyond the "
                                      "first %d are not watched",
                       (unsigned)skipped, MG_SAMPLE_MAX_NODES);
            }
        }
    }
    if (conf->slab_buf != NULL) {
        if ((rc = mg_proc_file_set(&ps->slab, root, "proc/slabinfo")) < 0) {
            return rc;
        }
        rc = mg_proc_file_open(&ps->slab);
        if (rc < 0) {
            mg_log(MG_LOG_WARNING,
                   MGLOGNO(00007) "cannot open %s (%s): slab caches are not "
                                  "watched; it must be opened as root",
                   ps->slab.path, strerror(-rc));
        }
    }
    return 0;
}

static int mg_proc_read_value(mg_proc_sampler_t *ps, mg_proc_file_t *f,
                              uint64_t *v)
{
    ssize_t n = mg_proc_file_read(f, ps->reopen, ps->buf, sizeof(ps->buf), 0);

    if (n < 0) {
        return (int)n;
    }
    return mg_proc_parse_cgroup_value(ps->buf, (size_t)n, v);
}

static int mg_proc_read_cgstat(mg_proc_sampler_t *ps, mg_proc_file_t *f,
                               mg_proc_cgstat_t *st)
{
    ssize_t n = mg_proc_file_read(f, ps->reopen, ps->buf, sizeof(ps->buf), 0);

    if (n < 0) {
        return (int)n;
    }
    return mg_proc_parse_cgroup_stat(ps->buf, (size_t)n, ps->cg_version, st);
}

/* One level's figures; the working set is usage less inactive file pages,
 * floored at 0. */
static void mg_proc_cgroup_fill(mg_sample_t *out, uint64_t limit,
                                uint64_t usage, uint64_t inactive_file)
{
    out->cgroup_limit = limit;
    out->cgroup_usage = usage;
    out->cgroup_inactive_file = inactive_file;
    out->cgroup_working_set = usage > inactive_file ? usage - inactive_file : 0;
}

/*
 * v2 ancestors: the level with the least room (max - current) decides, as
 * the kernel's OOM killer acts at whichever level runs out first. Its
 * memory.stat gives that level's inactive file pages. An ancestor whose
 * files cannot be read (or parsed) is left out; the group's own figures
 * and OOM kill count stay.
 */
static void mg_proc_sampler_cgroup_ancestors(mg_proc_sampler_t *ps,
                                             mg_sample_t *out)
{
    uint64_t best_room, max, cur, room;
    uint32_t i;
    mg_proc_cgstat_t st;
    int rc;

    best_room = out->cgroup_limit == UINT64_MAX ? UINT64_MAX
                : out->cgroup_limit > out->cgroup_usage
                    ? out->cgroup_limit - out->cgroup_usage
                    : 0;
    for (i = 0; i < ps->cg_nanc; i++) {
        rc = mg_proc_read_value(ps, &ps->cg_anc_max[i], &max);
        mg_proc_note(&ps->cg_anc_max[i], rc);
        if (rc < 0 || max == UINT64_MAX) {
            continue;
        }
        rc = mg_proc_read_value(ps, &ps->cg_anc_cur[i], &cur);
        mg_proc_note(&ps->cg_anc_cur[i], rc);
        if (rc < 0) {
            continue;
        }
        room = max > cur ? max - cur : 0;
        if (room >= best_room) {
            continue;
        }
        rc = mg_proc_read_cgstat(ps, &ps->cg_anc_stat[i], &st);
        mg_proc_note(&ps->cg_anc_stat[i], rc);
        if (rc < 0) {
            continue;
        }
        best_room = room;
        out->cgroup_level = i + 1;
        mg_proc_cgroup_fill(out, max, cur, st.inactive_file);
    }
}

static int mg_proc_sampler_cgroup(mg_proc_sampler_t *ps, mg_sample_t *out)
{
    mg_proc_cgstat_t st;
    uint64_t limit, usage, oom = 0;
    ssize_t n;
    int rc;

    /* The root group of v2 has no memory.max: no limit of its own. */
    rc = mg_proc_read_value(ps, &ps->cg_limit, &limit);
    if (rc == -ENOENT && ps->cg_version == 2) {
        limit = UINT64_MAX;
        rc = 0;
    }
    mg_proc_note(&ps->cg_limit, rc);
    if (rc < 0) {
        return rc;
    }
    rc = mg_proc_read_value(ps, &ps->cg_usage, &usage);
    mg_proc_note(&ps->cg_usage, rc);
    if (rc < 0) {
        return rc;
    }
    rc = mg_proc_read_cgstat(ps, &ps->cg_stat, &st);
    mg_proc_note(&ps->cg_stat, rc);
    if (rc < 0) {
        return rc;
    }
    n = mg_proc_file_read(&ps->cg_oom, ps->reopen, ps->buf, sizeof(ps->buf), 0);
    rc = n < 0 ? (int)n : mg_proc_parse_cgroup_oom(ps->buf, (size_t)n, &oom);
    mg_proc_note(&ps->cg_oom, rc);
    if (rc < 0) {
        return rc;
    }
    /* v1: a group without a limit of its own is still bound by its
     * ancestors' (systemd slices); hierarchical_memory_limit has it. */
    mg_proc_cgroup_fill(
        out, limit < st.hierarchical_limit ? limit : st.hierarchical_limit,
        usage, st.inactive_file);
    out->cgroup_oom_kills = oom;
    out->cgroup_version = ps->cg_version;
    out->cgroup_level = 0;
    mg_proc_sampler_cgroup_ancestors(ps, out);
    return 0;
}

int mg_proc_sampler_read_slab(mg_proc_sampler_t *ps, mg_proc_slab_result_t *res,
                              uint64_t now_us)
{
    mg_sample_t *tmp;
    ssize_t n;
    int rc;

    if (ps == NULL || res == NULL || ps->slab_buf == NULL) {
        return 0;
    }
    memset(res, 0, sizeof(*res));
    res->taken_us = now_us;
    n = mg_proc_file_read(&ps->slab, ps->reopen, ps->slab_buf,
                          ps->slab_buf_size, 1);
    if (n < 0) {
        mg_proc_note(&ps->slab, (int)n);
        return 1;
    }
    /* mg_proc_slabinfo_fill() writes into a sample: a scratch one that
     * nothing else of ps touches */
    tmp = &ps->slab_scratch;
    memset(tmp, 0, sizeof(*tmp));
    rc = mg_proc_slabinfo_fill(
        ps->slab_buf, (size_t)n,
        (const char(*)[MG_SAMPLE_NAME_LEN])ps->cache_names, ps->ncaches, tmp);
    mg_proc_note(&ps->slab, rc);
    if (rc == 0) {
        res->valid = 1;
        res->ncaches = tmp->ncaches;
        res->ntop = tmp->ntop;
        memcpy(res->caches, tmp->caches, sizeof(res->caches));
        memcpy(res->top, tmp->top, sizeof(res->top));
    }
    return 1;
}

void mg_proc_sample_set_slab(mg_sample_t *out, const mg_proc_slab_result_t *res)
{
    if (res->valid) {
        out->valid |= MG_SRC_SLABINFO;
        out->slab_taken_us = res->taken_us;
        out->ncaches = res->ncaches;
        out->ntop = res->ntop;
        memcpy(out->caches, res->caches, sizeof(out->caches));
        memcpy(out->top, res->top, sizeof(out->top));
    }
    else {
        out->valid &= ~(uint32_t)MG_SRC_SLABINFO;
        out->slab_taken_us = res->taken_us;
        out->ncaches = out->ntop = 0;
        memset(out->caches, 0, sizeof(out->caches));
        memset(out->top, 0, sizeof(out->top));
    }
}

int mg_proc_sampler_read(mg_proc_sampler_t *ps, mg_sample_t *out,
                         int with_slabinfo, uint64_t now_us)
{
    mg_proc_psi_t psi = {0};
    ssize_t n;
    uint32_t i, k;
    int rc;

    if (ps == NULL || out == NULL) {
        return -EINVAL;
    }
    memset(out, 0, sizeof(*out));
    out->taken_us = now_us;
    out->seq = ++ps->seq;

    n = mg_proc_file_read(&ps->meminfo, ps->reopen, ps->buf, sizeof(ps->buf),
                          0);
    rc = n < 0 ? (int)n
               : mg_proc_parse_meminfo(ps->buf, (size_t)n, ps->low_wmark, out);
    mg_proc_note(&ps->meminfo, rc);
    if (rc == 0) {
        out->valid |= MG_SRC_MEMINFO;
    }

    /* PSI: a missing file (no CONFIG_PSI, kernel < 4.20) and EOPNOTSUPP
     * (built in but booted with psi=0: the file exists, reads fail) both
     * mean "not available", which is not worth a warning. */
    n = mg_proc_file_read(&ps->psi, ps->reopen, ps->buf, sizeof(ps->buf), 0);
    if (n == -ENOENT || n == -EOPNOTSUPP) {
        if (ps->psi_state != -ENODATA) {
            mg_log(MG_LOG_INFO, MGLOGNO(00008) "%s: PSI not available (%s)",
                   ps->psi.path, strerror((int)-n));
        }
        ps->psi_state = -ENODATA;
        ps->psi.last_rc = 0;
    }
    else {
        rc = n < 0 ? (int)n : mg_proc_parse_psi(ps->buf, (size_t)n, &psi);
        mg_proc_note(&ps->psi, rc);
        ps->psi_state = rc == 0 ? 1 : rc;
        if (rc == 0) {
            out->psi_some_avg10 = psi.some.avg10;
            out->psi_some_avg60 = psi.some.avg60;
            out->psi_some_avg300 = psi.some.avg300;
            out->psi_some_total_us = psi.some.total_us;
            out->psi_full_avg10 = psi.full.avg10;
            out->psi_full_avg60 = psi.full.avg60;
            out->psi_full_avg300 = psi.full.avg300;
            out->psi_full_total_us = psi.full.total_us;
            out->valid |= MG_SRC_PSI;
        }
    }

    if (ps->cg_version != 0) {
        if (mg_proc_sampler_cgroup(ps, out) == 0) {
            out->valid |= MG_SRC_CGROUP;
        }
        else {
            out->cgroup_version = 0;
            out->cgroup_limit = out->cgroup_usage = 0;
            out->cgroup_inactive_file = out->cgroup_working_set = 0;
            out->cgroup_oom_kills = 0;
        }
    }

    /* NUMA is valid when every watched node was read: a verdict on some
     * of the nodes could miss the full one. */
    if (ps->nnodes > 0) {
        for (i = 0, k = 0; i < ps->nnodes; i++) {
            n = mg_proc_file_read(&ps->node[i], ps->reopen, ps->buf,
                                  sizeof(ps->buf), 0);
            rc = n < 0 ? (int)n
                       : mg_proc_parse_node_meminfo(ps->buf, (size_t)n,
                                                    ps->node_ids[i],
                                                    &out->nodes[i]);
            mg_proc_note(&ps->node[i], rc);
            if (rc == 0) {
                k++;
            }
        }
        if (k == ps->nnodes) {
            out->nnodes = ps->nnodes;
            out->valid |= MG_SRC_NUMA;
        }
        else {
            memset(out->nodes, 0, sizeof(out->nodes));
        }
    }

    if (with_slabinfo) {
        (void)mg_proc_sampler_read_slab(ps, &ps->slab_last, now_us);
    }
    mg_proc_sample_set_slab(out, &ps->slab_last);
    return 0;
}

void mg_proc_sampler_close(mg_proc_sampler_t *ps)
{
    uint32_t i;

    if (ps == NULL) {
        return;
    }
    mg_proc_file_close(&ps->meminfo);
    mg_proc_file_close(&ps->psi);
    mg_proc_file_close(&ps->cg_limit);
    mg_proc_file_close(&ps->cg_usage);
    mg_proc_file_close(&ps->cg_stat);
    mg_proc_file_close(&ps->cg_oom);
    for (i = 0; i < MG_PROC_CG_ANCESTORS; i++) {
        mg_proc_file_close(&ps->cg_anc_max[i]);
        mg_proc_file_close(&ps->cg_anc_cur[i]);
        mg_proc_file_close(&ps->cg_anc_stat[i]);
    }
    ps->cg_nanc = 0;
    mg_proc_file_close(&ps->slab);
    for (i = 0; i < MG_SAMPLE_MAX_NODES; i++) {
        mg_proc_file_close(&ps->node[i]);
    }
}
