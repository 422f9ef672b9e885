#!/usr/bin/env bash
# The MCP gateway benchmarks of issue 5, mandate beside the MCP peer of ../shared/bench (the
# official TypeScript SDK, stateless Streamable HTTP, one echo tool), in one run on one machine:
#
#   1. ceiling   nginx answering GET /echo?message=... with `return 200 '{"echo":"..."}'`
#                (keep-alive, 2 workers): wrk -t2 -c32 -d10s on it directly, twice.
#   2. latency   concurrency 1 (wrk -t1 -c1, one keep-alive connection, sequential requests),
#                LAT_DUR each, interleaved: upstream directly, mandate tools/call, upstream,
#                mandate; then the peer once. Overhead = mandate p50 - upstream p50.
#   3. load      ../shared/bench/mcp_bench.sh (wrk -t2 -c32 -d10s tools/call), interleaved
#                mandate, peer, mandate, peer, each after a 3 s warm-up; CPU seconds of the
#                server, of the upstream and of the whole machine around every run (/proc).
#   4. in flight an upstream holding every request HOLD_MS (slow_upstream.mjs); CONNS sockets
#                x ROUNDS sequential tools/call each (inflight.mjs checks every answer), then
#                wrk -t2 -c1000 -d10s --timeout 10s; mandate's threads, descriptors, VmRSS and
#                VmHWM every 0.25 s before, during and after.
#   5. profile   (PROFILE=1) perf record -g of mandate under wrk -t2 -c32 -d5s and during
#                CONNS x 3 calls in flight on the slow upstream, strace -c of
#                every mandate thread under wrk -t1 -c1 -d3s (syscalls per call), callgrind of
#                mandate under wrk -t1 -c1 (instructions per call, inclusive by function).
#
# mandate runs from a copy of the binary on a fresh SQLite database; everything it needs is
# provisioned through its APIs (setup.mjs: a SCIM user and group, two connectors with one read
# tool each, credentials, grants to the group) and `mandate token create` (admin, agent).
#
#   bench/mcp/run.sh [RESULTS_DIR]          (default bench/results/mcp-<UTC time>; ~5 minutes)
#   env: PEERS=/tmp/bench   a writable copy of ../shared/bench with `npm ci` done in mcp/
#        MANDATE_BIN        a built binary; default: `make WERROR=1 build/mandate`, then build/mandate
#        BIN_NOTE           a sentence about that binary, copied into env.txt (e.g. how it was built)
#        DUR=10s LAT_DUR=10s CONNS=1000 ROUNDS=5 HOLD_MS=2000 PROFILE=1 CALLGRIND_DUR=10s
#        QUIET_WAIT=SECS    first wait up to SECS for the 1-minute load to fall below QUIET_LOAD (0.5)
#        PIN_SERVER=CPUS PIN_CLIENT=CPUS PIN_UPSTREAM=CPUS   taskset CPU lists (default: no pinning)
# -> RESULTS_DIR: summary.txt (every figure, from report.mjs), env.txt, the raw wrk outputs, the
#    samples of every step, an excerpt of mandate's log (layout in bench/README.md, "MCP gateway
#    (issue 5)").
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PEERS="${PEERS:-/tmp/bench}"
DUR="${DUR:-10s}"; LAT_DUR="${LAT_DUR:-10s}"; CONNS="${CONNS:-1000}"; ROUNDS="${ROUNDS:-5}"
HOLD_MS="${HOLD_MS:-2000}"; PROFILE="${PROFILE:-1}"; CALLGRIND_DUR="${CALLGRIND_DUR:-10s}"
QUIET_LOAD="${QUIET_LOAD:-0.5}"
PV="2025-06-18"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then sed -n 2,35p "$0"; exit 0; fi
[[ -d "$PEERS/mcp/node_modules" && -x "$PEERS/mcp_bench.sh" ]] || {
    echo "copy ../shared/bench to $PEERS and run npm ci in $PEERS/mcp first:" >&2
    echo "  cp -r ../shared/bench /tmp/bench && (cd /tmp/bench/mcp && npm ci)" >&2; exit 2; }
