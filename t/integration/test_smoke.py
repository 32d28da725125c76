import xmlrpc.client
import urllib.request


def test_loads_and_serves(httpd_factory, mpm):
    h = httpd_factory("MemGuardEngine On\n", mpm=mpm)
    with urllib.request.urlopen(h.url + "/index.html") as r:
        assert r.status == 200
    hub = xmlrpc.client.ServerProxy(h.hub_url)
    assert hub.getBuild(7)["id"] == 7
    assert h.calls("getBuild") == 1
