#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The host channel's examples, between two ordinary processes (no sandbox
# yet): a guest with host calls and logs, a guest streaming through a ring
# that the host checksums, and a guest run without any host.

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
