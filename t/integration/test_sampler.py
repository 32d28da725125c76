"""The sampler's life: one process per configuration generation, restarted
by the parent when it dies, stale samples when it is stopped (fail open /
fail closed), nothing leaked over graceful restarts and after stop."""
import glob
import http.client
import os
import re
import signal
import threading
import time

import pytest

from t.harness.mgfixture import ProcRoot
from t.harness.mghttpd import status_of

STARTED = r"MG00315: sampler started \(pid (\d+), start (\d+), board " \
          r"generation (\d+)"


def wait_status(h, want, timeout=5.0):
    t0 = time.monotonic()
    while True:
        st = status_of(h)
        if st == want:
            return
        assert time.monotonic() - t0 < timeout, "still %d, want %d" % (st,
                                                                       want)
        time.sleep(0.02)


def starts(h):
    """[(pid, start number, generation)] of every 'sampler started'."""
    out = []
    for line in h.log_lines():
        m = re.search(STARTED, line)
        if m:
            out.append(tuple(int(x) for x in m.groups()))
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


def samplers_alive(h, want=None, timeout=5):
    """Samplers alive; with want, first wait up to timeout seconds for
    exactly those (an old one leaves within a sample or two)."""
    deadline = time.time() + timeout
    while True:
        got = [p for p, _, _ in starts(h) if alive(p)]
        if want is None or got == want or time.time() > deadline:
            return got
        time.sleep(0.05)


class Load:
    """A client loop on fresh connections; counts answers by status and
    failures (exceptions) until stopped."""

    def __init__(self, h, path="/mgtest", threads=2):
        self.h, self.path = h, path
        self.ok = 0
        self.errors = []
        self.stop_ev = threading.Event()
        self.threads = [threading.Thread(target=self.run)
                        for _ in range(threads)]

    def run(self):
        while not self.stop_ev.is_set():
            try:
                st = status_of(self.h, self.path)
                if st == 200:
                    self.ok += 1
                else:
                    self.errors.append(st)
            except Exception as e:          # noqa: BLE001 - counted
                self.errors.append(repr(e))
            time.sleep(0.005)

    def progress(self, n, timeout=10):
        """Wait until n more answers came back ok (no rate assumed)."""
        want, deadline = self.ok + n, time.monotonic() + timeout
        while self.ok < want and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.ok >= want, "no progress: %r" % self.errors[-5:]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *a):
        self.stop_ev.set()
        for t in self.threads:
            t.join(15)


@pytest.fixture
def root():
    r = ProcRoot("debian12-v1")
    yield r
    r.cleanup()


def conf(root, extra=""):
    return """
MemGuardEngine On
MemGuardProcRoot "%s"
MemGuardSampleInterval 50ms
MemGuardMinAvailable 1G
%s
""" % (root.path, extra)


def test_sampler_runs_unprivileged_and_locked(root, httpd_factory):
    h = httpd_factory(conf(root))
    h.wait_log(STARTED)
    (pid, n, gen), = starts(h)
    assert n == 1 and gen == 1
    with open("/proc/%d/status" % pid) as f:
        status = f.read()
    uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
    if os.geteuid() == 0:
        assert uid != 0, "the sampler kept root"
        # MCL_ONFAULT: mappings locked, pages locked as they are touched
        assert int(re.search(r"^VmLck:\s+(\d+)", status, re.M).group(1)) > 0
    # its parent is httpd's, it is in httpd's session, and not a worker
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    assert int(fields[1]) == h.pid and int(fields[3]) == h.pid
    # no listening socket of the server is held by the sampler
    socks = [os.readlink(p) for p in glob.glob("/proc/%d/fd/*" % pid)
             if os.readlink(p).startswith("socket:")]
    assert socks == []


def test_sigkill_sampler_restarted_within_a_second(root, httpd_factory, mpm):
    h = httpd_factory(conf(root), mpm=mpm)
    h.allow(r"MG00321: sampler died \(signal 9\): starting a new one")
    h.wait_log(STARTED)
    old = starts(h)[0][0]
    with Load(h) as load:
        load.progress(5)
        t0 = time.monotonic()
        os.kill(old, signal.SIGKILL)
        h.wait_log(STARTED, count=2, timeout=5)
        took = time.monotonic() - t0
        load.progress(5)
    # the parent looks once a second; the margin is for a loaded machine
    assert took < 2.5, "new sampler after %.2fs" % took
    (p1, n1, _), (p2, n2, _) = starts(h)
    assert p1 == old and p2 != old and (n1, n2) == (1, 2)
    assert alive(p2) and not alive(old)
    assert load.errors == [] and load.ok >= 10
    h.wait_log(r"\[memguard:error\].*MG00321: sampler died \(signal 9\)")
    # the new sampler still sheds
    root.set_meminfo(MemAvailable=100 * 1024)
    wait_status(h, 503)


