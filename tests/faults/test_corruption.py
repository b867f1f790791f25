"""Corrupted files of each kind: reported by path, quarantined, the rest of the history readable."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import pyml
from pyml import MLConfig
from pyml.engine.checked import json_checksum
from pyml.engine.storage import SampleStore, StoreError

T0 = 1_700_000_000
WIDTH = 40
B = 16


def words_of(k: int) -> np.ndarray:
    return (np.arange(WIDTH, dtype=np.uint32) * 3 + np.uint32(k * 100 + 1)).astype(np.uint32)


def filled(directory: Path, ticks: int = 100) -> None:
    store = SampleStore(1024, block=B, capacity=WIDTH, directory=directory)
    for k in range(ticks):
        store.append(k, words_of(k))
    store.close()


def open_store(directory: Path) -> SampleStore:
    return SampleStore(1024, block=B, capacity=WIDTH, directory=directory)


def damaged_ticks(store: SampleStore, ticks: range) -> list[int]:
    _, words = store.read(np.arange(WIDTH), ticks[0], ticks[-1])
    return [k for i, k in enumerate(ticks) if not np.array_equal(words[:, i], words_of(k))]


def flip(path: Path, offset: int, count: int = 1) -> None:
    data = bytearray(path.read_bytes())
    for i in range(offset, offset + count):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def record_offsets(segment: Path) -> list[int]:
    data = segment.read_bytes()
    offsets, at = [], 0
    while at < len(data):
        offsets.append(at)
        width = int.from_bytes(data[at + 32:at + 36], "little")
        at += 64 + 8 * width + 4 * width * B  # header, row checksums, words
    return offsets


def quarantined(directory: Path) -> list[Path]:
    return sorted((directory / "quarantine").glob("*")) if (directory / "quarantine").exists() else []


def test_flipped_bytes_in_a_block_hide_only_that_block(tmp_path, ledger, caplog):
    filled(tmp_path)
    segment = sorted(tmp_path.glob("seg-*"))[0]
    second = record_offsets(segment)[1]
    flip(segment, second + 64 + 8 * WIDTH + 4 * B * 5 + 7)  # a word of slot 5 in block 1 (ticks 16..31)
    store = open_store(tmp_path)
    _, words = store.read([3], 0, 99)  # a read checks the rows it touches, not the whole history
    assert words[0].tolist() == [int(words_of(k)[3]) for k in range(100)] and not store.damage
    with caplog.at_level(logging.ERROR, logger="pyml.storage"):
        bad = damaged_ticks(store, range(100))
    assert bad == list(range(16, 32))  # read as empty ticks, never as data
    _, words = store.read(np.arange(WIDTH), 16, 31)
    assert not words[5].any() and all(words[s].all() for s in range(WIDTH) if s != 5)  # only that slot's row
    assert any(str(segment) in d for d in store.damage)
    assert quarantined(tmp_path) and str(segment) in caplog.text
    ledger.record("sample block: one flipped byte", True, 0)


def test_random_bytes_over_a_segment(tmp_path, ledger):
    filled(tmp_path, 200)
    segment = sorted(tmp_path.glob("seg-*"))[0]
    offsets = record_offsets(segment)
    data = bytearray(segment.read_bytes())
    rng = np.random.default_rng(5)
    start, stop = offsets[1] + 10, offsets[3] + 30  # garbage over three records, two headers included
    data[start:stop] = rng.integers(0, 256, stop - start, dtype=np.uint8).tobytes()
    segment.write_bytes(bytes(data))
    store = open_store(tmp_path)
    bad = damaged_ticks(store, range(200))
    assert bad == list(range(16, 64))  # blocks 1, 2 and 3; the records after them are found again
    assert store.damage and quarantined(tmp_path)
    store.append(200, words_of(200))  # and the store goes on
    ledger.record("sample segment: random bytes over 3 records", True, 0)


def test_damaged_staging_row_is_one_empty_tick(tmp_path, ledger):
    filled(tmp_path, 40)  # ticks 32..39 are staging rows
    staging = next(tmp_path.glob("staging-*"))
    alloc = int.from_bytes(staging.read_bytes()[8:12], "little")
    row = 35 % B
    flip(staging, 64 + row * (32 + 4 * alloc) + 32 + 8)
    store = open_store(tmp_path)
    assert damaged_ticks(store, range(40)) == [35]
    assert store.last_time == 39 and any("row" in d for d in store.damage)
    ledger.record("staging row: one flipped byte", True, 0)


@pytest.mark.parametrize("damage", ["garbage", "checksum", "truncated"])
def test_damaged_header_is_rebuilt(tmp_path, ledger, damage):
    filled(tmp_path)
    header = tmp_path / "store.json"
    if damage == "garbage":
        header.write_bytes(b"\x00\xffnot json")
    elif damage == "checksum":
        doc = json.loads(header.read_text())
        doc["update_every"] = 1
        doc["block"] = 16
        doc["crc32"] ^= 1
        header.write_text(json.dumps(doc))
    else:
        header.write_bytes(header.read_bytes()[:10])
    store = open_store(tmp_path)
    assert damaged_ticks(store, range(100)) == []
    assert store.damage and quarantined(tmp_path)
    ledger.record(f"store header: {damage}", True, 0)


def test_header_of_another_setup_is_refused_with_the_path(tmp_path):
    filled(tmp_path)
    with pytest.raises(StoreError, match="test_header_of_another.*made with.*update_every"):
        SampleStore(1024, update_every=10, block=B, directory=tmp_path)


def test_damaged_slot_table_keeps_the_history(tmp_path, ledger):
    store = SampleStore(1024, block=B, capacity=WIDTH, directory=tmp_path)
    for k in range(50):
        store.append(k, words_of(k))
    store.clear_slot(3)
    store.commit_slots()
    store.close()
    flip(tmp_path / "slots.i64", 40)
    again = open_store(tmp_path)
    _, words = again.read([0], 0, 49)
    assert words[0].tolist() == [int(words_of(k)[0]) for k in range(50)]
    assert any("slots.i64" in d for d in again.damage)
    ledger.record("slot table: one flipped byte", True, 0)


# ---------------------------------------------------------------------- version 1 stores

V1_MAGIC = 0x50594D4C53544F52


def write_v1(directory: Path, depth_ticks: int, capacity: int, last_k: int) -> dict[int, np.ndarray]:
    """A store as the version-1 code left it (header, rings and staging, written through memory maps)."""
    block = 64
    depth = (-(-depth_ticks // block) + 1) * block
    rings = np.zeros((capacity, depth), dtype=np.uint32)
    staging = np.zeros((block, capacity), dtype=np.uint32)
    first_k = 0
    expected = {}
    for k in range(first_k, last_k + 1):
        words = (np.arange(capacity, dtype=np.uint32) + np.uint32(k * 10 + 1)).astype(np.uint32)
        expected[k] = words
        if k // block == last_k // block:
            staging[k % block] = words
        else:
            rings[:, k % depth] = words
    directory.mkdir(parents=True, exist_ok=True)
    header = np.array([V1_MAGIC, 1, 1, depth, block, capacity, first_k, last_k, last_k // block - 1], dtype="<i8")
    header.tofile(directory / "store-header.i64")
    rings.tofile(directory / f"store-rings-{capacity}.u32")
    staging.tofile(directory / f"store-staging-{capacity}.u32")
    return expected


def test_version_1_store_is_converted(tmp_path, ledger):
    expected = write_v1(tmp_path, 300, 8, 700)
    store = SampleStore(300, block=64, capacity=8, directory=tmp_path)
    first = store.first_time
    _, words = store.read(np.arange(8), first, 700)
    lost = sum(1 for i, k in enumerate(range(first, 701)) if not np.array_equal(words[:, i], expected[k]))
    assert store.readable_ticks <= 701 - first + 64 and lost == 0
    assert not list(tmp_path.glob("store-*")) and (tmp_path / "store.json").exists()
    store.append(701, np.ones(8, dtype=np.uint32))
    ledger.record("version-1 store: converted at opening", True, lost)


def test_inconsistent_version_1_store_is_refused_untouched(tmp_path, ledger):
    write_v1(tmp_path, 300, 8, 700)
    header = np.fromfile(tmp_path / "store-header.i64", dtype="<i8")
    header[7] = -5  # last tick before the first one
    header.tofile(tmp_path / "store-header.i64")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(StoreError, match=r"store-header.i64.*move .* away"):
        SampleStore(300, block=64, capacity=8, directory=tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    ledger.record("version-1 store: inconsistent header (refused, untouched)", True, 0)


# ---------------------------------------------------------------------- the registry


def host_dir(tmp_path: Path) -> Path:
    cfg = MLConfig(profile="netdata-1.33", min_train_samples=30, max_train_samples=60, train_every=30, clamp=False)
    host = pyml.Host("reg", cfg, storage_dir=tmp_path, background=False)
    host.add_chart("system.cpu", ["a", "b"])
    for i in range(20):
        host.collect_all(T0 + i, [1.0 + i, 2.0])
    host.add_chart("system.load", ["l"])  # a second registry write: registry.json.bak holds the first
    for i in range(20, 30):
        host.collect_all(T0 + i, [1.0 + i, 2.0, 3.0])
    host.close()
    return tmp_path


def reopen(directory: Path) -> pyml.Host:
    cfg = MLConfig(profile="netdata-1.33", min_train_samples=30, max_train_samples=60, train_every=30, clamp=False)
    return pyml.Host("reg", cfg, storage_dir=directory, background=False)


def test_damaged_registry_falls_back_to_its_previous_copy(tmp_path, ledger):
    directory = host_dir(tmp_path)
    flip(directory / "registry.json", 30)
    host = reopen(directory)
    try:
        rows = host.data("system.cpu", T0, T0 + 29)["data"]
        lost = 30 - sum(1 for row in rows if row[1] == row[0] - T0 + 1.0)
    finally:
        host.close()
    assert quarantined(directory)
    ledger.record("registry: one flipped byte (previous copy used)", True, lost)
    assert lost == 0


def test_both_registry_copies_damaged_is_refused_naming_both(tmp_path, ledger):
    directory = host_dir(tmp_path)
    flip(directory / "registry.json", 30)
    flip(directory / "registry.json.bak", 30)
    before = {p.name: p.read_bytes() for p in directory.glob("registry.json*")}
    with pytest.raises(StoreError, match=r"registry.json.*registry.json.bak.*move"):
        reopen(directory)
    assert {p.name: p.read_bytes() for p in directory.glob("registry.json*")} == before
    assert not quarantined(directory)
    ledger.record("registry: both copies damaged (refused, untouched)", True, 0)


def rewrite(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    doc["crc32"] = json_checksum(doc)  # a well-formed file whose content is wrong
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("name,change,fragment", [
    ("slot 10^8", lambda d: d["charts"][0]["dimensions"][0].__setitem__(1, 10**8), "slot 100000000"),
    ("slot twice", lambda d: d["charts"][0]["dimensions"][1].__setitem__(1, d["charts"][0]["dimensions"][0][1]),
     "assigned to both"),
    ("chart without dimensions", lambda d: d["charts"][0].pop("dimensions"), "dimensions is not a list"),
    ("order names an unknown dimension", lambda d: d["order"].append("x|y"), "unknown"),
    ("priority not a number", lambda d: d["charts"][0].__setitem__("priority", "high"), "priority"),
    ("charts not a list", lambda d: d.__setitem__("charts", {}), "'charts' is not a list"),
])
def test_malformed_registry_is_named_and_bounded(tmp_path, ledger, name, change, fragment):
    directory = host_dir(tmp_path)
    for path in (directory / "registry.json", directory / "registry.json.bak"):
        rewrite(path, change)
    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(StoreError, match=fragment) as raised:
        reopen(directory)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "registry.json" in str(raised.value)
    assert time.monotonic() - started < 30 and peak < 200 * 2**20  # refused, not grown into
    ledger.record(f"registry: {name} (refused with the path)", True, 0)


# ---------------------------------------------------------------------- the database


def test_malformed_database_rows_are_named_and_skipped(tmp_path, ledger, caplog):
    cfg = MLConfig(profile="netdata-1.33", min_train_samples=30, max_train_samples=60, train_every=30, clamp=False)
    host = pyml.Host("dbrows", cfg, storage_dir=tmp_path, background=False)
    host.add_chart("system.cpu", ["a", "b"])
    rng = np.random.default_rng(1)
    for i in range(40):
        host.collect_all(T0 + i, rng.normal(10, 1, 2))
    host.train_now()
    host.collect_all(T0 + 40, [10.0, 10.0])
    host.close()
    with sqlite3.connect(tmp_path / "anomaly-detection.db") as raw:
        raw.execute("UPDATE models SET model = 'not a model', trained_at = 'soon' WHERE dimension_id = ?",
                    ("system.cpu|a",))
        raw.execute("INSERT INTO anomaly_events VALUES ('AD1', 1, ?, 'x', 5, '[]')", (host.host_id,))
    raw.close()
    with caplog.at_level(logging.ERROR):
        again = pyml.Host("dbrows", cfg, storage_dir=tmp_path, background=False)
        try:
            assert again.anomaly_events(0, 10**13) == []
            assert not again._bank.trained(again._slot_of["system.cpu|a"])
            assert again._bank.trained(again._slot_of["system.cpu|b"])
        finally:
            again.close()
    assert "anomaly-detection.db" in caplog.text and "system.cpu|a" in caplog.text
    ledger.record("database: malformed model and event rows (skipped, named)", True, 0)
