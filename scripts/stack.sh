#!/usr/bin/env bash
# The whole stack of deploy/compose.yaml on this machine, with podman-compose and the project's own
# podman config (scripts/podman.sh): 3 Consul servers and this host's Consul agent, PostgreSQL, Jaeger,
# the gateway, 2× task-service, form-service, 2× process-service. Host network, 127.0.0.1 only.
#   scripts/stack.sh up [--free-ports] [--scale SERVICE=N]…   build missing images, start, wait until ready
#   scripts/stack.sh up --infra …                             only Consul, PostgreSQL and Jaeger
#   scripts/stack.sh down                                     stop; remove containers and volumes
#   scripts/stack.sh ps | logs SERVICE | env | compose ARGS…
# --free-ports picks a free loopback port for every listener (else the defaults: gateway 8000, Consul
# 8500, Jaeger UI 16686, PostgreSQL 5432, …). The ports in use are kept in $BPM_STACK_ENV
# (.tmp/stack.env), which `down`, `ps` and `env` read again; `env` prints them. BPM_STACK_PROJECT
# (bpm) names the compose project: containers are PROJECT_SERVICE_N, volumes PROJECT_NAME.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=../containers/env.sh
source "$root/containers/env.sh"
podman="${BPM_PODMAN:-$("$root/scripts/tools.sh" podman)}"
compose_bin="$("$root/scripts/tools.sh" podman-compose)"
env_file="${BPM_STACK_ENV:-$root/.tmp/stack.env}"
file="$root/deploy/compose.yaml"
project="${BPM_STACK_PROJECT:-bpm}"
# every port variable of deploy/compose.yaml
PORT_VARS=(BPM_GATEWAY_PORT BPM_CONSUL_HTTP_PORT BPM_CONSUL_SERF_PORT
  BPM_CONSUL_1_HTTP_PORT BPM_CONSUL_1_SERVER_PORT BPM_CONSUL_1_SERF_PORT
  BPM_CONSUL_2_HTTP_PORT BPM_CONSUL_2_SERVER_PORT BPM_CONSUL_2_SERF_PORT
  BPM_CONSUL_3_HTTP_PORT BPM_CONSUL_3_SERVER_PORT BPM_CONSUL_3_SERF_PORT
  BPM_POSTGRES_PORT BPM_JAEGER_OTLP_PORT BPM_JAEGER_UI_PORT BPM_JAEGER_QUERY_GRPC_PORT)

compose() { "$compose_bin" --podman-path "$podman" --env-file "$env_file" -p "$project" -f "$file" "$@"; }
port_of() { sed -n "s/^$1=//p" "$env_file"; }

# free_ports N: N distinct loopback ports nothing listens on now (TCP and UDP: Serf uses both)
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
held, ports = [], []
while len(ports) < int(sys.argv[1]):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try: u.bind(("127.0.0.1", p))
    except OSError: t.close(); u.close(); continue
    held += [t, u]; ports.append(p)
print(" ".join(map(str, ports)))
PY
}

write_env() {
  local free=0 ports i=0 v
  [ "${1:-}" = --free-ports ] && free=1
  mkdir -p "$(dirname "$env_file")"
  {
    echo "# written by scripts/stack.sh up: the stack's ports"
    if [ "$free" = 1 ]; then
      read -r -a ports <<<"$(free_ports ${#PORT_VARS[@]})"
      for v in "${PORT_VARS[@]}"; do echo "$v=${!v:-${ports[$i]}}"; i=$((i + 1)); done
    else
      for v in "${PORT_VARS[@]}"; do [ -n "${!v:-}" ] && echo "$v=${!v}"; done
    fi
    for v in POSTGRES_PASSWORD BPM_LOG_LEVEL BPM_TAG BPM_REGISTRY BPM_CONFIG_FILE; do [ -n "${!v:-}" ] && echo "$v=${!v}"; done
    echo "BPM_JWT_SECRET_FILE=$(jwt_secret)"
  } >"$env_file"
}

