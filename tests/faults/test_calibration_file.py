"""The calibration state file on a real full disk (a small tmpfs) and with its temporary name taken.

A write that fails leaves the previous file whole (written under a temporary
name, then renamed over it), the host runs on and closes, and the next start
restores the previous state.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import pyml
from pyml.engine.calibration_store import FIELDS, FILE_NAME

T0 = 1_700_006_400 - 1_700_006_400 % 86400
DIMS = 400   # a state file of about 200 KB: larger than what a full tmpfs has left


def _host(path: Path) -> pyml.Host:
    config = pyml.MLConfig(profile="pyml", clamp=False, min_training_window=30, training_window=60, train_every=30)
    host = pyml.Host("h", config, storage_dir=path, background=False, history=64)
    if "c" not in host._charts:
        host.add_chart("c", [f"d{i}" for i in range(DIMS)])
    return host


def _feed(host: pyml.Host, start: int, ticks: int) -> None:
    rng = np.random.default_rng(start)
    for i in range(ticks):
        host.collect_all(start + i, rng.normal(size=DIMS))
        if i % 30 == 29:
            host.train_due()


def _seen(host: pyml.Host) -> np.ndarray:
    return host._bank.calibration_state()["seen"][host._slot_index]


@pytest.mark.parametrize("fault", ["full", "blocked"])
def test_a_failed_state_write_keeps_the_previous_file(small_disk, ledger, caplog, fault: str) -> None:
    disk = small_disk(8192)
    path = disk.path / "host"
    host = _host(path)
    _feed(host, T0, 90)
    host.close()
    saved = (path / FILE_NAME).read_bytes()
    seen_then = _seen(_reopened := _host(path))
    assert (seen_then > 0).any()

    _feed(_reopened, T0 + 100, 60)
    if fault == "full":
        disk.fill()
    else:   # a directory where the temporary file goes: the write fails (IsADirectoryError)
        (path / (FILE_NAME + ".tmp")).mkdir()
    with caplog.at_level(logging.WARNING, logger="pyml"):
        try:
            _reopened.close()
        except pyml.engine.storage.StoreError:
            pass   # the samples of a full disk are reported lost on close: another test's subject
    assert any(FILE_NAME in r.getMessage() and "not written" in r.getMessage() for r in caplog.records)
    if fault == "full":
        disk.free()
        assert not (path / (FILE_NAME + ".tmp")).exists(), "the partial file is removed"
    else:
        (path / (FILE_NAME + ".tmp")).rmdir()
    assert (path / FILE_NAME).read_bytes() == saved, "the previous state file is whole"

    again = _host(path)
    try:
        np.testing.assert_array_equal(_seen(again), seen_then)   # the previous file's state, restored
        state = again._bank.calibration_state()
        for name in FIELDS:
            assert np.isfinite(state[name][again._slot_index]).all() or name in ("top", "top_age", "prev")
    finally:
        again.close()
    ledger.record(f"calibration state: {'disk full' if fault == 'full' else 'temporary name taken'} at the write",
                  True, 0)
