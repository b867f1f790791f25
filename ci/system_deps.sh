#!/usr/bin/env bash
# System packages CI needs: Debian's dlib and reference BLAS for the parity test; Debian's
# netdata (the reference agent the v1 API tests start on loopback and compare with); Debian's
# chromium (the headless browser the dashboard test renders the page in); qemu-user to run the
# bank's baseline kernel on a CPU without AVX2 (tests/test_bank_kernels.py); binutils (readelf,
# objdump) for the wheel check.
set -euo pipefail
need=()
dpkg -s libdlib-dev >/dev/null 2>&1 || need+=(libdlib-dev)
dpkg -s libblas3 >/dev/null 2>&1 || need+=(libblas3)
dpkg -s netdata >/dev/null 2>&1 || need+=(netdata)
dpkg -s chromium >/dev/null 2>&1 || need+=(chromium)
dpkg -s qemu-user >/dev/null 2>&1 || need+=(qemu-user)
dpkg -s binutils >/dev/null 2>&1 || need+=(binutils)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "system deps: ok"
