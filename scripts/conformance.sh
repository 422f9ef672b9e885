#!/usr/bin/env bash
# Runs the third-party SCIM suites of shared/conformance/scim (see its README.md) with newman
# against mandate, each on a fresh server with its own empty database and token:
#   microsoft   Microsoft's SCIM reference collection, on an empty server
#   okta-spec   Okta's SCIM 2.0 SPEC test, after seeding one user (it reads Resources[0])
#   okta-disc   Okta's discovery checks, with RS_SKIP_TIMING=1
# once per storage backend of MANDATE_TEST_BACKENDS (default "sqlite"; "sqlite postgres" for
# both): the suite names carry the backend, e.g. microsoft-postgres. A postgres suite gets a
# database of its own on the server of MANDATE_TEST_PG (a throwaway cluster is started for the
# run when that is unset: scripts/pg.sh run).
# Prints "<suite>-<backend>: N passed, N failed" per suite and a final "N passed, N failed" over
# all of them; exits non-zero when an assertion failed, newman errored or a server died.
# Reports (newman JSON and CLI output, server logs) go to tests/out/conformance/.
#
# Environment: MANDATE_BIN (default build/mandate), MANDATE_SHARED (default ../shared beside the
# repository), CONFORMANCE_SUITES (a space-separated subset of the suite names above),
# MANDATE_TEST_BACKENDS, MANDATE_TEST_PG.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
shared=${MANDATE_SHARED:-$repo/../shared}
suites_dir=$shared/conformance/scim
bin=${MANDATE_BIN:-build/mandate}
case "$bin" in /*) ;; *) bin=$repo/$bin ;; esac
out=$repo/tests/out/conformance
conf=$repo/tests/conformance

die() {
    echo "conformance: $*" >&2
    exit 1
}

backends=${MANDATE_TEST_BACKENDS:-sqlite}
for be in $backends; do
    case "$be" in
    sqlite) ;;
    postgres) [ -n "${MANDATE_TEST_PG:-}" ] || exec "$repo/scripts/pg.sh" run "$repo/scripts/conformance.sh" "$@" ;;
    *) die "unknown backend \"$be\" in MANDATE_TEST_BACKENDS (sqlite, postgres)" ;;
    esac
done

[ -d "$suites_dir" ] || die "no suites at $suites_dir (set MANDATE_SHARED)"
[ -x "$bin" ] || die "no mandate binary at $bin (make build/mandate)"
command -v node >/dev/null || die "node is not installed (scripts/install-deps.sh)"
command -v curl >/dev/null || die "curl is not installed (scripts/install-deps.sh)"

# newman, pinned by tests/conformance/package-lock.json. The stamp records the lockfile that
# node_modules was installed from, so that a changed lockfile reinstalls.
ensure_newman() {
    local stamp=$conf/node_modules/.mandate-lock.sha256
    local want
    want=$(sha256sum "$conf/package-lock.json" | cut -d' ' -f1)
    if [ -x "$conf/node_modules/.bin/newman" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    echo "conformance: installing newman (npm ci in tests/conformance)" >&2
    (cd "$conf" && npm ci --no-audit --no-fund --silent) || die "npm ci failed in tests/conformance"
    echo "$want" >"$stamp"
}
ensure_newman
newman=$conf/node_modules/.bin/newman

rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d)
server_pid=
db_name= # the PostgreSQL database of the running suite, dropped with its server

stop_server() {
    local rc=0
    if [ -n "$server_pid" ]; then
        if kill -0 "$server_pid" 2>/dev/null; then
            kill -TERM "$server_pid" 2>/dev/null
            # Up to 10 s for a clean exit, then SIGKILL.
            for _ in $(seq 100); do
                kill -0 "$server_pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -0 "$server_pid" 2>/dev/null && kill -KILL "$server_pid" 2>/dev/null
        fi
        wait "$server_pid" 2>/dev/null
        rc=$?
        server_pid=
    fi
    if [ -n "$db_name" ]; then
        "$repo/scripts/pg.sh" dropdb "$MANDATE_TEST_PG" "$db_name" >/dev/null ||
            echo "conformance: could not drop the database $db_name" >&2
        db_name=
    fi
    return "$rc"
}
trap 'stop_server; rm -rf "$work"' EXIT

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# start_server NAME BACKEND: a fresh database and token; sets port, token, server_pid, base.
start_server() {
    local name=$1 dir=$work/$1 db
    mkdir -p "$dir"
    case "$2" in
    sqlite) db=$dir/mandate.db ;;
    postgres)
        db_name=conformance_${name//-/_}_$$
        db=$("$repo/scripts/pg.sh" createdb "$MANDATE_TEST_PG" "$db_name" 2>>"$out/$name.token.log") ||
            { echo "conformance: $name: could not create a PostgreSQL database" >&2; return 1; }
        ;;
    esac
    token=$("$bin" token create --kind scim --name "conformance-$name" --db "$db" \
        2>>"$out/$name.token.log") ||
        { echo "conformance: $name: token create failed" >&2; return 1; }
    port=$(free_port)
    "$bin" serve --listen "127.0.0.1:$port" --db "$db" </dev/null \
        >"$out/$name.server.log" 2>&1 &
    server_pid=$!
    base=http://127.0.0.1:$port/scim/v2
    for _ in $(seq 200); do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "conformance: $name: server exited at start; its log:" >&2
            tail -20 "$out/$name.server.log" >&2
            server_pid=
            return 1
        fi
        if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" = 200 ]; then
            return 0
        fi
        sleep 0.05
    done
    echo "conformance: $name: server did not answer /healthz in 10 s; its log:" >&2
    tail -20 "$out/$name.server.log" >&2
    return 1
}

seed_okta_user() {
    local name=$1 code
    code=$(curl -s -o "$out/$name.seed.json" -w '%{http_code}' -X POST "$base/Users" \
        -H "Authorization: Bearer $token" -H 'Content-Type: application/scim+json' \
        -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"seed.user@example.com","name":{"givenName":"Seed","familyName":"User"},"emails":[{"primary":true,"value":"seed.user@example.com","type":"work"}],"active":true}')
    if [ "$code" != 201 ]; then
        echo "conformance: $name: seeding a user answered $code, not 201" >&2
        return 1
    fi
}

# report NAME JSON: prints the suite line and the failed assertions; sets s_pass, s_fail.
report() {
    local name=$1 json=$2 lines
    if ! lines=$(node - "$json" <<'EOF'
const fs = require('fs');
const r = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const a = r.run.stats.assertions;
console.log(`${a.total - a.failed} ${a.failed}`);
for (const f of r.run.failures || []) {
    const req = (f.source && f.source.name) || '?';
    const what = (f.error && (f.error.test || f.error.name)) || '?';
    const msg = ((f.error && f.error.message) || '').replace(/\s+/g, ' ').slice(0, 300);
    console.log(`    FAIL ${req} > ${what}: ${msg}`);
}
if (r.run.error) console.log(`    ERROR ${r.run.error.message || r.run.error}`);
EOF
    ); then
        echo "conformance: $name: cannot read $json" >&2
        return 1
    fi
    read -r s_pass s_fail <<<"$(head -1 <<<"$lines")"
    echo "$name: $s_pass passed, $s_fail failed"
    tail -n +2 <<<"$lines"
}

total_pass=0
total_fail=0
bad=0

# run_suite SUITE BACKEND COLLECTION: one suite on its own server; NAME is SUITE-BACKEND.
run_suite() {
    local suite=$1 name=$1-$2 be=$2 coll=$suites_dir/$3 json=$out/$1-$2.json nrc src
    shift 3
    s_pass=0
    s_fail=0
    if ! start_server "$name" "$be"; then
        echo "$name: 0 passed, 0 failed (server did not start)"
        stop_server
        bad=1
        return
    fi
    case "$suite" in
    microsoft)
        set -- --env-var Protocol=http --env-var Server=127.0.0.1 --env-var "Port=:$port" \
            --env-var Api=scim/v2 --env-var "token=$token" ;;
    okta-spec)
        seed_okta_user "$name" || bad=1
        set -- --env-var "SCIMBaseURL=$base" --env-var "auth=Bearer $token" ;;
    okta-disc)
        set -- --env-var "SCIMBaseURL=$base" --env-var "auth=Bearer $token" \
            --env-var RS_SKIP_TIMING=1 ;;
    esac
    "$newman" run "$coll" "$@" --reporters cli,json --reporter-json-export "$json" \
        --timeout-request 15000 --disable-unicode --color off >"$out/$name.newman.txt" 2>&1
    nrc=$?
    stop_server
    src=$?
    if [ -f "$json" ] && report "$name" "$json"; then
        total_pass=$((total_pass + s_pass))
        total_fail=$((total_fail + s_fail))
        [ "$s_fail" -eq 0 ] || bad=1
    else
        echo "$name: 0 passed, 0 failed (newman produced no report)"
        bad=1
    fi
    if [ "$nrc" -ne 0 ] && [ "$s_fail" -eq 0 ]; then
        echo "    newman exited $nrc; see $out/$name.newman.txt"
        tail -5 "$out/$name.newman.txt" | sed 's/^/    /'
        bad=1
    fi
    if [ "$src" -ne 0 ]; then
        echo "    the server exited with status $src; see $out/$name.server.log"
        bad=1
    fi
}

for be in $backends; do
    for s in ${CONFORMANCE_SUITES:-microsoft okta-spec okta-disc}; do
        case "$s" in
        microsoft) run_suite microsoft "$be" AzureAD_SCIMReferenceCode_PostmanCollection.no-token.json ;;
        okta-spec) run_suite okta-spec "$be" Okta-SCIM-20-SPEC-Test.postman_collection.json ;;
        okta-disc) run_suite okta-disc "$be" okta_2017_discovery_only.postman_collection.json ;;
        *) die "unknown suite $s" ;;
        esac
    done
done

echo "$total_pass passed, $total_fail failed"
[ "$bad" -eq 0 ] && [ "$total_fail" -eq 0 ]
