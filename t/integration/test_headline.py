"""The headline benchmark's (t/bench/headline.py) pure parts: arguments,
error-log analysis, the summary, the targets and the table. Never starts
httpd, never creates a cgroup, never runs the storm (`make bench-headline`
does that)."""
import os

import pytest

from t.bench import headline as bh

TOOL = bh.__file__
MiB = 1 << 20


def test_executable_stdlib_only():
    assert os.access(TOOL, os.X_OK)
    with open(TOOL) as f:
        assert f.readline().strip() == "#!/usr/bin/python3"


def test_defaults():
    a = bh.parse_args([])
    assert a.duration == 60 and a.heavy == 20 and a.cheap == 50
    assert a.rows == 20000 and a.limit == 1536 * MiB
    assert a.runs == ["A", "B"] and not a.no_slab
    assert a.conf.endswith(os.path.join("conf", "memguard.conf"))
    assert a.cheap_rate == 100 and a.heavy_client_nice == 10
    # the storm: heavy callers that never pause, cheap ones paced, each
    # set its own client process
    assert bh.storm_mixes(a) == ["heavy=queryHistory(20000)@20",
                                 "cheap=getBuild(1)@50~100"]
    a = bh.parse_args(["--cheap-rate", "0", "--cheap", "7"])
    assert bh.cheap_mix(a) == "cheap=getBuild(1)@7"


def test_arguments():
    a = bh.parse_args(["--duration", "45", "--limit", "768M", "--runs", "B",
                       "--no-slab", "--slab-margin", "100M"])
    assert a.duration == 45 and a.limit == 768 * MiB and a.runs == ["B"]
    assert a.no_slab and a.slab_margin == 100 * MiB
    assert bh.parse_args(["--runs", ""]).runs == []
    assert bh.parse_size("2G") == 2 << 30 and bh.parse_size("512") == 512


@pytest.mark.parametrize("argv", [
    ["--duration", "0"], ["--duration", "9999"], ["--limit", "lots"],
    ["--runs", "A,C"], ["--heavy", "-1"], ["--cheap", "x"],
    ["--cheap-rate", "-1"], ["--cheap-rate", "fast"],
    ["--heavy-client-nice", "20"]])
def test_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as e:
        bh.parse_args(argv)
    assert e.value.code == 2


def test_not_root_exits_2(monkeypatch, capsys):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert bh.main(["--no-slab"]) == 2
    assert "must run as root" in capsys.readouterr().err


LOG = """\
[Sat Nov 21 21:56:17.500000 2026] [mpm_prefork:notice] [pid 9] AH00163: resuming normal operations
[Sat Nov 21 21:56:18.250000 2026] [memguard:notice] [pid 10] MG00310: verdict ok -> throttle: signal cgroup value 300 threshold 307 (x)
[Sat Nov 21 21:56:19.000000 2026] [core:notice] [pid 9] AH00052: child pid 77 exit signal Segmentation fault (11)
[Sat Nov  2 21:56:20.000000 2026] [memguard:info] [pid 11] MG00412: recycling child
[Sat Nov  2 21:56:20.500000 2026] [memguard:info] [pid 12] MG00260: recycling this child (pid 12) after this request: the largest child (90.0 MiB) while memory was short (now throttle: cgroup headroom 300 < minimum 307) (MemGuardRecycleOnPressure)
[Sat Nov 21 21:56:21.750000 2026] [memguard:notice] [pid 10] MG00310: verdict throttle -> ok: signal cgroup value 400 threshold 307 (x)
"""


def test_analyse_log():
    lines = LOG.splitlines()
    t0 = bh.log_epoch(lines[0])
    assert t0 is not None and bh.log_epoch("no time here") is None
    assert bh.log_epoch(lines[3]) is not None        # one-digit day
    out = bh.analyse_log(lines, t0)
    assert out["exit_signal"] == 1 and out["recycles"] == 2
    tr = out["transitions"]
    assert [(t["from"], t["to"], t["signal"]) for t in tr] == [
        ("ok", "throttle", "cgroup"), ("throttle", "ok", "cgroup")]
    assert tr[0]["t"] == pytest.approx(0.75) and tr[0]["value"] == 300
    assert bh.max_state(tr) == "throttle"
    assert bh.max_state([]) == "ok"
    assert bh.state_bands(tr, 10.0) == [(0.75, 4.25, "throttle")]
    assert bh.state_at(tr, 0.5) == 0 and bh.state_at(tr, 1.0) == 1
    assert bh.state_at(tr, 5.0) == 0


def storm_type(ok, sent, p50, p99, faults=None, resets=0, timeouts=0):
    faults = faults or {}
    return {"sent": sent, "ok": ok, "faults": sum(faults.values()),
            "faults_by_code": faults, "http_errors": 0,
            "http_errors_by_status": {}, "resets": resets,
            "timeouts": timeouts, "other": 0,
            "latency_ms": {"ok": {"p50": p50, "p99": p99, "max": p99}}}


