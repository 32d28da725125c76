"""MemGuardMaxRequestBody, MemGuardRejectStyle, MemGuardEngine, and the
configuration checks of the foundation."""
import http.client
import os
import re
import socket
import threading
import time
import xmlrpc.client

import pytest

from t.harness.mghttpd import read_to_end
from t.harness.xmlrpc import padded_call, post, read_answer

LIMIT = 65536

BASE = """
MemGuardEngine On
MemGuardMaxRequestBody 64K
"""


# -- configuration checks ---------------------------------------------------

@pytest.mark.parametrize("line,directive,value", [
    ("MemGuardMaxRequestBody -1", "MemGuardMaxRequestBody", "-1"),
    ("MemGuardMaxRequestBody 12Q", "MemGuardMaxRequestBody", "12Q"),
    ("MemGuardMaxRequestBody 99999999999999999999G",
     "MemGuardMaxRequestBody", "99999999999999999999G"),
    # httpd's own parser refuses an empty argument before we see it, with
    # "<directive> takes one argument"
    ('MemGuardMaxRequestBody ""', "MemGuardMaxRequestBody",
     "takes one argument"),
    ("MemGuardMaxRequestBody 1.5", "MemGuardMaxRequestBody", "1.5"),
    ("MemGuardMaxRequestBody 16M16", "MemGuardMaxRequestBody", "16M16"),
    ("MemGuardEngine maybe", "MemGuardEngine", "maybe"),
    ('MemGuardEngine ""', "MemGuardEngine", "takes one argument"),
    ("MemGuardRejectStyle soap", "MemGuardRejectStyle", "soap"),
    ("MemGuardRetryAfter -3", "MemGuardRetryAfter", "-3"),
    ("MemGuardRetryAfter 5s", "MemGuardRetryAfter", "5s"),
])
def test_configtest_refuses_bad_values(httpd_factory, line, directive, value):
    h = httpd_factory(start=False)
    h.configtest_refuses(line + "\n", directive, value)


def test_configtest_accepts_good_values(httpd_factory):
    h = httpd_factory(start=False)
    h.configtest_accepts("""
MemGuardEngine DetectOnly
MemGuardMaxRequestBody 1.5G
MemGuardRejectStyle http
MemGuardRetryAfter 30
<Location /x>
    MemGuardEngine Off
    MemGuardMaxRequestBody 0
    MemGuardRejectStyle fault
</Location>
""")


def test_retry_after_not_in_location(httpd_factory):
    h = httpd_factory(start=False)
    rc, out = h.configtest("<Location /x>\nMemGuardRetryAfter 3\n"
                           "</Location>\n")
    assert rc != 0
    assert "MemGuardRetryAfter" in out


# -- Content-Length over the limit -------------------------------------------

def test_content_length_over_limit_gets_fault(httpd_factory, mpm):
    h = httpd_factory(BASE, mpm=mpm)
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    assert hub.echo("small") == "small"
    before = h.calls()
    with pytest.raises(xmlrpc.client.Fault) as e:
        hub.echo("x" * (LIMIT + 10))
    assert e.value.faultCode == 4130
    assert "request body too large" in e.value.faultString
    assert "> limit 65536 (MemGuardMaxRequestBody)" in e.value.faultString
    size = int(e.value.faultString.split(": ")[-1].split(" bytes")[0])
    assert size > LIMIT
    # the application never saw it
    assert h.calls() == before
    h.wait_log(r"\[memguard:info\].*MG00102: refused POST /kojihub "
               r"\(body-size\): %d bytes > limit 65536" % size)
    # the access log carries the note, and the answer was a 200 fault
    h.wait_access(r'" 200 .*mg=reject:body-size')
    # a normal call still works afterwards
    assert hub.getBuild(3)["id"] == 3


# Content-Length values HTTP does not write: httpd answers 400 before the
# application, whatever the module parsed them as; a good call follows.
BAD_LENGTHS = ["abc", "-1", "+99", "1 38", "0x63", "99e0", "9" * 25,
               "99, 99"]


