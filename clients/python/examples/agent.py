#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An agent-style loop against `sandboxvm serve`: a sandbox whose network is
an allowlist with a secret injected for one host, a task written into it, a
program run with its output streamed, the result file read back, a snapshot
of the sandbox's files, and the end.

    sandboxvm serve &                 # or: SANDBOXVM_SOCKET=/path/to.sock
    python3 clients/python/examples/agent.py
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sandboxvm  # noqa: E402

PROGRAM = r"""
import json, os, time
words = open("/tmp/task/input.txt").read().split()
for i, w in enumerate(words, 1):
    print(f"step {i}/{len(words)}: {w}", flush=True)
    time.sleep(0.05)
# The secret's value never enters the sandbox: only a placeholder, which the
# host's proxy replaces in requests bound for its host (and only there).
print("API_TOKEN in here is", os.environ.get("API_TOKEN", "")[:12] + "...", flush=True)
json.dump({"words": len(words), "longest": max(words, key=len)}, open("/tmp/task/result.json", "w"))
"""


def main():
    client = sandboxvm.Client()
    settings = {
        "network": {
            "mode": "allow",
            "allow": ["api.example.com"],
            "secrets": [
                {"name": "API_TOKEN", "value": os.environ.get("API_TOKEN", "demo-token"),
                 "host": "api.example.com"}
            ],
        },
        "limits": {"time": 60, "memory": "512M"},
    }
    snapshot = "agent-demo-%d" % os.getpid()
    with client.create(settings=settings, idle_timeout=300) as sb:
        print("sandbox", sb.id)
        sb.run(["mkdir", "-p", "/tmp/task"])
        sb.write_file("/tmp/task/input.txt", "the quick brown fox jumps over the lazy dog\n")
        sb.write_file("/tmp/task/main.py", PROGRAM)
        end = None
        for ev in sb.stream(["python3", "/tmp/task/main.py"], cwd="/tmp/task", timeout=30):
            if ev.type in ("stdout", "stderr"):
                sys.stdout.write("  | " + ev.data.decode("utf-8", "replace"))
            elif ev.type == "end":
                end = ev.result
        print("job:", end["message"])
        result = json.loads(sb.read_file("/tmp/task/result.json"))
        print("result:", result)
        print("snapshot:", sb.snapshot(snapshot)["name"])
    # The snapshot outlives the sandbox: a restore starts from its files.
    with client.restore(snapshot, secrets=settings["network"]["secrets"]) as again:
        print("restored:", again.read_file("/tmp/task/result.json").decode())
    client.delete_snapshot(snapshot)
    return 0 if end and end["outcome"] == "exited" and end["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
