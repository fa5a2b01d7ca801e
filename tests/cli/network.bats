#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# --net none | host | allow=...: real clients (curl, wget, python3 urllib,
# git) through the broker to servers this suite starts on the host's
# loopback; refusals, the record of every attempt, and secret injection.
# No traffic leaves the machine: every server is on 127.0.0.1.

load helpers

# Starts tests/cli/net/httpd.py serving $1 on 127.0.0.1; sets HTTPD_PORT,
# HTTPD_LOG. start_httpd2 starts a second one, on 127.0.0.2 (another host as
# the broker sees it), serving $1 too: HTTPD2_PORT.
httpd_on() {
    local root="$1" addr="$2" tag="$3"
    : >"$BATS_TEST_TMPDIR/httpd$tag.log"
    python3 "$TOP/tests/cli/net/httpd.py" "$root" "$BATS_TEST_TMPDIR/httpd$tag.log" "$addr" \
        >"$BATS_TEST_TMPDIR/httpd$tag.port" &
    HTTPD_PIDS+=($!)
    for _ in $(seq 100); do
        [ -s "$BATS_TEST_TMPDIR/httpd$tag.port" ] && break
        sleep 0.05
    done
    [ -s "$BATS_TEST_TMPDIR/httpd$tag.port" ]
}

start_httpd() {
    httpd_on "$1" 127.0.0.1 ""
    HTTPD_LOG="$BATS_TEST_TMPDIR/httpd.log"
    HTTPD_PORT="$(cat "$BATS_TEST_TMPDIR/httpd.port")"
}

start_httpd2() {
    httpd_on "$1" 127.0.0.2 2
    HTTPD2_PORT="$(cat "$BATS_TEST_TMPDIR/httpd2.port")"
}

teardown() {
    local p
    for p in ${HTTPD_PIDS[@]+"${HTTPD_PIDS[@]}"}; do
        kill "$p" 2>/dev/null || true
    done
}

www() {
    local d
    d="$(scratch)"
    echo "hello from the host" >"$d/index.html"
    chmod -R a+rX "$d"
    echo "$d"
}

@test "curl through the broker: plain HTTP and CONNECT, each attempt recorded" {
    start_httpd "$(www)"
    local d
    d="$(scratch)"
    run --separate-stderr timeout 60 "$SBVM" run --no-tag --json "$d/r.json" \
        --net "allow=127.0.0.1:$HTTPD_PORT" --net-allow-private -- sh -c "
            curl -sS http://127.0.0.1:$HTTPD_PORT/index.html
            curl -sS -p http://127.0.0.1:$HTTPD_PORT/index.html"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'hello from the host\nhello from the host')" ]
    [[ "$stderr" == *"allowed GET 127.0.0.1:$HTTPD_PORT/index.html via 127.0.0.1"* ]]
    [[ "$stderr" == *"allowed CONNECT 127.0.0.1:$HTTPD_PORT via 127.0.0.1"* ]]
    jcheck "$d/r.json" 'g["network"]["mode"]=="allow" and g["network"]["proxy"]=="http://127.0.0.1:3128"'
    jcheck "$d/r.json" '[a["method"] for a in g["network"]["attempts"]]==["GET","CONNECT"]'
    jcheck "$d/r.json" 'all(a["allowed"] and a["address"]=="127.0.0.1" and a["bytes_down"]>20 and a["bytes_up"]>20 for a in g["network"]["attempts"])'
    jschema "$d/r.json"
    # The origin saw an origin-form request with its own Host, no proxy headers.
    grep -q "^GET /index.html HTTP/1.1" "$HTTPD_LOG"
    ! grep -qi "^proxy-" "$HTTPD_LOG"
    assert_nothing_left
}

@test "wget and python3 urllib go through the broker" {
    start_httpd "$(www)"
    run --separate-stderr timeout 60 "$SBVM" run --no-tag --net "allow=127.0.0.1:$HTTPD_PORT" \
        --net-allow-private -- sh -c "
            wget -q -O - http://127.0.0.1:$HTTPD_PORT/index.html
            python3 -c 'import urllib.request, sys; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' http://127.0.0.1:$HTTPD_PORT/index.html"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'hello from the host\nhello from the host')" ]
    [ "$(grep -c '^GET /index.html' "$HTTPD_LOG")" -eq 2 ]
}

