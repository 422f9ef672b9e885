#!/usr/bin/env bash
# Installs what mandate needs on Debian 12, from Debian's own packages. Idempotent, and silent
# when everything is already there; run as root (CI and `make run` are) or with sudo.
#
#   scripts/install-deps.sh          what `make run` needs: a compiler and the libraries
#   scripts/install-deps.sh --test   also what `make test` and the benchmarks need: clang and its
#                                    sanitizer runtime (fuzzing), Criterion, PostgreSQL 15 (the
#                                    tests run a throwaway cluster of their own: scripts/pg.sh),
#                                    Node and npm when missing, curl, wrk
set -euo pipefail

mode="run"
case "${1:-}" in
"") ;;
--test) mode="test" ;;
-h | --help)
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
    exit 0
    ;;
*)
    echo "usage: scripts/install-deps.sh [--test]" >&2
    exit 2
    ;;
esac

# libpq-dev is here because the binary links libpq whichever database it uses.
pkgs=(
    build-essential pkg-config ca-certificates
    libmicrohttpd-dev libjansson-dev libsqlite3-dev libssl-dev libpq-dev libcurl4-openssl-dev
)
if [ "$mode" = test ]; then
    pkgs+=(
        clang libclang-rt-14-dev libcriterion-dev
        postgresql-15 postgresql-client-15
        curl wrk sqlite3
    )
    # The machines come with Node 20; only a bare system needs Debian's.
    if ! command -v node >/dev/null 2>&1; then
        pkgs+=(nodejs npm)
    fi
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

installing_pg=false
for p in "${missing[@]}"; do
    [ "$p" = postgresql-15 ] && installing_pg=true
done
# Debian's package creates and starts a cluster "main" on port 5432 when it is installed. The
# tests never use it (they run their own on a free port), so ask postgresql-common not to create
# it: a drop-in that its createcluster.conf includes.
if $installing_pg; then
    $sudo mkdir -p /etc/postgresql-common/createcluster.d
    echo 'create_main_cluster = false' |
        $sudo tee /etc/postgresql-common/createcluster.d/mandate-no-main-cluster.conf >/dev/null
fi

echo "install-deps: installing ${missing[*]}" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null

# Had a cluster been created and started all the same (an older postgresql-common), stop the
# one that this install started, so that it holds no port and no memory during the tests.
if $installing_pg && command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters --no-header 2>/dev/null | while read -r ver name _port status _rest; do
        if [ "$status" = online ]; then
            echo "install-deps: stopping the system cluster $ver/$name that the package started" >&2
            $sudo pg_ctlcluster "$ver" "$name" stop || true
        fi
    done
fi
exit 0
