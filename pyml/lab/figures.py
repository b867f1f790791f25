"""The evaluation protocol's NAB figures: profiles side by side, per half, per sizing convention.

For every profile and sizing convention (:mod:`pyml.lab.profiles`) each file of
the chosen half (:mod:`pyml.lab.split`) is replayed once through the engine
(:func:`pyml.lab.replay.replay`, one task per (profile, convention, file) on
any :class:`concurrent.futures.Executor`). One replay gives two series per
file, and each is scored with NAB's rules (:func:`pyml.lab.scoring.score_corpus`,
NAB's three cost profiles, its probationary period, which is the scorer's and
has nothing to do with the detector's training):

- ``score``: the anomaly score the product reports (the engine's score / 100,
  capped at 1), at the threshold optimised NAB's way over the files scored:
  NAB's own definition of its figures;
- ``bit``: the anomaly bit exactly as stored, 0 or 1 as the score, at a
  threshold fixed at 0.5: no search, nothing fitted to the files scored.

Halves: ``half="tuning"`` replays and reports the tuning half; ``"heldout"``
the held-out half; ``"all"`` replays every file once and reports the tuning
half, the held-out half and the whole corpus, plus ``score@tuning``: the
held-out half's score at the thresholds optimised on the tuning half (the one
score figure where nothing is fitted on held-out files). There is no default
half: held-out figures are only ever computed when asked for by name, and
nothing here carries anything fitted on held-out files to other data.

Normalised NAB scores of a half are normalised over that half (its own null
and perfect detectors), so they are comparable between profiles on the same
half, not with NAB's published scoreboard (all 58 files) unless the half is
``all``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..progress import Progress
from .formats import Recording, read_recording
from .labels import load_windows
from .profiles import CONVENTIONS, check_profile, describe_convention, nab_sizing, profile_config
from .replay import ReplayResult, collect_inputs, detect_update_every
from .scoring import DEFAULT_PROBATIONARY_PERCENT, ProfileScore, score_corpus
from .split import HELDOUT, TUNING, WHOLE, check_half, select_half, split_half
from .sweep import _run

__all__ = [
    "KINDS",
    "Figure",
    "NabFigures",
    "nab_figures",
    "run_command",
]

PathLike = Union[str, "os.PathLike[str]"]

#: What a figure scores, and how each is described in tables.
KINDS = {
    "score": "score, threshold optimised on these files (NAB's way)",
    "bit": "anomaly bit as stored (threshold fixed at 0.5)",
    "score@tuning": "score, thresholds optimised on the tuning half",
}
_NAB_COST_PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
_HALF_TEXT = {TUNING: "tuning half", HELDOUT: "held-out half", WHOLE: "whole corpus"}


@dataclass(frozen=True)
class Figure:
    """NAB's three normalised scores of one profile, convention, half and kind.

    ``kind`` is a key of :data:`KINDS`. ``thresholds`` gives the threshold
    used per NAB cost profile; ``windows`` the labelled windows scored and
    ``detected`` how many of them the standard profile's threshold detects;
    ``files`` the number of series.
    """

    profile: str
    convention: str
    half: str
    kind: str
    standard: float
    low_fp: float
    low_fn: float
    thresholds: dict[str, float]
    files: int
    windows: int
    detected: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (NaN as None)."""
        out = dataclasses.asdict(self)
        for key in ("standard", "low_fp", "low_fn"):
            if math.isnan(out[key]):
                out[key] = None
        out["what"] = KINDS[self.kind]
        return out


def _figure(profile: str, convention: str, half: str, kind: str, scores: Mapping[str, ProfileScore]) -> Figure:
    std = scores["standard"]
    return Figure(profile=profile, convention=convention, half=half, kind=kind,
                  standard=std.score, low_fp=scores["reward_low_FP_rate"].score,
                  low_fn=scores["reward_low_FN_rate"].score,
                  thresholds={name: scores[name].threshold for name in _NAB_COST_PROFILES},
                  files=len(std.files), windows=std.windows, detected=std.windows_detected)


