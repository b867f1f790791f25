"""Sweep a grid of configurations over a labelled corpus and rank them by NAB score.

A grid is ``{MLConfig field: [values, ...]}``; its points are every
combination of one value per field (the first field varies slowest). Each
point is a configuration per file: :func:`~pyml.lab.replay.lab_config` for
the file's length with the point's fields as overrides (the lab's defaults:
unclamped, training windows sized per file), or, given ``base``, that
configuration with the point's fields replaced. Every (configuration, file)
pair is one task on a :class:`concurrent.futures.Executor` (a local process
pool by default, or a Dask cluster), and every configuration is scored on the
whole corpus with :func:`~pyml.lab.replay.score_replays`: NAB's three
profiles and event precision, recall and F1 at the standard profile's
threshold.

From Python::

    from pyml.lab.sweep import sweep

    result = sweep(["NAB/data"], {"diff_n": [0, 1], "lag_n": [3, 5]}, "NAB/labels/combined_windows.json")
    print(result.table())
    result.to_csv("sweep.csv")

From the command line: ``pyml lab sweep NAB/data --labels combined_windows.json
--grid diff_n=0,1 --grid lag_n=3,5`` (see :func:`run_command`).

``score_peak_window`` may also be given relative to each file's training
size, as the lab's ``peaks`` formulation sizes it: ``0.4x`` (text) or
``TrainingFraction(0.4)`` means ``max(1, int(0.4 x min_train_samples))`` ticks
for each file, so ``--grid score_peak_window=0.2x,0.4x,0.8x`` sweeps the rule
itself; plain integers stay one absolute window for every file.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import sys
import time
import typing
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from ..config import MLConfig
from .formats import Recording, read_recording
from ..progress import Progress
from .formulations import DEFAULT_FORMULATION, check_formulation, describe_formulation, formulation_settings
from .labels import load_windows
from .replay import (
    LAB_TRAIN_FACTOR,
    ReplayResult,
    collect_inputs,
    lab_config,
    replay,
    score_replays,
)
from .scoring import DEFAULT_PROBATIONARY_PERCENT
from .split import HELDOUT, TUNING, WHOLE, check_half, committed_split

__all__ = [
    "PLOT_CHOICES",
    "SweepResult",
    "SweepRow",
    "TrainingFraction",
    "dask_executor",
    "expand_grid",
    "guard_heldout",
    "parse_grid_items",
    "run_command",
    "sweep",
]

PathLike = Union[str, "os.PathLike[str]"]

#: What ``plots=`` accepts: PNGs for the best configuration, for every configuration, or none.
PLOT_CHOICES = ("best", "all", "none")

#: Fields a grid may not vary: the replay switches ML on for every chart
#: (``enabled`` and the skip patterns are overridden) and the lab runs unclamped.
_FIXED_FIELDS = {
    "enabled": "the replay switches ML on whatever it says",
    "hosts_to_skip": "the replay models every host",
    "charts_to_skip": "the replay models every chart",
    "clamp": "the lab runs unclamped (clamp=False)",
}

#: Fields whose grid values may be a :class:`TrainingFraction` (text ``0.4x``).
_FRACTION_FIELDS = ("score_peak_window",)


@dataclass(frozen=True)
class TrainingFraction:
    """A grid value sized per file: ``fraction`` x the file's ``min_train_samples``, in ticks (at least 1).

    Written ``0.4x`` on the command line and in grid files; the rule is the
    ``peaks`` formulation's (``max(1, int(fraction * min_train_samples))``).
    Only ``score_peak_window`` takes one.
    """

    fraction: float

    def __post_init__(self) -> None:
        f = self.fraction
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not math.isfinite(f) or f <= 0:
            raise ValueError(f"a fraction of min_train_samples must be a finite number > 0, got {f!r}")

    def ticks(self, min_train_samples: int) -> int:
        """The window in ticks for a file whose ``min_train_samples`` is given."""
        return max(1, int(self.fraction * min_train_samples))

    def __str__(self) -> str:
        return f"{self.fraction:g}x"


#: ``SweepRow`` attributes of the table's score columns and their headings.
_SCORE_COLUMNS = (
    ("standard", "standard"),
    ("low_fp", "low_FP"),
    ("low_fn", "low_FN"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("f1", "F1"),
    ("points", "points"),
    ("cpu_seconds", "cpu_s"),
)


# --------------------------------------------------------------------------- grid


def _field_types() -> dict[str, type]:
    """Sweepable keys and their types: every MLConfig field, and ``formulation`` (a lab formulation's name)."""
    hints = typing.get_type_hints(MLConfig)
    types: dict[str, type] = {}
    for f in dataclasses.fields(MLConfig):
        # A field a profile may leave unused is Optional[T]: its values are T's.
        args = [a for a in typing.get_args(hints[f.name]) if a is not type(None)]
        types[f.name] = args[0] if len(args) == 1 else hints[f.name]
    types["formulation"] = str
    return types


def _check_grid(grid: Any) -> dict[str, list[Any]]:
    """The grid as ``{field: [values]}``, its keys and the shape of its values checked."""
    if not isinstance(grid, Mapping):
        raise TypeError("grid must be a mapping {MLConfig field: [values, ...]}, "
                        f"got {type(grid).__name__}: {grid!r}")
    if not grid:
        raise ValueError("grid is empty: give at least one MLConfig field and its values")
    known = _field_types()
    out: dict[str, list[Any]] = {}
    for key, values in grid.items():
        if not isinstance(key, str) or key not in known:
            names = ", ".join(n for n in known if n not in _FIXED_FIELDS)
            raise ValueError(f"grid key {key!r} is not an MLConfig field (fields: {names})")
        if key in _FIXED_FIELDS:
            raise ValueError(f"grid key {key!r} cannot be swept: {_FIXED_FIELDS[key]}")
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, set, frozenset)):
            raise TypeError(f"grid[{key!r}] must be a list of values, got {type(values).__name__}: {values!r}")
        values = list(values)
        if not values:
            raise ValueError(f"grid[{key!r}] has no values")
        for i, v in enumerate(values):
            if v in values[:i]:
                raise ValueError(f"grid[{key!r}] repeats the value {v!r}")
        out[key] = values
    return out


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every point of ``grid``: one ``{field: value}`` per combination, the first field varying slowest.

    Checks the keys (MLConfig fields a replay honours) and that each value
    list is a non-empty list without repeats; the values themselves are checked
    when configurations are built (:func:`sweep`).
    """
    checked = _check_grid(grid)
    keys = list(checked)
    return [dict(zip(keys, combo)) for combo in itertools.product(*checked.values())]


def _parse_value(key: str, kind: type, text: str) -> Any:
    text = text.strip()
    if key in _FRACTION_FIELDS and text.lower().endswith("x"):
        try:
            return TrainingFraction(float(text[:-1]))
        except ValueError as exc:
            raise ValueError(f"grid value {key}={text!r} is not a fraction of min_train_samples such as 0.4x "
                             f"({exc})") from None
    if kind is bool:
        low = text.lower()
        if low in ("yes", "true", "on", "1"):
            return True
        if low in ("no", "false", "off", "0"):
            return False
        raise ValueError(f"grid value {key}={text!r} is not a boolean (yes/no, true/false)")
    if kind is int:
        try:
            return int(text, 10)
        except ValueError:
            raise ValueError(f"grid value {key}={text!r} is not an integer") from None
    if kind is float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"grid value {key}={text!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"grid value {key}={text!r} is not a finite number")
        return value
    return text


def parse_grid_items(items: Sequence[str] = (), grid_file: PathLike | None = None) -> dict[str, list[Any]]:
    """The grid of the command line: ``KEY=V1,V2,...`` items and/or a JSON file ``{"KEY": [V1, V2]}``.

    Values written as text are parsed by the type of the MLConfig field
    (int, float, bool or str); JSON numbers are taken as they are. A key may
    appear once in all. Raises ``ValueError`` naming the bad item, key or value.
    """
    types = _field_types()
    grid: dict[str, list[Any]] = {}

    def add(key: str, values: list[Any], where: str) -> None:
        if key not in types:
            names = ", ".join(n for n in types if n not in _FIXED_FIELDS)
            raise ValueError(f"{where}: {key!r} is not an MLConfig field (fields: {names})")
        if key in grid:
            raise ValueError(f"{where}: grid key {key!r} is given twice")
        grid[key] = [_parse_value(key, types[key], v) if isinstance(v, str) else v for v in values]

    if grid_file is not None:
        try:
            doc = json.loads(Path(grid_file).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{grid_file}: not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{grid_file}: the grid file must hold a JSON object {{\"field\": [values]}}, "
                             f"got {type(doc).__name__}")
        for key, values in doc.items():
            if not isinstance(values, list):
                values = [values]
            add(key, values, str(grid_file))
    for item in items:
        key, sep, rest = item.partition("=")
        if not sep or not key.strip() or not rest.strip():
            raise ValueError(f"--grid {item!r}: expected KEY=VALUE[,VALUE...], e.g. diff_n=0,1")
        add(key.strip(), [v for v in rest.split(",") if v.strip()], f"--grid {item!r}")
    return grid


def _configs(points: list[dict[str, Any]], lengths: Mapping[str, int], base: MLConfig | None,
             probationary_percent: float, formulation: str = DEFAULT_FORMULATION) -> list[dict[str, MLConfig]]:
    """``[{file name: MLConfig}]`` per grid point, each value checked by building its configuration."""

    def build(point: Mapping[str, Any], n: int) -> MLConfig:
        fields = dict(point)
        name = fields.pop("formulation", formulation)
        if not isinstance(name, str):
            raise TypeError(f"formulation must be a name (str), got {type(name).__name__}: {name!r}")
        sized = {k: fields.pop(k) for k in list(fields) if isinstance(fields[k], TrainingFraction)}
        for key in sized:
            if key not in _FRACTION_FIELDS:
                raise ValueError(f"only {', '.join(_FRACTION_FIELDS)} can be a fraction of min_train_samples, "
                                 f"not {key}")
        if base is None:
            cfg = lab_config(n, probationary_percent=probationary_percent, formulation=name, **fields)
        else:
            cfg = dataclasses.replace(base, **{**formulation_settings(name, base.min_train_samples), **fields})
        if sized:  # sized on the file's final training minimum (the grid may set it too)
            cfg = dataclasses.replace(cfg, **{k: f.ticks(cfg.min_train_samples) for k, f in sized.items()})
        return cfg

    out = []
    for point in points:
        per_file = {}
        for name, n in lengths.items():
            try:
                per_file[name] = build(point, n)
            except (TypeError, ValueError) as exc:
                # Name the value at fault when it fails on its own, else the combination.
                for key, value in point.items():
                    try:
                        build({key: value}, n)
                    except (TypeError, ValueError) as alone:
                        raise type(exc)(f"grid value {key}={value!r} is invalid for {name}: {alone}") from None
                raise type(exc)(f"grid point {_describe_point(point)} is invalid for {name}: {exc}") from None
        out.append(per_file)
    return out


def _describe_point(point: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v!r}" for k, v in point.items())


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SweepRow:
    """One configuration of a sweep and its scores over the corpus.

    ``index`` is the grid point's position in :func:`expand_grid` order;
    ``point`` its ``{field: value}``. ``standard``, ``low_fp`` and ``low_fn``
    are NAB's normalised scores of the three profiles (``standard``,
    ``reward_low_FP_rate``, ``reward_low_FN_rate``), each at its own optimised
    threshold. ``precision``, ``recall`` and ``f1`` are event metrics at the
    standard profile's ``threshold``. ``points`` counts the rows replayed,
    ``cpu_seconds`` the CPU time of the replays (summed over files).
    """

    index: int
    point: dict[str, Any]
    standard: float
    low_fp: float
    low_fn: float
    precision: float
    recall: float
    f1: float
    threshold: float
    points: int
    cpu_seconds: float


@dataclass
class SweepResult:
    """The configurations of a sweep, best NAB standard score first.

    ``keys`` are the grid's fields in order; ``rows`` the configurations,
    ranked on construction (best standard score first, ties in grid order); ``replays[index]`` each configuration's
    ``{file name: ReplayResult}`` (in input order). ``wall_seconds`` is the
    elapsed time of the sweep.
    """

    keys: list[str]
    rows: list[SweepRow]
    replays: dict[int, dict[str, ReplayResult]] = field(repr=False)
    wall_seconds: float = 0.0

    def __post_init__(self) -> None:
        # Best standard score first; equal scores keep the grid's order.
        self.rows = sorted(self.rows, key=lambda r: (-r.standard, r.index))

    @property
    def best(self) -> SweepRow:
        """The configuration with the best NAB standard score."""
        return self.rows[0]

    def _cells(self, row: SweepRow) -> list[str]:
        cells = [str(row.index)] + [_text(row.point[k]) for k in self.keys]
        cells += [f"{getattr(row, a):.2f}" for a in ("standard", "low_fp", "low_fn")]
        cells += [f"{getattr(row, a):.3f}" for a in ("precision", "recall", "f1")]
        cells += [str(row.points), f"{row.cpu_seconds:.2f}"]
        return cells

    def table(self) -> str:
        """The ranking as an aligned text table (one line per configuration, best first)."""
        header = ["config"] + self.keys + [heading for _, heading in _SCORE_COLUMNS]
        body = [self._cells(r) for r in self.rows]
        widths = [max(len(c) for c in column) for column in zip(header, *body)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(line, widths)).rstrip() for line in [header] + body]
        return "\n".join(lines) + "\n"

    def to_csv(self, path: PathLike) -> Path:
        """Write the ranking as CSV (full precision); return the path."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        header = ["config"] + self.keys + ["standard", "low_FP", "low_FN", "event_precision", "event_recall",
                                           "event_f1", "standard_threshold", "points", "cpu_seconds"]
        lines = [",".join(header)]
        for r in self.rows:
            cells = [str(r.index)] + [_csv_cell(_text(r.point[k])) for k in self.keys]
            cells += [repr(float(x)) for x in (r.standard, r.low_fp, r.low_fn, r.precision, r.recall, r.f1,
                                              r.threshold)]
            cells += [str(r.points), repr(float(r.cpu_seconds))]
            lines.append(",".join(cells))
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return out


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _csv_cell(text: str) -> str:
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


