#!/usr/bin/python3
"""probe_overhead.py - where the module's per-request cost goes: the
evidence behind bench_overhead.py's figures (issue 16). Not part of
`make bench` (it needs strace, perf and valgrind, and takes minutes).

The servers are bench_overhead.py's (the same configuration text, the
module loaded or not, the echo application, the 512-byte file), but with
ONE prefork child, so that one process serves every request:

  syscalls   strace -f -c attached to that child while `ab -k -c 1`
             sends exactly --requests requests on one connection: system
             calls per request by name, module off and on; and a full
             trace of --trace requests (strace -f -tt) to show one
             request's sequence.
  perf       perf record (cpu-clock: these VMs have no hardware counters)
             on the child under `ab -k -c 1` for --seconds: the top
             symbols, module off and on.
  callgrind  httpd -X (one process) under valgrind --tool=callgrind,
             --requests requests, instructions per request inclusive of
             each of the module's hooks, filters and helpers, and of the
             libxml2 / APR functions they call. --cache-sim adds
             callgrind's cache simulation with a 256 KB last level: the
             lines a request misses where caches are emptied between
             requests (a busy server's), module off and on.
  load       bench_overhead.py's servers as they are there (prefork,
             its children, `ab -k -c 8`), loaded one at a time for
             --seconds, --repeat times each (off,on then on,off), while `perf record -a`
             (cpu-clock) samples the machine: each server's CPU time per
             request by library (the kernel apart), module off and on,
             and the module's own functions. What the module's code and
             its system call cost under load, apart from what it does to
             the code around it (caches): with these machines' noise a
             library's figure moves by several us between runs, the
             module's own by well under one.

Needs root (strace/perf attach to a child running as httpd's User).

    t/bench/probe_overhead.py [syscalls|perf|callgrind|load ...] [--cache-sim]
        [--workload xmlrpc|static] [--requests 1000] [--seconds 10]
        [--repeat 3] [--conf FILE] [--out DIR]
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time


from t.bench import bench_overhead as bo
from t.harness.mghttpd import Httpd

ONE_CHILD = """
MaxKeepAliveRequests 0
StartServers 1
MinSpareServers 1
MaxSpareServers 1
ServerLimit 1
MaxRequestWorkers 1
"""


def server(load):
    h = Httpd(mpm="prefork", loglevel="warn", load_memguard=load,
              extra_top=ONE_CHILD)
    h.conf = bo.module_conf()
    with open(h.path("hub.wsgi"), "w") as f:
        f.write(bo.ECHO_APP)
    with open(h.path("htdocs", bo.STATIC_NAME), "w") as f:
        f.write(("0123456789abcdef" * 32)[:bo.STATIC_SIZE - 1] + "\n")
    return h


def url(h, wl):
    return h.url + ("/kojihub" if wl == "xmlrpc" else "/" + bo.STATIC_NAME)


def the_child(h):
    kids = [p for p in h.children() if bo.comm(p) != "mg-sampler"]
    if len(kids) != 1:
        raise RuntimeError("expected one worker child, found %s" % kids)
    return kids[0]


def load(h, wl, body, n=None, seconds=None):
    r = bo.ab(url(h, wl), seconds, 1, body if wl == "xmlrpc" else None,
              requests=n)
    if r["keepalive"] != r["complete"] or r["failed"] or r["non2xx"]:
        raise RuntimeError(r["output"][-1500:])
    return r


def attach(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # attached (strace, perf print nothing reliable)
    return p


def detach(p):
    p.send_signal(signal.SIGINT)
    return p.communicate(timeout=120)[1]


def warm_servers(args, body):
    """For the module off, then on: (side, a started httpd that has served
    300 requests of the workload, its one child); stopped after."""
    for side, loadmod in (("off", False), ("on", True)):
        h = server(loadmod)
        h.start()
        try:
            load(h, args.workload, body, n=300)
            yield side, h, the_child(h)
        finally:
            h.stop()
            h.cleanup()


def syscalls(args, body, out):
    """{(side): {syscall: calls per request}} and a trace per side."""
    table = {}
    for side, h, child in warm_servers(args, body):
        summary = os.path.join(out, "strace-c-%s-%s.txt"
                               % (args.workload, side))
        p = attach(["strace", "-f", "-c", "-o", summary,
                    "-p", str(child)])
        load(h, args.workload, body, n=args.requests)
        detach(p)
        calls = {}
        with open(summary) as f:
            for line in f:
                m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+"
                             r"(?:\d+\s+)?(\w+)\s*$", line)
                if m and m.group(2) != "total":
                    calls[m.group(2)] = int(m.group(1)) / args.requests
        table[side] = calls
        trace = os.path.join(out, "strace-%s-%s.txt"
                             % (args.workload, side))
        p = attach(["strace", "-f", "-tt", "-s", "80", "-o", trace,
                    "-p", str(child)])
        load(h, args.workload, body, n=args.trace)
        detach(p)
    names = sorted(set(table["off"]) | set(table["on"]),
                   key=lambda k: -(table["on"].get(k, 0)))
    print("system calls per request, %s, %d requests on one keep-alive "
          "connection (strace -f -c on the one child)" % (args.workload,
                                                         args.requests))
    print("%-18s %8s %8s %8s" % ("syscall", "off", "on", "added"))
    for k in names:
        a, b = table["off"].get(k, 0), table["on"].get(k, 0)
        print("%-18s %8.3f %8.3f %+8.3f" % (k, a, b, b - a))
    print("%-18s %8.3f %8.3f %+8.3f" % (
        "total", sum(table["off"].values()), sum(table["on"].values()),
        sum(table["on"].values()) - sum(table["off"].values())))
    print("full traces of %d requests in %s" % (args.trace, out))


def perf(args, body, out):
    for side, h, child in warm_servers(args, body):
        data = os.path.join(out, "perf-%s-%s.data" % (args.workload,
                                                     side))
        p = attach(["perf", "record", "-e", "cpu-clock", "-F", "4999",
                    "-g", "-o", data, "-p", str(child)])
        r = load(h, args.workload, body, seconds=args.seconds)
        detach(p)
        rep = subprocess.run(
            ["perf", "report", "-i", data, "--no-children", "--stdio",
             "--sort", "dso,symbol", "-g", "none",
             "--percent-limit", "0.7"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True).stdout
        with open(data + ".txt", "w") as f:
            f.write(rep)
        print("== perf, %s, module %s: %d requests" % (
            args.workload, side, r["complete"]))
        for line in rep.splitlines():
            if line.strip() and not line.startswith("#"):
                print(line)


# The module's own functions and the library code they drive, for the
# inclusive table of the callgrind profile.
CG_FUNCS = re.compile(
    r"(memguard_|account_|gate_|body_|respcap_|guard_|recycle_|replay_|"
    r"xr_|spool_|mg_|reject_|pass_held|setaside_held|declared_length|"
    r"xmlCtxtResetPush|xmlParseChunk|xmlCreatePushParserCtxt|"
    r"ap_add_(in|out)put_filter_handle|ap_remove_(in|out)put_filter|"
    r"apr_brigade_write|apr_brigade_create|apr_brigade_length|pread|"
    r"ap_pass_brigade|ap_get_brigade|clock_gettime)")


# --cache-sim: callgrind's cache simulation with a small last level, a
# stand-in for the caches that the application and the other children
# empty between two requests of one child on a busy server: the lines a
# request misses there are the ones it pays for each time.
CACHE_SIM = "--cache-sim=yes --LL=262144,8,64"


def callgrind(args, body, out):
    n1, n2 = args.cg_requests
    totals = {}
    if args.cache_sim:
        # valgrind reads VALGRIND_OPTS; the harness passes the environment
        os.environ["VALGRIND_OPTS"] = (os.environ.get("VALGRIND_OPTS", "") +
                                       " " + CACHE_SIM).strip()
    for side, loadmod in (("off", False), ("on", True)):
        for n in (n1, n2):
            totals[(side, n)] = cg_run(args, body, out, side, loadmod, n)
    print("instructions per request, %s (callgrind, httpd -X):"
          % args.workload)
    per = {}
    for side in ("off", "on"):
        per[side] = ((totals[(side, n2)][0] - totals[(side, n1)][0])
                     / float(n2 - n1))
        print("  module %-3s %10.0f" % (side, per[side]))
    print("  added      %10.0f (%.1f %%)" % (per["on"] - per["off"],
                                            100 * (per["on"] / per["off"]
                                                   - 1)))
    events = [e for e in totals[("on", n2)][2] if e != "Ir"]
    if events:
        print("cache simulation (%s), per request:" % CACHE_SIM)
        print("  %-6s %10s %10s %10s" % ("event", "off", "on", "added"))
        for ev in events:
            v = {side: (totals[(side, n2)][2][ev] - totals[(side, n1)][2][ev])
                 / float(n2 - n1) for side in ("off", "on")}
            print("  %-6s %10.1f %10.1f %+10.1f" % (ev, v["off"], v["on"],
                                                   v["on"] - v["off"]))
    incl_a, incl_b = totals[("on", n1)][1], totals[("on", n2)][1]
    rows = []
    for fn, v in incl_b.items():
        d = (v - incl_a.get(fn, 0)) / float(n2 - n1)
        if d >= 50:
            rows.append((d, fn))
    rows.sort(reverse=True)
    print("inclusive instructions per request, module on (functions of "
          "the module and what they call, >= 50):")
    for d, fn in rows[:60]:
        print("  %9.0f  %s" % (d, fn))


def cg_run(args, body, out, side, loadmod, n):
    h = server(loadmod)
    cg = os.path.join(out, "callgrind-%s-%s-%d.out" % (args.workload, side,
                                                      n))
    p = h.start_callgrind(cg)
    try:
        deadline = time.time() + 120
        while True:
            try:
                load(h, args.workload, body, n=1)
                break
            except (RuntimeError, OSError):
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        load(h, args.workload, body, n=n)
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(120)
        h.cleanup()
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes",
                          "--threshold=100", cg], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    # one column per event (Ir alone, or the cache simulation's too)
    events = re.search(r"^Events shown:\s+(.*)$", ann, re.M).group(1).split()
    line = next(x for x in ann.splitlines() if "PROGRAM TOTALS" in x)
    per_event = dict(zip(events, [int(x.replace(",", "")) for x in
                                  re.findall(r"([\d,]+) \(", line)]))
    incl = {}
    for line in ann.splitlines():
        m = re.match(r"^\s*([\d,]+) \([^)]*\)(?:\s+(?:[\d,]+ \([^)]*\)|\.))*"
                     r"\s+\S+:(\S+)", line)
        if m and CG_FUNCS.search(m.group(2)):
            incl[m.group(2)] = int(m.group(1).replace(",", ""))
    return per_event["Ir"], incl, per_event


def load_profile(args, body, out):
    """perf record -a while one server at a time is under ab -c 8: CPU
    microseconds per request by DSO (and the module's functions) for the
    processes of that server's cgroup, medians of --repeat runs."""
    root = bo.cpuacct_root()
    why = bo.cannot_run(root)
    if why:
        print("load: %s" % why)
        return
    children = bo.children_for(8)
    servers = [bo.Server("probe-off", False, root, children),
               bo.Server("probe-on", True, root, children)]
    runs = {"off": [], "on": []}
    try:
        for s in servers:
            s.start()
        for i in range(args.repeat):
            # off,on then on,off: a machine that slows down during the
            # runs weighs on both sides alike
            pairs = list(zip(("off", "on"), servers))
            for side, s in pairs if i % 2 == 0 else pairs[::-1]:
                wl_url = url(s.h, args.workload)
                wl_body = body if args.workload == "xmlrpc" else None
                bo.ab(wl_url, 2, 8, wl_body)  # warm
                data = os.path.join(out, "perf-load-%s-%s-%d.data"
                                    % (args.workload, side, i))
                p = attach(["perf", "record", "-a", "-e", "cpu-clock",
                            "-F", "1999", "-o", data])
                r = bo.Ab(wl_url, args.seconds, 8, wl_body).finish()
                detach(p)
                if r["keepalive"] != r["complete"] or r["failed"]:
                    raise RuntimeError(r["output"][-1500:])
                # threads too (the sampler's measuring thread)
                tids = {int(x) for x in s.cg.read("tasks").split()}
                runs[side].append(load_split(
                    data, tids, r["complete"],
                    os.path.basename(servers[1].h.module)))
    finally:
        for s in servers:
            s.stop()
            s.cleanup()

    def med(side, key):
        return statistics.median(x.get(key, 0.0) for x in runs[side])
    keys = set()
    for side in runs:
        for x in runs[side]:
            keys |= set(x)
    print("CPU us per request under load, %s (perf cpu-clock, ab -k -c 8, "
          "%d run(s) of %d s per server, medians):" % (
              args.workload, args.repeat, args.seconds))
    print("%-40s %8s %8s %8s" % ("", "off", "on", "added"))
    for k in sorted(keys, key=lambda k: (not k.startswith("total"),
                                         -med("on", k))):
        a, b = med("off", k), med("on", k)
        if max(a, b) >= 0.1:
            print("%-40s %8.2f %8.2f %+8.2f" % (k[:40], a, b, b - a))


def load_split(data, pids, requests, module):
    """{dso, or "  function" for the module's (file name module): us per
    request} for the samples of pids in perf.data."""
    rep = subprocess.run(
        ["perf", "report", "-i", data, "--no-children", "--stdio", "-n",
         "--sort", "pid,dso,sym", "-g", "none"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    ns = float(re.search(r"Event count \(approx.\): (\d+)", rep).group(1))
    split = {"total": 0.0}
    for line in rep.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+\d+\s+(\d+):\S+\s+(\S+)\s+"
                     r"\[.\]\s+(.*)", line)
        if not m or int(m.group(2)) not in pids:
            continue
        us = float(m.group(1)) / 100 * ns / 1e3 / requests
        dso, sym = m.group(3), m.group(4).strip()
        split["total"] += us
        split[dso] = split.get(dso, 0.0) + us
        if dso == module:
            key = "  %s" % sym
            split[key] = split.get(key, 0.0) + us
    return split


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="*",
                    default=["syscalls", "perf", "callgrind"])
    ap.add_argument("--workload", choices=bo.WORKLOADS, default="xmlrpc")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--trace", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--cg-requests", type=int, nargs=2, default=[100, 600])
    ap.add_argument("--cache-sim", action="store_true",
                    help="callgrind: simulate the caches (" + CACHE_SIM +
                    "): lines missed per request, off and on")
    ap.add_argument("--repeat", type=int, default=3,
                    help="load: runs per server")
    ap.add_argument("--conf", help="the module's configuration instead of "
                    "conf/memguard.conf (e.g. one layer of bench_layers.py: "
                    "its --print-conf)")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.conf:
        bo.CONF = os.path.abspath(args.conf)
    out = args.out or tempfile.mkdtemp(prefix="mg-probe-")
    os.makedirs(out, exist_ok=True)
    os.chmod(out, 0o1777)
    body = os.path.join(out, "getBuild.xml")
    with open(body, "wb") as f:
        f.write(bo.CALL)
    for what in args.what:
        if shutil.which({"syscalls": "strace", "perf": "perf",
                         "callgrind": "valgrind",
                         "load": "perf"}[what]) is None:
            print("%s: its tool is not installed (Debian: strace, "
                  "linux-perf, valgrind)" % what)
            continue
        {"syscalls": syscalls, "perf": perf, "callgrind": callgrind,
         "load": load_profile}[what](args, body, out)
    print("outputs in %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
