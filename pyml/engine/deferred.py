"""Database writes of the tick that survive a failing database: kept in order, retried, bounded.

Design
------
The tick stores samples first and then writes to SQLite: the event that
ended on this tick, the models the tick applied, the models of removed
dimensions to delete. If SQLite fails (disk full, a read-only file, an I/O
error) the tick must still complete, and what it wanted to write must not be
lost: each write becomes an operation in one FIFO queue, which
:meth:`DeferredWrites.run` drains in order (so a model saved and then
deleted stays deleted). While the queue is not empty, every new write joins
it behind the older ones, and the queue is retried at most every
``retry_seconds``. Beyond ``max_operations`` the oldest operations are
dropped (each logged once per episode, with what was dropped).

One log line when writes start failing, one when they succeed again; none
per tick.

:class:`DatabaseHandle` lets a host start when its database file cannot be
created yet (a full disk at start-up): reads answer empty until it opens,
writes fail as transient errors (and so are queued), and every attempt to
write tries to open it again. A file that is not a usable pyml database is
still refused at once.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any, Callable

from .db import AnomalyDB, DatabaseError

__all__ = ["DatabaseHandle", "DeferredWrites"]

log = logging.getLogger("pyml.host")


class DatabaseHandle:
    """The host's :class:`AnomalyDB`, opened at once if possible, else at a later write.

    Only transient failures (:attr:`DatabaseError.transient`) defer the
    opening; any other :class:`DatabaseError` propagates from the constructor.
    """

    def __init__(self, path: Any) -> None:
        self.path = str(path)
        self._db: AnomalyDB | None = None
        self._open(first=True)

    def _open(self, first: bool = False) -> AnomalyDB:
        if self._db is None:
            try:
                self._db = AnomalyDB(self.path)
            except DatabaseError as exc:
                if not exc.transient:
                    raise
                if not first:
                    raise
                log.error("%s; starting without it (events and models are kept in memory until it opens)", exc)
                return None  # type: ignore[return-value]
        return self._db

    @property
    def is_open(self) -> bool:
        """Whether the database file is open."""
        return self._db is not None

    def _reader(self) -> AnomalyDB | None:
        return self._db

    def insert_event(self, *args: Any) -> bool:
        """:meth:`AnomalyDB.insert_event`, opening the database first if needed."""
        return self._open().insert_event(*args)

    def save_models(self, *args: Any) -> int:
        """:meth:`AnomalyDB.save_models`, opening the database first if needed."""
        return self._open().save_models(*args)

    def delete_models(self, *args: Any) -> int:
        """:meth:`AnomalyDB.delete_models`, opening the database first if needed."""
        return self._open().delete_models(*args)

    def anomaly_events(self, host_id: str, after_s: int, before_s: int) -> list[list[int]]:
        """:meth:`AnomalyDB.anomaly_events`; ``[]`` while the database is not open."""
        return [] if self._db is None else self._db.anomaly_events(host_id, after_s, before_s)

    def anomaly_event_info(self, host_id: str, after_s: int, before_s: int) -> list[Any] | None:
        """:meth:`AnomalyDB.anomaly_event_info`; None while the database is not open."""
        return None if self._db is None else self._db.anomaly_event_info(host_id, after_s, before_s)

    def load_models(self, host_id: str) -> dict[str, tuple[bytes, float]]:
        """:meth:`AnomalyDB.load_models`; ``{}`` while the database is not open."""
        return {} if self._db is None else self._db.load_models(host_id)

    def close(self) -> None:
        """Close the database if it was opened."""
        if self._db is not None:
            self._db.close()


class DeferredWrites:
    """An ordered queue of database writes, attempted now and retried while the database fails.

    Parameters
    ----------
    db : AnomalyDB or DatabaseHandle
        Where the writes go.
    max_operations : int
        Operations kept while the database fails; the oldest go first beyond it.
    retry_seconds : float
        Least time between two attempts while failing.
    clock : callable
        Monotonic seconds (tests pass a fake one).
    """

    def __init__(self, db: AnomalyDB | DatabaseHandle, *, max_operations: int = 10_000, retry_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.max_operations = int(max_operations)
        self.retry_seconds = float(retry_seconds)
        self._clock = clock
        self._queue: deque[tuple[str, tuple[Any, ...]]] = deque()
        self._failing: str | None = None
        self._next_attempt = 0.0
        self.dropped = 0

    @property
    def failing(self) -> str | None:
        """The database error being lived with, or None when writes go through."""
        return self._failing

    def __len__(self) -> int:
        return len(self._queue)

    def insert_event(self, host_id: str, after: int, before: int, info: Any) -> None:
        """Queue (and try at once, unless failing) one anomaly event."""
        self._add("event", (host_id, after, before, info))

    def save_models(self, host_id: str, rows: list[tuple[str, bytes, float]]) -> None:
        """Queue (and try) saving models."""
        if rows:
            self._add("models", (host_id, rows))

    def delete_models(self, host_id: str, dimension_ids: list[str]) -> None:
        """Queue (and try) deleting models."""
        if dimension_ids:
            self._add("delete", (host_id, dimension_ids))

    def _add(self, kind: str, args: tuple[Any, ...]) -> None:
        self._queue.append((kind, args))
        while len(self._queue) > self.max_operations:
            dropped_kind, dropped = self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("anomaly database %s: %d write(s) dropped so far to stay within %d queued (the oldest "
                          "first; the last one: %s)", self.db.path, self.dropped, self.max_operations,
                          _describe(dropped_kind, dropped))
        self.run()

    def run(self, force: bool = False) -> bool:
        """Write what is queued, oldest first; True when the queue is empty.

        While failing, tries only when ``retry_seconds`` have passed since
        the last attempt (or with ``force``).
        """
        if not self._queue:
            return True
        now = self._clock()
        if self._failing is not None and not force and now < self._next_attempt:
            return False
        while self._queue:
            kind, args = self._queue[0]
            try:
                if kind == "event":
                    self.db.insert_event(*args)
                elif kind == "models":
                    self.db.save_models(*args)
                else:
                    self.db.delete_models(*args)
            except DatabaseError as exc:
                self._next_attempt = now + self.retry_seconds
                if self._failing is None:
                    self._failing = str(exc)
                    log.error("%s; keeping events and models in memory (up to %d writes) and retrying every %g s",
                              exc, self.max_operations, self.retry_seconds)
                return False
            self._queue.popleft()
        if self._failing is not None:
            log.warning("anomaly database %s: writing again; every deferred event and model is stored", self.db.path)
            self._failing = None
        return True


def _describe(kind: str, args: tuple[Any, ...]) -> str:
    if kind == "event":
        return f"event {args[1]}..{args[2]}"
    if kind == "models":
        return f"{len(args[1])} model(s)"
    return f"deletion of {len(args[1])} model(s)"
