#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The filesystem options: --ro, --rw, --tmpfs, --hide, --cwd, --copy-in,
# --copy-out, --rootfs; symlink tricks against them; bad input.

load helpers

# A host directory the guest (uid 65534 as root, the caller otherwise) may
# write into.
shared_dir() {
    local d
    d="$(scratch)"
    chmod 0777 "$d"
    chmod a+x "$(dirname "$d")"
    echo "$d"
}

@test "--ro shows a host directory read-only, nosuid and nodev" {
    local d
    d="$(shared_dir)"
    echo "host data" >"$d/file"
    chmod a+r "$d/file"
    run --separate-stderr "$SBVM" run --no-tag --ro "$d:/data" -- sh -c '
        cat /data/file
        echo x >/data/new 2>&1 || echo "write refused"
        grep " /data " /proc/self/mountinfo'
    [ "$status" -eq 0 ]
    [[ "$output" == *"host data"* ]]
    [[ "$output" == *"write refused"* ]]
    [[ "$output" == *" /data ro,nosuid,nodev"* ]]
    [ ! -e "$d/new" ]
    assert_nothing_left
}

@test "--ro without a destination uses the same path" {
    local d
    d="$(shared_dir)"
    echo same >"$d/f"
    chmod a+r "$d/f"
    run "$SBVM" run -q --no-tag --ro "$d" -- cat "$d/f"
    [ "$status" -eq 0 ]
    [ "$output" = "same" ]
}

@test "--rw lets the guest write into a host directory, and --cwd works there" {
    local d
    d="$(shared_dir)"
    run --separate-stderr "$SBVM" run --no-tag --rw "$d:/work" --cwd /work -- sh -c 'pwd; echo made >out.txt'
    [ "$status" -eq 0 ]
    [ "$output" = "/work" ]
    [ "$(cat "$d/out.txt")" = "made" ]
    assert_nothing_left
}

@test "--tmpfs gives a fresh tmpfs of the size asked, with inodes to match" {
    run --separate-stderr "$SBVM" run --no-tag --tmpfs /scratch:2M -- sh -c '
        stat -f -c "%b %S %c" /scratch
        dd if=/dev/zero of=/scratch/big bs=64k count=64 2>/dev/null || echo "full"
        rm -f /scratch/big
        i=0; while [ $i -lt 1100 ] && true 2>/dev/null >/scratch/f$i; do i=$((i + 1)); done
        echo "files $i"'
    [ "$status" -eq 0 ]
    [ "$(head -1 <<<"$output" | awk '{print $1 * $2}')" -eq $((2 * 1024 * 1024)) ]
    # One inode per 4 KiB, at least 1024 (the root directory takes one).
    [ "$(head -1 <<<"$output" | awk '{print $3}')" -eq 1024 ]
    [[ "$output" == *"full"* ]]
    [[ "$output" == *"files 1023"* ]]
}

@test "--hide empties a file and a directory of the view" {
    run --separate-stderr "$SBVM" run --no-tag --hide /etc/services --hide /usr/share/doc -- sh -c '
        wc -c </etc/services
        ls -A /usr/share/doc | wc -l
        touch /usr/share/doc/x 2>&1 || echo "read-only"'
    [ "$status" -eq 0 ]
    [ "$(sed -n 1p <<<"$output")" = "0" ]
    [ "$(sed -n 2p <<<"$output")" = "0" ]
    [[ "$output" == *"read-only"* ]]
    run --separate-stderr "$SBVM" run --hide /no/such/thing -- true
    [ "$status" -eq 125 ]
    [[ "$stderr" == *"hiding /no/such/thing"* ]]
}

@test "--copy-in puts a file and a tree into the view; symlinks stay symlinks" {
    local d
    d="$(scratch)"
    mkdir -p "$d/tree/sub"
    echo one >"$d/tree/sub/a"
    echo two >"$d/file"
    ln -s /etc/shadow "$d/tree/link"
    chmod -R a+rX "$d"
    run --separate-stderr "$SBVM" run --no-tag --copy-in "$d/tree:/tmp/tree" \
        --copy-in "$d/file:/tmp/file" -- sh -c '
            cat /tmp/tree/sub/a /tmp/file
            readlink /tmp/tree/link
            echo changed >/tmp/file && echo writable'
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'one\ntwo\n/etc/shadow\nwritable')" ]
    # The host's copies are untouched.
    [ "$(cat "$d/file")" = "two" ]
}

