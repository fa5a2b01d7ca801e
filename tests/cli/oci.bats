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
    # An engine a failed test started.
    if [ -n "${CTD:-}" ] && [ -d "/proc/$CTD" ]; then containerd_teardown; fi
    if [ -n "${P:-}" ]; then podman_teardown; fi
    true
}

# Tests that run the same C paths as the ones kept in every pass (create,
# start, run, the config applied, a crash, exec, a terminal) or whose C code
# the unit suite 'oci' runs in every pass (the parser, its policy, the
# seccomp profile): the root pass only, not the ASan pass (ASAN_OPTIONS set)
# nor the ordinary user's, where all of them took two to four minutes more
# under load (CI's time budget).
root_pass_only() {
    [ -z "${ASAN_OPTIONS:-}" ] || skip "the root pass only (its code runs under ASan in the other tests)"
    [ "$(id -u)" = 0 ] || skip "the root pass only (its code runs as uid $(id -u) in the other tests)"
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
        unshare mount umask tty stty printf head mv; do
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
    root_pass_only
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
    root_pass_only
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
    root_pass_only
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
    root_pass_only
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
    root_pass_only
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
    root_pass_only
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
    root_pass_only
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
    root_pass_only
    # The count is replaced, never rewritten in place: a pause between a
    # truncation and a write would leave it empty.
    bundle "$S/b" '["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /data/c.t; mv /data/c.t /data/count; sleep 0.05; done"]' \
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
    for i in $(seq 50); do [ "$(cat "$S/count")" -gt "$a" ] && break; sleep 0.1; done
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
    root_pass_only
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

# ---- cgroups: linux.resources.cpu and linux.cgroupsPath -------------------

# cpu_cgroup: where a container's group at the config's absolute path $CGP
# has its cpu files (CPU_DIR) and its cpuset files (SET_DIR, empty where
# that controller is not ours), and the version (CGV); skips with the
# reason where this host gives the runtime no cpu controller. As on cgroup
# v2 the runtime only uses what the hierarchy's root enables for its
# children (cgroup.subtree_control), and on v1 needs root.
cpu_cgroup() {
    [ "$(id -u)" = 0 ] || skip "cgroup settings are applied as root only (the log says so otherwise)"
    CGP="/sbvm-ocitest-${S##*/}/c"
    SET_DIR=
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control ||
            skip "cgroup v2: the root's subtree_control does not enable cpu"
        CGV=2 CPU_DIR="/sys/fs/cgroup$CGP"
        grep -qw cpuset /sys/fs/cgroup/cgroup.subtree_control && SET_DIR="$CPU_DIR"
    elif [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
        CGV=1 CPU_DIR="/sys/fs/cgroup/cpu$CGP"
        [ -f /sys/fs/cgroup/cpuset/cpuset.cpus ] && SET_DIR="/sys/fs/cgroup/cpuset$CGP"
    else
        skip "no cpu cgroup controller here (neither cgroup v2 with cpu nor v1's cpu hierarchy)"
    fi
    true
}

# Groups of the test's path left in any hierarchy.
cg_left() {
    find /sys/fs/cgroup -maxdepth 3 -type d -name "sbvm-ocitest-${S##*/}" 2>/dev/null | wc -l
}

@test "oci: linux.resources.cpu and cgroupsPath are the container's cgroup while it runs; delete removes it" {
    cpu_cgroup
    bundle "$S/b" '["sh", "-c", "exec sleep 30"]' \
        "c['linux']['cgroupsPath'] = '$CGP'; c['linux']['resources'] = {'cpu': {'quota': 25000, 'period': 50000, 'shares': 512, 'cpus': '0', 'mems': '0'}, 'pids': {'limit': 64}}"
    [ -n "$SET_DIR" ] || python3 -c "import json,sys; c=json.load(open(sys.argv[1])); [c['linux']['resources']['cpu'].pop(k) for k in ('cpus','mems')]; json.dump(c, open(sys.argv[1],'w'))" "$S/b/config.json"
    rt create --bundle "$S/b" --pid-file "$S/pid" g1 >"$S/out" 2>"$S/err" || { cat "$S/err"; false; }
    note_monitor "$S/pid"
    rt start g1
    # The container's process is in the group at the config's path.
    pgrep -f "sleep 30" | grep -qxf "$CPU_DIR/cgroup.procs"
    if [ "$CGV" = 1 ]; then
        [ "$(cat "$CPU_DIR/cpu.cfs_quota_us")" = 25000 ]
        [ "$(cat "$CPU_DIR/cpu.cfs_period_us")" = 50000 ]
        [ "$(cat "$CPU_DIR/cpu.shares")" = 512 ]
    else
        [ "$(cat "$CPU_DIR/cpu.max")" = "25000 50000" ]
        # 512 shares as runc and crun weigh them: 1 + (512 - 2) * 9999 / 262142.
        [ "$(cat "$CPU_DIR/cpu.weight")" = 20 ]
    fi
    if [ -n "$SET_DIR" ]; then
        [ "$(cat "$SET_DIR/cpuset.cpus")" = 0 ]
        [ "$(cat "$SET_DIR/cpuset.mems")" = 0 ]
    fi
    # A second container at the same path is refused: its group has a process.
    bundle "$S/b2" '["true"]' "c['linux']['cgroupsPath'] = '$CGP'"
    run rt create --bundle "$S/b2" g2
    [ "$status" -ne 0 ]
    [[ "$output" == *"has processes in it"* ]]
    rt kill g1 KILL
    wait_status g1 stopped
    rt delete g1
    [ "$(cg_left)" = 0 ] || { find /sys/fs/cgroup -maxdepth 3 -name "sbvm-ocitest-${S##*/}"; false; }
    assert_nothing_left
}

@test "oci: a container's cgroup at cgroupsPath is removed when its monitor is killed -9; hostile paths are refused" {
    root_pass_only
    cpu_cgroup
    bundle "$S/b" '["sh", "-c", "exec sleep 30"]' \
        "c['linux']['cgroupsPath'] = '$CGP'; c['linux']['resources'] = {'cpu': {'quota': 100000}}"
    rt create --bundle "$S/b" --pid-file "$S/pid" k1 >"$S/out" 2>"$S/err" || { cat "$S/err"; false; }
    note_monitor "$S/pid"
    [ "$(cg_left)" != 0 ]
    kill -9 "$(cat "$S/pid")"
    for i in $(seq 50); do [ "$(cg_left)" = 0 ] && break; sleep 0.1; done
    [ "$(cg_left)" = 0 ]
    rt delete k1
    for p in /../../x /a/../../x 'a\nb' /x//y; do
        bundle "$S/h" '["true"]' "c['linux']['cgroupsPath'] = '$p'"
        run rt create --bundle "$S/h" h1
        [ "$status" -ne 0 ]
        [[ "$output" == *"linux.cgroupsPath"* ]]
    done
    bundle "$S/h" '["true"]' "c['linux']['resources'] = {'cpu': {'quota': 10}}"
    run rt create --bundle "$S/h" h1
    [ "$status" -ne 0 ]
    [[ "$output" == *"linux.resources.cpu.quota"* ]]
    assert_nothing_left
}

@test "oci: without root, linux.resources.cpu and cgroupsPath are noted as not applied" {
    [ "$(id -u)" != 0 ] || skip "the ordinary user's pass (as root they are applied: the tests above)"
    bundle "$S/b" '["true"]' \
        "c['linux']['cgroupsPath'] = '/sbvm-ocitest-x/c'; c['linux']['resources'] = {'cpu': {'quota': 50000}}"
    run rt --log "$S/log" run --bundle "$S/b" n1
    [ "$status" -eq 0 ]
    grep -q "linux.resources.cpu: not applied without root" "$S/log"
    grep -q "linux.cgroupsPath: not applied without root" "$S/log"
    assert_nothing_left
}

@test "oci: kill -9 of the process waiting for the container (conmon, a shim) ends it" {
    root_pass_only
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

@test "oci: the broker's annotation: the allowed server is reached through it, another refused and reported" {
    # A server of the test's own on the host's loopback (no traffic leaves
    # the machine); the container has a network namespace of its own and
    # nothing in it, so the broker is its only way out.
    mkdir -p "$S/www"
    echo allowed-content >"$S/www/ok.txt"
    python3 "$TOP/tests/cli/net/httpd.py" "$S/www" "$S/httpd.log" >"$S/httpd.port" &
    httpd=$!
    for i in $(seq 100); do [ -s "$S/httpd.port" ] && break; sleep 0.05; done
    port="$(cat "$S/httpd.port")"
    # busybox wget finds the broker in http_proxy, as curl would; the
    # second address is another host as the broker sees it.
    bundle "$S/b" "[\"sh\", \"-c\", \"wget -q -O - http://127.0.0.1:$port/ok.txt; wget -q -O - http://127.0.0.2:$port/ok.txt || echo refused\"]" \
        "c['annotations'] = {'run.sandboxvm.net.allow': '127.0.0.1:$port', 'run.sandboxvm.net.allow-private': 'true'}"
    run --separate-stderr rt --log "$S/log" run --bundle "$S/b" n1
    st1=$status out1="$output" err1="$stderr"
    # Without allow-private, the broker refuses the loopback address too.
    bundle "$S/b2" "[\"sh\", \"-c\", \"wget -q -O - http://127.0.0.1:$port/ok.txt || echo refused\"]" \
        "c['annotations'] = {'run.sandboxvm.net.allow': '127.0.0.1:$port'}"
    run --separate-stderr rt --log "$S/log2" run --bundle "$S/b2" n2
    kill "$httpd"
    wait "$httpd" || true
    [ "$st1" -eq 0 ] || { echo "$err1"; cat "$S/log"; false; }
    [ "$out1" = "$(printf 'allowed-content\nrefused')" ]
    [[ "$err1" == *"403 Forbidden"* ]]
    # Every attempt is in the ledger delete writes to the log.
    grep -q "allowed GET 127.0.0.1:$port/ok.txt via 127.0.0.1" "$S/log"
    grep -q "refused GET 127.0.0.2:$port/ok.txt: not in the allowlist" "$S/log"
    # The server saw the allowed request alone.
    [ "$(grep -c 'GET /ok.txt' "$S/httpd.log")" -eq 1 ]
    [ "$status" -eq 0 ]
    [ "$output" = refused ]
    grep -q "refused GET 127.0.0.1:$port/ok.txt: .*loopback" "$S/log2"
    # A wildcard rule is refused, naming the annotation.
    bundle "$S/b3" '["true"]' "c['annotations'] = {'run.sandboxvm.net.allow': '*'}"
    run --separate-stderr rt run --bundle "$S/b3" n3
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"annotations.run.sandboxvm.net.allow: a wildcard"* ]]
    [ -z "$(ls "$ROOT")" ]
    assert_nothing_left
}

@test "oci: list shows the containers; state of an unknown one does not exist" {
    root_pass_only
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

# ---- real engines -------------------------------------------------------------

# rtwrap PATH: the runtime as engines call it, by path; the monitors it makes
# are noted as this run's supervisors (stale_cgroups counts theirs).
rtwrap() {
    cat >"$1" <<EOF2
#!/bin/sh
pidfile=
prev=
for a in "\$@"; do
    [ "\$prev" = --pid-file ] && pidfile="\$a"
    case "\$a" in --pid-file=*) pidfile="\${a#--pid-file=}" ;; esac
    prev="\$a"
done
"$SBVM_REAL" oci "\$@"
s=\$?
[ -n "${2:-}" ] && [ -n "\$pidfile" ] && [ -s "\$pidfile" ] && cat "\$pidfile" >>"$SBVM_PIDS"
exit \$s
EOF2
    chmod 755 "$1"
}

# The engines' tests run in the root pass of scripts/test.sh only: not as an
# ordinary user (podman and containerd as root), and not in the ASan pass
# (ASAN_OPTIONS set), where they would add minutes for the code the direct
# tests above already run under ASan.
engine_pass() {
    [ -z "${ASAN_OPTIONS:-}" ] || skip "engines: the root pass only (ASan: the direct tests cover the same code)"
}

# An image of the busybox root filesystem (and one with the crasher and its
# libraries), made offline with podman import into private storage.
podman_setup() {
    engine_pass
    [ "$(id -u)" = 0 ] || skip "podman as root: this pass runs as uid $(id -u)"
    command -v podman >/dev/null || skip "podman is not installed (scripts/deps.sh oci)"
    command -v conmon >/dev/null || [ -x /usr/libexec/podman/conmon ] || skip "conmon is not installed"
    rtwrap "$S/sandboxvm-oci" note
    P=(podman --root "$S/storage" --runroot "$S/run" --tmpdir "$S/tmp" --storage-driver vfs
        --cgroup-manager cgroupfs --events-backend none --runtime "$S/sandboxvm-oci")
    # Root may lack CAP_SYS_RESOURCE (then its rlimits cannot be raised, by
    # runc either): ask for what it has. The runtime runs with at most 32768
    # processes whatever our shell has (seen: podman 4.3 lowers it).
    local nofile nproc
    nofile="$(ulimit -Hn)"
    nproc="$(ulimit -Hu)"
    if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
    if [ "$nofile" = unlimited ] || [ "$nofile" -gt 1048576 ]; then nofile=1048576; fi
    ULIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
    rootfs "$S/img"
    tar -C "$S/img" -cf "$S/img.tar" .
    "${P[@]}" import -q "$S/img.tar" localhost/sbvm-bb:oci >/dev/null
}

podman_teardown() {
    "${P[@]}" rm -af -t 0 >/dev/null 2>&1 || true
    rm -rf "$S/storage" "$S/run" "$S/tmp" 2>/dev/null || true
}

@test "oci: podman (root) runs containers in sandboxvm: output, exit codes, exec, stop, kill, rm" {
    podman_setup
    run --separate-stderr "${P[@]}" run --rm --network none "${ULIMITS[@]}" localhost/sbvm-bb:oci sh -c 'echo hi from $(hostname | wc -c); exit 42'
    [ "$status" -eq 42 ] || { echo "$stderr"; false; }
    [ "$output" = "hi from 13" ]
    # --cpus reaches the container's cgroup at the path podman gives
    # (cgroupsPath), where this host has a cpu controller for the runtime.
    local cpus=()
    if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] || grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
        cpus=(--cpus 0.5)
    fi
    "${P[@]}" run -d --name c1 --network none "${ULIMITS[@]}" "${cpus[@]}" localhost/sbvm-bb:oci sleep 300 >/dev/null
    if [ -n "${cpus[*]}" ]; then
        id="$("${P[@]}" inspect -f '{{.Id}}' c1)"
        f="$(find /sys/fs/cgroup -maxdepth 5 \( -name cpu.cfs_quota_us -o -name cpu.max \) -path "*$id*" | head -1)"
        [ -n "$f" ] || { echo "no cpu cgroup of container $id"; false; }
        [[ "$(cat "$f")" == 50000* ]] || { echo "$f: $(cat "$f")"; false; }
    fi
    run --separate-stderr "${P[@]}" exec c1 sh -c 'echo exec in; exit 5'
    [ "$status" -eq 5 ]
    [ "$output" = "exec in" ]
    run -127 --separate-stderr "${P[@]}" exec c1 nosuch
    [ "$status" -eq 127 ]
    "${P[@]}" pause c1
    [ "$("${P[@]}" inspect -f '{{.State.Status}}' c1)" = paused ]
    "${P[@]}" unpause c1
    "${P[@]}" stop -t 5 c1 >/dev/null
    [ "$("${P[@]}" inspect -f '{{.State.ExitCode}}' c1)" = 143 ]
    "${P[@]}" start c1 >/dev/null
    "${P[@]}" kill -s KILL c1 >/dev/null
    "${P[@]}" wait c1 >/dev/null || true
    [ "$("${P[@]}" inspect -f '{{.State.ExitCode}}' c1)" = 137 ]
    "${P[@]}" rm c1 >/dev/null
    [ -z "$(ls /run/sandboxvm-oci 2>/dev/null | grep -x c1)" ]
    podman_teardown
    assert_nothing_left
}

