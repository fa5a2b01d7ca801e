#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# HTTPS: the system trust store in the guest's view, a private CA added with
# --trust-ca, --net host's resolver, and the broker's TLS interception for
# hosts that have a secret or a path rule (docs/NETWORK.md). Real clients
# (curl, wget, python3 urllib and requests, git, node) against HTTPS servers
# this file starts on the host's loopback, with certificates from a CA it
# makes itself. No traffic leaves the machine.

load helpers

# A test CA (ca.pem, ca.key) and server certificates signed by it, made once
# for the file: srv (localhost, 127.0.0.1, 127.0.0.2), wrongname (a name
# the tests never ask for), and other (signed by a second CA, other-ca).
setup_file() {
    local d="$BATS_FILE_TMPDIR/pki"
    mkdir -p "$d"
    mkca() {
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -keyout "$d/$1.key" -out "$d/$1.pem" -subj "/CN=sandboxvm test $1" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
            2>/dev/null
    }
    mkcert() {
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$1.key" \
            -out "$d/$1.csr" -subj "/CN=$3" 2>/dev/null
        openssl x509 -req -in "$d/$1.csr" -CA "$d/$2.pem" -CAkey "$d/$2.key" -CAcreateserial \
            -out "$d/$1.pem" -days 2 \
            -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$4") 2>/dev/null
    }
    mkca ca
    mkca other-ca
    mkcert srv ca localhost "DNS:localhost,IP:127.0.0.1,IP:127.0.0.2"
    mkcert wrongname ca wrong.example "DNS:wrong.example"
    mkcert other other-ca localhost "DNS:localhost,IP:127.0.0.1"
    chmod -R a+rX "$d"
}

PKI() { echo "$BATS_FILE_TMPDIR/pki"; }

# The tests that show many real clients work (each starts several interpreters
# in a sandbox) run in the root pass only: the ordinary user's and the ASan
# pass run every test of the broker's own paths (interception, secrets, Host
# and SNI checks, server verification, path rules, bodies, stalls), which keeps
# each pass of this file near a minute.
root_pass_only() {
    [ "$(id -u)" -eq 0 ] || skip "many clients: run in the root pass only"
    case "$(ldd "$SBVM_REAL" 2>/dev/null)" in
    *libasan*) skip "many clients: run in the root pass only (not under ASan)" ;;
    esac
}

# httpd CERT [ADDRESS] [--keep-alive]: tests/cli/net/httpd.py over TLS with
# certificate CERT (srv, wrongname, other), serving $WWW; sets PORT and LOG
# (PORT2 and LOG2 for the second server a test starts).
httpd() {
    local cert="$1" addr="${2:-127.0.0.1}" n="${#HTTPD_PIDS[@]}"
    shift
    [ $# -gt 0 ] && shift
    : >"$BATS_TEST_TMPDIR/httpd$n.log"
    rm -f "$BATS_TEST_TMPDIR/httpd$n.port"
    python3 "$TOP/tests/cli/net/httpd.py" "$WWW" "$BATS_TEST_TMPDIR/httpd$n.log" "$addr" \
        --tls "$(PKI)/$cert.pem" "$(PKI)/$cert.key" "$@" >"$BATS_TEST_TMPDIR/httpd$n.port" \
        2>"$BATS_TEST_TMPDIR/httpd$n.err" &
    HTTPD_PIDS+=($!)
    for _ in $(seq 100); do
        [ -s "$BATS_TEST_TMPDIR/httpd$n.port" ] && break
        sleep 0.05
    done
    [ -s "$BATS_TEST_TMPDIR/httpd$n.port" ]
    if [ "$n" -eq 0 ]; then
        PORT="$(cat "$BATS_TEST_TMPDIR/httpd$n.port")"
        LOG="$BATS_TEST_TMPDIR/httpd$n.log"
    else
        PORT2="$(cat "$BATS_TEST_TMPDIR/httpd$n.port")"
        LOG2="$BATS_TEST_TMPDIR/httpd$n.log"
    fi
}

setup() {
    [ -x "$SBVM" ] || skip "sandboxvm is not built at $SBVM"
    HTTPD_PIDS=()
    WWW="$(scratch)"
    echo "hello over TLS" >"$WWW/index.html"
    chmod -R a+rX "$WWW"
    BEFORE="$(leftovers)"
    BEFORE_TMP="$(tmp_names)"
}

teardown() {
    local p
    for p in ${HTTPD_PIDS[@]+"${HTTPD_PIDS[@]}"}; do
        kill "$p" 2>/dev/null || true
    done
}

# ---- the trust store (issue 13) ---------------------------------------------

@test "the system trust store is in the view, read-only, without the host's private keys" {
    [ -f /etc/ssl/certs/ca-certificates.crt ] || skip "no /etc/ssl/certs/ca-certificates.crt on this host"
    local host
    host="$(/usr/bin/python3 -c 'import ssl; print(ssl.create_default_context().cert_store_stats()["x509_ca"])')"
    run --separate-stderr "$SBVM" run --no-tag -- sh -c '
        cmp /etc/ssl/certs/ca-certificates.crt /usr/lib/ssl/cert.pem && echo same-bundle
        python3 -c "import ssl; print(ssl.create_default_context().cert_store_stats()[\"x509_ca\"])"
        touch /etc/ssl/certs/x 2>/dev/null || echo read-only
        ls /etc/ssl/private 2>&1 | grep -c "No such file"
        env | grep -c -e SSL_CERT_FILE -e NODE_EXTRA_CA_CERTS; true'
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'same-bundle\n%s\nread-only\n1\n0' "$host")" ]
}