# jwt_secret: the HMAC secret every bpm instance verifies tokens with (made once, beside the env file),
# readable by the images' user 65532 only
jwt_secret() {
  local f
  f="$(cd "$(dirname "$env_file")" && pwd)/jwt-secret"
  if [ ! -s "$f" ]; then
    (umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$f.tmp" && echo >>"$f.tmp")
    [ "$(id -u)" != 0 ] || chown 65532:65532 "$f.tmp"
    chmod 0400 "$f.tmp"
    mv -f "$f.tmp" "$f"
  fi
  echo "$f"
}

# value VAR DEFAULT: the stack's value of VAR
value() { local v; v="$(port_of "$1")"; echo "${v:-$2}"; }

INFRA=(consul-server-1 consul-server-2 consul-server-3 consul-agent postgres jaeger)

# ready [infra]: Consul has a leader and PostgreSQL accepts connections; and the gateway's /health is UP
ready() {
  [ -n "$(curl -fsS "$consul/v1/status/leader" 2>/dev/null | tr -d '"')" ] || return 1
  "$podman" exec "${project}_postgres_1" /usr/local/bin/bpm-postgres ready 2>/dev/null || return 1
  [ "${1:-}" = infra ] || curl -fsS "$gw/health" 2>/dev/null | grep -q '"UP"'
}

wait_ready() {
  local gw consul deadline=$((SECONDS + ${BPM_STACK_TIMEOUT:-180}))
  gw="http://127.0.0.1:$(value BPM_GATEWAY_PORT 8000)"
  consul="http://127.0.0.1:$(value BPM_CONSUL_HTTP_PORT 8500)"
  until ready "${1:-}"; do
    if [ $SECONDS -ge $deadline ]; then
      echo "stack.sh: not ready after ${BPM_STACK_TIMEOUT:-180} s (Consul leader at $consul, $gw/health UP); see: scripts/stack.sh ps / logs SERVICE" >&2
      return 1
    fi
    sleep 1
  done
}

cmd="${1:-}"; [ $# -gt 0 ] && shift
case "$cmd" in
  up)
    env_arg=""; scale=(); only=()
    while [ $# -gt 0 ]; do
      case "$1" in
        --free-ports) env_arg=--free-ports ;;
        --infra) only=("${INFRA[@]}") ;;
        --scale) scale+=(--scale "$2"); shift ;;
        --scale=*) scale+=(--scale "${1#--scale=}") ;;
        *) echo "stack.sh up: unknown argument '$1'" >&2; exit 2 ;;
      esac
      shift
    done
    write_env "$env_arg"
    # the stack's parts when their inputs changed, and
    # the role images when missing or holding another ./bpm
    [ -x "${BPM_BIN:-$root/bpm}" ] || "$root/scripts/build.sh"
    sha="$(sha256sum "${BPM_BIN:-$root/bpm}" | cut -c1-32)"
    missing=()
    for r in gateway task-service form-service process-service; do
      [ "$("$podman" image inspect --format '{{index .Labels "io.bpm.binary"}}' "localhost/bpm-$r:latest" 2>/dev/null || true)" = "$sha" ] || missing+=("$r")
    done
    "$root/scripts/image.sh" --no-save consul jaeger postgres ${missing[@]+"${missing[@]}"}
    # Consul, PostgreSQL and Jaeger first: podman 4.3 cannot wait for `condition: service_healthy`
    # (podman-compose skips it), and a role that finds no database at start exits
    compose up -d "${INFRA[@]}" >&2
    wait_ready infra
    [ ${#only[@]} -gt 0 ] && exit 0
    compose up -d ${scale[@]+"${scale[@]}"} >&2
    wait_ready
    echo "stack.sh: up — gateway http://127.0.0.1:$(value BPM_GATEWAY_PORT 8000), Consul UI http://127.0.0.1:$(value BPM_CONSUL_HTTP_PORT 8500)/ui, Jaeger UI http://127.0.0.1:$(value BPM_JAEGER_UI_PORT 16686)" >&2
    ;;
  down)
    [ -f "$env_file" ] || write_env
    # an env file from before the secret existed still names every container
    BPM_JWT_SECRET_FILE="${BPM_JWT_SECRET_FILE:-/dev/null}" compose down -v -t 20 >&2 || true
    # a container whose restart policy brought it back while `down` ran, and what it left
    for _ in 1 2 3; do
      left="$("$podman" ps -aq --filter "label=io.podman.compose.project=$project")"
      [ -z "$left" ] || "$podman" rm --force --volumes $left >/dev/null 2>&1 || true
      vols="$("$podman" volume ls -q --filter "label=io.podman.compose.project=$project")"
      [ -z "$vols" ] || "$podman" volume rm --force $vols >/dev/null 2>&1 || true
      [ -n "$left$vols" ] || break
    done
    if [ -n "$("$podman" ps -aq --filter "label=io.podman.compose.project=$project")$("$podman" volume ls -q --filter "label=io.podman.compose.project=$project")" ]; then
      echo "stack.sh: containers or volumes of $project are still there: scripts/stack.sh ps" >&2
      exit 1
    fi
    ;;
  ps) "$podman" ps -a --filter label=io.podman.compose.project=$project ;;
  logs) "$podman" logs "$@" ;;
  env) [ -f "$env_file" ] && grep -v '^#' "$env_file" || true ;;
  compose) compose "$@" ;;
  *) sed -n '2,11s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