# --------------------------------------------------------------------------- tasks


def _replay_task(recording: Recording, config: MLConfig) -> ReplayResult:
    """One (configuration, file) pair: replay it and record the CPU time of this thread."""
    started = time.thread_time()
    result = replay(recording, config, name=recording.name, progress=False)
    result.extra["cpu_seconds"] = time.thread_time() - started
    return result


def dask_executor(scheduler: str) -> tuple[Executor, Any]:
    """A ``concurrent.futures`` executor on the Dask cluster at ``scheduler``, and its client (close it after).

    Uses ``distributed.Client(scheduler).get_executor()``. Raises
    ``ImportError`` naming the ``dask`` extra when ``distributed`` is missing.
    """
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("a Dask scheduler needs the 'distributed' package: "
                          "pip install 'pyml-anomaly[dask]'") from None
    client = Client(scheduler)
    return client.get_executor(pure=False), client


def _run(executor: Executor, tasks: list[tuple[int, str, Recording, MLConfig]],
         progress: Progress) -> dict[tuple[int, str], ReplayResult]:
    futures: dict[Future[ReplayResult], tuple[int, str]] = {}
    out: dict[tuple[int, str], ReplayResult] = {}
    try:
        for index, name, recording, config in tasks:
            futures[executor.submit(_replay_task, recording, config)] = (index, name)
        for fut in as_completed(futures):
            index, name = futures[fut]
            try:
                out[index, name] = fut.result()
            except Exception as exc:
                raise RuntimeError(f"replaying {name} with configuration {index} failed: "
                                   f"{type(exc).__name__}: {exc}") from exc
            progress.update()
    finally:
        for fut in futures:
            fut.cancel()
    return out


