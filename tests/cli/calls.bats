#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# `sandboxvm call`: one function of a shared library, called in a sandbox
# from the shell: real zlib, and the buggy fixture library's ways of dying,
# each with its exit status and its report; nothing left behind.

load helpers

CALLS="${SBVM_CALLS:-$GUESTS/../calls}"
BUGGY="$CALLS/libbuggy.so"

# Worker processes of this build's fixture library (their argv names it).
workers_left() {
    pgrep -f "sbvm-worker (serve|zygote) $(realpath "$BUGGY")" | wc -l
}

@test "call --help says what a call can and cannot express" {
    run "$SBVM" call --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"up to 16 arguments"* ]]
    [[ "$output" == *"What it cannot: structures passed by value"* ]]
    [[ "$output" == *"out:N@FILE"* ]]
    run "$SBVM" help call
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: sandboxvm call"* ]]
}

@test "zlib's functions answer as they would in this process" {
    run "$SBVM" call --ret str libz.so.1 zlibVersion
    [ "$status" -eq 0 ]
    want="$(python3 -c 'import zlib; print(zlib.ZLIB_RUNTIME_VERSION)')"
    [ "$output" = "returned: \"$want\"" ]
    run "$SBVM" call -q --ret ulong libz.so.1 crc32 0 s:hello 5
    [ "$status" -eq 0 ]
    [ "$output" = "$(python3 -c 'import zlib; print(zlib.crc32(b"hello"))')" ]
    assert_nothing_left
}

@test "uncompress from a file into a file, the length in and out" {
    dir="$(scratch)"
    python3 -c 'import zlib, sys; d = bytes(range(256)) * 40; open(sys.argv[1] + "/raw", "wb").write(d); open(sys.argv[1] + "/z", "wb").write(zlib.compress(d))' "$dir"
    run "$SBVM" call libz.so.1 uncompress "out:10240@$dir/out" u64:10240 "in:@$dir/z" len:3
    [ "$status" -eq 0 ]
    [[ "$output" == *"returned: 0"* ]]
    [[ "$output" == *"argument 1: 10240 bytes written to $dir/out"* ]]
    [[ "$output" == *"argument 2: 10240"* ]]
    cmp "$dir/raw" "$dir/out"
    # The out file is never written over.
    run "$SBVM" call libz.so.1 uncompress "out:10240@$dir/out" u64:10240 "in:@$dir/z" len:3
    [ "$status" -eq 125 ]
    [[ "$output" == *"$dir/out: File exists"* ]]
    # Too small: Z_BUF_ERROR, what fitted printed.
    run "$SBVM" call libz.so.1 uncompress out:16 u64:16 "in:@$dir/z" len:3
    [ "$status" -eq 0 ]
    [[ "$output" == *"returned: -5"* ]]
    [[ "$output" == *"00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f"* ]]
    rm -rf "$dir"
    assert_nothing_left
}

@test "a library outside the system directories is found with its dependency" {
    run "$SBVM" call "$BUGGY" buggy_twice 21
    [ "$status" -eq 0 ]
    [ "$output" = "returned: 42" ]
    run "$SBVM" call --ret double "$BUGGY" buggy_mix 1 2 3 4 5 6 d:1 d:1 d:1 d:1 d:1 d:1 d:1 d:1
    [ "$status" -eq 0 ]
    [ "$output" = "returned: 57" ]
    run "$SBVM" call --ret float "$BUGGY" buggy_fmul f:1.5 f:-4
    [ "$output" = "returned: -6" ]
    run "$SBVM" call --ret ulong "$BUGGY" buggy_upper s:shout out:16 len:2
    [ "$status" -eq 0 ]
    [[ "$output" == *"returned: 5"* ]]
    [[ "$output" == *"53 48 4f 55 54 00"* ]]
}