@test "oci: podman (root): a crash is in podman logs; -it gets a terminal" {
    [ -x "$GUESTS/crasher" ] || skip "the crasher fixture is not built"
    podman_setup
    rootfs "$S/cimg"
    cp "$GUESTS/crasher" "$S/cimg/bin/crasher"
    for l in $(ldd "$GUESTS/crasher" | grep -o '/[^ ]*'); do
        mkdir -p "$S/cimg$(dirname "$l")"
        cp "$l" "$S/cimg$l"
    done
    tar -C "$S/cimg" -cf "$S/cimg.tar" .
    "${P[@]}" import -q "$S/cimg.tar" localhost/sbvm-crash:oci >/dev/null
    run "${P[@]}" run --name k1 --network none "${ULIMITS[@]}" localhost/sbvm-crash:oci /bin/crasher null-read
    [ "$status" -eq 139 ]
    run "${P[@]}" logs k1
    [[ "$output" == *"sandboxvm: container "*" crashed: SIGSEGV (SEGV_MAPERR"*"null_read"*"crasher.c:"* ]]
    "${P[@]}" rm k1 >/dev/null
    run python3 "$PTY" 30 100 -- "${P[@]}" run --rm -it --network none "${ULIMITS[@]}" localhost/sbvm-bb:oci sh <<'STEPS'
expect #
send tty; stty size; echo typed-$((6*7))\n
expect typed-42
send exit 6\n
STEPS
    [ "$status" -eq 0 ]
    [[ "$output" == *"exit 6"* ]]
    podman_teardown
    assert_nothing_left
}

