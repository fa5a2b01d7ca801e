#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The slow tier: a whole Debian (debootstrap --variant=minbase, ~200 MB,
# about 30 s from a nearby mirror) as a guest's --rootfs. Run by
# `scripts/test.sh --slow`, not by CI. The tree is built once and kept in
# build/slow/ (delete it to rebuild). The mirror is SBVM_DEBIAN_MIRROR, else
# the one this machine's apt uses (scripts/apt-mirror.sh), else debootstrap's
# own default.

load ../cli/helpers

ROOT="$TOP/build/slow/debian-bookworm"

setup_file() {
    [ "$(id -u)" -eq 0 ] || skip "debootstrap needs root to build the tree"
    command -v debootstrap >/dev/null || skip "debootstrap is not installed (scripts/deps.sh slow)"
    if [ ! -e "$ROOT/.sbvm-complete" ]; then
        local tmp="$ROOT.partial" log="$TOP/build/slow/debootstrap.log"
        mkdir -p "$TOP/build/slow"
        rm -rf "$tmp"
        local mirror="${SBVM_DEBIAN_MIRROR:-$("$TOP/scripts/apt-mirror.sh" bookworm || true)}"
        if ! debootstrap --variant=minbase bookworm "$tmp" ${mirror:+"$mirror"} >"$log" 2>&1; then
            rm -rf "$tmp"
            skip "debootstrap could not build the tree (no mirror reachable?): see $log"
        fi
        rm -rf "$ROOT"
        mv "$tmp" "$ROOT"
        touch "$ROOT/.sbvm-complete"
    fi
}

@test "a debootstrapped Debian runs as the root: its shell, dpkg, apt and perl" {
    run --separate-stderr "$SBVM" run --no-tag --rootfs "$ROOT" -- /bin/bash -c '
        cat /etc/debian_version
        dpkg-query -W | wc -l
        apt-get --version | head -n 1
        perl -e "print qq(perl says hi\n)"
        id -u
        touch /usr/x 2>/dev/null || echo "root is read-only"
        echo scratch >/tmp/s && cat /tmp/s
        test -e '"$TOP"' || echo "no host tree"'
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$(cat "$ROOT/etc/debian_version")" ]
    [ "${lines[1]}" -gt 50 ]
    [[ "${lines[2]}" == "apt "* ]]
    [ "${lines[3]}" = "perl says hi" ]
    [ "${lines[4]}" -ne 0 ]
    [ "${lines[5]}" = "root is read-only" ]
    [ "${lines[6]}" = "scratch" ]
    [ "${lines[7]}" = "no host tree" ]
    # Programs come from the tree: bash is looked up in its PATH.
    run --separate-stderr "$SBVM" run --no-tag --rootfs "$ROOT" -- bash -c 'echo $BASH_VERSION'
    [ "$status" -eq 0 ]
    [[ "$output" == 5.* ]]
    assert_nothing_left
}

@test "a crash inside the Debian tree is symbolised from the tree's own files" {
    run --separate-stderr "$SBVM" run --no-tag --rootfs "$ROOT" --ro "$GUESTS:/mnt" \
        -- /mnt/crasher null-write
    echo "$stderr"
    [ "$status" -eq 139 ]
    [[ "$stderr" == *"SIGSEGV (SEGV_MAPERR"* ]]
    [[ "$stderr" == *"null_write+"* ]]
    [[ "$stderr" == *"[libc.so.6]"* ]]
    assert_nothing_left
}

@test "a shell session in the Debian tree: a writable directory, --cwd, copy-out, the ledger" {
    local d
    d="$(scratch)"
    chmod 0777 "$d"
    chmod a+x "$(dirname "$d")"
    run --separate-stderr "$SBVM" run --no-tag --rootfs "$ROOT" --rw "$d:/srv" --cwd /srv \
        --copy-out "/tmp/report:$d/report" -- /bin/bash -c '
            dpkg-query -W -f "\${Package}\n" >packages
            echo "made in $(pwd)" >/tmp/report
            sleep 100 &
            # Until it has exec'"'"'d: caught in the middle of its execve, the
            # ledger names it by its command name alone, "[sleep]".
            i=0
            until grep -aq "^sleep.100" /proc/$!/cmdline || [ $i -ge 100000 ]; do i=$((i + 1)); done
            echo done'
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "done" ]
    grep -qx bash "$d/packages"
    [ "$(cat "$d/report")" = "made in /srv" ]
    # The sleep it left behind was found and reaped.
    [[ "$stderr" == *"left behind"*"sleep 100"* ]]
    assert_nothing_left
}
