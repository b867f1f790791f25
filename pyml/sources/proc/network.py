"""``/proc/net/dev`` (plus ``/sys/class/net``): per-interface traffic and state.

Charts per interface ``<iface>`` (Netdata ``proc_net_dev.c``; the traffic
charts appear once their counters are not all zero):

* ``net.<iface>`` (received, sent; kilobits/s), ``net_packets.<iface>``
  (received, sent, multicast), ``net_errors.<iface>`` and ``net_drops.<iface>``
  (inbound, outbound), ``net_fifo.<iface>`` (receive, transmit),
  ``net_compressed.<iface>`` (received, sent), ``net_events.<iface>`` (frames,
  collisions, carrier);
* from ``/sys/class/net/<iface>``: ``net_operstate`` (state: 0 unknown,
  1 notpresent, 2 down, 3 lowerlayerdown, 4 testing, 5 dormant, 6 up),
  ``net_carrier``, ``net_mtu`` and, for physical interfaces, ``net_duplex``
  (0 unknown, 1 half, 2 full) and ``net_speed`` (kilobits/s, when known);
  a file that cannot be read stops its chart, as in Netdata;
* ``system.net`` (received, sent; kilobits/s) sums the physical interfaces
  (those without ``/sys/devices/virtual/net/<iface>``).

Interfaces matching ``disable_interfaces`` (default ``lo fireqos* *-ifb``) get
no charts.
"""

from __future__ import annotations

import re

from ._files import Files
from ._model import ABSOLUTE, INCREMENTAL, ChartDef, Sample

MODULE = "/proc/net/dev"
KILOBITS = 8.0 / 1000.0

OPERSTATES = ("unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up")

SYSTEM_NET = ChartDef(
    "system.net", "Physical Network Interfaces Aggregated Bandwidth", "kilobits/s", "network", "system.net",
    "area", 500, INCREMENTAL, MODULE,
)

# kind -> (title, units, context, chart_type, priority offset, algorithm)
_KINDS = {
    "net": ("Bandwidth", "kilobits/s", "net.net", "area", 0, INCREMENTAL),
    "net_packets": ("Packets", "packets/s", "net.packets", "line", 1, INCREMENTAL),
    "net_errors": ("Interface Errors", "errors/s", "net.errors", "line", 2, INCREMENTAL),
    "net_drops": ("Interface Drops", "drops/s", "net.drops", "line", 3, INCREMENTAL),
    "net_fifo": ("Interface FIFO Buffer Errors", "errors", "net.fifo", "line", 4, INCREMENTAL),
    "net_compressed": ("Compressed Packets", "packets/s", "net.compressed", "line", 5, INCREMENTAL),
    "net_events": ("Network Interface Events", "events/s", "net.events", "line", 6, INCREMENTAL),
    "net_speed": ("Interface Speed", "kilobits/s", "net.speed", "line", 7, ABSOLUTE),
    "net_duplex": ("Interface Duplex State", "state", "net.duplex", "line", 8, ABSOLUTE),
    "net_operstate": ("Interface Operational State", "state", "net.operstate", "line", 9, ABSOLUTE),
    "net_carrier": ("Interface Physical Link State", "state", "net.carrier", "line", 10, ABSOLUTE),
    "net_mtu": ("Interface MTU", "octets", "net.mtu", "line", 11, ABSOLUTE),
}

# Column positions after "<iface>:" in /proc/net/dev.
(RBYTES, RPACKETS, RERRS, RDROP, RFIFO, RFRAME, RCOMPRESSED, RMULTICAST,
 TBYTES, TPACKETS, TERRS, TDROP, TFIFO, TCOLLS, TCARRIER, TCOMPRESSED) = range(16)


class _Interface:
    __slots__ = ("charts", "enabled", "failed", "name", "seen", "virtual")

    def __init__(self, name: str, enabled: bool, virtual: bool) -> None:
        self.name = name
        self.enabled = enabled
        self.virtual = virtual
        self.seen: dict[str, bool] = {}
        self.failed: set[str] = set()
        self.charts = {
            kind: ChartDef(f"{kind}.{name}", title, units, name, context, chart_type, 7000 + offset, algorithm,
                           MODULE, auto=False)
            for kind, (title, units, context, chart_type, offset, algorithm) in _KINDS.items()
        }

    def sticky(self, key: str, condition: bool) -> bool:
        if condition:
            self.seen[key] = True
        return self.seen.get(key, False)


