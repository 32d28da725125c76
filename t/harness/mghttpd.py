"""A real httpd for the integration tests: Debian's (or Fedora's) binary
with a private ServerRoot in a temporary directory, listening on a free
port on 127.0.0.1, with mod_memguard, the test-only mod_mgtest and the
demo hub under mod_wsgi.

httpd signals its whole process group on shutdown, so it is started in a
session of its own (start_new_session=True); only the processes of that
session are ever signalled.
"""
import glob
import http.client
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from t.harness import TOP

HUB = os.path.join(TOP, "tools", "demo-hub", "hub.wsgi")


def version():
    """The project's version, from mod_memguard/core/mg_version.h (the one
    place it is written)."""
    with open(os.path.join(TOP, "mod_memguard", "core", "mg_version.h")) as f:
        m = re.search(r'^#define MG_VERSION "([^"]+)"$', f.read(), re.M)
    return m.group(1)


def _apxs(var):
    apxs = shutil.which("apxs") or shutil.which("apxs2")
    if not apxs:
        raise RuntimeError("apxs not found: run `make deps`")
    return subprocess.check_output([apxs, "-q", var], text=True).strip()


def httpd_binary():
    if os.environ.get("MG_HTTPD"):
        return os.environ["MG_HTTPD"]
    sbin = _apxs("SBINDIR")
    for name in (_apxs("TARGET"), "apache2", "httpd"):
        path = os.path.join(sbin, name)
        if os.access(path, os.X_OK):
            return path
    raise RuntimeError("no httpd binary in %s" % sbin)


MODDIR = None


