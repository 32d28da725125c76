"""The status page (SetHandler memguard-status): HTML, ?auto, ?json,
?prometheus and ?health, each parsed strictly; counters equal what the
test did, across children; 405, HEAD, Cache-Control; the page is never
refused by memguard's own limits; mod_status's section; the shipped
configuration block; HAProxy's agent protocol over HTTP/0.9.

Tests that need the sampler (shedding) are in test_status_shed.py."""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import xmlrpc.client

import pytest

from t.harness.mghttpd import TOP, free_port, moddir, version
from t.harness.statuslib import (AUTO_KEYS, REASONS, STATUS_AND_HEALTH,
                                 camel, fetch_all, get, haproxy_stat, raw,
                                 parse_auto, parse_html, parse_prom,
                                 prom_value)
from t.harness.xmlrpc import read_answer

LIMIT = 65536

STATUS = STATUS_AND_HEALTH

BASE = """
MemGuardEngine On
MemGuardMaxRequestBody 64K
""" + STATUS


def refuse_body_size(h, n, concurrent=1):
    """n XML-RPC calls over the body limit, in batches of `concurrent`
    connections.  Within a batch every connection stays open until the
    batch is done: in prefork the child that answered one is still bound
    to it (keep-alive wait or lingering close, seconds either way), so
    the next one is served by another child whatever the scheduler does.
    """
    body = xmlrpc.client.dumps(("x" * (LIMIT + 10),),
                               methodname="echo").encode()
    req = (b"POST /kojihub HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"Content-Type: text/xml\r\nContent-Length: %d\r\n\r\n"
           % len(body))
    done = 0
    while done < n:
        socks = []
        for _ in range(min(concurrent, n - done)):
            s = socket.create_connection(("127.0.0.1", h.port), timeout=30)
            socks.append(s)
            s.sendall(req)
            data = read_answer(s)
            assert b"<int>4130</int>" in data, data[:300]
            done += 1
        for s in socks:
            s.close()


# -- formats, counters --------------------------------------------------------

def test_formats_parse_and_count(httpd_factory, mpm):
    h = httpd_factory(BASE, mpm=mpm)
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    assert hub.getBuild(1)["id"] == 1
    hub("close")()      # no keep-alive connection holding a child
    refuse_body_size(h, 3, concurrent=2)
    page, auto, doc, fams = fetch_all(h)

    # ?auto: every documented key, once; the numbers the test made
    assert set(auto) == set(AUTO_KEYS), set(auto) ^ set(AUTO_KEYS)
    assert auto["RefusedBodySize"] == "3"
    assert auto["Refused"] == "3"
    for r in REASONS:
        if r != "body-size":
            assert auto["Refused" + camel(r)] == "0"
    assert auto["MemGuardStatusVersion"] == "1"
    # the version, from mod_memguard/core/mg_version.h, in every format
    assert auto["MemGuardVersion"] == version()
    assert doc["version"] == version()
    assert prom_value(fams, "memguard_build_info", version=version()) == 1
    assert "mod_memguard " + version() in "".join(page.text)
    h.wait_log(r"MG00520: mod_memguard %s configured" % re.escape(version()))
    # JSON
    assert doc["refused"]["body-size"] == 3
    assert doc["refused_total"] == 3
    other = [m for m in doc["methods"] if m["other"]][0]
    assert other["refused"]["body-size"] == 3
    # Prometheus
    assert prom_value(fams, "memguard_refused", reason="body-size") == 3
    for r in REASONS:
        if r != "body-size":
            assert prom_value(fams, "memguard_refused", reason=r) == 0
    assert prom_value(fams, "memguard_method_refused", method="",
                      reason="body-size") == 3
    # HTML: the refusals table says 3 for body-size
    cells = page.cells
    i = cells.index("body-size")
    assert cells[i + 1] == "3"
    assert "3 refused in all" in "".join(page.text)

    # children: real httpd children, each once, with real slots
    kids = set(h.children())
    pids = [c["pid"] for c in doc["children"]]
    assert pids and len(pids) == len(set(pids))
    assert set(pids) <= kids, (pids, kids)
    slots = [c["slot"] for c in doc["children"]]
    assert len(slots) == len(set(slots))
    assert all(c["generation"] == doc["generation"]
               for c in doc["children"])
    # per-child refusals never exceed the total; in prefork the two
    # connections held at once were served by two children: the total
    # aggregates across processes
    per_child = [c["refused"]["body-size"] for c in doc["children"]]
    assert sum(per_child) <= 3
    if mpm == "prefork":
        assert sum(1 for n in per_child if n > 0) >= 2, doc["children"]
    # A child takes its slot at its first connection: one that had none
    # yet when the HTML and ?auto pages were made (the JSON fetch may be
    # the first of a second event process) is on the pages made after the
    # JSON. No child leaves here (no idle process over the spares).
    r, data = get(h, "/memguard-status")
    later = parse_html(data.decode("utf-8"))
    later_auto = parse_auto(get(h, "/memguard-status?auto")[1].decode())
    assert (int(auto["Children"]) <= len(doc["children"])
            <= int(later_auto["Children"])), (auto, doc, later_auto)
    for c in doc["children"]:
        # the Prometheus page was fetched after the JSON one, and every
        # request (the status fetches too) is accounted in its child
        prom = prom_value(fams, "memguard_child_requests",
                          slot=str(c["slot"]), pid=str(c["pid"]))
        assert c["requests"] <= prom <= c["requests"] + 3
        assert str(c["pid"]) in page.cells + later.cells


