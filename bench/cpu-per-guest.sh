#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/cpu-per-guest.sh [N] [ROUNDS]: wall time and CPU time (all CPUs, from
# /proc/stat, everything the machine did) per guest for N guests of /bin/true
# (default 300) at -j 1 and -j 2, ROUNDS times alternating (default 3). With C
# CPUs, -j 2 can give at most C x (wall per guest at -j 1) / (CPU per guest)
# times the throughput of -j 1, however well the guests overlap.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-300}" rounds="${2:-3}"
for v in "$n" "$rounds"; do
    case "$v" in '' | *[!0-9]* | 0) echo "bench/cpu-per-guest.sh: N and ROUNDS are positive numbers" >&2; exit 2 ;; esac
done
scripts/build.sh build >/dev/null
SBVM="$PWD/build/sandboxvm"
guests=(/bin/true)
for _ in $(seq 2 "$n"); do guests+=(::: /bin/true); done
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
hz=$(getconf CLK_TCK)
echo "| run | wall µs per guest | CPU µs per guest |"
echo "|---|---:|---:|"
for _ in $(seq "$rounds"); do
    for j in 1 2; do
        b0=$(busy) t0=$(date +%s%N)
        "$SBVM" run -q -j "$j" -- "${guests[@]}"
        t1=$(date +%s%N) b1=$(busy)
        echo "| -j $j | $(((t1 - t0) / n / 1000)) | $(((b1 - b0) * 1000000 / hz / n)) |"
    done
done
