"""``/proc/net/snmp``, ``/proc/net/netstat``, ``/proc/net/snmp6`` and ``/proc/net/sockstat``: the IP stack.

Charts (Netdata ``proc_net_snmp.c``, ``proc_net_netstat.c``,
``proc_net_sockstat.c``), each once its numbers are not all zero:

* ``ipv4.packets``, ``ipv4.fragsout``, ``ipv4.fragsin``, ``ipv4.errors``,
  ``ipv4.icmp``, ``ipv4.icmp_errors``, ``ipv4.icmpmsg``, ``ipv4.tcpsock``
  (connections), ``ipv4.tcppackets``, ``ipv4.tcperrors``, ``ipv4.tcpopens``,
  ``ipv4.tcphandshake``, ``ipv4.udppackets``, ``ipv4.udperrors``,
  ``ipv4.udplite``, ``ipv4.udplite_errors``;
* ``system.ip`` (received, sent; kilobits/s), ``ip.inerrors``, ``ip.mcast``,
  ``ip.bcast``, ``ip.mcastpkts``, ``ip.bcastpkts``, ``ip.ecnpkts``,
  ``ip.tcpmemorypressures``, ``ip.tcpconnaborts``, ``ip.tcpreorders``,
  ``ip.tcpofo``, ``ip.tcpsyncookies``, ``ip.tcp_syn_queue``,
  ``ip.tcp_accept_queue``;
* ``system.ipv6`` (received, sent; kilobits/s), ``ipv6.packets``,
  ``ipv6.fragsout``, ``ipv6.fragsin``, ``ipv6.errors``, ``ipv6.udppackets``,
  ``ipv6.udperrors``, ``ipv6.udplitepackets``, ``ipv6.udpliteerrors``,
  ``ipv6.mcast``, ``ipv6.bcast``, ``ipv6.mcastpkts``, ``ipv6.icmp``,
  ``ipv6.icmpredir`` (from ``/proc/net/snmp6``);
* ``ipv4.sockstat_sockets``, ``ipv4.sockstat_tcp_sockets``,
  ``ipv4.sockstat_tcp_mem``, ``ipv4.sockstat_udp_sockets``,
  ``ipv4.sockstat_udp_mem``, ``ipv4.sockstat_udplite_sockets``,
  ``ipv4.sockstat_raw_sockets``, ``ipv4.sockstat_frag_sockets``,
  ``ipv4.sockstat_frag_mem``.
"""

from __future__ import annotations

import resource
from collections.abc import Sequence
from typing import NamedTuple

from ._files import Files
from ._model import ABSOLUTE, INCREMENTAL, ChartDef, Sample

SNMP = "/proc/net/snmp"
SNMP6 = "/proc/net/snmp6"
NETSTAT = "/proc/net/netstat"
SOCKSTAT = "/proc/net/sockstat"
KILOBITS = 8.0 / 1000.0

Key = tuple[str, str]
# A chart table row: (chart, ((dimension, (section, field), scale), ...))
Table = Sequence[tuple[ChartDef, Sequence[tuple[str, Key, float]]]]


def _chart(chart_id: str, title: str, units: str, family: str, chart_type: str, priority: int,
           module: str, algorithm: str = INCREMENTAL) -> ChartDef:
    return ChartDef(chart_id, title, units, family, chart_id, chart_type, priority, algorithm, module)


def _dims(section: str, *dims: tuple[str, str, float]) -> tuple[tuple[str, Key, float], ...]:
    return tuple((name, (section, field), scale) for name, field, scale in dims)


_ICMPMSG = tuple(
    (f"{direction}{name}", ("IcmpMsg", f"{direction}Type{number}"), 1.0 if direction == "In" else -1.0)
    for number, name in ((0, "EchoReps"), (3, "DestUnreachs"), (5, "Redirects"), (8, "Echos"), (9, "RouterAdvert"),
                         (10, "RouterSelect"), (11, "TimeExcds"), (12, "ParmProbs"), (13, "Timestamps"),
                         (14, "TimestampReps"))
    for direction in ("In", "Out")
)

