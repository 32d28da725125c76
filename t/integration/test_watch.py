"""tools/memguard-watch, the standalone watcher, as a plain program: no
httpd. Its lines are checked against the fixture trees of
t/unit/fixtures/proc (exact values, text and JSON), growth against a copy
of a tree whose slabinfo is rewritten between lines, the bounded output
file while it keeps running, and what it does without root and with
hostile trees."""
import json
import os
import re
import signal
import subprocess
import tempfile
import time

import pytest

from t.harness.mgfixture import FIXTURES, ProcRoot
from t.harness.mghttpd import TOP

WATCH = os.path.join(TOP, "build", "tools", "memguard-watch")
KIB = 1024


@pytest.fixture(autouse=True)
def built():
    assert os.access(WATCH, os.X_OK), \
        "%s is missing: `make tools` (make integration builds it)" % WATCH


def run(*args, timeout=20, **kw):
    return subprocess.run([WATCH] + list(args), capture_output=True,
                          text=True, timeout=timeout, **kw)


def once(tree, *args):
    root = tree if os.path.isabs(tree) else os.path.join(FIXTURES, tree)
    p = run("--once", "--root", root, *args)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 1, p.stdout
    return lines[0], p.stderr


def once_json(tree, *args):
    line, err = once(tree, "--json", *args)
    return json.loads(line), err


def fields(line):
    """A text line as {key: value}; the first field is the time."""
    parts = line.split(" ")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", parts[0])
    out = {}
    for p in parts[1:]:
        k, v = p.split("=", 1)
        assert k not in out, line
        out[k] = v
    return out


def human(n):
    """The tool's (and mg_units_format_size's) rendering, space removed."""
    if n < 1024:
        return "%dB" % n
    v, u = float(n), -1
    units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    while v >= 1024.0 and u < 5:
        v /= 1024.0
        u += 1
    return "%.1f%s" % (v, units[u])


def meminfo_kb(tree):
    out = {}
    with open(os.path.join(FIXTURES, tree, "proc", "meminfo")) as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])
    return out


def slab_sizes(path):
    """[(name, num_objs * objsize)] in file order."""
    out = []
    with open(path) as f:
        for line in f:
            if line.startswith(("slabinfo", "#")):
                continue
            p = line.split()
            out.append((p[0], int(p[2]) * int(p[3])))
    return out


def top_by_size(path, n):
    sizes = slab_sizes(path)
    return sorted(sizes, key=lambda c: -c[1])[:n]  # stable: file order


TEXT_KEYS = ["avail", "slab", "sunreclaim", "psi_some10", "psi_full10", "cg",
             "node_free", "top", "grow"]
JSON_KEYS = ["time", "seq", "mem_total", "mem_free", "mem_available",
             "mem_available_estimated", "slab", "sreclaimable", "sunreclaim",
             "swap_total", "swap_free", "psi_some_avg10", "psi_some_avg60",
             "psi_some_avg300", "psi_some_total_us", "psi_full_avg10",
             "psi_full_avg60", "psi_full_avg300", "psi_full_total_us",
             "cg_version", "cg_usage", "cg_limit", "cg_unlimited",
             "cg_working_set", "cg_oom_kills", "nodes", "top", "grow"]


# -- one line against the captured and reconstructed trees ----------------

def test_debian12_text():
    line, err = once("debian12-v1")
    f = fields(line)
    assert list(f) == TEXT_KEYS
    mi = meminfo_kb("debian12-v1")
    assert f["avail"] == human(mi["MemAvailable"] * KIB) == "23.2GiB"
    assert f["slab"] == human(mi["Slab"] * KIB)
    assert f["sunreclaim"] == human(mi["SUnreclaim"] * KIB)
    assert f["psi_some10"] == "0.00" and f["psi_full10"] == "0.00"
    # v1's "unlimited" (LONG_MAX rounded to a page) and 4198400 bytes used
    assert f["cg"] == "%s/unlimited" % human(4198400)
    assert f["node_free"] == "0:%s" % human(3922024 * KIB)
    top = top_by_size(os.path.join(FIXTURES, "debian12-v1/proc/slabinfo"), 5)
    assert f["top"] == ",".join("%s:%s" % (n, human(b)) for n, b in top)
    assert f["grow"] == "n/a"  # nothing to compare with yet
    assert "slabinfo" not in err


