#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Live output, standard input, output files, reports and host signals.

load helpers

@test "output is tagged per line and streams stay apart" {
    run --separate-stderr "$SBVM" run --name g -- sh -c 'echo one; echo two >&2; printf "partial"'
    [ "$status" -eq 0 ]
    [ "$output" = $'[g] one\n[g] partial' ]
    [ "$stderr" = "[g] two" ]
}

@test "output arrives while the guest still runs" {
    # The guest prints a line, then waits for us. If output were held back
    # until the guest ends, the line would never come and the wait would
    # time out.
    local d pid
    d="$(scratch)"
    mkfifo "$d/in"
    exec 7<>"$d/in"
    "$SBVM" run -- sh -c 'echo early; read x; echo "late $x"' <&7 >"$d/out" &
    pid=$!
    for _ in $(seq 200); do grep -q early "$d/out" && break; sleep 0.05; done
    grep -q '^\[sh\] early$' "$d/out"
    ! grep -q late "$d/out"
    echo go >&7
    wait "$pid"
    exec 7>&-
    grep -q '^\[sh\] late go$' "$d/out"
}

@test "--no-tag passes the bytes through exactly" {
    local d
    d="$(scratch)"
    "$SBVM" run --no-tag -- sh -c 'printf "a\000b\377\n"' >"$d/out"
    printf 'a\000b\377\n' >"$d/want"
    cmp "$d/out" "$d/want"
}

@test "stdin is forwarded to a single guest" {
    run "$SBVM" run -- sh -c 'read a; read b; echo "got $a and $b"' <<<$'first\nsecond'
    [ "$status" -eq 0 ]
    [ "$output" = "[sh] got first and second" ]
    run bash -c "seq 1 100000 | '$SBVM' run --no-tag -- wc -l"
    [ "$output" = "100000" ]
}

@test "with several guests, or --no-stdin, no guest reads stdin" {
    run "$SBVM" run -- sh -c 'cat; echo eof-a' ::: sh -c 'cat; echo eof-b' <<<"secret input"
    [[ "$output" == *"[sh-1] eof-a"* ]]
    [[ "$output" == *"[sh-2] eof-b"* ]]
    [[ "$output" != *"secret input"* ]]
    run "$SBVM" run --no-stdin -- cat <<<"secret input"
    [ "$output" = "" ]
}

@test "a guest that stops reading stdin does not hang the run" {
    run timeout 20 bash -c "yes | '$SBVM' run -- sh -c 'head -c 10 >/dev/null; echo done'"
    [ "$status" -eq 0 ]
    [ "$output" = "[sh] done" ]
}

@test "--output-dir keeps each guest's raw streams in files" {
    local d
    d="$(scratch)"
    run "$SBVM" run -o "$d/out" -- sh -c 'printf "x\033[1my\n"; echo err >&2' ::: /bin/echo hi
    [ "$status" -eq 0 ]
    [ "$(cat "$d/out/sh.stdout")" = $'x\033[1my' ]
    [ "$(cat "$d/out/sh.stderr")" = "err" ]
    [ "$(cat "$d/out/echo.stdout")" = "hi" ]
    [ -e "$d/out/echo.stderr" ] && [ ! -s "$d/out/echo.stderr" ]
}

@test "--output-dir does not follow a planted symlink" {
    local d
    d="$(scratch)"
    mkdir "$d/out"
    ln -s "$d/victim" "$d/out/echo.stdout"
    run --separate-stderr "$SBVM" run -o "$d/out" -- echo hi
    [ ! -e "$d/victim" ]
    [[ "$stderr" == *"--output-dir: writing echo.stdout"* ]]
}

