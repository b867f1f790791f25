"""Host cases: real recordings of a machine with induced incidents, replayed and scored.

- :mod:`~pyml.lab.hostcase.format`: the case layout (``values.csv.gz`` +
  ``case.json``), :func:`read_case`, :func:`write_case`;
- :mod:`~pyml.lab.hostcase.convert`: a recorder's output to a case
  (``pyml lab hostcase-import``);
- :mod:`~pyml.lab.hostcase.exclusions`: the periods left out of scoring
  because of other work on the machine;
- :mod:`~pyml.lab.hostcase.subsystems`: which charts belong to which
  subsystem;
- :mod:`~pyml.lab.hostcase.replay`: a case through a synchronous
  :class:`pyml.Host` with scheduled training;
- :mod:`~pyml.lab.hostcase.scoring`: incidents caught, false events per hour,
  chronically noisy dimensions, the scheduled job;
- :mod:`~pyml.lab.hostcase.command`: ``pyml lab hostcase`` and
  ``pyml lab hostcase-import``.

The cases themselves live in the repository's ``hostcases/`` directory, with
the recorder that made them.
"""

from __future__ import annotations

from .convert import import_recording, write_imported
from .exclusions import ExclusionRule, foreign_exclusions
from .format import CaseChart, CaseEvent, HostCase, read_case, write_case
from .replay import HOSTCASE_SIZING, CaseReplay, ReplayEvent, case_config, replay_case
from .scoring import CaseScore, chronically_noisy, score_case
from .subsystems import SUBSYSTEM_CHARTS, chart_subsystems, in_subsystems

__all__ = [
    "HOSTCASE_SIZING",
    "SUBSYSTEM_CHARTS",
    "CaseChart",
    "CaseEvent",
    "CaseReplay",
    "CaseScore",
    "ExclusionRule",
    "HostCase",
    "ReplayEvent",
    "case_config",
    "chart_subsystems",
    "chronically_noisy",
    "foreign_exclusions",
    "import_recording",
    "in_subsystems",
    "read_case",
    "replay_case",
    "score_case",
    "write_case",
    "write_imported",
]
