#!/usr/bin/env bash
# The audit log benchmark of issue 6 (audit_bench.c beside this script): builds the library and
# the benchmark, runs it once and keeps the report.
#
#   bench/audit/run.sh [audit_bench options]     e.g. --seconds 10 --threads 1,2,4 --rate 2000
#   env: OUT=DIR          results folder (default bench/results/audit-<UTC time>)
#        QUIET_WAIT=SECS  first wait up to SECS for the 1-minute load average to fall below
#                         QUIET_LOAD (default 0.5); the report says whether it did
#
# -> OUT/report.txt: the command, the machine, the binary, the load before and after, and the
#    benchmark's report. About 70 s at the defaults (3 x 11 s of recording, their drains and
#    verifies, and twice 5 s paced); the databases, in fresh temporary directories (up to
#    ~500 MB each), are removed.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
PKGS="libmicrohttpd jansson sqlite3 openssl libpq"
WARN="-Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
      -Wcast-qual -Wwrite-strings -fno-common"
OUT="${OUT:-$REPO/bench/results/audit-$(date -u +%Y%m%dT%H%M%SZ)}"
QUIET_LOAD="${QUIET_LOAD:-0.5}"

make --no-print-directory build/libmandate.a
# shellcheck disable=SC2046,SC2086
cc -O2 -std=c17 -D_GNU_SOURCE -Isrc $WARN $(pkg-config --cflags $PKGS) \
    bench/audit/audit_bench.c build/libmandate.a $(pkg-config --libs $PKGS) -lpthread \
    -o build/audit_bench

load1() { cut -d' ' -f1 /proc/loadavg; }
is_quiet() { awk -v l="$(load1)" -v q="$QUIET_LOAD" 'BEGIN { exit !(l < q) }'; }
if [[ -n "${QUIET_WAIT:-}" ]]; then
    deadline=$(( $(date +%s) + QUIET_WAIT ))
    until is_quiet || (( $(date +%s) >= deadline )); do sleep 10; done
fi

mkdir -p "$OUT"
R="$OUT/report.txt"
{
    echo "command: bench/audit/run.sh $*"
    echo "ran: build/audit_bench $*"
    echo "built: cc -O2 -std=c17 -D_GNU_SOURCE -Isrc <warnings> \$(pkg-config --cflags $PKGS)" \
         "bench/audit/audit_bench.c build/libmandate.a \$(pkg-config --libs $PKGS) -lpthread"
    echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "git: HEAD $(git rev-parse --short HEAD 2>/dev/null || echo '?'), uncommitted files" \
         "under src/: $(git status --porcelain -- src 2>/dev/null | wc -l)"
    echo "libmandate.a sha256: $(sha256sum build/libmandate.a | cut -c1-16)," \
         "audit_bench sha256: $(sha256sum build/audit_bench | cut -c1-16)"
    echo "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
         "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -sr)," \
         "$(cc --version | head -1), SQLite $(pkg-config --modversion sqlite3)," \
         "/tmp on $(df --output=fstype /tmp | tail -1 | tr -d ' ')"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)$(is_quiet || echo "  (BUSY: the 1-minute load is not below $QUIET_LOAD)")"
    echo "busiest processes before (top, over 2 s):"
    top -b -n 2 -d 2 -o %CPU -w 120 | awk '/^top -/ {f++} f == 2' | sed -n '7,12p' | sed 's/^/   /'
    echo
} > "$R"
cat "$R"
build/audit_bench "$@" | tee -a "$R"
{
    echo
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a "$R"
echo "report: $R"
