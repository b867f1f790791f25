"""The host's chart registry on disk: ``registry.json``, checked before anything of it is used.

Design
------
The registry maps every chart and dimension of a host to its slot in the
bank and the sample store. It is small and rewritten whole when charts
change, through :func:`pyml.engine.checked.write_checked_json` (temporary
file, fsync, rename; a ``"crc32"`` member), and the previous version is kept
as ``registry.json.bak`` so one damaged file never loses the attribution
of the samples.

Reading validates everything before the host uses any of it: types of every
field, slots unique, non-negative and below a bound the caller gives (the
store's width plus the number of dimensions; a slot beyond it would make the
host allocate per-slot state up to it), the dimension order naming exactly
the registry's own dimensions. A file that fails is reported by path with
the entry at fault. A damaged ``registry.json`` is moved to
``quarantine/`` and ``registry.json.bak`` used instead; if both are
damaged, opening stops with a :class:`~pyml.engine.storage.StoreError`
that names both and says what to do, and nothing is moved.

Files written before checksums existed (no ``"crc32"``) are accepted after
the same validation, and get one at the next write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checked import DamagedFile, quarantine_file, read_checked_json, write_checked_json
from .storage import StoreError

__all__ = ["REGISTRY_VERSION", "Registry", "RegistryChart", "load_registry", "write_registry", "backup_path"]

log = logging.getLogger("pyml.host")

#: Version of the registry document (a ``"crc32"`` member does not change it).
REGISTRY_VERSION = 1

_TEXT_FIELDS = ("title", "units", "family", "context", "chart_type")


@dataclass
class RegistryChart:
    """One chart of a registry: its fields and ``[(dimension, slot), ...]``."""

    id: str
    name: str
    internal: bool
    info: dict[str, Any] = field(default_factory=dict)   # title, units, family, context, chart_type, priority,
    #                                                      update_every, dimension_names
    dimensions: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Registry:
    """A validated registry: charts in order, the ``collect_all`` order, the host id if stored."""

    charts: list[RegistryChart]
    order: list[str]
    host_id: str | None


def backup_path(path: Path) -> Path:
    """Where the previous registry is kept."""
    return path.with_name(path.name + ".bak")


def write_registry(path: Path, document: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Write ``document`` (and first ``previous`` as the backup); raises ``OSError`` with both files intact."""
    if previous is not None:
        write_checked_json(backup_path(path), previous)
    write_checked_json(path, document)


def _fail(path: Path, problem: str) -> DamagedFile:
    return DamagedFile(path, problem)


