#!/usr/bin/python3
"""make bench-headline: the hub's bad night, side by side in one run.
Run from the top directory as a module (it uses the test harness, t.harness):

The demo hub (tools/demo-hub) under a private httpd (prefork, mod_wsgi
embedded) inside a v1 memory cgroup this tool creates, hit by the same
XML-RPC storm twice (tools/xmlrpc-storm, two processes: heavy
queryHistory callers that never pause, and cheap getBuild callers paced
at a fixed total rate as builders polling the hub, each caller on its own
keep-alive connection):

  A  mod_memguard not loaded
  B  the shipped conf/memguard.conf, as an operator would include it

Only site-specific lines are added around the shipped file (ServerRoot,
port, MPM sizing, the status page); nothing protective. Reported for both:
OOM kills (the cgroup's memory.oom_control), children killed by a signal
(the error log's "exit signal" lines; SIGKILLed children are not logged
by httpd, so the OOM count comes from the cgroup), cheap-call success rate
and latency, what the expensive calls got, peak memory. Output: a table,
build/bench-headline.json and a PNG plot of the cgroup's memory over time.

The slab variant: kernel slab (negative dentries) grown by a bounded
amount outside the server's processes, with the shipped conf plus a
MemGuardSlabCache dentry limit (B') and the shipped conf alone, whose
only headroom signal is MemAvailable / the cgroup (C'): B' sheds on the
named cache, C' does not react (reclaimable slab counts as available).

Needs root and a writable cgroup v1 memory controller (exit status 2
otherwise). Everything created is removed at the end: the cgroups (their
processes killed if httpd did not stop them), the httpd roots, the
directory holding the dentries.

    python3 -m t.bench.headline [--duration 60] [--no-slab] [--update-readme-assets]
"""
import argparse
import http.client
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

try:
    from t.harness import TOP
    from t.harness.cgroup import MemCgroup
except ImportError:     # run as a file: the harness is imported as a package
    sys.exit("bench-headline: run it from the top directory as "
             "python3 -m t.bench.headline (or make bench-headline)")

CG_ROOT = "/sys/fs/cgroup/memory"
MiB = 1 << 20
STORM = os.path.join(TOP, "tools", "xmlrpc-storm")
SHIPPED = os.path.join(TOP, "conf", "memguard.conf")
PYTHON = "/usr/bin/python3"

# The scenario's MPM: one prefork child per caller (they keep their
# connections alive) plus a few for probes; a Koji hub runs hundreds.
# Site-specific sizing, the same for A and B.
def mpm_site(callers):
    """One prefork child per storm caller (they keep their connections
    alive) and a few for probes."""
    n = callers + 10
    return """
# site: one child per storm caller (keep-alive) and a few spare
StartServers %d
MinSpareServers 4
MaxSpareServers %d
ServerLimit %d
MaxRequestWorkers %d
""" % (callers + 2, n, n, n)

STATUS_SITE = """
# site: the status page, for this benchmark's probes (not protective)
<Location /memguard-status>
    SetHandler memguard-status
</Location>
"""

GETBUILD = (b"<?xml version='1.0'?>\n<methodCall>\n<methodName>getBuild"
            b"</methodName>\n<params>\n<param>\n<value><int>1</int></value>"
            b"\n</param>\n</params>\n</methodCall>\n")

STATES = {"ok": 0, "throttle": 1, "shed": 2}

# --scenarios presets: B's conf, the heavy callers, their rows, multicall.
SCENARIOS = {
    "named": {"what": "the shipped conf, which names queryHistory",
              "scenario": "named", "heavy": 20, "rows": 20000,
              "multicall": False},
    "unnamed": {"what": "the shipped conf without its queryHistory rule",
                "scenario": "unnamed", "heavy": 20, "rows": 20000,
                "multicall": False},
    "unnamed-40": {"what": "the same with 40 heavy callers",
                   "scenario": "unnamed", "heavy": 40, "rows": 20000,
                   "multicall": False},
    "unnamed-40k": {"what": "the same with 40000 rows a call",
                    "scenario": "unnamed", "heavy": 20, "rows": 40000,
                    "multicall": False},
    "multicall": {"what": "the shipped conf, the heavy calls sent inside "
                  "multiCall", "scenario": "named", "heavy": 20,
                  "rows": 20000, "multicall": True},
}
# --update-readme writes the scenario table into this Markdown file (relative
# to the top directory), between these two markers.
SCENARIO_TABLE_FILE = "t/bench/README.md"
README_BEGIN = "<!-- bench-headline scenarios: begin -->"
README_END = "<!-- bench-headline scenarios: end -->"
# ... and one line of evidence, from the `unnamed` scenario (the night whose
# crazy query the conf does not name), into this file's first screen.
EVIDENCE_FILE = "README.md"
EVIDENCE_BEGIN = "<!-- bench-headline evidence: begin -->"
EVIDENCE_END = "<!-- bench-headline evidence: end -->"
EVIDENCE_LINK = "t/bench/README.md#calls-nobody-named"


class Usage(Exception):
    pass


# -- arguments -----------------------------------------------------------------

def parse_size(text):
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)i?B?\s*", text, re.I)
    if not m:
        raise argparse.ArgumentTypeError("not a size: %r" % text)
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[
        m.group(2).upper()]


