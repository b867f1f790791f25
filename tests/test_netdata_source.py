"""Netdata sources against a simulated Netdata agent over real loopback HTTP.

The simulator (:mod:`pyml.sources.netdata_sim`) answers like Netdata 1.37 and
knows every value it ever served, so each test checks the mirror second by
second: every second stored once, values equal, gaps where the source had
nothing. Most tests drive one source by hand on a fake clock (no sleeping);
the agent tests run the real loops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pyml
from pyml import core
from pyml.agent import Agent
from pyml.sources._http import HttpError
from pyml.sources._loop import event_loop_factory
from pyml.sources.netdata import (CatchUpLimit, HostnameConflict, NetdataSource, SourceError, SourceGroup,
                                  StopSignal)
from pyml.sources.netdata_sim import SimChart, SimulatedNetdata

T0 = 1_800_000_000


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Provider:
    """A HostProvider holding in-memory hosts (the agent's job, without the agent)."""

    def __init__(self, config: pyml.MLConfig | None = None) -> None:
        self.config = config or pyml.MLConfig(enabled=False)
        self.hosts: dict[str, pyml.Host] = {}
        self.owners: dict[str, Any] = {}

    def claim(self, hostname: str, source: Any, update_every: int) -> pyml.Host:
        if hostname in self.owners and self.owners[hostname] is not source:
            raise HostnameConflict(f"hostname {hostname!r} is held by {self.owners[hostname].url}")
        if hostname not in self.hosts:
            self.hosts[hostname] = pyml.Host(hostname, self.config, update_every=update_every, background=False,
                                             history=4000)
            self.owners[hostname] = source
        return self.hosts[hostname]

    def release(self, hostname: str, source: Any) -> None:
        self.owners.pop(hostname, None)

    def close(self) -> None:
        for h in self.hosts.values():
            h.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + 0.5)


@pytest.fixture
def sim(clock: Clock) -> Any:
    s = SimulatedNetdata("sim-a", charts=4, dims_per_chart=3, clock=clock).start()
    yield s
    s.stop()


@pytest.fixture
def provider() -> Any:
    p = Provider()
    yield p
    p.close()


def stored(host: pyml.Host, chart: str, dims: list[str], after: int, before: int) -> dict[int, list[float | None]]:
    """Second -> values the host stored for those dimensions (seconds without any value left out)."""
    times, words = host.read_words([f"{chart}|{d}" for d in dims], after, before)
    values, _, exists = core.unpack(words.reshape(-1))
    values = values.reshape(words.shape)
    exists = exists.reshape(words.shape)
    out = {}
    for j, t in enumerate(times):
        if exists[:, j].any():
            out[int(t)] = [float(values[i, j]) if exists[i, j] else None for i in range(len(dims))]
    return out


def expected(chart: str, dims: list[str], t: int) -> list[float]:
    return [float(core.unpack(core.pack(np.array([SimulatedNetdata.value(chart, d, t)])))[0][0]) for d in dims]


def drive(source: NetdataSource, clock: Clock, steps: list[Any]) -> None:
    """Run connect/poll steps on one event loop; a number advances the clock by that many seconds."""

    async def main() -> None:
        try:
            for step in steps:
                if isinstance(step, (int, float)):
                    clock.t += step
                else:
                    await step()
        finally:
            source.http.close()

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:  # the loop a source group runs
        runner.run(main())


def test_charts_are_mirrored_with_ids_names_and_metadata(sim: SimulatedNetdata, provider: Provider,
                                                          clock: Clock) -> None:
    sim.charts["sim.c1"].update_every = 2
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60)
    drive(source, clock, [source.connect])
    host = provider.hosts["sim-a"]
    assert source.hostname == "sim-a"
    assert [c.id for c in host.charts() if not c.internal] == ["sim.c0", "sim.c1", "sim.c2", "sim.c3"]
    chart = host.chart("sim.c0")
    assert chart.dimensions == ["d0", "d1", "d2"]
    assert chart.dimension_names == {"d1": "name_d1"}   # ids are the host's dimensions, names kept for display
    assert (chart.title, chart.units, chart.family, chart.priority) == ("simulated sim.c0", "value", "sim", 1000)
    assert source._charts["sim.c1"].update_every == 2


def test_a_chart_slower_than_its_host_is_stored_at_its_seconds_and_not_modelled(sim: SimulatedNetdata,
                                                                                clock: Clock, tmp_path: Path) -> None:
    from pyml.api.documents import charts_document

    sim.charts["sim.c1"].update_every = 2
    provider = Provider(lab())
    try:
        source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60)
        drive(source, clock, [source.connect, source.poll] + [1, source.poll] * 6)
        host = provider.hosts["sim-a"]
        assert (host.chart("sim.c1").update_every, host.chart("sim.c0").update_every) == (2, 1)
        assert not host.chart("sim.c1").modelled and host.chart("sim.c0").modelled    # as Netdata v1.33
        assert charts_document(host)["charts"]["sim.c1"]["update_every"] == 2
        got = stored(host, "sim.c1", ["d0"], T0 - 10, T0 + 10)
        assert sorted(got) and all(t % 2 == 0 for t in got)
        assert [v[0] for v in got.values()] == [expected("sim.c1", ["d0"], t)[0] for t in got]
    finally:
        provider.close()
    # both kept across a restart of the host
    cfg = lab()
    h = pyml.Host("h", cfg, storage_dir=tmp_path, background=False)
    h.add_chart("slow", ["a"], update_every=5, dimension_names={"a": "alpha"})
    h.add_chart("fast", ["a"])
    h.collect_all(T0, [1.0, 2.0])
    h.close()
    h = pyml.Host("h", cfg, storage_dir=tmp_path, background=False)
    try:
        assert (h.chart("slow").update_every, h.chart("slow").modelled) == (5, False)
        assert h.chart("slow").dimension_names == {"a": "alpha"}             # display names kept too
        assert (h.chart("fast").update_every, h.chart("fast").modelled) == (0, True)
        with pytest.raises(ValueError, match="update_every"):
            h.add_chart("bad", ["a"], update_every=-1)
    finally:
        h.close()