@test "git clones over HTTP through the broker" {
    local src repo
    src="$(scratch)"
    repo="$(scratch)"
    git -C "$src" init -q
    echo "through the broker" >"$src/README"
    git -C "$src" add README
    git -C "$src" -c user.name=t -c user.email=t@example.com commit -qm first
    git clone -q --bare "$src" "$repo/project.git"
    git -C "$repo/project.git" update-server-info
    chmod -R a+rX "$repo"
    start_httpd "$repo"
    run --separate-stderr timeout 60 "$SBVM" run --no-tag --net "allow=127.0.0.1:$HTTPD_PORT" \
        --net-allow-private -- sh -c "git clone -q http://127.0.0.1:$HTTPD_PORT/project.git /tmp/p && cat /tmp/p/README"
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "through the broker" ]
}

@test "names are resolved by the broker: localhost is allowed by name" {
    grep -qE '^127\.0\.0\.1[[:space:]].*localhost' /etc/hosts || skip "localhost is not 127.0.0.1 in /etc/hosts"
    start_httpd "$(www)"
    run --separate-stderr timeout 60 "$SBVM" run --no-tag --net "allow=localhost:$HTTPD_PORT" \
        --net-allow-private -- curl -sS "http://localhost:$HTTPD_PORT/index.html"
    [ "$status" -eq 0 ]
    [ "$output" = "hello from the host" ]
}

@test "destinations outside the allowlist are refused with 403, and recorded" {
    start_httpd "$(www)"
    local d
    d="$(scratch)"
    run --separate-stderr timeout 60 "$SBVM" run --no-tag --json "$d/r.json" \
        --net "allow=127.0.0.1:$HTTPD_PORT" --net-allow-private -- sh -c "
            curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:1/
            curl -s -o /dev/null -w '%{http_code}\n' http://203.0.113.9/"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf '403\n403')" ]
    [[ "$stderr" == *"refused GET 127.0.0.1:1/: not in the allowlist"* ]]
    jcheck "$d/r.json" 'all(not a["allowed"] and a["status"]==403 and a["reason"]=="not in the allowlist" and a["address"] is None for a in g["network"]["attempts"])'
}

@test "a guest that connects in a loop is counted, not recorded without bound" {
    local d
    d="$(scratch)"
    run --separate-stderr timeout 120 "$SBVM" run --no-tag --json "$d/r.json" \
        --net allow=example.invalid -- python3 -c '
import socket
for i in range(4200):
    s = socket.create_connection(("127.0.0.1", 3128))
    s.sendall(b"CONNECT other.invalid:443 HTTP/1.1\r\n\r\n")
    while s.recv(4096):
        pass
    s.close()
print("done")'
    [ "$status" -eq 0 ]
    [ "$output" = "done" ]
    [[ "$stderr" == *"... and 4180 more"* ]]
    jcheck "$d/r.json" 'len(g["network"]["attempts"])==4096 and g["network"]["attempts_not_recorded"]==104'
    jschema "$d/r.json"
    assert_nothing_left
}

@test "private destinations are refused unless --net-allow-private, even when allowed by name" {
    start_httpd "$(www)"
    run --separate-stderr timeout 60 "$SBVM" run --no-tag --net "allow=127.0.0.1:$HTTPD_PORT" -- \
        curl -s -w '%{http_code}\n' "http://127.0.0.1:$HTTPD_PORT/index.html"
    [ "$status" -eq 0 ]
    [[ "$output" == *"127.0.0.1 is a loopback address"* ]]
    [[ "$output" == *"403" ]]
    [ ! -s "$HTTPD_LOG" ]
}

