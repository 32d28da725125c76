"""MemGuardMethod rules (first match, scopes, globs, max-body,
max-response, concurrency with queue-timeout, slots of killed children)
and the configuration checks of MemGuardXmlLimits / MemGuardMethod /
MemGuardSpool*."""
import http.client
import os
import re
import signal
import time
import xmlrpc.client

import pytest

from t.harness.mghttpd import moddir
from t.harness.xmlrpc import call_body, fault_of, in_thread, post


# -- configuration checks ---------------------------------------------------

@pytest.mark.parametrize("line,directive,value", [
    ("MemGuardXmlLimits depth=2", "MemGuardXmlLimits", "depth=2"),
    ("MemGuardXmlLimits depth=300", "MemGuardXmlLimits", "depth=300"),
    ("MemGuardXmlLimits depht=10", "MemGuardXmlLimits", "depht=10"),
    ("MemGuardXmlLimits items=-1", "MemGuardXmlLimits", "items=-1"),
    ("MemGuardXmlLimits items=ten", "MemGuardXmlLimits", "items=ten"),
    ("MemGuardXmlLimits items=0", "MemGuardXmlLimits", "items=0"),
    ("MemGuardXmlLimits elements=99999999999", "MemGuardXmlLimits",
     "elements=99999999999"),
    ("MemGuardXmlLimits string=12Q", "MemGuardXmlLimits", "string=12Q"),
    ("MemGuardXmlLimits name=1M", "MemGuardXmlLimits", "name=1M"),
    ("MemGuardXmlLimits items", "MemGuardXmlLimits", "items"),
    ("MemGuardXmlLimits depth=10 token=", "MemGuardXmlLimits", "token="),
    ("MemGuardMethod getBuild frobnicate", "MemGuardMethod", "frobnicate"),
    ("MemGuardMethod getBuild concurrency=0", "MemGuardMethod",
     "concurrency=0"),
    ("MemGuardMethod getBuild concurrency=-1", "MemGuardMethod",
     "concurrency=-1"),
    ("MemGuardMethod getBuild concurrency=70000", "MemGuardMethod",
     "concurrency=70000"),
    ("MemGuardMethod getBuild max-body=12Q", "MemGuardMethod", "12Q"),
    ("MemGuardMethod getBuild max-response=0", "MemGuardMethod",
     "max-response=0"),
    ("MemGuardMethod getBuild queue-timeout=1s", "MemGuardMethod",
     "queue-timeout="),
    ("MemGuardMethod getBuild concurrency=1 queue-timeout=forever",
     "MemGuardMethod", "forever"),
    ("MemGuardMethod getBuild concurrency=1 queue-timeout=1h",
     "MemGuardMethod", "queue-timeout=1h"),
    ("MemGuardMethod getBuild deny max-body=1M", "MemGuardMethod", "deny"),
    ("MemGuardMethod getBuild nice=0", "MemGuardMethod", "nice=0"),
    ("MemGuardMethod getBuild nice=20", "MemGuardMethod", "nice=20"),
    ("MemGuardMethod getBuild nice=-5", "MemGuardMethod", "nice=-5"),
    ("MemGuardMethod getBuild nice=low", "MemGuardMethod", "nice=low"),
    ("MemGuardMethod getBuild nice=", "MemGuardMethod", "nice="),
    ("MemGuardMethod getBuild nice=5 nice=6", "MemGuardMethod", "twice"),
    ("MemGuardMethod getBuild deny nice=5", "MemGuardMethod", "deny"),
    ("MemGuardMethod getBuild allow allow", "MemGuardMethod", "allow"),
    ("MemGuardMethod getBuild", "MemGuardMethod", "at least one action"),
    # httpd prints the control character escaped
    ("MemGuardMethod get\x01Build deny", "MemGuardMethod", r"get\x01Build"),
    ("MemGuardXmlRpc maybe", "MemGuardXmlRpc", "On or Off"),
    ("MemGuardSpoolMemory 1X", "MemGuardSpoolMemory", "1X"),
    ("MemGuardSpoolDir /nonexistent/spool", "MemGuardSpoolDir",
     "/nonexistent/spool"),
])
def test_configtest_refuses_bad_values(httpd_factory, line, directive, value):
    h = httpd_factory(start=False)
    h.configtest_refuses(line + "\n", directive, value)