def test_every_second_is_stored_once_with_the_sources_values(sim: SimulatedNetdata, provider: Provider,
                                                             clock: Clock) -> None:
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60)
    drive(source, clock, [source.connect, source.poll] + [1, source.poll] * 20)
    host = provider.hosts["sim-a"]
    got = stored(host, "sim.c2", ["d0", "d1", "d2"], T0 - 100, T0 + 100)
    newest = sim.newest()
    # the first poll takes the newest second; the last one waits for nothing (every chart keeps up)
    assert sorted(got) == list(range(T0 - 1, newest + 1))
    for t, values in got.items():
        assert values == expected("sim.c2", ["d0", "d1", "d2"], t), t
    assert source.stats.catch_up_requests == 0 and source.stats.dropped == 0
    assert source.stats.bulk == 20                             # every poll after the first, in bulk
    assert host.last_time == newest


def test_a_source_collecting_every_2_s_is_pulled_every_2_s(provider: Provider, clock: Clock) -> None:
    slow = SimulatedNetdata("sim-2s", charts=3, dims_per_chart=2, clock=clock, update_every=2).start()
    try:
        source = NetdataSource(slow.url, provider, clock=clock, catch_up_budget=60, poll_offset=0.5)
        drive(source, clock, [source.connect, source.poll] + [2, source.poll] * 6)
        host = provider.hosts["sim-2s"]
        assert host.update_every == 2 and source.update_every == 2
        clock.t = T0 + 0.2
        assert source._next_poll_in() == pytest.approx(0.8)       # half-way through the 2 s period
        got = stored(host, "sim.c1", ["d0", "d1"], T0 - 10, T0 + 20)
        assert len(got) == 7 and all(t % 2 == 0 for t in got)
        assert sorted(got) == list(range(min(got), max(got) + 1, 2))           # every period, none lost
        for t, values in got.items():
            assert values == expected("sim.c1", ["d0", "d1"], t)
        assert source.stats.catch_up_requests == 0
    finally:
        slow.stop()


def test_a_new_hosts_charts_start_at_the_same_second(sim: SimulatedNetdata, provider: Provider,
                                                      clock: Clock) -> None:
    sim.started = T0 - 20
    for c in sim.charts.values():
        c.created = T0 - 20
    sim.stale["sim.c2"] = 3                  # 3 s behind the others (collected late)
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60)
    drive(source, clock, [source.connect, source.poll, 1, source.poll])
    host = provider.hosts["sim-a"]
    assert host.last_time == T0 - 3         # waiting for sim.c2, which keeps up 3 s late
    for chart in ("sim.c0", "sim.c1", "sim.c2", "sim.c3"):  # the others read back to sim.c2's first second
        got = stored(host, chart, ["d0", "d1"], T0 - 10, T0 + 10)
        assert sorted(got) == [T0 - 4, T0 - 3], chart
        for t, values in got.items():
            assert values == expected(chart, ["d0", "d1"], t)


def test_polling_twice_in_a_second_counts_nothing_twice(sim: SimulatedNetdata, provider: Provider,
                                                        clock: Clock) -> None:
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60)
    drive(source, clock, [source.connect, source.poll, source.poll, 0.3, source.poll, 0.7, source.poll, source.poll])
    host = provider.hosts["sim-a"]
    assert sorted(stored(host, "sim.c0", ["d0"], T0 - 10, T0 + 10)) == [T0 - 1, T0]
    assert source.stats.values == 2 * 4


def test_missed_polls_are_caught_up_from_the_data_endpoint(sim: SimulatedNetdata, provider: Provider,
                                                           clock: Clock) -> None:
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60)
    drive(source, clock, [source.connect, source.poll, 1, source.poll, 7, source.poll, 1, source.poll])
    host = provider.hosts["sim-a"]
    got = stored(host, "sim.c3", ["d0", "d1", "d2"], T0 - 10, T0 + 20)
    assert sorted(got) == list(range(T0 - 1, T0 + 9))          # the 6 missed seconds are there
    for t, values in got.items():
        assert values == expected("sim.c3", ["d0", "d1", "d2"], t)
    assert source.stats.catch_up_requests == 4                 # one per chart, once
    assert source.stats.caught_up >= 4 * 6


def test_catch_ups_over_the_budget_are_left_to_the_next_polls(sim: SimulatedNetdata, provider: Provider,
                                                              clock: Clock) -> None:
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=1e-9)   # one catch-up per poll
    drive(source, clock, [source.connect, source.poll, 5, source.poll] + [1, source.poll] * 4)
    assert source.stats.catch_up_deferred == 3 + 2 + 1
    for chart in ("sim.c0", "sim.c1", "sim.c2", "sim.c3"):
        got = stored(provider.hosts["sim-a"], chart, ["d0", "d2"], T0 - 10, T0 + 20)
        assert sorted(got) == list(range(T0 - 1, T0 + 9)), chart      # every second, none lost
        for t, values in got.items():
            assert values == expected(chart, ["d0", "d2"], t)


def test_sources_share_a_limit_of_catch_up_requests(sim: SimulatedNetdata, provider: Provider,
                                                    clock: Clock) -> None:
    t = [0.0]
    limit = CatchUpLimit(4, clock=lambda: t[0], floor=1, recover=10)
    for _ in range(4):
        assert limit.available()
        limit.take()
    assert not limit.available()             # a second's worth at once
    t[0] += 0.2
    assert not limit.available()             # 0.8 of a request back
    t[0] += 0.1
    assert limit.available()
    # polls come first: a late poll halves the rate (once a second), polls on time bring it back
    limit.observe(0.5)
    limit.observe(0.5)
    assert limit.rate == 2
    t[0] += 1.0
    limit.observe(0.5)
    limit.observe(0.9)
    assert limit.rate == 1                   # not below the floor
    t[0] += 5.0
    limit.observe(0.0)
    assert limit.rate == pytest.approx(3.0)  # 4 per 10 s of polls on time
    t[0] += 10.0
    limit.observe(0.01)
    assert limit.rate == 4
    with pytest.raises(ValueError, match="per_second"):
        CatchUpLimit(0)
    with pytest.raises(ValueError, match="floor"):
        CatchUpLimit(10, floor=20)
    # a source whose group allows one request a second catches up one chart per poll, and loses nothing
    one = CatchUpLimit(1, clock=lambda: t[0], floor=1)
    one.take()

    def tick(seconds: int) -> list[Any]:
        async def advance() -> None:
            t[0] += seconds
        return [seconds, advance]

    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60, shared_budget=one)
    drive(source, clock, [source.connect, source.poll] + tick(5) + [source.poll]
          + sum((tick(1) + [source.poll] for _ in range(4)), []))
    assert source.stats.catch_up_deferred == 3 + 2 + 1
    for chart in ("sim.c0", "sim.c3"):
        got = stored(provider.hosts["sim-a"], chart, ["d0", "d2"], T0 - 10, T0 + 20)
        assert sorted(got) == list(range(T0 - 1, T0 + 9)), chart
    group = SourceGroup([source, NetdataSource("http://127.0.0.1:1", provider)])
    assert source.shared_budget is one and group.sources[1].shared_budget is group.limit   # its own, or the group's


