#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo.sh: install what is missing, build, and show sandboxvm at work on the
# bundled guests (examples/): a hello, a crash, a guest that leaves a child
# process and an open file behind, and one that tries to reach the network.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
# The demo needs sandboxvm and its guests, not the test suite (which needs
# Check) nor the benchmark helpers: a build/ it sets up leaves them out, and
# scripts/test.sh turns them on when it runs. A build/ that exists already is
# built as it is configured.
if [ -f build/build.ninja ]; then
    scripts/build.sh build
else
    scripts/build.sh build -Dtests=false -Dbench=false
fi

SBVM=build/sandboxvm
EX=build/examples
OUT=build/demo
rm -rf "$OUT"
mkdir -p "$OUT"

bold() { if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
show() {
    echo
    bold "\$ sandboxvm $*"
    local rc=0
    "$SBVM" "$@" || rc=$?
    echo "(exit status $rc)"
}

bold "sandboxvm $("$SBVM" --version | cut -d' ' -f2-) on $(uname -sr), as $(id -un)"

bold "1. A well-behaved guest. It runs as an unprivileged user in namespaces of its own,"
bold "   sees /usr read-only, a fresh /tmp, and none of the host's home directories."
show run -- "$EX/hello"

bold "2. A guest that crashes: the crash ends the guest, not the host, and is explained:"
bold "   the fault, the registers, the instruction, the mappings, a symbolised backtrace."
show run -- "$EX/crash"

bold "3. A guest that leaves a child process (sleeping for an hour) and an open file."
bold "   sandboxvm returns as soon as the guest exits; nothing it left survives it:"
start=$(date +%s%N)
show run -- "$EX/leaky"
echo "returned after $(( ($(date +%s%N) - start) / 1000000 )) ms; host processes of the guest still alive: $(pgrep -fc '^'"$EX"'/leaky' || true)"

bold "4. A guest that tries to reach the network: it has loopback only."
show run -- "$EX/netprobe"

bold "5. A fork bomb under a limit of 64 processes: contained, and named as the limit."
echo
bold "\$ sandboxvm run --pids 64 -- sh -c 'bomb() { bomb | bomb; }; bomb'"
rc=0
"$SBVM" run --pids 64 --timeout 60 -- sh -c 'bomb() { bomb | bomb; }; bomb' >"$OUT/bomb.txt" 2>&1 || rc=$?
echo "($(grep -c '^\[sh\]' "$OUT/bomb.txt") lines of the shells' \"Cannot fork\" not shown)"
grep -v '^\[sh\]' "$OUT/bomb.txt" | head -6
echo "(exit status $rc)"

bold "6. All four together, two at a time, with JSON and JUnit reports for CI:"
show run -j 2 --json "$OUT/report.json" --junit "$OUT/junit.xml" --output-dir "$OUT/output" \
    -- "$EX/hello" ::: "$EX/crash" ::: "$EX/leaky" ::: "$EX/netprobe"
echo
bold "Reports: $OUT/report.json, $OUT/junit.xml; raw output per guest in $OUT/output/"
python3 - "$OUT/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for g in r["guests"]:
    print(f'  {g["name"]:9} {g["outcome"]:8} exit status {g["exit_status"]:3}  {g["message"]}')
PY

bold "7. Jobs in one live sandbox (--one-sandbox): the first job writes a file, the second"
bold "   reads it; the third crashes and ends alone; the fourth still finds the file."
show run --one-sandbox --no-symbolize -- sh -c 'echo "written by job 1" >/tmp/note' \
    ::: cat /tmp/note ::: "$EX/crash" ::: sh -c 'echo "job 4 sees: $(cat /tmp/note)"'
