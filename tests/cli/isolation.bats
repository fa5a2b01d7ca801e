#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# What a guest can see and do: the promised view, identity and lockdown.

load helpers

@test "the view: system directories, minimal /etc and /dev, own /proc, fresh /tmp" {
    run "$SBVM" run -- sh -c 'ls /; echo --; ls /dev; echo --; ls /etc; echo --; ls -A /tmp | wc -l'
    [ "$status" -eq 0 ]
    for d in bin dev etc lib proc sbin tmp usr; do
        [[ "$output" == *"[sh] $d"$'\n'* ]]
    done
    for d in home root var run srv mnt opt boot; do
        [[ "$output" != *"[sh] $d"$'\n'* ]]
    done
    for n in null zero full random urandom; do
        [[ "$output" == *"[sh] $n"$'\n'* ]]
    done
    [[ "$output" != *"[sh] vda"* ]]
    [[ "$output" != *"[sh] sda"* ]]
    [[ "$output" != *"shadow"* ]]
    [[ "$output" == *"[sh] passwd"* ]]
    [[ "$output" == *"[sh] 0" ]]
}

@test "nothing of the host's /tmp or home is visible" {
    local marker="/tmp/sbvm-host-marker-$$"
    echo secret >"$marker"
    run "$SBVM" run -- sh -c "cat $marker; ls /home /root 2>&1; cat /etc/shadow 2>&1"
    rm -f "$marker"
    [[ "$output" == *"No such file"* ]]
    [[ "$output" != *"secret"* ]]
    [[ "$output" != *"root:"* ]]
}

@test "system directories and the root are read-only; /tmp is writable" {
    run "$SBVM" run -- sh -c 'touch /usr/sbvm-x 2>&1; touch /sbvm-x 2>&1; touch /etc/x 2>&1; touch /tmp/ok && echo tmp-writable'
    [[ "$output" == *"/usr/sbvm-x"*"Read-only file system"* ]]
    [[ "$output" == *"/sbvm-x"*"Read-only file system"* ]]
    [[ "$output" == *"/etc/x"*"Read-only file system"* ]]
    [[ "$output" == *"tmp-writable"* ]]
    [ ! -e /usr/sbvm-x ]
}

@test "the guest is unprivileged: no capabilities, no_new_privs, seccomp, own session" {
    run "$SBVM" run -- "$PROBE" status
    [ "$status" -eq 0 ]
    local u
    u="$(guest_uid)"
    [[ "$output" == *"Uid:	$u	$u	$u	$u"* ]]
    for c in CapInh CapPrm CapEff CapBnd CapAmb; do
        [[ "$output" == *"$c:	0000000000000000"* ]]
    done
    [[ "$output" == *"NoNewPrivs:	1"* ]]
    [[ "$output" == *"Seccomp:	2"* ]]
    # pid 2 under the sandbox's init, leader of its own session.
    [[ "$output" == *"pid: 2 sid: 2 pgid: 2"* ]]
}

@test "the host's binary is not reachable through /proc/1/exe" {
    run "$SBVM" run -- "$PROBE" exe
    [ "$status" -eq 0 ]
    [[ "$output" == *"readlink /proc/1/exe: Permission denied"* ]]
    [[ "$output" == *"open /proc/1/exe: Permission denied"* ]]
    run "$SBVM" run -- sh -c 'tr "\0" " " </proc/1/cmdline; echo'
    [[ "$output" == *"sbvm-init"* ]]
}

@test "no inherited fd reaches the guest" {
    run "$SBVM" run --no-stdin -- "$PROBE" fds 9</etc/hostname 8>"$BATS_TEST_TMPDIR/w"
    [ "$status" -eq 0 ]
    [ "$(grep -c -- '->' <<<"$output")" -eq 3 ]
    [[ "$output" == *"[probe] 0 -> /dev/null"* ]]
    [[ "$output" == *"[probe] 1 -> pipe:"* ]]
    [[ "$output" == *"[probe] 2 -> pipe:"* ]]
}

@test "no network but loopback" {
    run "$SBVM" run -- "$EXAMPLES/netprobe"
    [ "$status" -eq 0 ]
    [[ "$output" == *"connect to 1.1.1.1:80: Network is unreachable"* ]]
    run "$SBVM" run -- sh -c 'grep -c : /proc/net/dev'
    [[ "$output" == "[sh] 1" ]]
}

