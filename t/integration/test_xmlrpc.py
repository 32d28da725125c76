"""MemGuardXmlRpc: calls inspected before the handler, spooled, replayed.

Every refusal test also proves the call never reached the application:
the demo hub's call log (h.calls()) does not move.
"""
import datetime
import glob
import gzip
import http.client
import os
import random
import re
import socket
import string
import threading
import time
import xmlrpc.client

import pytest

from t.harness.mghttpd import read_to_end
from t.harness.xmlrpc import call_body, fault_of, post, read_answer

INSPECTED = """
MemGuardEngine On
<Location /kojihub>
    MemGuardXmlRpc On
    SetInputFilter DEFLATE
</Location>
"""


def start_hub(httpd_factory, conf, mpm, **kw):
    """An httpd whose /kojihub is inspected per conf, and whose /plainhub
    serves the same application with memguard off (the baseline)."""
    h = httpd_factory(start=False, mpm=mpm, **kw)
    h.conf = conf + """
WSGIScriptAlias /plainhub "%s"
<Location /plainhub>
    MemGuardEngine Off
</Location>
""" % h.path("hub.wsgi")
    h.start()
    return h


def random_text(n, seed=1):
    rnd = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + " .-_/<>&'\"\u00e9\u4e2d"
    return "".join(rnd.choice(alphabet) for _ in range(n))


# Every XML-RPC type Python marshals, nested, with unicode.
EVERY_TYPE = {
    "nil": None,
    "true": True,
    "false": False,
    "int": -2147483648,
    "double": 3.25,
    "string": "plain",
    "unicode": "\u0161\u0165astn\u00e9 \u0440\u0443\u0441 \u4e2d\u6587 "
               "\U0001f600 <&>",
    "empty": "",
    "datetime": xmlrpc.client.DateTime(datetime.datetime(2026, 11, 3, 4, 5,
                                                         6)),
    "binary": xmlrpc.client.Binary(bytes(range(256)) * 3),
    "array": [1, "two", 3.0, None, [[], {}], [{"deep": [{"deeper": "x"}]}]],
    "struct": {"a": {"b": {"c": {"d": [1, 2, {"e": "f"}]}}}},
}


def test_calls_identical_inspected_and_not(httpd_factory, mpm):
    """Real calls return byte-identical responses with inspection on (and
    the response goes through the replay) and with memguard off."""
    h = start_hub(httpd_factory, INSPECTED, mpm)
    mc = xmlrpc.client.MultiCall(xmlrpc.client.ServerProxy(h.hub_url))
    calls = [
        call_body("getBuild", 7),
        call_body("listBuilds", 500),
        call_body("queryHistory", 50),
        call_body("echo", EVERY_TYPE),
        call_body("echo", random_text(5000)),
        call_body("hello"),
        call_body("system.multicall", [
            {"methodName": "getBuild", "params": [1]},
            {"methodName": "listBuilds", "params": [3]},
            {"methodName": "echo", "params": [EVERY_TYPE]},
        ]),
    ]
    del mc
    before = h.calls()
    for body in calls:
        r1, inspected = post(h, "/kojihub", body)
        r2, plain = post(h, "/plainhub", body)
        assert r1.status == r2.status == 200
        assert inspected == plain
        assert b"<fault>" not in inspected
    # every call reached the application, twice
    assert h.calls() == before + 2 * len(calls)
    # and through xmlrpc.client, the values survive the round trip
    hub = xmlrpc.client.ServerProxy(h.hub_url, allow_none=True,
                                    use_builtin_types=True)
    got = hub.echo(EVERY_TYPE)
    assert got["unicode"] == EVERY_TYPE["unicode"]
    assert got["binary"] == bytes(range(256)) * 3
    assert got["datetime"] == datetime.datetime(2026, 11, 3, 4, 5, 6)
    assert got["nil"] is None and got["struct"] == EVERY_TYPE["struct"]
    assert len(hub.listBuilds(500)) == 500
    h.wait_log(r"MG00201: inspected listBuilds: \d+ bytes read in place")