def _named_inputs(paths: Mapping[str, PathLike] | Sequence[PathLike] | PathLike) -> dict[str, PathLike]:
    if isinstance(paths, Mapping):
        return dict(paths)
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return dict(collect_inputs(list(paths)))


def sweep(
    paths: Mapping[str, PathLike] | Sequence[PathLike] | PathLike,
    grid: Mapping[str, Sequence[Any]],
    windows: Mapping[str, Sequence[Any]] | PathLike,
    *,
    base: MLConfig | None = None,
    executor: Executor | None = None,
    scheduler: str | None = None,
    jobs: int | None = None,
    progress: bool | None = None,
    probationary_percent: float = DEFAULT_PROBATIONARY_PERCENT,
    formulation: str = DEFAULT_FORMULATION,
    half: str | None = None,
) -> SweepResult:
    """Replay every file with every configuration of ``grid``; score and rank the configurations.

    Parameters
    ----------
    paths
        ``{name: path}``, or files and directories (each series named
        ``<parent directory>/<file name>``, as NAB's labels name them).
    grid
        ``{MLConfig field: [values, ...]}``; every combination is one
        configuration. ``enabled``, the skip patterns and ``clamp`` cannot be
        swept (the lab models everything, unclamped).
    windows
        Labelled windows (:func:`~pyml.lab.labels.load_windows`'s mapping, or
        the path of NAB's ``combined_windows.json``); every file needs an
        entry (``[]`` when it has no anomaly).
    base
        A configuration to vary (``dataclasses.replace(base, **point)``),
        the same for every file. Default: :func:`~pyml.lab.replay.lab_config`
        sized per file, with the point as overrides.
    executor
        Any :class:`concurrent.futures.Executor`; it is used, not shut down.
        Default: a :class:`~concurrent.futures.ProcessPoolExecutor` of
        ``jobs`` processes (default ``os.cpu_count()``), created and shut
        down here.
    scheduler
        Address of a Dask scheduler (``"tcp://host:8786"``): run the tasks
        there through ``distributed.Client(scheduler).get_executor()``
        (needs the ``dask`` extra). Not together with ``executor``.
    jobs
        Processes of the default pool.
    progress
        Progress bar over tasks on stderr; default: when stderr is a terminal.
    probationary_percent
        NAB's probationary period, for sizing and scoring.
    formulation
        The lab formulation (:mod:`pyml.lab.formulations`) each point starts
        from, unless the grid has a ``formulation`` key of its own (e.g.
        ``{"formulation": ["reference", "peaks"]}``). With ``base``, the
        formulation's settings are applied to it before the point's fields.
    half
        Which NAB series of the fixed split (:mod:`pyml.lab.split`) may be
        swept: ``"tuning"`` leaves out the series of the held-out half,
        ``"all"`` keeps them; ``None`` (default) sweeps the files as given.
        ``"heldout"`` is refused: the lab never tunes on the held-out half.
        Files that are not NAB series are always kept.

    Raises ``ValueError``/``TypeError`` naming a bad grid key or value, a
    file without labels, or conflicting arguments, before anything runs.
    """
    started = time.perf_counter()
    named = guard_heldout(_named_inputs(paths), half)[0] if half is not None else paths
    plan = _prepare(named, grid, windows, base=base, executor=executor, scheduler=scheduler, jobs=jobs,
                    probationary_percent=probationary_percent, formulation=formulation)
    return _execute(plan, executor=executor, scheduler=scheduler, jobs=jobs, progress=progress, started=started)


