#!/usr/bin/python3
"""Headroom benchmark: how fast shedding reacts, what the sampler costs, and
what the per-request gate costs.

    /usr/bin/python3 t/bench/bench_headroom.py [--quick]

1. reaction: a fixture tree's MemAvailable is flipped below
   MemGuardMinAvailable; time until the first refused request (median of
   20 flips), at MemGuardSampleInterval 100ms and 20ms.
2. sampler CPU at 100ms on the real /proc (slabinfo included) over ~10 s,
   calm (nothing near a threshold), both of its threads, from
   /proc/<pid>/task/*/schedstat (ns on CPU; utime+stime ticks as a
   check). Target < 0.5% of one core.
3. throughput of small GETs (mod_mgtest) with the gate on (engine On, a
   threshold, sampler running) vs the module not loaded, side by side in
   the same run, alternating A/B; `ab` if installed, else a threaded
   Python client. Reported as a ratio (target >= 0.98).

Prints a table, then one JSON line.
"""
import http.client
import json
import random
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time

from t.harness.mghttpd import Httpd, status_of
from t.harness.mgfixture import ProcRoot

os.environ.setdefault("MALLOC_ARENA_MAX", "2")
QUICK = "--quick" in sys.argv


def sampler_pid(h):
    for line in h.log_lines():
        m = re.search(r"MG00315: sampler started \(pid (\d+)", line)
        if m:
            return int(m.group(1))
    raise RuntimeError("no sampler")


def reaction(interval, flips):
    root = ProcRoot("debian12-v1")
    h = Httpd(mpm="event", loglevel="info", conf="""
MemGuardEngine On
MemGuardProcRoot "%s"
MemGuardSampleInterval %s
MemGuardMinAvailable 1G
""" % (root.path, interval))
    times = []
    try:
        h.start()
        h.wait_log(r"MG00315")
        for _ in range(flips):
            assert status_of(h) == 200
            # a random phase against the sampler's clock
            time.sleep(0.05 + random.uniform(0, 0.1))
            t0 = time.monotonic()
            root.set_meminfo(MemAvailable=100 * 1024)
            while status_of(h) != 503:
                pass
            times.append((time.monotonic() - t0) * 1000)
            root.set_meminfo(MemAvailable=20 * 1024 * 1024)
            while status_of(h) != 200:
                time.sleep(0.005)
    finally:
        h.stop()
        root.cleanup()
        h.cleanup()
    return times


def cpu_ns(pid):
    """ns on CPU of every thread of pid (the sampler has two), and its
    utime + stime ticks (process-wide)."""
    sched = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
            sched += int(f.read().split()[0])
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])     # utime + stime
    return sched, ticks


def sampler_cpu(seconds):
    h = Httpd(mpm="event", loglevel="info", conf="""
MemGuardEngine On
MemGuardSampleInterval 100ms
MemGuardMinAvailable 1M
MemGuardSlabCache nfs_inode_cache 10G
""")
    try:
        h.start()
        h.wait_log(r"MG00315")
        pid = sampler_pid(h)
        time.sleep(0.5)
        s0, k0 = cpu_ns(pid)
        t0 = time.monotonic()
        time.sleep(seconds)
        s1, k1 = cpu_ns(pid)
        wall = time.monotonic() - t0
    finally:
        h.stop()
        h.cleanup()
    hz = os.sysconf("SC_CLK_TCK")
    return {"wall_s": round(wall, 2),
            "cpu_ms": round((s1 - s0) / 1e6, 2),
            "percent_of_core": round((s1 - s0) / 1e9 / wall * 100, 3),
            "ticks_percent": round((k1 - k0) / hz / wall * 100, 3)}


def load_python(port, seconds, threads=8):
    count = [0] * threads
    stop = time.monotonic() + seconds

    def run(i):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop:
            c.request("GET", "/mgtest")
            r = c.getresponse()
            r.read()
            if r.status == 200:
                count[i] += 1
        c.close()

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(count) / seconds


