"""SQLite persistence of anomaly events, their per-dimension info and trained models.

One file holds every host's rows; each row carries the host's id (its lower-case
UUID string). The tables:

``anomaly_events``
    Exactly the reference's table (SPEC §5.6): ``anomaly_detector_name`` (always
    ``"AD1"``), ``anomaly_detector_version`` (always ``1``), ``host_id``,
    ``after``/``before`` (epoch seconds) and ``anomaly_event_info`` (a JSON array of
    ``[rate, "chart_id|dim_name"]`` pairs with a 4-space indent), keyed by the first
    five columns. The reference binds ``after``/``before`` as 32-bit ints; pyml stores
    them as SQLite integers (64 bits) and accepts any value in ``[0, 2**63)``.
``models``
    One trained model per ``(host_id, dimension_id)``: the model's bytes and the
    epoch second it was trained at.
``meta``
    ``key``/``value`` pairs naming the application and the schema version, so a
    foreign SQLite file is recognised. The same facts are also kept in the file
    header (``PRAGMA application_id`` and ``PRAGMA user_version``).

A file that is not a database, is corrupt, belongs to another application or has a
newer schema raises :class:`DatabaseError` naming the file; such a file is never
written to.

Example
-------
>>> with AnomalyDB(":memory:") as db:
...     db.insert_event("0b1d...", 100, 160, [[0.5, "system.cpu|user"]])
...     db.anomaly_events("0b1d...", 0, 200)
True
[[100, 160]]
"""

from __future__ import annotations

import json
import logging
import math
import operator
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from numbers import Real
from typing import Any

__all__ = [
    "APPLICATION_ID",
    "BUSY_TIMEOUT_S",
    "DETECTOR_NAME",
    "DETECTOR_VERSION",
    "SCHEMA_VERSION",
    "AnomalyDB",
    "DatabaseError",
]

_LOG = logging.getLogger("pyml.db")

#: Schema version stored in ``PRAGMA user_version`` and in the ``meta`` table.
SCHEMA_VERSION = 1
#: ``PRAGMA application_id`` of a pyml database: the ASCII bytes ``"pyml"``.
APPLICATION_ID = 0x70796D6C
#: Value of ``meta.application`` in a pyml database.
_MAGIC = "pyml-anomaly-db"
#: Name and version of the anomaly detector written with every event (SPEC §5.6).
DETECTOR_NAME = "AD1"
DETECTOR_VERSION = 1
#: Seconds a statement waits for another connection's lock before failing.
BUSY_TIMEOUT_S = 5.0

_MAX_TIME = 2**63  # exclusive bound of an SQLite integer

_TABLES = ("anomaly_events", "meta", "models")

_SCHEMA = (
    """CREATE TABLE meta (
        key text PRIMARY KEY,
        value text NOT NULL
    )""",
    """CREATE TABLE anomaly_events (
        anomaly_detector_name text NOT NULL,
        anomaly_detector_version int NOT NULL,
        host_id text NOT NULL,
        "after" int NOT NULL,
        "before" int NOT NULL,
        anomaly_event_info text,
        PRIMARY KEY (anomaly_detector_name, anomaly_detector_version, host_id, "after", "before")
    )""",
    """CREATE TABLE models (
        host_id text NOT NULL,
        dimension_id text NOT NULL,
        model blob NOT NULL,
        trained_at real NOT NULL,
        PRIMARY KEY (host_id, dimension_id)
    ) WITHOUT ROWID""",
)


class DatabaseError(Exception):
    """The database file cannot be used: not a database, corrupt, foreign, newer, or I/O failed.

    ``path`` is the file concerned (``":memory:"`` for an in-memory database);
    the message names it too. ``transient`` is True for failures of the
    environment that may pass (disk full, read-only file or directory, I/O
    error, a lock held too long), False for a file that is not a usable pyml
    database.
    """

    def __init__(self, path: str, message: str, transient: bool = False) -> None:
        super().__init__(f"anomaly database {path!r}: {message}")
        self.path = path
        self.transient = transient


_TRANSIENT = ("disk is full", "readonly", "read-only", "unable to open", "disk i/o", "locked", "no space")


def _is_transient(exc: BaseException | None) -> bool:
    if isinstance(exc, OSError):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return any(fragment in text for fragment in _TRANSIENT)
    return False


