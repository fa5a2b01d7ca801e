#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# deps.sh: make sure the Debian packages sandboxvm needs are installed.
#
#   scripts/deps.sh build   what building needs
#   scripts/deps.sh test    building + running the test suite
#   scripts/deps.sh bench   building + the peers the benchmarks compare with
#   scripts/deps.sh fuzz    building + the fuzzers (clang and libFuzzer)
#   scripts/deps.sh slow    building + testing + the slow tier (debootstrap)
#
# Installs what is missing with apt-get (as root, or through sudo when it
# needs no password); otherwise says exactly what to install and fails.
set -euo pipefail

build_pkgs=(meson ninja-build pkg-config gcc libc6-dev libseccomp-dev libjansson-dev libdw-dev python3
    libmicrohttpd-dev libarchive-dev)
test_pkgs=(check bats busybox-static python3-jsonschema perl git time util-linux clang-format)
bench_pkgs=(bubblewrap firejail time)
# libFuzzer comes with Debian's clang (its runtime is libclang-rt-NN-dev).
fuzz_pkgs=(clang libclang-rt-14-dev)
slow_pkgs=(debootstrap)

want=("${build_pkgs[@]}")
case "${1:-build}" in
build) ;;
test) want+=("${test_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
fuzz) want+=("${test_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
bench) want+=("${bench_pkgs[@]}") ;;
slow) want+=("${test_pkgs[@]}" "${slow_pkgs[@]}") ;;
*)
    echo "usage: $0 build|test|bench|fuzz|slow" >&2
    exit 2
    ;;
esac

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
else
    echo "sandboxvm: this is not a Debian-based system; make sure these (Debian names) are installed:" >&2
    echo "  ${want[*]}" >&2
    exit 0
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "sandboxvm: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo)
else
    echo "sandboxvm: these Debian packages are missing: ${missing[*]}" >&2
    echo "sandboxvm: install them with:  sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    # Fresh machines often have no package lists yet.
    "${sudo[@]}" apt-get update -qq
    if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
        echo "sandboxvm: could not install: ${missing[*]}" >&2
        echo "sandboxvm: try:  sudo apt-get update && sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi
