"""Strict parsers and fetch helpers for the status page's formats, shared
by test_status*.py and the tests that read the page on the side."""
import html.parser
import http.client
import json
import os
import re
import socket
import time

from t.harness.mghttpd import read_to_end

AUTO_LINE = re.compile(r"^[A-Za-z][A-Za-z0-9]*: \S.*$")

REASONS = ["body-size", "xml-parse", "xml-invalid", "xml-limit",
           "method-denied", "method-body", "method-busy", "throttle", "shed",
           "response-size", "body-encoding", "budget", "ceiling"]


def camel(name):
    return "".join(w[:1].upper() + w[1:] for w in re.split(r"[-_. ]", name))


AUTO_KEYS = ["MemGuardStatusVersion", "MemGuardState", "MemGuardSignal",
             "MemGuardReason", "MemGuardStale", "MemGuardHealth",
             "MemGuardHealthWeight", "StateAgeMs", "SignalValue",
             "SignalThreshold", "Sampled", "SampleAgeMs", "SamplerPid",
             "SamplerStarts", "Samples", "Transitions", "SamplerReplaced",
             "SamplerIntervalMs", "SamplerWorstGapMs", "SamplerWorstSampleUs",
             "MeasureAgeMs", "SmapsAgeMs", "SlabinfoAgeMs", "FillSignal",
             "FillRateBytesPerSecond", "FillLevelBytes", "FillTimeToLevelMs",
             "AdmitBudgetBytes", "AdmitRoomBytes", "AdmitCreditBytes",
             "AdmitReservedBytes", "AdmitReservedCalls", "AdmitWaiting",
             "AdmitWaitingBytes", "AdmitAdmitted", "AdmitWaited", "AdmitTiny",
             "AdmitRefused", "AdmitCeilingHits", "AdmitLastResort",
             "AdmitRaised",
             "MemTotalBytes",
             "MemAvailableBytes", "SlabBytes", "SReclaimableBytes",
             "SUnreclaimBytes", "PressureSomeAvg10", "PressureFullAvg10",
             "CgroupUsageBytes", "CgroupLimitBytes", "Generation",
             "Children", "Requests", "InFlight", "RecyclePending",
             "RecycleRequested", "Recycled", "Methods", "Refused"] + \
    ["Refused" + camel(r) for r in REASONS] + ["MemGuardVersion"]


def get(h, path, method="GET", body=None, headers=None, port=None):
    c = http.client.HTTPConnection("127.0.0.1", port or h.port, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


# The status page alone, at the path the helpers below read.
STATUS_PAGE = """
<Location /memguard-status>
    SetHandler memguard-status
</Location>
"""

# The status page and the health check.
STATUS_AND_HEALTH = STATUS_PAGE + """<Location /memguard-health>
    SetHandler memguard-health
</Location>
"""


def page_text(h, path="/memguard-status"):
    """The body of GET path, which must answer 200 (the status page
    answers while the server sheds)."""
    r, data = get(h, path)
    assert r.status == 200, (r.status, data[:300])
    return data.decode("utf-8")


def status_json(h):
    return json.loads(page_text(h, "/memguard-status?json"))


def wait_fresh_sample(h, pred=None, what="a fresh sample", timeout=10):
    """The status JSON's sample once the sampler has published one taken
    after this call began (the sample count moved by 2: the one under way
    may have read its files before) and, if given, one pred(sample) holds
    for. Call it after rewriting a fixture, before asserting that nothing
    happened: a dead or stuck sampler fails here instead of passing."""
    deadline = time.monotonic() + timeout
    start = status_json(h)["sampler"]["samples"]
    while True:
        doc = status_json(h)
        smp = doc["sample"]
        if (doc["sampler"]["samples"] >= start + 2 and smp is not None
                and (pred is None or pred(smp))):
            return smp
        if time.monotonic() > deadline:
            raise AssertionError("after %ss still waiting for %s (samples "
                                 "%d -> %d; last sample %r)"
                                 % (timeout, what, start,
                                    doc["sampler"]["samples"], smp))
        time.sleep(0.02)


def parse_auto(text):
    """Every line `Key: value`, no duplicate keys; returns the dict."""
    out = {}
    assert text.endswith("\n"), repr(text[-50:])
    for line in text[:-1].split("\n"):
        assert AUTO_LINE.match(line), "bad ?auto line: %r" % line
        k, v = line.split(": ", 1)
        assert k not in out, "duplicate key %s" % k
        out[k] = v
    return out


VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base",
        "embed", "param", "source", "track", "wbr"}


