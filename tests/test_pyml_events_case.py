"""End to end on a real host: 2,000 s of host case A through the engine, the per-dimension rule and PymlDetector.

The slice (tests/data/pyml_events) holds the 20 quiet minutes, the first run
of a scheduled backup job (1,260 s), a CPU burn on both cores (1,440-1,560 s)
and the job's second run (1,860 s), 600 s after the first. The engine is the
``pyml`` profile's per-dimension model as measured: k-means on the level
(``diff_n = 0``, ``smooth_n = 1``, ``lag_n = 0``), first training after 300
points, at most 1,200, retrained every 300 (the host-case sizing); the
per-dimension rule is the lab's ``surprise`` rule (pyml.lab.detectors), run
here as a kernel that also returns the calibrated score before the
once-per-incident suppression, checked bit for bit against the lab's own.

What must hold (the host-case rules: an incident's window is its run
widened by 30 s before and 120 s after): the job's first run is an event;
the CPU burn is an event whose top three dimensions include a CPU chart;
nothing else after the quiet part is an event; the job's second run, which
the models have seen (retraining every 300 s over 1,200 s of history), is not.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
from fnmatch import fnmatchcase
from pathlib import Path

import numba
import numpy as np
import pytest

import pyml
from pyml.engine.pyml_events import ACTIVE, TRAINED, PymlDetector
from pyml.lab.custom import Detector, run_detector
from pyml.lab.detectors import surprise_detector

DATA = Path(__file__).parent / "data" / "pyml_events"
CPU_CHARTS = ("system.cpu", "cpu.cpu[0-9]", "system.load", "system.cpu_pressure")


@numba.njit
def _init(state, params):  # pragma: no cover - jitted
    state[0] = params[5]
    state[1] = 0.0
    state[2] = 0.0
    state[3] = 0.0
    state[4] = -math.inf
    state[5] = math.inf
    state[6] = math.nan


@numba.njit
def _step(state, params, value, score, bit, trained):  # pragma: no cover - jitted
    """The surprise rule; returns the calibrated score (before suppression) and the suppressed bit."""
    change = value - state[6]
    state[6] = value
    report = 0.0
    if trained and not math.isnan(change):
        seen = state[3]
        saturated = min(score, 100.0) >= params[4]
        if saturated:
            g_rate = min(1.0, -math.log10(max(state[0], 1e-12)) / params[2])
            g_change = 0.0
            if seen >= 2.0:
                sd = max(math.sqrt(state[2]), 1e-9)
                tail = 0.5 * math.erfc(abs(change - state[1]) / (sd * math.sqrt(2.0)))
                g_change = min(1.0, max(0.0, -math.log10(tail + 1e-10) / 10.0))
            report = 50.0 + 50.0 * max(g_rate, g_change)
        else:
            report = 0.5 * min(score, 100.0)
        a_rate = 1.0 / min(seen + 2.0, params[1])
        state[0] += a_rate * ((1.0 if saturated else 0.0) - state[0])
        a = 1.0 / min(seen + 1.0, params[1])
        d = change - state[1]
        state[1] += a * d
        state[2] = (1.0 - a) * (state[2] + a * d * d)
        state[3] = seen + 1.0
    state[5] += 1.0
    if state[5] > params[0]:
        state[4] = -math.inf
    if report > state[4]:
        state[4] = report
        state[5] = 0.0
        return report, report >= 100.0 * params[3]
    return report, False


def calibrated_detector() -> Detector:
    """The surprise rule's parameters, with the calibrated score as output."""
    rule = surprise_detector()
    return Detector("calibrated", 7, _init, _step, params=dict(rule.params))


