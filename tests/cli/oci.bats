#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# oci.bats: sandboxvm as an OCI runtime (docs/OCI.md). First driven directly,
# as engines drive it, with hand-made bundles of a busybox-static root
# filesystem; then through real engines (podman as root and rootless,
# containerd's ctr), which are skipped with a reason where missing.
# Every test checks that nothing is left behind: no process, no state
# directory, no mount, no cgroup.

load helpers

REAPER="$TOP/tests/cli/oci-reaper.py"
CONSOLE="$TOP/tests/cli/oci-console.py"
PTY="$TOP/tests/cli/pty-drive.py"

setup_file() {
    BUSYBOX="$(command -v busybox || true)"
    # Static (busybox-static), so that a root filesystem of it alone runs.
    if [ -n "$BUSYBOX" ] && ldd "$BUSYBOX" >/dev/null 2>&1; then
        BUSYBOX=""
    fi
    export BUSYBOX
}

setup() {
    [ -x "$SBVM" ] || skip "sandboxvm is not built at $SBVM"
    [ -n "$BUSYBOX" ] || skip "busybox-static is not installed (scripts/deps.sh test)"
    S="$(scratch)"
    ROOT="$S/state"
    BEFORE="$(leftovers)"
    BEFORE_TMP="$(tmp_names)"
}

