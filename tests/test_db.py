"""pyml.db: schema, round trips, query rules, models, bad input, foreign and corrupt files."""

from __future__ import annotations

import gc
import json
import logging
import random
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pyml.engine.db import (
    APPLICATION_ID,
    DETECTOR_NAME,
    DETECTOR_VERSION,
    SCHEMA_VERSION,
    AnomalyDB,
    DatabaseError,
)

H1 = "3f1c9a2e-6b7d-5e4f-8a1b-2c3d4e5f6a7b"
H2 = "9d8c7b6a-5f4e-5d3c-9b2a-1f0e9d8c7b6a"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "anomaly-detection.db"


@pytest.fixture(params=["file", "memory"])
def db(request: pytest.FixtureRequest, tmp_path: Path):
    path = ":memory:" if request.param == "memory" else tmp_path / "anomaly-detection.db"
    with AnomalyDB(path) as d:
        yield d


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path))


# ---------------------------------------------------------------- schema


def test_schema_of_anomaly_events_matches_the_reference(db_path: Path) -> None:
    AnomalyDB(db_path).close()
    with raw(db_path) as c:
        cols = [(name, ctype.lower(), notnull, pk)
                for _, name, ctype, notnull, _, pk in c.execute("PRAGMA table_info(anomaly_events)")]
    assert cols == [
        ("anomaly_detector_name", "text", 1, 1),
        ("anomaly_detector_version", "int", 1, 2),
        ("host_id", "text", 1, 3),
        ("after", "int", 1, 4),
        ("before", "int", 1, 5),
        ("anomaly_event_info", "text", 0, 0),
    ]


def test_schema_is_versioned_and_marked(db_path: Path) -> None:
    AnomalyDB(db_path).close()
    with raw(db_path) as c:
        assert c.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 1
        assert dict(c.execute("SELECT key, value FROM meta")) == {
            "application": "pyml-anomaly-db", "schema_version": "1"}
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        cols = [(name, ctype.lower(), notnull, pk)
                for _, name, ctype, notnull, _, pk in c.execute("PRAGMA table_info(models)")]
    assert cols == [("host_id", "text", 1, 1), ("dimension_id", "text", 1, 2),
                    ("model", "blob", 1, 0), ("trained_at", "real", 1, 0)]


def test_file_connections_use_synchronous_normal(db_path: Path) -> None:
    with AnomalyDB(db_path) as db:
        assert db._conn().execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        seen = []
        t = threading.Thread(target=lambda: seen.append(
            db._conn().execute("PRAGMA synchronous").fetchone()[0]))
        t.start()
        t.join()
        assert seen == [1]


def test_empty_file_gets_the_schema(db_path: Path) -> None:
    db_path.write_bytes(b"")
    with AnomalyDB(db_path) as db:
        assert db.insert_event(H1, 1, 2, [])
    with raw(db_path) as c:
        assert c.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


# ---------------------------------------------------------------- events


def test_event_round_trip(db: AnomalyDB) -> None:
    info = [[1.0303030303030303, "system.cpu|user"], [0.25, "disk.io|reads"]]
    assert db.insert_event(H1, 1_650_000_000, 1_650_000_066, info) is True
    assert db.anomaly_events(H1, 1_650_000_000, 1_650_000_066) == [[1_650_000_000, 1_650_000_066]]
    assert db.anomaly_event_info(H1, 1_650_000_000, 1_650_000_066) == info


def test_stored_row_values_and_json_layout(db_path: Path) -> None:
    with AnomalyDB(db_path) as db:
        db.insert_event(H1, 100, 166, [[0.30303030303030304, "system.cpu|user"],
                                       [0.5, "net.eth0|été"]])
    with raw(db_path) as c:
        row = c.execute("SELECT * FROM anomaly_events").fetchone()
    assert row[:5] == (DETECTOR_NAME, DETECTOR_VERSION, H1, 100, 166) == ("AD1", 1, H1, 100, 166)
    assert row[5] == (
        "[\n"
        "    [\n"
        "        0.30303030303030304,\n"
        '        "system.cpu|user"\n'
        "    ],\n"
        "    [\n"
        "        0.5,\n"
        '        "net.eth0|été"\n'
        "    ]\n"
        "]")


