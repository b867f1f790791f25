"""Build of the single compiled extension, pyml._core (all metadata is in pyproject.toml).

Exactness: a fused multiply-add or fast-math would change last bits, so
contraction is off and the target stays each architecture's baseline (no
-march=native); the bank's AVX2 kernel is compiled with a function attribute
and chosen at run time from the CPU.

Size: the extension is linked stripped (no symbol table, no debug sections;
Python finds it through its exported PyInit__core alone). Set
PYML_KEEP_SYMBOLS=1 to keep symbols and debug information, e.g. for a
profiler or a debugger.
"""

import os
import sys
from glob import glob

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension
from setuptools import setup

# Compile the sources in parallel (PYML_BUILD_JOBS, default: one per CPU).
ParallelCompile("PYML_BUILD_JOBS", default=0).install()


def _strip_flags() -> list:
    """Linker flags that leave the symbol table and debug information out of the extension."""
    if os.environ.get("PYML_KEEP_SYMBOLS", "") not in ("", "0"):
        return []
    if sys.platform == "darwin":
        return ["-Wl,-S", "-Wl,-x"]  # ld64: no debug information, no local symbols
    if sys.platform.startswith(("linux", "freebsd")):
        return ["-Wl,--strip-all"]
    return []


ext_modules = [
    Pybind11Extension(
        "pyml._core",
        sorted(glob("csrc/pyml/*.cpp")) + ["csrc/bindings.cpp"],
        include_dirs=["csrc"],
        cxx_std=17,
        extra_compile_args=["-O3", "-ffp-contract=off", "-fno-math-errno"],
        extra_link_args=_strip_flags(),
    ),
]

setup(ext_modules=ext_modules)
