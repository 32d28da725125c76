#!/usr/bin/python3
"""bench_overhead.py - what the module's protections cost per request, in
httpd's CPU time, measured on two servers side by side (issue 16).

Two private httpds run at the same time (tools/mghttpd.py; prefork,
embedded mod_wsgi), each in a cpuacct cgroup of its own that this script
creates and removes:

  off  the module not loaded;
  on   the module loaded with the shipped conf/memguard.conf (read from the
       tree, so this measures what is shipped: MemGuardXmlRpc, the method
       rules, MemGuardMaxRequestBody, MemGuardMaxResponse, headroom
       thresholds, so the sampler runs, and child limits) plus
       MemGuardEngine On for the whole server, written at server level
       as conf/README.md advises (in a <Location /> it would add a
       per-directory merge to every request: --engine-in-location
       measures that). The hub's directives (the shipped conf's
       <Location /kojihub>) go in the section the hub has of its own, as
       conf/README.md advises and as a Koji hub's conf has one
       (<Directory "/usr/share/koji-hub">): both servers have
       <Location /kojihub> with "Require all granted", the module's
       directives inside it. --own-section keeps the shipped section
       instead, which only the server with the module then has (one
       merge more per call, ~1.4 k instructions, httpd's).

Both get the same configuration text (the module's part is inside
<IfModule memguard_module>): the only difference is the LoadModule line.
The application behind /kojihub is an echo WSGI app that answers with the
body it got and sets Content-Length, so ab keeps its connections alive
(without a Content-Length there is no keep-alive, and a conf that buffers
the response then looks faster than no module at all): what the module
adds to a call is then measured against httpd's and mod_wsgi's own
cost alone. --app hub puts the demo hub the tests use there instead
(tools/demo-hub/hub.wsgi: the call parsed, dispatched and answered by
Python's xmlrpc, a line appended to its call log; no database), a call
that does some of the work a hub's does.

Two workloads, each driven by `ab -k -c 8` for --seconds per round:
  xmlrpc  a 138-byte XML-RPC call (getBuild(1)) POSTed to /kojihub
  static  a GET of a 512-byte file under MemGuardEngine On

Rounds are interleaved: off,on then on,off, and so on, so that a drift in
the machine's load favours neither side. --mode concurrent loads both
servers at the same time instead (one ab each): whatever else the machine
does then weighs on both alike, which on a busy shared machine gives
steadier CPU ratios (the two servers also share the CPUs' caches, which
costs the larger footprint a little more).

Per round and server: httpd's CPU time (cpuacct.usage, which includes the
parent and the sampler) divided by the requests ab completed; the
sampler's own share (its utime + stime over the rounds) and ab's CPU per
request are shown beside it. Per workload: the median over rounds of CPU
per request on each side, their ratio off/on (1.0: no cost; 0.95: the
module costs 5 % of httpd's CPU, so a CPU-bound server would lose 5 % of
its throughput), and the median over rounds of ab's throughput ratio
on/off. ab must report as many keep-alive requests as requests, no failed
or non-2xx response, the module must have refused nothing, and its
board (the status page, in a section both servers have) must have
counted the requests its live children logged; otherwise
the run fails. The targets (issue 16: static GET >= 0.98, small XML-RPC
call >= 0.95) are reported as met or not, they do not fail the run.

--repeat K runs everything K times (fresh servers each time) and reports
the median of the runs' figures and the spread (max - min) of each ratio.
Needs root, a cgroup v1 cpuacct hierarchy and ab (apache2-utils).

    t/bench/bench_overhead.py [--rounds 4] [--seconds 4] [--concurrency 8]
                              [--repeat 1] [--only xmlrpc|static]
                              [--mode interleaved|concurrent]
                              [--module SO] [--baseline SO] [--conf FILE]
                              [--app echo|hub]
                              [--engine-in-location] [--own-section]

--module measures another build; --baseline SO puts that build (same
configuration) in place of "off", to compare two builds of the module.

The last line is one JSON object:
{"bench": "overhead", "results": [{"name", "value", "unit", "target",
"ok"}...], "runs": [...]}
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import xmlrpc.client

from t.harness import TOP
from t.harness.mghttpd import Httpd

# The echo application: the request body back, with its length. The same
# code serves both servers.
ECHO_APP = '''\
def application(environ, start_response):
    length = environ.get("CONTENT_LENGTH")
    body = environ["wsgi.input"].read(int(length)) if length else b""
    start_response("200 OK", [("Content-Type", "text/xml"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''

# getBuild(1) as xmlrpc.client writes it, without its line breaks: the
# 138-byte call of the issue.
CALL = xmlrpc.client.dumps((1,), methodname="getBuild").replace(
    "\n", "").encode()
STATIC_NAME = "static-512.txt"
STATIC_SIZE = 512

TARGETS = {"xmlrpc": 0.95, "static": 0.98}
WORKLOADS = ("xmlrpc", "static")

# A fixed set of children: every client connection has its child from the
# start and keeps it for the whole round, and the spare-server limits are
# such that prefork neither forks nor kills a child while ab runs (a new
# child costs a fork and loading the application: CPU that is not the
# requests').
PREFORK = """
MaxKeepAliveRequests 0
StartServers %(n)d
MinSpareServers 1
MaxSpareServers %(n)d
ServerLimit %(limit)d
MaxRequestWorkers %(limit)d
"""


def children_for(concurrency):
    """Children per server: the clients' connections and two spare."""
    return concurrency + 2


