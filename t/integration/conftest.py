import pytest

# The harness's checks (Httpd.configtest_refuses, ...) report like a test's
# own asserts.
pytest.register_assert_rewrite("t.harness")

from t.harness.mgfixture import ProcRoot  # noqa: E402
from t.harness.mghttpd import Httpd  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--mpm", action="append", default=None,
                     help="MPM(s) to test (default: prefork and event)")


def pytest_generate_tests(metafunc):
    if "mpm" in metafunc.fixturenames:
        mpms = metafunc.config.getoption("mpm") or ["prefork", "event"]
        metafunc.parametrize("mpm", mpms)


@pytest.fixture
def httpd_factory(request):
    """Make (and start, unless start=False) private httpds; every one is
    stopped at the end and its error log checked for unexpected
    [warn]/[error] lines."""
    made = []

    def make(conf="", start=True, **kw):
        h = Httpd(conf=conf, **kw)
        made.append(h)
        if start:
            h.start()
        return h

    yield make
    problems = []
    for h in made:
        h.stop()
        bad = h.unexpected_log_lines()
        if bad:
            problems.append("%s (%s):\n%s" % (h.root, h.mpm, "\n".join(bad)))
    failed = getattr(request.node, "rep_call", None)
    if not problems and not (failed and failed.failed):
        for h in made:
            h.cleanup()
    assert not problems, "unexpected lines in the error log:\n" + \
        "\n".join(problems)


@pytest.fixture
def procroot():
    """Fixture /proc trees (mgfixture.ProcRoot), removed at the end. Name
    it BEFORE httpd_factory in a test's arguments, so that httpd stops
    before its tree goes away (fixtures are torn down in reverse)."""
    roots = []

    def make(name="debian12-v1"):
        r = ProcRoot(name)
        roots.append(r)
        return r

    yield make
    for r in roots:
        r.cleanup()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
