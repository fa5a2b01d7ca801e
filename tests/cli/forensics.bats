#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# What the reports say about how a guest died, which syscalls it was refused
# or denied, and what it left behind. The fourteen ways of crashing are
# checked one by one through the library (tests/unit/test-forensics.c);
# here, what reaches the user in text, JSON and JUnit.

load helpers

CRASHER="$GUESTS/crasher"

@test "a crash report in text: signal, code, address, registers, instruction, mappings, backtrace" {
    run --separate-stderr "$SBVM" run -- "$CRASHER" null-write
    [ "$status" -eq 139 ]
    [[ "$stderr" == *"crasher: crashed: SIGSEGV (SEGV_MAPERR: address not mapped to object) at 0x0, pc 0x"*" in null_write+0x"*"crasher.c:"* ]]
    [[ "$stderr" == *"crash in pid 2, the guest (thread 2 \"crasher\")"* ]]
    [[ "$stderr" == *"instruction: "* ]]
    [[ "$stderr" == *"pc in "*"/crasher (r-xp, offset 0x"* ]]
    [[ "$stderr" == *"address 0x0 is not in any mapping"* ]]
    [[ "$stderr" == *"registers:"*"rip "*"rsp "*"rax "*"r15 "* ]]
    [[ "$stderr" == *"#0  0x"*"null_write+0x"*"crasher.c:"* ]]
    [[ "$stderr" == *"main+0x"* ]]
    assert_nothing_left
}

@test "a crash report in JSON has every detail, and in JUnit the details are attached" {
    local d
    d="$(scratch)"
    run "$SBVM" run -q --json "$d/r.json" --junit "$d/r.xml" -- "$CRASHER" thread
    [ "$status" -eq 139 ]
    jcheck "$d/r.json" 'g["outcome"]=="crashed" and len(g["crashes"])==1'
    jcheck "$d/r.json" 'g["crashes"][0]["code"]["name"]=="SEGV_MAPERR" and g["crashes"][0]["address"]=="0x0"'
    jcheck "$d/r.json" 'g["crashes"][0]["tid"]!=g["crashes"][0]["pid"] and g["crashes"][0]["guest"]'
    jcheck "$d/r.json" 'len(g["crashes"][0]["registers"])==27 and g["crashes"][0]["registers"]["rip"]==g["crashes"][0]["pc"]'
    jcheck "$d/r.json" 'g["crashes"][0]["backtrace"][0]["function"]=="null_write" and g["crashes"][0]["backtrace"][0]["file"].endswith("crasher.c")'
    jcheck "$d/r.json" '"thread_main" in [f["function"] for f in g["crashes"][0]["backtrace"]]'
    jcheck "$d/r.json" 'g["crashes"][0]["pc_mapping"]["perms"]=="r-xp" and g["crashes"][0]["address_mapping"] is None'
    jcheck "$d/r.json" 'len(g["crashes"][0]["instruction"].split())==16'
    grep -q '<error message="crashed: SIGSEGV (SEGV_MAPERR' "$d/r.xml"
    grep -q 'thread_main+0x' "$d/r.xml"
    grep -q 'registers:' "$d/r.xml"
    python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$d/r.xml"
    assert_nothing_left
}

@test "--no-symbolize keeps the raw facts and drops the names" {
    local d
    d="$(scratch)"
    run "$SBVM" run -q --no-symbolize --json "$d/r.json" -- "$CRASHER" null-read
    [ "$status" -eq 139 ]
    jcheck "$d/r.json" 'g["crashes"][0]["code"]["name"]=="SEGV_MAPERR" and g["crashes"][0]["pc_mapping"] is not None'
    jcheck "$d/r.json" 'all(f["function"] is None for f in g["crashes"][0]["backtrace"])'
}

@test "a crash in a forked child is reported while the guest itself exits 0" {
    run --separate-stderr "$SBVM" run -- "$CRASHER" fork-child
    [ "$status" -eq 0 ]
    [[ "$output" == *"parent goes on: child died of signal 11"* ]]
    [[ "$stderr" == *"crash in pid 3, a child of the guest"*"forked_child+0x"* ]]
}

@test "glibc's own words come with an abort" {
    run --separate-stderr "$SBVM" run -- "$CRASHER" double-free
    [ "$status" -eq 134 ]
    [[ "$stderr" == *"crashed: SIGABRT"*"it said: free(): double free detected"* ]]
    [[ "$stderr" == *"double_free+0x"* ]]
}