for t in wrk node curl nginx taskset; do
    command -v "$t" >/dev/null || { echo "$t is required" >&2; exit 2; }
done
# The in-flight step holds 1,000 client sockets plus mandate's 1,000 upstream sockets.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

RES="${1:-$REPO/bench/results/mcp-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$RES"; RES="$(cd "$RES" && pwd)"
mkdir -p "$RES"/{upstream,latency,load,inflight,profile}
LOG="$RES/run.log"
log() { echo "[$(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)] $*" | tee -a "$LOG"; }

# --- the binary, pinned for the whole run --------------------------------------------------------
if [[ -z "${MANDATE_BIN:-}" ]]; then
    (cd "$REPO" && make --no-print-directory WERROR=1 build/mandate) > "$RES/build.txt" 2>&1 ||
        { cat "$RES/build.txt" >&2; exit 1; }
    MANDATE_BIN="$REPO/build/mandate"
fi
WORK="$(mktemp -d /tmp/mandate_mcp_bench.XXXXXX)"; chmod 755 "$WORK"
cp "$MANDATE_BIN" "$WORK/mandate"; BIN="$WORK/mandate"

# Command prefixes (word-split on purpose): empty, or taskset, which execs the command, so that
# $! of a background start is the process itself.
SRV_PRE=""; CLI_PRE=""; UP_PRE=""
[[ -n "${PIN_SERVER:-}" ]] && SRV_PRE="taskset -c $PIN_SERVER"
[[ -n "${PIN_CLIENT:-}" ]] && CLI_PRE="taskset -c $PIN_CLIENT"
[[ -n "${PIN_UPSTREAM:-}" ]] && UP_PRE="taskset -c $PIN_UPSTREAM"