@pytest.mark.parametrize("value", BAD_LENGTHS)
def test_a_content_length_http_does_not_write_gets_400(httpd_factory, mpm,
                                                       value):
    h = httpd_factory(BASE + """
<Location /kojihub>
    MemGuardXmlRpc On
</Location>
""", mpm=mpm)
    body = b"x" * 99
    before = h.calls()
    with socket.create_connection(("127.0.0.1", h.port)) as s:
        s.sendall(b"POST /kojihub HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Content-Type: text/xml\r\nContent-Length: %s\r\n\r\n"
                  % value.encode() + body)
        s.settimeout(30)
        answer = read_to_end(s, resets_ok=True)
    assert answer.startswith(b"HTTP/1.1 400 "), (value, answer[:200])
    assert h.calls() == before
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    assert hub.echo("after") == "after"


def test_content_length_over_limit_http_style(httpd_factory, mpm):
    h = httpd_factory(BASE + "MemGuardRejectStyle http\n", mpm=mpm)
    before = h.calls()
    r, data = post(h, "/kojihub", padded_call(LIMIT + 1))
    assert r.status == 413
    assert r.getheader("Connection") == "close"
    assert h.calls() == before
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    with pytest.raises(xmlrpc.client.ProtocolError) as e:
        hub.echo("x" * (LIMIT + 10))
    assert e.value.errcode == 413
    assert h.calls() == before


def test_non_xmlrpc_request_gets_http_status(httpd_factory, mpm):
    h = httpd_factory(BASE, mpm=mpm)
    r, _ = post(h, "/mgtest?echo=1", b"a" * (LIMIT + 1),
                headers={"Content-Type": "application/octet-stream"})
    assert r.status == 413


def test_refused_before_any_body_byte(httpd_factory, mpm):
    """With Expect: 100-continue the refusal must come without a
    100 Continue, and without reading a byte of the body."""
    h = httpd_factory(BASE, mpm=mpm)
    s = socket.create_connection(("127.0.0.1", h.port), timeout=10)
    s.sendall(b"POST /kojihub HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Content-Type: text/xml\r\nContent-Length: 10485760\r\n"
              b"Expect: 100-continue\r\n\r\n")
    data = read_answer(s)
    s.close()
    assert data.startswith(b"HTTP/1.1 200 OK"), data
    assert b"100 Continue" not in data
    assert b"<int>4130</int>" in data
    assert b"10485760 bytes &gt; limit 65536" in data
    assert h.calls() == 0


# -- chunked bodies ----------------------------------------------------------

@pytest.mark.parametrize("style,status", [("http", 413), ("fault", 200)])
def test_chunked_over_limit_refused_midstream(httpd_factory, mpm, style,
                                              status):
    h = httpd_factory(BASE + "MemGuardRejectStyle %s\n" % style, mpm=mpm)
    body = padded_call(LIMIT * 4)
    r, data = post(h, "/mgtest?echo=1&buffer=1", body, chunked=True)
    assert r.status == status, data[:300]
    assert b"xxxxxxxxxx" not in data
    if style == "fault":
        f = None
        try:
            xmlrpc.client.loads(data)
        except xmlrpc.client.Fault as e:
            f = e
        assert f is not None and f.faultCode == 4130
        # the limit said once, with the bytes really counted so far
        m = re.search(r"request body too large: at least (\d+) bytes > "
                      r"limit 65536 \(MemGuardMaxRequestBody\)$",
                      f.faultString)
        assert m and LIMIT < int(m.group(1)) <= LIMIT + 8192, f.faultString
    h.wait_log(r"MG00102: refused POST /mgtest \(body-size\)")


@pytest.mark.parametrize("style", ["http", "fault"])
def test_chunked_over_limit_streaming_handler_sees_abort(httpd_factory, mpm,
                                                         style):
    """A handler that already streamed part of its answer cannot get a
    clean refusal: the client must see an incomplete response, never a
    short 200."""
    h = httpd_factory(BASE + "MemGuardRejectStyle %s\n" % style, mpm=mpm)
    body = b"a" * (LIMIT * 4)
    # incomplete read, or a reset because the client was still sending
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError,
                        BrokenPipeError)) as e:
        post(h, "/mgtest?echo=1", body, chunked=True,
             headers={"Content-Type": "application/octet-stream"})
    if isinstance(e.value, http.client.IncompleteRead):
        assert len(e.value.partial) <= LIMIT
    h.wait_log(r"MG00103: response already started")


