"""One pool of training threads shared by many hosts, scheduled fairly.

A process that serves many hosts (a Netdata parent's job) should not start
one training thread per host: 50 hosts would mean 50 threads fighting for two
cores, and a host that registers 100,000 dimensions at once would queue work
that every other host waits behind. The pool has a fixed number of threads;
each host is a *client* with its own FIFO of work items (the slots its
scheduler says are due) and one training function.

Fairness is by time, the way a CPU scheduler shares a core. Every client has a
virtual time: the wall seconds its batches have taken so far. A free thread
takes the next batch (up to ``batch`` items) from the waiting client with the
smallest virtual time, so a host with a little work gets a turn between two
batches of a host with a lot, whatever their sizes. A client that was idle
re-enters at the smallest virtual time of the clients already waiting (no
credit is saved up while idle), and at most one batch per client runs at a
time, so a client's training function is never called concurrently with
itself (a host's bank trains one batch at a time).

The pool knows nothing of hosts: a client is a name and a callable taking a
list of items. :class:`pyml.Host` registers itself when built with
``training_pool=`` and calls :meth:`PoolClient.submit` from its tick.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any, Callable, Sequence

log = logging.getLogger("pyml.training_pool")

__all__ = ["TrainingPool", "PoolClient"]


class PoolClient:
    """One host's place in a :class:`TrainingPool` (made by :meth:`TrainingPool.register`)."""

    def __init__(self, pool: "TrainingPool", name: str, train: Callable[[list[Any]], Any]) -> None:
        self.pool = pool
        self.name = name
        self._train = train
        self._queue: deque[Any] = deque()
        self._running = False          # a batch of this client is on a thread now
        self._closed = False
        self.vtime = 0.0               # wall seconds of training so far (the fairness clock)
        self.batches = 0               # batches run
        self.items = 0                 # items trained

    def submit(self, items: Sequence[Any]) -> None:
        """Queue work items (in order) for this client's training function."""
        self.pool._submit(self, items)

    @property
    def pending(self) -> int:
        """Items queued or in the batch running now."""
        with self.pool._cond:
            return len(self._queue) + (1 if self._running else 0)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until this client has nothing queued or running; False on timeout."""
        deadline = time.monotonic() + timeout
        with self.pool._cond:
            while self._queue or self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.pool._cond.wait(left)
            return True

    def close(self) -> None:
        """Drop queued items, wait for a running batch to finish, and leave the pool."""
        self.pool._unregister(self)


class TrainingPool:
    """A fixed set of training threads shared fairly by many clients (hosts).

    Parameters
    ----------
    threads : int
        Training threads (each runs one client's batch at a time).
    batch : int
        Largest number of items one turn hands to a client's training function.
    name : str
        Prefix of the threads' names.
    """

    def __init__(self, threads: int = 2, batch: int = 16, name: str = "pyml-train") -> None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be a positive integer, got {batch!r}")
        self.batch = batch
        self._cond = threading.Condition()
        self._clients: list[PoolClient] = []
        self._closing = False
        self._threads = [threading.Thread(target=self._worker, name=f"{name}-{i}", daemon=True)
                         for i in range(threads)]
        for t in self._threads:
            t.start()

    # ------------------------------------------------------------------ clients

    def register(self, name: str, train: Callable[[list[Any]], Any]) -> PoolClient:
        """A new client; ``train(items)`` is called on a pool thread with up to ``batch`` items."""
        if not callable(train):
            raise TypeError(f"train must be callable, got {train!r}")
        client = PoolClient(self, str(name), train)
        with self._cond:
            if self._closing:
                raise RuntimeError("the training pool is closed")
            client.vtime = min((c.vtime for c in self._clients), default=0.0)
            self._clients.append(client)
        return client

    def clients(self) -> list[PoolClient]:
        """The registered clients."""
        with self._cond:
            return list(self._clients)

    def _submit(self, client: PoolClient, items: Sequence[Any]) -> None:
        if not items:
            return
        with self._cond:
            if client._closed:
                return
            if not client._queue and not client._running:
                waiting = [c.vtime for c in self._clients if c is not client and (c._queue or c._running)]
                if waiting:  # no credit for the time spent idle
                    client.vtime = max(client.vtime, min(waiting))
            client._queue.extend(items)
            self._cond.notify()

    def _unregister(self, client: PoolClient) -> None:
        with self._cond:
            client._closed = True
            client._queue.clear()
            while client._running:
                self._cond.wait()
            if client in self._clients:
                self._clients.remove(client)
            self._cond.notify_all()

    # ------------------------------------------------------------------ threads

    def _next(self) -> tuple[PoolClient, list[Any]] | None:
        """The waiting client with the least virtual time and its batch (called with the lock held)."""
        best: PoolClient | None = None
        for c in self._clients:
            if c._queue and not c._running and (best is None or c.vtime < best.vtime):
                best = c
        if best is None:
            return None
        n = min(self.batch, len(best._queue))
        items = [best._queue.popleft() for _ in range(n)]
        best._running = True
        return best, items

    def _worker(self) -> None:
        while True:
            with self._cond:
                job = self._next()
                while job is None:
                    if self._closing:
                        return
                    self._cond.wait()
                    job = self._next()
            client, items = job
            started = time.perf_counter()
            try:
                client._train(items)
            except Exception:  # one client's failure never stops the pool
                log.exception("training of %d items of %s failed", len(items), client.name)
            finally:
                elapsed = time.perf_counter() - started
                with self._cond:
                    client.vtime += elapsed
                    client.batches += 1
                    client.items += len(items)
                    client._running = False
                    self._cond.notify_all()

    def close(self, timeout: float = 30.0) -> None:
        """Stop the threads after their current batches; queued work is dropped."""
        with self._cond:
            self._closing = True
            for c in self._clients:
                c._queue.clear()
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)

    def __enter__(self) -> "TrainingPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
