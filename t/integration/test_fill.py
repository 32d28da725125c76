"""The sampler's second look: the fill rate (how fast a byte signal moves
toward its shed level), the adaptive interval, a sampler that stops
publishing, and the sampler's name in ps.

Pressure comes from a fixture /proc + /sys tree (MemGuardProcRoot) whose
cgroup files the test rewrites while httpd runs: a 1 GiB v1 group whose
usage the test raises 20 MiB every 100 ms (200 MiB/s), as the bad night's
storm did. Nothing here starves the test machine."""
import http.client
import os
import re
import signal
import threading
import time
import xmlrpc.client

import pytest

from t.harness.mghttpd import alive, wait_gone, wait_until
from t.harness.statuslib import STATUS_PAGE, page_text, parse_auto, status_json

MiB = 1 << 20
LIMIT = 1024 * MiB
# MemGuardMinAvailable 20% 10% of the group's 1 GiB limit
THROTTLE_LEVEL = 0.2 * LIMIT
SHED_LEVEL = 0.1 * LIMIT

CONF = """
MemGuardEngine On
MemGuardProcRoot "%(root)s"
MemGuardSampleInterval 50ms
MemGuardMinAvailable 20%% 10%%
MemGuardHysteresis 10%%
%(fill)s
<Location /kojihub>
    MemGuardXmlRpc On
    MemGuardRejectStyle fault
    MemGuardMethod queryHistory expensive
</Location>
""" + STATUS_PAGE


def auto(h):
    return parse_auto(page_text(h, "/memguard-status?auto"))


def set_headroom(root, mib):
    """The group's working set so that limit - working set = mib MiB."""
    root.set_cgroup_v1(usage=LIMIT - int(mib * MiB))


def set_limit(root):
    """A 1 GiB group with no inactive file pages. v1 takes the smaller of
    the group's limit and memory.stat's hierarchical_memory_limit."""
    d = root.cgroup_v1_dir()
    root.set_cgroup_v1(limit=LIMIT, inactive_file=0)
    root._set_stat(d + "/memory.stat", LIMIT, "hierarchical_memory_limit")


def start(procroot, httpd_factory, mpm, headroom, fill="MemGuardFillHorizon 5s 1s"):
    root = procroot("debian12-v1-limited")
    set_limit(root)
    set_headroom(root, headroom)
    h = httpd_factory(CONF % {"root": root.path, "fill": fill}, mpm=mpm)
    h.wait_log(r"MG00315: sampler started")
    wait_until(lambda: auto(h)["Sampled"] == "1", "a first sample")
    return root, h


def samples(h):
    return int(auto(h)["Samples"])


def transitions(h):
    return [x for x in h.log_lines() if "MG00310" in x]


class Ramp(threading.Thread):
    """Lower the fixture's headroom by `step` MiB every 100 ms from `start`
    down to `stop` MiB, then hold it there."""

    def __init__(self, root, start, stop, step=20):
        super().__init__(daemon=True)
        self.root, self.level, self.stop_at, self.step = root, start, stop, step
        self.done = threading.Event()
        self.cancel = threading.Event()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cancel.set()
        self.join(10)

    def run(self):
        t = time.monotonic()
        while self.level > self.stop_at and not self.cancel.is_set():
            self.level = max(self.stop_at, self.level - self.step)
            set_headroom(self.root, self.level)
            t += 0.1
            time.sleep(max(0.0, t - time.monotonic()))
        self.done.set()


def test_a_steep_fall_throttles_before_the_level(procroot, httpd_factory,
                                                 mpm):
    """100 MiB/s from 900 MiB down to 250 MiB of headroom: the shed level
    (102.4 MiB) is under 5 s away (below ~600 MiB) long before the
    throttle level (204.8 MiB) is reached: throttle on the rate (expensive
    calls refused, cheap ones served), then, once the fall stops at 250
    MiB, back to ok through the hysteresis. Never shed: at 100 MiB/s the
    shed level stays more than 1 s away (1.5 s at 250 MiB)."""
    root, h = start(procroot, httpd_factory, mpm, 900)
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    assert hub.getBuild(1)["id"] == 1
    with Ramp(root, 900, 250, step=10) as ramp:
        check_steep_fall(h, hub, ramp)


