"""Scoring anomaly detections against labelled windows: NAB's score and event metrics.

NAB score (Lavin & Ahmad 2015, and NAB v1.1's scorer), per profile:

- The first 15 % of each series (at most 750 rows: ``min(floor(0.15 n),
  0.15 * 5000)``) is the probationary period; rows there are ignored.
- A row is a detection when its anomaly score is ``>= threshold``.
- Inside a window of ``w`` rows whose last row is ``e``, row ``i`` sits at
  relative position ``y = -(e - i + 1) / w`` (``-1`` at the window's first
  row) and is worth ``tp_weight * sigma(y) / sigma(-1)``, where ``sigma(y) =
  2 / (1 + exp(5 y)) - 1`` is the scaled sigmoid (``-1`` when ``y > 3``).
  Only the earliest detection in a window counts; a window without
  detection costs ``-fn_weight``; later detections in a window are ignored.
- A detection outside every window costs ``fp_weight * sigma(y)`` (a
  negative value): after a window of ``w`` rows ending at row ``e``,
  ``y = (i - e) / (w - 1)``; before any window it is ``-fp_weight``.
- The raw score sums these over the corpus; the threshold is the one (per
  profile, shared by all series) that maximises the raw score, searched over
  every distinct anomaly score. The score reported is normalised:
  ``100 * (raw - null) / (perfect - null)`` where ``perfect = tp_weight *
  (number of windows)`` and ``null`` is the raw score of NAB's null detector
  (a constant score, so either nothing or everything is detected) at its own
  best threshold.

Differences from NAB's code, all outside what its corpus exercises: a window
of a single row has no extent, so a false positive after it costs the full
``-fp_weight`` (NAB divides by zero); a threshold below every score detects
every row (NAB's scorer finds no matching row).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from .._arrays import as_count, as_float64
from .labels import (
    NAB_PROFILES,
    CostMatrix,
    as_timestamps,
    load_profiles,
    parse_windows,
    window_bounds,
)

__all__ = [
    "DEFAULT_PROBATIONARY_PERCENT",
    "NO_DETECTION_THRESHOLD",
    "EventMetrics",
    "FileScore",
    "ProfileScore",
    "as_scores",
    "event_metrics",
    "probationary_length",
    "scaled_sigmoid",
    "score_corpus",
    "threshold_scores",
]

#: NAB's probationary period: this fraction of each series, capped at 5000 * it rows.
DEFAULT_PROBATIONARY_PERCENT = 0.15
#: The threshold NAB reports when the best choice is to detect nothing.
NO_DETECTION_THRESHOLD = 1.1

Results = Mapping[str, Sequence[Any]]
Profiles = Union[Mapping[str, Any], None]


def scaled_sigmoid(position: Any) -> np.ndarray:
    """NAB's scaled sigmoid ``2 / (1 + exp(5 y)) - 1``, and ``-1`` where ``y > 3``.

    ``y = -1`` (a window's first row) gives 0.98661..., ``y = 0`` gives 0, and
    ``y = 1`` gives -0.98661... Works elementwise; returns float64.
    """
    y = np.asarray(position, dtype=np.float64)
    clipped = np.minimum(y, 3.0)
    value = 2.0 * (1.0 / (1.0 + np.exp(5.0 * clipped))) - 1.0
    return np.where(y > 3.0, -1.0, value)


_MAX_TP = float(scaled_sigmoid(-1.0))


def probationary_length(n_points: int, probationary_percent: float = DEFAULT_PROBATIONARY_PERCENT) -> int:
    """Number of leading rows NAB ignores in a series of ``n_points`` rows.

    NAB's rule is ``min(floor(p * n), p * 5000)`` (750 rows at p = 0.15),
    and a row is scored when its index is at least that.
    """
    n_points = as_count("n_points", n_points, 0, "a non-negative integer")
    _check_percent(probationary_percent)
    limit = min(math.floor(probationary_percent * n_points), probationary_percent * 5000)
    return math.ceil(limit)


def _check_percent(p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"probationary_percent must be a number in [0, 1), got {p!r}")
    return float(p)


# --------------------------------------------------------------------------- layout


@dataclass
class _File:
    """One series prepared for scoring: which rows count and what each is worth unweighted."""

    name: str
    timestamps: np.ndarray  # datetime64[s], n
    scores: np.ndarray  # float64, n
    bounds: np.ndarray  # int64 (k, 2)
    first_scored: int  # rows before this index are probationary
    unweighted: np.ndarray  # float64, n: sigma(position) in a window, the FP sigma outside
    window: np.ndarray  # int64, n: window index in this file, -1 outside


def as_scores(name: str, scores: Any, n: int) -> np.ndarray:
    """``scores`` as a float64 array of ``n`` anomaly scores in [0, 1] (booleans become 0 and 1).

    Raises ``ValueError`` naming ``name`` and the first bad position (NaN,
    outside [0, 1], wrong length), ``TypeError`` for non-numeric data.
    """
    arr = as_float64(name, scores)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} has shape {arr.shape}; expected ({n},) like its timestamps")
    bad = ~((arr >= 0.0) & (arr <= 1.0))  # also catches NaN
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{i}] = {float(arr[i])!r} is not an anomaly score in [0, 1]")
    return arr


def _unweighted(n: int, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the unweighted sigmoid value and the index of the window holding it (-1 if none)."""
    rows = np.arange(n, dtype=np.int64)
    unweighted = np.full(n, -1.0)
    window = np.full(n, -1, dtype=np.int64)
    if not len(bounds) or not n:
        return unweighted, window
    starts, ends = bounds[:, 0], bounds[:, 1]
    width = (ends - starts + 1).astype(np.float64)
    j = np.searchsorted(starts, rows, side="right") - 1
    jc = np.maximum(j, 0)
    inside = (j >= 0) & (rows <= ends[jc])
    window[inside] = j[inside]
    r, w = rows[inside], jc[inside]
    unweighted[inside] = scaled_sigmoid(-(ends[w] - r + 1) / width[w])
    prev = np.searchsorted(ends, rows, side="left") - 1  # the last window ending before the row
    after = ~inside & (prev >= 0)
    r, p = rows[after], prev[after]
    extent = width[p] - 1.0
    with np.errstate(divide="ignore"):
        position = np.where(extent > 0, (r - ends[p]) / np.where(extent > 0, extent, 1.0), np.inf)
    unweighted[after] = scaled_sigmoid(position)
    return unweighted, window


def _prepare(results: Results, windows: Mapping[str, Sequence[Any]], probationary_percent: float) -> list[_File]:
    """Validate every series before any scoring, and lay each out."""
    _check_percent(probationary_percent)
    if not isinstance(results, Mapping):
        raise TypeError(f"results must map relative paths to (timestamps, scores), got {type(results).__name__}")
    if not isinstance(windows, Mapping):
        raise TypeError(f"windows must map relative paths to window lists, got {type(windows).__name__}")
    files = []
    for name in sorted(results):
        entry = results[name]
        if isinstance(entry, (str, bytes)) or not isinstance(entry, Sequence) or len(entry) != 2:
            raise TypeError(f"results[{name!r}] must be a (timestamps, scores) pair")
        if name not in windows:
            raise ValueError(f"results[{name!r}] has no entry in windows (a series without anomalies needs an empty list)")
        stamps = as_timestamps(f"results[{name!r}] timestamps", entry[0])
        scores = as_scores(f"results[{name!r}] scores", entry[1], len(stamps))
        bounds = window_bounds(stamps, parse_windows(name, windows[name]), name=name)
        unweighted, window = _unweighted(len(stamps), bounds)
        first = probationary_length(len(stamps), probationary_percent)
        files.append(_File(name, stamps, scores, bounds, first, unweighted, window))
    return files


@dataclass
class _Corpus:
    """The scored rows of all series, concatenated, with what the sweep needs."""

    files: list[_File]
    scores: np.ndarray  # scored rows only
    unweighted: np.ndarray
    window: np.ndarray  # corpus-wide window id, -1 outside
    file_of: np.ndarray  # file index of each scored row
    window_file: np.ndarray  # file index of each corpus-wide window id
    window_scored: np.ndarray  # bool: the window has at least one scored row
    n_windows: int  # all windows, scored or not (NAB's count for the perfect score)


def _cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def _concatenate(files: list[_File]) -> _Corpus:
    scores: list[np.ndarray] = []
    unweighted: list[np.ndarray] = []
    window: list[np.ndarray] = []
    file_of: list[np.ndarray] = []
    window_file: list[np.ndarray] = []
    offset = 0
    for index, f in enumerate(files):
        keep = slice(f.first_scored, None)
        scores.append(f.scores[keep])
        unweighted.append(f.unweighted[keep])
        local = f.window[keep]
        window.append(np.where(local >= 0, local + offset, -1))
        file_of.append(np.full(local.shape[0], index, dtype=np.int64))
        window_file.append(np.full(len(f.bounds), index, dtype=np.int64))
        offset += len(f.bounds)
    window_all = _cat(window, np.int64)
    scored = np.zeros(offset, dtype=bool)
    scored[window_all[window_all >= 0]] = True
    return _Corpus(
        files,
        _cat(scores, np.float64),
        _cat(unweighted, np.float64),
        window_all,
        _cat(file_of, np.int64),
        _cat(window_file, np.int64),
        scored,
        offset,
    )


# --------------------------------------------------------------------------- threshold sweep


@dataclass
class _Sweep:
    """Rows in decreasing score order and, for window rows, the best position reached so far."""

    sorted_scores: np.ndarray
    fp_unweighted: np.ndarray  # per sorted row: its FP sigmoid (0 for window rows)
    window_rows: np.ndarray  # positions (in sorted order) of window rows
    best_new: np.ndarray  # per window row: sigmoid of its window's earliest detection once it is detected
    best_old: np.ndarray  # ... just before it is detected (NaN for the window's first detection)
    ends: np.ndarray  # last sorted position of each group of equal scores


def _sweep(corpus: _Corpus) -> _Sweep:
    order = np.argsort(-corpus.scores, kind="stable")
    sorted_scores = corpus.scores[order]
    window = corpus.window[order]
    in_window = window >= 0
    fp_unweighted = np.where(in_window, 0.0, corpus.unweighted[order])
    rows = np.flatnonzero(in_window)
    # Group the window rows by window, keeping decreasing-score order within a
    # group; the running minimum of the row index within each group is the
    # earliest detected row at that threshold. A single running maximum of
    # (group * span - index) resets at each group because the groups' ranges
    # are disjoint and increasing.
    group = window[rows]
    by_group = np.argsort(group, kind="stable")
    group_sorted = group[by_group]
    index = order[rows][by_group]  # row index in the scored concatenation: increasing along each series
    span = np.int64(len(corpus.scores) + 1)
    earliest = group_sorted * span - np.maximum.accumulate(group_sorted * span - index)
    best = corpus.unweighted[earliest]
    first_in_group = np.ones(len(group_sorted), dtype=bool)
    first_in_group[1:] = group_sorted[1:] != group_sorted[:-1]
    previous = np.empty_like(best)
    previous[1:] = best[:-1]
    previous[first_in_group] = np.nan
    best_new = np.empty_like(best)
    best_old = np.empty_like(best)
    best_new[by_group] = best
    best_old[by_group] = previous
    if len(sorted_scores):
        ends = np.append(np.flatnonzero(sorted_scores[1:] != sorted_scores[:-1]), len(sorted_scores) - 1)
    else:
        ends = np.empty(0, dtype=np.int64)
    return _Sweep(sorted_scores, fp_unweighted, rows, best_new, best_old, ends)


def _curve(corpus: _Corpus, sweep: _Sweep, cost: CostMatrix) -> tuple[np.ndarray, np.ndarray]:
    """Raw corpus score at each candidate threshold, thresholds decreasing from 1.1."""
    delta = cost.fp_weight * sweep.fp_unweighted
    weighted_new = sweep.best_new * cost.tp_weight / _MAX_TP
    first = np.isnan(sweep.best_old)
    weighted_old = np.where(first, -cost.fn_weight, sweep.best_old * cost.tp_weight / _MAX_TP)
    delta[sweep.window_rows] = weighted_new - weighted_old
    base = -cost.fn_weight * float(np.count_nonzero(corpus.window_scored))
    totals = base + np.cumsum(delta)[sweep.ends]
    thresholds = np.concatenate(([NO_DETECTION_THRESHOLD], sweep.sorted_scores[sweep.ends]))
    return thresholds, np.concatenate(([base], totals))


def _optimise(corpus: _Corpus, sweep: _Sweep, cost: CostMatrix) -> float:
    """The threshold maximising the raw score; the highest one among equal scores, as NAB picks.

    The running sum of the sweep drifts by ~1e-9 over NAB's 365,000 rows, so
    candidates within 1e-6 of the maximum are scored again directly (series
    by series, then an exact sum) before choosing. Candidates with exactly
    equal sweep totals differ only by detections that change nothing; only
    the highest threshold of each is rescored.
    """
    thresholds, totals = _curve(corpus, sweep, cost)
    top = float(totals.max())
    near = np.flatnonzero(totals >= top - 1e-6 * max(1.0, abs(top)))
    _, first = np.unique(totals[near], return_index=True)
    candidates = near[np.sort(first)][:32]
    if len(candidates) == 1:
        return float(thresholds[candidates[0]])
    rescored = [_at_threshold(corpus, cost, float(thresholds[i]))[1] for i in candidates]
    return float(thresholds[candidates[int(np.argmax(rescored))]])


# --------------------------------------------------------------------------- scores at a threshold


@dataclass(frozen=True)
class FileScore:
    """NAB's result for one series at one threshold.

    ``score`` is the raw (unnormalised) contribution of the series. ``tp``,
    ``tn``, ``fp``, ``fn`` count scored rows as NAB does (a detected row in a
    window is a tp, an undetected one a fn, and so on). ``windows`` counts
    windows with at least one scored row, ``windows_detected`` those of them
    with a detection.
    """

    score: float
    tp: int
    tn: int
    fp: int
    fn: int
    windows: int
    windows_detected: int
    rows: int
    probationary_rows: int


@dataclass(frozen=True)
class ProfileScore:
    """NAB's result for one profile over the corpus.

    ``score`` is normalised: 0 for the null detector, 100 for the perfect
    one. ``raw``, ``null`` and ``perfect`` are the unnormalised totals it comes
    from; ``threshold`` the threshold used (optimised unless given).
    """

    profile: str
    cost: CostMatrix
    threshold: float
    score: float
    raw: float
    null: float
    perfect: float
    tp: int
    tn: int
    fp: int
    fn: int
    windows: int
    windows_detected: int
    files: dict[str, FileScore] = field(repr=False)


def _at_threshold(corpus: _Corpus, cost: CostMatrix, threshold: float) -> tuple[dict[str, FileScore], float]:
    n_files = len(corpus.files)
    detected = corpus.scores >= threshold
    in_window = corpus.window >= 0
    fp_rows = detected & ~in_window
    fp_total = np.bincount(corpus.file_of[fp_rows], weights=cost.fp_weight * corpus.unweighted[fp_rows], minlength=n_files)
    # The earliest detection of each window: rows are in series order, so the
    # first occurrence of a window id among detected rows.
    hits = np.flatnonzero(detected & in_window)
    hit_windows, first = np.unique(corpus.window[hits], return_index=True)
    value = np.full(corpus.n_windows, -cost.fn_weight)
    value[hit_windows] = corpus.unweighted[hits[first]] * cost.tp_weight / _MAX_TP
    value[~corpus.window_scored] = 0.0
    window_total = np.bincount(corpus.window_file, weights=value, minlength=n_files)

    def per_file(mask: np.ndarray) -> np.ndarray:
        return np.bincount(corpus.file_of[mask], minlength=n_files)

    tp, fp = per_file(detected & in_window), per_file(fp_rows)
    fn, tn = per_file(~detected & in_window), per_file(~detected & ~in_window)
    n_scored = np.bincount(corpus.window_file[corpus.window_scored], minlength=n_files)
    n_hit = np.bincount(corpus.window_file[hit_windows], minlength=n_files)
    out = {}
    for i, f in enumerate(corpus.files):
        out[f.name] = FileScore(
            score=float(fp_total[i] + window_total[i]),
            tp=int(tp[i]),
            tn=int(tn[i]),
            fp=int(fp[i]),
            fn=int(fn[i]),
            windows=int(n_scored[i]),
            windows_detected=int(n_hit[i]),
            rows=len(f.scores),
            probationary_rows=min(f.first_scored, len(f.scores)),
        )
    total = math.fsum(fs.score for fs in out.values())
    return out, total


def _null_score(corpus: _Corpus, cost: CostMatrix) -> float:
    """Raw score of NAB's null detector: one constant score, so all rows detected or none, whichever is better."""
    nothing = -cost.fn_weight * float(np.count_nonzero(corpus.window_scored))
    _, everything = _at_threshold(corpus, cost, 0.0)
    return max(nothing, everything)


# --------------------------------------------------------------------------- public entry points


def _profiles(profiles: Profiles) -> dict[str, CostMatrix]:
    if profiles is None:
        return dict(NAB_PROFILES)
    if isinstance(profiles, CostMatrix):
        raise TypeError("profiles must map profile names to cost matrices; wrap one as {'name': cost}")
    out = load_profiles(profiles)
    if not out:
        raise ValueError("profiles is empty")
    return out


def _thresholds(thresholds: float | Mapping[str, float] | None, names: Iterable[str]) -> dict[str, float | None]:
    names = list(names)
    if thresholds is None:
        return {name: None for name in names}
    if isinstance(thresholds, Mapping):
        unknown = sorted(set(thresholds) - set(names))
        if unknown:
            raise ValueError(f"thresholds names unknown profiles {unknown}; profiles are {names}")
        chosen = {name: thresholds.get(name) for name in names}
    else:
        chosen = {name: thresholds for name in names}
    for name, value in chosen.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value)):
            raise ValueError(f"threshold for profile {name!r} must be a number, got {value!r}")
    return {name: (None if v is None else float(v)) for name, v in chosen.items()}