@test "oci: podman (root) joins the network namespace it is given" {
    podman_setup
    command -v ip >/dev/null || skip "ip (iproute2) is not installed"
    ns="ocitest-$$"
    ip netns add "$ns"
    # A mark of that namespace the container can read: a network sysctl
    # (per namespace) set to a value no new namespace has.
    ip netns exec "$ns" sh -c 'echo 77 >/proc/sys/net/ipv4/ip_default_ttl'
    run --separate-stderr "${P[@]}" run --rm --network "ns:/run/netns/$ns" "${ULIMITS[@]}" localhost/sbvm-bb:oci cat /proc/sys/net/ipv4/ip_default_ttl
    ip netns delete "$ns"
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    [ "$output" = 77 ]
    podman_teardown
    assert_nothing_left
}

@test "oci: podman (root): kill -9 of conmon ends the container; its stopped state waits for delete" {
    podman_setup
    "${P[@]}" run -d --name g1 --network none "${ULIMITS[@]}" localhost/sbvm-bb:oci sleep 300 >/dev/null
    id="$("${P[@]}" inspect -f '{{.Id}}' g1)"
    mon="$("${P[@]}" inspect -f '{{.State.Pid}}' g1)"
    cm="$("${P[@]}" inspect -f '{{.State.ConmonPid}}' g1)"
    [ "$mon" -gt 0 ] && [ "$cm" -gt 0 ]
    kids="$(pgrep -P "$mon" | tr '\n' ' ')"
    kill -9 "$cm"
    for i in $(seq 100); do [ -d "/proc/$mon" ] || break; sleep 0.1; done
    [ ! -d "/proc/$mon" ]
    for k in $kids; do [ ! -d "/proc/$k" ] || grep -q '^State:.*Z' "/proc/$k/status"; done
    "${P[@]}" rm -f g1 >/dev/null 2>&1 || true
    # podman gives up on a container whose conmon died without calling the
    # runtime's delete (runc's state is left the same way): what is left is
    # the stopped container's state, which delete removes.
    if [ -e "/run/sandboxvm-oci/$id" ]; then
        "$SBVM_REAL" oci state "$id" |
            python3 -c 'import json,sys; s=json.load(sys.stdin); assert s["status"]=="stopped", s'
        "$SBVM_REAL" oci delete "$id"
    fi
    [ ! -e "/run/sandboxvm-oci/$id" ]
    podman_teardown
    assert_nothing_left
}

