#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The device models checked by Linux's own drivers: `sandboxvm device serve`
# behind a vhost-user socket, and Debian's User-Mode Linux (its root on
# hostfs, read-only) attaching the device with virtio_uml: virtio_blk and
# virtio_scsi find the disk, format it, mount it, write, unmount; then the
# host checks the image with e2fsck and reads the files back with debugfs.

load helpers

setup() {
    DIR="$(scratch)"
    SERVE_PID=
}

teardown() {
    if [ -n "$SERVE_PID" ]; then
        kill "$SERVE_PID" 2>/dev/null || true
        wait "$SERVE_PID" 2>/dev/null || true
    fi
}

# Skips (saying why) where UML cannot run here; boots it once per run.
# Each UML test boots Linux (15-30 s): scripts/test.sh's root pass runs
# them, its ordinary-user and sanitizer passes do not (CI time), unless
# SBVM_UML_EVERY_PASS=1. UML itself needs neither root nor KVM.
uml_or_skip() {
    if [ -z "${SBVM_UML_EVERY_PASS:-}" ]; then
        [ "$(id -u)" -eq 0 ] || skip "UML boots are slow: the root pass runs them (SBVM_UML_EVERY_PASS=1 runs them here)"
        ! ldd "$SBVM_REAL" 2>/dev/null | grep -q libasan ||
            skip "UML boots are slow: the root pass runs them, not the sanitizer pass (SBVM_UML_EVERY_PASS=1 runs them here)"
    fi
    command -v linux >/dev/null || skip "user-mode-linux is not installed (apt-get install user-mode-linux)"
    command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null ||
        skip "e2fsprogs (mkfs.ext4, debugfs) is not installed"
    local mark="$BATS_RUN_TMPDIR/uml-ok" d
    if [ ! -f "$mark" ]; then
        d="$(mktemp -d "$BATS_RUN_TMPDIR/uml.XXXXXX")"
        printf '#!/bin/busybox sh\necho UML-BOOTED\n/bin/busybox poweroff -f\n' >"$d/init"
        chmod 755 "$d/init"
        TMPDIR="$d" timeout -s KILL 60 linux mem=64M root=/dev/root rootfstype=hostfs rootflags=/ ro \
            init="$d/init" con=null con0=fd:0,fd:1 uml_dir="$d" </dev/null >"$d/log" 2>&1 || true
        if grep -q UML-BOOTED "$d/log"; then
            echo ok >"$mark"
        else
            tail -3 "$d/log" | tr '\n' ' ' >"$mark.why"
            echo no >"$mark"
        fi
    fi
    [ "$(cat "$mark")" = ok ] || skip "User-Mode Linux does not boot here: $(cat "$mark.why" 2>/dev/null)"
}

# serve TYPE SOCKET DISK... : starts the back-end for one client.
serve() {
    local type="$1" sock="$2"
    shift 2
    local disks=()
    for d in "$@"; do disks+=(--disk "$d"); done
    "$SBVM" device serve "$type" "${disks[@]}" --socket "$sock" --once \
        --trace-devices "$DIR/trace.txt" >"$DIR/serve.log" 2>&1 &
    SERVE_PID=$!
    for _ in $(seq 100); do
        [ -S "$sock" ] && return 0
        sleep 0.1
    done
    cat "$DIR/serve.log"
    return 1
}

# boot MODE SOCKET ID STEPS: UML with one vhost-user device, running STEPS
# (a shell fragment for busybox sh) once the driver found the disk.
boot() {
    local mode="$1" sock="$2" id="$3" steps="$4"
    cat >"$DIR/init" <<'EOF'
#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t tmpfs run /run
K=/usr/lib/uml/modules/$($B uname -r)/kernel
if [ "$SBVM_MODE" = blk ]; then
    mods="drivers/block/virtio_blk"
    DEV=/dev/vda
else
    mods="lib/crc64 crypto/crc64_rocksoft_generic lib/crc64-rocksoft block/t10-pi"
    mods="$mods drivers/scsi/scsi_common drivers/scsi/scsi_mod drivers/scsi/sd_mod drivers/scsi/virtio_scsi"
    DEV=/dev/sda
fi
for m in $mods; do $B insmod $K/$m.ko || echo "INSMOD-FAILED $m"; done
for i in $($B seq 100); do [ -b $DEV ] && break; $B sleep 0.1; done
[ -b $DEV ] && echo "DISK-FOUND $DEV" || echo "NO-DISK"
$B mkdir -p /run/mnt
. "$SBVM_STEPS"
echo STEPS-DONE
$B poweroff -f
EOF
    chmod 755 "$DIR/init"
    printf '%s\n' "$steps" >"$DIR/steps.sh"
    TMPDIR="$DIR" timeout -s KILL 180 linux mem=128M root=/dev/root rootfstype=hostfs rootflags=/ ro \
        init="$DIR/init" con=null con0=fd:0,fd:1 uml_dir="$DIR" \
        "virtio_uml.device=$sock:$id" SBVM_MODE="$mode" SBVM_STEPS="$DIR/steps.sh" \
        </dev/null >"$DIR/uml.log" 2>&1 || true
}

