"""An environment holding the Netdata clients people use, to run them against a pyml server.

The clients (``tests/clients-requirements.txt``) are installed from PyPI into a
virtual environment of their own, built once and cached under
``$PYML_TEST_CLIENTS_DIR`` (default ``~/.cache/pyml/test-clients``) keyed by
the requirements, so a change of pins builds a new one. ``run_client(code)``
runs a Python snippet there and returns what it printed as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

REQUIREMENTS = Path(__file__).with_name("clients-requirements.txt")


def clients_python() -> Path:
    """The interpreter of the clients' environment, building it on first use."""
    key = hashlib.sha256(REQUIREMENTS.read_bytes() + sys.version.encode()).hexdigest()[:16]
    base = Path(os.environ.get("PYML_TEST_CLIENTS_DIR", Path.home() / ".cache" / "pyml" / "test-clients"))
    env = base / key
    python = env / "bin" / "python"
    done = env / ".complete"
    if not done.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(env)
        result = subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
                                capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(f"installing the Netdata clients into {env} failed:\n{result.stderr[-2000:]}")
        done.write_text("ok\n")
    return python


def run_client(code: str, timeout: float = 300) -> Any:
    """Run ``code`` in the clients' environment; it must print one JSON document as its last line."""
    result = subprocess.run([str(clients_python()), "-c", code], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"client code failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