_UDP_ERRORS = (("RcvbufErrors", "RcvbufErrors", 1.0), ("SndbufErrors", "SndbufErrors", -1.0),
               ("InErrors", "InErrors", 1.0), ("NoPorts", "NoPorts", 1.0),
               ("InCsumErrors", "InCsumErrors", 1.0), ("IgnoredMulti", "IgnoredMulti", 1.0))

SNMP_CHARTS: Table = (
    (_chart("ipv4.packets", "IPv4 Packets", "packets/s", "packets", "line", 5130, SNMP),
     _dims("Ip", ("received", "InReceives", 1.0), ("sent", "OutRequests", -1.0),
           ("forwarded", "ForwDatagrams", 1.0), ("delivered", "InDelivers", 1.0))),
    (_chart("ipv4.fragsout", "IPv4 Fragments Sent", "packets/s", "fragments", "line", 5460, SNMP),
     _dims("Ip", ("ok", "FragOKs", 1.0), ("failed", "FragFails", -1.0), ("created", "FragCreates", 1.0))),
    (_chart("ipv4.fragsin", "IPv4 Fragments Reassembly", "packets/s", "fragments", "line", 5461, SNMP),
     _dims("Ip", ("ok", "ReasmOKs", 1.0), ("failed", "ReasmFails", -1.0), ("all", "ReasmReqds", 1.0))),
    (_chart("ipv4.errors", "IPv4 Errors", "packets/s", "errors", "line", 5150, SNMP),
     _dims("Ip", ("InDiscards", "InDiscards", 1.0), ("OutDiscards", "OutDiscards", -1.0),
           ("InHdrErrors", "InHdrErrors", 1.0), ("OutNoRoutes", "OutNoRoutes", -1.0),
           ("InAddrErrors", "InAddrErrors", 1.0), ("InUnknownProtos", "InUnknownProtos", 1.0))),
    (_chart("ipv4.icmp", "IPv4 ICMP Packets", "packets/s", "icmp", "line", 5170, SNMP),
     _dims("Icmp", ("received", "InMsgs", 1.0), ("sent", "OutMsgs", -1.0))),
    (_chart("ipv4.icmp_errors", "IPv4 ICMP Errors", "packets/s", "icmp", "line", 5171, SNMP),
     _dims("Icmp", ("InErrors", "InErrors", 1.0), ("OutErrors", "OutErrors", -1.0),
           ("InCsumErrors", "InCsumErrors", 1.0))),
    (_chart("ipv4.icmpmsg", "IPv4 ICMP Messages", "packets/s", "icmp", "line", 5172, SNMP), _ICMPMSG),
    (_chart("ipv4.tcpsock", "IPv4 TCP Connections", "active connections", "tcp", "line", 5200, SNMP, ABSOLUTE),
     _dims("Tcp", ("connections", "CurrEstab", 1.0))),
    (_chart("ipv4.tcppackets", "IPv4 TCP Packets", "packets/s", "tcp", "line", 5204, SNMP),
     _dims("Tcp", ("received", "InSegs", 1.0), ("sent", "OutSegs", -1.0))),
    (_chart("ipv4.tcperrors", "IPv4 TCP Errors", "packets/s", "tcp", "line", 5220, SNMP),
     _dims("Tcp", ("InErrs", "InErrs", 1.0), ("InCsumErrors", "InCsumErrors", 1.0),
           ("RetransSegs", "RetransSegs", -1.0))),
    (_chart("ipv4.tcpopens", "IPv4 TCP Opens", "connections/s", "tcp", "line", 5205, SNMP),
     _dims("Tcp", ("active", "ActiveOpens", 1.0), ("passive", "PassiveOpens", 1.0))),
    (_chart("ipv4.tcphandshake", "IPv4 TCP Handshake Issues", "events/s", "tcp", "line", 5230, SNMP),
     _dims("Tcp", ("EstabResets", "EstabResets", 1.0), ("OutRsts", "OutRsts", 1.0),
           ("AttemptFails", "AttemptFails", 1.0)) + _dims("TcpExt", ("SynRetrans", "TCPSynRetrans", 1.0))),
    (_chart("ipv4.udppackets", "IPv4 UDP Packets", "packets/s", "udp", "line", 5300, SNMP),
     _dims("Udp", ("received", "InDatagrams", 1.0), ("sent", "OutDatagrams", -1.0))),
    (_chart("ipv4.udperrors", "IPv4 UDP Errors", "events/s", "udp", "line", 5310, SNMP),
     _dims("Udp", *_UDP_ERRORS)),
    (_chart("ipv4.udplite", "IPv4 UDPLite Packets", "packets/s", "udplite", "line", 5400, SNMP),
     _dims("UdpLite", ("received", "InDatagrams", 1.0), ("sent", "OutDatagrams", -1.0))),
    (_chart("ipv4.udplite_errors", "IPv4 UDPLite Errors", "packets/s", "udplite", "line", 5410, SNMP),
     _dims("UdpLite", *_UDP_ERRORS)),
)