def test_no_sample_yet(httpd_factory, mpm):
    h = httpd_factory(STATUS, mpm=mpm)
    page, auto, doc, fams = fetch_all(h)
    assert auto["MemGuardState"] == "unknown"
    assert auto["Sampled"] == "0"
    assert auto["SampleAgeMs"] == "-1"
    assert auto["MemGuardHealth"] == "up ready 100%"
    assert auto["MemGuardReason"] == "no sample yet"
    assert doc["verdict"]["state"] == "unknown"
    assert doc["verdict"]["sampled"] is False
    assert doc["sample"] is None
    assert doc["sampler"]["sample_age_ms"] is None
    assert prom_value(fams, "memguard_state", state="unknown") == 1
    assert prom_value(fams, "memguard_state", state="shed") == 0
    assert "memguard_sample_age_seconds" not in fams
    assert "no sample yet" in "".join(page.text)
    r, data = get(h, "/memguard-status?health")
    assert r.status == 200 and data == b"up ready 100%\n"
    assert r.getheader("Cache-Control") == "no-store"


def test_counters_survive_child_exit(httpd_factory):
    """A slot is zeroed when its child exits; the totals are not."""
    h = httpd_factory(BASE + "MaxConnectionsPerChild 1\n", mpm="prefork")
    refuse_body_size(h, 3)
    deadline = time.time() + 10
    while True:
        _, auto, doc, fams = fetch_all(h)
        left = sum(c["refused"]["body-size"] for c in doc["children"])
        if left == 0 or time.time() > deadline:
            break
        time.sleep(0.1)
    assert auto["RefusedBodySize"] == "3"
    assert prom_value(fams, "memguard_refused", reason="body-size") == 3
    # the children that refused are gone (one connection each)
    assert sum(c["refused"]["body-size"] for c in doc["children"]) == 0


def test_graceful_restart_keeps_counters(httpd_factory, mpm):
    h = httpd_factory(BASE, mpm=mpm)
    refuse_body_size(h, 2)
    auto = parse_auto(get(h, "/memguard-status?auto")[1].decode())
    gen = int(auto["Generation"])
    h.graceful()
    time.sleep(0.5)
    auto = parse_auto(get(h, "/memguard-status?auto")[1].decode())
    assert int(auto["Generation"]) == gen + 1
    assert auto["RefusedBodySize"] == "2"


# -- methods, HEAD, the engine's own limits ----------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_only_get_and_head(httpd_factory, mpm, method):
    h = httpd_factory(BASE, mpm=mpm)
    for path in ("/memguard-status", "/memguard-status?json",
                 "/memguard-health"):
        r, _ = get(h, path, method=method, body=b"x" * 10,
                   headers={"Content-Type": "text/plain"})
        assert r.status == 405, (path, method)
        allow = [a.strip() for a in r.getheader("Allow").split(",")]
        assert "GET" in allow and "HEAD" in allow
        assert "POST" not in allow
        assert r.getheader("Cache-Control") == "no-store"


