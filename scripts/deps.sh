#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# deps.sh: make sure the Debian packages sandboxvm needs are installed.
#
#   scripts/deps.sh build   building sandboxvm and the demo's guests, and
#                           running the demo (scripts/demo.sh)
#   scripts/deps.sh test    building + the test suite (which fuzzes too)
#   scripts/deps.sh fuzz    building (tests/ included) + the fuzzers (clang
#                           and libFuzzer)
#   scripts/deps.sh bench   building (tests' guests included) + the peers and
#                           clients the benchmarks run
#   scripts/deps.sh slow    building + testing + the slow tier (debootstrap)
#   scripts/deps.sh fresh   what the fresh-machine rehearsal needs on the host
#                           (scripts/fresh-check.sh: it builds nothing here)
#   scripts/deps.sh oci     building + testing + the engines the OCI runtime's
#                           tests drive
#
# Each list names everything a minimal Debian 12 (debootstrap's minbase) lacks:
# scripts/fresh-check.sh proves it on such a tree. Installs what is missing with
# apt-get (as root, or through sudo when it needs no password); otherwise says
# exactly what to install and fails.
set -euo pipefail

# The compiler, meson, the libraries; python3 generates a source file at build
# time and reads the demo's JSON report; procps (pgrep) is the demo's check
# that nothing a guest left is still alive.
build_pkgs=(meson ninja-build pkg-config gcc libc6-dev libseccomp-dev libjansson-dev libdw-dev
    python3 procps)
# OpenSSL: the network broker's TLS interception; the trust store the view
# gives guests for HTTPS.
build_pkgs+=(libssl-dev ca-certificates)
# sandboxvm serve: its HTTP server and its tar streams.
build_pkgs+=(libmicrohttpd-dev libarchive-dev)
# Check builds the unit tests (meson configures them with tests/, guests
# included); the rest are programs the CLI tests run inside guests (curl,
# wget, git, perl, python3, busybox), or run around them (file, GNU time,
# setpriv and script from util-linux/bsdutils, pgrep); netbase gives
# /etc/services, a file the --hide test hides.
check_pkgs=(check)
# Library calls: the real libraries the unit tests call sandboxed and directly
# (and callsbench, in bench/).
check_pkgs+=(zlib1g-dev libbz2-dev libxml2-dev)
test_pkgs=("${check_pkgs[@]}" bats busybox-static python3-jsonschema perl git time util-linux
    procps file curl wget netbase clang-format)
test_pkgs+=(python3-venv) # tests/cli/newuser.bats: a virtual environment made by the test
# https.bats: the openssl command makes its certificates; python3-requests is
# one of the clients it intercepts.
test_pkgs+=(openssl python3-requests)
# The device models checked by Linux's own drivers (tests/cli/devices.bats):
# UML, and e2fsprogs for mkfs/e2fsck/debugfs on the host.
test_pkgs+=(user-mode-linux e2fsprogs)
# node: a client that https.bats intercepts, and the session API's Node
# client's own tests (scripts/test.sh); ip: oci.bats's network namespaces.
test_pkgs+=(nodejs iproute2)
# bench/run.sh uses the tests' crasher guest, so it builds with tests/ too.
bench_pkgs=("${check_pkgs[@]}" bubblewrap firejail time curl)
# libFuzzer comes with Debian's clang (its runtime is libclang-rt-NN-dev);
# scripts/fuzz.sh configures build-fuzz/ with tests/, so Check comes too.
fuzz_pkgs=(clang libclang-rt-14-dev)
slow_pkgs=(debootstrap)
fresh_pkgs=(debootstrap git util-linux)
# The engines tests/cli/oci.bats and bench/oci.sh drive (podman as root and
# rootless, containerd's ctr), and runc and crun to compare with.
oci_pkgs=(podman conmon containerd runc crun uidmap slirp4netns)

case "${1:-build}" in
build) want=("${build_pkgs[@]}") ;;
test) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${fuzz_pkgs[@]}" "${oci_pkgs[@]}") ;;
fuzz) want=("${build_pkgs[@]}" "${check_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
bench) want=("${build_pkgs[@]}" "${bench_pkgs[@]}" "${oci_pkgs[@]}") ;;
slow) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${slow_pkgs[@]}") ;;
fresh) want=("${fresh_pkgs[@]}") ;;
oci) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${oci_pkgs[@]}") ;;
*)
    echo "usage: $0 build|test|fuzz|bench|slow|fresh|oci" >&2
    exit 2
    ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "sandboxvm: this is not a Debian-based system; make sure these (Debian names) are installed:" >&2
    echo "  ${want[*]}" >&2
    exit 0
fi
missing=()
for p in "${want[@]}"; do
    [[ " ${missing[*]} " == *" $p "* ]] && continue
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo)
else
    echo "sandboxvm: these Debian packages are missing: ${missing[*]}" >&2
    echo "sandboxvm: install them as root (or with sudo), then run this again:" >&2
    echo "  apt-get update && apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
echo "sandboxvm: installing missing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_install() { "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; }
if apt_install >/dev/null 2>&1; then
    exit 0
fi
# A fresh machine often has no package lists yet, or stale ones.
echo "sandboxvm: updating the package lists (apt-get update)"
update_ok=1
"${sudo[@]}" apt-get update -qq || update_ok=0
if apt_install; then
    exit 0
fi
# Say why: packages apt does not know of, or lists it could not fetch.
unknown=()
for p in "${missing[@]}"; do
    cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
    [ -n "$cand" ] && [ "$cand" != "(none)" ] || unknown+=("$p")
done
echo "sandboxvm: could not install: ${missing[*]}" >&2
if [ $update_ok -eq 0 ]; then
    echo "sandboxvm: apt-get update failed: check the network and the sources in /etc/apt/" >&2
fi
if [ ${#unknown[@]} -gt 0 ]; then
    echo "sandboxvm: not available from this machine's apt sources: ${unknown[*]}" >&2
    echo "sandboxvm: (these are Debian 12 'bookworm' names, from its main component)" >&2
fi
echo "sandboxvm: fix the cause above, then:  apt-get update && apt-get install --no-install-recommends ${missing[*]}" >&2
exit 1
