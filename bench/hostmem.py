#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""hostmem.py: host-side memory per running guest.

    hostmem.py N NAME -- CMD...      one CMD that starts N guests itself
    hostmem.py N NAME -n -- CMD...   N copies of CMD, started at once

Every guest runs `sleep`. Once N sleeps are running below the started
processes, the proportional set size (PSS, /proc/PID/smaps_rollup) of every
process in those trees that is not a sleep -- the sandbox's own processes:
supervisors, inits, helpers -- is summed and divided by N, and so is their
peak resident size (VmHWM, which counts shared library pages in every
process). Prints a Markdown row: NAME, processes per guest, peak RSS KiB
per guest, PSS KiB per guest.
"""
import os
import subprocess
import sys
import time


def children_map():
    kids = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()
        kids.setdefault(int(rest[1]), []).append(int(pid))
    return kids


def tree(roots):
    kids = children_map()
    seen, todo = [], list(roots)
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(kids.get(p, []))
    return seen


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def kib(pid, file, key):
    try:
        with open(f"/proc/{pid}/{file}") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    args = sys.argv[1:]
    n, name = int(args[0]), args[1]
    copies = "-n" in args[2:args.index("--")]
    cmd = args[args.index("--") + 1:]
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(n if copies else 1)]
    roots = [p.pid for p in procs]
    deadline = time.time() + 30
    while time.time() < deadline:
        pids = tree(roots)
        sleeps = [p for p in pids if comm(p) == "sleep"]
        if len(sleeps) >= n:
            break
        time.sleep(0.05)
    else:
        sys.exit(f"hostmem: only {len(sleeps)} of {n} guests started")
    time.sleep(0.3)  # let set-up finish everywhere
    pids = [p for p in tree(roots) if comm(p) != "sleep"]
    pss = sum(kib(p, "smaps_rollup", "Pss:") for p in pids)
    hwm = sum(kib(p, "status", "VmHWM:") for p in pids)
    for p in procs:
        p.wait()
    print(f"| {name} | {len(pids) / n:.2f} | {hwm / n:.0f} | {pss / n:.0f} |")


main()
