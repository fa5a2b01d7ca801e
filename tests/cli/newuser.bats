#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# What a new user hits (issue 13): closed pipes and full disks, signals to
# the supervisor, low descriptor limits, programs that need what lives next
# to them, partial lines, and the smaller surprises. Each test names the
# behaviour it guards; each failed before its fix.

load helpers

DRIVE="$BATS_TEST_DIRNAME/pty-drive.py"

# Background runs a test started: ended whatever the test's fate, so that
# a failing test leaves nothing waiting on a FIFO.
BG_PIDS=()
teardown() {
    local p
    for p in "${BG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}

# --- item 1: our own output cannot be written -------------------------------

@test "closed stdout: a guest that ignores SIGPIPE gets EPIPE on its own write, and the run ends" {
    # python ignores SIGPIPE: before, it printed into a pipe nobody read,
    # forever.
    run --separate-stderr timeout 20 bash -c "'$SBVM' run --no-tag -- python3 -c '
import sys
try:
    while True: print(\"x\", flush=True)
except BrokenPipeError:
    sys.stderr.write(\"guest saw EPIPE\\n\")
    import os; os._exit(3)
' | head -1; echo \"rc=\${PIPESTATUS[0]}\""
    [ "$status" -eq 0 ]
    [ "$output" = $'x\nrc=3' ]
    [[ "$stderr" == *"guest saw EPIPE"* ]]
}

@test "closed stdout, tagged: the writer dies of SIGPIPE as in a pipeline; the run says nothing and exits 141" {
    run --separate-stderr timeout 20 bash -c "'$SBVM' run -- yes | head -2; echo \"rc=\${PIPESTATUS[0]}\""
    [ "$status" -eq 0 ]
    [ "$output" = $'[yes] y\n[yes] y\nrc=141' ]
    [ -z "$stderr" ]
}

@test "closed stderr: a guest writing only to stderr ends at once instead of spinning" {
    run timeout 20 bash -c "'$SBVM' run --no-tag -- sh -c 'yes >&2' 2>&1 >/dev/null | head -1; echo \"rc=\${PIPESTATUS[0]}\""
    [ "$status" -eq 0 ]
    [ "$output" = $'y\nrc=141' ]
}

@test "closed stdout: a guest that starts later finds its stdout closed from its first write" {
    run --separate-stderr timeout 20 bash -c "'$SBVM' run --quiet --no-tag -- yes ::: python3 -c '
import sys
try:
    print(\"late\", flush=True)
except BrokenPipeError:
    sys.stderr.write(\"late guest saw EPIPE\\n\")
' | head -1"
    [ "$status" -eq 0 ]
    [ "$output" = y ]
    [[ "$stderr" == *"late guest saw EPIPE"* ]]
}

@test "closed stdout with --one-sandbox: the job sees EPIPE too" {
    run timeout 20 bash -c "'$SBVM' run --one-sandbox --no-tag -- yes | head -1; echo \"rc=\${PIPESTATUS[0]}\""
    [ "$status" -eq 0 ]
    [ "$output" = $'y\nrc=141' ]
}

@test "stdout on a full disk: an endless writer ends, and the run says what was lost" {
    run --separate-stderr timeout 20 bash -c "'$SBVM' run -- yes >/dev/full"
    [ "$status" -ne 0 ] && [ "$status" -ne 124 ]
    [[ "$stderr" == *"writing the guests' output to standard output: No space left on device"* ]]
}

@test "stdout on a full disk: a guest that exited 0 does not make the run exit 0" {
    run --separate-stderr timeout 20 bash -c "'$SBVM' run -- sh -c 'echo 1' >/dev/full"
    [ "$status" -eq 125 ]
    [[ "$stderr" == *"No space left on device"* ]]
}

@test "the live-job API: closing a stream makes the job's write fail" {
    # sandboxvm shell relays a terminal: when our reader is gone the
    # terminal is hung up and the shell ends, rather than running on.
    run --separate-stderr timeout 20 bash -c "'$SBVM' shell -- sh -c 'while :; do echo x; done' | head -1; echo \"rc=\${PIPESTATUS[0]}\""
    [ "$status" -eq 0 ]
    [[ "$output" == x*rc=129 ]]
    [ -z "$stderr" ]
}

# --- item 13: partial lines --------------------------------------------------

@test "a prompt without a newline is shown after a quiet moment (tagged, to a file)" {
    local d pid
    d="$(scratch)"
    mkfifo "$d/in"
    exec 7<>"$d/in"
    "$SBVM" run --name q -- sh -c 'printf "Name: "; read n; echo "hi $n"; printf "a"; printf "b\n"' \
        <&7 >"$d/out" &
    pid=$!
    BG_PIDS+=("$pid")
    for _ in $(seq 100); do grep -q 'Name: ' "$d/out" 2>/dev/null && break; sleep 0.05; done
    [ "$(cat "$d/out")" = "[q] Name: " ]
    echo bob >&7
    wait "$pid"
    exec 7>&-
    # The rest of the prompt's line follows it untagged; the next line is
    # whole.
    [ "$(cat "$d/out")" = $'[q] Name: hi bob\n[q] ab' ]
}

@test "a partial line is ended before another guest's line" {
    local d
    d="$(scratch)"
    "$SBVM" run -j 2 --quiet --name a --name b -- sh -c 'printf "half"; sleep 0.6; echo " rest"' \
        ::: sh -c 'sleep 0.3; echo other' >"$d/out"
    [ "$(cat "$d/out")" = $'[a] half\n[b] other\n[a]  rest' ]
}

@test "a prompt on a terminal is shown before its newline, with --no-tag too" {
    command -v python3 >/dev/null || skip "python3 is needed to drive a terminal"
    run python3 "$DRIVE" 24 80 -- "$SBVM" run --no-tag -- sh -c 'printf "Name: "; read n; echo "hi $n"' <<'STEPS'
expect Name: $
send bob\n
expect hi bob
STEPS
    [ "$status" -eq 0 ]
    run env NO_COLOR=1 python3 "$DRIVE" 24 80 -- "$SBVM" run --name p -- sh -c 'printf "Name: "; read n; echo "hi $n"' <<'STEPS'
expect \[p\] Name: $
send bob\n
expect hi bob
STEPS
    [ "$status" -eq 0 ]
}
