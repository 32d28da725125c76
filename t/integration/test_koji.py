"""Koji for real: its multicall (multiCall, nested multicalls) meets every
rule at every level; its clients' retries (kojiclient.ClientSession does
what koji's ClientSession does) against memguard's answers:
MemGuardRetryFault 1014 for offline_retry, MemGuardRejectStyle mixed for
HTTP retries; and the calls that must get through (essential) while the
server sheds.

Fake pressure comes from MemGuardProcRoot pointing at a fixture tree the
test rewrites (mgfixture.ProcRoot)."""
import http.client
import os
import threading
import time
import xmlrpc.client

import pytest

from t.harness.kojiclient import ClientSession, HTTPError, ServerOffline
from t.harness.mghttpd import scripted_server, wait_until
from t.harness.statuslib import STATUS_PAGE, get, parse_auto, status_json
from t.harness.xmlrpc import call_body, fault_of, in_thread, post


def session(h, **kw):
    return ClientSession("127.0.0.1", h.port, **kw)


def mc(*calls):
    """A multicall's argument: [{"methodName": m, "params": [args]}]."""
    return [{"methodName": m, "params": list(a)} for m, *a in calls]


def fault(h, body, path="/kojihub"):
    r, data = post(h, path, body)
    assert r.status == 200, (r.status, data[:200])
    return fault_of(data)


# -- multiCall and nested multicalls meet the rules ---------------------------

DENY = """
MemGuardEngine On
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardMethod queryHistory deny
</Location>
"""


def test_multicall_refused_by_deny_at_every_level(httpd_factory, mpm):
    h = httpd_factory(DENY, mpm=mpm)
    s = session(h)
    before = h.calls()
    # Koji's ClientSession.multiCall() sends "multiCall"
    with pytest.raises(xmlrpc.client.Fault) as e:
        s.multiCall([("getBuild", (1,)), ("queryHistory", (5,))])
    assert e.value.faultCode == 4030
    assert e.value.faultString == (
        "memguard: method not allowed here: 'queryHistory' in call 2 of "
        "multiCall (MemGuardMethod queryHistory deny)")
    # a system.multicall inside it
    inner = mc(("getBuild", 1), ("listBuilds", 1), ("queryHistory", 1))
    code, text = fault(h, call_body("multiCall", mc(
        ("hello",), ("system.multicall", inner))))
    assert code == 4030
    assert text.endswith("'queryHistory' in call 3 of call 2 of multiCall "
                         "(MemGuardMethod queryHistory deny)"), text
    # and the other way round, one level deeper
    inner = mc(("hello",), ("system.multicall", mc(("queryHistory", 1))))
    code, text = fault(h, call_body("system.multicall", mc(
        ("multiCall", inner))))
    assert code == 4030
    assert "'queryHistory' in call 1 of call 2 of call 1 of " \
           "system.multicall" in text, text
    # calls passed as keyword arguments would hide them: refused
    code, text = fault(h, call_body("multiCall", {
        "calls": mc(("queryHistory", 1)), "__starstar": True}))
    assert (code, text) == (-32600, "memguard: invalid XML-RPC call: "
                            "multiCall has a struct argument (keyword "
                            "arguments would hide its calls)")
    assert h.calls() == before          # none reached the application
    h.wait_log(r"MG00102: refused POST /kojihub \(method-denied\): "
               r"'queryHistory' in call 3 of call 2 of multiCall")

    # what is allowed runs, nested, with per-call faults as Koji's hub
    # returns them: [value] for a call that returned, a fault struct for
    # one that failed
    res = s.multiCall([("getBuild", (1,)), ("fail", (1000, "No such build")),
                       ("system.multicall", (mc(("hello",)),)),
                       ("getBuild", ("x",))])
    assert res[0][0]["id"] == 1
    assert res[1] == {"faultCode": 1000, "faultString": "No such build"}
    assert res[2] == [[["hello"]]]
    assert res[3]["faultCode"] == 1 and "traceback" in res[3]
    assert h.calls() == before + 1 and h.calls("multiCall") == 1