CONF = os.path.join(TOP, "conf", "memguard.conf")

# The application behind /kojihub: the echo (httpd's cost isolated), or
# (--app hub) the demo hub the tests use (tools/demo-hub/hub.wsgi: the
# call parsed, dispatched and answered by Python's xmlrpc, a line
# appended to its call log), closer to what a hub's call costs without
# its database.
APP = "echo"


# Where MemGuardEngine On for the whole server is written: at server
# level (what conf/README.md advises), or in a <Location /> section.
ENGINE_IN_LOCATION = False

# Where the hub's directives go: in the section the hub has of its own
# (both servers have it: Koji's conf gives the hub a <Directory>), as
# conf/README.md advises; or (--own-section) in the shipped conf's
# <Location /kojihub>, a section only the server with the module has.
OWN_SECTION = False

# The status page, in a section both servers have (the one without the
# module leaves it empty): check_on_server() reads the board's count.
STATUS = "/memguard-status"

HUB_SECTION = re.compile(r"\n[ \t]*<Location /kojihub>\n(.*?\n)[ \t]*"
                         r"</Location>\n", re.S)


def conf_text():
    """The module's configuration measured: conf/memguard.conf, or the
    file --conf names."""
    with open(CONF) as f:
        return f.read()


def module_conf(shipped=None):
    """MemGuardEngine On for the whole server, then conf_text() (or the
    text given), its <Location /kojihub> directives inside the hub's own
    section unless --own-section."""
    if shipped is None:
        shipped = conf_text()
    engine = "    MemGuardEngine On\n"
    if ENGINE_IN_LOCATION:
        engine = "<Location />\n" + engine + "</Location>\n"
    hub = ""
    m = HUB_SECTION.search(shipped)
    if not OWN_SECTION and m:
        hub = ("<Location /kojihub>\n    Require all granted\n"
               "    <IfModule memguard_module>\n" + m.group(1) +
               "    </IfModule>\n</Location>\n")
        shipped = shipped[:m.start()] + "\n" + shipped[m.end():]
    status = ("<Location %s>\n    <IfModule memguard_module>\n"
              "        SetHandler memguard-status\n    </IfModule>\n"
              "</Location>\n" % STATUS)
    return (hub + status + "<IfModule memguard_module>\n" + engine +
            "</IfModule>\n" + shipped)


# Fresh servers differ from run to run by where their memory lies (ASLR)
# and how Python lays out its dicts (a random hash seed per process): two
# runs of the same build gave CPU ratios 15 % apart. Both fixed, the same
# for both servers, so that a run measures the module, not the dice.
STEADY = ["env", "PYTHONHASHSEED=0", "setarch", os.uname().machine, "-R"]


# ---- cgroups ---------------------------------------------------------------

def cpuacct_root():
    """Where the cgroup v1 cpuacct controller is mounted, or None
    ("/sys/fs/cgroup/cpu,cpuacct" on most systems, "cpuacct" alone where
    cpu and cpuacct are mounted apart)."""
    try:
        with open("/proc/mounts") as f:
            for line in f:
                dev, mnt, fstype, opts = line.split()[:4]
                if fstype == "cgroup" and "cpuacct" in opts.split(","):
                    return mnt
    except OSError:
        pass
    return None


def cannot_run(root):
    """Why these servers cannot be measured here, or None."""
    if os.geteuid() != 0:
        return "needs root (it creates cpuacct cgroups)"
    if root is None:
        return "no cgroup v1 cpuacct hierarchy mounted"
    if shutil.which("ab") is None:
        return "ab not found (Debian: apt-get install apache2-utils)"
    return None