# Who reads a call, and where: a small call with a Content-Length is read
# in place (not spooled, not replayed: the application reads it from
# httpd; http.client writes the body apart from its headers, and it is
# waited for); the fast path takes one written as clients write it,
# libxml2 everything else. All answer the same.
INPLACE = r"read in place"
MEMORY = r"spooled \(memory\)"
READERS = [
    ("python", call_body("echo", "a"), False, INPLACE, "the fast path"),
    ("declared utf-8", b"<?xml version='1.0' encoding='UTF-8'?>\n"
     b"<methodCall><methodName>echo</methodName><params><param><value>"
     b"<string>bb</string></value></param></params></methodCall>\n",
     False, INPLACE, "the fast path"),
    ("comment", b"<?xml version='1.0'?><methodCall><!-- c --><methodName>"
     b"echo</methodName><params><param><value>ccc</value></param></params>"
     b"</methodCall>", False, INPLACE, "libxml2"),
    ("non-ascii", call_body("echo", "d\u00e9"), False, INPLACE, "libxml2"),
    ("reference", call_body("echo", "e<&>"), False, INPLACE, "libxml2"),
    ("chunked", call_body("echo", "ffffff"), True, MEMORY, "libxml2"),
    ("over 64 KiB", call_body("echo", "g" * 70000), False, MEMORY,
     "libxml2"),
]


def test_who_reads_a_call(httpd_factory, mpm):
    """Small calls in one piece, in the form clients write, are read by
    the fast path, anything else by libxml2: the same answers as memguard
    off, the reader named in the debug line."""
    h = start_hub(httpd_factory, INSPECTED, mpm)
    for what, body, chunked, where, reader in READERS:
        r1, inspected = post(h, "/kojihub", body, chunked=chunked)
        r2, plain = post(h, "/plainhub", body)
        assert r1.status == r2.status == 200, what
        assert inspected == plain, what
        assert b"<fault>" not in inspected, what
        h.wait_log(r"MG00201: inspected echo: %d bytes %s, read by %s, "
                   % (len(body), where, reader))
    # a refusal the fast path decides: precise, and nothing reached the hub
    before = h.calls()
    r, data = post(h, "/kojihub", b"<methodCall><methodName>echo</methodName>"
                   b"<params><param><value><foo/></value></param></params>"
                   b"</methodCall>")
    assert r.status == 200
    assert fault_of(data) == (-32600, "memguard: invalid XML-RPC call: "
                              "unexpected <foo>")
    assert h.calls() == before


def raw_request(body, extra=b""):
    return (b"POST /kojihub HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: text/xml\r\nContent-Length: %d\r\n%s\r\n"
            % (len(body), extra)) + body


def read_answers(s, n):
    """n XML-RPC answers from socket s: their bodies, in order."""
    data, out = b"", []
    s.settimeout(30)
    while len(out) < n:
        while data.count(b"</methodResponse>") < n:
            chunk = s.recv(65536)
            assert chunk, (out, data)
            data += chunk
        for part in data.split(b"HTTP/1.1 ")[1:]:
            out.append(part.split(b"\r\n\r\n", 1)[1])
    return out


