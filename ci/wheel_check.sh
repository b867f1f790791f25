#!/usr/bin/env bash
# The release path on this machine, checked end to end:
#  1. the cibuildwheel table selects exactly the release wheels (no build: that
#     needs the manylinux/musllinux images or a Mac; `cibuildwheel` runs them);
#  2. an sdist, then a wheel built from that sdist; `twine check --strict` on both
#     (the README renders on an index, the metadata is complete);
#  3. the wheel repaired by auditwheel to a manylinux tag; the tag, a stripped
#     extension and its dependencies (system libraries only, nothing grafted)
#     checked;
#  4. the repaired wheel installed in a clean virtual environment whose PATH has
#     no compiler, and the test suite run from outside the source tree;
#  5. the type stubs: `mypy --strict` on a user program of the public API and
#     `stubtest` of pyml._core against the installed extension.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${TMPDIR:-/tmp}/pyml-wheel-check-$$"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
step() { printf '\n== wheel check: %s\n' "$*"; }
# pip, without its notes about index locations that lack a package (this machine's pip configuration)
grep_bin=$(command -v grep)  # absolute: pip_quiet also runs under the compiler-free PATH
pip_quiet() { "$@" 2> >("$grep_bin" -v '^WARNING: Location ' >&2); }

step "tools (pyproject.toml [dependency-groups] wheel, typing)"
python3 -m venv "$work/tools"
pip_quiet "$work/tools/bin/python" -m pip install -q --upgrade pip
(cd "$repo" && pip_quiet "$work/tools/bin/pip" install -q --group wheel --group typing)
tools="$work/tools/bin"

step "cibuildwheel selects the release wheels"
selects() {  # selects PLATFORM EXPECTED-IDENTIFIERS...
    local platform=$1 got want
    shift
    got=$(cd "$repo" && "$tools/cibuildwheel" --print-build-identifiers --platform "$platform" | sort | tr '\n' ' ')
    want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    if [ "$got" != "$want" ]; then
        printf 'cibuildwheel (%s) would build: %s\nexpected:                    %s\n' "$platform" "$got" "$want" >&2
        exit 1
    fi
    echo "$platform: $# wheels: $got"
}
linux=() macos=()
for py in cp39 cp310 cp311 cp312 cp313; do
    linux+=("$py-manylinux_x86_64" "$py-manylinux_aarch64" "$py-musllinux_x86_64")
    macos+=("$py-macosx_x86_64" "$py-macosx_arm64")
done
selects linux "${linux[@]}"
selects macos "${macos[@]}"

