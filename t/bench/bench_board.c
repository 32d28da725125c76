/*
 * bench_board.c - what the board's per-request writes cost, alone and
 * when two processes on two CPUs write at once (issue 16).
 *
 * One small XML-RPC call writes, through the core (mg_board.c):
 *   mg_board_request_begin      its child's slot (inflight + 1)
 *   mg_board_method_get         reads the method's entry (a lookup)
 *   mg_board_verdict_load       reads the verdict word (twice: the gate
 *                               in header_parser and again by method)
 *   mg_board_request_end        its slot: inflight - 1, requests + 1, rss,
 *                               last delta, peak (a CAS loop)
 *   mg_board_method_record      the METHOD's entry: calls, bytes in and
 *                               out, delta count and sum (fetch-adds),
 *                               delta max (a CAS loop), a histogram bucket
 * The slot's line is written by one child only; the method entry's lines
 * are written by every child that serves that method: with children on
 * different CPUs each fetch-add must first take the line from the other
 * CPU's cache.
 *
 * Three runs of the same per-request sequence, ns per request:
 *   alone    one process;
 *   shared   two processes at once, pinned to CPUs 0 and 1, their own
 *            slots, the SAME method (what 2 children serving getBuild do);
 *   apart    the same, each with a method of its own (what the method
 *            writes would cost if each child kept its own counters).
 * shared - apart is the price of the shared method lines. On a machine
 * with one CPU the two-process runs are skipped. Best of 5 for each.
 * The last line is the JSON summary tools/bench.py collects.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mg_board.h"

#define BENCH_SLOTS 4
#define BENCH_METHODS 64
#define BENCH_ITER 2000000
#define BENCH_TRIES 5

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One request's board traffic, as mod_memguard_account.c,
 * mod_memguard_gate.c and mod_memguard_xmlrpc.c do it. */
static uint64_t one_request(mg_board_t *b, uint32_t slot, const char *method,
                            uint64_t i)
{
    uint32_t m;
    uint64_t v;

    mg_board_request_begin(b, slot, 14000000u);
    v = mg_board_verdict_load(b);
    m = mg_board_method_get(b, method, strlen(method));
    v += mg_board_verdict_load(b);
    mg_board_request_end(b, slot, 14000000u + (i & 4095u) * 4096u,
                         (int64_t)(i & 7u) * 4096);
    mg_board_method_record(b, m, 138, 400, (int64_t)(i & 7u) * 4096);
    return v;
}

static void pin(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET((size_t)cpu, &set);
    (void)sched_setaffinity(0, sizeof(set), &set);
}

/* ns per request of `procs` processes (1 or 2) running at once. */
static double run(mg_board_t *b, int procs, int same_method,
                  volatile uint32_t *go)
{
    pid_t kids[2];
    uint64_t t0;
    int k, status;

    *go = 0;
    for (k = 0; k < procs; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            const char *method =
                same_method ? "getBuild" : (k == 0 ? "getBuild" : "getTag");
            volatile uint64_t sink = 0;
            uint64_t i;

            pin(k);
            while (!__atomic_load_n(go, __ATOMIC_ACQUIRE)) {
                sched_yield();
            }
            for (i = 0; i < BENCH_ITER; i++) {
                sink += one_request(b, (uint32_t)k, method, i);
            }
            _exit(sink == 1 ? 1 : 0);
        }
        if (kids[k] < 0) {
            perror("fork");
            exit(1);
        }
    }
    usleep(20000);
    t0 = now_ns();
    __atomic_store_n(go, 1, __ATOMIC_RELEASE);
    for (k = 0; k < procs; k++) {
        waitpid(kids[k], &status, 0);
    }
    /* wall time per request of one process: both run side by side */
    return (double)(now_ns() - t0) / BENCH_ITER;
}

static double best(mg_board_t *b, int procs, int same, volatile uint32_t *go)
{
    double m = 1e18;
    int t;

    for (t = 0; t < BENCH_TRIES; t++) {
        double v = run(b, procs, same, go);
        if (v < m) {
            m = v;
        }
    }
    return m;
}

int main(void)
{
    size_t size = mg_board_size(BENCH_SLOTS, BENCH_METHODS);
    void *mem = mmap(NULL, size + 4096, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    volatile uint32_t *go;
    mg_board_t *b;
    double alone, shared = -1, apart = -1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    if (mem == MAP_FAILED ||
        mg_board_init(mem, size, BENCH_SLOTS, BENCH_METHODS, &b) != 0) {
        fprintf(stderr, "cannot set up a board\n");
        return 1;
    }
    go = (volatile uint32_t *)((char *)mem + size);
    mg_board_slot_start(b, 0, 1, 1);
    mg_board_slot_start(b, 1, 2, 1);
    alone = best(b, 1, 1, go);
    if (ncpu >= 2) {
        shared = best(b, 2, 1, go);
        apart = best(b, 2, 0, go);
    }
    printf("board writes per request (best of %d, %d requests):\n", BENCH_TRIES,
           BENCH_ITER);
    printf("  one process                          %7.1f ns\n", alone);
    if (ncpu >= 2) {
        printf("  two processes, the same method       %7.1f ns\n", shared);
        printf("  two processes, a method each         %7.1f ns\n", apart);
    }
    printf("{\"bench\": \"board\", \"results\": ["
           "{\"name\": \"board writes per request, alone\", \"value\": %.1f, "
           "\"unit\": \"ns\", \"target\": \"\", \"ok\": null}",
           alone);
    if (ncpu >= 2) {
        printf(", {\"name\": \"board writes, 2 CPUs, same method\", "
               "\"value\": %.1f, \"unit\": \"ns\", \"target\": \"\", "
               "\"ok\": null}, "
               "{\"name\": \"board writes, 2 CPUs, a method each\", "
               "\"value\": %.1f, \"unit\": \"ns\", \"target\": \"\", "
               "\"ok\": null}",
               shared, apart);
    }
    printf("]}\n");
    munmap(mem, size + 4096);
    return 0;
}
