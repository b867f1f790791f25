"""The typed user program (tests/typing/user_program.py) runs: what mypy --strict checks is also true at run time."""

from __future__ import annotations

import importlib.util
from pathlib import Path

PROGRAM = Path(__file__).parent / "typing" / "user_program.py"


def _load():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("pyml_user_program", PROGRAM)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_embedding_program_runs() -> None:
    rates = _load().embed()
    assert set(rates) == {"system.cpu|user", "system.cpu|system", "system.cpu|iowait", "net.eth0|received",
                          "net.eth0|sent"}
    assert all(0.0 <= r <= 1.0 for r in rates.values())


def test_the_primitives_program_runs() -> None:
    assert 0.0 <= _load().primitives() <= 100.0
