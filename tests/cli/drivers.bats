#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Drivers in a sandbox against the device models: `sandboxvm run --device ...
# -r DRIVER.so -t drvtest MODE`. The drivers written here (virtio-blk,
# virtio-scsi, the partition driver) on both transports, several drivers in
# one sandbox, the test program's own misuse, buggy drivers (crashes in init,
# an interrupt handler and a task; rings that lie; leaks; double and foreign
# closes), and the device trace.

load helpers

DRV="${SBVM_DRIVERS_DIR:-$(dirname "$GUESTS")/drivers}"
DRVTEST="$DRV/drvtest"

setup() {
    DIR="$(scratch)"
}

# run_drv [OPTIONS...] -- MODE ARGS: sandboxvm run with the options, then
# -t drvtest MODE ARGS.
run_drv() {
    local opts=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    shift
    run "$SBVM" run "${opts[@]}" -t "$DRVTEST" "$@"
}

@test "the virtio-blk driver (modern) writes and reads back, sync and async, in a sandbox" {
    run_drv --device "virtio-blk,disk=$DIR/d.img,size=8M" -r "$DRV/virtio-blk.so" -- info
    [ "$status" -eq 0 ]
    [[ "$output" == *"unit virtio-blk 0: 16384 blocks of 512 bytes, virtio-blk (modern)"* ]]
    run_drv --device "virtio-blk,disk=$DIR/d.img" -r "$DRV/virtio-blk.so" -- rw
    [ "$status" -eq 0 ]
    [[ "$output" == *"sync patterns ok"* ]]
    [[ "$output" == *"async patterns ok (16 requests in flight)"* ]]
    [[ "$output" == *"flush ok"* ]]
    [[ "$output" == *"read past the end: Invalid argument"* ]]
    [[ "$output" == *"unloaded: 0 resources left behind"* ]]
    [[ "$output" == *"device virtio-blk0 (virtio-blk, slot 0): 39 requests, 0 failed, 155648 bytes read, 155648 written"* ]]
    [[ "$output" != *"driver "* ]]
}

@test "batched requests (SBVM_IO_F_MORE), twice as many as the driver has slots, all complete" {
    # 128 in flight against 64 slots: a batch's tail waits for slots, and
    # goes in from the interrupt handler without its own notification.
    for mode in batch dma,batch; do
        run_drv --timeout 60 --device "virtio-blk,disk=$DIR/b.img,size=4M" -r "$DRV/virtio-blk.so" \
            -- bench virtio-blk 0 rand 4096 128 0.3 "$mode"
        [ "$status" -eq 0 ]
        [[ "$output" =~ qd=128[a-z\ ]*batch:\ [1-9][0-9]*\ requests ]]
        [[ "$output" == *"unloaded: 0 resources left behind"* ]]
        [[ "$output" == *"requests, 0 failed"* ]]
    done
    # The test program's own bound on the queue depth.
    run_drv --device "virtio-blk,disk=$DIR/b.img" -r "$DRV/virtio-blk.so" \
        -- bench virtio-blk 0 rand 4096 300 0.1 batch
    [ "$status" -ne 0 ]
    [[ "$output" == *"FAIL queue depth (1 to 256): Invalid argument"* ]]
}

@test "the same driver over the legacy transport: I/O BAR registers and QUEUE_PFN" {
    run_drv --device "virtio-blk,disk=$DIR/d.img,size=8M,transport=legacy" \
        -r "$DRV/virtio-blk.so" -- rw
    [ "$status" -eq 0 ]
    [[ "$output" == *"unit 0: slot 0, legacy transport, 16384 sectors"* ]]
    [[ "$output" == *"async patterns ok"* ]]
    # A transitional device, driven the legacy way by choice.
    run_drv -e SBVM_VBLK_LEGACY=1 --device "virtio-blk,disk=$DIR/d.img" \
        -r "$DRV/virtio-blk.so" -- rw
    [ "$status" -eq 0 ]
    [[ "$output" == *"legacy transport"* ]]
    [[ "$output" == *"sync patterns ok"* ]]
}

