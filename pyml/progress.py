"""A progress bar on stderr for long work (replays, sweeps, the demo): tqdm when installed, else a line rewritten in place."""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["Progress"]

# tqdm's short unit names for the units the lab counts
_TQDM_UNITS = {"points": "pt", "ticks": "tick", "files": "file", "tasks": "task"}
# units counted in thousands and more, shown with SI prefixes by tqdm
_SCALED_UNITS = ("points", "ticks")


class Progress:
    """Progress over ``total`` units of work, labelled ``label``; does nothing unless ``enabled``.

    With tqdm installed (the ``demo`` extra) it draws a tqdm bar; without, it
    rewrites ``label: done/total unit (pct%)`` on stderr at most five times a
    second.
    """

    def __init__(self, total: int, label: str, enabled: bool, unit: str = "points") -> None:
        self.total, self.label, self.unit, self.done = total, label, unit, 0
        self._bar: Any = None
        self._enabled = enabled
        self._last = 0.0
        if not enabled:
            return
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
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last >= 0.2 or self.done >= self.total:
            self._last = now
            pct = 100.0 * self.done / self.total if self.total else 100.0
            sys.stderr.write(f"\r{self.label}: {self.done}/{self.total} {self.unit} ({pct:5.1f}%)")
            sys.stderr.flush()

    def close(self) -> None:
        """End the bar (a newline after the rewritten line)."""
        if not self._enabled:
            return
        if self._bar is not None:
            self._bar.close()
        else:
            sys.stderr.write("\n")
            sys.stderr.flush()