step "sdist, then a wheel from the sdist"
(cd "$repo" && "$tools/python" -m build --outdir "$work/dist" . >"$work/build.log" 2>&1) || {
    tail -50 "$work/build.log" >&2
    exit 1
}
ls -l "$work/dist"
"$tools/twine" check --strict "$work"/dist/*

step "auditwheel: manylinux tag, stripped, self-contained"
raw=$(ls "$work"/dist/*.whl)
PATH="$tools:$PATH" "$tools/auditwheel" show "$raw"
PATH="$tools:$PATH" "$tools/auditwheel" repair --wheel-dir "$work/wheelhouse" "$raw" >"$work/repair.log" 2>&1 || {
    cat "$work/repair.log" >&2
    exit 1
}
wheel=$(ls "$work"/wheelhouse/*.whl)
name=$(basename "$wheel")
echo "repaired: $name"
arch=$(uname -m)
if ! [[ "$name" =~ -cp3[0-9]+-cp3[0-9]+-(manylinux_2_[0-9]+_${arch}|manylinux2014_${arch})(\.manylinux_2_[0-9]+_${arch})*\.whl$ ]]; then
    echo "not a manylinux wheel tag for $arch: $name" >&2
    exit 1
fi
"$tools/twine" check --strict "$wheel"
mkdir -p "$work/unzipped"
"$tools/python" -m zipfile -e "$wheel" "$work/unzipped"
if ls -d "$work"/unzipped/*.libs >/dev/null 2>&1; then
    echo "auditwheel grafted libraries into the wheel (the extension must need system libraries only):" >&2
    ls "$work"/unzipped/*.libs >&2
    exit 1
fi
so=$(ls "$work"/unzipped/pyml/_core*.so)
echo "extension: $(basename "$so"), $(stat -c %s "$so") bytes"
sections=$(readelf -S --wide "$so")
if grep -qE '\.symtab|\.debug_' <<<"$sections"; then
    echo "the extension is not stripped (symbol table or debug sections left):" >&2
    grep -E '\.symtab|\.debug_' <<<"$sections" >&2
    exit 1
fi
needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
echo "needs: $needed"
for lib in $needed; do
    case "$lib" in
        libstdc++.so.6 | libm.so.6 | libgcc_s.so.1 | libc.so.6 | libpthread.so.0 | libdl.so.2 | librt.so.1) ;;
        ld-linux*) ;;
        *) echo "the extension needs $lib, which no manylinux system provides" >&2; exit 1 ;;
    esac
done
dynsyms=$(readelf --dyn-syms --wide "$so")  # (a pipe into grep -q would fail on SIGPIPE under pipefail)
if ! grep -q ' PyInit__core$' <<<"$dynsyms"; then
    echo "the stripped extension lost its PyInit__core export" >&2
    exit 1
fi
if [ "$arch" = x86_64 ]; then
    # Built for the baseline, with the bank's AVX2 kernel inside, chosen at run time:
    # its 256-bit (ymm) instructions must be in the extension.
    disassembly=$(objdump -d --no-show-raw-insn "$so")
    ymm=$(grep -c 'ymm' <<<"$disassembly" || true)
    echo "AVX2 kernel: $ymm instructions on ymm registers"
    if [ "$ymm" -eq 0 ]; then
        echo "the extension has no AVX2 code: the bank's run-time choice of kernel is gone" >&2
        exit 1
    fi
fi

step "install in a clean environment without a compiler; tests from outside the source tree"
python3 -m venv "$work/test-env"
env="$work/test-env/bin"
# PATH: the environment's own scripts (python, pip, pytest, pyml), then every other program of this
# PATH (the tests start netdata, whose helpers use the usual tools) except compilers, linkers and
# assemblers: a directory of links to each program, the first of its name, compilers left out.
shim="$work/shim"
mkdir -p "$shim"
compilers='^(cc|c\+\+|c89|c99|cpp|gcc|g\+\+|clang|clang\+\+|clang-cpp|ld|ld\..*|as|gold|tcc|icc|icpx|f77|f95|gfortran|nvcc|zig|rustc|llc)([-.][0-9.]+)?$|-(gcc|g\+\+|cc|c\+\+|cpp|ld|ld\.bfd|ld\.gold|as|gfortran|clang|clang\+\+)([-.][0-9.]+)?$'
IFS=: read -r -a path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
    [ -d "$dir" ] || continue
    case "$dir" in "$work"/* | */.pyenv/shims) continue ;; esac  # no other Python environment either
    for prog in "$dir"/*; do
        prog_name=${prog##*/}
        [ -x "$prog" ] && [ ! -d "$prog" ] || continue
        [ -e "$shim/$prog_name" ] && continue
        if "$grep_bin" -qE "$compilers" <<<"$prog_name"; then continue; fi
        ln -s "$prog" "$shim/$prog_name"
    done
done
if [ "$arch" = x86_64 ] && [ ! -e "$shim/qemu-x86_64" ]; then
    echo "qemu-x86_64 is missing (ci/system_deps.sh installs qemu-user): the baseline kernel cannot be tested" >&2
    exit 1
fi
nocc="$env:$shim"
for compiler in cc c++ gcc g++ clang clang++ ld as x86_64-linux-gnu-gcc x86_64-linux-gnu-g++ gcc-12 g++-12; do
    if PATH="$nocc" command -v "$compiler" >/dev/null 2>&1; then
        echo "a compiler ($compiler) is on the test PATH" >&2
        exit 1
    fi
done
PATH="$nocc" CC=false CXX=false pip_quiet "$env/python" -m pip install -q --upgrade pip
PATH="$nocc" CC=false CXX=false pip_quiet "$env/pip" install -q --only-binary :all: "${wheel}[test]"
mkdir -p "$work/run"
cp -r "$repo/tests" "$repo/pyproject.toml" "$work/run/"
cd "$work/run"
PATH="$nocc" "$env/python" -c "import pyml, sys; assert 'site-packages' in pyml.__file__, pyml.__file__"
PATH="$nocc" "$env/pyml" --version
# test_dlib_parity builds a C++ program against Debian's dlib: it needs the
# compiler this environment must not have, and runs in ci/python_tests.sh.
PATH="$nocc" "$env/pytest" -q -p no:cacheprovider --ignore=tests/test_dlib_parity.py

step "type stubs: mypy --strict on a user program; stubtest of pyml._core"
"$tools/mypy" --strict --no-incremental --python-executable "$env/python" tests/typing/user_program.py
PATH="$nocc" pip_quiet "$env/pip" install -q --group typing
PATH="$nocc" "$env/python" -m mypy.stubtest pyml._core --allowlist "$repo/ci/stubtest-allowlist.txt"
echo "wheel check: ok ($name)"
