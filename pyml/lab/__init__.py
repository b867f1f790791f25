"""The lab: evaluate detections against labelled data.

NAB (Numenta Anomaly Benchmark) support, written from NAB's published rules:

- :mod:`pyml.lab.labels`: read NAB series, label windows and scoring profiles;
- :mod:`pyml.lab.scoring`: NAB's score (probationary period, scaled sigmoid,
  corpus-wide threshold optimisation, normalisation) and event-level
  precision, recall, F1 and detection delay;
- :mod:`pyml.lab.nab_results`: read and write results in NAB's own layout;
- :mod:`pyml.lab.formats` and :mod:`pyml.lab.replay`: read recorded data
  (NAB or wide CSV, Netdata ``/api/v1/data`` JSON) and replay it through the
  engine (``pyml.lab.replay(path)`` is the replay function; ``pyml replay``
  the command);
- :mod:`pyml.lab.formulations`: the named configurations of the engine a
  replay or sweep can use (``reference``, the default, and ``peaks``);
- :mod:`pyml.lab.sweep`: replay a corpus with every configuration of a grid on
  any executor (a process pool, Dask) and rank the configurations by NAB
  score (``pyml lab sweep`` the command); :mod:`pyml.lab.plots` draws one
  replay as a PNG.

The evaluation protocol (the README's section of that name):

- :mod:`pyml.lab.split`: the fixed split of NAB into a tuning and a held-out
  half;
- :mod:`pyml.lab.profiles`: a profile name and training sizes to an
  :class:`~pyml.MLConfig` (:func:`~pyml.lab.profiles.profile_config`), and
  NAB's two sizing conventions;
- :mod:`pyml.lab.figures`: the protocol's NAB figures, profiles side by side
  (``pyml lab nab``);
- :mod:`pyml.lab.hostcase`: recorded host cases, their replay and scoring
  (``pyml lab hostcase``, ``pyml lab hostcase-import``).

Typical use, with a detector's scores written by NAB's own tooling or by
:func:`write_results`::

    from pyml.lab import load_windows, read_results, score_corpus

    windows = load_windows("NAB/labels/combined_windows.json")
    scores = score_corpus(read_results("NAB/results", "numenta"), windows)
    scores["standard"].score, scores["standard"].threshold   # 70.10..., 0.5430...
"""

from __future__ import annotations

from .labels import (
    NAB_PROFILES,
    CostMatrix,
    as_timestamps,
    load_corpus,
    load_profiles,
    load_windows,
    parse_windows,
    point_labels,
    read_columns,
    read_series,
    window_bounds,
)
from .formats import Recording, read_recording
from .formulations import DEFAULT_FORMULATION, FORMULATIONS, formulation_settings
from .nab_results import read_results, results_path, write_results
from .replay import ReplayResult, detect_update_every, lab_config, replay_files, score_replays, write_points
from .replay import replay  # the function; the module stays importable as pyml.lab.replay via sys.modules
from .sweep import SweepResult, SweepRow, sweep  # the function, as for replay (module: sys.modules)
from .scoring import (
    DEFAULT_PROBATIONARY_PERCENT,
    NO_DETECTION_THRESHOLD,
    EventMetrics,
    FileScore,
    ProfileScore,
    as_scores,
    event_metrics,
    probationary_length,
    scaled_sigmoid,
    score_corpus,
    threshold_scores,
)

__all__ = [
    "DEFAULT_FORMULATION",
    "FORMULATIONS",
    "formulation_settings",
    "Recording",
    "ReplayResult",
    "detect_update_every",
    "lab_config",
    "read_recording",
    "replay",
    "replay_files",
    "score_replays",
    "sweep",
    "SweepResult",
    "SweepRow",
    "write_points",
    "DEFAULT_PROBATIONARY_PERCENT",
    "NAB_PROFILES",
    "NO_DETECTION_THRESHOLD",
    "CostMatrix",
    "EventMetrics",
    "FileScore",
    "ProfileScore",
    "as_scores",
    "as_timestamps",
    "event_metrics",
    "load_corpus",
    "load_profiles",
    "load_windows",
    "parse_windows",
    "point_labels",
    "probationary_length",
    "read_columns",
    "read_results",
    "read_series",
    "results_path",
    "scaled_sigmoid",
    "score_corpus",
    "threshold_scores",
    "window_bounds",
    "write_results",
]
