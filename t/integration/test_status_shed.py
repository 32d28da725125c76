"""The status page while the server sheds: ?health flips to 503/drain and
back, the page itself keeps answering, and a real HAProxy in front of two
httpds stops sending traffic to the one whose fixture /proc says shed,
with zero errors for a client looping through it.

Fake pressure comes from MemGuardProcRoot pointing at a fixture tree the
test rewrites (mgfixture.ProcRoot). These tests need the sampler; until
it is in the tree, the whole module is skipped with that reason.
"""
import os
import shutil
import subprocess
import tempfile
import threading
import time
import xmlrpc.client

import pytest

from t.harness.mghttpd import Httpd, free_port, wait_until
from t.harness.statuslib import (STATUS_AND_HEALTH, fetch_all, get,
                                 haproxy_stat, parse_auto, raw)


def _sampler_known():
    """Does `httpd -t` know MemGuardProcRoot? (Any other complaint about
    the value is not "unknown": the tests then run and say what fails.)"""
    h = Httpd()
    try:
        rc, out = h.configtest("MemGuardProcRoot %s\n" % h.root)
        return not (rc != 0 and "Invalid command 'MemGuardProcRoot'" in out)
    finally:
        h.cleanup()


pytestmark = pytest.mark.skipif(not _sampler_known(),
                                reason="needs the sampler (MemGuardProcRoot)")

HAPROXY = shutil.which("haproxy")

STATUS = STATUS_AND_HEALTH


def conf(root, style="fault"):
    return """
MemGuardEngine On
MemGuardProcRoot {root}
MemGuardSampleInterval 50ms
# throttle under 20% of MemTotal available, shed under 10%
MemGuardMinAvailable 20% 10%
MemGuardRejectStyle {style}
""".format(root=root.path, style=style) + STATUS


def set_available(root, share):
    """MemAvailable (and MemFree) at share of MemTotal."""
    kb = int(root.mem_total_kb() * share)
    root.set_meminfo(MemAvailable=kb, MemFree=kb)
    return kb


def wait_auto(h, pred, timeout=15, what=""):
    deadline = time.time() + timeout
    auto = None
    while time.time() < deadline:
        r, data = get(h, "/memguard-status?auto")
        assert r.status == 200, "the status page must answer while shedding"
        auto = parse_auto(data.decode())
        if pred(auto):
            return auto
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s; last ?auto:\n%s"
                         % (what, auto))



def test_health_flips_to_drain_and_back(procroot, httpd_factory, mpm):
    root = procroot()
    kb = set_available(root, 0.5)
    h = httpd_factory(conf(root), mpm=mpm)
    auto = wait_auto(h, lambda a: a["Sampled"] == "1"
                     and a["MemGuardState"] == "ok", what="a first sample")
    assert auto["MemAvailableBytes"] == str(kb * 1024)
    assert int(auto["SampleAgeMs"]) < 2000
    assert int(auto["SamplerPid"]) in h.children()
    r, data = get(h, "/memguard-health")
    assert (r.status, data) == (200, b"up ready 100%\n")

    # shed
    set_available(root, 0.05)
    auto = wait_auto(h, lambda a: a["MemGuardState"] == "shed", what="shed")
    assert auto["MemGuardSignal"] == "available"
    assert auto["MemGuardHealth"] == "drain"
    for path in ("/memguard-health", "/memguard-status?health"):
        r, data = get(h, path)
        assert r.status == 503 and data == b"drain\n"
        assert r.getheader("Cache-Control") == "no-store"
    # the whole page still answers, every format parses, and says why
    page, auto, doc, fams = fetch_all(h)
    assert doc["verdict"]["state"] == "shed"
    assert doc["verdict"]["signal"] == "available"
    assert "shed: available" in doc["verdict"]["why"]
    assert doc["history"] and doc["history"][0]["to"] == "shed"
    assert fams["memguard_state"].samples
    assert [s.value for s in fams["memguard_state"].samples
            if s.labels["state"] == "shed"] == [1]
    assert "shed" in "".join(page.text)
    # new work is refused meanwhile, and counted
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    with pytest.raises(xmlrpc.client.Fault) as e:
        hub.getBuild(1)
    assert e.value.faultCode == 5030
    auto = parse_auto(get(h, "/memguard-status?auto")[1].decode())
    assert int(auto["RefusedShed"]) >= 1

    # throttle: up, with half the weight
    set_available(root, 0.15)
    wait_auto(h, lambda a: a["MemGuardState"] == "throttle", what="throttle")
    r, data = get(h, "/memguard-health")
    assert (r.status, data) == (200, b"up ready 50%\n")

    # and back to ok
    set_available(root, 0.5)
    wait_auto(h, lambda a: a["MemGuardState"] == "ok", what="ok again")
    r, data = get(h, "/memguard-health")
    assert (r.status, data) == (200, b"up ready 100%\n")
    assert raw(h.port, b"GET /memguard-health\r\n") == b"up ready 100%\n"
    doc = fetch_all(h)[2]
    assert [t["to"] for t in doc["history"][:3]] == ["ok", "throttle", "shed"]



# -- a real HAProxy in front of two instances -----------------------------------