def load_ab(port, n):
    out = subprocess.run(["ab", "-q", "-k", "-c", "8", "-n", str(n),
                          "http://127.0.0.1:%d/mgtest" % port],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=300).stdout
    # "Length" failures are not failures: mod_mgtest's answer names the
    # child's pid, whose number of digits varies
    m = re.search(r"\(Connect: (\d+), Receive: (\d+), Length: \d+, "
                  r"Exceptions: (\d+)\)", out)
    failed = sum(int(x) for x in m.groups()) if m else 0
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    if failed or non2xx:
        raise RuntimeError("ab saw failures:\n" + out)
    return float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))


def throughput(rounds, n, seconds):
    gate = Httpd(mpm="event", loglevel="warn", conf="""
MemGuardEngine On
MemGuardSampleInterval 100ms
MemGuardMinAvailable 1M
""")
    off = Httpd(mpm="event", loglevel="warn", load_memguard=False)
    use_ab = shutil.which("ab") is not None
    res = {"gate": [], "off": []}
    try:
        gate.start()
        off.start()
        for h in (gate, off):                     # warm up
            load_ab(h.port, 2000) if use_ab else load_python(h.port, 1)
        for _ in range(rounds):
            for name, h in (("gate", gate), ("off", off)):
                res[name].append(load_ab(h.port, n) if use_ab
                                 else load_python(h.port, seconds))
    finally:
        for h in (gate, off):
            h.stop()
            h.cleanup()
    g, o = statistics.median(res["gate"]), statistics.median(res["off"])
    return {"client": "ab -k -c 8" if use_ab else "python, 8 threads",
            "rps_gate": round(g), "rps_off": round(o),
            "ratio": round(g / o, 3),
            "runs_gate": [round(x) for x in res["gate"]],
            "runs_off": [round(x) for x in res["off"]]}


def main():
    flips = 5 if QUICK else 20
    r100 = reaction("100ms", flips)
    r20 = reaction("20ms", flips)
    cpu = sampler_cpu(3 if QUICK else 10)
    tp = throughput(2 if QUICK else 5, 5000 if QUICK else 100000,
                    2 if QUICK else 5)
    result = {
        "reaction_ms_100ms": {"median": round(statistics.median(r100), 1),
                              "max": round(max(r100), 1), "flips": flips},
        "reaction_ms_20ms": {"median": round(statistics.median(r20), 1),
                             "max": round(max(r20), 1), "flips": flips},
        "sampler_cpu_100ms": cpu,
        "throughput": tp,
    }
    print("%-42s %s" % ("measure", "value"))
    print("%-42s %.1f ms (max %.1f)" % (
        "reaction, interval 100ms (median of %d)" % flips,
        result["reaction_ms_100ms"]["median"],
        result["reaction_ms_100ms"]["max"]))
    print("%-42s %.1f ms (max %.1f)" % (
        "reaction, interval 20ms (median of %d)" % flips,
        result["reaction_ms_20ms"]["median"],
        result["reaction_ms_20ms"]["max"]))
    print("%-42s %.3f %% of a core (%s ms in %s s; ticks: %.3f %%)" % (
        "sampler CPU at 100ms (target < 0.5%)", cpu["percent_of_core"],
        cpu["cpu_ms"], cpu["wall_s"], cpu["ticks_percent"]))
    print("%-42s %d vs %d req/s: ratio %.3f (%s)" % (
        "small GETs, gate on vs module off", tp["rps_gate"], tp["rps_off"],
        tp["ratio"], tp["client"]))
    result["results"] = [
        {"name": "reaction at 100ms interval (median)",
         "value": result["reaction_ms_100ms"]["median"], "unit": "ms",
         "target": "", "ok": None},
        {"name": "reaction at 20ms interval (median)",
         "value": result["reaction_ms_20ms"]["median"], "unit": "ms",
         "target": "", "ok": None},
        {"name": "sampler CPU at 100ms", "value": cpu["percent_of_core"],
         "unit": "% core", "target": "< 0.5",
         "ok": cpu["percent_of_core"] < 0.5},
        {"name": "small GETs: gate on / module off", "value": tp["ratio"],
         "unit": "ratio", "target": ">= 0.98", "ok": tp["ratio"] >= 0.98},
    ]
    print(json.dumps({"bench": "headroom", **result}))


if __name__ == "__main__":
    main()
