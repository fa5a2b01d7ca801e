#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# sandboxvm serve: the session API over its unix socket, with curl.

load helpers

# Starts a server of our own (extra options as arguments): $D its
# directory, $SOCK its socket, $SPID its pid. It is ready when this returns.
start_server() {
    D="$(scratch)"
    SOCK="$D/s.sock"
    mkfifo "$D/ready"
    "$SBVM" serve --socket "$SOCK" --state "$D/state" --ready-fd 3 "$@" 3>"$D/ready" \
        >"$D/log" 2>&1 &
    SPID=$!
    local line=""
    read -r -t 20 line <"$D/ready" || true
    [ "$line" = ready ] || { echo "the server did not start:"; cat "$D/log"; return 1; }
}

stop_server() {
    [ -n "${SPID:-}" ] || return 0
    kill -TERM "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
    SPID=
}

teardown() {
    stop_server
}

# api METHOD PATH [curl args...]: the body on stdout, the status in $D/status.
api() {
    local method="$1" path="$2"
    shift 2
    curl -s --max-time 60 --unix-socket "$SOCK" -X "$method" -o "$D/body" -w '%{http_code}' \
        "http://sbvm$path" "$@" >"$D/status"
    cat "$D/body"
}

status() { cat "$D/status"; }

# The system's Python when there is one: a version manager's shim can take
# seconds to start on a loaded machine, and some tests count seconds.
PY3="$(command -v /usr/bin/python3 || command -v python3)"