def test_info_values_are_normalised_to_float_and_order_kept(db: AnomalyDB) -> None:
    info = [(2, "b|z"), [np.float64(0.75), "a|y"], (np.float32(0.5), "c|x")]
    db.insert_event(H1, 10, 20, info)
    got = db.anomaly_event_info(H1, 10, 20)
    assert got == [[2.0, "b|z"], [0.75, "a|y"], [0.5, "c|x"]]
    assert all(isinstance(r, float) for r, _ in got)


def test_empty_info_is_stored_as_an_empty_array(db: AnomalyDB) -> None:
    assert db.insert_event(H1, 5, 5, [])
    assert db.anomaly_event_info(H1, 5, 5) == []


def test_duplicate_key_is_logged_and_ignored(db: AnomalyDB, caplog: pytest.LogCaptureFixture
                                             ) -> None:
    assert db.insert_event(H1, 100, 200, [[0.5, "a|b"]])
    with caplog.at_level(logging.ERROR, logger="pyml.db"):
        assert db.insert_event(H1, 100, 200, [[0.9, "c|d"]]) is False
    assert any("100" in r.getMessage() and H1 in r.getMessage() for r in caplog.records)
    assert db.anomaly_event_info(H1, 100, 200) == [[0.5, "a|b"]]
    assert db.anomaly_events(H1, 0, 1000) == [[100, 200]]
    # Same bounds, other host: a different key.
    assert db.insert_event(H2, 100, 200, [[0.9, "c|d"]])
    assert db.anomaly_event_info(H2, 100, 200) == [[0.9, "c|d"]]


def test_events_are_ordered_by_after_then_before(db: AnomalyDB) -> None:
    rows = [(300, 400), (100, 250), (100, 150), (200, 210), (100, 200), (50, 500)]
    for a, b in rows:
        db.insert_event(H1, a, b, [[1.0, "x|y"]])
    assert db.anomaly_events(H1, 0, 1000) == [list(r) for r in sorted(rows)]


def test_events_must_lie_wholly_inside_the_range(db: AnomalyDB) -> None:
    for a, b in [(90, 120), (100, 150), (150, 200), (180, 220), (100, 200), (210, 300)]:
        db.insert_event(H1, a, b, [])
    # Bounds are inclusive; an event overlapping either end is excluded.
    assert db.anomaly_events(H1, 100, 200) == [[100, 150], [100, 200], [150, 200]]
    assert db.anomaly_events(H1, 101, 199) == []
    assert db.anomaly_events(H1, 150, 200) == [[150, 200]]
    assert db.anomaly_events(H1, 0, 10_000) == [[90, 120], [100, 150], [100, 200], [150, 200],
                                                 [180, 220], [210, 300]]
    assert db.anomaly_events(H1, 301, 301) == []


def test_event_info_needs_an_exact_match(db: AnomalyDB) -> None:
    db.insert_event(H1, 100, 200, [[0.5, "a|b"]])
    assert db.anomaly_event_info(H1, 100, 200) == [[0.5, "a|b"]]
    assert db.anomaly_event_info(H1, 99, 200) is None
    assert db.anomaly_event_info(H1, 100, 201) is None
    assert db.anomaly_event_info(H1, 0, 1000) is None
    assert db.anomaly_event_info(H2, 100, 200) is None


def test_hosts_are_kept_apart(db: AnomalyDB) -> None:
    db.insert_event(H1, 100, 200, [[0.5, "h1|d"]])
    db.insert_event(H2, 300, 400, [[0.7, "h2|d"]])
    assert db.anomaly_events(H1, 0, 1000) == [[100, 200]]
    assert db.anomaly_events(H2, 0, 1000) == [[300, 400]]
    assert db.anomaly_events("00000000-0000-0000-0000-000000000000", 0, 1000) == []
    assert db.anomaly_event_info(H2, 300, 400) == [[0.7, "h2|d"]]