def test_debian12_json():
    d, _ = once_json("debian12-v1", "--top", "8")
    assert list(d) == JSON_KEYS
    mi = meminfo_kb("debian12-v1")
    assert d["seq"] == 1
    assert d["mem_available"] == mi["MemAvailable"] * KIB == 24922787840
    assert d["mem_total"] == mi["MemTotal"] * KIB
    assert d["mem_available_estimated"] is False
    assert d["slab"] == mi["Slab"] * KIB
    assert d["sunreclaim"] == mi["SUnreclaim"] * KIB
    assert d["sreclaimable"] == mi["SReclaimable"] * KIB
    assert d["psi_some_avg10"] == 0.0 and d["psi_full_total_us"] == 0
    assert d["cg_version"] == 1
    assert d["cg_usage"] == 4198400
    assert d["cg_limit"] is None and d["cg_unlimited"] is True
    assert [(n["node"], n["free"]) for n in d["nodes"]] == \
        [(0, 3922024 * KIB)]
    top = top_by_size(os.path.join(FIXTURES, "debian12-v1/proc/slabinfo"), 8)
    assert [(c["name"], c["bytes"]) for c in d["top"]] == top
    assert d["grow"] is None


def test_rhel7_nfs_inode_cache_on_top():
    line, _ = once("rhel7-3.10-nfs-slab")
    f = fields(line)
    nfs = 2332080 * 1072  # num_objs * objsize: the incident's 2.5 GB
    assert f["top"].split(",")[0] == "nfs_inode_cache:%s" % human(nfs)
    assert human(nfs) == "2.3GiB"
    assert f["avail"].startswith("~")  # 3.10: no MemAvailable, estimated
    assert f["psi_some10"] == "n/a"  # 3.10: no PSI
    # a group without its own limit under a 4 GiB hierarchical limit
    assert f["cg"].endswith("/4.0GiB")
    d, _ = once_json("rhel7-3.10-nfs-slab")
    assert d["top"][0] == {"name": "nfs_inode_cache", "bytes": nfs}
    assert nfs == 2499989760
    assert d["mem_available_estimated"] is True
    assert d["cg_limit"] == 4 << 30 and d["cg_unlimited"] is False


def test_rhel8_two_nodes_no_psi():
    line, err = once("rhel8-4.18-2node")
    f = fields(line)
    assert f["node_free"] == "0:%s,1:%s" % (human(1702116 * KIB),
                                            human(159196 * KIB))
    assert f["node_free"] == "0:1.6GiB,1:155.5MiB"
    assert f["psi_some10"] == "n/a" and f["psi_full10"] == "n/a"
    assert f["avail"] == human(meminfo_kb("rhel8-4.18-2node")["MemAvailable"]
                               * KIB)
    assert f["top"].startswith("dentry:")
    d, _ = once_json("rhel8-4.18-2node")
    assert [(n["node"], n["free"]) for n in d["nodes"]] == \
        [(0, 1702116 * KIB), (1, 159196 * KIB)]
    for k in JSON_KEYS:
        if k.startswith("psi_"):
            assert d[k] is None, k
    assert d["cg_limit"] == 32 << 30 and d["cg_oom_kills"] == 4
    assert "PSI" not in err  # absent PSI is not worth a message


def test_v2_max_is_unlimited():
    tree = "fedora38-v2-max"
    cg = os.path.join(FIXTURES, tree, "sys/fs/cgroup/system.slice/"
                      "httpd.service")
    with open(os.path.join(cg, "memory.max")) as f:
        assert f.read() == "max\n"
    with open(os.path.join(cg, "memory.current")) as f:
        usage = int(f.read())
    line, err = once(tree)
    f = fields(line)
    assert f["cg"] == "%s/unlimited" % human(usage)
    assert f["top"] == "n/a" and f["grow"] == "n/a"  # no slabinfo in tree
    assert err.count("slabinfo") == 1
    d, _ = once_json(tree)
    assert d["cg_version"] == 2 and d["cg_usage"] == usage
    assert d["cg_limit"] is None and d["cg_unlimited"] is True
    assert d["top"] is None


def test_v2_limit_and_psi():
    d, _ = once_json("fedora38-v2-limit")
    assert d["cg_version"] == 2
    assert d["cg_limit"] == 768 << 20 and d["cg_unlimited"] is False
    assert d["cg_oom_kills"] == 17
    assert d["psi_some_avg10"] == 31.58 and d["psi_full_avg10"] == 24.96
    f = fields(once("fedora38-v2-limit")[0])
    assert f["psi_some10"] == "31.58" and f["cg"].endswith("/768.0MiB")


def test_cgroup_and_numa_off():
    f = fields(once("debian12-v1", "--cgroup", "off", "--numa", "off")[0])
    assert f["cg"] == "off" and f["node_free"] == "off"
    d, _ = once_json("debian12-v1", "--cgroup", "off", "--numa", "off")
    assert d["cg_version"] is None and d["nodes"] is None