@dataclass
class _Plan:
    """A checked sweep, ready to run: grid points, recordings, labels and one configuration per task."""

    points: list[dict[str, Any]]
    recordings: dict[str, Recording]
    windows: Mapping[str, Sequence[Any]]
    configs: list[dict[str, MLConfig]]
    probationary_percent: float


def guard_heldout(named: Mapping[str, Any], half: str) -> tuple[dict[str, Any], list[str]]:
    """The inputs a sweep may tune on, and the held-out NAB series it left out.

    ``half`` is ``"tuning"`` (leave out the series of NAB's held-out half, by
    the committed lists of :func:`pyml.lab.split.committed_split`) or
    ``"all"`` (keep them); ``"heldout"`` raises ``ValueError``: the lab never
    tunes on the held-out half. Other files are kept.
    """
    if half == HELDOUT:
        raise ValueError("a sweep tunes, and the lab never tunes on the held-out half; use --half tuning "
                         "(or all, to reproduce figures that predate the split)")
    if check_half(half) == WHOLE:
        return dict(named), []
    heldout = set(committed_split()[HELDOUT])
    kept = {k: v for k, v in named.items() if k not in heldout}
    left_out = [k for k in named if k in heldout]
    if not kept:
        raise ValueError(f"every input ({len(named)}) is a NAB series of the held-out half, which a sweep never "
                         "tunes on (--half all includes them)")
    return kept, left_out