# A field of the JSON on stdin, as a Python expression on d.
json() { "$PY3" -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# Two slow tests (one waits out timeouts, one builds sandbox after sandbox)
# run in CI's root pass only, not as uid 4242 nor under ASan, to keep CI's
# time (scripts/test.sh runs this file three times). The clients' suites,
# which run in every pass, still reach snapshots there; the idle timeout
# and lifetime are then checked in the root pass alone.
root_pass_only() {
    [ "$(id -u)" = 0 ] || skip "slow: run in the root pass only"
    ! grep -qa __asan_init "${SBVM_REAL:-$SBVM}" || skip "slow: run in the root pass only (not under ASan)"
}

create() {
    api POST /v1/sandboxes -d "${1:-{\}}" | json 'd["id"]'
}

# Shell text for a sleep of N seconds whose command line carries this run's
# marker (a copy of sleep under the marker's name in the sandbox's /tmp).
msleep() {
    printf 'cp -f /bin/sleep /tmp/%s; /tmp/%s %s' "$MARKER" "$MARKER" "$1"
}

@test "serve: the socket is its owner's alone, and the state directory too" {
    start_server
    [ "$(stat -c %a "$SOCK")" = 600 ]
    [ "$(stat -c %u "$SOCK")" = "$(id -u)" ]
    [ "$(stat -c %a "$D/state")" = 700 ]
    run api GET /v1/info
    [ "$(status)" = 200 ]
    [ "$(echo "$output" | json 'd["api_version"]')" = 1 ]
    [ "$(echo "$output" | json 'd["uid"]')" = "$(id -u)" ]
    stop_server
    [ ! -e "$SOCK" ]
}

@test "serve: create, exec with streamed events, destroy" {
    start_server
    local sb
    sb="$(create)"
    [ "$(status)" = 201 ]
    run api POST "/v1/sandboxes/$sb/exec" -d '{"shell": "echo out; echo err >&2; exit 3"}'
    [ "$(status)" = 200 ]
    # One JSON object a line: start, the output as it came, the end.
    [ "$(echo "$output" | sed -n 1p | json 'd["type"]')" = start ]
    [ "$(echo "$output" | grep -c '"type":"stdout","data":"out\\n"')" = 1 ]
    [ "$(echo "$output" | grep -c '"type":"stderr","data":"err\\n"')" = 1 ]
    [ "$(echo "$output" | tail -1 | json 'd["type"], d["result"]["outcome"], d["result"]["exit_code"]')" = "('end', 'exited', 3)" ]
    # Collected instead of streamed: one document.
    run api POST "/v1/sandboxes/$sb/exec" -d '{"argv": ["cat"], "stdin": "typed", "stream": false}'
    [ "$(echo "$output" | json 'd["stdout"], d["result"]["exit_status"]')" = "('typed', 0)" ]
    run api GET /v1/sandboxes
    [ "$(echo "$output" | json 'len(d["sandboxes"])')" = 1 ]
    run api DELETE "/v1/sandboxes/$sb"
    [ "$(status)" = 200 ]
    [ "$(echo "$output" | json 'd["state"], d["end_reason"]')" = "('ended', 'destroyed')" ]
    # An ended sandbox says why, and refuses work with the reason.
    run api POST "/v1/sandboxes/$sb/exec" -d '{"argv": ["true"]}'
    [ "$(status)" = 409 ]
    [[ "$output" == *"has ended (destroyed)"* ]]
    stop_server
    assert_nothing_left
}

@test "serve: every refusal is a 4xx with a message, malformed HTTP included" {
    start_server
    local sb
    sb="$(create)"
    run api GET /v2/sandboxes
    [ "$(status)" = 404 ]
    [[ "$output" == *'"message":"no such path'* ]]
    run api PUT /v1/sandboxes
    [ "$(status)" = 405 ]
    run api POST /v1/sandboxes -d '{"settings": '
    [ "$(status)" = 400 ]
    [[ "$output" == *"not JSON"* ]]
    run api POST /v1/sandboxes -d '{"colour": "blue"}'
    [ "$(status)" = 400 ]
    [[ "$output" == *'unknown field \"colour\"'* ]]
    run api POST "/v1/sandboxes/$sb/exec" -d '{"argv": []}'
    [ "$(status)" = 400 ]
    run api POST "/v1/sandboxes/$sb/exec" -d '{"argv": ["a\u0000b"]}'
    [ "$(status)" = 400 ]
    run api GET /v1/sandboxes/sb-000000000000
    [ "$(status)" = 404 ]
    run api GET "/v1/sandboxes/$sb/jobs/j99"
    [ "$(status)" = 404 ]
    # A body larger than the server reads: refused before it is read.
    head -c 3000000 /dev/zero >"$D/big"
    run api POST /v1/sandboxes --data-binary @"$D/big"
    [ "$(status)" = 413 ]
    # Malformed requests are answered (400, or 505 for an HTTP version it
    # does not speak); bytes that are no request line at all get the
    # connection closed at once. A request line that starts with a NUL is
    # taken by libmicrohttpd for an empty line (which HTTP lets a server
    # skip): that connection waits for more, up to the 30 s connection
    # timeout, and the server goes on serving the others meanwhile.
    run "$PY3" - "$SOCK" <<'PY'
import socket, sys
held = socket.socket(socket.AF_UNIX)
held.connect(sys.argv[1])
held.sendall(b"\x00\xff garbage\r\n\r\n")
for junk in (b"GET / HTTP/9.9\r\n\r\n", b"GET /v1/info HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
             b"GET /v1/info HTTP/1.1\r\nHost: a\r\nHost\r\n\r\n", b"GARBAGE\r\n\r\n",
             b"GET /v1/info HTTP/1.1\r\n\r\n"):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sys.argv[1])
    s.sendall(junk)
    s.shutdown(socket.SHUT_WR)
    print(s.recv(100).split(b"\r\n")[0].decode() or "closed")
    s.close()
held.close()
PY
    [ "$status" -eq 0 ]
    [ "$output" = "HTTP/1.1 505 HTTP Version Not Supported
HTTP/1.1 400 Bad Request
HTTP/1.1 400 Bad Request
closed
HTTP/1.1 200 OK" ] || { echo "$output"; return 1; }
    run api GET /v1/info
    [ "$(status)" = 200 ]
}

@test "serve: a job's timeout ends its whole process tree; the sandbox goes on" {
    start_server
    local sb
    sb="$(create)"
    run api POST "/v1/sandboxes/$sb/exec" \
        -d "{\"shell\": \"$(msleep 100) & setsid /tmp/$MARKER 101 & /tmp/$MARKER 102\", \"timeout\": 0.5, \"stream\": false}"
    [ "$(echo "$output" | json 'd["result"]["outcome"], d["result"]["exit_status"]')" = "('limit', 124)" ]
    [ "$(pgrep -f "$MARKER" | wc -l)" = 0 ]
    run api POST "/v1/sandboxes/$sb/exec" -d '{"argv": ["true"], "stream": false}'
    [ "$(echo "$output" | json 'd["result"]["exit_status"]')" = 0 ]
    stop_server
    assert_nothing_left
}

@test "serve: a program name as long as the exec server's path buffer is refused, not overrun" {
    # An empty PATH element is the working directory: "." + "/" + a name of
    # 4094 bytes is one byte more than the exec server's 4096-byte buffer.
    start_server
    local sb name
    sb="$(create)"
    name="$(printf 'a%.0s' $(seq 4094))"
    run api POST "/v1/sandboxes/$sb/exec" \
        -d "{\"argv\": [\"$name\"], \"env\": {\"PATH\": \":/usr/bin\"}, \"stream\": false}"
    [[ "$(echo "$output" | json 'd["result"]["exit_status"]')" =~ ^12[67]$ ]]
    run api POST "/v1/sandboxes/$sb/exec" -d '{"argv": ["true"], "stream": false}'
    [ "$(echo "$output" | json 'd["result"]["exit_status"]')" = 0 ]
    stop_server
    assert_nothing_left
}

@test "serve: a client that disconnects mid-exec gets its job ended, unless it asked to keep it" {
    start_server
    local sb
    sb="$(create)"
    timeout 1 curl -s -N --unix-socket "$SOCK" -X POST "http://sbvm/v1/sandboxes/$sb/exec" \
        -d "{\"shell\": \"$(msleep 300) & /tmp/$MARKER 301\"}" >/dev/null || true
    for _ in $(seq 50); do
        [ "$(pgrep -f "$MARKER" | wc -l)" = 0 ] && break
        sleep 0.1
    done
    [ "$(pgrep -f "$MARKER" | wc -l)" = 0 ]
    run api GET "/v1/sandboxes/$sb/jobs/j1"
    [ "$(echo "$output" | json 'd["result"]["outcome"]')" = killed ]
    timeout 1 curl -s -N --unix-socket "$SOCK" -X POST "http://sbvm/v1/sandboxes/$sb/exec" \
        -d "{\"shell\": \"$(msleep 302)\", \"on_disconnect\": \"keep\"}" >/dev/null || true
    sleep 0.3
    [ "$(pgrep -f "$MARKER 302" | wc -l)" -ge 1 ]
    run api GET "/v1/sandboxes/$sb/jobs/j2"
    [ "$(echo "$output" | json 'd["state"]')" = running ]
    # Cancel: the whole tree ends.
    run api DELETE "/v1/sandboxes/$sb/jobs/j2"
    [ "$(status)" = 202 ]
    for _ in $(seq 50); do
        [ "$(pgrep -f "$MARKER" | wc -l)" = 0 ] && break
        sleep 0.1
    done
    [ "$(pgrep -f "$MARKER" | wc -l)" = 0 ]
    stop_server
    assert_nothing_left
}

@test "serve: limits on sandboxes per server and jobs per sandbox are 429s that say which" {
    start_server --max-sandboxes 2 --max-jobs 1
    local sb
    sb="$(create)"
    create >/dev/null
    run api POST /v1/sandboxes
    [ "$(status)" = 429 ]
    [[ "$output" == *"--max-sandboxes"* ]]
    run api POST "/v1/sandboxes/$sb/exec" -d '{"argv": ["sleep", "100"], "detach": true}'
    [ "$(status)" = 202 ]
    run api POST "/v1/sandboxes/$sb/exec" -d '{"argv": ["true"]}'
    [ "$(status)" = 429 ]
    [[ "$output" == *"--max-jobs"* ]]
}

@test "serve: files in and out as tar streams and raw bytes; a tar's tricks are refused" {
    start_server
    local sb t="$BATS_TEST_TMPDIR/t"
    sb="$(create)"
    mkdir -p "$t/src/sub"
    echo one >"$t/src/a"
    echo two >"$t/src/sub/b"
    ln -s /etc/passwd "$t/src/link"
    tar -C "$t/src" -cf "$t/in.tar" .
    run api PUT "/v1/sandboxes/$sb/files?path=/tmp/w" -H 'Content-Type: application/x-tar' --data-binary @"$t/in.tar"
    [ "$(status)" = 200 ] || { echo "$output"; return 1; }
    run api POST "/v1/sandboxes/$sb/exec" -d '{"shell": "cat /tmp/w/sub/b; readlink /tmp/w/link", "stream": false}'
    [ "$(echo "$output" | json 'd["stdout"]')" = "two
/etc/passwd" ]
    api GET "/v1/sandboxes/$sb/files?path=/tmp/w" >"$t/out.tar"
    [ "$(status)" = 200 ]
    [ "$(tar -tf "$t/out.tar" | sort | tr '\n' ' ')" = "w/ w/a w/link w/sub/ w/sub/b " ]
    run api GET "/v1/sandboxes/$sb/files?path=/tmp/w/a&format=raw"
    [ "$output" = one ]
    # Nothing existing is replaced unless asked.
    run api PUT "/v1/sandboxes/$sb/files?path=/tmp/w/a" --data-binary 'new' -H 'Content-Type: application/octet-stream'
    [ "$(status)" = 409 ]
    run api PUT "/v1/sandboxes/$sb/files?path=/tmp/w/a&replace=1" --data-binary 'new' -H 'Content-Type: application/octet-stream'
    [ "$(status)" = 200 ]
    run api GET "/v1/sandboxes/$sb/files?path=/tmp/w/a&format=raw"
    [ "$output" = new ]
    # A path through the guest's symlink, and out of the sandbox: refused.
    run api GET "/v1/sandboxes/$sb/files?path=/tmp/../etc/passwd"
    [ "$(status)" = 400 ]
    run api POST "/v1/sandboxes/$sb/exec" -d '{"shell": "ln -s / /tmp/up", "stream": false}'
    run api GET "/v1/sandboxes/$sb/files?path=/tmp/up/etc/passwd&format=raw"
    [[ "$(status)" == 4* ]]
    [[ "$output" != *root:* ]]
    # A tar that climbs out, or writes through its own link.
    "$PY3" - "$t" <<'PY'
import io, sys, tarfile
def tar(path, entries):
    with tarfile.open(path, "w") as t:
        for name, kind, arg in entries:
            i = tarfile.TarInfo(name)
            if kind == "sym":
                i.type, i.linkname = tarfile.SYMTYPE, arg
                t.addfile(i)
            elif kind == "fifo":
                i.type = tarfile.FIFOTYPE
                t.addfile(i)
            else:
                i.size = len(arg)
                t.addfile(i, io.BytesIO(arg))
tar(sys.argv[1] + "/up.tar", [("../../x", "file", b"x")])
tar(sys.argv[1] + "/through.tar", [("l", "sym", "/etc"), ("l/evil", "file", b"x")])
tar(sys.argv[1] + "/fifo.tar", [("f", "fifo", None)])
PY
    for bad in up through fifo; do
        run api PUT "/v1/sandboxes/$sb/files?path=/tmp/$bad" -H 'Content-Type: application/x-tar' --data-binary @"$t/$bad.tar"
        [ "$(status)" = 400 ] || { echo "$bad: $(status) $output"; return 1; }
    done
    [ ! -e /etc/evil ]
    run api PUT "/v1/sandboxes/$sb/files?path=/tmp/x" -H 'Content-Type: text/plain' --data-binary x
    [ "$(status)" = 415 ]
}

@test "serve: SIGTERM ends every sandbox cleanly, and a streaming client gets the end" {
    start_server
    local sb
    sb="$(create)"
    curl -s -N --unix-socket "$SOCK" -X POST "http://sbvm/v1/sandboxes/$sb/exec" \
        -d "{\"shell\": \"echo up; $(msleep 300)\"}" >"$D/stream" &
    local cpid=$!
    for _ in $(seq 50); do grep -q '"up' "$D/stream" && break; sleep 0.1; done
    kill -TERM "$SPID"
    wait "$SPID"
    SPID=
    wait "$cpid" || true
    tail -1 "$D/stream" | json 'd["type"], d["result"]["outcome"], d["sandbox_ended"]' >"$D/end"
    [ "$(cat "$D/end")" = "('end', 'killed', 'server_shutdown')" ] || { cat "$D/stream"; return 1; }
    [ "$(pgrep -f "$MARKER" | wc -l)" = 0 ]
    [ ! -e "$SOCK" ]
    grep -q "ended: server_shutdown" "$D/log"
    assert_nothing_left
}

@test "serve: SIGKILL of the server leaves no guest behind, and the next server starts" {
    start_server
    local sb
    sb="$(create)"
    api POST "/v1/sandboxes/$sb/exec" -d "{\"shell\": \"$(msleep 300) & /tmp/$MARKER 301\", \"detach\": true}" >/dev/null
    create '{"persistent": false}' >/dev/null
    for _ in $(seq 50); do [ "$(pgrep -f "$MARKER" | wc -l)" -ge 2 ] && break; sleep 0.1; done
    [ "$(pgrep -f "$MARKER" | wc -l)" -ge 2 ]
    kill -KILL "$SPID"
    wait "$SPID" || true
    SPID=
    # The kernel ends them with their supervisor (PR_SET_PDEATHSIG).
    for _ in $(seq 50); do [ "$(pgrep -f "$MARKER" | wc -l)" = 0 ] && break; sleep 0.1; done
    [ "$(pgrep -f "$MARKER" | wc -l)" = 0 ]
    # Its socket is stale: a new server takes it over.
    mkfifo "$D/ready2"
    "$SBVM" serve --socket "$SOCK" --state "$D/state" --ready-fd 3 3>"$D/ready2" >>"$D/log" 2>&1 &
    SPID=$!
    read -r -t 20 line <"$D/ready2"
    [ "$line" = ready ]
    run api GET /v1/sandboxes
    [ "$(echo "$output" | json 'len(d["sandboxes"])')" = 0 ]
    stop_server
    assert_nothing_left
}

@test "serve: a second server on a live socket is refused" {
    start_server
    run "$SBVM" serve --socket "$SOCK" --state "$D/state2"
    [ "$status" -eq 125 ]
    [[ "$output" == *"another server is listening on $SOCK"* ]]
}

@test "serve: idle timeout and maximum lifetime end sandboxes, and say so" {
    root_pass_only
    start_server
    local a b
    a="$(create '{"idle_timeout": 0.3}')"
    b="$(create '{"max_lifetime": 4}')"
    # A running job keeps a sandbox from idling, not from its lifetime.
    run api POST "/v1/sandboxes/$b/exec" -d "{\"shell\": \"echo go; $(msleep 100)\"}"
    [ "$(echo "$output" | tail -1 | json 'd["result"]["outcome"], d["sandbox_ended"]')" = "('killed', 'max_lifetime')" ]
    run api GET "/v1/sandboxes/$a"
    [ "$(echo "$output" | json 'd["state"], d["end_reason"]')" = "('ended', 'idle_timeout')" ]
    run api GET "/v1/sandboxes/$b"
    [ "$(echo "$output" | json 'd["end_reason"]')" = max_lifetime ]
    stop_server
    start_server --idle-timeout-cap 60
    run api POST /v1/sandboxes -d '{"idle_timeout": 0}'
    [ "$(status)" = 400 ]
    [[ "$output" == *"at most 60.000 s"* ]]
    assert_nothing_left
}

@test "serve: the warm pool answers a plain create and refills" {
    start_server --warm 2
    for _ in $(seq 100); do
        [ "$(api GET /v1/info | json 'd["warm"]["ready"]')" = 2 ] && break
        sleep 0.05
    done
    [ "$(api GET /v1/info | json 'd["warm"]["ready"]')" = 2 ]
    local sb
    sb="$(create)"
    run api POST "/v1/sandboxes/$sb/exec" -d '{"argv": ["true"], "stream": false}'
    [ "$(echo "$output" | json 'd["result"]["exit_status"]')" = 0 ]
    for _ in $(seq 100); do
        [ "$(api GET /v1/info | json 'd["warm"]["ready"]')" = 2 ] && break
        sleep 0.05
    done
    [ "$(api GET /v1/info | json 'd["warm"]["ready"]')" = 2 ]
    # Pooled sandboxes are nobody's: not listed.
    [ "$(api GET /v1/sandboxes | json 'len(d["sandboxes"])')" = 1 ]
    stop_server
    assert_nothing_left
}

@test "serve: one uid cannot see or touch another's sandboxes; others are refused" {
    [ "$(id -u)" = 0 ] || skip "needs root to connect as other uids"
    # Somewhere other uids can reach (the test's own directory is private).
    D="$(mktemp -d /tmp/servetest-XXXXXX)"
    chmod 755 "$D"
    SOCK="$D/s.sock"
    mkfifo "$D/ready"
    "$SBVM" serve --socket "$SOCK" --state "$D/state" --allow-uid 4242 --ready-fd 3 3>"$D/ready" \
        >"$D/log" 2>&1 &
    SPID=$!
    read -r -t 20 line <"$D/ready"
    [ "$(stat -c %a "$SOCK")" = 666 ]
    local sb
    sb="$(create)"
    as() {
        local uid="$1"
        shift
        setpriv --reuid="$uid" --regid="$uid" --clear-groups curl -s --unix-socket "$SOCK" \
            -w ' %{http_code}' "$@"
    }
    run as 4242 http://sbvm/v1/sandboxes
    [ "$output" = '{"sandboxes":[]}
 200' ] || { echo "$output"; return 1; }
    run as 4242 "http://sbvm/v1/sandboxes/$sb"
    [[ "$output" == *" 404" ]]
    run as 4242 -X DELETE "http://sbvm/v1/sandboxes/$sb"
    [[ "$output" == *" 404" ]]
    # Settings that would act with the server's rights are refused.
    run as 4242 -X POST http://sbvm/v1/sandboxes -d '{"settings": {"mounts": [{"rw": "/root", "at": "/r"}]}}'
    [[ "$output" == *"host paths are for clients of the server's own uid"*" 403" ]]
    run as 4242 -X POST http://sbvm/v1/sandboxes -d '{"settings": {"network": {"mode": "allow", "allow": ["example.com"], "secrets": [{"name": "T", "value_from_env": "HOME", "host": "example.com"}]}}}'
    [[ "$output" == *"value_from_env"*" 403" ]]
    run as 4243 http://sbvm/v1/info
    [[ "$output" == *"uid 4243 may not use this server"*" 403" ]]
    # Its own sandbox is its own.
    local mine
    mine="$(as 4242 -X POST http://sbvm/v1/sandboxes | sed 's/ 201$//' | json 'd["id"]')"
    [ "$(api GET /v1/sandboxes | json 'len(d["sandboxes"])')" = 1 ]
    run api GET "/v1/sandboxes/$mine"
    [ "$(status)" = 404 ]
    stop_server
    rm -rf "$D"
    assert_nothing_left
}

@test "serve: TCP only when asked, and then only with the token" {
    start_server
    [ -z "$(ss -Hltnp 2>/dev/null | grep "pid=$SPID," || true)" ]
    stop_server
    local tok="$BATS_TEST_TMPDIR/token" port
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tok"
    chmod 600 "$tok"
    port=$((20000 + RANDOM % 20000))
    start_server --tcp "127.0.0.1:$port" --token-file "$tok"
    run curl -s -w ' %{http_code}' "http://127.0.0.1:$port/v1/info"
    [[ "$output" == *" 401" ]]
    run curl -s -w ' %{http_code}' -H "Authorization: Bearer wrong-token-of-some-length" "http://127.0.0.1:$port/v1/info"
    [[ "$output" == *" 401" ]]
    run curl -s -w ' %{http_code}' -H "Authorization: Bearer $(cat "$tok")" "http://127.0.0.1:$port/v1/info"
    [[ "$output" == *" 200" ]]
    stop_server
    chmod 644 "$tok"
    run "$SBVM" serve --socket "$D/x.sock" --state "$D/state" --tcp "127.0.0.1:$port" --token-file "$tok"
    [ "$status" -eq 125 ]
    [[ "$output" == *"only its owner may read"* ]]
}

# A small tree to be a sandbox's root: busybox and a few names for it.
make_rootfs() {
    local r="$1"
    command -v busybox >/dev/null || skip "busybox is not installed (scripts/deps.sh test)"
    mkdir -p "$r"/{bin,proc,dev,tmp,etc,data}
    cp "$(command -v busybox)" "$r/bin/"
    for c in sh ls cat rm echo mkdir sleep touch; do ln -s busybox "$r/bin/$c"; done
    echo base >"$r/etc/motd"
    # The guest (nobody, when we are root) may write there.
    chmod 777 "$r/etc" "$r/data"
}

@test "serve: a persistent sandbox's writes outside /tmp live in its layer; snapshots keep them" {
    root_pass_only
    start_server
    local r="$BATS_TEST_TMPDIR/rootfs" sb again
    make_rootfs "$r"
    # Over the host's own view there is no layer: said, not ignored.
    run api POST /v1/sandboxes -d '{"persistent": true}'
    [ "$(status)" = 400 ]
    [[ "$output" == *"a writable layer goes over a rootfs tree"* ]]
    sb="$(create "{\"persistent\": true, \"settings\": {\"rootfs\": \"$r\", \"env\": {\"PATH\": \"/bin\"}}}")"
    [ "$(status)" = 201 ] || { cat "$D/body"; return 1; }
    run api POST "/v1/sandboxes/$sb/exec" -d '{"shell": "echo hi >/data/new && rm /etc/motd && mkdir /etc/conf.d && echo in-tmp >/tmp/t", "stream": false}'
    [ "$(echo "$output" | json 'd["result"]["exit_status"]')" = 0 ] || { echo "$output"; return 1; }
    # The tree itself is untouched.
    [ ! -e "$r/data/new" ]
    [ "$(cat "$r/etc/motd")" = base ]
    run api POST "/v1/sandboxes/$sb/snapshot" -d '{"name": "layered"}'
    [ "$(status)" = 201 ]
    [ "$(echo "$output" | json 'd["persistent"], d["processes_saved"]')" = "(True, False)" ]
    run api DELETE "/v1/sandboxes/$sb"
    # Its layer goes with it; the snapshot stays.
    [ -z "$(ls "$D/state/layers")" ]
    for round in 1 2; do
        again="$(create '{"snapshot": "layered"}')"
        [ "$(status)" = 201 ] || { cat "$D/body"; return 1; }
        run api POST "/v1/sandboxes/$again/exec" -d '{"shell": "cat /data/new /tmp/t; ls /etc; touch /etc/conf.d/mine && echo writable; echo changed >/data/new", "stream": false}'
        [ "$(echo "$output" | json 'd["stdout"]')" = "hi
in-tmp
conf.d
writable" ] || { echo "round $round: $output"; return 1; }
        api DELETE "/v1/sandboxes/$again" >/dev/null
    done
    run api DELETE /v1/snapshots/layered
    [ "$(status)" = 200 ]
    [ ! -e "$D/state/snapshots/$(id -u)/layered" ]
    stop_server
    assert_nothing_left
}

@test "serve: eight creates at once are each answered; so are eight destroys" {
    start_server
    local i pids=()
    for i in 1 2 3 4 5 6 7 8; do
        curl -s --max-time 60 --unix-socket "$SOCK" -X POST -o "$D/c$i" -w '%{http_code}' \
            http://sbvm/v1/sandboxes >"$D/s$i" &
        pids+=($!)
    done
    wait "${pids[@]}"
    for i in 1 2 3 4 5 6 7 8; do
        [ "$(cat "$D/s$i")" = 201 ] || { cat "$D/c$i"; return 1; }
        [ "$(json 'd["state"]' <"$D/c$i")" = ready ]
        json 'd["id"]' <"$D/c$i"
    done | sort -u | wc -l | grep -qx 8
    [ "$(api GET /v1/sandboxes | json 'len(d["sandboxes"])')" = 8 ]
    pids=()
    for i in 1 2 3 4 5 6 7 8; do
        curl -s --max-time 60 --unix-socket "$SOCK" -X DELETE -o "$D/d$i" \
            "http://sbvm/v1/sandboxes/$(json 'd["id"]' <"$D/c$i")" &
        pids+=($!)
    done
    wait "${pids[@]}"
    for i in 1 2 3 4 5 6 7 8; do
        [ "$(json 'd["state"], d["end_reason"], d["result"] is not None' <"$D/d$i")" = "('ended', 'destroyed', True)" ] ||
            { cat "$D/d$i"; return 1; }
    done
    stop_server
    assert_nothing_left
}

# SBVM_SERVE_TEST_HOLD (tests only): while that file exists, the server
# keeps a sandbox the library has built as still being built, so that a
# create can be held in progress for as long as a test needs.
# A create sent in the background while SBVM_SERVE_TEST_HOLD holds it
# (its answer in $D/held, its status in $D/held.status, curl's pid in
# HELD_PID), once the server counts it: being built, `count` sandboxes in all.
held_create() {
    local body="$1" count="$2"
    curl -s --max-time 60 --unix-socket "$SOCK" -X POST -o "$D/held" -w '%{http_code}' \
        http://sbvm/v1/sandboxes -d "$body" >"$D/held.status" &
    HELD_PID=$!
    for _ in $(seq 200); do
        [ "$(api GET /v1/info | json 'd["sandboxes"]')" = "$count" ] && break
        sleep 0.05
    done
    [ "$(api GET /v1/info | json 'd["sandboxes"]')" = "$count" ]
}

@test "serve: while a create is in progress, the server answers others (list, inspect, exec)" {
    local hold="$BATS_TEST_TMPDIR/hold" sb cpid
    export SBVM_SERVE_TEST_HOLD="$hold"
    start_server
    sb="$(create)"
    touch "$hold"
    held_create '{"name": "held"}' 2
    cpid=$HELD_PID
    run api GET /v1/sandboxes
    [ "$(status)" = 200 ]
    [ "$(echo "$output" | json '[x["id"] for x in d["sandboxes"]]')" = "['$sb']" ]
    run api GET "/v1/sandboxes/$sb"
    [ "$(status)" = 200 ]
    run api POST "/v1/sandboxes/$sb/exec" -d '{"shell": "echo meanwhile", "stream": false}'
    [ "$(echo "$output" | json 'd["stdout"], d["result"]["exit_code"]')" = "('meanwhile\n', 0)" ]
    # All of that while the create still waits for its answer.
    kill -0 "$cpid"
    [ ! -s "$D/held.status" ]
    rm "$hold"
    wait "$cpid"
    [ "$(cat "$D/held.status")" = 201 ] || { cat "$D/held"; return 1; }
    [ "$(json 'd["name"], d["state"]' <"$D/held")" = "('held', 'ready')" ]
    run api POST "/v1/sandboxes/$(json 'd["id"]' <"$D/held")/exec" -d '{"argv": ["true"], "stream": false}'
    [ "$(echo "$output" | json 'd["result"]["exit_code"]')" = 0 ]
    stop_server
    assert_nothing_left
}

@test "serve: a destroy while jobs run ends them, their streams get their end, and it answers with its result" {
    start_server
    local sb spid
    sb="$(create)"
    curl -s -N --max-time 60 --unix-socket "$SOCK" -X POST "http://sbvm/v1/sandboxes/$sb/exec" \
        -d "{\"shell\": \"$(msleep 300)\"}" >"$D/stream" &
    spid=$!
    run api POST "/v1/sandboxes/$sb/exec" -d "{\"shell\": \"sleep 0.1; $(msleep 301)\", \"detach\": true}"
    [ "$(status)" = 202 ] || [ "$(status)" = 200 ] || { echo "$output"; return 1; }
    for _ in $(seq 100); do
        [ "$(pgrep -f "$MARKER 30[01]" | wc -l)" -ge 2 ] && break
        sleep 0.05
    done
    [ "$(pgrep -f "$MARKER 30[01]" | wc -l)" -ge 2 ]
    run api DELETE "/v1/sandboxes/$sb"
    [ "$(status)" = 200 ]
    [ "$(echo "$output" | json 'd["state"], d["end_reason"], d["jobs"]["running"]')" = "('ended', 'destroyed', 0)" ]
    wait "$spid"
    [ "$(tail -1 "$D/stream" | json 'd["type"], d["result"]["outcome"], d["sandbox_ended"]')" = "('end', 'killed', 'destroyed')" ] ||
        { cat "$D/stream"; return 1; }
    [ "$(pgrep -f "$MARKER" | wc -l)" = 0 ]
    run api GET "/v1/sandboxes/$sb/jobs/j2"
    [ "$(echo "$output" | json 'd["state"], d["result"]["outcome"]')" = "('done', 'killed')" ]
    stop_server
    assert_nothing_left
}

@test "serve: SIGTERM while a create is in progress: the client is told, nothing is left" {
    local hold="$BATS_TEST_TMPDIR/hold" cpid kids
    export SBVM_SERVE_TEST_HOLD="$hold"
    touch "$hold"
    start_server
    held_create '{}' 1
    cpid=$HELD_PID
    # The sandbox's processes, built by the library, under the server.
    kids="$(pgrep -P "$SPID" | tr '\n' ' ')"
    [ -n "$kids" ]
    kill -TERM "$SPID"
    wait "$SPID"
    SPID=
    wait "$cpid" || true
    [ "$(cat "$D/held.status")" = 503 ] || { cat "$D/held.status" "$D/held"; return 1; }
    [[ "$(cat "$D/held")" == *"ended while it was being built (server_shutdown)"* ]]
    for k in $kids; do
        [ ! -d "/proc/$k" ] || { echo "pid $k outlived its server"; return 1; }
    done
    [ ! -e "$SOCK" ]
    assert_nothing_left
}
