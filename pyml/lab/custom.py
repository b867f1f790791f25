"""Your own detectors: per-dimension rules written in Python, compiled with numba, run by the lab.

A :class:`Detector` is a small rule that runs after the engine, once per
dimension and tick. It sees what the engine produced for that dimension at
that tick -- the raw value (NaN in a gap), the engine's k-means anomaly score
(0-100 scale, uncapped; 0 without a model or a full feature window), the
anomaly bit the engine stored, and whether the dimension holds a model -- and
returns the score to report and the bit it would store. Its memory is a fixed
number of float64 per dimension (``state_size``) that the lab allocates, so
a rule written this way has O(1) state and work per dimension and tick, the
shape a rule must have to move into the C++ tick.

The rule is three things, two of them numba-jitted functions::

    state_size                                   # int: float64 values per dimension
    init_state(state, params) -> None            # fill a fresh dimension's state
    step(state, params, value, score, bit, trained) -> (score_out, bit_out)

``state`` is that dimension's float64 array of ``state_size`` values,
``params`` a float64 array of the detector's parameters in the order of its
``params`` mapping, ``value`` and ``score`` float64, ``bit`` and ``trained``
bool; ``step`` returns a float (the score on the engine's 0-100 scale;
reported as ``min(score / 100, 1)`` like the engine's) and a bool. A jitted
loop over dimensions and ticks calls them (:func:`run_detector`); the
kernels are checked once when first run (:meth:`Detector.check`): a plain
Python function, a wrong signature, a wrong return type, or a state index
outside ``state_size`` is reported by name before anything is replayed.

How the lab runs one: the recording is replayed through the engine exactly
as :func:`pyml.lab.replay` replays it (same configuration, gaps, merged rows
and training), recording every tick of every dimension (:func:`trace`; the
engine's own score-peak reporting is switched off so the detector sees the
k-means score); the detector then runs over the recorded ticks, gap ticks
included; each row takes the results of its tick, as in a replay. The result
is a :class:`~pyml.lab.replay.ReplayResult`, so NAB scoring
(:func:`~pyml.lab.replay.score_replays`), points files and plots take it as
they take the built-in formulations'. :func:`sweep_detectors` ranks
detectors and built-in formulations in one
:class:`~pyml.lab.sweep.SweepResult` table; it replays each engine
configuration once per file and runs every detector over that one trace.

numba is needed only here (``pip install 'pyml-anomaly[lab]'``) and is
imported on first use, never by ``import pyml`` or ``import pyml.lab``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Union

import numpy as np

from .._arrays import as_count
from ..config import MLConfig
from ..engine.host import Host
from ..engine.replay_ticker import ReplayTicker
from .formats import Recording, read_recording
from .formulations import DEFAULT_FORMULATION, check_formulation
from .labels import load_windows
from .replay import (
    CHART_ID,
    ReplayResult,
    _dimension_names,
    _for_replay,
    collect_inputs,
    detect_update_every,
    lab_config,
    replay,
    score_replays,
)
from .scoring import DEFAULT_PROBATIONARY_PERCENT
from .sweep import SweepResult, SweepRow, expand_grid

__all__ = [
    "Detector",
    "EngineTrace",
    "apply_detector",
    "detector_grid",
    "replay_detector",
    "run_detector",
    "sweep_detectors",
    "trace",
]

PathLike = Union[str, "os.PathLike[str]"]
#: A parameter: a number, or a function of the replay's configuration giving one (sized per recording).
Param = Union[float, int, Callable[[MLConfig], float]]

_INSTALL = "pip install 'pyml-anomaly[lab]'"


def _numba() -> Any:
    """The numba module, imported on first use; ``ImportError`` naming the ``lab`` extra when missing."""
    try:
        import numba
    except ImportError:
        raise ImportError(f"user-written detectors are compiled with numba: {_INSTALL}") from None
    return numba


def _is_jitted(fn: Any) -> bool:
    from numba.core.registry import CPUDispatcher

    return isinstance(fn, CPUDispatcher)


# --------------------------------------------------------------------------- the detector


@dataclass(frozen=True)
class Detector:
    """A per-dimension rule over the engine's output (see the module's description).

    Parameters
    ----------
    name : str
        Shown in tables (with the parameters: ``peaks(window=241)``).
    state_size : int
        float64 values of state per dimension (0 for a stateless rule).
    init_state : numba-jitted function ``(state, params) -> None``
        Fills a fresh dimension's state (the array starts as zeros).
    step : numba-jitted function ``(state, params, value, score, bit, trained) -> (float, bool)``
        One tick of one dimension; updates ``state`` in place.
    params : mapping of name -> number or function of :class:`~pyml.MLConfig`
        The rule's parameters, passed to the kernels as a float64 array in
        this order. A callable is evaluated per recording with the replay's
        configuration (e.g. a window sized to ``min_train_samples``).
    """

    name: str
    state_size: int
    init_state: Callable[..., Any]
    step: Callable[..., Any]
    params: Mapping[str, Param] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a detector needs a non-empty name, got {self.name!r}")
        as_count("state_size", self.state_size, 0, "a non-negative integer")
        if not isinstance(self.params, Mapping):
            raise TypeError(f"detector {self.name!r}: params must be a mapping name -> number, "
                            f"got {type(self.params).__name__}")
        for key, value in self.params.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise ValueError(f"detector {self.name!r}: parameter name {key!r} is not an identifier")
            if not callable(value):
                _number(self.name, key, value)
        object.__setattr__(self, "params", dict(self.params))

    def with_params(self, **params: Param) -> "Detector":
        """A copy with some parameters replaced; an unknown name raises ``ValueError``."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise ValueError(f"detector {self.name!r} has no parameter(s) {', '.join(unknown)}; "
                             f"its parameters: {', '.join(self.params) or 'none'}")
        return dataclasses.replace(self, params={**self.params, **params})

    def resolve(self, config: MLConfig) -> np.ndarray:
        """The parameters for one recording, as the float64 array the kernels get."""
        values = []
        for key, value in self.params.items():
            values.append(_number(self.name, key, value(config) if callable(value) else value))
        return np.array(values, dtype=np.float64)

    def label(self) -> str:
        """``name(param=value, ...)``; a parameter sized per recording shows as ``sized``."""
        if not self.params:
            return self.name
        shown = ", ".join(f"{k}={'sized' if callable(v) else _short(v)}" for k, v in self.params.items())
        return f"{self.name}({shown})"

    def __str__(self) -> str:
        return self.label()

    def check(self) -> None:
        """Check the kernels once (cached); raise ``TypeError``/``ValueError`` naming what is wrong.

        Both kernels must be numba-jitted; ``step`` must compile for the
        documented argument types and return ``(float, bool)``; a probe run
        of ``init_state`` and ``step`` compiled with bounds checking over a few
        typical inputs (with the parameters as sized for the default
        :class:`~pyml.MLConfig`) must stay inside ``state_size`` and raise nothing.
        """
        _check_kernels(self.name, self.state_size, self.init_state, self.step, self.resolve(MLConfig(profile="netdata-1.33")))


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _number(name: str, key: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"detector {name!r}: parameter {key} must be a number, got {value!r}")
    if math.isnan(float(value)):
        raise ValueError(f"detector {name!r}: parameter {key} is NaN")
    return float(value)


