#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""oci-reaper.py: stands in for conmon or containerd's shim in the OCI
runtime's tests: a child subreaper that runs a shell script (which creates,
and maybe starts, a container), then waits for the process the runtime
wrote to PIDFILE - the container as engines see it, reparented to us when
the runtime's create exited - and prints how it ended: "exit N" or
"signal N". Fails (status 2) when it does not end within TIMEOUT seconds,
after killing it.

Usage: oci-reaper.py PIDFILE TIMEOUT SCRIPT
"""
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def main():
    pidfile, timeout, script = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("oci-reaper: prctl: %s" % os.strerror(ctypes.get_errno()))
    r = subprocess.run(["sh", "-c", script])
    if r.returncode != 0:
        print("script %d" % r.returncode)
        sys.exit(1)
    pid = int(open(pidfile).read().strip())
    deadline = time.time() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.time() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            print("timeout")
            sys.exit(2)
        time.sleep(0.02)
    # Whatever else was reparented to us (nothing should be) is reaped.
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    if os.WIFEXITED(status):
        print("exit %d" % os.WEXITSTATUS(status))
    else:
        print("signal %d" % os.WTERMSIG(status))


main()