def test_a_catch_up_put_off_too_long_is_given_up(sim: SimulatedNetdata, provider: Provider, clock: Clock,
                                                 caplog: Any) -> None:
    none = CatchUpLimit(1, clock=lambda: 0.0, floor=1)       # a group with no catch-ups to give, ever
    none.take()
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60, shared_budget=none,
                           catch_up_wait=8, lag=2)
    drive(source, clock, [source.connect, source.poll, 3, source.poll] + [1, source.poll] * 4)
    host = provider.hosts["sim-a"]
    assert host.last_time == T0 - 1                          # held back, waiting for the missed seconds
    drive(source, clock, [1, source.poll] * 4)
    assert host.last_time == T0 + 10                         # after 8 s the charts go on without them
    got = stored(host, "sim.c0", ["d0"], T0 - 10, T0 + 20)
    assert sorted(got) == [T0 - 1, T0 + 8, T0 + 9, T0 + 10]  # the seconds never read back are gaps
    for t, values in got.items():
        assert values == expected("sim.c0", ["d0"], t)
    assert source.stats.given_up == 4 and source.stats.catch_up_requests == 0
    errors = [r.message for r in caplog.records if r.levelno >= logging.ERROR]
    assert sum("could not be read back within 8 s" in m for m in errors) == 1   # one line for the 4 charts


def test_a_late_poll_is_followed_at_once_not_skipped(clock: Clock) -> None:
    source = NetdataSource("http://127.0.0.1:1", Provider(), clock=clock, poll_offset=0.5)
    clock.t = T0 + 0.2
    assert source._next_poll_in() == pytest.approx(0.3)
    clock.t = T0 + 1.9                      # the poll due at T0 + 0.5 ran until here
    assert source._next_poll_in() == 0.0    # the one due at T0 + 1.5: at once
    clock.t = T0 + 2.0
    assert source._next_poll_in() == pytest.approx(0.5)
    clock.t = T0 + 9.1                      # far behind: a new schedule
    assert source._next_poll_in() == pytest.approx(0.4)


def test_seconds_the_source_lost_stay_gaps(sim: SimulatedNetdata, provider: Provider, clock: Clock) -> None:
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60)
    sim.holes.update({T0 + 2, T0 + 3})
    drive(source, clock, [source.connect, source.poll, 6, source.poll, 1, source.poll])
    got = stored(provider.hosts["sim-a"], "sim.c0", ["d0"], T0 - 10, T0 + 20)
    assert sorted(got) == [T0 - 1, T0 + 0, T0 + 1, T0 + 4, T0 + 5, T0 + 6]


def test_outage_and_restart_of_the_source_leave_a_gap_and_no_duplicate(sim: SimulatedNetdata, provider: Provider,
                                                                       clock: Clock, caplog: Any) -> None:
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60, backoff=(0.01, 0.02))
    port = sim.port

    async def down() -> None:
        sim.stop()
        with pytest.raises(HttpError, match="20|Connect|refused"):
            await source.poll()

    async def restarted() -> None:
        sim.restart()                   # the history is gone, as with [db] mode = ram
        sim._port = port
        sim.start()
        await source.connect()
        await source.poll()

    drive(source, clock, [source.connect, source.poll] + [1, source.poll] * 3 + [down, 10, restarted]
          + [1, source.poll] * 3)
    host = provider.hosts["sim-a"]
    got = stored(host, "sim.c1", ["d0", "d1", "d2"], T0 - 10, T0 + 40)
    seconds = sorted(got)
    assert seconds[:4] == list(range(T0 - 1, T0 + 3))
    assert seconds[4:] == list(range(T0 + 12, T0 + 16))       # the outage is a gap: the source lost it
    assert len(seconds) == len(set(seconds))
    for t, values in got.items():
        assert values == expected("sim.c1", ["d0", "d1", "d2"], t)
    assert source.stats.reconnects == 1


def test_a_source_still_holding_the_outage_is_caught_up(sim: SimulatedNetdata, provider: Provider,
                                                        clock: Clock) -> None:
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60)
    port = sim.port

    async def down() -> None:
        sim.stop()
        with pytest.raises(HttpError):
            await source.poll()

    async def back() -> None:
        sim._port = port
        sim.start()
        await source.connect()
        await source.poll()

    drive(source, clock, [source.connect, source.poll, 1, source.poll, down, 15, back, 1, source.poll])
    got = stored(provider.hosts["sim-a"], "sim.c0", ["d0", "d1"], T0 - 10, T0 + 40)
    assert sorted(got) == list(range(T0 - 1, T0 + 17))


def test_charts_that_appear_and_vanish_are_followed(sim: SimulatedNetdata, provider: Provider, clock: Clock,
                                                    caplog: Any) -> None:
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60)

    async def change() -> None:
        sim.add_chart(SimChart("new.chart", ["a", "b"], {"b": "bee"}))
        sim.remove_chart("sim.c3")

    caplog.set_level(logging.INFO, logger="pyml.sources.netdata")
    drive(source, clock, [source.connect, source.poll, 1, change, source.poll] + [1, source.poll] * 4)
    host = provider.hosts["sim-a"]
    ids = [c.id for c in host.charts() if not c.internal]
    assert "new.chart" in ids and "sim.c3" not in ids
    assert host.chart("new.chart").dimension_names == {"b": "bee"}
    got = stored(host, "new.chart", ["a", "b"], T0 - 10, T0 + 20)
    assert sorted(got) == list(range(T0 + 0, T0 + 5))
    assert any("new chart 'new.chart'" in r.message for r in caplog.records)
    assert any("'sim.c3'" in r.message and "removed" in r.message for r in caplog.records)