def _prepare(paths: Mapping[str, PathLike] | Sequence[PathLike] | PathLike, grid: Mapping[str, Sequence[Any]],
             windows: Mapping[str, Sequence[Any]] | PathLike, *, base: MLConfig | None, executor: Executor | None,
             scheduler: str | None, jobs: int | None, probationary_percent: float,
             formulation: str = DEFAULT_FORMULATION) -> _Plan:
    """Check every argument, read the recordings and build every configuration (nothing runs yet)."""
    if executor is not None and scheduler is not None:
        raise ValueError("give either executor= or scheduler=, not both")
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(f"executor must be a concurrent.futures.Executor, got {type(executor).__name__}")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    if jobs is not None and (executor is not None or scheduler is not None):
        raise ValueError("jobs sizes the default process pool; it cannot be combined with executor= or scheduler=")
    if base is not None and not isinstance(base, MLConfig):
        raise TypeError(f"base must be an MLConfig, got {type(base).__name__}: {base!r}")
    check_formulation(formulation)  # an unknown name fails here
    points = expand_grid(grid)
    named = _named_inputs(paths)
    if not named:
        raise ValueError("no input files")
    labelled = windows if isinstance(windows, Mapping) else load_windows(windows)
    unlabelled = [name for name in named if name not in labelled]
    if unlabelled:
        raise ValueError(f"no labelled windows for {', '.join(repr(n) for n in unlabelled)} "
                         "(series are named <directory>/<file>, as in NAB's combined_windows.json)")
    recordings = {name: read_recording(p) if not isinstance(p, Recording) else p for name, p in named.items()}
    recordings = {name: r if r.name == name else dataclasses.replace(r, name=name) for name, r in recordings.items()}
    configs = _configs(points, {name: r.values.shape[0] for name, r in recordings.items()}, base,
                       probationary_percent, formulation)
    return _Plan(points, recordings, labelled, configs, probationary_percent)


