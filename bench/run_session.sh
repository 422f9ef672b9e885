#!/usr/bin/env bash
# One benchmark session, one server at a time, in this order:
#   1. mandate, N_USERS=10000 N_MEMBERS=5000, two runs            (bench/run_mandate.sh)
#   2. SCIMMY,  N_USERS=10000 N_MEMBERS=${SCIMMY_MEMBERS:-1000}, two runs  (run_scimmy.sh of the copy)
#   3. mandate --large: 100,000 users, 20,000 members, one run     (bench/run_mandate.sh --large)
#   4. nginx static file of the lookup response's size: the machine's ceiling (ceiling_nginx.sh)
# then prints the tables with summarize.mjs.
#
#   bench/run_session.sh [RESULTS_DIR]     env: PEERS=/tmp/bench (a writable copy of ../shared/bench
#                                          with `npm ci` done in scimmy/), SCIMMY_MEMBERS=1000
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS="${PEERS:-/tmp/bench}"
[[ -d "$PEERS/scimmy/node_modules" ]] || { echo "copy ../shared/bench to $PEERS and run npm ci in $PEERS/scimmy first" >&2; exit 2; }
S="${1:-$REPO/bench/results/session-$(date -u +%Y%m%dT%H%M%SZ)}"; mkdir -p "$S"; S="$(cd "$S" && pwd)"
log() { echo "[$(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)] $*" | tee -a "$S/session.log"; }
{ echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "nproc=$(nproc)"; grep -m1 'model name' /proc/cpuinfo;
  echo "mem_total=$(grep MemTotal /proc/meminfo | tr -s ' ')"; uname -sr; node --version; { wrk --version 2>&1 || true; } | head -1; } > "$S/machine.txt"

# One binary for the whole session, even if build/ is rebuilt meanwhile (run_mandate.sh records its sha256).
PIN="$(mktemp -d /tmp/mandate_session_bin.XXXXXX)"; trap 'rm -rf "$PIN"' EXIT
cp "${MANDATE_BIN:-$REPO/build/mandate}" "$PIN/mandate"; export MANDATE_BIN="$PIN/mandate"
echo "mandate_sha256=$(sha256sum "$MANDATE_BIN" | cut -c1-16) git_head=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null) src_changes_uncommitted=$(git -C "$REPO" status --porcelain -- src Makefile 2>/dev/null | wc -l)" >> "$S/machine.txt"

log "1 mandate 10k users / 5k members x2"
N_USERS=10000 N_MEMBERS=5000 RUNS=2 "$REPO/bench/run_mandate.sh" "$S/mandate" > "$S/mandate.out" 2>&1 || log "mandate failed"
log "2 SCIMMY 10k users / ${SCIMMY_MEMBERS:-1000} members x2"
N_USERS=10000 N_MEMBERS="${SCIMMY_MEMBERS:-1000}" "$PEERS/run_scimmy.sh" "$S/scimmy" > "$S/scimmy.out" 2>&1 || log "scimmy failed"
log "3 mandate --large 100k users / 20k members"
"$REPO/bench/run_mandate.sh" --large "$S/mandate-large" > "$S/mandate-large.out" 2>&1 || log "mandate --large failed"
log "4 nginx ceiling"
"$PEERS/ceiling_nginx.sh" > "$S/nginx.txt" 2>&1 || log "nginx failed"
log "done"
node "$PEERS/summarize.mjs" scim "$S/mandate:mandate" "$S/scimmy:SCIMMY" "$S/mandate-large:mandate-100k" | tee "$S/tables.md"
cat "$S/nginx.txt" | tee -a "$S/tables.md"
