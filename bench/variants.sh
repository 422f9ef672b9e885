#!/usr/bin/env bash
# What-if checks for the profile's findings, without touching the source: the same requests
# under wrk (same settings as scim_bench.sh, shorter), back to back on one server, varying
#   - excludedAttributes=groups: skips the per-user recursive member_groups query (scim_render);
#   - GLIBC_TUNABLES=glibc.malloc.trim_threshold=...: stops glibc from giving freed arena memory
#     back with madvise after each request (TLB-shootdown IPIs, page faults on the next request).
#
#   bench/variants.sh [OUTDIR]     env: N_USERS=10000 DUR=5s THREADS=2 CONNS=32 ROUNDS=2
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="$(cd "${MANDATE_SHARED:-$REPO/../shared}" && pwd)/bench"
N_USERS="${N_USERS:-10000}"; DUR="${DUR:-5s}"; THREADS="${THREADS:-2}"; CONNS="${CONNS:-32}"; ROUNDS="${ROUNDS:-2}"
OUT="${1:-$REPO/bench/results/variants-$(date -u +%Y%m%dT%H%M%SZ)}"; mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
TMPD="$(mktemp -d /tmp/mandate_var.XXXXXX)"; DB="$TMPD/mandate.db"
cp "${MANDATE_BIN:-$REPO/build/mandate}" "$TMPD/mandate"; BIN="$TMPD/mandate"
SP=""
stop() { if [[ -n "$SP" ]]; then kill -TERM "$SP" 2>/dev/null || true; wait "$SP" 2>/dev/null || true; SP=""; fi; }
trap 'stop; rm -rf "$TMPD"' EXIT
PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
BASE="http://127.0.0.1:$PORT/scim/v2"
start() { # start [env assignments...]
  env "$@" "$BIN" serve --listen "127.0.0.1:$PORT" --db "$DB" 2>/dev/null &
  SP=$!
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0; sleep 0.1; done; return 1
}
TOKEN="$("$BIN" token create --kind scim --name var --db "$DB")"
start
node "$SHARED/lib/scim_client.mjs" provision "$BASE" "$TOKEN" "$N_USERS" "$OUT/ids.txt" > "$OUT/provision.txt"
stop
F="$(node -e 'console.log(encodeURIComponent(`userName eq "user${process.argv[1]}@example.com"`))' $(( N_USERS / 2 )))"
declare -A P=([lookup]="/Users?filter=$F" [lookup_nogroups]="/Users?filter=$F&excludedAttributes=groups"
              [page]="/Users?startIndex=1&count=100" [page_nogroups]="/Users?startIndex=1&count=100&excludedAttributes=groups")
echo "# variants users=$N_USERS wrk=-t$THREADS -c$CONNS -d$DUR loadavg=$(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/summary.txt"
for round in $(seq "$ROUNDS"); do
  for malloc in default trim64m; do
    if [[ $malloc == default ]]; then start; else start GLIBC_TUNABLES=glibc.malloc.trim_threshold=67108864; fi
    for k in lookup lookup_nogroups page page_nogroups; do
      r="$(WRK_TOKEN="$TOKEN" wrk -t"$THREADS" -c"$CONNS" -d"$DUR" --timeout 10s --latency -s "$SHARED/lib/wrk_req.lua" "$BASE${P[$k]}" | grep '^WRKRESULT' | sed 's/^WRKRESULT //')"
      echo "round=$round malloc=$malloc $k: $r" | tee -a "$OUT/summary.txt"
    done
    stop
  done
done