@test "the virtio-scsi driver scans 64 targets, finds the disks, and passes CDBs through" {
    run_drv --device "virtio-scsi,disk=$DIR/a.img,size=16M,disk=$DIR/b.img,size=8M" \
        -r "$DRV/virtio-scsi.so" -- scsi
    [ "$status" -eq 0 ]
    [[ "$output" == *"[virtio-scsi] adapter 0: 64 targets scanned, 2 disks"* ]]
    [[ "$output" == *"target 0: SBVM     Virtual Disk     0001"* ]]
    [[ "$output" == *"target 1: SBVM     Virtual Disk     0001"* ]]
    [[ "$output" == *"scan: 64 inquiries, 2 disks found, 62 targets absent"* ]]
    [[ "$output" == *"capacity: 32768 blocks of 512 bytes (status 0)"* ]]
    [[ "$output" == *"pass-through patterns ok"* ]]
    [[ "$output" == *"bad LBA: status 2, sense key 5, asc 0x21 ascq 0x00, 18 sense bytes"* ]]
    [[ "$output" == *"TEST UNIT READY: status 0"* ]]
    [[ "$output" == *"REPORT LUNS: status 0, 1 LUN"* ]]
    [[ "$output" == *"opcode 0xd9: status 2, sense key 5, asc 0x20"* ]]
    run_drv --device "virtio-scsi,disk=$DIR/a.img,transport=legacy" -r "$DRV/virtio-scsi.so" \
        -- rw virtio-scsi
    [ "$status" -eq 0 ]
    [[ "$output" == *"async patterns ok"* ]]
}

@test "several drivers in one sandbox: partitions of a GPT and an MBR disk as units" {
    python3 "$BATS_TEST_DIRNAME/mkparts.py" "$DIR/g.img" 32 gpt 3
    python3 "$BATS_TEST_DIRNAME/mkparts.py" "$DIR/m.img" 16 mbr 2
    run_drv --device "virtio-blk,disk=$DIR/g.img" --device "virtio-scsi,disk=$DIR/m.img" \
        -r "$DRV/virtio-blk.so" -r "$DRV/virtio-scsi.so" -r "$DRV/partition.so" -- parts
    [ "$status" -eq 0 ]
    [[ "$output" == *"drivers loaded: 3"* ]]
    [[ "$output" == *'part 0: 21151 blocks (gpt partition of virtio-blk 0): "partition 0 of a GPT disk"'* ]]
    [[ "$output" == *'part 2: 21151 blocks (gpt partition of virtio-blk 0): "partition 2 of a GPT disk"'* ]]
    [[ "$output" == *'part 3: 15343 blocks (mbr partition of virtio-scsi 0): "partition 0 of a MBR disk"'* ]]
    [[ "$output" == *'part 4: 15343 blocks (mbr partition of virtio-scsi 0): "partition 1 of a MBR disk"'* ]]
    [[ "$output" == *"unloaded: 0 resources left behind"* ]]
    # A GPT whose header lies (its CRC): not used; the protective MBR has
    # nothing usable, so the partition driver finds nothing.
    python3 "$BATS_TEST_DIRNAME/mkparts.py" "$DIR/bad.img" 16 gpt 2 --corrupt-gpt
    run_drv --device "virtio-blk,disk=$DIR/bad.img" -r "$DRV/virtio-blk.so" \
        -r "$DRV/partition.so" -- parts
    [ "$status" -eq 0 ]
    [[ "$output" == *"[part error] init failed: No such device"* ]]
    [[ "$output" != *"part 0:"* ]]
}