@test "a flooding guest does not grow sandboxvm's memory" {
    command -v /usr/bin/time >/dev/null || skip "GNU time is not installed (package time)"
    local d small big
    d="$(scratch)"
    # What sandboxvm needs to pass 1 MB on, then 100 MB, through the tagger
    # and through --no-tag: the second must cost (almost) nothing more. That
    # holds for any build; under ASan the baseline itself is large (shadow
    # memory, the quarantine of freed blocks), so only the plain build also
    # gets an absolute bound.
    for mode in tag no-tag; do
        local flags=()
        [ "$mode" = no-tag ] && flags=(--no-tag --json "$d/r.json")
        /usr/bin/time -f '%M' -o "$d/small" "$SBVM" run "${flags[@]}" -- "$PROBE" flood 1000000 >/dev/null
        /usr/bin/time -f '%M' -o "$d/big" "$SBVM" run "${flags[@]}" -- "$PROBE" flood 100000000 >/dev/null
        small=$(cat "$d/small")
        big=$(cat "$d/big")
        echo "$mode: peak RSS $small KiB for 1 MB, $big KiB for 100 MB"
        [ $((big - small)) -lt 8192 ]
        if ! ldd "$SBVM_REAL" | grep -q libasan; then
            [ "$big" -lt 20000 ]
        fi
    done
    python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["guests"][0]["stdout"]; assert g["bytes"]==100000000 and g["omitted_bytes"]>0, g["bytes"]' "$d/r.json"
}

@test "--output-dir saves at most --output-dir-limit bytes per stream, and says so" {
    local d
    d="$(scratch)"
    run --separate-stderr "$SBVM" run -o "$d/out" --output-dir-limit 1K -- "$PROBE" flood 10000
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$(stat -c %s "$d/out/probe.stdout")" -eq 1024 ]
    [[ "$stderr" == *"--output-dir: $d/out/probe.stdout holds the first 1024 bytes; 8976 more were not saved"* ]]
    # The default is 1 GiB, not unlimited.
    run "$SBVM" run --help
    [[ "$output" == *"--output-dir-limit SIZE"*"(default 1G"* ]]
    run --separate-stderr "$SBVM" run -o "$d/out2" --output-dir-limit 0 -- true
    [ "$status" -eq 125 ]
}

@test "terminal escapes in guest output are neutralised on a terminal" {
    command -v script >/dev/null || skip "script (util-linux) is not installed"
    local d
    d="$(scratch)"
    script -qec "'$SBVM' run --name t -- printf 'a\033]0;owned\007b\033[2Jc\n'" "$d/typescript" >/dev/null
    grep -aq 'a\\x1b\]0;owned\\x07b\\x1b\[2Jc' "$d/typescript"
    ! grep -aq $'\033]0;owned' "$d/typescript"
    # Messages that quote a hostile command line are defused too.
    printf '%s\n' "\"$SBVM\" run -- \"\$(printf '\\033]0;owned\\007')\"" >"$d/hostile.sh"
    script -qec "bash $d/hostile.sh" "$d/typescript2" >/dev/null || true
    grep -aq 'x1b' "$d/typescript2"
    grep -aq 'not found' "$d/typescript2"
    ! grep -aq $'\033]0;owned' "$d/typescript2"
}