NETSTAT_CHARTS: Table = (
    (_chart("system.ip", "IP Bandwidth", "kilobits/s", "network", "area", 501, NETSTAT),
     _dims("IpExt", ("received", "InOctets", KILOBITS), ("sent", "OutOctets", -KILOBITS))),
    (_chart("ip.inerrors", "IP Input Errors", "packets/s", "errors", "line", 4100, NETSTAT),
     _dims("IpExt", ("noroutes", "InNoRoutes", 1.0), ("truncated", "InTruncatedPkts", 1.0),
           ("checksum", "InCsumErrors", 1.0))),
    (_chart("ip.mcast", "IP Multicast Bandwidth", "kilobits/s", "multicast", "area", 4600, NETSTAT),
     _dims("IpExt", ("received", "InMcastOctets", KILOBITS), ("sent", "OutMcastOctets", -KILOBITS))),
    (_chart("ip.bcast", "IP Broadcast Bandwidth", "kilobits/s", "broadcast", "area", 4500, NETSTAT),
     _dims("IpExt", ("received", "InBcastOctets", KILOBITS), ("sent", "OutBcastOctets", -KILOBITS))),
    (_chart("ip.mcastpkts", "IP Multicast Packets", "packets/s", "multicast", "line", 4610, NETSTAT),
     _dims("IpExt", ("received", "InMcastPkts", 1.0), ("sent", "OutMcastPkts", -1.0))),
    (_chart("ip.bcastpkts", "IP Broadcast Packets", "packets/s", "broadcast", "line", 4510, NETSTAT),
     _dims("IpExt", ("received", "InBcastPkts", 1.0), ("sent", "OutBcastPkts", -1.0))),
    (_chart("ip.ecnpkts", "IP ECN Statistics", "packets/s", "ecn", "line", 4700, NETSTAT),
     _dims("IpExt", ("CEP", "InCEPkts", 1.0), ("NoECTP", "InNoECTPkts", -1.0), ("ECTP0", "InECT0Pkts", 1.0),
           ("ECTP1", "InECT1Pkts", 1.0))),
    (_chart("ip.tcpmemorypressures", "TCP Memory Pressures", "events/s", "tcp", "line", 4290, NETSTAT),
     _dims("TcpExt", ("pressures", "TCPMemoryPressures", 1.0))),
    (_chart("ip.tcpconnaborts", "TCP Connection Aborts", "connections/s", "tcp", "line", 4210, NETSTAT),
     _dims("TcpExt", ("baddata", "TCPAbortOnData", 1.0), ("userclosed", "TCPAbortOnClose", 1.0),
           ("nomemory", "TCPAbortOnMemory", 1.0), ("timeout", "TCPAbortOnTimeout", 1.0),
           ("linger", "TCPAbortOnLinger", 1.0), ("failed", "TCPAbortFailed", -1.0))),
    (_chart("ip.tcpreorders", "TCP Reordered Packets by Detection Method", "packets/s", "tcp", "line", 4220, NETSTAT),
     _dims("TcpExt", ("timestamp", "TCPTSReorder", 1.0), ("sack", "TCPSACKReorder", 1.0),
           ("fack", "TCPFACKReorder", 1.0), ("reno", "TCPRenoReorder", 1.0))),
    (_chart("ip.tcpofo", "TCP Out-Of-Order Queue", "packets/s", "tcp", "line", 4250, NETSTAT),
     _dims("TcpExt", ("inqueue", "TCPOFOQueue", 1.0), ("dropped", "TCPOFODrop", -1.0),
           ("merged", "TCPOFOMerge", 1.0), ("pruned", "OfoPruned", -1.0))),
    (_chart("ip.tcpsyncookies", "TCP SYN Cookies", "packets/s", "tcp", "line", 4260, NETSTAT),
     _dims("TcpExt", ("received", "SyncookiesRecv", 1.0), ("sent", "SyncookiesSent", -1.0),
           ("failed", "SyncookiesFailed", -1.0))),
    (_chart("ip.tcp_syn_queue", "TCP SYN Queue Issues", "packets/s", "tcp", "line", 4215, NETSTAT),
     _dims("TcpExt", ("drops", "TCPReqQFullDrop", 1.0), ("cookies", "TCPReqQFullDoCookies", 1.0))),
    (_chart("ip.tcp_accept_queue", "TCP Accept Queue Issues", "packets/s", "tcp", "line", 4216, NETSTAT),
     _dims("TcpExt", ("overflows", "ListenOverflows", 1.0), ("drops", "ListenDrops", 1.0))),
)