NGX=""; MP=""; PP=""; SLOW=""; SAMPLER=""; PERFP=""
stop_mandate() { # stop_mandate LABEL: SIGTERM; records how long mandate took to exit, and how
    local t0 rc=0
    [[ -n "$MP" ]] || return 0
    t0=$(date +%s.%N)
    kill -TERM "$MP" 2>/dev/null || true
    wait "$MP" 2>/dev/null || rc=$?
    echo "$1: exit status $rc after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s" \
        >> "$RES/mandate_shutdown.txt"
    MP=""
}
log_excerpt() { # log_excerpt LOG OUT: counts of statuses, outcomes and levels, first and last lines
    # (the whole log is ~10 MB per run); tokens printed at first start are masked.
    {
        echo "lines: $(wc -l < "$1")"
        echo "HTTP statuses:"; grep -o ' status=[0-9]*' "$1" | sort | uniq -c || true
        echo "tools/call outcomes:"; grep -o ' outcome=[a-z_]*' "$1" | sort | uniq -c || true
        echo "levels:"; grep -o ' level=[a-z]*' "$1" | sort | uniq -c || true
        echo "--- first 30 lines"; head -n 30 "$1"
        echo "--- last 30 lines"; tail -n 30 "$1"
    } | sed 's/mdt_[a-z]*_[A-Za-z0-9_-]*/mdt_(masked)/g' > "$2"
}
stop_pid() { # stop_pid PID: SIGTERM, then wait for it
    [[ -n "$1" ]] || return 0
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() {
    [[ -n "$SAMPLER" ]] && { kill "$SAMPLER" 2>/dev/null || true; }
    [[ -n "$PERFP" ]] && { kill -INT "$PERFP" 2>/dev/null || true; }
    stop_pid "$MP"; stop_pid "$PP"; stop_pid "$SLOW"; stop_pid "$NGX"
    MP=""; PP=""; SLOW=""; NGX=""; SAMPLER=""
    [[ -s "$WORK/server.log" && ! -e "$RES/server_log.txt" ]] && log_excerpt "$WORK/server.log" "$RES/server_log.txt"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
wait_http() { # wait_http URL PID: until URL answers at all (any status), while PID lives
    for _ in $(seq 100); do
        curl -s -o /dev/null "$1" && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# --- /proc accounting ----------------------------------------------------------------------------
HZ="$(getconf CLK_TCK)"
cpu_ticks() { # user + system ticks of a process (all its threads)
    [[ -n "$1" && -r /proc/$1/stat ]] || { echo 0; return; }
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
children_ticks() { # of a process and its live children (nginx: the master and its workers)
    [[ -n "$1" ]] || { echo 0; return; }
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v p="$1" '
        { pid = $1; sub(/^.*\) /, ""); if (pid == p || $2 == p) t += $12 + $13 } END { print t + 0 }'
}
machine_ticks() { # busy ticks of all CPUs (everything but idle and iowait)
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}
snap() { # snap SERVER_PID UPSTREAM_PID: "time server_ticks upstream_ticks machine_ticks"
    echo "$(date +%s.%N) $(cpu_ticks "$1") $(children_ticks "$2") $(machine_ticks)"
}
cpu_line() { # cpu_line "SNAP_BEFORE" "SNAP_AFTER" -> key=value seconds and cores
    echo "$1 $2" | awk -v hz="$HZ" '{ w = $5 - $1; s = ($6 - $2) / hz; u = ($7 - $3) / hz; m = ($8 - $4) / hz
        printf "wall_s=%.2f server_cpu_s=%.2f upstream_cpu_s=%.2f machine_busy_s=%.2f server_cores=%.2f upstream_cores=%.2f machine_cores=%.2f\n",
               w, s, u, m, s / w, u / w, m / w }'
}
mem_line() { # threads, descriptors, VmRSS and VmHWM (kB) of a process
    [[ -r /proc/$1/status ]] || { echo "gone"; return; }
    echo "threads=$(ls "/proc/$1/task" | wc -l) fds=$(ls "/proc/$1/fd" | wc -l)" \
         "$(awk '/^VmRSS/ { r = $2 } /^VmHWM/ { h = $2 } END { printf "VmRSS_kB=%d VmHWM_kB=%d", r, h }' "/proc/$1/status")"
}
start_sampler() { # start_sampler PID FILE: every 0.25 s, the phase (from $RES/.phase) and mem_line
    (
        set +e +o pipefail
        printf 't_s\tphase\tthreads\tfds\tVmRSS_kB\tVmHWM_kB\tcpu_s\n'
        t0=$(date +%s.%N)
        while [[ -r /proc/$1/status ]]; do
            ph=$(cat "$RES/.phase" 2>/dev/null)
            th=$(ls "/proc/$1/task" 2>/dev/null | wc -l); fd=$(ls "/proc/$1/fd" 2>/dev/null | wc -l)
            awk -v t0="$t0" -v now="$(date +%s.%N)" -v ph="$ph" -v th="$th" -v fd="$fd" \
                -v c="$(cpu_ticks "$1")" -v hz="$HZ" \
                '/^VmRSS/ { r = $2 } /^VmHWM/ { h = $2 }
                 END { printf "%.2f\t%s\t%d\t%d\t%d\t%d\t%.2f\n", now - t0, ph, th, fd, r, h, c / hz }' \
                "/proc/$1/status" 2>/dev/null || break
            sleep 0.25
        done
    ) > "$2" &
    SAMPLER=$!
}
stop_sampler() { [[ -n "$SAMPLER" ]] && { kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; }; SAMPLER=""; }
phase() { # phase NAME: checks that mandate still runs, then tags the samples and the log with NAME
    alive
    echo "$1" > "$RES/.phase"; log "$1"
}
alive() { # a crash ends the run here, with what was measured so far and how mandate ended
    local rc=0
    [[ -z "$MP" ]] || kill -0 "$MP" 2>/dev/null && return 0
    wait "$MP" 2>/dev/null || rc=$?
    MP=""
    echo "mandate died during \"$(cat "$RES/.phase" 2>/dev/null)\": exit status $rc" | tee -a "$LOG" >> "$RES/mandate_shutdown.txt"
    tail -n 5 "$WORK/server.log" | sed 's/^/    /' >> "$RES/mandate_shutdown.txt"
    log_excerpt "$WORK/server.log" "$RES/server_log.txt"
    stop_sampler
    node "$HERE/report.mjs" "$RES" > "$RES/summary.txt" 2>&1 || true
    exit 1
}

load1() { cut -d' ' -f1 /proc/loadavg; }
is_quiet() { awk -v l="$(load1)" -v q="$QUIET_LOAD" 'BEGIN { exit !(l < q) }'; }
busiest() { top -b -n 2 -d 1 -o %CPU -w 140 | awk '/^top -/ { f++ } f == 2' | sed -n '7,12p' | sed 's/^/    /'; }

if [[ -n "${QUIET_WAIT:-}" ]]; then
    deadline=$(( $(date +%s) + QUIET_WAIT ))
    until is_quiet || (( $(date +%s) >= deadline )); do sleep 10; done
fi

# wrk with the shared request script plus microsecond percentiles (wrk_lat.lua)
export WRK_BASE_LUA="$PEERS/lib/wrk_req.lua"
wrk_get() { # wrk_get OUT URL wrk-options...
    local out="$1" url="$2"; shift 2
    WRK_TOKEN=x $CLI_PRE wrk "$@" --latency -s "$HERE/wrk_lat.lua" "$url" > "$out" 2>&1 || log "  wrk failed: $out"
}
wrk_call() { # wrk_call OUT URL TOKEN TOOL wrk-options...: POST tools/call
    local out="$1" url="$2" tok="$3" tool="$4"; shift 4
    printf '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"%s","arguments":{"message":"hello world"}}}' \
        "$tool" > "$WORK/call_$tool.json"
    WRK_TOKEN="$tok" WRK_METHOD=POST WRK_BODY_FILE="$WORK/call_$tool.json" WRK_CONTENT_TYPE=application/json \
    WRK_ACCEPT="application/json, text/event-stream" WRK_HEADERS="MCP-Protocol-Version: $PV" \
        $CLI_PRE wrk "$@" --latency -s "$HERE/wrk_lat.lua" "$url" > "$out" 2>&1 || log "  wrk failed: $out"
}
result() { grep -h '^WRKRESULT\|^WRKLAT' "$1" | sed 's/^WRK[A-Z]* //' | tr '\n' ' '; }

# --- the record of the run -----------------------------------------------------------------------
{
    echo "command: bench/mcp/run.sh $*"
    echo "env: DUR=$DUR LAT_DUR=$LAT_DUR CONNS=$CONNS ROUNDS=$ROUNDS HOLD_MS=$HOLD_MS PROFILE=$PROFILE" \
         "PIN_SERVER=${PIN_SERVER:-} PIN_CLIENT=${PIN_CLIENT:-} PIN_UPSTREAM=${PIN_UPSTREAM:-} PEERS=$PEERS"
    echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "git: HEAD $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), uncommitted files under src/:" \
         "$(git -C "$REPO" status --porcelain -- src Makefile 2>/dev/null | wc -l)"
    [[ -n "${BIN_NOTE:-}" ]] && echo "binary note: $BIN_NOTE"
    echo "mandate: $MANDATE_BIN built $(date -u -r "$MANDATE_BIN" +%Y-%m-%dT%H:%M:%SZ)," \
         "sha256 $(sha256sum "$BIN" | cut -c1-16), $("$BIN" version 2>/dev/null || echo '?')"
    echo "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
         "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -sr)"
    echo "tools: node $(node --version), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)," \
         "$(nginx -v 2>&1), libcurl $(curl --version | head -1 | cut -d' ' -f2)," \
         "SDK $(node -p "require('$PEERS/mcp/node_modules/@modelcontextprotocol/sdk/package.json').version")," \
         "ulimit -n $(ulimit -n)"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)$(is_quiet || echo "  (BUSY: 1-minute load not below $QUIET_LOAD)")"
    echo "busiest processes before (top, over 1 s):"
    busiest
} > "$RES/env.txt"
cat "$RES/env.txt" | tee -a "$LOG"

# --- upstreams -----------------------------------------------------------------------------------
UPPORT="$(free_port)"
cat > "$WORK/nginx.conf" <<CONF
worker_processes 2; pid $WORK/nginx.pid; error_log $WORK/nginx_error.log; daemon off;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 1000000; keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$UPPORT backlog=4096;
    location = /echo { default_type application/json; return 200 '{"echo":"\$arg_message"}'; }
  }
}
CONF
cp "$WORK/nginx.conf" "$RES/upstream/nginx.conf"
$UP_PRE nginx -c "$WORK/nginx.conf" -p "$WORK" > "$RES/upstream/nginx.out" 2>&1 &
NGX=$!
UPURL="http://127.0.0.1:$UPPORT/echo?message=hello%20world"
wait_http "$UPURL" "$NGX" || { echo "nginx did not start" >&2; cat "$RES/upstream/nginx.out" >&2; exit 1; }
curl -s -i "$UPURL" > "$RES/upstream/check.txt"