def check_steep_fall(h, hub, ramp):
    line = h.wait_log(r"MG00310: verdict ok -> throttle: signal cgroup-fill",
                      timeout=10)[0]
    # the level itself was nowhere near the throttle level
    m = re.search(r"cgroup headroom ([\d.]+) MiB falling ([\d.]+) MiB/s, "
                  r"shed level 102\.4 MiB in ([\d.]+) s \(horizon 5\.0 s\)",
                  line)
    assert m, line
    assert float(m.group(1)) > 2 * THROTTLE_LEVEL / MiB, line
    # the slope over the last second (the fall began within it)
    assert 40 < float(m.group(2)) < 130, line
    assert float(m.group(3)) < 5.0
    # while the fall goes on (3 s more to its floor): the status page says
    # so, expensive calls are refused, cheap ones pass
    a = auto(h)
    assert not ramp.done.is_set(), "the machine is too slow for this test"
    assert a["MemGuardState"] == "throttle", a
    assert a["MemGuardSignal"] == "cgroup-fill", a
    assert a["FillSignal"] == "cgroup", a
    assert 70 * MiB < int(a["FillRateBytesPerSecond"]) < 130 * MiB, a
    # within the horizon, or inside its hysteresis margin (5.5 s)
    assert 0 < int(a["FillTimeToLevelMs"]) < 5500, a
    assert int(a["FillLevelBytes"]) == int(SHED_LEVEL), a
    # falling toward a level: a quarter of the 50 ms interval
    assert a["SamplerIntervalMs"] == "12", a
    with pytest.raises(xmlrpc.client.Fault) as e:
        hub.queryHistory(10)
    assert e.value.faultCode == 5031, e.value
    assert "while throttling" in e.value.faultString
    assert "cgroup headroom" in e.value.faultString
    assert hub.getBuild(2)["id"] == 2
    ramp.join(10)
    assert ramp.done.is_set()
    # the fall stopped at 250 MiB: the rate fades out of the window, and
    # the verdict comes back
    h.wait_log(r"MG00310: verdict throttle -> ok: signal cgroup-fill",
               timeout=10)
    assert not [x for x in transitions(h) if "-> shed" in x], transitions(h)
    assert len(transitions(h)) == 2, transitions(h)
    wait_until(lambda: auto(h)["FillRateBytesPerSecond"] == "0",
               "the rate gone with the fall")
    a = auto(h)
    assert a["MemGuardState"] == "ok"
    assert int(a["Transitions"]) == 2
    # the worst gap between two samples over the last minute: at most
    # twice the configured interval (the sampler never stalls)
    assert 0 < int(a["SamplerWorstGapMs"]) <= 100, a
    assert int(a["SamplerWorstSampleUs"]) > 0
    doc = status_json(h)
    assert doc["fill"]["signal"] == "cgroup"
    assert doc["sampler"]["worst_gap_ms"] == int(a["SamplerWorstGapMs"])
    assert doc["sampler"]["replaced"] == 0
    assert doc["sampler"]["measure_age_ms"] is not None
    assert hub.queryHistory(10)


def test_closer_sheds_on_the_rate(procroot, httpd_factory):
    """The same fall, on to 250 MiB (still above the throttle level): under
    1 s from the shed level at 200 MiB/s, the rate alone sheds."""
    root, h = start(procroot, httpd_factory, "prefork", 700)
    with Ramp(root, 700, 250) as ramp:
        line = h.wait_log(r"MG00310: verdict throttle -> shed: signal "
                          r"cgroup-fill", timeout=10)[0]
        m = re.search(r"cgroup headroom ([\d.]+) MiB", line)
        assert float(m.group(1)) > THROTTLE_LEVEL / MiB, line
        ramp.join(10)
    # held at 250 MiB (above both levels by more than the hysteresis):
    # back to ok once the rate is gone
    h.wait_log(r"MG00310: verdict \w+ -> ok", timeout=10)
    assert [re.search(r"verdict (\w+ -> \w+)", x).group(1)
            for x in transitions(h)][-1].endswith("-> ok")


def measured_tiny(h, hub):
    """getBuild measured until admission weighs it as tiny: its first call
    (which also imported the hub, ~13 MiB) out of the 95th percentile."""
    for i in range(25):
        assert hub.getBuild(i + 1)["id"] == i + 1
    wait_until(lambda: hub.getBuild(1) and int(auto(h)["AdmitTiny"]) >= 1,
               "getBuild tiny")
    return int(auto(h)["AdmitTiny"])


