"""make bench: run every benchmark and print one summary.

Benchmarks live in t/bench/: Python scripts bench_<topic>.py (run from the
top directory as modules, python3 -m t.bench.bench_<topic>) and C programs
bench_<topic>.c (built into build/bench/ by the Makefile). Each prints its
own human-readable lines and, as its last line, one JSON object with at
least {"bench": NAME, "results": [{"name", "value", "unit", "target",
"ok"}...]}. Every figure that compares is a ratio against a baseline
measured side by side in the same run: these machines are noisy.

A benchmark that cannot run here (no root, a tool missing) prints a JSON
object with "skipped" (the reason) and no results.

    python3 -m t.bench [--only TOPIC] [--args TOPIC=ARGS] [--json FILE]

e.g. python3 -m t.bench --only overhead --args overhead="--repeat 3"
"""
import argparse
import glob
import json
import os
import shlex
import subprocess
import sys
import time

from t.harness import TOP


def benches(only, extra):
    found = []
    for path in sorted(glob.glob(os.path.join(TOP, "t", "bench",
                                              "bench_*.py"))):
        module = os.path.basename(path)[:-3]
        found.append((module[6:], [sys.executable, "-m",
                                   "t.bench." + module]))
    for path in sorted(glob.glob(os.path.join(TOP, "build", "bench",
                                              "bench_*"))):
        if os.access(path, os.X_OK) and not path.endswith(".py"):
            found.append((os.path.basename(path)[6:], [path]))
    if only:
        found = [b for b in found if b[0] in only]
    return [(name, cmd + extra.get(name, [])) for name, cmd in found]


def main():
    ap = argparse.ArgumentParser(prog="python3 -m t.bench")
    ap.add_argument("--only", action="append")
    ap.add_argument("--args", action="append", default=[],
                    metavar="TOPIC=ARGS",
                    help="extra arguments for one benchmark")
    ap.add_argument("--json", default=os.path.join(TOP, "build",
                                                   "bench.json"))
    args = ap.parse_args()
    extra = {}
    for a in args.args:
        topic, _, rest = a.partition("=")
        extra[topic] = shlex.split(rest)
    env = dict(os.environ, MALLOC_ARENA_MAX="2")
    summary = []
    failed = 0
    for name, cmd in benches(args.only, extra):
        print("== bench %s: %s" % (name, " ".join(cmd)), flush=True)
        t0 = time.time()
        p = subprocess.run(cmd, cwd=TOP, env=env, stdout=subprocess.PIPE,
                           text=True)
        sys.stdout.write(p.stdout)
        last = [line for line in p.stdout.splitlines() if line.startswith("{")]
        try:
            result = json.loads(last[-1]) if last else None
        except ValueError:
            result = None
        if p.returncode != 0 or result is None:
            failed += 1
            print("!! bench %s failed (exit %d)" % (name, p.returncode))
            continue
        result["seconds"] = round(time.time() - t0, 1)
        summary.append(result)
    print()
    print("%-14s %-48s %14s %10s  %s" % ("bench", "figure", "value",
                                          "target", "met"))
    for r in summary:
        if r.get("skipped"):
            print("%-14s skipped: %s" % (r["bench"], r["skipped"]))
        for f in r.get("results", []):
            if "name" not in f or "value" not in f:
                # a bench with rows of its own shape: show them as they are
                print("%-14s %s" % (r["bench"], " ".join(
                    "%s=%s" % kv for kv in sorted(f.items()))))
                continue
            print("%-14s %-48s %14s %10s  %s" % (
                r["bench"], f["name"][:48],
                "%.4g %s" % (f["value"], f.get("unit", "")),
                f.get("target", ""),
                {True: "yes", False: "NO", None: "-"}[f.get("ok")]))
        if "pass" in r:
            print("%-14s %-48s %14s %10s  %s" % (
                r["bench"], "all targets", "", "",
                "yes" if r["pass"] else "NO"))
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(summary, f, indent=1)
    print("\nall figures: %s" % args.json)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
