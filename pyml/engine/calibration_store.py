"""A host's calibration state on disk, so that a restart continues it instead of starting over.

Design
------
The ``pyml`` profile's calibration stage keeps per dimension what takes days
to learn: how often the dimension's score saturates and the usual size of its
changes (the ``surprise`` rule), and with the daily profile each slot of the
day's mean and variance, which judge only after two days. Without this file a
restart (an upgrade, a reboot) threw all of it away.

A host with a storage directory writes its bank's state to
``calibration.npz`` there at :meth:`~pyml.engine.host.Host.close` and at a
flush once :data:`SAVE_EVERY` seconds of ticks have passed since the last
write, one row per dimension named by its id, with the calibration parameters
it was learnt under. The file is written whole under a temporary name, synced
and renamed over the previous one, so a crash or a full disk leaves the
previous file as it was; a failed write is logged and tried again at the next
chance and never stops the host.

At start the host reads the file back for the dimensions it restores. A file
that cannot be read, is of another format, or was learnt under other
parameters (another profile, a changed ``[ml]`` key) is logged and ignored:
those dimensions start from the prior, as without the file. Dimensions not in
the file (added after its last write) start from the prior too. The previous
value (``prev``) is not carried over: a restart is a gap, and the first change
after a gap is none. What was learnt since the last write is lost with a
crash: at most :data:`SAVE_EVERY` seconds of statistics that forget over days.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

FILE_NAME = "calibration.npz"
FORMAT = 1
SAVE_EVERY = 600.0  # seconds of ticks between two writes at flush

#: The bank's calibration parameters the state is only valid under, in this order.
PARAMETERS = ("peak_window", "memory", "decades", "bit_level", "saturation", "prior_rate", "score_decades",
              "score_warmup", "day_decades", "day_slots", "day_ticks_per_slot", "day_warmup", "day_memory",
              "day_span", "day_long_memory")

#: The state's fields (``core.Bank.calibration_state``'s keys).
FIELDS = ("rate", "mean", "var", "seen", "top", "top_age", "prev", "smean", "svar", "day_short", "day_lmean",
          "day_lvar", "day_lseen", "day_mean", "day_var", "day_visits")


def parameters_of(bank: Any) -> np.ndarray:
    """The bank's calibration parameters as float64, in :data:`PARAMETERS` order."""
    return np.array([float(getattr(bank, name)) for name in PARAMETERS])


def save_calibration(path: str | os.PathLike[str], bank: Any, ids: Sequence[str], slots: Sequence[int],
                     last_time: float | None) -> None:
    """Write the calibration state of ``slots`` (dimension ``ids[i]`` in ``slots[i]``) to ``path``.

    Atomic: the previous file stays as it was unless the new one is
    complete. ``OSError`` (a full disk, a read-only directory) is raised;
    the temporary file is removed then.
    """
    path = Path(path)
    state = bank.calibration_state()
    index = np.asarray(slots, dtype=np.int64)
    arrays = {name: np.ascontiguousarray(state[name][index]) for name in FIELDS}
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, format=np.array([FORMAT]), parameters=parameters_of(bank),
                     ids=np.array(list(ids), dtype=np.str_),
                     last_time=np.array([np.nan if last_time is None else float(last_time)]), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def load_calibration(path: str | os.PathLike[str], bank: Any) -> tuple[list[str], dict[str, np.ndarray]]:
    """The dimension ids and their state rows saved in ``path`` for this bank's parameters.

    ``ValueError`` naming the file and what is wrong for a file that is
    not a calibration state of this format, or was learnt under other
    parameters; ``OSError`` when it cannot be read. ``prev`` comes back as
    NaN (a restart is a gap).
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {name: npz[name] for name in npz.files}
    except (ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise ValueError(f"{path} is not a calibration state file: {exc}") from exc
    missing = [name for name in ("format", "parameters", "ids", *FIELDS) if name not in data]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}")
    if data["format"].shape != (1,) or int(data["format"][0]) != FORMAT:
        raise ValueError(f"{path} has format {data['format'].tolist()}, this pyml reads {FORMAT}")
    want = parameters_of(bank)
    got = data["parameters"]
    if got.shape != want.shape or not np.array_equal(got, want):
        changed = [f"{name} {a!r} -> {b!r}" for name, a, b in zip(PARAMETERS, got.tolist(), want.tolist()) if a != b]
        raise ValueError(f"{path} was learnt under other calibration parameters ({'; '.join(changed) or 'count'})")
    ids = data["ids"]
    if ids.ndim != 1:
        raise ValueError(f"{path}: ids must be 1-D, got shape {ids.shape}")
    rows = {name: data[name].astype(np.float64, copy=False) for name in FIELDS}
    for name, a in rows.items():
        if a.shape[:1] != ids.shape:
            raise ValueError(f"{path}: {name} has {a.shape[:1]} rows for {ids.size} dimensions")
    rows["prev"] = np.full(ids.size, np.nan)
    return [str(i) for i in ids.tolist()], rows


def restore_calibration(bank: Any, saved_ids: Sequence[str], rows: Mapping[str, np.ndarray],
                        slot_of: Mapping[str, int]) -> int:
    """Give each saved dimension that ``slot_of`` maps to a slot its row; the number given.

    ``ValueError`` (nothing changes) when a row holds a state the rule
    cannot be in: see ``core.Bank.set_calibration_state``.
    """
    pick = [i for i, dim_id in enumerate(saved_ids) if dim_id in slot_of]
    if not pick:
        return 0
    index = np.asarray(pick, dtype=np.int64)
    slots = np.array([slot_of[saved_ids[i]] for i in pick], dtype=np.int64)
    bank.set_calibration_state(slots, {name: rows[name][index] for name in FIELDS})
    return len(pick)