@test "a guest that handles its own SIGSEGV is not reported as a crash" {
    run --separate-stderr "$SBVM" run -- python3 -c '
import signal, sys
signal.signal(signal.SIGSEGV, lambda *a: (print("handled"), sys.exit(3)))
import os; os.kill(os.getpid(), signal.SIGSEGV)'
    [ "$status" -eq 3 ]
    [[ "$output" == *"handled"* ]]
    [[ "$stderr" != *"crash in pid"* ]]
}

@test "refused syscalls fail with an error, the guest goes on, and each is counted by name" {
    local d
    d="$(scratch)"
    run --separate-stderr "$SBVM" run --json "$d/r.json" -- "$PROBE" refused
    [ "$status" -eq 0 ]
    [[ "$output" == *"still running"* ]]
    [[ "$stderr" == *"refused syscalls:"*"io_uring_setup x1 (ENOSYS)"* ]]
    jcheck "$d/r.json" '{"syscall":"io_uring_setup","number":425,"count":1,"errno":38,"errno_name":"ENOSYS"} in g["refused_syscalls"]'
    jcheck "$d/r.json" 'any(r["syscall"]=="unshare" and r["errno_name"]=="EPERM" for r in g["refused_syscalls"])'
}

@test "--allow lifts a default refusal; it is then neither refused nor counted" {
    local d
    d="$(scratch)"
    run "$SBVM" run -q --allow io_uring_setup --json "$d/r.json" -- "$PROBE" refused
    [ "$status" -eq 0 ]
    jcheck "$d/r.json" 'all(r["syscall"]!="io_uring_setup" for r in g["refused_syscalls"])'
}

@test "--deny makes a syscall fatal: outcome denied, naming the call, its number and arguments" {
    local d
    d="$(scratch)"
    run --separate-stderr "$SBVM" run --deny mkdir --json "$d/r.json" -- sh -c 'echo before; mkdir /tmp/sbvm-d; echo after'
    [ "$status" -eq 159 ]
    [[ "$output" == *"before"* ]]
    [[ "$output" != *"after"* ]]
    [[ "$stderr" == *"denied: syscall mkdir (83) with arguments 0x"* ]]
    jcheck "$d/r.json" 'g["outcome"]=="denied" and g["denied"]["syscall"]=="mkdir" and g["denied"]["number"]==83 and len(g["denied"]["args"])==6'
    # The guest and the mkdir process were still there for the inventory.
    jcheck "$d/r.json" 'any(p["argv"].startswith("mkdir") for p in g["ledger"]["processes"])'
    assert_nothing_left
}

@test "--deny and --allow check their names" {
    run --separate-stderr "$SBVM" run --deny no_such_call -- true
    assert_bad_input 125 "--deny no_such_call: not a syscall name"
    run --separate-stderr "$SBVM" run --allow mount -- true
    assert_bad_input 125 "--allow mount: refused; mount stays blocked"
    run --separate-stderr "$SBVM" run --allow "" -- true
    assert_bad_input 125 "--allow"
}

@test "the ledger lists the processes, fds, listeners and files a guest left, then they are gone" {
    local d
    d="$(scratch)"
    run --separate-stderr timeout 30 "$SBVM" run --json "$d/r.json" -- python3 -c '
import os, socket, shutil, time
shutil.copy("/bin/sleep", "/tmp/sbvm-marker")
s = socket.socket(); s.bind(("127.0.0.1", 8080)); s.listen(); s.set_inheritable(True)
f = open("/tmp/notes.txt", "w"); f.write("x" * 100); f.flush(); os.set_inheritable(f.fileno(), True)
pid = os.fork()
if pid == 0:
    os.execv("/tmp/sbvm-marker", ["sbvm-marker", "1000"])
while not open("/proc/%d/cmdline" % pid).read().startswith("sbvm-marker"):
    time.sleep(0.01)
print("parent leaves")'
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"left behind (now removed):"* ]]
    [[ "$stderr" == *"process 3: sbvm-marker 1000"* ]]
    [[ "$stderr" == *"fd 3: socket socket:["* ]]
    [[ "$stderr" == *"fd 4: file /tmp/notes.txt"* ]]
    [[ "$stderr" == *"listening tcp 127.0.0.1:8080 (pid 3)"* ]]
    [[ "$stderr" == *"file /tmp/notes.txt (100 bytes)"* ]]
    jcheck "$d/r.json" '[p["argv"] for p in g["ledger"]["processes"]]==["sbvm-marker 1000"]'
    jcheck "$d/r.json" 'any(f["kind"]=="file" and f["target"]=="/tmp/notes.txt" for f in g["ledger"]["fds"])'
    jcheck "$d/r.json" '{"pid":3,"proto":"tcp","local":"127.0.0.1:8080"} in g["ledger"]["listeners"]'
    jcheck "$d/r.json" '{"path":"/tmp/notes.txt","kind":"file","size":100} in g["ledger"]["files"]'
    jcheck "$d/r.json" 'g["ledger"]["peak_memory_bytes"]>1000000 and g["ledger"]["cpu_user_us"]+g["ledger"]["cpu_system_us"]>0'
    assert_nothing_left
}

