"""The packages (README, "Packages").

Debian: `make deb` builds libapache2-mod-memguard from the tree (once per
test run); the package is installed into this machine's apache2, enabled
with a2enmod, passes `apachectl -t`, serves an XML-RPC call through the
shipped memguard.conf and the status page, is removed (no module left
loaded) and purged, and `apachectl -t` still passes. This changes the
system's apache2 while it runs, so it runs only as root, with apache2
stopped and no memguard installed, and puts everything back in `finally`
blocks: apache2 listens only on 127.0.0.1, on a free port (ports.conf is
replaced for the time of the test), logs to a temporary directory, gets
the demo hub and the status page from one snippet in conf-enabled/, and is
stopped again; the package is purged even when an assertion fails. Other
tests run private httpds and never read the system's configuration.

RPM: `make srpm` makes the spec and a source RPM, rpmlint finds nothing
(tools/rpm/rpmlint.toml says why each filtered message does not apply),
and the spec's build, install, check and file list run on this machine
too (rpmbuild -bb --nodeps: a check of the spec, not a Fedora build).
"""
import glob
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import xmlrpc.client

import pytest

from t.harness.mghttpd import (BAD_LEVEL, HUB, TOP, free_port, version,
                               wait_until)

PKG = "libapache2-mod-memguard"
APACHE = "/etc/apache2"
PORTS_CONF = os.path.join(APACHE, "ports.conf")
SNIPPET = os.path.join(APACHE, "conf-enabled", "zz-memguard-pkgtest.conf")
MODS_AVAILABLE = os.path.join(APACHE, "mods-available")
MODS_ENABLED = os.path.join(APACHE, "mods-enabled")
# apt waits this long for the dpkg lock (a `make deps` or apt run beside)
APT = ["apt-get", "-q", "-y", "-o", "DPkg::Lock::Timeout=300"]


def run(argv, timeout=300, check=True, **kw):
    """Run argv; output in the assertion message when it fails."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout, **kw)
    if check:
        assert p.returncode == 0, "%s: exit %d\n%s" % (
            " ".join(argv), p.returncode, p.stdout[-4000:])
    return p


def make(target):
    """`make TARGET` in the tree, without the calling make's job server."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    return run(["make", "--no-print-directory", "-C", TOP, target],
               timeout=900, env=env)


def missing(*tools):
    return [t for t in tools if shutil.which(t) is None]


# -- Debian ------------------------------------------------------------------

def pkg_status():
    """dpkg's status of the package ("" when dpkg does not know it)."""
    p = run(["dpkg-query", "-W", "-f=${Status}", PKG], check=False)
    return p.stdout.strip() if p.returncode == 0 else ""


def apache_env(name):
    """A variable of /etc/apache2/envvars (APACHE_PID_FILE, ...)."""
    p = run(["sh", "-c", '. %s/envvars && printf %%s "$%s"' % (APACHE, name)])
    return p.stdout


def apache_pid():
    """pid of the system's running apache2, or None."""
    try:
        with open(apache_env("APACHE_PID_FILE")) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def under_systemd():
    return os.path.isdir("/run/systemd/system")


def apache_ctl(action):
    """start or stop the system's apache2 the way its admin would."""
    if under_systemd():
        return run(["systemctl", action, "apache2"], check=False)
    return run(["apachectl", action], check=False, start_new_session=True)


def configtest():
    return run(["apachectl", "-t"], check=False)


def enabled_memguard():
    return sorted(glob.glob(os.path.join(MODS_ENABLED, "memguard.*")))