@test "a read-only image: the driver sees it read-only and a write is refused" {
    truncate -s 4M "$DIR/ro.img"
    run_drv --device "virtio-blk,disk=$DIR/ro.img,ro" -r "$DRV/virtio-blk.so" -- info
    [[ "$output" == *"8192 blocks of 512 bytes, virtio-blk (modern), read-only"* ]]
    run_drv --device "virtio-blk,disk=$DIR/ro.img,ro" -r "$DRV/virtio-blk.so" -- write1
    [ "$status" -eq 0 ]
    [[ "$output" == *"write: Read-only file system"* ]]
    # The scsi driver learns it from MODE SENSE; the disk refuses with sense.
    run_drv --device "virtio-scsi,disk=$DIR/ro.img,ro" -r "$DRV/virtio-scsi.so" -- write1 virtio-scsi
    [[ "$output" == *", read-only"* ]]
    [[ "$output" == *"write: Read-only file system"* ]]
    [ "$(od -An -tx1 -N4 "$DIR/ro.img" | tr -d ' ')" = 00000000 ]
}

@test "a driver's crash in init, in an interrupt handler or in a task ends the sandbox with a report naming it" {
    for bug in wild-store:wild_store:drvtest irq-crash:irq_handler_that_crashes:sbvm-irq \
        task-crash:task_that_crashes:buggy-task; do
        IFS=: read -r name fn thread <<<"$bug"
        run_drv -e SBVM_BUGGY="$name" --device "virtio-blk,disk=$DIR/d.img,size=1M" \
            -r "$DRV/buggy.so" -- load
        [ "$status" -eq 139 ]
        [[ "$output" == *"crashed: SIGSEGV (SEGV_MAPERR"*"in $fn+"* ]]
        [[ "$output" == *"(thread "*"\"$thread\"): SIGSEGV"* ]]
        [[ "$output" == *"pc in $DRV/buggy.so"* ]]
        [[ "$output" == *"$fn+0x"*"(../tests/drivers/buggy.c:"*"[buggy.so]"* ]]
    done
    # The host goes on: the next sandbox runs.
    run_drv --device "virtio-blk,disk=$DIR/d.img" -r "$DRV/virtio-blk.so" -- info
    [ "$status" -eq 0 ]
}

@test "rings that lie stop the device (NEEDS_RESET) with the reason, never the host" {
    for bug in "loop:(a loop)" "dma-outside:the buffer at 0xdead0000 (512 bytes) is not inside the driver's memory" \
        "absurd-length:(4294967295 bytes) is not inside the driver's memory"; do
        name="${bug%%:*}"
        why="${bug#*:}"
        run_drv -e SBVM_BUGGY="$name" --device "virtio-blk,disk=$DIR/d.img,size=1M" \
            -r "$DRV/buggy.so" -- load
        [ "$status" -eq 0 ]
        [[ "$output" == *"device status after the bad chain: 0x4f (DEVICE_NEEDS_RESET)"* ]]
        [[ "$output" == *"; stopped: queue 0: descriptor chain 0: "*"$why"* ]]
    done
}

@test "what a driver leaves behind is listed and reaped; double and foreign closes are refused" {
    run_drv -e SBVM_BUGGY=leak --device "virtio-blk,disk=$DIR/d.img,size=1M" -r "$DRV/buggy.so" -- load
    [ "$status" -eq 0 ]
    [[ "$output" == *"driver buggy: left behind 2 allocations (128 bytes), 2 DMA buffers ("*"), 1 interrupt handler, 1 task, 1 timer, 1 event, 1 lock, 1 open unit"* ]]
    [[ "$output" == *"unloaded: 10 resources left behind"* ]]
    run_drv -e SBVM_BUGGY=double-close --device "virtio-blk,disk=$DIR/d.img" -r "$DRV/buggy.so" -- load
    [ "$status" -eq 0 ]
    [[ "$output" == *"refused: free of 0x"*"not an allocation of this driver (freed twice, or never allocated)"* ]]
    [[ "$output" == *"refused: detach of 0x"*"not an attached handler"* ]]
    [[ "$output" == *"refused: stop of 0x"*"not a running timer"* ]]
    [[ "$output" == *"driver buggy: left behind 1 DMA buffer ("*"); refused 4 frees or closes of what it did not own"* ]]
    run_drv -e SBVM_BUGGY=foreign-close --device "virtio-blk,disk=$DIR/d.img" -r "$DRV/buggy.so" -- load
    [[ "$output" == *"refused 3 frees or closes of what it did not own"* ]]
    # The test program's own: a unit closed twice, one never opened, and
    # what it left open.
    run_drv --device "virtio-blk,disk=$DIR/d.img" -r "$DRV/virtio-blk.so" -- misuse
    [ "$status" -eq 0 ]
    [[ "$output" == *"close: 0"* ]]
    [[ "$output" == *"close again: Bad file descriptor"* ]]
    [[ "$output" == *"close of a handle never opened: Bad file descriptor"* ]]
    [[ "$output" == *"driver test program: left behind 1 DMA buffer (4096 bytes), 1 open unit; refused 2 frees or closes of what it did not own"* ]]
}

