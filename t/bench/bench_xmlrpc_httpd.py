#!/usr/bin/env python3
"""bench_xmlrpc_httpd.py - what inspecting every XML-RPC call costs through
a real httpd.

One private httpd (tools/mghttpd.py; prefork unless --mpm) serves the same
targets twice, side by side in the same processes:
  hub:    the demo hub's getBuild(n) under mod_wsgi (a real small call)
            /kojihub   MemGuardXmlRpc On (read, inspect, spool, replay)
            /plainhub  MemGuardEngine Off
  echo:   mod_mgtest's echo handler (no Python application: the module's
          own cost stands out more)
            /echo-on   MemGuardXmlRpc On
            /echo-off  MemGuardEngine Off
A client of --threads threads, each on its own keep-alive connection,
sends calls for --seconds per round; each round runs both sides back to
back, in alternating order (off-on, on-off, ...).
The figure per target is the median over rounds of on/off throughput of
two rounds run back to back (target >= 0.95). Then, on a separate httpd
with LogLevel memguard:debug, the inspector's own time per call (median
of its MG00201 lines): the figure a loaded machine disturbs least. Note that the client is
Python: for the echo target it is likely the bottleneck, which hides part
of the server's cost (the hub target is closer to real life).

The last line is one JSON object:
{"bench": "xmlrpc_httpd", "results": [{"name", "value", "unit", "target",
"ok"}...]}

    t/bench/bench_xmlrpc_httpd.py [--mpm prefork|event] [--rounds 7]
                                  [--seconds 2] [--threads 4]
"""
import argparse
import http.client
import json
import re
import statistics
import sys
import time
import xmlrpc.client

from t.harness.clients import run_clients
from t.harness.mghttpd import Httpd

TARGET = 0.95


def conf(h):
    return """
MemGuardEngine On
<Location /kojihub>
    MemGuardXmlRpc On
</Location>
WSGIScriptAlias /plainhub "%(hub)s"
<Location /plainhub>
    MemGuardEngine Off
</Location>
<Location /echo-on>
    SetHandler mgtest
    MemGuardXmlRpc On
</Location>
<Location /echo-off>
    SetHandler mgtest
    MemGuardEngine Off
</Location>
""" % {"hub": h.path("hub.wsgi")}


def body(i):
    return xmlrpc.client.dumps((i,), methodname="getBuild").encode()


def run_round(port, path, seconds, threads):
    """Calls completed per second by `threads` keep-alive clients."""
    stop = time.monotonic() + seconds
    counts = [0] * threads
    errors = []
    bodies = [body(i) for i in range(100)]

    def worker(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        n = 0
        try:
            while time.monotonic() < stop:
                c.request("POST", path, body=bodies[n % 100],
                          headers={"Content-Type": "text/xml"})
                r = c.getresponse()
                data = r.read()
                if r.status != 200 or b"<fault>" in data:
                    errors.append((r.status, data[:200]))
                    return
                n += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            c.close()
            counts[k] = n

    wall = run_clients(worker, threads)
    if errors:
        raise RuntimeError("%s: %s" % (path, errors[:3]))
    return sum(counts) / wall


def inspection_us(mpm, calls=1000):
    """The inspector's own time per small call (read, inspect, spool),
    from its debug line MG00201, on a separate httpd with LogLevel debug:
    a figure that a loaded machine disturbs far less than throughput."""
    h = Httpd(mpm=mpm, loglevel="warn memguard:debug")
    h.conf = "MemGuardEngine On\n<Location /kojihub>\nMemGuardXmlRpc On\n" \
             "</Location>\n"
    h.start()
    try:
        c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
        for i in range(calls):
            c.request("POST", "/kojihub", body=body(i),
                      headers={"Content-Type": "text/xml"})
            c.getresponse().read()
        c.close()
    finally:
        h.stop()
        us = [int(m.group(1)) for m in re.finditer(
            r"MG00201: inspected .*; (\d+) us", "\n".join(h.log_lines()))]
        h.cleanup()
    us.sort()
    return statistics.median(us), us[int(len(us) * 0.9)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mpm", default="prefork")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()

    h = Httpd(mpm=args.mpm, loglevel="warn")
    h.conf = conf(h)
    # every client connection has its process from the start: prefork
    # would otherwise still be spawning children during the first rounds
    h.extra_top = "MaxKeepAliveRequests 0\n" + (
        "StartServers %d\nMinSpareServers %d\nMaxSpareServers %d\n"
        "ServerLimit 64\nMaxRequestWorkers 64\n"
        % (args.threads + 2, args.threads + 2, args.threads + 4)
        if args.mpm == "prefork" else "")
    h.start()
    targets = [("hub getBuild", "/kojihub", "/plainhub"),
               ("mgtest echo", "/echo-on?echo=1", "/echo-off?echo=1")]
    results = []
    try:
        # warm up every path (Python imports, interpreters, connections)
        for _, on, off in targets:
            run_round(h.port, on, 1.5, args.threads)
            run_round(h.port, off, 1.5, args.threads)
        print("xmlrpc_httpd: %s MPM, %d client threads, %d rounds of %.1f s "
              "per side" % (args.mpm, args.threads, args.rounds,
                            args.seconds))
        print("%-14s %5s %12s %12s %8s" % ("target", "round", "off call/s",
                                         "on call/s", "on/off"))
        for name, on, off in targets:
            ratios, best_on, best_off = [], 0.0, 0.0
            for i in range(args.rounds):
                # the pair's order alternates, so a drift in the machine's
                # state favours neither side
                if i % 2:
                    r_on = run_round(h.port, on, args.seconds, args.threads)
                    r_off = run_round(h.port, off, args.seconds, args.threads)
                else:
                    r_off = run_round(h.port, off, args.seconds, args.threads)
                    r_on = run_round(h.port, on, args.seconds, args.threads)
                ratios.append(r_on / r_off)
                best_on, best_off = max(best_on, r_on), max(best_off, r_off)
                print("%-14s %5d %12.0f %12.0f %8.3f" % (name, i + 1, r_off,
                                                       r_on, r_on / r_off))
            med = statistics.median(ratios)
            print("%-14s  median on/off %.3f (target >= %.2f), best on %.0f "
                  "call/s, best off %.0f call/s" % (name, med, TARGET,
                                                    best_on, best_off))
            results.append({"name": "%s throughput on/off" % name,
                            "value": round(med, 4), "unit": "ratio",
                            "target": ">= %.2f" % TARGET,
                            "ok": med >= TARGET})
            results.append({"name": "%s inspected" % name,
                            "value": round(best_on, 1), "unit": "call/s",
                            "target": "", "ok": None})
        bad = h.unexpected_log_lines()
        if bad:
            print("unexpected error-log lines:\n" + "\n".join(bad[:10]))
    finally:
        h.stop()
        h.cleanup()
    med_us, p90_us = inspection_us(args.mpm)
    print("inspection per getBuild call: median %d us, p90 %d us"
          % (med_us, p90_us))
    results.append({"name": "inspection time per small call (median)",
                    "value": med_us, "unit": "us", "target": "", "ok": None})
    print(json.dumps({"bench": "xmlrpc_httpd", "mpm": args.mpm,
                      "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