# Format, mount, write a file and 4 MiB of random data, sync, unmount;
# print the data's checksum.
WRITE_STEPS='
/sbin/mkfs.ext4 -q -F $DEV && echo MKFS-OK
$B mount -t ext4 $DEV /run/mnt && echo MOUNT-OK
echo "written by Linux in UML" >/run/mnt/hello.txt
$B mkdir /run/mnt/dir
$B dd if=/dev/urandom of=/run/mnt/dir/data bs=64k count=64 2>/dev/null
$B sync
echo "SUM $($B md5sum /run/mnt/dir/data)"
$B umount /run/mnt && echo UMOUNT-OK
'

# The host's side: the image is clean and holds what Linux wrote.
check_written() {
    local img="$1" sum
    grep -q MKFS-OK "$DIR/uml.log"
    grep -q MOUNT-OK "$DIR/uml.log"
    grep -q UMOUNT-OK "$DIR/uml.log"
    run e2fsck -fn "$img"
    [ "$status" -eq 0 ]
    run debugfs -R "cat /hello.txt" "$img"
    [[ "$output" == *"written by Linux in UML"* ]]
    debugfs -R "dump /dir/data $DIR/data.out" "$img" 2>/dev/null
    sum="$(awk '/^SUM /{print $2}' "$DIR/uml.log")"
    [ -n "$sum" ]
    [ "$(md5sum <"$DIR/data.out" | cut -d' ' -f1)" = "$sum" ]
}

@test "device serve: usage errors are refused before anything starts" {
    run -125 "$SBVM" device serve virtio-blk --socket "$DIR/s"
    [[ "$output" == *"--disk and --socket are needed"* ]]
    run -125 "$SBVM" device serve virtio-net --disk "$DIR/i,size=1M" --socket "$DIR/s"
    [[ "$output" == *"device type 'virtio-net': the types are virtio-blk, virtio-scsi"* ]]
    run -125 "$SBVM" device serve virtio-blk --disk "$DIR/i,size=1000" --socket "$DIR/s"
    [[ "$output" == *"'size=1000' is not ro or size=N"* ]]
    run -125 "$SBVM" device serve virtio-blk --disk "$DIR/a,size=1M" --disk "$DIR/b,size=1M" \
        --socket "$DIR/s"
    [[ "$output" == *"virtio-blk takes at most 1 disk"* ]]
    touch "$DIR/file"
    run -125 "$SBVM" device serve virtio-blk --disk "$DIR/i,size=1M" --socket "$DIR/file"
    [[ "$output" == *"exists and is not a socket"* ]]
    run -1 "$SBVM" device serve virtio-blk --disk "$DIR/missing.img" --socket "$DIR/s"
    [[ "$output" == *"opening disk image $DIR/missing.img: No such file or directory"* ]]
    [ ! -e "$DIR/s" ]
}

@test "device serve: the back-end runs confined, and a stop ends it" {
    serve virtio-blk "$DIR/blk.sock" "$DIR/disk.img,size=1M"
    local child="" st
    for _ in $(seq 50); do
        child="$(pgrep -P "$SERVE_PID" -n || true)"
        [ -n "$child" ] && grep -q '^Seccomp:\s*2' "/proc/$child/status" 2>/dev/null && break
        sleep 0.1
    done
    [ -n "$child" ]
    st="/proc/$child/status"
    grep -q '^Seccomp:\s*2' "$st"
    grep -q '^NoNewPrivs:\s*1' "$st"
    grep -q '^CapEff:\s*0000000000000000' "$st"
    grep -q '^CapBnd:\s*0000000000000000' "$st"
    # Its own user and network namespaces.
    [ "$(readlink "/proc/$child/ns/user")" != "$(readlink /proc/self/ns/user)" ]
    [ "$(readlink "/proc/$child/ns/net")" != "$(readlink /proc/self/ns/net)" ]
    # Root's back-end is nobody on the host.
    if [ "$(id -u)" = 0 ]; then
        grep -q "^Uid:\s*65534" "$st"
    fi
    # Only its descriptors: the socket, the image, its log and the trace.
    if [ "$(id -u)" = 0 ]; then
        run ls "/proc/$child/fd"
        [ "$(echo "$output" | wc -w)" -le 6 ]
        run ls -A "/proc/$child/root/"
        [ -z "$output" ]
    fi
    kill -TERM "$SERVE_PID"
    wait "$SERVE_PID"
    SERVE_PID=
    [ ! -e "$DIR/blk.sock" ]
    grep -q "serving virtio-blk from 1 image, confined" "$DIR/serve.log"
}