def test_configtest_accepts_good_values(httpd_factory):
    h = httpd_factory(start=False)
    h.configtest_accepts("""
MemGuardXmlLimits depth=64 elements=10000000 params=0 items=1000000
MemGuardXmlLimits members=100000 string=16M name=256 multicall=10000
MemGuardXmlLimits token=256K
MemGuardSpoolMemory 0
MemGuardSpoolDir spool
MemGuardMethod system.* allow
MemGuardMethod queryHistory concurrency=2 queue-timeout=500ms expensive \
    max-body=1M max-response=64M nice=10
MemGuardMethod listBuilds nice=1
MemGuardMethod listTagged nice=19
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardXmlLimits depth=32
    MemGuardMethod host.?etTask* deny
    MemGuardMethod [gl]* allow
</Location>
""")


# -- matching ----------------------------------------------------------------

def test_first_match_inner_scope_first_and_globs(httpd_factory, mpm):
    h = httpd_factory(start=False, mpm=mpm)
    h.conf = """
MemGuardEngine On
# outer rules: tried after a location's own
MemGuardMethod getBuild deny
MemGuardMethod listBuilds deny
MemGuardMethod hello deny
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardMethod getBuild allow
    MemGuardMethod list* max-body=300
    MemGuardMethod echo deny
    MemGuardMethod echo allow
</Location>
WSGIScriptAlias /hub2 "%s"
<Location /hub2>
    MemGuardXmlRpc On
    MemGuardMethod system.* deny
</Location>
""" % h.path("hub.wsgi")
    h.start()
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    hub2 = xmlrpc.client.ServerProxy(h.url + "/hub2")
    before = h.calls()
    # inner "getBuild allow" wins over the outer deny
    assert hub.getBuild(4)["id"] == 4
    # the inner glob matches first: limited, not denied
    assert len(hub.listBuilds(2)) == 2
    with pytest.raises(xmlrpc.client.Fault) as e:
        hub.listBuilds(2, "x" * 300)
    assert e.value.faultCode == 4132
    assert e.value.faultString.startswith(
        "memguard: request body too large for this method: ")
    assert e.value.faultString.endswith(
        " bytes > limit 300 for 'listBuilds' (MemGuardMethod list* "
        "max-body=300)")
    # first match wins: the second echo rule is never reached
    with pytest.raises(xmlrpc.client.Fault) as e:
        hub.echo(1)
    assert e.value.faultString == ("memguard: method not allowed here: "
                                   "'echo' (MemGuardMethod echo deny)")
    # no inner rule: the outer one applies
    with pytest.raises(xmlrpc.client.Fault) as e:
        hub.hello()
    assert e.value.faultCode == 4030
    assert h.calls() == before + 2
    # /hub2 has no getBuild rule of its own: the outer deny applies
    with pytest.raises(xmlrpc.client.Fault) as e:
        hub2.getBuild(1)
    assert "(MemGuardMethod getBuild deny)" in e.value.faultString
    # "system.*" matches across the dot
    mc = xmlrpc.client.MultiCall(hub2)
    mc.getCallCount()
    with pytest.raises(xmlrpc.client.Fault) as e:
        list(mc())
    assert e.value.faultString == (
        "memguard: method not allowed here: 'system.multicall' "
        "(MemGuardMethod system.* deny)")
    # inner calls meet the rules too: an inner max-body binds the multicall
    mc = xmlrpc.client.MultiCall(hub)
    mc.getBuild(1)
    mc.listBuilds(1, "y" * 400)
    with pytest.raises(xmlrpc.client.Fault) as e:
        list(mc())
    assert e.value.faultCode == 4132
    assert h.calls() == before + 2


