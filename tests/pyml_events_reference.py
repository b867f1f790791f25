"""A plain-Python model of the ``pyml`` profile's host detector, written from the rules in its module text.

One dict entry per slot, loops instead of arrays, the whole slot space visited
on every tick; nothing here knows of live sets, scratch masks or gathers.
Floating-point steps are written in the same order as the rules state them
(``(s - 50) / 50`` clipped to [0, 1], ``log10(q) - kappa + decades * g``), so
results can be compared exactly.
"""

from __future__ import annotations

import math
from typing import Any

ACTIVE, TRAINED, SILENCED = 0x01, 0x02, 0x04


class RefPyml:
    """The detector's rules with one Python object per slot."""

    def __init__(self, ue: int = 1, *, decades: float = 4.0, q: float = 0.9, kappa: float = 0.5, confirm: float = 6.0,
                 cap: float = 20.0, onset: int = 10, k_on: int = 4, k_on_bits: int = 6, k_off: int = 2,
                 rho: float = 0.5, idle: int = 30, refresh: int = 60, dim_threshold: float = 0.0,
                 max_dims: int = 2000, slot_id: Any = None, group_name: Any = None) -> None:
        self.ue, self.decades, self.q, self.kappa = ue, decades, q, kappa
        self.confirm, self.cap, self.onset = confirm, cap, onset
        self.k_on, self.k_on_bits, self.k_off, self.rho, self.idle = k_on, k_on_bits, k_off, rho, idle
        self.refresh, self.dim_threshold, self.max_dims = refresh, dim_threshold, max_dims
        self.slot_id = slot_id if slot_id is not None else str
        self.group_name = group_name if group_name is not None else str
        self.evidence: dict[int, float] = {}  # slot -> evidence (> 0 only while in an episode)
        self.start: dict[int, int] = {}  # slot -> first tick of its episode
        self.share: dict[int, float] = {}  # slot -> sum of g over the open event's sustained ticks
        self.event: dict[str, Any] | None = None
        self.prev_onset = 0
        self.prev_k: int | None = None
        self.last_t: int | None = None
        # groups
        self.totals: dict[int, int] = {}
        self.names: list[str] = []
        self.ids: list[int] = []
        self.recount_due = True
        self.since = 0
        self.counted_n = -1

    # slots
    def forget(self, slot: int) -> None:
        self.recount_due = True
        self.evidence.pop(slot, None)
        self.share.pop(slot, None)

    # one tick
    def tick(self, t: int, bits: list[bool], status: list[int], modelled: list[bool], groups: list[int],
             scores: list[float] | None = None, ml_running: bool = True) -> dict[str, Any]:
        k = t // self.ue
        n = len(bits)
        if not ml_running:
            ended = self.finish()
            self.evidence = {}
            self.prev_onset = 0
            self.prev_k = k
            self.last_t = t
            return {"t": t, "running": False, "anomalous": 0, "normal": 0, "total": 0, "trained": 0, "engaged": 0,
                    "engaged_groups": 0, "onset_groups": 0, "event_open": False, "new_event": False, "event": ended,
                    "anomaly_rate": 0.0, "contexts": list(self.names), "values": [0.0] * len(self.ids)}
        usable = [(status[i] & ACTIVE) and (status[i] & TRAINED) and not (status[i] & SILENCED) and modelled[i]
                  for i in range(n)]
        total = sum(1 for i in range(n) if (status[i] & ACTIVE) and modelled[i])
        trained = sum(1 for i in range(n) if usable[i])
        onset_slots = [i for i in range(n) if bits[i] and usable[i]]

        new_names: list[str] = []
        if self.recount_due or n != self.counted_n or self.since + 1 >= self.refresh:
            totals: dict[int, int] = {}
            for i in range(n):
                if (status[i] & ACTIVE) and modelled[i] and groups[i] >= 0:
                    totals[groups[i]] = totals.get(groups[i], 0) + 1
            for gid in sorted(totals):
                if gid not in self.ids:
                    new_names.append(self.group_name(gid))
                    self.ids.append(gid)
            self.names += new_names
            self.totals = totals
            self.recount_due = False
            self.since = 0
            self.counted_n = n
        else:
            self.since += 1

        # episodes (slots beyond the slot space end theirs)
        for slot in [s for s in self.evidence if s >= n]:
            del self.evidence[slot]
        gap = 0 if self.prev_k is None else k - self.prev_k - 1
        loss = math.log10(1.0 - self.q)
        gain0 = math.log10(self.q) - self.kappa
        new_evidence: dict[int, float] = {}
        g_of: dict[int, float] = {}
        for i in range(n):
            prev = self.evidence.get(i, 0.0)
            if prev > 0.0 and gap:
                prev = max(prev + gap * loss, 0.0)
            bit = i in onset_slots
            if not (usable[i] and (prev > 0.0 or bit)):
                continue
            if bit and prev <= 0.0:
                self.start[i] = k
            if scores is not None:
                s = float(scores[i])
                if s >= 50.0:
                    g = min(max((s - 50.0) / 50.0, 0.0), 1.0)
                    step = gain0 + self.decades * g
                else:
                    g = 0.0
                    step = loss
            else:
                g = 1.0 if bit else 0.0
                step = self.cap if bit else loss
            e = min(max(prev + step, 0.0), self.cap)
            if e > 0.0:
                new_evidence[i] = e
            g_of[i] = g
        self.evidence = new_evidence

        def key(i: int) -> int:
            return groups[i] if groups[i] >= 0 else -1 - i

        engaged = [i for i, e in new_evidence.items() if e >= self.confirm]
        fresh = [i for i in engaged if k - self.start[i] < self.onset]
        onset_groups = len({key(i) for i in fresh})
        engaged_groups = len({key(i) for i in engaged})
        needed = self.k_on if scores is not None else self.k_on_bits

        ended = None
        ev = self.event
        close = split = False
        if ev is not None and k - ev["last"] > self.idle:
            close = True
        elif ev is not None:
            own = {key(i) for i in engaged if self.start[i] >= ev["open"] - self.onset}
            ev["peak"] = max(ev["peak"], len(own))
            if onset_groups >= needed and self.prev_onset < needed and k - ev["open"] >= self.onset:
                close = split = True
            elif len(own) >= max(self.k_off, self.rho * ev["peak"]):
                ev["last"] = k
            elif k - ev["last"] >= self.idle:
                close = True
        if close:
            ended = self.finish(min(self.start[i] for i in fresh) if split else None)
        new_event = False
        if self.event is None and onset_groups >= needed:
            new_event = True
            self.event = {"open": k, "last": k, "after": min(self.start[i] for i in fresh), "peak": 0, "ticks": 0}
            self.share = {}
        if self.event is not None and self.event["last"] == k:
            for i in new_evidence:
                if self.start[i] >= self.event["open"] - self.onset:
                    self.share[i] = self.share.get(i, 0.0) + g_of[i]
            self.event["ticks"] += 1
        self.prev_onset = onset_groups
        self.prev_k = k
        self.last_t = t

        values = []
        for gid in self.ids:
            tot = self.totals.get(gid, 0)
            hit = sum(1 for i in engaged if groups[i] == gid)
            values.append(math.trunc(min(hit / tot, 1.0) * 10000.0) / 100 if tot else 0.0)
        n_groups = len(self.totals)
        rate = math.trunc(min(engaged_groups / n_groups, 1.0) * 10000.0) / 100 if n_groups else 0.0
        return {"t": t, "running": True, "anomalous": len(onset_slots), "normal": total - len(onset_slots),
                "total": total, "trained": trained, "engaged": len(engaged), "engaged_groups": engaged_groups,
                "onset_groups": onset_groups, "event_open": self.event is not None, "new_event": new_event,
                "event": ended, "anomaly_rate": rate, "contexts": list(self.names), "values": values,
                "new_contexts": new_names}

    def finish(self, before: int | None = None) -> tuple[int, int, list[list[Any]]] | None:
        ev = self.event
        if ev is None:
            return None
        info = []
        if ev["ticks"]:
            for slot, total in self.share.items():
                if before is not None and self.start[slot] >= before:
                    continue  # the new onset wave's: listed in the next event
                value = total / float(ev["ticks"])
                if value > 0.0 and value >= self.dim_threshold:
                    info.append((value, self.slot_id(slot)))
        info.sort(reverse=True)
        self.event = None
        self.share = {}
        return ev["after"] * self.ue - self.ue, ev["last"] * self.ue, [[v, i] for v, i in info[: self.max_dims]]
