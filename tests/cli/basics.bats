#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The command line: help, version, exit statuses, and bad input refused with
# one clear line, the documented status, and nothing left behind.

load helpers

@test "--help teaches by example and exits 0" {
    run "$SBVM" --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: sandboxvm"* ]]
    [[ "$output" == *"Examples:"* ]]
    run "$SBVM" run --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"sandboxvm run -- python3"* ]]
    [[ "$output" == *"Exit status:"* ]]
    run "$SBVM" help run
    [ "$status" -eq 0 ]
    [[ "$output" == *"--output-dir"* ]]
}

@test "--version names the libraries" {
    run "$SBVM" --version
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^sandboxvm\ [0-9]+\.[0-9]+\.[0-9]+\ \(libseccomp ]]
}

@test "a guest's exit code is sandboxvm's exit status" {
    run "$SBVM" run -- sh -c 'exit 42'
    [ "$status" -eq 42 ]
    run "$SBVM" run -- /bin/true
    [ "$status" -eq 0 ]
    [ "$output" = "" ]
}

@test "a crash is 128 + signal with the signal named" {
    run --separate-stderr "$SBVM" run -- "$EXAMPLES/crash"
    [ "$status" -eq 139 ]
    [[ "$stderr" == *"crash: crashed: SIGSEGV (SEGV_MAPERR: address not mapped to object) at 0x0"* ]]
    [[ "$stderr" == *"in main+0x"*"crash.c:"* ]]
    [[ "$output" == *"[crash] about to write through a NULL pointer"* ]]
}

@test "a missing program is 127" {
    run -127 --separate-stderr "$SBVM" run -- sbvm-no-such-program
    assert_bad_input 127 "sbvm-no-such-program: not found in the guest's PATH"
    run -127 --separate-stderr "$SBVM" run -- ./no/such/file
    assert_bad_input 127 "No such file or directory"
}

@test "a directory is 126" {
    run --separate-stderr "$SBVM" run -- /etc
    assert_bad_input 126 "/etc: is a directory"
}

@test "a file that is neither ELF nor script is 126" {
    local d
    d="$(scratch)"
    # Binary: text without #! is a script for /bin/sh (newuser.bats).
    printf '\001\000hello\n' >"$d/data"
    chmod 755 "$d/data"
    run --separate-stderr "$SBVM" run -- "$d/data"
    assert_bad_input 126 "neither an ELF program nor a #! script"
}

@test "a file without execute permission is 126" {
    local d
    d="$(scratch)"
    printf '#!/bin/sh\n' >"$d/noexec"
    chmod 644 "$d/noexec"
    run --separate-stderr "$SBVM" run -- "$d/noexec"
    assert_bad_input 126 "no execute permission \\(mode 0644\\)"
}

@test "an ELF for another architecture is 126, naming it" {
    local d
    d="$(scratch)"
    # A 64-bit little-endian ELF header for aarch64 (machine 183).
    python3 - "$d/arm64" <<'PY'
import struct, sys
eh = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HHIQQQIHHHHHH", 2, 183, 1, 0, 0, 0, 0, 64, 56, 0, 64, 0, 0)
open(sys.argv[1], "wb").write(eh)
PY
    chmod 755 "$d/arm64"
    run --separate-stderr "$SBVM" run -- "$d/arm64"
    assert_bad_input 126 "an ELF program for aarch64; this host runs x86_64 programs"
}

@test "an unreadable program is 126" {
    [ "$(id -u)" != 0 ] || skip "root can read any file; covered by the ordinary-user pass"
    local d
    d="$(scratch)"
    printf '#!/bin/sh\necho hi\n' >"$d/secret"
    chmod 111 "$d/secret"
    run --separate-stderr "$SBVM" run -- "$d/secret"
    assert_bad_input 126 "cannot read it: Permission denied"
}

