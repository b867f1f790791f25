"""The event loop the sources run on: uvloop's when it is installed, else asyncio's.

A source group's thread spends about a sixth of its time in the event loop
itself (the selector, timers, futures and the transports' callbacks; asyncio's
loop under cProfile), a few microseconds per poll at each step. uvloop (libuv,
in C) runs the same asyncio protocols, transports and futures with less of
that cost: on the 50 x 2,000-dimension benchmark the sources' thread took
about 13 % less CPU on it than on asyncio's loop (medians of four alternated
rounds; README, "ML for Netdata agents"). It is part of the ``fast`` extra;
nothing else changes with it, and the tests run the HTTP client and the
sources on both loops.

``event_loop`` names the loop: ``"auto"`` (uvloop if importable, else
asyncio), ``"asyncio"`` or ``"uvloop"`` (an error when uvloop is missing).
"""

from __future__ import annotations

import asyncio
from typing import Callable

__all__ = ["EVENT_LOOPS", "event_loop_factory", "resolve_event_loop"]

EVENT_LOOPS = ("auto", "asyncio", "uvloop")


def resolve_event_loop(event_loop: str) -> str:
    """``"asyncio"`` or ``"uvloop"``: which loop ``event_loop`` means on this installation.

    Raises ValueError for a name not in :data:`EVENT_LOOPS`, and
    RuntimeError for ``"uvloop"`` when uvloop is not installed.
    """
    if event_loop not in EVENT_LOOPS:
        raise ValueError(f"event_loop must be one of {', '.join(EVENT_LOOPS)}; got {event_loop!r}")
    if event_loop == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if event_loop == "uvloop":
            raise RuntimeError("event_loop 'uvloop' needs the uvloop package "
                               "(pip install 'pyml-anomaly[fast]')") from None
        return "asyncio"
    return "uvloop"


def event_loop_factory(event_loop: str = "auto") -> Callable[[], asyncio.AbstractEventLoop]:
    """A function making a new event loop of the kind ``event_loop`` names (see :func:`resolve_event_loop`)."""
    if resolve_event_loop(event_loop) == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop
