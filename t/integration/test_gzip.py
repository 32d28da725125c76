"""Request bodies with Content-Encoding: gzip and mod_deflate's
SetInputFilter DEFLATE: counted and bounded after inflation, never
inflated further once refused, a refusal with body left unread closes the
connection, and a body that does not decode is memguard's own answer.

mod_deflate logs its own view of a broken body (at warn or error); those
lines are allowed here, and only those."""
import gzip
import http.client
import re
import socket
import time
import xmlrpc.client
import zlib

import pytest

from t.harness.statuslib import STATUS_PAGE, page_text, parse_auto
from t.harness.xmlrpc import call_body, fault_of, padded_call

MiB = 1 << 20

# mod_deflate's lines about a body it could not inflate
DEFLATE_LINES = (r"AH0(1387|1388|1394|1395|2481|2482|2485|2619|2649|2805): ")


def hub_conf(extra="", style="fault", engine="On"):
    return """
MemGuardEngine %s
MemGuardRejectStyle %s
<Location /kojihub>
    MemGuardXmlRpc On
    SetInputFilter DEFLATE
%s
</Location>
<Location /mgtest>
    SetInputFilter DEFLATE
%s
</Location>
""" % (engine, style, extra, extra) + STATUS_PAGE


def start(httpd_factory, mpm, extra="", style="fault", engine="On"):
    h = httpd_factory(hub_conf(extra, style, engine), mpm=mpm)
    h.allow(r"\[deflate:(warn|error)\].*" + DEFLATE_LINES)
    return h


def post(h, path, body, ctype="text/xml", conn=None, gz=True):
    c = conn or http.client.HTTPConnection("127.0.0.1", h.port, timeout=60)
    hdrs = {"Content-Type": ctype}
    if gz:
        hdrs["Content-Encoding"] = "gzip"
    c.request("POST", path, body=body, headers=hdrs)
    r = c.getresponse()
    return r, r.read()


def bomb(decoded, head=b"", tail=b""):
    """A gzip member of head + decoded bytes of 'a' + tail, made in
    pieces: a few hundred KiB however large `decoded` is."""
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [co.compress(head)]
    piece = b"a" * (4 * MiB)
    left = decoded
    while left > 0:
        out.append(co.compress(piece[:min(left, len(piece))]))
        left -= len(piece)
    out.append(co.compress(tail))
    out.append(co.flush())
    return b"".join(out)


def string_bomb(decoded):
    return bomb(decoded, b"<?xml version='1.0'?><methodCall><methodName>"
                b"echo</methodName><params><param><value><string>",
                b"</string></value></param></params></methodCall>")


def refused_count(h, reason):
    auto = parse_auto(page_text(h, "/memguard-status?auto"))
    return int(auto["Refused" + "".join(w.capitalize()
                                        for w in reason.split("-"))])


# -- counted after inflation (item: the decoded count) ------------------------

def test_gzip_counted_decoded_not_by_content_length(httpd_factory, mpm):
    """A stored (incompressible) gzip body is a little larger than what it
    decodes to: exactly at the limit once decoded, it passes although its
    Content-Length is over; one byte more is refused with the decoded
    count, in an XML-RPC location and in a plain one."""
    h = start(httpd_factory, mpm, "    MemGuardMaxRequestBody 1M")
    at = padded_call(MiB)
    gz = gzip.compress(at, compresslevel=0)
    assert len(gz) > MiB
    r, data = post(h, "/kojihub", gz)
    assert r.status == 200
    assert xmlrpc.client.loads(data)[0][0] == "x" * (MiB - len(
        call_body("echo", "")))
    r, data = post(h, "/mgtest?echo=1&buffer=1", gz,
                   ctype="application/octet-stream")
    assert r.status == 200 and data == at
    assert h.calls("echo") == 1

    over = gzip.compress(padded_call(MiB + 1), compresslevel=0)
    r, data = post(h, "/kojihub", over)
    code, text = fault_of(data)
    assert code == 4130
    m = re.search(r"request body too large: at least (\d+) bytes > limit "
                  r"1048576 \(MemGuardMaxRequestBody\), decoded from (\d+) "
                  r"gzip bytes$", text)
    assert m, text
    assert int(m.group(1)) > MiB and int(m.group(2)) <= len(over)
    r, data = post(h, "/mgtest?echo=1&buffer=1", over,
                   ctype="application/octet-stream")
    assert r.status == 413
    assert h.calls("echo") == 1
    h.wait_log(r"MG00102: refused POST /mgtest \(body-size\): at least \d+ "
               r"bytes > limit 1048576")