SNMP6_CHARTS: Table = (
    (_chart("system.ipv6", "IPv6 Bandwidth", "kilobits/s", "network", "area", 502, SNMP6),
     _dims("Ip6", ("received", "InOctets", KILOBITS), ("sent", "OutOctets", -KILOBITS))),
    (_chart("ipv6.packets", "IPv6 Packets", "packets/s", "packets", "line", 6200, SNMP6),
     _dims("Ip6", ("received", "InReceives", 1.0), ("sent", "OutRequests", -1.0),
           ("forwarded", "OutForwDatagrams", -1.0), ("delivers", "InDelivers", 1.0))),
    (_chart("ipv6.fragsout", "IPv6 Fragments Sent", "packets/s", "fragments6", "line", 6401, SNMP6),
     _dims("Ip6", ("ok", "FragOKs", 1.0), ("failed", "FragFails", -1.0), ("all", "FragCreates", 1.0))),
    (_chart("ipv6.fragsin", "IPv6 Fragments Reassembly", "packets/s", "fragments6", "line", 6402, SNMP6),
     _dims("Ip6", ("ok", "ReasmOKs", 1.0), ("failed", "ReasmFails", -1.0), ("timeout", "ReasmTimeout", -1.0),
           ("all", "ReasmReqds", 1.0))),
    (_chart("ipv6.errors", "IPv6 Errors", "packets/s", "errors", "line", 6300, SNMP6),
     _dims("Ip6", ("InDiscards", "InDiscards", 1.0), ("OutDiscards", "OutDiscards", -1.0),
           ("InHdrErrors", "InHdrErrors", 1.0), ("InAddrErrors", "InAddrErrors", 1.0),
           ("InUnknownProtos", "InUnknownProtos", 1.0), ("InTooBigErrors", "InTooBigErrors", 1.0),
           ("InTruncatedPkts", "InTruncatedPkts", 1.0), ("InNoRoutes", "InNoRoutes", 1.0),
           ("OutNoRoutes", "OutNoRoutes", -1.0))),
    (_chart("ipv6.udppackets", "IPv6 UDP Packets", "packets/s", "udp6", "line", 6601, SNMP6),
     _dims("Udp6", ("received", "InDatagrams", 1.0), ("sent", "OutDatagrams", -1.0))),
    (_chart("ipv6.udperrors", "IPv6 UDP Errors", "events/s", "udp6", "line", 6610, SNMP6),
     _dims("Udp6", *_UDP_ERRORS)),
    (_chart("ipv6.udplitepackets", "IPv6 UDPlite Packets", "packets/s", "udplite6", "line", 6701, SNMP6),
     _dims("UdpLite6", ("received", "InDatagrams", 1.0), ("sent", "OutDatagrams", -1.0))),
    (_chart("ipv6.udpliteerrors", "IPv6 UDP Lite Errors", "events/s", "udplite6", "line", 6710, SNMP6),
     _dims("UdpLite6", *_UDP_ERRORS[:5])),
    (_chart("ipv6.mcast", "IPv6 Multicast Bandwidth", "kilobits/s", "multicast6", "area", 6850, SNMP6),
     _dims("Ip6", ("received", "InMcastOctets", KILOBITS), ("sent", "OutMcastOctets", -KILOBITS))),
    (_chart("ipv6.bcast", "IPv6 Broadcast Bandwidth", "kilobits/s", "broadcast6", "area", 6840, SNMP6),
     _dims("Ip6", ("received", "InBcastOctets", KILOBITS), ("sent", "OutBcastOctets", -KILOBITS))),
    (_chart("ipv6.mcastpkts", "IPv6 Multicast Packets", "packets/s", "multicast6", "line", 6851, SNMP6),
     _dims("Ip6", ("received", "InMcastPkts", 1.0), ("sent", "OutMcastPkts", -1.0))),
    (_chart("ipv6.icmp", "IPv6 ICMP Messages", "messages/s", "icmp6", "line", 6900, SNMP6),
     _dims("Icmp6", ("received", "InMsgs", 1.0), ("sent", "OutMsgs", -1.0))),
    (_chart("ipv6.icmpredir", "IPv6 ICMP Redirects", "redirects/s", "icmp6", "line", 6910, SNMP6),
     _dims("Icmp6", ("received", "InRedirects", 1.0), ("sent", "OutRedirects", -1.0))),
)