teardown() {
    # Whatever a failed test left running is ended, so that the next one
    # starts clean; assertions about leftovers are made inside each test.
    local d
    for d in "$ROOT"/*/; do
        [ -d "$d" ] && "$SBVM_REAL" oci --root "$ROOT" delete --force "$(basename "$d")" 2>/dev/null
    done
    true
}

rt() {
    "$SBVM" oci --root "$ROOT" "$@"
}

# The monitor a create wrote to PIDFILE is a supervisor of this run (its
# cgroups count in stale_cgroups).
note_monitor() {
    [ -s "$1" ] && cat "$1" >>"$SBVM_PIDS"
    true
}

# rootfs DIR: a busybox-static root filesystem.
rootfs() {
    mkdir -p "$1"/bin "$1"/proc "$1"/dev "$1"/tmp "$1"/etc "$1"/sys "$1"/data
    cp "$BUSYBOX" "$1/bin/busybox"
    local c
    for c in sh echo true false cat sleep id hostname ls mkdir touch env pwd stat kill ps \
        unshare mount umask tty stty printf head; do
        ln -sf busybox "$1/bin/$c"
    done
}

# bundle DIR ARGS_JSON [PYTHON]: a bundle whose process runs ARGS_JSON; the
# Python statements, if given, change the config `c` first.
bundle() {
    local dir="$1" args="$2" edit="${3:-}"
    mkdir -p "$dir"
    [ -d "$dir/rootfs" ] || rootfs "$dir/rootfs"
    python3 - "$dir/config.json" "$args" "$edit" <<'PY'
import json, sys
path, args, edit = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
c = {
    "ociVersion": "1.0.2",
    "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
                "env": ["PATH=/bin", "GREETING=hello"], "cwd": "/",
                "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"]},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}],
                "noNewPrivileges": True},
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "bbox",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts"},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm"},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
    ],
    "linux": {"namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
              "maskedPaths": ["/proc/kcore", "/proc/does-not-exist"],
              "readonlyPaths": ["/proc/sys"]},
}
exec(edit)
json.dump(c, open(path, "w"), indent=1)
PY
}

# The state's field, or "gone" when the container does not exist.
state_of() {
    local out
    out="$(rt state "$1" 2>/dev/null)" || { echo gone; return; }
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d.get(sys.argv[2]) if sys.argv[2] in d else d.get("sandboxvm", {}).get(sys.argv[2]))' "$out" "${2:-status}"
}

wait_status() {
    local id="$1" want="$2" i
    for i in $(seq 100); do
        [ "$(state_of "$id")" = "$want" ] && return 0
        sleep 0.1
    done
    echo "container $id is $(state_of "$id"), not $want"
    return 1
}

# ---- the runtime on its own ------------------------------------------------

@test "oci: --version names the spec; features is JSON; --help teaches the commands" {
    run "$SBVM" oci --version
    [ "$status" -eq 0 ]
    [[ "$output" == *"spec: 1.2.0"* ]]
    run "$SBVM" oci features
    [ "$status" -eq 0 ]
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["ociVersionMax"] == "1.2.0"; assert "SCMP_ACT_ERRNO" in d["linux"]["seccomp"]["actions"]' "$output"
    run "$SBVM" oci --help
    [[ "$output" == *"create --bundle"* && "$output" == *"delete [--force]"* ]]
    run "$TOP/build/sandboxvm-oci" --version
    [ "$status" -eq 0 ]
    [[ "$output" == *"spec: 1.2.0"* ]]
}

@test "oci: create, start, state, kill and delete: the waiter sees the container's own status" {
    bundle "$S/b" '["sh", "-c", "echo $GREETING from $(hostname); exec sleep 30"]'
    run --separate-stderr python3 "$REAPER" "$S/pid" 30 "
        '$SBVM' oci --root '$ROOT' create --bundle '$S/b' --pid-file '$S/pid' c1 >'$S/out' 2>'$S/err' &&
        cat '$S/pid' >>'$SBVM_PIDS' &&
        [ \"\$('$SBVM' oci --root '$ROOT' state c1 | grep -c '\"status\": \"created\"')\" = 1 ] &&
        '$SBVM' oci --root '$ROOT' start c1 &&
        for i in \$(seq 50); do grep -q hello '$S/out' && break; sleep 0.1; done &&
        [ \"\$('$SBVM' oci --root '$ROOT' state c1 | grep -c '\"status\": \"running\"')\" = 1 ] &&
        '$SBVM' oci --root '$ROOT' kill c1 TERM"
    [ "$output" = "signal 15" ] || { echo "$output $stderr"; cat "$S/err"; false; }
    [ "$(cat "$S/out")" = "hello from bbox" ]
    [ "$(state_of c1)" = stopped ]
    [ "$(state_of c1 exitStatus)" = 143 ]
    run rt kill c1 KILL
    [ "$status" -eq 1 ]
    [[ "$output" == *"not running"* ]]
    rt delete c1
    run rt state c1
    [ "$status" -eq 1 ]
    [[ "$output" == *'"c1" does not exist'* ]]
    [ -z "$(ls "$ROOT")" ]
    assert_nothing_left
}

@test "oci: run relays the output and ends with the container's exit code" {
    bundle "$S/b" '["sh", "-c", "echo out; echo err >&2; exit 3"]'
    run --separate-stderr rt run --bundle "$S/b" r1
    [ "$status" -eq 3 ]
    [ "$output" = out ]
    [ "$stderr" = err ]
    [ -z "$(ls "$ROOT")" ]
    assert_nothing_left
}

@test "oci: the config's host name, environment, directory, umask, rlimits and views apply" {
    bundle "$S/b" '["sh", "-c", "hostname; echo $GREETING; pwd; umask; ulimit -n; ulimit -Hn; cat /proc/kcore | wc -c; echo 1 > /proc/sys/kernel/shmmni || echo sys-ro; touch /x || echo root-ro; ls /sys | wc -l; id -u"]' \
        'c["process"]["cwd"] = "/etc"; c["process"]["user"]["umask"] = 0o27'
    run --separate-stderr rt run --bundle "$S/b" v1
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = bbox ]
    [ "${lines[1]}" = hello ]
    [ "${lines[2]}" = /etc ]
    [ "${lines[3]}" = 0027 ]
    [ "${lines[4]}" = 256 ]
    [ "${lines[5]}" = 512 ]
    [ "${lines[6]}" = 0 ]
    [ "${lines[7]}" = sys-ro ]
    [ "${lines[8]}" = root-ro ]
    [ "${lines[9]}" = 0 ]
    [ "${lines[10]}" = 0 ]
    assert_nothing_left
}

@test "oci: a writable rootfs is written; a rw bind mount too, a ro one refuses" {
    mkdir -p "$S/rw" "$S/ro"
    bundle "$S/b" '["sh", "-c", "echo a > /made && echo b > /rw/made && (echo c > /ro/x || echo ro-refused)"]' \
        "c['root']['readonly'] = False; c['mounts'] += [{'destination': '/rw', 'type': 'bind', 'source': '$S/rw', 'options': ['rbind']}, {'destination': '/ro', 'type': 'bind', 'source': '$S/ro', 'options': ['bind', 'ro']}]"
    run --separate-stderr rt run --bundle "$S/b" w1
    [ "$status" -eq 0 ]
    [ "$output" = ro-refused ]
    [ "$(cat "$S/b/rootfs/made")" = a ]
    [ "$(cat "$S/rw/made")" = b ]
    [ ! -e "$S/ro/x" ]
    assert_nothing_left
}

@test "oci: as root, the process runs as the config's uid and gid, with its groups" {
    [ "$(id -u)" = 0 ] || skip "mapping other ids needs root"
    bundle "$S/b" '["sh", "-c", "id -u; id -g; id -G"]' \
        'c["process"]["user"] = {"uid": 1234, "gid": 2345, "additionalGids": [3456]}'
    run --separate-stderr rt run --bundle "$S/b" u1
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = 1234 ]
    [ "${lines[1]}" = 2345 ]
    [[ "${lines[2]}" == *3456* ]]
    assert_nothing_left
}

@test "oci: a crash: 139 to the waiter, the full report in the log and report.txt, one line on stderr" {
    [ -x "$GUESTS/crasher" ] || skip "the crasher fixture is not built"
    bundle "$S/b" '["/crasher", "null-write"]' \
        "c['mounts'] += [{'destination': d, 'type': 'bind', 'source': d, 'options': ['rbind', 'ro']} for d in ('/usr', '/lib', '/lib64')] + [{'destination': '/crasher', 'type': 'bind', 'source': '$GUESTS/crasher', 'options': ['bind', 'ro']}]"
    mkdir -p "$S/b/rootfs/usr" "$S/b/rootfs/lib" "$S/b/rootfs/lib64"
    run --separate-stderr python3 "$REAPER" "$S/pid" 30 "
        '$SBVM' oci --root '$ROOT' --log '$S/log.json' --log-format json create --bundle '$S/b' --pid-file '$S/pid' k1 >'$S/out' 2>'$S/err' &&
        cat '$S/pid' >>'$SBVM_PIDS' && '$SBVM' oci --root '$ROOT' start k1"
    [ "$output" = "signal 11" ]
    # stderr: the program's line, then sandboxvm's one line.
    grep -q 'sandboxvm: container k1 crashed: SIGSEGV (SEGV_MAPERR.*) at 0x0, .* in null_write.*crasher.c:[0-9]*); full report: .*/k1/report.txt' "$S/err"
    [ "$(grep -c '^sandboxvm:' "$S/err")" -eq 1 ]
    grep -q 'backtrace:' "$ROOT/k1/report.txt"
    grep -q 'main+0x.* (.*crasher.c:[0-9]*)' "$ROOT/k1/report.txt"
    [ "$(state_of k1 exitStatus)" = 139 ]
    # The log is JSON lines, as containerd's shim reads them.
    python3 -c 'import json,sys; ls=[json.loads(l) for l in open(sys.argv[1])]; assert any(l["level"] == "warning" and "null_write" in l["msg"] and "registers" in l["msg"] for l in ls)' "$S/log.json"
    rt --log "$S/log.json" --log-format json delete k1
    # delete writes the ledger to the log.
    python3 -c 'import json,sys; ls=[json.loads(l) for l in open(sys.argv[1])]; assert any("its ledger" in l["msg"] for l in ls)' "$S/log.json"
    [ -z "$(ls "$ROOT")" ]
    assert_nothing_left
}

