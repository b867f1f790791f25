#!/usr/bin/env bash
# System packages CI needs: Debian's dlib and reference BLAS for the parity test, Debian's
# netdata (the reference agent the v1 API tests start on loopback and compare with), and Debian's
# chromium (the headless browser the dashboard test renders the page in).
set -euo pipefail
need=()
dpkg -s libdlib-dev >/dev/null 2>&1 || need+=(libdlib-dev)
dpkg -s libblas3 >/dev/null 2>&1 || need+=(libblas3)
dpkg -s netdata >/dev/null 2>&1 || need+=(netdata)
dpkg -s chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "system deps: ok"
