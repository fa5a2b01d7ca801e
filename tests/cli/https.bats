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

# httpd CERT [ADDRESS] [--keep-alive]: tests/cli/net/httpd.py over TLS with
# certificate CERT (srv, wrongname, other), serving $WWW; sets PORT and LOG
# (PORT2 and LOG2 for the second server a test starts).
httpd() {
    local cert="$1" addr="${2:-127.0.0.1}" n="${#HTTPD_PIDS[@]}"
    shift
    [ $# -gt 0 ] && shift
    : >"$BATS_TEST_TMPDIR/httpd$n.log"
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

@test "HTTPS through --net allow to a server with a private CA: curl, wget, python3, requests, git" {
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
    name="$(awk '$1 !~ /^#/ && NF > 1 { for (i = 2; i <= NF; i++) if ($i != "localhost") { print $i; exit } }' /etc/hosts)"
    [ -n "$name" ] || skip "the host's /etc/hosts names nothing but localhost"
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