@dataclass
class NabFigures:
    """The figures of one run: every profile on the same files, per convention and half.

    ``figures`` in a fixed order (convention, half, kind, profile);
    ``files[half]`` the series scored per half; ``replays[(profile,
    convention)]`` the replays (``{series: ReplayResult}``).
    """

    half: str
    profiles: list[str]
    conventions: list[str]
    figures: list[Figure]
    files: dict[str, list[str]]
    replays: dict[tuple[str, str], dict[str, ReplayResult]] = field(repr=False)
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def halves(self) -> list[str]:
        """The halves reported, in table order."""
        return [TUNING, HELDOUT, WHOLE] if self.half == WHOLE else [self.half]

    def figure(self, profile: str, convention: str, half: str, kind: str) -> Figure:
        """The figure of one profile, convention, half and kind (``KeyError`` naming it when absent)."""
        for f in self.figures:
            if (f.profile, f.convention, f.half, f.kind) == (profile, convention, half, kind):
                return f
        raise KeyError(f"no figure for profile {profile!r}, convention {convention!r}, half {half!r}, kind {kind!r}")

    def _blocks(self) -> list[tuple[str, str, list[Figure]]]:
        blocks = []
        for convention in self.conventions:
            for half in self.halves:
                rows = [f for f in self.figures if f.convention == convention and f.half == half]
                if rows:
                    blocks.append((convention, half, rows))
        return blocks

    def _title(self, convention: str, half: str, rows: list[Figure]) -> str:
        return (f"NAB, {_HALF_TEXT[half]} ({rows[0].files} files, {rows[0].windows} windows); "
                f"{describe_convention(convention)}")

    def table(self) -> str:
        """Aligned text: one block per (convention, half), a row per (figure kind, profile)."""
        header = ["figure", "profile", "standard", "low_FP", "low_FN", "thresholds std/lowFP/lowFN", "detected"]
        out = []
        for convention, half, rows in self._blocks():
            body = [[KINDS[f.kind], f.profile, _num(f.standard), _num(f.low_fp), _num(f.low_fn),
                     "/".join(f"{f.thresholds[p]:.4g}" for p in _NAB_COST_PROFILES), f"{f.detected}/{f.windows}"]
                    for f in rows]
            widths = [max(len(c) for c in column) for column in zip(header, *body)]
            lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
                     .rstrip() for line in [header] + body]
            out.append(f"== {self._title(convention, half, rows)}\n" + "\n".join(lines) + "\n")
        return "\n".join(out)

    def markdown(self) -> str:
        """Markdown tables (one per convention and half): figure kinds as rows, profiles as columns."""
        out = []
        for convention, half, rows in self._blocks():
            lines = [f"{self._title(convention, half, rows)}:", "",
                     "| figure | " + " | ".join(f"`{p}` standard / low FP / low FN" for p in self.profiles) + " |",
                     "|---|" + "---|" * len(self.profiles)]
            for kind in KINDS:
                cells = []
                for profile in self.profiles:
                    f = next((r for r in rows if r.kind == kind and r.profile == profile), None)
                    cells.append("" if f is None else f"{_num(f.standard)} / {_num(f.low_fp)} / {_num(f.low_fn)}")
                if any(cells):
                    lines.append(f"| {KINDS[kind]} | " + " | ".join(cells) + " |")
            out.append("\n".join(lines) + "\n")
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        """Everything but the replays, JSON-ready."""
        return {
            "half": self.half, "profiles": self.profiles, "conventions": self.conventions,
            "conventions_text": {c: describe_convention(c) for c in self.conventions},
            "files": self.files, "figures": [f.as_dict() for f in self.figures],
            "wall_seconds": self.wall_seconds, "cpu_seconds": self.cpu_seconds,
        }


def _num(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.2f}"