def get_status(h, path):
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def test_a_level_shed_runs_tiny_calls_and_sheds_the_rest(procroot,
                                                         httpd_factory):
    """Memory below the shed level (80 MiB of headroom, the level 102.4
    MiB): a call admission weighs as tiny (getBuild, measured) still runs,
    it takes next to nothing; a call not measured yet (listBuilds) and
    anything else (a GET) are shed at once, as before."""
    root, h = start(procroot, httpd_factory, "prefork", 900)
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    tiny0 = measured_tiny(h, hub)
    set_headroom(root, 80)
    wait_until(lambda: auto(h)["MemGuardState"] == "shed", "shed")
    assert auto(h)["MemGuardSignal"] == "cgroup"
    assert hub.getBuild(7)["id"] == 7
    t = time.monotonic()
    with pytest.raises(xmlrpc.client.Fault) as e:
        hub.listBuilds(3)
    assert time.monotonic() - t < 2.0       # at once, not after a wait
    assert e.value.faultCode == 5030, e.value
    assert "cgroup headroom 80.0 MiB < minimum 102.4 MiB" in \
        e.value.faultString, e.value
    assert get_status(h, "/") == 503
    # a body of unknown length is not read to find out: shed at once
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
    c.request("POST", "/kojihub", headers={"Content-Type": "text/xml"},
              body=iter([xmlrpc.client.dumps((1,), "getBuild").encode()]),
              encode_chunked=True)
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.getheader("Connection") == "close"
    assert b"<int>5030</int>" in body, body
    a = auto(h)
    assert int(a["AdmitTiny"]) > tiny0, a
    assert a["RefusedShed"] == "3", a
    assert a["AdmitWaiting"] == "0", a
    # a refused call took nothing of what its method costs: not measured
    cost = [m["cost"] for m in status_json(h)["methods"]
            if m["name"] == "listBuilds"]
    assert cost and cost[0]["measured"] == 0, cost
    set_headroom(root, 900)
    wait_until(lambda: auto(h)["MemGuardState"] == "ok", "ok again")
    assert len(hub.listBuilds(3)) == 3


def test_a_forecast_shed_runs_tiny_calls_and_queues_the_rest(
        procroot, httpd_factory):
    """A shed that only the fill rate forecasts: memory is still far above
    the shed level, falling towards it (the calls already running grow).
    A call that admission by memory cost weighs as tiny (getBuild,
    measured) runs; a call not measured yet (listBuilds, in its slow
    start) waits in the admission queue until the forecast is gone, and
    then runs; anything else (a GET) is shed as before. 200 MiB/s from 900 MiB down to 300
    MiB with a 3 s shed horizon: shed from ~700 MiB on, the level (102.4
    MiB) never reached."""
    root, h = start(procroot, httpd_factory, "prefork", 900,
                    fill="MemGuardFillHorizon 5s 3s")
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    tiny0 = measured_tiny(h, hub)
    waiter = {}

    def slow_call():
        try:
            waiter["result"] = xmlrpc.client.ServerProxy(
                h.hub_url).listBuilds(3)
        except Exception as e:      # noqa: BLE001 - asserted below
            waiter["error"] = e
        waiter["t1"] = time.monotonic()

    with Ramp(root, 900, 300) as ramp:
        line = h.wait_log(r"MG00310: verdict \w+ -> shed: signal "
                          r"cgroup-fill", timeout=10)[0]
        m = re.search(r"cgroup headroom ([\d.]+) MiB", line)
        assert float(m.group(1)) > 2 * THROTTLE_LEVEL / MiB, line
        a = auto(h)
        assert a["MemGuardState"] == "shed" and \
            a["MemGuardSignal"] == "cgroup-fill", a
        # the tiny call runs
        assert hub.getBuild(7)["id"] == 7
        # anything admission does not weigh is shed
        assert get_status(h, "/") == 503
        # the call not measured yet waits
        th = threading.Thread(target=slow_call, daemon=True)
        th.start()
        wait_until(lambda: auto(h)["AdmitWaiting"] == "1", "one waiting")
        assert not waiter
        assert auto(h)["MemGuardState"] == "shed", \
            "the machine is too slow for this test"
        ramp.join(10)
    # the fall is over: the forecast fades, the waiting call runs
    th.join(15)
    assert waiter.get("result") is not None, waiter
    assert len(waiter["result"]) == 3
    a = auto(h)
    assert int(a["AdmitWaited"]) == 1, a
    assert int(a["AdmitTiny"]) > tiny0, a
    assert a["RefusedShed"] == "1", a