@test "oci: rootless podman with --network=none" {
    engine_pass
    command -v podman >/dev/null || skip "podman is not installed (scripts/deps.sh oci)"
    # The root pass runs podman as uid 4242 (a bare uid, no subuid range:
    # podman maps that one id); the uid 4242 pass would repeat it.
    [ "$(id -u)" = 0 ] || skip "rootless podman: the root pass runs it as uid 4242"
    local as=(setpriv --reuid=4242 --regid=4242 --clear-groups) dir
    dir="$(mktemp -d /tmp/oci-rootless.XXXXXX)"
    mkdir -p "$dir/xdg" "$dir/img"
    chmod 700 "$dir/xdg"
    rootfs "$dir/img"
    # Owned by the container's root: the one id podman can map.
    tar -C "$dir/img" --owner=0 --group=0 --numeric-owner -cf "$dir/img.tar" .
    # uid 4242 must reach the runtime: a checkout in root's home (0700, as
    # on a fresh machine) is closed to it, so it then runs a copy.
    local SBVM_REAL="$SBVM_REAL"
    if ! "${as[@]}" test -x "$SBVM_REAL"; then
        cp "$SBVM_REAL" "$dir/sandboxvm"
        SBVM_REAL="$dir/sandboxvm"
    fi
    chown -R 4242:4242 "$dir"
    rtwrap "$dir/sandboxvm-oci"
    chmod 755 "$dir" "$dir/sandboxvm-oci"
    # From a directory it can enter (podman's child changes into its own).
    local PR=("${as[@]}" env -i -C "$dir" PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$dir" XDG_RUNTIME_DIR="$dir/xdg"
        podman --root "$dir/storage" --runroot "$dir/run" --storage-driver vfs --events-backend none
        --runtime "$dir/sandboxvm-oci")
    "${PR[@]}" import -q "$dir/img.tar" localhost/sbvm-bb:rl >/dev/null
    run --separate-stderr "${PR[@]}" run --rm --network=none localhost/sbvm-bb:rl sh -c 'echo rootless in $(id -u); exit 9'
    st=$status
    out="$output"
    err="$stderr"
    "${PR[@]}" run -d --name r1 --network=none localhost/sbvm-bb:rl sleep 300 >/dev/null
    run --separate-stderr "${PR[@]}" exec r1 sh -c 'echo exec; exit 3'
    st2=$status
    out2="$output"
    "${PR[@]}" rm -f -t 0 r1 >/dev/null 2>&1 || true
    # Rootless podman keeps a process holding its user namespace: end it.
    local pp=""
    [ -s "$dir/xdg/libpod/tmp/pause.pid" ] && pp="$(cat "$dir/xdg/libpod/tmp/pause.pid")"
    [ -n "$pp" ] && kill -9 "$pp" 2>/dev/null
    for i in $(seq 50); do [ -n "$pp" ] && [ -d "/proc/$pp" ] || break; sleep 0.1; done
    "${as[@]}" rm -rf "$dir/storage" "$dir/run" 2>/dev/null || true
    # What podman's last processes write as they end may land after a
    # first pass: try again a moment later.
    for i in $(seq 20); do rm -rf "$dir" 2>/dev/null && break; sleep 0.2; done
    [ ! -e "$dir" ]
    [ "$st" -eq 9 ] || { echo "$err"; false; }
    [ "$out" = "rootless in 0" ]
    [ "$st2" -eq 3 ]
    [ "$out2" = exec ]
    assert_nothing_left
}

