#!/usr/bin/env bash
# Benchmark mandate with the shared, implementation-agnostic SCIM load script.
#
#   bench/run_mandate.sh [--large] [RESULTS_DIR]
#   MANDATE_BENCH_DB=postgres bench/run_mandate.sh [--large] [RESULTS_DIR]
#
# Each run starts a fresh mandate on a free loopback port with an empty temporary database,
# creates a SCIM token, waits for /healthz, runs
#   ${MANDATE_SHARED:-../shared}/bench/scim_bench.sh BASE_URL TOKEN PID
# with OUTDIR=RESULTS_DIR/runN, then stops the server (SIGTERM) and removes the database.
# RESULTS_DIR/runN/ then holds scim_bench.sh's files plus server.log.gz (mandate's stderr),
# rss.tsv (VmRSS/VmHWM of the server sampled every second, with the step scim_bench.sh was in,
# and the cumulative CPU seconds of mandate and of PostgreSQL) and cpu.txt (CPU seconds of
# mandate and of PostgreSQL per step, from rss.tsv, to the second).
#
# Backend (MANDATE_BENCH_DB):
#   sqlite    (default) a SQLite file in a temporary directory
#   postgres  a throwaway cluster (scripts/pg.sh start in a temporary directory, destroyed at the
#             end; or the cluster in MANDATE_BENCH_PG_DIR, left running) and a fresh database
#             bench_runN per run (scripts/pg.sh createdb; dropped after the run). The cluster is
#             pg.sh's: fsync and synchronous_commit on, shared_buffers 64MB, on loopback TCP. Its
#             processes share the machine's CPUs with mandate and wrk.
#
#   default:  N_USERS=10000  N_MEMBERS=5000  RUNS=2   (lookup, GET by id, page of 100, p99 at 32 conns)
#   --large:  N_USERS=100000 N_MEMBERS=20000 RUNS=1   (provisioning 100,000 users, membership PATCH
#             cost for the first and last 500 of 20,000 members, peak RSS with 100,000 users)
#
# env (passed through to scim_bench.sh): N_USERS N_MEMBERS DUR THREADS CONNS
#     PROVISION_TIME_LIMIT_S MEMBERS_TIME_LIMIT_S; RUNS; MANDATE_BIN (default build/mandate,
#     built with `make build/mandate` if missing); MANDATE_SHARED (default ../shared beside the repo);
#     MANDATE_BENCH_DB (sqlite|postgres), MANDATE_BENCH_PG_DIR, PGBIN (for scripts/pg.sh).
# Tables: node ../shared/bench/summarize.mjs scim RESULTS_DIR:mandate
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LARGE=0
if [[ "${1:-}" == "--large" ]]; then LARGE=1; shift; fi
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then sed -n 2,32p "$0"; exit 0; fi
if [[ $LARGE == 1 ]]; then
  export N_USERS="${N_USERS:-100000}" N_MEMBERS="${N_MEMBERS:-20000}"; RUNS="${RUNS:-1}"
  export PROVISION_TIME_LIMIT_S="${PROVISION_TIME_LIMIT_S:-900}" MEMBERS_TIME_LIMIT_S="${MEMBERS_TIME_LIMIT_S:-1800}"
else
  export N_USERS="${N_USERS:-10000}" N_MEMBERS="${N_MEMBERS:-5000}"; RUNS="${RUNS:-2}"
fi
export DUR="${DUR:-10s}" THREADS="${THREADS:-2}" CONNS="${CONNS:-32}"
DBKIND="${MANDATE_BENCH_DB:-sqlite}"
case "$DBKIND" in sqlite|postgres) ;; *) echo "MANDATE_BENCH_DB is sqlite or postgres, not $DBKIND" >&2; exit 2;; esac
TAG=$([[ $LARGE == 1 ]] && echo mandate-large || echo mandate)$([[ $DBKIND == postgres ]] && echo -pg || true)
RES="${1:-$REPO/bench/results/$TAG-$(date -u +%Y%m%dT%H%M%SZ)}"; mkdir -p "$RES"; RES="$(cd "$RES" && pwd)"

SHARED="${MANDATE_SHARED:-$REPO/../shared}"
SHARED="$(cd "$SHARED" && pwd)"
BENCH="$SHARED/bench/scim_bench.sh"
[[ -x "$BENCH" ]] || { echo "no load script at $BENCH (set MANDATE_SHARED)" >&2; exit 2; }
for t in wrk node curl; do command -v "$t" >/dev/null || { echo "$t is required" >&2; exit 2; }; done
PGSH="$REPO/scripts/pg.sh"

