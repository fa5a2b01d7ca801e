#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The escape battery: every probe of tests/escape/escape.c, run inside
# sandboxvm with the default policy, must be refused, and each test checks
# how. The real programs of tests/cli/programs.bats still run under the same
# policy (that suite runs in the same pass).

load ../cli/helpers

ESCAPE="${SBVM_ESCAPE:-$GUESTS/../escape/escape}"

# Runs one probe in a sandbox and asserts it was refused, with the refusal
# lines matching each further argument.
probe() {
    local name="$1"
    shift
    run --separate-stderr timeout 60 "$SBVM" run -q --no-tag -- "$ESCAPE" "$name" "${PROBE_ARG[@]}"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" != *"ESCAPED"* ]]
    local want
    for want in "$@"; do
        [[ "$output" == *"$want"* ]] || { echo "missing: $want"; return 1; }
    done
}

setup() {
    [ -x "$SBVM" ] || skip "sandboxvm is not built at $SBVM"
    [ -x "$ESCAPE" ] || skip "the escape probe is not built at $ESCAPE"
    PROBE_ARG=()
    BEFORE="$(leftovers)"
    BEFORE_TMP="$(tmp_names)"
}

@test "TIOCSTI and TIOCLINUX are refused by the filter, also with the upper 32 bits set" {
    probe tiocsti "ioctl(0, TIOCSTI): EPERM" "open(/dev/tty): ENOENT"
    probe tiocsti-high-bits "0xffffffff00000000|TIOCSTI): EPERM"
    probe tioclinux "ioctl(1, TIOCLINUX): EPERM" "0x1_0000_0000|TIOCLINUX): EPERM"
}

@test "under a terminal, a guest cannot push input into it" {
    command -v script >/dev/null || skip "script(1) (bsdutils) is not installed"
    local d
    d="$(scratch)"
    # sandboxvm runs on a pty, as in an interactive shell. The probe tries to
    # inject "id" into the terminal; had it worked, the shell reading the
    # terminal after sandboxvm exits would run it and print "uid=".
    printf '%s\n' "\"$SBVM\" run -q -- \"$ESCAPE\" tiocsti; echo probe-status=\$?" >"$d/run.sh"
    script -qec "bash $d/run.sh; read -t 1 line; echo after=[\$line]" "$d/typescript" </dev/null >/dev/null || true
    grep -aq 'probe-status=0' "$d/typescript"
    grep -aq 'after=\[\]' "$d/typescript"
    ! grep -aq 'uid=' "$d/typescript"
}

@test "io_uring, userfaultfd, perf_event_open and bpf are refused" {
    probe io_uring "io_uring_setup: ENOSYS"
    probe userfaultfd "userfaultfd: ENOSYS"
    probe perf_event_open "perf_event_open: EPERM"
    probe bpf "bpf(BPF_MAP_CREATE): EPERM"
}

@test "keyrings are out of reach: the host's session keyring cannot be read" {
    probe keyctl "keyctl(GET_KEYRING_ID, session): EPERM" "keyctl(READ, session keyring): EPERM" \
        "add_key(user): EPERM" "request_key(user): EPERM"
}

@test "ptrace of pid 1 and its memory are refused" {
    probe ptrace "ptrace(ATTACH, 1): EPERM" "ptrace(SEIZE, 1): EPERM" "process_vm_readv(1): EPERM" \
        "open(/proc/1/mem)"
}

@test "another guest is invisible and untraceable" {
    # Two guests at once: each sees only its own sandbox.
    run --separate-stderr timeout 60 "$SBVM" run -q -j 2 -- sleep 3 ::: "$ESCAPE" peers
    [ "$status" -eq 0 ]
    [[ "$output" == *"peers: refused: /proc shows"*"all of this sandbox"* ]]
    [[ "$output" == *"ptrace(ATTACH, 4242): EPERM"* ]]
    [[ "$output" != *"ESCAPED"* ]]
}

@test "host processes cannot be signalled" {
    sleep 60 &
    local victim=$!
    PROBE_ARG=("$victim")
    probe signal-host "kill(host pid, SIGTERM): ESRCH"
    kill -0 "$victim"
    kill "$victim"
}