# -- bounded while inflating, and keep-alive off ------------------------------

@pytest.mark.parametrize("kind,inflate_limit", [("body-size", "1200K"),
                                                ("xml-limit", "8M")])
def test_refused_bomb_stops_inflating_and_closes(httpd_factory, mpm, kind,
                                                 inflate_limit):
    """A gzip of 256 MiB of one letter (~250 KiB sent) with a permissive
    ratio limit. Refused over MemGuardMaxRequestBody 1M: mod_deflate never
    inflates past 1.2 MiB (its own DeflateInflateLimitRequestBody would
    say so in the log: reads below it are paced to the room left). Or
    refused by a structure limit once 1 MiB of its string was read: it
    never inflates past 8 MiB (at most 4 MiB per read at this ratio),
    although 256 MiB were coming. Either way the answer says Connection:
    close and the server closes the connection instead of inflating the
    rest to discard it."""
    extra = """    DeflateInflateRatioLimit 100000
    DeflateInflateLimitRequestBody %d
""" % (int(inflate_limit[:-1]) << (10 if inflate_limit[-1] == "K" else 20))
    extra += ("    MemGuardMaxRequestBody 1M" if kind == "body-size"
              else "    MemGuardXmlLimits string=1M")
    h = start(httpd_factory, mpm, extra)
    body = string_bomb(256 * MiB)
    assert len(body) < 300 * 1024
    before = h.calls()
    s = socket.create_connection(("127.0.0.1", h.port), 30)
    s.sendall(b"POST /kojihub HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml"
              b"\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
              % len(body))
    try:
        s.sendall(body)
    except (BrokenPipeError, ConnectionResetError):
        pass        # the server stopped reading: what we want
    data = b""
    t0 = time.monotonic()
    while True:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            break
        if not d:
            break
        data += d
        assert time.monotonic() - t0 < 20, "connection kept open"
    s.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), data[:300]
    assert b"\r\nConnection: close" in head, head
    code, text = fault_of(payload)
    if kind == "body-size":
        assert code == 4130
        assert re.search(r"at least \d+ bytes > limit 1048576 "
                         r"\(MemGuardMaxRequestBody\), decoded from \d+ "
                         r"gzip bytes$", text), text
    else:
        assert code == 4131 and "MemGuardXmlLimits string" in text, text
    assert h.calls() == before
    h.wait_access(r'"POST /kojihub HTTP/1.1" 200 .*mg=reject:%s' % kind)
    # mod_deflate inflated no more than its 1.2 MiB limit
    assert not [x for x in h.log_lines() if "AH0264" in x], \
        "\n".join(h.log_lines()[-10:])


def test_refusal_after_all_was_read_keeps_the_connection(httpd_factory, mpm):
    """A call refused after its whole body was read (a denied method, a
    small gzip body): nothing is unread, so the connection stays open for
    the next call, which works."""
    h = start(httpd_factory, mpm, "    MemGuardMethod hello deny")
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    for gz in (True, False):
        body = call_body("hello")
        r, data = post(h, "/kojihub", gzip.compress(body) if gz else body,
                       conn=c, gz=gz)
        assert fault_of(data)[0] == 4030
        assert r.getheader("Connection") != "close"
    r, data = post(h, "/kojihub", gzip.compress(call_body("getBuild", 5)),
                   conn=c)
    assert xmlrpc.client.loads(data)[0][0]["id"] == 5
    c.close()