def test_in_place_hostile(httpd_factory, mpm):
    """Reading a small body where it lies takes exactly its bytes, and
    nothing of the next request's: pipelined calls, a refused one followed
    by a good one on the same connection, a body that comes late (waited
    for), one that comes in two pieces (spooled; refused, the connection
    stays), one behind Expect: 100-continue."""
    h = start_hub(httpd_factory, INSPECTED, mpm)
    good = call_body("echo", "first")
    bad = (b"<methodCall><methodName>echo</methodName><params><param>"
           b"<value><foo/></value></param></params></methodCall>")
    second = call_body("echo", "second")
    before = h.calls()
    # three calls in one write: read in place, each its own bytes
    with socket.create_connection(("127.0.0.1", h.port)) as s:
        s.sendall(raw_request(good) + raw_request(bad) + raw_request(second))
        a, b, c = read_answers(s, 3)
    assert xmlrpc.client.loads(a)[0][0] == "first"
    assert fault_of(b)[1] == ("memguard: invalid XML-RPC call: "
                              "unexpected <foo>")
    assert xmlrpc.client.loads(c)[0][0] == "second"
    assert h.calls() == before + 2
    h.wait_log(r"MG00201: inspected echo: %d bytes read in place, read by "
               r"the fast path" % len(good))
    # a refusal takes the body it read in place: the connection stays
    with socket.create_connection(("127.0.0.1", h.port)) as s:
        s.sendall(raw_request(bad))
        (b1,) = read_answers(s, 1)
        s.sendall(raw_request(second))
        (c1,) = read_answers(s, 1)
    assert fault_of(b1)[0] == -32600
    assert xmlrpc.client.loads(c1)[0][0] == "second"
    # the body after the headers, late: waited for, then read in place
    late = call_body("echo", "late")
    with socket.create_connection(("127.0.0.1", h.port)) as s:
        req = raw_request(late)
        s.sendall(req[:-len(late)])
        time.sleep(0.3)
        s.sendall(late)
        (d,) = read_answers(s, 1)
    assert xmlrpc.client.loads(d)[0][0] == "late"
    h.wait_log(r"MG00201: inspected echo: %d bytes read in place"
               % len(late))
    # the body in two pieces, the second late: not all there, spooled
    split = call_body("echo", "split")
    with socket.create_connection(("127.0.0.1", h.port)) as s:
        s.sendall(raw_request(split)[:-10])
        time.sleep(0.3)
        s.sendall(split[-10:])
        (d,) = read_answers(s, 1)
    assert xmlrpc.client.loads(d)[0][0] == "split"
    h.wait_log(r"MG00201: inspected echo: %d bytes spooled \(memory\)"
               % len(split))
    # a refused body in two pieces was spooled to its end before it was
    # judged: nothing of it is left unread, the connection stays
    with socket.create_connection(("127.0.0.1", h.port)) as s:
        req = raw_request(bad)
        s.sendall(req[:-10])
        time.sleep(0.3)
        s.sendall(req[-10:])
        (b2,) = read_answers(s, 1)
        s.sendall(raw_request(second))
        (c2,) = read_answers(s, 1)
    assert fault_of(b2)[0] == -32600
    assert xmlrpc.client.loads(c2)[0][0] == "second"
    # Expect: 100-continue: the body waits for httpd's answer
    cont = call_body("echo", "continued")
    with socket.create_connection(("127.0.0.1", h.port)) as s:
        req = raw_request(cont, b"Expect: 100-continue\r\n")
        s.sendall(req[:-len(cont)])
        s.settimeout(10)
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue")
        s.sendall(cont)
        (e,) = read_answers(s, 1)
    assert xmlrpc.client.loads(e)[0][0] == "continued"
    h.wait_log(r"MG00201: inspected echo: %d bytes spooled \(memory\)"
               % len(cont))


def test_a_body_that_never_comes_waits_one_timeout(httpd_factory, mpm):
    """Headers of a small call and no body: waited for once (Timeout), then
    408 and the reason in the error log; the application never runs."""
    h = start_hub(httpd_factory, INSPECTED + "Timeout 2\n", mpm)
    before = h.calls()
    body = call_body("echo", "never")
    with socket.create_connection(("127.0.0.1", h.port)) as s:
        started = time.monotonic()
        s.sendall(raw_request(body)[:-len(body)])
        s.settimeout(30)
        answer = read_to_end(s, resets_ok=True)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    # one Timeout, not one to look and another to spool
    assert 1.5 < waited < 3.5, waited
    h.wait_log(r"MG00206: reading the request body failed after 0 bytes")
    assert h.calls() == before


def test_chunked_call_gets_a_content_length(httpd_factory, mpm):
    """A chunked call is handed to mod_wsgi with its true Content-Length:
    without inspection mod_wsgi refuses it (no WSGIChunkedRequest)."""
    h = start_hub(httpd_factory, INSPECTED, mpm)
    text = random_text(300000)
    body = call_body("echo", text)
    before = h.calls("echo")
    r, data = post(h, "/kojihub", body, chunked=True, chunk=1000)
    assert r.status == 200
    assert xmlrpc.client.loads(data)[0][0] == text
    assert h.calls("echo") == before + 1
    # the baseline: mod_wsgi alone answers 411 Length Required
    h.allow(r"requiring chunked transfer encoding, but optional support")
    r, _ = post(h, "/plainhub", body, chunked=True)
    assert r.status == 411
    assert h.calls("echo") == before + 1