class NetDev:
    """Source of ``/proc/net/dev``."""

    name = MODULE

    def __init__(self, disabled: re.Pattern[str]) -> None:
        self._disabled = disabled
        self._interfaces: dict[str, _Interface] = {}
        self._physical: frozenset[str] | None = None  # the interfaces summed in system.net last time

    def _sys_value(self, files: Files, iface: _Interface, what: str) -> str | None:
        if what in iface.failed:
            return None
        text = files.sys(f"class/net/{iface.name}/{what}")
        if not text:
            iface.failed.add(what)
            return None
        return text

    def _sys_number(self, files: Files, iface: _Interface, what: str) -> int | None:
        text = self._sys_value(files, iface, what)
        if text is None:
            return None
        try:
            return int(text)
        except ValueError:
            iface.failed.add(what)
            return None

    def read(self, files: Files, clock: float) -> list[Sample] | None:
        text = files.proc("net/dev")
        if text is None:
            self._interfaces.clear()
            self._physical = None
            return None
        samples: list[Sample] = []
        present: dict[str, _Interface] = {}
        system_rx = system_tx = 0
        physical = []
        for line in text.splitlines()[2:]:
            name, sep, rest = line.rpartition(":")
            name = name.strip()
            try:
                v = [int(w) for w in rest.split()]
            except ValueError:
                v = []
            if not sep or not name or len(v) < 16:
                if line.strip():
                    files.malformed(MODULE, line)
                continue
            iface = self._interfaces.get(name)
            if iface is None:
                iface = _Interface(
                    name,
                    enabled=not self._disabled.match(name),
                    virtual=files.sys_exists(f"devices/virtual/net/{name}"),
                )
            present[name] = iface
            if not iface.enabled:
                continue
            if not iface.virtual:
                physical.append(name)
                system_rx += v[RBYTES]
                system_tx += v[TBYTES]
            samples.extend(self._interface_samples(files, iface, v))
        self._interfaces = present
        # An interface that comes or goes is not traffic: restart the sum's rates then.
        members = frozenset(physical)
        restart = self._physical is not None and members != self._physical
        self._physical = members
        samples.append(Sample(SYSTEM_NET, ("received", "sent"), (system_rx, system_tx), (KILOBITS, -KILOBITS),
                              restart=restart))
        return samples

    def _interface_samples(self, files: Files, iface: _Interface, v: list[int]) -> list[Sample]:
        c = iface.charts
        s = iface.sticky
        out: list[Sample] = []
        bandwidth = s("net", bool(v[RBYTES] or v[TBYTES]))
        if bandwidth:
            out.append(Sample(c["net"], ("received", "sent"), (v[RBYTES], v[TBYTES]), (KILOBITS, -KILOBITS), True))
        if not iface.virtual:
            if bandwidth:
                speed = self._sys_number(files, iface, "speed")
                if speed is not None and speed > 0:
                    out.append(Sample(c["net_speed"], ("speed",), (speed * 1000,), 1.0, True))
            duplex = self._sys_value(files, iface, "duplex")
            if duplex is not None:
                out.append(Sample(c["net_duplex"], ("duplex",), (2 if duplex[0] == "f" else 1 if duplex[0] == "h" else 0,), 1.0, True))
        state = self._sys_value(files, iface, "operstate")
        if state is not None:
            index = OPERSTATES.index(state) if state in OPERSTATES else 0
            out.append(Sample(c["net_operstate"], ("state",), (index,), 1.0, True))
        carrier = self._sys_number(files, iface, "carrier")
        if carrier is not None:
            out.append(Sample(c["net_carrier"], ("carrier",), (carrier,), 1.0, True))
        mtu = self._sys_number(files, iface, "mtu")
        if mtu is not None:
            out.append(Sample(c["net_mtu"], ("mtu",), (mtu,), 1.0, True))
        if s("packets", bool(v[RPACKETS] or v[TPACKETS] or v[RMULTICAST])):
            out.append(Sample(c["net_packets"], ("received", "sent", "multicast"),
                              (v[RPACKETS], v[TPACKETS], v[RMULTICAST]), (1.0, -1.0, 1.0), True))
        if s("errors", bool(v[RERRS] or v[TERRS])):
            out.append(Sample(c["net_errors"], ("inbound", "outbound"), (v[RERRS], v[TERRS]), (1.0, -1.0), True))
        if s("drops", bool(v[RDROP] or v[TDROP])):
            out.append(Sample(c["net_drops"], ("inbound", "outbound"), (v[RDROP], v[TDROP]), (1.0, -1.0), True))
        if s("fifo", bool(v[RFIFO] or v[TFIFO])):
            out.append(Sample(c["net_fifo"], ("receive", "transmit"), (v[RFIFO], v[TFIFO]), (1.0, -1.0), True))
        if s("compressed", bool(v[RCOMPRESSED] or v[TCOMPRESSED])):
            out.append(Sample(c["net_compressed"], ("received", "sent"), (v[RCOMPRESSED], v[TCOMPRESSED]), (1.0, -1.0), True))
        if s("events", bool(v[RFRAME] or v[TCOLLS] or v[TCARRIER])):
            out.append(Sample(c["net_events"], ("frames", "collisions", "carrier"),
                              (v[RFRAME], v[TCOLLS], v[TCARRIER]), (1.0, -1.0, -1.0), True))
        return out
