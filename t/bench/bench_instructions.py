#!/usr/bin/python3
"""Instructions per request, module off vs on, counted by callgrind.

The wall-clock throughput benchmarks swing by 10-20 % between rounds on a
shared 2-core machine, far more than the 2-5 % they try to see.
valgrind --tool=callgrind counts the instructions httpd executes, which
is repeatable for the same binary and inputs whatever else the machine
does. httpd runs as one process (-X, prefork) under callgrind; N1 and N2
requests are sent in two runs and (I2 - I1) / (N2 - N1) is the cost of
one request without start-up and shutdown. Two requests:

  static   GET of a small file: the smallest thing httpd does, so the
           module's fixed cost shows at its largest
  getBuild a small XML-RPC call to the demo hub under mod_wsgi (embedded),
           what a hub's cheap calls are

"off" is httpd without mod_memguard; "on" is everything a hub would turn
on: MemGuardEngine On, XML-RPC inspection, a body limit, a response cap,
headroom thresholds (the sampler runs), child limits and method rules.
The ratio on/off of instructions is reported with its inverse, the
throughput the instruction count allows (a CPU-bound server's throughput
is about inversely proportional to the instructions per request).
The last line is the JSON summary `make bench` (t/bench/__main__.py) collects.
"""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import xmlrpc.client

from t.harness.mghttpd import Httpd

ON = """
MemGuardEngine On
MemGuardMaxRequestBody 16M
MemGuardMaxResponse 256M
MemGuardMinAvailable 5% 2%
MemGuardChildSoftLimit 2G
MemGuardChildHardLimit 4G
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardMethod queryHistory expensive concurrency=2 queue-timeout=10s
</Location>
"""

CALL = xmlrpc.client.dumps((7,), methodname="getBuild").encode()


def one_run(conf, load, what, n, outdir):
    h = Httpd(mpm="prefork", conf=conf, load_memguard=load, loglevel="warn")
    out = os.path.join(outdir, "cg.%s" % os.urandom(4).hex())
    p = h.start_callgrind(out)
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(h.url + "/index.html", timeout=30).read()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=120)
        for _ in range(n):
            if what == "static":
                c.request("GET", "/index.html")
            else:
                c.request("POST", "/kojihub", body=CALL,
                          headers={"Content-Type": "text/xml"})
            r = c.getresponse()
            r.read()
            assert r.status == 200, r.status
        c.close()
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(120)
    with open(out) as f:
        m = re.search(r"^totals:\s+(\d+)", f.read(), re.M)
    os.unlink(out)
    h.cleanup()
    return int(m.group(1))


def per_request(conf, load, what, n1, n2, outdir):
    a = one_run(conf, load, what, n1, outdir)
    b = one_run(conf, load, what, n2, outdir)
    return (b - a) / float(n2 - n1)


def main():
    if subprocess.run(["which", "valgrind"],
                      capture_output=True).returncode != 0:
        print("valgrind not installed (Debian: apt-get install valgrind)")
        return 2
    outdir = tempfile.mkdtemp(prefix="mg-cg-")
    os.chmod(outdir, 0o1777)
    quick = "--quick" in sys.argv
    plan = [("static", 100, 600 if quick else 1100),
            ("getBuild", 30, 130 if quick else 230)]
    results, rows = [], []
    for what, n1, n2 in plan:
        off = per_request("", False, what, n1, n2, outdir)
        on = per_request(ON, True, what, n1, n2, outdir)
        ratio = on / off
        rows.append((what, off, on, ratio))
        target = 1.02 if what == "getBuild" else None
        results.append({"name": "%s: instructions on / off" % what,
                        "value": round(ratio, 4), "unit": "x",
                        "target": "<= %.2f" % target if target else "",
                        "ok": ratio <= target if target else None})
        results.append({"name": "%s: instructions added per request" % what,
                        "value": round(on - off), "unit": "instr",
                        "target": "", "ok": None})
    os.rmdir(outdir)
    print("%-9s %14s %14s %9s %12s" % ("request", "off (instr)", "on (instr)",
                                       "on/off", "throughput"))
    for what, off, on, ratio in rows:
        print("%-9s %14.0f %14.0f %9.4f %12.4f" % (what, off, on, ratio,
                                                   1 / ratio))
    print(json.dumps({"bench": "instructions", "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