def test_a_chart_whose_dimensions_change_is_resynchronised_and_logged(sim: SimulatedNetdata, provider: Provider,
                                                                      clock: Clock, caplog: Any) -> None:
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60)

    async def change() -> None:
        sim.set_dimensions("sim.c0", ["d2", "d0", "x9"])

    drive(source, clock, [source.connect, source.poll, 1, source.poll, 1, change, source.poll, 1, source.poll])
    host = provider.hosts["sim-a"]
    assert sorted(host.chart("sim.c0").dimensions) == ["d0", "d2", "x9"]
    errors = [r.message for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(sim.url in m and "'sim.c0'" in m and "dimensions changed" in m for m in errors)
    got = stored(host, "sim.c0", ["d0", "d2"], T0 - 10, T0 + 10)
    assert sorted(got) == list(range(T0 - 1, T0 + 3))            # d0 and d2 kept their samples
    for t, values in got.items():
        assert values == expected("sim.c0", ["d0", "d2"], t)
    new = stored(host, "sim.c0", ["x9"], T0 - 10, T0 + 10)
    assert sorted(new) == [T0 + 1, T0 + 2]


def test_bad_values_cost_their_dimension_only_and_are_logged(sim: SimulatedNetdata, provider: Provider,
                                                             clock: Clock, caplog: Any) -> None:
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60)

    async def bad() -> None:
        sim.bad_values[("sim.c1", "d0")] = '"n/a"'
        sim.bad_values[("sim.c2", "d1")] = "1" + "0" * 30 + ".0000000"   # beyond the storage word's range
        sim.bad_values[("sim.c3", "d2")] = "-nan"

    drive(source, clock, [source.connect, source.poll, 1, bad, source.poll, 1, source.poll])
    host = provider.hosts["sim-a"]
    t = T0 + 1
    assert stored(host, "sim.c1", ["d0", "d1"], t, t)[t] == [None, expected("sim.c1", ["d1"], t)[0]]
    huge = stored(host, "sim.c2", ["d1"], t, t)[t][0]
    assert huge == pytest.approx(1.6777215e21)                # saturated
    assert stored(host, "sim.c3", ["d2"], t, t) == {}
    assert stored(host, "sim.c0", ["d0"], t, t)[t] == expected("sim.c0", ["d0"], t)
    errors = [r.message for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(sim.url in m and "'sim.c1'" in m and "'d0'" in m and "not a number" in m for m in errors)
    assert any(sim.url in m and "'sim.c2'" in m and "storage range" in m for m in errors)
    assert any(sim.url in m and "'sim.c3'" in m and "-nan" in m for m in errors)
    # logged once per chart and kind, not every second
    assert sum("'sim.c1'" in m for m in errors) == 1


def test_malformed_answers_fail_the_poll_with_the_source_named(sim: SimulatedNetdata, provider: Provider,
                                                               clock: Clock) -> None:
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60)

    async def broken() -> None:
        sim.malformed = True
        with pytest.raises(SourceError, match="allmetrics: not valid JSON"):
            await source.poll()
        sim.malformed = False

    drive(source, clock, [source.connect, source.poll, 1, broken, 1, source.poll])
    got = stored(provider.hosts["sim-a"], "sim.c0", ["d0"], T0 - 10, T0 + 10)
    assert sorted(got) == [T0 - 1, T0, T0 + 1]                 # the failed poll's second was caught up


def test_timestamps_that_jump_are_refused_per_chart(sim: SimulatedNetdata, provider: Provider, clock: Clock,
                                                    caplog: Any) -> None:
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60, max_ahead=60, lag=2)

    async def jump() -> None:
        sim.time_shift["sim.c1"] = -50
        sim.time_shift["sim.c2"] = 100_000

    drive(source, clock, [source.connect, source.poll, 1, source.poll, 1, jump] + [source.poll, 1] * 6)
    host = provider.hosts["sim-a"]
    errors = [r.message for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("'sim.c1'" in m and "backwards" in m for m in errors)
    assert any("'sim.c2'" in m and "after the source's clock" in m for m in errors)
    # the far-future chart did not drag the host along; the two stuck charts are not waited for forever
    assert host.last_time == T0 + 6
    assert sorted(stored(host, "sim.c0", ["d0"], T0 - 10, T0 + 10)) == list(range(T0 - 1, T0 + 7))
    assert sorted(stored(host, "sim.c1", ["d0"], T0 - 10, T0 + 10)) == [T0 - 1, T0]


def test_a_lagging_chart_is_waited_for_then_not(sim: SimulatedNetdata, provider: Provider, clock: Clock) -> None:
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60, lag=2)

    async def lag() -> None:
        sim.stale["sim.c2"] = 1

    drive(source, clock, [source.connect, source.poll, 1, lag, source.poll])
    host = provider.hosts["sim-a"]
    assert host.last_time == T0 - 1                            # waiting for sim.c2's second T0
    drive(source, clock, [1, source.poll])
    assert host.last_time == T0 + 0
    assert sorted(stored(host, "sim.c2", ["d0"], T0 - 10, T0 + 10)) == [T0 - 1, T0]


def test_a_hostname_collision_is_refused(sim: SimulatedNetdata, provider: Provider, clock: Clock) -> None:
    twin = SimulatedNetdata("sim-a", charts=1, dims_per_chart=1, clock=clock).start()
    try:
        first = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60)
        second = NetdataSource(twin.url, provider, clock=clock, catch_up_budget=60)

        async def collide() -> None:
            with pytest.raises(HostnameConflict, match="sim-a"):
                await second.connect()

        drive(first, clock, [first.connect, first.poll, collide, 1, first.poll])
        assert [c.id for c in provider.hosts["sim-a"].charts() if not c.internal] == \
            ["sim.c0", "sim.c1", "sim.c2", "sim.c3"]                # untouched by the twin
    finally:
        twin.stop()