def moddir():
    global MODDIR
    if MODDIR is None:
        MODDIR = _apxs("LIBEXECDIR")
    return MODDIR


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(h, path, conn=None, timeout=30):
    """GET path: (response, body) on conn, or on a fresh connection."""
    c = conn or http.client.HTTPConnection("127.0.0.1", h.port,
                                           timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r, r.read()
    finally:
        if conn is None:
            c.close()


def read_to_end(s, resets_ok=False, close=True):
    """Everything socket s gives until its peer closes (or resets it, if
    resets_ok: what came before the reset); then s is closed, unless not
    close."""
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except ConnectionResetError:
        if not resets_ok:
            raise
    if close:
        s.close()
    return out


def scripted_server(answer, backlog=8):
    """A server on 127.0.0.1, in a daemon thread: it reads each connection
    once (the request), calls answer(conn, n), n counting connections from
    1, and closes it. (port, listening socket): close that to stop it."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(backlog)

    def serve():
        n = 0
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            n += 1
            c.recv(65536)
            answer(c, n)
            c.close()
    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1], srv


def status_of(h, path="/mgtest", timeout=10):
    """GET path on a fresh connection: the answer's status."""
    return get(h, path, timeout=timeout)[0].status


def pid_of(body):
    """The pid in mod_mgtest's plain answer ("pid=<pid> held=<MiB>")."""
    m = re.match(rb"pid=(\d+) ", body)
    assert m, body
    return int(m.group(1))


def alive(pid):
    """Is pid a live process (not gone, not a zombie)?"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pid, timeout=5):
    """Wait until pid is gone; False if it is still there after timeout."""
    deadline = time.time() + timeout
    while alive(pid):
        if time.time() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_until(pred, what, timeout=10):
    """Wait for pred() to hold (no rate assumed: a loaded machine is
    slow); fails naming what was awaited."""
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            raise AssertionError("after %ss still waiting for %s"
                                 % (timeout, what))
        time.sleep(0.02)


def run_user():
    """The User/Group httpd drops to when started as root."""
    for name in ("www-data", "apache", "daemon", "nobody"):
        try:
            pw = pwd.getpwnam(name)
            return name, pw.pw_uid, pw.pw_gid
        except KeyError:
            continue
    return None, None, None


# Error-log lines at these levels fail a test unless allowed.
BAD_LEVEL = re.compile(r"\[(?:[\w]+:)?(warn|error|crit|alert|emerg)\]")

# Lines that are expected in every run and say nothing about our module.
ALWAYS_ALLOWED = [
    # httpd 2.4 warns when the child of a graceful restart outlives it
    r"AH00045: child process \d+ still did not exit",
]

# httpd's event MPM (seen with 2.4.71, with or without mod_memguard loaded,
# about 1 run in 6) logs the first when it is stopped while a keep-alive
# connection goes back to the poller; and, rarely, the second when it is
# stopped while a connection is still in its lingering close: the stop
# closes every worker's socket (close_worker_sockets) while the worker
# closes its own, and the loser gets EBADF ("close_worker_sockets() may
# have closed it already", server/mpm/event/event.c). Shutdown races in
# httpd itself. Allowed only once the stop has begun.
SHUTDOWN_RACE = re.compile(r"AH0309[23]: process_(lingering_close|socket): "
                           r"apr_pollset_add failure|"
                           r"\(9\)Bad file descriptor: AH00468: error closing "
                           r"socket")

MPM_CONF = {
    "prefork": """
StartServers 2
MinSpareServers 2
MaxSpareServers 4
MaxRequestWorkers 16
ServerLimit 16
""",
    "event": """
StartServers 2
ServerLimit 4
ThreadsPerChild 8
MaxRequestWorkers 32
MinSpareThreads 8
MaxSpareThreads 24
""",
    "worker": """
StartServers 2
ServerLimit 4
ThreadsPerChild 8
MaxRequestWorkers 32
""",
}


class Httpd:
    """One private httpd. conf is placed inside the main server."""

    def __init__(self, mpm="prefork", conf="", wsgi="embedded",
                 loglevel="info memguard:debug", module=None, extra_top="",
                 load_memguard=True, load_mgtest=True, prefix=None):
        self.mpm = mpm
        self.conf = conf
        self.wsgi = wsgi
        self.loglevel = loglevel
        self.extra_top = extra_top
        self.load_memguard = load_memguard
        # the test-only module (and its /mgtest location); `make run`
        # leaves it out: a demo needs nothing that `make` does not build
        self.load_mgtest = load_mgtest
        # argv put in front of httpd's (e.g. a shell that moves itself into
        # a cgroup, then execs httpd: the pid stays httpd's)
        self.prefix = list(prefix or [])
        self.module = module or os.environ.get("MG_MODULE") or os.path.join(
            TOP, "mod_memguard", ".libs", "mod_memguard.so")
        self.mgtest = os.environ.get("MG_MGTEST") or os.path.join(
            TOP, "t", "modules", ".libs", "mod_mgtest.so")
        self.root = tempfile.mkdtemp(prefix="mg-httpd-")
        os.chmod(self.root, 0o755)
        for d in ("logs", "run", "htdocs", "spool"):
            os.makedirs(os.path.join(self.root, d))
        os.chmod(os.path.join(self.root, "run"), 0o777)
        os.chmod(os.path.join(self.root, "spool"), 0o777)
        shutil.copy(HUB, os.path.join(self.root, "hub.wsgi"))
        # mod_mime insists on a types file; the few types the tests use.
        with open(os.path.join(self.root, "mime.types"), "w") as f:
            f.write("text/html html\ntext/plain txt\ntext/xml xml\n")
        with open(os.path.join(self.root, "htdocs", "index.html"), "w") as f:
            f.write("<html><body>ok</body></html>\n")
        # the demo hub answers fault 1014 while this file exists
        self.offline_flag = os.path.join(self.root, "offline")
        self.calllog = os.path.join(self.root, "calls.log")
        open(self.calllog, "w").close()
        os.chmod(self.calllog, 0o666)
        self.port = free_port()
        self.proc = None
        self.allowed = list(ALWAYS_ALLOWED)
        self.stop_line = None   # error-log line count when stop() began

    # -- paths and URLs -------------------------------------------------
    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def hub_url(self):
        return self.url + "/kojihub"

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    @property
    def error_log(self):
        return self.path("logs", "error.log")

    @property
    def access_log(self):
        return self.path("logs", "access.log")

    @property
    def conf_file(self):
        return self.path("httpd.conf")

    # -- configuration --------------------------------------------------
    def render(self):
        user, _, _ = run_user()
        md = moddir()
        if self.wsgi == "daemon":
            # graceful-timeout: the call in flight when the sampler asks
            # the daemon to restart (SIGUSR1) may finish on a slow machine
            wsgi = """
WSGIDaemonProcess hub processes=1 threads=4 display-name=(wsgi:hub) \\
    graceful-timeout=60
WSGIProcessGroup hub
"""
        else:
            wsgi = ""
        lines = [
            'ServerRoot "%s"' % self.root,
            "Listen 127.0.0.1:%d" % self.port,
            "ServerName 127.0.0.1",
            'PidFile "%s"' % self.path("run", "httpd.pid"),
            'DefaultRuntimeDir "%s"' % self.path("run"),
            'Mutex file:%s default' % self.path("run"),
            "LoadModule mpm_%s_module %s/mod_mpm_%s.so" % (self.mpm, md,
                                                         self.mpm),
            "LoadModule authz_core_module %s/mod_authz_core.so" % md,
            "LoadModule mime_module %s/mod_mime.so" % md,
            "LoadModule env_module %s/mod_env.so" % md,
            "LoadModule deflate_module %s/mod_deflate.so" % md,
            "LoadModule filter_module %s/mod_filter.so" % md,
            "LoadModule status_module %s/mod_status.so" % md,
            "LoadModule wsgi_module %s/mod_wsgi.so" % md,
            ('LoadModule memguard_module "%s"' % self.module
             if self.load_memguard else ""),
            ('LoadModule mgtest_module "%s"' % self.mgtest
             if self.load_mgtest else ""),
        ]
        if os.geteuid() == 0 and user:
            lines += ["User %s" % user, "Group %s" % user]
        lines += [
            'ErrorLog "%s"' % self.error_log,
            "LogLevel %s" % self.loglevel,
            'LogFormat "%h \\"%r\\" %>s %B pid=%P mg=%{memguard-verdict}n '
            'rss=%{memguard-rss}n delta=%{memguard-rss-delta}n" mg',
            'CustomLog "%s" mg' % self.access_log,
            'DocumentRoot "%s"' % self.path("htdocs"),
            "Timeout 30",
            "KeepAlive On",
            "MaxKeepAliveRequests 100",
            "KeepAliveTimeout 5",
            "GracefulShutdownTimeout 10",
            'WSGISocketPrefix "%s"' % self.path("run", "wsgi"),
            MPM_CONF[self.mpm],
            self.extra_top,
            wsgi,
            'WSGIScriptAlias /kojihub "%s"' % self.path("hub.wsgi"),
            "WSGIApplicationGroup %{GLOBAL}",
            # a child recycled after a call stopped for memory exits without
            # finalizing Python (conf/memguard.conf says why)
            "WSGIDestroyInterpreter Off",
            "SetEnv MEMGUARD_DEMO_CALLLOG %s" % self.calllog,
            "SetEnv MEMGUARD_DEMO_OFFLINE %s" % self.offline_flag,
            '<Directory "%s">' % self.root,
            "    Require all granted",
            "</Directory>",
            ("<Location /mgtest>\n    SetHandler mgtest\n</Location>"
             if self.load_mgtest else ""),
            self.conf,
        ]
        return "\n".join(lines) + "\n"

    def write_conf(self):
        with open(self.conf_file, "w") as f:
            f.write(self.render())

    def configtest(self, conf=None):
        """Run `httpd -t` on this config (or on conf inserted instead of
        the test's conf). Returns (returncode, output)."""
        if conf is not None:
            self.conf = conf
        self.write_conf()
        p = subprocess.run([httpd_binary(), "-t", "-f", self.conf_file],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        return p.returncode, p.stdout

    def configtest_refuses(self, conf, *words):
        """`httpd -t` on conf must fail, saying every one of words."""
        rc, out = self.configtest(conf)
        assert rc != 0, out
        for w in words:
            assert w in out, (w, out)
        assert "Syntax OK" not in out
        return out

    def configtest_accepts(self, conf):
        """`httpd -t` on conf must pass."""
        rc, out = self.configtest(conf)
        assert rc == 0, out
        assert "Syntax OK" in out
        return out

    # -- lifecycle ------------------------------------------------------
    def start_callgrind(self, out):
        """Start this httpd as one process (-X) under valgrind's callgrind,
        counting into the file out, in a session of its own: the Popen
        (stop it with os.killpg(p.pid, SIGTERM)). Nothing waits for it to
        listen."""
        self.write_conf()
        # callgrind opens its output file as root at start and again after
        # httpd has dropped to its User: the file must be theirs to write.
        open(out, "w").close()
        os.chmod(out, 0o666)
        _, uid, _ = run_user()
        if os.geteuid() == 0 and uid is not None:
            os.chown(out, uid, -1)
        # one hash seed for every run: with Python's random one, how its
        # dicts lay out (and so its instruction count per request) differs
        # from one server to the next by thousands
        return subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
             "--trace-children=no", httpd_binary(), "-X", "-f",
             self.conf_file],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONHASHSEED="0"),
            start_new_session=True)

    def start(self, timeout=30):
        self.write_conf()
        out = open(self.path("logs", "stdout.log"), "ab")
        self.proc = subprocess.Popen(
            self.prefix + [httpd_binary(), "-f", self.conf_file,
                           "-DFOREGROUND"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("httpd exited with %s:\n%s\n%s" % (
                    self.proc.returncode, self._read("logs", "stdout.log"),
                    self._read("logs", "error.log")))
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                if os.path.exists(self.path("run", "httpd.pid")):
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("httpd did not start listening in %ss" % timeout)

    def _read(self, *parts):
        try:
            with open(self.path(*parts), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    @property
    def pid(self):
        return self.proc.pid

    def generation_count(self):
        """How many times the parent said it resumed normal operations."""
        return self._read("logs", "error.log").count(
            "resuming normal operations")

    def graceful(self, wait=True, timeout=30):
        before = self.generation_count()
        os.kill(self.pid, signal.SIGUSR1)
        if wait:
            deadline = time.time() + timeout
            while time.time() < deadline:
                if self.generation_count() > before:
                    return
                time.sleep(0.05)
            raise RuntimeError("graceful restart did not complete")

    def children(self):
        """pids of the processes in httpd's session other than the parent."""
        pids = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid = int(stat.split("/")[2])
            # fields: state ppid pgrp session ...
            if int(fields[3]) == self.pid and pid != self.pid:
                pids.append(pid)
        return sorted(pids)

    def stop(self, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.stop_line = len(self.log_lines())
        try:
            os.kill(self.pid, signal.SIGTERM)
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait(10)
        # Anything left in the session (a stuck child) goes too.
        deadline = time.time() + 10
        while self.children() and time.time() < deadline:
            time.sleep(0.1)
        for pid in self.children():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)

    # -- assertions on the logs ------------------------------------------
    def allow(self, pattern):
        """Allow error-log lines matching pattern (a regex)."""
        self.allowed.append(pattern)

    def log_lines(self):
        return self._read("logs", "error.log").splitlines()

    def unexpected_log_lines(self):
        bad = []
        for i, line in enumerate(self.log_lines()):
            if not BAD_LEVEL.search(line):
                continue
            if any(re.search(p, line) for p in self.allowed):
                continue
            if (self.stop_line is not None and i >= self.stop_line
                    and SHUTDOWN_RACE.search(line)):
                continue
            bad.append(line)
        return bad

    def wait_log(self, pattern, timeout=10, count=1):
        """Wait until pattern (regex) appears count times in the error log;
        returns the matching lines."""
        return self._wait_lines(self.log_lines, "error", pattern, timeout,
                                count)

    def access_lines(self):
        return self._read("logs", "access.log").splitlines()

    def wait_access(self, pattern, timeout=10, count=1):
        """Wait until pattern (regex) matches count lines of the access log
        (written at log_transaction, after the client has its answer);
        returns the matching lines."""
        return self._wait_lines(self.access_lines, "access", pattern,
                                timeout, count)

    @staticmethod
    def _wait_lines(read, name, pattern, timeout, count):
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        while True:
            lines = read()
            found = [line for line in lines if rx.search(line)]
            if len(found) >= count:
                return found
            if time.time() > deadline:
                raise AssertionError("%d of %d %r in the %s log after %ss:\n%s"
                                     % (len(found), count, pattern, name,
                                        timeout, "\n".join(lines[-30:])))
            time.sleep(0.05)

    def wait_calls(self, method, n, timeout=10):
        """Wait until the application has seen n calls of method."""
        wait_until(lambda: self.calls(method) >= n,
                   "%d %s call(s) at the hub" % (n, method), timeout)

    def calls(self, method=None):
        """Calls the demo hub's application has seen (from its call log)."""
        names = [line.split(" ", 1)[1] for line in
                 self._read("calls.log").splitlines() if " " in line]
        if method is None:
            return len(names)
        return sum(1 for n in names if n == method)
