#!/usr/bin/env bash
# Install the project exactly as the README says, in a fresh virtual
# environment, and run the README's test command; then the benchmarks at a
# small scale with timing disabled, so benchmark code keeps working.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${TMPDIR:-/tmp}/pyml-ci-venv-$$"
python3 -m venv "$venv"
trap 'rm -rf "$venv"' EXIT
# shellcheck disable=SC1091
. "$venv/bin/activate"
python -m pip install -q --upgrade pip
# --- the README's test command ---
pip install ".[test]" && pytest
# --- benchmarks, small scale ---
PYML_BENCH_SCALE=small pytest benchmarks --benchmark-disable
