#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The host channel: its examples between two ordinary processes (a guest
# with host calls and logs, a guest streaming through a ring that the host
# checksums, a guest run without any host), then guests in sandboxes with
# `run --channel` (tests/guests/chanprobe.c).

load helpers

@test "a guest built with the SDK says clearly that it has no channel" {
    run env -u SBVM_CHANNEL "$EXAMPLES/hostcall-guest"
    [ "$status" -eq 1 ]
    [[ "$output" == *"no host channel"*"SBVM_CHANNEL is unset"* ]]
    run env SBVM_CHANNEL=junk "$EXAMPLES/hostcall-guest"
    [ "$status" -eq 1 ]
    [[ "$output" == *"SBVM_CHANNEL does not name an open socket"* ]]
}

@test "channel-host serves a guest's host calls and logs" {
    run "$EXAMPLES/channel-host" "$EXAMPLES/hostcall-guest"
    [ "$status" -eq 0 ]
    [[ "$output" == *"sum(1..10) on the host: 55"* ]]
    [[ "$output" == *'upper("hello, host") on the host: "HELLO, HOST"'* ]]
    [[ "$output" == *"a function the host does not have: the host has no such function"* ]]
    [[ "$output" == *"[guest log 6] hello from the guest"* ]]
    [[ "$output" == *"[guest log 6] done: 3 calls"* ]]
}

@test "a guest streams through a ring and the host's checksum matches, served either way" {
    for how in "" --wait; do
        run "$EXAMPLES/channel-host" $how "$EXAMPLES/stream-guest" 67108864 4096
        [ "$status" -eq 0 ]
        [[ "$output" == *"received 67108864 bytes (guest says 67108864), checksum ok"* ]]
        [[ "$output" == *"host says checksum matches"* ]]
    done
}

@test "channel-host reports a guest that cannot be started" {
    run -127 "$EXAMPLES/channel-host" /nonexistent/guest
    [[ "$output" == *"/nonexistent/guest: No such file or directory"* ]]
}

@test "run --channel: the guest finds its channel (fd 3, SBVM_CHANNEL), greets, logs; without it, neither" {
    local probe="$GUESTS/chanprobe"
    run --separate-stderr "$SBVM" run --channel -- "$probe"
    [ "$status" -eq 0 ] || { echo "$status $output $stderr"; return 1; }
    [[ "$output" == *"[chanprobe] hello: ok"* ]]
    # Nobody registered the call: the guest is told, the host goes on.
    [[ "$output" == *"[chanprobe] call: the host has no such function"* ]] || { echo "$output"; return 1; }
    [[ "$stderr" == *"[chanprobe] log: a line from the guest"* ]] || { echo "$stderr"; return 1; }
    run "$SBVM" run --channel -- "$probe" fd
    [[ "$output" == *"fd3: open, SBVM_CHANNEL: 3"* ]] || { echo "$output"; return 1; }
    # A guest that did not ask gets no fd, no variable, no new surface.
    run "$SBVM" run -- "$probe" fd
    [[ "$output" == *"fd3: closed, SBVM_CHANNEL: unset"* ]] || { echo "$output"; return 1; }
    run -3 "$SBVM" run -- "$probe"
    [[ "$output" == *"hello: no host channel"* ]] || { echo "$output"; return 1; }
    # Under a memory limit as small as the window's largest size (64 MiB by
    # default): where the limit is an address-space rlimit, the window's
    # reservation is added to it, so hello still works.
    run "$SBVM" run --channel --memory 64M -- "$probe"
    [[ "$output" == *"hello: ok"* ]] || { echo "$output"; return 1; }
    assert_nothing_left
}

@test "run --channel: a guest that scribbles over the window's header loses its channel, named in the report, and runs on" {
    local d
    d="$(scratch)"
    run --separate-stderr "$SBVM" run --channel --json "$d/r.json" -- "$GUESTS/chanprobe" scribble
    [ "$status" -eq 0 ] || { echo "$status $output $stderr"; return 1; }
    [[ "$output" == *"scribbled: yes"* ]] || { echo "$output"; return 1; }
    [[ "$output" == *"after: "* ]]
    [[ "$stderr" == *"host channel ended: the guest overwrote the window header: field 'magic'"* ]] || { echo "$stderr"; return 1; }
    jcheck "$d/r.json" 'g["channel_error"].startswith("the guest overwrote the window header") and g["outcome"]=="exited"'
    jschema "$d/r.json"
    assert_nothing_left
}

@test "run --one-sandbox --channel: each job gets a channel of its own" {
    run --separate-stderr "$SBVM" run --one-sandbox --channel -- "$GUESTS/chanprobe" ::: "$GUESTS/chanprobe" fd
    [ "$status" -eq 0 ] || { echo "$status $output $stderr"; return 1; }
    [[ "$output" == *"[chanprobe-1] hello: ok"* ]]
    [[ "$output" == *"[chanprobe-2] fd3: open, SBVM_CHANNEL: 3"* ]] || { echo "$output"; return 1; }
    assert_nothing_left
}

@test "run --one-sandbox --channel --files 64: the exec server places fd 3 under a low files limit" {
    # It moved its error pipe to fd 64 or above, which --files 64 forbids
    # (EINVAL: 'connecting the guest's standard streams').
    run --separate-stderr "$SBVM" run --one-sandbox --channel --files 64 -- "$GUESTS/chanprobe" fd
    [ "$status" -eq 0 ] || { echo "$status $output $stderr"; return 1; }
    [[ "$output" == *"fd3: open, SBVM_CHANNEL: 3"* ]] || { echo "$output"; return 1; }
    assert_nothing_left
}