class _ThreadConnection:
    """Holder of one thread's connection; its death (thread exit) closes the connection."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


def _release(registry: dict[int, sqlite3.Connection], lock: threading.Lock, key: int) -> None:
    with lock:
        conn = registry.pop(key, None)
    if conn is not None:
        conn.close()


# ---------------------------------------------------------------- validation


def _check_host(host_id: Any) -> str:
    if not isinstance(host_id, str) or not host_id:
        raise ValueError(f"host_id must be a non-empty string, got {host_id!r}")
    return host_id


def _check_time(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer number of epoch seconds, got {value!r}")
    try:
        t = operator.index(value)
    except TypeError:
        raise ValueError(
            f"{name} must be an integer number of epoch seconds, got {value!r}") from None
    if not 0 <= t < _MAX_TIME:
        raise ValueError(f"{name} must be in [0, 2**63), got {t!r}")
    return t


def _check_range(after: Any, before: Any, names: tuple[str, str]) -> tuple[int, int]:
    a = _check_time(names[0], after)
    b = _check_time(names[1], before)
    if a > b:
        raise ValueError(f"{names[0]} ({a}) must not be greater than {names[1]} ({b})")
    return a, b


def _check_info(info: Any) -> list[list[float | str]]:
    if not isinstance(info, (list, tuple)):
        raise TypeError(f"info must be a list of [rate, dimension_id] pairs, got {info!r}")
    pairs: list[list[float | str]] = []
    for i, pair in enumerate(info):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"info[{i}] must be a [rate, dimension_id] pair, got {pair!r}")
        rate, dim = pair
        if isinstance(rate, bool) or not isinstance(rate, Real):
            raise TypeError(f"info[{i}] rate must be a real number, got {rate!r}")
        rate = float(rate)
        if not math.isfinite(rate):
            raise ValueError(f"info[{i}] rate must be finite, got {rate!r}")
        if not isinstance(dim, str):
            raise TypeError(f"info[{i}] dimension id must be a string, got {dim!r}")
        pairs.append([rate, dim])
    return pairs


def _check_dimension_id(where: str, dim: Any) -> str:
    if not isinstance(dim, str) or not dim:
        raise ValueError(f"{where} dimension id must be a non-empty string, got {dim!r}")
    return dim


# ---------------------------------------------------------------- the database


class AnomalyDB:
    """SQLite store of anomaly events, event info and trained models for any number of hosts.

    Parameters
    ----------
    path : str or os.PathLike
        The database file (created with the schema if missing or empty), or
        ``":memory:"`` for a private in-memory database.

    Raises
    ------
    DatabaseError
        If the file cannot be opened or created, is not an SQLite database, is
        corrupt, belongs to another application, or has a newer schema version.
        The file is left exactly as it was.
    ValueError
        If ``path`` is empty.

    Notes
    -----
    *Durability.* Files use WAL journaling with ``synchronous=NORMAL``. Every
    write is one transaction: it is either wholly present or wholly absent, and
    the file stays consistent whatever happens to the process. A process that is
    killed loses nothing whose method call returned: the commit is in the WAL file
    (in the operating system's cache) before the call returns. An operating
    system crash or power failure may roll back the last few commits made since
    the WAL was last synced (at each checkpoint), but never corrupts the file.
    ``synchronous=FULL`` would close that window at the price of an ``fsync`` per
    event, which the events (one per several minutes) would bear but a model
    flush of thousands of dimensions should not wait on.

    *Threads.* Each thread gets its own connection to a file (``threading.local``),
    so readers run concurrently with the writer; a thread's connection closes
    when the thread ends. Writers from several threads or processes are
    serialised by SQLite; a statement waits up to ``BUSY_TIMEOUT_S`` seconds for
    a lock before failing with :class:`DatabaseError`. An in-memory database has
    one connection shared by all threads under a lock. :meth:`close` closes every
    connection and must be called when no other thread is using the object.

    *Errors.* Invalid arguments raise ``ValueError`` (times, host id, shapes) or
    ``TypeError`` (payload of the wrong type) before the database is touched, so
    a rejected call stores nothing. Any SQLite failure raises
    :class:`DatabaseError` naming the file.

    Every statement is parameterised; all queries have an explicit ``ORDER BY``
    where order matters.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str):
            raise TypeError(f"path must be a str or os.PathLike, got {path!r}")
        if not path:
            raise ValueError("path must not be empty (use ':memory:' for an in-memory database)")
        self._path = path
        self._memory = path == ":memory:"
        self._closed = False
        self._local = threading.local()
        self._registry: dict[int, sqlite3.Connection] = {}
        self._registry_lock = threading.Lock()
        self._next_key = 0
        # In memory: one connection (each connection to ":memory:" would be a new database).
        self._shared: sqlite3.Connection | None = None
        self._shared_lock = threading.RLock()

        conn = self._connect()
        try:
            self._open_schema(conn)
        except BaseException:
            conn.close()
            raise
        if self._memory:
            self._shared = conn
        else:
            self._adopt(conn)

    # ------------------------------------------------------------ connections

    @property
    def path(self) -> str:
        """The database file as given (``":memory:"`` for an in-memory database)."""
        return self._path

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"AnomalyDB({self._path!r}, {state})"

    def _error(self, message: str, exc: BaseException | None = None) -> DatabaseError:
        transient = _is_transient(exc)
        if exc is not None:
            message = f"{message}: {exc}"
        return DatabaseError(self._path, message, transient)

    def _connect(self) -> sqlite3.Connection:
        try:
            # isolation_level=None: autocommit; multi-statement writes use explicit BEGIN.
            conn = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._error("cannot open", exc) from exc
        try:
            if not self._memory:
                conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            conn.close()
            raise self._error("cannot open", exc) from exc
        return conn

    def _adopt(self, conn: sqlite3.Connection) -> None:
        """Make ``conn`` this thread's connection and register it for :meth:`close`."""
        holder = _ThreadConnection(conn)
        with self._registry_lock:
            key = self._next_key
            self._next_key += 1
            self._registry[key] = conn
        weakref.finalize(holder, _release, self._registry, self._registry_lock, key)
        self._local.holder = holder

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise self._error("the database is closed")
        if self._shared is not None:
            return self._shared
        holder: _ThreadConnection | None = getattr(self._local, "holder", None)
        if holder is None:
            self._adopt(self._connect())
            holder = self._local.holder
        return holder.conn

    def _guard(self) -> Any:
        """Lock for the shared in-memory connection; connections to files need none."""
        return self._shared_lock if self._memory else _NO_LOCK

    def _select(self, what: str, sql: str, params: Sequence[Any]) -> list[Any]:
        """All rows of one parameterised read; a SQLite failure becomes :class:`DatabaseError` saying ``what``."""
        with self._guard():
            conn = self._conn()
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._error(f"cannot {what}", exc) from exc

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """One explicit write transaction: committed if the block succeeds, rolled back otherwise."""
        with self._guard():
            conn = self._conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._error(f"cannot {what}", exc) from exc

    def close(self) -> None:
        """Close every connection of this object. Idempotent; later calls raise :class:`DatabaseError`."""
        if self._closed:
            return
        self._closed = True
        if self._shared is not None:
            with self._shared_lock:
                self._shared.close()
            return
        with self._registry_lock:
            conns = list(self._registry.values())
            self._registry.clear()
        for conn in conns:
            conn.close()

    def __enter__(self) -> AnomalyDB:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ schema

    def _inspect(self, conn: sqlite3.Connection) -> tuple[int, int, list[str]]:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")]
        return app_id, version, names

    def _verify(self, conn: sqlite3.Connection, app_id: int, version: int,
                names: list[str]) -> None:
        """Raise unless the inspected file is a pyml database this code can use."""
        if app_id != APPLICATION_ID:
            raise self._error(
                "not a pyml anomaly database (application_id "
                f"0x{app_id & 0xFFFFFFFF:08x}, objects {names[:5]!r}); refusing to use it")
        if version > SCHEMA_VERSION:
            raise self._error(
                f"schema version {version} is newer than this pyml supports ({SCHEMA_VERSION})")
        if version < 1 or not set(_TABLES) <= set(names):
            raise self._error(
                f"incomplete pyml schema (version {version}, objects {names!r})")
        row = conn.execute("SELECT value FROM meta WHERE key = ?", ("application",)).fetchone()
        if row is None or row[0] != _MAGIC:
            raise self._error(f"meta table does not name {_MAGIC!r} (found {row!r})")
        check = [r[0] for r in conn.execute("PRAGMA quick_check")]
        if check != ["ok"]:
            raise self._error(f"corrupt database: {'; '.join(map(str, check[:3]))}")

    def _open_schema(self, conn: sqlite3.Connection) -> None:
        """Check the file read-only; create the schema only in an empty database."""
        try:
            app_id, version, names = self._inspect(conn)
            empty = app_id == 0 and version == 0 and not names
            if not empty:
                self._verify(conn, app_id, version, names)
            if not self._memory:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    _LOG.warning("anomaly database %r: journal mode is %r, not WAL", self._path,
                                 mode)
            if empty:
                self._create_schema(conn)
        except sqlite3.Error as exc:
            raise self._error("cannot open", exc) from exc

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have created the schema since the first look.
            app_id, version, names = self._inspect(conn)
            if app_id == 0 and version == 0 and not names:
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
                    ("application", _MAGIC),
                    ("schema_version", str(SCHEMA_VERSION)),
                ])
                # PRAGMA values cannot be bound; both are integer constants of this module.
                conn.execute(f"PRAGMA application_id = {int(APPLICATION_ID)}")
                conn.execute(f"PRAGMA user_version = {int(SCHEMA_VERSION)}")
                conn.execute("COMMIT")
            else:
                conn.execute("ROLLBACK")
                self._verify(conn, app_id, version, names)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------ events

    def insert_event(self, host_id: str, after: int, before: int, info: Sequence[Sequence[Any]]
                     ) -> bool:
        """Store one anomaly event of ``host_id`` (SPEC §5.6).

        Parameters
        ----------
        host_id : str
            The host's id, its lower-case UUID string.
        after, before : int
            The event's bounds in epoch seconds, ``0 <= after <= before < 2**63``.
        info : list of [rate, dimension_id]
            The dimensions that qualified, as the detector ranked them; stored as
            JSON with a 4-space indent, in the given order.

        Returns
        -------
        bool
            True if stored; False if an event with the same key (detector name and
            version, host, after, before) exists already: as in the reference, the
            duplicate is logged and ignored, and the stored row is unchanged.
        """
        host_id = _check_host(host_id)
        after, before = _check_range(after, before, ("after", "before"))
        text = json.dumps(_check_info(info), indent=4, ensure_ascii=False)
        with self._guard():
            conn = self._conn()
            try:
                conn.execute(
                    'INSERT INTO anomaly_events (anomaly_detector_name, anomaly_detector_version,'
                    ' host_id, "after", "before", anomaly_event_info) VALUES (?, ?, ?, ?, ?, ?)',
                    (DETECTOR_NAME, DETECTOR_VERSION, host_id, after, before, text))
            except sqlite3.IntegrityError as exc:
                _LOG.error("anomaly database %r: event (%s, %d, %d) not stored: %s",
                           self._path, host_id, after, before, exc)
                return False
            except sqlite3.Error as exc:
                raise self._error("cannot store an anomaly event", exc) from exc
        return True

    def anomaly_events(self, host_id: str, after_s: int, before_s: int) -> list[list[int]]:
        """Events of ``host_id`` lying wholly inside ``[after_s, before_s]`` (seconds).

        Returns ``[[after, before], ...]`` for the rows with ``after >= after_s`` and
        ``before <= before_s``, ordered by ``after`` then ``before``; ``[]`` if none.
        """
        host_id = _check_host(host_id)
        a, b = _check_range(after_s, before_s, ("after_s", "before_s"))
        rows = self._select(
            "read anomaly events",
            'SELECT "after", "before" FROM anomaly_events'
            ' WHERE anomaly_detector_name = ? AND anomaly_detector_version = ?'
            ' AND host_id = ? AND "after" >= ? AND "before" <= ?'
            ' ORDER BY "after", "before"',
            (DETECTOR_NAME, DETECTOR_VERSION, host_id, a, b))
        out = []
        for r in rows:
            if isinstance(r[0], int) and isinstance(r[1], int):
                out.append([r[0], r[1]])
            else:
                _LOG.error("anomaly database %r: event (%s, %r, %r) has bounds that are not integers; not served",
                           self._path, host_id, r[0], r[1])
        return out

    def anomaly_event_info(self, host_id: str, after_s: int, before_s: int
                           ) -> list[Any] | None:
        """The info of the event of ``host_id`` whose bounds are exactly ``after_s`` and ``before_s``.

        Returns the stored ``[[rate, "chart_id|dim_name"], ...]`` list, or None if
        no event has exactly these bounds (or its info is NULL).
        """
        host_id = _check_host(host_id)
        a, b = _check_range(after_s, before_s, ("after_s", "before_s"))
        rows = self._select(
            "read anomaly event info",
            'SELECT anomaly_event_info FROM anomaly_events'
            ' WHERE anomaly_detector_name = ? AND anomaly_detector_version = ?'
            ' AND host_id = ? AND "after" = ? AND "before" = ?',
            (DETECTOR_NAME, DETECTOR_VERSION, host_id, a, b))
        row = rows[0] if rows else None
        if row is None or row[0] is None:
            return None
        try:
            value = json.loads(row[0])
        except (TypeError, ValueError) as exc:
            raise self._error(
                f"anomaly_event_info of event ({host_id}, {a}, {b}) is not valid JSON", exc
            ) from exc
        if not isinstance(value, list) or not all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[1], str)
                and isinstance(p[0], (int, float)) and not isinstance(p[0], bool) for p in value):
            raise self._error(
                f"anomaly_event_info of event ({host_id}, {a}, {b}) is not a JSON array of "
                f"[rate, dimension] pairs (starts {row[0][:60]!r})")
        return value

    # ------------------------------------------------------------ models

    def save_models(self, host_id: str, models: Iterable[tuple[str, bytes, float]]) -> int:
        """Insert or replace trained models of ``host_id`` in one transaction.

        Parameters
        ----------
        models : iterable of (dimension_id, model_bytes, trained_at)
            ``dimension_id`` is ``"chart_id|dim_name"``; ``model_bytes`` a bytes-like
            object; ``trained_at`` finite epoch seconds ``>= 0``. If an id appears
            more than once, the last entry wins.

        Returns
        -------
        int
            The number of entries written. Either all are stored or, on error,
            none.
        """
        host_id = _check_host(host_id)
        if isinstance(models, (str, bytes)):
            raise TypeError(f"models must be an iterable of tuples, got {models!r:.80}")
        rows: list[tuple[str, str, bytes, float]] = []
        for i, item in enumerate(models):
            if not isinstance(item, (tuple, list)) or len(item) != 3:
                raise ValueError(
                    f"models[{i}] must be a (dimension_id, model_bytes, trained_at) tuple, "
                    f"got {item!r:.80}")
            dim, blob, trained_at = item
            dim = _check_dimension_id(f"models[{i}]", dim)
            if not isinstance(blob, (bytes, bytearray, memoryview)):
                raise TypeError(f"models[{i}] model must be bytes, got {type(blob).__name__}")
            if isinstance(trained_at, bool) or not isinstance(trained_at, Real):
                raise TypeError(f"models[{i}] trained_at must be a real number, got {trained_at!r}")
            t = float(trained_at)
            if not (math.isfinite(t) and t >= 0.0):
                raise ValueError(f"models[{i}] trained_at must be finite and >= 0, got {t!r}")
            rows.append((host_id, dim, bytes(blob), t))
        if not rows:
            return 0
        with self._transaction("save models") as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO models (host_id, dimension_id, model, trained_at) VALUES (?, ?, ?, ?)",
                rows)
        return len(rows)

    def load_models(self, host_id: str) -> dict[str, tuple[bytes, float]]:
        """Every stored model of ``host_id``: ``{dimension_id: (model_bytes, trained_at)}``.

        The dict is ordered by dimension id; empty if the host has none.
        """
        host_id = _check_host(host_id)
        rows = self._select(
            "load models",
            "SELECT dimension_id, model, trained_at FROM models WHERE host_id = ? ORDER BY dimension_id",
            (host_id,))
        models: dict[str, tuple[bytes, float]] = {}
        for dim, blob, trained_at in rows:
            if (not isinstance(dim, str) or not isinstance(blob, bytes) or isinstance(trained_at, bool)
                    or not isinstance(trained_at, (int, float))):
                # Left in place (never served); the next save of this dimension replaces it.
                _LOG.error("anomaly database %r: the model row of %r (host %s) is malformed (model %s, trained_at "
                           "%r); ignored", self._path, dim, host_id, type(blob).__name__, trained_at)
                continue
            models[dim] = (blob, float(trained_at))
        return models

    def delete_models(self, host_id: str, dimension_ids: Iterable[str]) -> int:
        """Delete the models of ``dimension_ids`` of ``host_id`` in one transaction.

        Ids without a stored model are ignored. Returns the number of models deleted.
        """
        host_id = _check_host(host_id)
        if isinstance(dimension_ids, (str, bytes)):
            raise TypeError(
                f"dimension_ids must be an iterable of strings, not one string {dimension_ids!r}")
        ids = [_check_dimension_id(f"dimension_ids[{i}]", d) for i, d in enumerate(dimension_ids)]
        if not ids:
            return 0
        with self._transaction("delete models") as conn:
            before = conn.total_changes
            conn.executemany("DELETE FROM models WHERE host_id = ? AND dimension_id = ?",
                             [(host_id, d) for d in ids])
            deleted = conn.total_changes - before
        return deleted


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


_NO_LOCK = _NoLock()