def test_chunked_to_hub_over_limit_never_reaches_app(httpd_factory, mpm):
    h = httpd_factory(BASE + "WSGIChunkedRequest On\n", mpm=mpm)
    before = h.calls()
    r, data = post(h, "/kojihub", padded_call(LIMIT * 3), chunked=True)
    assert r.status == 200
    with pytest.raises(xmlrpc.client.Fault) as e:
        xmlrpc.client.loads(data)
    assert e.value.faultCode == 4130
    assert h.calls() == before
    # the access log says what the client got, not what mod_wsgi set after
    h.wait_access(r'" 200 .*mg=reject:body-size')
    h.allow(r"wsgi:error.*(request data read error|"
            r"Apache/mod_wsgi request data read error|OSError|Traceback|"
            r"File |raise|line \d+|Exception|IOError|    )")


@pytest.mark.parametrize("size", [0, 1, LIMIT - 1, LIMIT])
@pytest.mark.parametrize("chunked", [False, True])
def test_at_and_below_limit_arrives_byte_exact(httpd_factory, mpm, size,
                                               chunked):
    h = httpd_factory(BASE, mpm=mpm)
    body = bytes((i * 7 + 3) % 256 for i in range(size))
    r, data = post(h, "/mgtest?echo=1", body, chunked=chunked,
                   headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200
    assert data == body


def test_at_limit_xmlrpc_passes(httpd_factory, mpm):
    h = httpd_factory(BASE, mpm=mpm)
    r, data = post(h, "/kojihub", padded_call(LIMIT))
    assert r.status == 200
    assert xmlrpc.client.loads(data)[0][0].startswith("xxx")
    assert h.calls("echo") == 1


# -- per-location override, DetectOnly, Off -----------------------------------

def test_location_overrides_server_value(httpd_factory, mpm):
    h = httpd_factory("""
MemGuardEngine On
MemGuardMaxRequestBody 1M
<Location /mgtest>
    MemGuardMaxRequestBody 16K
</Location>
<Location /kojihub>
    MemGuardRejectStyle http
</Location>
""", mpm=mpm)
    r, _ = post(h, "/mgtest?echo=1", b"a" * 20000,
                headers={"Content-Type": "application/octet-stream"})
    assert r.status == 413
    # /kojihub inherits 1M from the server and overrides only the style
    r, data = post(h, "/kojihub", padded_call(20000))
    assert r.status == 200
    assert xmlrpc.client.loads(data)[0][0].startswith("x")
    r, _ = post(h, "/kojihub", padded_call((1 << 20) + 1))
    assert r.status == 413


def test_detect_only_lets_it_through_and_logs(httpd_factory, mpm):
    h = httpd_factory(BASE.replace("On", "DetectOnly"), mpm=mpm)
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    big = "x" * (LIMIT + 10)
    assert hub.echo(big) == big
    assert h.calls("echo") == 1
    h.wait_log(r"\[memguard:info\].*MG00101: DetectOnly: would refuse "
               r"POST /kojihub \(body-size\)")
    body = padded_call(LIMIT * 2)
    r, data = post(h, "/mgtest?echo=1", body, chunked=True)
    assert r.status == 200 and data == body
    assert len(h.wait_access(r"mg=detect:body-size", count=2)) == 2


def test_engine_off_in_location(httpd_factory, mpm):
    h = httpd_factory(BASE + "<Location /kojihub>\nMemGuardEngine Off\n"
                      "</Location>\n", mpm=mpm)
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    big = "y" * (LIMIT + 10)
    assert hub.echo(big) == big
    assert not any("MG001" in line for line in h.log_lines())


# -- graceful restarts --------------------------------------------------------

def test_graceful_restarts_while_requests_run(httpd_factory, mpm):
    h = httpd_factory(BASE, mpm=mpm)
    stop = threading.Event()
    results = {"ok": 0, "fail": []}
    lock = threading.Lock()

    def client(n):
        hub = xmlrpc.client.ServerProxy(h.hub_url)
        i = 0
        while not stop.is_set():
            i += 1
            try:
                if i % 5 == 0:
                    try:
                        hub.echo("z" * (LIMIT + 1))
                        raise AssertionError("over-limit call passed")
                    except xmlrpc.client.Fault as f:
                        assert f.faultCode == 4130
                else:
                    assert hub.getBuild(n * 1000 + i)["id"] == n * 1000 + i
                with lock:
                    results["ok"] += 1
            except Exception as e:  # noqa: BLE001 - every failure counts
                with lock:
                    results["fail"].append(repr(e))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()

    def progress(n=8, timeout=20):
        """Wait until n more calls have been answered (no rate assumed)."""
        with lock:
            want = results["ok"] + n
        deadline = time.time() + timeout
        while results["ok"] < want and time.time() < deadline:
            time.sleep(0.02)
        assert results["ok"] >= want, ("no progress", results["fail"][:5])

    try:
        for _ in range(5):
            progress()          # calls in flight across every restart
            h.graceful()
        progress()
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert results["fail"] == []
    assert results["ok"] >= 6 * 8
    assert h.generation_count() == 6


def send_chunked(h, path, body):
    """POST body in 8 KB chunks on a raw connection (the server may close
    it before the last one) and return all it answered."""
    s = socket.create_connection(("127.0.0.1", h.port), timeout=10)
    s.sendall(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Content-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
              % path)
    try:
        for i in range(0, len(body), 8192):
            part = body[i:i + 8192]
            s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        s.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    return read_to_end(s, resets_ok=True)


def test_http_style_refusal_is_the_only_response_on_the_wire(httpd_factory,
                                                             mpm):
    """After a 413 from inside the body filter, the application's own error
    response (mod_wsgi's 500 after the failed read) must not follow it on
    the connection."""
    h = httpd_factory(BASE + "MemGuardRejectStyle http\n"
                      "WSGIChunkedRequest On\n", mpm=mpm)
    h.allow(r"wsgi:error")
    data = send_chunked(h, b"/kojihub", padded_call(LIMIT * 3))
    assert data.startswith(b"HTTP/1.1 413 "), data[:200]
    assert data.count(b"HTTP/1.1 ") == 1, data
    assert h.calls() == 0


# An application that catches the failed read and answers anyway: its
# answer must not follow ours on the wire. It notes that it wrote, so the
# test knows the guard had something to drop.
STUBBORN_APP = '''
import os

def application(environ, start_response):
    try:
        environ["wsgi.input"].read()
        status = "200 OK"
    except Exception:
        status = "500 Internal Server Error"
    body = b"STUBBORN-APP-ANSWER\\n" * 64
    with open(os.path.join(os.path.dirname(__file__), "run", "wrote"),
              "w") as f:
        f.write(status)
    start_response(status, [("Content-Type", "text/plain"),
                            ("Content-Length", str(len(body)))])
    return [body]
'''


@pytest.mark.parametrize("style", ["http", "fault"])
def test_an_answer_after_our_refusal_is_dropped(httpd_factory, mpm, style):
    """The body filter refuses a chunked body mid-stream; the application
    catches its failed read and writes a whole response of its own.
    MEMGUARD_GUARD, which joins the chain with our answer, drops it: the
    client gets our answer alone."""
    h = httpd_factory(start=False, mpm=mpm)
    with open(h.path("stubborn.wsgi"), "w") as f:
        f.write(STUBBORN_APP)
    h.conf = (BASE + "MemGuardRejectStyle %s\nWSGIChunkedRequest On\n"
              'WSGIScriptAlias /stubborn "%s"\n'
              % (style, h.path("stubborn.wsgi")))
    h.start()
    h.allow(r"wsgi:error")
    data = send_chunked(h, b"/stubborn", padded_call(LIMIT * 3))
    want = b"HTTP/1.1 413 " if style == "http" else b"HTTP/1.1 200 "
    assert data.startswith(want), data[:200]
    assert data.count(b"HTTP/1.1 ") == 1, data
    if style == "fault":
        assert b"<name>faultCode</name>" in data, data
    deadline = time.time() + 10
    while (not os.path.exists(h.path("run", "wrote")) and
           time.time() < deadline):
        time.sleep(0.05)
    with open(h.path("run", "wrote")) as f:
        assert f.read() == "500 Internal Server Error"
    assert b"STUBBORN" not in data, data
    h.wait_log(r"MG00102: refused POST /stubborn \(body-size\)")
