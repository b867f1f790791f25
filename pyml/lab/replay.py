"""Replay recorded data through the engine (:class:`pyml.Host`) at full speed.

A replay builds a host in synchronous mode (``background=False``) with one
chart holding the recording's dimensions and feeds it one tick per point:

- the cadence (``update_every``) is the median step between distinct
  timestamps, unless given; timestamps map to ticks ``t // update_every``;
- ticks the recording skips are fed as gaps (NaN, which empties a
  dimension's feature window as a missing sample does in the engine); a gap
  longer than ``max_train_samples`` plus the profile's host and score windows
  (:func:`_settling_ticks`) is fed only up to that length, after which
  nothing more changes in the engine;
- a row whose tick is not after the previous row's (a repeated timestamp, a
  step back, or two rows closer than the cadence) is not fed: it gets the
  results of the newest tick (``ReplayResult.merged_rows`` counts them);
- after every tick the host's own scheduler trains what is due
  (``Host.train_due``): each dimension as soon as it has
  ``min_train_samples`` values, then every ``train_every`` ticks;
- the ticks run through :class:`~pyml.engine.replay_ticker.ReplayTicker`:
  the results of ``Host.collect_all`` + ``Host.train_due`` without the sample
  store, tiers and internal charts a replay never reads (``per_tick=True``
  takes the public path).

Per point the replay returns the value, the anomaly score in [0, 1] (the
engine's score / 100, capped at 1) and the anomaly bit stored with the sample
(set when the engine's score >= 100 x ``dimension_anomaly_score_threshold``);
per recording the host's anomaly events.

Every dimension of a replay is modelled: the configuration's ``enabled`` and
skip patterns are overridden (a netdata.conf read for a replay need not say
``enabled = yes``). Without a configuration, :func:`lab_config` sizes the
training windows to the recording.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np

from .._arrays import as_count
from ..config import MLConfig
from ..engine.host import Host
from ..engine.replay_ticker import ReplayTicker
from ..profiles import DEFAULT_PROFILE
from .formats import Recording, read_recording
from ..progress import Progress as _Progress
from ..progress import write as _progress_write
from .formulations import DEFAULT_FORMULATION, check_formulation, describe_formulation, formulation_settings
from .nab_results import write_results
from .profiles import training_points
from .scoring import (
    DEFAULT_PROBATIONARY_PERCENT,
    EventMetrics,
    ProfileScore,
    event_metrics,
    probationary_length,
    score_corpus,
)

__all__ = [
    "LAB_TRAIN_FACTOR",
    "ReplayResult",
    "collect_inputs",
    "detect_update_every",
    "lab_config",
    "replay",
    "replay_files",
    "run_command",
    "score_replays",
    "write_nab_results",
    "write_points",
]

PathLike = Union[str, "os.PathLike[str]"]

#: ``max_train_samples`` of :func:`lab_config` is this many times ``min_train_samples``
#: (the reference's defaults keep the same ratio: 14400 / 3600).
LAB_TRAIN_FACTOR = 4

#: Name of the chart a replay creates (its dimensions are the recording's columns).
CHART_ID = "lab.replay"

_PROGRESS_EVERY = 2048


@dataclass
class ReplayResult:
    """What one replay produced.

    Arrays have one row per point of the recording, in its order, and one
    column per dimension (``columns``). ``scores`` are in [0, 1]; ``bits``
    are the anomaly bits the engine stored. ``events`` are the host's anomaly
    events ``(after, before)`` in epoch seconds.
    """

    name: str
    timestamps: np.ndarray
    columns: list[str]
    values: np.ndarray
    scores: np.ndarray
    bits: np.ndarray
    events: list[tuple[int, int]]
    update_every: int
    config: MLConfig
    ticks: int = 0
    gap_ticks: int = 0
    merged_rows: int = 0
    trainings: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def anomaly_score(self) -> np.ndarray:
        """One score per point: the highest score over the dimensions (the only one for NAB files)."""
        return self.scores.max(axis=1)


def detect_update_every(timestamps: Any) -> int:
    """The cadence of ``timestamps`` in whole seconds: the median step between distinct times.

    ``timestamps`` are ``datetime64`` or epoch seconds in any order. Raises
    ``ValueError`` with fewer than two distinct timestamps.
    """
    arr = np.asarray(timestamps)
    seconds = arr.astype("datetime64[s]").astype(np.int64) if arr.dtype.kind == "M" else arr.astype(np.int64)
    distinct = np.unique(seconds)
    if distinct.size < 2:
        raise ValueError(f"cannot tell the cadence of {distinct.size} distinct timestamp(s); "
                         "give update_every explicitly")
    step = float(np.median(np.diff(distinct)))
    return max(1, round(step))


def lab_config(n_points: int, *, probationary_percent: float = DEFAULT_PROBATIONARY_PERCENT,
               formulation: str = DEFAULT_FORMULATION, profile: str = "netdata-1.33",
               update_every: int = 1, **overrides: Any) -> MLConfig:
    """The replay's default configuration for a recording of ``n_points`` points.

    The reference's defaults (profile ``netdata-1.33``, SPEC §6.1), unclamped (``clamp=False``), with
    training windows sized to the recording as the reference's are to a day
    of 1-second samples: ``min_train_samples`` = NAB's probationary period
    (``floor(probationary_percent x n_points)``, at least what two feature
    vectors need), ``max_train_samples`` = :data:`LAB_TRAIN_FACTOR` x that,
    ``train_every`` = ``min_train_samples``. ``formulation`` (a name of
    :data:`pyml.lab.formulations.FORMULATIONS`; default ``"reference"``) then
    changes what it is about; ``overrides`` are further
    :class:`~pyml.MLConfig` fields and win over both.

    ``profile`` other than ``"netdata-1.33"`` (the lab's reference, on which
    the formulations are defined): that profile's defaults with the same
    training sizes in the keys it uses (:func:`pyml.lab.profiles.profile_config`);
    it cannot be combined with a formulation other than ``"reference"``.
    Its duration keys are sized for ``update_every`` seconds per point.
    """
    if profile != "netdata-1.33":
        if formulation != DEFAULT_FORMULATION:
            raise ValueError(f"formulation {formulation!r} is defined on profile 'netdata-1.33', "
                             f"not on {profile!r}; give one or the other")
        return _profile_lab_config(n_points, profile, probationary_percent, update_every, overrides)
    probation = probationary_length(as_count("n_points", n_points, 1, "a positive integer"), probationary_percent)
    base = MLConfig(profile="netdata-1.33", clamp=False)
    shape = {"diff_n": base.diff_n, "smooth_n": base.smooth_n, "lag_n": base.lag_n}
    chosen = formulation_settings(formulation, probation)
    for key in shape:
        shape[key] = int(overrides.get(key, chosen.get(key, shape[key])))
    smallest = shape["diff_n"] + max(shape["smooth_n"], 1) - 1 + shape["lag_n"] + 2
    minimum = max(probation, smallest)
    settings: dict[str, Any] = {
        "min_train_samples": minimum,
        "max_train_samples": LAB_TRAIN_FACTOR * minimum,
        "train_every": minimum,
    }
    settings.update(formulation_settings(formulation, int(overrides.get("min_train_samples", minimum))))
    settings.update(overrides)
    settings.setdefault("clamp", False)
    settings.setdefault("profile", "netdata-1.33")
    return MLConfig(**settings)


def _profile_lab_config(n_points: int, profile: str, probationary_percent: float, update_every: int,
                        overrides: Mapping[str, Any]) -> MLConfig:
    """:func:`lab_config`'s sizing (minimum = NAB's probationary period, maximum 4 x, every minimum) for ``profile``."""
    from .profiles import TrainingSizing, profile_config

    probation = probationary_length(as_count("n_points", n_points, 1, "a positive integer"), probationary_percent)
    minimum = max(probation, 1)
    sizing = TrainingSizing(minimum, LAB_TRAIN_FACTOR * minimum, minimum)
    return profile_config(profile, sizing, update_every, **overrides)


def _for_replay(config: MLConfig) -> MLConfig:
    """``config`` with ML on for every chart and host of the replay."""
    if config.enabled and config.hosts_to_skip == "!*" and config.charts_to_skip == "!*":
        return config
    return dataclasses.replace(config, enabled=True, hosts_to_skip="!*", charts_to_skip="!*")


def _show_progress(progress: bool | None) -> bool:
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(progress)


def _dimension_names(columns: Sequence[str]) -> list[str]:
    names = []
    for c in columns:
        name = str(c).replace("|", "_") or "value"
        while name in names:
            name += "_"
        names.append(name)
    return names


def _settling_ticks(cfg: MLConfig) -> int:
    """Ticks after which a run of gaps changes nothing more beyond the training window.

    The sum of the windows the profile holds state in (the v1.33 host
    detector's ``max_window_size``, the calibration's ``score_peak_window``,
    the pyml events' ``event_idle_ticks``); a key the profile lacks counts 0.
    A sum, not the largest, so the bound holds whichever window outlives the
    others.
    """
    keys = ("max_window_size", "score_peak_window", "event_idle_ticks")
    return sum(int(getattr(cfg, key, None) or 0) for key in keys)


def replay(
    source: PathLike | Recording,
    config: MLConfig | None = None,
    *,
    update_every: int | None = None,
    name: str | None = None,
    progress: bool | None = None,
    probationary_percent: float = DEFAULT_PROBATIONARY_PERCENT,
    training_threads: int = 1,
    formulation: str = DEFAULT_FORMULATION,
    profile: str | None = None,
    per_tick: bool = False,
    _progress_bar: _Progress | None = None,
) -> ReplayResult:
    """Replay one recording through a synchronous :class:`pyml.Host`.

    Parameters
    ----------
    source
        A path (NAB-style or wide CSV, Netdata ``/api/v1/data`` JSON; see
        :mod:`pyml.lab.formats`) or a :class:`~pyml.lab.formats.Recording`.
    config
        The engine's configuration; default :func:`lab_config` for the
        recording's length. ML is switched on for the replayed chart whatever
        ``enabled`` and the skip patterns say.
    update_every
        Seconds per tick; default :func:`detect_update_every` of the timestamps.
    name
        Name of the result (default: the file name).
    progress
        Show a progress bar on stderr (tqdm if installed); default: when
        stderr is a terminal.
    probationary_percent
        Used by :func:`lab_config` when ``config`` is None.
    training_threads
        Threads of one training round (one dimension trains on one thread).
    formulation
        Used by :func:`lab_config` when ``config`` is None: a name of
        :data:`pyml.lab.formulations.FORMULATIONS` (default ``"reference"``).
    profile
        Used by :func:`lab_config` when ``config`` is None: the detection
        profile (default: :data:`pyml.profiles.DEFAULT_PROFILE`, ``"pyml"``;
        ``"netdata-1.33"`` when a formulation other than ``"reference"`` is
        given, the profile formulations are defined on).
    per_tick
        Tick through ``Host.collect_all`` and ``Host.train_due`` instead of
        :class:`~pyml.engine.replay_ticker.ReplayTicker` (which skips the
        sample store, tiers and internal charts the replay never reads). The
        results are the same; this is the reference the fast path is tested
        against.
    """
    started = time.perf_counter()
    recording = source if isinstance(source, Recording) else read_recording(source)
    n, d = recording.values.shape
    if update_every is None:
        try:
            ue = detect_update_every(recording.timestamps)
        except ValueError:
            distinct = np.unique(recording.epoch_seconds).size
            raise ValueError(f"{recording.name}: {n} row(s) with {distinct} distinct timestamp(s); a replay needs at "
                             "least two to tell the cadence") from None
    else:
        ue = update_every
    ue = as_count("update_every", ue, 1, "a positive integer")
    seconds = recording.epoch_seconds
    if (seconds < 0).any():
        bad = int(np.flatnonzero(seconds < 0)[0])
        raise ValueError(f"{recording.name}: timestamp {recording.timestamps[bad]} (row {bad}) is before 1970")
    if config is not None and not isinstance(config, MLConfig):
        raise TypeError(f"config must be an MLConfig, got {type(config).__name__}: {config!r}")
    cfg = _for_replay(lab_config(n, probationary_percent=probationary_percent, formulation=formulation,
                                 profile=_replay_profile(profile, formulation), update_every=ue)
                      if config is None else config)
    label = name if name is not None else recording.name

    host = Host("lab-replay", cfg, update_every=ue, background=False, training_threads=training_threads,
                **({} if per_tick else {"tiers": ()}))
    scores = np.zeros((n, d), dtype=np.float64)
    bits = np.zeros((n, d), dtype=bool)
    ticks = gap_ticks = merged = trainings = 0
    gap_cap = training_points(cfg, ue)[1] + _settling_ticks(cfg)
    own_bar = _progress_bar is None
    bar = _Progress(n, label, _show_progress(progress)) if _progress_bar is None else _progress_bar
    try:
        host.add_chart(CHART_ID, _dimension_names(recording.columns))
        ks = seconds // ue
        values = np.ascontiguousarray(recording.values, dtype=np.float64)
        gap_row = np.full(d, np.nan)
        last_k: int | None = None
        cur_scores = np.zeros(d)
        cur_bits = np.zeros(d, dtype=bool)
        step = _per_tick_step(host) if per_tick or not host.ml_enabled else _ticker_step(host)
        pending = 0
        for i in range(n):
            k = int(ks[i])
            if last_k is not None and k <= last_k:
                merged += 1
            else:
                if last_k is not None and k > last_k + 1:
                    missing = k - last_k - 1
                    gap_ticks += missing
                    for j in range(last_k + 1, last_k + 1 + min(missing, gap_cap)):
                        trainings += step(j * ue, gap_row)[2]
                        ticks += 1
                cur_scores, cur_bits, trained = step(k * ue, values[i])
                trainings += trained
                ticks += 1
                last_k = k
            scores[i] = cur_scores
            bits[i] = cur_bits
            pending += 1
            if pending == _PROGRESS_EVERY:
                bar.update(pending)
                pending = 0
        bar.update(pending)
        horizon_ms = ((last_k if last_k is not None else 0) + 1) * ue * 1000 + 1000
        events = [(int(a), int(b)) for a, b in host.anomaly_events(0, horizon_ms)]
    finally:
        if own_bar:
            bar.close()
        host.close()
    np.minimum(scores / 100.0, 1.0, out=scores)
    return ReplayResult(
        name=label, timestamps=recording.timestamps, columns=list(recording.columns), values=recording.values,
        scores=scores, bits=bits, events=events, update_every=ue, config=cfg, ticks=ticks, gap_ticks=gap_ticks,
        merged_rows=merged, trainings=trainings, seconds=time.perf_counter() - started,
    )


_Step = Callable[[int, np.ndarray], "tuple[np.ndarray, np.ndarray, int]"]


def _per_tick_step(host: Host) -> _Step:
    """One replayed tick through the host's public API: ``(scores, bits, dimensions trained)``."""
    def step(t: int, row: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        out = host.collect_all(t, row, want_scores=True)
        assert out is not None
        return out[0], out[1], len(host.train_due().trained)
    return step


def _ticker_step(host: Host) -> _Step:
    """One replayed tick through :class:`~pyml.engine.replay_ticker.ReplayTicker`, same results."""
    ticker = ReplayTicker(host, want_scores=True)

    def step(t: int, row: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        scores, bits, report = ticker.tick(t, row)
        assert scores is not None
        return scores, bits, len(report.trained)
    return step


def _replay_profile(profile: str | None, formulation: str) -> str:
    """The profile a replay without a configuration uses (see :func:`replay`)."""
    if profile is not None:
        return profile
    return DEFAULT_PROFILE if formulation == DEFAULT_FORMULATION else "netdata-1.33"


def _replay_one(path: PathLike, name: str, config: MLConfig | None, probationary_percent: float,
                formulation: str = DEFAULT_FORMULATION, profile: str | None = None) -> ReplayResult:
    return replay(path, config, name=name, progress=False, probationary_percent=probationary_percent,
                  formulation=formulation, profile=profile)


def replay_files(
    paths: Mapping[str, PathLike] | Sequence[PathLike],
    config: MLConfig | None = None,
    *,
    executor: Executor | None = None,
    progress: bool | None = None,
    probationary_percent: float = DEFAULT_PROBATIONARY_PERCENT,
    on_result: Callable[[ReplayResult], None] | None = None,
    formulation: str = DEFAULT_FORMULATION,
    profile: str | None = None,
) -> dict[str, ReplayResult]:
    """Replay several files; return ``{name: ReplayResult}`` in input order.

    ``paths`` is ``{name: path}`` or a sequence of paths (named
    ``<parent directory>/<file name>``, NAB's naming of its series).
    ``executor`` (any :class:`concurrent.futures.Executor`: a process pool,
    Dask, Ray) replays files in parallel; by default they run one after the
    other in this process. ``on_result`` is called with each result as it
    arrives (in input order). ``formulation`` and ``profile`` are :func:`replay`'s.
    """
    check_formulation(formulation)  # an unknown name fails here, before any work
    if isinstance(paths, Mapping):
        named = dict(paths)
    else:
        named = {}
        for p in paths:
            nm = _series_name(p)
            if nm in named:
                raise ValueError(f"{named[nm]} and {p} are both named {nm!r}; pass a {{name: path}} mapping")
            named[nm] = p
    out: dict[str, ReplayResult] = {}
    show = _show_progress(progress)
    if executor is not None:
        futures = [executor.submit(_replay_one, p, nm, config, probationary_percent, formulation, profile) for nm, p in named.items()]
        bar = _Progress(len(futures), "files", show, unit="files")
        try:
            for nm, fut in zip(named, futures):
                out[nm] = fut.result()
                bar.update(1)
                if on_result is not None:
                    on_result(out[nm])
        finally:
            bar.close()
        return out
    recordings = {}
    for nm, p in named.items():
        recordings[nm] = read_recording(p)
    bar = _Progress(sum(r.values.shape[0] for r in recordings.values()), "replay", show)
    try:
        for nm, rec in recordings.items():
            out[nm] = replay(rec, config, name=nm, probationary_percent=probationary_percent,
                             formulation=formulation, profile=profile, _progress_bar=bar)
            if on_result is not None:
                on_result(out[nm])
    finally:
        bar.close()
    return out


def _series_name(path: PathLike) -> str:
    p = Path(path)
    return f"{p.parent.name}/{p.name}" if p.parent.name else p.name


def score_replays(
    results: Mapping[str, ReplayResult],
    windows: Mapping[str, Sequence[Any]],
    *,
    profiles: Any = None,
    probationary_percent: float = DEFAULT_PROBATIONARY_PERCENT,
) -> tuple[dict[str, ProfileScore], dict[str, EventMetrics]]:
    """NAB scores and event metrics of replays against labelled windows.

    Every result must have an entry in ``windows`` (``[]`` when it has no
    anomaly). Returns ``({profile: ProfileScore}, {profile: EventMetrics})``:
    NAB's scores with the corpus-wide optimised threshold of each profile, and
    event precision, recall, F1 and delay with detections at that profile's
    threshold.
    """
    missing = [name for name in results if name not in windows]
    if missing:
        raise ValueError(f"no labelled windows for {', '.join(repr(m) for m in missing)}")
    series = {name: (r.timestamps, r.anomaly_score) for name, r in results.items()}
    nab = score_corpus(series, windows, profiles, probationary_percent=probationary_percent)
    events = {
        profile: event_metrics(series, windows, threshold=score.threshold, probationary_percent=probationary_percent)
        for profile, score in nab.items()
    }
    return nab, events


def write_points(result: ReplayResult, path: PathLike) -> Path:
    """Write a replay's points as CSV; return the path.

    One dimension: ``timestamp,value,anomaly_score,anomaly_bit``; several:
    ``timestamp,dimension,value,anomaly_score,anomaly_bit`` (one row per
    point and dimension). Timestamps as in NAB's files
    (``YYYY-MM-DD HH:MM:SS``), the bit as 0/1.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamps = [s.replace("T", " ") for s in np.datetime_as_string(result.timestamps, unit="s").tolist()]
    single = len(result.columns) == 1
    lines = ["timestamp,value,anomaly_score,anomaly_bit\n" if single
             else "timestamp,dimension,value,anomaly_score,anomaly_bit\n"]
    values, scores, bits = result.values.tolist(), result.scores.tolist(), result.bits.astype(int).tolist()
    for i, t in enumerate(stamps):
        for j, column in enumerate(result.columns):
            v = values[i][j]
            cell = "" if math.isnan(v) else repr(v)
            prefix = f"{t}," if single else f"{t},{_csv_cell(column)},"
            lines.append(f"{prefix}{cell},{scores[i][j]!r},{bits[i][j]}\n")
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.writelines(lines)
    os.replace(tmp, path)
    return path


def _csv_cell(text: str) -> str:
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_nab_results(results_dir: PathLike, detector: str, results: Mapping[str, ReplayResult],
                      windows: Mapping[str, Sequence[Any]]) -> list[Path]:
    """Write replays in NAB's results layout (``<dir>/<detector>/<category>/<detector>_<file>.csv``)."""
    return write_results(results_dir, detector,
                         {name: (r.timestamps, r.values[:, 0] if r.values.shape[1] == 1 else r.values.max(axis=1),
                                 r.anomaly_score) for name, r in results.items()},
                         windows)


# --------------------------------------------------------------------------- command line


def collect_inputs(items: Sequence[PathLike]) -> dict[str, Path]:
    """``{series name: path}`` for files and directories given on the command line.

    A directory stands for every ``*.csv`` and ``*.json`` file below it. Each
    series is named ``<parent directory>/<file name>``, as NAB names its series
    in its labels. Raises ``ValueError`` for a missing path or two files with
    the same name.
    """
    out: dict[str, Path] = {}
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".csv", ".json"))
            if not found:
                raise ValueError(f"directory {path} holds no .csv or .json file")
        elif path.is_file():
            found = [path]
        else:
            raise ValueError(f"no such file or directory: {path}")
        for p in found:
            name = _series_name(p)
            if name in out and out[name].resolve() != p.resolve():
                raise ValueError(f"two inputs are both named {name!r}: {out[name]} and {p}")
            out[name] = p
    return out


def _points_path(out_dir: Path, name: str) -> Path:
    rel = Path(*[part for part in Path(name).parts if part not in ("", ".", "..")])
    return out_dir / "points" / rel.with_suffix(".csv")


def _describe_config(cfg: MLConfig, update_every: int = 1) -> str:
    (least, most), every = training_points(cfg, update_every), cfg.train_every_ticks(update_every)
    text = f"profile={cfg.profile} training={least}..{most} points every {every} ticks"
    return text + (f" score_peak_window={cfg.score_peak_window}" if cfg.score_peak_window else "")


def _write_profile_summary(results_dir: Path, detector: str, nab: Mapping[str, ProfileScore],
                           results: Mapping[str, ReplayResult]) -> list[Path]:
    """NAB's ``<detector>_<profile>_scores.csv`` summary per profile."""
    written = []
    for profile, score in nab.items():
        path = results_dir / detector / f"{detector}_{profile}_scores.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count\n"]
        tp = tn = fp = fn = total = 0
        for name in sorted(score.files):
            f = score.files[name]
            rows = f.rows
            lines.append(f"{detector},{profile},{name},{score.threshold!r},{f.score!r},{f.tp},{f.tn},{f.fp},{f.fn},{rows}\n")
            tp, tn, fp, fn, total = tp + f.tp, tn + f.tn, fp + f.fp, fn + f.fn, total + rows
        lines.append(f"{detector},{profile},Totals,{score.threshold!r},{score.raw!r},{tp},{tn},{fp},{fn},{total}\n")
        path.write_text("".join(lines), encoding="utf-8")
        written.append(path)
    return written