@pytest.mark.parametrize("query,ctype", [
    ("", "text/html; charset=utf-8"),
    ("?auto", "text/plain; charset=utf-8"),
    ("?json", "application/json"),
    ("?prometheus", "text/plain; version=0.0.4; charset=utf-8"),
    ("?health", "text/plain; charset=utf-8"),
])
def test_head_has_no_body(httpd_factory, mpm, query, ctype):
    h = httpd_factory(BASE, mpm=mpm)
    # raw, so a body sent by mistake would be seen
    out = raw(h.port, b"HEAD /memguard-status%s HTTP/1.1\r\n"
              b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n"
              % query.encode())
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert body == b""
    assert ("Content-Type: %s" % ctype).encode() in head
    assert b"Cache-Control: no-store" in head


def test_status_page_never_refused_by_limits(httpd_factory, mpm):
    """A body limit of 1 byte for the whole server: the status page still
    answers, a POST to it is a 405 (not a 413), and nothing is counted."""
    h = httpd_factory("""
MemGuardEngine On
MemGuardMaxRequestBody 1
MemGuardRejectStyle http
""" + STATUS, mpm=mpm)
    r, _ = get(h, "/memguard-status?auto")
    assert r.status == 200
    r, _ = get(h, "/memguard-status", method="POST", body=b"y" * 5000,
               headers={"Content-Type": "text/xml"})
    assert r.status == 405
    r, _ = get(h, "/memguard-health", method="POST", body=b"y" * 5000,
               headers={"Content-Type": "application/octet-stream"})
    assert r.status == 405
    auto = parse_auto(get(h, "/memguard-status?auto")[1].decode())
    assert auto["Refused"] == "0"
    # the limit itself is alive elsewhere
    r, _ = get(h, "/mgtest?echo=1", method="POST", body=b"y" * 5000,
               headers={"Content-Type": "application/octet-stream"})
    assert r.status == 413
    auto = parse_auto(get(h, "/memguard-status?auto")[1].decode())
    assert auto["RefusedBodySize"] == "1"


def test_query_words(httpd_factory):
    h = httpd_factory(BASE)
    for q, want in [("?json&x=1", "application/json"),
                    ("?x=1&auto", "text/plain; charset=utf-8"),
                    ("?metrics", "text/plain; version=0.0.4; charset=utf-8"),
                    ("?jsonx", "text/html; charset=utf-8"),
                    ("?refresh=5", "text/html; charset=utf-8")]:
        r, _ = get(h, "/memguard-status" + q)
        assert r.status == 200
        assert r.getheader("Content-Type") == want, q


def test_health_location_answers_health_only(httpd_factory, mpm):
    h = httpd_factory(BASE, mpm=mpm)
    for q in ("", "?json", "?auto"):
        r, data = get(h, "/memguard-health" + q)
        assert r.status == 200
        assert data == b"up ready 100%\n"
        assert r.getheader("Content-Type") == "text/plain; charset=utf-8"


# -- mod_status ----------------------------------------------------------------

def test_mod_status_section(httpd_factory, mpm):
    h = httpd_factory(BASE + """
<Location /server-status>
    SetHandler server-status
</Location>
""", mpm=mpm)
    refuse_body_size(h, 2)
    h.wait_log(r"MG00315: sampler started")
    deadline = time.time() + 10
    while True:         # the sampler's first sample is on its way
        r, data = get(h, "/server-status?auto")
        assert r.status == 200
        auto = {}
        for line in data.decode().splitlines():
            if line.startswith("MemGuard"):
                assert re.match(r"^[A-Za-z][A-Za-z0-9]*: \S.*$", line), line
                k, v = line.split(": ", 1)
                auto[k] = v
        if auto.get("MemGuardSampleAgeMs") != "-1" or time.time() > deadline:
            break
        time.sleep(0.05)
    # MemGuardEngine On starts the sampler: a fresh sample, state ok
    age = int(auto.pop("MemGuardSampleAgeMs"))
    assert 0 <= age <= 2000
    assert auto == {"MemGuardState": "ok", "MemGuardHealth": "up ready 100%",
                    "MemGuardRefused": "2", "MemGuardRecycled": "0"}
    r, data = get(h, "/server-status")
    text = data.decode()
    assert "<h2>mod_memguard</h2>" in text
    assert "Refused: 2" in text


# -- the shipped configuration ------------------------------------------------

