"""Host cases: the format, the converter, exclusions, subsystems, replay and scoring (synthetic and real)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from pyml.cli import main
from pyml.lab.hostcase import (
    CaseChart,
    CaseEvent,
    ExclusionRule,
    HostCase,
    case_config,
    chart_subsystems,
    foreign_exclusions,
    import_recording,
    in_subsystems,
    read_case,
    replay_case,
    score_case,
    write_case,
)
from pyml.lab.hostcase.scoring import CaseScore
from pyml.lab.profiles import TrainingSizing

DATA = Path(__file__).parent / "data"
SMALL = TrainingSizing(120, 600, 120)  # the synthetic case is 43 minutes with 15 quiet ones


T0 = 1_800_000_000


def synthetic_case(seed: int = 7, n: int = 2600, quiet: int = 900) -> HostCase:
    """Eleven dimensions at 1 s: two incidents that show, one that does not, four bursts, foreign work, a glitch."""
    rng = np.random.default_rng(seed)
    charts = [CaseChart("system.cpu", ("user", "system"), family="cpu", context="system.cpu", units="percentage"),
              CaseChart("cpu.cpu0", ("user",), family="utilization", context="cpu.cpu", units="percentage"),
              CaseChart("system.ram", ("used", "free"), family="ram", context="system.ram", units="MiB"),
              CaseChart("net.eth0", ("received", "sent"), family="eth0", context="net.net", units="kilobits/s"),
              CaseChart("system.processes", ("running",), family="processes", context="system.processes"),
              CaseChart("disk.sda", ("reads", "writes"), family="sda", context="disk.io", units="KiB/s"),
              CaseChart("system.intr", ("interrupts",), family="interrupts", context="system.intr")]
    t = np.arange(n)
    cols = {}
    cols["system.cpu|user"] = 10 + rng.normal(0, 1, n)
    cols["system.cpu|system"] = 5 + rng.normal(0, 0.5, n)
    cols["cpu.cpu0|user"] = 10 + rng.normal(0, 1, n)
    cols["system.ram|used"] = 2000 + rng.normal(0, 5, n)
    cols["system.ram|free"] = 6000 + rng.normal(0, 5, n)
    cols["net.eth0|received"] = 100 + rng.normal(0, 5, n)
    cols["net.eth0|sent"] = 50 + rng.normal(0, 3, n)
    cols["system.processes|running"] = 2 + rng.normal(0, 0.3, n)
    cols["disk.sda|reads"] = 20 + rng.normal(0, 2, n)
    cols["disk.sda|writes"] = 40 + rng.normal(0, 3, n)
    cols["system.intr|interrupts"] = 500 + rng.normal(0, 1, n) * (1 + 30 * (t % 300 > 240))
    def burst_of(a: int, b: int, col: str, scale: float) -> None:
        cols[col][a:b] += scale * (1 + rng.normal(0, 1, b - a) ** 2)
    # incidents
    burst_of(1200, 1260, "system.cpu|user", 40); burst_of(1200, 1260, "cpu.cpu0|user", 60)
    burst_of(1700, 1760, "net.eth0|received", 3000)
    # bursts of the scheduled job
    bursts = []
    for a in (1000, 1400, 1800, 2200):
        burst_of(a, a + 20, "disk.sda|writes", 5000); burst_of(a, a + 20, "system.cpu|system", 30)
        bursts.append(CaseEvent("backup", "cpu,disk", T0 + a, T0 + a + 20, "backup.sh", 0))
    # foreign work in an excluded period, and an unexplained glitch
    burst_of(2000, 2040, "net.eth0|sent", 2000)
    burst_of(2420, 2460, "system.processes|running", 50)
    values = np.column_stack([cols[f"{c.id}|{d}"] for c in charts for d in c.dimensions])
    values[500:505, 3] = np.nan  # a few missing values
    incidents = [CaseEvent("cpu burn", "cpu", T0 + 1200, T0 + 1260, "stress-ng --cpu 2", 0),
                 CaseEvent("network flood", "network", T0 + 1700, T0 + 1760, "iperf3", 0),
                 CaseEvent("invisible memory hog", "memory", T0 + 1500, T0 + 1560, "true", 0)]
    return HostCase(name="synthetic", hostname="synth", update_every=1, start=T0, end=T0 + n - 1,
                    quiet_seconds=quiet, charts=charts, timestamps=T0 + t, values=values, incidents=incidents,
                    bursts=bursts, excluded=[(T0 + 1990, T0 + 2100)], exclusion_rule="test", notes=["synthetic"])


@pytest.fixture(scope="module")
def case() -> HostCase:
    return synthetic_case()


@pytest.fixture(scope="module")
def scored(case: HostCase) -> CaseScore:
    return score_case(case, replay_case(case, case_config("netdata-1.33", sizing=SMALL)))


# --------------------------------------------------------------------------- format


def test_a_case_round_trips_through_its_files(case: HostCase, tmp_path: Path) -> None:
    write_case(case, tmp_path / "a", {"notes.txt": b"hello"})
    back = read_case(tmp_path / "a")
    np.testing.assert_array_equal(back.values, case.values)  # NaN where NaN, exact doubles elsewhere
    np.testing.assert_array_equal(back.timestamps, case.timestamps)
    assert back.columns == case.columns and back.charts == case.charts
    assert back.incidents == case.incidents and back.bursts == case.bursts
    assert back.excluded == case.excluded and back.notes == case.notes and back.quiet_end == case.quiet_end
    assert (tmp_path / "a" / "notes.txt").read_bytes() == b"hello"
    write_case(case, tmp_path / "b")
    assert (tmp_path / "a" / "values.csv.gz").read_bytes() == (tmp_path / "b" / "values.csv.gz").read_bytes()
    header = gzip.open(tmp_path / "a" / "values.csv.gz", "rt").readline().strip()
    assert header.startswith("timestamp,system.cpu|user,system.cpu|system,cpu.cpu0|user,")


def test_bad_cases_are_named(case: HostCase, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a host case"):
        read_case(tmp_path)
    write_case(case, tmp_path)
    doc = json.loads((tmp_path / "case.json").read_text())
    doc["charts"][0]["dimensions"] = ["user"]
    (tmp_path / "case.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="header does not list the charts' dimensions"):
        read_case(tmp_path)
    with pytest.raises(ValueError, match="unknown subsystem 'gpu'"):
        CaseEvent("x", "cpu,gpu", 1.0, 2.0)
    with pytest.raises(ValueError, match="row 2 is 2 s after row 1"):
        HostCase("h", "h", 1, 0, 3, 0, [CaseChart("a.b", ("x",))], np.array([0, 1, 3]), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="fewer than two ticks"):
        case.slice(0, 10)


def test_a_slice_keeps_what_touches_it(case: HostCase) -> None:
    part = case.slice(case.start + 1100, case.start + 1800)
    assert part.timestamps[0] == case.start + 1100 and part.values.shape == (701, 11)
    assert [i.name for i in part.incidents] == ["cpu burn", "network flood", "invisible memory hog"]
    assert len(part.bursts) == 2 and part.quiet_seconds == 0 and part.excluded == []


# --------------------------------------------------------------------------- subsystems and exclusions


@pytest.mark.parametrize(("chart", "subsystems"), [
    ("system.cpu", ("cpu",)), ("cpu.cpu1", ("cpu",)), ("cpu.cpu12", ("cpu",)), ("system.load", ("cpu",)),
    ("cpu.cpu0_interrupts", ()), ("cpu.cpu0_softnet_stat", ("network",)),
    ("system.ram", ("memory",)), ("mem.available", ("memory",)), ("mem.writeback", ("memory", "disk")),
    ("disk.vda", ("disk",)), ("disk_util.vda", ("disk",)), ("system.io", ("disk",)), ("system.pgpgio", ("disk",)),
    ("system.forks", ("processes",)), ("system.ctxt", ("processes",)), ("system.active_processes", ("processes",)),
    ("net.veth-pyml", ("network",)), ("net_packets.eth0", ("network",)), ("system.net", ("network",)),
    ("ipv4.tcpsock", ("network",)), ("ip.tcpofo", ("network",)), ("system.intr", ()), ("system.uptime", ()),
])
def test_subsystem_of_each_chart(chart: str, subsystems: tuple[str, ...]) -> None:
    assert chart_subsystems(chart) == subsystems


def test_dimension_subsystem_membership() -> None:
    assert in_subsystems("disk_util.vda|utilization", ("cpu", "disk"))
    assert not in_subsystems("system.intr|interrupts", ("cpu", "disk", "memory", "processes", "network"))


def test_exclusions_compare_foreign_cpu_with_the_quiet_baseline() -> None:
    t = np.arange(1000, 2000)
    idle = np.zeros(t.size)
    idle[500:520] = 0.4  # 20 s of foreign work
    periods, baseline = foreign_exclusions(t, idle, start=1000, end=1999, quiet_end=1300)
    assert baseline == 0.0
    # trailing 10-s mean > 0.25 from the 7th second of the work to 3 s after it, then 60 s margins
    assert periods == [(1506 - 60, 1522 + 60)]
    busy = np.full(t.size, 0.5)
    busy[600:700] = 0.0  # foreign work stopped for 100 s
    periods, baseline = foreign_exclusions(t, busy, start=1000, end=1999, quiet_end=1300)
    # the 10-s mean is below 0.25 once 6 of its seconds are idle: from 1605 to 1703
    assert baseline == 0.5 and periods == [(1605 - 60, 1703 + 60)]
    periods, _ = foreign_exclusions(t, busy, start=1000, end=1999, quiet_end=1300,
                                    rule=ExclusionRule(window_s=1, bound_cores=0.25, margin_s=0))
    assert periods == [(1600, 1699)]
    # inside an induced window a drop is the incident's doing; a rise still counts
    periods, _ = foreign_exclusions(t, busy, start=1000, end=1999, quiet_end=1300, induced=[(1590, 1710)])
    assert periods == []
    periods, _ = foreign_exclusions(t, idle, start=1000, end=1999, quiet_end=1300, induced=[(1490, 1530)])
    assert periods == [(1506 - 60, 1522 + 60)]
    # seconds missing from the log take the last logged value; periods clip to the case
    periods, _ = foreign_exclusions(np.array([990, 1995]), np.array([0.0, 1.0]), start=1000, end=1999,
                                    quiet_end=1300)
    assert periods == [(1997 - 60, 1999)]
    with pytest.raises(ValueError, match="does not cover the quiet part"):
        foreign_exclusions(np.array([5000]), np.array([0.0]), start=1000, end=1999, quiet_end=1300)


# --------------------------------------------------------------------------- replay and scoring


def test_incidents_caught_when_an_event_explains_them(scored: CaseScore) -> None:
    by_name = {i.name: i for i in scored.incidents}
    cpu, net, mem = by_name["cpu burn"], by_name["network flood"], by_name["invisible memory hog"]
    assert cpu.caught and net.caught and not mem.caught
    top = [d for d, _ in scored.events[cpu.explained_by].dimensions[:3]]
    assert any(in_subsystems(d, ("cpu",)) for d in top)
    assert "net.eth0|received" in [d for d, _ in scored.events[net.explained_by].dimensions[:3]]
    assert scored.caught == 2


def test_false_events_exclude_incidents_bursts_excluded_periods_and_the_quiet_part(
        case: HostCase, scored: CaseScore) -> None:
    false = [e for e in scored.events if e.false]
    # the glitch on system.processes at 2420..2460 s is the one event nothing explains
    assert len(false) == 1 and false[0].dimensions[0][0] == "system.processes|running"
    assert case.start + 2420 - 60 < false[0].before and false[0].after < case.start + 2460 + 60
    assert any(e.excluded and e.dimensions[0][0] == "net.eth0|sent" for e in scored.events)
    assert all(e.before < case.quiet_end for e in scored.events if e.quiet)
    scored_s = (case.end - case.quiet_end + 1) - (2100 - 1990 + 1)
    assert scored.scored_seconds == scored_s
    assert scored.false_per_hour == pytest.approx(1 / (scored_s / 3600))


def test_bursts_covered_and_whether_the_models_had_seen_one(case: HostCase, scored: CaseScore) -> None:
    assert [b.seen_fraction is None for b in scored.bursts] == [True, False, False, False]
    # training windows of 600 s every 120 s: every later burst had an earlier one within its models' window
    assert all(b.seen_earlier for b in scored.bursts[1:])
    assert scored.bursts[0].covered and scored.bursts[0].explained
    assert all(b.dimensions == 5 for b in scored.bursts)  # system.cpu x2, cpu.cpu0, disk.sda x2


def test_models_that_never_saw_a_burst(case: HostCase) -> None:
    short = TrainingSizing(120, 200, 120)  # windows of 200 s: bursts 400 s apart are never seen
    score = score_case(case, replay_case(case, case_config("netdata-1.33", sizing=short)))
    assert [b.seen_fraction for b in score.bursts] == [None, 0.0, 0.0, 0.0]


def test_chronically_noisy_dimensions_come_from_the_quiet_part(scored: CaseScore) -> None:
    assert "system.intr|interrupts" in scored.noisy  # its noise triples for a minute every five
    assert all(rate > 0.05 for rate in scored.noisy.values())
    assert "system.cpu|user" not in scored.noisy
    flagged = [e for e in scored.events if e.noisy_in_top]
    assert flagged and all(set(e.noisy_in_top) <= set(scored.noisy) for e in flagged)
    assert all(d in [x for x, _ in e.dimensions[:3]] for e in flagged for d in e.noisy_in_top)


def test_report_table_and_json(case: HostCase, scored: CaseScore) -> None:
    text = scored.table(case.start)
    assert text.startswith("case synthetic, profile netdata-1.33: incidents caught 2/3; false events 1 (")
    assert "FALSE" in text and "system.intr|interrupts*" in text
    doc = json.loads(json.dumps(scored.to_json()))
    assert doc["summary"]["incidents_caught"] == 2 and doc["summary"]["false_events"] == 1
    assert doc["rules"] == {"slack_before_s": 30, "slack_after_s": 120, "top_n": 3, "noisy_rate": 0.05,
                            "noisy_min_ticks": 60}
    assert len(doc["events"]) == len(scored.events) and doc["bursts"][0]["seen_earlier"] is None


def test_replay_is_deterministic_and_trains_on_schedule(case: HostCase) -> None:
    part = case.slice(case.start, case.start + 700)
    a = replay_case(part, case_config("netdata-1.33", sizing=SMALL))
    b = replay_case(part, case_config("netdata-1.33", sizing=SMALL))
    np.testing.assert_array_equal(a.bits, b.bits)
    assert a.trainings == b.trainings
    first = a.trainings[0]
    # first as soon as 120 values are in, then at the dimension's own offset every 120 ticks
    assert first[0] == case.start + 119 and first[1] - first[0] <= 120
    assert all(y - x == 120 for x, y in zip(first[1:], first[2:])) and len(first) >= 5
    later = first[-1]  # a model holds the 600 ticks up to its training and applies from the next tick
    assert later - 599 > case.start
    assert a.model_windows(0, later + 1) == [(later - 599, later)]
    assert a.model_windows(0, later) == [(max(case.start, first[-2] - 599), first[-2])]


# --------------------------------------------------------------------------- converter and commands


def _fake_recording(case: HostCase, root: Path) -> Path:
    """The recorder's output for ``case``: schedule log, charts, newest-first exports, foreign CPU, agent log."""
    (root / "export").mkdir(parents=True)
    log = {"hostname": case.hostname, "start": case.start, "end": case.end,
           "incidents": [e.as_dict() for e in case.incidents], "bursts": [e.as_dict() for e in case.bursts]}
    (root / "schedule_log.json").write_text(json.dumps(log))
    charts = {c.id: {"id": c.id, "name": c.id, "family": c.family, "context": c.context, "units": c.units,
                     "title": c.id, "dimensions": {d: {"name": d} for d in c.dimensions}} for c in case.charts}
    charts["anomaly_detection.dimensions"] = {"id": "anomaly_detection.dimensions", "dimensions": {}}
    (root / "charts.json").write_text(json.dumps({"charts": charts}))
    j = 0
    for c in case.charts:
        block = case.values[:, j:j + len(c.dimensions)]
        j += len(c.dimensions)
        rows = [[int(t)] + [None if np.isnan(v) else float(v) for v in row]
                for t, row in zip(case.timestamps, block)][::-1]
        (root / "export" / f"{c.id}.json").write_text(json.dumps({"labels": ["time", *c.dimensions], "data": rows}))
    busy = (case.timestamps >= case.start + 2000) & (case.timestamps < case.start + 2020)  # 20 s of foreign work
    cpu = ["timestamp,others_cpu_cores"] + [f"{t},{0.9 if b else 0.0:.3f}" for t, b in zip(case.timestamps.tolist(), busy)]
    (root / "others_cpu.csv").write_text("\n".join(cpu) + "\n")
    (root / "agent.log").write_text("agent started\n")
    return root


