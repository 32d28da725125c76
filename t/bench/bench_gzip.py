#!/usr/bin/python3
"""bench_gzip: what a refused gzip bomb costs the child that reads it.

A gzip of N GiB of one letter (a few MB on the wire) is posted to an
XML-RPC location with SetInputFilter DEFLATE and a permissive
DeflateInflateRatioLimit 100000; MemGuardXmlLimits string=16M refuses it
once 16 MiB of its one string were read (fault 4131). Measured in the
children of a private prefork httpd: seconds to the answer, seconds from
the answer until the server closed the connection, the children's CPU
seconds for the whole request, and how much the largest child's peak RSS
(VmHWM) grew. Side by side, the same body to a location where memguard is
Off and the application reads it (mod_deflate inflates until its own
DeflateInflateLimitRequestBody, LimitRequestBody's 1 GiB by default):
what httpd does without the module, as the baseline of the CPU ratio.

Prints a human table, then one JSON line:
{"bench": "gzip", "results": [{"name", "value", "unit", "target", "ok"}]}.

    /usr/bin/python3 t/bench/bench_gzip.py [--gib N]
"""
import argparse
import json
import os
import socket
import sys
import threading
import time
import zlib

from t.harness.mghttpd import Httpd

CONF = """
MemGuardEngine On
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardXmlLimits string=16M
    SetInputFilter DEFLATE
    DeflateInflateRatioLimit 100000
</Location>
WSGIScriptAlias /plainhub "%s"
<Location /plainhub>
    MemGuardEngine Off
    SetInputFilter DEFLATE
    DeflateInflateRatioLimit 100000
</Location>
"""


def bomb(gib):
    co = zlib.compressobj(6, zlib.DEFLATED, 31)
    out = [co.compress(b"<?xml version='1.0'?><methodCall><methodName>echo"
                       b"</methodName><params><param><value><string>")]
    piece = b"a" * (64 << 20)
    for _ in range(gib * 16):
        out.append(co.compress(piece))
    out.append(co.compress(b"</string></value></param></params>"
                           b"</methodCall>"))
    out.append(co.flush())
    return b"".join(out)


def proc_stat(pids):
    """(CPU seconds, largest VmHWM in KiB) of pids."""
    cpu, hwm = 0, 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu += int(fields[11]) + int(fields[12])
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        hwm = max(hwm, int(line.split()[1]))
        except OSError:
            pass
    return cpu / os.sysconf("SC_CLK_TCK"), hwm


def post(h, path, body, timeout=300):
    """Send body; (seconds to the answer, seconds from the answer to the
    server's close, the answer's head)."""
    s = socket.create_connection(("127.0.0.1", h.port), timeout)
    t0 = time.monotonic()
    got = {}

    def reader():
        data = b""
        while True:
            try:
                d = s.recv(65536)
            except OSError:
                break
            if not d:
                break
            data += d
            if "answer" not in got and b"\r\n\r\n" in data:
                got["answer"] = time.monotonic() - t0
        got["closed"] = time.monotonic() - t0
        got["data"] = data

    th = threading.Thread(target=reader)
    th.start()
    s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
              b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
              % (path.encode(), len(body)))
    try:
        s.sendall(body)
    except OSError:
        pass
    th.join(timeout)
    s.close()
    answer = got.get("answer", got.get("closed"))
    return answer, got["closed"] - answer, got.get("data", b"")[:200]


def measure(h, path, body):
    time.sleep(0.5)
    kids = h.children()
    cpu0, hwm0 = proc_stat(kids)
    answer, close, head = post(h, path, body)
    time.sleep(0.5)
    cpu1, hwm1 = proc_stat(kids)
    return {"answer_s": answer, "close_after_s": close, "cpu_s": cpu1 - cpu0,
            "rss_growth_mib": (hwm1 - hwm0) / 1024.0,
            "head": head.split(b"\r\n")[0].decode(errors="replace")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=int, default=2)
    args = ap.parse_args()
    body = bomb(args.gib)
    h = Httpd(mpm="prefork", loglevel="warn")
    h.conf = CONF % h.path("hub.wsgi")
    h.allow(r"AH0(2647|2648)")          # mod_deflate's limit, module off
    h.start()
    try:
        on = measure(h, "/kojihub", body)
        off = measure(h, "/plainhub", body)
    finally:
        h.stop()
        h.cleanup()
    print("a gzip of %d GiB of one letter, %.1f MB sent" % (
        args.gib, len(body) / 1e6))
    for name, m in (("memguard (refused)", on), ("memguard off", off)):
        print("  %-20s %s: answer %.2f s, closed %.2f s later, child CPU "
              "%.2f s, peak RSS +%.1f MiB" % (
                  name, m["head"], m["answer_s"], m["close_after_s"],
                  m["cpu_s"], m["rss_growth_mib"]))
    ratio = on["cpu_s"] / off["cpu_s"] if off["cpu_s"] > 0 else 0.0
    results = [
        {"name": "refused bomb: closed after the answer", "value":
         round(on["close_after_s"], 3), "unit": "s", "target": "<= 1",
         "ok": on["close_after_s"] <= 1.0},
        {"name": "refused bomb: child peak RSS growth", "value":
         round(on["rss_growth_mib"], 1), "unit": "MiB", "target": "<= 16",
         "ok": on["rss_growth_mib"] <= 16},
        {"name": "child CPU, refused / module off", "value": round(ratio, 3),
         "unit": "ratio", "target": "<= 0.5", "ok": ratio <= 0.5},
    ]
    print(json.dumps({"bench": "gzip", "results": results}))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