@test "an empty command is a usage error (125)" {
    run --separate-stderr "$SBVM" run
    assert_bad_input 125 "no program given"
    run --separate-stderr "$SBVM" run --
    assert_bad_input 125 "no program given"
    run --separate-stderr "$SBVM" run -- /bin/true ::: ::: /bin/true
    assert_bad_input 125 "empty command"
    run --separate-stderr "$SBVM" run -- /bin/true :::
    assert_bad_input 125 "empty command"
}

@test "unknown options and commands are usage errors (125)" {
    run --separate-stderr "$SBVM" run --frobnicate -- /bin/true
    assert_bad_input 125 "unknown option '--frobnicate'"
    run --separate-stderr "$SBVM" run -Z -- /bin/true
    assert_bad_input 125 "unknown option '-Z'"
    run --separate-stderr "$SBVM" frob
    assert_bad_input 125 "unknown command 'frob'"
    run --separate-stderr "$SBVM" run --jobs
    assert_bad_input 125 "needs a value"
    run --separate-stderr "$SBVM"
    [ "$status" -eq 125 ]
    [[ "$stderr" == *"Usage:"* ]]
}

@test "conflicting or invalid options are refused (125)" {
    run --separate-stderr "$SBVM" run --quiet --summary -- /bin/true
    assert_bad_input 125 "contradict"
    run --separate-stderr "$SBVM" run --json - --junit - -- /bin/true
    assert_bad_input 125 "both write to standard output"
    run --separate-stderr "$SBVM" run -j 0 -- /bin/true
    assert_bad_input 125 "--jobs expects a whole number from 1 to 1024, not '0'"
    run --separate-stderr "$SBVM" run -j 2x -- /bin/true
    assert_bad_input 125 "not '2x'"
    run --separate-stderr "$SBVM" run --name a --name b -- /bin/true
    assert_bad_input 125 "2 names given for 1 guest"
    run --separate-stderr "$SBVM" run --name 'bad/name' -- /bin/true
    assert_bad_input 125 "invalid guest name 'bad/name'"
    run --separate-stderr "$SBVM" run --name same --name same -- /bin/true ::: /bin/true
    assert_bad_input 125 "both named 'same'"
    run --separate-stderr "$SBVM" run --cwd relative -- /bin/true
    assert_bad_input 125 "must be an absolute path"
    run --separate-stderr "$SBVM" run --env 'A=B=C' --env '=x' -- /bin/true
    assert_bad_input 125 "invalid environment variable name"
    run --separate-stderr env -u SBVM_UNSET_VAR "$SBVM" run --env SBVM_UNSET_VAR -- /bin/true
    assert_bad_input 125 "SBVM_UNSET_VAR is not set in your environment"
}

@test "an unwritable report path is refused before anything runs" {
    local d
    d="$(scratch)"
    run --separate-stderr "$SBVM" run --json /nonexistent/dir/r.json -- sh -c "touch $d/ran"
    assert_bad_input 125 "--json: cannot write /nonexistent/dir/r.json"
    [ ! -e "$d/ran" ]
    run --separate-stderr "$SBVM" run --output-dir /proc/nope -- /bin/true
    assert_bad_input 125 "--output-dir: cannot create /proc/nope"
}

@test "a working directory missing inside the sandbox is a setup failure (125)" {
    run --separate-stderr "$SBVM" run --cwd /no/such/dir -- /bin/true
    assert_bad_input 125 "changing to the working directory /no/such/dir: No such file or directory"
}

@test "several guests: 0 when all succeed, else the first failure's status" {
    run "$SBVM" run -q -- /bin/true ::: /bin/true
    [ "$status" -eq 0 ]
    run "$SBVM" run -q -- /bin/true ::: sh -c 'exit 3' ::: "$EXAMPLES/crash" ::: sh -c 'exit 4'
    [ "$status" -eq 3 ]
    run "$SBVM" run -q -- "$EXAMPLES/crash" ::: sh -c 'exit 3'
    [ "$status" -eq 139 ]
}

