"""MemGuardMaxResponse: the MEMGUARD_RESPCAP output filter, against a real
httpd (prefork and event), the demo hub under mod_wsgi and mod_mgtest."""
import gzip
import http.client
import re
import socket
import xmlrpc.client

import pytest

from t.harness.mghttpd import read_to_end

CAP = 1 << 20  # 1M

BASE = """
MemGuardEngine On
MemGuardMaxResponse 1M
"""

FAULT_RX = (r"^memguard: response too large: (\d+) bytes > limit 1048576 "
            r"\(MemGuardMaxResponse\)$")
RECYCLE_RX = (r"\[memguard:info\].*MG00449: child marked for recycling: "
              r"response over its cap")


def get(h, path, headers=None, method="GET"):
    """One request on a fresh connection; returns (response, body) or
    raises what http.client raises on an incomplete response."""
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r, r.read()
    finally:
        c.close()


def post_xml(h, method, *params):
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=60)
    try:
        c.request("POST", "/kojihub",
                  body=xmlrpc.client.dumps(params, methodname=method).encode(),
                  headers={"Content-Type": "text/xml"})
        r = c.getresponse()
        return r, r.read()
    finally:
        c.close()


def access_line(h, needle):
    """The access log lines containing needle, once there is one
    (mod_log_config writes it after the response)."""
    return h.wait_access(re.escape(needle))


def raw_get(h, path):
    """GET over a plain socket; everything the server sent until it
    closed the connection."""
    s = socket.create_connection(("127.0.0.1", h.port), timeout=30)
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode())
    return read_to_end(s, resets_ok=True)


# -- configuration checks ---------------------------------------------------

@pytest.mark.parametrize("value", ["-1", "12Q", "1.5", "16M16", "M",
                                   "99999999999999999999G"])
def test_configtest_refuses_bad_values(httpd_factory, value):
    h = httpd_factory(start=False)
    h.configtest_refuses("MemGuardMaxResponse %s\n" % value,
                         "MemGuardMaxResponse", "'%s'" % value)


def test_configtest_refuses_empty_and_bad_in_location(httpd_factory):
    h = httpd_factory(start=False)
    rc, out = h.configtest('MemGuardMaxResponse ""\n')
    assert rc != 0 and "MemGuardMaxResponse" in out, out
    rc, out = h.configtest("<Location /x>\nMemGuardMaxResponse 2X\n"
                           "</Location>\n")
    assert rc != 0 and "MemGuardMaxResponse: '2X'" in out, out


def test_configtest_accepts_good_values(httpd_factory):
    h = httpd_factory(start=False)
    h.configtest_accepts("""
MemGuardEngine On
MemGuardMaxResponse 1.5G
<VirtualHost 127.0.0.1:1>
    MemGuardMaxResponse 64K
</VirtualHost>
<Location /x>
    MemGuardMaxResponse 0
</Location>
<Directory /tmp>
    MemGuardMaxResponse 12345
</Directory>
""")


# -- known length over the cap: a clean refusal -------------------------------

@pytest.mark.parametrize("wsgi", ["embedded", "daemon"])
def test_hub_known_length_over_cap_gets_fault(httpd_factory, mpm, wsgi):
    h = httpd_factory(BASE, mpm=mpm, wsgi=wsgi)
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    assert len(hub.queryHistory(10)) == 10
    with pytest.raises(xmlrpc.client.Fault) as e:
        hub.queryHistory(5000)
    assert e.value.faultCode == 5001
    m = re.match(FAULT_RX, e.value.faultString)
    assert m, e.value.faultString
    size = int(m.group(1))
    assert size > 5000 * 1000  # ~1.5 KB a row: the hub's real length
    # the cap is about the response: the application did run
    assert h.calls("queryHistory") == 2
    h.wait_log(r"\[memguard:info\].*MG00102: refused POST /kojihub "
               r"\(response-size\): %d bytes > limit 1048576 "
               r"\(MemGuardMaxResponse\)" % size)
    h.wait_log(RECYCLE_RX)
    # what the client got: a 200 fault, noted
    lines = access_line(h, "mg=reject:response-size")
    assert len(lines) == 1 and '" 200 ' in lines[0], h.access_lines()
    # a cheap call afterwards works (fault answers close the connection)
    assert hub.getBuild(3)["id"] == 3
    assert len(hub.listBuilds(20)) == 20


def test_hub_fault_is_only_the_fault(httpd_factory, mpm):
    """The application's output is discarded, its headers too: the client
    gets one well-formed fault document with its own length."""
    h = httpd_factory(BASE, mpm=mpm)
    r, data = post_xml(h, "queryHistory", 5000)
    assert r.status == 200
    assert r.getheader("Content-Type").startswith("text/xml")
    assert int(r.getheader("Content-Length")) == len(data)
    assert len(data) < 1000
    assert b"history row" not in data and b"pkg" not in data
    with pytest.raises(xmlrpc.client.Fault) as e:
        xmlrpc.client.loads(data)
    assert e.value.faultCode == 5001
    assert h.calls("queryHistory") == 1