@test "--trace-devices records configuration, BAR accesses and requests, as text and as JSON" {
    run_drv --trace-devices "$DIR/t.txt" --device "virtio-blk,disk=$DIR/d.img,size=1M" \
        -r "$DRV/virtio-blk.so" -- rw
    [ "$status" -eq 0 ]
    grep -q "virtio-blk0 cfg write +0x004 /2 <- 0x7" "$DIR/t.txt"
    grep -q "virtio-blk0 bar4 read  +0x004 /4 -> " "$DIR/t.txt"
    grep -q "virtio-blk0 queue 0: 256 entries" "$DIR/t.txt"
    grep -q "virtio-blk0 q0 #[0-9]* OUT lba 0 x16 8192 bytes -> OK" "$DIR/t.txt"
    grep -q "virtio-blk0 q0 #[0-9]* IN lba 2048 x1 .* -> IOERR\|virtio-blk0 q0 #[0-9]* FLUSH 0 bytes -> OK" "$DIR/t.txt"
    run_drv --trace-devices "$DIR/t.json" --trace-json --device "virtio-scsi,disk=$DIR/s.img,size=1M" \
        -r "$DRV/virtio-scsi.so" -- info virtio-scsi
    [ "$status" -eq 0 ]
    python3 - "$DIR/t.json" <<'EOF'
import json, sys
kinds, bad = {}, 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
    if o["kind"] == "request" and o["status"] == "BAD_TARGET":
        bad += 1
assert kinds.get("access", 0) > 20, kinds
assert kinds.get("request", 0) >= 64, kinds
assert kinds.get("event", 0) >= 3, kinds
assert bad == 63, bad
EOF
}

@test "usage: drivers need a test program and one guest; devices and drivers are checked" {
    run -125 "$SBVM" run -r "$DRV/virtio-blk.so"
    [[ "$output" == *"-r needs a test program to load the drivers: -t PROGRAM"* ]]
    run -125 "$SBVM" run --device "virtio-blk,disk=$DIR/d.img,size=1M" -- true ::: true
    [[ "$output" == *"--device and -r: one guest"* ]]
    # The devices use the guest's one host channel (fd 3).
    run -125 "$SBVM" run --channel --device "virtio-blk,disk=$DIR/d.img,size=1M" -- true
    [[ "$output" == *"--channel cannot be given with them"* ]]
    run -125 "$SBVM" run --device "virtio-blk,disk=$DIR/d.img,size=1000" -- true
    [[ "$output" == *"is not a size in whole 512-byte sectors"* ]]
    run -125 "$SBVM" run -r "$DIR/missing.so" -t true
    [[ "$output" == *"driver $DIR/missing.so: No such file or directory"* ]]
    # A device whose image cannot be opened fails the sandbox's set-up.
    run "$SBVM" run --device "virtio-blk,disk=$DIR/none.img" -- true
    [ "$status" -eq 125 ]
    [[ "$output" == *"opening disk image $DIR/none.img: No such file or directory"* ]]
}

@test "a program without the SDK is unaffected by the channel it was given" {
    run "$SBVM" run --device "virtio-blk,disk=$DIR/d.img,size=1M" -- sh -c 'echo "fd3 $(ls -l /proc/self/fd/3 | grep -c socket) $SBVM_CHANNEL"'
    [ "$status" -eq 0 ]
    [[ "$output" == *"fd3 1 3"* ]]
}
