"""The host-case commands: ``pyml lab hostcase`` (replay and score) and ``pyml lab hostcase-import``."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any, Union

from ...config import MLConfig
from ...profiles import DEFAULT_PROFILE
from ..profiles import check_profile, training_points
from .convert import DEFAULT_QUIET_SECONDS, write_imported
from .format import read_case
from .replay import HOSTCASE_SIZING, case_config, replay_case
from .scoring import score_case

__all__ = ["run_hostcase", "run_import"]

PathLike = Union[str, "os.PathLike[str]"]


def run_hostcase(case_dir: PathLike, *, profile: str = DEFAULT_PROFILE, config_path: PathLike | None = None,
                 out_dir: PathLike | None = None, progress: bool | None = None, stdout: Any = None) -> int:
    """Replay and score one case; print the table, write ``hostcase-<case>-<profile>.{txt,json}``.

    Without ``config_path`` the profile's configuration with the host-case
    training windows (:data:`~pyml.lab.hostcase.replay.HOSTCASE_SIZING`);
    with it, that netdata.conf's ``[ml]`` as given (unclamped, training
    windows included) and ML on.
    """
    stdout = sys.stdout if stdout is None else stdout
    check_profile(profile)
    case = read_case(case_dir)
    if config_path is not None:
        cfg = MLConfig.from_netdata_conf(Path(config_path), clamp=False)
        cfg = dataclasses.replace(cfg, enabled=True)
        source = f"{config_path} ([ml] as given, unclamped, ML on)"
    else:
        cfg = case_config(profile, update_every=case.update_every)
        source = (f"profile {profile} with the host-case training windows ({HOSTCASE_SIZING.describe()}: Netdata's "
                  "1-s defaults scaled by 1/12, the longest window being the 20 quiet minutes)")
    low, high = training_points(cfg, case.update_every)
    print(f"# pyml lab hostcase {case.name}: {case.values.shape[1]} dimensions x {case.values.shape[0]} ticks; "
          f"{source}", file=stdout)
    if low * case.update_every > case.quiet_seconds:
        print(f"# warning: the first training needs {low} points, more than the {case.quiet_seconds} s quiet part",
              file=stdout)
    replayed = replay_case(case, cfg, profile=profile, progress=progress)
    score = score_case(case, replayed)
    table = score.table(case.start)
    stdout.write(table)
    out = Path(out_dir) if out_dir is not None else Path("pyml-hostcase")
    out.mkdir(parents=True, exist_ok=True)
    stem = f"hostcase-{case.name}-{profile}"
    (out / f"{stem}.txt").write_text(table, encoding="utf-8")
    doc = score.to_json()
    doc["config"].update({"source": source, "training_points": [low, high]})
    doc["replay_seconds"] = replayed.seconds
    (out / f"{stem}.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"replayed in {replayed.seconds:.1f} s; report in {out / (stem + '.txt')} and {out / (stem + '.json')}",
          file=stdout)
    return 0


def run_import(record_dir: PathLike, out_dir: PathLike, *, name: str | None = None, schedule: PathLike | None = None,
               quiet_seconds: int = DEFAULT_QUIET_SECONDS, notes: list[str] | None = None,
               stdout: Any = None) -> int:
    """Convert a recorder's output into a host case under ``out_dir``; print what was written."""
    stdout = sys.stdout if stdout is None else stdout
    case = write_imported(record_dir, out_dir, name=name, schedule=schedule, quiet_seconds=quiet_seconds,
                          notes=notes)
    sizes = {p.name: p.stat().st_size for p in sorted(Path(out_dir).iterdir()) if p.is_file()}
    print(f"host case {case.name}: {len(case.charts)} charts, {case.values.shape[1]} dimensions, "
          f"{case.values.shape[0]} ticks, {len(case.incidents)} incidents, {len(case.bursts)} bursts, "
          f"{len(case.excluded)} excluded period(s)", file=stdout)
    for note in case.notes:
        print(f"  {note}", file=stdout)
    print(f"written to {out_dir}: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sizes.items()), file=stdout)
    return 0