def test_rows_of_other_detectors_are_ignored(db_path: Path) -> None:
    with AnomalyDB(db_path) as db:
        db.insert_event(H1, 100, 200, [[0.5, "a|b"]])
    with raw(db_path) as c:
        c.executemany("INSERT INTO anomaly_events VALUES (?, ?, ?, ?, ?, ?)", [
            ("AD2", 1, H1, 110, 120, "[]"), ("AD1", 2, H1, 130, 140, "[]")])
    with AnomalyDB(db_path) as db:
        assert db.anomaly_events(H1, 0, 1000) == [[100, 200]]
        assert db.anomaly_event_info(H1, 110, 120) is None
        assert db.anomaly_event_info(H1, 130, 140) is None


def test_times_use_the_full_64_bit_range(db: AnomalyDB) -> None:
    big = 2**63 - 1
    assert db.insert_event(H1, 2**32, big, [[1.0, "a|b"]])
    assert db.insert_event(H1, 0, 0, [])
    assert db.anomaly_events(H1, 0, big) == [[0, 0], [2**32, big]]
    assert db.anomaly_event_info(H1, np.int64(2**32), big) == [[1.0, "a|b"]]


# ---------------------------------------------------------------- models


def test_models_round_trip_upsert_and_delete(db: AnomalyDB) -> None:
    assert db.load_models(H1) == {}
    assert db.save_models(H1, [("system.cpu|user", b"\x00\x01m1", 1000.0),
                               ("system.cpu|system", bytearray(b"m2"), 1001)]) == 2
    assert db.load_models(H1) == {"system.cpu|system": (b"m2", 1001.0),
                                  "system.cpu|user": (b"\x00\x01m1", 1000.0)}
    # Upsert: one replaced, one new, the other untouched.
    db.save_models(H1, [("system.cpu|user", memoryview(b"m1-new"), 2000.5),
                        ("disk.io|reads", b"m3", 2000.5)])
    models = db.load_models(H1)
    assert models == {"disk.io|reads": (b"m3", 2000.5), "system.cpu|system": (b"m2", 1001.0),
                      "system.cpu|user": (b"m1-new", 2000.5)}
    assert list(models) == sorted(models)
    assert all(type(b) is bytes and type(t) is float for b, t in models.values())
    assert db.delete_models(H1, ["system.cpu|user", "no.such|dim"]) == 1
    assert set(db.load_models(H1)) == {"disk.io|reads", "system.cpu|system"}
    assert db.delete_models(H1, iter(["disk.io|reads", "system.cpu|system"])) == 2
    assert db.load_models(H1) == {}
    assert db.delete_models(H1, []) == 0
    assert db.save_models(H1, []) == 0


def test_last_entry_wins_within_one_save(db: AnomalyDB) -> None:
    db.save_models(H1, [("a|b", b"first", 1.0), ("a|b", b"second", 2.0)])
    assert db.load_models(H1) == {"a|b": (b"second", 2.0)}


def test_models_of_several_hosts_in_one_file(db: AnomalyDB) -> None:
    db.save_models(H1, [("a|b", b"h1", 1.0)])
    db.save_models(H2, [("a|b", b"h2", 2.0), ("c|d", b"h2cd", 3.0)])
    assert db.load_models(H1) == {"a|b": (b"h1", 1.0)}
    assert db.delete_models(H2, ["a|b"]) == 1
    assert db.load_models(H1) == {"a|b": (b"h1", 1.0)}
    assert db.load_models(H2) == {"c|d": (b"h2cd", 3.0)}


def test_large_model_blob_round_trips(db: AnomalyDB) -> None:
    blob = np.random.default_rng(7).bytes(300_000)
    db.save_models(H1, [("a|b", blob, 5.0)])
    assert db.load_models(H1)["a|b"] == (blob, 5.0)


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("host_id", ["", None, 42, b"host"])
def test_bad_host_id(db: AnomalyDB, host_id: object) -> None:
    for call in (lambda: db.insert_event(host_id, 1, 2, []),
                 lambda: db.anomaly_events(host_id, 1, 2),
                 lambda: db.anomaly_event_info(host_id, 1, 2),
                 lambda: db.save_models(host_id, [("a|b", b"m", 1.0)]),
                 lambda: db.load_models(host_id),
                 lambda: db.delete_models(host_id, ["a|b"])):
        with pytest.raises(ValueError, match="host_id"):
            call()