def shipped_status_block():
    """conf/memguard.conf's commented status blocks, uncommented."""
    with open(os.path.join(TOP, "conf", "memguard.conf")) as f:
        lines = f.read().splitlines()
    out, on = [], False
    for line in lines:
        s = line.strip()
        if s.startswith("#<Location /memguard-"):
            on = True
        if on and s.startswith("#"):
            out.append(s[1:])
        if s == "#</Location>":
            on = False
    return "\n".join(out) + "\n"


AUTHZ_HOST = "LoadModule authz_host_module %s/mod_authz_host.so\n" % (
    moddir())


def test_shipped_conf_block(httpd_factory, mpm):
    block = shipped_status_block()
    assert "SetHandler memguard-status" in block
    assert "SetHandler memguard-health" in block
    assert block.count("Require local") == 2
    h = httpd_factory(AUTHZ_HOST + "MemGuardEngine On\n" + block, mpm=mpm)
    fetch_all(h)
    r, data = get(h, "/memguard-health")
    assert r.status == 200 and data == b"up ready 100%\n"


def test_shipped_conf_refuses_remote(httpd_factory):
    """Require local: an address that is not the server's own is refused
    (the test server listens on 127.0.0.1 only, so the remote client is
    simulated by mod_remoteip's header from a trusted proxy)."""
    md = moddir()
    if not os.path.exists(os.path.join(md, "mod_remoteip.so")):
        pytest.skip("mod_remoteip not available")
    h = httpd_factory("LoadModule remoteip_module %s/mod_remoteip.so\n"
                      "RemoteIPHeader X-Forwarded-For\n"
                      "RemoteIPInternalProxy 127.0.0.1\n"
                      "MemGuardEngine On\n" % md + AUTHZ_HOST
                      + shipped_status_block())
    r, _ = get(h, "/memguard-status")
    assert r.status == 200
    for path in ("/memguard-status", "/memguard-health"):
        r, _ = get(h, path, headers={"X-Forwarded-For": "192.0.2.7"})
        assert r.status == 403
    h.allow(r"AH01630: client denied by server configuration")


# -- HAProxy's agent protocol: HTTP/0.9 on a port of its own -------------------

AGENT_VHOST = """
Listen 127.0.0.1:{port}
<VirtualHost 127.0.0.1:{port}>
    # HAProxy's agent-check reads one line: an HTTP/0.9 answer is just
    # the body ("up ready 100%"), with no status line in front of it.
    HttpProtocolOptions Allow0.9
    <Location /memguard-health>
        SetHandler memguard-health
        Require local
    </Location>
</VirtualHost>
"""


def test_agent_line_over_http09(httpd_factory, mpm):
    """httpd allows HTTP/0.9 by default: the agent line comes straight from
    the main port."""
    h = httpd_factory(BASE, mpm=mpm)
    for path in (b"/memguard-health", b"/memguard-status?health"):
        assert raw(h.port, b"GET " + path + b"\r\n") == b"up ready 100%\n"


def test_agent_line_vhost_when_http09_is_off(httpd_factory, mpm):
    """With HttpProtocolOptions Require1.0 on the server, a port of its
    own with Allow0.9 gives the agent its line; the main port refuses."""
    agent = free_port()
    h = httpd_factory(AUTHZ_HOST + "HttpProtocolOptions Require1.0\n" + BASE
                      + AGENT_VHOST.format(port=agent), mpm=mpm)
    assert raw(agent, b"GET /memguard-health\r\n") == b"up ready 100%\n"
    out = raw(h.port, b"GET /memguard-health\r\n")
    assert not out.startswith(b"up ")
    h.allow(r"AH02401")


HAPROXY = shutil.which("haproxy")


