#!/usr/bin/env bash
# The audit log benchmark of issue 6 (audit_bench.c beside this script): builds the library and
# the benchmark, runs it once and keeps the report (bench/c_bench.sh).
#
#   bench/audit/run.sh [audit_bench options]     e.g. --seconds 10 --threads 1,2,4 --rate 2000
#   env: OUT=DIR (default bench/results/audit-<UTC time>), QUIET_WAIT=SECS, QUIET_LOAD
#
# -> OUT/report.txt. About 70 s at the defaults (3 x 11 s of recording, their drains and
#    verifies, and twice 5 s paced); the databases, in fresh temporary directories (up to
#    ~500 MB each), are removed.
RUN_AS=bench/audit/run.sh exec "$(dirname "${BASH_SOURCE[0]}")/../c_bench.sh" audit "$@"