@test "oci: refused system calls are counted in the report" {
    bundle "$S/b" '["sh", "-c", "mount -t tmpfs none /tmp 2>/dev/null; unshare -U true 2>/dev/null; echo done"]'
    rt create --bundle "$S/b" --pid-file "$S/pid" f1 >"$S/out" 2>"$S/err"
    note_monitor "$S/pid"
    rt start f1
    wait_status f1 stopped
    [ "$(state_of f1 exitStatus)" = 0 ]
    grep -q 'mount' "$ROOT/f1/report.txt"
    grep -q 'unshare' "$ROOT/f1/report.txt"
    rt delete f1
    assert_nothing_left
}

@test "oci: the container's seccomp profile can only refuse more, never allow what sandboxvm refuses" {
    bundle "$S/b" '["sh", "-c", "mkdir /tmp/d 2>/dev/null || echo mkdir-refused; unshare -U true 2>/dev/null || echo unshare-refused; echo alive"]' \
        'c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}, {"names": ["unshare", "mount"], "action": "SCMP_ACT_ALLOW"}]}'
    run --separate-stderr rt run --bundle "$S/b" s1
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = mkdir-refused ]
    [ "${lines[1]}" = unshare-refused ]
    [ "${lines[2]}" = alive ]
    # A profile that kills on a call ends the container with SIGSYS.
    bundle "$S/b2" '["sh", "-c", "echo before; exec mkdir /tmp/d"]' \
        'c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}]}'
    run --separate-stderr rt run --bundle "$S/b2" s2
    [ "$status" -eq $((128 + 31)) ]
    [ "$output" = before ]
    assert_nothing_left
}