def _execute(plan: _Plan, *, executor: Executor | None, scheduler: str | None, jobs: int | None,
             progress: bool | None, started: float) -> SweepResult:
    """Run a plan's tasks on the executor (the default pool or Dask when none is given), score and rank."""
    tasks = [(i, name, rec, plan.configs[i][name]) for i in range(len(plan.points))
             for name, rec in plan.recordings.items()]
    show = bool(getattr(sys.stderr, "isatty", lambda: False)()) if progress is None else bool(progress)
    bar = Progress(len(tasks), "sweep", show, unit="tasks")
    client = None
    owned: Executor | None = None
    try:
        if executor is None and scheduler is not None:
            executor, client = dask_executor(scheduler)
        elif executor is None:
            owned = executor = ProcessPoolExecutor(max_workers=min(jobs or os.cpu_count() or 1, len(tasks)))
        done = _run(executor, tasks, bar)
    finally:
        bar.close()
        if owned is not None:
            owned.shutdown(wait=True, cancel_futures=True)
        if client is not None:
            client.close()

    rows = []
    replays: dict[int, dict[str, ReplayResult]] = {}
    for i, point in enumerate(plan.points):
        results = {name: done[i, name] for name in plan.recordings}
        replays[i] = results
        nab, events = score_replays(results, plan.windows, probationary_percent=plan.probationary_percent)
        standard = events["standard"]
        rows.append(SweepRow(
            index=i, point=dict(point),
            standard=nab["standard"].score, low_fp=nab["reward_low_FP_rate"].score,
            low_fn=nab["reward_low_FN_rate"].score,
            precision=standard.precision, recall=standard.recall, f1=standard.f1,
            threshold=nab["standard"].threshold,
            points=sum(len(r.timestamps) for r in results.values()),
            cpu_seconds=math.fsum(float(r.extra.get("cpu_seconds", r.seconds)) for r in results.values()),
        ))
    return SweepResult(keys=list(plan.points[0]), rows=rows, replays=replays,
                       wall_seconds=time.perf_counter() - started)