@test "a guest that leaves nothing has an empty ledger and no 'left behind' section" {
    local d
    d="$(scratch)"
    run --separate-stderr "$SBVM" run --json "$d/r.json" -- /bin/true
    [ "$status" -eq 0 ]
    [ "$stderr" = "" ]
    jcheck "$d/r.json" 'g["ledger"]["processes"]==[] and g["ledger"]["files"]==[] and g["ledger"]["listeners"]==[]'
}

@test "names and paths from the guest cannot break the report's lines" {
    run --separate-stderr timeout 30 "$SBVM" run -- python3 -c '
import os, time
open("/tmp/a\nsandboxvm: forged line", "w")
pid = os.fork()
if pid == 0:
    os.execv("/bin/sleep", ["sleep\x1b[2J", "100"])
while not open("/proc/%d/cmdline" % pid).read().startswith("sleep"):
    time.sleep(0.01)'
    [ "$status" -eq 0 ]
    [[ "$stderr" == *'file /tmp/a\nsandboxvm: forged line'* ]]
    [[ "$stderr" == *'process 3: sleep\x1b[2J 100'* ]]
    ! grep -q $'\x1b' <<<"$stderr"
    ! grep -q '^sandboxvm: forged' <<<"$stderr"
    assert_nothing_left
}

@test "--keep copies the scratch out, symlinks as symlinks, and never over an earlier copy" {
    local d
    d="$(scratch)"
    run --separate-stderr "$SBVM" run --keep "$d/kept" --name k -- sh -c '
        mkdir -p /tmp/a/b && echo hi > /tmp/a/b/f
        ln -s /etc/shadow /tmp/shadow-link
        ln -s / /tmp/root-link'
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"its /tmp is kept in $d/kept/k"* ]]
    [ "$(cat "$d/kept/k/a/b/f")" = "hi" ]
    [ -L "$d/kept/k/shadow-link" ]
    [ "$(readlink "$d/kept/k/shadow-link")" = "/etc/shadow" ]
    [ -L "$d/kept/k/root-link" ]
    [ "$(stat -c %a "$d/kept")" = "700" ]
    # A second run with the same name would mix two guests' files: refused.
    run --separate-stderr "$SBVM" run --keep "$d/kept" --name k -- true
    assert_bad_input 125 "--keep .*/kept/k exists already"
}

@test "past eight crashes, and past the inventory's caps, the report says how much more there was" {
    local d
    d="$(scratch)"
    run --separate-stderr "$SBVM" run --no-tag --json "$d/r.json" -- sh -c '
        for i in 1 2 3 4 5 6 7 8 9 10; do sh -c "kill -SEGV \$\$"; done
        python3 -c "
for i in range(10050):
    open(\"/tmp/f%d\" % i, \"w\").close()"'
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"... and 2 more crashes, not explained"* ]]
    [[ "$stderr" == *"the inventory stopped at its limits"* ]]
    jcheck "$d/r.json" 'len(g["crashes"])==8 and g["crashes_not_recorded"]==2'
    jcheck "$d/r.json" 'g["ledger"]["truncated"] and len(g["ledger"]["files"])==10000'
    jschema "$d/r.json"
    assert_nothing_left
}

@test "a program living under the host's /tmp is named in its backtrace (its bound file, not the scratch)" {
    local d
    d="$(scratch)"
    [[ "$d" == /tmp/* ]] || skip "the test's scratch is not under /tmp here ($d)"
    cp "$GUESTS/crasher" "$d/crasher"
    run --separate-stderr "$SBVM" run -- "$d/crasher" null-write
    [ "$status" -eq 139 ]
    [[ "$stderr" == *"null_write+0x"*"crasher.c:"* ]] || { echo "$stderr"; return 1; }
    assert_nothing_left
}