def test_gzip_call_is_inspected_decompressed(httpd_factory, mpm):
    """Content-Encoding: gzip with SetInputFilter DEFLATE: the inspector
    sees, counts and the application receives the decompressed body."""
    h = start_hub(httpd_factory, INSPECTED + """
<Location /kojihub>
    MemGuardMethod hello deny
</Location>
""", mpm)
    text = random_text(200000, seed=2)
    body = call_body("echo", text)
    gz = gzip.compress(body)
    assert len(gz) < len(body)
    r, data = post(h, "/kojihub", gz, headers={"Content-Encoding": "gzip"})
    assert r.status == 200, data[:500]
    assert xmlrpc.client.loads(data)[0][0] == text
    # counted decompressed: the spooled length is the plain body's
    h.wait_log(r"MG00201: inspected echo: %d bytes spooled" % len(body))
    # chunked and compressed at once
    r, data = post(h, "/kojihub", gz, chunked=True,
                   headers={"Content-Encoding": "gzip"})
    assert xmlrpc.client.loads(data)[0][0] == text
    # a denied method is found inside the compressed body
    before = h.calls()
    r, data = post(h, "/kojihub", gzip.compress(call_body("hello")),
                   headers={"Content-Encoding": "gzip"})
    assert fault_of(data)[0] == 4030
    assert h.calls() == before


LIMITS = """
<Location /kojihub>
    MemGuardXmlLimits depth=14 items=10 string=1K multicall=3
    MemGuardMethod hello deny
</Location>
"""

# (what, body, faultCode, exact faultString or a regex)
REFUSALS = [
    ("denied", call_body("hello"), 4030,
     "memguard: method not allowed here: 'hello' (MemGuardMethod hello "
     "deny)"),
    ("depth", call_body("echo", [[[[1]]]]), 4131,
     "memguard: XML-RPC call over a structure limit: nesting depth 15 > "
     "limit 14 (MemGuardXmlLimits depth)"),
    ("items", call_body("echo", list(range(11))), 4131,
     "memguard: XML-RPC call over a structure limit: array items 11 > "
     "limit 10 (MemGuardXmlLimits items)"),
    ("string", call_body("echo", "x" * 5000), 4131,
     re.compile(r"memguard: XML-RPC call over a structure limit: string "
                r"bytes \d+ > limit 1024 \(MemGuardXmlLimits string\)")),
    ("multicall", call_body("system.multicall", [
        {"methodName": "getBuild", "params": [i]} for i in range(4)]), 4131,
     "memguard: XML-RPC call over a structure limit: multicall calls 4 > "
     "limit 3 (MemGuardXmlLimits multicall)"),
    ("malformed", b"<?xml version='1.0'?>\n<methodCall><methodName>echo"
     b"</methodName><params><param><value><string>x</value>", -32700,
     re.compile(r"memguard: parse error: not well-formed XML: .+")),
    ("truncated", call_body("echo", "abc")[:-20], -32700,
     re.compile(r"memguard: parse error: not well-formed XML: .+")),
    ("not-xmlrpc", b"<?xml version='1.0'?>\n<html><body>hi</body></html>",
     -32600, re.compile(r"memguard: invalid XML-RPC call: .+")),
    ("doctype", b"<?xml version='1.0'?>\n<!DOCTYPE x [<!ENTITY a 'b'>]>"
     b"<methodCall><methodName>echo</methodName></methodCall>", -32600,
     re.compile(r"memguard: invalid XML-RPC call: .+")),
    ("empty", b"", -32700,
     re.compile(r"memguard: parse error: not well-formed XML: .+")),
    ("denied-in-multicall", call_body("system.multicall", [
        {"methodName": "getBuild", "params": [1]},
        {"methodName": "hello", "params": []}]), 4030,
     "memguard: method not allowed here: 'hello' in call 2 of "
     "system.multicall (MemGuardMethod hello deny)"),
]


def test_refused_calls_never_reach_the_application(httpd_factory, mpm):
    h = start_hub(httpd_factory, INSPECTED + LIMITS, mpm)
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    # a multicall nests 14 deep; so does this
    assert hub.echo([[[1]]]) == [[[1]]]
    assert hub.echo(list(range(10))) == list(range(10))
    before = h.calls()
    for what, body, code, text in REFUSALS:
        r, data = post(h, "/kojihub", body)
        assert r.status == 200, what
        got_code, got_text = fault_of(data)
        assert got_code == code, (what, got_text)
        if isinstance(text, str):
            assert got_text == text, what
        else:
            assert text.fullmatch(got_text), (what, got_text)
        assert h.calls() == before, what
    # the same through xmlrpc.client and chunked
    with pytest.raises(xmlrpc.client.Fault) as e:
        hub.hello()
    assert e.value.faultCode == 4030
    r, data = post(h, "/kojihub", REFUSALS[2][1], chunked=True, chunk=7)
    assert fault_of(data)[0] == 4131
    assert h.calls() == before
    # logged at INFO with the numbers, noted for the access log
    h.wait_log(r"\[memguard:info\].*MG00102: refused POST /kojihub "
               r"\(xml-limit\): array items 11 > limit 10")
    for reason in ("method-denied", "xml-limit", "xml-parse", "xml-invalid"):
        h.wait_access(r"mg=reject:%s\b" % reason)
    # the hub still serves
    assert hub.getBuild(5)["id"] == 5