def test_rules_in_the_hubs_own_directory_section(httpd_factory, mpm):
    """The hub's directives in the <Directory> its conf already has (a Koji
    hub's shape: Alias to the script, SetHandler wsgi-script): calls are
    inspected and meet the rules there, globs that begin with a pattern
    character match whatever the name's first byte, a name no rule can
    begin with passes, and the section's body limit holds."""
    h = httpd_factory(start=False, mpm=mpm, extra_top=(
        "LoadModule alias_module %s/mod_alias.so\n" % moddir()))
    hubdir = h.path("koji-hub")
    os.makedirs(hubdir)
    with open(h.path("hub.wsgi")) as f, \
            open(os.path.join(hubdir, "kojiapp.py"), "w") as g:
        g.write(f.read())
    h.conf = """
MemGuardEngine On
Alias /koji "%s/kojiapp.py"
<Directory "%s">
    Options ExecCGI
    SetHandler wsgi-script
    Require all granted
    MemGuardXmlRpc On
    MemGuardRejectStyle fault
    MemGuardMaxRequestBody 2K
    MemGuardMethod [gl]etBuild deny
    MemGuardMethod ?cho max-body=300
    MemGuardMethod listBuilds allow
</Directory>
""" % (hubdir, hubdir)
    h.start()
    hub = xmlrpc.client.ServerProxy(h.url + "/koji")
    before = h.calls()
    with pytest.raises(xmlrpc.client.Fault) as e:
        hub.getBuild(1)
    assert e.value.faultString == ("memguard: method not allowed here: "
                                   "'getBuild' (MemGuardMethod [gl]etBuild "
                                   "deny)")
    assert hub.echo("short") == "short"
    with pytest.raises(xmlrpc.client.Fault) as e:
        hub.echo("x" * 300)
    assert e.value.faultCode == 4132
    assert e.value.faultString.endswith(
        " bytes > limit 300 for 'echo' (MemGuardMethod ?cho max-body=300)")
    assert hub.hello() is not None
    assert len(hub.listBuilds(2)) == 2
    with pytest.raises(xmlrpc.client.Fault) as e:
        hub.listBuilds(2, "y" * 3000)
    assert e.value.faultString == (
        "memguard: request body too large: 3199 bytes > limit 2048 "
        "(MemGuardMaxRequestBody)")
    assert h.calls() == before + 3
    h.wait_log(r"MG00201: inspected hello: ")


def test_max_response_per_method(httpd_factory, mpm):
    h = httpd_factory("""
MemGuardEngine On
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardMethod queryHistory max-response=10K
</Location>
""", mpm=mpm)
    hub = xmlrpc.client.ServerProxy(h.hub_url, allow_none=True)
    assert len(hub.queryHistory(2)) == 2
    assert len(hub.listBuilds(500)) == 500     # no cap for this one
    with pytest.raises(xmlrpc.client.Fault) as e:
        hub.queryHistory(500)
    assert e.value.faultCode == 5001
    assert "> limit 10240" in e.value.faultString
    # the same method inside a multicall caps the multicall's answer
    mc = xmlrpc.client.MultiCall(hub)
    mc.getBuild(1)
    mc.queryHistory(500)
    with pytest.raises(xmlrpc.client.Fault) as e:
        list(mc())
    assert e.value.faultCode == 5001


# -- concurrency -------------------------------------------------------------

CONCURRENCY = """
MemGuardEngine On
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardMethod slowCall concurrency=1 queue-timeout=1s
</Location>
"""


def test_concurrency_waits_then_busy(httpd_factory, mpm):
    h = httpd_factory(CONCURRENCY, mpm=mpm)
    url = h.hub_url
    first = in_thread(lambda: xmlrpc.client.ServerProxy(url).slowCall(6))
    h.wait_calls("slowCall", 1)
    # a second call waits for queue-timeout, then gets the busy fault
    t0 = time.monotonic()
    r, data = post(h, "/kojihub", call_body("slowCall", 0.1))
    elapsed = time.monotonic() - t0
    code, text = fault_of(data)
    assert code == 5033
    assert r.getheader("Retry-After") == "5"
    # the queue-timeout (1 s), not the first call's end (6 s)
    assert 1.0 <= elapsed < 4.0, elapsed
    assert text.startswith("memguard: method busy, retry later: 'slowCall' "
                           "has 1 calls in flight, limit 1; waited ")
    assert text.endswith("(MemGuardMethod slowCall concurrency=1 "
                         "queue-timeout=1s)")
    # a multicall calling slowCall needs its slot too
    mc = xmlrpc.client.MultiCall(xmlrpc.client.ServerProxy(url))
    mc.getBuild(1)
    mc.slowCall(0.1)
    with pytest.raises(xmlrpc.client.Fault) as e:
        list(mc())
    assert e.value.faultCode == 5033
    # the first call is unharmed; the refused ones never ran
    first["thread"].join(15)
    assert first.get("value") == 6, first
    assert h.calls("slowCall") == 1
    assert h.calls("system.multicall") == 0
    h.wait_log(r"MG00102: refused POST /kojihub \(method-busy\)")
    # the slot is free again at once
    t0 = time.monotonic()
    # no wait (a slot still held would have given the busy fault after
    # the 1 s queue-timeout; a fresh child may first load the hub)
    assert xmlrpc.client.ServerProxy(url).slowCall(0.1) == 0.1
    assert time.monotonic() - t0 < 3.0


