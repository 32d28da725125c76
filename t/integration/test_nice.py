"""MemGuardMethod nice=: under prefork the call runs
at a lower CPU priority and its child returns to its own at the end of the
request (the parent, root, raised RLIMIT_NICE for it) and serves on; where
it may not go back (httpd started without CAP_SYS_RESOURCE), the child is
recycled after the call; a call without the rule, a refused call and
DetectOnly leave the priority alone; threaded MPMs say once that nice= is
not applied. The demo hub's getNice() reports the nice value of the
thread running it (embedded mod_wsgi: the httpd child's)."""
import http.client
import re
import subprocess
import time
import xmlrpc.client

import pytest

from t.harness.xmlrpc import call_body, fault_of, post

NICE_CONF = """
MemGuardEngine %(engine)s
WSGIScriptAlias /plainhub "%(root)s/hub.wsgi"
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardMethod getNice nice=7 max-body=700
    MemGuardMethod echo max-body=700
</Location>
<Location /memguard-status>
    SetHandler memguard-status
</Location>
"""

MG450 = re.compile(r"MG00450: recycling this child \(pid (\d+)\) after this "
                   r"request: it ran a call at a lower CPU priority")


# httpd started without the capability to raise RLIMIT_NICE (as in a
# container), and with RLIMIT_NICE 0: a child cannot return
NO_NICE_BACK = ["prlimit", "--nice=0:0", "capsh", "--drop=cap_sys_resource",
                "--", "-c", 'exec "$@"', "no-nice-back"]