SLOWPORT="$(free_port)"
PORT="$SLOWPORT" HOLD_MS="$HOLD_MS" $UP_PRE node "$HERE/slow_upstream.mjs" > "$RES/inflight/slow_upstream.log" 2>&1 &
SLOW=$!
wait_http "http://127.0.0.1:$SLOWPORT/stats" "$SLOW" || { echo "slow upstream did not start" >&2; exit 1; }

# --- mandate, fresh ------------------------------------------------------------------------------
DB="$WORK/m.db"; MPORT="$(free_port)"; MBASE="http://127.0.0.1:$MPORT"
MANDATE_UPSTREAM_HTTP=1 $SRV_PRE "$BIN" serve --listen "127.0.0.1:$MPORT" --db "$DB" > "$WORK/server.log" 2>&1 &
MP=$!
for _ in $(seq 100); do curl -fs -o /dev/null "$MBASE/healthz" && break; kill -0 "$MP" 2>/dev/null || break; sleep 0.1; done
curl -fs -o /dev/null "$MBASE/healthz" || { echo "mandate did not start:" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }
SCIM_TOKEN="$(grep -o 'mdt_scim_[A-Za-z0-9_-]*' "$WORK/server.log" | head -1)"
[[ -n "$SCIM_TOKEN" ]] || { echo "no SCIM token printed at first start" >&2; exit 1; }
ADMIN_TOKEN="$("$BIN" token create --kind admin --name bench --db "$DB")"
node "$HERE/setup.mjs" "$MBASE" "$SCIM_TOKEN" "$ADMIN_TOKEN" "bench=http://127.0.0.1:$UPPORT" \
    "slow=http://127.0.0.1:$SLOWPORT" > "$RES/setup.json"