def test_concurrency_queue_admits_when_a_slot_frees(httpd_factory, mpm):
    h = httpd_factory(CONCURRENCY.replace("queue-timeout=1s",
                                          "queue-timeout=10s"), mpm=mpm)
    url = h.hub_url
    first = in_thread(lambda: xmlrpc.client.ServerProxy(url).slowCall(0.6))
    h.wait_calls("slowCall", 1)
    assert xmlrpc.client.ServerProxy(url).slowCall(0.1) == 0.1
    first["thread"].join(10)
    assert first.get("value") == 0.6
    # it waited for the first call to end (~0.6 s), not for the timeout
    line = h.wait_log(r"MG00222: waited \d+ ms for a free concurrency "
                      r"slot")[0]
    waited = int(re.search(r"waited (\d+) ms", line).group(1))
    assert 300 < waited < 5000, line


def test_killed_child_gives_its_slot_back(httpd_factory, mpm):
    """A child killed while it holds a slot (the OOM killer's way) does not
    leak it: the parent's slot reset returns it, and the next call runs
    without waiting."""
    h = httpd_factory("""
MemGuardEngine On
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardMethod slowCall concurrency=1
</Location>
""", mpm=mpm)
    url = h.hub_url
    victim = in_thread(lambda: xmlrpc.client.ServerProxy(url).slowCall(30))
    h.wait_calls("slowCall", 1)
    # the call log names the process running the call (mod_wsgi embedded)
    with open(h.calllog) as f:
        pid = int([line for line in f if line.endswith(" slowCall\n")][0]
                  .split()[0])
    assert pid in h.children()
    # held: no queue-timeout, so refused at once
    r, data = post(h, "/kojihub", call_body("slowCall", 0.1))
    assert fault_of(data)[0] == 5033
    os.kill(pid, signal.SIGKILL)
    h.wait_log(r"MG00306: child %d in slot \d+ exited holding 1 method "
               r"call\(s\): given back" % pid)
    victim["thread"].join(10)
    assert "error" in victim       # the client saw its connection die
    t0 = time.monotonic()
    # no wait (a slot still held would give the busy fault at once: no
    # queue-timeout here; a fresh child may first load the hub)
    assert xmlrpc.client.ServerProxy(url).slowCall(0.1) == 0.1
    assert time.monotonic() - t0 < 3.0
    assert h.calls("slowCall") == 2


def test_detect_only_counts_but_never_waits(httpd_factory, mpm):
    h = httpd_factory(CONCURRENCY.replace("MemGuardEngine On",
                                          "MemGuardEngine DetectOnly"),
                      mpm=mpm)
    url = h.hub_url
    first = in_thread(lambda: xmlrpc.client.ServerProxy(url).slowCall(5))
    h.wait_calls("slowCall", 1)
    assert xmlrpc.client.ServerProxy(url).slowCall(0.1) == 0.1
    assert first["thread"].is_alive()      # it did not wait for the first
    first["thread"].join(15)
    assert first.get("value") == 5
    h.wait_log(r"MG00101: DetectOnly: would refuse POST /kojihub "
               r"\(method-busy\): 'slowCall' has 1 calls in flight, limit 1")


def test_http_style_busy_is_503_with_retry_after(httpd_factory, mpm):
    h = httpd_factory(CONCURRENCY + "MemGuardRejectStyle http\n", mpm=mpm)
    url = h.hub_url
    first = in_thread(lambda: xmlrpc.client.ServerProxy(url).slowCall(5))
    h.wait_calls("slowCall", 1)
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
    c.request("POST", "/kojihub", body=call_body("slowCall", 0.1),
              headers={"Content-Type": "text/xml"})
    r = c.getresponse()
    r.read()
    assert r.status == 503
    assert r.getheader("Retry-After") == "5"
    first["thread"].join(10)
    assert h.calls("slowCall") == 1
