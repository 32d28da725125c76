"""The test harness, shared by the integration tests (t/integration), the
benchmarks (t/bench) and `make run`:

    mghttpd     a private httpd on 127.0.0.1 (Httpd) and small helpers
    mgfixture   fixture /proc trees that a test rewrites (ProcRoot)
    statuslib   the status page's formats: strict parsers, fetch helpers
    kojiclient  a client that retries the way Koji's ClientSession does
    xmlrpc      raw XML-RPC requests and their answers, for the tests
    cgroup      a real cgroup v1 memory group (MemCgroup)
    clients     clients run side by side, for the benchmarks
    run         `make run` / `make stop`: the demo on a private httpd
"""
import os

# The top directory of the tree (the one holding the Makefile).
TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
