#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Each limit ends the guest with the outcome 'limit', naming the limit, its
# value, what was observed and what enforced it on this host; the guest and
# everything it started are gone afterwards.

load helpers

# The mechanisms a limit may report, by limit.
MECHS='("cgroup v1", "cgroup v2", "rlimit")'

@test "--timeout ends a guest that runs too long (124)" {
    local d
    d="$(scratch)"
    SECONDS=0
    run --separate-stderr timeout 60 "$SBVM" run --timeout 1 --json "$d/r.json" -- sh -c 'cp /bin/sleep /tmp/sbvm-marker; /tmp/sbvm-marker 30'
    [ "$status" -eq 124 ]
    [ "$SECONDS" -lt 10 ]
    [[ "$stderr" == *"limit time: ran out of time (limit 1 s"* ]]
    jcheck "$d/r.json" 'g["outcome"]=="limit" and g["limit"]["name"]=="time" and g["limit"]["value"]==1000 and g["limit"]["observed"]>=1000 and g["limit"]["mechanism"]=="supervisor" and g["exit_status"]==124'
    # What it held when it was stopped: the guest and its child.
    jcheck "$d/r.json" 'any("sbvm-marker" in p["argv"] for p in g["ledger"]["processes"])'
    assert_nothing_left
}

@test "--timeout accepts fractions and refuses nonsense" {
    run timeout 30 "$SBVM" run -q --timeout 0.3 -- sleep 5
    [ "$status" -eq 124 ]
    run --separate-stderr "$SBVM" run --timeout soon -- true
    assert_bad_input 125 "--timeout"
    run --separate-stderr "$SBVM" run --timeout -1 -- true
    assert_bad_input 125 "--timeout"
}

@test "--cpu ends a guest that spins (124), counting CPU not wall time" {
    local d
    d="$(scratch)"
    run --separate-stderr timeout 60 "$SBVM" run --cpu 1 --json "$d/r.json" -- sh -c 'while :; do :; done'
    [ "$status" -eq 124 ]
    [[ "$stderr" == *"limit cpu: used up its CPU time (limit 1 s"* ]]
    jcheck "$d/r.json" 'g["limit"]["name"]=="cpu" and g["limit"]["mechanism"] in '"$MECHS"
    # Sleeping uses no CPU: the same limit does not stop it.
    run timeout 60 "$SBVM" run -q --cpu 1 -- sleep 1.5
    [ "$status" -eq 0 ]
    assert_nothing_left
}

@test "--cpu counts every process of the guest together" {
    # Five children of 0.6 s each: none reaches 1 s alone, together they do.
    run --separate-stderr timeout 60 "$SBVM" run --cpu 1 -- sh -c 'for i in 1 2 3 4 5; do timeout 0.6 sh -c "while :; do :; done"; done; echo survived'
    [ "$status" -eq 124 ]
    [[ "$output" != *"survived"* ]]
    [[ "$stderr" == *"limit cpu"* ]]
    assert_nothing_left
}

@test "--memory: an allocation past the limit ends the guest as a memory limit, not a bare SIGKILL" {
    local d
    d="$(scratch)"
    run --separate-stderr timeout 60 "$SBVM" run --memory 64M --json "$d/r.json" -- python3 -c 'x = bytearray(512 << 20); print("allocated")'
    [ "$status" -eq 137 ]
    [[ "$stderr" == *"limit memory:"* ]]
    [[ "$stderr" == *"limit 64.0 MiB"* ]]
    [[ "$output" != *"allocated"* ]]
    jcheck "$d/r.json" 'g["outcome"]=="limit" and g["limit"]["name"]=="memory" and g["limit"]["value"]==64<<20 and g["limit"]["mechanism"] in '"$MECHS"
    # Within the limit, the same program runs.
    run timeout 60 "$SBVM" run -q --memory 256M -- python3 -c 'x = bytearray(32 << 20); print("allocated")'
    [ "$status" -eq 0 ]
    assert_nothing_left
}

@test "--pids contains a fork bomb within seconds" {
    local d
    d="$(scratch)"
    SECONDS=0
    run --separate-stderr timeout 120 "$SBVM" run --pids 32 --json "$d/r.json" -- sh -c 'f() { f | f; }; f'
    [ "$status" -eq 137 ]
    [ "$SECONDS" -lt 30 ]
    [[ "$stderr" == *"limit pids: reached its process limit"* ]]
    jcheck "$d/r.json" 'g["limit"]["name"]=="pids" and g["limit"]["value"]==32 and 0 < g["limit"]["observed"] <= 32 and g["limit"]["mechanism"] in '"$MECHS"
    # The host is still responsive and the bomb is gone.
    run timeout 10 "$SBVM" run -q -- /bin/true
    [ "$status" -eq 0 ]
    assert_nothing_left
}

