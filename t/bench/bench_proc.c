/*
 * bench_proc.c - what one mg_proc_sampler_read() costs on this machine,
 * with and without /proc/slabinfo (run as root to include it), and the
 * per-request statm read. Built and run by `make bench`; the last line is
 * the JSON summary tools/bench.py collects. Costs are absolute (µs), not
 * ratios: they are what the sampler's interval and the per-request path
 * pay, and are compared with the sampling interval (100 ms) there.
 *
 * The statm read is timed twice: in a loop (warm: its kernel code and
 * data in the caches) and cold, with a buffer larger than the core's
 * second-level cache written between two reads, as an application does
 * between two requests of a child; beside it, the cheapest system call
 * (getppid) timed the same way: what any system call costs cold.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mg_proc.h"

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double run(mg_proc_sampler_t *ps, int with_slab, int n)
{
    mg_sample_t s;
    uint64_t t0;
    int i;

    mg_proc_sampler_read(ps, &s, with_slab, 0); /* warm up */
    t0 = now_ns();
    for (i = 0; i < n; i++) {
        mg_proc_sampler_read(ps, &s, with_slab, (uint64_t)i);
    }
    return (double)(now_ns() - t0) / n / 1000.0;
}

/* The caches emptied (as far as writing COLD_BYTES does), then one statm
 * read (statm set) or one getppid(): its time in us, the median of n. */
#define COLD_BYTES (8U << 20)

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double cold(int fd, int statm, int n)
{
    static unsigned char junk[COLD_BYTES];
    double *t = calloc((size_t)n, sizeof(*t)), med;
    mg_proc_statm_t st;
    uint64_t t0;
    size_t k;
    int i;

    if (t == NULL) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        for (k = 0; k < sizeof(junk); k += 64) {
            junk[k]++;
        }
        t0 = now_ns();
        if (statm) {
            mg_proc_read_statm(fd, 4096, &st);
        }
        else {
            (void)getppid();
        }
        t[i] = (double)(now_ns() - t0) / 1000.0;
    }
    qsort(t, (size_t)n, sizeof(*t), cmp_double);
    med = t[n / 2];
    free(t);
    return med;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"dentry", "nfs_inode_cache"};
    static char slab[MG_PROC_SLAB_BUF_DEFAULT];
    const char *root = argc > 1 ? argv[1] : "/";
    mg_proc_sampler_conf_t conf;
    mg_proc_sampler_t *ps = calloc(1, sizeof(*ps));
    mg_proc_statm_t st;
    mg_sample_t s;
    uint64_t t0;
    int fd, i, n = 20000;
    double without, with_slab, statm, statm_cold, call_cold;

    if (ps == NULL) {
        return 1;
    }
    memset(&conf, 0, sizeof(conf));
    conf.cgroup = MG_PROC_CGROUP_AUTO;
    conf.numa = 1;
    conf.caches = names;
    conf.ncaches = 2;
    conf.slab_buf = slab;
    conf.slab_buf_size = sizeof(slab);
    conf.reopen = -1;
    if (mg_proc_sampler_open(ps, root, &conf) != 0) {
        return 1;
    }
    mg_proc_sampler_read(ps, &s, 1, 0);
    printf("root %s: valid 0x%x (meminfo psi cgroup numa slab = 1 2 4 8 16),"
           " reopen %d, sizeof(sampler) %zu\n",
           root, s.valid, ps->reopen, sizeof(*ps));
    without = run(ps, 0, n);
    with_slab = run(ps, 1, n / 10);
    printf("sampler read without slabinfo: %.1f us\n", without);
    printf("sampler read with slabinfo:    %.1f us\n", with_slab);
    mg_proc_sampler_close(ps);

    fd = mg_proc_open_pid("/", 0, "statm");
    t0 = now_ns();
    for (i = 0; i < n * 10; i++) {
        mg_proc_read_statm(fd, 4096, &st);
    }
    statm = (double)(now_ns() - t0) / (n * 10) / 1000.0;
    printf("statm read+parse:              %.2f us\n", statm);
    statm_cold = cold(fd, 1, 2000);
    call_cold = cold(fd, 0, 2000);
    printf("statm read+parse, cold:        %.2f us (getppid, cold: %.2f us)\n",
           statm_cold, call_cold);
    close(fd);
    /* The sampler's cost as a share of one core at the default 100 ms
     * interval, slabinfo read once a second (every 10th sample). */
    printf("{\"bench\": \"proc\", \"results\": ["
           "{\"name\": \"sampler read, no slabinfo\", \"value\": %.1f, "
           "\"unit\": \"us\", \"target\": \"\", \"ok\": null}, "
           "{\"name\": \"sampler read, with slabinfo\", \"value\": %.1f, "
           "\"unit\": \"us\", \"target\": \"\", \"ok\": null}, "
           "{\"name\": \"sampler CPU at 100ms (reads only)\", "
           "\"value\": %.3f, \"unit\": \"%%\", \"target\": \"< 0.5\", "
           "\"ok\": %s}, "
           "{\"name\": \"statm read+parse per request\", \"value\": %.2f, "
           "\"unit\": \"us\", \"target\": \"\", \"ok\": null}, "
           "{\"name\": \"statm read+parse, cold (median)\", \"value\": %.2f, "
           "\"unit\": \"us\", \"target\": \"\", \"ok\": null}, "
           "{\"name\": \"a system call (getppid), cold (median)\", "
           "\"value\": %.2f, \"unit\": \"us\", \"target\": \"\", "
           "\"ok\": null}]}\n",
           without, with_slab, (without * 0.9 + with_slab * 0.1) / 1000.0,
           (without * 0.9 + with_slab * 0.1) / 1000.0 < 0.5 ? "true" : "false",
           statm, statm_cold, call_cold);
    free(ps);
    return 0;
}
