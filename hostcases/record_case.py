#!/usr/bin/env python3
"""Record a host case: ``pyml agent`` on this machine while a schedule of incidents is induced.

Usage (as root, on a Linux host with the cgroup v1 ``cpu`` and ``cpuacct``
controllers mounted under /sys/fs/cgroup)::

    python3 record_case.py SCHEDULE.json OUTDIR

This is the tool that recorded ``caseA`` and ``caseB``; the recording logic is
the one that ran, tidied (names, docstrings, argument checks). How it works:

1. **Confinement.** Two cgroups are created under the ``cpu`` and ``cpuacct``
   controllers: ``pyml-rec`` (the recorder, and by inheritance everything it
   starts: the agent, the incidents, the scheduled job) and ``pyml-others``
   (everything else), whose CPU quota is ``others_quota_us`` per 100,000 us
   (50,000: half a core in total). A thread moves every non-kernel process
   that is not in ``pyml-rec`` into ``pyml-others`` twice a second, so work
   started meanwhile by other users is confined too. Only CPU is confined;
   other users' disk, memory and network use are not.
2. **Foreign CPU log.** Every second the CPU time of ``pyml-others``
   (``cpuacct.usage``) is sampled and the cores it used written to
   ``others_cpu.csv`` (``timestamp,others_cpu_cores``): the record from which
   periods of foreign work are excluded from scoring.
3. **The agent.** ``python -m pyml agent`` (the pyml importable from the
   recorder's working directory) collects this machine's metrics every
   second into ``OUTDIR/agent-data`` and serves the HTTP API on the schedule's
   ``port``; its log goes to ``agent.log``.
4. **The schedule.** The recording starts on the next whole second after the
   agent has been up 3 s. Each incident and each occurrence of the scheduled
   job (``burst``) runs its shell command at ``start + at_s`` on a thread of its
   own; its real start and end times, exit status and the tail of its stderr
   are logged.
5. **Export.** After ``duration_s`` seconds, once every command has finished,
   ``schedule_log.json`` is written; then ``/api/v1/charts`` is saved as
   ``charts.json`` and every chart's ``/api/v1/data?after=start&before=end&
   points=0&group=average`` as ``export/<chart>.json``. The agent is stopped
   with SIGINT, the schedule's ``teardown`` commands run, and every process is
   moved back to the root cgroups.

Schedule file (JSON)::

    {"hostname": "case-a", "duration_s": 3900, "port": 19990, "others_quota_us": 50000,
     "setup": ["shell command", ...], "teardown": ["shell command", ...],
     "burst": {"name": ..., "subsystem": "cpu,disk", "command": ..., "at_s": [1260, 1860, ...]},
     "incidents": [{"name": ..., "subsystem": "cpu", "at_s": 1440, "command": ...}, ...]}

``setup`` commands run after the cgroups exist, inside ``pyml-rec``.

Known limitation of caseA and caseB: the network incidents send with
``iperf3 -c 10.77.0.2`` over the veth pair ``veth-pyml`` (10.77.0.1/24) <->
``veth-ns`` (10.77.0.2/24, in the network namespace ``pymlns``), to an
``iperf3 -s -D`` server started in that namespace before the recorder (see
``network_setup.sh``). That server was therefore a "foreign" process: confined
to the others' quota and counted in ``others_cpu.csv``. To avoid it, start the
server from the schedule's ``setup`` list, which runs inside ``pyml-rec``.

Convert the output into a host case with
``pyml lab hostcase-import OUTDIR hostcases/<case> --schedule SCHEDULE.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

CGROUP_ROOT = Path("/sys/fs/cgroup")
OTHERS = "pyml-others"
RECORDER = "pyml-rec"
CONTROLLERS = ("cpu", "cpuacct")
PERIOD_US = 100_000


def cgroup(controller: str, group: str) -> Path:
    """Directory of ``group`` under ``controller``."""
    return CGROUP_ROOT / controller / group


def setup_cgroups(quota_us: int) -> None:
    """Create both groups, set the others' quota, and put this process in the recorder's group."""
    for controller in CONTROLLERS:
        for group in (OTHERS, RECORDER):
            cgroup(controller, group).mkdir(exist_ok=True)
    (cgroup("cpu", OTHERS) / "cpu.cfs_period_us").write_text(str(PERIOD_US))
    (cgroup("cpu", OTHERS) / "cpu.cfs_quota_us").write_text(str(quota_us))
    me = str(os.getpid())
    for controller in CONTROLLERS:
        (cgroup(controller, RECORDER) / "cgroup.procs").write_text(me)


def in_recorder_group(pid: str) -> bool:
    """Whether process ``pid`` is in the recorder's cpu cgroup (True when it is gone: nothing to move)."""
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
            for line in f:
                parts = line.strip().split(":", 2)
                if len(parts) == 3 and "cpu" in parts[1].split(","):
                    return parts[2].startswith("/" + RECORDER)
    except OSError:
        return True
    return False