@test "--json writes a report that follows the documented schema" {
    python3 -c 'import jsonschema' 2>/dev/null || skip "python3-jsonschema is not installed"
    local d
    d="$(scratch)"
    run "$SBVM" run --json "$d/r.json" -- sh -c 'echo out; echo err >&2; exit 2' ::: "$EXAMPLES/crash" ::: sbvm-nope ::: /etc
    [ "$status" -eq 2 ]
    python3 - "$TOP/docs/report.schema.json" "$d/r.json" <<'PY'
import json, sys, jsonschema
schema, report = (json.load(open(p)) for p in sys.argv[1:3])
jsonschema.validate(report, schema)
g = report["guests"]
assert report["exit_status"] == 2
assert [x["outcome"] for x in g] == ["exited", "crashed", "not_found", "not_executable"], g
assert g[0]["exit_code"] == 2 and g[0]["stdout"]["head"] == "out\n" and g[0]["stderr"]["head"] == "err\n"
assert g[1]["signal"]["name"] == "SIGSEGV" and g[1]["exit_status"] == 139
assert g[2]["setup"]["errno_name"] == "ENOENT" and g[2]["exit_status"] == 127
assert g[3]["exit_status"] == 126
PY
    # Every kind of detail: crashes, a denial, a limit, a ledger, a kept scratch.
    run "$SBVM" run -q --deny mkdir --files 20 --keep "$d/kept" --json "$d/r2.json" \
        -- "$GUESTS/crasher" thread ::: "$GUESTS/crasher" fork-child ::: sh -c 'mkdir /tmp/x' \
        ::: python3 -c 'import os; [os.open("/dev/null", 0) for i in range(50)]' \
        ::: "$EXAMPLES/leaky" ::: "$PROBE" refused
    [ "$status" -eq 139 ]
    python3 - "$TOP/docs/report.schema.json" "$d/r2.json" <<'PY'
import json, sys, jsonschema
schema, report = (json.load(open(p)) for p in sys.argv[1:3])
jsonschema.validate(report, schema)
g = report["guests"]
assert [x["outcome"] for x in g] == ["crashed", "exited", "denied", "limit", "exited", "exited"], g
assert g[0]["crashes"][0]["backtrace"] and g[1]["crashes"][0]["guest"] is False
assert g[2]["denied"]["syscall"] == "mkdir" and g[3]["limit"]["name"] == "files"
assert g[4]["ledger"]["processes"] and g[4]["kept"]["path"].endswith("/kept/leaky")
assert g[5]["refused_syscalls"]
PY
}

@test "--json - writes to stdout and moves guest output to stderr" {
    run --separate-stderr "$SBVM" run --json - -- echo visible
    [ "$status" -eq 0 ]
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["guests"][0]["stdout"]["head"]=="visible\n"' "$output"
    [ "$stderr" = "[echo] visible" ]
}

@test "--junit writes well-formed JUnit with failures and errors marked" {
    local d
    d="$(scratch)"
    run "$SBVM" run --junit "$d/j.xml" -- /bin/true ::: sh -c 'echo "<&>"; exit 1' ::: "$EXAMPLES/crash"
    [ "$status" -eq 1 ]
    python3 - "$d/j.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suite = root.find("testsuite")
assert suite.get("tests") == "3" and suite.get("failures") == "1" and suite.get("errors") == "1"
cases = {c.get("name"): c for c in suite.iter("testcase")}
assert cases["true"].find("failure") is None and cases["true"].find("error") is None
assert cases["sh"].find("failure").get("type") == "exited"
assert cases["sh"].find("system-out").text == "<&>\n"
assert cases["crash"].find("error").get("type") == "crashed"
assert "SIGSEGV" in cases["crash"].find("error").get("message")
PY
}

@test "Ctrl-C forwards SIGINT; the guest ends as killed" {
    local d
    d="$(scratch)"
    # The shell waits for a foreground child, as on a terminal: SIGINT must
    # reach the child too, or the run would last the full sleep.
    "$SBVM" run --json "$d/r.json" -- sh -c 'echo started; sleep 1000' >"$d/out" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do grep -q started "$d/out" 2>/dev/null && break; sleep 0.05; done
    kill -INT "$pid"
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        echo "sandboxvm still running 20 s after SIGINT"
        return 1
    fi
    local rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 130 ]
    python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["guests"][0]; assert g["outcome"]=="killed" and g["signal"]["name"]=="SIGINT", g' "$d/r.json"
    assert_nothing_left
}

@test "a guest that ignores SIGINT is killed by the second Ctrl-C" {
    local d
    d="$(scratch)"
    "$SBVM" run -- sh -c 'trap "" INT; echo started; sleep 60' >"$d/out" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do grep -q started "$d/out" 2>/dev/null && break; sleep 0.05; done
    kill -INT "$pid"
    sleep 0.3
    kill -0 "$pid"
    kill -INT "$pid"
    local rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 137 ]
    assert_nothing_left
}

@test "a closed stdout stops the guests like a pipeline" {
    run timeout 20 bash -c "'$SBVM' run --no-tag -- yes | head -3"
    [ "$status" -eq 0 ]
    [ "$output" = $'y\ny\ny' ]
}
