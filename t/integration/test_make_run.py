"""`make run`'s script: starts the demo, a real XML-RPC client works, a
10 MB body gets the body-size fault, and `stop` stops it."""
import json
import os
import subprocess
import sys
import xmlrpc.client

import pytest

from mghttpd import TOP, free_port


def test_run_start_call_stop(tmp_path):
    env = dict(os.environ, MG_RUN_STATE=str(tmp_path / "state.json"))
    script = os.path.join(TOP, "tools", "mg-run.py")
    port = free_port()
    out = subprocess.run([sys.executable, script, "start", "--port",
                          str(port)], env=env, capture_output=True,
                         text=True, timeout=60)
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
        out = subprocess.run([sys.executable, script, "stop"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "stopped httpd %d" % st["pid"] in out.stdout
    with pytest.raises(ProcessLookupError):
        os.kill(st["pid"], 0)
    with open(os.path.join(st["root"], "logs", "error.log")) as f:
        log = f.read()
    assert "MG00102: refused POST /kojihub (body-size)" in log
    subprocess.run(["rm", "-rf", st["root"]])