def is_kernel_thread(pid: str) -> bool:
    """kthreadd (pid 2) and its children are kernel threads; they stay where they are."""
    if pid == "2":
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            stat = f.read()
        return int(stat.rsplit(")", 1)[1].split()[1]) == 2
    except (OSError, ValueError, IndexError):
        return True


def confine_others(stop: threading.Event) -> None:
    """Twice a second, move every user process outside the recorder's group into the others' group."""
    while not stop.is_set():
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or pid == "1" or is_kernel_thread(pid) or in_recorder_group(pid):
                continue
            for controller in CONTROLLERS:
                try:
                    (cgroup(controller, OTHERS) / "cgroup.procs").write_text(pid)
                except OSError:
                    pass  # the process ended meanwhile
        stop.wait(0.5)


def release_cgroups() -> None:
    """Move every process of both groups back to the root cgroups."""
    for controller in CONTROLLERS:
        for group in (OTHERS, RECORDER):
            try:
                pids = (cgroup(controller, group) / "cgroup.procs").read_text().split()
            except OSError:
                continue
            for pid in pids:
                try:
                    (CGROUP_ROOT / controller / "cgroup.procs").write_text(pid)
                except OSError:
                    pass


def others_cpu_ns() -> int:
    """CPU time used so far by the others' group, in nanoseconds."""
    return int((cgroup("cpuacct", OTHERS) / "cpuacct.usage").read_text())


def load_schedule(path: str | Path) -> dict[str, Any]:
    """Read and check a schedule file (see the module's text); ``ValueError`` naming what is wrong."""
    schedule = json.loads(Path(path).read_text(encoding="utf-8"))
    for key in ("hostname", "duration_s", "incidents"):
        if key not in schedule:
            raise ValueError(f"{path}: the schedule needs {key!r}")
    duration = schedule["duration_s"]
    events = list(schedule["incidents"])
    burst = schedule.get("burst")
    if burst:
        events += [{**burst, "at_s": at} for at in burst["at_s"]]
    for event in events:
        for key in ("name", "subsystem", "command", "at_s"):
            if key not in event:
                raise ValueError(f"{path}: {event.get('name', event)!r} needs {key!r}")
        if not 0 <= event["at_s"] < duration:
            raise ValueError(f"{path}: {event['name']!r} at {event['at_s']} s is outside the {duration} s recording")
    return schedule


def run_scheduled(kind: str, event: dict[str, Any], at_s: float, start: int, log: dict[str, Any]) -> None:
    """Wait until ``start + at_s``, run the event's command, append its real times to ``log[kind]``."""
    delay = start + at_s - time.time()
    if delay > 0:
        time.sleep(delay)
    t0 = time.time()
    done = subprocess.run(event["command"], shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          check=False)
    t1 = time.time()
    log[kind].append({"name": event["name"], "subsystem": event.get("subsystem", ""), "command": event["command"],
                      "start": round(t0, 3), "end": round(t1, 3), "returncode": done.returncode,
                      "stderr_tail": done.stderr.decode(errors="replace")[-300:]})
    print(f"{kind[:-1]} {event['name']}: {t0 - start:.0f}s..{t1 - start:.0f}s rc={done.returncode}", flush=True)