def haproxy_start(cfg):
    d = tempfile.mkdtemp(prefix="mg-haproxy-")
    path = os.path.join(d, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(cfg.replace("@DIR@", d))
    p = subprocess.run([HAPROXY, "-c", "-f", path], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    proc = subprocess.Popen([HAPROXY, "-db", "-f", path],
                            stdout=open(os.path.join(d, "out.log"), "w"),
                            stderr=subprocess.STDOUT,
                            start_new_session=True)
    return proc, d



@pytest.mark.skipif(HAPROXY is None, reason="haproxy not installed")
def test_haproxy_checks_accept_the_answers(httpd_factory):
    """A real HAProxy: http-check on ?health sees 200, and agent-check,
    sending an HTTP/0.9 request to the same port, reads "up ready 100%" (the
    weight stays 100%)."""
    h = httpd_factory(BASE)
    front = free_port()
    proc, d = haproxy_start("""
global
    stats socket @DIR@/admin.sock level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:%d
    default_backend hub
backend hub
    option httpchk GET /memguard-status?health
    http-check expect status 200
    server a 127.0.0.1:%d check inter 200ms weight 100 agent-check agent-port %d agent-inter 200ms agent-send "GET /memguard-health\\r\\n"
""" % (front, h.port, h.port))
    try:
        deadline = time.time() + 10
        row = None
        while time.time() < deadline:
            try:
                rows = haproxy_stat(d)
            except OSError:
                time.sleep(0.1)
                continue
            row = [x for x in rows if x["pxname"] == "hub"
                   and x["svname"] == "a"][0]
            if row["status"] == "UP" and row["agent_status"] == "L7OK":
                break
            time.sleep(0.1)
        assert row["status"] == "UP", row
        assert row["check_status"] == "L7OK", row
        assert row["agent_status"] == "L7OK", row
        assert row["weight"] == "100", row
        hub = xmlrpc.client.ServerProxy("http://127.0.0.1:%d/kojihub" % front)
        assert hub.getBuild(5)["id"] == 5
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(10)
        shutil.rmtree(d, ignore_errors=True)


# -- escaping of method names -------------------------------------------------

def xmlrpc_known(httpd_factory):
    h = httpd_factory(start=False)
    rc, out = h.configtest("MemGuardXmlRpc On\n")
    return not (rc != 0 and "Invalid command 'MemGuardXmlRpc'" in out)


def test_method_name_escaped(httpd_factory, mpm):
    """A call of a method named <script>alert(1)</script> shows up escaped
    in HTML, JSON and Prometheus."""
    if not xmlrpc_known(httpd_factory):
        pytest.skip("needs XML-RPC inspection (MemGuardXmlRpc)")
    h = httpd_factory(BASE + "<Location /kojihub>\nMemGuardXmlRpc On\n"
                      "</Location>\n", mpm=mpm)
    evil = "<script>alert(1)</script>"
    # xmlrpc.client does not escape method names (it would send markup,
    # refused as xml-invalid); a client that does sends this:
    body = ("<?xml version='1.0'?><methodCall><methodName>"
            "&lt;script&gt;alert(1)&lt;/script&gt;</methodName>"
            "<params></params></methodCall>").encode()
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    c.request("POST", "/kojihub", body=body,
              headers={"Content-Type": "text/xml"})
    resp = c.getresponse()
    answer = resp.read()
    c.close()
    assert resp.status == 200
    with pytest.raises(xmlrpc.client.Fault) as e:
        xmlrpc.client.loads(answer)
    assert "is not supported" in e.value.faultString  # the hub's own fault
    assert h.calls(evil) == 1
    r, data = get(h, "/memguard-status")
    text = data.decode()
    assert evil not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    page = parse_html(text)
    assert evil in page.cells      # the parser reads the name back
    doc = json.loads(get(h, "/memguard-status?json")[1])
    assert evil in [m["name"] for m in doc["methods"]]
    fams = parse_prom(get(h, "/memguard-status?prometheus")[1].decode())
    assert any(s.labels.get("method") == evil
               for s in fams["memguard_method_calls"].samples)


def test_concurrent_readers_while_refusing(httpd_factory, mpm):
    """Pages fetched while refusals happen are always well formed and the
    totals only grow."""
    h = httpd_factory(BASE, mpm=mpm)
    stop = threading.Event()
    errors = []

    def refuser():
        while not stop.is_set():
            try:
                refuse_body_size(h, 1)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

    t = threading.Thread(target=refuser)
    t.start()
    last = 0
    deadline = time.time() + 3
    try:
        while time.time() < deadline or last < 3:
            assert time.time() < deadline + 30
            _, auto, doc, fams = fetch_all(h)
            n = int(auto["RefusedBodySize"])
            assert n >= last
            assert prom_value(fams, "memguard_refused",
                              reason="body-size") >= n
            last = n
    finally:
        stop.set()
        t.join(30)
    assert errors == []
    assert last > 0
