"""The fast replay path (ReplayTicker) gives the per-tick path's results: bits, scores, trainings, events, event info.

Each replay runs twice, through ``Host.collect_all`` + ``Host.train_due``
(``per_tick=True``) and through :class:`pyml.engine.replay_ticker.ReplayTicker`
(the default), under every profile, on the committed slice of host case A and
on NAB-like series with gaps, repeated timestamps and missing values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pyml import MLConfig
from pyml.engine.host import Host
from pyml.engine.replay_ticker import ReplayTicker
from pyml.lab.formats import Recording, read_recording
from pyml.lab.hostcase import read_case
from pyml.lab.hostcase.format import HostCase
from pyml.lab.hostcase.replay import CaseReplay, replay_case
from pyml.lab.replay import ReplayResult, replay

DATA = Path(__file__).parent / "data"
PROFILES = ("netdata-1.33", "netdata-2", "pyml")


@pytest.fixture(scope="module")
def case_a() -> HostCase:
    return read_case(DATA / "hostcases" / "caseA-slice")


def _same_case(slow: CaseReplay, fast: CaseReplay) -> None:
    np.testing.assert_array_equal(fast.bits, slow.bits)
    assert fast.trainings == slow.trainings
    assert fast.events == slow.events  # bounds and info: dimension ids with their rates, exactly
    np.testing.assert_array_equal(fast.modelled, slow.modelled)
    assert fast.max_points == slow.max_points and fast.models_per_dimension == slow.models_per_dimension


@pytest.mark.parametrize("profile", PROFILES)
def test_host_case_fast_path_equals_the_per_tick_path(case_a: HostCase, profile: str) -> None:
    slow = replay_case(case_a, profile=profile, progress=False, per_tick=True)
    fast = replay_case(case_a, profile=profile, progress=False)
    _same_case(slow, fast)
    # the comparison is about something: models trained again and again, bits set, events with dimensions
    assert sum(len(t) for t in slow.trainings) > 2 * case_a.values.shape[1]
    assert slow.bits.sum() > 100
    assert slow.events and all(e.dimensions for e in slow.events)


def _nab_like(seed: int) -> Recording:
    """Three series at 300 s on a NAB file's clock: gaps short and long, repeated rows, NaN, inf, spikes."""
    real = read_recording(DATA / "nab" / "data" / "realKnownCause" / "rogue_agent_key_hold.csv")
    n = real.values.shape[0]
    rng = np.random.default_rng(seed)
    stamps = real.timestamps.astype("datetime64[s]").astype(np.int64)
    t = np.arange(n)
    sine = 50 + 10 * np.sin(t * 2 * np.pi / 96) + rng.normal(0, 0.5, n)
    for at in (700, 1200, 1650):
        sine[at:at + 4] += 90
    steps = np.where(t % 200 < 100, 1.0, 5.0) + rng.normal(0, 0.05, n)
    steps[rng.random(n) < 0.03] = np.nan
    steps[[333, 1111]] = np.inf      # stored saturated, a gap for the model
    steps[1500] = -2e21              # beyond the storage word's range: the same
    values = np.column_stack([real.values[:, 0], sine, steps])
    keep = np.ones(n, dtype=bool)
    keep[400:406] = False            # a short gap
    keep[900:1500:37] = False        # scattered missing rows
    keep[1300:1310] = False
    stamps = stamps.copy()
    stamps[1000:1400] += 3_000_000   # a jump longer than any window: the replay feeds it only up to its cap
    stamps[1400:] += 3_000_000
    rows = np.flatnonzero(keep)
    repeat = rows[rows % 250 == 17]  # rows sent twice (merged into the tick before)
    order = np.sort(np.concatenate([rows, repeat]))
    return Recording(f"nab-like-{seed}", stamps[order].astype("datetime64[s]"), ["value", "sine", "steps"],
                     values[order])


def _same_replay(slow: ReplayResult, fast: ReplayResult) -> None:
    np.testing.assert_array_equal(fast.scores, slow.scores)
    np.testing.assert_array_equal(fast.bits, slow.bits)
    assert fast.events == slow.events
    assert (fast.ticks, fast.gap_ticks, fast.merged_rows, fast.trainings) == \
        (slow.ticks, slow.gap_ticks, slow.merged_rows, slow.trainings)


@pytest.mark.parametrize("profile", PROFILES)
def test_nab_like_fast_path_equals_the_per_tick_path(profile: str) -> None:
    rec = _nab_like(5)
    slow = replay(rec, profile=profile, progress=False, per_tick=True)
    fast = replay(rec, profile=profile, progress=False)
    _same_replay(slow, fast)
    assert slow.gap_ticks > 10_000 and slow.merged_rows > 0 and slow.trainings >= 9
    assert slow.bits.any() and (slow.scores > 0).any()