@test "a program that ignores the proxy finds the network unreachable" {
    run --separate-stderr timeout 60 "$SBVM" run --no-tag --net "allow=example.com" -- python3 -c '
import socket
s = socket.socket()
try:
    s.connect(("192.0.2.1", 80))
    print("connected")
except OSError as e:
    print(e.errno, e.strerror)'
    [ "$status" -eq 0 ]
    [ "$output" = "101 Network is unreachable" ]
}

@test "--net host shares the host's network; --net none sets no proxy" {
    start_httpd "$(www)"
    run --separate-stderr timeout 60 "$SBVM" run --no-tag --net host -- \
        curl -sS "http://127.0.0.1:$HTTPD_PORT/index.html"
    [ "$status" -eq 0 ]
    [ "$output" = "hello from the host" ]
    run --separate-stderr timeout 60 "$SBVM" run --no-tag --net none -- sh -c 'env | grep -ci proxy; true'
    [ "$output" = "0" ]
}

@test "a secret is injected for its host only, and never enters the sandbox" {
    start_httpd "$(www)"
    local secret="s3cr3t-$RANDOM-value" d
    d="$(scratch)"
    run --separate-stderr timeout 60 "$SBVM" run --no-tag --json "$d/r.json" --output-dir "$d/out" \
        --net "allow=127.0.0.1:$HTTPD_PORT" --net-allow-private \
        --secret "API_TOKEN=$secret@127.0.0.1" -- sh -c "
            echo \"placeholder: \$API_TOKEN\"
            cat /proc/1/cmdline /proc/1/environ 2>&1 | tr '\\0' ' '; echo
            cat /proc/self/environ | tr '\\0' '\\n'
            curl -sS -H \"Authorization: Bearer \$API_TOKEN\" http://127.0.0.1:$HTTPD_PORT/echo-headers
            curl -sS -u \"user:\$API_TOKEN\" http://127.0.0.1:$HTTPD_PORT/echo-headers"
    [ "$status" -eq 0 ]
    [[ "$output" == *"placeholder: sbvm-secret-"* ]]
    # pid 1 is the init by the time the guest runs, never the supervisor's
    # copy with its command line.
    [[ "$output" == *"sbvm-init "* ]]
    # The host's server received the real value, in both forms...
    grep -q "Authorization: Bearer $secret" "$HTTPD_LOG"
    grep -q "Authorization: Basic $(printf 'user:%s' "$secret" | base64)" "$HTTPD_LOG"
    # ...and nothing the guest had or received holds it, in any form we sent.
    [[ "$output" != *"$secret"* ]]
    [[ "$output" != *"$(printf 'user:%s' "$secret" | base64)"* ]]
    ! grep -rq "$secret" "$d/out"
    jcheck "$d/r.json" 'all(a["secrets_injected"]==1 for a in g["network"]["attempts"])'
    ! grep -q "$secret" "$d/r.json"
}

@test "a secret bound for another host is not injected" {
    start_httpd "$(www)"
    run --separate-stderr timeout 60 "$SBVM" run --no-tag --net "allow=127.0.0.1:$HTTPD_PORT" \
        --net-allow-private --secret "API_TOKEN=real-value@api.example.com" -- \
        sh -c "curl -sS -H \"X-Token: \$API_TOKEN\" http://127.0.0.1:$HTTPD_PORT/echo-headers"
    [ "$status" -eq 0 ]
    ! grep -q "real-value" "$HTTPD_LOG"
    grep -q "X-Token: sbvm-secret-" "$HTTPD_LOG"
}

# The secret masking tests: each is one way a server could hand the value
# back that the broker must see through (issue 12), and checks that the
# value reached the server (it was injected) and never the guest.
secret_run() {
    SECRET="s3cr3t-$RANDOM$RANDOM-value"
    local d="$1"
    shift
    run --separate-stderr timeout 60 "$SBVM" run --no-tag --json "$d/r.json" \
        --net-allow-private --secret "API_TOKEN=$SECRET@127.0.0.1" "$@"
}

