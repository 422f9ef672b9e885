#!/usr/bin/env bash
# A short libFuzzer run of each driver over its corpus, as CI does.
#   scripts/fuzz-smoke.sh build/fuzz/fuzz_filter build/fuzz/fuzz_patch_path ...
# Each driver build/fuzz/fuzz_<name> runs over a copy of fuzz/corpus/<name>/ (libFuzzer writes
# new inputs into its first corpus directory, and the committed corpus must stay as it is) for
# FUZZ_SECONDS (default 20). Any crash, leak, timeout or sanitizer report fails the driver.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

secs=${FUZZ_SECONDS:-20}
if [ "$#" -eq 0 ]; then
    echo "fuzz-smoke: no fuzz drivers"
    exit 0
fi

outdir=tests/out/fuzz
mkdir -p "$outdir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pass=0
fail=0
for bin in "$@"; do
    drv=$(basename "$bin")
    name=${drv#fuzz_}
    if [ ! -x "$bin" ]; then
        echo "fuzz-smoke: $drv: FAIL (no executable at $bin)"
        fail=$((fail + 1))
        continue
    fi
    corpus="$work/$name"
    mkdir -p "$corpus"
    if [ -d "fuzz/corpus/$name" ]; then
        cp -R "fuzz/corpus/$name/." "$corpus/"
    fi
    seeds=$(find "$corpus" -type f | wc -l)
    log="$outdir/$drv.log"
    artifacts="$work/artifacts-$name/"
    mkdir -p "$artifacts"
    # -max_total_time bounds the run; -timeout and -rss_limit_mb turn hangs and blow-ups into
    # failures. The exit code is non-zero for a crash, leak, timeout or OOM.
    if "$bin" -max_total_time="$secs" -max_len=4096 -timeout=5 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        echo "fuzz-smoke: $drv: ok (${runs:-?} runs in ${secs}s, $seeds seeds)"
        pass=$((pass + 1))
    else
        rc=$?
        echo "fuzz-smoke: $drv: FAIL (exit $rc, log $log)"
        grep -E '^(==[0-9]+==ERROR|SUMMARY:|.*runtime error:)|^artifact_prefix|Test unit written' "$log" |
            head -8 | sed 's/^/    /'
        for a in "$artifacts"*; do
            [ -f "$a" ] || continue
            cp "$a" "$outdir/$drv-$(basename "$a")" && echo "    crashing input saved as $outdir/$drv-$(basename "$a")"
        done
        fail=$((fail + 1))
    fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