@test "--copy-in of a missing source or into a missing directory fails before the guest runs" {
    run --separate-stderr "$SBVM" run --copy-in /no/such:/tmp/x -- true
    assert_bad_input 125 "--copy-in /no/such: No such file or directory"
    local d
    d="$(scratch)"
    echo x >"$d/f"
    chmod -R a+rX "$d"
    # Repeated: the guest process, still starting when the copy fails, once
    # reported the supervisor's calling the spawn off as its own failure
    # ("creating the sandbox's network namespace: Broken pipe"), about one
    # run in 45 as an ordinary user.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        run --separate-stderr "$SBVM" run --copy-in "$d/f:/tmp/missing/dir/f" -- sh -c 'echo ran'
        [ "$status" -eq 125 ]
        [[ "$stderr" == "sandboxvm: sh: --copy-in $d/f:/tmp/missing/dir/f: its directory in the sandbox: No such file or directory"* ]]
        [[ "$output" != *"ran"* ]]
    done
    assert_nothing_left
}

@test "--copy-out copies even after a crash, from /tmp and from a tmpfs" {
    local d
    d="$(scratch)"
    run --separate-stderr "$SBVM" run --no-tag --tmpfs /results \
        --copy-out "/tmp/report.txt:$d/report.txt" --copy-out "/results:$d/results" -- sh -c '
            echo "partial report" >/tmp/report.txt
            mkdir /results/sub && echo deep >/results/sub/f
            kill -SEGV $$'
    [ "$status" -eq 139 ]
    [ "$(cat "$d/report.txt")" = "partial report" ]
    [ "$(cat "$d/results/sub/f")" = "deep" ]
    [[ "$stderr" == *"copied out /tmp/report.txt to $d/report.txt"* ]]
    assert_nothing_left
}

@test "--copy-out writes a sparse file's data, not its size, and never more than the guest could hold" {
    local d
    d="$(scratch)"
    # Forty files of 60 MiB each (2.4 GB) in a 64 MiB scratch: all holes.
    run --separate-stderr "$SBVM" run --no-tag --disk 64M --copy-out "/tmp/out:$d/out" -- sh -c '
        mkdir /tmp/out
        for i in $(seq 40); do truncate -s 60M /tmp/out/sparse$i; done
        echo tail >>/tmp/out/sparse1
        head -c 1000000 /dev/zero | tr "\0" x >/tmp/out/data'
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$(stat -c %s "$d/out/sparse1")" -eq $((60 * 1024 * 1024 + 5)) ]
    [ "$(tail -c 5 "$d/out/sparse1")" = "tail" ]
    [ "$(stat -c %s "$d/out/sparse40")" -eq $((60 * 1024 * 1024)) ]
    [ "$(stat -c %s "$d/out/data")" -eq 1000000 ]
    # What reached the host's disk: about the 1 MB of data, not 2.4 GB.
    [ "$(du -sk "$d/out" | cut -f1)" -lt 4096 ]
}

@test "--copy-out after a limit stopped the guest" {
    local d
    d="$(scratch)"
    run --separate-stderr "$SBVM" run --timeout 1 --copy-out "/tmp/progress:$d/progress" -- sh -c '
        echo "got this far" >/tmp/progress; sleep 30'
    [ "$status" -eq 124 ]
    [ "$(cat "$d/progress")" = "got this far" ]
}