@test "OpenSSL is loaded only for TLS: without its module a plain run works and an intercepted host is refused, naming it" {
    # The command does not link OpenSSL (src/net/tlsmod.h): libsandboxvm-tls.so
    # is opened the first time a policy needs it.
    [ "$(ldd "$SBVM_REAL" | grep -cE 'libssl|libcrypto')" = 0 ]
    local solo="$BATS_TEST_TMPDIR/solo"
    mkdir -p "$solo"
    cp "$SBVM_REAL" "$solo/sandboxvm"
    [ ! -e "$solo/libsandboxvm-tls.so" ]
    run --separate-stderr "$solo/sandboxvm" run --no-tag -- echo plain
    [ "$status" -eq 0 ]
    [ "$output" = plain ]
    if [ -e /usr/local/lib/x86_64-linux-gnu/sandboxvm/libsandboxvm-tls.so ] ||
        [ -e /usr/local/lib/sandboxvm/libsandboxvm-tls.so ]; then
        echo "# an installed module would be found: the refusal is not checked here" >&3
        return 0
    fi
    run --separate-stderr "$solo/sandboxvm" run --no-tag --net "allow=https://api.example.com/v1/" -- true
    echo "$stderr"
    [ "$status" -eq 125 ]
    [[ "$stderr" == *"needs sandboxvm's module libsandboxvm-tls.so"* ]]
    [[ "$stderr" == *"$solo/libsandboxvm-tls.so"* ]]
}

@test "HTTPS through --net allow to a server with a private CA: curl, wget, python3, requests, git" {
    root_pass_only
    local src repo
    src="$(scratch)"
    git -C "$src" init -q
    echo "over TLS through the broker" >"$src/README"
    git -C "$src" add README
    git -C "$src" -c user.name=t -c user.email=t@example.com commit -qm first
    git clone -q --bare "$src" "$WWW/project.git"
    git -C "$WWW/project.git" update-server-info
    chmod -R a+rX "$WWW"
    httpd srv
    run --separate-stderr timeout 120 "$SBVM" run --no-tag --trust-ca "$(PKI)/ca.pem" \
        --net "allow=localhost:$PORT" --net-allow-private -- sh -c "
            url=https://localhost:$PORT/index.html
            curl -sS \$url
            wget -q -O - \$url
            python3 -c 'import sys, urllib.request as u; sys.stdout.write(u.urlopen(sys.argv[1]).read().decode())' \$url
            python3 -c 'import sys, requests; sys.stdout.write(requests.get(sys.argv[1]).text)' \$url
            git clone -q https://localhost:$PORT/project.git /tmp/p && cat /tmp/p/README"
    echo "$output"
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'hello over TLS\n%.0s' 1 2 3 4; echo 'over TLS through the broker')" ]
    [ "$(grep -c '^GET /index.html' "$LOG")" -eq 4 ]
    # Each went through a tunnel (the broker saw no request inside).
    [[ "$stderr" == *"allowed CONNECT localhost:$PORT via 127.0.0.1"* ]]
    [[ "$stderr" != *"allowed GET"* ]]
    assert_nothing_left
}

