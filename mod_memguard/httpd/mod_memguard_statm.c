/*
 * mod_memguard_statm.c - this process's size, from /proc/self/statm.
 *
 * Each child opens the file once, in child_init (memguard_statm_open(),
 * called by the accounting's child_init), and keeps the fd; a read is ONE
 * pread (about 1.3 us): of the resident size alone
 * (memguard_statm_rss(), mg_proc_read_statm_rss) where the accounting
 * reads it at a request's end and recycling before the response headers
 * and when a child is marked; of the whole line (memguard_statm_read())
 * for admission's call ceiling, which needs the data size.
 *
 * Why /proc/self and not MemGuardProcRoot: the fixture roots describe the
 * machine (meminfo, cgroups, slab) so tests can fake pressure; a request's
 * own size cannot be faked meaningfully, and recycling acts on the real
 * process. Tests grow children for real (mod_mgtest's alloc=N).
 */
#include <unistd.h>

#include "mod_memguard_statm.h"

static int statm_fd = -1;           /* /proc/self/statm of this child */
static apr_uint64_t statm_pagesize; /* bytes */
/* This process's size at the end of its last request (0: not read yet).
 * Between two requests an httpd child does nothing that allocates, so it
 * stands for the size at the start of the next one: a request costs one
 * pread, at its end. Threads of a threaded MPM share it; their deltas are
 * process-wide anyway. */
static apr_uint64_t statm_last_rss;

int memguard_statm_rss(apr_uint64_t *rss)
{
    uint64_t res;

    if (statm_fd < 0 ||
        mg_proc_read_statm_rss(statm_fd, statm_pagesize, &res) != 0) {
        return -1;
    }
    *rss = res;
    __atomic_store_n(&statm_last_rss, res, __ATOMIC_RELAXED);
    return 0;
}

void memguard_statm_remember(apr_uint64_t rss)
{
    __atomic_store_n(&statm_last_rss, rss, __ATOMIC_RELAXED);
}

apr_uint64_t memguard_statm_last_rss(void)
{
    return __atomic_load_n(&statm_last_rss, __ATOMIC_RELAXED);
}

int memguard_statm_read(mg_proc_statm_t *st)
{
    if (statm_fd < 0 || mg_proc_read_statm(statm_fd, statm_pagesize, st) != 0) {
        return -1;
    }
    return 0;
}

static apr_status_t statm_close(void *data)
{
    (void)data;
    if (statm_fd >= 0) {
        close(statm_fd);
        statm_fd = -1;
    }
    return APR_SUCCESS;
}

/*
 * From child_init, which runs in the child itself, so /proc/self is this
 * process from now on (an fd opened in the parent would keep describing
 * the parent).
 */
int memguard_statm_open(apr_pool_t *p, server_rec *s)
{
    long ps = sysconf(_SC_PAGESIZE);
    int fd;

    statm_pagesize = ps > 0 ? (apr_uint64_t)ps : 4096u;
    fd = mg_proc_open_pid("/", 0, "statm");
    if (fd < 0) {
        /* A /proc without statm (not Linux, or hidden by a sandbox):
         * nothing to measure; recycling then works from the sampler's
         * figures and the response cap's marks only. */
        ap_log_error(
            APLOG_MARK, APLOG_NOTICE, -fd, s,
            MGLOGNO(00410) "cannot open /proc/self/statm: per-request memory "
                           "accounting is off in this child");
        return -1;
    }
    statm_fd = fd;
    apr_pool_cleanup_register(p, NULL, statm_close, apr_pool_cleanup_null);
    return 0;
}