@test "loopback works inside" {
    command -v python3 >/dev/null || skip "python3 is not installed"
    run "$SBVM" run -- python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
c = socket.create_connection(s.getsockname()); a, _ = s.accept()
c.sendall(b"ping"); print(a.recv(4).decode())'
    [ "$status" -eq 0 ]
    [[ "$output" == *"[python3] ping"* ]]
}

@test "own hostname, no view of host processes" {
    run "$SBVM" run -- sh -c 'hostname; ls /proc | grep -c "^[0-9]"'
    [[ "$output" == *"[sh] sandbox"* ]]
    local n
    n="$(tail -1 <<<"$output" | cut -d' ' -f2)"
    # sbvm-init, sh, ls, grep: a handful, never the host's hundreds.
    [ "$n" -le 6 ]
}

@test "the guest and its init get every CPU sandboxvm was given, no more" {
    # While setting up, the guest process runs apart from pid 1's CPU
    # (child.c, start_apart); it must take back all of them before its exec.
    local mine
    mine="$(awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status)"
    for _ in 1 2 3 4 5; do
        run "$SBVM" run -q --no-tag -- sh -c 'grep ^Cpus_allowed_list /proc/self/status /proc/1/status'
        [ "$status" -eq 0 ]
        [[ "$output" == *"/proc/self/status:Cpus_allowed_list:	$mine"* ]]
        [[ "$output" == *"/proc/1/status:Cpus_allowed_list:	$mine"* ]]
    done
    if [ "$(nproc)" -lt 2 ]; then
        skip "one CPU: nothing to restrict further"
    fi
    run taskset -c 1 "$SBVM" run -q --no-tag -- sh -c 'grep ^Cpus_allowed_list /proc/self/status; nproc'
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'Cpus_allowed_list:\t1\n1')" ]
}

@test "the i386 and x32 syscall entries are refused: the filter kills, or the kernel faults first" {
    # The host, outside any sandbox: does its kernel run int 0x80 from 64-bit
    # code at all (IA-32 emulation on)?
    run "$PROBE" int80
    local host_allows=0
    [[ "$output" == *"entry is open"* ]] && host_allows=1
    run --separate-stderr "$SBVM" run -- "$PROBE" int80
    [[ "$output" != *"entry is open"* ]]
    if [ "$host_allows" -eq 1 ]; then
        [ "$status" -eq 159 ]
        [[ "$stderr" == *"denied: syscall getpid (20) through the i386 entry (int 0x80)"* ]]
    else
        echo "# this kernel refuses int 0x80 itself: the report must say so" >&3
        [ "$status" -eq 139 ]
        [[ "$stderr" == *"the instruction is int 0x80, a syscall through the i386 entry, which this host's kernel refuses"* ]]
    fi
    run --separate-stderr "$SBVM" run -- "$PROBE" x32
    [ "$status" -eq 159 ]
    [[ "$stderr" == *"denied: syscall getpid (39) through the x32 ABI"* ]]
}

@test "refused syscalls fail with an error and the guest goes on" {
    run "$SBVM" run -- "$PROBE" refused
    [ "$status" -eq 0 ]
    [[ "$output" == *"io_uring_setup: Function not implemented"* ]]
    [[ "$output" == *"unshare(CLONE_NEWUSER): Operation not permitted"* ]]
    [[ "$output" == *"socket(AF_PACKET): Address family not supported"* ]]
    [[ "$output" == *"still running"* ]]
}

@test "TIOCSTI is refused, also with the upper 32 bits set" {
    run "$SBVM" run -- "$PROBE" tiocsti
    [ "$status" -eq 0 ]
    [[ "$output" == *"TIOCSTI: Operation not permitted; with high bits: Operation not permitted"* ]]
}

@test "a setuid-root binary gains nothing" {
    local su
    su="$(command -v su || true)"
    [ -n "$su" ] && [ -u "$su" ] || skip "no setuid su on this host"
    run "$SBVM" run -- sh -c "$su -c id root </dev/null 2>&1; id -u"
    [[ "$output" == *"[sh] $(guest_uid)"* ]]
    [[ "$output" != *"uid=0(root)"* ]]
}