def test_http_style_statuses(httpd_factory, mpm):
    h = start_hub(httpd_factory, INSPECTED + LIMITS +
                  "MemGuardRejectStyle http\n", mpm)
    before = h.calls()
    expect = {"denied": 403, "depth": 413, "items": 413, "multicall": 413,
              "malformed": 400, "not-xmlrpc": 400,
              "denied-in-multicall": 403}
    for what, body, _, _ in REFUSALS:
        if what not in expect:
            continue
        r, data = post(h, "/kojihub", body)
        assert r.status == expect[what], (what, data[:300])
    assert h.calls() == before


def spool_fds(h, spooldir):
    """Open descriptors of httpd's children on files in spooldir."""
    found = []
    for pid in h.children():
        for fd in glob.glob("/proc/%d/fd/*" % pid):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith(spooldir + "/"):
                found.append(target)
    return found


def test_spool_to_file_byte_exact_and_unlinked(httpd_factory, mpm):
    h = httpd_factory(start=False, mpm=mpm)
    spool = h.path("spool")
    h.conf = INSPECTED + """
<Location /kojihub>
    MemGuardSpoolMemory 64K
    MemGuardSpoolDir "%s"
</Location>
""" % spool
    h.start()
    text = random_text(2 * 1024 * 1024, seed=3)
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    assert hub.echo(text) == text
    h.wait_log(r"MG00201: inspected echo: %d bytes spooled \(file\)"
               % len(call_body("echo", text)))
    assert os.listdir(spool) == []
    # while a spooled call runs, its file is open but already unlinked
    result = {}

    def slow():
        mc = xmlrpc.client.MultiCall(xmlrpc.client.ServerProxy(h.hub_url))
        mc.echo(text)
        mc.slowCall(1.5)
        result["r"] = list(mc())

    t = threading.Thread(target=slow)
    t.start()
    deadline = time.time() + 10
    open_files = []
    while time.time() < deadline and not open_files:
        open_files = spool_fds(h, spool)
        time.sleep(0.05)
    assert open_files and all(f.endswith(" (deleted)") for f in open_files)
    assert os.listdir(spool) == []
    t.join(30)
    assert result["r"] == [text, 1.5]
    assert os.listdir(spool) == []
    # below MemGuardSpoolMemory it stays in memory (chunked: a small
    # call with a Content-Length is read in place, not spooled)
    r, data = post(h, "/kojihub", call_body("echo", "small"), chunked=True)
    assert xmlrpc.client.loads(data)[0][0] == "small"
    h.wait_log(r"MG00201: inspected echo: \d+ bytes spooled \(memory\)")


def test_body_limit_applies_to_inspected_bodies(httpd_factory, mpm):
    h = start_hub(httpd_factory, INSPECTED + """
<Location /kojihub>
    MemGuardMaxRequestBody 64K
</Location>
""", mpm)
    before = h.calls()
    body = call_body("echo", random_text(100000))
    r, data = post(h, "/kojihub", body, chunked=True)
    code, text = fault_of(data)
    assert code == 4130
    assert text.endswith("> limit 65536 (MemGuardMaxRequestBody)")
    # compressed under the limit, over it once inflated
    r, data = post(h, "/kojihub", gzip.compress(body),
                   headers={"Content-Encoding": "gzip"})
    assert fault_of(data)[0] == 4130
    assert h.calls() == before
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    assert hub.getBuild(2)["id"] == 2


def test_builtin_bound_without_max_request_body(httpd_factory, mpm):
    """MemGuardMaxRequestBody 0: inspected bodies are still bounded (64
    MiB); a declared length over it is refused before a byte is read."""
    h = start_hub(httpd_factory, INSPECTED, mpm)
    s = socket.create_connection(("127.0.0.1", h.port), 10)
    s.sendall(b"POST /kojihub HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml"
              b"\r\nContent-Length: 70000000\r\n\r\n<?xml version='1.0'?>")
    data = read_answer(s)
    s.close()
    code, text = fault_of(data.split(b"\r\n\r\n", 1)[1])
    assert code == 4130
    assert text == ("memguard: request body too large: 70000000 bytes > "
                    "limit 67108864 (MemGuardXmlRpc bound without "
                    "MemGuardMaxRequestBody)")