# --------------------------------------------------------------------------- checking and running kernels

_CHECKED: set[tuple[Any, ...]] = set()
_BOUNDS_CHECKED: dict[Any, Any] = {}
_RUNNERS: dict[tuple[Any, Any], Any] = {}

_SIGNATURE = "step(state, params, value, score, bit, trained) -> (score: float, bit: bool)"

# Probe inputs (value, score, bit, trained): untrained, gap, normal, rising, saturated, back to normal.
_PROBE = [(1.0, 0.0, False, False), (math.nan, 0.0, False, False), (2.0, 0.0, False, True),
          (2.5, 10.0, False, True), (9.0, 150.0, True, True), (12.0, 300.0, True, True),
          (math.nan, 0.0, False, True), (2.0, 5.0, False, True)] * 4


def _bounds_checked(fn: Any) -> Any:
    """``fn``'s Python function compiled again with bounds checking (cached per function)."""
    checked = _BOUNDS_CHECKED.get(fn)
    if checked is None:
        checked = _BOUNDS_CHECKED[fn] = _numba().njit(boundscheck=True)(fn.py_func)
    return checked


def _check_kernels(name: str, state_size: int, init_state: Any, step: Any, params: np.ndarray) -> None:
    key = (init_state, step, state_size, params.tobytes())
    if key in _CHECKED:
        return
    for role, fn in (("init_state", init_state), ("step", step)):
        if not _is_jitted(fn):
            raise TypeError(f"detector {name!r}: {role} must be a numba-jitted function (decorate it with "
                            f"@numba.njit), got {type(fn).__name__} {getattr(fn, '__name__', fn)!r}")
    from numba.core import types
    from numba.core.errors import NumbaError

    state_t = types.float64[::1]
    try:
        init_state.compile((state_t, state_t))
    except (NumbaError, TypeError) as exc:
        raise TypeError(f"detector {name!r}: init_state(state, params) does not compile for "
                        f"(float64[::1], float64[::1]): {_first_line(exc)}") from None
    argtypes = (state_t, state_t, types.float64, types.float64, types.boolean, types.boolean)
    try:
        step.compile(argtypes)
    except (NumbaError, TypeError) as exc:
        raise TypeError(f"detector {name!r}: step does not compile as {_SIGNATURE} with float64[::1] arrays, "
                        f"float64 value and score, bool bit and trained: {_first_line(exc)}") from None
    returned = step.overloads[argtypes].signature.return_type
    if not (isinstance(returned, types.BaseTuple) and len(returned) == 2
            and isinstance(returned[0], (types.Float, types.Integer))
            and isinstance(returned[1], types.Boolean)):
        raise TypeError(f"detector {name!r}: step must return (score: float, bit: bool), "
                        f"it returns {returned}")
    # A probe run compiled with bounds checking: an index outside state_size raises IndexError.
    checked_init, checked_step = _bounds_checked(init_state), _bounds_checked(step)
    state = np.zeros(state_size)
    try:
        checked_init(state, params)
        for value, score, bit, trained in _PROBE:
            checked_step(state, params, value, score, bit, trained)
    except IndexError as exc:
        raise ValueError(f"detector {name!r}: its kernels index the state beyond state_size={state_size} "
                         f"(or params beyond its {params.size} parameter(s)): {exc}") from None
    except Exception as exc:
        raise ValueError(f"detector {name!r}: a probe run of its kernels with parameters {params.tolist()} "
                         f"raised {type(exc).__name__}: {exc}") from None
    _CHECKED.add(key)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:3])[:400]


