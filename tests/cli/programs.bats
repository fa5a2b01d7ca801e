#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Real programs nobody here wrote, unmodified, inside the default sandbox.

load helpers

@test "busybox (a static ELF) runs its applets" {
    local bb
    bb="$(command -v busybox || true)"
    [ -n "$bb" ] || skip "busybox is not installed (Debian package busybox-static)"
    if command -v file >/dev/null; then
        file -L "$bb" | grep -q 'statically linked' || skip "$bb is not the static busybox"
    fi
    run "$SBVM" run -- busybox sh -c 'echo $((6 * 7)); busybox id -u; busybox ls /'
    [ "$status" -eq 0 ]
    [[ "$output" == *"[busybox] 42"* ]]
    [[ "$output" == *"[busybox] $(guest_uid)"* ]]
    [[ "$output" == *"[busybox] usr"* ]]
}

@test "a static probe built here runs too" {
    run "$SBVM" run -- "$GUESTS/probe-static" args static
    [ "$status" -eq 0 ]
    [[ "$output" == *"[probe-static] arg 0: [static]"* ]]
}

@test "a /bin/sh script with a shebang, from outside the system directories" {
    local d
    d="$(scratch)"
    printf '%s\n' '#!/bin/sh' 'set -eu' 'echo "greetings, $1"' 'ls "$(dirname "$0")"' >"$d/greet.sh"
    chmod 755 "$d/greet.sh"
    echo "a sibling the guest must not see" >"$d/sibling.txt"
    run "$SBVM" run -- "$d/greet.sh" world
    [ "$status" -eq 0 ]
    [[ "$output" == *"[greet.sh] greetings, world"* ]]
    # Only the script itself is exposed, not its directory's contents.
    [[ "$output" == *"[greet.sh] greet.sh"* ]]
    [[ "$output" != *"sibling.txt"* ]]
}

@test "python3 -c" {
    command -v python3 >/dev/null || skip "python3 is not installed"
    run "$SBVM" run -- python3 -c 'import os, sys, json; print(json.dumps({"uid": os.getuid(), "cwd": os.getcwd(), "v": sys.version_info[0]}))'
    [ "$status" -eq 0 ]
    [[ "$output" == *"[python3] {\"uid\": $(guest_uid), \"cwd\": \"/tmp\", \"v\": 3}"* ]]
}

@test "python3 multiprocessing (POSIX semaphores in /dev/shm)" {
    command -v python3 >/dev/null || skip "python3 is not installed"
    run "$SBVM" run -- python3 -c 'import multiprocessing as m
def sq(x): return x * x
if __name__ == "__main__":
    with m.Pool(2) as p: print(sum(p.map(sq, range(10))))'
    [ "$status" -eq 0 ]
    [[ "$output" == *"[python3] 285"* ]]
}

@test "perl -e" {
    command -v perl >/dev/null || skip "perl is not installed"
    run "$SBVM" run -- perl -e 'use strict; my %h = (a => 1, b => 2); print join(",", sort keys %h), "\n"'
    [ "$status" -eq 0 ]
    [[ "$output" == *"[perl] a,b"* ]]
}

@test "gcc compiles and runs a hello world in the writable scratch" {
    command -v gcc >/dev/null || skip "gcc is not installed"
    run "$SBVM" run -- sh -c '
        printf "%s\n" "#include <stdio.h>" "int main(void) { printf(\"hello from gcc, %d\\n\", 6 * 7); return 0; }" > hello.c
        gcc -O2 -Wall -o hello hello.c && ./hello'
    [ "$status" -eq 0 ]
    [[ "$output" == *"[sh] hello from gcc, 42"* ]]
}

@test "git init and commit" {
    command -v git >/dev/null || skip "git is not installed"
    run "$SBVM" run --env GIT_AUTHOR_NAME=guest --env GIT_AUTHOR_EMAIL=g@sandbox \
        --env GIT_COMMITTER_NAME=guest --env GIT_COMMITTER_EMAIL=g@sandbox -- sh -c '
        git init -q repo && cd repo &&
        echo first > file && git add file && git commit -q -m "first commit" &&
        echo second >> file && git commit -q -am "second commit" &&
        git log --format=%s'
    [ "$status" -eq 0 ]
    [[ "$output" == *"[sh] second commit"* ]]
    [[ "$output" == *"[sh] first commit"* ]]
}

@test "scripts via env (#!/usr/bin/env) find their interpreter in the guest's PATH" {
    command -v python3 >/dev/null || skip "python3 is not installed"
    local d
    d="$(scratch)"
    printf '#!/usr/bin/env python3\nprint("env found python")\n' >"$d/viaenv"
    chmod 755 "$d/viaenv"
    run "$SBVM" run -- "$d/viaenv"
    [ "$status" -eq 0 ]
    [[ "$output" == *"[viaenv] env found python"* ]]
}
