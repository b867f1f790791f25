"""``import pyml`` in a fresh interpreter: what an agent that embeds pyml pays at start-up.

Budget (DESIGN §6): <= 150 ms, an absolute figure (no baseline: what is
measured is pyml's own import with everything it pulls in, numpy and the
compiled core included). Each round starts a new interpreter and reads the
cumulative time of the ``pyml`` import from ``python -X importtime``, so the
interpreter's own start-up is not counted; the budget applies to the median of
the rounds. Quote it only from a run at low load (``uptime``). ``Host`` and
``MLConfig`` are imported on first use: the benchmark also prints, with no
budget, ``import pyml`` plus the first ``pyml.Host`` (the engine, the store and
the query layer), which an agent pays before its first host.

``import pyml`` must also leave the optional stacks alone (plotting, the HTTP
server, Dask, the lab): that test runs always, timing or not.

Run: ``pytest benchmarks/bench_import.py -s`` (``--benchmark-disable`` checks
the code path and the modules only).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import tempfile

import pytest
from conftest import scaled

BUDGET_SECONDS = 0.150

#: Top-level packages and pyml modules that ``import pyml`` must not load.
HEAVY = ("matplotlib", "tqdm", "starlette", "uvicorn", "prometheus_client", "distributed", "dask", "numba",
         "pyml.lab", "pyml.api", "pyml.server", "pyml.demo", "pyml.plot", "pyml.sources", "pyml.agent")

_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s*(\S+)\s*$")


def _python(*args: str) -> str:
    """Run a fresh interpreter outside the source tree (``-c`` puts the working directory first on
    ``sys.path``: the checkout's ``pyml/``, without its compiled core, would shadow the installed one);
    return its stderr and stdout."""
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120,
                          cwd=tempfile.gettempdir(), check=False)
    assert done.returncode == 0, f"python {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done.stderr + done.stdout


def import_seconds() -> float:
    """Cumulative seconds of ``import pyml`` in a new interpreter, as ``-X importtime`` reports it."""
    stderr = _python("-X", "importtime", "-c", "import pyml")
    for line in stderr.splitlines():
        m = _LINE.match(line)
        if m and m.group(3) == "pyml":
            return int(m.group(2)) * 1e-6
    raise AssertionError(f"no 'pyml' line in -X importtime's output:\n{stderr[-2000:]}")


def first_use_seconds() -> float:
    """Seconds of ``import pyml`` plus the first access of ``pyml.Host`` and ``pyml.MLConfig`` (which
    import the engine, the store and the query layer) in a new interpreter: what an embedding agent pays
    before its first ``Host``."""
    code = ("import time; t = time.perf_counter(); import pyml; pyml.Host; pyml.MLConfig; "
            "print(time.perf_counter() - t)")
    return float(_python("-c", code).strip().splitlines()[-1])


def test_import_loads_no_optional_stack() -> None:
    code = ("import sys, json, pyml; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            f"{sorted({h.split('.')[0] for h in HEAVY})!r} or m.startswith('pyml.'))))")
    loaded = json.loads(_python("-c", code).strip().splitlines()[-1])
    heavy = [m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert heavy == [], f"import pyml loads {heavy}"
    assert "pyml.core" in loaded and "pyml._core" in loaded


@pytest.mark.benchmark(group="import")
def test_import_time(benchmark) -> None:  # type: ignore[no-untyped-def]
    samples: list[float] = []

    def once() -> None:
        samples.append(import_seconds())

    import_seconds()  # the first import after an install writes the bytecode caches; not counted
    benchmark.pedantic(once, rounds=scaled(21, 2), iterations=1)
    assert samples and all(s > 0 for s in samples)
    median = statistics.median(samples)
    first_use = sorted(first_use_seconds() for _ in range(scaled(7, 1)))
    print(f"\nimport pyml and first use of pyml.Host: median {statistics.median(first_use) * 1e3:.1f} ms "
          f"(range {first_use[0] * 1e3:.1f}-{first_use[-1] * 1e3:.1f} ms; reported, no budget)")
    print(f"import pyml: median {median * 1e3:.1f} ms over {len(samples)} fresh interpreters "
          f"(range {min(samples) * 1e3:.1f}-{max(samples) * 1e3:.1f} ms); budget {BUDGET_SECONDS * 1e3:.0f} ms")
    if not getattr(benchmark, "disabled", False):
        assert median <= BUDGET_SECONDS
