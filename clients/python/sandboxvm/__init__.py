# SPDX-License-Identifier: MIT
"""sandboxvm: a client of the session API of `sandboxvm serve` (docs/API.md).

Standard library only. One Client talks to one server over its unix socket
(or over TCP with a token); sandboxes, jobs and snapshots are thin handles
on the server's objects.

    import sandboxvm
    client = sandboxvm.Client()                      # $SANDBOXVM_SOCKET, or the default
    with client.create() as sb:                      # destroyed at the end of the block
        r = sb.run(["python3", "-c", "print(6 * 7)"])
        print(r.stdout, r.exit_status)               # b'42\\n' 0
        for ev in sb.stream("for i in 1 2 3; do echo $i; sleep 0.1; done"):
            print(ev.type, ev.data)                  # stdout b'1\\n' ... end None
"""

from ._client import (  # noqa: F401
    Client,
    Event,
    ExecResult,
    Job,
    Sandbox,
    SandboxvmError,
    default_socket,
)

__all__ = [
    "Client",
    "Event",
    "ExecResult",
    "Job",
    "Sandbox",
    "SandboxvmError",
    "default_socket",
]
__version__ = "0.1.0"
