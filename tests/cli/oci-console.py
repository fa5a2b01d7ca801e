#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""oci-console.py: the engine's side of --console-socket in the OCI
runtime's tests. Listens on SOCKET, runs a shell script (the runtime's
create and start, given the socket), takes the terminal's master the
runtime sends, types INPUT into it and prints everything the terminal
shows until it closes.

Usage: oci-console.py SOCKET INPUT SCRIPT
"""
import array
import os
import socket
import subprocess
import sys
import time


def main():
    path, text, script = sys.argv[1], sys.argv[2], sys.argv[3]
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    child = subprocess.Popen(["sh", "-c", script])
    srv.settimeout(30)
    conn, _ = srv.accept()
    fds = array.array("i")
    msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_LEN(fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    if len(fds) != 1:
        sys.exit("oci-console: no terminal came (%r)" % msg)
    master = fds[0]
    if child.wait() != 0:
        sys.exit("oci-console: the script failed")
    os.write(master, text.encode().decode("unicode_escape").encode("latin-1"))
    out = b""
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            b = os.read(master, 65536)
        except OSError:
            break
        if not b:
            break
        out += b
    sys.stdout.write(out.decode("utf-8", "replace"))
    os.unlink(path)


main()