@pytest.mark.parametrize("after, before, bad", [
    (1.5, 2, "after"), (1, "2", "before"), (True, 2, "after"), (None, 2, "after"),
    (-1, 2, "after"), (1, 2**63, "before"), (5, 4, "after"), (1, float("nan"), "before"),
])
def test_bad_times(db: AnomalyDB, after: object, before: object, bad: str) -> None:
    with pytest.raises(ValueError, match=bad) as info:
        db.insert_event(H1, after, before, [])
    assert repr(after if bad == "after" else before)[:4] in str(info.value)
    with pytest.raises(ValueError, match=f"{bad}_s"):
        db.anomaly_events(H1, after, before)
    with pytest.raises(ValueError, match=f"{bad}_s"):
        db.anomaly_event_info(H1, after, before)
    assert db.anomaly_events(H1, 0, 2**63 - 1) == []


@pytest.mark.parametrize("info, exc, fragment", [
    ("a|b", TypeError, "info"),
    ([[0.5]], ValueError, r"info\[0\]"),
    ([[0.5, "a|b", 1]], ValueError, r"info\[0\]"),
    ([[0.5, "a|b"], ["0.5", "c|d"]], TypeError, r"info\[1\] rate"),
    ([[True, "a|b"]], TypeError, r"info\[0\] rate"),
    ([[float("inf"), "a|b"]], ValueError, "finite"),
    ([[float("nan"), "a|b"]], ValueError, "finite"),
    ([[0.5, 7]], TypeError, r"info\[0\] dimension id"),
])
def test_bad_info_stores_nothing(db: AnomalyDB, info: object, exc: type, fragment: str) -> None:
    with pytest.raises(exc, match=fragment):
        db.insert_event(H1, 1, 2, info)
    assert db.anomaly_events(H1, 0, 10) == []


@pytest.mark.parametrize("models, exc, fragment", [
    ("a|b", TypeError, "models"),
    ([("a|b", b"m")], ValueError, r"models\[0\]"),
    ([("a|b", b"m", 1.0), ("", b"m", 1.0)], ValueError, r"models\[1\] dimension id"),
    ([("a|b", b"m", 1.0), (None, b"m", 1.0)], ValueError, r"models\[1\] dimension id"),
    ([("a|b", b"m", 1.0), ("c|d", "text", 1.0)], TypeError, r"models\[1\] model must be bytes"),
    ([("a|b", b"m", 1.0), ("c|d", b"m", float("nan"))], ValueError, r"models\[1\] trained_at"),
    ([("a|b", b"m", 1.0), ("c|d", b"m", -1.0)], ValueError, r"models\[1\] trained_at"),
    ([("a|b", b"m", 1.0), ("c|d", b"m", "1")], TypeError, r"models\[1\] trained_at"),
])
def test_bad_models_store_nothing(db: AnomalyDB, models: object, exc: type, fragment: str
                                  ) -> None:
    db.save_models(H1, [("old|dim", b"old", 1.0)])
    with pytest.raises(exc, match=fragment):
        db.save_models(H1, models)
    assert db.load_models(H1) == {"old|dim": (b"old", 1.0)}


def test_bad_dimension_ids_delete_nothing(db: AnomalyDB) -> None:
    db.save_models(H1, [("a|b", b"m", 1.0)])
    with pytest.raises(TypeError, match="one string"):
        db.delete_models(H1, "a|b")
    with pytest.raises(ValueError, match=r"dimension_ids\[1\]"):
        db.delete_models(H1, ["a|b", 3])
    assert db.load_models(H1) == {"a|b": (b"m", 1.0)}


def test_bad_path() -> None:
    with pytest.raises(ValueError, match="empty"):
        AnomalyDB("")
    with pytest.raises(TypeError, match="path"):
        AnomalyDB(3)  # type: ignore[arg-type]


# ---------------------------------------------------------------- foreign, corrupt, newer files


def assert_refused(path: Path, fragment: str) -> None:
    before = path.read_bytes()
    with pytest.raises(DatabaseError, match=fragment) as info:
        AnomalyDB(path)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)
    assert path.read_bytes() == before
    # Still refused (and untouched) on a second try.
    with pytest.raises(DatabaseError):
        AnomalyDB(str(path))
    assert path.read_bytes() == before


