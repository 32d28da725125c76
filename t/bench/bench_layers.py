#!/usr/bin/python3
"""bench_layers.py - where the module's cost on a small XML-RPC call comes
from, layer by layer (issue 16): bench_overhead.py's measurement (prefork,
embedded mod_wsgi, the echo application, the 138-byte getBuild(1),
`ab -k -c 8`, httpd's CPU time per request from a cpuacct group of its
own) on seven servers side by side: two without the module ("off", and
"control", the same again: how far two identical servers differ in one
run, the noise floor of every ratio below) and five with it, each
configured with one layer more of the shipped conf/memguard.conf:

  idle       the module loaded, the shipped conf with MemGuardEngine Off
             in the hub's section: the sampler runs, the hooks find the
             engine off and return
  guarded    the shipped conf without MemGuardXmlRpc, MemGuardMethod and
             MemGuardMulticall: the body limit, the response cap, the
             child's size read and accounted, recycling, the headroom
             verdict
  inspected  + MemGuardXmlRpc On, MemGuardAdmission Off: the call read
             before the application, its method counted on the board
  admitted   + admission by memory cost (MemGuardAdmission's default)
  shipped    + the method rules and MemGuardMulticall: the shipped conf

By default (--mode concurrent) every round loads all seven at the same
time, one ab each, for --seconds: whatever else the shared machine does
then weighs on all alike (loaded one after the other, two identical
servers differed by up to 20 % in a round and 10 % in a run's medians;
at the same time, by a few per cent). Everything is slower than with
one server at a time (seven servers share two CPUs and their caches),
which charges a larger footprint a little more. --mode interleaved loads
one server at a time, in an order that rotates from round to round.
Per server the median over rounds of CPU per request; per layer
off/layer (bench_overhead.py's off/on for the shipped conf), the median
of the ratios taken round by round (the servers of a round ran at the
same time); the step from one layer to the next (in us) is what that
layer adds. --repeat K runs it K times
(fresh servers) and reports the medians. Root only (cgroups), like
bench_overhead.py.

    t/bench/bench_layers.py [--rounds 10] [--seconds 4] [--repeat 1]
                            [--mode concurrent|interleaved]
                            [--print-conf LAYER]

--print-conf LAYER prints one layer's configuration: with
probe_overhead.py's --conf, callgrind counts that layer's instructions
and cache lines (steadier than any CPU figure).

The last line is one JSON object:
{"bench": "layers", "results": [{"name", "value", "unit", "target",
"ok"}...], "runs": [...]}
"""
import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile

from t.bench import bench_overhead as bo

HUB_ENGINE = re.compile(r"^([ \t]*)MemGuardEngine On[ \t]*\n", re.M)
XMLRPC_LINES = re.compile(r"^[ \t]*MemGuard(XmlRpc|Method|Multicall)\b.*\n",
                          re.M)


def guarded(shipped):
    return XMLRPC_LINES.sub("", shipped)


def with_after_engine(text, lines):
    """lines added after the hub section's MemGuardEngine On."""
    def add(m):
        return m.group(0) + "".join("%s%s\n" % (m.group(1), x) for x in lines)
    out, n = HUB_ENGINE.subn(add, text, count=1)
    if n != 1:
        raise RuntimeError("the shipped conf has no MemGuardEngine On line")
    return out


# (name, what it adds, the conf from the shipped text, accounted)
LAYERS = [
    ("idle", "loaded, MemGuardEngine Off on the hub",
     lambda s: HUB_ENGINE.sub(r"\1MemGuardEngine Off\n", s), False),
    ("guarded", "body/response limits, accounting, recycling, verdict",
     guarded, True),
    ("inspected", "+ MemGuardXmlRpc (MemGuardAdmission Off)",
     lambda s: with_after_engine(guarded(s), ["MemGuardXmlRpc On",
                                              "MemGuardAdmission Off"]),
     True),
    ("admitted", "+ admission by memory cost",
     lambda s: with_after_engine(guarded(s), ["MemGuardXmlRpc On"]), True),
    ("shipped", "+ method rules, MemGuardMulticall (conf/memguard.conf)",
     lambda s: s, True),
]