# --------------------------------------------------------------------------- outputs and command line


def _plot_path(out_dir: Path, name: str, index: int | None) -> Path:
    rel = Path(*[part for part in Path(name).parts if part not in ("", ".", "..")])
    stem = rel.stem if index is None else f"{rel.stem}.config{index}"
    return out_dir / "plots" / rel.parent / f"{stem}.png"


def write_plots(result: SweepResult, windows: Mapping[str, Sequence[Any]], out_dir: PathLike,
                which: str = "best", *, progress: bool | None = False) -> list[Path]:
    """PNGs of the replays under ``<out_dir>/plots/<category>/``: ``which`` is ``best``, ``all`` or ``none``.

    ``best`` writes ``<file>.png`` for the best configuration; ``all`` writes
    ``<file>.config<index>.png`` for every configuration. Each plot marks the
    configuration's NAB standard threshold. ``progress``: a bar over the plots
    on stderr (``None``: when stderr is a terminal).
    """
    if which not in PLOT_CHOICES:
        raise ValueError(f"plots must be one of {', '.join(PLOT_CHOICES)}, got {which!r}")
    if which == "none":
        return []
    from .plots import plot_replay

    rows = result.rows[:1] if which == "best" else sorted(result.rows, key=lambda r: r.index)
    show = bool(getattr(sys.stderr, "isatty", lambda: False)()) if progress is None else bool(progress)
    bar = Progress(sum(len(result.replays[row.index]) for row in rows), "plots", show, unit="plots")
    written = []
    try:
        for row in rows:
            for name, replayed in result.replays[row.index].items():
                path = _plot_path(Path(out_dir), name, None if which == "best" else row.index)
                title = f"{name}  config {row.index}: {_describe_point(row.point)}"
                written.append(plot_replay(replayed, path, windows.get(name, ()), threshold=row.threshold,
                                           title=title))
                bar.update()
    finally:
        bar.close()
    return written


def _header(grid: Mapping[str, Sequence[Any]], base: MLConfig | None, n_files: int, where: str,
            formulation: str = DEFAULT_FORMULATION) -> str:
    if base is None:
        sizing = (f"training windows sized per file (min_train_samples = NAB probationary period, "
                  f"max_train_samples = {LAB_TRAIN_FACTOR} x min_train_samples, train_every = min_train_samples)")
    else:
        sizing = "the given base configuration"
    lines = [
        ("# pyml lab sweep: netdata's [ml] defaults, unclamped (clamp=False: values outside netdata's ranges are "
         f"kept), {sizing}; ML on for every replayed chart"),
        f"# formulation: {formulation}: {describe_formulation(formulation)} (unless the grid sets it; "
        "see pyml.lab.formulations)",
        "# grid: " + "; ".join(f"{k} in [{', '.join(_text(v) for v in vs)}]" for k, vs in grid.items()),
        f"# {n_files} file(s) x {math.prod(len(v) for v in grid.values())} configuration(s) on {where}",
        "# ranked by NAB standard score; precision/recall/F1 are event metrics at the standard threshold",
    ]
    return "\n".join(lines) + "\n"