def deb_preconditions():
    """Why the Debian test cannot run here, or None."""
    if os.geteuid() != 0:
        return "root only: installs a package into the system's apache2"
    if missing("dpkg", "apt-get") or not os.path.isdir(APACHE):
        return "not a Debian or Ubuntu machine with apache2"
    gone = missing("dpkg-buildpackage", "dh", "dh_apache2", "apachectl",
                   "a2enmod", "apt-get")
    if gone:
        return "not installed: %s (make deps installs them)" % ", ".join(gone)
    if pkg_status():
        return "%s is already on this machine (%s): the test would purge " \
               "it" % (PKG, pkg_status())
    if glob.glob(os.path.join(MODS_AVAILABLE, "memguard.*")):
        return "a memguard from `make install` is in %s: the package " \
               "would take it over" % MODS_AVAILABLE
    if apache_pid():
        return "the system's apache2 is running (pid %d): the test would " \
               "reconfigure and restart it" % apache_pid()
    if os.path.exists(SNIPPET):
        return "%s exists (a test that did not end?)" % SNIPPET
    p = configtest()
    if p.returncode != 0:
        return "the system's apache2 fails apachectl -t before the test:\n" \
               + p.stdout
    return None


@pytest.fixture(scope="session")
def deb():
    """The .deb `make deb` builds from the tree, built once per test
    run."""
    why = deb_preconditions()
    if why:
        pytest.skip(why)
    make("deb")
    debs = glob.glob(os.path.join(TOP, "build", "deb", "%s_%s-1_*.deb"
                                  % (PKG, version())))
    assert len(debs) == 1, debs
    return debs[0]


def snippet(tmp, port):
    """The test's site: the demo hub at /kojihub (which the shipped
    memguard.conf guards) and the status page, local only. Its own
    virtual host, so that its access log (like the error log) goes to the
    test's directory, not to the system's logs."""
    return """# t/integration/test_packages.py: removed when the test ends
ServerName 127.0.0.1
ErrorLog "{tmp}/error.log"
LogLevel warn memguard:info
<VirtualHost 127.0.0.1:{port}>
    ServerName 127.0.0.1
    CustomLog "{tmp}/access.log" combined
    WSGIScriptAlias /kojihub "{tmp}/hub.wsgi"
    WSGIApplicationGroup %{{GLOBAL}}
    SetEnv MEMGUARD_DEMO_CALLLOG "{tmp}/calls.log"
    <Directory "{tmp}">
        Require all granted
    </Directory>
    <Location /memguard-status>
        SetHandler memguard-status
        Require local
    </Location>
</VirtualHost>
""".format(tmp=tmp, port=port)


def tree(top):
    """Every directory and file under top, relative to it."""
    out = set()
    for d, dirs, files in os.walk(top):
        out.update(os.path.relpath(os.path.join(d, x), top)
                   for x in dirs + files)
    return out


def http_get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        c.close()


def wait_listening(port, timeout=30):
    def up():
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return True
        except OSError:
            return False
    wait_until(up, "apache2 listening on 127.0.0.1:%d" % port, timeout)


def stop_apache(pid):
    """Stop the apache2 this test started; pid is its parent."""
    apache_ctl("stop")
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.1)
    # stuck: the process group of the apache2 this test started (apache2
    # -k start made it the leader of a session of its own)
    if os.getpgid(pid) == pid:
        os.killpg(pid, 9)
    else:
        os.kill(pid, 9)


def test_deb_install_enable_serve_purge(deb):
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="mg-pkg-")
    os.chmod(tmp, 0o755)
    shutil.copy(HUB, os.path.join(tmp, "hub.wsgi"))
    calllog = os.path.join(tmp, "calls.log")
    open(calllog, "w").close()
    os.chmod(calllog, 0o666)
    with open(PORTS_CONF, "rb") as f:
        ports_before = f.read()
    ports_mode = os.stat(PORTS_CONF).st_mode & 0o7777
    mods_before = sorted(os.listdir(MODS_ENABLED))
    # a2enmod's records of what the admin and the packages enabled
    state_dir = "/var/lib/apache2"
    state_before = tree(state_dir)
    logs = apache_env("APACHE_LOG_DIR")
    logs_before = {f: os.path.getsize(os.path.join(logs, f))
                   for f in os.listdir(logs)}
    started = None

    def restore_config():
        if os.path.exists(SNIPPET):
            os.unlink(SNIPPET)
        with open(PORTS_CONF, "wb") as f:
            f.write(ports_before)
        os.chmod(PORTS_CONF, ports_mode)

    try:
        # installed, not enabled: the admin enables it
        run(APT + ["install", "--no-install-recommends", deb])
        assert pkg_status() == "install ok installed"
        for path in ("/usr/lib/apache2/modules/mod_memguard.so",
                     "/usr/bin/memguard-watch",
                     os.path.join(MODS_AVAILABLE, "memguard.conf")):
            assert os.path.exists(path), path
        with open(os.path.join(MODS_AVAILABLE, "memguard.load")) as f:
            assert "LoadModule memguard_module " \
                "/usr/lib/apache2/modules/mod_memguard.so" in f.read()
        assert enabled_memguard() == []
        out = run(["memguard-watch", "--once"]).stdout
        assert "avail=" in out, out

        # enabled with a2enmod: the .load and the shipped .conf
        run(["a2enmod", "memguard"])
        assert [os.path.basename(p) for p in enabled_memguard()] == \
            ["memguard.conf", "memguard.load"]

        # 127.0.0.1 and a free port only, the hub and the status page
        with open(PORTS_CONF, "w") as f:
            f.write("# t/integration/test_packages.py: restored when the "
                    "test ends\nListen 127.0.0.1:%d\n" % port)
        with open(SNIPPET, "w") as f:
            f.write(snippet(tmp, port))
        p = configtest()
        assert p.returncode == 0 and "Syntax OK" in p.stdout, p.stdout

        p = apache_ctl("start")
        assert p.returncode == 0, p.stdout
        wait_until(apache_pid, "apache2's pid file", 30)
        started = apache_pid()
        wait_listening(port)

        # an XML-RPC call through the shipped conf's <Location /kojihub>
        hub = xmlrpc.client.ServerProxy("http://127.0.0.1:%d/kojihub" % port)
        assert hub.getBuild(7)["id"] == 7
        # ... which inspects every call before the hub: a malformed one is
        # refused by memguard and never reaches the application
        with pytest.raises(xmlrpc.client.Fault) as e:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("POST", "/kojihub", body=b"<methodCall><methodName>",
                      headers={"Content-Type": "text/xml"})
            xmlrpc.client.loads(c.getresponse().read())
        assert e.value.faultCode == -32700, e.value
        assert e.value.faultString.startswith("memguard: "), e.value
        with open(calllog) as f:
            assert [line.split()[1] for line in f] == ["getBuild"]

        # the status page: the packaged version, the call counted
        status, text = http_get(port, "/memguard-status?auto")
        assert status == 200, text
        assert "MemGuardVersion: %s\n" % version() in text
        assert "RefusedXmlParse: 1\n" in text

        def getbuild_calls():
            status, text = http_get(port, "/memguard-status?json")
            assert status == 200, text
            doc = json.loads(text)
            assert doc["version"] == version()
            calls = {m["name"]: m["calls"] for m in doc["methods"]}
            return calls.get("getBuild")
        # counted when the call is logged, just after its answer went out
        wait_until(lambda: getbuild_calls() == 1,
                   "getBuild counted on the status page")

        # the start-up line says which version runs; nothing went wrong
        with open(os.path.join(tmp, "error.log")) as f:
            log = f.read()
        assert re.search(r"MG00520: mod_memguard %s configured"
                         % re.escape(version()), log), log
        # Debian's apache2 runs the event MPM, under which the shipped
        # conf's nice= is not applied, and says so once (MG00231)
        nice = re.compile(r"MG00231: MemGuardMethod nice= is not applied "
                          r"under the \w+ MPM")
        bad = [line for line in log.splitlines()
               if BAD_LEVEL.search(line) and not nice.search(line)]
        assert bad == [], bad

        stop_apache(started)
        started = None
        restore_config()

        # removed: nothing of it is loaded, the configuration still passes
        run(APT + ["remove", PKG])
        assert pkg_status() == "deinstall ok config-files"
        assert enabled_memguard() == []
        assert not os.path.exists("/usr/lib/apache2/modules/mod_memguard.so")
        p = configtest()
        assert p.returncode == 0, p.stdout

        # purged: its configuration is gone too
        run(APT + ["purge", PKG])
        assert pkg_status() == ""
        assert glob.glob(os.path.join(MODS_AVAILABLE, "memguard.*")) == []
        p = configtest()
        assert p.returncode == 0, p.stdout
    finally:
        if started:
            stop_apache(started)
        restore_config()
        if pkg_status():
            run(APT + ["purge", PKG], check=False)
        for link in enabled_memguard():     # a2enmod's, if the purge failed
            os.unlink(link)
        # a2enmod and a2dismod make their record directories on first use:
        # the new ones that stayed empty go
        for path in sorted(tree(state_dir) - state_before, reverse=True):
            path = os.path.join(state_dir, path)
            if os.path.isdir(path) and not os.listdir(path):
                os.rmdir(path)
        shutil.rmtree(tmp, ignore_errors=True)

    # the machine as it was: same modules, same a2enmod records, nothing
    # written to the system's logs, apache2 stopped, the configuration
    # passing
    assert sorted(os.listdir(MODS_ENABLED)) == mods_before
    assert tree(state_dir) == state_before
    assert {f: os.path.getsize(os.path.join(logs, f))
            for f in os.listdir(logs)} == logs_before
    assert apache_pid() is None
    assert configtest().returncode == 0