def one_run(args, root, body_file, run_no):
    shipped = bo.conf_text()
    children = bo.children_for(args.concurrency)
    servers = [bo.Server("off", False, root, children),
               bo.Server("control", False, root, children)]
    for name, _, conf, _ in LAYERS:
        servers.append(bo.Server(name, True, root, children,
                                 conf=conf(shipped)))
    per = {s.name: [] for s in servers}
    try:
        for s in servers:
            s.start()
        for s in servers:
            bo.measure([s], "xmlrpc", args.warmup, args.concurrency,
                       body_file)
        for i in range(args.rounds):
            if args.mode == "concurrent":
                order = servers
                done = bo.measure(servers, "xmlrpc", args.seconds,
                                  args.concurrency, body_file)
            else:
                k = i % len(servers)
                order = servers[k:] + servers[:k]
                if i % 2:
                    order.reverse()
                done = [bo.measure([s], "xmlrpc", args.seconds,
                                   args.concurrency, body_file)[0]
                        for s in order]
            for s, ((tot, _, _), r) in zip(order, done):
                per[s.name].append(tot / r["complete"] / 1e3)
            print("%d %5d  %s" % (run_no, i + 1, " ".join(
                "%s %.1f" % (s.name, per[s.name][-1]) for s in servers)),
                flush=True)
        for s, (_, _, _, accounted) in zip(servers[2:], LAYERS):
            bo.check_on_server(s, accounted)
        bad = []
        for s in servers:
            bad += s.h.unexpected_log_lines()
        if bad:
            raise RuntimeError("unexpected error-log lines:\n"
                               + "\n".join(bad[:10]))
    finally:
        for s in servers:
            try:
                s.stop()
            finally:
                s.cleanup()
    # per server: the median of its CPU per request; per layer: the
    # median of off/layer taken round by round (in a round the servers
    # ran at the same time, or within seconds of each other: a paired
    # ratio carries less of the machine's drift than the ratio of two
    # medians)
    out = {name: statistics.median(v) for name, v in per.items()}
    for name in per:
        if name != "off":
            out["ratio:" + name] = statistics.median(
                a / b for a, b in zip(per["off"], per[name]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--mode", choices=("interleaved", "concurrent"),
                    default="concurrent")
    ap.add_argument("--print-conf", metavar="LAYER",
                    choices=[x[0] for x in LAYERS],
                    help="print that layer's configuration (the module's "
                    "part of conf/memguard.conf, as probe_overhead.py's "
                    "--conf takes it) and stop")
    args = ap.parse_args()
    if args.print_conf:
        sys.stdout.write(dict((x[0], x[2]) for x in LAYERS)[args.print_conf](
            bo.conf_text()))
        return 0

    root = bo.cpuacct_root()
    why = bo.cannot_run(root)
    if why:
        print("layers: skipped: %s" % why)
        print(json.dumps({"bench": "layers", "skipped": why, "results": []}))
        return 0

    tmp = tempfile.mkdtemp(prefix="mg-bench-layers-")
    body_file = os.path.join(tmp, "getBuild.xml")
    with open(body_file, "wb") as f:
        f.write(bo.CALL)
    print("layers: the 138-byte call, prefork, embedded mod_wsgi, ab -k -c "
          "%d, %d rounds of %d s per server, %d run(s); CPU us per request"
          % (args.concurrency, args.rounds, args.seconds, args.repeat))
    runs = []
    try:
        for k in range(args.repeat):
            runs.append(one_run(args, root, body_file, k + 1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def mid(name):
        return statistics.median(run[name] for run in runs)

    print()
    print("%-10s %9s %9s %9s  %s" % ("layer", "us/req", "off/layer",
                                     "step us", "what it adds"))
    print("%-10s %9.1f" % ("off", mid("off")))
    results = [{"name": "call, module off: CPU per request",
                "value": round(mid("off"), 1), "unit": "us", "target": "",
                "ok": None}]
    prev = mid("off")
    for name, what, _, _ in [("control", "no module either: the noise floor",
                              None, None)] + LAYERS:
        ratio = statistics.median(run["ratio:" + name] for run in runs)
        print("%-10s %9.1f %9.3f %+9.1f  %s" % (name, mid(name), ratio,
                                                mid(name) - prev, what))
        if len(runs) > 1:
            print("%-10s runs: off/layer %s" % ("", " ".join(
                "%.3f" % run["ratio:" + name] for run in runs)))
        if name != "control":
            prev = mid(name)
        results += [
            {"name": "call, %s: CPU per request" % name,
             "value": round(mid(name), 1), "unit": "us", "target": "",
             "ok": None},
            {"name": "call, %s: CPU off/%s" % (name, name),
             "value": round(ratio, 4), "unit": "x", "target": "",
             "ok": None},
        ]
    print(json.dumps({"bench": "layers", "results": results,
                      "runs": [{k: round(v, 2) for k, v in run.items()}
                               for run in runs]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