@test "a crash is reported with its backtrace and exits 128+signal; nothing is left" {
    run "$SBVM" call "$BUGGY" buggy_null
    [ "$status" -eq 139 ]
    [[ "$output" == *"buggy_null: crashed: SIGSEGV"*"at 0x0"* ]]
    [[ "$output" == *"backtrace:"* ]]
    [[ "$output" == *"buggy_null+"*"buggy.c:"* ]]
    run "$SBVM" call "$BUGGY" buggy_abort
    [ "$status" -eq 134 ]
    [[ "$output" == *"SIGABRT"*"called from buggy_abort"* ]]
    [ "$(workers_left)" -eq 0 ]
    assert_nothing_left
}

@test "a call a worker may not make is denied by name" {
    run "$SBVM" call "$BUGGY" buggy_exec
    [ "$status" -eq 159 ]
    [[ "$output" == *"denied: the library called execve"* ]]
    run "$SBVM" call "$BUGGY" buggy_write_file s:/tmp/sbvm-evil
    [ "$status" -eq 159 ]
    [[ "$output" == *"openat"* ]]
    [ ! -e /tmp/sbvm-evil ]
}

@test "a call over its budget is ended: 124" {
    start=$SECONDS
    run "$SBVM" call --timeout 0.5 "$BUGGY" buggy_spin
    [ "$status" -eq 124 ]
    [[ "$output" == *"over its time budget (500 ms)"* ]]
    [ $((SECONDS - start)) -lt 20 ]
    run "$SBVM" call --cpu 0.3 "$BUGGY" buggy_spin
    [ "$status" -eq 124 ]
    [[ "$output" == *"over its CPU budget (300 ms)"* ]]
    [ "$(workers_left)" -eq 0 ]
}

# Status 125 and exactly one line on stderr matching the pattern (what
# assert_bad_input checks, but for leftovers, checked once after them all).
refused() {
    local pattern="$1"
    [ "$status" -eq 125 ] || { echo "status $status, expected 125; stderr: $stderr"; return 1; }
    [ "$(printf '%s\n' "$stderr" | grep -c .)" -eq 1 ] || { echo "expected one line, got: $stderr"; return 1; }
    [[ "$stderr" =~ $pattern ]] || { echo "stderr '$stderr' does not match '$pattern'"; return 1; }
}

@test "what cannot be called is refused in one line" {
    run --separate-stderr "$SBVM" call libz.so.1 no_such_function
    refused "no symbol no_such_function"
    run --separate-stderr "$SBVM" call libz.so.1 crc32 zz:1
    refused "'zz:1': not an argument"
    run --separate-stderr "$SBVM" call libz.so.1 crc32 0 len:1
    refused "len:1: argument 1 is not a buffer"
    run --separate-stderr "$SBVM" call libz.so.1 crc32 in:hex:abc
    refused "an odd number of digits"
    run --separate-stderr "$SBVM" call /sbvm/no/such/lib.so f
    refused "/sbvm/no/such/lib.so: No such file or directory"
    run --separate-stderr "$SBVM" call libz.so.1
    refused "name a library and a function"
    run --separate-stderr "$SBVM" call --ret struct libz.so.1 crc32
    refused "--ret struct: one of"
    run --separate-stderr "$SBVM" call libz.so.1 crc32 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17
    refused "17 arguments: at most 16"
    # Nothing left by any of them.
    assert_nothing_left
}

@test "the Python module's own tests pass (ctypes over libsandboxvm.so)" {
    # The library beside the real binary (SBVM may be the pid-noting wrapper).
    real="$SBVM_REAL"
    if [ "$(head -c 2 "$real")" = '#!' ] && grep -q '^exec ' "$real"; then
        real="$(sed -n 's/^exec "\([^"]*\)".*/\1/p' "$real")"
    fi
    lib="${SBVM_LIBRARY:-$(dirname "$real")/libsandboxvm.so}"
    [ -e "$lib" ] || skip "no libsandboxvm.so beside $real"
    if ldd "$lib" | grep -q libasan; then
        skip "libsandboxvm.so is built with ASan: python3 cannot load it without its runtime"
    fi
    run env SBVM_LIBRARY="$lib" SBVM_CALLS="$CALLS" PYTHONDONTWRITEBYTECODE=1 \
        python3 -m unittest discover -s "$TOP/python" -v
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Ran 8 tests"* ]]
    [[ "$output" != *"skipped"* ]]
    [ "$(workers_left)" -eq 0 ]
}
