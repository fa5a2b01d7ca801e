#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pty-drive.py: runs a command on a new pseudo-terminal and drives it like a
person at a keyboard, for the tests of `sandboxvm shell`.

Usage: pty-drive.py ROWS COLS -- COMMAND [ARGS...]; the steps come on stdin,
one per line:
  send TEXT      type TEXT (Python escapes: \\n, \\x03 for Ctrl-C ...)
  expect REGEX   wait (up to 10 s) until the output since the last expect
                 matches REGEX, else fail
  resize R C     change the window size, as a terminal emulator does
  raw            fail unless the terminal is in raw mode now (no ICANON, ECHO)
At the end it waits for the command, checks that the terminal is back in the
mode it started in, and prints "exit N" (or "signal N"). The whole output is
written to the file named by $PTY_LOG when set.
"""
import fcntl
import os
import re
import select
import signal
import struct
import sys
import termios
import time


def fail(msg, out=b""):
    sys.stderr.write("pty-drive: %s\n" % msg)
    if out:
        sys.stderr.write("output so far: %r\n" % out[-2000:])
    sys.exit(2)


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        fail("usage: pty-drive.py ROWS COLS -- COMMAND [ARGS...]")
    rows, cols = int(sys.argv[1]), int(sys.argv[2])
    steps = sys.stdin.read().splitlines()
    master, slave = os.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    start_mode = termios.tcgetattr(slave)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.close(master)
        os.close(slave)
        os.execvp(sys.argv[4], sys.argv[4:])
    everything = b""
    pending = b""

    def pump(timeout):
        nonlocal everything, pending
        r, _, _ = select.select([master], [], [], timeout)
        if not r:
            return True
        try:
            b = os.read(master, 65536)
        except OSError:
            b = b""
        if not b:
            return False
        everything += b
        pending += b
        return True

    for step in steps:
        if not step.strip():
            continue
        verb, _, arg = step.partition(" ")
        if verb == "send":
            os.write(master, arg.encode().decode("unicode_escape").encode("latin-1"))
        elif verb == "expect":
            deadline = time.time() + 10
            while not re.search(arg.encode(), pending):
                if time.time() > deadline or not pump(0.1) and not re.search(arg.encode(), pending):
                    fail("expected %r" % arg, everything)
            pending = b""
        elif verb == "resize":
            r, c = (int(x) for x in arg.split())
            # The kernel sends SIGWINCH to the terminal's foreground group.
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", r, c, 0, 0))
        elif verb == "raw":
            lflag = termios.tcgetattr(slave)[3]
            if lflag & (termios.ICANON | termios.ECHO):
                fail("the terminal is not in raw mode (lflag %#x)" % lflag, everything)
        else:
            fail("unknown step %r" % step)
    deadline = time.time() + 20
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.time() > deadline:
            os.kill(pid, signal.SIGKILL)
            fail("the command did not end", everything)
        pump(0.05)
    while pump(0.05) and select.select([master], [], [], 0)[0]:
        pass
    if os.environ.get("PTY_LOG"):
        with open(os.environ["PTY_LOG"], "wb") as f:
            f.write(everything)
    if termios.tcgetattr(slave) != start_mode:
        fail("the terminal was not restored", everything)
    if os.WIFEXITED(status):
        print("exit %d" % os.WEXITSTATUS(status))
    else:
        print("signal %d" % os.WTERMSIG(status))


main()
