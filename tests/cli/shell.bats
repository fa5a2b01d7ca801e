#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# sandboxvm shell: a program on a terminal of the sandbox's own, driven
# through a real pseudo-terminal (pty-drive.py) as a person would.

load helpers

DRIVE="$BATS_TEST_DIRNAME/pty-drive.py"

@test "shell: a prompt on the sandbox's own terminal, sized like ours and following it, keys reach the guest, our terminal restored" {
    local log
    log="$(scratch)/pty.log"
    # Inside: a terminal from the sandbox's devpts (pts/0 whatever the
    # host has open), our window size, a later resize, ^C interrupting the
    # guest's foreground program (not sandboxvm), the shell's exit status.
    run env PTY_LOG="$log" python3 "$DRIVE" 30 100 -- "$SBVM" shell <<'STEPS'
expect \$ $
raw
send tty; stty size; id -u\n
expect /dev/pts/0\r\n30 100\r\n[0-9]+\r\n
resize 40 120
send stty size\n
expect 40 120
send sh -c 'echo ready$((1+1)); exec sleep 50'\n
expect ready2\r\n
send \x03
expect \$ $
send echo after=$?\n
expect after=130
send exit 7\n
STEPS
    [ "$status" -eq 0 ] || { echo "$output"; cat "$log"; return 1; }
    [ "$output" = "exit 7" ] || { echo "$output"; cat "$log"; return 1; }
    # The guest's uid, not ours.
    grep -qa "^$(guest_uid)"$'\r'"\$" "$log" || { cat "$log"; return 1; }
    assert_nothing_left
}

@test "shell: runs the program given, on a terminal; its output and status are ours" {
    run python3 "$DRIVE" 24 80 -- "$SBVM" shell -- sh -c 'test -t 0 && test -t 1 && echo on-a-tty; stty size; exit 3' </dev/null
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
    [ "${lines[-1]}" = "exit 3" ]
    assert_nothing_left
}

@test "shell: without a terminal of ours the guest still gets one, fed from our stdin" {
    run --separate-stderr "$SBVM" shell -- sh -c 'read line; test -t 0 && echo "tty:$line"; exit 4' <<<"typed"
    [ "$status" -eq 4 ] || { echo "$output $stderr"; return 1; }
    [[ "$output" == *"tty:typed"* ]]
    assert_nothing_left
}

@test "shell: a crash inside is reported as in run, with its status" {
    run --separate-stderr "$SBVM" shell -- sh -c 'kill -SEGV $$' </dev/null
    [ "$status" -eq 139 ] || { echo "$status $stderr"; return 1; }
    [[ "$stderr" == *"crashed: SIGSEGV"* ]]
    assert_nothing_left
}

@test "shell: what the shell left running or in /tmp is listed when it ends, then removed" {
    # (HUP ignored, inherited: the terminal's hang-up would end it with the
    # shell.)
    run --separate-stderr "$SBVM" shell -- sh -c 'echo x >/tmp/kept; cp /bin/sleep "/tmp/$1"; trap "" HUP; "/tmp/$1" 100 </dev/null >/dev/null 2>&1 & until pgrep -f "^/tmp/$1 100" >/dev/null; do sleep 0.05; done' sh "$MARKER" </dev/null
    [ "$status" -eq 0 ] || { echo "$status $stderr"; return 1; }
    [[ "$stderr" == *"the sandbox, when it ended:"* ]] || { echo "$stderr"; return 1; }
    [[ "$stderr" == *"/tmp/$MARKER 100"* ]] || { echo "$stderr"; return 1; }
    [[ "$stderr" == *"file /tmp/kept (2 bytes)"* ]] || { echo "$stderr"; return 1; }
    # Neither the init nor the exec server is the guest's.
    [[ "$stderr" != *"sbvm-exec"* ]] || { echo "$stderr"; return 1; }
    assert_nothing_left
}

@test "shell: the options that only run has are refused by name" {
    run --separate-stderr "$SBVM" shell --json out.json
    assert_bad_input 125 "--json: an option of sandboxvm run, not of shell"
}

@test "shell: --help teaches the shell, help shell too" {
    run "$SBVM" shell --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: sandboxvm shell"* ]]
    [[ "$output" == *"raw mode"* ]]
    run "$SBVM" help shell
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: sandboxvm shell"* ]]
}