# A containerd of the test's own: its root, state and socket in the
# scratch, the native snapshotter (no mounts), CRI off.
containerd_setup() {
    engine_pass
    [ "$(id -u)" = 0 ] || skip "containerd: needs root"
    command -v containerd >/dev/null && command -v ctr >/dev/null ||
        skip "containerd is not installed (scripts/deps.sh oci)"
    command -v podman >/dev/null || skip "podman makes the test's OCI image archive"
    [ -d /run/containerd ] && RUN_CTD_EXISTED=1 || RUN_CTD_EXISTED=0
    "$BATS_TEST_DIRNAME/containerd-conf.sh" "$S"
    # Not holding bats' descriptors (it would wait for containerd to end).
    containerd --config "$S/containerd.toml" >"$S/containerd.log" 2>&1 3>&- &
    CTD=$!
    for i in $(seq 100); do [ -S "$S/c.sock" ] && break; sleep 0.1; done
    [ -S "$S/c.sock" ] || { cat "$S/containerd.log"; false; }
    C=(ctr -a "$S/c.sock" -n sbvm-test)
    rtwrap "$S/sandboxvm-oci" note
    rootfs "$S/img"
    tar -C "$S/img" -cf "$S/img.tar" .
    local PS=(podman --root "$S/storage" --runroot "$S/run" --tmpdir "$S/tmp" --storage-driver vfs --events-backend none)
    "${PS[@]}" import -q "$S/img.tar" localhost/sbvm-bb:ctd >/dev/null
    "${PS[@]}" save -q --format oci-archive -o "$S/img-oci.tar" localhost/sbvm-bb:ctd
    "${PS[@]}" rmi -af >/dev/null 2>&1 || true
    rm -rf "$S/storage" "$S/run" "$S/tmp"
    "${C[@]}" image import --all-platforms --snapshotter native "$S/img-oci.tar" >/dev/null
    R=(--snapshotter native --fifo-dir "$S/fifo" --runc-binary "$S/sandboxvm-oci" --runc-root "$S/runc-root")
}