class TagChecker(html.parser.HTMLParser):
    """Tags must balance (void elements excepted); collects text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.errors = []
        self.text = []
        self.cells = []     # text of every <td>, in order
        self._cell = None

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        self.stack.append(tag)
        if tag == "td":
            self._cell = []

    def handle_startendtag(self, tag, attrs):
        if tag not in VOID:
            self.errors.append("self-closed <%s/>" % tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes %s" % (tag, self.stack[-1:]))
            return
        self.stack.pop()
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse_html(text):
    p = TagChecker()
    p.feed(text)
    p.close()
    assert not p.errors, p.errors
    assert p.stack == [], "unclosed: %s" % p.stack
    return p


def parse_prom(text):
    """Strictly parsed families by name, plus the raw sample lines. Every
    family has exactly one HELP and one TYPE line, before its samples."""
    from prometheus_client.parser import text_string_to_metric_families
    fams = {}
    for f in text_string_to_metric_families(text):
        assert f.name not in fams, "family twice: %s" % f.name
        fams[f.name] = f
    helps = re.findall(r"^# HELP (\S+) ", text, re.M)
    types = re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M)
    assert len(helps) == len(set(helps)) == len(types)
    assert [t[0] for t in types] == helps
    for name, typ in types:
        assert typ in ("gauge", "counter"), (name, typ)
        assert name.startswith("memguard_"), name
    # every sample line belongs to the family declared just before it
    current = None
    seen = set()
    for line in text.splitlines():
        m = re.match(r"^# TYPE (\S+) ", line)
        if m:
            current = m.group(1)
            continue
        if line.startswith("#") or not line:
            continue
        name = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)", line).group(1)
        assert name == current, (name, current)
        key = line.rsplit(" ", 1)[0]
        assert key not in seen, "duplicate series %s" % key
        seen.add(key)
    return fams


def prom_value(fams, family, **labels):
    """The value of the one sample of family with exactly these labels."""
    f = fams[family]
    got = [s.value for s in f.samples if s.labels == labels]
    assert len(got) == 1, (family, labels, f.samples)
    return got[0]


def check_json(doc):
    """Schema memguard-status/1: keys and types."""
    assert doc["schema"] == "memguard-status/1"
    assert re.match(r"^\d+\.\d+\.\d+", doc["version"]), doc["version"]
    assert isinstance(doc["generation"], int)
    v = doc["verdict"]
    assert v["state"] in ("ok", "throttle", "shed", "unknown")
    assert isinstance(v["sampled"], bool) and isinstance(v["stale"], bool)
    assert isinstance(v["signal"], str) and isinstance(v["why"], str)
    for k in ("detail", "value", "threshold"):
        assert isinstance(v[k], int)
    assert v["state_age_ms"] is None or isinstance(v["state_age_ms"], int)
    hl = doc["health"]
    assert hl["status"] in (200, 503)
    assert hl["answer"] == "drain" or re.match(r"^up ready \d+%$", hl["answer"])
    assert isinstance(hl["weight"], int)
    s = doc["sampler"]
    assert all(isinstance(s[k], int) for k in ("pid", "starts", "samples",
                                               "replaced", "interval_ms",
                                               "worst_gap_ms",
                                               "worst_sample_us"))
    ad = doc["admission"]
    assert set(ad) == {"budget", "room", "credit", "reserved",
                       "reserved_calls", "waiting", "waiting_bytes", "counts"}
    assert ad["budget"] is None or isinstance(ad["budget"], int)
    assert set(ad["counts"]) == {"admitted", "waited", "tiny", "refused",
                                 "ceiling", "last-resort", "raised"}
    assert doc["fill"] is None or set(doc["fill"]) == {
        "signal", "detail", "rate", "level", "shed_level", "distance",
        "time_to_level_ms"}
    assert s["sample_age_ms"] is None or isinstance(s["sample_age_ms"], int)
    if v["sampled"]:
        smp = doc["sample"]
        for k in ("mem_total", "mem_available", "slab", "sreclaimable",
                  "sunreclaim"):
            assert isinstance(smp[k], int)
        assert set(smp["psi"]) == {"some_avg10", "some_avg60", "full_avg10",
                                   "full_avg60"}
        assert isinstance(smp["top_caches"], list)
    else:
        assert doc["sample"] is None
    assert isinstance(doc["history"], list)
    assert set(doc["refused"]) == set(REASONS)
    assert doc["refused_total"] == sum(doc["refused"].values())
    assert set(doc["recycle"]) == {"requested", "done", "pending"}
    for c in doc["children"]:
        assert set(c) == {"slot", "pid", "generation", "requests", "rss",
                          "unshared", "peak_rss", "last_delta", "inflight",
                          "recycle_pending", "recycle_reason", "reserved",
                          "reserved_calls", "refused"}
        assert c["reserved"] >= 0 and c["reserved_calls"] >= 0
        assert c["pid"] > 0
        assert set(c["refused"]) == set(REASONS)
    others = [m for m in doc["methods"] if m["other"]]
    assert len(others) == 1 and others[0]["name"] is None
    for m in doc["methods"]:
        assert set(m) == {"name", "other", "calls", "inflight", "bytes_in",
                          "bytes_out", "delta_count", "delta_max",
                          "delta_p95", "refused", "cost"}
        assert set(m["cost"]) == {"expected", "source", "learned", "live",
                                  "measured", "reserved_inflight"}
        assert m["cost"]["source"] in ("default", "learned", "live")
        assert m["other"] or isinstance(m["name"], str)
    return doc


def fetch_all(h, base="/memguard-status"):
    """(html parser, auto dict, json doc, prometheus families), each
    strictly parsed, with the content types checked."""
    r, data = get(h, base)
    assert r.status == 200
    assert r.getheader("Content-Type") == "text/html; charset=utf-8"
    assert r.getheader("Cache-Control") == "no-store"
    page = parse_html(data.decode("utf-8"))
    r, data = get(h, base + "?auto")
    assert r.getheader("Content-Type") == "text/plain; charset=utf-8"
    assert r.getheader("Cache-Control") == "no-store"
    auto = parse_auto(data.decode("utf-8"))
    r, data = get(h, base + "?json")
    assert r.getheader("Content-Type") == "application/json"
    assert r.getheader("Cache-Control") == "no-store"
    doc = check_json(json.loads(data.decode("utf-8")))
    r, data = get(h, base + "?prometheus")
    assert r.getheader("Content-Type") == \
        "text/plain; version=0.0.4; charset=utf-8"
    assert r.getheader("Cache-Control") == "no-store"
    fams = parse_prom(data.decode("utf-8"))
    return page, auto, doc, fams


def raw(port, data, timeout=10):
    """Send bytes, read until the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    return read_to_end(s)


def haproxy_stat(d):
    """HAProxy's "show stat" on the admin socket in directory d: one dict
    per proxy/server row."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.path.join(d, "admin.sock"))
    s.sendall(b"show stat\n")
    lines = read_to_end(s).decode().splitlines()
    head = lines[0].lstrip("# ").split(",")
    return [dict(zip(head, line.split(","))) for line in lines[1:] if line]
