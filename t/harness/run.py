"""make run / make stop: a self-contained httpd on 127.0.0.1 with
mod_memguard in front of the demo XML-RPC hub (under mod_wsgi).

From the top directory:

    python3 -m t.harness.run start [--port N] [--mpm prefork|event] [--module PATH]
    python3 -m t.harness.run stop

The server root lives in a temporary directory named in ./run/state; the
server keeps running after this command returns.
"""
import argparse
import json
import os
import signal
import sys
import time

from t.harness import TOP
from t.harness.mghttpd import Httpd, wait_until
from t.harness.statuslib import page_text, parse_auto

STATE = os.environ.get("MG_RUN_STATE") or os.path.join(TOP, "run",
                                                       "state.json")
DEFAULT_PORT = 8089

# The demo runs the shipped configuration (conf/memguard.conf, included
# as it is), plus what only a demo wants: a small body limit so that the
# refusal is easy to see, and the status page.
DEMO_CONF = """
Include "%s"
<Location /kojihub>
    MemGuardMaxRequestBody 1M
</Location>
<Location /memguard-status>
    SetHandler memguard-status
</Location>
""" % os.path.join(TOP, "conf", "memguard.conf")


def _port_free(port):
    import socket
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _wait_first_sample(h, timeout=10.0):
    """Until the sampler has published its first sample (the status page
    says a state, not "unknown"), so that the URLs printed next show the
    machine as it is; after timeout, go on and say so."""
    try:
        wait_until(lambda: parse_auto(page_text(
            h, "/memguard-status?auto"))["MemGuardState"] != "unknown",
            "the first headroom sample", timeout)
    except AssertionError:
        print("note: no headroom sample after %gs yet (see the error log)"
              % timeout)


def start(args):
    if os.path.exists(STATE):
        stop(args, quiet=True)
    # Only what `make` builds: the test-only mod_mgtest is left out, so
    # the demo starts on a clone where nothing else was ever built.
    h = Httpd(mpm=args.mpm, conf=DEMO_CONF, module=args.module,
              loglevel="info", load_mgtest=False)
    if args.port:
        h.port = args.port
    elif _port_free(DEFAULT_PORT):
        h.port = DEFAULT_PORT
    else:
        print("port %d is busy; using %d (set PORT=N to choose)"
              % (DEFAULT_PORT, h.port))
    h.start()
    _wait_first_sample(h)
    os.makedirs(os.path.dirname(STATE), exist_ok=True)
    with open(STATE, "w") as f:
        json.dump({"pid": h.pid, "root": h.root, "port": h.port}, f)
    # Detach: the Popen object goes away with us; httpd keeps running in
    # its own session.
    print("mod_memguard demo running (%s MPM, pid %d)" % (args.mpm, h.pid))
    print("  XML-RPC hub:  %s" % h.hub_url)
    print("  status page:  %s/memguard-status (?auto ?json ?prometheus "
          "?health)" % h.url)
    print("  server root:  %s" % h.root)
    print("  error log:    %s" % h.error_log)
    print("  try:  /usr/bin/python3 -c \"import xmlrpc.client as x; "
          "print(x.ServerProxy('%s').getBuild(1))\"" % h.hub_url)
    print("  stop: make stop")
    return 0


def stop(args, quiet=False):
    try:
        with open(STATE) as f:
            st = json.load(f)
    except (OSError, ValueError):
        if not quiet:
            print("nothing to stop")
        return 0
    pid = st["pid"]
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(200):
            os.kill(pid, 0)
            time.sleep(0.05)
    except ProcessLookupError:
        pass
    os.unlink(STATE)
    if not quiet:
        print("stopped httpd %d (server root %s left for inspection)"
              % (pid, st["root"]))
    return 0


def main():
    ap = argparse.ArgumentParser(prog="python3 -m t.harness.run")
    ap.add_argument("action", choices=["start", "stop"])
    ap.add_argument("--port", type=int, default=int(
        os.environ.get("PORT", "0") or 0))
    ap.add_argument("--mpm", default=os.environ.get("MPM", "prefork"))
    ap.add_argument("--module", default=None)
    args = ap.parse_args()
    return start(args) if args.action == "start" else stop(args)


if __name__ == "__main__":
    sys.exit(main())
