"""Recycling bloated children (prefork unless stated): soft and hard child
limits, jitter, the per-minute budget, the response cap's marks, and what
a threaded MPM does instead (measure and report). Children grow for real
through mod_mgtest's alloc=N."""
import http.client
import os
import re
import socket
import threading
import time

import pytest

from t.harness.mghttpd import (alive, get, pid_of, read_to_end, wait_gone,
                               wait_until)

MiB = 1 << 20

RECYCLE = (r"MG00412: recycling this child \(pid (\d+)\) (before this "
           r"response|after this request): (rss|unshared) (\d+) bytes "
           r"\([\d.]+ MiB\) > limit (\d+) bytes \([\d.]+ MiB\) "
           r"\((MemGuardChild\w+Limit)\)")
DEFERRED = (r"MG00417: recycling this child \(pid (\d+)\) deferred: "
            r"MemGuardMaxRecyclesPerMinute 2 reached")

BASE = """
MemGuardEngine On
MemGuardChildMetric rss
MemGuardRecycleJitter 0
"""




def recycles(h):
    rx = re.compile(RECYCLE)
    out = []
    for line in h.log_lines():
        m = rx.search(line)
        if m:
            out.append({"pid": int(m.group(1)), "when": m.group(2),
                        "metric": m.group(3), "value": int(m.group(4)),
                        "limit": int(m.group(5)), "directive": m.group(6)})
    return out


# -- configuration ------------------------------------------------------------

@pytest.mark.parametrize("line,needle", [
    ("MemGuardChildSoftLimit 12Q", "MemGuardChildSoftLimit: '12Q'"),
    ("MemGuardChildHardLimit -1", "MemGuardChildHardLimit: '-1'"),
    ("MemGuardChildMetric pss", "MemGuardChildMetric: 'pss'"),
    ("MemGuardRecycleJitter 150%", "MemGuardRecycleJitter: '150%'"),
    ("MemGuardMaxRecyclesPerMinute lots",
     "MemGuardMaxRecyclesPerMinute: 'lots'"),
    ("MemGuardRecycleOnPressure maybe", "MemGuardRecycleOnPressure"),
    ("MemGuardChildSoftLimit 512M\nMemGuardChildHardLimit 256M",
     "must be larger than MemGuardChildSoftLimit"),
    ('MemGuardWatchDaemons "(wsgi:*"', "needs MemGuardChildSoftLimit"),
    ("<VirtualHost 127.0.0.1:1>\nMemGuardChildSoftLimit 1G\n</VirtualHost>",
     "cannot occur within <VirtualHost>"),
    ("<Location /x>\nMemGuardChildHardLimit 1G\n</Location>",
     "MemGuardChildHardLimit not allowed in <Location>"),
])
def test_bad_settings_refused(httpd_factory, line, needle):
    h = httpd_factory(start=False)
    rc, out = h.configtest(line)
    assert rc != 0
    assert needle in out, out


def test_good_settings_accepted(httpd_factory):
    h = httpd_factory(start=False)
    rc, out = h.configtest("""
MemGuardChildSoftLimit 512M
MemGuardChildHardLimit 1.5G
MemGuardChildMetric unshared
MemGuardRecycleJitter 15%
MemGuardMaxRecyclesPerMinute 0
MemGuardRecycleOnPressure On
MemGuardWatchDaemons "(wsgi:*"
""")
    assert rc == 0, out


# -- soft limit ---------------------------------------------------------------

# With MemGuardMaxResponse, MEMGUARD_RESPCAP (a content filter) sees the
# response first: the look before the headers is the same.
@pytest.mark.parametrize("cap", ["", "MemGuardMaxResponse 256M\n"],
                         ids=["alone", "with-response-cap"])
