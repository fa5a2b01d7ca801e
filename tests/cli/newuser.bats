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

# As assert_bad_input, without its scan of the host for leftovers (about
# half a second each under load): a test that refuses several things
# scans once, at its end (assert_nothing_left).
refused() {
    local code="$1" pattern="$2"
    [ "$status" -eq "$code" ] || { echo "status $status, expected $code; stderr: $stderr"; return 1; }
    [ "$(printf '%s\n' "$stderr" | grep -c .)" -eq 1 ] || { echo "expected one line, got: $stderr"; return 1; }
    [[ "$stderr" =~ $pattern ]] || { echo "stderr '$stderr' does not match '$pattern'"; return 1; }
}

# Tests that check only what the command line says, the same whoever runs
# it (refusals, the man page), run in the suite's root pass alone, not in
# its ordinary-user and ASan passes: CI's time (scripts/test.sh). The C
# they reach (options.c) runs under ASan in the other tests of this file
# and in the unit tests. SBVM_NEWUSER_EVERY_PASS=1 runs them in any pass.
root_pass_only() {
    [ -z "${SBVM_NEWUSER_EVERY_PASS:-}" ] || return 0
    [ "$(id -u)" -eq 0 ] || skip "command-line checks: the root pass runs them"
    if grep -q __asan_init "$SBVM_REAL" 2>/dev/null; then
        skip "command-line checks: the root pass runs them (not under ASan)"
    fi
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
    [ "$status" -ne 0 ]
    [ "$status" -ne 124 ]
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

# --- item 2: the supervisor's death and host signals --------------------------

# Whether process $1 ends within $2 seconds.
ends_within() {
    local i
    for i in $(seq $(($2 * 20))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
    echo "process $1 still runs after $2 s"
    return 1
}

# Waits (up to 10 s) for a line in a file.
wait_for() {
    local i
    for i in $(seq 200); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}

@test "SIGKILL to sandboxvm: no guest process and no cgroup outlives it" {
    local d pid
    d="$(scratch)"
    # A limit that takes a cgroup where the host offers one (root: v1).
    "$SBVM" run --timeout 100 --memory 256M --pids 64 -- sh -c \
        'cp /bin/sleep "/tmp/$1"; "/tmp/$1" 1000 & echo started; wait' sh "$MARKER" >"$d/out" 2>&1 &
    pid=$!
    BG_PIDS+=("$pid")
    wait_for started "$d/out"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    local i
    for i in $(seq 100); do
        [ "$(pgrep -f "$MARKER" | wc -l)" -eq 0 ] && [ "$(stale_cgroups)" -eq 0 ] && break
        sleep 0.1
    done
    assert_nothing_left
}

@test "SIGTERM to a guest that ignores it: killed after --kill-after" {
    local d pid rc=0
    d="$(scratch)"
    "$SBVM" run --kill-after 0.5 --json "$d/r.json" -- sh -c \
        'trap "" TERM; echo started; while :; do sleep 0.1; done' >"$d/out" 2>&1 &
    pid=$!
    BG_PIDS+=("$pid")
    wait_for started "$d/out"
    kill -TERM "$pid"
    # Within the grace period and a margin, not forever.
    ends_within "$pid" 5
    wait "$pid" || rc=$?
    [ "$rc" -eq 137 ]
    jcheck "$d/r.json" 'g["outcome"] == "killed" and g["signal"]["name"] == "SIGKILL"'
    assert_nothing_left
}

@test "SIGTERM then SIGINT: the second signal, of another kind, kills at once" {
    local d pid rc=0
    d="$(scratch)"
    "$SBVM" run -- sh -c 'trap "" TERM INT; echo started; while :; do sleep 0.1; done' \
        >"$d/out" 2>&1 &
    pid=$!
    BG_PIDS+=("$pid")
    wait_for started "$d/out"
    kill -TERM "$pid"
    sleep 0.3
    kill -0 "$pid"
    kill -INT "$pid"
    # Long before the default grace period (10 s) would have ended it.
    ends_within "$pid" 5
    wait "$pid" || rc=$?
    [ "$rc" -eq 137 ]
    assert_nothing_left
}

@test "shell: SIGTERM to a job that ignores it: killed after --kill-after" {
    local d pid rc=0
    d="$(scratch)"
    "$SBVM" shell --kill-after 0.5 -- sh -c 'trap "" TERM HUP; echo started; while :; do sleep 0.1; done' \
        </dev/null >"$d/out" 2>&1 &
    pid=$!
    BG_PIDS+=("$pid")
    wait_for started "$d/out"
    kill -TERM "$pid"
    ends_within "$pid" 5
    wait "$pid" || rc=$?
    [ "$rc" -eq 137 ]
}

@test "--kill-after takes seconds, like --timeout" {
    run --separate-stderr "$SBVM" run --kill-after soon -- true
    assert_bad_input 125 "--kill-after expects a positive number of seconds"
}

@test "SIGQUIT forwarded to the guest: killed by the host, no crash report" {
    local d pid rc=0
    d="$(scratch)"
    "$SBVM" run --json "$d/r.json" -- sh -c 'echo started; exec sleep 100' >"$d/out" 2>"$d/err" &
    pid=$!
    BG_PIDS+=("$pid")
    wait_for started "$d/out"
    kill -QUIT "$pid"
    ends_within "$pid" 10
    wait "$pid" || rc=$?
    [ "$rc" -eq 131 ]
    jcheck "$d/r.json" 'g["outcome"] == "killed" and g["signal"]["name"] == "SIGQUIT" and not g.get("crashes")'
    if grep -qi "crash" "$d/err"; then cat "$d/err"; return 1; fi
}

# --- smaller: raw output on request -----------------------------------------

@test "--raw passes control characters to a terminal; --no-tag alone shows them" {
    command -v python3 >/dev/null || skip "python3 is needed to drive a terminal"
    run python3 "$DRIVE" 24 80 -- "$SBVM" run --raw -- printf 'a\rb\033[1mc\n' <<'STEPS'
expect a\rb\x1b\[1mc
STEPS
    [ "$status" -eq 0 ]
    run python3 "$DRIVE" 24 80 -- "$SBVM" run --no-tag -- printf 'a\rb\033[1mc\n' <<'STEPS'
expect a\\x0db\\x1b\[1mc
STEPS
    [ "$status" -eq 0 ]
}

# --- item 5: file descriptor limits -------------------------------------------

@test "a hard open-file limit of 512: guests start, and get what the host allows" {
    run --separate-stderr bash -c "ulimit -n 512; '$SBVM' run --no-tag -- sh -c 'ulimit -n'"
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [ "$output" = 512 ]
    run --separate-stderr bash -c "ulimit -n 512; '$SBVM' run --one-sandbox --no-tag -- sh -c 'ulimit -n' ::: true"
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [ "$output" = 512 ]
}

@test "-j 200 with a hard limit of 512 is refused up front, naming what would fit" {
    local args=() i
    for i in $(seq 200); do args+=(true :::); done
    unset 'args[${#args[@]}-1]'
    run --separate-stderr bash -c 'ulimit -n 512; exec "$0" run -j 200 -- "$@"' "$SBVM" "${args[@]}"
    assert_bad_input 125 "running 200 guests at once needs about [0-9]+ open files, but this process may have only 512 open .* run at most [0-9]+ at once \(-j [0-9]+\)"
}

@test "a soft limit of 512 under a higher hard one: -j 60 runs every guest" {
    local args=() i hard
    hard="$(ulimit -Hn)"
    [ "$hard" = unlimited ] || [ "$hard" -ge 2048 ] || skip "the hard limit ($hard) is too low to raise to"
    for i in $(seq 60); do args+=(true :::); done
    unset 'args[${#args[@]}-1]'
    run --separate-stderr bash -c 'ulimit -Sn 512; exec "$0" run -q -j 60 -- "$@"' "$SBVM" "${args[@]}"
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
}

# --- items 6 and 7: programs that need what lives next to them ----------------

# A program that prints its library's answer, then runs itself again by
# argv[0], as programs that re-execute themselves do.
build_tool() {
    local d="$1"
    mkdir -p "$d/app/bin" "$d/app/lib"
    cat >"$d/lib.c" <<'C'
const char *zlibVersion(void) { return "its-own"; }
C
    cat >"$d/main.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <unistd.h>
const char *zlibVersion(void);
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "again") == 0) {
        printf("again as %s: %s\n", argv[0], zlibVersion());
        return 0;
    }
    printf("%s\n", zlibVersion());
    fflush(stdout);
    execl(argv[0], argv[0], "again", (char *)0);
    perror("execl");
    return 1;
}
C
    # Its own libz.so.1 next to it ($ORIGIN/../lib): the system has one
    # of that name too, which the loader would take instead.
    gcc -shared -fPIC -Wl,-soname,libz.so.1 -o "$d/app/lib/libz.so.1" "$d/lib.c"
    gcc -o "$d/app/bin/tool" "$d/main.c" -Wl,-rpath,'$ORIGIN/../lib' "$d/app/lib/libz.so.1"
}

@test "a relative program path: the program can run itself again by argv[0], under the name it was given" {
    command -v gcc >/dev/null || skip "gcc is needed"
    local d
    d="$(cd "$(scratch)" && pwd -P)"
    build_tool "$d"
    ln -s tool "$d/app/bin/alias"
    cd "$d/app/bin"
    run --separate-stderr "$SBVM" run --ro "$d/app/lib" --no-tag -- ./alias
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [ "$output" = "its-own"$'\n'"again as $d/app/bin/alias: its-own" ]
    cd "$d/app"
    run --separate-stderr "$SBVM" run --one-sandbox --ro "$d/app/lib" --no-tag -- bin/tool
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [ "$output" = "its-own"$'\n'"again as $d/app/bin/tool: its-own" ]
}

@test "a program whose RUNPATH finds its own library: refused, naming the --ro; never another copy" {
    command -v gcc >/dev/null || skip "gcc is needed"
    local d
    d="$(cd "$(scratch)" && pwd -P)"
    build_tool "$d"
    # Outside, it is itself.
    [ "$("$d/app/bin/tool" | head -1)" = its-own ]
    run --separate-stderr "$SBVM" run -- "$d/app/bin/tool"
    [ "$status" -eq 126 ]
    [[ "$stderr" == *"its library libz.so.1 is in $d/app/lib (its RUNPATH), which the sandbox does not show"*"Add --ro $d/app/lib"* ]]
    [[ "$output" != *1.2* ]]
    # With what it said, it runs as itself.
    run --separate-stderr "$SBVM" run --no-tag --ro "$d/app/lib" -- "$d/app/bin/tool"
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [ "$(head -1 <<<"$output")" = its-own ]
}

@test "a venv's python is that venv: its prefix and executable, relative or absolute, and multiprocessing's spawn" {
    /usr/bin/python3 -c 'import venv' 2>/dev/null || skip "python3-venv is not installed"
    local d
    d="$(cd "$(scratch)" && pwd -P)"
    /usr/bin/python3 -m venv --without-pip "$d/venv"
    run --separate-stderr "$SBVM" run --timeout 60 --no-tag -- "$d/venv/bin/python" -c 'import sys; print(sys.prefix); print(sys.executable)'
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [ "$output" = "$d/venv"$'\n'"$d/venv/bin/python" ]
    cd "$d"
    run --separate-stderr "$SBVM" run --timeout 60 --no-tag -- ./venv/bin/python -c '
import multiprocessing as mp
with mp.get_context("spawn").Pool(1) as p:
    print(p.apply(eval, ("__import__(\"sys\").prefix",)))
'
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [ "$output" = "$d/venv" ]
}

@test "a venv whose base interpreter the sandbox does not show, or that is the home directory: refused, saying why" {
    local d
    d="$(cd "$(scratch)" && pwd -P)"
    mkdir -p "$d/v/bin" "$d/base/bin"
    ln -s /usr/bin/python3 "$d/v/bin/python"
    printf 'home = %s/base/bin\n' "$d" >"$d/v/pyvenv.cfg"
    run --separate-stderr "$SBVM" run -- "$d/v/bin/python" -c pass
    [ "$status" -eq 126 ]
    [[ "$stderr" == *"base interpreter is in $d/base/bin, which the sandbox does not show: add --ro $d/base"* ]]
    printf 'home = /usr/bin\n' >"$d/v/pyvenv.cfg"
    run --separate-stderr env HOME="$d/v" "$SBVM" run -- "$d/v/bin/python" -c pass
    [ "$status" -eq 126 ]
    [[ "$stderr" == *"is your home directory or holds it"* ]]
}

# --- item 8 and the ':' of paths -------------------------------------------------

@test "--tmpfs DST:SIZE with a size that is not one is refused, not made a mount point named so" {
    root_pass_only
    local v
    for v in 1.5G 1Z -5 0 abc; do
        run --separate-stderr "$SBVM" run --tmpfs "/tmp/x:$v" -- true
        refused 125 "--tmpfs /tmp/x:$v: '$v' is not a size"
    done
    run --separate-stderr "$SBVM" run --tmpfs /tmp/x:1.5G -- true
    [[ "$stderr" == *"1536M"* ]]
    run --separate-stderr "$SBVM" run --no-tag --tmpfs /tmp/x:2M -- sh -c 'df -k /tmp/x | tail -1'
    [ "$status" -eq 0 ]
    [ "$(awk '{print $2}' <<<"$output")" -eq 2048 ]
    assert_nothing_left
}

@test "a ':' in a path is written '\\:' in --ro, --tmpfs and --copy-in; a bare one is pointed at" {
    local d
    d="$(cd "$(scratch)" && pwd -P)"
    mkdir "$d/a:b"
    echo inside >"$d/a:b/f"
    run --separate-stderr "$SBVM" run --no-tag --ro "$d/a\\:b:/data" -- cat /data/f
    [ "$status" -eq 0 ]
    [ "$output" = inside ]
    run --separate-stderr "$SBVM" run --no-tag --ro "$d/a\\:b" -- cat "$d/a:b/f"
    [ "$status" -eq 0 ]
    [ "$output" = inside ]
    run --separate-stderr "$SBVM" run --no-tag --tmpfs '/tmp/c\:d:1M' -- sh -c 'ls -d /tmp/c*'
    [ "$status" -eq 0 ]
    [ "$output" = "/tmp/c:d" ]
    run --separate-stderr "$SBVM" run --no-tag --copy-in "$d/a\\:b/f:/tmp/g\\:h" -- cat /tmp/g:h
    [ "$status" -eq 0 ]
    [ "$output" = inside ]
    run --separate-stderr "$SBVM" run --ro "$d/a:b" -- true
    refused 125 "a ':' that is part of a path is written '\\\\:': --ro .*/a\\\\:b"
    run --separate-stderr "$SBVM" run --ro "$d/a:b:c:/x" -- true
    refused 125 "more than one ':'"
    assert_nothing_left
}

# --- item 11: --disk counts what was written ------------------------------------

@test "--disk: exactly the limit is allowed, one byte more is the limit" {
    run --separate-stderr "$SBVM" run --disk 64K -- sh -c 'head -c 65536 /dev/zero >/tmp/f'
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    run --separate-stderr "$SBVM" run --disk 4K -- sh -c 'printf abc >/tmp/f'
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    run --separate-stderr "$SBVM" run --disk 64K -- sh -c 'head -c 65537 /dev/zero >/tmp/f'
    [ "$status" -eq 137 ]
    [[ "$stderr" == *"limit disk"* ]]
    # Two files of a page each under a one-page limit: pages are what a
    # tmpfs counts.
    run --separate-stderr "$SBVM" run --disk 4K -- sh -c 'echo a >/tmp/f; echo b >/tmp/g'
    [ "$status" -eq 137 ]
}

# --- item 9: --deny execve ---------------------------------------------------------

@test "--deny execve lets the program start, and denies its own execs" {
    local d
    d="$(scratch)"
    run --separate-stderr "$SBVM" run --no-tag --deny execve -- /bin/echo started
    [ "$status" -eq 0 ]
    [ "$output" = started ]
    run --separate-stderr "$SBVM" run --no-tag --deny execve --json "$d/r.json" -- sh -c 'echo started; /bin/true; echo after'
    [ "$status" -eq 159 ]
    [ "$output" = started ]
    [[ "$stderr" == *"denied: syscall execve (59)"* ]]
    # The guest is named by its own command line, never sandboxvm's.
    [[ "$stderr" != *"sandboxvm run"* ]]
    [[ "$stderr" != *"--deny"* ]]
    jcheck "$d/r.json" 'g["outcome"] == "denied" and g["denied"]["syscall"] == "execve"'
    run --separate-stderr "$SBVM" run --no-tag --deny execveat -- sh -c 'echo started; exec 3</bin/true; /bin/true; echo after-execve'
    [ "$status" -eq 0 ]
    [ "$output" = $'started\nafter-execve' ]
}

@test "--deny execve in one sandbox: each job starts, a job's own exec ends that job" {
    run --separate-stderr "$SBVM" run --one-sandbox --no-tag --deny execve -- echo one ::: sh -c 'echo two; /bin/true; echo never' ::: echo three
    [ "$status" -eq 159 ]
    [ "$output" = $'one\ntwo\nthree' ]
}

# --- item 12: failures after the run ----------------------------------------------

@test "--copy-out onto an existing host path is refused before the guest runs, naming the path" {
    local d
    d="$(cd "$(scratch)" && pwd -P)"
    echo old >"$d/exists"
    run --separate-stderr "$SBVM" run --copy-out "/tmp/r:$d/exists" -- sh -c 'echo ran; echo new >/tmp/r'
    refused 125 "--copy-out /tmp/r:$d/exists: $d/exists exists already"
    [ -z "$output" ]
    [ "$(cat "$d/exists")" = old ]
    # Several guests: each one's HOST.NAME.
    touch "$d/o.b"
    run --separate-stderr "$SBVM" run --name a --name b --copy-out "/tmp/o:$d/o" -- true ::: true
    refused 125 "$d/o.b exists already"
    assert_nothing_left
}

@test "--copy-out of a path the guest did not make: the run exits 125 and says which" {
    local d
    d="$(cd "$(scratch)" && pwd -P)"
    run --separate-stderr "$SBVM" run --copy-out "/tmp/missing:$d/new" -- true
    [ "$status" -eq 125 ]
    [[ "$stderr" == *"--copy-out /tmp/missing:$d/new: nothing there in the sandbox"* ]]
    [[ "$stderr" == *"a --copy-out failed"* ]]
    [ ! -e "$d/new" ]
}

@test "-o onto a full disk: the file is cut short and the run says so, exit 125" {
    [ "$(id -u)" = 0 ] || skip "mounting a small tmpfs needs root"
    local d
    d="$(cd "$(scratch)" && pwd -P)"
    mkdir "$d/full"
    mount -t tmpfs -o size=64k tmpfs "$d/full" || skip "cannot mount a tmpfs here"
    run --separate-stderr "$SBVM" run -o "$d/full" -- sh -c 'head -c 200000 /dev/zero'
    umount "$d/full"
    [ "$status" -eq 125 ]
    [[ "$stderr" == *"--output-dir: writing the output of sh: No space left on device"* ]]
}

# --- item 10: the ledger lists exactly what the guest left -----------------------

# The files of a report's first guest's ledger, as "kind path" lines.
left_files() {
    python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["guests"][0]
for f in g["ledger"]["files"]: print(f["kind"], f["path"])' "$1"
}

@test "ledger: a program and an --ro file under the host's /tmp are not the guest's; what it writes is" {
    local d
    d="$(cd "$(scratch)" && pwd -P)"
    case "$d" in /tmp/*) ;; *) skip "the scratch is not under /tmp" ;; esac
    printf '#!/bin/sh\necho "$@" >/tmp/mine\n' >"$d/prog"
    chmod 755 "$d/prog"
    echo data >"$d/data.txt"
    run --separate-stderr "$SBVM" run --ro "$d/data.txt" --json "$d/r.json" -- "$d/prog" x
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [ "$(left_files "$d/r.json")" = "file /tmp/mine" ]
    [[ "$stderr" != *"$d/prog"* ]]
    [[ "$stderr" != *"data.txt"* ]]
    # --keep: no empty copy of the program file, the guest's file kept.
    run --separate-stderr "$SBVM" run --keep "$d/kept" -- "$d/prog" y
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [ "$(cd "$d/kept/prog" && find . | sort | tr '\n' ' ')" = ". ./mine " ]
}

@test "ledger: --copy-in files are not the guest's unless it changed them, nor a partial copy" {
    local d
    d="$(cd "$(scratch)" && pwd -P)"
    echo in >"$d/in"
    mkdir "$d/tree" && echo t >"$d/tree/t"
    run --separate-stderr "$SBVM" run --json "$d/r.json" --copy-in "$d/in:/tmp/in" --copy-in "$d/tree:/tmp/tree" -- true
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [ -z "$(left_files "$d/r.json")" ]
    run --separate-stderr "$SBVM" run --json "$d/r.json" --copy-in "$d/in:/tmp/in" --copy-in "$d/tree:/tmp/tree" -- sh -c 'echo more >>/tmp/in; echo n >/tmp/tree/new'
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [ "$(left_files "$d/r.json" | sort)" = $'file /tmp/in\nfile /tmp/tree/new' ]
    # The guest never ran: nothing is its.
    head -c 2M /dev/zero >"$d/big"
    run --separate-stderr "$SBVM" run --disk 1M --json "$d/r.json" --copy-in "$d/big:/tmp/big" -- true
    [ "$status" -eq 125 ]
    [ -z "$(left_files "$d/r.json")" ]
}

@test "ledger: empty directories the guest left, and files in --tmpfs mounts, are listed" {
    local d
    d="$(cd "$(scratch)" && pwd -P)"
    run --separate-stderr "$SBVM" run --json "$d/r.json" --tmpfs /cache --tmpfs /tmp/sub -- sh -c '
        mkdir /tmp/empty /tmp/full /cache/d; touch /tmp/full/f; echo x >/cache/f; echo y >/tmp/sub/g'
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [ "$(left_files "$d/r.json" | sort)" = "$(printf '%s\n' 'directory /cache/d' 'directory /tmp/empty' 'file /cache/f' 'file /tmp/full/f' 'file /tmp/sub/g' | sort)" ]
    jschema "$d/r.json"
    # Nothing left: nothing listed (the mount points are sandboxvm's).
    run --separate-stderr "$SBVM" run --json "$d/r.json" --tmpfs /cache --tmpfs /tmp/sub -- true
    [ -z "$(left_files "$d/r.json")" ]
}

@test "ledger: a guest stopped before its exec is not shown as sandboxvm's command line (no --secret in the report)" {
    local d
    d="$(cd "$(scratch)" && pwd -P)"
    run --separate-stderr "$SBVM" run --timeout 0.001 --json "$d/r.json" --net allow=example.com \
        --secret TOKEN=sbvm-not-a-secret-42@example.com -- true
    [[ "$stderr" != *"sbvm-not-a-secret-42"* ]]
    [[ "$stderr" != *"--secret"* ]]
    if grep -q "sbvm-not-a-secret-42" "$d/r.json"; then return 1; fi
}

@test "ledger: one sandbox's --ro files under /tmp are not listed when it ends" {
    local d
    d="$(cd "$(scratch)" && pwd -P)"
    case "$d" in /tmp/*) ;; *) skip "the scratch is not under /tmp" ;; esac
    mkdir "$d/lib" && echo l >"$d/lib/l"
    run --separate-stderr "$SBVM" run --one-sandbox --ro "$d/lib" -- cat "$d/lib/l" ::: sh -c 'echo j >/tmp/job'
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [[ "$stderr" != *"$d/lib"* ]]
    [[ "$stderr" == *"file /tmp/job"* ]]
}

@test "ledger: a tcp6 listener is shown in the usual short form" {
    local d
    d="$(cd "$(scratch)" && pwd -P)"
    run --separate-stderr "$SBVM" run --json "$d/r.json" -- /usr/bin/python3 -c '
import os, socket, time
s = socket.socket(socket.AF_INET6); s.bind(("::1", 8080)); s.listen()
if os.fork() == 0: time.sleep(60)'
    [[ "$stderr" == *"listening tcp6 [::1]:8080"* ]]
    jcheck "$d/r.json" 'g["ledger"]["listeners"][0]["local"] == "[::1]:8080"'
}

# --- smaller ones ------------------------------------------------------------------

@test "a script without #! runs with /bin/sh, as a shell would; binary junk is still refused" {
    local d
    d="$(cd "$(scratch)" && pwd -P)"
    printf 'echo "run by sh as $0 with $1"\n' >"$d/plain"
    chmod 755 "$d/plain"
    run --separate-stderr "$SBVM" run --no-tag -- "$d/plain" x
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [ "$output" = "run by sh as $d/plain with x" ]
    run --separate-stderr "$SBVM" run --one-sandbox --no-tag -- "$d/plain" y ::: sh -c 'printf "echo inner\n" >/tmp/s; chmod +x /tmp/s; /tmp/s'
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [ "$output" = "run by sh as $d/plain with y"$'\n'"inner" ]
    printf '\001\000junk' >"$d/junk"
    chmod 755 "$d/junk"
    run --separate-stderr "$SBVM" run -- "$d/junk"
    assert_bad_input 126 "neither an ELF program nor a #! script"
}

@test "/dev/ptmx: a guest can open a pseudo-terminal of its own" {
    run --separate-stderr "$SBVM" run --no-tag -- /usr/bin/python3 -c 'import os, pty; m, s = pty.openpty(); print(os.ttyname(s))'
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [[ "$output" == /dev/pts/* ]]
}

@test "option errors: a value given to a flag, control bytes in an unknown option" {
    run --separate-stderr "$SBVM" run --keep-env=x -- true
    refused 125 "--keep-env takes no value, but was given one: '--keep-env=x'"
    run --separate-stderr "$SBVM" run $'--bo\x1bgus' -- true
    refused 125 "unknown option '--bo\\\\x1bgus'"
    [[ "$stderr" != *$'\x1b'* ]]
    assert_nothing_left
}

@test "contradictions are refused: two reports, --deny and --allow of one call, a secret no rule reaches, a URL as a rule" {
    root_pass_only
    # In a scratch directory: were the refusal to go, no report lands in
    # the checkout (a stray b.json once did).
    cd "$BATS_TEST_TMPDIR"
    run --separate-stderr "$SBVM" run --json a.json --json b.json -- true
    refused 125 "--json given twice \(a.json, b.json\)"
    [ ! -e a.json ] && [ ! -e b.json ]
    run --separate-stderr "$SBVM" run --deny mkdir --allow mkdir -- true
    refused 125 "--deny mkdir and --allow mkdir contradict each other"
    run --separate-stderr "$SBVM" run --net allow=example.org --secret T=v@example.com -- true
    refused 125 "--secret T: no --net allow rule lets the guest reach example.com"
    run --separate-stderr "$SBVM" run --net 'allow=*.example.com' --secret T=v@api.example.com -- true
    [ "$status" -eq 0 ]
    run --separate-stderr "$SBVM" run --net allow=ftp://files.example.org -- true
    refused 125 "a rule is HOST\[:PORT\], or an http:// or https:// URL: write files.example.org"
    assert_nothing_left
}

@test "limits state their bounds: --timeout below a millisecond, sizes and times past the largest" {
    root_pass_only
    run --separate-stderr "$SBVM" run --timeout 1e-9 -- true
    refused 125 "--timeout 1e-9: less than a millisecond"
    run --separate-stderr "$SBVM" run --timeout 1e300 -- true
    refused 125 "at most 10000000 seconds"
    run --separate-stderr "$SBVM" run --memory 99999999T -- true
    refused 125 "larger than the largest size \(16777215T"
    assert_nothing_left
}

@test "clone3 refused with ENOSYS (every threaded program) is in the JSON, not printed" {
    local d
    d="$(scratch)"
    run --separate-stderr "$SBVM" run --json "$d/r.json" -- /usr/bin/python3 -c 'import threading; t = threading.Thread(target=print); t.start(); t.join()'
    [ "$status" -eq 0 ]
    [[ "$stderr" != *clone3* ]]
    [[ "$stderr" != *"refused syscalls"* ]]
    jcheck "$d/r.json" '[r["syscall"] for r in g["refused_syscalls"]] == ["clone3"]'
    # Another refusal is still said.
    run --separate-stderr "$SBVM" run -- /usr/bin/python3 -c 'import ctypes; ctypes.CDLL(None).syscall(425, 8, 0)'
    [[ "$stderr" == *"refused syscalls: io_uring_setup"* ]]
}

@test "as root: git's 'dubious ownership' and an --rw 'Permission denied' come with the hint that fixes them" {
    [ "$(id -u)" = 0 ] || skip "only root's guests run as another uid"
    command -v git >/dev/null || skip "git is needed"
    local d
    d="$(cd "$(scratch)" && pwd -P)"
    git init -q "$d/repo"
    run --separate-stderr "$SBVM" run --ro "$d/repo" -- git -C "$d/repo" status
    [ "$status" -ne 0 ]
    [[ "$stderr" == *"hint: as root, guests run as uid 65534"*"--env GIT_CONFIG_COUNT=1 --env GIT_CONFIG_KEY_0=safe.directory --env 'GIT_CONFIG_VALUE_0=*'"* ]]
    # What the hint says works.
    run --separate-stderr "$SBVM" run --ro "$d/repo" --env GIT_CONFIG_COUNT=1 --env GIT_CONFIG_KEY_0=safe.directory \
        --env 'GIT_CONFIG_VALUE_0=*' -- git -C "$d/repo" status --short
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    mkdir "$d/rw"
    run --separate-stderr "$SBVM" run --rw "$d/rw" -- sh -c "echo x >$d/rw/f"
    [ "$status" -ne 0 ]
    [[ "$stderr" == *"hint: as root, guests run as uid 65534 (nobody): an --rw directory must be writable by it (chown 65534 DIR"* ]]
    chown 65534 "$d/rw"
    run --separate-stderr "$SBVM" run --rw "$d/rw" -- sh -c "echo x >$d/rw/f"
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [[ "$stderr" != *hint* ]]
}

@test "the man page names every option --help names, renders cleanly, and the build installs it" {
    root_pass_only
    local page="$TOP/docs/sandboxvm.1" opt missing=""
    [ -f "$page" ]
    for opt in $( { "$SBVM" run --help; "$SBVM" shell --help; } | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
        # roff writes each '-' of an option as '\-'.
        grep -qF -- "$(sed 's/-/\\-/g' <<<"$opt")" "$page" || missing+=" $opt"
    done
    [ -z "$missing" ] || { echo "not in the man page:$missing"; return 1; }
    if command -v groff >/dev/null; then
        run groff -man -Tutf8 -ww -z "$page"
        [ -z "$output" ] || { echo "$output"; return 1; }
    fi
    local info
    info="$(dirname "$SBVM_REAL")/meson-info/intro-installed.json"
    [ -f "$info" ] || skip "no meson build information next to $SBVM_REAL"
    grep -q 'share/man/man1/sandboxvm.1' "$info"
}