def threshold_scores(
    results: Results,
    windows: Mapping[str, Sequence[Any]],
    cost: CostMatrix | Mapping[str, Any],
    *,
    probationary_percent: float = DEFAULT_PROBATIONARY_PERCENT,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw NAB score of the corpus at every threshold that changes it.

    Returns ``(thresholds, raw_scores)``, thresholds decreasing: first
    :data:`NO_DETECTION_THRESHOLD` (nothing detected), then every distinct
    anomaly score among the scored rows (rows with a score ``>=`` it are
    detections). This is the curve :func:`score_corpus` maximises. One sort of
    all rows; ``O(n log n)``.
    """
    if not isinstance(cost, CostMatrix):
        cost = CostMatrix.from_mapping(cost, "cost")
    corpus = _concatenate(_prepare(results, windows, probationary_percent))
    return _curve(corpus, _sweep(corpus), cost)


def score_corpus(
    results: Results,
    windows: Mapping[str, Sequence[Any]],
    profiles: Profiles = None,
    *,
    thresholds: float | Mapping[str, float] | None = None,
    probationary_percent: float = DEFAULT_PROBATIONARY_PERCENT,
) -> dict[str, ProfileScore]:
    """Score a detector's anomaly scores over a corpus with NAB's rules.

    Parameters
    ----------
    results
        ``{relative path: (timestamps, scores)}``: per-row anomaly scores in
        [0, 1] (booleans for plain detections), with the series' timestamps
        (``datetime64``, strings or epoch seconds; see ``labels.as_timestamps``).
    windows
        ``{relative path: [(start, end), ...]}`` as from ``labels.load_windows``;
        every scored path must be present (``[]`` when it has no anomaly).
        Endpoints must be timestamps of the series.
    profiles
        ``{name: CostMatrix}`` or NAB's ``profiles.json`` content; default
        :data:`~pyml.lab.labels.NAB_PROFILES`.
    thresholds
        ``None`` (default) to optimise one threshold per profile over the
        whole corpus, as NAB does; or a number, or ``{profile: number}``, to
        score at given thresholds (profiles left out are optimised).
    probationary_percent
        Fraction of each series ignored at its start (NAB: 0.15).

    Returns
    -------
    ``{profile name: ProfileScore}`` with the normalised score, the threshold,
    the raw/null/perfect totals, counts, and a ``FileScore`` per series.

    Normalised scores are comparable with NAB's scoreboard only over all 58
    series of NAB v1.1 with its labels; over a subset, ``perfect`` and
    ``null`` are those of the subset. With no window at all, ``perfect ==
    null`` and the normalised score is NaN.
    """
    costs = _profiles(profiles)
    fixed = _thresholds(thresholds, costs)
    corpus = _concatenate(_prepare(results, windows, probationary_percent))
    sweep: _Sweep | None = None  # sorted once, shared by every optimised profile
    out = {}
    for name, cost in costs.items():
        threshold = fixed[name]
        if threshold is None:
            if sweep is None:
                sweep = _sweep(corpus)
            threshold = _optimise(corpus, sweep, cost)
        files, raw = _at_threshold(corpus, cost, threshold)
        null = _null_score(corpus, cost)
        perfect = cost.tp_weight * corpus.n_windows
        normalised = 100.0 * (raw - null) / (perfect - null) if perfect != null else math.nan
        out[name] = ProfileScore(
            profile=name,
            cost=cost,
            threshold=threshold,
            score=normalised,
            raw=raw,
            null=null,
            perfect=perfect,
            tp=sum(f.tp for f in files.values()),
            tn=sum(f.tn for f in files.values()),
            fp=sum(f.fp for f in files.values()),
            fn=sum(f.fn for f in files.values()),
            windows=sum(f.windows for f in files.values()),
            windows_detected=sum(f.windows_detected for f in files.values()),
            files=files,
        )
    return out


# --------------------------------------------------------------------------- event metrics


@dataclass(frozen=True)
class EventMetrics:
    """Window-level detection quality.

    A window counts when at least one of its rows is past the probationary
    period; it is detected (``true_positives``) when at least one of those
    rows is a detection, else missed (``false_negatives``).
    ``false_positives`` counts detected rows outside every window (rows, not
    runs). ``precision = tp / (tp + fp)``, ``recall = tp / (tp + fn)``, ``f1``
    their harmonic mean; each is 0.0 when its denominator is 0.
    ``delays`` holds, per detected window in series order, the seconds from
    the window's start to its first detection; ``mean_delay`` and
    ``median_delay`` are NaN when no window is detected. ``files`` has the
    same metrics per series (their own ``files`` is empty).
    """

    true_positives: int
    false_negatives: int
    false_positives: int
    precision: float
    recall: float
    f1: float
    delays: tuple[float, ...]
    mean_delay: float
    median_delay: float
    files: dict[str, EventMetrics] = field(default_factory=dict, repr=False)


def _metrics(tp: int, fn: int, fp: int, delays: list[float], files: dict[str, EventMetrics]) -> EventMetrics:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    arr = np.asarray(delays, dtype=np.float64)
    mean = float(arr.mean()) if arr.size else math.nan
    median = float(np.median(arr)) if arr.size else math.nan
    return EventMetrics(tp, fn, fp, precision, recall, f1, tuple(float(d) for d in delays), mean, median, files)


def event_metrics(
    results: Results,
    windows: Mapping[str, Sequence[Any]],
    *,
    threshold: float = 0.5,
    probationary_percent: float = DEFAULT_PROBATIONARY_PERCENT,
) -> EventMetrics:
    """Event-level precision, recall, F1 and detection delay over a corpus.

    ``results`` and ``windows`` are as for :func:`score_corpus`; a row is a
    detection when its score is ``>= threshold`` (booleans: ``True``) and it
    lies past the probationary period (``probationary_percent=0`` counts
    every row). See :class:`EventMetrics` for the definitions.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or math.isnan(threshold):
        raise ValueError(f"threshold must be a number, got {threshold!r}")
    files = _prepare(results, windows, probationary_percent)
    per_file: dict[str, EventMetrics] = {}
    tp = fn = fp = 0
    delays: list[float] = []
    for f in files:
        scored = np.arange(len(f.scores)) >= f.first_scored
        detected = scored & (f.scores >= threshold)
        f_fp = int(np.count_nonzero(detected & (f.window < 0)))
        f_delays: list[float] = []
        f_tp = f_fn = 0
        for k, (start, end) in enumerate(f.bounds.tolist()):
            if end < f.first_scored:
                continue  # wholly probationary: not scored, as in NAB
            hits = np.flatnonzero(detected[start : end + 1])
            if hits.size:
                f_tp += 1
                first = start + int(hits[0])
                f_delays.append(float((f.timestamps[first] - f.timestamps[start]) / np.timedelta64(1, "s")))
            else:
                f_fn += 1
        per_file[f.name] = _metrics(f_tp, f_fn, f_fp, f_delays, {})
        tp, fn, fp = tp + f_tp, fn + f_fn, fp + f_fp
        delays.extend(f_delays)
    return _metrics(tp, fn, fp, delays, per_file)