AGENT="$("$BIN" token create --kind agent --user bench@example.com --db "$DB")"
curl -s -H "Authorization: Bearer $AGENT" -H "Content-Type: application/json" -H "MCP-Protocol-Version: $PV" \
    -H "Accept: application/json, text/event-stream" \
    --data-binary '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"bench__echo","arguments":{"message":"hello world"}}}' \
    "$MBASE/mcp" > "$RES/load/mandate_check.json"
grep -q '"isError":false' "$RES/load/mandate_check.json" || { echo "tools/call through mandate failed:" >&2; cat "$RES/load/mandate_check.json" >&2; exit 1; }
echo "mandate: pid $MP port $MPORT, idle: $(mem_line "$MP")" | tee -a "$LOG" > "$RES/mandate_idle.txt"
start_sampler "$MP" "$RES/mandate_samples.tsv"

# --- the peer (as run_mcp.sh starts it), with a bearer token so both get the same request -------
PPORT="$(free_port)"; PTOKEN="peer-bench-token"
(cd "$PEERS/mcp" && PORT=$PPORT MCP_TOKEN=$PTOKEN exec $SRV_PRE node server.mjs) > "$RES/load/peer_server.log" 2>&1 &
PP=$!
wait_http "http://127.0.0.1:$PPORT/mcp" "$PP" || { echo "the peer did not start" >&2; exit 1; }
PURL="http://127.0.0.1:$PPORT/mcp"