def run_command(
    inputs: Sequence[PathLike],
    *,
    config_path: PathLike | None = None,
    unclamped: bool = False,
    out_dir: PathLike = "pyml-replay",
    labels: PathLike | None = None,
    detector: str = "pyml",
    jobs: int = 1,
    progress: bool | None = None,
    stdout: Any = None,
    formulation: str = DEFAULT_FORMULATION,
    profile: str | None = None,
) -> int:
    """``pyml replay``: replay files, write per-point CSVs and events, score against labels if given.

    Writes ``<out_dir>/points/<category>/<file>.csv`` per series,
    ``<out_dir>/events.json``, and with ``labels`` NAB's results layout under
    ``<out_dir>/results/<detector>/`` plus ``<out_dir>/scores.json``. Prints
    the configuration used and a summary on ``stdout``. Returns the exit
    status. Without ``config_path``, ``profile`` (default
    :data:`pyml.profiles.DEFAULT_PROFILE`) or ``formulation`` (the lab's
    configurations of ``netdata-1.33``, :mod:`pyml.lab.formulations`) says
    what the engine runs, with training windows sized per file.
    """
    from .labels import load_windows
    from .plots import format_threshold

    from .nab_results import results_path

    stdout = sys.stdout if stdout is None else stdout
    results_path(out_dir, detector, "category/file.csv")  # a detector name NAB cannot use fails here, before any work
    named = collect_inputs(inputs)
    windows = None if labels is None else load_windows(labels)
    config: MLConfig | None = None
    check_formulation(formulation)  # an unknown name fails before any work
    if config_path is not None and formulation != DEFAULT_FORMULATION:
        raise ValueError(f"give either a configuration file or a formulation, not both (formulation {formulation!r})")
    if config_path is not None and profile is not None:
        raise ValueError(f"give either a configuration file or a profile, not both (profile {profile!r}; "
                         "a netdata.conf names its profile with 'profile = ...' in [ml])")
    chosen = _replay_profile(profile, formulation)
    if chosen != "netdata-1.33" and formulation != DEFAULT_FORMULATION:
        raise ValueError(f"formulation {formulation!r} is defined on profile 'netdata-1.33', not on {chosen!r}; "
                         "give one or the other")
    from .profiles import check_profile

    check_profile(chosen)
    if config_path is not None:
        config = _for_replay(MLConfig.from_netdata_conf(Path(config_path), clamp=not unclamped))
        print(f"# configuration: {config_path} ({'unclamped' if unclamped else 'clamped as netdata does'}), "
              "ML on for the replayed charts", file=stdout)
        stdout.write(config.to_netdata_conf())
    elif chosen != "netdata-1.33":
        print(f"# configuration: profile {chosen} (its [ml] defaults), unclamped, training windows sized per file "
              f"(first training after NAB's probationary period: floor({DEFAULT_PROBATIONARY_PERCENT} x points), at "
              f"most {DEFAULT_PROBATIONARY_PERCENT} x 5000; at most {LAB_TRAIN_FACTOR} x that many points per "
              "training; retraining every probationary period); `pyml lab nab` compares the profiles", file=stdout)
    else:
        defaults = MLConfig(profile="netdata-1.33", clamp=False)
        print("# configuration: profile netdata-1.33 (the lab's reference; `pyml lab nab` compares the profiles), "
              "netdata's [ml] defaults, unclamped, training windows sized per file "
              f"(min_train_samples = NAB probationary period: floor({DEFAULT_PROBATIONARY_PERCENT} x points), "
              f"at most {DEFAULT_PROBATIONARY_PERCENT} x 5000; max_train_samples = {LAB_TRAIN_FACTOR} x "
              "min_train_samples; train_every = min_train_samples)", file=stdout)
        if formulation != DEFAULT_FORMULATION:
            print(f"# formulation {formulation!r}: {describe_formulation(formulation)}", file=stdout)
            defaults = dataclasses.replace(defaults, **formulation_settings(formulation, defaults.min_train_samples))
        print(f"# diff_n={defaults.diff_n} smooth_n={defaults.smooth_n} lag_n={defaults.lag_n} "
              f"max_kmeans_iters={defaults.max_kmeans_iters} "
              f"dimension_anomaly_score_threshold={defaults.dimension_anomaly_score_threshold} "
              f"host_anomaly_rate_threshold={defaults.host_anomaly_rate_threshold} "
              f"windows={defaults.min_window_size}/{defaults.max_window_size}/{defaults.idle_window_size} "
              f"window_rate_threshold={defaults.window_rate_threshold}", file=stdout)
    if windows is not None:
        unlabelled = [name for name in named if name not in windows]
        if len(unlabelled) == len(named):
            raise ValueError(f"none of the inputs has labels in {labels} (series are named <directory>/<file>, "
                             f"e.g. {next(iter(named))!r})")
    out = Path(out_dir)
    started = time.perf_counter()

    def report(r: ReplayResult) -> None:
        write_points(r, _points_path(out, r.name))
        anomalous = int(r.bits.any(axis=1).sum())
        # Above the progress bar, not on top of it (both share a terminal).
        _progress_write(f"{r.name}: {len(r.timestamps)} points, update_every={r.update_every}s, "
                        f"{_describe_config(r.config, r.update_every)}, ticks={r.ticks} gap_ticks={r.gap_ticks} "
                        f"merged_rows={r.merged_rows} trainings={r.trainings}, anomalous points={anomalous}, "
                        f"events={len(r.events)}", stdout)

    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = replay_files(named, config, executor=pool, progress=progress, on_result=report,
                                   formulation=formulation, profile=chosen)
    else:
        results = replay_files(named, config, progress=progress, on_result=report, formulation=formulation,
                               profile=chosen)
    elapsed = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    events = {name: [list(e) for e in r.events] for name, r in results.items()}
    (out / "events.json").write_text(json.dumps(events, indent=1) + "\n", encoding="utf-8")
    total = sum(len(r.timestamps) for r in results.values())
    print(f"replayed {len(results)} file(s), {total} points in {elapsed:.2f} s; per-point CSVs under {out / 'points'}",
          file=stdout)

    if windows is not None:
        labelled = {name: r for name, r in results.items() if name in windows}
        for name in results:
            if name not in windows:
                print(f"warning: {name} has no labels in {labels}; not scored", file=sys.stderr)
        nab, metrics = score_replays(labelled, windows)
        results_dir = out / "results"
        write_nab_results(results_dir, detector, labelled, windows)
        _write_profile_summary(results_dir, detector, nab, labelled)
        summary = {}
        for profile, score in nab.items():
            m = metrics[profile]
            summary[profile] = {
                "score": score.score, "threshold": score.threshold, "raw": score.raw, "null": score.null,
                "perfect": score.perfect, "windows": score.windows, "windows_detected": score.windows_detected,
                "event_precision": m.precision, "event_recall": m.recall, "event_f1": m.f1,
                "event_true_positives": m.true_positives, "event_false_negatives": m.false_negatives,
                "event_false_positive_rows": m.false_positives,
                "mean_delay_s": None if math.isnan(m.mean_delay) else m.mean_delay,
                "median_delay_s": None if math.isnan(m.median_delay) else m.median_delay,
            }
            delay = "n/a" if math.isnan(m.median_delay) else f"{m.median_delay:.0f} s"
            print(f"NAB {profile}: score {score.score:.2f} (threshold {format_threshold(score.threshold)}); events: precision "
                  f"{m.precision:.3f} recall {m.recall:.3f} F1 {m.f1:.3f}, median delay {delay}", file=stdout)
        document = {"detector": detector, "files": len(labelled), "points": sum(len(r.timestamps) for r in labelled.values()),
                    "seconds": elapsed, "profiles": summary}
        (out / "scores.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        print(f"NAB results under {results_dir / detector}, summary in {out / 'scores.json'}", file=stdout)
    return 0