def parse_registry(path: Path, document: dict[str, Any], update_every: int, store_width: int) -> Registry:
    """Validate a registry document; :class:`DamagedFile` naming ``path`` and the entry at fault.

    Slots must lie below ``store_width`` plus the number of dimensions the
    registry lists (slots handed out since the store last wrote a row).

    A version or ``update_every`` that differs from the host's raises
    :class:`StoreError` (the file is fine; it belongs to another setup).
    """
    version, ue = document.get("version"), document.get("update_every")
    if version != REGISTRY_VERSION or ue != update_every:
        if isinstance(version, int) and isinstance(ue, int):
            raise StoreError(f"host registry {path} has version {version} and update_every {ue}; expected "
                             f"{REGISTRY_VERSION} and {update_every} (use the same update_every, or another "
                             f"data directory)")
        raise _fail(path, f"version {version!r} / update_every {ue!r} are not integers")
    host_id = document.get("host_id")
    if host_id is not None and not (isinstance(host_id, str) and host_id):
        raise _fail(path, f"host_id {host_id!r} is not a non-empty string")
    charts_doc, order = document.get("charts"), document.get("order")
    if not isinstance(charts_doc, list):
        raise _fail(path, f"'charts' is not a list (got {type(charts_doc).__name__})")
    if not isinstance(order, list) or not all(isinstance(d, str) for d in order):
        raise _fail(path, "'order' is not a list of dimension ids")
    slot_bound = store_width + sum(len(c["dimensions"]) for c in charts_doc
                                   if isinstance(c, dict) and isinstance(c.get("dimensions"), list))
    charts: list[RegistryChart] = []
    seen_slots: dict[int, str] = {}
    external: set[str] = set()
    chart_ids: set[str] = set()
    for i, c in enumerate(charts_doc):
        where = f"charts[{i}]"
        if not isinstance(c, dict):
            raise _fail(path, f"{where} is not an object")
        cid, name, internal = c.get("id"), c.get("name"), c.get("internal", False)
        if not isinstance(cid, str) or not cid or cid in chart_ids:
            raise _fail(path, f"{where}.id {cid!r} is not a new non-empty string")
        chart_ids.add(cid)
        if not isinstance(name, str) or not isinstance(internal, bool):
            raise _fail(path, f"chart {cid!r}: name {name!r} or internal {internal!r} has the wrong type")
        info: dict[str, Any] = {}
        for key in _TEXT_FIELDS:
            if key in c:
                if not isinstance(c[key], str):
                    raise _fail(path, f"chart {cid!r}: {key} {c[key]!r} is not a string")
                info[key] = c[key]
        if "priority" in c:
            if isinstance(c["priority"], bool) or not isinstance(c["priority"], int):
                raise _fail(path, f"chart {cid!r}: priority {c['priority']!r} is not an integer")
            info["priority"] = c["priority"]
        if "update_every" in c:
            every = c["update_every"]
            if isinstance(every, bool) or not isinstance(every, int) or every < 0:
                raise _fail(path, f"chart {cid!r}: update_every {every!r} is not a non-negative integer")
            info["update_every"] = every
        if "dimension_names" in c:
            names = c["dimension_names"]
            if not isinstance(names, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                      for k, v in names.items()):
                raise _fail(path, f"chart {cid!r}: dimension_names {names!r:.80} is not an object of strings")
            info["dimension_names"] = dict(names)
        dims = c.get("dimensions")
        if not isinstance(dims, list):
            raise _fail(path, f"chart {cid!r}: dimensions is not a list")
        chart = RegistryChart(cid, name, internal, info)
        for j, entry in enumerate(dims):
            if (not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], str) or not entry[0]
                    or "|" in entry[0] or isinstance(entry[1], bool) or not isinstance(entry[1], int)):
                raise _fail(path, f"chart {cid!r}: dimensions[{j}] = {entry!r:.80} is not [name, slot]")
            dim, slot = entry
            dim_id = f"{cid}|{dim}"
            if not 0 <= slot < slot_bound:
                raise _fail(path, f"dimension {dim_id!r} has slot {slot}, outside 0..{slot_bound - 1} "
                                  f"(the store's width plus the registry's dimensions; a corrupt number)")
            if slot in seen_slots:
                raise _fail(path, f"slot {slot} is assigned to both {seen_slots[slot]!r} and {dim_id!r}")
            seen_slots[slot] = dim_id
            if any(d == dim for d, _ in chart.dimensions):
                raise _fail(path, f"chart {cid!r} lists dimension {dim!r} twice")
            chart.dimensions.append((dim, slot))
            if not internal:
                external.add(dim_id)
        charts.append(chart)
    if len(set(order)) != len(order) or set(order) != external:
        extra = sorted(set(order) - external)[:3]
        missing = sorted(external - set(order))[:3]
        raise _fail(path, f"'order' does not list the registry's dimensions once each (unknown {extra}, "
                          f"missing {missing})")
    return Registry(charts, list(order), host_id)


def _read(path: Path, update_every: int, store_width: int) -> Registry:
    try:
        document = read_checked_json(path, required=False)
    except OSError as exc:
        raise DamagedFile(path, f"unreadable: {exc.strerror or exc}") from None
    return parse_registry(path, document, update_every, store_width)


def load_registry(path: Path, update_every: int, store_width: int) -> tuple[Registry, dict[str, Any]]:
    """Read and validate the registry at ``path``, falling back to its backup when it is damaged.

    Returns the registry and the document read (for the next write's
    backup). Raises :class:`StoreError` when neither file can be used.
    """
    try:
        registry = _read(path, update_every, store_width)
        return registry, read_checked_json(path, required=False)
    except DamagedFile as exc:
        problem = exc
    backup = backup_path(path)
    if backup.exists():
        try:
            registry = _read(backup, update_every, store_width)
            document = read_checked_json(backup, required=False)
        except DamagedFile as second:
            raise StoreError(f"host registry {problem} and its previous copy is damaged too ({second}); nothing "
                             f"was changed. To start with an empty registry (the samples stay on disk, no longer "
                             f"attributed to charts), move {path} and {backup} out of {path.parent}") from None
        quarantine_file(path.parent, path, problem.problem)
        log.error("host registry %s is damaged (%s); using its previous copy %s (charts added since it was written "
                  "are added again by their collectors)", path, problem.problem, backup)
        return registry, document
    raise StoreError(f"host registry {problem}; it has no previous copy ({backup}); nothing was changed. To start "
                     f"with an empty registry (the samples stay on disk, no longer attributed to charts), move "
                     f"{path} out of {path.parent}") from None