def run_command(
    inputs: Sequence[PathLike],
    *,
    labels: PathLike | None,
    grid_items: Sequence[str] = (),
    grid_file: PathLike | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    out_dir: PathLike = "pyml-sweep",
    plots: str = "none",
    progress: bool | None = None,
    stdout: Any = None,
    formulation: str = DEFAULT_FORMULATION,
    half: str = TUNING,
) -> int:
    """``pyml lab sweep``: run the grid, write ``sweep.csv``, ``sweep.txt`` and plots, print the table.

    Writes ``<out_dir>/sweep.csv`` (full precision), ``<out_dir>/sweep.txt``
    (the header and the table as printed) and, with ``plots="best"`` or
    ``"all"``, PNGs under ``<out_dir>/plots/`` (drawn after the table and the
    time are printed). ``half`` (default ``"tuning"``) leaves out the NAB
    series of the held-out half (see :func:`guard_heldout`). Returns the exit
    status; bad arguments raise ``ValueError`` naming them.
    """
    stdout = sys.stdout if stdout is None else stdout
    if labels is None:
        raise ValueError("--labels is required: NAB's combined_windows.json (or the same layout) to score against")
    if plots not in PLOT_CHOICES:
        raise ValueError(f"--plots must be one of {', '.join(PLOT_CHOICES)}, got {plots!r}")
    if jobs is not None and jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    if jobs is not None and scheduler is not None:
        raise ValueError("--jobs sizes the local process pool; it cannot be combined with --scheduler")
    grid = parse_grid_items(grid_items, grid_file)
    if not grid:
        raise ValueError("no grid: give --grid KEY=V1,V2 (repeatable) or --grid-file grid.json")
    _check_grid(grid)
    if plots != "none":
        from .plots import require_matplotlib

        require_matplotlib()  # before a sweep whose plots could not be drawn
    started = time.perf_counter()
    named, left_out = guard_heldout(collect_inputs(inputs), half)
    plan = _prepare(named, grid, load_windows(labels), base=None, executor=None,
                    scheduler=scheduler, jobs=jobs, probationary_percent=DEFAULT_PROBATIONARY_PERCENT,
                    formulation=formulation)
    where = f"Dask scheduler {scheduler}" if scheduler else \
        f"{min(jobs or os.cpu_count() or 1, len(plan.points) * len(plan.recordings))} local process(es)"
    header = _header(grid, None, len(plan.recordings), where, formulation)
    if left_out:
        header += (f"# left out {len(left_out)} NAB series of the held-out half (the fixed split; the lab never "
                   "tunes on it)\n")
    stdout.write(header)
    stdout.flush()
    result = _execute(plan, executor=None, scheduler=scheduler, jobs=jobs, progress=progress, started=started)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result.to_csv(out / "sweep.csv")
    table = result.table()
    (out / "sweep.txt").write_text(header + table, encoding="utf-8")
    cpu = math.fsum(r.cpu_seconds for r in result.rows)
    stdout.write(table)
    print(f"{len(result.rows)} configuration(s) x {len(plan.recordings)} file(s) in {result.wall_seconds:.2f} s "
          f"({cpu:.2f} s of replay CPU); table in {out / 'sweep.csv'} and {out / 'sweep.txt'}", file=stdout)
    best = result.best
    print(f"best: config {best.index} ({_describe_point(best.point)}): NAB standard {best.standard:.2f}", file=stdout)
    if plots != "none":
        # Drawn after the results are out, and timed on their own (matplotlib takes ~0.2 s a plot).
        stdout.flush()
        drawn = time.perf_counter()
        written = write_plots(result, plan.windows, out, plots, progress=progress)
        print(f"{len(written)} plot(s) under {out / 'plots'} in {time.perf_counter() - drawn:.2f} s", file=stdout)
    return 0
