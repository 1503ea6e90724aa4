#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests: its own cluster in a new folder,
# listening only on 127.0.0.1 at a free port, stopped and removed again.
#
#   scripts/test-postgres.sh start DIR   creates DIR, starts the server, prints
#                                        its connection string on stdout
#   scripts/test-postgres.sh stop DIR    stops the server and removes DIR
#
# For make test (a ctest fixture, tests/CMakeLists.txt), with STATE a folder
# in the build tree that remembers the cluster between the two calls:
#   scripts/test-postgres.sh fixture-start STATE   stops a cluster an earlier,
#                   interrupted run left, starts one under $TMPDIR and writes
#                   its connection string to STATE/dsn
#   scripts/test-postgres.sh fixture-stop STATE    stops and removes it
#
# initdb refuses to run as root, so as root the cluster belongs to the
# `postgres` system user (from Debian's postgresql package). Authentication
# is `trust` for the one role `custos`: the server is reachable from this
# machine only, holds nothing but test data and lives for one test run.
set -euo pipefail

readonly pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}

usage() {
  echo "usage: $0 start DIR | stop DIR | fixture-start STATE | fixture-stop STATE" >&2
  exit 2
}

[[ $# -eq 2 ]] || usage
action=$1
dir=$2

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# A port nothing listens on (a connection attempt is refused).
free_port() {
  local port tries
  for tries in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "test-postgres: no free port found" >&2
  return 1
}

case "$action" in
  start)
    if [[ ! -x "$pg_bin/initdb" ]]; then
      echo "test-postgres: $pg_bin/initdb not found; install Debian's postgresql package" >&2
      exit 1
    fi
    if [[ -e "$dir" ]]; then
      echo "test-postgres: $dir exists; give a new folder" >&2
      exit 1
    fi
    mkdir -p "$dir/socket"
    chmod 0700 "$dir"
    [[ $(id -u) -ne 0 ]] || chown -R postgres: "$dir"
    as_owner "$pg_bin/initdb" -D "$dir/data" -U custos -A trust -E UTF8 --locale=C.UTF-8 \
      --no-instructions >"$dir/initdb.log" 2>&1 ||
      { echo "test-postgres: initdb failed:" >&2; cat "$dir/initdb.log" >&2; exit 1; }
    for attempt in 1 2 3; do
      port=$(free_port)
      if as_owner "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/socket" >/dev/null 2>&1; then
        echo "$port" >"$dir/port"
        echo "host=127.0.0.1 port=$port dbname=postgres user=custos"
        exit 0
      fi
    done
    echo "test-postgres: the server did not start:" >&2
    tail -n 20 "$dir/server.log" >&2 || true
    exit 1
    ;;
  stop)
    # Immediate: the cluster is deleted next, so its shutdown checkpoint
    # (writing back every test's tables, tens of seconds) is wasted work.
    if [[ -f "$dir/data/postmaster.pid" ]]; then
      as_owner "$pg_bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  fixture-start)
    if [[ -f "$dir/cluster" ]]; then
      "$0" stop "$(cat "$dir/cluster")"
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    cluster=$(mktemp -d "${TMPDIR:-/tmp}/custos-pg.XXXXXX")
    rmdir "$cluster"
    echo "$cluster" >"$dir/cluster"
    "$0" start "$cluster" >"$dir/dsn.tmp"
    mv "$dir/dsn.tmp" "$dir/dsn"
    cat "$dir/dsn"
    ;;
  fixture-stop)
    if [[ -f "$dir/cluster" ]]; then
      "$0" stop "$(cat "$dir/cluster")"
    fi
    rm -rf "$dir"
    ;;
  *)
    usage
    ;;
esac