@test "without --trust-ca the private CA is not trusted: every client refuses the server" {
    root_pass_only
    httpd srv
    run --separate-stderr timeout 120 "$SBVM" run --no-tag --net "allow=localhost:$PORT" \
        --net-allow-private -- sh -c "
            url=https://localhost:$PORT/index.html
            curl -sS -o /dev/null \$url 2>/dev/null; echo curl \$?
            wget -q -O /dev/null \$url 2>/dev/null; echo wget \$?
            python3 -c 'import sys, urllib.request as u; u.urlopen(sys.argv[1])' \$url 2>&1 |
                grep -q CERTIFICATE_VERIFY_FAILED && echo python refused"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'curl 60\nwget 5\npython refused')" ]
    [ "$(grep -c '^GET' "$LOG")" -eq 0 ]
}

@test "node trusts a --trust-ca certificate through NODE_EXTRA_CA_CERTS" {
    root_pass_only
    command -v node >/dev/null || skip "node is not installed"
    httpd srv
    # Node before 22.21 ignores proxy variables: the script makes the
    # tunnel itself (CONNECT), then speaks TLS in it with node's own store.
    run --separate-stderr timeout 120 "$SBVM" run --no-tag --trust-ca "$(PKI)/ca.pem" \
        --net "allow=localhost:$PORT" --net-allow-private -- node -e "
            const http = require('http'), https = require('https'), tls = require('tls');
            http.request({ host: '127.0.0.1', port: 3128, method: 'CONNECT', path: 'localhost:$PORT' })
              .on('connect', (res, sock) => {
                https.get({ host: 'localhost', path: '/index.html',
                            createConnection: () => tls.connect({ socket: sock, servername: 'localhost' }) },
                          (r) => r.on('data', (d) => process.stdout.write(d)));
              }).end();"
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "hello over TLS" ]
}

@test "--trust-ca takes certificates only: a private key, no certificate or a missing file is refused" {
    local d
    d="$(scratch)"
    cat "$(PKI)/ca.pem" "$(PKI)/ca.key" >"$d/with-key.pem"
    echo "not a certificate" >"$d/empty.pem"
    run --separate-stderr "$SBVM" run --trust-ca "$d/with-key.pem" -- true
    assert_bad_input 125 "--trust-ca .*with-key.pem: holds a PRIVATE KEY: give a file of certificates only"
    [[ "$stderr" != *"BEGIN"* ]]
    run --separate-stderr "$SBVM" run --trust-ca "$d/empty.pem" -- true
    assert_bad_input 125 "--trust-ca .*empty.pem: no PEM certificate in it"
    run --separate-stderr "$SBVM" run --trust-ca "$d/missing.pem" -- true
    assert_bad_input 125 "--trust-ca .*missing.pem: No such file"
}

@test "what the guest is given to trust is the certificates, re-encoded, and nothing else" {
    local d
    d="$(scratch)"
    { echo "a comment before"; cat "$(PKI)/ca.pem"; echo "and after"; } >"$d/commented.pem"
    run --separate-stderr "$SBVM" run --no-tag --trust-ca "$d/commented.pem" -- sh -c '
        cat /etc/sandboxvm/added-ca.pem
        grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/ca-certificates.crt
        tail -n +2 /etc/sandboxvm/added-ca.pem | head -1 | cut -c1-20'
    [ "$status" -eq 0 ]
    [[ "$output" != *"comment"* && "$output" != *"and after"* ]]
    local n
    n="$(grep -c 'BEGIN CERTIFICATE' /etc/ssl/certs/ca-certificates.crt 2>/dev/null || echo 0)"
    [[ "$output" == *"$((n + 1))"* ]]
    [[ "$output" == *"$(sed -n 2p "$(PKI)/ca.pem" | cut -c1-20)"* ]]
}

# ---- --net host's resolver (issue 13) -------------------------------------------