@test "Linux's virtio_blk in UML formats, mounts and writes a disk served by sandboxvm" {
    uml_or_skip
    serve virtio-blk "$DIR/blk.sock" "$DIR/disk.img,size=64M"
    boot blk "$DIR/blk.sock" 2 "$WRITE_STEPS"
    wait "$SERVE_PID"
    SERVE_PID=
    grep -q "virtio_blk virtio0: \[vda\] 131072 512-byte logical blocks" "$DIR/uml.log"
    grep -q STEPS-DONE "$DIR/uml.log"
    check_written "$DIR/disk.img"
    # The trace saw Linux's requests, flushes and discards among them.
    grep -q "virtio-blk q0 #[0-9]* OUT lba" "$DIR/trace.txt"
    grep -q "virtio-blk q0 #[0-9]* FLUSH 0 bytes -> OK" "$DIR/trace.txt"
    grep -q "DISCARD" "$DIR/trace.txt"
    ! grep -q -- "-> IOERR\|-> UNSUPP" "$DIR/trace.txt"
    grep -q "client 1 disconnected" "$DIR/serve.log"
}

@test "Linux's virtio_scsi in UML scans 64 targets, finds the disk and writes it" {
    uml_or_skip
    serve virtio-scsi "$DIR/scsi.sock" "$DIR/disk.img,size=64M"
    boot scsi "$DIR/scsi.sock" 8 "$WRITE_STEPS"
    wait "$SERVE_PID"
    SERVE_PID=
    grep -q "scsi 0:0:0:0: Direct-Access     SBVM     Virtual Disk     0001 PQ: 0 ANSI: 6" \
        "$DIR/uml.log"
    grep -q "sd 0:0:0:0: \[sda\] 131072 512-byte logical blocks" "$DIR/uml.log"
    grep -q "\[sda\] Write Protect is off" "$DIR/uml.log"
    # The scan: target 0 answered, targets 1..63 are absent.
    [ "$(grep -c 'INQUIRY 0 bytes -> BAD_TARGET' "$DIR/trace.txt")" -eq 63 ]
    grep -q "BAD_TARGET: target 63" "$DIR/trace.txt"
    grep -q "REPORT LUNS 16 bytes -> GOOD" "$DIR/trace.txt"
    grep -q "READ CAPACITY(16)" "$DIR/trace.txt"
    grep -q "SYNCHRONIZE CACHE(10)" "$DIR/trace.txt"
    check_written "$DIR/disk.img"
}

# A disk with a file on it, made on the host.
make_ext4() {
    mkdir -p "$DIR/src"
    echo "made on the host" >"$DIR/src/host.txt"
    mkfs.ext4 -q -F -d "$DIR/src" "$1" 16M
}

RO_STEPS='
echo "RO $($B cat /sys/block/${DEV#/dev/}/ro)"
$B dd if=/dev/zero of=$DEV bs=512 count=1 conv=fsync 2>&1 | $B head -1 | $B sed "s/^/DD /"
$B mount -t ext4 -o ro $DEV /run/mnt && echo "READ $($B cat /run/mnt/host.txt)"
$B umount /run/mnt
'

@test "a read-only image refuses writes the way a real disk does, and Linux says so" {
    uml_or_skip
    make_ext4 "$DIR/ro.img"
    local before
    before="$(md5sum <"$DIR/ro.img")"
    serve virtio-blk "$DIR/blk.sock" "$DIR/ro.img,ro"
    boot blk "$DIR/blk.sock" 2 "$RO_STEPS"
    wait "$SERVE_PID"
    SERVE_PID=
    grep -q "RO 1" "$DIR/uml.log"
    grep -q "DD .*Operation not permitted" "$DIR/uml.log"
    grep -q "READ made on the host" "$DIR/uml.log"
    [ "$(md5sum <"$DIR/ro.img")" = "$before" ]

    serve virtio-scsi "$DIR/scsi.sock" "$DIR/ro.img,ro"
    boot scsi "$DIR/scsi.sock" 8 "$RO_STEPS"
    wait "$SERVE_PID"
    SERVE_PID=
    grep -q "\[sda\] Write Protect is on" "$DIR/uml.log"
    grep -q "RO 1" "$DIR/uml.log"
    grep -q "READ made on the host" "$DIR/uml.log"
    [ "$(md5sum <"$DIR/ro.img")" = "$before" ]
}
