#!/usr/bin/env bash
# Build and run the C++ unit tests of csrc/ alone (no Python) under
# AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/pyml-cpp-tests-$$"
mkdir -p "$out"
trap 'rm -rf "$out"' EXIT
${CXX:-g++} -std=c++17 -O1 -g -ffp-contract=off -fno-omit-frame-pointer \
    -fsanitize=address,undefined -fno-sanitize-recover=all -Wall -Wextra -Werror \
    -Icsrc csrc/pyml/*.cpp csrc/tests/*.cpp -o "$out/cpp_tests" -pthread
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 "$out/cpp_tests"
