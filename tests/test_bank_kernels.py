"""The bank's kernels give identical words, bits and scores: the AVX2 kernel here, the baseline one under emulation.

The bank picks its kernel from the CPU when it is built (AVX2 where the CPU
has it, else the x86-64 baseline), and the Python API has no switch, so on an
AVX2 machine every other test runs the AVX2 kernel of the installed
extension. This test runs the same workout (tests/bank_kernel_scenario.py:
every feature-parameter kernel, gaps, inf, saturation, resets, slot reuse)
natively and in ``qemu-x86_64 -cpu SandyBridge`` (a CPU with AVX and without
AVX2), where the same extension runs its baseline kernel, and compares the
results bit for bit. It needs an x86-64 CPU with AVX2 and qemu-user
(ci/system_deps.sh installs it); elsewhere there is only one kernel to run.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import bank_kernel_scenario as scenario  # noqa: E402

QEMU = shutil.which("qemu-x86_64")


def test_the_workout_covers_every_kernel() -> None:
    results = scenario.run()
    assert len(scenario.params()) == 2 * 6 * 6
    bits = np.concatenate([v.ravel() for k, v in results.items() if k.endswith("_bits")])
    words = np.concatenate([v.ravel() for k, v in results.items() if k.endswith("_words")])
    assert bits.any() and not bits.all()          # both outcomes occur
    assert (words == 0).any()                       # gaps give the empty word


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64") or QEMU is None or not scenario.cpu_has_avx2(),
                    reason="needs an x86-64 CPU with AVX2 and qemu-x86_64 (qemu-user) to run the baseline kernel")
def test_baseline_and_avx2_kernels_agree_bit_for_bit(tmp_path: Path) -> None:
    native = scenario.run()
    out = tmp_path / "baseline.npz"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH")) if p)
    done = subprocess.run([QEMU, "-cpu", "SandyBridge", sys.executable, str(HERE / "bank_kernel_scenario.py"),
                           str(out)], capture_output=True, text=True, env=env, timeout=1800, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    emulated = dict(np.load(out))
    assert not bool(emulated.pop("avx2")), "the emulated CPU reports AVX2: the baseline kernel did not run"
    assert emulated.keys() == native.keys()
    for key, expected in native.items():
        got = emulated[key]
        if got.dtype == np.float64:
            assert np.array_equal(got.view(np.uint64), expected.view(np.uint64)), key
        else:
            assert np.array_equal(got, expected), key