def test_sigstop_sampler_fails_open_then_recovers(root, httpd_factory, mpm):
    h = httpd_factory(conf(root), mpm=mpm)
    h.allow(r"MG00330: no fresh memory sample")
    h.wait_log(STARTED)
    pid = starts(h)[0][0]
    os.kill(pid, signal.SIGSTOP)
    try:
        root.set_meminfo(MemAvailable=100 * 1024)   # unseen: it is stopped
        time.sleep(2.3)                             # stale after 2 s
        for _ in range(20):
            assert status_of(h) == 200                    # fail open
        lines = h.wait_log(r"\[memguard:error\].*MG00330: no fresh memory "
                           r"sample for \d+ ms .*failing open")
        assert len(lines) == 1, lines               # once per episode
    finally:
        os.kill(pid, signal.SIGCONT)
    h.wait_log(r"MG00316: sampler resumed after \d+ ms")
    wait_status(h, 503)                             # it sees memory again
    assert len(starts(h)) == 1                      # same sampler
    root.set_meminfo(MemAvailable=20 * 1024 * 1024)
    wait_status(h, 200)


def test_sigstop_sampler_fail_closed_sheds(root, httpd_factory):
    h = httpd_factory(conf(root, "MemGuardFailMode closed\n"))
    h.allow(r"MG00330: no fresh memory sample")
    h.wait_log(STARTED)
    pid = starts(h)[0][0]
    assert status_of(h) == 200
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(2.3)
        c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
        c.request("GET", "/mgtest")
        r = c.getresponse()
        body = r.read().decode()
        assert r.status == 503 and r.getheader("Retry-After") == "5"
        h.wait_log(r"MG00330: .*failing closed, shedding")
        h.wait_log(r"MG00102: refused GET /mgtest \(shed\): no fresh memory "
                   r"sample for \d+ ms \(MemGuardFailMode closed\)")
        assert "Service Unavailable" in body or "503" in body
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_status(h, 200)


def shm_state():
    """What shared memory exists on the machine: SysV segments and POSIX
    ones (/dev/shm)."""
    try:
        with open("/proc/sysvipc/shm") as f:
            sysv = len(f.read().splitlines()) - 1
    except OSError:
        sysv = -1
    return sysv, sorted(os.listdir("/dev/shm"))


def test_graceful_restarts_under_load_keep_one_sampler(root, httpd_factory,
                                                       mpm):
    shm_before = shm_state()
    h = httpd_factory(conf(root), mpm=mpm)
    h.wait_log(STARTED)
    h.graceful()
    h.wait_log(STARTED, count=2)
    fds_after_first = len(os.listdir("/proc/%d/fd" % h.pid))
    with Load(h) as load:
        for i in range(9):
            load.progress(3)    # requests in flight across every restart
            h.graceful()
            h.wait_log(STARTED, count=3 + i, timeout=10)
        load.progress(3)
    got = starts(h)
    assert len(got) == 11
    # start numbers and board generations continue: the board was kept
    assert [n for _, n, _ in got] == list(range(1, 12))
    assert [g for _, _, g in got] == list(range(1, 12))
    # exactly one sampler alive: the last one
    assert samplers_alive(h, [got[-1][0]]) == [got[-1][0]]
    # no descriptor leaked in the parent by ten restarts
    assert len(os.listdir("/proc/%d/fd" % h.pid)) == fds_after_first
    assert load.ok >= 30
    # a graceful restart drops no request (fresh connections; the
    # listeners stay open)
    assert load.errors == [], load.errors[:5]
    root.set_meminfo(MemAvailable=100 * 1024)
    wait_status(h, 503)
    root.set_meminfo(MemAvailable=20 * 1024 * 1024)
    wait_status(h, 200)
    h.stop()
    assert h.children() == []
    assert samplers_alive(h) == []
    assert shm_state() == shm_before
    # and nothing left in the run directory but what httpd itself keeps
    leftovers = [f for f in os.listdir(h.path("run"))
                 if not f.startswith(("httpd.pid", "wsgi"))]
    assert leftovers == []


def test_hard_restart_keeps_one_sampler(root, httpd_factory):
    h = httpd_factory(conf(root))
    h.wait_log(STARTED)
    before = h.generation_count()
    os.kill(h.pid, signal.SIGHUP)
    deadline = time.time() + 20
    while h.generation_count() == before and time.time() < deadline:
        time.sleep(0.05)
    h.wait_log(STARTED, count=2)
    last = [starts(h)[-1][0]]
    assert samplers_alive(h, last) == last
    assert status_of(h) == 200