def test_chunked_refusal_mid_body_closes(httpd_factory, mpm):
    """A chunked gzip body refused by a rule before its end: the rest is
    unread, the connection closes (no Content-Length to go by)."""
    h = start(httpd_factory, mpm, "    MemGuardMethod hello deny")
    body = gzip.compress(call_body("hello", "y" * MiB), compresslevel=0)
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    try:
        c.request("POST", "/kojihub", headers={
            "Content-Type": "text/xml", "Content-Encoding": "gzip"},
            body=(body[i:i + 8192] for i in range(0, len(body), 8192)),
            encode_chunked=True)
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = c.getresponse()
    data = r.read()
    assert fault_of(data)[0] == 4030
    assert r.getheader("Connection") == "close"
    c.close()


# -- bodies that do not decode: memguard's own answer -------------------------

def broken_bodies():
    call = call_body("getBuild", 1)
    gz = gzip.compress(call)
    return {
        "crc": gz[:-8] + bytes(4) + gz[-4:],
        "isize": gz[:-4] + b"\xff\xff\xff\x7f",
        "truncated": gz[:-5],
        "trailing-garbage": gz + b"garbage",
        "plain-labelled-gzip": call,
        "empty-member": gz[:10],
        "ratio": gzip.compress(b"<?xml version='1.0'?>" + b" " * (8 * MiB)),
    }


@pytest.mark.parametrize("name", sorted(broken_bodies()))
def test_undecodable_gzip_is_memguards_answer(httpd_factory, mpm, name):
    """Each broken gzip body (or one over mod_deflate's default ratio
    limit of 200) gets memguard's answer: fault 4000 in an XML-RPC
    location, 400 in http style and for a non-XML-RPC body; logged with
    MG00102, counted, noted; the application never sees it."""
    body = broken_bodies()[name]
    h = start(httpd_factory, mpm)
    before = h.calls()
    r, data = post(h, "/kojihub", body)
    assert r.status == 200, data[:300]
    code, text = fault_of(data)
    assert code == 4000, text
    assert text.startswith("memguard: request body could not be decoded: "
                           "the gzip body "), text
    if name == "ratio":
        assert "DeflateInflateRatioLimit" in text, text
    else:
        assert "is not valid" in text, text
    r, data = post(h, "/mgtest?echo=1&buffer=1", body,
                   ctype="application/octet-stream")
    assert r.status == 400
    assert b"xxxx" not in data and b"getBuild" not in data
    assert h.calls() == before
    lines = h.wait_log(r"\[memguard:info\].*MG00102: refused POST "
                       r"/(kojihub|mgtest) \(body-encoding\): the gzip body",
                       count=2)
    assert len(lines) == 2, lines
    h.wait_access(r'"POST /kojihub HTTP/1.1" 200 .*mg=reject:body-encoding')
    h.wait_access(r'"POST /mgtest\?echo=1&buffer=1 HTTP/1.1" 400 .*'
                  r'mg=reject:body-encoding')
    assert refused_count(h, "body-encoding") == 2
    # a good call on the same server still works
    assert xmlrpc.client.ServerProxy(h.hub_url).getBuild(9)["id"] == 9


def test_undecodable_gzip_http_style(httpd_factory, mpm):
    h = start(httpd_factory, mpm, style="http")
    r, data = post(h, "/kojihub", broken_bodies()["crc"])
    assert r.status == 400
    assert r.getheader("Connection") == "close"
    h.wait_log(r"MG00102: refused POST /kojihub \(body-encoding\)")
    h.wait_access(r'" 400 .*mg=reject:body-encoding')


def test_undecodable_gzip_detect_only(httpd_factory, mpm):
    """DetectOnly logs it as ours and leaves httpd's answer alone."""
    h = start(httpd_factory, mpm, engine="DetectOnly")
    r, data = post(h, "/kojihub", broken_bodies()["truncated"])
    assert r.status == 400
    h.wait_log(r"MG00101: DetectOnly: would refuse POST /kojihub "
               r"\(body-encoding\)")
    h.wait_access(r'" 400 .*mg=detect:body-encoding')