@test "--net host: the host's resolv.conf and names; other modes have neither" {
    local name
    # A name of the host's own, not one the sandbox's generated /etc/hosts
    # has too (localhost, ip6-localhost, ip6-loopback, sandbox).
    name="$(awk '$1 !~ /^#/ && NF > 1 { for (i = 2; i <= NF; i++) if ($i !~ /^(localhost|ip6-.*|sandbox)$/) { print $i; exit } }' /etc/hosts)"
    [ -n "$name" ] || skip "the host's /etc/hosts names nothing the sandbox's does not"
    run --separate-stderr "$SBVM" run --no-tag --net host -- sh -c "
        cat /etc/resolv.conf
        getent hosts $name >/dev/null && echo resolved"
    [ "$status" -eq 0 ]
    [ "$output" = "$(cat /etc/resolv.conf; echo resolved)" ]
    run --separate-stderr "$SBVM" run --no-tag -- sh -c "
        test -e /etc/resolv.conf || echo no-resolv
        getent hosts $name || echo unknown"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'no-resolv\nunknown')" ]
}

# ---- interception (issue 20) ----------------------------------------------------

# icept DIR ARGS...: a run whose broker trusts the test CA (--trust-ca, for
# the servers here) and may reach loopback; JSON report in DIR/r.json.
icept() {
    local d="$1"
    shift
    run --separate-stderr timeout 120 "$SBVM" run --no-tag --json "$d/r.json" \
        --trust-ca "$(PKI)/ca.pem" --net-allow-private "$@"
}

stars() { printf '%*s' "${#1}" '' | tr ' ' '*'; }