@test "oci: what sandboxvm refuses by design fails create, naming the field, leaving nothing" {
    bundle "$S/b" '["true"]' 'c["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")'
    run --separate-stderr rt create --bundle "$S/b" --pid-file "$S/pid" x1
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"process.capabilities: bounding: CAP_SYS_ADMIN"*"refused by design"* ]]
    [ ! -e "$S/pid" ]
    bundle "$S/b" '["true"]' 'c["linux"]["devices"] = [{"type": "c", "path": "/dev/kvm", "major": 10, "minor": 232}]'
    run --separate-stderr rt create --bundle "$S/b" x2
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"linux.devices"* ]]
    bundle "$S/b" '["true"]' 'c["annotations"] = {"io.podman.annotations.privileged": "TRUE"}'
    run --separate-stderr rt create --bundle "$S/b" x3
    [[ "$stderr" == *"privileged containers are refused"* ]]
    bundle "$S/b" '["true"]' 'c["linux"]["namespaces"][0]["path"] = "/proc/1/ns/pid"'
    run --separate-stderr rt create --bundle "$S/b" x4
    [[ "$stderr" == *"linux.namespaces: pid: joining an existing pid namespace is not supported"* ]]
    bundle "$S/b" '["nosuch-program"]'
    run --separate-stderr rt create --bundle "$S/b" x5
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"process.args"*"nosuch-program"* ]]
    run --separate-stderr rt create --bundle "$S/nowhere" x6
    [ "$status" -eq 1 ]
    run --separate-stderr rt create --bundle "$S/b" ../escape
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"invalid container ID"* ]]
    echo '{"ociVersion": "1.0.0", "root": ' >"$S/b/config.json"
    run --separate-stderr rt create --bundle "$S/b" x7
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"config.json: line"* ]]
    [ -z "$(ls "$ROOT" 2>/dev/null)" ]
    assert_nothing_left
}

@test "oci: an ID is unique; delete refuses a running container without --force, and --force ends it" {
    bundle "$S/b" '["sleep", "30"]'
    rt create --bundle "$S/b" --pid-file "$S/pid" d1 >"$S/out" 2>"$S/err"
    note_monitor "$S/pid"
    run --separate-stderr rt create --bundle "$S/b" d1
    [ "$status" -eq 1 ]
    [[ "$stderr" == *'"d1" already exists'* ]]
    rt start d1
    run --separate-stderr rt delete d1
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"not stopped (it is running); use --force"* ]]
    pid="$(cat "$S/pid")"
    rt delete --force d1
    [ ! -d "/proc/$pid" ] || grep -q '^State:.*Z' "/proc/$pid/status"
    run rt delete --force d1
    [ "$status" -eq 0 ]
    assert_nothing_left
}

@test "oci: a created container that is killed or deleted never runs its program" {
    bundle "$S/b" '["sh", "-c", "echo ran > /data/ran"]' \
        "c['mounts'].append({'destination': '/data', 'type': 'bind', 'source': '$S', 'options': ['rbind']})"
    run python3 "$REAPER" "$S/pid" 30 "
        '$SBVM' oci --root '$ROOT' create --bundle '$S/b' --pid-file '$S/pid' h1 &&
        cat '$S/pid' >>'$SBVM_PIDS' && '$SBVM' oci --root '$ROOT' kill h1 KILL"
    [ "$output" = "signal 9" ]
    [ ! -e "$S/ran" ]
    rt delete h1
    rt create --bundle "$S/b" --pid-file "$S/pid" h2 >"$S/out" 2>"$S/err"
    note_monitor "$S/pid"
    rt delete h2
    sleep 0.2
    [ ! -e "$S/ran" ]
    assert_nothing_left
}

@test "oci: exec runs in the container and ends like its process; a missing one says so" {
    bundle "$S/b" '["sleep", "30"]'
    rt create --bundle "$S/b" --pid-file "$S/pid" e1 >"$S/out" 2>"$S/err"
    note_monitor "$S/pid"
    rt start e1
    run --separate-stderr rt exec e1 sh -c 'echo in $(hostname); ps | grep -c "[s]leep 30"; exit 7'
    [ "$status" -eq 7 ]
    [ "${lines[0]}" = "in bbox" ]
    [ "${lines[1]}" = 1 ]
    run --separate-stderr rt exec e1 nosuch
    [ "$status" -eq 1 ]
    [[ "$stderr" == *'"nosuch": executable file not found in $PATH'* ]]
    # --process FILE, --detach and --pid-file, as podman calls it; the
    # exec'd process's status goes to the waiter.
    echo '{"args": ["sh", "-c", "exit 5"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}' >"$S/proc.json"
    run python3 "$REAPER" "$S/epid" 30 \
        "'$SBVM' oci --root '$ROOT' exec --process '$S/proc.json' --detach --pid-file '$S/epid' e1"
    [ "$output" = "exit 5" ]
    # Another user, or capabilities, are refused.
    echo '{"args": ["id"], "cwd": "/", "user": {"uid": 1000, "gid": 0}}' >"$S/proc2.json"
    run --separate-stderr rt exec --process "$S/proc2.json" e1
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"process.user"* ]]
    rt kill e1 KILL
    wait_status e1 stopped
    run --separate-stderr rt exec e1 true
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"it is stopped"* ]]
    rt delete e1
    assert_nothing_left
}

