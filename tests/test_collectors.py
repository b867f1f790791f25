"""Tests of pyml.collectors: Netdata-style charts from /proc.

Deterministic tests read the snapshots in tests/data/proc (t0, t1 two seconds
later, t2 with counter resets and hot-plugged devices, t3 with missing and
malformed files; ``sys`` holds the /sys files they need); one test reads this
machine's real /proc.
"""

from __future__ import annotations

import logging
import math
import resource
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from pyml.sources import ChartSpec, Collection, ProcCollector

DATA = Path(__file__).parent / "data" / "proc"
SYS = DATA / "sys"

# Netdata's default "charts to skip from training" lets these prefixes through.
ML_PREFIXES = ("system.", "cpu.", "mem.", "disk.", "disk_", "ip.", "ipv4.", "ipv6.", "net.", "net_", "netfilter.")


class Tree:
    """A proc directory whose content is replaced by a snapshot at will."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def use(self, snapshot: str) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.copytree(DATA / snapshot, self.root)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    t = Tree(tmp_path / "proc")
    t.use("t0")
    return t


@pytest.fixture
def collector(tree: Tree) -> ProcCollector:
    return ProcCollector(tree.root, sys_root=SYS)


def values_by_dim(c: ProcCollector, col: Collection, chart_id: str) -> dict:
    spec = next(s for s in c.charts() if s.id == chart_id)
    return dict(zip(spec.dimensions, col.values[chart_id].tolist()))


def run(c: ProcCollector, tree: Tree, *steps: tuple) -> Collection:
    col = None
    for snapshot, now in steps:
        tree.use(snapshot)
        col = c.collect(now=now)
    assert col is not None
    return col


def assert_consistent(c: ProcCollector, col: Collection) -> None:
    specs = {s.id: s for s in c.charts()}
    assert list(col.values) == list(specs)
    for chart_id, v in col.values.items():
        assert v.dtype == np.float64
        assert v.shape == (len(specs[chart_id].dimensions),)


# --------------------------------------------------------------------------- discovery


def test_discovery_names_charts_as_netdata(collector: ProcCollector) -> None:
    specs = {s.id: s for s in collector.charts()}
    cpu = specs["system.cpu"]
    assert cpu == ChartSpec(
        id="system.cpu", name="system.cpu", title="Total CPU utilization", units="percentage", family="cpu",
        context="system.cpu", chart_type="stacked", priority=100,
        dimensions=["guest_nice", "guest", "steal", "softirq", "irq", "user", "system", "nice", "iowait", "idle"],
        module="/proc/stat",
    )
    assert specs["cpu.cpu1"].priority == 1002 and specs["cpu.cpu1"].context == "cpu.cpu"
    assert specs["system.load"].dimensions == ["load1", "load5", "load15"]
    assert specs["system.ram"].dimensions == ["free", "used", "cached", "buffers"]
    assert specs["system.ram"].units == "MiB"
    assert specs["mem.available"].dimensions == ["avail"]
    assert specs["system.swap"].dimensions == ["free", "used"]
    assert specs["system.processes"].dimensions == ["running", "blocked"]
    assert specs["disk.vda"].dimensions == ["reads", "writes"] and specs["disk.vda"].units == "KiB/s"
    assert specs["disk.vda"].context == "disk.io" and specs["disk.vda"].family == "vda"
    assert specs["disk_ops.vda"].context == "disk.ops"
    assert specs["disk_util.vda"].units == "% of time working"
    assert specs["net.eth0"].dimensions == ["received", "sent"] and specs["net.eth0"].units == "kilobits/s"
    assert specs["net_packets.eth0"].dimensions == ["received", "sent", "multicast"]
    assert specs["ipv4.tcpsock"].dimensions == ["connections"]
    assert specs["ipv4.packets"].dimensions == ["received", "sent", "forwarded", "delivered"]
    assert specs["system.interrupts"].dimensions == ["timer_0", "virtio3-rx_41", "LOC"]
    assert specs["system.softirqs"].dimensions == ["TIMER", "NET_RX", "BLOCK"]
    assert specs["cpu.cpu0_interrupts"].context == "cpu.interrupts"
    # A device-mapper disk keeps its kernel id but is named and grouped like Netdata does.
    dm = specs["disk.dm-0"]
    assert (dm.name, dm.family) == ("disk.vg0-root", "/srv/my data")


def test_discovery_skips_what_netdata_skips(collector: ProcCollector) -> None:
    ids = {s.id for s in collector.charts()}
    assert not [i for i in ids if i.endswith((".loop0", ".vda1", ".lo"))]  # excluded disk, partition, lo
    # "auto" charts whose numbers are all zero do not exist yet.
    for absent in ("disk_qops.vda", "disk_mops.dm-0", "mem.hwcorrupt", "mem.hugepages",
                   "mem.transparent_hugepages", "mem.oom_kill", "ipv4.udplite", "net_drops.eth0",
                   "ipv6.udppackets", "ipv6.icmp"):
        assert absent not in ids
    # Virtual interfaces get no speed or duplex; physical ones do.
    assert "net_speed.eth0" in ids and "net_duplex.eth0" in ids
    assert "net_speed.veth1" not in ids and "net_duplex.veth1" not in ids


def test_every_chart_gets_ml_under_netdata_default_skip_pattern(collector: ProcCollector) -> None:
    names = [s.name for s in collector.charts()]
    assert len(names) > 50
    assert all(n.startswith(ML_PREFIXES) for n in names), [n for n in names if not n.startswith(ML_PREFIXES)]


# --------------------------------------------------------------------------- rates


def test_first_collection_has_no_rates(collector: ProcCollector, tree: Tree) -> None:
    col = collector.collect(now=1000.0)
    assert_consistent(collector, col)
    assert col.t == 1000.0
    assert (col.added, col.removed, col.changed, col.resets) == ([], [], [], set())
    for counter in ("system.cpu", "system.intr", "disk.vda", "net.eth0", "system.interrupts", "disk_util.vda",
                    "disk_await.vda", "ipv4.packets", "mem.pgfaults"):
        assert np.isnan(col.values[counter]).all(), counter
    # Absolute dimensions have values at once.
    assert values_by_dim(collector, col, "system.ram") == {"free": 2048.0, "used": 3484.0, "cached": 2560.0,
                                                          "buffers": 100.0}
    assert col.values["system.load"].tolist() == [0.5, 0.4, 0.3]
    assert col.values["system.processes"].tolist() == [3.0, -1.0]
    assert col.values["system.swap"].tolist() == [768.0, 256.0]
    assert col.values["ipv4.tcpsock"].tolist() == [5.0]
    assert col.values["system.cpu_pressure"].tolist() == [1.5, 1.0, 0.5]


def test_rates_from_two_snapshots(collector: ProcCollector, tree: Tree) -> None:
    col = run(collector, tree, ("t0", 1000.0), ("t1", 1002.0))
    assert_consistent(collector, col)
    assert col.resets == set()
    v = lambda chart: values_by_dim(collector, col, chart)
    # CPU: increments over their total (2000 ticks); guest is taken out of user.
    assert v("system.cpu") == pytest.approx({"guest_nice": 0, "guest": 5, "steal": 0.5, "softirq": 1, "irq": 0.5,
                                              "user": 10, "system": 5, "nice": 0, "iowait": 2.5, "idle": 75.5})
    assert v("cpu.cpu0")["user"] == pytest.approx(10) and v("cpu.cpu0")["idle"] == pytest.approx(85)
    assert col.values["cpu.cpu1"].tolist() == [0.0] * 10  # no tick elapsed on cpu1
    assert col.values["system.intr"].tolist() == [1000.0]       # 2000 in 2 s
    assert col.values["system.ctxt"].tolist() == [5000.0]
    assert col.values["system.forks"].tolist() == [20.0]
    assert col.values["system.processes"].tolist() == [5.0, -2.0]
    # Memory paging: KiB/s, out negative.
    assert col.values["system.pgpgio"].tolist() == [100.0, -200.0]
    page_kib = resource.getpagesize() / 1024
    assert col.values["system.swapio"].tolist() == pytest.approx([2 * page_kib, -4 * page_kib])
    assert col.values["mem.pgfaults"].tolist() == [1500.0, -5.0]
    assert v("system.ram")["used"] == 4508.0
    # Disks: 512-byte sectors, writes negative; per-interval averages.
    assert col.values["disk.vda"].tolist() == [500.0, -2000.0]
    assert col.values["disk_ops.vda"].tolist() == [50.0, -100.0]
    assert col.values["disk_backlog.vda"].tolist() == [600.0]
    assert col.values["disk_busy.vda"].tolist() == [500.0]
    assert col.values["disk_util.vda"].tolist() == [50.0]
    assert col.values["disk_iotime.vda"].tolist() == [25.0, -100.0]
    assert col.values["disk_await.vda"].tolist() == [0.5, -1.0]
    assert col.values["disk_avgsz.vda"].tolist() == [10.0, -20.0]
    assert col.values["disk_svctm.vda"].tolist() == pytest.approx([1000 / 300])
    assert col.values["disk_ext_ops.vda"].tolist() == [0.0, 5.0]
    assert col.values["system.io"].tolist() == [500.0, -2000.0]  # vda only: dm-0 is virtual, vda1 a partition
    # Network: kilobits/s, sent negative; system.net sums physical interfaces only.
    assert col.values["net.eth0"].tolist() == [1000.0, -500.0]
    assert col.values["net_packets.eth0"].tolist() == [200.0, -100.0, 2.0]
    assert col.values["net_errors.eth0"].tolist() == [1.0, 0.0]
    assert col.values["net.veth1"].tolist() == [0.0, 0.0]
    assert col.values["system.net"].tolist() == [1000.0, -500.0]
    assert col.values["net_speed.eth0"].tolist() == [1_000_000.0]
    assert col.values["net_operstate.eth0"].tolist() == [6.0]  # up
    assert col.values["net_duplex.eth0"].tolist() == [2.0]      # full
    # IPv4.
    assert col.values["ipv4.packets"].tolist() == [1000.0, -500.0, 0.0, 1000.0]
    assert col.values["ipv4.tcppackets"].tolist() == [300.0, -200.0]
    assert col.values["ipv4.tcpsock"].tolist() == [7.0]
    assert v("ipv4.tcphandshake")["SynRetrans"] == 1.0
    assert col.values["system.ip"].tolist() == [1000.0, -500.0]
    assert col.values["ipv4.sockstat_tcp_sockets"].tolist() == [12.0, 0.0, 7.0, 2.0]
    # IPv6.
    assert col.values["system.ipv6"].tolist() == [40.0, -10.0]
    assert values_by_dim(collector, col, "ipv6.packets") == {"received": 10.0, "sent": -5.0, "forwarded": 0.0,
                                                            "delivers": 10.0}
    # Interrupts and softirqs: per second, summed over CPUs and per CPU.
    assert v("system.interrupts")["LOC"] == 2500.0 and v("system.interrupts")["virtio3-rx_41"] == 100.0
    assert v("cpu.cpu1_interrupts")["LOC"] == 1500.0
    assert col.values["system.softirqs"].tolist() == [300.0, 2.0, 5.0]
    assert v("system.softnet_stat")["processed"] == 256.0


def test_rates_use_the_elapsed_time(collector: ProcCollector, tree: Tree) -> None:
    col = run(collector, tree, ("t0", 1000.0), ("t1", 1004.0))  # the same increments over 4 s
    assert col.values["system.intr"].tolist() == [500.0]
    assert col.values["disk.vda"].tolist() == [250.0, -1000.0]
    assert col.values["disk_util.vda"].tolist() == [25.0]
    assert col.values["net.eth0"].tolist() == [500.0, -250.0]
    assert col.values["system.cpu"][5] == pytest.approx(10.0)  # percentages do not depend on time
    assert col.values["disk_await.vda"].tolist() == [0.5, -1.0]  # nor do per-operation averages


def test_time_not_moving_forward_gives_no_rates(collector: ProcCollector, tree: Tree) -> None:
    run(collector, tree, ("t0", 1000.0), ("t1", 1002.0))
    col = collector.collect(now=1002.0)  # same time again
    assert np.isnan(col.values["system.intr"]).all() and np.isnan(col.values["disk_util.vda"]).all()
    assert col.resets == set()
    assert col.values["system.load"].tolist() == [0.6, 0.45, 0.32]
    tree.use("t2")
    col = collector.collect(now=1003.0)
    assert col.values["system.intr"].tolist() == [500.0]  # from the repeated t1 read


def test_switching_clocks_restarts_rates(collector: ProcCollector, tree: Tree) -> None:
    run(collector, tree, ("t0", 1000.0), ("t1", 1002.0))
    col = collector.collect()  # wall clock now: rates cannot span both clocks
    assert np.isnan(col.values["system.intr"]).all()
    assert col.resets == set()


# --------------------------------------------------------------------------- resets and changes


def test_counter_going_backwards_is_nan_and_flags_reset(collector: ProcCollector, tree: Tree) -> None:
    col = run(collector, tree, ("t0", 1000.0), ("t1", 1002.0), ("t2", 1003.0))
    assert_consistent(collector, col)
    assert np.isnan(col.values["system.ctxt"]).all()
    # eth0's receive counters restarted, its transmit counters did not.
    eth0 = values_by_dim(collector, col, "net.eth0")
    assert math.isnan(eth0["received"]) and eth0["sent"] == -1000.0
    assert {"system.ctxt", "net.eth0", "net_packets.eth0", "net_errors.eth0"} == col.resets
    assert col.values["system.intr"].tolist() == [500.0]
    assert col.values["system.cpu"][5] == pytest.approx(10.0)
    # The next collection is normal again.
    col = collector.collect(now=1004.0)
    assert col.values["system.ctxt"].tolist() == [0.0] and col.resets == set()


def test_cpu_counter_going_backwards_spoils_the_whole_percentage_chart(collector: ProcCollector,
                                                                        tree: Tree) -> None:
    collector.collect(now=1000.0)
    stat = (DATA / "t1" / "stat").read_text().replace("cpu0 600 ", "cpu0 400 ")  # cpu0 user went back
    (tree.root / "stat").write_text(stat)
    col = collector.collect(now=1002.0)
    assert np.isnan(col.values["cpu.cpu0"]).all()
    assert "cpu.cpu0" in col.resets and "system.cpu" not in col.resets
    assert col.values["system.cpu"][5] == pytest.approx(10.0)


def test_devices_appearing_and_disappearing(collector: ProcCollector, tree: Tree) -> None:
    run(collector, tree, ("t0", 1000.0), ("t1", 1002.0))
    before = {s.id for s in collector.charts()}
    col = run(collector, tree, ("t2", 1003.0))
    assert_consistent(collector, col)
    assert {s.id for s in collector.charts()} == (before - set(col.removed)) | {s.id for s in col.added}
    assert not before & {s.id for s in col.added}
    added = {s.id: s for s in col.added}
    assert {"disk.sdb", "disk_ops.sdb", "disk_util.sdb", "net.wlan0", "net_operstate.wlan0"} <= set(added)
    assert "net_speed.wlan0" not in added  # no speed file for it
    assert added["disk.sdb"].family == "sdb"
    assert sorted(col.removed) == sorted(
        [i for i in ("disk.dm-0", "disk_ext.dm-0", "disk_ops.dm-0", "disk_ext_ops.dm-0", "disk_backlog.dm-0",
                     "disk_busy.dm-0", "disk_util.dm-0", "disk_iotime.dm-0", "disk_ext_iotime.dm-0",
                     "disk_await.dm-0", "disk_ext_await.dm-0", "disk_avgsz.dm-0", "disk_ext_avgsz.dm-0",
                     "disk_svctm.dm-0", "net.veth1", "net_operstate.veth1", "net_carrier.veth1", "net_mtu.veth1",
                     "net_packets.veth1")]
    )
    ids = {s.id for s in collector.charts()}
    assert "disk.sdb" in ids and "disk.dm-0" not in ids and "net.veth1" not in ids
    # New devices have no rate yet; sums over a changed set of devices restart (no reset flag).
    assert np.isnan(col.values["disk.sdb"]).all() and np.isnan(col.values["disk_util.sdb"]).all()
    assert col.values["disk_qops.sdb"].tolist() == [1.0]
    assert np.isnan(col.values["system.io"]).all() and "system.io" not in col.resets
    assert col.values["disk.vda"].tolist() == [500.0, -1000.0]
    col = collector.collect(now=1004.0)  # same numbers one second later
    assert col.values["disk.sdb"].tolist() == [0.0, 0.0] and col.values["system.io"].tolist() == [0.0, 0.0]
    assert (col.added, col.removed) == ([], [])


def test_auto_chart_is_added_once_its_numbers_move(collector: ProcCollector, tree: Tree) -> None:
    tree.use("t1")
    col = collector.collect(now=1000.0)
    assert [s.id for s in col.added] == ["disk_qops.vda"]
    assert col.values["disk_qops.vda"].tolist() == [3.0]
    tree.use("t2")
    col = collector.collect(now=1001.0)
    assert col.values["disk_qops.vda"].tolist() == [0.0]  # stays once created
    assert "disk_qops.vda" not in col.removed


def test_irq_dimensions_keep_their_order_and_new_ones_are_appended(collector: ProcCollector, tree: Tree) -> None:
    collector.collect(now=1000.0)
    tree.use("t1")
    col = collector.collect(now=1002.0)
    changed = {s.id: s.dimensions for s in col.changed}
    assert changed == {"system.interrupts": ["timer_0", "virtio3-rx_41", "LOC", "Ged_24"],
                       "cpu.cpu1_interrupts": ["virtio3-rx_41", "LOC", "Ged_24"]}
    assert np.isnan(col.values["system.interrupts"][3])  # new dimension: no rate yet
    assert col.values["system.interrupts"][:3].tolist() == [0.0, 100.0, 2500.0]
    tree.use("t2")
    col = collector.collect(now=1003.0)
    changed = {s.id: s.dimensions for s in col.changed}
    # IRQ 41 left the file; IRQ 50 appeared before LOC in the file but is appended.
    assert changed["system.interrupts"] == ["timer_0", "LOC", "Ged_24", "nvme0q1_50"]
    assert changed["cpu.cpu0_interrupts"] == ["timer_0", "LOC", "nvme0q1_50"]
    assert col.values["system.interrupts"][:3].tolist() == [0.0, 2000.0, 3.0]
    assert np.isnan(col.values["system.interrupts"][3])
    col = collector.collect(now=1004.0)
    assert col.changed == [] and col.values["system.interrupts"].tolist() == [0.0, 0.0, 0.0, 0.0]


# --------------------------------------------------------------------------- missing and malformed files


def test_missing_and_malformed_files_warn_once(collector: ProcCollector, tree: Tree,
                                              caplog: pytest.LogCaptureFixture) -> None:
    run(collector, tree, ("t0", 1000.0), ("t1", 1002.0), ("t2", 1003.0))
    caplog.set_level(logging.WARNING, logger="pyml.collectors")
    col = run(collector, tree, ("t3", 1004.0))  # no meminfo, no net/snmp, a short diskstats line
    assert_consistent(collector, col)
    assert {"system.ram", "mem.available", "system.swap", "mem.committed", "ipv4.packets", "ipv4.tcpsock"} \
        <= set(col.removed)
    assert "disk.sdc" not in {s.id for s in collector.charts()}
    assert col.values["disk.vda"].tolist() == [0.0, 0.0]  # the rest goes on
    collector.collect(now=1005.0)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("meminfo" in m for m in messages) == 1
    assert sum("net/snmp" in m for m in messages) == 1
    assert sum("sdc" in m for m in messages) == 1
    # The files come back: their charts are added again, rates start over.
    col = run(collector, tree, ("t2", 1006.0))
    assert {"system.ram", "ipv4.packets"} <= {s.id for s in col.added}
    assert np.isnan(col.values["ipv4.packets"]).all()


def test_missing_file_at_start_is_not_fatal(tree: Tree, caplog: pytest.LogCaptureFixture) -> None:
    (tree.root / "meminfo").unlink()
    shutil.rmtree(tree.root / "pressure")
    caplog.set_level(logging.WARNING, logger="pyml.collectors")
    c = ProcCollector(tree.root, sys_root=SYS)
    ids = {s.id for s in c.charts()}
    assert "system.ram" not in ids and "system.cpu_pressure" not in ids and "system.cpu" in ids
    assert any("meminfo" in r.getMessage() for r in caplog.records)


def test_empty_proc_root_gives_no_charts(tmp_path: Path) -> None:
    c = ProcCollector(tmp_path, sys_root=tmp_path / "nothing")
    assert c.charts() == []
    col = c.collect(now=1.0)
    assert col.values == {} and col.dimension_count() == 0


# --------------------------------------------------------------------------- arguments


def test_bad_arguments_are_rejected(tmp_path: Path, collector: ProcCollector, tree: Tree) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        ProcCollector(tmp_path / "nope")
    with pytest.raises(TypeError, match="exclude_disks"):
        ProcCollector(tree.root, exclude_disks=[1])
    collector.collect(now=1000.0)
    tree.use("t1")
    for bad, error in (("1001", TypeError), (True, TypeError), (float("nan"), ValueError),
                       (float("inf"), ValueError), ([1.0], TypeError)):
        with pytest.raises(error, match="now"):
            collector.collect(now=bad)
    # The rejected calls changed nothing: rates still span t0 -> t1.
    col = collector.collect(now=1002.0)
    assert col.values["system.intr"].tolist() == [1000.0]


def test_patterns_are_configurable(tree: Tree) -> None:
    c = ProcCollector(tree.root, sys_root=SYS, exclude_disks="loop* ram* vd*", disable_interfaces=["lo", "eth*"])
    ids = {s.id for s in c.charts()}
    assert "disk.vda" not in ids and "disk.dm-0" in ids
    assert "net.eth0" not in ids and "net.veth1" in ids and "net.lo" not in ids
    assert "system.net" not in ids  # no enabled physical interface moves


# --------------------------------------------------------------------------- this machine


def test_real_proc_has_over_a_hundred_finite_dimensions() -> None:
    c = ProcCollector()
    first = c.collect()
    assert_consistent(c, first)
    time.sleep(0.05)
    col = c.collect()
    assert_consistent(c, col)
    fresh = {s.id for s in col.added} | {s.id for s in col.changed}
    finite = {k: v for k, v in col.values.items() if k not in fresh}
    bad = {k: v for k, v in finite.items() if not np.isfinite(v).all()}
    assert bad == {}
    assert sum(v.shape[0] for v in finite.values()) >= 100
    assert col.dimension_count() == c.dimension_count() >= 100
    ids = set(col.values)
    assert {"system.cpu", "system.load", "system.ram", "system.processes", "system.ctxt", "system.intr",
            "system.forks", "system.interrupts", "system.softirqs", "mem.pgfaults"} <= ids
    assert any(i.startswith("cpu.cpu") for i in ids)
    assert all(s.name.startswith(ML_PREFIXES) for s in c.charts())