class HAProxy:
    def __init__(self, cfg):
        self.dir = tempfile.mkdtemp(prefix="mg-haproxy-")
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(cfg.replace("@DIR@", self.dir))
        p = subprocess.run([HAPROXY, "-c", "-f", self.cfg],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr
        self.proc = subprocess.Popen(
            [HAPROXY, "-db", "-f", self.cfg],
            stdout=open(os.path.join(self.dir, "out.log"), "w"),
            stderr=subprocess.STDOUT, start_new_session=True)

    def stat(self):
        return {(d["pxname"], d["svname"]): d
                for d in haproxy_stat(self.dir)}

    def server(self, name):
        deadline = time.time() + 10
        while True:
            try:
                return self.stat()[("hub", name)]
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)

    def wait(self, name, pred, timeout=20, what=""):
        deadline = time.time() + timeout
        row = None
        while time.time() < deadline:
            row = self.server(name)
            if pred(row):
                return row
            time.sleep(0.05)
        raise AssertionError("haproxy: %s %s: %s" % (name, what, row))

    def stop(self):
        os.killpg(self.proc.pid, 15)
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


HAPROXY_CFG = """
global
    stats socket @DIR@/admin.sock level admin
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # a loaded 2-core test machine can take longer than the 200 ms check
    # interval to answer: a timed-out check must not take a healthy server
    # out (fall 3); the shedding one is caught in-band (observe layer7)
    timeout check 2s
    retries 3
    option redispatch 1
    # a call a shedding server refused before HAProxy noticed goes to the
    # other one (MemGuardRejectStyle http: the refusal is a 503)
    retry-on conn-failure empty-response 503
    option http-buffer-request
frontend fe
    bind 127.0.0.1:{front}
    default_backend hub
backend hub
    balance roundrobin
    option httpchk GET /memguard-health
    http-check expect status 200
    # observe layer7: the first 503 a shedding server answers marks it
    # down at once, before the next health check, so the retry goes to
    # the other server
    default-server check inter 200ms fall 3 rise 2 weight 100 agent-check agent-inter 200ms agent-send "GET /memguard-health\\r\\n" observe layer7 error-limit 1 on-error mark-down
    server a 127.0.0.1:{a} agent-port {a}
    server b 127.0.0.1:{b} agent-port {b}
"""


def two_instances(procroot, httpd_factory):
    """Two hubs (MemGuardRejectStyle http), each on a fixture tree of its
    own with half of MemTotal available: (tree a, tree b, a, b)."""
    ra, rb = procroot(), procroot()
    set_available(ra, 0.5)
    set_available(rb, 0.5)
    return (ra, rb, httpd_factory(conf(ra, style="http")),
            httpd_factory(conf(rb, style="http")))


@pytest.mark.skipif(HAPROXY is None, reason="haproxy not installed")
def test_haproxy_stops_sending_to_shedding_instance(procroot, httpd_factory):
    ra, rb, ha, hb = two_instances(procroot, httpd_factory)
    for h in (ha, hb):
        wait_auto(h, lambda a: a["MemGuardState"] == "ok", what="ok")
    front = free_port()
    lb = HAProxy(HAPROXY_CFG.format(front=front, a=ha.port, b=hb.port))
    stop = threading.Event()
    results = {"ok": 0, "errors": []}
    lock = threading.Lock()

    def client(n):
        i = 0
        while not stop.is_set():
            i += 1
            hub = xmlrpc.client.ServerProxy("http://127.0.0.1:%d/kojihub"
                                            % front)
            try:
                assert hub.getBuild(n * 100000 + i)["id"] == n * 100000 + i
                with lock:
                    results["ok"] += 1
            except Exception as e:  # noqa: BLE001 - every failure counts
                with lock:
                    results["errors"].append(repr(e))

    try:
        for name in ("a", "b"):
            lb.wait(name, lambda r: r["status"] == "UP", what="UP")
        threads = [threading.Thread(target=client, args=(n,))
                   for n in range(4)]
        for t in threads:
            t.start()
        wait_until(lambda: ha.calls() > 0 and hb.calls() > 0,
                   "calls on both", 15)

        # a sheds: HAProxy takes it out of the rotation
        set_available(ra, 0.05)
        wait_auto(ha, lambda a: a["MemGuardState"] == "shed", what="shed")
        lb.wait("a", lambda r: r["status"] in ("DOWN", "DRAIN")
                or r["status"].startswith("DOWN"), what="DOWN")
        time.sleep(0.5)     # requests already in flight finish
        a_calls, b_calls = ha.calls(), hb.calls()
        wait_until(lambda: hb.calls() >= b_calls + 40, "b serves on", 15)
        assert ha.calls() == a_calls, "traffic still reaches the shedding a"

        # a recovers: traffic comes back
        set_available(ra, 0.5)
        wait_auto(ha, lambda a: a["MemGuardState"] == "ok", what="ok")
        lb.wait("a", lambda r: r["status"] == "UP", what="UP again")
        a_calls = ha.calls()
        wait_until(lambda: ha.calls() > a_calls, "traffic back on a", 15)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        lb.stop()
    assert results["errors"] == [], results["errors"][:5]
    assert results["ok"] > 40


@pytest.mark.skipif(HAPROXY is None, reason="haproxy not installed")
def test_haproxy_agent_weight_follows_throttle(procroot, httpd_factory):
    ra, rb, ha, hb = two_instances(procroot, httpd_factory)
    lb = HAProxy(HAPROXY_CFG.format(front=free_port(), a=ha.port,
                                    b=hb.port))
    try:
        lb.wait("a", lambda r: r["status"] == "UP"
                and r["agent_status"] == "L7OK" and r["weight"] == "100",
                what="UP at 100")
        set_available(ra, 0.15)
        wait_auto(ha, lambda a: a["MemGuardState"] == "throttle",
                  what="throttle")
        lb.wait("a", lambda r: r["weight"] == "50", what="weight 50")
        set_available(ra, 0.5)
        lb.wait("a", lambda r: r["weight"] == "100", what="weight 100")
        assert lb.server("b")["weight"] == "100"
    finally:
        lb.stop()
