"""A real Netdata agent (Debian's ``netdata`` package) as the reference for the v1 API tests.

Two uses:

* ``start_netdata(directory, port)`` starts ``netdata -D`` on loopback with its
  own configuration and directories under ``directory`` (RAM database, only
  the ``/proc`` collector, no cloud, no registry, no anonymous statistics) and
  returns the process once ``/api/v1/info`` answers; the live comparison test
  (``tests/test_netdata_live.py``) uses it.
* ``python tests/netdata_reference.py record [--port P] [--out DIR]`` starts
  one (or uses a running one with ``--url``) and writes the JSON fixtures of
  ``tests/data/netdata-1.37/`` that ``tests/test_netdata_compat.py`` compares
  pyml with: answers of several endpoints, and ``/api/v1/data`` queries made
  within one wall-clock second (so they share Netdata's "now"), together with
  the raw per-second samples of the queried charts over the same span, which
  the tests feed into a pyml host.

Netdata is GPL-3.0; nothing of it is copied here: these are its answers over
HTTP, recorded as data.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

NETDATA = shutil.which("netdata") or ("/usr/sbin/netdata" if os.path.exists("/usr/sbin/netdata") else None)

_CONF = """\
[global]
    run as user = {user}
    hostname = {hostname}
[db]
    mode = ram
    retention = 3600
    update every = 1
[directories]
    config = {d}/etc
    cache = {d}/cache
    lib = {d}/lib
    log = {d}/log
    run = {d}/run
    home = {d}/lib
[logs]
    debug log = none
    error = {d}/log/error.log
    access = none
[web]
    bind to = 127.0.0.1
[plugins]
    proc = yes
    diskspace = no
    cgroups = no
    tc = no
    idlejitter = no
    enable running new plugins = no
    python.d = no
    charts.d = no
    go.d = no
    apps = no
    ebpf = no
    statsd = no
    timex = no
    checks = no
    perf = no
    slabinfo = no
    nfacct = no
    fping = no
    ioping = no
[health]
    enabled = yes
[ml]
    enabled = no
[registry]
    enabled = no
