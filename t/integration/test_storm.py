"""tools/xmlrpc-storm, the load generator, against the real demo hub: its
counts add up and match what the application saw, body-size refusals are
reported as fault 4130, it refuses non-loopback targets before opening a
socket, refuses unbounded runs, and a time-bounded run stops in time."""
import importlib.machinery
import importlib.util
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import xmlrpc.client

import pytest

from t.harness.mghttpd import TOP, scripted_server

STORM = os.path.join(TOP, "tools", "xmlrpc-storm")

# 20 calls per round of the shared pool's schedule: 200 requests are 10
# whole rounds, so every type's count is exact.
MIX = ("cheap=getBuild(7):12,heavy=queryHistory(300):3,"
       "multi=multicall(getBuild(1)*100):3,big=echo(bytes=100K):2")
EXPECTED_SENT = {"cheap": 120, "heavy": 30, "multi": 30, "big": 20}
OUTCOMES = ("ok", "faults", "http_errors", "resets", "timeouts", "other")


def load_storm():
    loader = importlib.machinery.SourceFileLoader("xmlrpc_storm", STORM)
    spec = importlib.util.spec_from_loader("xmlrpc_storm", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def run_storm(*args, timeout=60):
    t = time.monotonic()
    p = subprocess.run([sys.executable, STORM] + list(args),
                       capture_output=True, text=True, timeout=timeout)
    return p, time.monotonic() - t


def check_sums(rep):
    """The invariant, checked independently of the tool's own check."""
    assert rep["invariant_holds"], rep["invariant_problems"]
    total = rep["total"]
    for name, d in rep["types"].items():
        assert sum(d[k] for k in OUTCOMES) == d["sent"], (name, d)
        assert sum(d["faults_by_code"].values()) == d["faults"]
        assert sum(d["http_errors_by_status"].values()) == d["http_errors"]
        assert sum(d["resets_by_kind"].values()) == d["resets"]
        assert sum(d["other_by_kind"].values()) == d["other"]
        assert d["latency_ms"]["all"]["n"] == d["sent"]
        assert d["latency_ms"]["ok"]["n"] == d["ok"]
    for k in ("sent",) + OUTCOMES:
        assert total[k] == sum(d[k] for d in rep["types"].values()), k
    assert sum(total[k] for k in OUTCOMES) == total["sent"]


# A progress line: "<seconds> sent N ok N faults N errors N rps R", with
# " (draining)" once the duration is over and calls are still in flight.
PROGRESS = (r"^xmlrpc-storm: +\d+\.\ds sent (\d+) ok (\d+) faults (\d+) "
            r"errors (\d+) rps [\d.]+( \(draining\))?$")


def check_latencies(lat):
    assert lat["n"] > 0
    assert 0 < lat["min"] <= lat["p50"] <= lat["p95"] <= lat["p99"] \
        <= lat["max"], lat


def test_bounded_run_counts_match_the_application(httpd_factory, mpm,
                                                  tmp_path):
    h = httpd_factory("MemGuardEngine On\nMemGuardMaxRequestBody 64K\n",
                      mpm=mpm)
    out = tmp_path / "storm.json"
    p, _ = run_storm("--target", h.hub_url, "--connections", "4",
                     "--requests", "200", "--mix", MIX, "--timeseries",
                     "--progress", "--json", str(out), timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "invariant" in p.stdout and "holds" in p.stdout, p.stdout
    rep = json.loads(out.read_text())
    if rep["wall_seconds"] > 2.5:       # a progress line every second
        # (due at 1.0 s; on a loaded machine it prints later)
        assert re.search(PROGRESS, p.stderr, re.M), p.stderr
    check_sums(rep)
    assert rep["stopped_by"] == "requests"
    assert rep["total"]["sent"] == 200
    assert {n: d["sent"] for n, d in rep["types"].items()} == EXPECTED_SENT
    types = rep["types"]

    # cheap, heavy and multicall calls all succeed, and the application saw
    # exactly the successful ones (a multicall is one system.multicall)
    for name in ("cheap", "heavy", "multi"):
        assert types[name]["ok"] == types[name]["sent"], types[name]
        check_latencies(types[name]["latency_ms"]["ok"])
    assert types["multi"]["method"] == "system.multicall"
    assert types["multi"]["multicall_inner_faults_by_code"] == {}
    assert h.calls("getBuild") == types["cheap"]["ok"]
    assert h.calls("queryHistory") == types["heavy"]["ok"]
    assert h.calls("system.multicall") == types["multi"]["ok"]

    # the 100 KB echo is over MemGuardMaxRequestBody: every one a 4130
    # fault, none reached the application
    big = types["big"]
    assert big["faults"] == EXPECTED_SENT["big"]
    assert big["faults_by_code"] == {"4130": EXPECTED_SENT["big"]}
    assert big["ok"] == 0
    assert h.calls("echo") == 0
    assert h.calls() == 180
    assert rep["total"]["faults_by_code"] == {"4130": 20}
    check_latencies(rep["total"]["latency_ms"]["all"])

    # the time series adds up to the same counts
    ts = rep["timeseries"]
    for name, d in types.items():
        s = ts["types"][name]
        assert len(s["sent"]) == len(s["ok"]) == len(s["failed"]) == \
            ts["seconds"]
        assert sum(s["sent"]) == d["sent"]
        assert sum(s["ok"]) == d["ok"]
        assert sum(s["failed"]) == d["sent"] - d["ok"]


def test_duration_bound_stops_in_time(httpd_factory, mpm, tmp_path):
    h = httpd_factory(mpm=mpm)
    out = tmp_path / "storm.json"
    p, elapsed = run_storm("--target", h.hub_url, "--connections", "2",
                           "--duration", "1.5", "--timeout", "5", "--mix",
                           "cheap=getBuild(1):3,slow=slowCall(0.2):1",
                           "--progress", "--json", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    rep = json.loads(out.read_text())
    check_sums(rep)
    assert rep["stopped_by"] == "duration"
    # the progress line due at 1.0 s (later on a loaded machine), not a tty
    m = re.search(PROGRESS, p.stderr, re.M)
    assert m, p.stderr
    assert m.group(3) == m.group(4) == "0", m.group(0)
    assert 0 <= int(m.group(2)) <= int(m.group(1)) <= rep["total"]["sent"]
    assert "\r" not in p.stderr
    assert rep["total"]["sent"] > 0
    assert rep["total"]["ok"] == rep["total"]["sent"]
    # no new call after 1.5 s; the ones in flight end within --timeout
    assert 1.5 <= rep["wall_seconds"] < 1.5 + 5, rep["wall_seconds"]
    assert elapsed < 15, elapsed
    assert h.calls("getBuild") == rep["types"]["cheap"]["ok"]
    assert h.calls("slowCall") == rep["types"]["slow"]["ok"]


def test_dedicated_connections(httpd_factory, tmp_path):
    """NAME=CALL@N gives a type N connections of its own (the bad night's
    "20 heavy callers and 50 cheap ones")."""
    h = httpd_factory()
    out = tmp_path / "storm.json"
    p, _ = run_storm("--target", h.hub_url, "--requests", "60", "--mix",
                     "cheap=getBuild(1)@3,heavy=queryHistory(100)@1",
                     "--json", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    rep = json.loads(out.read_text())
    check_sums(rep)
    assert rep["connections"] == {"shared": 0, "total": 4,
                                  "dedicated": {"cheap": 3, "heavy": 1}}
    assert rep["total"]["sent"] == rep["total"]["ok"] == 60
    assert rep["types"]["heavy"]["sent"] >= 1
    assert h.calls() == 60


def test_paced_type_keeps_its_rate_beside_a_closed_loop_one(httpd_factory,
                                                            tmp_path):
    """NAME=CALL@N~RATE starts RATE calls a second in all on a fixed
    schedule, whatever the closed-loop type beside it does; the counts
    still add up and the application saw every call."""
    # event: workers for all six connections from the start (prefork
    # would spawn children for them one second at a time)
    h = httpd_factory(mpm="event")
    out = tmp_path / "storm.json"
    p, _ = run_storm("--target", h.hub_url, "--duration", "2", "--mix",
                     "cheap=getBuild(1)@4~50,busy=getBuild(2)@2",
                     "--json", str(out), timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "paced 50/s on 4 connections: started" in p.stdout, p.stdout
    rep = json.loads(out.read_text())
    check_sums(rep)
    cheap, busy = rep["types"]["cheap"], rep["types"]["busy"]
    # 2 s at 50/s: 100 slots at 0, 20, 40 ... 1980 ms; each one started
    # (late if its connection was busy) or, if its connection was still
    # busy at the end, counted as missed; none beyond the schedule
    pc = cheap["pacing"]
    assert pc["slots"] == 100
    assert cheap["sent"] + pc["missed_slots"] == 100, pc
    assert cheap["sent"] > 0, pc
    assert cheap["ok"] == cheap["sent"]
    assert pc["rate_per_second"] == 50 and pc["connections"] == 4
    assert pc["start_lag_ms"]["n"] == cheap["sent"]
    assert 0 <= pc["late_starts"] <= cheap["sent"]
    # the closed-loop type is not paced
    assert "pacing" not in busy and busy["sent"] > 0
    assert h.calls() == rep["total"]["sent"]
    assert rep["mix"][0]["rate_per_second"] == 50
    assert rep["mix"][1]["rate_per_second"] is None


# -- refusals: nothing is sent ------------------------------------------------

# Run the tool with every way of opening a socket or resolving a name
# replaced by one that exits 99: a refusal must come before any of them.
NO_SOCKET = """
import runpy, socket, sys
def boom(*a, **k):
    sys.stderr.write("SOCKET OPENED\\n")
    sys.stderr.flush()
    import os
    os._exit(99)
class NoSocket(socket.socket):
    def __init__(self, *a, **k):
        boom()
socket.socket = NoSocket
socket.create_connection = boom
socket.getaddrinfo = boom
socket.gethostbyname = boom
sys.argv = [sys.argv[1]] + sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run_no_socket(*args):
    return subprocess.run([sys.executable, "-c", NO_SOCKET, STORM]
                          + list(args), capture_output=True, text=True,
                          timeout=30)


@pytest.mark.parametrize("target", [
    "192.0.2.1", "http://192.0.2.1:8089/kojihub", "10.0.0.1:80",
    "[2001:db8::1]:80", "example.com", "http://koji.example.org/kojihub",
    "127.1", "0.0.0.0", "https://127.0.0.1/kojihub",
])
def test_non_loopback_target_refused_before_any_socket(target):
    p = run_no_socket("--target", target, "--requests", "10")
    assert p.returncode == 2, p.stdout + p.stderr
    assert "SOCKET OPENED" not in p.stderr
    assert "xmlrpc-storm: error:" in p.stderr
    assert "loopback" in p.stderr or "http://" in p.stderr, p.stderr
    assert p.stdout == ""


def test_socket_guard_works():
    """The guard above would catch a connection: a loopback target passes
    the checks and the run then trips it."""
    p = run_no_socket("--target", "127.0.0.1:9", "--requests", "1")
    assert p.returncode == 99, p.stdout + p.stderr
    assert "SOCKET OPENED" in p.stderr


@pytest.mark.parametrize("args,message", [
    ([], "a bound is mandatory"),
    (["--connections", "1001", "--requests", "1"], "ceiling 1000"),
    (["--mix", "a=getBuild(1)@600,b=getBuild(1)@401", "--requests", "1"],
     "ceiling 1000"),
    (["--duration", "3601"], "--duration"),
    (["--duration", "0"], "--duration"),
    (["--requests", "0"], "--requests"),
    (["--requests", "1", "--timeout", "0"], "--timeout"),
    (["--requests", "1", "--mix", "cheap=getBuild(1),cheap=echo(1)"],
     "used twice"),
    (["--requests", "1", "--mix", "x=getBuild(os.system)"],
     "not a literal"),
    (["--requests", "1", "--mix", "x=echo(bytes=1000M)"], "ceiling"),
    (["--requests", "1", "--mix", "x=getBuild(1"], "unbalanced"),
    (["--requests", "1", "--bogus"], "unrecognized"),
    (["--requests", "1", "--mix", "x=getBuild(1)@5~0"], "~RATE 0 is not in"),
    (["--requests", "1", "--mix", "x=getBuild(1)@5~200000"],
     "~RATE 200000 is not in"),
    (["--requests", "1", "--mix", "x=getBuild(1)@5~fast"],
     "bad @CONNECTIONS~RATE"),
    (["--requests", "1", "--mix", "x=getBuild(1)@5~-3"],
     "bad @CONNECTIONS~RATE"),
    (["--requests", "1", "--mix", "x=getBuild(1)@0~5"],
     "@CONNECTIONS must be >= 1"),
])
def test_usage_errors_exit_2(args, message):
    p = run_no_socket("--target", "127.0.0.1:9", *args)
    assert p.returncode == 2, p.stdout + p.stderr
    assert message in p.stderr, p.stderr
    assert "SOCKET OPENED" not in p.stderr


def test_missing_target_exit_2():
    p = run_no_socket("--requests", "1")
    assert p.returncode == 2
    assert "--target" in p.stderr


# -- pieces of the tool, in-process ------------------------------------------

def test_nearest_rank_percentiles():
    storm = load_storm()
    r = storm.percentiles([i / 1000.0 for i in range(100, 0, -1)])
    assert (r["n"], r["min"], r["p50"], r["p95"], r["p99"], r["max"]) == \
        (100, 1.0, 50.0, 95.0, 99.0, 100.0)
    r = storm.percentiles([0.003, 0.001, 0.002])
    # ceil(0.5*3)=2nd, ceil(0.95*3)=3rd
    assert (r["p50"], r["p95"], r["p99"]) == (2.0, 3.0, 3.0)
    assert storm.percentiles([])["p50"] is None


def test_schedule_is_exact_and_interleaved():
    storm = load_storm()
    types = storm.parse_mix(MIX)
    order = storm.schedule(types)
    assert len(order) == 20
    assert [order.count(i) for i in range(4)] == [12, 3, 3, 2]
    # the heavy calls are spread out, not bunched
    heavy = [i for i, t in enumerate(order) if t == 1]
    assert min(b - a for a, b in zip(heavy, heavy[1:])) >= 5


def test_mix_parsing():
    storm = load_storm()
    t = storm.parse_mix("m=multicall(getBuild(1)*3,echo('a,b'),hello):2,"
                        "e=echo(bytes=2K)@3")
    assert t[0].method == "system.multicall" and t[0].multicall == 5
    assert t[0].weight == 2 and t[0].conns is None
    assert t[1].method == "echo" and t[1].conns == 3 and t[1].weight is None
    assert len(t[1].body) > 2048
    p = storm.parse_mix("c=getBuild(1)@4~100,d=getBuild(2)@2~0.5/s,"
                        "e=echo('a@b~c')@1")
    assert (p[0].conns, p[0].rate, p[1].conns, p[1].rate) == (4, 100, 2, 0.5)
    assert (p[2].conns, p[2].rate, p[2].weight) == (1, None, None)
    # 4 connections at 100/s in all: connection k serves slots k, k+4,
    # k+8, ... (slot j at j/100 s): each starts a call every 40 ms, their
    # schedules 10 ms apart
    s = [p[0].slots(k) for k in range(4)]
    assert [[next(g) for _ in range(3)] for g in s] == [
        [0, 4, 8], [1, 5, 9], [2, 6, 10], [3, 7, 11]]
    assert storm.parse_target("localhost:81")[:3] == ("127.0.0.1", 81,
                                                      "/kojihub")
    assert storm.parse_target("http://[::1]:82/x")[:3] == ("::1", 82, "/x")
    assert storm.parse_target("127.3.4.5")[:2] == ("127.3.4.5", 80)


def test_mix_parsing_wrapped_in_a_multicall():
    """WRAPPER:CALL sends CALL as the one call of a multiCall or a
    system.multicall, as Koji's ClientSession sends its multicalls; they
    nest."""
    storm = load_storm()
    t = storm.parse_mix("heavy=multiCall:queryHistory(20000)@20,"
                        "w=system.multicall:multiCall:getBuild(1):3,"
                        "n=multiCall:multicall(getBuild(1)*2)")
    assert (t[0].method, t[0].conns, t[0].multicall, t[0].wrapped) == (
        "multiCall", 20, 1, True)
    assert xmlrpc.client.loads(t[0].body) == (
        ([{"methodName": "queryHistory", "params": [20000]}],), "multiCall")
    assert (t[1].method, t[1].weight) == ("system.multicall", 3)
    assert xmlrpc.client.loads(t[1].body)[0] == ([{
        "methodName": "multiCall", "params": [[
            {"methodName": "getBuild", "params": [1]}]]}],)
    assert xmlrpc.client.loads(t[2].body)[0] == ([{
        "methodName": "system.multicall", "params": [[
            {"methodName": "getBuild", "params": [1]}] * 2]}],)
    assert t[2].describe()["wrapped"]
    assert t[0].describe()["call"] == "multiCall:queryHistory(20000)"
    # multiCall:3 is the call multiCall with weight 3
    assert storm.parse_mix("x=multiCall:3")[0].weight == 3
    for bad in ("x=multiCall:", "x=multiCall:(1)", "x=multiCall:a b"):
        with pytest.raises(storm.UsageError):
            storm.parse_mix(bad)


def test_wrapped_calls_against_the_hub(httpd_factory, tmp_path):
    """A call wrapped in multiCall meets the same rules as the call itself
    (denied: one fault for the whole multicall); a wrapped call's own
    fault, inside the multicall's answer, is counted by its code."""
    h = httpd_factory("""
MemGuardEngine On
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardMethod queryHistory deny
</Location>
""")
    out = tmp_path / "storm.json"
    p, _ = run_storm("--target", h.hub_url, "--connections", "2",
                     "--requests", "40", "--mix",
                     "plain=queryHistory(10):1,wrapped=multiCall:"
                     "queryHistory(10):1,good=multiCall:getBuild(1):1,"
                     "failing=multiCall:fail(1000,'no'):1",
                     "--json", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    rep = json.loads(out.read_text())
    check_sums(rep)
    t = rep["types"]
    for name in ("plain", "wrapped"):
        assert t[name]["faults_by_code"] == {"4030": 10}, t[name]
    assert t["good"]["ok"] == 10
    assert t["good"]["multicall_inner_faults_by_code"] == {}
    assert t["failing"]["ok"] == 10
    assert t["failing"]["multicall_inner_faults_by_code"] == {"1000": 10}
    assert h.calls("multiCall") == 20 and h.calls("queryHistory") == 0


def test_http_errors_and_timeouts_classified(httpd_factory, tmp_path):
    """In http reject style the refusal is a 413 (an HTTP error, not a
    fault); a call slower than --timeout is a timeout. (event: the slow
    calls go on sleeping in the server after the client gave up; prefork's
    two idle children would make the other calls queue behind them.)"""
    h = httpd_factory("MemGuardEngine On\nMemGuardMaxRequestBody 64K\n"
                      "MemGuardRejectStyle http\n", mpm="event")
    out = tmp_path / "storm.json"
    p, _ = run_storm("--target", h.hub_url, "--connections", "2",
                     "--requests", "12", "--timeout", "2", "--mix",
                     "cheap=getBuild(1):2,big=echo(bytes=100K):1,"
                     "slow=slowCall(4):1", "--json", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    rep = json.loads(out.read_text())
    check_sums(rep)
    t = rep["types"]
    assert t["cheap"]["ok"] == t["cheap"]["sent"] == 6
    assert t["big"]["http_errors_by_status"] == {"413": 3}
    assert t["big"]["faults"] == 0
    assert t["slow"]["timeouts"] == t["slow"]["sent"] == 3
    assert "timeout" in p.stdout
    assert h.calls("echo") == 0
    assert h.calls("getBuild") == 6


def test_resets_and_retry_after_against_a_rude_server(tmp_path):
    """A local server that resets every other connection after reading the
    request and answers the rest 503 + Retry-After + Connection: close."""

    def answer(c, n):
        if n % 2:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))      # close = RST
        else:
            c.sendall(b"HTTP/1.1 503 Busy\r\nRetry-After: 5\r\n"
                      b"Connection: close\r\nContent-Length: 4\r\n\r\n"
                      b"busy")
    port, srv = scripted_server(answer, backlog=16)
    out = tmp_path / "storm.json"
    try:
        p, _ = run_storm("--target", "127.0.0.1:%d" % port, "--requests",
                         "20", "--connections", "1", "--json", str(out))
    finally:
        srv.close()
    assert p.returncode == 0, p.stdout + p.stderr
    rep = json.loads(out.read_text())
    check_sums(rep)
    d = rep["types"]["cheap"]           # the default mix
    assert d["sent"] == 20
    assert d["http_errors_by_status"] == {"503": 10}
    assert d["retry_after_seen"] == 10
    assert d["resets"] == 10
    assert set(d["resets_by_kind"]) <= {"ConnectionResetError",
                                        "RemoteDisconnected"}, d