@test "secret masking: the server is asked for identity encoding; an encoded answer is refused, recorded" {
    start_httpd "$(www)"
    local d
    d="$(scratch)"
    secret_run "$d" --net "allow=127.0.0.1:$HTTPD_PORT" -- sh -c "
        curl -sS --compressed -H \"X-Value: \$API_TOKEN\" http://127.0.0.1:$HTTPD_PORT/echo-headers
        echo ---
        curl -sS --compressed -w '%{http_code}\n' -H \"X-Value: \$API_TOKEN\" http://127.0.0.1:$HTTPD_PORT/echo-headers-gzip"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(grep -c "^X-Value: $SECRET\$" "$HTTPD_LOG")" -eq 2 ]
    # curl asked for gzip; the server was asked for identity instead.
    [ "$(grep -c '^Accept-Encoding: identity$' "$HTTPD_LOG")" -eq 2 ]
    [[ "$output" != *"$SECRET"* ]]
    [[ "$output" == *"X-Value: $(printf '%*s' ${#SECRET} '' | tr ' ' '*')"* ]]
    # A server that compresses anyway: the guest gets a 502 that says why.
    [[ "$output" == *"Content-Encoding: gzip"*"cannot see through"* ]]
    [[ "$output" == *"502" ]]
    jcheck "$d/r.json" 'g["network"]["attempts"][0]["allowed"] and g["network"]["attempts"][0]["reason"] is None'
    jcheck "$d/r.json" '[(a["allowed"], a["status"]) for a in g["network"]["attempts"]]==[(True, None), (True, 502)] and "gzip" in g["network"]["attempts"][1]["reason"]'
    jschema "$d/r.json"
}

@test "secret masking: a value split across chunks is masked, and the response is chunked again" {
    start_httpd "$(www)"
    local d
    d="$(scratch)"
    secret_run "$d" --net "allow=127.0.0.1:$HTTPD_PORT" -- sh -c "
        curl -sS -D /tmp/h -H \"X-Value: \$API_TOKEN\" http://127.0.0.1:$HTTPD_PORT/echo-headers-chunked
        grep -i '^transfer-encoding' /tmp/h"
    echo "$output"
    [ "$status" -eq 0 ]
    grep -q "^X-Value: $SECRET\$" "$HTTPD_LOG"
    [[ "$output" != *"$SECRET"* ]]
    [[ "$output" == *"X-Value: $(printf '%*s' ${#SECRET} '' | tr ' ' '*')"* ]]
    [[ "$output" == *"Transfer-Encoding: chunked"* ]]
}

