#!/usr/bin/env bash
# Build an sdist, build a wheel from it, install the wheel into a clean virtual
# environment and run the tests from outside the source tree.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${TMPDIR:-/tmp}/pyml-wheel-check-$$"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/build-env"
"$work/build-env/bin/pip" install -q --upgrade pip build
(cd "$repo" && "$work/build-env/bin/python" -m build --sdist --outdir "$work/dist" >/dev/null)
"$work/build-env/bin/pip" wheel -q --no-deps -w "$work/wheelhouse" "$work"/dist/*.tar.gz
python3 -m venv "$work/test-env"
wheel=$(ls "$work"/wheelhouse/*.whl)
"$work/test-env/bin/pip" install -q "${wheel}[test]"
mkdir -p "$work/run"
cp -r "$repo/tests" "$repo/pyproject.toml" "$work/run/"
cd "$work/run"
"$work/test-env/bin/python" -c "import pyml, sys; assert 'site-packages' in pyml.__file__, pyml.__file__"
"$work/test-env/bin/pytest" -q -p no:cacheprovider