def _scenario(sim: SimulatedNetdata, name: str) -> list[Any]:
    """Steps of a run (numbers advance the clock; callables change the simulator) named ``name``."""
    def do(f: Any) -> Any:
        async def step() -> None:
            f()
        return step

    c2 = sim.charts["sim.c2"]
    return {
        "steady": [1] * 12,
        "missed polls": [1, 1, 6, 1, 3, 1],
        "a lagging chart": [1, do(lambda: sim.stale.update({"sim.c2": 2})), 1, 1, 1,
                            do(lambda: sim.stale.clear()), 1, 1, 1],
        "a chart every 2 s": [do(lambda: setattr(c2, "update_every", 2))] + [1] * 9,
        "timestamps that jump": [1, do(lambda: sim.time_shift.update({"sim.c1": -5, "sim.c3": 10_000})), 1, 1,
                                 do(lambda: sim.time_shift.clear()), 1, 1, 1, 1, 1, 1, 1],
        "bad values": [1, do(lambda: sim.bad_values.update({("sim.c1", "d0"): '"x"', ("sim.c0", "d2"): "1e300"})),
                       1, 1, do(lambda: sim.bad_values.clear()), 1, 1],
        "charts change while seconds wait": [1, do(lambda: sim.stale.update({"sim.c2": 1})), 1,
                                             do(lambda: sim.set_dimensions("sim.c0", ["d1", "d0", "n9"])), 1,
                                             do(lambda: sim.remove_chart("sim.c3")), 1,
                                             do(lambda: sim.add_chart(SimChart("new.c", ["a", "b"]))), 1,
                                             do(lambda: sim.stale.clear())] + [1] * 5,
        # long steady stretches (every chart at one second, taken as one) broken by each kind of change
        "steady between changes": [1] * 4 + [do(lambda: sim.stale.update({"sim.c2": 1}))] + [1] * 3 +
                                  [do(lambda: sim.stale.clear())] + [1] * 3 + [5] + [1] * 3 +
                                  [do(lambda: sim.bad_values.update({("sim.c1", "d0"): "null"}))] + [1] * 3 +
                                  [do(lambda: sim.bad_values.clear())] + [1] * 3 +
                                  [do(lambda: sim.set_dimensions("sim.c0", ["d0", "d1", "d2", "d3"]))] + [1] * 3 +
                                  [do(lambda: setattr(c2, "update_every", 2))] + [1] * 4,
    }[name]


@pytest.mark.parametrize("decoder", ["compiled", "msgspec"])
@pytest.mark.parametrize("name", ["steady", "missed polls", "a lagging chart", "a chart every 2 s",
                                  "timestamps that jump", "bad values", "charts change while seconds wait",
                                  "steady between changes"])
def test_polls_taken_in_bulk_store_what_the_per_chart_way_stores(sim: SimulatedNetdata, clock: Clock,
                                                                 name: str, decoder: str, monkeypatch: Any) -> None:
    import pyml.sources.netdata as netdata_module

    if decoder == "msgspec":  # the bulk way without the compiled decoder: values decoded into structs
        monkeypatch.setattr(netdata_module, "decode_value_arrays", lambda body, keys, decoder=None: None)
    bulk, single = Provider(), Provider()
    try:
        a = NetdataSource(sim.url, bulk, clock=clock, catch_up_budget=60, lag=2)
        b = NetdataSource(sim.url, single, clock=clock, catch_up_budget=60, lag=2)
        b._shape_of = lambda charts: None  # type: ignore[method-assign]  # never in bulk

        async def both() -> None:
            await a.poll()
            await b.poll()

        steps: list[Any] = [a.connect, b.connect, both]
        for step in _scenario(sim, name):
            steps += [step, both] if isinstance(step, (int, float)) else [step]
        drive(a, clock, steps)
        b.http.close()
        assert a.stats.bulk > 0 and b.stats.bulk == 0
        ha, hb = bulk.hosts["sim-a"], single.hosts["sim-a"]
        assert ha.dimension_ids() == hb.dimension_ids() and ha.last_time == hb.last_time
        ids = ha.dimension_ids()
        ta, wa = ha.read_words(ids, T0 - 20, T0 + 60)
        tb, wb = hb.read_words(ids, T0 - 20, T0 + 60)
        assert np.array_equal(ta, tb) and np.array_equal(wa, wb)
        assert (wa != 0).sum() > len(ids) * 5                  # something was stored
        assert (a.stats.dropped, a.stats.caught_up) == (b.stats.dropped, b.stats.caught_up)
    finally:
        bulk.close()
        single.close()


def test_steady_polls_keep_one_second_for_all_charts_and_write_it_back_on_a_change(
        sim: SimulatedNetdata, provider: Provider, clock: Clock) -> None:
    source = NetdataSource(sim.url, provider, clock=clock, catch_up_budget=60, lag=2)
    drive(source, clock, [source.connect, source.poll] + [1, source.poll] * 4)
    host = provider.hosts["sim-a"]
    newest = sim.newest()
    assert source._uniform == newest == host.last_time          # every chart at the newest second, as one
    # the bulk polls after the first one read their answers against the one the source's decoder learned
    assert (source._decoder.compared, source._decoder.scanned, source._decoder.learnings) == (3, 1, 1)
    assert (source.stats.bulk, source.stats.learned) == (4, 3)
    source._leave_uniform()
    assert source._uniform is None and {c.last_t for c in source._charts.values()} == {newest}

    async def lag() -> None:
        sim.stale["sim.c2"] = 1

    drive(source, clock, [1, source.poll, 1, source.poll, lag, 1, source.poll])
    assert source._uniform is None                             # sim.c2 one second behind: per chart
    assert source._charts["sim.c2"].last_t == sim.newest() - 1
    assert source._charts["sim.c0"].last_t == sim.newest()
    got = stored(host, "sim.c2", ["d0", "d1", "d2"], T0 - 10, T0 + 20)
    assert sorted(got) == list(range(T0 - 1, sim.newest()))   # nothing lost, nothing twice
    for t, values in got.items():
        assert values == expected("sim.c2", ["d0", "d1", "d2"], t)


def test_values_alone_decode_as_the_whole_answer_does(sim: SimulatedNetdata) -> None:
    from pyml.sources import _netdata_json as nj

    if nj.msgspec is None:
        pytest.skip("msgspec (the 'fast' extra) is not installed")
    body = sim.answer("/api/v1/allmetrics?format=json")[1]
    whole, problems = nj.parse_allmetrics(body)
    values = nj.decode_values(body)
    assert not problems and values is not None
    assert list(values) == list(whole)
    for chart_id, chart in whole.items():
        assert values[chart_id].last_updated == chart.last_updated
        assert [(d, v.value) for d, v in values[chart_id].dimensions.items()] == \
               [(d, v.value) for d, v in chart.dimensions.items()]
    # what the values alone cannot take is left to the whole decoding, which says what is wrong
    bad = body.replace(b'"value": ', b'"value": "x', 1).replace(b"\n\t\t\t}", b'"\n\t\t\t}', 1)
    assert nj.decode_values(bad) is None and nj.parse_allmetrics(bad)[1]
    assert nj.decode_values(b"{not json") is None
    assert nj.decode_values(body.replace(b'"value": ', b'"value": 1e999', 1)) is None


