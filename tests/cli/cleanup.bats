#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Nothing a guest starts or opens outlives it, and nothing of sandboxvm's
# stays on the host: no processes, mounts, temp files or cgroups.

load helpers

@test "a guest's orphans die with it, even long sleepers" {
    # The copy gets a name the host can look for.
    run timeout 30 "$SBVM" run -- sh -c '
        cp /bin/sleep "/tmp/$1"
        "/tmp/$1" 1000 &
        (setsid "/tmp/$1" 1000 &)
        echo spawned' sh "$MARKER"
    [ "$status" -eq 0 ]
    [[ "$output" == *"[sh] spawned"* ]]
    assert_nothing_left
}

@test "the bundled leaky guest leaves nothing behind" {
    run timeout 30 "$SBVM" run -- "$EXAMPLES/leaky"
    [ "$status" -eq 0 ]
    [[ "$output" == *"left behind: child pid"* ]]
    assert_nothing_left
}

@test "fifty crashes and leaks in a row leave the host as it was" {
    local i
    for i in $(seq 25); do
        "$SBVM" run -q -- "$EXAMPLES/crash" ::: "$EXAMPLES/leaky" ::: sbvm-nope >/dev/null 2>&1 || true
    done
    assert_nothing_left
}

@test "parallel guests are each torn down" {
    run timeout 60 "$SBVM" run -j 4 -q -- sh -c 'sleep 0.2 & echo a' ::: sh -c 'sleep 0.2 & echo b' \
        ::: "$EXAMPLES/crash" ::: "$EXAMPLES/leaky" ::: /bin/true ::: /bin/false
    [ "$status" -eq 139 ]
    assert_nothing_left
}

@test "files a guest writes stay in its sandbox" {
    run "$SBVM" run -- sh -c 'echo data > /tmp/sbvm-guest-file; ls /tmp'
    [[ "$output" == *"sbvm-guest-file"* ]]
    [ ! -e /tmp/sbvm-guest-file ]
    assert_nothing_left
}