# --- 1. the ceiling: nginx directly ----------------------------------------------------------------
for r in 1 2; do
    phase "1 ceiling run $r"
    b=$(snap "" "$NGX"); wrk_get "$RES/upstream/ceiling_$r.txt" "$UPURL" -t2 -c32 -d"$DUR"; a=$(snap "" "$NGX")
    cpu_line "$b" "$a" > "$RES/upstream/ceiling_${r}_cpu.txt"
    log "  $(result "$RES/upstream/ceiling_$r.txt")"
done

# --- 2. concurrency 1: upstream directly vs tools/call through mandate ---------------------------
phase "2 latency warm-up"
wrk_call "$RES/latency/warmup_mandate.txt" "$MBASE/mcp" "$AGENT" bench__echo -t1 -c1 -d3s
for r in 1 2; do
    phase "2 latency upstream $r"
    b=$(snap "$MP" "$NGX"); wrk_get "$RES/latency/upstream_c1_$r.txt" "$UPURL" -t1 -c1 -d"$LAT_DUR"; a=$(snap "$MP" "$NGX")
    cpu_line "$b" "$a" > "$RES/latency/upstream_c1_${r}_cpu.txt"
    log "  $(result "$RES/latency/upstream_c1_$r.txt")"
    phase "2 latency mandate $r"
    b=$(snap "$MP" "$NGX"); wrk_call "$RES/latency/mandate_c1_$r.txt" "$MBASE/mcp" "$AGENT" bench__echo -t1 -c1 -d"$LAT_DUR"; a=$(snap "$MP" "$NGX")
    cpu_line "$b" "$a" > "$RES/latency/mandate_c1_${r}_cpu.txt"
    log "  $(result "$RES/latency/mandate_c1_$r.txt")"
done
phase "2 latency peer"
wrk_call "$RES/latency/warmup_peer.txt" "$PURL" "$PTOKEN" echo -t1 -c1 -d3s
b=$(snap "$PP" ""); wrk_call "$RES/latency/peer_c1_1.txt" "$PURL" "$PTOKEN" echo -t1 -c1 -d"$LAT_DUR"; a=$(snap "$PP" "")
cpu_line "$b" "$a" > "$RES/latency/peer_c1_1_cpu.txt"
log "  $(result "$RES/latency/peer_c1_1.txt")"

# --- 3. throughput with the shared script: mandate, peer, mandate, peer --------------------------
phase "3 load warm-up"
wrk_call "$RES/load/warmup_mandate.txt" "$MBASE/mcp" "$AGENT" bench__echo -t2 -c32 -d3s
wrk_call "$RES/load/warmup_peer.txt" "$PURL" "$PTOKEN" echo -t2 -c32 -d3s
for r in 1 2; do
    phase "3 load mandate $r"
    b=$(snap "$MP" "$NGX")
    OUTDIR="$RES/load/mandate_$r" RUNS=1 DUR="$DUR" THREADS=2 CONNS=32 MCP_TOOL=bench__echo \
        MCP_PROTOCOL_VERSION="$PV" $CLI_PRE "$PEERS/mcp_bench.sh" "$MBASE/mcp" "$AGENT" "$MP" >> "$LOG" 2>&1 ||
        log "  mcp_bench.sh failed"
    a=$(snap "$MP" "$NGX")
    echo "$(cpu_line "$b" "$a") $(mem_line "$MP")" > "$RES/load/mandate_${r}_cpu.txt"
    log "  $(cat "$RES/load/mandate_${r}_cpu.txt")"
    phase "3 load peer $r"
    b=$(snap "$PP" "")
    OUTDIR="$RES/load/peer_$r" RUNS=1 DUR="$DUR" THREADS=2 CONNS=32 MCP_TOOL=echo \
        MCP_PROTOCOL_VERSION="$PV" $CLI_PRE "$PEERS/mcp_bench.sh" "$PURL" "$PTOKEN" "$PP" >> "$LOG" 2>&1 ||
        log "  mcp_bench.sh failed"
    a=$(snap "$PP" "")
    echo "$(cpu_line "$b" "$a") $(mem_line "$PP")" > "$RES/load/peer_${r}_cpu.txt"
    log "  $(cat "$RES/load/peer_${r}_cpu.txt")"
done
stop_pid "$PP"; PP=""