containerd_teardown() {
    local t
    for t in $("${C[@]}" task ls -q 2>/dev/null); do "${C[@]}" task kill -s KILL "$t" >/dev/null 2>&1; done
    sleep 0.3
    for t in $("${C[@]}" task ls -q 2>/dev/null); do "${C[@]}" task rm -f "$t" >/dev/null 2>&1; done
    for t in $("${C[@]}" c ls -q 2>/dev/null); do "${C[@]}" c rm "$t" >/dev/null 2>&1; done
    kill "$CTD" && wait "$CTD" || true
    # The shims' sockets are under /run/containerd whatever the config.
    [ "$RUN_CTD_EXISTED" = 1 ] || rm -rf /run/containerd
    rm -rf "$S/ctd" 2>/dev/null || true
}

@test "oci: containerd's ctr runs containers in sandboxvm: exit codes, exec, pause, kill" {
    containerd_setup
    run --separate-stderr "${C[@]}" run --rm "${R[@]}" localhost/sbvm-bb:ctd t1 sh -c 'echo hello ctr; exit 3'
    [ "$status" -eq 3 ] || { echo "$stderr"; cat "$S/containerd.log" | tail -5; false; }
    [ "$output" = "hello ctr" ]
    "${C[@]}" run -d "${R[@]}" localhost/sbvm-bb:ctd t2 sleep 300
    run --separate-stderr "${C[@]}" task exec --fifo-dir "$S/fifo" --exec-id e1 t2 sh -c 'echo ctr exec; exit 9'
    [ "$status" -eq 9 ]
    [ "$output" = "ctr exec" ]
    # A terminal (exec's --console-socket, as the shim gives it): the
    # process's output reaches ctr, which needs a terminal of its own.
    run python3 "$PTY" 30 100 -- "${C[@]}" task exec -t --fifo-dir "$S/fifo" --exec-id e2 t2 sh -c 'tty; echo marker-$((6*7)); exit 4' <<'STEPS'
expect /dev/pts/[0-9]+\s+marker-42
STEPS
    [ "$status" -eq 0 ]
    [ "$output" = "exit 4" ]
    "${C[@]}" task pause t2
    [[ "$("${C[@]}" task ls | grep t2)" == *PAUSED* ]]
    "${C[@]}" task resume t2
    "${C[@]}" task kill -s KILL t2
    for i in $(seq 50); do [[ "$("${C[@]}" task ls | grep t2)" == *STOPPED* ]] && break; sleep 0.1; done
    [[ "$("${C[@]}" task ls | grep t2)" == *STOPPED* ]]
    "${C[@]}" task rm t2 >/dev/null
    "${C[@]}" c rm t2
    containerd_teardown
    [ -z "$(pgrep -f "$S/c.sock")" ]
    assert_nothing_left
}
