#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL server for the test suite.
#
#   .ci/postgres.sh start   prints postgresql://postgres@127.0.0.1:PORT/dunning_rules_test
#   .ci/postgres.sh stop    stops it and removes its data directory
#
# Installs the server with apt-get when no binaries are found. Runs the server as the
# `postgres` user when started as root (PostgreSQL refuses to run as root). Trust auth on
# loopback only, fsync off: for tests, never for data you care about.
#
# Each checkout has its own server: the state file is in the checkout (.ci/.postgres/state,
# ignored by git) and the data directory is /tmp/dunning_rules_pg.<checkout key>.XXXXXX, where
# the key is a hash of the checkout's path. Two checkouts on one machine start and stop their
# own servers, each on the first free port.
# Environment: PGPORT_TEST (where the port search starts, default 55432), POSTGRES_STATE (the
# file that remembers the running server, default .ci/.postgres/state in this checkout).
set -euo pipefail

CHECKOUT=$(cd "$(dirname "$0")/.." && pwd -P)
KEY=$(printf '%s' "$CHECKOUT" | sha256sum | cut -c 1-12)
STATE=${POSTGRES_STATE:-$CHECKOUT/.ci/.postgres/state}
DB=dunning_rules_test
PORT_LAST=55532

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$dir" ] && [ -x "$dir/postgres" ]; then
        echo "$dir"
    fi
}

install_server() {
    log "no PostgreSQL server found: installing it with apt-get"
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >&2
    $sudo apt-get install -y -qq --no-install-recommends postgresql >&2
    # The package may start a cluster of its own on 5432; we do not use it.
}

# Run a command as the server's user: `postgres` when we are root, ourselves otherwise.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The first free port from $1.
pick_port() {
    local port=$1
    while ! port_free "$port"; do
        port=$((port + 1))
        if [ "$port" -gt "$PORT_LAST" ]; then
            log "no free port between ${PGPORT_TEST:-55432} and $PORT_LAST"
            exit 1
        fi
    done
    echo "$port"
}

# Remove a data directory this script made (never another path a damaged state file names).
remove_root() {
    case "${1:-}" in
        */dunning_rules_pg.*) rm -rf "$1" ;;
        "") ;;
        *) log "not removing $1: not a data directory of this script" ;;
    esac
}

url_for() { echo "postgresql://postgres@127.0.0.1:$1/$DB"; }

start() {
    if [ -f "$STATE" ]; then
        # shellcheck disable=SC1090
        . "$STATE"
        if [ -n "${BIN:-}" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
            log "already running (data in $DATA)"
            url_for "$PORT"
            return 0
        fi
        log "stale state file $STATE: starting afresh"
        remove_root "${ROOT:-}"
        rm -f "$STATE"
    fi

    BIN=$(find_bin)
    if [ -z "$BIN" ]; then
        install_server
        BIN=$(find_bin)
        [ -n "$BIN" ] || { log "PostgreSQL is still not installed"; exit 1; }
    fi

    ROOT=$(mktemp -d "/tmp/dunning_rules_pg.$KEY.XXXXXX")
    DATA="$ROOT/data"
    mkdir -p "$DATA"
    chmod 755 "$ROOT"
    chmod 700 "$DATA"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$ROOT"; fi

    as_owner "$BIN/initdb" -D "$DATA" -U postgres -A trust --encoding=UTF8 --locale=C \
        --no-sync >/dev/null
    mkdir -p "$(dirname "$STATE")"
    # Another checkout may take the port between the search and the start: then try the next.
    PORT=$(pick_port "${PGPORT_TEST:-55432}")
    while :; do
        printf 'CHECKOUT=%q\nBIN=%q\nROOT=%q\nDATA=%q\nPORT=%q\n' \
            "$CHECKOUT" "$BIN" "$ROOT" "$DATA" "$PORT" >"$STATE"
        if [ -f "$ROOT/server.log" ]; then : >"$ROOT/server.log"; fi
        if pg_out=$(as_owner "$BIN/pg_ctl" -D "$DATA" -w -t 60 -l "$ROOT/server.log" \
            -o "-c listen_addresses=127.0.0.1 -p $PORT -k $ROOT -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start 2>&1); then
            break
        fi
        if grep -q "could not bind\|Address already in use" "$ROOT/server.log" \
            && [ "$PORT" -lt "$PORT_LAST" ]; then
            log "port $PORT was taken meanwhile: trying the next"
            PORT=$(pick_port $((PORT + 1)))
            continue
        fi
        echo "$pg_out" >&2
        cat "$ROOT/server.log" >&2
        exit 1
    done
    as_owner "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
    url_for "$PORT"
}

stop() {
    if [ ! -f "$STATE" ]; then
        log "not running"
        return 0
    fi
    # shellcheck disable=SC1090
    . "$STATE"
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
    remove_root "${ROOT:-}"
    rm -f "$STATE"
    log "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