CONCURRENCY = """
MemGuardEngine On
WSGIScriptAlias /hub2 "%s/hub.wsgi"
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardMethod slowCall concurrency=1
</Location>
<Location /hub2>
    MemGuardXmlRpc On
    MemGuardMethod slowCall concurrency=1 queue-timeout=30s
</Location>
"""


def test_multicall_held_by_concurrency(httpd_factory, mpm):
    """slowCall inside a system.multicall inside a multiCall takes
    slowCall's one slot: a second multicall calling it gets the busy
    answer, or, with a queue-timeout, waits for the first to end."""
    h = httpd_factory(start=False, mpm=mpm)
    h.conf = CONCURRENCY % h.root
    h.start()
    first = in_thread(lambda: session(h).multiCall([
        ("hello", ()), ("system.multicall", (mc(("slowCall", 3)),))]))
    h.wait_calls("multiCall", 1)
    inner = mc(("getBuild", 1), ("slowCall", 0.1))
    code, text = fault(h, call_body("multiCall", mc(
        ("system.multicall", inner))))
    assert code == 5033
    assert text.startswith("memguard: method busy, retry later: 'slowCall' "
                           "has 1 calls in flight, limit 1"), text
    assert first["thread"].is_alive()
    # the same slot, queued: admitted once the first multicall is done
    t0 = time.monotonic()
    res = session(h, path="/hub2").multiCall([
        ("multiCall", (mc(("slowCall", 0.1)),))])
    waited = time.monotonic() - t0
    first["thread"].join(30)
    assert first.get("value") == [["hello"], [[[3]]]], first
    assert res == [[[[0.1]]]]
    assert waited > 1.0, waited        # it waited for the 3 s call
    assert h.calls("multiCall") == 2   # the refused one never ran


def test_multicall_counted_per_inner_method(httpd_factory, mpm):
    h = httpd_factory(DENY + STATUS_PAGE, mpm=mpm)
    s = session(h)
    res = s.multiCall([("getBuild", (1,)), ("getBuild", (2,)),
                       ("system.multicall", (mc(("listBuilds", 1),
                                                ("getBuild", 3)),))])
    assert len(res) == 3

    def methods():
        return {m["name"]: m for m in status_json(h)["methods"]
                if not m["other"]}
    # the multicall itself is counted when it ends (log_transaction)
    wait_until(lambda: methods().get("multiCall", {}).get("calls"),
               "multiCall counted")
    m = methods()
    assert m["getBuild"]["calls"] == 3
    assert m["listBuilds"]["calls"] == 1
    assert m["system.multicall"]["calls"] == 1
    assert m["multiCall"]["calls"] == 1
    # the memory and bytes are the multicall's
    assert m["getBuild"]["delta_count"] == 0
    assert m["multiCall"]["delta_count"] == 1
    assert m["multiCall"]["bytes_in"] > 0 and m["getBuild"]["bytes_in"] == 0
    assert parse_auto(get(h, "/memguard-status?auto")[1].decode())[
        "Methods"] == "4"


LIMITS = """
MemGuardEngine On
WSGIScriptAlias /hub2 "%s/hub.wsgi"
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardXmlLimits multicall=6 multicall-depth=2
    MemGuardMethod queryHistory deny
</Location>
<Location /hub2>
    MemGuardXmlRpc On
    MemGuardMethod queryHistory deny
</Location>
"""


def nested(depth, inner):
    """depth multicalls nested in one another around the call inner."""
    calls = mc(inner)
    for i in range(depth - 1):
        calls = mc(("multiCall" if i % 2 else "system.multicall", calls))
    return call_body("multiCall", calls)


