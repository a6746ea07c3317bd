#!/bin/bash
# bpm-postgres's entrypoint: initialises the data dir on first start (user, password, database from the
# environment, as the usual postgres image does), then runs the server in the foreground.
#   POSTGRES_PASSWORD (required on first start), POSTGRES_USER (bpm), POSTGRES_DB (= user)
#   PGPORT (5432), POSTGRES_LISTEN (127.0.0.1: the host network stays on loopback; * in a pod)
#   bpm-postgres ready      exit 0 once the server accepts connections (the HEALTHCHECK)
set -euo pipefail
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
: "${PGDATA:=/var/lib/postgresql/data}" "${PGPORT:=5432}" "${POSTGRES_USER:=bpm}" "${POSTGRES_LISTEN:=127.0.0.1}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
host="$POSTGRES_LISTEN"; [ "$host" = "*" ] || [ "$host" = "0.0.0.0" ] && host=127.0.0.1

if [ "${1:-}" = ready ]; then
  exec "$bin/pg_isready" -q -h "$host" -p "$PGPORT" -U "$POSTGRES_USER" -d "$POSTGRES_DB"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "bpm-postgres: POSTGRES_PASSWORD is required to initialise $PGDATA" >&2
    exit 2
  fi
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  "$bin/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C --no-instructions >/dev/null
  rm -f "$pwfile"
  if [ "$POSTGRES_DB" != postgres ]; then
    printf 'CREATE DATABASE "%s";\n' "$POSTGRES_DB" | "$bin/postgres" --single -D "$PGDATA" -j postgres >/dev/null
  fi
  echo "bpm-postgres: initialised $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)" >&2
fi
# the socket goes to /tmp: /run/postgresql may not exist or be writable
exec "$bin/postgres" -D "$PGDATA" -p "$PGPORT" -c listen_addresses="$POSTGRES_LISTEN" \
  -c unix_socket_directories=/tmp -c log_destination=stderr "$@"
