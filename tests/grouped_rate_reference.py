"""SPEC-NETDATA-2 §5.5 and §7.1-§7.3 (plus pyml's anomaly events) written as directly as possible.

One tick is a loop over the slots with Python ints, dicts and lists; the
stored host-rate series is a list of ``(t, percent)`` kept whole; the query
window is a list comprehension over it. Nothing is incremental, nothing is
NumPy. The vectorised :class:`pyml.engine.grouped_rate.GroupedRateDetector`
is tested against this.
"""

from __future__ import annotations

from typing import Any, Callable

ACTIVE, TRAINED, SILENCED, VARIABLE = 0x01, 0x02, 0x04, 0x08
METHODS = ("average", "min", "max", "sum", "median")


def rate_collected(anomalous: int, normal: int) -> int:
    """``trunc(rate * 10000)`` with ``rate = anomalous / (anomalous + normal)`` in double, 0 for no dimension."""
    if anomalous + normal == 0:
        return 0
    return int(anomalous / (anomalous + normal) * 10000.0)


def group(values: list[float], method: str) -> float:
    """Netdata's time groupings over one window, values in time order."""
    if method == "average":
        total = 0.0
        for v in values:
            total += v
        return total / len(values)
    if method == "sum":
        total = 0.0
        for v in values:
            total += v
        return total
    if method == "min":
        return min(values)
    if method == "max":
        return max(values)
    if method == "median":
        ordered = sorted(values)
        half = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[half]
        return (ordered[half - 1] + ordered[half]) / 2.0
    raise AssertionError(method)


class RefGroupedRate:
    """The host level of Netdata 2, one Python loop per tick."""

    def __init__(
        self,
        update_every: int,
        duration: int,
        method: str,
        threshold: float,
        dim_threshold: float,
        max_dims: int,
        slot_name: Callable[[int], str],
        context_name: Callable[[int], str],
    ) -> None:
        self.ue = update_every
        self.duration = duration
        self.method = method if method in METHODS else "average"
        self.threshold = threshold
        self.dim_threshold = dim_threshold
        self.max_dims = max_dims
        self.slot_name = slot_name
        self.context_name = context_name
        self.series: list[tuple[int, float]] = []
        self.prev = False
        self.seen: list[int] = []  # context ids in order of appearance
        self.event: dict[str, Any] | None = None
        self.last_t: int | None = None

    def forget(self, slot: int) -> None:
        if self.event is not None:
            self.event["counts"].pop(slot, None)

    def info(self) -> list[list[Any]]:
        assert self.event is not None
        ticks = self.event["ticks"]
        pairs = [
            (count / ticks, self.slot_name(slot))
            for slot, count in self.event["counts"].items()
            if count > 0 and count / ticks >= self.dim_threshold
        ]
        pairs.sort()
        pairs.reverse()
        return [[rate, name] for rate, name in pairs[: self.max_dims]]

    def close(self) -> tuple[int, int, list[list[Any]]] | None:
        if self.event is None:
            return None
        event = (self.event["first"] - self.ue, self.event["last"], self.info())
        self.event = None
        return event

    def tick(
        self, t: int, bits: list[bool], status: list[int], modelled: list[bool], context: list[int], running: bool
    ) -> dict[str, Any]:
        names = ["anomalous", "normal", "enabled", "disabled_sp", "constant", "variable", "untrained", "trained"]
        c = dict.fromkeys(names + ["silenced"], 0)
        per_context: dict[int, list[int]] = {}
        new_contexts: list[int] = []
        if running:
            for slot in range(len(bits)):
                flags = status[slot]
                if not flags & ACTIVE:
                    continue
                if context[slot] >= 0 and context[slot] not in self.seen and context[slot] not in new_contexts:
                    new_contexts.append(context[slot])
                if not modelled[slot]:
                    c["disabled_sp"] += 1  # excluded chart: not counted at all
                    continue
                c["enabled"] += 1
                if not flags & VARIABLE:  # constant: counted normal whatever the bit, status "trained"
                    c["constant"] += 1
                    c["trained"] += 1
                    outcome = "normal"
                else:
                    c["variable"] += 1
                    if flags & SILENCED:  # silenced: counted normal, "silenced" and "trained"
                        c["silenced"] += 1
                        c["trained"] += 1
                        outcome = "normal"
                    elif flags & TRAINED:
                        c["trained"] += 1
                        outcome = "anomalous" if bits[slot] else "normal"
                    else:  # untrained variable: out of the denominator
                        c["untrained"] += 1
                        outcome = None
                if outcome is None:
                    continue
                c[outcome] += 1
                if context[slot] >= 0:
                    entry = per_context.setdefault(context[slot], [0, 0])
                    entry[0 if outcome == "anomalous" else 1] += 1
            self.seen += sorted(new_contexts)
        collected = rate_collected(c["anomalous"], c["normal"]) if running else 0
        context_values = []
        for ident in self.seen:
            a, n = per_context.get(ident, [0, 0])
            context_values.append(rate_collected(a, n) / 100)

        window = [v for stamp, v in self.series if t - self.ue - self.duration <= stamp <= t - self.ue]
        if not running:
            r, above, new = None, False, False
        elif window:
            r = group(window, self.method)
            above = r >= self.threshold
            new = above and not self.prev
            self.prev = above
        else:
            r, above, new = None, None, None

        event = None
        if above is False:
            event = self.close()
        elif above:
            if self.event is None:
                self.event = {"first": t, "last": t, "ticks": 0, "counts": {}}
            self.event["ticks"] += 1
            self.event["last"] = t
            for slot in range(len(bits)):
                if bits[slot] and status[slot] & ACTIVE and modelled[slot]:
                    self.event["counts"][slot] = self.event["counts"].get(slot, 0) + 1
        self.series.append((t, collected / 100))
        self.last_t = t
        return {
            "counts": c,
            "collected": collected,
            "r": r,
            "points": len(window) if running else 0,
            "above": above,
            "new": new,
            "contexts": tuple(self.context_name(i) for i in self.seen),
            "context_values": context_values,
            "new_contexts": tuple(self.context_name(i) for i in sorted(new_contexts)),
            "event": event,
            "event_open": self.event is not None,
        }