_PAGE_KIB = resource.getpagesize() / 1024.0


def _sock(chart_id: str, title: str, units: str, family: str, chart_type: str, priority: int) -> ChartDef:
    return _chart(chart_id, title, units, family, chart_type, priority, SOCKSTAT, ABSOLUTE)


SOCKSTAT_CHARTS: Table = (
    (_sock("ipv4.sockstat_sockets", "IPv4 Sockets Used", "sockets", "sockets", "line", 5100),
     _dims("sockets", ("used", "used", 1.0))),
    (_sock("ipv4.sockstat_tcp_sockets", "IPv4 TCP Sockets", "sockets", "tcp", "line", 5201),
     _dims("TCP", ("alloc", "alloc", 1.0), ("orphan", "orphan", 1.0), ("inuse", "inuse", 1.0),
           ("timewait", "tw", 1.0))),
    (_sock("ipv4.sockstat_tcp_mem", "IPv4 TCP Sockets Memory", "KiB", "tcp", "area", 5290),
     _dims("TCP", ("mem", "mem", _PAGE_KIB))),
    (_sock("ipv4.sockstat_udp_sockets", "IPv4 UDP Sockets", "sockets", "udp", "line", 5300),
     _dims("UDP", ("inuse", "inuse", 1.0))),
    (_sock("ipv4.sockstat_udp_mem", "IPv4 UDP Sockets Memory", "KiB", "udp", "area", 5390),
     _dims("UDP", ("mem", "mem", _PAGE_KIB))),
    (_sock("ipv4.sockstat_udplite_sockets", "IPv4 UDPLITE Sockets", "sockets", "udplite", "line", 5400),
     _dims("UDPLITE", ("inuse", "inuse", 1.0))),
    (_sock("ipv4.sockstat_raw_sockets", "IPv4 RAW Sockets", "sockets", "raw", "line", 5450),
     _dims("RAW", ("inuse", "inuse", 1.0))),
    (_sock("ipv4.sockstat_frag_sockets", "IPv4 FRAG Sockets", "fragments", "fragments", "line", 5460),
     _dims("FRAG", ("inuse", "inuse", 1.0))),
    (_sock("ipv4.sockstat_frag_mem", "IPv4 FRAG Sockets Memory", "KiB", "fragments", "area", 5470),
     _dims("FRAG", ("mem", "memory", 1.0 / 1024.0))),
)


def parse_header_pairs(text: str, files: Files, module: str, out: dict[Key, int]) -> None:
    """``Section: names...`` / ``Section: values...`` line pairs into ``out``."""
    lines = [line for line in text.splitlines() if line.strip()]
    for header, values in zip(lines[0::2], lines[1::2]):
        h, v = header.split(), values.split()
        if not h or not v or h[0] != v[0] or len(h) != len(v):
            files.malformed(module, values)
            continue
        section = h[0].rstrip(":")
        try:
            numbers = [int(x) for x in v[1:]]
        except ValueError:
            files.malformed(module, values)
            continue
        out.update(((section, name), number) for name, number in zip(h[1:], numbers))