# --- 4. 1,000 in flight against a slow upstream ----------------------------------------------------
phase "4 inflight idle"
echo 5 > "/proc/$MP/clear_refs" 2>/dev/null || true   # VmHWM := VmRSS, so the peak is this step's
curl -s "http://127.0.0.1:$SLOWPORT/reset" > /dev/null
sleep 1
echo "before: $(mem_line "$MP")" > "$RES/inflight/mandate_mem.txt"
phase "4 inflight client"
b=$(snap "$MP" "$SLOW")
CONNS="$CONNS" ROUNDS="$ROUNDS" TIMEOUT_MS=30000 $CLI_PRE \
    node "$HERE/inflight.mjs" "$MBASE/mcp" "$AGENT" slow__echo > "$RES/inflight/client.txt" 2>&1 || true
a=$(snap "$MP" "$SLOW")
cpu_line "$b" "$a" > "$RES/inflight/client_cpu.txt"
echo "end of client: $(mem_line "$MP")" >> "$RES/inflight/mandate_mem.txt"
curl -s "http://127.0.0.1:$SLOWPORT/stats" > "$RES/inflight/upstream_stats_client.json"
log "  $(head -1 "$RES/inflight/client.txt") upstream: $(cat "$RES/inflight/upstream_stats_client.json")"
phase "4 inflight after client"
sleep 3
echo "3 s after client: $(mem_line "$MP")" >> "$RES/inflight/mandate_mem.txt"
curl -s "http://127.0.0.1:$SLOWPORT/reset" > /dev/null
phase "4 inflight wrk c1000"
b=$(snap "$MP" "$SLOW")
wrk_call "$RES/inflight/wrk_c1000.txt" "$MBASE/mcp" "$AGENT" slow__echo -t2 -c"$CONNS" -d"$DUR" --timeout 10s
a=$(snap "$MP" "$SLOW")
cpu_line "$b" "$a" > "$RES/inflight/wrk_c1000_cpu.txt"
curl -s "http://127.0.0.1:$SLOWPORT/stats" > "$RES/inflight/upstream_stats_wrk.json"
echo "end of wrk: $(mem_line "$MP")" >> "$RES/inflight/mandate_mem.txt"
log "  $(result "$RES/inflight/wrk_c1000.txt") upstream: $(cat "$RES/inflight/upstream_stats_wrk.json")"
phase "4 inflight after wrk"
sleep 3
echo "3 s after wrk: $(mem_line "$MP")" >> "$RES/inflight/mandate_mem.txt"
phase "idle"
sleep 0.5
stop_sampler