def test_import_a_recording(case: HostCase, tmp_path: Path) -> None:
    rec = _fake_recording(case, tmp_path / "rec")
    schedule = tmp_path / "schedule.json"
    schedule.write_text(json.dumps({"hostname": "synth", "others_quota_us": 50000}))
    got, extra = import_recording(rec, schedule=schedule, quiet_seconds=900, notes=["a test"])
    np.testing.assert_array_equal(got.values, case.values)
    assert [c.id for c in got.charts] == [c.id for c in case.charts]  # anomaly_detection.* left out
    assert got.incidents == sorted(case.incidents, key=lambda e: e.start) and got.bursts == case.bursts
    # the 10-s mean passes 0.25 core from the work's 3rd second to 7 s after it ends; 60 s margins
    assert got.excluded == [(case.start + 2002 - 60, case.start + 2026 + 60)]
    assert "0.5 CPU core in total" in " ".join(got.notes) and got.notes[-1] == "a test"
    assert got.schedule == {"hostname": "synth", "others_quota_us": 50000}
    assert set(extra) == {"others_cpu.csv.gz", "agent.log"}
    with pytest.raises(ValueError, match="within the first 1500 s, which must be quiet"):
        import_recording(rec, quiet_seconds=1500)


def test_commands(case: HostCase, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec = _fake_recording(case.slice(case.start, case.start + 1500), tmp_path / "rec")
    out = tmp_path / "case"
    assert main(["lab", "hostcase-import", str(rec), str(out), "--quiet-seconds", "900", "--name", "synth"]) == 0
    printed = capsys.readouterr().out
    assert "host case synth: 7 charts, 11 dimensions, 1501 ticks, 2 incidents, 2 bursts" in printed
    assert main(["lab", "hostcase", str(out), "--profile", "netdata-1.33", "--out", str(tmp_path / "r"),
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "min 300 / max 1200 / every 300 points" in printed and "incidents caught" in printed
    doc = json.loads((tmp_path / "r" / "hostcase-synth-netdata-1.33.json").read_text())
    assert doc["config"]["min_train_samples"] == 300 and doc["config"]["max_train_samples"] == 1200
    assert main(["lab", "hostcase", str(out), "--out", str(tmp_path / "r"), "--quiet"]) == 0  # the default profile
    assert "profile pyml" in capsys.readouterr().out
    assert json.loads((tmp_path / "r" / "hostcase-synth-pyml.json").read_text())["profile"] == "pyml"
    assert main(["lab", "hostcase", str(out), "--profile", "fancy", "--out", str(tmp_path / "r")]) == 2
    assert "unknown profile 'fancy'" in capsys.readouterr().err


def test_the_committed_recorder_reads_the_committed_schedules() -> None:
    import importlib.util

    root = Path(__file__).parent.parent / "hostcases"
    if not (root / "record_case.py").is_file():
        pytest.skip("the repository's hostcases/ is not beside these tests (an installed-wheel run copies tests/ only)")
    spec = importlib.util.spec_from_file_location("record_case", root / "record_case.py")
    assert spec is not None and spec.loader is not None
    recorder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recorder)
    a, b = recorder.load_schedule(root / "caseA.json"), recorder.load_schedule(root / "caseB.json")
    assert (a["duration_s"], len(a["incidents"]), len(a["burst"]["at_s"])) == (3900, 5, 5)
    assert (b["duration_s"], len(b["incidents"]), len(b["burst"]["at_s"])) == (3960, 6, 4)
    for schedule in (a, b):  # nothing induced in the first 20 minutes; every subsystem is one scoring knows
        starts = [e["at_s"] for e in schedule["incidents"]] + schedule["burst"]["at_s"]
        assert min(starts) >= 1200
        for e in schedule["incidents"] + [schedule["burst"]]:
            CaseEvent(e["name"], e["subsystem"], 0.0, 1.0)


def test_top_three_includes_ties_with_the_third() -> None:
    from pyml.lab.hostcase.scoring import top_dimensions

    dims = [("a", 0.9), ("b", 0.7), ("c", 0.5), ("d", 0.5), ("e", 0.4)]
    assert top_dimensions(dims) == ["a", "b", "c", "d"]
    assert top_dimensions(dims[:2]) == ["a", "b"]
    assert top_dimensions([("a", 0.5)] * 1 + [("b", 0.5), ("c", 0.5), ("d", 0.5)]) == ["a", "b", "c", "d"]


# --------------------------------------------------------------------------- a slice of a real case


@pytest.fixture(scope="module")
def real() -> HostCase:
    return read_case(DATA / "hostcases" / "caseA-slice")


def test_the_real_slice_is_case_a_as_recorded(real: HostCase) -> None:
    assert real.values.shape == (1620, 290) and len(real.charts) == 91
    assert real.quiet_seconds == 1200 and [i.name for i in real.incidents] == ["CPU burn on both cores"]
    assert real.incidents[0].start - real.start == pytest.approx(1440.0, abs=0.5)
    assert real.incidents[0].command == "stress-ng --cpu 2 --timeout 120s"
    assert len(real.bursts) == 1 and real.bursts[0].subsystems == ("cpu", "disk")
    # foreign work stopped twice in the quiet part (others_cpu.csv): both periods excluded
    assert [(a - real.start, b - real.start) for a, b in real.excluded] == [(0, 105), (207, 593)]
    user = real.columns.index("system.cpu|user")
    burn = (real.timestamps >= real.start + 1450) & (real.timestamps < real.start + 1550)
    quiet = (real.timestamps >= real.start + 600) & (real.timestamps < real.start + 1200)
    assert np.nanmean(real.values[burn, user]) > np.nanmean(real.values[quiet, user]) + 30


def test_the_real_slice_replayed_with_the_host_case_windows(real: HostCase) -> None:
    score = score_case(real, replay_case(real, profile="netdata-1.33"))
    cpu = score.incidents[0]
    assert cpu.caught  # measured: an event at 1461..1492 s led by cpu.cpu0|steal and cpu.cpu1|steal
    explained = score.events[cpu.explained_by]
    assert any(in_subsystems(d, ("cpu",)) for d, _ in explained.dimensions[:3])
    assert score.bursts[0].covered and score.bursts[0].seen_fraction is None
    assert score.false_events == 0
    assert sum(e.quiet for e in score.events) >= 3  # the models' first 20 minutes are not quiet for them
    # virtio interrupt counts of this VM are anomalous a third of the quiet time
    assert score.noisy["system.interrupts|virtio0-stats_31"] > 0.25
    assert score.config["min_train_samples"] == 300 and score.config["max_train_samples"] == 1200