@test "--files: opening one file too many ends the guest, naming the call" {
    local d
    d="$(scratch)"
    run --separate-stderr timeout 60 "$SBVM" run --files 20 --json "$d/r.json" -- python3 -c '
import os
fds = [os.open("/dev/null", os.O_RDONLY) for i in range(100)]
print("opened", len(fds))'
    [ "$status" -eq 137 ]
    [[ "$stderr" == *"limit files: reached its open-file limit"* ]]
    [[ "$stderr" == *"failed with EMFILE"* ]]
    [[ "$output" != *"opened"* ]]
    jcheck "$d/r.json" 'g["limit"]["name"]=="files" and g["limit"]["value"]==20 and g["limit"]["observed"]==20 and g["limit"]["mechanism"]=="rlimit"'
    # Under the limit, nothing happens.
    run timeout 60 "$SBVM" run -q --files 64 -- python3 -c 'import os; [os.open("/dev/null", 0) for i in range(20)]'
    [ "$status" -eq 0 ]
    assert_nothing_left
}

@test "--output-limit passes on exactly the limit and ends the guest" {
    local d
    d="$(scratch)"
    run --separate-stderr timeout 60 "$SBVM" run --no-tag --output-limit 10K --json "$d/r.json" -- yes hello
    [ "$status" -eq 137 ]
    [ "${#output}" -le 10240 ]
    [ "${#output}" -ge 10200 ]
    [[ "$stderr" == *"limit output: wrote more output than allowed (limit 10240 bytes"* ]]
    jcheck "$d/r.json" 'g["limit"]["name"]=="output" and g["limit"]["observed"]>10240 and g["limit"]["mechanism"]=="supervisor"'
    assert_nothing_left
}

@test "--disk: filling the scratch ends the guest as a disk limit" {
    local d
    d="$(scratch)"
    run --separate-stderr timeout 60 "$SBVM" run --disk 1M --json "$d/r.json" -- sh -c 'dd if=/dev/zero of=/tmp/big bs=64k count=100 2>/dev/null; echo wrote'
    [ "$status" -eq 137 ]
    [[ "$stderr" == *"limit disk: filled its scratch space (limit 1.0 MiB"* ]]
    jcheck "$d/r.json" 'g["limit"]["name"]=="disk" and g["limit"]["mechanism"]=="tmpfs" and g["limit"]["observed"]>=1000000'
    # Within the limit, writing works.
    run timeout 60 "$SBVM" run -q --disk 4M -- sh -c 'dd if=/dev/zero of=/tmp/big bs=64k count=16 2>/dev/null'
    [ "$status" -eq 0 ]
    assert_nothing_left
}

@test "the report names the mechanism of every limit in force" {
    local d
    d="$(scratch)"
    run timeout 60 "$SBVM" run -q --timeout 10 --memory 128M --pids 64 --cpu 10 --files 100 --output-limit 1M --json "$d/r.json" -- /bin/true
    [ "$status" -eq 0 ]
    jcheck "$d/r.json" 'g["limit"] is None and g["outcome"]=="exited"'
    jcheck "$d/r.json" 'set(g["limits"]) == {"time","cpu","memory","pids","files","output","disk"}'
    jcheck "$d/r.json" 'g["limits"]["time"]=="supervisor" and g["limits"]["output"]=="supervisor" and g["limits"]["disk"]=="tmpfs" and g["limits"]["files"]=="rlimit"'
    jcheck "$d/r.json" 'all(g["limits"][k] in '"$MECHS"' for k in ("memory","pids","cpu"))'
    # Defaults: pids, files and disk only.
    run timeout 60 "$SBVM" run -q --json "$d/r2.json" -- /bin/true
    jcheck "$d/r2.json" 'set(g["limits"]) == {"pids","files","disk"}'
    assert_nothing_left
}

@test "bad limit values are refused (125)" {
    run --separate-stderr "$SBVM" run --memory lots -- true
    assert_bad_input 125 "--memory"
    run --separate-stderr "$SBVM" run --memory 12Q -- true
    assert_bad_input 125 "--memory"
    run --separate-stderr "$SBVM" run --pids 0x10 -- true
    assert_bad_input 125 "--pids"
    run --separate-stderr "$SBVM" run --files 99999999999999999999 -- true
    assert_bad_input 125 "--files"
    run --separate-stderr "$SBVM" run --disk -5M -- true
    assert_bad_input 125 "--disk"
}