def _series(results: Mapping[str, ReplayResult], kind: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if kind == "bit":
        return {name: (r.timestamps, r.bits.any(axis=1).astype(np.float64)) for name, r in results.items()}
    return {name: (r.timestamps, r.anomaly_score) for name, r in results.items()}


def _score_figures(profile: str, convention: str, halves: Sequence[str], results: Mapping[str, ReplayResult],
                   windows: Mapping[str, Sequence[Any]], probationary_percent: float) -> list[Figure]:
    out: list[Figure] = []
    tuning_thresholds: dict[str, float] | None = None
    for half in halves:
        chosen = select_half(results, half)
        score = score_corpus(_series(chosen, "score"), windows, probationary_percent=probationary_percent)
        out.append(_figure(profile, convention, half, "score", score))
        if half == TUNING:
            tuning_thresholds = {name: score[name].threshold for name in _NAB_COST_PROFILES}
        bit = score_corpus(_series(chosen, "bit"), windows, thresholds=0.5, probationary_percent=probationary_percent)
        out.append(_figure(profile, convention, half, "bit", bit))
        if half == HELDOUT and tuning_thresholds is not None:
            carried = score_corpus(_series(chosen, "score"), windows, thresholds=tuning_thresholds,
                                   probationary_percent=probationary_percent)
            out.append(_figure(profile, convention, half, "score@tuning", carried))
    return out


def _named(paths: Mapping[str, PathLike | Recording] | Sequence[PathLike] | PathLike) -> dict[str, Any]:
    if isinstance(paths, Mapping):
        return dict(paths)
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return dict(collect_inputs(list(paths)))


def nab_figures(
    paths: Mapping[str, PathLike | Recording] | Sequence[PathLike] | PathLike,
    windows: Mapping[str, Sequence[Any]] | PathLike,
    profiles: Sequence[str],
    *,
    half: str,
    conventions: Sequence[str] = CONVENTIONS,
    executor: Executor | None = None,
    jobs: int | None = None,
    progress: bool | None = None,
    probationary_percent: float = DEFAULT_PROBATIONARY_PERCENT,
) -> NabFigures:
    """Replay the files of ``half`` once per profile and convention; score them as the protocol says.

    Parameters
    ----------
    paths
        NAB's ``data`` directory, files, or ``{series key: path or Recording}``
        (keys as NAB's labels: ``"realKnownCause/nyc_taxi.csv"``).
    windows
        Labelled windows or the path of NAB's ``combined_windows.json``; every
        series needs an entry.
    profiles
        Names of :func:`pyml.lab.profiles.available_profiles`, shown in this order.
    half
        ``"tuning"``, ``"heldout"`` or ``"all"`` (keyword, no default: held-out
        figures are computed only when asked for by name).
    conventions
        Sizing conventions, ``"nab"`` and/or ``"strict"`` (both by default).
    executor
        Any :class:`concurrent.futures.Executor` (used, not shut down). By
        default a process pool of ``jobs`` processes, or this process when
        ``jobs`` is 1 or not given.
    """
    started = time.perf_counter()
    half = check_half(half)
    profiles = [check_profile(p) for p in profiles]
    if not profiles:
        raise ValueError("no profile given")
    if len(set(profiles)) != len(profiles):
        raise ValueError(f"a profile is repeated: {profiles}")
    conventions = list(conventions)
    for c in conventions:
        describe_convention(c)  # names an unknown convention
    if not conventions or len(set(conventions)) != len(conventions):
        raise ValueError(f"conventions must be distinct names among {', '.join(CONVENTIONS)}, got {conventions}")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    if jobs is not None and executor is not None:
        raise ValueError("jobs sizes the default process pool; it cannot be combined with executor=")
    labelled = windows if isinstance(windows, Mapping) else load_windows(windows)
    chosen = select_half(_named(paths), half)
    missing = [name for name in chosen if name not in labelled]
    if missing:
        raise ValueError(f"no labelled windows for {', '.join(repr(n) for n in missing)} "
                         "(series are named <directory>/<file>, as in NAB's combined_windows.json)")
    recordings: dict[str, Recording] = {}
    for name, p in chosen.items():
        rec = p if isinstance(p, Recording) else read_recording(p)
        recordings[name] = rec if rec.name == name else dataclasses.replace(rec, name=name)
    pairs = [(p, c) for c in conventions for p in profiles]
    tasks = []
    for index, (profile, convention) in enumerate(pairs):
        for name, rec in recordings.items():
            ue = detect_update_every(rec.timestamps)
            sizing = nab_sizing(convention, rec.values.shape[0], probationary_percent)
            tasks.append((index, name, rec, profile_config(profile, sizing, ue)))

    show = bool(getattr(sys.stderr, "isatty", lambda: False)()) if progress is None else bool(progress)
    bar = Progress(len(tasks), "replays", show, unit="tasks")
    owned: Executor | None = None
    try:
        if executor is None:
            workers = min(jobs or 1, len(tasks))
            owned = executor = ProcessPoolExecutor(workers) if workers > 1 else ThreadPoolExecutor(1)
        done = _run(executor, tasks, bar)
    finally:
        bar.close()
        if owned is not None:
            owned.shutdown(wait=True, cancel_futures=True)

    halves = [TUNING, HELDOUT, WHOLE] if half == WHOLE else [half]
    figures: list[Figure] = []
    replays: dict[tuple[str, str], dict[str, ReplayResult]] = {}
    for index, (profile, convention) in enumerate(pairs):
        results = {name: done[index, name] for name in recordings}
        replays[profile, convention] = results
        figures.extend(_score_figures(profile, convention, halves, results, labelled, probationary_percent))
    order = {k: i for i, k in enumerate(KINDS)}
    figures.sort(key=lambda f: (conventions.index(f.convention), halves.index(f.half), order[f.kind],
                                profiles.index(f.profile)))
    files = {h: [n for n in recordings if h == WHOLE or split_half(n) == h] for h in halves}
    cpu = math.fsum(float(r.extra.get("cpu_seconds", r.seconds)) for rs in replays.values() for r in rs.values())
    return NabFigures(half=half, profiles=profiles, conventions=conventions, figures=figures, files=files,
                      replays=replays, wall_seconds=time.perf_counter() - started, cpu_seconds=cpu)


# --------------------------------------------------------------------------- command line


def _locate(nab_dir: PathLike, labels: PathLike | None) -> tuple[Path, Path]:
    """NAB's data directory and labels file from the directory given on the command line."""
    root = Path(nab_dir)
    if not root.is_dir():
        raise ValueError(f"NAB directory not found: {root}")
    data = root / "data" if (root / "data").is_dir() else root
    if labels is not None:
        return data, Path(labels)
    for candidate in (root / "labels" / "combined_windows.json", data.parent / "labels" / "combined_windows.json"):
        if candidate.is_file():
            return data, candidate
    raise ValueError(f"no labels/combined_windows.json next to {data}; give --labels")


def run_command(
    nab_dir: PathLike,
    *,
    profiles: Sequence[str],
    half: str,
    conventions: Sequence[str] = CONVENTIONS,
    labels: PathLike | None = None,
    jobs: int = 1,
    out_dir: PathLike = "pyml-nab",
    progress: bool | None = None,
    stdout: Any = None,
) -> int:
    """``pyml lab nab``: the protocol's NAB figures; prints the table and writes ``nab_figures.{txt,md,json}``."""
    stdout = sys.stdout if stdout is None else stdout
    half = check_half(half)
    data, labels_path = _locate(nab_dir, labels)
    header = [
        f"# pyml lab nab: {', '.join(profiles)} on NAB ({data}), {_HALF_TEXT[half]}"
        + ("; held-out figures: for reporting a frozen formulation, never for tuning" if half != TUNING else ""),
        "# one replay per (profile, convention, file) serves both figures: the reported score (threshold "
        "optimised NAB's way) and the stored anomaly bit (threshold fixed at 0.5)",
        "# NAB's scorer ignores the first 15% of each file (at most 750 points): the scorer's probationary "
        "period, not the detector's",
    ] + [f"# {describe_convention(c)}" for c in conventions]
    text_header = "\n".join(header) + "\n"
    stdout.write(text_header)
    stdout.flush()
    result = nab_figures(data, labels_path, profiles, half=half, conventions=conventions, jobs=jobs,
                         progress=progress)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = result.table()
    (out / "nab_figures.txt").write_text(text_header + table, encoding="utf-8")
    (out / "nab_figures.md").write_text(result.markdown(), encoding="utf-8")
    (out / "nab_figures.json").write_text(json.dumps(result.to_json(), indent=1) + "\n", encoding="utf-8")
    stdout.write(table)
    n = len(next(iter(result.replays.values())))
    print(f"{len(result.replays)} (profile, convention) pair(s) x {n} file(s) in {result.wall_seconds:.1f} s "
          f"({result.cpu_seconds:.1f} s of replay CPU); tables in {out / 'nab_figures.txt'}, "
          f"{out / 'nab_figures.md'}, {out / 'nab_figures.json'}", file=stdout)
    return 0