def test_multicall_limits_and_hostile_shapes(httpd_factory):
    h = httpd_factory(start=False)
    h.conf = LIMITS % h.root
    h.start()
    before = h.calls()
    assert xmlrpc.client.loads(post(h, "/kojihub", nested(2, (
        "hello",)))[1])[0][0] == [[[["hello"]]]]
    # nesting, counted from the top-level multicall
    code, text = fault(h, nested(3, ("hello",)))
    assert (code, text) == (4131, "memguard: XML-RPC call over a structure "
                            "limit: multicall nesting 3 > limit 2 "
                            "(MemGuardXmlLimits multicall-depth)")
    # calls, counted over every level: 3 + 4 = 7
    inner = mc(*[("hello",)] * 4)
    code, text = fault(h, call_body("multiCall", mc(
        ("hello",), ("hello",), ("system.multicall", inner))))
    assert text.endswith("multicall calls 7 > limit 6 (MemGuardXmlLimits "
                         "multicall)"), text
    # the defaults: nesting 4, 10000 calls
    code, text = fault(h, nested(10, ("getBuild", 1)), "/hub2")
    assert code == 4131 and "multicall nesting 5 > limit 4" in text
    code, text = fault(h, call_body("multiCall", mc(
        *[("hello",)] * 10001)), "/hub2")
    assert code == 4131 and "multicall calls 10001 > limit 10000" in text
    # calls that are no calls
    for calls, why in [
            ([{"methodName": "hello", "params": []}, {"params": [1]}],
             "call 2 of multiCall has no methodName"),
            (mc(("system.multicall", [{"methodName": 7, "params": []}])),
             "call 1 of call 1 of multiCall has a methodName that is not a "
             "string"),
            (mc(("hello",)) + ["queryHistory"],
             "call 2 of multiCall is not a struct")]:
        code, text = fault(h, call_body("multiCall", calls), "/hub2")
        assert (code, text) == (-32600,
                                "memguard: invalid XML-RPC call: " + why)
    assert h.calls() == before + 1
    # a multicall's name inside a plain call's struct is no multicall
    hidden = {"methodName": "multiCall",
              "params": [mc(("queryHistory", 1))]}
    assert xmlrpc.client.ServerProxy(h.url + "/hub2").echo(hidden) == hidden


INNER_RULES = """
MemGuardEngine On
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardMethod listBuilds max-body=300
    MemGuardMethod queryHistory max-response=10K
    MemGuardMethod getNice nice=5
</Location>
"""


def test_nested_inner_calls_meet_max_body_max_response_nice(httpd_factory):
    h = httpd_factory(INNER_RULES)
    inner = mc(("listBuilds", 1, "y" * 400))
    code, text = fault(h, call_body("multiCall", mc(
        ("system.multicall", inner))))
    assert code == 4132 and text.endswith(
        "for 'listBuilds' (MemGuardMethod listBuilds max-body=300)"), text
    inner = mc(("getBuild", 1), ("queryHistory", 500))
    code, text = fault(h, call_body("multiCall", mc(
        ("system.multicall", inner))))
    assert code == 5001 and "> limit 10240" in text, text
    # prefork: the child runs the whole multicall at nice 5
    res = session(h).multiCall([("system.multicall", (mc(("getNice",)),))])
    assert res == [[[[5]]]]
    h.wait_log(r"MG00450: recycling this child")


# -- directives ---------------------------------------------------------------

@pytest.mark.parametrize("line,value", [
    ("MemGuardRetryFault abc", "abc"),
    ("MemGuardRetryFault 0", "'0'"),
    ("MemGuardRetryFault 99999999999", "99999999999"),
    ("MemGuardRetryFault -2147483649", "-2147483649"),
    ("MemGuardRetryFault 10x14", "10x14"),
    ("MemGuardRetryFault +1014", "+1014"),
    ("MemGuardRetryFault", "MemGuardRetryFault takes one argument"),
    ("MemGuardMulticall", "at least one method name"),
    ("MemGuardMulticall multiCall 'multi call'", "'multi call'"),
    ("MemGuardMulticall multi*", "'multi*'"),
    ("MemGuardMulticall multiCall multiCall", "'multiCall' is given twice"),
    ("MemGuardMulticall " + "m" * 257, "m" * 257),
    ("MemGuardMulticall " + " ".join("m%d" % i for i in range(17)),
     "17 names: at most 16"),
    ("MemGuardMethod host.closeTask essential essential", "'essential' is "
     "given twice"),
    ("MemGuardMethod host.closeTask essential deny", "'essential' cannot be "
     "combined with 'deny'"),
    ("MemGuardMethod host.closeTask deny essential", "'essential' cannot be "
     "combined with 'deny'"),
    ("MemGuardMethod host.closeTask essential expensive", "'essential' "
     "cannot be combined with 'expensive'"),
    ("MemGuardMethod host.closeTask essential=1", "essential=1"),
    ("MemGuardXmlLimits multicall-depth=0", "multicall-depth=0"),
    ("MemGuardXmlLimits multicall-depth=33", "multicall-depth must be from "
     "1 to 32"),
    ("MemGuardRejectStyle mixt", "'mixt' is not one of fault, http, mixed"),
])
def test_configtest_refuses_bad_values(httpd_factory, line, value):
    h = httpd_factory(start=False)
    h.configtest_refuses(line + "\n", line.split()[0], value)


