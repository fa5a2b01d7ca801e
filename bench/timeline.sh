#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/timeline.sh [RUNS]: where the start-up time of `sandboxvm run -- /bin/true`
# goes. Records a few kernel tracepoints (and a probe on main) with perf over
# RUNS runs (default 80) and prints the median time of each milestone from the
# exec of sandboxvm (bench/timeline.py). Needs root (tracepoints) and perf.
# Tracing costs about a microsecond per event: the milestones are few, but
# the total is a little longer than an untraced run.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-80}"
case "$runs" in '' | *[!0-9]*) echo "bench/timeline.sh: RUNS must be a number, not '$runs'" >&2; exit 2 ;; esac
command -v perf >/dev/null || { echo "bench/timeline.sh: needs perf (apt-get install linux-perf)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench/timeline.sh: needs root to record kernel tracepoints" >&2; exit 2; }
scripts/build.sh build >/dev/null
SBVM="$PWD/build/sandboxvm"
tmp="$(mktemp -d)"
probe=""
cleanup() {
    if [ -n "$probe" ]; then perf probe -q -d "$probe" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
events="sched:sched_process_exec,sched:sched_process_fork,sched:sched_process_exit"
for s in enter_clone3 exit_clone3 enter_mount enter_pivot_root exit_umount enter_setns \
    enter_execveat enter_unshare exit_unshare enter_execve exit_waitid; do
    events="$events,syscalls:sys_$s"
done
if perf probe -q -x "$SBVM" -a main 2>/dev/null; then
    probe="probe_sandboxvm:main"
    events="$events,$probe"
fi
perf record -q -o "$tmp/perf.data" -e "$events" -- \
    sh -c "i=0; while [ \$i -lt $runs ]; do '$SBVM' run -q -- /bin/true; i=\$((i + 1)); done" >/dev/null
perf script -i "$tmp/perf.data" -F comm,pid,cpu,time,event,trace 2>/dev/null | python3 bench/timeline.py