def test_hub_known_length_over_cap_http_style(httpd_factory, mpm):
    h = httpd_factory(BASE + "MemGuardRejectStyle http\n", mpm=mpm)
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    with pytest.raises(xmlrpc.client.ProtocolError) as e:
        hub.queryHistory(5000)
    assert e.value.errcode == 500
    assert h.calls("queryHistory") == 1
    r, data = post_xml(h, "queryHistory", 5000)
    assert r.status == 500
    assert b"history row" not in data
    assert b"Internal Server Error" in data  # httpd's own page, via ap_die
    assert h.calls("queryHistory") == 2
    h.wait_log(RECYCLE_RX, count=2)
    lines = h.wait_access(r"mg=reject:response-size", count=2)
    assert len(lines) == 2 and all('" 500 ' in x for x in lines), lines
    assert hub.getBuild(5)["id"] == 5


def test_mgtest_known_length_over_cap_gets_500(httpd_factory, mpm):
    """A GET is not an XML-RPC call: HTTP 500 in fault style too, and
    not one of the application's bytes."""
    h = httpd_factory(BASE, mpm=mpm)
    r, data = get(h, "/mgtest?emit=3000000")
    assert r.status == 500
    assert b"xxxx" not in data
    h.wait_log(r"MG00102: refused GET /mgtest \(response-size\): 3000000 "
               r"bytes > limit 1048576 \(MemGuardMaxResponse\)")
    h.wait_log(RECYCLE_RX)
    lines = access_line(h, "/mgtest?emit=3000000")
    assert len(lines) == 1 and '" 500 ' in lines[0], lines
    assert "mg=reject:response-size" in lines[0]


# -- streamed over the cap: aborted, never a complete 200 ---------------------

def test_streamed_over_cap_is_aborted(httpd_factory, mpm):
    h = httpd_factory(BASE, mpm=mpm)
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError)) \
            as e:
        get(h, "/mgtest?emit=3000000&chunked=1&flush=1")
    if isinstance(e.value, http.client.IncompleteRead):
        assert len(e.value.partial) <= CAP
    h.wait_log(r"\[memguard:info\].*MG00402: refused GET /mgtest "
               r"\(response-size\): at least \d+ bytes > limit 1048576 "
               r"\(MemGuardMaxResponse\); \d+ bytes already passed on: "
               r"aborting")
    h.wait_log(RECYCLE_RX)
    lines = access_line(h, "chunked=1&flush=1")
    assert len(lines) == 1, h.access_lines()
    assert "mg=reject:response-size" in lines[0]
    assert '" 200 ' not in lines[0]
    # the same over a raw socket: no chunked terminator, at most the cap
    data = raw_get(h, "/mgtest?emit=3000000&chunked=1&flush=1")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head, head
    assert not body.endswith(b"0\r\n\r\n")
    assert body.count(b"x") <= CAP
    # the server is fine afterwards
    r, data = get(h, "/mgtest?emit=1000")
    assert r.status == 200 and data == b"x" * 1000


def test_small_streamed_response_over_small_cap_gets_clean_refusal(
        httpd_factory, mpm):
    """Under 64 KiB the whole streamed response is held back, so a
    response over a small cap is still refused cleanly."""
    h = httpd_factory("MemGuardEngine On\nMemGuardMaxResponse 32K\n",
                      mpm=mpm)
    r, data = get(h, "/mgtest?emit=40000&chunked=1&flush=1")
    assert r.status == 500
    assert b"xxxx" not in data
    h.wait_log(r"MG00102: refused GET /mgtest \(response-size\): "
               r"(at least )?\d+ bytes > limit 32768")


# -- boundaries ----------------------------------------------------------------

@pytest.mark.parametrize("cap", [1000, 100000])
@pytest.mark.parametrize("chunked", [False, True])
def test_at_and_below_cap_passes_over_refused(httpd_factory, mpm, cap,
                                              chunked):
    h = httpd_factory("MemGuardEngine On\nMemGuardMaxResponse %d\n" % cap,
                      mpm=mpm)
    q = "&chunked=1&flush=1" if chunked else ""
    for n in (0, 1, cap - 1, cap):
        r, data = get(h, "/mgtest?emit=%d%s" % (n, q))
        assert r.status == 200, n
        assert data == b"x" * n, n
    # cap + 1 is refused cleanly even when streamed: mgtest writes 64 KiB
    # blocks, the first is held back (not more than the holding bound),
    # and the second brings the total over the cap before a byte left.
    r, data = get(h, "/mgtest?emit=%d%s" % (cap + 1, q))
    assert r.status == 500
    assert b"xxxx" not in data
    h.wait_log(r"refused GET /mgtest \(response-size\)")
    at_cap = access_line(h, "emit=%d%s " % (cap, q))
    assert len(at_cap) == 1 and '" 200 ' in at_cap[0], h.access_lines()
    assert "mg=-" in at_cap[0]
    over = access_line(h, "emit=%d%s " % (cap + 1, q))
    assert len(over) == 1 and '" 500 ' in over[0], h.access_lines()
    assert "mg=reject:response-size" in over[0]


