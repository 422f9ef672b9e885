#!/usr/bin/env bash
# The test steps of `make test`, after the Makefile has installed the dependencies and built
# everything: one throwaway PostgreSQL cluster for the whole run (scripts/pg.sh, in a temporary
# directory), MANDATE_TEST_PG and MANDATE_TEST_PG_CTL exported to every step, then
#   unit tests under ASan+UBSan, fuzz smoke, the SCIM conformance suites on SQLite and
#   PostgreSQL, the MCP conformance suite, the black-box suite under ASan on SQLite, unit tests, the black-box suite on
#   SQLite and PostgreSQL, and the console's browser tests (Debian's chromium, headless).
# It stops at the first failing step, so that the output ends with that runner's own summary
# (node:test's "# pass N" / "# fail N" when everything passed), and exits non-zero. The
# cluster is stopped and removed in every case, also on Ctrl-C.
#
# Environment: MANDATE_TEST_BACKENDS (default "sqlite postgres") for the conformance suites and
# the black-box suite; MANDATE_TEST_PG to use a running server instead of starting one (the
# unit tests stop and start it through MANDATE_TEST_PG_CTL, which must then be set too);
# MANDATE_TEST_KEEP_GOING=1 runs every step whatever fails, names the failed steps at the end,
# and exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

export MANDATE_TEST_BACKENDS=${MANDATE_TEST_BACKENDS:-sqlite postgres}
make=(make --no-print-directory)
pg_dir=

cleanup() {
    if [ -n "$pg_dir" ]; then
        scripts/pg.sh destroy "$pg_dir" >/dev/null 2>&1 ||
            echo "test: could not remove the PostgreSQL cluster in $pg_dir" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "${MANDATE_TEST_PG:-}" ]; then
    pg_dir=$(mktemp -d /tmp/mandate-test-pg.XXXXXX) || exit 1
    MANDATE_TEST_PG=$(scripts/pg.sh start "$pg_dir") || {
        echo "test: could not start PostgreSQL (scripts/pg.sh start $pg_dir)" >&2
        exit 1
    }
    export MANDATE_TEST_PG
    export MANDATE_TEST_PG_CTL="$PWD/scripts/pg.sh ctl $pg_dir"
fi
echo "test: PostgreSQL at $MANDATE_TEST_PG; black-box and conformance on: $MANDATE_TEST_BACKENDS"

failed=()

# step NAME CMD...: runs one step; a failure ends the run with its status (or is noted, with
# MANDATE_TEST_KEEP_GOING).
step() {
    local name=$1 rc=0 t0=$SECONDS
    shift
    echo "== test: $name"
    "$@" || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "test: $name FAILED (exit $rc, after $((SECONDS - t0)) s)" >&2
        [ -n "${MANDATE_TEST_KEEP_GOING:-}" ] || exit "$rc"
        failed+=("$name")
    fi
}

step "unit tests under ASan+UBSan" "${make[@]}" unit-asan
step "fuzz smoke" "${make[@]}" WERROR=1 fuzz-smoke
step "SCIM conformance suites ($MANDATE_TEST_BACKENDS)" "${make[@]}" conformance
step "MCP conformance suite (sqlite)" "${make[@]}" mcp-conformance
step "black-box suite under ASan+UBSan (sqlite)" env MANDATE_TEST_BACKENDS=sqlite "${make[@]}" it-asan
step "unit tests" "${make[@]}" unit
step "black-box suite ($MANDATE_TEST_BACKENDS)" "${make[@]}" it
step "console browser tests (chromium)" "${make[@]}" browser
if [ "${#failed[@]}" -gt 0 ]; then
    printf 'test: FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
