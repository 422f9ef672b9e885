#!/usr/bin/env bash
# Black-box tests: Node's built-in runner over tests/it/*.test.mjs against the real binary
# (build/mandate, or MANDATE_BIN, e.g. build/asan/mandate). Exit code is the runner's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
shopt -s nullglob
files=(tests/it/*.test.mjs)
if [ "${#files[@]}" -eq 0 ]; then
    echo "it: no test files in tests/it" >&2
    exit 1
fi
# Node 20 takes explicit files (a directory argument arrived in Node 21).
exec node --test --test-concurrency=2 "${files[@]}"