def test_configtest_accepts_good_values(httpd_factory):
    h = httpd_factory(start=False)
    h.configtest_accepts("""
MemGuardRetryFault 1014
MemGuardRejectStyle mixed
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardRetryFault -32500
    MemGuardMulticall multiCall system.multicall batch.run a:b/c_d
    MemGuardXmlLimits multicall=100 multicall-depth=1
    MemGuardMethod host.closeTask essential concurrency=4 max-body=1M
    MemGuardMethod host.* essential
</Location>
<Location /kojihub/other>
    MemGuardRetryFault default
    MemGuardRejectStyle fault
</Location>
""")


MULTICALL_SYSTEM = """
MemGuardEngine On
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardMulticall system.multicall
    MemGuardMethod queryHistory deny
</Location>
"""


def test_configured_multicall_names(httpd_factory):
    h = httpd_factory(MULTICALL_SYSTEM)
    # multiCall is not a multicall here: its calls are not looked at (the
    # demo hub still runs them)
    res = session(h).multiCall([("queryHistory", (1,))])
    assert len(res[0][0]) == 1
    code, text = fault(h, call_body("system.multicall",
                                    mc(("queryHistory", 1))))
    assert code == 4030 and "in call 1 of system.multicall" in text


def test_multicall_names_per_location_on_one_child(httpd_factory):
    """Two sections with their own MemGuardMulticall lists, called in turn
    on one kept-alive connection: the child's one inspector, reused from
    call to call, takes each call's own list every time."""
    h = httpd_factory(MULTICALL_SYSTEM + """
<Location /kojihub/other>
    MemGuardMulticall multiCall
</Location>
""")
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=60)

    def call(path, method):
        c.request("POST", path, body=call_body(method, mc(("queryHistory",
                                                           1))),
                  headers={"Content-Type": "text/xml"})
        r = c.getresponse()
        data = r.read()
        assert r.status == 200 and r.getheader("Connection") != "close"
        try:
            xmlrpc.client.loads(data)
            return None
        except xmlrpc.client.Fault as e:
            return e.faultCode

    for _ in range(3):
        # each list names the method its section looks into
        assert call("/kojihub", "system.multicall") == 4030
        assert call("/kojihub", "multiCall") is None
        assert call("/kojihub/other", "multiCall") == 4030
        assert call("/kojihub/other", "system.multicall") is None
    c.close()
    lines = [x for x in h.access_lines() if '"POST ' in x]
    pids = {x.split(" pid=")[1].split()[0] for x in lines}
    assert len(lines) == 12 and len(pids) == 1, lines


# -- what Koji's clients do with the answers -----------------------------------

def test_client_retries_the_hubs_own_server_offline(httpd_factory):
    """The demo hub's fault 1014 (as Koji's offline_reply): a client with
    offline_retry waits and gets its answer once the hub is back; the CLI
    (no offline_retry) fails at once. No memguard involved."""
    h = httpd_factory("")
    open(h.offline_flag, "w").close()
    with pytest.raises(ServerOffline) as e:
        session(h).getBuild(1)
    assert str(e.value) == "server is offline"
    timer = threading.Timer(1.0, os.unlink, (h.offline_flag,))
    timer.start()
    s = session(h, offline_retry=True, offline_retry_interval=0.2,
                max_offline_retries=100)
    assert s.getBuild(3)["id"] == 3
    timer.join()
    assert s.wire[0] == ("fault", 1014, "server is offline")
    assert s.wire[-1] == ("ok",) and len(s.wire) >= 3
    assert set(s.sleeps) == {0.2}