# --- 5. where the time goes (not benchmarks: the tools slow mandate down) --------------------------
if [[ "$PROFILE" == 1 ]]; then
    P="$RES/profile"
    if perf record -e cpu-clock -o /dev/null -- true > /dev/null 2>&1; then
        phase "5 perf c32"
        perf record -e cpu-clock -F 2999 -g -p "$MP" -o "$WORK/perf.data" -- sleep 5 > /dev/null 2>&1 &
        PERFP=$!
        wrk_call "$P/perf_wrk_c32.txt" "$MBASE/mcp" "$AGENT" bench__echo -t2 -c32 -d5s
        wait "$PERFP" || true; PERFP=""
        perf report -i "$WORK/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
            grep '%' | head -15 > "$P/perf_dso.txt" || true
        perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
            grep '%' | head -60 > "$P/perf_self.txt" || true
        perf report -i "$WORK/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
            grep '%' | head -120 > "$P/perf_children.txt" || true
    else
        echo "perf is not usable here" > "$P/perf_dso.txt"
    fi
    if [[ -s "$WORK/perf.data" ]]; then
        # The same at CONNS in flight on the slow upstream: the CPU per call grows with the
        # number of calls in flight; this shows where.
        phase "5 perf inflight"
        perf record -e cpu-clock -F 2999 -g -p "$MP" -o "$WORK/perf_inflight.data" -- sleep 6 > /dev/null 2>&1 &
        PERFP=$!
        b=$(snap "$MP" "$SLOW")
        CONNS="$CONNS" ROUNDS=3 TIMEOUT_MS=30000 $CLI_PRE \
            node "$HERE/inflight.mjs" "$MBASE/mcp" "$AGENT" slow__echo > "$P/perf_inflight_client.txt" 2>&1 || true
        a=$(snap "$MP" "$SLOW")
        wait "$PERFP" || true; PERFP=""
        cpu_line "$b" "$a" > "$P/perf_inflight_cpu.txt"
        perf report -i "$WORK/perf_inflight.data" --no-children --sort dso --stdio -g none 2>/dev/null |
            grep '%' | head -15 > "$P/perf_inflight_dso.txt" || true
        perf report -i "$WORK/perf_inflight.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
            grep '%' | head -60 > "$P/perf_inflight_self.txt" || true
        perf report -i "$WORK/perf_inflight.data" --children --sort symbol --stdio -g none 2>/dev/null |
            grep '%' | head -80 > "$P/perf_inflight_children.txt" || true
    fi
    if command -v strace > /dev/null; then
        phase "5 strace c1"
        tids=(); for t in /proc/"$MP"/task/*; do tids+=(-p "${t##*/}"); done
        strace -c -f -o "$P/strace_c1.txt" "${tids[@]}" 2> /dev/null &
        STP=$!
        sleep 1
        wrk_call "$P/strace_wrk_c1.txt" "$MBASE/mcp" "$AGENT" bench__echo -t1 -c1 -d3s
        kill -INT "$STP" 2>/dev/null || true; wait "$STP" 2>/dev/null || true
    fi
    stop_mandate "after the benchmark (SIGTERM)"
    if command -v valgrind > /dev/null; then
        phase "5 callgrind c1"
        # Instrumentation only while wrk runs: start-up and shutdown stay out of the counts.
        MANDATE_UPSTREAM_HTTP=1 valgrind --tool=callgrind --instr-atstart=no \
            --callgrind-out-file="$WORK/callgrind.out" \
            "$BIN" serve --listen "127.0.0.1:$MPORT" --db "$DB" > "$WORK/callgrind_server.log" 2>&1 &
        MP=$!
        for _ in $(seq 300); do curl -fs -o /dev/null "$MBASE/healthz" && break; sleep 0.1; done
        wrk_call "$P/callgrind_warmup.txt" "$MBASE/mcp" "$AGENT" bench__echo -t1 -c1 -d2s
        callgrind_control -i on "$MP" > /dev/null
        wrk_call "$P/callgrind_wrk_c1.txt" "$MBASE/mcp" "$AGENT" bench__echo -t1 -c1 -d"$CALLGRIND_DUR"
        callgrind_control -i off "$MP" > /dev/null
        stop_mandate "under callgrind (SIGTERM)"
        log_excerpt "$WORK/callgrind_server.log" "$P/callgrind_server_log.txt"
        callgrind_annotate --inclusive=yes "$WORK/callgrind.out" 2>/dev/null | head -150 > "$P/callgrind_inclusive.txt" || true
        callgrind_annotate "$WORK/callgrind.out" 2>/dev/null | head -80 > "$P/callgrind_self.txt" || true
        # who calls the costliest libc functions (memset, malloc, free, vfprintf)
        callgrind_annotate --tree=caller "$WORK/callgrind.out" 2>/dev/null |
            awk 'BEGIN { RS = "" } /\* [^\n]*(memset|_int_malloc|_int_free|malloc_consolidate|snprintf.c:snprintf |malloc.c:calloc )/ { print; print "" }' |
            head -150 > "$P/callgrind_callers.txt" || true
        gzip -c "$WORK/callgrind.out" > "$P/callgrind.out.gz" || true
        grep '^WRKRESULT' "$P/callgrind_wrk_c1.txt" | grep -o 'requests=[0-9]*' | cut -d= -f2 > "$P/callgrind_calls.txt" || true
    fi
fi
phase "done"
rm -f "$RES/.phase"

stop_mandate "after the benchmark (SIGTERM)"
log_excerpt "$WORK/server.log" "$RES/server_log.txt"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RES/env.txt"
node "$HERE/report.mjs" "$RES" | tee "$RES/summary.txt"
echo "results in $RES"
