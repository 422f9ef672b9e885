#!/usr/bin/env bash
# Throwaway PostgreSQL clusters for the tests: one directory, one server on a loopback port,
# trust authentication, nothing shared with a system cluster.
#
#   scripts/pg.sh start DIR          create (first time) and start a cluster in DIR; prints its URL
#                                    postgres://postgres@127.0.0.1:PORT/postgres, also kept in DIR/url
#   scripts/pg.sh stop DIR           stop it (fast shutdown); nothing happens when it is not running
#   scripts/pg.sh ctl DIR ACTION     ACTION: start, stop, restart, crash (an immediate shutdown, as
#                                    after a power cut of the server process) or status; start
#                                    reuses the port of the first start. MANDATE_TEST_PG_CTL is
#                                    "scripts/pg.sh ctl DIR", to which a test appends the action.
#   scripts/pg.sh createdb DIR|URL NAME   create database NAME (idempotent); prints its URL
#   scripts/pg.sh dropdb DIR|URL NAME     drop it, disconnecting its clients (idempotent)
#   scripts/pg.sh url DIR            print the URL
#   scripts/pg.sh destroy DIR        stop the cluster and remove DIR
#   scripts/pg.sh run CMD [ARG...]   start a cluster in a temporary directory, run CMD with
#                                    MANDATE_TEST_PG and MANDATE_TEST_PG_CTL set, then destroy the
#                                    cluster (also on failure or interruption); exits with CMD's status
#
# The server runs as an unprivileged user: as root, the `postgres` user of Debian's package (DIR
# is handed to it, so every parent of DIR must be searchable by it: /tmp is), otherwise the
# calling user. It listens on 127.0.0.1 only, with its Unix socket in DIR, and keeps fsync on,
# because the tests check that acknowledged writes survive. The port is taken from 20000-32767,
# below the range the kernel hands out for port 0 and outgoing connections, so that nothing takes
# it while a test has the server stopped.
#
# Environment: PGBIN (default /usr/lib/postgresql/15/bin).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/pg.sh
pgbin=${PGBIN:-/usr/lib/postgresql/15/bin}

die() {
    echo "pg.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$self" >&2
    exit 2
}

need_bin() {
    if [ ! -x "$pgbin/initdb" ] || [ ! -x "$pgbin/pg_ctl" ]; then
        die "no PostgreSQL server binaries in $pgbin (install postgresql-15: scripts/install-deps.sh --test, or set PGBIN)"
    fi
}

psql_bin() {
    if [ -x "$pgbin/psql" ]; then
        echo "$pgbin/psql"
    elif command -v psql >/dev/null 2>&1; then
        command -v psql
    else
        die "psql is not installed (scripts/install-deps.sh --test)"
    fi
}