def shed_conf(root, extra=""):
    return """
MemGuardEngine On
MemGuardProcRoot {root}
MemGuardSampleInterval 50ms
# throttle under 20% of MemTotal available, shed under 10%; the levels
# alone (a fixture that jumps would look like memory filling up fast)
MemGuardMinAvailable 20% 10%
MemGuardFillHorizon off
MemGuardThrottleMaxBody 2K
<Location /kojihub>
    MemGuardXmlRpc On
{extra}
</Location>
<Location /memguard-status>
    SetHandler memguard-status
    MemGuardShedExempt On
</Location>
""".format(root=root.path, extra=extra)


def set_available(root, share):
    """MemAvailable at share of MemTotal. Shedding is under 10%; 7% stays
    above half of that, where admission's last resort would stop the call
    that grew most (a fresh child importing the hub)."""
    kb = int(root.mem_total_kb() * share)
    root.set_meminfo(MemAvailable=kb, MemFree=kb)


def wait_state(h, state):
    wait_until(lambda: parse_auto(get(h, "/memguard-status?auto")[1].decode())[
        "MemGuardState"] == state, "state " + state, 15)


def recover_after(root, secs):
    t = threading.Timer(secs, set_available, (root, 0.5))
    t.start()
    return t


def test_offline_retry_waits_through_a_shed(procroot, httpd_factory, mpm):
    """MemGuardRetryFault 1014: under shed a builder's session
    (offline_retry) gets fault 1014 on the wire, waits and retries, and
    succeeds once memory is back; the faultString still says shed."""
    root = procroot()
    set_available(root, 0.5)
    h = httpd_factory(shed_conf(root, "    MemGuardRetryFault 1014"),
                      mpm=mpm)
    wait_state(h, "ok")
    set_available(root, 0.07)
    wait_state(h, "shed")
    # the CLI: no offline_retry, the ServerOffline is the answer
    cli = session(h)
    with pytest.raises(ServerOffline) as e:
        cli.getBuild(1)
    assert len(cli.wire) == 1
    assert str(e.value).startswith("memguard: server low on memory, retry "
                                   "later: ")
    assert str(e.value).endswith(" [shed, 5030]")
    # kojid: waits and retries until the shed is over
    before = h.calls()
    t = recover_after(root, 1.5)
    kojid = session(h, offline_retry=True, offline_retry_interval=0.25,
                    max_offline_retries=200)
    assert kojid.getBuild(7)["id"] == 7
    t.join()
    faults = kojid.wire[:-1]
    assert kojid.wire[-1] == ("ok",)
    assert len(faults) >= 2
    assert all(w[:2] == ("fault", 1014) and w[2].endswith("[shed, 5030]")
               for w in faults), faults
    assert set(kojid.sleeps) == {0.25}
    assert h.calls() == before + 1      # the refused tries never ran
    h.wait_log(r"MG00102: refused POST /kojihub \(shed\)")


ESSENTIAL = """
    MemGuardRetryFault 1014
    MemGuardMethod host.closeTask essential
    MemGuardMethod host.failTask essential
    MemGuardMethod listBuilds expensive
"""