def _runner(init_state: Any, step: Any) -> Any:
    """The jitted loop over dimensions and ticks for one pair of kernels (compiled once, cached)."""
    key = (init_state, step)
    run = _RUNNERS.get(key)
    if run is not None:
        return run
    numba = _numba()

    @numba.njit(nogil=True)
    def loop(values, scores, bits, trained, params, state, out_scores, out_bits):  # pragma: no cover - jitted
        n_ticks, n_dims = values.shape
        for d in range(n_dims):
            s = state[d]
            init_state(s, params)
            for t in range(n_ticks):
                score, bit = step(s, params, values[t, d], scores[t, d], bits[t, d], trained[t, d])
                out_scores[t, d] = score
                out_bits[t, d] = bit

    _RUNNERS[key] = loop
    return loop


def run_detector(detector: Detector, values: Any, scores: Any, bits: Any, trained: Any,
                 params: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Run ``detector`` over ticks x dimensions of engine output; return ``(scores, bits)``.

    ``values`` and ``scores`` are float64 ``(ticks, dimensions)``, ``bits``
    and ``trained`` bool of the same shape; ``params`` the resolved
    parameters (default: ``detector.resolve(MLConfig(profile="netdata-1.33"))``,
    the lab's reference, for parameters that are numbers). Every dimension starts from ``init_state``; the returned
    scores are on the engine's 0-100 scale, uncapped. Raises ``ValueError``
    naming the tick and dimension of a NaN or negative score.
    """
    if not isinstance(detector, Detector):
        raise TypeError(f"detector must be a pyml.lab.custom.Detector, got {type(detector).__name__}")
    detector.check()
    v = np.ascontiguousarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"values must be 2-D (ticks, dimensions), got shape {v.shape}")
    arrays = {"scores": np.ascontiguousarray(scores, dtype=np.float64),
              "bits": np.ascontiguousarray(bits, dtype=np.bool_),
              "trained": np.ascontiguousarray(trained, dtype=np.bool_)}
    for key, arr in arrays.items():
        if arr.shape != v.shape:
            raise ValueError(f"{key} has shape {arr.shape}; expected {v.shape} like values")
    p = detector.resolve(MLConfig(profile="netdata-1.33")) if params is None else np.ascontiguousarray(params, dtype=np.float64)
    if p.shape != (len(detector.params),):
        raise ValueError(f"params must hold {len(detector.params)} value(s) for detector {detector.name!r}, "
                         f"got shape {p.shape}")
    state = np.zeros((v.shape[1], detector.state_size))
    out_scores = np.empty(v.shape)
    out_bits = np.empty(v.shape, dtype=np.bool_)
    _runner(detector.init_state, detector.step)(v, arrays["scores"], arrays["bits"], arrays["trained"], p, state,
                                                 out_scores, out_bits)
    bad = ~(out_scores >= 0.0)
    if bad.any():
        t, d = np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape)
        raise ValueError(f"detector {detector.label()!r} returned score {float(out_scores[t, d])!r} at tick {t} "
                         f"of dimension {d}; scores must be numbers >= 0")
    return out_scores, out_bits


# --------------------------------------------------------------------------- the engine's trace


@dataclass
class EngineTrace:
    """What the engine produced at every tick of one replay.

    Tick arrays have one row per tick fed to the engine (gap ticks included)
    and one column per dimension: ``values`` (NaN in gaps), ``scores`` (the
    engine's k-means score, 0-100 scale, uncapped), ``bits`` (stored anomaly
    bits) and ``trained`` (the dimension held a model at that tick).
    ``row_tick[i]`` is the tick whose results row ``i`` of the recording
    takes. ``events`` are the host's anomaly events (from the engine's bits).
    """

    name: str
    recording: Recording
    config: MLConfig
    update_every: int
    values: np.ndarray
    scores: np.ndarray
    bits: np.ndarray
    trained: np.ndarray
    row_tick: np.ndarray
    events: list[tuple[int, int]]
    gap_ticks: int = 0
    merged_rows: int = 0
    trainings: int = 0
    seconds: float = 0.0

    @property
    def ticks(self) -> int:
        """Number of ticks fed to the engine."""
        return int(self.values.shape[0])


def trace(source: PathLike | Recording, config: MLConfig | None = None, *, update_every: int | None = None,
          name: str | None = None, probationary_percent: float = DEFAULT_PROBATIONARY_PERCENT,
          formulation: str = DEFAULT_FORMULATION) -> EngineTrace:
    """Replay one recording as :func:`pyml.lab.replay` does and keep every tick's engine output.

    The arguments are :func:`~pyml.lab.replay`'s. The configuration's
    ``score_peak_window`` is set to 0 (the engine then returns its k-means
    scores; peaks do not change the stored bits).
    """
    started = time.perf_counter()
    recording = source if isinstance(source, Recording) else read_recording(source)
    n, d = recording.values.shape
    ue = detect_update_every(recording.timestamps) if update_every is None else update_every
    ue = as_count("update_every", ue, 1, "a positive integer")
    seconds = recording.epoch_seconds
    if (seconds < 0).any():
        bad = int(np.flatnonzero(seconds < 0)[0])
        raise ValueError(f"{recording.name}: timestamp {recording.timestamps[bad]} (row {bad}) is before 1970")
    if config is not None and not isinstance(config, MLConfig):
        raise TypeError(f"config must be an MLConfig, got {type(config).__name__}: {config!r}")
    check_formulation(formulation)
    cfg = _for_replay(lab_config(n, probationary_percent=probationary_percent, formulation=formulation)
                      if config is None else config)
    engine_cfg = dataclasses.replace(cfg, score_peak_window=0) if cfg.score_peak_window else cfg
    host = Host("lab-trace", engine_cfg, update_every=ue, background=False, tiers=())
    ks = seconds // ue
    gap_cap = cfg.max_train_samples + cfg.max_window_size
    # Ticks fed: every distinct row tick plus the gap ticks before it (each gap capped as replay caps it).
    n_ticks = 0
    last: int | None = None
    for k in ks.tolist():
        if last is None or k > last:
            n_ticks += 1 + (min(k - last - 1, gap_cap) if last is not None else 0)
            last = k
    t_values = np.full((n_ticks, d), np.nan)
    t_scores = np.zeros((n_ticks, d))
    t_bits = np.zeros((n_ticks, d), dtype=np.bool_)
    t_trained = np.zeros((n_ticks, d), dtype=np.bool_)
    row_tick = np.zeros(n, dtype=np.int64)
    names = _dimension_names(recording.columns)
    column_of = {f"{CHART_ID}|{nm}": j for j, nm in enumerate(names)}
    trained_now = np.zeros(d, dtype=np.bool_)
    gap_row = np.full(d, np.nan)
    gap_ticks = merged = trainings = 0
    tick = -1
    try:
        host.add_chart(CHART_ID, names)
        ticker = ReplayTicker(host, want_scores=True)  # collect_all + train_due without store and charts
        values = np.ascontiguousarray(recording.values, dtype=np.float64)
        last = None

        def feed(t: int, row: np.ndarray) -> None:
            nonlocal tick, trainings
            tick += 1
            scores, t_bits[tick], report = ticker.tick(t, row)
            assert scores is not None
            t_values[tick] = row
            t_scores[tick] = scores
            t_trained[tick] = trained_now
            trainings += len(report.trained)
            for dim_id in report.trained:  # models apply from the next tick
                trained_now[column_of[dim_id]] = True

        for i in range(n):
            k = int(ks[i])
            if last is not None and k <= last:
                merged += 1
            else:
                if last is not None and k > last + 1:
                    missing = k - last - 1
                    gap_ticks += missing
                    for j in range(last + 1, last + 1 + min(missing, gap_cap)):
                        feed(j * ue, gap_row)
                feed(k * ue, values[i])
                last = k
            row_tick[i] = tick
        horizon_ms = ((last if last is not None else 0) + 1) * ue * 1000 + 1000
        events = [(int(a), int(b)) for a, b in host.anomaly_events(0, horizon_ms)]
    finally:
        host.close()
    return EngineTrace(name=name if name is not None else recording.name, recording=recording, config=cfg,
                       update_every=ue, values=t_values, scores=t_scores, bits=t_bits, trained=t_trained,
                       row_tick=row_tick, events=events, gap_ticks=gap_ticks, merged_rows=merged,
                       trainings=trainings, seconds=time.perf_counter() - started)


def apply_detector(detector: Detector | None, engine: EngineTrace) -> ReplayResult:
    """The replay result of ``detector`` over a trace (``None``: the engine's own scores and bits).

    Scores are reported as ``min(score / 100, 1)`` per row, as a replay
    reports the engine's. ``extra`` holds ``detector`` (its label),
    ``params`` (resolved) and ``detector_seconds``.
    """
    started = time.perf_counter()
    extra: dict[str, Any] = {}
    if detector is None:
        scores, bits = engine.scores, engine.bits
        extra["detector"] = "engine"
    else:
        params = detector.resolve(engine.config)
        scores, bits = run_detector(detector, engine.values, engine.scores, engine.bits, engine.trained, params)
        extra.update(detector=detector.label(), params=dict(zip(detector.params, params.tolist())))
    rows = engine.row_tick
    reported = np.minimum(scores[rows] / 100.0, 1.0)
    extra["detector_seconds"] = time.perf_counter() - started
    rec = engine.recording
    return ReplayResult(
        name=engine.name, timestamps=rec.timestamps, columns=list(rec.columns), values=rec.values,
        scores=reported, bits=bits[rows].copy(), events=list(engine.events), update_every=engine.update_every,
        config=engine.config, ticks=engine.ticks, gap_ticks=engine.gap_ticks, merged_rows=engine.merged_rows,
        trainings=engine.trainings, seconds=engine.seconds + extra["detector_seconds"], extra=extra,
    )


def replay_detector(source: PathLike | Recording, detector: Detector | None, config: MLConfig | None = None, *,
                    update_every: int | None = None, name: str | None = None,
                    probationary_percent: float = DEFAULT_PROBATIONARY_PERCENT,
                    formulation: str = DEFAULT_FORMULATION) -> ReplayResult:
    """Replay one recording through the engine and ``detector``; arguments as :func:`pyml.lab.replay`'s.

    The engine runs with the configuration :func:`pyml.lab.replay` would use
    (``formulation`` and ``config`` as there), its score-peak reporting off;
    the detector runs over every tick (:func:`apply_detector`).
    """
    if detector is not None:
        if not isinstance(detector, Detector):
            raise TypeError(f"detector must be a pyml.lab.custom.Detector or None, got {type(detector).__name__}")
        detector.check()  # before the replay, so a bad kernel costs nothing
    engine = trace(source, config, update_every=update_every, name=name, probationary_percent=probationary_percent,
                   formulation=formulation)
    return apply_detector(detector, engine)


# --------------------------------------------------------------------------- sweeps


def _trace_task(recording: Recording, config: MLConfig) -> EngineTrace:
    started = time.thread_time()
    out = trace(recording, config, name=recording.name)
    out.seconds = time.thread_time() - started
    return out


def _replay_task(recording: Recording, config: MLConfig) -> ReplayResult:
    started = time.thread_time()
    out = replay(recording, config, name=recording.name, progress=False)
    out.extra["cpu_seconds"] = time.thread_time() - started
    return out


def sweep_detectors(
    paths: Mapping[str, PathLike] | Sequence[PathLike] | PathLike,
    detectors: Sequence[Detector | None],
    windows: Mapping[str, Sequence[Any]] | PathLike,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    executor: Executor | None = None,
    jobs: int | None = None,
    probationary_percent: float = DEFAULT_PROBATIONARY_PERCENT,
    formulation: str = DEFAULT_FORMULATION,
) -> SweepResult:
    """Rank detectors (and built-in formulations) over a labelled corpus, as :func:`pyml.lab.sweep` ranks.

    Every point of ``grid`` (``{MLConfig field or "formulation": [values]}``,
    as :func:`pyml.lab.sweep`'s; default: one point, ``formulation``) is
    combined with every entry of ``detectors``: a :class:`Detector`, or
    ``None`` for the formulation exactly as built in (the lab's own
    :func:`~pyml.lab.replay`, score peaks included). Each engine configuration
    is replayed once per file on ``executor`` (default: a process pool of
    ``jobs`` processes); the detectors run over that trace in this process.
    The table's keys are the grid's plus ``detector`` (the detector's label,
    or ``builtin``); ``replays[index]`` holds each configuration's results.
    """
    started = time.perf_counter()
    if isinstance(detectors, (Detector, str)) or not isinstance(detectors, Sequence) or not detectors:
        raise TypeError("detectors must be a non-empty list of Detector objects or None")
    for det in detectors:
        if det is not None and not isinstance(det, Detector):
            raise TypeError(f"detectors must hold Detector objects or None, got {type(det).__name__}: {det!r}")
        if det is not None:
            det.check()
    labels = ["builtin" if det is None else det.label() for det in detectors]
    if len(set(labels)) != len(labels):
        raise ValueError(f"two detectors have the same label in {labels}; give them distinct names or parameters")
    check_formulation(formulation)
    points = expand_grid(grid) if grid else [{"formulation": formulation}]
    named = dict(paths) if isinstance(paths, Mapping) else dict(
        collect_inputs([paths] if isinstance(paths, (str, os.PathLike)) else list(paths)))
    if not named:
        raise ValueError("no input files")
    labelled = windows if isinstance(windows, Mapping) else load_windows(windows)
    missing = [nm for nm in named if nm not in labelled]
    if missing:
        raise ValueError(f"no labelled windows for {', '.join(repr(m) for m in missing)}")
    recordings = {}
    for nm, p in named.items():
        rec = p if isinstance(p, Recording) else read_recording(p)
        recordings[nm] = rec if rec.name == nm else dataclasses.replace(rec, name=nm)

    def config_for(point: Mapping[str, Any], n: int) -> MLConfig:
        fields = dict(point)
        name = fields.pop("formulation", formulation)
        return _for_replay(lab_config(n, probationary_percent=probationary_percent, formulation=name, **fields))

    configs = [{nm: config_for(p, r.values.shape[0]) for nm, r in recordings.items()} for p in points]
    owned = None
    if executor is None:
        workers = min(jobs or os.cpu_count() or 1, len(points) * len(recordings) * 2)
        owned = executor = ProcessPoolExecutor(max_workers=workers)
    try:
        futures = {}
        for g in range(len(points)):
            for nm, rec in recordings.items():
                if any(det is not None for det in detectors):
                    futures["trace", g, nm] = executor.submit(_trace_task, rec, configs[g][nm])
                if any(det is None for det in detectors):
                    futures["builtin", g, nm] = executor.submit(_replay_task, rec, configs[g][nm])
        done = {key: fut.result() for key, fut in futures.items()}
    finally:
        if owned is not None:
            owned.shutdown(wait=True, cancel_futures=True)

    rows, replays = [], {}
    keys = list(points[0]) + ["detector"]
    index = 0
    for g, point in enumerate(points):
        for det, label in zip(detectors, labels):
            results: dict[str, ReplayResult] = {}
            cpu = 0.0
            for nm in recordings:
                if det is None:
                    r = done["builtin", g, nm]
                    cpu += float(r.extra["cpu_seconds"])
                else:
                    engine = done["trace", g, nm]
                    r = apply_detector(det, engine)
                    cpu += engine.seconds + float(r.extra["detector_seconds"])
                results[nm] = r
            nab, events = score_replays(results, labelled, probationary_percent=probationary_percent)
            standard = events["standard"]
            rows.append(SweepRow(
                index=index, point={**point, "detector": label},
                standard=nab["standard"].score, low_fp=nab["reward_low_FP_rate"].score,
                low_fn=nab["reward_low_FN_rate"].score, precision=standard.precision, recall=standard.recall,
                f1=standard.f1, threshold=nab["standard"].threshold,
                points=sum(len(r.timestamps) for r in results.values()), cpu_seconds=cpu,
            ))
            replays[index] = results
            index += 1
    return SweepResult(keys=keys, rows=rows, replays=replays, wall_seconds=time.perf_counter() - started)


def detector_grid(detector: Detector, **values: Sequence[Param]) -> list[Detector]:
    """Every combination of parameter values as a list of detectors (the first name varies slowest)."""
    if not values:
        return [detector]
    names = list(values)
    return [detector.with_params(**dict(zip(names, combo))) for combo in itertools.product(*values.values())]