@test "a guest's symlinks cannot make --copy-out read or write elsewhere" {
    local d
    d="$(scratch)"
    echo "keep me" >"$d/existing"
    run --separate-stderr "$SBVM" run --json "$d/r.json" \
        --copy-out "/tmp/out:$d/out" --copy-out "/tmp/via/passwd:$d/via" -- sh -c '
            ln -s /etc/passwd /tmp/out
            ln -s /etc /tmp/via'
    # The guest exited 0, but a copy failed: the run did not (issue 13).
    [ "$status" -eq 125 ]
    # The symlink itself came out, as a symlink, not what it names.
    [ -L "$d/out" ]
    [ "$(readlink "$d/out")" = "/etc/passwd" ]
    # A path through a symlink is refused; nothing is written.
    [ ! -e "$d/via" ]
    [[ "$stderr" == *"--copy-out /tmp/via/passwd:$d/via: its directory in the sandbox: Too many levels of symbolic links"* ]]
    jcheck "$d/r.json" '[c["error"] is None for c in g["copies"]]==[True, False]'
    jcheck "$d/r.json" '[c["direction"] for c in g["copies"]]==["out"]*2'
    jschema "$d/r.json"
    # An existing host file is never overwritten: refused before the guest
    # runs, naming it.
    run --separate-stderr "$SBVM" run --copy-out "/tmp/x:$d/existing" -- sh -c 'echo ran; echo x >/tmp/x'
    assert_bad_input 125 "--copy-out /tmp/x:.*/existing: .*/existing exists already"
    [ -z "$output" ]
    [ "$(cat "$d/existing")" = "keep me" ]
}

@test "a symlink planted in an --rw directory cannot redirect a later mount" {
    local d
    d="$(shared_dir)"
    # First run: the guest leaves a symlink in the shared directory.
    run "$SBVM" run -q --rw "$d:/work" -- ln -s /etc /work/evil
    [ "$status" -eq 0 ]
    [ -L "$d/evil" ]
    # Second run: a tmpfs asked for at /work/evil must not land on /etc.
    run --separate-stderr "$SBVM" run --rw "$d:/work" --tmpfs /work/evil -- true
    [ "$status" -eq 125 ]
    [[ "$stderr" == *"mounting a tmpfs at /work/evil: Too many levels of symbolic links"* ]]
    assert_nothing_left
}

@test "several guests copy out to HOST.NAME each" {
    local d
    d="$(scratch)"
    run "$SBVM" run -q --name a --name b --copy-out "/tmp/o:$d/o" -- sh -c 'echo A >/tmp/o' ::: sh -c 'echo B >/tmp/o'
    [ "$status" -eq 0 ]
    [ "$(cat "$d/o.a")" = "A" ]
    [ "$(cat "$d/o.b")" = "B" ]
}

@test "--rootfs runs a busybox tree as the guest's root, programs looked up inside it" {
    [ -x /bin/busybox ] || skip "busybox-static is not installed"
    local r
    r="$(scratch)"
    mkdir -p "$r/bin" "$r/proc" "$r/dev" "$r/tmp" "$r/etc"
    cp /bin/busybox "$r/bin/"
    for c in sh ls cat echo id; do ln -s busybox "$r/bin/$c"; done
    echo "inside the rootfs" >"$r/etc/motd"
    chmod -R a+rX "$r"
    chmod a+x "$(dirname "$r")"
    run --separate-stderr "$SBVM" run --no-tag --rootfs "$r" --env PATH=/bin -- sh -c '
        cat /etc/motd; ls /; ls /usr 2>&1 || echo "no /usr"; echo x >/new 2>&1 || echo "read-only"
        echo scratch >/tmp/s && cat /tmp/s'
    echo "$stderr"
    [ "$status" -eq 0 ]
    [[ "$output" == *"inside the rootfs"* ]]
    [[ "$output" == *"no /usr"* ]]
    [[ "$output" == *"read-only"* ]]
    [[ "$output" == *"scratch"* ]]
    # A program the tree does not have is not found, even if the host has it.
    run -127 --separate-stderr "$SBVM" run --rootfs "$r" --env PATH=/bin -- python3 -c pass
    [ "$status" -eq 127 ]
    [[ "$stderr" == *"python3: not found in the rootfs's PATH"* ]]
    rmdir "$r/proc"
    run --separate-stderr "$SBVM" run --rootfs "$r" -- /bin/sh -c true
    [ "$status" -eq 125 ]
    [[ "$stderr" == *"it has no /proc directory"* ]]
    assert_nothing_left
}