@pytest.fixture(scope="module")
def case():
    meta = json.loads((DATA / "caseA-0-2000.json").read_text())
    with gzip.open(DATA / "caseA-0-2000.csv.gz", "rt") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    stamps = np.array([int(r[0]) for r in body], dtype=np.int64)
    values = np.array([[float(v) if v else math.nan for v in r[1:]] for r in body])
    cfg = pyml.MLConfig(profile="netdata-1.33", min_train_samples=300, max_train_samples=1200, train_every=300, diff_n=0, smooth_n=1,
                        lag_n=0, clamp=False)
    host = pyml.Host("case-a", cfg, background=False)
    for chart in meta["charts"]:
        host.add_chart(chart["id"], chart["dimensions"])
    ids = host.dimension_ids()
    assert ids == head[1:]
    n, d = values.shape
    scores = np.zeros((n, d))
    bits = np.zeros((n, d), dtype=bool)
    trained = np.zeros((n, d), dtype=bool)
    index = {name: j for j, name in enumerate(ids)}
    have = np.zeros(d, dtype=bool)
    for i, t in enumerate(stamps.tolist()):
        trained[i] = have
        scores[i], bits[i] = host.collect_all(t, values[i], want_scores=True)
        for name in host.train_due().trained:
            have[index[name]] = True
    host.close()
    return meta, stamps, ids, values, scores, bits, trained


@pytest.fixture(scope="module")
def rule_output(case):
    meta, stamps, ids, values, scores, bits, trained = case
    calibrated, rule_bits = run_detector(calibrated_detector(), values, scores, bits, trained)
    lab_scores, lab_bits = run_detector(surprise_detector(), values, scores, bits, trained)
    return calibrated, rule_bits, lab_scores, lab_bits


def test_the_calibrated_kernel_is_the_lab_rule(rule_output):
    calibrated, rule_bits, lab_scores, lab_bits = rule_output
    assert np.array_equal(rule_bits, lab_bits)
    reported = lab_scores > 0
    assert np.array_equal(calibrated[reported], lab_scores[reported])
    assert rule_bits[1200:].sum() > 0


def _events(case, rule_output, with_scores: bool = True):
    meta, stamps, ids, values, scores, bits, trained = case
    calibrated, rule_bits, _, _ = rule_output
    charts = [name.split("|", 1)[0] for name in ids]
    names = sorted(set(charts))
    groups = np.array([names.index(c) for c in charts], dtype=np.int64)
    det = PymlDetector(1, slot_id=ids, context_name=names)
    modelled = np.ones(len(ids), dtype=bool)
    events = []
    for i, t in enumerate(stamps.tolist()):
        status = np.where(trained[i], ACTIVE | TRAINED, ACTIVE).astype(np.uint8)
        r = det.tick(t, rule_bits[i], status, modelled, groups, calibrated[i] if with_scores else None)
        if r.event:
            events.append(r.event)
    last = det.finish()
    return events + ([last] if last else [])


def _window(e: dict) -> tuple[float, float]:
    return e["start"] - 30, e["end"] + 120


def _overlapping(events, lo: float, hi: float):
    return [e for e in events if e.after <= hi and lo <= e.before]


def _top3(info) -> list[str]:
    ranked = sorted(((ident, value) for value, ident in info), key=lambda p: (-p[1], p[0]))
    if len(ranked) <= 3:
        return [d for d, _ in ranked]
    return [d for d, value in ranked if value >= ranked[2][1]]


def test_case_a_slice(case, rule_output):
    meta = case[0]
    events = _events(case, rule_output)
    first, second = meta["bursts"]
    (burn,) = meta["incidents"]
    quiet_end = meta["start"] + meta["quiet_seconds"]

    assert _overlapping(events, *_window(first)), "the job's first run is anomalous"
    over = _overlapping(events, *_window(burn))
    explained = [e for e in over
                 if any(any(fnmatchcase(d.split("|", 1)[0], p) for p in CPU_CHARTS) for d in _top3(e.info))]
    assert explained, f"the CPU burn's events {over} name no CPU chart in their top three"
    assert not _overlapping(events, *_window(second)), "the job's second run, seen by the models, is no event"
    known = [_window(first), _window(burn), _window(second)]
    false = [e for e in events if e.before >= quiet_end and not any(e.after <= hi and lo <= e.before for lo, hi in known)]
    assert false == []
    # events name dimensions, best first, each value in (0, 1]
    for e in events:
        values = [v for v, _ in e.info]
        assert values == sorted(values, reverse=True) and all(0 < v <= 1 for v in values)


def test_case_a_slice_on_bits_alone(case, rule_output):
    """Without scores the host still sees the CPU burn (measured: it needs six groups and catches less)."""
    meta = case[0]
    events = _events(case, rule_output, with_scores=False)
    (burn,) = meta["incidents"]
    assert _overlapping(events, *_window(burn))
