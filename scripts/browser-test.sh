#!/usr/bin/env bash
# The console's browser tests: Node's built-in runner over tests/browser/*.test.mjs, driving
# Debian's chromium package headless with playwright-core against the real binary
# (build/mandate, or MANDATE_BIN). Screenshots of every page land in tests/out/browser/.
#
# What the tests need is installed here when missing: chromium with apt-get (as root, or with
# sudo), and playwright-core with npm ci from tests/browser/package-lock.json. playwright-core
# downloads no browser; CHROMIUM names another executable than /usr/bin/chromium.
# Arguments: test files to run instead of all of tests/browser/*.test.mjs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
    echo "browser-test: installing Debian's chromium (apt-get)" >&2
    sudo=
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if [ ! -x "$chromium" ]; then
    echo "browser-test: $chromium is missing after the install" >&2
    exit 1
fi

# playwright-core, pinned by the lockfile; the stamp records the lockfile it was installed from.
dir=tests/browser
stamp=$dir/node_modules/.mandate-lock.sha256
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "browser-test: installing playwright-core (npm ci in $dir)" >&2
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
    echo "$want" >"$stamp"
fi

shopt -s nullglob
if [ "$#" -gt 0 ]; then
    files=("$@")
else
    files=(tests/browser/*.test.mjs)
fi
mkdir -p tests/out/browser
CHROMIUM=$chromium node --test --test-concurrency=1 "${files[@]}"