def test_cgroup_explicit_path():
    d, _ = once_json("fedora38-v2-limit", "--cgroup",
                     "/sys/fs/cgroup/system.slice/httpd.service")
    assert d["cg_limit"] == 768 << 20


# -- hostile and incomplete trees -------------------------------------------

@pytest.mark.parametrize("tree", ["garbage", "truncated"])
def test_hostile_tree(tree):
    line, err = once(tree)
    f = fields(line)
    assert list(f) == TEXT_KEYS
    for k in TEXT_KEYS:
        assert f[k] == "n/a", (k, line)
    assert "malformed" in err
    d, _ = once_json(tree)
    assert list(d) == JSON_KEYS
    for k in JSON_KEYS:
        if k not in ("time", "seq"):
            assert d[k] is None, k


def test_partial_tree_prints_what_it_can():
    """container-v1-nons: meminfo and a cgroup, but no PSI, no NUMA, no
    slabinfo."""
    d, err = once_json("container-v1-nons")
    assert d["mem_available"] is not None and d["cg_version"] == 1
    assert d["psi_some_avg10"] is None and d["nodes"] is None
    assert d["top"] is None
    assert err.count("slabinfo") == 1


# -- growth between lines ------------------------------------------------------

def read_lines(proc, n, timeout=10):
    """n lines from proc's stdout (raises on timeout or early exit)."""
    out = []
    end = time.monotonic() + timeout
    while len(out) < n:
        assert time.monotonic() < end, "timed out after %r" % out
        line = proc.stdout.readline()
        assert line, "exited early: %r" % out
        out.append(line.rstrip("\n"))
    return out