@test "no namespace can be created or entered: unshare, clone, clone3, setns" {
    probe unshare "unshare(user): EPERM" "unshare(mount): EPERM" "unshare(net): EPERM" \
        "unshare(pid): EPERM" "unshare(time): EPERM"
    probe clone-ns "clone(CLONE_NEWUSER|CLONE_NEWNS): EPERM" "clone3(CLONE_NEWUSER): ENOSYS"
    probe setns "setns(own mount ns): EPERM"
}

@test "mounts cannot be made, moved or changed, old API or new" {
    probe mount "mount(tmpfs on /tmp): EPERM" "umount2(/proc): EPERM" "pivot_root: EPERM" \
        "open_tree(/usr, CLONE): EPERM" "move_mount: EPERM" "fsopen(tmpfs): EPERM" \
        "fspick(/): EPERM" "mount_setattr(/usr, rw): EPERM"
}

@test "kexec, kernel modules and reboot are refused" {
    probe kexec "kexec_load: EPERM" "kexec_file_load: EPERM"
    probe modules "init_module: EPERM" "finit_module: EPERM" "delete_module: EPERM"
    probe reboot "reboot(CAD_OFF): EPERM"
}

@test "host administration is refused: host name, clocks, swap, accounting, quotas, kernel log" {
    probe admin "sethostname: EPERM" "setdomainname: EPERM" "clock_settime: EPERM" \
        "settimeofday: EPERM" "swapon: EPERM" "acct: EPERM" "quotactl: EPERM" "syslog(READ_ALL): EPERM"
}

@test "personality(READ_IMPLIES_EXEC) and modify_ldt are refused" {
    probe personality "personality: refused"
    probe modify_ldt "modify_ldt(write): EPERM"
}

@test "the i386 and x32 entry points kill the guest" {
    run --separate-stderr "$SBVM" run -q -- "$ESCAPE" int80
    [ "$status" -eq 159 ]
    [[ "$output" != *"ESCAPED"* ]]
    run --separate-stderr "$SBVM" run -q -- "$ESCAPE" x32
    [ "$status" -eq 159 ]
    [[ "$output" != *"ESCAPED"* ]]
}

@test "the guest has no privileges: no capabilities, not root, no_new_privs" {
    # EPERM as root (uid 0 is mapped but the guest lacks CAP_SETUID), EINVAL as
    # an ordinary user (uid 0 is not mapped at all).
    probe privs "privs: refused: no capabilities, no_new_privs set" "setuid(0): E" \
        "privs: oom_score_adj 1000" "privs: refused: lowering oom_score_adj: EACCES"
}

@test "a setuid-root binary gains nothing" {
    [ "$(id -u)" -eq 0 ] || skip "only root can make a setuid-root file to try"
    local d
    d="$(scratch)"
    cp "$ESCAPE" "$d/escape-suid"
    chmod 4755 "$d/escape-suid"
    chmod 755 "$d"
    run --separate-stderr "$SBVM" run -q --no-tag -- "$d/escape-suid" setuid
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"setuid: refused: setuid-root file ran as uid 65534"* ]]
}

@test "a host fd opened before the spawn does not reach the guest" {
    run --separate-stderr bash -c "exec 7</etc/hostname 9>>'$BATS_TEST_TMPDIR/leak'; \"$SBVM\" run -q --no-tag -- \"$ESCAPE\" fds"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"fds: refused: only stdin, stdout and stderr were inherited"* ]]
}

@test "/proc/1/exe and /proc/self/exe do not lead to the host's binary" {
    probe exe "open(/proc/1/exe): EACCES" "exe: refused: /proc/self/exe is this program"
}

@test "host files outside the view are not there, and /proc is the sandbox's" {
    probe host-files "open(/etc/shadow): ENOENT" "open(/root): ENOENT" "open(/home): ENOENT" \
        "open(/sys/kernel): ENOENT" "host-files: refused: /proc/1 is the sandbox's init"
}