BIN="${MANDATE_BIN:-$REPO/build/mandate}"
if [[ ! -x "$BIN" ]]; then (cd "$REPO" && make build/mandate); fi
# Pin the binary: every run of this invocation uses the same one, even if build/ is rebuilt meanwhile.
PIN="$(mktemp -d /tmp/mandate_bin.XXXXXX)"; cp "$BIN" "$PIN/mandate"
BIN_SRC="$BIN"; BIN="$PIN/mandate"

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

SP=""; SAMPLER=""; TMPD=""; PGDB=""; PGDIR=""; PGOWN=0
cleanup() {
  [[ -n "$SAMPLER" ]] && kill "$SAMPLER" 2>/dev/null || true
  if [[ -n "$SP" ]] && kill -0 "$SP" 2>/dev/null; then kill -TERM "$SP"; wait "$SP" 2>/dev/null || true; fi
  [[ -n "$TMPD" ]] && rm -rf "$TMPD"
  [[ -n "$PGDB" ]] && { "$PGSH" dropdb "$PGDIR" "$PGDB" || true; }
  SP=""; SAMPLER=""; TMPD=""; PGDB=""
}
pg_teardown() { if [[ $PGOWN == 1 && -n "$PGDIR" ]]; then "$PGSH" destroy "$PGDIR" || true; fi; }
trap 'cleanup; pg_teardown; rm -rf "$PIN"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PGPM=""
if [[ $DBKIND == postgres ]]; then
  if [[ -n "${MANDATE_BENCH_PG_DIR:-}" ]]; then
    PGDIR="$MANDATE_BENCH_PG_DIR"
  else
    PGDIR="$(mktemp -d /tmp/mandate-bench-pg.XXXXXX)"; chmod 755 "$PGDIR"; PGOWN=1
  fi
  PGURL="$("$PGSH" start "$PGDIR")"
  PGPM="$(head -1 "$PGDIR/data/postmaster.pid")"
  PSQL="${PGBIN:-/usr/lib/postgresql/15/bin}/psql"; [[ -x "$PSQL" ]] || PSQL=psql
  pgq() { "$PSQL" -X -At -d "$PGURL" -c "$1"; }
fi

# cumulative CPU seconds (user + system) of a process; of a PostgreSQL cluster: the postmaster,
# its reaped children and its live children
HZ="$(getconf CLK_TCK)"
cpu_of() {
  awk -v hz="$HZ" '{ sub(/^.*\) /, ""); t = $12 + $13 } END { printf "%.2f", t / hz }' "/proc/$1/stat" 2>/dev/null || echo ""
}
pg_cpu() {
  [[ -n "$PGPM" ]] || { echo ""; return; }
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v pm="$PGPM" -v hz="$HZ" '
    { pid = $1; sub(/^.*\) /, "");
      if (pid == pm) t += $12 + $13 + $14 + $15; else if ($2 == pm) t += $12 + $13 }
    END { printf "%.2f", t / hz }'
}

{
  echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ) host_nproc=$(nproc) cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')\""
  echo "mandate=$("$BIN" version 2>/dev/null || echo '?') bin=$BIN_SRC sha256=$(sha256sum "$BIN" | cut -c1-16) built=$(date -u -r "$BIN_SRC" +%H:%M:%SZ) shared=$SHARED"
  echo "git_head=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?') src_changes_uncommitted=$(git -C "$REPO" status --porcelain -- src Makefile 2>/dev/null | wc -l)"
  echo "N_USERS=$N_USERS N_MEMBERS=$N_MEMBERS DUR=$DUR THREADS=$THREADS CONNS=$CONNS RUNS=$RUNS"
  if [[ $DBKIND == postgres ]]; then
    echo "db=postgres cluster=$PGDIR url=$PGURL postmaster_pid=$PGPM $(pgq "SELECT 'server_version=' || current_setting('server_version') || ' fsync=' || current_setting('fsync') || ' synchronous_commit=' || current_setting('synchronous_commit') || ' shared_buffers=' || current_setting('shared_buffers') || ' max_connections=' || current_setting('max_connections')")"
  else
    echo "db=sqlite"
  fi
  echo "loadavg_before=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
} > "$RES/env.txt"
cat "$RES/env.txt"

