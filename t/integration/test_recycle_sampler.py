"""The sampler's part of recycling: idle flagged children, the largest
children first while memory is short (MemGuardRecycleOnPressure), and
mod_wsgi daemon processes (MemGuardWatchDaemons) restarted gracefully
under the event MPM.

These need the sampler process calling memguard_recycle_sampler_init() and
memguard_recycle_sampler_tick() (see mod_memguard_recycle_sampler.h). Each test skips, with
the reason "needs the sampler", while httpd refuses MemGuardSampleInterval.
"""
import http.client
import re
import threading
import time
import xmlrpc.client

import pytest

from t.harness.mghttpd import get, pid_of, wait_gone
from t.harness.statuslib import STATUS_PAGE, status_json


MiB = 1 << 20


def need_sampler(h):
    rc, out = h.configtest("MemGuardSampleInterval 100ms")
    if rc != 0 and "MemGuardSampleInterval" in out:
        pytest.skip("needs the sampler (MemGuardSampleInterval refused: "
                    "mod_memguard_sampler.c not in this build)")


# Pressure recycling on a fixture /proc tree (its path goes in).
PRESSURE = """
MemGuardEngine On
MemGuardProcRoot "%s"
MemGuardSampleInterval 50ms
MemGuardMinAvailable 1G 256M
# the fixture jumps from plenty to 512 MiB in one sample: judged on the
# level alone, it throttles (a rate would shed for a moment first)
MemGuardFillHorizon off
MemGuardChildMetric rss
MemGuardRecycleOnPressure On
MemGuardMaxRecyclesPerMinute 0
"""


def test_pressure_recycles_the_largest_children_first(procroot,
                                                      httpd_factory):
    """Three children hold 30, 60 and 90 MiB. When MemAvailable falls under
    the throttle threshold, the sampler recycles the 90 MiB child first,
    then the 60 MiB one (one per pass while throttling)."""
    root = procroot()
    h = httpd_factory(start=False)
    need_sampler(h)
    h.conf = PRESSURE % root.path + """
StartServers 4
MinSpareServers 4
MaxSpareServers 8
""" + STATUS_PAGE
    h.start()
    time.sleep(1.5)
    r, _ = get(h, "/mgtest")       # one fresh child's size, for reference
    assert r.status == 200
    sizes = {}
    lock = threading.Lock()

    def grow(mb):
        r, body = get(h, "/mgtest?alloc=%d&sleep=1500" % mb)
        with lock:
            sizes[pid_of(body)] = mb

    threads = [threading.Thread(target=grow, args=(mb,))
               for mb in (30, 60, 90)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sizes) == 3, sizes
    by_size = sorted(sizes, key=sizes.get, reverse=True)
    # each child's size is on the board at log_transaction, which runs
    # after the client has its answer (and before the access log line)
    h.wait_access(r"alloc=\d+&sleep", count=3)
    root.set_meminfo(MemAvailable=512 * 1024)          # kB: throttle
    lines = h.wait_log(r"MG00425: sampler: memory is short \(throttle\): recycling "
                       r"child (\d+)", timeout=15, count=2)
    order = [int(re.search(r"recycling child (\d+)", x).group(1))
             for x in lines]
    assert order[:2] == by_size[:2], (order, sizes)
    assert wait_gone(by_size[0], 10) and wait_gone(by_size[1], 10)
    # then the 30 MiB one; fresh children, no larger than the smallest
    # live one, are left alone however long the pressure lasts
    h.wait_log(r"MG00425: .*recycling child %d" % by_size[2], timeout=10)
    before = status_json(h)
    time.sleep(3)
    assert len([x for x in h.log_lines() if "MG00425" in x]) == 3
    # ... while the sampler kept sampling the same pressure (a dead one
    # would recycle nothing either)
    after = status_json(h)
    assert after["sampler"]["samples"] >= before["sampler"]["samples"] + 10, \
        (before["sampler"], after["sampler"])
    assert after["verdict"]["state"] == "throttle", after["verdict"]


def test_pressure_recycles_a_busy_child_after_its_request(procroot,
                                                          httpd_factory):
    """A child the sampler picks while it serves a request recycles itself
    when that request is done, and says why: no limit was passed, it was
    the largest child while memory was short."""
    root = procroot()
    h = httpd_factory(start=False)
    need_sampler(h)
    h.conf = PRESSURE % root.path
    h.start()
    # one fresh child's size, for reference: its connection stays open,
    # so that the next one goes to another child (prefork)
    ref = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    ref.request("GET", "/mgtest")
    fresh = pid_of(ref.getresponse().read())
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    c.request("GET", "/mgtest?alloc=90")
    pid = pid_of(c.getresponse().read())
    assert pid != fresh
    h.wait_access(r"alloc=90 ")    # its size is on the board
    # the same child, busy for a while; memory gets short meanwhile
    c.request("GET", "/mgtest?sleep=3000", headers={"Connection": "close"})
    time.sleep(0.5)
    root.set_meminfo(MemAvailable=512 * 1024)          # kB: throttle
    h.wait_log(r"MG00425: sampler: memory is short \(throttle\): recycling "
               r"child %d " % pid, timeout=10)
    assert pid_of(c.getresponse().read()) == pid
    c.close()
    ref.close()
    line = h.wait_log(r"MG00260: recycling this child \(pid %d\)" % pid)[0]
    assert re.search(r"\(pid %d\) (before this response|after this "
                     r"request): the largest child \(\d+\.\d MiB\) while "
                     r"memory was short \(now throttle: available 512\.0 "
                     r"MiB < minimum 1\.0 GiB\) "
                     r"\(MemGuardRecycleOnPressure\)$" % pid, line), line
    assert wait_gone(pid, 10)
    assert not any("> limit 0 bytes" in x for x in h.log_lines())


def daemon_pids(h):
    out = []
    for pid in h.children():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if f.read().startswith(b"(wsgi:hub)"):
                    out.append(pid)
        except OSError:
            pass
    return out


def test_event_daemon_restarted_gracefully(httpd_factory):
    """event MPM, the hub in a mod_wsgi daemon process: a big call grows
    the daemon past the soft limit; the sampler restarts it with SIGUSR1;
    the call in flight completes, and the next call is served by the new
    daemon process."""
    h = httpd_factory(start=False, mpm="event", wsgi="daemon")
    need_sampler(h)
    h.conf = """
MemGuardEngine On
MemGuardSampleInterval 100ms
MemGuardChildSoftLimit 80M
MemGuardChildMetric rss
MemGuardRecycleJitter 0
MemGuardWatchDaemons "(wsgi:*"
"""
    h.start()
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    assert hub.hello() == "hello"
    old = daemon_pids(h)
    assert len(old) == 1
    n = 25000
    rows = hub.queryHistory(n)                     # grows it past 80M
    assert len(rows) == n                          # ... and completes
    line = h.wait_log(r"MG00430: sampler: restarting daemon %d gracefully"
                      % old[0], timeout=10)[0]
    m = re.search(r"rss (\d+) bytes .* > limit (\d+) bytes", line)
    assert int(m.group(1)) > int(m.group(2)) == 80 * MiB
    assert wait_gone(old[0], 30)
    deadline = time.time() + 30
    while time.time() < deadline and not daemon_pids(h):
        time.sleep(0.1)
    new = daemon_pids(h)
    assert new and new[0] != old[0]
    assert hub.hello() == "hello"
    pids = [int(x.split()[0]) for x in open(h.calllog).read().splitlines()]
    assert pids[-1] == new[0]