def test_the_date_header_is_read_as_the_general_parser_reads_it() -> None:
    import email.utils

    from pyml.sources._http import http_date

    for text in ("Mon, 07 Dec 2026 08:47:08 GMT", "Sun, 06 Nov 1994 08:49:37 GMT", "Thu, 29 Feb 2024 23:59:59 GMT",
                 "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"):
        assert http_date(text) == email.utils.parsedate_to_datetime(text).timestamp(), text
    for text in ("Mon, 07 Dec 2026 25:61:08 GMT", "garbage", "Mon, 07 Dec 2026 08:47:0x GMT"):
        assert http_date(text) is None, text


def test_bad_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="only http"):
        NetdataSource("https://x:1", Provider())
    with pytest.raises(ValueError, match="bad port"):
        NetdataSource("http://x:99999", Provider())
    assert NetdataSource("10.1.2.3", Provider()).url == "http://10.1.2.3:19999"


# ---------------------------------------------------------------------- the agent, with real loops


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = r.read()
            return r.status, body
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait(predicate: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def lab(profile: str = "netdata-1.33", **options: Any) -> pyml.MLConfig:
    """Lab-sized training (models within seconds, every chart modelled) in ``profile``'s own keys."""
    if profile == "netdata-1.33":
        sizes = dict(min_train_samples=12, max_train_samples=24, train_every=12)
    else:  # the time-based profiles
        sizes = dict(min_training_window=12, training_window=24, train_every=12)
    return pyml.MLConfig(profile=profile, charts_to_skip="", clamp=False, **sizes, **options)


@pytest.mark.parametrize("profile", ["netdata-1.33", "netdata-2", "pyml"])
def test_agent_serves_every_source_host_and_keeps_them_apart(tmp_path: Path, caplog: Any, profile: str) -> None:
    caplog.set_level(logging.INFO, logger="pyml.sources.netdata")
    a = SimulatedNetdata("node-a", charts=3, dims_per_chart=2).start()
    b = SimulatedNetdata("node-b", charts=2, dims_per_chart=2).start()
    twin = SimulatedNetdata("node-a", charts=1, dims_per_chart=1).start()
    twin.stop()                                               # answers only once node-a is collected from a
    dead = "http://127.0.0.1:1"                               # refuses connections
    cfg = lab(profile, hosts_to_skip="node-b")
    # the sources' event loop: each of the three on one profile (the test extra installs uvloop)
    event_loop = {"netdata-1.33": "asyncio", "netdata-2": "uvloop", "pyml": "auto"}[profile]
    agent = Agent(tmp_path, cfg, port=0, local=False, netdata=[a.url, b.url, twin.url, dead],
                  source_options={"backoff": (0.2, 0.8)}, event_loop=event_loop)
    try:
        assert agent.source_group.event_loop == ("asyncio" if event_loop == "asyncio" else "uvloop")
        assert _wait(lambda: {"node-a", "node-b"} <= set(agent.hosts)
                     and all(h.last_time is not None for h in agent.hosts.values())
                     and all(s.state == "up" for s in agent.sources if s.url in (a.url, b.url)))
        twin.start()
        assert _wait(lambda: agent.hosts["node-a"].ml_info()["trained-dimensions"] > 0, 60)
        assert set(agent.hosts) == {"node-a", "node-b"}
        assert agent.hosts["node-a"].ml_enabled and not agent.hosts["node-b"].ml_enabled   # hosts to skip
        assert {h.config.profile for h in agent.hosts.values()} == {profile}             # the agent's profile
        assert [c.name for c in agent.pool.clients()] == ["node-a"]     # trains on the shared pool (b: skipped)
        for name in ("node-a", "node-b"):                              # each its own storage
            assert (tmp_path / "hosts" / name / "anomaly-detection.db").exists()
        status, body = _get(agent.server.url + "/api/v1/info")
        info = json.loads(body)
        assert status == 200 and set(info["mirrored_hosts"]) == {"node-a", "node-b"}
        # as a Netdata parent lists its children: the same list whichever host is asked, hops 1, reachable
        assert [(s["hostname"], s["hops"], s["reachable"]) for s in info["mirrored_hosts_status"]] == \
            [(name, 1, True) for name in info["mirrored_hosts"]]
        status, body = _get(agent.server.url + "/host/node-b/api/v1/info")
        assert json.loads(body)["mirrored_hosts_status"] == info["mirrored_hosts_status"]
        status, body = _get(agent.server.url + "/host/node-b/api/v1/charts")
        assert status == 200 and set(json.loads(body)["charts"]) == {"sim.c0", "sim.c1"}
        status, body = _get(agent.server.url + "/host/node-a/api/v1/data?chart=sim.c2&after=-3&points=0"
                                                "&options=seconds")
        assert status == 200, body
        rows = json.loads(body)["data"]
        assert rows
        for row in rows:
            if row[1] is not None:
                assert row[1] == expected("sim.c2", ["d0"], row[0])[0]
        status, body = _get(agent.server.url + "/metrics")
        text = body.decode()
        assert 'host="node-a"' in text and 'host="node-b"' in text
        by_url = {s.url: s for s in agent.sources}
        assert _wait(lambda: by_url[twin.url].state == "conflict") and by_url[dead].state == "down"
        assert _wait(lambda: by_url[dead].stats.failures >= 2, 10)   # retried (after 1 s: the first backoff)
        assert by_url[dead].stats.failures <= 40                       # ... with backoff, not in a loop
        errors = [r.message for r in caplog.records if r.levelno >= logging.ERROR]
        assert sum(dead in m for m in errors) == 1             # logged once, not per retry
        assert any(twin.url in m and a.url in m and "node-a" in m for m in errors)
        b.stop()                                                # node-b's source goes down: not reachable
        assert _wait(lambda: by_url[b.url].state == "down")
        status, body = _get(agent.server.url + "/api/v1/info")
        reachable = {s["hostname"]: s["reachable"] for s in json.loads(body)["mirrored_hosts_status"]}
        assert reachable == {"node-a": True, "node-b": False}
    finally:
        agent.close()
        for s in (a, b, twin):
            s.stop()


def test_a_source_named_as_this_machine_is_refused(tmp_path: Path, caplog: Any) -> None:
    from pyml.sources import ProcCollector

    proc = Path(__file__).parent / "data" / "proc"
    twin = SimulatedNetdata("node-z", charts=1, dims_per_chart=1).start()
    agent = Agent(tmp_path, lab(), hostname="node-z", port=None, netdata=[twin.url],
                  collector=ProcCollector(proc / "t0", sys_root=proc / "sys"), source_options={"backoff": (0.2, 0.4)})
    try:
        assert _wait(lambda: agent.sources[0].state == "conflict")
        assert list(agent.hosts) == ["node-z"] and agent.hosts["node-z"] is agent.host     # this machine's, untouched
        assert agent.host.charts() and "sim.c0" not in {c.id for c in agent.host.charts()}
        errors = [r.message for r in caplog.records if r.levelno >= logging.ERROR]
        assert any(twin.url in m and "this machine's own host" in m and "'node-z'" in m for m in errors), errors
    finally:
        agent.close()
        twin.stop()


def test_agent_restart_catches_up_from_the_source(tmp_path: Path) -> None:
    sim = SimulatedNetdata("node-r", charts=2, dims_per_chart=2).start()
    try:
        agent = Agent(tmp_path, pyml.MLConfig(enabled=False), port=None, local=False, netdata=[sim.url])
        assert _wait(lambda: "node-r" in agent.hosts and (agent.hosts["node-r"].last_time or 0) > 0)
        first = agent.hosts["node-r"].last_time
        assert _wait(lambda: agent.hosts["node-r"].last_time >= first + 2)
        agent.close()
        stopped_at = sim.newest()
        time.sleep(3.2)
        agent = Agent(tmp_path, pyml.MLConfig(enabled=False), port=None, local=False, netdata=[sim.url])
        try:
            assert _wait(lambda: "node-r" in agent.hosts
                         and (agent.hosts["node-r"].last_time or 0) >= stopped_at + 3)
            host = agent.hosts["node-r"]
            got = stored(host, "sim.c1", ["d0", "d1"], first, stopped_at + 3)
            assert sorted(got) == list(range(first, stopped_at + 4))  # no gap across pyml's restart
            for t, values in got.items():
                assert values == expected("sim.c1", ["d0", "d1"], t)
        finally:
            agent.close()
    finally:
        sim.stop()


def test_agent_without_sources_or_local_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one Netdata source"):
        Agent(tmp_path, port=None, local=False)


def test_cli_agent_parses_netdata_options() -> None:
    from pyml.cli import build_parser

    args = build_parser().parse_args(["agent", "--netdata", "http://a:19999", "--netdata", "b:1", "--no-local",
                                      "--training-threads", "3"])
    assert args.netdata == ["http://a:19999", "b:1"] and args.no_local and args.training_threads == 3


def test_the_stdlib_fallback_decodes_as_msgspec_does(monkeypatch: Any, sim: SimulatedNetdata) -> None:
    import importlib
    import sys

    from pyml.sources import _netdata_json as fast

    body = sim.answer("/api/v1/allmetrics?format=json")[1]
    bad = body.replace(b'"value": ', b'"value": "x', 1).replace(b"\n\t\t\t}", b'"\n\t\t\t}', 1)
    monkeypatch.setitem(sys.modules, "msgspec", None)
    slow = importlib.import_module("pyml.sources._netdata_json")
    slow = importlib.reload(slow)
    try:
        assert slow.BACKEND == "json"
        for doc in (body, bad):
            a, pa = fast.parse_allmetrics(doc)
            b, pb = slow.parse_allmetrics(doc)
            assert {k: (c.last_updated, {d: (v.name, v.value) for d, v in c.dimensions.items()})
                    for k, c in a.items()} == \
                   {k: (c.last_updated, {d: (v.name, v.value) for d, v in c.dimensions.items()})
                    for k, c in b.items()}
            assert [(p.chart, p.message) for p in pa] == [(p.chart, p.message) for p in pb]
        assert pb and pb[0].chart == "sim.c0" and "not a number" in pb[0].message
    finally:
        monkeypatch.delitem(sys.modules, "msgspec")
        importlib.reload(slow)


def test_the_dashboard_switches_between_the_hosts_of_a_parent(tmp_path: Path) -> None:
    import re
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (ci/system_deps.sh installs it)")
    a = SimulatedNetdata("node-x", charts=2, dims_per_chart=2).start()
    b = SimulatedNetdata("node-y", charts=2, dims_per_chart=2).start()
    agent = Agent(tmp_path, lab(), port=0, local=False, netdata=[a.url, b.url])
    try:
        assert _wait(lambda: {"node-x", "node-y"} <= set(agent.hosts))
        page = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=8000",
                               "--dump-dom", agent.server.url + "/?host=node-y"],
                              capture_output=True, text=True, timeout=240)
        assert page.returncode == 0, page.stderr[-2000:]
        pick = re.search(r'<select id="host-pick".*?</select>', page.stdout, re.S)
        assert pick, page.stdout[:3000]
        assert re.findall(r'<option value="([^"]+)"', pick.group(0)) == ["node-x", "node-y"]
        assert re.search(r'<span id="host-name">node-y</span>', page.stdout)
    finally:
        agent.close()
        a.stop()
        b.stop()