@test "read-only binds, /proc/sys and device nodes cannot be written" {
    probe readonly "create in /usr/bin: EROFS" "write /etc/passwd: EROFS" "mkdir /escaped: EROFS" \
        "write /proc/sys/kernel/hostname" "write /proc/sysrq-trigger" "mknod /tmp/sda: EPERM"
}

@test "no network egress: TCP, UDP, raw, packet and vsock sockets" {
    probe net "connect(tcp 1.1.1.1:80): ENETUNREACH" "sendto(udp 1.1.1.1:53): ENETUNREACH" \
        "socket(AF_INET, SOCK_RAW): EPERM" "socket(AF_PACKET): EAFNOSUPPORT" "socket(AF_VSOCK): EAFNOSUPPORT"
}

@test "through the broker, host, private and metadata addresses stay out of reach, by any name" {
    # Any name on any port is allowed, and the addresses by rule (no
    # wildcard matches an address): what the broker connects to is still
    # checked, however it is spelled.
    run --separate-stderr timeout 60 "$SBVM" run --no-tag \
        --net 'allow=*:*,169.254.169.254,[fd00:ec2::254]:80,127.0.0.1:8080,[::ffff:127.0.0.1]:8080,10.0.0.1' -- sh -c '
        for u in http://169.254.169.254/latest/meta-data/ "http://[fd00:ec2::254]/" \
            http://localhost:8080/ http://127.0.0.1:8080/ http://2130706433:8080/ \
            http://0x7f.1:8080/ "http://[::ffff:127.0.0.1]:8080/" http://10.0.0.1/; do
            curl -s -o /dev/null -w "%{http_code} " "$u"
        done
        curl -s -p -o /dev/null http://localhost:22/ || echo "tunnel refused"'
    echo "$output"
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "403 403 403 403 403 403 403 403 tunnel refused" ]
    [[ "$stderr" == *"169.254.169.254 is a cloud metadata address"* ]]
    [[ "$stderr" == *"fd00:ec2::254 is a cloud metadata address"* ]]
    [[ "$stderr" == *"refused GET localhost:8080: 127.0.0.1 is a loopback address"* ]]
    [[ "$stderr" == *"::ffff:127.0.0.1 is a loopback address"* ]]
    [[ "$stderr" == *"10.0.0.1 is a private address"* ]]
    [[ "$stderr" == *"refused CONNECT localhost:22: 127.0.0.1 is a loopback address"* ]]
    [[ "$stderr" != *"allowed"* ]]
}

@test "the host's abstract unix sockets are out of reach" {
    local name="sbvm-escape-$$-$RANDOM" pid
    python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind("\0" + sys.argv[1]); s.listen()
time.sleep(30)' "$name" &
    pid=$!
    # The listener is up once it appears in the host's table.
    for _ in $(seq 50); do grep -q "@$name" /proc/net/unix && break; sleep 0.1; done
    grep -q "@$name" /proc/net/unix
    PROBE_ARG=("$name")
    probe abstract-unix "connect(host abstract socket): ECONNREFUSED"
    kill "$pid"
}

@test "a guest spinning on every CPU leaves the host usable, and its time limit ends it" {
    local start end
    start=$(date +%s%N)
    "$SBVM" run -q --timeout 3 -- "$ESCAPE" cpu-hog >/dev/null 2>&1 &
    local hog=$!
    sleep 1
    # While it spins, the host still starts and finishes a sandbox promptly.
    run timeout 20 "$SBVM" run -q -- /bin/true
    [ "$status" -eq 0 ]
    wait "$hog" || [ $? -eq 124 ]
    end=$(date +%s%N)
    [ $(((end - start) / 1000000)) -lt 15000 ]
    assert_nothing_left
}

@test "a guest allocating without end is stopped at its memory limit" {
    run --separate-stderr timeout 60 "$SBVM" run --memory 128M -- "$ESCAPE" memory-hog
    [ "$status" -eq 137 ]
    [[ "$stderr" == *"limit memory"* ]]
    assert_nothing_left
}

@test "the whole battery: every probe refused" {
    run --separate-stderr timeout 120 "$SBVM" run -q --no-tag -- "$ESCAPE" all
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"refused 29/29"* ]]
    [[ "$output" != *"ESCAPED"* ]]
    assert_nothing_left
}