def set_slab_caches(root, changes):
    """ProcRoot.set_slab_cache for several caches, written in one rename
    so that the watcher never sees half of the change."""
    pending = {}
    root.read = lambda rel: pending.get(rel) or ProcRoot.read(root, rel)
    root.write = lambda rel, text: pending.__setitem__(rel, text)
    try:
        for name, nbytes in changes:
            root.set_slab_cache(name, nbytes)
    finally:
        del root.read, root.write
    for rel, text in pending.items():
        root.write(rel, text)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_growth(fmt):
    root = ProcRoot("debian12-v1")
    try:
        slab = root.file("proc/slabinfo")
        before = dict(slab_sizes(slab))
        args = [WATCH, "--root", root.path, "--interval", "100ms",
                "--count", "10", "--top", "3"]
        if fmt == "json":
            args.append("--json")
        p = subprocess.Popen(args, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            lines = read_lines(p, 1)
            # dentry grows by about 40 MiB, buffer_head shrinks (a shrink
            # is not growth), one new cache appears (all of it is growth)
            set_slab_caches(root, [
                ("dentry", before["dentry"] + (40 << 20)),
                ("buffer_head", before["buffer_head"] // 2),
                ("mg_test_cache", 1 << 20)])
            lines += read_lines(p, 9)
            assert p.wait(timeout=10) == 0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        after = dict(slab_sizes(slab))
        d_dentry = after["dentry"] - before["dentry"]
        d_new = after["mg_test_cache"]
        # set_slab_cache rounds down to whole objects (192 bytes here)
        assert (40 << 20) - 192 < d_dentry <= 40 << 20
        assert d_new == 1 << 20
        want = [("dentry", d_dentry), ("mg_test_cache", d_new)]
        if fmt == "json":
            recs = [json.loads(x) for x in lines]
            assert recs[0]["grow"] is None
            grown = [[(g["name"], g["delta"]) for g in r["grow"]]
                     for r in recs[1:]]
            for r in recs[1:]:
                for g in r["grow"]:
                    assert g["bytes"] == after[g["name"]]
        else:
            recs = [fields(x) for x in lines]
            assert recs[0]["grow"] == "n/a"
            want = [(n, "+" + human(b)) for n, b in want]
            grown = [[tuple(g.split(":")) for g in r["grow"].split(",")]
                     if r["grow"] != "none" else [] for r in recs[1:]]
        # The rewrite lands before line 2 or, on a slow machine, a later
        # one: exactly one line shows it, the others no growth at all.
        assert sorted(grown, key=len) == [[]] * 8 + [want], lines
    finally:
        root.cleanup()


# -- bounded output file ---------------------------------------------------------

def test_output_bounded_keeps_running():
    d = tempfile.mkdtemp(prefix="mg-watch-")
    out = os.path.join(d, "watch.log")
    bound = 4096
    p = subprocess.Popen([WATCH, "--root", os.path.join(FIXTURES,
                                                        "debian12-v1"),
                          "--interval", "10ms", "--output", out,
                          "--max-bytes", "4K"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            for f in (out, out + ".1"):
                try:
                    assert os.path.getsize(f) <= bound, f
                except FileNotFoundError:
                    pass
            time.sleep(0.005)
        assert p.poll() is None, "exited: %r" % (p.communicate(),)
        p.send_signal(signal.SIGTERM)
        stdout, stderr = p.communicate(timeout=5)
        assert p.returncode == 0, stderr
        assert stdout == ""
        # (mlockall fails when not root: said once, not an error)
        assert [x for x in stderr.splitlines() if "mlockall" not in x] == []
        assert os.path.exists(out + ".1"), "never rotated"
        lines = []
        for f in (out + ".1", out):
            assert os.path.getsize(f) <= bound
            with open(f) as fh:
                text = fh.read()
            assert text.endswith("\n")
            lines += text.splitlines()
        for line in lines:
            assert list(fields(line)) == TEXT_KEYS  # whole lines only
        # ~100 lines of ~250 bytes were written: only the bound's worth kept
        assert 10 <= len(lines) <= 2 * bound // 200
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        subprocess.run(["rm", "-rf", d])


def test_output_full_cannot_rotate_keeps_running():
    """FILE.1 is a non-empty directory, so FILE cannot be renamed over it:
    the watcher says so once, drops lines, keeps running, and exits 0 on
    SIGTERM; FILE never passes the bound."""
    d = tempfile.mkdtemp(prefix="mg-watch-")
    out = os.path.join(d, "watch.log")
    os.makedirs(os.path.join(out + ".1", "blocker"))
    p = subprocess.Popen([WATCH, "--root", os.path.join(FIXTURES,
                                                        "debian12-v1"),
                          "--interval", "10ms", "--json", "--output", out,
                          "--max-bytes", "2K"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        end = time.monotonic() + 0.7
        while time.monotonic() < end:
            if os.path.exists(out):
                assert os.path.getsize(out) <= 2048
            time.sleep(0.01)
        assert p.poll() is None
        p.send_signal(signal.SIGTERM)
        _, stderr = p.communicate(timeout=5)
        assert p.returncode == 0
        assert stderr.count("cannot rotate") == 1, stderr
        assert "still running" in stderr
        with open(out) as fh:
            recs = [json.loads(x) for x in fh.read().splitlines()]
        assert recs and recs[0]["seq"] == 1
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        subprocess.run(["rm", "-rf", d])


def test_sigint_stops_cleanly():
    p = subprocess.Popen([WATCH, "--root", os.path.join(FIXTURES,
                                                        "debian12-v1"),
                          "--interval", "50ms", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        read_lines(p, 2)
        p.send_signal(signal.SIGINT)
        stdout, _ = p.communicate(timeout=5)
        assert p.returncode == 0
        for line in stdout.splitlines():
            json.loads(line)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


# -- without root ------------------------------------------------------------------

def test_unprivileged_slabinfo_unreadable():
    if os.geteuid() != 0:
        pytest.skip("not running as root: cannot switch to user nobody")
    if not os.access("/proc/slabinfo", os.F_OK):
        pytest.skip("this kernel has no /proc/slabinfo")
    p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                        "--clear-groups", WATCH, "--count", "3",
                        "--interval", "10ms"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 3
    for line in lines:
        f = fields(line)
        assert f["top"] == "n/a" and f["grow"] == "n/a"
        assert f["avail"] != "n/a"  # everything else is world-readable
    said = [x for x in p.stderr.splitlines() if "slabinfo" in x]
    assert len(said) == 1, p.stderr
    assert "root" in said[0]


# -- usage ---------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["--interval", "5ms"], ["--interval", "1x"], ["--top", "0"],
    ["--top", "33"], ["--max-bytes", "4K"], ["--cgroup", "relative"],
    ["--numa", "on"], ["--count", "0"], ["--bogus"], ["extra"],
    ["--output", "/dev/null", "--max-bytes", "100"],
])
def test_usage_errors(args):
    p = run(*args)
    assert p.returncode == 2, p
    assert p.stdout == "" and "--help" in p.stderr


def test_start_errors():
    assert run("--once", "--root", "/nonexistent-root").returncode == 1
    p = run("--once", "--output", "/nonexistent-dir/x")
    assert p.returncode == 1 and "cannot open" in p.stderr


def test_help():
    p = run("--help")
    assert p.returncode == 0 and "--max-bytes" in p.stdout
