"""`make run`'s script (t/harness/run.py): starts the demo, a real XML-RPC client works, a
10 MB body gets the body-size fault, and `stop` stops it. And the README's
first command as a new user types it: `make run` on a fresh `git clone`
where nothing was ever built."""
import json
import os
import re
import subprocess
import sys
import urllib.request
import xmlrpc.client

import pytest

from t.harness.mghttpd import BAD_LEVEL, TOP, alive, free_port, wait_gone


def test_run_start_call_stop(tmp_path):
    env = dict(os.environ, MG_RUN_STATE=str(tmp_path / "state.json"))
    script = [sys.executable, "-m", "t.harness.run"]
    port = free_port()
    out = subprocess.run(script + ["start", "--port", str(port)], env=env,
                         cwd=TOP, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    url = "http://127.0.0.1:%d/kojihub" % port
    assert url in out.stdout
    st = json.load(open(tmp_path / "state.json"))
    try:
        hub = xmlrpc.client.ServerProxy(url)
        assert hub.getBuild(42)["id"] == 42
        with pytest.raises(xmlrpc.client.Fault) as e:
            hub.echo("x" * (10 << 20))
        assert e.value.faultCode == 4130
        assert "> limit 1048576 (MemGuardMaxRequestBody)" in \
            e.value.faultString
    finally:
        out = subprocess.run(script + ["stop"], env=env, cwd=TOP,
                             capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "stopped httpd %d" % st["pid"] in out.stdout
    with pytest.raises(ProcessLookupError):
        os.kill(st["pid"], 0)
    with open(os.path.join(st["root"], "logs", "error.log")) as f:
        log = f.read()
    assert "MG00102: refused POST /kojihub (body-size)" in log
    subprocess.run(["rm", "-rf", st["root"]])


def new_user_env(**extra):
    """A new user's environment: none of the harness's MG_* variables
    (MG_MGTEST would lend the clone this tree's build) and none of the
    make running these tests."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MG_")
           and k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    env.update(extra)
    return env


def make(clone, target, env, timeout=600):
    p = subprocess.run(["make", target], cwd=clone, env=env,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == 0, "make %s failed:\n%s\n%s" % (
        target, p.stdout[-4000:], p.stderr[-4000:])
    return p.stdout


def test_fresh_clone_make_run(tmp_path):
    """`git clone` (the committed tree: nothing built, nothing ignored
    copied), then `PORT=N make run`: it builds what it loads, starts
    the demo and prints its URLs; a real client's call goes through the
    module to the hub, the status page answers, `make stop` stops it."""
    clone = str(tmp_path / "mod_memguard")
    subprocess.run(["git", "clone", "-q", TOP, clone], check=True,
                   timeout=120)
    assert not os.path.exists(os.path.join(clone, "t", "modules", ".libs"))
    port = free_port()
    env = new_user_env(PORT=str(port))
    out = make(clone, "run", env)
    hub_url = re.search(r"XML-RPC hub:\s+(\S+)", out).group(1)
    status_url = re.search(r"status page:\s+(\S+)", out).group(1)
    assert hub_url == "http://127.0.0.1:%d/kojihub" % port, out
    assert status_url == "http://127.0.0.1:%d/memguard-status" % port, out
    with open(os.path.join(clone, "run", "state.json")) as f:
        st = json.load(f)
    try:
        assert alive(st["pid"])
        hub = xmlrpc.client.ServerProxy(hub_url)
        assert hub.getBuild(7)["id"] == 7
        with urllib.request.urlopen(status_url + "?auto", timeout=30) as r:
            assert r.status == 200
            auto = r.read().decode()
        assert "MemGuardState: ok\n" in auto, auto
    finally:
        out = make(clone, "stop", env)
    assert "stopped httpd %d" % st["pid"] in out
    assert wait_gone(st["pid"], 10)
    with open(os.path.join(st["root"], "logs", "error.log")) as f:
        log = f.read()
    assert "MG00315: sampler started" in log
    bad = [line for line in log.splitlines() if BAD_LEVEL.search(line)]
    assert bad == [], "\n".join(bad)
    with open(os.path.join(st["root"], "logs", "access.log")) as f:
        assert re.search(r'"POST /kojihub HTTP/1.1" 200 ', f.read())
    subprocess.run(["rm", "-rf", st["root"]])