def export(port: int, start: int, end: int, out: Path) -> None:
    """Save ``/api/v1/charts`` and every chart's data over ``[start, end]`` from the agent on ``port``."""
    base = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(base + "/api/v1/charts") as response:
        charts = json.loads(response.read())
    (out / "charts.json").write_text(json.dumps(charts))
    directory = out / "export"
    directory.mkdir(exist_ok=True)
    for chart_id in charts["charts"]:
        url = f"{base}/api/v1/data?chart={chart_id}&after={start}&before={end}&points=0&group=average"
        try:
            with urllib.request.urlopen(url) as response:
                body = response.read()
        except Exception as exc:  # noqa: BLE001 - one failed chart must not lose the others
            print("export failed", chart_id, exc, flush=True)
            continue
        (directory / f"{chart_id}.json").write_bytes(body)


def record(schedule: dict[str, Any], out: Path) -> None:
    """Run one recording into ``out`` (see the module's text)."""
    out.mkdir(parents=True, exist_ok=True)
    duration = int(schedule["duration_s"])
    port = int(schedule.get("port", 19990))
    setup_cgroups(int(schedule.get("others_quota_us", 50_000)))
    stop = threading.Event()
    threading.Thread(target=confine_others, args=(stop,), daemon=True).start()
    for command in schedule.get("setup", []):
        subprocess.run(command, shell=True, check=False)

    with open(out / "agent.log", "w", encoding="utf-8") as agent_log:
        agent = subprocess.Popen(
            [sys.executable, "-m", "pyml", "agent", "--data-dir", str(out / "agent-data"), "--port", str(port),
             "--hostname", schedule["hostname"]],
            stdout=agent_log, stderr=subprocess.STDOUT)
    time.sleep(3)
    start = int(time.time()) + 1
    while time.time() < start:
        time.sleep(0.05)
    log: dict[str, Any] = {"hostname": schedule["hostname"], "start": start, "incidents": [], "bursts": []}

    threads = [threading.Thread(target=run_scheduled, args=("incidents", ev, ev["at_s"], start, log))
               for ev in schedule["incidents"]]
    burst = schedule.get("burst")
    if burst:
        threads += [threading.Thread(target=run_scheduled, args=("bursts", burst, at, start, log))
                    for at in burst["at_s"]]
    for t in threads:
        t.start()

    end = start + duration
    with open(out / "others_cpu.csv", "w", encoding="utf-8") as cpu_log:
        cpu_log.write("timestamp,others_cpu_cores\n")
        previous, previous_t = others_cpu_ns(), time.time()
        while time.time() < end:
            time.sleep(1.0)
            now, used = time.time(), others_cpu_ns()
            cpu_log.write(f"{int(now)},{(used - previous) / 1e9 / (now - previous_t):.3f}\n")
            cpu_log.flush()
            previous, previous_t = used, now
    for t in threads:
        t.join()
    log["end"] = int(end)
    (out / "schedule_log.json").write_text(json.dumps(log, indent=1))

    export(port, start, end, out)
    agent.send_signal(signal.SIGINT)
    agent.wait(timeout=60)
    for command in schedule.get("teardown", []):
        subprocess.run(command, shell=True, check=False)
    stop.set()
    release_cgroups()
    print("done", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``record_case.py SCHEDULE.json OUTDIR``."""
    parser = argparse.ArgumentParser(description="Record a host case (see the module's text).")
    parser.add_argument("schedule", help="the schedule (JSON)")
    parser.add_argument("outdir", help="where the recording goes")
    args = parser.parse_args(argv)
    schedule = load_schedule(args.schedule)
    try:
        record(schedule, Path(args.outdir))
    finally:
        release_cgroups()
    return 0


if __name__ == "__main__":
    sys.exit(main())