def test_soft_limit_recycles_after_the_response(httpd_factory, cap):
    h = httpd_factory(BASE + cap + "MemGuardChildSoftLimit 100M\n")
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    r, body = get(h, "/mgtest", c)
    first = pid_of(body)
    assert r.getheader("Connection") is None       # keep-alive
    r, body = get(h, "/mgtest?alloc=200", c)
    c.close()
    # served completely, by the same child, and told to close
    assert r.status == 200
    assert body == b"pid=%d held=200\n" % first
    assert r.getheader("Connection") == "close"
    assert wait_gone(first), "child %d still there" % first
    r, body = get(h, "/mgtest")
    assert r.status == 200 and pid_of(body) != first
    rec = recycles(h)
    assert len(rec) == 1
    assert rec[0]["pid"] == first and rec[0]["when"] == "before this response"
    assert rec[0]["metric"] == "rss"
    assert rec[0]["limit"] == 100 * MiB
    assert rec[0]["value"] > 200 * MiB
    assert rec[0]["directive"] == "MemGuardChildSoftLimit"


def test_thousand_requests_one_in_ten_bloats_none_fails(httpd_factory):
    """1 000 requests from 4 keep-alive clients; every tenth grows its child
    by 80 MiB over a 64 MiB soft limit and gets it recycled. Not one request
    may fail."""
    h = httpd_factory(BASE + "MemGuardChildSoftLimit 64M\n"
                      "MemGuardMaxRecyclesPerMinute 0\n")
    nthreads, per = 4, 250
    results = {"ok": 0, "closed": 0, "failed": [], "bloated_pids": []}
    lock = threading.Lock()

    def client(k):
        c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
        for i in range(per):
            path = "/mgtest?alloc=80" if (k * per + i) % 10 == 9 else \
                "/mgtest"
            try:
                c.request("GET", path)
                r = c.getresponse()
                body = r.read()
                good = r.status == 200 and body.startswith(b"pid=")
            except Exception as e:                  # noqa: BLE001
                good, body, r = False, repr(e).encode(), None
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", h.port,
                                               timeout=30)
            with lock:
                if not good:
                    results["failed"].append((path, body[:200]))
                    continue
                results["ok"] += 1
                if r.getheader("Connection") == "close":
                    results["closed"] += 1
                if "alloc" in path:
                    results["bloated_pids"].append(pid_of(body))
        c.close()

    t0 = time.time()
    threads = [threading.Thread(target=client, args=(k,))
               for k in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    assert results["failed"] == [], results["failed"][:5]
    assert results["ok"] == nthreads * per
    assert len(results["bloated_pids"]) == 100
    # every bloated response closed its connection, and its child went
    assert results["closed"] >= 100
    assert len(recycles(h)) == 100
    assert all(wait_gone(p, 10) for p in results["bloated_pids"])
    assert elapsed < 300, elapsed          # a hang, not a speed check


# -- hard limit ---------------------------------------------------------------

def test_hard_limit_closes_a_keepalive_connection(httpd_factory):
    h = httpd_factory(BASE + "MemGuardChildHardLimit 64M\n")
    s = socket.create_connection(("127.0.0.1", h.port), timeout=10)
    f = s.makefile("rb")

    def ask(path):
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                   % path).encode())
        r = http.client.HTTPResponse(s)
        r.begin()
        return r, r.read()

    r, body = ask("/mgtest")
    first = pid_of(body)
    assert r.getheader("Connection") is None
    r, body = ask("/mgtest?alloc=80")
    assert r.status == 200 and pid_of(body) == first
    assert r.getheader("Connection") == "close"
    # the server closed its end: nothing more comes on this connection
    s.settimeout(5)
    try:
        s.sendall(b"GET /mgtest HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert s.recv(100) == b""
    except (ConnectionResetError, BrokenPipeError):
        pass
    f.close()
    s.close()
    assert wait_gone(first)
    r, body = get(h, "/mgtest")
    assert r.status == 200 and pid_of(body) != first
    rec = recycles(h)
    assert [x["directive"] for x in rec] == ["MemGuardChildHardLimit"]


# -- jitter -------------------------------------------------------------------

def test_jitter_moves_each_childs_limit(httpd_factory):
    """Four children grow 4 MiB per request until they are recycled: each
    has its own limit, all within 64 MiB +- 20 %, and each goes at its own
    limit."""
    h = httpd_factory("""
MemGuardEngine On
MemGuardChildMetric rss
MemGuardChildSoftLimit 64M
MemGuardRecycleJitter 20%
MemGuardMaxRecyclesPerMinute 0
""")
    points = {}
    for _ in range(4):
        c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
        for step in range(60):
            r, body = get(h, "/mgtest?alloc=4", c)
            assert r.status == 200
            if r.getheader("Connection") == "close":
                points[pid_of(body)] = step
                break
        else:
            pytest.fail("no recycle after 240 MiB")
        c.close()
        assert wait_gone(pid_of(body))
    rec = {x["pid"]: x for x in recycles(h)}
    assert set(rec) == set(points)
    limits = [x["limit"] for x in rec.values()]
    for x in rec.values():
        assert 0.8 * 64 * MiB <= x["limit"] <= 1.2 * 64 * MiB, x
        # recycled at the first request that took it over its own limit
        assert x["limit"] < x["value"] <= x["limit"] + 4 * MiB + 512 * 1024
    assert len(set(limits)) >= 3, limits


# -- the budget ---------------------------------------------------------------

def test_per_minute_budget_defers_and_hard_limit_does_not_wait(httpd_factory):
    """Five children bloated at once under MemGuardMaxRecyclesPerMinute 2:
    two are recycled, three deferred (and keep serving). A hard limit does
    not wait for the budget."""
    h = httpd_factory(BASE + """
MemGuardChildSoftLimit 64M
MemGuardChildHardLimit 160M
MemGuardMaxRecyclesPerMinute 2
StartServers 6
MinSpareServers 6
MaxSpareServers 10
""")
    wait_until(lambda: len(h.children()) >= 7,    # + the sampler
               "the six children to start", 15)
    bodies = []
    lock = threading.Lock()

    def bloat():
        c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
        r, body = get(h, "/mgtest?alloc=80&sleep=1500", c)
        with lock:
            bodies.append((r.status, r.getheader("Connection"), body))
        c.close()

    threads = [threading.Thread(target=bloat) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pids = [pid_of(b) for _, _, b in bodies]
    assert len(set(pids)) == 5, bodies
    assert all(st == 200 for st, _, _ in bodies)
    closed = [pid_of(b) for _, conn, b in bodies if conn == "close"]
    kept = [p for p in pids if p not in closed]
    assert len(closed) == 2 and len(kept) == 3, bodies
    assert all(wait_gone(p) for p in closed)
    deferred = h.wait_log(DEFERRED, count=3)
    assert sorted(int(re.search(DEFERRED, x).group(1)) for x in deferred) \
        == sorted(kept)
    time.sleep(1)
    assert all(alive(p) for p in kept)
    assert len(recycles(h)) == 2

    # A deferred child taken over the hard limit goes anyway.
    victim = None
    for _ in range(40):
        r, body = get(h, "/mgtest?alloc=100")
        if pid_of(body) in kept:
            victim = pid_of(body)
            assert r.getheader("Connection") == "close"
            break
        time.sleep(0.05)
    assert victim is not None, "no deferred child served a request"
    assert wait_gone(victim)
    rec = recycles(h)
    assert rec[-1]["pid"] == victim
    assert rec[-1]["directive"] == "MemGuardChildHardLimit"


def test_a_child_that_recycled_itself_costs_one_token(httpd_factory):
    """A child that recycled itself stays in its slot a little longer:
    closing its connection (up to 2 s of lingering close while the client
    keeps it open) and until the parent reaps it. The sampler, passing once
    a second, must not take the budget's second token to signal it again:
    the next bloated child gets that token."""
    h = httpd_factory(BASE + "MemGuardChildSoftLimit 64M\n"
                      "MemGuardMaxRecyclesPerMinute 2\n")
    s = socket.create_connection(("127.0.0.1", h.port), timeout=30)
    s.sendall(b"GET /mgtest?alloc=80 HTTP/1.1\r\nHost: x\r\n\r\n")
    # the child shuts its side after the answer
    raw = read_to_end(s, close=False)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Connection: close" in head, raw
    first = pid_of(body)
    time.sleep(2.5)   # our side stays open: the child lingers over a pass
    s.close()
    assert wait_gone(first)
    r, body = get(h, "/mgtest?alloc=80")
    second = pid_of(body)
    assert second != first
    assert r.getheader("Connection") == "close", "\n".join(x[-160:] for x in h.log_lines() if "MG00" in x)
    assert [x["pid"] for x in recycles(h)] == [first, second]
    assert not [x for x in h.log_lines() if "MG00423" in x]
    assert not [x for x in h.log_lines() if "MG00417" in x]


# -- the response cap ---------------------------------------------------------

def test_response_cap_recycles_the_child(httpd_factory):
    h = httpd_factory("MemGuardEngine On\nMemGuardMaxResponse 1M\n")
    r, body = get(h, "/mgtest?emit=2000000")
    assert r.status == 500
    # http style: ap_die() answers below MEMGUARD_RECYCLE, so the child
    # goes right after the request (the refusal closed the connection)
    h.wait_log(r"MG00411: recycling this child \(pid \d+\) after this "
               r"request: it built a response over its cap "
               r"\(MemGuardMaxResponse\)")
    line = h.wait_access(r"emit=2000000")[-1]
    pid = int(re.search(r"pid=(\d+)", line).group(1))
    assert wait_gone(pid)
    r, body = get(h, "/mgtest")
    assert r.status == 200 and pid_of(body) != pid


# -- DetectOnly and threaded MPMs -------------------------------------------

def test_detect_only_logs_and_keeps_the_child(httpd_factory):
    h = httpd_factory("MemGuardEngine DetectOnly\nMemGuardChildMetric rss\n"
                      "MemGuardChildSoftLimit 64M\n")
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    r, body = get(h, "/mgtest?alloc=80", c)
    pid = pid_of(body)
    assert r.getheader("Connection") is None
    r, body = get(h, "/mgtest", c)
    assert pid_of(body) == pid
    c.close()
    h.wait_log(r"MG00414: DetectOnly: would recycle this child \(pid %d\)"
               % pid)
    assert alive(pid) and recycles(h) == []


def test_threaded_mpm_measures_and_reports_only(httpd_factory):
    h = httpd_factory(BASE + "MemGuardChildSoftLimit 64M\n", mpm="event")
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    r, body = get(h, "/mgtest?alloc=80", c)
    pid = pid_of(body)
    assert r.status == 200 and r.getheader("Connection") is None
    for _ in range(3):
        r, body = get(h, "/mgtest", c)
        assert pid_of(body) == pid and r.getheader("Connection") is None
    c.close()
    once = (r"MG00415: child \(pid %d\) is marked for recycling "
            r"\(rss \d+ bytes, limit 67108864 bytes\) but cannot "
            r"be recycled under a threaded MPM" % pid)
    h.wait_log(once)
    time.sleep(0.5)                        # three more requests were made
    assert len(h.wait_log(once)) == 1      # once per child
    assert alive(pid) and recycles(h) == []
    assert os.getpid() != pid


def test_response_cap_fault_recycles_the_hub_child(httpd_factory):
    """fault style: the fault says Connection: close (a refusal closes the
    connection) and the child that ran the call is gone afterwards. The
    response cap marks the child after it has sent its answer, so the
    child goes right after the request."""
    import xmlrpc.client
    h = httpd_factory("MemGuardEngine On\nMemGuardMaxResponse 1M\n")
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=60)
    c.request("POST", "/kojihub",
              body=xmlrpc.client.dumps((5000,),
                                       methodname="queryHistory").encode(),
              headers={"Content-Type": "text/xml"})
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200 and b"<fault>" in body and b"5001" in body
    assert r.getheader("Connection") == "close"
    h.wait_log(r"MG00411: recycling this child \(pid \d+\) after this "
               r"request: it built a response over its cap")
    pid = int(open(h.calllog).read().split()[0])
    assert wait_gone(pid)