def test_hub_at_cap_passes(httpd_factory, mpm):
    """Measure a real hub answer, then cap at exactly its length."""
    h = httpd_factory("MemGuardEngine On\n", mpm=mpm)
    r, data = post_xml(h, "listBuilds", 300)
    assert r.status == 200
    n = len(data)
    h.stop()
    for cap, ok in ((n, True), (n - 1, False)):
        h2 = httpd_factory("MemGuardEngine On\nMemGuardMaxResponse %d\n"
                           % cap, mpm=mpm)
        hub = xmlrpc.client.ServerProxy(h2.hub_url)
        if ok:
            assert len(hub.listBuilds(300)) == 300
        else:
            with pytest.raises(xmlrpc.client.Fault) as e:
                hub.listBuilds(300)
            assert e.value.faultCode == 5001
            assert "%d bytes > limit %d" % (n, cap) in e.value.faultString


# -- what is left alone --------------------------------------------------------

def test_head_and_not_modified_left_alone(httpd_factory, mpm):
    h = httpd_factory(BASE, mpm=mpm)
    r, data = get(h, "/mgtest?emit=3000000", method="HEAD")
    assert r.status == 200
    assert r.getheader("Content-Length") == "3000000"
    assert data == b""
    assert not any("response-size" in x for x in h.log_lines())


def test_deflate_does_not_hide_the_size(httpd_factory, mpm):
    """The cap is on the bytes the application produced: 3 MB of 'x'
    compress to a few KB, and are still refused."""
    h = httpd_factory(BASE + "<Location /mgtest>\nSetOutputFilter DEFLATE\n"
                      "</Location>\n", mpm=mpm)
    gz = {"Accept-Encoding": "gzip"}
    r, data = get(h, "/mgtest?emit=3000000", headers=gz)
    assert r.status == 500
    r, data = get(h, "/mgtest?emit=500000", headers=gz)
    assert r.status == 200
    assert r.getheader("Content-Encoding") == "gzip"
    assert len(data) < 100000
    assert gzip.decompress(data) == b"x" * 500000
    r, data = get(h, "/mgtest?emit=500000&chunked=1&flush=1", headers=gz)
    assert r.status == 200
    assert gzip.decompress(data) == b"x" * 500000


# -- DetectOnly, <Location>, Off ------------------------------------------------

def test_detect_only_lets_everything_through_and_logs(httpd_factory, mpm):
    h = httpd_factory(BASE.replace("On", "DetectOnly"), mpm=mpm)
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    rows = hub.queryHistory(5000)
    assert len(rows) == 5000
    h.wait_log(r"\[memguard:info\].*MG00101: DetectOnly: would refuse "
               r"POST /kojihub \(response-size\): \d+ bytes > limit 1048576")
    r, data = get(h, "/mgtest?emit=3000000&chunked=1&flush=1")
    assert r.status == 200 and data == b"x" * 3000000
    h.wait_log(r"MG00101: DetectOnly: would refuse GET /mgtest "
               r"\(response-size\): at least \d+ bytes > limit 1048576")
    access_line(h, "emit=3000000&chunked=1&flush=1")
    lines = h.wait_access(r"mg=detect:response-size", count=2)
    assert len(lines) == 2 and all('" 200 ' in x for x in lines), lines
    assert not any("MG00449" in x or "MG00102" in x or "MG00402" in x
                   for x in h.log_lines())


def test_location_overrides(httpd_factory, mpm):
    h = httpd_factory("""
MemGuardEngine On
MemGuardMaxResponse 1M
<Location /mgtest>
    MemGuardMaxResponse 10K
</Location>
<Location /kojihub>
    MemGuardMaxResponse 0
</Location>
""", mpm=mpm)
    r, _ = get(h, "/mgtest?emit=20000")
    assert r.status == 500
    r, data = get(h, "/mgtest?emit=10240")
    assert r.status == 200 and len(data) == 10240
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    assert len(hub.queryHistory(2000)) == 2000
    assert h.calls("queryHistory") == 1


def test_engine_off_in_location_inserts_nothing(httpd_factory, mpm):
    h = httpd_factory(BASE + "<Location /mgtest>\nMemGuardEngine Off\n"
                      "</Location>\n", mpm=mpm)
    r, data = get(h, "/mgtest?emit=3000000&chunked=1&flush=1")
    assert r.status == 200 and len(data) == 3000000
    r, data = get(h, "/mgtest?emit=3000000")
    assert r.status == 200 and len(data) == 3000000
    assert not any("MG004" in x or "response-size" in x
                   for x in h.log_lines())