def test_a_flat_low_level_does_not_flap(procroot, httpd_factory):
    """150 MiB of headroom, between the shed (102.4) and throttle (204.8)
    levels, with +-2 MiB of noise for 3 s: throttle on the level, one
    transition, never shed, and the sampler kept sampling all along."""
    root, h = start(procroot, httpd_factory, "prefork", 150)
    h.wait_log(r"MG00310: verdict ok -> throttle: signal cgroup ", timeout=10)
    n0 = samples(h)
    t = time.monotonic()
    for i in range(30):
        set_headroom(root, 150 + (2 if i % 2 else -2))
        t += 0.1
        time.sleep(max(0.0, t - time.monotonic()))
    # throttling: fast sampling (12.5 ms), so well over 30 samples saw the
    # noise; a dead sampler would fail here, not pass
    assert samples(h) - n0 >= 60
    a = auto(h)
    assert a["MemGuardState"] == "throttle" and a["MemGuardSignal"] == "cgroup"
    assert len(transitions(h)) == 1, transitions(h)
    assert a["FillTimeToLevelMs"] == "-1", a


def test_fill_off_judges_levels_only(procroot, httpd_factory):
    """MemGuardFillHorizon off: the same fall meets only the levels."""
    root, h = start(procroot, httpd_factory, "prefork", 900,
                    fill="MemGuardFillHorizon off")
    n0 = samples(h)
    with Ramp(root, 900, 300) as ramp:
        ramp.join(10)
    wait_until(lambda: samples(h) > n0 + 20, "samples after the fall")
    assert transitions(h) == []
    a = auto(h)
    assert a["MemGuardState"] == "ok"
    # the rate is still measured and shown
    assert a["FillSignal"] == "cgroup"


def test_a_stopped_sampler_is_replaced(procroot, httpd_factory):
    """SIGSTOP the sampler: the children fail open (MG00330) for a moment,
    then the parent's monitor replaces it (MG00340, SIGKILL) and a new
    sampler publishes again; the status page counts the replacement."""
    root, h = start(procroot, httpd_factory, "prefork", 900)
    h.allow(r"MG00330: no fresh memory sample")
    h.allow(r"MG00340: sampler \(pid \d+\) has published nothing")
    old = int(auto(h)["SamplerPid"])
    assert alive(old)
    os.kill(old, signal.SIGSTOP)
    try:
        h.wait_log(r"MG00340: sampler \(pid %d\) has published nothing for "
                   r"\d+ ms: replacing it \(replacement 1\)" % old,
                   timeout=30)
        assert wait_gone(old, 10)
    finally:
        if alive(old):
            os.kill(old, signal.SIGCONT)
    wait_until(lambda: auto(h)["SamplerPid"] not in ("0", str(old)),
               "a new sampler", timeout=15)
    a = auto(h)
    assert a["SamplerReplaced"] == "1"
    assert int(a["SamplerStarts"]) == 2
    n0 = int(a["Samples"])
    wait_until(lambda: samples(h) > n0 + 5, "samples from the new sampler")
    assert auto(h)["MemGuardStale"] == "0"
    # one replacement, not a "died" line on top of it
    assert not [x for x in h.log_lines() if "MG00321" in x]


def test_the_sampler_names_itself(procroot, httpd_factory):
    root, h = start(procroot, httpd_factory, "prefork", 900)
    pid = int(auto(h)["SamplerPid"])
    with open("/proc/%d/comm" % pid) as f:
        assert f.read().strip() == "mg-sampler"
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        assert f.read().split(b"\0")[0] == b"memguard-sampler"
    names = set()
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            names.add(f.read().strip())
    assert names == {"mg-sampler", "mg-measure"}, names
    # the measuring thread runs: its pass is recent
    wait_until(lambda: 0 <= int(auto(h)["MeasureAgeMs"]) < 1000,
               "a recent measuring pass")


@pytest.mark.parametrize("value, why", [
    ("soon", "not a duration"),
    ("0s", "out of range"),
    ("50ms", "out of range"),
    ("11m", "out of range"),
    ("1s 5s", "must be shorter"),
    ("5s 5s", "must be shorter"),
    ("5s never", "not a duration"),
    ("-1s", "not a duration"),
    ("", "takes 1-2 arguments"),
    ("5s 1s 1s", "takes 1-2 arguments"),
])
def test_bad_fill_horizon_stops_configtest(httpd_factory, value, why):
    h = httpd_factory(start=False)
    rc, out = h.configtest("MemGuardFillHorizon %s\n" % value)
    assert rc != 0, out
    assert "MemGuardFillHorizon" in out, out
    assert why in out, out
    if "arguments" not in why:
        assert value.split()[-1] in out or value.split()[0] in out, out


@pytest.mark.parametrize("value", ["off", "5s", "5s 1s", "10s off",
                                   "off 1s", "2m 30s", "5", "OFF"])
def test_good_fill_horizon(httpd_factory, value):
    h = httpd_factory(start=False)
    rc, out = h.configtest("MemGuardFillHorizon %s\n" % value)
    assert rc == 0, out