def test_text_file_is_refused_untouched(db_path: Path) -> None:
    db_path.write_text("[ml]\n    enabled = yes\n" * 200)
    assert_refused(db_path, "not a database")


def test_foreign_sqlite_file_is_refused_untouched(db_path: Path) -> None:
    with raw(db_path) as c:
        c.execute("CREATE TABLE songs (title text, artist text)")
        c.execute("INSERT INTO songs VALUES ('a', 'b')")
    c.close()
    assert_refused(db_path, "not a pyml anomaly database")
    with raw(db_path) as c:
        assert c.execute("SELECT * FROM songs").fetchall() == [("a", "b")]
        assert c.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall() == [
            ("songs",)]


def test_foreign_file_with_tables_named_like_ours_is_refused(db_path: Path) -> None:
    with raw(db_path) as c:
        c.execute("CREATE TABLE anomaly_events (x)")
        c.execute("CREATE TABLE models (y)")
        c.execute("CREATE TABLE meta (z)")
    c.close()
    assert_refused(db_path, "not a pyml anomaly database")


def test_newer_schema_version_is_refused_untouched(db_path: Path) -> None:
    with AnomalyDB(db_path) as db:
        db.insert_event(H1, 1, 2, [])
    with raw(db_path) as c:
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    c.close()
    assert_refused(db_path, f"schema version {SCHEMA_VERSION + 1} is newer")


def test_our_id_without_our_tables_is_refused(db_path: Path) -> None:
    with AnomalyDB(db_path) as db:
        db.insert_event(H1, 1, 2, [])
    with raw(db_path) as c:
        c.execute("DROP TABLE models")
    c.close()
    assert_refused(db_path, "incomplete pyml schema")


def test_wrong_magic_is_refused(db_path: Path) -> None:
    AnomalyDB(db_path).close()
    with raw(db_path) as c:
        c.execute("UPDATE meta SET value = 'something-else' WHERE key = 'application'")
    c.close()
    assert_refused(db_path, "meta table")


def test_random_bytes_after_a_valid_header_are_refused(db_path: Path, tmp_path: Path) -> None:
    AnomalyDB(db_path).close()
    header = db_path.read_bytes()[:100]
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(header + random.Random(11).randbytes(4 * 4096 - 100))
    assert_refused(corrupt, "corrupt|malformed|not a database")


def test_damaged_data_page_is_refused(db_path: Path) -> None:
    with AnomalyDB(db_path) as db:
        for i in range(2000):
            db.insert_event(H1, i, i + 60, [[0.5, f"chart.{i}|dim"]])
    data = bytearray(db_path.read_bytes())
    page = 4096 if len(data) % 4096 == 0 else 1024
    assert len(data) >= 8 * page
    start = len(data) - 3 * page
    data[start:start + page] = random.Random(3).randbytes(page)
    db_path.write_bytes(bytes(data))
    assert_refused(db_path, "corrupt|malformed")


def test_unopenable_paths_are_reported_by_path(tmp_path: Path) -> None:
    missing_dir = tmp_path / "no" / "such" / "dir" / "x.db"
    with pytest.raises(DatabaseError, match="cannot open") as info:
        AnomalyDB(missing_dir)
    assert str(missing_dir) in str(info.value)
    assert not missing_dir.parent.exists()
    with pytest.raises(DatabaseError) as info:
        AnomalyDB(tmp_path)
    assert str(tmp_path) in str(info.value)


# ---------------------------------------------------------------- lifecycle and threads


def test_reopen_keeps_everything(db_path: Path) -> None:
    with AnomalyDB(db_path) as db:
        db.insert_event(H1, 100, 200, [[0.5, "a|b"]])
        db.save_models(H1, [("a|b", b"model", 150.0)])
    before = db_path.read_bytes()
    with AnomalyDB(str(db_path)) as db:
        assert db.anomaly_events(H1, 0, 1000) == [[100, 200]]
        assert db.anomaly_event_info(H1, 100, 200) == [[0.5, "a|b"]]
        assert db.load_models(H1) == {"a|b": (b"model", 150.0)}
        assert db.insert_event(H1, 300, 400, [])
    assert db_path.read_bytes() != before  # the new event was checkpointed into the file
    with AnomalyDB(db_path) as db:
        assert db.anomaly_events(H1, 0, 1000) == [[100, 200], [300, 400]]