def test_essential_calls_pass_a_shed(procroot, httpd_factory, mpm):
    root = procroot()
    set_available(root, 0.5)
    h = httpd_factory(shed_conf(root, ESSENTIAL), mpm=mpm)
    wait_state(h, "ok")
    set_available(root, 0.07)
    wait_state(h, "shed")
    s = session(h)
    before = h.calls()
    # a builder reporting a finished task gets through
    assert s.host.closeTask(123, "<result/>") is None
    assert s.multiCall([("host.closeTask", (124, "ok")),
                        ("host.failTask", (125, "oops"))]) == [[None], [None]]
    # the work it would take on, and anything else, does not
    with pytest.raises(ServerOffline):
        s.getBuild(1)
    with pytest.raises(ServerOffline):
        s.host.openTask(126)
    # a multicall is essential only if every call in it is
    with pytest.raises(ServerOffline):
        s.multiCall([("host.closeTask", (127, "ok")), ("getBuild", (1,))])
    with pytest.raises(ServerOffline):
        s.multiCall([])
    assert h.calls() == before + 2
    assert h.calls("host.closeTask") == 1
    h.wait_log(r"MG00150: admitted POST /kojihub while shedding: "
               r"'host.closeTask' runs only essential methods")
    h.wait_log(r"MG00150: admitted POST /kojihub while shedding: "
               r"'multiCall' runs only essential methods")

    # throttle: the essential call passes whatever its body; the others
    # meet the throttle's body limit (2K) and expensive is refused, at
    # any level of a multicall
    set_available(root, 0.15)
    wait_state(h, "throttle")
    assert s.host.closeTask(128, "r" * 5000) is None
    with pytest.raises(ServerOffline) as e:
        s.echo("e" * 5000)
    assert "bytes > 2048 while throttling (MemGuardThrottleMaxBody" \
        in str(e.value) and str(e.value).endswith("[throttle, 5031]")
    assert s.echo("small") == "small"
    with pytest.raises(ServerOffline) as e:
        s.multiCall([("system.multicall", (mc(("listBuilds", 1)),))])
    assert "expensive call while throttling" in str(e.value)


# getBuild expected to take 4 MiB: not tiny, so it is shed like any call
# that takes memory (a tiny one runs while shedding: test_fill.py)
MIXED = """
    MemGuardRejectStyle mixed
    MemGuardMethod queryHistory deny
    MemGuardMethod getBuild memory=4M
"""


def test_mixed_style_503_for_retryable_fault_for_permanent(procroot,
                                                           httpd_factory,
                                                           mpm):
    """MemGuardRejectStyle mixed: a shed is a 503 with Retry-After, which a
    load balancer retries elsewhere and a Koji session with anon_retry (or
    logged in) retries itself, never reading Retry-After; a deny is still a
    fault, which no Koji client retries."""
    root = procroot()
    set_available(root, 0.5)
    h = httpd_factory(shed_conf(root, MIXED), mpm=mpm)
    wait_state(h, "ok")
    s = session(h, anon_retry=True, retry_interval=0.2, max_retries=100)
    with pytest.raises(xmlrpc.client.Fault) as e:
        s.queryHistory(1)
    assert e.value.faultCode == 4030
    assert s.wire == [("fault", 4030, e.value.faultString)]
    set_available(root, 0.07)
    wait_state(h, "shed")
    r, data = post(h, "/kojihub", call_body("getBuild", 1))
    assert r.status == 503
    assert r.getheader("Retry-After") == "5"
    # the CLI, anonymous without anon_retry: the HTTP error is the answer
    with pytest.raises(HTTPError) as e:
        session(h).getBuild(1)
    assert e.value.status == 503
    # anon_retry: retried, the first at once, then every retry_interval
    t = recover_after(root, 1.5)
    assert s.getBuild(9)["id"] == 9
    t.join()
    tries = s.wire[1:-1]
    assert s.wire[-1] == ("ok",)
    assert len(tries) >= 2 and all(w == ("http", 503, "5") for w in tries)
    assert set(s.sleeps) == {0.2}       # Retry-After: 5 was never read
    assert len(s.sleeps) == len(tries) - 1


def test_client_resends_once_on_a_dropped_connection():
    """kojiclient does what ClientSession._sendCall does: a connection
    dropped before the answer is tried once more at once, on a new
    connection; a second drop is an error (retried only by a logged-in
    session or with anon_retry)."""
    pong = xmlrpc.client.dumps(("pong",), methodresponse=True).encode()

    def answer(c, n):
        if n in (1, 3, 4):  # connections dropped before the answer
            return
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                  % len(pong) + pong)
    port, srv = scripted_server(answer)
    try:
        s = ClientSession("127.0.0.1", port)
        assert s.ping() == "pong"
        assert s.wire == [("conn", "RemoteDisconnected"), ("ok",)]
        assert s.sleeps == []
        s = ClientSession("127.0.0.1", port)
        with pytest.raises(ConnectionError):
            s.ping()
        assert [w[0] for w in s.wire] == ["conn", "conn"]
    finally:
        srv.close()