def positive(kind, lo, hi):
    def conv(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError("not a number: %r" % text)
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError("%s is not in [%s, %s]"
                                             % (text, lo, hi))
        return v
    return conv


def build_parser():
    p = argparse.ArgumentParser(
        prog="bench-headline",
        description="The hub's bad night twice in one run: A without "
        "mod_memguard, B with the shipped conf/memguard.conf; then the "
        "slab variant. Needs root and the cgroup v1 memory controller.")
    p.add_argument("--duration", type=positive(float, 5, 600), default=60,
                   help="seconds of storm per run (default 60)")
    p.add_argument("--heavy", type=positive(int, 1, 200), default=20,
                   help="callers of queryHistory(ROWS) (default 20)")
    p.add_argument("--heavy-client-nice", type=positive(int, 0, 19),
                   default=10, help="nice value of the process that plays "
                   "the heavy callers (default 10: on a real hub the "
                   "clients are other machines; here the one reading 20 "
                   "big answers at once would take CPU from the server "
                   "under test, in A as in B)")
    p.add_argument("--cheap-client-nice", type=int, default=-5,
                   choices=range(-20, 20), metavar="N",
                   help="nice value of the process that plays the cheap "
                   "callers (default -5: builders are other machines, "
                   "which the server under test never starves of CPU; "
                   "here they share its 2 vCPUs, and a starved client "
                   "measures itself: its calls start late and their "
                   "answers are read late)")
    p.add_argument("--rows", type=positive(int, 1, 100000), default=20000,
                   help="queryHistory rows per heavy call (default 20000)")
    p.add_argument("--cheap", type=positive(int, 1, 200), default=50,
                   help="callers of getBuild(1) (default 50)")
    p.add_argument("--cheap-rate", type=positive(float, 0, 10000),
                   default=100, help="getBuild calls per second started by "
                   "the cheap callers in all, on a fixed schedule, as "
                   "builders polling the hub (default 100, i.e. each of 50 "
                   "callers twice a second; 0: every caller sends its next "
                   "call as soon as the last one is answered)")
    p.add_argument("--limit", type=parse_size, default=1536 * MiB,
                   help="the cgroup's memory limit (default 1536M: 80 "
                   "prefork children with Python at ~12 MiB each, plus "
                   "room for a few heavy calls)")
    p.add_argument("--unloaded-calls", type=positive(int, 10, 10000),
                   default=1000, help="sequential getBuild calls that "
                   "measure the unloaded latency (default 1000)")
    p.add_argument("--cheap-only", type=positive(float, 0, 120), default=10,
                   help="seconds of the cheap callers alone on B's server "
                   "before the storm, a second latency reference "
                   "(default 10; 0 skips it)")
    p.add_argument("--conf", default=SHIPPED,
                   help="B's configuration (default conf/memguard.conf)")
    p.add_argument("--scenario", choices=("named", "unnamed"),
                   default="named",
                   help="named: B's conf as it is; unnamed: without its "
                   "MemGuardMethod queryHistory line, the night whose crazy "
                   "query nobody listed (default named)")
    p.add_argument("--scenarios", metavar="LIST",
                   help="run A and B for each of these presets and write a "
                   "summary across them: " + ", ".join(
                       "%s (%s)" % (k, v["what"])
                       for k, v in SCENARIOS.items()))
    p.add_argument("--update-readme", action="store_true",
                   help="with --scenarios: write the summary table into "
                   "%s between its bench-headline markers"
                   % SCENARIO_TABLE_FILE)
    p.add_argument("--runs", default="A,B",
                   help="which storm runs (default A,B; '' for none; B0 "
                   "needs --baseline-rev)")
    p.add_argument("--baseline-rev", metavar="REV",
                   help="build the module of this git revision too and run "
                   "B0: that module with the conf it shipped (adds B0 to --runs), for "
                   "figures beside an earlier version's")
    p.add_argument("--no-slab", action="store_true",
                   help="skip the slab variant")
    p.add_argument("--slab-duration", type=positive(float, 10, 120),
                   default=20, help="seconds per slab run (default 20)")
    p.add_argument("--slab-files", type=positive(int, 10000, 4000000),
                   default=2000000, help="stat()s of missing names "
                   "(negative dentries, ~200 B each; default 2000000)")
    p.add_argument("--slab-margin", type=parse_size, default=150 * MiB,
                   help="B's dentry limit: the cache's size at the start "
                   "plus this (default 150M)")
    p.add_argument("--outdir", default=os.path.join(TOP, "build"),
                   help="where the JSON, data and plots go (default build/)")
    p.add_argument("--update-readme-assets", action="store_true",
                   help="copy the plots to tools/screenshots/ and the "
                   "table to build/bench-headline.md")
    p.add_argument("--replot", metavar="JSON",
                   help="redo the plots and the table from a saved "
                   "bench-headline.json (or, with --update-readme, the "
                   "README's scenario table and evidence line from a saved "
                   "bench-headline-scenarios.json); runs nothing, needs no "
                   "root")
    p.add_argument("--sample-ms", type=positive(int, 50, 1000), default=200,
                   help="cgroup sampling interval (default 200)")
    return p


def parse_args(argv):
    a = build_parser().parse_args(argv)
    runs = [r.strip() for r in a.runs.split(",") if r.strip()]
    bad = [r for r in runs if r not in ("A", "B", "B0")]
    if bad:
        build_parser().error("--runs: unknown run %s" % ",".join(bad))
    if a.baseline_rev and "B0" not in runs:
        runs.insert(runs.index("B") if "B" in runs else len(runs), "B0")
    if "B0" in runs and not a.baseline_rev:
        build_parser().error("--runs B0 needs --baseline-rev")
    a.runs = runs
    a.multicall = False
    if a.scenarios:
        a.scenarios = [x.strip() for x in a.scenarios.split(",") if x.strip()]
        bad = [x for x in a.scenarios if x not in SCENARIOS]
        if bad or not a.scenarios:
            build_parser().error("--scenarios: unknown %s (known: %s)" % (
                ",".join(bad) or "(none)", ", ".join(SCENARIOS)))
    return a


# -- the cgroup ----------------------------------------------------------------

def environment_problem():
    """Why this tool cannot run here, or None."""
    if os.geteuid() != 0:
        return ("must run as root: it creates a memory cgroup, starts "
                "httpd inside it and reads /proc/slabinfo")
    if not os.path.exists(os.path.join(CG_ROOT, "memory.limit_in_bytes")):
        return "no cgroup v1 memory controller at %s" % CG_ROOT
    if not os.access(CG_ROOT, os.W_OK):
        return "%s is not writable" % CG_ROOT
    return None


def bench_cgroup(tag, limit):
    """The benchmark's memory cgroup (CG_ROOT is read at each call)."""
    return MemCgroup("mg-bench-" + tag, limit, root=CG_ROOT)


def wrapper(cg):
    """argv that moves itself into cg, then execs the rest with
    MALLOC_ARENA_MAX=2 (runs comparable; SetEnv is too late)."""
    return ["env", "MALLOC_ARENA_MAX=2"] + cg.wrapper("mg-bench-wrapper")


class Sampler(threading.Thread):
    """The cgroup's usage (and kmem, and the dentry cache) every interval."""

    def __init__(self, cg, interval, slab=False):
        super().__init__(daemon=True)
        self.cg, self.interval, self.slab = cg, interval, slab
        # (t, usage, kmem, dentry bytes or None, oom_kill count,
        #  MemAvailable or None)
        self.rows = []
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        nxt = time.monotonic()
        while not self.stop.is_set():
            t = time.monotonic() - self.t0
            try:
                ooms = self.cg.oom_kills()
            except OSError:
                ooms = None
            self.rows.append((round(t, 3),
                              self.cg.value("memory.usage_in_bytes"),
                              self.cg.value("memory.kmem.usage_in_bytes"),
                              slab_cache_bytes("dentry") if self.slab
                              else None, ooms,
                              meminfo("MemAvailable") if self.slab
                              else None))
            nxt += self.interval
            self.stop.wait(max(0.0, nxt - time.monotonic()))

    def peak(self, col=1):
        vals = [r[col] for r in self.rows if r[col] is not None]
        return max(vals) if vals else None


def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return None


def slab_cache_bytes(name):
    with open("/proc/slabinfo") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == name:
                return int(fields[2]) * int(fields[3])
    return None


# -- httpd ---------------------------------------------------------------------

def shipped_conf(path, scenario="named"):
    """B's configuration; for the unnamed scenario without the rule that
    names the expensive call (and its comment block stays, harmless)."""
    with open(path) as f:
        text = f.read()
    if scenario == "unnamed":
        lines = text.splitlines(True)
        kept = [l for l in lines
                if not re.match(r"\s*MemGuardMethod\s+queryHistory\b", l)]
        if len(kept) == len(lines):
            raise SystemExit("bench-headline: --scenario unnamed: %s has no "
                             "MemGuardMethod queryHistory line" % path)
        text = "".join(kept)
    return text


def build_baseline(rev, outdir):
    """The module of git revision rev, built in outdir/baseline-REV from
    `git archive` (the tree as it was; nothing of it is kept in git)."""
    sha = subprocess.check_output(["git", "-C", TOP, "rev-parse", "--short",
                                   rev], text=True).strip()
    d = os.path.join(outdir, "baseline-%s" % sha)
    so = os.path.join(d, "mod_memguard", ".libs", "mod_memguard.so")
    if not os.path.exists(so):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        arch = subprocess.run(["git", "-C", TOP, "archive", sha],
                              stdout=subprocess.PIPE, check=True).stdout
        subprocess.run(["tar", "-x", "-C", d], input=arch, check=True)
        subprocess.run(["make", "-C", d, "module"], check=True,
                       stdout=subprocess.DEVNULL)
    return sha, so


def make_httpd(cg, memguard, conf_text, extra="", module=None, callers=70):
    from t.harness import mghttpd
    authz = ""
    if memguard:
        authz = "LoadModule authz_host_module %s/mod_authz_host.so\n" % (
            mghttpd.moddir())
    h = mghttpd.Httpd(
        mpm="prefork", wsgi="embedded", load_memguard=memguard,
        loglevel="notice memguard:info" if memguard else "notice",
        extra_top=mpm_site(callers) + authz,
        conf=(conf_text + extra + (STATUS_SITE if memguard else ""))
        if memguard else "",
        prefix=wrapper(cg), module=module)
    return h


def stop_httpd(h):
    try:
        h.stop(timeout=20)
    except Exception as e:   # the cgroup removal kills what is left
        sys.stderr.write("bench-headline: stopping httpd: %s\n" % e)


def sequential_latencies(port, n):
    lat = []
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for _ in range(n):
            t = time.monotonic()
            c.request("POST", "/kojihub", body=GETBUILD,
                      headers={"Content-Type": "text/xml"})
            r = c.getresponse()
            body = r.read()
            if r.status != 200 or b"<fault>" in body:
                raise RuntimeError("unloaded getBuild failed: %d" % r.status)
            lat.append(time.monotonic() - t)
    finally:
        c.close()
    return lat


def pct(values, p):
    """Nearest rank, as xmlrpc-storm: sorted[ceil(p/100 n) - 1], in ms."""
    if not values:
        return None
    s = sorted(values)
    return round(s[max(1, math.ceil(p / 100.0 * len(s))) - 1] * 1000.0, 3)


def run_storm(url, mix, duration, out, timeout=120, nice=0):
    """xmlrpc-storm for duration seconds; calls in flight then finish
    within timeout (Koji's client waits hours by default: a short timeout
    would only hide how long the expensive calls took)."""
    return run_storms(url, [mix], duration, out, timeout, nices=[nice])


def run_storms(url, mixes, duration, out, timeout=120, nices=None):
    """One xmlrpc-storm process per mix, all at once, merged into one
    report: the heavy callers and the cheap ones are different clients
    (builders are other machines), so the cheap calls' latencies are not
    measured through the same Python process that is busy reading the
    heavy answers. nices: a nice value per mix (its client's priority)."""
    procs = []
    for i, mix in enumerate(mixes):
        part = "%s.%d" % (out, i)
        cmd = [PYTHON, STORM, "--target", url, "--duration", str(duration),
               "--timeout", str(timeout), "--mix", mix, "--timeseries",
               "--json", part]
        if nices and nices[i]:
            cmd = ["nice", "-n", str(nices[i])] + cmd
        procs.append((part, subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    reps = []
    for part, p in procs:
        try:
            _, err = p.communicate(timeout=duration + timeout + 60)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        if p.returncode != 0:
            for _, q in procs:
                if q.poll() is None:
                    q.kill()
            raise RuntimeError("xmlrpc-storm failed (%d): %s"
                               % (p.returncode, err[-2000:]))
        with open(part) as f:
            reps.append(json.load(f))
    rep = reps[0]
    for r in reps[1:]:
        rep["types"].update(r["types"])
        rep["mix"] += r["mix"]
        rep["wall_seconds"] = max(rep["wall_seconds"], r["wall_seconds"])
        rep["invariant_holds"] = rep["invariant_holds"] and \
            r["invariant_holds"]
        rep["invariant_problems"] += r["invariant_problems"]
        if rep.get("timeseries") and r.get("timeseries"):
            rep["timeseries"]["types"].update(r["timeseries"]["types"])
    rep.pop("total", None)      # per process; the types are what count
    rep["processes"] = len(reps)
    with open(out, "w") as f:
        json.dump(rep, f, indent=1)
    return rep


LOG_TIME = re.compile(r"^\[\w{3} (\w{3}\s+\d+ \d\d:\d\d:\d\d\.\d+ \d{4})\]")
TRANSITION = re.compile(r"MG00310: verdict (\w+) -> (\w+): signal (\S+) "
                        r"value (\d+) threshold (\d+)")


def log_epoch(line):
    """The time of an httpd error-log line ([Wed Nov 27 03:00:00.123456
    2026]) as seconds since the epoch (local time), or None."""
    m = LOG_TIME.match(line)
    if not m:
        return None
    mon_day_time, year = m.group(1).rsplit(" ", 1)
    whole, frac = mon_day_time.rsplit(".", 1)
    return time.mktime(time.strptime(whole + " " + year,
                                     "%b %d %H:%M:%S %Y")) + float("0." + frac)


def analyse_log(lines, t0_epoch=None):
    """Counts from an httpd error log: children that died by a signal,
    memguard's verdict transitions (with seconds since t0_epoch),
    recycles."""
    out = {"exit_signal": 0, "exit_signal_lines": [], "transitions": [],
           "recycles": 0, "nice_recycles": 0, "sampler_stalls": [],
           "fail_open": 0}
    for line in lines:
        if "exit signal" in line:
            out["exit_signal"] += 1
            if len(out["exit_signal_lines"]) < 5:
                out["exit_signal_lines"].append(line.strip())
        # MG00260: a busy child the sampler picked while memory was short
        # (logged as MG00412 "headroom" before it had a text of its own)
        if "MG00412" in line or "MG00260" in line:
            out["recycles"] += 1
        if "MG00450" in line:
            out["nice_recycles"] += 1
        m = re.search(r"MG00316: sampler resumed after (\d+) ms", line)
        if m:
            out["sampler_stalls"].append(int(m.group(1)))
        if "MG00330" in line:
            out["fail_open"] += 1
        m = TRANSITION.search(line)
        if m:
            ep = log_epoch(line)
            out["transitions"].append({
                "t": round(ep - t0_epoch, 3) if (ep and t0_epoch) else None,
                "from": m.group(1), "to": m.group(2), "signal": m.group(3),
                "value": int(m.group(4)), "threshold": int(m.group(5))})
    return out


def max_state(transitions):
    worst = "ok"
    for t in transitions:
        if STATES.get(t["to"], 0) > STATES[worst]:
            worst = t["to"]
    return worst


def cheap_mix(args):
    """The cheap callers' part of a storm mix."""
    if args.cheap_rate:
        return "cheap=getBuild(1)@%d~%g" % (args.cheap, args.cheap_rate)
    return "cheap=getBuild(1)@%d" % args.cheap


def storm_mixes(args):
    """The storm: the heavy callers and the cheap ones, each set its own
    xmlrpc-storm process."""
    call = "queryHistory(%d)" % args.rows
    if getattr(args, "multicall", False):
        call = "multiCall:" + call
    return ["heavy=%s@%d" % (call, args.heavy), cheap_mix(args)]


def storm_mix(args):
    return ",".join(storm_mixes(args))


# -- one storm run -------------------------------------------------------------

class PacePoller(threading.Thread):
    """The sampler's pace during a storm, seen from outside: ?auto every
    `every` seconds on one keep-alive connection. SampleAgeMs at a poll is
    how long the sampler has been silent, so the largest one seen is the
    worst gap between two published samples (to within a poll interval),
    whatever the module's version; SamplerWorstGapMs, where the module
    publishes it, is the sampler's own exact figure."""

    def __init__(self, port, every=0.05):
        super().__init__(daemon=True)
        self.port, self.every = port, every
        self.stop = threading.Event()
        self.polls = self.failed = 0
        self.max_age_ms = 0
        self.ages = []
        self.worst_gap_ms = None
        self.worst_sample_us = None
        self.max_interval_ms = self.min_interval_ms = None

    def run(self):
        c = None
        nxt = time.monotonic()
        while not self.stop.is_set():
            try:
                if c is None:
                    c = http.client.HTTPConnection("127.0.0.1", self.port,
                                                   timeout=5)
                c.request("GET", "/memguard-status?auto")
                text = c.getresponse().read().decode(errors="replace")
                kv = dict(l.split(": ", 1) for l in text.splitlines()
                          if ": " in l)
                age = int(kv.get("SampleAgeMs", "-1"))
                self.polls += 1
                if age >= 0:
                    self.ages.append(age)
                    self.max_age_ms = max(self.max_age_ms, age)
                if "SamplerWorstGapMs" in kv:
                    g = int(kv["SamplerWorstGapMs"])
                    self.worst_gap_ms = max(self.worst_gap_ms or 0, g)
                if "SamplerWorstSampleUs" in kv:
                    w = int(kv["SamplerWorstSampleUs"])
                    self.worst_sample_us = max(self.worst_sample_us or 0, w)
                if "SamplerIntervalMs" in kv:
                    iv = int(kv["SamplerIntervalMs"])
                    self.max_interval_ms = max(self.max_interval_ms or 0, iv)
                    self.min_interval_ms = iv if self.min_interval_ms is None \
                        else min(self.min_interval_ms, iv)
            except Exception:
                self.failed += 1
                try:
                    c.close()
                except Exception:
                    pass
                c = None
            nxt += self.every
            self.stop.wait(max(0.0, nxt - time.monotonic()))
        if c is not None:
            c.close()

    def report(self):
        ages = sorted(self.ages)
        return {"polls": self.polls, "failed_polls": self.failed,
                "poll_every_ms": int(self.every * 1000),
                "max_sample_age_ms": self.max_age_ms,
                "p99_sample_age_ms": ages[max(0, int(len(ages) * 0.99) - 1)]
                if ages else None,
                "sampler_worst_gap_ms": self.worst_gap_ms,
                "sampler_worst_sample_us": self.worst_sample_us,
                "interval_ms_min": self.min_interval_ms,
                "interval_ms_max": self.max_interval_ms}


def storm_run(name, memguard, args, conf_text, work, cleanup, module=None,
              module_rev=None):
    print("== run %s: %s%s" % (name, "mod_memguard with %s%s" % (
        os.path.relpath(args.conf, TOP),
        " without its queryHistory rule" if args.scenario == "unnamed"
        else "") if memguard else "mod_memguard not loaded",
        " (module of %s)" % module_rev if module_rev else ""), flush=True)
    cg = bench_cgroup(name.lower(), args.limit)
    cleanup.append(cg.remove)
    h = make_httpd(cg, memguard, conf_text, module=module,
                   callers=args.heavy + args.cheap)
    cleanup.append(h.cleanup)
    cleanup.append(lambda: stop_httpd(h))
    h.start(timeout=60)
    time.sleep(2)               # the start servers come up
    res = {"name": name, "memguard": memguard, "duration": args.duration,
           "cgroup_limit": cg.limit, "mpm": "prefork", "wsgi": "embedded"}
    res["idle_usage"] = cg.value("memory.usage_in_bytes")
    # Warm-up: every child a caller will use loads Python and the hub
    # once (~7 MiB and ~0.1 s each); that is not what is measured.
    run_storm(h.hub_url, "warm=getBuild(1)@%d" % (args.heavy + args.cheap),
              3, os.path.join(work, "warm-%s.json" % name))
    res["warm_usage"] = cg.value("memory.usage_in_bytes")
    time.sleep(2)               # the warm-up's last answers settle
    lat = sequential_latencies(h.port, args.unloaded_calls)
    res["unloaded"] = {"calls": len(lat), "p50_ms": pct(lat, 50),
                       "p99_ms": pct(lat, 99)}
    print("   unloaded getBuild x%d: p50 %.2f ms, p99 %.2f ms"
          % (len(lat), res["unloaded"]["p50_ms"], res["unloaded"]["p99_ms"]),
          flush=True)
    if args.cheap_only > 0:
        rep = run_storm(h.hub_url, cheap_mix(args), args.cheap_only,
                        os.path.join(work, "cheap-only-%s.json" % name),
                        nice=args.cheap_client_nice)
        c = rep["types"]["cheap"]
        res["cheap_only"] = {"seconds": args.cheap_only, "sent": c["sent"],
                             "ok": c["ok"],
                             "p50_ms": c["latency_ms"]["ok"]["p50"],
                             "p99_ms": c["latency_ms"]["ok"]["p99"]}
        print("   cheap callers alone (%d%s for %gs): p50 %s ms, p99 %s ms"
              % (args.cheap, " at %g/s" % args.cheap_rate if args.cheap_rate
                 else "", args.cheap_only, res["cheap_only"]["p50_ms"],
                 res["cheap_only"]["p99_ms"]), flush=True)
    # Everything before the storm is warm-up; counters start now.
    oom0 = cg.oom_kills()
    log0 = len(h.log_lines())
    cg.write("memory.max_usage_in_bytes", "0")
    res["usage_before_storm"] = cg.value("memory.usage_in_bytes")
    smp = Sampler(cg, args.sample_ms / 1000.0)
    pace = PacePoller(h.port) if memguard else None
    t0_epoch = time.time()
    smp.start()
    if pace:
        pace.start()
    mix = storm_mix(args)
    try:
        rep = run_storms(h.hub_url, storm_mixes(args), args.duration,
                         os.path.join(work, "storm-%s.json" % name),
                         nices=[args.heavy_client_nice,
                                args.cheap_client_nice])
        time.sleep(1.0)
    finally:
        smp.stop.set()
        smp.join()
        if pace:
            pace.stop.set()
            pace.join(10)
    res["module_rev"] = module_rev
    res["sampler_pace"] = pace.report() if pace else None
    res["oom_kills"] = cg.oom_kills() - oom0
    res["max_usage_in_bytes"] = cg.value("memory.max_usage_in_bytes")
    res["peak_sampled"] = smp.peak()
    res["peak_kmem_sampled"] = smp.peak(2)
    stop_httpd(h)
    lines = h.log_lines()
    # the storm's part of the error log, kept beside the report: what
    # the module decided, and why, is in it
    with open(os.path.join(args.outdir, "bench-headline-%s-error.log"
                           % name), "w") as f:
        f.writelines(l if l.endswith("\n") else l + "\n"
                     for l in lines[log0:])
    log = analyse_log(lines[log0:], t0_epoch)
    res["oom_kills_total_run"] = cg.oom_kills()
    res["exit_signal"] = log["exit_signal"]
    res["exit_signal_examples"] = log["exit_signal_lines"]
    res["transitions"] = log["transitions"]
    res["worst_state"] = max_state(log["transitions"])
    res["recycles"] = log["recycles"]
    res["nice_recycles"] = log["nice_recycles"]
    res["sampler_stalls"] = log["sampler_stalls"]
    res["fail_open_lines"] = log["fail_open"]
    res["storm"] = {"mix": mix, "wall_seconds": rep["wall_seconds"],
                    "types": rep["types"],
                    "timeseries": rep.get("timeseries"),
                    "invariant_holds": rep["invariant_holds"]}
    res["samples"] = smp.rows
    cg.remove()
    h.cleanup()
    print("   done: OOM kills %d, exit-signal lines %d, peak %d MiB"
          % (res["oom_kills"], res["exit_signal"],
             (res["max_usage_in_bytes"] or 0) // MiB), flush=True)
    return res


# -- the slab variant -------------------------------------------------------------

GROW = r"""
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    try:
        os.stat("%s/missing-%d" % (d, i))
    except FileNotFoundError:
        pass
"""


def slab_run(name, args, conf_text, extra, work, cleanup):
    """httpd with conf_text + extra in the usual cgroup; negative dentries
    grown by a process in a second cgroup (the host's slab, as an NFS
    inode cache would be: memory no server process holds)."""
    print("== slab run %s" % name, flush=True)
    cg = bench_cgroup("slab" + name.lower().strip("'"), args.limit)
    cleanup.append(cg.remove)
    grow_cg = bench_cgroup("grow", 2048 * MiB)
    cleanup.append(grow_cg.remove)
    gdir = tempfile.mkdtemp(prefix="mg-bench-dentries-")
    cleanup.append(lambda: shutil.rmtree(gdir, ignore_errors=True))
    h = make_httpd(cg, True, conf_text, extra)
    cleanup.append(h.cleanup)
    cleanup.append(lambda: stop_httpd(h))
    h.start(timeout=60)
    log0 = len(h.log_lines())
    res = {"name": name, "extra_conf": " ".join(
        l.strip() for l in extra.splitlines()
        if l.strip() and not l.strip().startswith("#"))}
    smp = Sampler(cg, args.sample_ms / 1000.0, slab=True)
    t0_epoch = time.time()
    smp.start()
    probes = {"sent": 0, "ok": 0, "failed": 0, "states": []}
    stop = threading.Event()

    def probe():
        # one cheap call and one look at the verdict every 250 ms
        while not stop.wait(0.25):
            t = round(time.monotonic() - smp.t0, 3)
            probes["sent"] += 1
            try:
                c = http.client.HTTPConnection("127.0.0.1", h.port,
                                               timeout=10)
                c.request("POST", "/kojihub", body=GETBUILD,
                          headers={"Content-Type": "text/xml"})
                r = c.getresponse()
                body = r.read()
                ok = r.status == 200 and b"<fault>" not in body
                c.request("GET", "/memguard-status?auto")
                auto = c.getresponse().read().decode(errors="replace")
                c.close()
                m = re.search(r"^MemGuardState: (\w+)", auto, re.M)
                probes["states"].append((t, m.group(1) if m else "?"))
            except Exception:
                ok = False
            probes["ok" if ok else "failed"] += 1

    pt = threading.Thread(target=probe, daemon=True)
    pt.start()
    dur = args.slab_duration
    grow = None
    try:
        time.sleep(min(3.0, dur / 6))
        res["dentry_before"] = slab_cache_bytes("dentry")
        grow = subprocess.Popen(wrapper(grow_cg) + [
            PYTHON, "-c", GROW, gdir, str(args.slab_files)])
        cleanup.append(lambda: grow.poll() is None and grow.kill())
        t_grow = time.monotonic()
        grow.wait(timeout=max(60, dur * 3))
        res["grow_seconds"] = round(time.monotonic() - t_grow, 2)
        res["dentry_grown"] = slab_cache_bytes("dentry")
        rest = dur - (time.monotonic() - smp.t0) - 3
        time.sleep(max(2.0, rest))
        shutil.rmtree(gdir, ignore_errors=True)
        res["removed_at"] = round(time.monotonic() - smp.t0, 3)
        time.sleep(3.0)
    finally:
        stop.set()
        pt.join(15)
        smp.stop.set()
        smp.join()
    res["dentry_after_removal"] = slab_cache_bytes("dentry")
    with open("/proc/meminfo") as f:
        res["meminfo_after"] = f.read().split("\n")[:3]
    stop_httpd(h)
    log = analyse_log(h.log_lines()[log0:], t0_epoch)
    res["transitions"] = log["transitions"]
    res["worst_state"] = max_state(log["transitions"])
    res["shed_on_slab_cache"] = any(
        t["to"] == "shed" and t["signal"] == "slab-cache"
        for t in log["transitions"])
    avs = [row[5] for row in smp.rows if row[5] is not None]
    res["memavailable_first"] = avs[0] if avs else None
    res["memavailable_min"] = min(avs) if avs else None
    res["probe_states_seen"] = sorted({s for _, s in probes["states"]})
    res["probes"] = {k: probes[k] for k in ("sent", "ok", "failed")}
    res["probe_states"] = probes["states"]
    res["samples"] = smp.rows
    cg.remove()
    grow_cg.remove()
    h.cleanup()
    print("   dentry %d -> %d MiB (grown in %.1fs), worst state %s%s"
          % ((res["dentry_before"] or 0) // MiB,
             (res["dentry_grown"] or 0) // MiB, res["grow_seconds"],
             res["worst_state"],
             " (slab-cache)" if res["shed_on_slab_cache"] else ""),
          flush=True)
    return res


# -- the report ----------------------------------------------------------------

def heavy_outcomes(t):
    """'ok 12, fault 5033 x40, ...' from a storm type report."""
    parts = ["ok %d" % t["ok"]]
    for code, n in sorted(t["faults_by_code"].items()):
        parts.append("fault %s x%d" % (code, n))
    for st, n in sorted(t["http_errors_by_status"].items()):
        parts.append("http %s x%d" % (st, n))
    for k in ("resets", "timeouts", "other"):
        if t[k]:
            parts.append("%s %d" % (k, t[k]))
    return ", ".join(parts)


def summarize(run):
    """The figures of one storm run that the table shows."""
    if run is None:
        return None
    c = run["storm"]["types"]["cheap"]
    hv = run["storm"]["types"]["heavy"]
    sent = c["sent"]
    pc = c.get("pacing") or {}
    missed = pc.get("missed_slots", 0)
    s = {
        "oom_kills": run["oom_kills"],
        "exit_signal": run["exit_signal"],
        "cheap_sent": sent,
        "cheap_ok": c["ok"],
        # paced: a slot whose caller was still waiting at the end counts
        # as a failed call, not as one that was never wanted
        "cheap_missed": missed,
        "cheap_late": pc.get("late_starts"),
        "cheap_rate": pc.get("rate_per_second"),
        "cheap_success_pct": round(100.0 * c["ok"] / (sent + missed), 3)
        if sent + missed else None,
        "cheap_p50_ms": c["latency_ms"]["ok"]["p50"],
        "cheap_p99_ms": c["latency_ms"]["ok"]["p99"],
        "unloaded_p99_ms": run["unloaded"]["p99_ms"],
        "cheap_only_p99_ms": (run.get("cheap_only") or {}).get("p99_ms"),
        "heavy_sent": hv["sent"],
        "heavy_ok": hv["ok"],
        "heavy_outcomes": heavy_outcomes(hv),
        "heavy_ok_p50_ms": hv["latency_ms"]["ok"].get("p50"),
        "heavy_ok_max_ms": hv["latency_ms"]["ok"].get("max"),
        "peak_mib": round((run["max_usage_in_bytes"] or
                           run["peak_sampled"] or 0) / MiB, 1),
        "limit_mib": round(run["cgroup_limit"] / MiB, 1),
        "worst_state": run.get("worst_state"),
        "recycles": run.get("recycles"),
        "nice_recycles": run.get("nice_recycles"),
    }
    return s


T_A_HURT = "A: at least one OOM kill or failed cheap calls"
T_B_NO_OOM = "B: zero OOM kills"
T_B_SUCCESS = "B: cheap-call success >= 99.9 %"
T_B_P99 = "B: cheap p99 <= 3x unloaded p99 (same cheap callers, no storm)"
T_B_P99_SEQ = "B: cheap p99 <= 3x one sequential caller's p99 on an idle server"


def evaluate(a, b):
    """The issue's targets -> list of (name, met or None if not measured)."""
    targets = []
    if a is not None:
        targets.append((T_A_HURT,
                        a["oom_kills"] > 0 or a["cheap_ok"] <
                        a["cheap_sent"] + a.get("cheap_missed", 0)))
    if b is not None:
        targets.append((T_B_NO_OOM, b["oom_kills"] == 0))
        targets.append((T_B_SUCCESS,
                        b["cheap_success_pct"] is not None
                        and b["cheap_success_pct"] >= 99.9))
        # "Unloaded": the hub without the storm, i.e. the same cheap
        # callers at the same rate alone on the same server just before
        # it; the stricter reference, one caller sending one call after
        # the other to an idle server, is reported too.
        p99 = b["cheap_p99_ms"]
        ref = b["cheap_only_p99_ms"]
        if ref is not None:
            targets.append((T_B_P99,
                            p99 is not None and p99 <= 3 * ref))
        ref2 = b["unloaded_p99_ms"]
        targets.append((T_B_P99_SEQ,
                        p99 is not None and ref2 is not None
                        and p99 <= 3 * ref2))
    return targets


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        v = ("%.3f" % v).rstrip("0").rstrip(".")
    return "%s%s" % (v, unit)


def table_rows(a, b):
    """(metric, A, B, target, met) rows."""
    def g(s, k, unit=""):
        return fmt(s[k], unit) if s else "-"

    verdicts = dict(evaluate(a, b))

    def met(*names):
        """yes / NO from evaluate()'s verdicts; - if one was not made."""
        if any(n not in verdicts for n in names):
            return "-"
        return "yes" if all(verdicts[n] for n in names) else "NO"

    rows = []
    rows.append(("OOM kills (cgroup)", g(a, "oom_kills"), g(b, "oom_kills"),
                 "A >= 1 (or failed cheap calls); B = 0",
                 met(T_A_HURT, T_B_NO_OOM)))
    rows.append(("children killed by signal (error log)",
                 g(a, "exit_signal"), g(b, "exit_signal"), "", ""))
    def okof(s):
        if not s:
            return "-"
        if s.get("cheap_rate"):
            return "%d / %d (%d slots missed)" % (
                s["cheap_ok"], s["cheap_sent"] + s["cheap_missed"],
                s["cheap_missed"])
        return "%d / %d" % (s["cheap_ok"], s["cheap_sent"])
    rows.append(("cheap calls ok / scheduled" if (a or b or {}).get(
        "cheap_rate") else "cheap calls ok / sent", okof(a), okof(b),
        "", ""))
    if (a or b or {}).get("cheap_rate"):
        rows.append(("cheap calls started > 10 ms late",
                     g(a, "cheap_late"), g(b, "cheap_late"), "", ""))
    rows.append(("cheap-call success", g(a, "cheap_success_pct", " %"),
                 g(b, "cheap_success_pct", " %"), "B >= 99.9 %",
                 met(T_B_SUCCESS)))
    rows.append(("cheap p50", g(a, "cheap_p50_ms", " ms"),
                 g(b, "cheap_p50_ms", " ms"), "", ""))
    alone = b["cheap_only_p99_ms"] if b else None
    rows.append(("cheap p99", g(a, "cheap_p99_ms", " ms"),
                 g(b, "cheap_p99_ms", " ms"),
                 "B <= 3x unloaded p99" if alone is None else
                 "B <= %s ms (3x unloaded)" % fmt(3 * alone),
                 met(T_B_P99)))
    if (a and a["cheap_only_p99_ms"] is not None) or alone is not None:
        rows.append(("unloaded p99: the same cheap callers, no storm",
                     g(a, "cheap_only_p99_ms", " ms"),
                     g(b, "cheap_only_p99_ms", " ms"), "", ""))
    seq = b["unloaded_p99_ms"] if b else None
    rows.append(("p99 of one sequential caller, idle server",
                 g(a, "unloaded_p99_ms", " ms"),
                 g(b, "unloaded_p99_ms", " ms"),
                 "" if seq is None else
                 "stricter: B storm p99 <= %s ms (3x this)" % fmt(3 * seq),
                 met(T_B_P99_SEQ) if seq is not None else "-"))
    rows.append(("expensive calls ok / sent",
                 "%d / %d" % (a["heavy_ok"], a["heavy_sent"]) if a else "-",
                 "%d / %d" % (b["heavy_ok"], b["heavy_sent"]) if b else "-",
                 "", ""))
    def secs(s):
        if not s or s["heavy_ok_p50_ms"] is None:
            return "-"
        return "%.1f / %.1f s" % (s["heavy_ok_p50_ms"] / 1000.0,
                                 s["heavy_ok_max_ms"] / 1000.0)
    rows.append(("expensive calls ok: time p50 / max", secs(a), secs(b),
                 "", ""))
    rows.append(("expensive calls: outcomes", g(a, "heavy_outcomes"),
                 g(b, "heavy_outcomes"), "", ""))
    rows.append(("peak cgroup memory",
                 "%s / %s MiB" % (fmt(a["peak_mib"]), fmt(a["limit_mib"]))
                 if a else "-",
                 "%s / %s MiB" % (fmt(b["peak_mib"]), fmt(b["limit_mib"]))
                 if b else "-", "", ""))
    rows.append(("worst memguard verdict", "-", g(b, "worst_state"), "", ""))
    rows.append(("children recycled for size (MG00412, MG00260)", "-",
                 g(b, "recycles"), "", ""))
    rows.append(("children recycled after a nice= call (MG00450)", "-",
                 g(b, "nice_recycles"), "", ""))
    return rows


def slab_rows(bp, cp):
    rows = []
    for name, r in (("B'", bp), ("C'", cp)):
        if r is None:
            continue
        av0, av1 = r.get("memavailable_first"), r.get("memavailable_min")
        rows.append((
            name, r["extra_conf"] or "(shipped conf only)",
            "%d -> %d MiB" % ((r["dentry_before"] or 0) // MiB,
                              (r["dentry_grown"] or 0) // MiB),
            "%.1f -> %.1f GiB" % (av0 / (1 << 30), av1 / (1 << 30))
            if av0 and av1 else "-",
            r["worst_state"],
            ", ".join("%s->%s (%s)" % (t["from"], t["to"], t["signal"])
                      for t in r["transitions"]) or "none",
            "%d / %d" % (r["probes"]["ok"], r["probes"]["sent"])))
    return rows


def render_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    out = []
    line = " | ".join(str(h).ljust(w) for h, w in zip(header, widths))
    out.append(line.rstrip())
    out.append("-+-".join("-" * w for w in widths))
    for r in rows:
        out.append(" | ".join(str(x).ljust(w)
                              for x, w in zip(r, widths)).rstrip())
    return "\n".join(out)


def render_markdown(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(" --- " for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(x).replace("|", "\\|") or " "
                                     for x in r) + " |")
    return "\n".join(out)


TABLE_HEADER = ("metric", "A (module off)", "B (shipped conf)", "target",
                "met")
PACE_HEADER = ("the sampler during the storm", "B0 (module of REV)",
               "B (this tree)", "target", "met")
T_B_GAP = "B: worst gap between two samples <= 2x the configured interval"
CONFIGURED_INTERVAL_MS = 100    # MemGuardSampleInterval's default


def pace_summary(run):
    if run is None or run.get("sampler_pace") is None:
        return None
    p = dict(run["sampler_pace"])
    # the sampler's own figure where it publishes one, else what the
    # poller saw (a lower bound, to within one poll)
    p["worst_gap_ms"] = p["sampler_worst_gap_ms"] \
        if p["sampler_worst_gap_ms"] is not None else p["max_sample_age_ms"]
    p["stalls"] = len(run.get("sampler_stalls") or [])
    p["stalled_ms"] = sum(run.get("sampler_stalls") or [])
    p["fail_open_lines"] = run.get("fail_open_lines", 0)
    p["oom_kills"] = run["oom_kills"]
    p["module_rev"] = run.get("module_rev")
    return p


def pace_rows(b0, b):
    def g(p, k, unit=""):
        return fmt(p[k], unit) if p and p.get(k) is not None else "-"
    gap_ok = None
    if b is not None:
        gap_ok = b["worst_gap_ms"] <= 2 * CONFIGURED_INTERVAL_MS
    rows = [
        ("worst gap between two published samples", g(b0, "worst_gap_ms",
                                                      " ms"),
         g(b, "worst_gap_ms", " ms"),
         "B <= %d ms" % (2 * CONFIGURED_INTERVAL_MS),
         "-" if gap_ok is None else ("yes" if gap_ok else "NO")),
        ("largest sample age seen by a poller every 50 ms",
         g(b0, "max_sample_age_ms", " ms"), g(b, "max_sample_age_ms", " ms"),
         "", ""),
        ("p99 of those ages", g(b0, "p99_sample_age_ms", " ms"),
         g(b, "p99_sample_age_ms", " ms"), "", ""),
        ("stalls logged (MG00316) / time stalled",
         "%s / %s ms" % (g(b0, "stalls"), g(b0, "stalled_ms")) if b0 else "-",
         "%s / %s ms" % (g(b, "stalls"), g(b, "stalled_ms")) if b else "-",
         "", ""),
        ("children failing open (MG00330 lines)", g(b0, "fail_open_lines"),
         g(b, "fail_open_lines"), "", ""),
        ("longest sample (read, judge, publish)", "-",
         g(b, "sampler_worst_sample_us", " us"), "", ""),
        ("sampling interval in force (min / max)",
         "-", "%s / %s ms" % (g(b, "interval_ms_min"),
                              g(b, "interval_ms_max")) if b else "-", "", ""),
        ("OOM kills", g(b0, "oom_kills"), g(b, "oom_kills"), "", ""),
    ]
    return rows
SLAB_HEADER = ("run", "added to the shipped conf", "dentry slab",
               "MemAvailable (start -> min)", "worst verdict", "transitions",
               "probe getBuild ok / sent")


def build_report(args, runs, slab, started, wall):
    a = summarize(runs.get("A"))
    b = summarize(runs.get("B"))
    targets = evaluate(a, b)
    slab_targets = []
    if slab:
        if slab.get("B'"):
            slab_targets.append(("B': sheds on the slab-cache signal",
                                 slab["B'"]["shed_on_slab_cache"]))
        if slab.get("C'"):
            slab_targets.append(("C': stays ok (MemAvailable-only)",
                                 slab["C'"]["worst_state"] == "ok"))
    return {
        "bench": "headline",
        "started_at": started,
        "wall_seconds": round(wall, 1),
        "command": "make bench-headline",
        "scenario": {
            "mpm": "prefork", "wsgi": "embedded",
            "cgroup_limit_bytes": args.limit,
            "duration_s": args.duration,
            "mix": storm_mix(args),
            "malloc_arena_max": 2, "conf_b": os.path.relpath(args.conf, TOP),
            "slab_files": args.slab_files,
            "heavy_client_nice": args.heavy_client_nice,
            "cheap_client_nice": args.cheap_client_nice,
            "cheap_rate": args.cheap_rate,
            "scenario": args.scenario,
            "baseline_rev": args.baseline_rev,
        },
        "summary": {"A": a, "B": b, "B0": summarize(runs.get("B0"))},
        "pace": {"B0": pace_summary(runs.get("B0")),
                 "B": pace_summary(runs.get("B"))},
        "table": [dict(zip(TABLE_HEADER, r)) for r in table_rows(a, b)],
        "targets": [{"target": n, "met": m} for n, m in targets],
        "slab": slab,
        "slab_targets": [{"target": n, "met": m} for n, m in slab_targets],
        "runs": runs,
    }


# -- plots ---------------------------------------------------------------------

def write_dat(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(" ".join("NaN" if x is None else str(x) for x in r) + "\n")


def gnuplot(script, cwd):
    p = subprocess.run(["gnuplot"], input=script, text=True, cwd=cwd,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError("gnuplot: %s" % p.stderr[-1000:])


def terminal():
    p = subprocess.run(["gnuplot", "-e", "set terminal"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    return ("pngcairo size 1100,560 font 'sans,10'" if "pngcairo" in p.stdout
            else "png size 1100,560")


def state_bands(transitions, end_t):
    """[(from_t, to_t, state)] for the periods not spent in ok."""
    bands, start, state = [], 0.0, "ok"
    for t in [t for t in transitions if t["t"] is not None] + [
            {"t": end_t, "to": "ok"}]:
        if state != "ok" and t["t"] > start:
            bands.append((start, t["t"], state))
        start, state = t["t"], t["to"]
    return bands


def state_at(transitions, t):
    """The verdict (0 ok, 1 throttle, 2 shed) at t seconds."""
    s = 0
    for tr in transitions:
        if tr["t"] is None or tr["t"] > t:
            break
        s = STATES.get(tr["to"], s)
    return s


BAND_COLOR = {"throttle": "#f39c12", "shed": "#8e44ad"}


def plot_headline(runs, outdir, png):
    series, limit, duration = [], None, None
    for name in ("A", "B"):
        r = runs.get(name)
        if not r:
            continue
        limit = r["cgroup_limit"]
        duration = r.get("duration")
        dat = os.path.join(outdir, "bench-headline-%s.dat" % name)
        rows, ooms = [], []
        first = r["samples"][0][4] if r["samples"] else 0
        for t, u, k, _, n, _ in r["samples"]:
            rows.append((t, round(u / MiB, 1) if u else None,
                         round(k / MiB, 1) if k else None))
            if n is not None and first is not None and n > first:
                ooms.append((t, round(u / MiB, 1) if u else limit // MiB,
                             n - first))
                first = n
        write_dat(dat, rows)
        odat = os.path.join(outdir, "bench-headline-%s-oom.dat" % name)
        write_dat(odat, ooms or [(None, None, None)])
        series.append((name, dat, odat, r, bool(ooms)))
    if not series:
        return None
    plots = []
    colors = {"A": "#c0392b", "B": "#1f77b4"}
    for name, dat, odat, r, has_ooms in series:
        title = ("A: module off, %d OOM kills" % r["oom_kills"]
                 if name == "A" else
                 "B: shipped conf/memguard.conf, %d OOM kills"
                 % r["oom_kills"])
        plots.append("'%s' using 1:2 with lines lw 2 lc rgb '%s' title "
                     "\"%s\"" % (dat, colors[name], title))
        if has_ooms:
            plots.append("'%s' using 1:2 with points pt 2 ps 1.2 lc rgb "
                         "'%s' title \"%s: OOM kill(s) in that sample\""
                         % (odat, colors[name], name))
    objs, n = [], 1
    b = runs.get("B")
    seen = set()
    if b and b["samples"]:
        for lo, hi, st in state_bands(b["transitions"], b["samples"][-1][0]):
            objs.append("set object %d rect from %f, graph 0 to %f, graph 1 "
                        "fc rgb '%s' fs transparent solid 0.18 noborder "
                        "behind" % (n, lo, hi, BAND_COLOR[st]))
            n += 1
            seen.add(st)
    for st in sorted(seen):
        plots.append("NaN with boxes fc rgb '%s' fs transparent solid 0.3 "
                     "title \"B %s\"" % (BAND_COLOR[st], st))
    if duration:
        objs.append("set arrow from %g, graph 0 to %g, graph 1 nohead dt 3 "
                    "lc rgb 'gray40'" % (duration, duration))
        objs.append("set label \"storm stops starting calls\" at %g, "
                    "graph 0.96 right offset -0.5,0 tc rgb 'gray40'"
                    % duration)
    r0 = series[0][3]
    script = """
set terminal %s
set termoption noenhanced
set output '%s'
set title "The hub's bad night, side by side: %s for %gs\\nprefork + mod_wsgi embedded, inside a %d MiB memory cgroup"
set xlabel 'seconds since the storm started'
set ylabel 'cgroup memory.usage_in_bytes (MiB)'
set grid
set key at graph 0.98, graph 0.42 right opaque box
set yrange [0:%d]
%s
plot %s, %d with lines dt 2 lw 1.5 lc rgb 'black' title 'cgroup limit'
""" % (terminal(), png, r0["storm"]["mix"], duration or 0, limit // MiB,
       int(limit / MiB * 1.1), "\n".join(objs), ", ".join(plots),
       limit // MiB)
    gnuplot(script, outdir)
    return png


def plot_slab(slab, outdir, png):
    series, limit = [], None
    for name in ("B'", "C'"):
        r = slab.get(name)
        if not r:
            continue
        tag = "Bp" if name == "B'" else "Cp"
        dat = os.path.join(outdir, "bench-slab-%s.dat" % tag)
        # C''s verdict drawn a little below B''s so that both show
        off = 0.0 if name == "B'" else -0.06
        write_dat(dat, [(t, round(d / MiB, 1) if d else None,
                         state_at(r["transitions"], t) + off,
                         round(av / MiB) if av else None)
                        for t, _, _, d, _, av in r["samples"]])
        if r.get("dentry_limit"):
            limit = r["dentry_limit"]
        series.append((name, dat, r))
    if not series:
        return None
    plots = []
    colors = {"B'": "#1f77b4", "C'": "#27ae60"}
    for name, dat, r in series:
        what = r["extra_conf"] or "shipped conf only"
        plots.append("'%s' using 1:2 with lines lw 2 lc rgb '%s' title "
                     "\"%s dentry slab (%s)\"" % (dat, colors[name], name,
                                                   what))
    for name, dat, r in series:
        plots.append("'%s' using 1:3 axes x1y2 with steps lw 2 dt 2 lc "
                     "rgb '%s' title \"%s verdict (worst: %s)\""
                     % (dat, colors[name], name, r["worst_state"]))
    if limit:
        plots.append("%f with lines dt 4 lc rgb 'black' title "
                     "\"B' MemGuardSlabCache dentry limit\"" % (limit / MiB))
    script = """
set terminal %s
set termoption noenhanced
set output '%s'
set title "Kernel slab no server process holds: negative dentries grown (in another cgroup), then freed"
set xlabel 'seconds'
set ylabel 'dentry slab, /proc/slabinfo (MiB)'
set y2label 'memguard verdict'
set y2range [-0.3:2.5]
set y2tics ('ok' 0, 'throttle' 1, 'shed' 2)
set ytics nomirror
set grid
set key outside below horizontal maxcols 2
plot %s
""" % (terminal(), png, ", ".join(plots))
    gnuplot(script, outdir)
    return png


# -- scenarios -----------------------------------------------------------------

T_B_HEAVY = "B: at least as many expensive calls completed as A"
SCEN_HEADER = ("scenario", "OOM kills A / B", "cheap-call success A / B",
               "cheap p99 B (unloaded p99, ratio)", "expensive calls ok A / B",
               "B targets met")


def scenario_targets(a, b):
    t = evaluate(a, b)
    if a is not None and b is not None:
        t.append((T_B_HEAVY, b["heavy_ok"] >= a["heavy_ok"]))
    return t


def scenario_row(name, a, b):
    def pair(k, unit=""):
        return "%s / %s" % (fmt(a[k], unit) if a else "-",
                            fmt(b[k], unit) if b else "-")
    p99 = "-"
    if b and b["cheap_p99_ms"] is not None:
        ref = b["cheap_only_p99_ms"]
        p99 = "%s ms (%s ms, %sx)" % (
            fmt(b["cheap_p99_ms"]), fmt(ref),
            fmt(round(b["cheap_p99_ms"] / ref, 2)) if ref else "-")
    met = [m for n, m in scenario_targets(a, b) if n.startswith("B")]
    return (name, pair("oom_kills"), pair("cheap_success_pct", " %"), p99,
            pair("heavy_ok"),
            "%d of %d" % (sum(1 for m in met if m), len(met)))


def run_scenarios(args, work, cleanup):
    out = {}
    for name in args.scenarios:
        sc = argparse.Namespace(**vars(args))
        preset = SCENARIOS[name]
        for k in ("scenario", "heavy", "rows", "multicall"):
            setattr(sc, k, preset[k])
        print("==== scenario %s: %s" % (name, preset["what"]), flush=True)
        conf_text = shipped_conf(sc.conf, sc.scenario)
        runs = {}
        for r in ("A", "B"):
            if r in args.runs:
                runs[r] = storm_run("%s-%s" % (r, name), r == "B", sc,
                                    conf_text, work, cleanup)
        a, b = summarize(runs.get("A")), summarize(runs.get("B"))
        out[name] = {"what": preset["what"], "mix": storm_mix(sc),
                     "summary": {"A": a, "B": b},
                     "pace": pace_summary(runs.get("B")),
                     "targets": [{"target": n, "met": m}
                                 for n, m in scenario_targets(a, b)],
                     "runs": {k: {kk: vv for kk, vv in v.items()
                                  if kk not in ("samples",)}
                              for k, v in runs.items()}}
    return out


def replace_between(relpath, begin, end, text):
    """Put text between the begin and end markers of a file of the tree;
    False if the file has no such block."""
    path = os.path.join(TOP, relpath)
    with open(path) as f:
        old = f.read()
    i, j = old.find(begin), old.find(end)
    if i < 0 or j < i:
        sys.stderr.write("bench-headline: %s has no %s ... %s block\n"
                         % (relpath, begin, end))
        return False
    with open(path, "w") as f:
        f.write(old[:i + len(begin)] + "\n" + text + "\n" + old[j:])
    return True


def evidence_line(rep, limit_mib):
    """One sentence from the unnamed scenario (else the first one)."""
    name = "unnamed" if "unnamed" in rep["scenarios"] else \
        next(iter(rep["scenarios"]))
    a = rep["scenarios"][name]["summary"]["A"]
    b = rep["scenarios"][name]["summary"]["B"]
    if not a or not b:
        return None
    return ("**Evidence** (`make bench-headline`, %s): the bad night replayed "
            "in a %d MiB cgroup, its crazy query named nowhere in the conf "
            "(`%s`): without the module %d OOM kills and %d heavy calls "
            "done; with the shipped conf %d OOM kills, %s %% of the "
            "builders' calls answered, %d heavy calls done ([every "
            "scenario](%s))." % (
                rep["started_at"][:10], limit_mib, name, a["oom_kills"],
                a["heavy_ok"], b["oom_kills"], fmt(b["cheap_success_pct"]),
                b["heavy_ok"], EVIDENCE_LINK))


def finish_scenarios(args, rep):
    rows = [scenario_row(n, v["summary"]["A"], v["summary"]["B"])
            for n, v in rep["scenarios"].items()]
    out = os.path.join(args.outdir, "bench-headline-scenarios.json")
    with open(out + ".tmp", "w") as f:
        json.dump(rep, f, indent=1)
    os.replace(out + ".tmp", out)
    print()
    print("mod_memguard headline, scenario by scenario (A: module off, B: "
          "mod_memguard), %gs storm per run, cgroup limit %d MiB, prefork + "
          "mod_wsgi embedded" % (args.duration, args.limit // MiB))
    print(render_table(SCEN_HEADER, rows))
    print()
    for n, v in rep["scenarios"].items():
        for t in v["targets"]:
            print("  %-4s %s: %s" % ("met" if t["met"] else "NOT", n,
                                    t["target"]))
    md = [render_markdown(SCEN_HEADER, rows), "",
          "Measured by `make bench-headline HEADLINE_ARGS=\"--scenarios "
          "%s --update-readme\"` on %s (%gs storm per run, %d MiB cgroup, "
          "%s callers of getBuild at %g/s; the p99 reference is the same "
          "cheap callers without the storm, on the same server just before "
          "it). Scenarios: %s." % (
              ",".join(rep["scenarios"]), rep["started_at"][:10],
              args.duration, args.limit // MiB, args.cheap, args.cheap_rate,
              "; ".join("`%s`: %s (%s)" % (n, v["what"], v["mix"])
                        for n, v in rep["scenarios"].items()))]
    if args.update_readme:
        if not replace_between(SCENARIO_TABLE_FILE, README_BEGIN, README_END,
                               "\n".join(md)):
            return 1
        print("%s: the scenario table updated" % SCENARIO_TABLE_FILE)
        line = evidence_line(rep, args.limit // MiB)
        if line and replace_between(EVIDENCE_FILE, EVIDENCE_BEGIN,
                                    EVIDENCE_END, line):
            print("%s: the evidence line updated" % EVIDENCE_FILE)
    print("JSON: %s" % os.path.relpath(out, TOP))
    return 0


# -- main ----------------------------------------------------------------------

def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.replot:
        # plots and table again from a saved report; nothing is run
        with open(args.replot) as f:
            rep = json.load(f)
        os.makedirs(args.outdir, exist_ok=True)
        if rep.get("bench") == "headline-scenarios":
            return finish_scenarios(args, rep)
        return finish(args, rep)
    problem = environment_problem()
    if problem:
        sys.stderr.write("bench-headline: %s\n" % problem)
        return 2
    os.makedirs(args.outdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="mg-bench-headline-")
    cleanup = []
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    t_start = time.monotonic()
    runs, slab = {}, {}

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    conf_text = shipped_conf(args.conf, args.scenario)
    if args.scenarios:
        try:
            rep = {"bench": "headline-scenarios", "started_at": started,
                   "scenarios": run_scenarios(args, work, cleanup)}
        finally:
            for fn in reversed(cleanup):
                try:
                    fn()
                except Exception as e:
                    sys.stderr.write("bench-headline: cleanup: %s\n" % e)
            shutil.rmtree(work, ignore_errors=True)
        rep["wall_seconds"] = round(time.monotonic() - t_start, 1)
        return finish_scenarios(args, rep)
    try:
        if "A" in args.runs:
            runs["A"] = storm_run("A", False, args, conf_text, work, cleanup)
        if "B0" in args.runs:
            rev, so = build_baseline(args.baseline_rev, args.outdir)
            # that revision's module with the conf it shipped: directives
            # added since would stop its configtest
            base_conf = shipped_conf(
                os.path.join(os.path.dirname(os.path.dirname(
                    os.path.dirname(so))), "conf", "memguard.conf"),
                args.scenario)
            runs["B0"] = storm_run("B0", True, args, base_conf, work, cleanup,
                                   module=so, module_rev=rev)
        if "B" in args.runs:
            runs["B"] = storm_run("B", True, args, conf_text, work, cleanup)
        if not args.no_slab:
            base = slab_cache_bytes("dentry") or 0
            limit = (base + args.slab_margin) // MiB
            extra = "\n# site: this host's dentry cache + %d MiB\n" \
                    "MemGuardSlabCache dentry %dM\n" % (
                        args.slab_margin // MiB, limit)
            slab["B'"] = slab_run("B'", args, conf_text, extra, work, cleanup)
            slab["B'"]["dentry_limit"] = limit * MiB
            slab["C'"] = slab_run("C'", args, conf_text, "", work, cleanup)
    except KeyboardInterrupt:
        sys.stderr.write("bench-headline: interrupted, cleaning up\n")
        raise
    finally:
        for fn in reversed(cleanup):
            try:
                fn()
            except Exception as e:
                sys.stderr.write("bench-headline: cleanup: %s\n" % e)
        shutil.rmtree(work, ignore_errors=True)
    wall = time.monotonic() - t_start
    rep = build_report(args, runs, slab, started, wall)
    return finish(args, rep)


def finish(args, rep):
    """Plots, the JSON file, the table on stdout (and the README assets)."""
    runs, slab = rep["runs"], rep["slab"]
    pngs = []
    rep.pop("plot_error", None)
    if not shutil.which("gnuplot"):
        # the plots are optional: the figures are all in the JSON and the
        # table, and --replot draws them later
        rep["plot_error"] = "gnuplot not found"
        sys.stderr.write(
            "bench-headline: gnuplot not found: no plots this time (every "
            "figure is in the JSON and the table). For the plots, install "
            "gnuplot (Debian: gnuplot-nox) and run python3 -m "
            "t.bench.headline --replot %s\n" % os.path.relpath(
                os.path.join(args.outdir, "bench-headline.json"), TOP))
    try:
        if runs and not rep.get("plot_error"):
            pngs.append(plot_headline(runs, args.outdir, os.path.join(
                args.outdir, "bench-headline.png")))
        if slab and not rep.get("plot_error"):
            pngs.append(plot_slab(slab, args.outdir, os.path.join(
                args.outdir, "bench-headline-slab.png")))
    except Exception as e:      # the numbers still count
        sys.stderr.write("bench-headline: plotting failed: %s\n" % e)
        rep["plot_error"] = str(e)
    rep["plots"] = [os.path.relpath(p, TOP) for p in pngs if p]
    out = os.path.join(args.outdir, "bench-headline.json")
    with open(out + ".tmp", "w") as f:
        json.dump(rep, f, indent=1)
    os.replace(out + ".tmp", out)

    a, b = rep["summary"]["A"], rep["summary"]["B"]
    # the targets and the table from the figures (a replot applies this
    # version's targets to a saved run)
    rep["targets"] = [{"target": n, "met": m} for n, m in evaluate(a, b)]
    rep["table"] = [dict(zip(TABLE_HEADER, r)) for r in table_rows(a, b)]
    sc = rep["scenario"]
    print()
    print("mod_memguard headline: %s, %gs storm per run, cgroup limit "
          "%d MiB, prefork + mod_wsgi embedded" % (
              sc["mix"], sc["duration_s"], sc["cgroup_limit_bytes"] // MiB))
    header = TABLE_HEADER
    if sc.get("scenario") == "unnamed":
        header = header[:2] + ("B (shipped conf, queryHistory not named)",) \
            + header[3:]
    print(render_table(header, table_rows(a, b)))
    md = [render_markdown(header, table_rows(a, b))]
    pace = rep.get("pace") or {}
    if pace.get("B") or pace.get("B0"):
        b0p, bp = pace.get("B0"), pace.get("B")
        hdr = (PACE_HEADER[0],
               "B0 (module of %s)" % (b0p or {}).get("module_rev", "-"),
               ) + PACE_HEADER[2:]
        print()
        print(render_table(hdr, pace_rows(b0p, bp)))
        md.append(render_markdown(hdr, pace_rows(b0p, bp)))
        if bp is not None:
            rep["targets"].append({"target": T_B_GAP, "met":
                                   bp["worst_gap_ms"] <=
                                   2 * CONFIGURED_INTERVAL_MS})
    if slab:
        print()
        print("slab variant (dentry cache grown by %d stat()s of missing "
              "names, then freed):" % sc.get("slab_files", 0))
        print(render_table(SLAB_HEADER, slab_rows(slab.get("B'"),
                                                  slab.get("C'"))))
        md.append(render_markdown(SLAB_HEADER, slab_rows(slab.get("B'"),
                                                         slab.get("C'"))))
    print()
    for t in rep["targets"] + rep["slab_targets"]:
        print("  %-4s %s" % ("met" if t["met"] else "NOT", t["target"]))
    print()
    print("JSON: %s; plots: %s; %.0f s in all" % (
        os.path.relpath(out, TOP),
        ", ".join(rep["plots"]) or "none (%s)" % rep.get("plot_error"),
        rep["wall_seconds"]))
    if args.update_readme_assets:
        shots = os.path.join(TOP, "tools", "screenshots")
        os.makedirs(shots, exist_ok=True)
        for p in pngs:
            if p:
                shutil.copy(p, os.path.join(shots, os.path.basename(p)))
        with open(os.path.join(args.outdir, "bench-headline.md"), "w") as f:
            f.write("\n\n".join(md) + "\n")
        print("copied %s and the tables to %s" % (
            "the plots to tools/screenshots/" if pngs
            else "no plots (none were drawn)",
            os.path.relpath(os.path.join(args.outdir, "bench-headline.md"),
                            TOP)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