@test "secret masking: a stored copy is masked on another connection and from another allowed host" {
    local w d
    w="$(www)"
    d="$(scratch)"
    start_httpd "$w"
    start_httpd2 "$w"
    secret_run "$d" --net "allow=127.0.0.1:$HTTPD_PORT,127.0.0.2:$HTTPD2_PORT" -- sh -c "
        curl -sS -H \"X-Value: \$API_TOKEN\" http://127.0.0.1:$HTTPD_PORT/store
        curl -sS http://127.0.0.1:$HTTPD_PORT/stored.txt
        curl -sS http://127.0.0.2:$HTTPD2_PORT/stored.txt
        curl -sS -u \"user:\$API_TOKEN\" 'http://127.0.0.1:$HTTPD_PORT/store?h=Authorization'
        curl -sS http://127.0.0.2:$HTTPD2_PORT/stored.txt"
    echo "$output"
    [ "$status" -eq 0 ]
    local basic stars
    basic="$(printf 'user:%s' "$SECRET" | base64)"
    stars="$(printf '%*s' ${#SECRET} '' | tr ' ' '*')"
    # The server stored the real values...
    grep -q "^X-Value: $SECRET\$" "$HTTPD_LOG"
    grep -qx "Basic $basic" "$w/stored.txt"
    # ...and the guest saw neither.
    [[ "$output" != *"$SECRET"* ]]
    [[ "$output" != *"$basic"* ]]
    [ "$output" = "$(printf 'stored\n%s\n%s\nstored\nBasic %s' "$stars" "$stars" "$(printf '%*s' ${#basic} '' | tr ' ' '*')")" ]
    jcheck "$d/r.json" '[a["secrets_injected"] for a in g["network"]["attempts"]]==[1,0,0,1,0]'
}

@test "secret masking: a tunnel to a host that has a secret is intercepted, never blind: no TLS, no tunnel" {
    start_httpd "$(www)"
    local d
    d="$(scratch)"
    # The host has a secret, so the broker terminates TLS for it and first
    # verifies the server: this one speaks plain HTTP, so there is no
    # tunnel at all, and nothing of the guest's reaches it.
    secret_run "$d" --net "allow=127.0.0.1:$HTTPD_PORT" -- sh -c "
        curl -sS -H \"X-Value: \$API_TOKEN\" http://127.0.0.1:$HTTPD_PORT/store
        curl -sS -p http://127.0.0.1:$HTTPD_PORT/stored.txt || echo \"tunnel: \$?\""
    echo "$output"
    echo "$stderr"
    [ "$status" -eq 0 ]
    grep -q "^X-Value: $SECRET\$" "$HTTPD_LOG"
    [[ "$output" != *"$SECRET"* ]]
    [ "$output" = "$(printf 'stored\ntunnel: 56')" ]
    [[ "$stderr" == *"CONNECT 127.0.0.1:$HTTPD_PORT via 127.0.0.1"*"intercepted): the TLS handshake with 127.0.0.1 failed"* ]]
    jcheck "$d/r.json" '[(a["method"], a["allowed"], a["status"], a["intercepted"]) for a in g["network"]["attempts"]][1]==("CONNECT", True, 502, True)'
    jcheck "$d/r.json" '"TLS handshake with 127.0.0.1 failed" in g["network"]["attempts"][1]["reason"]'
    jcheck "$d/r.json" 'g["network"]["attempts"][0]["bytes_down"]>100'
    jschema "$d/r.json"
    # Nothing of the tunnel reached the server.
    [ "$(grep -c '^GET /stored.txt' "$HTTPD_LOG")" -eq 0 ]
}

# A guest that, once the three first guests run (so that their brokers are
# alive and the shares known), opens CONNECT tunnels to PORT until the
# broker refuses one, writes how many it holds to /flags/NAME, and holds
# them until /flags/later-done appears.
HOG='
import os, socket, sys, time
port, name = int(sys.argv[1]), sys.argv[2]
open("/flags/" + name + ".up", "w").close()
while not all(os.path.exists("/flags/%s.up" % g) for g in ("hog1", "hog2", "innocent")):
    time.sleep(0.02)
held, first_refusal = [], "never refused"
for i in range(100):
    s = socket.create_connection(("127.0.0.1", 3128))
    s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n" % port)
    answer = b""
    while b"\r\n\r\n" not in answer:
        c = s.recv(4096)
        if not c:
            break
        answer += c
    if answer.startswith(b"HTTP/1.1 200 "):
        held.append(s)
        continue
    first_refusal = answer.split(b"\r\n")[0].decode() or "closed"
    s.close()
    break
with open("/flags/" + name, "w") as f:
    f.write(str(len(held)))
for _ in range(600):
    if os.path.exists("/flags/later-done"):
        break
    time.sleep(0.1)
print(name, len(held) > 0, first_refusal)'

@test "guests cannot exhaust the supervisor's descriptors through the broker: each has its share" {
    start_httpd "$(www)"
    local d f
    d="$(scratch)"
    f="$(scratch)"
    chmod 777 "$f"
    # The hard limit too: the CLI raises its soft limit to the hard one.
    # (Not lower: sandbox set-up moves descriptors above 512, and guests
    # keep --files 256 under it.) Two hogs, an innocent guest that asks
    # once both hogs are full, and a later guest that starts (-j 3) when the
    # innocent one is done, while the hogs still hold their tunnels. Each of
    # the three brokers gets (640 - 160 - 9) / 6 / 3 = 26 connections.
    run --separate-stderr bash -c 'ulimit -n 640 && exec "$@"' sh timeout 120 "$SBVM" run \
        --no-tag -j 3 --files 256 --json "$d/r.json" --rw "$f:/flags" \
        --net "allow=127.0.0.1:$HTTPD_PORT" --net-allow-private \
        --name hog1 --name hog2 --name innocent --name later \
        -- python3 -c "$HOG" "$HTTPD_PORT" hog1 \
        ::: python3 -c "$HOG" "$HTTPD_PORT" hog2 \
        ::: sh -c "
            touch /flags/innocent.up
            while [ ! -e /flags/hog1 ] || [ ! -e /flags/hog2 ]; do sleep 0.05; done
            curl -sS http://127.0.0.1:$HTTPD_PORT/index.html" \
        ::: sh -c "curl -sS http://127.0.0.1:$HTTPD_PORT/index.html; touch /flags/later-done"
    echo "$output"
    echo "$stderr" | tail -20
    [ "$status" -eq 0 ]
    [[ "$output" == *"hog1 True HTTP/1.1 503 Service Unavailable"* ]]
    [[ "$output" == *"hog2 True HTTP/1.1 503 Service Unavailable"* ]]
    [ "$(grep -c '^hello from the host$' <<<"$output")" -eq 2 ]
    # Each hog's extra tunnel was refused for its share, recorded as such;
    # the innocent and the later guest each got their bytes.
    python3 - "$d/r.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
by = {g["name"]: g for g in d["guests"]}
for name in ("hog1", "hog2"):
    a = by[name]["network"]["attempts"]
    refused = [x for x in a if not x["allowed"]]
    assert len(refused) == 1, (name, refused)
    assert refused[0]["status"] == 503 and "share" in refused[0]["reason"], refused
    assert "(26 connections at once, with 3 sandboxes sharing)" in refused[0]["reason"], refused
    assert sum(x["allowed"] for x in a) == 26, name
for name in ("innocent", "later"):
    a = by[name]["network"]["attempts"]
    assert len(a) == 1 and a[0]["allowed"] and a[0]["bytes_down"] > 20, (name, a)
    assert by[name]["outcome"] == "exited" and by[name]["exit_status"] == 0, by[name]
PY
    jschema "$d/r.json"
}

@test "the supervisor raises its soft fd limit to the hard one; a guest keeps its own" {
    local d pid limits=""
    d="$(scratch)"
    bash -c 'ulimit -S -n 700 && exec "$@"' sh "$SBVM" run --no-tag -- sh -c 'ulimit -n; sleep 3' \
        >"$d/out" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$SBVM_REAL")" ]; then
            limits="$(grep '^Max open files' "/proc/$pid/limits" | awk '{print $4, $5}')"
            [ "${limits% *}" = "${limits#* }" ] && break
        fi
        sleep 0.05
    done
    wait "$pid"
    echo "limits: $limits; guest: $(cat "$d/out")"
    [ -n "$limits" ]
    [ "${limits% *}" = "${limits#* }" ]
    [ "$(cat "$d/out")" = "1024" ]
}

@test "bad network options are refused (125) and nothing is left" {
    run --separate-stderr "$SBVM" run --net allow=exa_mple..com -- true
    assert_bad_input 125 "--net allow: exa_mple..com"
    run --separate-stderr "$SBVM" run --net allow=example.com:99999 -- true
    assert_bad_input 125 "the port must be 1-65535"
    run --separate-stderr "$SBVM" run --net allow= -- true
    assert_bad_input 125 "no rule given"
    run --separate-stderr "$SBVM" run --net everywhere -- true
    assert_bad_input 125 "expected none, host or allow="
    run --separate-stderr "$SBVM" run --net host --net allow=example.com -- true
    assert_bad_input 125 "contradict"
    run --separate-stderr "$SBVM" run --secret T=x@example.com -- true
    assert_bad_input 125 "--secret works only through the broker"
    run --separate-stderr "$SBVM" run --net allow=example.com --secret T=hunter2 -- true
    assert_bad_input 125 "--secret: write NAME=VALUE@HOST"
    [[ "$stderr" != *"hunter2"* ]]
    run --separate-stderr "$SBVM" run --net-allow-private -- true
    assert_bad_input 125 "--net-allow-private applies to --net allow"
}