for run in $(seq "$RUNS"); do
  OUT="$RES/run$run"; mkdir -p "$OUT"
  TMPD="$(mktemp -d /tmp/mandate_bench.XXXXXX)"; DB="$TMPD/mandate.db"
  if [[ $DBKIND == postgres ]]; then
    PGDB="bench_run$run"; "$PGSH" dropdb "$PGDIR" "$PGDB"; DB="$("$PGSH" createdb "$PGDIR" "$PGDB")"
  fi
  TOKEN="$("$BIN" token create --kind scim --name bench --db "$DB")"
  PORT="$(free_port)"
  "$BIN" serve --listen "127.0.0.1:$PORT" --db "$DB" > "$OUT/server.log" 2>&1 &
  SP=$!
  ok=0
  for _ in $(seq 100); do
    if curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz"; then ok=1; break; fi
    kill -0 "$SP" 2>/dev/null || break
    sleep 0.1
  done
  [[ $ok == 1 ]] || { echo "mandate did not come up on port $PORT:" >&2; tail -20 "$OUT/server.log" >&2; exit 1; }
  echo "run $run: mandate pid=$SP port=$PORT db=$DB loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"

  # VmRSS/VmHWM every second, tagged with the last step scim_bench.sh has finished (last line of its summary.txt)
  (
    set +e +o pipefail
    printf 't_s\tstep\tVmRSS_kB\tVmHWM_kB\tloadavg1\tmandate_cpu_s\tpg_cpu_s\n'
    t0=$(date +%s)
    while [[ -r /proc/$SP/status ]]; do
      st=$(tail -n1 "$OUT/summary.txt" 2>/dev/null | cut -d' ' -f1 | tr -d ':' || true)
      la=$(cut -d' ' -f1 /proc/loadavg)
      mc=$(cpu_of "$SP"); pc=$(pg_cpu)
      awk -v t=$(( $(date +%s) - t0 )) -v s="$st" -v la="$la" -v mc="$mc" -v pc="$pc" '/^VmRSS/{r=$2} /^VmHWM/{h=$2} END{printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t, s, r, h, la, mc, pc}' "/proc/$SP/status" 2>/dev/null || break
      sleep 1
    done
  ) > "$OUT/rss.tsv" &
  SAMPLER=$!

  OUTDIR="$OUT" "$BENCH" "http://127.0.0.1:$PORT/scim/v2" "$TOKEN" "$SP" || echo "run $run: scim_bench.sh failed" >&2

  # database size after the run (SQLite: main file + WAL; PostgreSQL: pg_database_size, WAL not
  # included), then stop the server
  echo "loadavg_after=\"$(cut -d' ' -f1-3 /proc/loadavg)\"" >> "$OUT/summary.txt"
  if [[ $DBKIND == postgres ]]; then
    echo "db_size_kB=$(( $(pgq "SELECT pg_database_size('$PGDB')") / 1024 ))" >> "$OUT/summary.txt"
  else
    du -k "$TMPD"/* 2>/dev/null | awk '{s+=$1} END{print "db_size_kB=" s}' >> "$OUT/summary.txt"
  fi
  cleanup
  gzip -f "$OUT/server.log"
  # CPU seconds per step (each one-second interval counted in the step it began in; the steps are
  # named by the last line scim_bench.sh had written: "#" = provisioning, "2" = wrk lookup,
  # "3" = wrk GET by id, "3_get_by_id" = membership PATCHes, "5" = wrk page of 100)
  awk -F'\t' 'NR > 1 && $6 != "" {
      if (ps != "") { st[ps] += $1 - pt; mc[ps] += $6 - pm; if ($7 != "") pc[ps] += $7 - pp
                      if (!(ps in seen)) { seen[ps] = 1; order[++n] = ps } }
      ps = $2; pt = $1; pm = $6; pp = $7 }
    END {
      name["#"] = "provision"; name["2"] = "wrk_filter_lookup"; name["3"] = "wrk_get_by_id"
      name["3_get_by_id"] = "members"; name["5"] = "wrk_list_page"
      printf "step\twall_s\tmandate_cpu_s\tpg_cpu_s\tmandate_cores\tpg_cores\n"
      for (i = 1; i <= n; i++) { s = order[i]; if (!(s in name)) continue
        printf "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\n", name[s], st[s], mc[s], pc[s],
               st[s] ? mc[s] / st[s] : 0, st[s] ? pc[s] / st[s] : 0 }
    }' "$OUT/rss.tsv" > "$OUT/cpu.txt" || true
  cat "$OUT/cpu.txt"
  if [[ $DBKIND == postgres && -s "$PGDIR/log" ]]; then tail -n 50 "$PGDIR/log" > "$OUT/pg_log_tail.txt"; fi
done
echo "results in $RES"
node "$SHARED/bench/summarize.mjs" scim "$RES:$TAG"
