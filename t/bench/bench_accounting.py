#!/usr/bin/python3
"""bench_accounting: what per-request memory accounting costs.

1. Small-request throughput of two private prefork httpds side by side in
   one run: one with mod_memguard accounting every request (MemGuardEngine
   On, child limits set: each request to mod_mgtest's handler reads
   /proc/self/statm once, before the headers when the whole response is
   in hand, else at its end; its start is the size the previous request
   left), one without the module loaded.
   Rounds alternate between them; the figure is the median of the per-round
   ratios (target >= 0.98).
2. The price of one statm read: pread(2) of a kept-open /proc/self/statm fd
   in a tight ctypes loop, minus the same loop around a trivial libc call
   (the ctypes overhead); what is left is the kernel's work, which the
   module pays per read (its parser adds a few tens of ns).

Prints a human table, then one JSON line:
{"bench": "accounting", "results": [{"name", "value", "unit", "target",
"ok"}]}.

    /usr/bin/python3 t/bench/bench_accounting.py [--rounds N] [--requests N]
"""
import argparse
import ctypes
import http.client
import json
import os
import statistics
import sys
import time

from t.harness.clients import run_clients
from t.harness.mghttpd import Httpd

ON = """
MemGuardEngine On
MemGuardChildMetric rss
MemGuardChildSoftLimit 1G
"""


def run_round(h, n, clients=2):
    """Requests per second for n small GETs over `clients` keep-alive
    connections."""
    per = n // clients
    errors = []

    def client(_):
        c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
        try:
            for _ in range(per):
                c.request("GET", "/mgtest")
                r = c.getresponse()
                r.read()
                if r.status != 200:
                    errors.append(r.status)
        finally:
            c.close()

    dt = run_clients(client, clients)
    if errors:
        raise RuntimeError("errors: %r" % errors[:5])
    return per * clients / dt


def statm_cost(loops=200000):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.pread.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t,
                           ctypes.c_long]
    libc.pread.restype = ctypes.c_ssize_t
    buf = ctypes.create_string_buffer(128)
    fd = os.open("/proc/self/statm", os.O_RDONLY)
    pread, getppid = libc.pread, libc.getppid
    try:
        best_read = best_base = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(loops):
                pread(fd, buf, 127, 0)
            best_read = min(best_read, (time.perf_counter() - t0) / loops)
            t0 = time.perf_counter()
            for _ in range(loops):
                getppid()
            best_base = min(best_base, (time.perf_counter() - t0) / loops)
    finally:
        os.close(fd)
    return best_read * 1e6, best_base * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--requests", type=int, default=3000)
    args = ap.parse_args()

    with_mod = Httpd(mpm="prefork", conf=ON, loglevel="warn")
    without = Httpd(mpm="prefork", conf="", loglevel="warn",
                    load_memguard=False)
    ratios, on_rps, off_rps = [], [], []
    try:
        with_mod.start()
        without.start()
        run_round(with_mod, 500)        # warm both: children, caches
        run_round(without, 500)
        for i in range(args.rounds):
            # alternate which goes first, so drift hits both alike
            if i % 2 == 0:
                a = run_round(with_mod, args.requests)
                b = run_round(without, args.requests)
            else:
                b = run_round(without, args.requests)
                a = run_round(with_mod, args.requests)
            on_rps.append(a)
            off_rps.append(b)
            ratios.append(a / b)
        notes = [x for x in with_mod.access_lines()[-5:] if "rss=" in x]
        assert notes and "rss=-" not in notes[-1], \
            "accounting did not run: %r" % notes[-1:]
    finally:
        with_mod.stop()
        without.stop()
        with_mod.cleanup()
        without.cleanup()

    ratio = statistics.median(ratios)
    read_us, base_us = statm_cost()
    kernel_us = max(read_us - base_us, 0.0)

    print("%-44s %12s" % ("figure", "value"))
    print("%-44s %12.0f" % ("requests/s, module off (median)",
                            statistics.median(off_rps)))
    print("%-44s %12.0f" % ("requests/s, accounting on (median)",
                            statistics.median(on_rps)))
    print("%-44s %12.3f" % ("ratio on/off (median of %d rounds)"
                            % len(ratios), ratio))
    print("%-44s %12s" % ("per-round ratios",
                          " ".join("%.3f" % r for r in ratios)))
    print("%-44s %12.2f" % ("statm pread via ctypes, us", read_us))
    print("%-44s %12.2f" % ("ctypes baseline (getppid), us", base_us))
    print("%-44s %12.2f" % ("statm read, kernel part, us", kernel_us))
    results = [
        {"name": "throughput ratio accounting on / module off",
         "value": round(ratio, 4), "unit": "x", "target": ">= 0.98",
         "ok": ratio >= 0.98},
        {"name": "statm read per call (pread, kernel part)",
         "value": round(kernel_us, 3), "unit": "us", "target": "<= 5",
         "ok": kernel_us <= 5.0},
        
    ]
    print(json.dumps({"bench": "accounting", "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
