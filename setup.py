"""Build of the single compiled extension, pyml._core (all metadata is in pyproject.toml)."""

from glob import glob

from pybind11.setup_helpers import Pybind11Extension
from setuptools import setup

# Exactness: a fused multiply-add or fast-math would change last bits, so
# contraction is off and the target stays baseline x86-64 (no -march=native).
ext_modules = [
    Pybind11Extension(
        "pyml._core",
        sorted(glob("csrc/pyml/*.cpp")) + ["csrc/bindings.cpp"],
        include_dirs=["csrc"],
        cxx_std=17,
        extra_compile_args=["-O3", "-ffp-contract=off", "-fno-math-errno"],
    ),
]

setup(ext_modules=ext_modules)