def test_two_objects_on_one_file_see_each_other(db_path: Path) -> None:
    with AnomalyDB(db_path) as a, AnomalyDB(db_path) as b:
        a.insert_event(H1, 1, 2, [])
        b.save_models(H1, [("x|y", b"m", 1.0)])
        assert b.anomaly_events(H1, 0, 10) == [[1, 2]]
        assert a.load_models(H1) == {"x|y": (b"m", 1.0)}


def test_closed_database_raises(db: AnomalyDB) -> None:
    db.close()
    db.close()  # idempotent
    assert "closed" in repr(db)
    with pytest.raises(DatabaseError, match="closed"):
        db.anomaly_events(H1, 0, 1)
    with pytest.raises(DatabaseError, match="closed"):
        db.insert_event(H1, 0, 1, [])


def test_concurrent_writers_and_readers(db: AnomalyDB) -> None:
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(40):
                assert db.insert_event(H1, w * 1000 + i, w * 1000 + i + 5, [[0.5, f"w{w}|{i}"]])
                db.save_models(H1, [(f"w{w}|{i % 5}", bytes([w, i]), float(i))])
                db.anomaly_events(H1, 0, 10_000)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    events = db.anomaly_events(H1, 0, 10_000)
    assert events == sorted([w * 1000 + i, w * 1000 + i + 5] for w in range(4) for i in range(40))
    models = db.load_models(H1)
    assert models == {f"w{w}|{j}": (bytes([w, 35 + j]), float(35 + j))
                      for w in range(4) for j in range(5)}


def test_thread_connections_close_when_threads_end(db_path: Path) -> None:
    with AnomalyDB(db_path) as db:
        threads = [threading.Thread(target=db.anomaly_events, args=(H1, 0, 1)) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        gc.collect()
        assert len(db._registry) == 1  # only this thread's


def test_waits_for_another_writer(db_path: Path) -> None:
    with AnomalyDB(db_path) as db:
        other = sqlite3.connect(str(db_path), isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO anomaly_events VALUES ('AD1', 1, ?, 1, 2, '[]')", (H2,))
        timer = threading.Timer(0.3, lambda: other.execute("COMMIT"))
        timer.start()
        started = time.monotonic()
        assert db.insert_event(H1, 5, 6, [])
        waited = time.monotonic() - started
        timer.join()
        other.close()
        assert waited >= 0.2
        assert db.anomaly_events(H2, 0, 10) == [[1, 2]]
        assert db.anomaly_events(H1, 0, 10) == [[5, 6]]


def test_memory_database_is_shared_by_threads() -> None:
    with AnomalyDB(":memory:") as db:
        t = threading.Thread(target=db.insert_event, args=(H1, 1, 2, [[1.0, "a|b"]]))
        t.start()
        t.join()
        assert db.anomaly_event_info(H1, 1, 2) == [[1.0, "a|b"]]
    with AnomalyDB(":memory:") as other:
        assert other.anomaly_events(H1, 0, 10) == []


def test_invalid_stored_json_is_reported(db_path: Path) -> None:
    with AnomalyDB(db_path) as db:
        db.insert_event(H1, 1, 2, [])
    with raw(db_path) as c:
        c.execute("UPDATE anomaly_events SET anomaly_event_info = '[[0.5,'")
        c.execute("INSERT INTO anomaly_events VALUES ('AD1', 1, ?, 3, 4, NULL)", (H1,))
    c.close()
    with AnomalyDB(db_path) as db:
        with pytest.raises(DatabaseError, match="not valid JSON"):
            db.anomaly_event_info(H1, 1, 2)
        assert db.anomaly_event_info(H1, 3, 4) is None


def test_stored_info_parses_as_the_json_that_was_given(db_path: Path) -> None:
    info = [[0.1 * k, f"chart.{k}|dim"] for k in range(10)]
    with AnomalyDB(db_path) as db:
        db.insert_event(H1, 10, 20, info)
    with raw(db_path) as c:
        text = c.execute("SELECT anomaly_event_info FROM anomaly_events").fetchone()[0]
    assert json.loads(text) == info
    assert text == json.dumps(info, indent=4)