class CpuGroup:
    """A cpuacct group of our own; httpd is started inside it, so every
    process it forks (children, the sampler) is counted there."""

    def __init__(self, root, name):
        self.path = os.path.join(root, "mg-bench-overhead-%d-%s"
                                 % (os.getpid(), name))
        os.mkdir(self.path)

    def read(self, name):
        with open(os.path.join(self.path, name)) as f:
            return f.read()

    def usage(self):
        """(total, user, system) CPU time so far, ns."""
        total = int(self.read("cpuacct.usage"))
        try:
            user = int(self.read("cpuacct.usage_user"))
            system = int(self.read("cpuacct.usage_sys"))
        except OSError:
            user = system = 0
        return total, user, system

    def procs(self):
        return [int(x) for x in self.read("cgroup.procs").split()]

    def wrapper(self):
        """argv put in front of httpd's: the shell moves itself into the
        group, then execs httpd (the pid stays httpd's), with the same
        address space layout and Python hash seed in every run (STEADY)."""
        return ["sh", "-c", 'echo $$ > "%s/cgroup.procs" && exec "$@"'
                % self.path, "mg-cpuacct-wrapper"] + STEADY

    def remove(self):
        deadline = time.time() + 15
        while self.procs() and time.time() < deadline:
            time.sleep(0.1)
        os.rmdir(self.path)


