"""A progress bar on stderr for long work (replays, sweeps, the demo): tqdm, else a line rewritten in place.

Lines printed while a bar is drawn must not land on top of it: in a terminal,
stdout and stderr share one screen, and the bar's line has no newline until it
ends. :func:`write` is the one way to print such a line: it clears every open
bar, prints, and draws the bars again below (tqdm's ``tqdm.write`` does the same
for tqdm's own bars). Open bars are tracked in this module, as tqdm tracks its
instances; a bar leaves the registry when it is closed.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

__all__ = ["Progress", "write"]

# tqdm's short unit names for the units the lab counts
_TQDM_UNITS = {"points": "pt", "ticks": "tick", "files": "file", "tasks": "task", "plots": "plot"}
# units counted in thousands and more, shown with SI prefixes by tqdm
_SCALED_UNITS = ("points", "ticks")

_open_bars: list[Progress] = []
_lock = threading.RLock()


class Progress:
    """Progress over ``total`` units of work, labelled ``label``; does nothing unless ``enabled``.

    With tqdm installed (the ``demo`` extra) it draws a tqdm bar; without, it
    rewrites ``label: done/total unit (pct%)`` on stderr at most five times a
    second. Print lines meant to appear while it is drawn with :func:`write`.
    """

    def __init__(self, total: int, label: str, enabled: bool, unit: str = "points") -> None:
        self.total, self.label, self.unit, self.done = total, label, unit, 0
        self._bar: Any = None
        self._enabled = enabled
        self._last = 0.0
        self._drawn = False  # the fallback line is on the screen
        if not enabled:
            return
        with _lock:
            _open_bars.append(self)
        try:
            from tqdm import tqdm  # type: ignore[import-untyped]
        except ImportError:
            return
        self._bar = tqdm(total=total, desc=label, unit=_TQDM_UNITS.get(unit, unit), unit_scale=unit in _SCALED_UNITS,
                         leave=False, file=sys.stderr)

    def update(self, n: int = 1) -> None:
        """``n`` more units done."""
        if not self._enabled or n <= 0:
            return
        with _lock:
            self.done += n
            if self._bar is not None:
                self._bar.update(n)
                return
            now = time.monotonic()
            if now - self._last >= 0.2 or self.done >= self.total:
                self._last = now
                self._draw()

    def _line(self) -> str:
        pct = 100.0 * self.done / self.total if self.total else 100.0
        return f"{self.label}: {self.done}/{self.total} {self.unit} ({pct:5.1f}%)"

    def _draw(self) -> None:
        sys.stderr.write("\r" + self._line())
        sys.stderr.flush()
        self._drawn = True

    def _clear(self) -> None:
        """Take the bar off its line (the cursor ends at the line's start)."""
        if self._bar is not None:
            self._bar.clear()
        elif self._drawn:
            sys.stderr.write("\r" + " " * len(self._line()) + "\r")
            sys.stderr.flush()
            self._drawn = False

    def _redraw(self) -> None:
        if self._bar is not None:
            self._bar.refresh()
        elif self.done:
            self._draw()

    def close(self) -> None:
        """End the bar (a newline after the rewritten line)."""
        if not self._enabled:
            return
        with _lock:
            if self in _open_bars:
                _open_bars.remove(self)
            if self._bar is not None:
                self._bar.close()
            else:
                sys.stderr.write("\n")
                sys.stderr.flush()
            self._enabled = False


def write(text: str, file: TextIO | None = None) -> None:
    """Print ``text`` and a newline to ``file`` (default stdout) without breaking any open progress bar.

    Open bars are cleared first and drawn again after the line, so in a
    terminal the line appears above the bar instead of on top of it. With no
    bar open this is ``print(text, file=file)`` followed by a flush.
    """
    out = sys.stdout if file is None else file
    with _lock:
        bars = list(_open_bars)
        for bar in bars:
            bar._clear()
        print(text, file=out)
        out.flush()
        for bar in bars:
            bar._redraw()