def test_deb_lintian(deb):
    """No lintian error; only when lintian is installed, which `make deps`
    does not do. Its warnings (--pedantic) are two: no-manual-page for
    memguard-watch (its options are in tools/README.md) and
    initial-upload-closes-no-bugs (the package is not uploaded to Debian,
    so it closes no ITP bug)."""
    if missing("lintian"):
        pytest.skip("lintian is not installed (optional)")
    p = run(["lintian", "--fail-on", "error", deb], check=False)
    assert p.returncode == 0, p.stdout


# -- RPM ---------------------------------------------------------------------

def test_rpm_spec_srpm_rpmlint():
    gone = missing("rpmbuild", "rpmlint")
    if gone:
        pytest.skip("not installed: %s (make deps installs them)"
                    % ", ".join(gone))
    make("srpm")
    top = os.path.join(TOP, "build", "rpm")
    spec = os.path.join(top, "SPECS", "mod_memguard.spec")
    srpm = os.path.join(top, "SRPMS", "mod_memguard-%s-1.src.rpm" % version())
    assert os.path.exists(srpm), os.listdir(os.path.join(top, "SRPMS"))
    with open(spec) as f:
        text = f.read()
    assert re.search(r"^Version:\s+%s$" % re.escape(version()), text, re.M)
    assert re.search(r"^\* .* - %s-1$" % re.escape(version()), text, re.M)
    assert "@" + "VERSION@" not in text and "@" + "DATE@" not in text

    p = run(["rpmlint", "-c", os.path.join(TOP, "tools", "rpm",
                                           "rpmlint.toml"), spec, srpm],
            check=False)
    assert p.returncode == 0 and " 0 errors, 0 warnings" in p.stdout, \
        p.stdout

    # %prep, %build, %install, %check and %files, run here: the fallback
    # macros point at Fedora's paths inside the build root; Debian's apxs
    # builds the module (no Fedora flags, no httpd-mmn: only the spec's
    # own steps are checked)
    run(["rpmbuild", "-bb", "--nodeps", "--define", "_topdir " + top, spec],
        timeout=600)
    rpms = glob.glob(os.path.join(top, "RPMS", "*", "mod_memguard-%s-1.*.rpm"
                                  % version()))
    assert len(rpms) == 1, rpms
    files = run(["rpm", "-qpl", rpms[0]]).stdout.split()
    assert [f for f in files if f.endswith("/httpd/modules/mod_memguard.so")]
    for path in ("/etc/httpd/conf.modules.d/10-memguard.conf",
                 "/etc/httpd/conf.d/memguard.conf",
                 "/usr/bin/memguard-watch"):
        assert path in files, files
    assert sorted(run(["rpm", "-qpc", rpms[0]]).stdout.split()) == [
        "/etc/httpd/conf.d/memguard.conf",
        "/etc/httpd/conf.modules.d/10-memguard.conf"]
    assert "httpd-mmn" in run(["rpm", "-qpR", rpms[0]]).stdout