def proc_cpu_ns(pid):
    """utime + stime of a process (all its threads), ns."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks * 1e9 / os.sysconf("SC_CLK_TCK")


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


# ---- the servers -----------------------------------------------------------

class Server:
    def __init__(self, name, load, root, children, module=None, conf=None):
        self.name = name
        self.cg = CpuGroup(root, name)
        self.h = Httpd(mpm="prefork", loglevel="warn", load_memguard=load,
                       module=module,
                       extra_top=PREFORK % {"n": children,
                                            "limit": 2 * children},
                       prefix=self.cg.wrapper())
        # Every child loads the application when it starts, not at its
        # first call: a child that first serves during a round would
        # charge the import to that round.
        self.h.conf = ('WSGIImportScript "%s" process-group=%%{GLOBAL} '
                       'application-group=%%{GLOBAL}\n'
                       % self.h.path("hub.wsgi")) + module_conf(conf)
        # /kojihub is the echo application unless --app hub (Httpd copies
        # the demo hub there)
        if APP == "echo":
            with open(self.h.path("hub.wsgi"), "w") as f:
                f.write(ECHO_APP)
        with open(self.h.path("htdocs", STATIC_NAME), "w") as f:
            f.write(("0123456789abcdef" * 32)[:STATIC_SIZE - 1] + "\n")

    def start(self):
        self.h.start()

    def sampler_pid(self):
        for pid in self.cg.procs():
            if comm(pid) == "mg-sampler":
                return pid
        return None

    def stop(self):
        try:
            self.h.stop()
        finally:
            self.cg.remove()

    def cleanup(self):
        self.h.cleanup()


class Ab:
    """One ab run, started at once; finish() waits and returns its
    figures as a dict."""

    def __init__(self, url, seconds, concurrency, body_file=None,
                 requests=None):
        cmd = ["ab", "-k", "-q", "-c", str(concurrency), "-s", "30"]
        if requests:
            cmd += ["-n", str(requests)]
        else:
            # -t first: it sets -n to 50000, the -n after it lifts that
            cmd += ["-t", str(seconds), "-n", "100000000"]
        if body_file:
            cmd += ["-p", body_file, "-T", "text/xml"]
        self.out = tempfile.TemporaryFile(mode="w+")
        self.p = subprocess.Popen(cmd + [url], stdout=self.out,
                                  stderr=subprocess.STDOUT)

    def finish(self):
        # ab's own CPU too: with -c 8 on two cores the client may be what
        # limits throughput, and what the server writes changes its work
        _, status, ru = os.wait4(self.p.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        self.out.seek(0)
        out = self.out.read()
        self.out.close()

        def num(label, default=None):
            m = re.search(r"^%s:\s+([\d.]+)" % re.escape(label), out, re.M)
            if m is None:
                if default is None:
                    raise RuntimeError("ab: no %r in its output (exit %d):\n%s"
                                       % (label, code, out[-2000:]))
                return default
            return float(m.group(1))

        return {"complete": int(num("Complete requests")),
                "failed": int(num("Failed requests")),
                "non2xx": int(num("Non-2xx responses", 0)),
                "keepalive": int(num("Keep-Alive requests")),
                "rps": num("Requests per second"),
                "length": int(num("Document Length", 0)),
                "client_ns": (ru.ru_utime + ru.ru_stime) * 1e9,
                "output": out}


def ab(url, seconds, concurrency, body_file=None, requests=None):
    """One ab run, to its end; returns its figures."""
    return Ab(url, seconds, concurrency, body_file, requests).finish()


def check_ab(server, wl, r):
    """The figures mean something only if every request was answered, the
    same way, on a kept-alive connection."""
    bad = []
    if r["complete"] == 0:
        bad.append("no request completed")
    if r["failed"] or r["non2xx"]:
        bad.append("%d failed, %d non-2xx" % (r["failed"], r["non2xx"]))
    if r["keepalive"] != r["complete"]:
        bad.append("keep-alive requests %d != requests %d (does the app set "
                   "Content-Length?)" % (r["keepalive"], r["complete"]))
    want = len(CALL) if wl == "xmlrpc" else STATIC_SIZE
    # (the hub's answer has a length of its own; ab counts an answer
    # whose length differs from the first one's as failed)
    if r["length"] != want and (APP == "echo" or wl != "xmlrpc"):
        bad.append("answer of %d bytes, expected %d" % (r["length"], want))
    if bad:
        raise RuntimeError("%s, %s: %s\n%s" % (server.name, wl,
                                               "; ".join(bad),
                                               r["output"][-1500:]))


def measure(servers, wl, seconds, concurrency, body_file):
    """One round on one server, or on several at the same time: per server
    ([CPU ns total, user, system], ab's figures)."""
    before = [(set(s.h.children()), s.cg.usage()) for s in servers]
    runs = [Ab(s.h.url + ("/kojihub" if wl == "xmlrpc"
                          else "/" + STATIC_NAME),
               seconds, concurrency, body_file if wl == "xmlrpc" else None)
            for s in servers]
    got = [r.finish() for r in runs]
    out = []
    for s, (kids, u0), r in zip(servers, before, got):
        u1 = s.cg.usage()
        check_ab(s, wl, r)
        # a child forked or gone during the round: its start-up (or the
        # recycle that replaced it) is in this round's CPU
        r["churn"] = len(set(s.h.children()) ^ kids)
        out.append(([b - a for a, b in zip(u0, u1)], r))
    return out


def check_on_server(on, accounted=True):
    """The module really ran, and refused nothing: every call in the on
    server's access log carries its accounting note (a file httpd sends
    itself gets none: its size is not read), the board counted at least
    every request its live children logged, and no line has a verdict.
    accounted=False (a conf with MemGuardEngine Off): no line has a
    verdict, nothing more."""
    # "OPTIONS *": the parent's dummy connections that wake idle children
    lines = [x for x in on.h.access_lines() if '"OPTIONS * ' not in x]
    unaccounted = [x for x in lines if accounted and '"POST ' in x and
                   not re.search(r" rss=\d+ ", x)]
    refused = [x for x in lines if " mg=-" not in x]
    if not lines or unaccounted or refused:
        raise RuntimeError("the on server: %d access lines, %d without "
                           "memguard-rss, %d with a verdict: %s"
                           % (len(lines), len(unaccounted), len(refused),
                              (refused or unaccounted or ["-"])[:3]))
    if not accounted:
        return
    # a child's counts leave the board with it: compare the live ones'
    live = set(on.h.children())
    logged = sum(1 for x in lines
                 if int(re.search(r" pid=(\d+) ", x).group(1)) in live)
    with urllib.request.urlopen(on.h.url + STATUS + "?auto",
                                timeout=30) as f:
        auto = f.read().decode()
    counted = int(re.search(r"^Requests: (\d+)$", auto, re.M).group(1))
    if counted < logged:
        raise RuntimeError("the on server's board counted %d requests, its "
                           "live children logged %d" % (counted, logged))


def one_run(args, root, body_file, run_no):
    children = children_for(args.concurrency)
    # --baseline: "off" is another build of the module with the same
    # conf (an A/B of two builds) instead of no module
    off = Server("off", bool(args.baseline), root, children, args.baseline)
    on = Server("on", True, root, children, args.module)
    rows = []
    figures = {}
    try:
        off.start()
        on.start()
        for wl in args.only or WORKLOADS:
            # warm-up (caches, the first connection of each child);
            # nothing is counted. No more clients than in the rounds: with
            # every child busy prefork would fork a spare one.
            for s in (off, on):
                measure([s], wl, args.warmup, args.concurrency, body_file)
            spid = on.sampler_pid()
            s0 = proc_cpu_ns(spid) if spid else 0.0
            per = {"off": [], "on": []}
            n_on = 0
            for i in range(args.rounds):
                order = (off, on) if i % 2 == 0 else (on, off)
                if args.mode == "concurrent":
                    done = measure(order, wl, args.seconds,
                                   args.concurrency, body_file)
                else:
                    done = [measure([s], wl, args.seconds, args.concurrency,
                                    body_file)[0] for s in order]
                got = {}
                for s, ((tot, usr, sys_), r) in zip(order, done):
                    n = r["complete"]
                    got[s.name] = (tot / n / 1e3, usr / n / 1e3,
                                   sys_ / n / 1e3, r["rps"], n,
                                   r["client_ns"] / n / 1e3, r["churn"])
                    per[s.name].append(got[s.name])
                n_on += got["on"][4]
                rows.append({"run": run_no, "workload": wl, "round": i + 1,
                             "order": "%s%s%s" % (
                                 order[0].name,
                                 "+" if args.mode == "concurrent" else ",",
                                 order[1].name),
                             "off_us": round(got["off"][0], 2),
                             "on_us": round(got["on"][0], 2),
                             "off_rps": round(got["off"][3], 1),
                             "on_rps": round(got["on"][3], 1),
                             "off_ab_us": round(got["off"][5], 2),
                             "on_ab_us": round(got["on"][5], 2),
                             "off_churn": got["off"][6],
                             "on_churn": got["on"][6]})
                print("%-7s %d %5d %-7s %9.1f %9.1f %8.3f %9.0f %9.0f %8.3f"
                      "%s"
                      % (wl, run_no, i + 1, rows[-1]["order"], got["off"][0],
                         got["on"][0], got["off"][0] / got["on"][0],
                         got["off"][3], got["on"][3],
                         got["on"][3] / got["off"][3],
                         "  (children changed: off %d, on %d)"
                         % (got["off"][6], got["on"][6])
                         if got["off"][6] or got["on"][6] else ""),
                      flush=True)
            sampler_us = ((proc_cpu_ns(spid) - s0) / n_on / 1e3
                          if spid and n_on else 0.0)

            def med(side, k):
                return statistics.median(x[k] for x in per[side])

            tput = statistics.median(b[3] / a[3]
                                     for a, b in zip(per["off"], per["on"]))
            figures[wl] = {
                "off_us": med("off", 0), "on_us": med("on", 0),
                "off_user_us": med("off", 1), "on_user_us": med("on", 1),
                "off_sys_us": med("off", 2), "on_sys_us": med("on", 2),
                "cpu_ratio": med("off", 0) / med("on", 0),
                "tput_ratio": tput,
                "off_rps": med("off", 3), "on_rps": med("on", 3),
                "sampler_us": sampler_us,
                "off_client_us": med("off", 5), "on_client_us": med("on", 5),
            }
        check_on_server(on)
        bad = off.h.unexpected_log_lines() + on.h.unexpected_log_lines()
        if bad:
            raise RuntimeError("unexpected error-log lines:\n"
                               + "\n".join(bad[:10]))
    finally:
        for s in (on, off):
            try:
                s.stop()
            finally:
                s.cleanup()
    return figures, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--conf", help="the module's configuration to measure "
                    "instead of conf/memguard.conf (to see what one "
                    "directive costs)")
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--only", action="append", choices=WORKLOADS)
    ap.add_argument("--mode", choices=("interleaved", "concurrent"),
                    default="interleaved")
    ap.add_argument("--module", help="the mod_memguard.so to measure "
                    "(default: the tree's build)")
    ap.add_argument("--baseline", help="compare with this build of the "
                    "module instead of no module")
    ap.add_argument("--app", choices=("echo", "hub"), default="echo",
                    help="the application behind /kojihub: the echo, or "
                    "the demo hub")
    ap.add_argument("--engine-in-location", action="store_true",
                    help="write MemGuardEngine On in <Location /> instead "
                    "of at server level")
    ap.add_argument("--own-section", action="store_true",
                    help="leave the hub's directives in the shipped conf's "
                    "<Location /kojihub>, a section the server without "
                    "the module does not have")
    args = ap.parse_args()
    global APP, CONF, ENGINE_IN_LOCATION, OWN_SECTION
    APP = args.app
    ENGINE_IN_LOCATION = args.engine_in_location
    OWN_SECTION = args.own_section
    if args.conf:
        CONF = os.path.abspath(args.conf)

    root = cpuacct_root()
    why = cannot_run(root)
    if why:
        print("overhead: skipped: %s" % why)
        print(json.dumps({"bench": "overhead", "skipped": why,
                          "results": []}))
        return 0

    tmp = tempfile.mkdtemp(prefix="mg-bench-overhead-")
    body_file = os.path.join(tmp, "getBuild.xml")
    with open(body_file, "wb") as f:
        f.write(CALL)
    print("overhead: prefork, embedded mod_wsgi, the %s application, ab -k "
          "-c %d, %d %s rounds of %d s per server and workload, %d run(s); "
          "cpuacct at %s"
          % (APP, args.concurrency, args.rounds, args.mode, args.seconds,
             args.repeat, root))
    print("%-7s %s %5s %-7s %9s %9s %8s %9s %9s %8s"
          % ("load", "r", "round", "order", "off us/r", "on us/r", "off/on",
             "off r/s", "on r/s", "on/off"))
    runs, rows = [], []
    try:
        for k in range(args.repeat):
            figures, rs = one_run(args, root, body_file, k + 1)
            runs.append(figures)
            rows += rs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    results = []
    print()
    print("%-7s %9s %9s %9s %9s %10s %11s %10s %9s %9s" % (
        "load", "off us/r", "on us/r", "added us", "sys added", "cpu off/on",
        "tput on/off", "sampler us", "ab us off", "ab us on"))
    for wl in args.only or WORKLOADS:
        def mid(key):
            return statistics.median(run[wl][key] for run in runs)

        def spread(key):
            vals = [run[wl][key] for run in runs]
            return max(vals) - min(vals)

        target = TARGETS[wl]
        cpu, tput = mid("cpu_ratio"), mid("tput_ratio")
        print("%-7s %9.1f %9.1f %9.1f %9.1f %10.3f %11.3f %10.2f %9.1f %9.1f"
              % (wl, mid("off_us"), mid("on_us"), mid("on_us") - mid("off_us"),
                 mid("on_sys_us") - mid("off_sys_us"), cpu, tput,
                 mid("sampler_us"), mid("off_client_us"),
                 mid("on_client_us")))
        # (at most 48 characters a name: the summary's column)
        label = {"xmlrpc": "XML-RPC call", "static": "static GET"}[wl]
        results += [
            {"name": "%s: httpd CPU per request, module off" % label,
             "value": round(mid("off_us"), 1), "unit": "us",
             "target": "", "ok": None},
            {"name": "%s: httpd CPU per request, module on" % label,
             "value": round(mid("on_us"), 1), "unit": "us",
             "target": "", "ok": None},
            {"name": "%s: CPU/request off/on" % label,
             "value": round(cpu, 4), "unit": "x",
             "target": ">= %.2f" % target, "ok": cpu >= target},
            {"name": "%s: throughput on/off" % label,
             "value": round(tput, 4), "unit": "x",
             "target": ">= %.2f" % target, "ok": tput >= target},
            {"name": "%s: sampler CPU per request" % label,
             "value": round(mid("sampler_us"), 2), "unit": "us",
             "target": "", "ok": None},
        ]
        if len(runs) > 1:
            results += [
                {"name": "%s: spread of CPU ratio, %d runs" % (label,
                                                               len(runs)),
                 "value": round(spread("cpu_ratio"), 4), "unit": "x",
                 "target": "", "ok": None},
                {"name": "%s: spread of throughput ratio, %d runs"
                         % (label, len(runs)),
                 "value": round(spread("tput_ratio"), 4), "unit": "x",
                 "target": "", "ok": None},
            ]
    if len(runs) > 1:
        for wl in args.only or WORKLOADS:
            print("%-7s runs: cpu off/on %s, throughput on/off %s" % (
                wl, " ".join("%.3f" % r[wl]["cpu_ratio"] for r in runs),
                " ".join("%.3f" % r[wl]["tput_ratio"] for r in runs)))
    print(json.dumps({
        "bench": "overhead", "mode": args.mode, "results": results,
        "runs": [{wl: {k: round(v, 4) for k, v in fig.items()}
                  for wl, fig in run.items()} for run in runs],
        "rounds": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