@pytest.mark.parametrize("profile", PROFILES)
def test_nab_file_fast_path_equals_the_per_tick_path(profile: str) -> None:
    path = DATA / "nab" / "data" / "realKnownCause" / "rogue_agent_key_hold.csv"
    _same_replay(replay(path, profile=profile, progress=False, per_tick=True),
                 replay(path, profile=profile, progress=False))


def test_peaks_formulation_fast_path_equals_the_per_tick_path() -> None:
    rec = _nab_like(11)
    slow = replay(rec, formulation="peaks", progress=False, per_tick=True)
    fast = replay(rec, formulation="peaks", progress=False)
    assert slow.config.score_peak_window > 0
    _same_replay(slow, fast)


def test_the_events_of_a_fast_replay_are_the_hosts() -> None:
    """Events reach the host's database (bounds and info) as in the per-tick path."""
    cfg = MLConfig(profile="netdata-1.33", min_train_samples=60, max_train_samples=120, train_every=60,
                   min_window_size=5, max_window_size=20, clamp=False)
    rng = np.random.default_rng(1)
    x = 10 + rng.normal(0, 1, (600, 4))
    x[300:330] += 50
    found = []
    for fast in (False, True):
        host = Host("h", cfg, background=False, tiers=())
        host.add_chart("system.test", ["a", "b", "c", "d"])
        ticker = ReplayTicker(host) if fast else None
        for i, row in enumerate(x):
            if ticker is not None:
                ticker.tick(1000 + i, row)
            else:
                host.collect_all(1000 + i, row)
                host.train_due()
        events = host.anomaly_events(0, 2_000_000)
        found.append([(e, host.anomaly_event_info(*e)) for e in events])
        host.close()
    assert found[0] and found[1] == found[0]


def test_a_ticker_needs_a_fresh_synchronous_host_and_checks_its_input() -> None:
    cfg = MLConfig(profile="netdata-1.33")
    with pytest.raises(TypeError, match="pyml Host"):
        ReplayTicker("host")  # type: ignore[arg-type]
    background = Host("bg", cfg, background=True, tiers=())
    try:
        with pytest.raises(ValueError, match="background=False"):
            ReplayTicker(background)
    finally:
        background.close()
    with Host("used", cfg, background=False, tiers=()) as used:
        used.add_chart("c", ["a"])
        used.collect_all(100, [1.0])
        with pytest.raises(ValueError, match="already holds ticks"):
            ReplayTicker(used)
    with Host("off", MLConfig(profile="netdata-1.33", enabled=False), background=False, tiers=()) as off:
        with pytest.raises(ValueError, match="ML off"):
            ReplayTicker(off)
    with Host("h", cfg, background=False, tiers=()) as host:
        host.add_chart("c", ["a", "b"])
        ticker = ReplayTicker(host, want_scores=True)
        assert ticker.dimension_ids == ["c|a", "c|b"]
        with pytest.raises(ValueError, match=r"shape \(2,\).*shape \(3,\)"):
            ticker.tick(100, np.zeros(3))
        with pytest.raises(ValueError, match="float64"):
            ticker.tick(100, np.zeros(2, dtype=np.float32))
        with pytest.raises(ValueError, match="-5"):
            ticker.tick(-5, np.zeros(2))
        with pytest.raises(ValueError, match="1.5"):
            ticker.tick(1.5, np.zeros(2))  # type: ignore[arg-type]
        scores, bits, report = ticker.tick(100, np.array([1.0, np.nan]))
        assert scores is not None and scores.shape == (2,) and bits.tolist() == [False, False]
        assert report.trained == []
        with pytest.raises(ValueError, match="t = 100 is not after the last tick 100"):
            ticker.tick(100, np.zeros(2))


def test_the_dynamic_chart_given_as_names_and_values_reads_as_pairs() -> None:
    from pyml.engine.host_level import HostTickOutput

    given = HostTickOutput(row=[], dynamic_names=("a", "b"), dynamic_values=np.array([1.25, 0.0]))
    assert given.dynamic_pairs() == [("a", 1.25), ("b", 0.0)]
    assert all(type(v) is float for _, v in given.dynamic_pairs())
    assert HostTickOutput(row=[], dynamic_names=["x"], dynamic_values=[3]).dynamic_pairs() == [("x", 3.0)]
    assert HostTickOutput(row=[], dynamic=[("c", 2.0)]).dynamic_pairs() == [("c", 2.0)]
    assert HostTickOutput(row=[]).dynamic_pairs() == []