def fake_run(oom, cheap_ok, cheap_p99, heavy, unloaded_p99=1.0,
             alone_p99=100.0):
    return {"oom_kills": oom, "exit_signal": 0, "cgroup_limit": 1536 * MiB,
            "max_usage_in_bytes": 1000 * MiB, "peak_sampled": None,
            "unloaded": {"p99_ms": unloaded_p99},
            "cheap_only": {"p99_ms": alone_p99},
            "worst_state": "ok", "recycles": 0,
            "storm": {"types": {"cheap": storm_type(cheap_ok, 10000, 5.0,
                                                    cheap_p99),
                                "heavy": heavy}}}


def test_summary_targets_table():
    a = bh.summarize(fake_run(12, 9990, 500.0, storm_type(
        3, 40, 1, 2, resets=37)))
    b = bh.summarize(fake_run(0, 10000, 150.0, storm_type(
        2, 60, 1, 2, faults={"5033": 58})))
    assert a["cheap_success_pct"] == 99.9 and b["cheap_success_pct"] == 100
    assert a["heavy_outcomes"] == "ok 3, resets 37"
    assert b["heavy_outcomes"] == "ok 2, fault 5033 x58"
    met = dict(bh.evaluate(a, b))
    assert met["A: at least one OOM kill or failed cheap calls"]
    assert met["B: zero OOM kills"]
    assert met["B: cheap-call success >= 99.9 %"]
    assert not met["B: cheap p99 <= 3x one sequential caller's p99 on an idle server"]
    assert met['B: cheap p99 <= 3x unloaded p99 (same cheap callers, no storm)']
    rows = {r[0]: r for r in bh.table_rows(a, b)}
    assert rows["OOM kills (cgroup)"][1:3] == ("12", "0")
    assert rows["OOM kills (cgroup)"][4] == "yes"
    # 150 ms: within 3x the cheap callers alone (100), not within 3x the
    # sequential caller (1)
    assert rows["cheap p99"][3:] == ("B <= 300 ms (3x unloaded)", "yes")
    assert rows["p99 of one sequential caller, idle server"][3:] == (
        "stricter: B storm p99 <= 3 ms (3x this)", "NO")
    assert rows["cheap-call success"][2] == "100 %"
    text = bh.render_table(bh.TABLE_HEADER, bh.table_rows(a, b))
    assert text.splitlines()[0].startswith("metric")
    md = bh.render_markdown(bh.TABLE_HEADER, bh.table_rows(a, b))
    assert md.splitlines()[1].startswith("| --- |")


def test_paced_missed_slots_count_as_failed_calls():
    """A paced cheap caller's slot that never started (its caller was
    still waiting at the end) is a failed call, not one never wanted."""
    run = fake_run(0, 9990, 2.0, storm_type(2, 60, 1, 2), unloaded_p99=1.0,
                   alone_p99=1.5)
    run["storm"]["types"]["cheap"]["sent"] = 9990
    run["storm"]["types"]["cheap"]["pacing"] = {
        "rate_per_second": 100, "missed_slots": 10, "late_starts": 4}
    b = bh.summarize(run)
    assert (b["cheap_ok"], b["cheap_sent"], b["cheap_missed"]) == \
        (9990, 9990, 10)
    assert b["cheap_success_pct"] == 99.9
    rows = {r[0]: r for r in bh.table_rows(None, b)}
    assert rows["cheap calls ok / scheduled"][2] == \
        "9990 / 10000 (10 slots missed)"
    assert rows["cheap calls started > 10 ms late"][2] == "4"
    met = dict(bh.evaluate(None, b))
    assert met["B: cheap p99 <= 3x one sequential caller's p99 on an idle server"]
    assert met['B: cheap p99 <= 3x unloaded p99 (same cheap callers, no storm)']
    run["storm"]["types"]["cheap"]["pacing"]["missed_slots"] = 11
    assert bh.summarize(run)["cheap_success_pct"] < 99.9


def test_b_fails_targets():
    a = bh.summarize(fake_run(0, 10000, 100.0, storm_type(40, 40, 1, 2)))
    b = bh.summarize(fake_run(3, 9000, 100.0, storm_type(40, 40, 1, 2)))
    met = dict(bh.evaluate(a, b))
    assert not met["A: at least one OOM kill or failed cheap calls"]
    assert not met["B: zero OOM kills"]
    assert not met["B: cheap-call success >= 99.9 %"]
    # one run only: the other column is empty, nothing breaks
    assert bh.table_rows(None, b)[0][1] == "-"
    assert [n for n, _ in bh.evaluate(None, b)][0] == "B: zero OOM kills"


