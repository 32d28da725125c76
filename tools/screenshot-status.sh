#!/bin/sh
# Take the README's screenshot of the status page (tools/screenshots/
# status.png): start the `make run` demo on a free port with a state file
# of its own, send it some traffic (good calls and calls over the body
# limit), shoot the HTML page with headless Chromium, stop the demo.
#
#   make module && tools/screenshot-status.sh [OUT.png]
#
# Chromium is only needed here, not by `make test`: install it by hand
# (Debian: apt-get install chromium).
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$TOP/tools/screenshots/status.png}
PY=${PYTHON:-/usr/bin/python3}
CHROMIUM=$(command -v chromium || command -v chromium-browser \
    || command -v google-chrome || true)
if [ -z "$CHROMIUM" ]; then
    echo "chromium not found (Debian: apt-get install chromium)" >&2
    exit 1
fi

WORK=$(mktemp -d)
export MG_RUN_STATE="$WORK/state.json"
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
    (cd "$TOP" && $PY -m t.harness.run stop) >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

(cd "$TOP" && $PY -m t.harness.run start --port "$PORT" \
    --module "$TOP/mod_memguard/.libs/mod_memguard.so") >/dev/null

# Some traffic: cheap calls, a few expensive ones, and a few bodies over
# the 1M limit.
$PY - "$PORT" <<'PYEOF'
import sys, xmlrpc.client
url = "http://127.0.0.1:%s/kojihub" % sys.argv[1]
for i in range(40):
    xmlrpc.client.ServerProxy(url).getBuild(i)
for i in range(3):
    xmlrpc.client.ServerProxy(url).queryHistory(2000)
for i in range(5):
    try:
        xmlrpc.client.ServerProxy(url).echo("x" * (2 << 20))
    except xmlrpc.client.Fault:
        pass
PYEOF
# The sampler reads the children's unshared size once a second.
sleep 2

mkdir -p "$(dirname "$OUT")"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync \
    --user-data-dir="$WORK/chromium" --hide-scrollbars \
    --screenshot="$OUT" --window-size=1280,1600 \
    "http://127.0.0.1:$PORT/memguard-status" >"$WORK/chromium.log" 2>&1 \
    || { cat "$WORK/chromium.log" >&2; exit 1; }
echo "wrote $OUT"