def can_raise_rlimit_nice():
    """Can this (root) process raise RLIMIT_NICE, as httpd's parent does
    for its children? Not without CAP_SYS_RESOURCE (some containers)."""
    return subprocess.run(["prlimit", "--nice=20:20", "true"],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


BACK = can_raise_rlimit_nice()


def nice_hub(httpd_factory, mpm="prefork", engine="On", prefix=None):
    h = httpd_factory(start=False, mpm=mpm, prefix=prefix)
    h.conf = NICE_CONF % {"engine": engine, "root": h.root}
    h.start()
    return h


def get_nice(h, path, c=None):
    """(nice, Connection header) of one getNice call on c, or on a new
    connection."""
    own = c is None
    if own:
        c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    try:
        c.request("POST", path, body=call_body("getNice"),
                  headers={"Content-Type": "text/xml"})
        r = c.getresponse()
        body = r.read()
        assert r.status == 200, body
        return xmlrpc.client.loads(body)[0][0], r.getheader("Connection")
    finally:
        if own:
            c.close()


def no_recycle(h):
    """No MG00450 line. A recycle is logged after the answer went out
    (log_transaction), so give one that should not happen time to show."""
    time.sleep(0.5)
    return MG450.findall("\n".join(h.log_lines())) == []


@pytest.mark.skipif(not BACK, reason="this host's root cannot raise "
                    "RLIMIT_NICE (no CAP_SYS_RESOURCE): httpd's children "
                    "cannot go back, test_without_rlimit_nice_its_child_is_"
                    "recycled covers what happens then")
def test_prefork_call_runs_lower_and_its_child_goes_back(httpd_factory):
    """One keep-alive connection, so one child: getNice at nice 7 under
    its rule, the same method without the rule at 0, four times over; no
    child recycled."""
    h = nice_hub(httpd_factory)
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    for _ in range(4):
        assert get_nice(h, "/kojihub", c) == (7, None)
        assert get_nice(h, "/plainhub", c) == (0, None)
    c.close()
    assert no_recycle(h)
    assert not any("MG00449" in line or "MG00603" in line
                   for line in h.log_lines())


def test_without_rlimit_nice_its_child_is_recycled(httpd_factory):
    """httpd started without CAP_SYS_RESOURCE and RLIMIT_NICE 0: the
    child cannot return, so it closes the connection and is recycled."""
    h = nice_hub(httpd_factory, prefix=NO_NICE_BACK)
    seen = []
    for _ in range(4):
        nice, conn = get_nice(h, "/kojihub")
        assert nice == 7
        assert conn == "close"          # the child serves no more requests
        seen.append(get_nice(h, "/plainhub"))
    # the same method without the rule, in whatever child: priority 0,
    # keep-alive as usual
    assert seen == [(0, None)] * 4
    # the child recycles at log_transaction, after the answer went out
    recycled = MG450.findall("\n".join(h.wait_log(MG450, count=4)))
    assert len(recycled) == 4
    assert len(set(recycled)) == 4      # four different children
    assert any("MG00449: child marked for recycling: 'getNice' runs at "
               "nice 7 (was 0; MemGuardMethod nice=)" in line
               for line in h.log_lines())
    # the status page counts them with the other recycles
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    c.request("GET", "/memguard-status?auto")
    auto = c.getresponse().read().decode()
    c.close()
    assert "RecycleRequested: 4\n" in auto, auto
    assert "Recycled: 4\n" in auto, auto
    # startup said nothing about nice= (it is applied)
    assert not any("MG00231" in line for line in h.log_lines())


def test_multicall_takes_the_nice_of_an_inner_call(httpd_factory):
    h = nice_hub(httpd_factory, prefix=NO_NICE_BACK)
    p = xmlrpc.client.ServerProxy(h.hub_url)
    m = xmlrpc.client.MultiCall(p)
    m.hello()
    m.getNice()
    assert list(m()) == ["hello", 7]
    h.wait_log(MG450)
    assert len(MG450.findall("\n".join(h.log_lines()))) == 1


def test_refused_call_keeps_priority_and_child(httpd_factory):
    """A getNice call over its rule's max-body is refused before it runs:
    no priority change, no recycling."""
    h = nice_hub(httpd_factory)
    body = call_body("getNice", "x" * 1000)
    r, data = post(h, "/kojihub", body)
    assert r.status == 200
    assert fault_of(data)[0] == 4132
    # a big echo, refused the same way, for comparison
    r, data = post(h, "/kojihub", call_body("echo", "y" * 1000))
    assert fault_of(data)[0] == 4132
    assert no_recycle(h)
    assert not any("MG00449" in line for line in h.log_lines())


def test_detect_only_changes_nothing(httpd_factory):
    h = nice_hub(httpd_factory, engine="DetectOnly")
    for _ in range(2):
        assert get_nice(h, "/kojihub") == (0, None)
    assert no_recycle(h)


def test_threaded_mpm_says_once_it_is_not_applied(httpd_factory):
    h = httpd_factory(start=False, mpm="event")
    h.allow(r"MG00231: MemGuardMethod nice= is not applied under the "
            r"event MPM")
    h.conf = NICE_CONF % {"engine": "On", "root": h.root}
    h.start()
    for _ in range(3):
        assert get_nice(h, "/kojihub") == (0, None)
    warned = [line for line in h.log_lines() if "MG00231" in line]
    assert len(warned) == 1, warned
    assert "[memguard:warn]" in warned[0]
    assert no_recycle(h)


def test_graceful_restart_takes_the_new_rules(httpd_factory):
    """nice= removed (then put back) by a graceful restart: the new
    children follow the new configuration."""
    h = nice_hub(httpd_factory, prefix=NO_NICE_BACK)
    assert get_nice(h, "/kojihub") == (7, "close")
    h.conf = h.conf.replace("MemGuardMethod getNice nice=7 max-body=700",
                            "MemGuardMethod getNice max-body=700")
    h.write_conf()
    h.graceful()
    for _ in range(3):
        assert get_nice(h, "/kojihub") == (0, None)
    h.conf = h.conf.replace("MemGuardMethod getNice max-body=700",
                            "MemGuardMethod getNice nice=3 max-body=700")
    h.write_conf()
    h.graceful()
    assert get_nice(h, "/kojihub") == (3, "close")
    h.wait_log(MG450, count=2)
    assert len(MG450.findall("\n".join(h.log_lines()))) == 2
