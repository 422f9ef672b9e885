#!/usr/bin/env bash
# What auditing adds to a tool call (issue 6: "the latency a tool call gains from auditing,
# target: under 20 microseconds at p50"): the same tools/call through two builds of the same tree,
# one without tool-call events (BASE_BIN: built here with -DMANDATE_BENCH_NO_TOOL_AUDIT, which only
# leaves the MCP server's audit log unset) and one as shipped (MANDATE_BIN), each on a fresh SQLite
# database against the same nginx upstream, at concurrency 1 (wrk -t1 -c1, one keep-alive
# connection), ROUNDS rounds interleaved base, audited, base, audited, ... after a warm-up of each.
# The figure is the median over rounds of (audited p50 - base p50). On a small shared machine
# the p50 of one server drifts by tens of microseconds from one round to the next, so the rounds
# are many and short: each difference pairs two runs seconds apart.
#
#   bench/audit/latency.sh [RESULTS_DIR]
#   env: MANDATE_BIN (default build/mandate), BASE_BIN (default: built into /tmp as above),
#        PEERS=/tmp/bench (a copy of ../shared/bench, for its wrk_req.lua), LAT_DUR=2s, ROUNDS=40
# -> RESULTS_DIR (default bench/results/audit-latency-<UTC time>): env.txt, every wrk output,
#    summary.txt.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PEERS="${PEERS:-/tmp/bench}"; LAT_DUR="${LAT_DUR:-2s}"; ROUNDS="${ROUNDS:-40}"
MANDATE_BIN="${MANDATE_BIN:-$REPO/build/mandate}"
PV="2025-06-18"
if [[ -z "${BASE_BIN:-}" ]]; then
    (cd "$REPO" && make --no-print-directory WERROR=1 build/mandate) >/dev/null
    (cd "$REPO" && make --no-print-directory WERROR=1 B=/tmp/mandate-bench-noaudit \
        CFLAGS="-O2 -g -DMANDATE_BENCH_NO_TOOL_AUDIT" /tmp/mandate-bench-noaudit/mandate) >/dev/null
    BASE_BIN=/tmp/mandate-bench-noaudit/mandate
fi
[[ -x "$BASE_BIN" ]] || { echo "BASE_BIN $BASE_BIN is not a binary" >&2; exit 2; }
[[ -f "$PEERS/lib/wrk_req.lua" ]] || { echo "copy ../shared/bench to $PEERS first" >&2; exit 2; }
for t in wrk node curl nginx; do command -v "$t" >/dev/null || { echo "$t is required" >&2; exit 2; }; done

RES="${1:-$REPO/bench/results/audit-latency-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$RES"; RES="$(cd "$RES" && pwd)"
WORK="$(mktemp -d /tmp/mandate_audit_lat.XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

{
    echo "command: BASE_BIN=$BASE_BIN MANDATE_BIN=$MANDATE_BIN LAT_DUR=$LAT_DUR ROUNDS=$ROUNDS bench/audit/latency.sh $*"
    echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "git: HEAD $(git -C "$REPO" rev-parse --short HEAD)"
    echo "base: $BASE_BIN sha256 $(sha256sum "$BASE_BIN" | cut -c1-16); audited: $MANDATE_BIN sha256 $(sha256sum "$MANDATE_BIN" | cut -c1-16)"
    echo "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$RES/env.txt"
cat "$RES/env.txt"

UPPORT="$(free_port)"
cat > "$WORK/nginx.conf" <<CONF
worker_processes 1; pid $WORK/nginx.pid; error_log $WORK/nginx_error.log; daemon off;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$UPPORT; location = /echo { default_type application/json; return 200 '{"echo":"\$arg_message"}'; } } }
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK" > "$WORK/nginx.out" 2>&1 &
PIDS+=($!)
sleep 0.3

start() { # start NAME BIN: a fresh mandate provisioned like bench/mcp; sets URL_<NAME>, AGENT_<NAME>
    local name="$1" bin="$2" dir="$WORK/$1" port
    mkdir -p "$dir"; port="$(free_port)"
    (cd "$dir" && MANDATE_UPSTREAM_HTTP=1 exec "$bin" serve --listen "127.0.0.1:$port" --db "$dir/m.db") > "$dir/server.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
    local scim admin
    scim="$(grep -o 'mdt_scim_[A-Za-z0-9_-]*' "$dir/server.log" | head -1)"
    admin="$("$bin" token create --kind admin --name bench --db "$dir/m.db" 2>/dev/null)"
    node "$REPO/bench/mcp/setup.mjs" "http://127.0.0.1:$port" "$scim" "$admin" "bench=http://127.0.0.1:$UPPORT" > "$dir/setup.json"
    printf -v "URL_$name" '%s' "http://127.0.0.1:$port/mcp"
    printf -v "AGENT_$name" '%s' "$("$bin" token create --kind agent --user bench@example.com --db "$dir/m.db" 2>/dev/null)"
}
start base "$BASE_BIN"
start audited "$MANDATE_BIN"

printf '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"bench__echo","arguments":{"message":"hello world"}}}' > "$WORK/call.json"
export WRK_BASE_LUA="$PEERS/lib/wrk_req.lua"
run() { # run OUT URL TOKEN DURATION
    WRK_TOKEN="$3" WRK_METHOD=POST WRK_BODY_FILE="$WORK/call.json" WRK_CONTENT_TYPE=application/json \
    WRK_ACCEPT="application/json, text/event-stream" WRK_HEADERS="MCP-Protocol-Version: $PV" \
        wrk -t1 -c1 -d"$4" --latency -s "$REPO/bench/mcp/wrk_lat.lua" "$2" > "$1" 2>&1
}
p50() { grep -o 'p50_us=[0-9]*' "$1" | cut -d= -f2; }
run "$RES/warmup_base.txt" "$URL_base" "$AGENT_base" 3s
run "$RES/warmup_audited.txt" "$URL_audited" "$AGENT_audited" 3s
grep -q '"isError":false' <(curl -s -H "Authorization: Bearer $AGENT_audited" -H "Content-Type: application/json" \
    -H "MCP-Protocol-Version: $PV" -H "Accept: application/json" --data-binary @"$WORK/call.json" "$URL_audited") ||
    { echo "tools/call through the audited build failed" >&2; exit 1; }
deltas=()
for r in $(seq "$ROUNDS"); do
    run "$RES/base_$r.txt" "$URL_base" "$AGENT_base" "$LAT_DUR"
    run "$RES/audited_$r.txt" "$URL_audited" "$AGENT_audited" "$LAT_DUR"
    b="$(p50 "$RES/base_$r.txt")"; a="$(p50 "$RES/audited_$r.txt")"
    deltas+=($((a - b)))
    echo "round $r: base p50 ${b} us, audited p50 ${a} us, delta $((a - b)) us" | tee -a "$RES/summary.txt"
done
events="$(curl -s -H "Authorization: Bearer $("$MANDATE_BIN" token create --kind admin --name count --db "$WORK/audited/m.db" 2>/dev/null)" \
    "${URL_audited%/mcp}/api/v1/audit/status")"
median="$(printf '%s\n' "${deltas[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
quart="$(printf '%s\n' "${deltas[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+3)/4)] " to " a[int((3*NR+3)/4)]}')"
{
    echo "median delta of p50 over $ROUNDS rounds: ${median} us (target: under 20 us); middle half of the rounds: ${quart} us"
    echo "audited server's writer after the run: $events"
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a "$RES/summary.txt"