@test "several guests end with a summary table on stderr" {
    run --separate-stderr "$SBVM" run -- /bin/true ::: sh -c 'exit 5' ::: sbvm-nope
    [ "$status" -eq 5 ]
    [[ "$stderr" == *"GUEST"*"OUTCOME"*"STATUS"* ]]
    [[ "$stderr" == *"true"*"exited"*"0"* ]]
    [[ "$stderr" == *"sh"*"exited"*"5"* ]]
    [[ "$stderr" == *"sbvm-nope"*"not_found"*"127"* ]]
    [[ "$stderr" == *"3 guests, 1 succeeded, 2 failed"* ]]
    run --separate-stderr "$SBVM" run -q -- /bin/true ::: /bin/false
    [ "$stderr" = "" ]
}

@test "default names use the basename, with an index when shared" {
    run "$SBVM" run -- echo a ::: echo b ::: printf 'c\n'
    [ "$status" -eq 0 ]
    [[ "$output" == *"[echo-1] a"* ]]
    [[ "$output" == *"[echo-2] b"* ]]
    [[ "$output" == *"[printf] c"* ]]
    run "$SBVM" run --name first -- echo a ::: echo b
    [[ "$output" == *"[first] a"* ]]
    [[ "$output" == *"[echo] b"* ]]
}

@test "arguments after the program are the guest's, options included" {
    run "$SBVM" run "$PROBE" args --help -q '' 'two words' ':x'
    [ "$status" -eq 0 ]
    [[ "$output" == *"arg 0: [--help]"* ]]
    [[ "$output" == *"arg 1: [-q]"* ]]
    [[ "$output" == *"arg 2: []"* ]]
    [[ "$output" == *"arg 3: [two words]"* ]]
}

@test "the environment is clean by default; --env sets or copies, --keep-env keeps" {
    export SBVM_TEST_SECRET=hunter2
    run "$SBVM" run -- sh -c 'echo "[$SBVM_TEST_SECRET] $HOME $USER"; env | wc -l'
    [[ "$output" == *"[sh] [] /tmp sandbox"* ]]
    [ "$(tail -1 <<<"$output" | cut -d' ' -f2)" -le 10 ]
    run "$SBVM" run --env SBVM_TEST_SECRET --env 'X=a b=c' -- sh -c 'echo "$SBVM_TEST_SECRET|$X"'
    [ "$output" = "[sh] hunter2|a b=c" ]
    run "$SBVM" run --keep-env --env HOME=/elsewhere -- sh -c 'echo "$SBVM_TEST_SECRET $HOME"'
    [ "$output" = "[sh] hunter2 /elsewhere" ]
}

@test "--cwd sets the working directory inside the sandbox" {
    run "$SBVM" run --cwd /usr/bin -- sh -c 'pwd; ls | grep -c "^sh$"'
    [ "$status" -eq 0 ]
    [ "$output" = $'[sh] /usr/bin\n[sh] 1' ]
}

@test "a relative program path is resolved from the caller's directory" {
    cd "$EXAMPLES"
    run "$SBVM" run ./hello
    [ "$status" -eq 0 ]
    [[ "$output" == *"[hello] hello from the sandbox"* ]]
}

@test "a sandbox whose init is killed from outside (as the OOM killer would) is reported as killed" {
    local d sbvm init
    d="$(scratch)"
    "$SBVM" run --json "$d/r.json" -- sleep 30 >"$d/out" 2>"$d/err" &
    sbvm=$!
    # The sandbox's init is sandboxvm's child on the host.
    for _ in $(seq 100); do
        init="$(pgrep -P "$sbvm" | head -1)"
        [ -n "$init" ] && grep -q sleep <(pgrep -a -P "$init" 2>/dev/null) && break
        sleep 0.05
    done
    [ -n "$init" ]
    kill -KILL "$init"
    local status=0
    wait "$sbvm" || status=$?
    cat "$d/err"
    [ "$status" -eq 137 ]
    grep -q "killed: the sandbox's init was killed (SIGKILL) from outside" "$d/err"
    jcheck "$d/r.json" 'g["outcome"]=="killed" and g["setup"] is None'
    assert_nothing_left
}
