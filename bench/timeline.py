#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench/timeline.py: reads `perf script` output of bench/timeline.sh on stdin
# and prints, as a Markdown table, the median time of each milestone of a
# sandboxvm start-up, from the supervisor's exec, over every recorded run.
# Processes are told apart by their place in the family: the supervisor (the
# exec of sandboxvm), pid 1 (its child), the guest process (pid 1's child).
import re
import statistics
import sys
from collections import defaultdict

LINE = re.compile(r"\s*(\S.*?)\s+(\d+)\s+\[\d+\]\s+([\d.]+):\s+(\S+):\s*(.*)")

# (role, event) -> the milestone's name; only a run's first occurrence counts.
NAMES = {
    ("supervisor", "probe_sandboxvm:main"): "supervisor: main() entered (dynamic loading done)",
    ("supervisor", "syscalls:sys_enter_clone3"): "supervisor: clone3 called (plan ready)",
    ("supervisor", "syscalls:sys_exit_clone3"): "supervisor: clone3 returned",
    ("pid1", "sched:sched_process_fork"): "pid 1: guest process forked",
    ("pid1", "syscalls:sys_enter_mount"): "pid 1: view: first mount",
    ("pid1", "syscalls:sys_enter_pivot_root"): "pid 1: view built, pivot_root",
    ("pid1", "syscalls:sys_exit_umount"): "pid 1: old root detached (after an RCU grace period)",
    ("pid1", "syscalls:sys_enter_setns"): "pid 1: joins the network namespace",
    ("pid1", "syscalls:sys_enter_execveat"): "pid 1: execs the init",
    ("guest", "syscalls:sys_enter_unshare"): "guest process: creates the network namespace",
    ("guest", "syscalls:sys_exit_unshare"): "guest process: network namespace created",
    ("guest", "syscalls:sys_enter_execve"): "guest process: execve of the guest",
    ("guest", "sched:sched_process_exec"): "guest: running (exec done)",
    ("guest", "sched:sched_process_exit"): "guest: exited",
    ("supervisor", "syscalls:sys_exit_waitid"): "supervisor: has pid 1's exit status",
    ("supervisor", "sched:sched_process_exit"): "supervisor: exits",
}


def main():
    marks = defaultdict(list)
    runs = 0
    role = {}
    t0 = None
    seen = set()
    for line in sys.stdin:
        m = LINE.match(line)
        if not m:
            continue
        _comm, pid, ts, event, detail = m.groups()
        ts = float(ts) * 1e6
        if event == "sched:sched_process_exec" and "sandboxvm" in detail.split()[0]:
            runs += 1
            role = {pid: "supervisor"}
            t0 = ts
            seen = set()
            continue
        if t0 is None or pid not in role:
            continue
        r = role[pid]
        if event == "sched:sched_process_fork":
            child = re.search(r"child_pid=(\d+)", detail).group(1)
            if r == "supervisor":
                role[child] = "pid1"
                continue
            if r == "pid1":  # pid 1 forks only the guest process
                role[child] = "guest"
        key = (r, event)
        if key not in NAMES or key in seen:
            continue
        seen.add(key)
        marks[NAMES[key]].append(ts - t0)
    if not runs:
        sys.exit("timeline.py: no sandboxvm run in the recording")
    rows = [(statistics.median(v), k) for k, v in marks.items() if len(v) >= runs * 0.8]
    print("| milestone | median µs from exec |")
    print("|---|---:|")
    for med, name in sorted(rows):
        print(f"| {name} | {med:.0f} |")
    print()
    print(f"{runs} runs.")


if __name__ == "__main__":
    main()