@test "a program in a mount runs by its path in the guest, is found in PATH, and crashes symbolised" {
    local d
    d="$(shared_dir)"
    printf '#!/bin/sh\necho "tool ran as $0"\n' >"$d/tool"
    chmod 0755 "$d/tool"
    ln -s tool "$d/alias"
    ln -s /usr/bin/python3 "$d/python"
    cp "$GUESTS/crasher" "$d/crasher"
    chmod a+rx "$d/crasher"
    run --separate-stderr "$SBVM" run --no-tag --ro "$d:/tools" -- /tools/tool
    [ "$status" -eq 0 ]
    [ "$output" = "tool ran as /tools/tool" ]
    run --separate-stderr "$SBVM" run --no-tag --ro "$d:/tools" --env PATH=/usr/bin:/tools -- alias
    [ "$status" -eq 0 ]
    [ "$output" = "tool ran as /tools/alias" ]
    # A symlink out of the mount is the guest's to follow: here, to its python3.
    run --separate-stderr "$SBVM" run --no-tag --ro "$d:/venv" -- /venv/python -c 'print("py")'
    [ "$status" -eq 0 ]
    [ "$output" = "py" ]
    # The crash report's backtrace reads the program from the mount's source.
    run --separate-stderr "$SBVM" run --no-tag --ro "$d:/opt" -- /opt/crasher null-write
    [ "$status" -eq 139 ]
    [[ "$stderr" == *"null_write+"*"crasher.c:"* ]]
    [[ "$stderr" == *"pc in /opt/crasher"* ]]
    assert_nothing_left
}

@test "a program under an empty mount or a missing mount point is refused with the reason" {
    local d
    d="$(shared_dir)"
    printf '#!/bin/sh\necho hi\n' >"$d/tool"
    chmod 0755 "$d/tool"
    run -127 --separate-stderr "$SBVM" run --ro "$d:/tools" --tmpfs /tools -- /tools/tool
    [ "$status" -eq 127 ]
    [[ "$stderr" == *"/tools/tool: it is under /tools, which starts empty (--tmpfs or --hide)"* ]]
    run -127 --separate-stderr "$SBVM" run --ro "$d:/tools" -- /tools/nope
    [ "$status" -eq 127 ]
    [[ "$stderr" == *"/tools/nope: No such file or directory in the mount at /tools"* ]]
    # A file mounted alone runs by its new name.
    run --separate-stderr "$SBVM" run --no-tag --ro "$d/tool:/tmp/t" -- /tmp/t
    [ "$status" -eq 0 ]
    [ "$output" = "hi" ]
    # No mount point can be made in a read-only directory that lacks it.
    run --separate-stderr "$SBVM" run --ro "$d/tool:/usr/local/bin/sbvm-t" -- /bin/true
    [ "$status" -eq 125 ]
    [[ "$stderr" == *"the directory above it is read-only: choose a destination that exists"* ]]
    assert_nothing_left
}

@test "bad filesystem options are refused (125) with the option and the reason" {
    run --separate-stderr "$SBVM" run --ro /no/such/dir -- true
    assert_bad_input 125 "--ro /no/such/dir: No such file or directory"
    run --separate-stderr "$SBVM" run --rw /tmp:relative -- true
    assert_bad_input 125 "--rw relative: the path inside the sandbox must be absolute"
    run --separate-stderr "$SBVM" run --ro /usr:/a/../b -- true
    assert_bad_input 125 "write the path plainly"
    run --separate-stderr "$SBVM" run --tmpfs / -- true
    assert_bad_input 125 "the root itself cannot be replaced"
    run --separate-stderr "$SBVM" run --ro /usr:/proc/x -- true
    assert_bad_input 125 "/proc and /dev are the sandbox's own"
    run --separate-stderr "$SBVM" run --tmpfs /x:1K -- true
    assert_bad_input 125 "a size under 4 KiB"
    run --separate-stderr "$SBVM" run --copy-out /tmp/x -- true
    assert_bad_input 125 "--copy-out /tmp/x: write GUEST:HOST"
    run --separate-stderr "$SBVM" run --copy-out /tmp/x:/no/such/dir/x -- true
    assert_bad_input 125 "--copy-out /no/such/dir/x: its directory /no/such/dir"
    run --separate-stderr "$SBVM" run --rootfs /etc/hostname -- true
    assert_bad_input 125 "--rootfs /etc/hostname: not a directory"
}

@test "an unreadable source is refused" {
    [ "$(id -u)" -ne 0 ] || skip "root reads anything; covered by the ordinary-user pass"
    local d
    d="$(scratch)"
    mkdir "$d/secret"
    chmod 000 "$d/secret"
    run --separate-stderr "$SBVM" run --ro "$d/secret:/s" -- true
    assert_bad_input 125 "--ro $d/secret: Permission denied"
}
