#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Profiles: the shipped ones load and do what they say; options given on
# the command line add to a profile or replace what it says; a bad profile
# is refused with the field and the reason.

load helpers

profile() {
    local f="$BATS_TEST_TMPDIR/$1.json"
    cat >"$f"
    echo "$f"
}

@test "the shipped profiles load, and say what they are for" {
    local d p
    d="$(scratch)"
    for p in minimal build agent; do
        run --separate-stderr "$SBVM" run -q --profile "$p" --json "$d/$p.json" -- /bin/true
        [ "$status" -eq 0 ]
        grep -q '"description"' "$TOP/profiles/$p.json"
    done
    jcheck "$d/minimal.json" 'g["network"]["mode"]=="none" and set(g["limits"])=={"time","cpu","memory","pids","files","output","disk"}'
    jcheck "$d/agent.json" 'g["network"]["mode"]=="allow"'
    if python3 -c 'import jsonschema' 2>/dev/null; then
        for p in minimal build agent; do
            python3 -c 'import json, sys, jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))' \
                "$TOP/docs/profile.schema.json" "$TOP/profiles/$p.json"
        done
    fi
}

@test "a profile's settings apply: environment, limits, mounts, network" {
    local p d
    d="$(scratch)"
    p="$(profile ok <<'JSON'
{
  "schema": "sandboxvm-profile", "schema_version": 1,
  "env": {"GREETING": "from the profile"},
  "cwd": "/work",
  "limits": {"time": 20, "memory": "128M", "pids": 50},
  "mounts": [{"tmpfs": "/work", "size": "1M"}],
  "network": {"mode": "allow", "allow": ["example.com"]},
  "syscalls": {"deny": ["mkdir"]}
}
JSON
)"
    run --separate-stderr "$SBVM" run --no-tag --profile "$p" --json "$d/r.json" -- sh -c 'echo "$GREETING"; pwd; echo "$HTTP_PROXY"'
    [ "$status" -eq 0 ]
    [ "$output" = "$(printf 'from the profile\n/work\nhttp://127.0.0.1:3128')" ]
    jcheck "$d/r.json" 'g["limits"]["time"]=="supervisor" and "memory" in g["limits"]'
    run --separate-stderr "$SBVM" run --profile "$p" -- mkdir /work/x
    [ "$status" -eq 159 ]
}

@test "options on the command line replace or add to the profile's" {
    local d
    d="$(scratch)"
    run --separate-stderr "$SBVM" run -q --profile minimal --timeout 5 --pids 10 --net host \
        --env EXTRA=1 --json "$d/r.json" -- sh -c 'echo $EXTRA'
    [ "$status" -eq 0 ]
    jcheck "$d/r.json" 'g["network"]["mode"]=="host"'
    run --separate-stderr timeout 30 "$SBVM" run --profile minimal --timeout 1 -- sleep 10
    [ "$status" -eq 124 ]
    [[ "$stderr" == *"limit time: ran out of time (limit 1 s"* ]]
}

@test "a secret in a profile comes from the caller's environment, never from the file" {
    local p
    p="$(profile secret <<'JSON'
{"schema": "sandboxvm-profile", "schema_version": 1,
 "network": {"mode": "allow", "allow": ["example.com"],
             "secrets": [{"name": "TOKEN", "value_from_env": "SBVM_TEST_TOKEN", "host": "example.com"}]}}
JSON
)"
    run --separate-stderr "$SBVM" run --no-tag --profile "$p" -- sh -c 'echo $TOKEN'
    [ "$status" -eq 125 ]
    [[ "$stderr" == *"network.secrets[0]: the environment variable SBVM_TEST_TOKEN is not set"* ]]
    SBVM_TEST_TOKEN=hunter2 run --separate-stderr "$SBVM" run --no-tag --profile "$p" -- sh -c 'echo $TOKEN'
    [ "$status" -eq 0 ]
    [[ "$output" == "sbvm-secret-"* ]]
}

@test "bad profiles are refused with the field and the reason (125)" {
    local p
    p="$(profile a <<<'{"schema": "sandboxvm-profile", "schema_version": 1, "limitz": {}}')"
    run --separate-stderr "$SBVM" run --profile "$p" -- true
    assert_bad_input 125 "profile .*: limitz: unknown field"
    p="$(profile b <<<'{"schema": "sandboxvm-profile", "schema_version": 1, "limits": {"memory": "lots"}}')"
    run --separate-stderr "$SBVM" run --profile "$p" -- true
    assert_bad_input 125 "limits.memory: expected a size like \"512M\", not \"lots\""
    p="$(profile c <<<'{"schema": "sandboxvm-profile", "schema_version": 1, "limits": {"pids": 0}}')"
    run --separate-stderr "$SBVM" run --profile "$p" -- true
    assert_bad_input 125 "limits.pids: expected a whole number"
    p="$(profile d <<<'{"schema": "sandboxvm-profile", "schema_version": 1, "mounts": [{"ro": "/usr", "tmpfs": "/x"}]}')"
    run --separate-stderr "$SBVM" run --profile "$p" -- true
    assert_bad_input 125 "mounts\[0\]: give exactly one of ro, rw, tmpfs, hide"
    p="$(profile e <<<'{"schema": "sandboxvm-profile", "schema_version": 1, "network": {"mode": "allow", "allow": ["bad host"]}}')"
    run --separate-stderr "$SBVM" run --profile "$p" -- true
    assert_bad_input 125 "network.allow\[0\]: --net allow: bad host"
    p="$(profile f <<<'{"schema": "sandboxvm-profile", "schema_version": 2}')"
    run --separate-stderr "$SBVM" run --profile "$p" -- true
    assert_bad_input 125 "schema_version: this sandboxvm reads version 1"
    p="$(profile g <<<'{"schema": "sandboxvm-profile", "schema_version": 1, "env": {"A": "1"}, "env": {"B": "2"}}')"
    run --separate-stderr "$SBVM" run --profile "$p" -- true
    assert_bad_input 125 "duplicate"
    p="$(profile h <<<'{not json')"
    run --separate-stderr "$SBVM" run --profile "$p" -- true
    assert_bad_input 125 "line 1, column"
    # Settings that only mean something together are checked however they
    # were given: the profile alone, or the profile with flags.
    p="$(profile i <<<'{"schema": "sandboxvm-profile", "schema_version": 1, "network": {"mode": "none", "allow_private": true}}')"
    run --separate-stderr "$SBVM" run --profile "$p" -- true
    assert_bad_input 125 "--net-allow-private applies to --net allow=... only"
    p="$(profile j <<<'{"schema": "sandboxvm-profile", "schema_version": 1, "limits": {"cpu": 20000000}}')"
    run --separate-stderr "$SBVM" run --profile "$p" -- true
    assert_bad_input 125 "limits.cpu: expected a positive number of seconds, at most 10000000"
    run --separate-stderr "$SBVM" run --profile no-such-profile -- true
    assert_bad_input 125 "--profile no-such-profile: no such profile"
    run --separate-stderr "$SBVM" run --profile minimal --profile build -- true
    assert_bad_input 125 "--profile given twice"
}