def test_cli_refuses_a_bad_netdata_url(tmp_path: Path, capsys: Any) -> None:
    from pyml.cli import main

    assert main(["agent", "--data-dir", str(tmp_path), "--port", "0", "--netdata", "https://x:1"]) == 2
    assert "only http" in capsys.readouterr().err
    assert main(["agent", "--data-dir", str(tmp_path), "--port", "0", "--no-local"]) == 2


def test_the_event_loop_is_chosen_by_name_and_a_bad_name_is_refused(tmp_path: Path, capsys: Any,
                                                                    monkeypatch: Any) -> None:
    from pyml.cli import main
    from pyml.sources._loop import event_loop_factory, resolve_event_loop

    assert resolve_event_loop("auto") == "uvloop" and resolve_event_loop("asyncio") == "asyncio"
    loop = event_loop_factory("uvloop")()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()
    with pytest.raises(ValueError, match="event_loop must be one of auto, asyncio, uvloop; got 'tokio'"):
        SourceGroup([], event_loop="tokio")
    with pytest.raises(ValueError, match="'tokio'"):
        Agent(tmp_path / "x", port=None, local=False, netdata=["http://127.0.0.1:1"], event_loop="tokio")
    assert not (tmp_path / "x").exists()                      # refused before the data directory is made
    monkeypatch.setitem(sys.modules, "uvloop", None)          # as on an installation without the fast extra
    assert resolve_event_loop("auto") == "asyncio" and SourceGroup([]).event_loop == "asyncio"
    with pytest.raises(RuntimeError, match=r"needs the uvloop package \(pip install 'pyml-anomaly\[fast\]'\)"):
        SourceGroup([], event_loop="uvloop")
    assert main(["agent", "--data-dir", str(tmp_path), "--port", "0", "--no-local", "--netdata",
                 "http://127.0.0.1:1", "--event-loop", "uvloop"]) == 1
    assert "needs the uvloop package" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["agent", "--data-dir", str(tmp_path), "--event-loop", "tokio"])