# as_owner CMD...: runs CMD as the user that owns the cluster.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# abs DIR: DIR as an absolute path (it need not exist yet).
abs() {
    case "$1" in
    /*) echo "$1" ;;
    *) echo "$PWD/$1" ;;
    esac
}

running() {
    [ -f "$1/data/postmaster.pid" ] && as_owner "$pgbin/pg_ctl" -D "$1/data" status >/dev/null 2>&1
}

url_of() {
    echo "postgres://postgres@127.0.0.1:$(cat "$1/port")/postgres"
}

# pg_start DIR: starts the server of an initialised cluster on the port in DIR/port.
pg_start() {
    local dir=$1
    if ! as_owner "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start >/dev/null; then
        return 1
    fi
}

# configure DIR PORT: the settings of a test cluster (a later line wins in postgresql.conf, and
# the include comes last).
configure() {
    local dir=$1 port=$2
    cat >"$dir/data/mandate-test.conf" <<EOF
# Written by scripts/pg.sh.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 300
shared_buffers = 64MB
log_min_messages = warning
log_connections = off
log_disconnections = off
EOF
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/data/mandate-test.conf"
    echo "$port" >"$dir/port"
}

cmd_start() {
    local dir port tries
    dir=$(abs "$1")
    need_bin
    if [ -f "$dir/port" ] && running "$dir"; then
        url_of "$dir"
        return 0
    fi
    if [ "$(id -u)" -eq 0 ]; then
        getent passwd postgres >/dev/null ||
            die "no postgres user (install postgresql-15: scripts/install-deps.sh --test)"
    fi
    mkdir -p "$dir"
    # The Unix socket DIR/.s.PGSQL.PORT must fit in sun_path (108 bytes with its NUL).
    [ $((${#dir} + 16)) -le 107 ] || die "$dir is too long for a Unix socket path; use a shorter directory"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
        as_owner test -w "$dir" ||
            die "the postgres user cannot reach $dir (a parent directory is not searchable by it); use a directory under /tmp"
    fi

    if [ ! -f "$dir/data/PG_VERSION" ]; then
        rm -rf "$dir/data"
        # --no-sync only skips flushing the files that initdb writes; the server runs with fsync.
        as_owner "$pgbin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
            --no-sync >"$dir/initdb.log" 2>&1 ||
            { tail -20 "$dir/initdb.log" >&2; die "initdb failed in $dir/data (log: $dir/initdb.log)"; }
        echo "include_if_exists = 'mandate-test.conf'" | as_owner tee -a "$dir/data/postgresql.conf" >/dev/null
    fi

    # The first start picks a port; later starts keep it (tests restart the server and expect
    # it back where it was).
    if [ -f "$dir/port" ]; then
        configure "$dir" "$(cat "$dir/port")"
        pg_start "$dir" || { tail -20 "$dir/log" >&2; die "the server did not start (log: $dir/log)"; }
    else
        tries=0
        for (( ; ; )); do
            port=$((20000 + RANDOM % 12768))
            tries=$((tries + 1))
            configure "$dir" "$port"
            if pg_start "$dir"; then
                break
            fi
            rm -f "$dir/port"
            if ! grep -q 'Address already in use\|could not create any TCP/IP sockets' "$dir/log" 2>/dev/null ||
                [ "$tries" -ge 20 ]; then
                tail -20 "$dir/log" >&2
                die "the server did not start (log: $dir/log)"
            fi
            : >"$dir/log"
        done
    fi
    url_of "$dir" >"$dir/url"
    cat "$dir/url"
}

cmd_stop() {
    local dir mode=${2:-fast}
    dir=$(abs "$1")
    [ -d "$dir/data" ] || return 0
    need_bin
    if running "$dir"; then
        as_owner "$pgbin/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null ||
            die "the server in $dir did not stop (log: $dir/log)"
    fi
}

cmd_ctl() {
    local dir
    dir=$(abs "$1")
    if [ ! -f "$dir/data/PG_VERSION" ] || [ ! -f "$dir/port" ]; then
        die "no cluster in $dir (scripts/pg.sh start $dir)"
    fi
    case "${2:-}" in
    start) cmd_start "$dir" >/dev/null ;;
    stop) cmd_stop "$dir" fast ;;
    crash) cmd_stop "$dir" immediate ;;
    restart)
        cmd_stop "$dir" fast
        cmd_start "$dir" >/dev/null
        ;;
    status)
        if running "$dir"; then echo running; else
            echo stopped
            return 3
        fi
        ;;
    *) die "ctl wants start, stop, restart, crash or status" ;;
    esac
}

# server_url DIR|URL: the URL of the postgres database of a cluster directory, or URL itself.
server_url() {
    case "$1" in
    postgres://* | postgresql://*) echo "$1" ;;
    *)
        [ -f "$(abs "$1")/url" ] || die "no cluster in $1 (scripts/pg.sh start $1)"
        cat "$(abs "$1")/url"
        ;;
    esac
}

# with_db URL NAME: URL with its database replaced by NAME, query string kept.
with_db() {
    local url=$1 name=$2 rest query=
    case "$url" in *\?*) query="?${url#*\?}" url=${url%%\?*} ;; esac
    rest=${url#*://}
    case "$rest" in */*) rest=${rest%%/*} ;; esac
    echo "${url%%://*}://$rest/$name$query"
}

check_name() {
    [[ "$1" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "a database name is 1-63 of a-z, 0-9 and _, not starting with a digit: $1"
}

cmd_createdb() {
    local url name psql
    url=$(server_url "$1")
    name=$2
    check_name "$name"
    psql=$(psql_bin)
    if [ -z "$("$psql" -X -At -v ON_ERROR_STOP=1 -d "$url" -c "SELECT 1 FROM pg_database WHERE datname = '$name'")" ]; then
        "$psql" -X -q -v ON_ERROR_STOP=1 -d "$url" -c "CREATE DATABASE $name" >/dev/null ||
            die "CREATE DATABASE $name failed"
    fi
    with_db "$url" "$name"
}

cmd_dropdb() {
    local url name psql
    url=$(server_url "$1")
    name=$2
    check_name "$name"
    [ "$name" != postgres ] || die "will not drop the postgres database"
    psql=$(psql_bin)
    PGOPTIONS='-c client_min_messages=warning' \
        "$psql" -X -q -v ON_ERROR_STOP=1 -d "$url" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null ||
        die "DROP DATABASE $name failed"
}

cmd_destroy() {
    local dir
    dir=$(abs "$1")
    [ -e "$dir" ] || return 0
    # Only what looks like one of ours: never remove a directory by mistake.
    [ -f "$dir/data/PG_VERSION" ] || [ -f "$dir/port" ] || [ -z "$(ls -A "$dir")" ] ||
        die "$dir does not look like a cluster of pg.sh; not removing it"
    cmd_stop "$dir" fast
    rm -rf "$dir"
}

cmd_run() {
    local dir rc
    [ "$#" -ge 1 ] || die "run wants a command"
    dir=$(mktemp -d /tmp/mandate-pg.XXXXXX)
    chmod 755 "$dir"
    # shellcheck disable=SC2064
    trap "'$self' destroy '$dir' >/dev/null 2>&1 || true" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    MANDATE_TEST_PG=$(cmd_start "$dir")
    export MANDATE_TEST_PG
    export MANDATE_TEST_PG_CTL="$self ctl $dir"
    rc=0
    "$@" || rc=$?
    return "$rc"
}

[ "$#" -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
start | stop | url | destroy)
    [ "$#" -eq 1 ] || usage
    case "$cmd" in
    url)
        [ -f "$(abs "$1")/url" ] || die "no cluster in $1"
        cat "$(abs "$1")/url"
        ;;
    *) "cmd_$cmd" "$1" ;;
    esac
    ;;
ctl)
    [ "$#" -eq 2 ] || usage
    cmd_ctl "$1" "$2"
    ;;
createdb | dropdb)
    [ "$#" -eq 2 ] || usage
    "cmd_$cmd" "$1" "$2"
    ;;
run) cmd_run "$@" ;;
-h | --help | help) usage ;;
*) usage ;;
esac