"""


def start_netdata(directory: Path, port: int, hostname: str = "ndref", timeout: float = 60.0) -> subprocess.Popen:
    """Start Netdata in the foreground (``-D``) on ``127.0.0.1:port``; wait until it answers."""
    if NETDATA is None:
        raise FileNotFoundError("the netdata binary is not installed (Debian package 'netdata')")
    directory = Path(directory)
    for sub in ("etc", "cache", "lib", "log", "run"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    (directory / "etc" / ".opt-out-from-anonymous-statistics").touch()
    (directory / "etc" / "cloud.conf").write_text("[global]\n    enabled = no\n")
    user = "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
    conf = directory / "netdata.conf"
    conf.write_text(_CONF.format(d=directory, user=user, hostname=hostname))
    log = open(directory / "log" / "stdout.log", "wb")
    proc = subprocess.Popen([NETDATA, "-D", "-c", str(conf), "-p", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            cwd=directory, start_new_session=True)
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/api/v1/info"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"netdata exited with status {proc.returncode}; see {directory / 'log'}")
        try:
            status, _, body, _ = get(url)
            if status == 200 and body.lstrip().startswith("{"):
                return proc
        except OSError:
            pass
        time.sleep(0.5)
    stop_netdata(proc)
    raise RuntimeError(f"netdata did not answer on port {port} within {timeout} s")


def stop_netdata(proc: subprocess.Popen) -> None:
    """Stop a Netdata started by :func:`start_netdata` (its whole process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def get(url: str, timeout: float = 10.0) -> tuple[int, str, str, int]:
    """GET ``url``: (status, content type, body text, server time from the Date header)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            status, ctype, body, date = r.status, r.headers.get("Content-Type", ""), r.read(), r.headers.get("Date")
    except urllib.error.HTTPError as exc:
        status, ctype, body, date = exc.code, exc.headers.get("Content-Type", ""), exc.read(), exc.headers.get("Date")
    when = int(email.utils.parsedate_to_datetime(date).timestamp()) if date else 0
    return status, ctype, body.decode("utf-8", "replace"), when


def answer(base: str, path: str) -> dict[str, Any]:
    """One recorded answer: path, status, content type, body (parsed when JSON) and server time."""
    status, ctype, body, when = get(base + path)
    doc: dict[str, Any] = {"path": path, "status": status, "content_type": ctype.split(";")[0], "time": when}
    try:
        doc["json"] = json.loads(body)
    except ValueError:
        doc["text"] = body
    return doc


#: /api/v1/data queries made within one second (relative windows share Netdata's now).
RELATIVE = [
    "/api/v1/data?chart=system.cpu&after=-60&points=60&options=jsonwrap",
    "/api/v1/data?chart=system.cpu&after=-5&options=jsonwrap",
    "/api/v1/data?chart=system.cpu&after=-9&points=3&dimensions=user,system&options=jsonwrap",
    "/api/v1/data?chart=system.cpu&after=-60&points=7&options=jsonwrap",
    "/api/v1/data?chart=system.cpu&after=-60&points=7&options=jsonwrap,unaligned",
    "/api/v1/data?chart=system.cpu&after=-600&points=13&group=max&options=jsonwrap",
    "/api/v1/data?chart=system.cpu&points=20&options=jsonwrap",
    "/api/v1/data?chart=system.cpu&after=-100&before=-40&points=6&options=jsonwrap",
    "/api/v1/data?chart=system.cpu&after=-30&points=10&gtime=6&options=jsonwrap",
    "/api/v1/data?chart=system.cpu&after=-10&options=jsonwrap,flip,ms,nonzero,null2zero,percentage,abs",
    "/api/v1/data?chart=system.load&after=-60&options=jsonwrap",
    "/api/v1/data?chart=system.load&after=-60&points=5&options=jsonwrap",
    "/api/v1/data?chart=system.load&after=-10&points=3&options=jsonwrap",
]

#: (chart, [(query tail, name)]) with absolute windows ending at ``now`` (filled in when recording).
GROUPS = ["average", "min", "max", "sum", "median", "incremental-sum", "stddev", "cv", "ses", "des",
          "percentile95", "trimmed-mean5", "trimmed-median10", "countif"]
FORMATS = ["json", "jsonp", "csv", "tsv", "ssv", "ssvcomma", "array", "csvjsonarray", "markdown", "html",
           "datatable", "datasource"]


def record(base: str, out: Path) -> None:
    """Record every fixture of ``tests/data/netdata-1.37`` from the agent at ``base``."""
    out.mkdir(parents=True, exist_ok=True)
    for attempt in range(30):
        answers = [answer(base, p) for p in RELATIVE]
        if len({a["time"] for a in answers}) == 1:
            break
        time.sleep(0.3)
    else:
        raise RuntimeError("could not make the relative queries within one second")
    now = answers[0]["time"] - 1  # Netdata's now for relative windows: wall clock less one second
    absolute = []
    after, before = now - 200, now - 20
    for group in GROUPS:
        tail = f"&group_options=%3E10" if group == "countif" else ""
        absolute.append(f"/api/v1/data?chart=system.cpu&after={after}&before={before}&points=9&group={group}"
                        f"&options=jsonwrap{tail}")
    for fmt in FORMATS:
        absolute.append(f"/api/v1/data?chart=system.cpu&after={now - 9}&before={now - 3}&points=3"
                        f"&dimensions=user,system&format={fmt}")
    absolute.append(f"/api/v1/data?chart=system.cpu&after={now - 9}&before={now - 3}&points=3&dimensions=user,system"
                    "&format=csv&options=seconds")
    absolute.append(f"/api/v1/data?chart=system.cpu&after={now - 9}&before={now - 3}&format=ssv&options=min2max")
    absolute.append(f"/api/v1/data?chart=system.cpu&after={now - 9}&before={now - 3}&format=array&options=percentage")
    for dims in ("*", "s*", "user,nope", "nope", "!user,*"):
        absolute.append(f"/api/v1/data?chart=system.cpu&after={now - 3}&before={now}&dimensions={dims}")
    absolute.append(f"/api/v1/data?chart=system.cpu&after={now - 3}&before={now}&dimensions=user&dimension=system")
    absolute.append("/api/v1/data?chart=no.such.chart")
    absolute.append("/api/v1/data?after=-10")
    absolute.append(f"/api/v1/data?chart=system.cpu&after={now - 3}&before={now}&options=bogus&group=bogus&format=bogus")
    answers += [answer(base, p) for p in absolute]
    raw = {}
    for chart in ("system.cpu", "system.load"):
        raw[chart] = answer(base, f"/api/v1/data?chart={chart}&after={now - 900}&before={now}&dimensions=*"
                                  "&options=jsonwrap,seconds")["json"]
    (out / "data.json").write_text(json.dumps({"now": now, "queries": answers, "raw": raw}, indent=1) + "\n")

    def keep(doc: dict[str, Any], key: str, names: list[str]) -> dict[str, Any]:
        doc = dict(doc)
        doc[key] = {k: v for k, v in doc[key].items() if k in names}
        return doc

    endpoints: dict[str, Any] = {}
    info = answer(base, "/api/v1/info")
    endpoints["info"] = info
    charts = answer(base, "/api/v1/charts")
    charts["json"] = keep(charts["json"], "charts", ["system.cpu", "system.load"])
    endpoints["charts"] = charts
    endpoints["chart"] = answer(base, "/api/v1/chart?chart=system.load")
    endpoints["chart_missing"] = answer(base, "/api/v1/chart?chart=no.such.chart")
    endpoints["chart_no_param"] = answer(base, "/api/v1/chart")
    allm = answer(base, "/api/v1/allmetrics?format=json")
    allm["json"] = {k: v for k, v in allm["json"].items() if k in ("system.cpu", "system.load")}
    endpoints["allmetrics_json"] = allm
    shell = answer(base, "/api/v1/allmetrics?format=shell")
    shell["text"] = shell["text"][:1500]
    endpoints["allmetrics_shell"] = shell
    prom = answer(base, "/api/v1/allmetrics?format=prometheus")
    prom["text"] = "\n".join(prom["text"].splitlines()[:12])
    endpoints["allmetrics_prometheus"] = prom
    endpoints["allmetrics_bad"] = answer(base, "/api/v1/allmetrics?format=bogus")
    alarms = answer(base, "/api/v1/alarms?all&format=json")
    alarms["json"]["alarms"] = dict(list(alarms["json"]["alarms"].items())[:2])
    endpoints["alarms"] = alarms
    endpoints["alarms_active"] = answer(base, "/api/v1/alarms")
    log = answer(base, "/api/v1/alarm_log")
    log["json"] = log["json"][:2]
    endpoints["alarm_log"] = log
    contexts = answer(base, "/api/v1/contexts")
    contexts["json"] = keep(contexts["json"], "contexts", ["system.cpu", "system.load"])
    endpoints["contexts"] = contexts
    full = answer(base, "/api/v1/contexts?options=full")
    full["json"] = keep(full["json"], "contexts", ["system.load"])
    endpoints["contexts_full"] = full
    endpoints["context"] = answer(base, "/api/v1/context?context=system.load")
    endpoints["context_missing"] = answer(base, "/api/v1/context?context=no.such")
    weights = answer(base, f"/api/v1/weights?after={now - 300}&before={now}&method=anomaly-rate")
    endpoints["weights"] = weights
    endpoints["weights_raw"] = answer(base, f"/api/v1/weights?after={now - 300}&before={now}"
                                            "&method=anomaly-rate&options=raw,null2zero")
    endpoints["encoded_question_mark"] = answer(base, "/api/v1/data%3Fchart=system.load&after=-1&options=seconds")
    (out / "endpoints.json").write_text(json.dumps(endpoints, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["record"])
    parser.add_argument("--url", help="use a running Netdata at this base URL instead of starting one")
    parser.add_argument("--port", type=int, default=20101)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "netdata-1.37")
    parser.add_argument("--warmup", type=float, default=900.0, help="seconds of samples to wait for (own agent)")
    args = parser.parse_args(argv)
    if args.url:
        record(args.url.rstrip("/"), args.out)
        return 0
    import tempfile
    with tempfile.TemporaryDirectory(prefix="pyml-netdata-") as tmp:
        proc = start_netdata(Path(tmp), args.port)
        try:
            time.sleep(args.warmup)
            record(f"http://127.0.0.1:{args.port}", args.out)
        finally:
            stop_netdata(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