@test "oci: pause freezes every process of the container, resume thaws them" {
    bundle "$S/b" '["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /data/count; sleep 0.05; done"]' \
        "c['mounts'].append({'destination': '/data', 'type': 'bind', 'source': '$S', 'options': ['rbind']})"
    rt create --bundle "$S/b" --pid-file "$S/pid" p1 >"$S/out" 2>"$S/err"
    note_monitor "$S/pid"
    rt start p1
    for i in $(seq 50); do [ -s "$S/count" ] && break; sleep 0.1; done
    rt pause p1
    [ "$(state_of p1)" = paused ]
    sleep 0.3
    a="$(cat "$S/count")"
    sleep 0.5
    [ "$(cat "$S/count")" = "$a" ]
    run --separate-stderr rt pause p1
    [ "$status" -eq 1 ]
    rt resume p1
    [ "$(state_of p1)" = running ]
    sleep 0.5
    [ "$(cat "$S/count")" -gt "$a" ]
    rt delete --force p1
    assert_nothing_left
}

@test "oci: a terminal goes to --console-socket, from the container's own devpts" {
    bundle "$S/b" '["sh"]' 'c["process"]["terminal"] = True; c["process"]["consoleSize"] = {"height": 30, "width": 90}'
    run python3 "$CONSOLE" "$S/console.sock" 'tty; stty size; exit 4\n' "
        '$SBVM' oci --root '$ROOT' create --bundle '$S/b' --pid-file '$S/pid' --console-socket '$S/console.sock' t1 &&
        cat '$S/pid' >>'$SBVM_PIDS' && '$SBVM' oci --root '$ROOT' start t1"
    [ "$status" -eq 0 ]
    [[ "$output" == *"/dev/pts/0"* ]]
    [[ "$output" == *"30 90"* ]]
    wait_status t1 stopped
    [ "$(state_of t1 exitStatus)" = 4 ]
    rt delete t1
    # Without a console socket a terminal cannot be given.
    run --separate-stderr rt create --bundle "$S/b" t2
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"--console-socket"* ]]
    assert_nothing_left
}

@test "oci: kill -9 of the monitor ends the container; state says stopped; delete cleans up" {
    bundle "$S/b" '["sh", "-c", "exec sleep 30"]'
    rt create --bundle "$S/b" --pid-file "$S/pid" m1 >"$S/out" 2>"$S/err"
    note_monitor "$S/pid"
    rt start m1
    mon="$(cat "$S/pid")"
    kids="$(pgrep -P "$mon" | tr '\n' ' ')"
    [ -n "$kids" ]
    kill -9 "$mon"
    for i in $(seq 50); do
        alive=0
        for k in $kids; do [ -d "/proc/$k" ] && ! grep -q '^State:.*Z' "/proc/$k/status" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    [ "$alive" = 0 ]
    [ "$(state_of m1)" = stopped ]
    rt delete m1
    assert_nothing_left
}

@test "oci: kill -9 of the process waiting for the container (conmon, a shim) ends it" {
    bundle "$S/b" '["sh", "-c", "exec sleep 30"]'
    python3 "$REAPER" "$S/pid" 60 "
        '$SBVM' oci --root '$ROOT' create --bundle '$S/b' --pid-file '$S/pid' w1 &&
        cat '$S/pid' >>'$SBVM_PIDS' && '$SBVM' oci --root '$ROOT' start w1" 3>&- &
    waiter=$!
    wait_status w1 running
    kill -9 "$waiter"
    wait "$waiter" || true
    wait_status w1 stopped
    rt delete w1
    assert_nothing_left
}

@test "oci: list shows the containers; state of an unknown one does not exist" {
    bundle "$S/b" '["sleep", "30"]'
    rt create --bundle "$S/b" --pid-file "$S/pid" l1 >"$S/out" 2>"$S/err"
    note_monitor "$S/pid"
    run rt list -q
    [ "$output" = l1 ]
    run rt list --format json
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d[0]["id"] == "l1" and d[0]["status"] == "created"' "$output"
    run --separate-stderr rt state nope
    [ "$status" -eq 1 ]
    [[ "$stderr" == *'"nope" does not exist'* ]]
    rt delete l1
    assert_nothing_left
}