def sim_charts(body: bytes) -> set[str]:
    """The charts of a ``/api/v1/charts`` answer, less pyml's own (``anomaly_detection.*``)."""
    return {c for c in json.loads(body)["charts"] if not c.startswith("anomaly_detection.")}


def _agent_process(tmp_path: Path, *args: str) -> tuple[Any, str, list[str]]:
    """``pyml agent`` with ``args`` in a subprocess: the process, its API's URL and its log lines."""
    import os
    import re
    import subprocess
    import sys
    import threading

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "pyml", "agent", "--port", "0", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    log: list[str] = []
    deadline = time.monotonic() + 30
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        log.append(line)
        found = re.search(r"API on (http://\S+)", line)
        if found:
            threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True).start()  # type: ignore[arg-type]
            return proc, found.group(1), log
    proc.kill()
    raise AssertionError("the agent did not start:\n" + "".join(log))


def _stop(proc: Any) -> int:
    import signal

    proc.send_signal(signal.SIGTERM)
    return int(proc.wait(timeout=60))


def test_the_agent_command_mirrors_netdata_urls_beside_this_machine(tmp_path: Path) -> None:
    a = SimulatedNetdata("node-p", charts=2, dims_per_chart=2).start()
    b = SimulatedNetdata("node-q", charts=3, dims_per_chart=1).start()
    data = tmp_path / "data"
    proc, url, log = _agent_process(tmp_path, "--data-dir", str(data), "--hostname", "me",
                                    "--netdata", a.url, "--netdata", b.url)
    try:
        def hosts() -> list[tuple[str, int, bool]]:
            status, body = _get(url + "/api/v1/info")
            return [(s["hostname"], s["hops"], s["reachable"]) for s in json.loads(body)["mirrored_hosts_status"]]

        assert _wait(lambda: len(hosts()) == 3 and all(reachable for _, _, reachable in hosts()), 60), hosts()
        # this machine's host first (hops 0), then both sources as children
        assert hosts()[0] == ("me", 0, True) and sorted(hosts()[1:]) == [("node-p", 1, True), ("node-q", 1, True)]
        status, body = _get(url + "/host/me/api/v1/charts")
        assert status == 200 and "system.cpu" in json.loads(body)["charts"]
        status, body = _get(url + "/host/node-q/api/v1/charts")
        assert status == 200 and sim_charts(body) == {"sim.c0", "sim.c1", "sim.c2"}

        def rows() -> list[Any]:
            status, body = _get(url + "/host/node-p/api/v1/data?chart=sim.c1&after=-5&points=0&options=seconds")
            return [r for r in json.loads(body)["data"] if r[1] is not None] if status == 200 else []

        assert _wait(lambda: len(rows()) >= 2, 30)
        for row in rows():
            assert row[1:] == expected("sim.c1", ["d0", "d1"], row[0])
    finally:
        status = _stop(proc)
        a.stop()
        b.stop()
    assert status == 0, "".join(log)
    assert (data / "agent.lock").exists() and (data / "anomaly-detection.db").exists()   # this machine's host
    for name in ("node-p", "node-q"):                                              # each source's own
        assert (data / "hosts" / name / "anomaly-detection.db").exists()


def test_the_agent_command_without_local_collection(tmp_path: Path) -> None:
    a = SimulatedNetdata("node-s", charts=2, dims_per_chart=2).start()
    proc, url, log = _agent_process(tmp_path, "--data-dir", str(tmp_path / "data"), "--no-local", "--netdata", a.url)
    try:
        assert _wait(lambda: _get(url + "/api/v1/info")[0] == 200, 30)
        info = json.loads(_get(url + "/api/v1/info")[1])
        assert info["mirrored_hosts"] == ["node-s"]           # no host of this machine
        status, body = _get(url + "/api/v1/charts")           # the default host is the source's
        assert status == 200 and sim_charts(body) == {"sim.c0", "sim.c1"}
    finally:
        status = _stop(proc)
        a.stop()
    assert status == 0, "".join(log)
    assert any("mirroring the Netdata agent at " + a.url in line for line in log)


def test_the_stop_signal_ends_pauses_at_once_and_every_later_one() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = StopSignal()
        started = loop.time()
        await stop.pause(0.1)  # no signal: the whole pause
        assert 0.09 <= loop.time() - started < 5
        assert not stop.is_set()
        pausing = [asyncio.ensure_future(stop.pause(60)) for _ in range(3)]
        waiting = asyncio.ensure_future(stop.wait())
        await asyncio.sleep(0.05)
        assert not any(p.done() for p in pausing) and not waiting.done()
        started = loop.time()
        stop.set()
        await asyncio.wait_for(asyncio.gather(*pausing, waiting), 5)
        await asyncio.wait_for(stop.pause(60), 1)  # after the signal: at once
        await stop.pause(-1.0)
        assert stop.is_set() and loop.time() - started < 5
        assert not stop._pausing  # nothing left behind: timers cancelled, futures dropped
    asyncio.run(main())
