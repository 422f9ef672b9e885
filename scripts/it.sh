#!/usr/bin/env bash
# Black-box tests: Node's built-in runner over tests/it/*.test.mjs against the real binary
# (build/mandate, or MANDATE_BIN, e.g. build/asan/mandate), once per storage backend named in
# MANDATE_TEST_BACKENDS (default "sqlite"; "sqlite postgres" for both).
#
# The postgres pass creates a database per server on the PostgreSQL server of MANDATE_TEST_PG;
# when that is unset, a throwaway cluster is started for the run (scripts/pg.sh run) and removed
# after it. Arguments: test files to run instead of all of tests/it/*.test.mjs.
#
# Exit code: non-zero when any pass failed. The last lines are the last pass's own summary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
shopt -s nullglob

backends=${MANDATE_TEST_BACKENDS:-sqlite}
for be in $backends; do
    case "$be" in
    sqlite) ;;
    postgres)
        if [ -z "${MANDATE_TEST_PG:-}" ]; then
            exec "$PWD/scripts/pg.sh" run "$PWD/scripts/it.sh" "$@"
        fi
        ;;
    *)
        echo "it: unknown backend \"$be\" in MANDATE_TEST_BACKENDS (sqlite, postgres)" >&2
        exit 2
        ;;
    esac
done

# The tests' npm dependencies (the official MCP clients), pinned by tests/it/package-lock.json.
# The stamp records the lockfile that node_modules was installed from, so that a changed
# lockfile reinstalls and an unchanged one costs nothing.
it_deps() {
    local dir=tests/it stamp=tests/it/node_modules/.mandate-lock.sha256 want
    want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    echo "it: installing the tests' npm dependencies (npm ci in tests/it)" >&2
    if ! (cd "$dir" && npm ci --no-audit --no-fund --silent); then
        echo "it: npm ci failed in tests/it" >&2
        exit 1
    fi
    echo "$want" >"$stamp"
}
it_deps

if [ "$#" -gt 0 ]; then
    files=("$@")
else
    files=(tests/it/*.test.mjs)
fi
if [ "${#files[@]}" -eq 0 ]; then
    echo "it: no test files in tests/it" >&2
    exit 1
fi

rc=0
for be in $backends; do
    echo "# it: backend $be${MANDATE_BIN:+ ($MANDATE_BIN)}"
    # Node 20 takes explicit files (a directory argument arrived in Node 21).
    MANDATE_TEST_BACKEND=$be node --test --test-concurrency=2 "${files[@]}" || rc=1
done
exit "$rc"
