"""The parts together: XML-RPC method rules meet the sampler's verdict
(`expensive` calls refused while throttling), and per-request accounting
fills the per-method statistics of the status page."""
import time
import xmlrpc.client

import pytest

from t.harness.statuslib import STATUS_PAGE, status_json


TRANSITION = r"MG00310: verdict "


def method(doc, name):
    rows = [m for m in doc["methods"] if m["name"] == name]
    assert len(rows) == 1, [m["name"] for m in doc["methods"]]
    return rows[0]


def psi_hub(procroot, httpd_factory, mpm, methods, extra=""):
    """A hub that throttles over 20 % of PSI some, read from a fixture tree
    that starts at 1 % (ok), with these MemGuardMethod lines in /kojihub:
    (the tree, the httpd)."""
    root = procroot()
    root.set_psi(some_avg10=1.0, full_avg10=0.0)
    h = httpd_factory("""
MemGuardEngine On
MemGuardProcRoot "%s"
MemGuardSampleInterval 20ms
MemGuardMaxPressure some 20%%
<Location /kojihub>
    MemGuardXmlRpc On
%s</Location>
%s""" % (root.path, methods.lstrip("\n"), extra), mpm=mpm)
    return root, h


def test_expensive_methods_refused_while_throttling(procroot, httpd_factory,
                                                    mpm):
    root, h = psi_hub(procroot, httpd_factory, mpm, """
    MemGuardMethod queryHistory expensive
    MemGuardMethod listBuilds expensive
""", STATUS_PAGE)
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    # ok: expensive calls run
    assert len(hub.queryHistory(3)) == 3
    root.set_psi(some_avg10=35.0)
    h.wait_log(TRANSITION + "ok -> throttle")
    before = h.calls()
    # throttle: cheap calls pass, expensive ones are refused before the
    # application runs, alone or hidden in a multicall
    assert hub.getBuild(5)["id"] == 5
    for call in (lambda: hub.queryHistory(10), lambda: hub.listBuilds(10)):
        with pytest.raises(xmlrpc.client.Fault) as e:
            call()
        assert e.value.faultCode == 5031
        assert "expensive call refused" in e.value.faultString
    mc = xmlrpc.client.MultiCall(hub)
    mc.getBuild(1)
    mc.queryHistory(10)
    with pytest.raises(xmlrpc.client.Fault) as e:
        tuple(mc())
    assert e.value.faultCode == 5031
    assert h.calls() == before + 1                  # only getBuild ran
    assert h.calls("queryHistory") == 1             # the call before
    doc = status_json(h)
    assert doc["verdict"]["state"] == "throttle"
    assert doc["refused"]["throttle"] == 3
    assert method(doc, "queryHistory")["refused"]["throttle"] == 1
    assert method(doc, "listBuilds")["refused"]["throttle"] == 1
    assert method(doc, "system.multicall")["refused"]["throttle"] == 1
    # back to ok: the expensive method runs again
    root.set_psi(some_avg10=1.0)
    h.wait_log(TRANSITION + "throttle -> ok")
    assert len(hub.queryHistory(4)) == 4


def test_per_method_statistics_show_the_cost(httpd_factory, mpm):
    h = httpd_factory("""
MemGuardEngine On
<Location /kojihub>
    MemGuardXmlRpc On
</Location>
""" + STATUS_PAGE, mpm=mpm)
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    rows = 3000
    for _ in range(4):
        assert len(hub.queryHistory(rows)) == rows
    for i in range(6):
        assert hub.getBuild(i)["id"] == i
    # a call is counted at log_transaction, after the client has its
    # answer: wait for the access log's lines of all ten
    h.wait_access(r"POST /kojihub", count=10)
    doc = status_json(h)
    qh, gb = method(doc, "queryHistory"), method(doc, "getBuild")
    assert qh["calls"] == 4 and gb["calls"] == 6
    assert qh["inflight"] == 0 and gb["inflight"] == 0
    # ~1.5 KB of XML a row: each answer is several MB, getBuild's < 1 KB
    assert qh["bytes_out"] > 4 * rows * 1000
    assert gb["bytes_out"] < 6 * 2000
    assert qh["bytes_in"] > 0 and gb["bytes_in"] > 0
    # the expensive method's memory cost is seen: its first call in a
    # child grows that child's heap by megabytes
    assert qh["delta_count"] == 4
    assert qh["delta_max"] > 1 << 20, qh
    assert qh["delta_p95"] >= qh["delta_max"] or qh["delta_p95"] > 1 << 20
    assert gb["delta_max"] < qh["delta_max"]


def test_queued_expensive_call_rechecks_the_verdict(procroot, httpd_factory,
                                                    mpm):
    """A call that waited for its concurrency slot asks the verdict again
    before it runs: throttling that began while it queued refuses it."""
    import threading
    root, h = psi_hub(procroot, httpd_factory, mpm, """
    MemGuardMethod slowCall concurrency=1 queue-timeout=10s expensive
""")
    results = {}

    def call(name, secs):
        try:
            results[name] = xmlrpc.client.ServerProxy(h.hub_url).slowCall(secs)
        except xmlrpc.client.Fault as e:
            results[name] = e

    first = threading.Thread(target=call, args=("first", 2.0))
    first.start()
    h.wait_calls("slowCall", 1)         # first holds the only slot
    second = threading.Thread(target=call, args=("second", 0.1))
    second.start()
    time.sleep(0.3)                     # second is queued
    root.set_psi(some_avg10=35.0)
    h.wait_log(TRANSITION + "ok -> throttle")
    first.join(30)
    second.join(30)
    assert results["first"] == 2.0      # admitted before throttling
    assert isinstance(results["second"], xmlrpc.client.Fault), results
    assert results["second"].faultCode == 5031
    assert h.calls("slowCall") == 1
