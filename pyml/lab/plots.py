"""PNG of one replay: values, anomaly score, labelled windows and detections (matplotlib, Agg backend).

matplotlib is imported lazily, when a plot is drawn; without it the error
names the extra that installs it (``pip install 'pyml-anomaly[plot]'``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from ..plot import import_pyplot
from .labels import parse_windows

if TYPE_CHECKING:
    from .replay import ReplayResult

__all__ = ["format_threshold", "plot_replay", "require_matplotlib"]

PathLike = Union[str, "os.PathLike[str]"]

_WINDOW_COLOUR = "#f2c14e"
_EVENT_COLOUR = "#c44e52"
_VALUE_COLOUR = "#4c72b0"
_SCORE_COLOUR = "#55a868"


def format_threshold(threshold: float) -> str:
    """A score threshold as text that tells it apart from 1 and 0: ``0.9999999967``, not ``1.000``.

    NAB's optimised thresholds often sit a few 1e-9 below 1; fixed three
    decimals would round them to ``1.000``. The text keeps three decimals, or
    as many more as the distance to 1 (or to 0) needs to show two significant
    digits, up to float precision.
    """
    t = float(threshold)
    if not math.isfinite(t):
        return repr(t)
    decimals = 3
    for distance in (1.0 - t, t):
        if 0.0 < distance < 1e-3:
            decimals = max(decimals, min(16, -math.floor(math.log10(distance)) + 1))
    return f"{t:.{decimals}f}"


def require_matplotlib() -> Any:
    """Import matplotlib with the Agg backend and return ``matplotlib.pyplot``.

    Raises ``ImportError`` naming the ``plot`` (or ``demo``) extra when
    matplotlib is not installed.
    """
    return import_pyplot("plots need matplotlib: pip install 'pyml-anomaly[plot]' (or the 'demo' extra), "
                         "or pass --plots none")


def plot_replay(
    result: ReplayResult,
    path: PathLike,
    windows: Sequence[Any] = (),
    *,
    threshold: float | None = None,
    title: str | None = None,
    dpi: int = 100,
) -> Path:
    """Draw one replay into a PNG at ``path`` and return the path (parent directories are created).

    The top panel shows the values (every dimension), the bottom one the
    anomaly score (the highest over the dimensions, in [0, 1]). Both shade the
    labelled ``windows`` (``[(start, end), ...]`` as in NAB's
    ``combined_windows.json``) and the host's anomaly events
    (``result.events``). With ``threshold`` (e.g. a NAB profile's optimised
    threshold) the score panel draws it and marks the points at or above it.
    """
    out = Path(path)
    if out.suffix.lower() != ".png":
        raise ValueError(f"a plot is a PNG; give a path ending in .png, got {str(path)!r}")
    if threshold is not None and not np.isfinite(threshold):
        threshold = None  # NAB's "no detection" threshold lies above every score
    bounds = parse_windows(result.name, list(windows))
    plt = require_matplotlib()
    out.parent.mkdir(parents=True, exist_ok=True)

    times = result.timestamps.astype("datetime64[s]").astype(object)
    score = result.anomaly_score
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 5), sharex=True, layout="constrained",
                                      gridspec_kw={"height_ratios": (3, 2)})
    try:
        for j, column in enumerate(result.columns):
            top.plot(times, result.values[:, j], linewidth=0.7, label=column,
                     color=_VALUE_COLOUR if len(result.columns) == 1 else None)
        bottom.plot(times, score, color=_SCORE_COLOUR, linewidth=0.7, label="anomaly score")
        for ax in (top, bottom):
            for i, (start, end) in enumerate(bounds):
                ax.axvspan(start.astype(object), end.astype(object), color=_WINDOW_COLOUR, alpha=0.35, linewidth=0,
                           label="labelled window" if i == 0 and ax is top else None)
            for i, (after, before) in enumerate(result.events):
                ax.axvspan(np.datetime64(int(after), "s").astype(object),
                           np.datetime64(int(max(before, after + 1)), "s").astype(object),
                           color=_EVENT_COLOUR, alpha=0.25, linewidth=0,
                           label="anomaly event" if i == 0 and ax is top else None)
        if threshold is not None:
            bottom.axhline(threshold, color="#333333", linewidth=0.8, linestyle="--",
                           label=f"threshold {format_threshold(threshold)}")
            hits = np.flatnonzero(score >= threshold)
            if hits.size:
                bottom.scatter(times[hits], score[hits], s=6, color=_EVENT_COLOUR, zorder=3, label="detected")
        bottom.set_ylim(-0.02, 1.05)
        bottom.set_ylabel("score")
        top.set_ylabel("value")
        top.set_title(title if title is not None else result.name, fontsize=10, loc="left")
        top.legend(loc="upper left", fontsize=7, ncol=4)
        bottom.legend(loc="upper left", fontsize=7, ncol=3)
        fig.savefig(out, dpi=dpi)
    finally:
        plt.close(fig)
    return out