@test "a secret over HTTPS is injected on every request of a kept-alive connection and masked back" {
    httpd srv 127.0.0.1 --keep-alive
    local d secret basic
    d="$(scratch)"
    secret="s3cr3t-$RANDOM$RANDOM-value"
    basic="$(printf 'user:%s' "$secret" | base64)"
    icept "$d" --net "allow=localhost:$PORT" --secret "API_TOKEN=$secret@localhost" -- sh -c "
        url=https://localhost:$PORT/echo-headers
        curl -sS -H \"X-Value: \$API_TOKEN\" \$url \$url | grep X-Value
        curl -sS -u \"user:\$API_TOKEN\" \$url | grep Authorization
        python3 -c '
import os, requests, sys
with requests.Session() as s:
    for _ in range(2):
        r = s.get(sys.argv[1], headers={\"X-Value\": os.environ[\"API_TOKEN\"]})
        sys.stdout.write([l for l in r.text.splitlines(True) if l.startswith(\"X-Value\")][0])' \$url
        echo \"placeholder: \${API_TOKEN%%-*}\"
        cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline /etc/sandboxvm/* 2>/dev/null | tr '\\0' '\\n' | grep -c sbvm-secret-"
    echo "$output"
    echo "$stderr"
    [ "$status" -eq 0 ]
    # The server got the value on every request, in both forms...
    [ "$(grep -c "^X-Value: $secret\$" "$LOG")" -eq 4 ]
    grep -q "^Authorization: Basic $basic\$" "$LOG"
    # ...and the guest saw stars where the server echoed it, never the value.
    [[ "$output" != *"$secret"* && "$output" != *"$basic"* ]]
    [ "$(grep -cxF "X-Value: $(stars "$secret")" <<<"$output")" -eq 4 ]
    [[ "$output" == *"Authorization: Basic $(stars "$basic")"* ]]
    [[ "$output" == *"placeholder: sbvm"* ]]
    ! grep -q -- "$secret" "$d/r.json"
    # curl's two requests went over one connection: two GETs, then their CONNECT.
    jcheck "$d/r.json" '[(a["method"], a["path"], a["intercepted"], a["secrets_injected"]) for a in g["network"]["attempts"][:3]]==[("GET", "/echo-headers", True, 1), ("GET", "/echo-headers", True, 1), ("CONNECT", None, True, 2)]'
    jcheck "$d/r.json" 'sum(a["method"] == "CONNECT" for a in g["network"]["attempts"])==3'
    jcheck "$d/r.json" 'all(a["allowed"] and a["reason"] is None for a in g["network"]["attempts"])'
    jschema "$d/r.json"
    assert_nothing_left
}

@test "intercepted: curl, wget, python3 urllib and requests, git (smart HTTP) and node, with the sandbox's CA" {
    root_pass_only
    local src
    src="$(scratch)"
    git -C "$src" init -q
    echo "intercepted" >"$src/README"
    git -C "$src" add README
    git -C "$src" -c user.name=t -c user.email=t@example.com commit -qm first
    git clone -q --bare "$src" "$WWW/repo.git"
    chmod -R a+rX "$WWW"
    httpd srv 127.0.0.1 --keep-alive
    local d
    d="$(scratch)"
    icept "$d" --net "allow=https://localhost:$PORT/index.html,https://localhost:$PORT/git/" -- sh -c "
        url=https://localhost:$PORT/index.html
        curl -sS \$url
        wget -q -O - \$url
        python3 -c 'import sys, urllib.request as u; sys.stdout.write(u.urlopen(sys.argv[1]).read().decode())' \$url
        python3 -c 'import sys, requests; sys.stdout.write(requests.get(sys.argv[1]).text)' \$url
        git clone -q https://localhost:$PORT/git/repo.git /tmp/r && cat /tmp/r/README
        openssl s_client -proxy 127.0.0.1:3128 -connect localhost:$PORT -servername localhost \
            </dev/null 2>/dev/null | grep -m1 '^issuer='"
    echo "$output"
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$(sed -n 1,4p <<<"$output")" = "$(printf 'hello over TLS\n%.0s' 1 2 3 4)" ]
    [ "$(sed -n 5p <<<"$output")" = "intercepted" ]
    # What the guest was shown is the sandbox's CA's certificate, not the server's.
    [[ "$(sed -n 6p <<<"$output")" == "issuer=O = sandboxvm, CN = sandboxvm per-sandbox CA "* ]]
    [ "$(grep -c '^GET /index.html' "$LOG")" -eq 4 ]
    grep -q '^POST /git/repo.git/git-upload-pack' "$LOG"
    jcheck "$d/r.json" 'all(a["intercepted"] and a["allowed"] for a in g["network"]["attempts"])'
    jcheck "$d/r.json" '{a["path"] for a in g["network"]["attempts"] if a["method"] != "CONNECT"}=={"/index.html", "/git/repo.git/info/refs", "/git/repo.git/git-upload-pack"}'
    jschema "$d/r.json"
}

@test "intercepted: node's https with NODE_EXTRA_CA_CERTS trusts the sandbox's CA" {
    root_pass_only
    command -v node >/dev/null || skip "node is not installed"
    httpd srv
    local d
    d="$(scratch)"
    icept "$d" --net "allow=https://localhost:$PORT/index.html" -- node -e "
        const http = require('http'), https = require('https'), tls = require('tls');
        http.request({ host: '127.0.0.1', port: 3128, method: 'CONNECT', path: 'localhost:$PORT' })
          .on('connect', (res, sock) => {
            const t = tls.connect({ socket: sock, servername: 'localhost' }, () =>
              console.log(t.getPeerCertificate().issuer.O));
            https.get({ host: 'localhost', port: $PORT, path: '/index.html', createConnection: () => t },
                      (r) => r.on('data', (d) => process.stdout.write(d)));
          }).end();"
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'sandboxvm\nhello over TLS')" ]
    jcheck "$d/r.json" '[(a["method"], a["path"]) for a in g["network"]["attempts"]]==[("GET", "/index.html"), ("CONNECT", None)]'
}

@test "the sandbox's CA: one per sandbox, name-constrained to the intercepted hosts, its key nowhere in the view" {
    run --separate-stderr "$SBVM" run --no-tag --net "allow=https://api.example.com/v1/,*.example.org" \
        --secret "T=not-for-the-guest@*.example.org" -- sh -c '
        grep -c "BEGIN CERTIFICATE" /etc/sandboxvm/added-ca.pem
        openssl x509 -in /etc/sandboxvm/added-ca.pem -noout -ext nameConstraints,basicConstraints
        openssl x509 -in /etc/sandboxvm/added-ca.pem -noout -fingerprint -sha256
        grep -rl "PRIVATE KEY" /etc /tmp /dev 2>/dev/null | wc -l
        env | grep -c "PRIVATE KEY"; true'
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(sed -n 1p <<<"$output")" = "1" ]
    [[ "$output" == *"Permitted:"*"DNS:api.example.com"*"DNS:example.org"*"IP:0.0.0.0/255.255.255.255"* ]]
    [[ "$output" == *"CA:TRUE, pathlen:0"* ]]
    [ "$(tail -2 <<<"$output")" = "$(printf '0\n0')" ]
    local first="$(grep Fingerprint <<<"$output")"
    run --separate-stderr "$SBVM" run --no-tag --net "allow=https://api.example.com/v1/" -- \
        openssl x509 -in /etc/sandboxvm/added-ca.pem -noout -fingerprint -sha256
    [ "$status" -eq 0 ]
    [ -n "$first" ] && [ "$output" != "$first" ]
    # Without interception there is no CA at all.
    run --separate-stderr "$SBVM" run --no-tag --net "allow=api.example.com" -- \
        sh -c 'test -e /etc/sandboxvm/added-ca.pem || echo none; echo "${NODE_EXTRA_CA_CERTS:-unset}"'
    [ "$output" = "$(printf 'none\nunset')" ]
}

@test "a placeholder sent to another allowed host arrives unreplaced, tunnelled or intercepted" {
    httpd srv 127.0.0.1
    httpd srv 127.0.0.2
    local d
    d="$(scratch)"
    icept "$d" --net "allow=localhost:$PORT,127.0.0.2:$PORT2" --secret "API_TOKEN=real-value@localhost" -- \
        sh -c "curl -sS -o /dev/null -H \"X-Value: \$API_TOKEN\" https://127.0.0.2:$PORT2/echo-headers"
    [ "$status" -eq 0 ]
    icept "$d" --net "allow=localhost:$PORT,https://127.0.0.2:$PORT2/echo-headers" \
        --secret "API_TOKEN=real-value@localhost" -- \
        sh -c "curl -sS -o /dev/null -H \"X-Value: \$API_TOKEN\" https://127.0.0.2:$PORT2/echo-headers"
    echo "$stderr"
    [ "$status" -eq 0 ]
    jcheck "$d/r.json" '[(a["method"], a["intercepted"], a["secrets_injected"]) for a in g["network"]["attempts"]]==[("GET", True, 0), ("CONNECT", True, 0)]'
    [ "$(grep -c '^X-Value: sbvm-secret-' "$LOG2")" -eq 2 ]
    ! grep -q real-value "$LOG2"
    [ ! -s "$LOG" ]
}

@test "a Host or a TLS server name that is not the tunnel's is refused and recorded; nothing reaches the server" {
    httpd srv
    local d
    d="$(scratch)"
    icept "$d" --net "allow=localhost:$PORT" --secret "API_TOKEN=real-value@localhost" -- sh -c "
        url=https://localhost:$PORT/echo-headers
        curl -sS -w '%{http_code}\n' -H 'Host: other.example' -H \"X-Value: \$API_TOKEN\" \$url
        curl -sS -w '%{http_code}\n' -H 'Host: localhost' -H \"X-Value: \$API_TOKEN\" \$url
        python3 -c '
import socket, ssl, sys
s = socket.create_connection((\"127.0.0.1\", 3128))
s.sendall(b\"CONNECT localhost:%s HTTP/1.1\\r\\n\\r\\n\" % sys.argv[1].encode())
print(s.recv(4096).split(b\"\\r\\n\")[0].decode())
try:
    ssl.create_default_context().wrap_socket(s, server_hostname=\"other.example\")
    print(\"handshake done\")
except ssl.SSLError as e:
    print(\"refused:\", e.reason)' $PORT"
    echo "$output"
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$(sed -n 1,4p <<<"$output")" = "$(printf 'sandboxvm: the Host header names %s, the tunnel is for localhost:%s\n421\n' other.example:443 "$PORT" localhost:443 "$PORT")" ]
    [ "$(sed -n 5,6p <<<"$output")" = "$(printf 'HTTP/1.1 200 Connection established\nrefused: TLSV1_UNRECOGNIZED_NAME')" ]
    [ ! -s "$LOG" ]
    jcheck "$d/r.json" '[(a["method"], a["allowed"], a["status"]) for a in g["network"]["attempts"]][:4]==[("GET", False, 421), ("CONNECT", True, None), ("GET", False, 421), ("CONNECT", True, None)]'
    jcheck "$d/r.json" 'g["network"]["attempts"][4]["reason"]=="the guest'"'"'s TLS handshake names other.example (SNI), the tunnel is for localhost"'
    jcheck "$d/r.json" 'all(a["secrets_injected"]==0 for a in g["network"]["attempts"])'
    jschema "$d/r.json"
}

@test "a server whose certificate is untrusted or for another name is refused (502, the reason); no downgrade" {
    httpd other
    local d
    d="$(scratch)"
    icept "$d" --net "allow=https://localhost:$PORT/index.html" -- \
        sh -c "curl -sS https://localhost:$PORT/index.html 2>&1; echo \"curl \$?\""
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"CONNECT tunnel failed, response 502"*"curl 56" ]]
    jcheck "$d/r.json" 'g["network"]["attempts"][0]["status"]==502 and g["network"]["attempts"][0]["reason"]=="the server'"'"'s certificate for localhost is refused: unable to get local issuer certificate"'
    kill "${HTTPD_PIDS[0]}"
    HTTPD_PIDS=()
    httpd wrongname
    icept "$d" --net "allow=https://localhost:$PORT/index.html" -- \
        sh -c "curl -sS https://localhost:$PORT/index.html 2>&1; echo \"curl \$?\""
    echo "$output"
    [[ "$output" == *"curl 56" ]]
    jcheck "$d/r.json" 'g["network"]["attempts"][0]["reason"]=="the server'"'"'s certificate for localhost is refused: hostname mismatch"'
    [ ! -s "$LOG" ]
}

@test "path rules: every request is checked; refusals are answered 403 and recorded with method, host and path" {
    mkdir -p "$WWW/allowed"
    echo "inside" >"$WWW/allowed/a.txt"
    chmod -R a+rX "$WWW"
    httpd srv 127.0.0.1 --keep-alive
    local d
    d="$(scratch)"
    icept "$d" --net "allow=https://localhost:$PORT/allowed/" -- sh -c "
        u=https://localhost:$PORT
        curl -sS \$u/allowed/a.txt
        for p in /index.html /allowed/../index.html /allowed/%2e%2e/index.html /allowed/..%2findex.html '/allowed/a.txt%2f..%2f..%2findex.html' /allowedx/a.txt; do
            curl -sS --path-as-is -o /dev/null -w '%{http_code}\n' \$u\$p
        done
        curl -sS -o /dev/null -w '%{http_code}\n' -d x \$u/allowed/a.txt"
    echo "$output"
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'inside\n403\n403\n403\n403\n403\n403\n404')" ]
    [ "$(grep -c '^GET' "$LOG")" -eq 1 ]
    jcheck "$d/r.json" '[(a["method"], a["path"], a["allowed"], a["status"]) for a in g["network"]["attempts"] if a["method"] != "CONNECT"]==[("GET", "/allowed/a.txt", True, None), ("GET", "/index.html", False, 403), ("GET", "/allowed/../index.html", False, 403), ("GET", "/allowed/%2e%2e/index.html", False, 403), ("GET", "/allowed/..%2findex.html", False, 403), ("GET", "/allowed/a.txt%2f..%2f..%2findex.html", False, 403), ("GET", "/allowedx/a.txt", False, 403), ("POST", "/allowed/a.txt", True, None)]'
    jcheck "$d/r.json" '"the path is not under a prefix the rules allow for localhost" in [a["reason"] for a in g["network"]["attempts"]]'
    jschema "$d/r.json"
}

@test "path rules apply to plain HTTP too, and bad path rules are refused" {
    run --separate-stderr "$SBVM" run --net "allow=https://example.com/a/../b/" -- true
    assert_bad_input 125 "--net allow: https://example.com/a/../b/: a '.' or '..' segment in the path"
    run --separate-stderr "$SBVM" run --net "allow=https://example.com/a?b" -- true
    assert_bad_input 125 "a rule names a host and a path prefix only"
    run --separate-stderr "$SBVM" run --net "allow=https://user@example.com/a/" -- true
    assert_bad_input 125 "a rule names a host and a path prefix only"
    local w port
    w="$(scratch)"
    mkdir "$w/ok"
    echo plain >"$w/ok/x"
    echo no >"$w/y"
    chmod -R a+rX "$w"
    python3 "$TOP/tests/cli/net/httpd.py" "$w" "$BATS_TEST_TMPDIR/plain.log" >"$BATS_TEST_TMPDIR/plain.port" 2>/dev/null &
    HTTPD_PIDS+=($!)
    for _ in $(seq 100); do [ -s "$BATS_TEST_TMPDIR/plain.port" ] && break; sleep 0.05; done
    port="$(cat "$BATS_TEST_TMPDIR/plain.port")"
    run --separate-stderr timeout 60 "$SBVM" run --no-tag --net "allow=http://127.0.0.1:$port/ok/" \
        --net-allow-private -- sh -c "
            curl -sS http://127.0.0.1:$port/ok/x
            curl -sS -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$port/y"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'plain\n403')" ]
    [[ "$stderr" == *"refused GET 127.0.0.1:$port/y: the path is not under a prefix"* ]]
}

@test "intercepted without secrets: a compressed response goes through untouched" {
    httpd srv
    local d
    d="$(scratch)"
    icept "$d" --net "allow=https://localhost:$PORT/echo-headers" -- \
        sh -c "curl -sS --compressed -D - https://localhost:$PORT/echo-headers | tr -d '\r'"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Content-Encoding: gzip"* ]]
    [[ "$output" == *"Accept-Encoding: deflate, gzip"* ]]
}

@test "intercepted uploads: Content-Length, chunked and Expect: 100-continue bodies arrive whole" {
    httpd srv 127.0.0.1 --keep-alive
    local d sum small
    d="$(scratch)"
    head -c 3000000 /dev/urandom >"$d/big.bin"
    chmod a+r "$d/big.bin"
    sum="$(sha256sum "$d/big.bin" | cut -d' ' -f1)"
    icept "$d" --ro "$d/big.bin:/tmp/big.bin" --net "allow=https://localhost:$PORT/upload" -- sh -c "
        u=https://localhost:$PORT/upload
        curl -sS -T /tmp/big.bin \$u
        curl -sS -T - \$u </tmp/big.bin
        curl -sS --data-binary @/tmp/big.bin \$u
        python3 -c 'import requests, sys; sys.stdout.write(requests.post(sys.argv[1], data=b\"a\" * 10 + b\"b\" * 20).text)' \$u"
    echo "$stderr"
    [ "$status" -eq 0 ]
    small="$(printf 'a%.0s' $(seq 10); printf 'b%.0s' $(seq 20))"
    [ "$output" = "$(for _ in 1 2 3; do echo "got 3000000 bytes $sum"; done
        printf 'got 30 bytes %s' "$(printf '%s' "$small" | sha256sum | cut -d' ' -f1)")" ]
    grep -q '^Transfer-Encoding: chunked' "$LOG"
    grep -q '^Expect: 100-continue' "$LOG"
}

@test "a stalled or hostile connection holds up only itself" {
    httpd srv 127.0.0.1
    local d
    d="$(scratch)"
    # Three connections that hang (one never starts TLS, one stops in the
    # middle of a request head, one waits for a held response), and, while
    # they hang, requests that must be answered.
    icept "$d" --net "allow=https://localhost:$PORT/" --secret "T=not-for-the-guest@localhost" -- python3 -c "
import socket, ssl, sys, threading, urllib.request
port = sys.argv[1]
def connect():
    s = socket.create_connection(('127.0.0.1', 3128))
    s.sendall(b'CONNECT localhost:%s HTTP/1.1\r\n\r\n' % port.encode())
    assert s.recv(4096).startswith(b'HTTP/1.1 200')
    return s
mute = connect()
half = ssl.create_default_context().wrap_socket(connect(), server_hostname='localhost')
half.sendall(b'GET /index.html HTTP/1.1\r\nHost: loc')
held = []
t = threading.Thread(target=lambda: held.append(urllib.request.urlopen('https://localhost:%s/hold' % port).read()))
t.start()
for _ in range(3):
    sys.stdout.write(urllib.request.urlopen('https://localhost:%s/index.html' % port).read().decode())
print('held still waiting:', not held)
print(urllib.request.urlopen('https://localhost:%s/release' % port).read().decode(), end='')
t.join()
print(held[0].decode(), end='')" "$PORT"
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'hello over TLS\n%.0s' 1 2 3; printf 'held still waiting: True\nreleased\nheld')" ]
}
