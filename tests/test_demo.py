"""``pyml demo``: the generated host, the replay through pyml.Host, the report and the PNG."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from pyml import demo
from pyml.cli import main

DIMS, HOURS, SEED = 60, 1.0, 1


@pytest.fixture(scope="module")
def result() -> demo.DemoResult:
    """The demo under netdata-1.33, whose dense bits exercise every part of the report and the PNG."""
    return demo.run_demo(DIMS, HOURS, SEED, profile="netdata-1.33")


@pytest.fixture(scope="module")
def default_result() -> demo.DemoResult:
    """The demo as ``pyml demo`` runs it: the default profile."""
    return demo.run_demo(DIMS, HOURS, SEED, minute_rates=False)


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, after checking its signature and every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, kinds = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, kind
        kinds.append(kind)
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# ---------------------------------------------------------------------------- generation


def test_generated_host_looks_like_a_linux_host():
    gen = demo.generate_host(300, 1.0, 7)
    ids = gen.dimension_ids
    assert abs(len(ids) - 300) <= 7 and len(ids) <= 300
    assert gen.values.shape == (3600, len(ids))
    assert np.isfinite(gen.values).all()
    charts = [c for c, _ in gen.charts]
    for needed in ("system.cpu", "cpu.cpu0", "system.load", "system.ram", "mem.available", "disk.sda",
                   "disk_await.sda", "net.eth0", "net_packets.eth0", "system.ctxt"):
        assert needed in charts
    col = {d: j for j, d in enumerate(ids)}
    user = gen.values[:, col["cpu.cpu0|user"]]
    assert np.array_equal(user, np.rint(user)) and user.min() >= 0 and user.max() <= 100   # jiffies: integers
    assert np.all(gen.values[:, col["cpu.cpu0|steal"]] == 0)                              # flat series exist
    ctxt = gen.values[:, col["system.ctxt|switches"]]
    assert np.array_equal(ctxt, np.rint(ctxt)) and ctxt.min() >= 0                         # counter as a rate
    assert np.all(gen.values[:, col["disk.sda|writes"]] <= 0)                              # Netdata's sign


def test_incidents_are_injected_where_they_say():
    gen = demo.generate_host(120, 2.0, 3)
    n = gen.ticks
    kinds = [inc.kind for inc in gen.incidents]
    assert kinds == ["cpu-spike", "network-drop", "memory-leak", "disk-latency", "noise-burst"]
    spans = sorted((inc.start, inc.end) for inc in gen.incidents)
    assert spans[0][0] >= n // 4                      # after the first training
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:])) and spans[-1][1] <= n
    col = {d: j for j, d in enumerate(gen.dimension_ids)}
    by_kind = {inc.kind: inc for inc in gen.incidents}
    net = by_kind["network-drop"]
    assert np.all(gen.values[net.start:net.end, col["net_packets.eth0|received"]] == 0)
    assert np.all(gen.values[net.start - 60:net.start, col["net_packets.eth0|received"]] > 0)
    cpu = by_kind["cpu-spike"]
    core = cpu.charts[0]
    assert gen.values[cpu.start:cpu.end, col[f"{core}|user"]].mean() > 85
    mem = by_kind["memory-leak"]
    used = gen.values[:, col["system.ram|used"]]
    assert used[mem.end - 1] - used[mem.start] > 1000   # MiB leaked before the kill
    for inc in gen.incidents:
        assert inc.charts and all(c in {name for name, _ in gen.charts} for c in inc.charts)


def test_generation_is_deterministic_per_seed():
    a, b, c = demo.generate_host(80, 1.0, 5), demo.generate_host(80, 1.0, 5), demo.generate_host(80, 1.0, 6)
    assert np.array_equal(a.values, b.values) and a.incidents == b.incidents
    assert not np.array_equal(a.values, c.values)


@pytest.mark.parametrize("kwargs, error", [
    (dict(dims=20), ValueError), (dict(hours=0.1), ValueError), (dict(seed=-1), ValueError),
    (dict(dims=60.5), TypeError), (dict(hours=float("nan")), ValueError),
])
def test_generation_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error):
        demo.generate_host(**kwargs)


# ---------------------------------------------------------------------------- replay and matching


def test_lab_sized_settings_train_on_a_quarter_of_the_data():
    cfg = demo.demo_config(3600, "netdata-1.33")
    assert cfg.min_train_samples == cfg.max_train_samples == cfg.train_every == 900
    assert cfg.clamp is False and cfg.dimension_anomaly_score_threshold == 0.99
    for profile in ("pyml", "netdata-2"):
        cfg = demo.demo_config(3600, profile)
        assert cfg.profile == profile and cfg.clamp is False
        assert cfg.training_points(1) == (900, 900) and cfg.train_every_ticks(1) == 900
    assert demo.demo_config(3600).profile == "pyml"
    with pytest.raises(ValueError, match="netdata-3"):
        demo.demo_config(3600, "netdata-3")


def test_default_profile_flags_the_incidents_in_their_own_dimensions(default_result):
    """Under pyml each incident but the slow memory leak sets stored bits on its own charts' dimensions,
    and no event opens outside an incident (on this small host no incident reaches the 4 charts an
    event needs; the report says so rather than counting it caught)."""
    r = default_result
    assert r.config.profile == "pyml"
    flagged = {o.incident.kind: o.flagged for o in r.outcomes}
    assert all(flagged[k] for k in ("cpu-spike", "network-drop", "disk-latency", "noise-burst")), flagged
    for o in r.outcomes:
        assert all(d.split("|")[0] in o.incident.charts for d in o.flagged)
    assert r.unexplained_events == []
    text = demo.format_report(r)
    assert "profile pyml" in text
    assert f"{r.caught} of 5 incidents caught by an event" in text
    assert f"{sum(bool(o.flagged) for o in r.outcomes)} of 5 incidents with anomaly bits stored" in text
    assert text.count("anomaly bits stored on ") - 1 == sum(bool(o.flagged) and not o.caught for o in r.outcomes)


def test_replay_finds_events_and_catches_incidents(result):
    n = result.generated.ticks
    assert result.first_trained == demo.demo_config(n, "netdata-1.33").min_train_samples - 1
    assert result.trained[-1] == len(result.generated.dimension_ids)
    assert result.host_rate[: result.first_trained + 1].max() == 0.0      # nothing is anomalous without models
    assert result.events and result.caught >= 1
    for ev in result.events:
        assert ev.before > ev.after and ev.info
        rates = [r for r, _ in ev.info]
        assert rates == sorted(rates, reverse=True) and all(0 < r <= 1 for r in rates)
    for o in result.outcomes:
        first, last = o.incident.times(result.generated.t0)
        for j in o.events:
            assert result.events[j].after <= last and result.events[j].before >= first
        for dim_id in o.dimensions:
            assert dim_id.split("|")[0] in o.incident.charts
            assert any(dim_id == d for j in o.events for _, d in result.events[j].top())
    explained = {j for o in result.outcomes for j in o.events}
    assert set(result.unexplained_events) == set(range(len(result.events))) - explained


def test_replay_is_deterministic():
    a = demo.run_demo(DIMS, HOURS, SEED, minute_rates=False, profile="netdata-1.33")
    b = demo.run_demo(DIMS, HOURS, SEED, minute_rates=False, profile="netdata-1.33")
    assert [(e.after, e.before, e.info) for e in a.events] == [(e.after, e.before, e.info) for e in b.events]
    assert np.array_equal(a.host_rate, b.host_rate)
    assert [o.dimensions for o in a.outcomes] == [o.dimensions for o in b.outcomes]


def test_minute_rates_have_a_row_per_disk_and_interface(result):
    assert list(result.group_rates) == ["cpu cores", "system", "memory", "disk sda", "net eth0"]
    assert list(demo.run_demo(120, 1.0, 2, minute_rates=True, profile="netdata-1.33").group_rates) == [
        "cpu cores", "system", "memory", "disk sda", "disk sdb", "net eth0", "net eth1"]
    for stamps, rates in result.group_rates.values():
        assert stamps.size == rates.size and np.all(np.diff(stamps) == 60)
        assert rates.min() >= 0 and rates.max() <= 100
    inc = next(i for i in result.generated.incidents if i.kind == "disk-latency")
    disks_stamps, disks = result.group_rates[f"disk {inc.charts[0].split('.')[1]}"]
    first, last = inc.times(result.generated.t0)
    inside = (disks_stamps > first + 60) & (disks_stamps <= last)
    baseline = disks[disks_stamps > result.times[result.first_trained] + 60].mean()
    assert disks[inside].mean() > 1.5 * baseline


def test_the_interface_outage_stands_out_in_its_own_row(result):
    stamps, eth0 = result.group_rates["net eth0"]
    inc = next(i for i in result.generated.incidents if i.kind == "network-drop")
    first, last = inc.times(result.generated.t0)
    # Rows are stamped at the end of their minute; the outage is seen at its edges (the features are
    # differences), the end's until the windows refill: up to two minutes after it.
    outage = (stamps > first) & (stamps <= last + 120)
    quiet = stamps > result.times[result.first_trained] + 60
    for other in result.generated.incidents:
        a, b = other.times(result.generated.t0)
        quiet &= ~((stamps > a) & (stamps <= b + 120))
    assert eth0[outage].max() >= 2 * max(np.percentile(eth0[quiet], 95), 0.5)
    # The old group row would have averaged the outage with every other network chart.
    assert "network" not in result.group_rates


def test_report_lists_events_and_incidents(result):
    text = demo.format_report(result)
    assert f"anomaly events ({len(result.events)})" in text
    assert "clamp=False" in text and "1/4 of the data" in text
    for o in result.outcomes:
        assert o.incident.description in text
    assert f"{result.caught} of 5 incidents caught by an event" in text
    assert text.count("CAUGHT by event") == result.caught


# ---------------------------------------------------------------------------- PNG and command line


def test_png_report(result, tmp_path):
    from pyml.plot import plot_demo

    path = plot_demo(result, tmp_path / "sub" / "demo.png")
    width, height = _png_size(path.read_bytes())
    assert width > 800 and height > 400
    with pytest.raises(ValueError, match="png"):
        plot_demo(result, tmp_path / "demo.svg")


def test_png_draws_events_in_their_own_lane(result, tmp_path, monkeypatch):
    import matplotlib.figure

    from pyml.plot import HEAT_FULL_SCALE, plot_demo

    figures = []
    real_savefig = matplotlib.figure.Figure.savefig

    def spy(fig, *args, **kwargs):
        figures.append(fig)
        return real_savefig(fig, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", spy)
    plot_demo(result, tmp_path / "demo.png")
    (fig,) = figures
    rate, lane, strip = fig.axes[:3]
    # The rate axis holds rates only: no event bars drawn as lines at some height on it.
    assert not [line for line in rate.get_lines() if "event" in str(line.get_label())]
    red = [p for p in lane.patches if p.get_facecolor()[:3] == pytest.approx((0xc0 / 255, 0x39 / 255, 0x2b / 255))]
    assert len(red) == len(result.events) and lane.get_yticks().size == 0
    assert f"{len(result.events)} events" in lane.get_ylabel()
    assert [t.get_text() for t in strip.get_yticklabels()] == list(result.group_rates)
    assert strip.collections[0].norm.vmax == HEAT_FULL_SCALE


def test_cli_demo_default_report_lands_in_the_current_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--dims", str(DIMS), "--hours", str(HOURS), "--seed", str(SEED)]) == 0
    printed = capsys.readouterr().out
    assert f"report: {tmp_path.resolve() / 'demo.png'}" in printed.splitlines()
    _png_size((tmp_path / "demo.png").read_bytes())


def test_cli_demo_writes_the_png_and_exits_0(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert main(["demo", "--dims", str(DIMS), "--hours", str(HOURS), "--seed", str(SEED), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "injected incidents:" in printed and "incidents caught" in printed
    assert f"report: {out.resolve()}" in printed
    _png_size(out.read_bytes())


def test_cli_demo_profile_option(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--dims", str(DIMS), "--hours", "1", "--no-plot", "--profile", "netdata-1.33"]) == 0
    assert "profile netdata-1.33, lab-sized" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["demo", "--profile", "netdata-3"])
    assert "netdata-3" in capsys.readouterr().err


def test_cli_demo_without_plot_and_bad_arguments(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--dims", str(DIMS), "--hours", "1", "--no-plot"]) == 0
    assert "report:" not in capsys.readouterr().out and not list(tmp_path.iterdir())
    assert main(["demo", "--dims", "10", "--no-plot"]) == 2
    assert "dims must be at least" in capsys.readouterr().err
    assert main(["demo", "--out", "demo.jpg"]) == 2
    assert ".png" in capsys.readouterr().err
