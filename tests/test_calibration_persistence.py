"""The calibration state (the ``pyml`` profile's surprise rule and daily profile) survives a restart.

A host with a storage directory writes it to ``calibration.npz`` at close and
at a flush every ``SAVE_EVERY`` seconds of ticks, and reads it back for the
dimensions it restores; a file it cannot use is logged and ignored.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import pyml
from pyml import core
from pyml.engine import calibration_store
from pyml.engine.calibration_store import FIELDS, FILE_NAME

DAY0 = 1_700_006_400 - 1_700_006_400 % 86400


def _config(**keys: object) -> pyml.MLConfig:
    """The pyml profile with lab-sized training, so that models exist within a few hundred ticks."""
    return pyml.MLConfig(profile="pyml", clamp=False, min_training_window=60, training_window=120, train_every=30,
                         **keys)


def _feed(host: pyml.Host, start: int, ticks: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for i in range(ticks):
        values = np.array([10.0 + rng.normal(), 5.0 * np.sin(i / 7.0) + rng.normal(), np.nan if i % 9 == 0 else i % 5])
        if i % 97 == 50:
            values[0] += 40.0  # now and then a spike that saturates
        host.collect_all(start + i, values)
        if i % 30 == 29:
            host.train_due()


def _state_by_id(host: pyml.Host) -> dict[str, dict[str, np.ndarray]]:
    state = host._bank.calibration_state()
    return {dim_id: {name: state[name][slot] for name in FIELDS} for dim_id, slot in host._collected_dims.items()}


def _host(path: Path, **keys: object) -> pyml.Host:
    host = pyml.Host("h", _config(**keys), storage_dir=path, background=False)
    if "c" not in host._charts:
        host.add_chart("c", ["a", "b", "g"])
    return host


def test_a_restart_continues_the_calibration_state(tmp_path: Path) -> None:
    host = _host(tmp_path)
    _feed(host, DAY0 + 3 * 7200, 400, 1)
    before = _state_by_id(host)
    assert before["c|a"]["seen"] > 100 and before["c|a"]["day_visits"].sum() == 400
    assert before["c|a"]["rate"] != host._bank.prior_rate   # learnt, not the prior
    host.close()
    assert (tmp_path / FILE_NAME).exists()

    again = _host(tmp_path)
    try:
        after = _state_by_id(again)
        for dim_id, fields in before.items():
            for name in FIELDS:
                if name == "prev":
                    assert np.isnan(after[dim_id][name]), "a restart is a gap: no previous value"
                else:
                    np.testing.assert_array_equal(after[dim_id][name], fields[name], err_msg=f"{dim_id} {name}")
        # and it goes on from there: the same slot of the day keeps counting
        _feed(again, DAY0 + 3 * 7200 + 500, 10, 2)
        assert _state_by_id(again)["c|a"]["day_visits"][3] == 410
    finally:
        again.close()


def test_without_the_file_a_restart_starts_from_the_prior(tmp_path: Path) -> None:
    host = _host(tmp_path)
    _feed(host, DAY0, 200, 3)
    host.close()
    (tmp_path / FILE_NAME).unlink()
    again = _host(tmp_path)
    try:
        state = _state_by_id(again)["c|a"]
        assert state["seen"] == 0 and state["day_visits"].sum() == 0
    finally:
        again.close()


def test_a_flush_writes_the_state_every_save_every_seconds_of_ticks(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("pyml.engine.host.CALIBRATION_SAVE_EVERY", 100.0)
    host = _host(tmp_path)
    try:
        path = tmp_path / FILE_NAME
        _feed(host, DAY0, 10, 4)
        host.flush()
        assert path.exists(), "the first flush writes"
        first = path.stat().st_mtime_ns, path.read_bytes()
        _feed(host, DAY0 + 10, 50, 5)
        host.flush()
        assert path.read_bytes() == first[1], "not again before 100 s of ticks"
        _feed(host, DAY0 + 60, 60, 6)
        host.flush()
        assert path.read_bytes() != first[1]
        ids, rows = calibration_store.load_calibration(path, host._bank)
        assert sorted(ids) == ["c|a", "c|b", "c|g"]
        assert rows["seen"][ids.index("c|a")] == host._bank.calibration_state()["seen"][host._slot_of["c|a"]]
    finally:
        host.close()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other parameters", "missing field", "bad value"])
def test_a_file_that_cannot_be_used_is_logged_and_ignored(tmp_path: Path, damage: str, caplog) -> None:
    host = _host(tmp_path)
    _feed(host, DAY0, 200, 7)
    host.close()
    path = tmp_path / FILE_NAME
    keys: dict[str, object] = {}
    if damage == "garbage":
        path.write_bytes(b"not a calibration state")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:300])
    elif damage == "other parameters":
        keys = {"daily_profile_decades": 5.0}
    else:
        with np.load(path) as npz:
            data = {name: npz[name] for name in npz.files}
        if damage == "missing field":
            del data["day_var"]
        else:
            data["rate"] = np.full_like(data["rate"], 7.0)   # a rate is a fraction
        with open(path, "wb") as f:
            np.savez(f, **data)
    with caplog.at_level(logging.WARNING, logger="pyml"):
        again = _host(tmp_path, **keys)
    try:
        assert any("calibration state" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)
        message = " ".join(r.getMessage() for r in caplog.records)
        if damage == "other parameters":
            assert "day_decades" in message
        if damage == "missing field":
            assert "day_var" in message
        if damage == "bad value":
            assert "rate" in message
        state = _state_by_id(again)["c|a"]
        assert state["seen"] == 0 and state["day_visits"].sum() == 0, "the prior, nothing half-applied"
        _feed(again, DAY0 + 300, 5, 8)   # and it runs
    finally:
        again.close()


def test_a_failed_write_keeps_the_previous_file_and_the_host_running(tmp_path: Path, monkeypatch, caplog) -> None:
    host = _host(tmp_path)
    _feed(host, DAY0, 200, 9)
    host.close()
    path = tmp_path / FILE_NAME
    previous = path.read_bytes()
    again = _host(tmp_path)

    def no_space(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pyml.engine.calibration_store.os.replace", no_space)
    with caplog.at_level(logging.WARNING, logger="pyml"):
        _feed(again, DAY0 + 300, 30, 10)
        again.close()
    assert path.read_bytes() == previous
    assert not (tmp_path / (FILE_NAME + ".tmp")).exists()
    assert any("not written" in r.getMessage() and "No space" in r.getMessage() for r in caplog.records)


def test_profiles_without_calibration_write_no_file(tmp_path: Path) -> None:
    host = pyml.Host("h", pyml.MLConfig(profile="netdata-1.33"), storage_dir=tmp_path, background=False)
    host.add_chart("c", ["a"])
    for i in range(20):
        host.collect_all(DAY0 + i, np.array([float(i)]))
    host.close()
    assert not (tmp_path / FILE_NAME).exists()


# -- the bank's setter ----------------------------------------------------------------------------------

def _bank(slots: int = 10) -> core.Bank:
    bank = core.Bank(capacity=slots, calibration="surprise", day_decades=10.0, day_ticks_per_slot=2.0, day_warmup=1.0,
                     diff_n=0, smooth_n=1, lag_n=0)
    for _ in range(slots):
        bank.add_slot()
    return bank


def test_set_calibration_state_round_trips_every_field() -> None:
    source = _bank()
    rng = np.random.default_rng(11)
    for i in range(60):
        source.tick(rng.normal(size=10) * (1 + (i % 13 == 0) * 50), day_slot=(i // 2) % 12)
    saved = source.calibration_state()
    target = _bank()
    order = np.array([3, 1, 7])
    target.set_calibration_state(order, {name: saved[name][order] for name in FIELDS})
    got = target.calibration_state()
    for name in FIELDS:
        np.testing.assert_array_equal(got[name][order], saved[name][order], err_msg=name)
        np.testing.assert_array_equal(got[name][[0, 2]], _bank().calibration_state()[name][[0, 2]], err_msg=name)


@pytest.mark.parametrize("change, error, words", [
    (lambda s: s.pop("day_var"), ValueError, "day_var"),
    (lambda s: s.update(rate=np.array([0.5, 1.5])), ValueError, "rate"),
    (lambda s: s.update(var=np.array([-1.0, 0.0])), ValueError, "var"),
    (lambda s: s.update(seen=np.array([1.5, 2.0])), ValueError, "seen"),
    (lambda s: s.update(top_age=np.array([-1.0, np.inf])), ValueError, "top_age"),
    (lambda s: s.update(day_mean=np.zeros((2, 5))), ValueError, "day_mean"),
    (lambda s: s.update(mean=np.array([np.nan, 0.0])), ValueError, "mean"),
])
def test_set_calibration_state_refuses_what_the_rule_cannot_hold(change, error, words) -> None:
    bank = _bank()
    state = {name: value[:2].copy() for name, value in _bank().calibration_state().items()}
    state["rate"] = np.array([0.2, 0.3])
    change(state)
    before = bank.calibration_state()
    with pytest.raises(error, match=words):
        bank.set_calibration_state([0, 1], state)
    after = bank.calibration_state()
    for name in FIELDS:
        np.testing.assert_array_equal(after[name], before[name])   # nothing changed


def test_set_calibration_state_needs_slots_in_use_and_a_calibrated_bank() -> None:
    bank = _bank()
    bank.remove_slot(4)
    state = {name: value[:1] for name, value in bank.calibration_state().items()}
    with pytest.raises(IndexError):
        bank.set_calibration_state([4], state)
    with pytest.raises(IndexError):
        bank.set_calibration_state([99], state)
    plain = core.Bank(capacity=2)
    plain.add_slot()
    with pytest.raises(ValueError, match="calibration 'none'"):
        plain.set_calibration_state([0], state)
