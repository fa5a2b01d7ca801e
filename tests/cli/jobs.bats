#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# sandboxvm run --one-sandbox: every guest a job of one live sandbox.

load helpers

@test "one sandbox: a file one job writes the next one reads; a crash ends only its own job" {
    run --separate-stderr "$SBVM" run --one-sandbox --no-symbolize \
        -- sh -c 'echo "from job 1" >/tmp/note' ::: cat /tmp/note ::: "$EXAMPLES/crash" \
        ::: sh -c 'echo "job 4: $(cat /tmp/note)"'
    # The first guest that failed gives the status: the crash.
    [ "$status" -eq 139 ] || { echo "$status $output $stderr"; return 1; }
    [[ "$output" == *"[cat] from job 1"* ]]
    [[ "$output" == *"[sh-4] job 4: from job 1"* ]]
    [[ "$stderr" =~ crash\ +crashed\ +139 ]] || { echo "$stderr"; return 1; }
    [[ "$stderr" =~ sh-4\ +exited\ +0 ]] || { echo "$stderr"; return 1; }
    # What the jobs left in the sandbox is told once, for the sandbox.
    [[ "$stderr" == *"the sandbox, when it ended:"*"file /tmp/note (11 bytes)"* ]] || { echo "$stderr"; return 1; }
    assert_nothing_left
}

@test "one sandbox: programs outside the view are shown as run shows them" {
    local d
    d="$(scratch)"
    printf '#!/bin/sh\necho "script $0"\n' >"$d/tool.sh"
    chmod 755 "$d/tool.sh"
    cd "$d"
    run --separate-stderr "$SBVM" run --one-sandbox -- "$EXAMPLES/hello" ::: ./tool.sh ::: sh -c 'ls ./tool.sh'
    [ "$status" -ne 0 ] || { echo "$output $stderr"; return 1; }
    [[ "$output" == *"[hello] hello from the sandbox"* ]] || { echo "$output"; return 1; }
    # The file ran where the host has it (a script's $0 is the file run,
    # as with run).
    [[ "$output" == *"[tool.sh] script $(realpath "$d")/tool.sh"* ]] || { echo "$output"; return 1; }
    # Only the program file is visible, at its host path, not in /tmp.
    [[ "$stderr" =~ sh\ +exited\ +[12] ]] || { echo "$stderr"; return 1; }
    assert_nothing_left
}

@test "one sandbox: a program that does not exist fails alone, at once, with the reason" {
    run -127 --separate-stderr "$SBVM" run --one-sandbox -- true ::: ./no-such-tool ::: true
    [ "$status" -eq 127 ] || { echo "$status $stderr"; return 1; }
    [[ "$stderr" =~ no-such-tool\ +not_found\ +127\ +0\.[0-9]\ ms\ +\./no-such-tool:\ No\ such\ file ]] || { echo "$stderr"; return 1; }
    [[ "$stderr" =~ true-3\ +exited\ +0 ]] || { echo "$stderr"; return 1; }
    assert_nothing_left
}

@test "one sandbox: with -j 2, two jobs run side by side in the same sandbox" {
    # The first waits for a file only the second writes: both must run at
    # once, and see the same /tmp.
    run --separate-stderr "$SBVM" run --one-sandbox -j 2 --timeout 20 \
        -- sh -c 'while [ ! -f /tmp/b ]; do sleep 0.01; done; echo saw-b' ::: sh -c 'touch /tmp/b'
    [ "$status" -eq 0 ] || { echo "$status $stderr"; return 1; }
    [[ "$output" == *"saw-b"* ]]
    assert_nothing_left
}

@test "one sandbox: a job's time limit ends that job; the next one runs" {
    run --separate-stderr "$SBVM" run --one-sandbox --timeout 1 -- sleep 30 ::: echo after
    [ "$status" -eq 124 ] || { echo "$status $stderr"; return 1; }
    [[ "$stderr" =~ sleep\ +limit\ +124 ]]
    [[ "$output" == *"[echo] after"* ]]
    assert_nothing_left
}

@test "one sandbox: a limit of the whole sandbox ends it; later jobs are told why they never ran" {
    run --separate-stderr "$SBVM" run --one-sandbox --disk 1M -- sh -c 'head -c 2M /dev/zero >/tmp/big' ::: echo never
    [ "$status" -eq 137 ] || { echo "$status $stderr"; return 1; }
    [[ "$stderr" =~ sh\ +limit\ +137.*limit\ disk ]] || { echo "$stderr"; return 1; }
    [[ "$stderr" == *"sandbox 'one-sandbox' ended at its disk limit: no job can start in it"* ]] || { echo "$stderr"; return 1; }
    [[ "$output" != *never* ]]
    assert_nothing_left
}

@test "one sandbox: what a job leaves running is the sandbox's, listed and killed at its end" {
    # (The second job waits until the first one's sleeper has exec'd: under
    # load the sandbox could otherwise end while it is still a shell.)
    run --separate-stderr "$SBVM" run --one-sandbox \
        -- sh -c 'cp /bin/sleep "/tmp/$1"; "/tmp/$1" 100 >/dev/null 2>&1 &' sh "$MARKER" \
        ::: sh -c 'until pgrep -f "^/tmp/$1 100" >/dev/null; do sleep 0.05; done' sh "$MARKER"
    [ "$status" -eq 0 ] || { echo "$status $stderr"; return 1; }
    [[ "$stderr" == *"process "*": /tmp/$MARKER 100"* ]] || { echo "$stderr"; return 1; }
    # The sandbox's own exec server is not the guests' leftover.
    [[ "$stderr" != *sbvm-exec* ]] || { echo "$stderr"; return 1; }
    assert_nothing_left
}

@test "one sandbox: a job can kill the exec server, not read it; later jobs are told why they cannot start" {
    # Same uid: a signal reaches pid 2; its memory and environment do not
    # (it is not dumpable).
    run --separate-stderr "$SBVM" run --one-sandbox \
        -- sh -c 'cat /proc/2/environ >/dev/null 2>&1 && echo read-env; head -c1 /proc/2/mem >/dev/null 2>&1 && echo read-mem; kill -KILL 2; sleep 0.2' ::: echo never
    [ "$status" -eq 125 ] || { echo "$status $output $stderr"; return 1; }
    [[ "$output" != *read-env* && "$output" != *read-mem* && "$output" != *never* ]] || { echo "$output"; return 1; }
    [[ "$stderr" == *"can start no more jobs: its exec server (pid 2) is gone"* ]] || { echo "$stderr"; return 1; }
    assert_nothing_left
}
