#!/usr/bin/env bash
# The decision benchmark of issue 4 (decision_bench.c beside this script): builds the library and
# the benchmark, runs it once on a fresh SQLite database and keeps the report (bench/c_bench.sh).
#
#   bench/decision/run.sh [decision_bench options]      e.g. --users 10000 --decisions 200000
#   env: OUT=DIR (default bench/results/decision-<UTC time>), QUIET_WAIT=SECS, QUIET_LOAD
#
# -> OUT/report.txt. About a minute at the default size (100,000 users) on 2 vCPUs.
RUN_AS=bench/decision/run.sh exec "$(dirname "${BASH_SOURCE[0]}")/../c_bench.sh" decision "$@"
