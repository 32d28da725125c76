"""A real memory cgroup, not a fixture: httpd runs inside a v1 memory group
the test creates (300 MiB), MemGuardProcRoot "/" and MemGuardCgroup auto,
and one prefork child grows 20 MiB per request on one keep-alive
connection. memguard must shed before the kernel's OOM killer fires.

Skipped (never passed) where a memory cgroup cannot be created: not root,
no v1 memory controller mounted, or not writable."""
import http.client
import os
import re
import time

import pytest

from t.harness.cgroup import CG_ROOT, MemCgroup

LIMIT = 300 << 20
MiB = 1 << 20


@pytest.fixture
def cgroup():
    if os.geteuid() != 0:
        pytest.skip("not root: cannot create a memory cgroup")
    if not os.path.exists(os.path.join(CG_ROOT, "memory.limit_in_bytes")):
        pytest.skip("no cgroup v1 memory controller at %s" % CG_ROOT)
    try:
        cg = MemCgroup("mg-test", LIMIT)
    except OSError as e:
        pytest.skip("cannot create and limit a memory cgroup in %s: %s"
                    % (CG_ROOT, e))
    yield cg
    cg.remove()
    assert not os.path.exists(cg.path)


@pytest.mark.parametrize("fill", ["off", "default"])
def test_sheds_before_the_oom_killer(cgroup, httpd_factory, fill):
    """fill off: the level alone sheds, past 100 MiB held. fill default
    (MemGuardFillHorizon 5s 1s): growing 20 MiB per 0.1 s, the headroom
    would reach the shed level within a second long before it does: shed
    earlier, on the rate (signal cgroup-fill)."""
    h = httpd_factory("""
MemGuardEngine On
MemGuardCgroup auto
MemGuardSampleInterval 20ms
# shed when the group's headroom (limit - working set) is under 30%% (90 MiB)
MemGuardMinAvailable 30%%
%s
""" % ("MemGuardFillHorizon off" if fill == "off" else ""),
        mpm="prefork", start=False,
        prefix=cgroup.wrapper())
    h.start()
    h.wait_log(r"MG00004: memory cgroup v1 at .*%s"
               % os.path.basename(cgroup.path))
    h.wait_log(r"MG00315: sampler started")
    assert h.pid in cgroup.pids()
    assert cgroup.oom_kills() == 0

    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
    held, pid_seen, status = 0, set(), None
    for _ in range(20):                # 20 x 20 MiB would be 400 MiB
        c.request("GET", "/mgtest?alloc=20")
        r = c.getresponse()
        body = r.read().decode(errors="replace")
        status = r.status
        if status == 503:
            assert r.getheader("Retry-After") == "5"
            break
        assert status == 200, body
        pid_seen.add(re.search(r"pid=(\d+)", body).group(1))
        held = int(re.search(r"held=(\d+)", body).group(1))
        time.sleep(0.1)                # a few samples between steps
    c.close()
    usage = int(cgroup.read("memory.max_usage_in_bytes"))
    print("held %d MiB at shed, max usage %d MiB" % (held, usage >> 20))
    assert status == 503, "never shed; the child holds %d MiB" % held
    assert len(pid_seen) == 1, "the same child should have grown"
    assert cgroup.oom_kills() == 0, "the OOM killer fired"
    assert usage < LIMIT
    if fill == "off":
        assert 100 <= held < 300, held
        lines = h.wait_log(r"MG00310: verdict ok -> shed: signal cgroup ")
    else:
        # the headroom left at the shed is well above the 90 MiB level
        assert held < 100, held
        lines = h.wait_log(r"MG00310: verdict \w+ -> shed: signal "
                           r"cgroup-fill .*falling [\d.]+ MiB/s, shed level "
                           r"90\.0 MiB in 0\.\d s")
    assert len(lines) == 1