def test_runs_without_gnuplot(monkeypatch, tmp_path, capsys):
    """gnuplot is optional: a root machine with the cgroup controller and
    no gnuplot may run the benchmark; the report, the table and the
    README's tables are written, and the missing plots are said once,
    with how to draw them later."""
    real_which = bh.shutil.which
    monkeypatch.setattr(bh.shutil, "which", lambda name: None
                        if name == "gnuplot" else real_which(name))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    cg = tmp_path / "cg"
    cg.mkdir()
    (cg / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    monkeypatch.setattr(bh, "CG_ROOT", str(cg))
    assert bh.environment_problem() is None

    args = bh.parse_args(["--no-slab", "--outdir", str(tmp_path)])
    runs = {"A": fake_run(12, 9990, 500.0, storm_type(3, 40, 1, 2,
                                                      resets=37)),
            "B": fake_run(0, 10000, 1.5, storm_type(2, 60, 1, 2))}
    rep = bh.build_report(args, runs, {}, "2026-11-21T03:00:00+0000", 1.0)
    saved = tmp_path / "saved.json"
    saved.write_text(bh.json.dumps(rep))
    assert bh.main(["--replot", str(saved), "--outdir", str(tmp_path),
                    "--update-readme-assets"]) == 0
    out, err = capsys.readouterr()
    assert err.count("gnuplot not found: no plots this time") == 1, err
    assert "--replot" in err
    assert "plots: none (gnuplot not found)" in out
    assert "OOM kills (cgroup)" in out
    assert "copied no plots (none were drawn)" in out
    written = bh.json.loads((tmp_path / "bench-headline.json").read_text())
    assert written["plots"] == [] and written["plot_error"] == \
        "gnuplot not found"
    assert (tmp_path / "bench-headline.md").read_text().startswith("| metric")
    assert not list(tmp_path.glob("*.png"))


def test_update_readme_writes_the_table_and_the_evidence_line(monkeypatch,
                                                              tmp_path):
    """--update-readme (here from a saved scenarios report, --replot)
    rewrites what lies between the markers and nothing else: the scenario
    table in SCENARIO_TABLE_FILE and the evidence line, from the unnamed
    scenario, in EVIDENCE_FILE; a file without its markers fails loudly."""
    def side(oom, ok, heavy):
        return {"oom_kills": oom, "cheap_success_pct": ok, "heavy_ok": heavy,
                "cheap_p99_ms": 3.0, "cheap_only_p99_ms": 1.5,
                "unloaded_p99_ms": 1.0}
    rep = {"bench": "headline-scenarios",
           "started_at": "2026-12-07T09:00:00+0000",
           "scenarios": {
               "named": {"what": "w", "mix": "m", "summary": {
                   "A": side(176, 100.0, 8), "B": side(0, 100.0, 36)},
                   "targets": []},
               "unnamed": {"what": "w", "mix": "m", "summary": {
                   "A": side(180, 100.0, 8), "B": side(0, 99.95, 32)},
                   "targets": []}}}
    (tmp_path / "t" / "bench").mkdir(parents=True)
    table = tmp_path / bh.SCENARIO_TABLE_FILE
    table.write_text("head\n%s\nold\n%s\ntail\n" % (bh.README_BEGIN,
                                                    bh.README_END))
    readme = tmp_path / bh.EVIDENCE_FILE
    readme.write_text("# x\n%s\nold <b>\n%s\nrest\n" % (bh.EVIDENCE_BEGIN,
                                                        bh.EVIDENCE_END))
    monkeypatch.setattr(bh, "TOP", str(tmp_path))
    saved = tmp_path / "saved.json"
    saved.write_text(bh.json.dumps(rep))
    assert bh.main(["--replot", str(saved), "--outdir", str(tmp_path),
                    "--update-readme"]) == 0
    t = table.read_text()
    assert t.startswith("head\n%s\n| scenario |" % bh.README_BEGIN), t
    assert "| unnamed | 180 / 0 | 100 % / 99.95 % |" in t, t
    assert "old" not in t and t.endswith("%s\ntail\n" % bh.README_END)
    r = readme.read_text()
    assert "old <b>" not in r and r.startswith("# x\n") and \
        r.endswith("%s\nrest\n" % bh.EVIDENCE_END), r
    assert ("without the module 180 OOM kills and 8 heavy calls done; with "
            "the shipped conf 0 OOM kills, 99.95 % of the builders' calls "
            "answered, 32 heavy calls done" in r), r
    # no markers: an error, the file left as it was
    readme.write_text("no markers\n")
    table.write_text("no markers either\n")
    assert bh.main(["--replot", str(saved), "--outdir", str(tmp_path),
                    "--update-readme"]) == 1
    assert table.read_text() == "no markers either\n"
