#!/usr/bin/env bash
# Installs everything mandate needs to build and test on Debian 12, from Debian's own packages.
# Idempotent and silent when everything is already there; run as root (CI and `make run` are).
set -euo pipefail

pkgs=(
    build-essential clang pkg-config
    libmicrohttpd-dev libjansson-dev libsqlite3-dev libssl-dev
    libpq-dev libcurl4-openssl-dev
    libcriterion-dev libclang-rt-14-dev
    wrk curl ca-certificates
)
# The machines come with Node 20; only a bare system needs Debian's.
if ! command -v node >/dev/null 2>&1; then
    pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    case "$status" in
    ii*) ;;
    *) missing+=("$p") ;;
    esac
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
else
    sudo=
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
