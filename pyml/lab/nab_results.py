"""Detector results in NAB's own layout, so NAB's tooling (and pyml) can read them.

NAB keeps one CSV per series and detector at
``<results_dir>/<detector>/<category>/<detector>_<file>.csv`` with columns
``timestamp,value,anomaly_score,label`` (``label`` is 1 for rows inside a
labelled window), timestamps written as in NAB's data files
(``YYYY-MM-DD HH:MM:SS``). NAB derives the series' path by removing
``<detector>_`` from the file name, and its normalisation step splits file
names on ``_`` to find the detector, so detector names must not contain
``_``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Union

import numpy as np

from .._arrays import as_float64
from .labels import Window, as_timestamps, point_labels, read_columns
from .scoring import as_scores

__all__ = ["read_results", "results_path", "write_results"]

PathLike = Union[str, "os.PathLike[str]"]


def _check_detector(detector: str) -> str:
    if not isinstance(detector, str) or not detector:
        raise ValueError(f"detector must be a non-empty name, got {detector!r}")
    bad = [c for c in ("_", "/", "\\", os.sep) if c in detector]
    if bad or detector.startswith(".") or not detector.isprintable():
        raise ValueError(
            f"detector name {detector!r} cannot be used: NAB splits result file names on '_' and "
            "uses the name as a directory (no '_', path separators or leading '.')"
        )
    return detector


def _check_relative(relative_path: str) -> PurePosixPath:
    path = PurePosixPath(relative_path) if isinstance(relative_path, str) else None
    if path is None or len(path.parts) != 2 or path.is_absolute() or any(p in ("", ".", "..") for p in path.parts):
        raise ValueError(f"series path must be '<category>/<file>.csv' as in NAB's labels, got {relative_path!r}")
    if path.suffix != ".csv":
        raise ValueError(f"series path must name a .csv file, got {relative_path!r}")
    return path


def results_path(results_dir: PathLike, detector: str, relative_path: str) -> Path:
    """Where NAB expects ``detector``'s results for the series ``relative_path``.

    ``results_path("results", "pyml", "realKnownCause/nyc_taxi.csv")`` is
    ``results/pyml/realKnownCause/pyml_nyc_taxi.csv``.
    """
    rel = _check_relative(relative_path)
    detector = _check_detector(detector)
    return Path(results_dir) / detector / rel.parts[0] / f"{detector}_{rel.parts[1]}"


def _format_times(timestamps: np.ndarray) -> list[str]:
    return [s.replace("T", " ") for s in np.datetime_as_string(timestamps, unit="s").tolist()]


def write_results(
    results_dir: PathLike,
    detector: str,
    results: Mapping[str, Sequence[Any]],
    windows: Mapping[str, Sequence[Window]],
) -> list[Path]:
    """Write a detector's results in NAB's layout; return the files written.

    ``results`` maps each series' relative path to ``(timestamps, values,
    anomaly_scores)``; ``windows`` is as from ``labels.load_windows`` and
    gives the ``label`` column (NAB's rule: ``start <= timestamp <= end``).
    Everything is validated before the first file is written; each file is
    written to a temporary name and renamed into place.
    """
    detector = _check_detector(detector)
    prepared = []
    for name in sorted(results):
        target = results_path(results_dir, detector, name)
        entry = results[name]
        if isinstance(entry, (str, bytes)) or not isinstance(entry, Sequence) or len(entry) != 3:
            raise TypeError(f"results[{name!r}] must be a (timestamps, values, anomaly_scores) triple")
        stamps = as_timestamps(f"results[{name!r}] timestamps", entry[0])
        values = as_float64(f"results[{name!r}] values", entry[1])
        if values.shape != stamps.shape:
            raise ValueError(f"results[{name!r}] values has shape {values.shape}; expected {stamps.shape} like its timestamps")
        scores = as_scores(f"results[{name!r}] anomaly_scores", entry[2], len(stamps))
        if name not in windows:
            raise ValueError(f"results[{name!r}] has no entry in windows (a series without anomalies needs an empty list)")
        labels = point_labels(stamps, windows[name])
        prepared.append((target, stamps, values, scores, labels))

    written = []
    for target, stamps, values, scores, labels in prepared:
        target.parent.mkdir(parents=True, exist_ok=True)
        rows = zip(_format_times(stamps), values.tolist(), scores.tolist(), labels.tolist())
        body = "".join(f"{t},{v!r},{s!r},{lab}\n" for t, v, s, lab in rows)
        tmp = target.with_name(f".{target.name}.tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write("timestamp,value,anomaly_score,label\n")
            f.write(body)
        os.replace(tmp, target)
        written.append(target)
    return written


def read_results(results_dir: PathLike, detector: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read a detector's results from NAB's layout as ``{relative path: (timestamps, scores)}``.

    Reads every ``<results_dir>/<detector>/<category>/<detector>_*.csv`` (NAB's
    own published results too; extra columns are ignored), ready for
    ``scoring.score_corpus``. Missing columns or malformed rows raise
    ``ValueError`` naming the file and line.
    """
    detector = _check_detector(detector)
    root = Path(results_dir) / detector
    if not root.is_dir():
        raise FileNotFoundError(f"no results for detector {detector!r}: {root} is not a directory")
    prefix = f"{detector}_"
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for path in sorted(root.glob(f"*/{prefix}*.csv")):
        times, (scores,) = read_columns(path, ["anomaly_score"])
        out[f"{path.parent.name}/{path.name[len(prefix):]}"] = (times, scores)
    return out
