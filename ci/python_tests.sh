#!/usr/bin/env bash
# The README's two commands, as written there: its test command (install in a
# fresh .venv, run the test suite) runs verbatim; its demo command's install is
# the same project with an extra the test extra includes, so the demo runs in
# that environment (in a temporary directory, where it writes its report).
# Then the benchmarks at a small scale with timing disabled, so benchmark code
# keeps working.
set -euo pipefail
cd "$(dirname "$0")/.."

readme_command() {  # the line after the README's "# <n>. ..." comment in its first code block
    local line
    line=$(grep -m1 -A1 -F "$1" README.md | tail -n 1)
    if [ -z "$line" ]; then
        echo "README.md has no line after '$1'" >&2
        exit 1
    fi
    printf '%s' "$line"
}
demo_command=$(readme_command "# 1. install and run the demo")
test_command=$(readme_command "# 2. install and run the tests")
venv_part='python3 -m venv .venv && . .venv/bin/activate && '
case "$test_command" in "$venv_part"pip\ install\ \".\[test\]\"\ \&\&\ *) ;; *)
    echo "README's test command is not 'python3 -m venv .venv && ... && pip install \".[test]\" && ...': $test_command" >&2
    exit 1 ;;
esac
if [ "$demo_command" != "${venv_part}pip install \".[demo]\" && pyml demo" ]; then
    echo "README's demo command changed; update ci/python_tests.sh to run it: $demo_command" >&2
    exit 1
fi

# --- the README's test command, verbatim ---
echo "+ $test_command"
(eval "$test_command")

# --- the README's demo, in that environment ([demo] is a subset of [test]) ---
# shellcheck disable=SC1091
. .venv/bin/activate
python - <<'EOF'
import re, tomllib
extras = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]
name = lambda req: re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].lower()
missing = {name(r) for r in extras["demo"]} - {name(r) for r in extras["test"]}
assert not missing, f"the demo extra needs {missing}, which the test extra lacks"
EOF
demo_dir=$(mktemp -d)
(cd "$demo_dir" && pyml demo)
test -s "$demo_dir/demo.png"
rm -rf "$demo_dir"

# --- benchmarks, small scale ---
PYML_BENCH_SCALE=small pytest benchmarks --benchmark-disable
