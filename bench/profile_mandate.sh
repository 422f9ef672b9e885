#!/usr/bin/env bash
# Where mandate's time goes on the benchmark's read requests. Not a benchmark: every tool here
# slows the server down; only the shares and the per-request counts mean something.
#
#   bench/profile_mandate.sh [OUTDIR]     env: N_USERS=10000, REQS=2000 (per request kind, callgrind),
#                                         STEPS="curl perf strace callgrind" (any subset)
#
# 1. provisions N_USERS users into a temporary database with a normal mandate (shared client);
# 2. per request kind (lookup = filter userName eq, byid = GET /Users/{id}, page = count=100):
#    - curl -w timings of 20 sequential requests on an idle server (time_total, ms);
#    - strace -c -f of the server during `wrk -t1 -c4 -d3s` (syscalls per request);
#    - perf record -e cpu-clock -g on the server during `wrk -t2 -c32 -d5s` (when perf works);
#    - valgrind --tool=callgrind of the server answering REQS requests on one connection
#      (callgrind_annotate --inclusive=yes top functions);
# 3. EXPLAIN QUERY PLAN of the SQL those requests run, with the sqlite3 CLI.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="$(cd "${MANDATE_SHARED:-$REPO/../shared}" && pwd)/bench"
BIN="${MANDATE_BIN:-$REPO/build/mandate}"
N_USERS="${N_USERS:-10000}"; REQS="${REQS:-2000}"; STEPS="${STEPS:-curl perf strace callgrind}"
has() { [[ " $STEPS " == *" $1 "* ]]; }
OUT="${1:-$REPO/bench/results/profile-$(date -u +%Y%m%dT%H%M%SZ)}"; mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
TMPD="$(mktemp -d /tmp/mandate_prof.XXXXXX)"; DB="$TMPD/mandate.db"
SP=""
stop() { # SIGTERM to mandate itself (the wrapper's child when wrapped), then wait for SP
  local t="$SP" ch
  [[ -n "$SP" ]] || return 0
  ch="$(pgrep -P "$SP" -f 'mandate serve' | head -1 || true)"; [[ -n "$ch" ]] && t="$ch"
  kill -TERM "$t" 2>/dev/null || true; wait "$SP" 2>/dev/null || true; SP=""; }
trap 'stop; rm -rf "$TMPD"' EXIT
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_up() { for _ in $(seq 600); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0; sleep 0.1; done; return 1; }
start() { # start [wrapper...]: mandate serve on $PORT, pid in SP (the wrapper's pid when wrapped)
  "$@" "$BIN" serve --listen "127.0.0.1:$PORT" --db "$DB" 2>>"$OUT/server.log" >/dev/null &
  SP=$!; wait_up
}

TOKEN="$("$BIN" token create --kind scim --name prof --db "$DB")"
PORT="$(free_port)"; BASE="http://127.0.0.1:$PORT/scim/v2"
start
node "$SHARED/lib/scim_client.mjs" provision "$BASE" "$TOKEN" "$N_USERS" "$OUT/ids.txt" > "$OUT/provision.txt"
UID5="$(sed -n "$(( N_USERS / 2 ))p" "$OUT/ids.txt")"
LOOKUP="/Users?filter=$(node -e 'console.log(encodeURIComponent(`userName eq "user${process.argv[1]}@example.com"`))' $(( N_USERS / 2 )))"
declare -A PATHS=([lookup]="$LOOKUP" [byid]="/Users/$UID5" [page]="/Users?startIndex=1&count=100")
KINDS=(lookup byid page)

# curl timings on an idle server
has curl && for k in "${KINDS[@]}"; do
  for _ in $(seq 20); do
    curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" -w '%{time_starttransfer} %{time_total}\n' "$BASE${PATHS[$k]}"
  done | sort -k2 -g | awk -v k="$k" '{a[NR]=$2*1000} END{n=NR; printf "curl %s: n=%d min_ms=%.3f median_ms=%.3f max_ms=%.3f\n", k, n, a[1], a[int((n+1)/2)], a[n]}' | tee -a "$OUT/summary.txt"