_SNMP6_SECTIONS = ("UdpLite6", "Udp6", "Icmp6", "Ip6")  # longest prefix first


def parse_snmp6(text: str, files: Files, out: dict[Key, int]) -> None:
    """``Ip6InReceives   123`` lines into ``out`` as ``("Ip6", "InReceives")``."""
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        section = next((p for p in _SNMP6_SECTIONS if words[0].startswith(p)), None)
        if section is None:
            continue  # per-type ICMP counters and the like: not charted
        try:
            out[(section, words[0][len(section):])] = int(words[1])
        except (IndexError, ValueError):
            files.malformed(SNMP6, line)


def parse_sockstat(text: str, files: Files, out: dict[Key, int]) -> None:
    """``SECTION: key value key value ...`` lines into ``out``."""
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        section = words[0].rstrip(":")
        try:
            out.update(((section, k), int(v)) for k, v in zip(words[1::2], words[2::2]))
        except ValueError:
            files.malformed(SOCKSTAT, line)


class _Compiled(NamedTuple):
    chart: ChartDef
    names: tuple[str, ...]
    keys: tuple[Key, ...]
    scale: tuple[float, ...]
    sections: frozenset[str]


def _compile(table: Table) -> tuple[_Compiled, ...]:
    return tuple(
        _Compiled(chart, tuple(d[0] for d in dims), tuple(d[1] for d in dims), tuple(d[2] for d in dims),
                  frozenset(d[1][0] for d in dims))
        for chart, dims in table
    )


def _table_samples(table: tuple[_Compiled, ...], values: dict[Key, int], sections: set[str]) -> list[Sample]:
    get = values.get
    return [
        Sample(c.chart, c.names, [get(k, 0) for k in c.keys], c.scale)
        for c in table
        if not c.sections.isdisjoint(sections)
    ]


_SNMP = _compile(SNMP_CHARTS)
_NETSTAT = _compile(NETSTAT_CHARTS)
_SOCKSTAT = _compile(SOCKSTAT_CHARTS)
_SNMP6 = _compile(SNMP6_CHARTS)


class NetSnmp:
    """Source of ``/proc/net/snmp`` (with ``TCPSynRetrans`` from ``/proc/net/netstat``)."""

    name = SNMP

    def read(self, files: Files, clock: float) -> list[Sample] | None:
        text = files.proc("net/snmp")
        if text is None:
            return None
        values: dict[Key, int] = {}
        parse_header_pairs(text, files, SNMP, values)
        extra = files.proc("net/netstat")
        if extra is not None:
            parse_header_pairs(extra, files, NETSTAT, values)
        sections = {"Ip", "Icmp", "IcmpMsg", "Tcp", "Udp", "UdpLite"} & {k[0] for k in values}
        return _table_samples(_SNMP, values, sections)


class NetNetstat:
    """Source of ``/proc/net/netstat``."""

    name = NETSTAT

    def read(self, files: Files, clock: float) -> list[Sample] | None:
        text = files.proc("net/netstat")
        if text is None:
            return None
        values: dict[Key, int] = {}
        parse_header_pairs(text, files, NETSTAT, values)
        return _table_samples(_NETSTAT, values, {k[0] for k in values})


class NetSnmp6:
    """Source of ``/proc/net/snmp6`` (absent when IPv6 is disabled)."""

    name = SNMP6

    def read(self, files: Files, clock: float) -> list[Sample] | None:
        text = files.proc("net/snmp6")
        if text is None:
            return None
        values: dict[Key, int] = {}
        parse_snmp6(text, files, values)
        return _table_samples(_SNMP6, values, {k[0] for k in values})


class NetSockstat:
    """Source of ``/proc/net/sockstat``."""

    name = SOCKSTAT

    def read(self, files: Files, clock: float) -> list[Sample] | None:
        text = files.proc("net/sockstat")
        if text is None:
            return None
        values: dict[Key, int] = {}
        parse_sockstat(text, files, values)
        return _table_samples(_SOCKSTAT, values, {k[0] for k in values})