def test_detect_only_replays_everything(httpd_factory, mpm):
    h = start_hub(httpd_factory, """
MemGuardEngine DetectOnly
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardXmlLimits items=10
    MemGuardMethod hello deny
</Location>
""", mpm)
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    before = h.calls()
    assert hub.hello() == "hello"
    assert hub.echo(list(range(20))) == list(range(20))
    body = call_body("echo", "chunked")
    r, data = post(h, "/kojihub", body, chunked=True)
    assert xmlrpc.client.loads(data)[0][0] == "chunked"
    assert h.calls() == before + 3
    h.wait_log(r"MG00101: DetectOnly: would refuse POST /kojihub "
               r"\(method-denied\): 'hello'")
    h.wait_log(r"MG00101: DetectOnly: would refuse POST /kojihub "
               r"\(xml-limit\): array items 11 > limit 10")


def test_other_requests_untouched(httpd_factory, mpm):
    h = start_hub(httpd_factory, INSPECTED, mpm)
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
    c.request("GET", "/kojihub")
    r = c.getresponse()
    assert r.status == 200 and b"demo XML-RPC hub" in r.read()
    # not an inspected location: bytes pass as they are
    r, data = post(h, "/mgtest?echo=1", b"not xml at all",
                   headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200 and data == b"not xml at all"


# Each hostile body and the faultString it must get: every part said once,
# the bytes that decided it named, one line.
PARSE_ERR = "parse error: not well-formed XML"
WORDING = [
    (b"<?xml version='1.0'?><!DOCTYPE x><methodCall/>", -32600,
     "invalid XML-RPC call", "DOCTYPE is not allowed"),
    (call_body("getBuild", 1).decode().encode("utf-32"), -32700, PARSE_ERR,
     "UTF-32 is not supported: the body starts with bytes ff fe 00 00 3c 00 "
     "00 00"),
    (bytes.fromhex("3082010a02820101") + bytes(200), -32700, PARSE_ERR,
     "not XML: the body starts with bytes 30 82 01 0a 02 82 01 01"),
    (b"method=getBuild&id=1", -32700, PARSE_ERR,
     "not XML: the body starts with bytes 6d 65 74 68 6f 64 3d 67 "
     "(\"method=g\")"),
    (b"<?xml version='1.0'?><methodCall><methodName>a\xff\xfe</methodName>"
     b"</methodCall>", -32700, PARSE_ERR,
     "line 1: Input is not proper UTF-8, indicate encoding ! Bytes: 0xFF "
     "0xFE 0x3C 0x2F"),
]


@pytest.mark.parametrize("body,code,summary,detail", WORDING,
                         ids=["doctype", "utf32", "der", "form", "utf8"])
def test_refusal_wording(httpd_factory, mpm, body, code, summary, detail):
    h = start_hub(httpd_factory, INSPECTED, mpm)
    before = h.calls()
    r, data = post(h, "/kojihub", body)
    assert r.status == 200
    assert fault_of(data) == (code, "memguard: %s: %s" % (summary, detail))
    assert h.calls() == before
    # the same words in the log line, after the reason
    h.wait_log(r"MG00102: refused POST /kojihub \((xml-parse|xml-invalid)\): "
               + re.escape(detail) + "$")


@pytest.mark.parametrize("ctype", ["application/ocsp-request",
                                   "application/x-www-form-urlencoded"])
def test_non_xml_bodies_get_http_400_with_the_reason_logged(httpd_factory,
                                                            mpm, ctype):
    """Not an XML content type: HTTP 400, and the log says why precisely
    (not libxml2's "Document is empty")."""
    h = start_hub(httpd_factory, INSPECTED, mpm)
    body = (bytes.fromhex("3082010a02820101") if "ocsp" in ctype
            else b"a=1&b=2")
    r, data = post(h, "/kojihub", body, headers={"Content-Type": ctype})
    assert r.status == 400
    h.wait_log(r"MG00102: refused POST /kojihub \(xml-parse\): not XML: the "
               r"body starts with bytes %s" % " ".join(
                   "%02x" % b for b in body[:8]))
    assert not [x for x in h.log_lines() if "Document is empty" in x]
