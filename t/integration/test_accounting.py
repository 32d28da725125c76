"""Per-request memory accounting: /proc/self/statm read at the start and
the end of each request, the notes memguard-rss and memguard-rss-delta in
the access log (prefork and event)."""
import http.client
import re
import time

from t.harness.mghttpd import get

MiB = 1 << 20

NOTES = re.compile(r"pid=(\d+) mg=\S+ rss=(\S+) delta=(\S+)$")


def access_notes(h, needle):
    """(pid, rss, delta) of the access-log line containing needle."""
    lines = h.wait_access(re.escape(needle))
    m = NOTES.search(lines[-1])
    assert m, lines[-1]
    return m.group(1), m.group(2), m.group(3)


def test_notes_show_size_and_delta(httpd_factory, mpm):
    h = httpd_factory("MemGuardEngine On\n", mpm=mpm)
    # One connection, so every request lands in the same child.
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    r, body = get(h, "/mgtest?warm=1", c)
    assert r.status == 200
    r, body = get(h, "/mgtest?alloc=40", c)
    assert r.status == 200
    r, body = get(h, "/mgtest?release=1", c)
    assert r.status == 200
    c.close()

    pid, rss, delta = access_notes(h, "warm=1")
    assert int(rss) > 1 * MiB
    # a request that allocates nothing moves the size by little
    assert abs(int(delta)) < 4 * MiB

    pid2, rss2, delta2 = access_notes(h, "alloc=40")
    assert pid2 == pid
    # 40 MiB, touched page by page: +40 MiB, give or take malloc's and the
    # other threads' (event) own pages
    assert 38 * MiB <= int(delta2) <= 46 * MiB, delta2
    assert int(rss2) >= int(rss) + 38 * MiB

    pid3, rss3, delta3 = access_notes(h, "release=1")
    assert pid3 == pid
    # the 1 MiB blocks were mmapped: freeing them gives the pages back
    assert -46 * MiB <= int(delta3) <= -38 * MiB, delta3


def test_static_file_keeps_the_last_size(httpd_factory, mpm):
    """A file httpd sends itself cannot grow the child: its size is not
    read and it gets no notes; the child's size stays the one the last
    request that ran code left, and the application's requests around it
    are measured as ever."""
    h = httpd_factory("MemGuardEngine On\n", mpm=mpm)
    with open(h.path("htdocs", "plain.txt"), "w") as f:
        f.write("plain\n" * 100)
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    for path in ("/mgtest?alloc=40", "/plain.txt", "/missing.txt",
                 "/mgtest?release=1"):
        r, _ = get(h, path, c)
        assert r.status == (404 if "missing" in path else 200), path
    c.close()
    pid, rss, delta = access_notes(h, "alloc=40")
    assert 38 * MiB <= int(delta) <= 46 * MiB, delta
    for path in ("/plain.txt", "/missing.txt"):
        pid2, rss2, delta2 = access_notes(h, path)
        assert (pid2, rss2, delta2) == (pid, "-", "-"), path
    # and the next request that runs code is measured from that size
    pid3, rss3, delta3 = access_notes(h, "release=1")
    assert pid3 == pid
    assert -46 * MiB <= int(delta3) <= -38 * MiB, delta3


def test_engine_off_records_nothing(httpd_factory):
    h = httpd_factory("""
MemGuardEngine On
<Location /mgtest/off>
    MemGuardEngine Off
</Location>
""")
    r, _ = get(h, "/mgtest/off?x=1")
    assert r.status == 200
    r, _ = get(h, "/mgtest/on?x=1")
    assert r.status == 200
    _, rss, delta = access_notes(h, "/mgtest/off")
    assert (rss, delta) == ("-", "-")
    _, rss, delta = access_notes(h, "/mgtest/on")
    assert int(rss) > 0 and delta != "-"


def test_refused_request_is_accounted(httpd_factory):
    """A request refused at header_parser (body over the limit) still gets
    its notes: accounting starts before the body check."""
    h = httpd_factory("MemGuardEngine On\nMemGuardMaxRequestBody 1K\n")
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    c.request("POST", "/mgtest?refused=1", body=b"x" * 4096,
              headers={"Content-Type": "application/octet-stream"})
    r = c.getresponse()
    r.read()
    c.close()
    assert r.status == 413
    _, rss, delta = access_notes(h, "refused=1")
    assert int(rss) > 0 and delta != "-"


def test_shed_request_is_accounted(procroot, httpd_factory, mpm):
    """The documented order of our header parsers: accounting, then the
    verdict gate, then the body check (mod_memguard.c). A request the gate
    sheds was accounted first: its access line has the notes, and the
    child's slot counted it."""
    root = procroot()
    h = httpd_factory("""
MemGuardEngine On
MemGuardProcRoot "%s"
MemGuardSampleInterval 20ms
MemGuardMinAvailable 1G
""" % root.path, mpm=mpm)
    root.set_meminfo(MemAvailable=100 * 1024)        # kB: 100 MiB < 1 GiB
    deadline = time.monotonic() + 10
    while True:
        r, _ = get(h, "/mgtest?probe=1")
        if r.status == 503:
            break
        assert time.monotonic() < deadline, "never shed"
        time.sleep(0.02)
    r, _ = get(h, "/mgtest?shed=1")
    assert r.status == 503
    h.wait_log(r"MG00102: refused GET /mgtest\?shed=1 \(shed\)|"
               r"MG00102: refused GET /mgtest \(shed\)")
    line = h.wait_access(r"shed=1 HTTP/1.1\" 503 ")[-1]
    assert "mg=reject:shed" in line, line
    _, rss, delta = access_notes(h, "shed=1")
    assert int(rss) > 0 and delta != "-", line
