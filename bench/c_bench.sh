#!/usr/bin/env bash
# Builds and runs one of the C benchmarks that link libmandate (bench/NAME/NAME_bench.c), once,
# and keeps its report. bench/decision/run.sh and bench/audit/run.sh call it.
#
#   bench/c_bench.sh NAME [NAME_bench options]
#   env: OUT=DIR          results folder (default bench/results/NAME-<UTC time>)
#        QUIET_WAIT=SECS  first wait up to SECS for the 1-minute load average to fall below
#                         QUIET_LOAD (default 0.5); the report says whether it did
#        RUN_AS=TEXT      the command to name in the report (default: bench/c_bench.sh NAME)
#
# -> OUT/report.txt: the command, the machine (and the file system of /tmp, where benchmarks
#    keep their databases), the binary, the load before and after, and the benchmark's report.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
NAME="${1:?usage: bench/c_bench.sh NAME [options]}"
shift
SRC="bench/$NAME/${NAME}_bench.c"
BIN="build/${NAME}_bench"
[[ -f "$SRC" ]] || { echo "no $SRC" >&2; exit 2; }
PKGS="libmicrohttpd jansson sqlite3 openssl libpq"
WARN="-Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
      -Wcast-qual -Wwrite-strings -fno-common"
OUT="${OUT:-$REPO/bench/results/$NAME-$(date -u +%Y%m%dT%H%M%SZ)}"
QUIET_LOAD="${QUIET_LOAD:-0.5}"
RUN_AS="${RUN_AS:-bench/c_bench.sh $NAME}"

make --no-print-directory build/libmandate.a
# shellcheck disable=SC2046,SC2086
cc -O2 -std=c17 -D_GNU_SOURCE -Isrc $WARN $(pkg-config --cflags $PKGS) \
    "$SRC" build/libmandate.a $(pkg-config --libs $PKGS) -lpthread -o "$BIN"

load1() { cut -d' ' -f1 /proc/loadavg; }
is_quiet() { awk -v l="$(load1)" -v q="$QUIET_LOAD" 'BEGIN { exit !(l < q) }'; }
if [[ -n "${QUIET_WAIT:-}" ]]; then
    deadline=$(( $(date +%s) + QUIET_WAIT ))
    until is_quiet || (( $(date +%s) >= deadline )); do sleep 10; done
fi

mkdir -p "$OUT"
R="$OUT/report.txt"
{
    echo "command: $RUN_AS $*"
    echo "ran: $BIN $*"
    echo "built: cc -O2 -std=c17 -D_GNU_SOURCE -Isrc <warnings> \$(pkg-config --cflags $PKGS)" \
         "$SRC build/libmandate.a \$(pkg-config --libs $PKGS) -lpthread"
    echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "git: HEAD $(git rev-parse --short HEAD 2>/dev/null || echo '?'), uncommitted files" \
         "under src/: $(git status --porcelain -- src 2>/dev/null | wc -l)"
    echo "libmandate.a sha256: $(sha256sum build/libmandate.a | cut -c1-16)," \
         "${NAME}_bench sha256: $(sha256sum "$BIN" | cut -c1-16)"
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
"$BIN" "$@" | tee -a "$R"
{
    echo
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a "$R"
echo "report: $R"