done

# perf (cpu-clock, call graphs) under the benchmark's own wrk settings
if ! has perf; then :
elif command -v perf >/dev/null && perf record -e cpu-clock -o /dev/null -- true >/dev/null 2>&1; then
  for k in "${KINDS[@]}"; do
    perf record -e cpu-clock -F 2000 -g -p "$SP" -o "$OUT/perf_$k.data" -- sleep 5 > /dev/null 2>&1 &
    PP=$!
    WRK_TOKEN="$TOKEN" wrk -t2 -c32 -d5s --latency -s "$SHARED/lib/wrk_req.lua" "$BASE${PATHS[$k]}" | grep '^WRKRESULT' | sed "s/^/perf wrk $k: /" | tee -a "$OUT/summary.txt"
    wait "$PP" || true
    perf report -i "$OUT/perf_$k.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep '%' | head -12 > "$OUT/perf_${k}_dso.txt" || true
    perf report -i "$OUT/perf_$k.data" --no-children --sort dso,symbol --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | grep '%' | head -40 > "$OUT/perf_${k}_self.txt" || true
    perf report -i "$OUT/perf_$k.data" --children --sort symbol --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | grep '%' | head -60 > "$OUT/perf_${k}_children.txt" || true
  done
else
  echo "perf: not usable here" | tee -a "$OUT/summary.txt"
fi
stop

# strace -c: syscalls per request
has strace && for k in "${KINDS[@]}"; do
  start strace -c -f -o "$OUT/strace_$k.txt"
  WRK_TOKEN="$TOKEN" wrk -t1 -c4 -d3s -s "$SHARED/lib/wrk_req.lua" "$BASE${PATHS[$k]}" | grep '^WRKRESULT' | sed "s/^/strace wrk $k: /" | tee -a "$OUT/summary.txt"
  stop
done

# callgrind: REQS sequential requests on one keep-alive connection
has callgrind && for k in "${KINDS[@]}"; do
  n=$REQS; [[ $k == page ]] && n=$(( REQS / 10 ))
  start valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind_$k.out"
  node -e '
    const http=require("http"); const [base,tok,path,n]=process.argv.slice(1); const u=new URL(base);
    const agent=new http.Agent({keepAlive:true,maxSockets:1});
    (async()=>{ for(let i=0;i<+n;i++) await new Promise((res,rej)=>{ http.get({host:u.hostname,port:u.port,path:u.pathname+path,agent,headers:{Authorization:"Bearer "+tok}},r=>{r.resume();r.on("end",res)}).on("error",rej)}); agent.destroy(); })();
  ' "$BASE" "$TOKEN" "${PATHS[$k]}" "$n"
  stop
  echo "callgrind $k: $n requests" >> "$OUT/summary.txt"
  callgrind_annotate --inclusive=yes "$OUT/callgrind_$k.out" 2>/dev/null | head -70 > "$OUT/callgrind_${k}_inclusive.txt" || true
  callgrind_annotate "$OUT/callgrind_$k.out" 2>/dev/null | head -50 > "$OUT/callgrind_${k}_self.txt" || true
done

# query plans
{
  echo "## lookup: count + page"
  sqlite3 "$DB" "EXPLAIN QUERY PLAN SELECT count(*) FROM users AS r WHERE r.user_name_lc = lower('user5000@example.com')"
  echo "## page of 100: count"
  sqlite3 "$DB" "EXPLAIN QUERY PLAN SELECT count(*) FROM users AS r WHERE 1"
  echo "## page of 100: rows"
  sqlite3 "$DB" "EXPLAIN QUERY PLAN SELECT r.id FROM users AS r WHERE 1 ORDER BY r.created_ms, r.id LIMIT 100 OFFSET 0"
} > "$OUT/query_plans.txt" 2>&1 || true
echo "profile in $OUT"
