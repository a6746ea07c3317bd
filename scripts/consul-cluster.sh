#!/usr/bin/env bash
# The seed's 3-server Consul cluster (config/consul/server-{1,2,3}.hcl) plus one client agent
# (client.hcl), all on loopback, for trying it out and for tests.
#   scripts/consul-cluster.sh start|stop|status [--dir DIR]     (DIR default: .tmp/consul-cluster)
# Ports are picked free at start (other programs hold loopback ports); the effective config of
# each agent is written to DIR/<agent>/consul.hcl, its data to DIR/<agent>/data, logs to DIR/<agent>/consul.log.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmd="${1:-}"; shift || true
dir="$repo/.tmp/consul-cluster"
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="${2:?--dir needs a directory}"; shift 2 ;;
    --dir=*) dir="${1#--dir=}"; shift ;;
    *) echo "consul-cluster.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
agents=(server-1 server-2 server-3 client)

say() { echo "consul-cluster: $*" >&2; }

# port_taken IP PORT: something accepts TCP connections there (covers 0.0.0.0 listeners too).
port_taken() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# free_port IP: a random port below the ephemeral range that nothing listens on and we have not picked.
picked=" "
free_port() {
  local p i
  for i in $(seq 1 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12000 ))
    case "$picked" in *" $p "*) continue ;; esac
    port_taken "$1" "$p" && continue
    picked="$picked$p "
    echo "$p"; return 0
  done
  say "no free port found on $1"; exit 1
}

# loopback_ip WANTED: WANTED on Linux (it routes all of 127/8 to lo), else 127.0.0.1.
loopback_ip() {
  case "$(uname -s)" in Linux) echo "$1" ;; *) echo 127.0.0.1 ;; esac
}

hcl_value() { sed -n "s/^$2[[:space:]]*=[[:space:]]*\"\(.*\)\".*/\1/p" "$1" | head -1; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  local consul
  consul="$("$repo/scripts/tools.sh" consul)"
  if status_quiet; then say "already running in $dir"; print_addrs; return 0; fi
  stop_quiet
  mkdir -p "$dir"
  # Fresh data each start: the raft peer set records server ports, which are picked anew.
  local a ip serf joins=() http
  declare -A ips serfs https servers wans
  for a in "${agents[@]}"; do
    ip="$(loopback_ip "$(hcl_value "$repo/config/consul/$a.hcl" bind_addr)")"
    ips[$a]="$ip"; serfs[$a]="$(free_port "$ip")"; https[$a]="$(free_port "$ip")"
    servers[$a]="$(free_port "$ip")"; wans[$a]="$(free_port "$ip")"
    case "$a" in server-*) joins+=("\"$ip:${serfs[$a]}\"") ;; esac
  done
  local join_list; join_list="$(IFS=,; echo "${joins[*]}")"
  for a in "${agents[@]}"; do
    local d="$dir/$a"
    rm -rf "$d"; mkdir -p "$d/data"
    {
      echo "# Effective config for this run: $repo/config/consul/$a.hcl with run-time addresses and ports."
      grep -vE '^(retry_join|data_dir|bind_addr|client_addr)[[:space:]]*=' "$repo/config/consul/$a.hcl"
      echo
      echo "# --- run-time overrides (scripts/consul-cluster.sh) ---"
      echo "data_dir    = \"$d/data\""
      echo "bind_addr   = \"${ips[$a]}\""
      echo "client_addr = \"${ips[$a]}\""
      echo "retry_join  = [$join_list]"
      echo "ports {"
      echo "  http     = ${https[$a]}"
      echo "  dns      = -1"
      echo "  grpc     = -1"
      echo "  grpc_tls = -1"
      echo "  serf_lan = ${serfs[$a]}"
      echo "  serf_wan = ${wans[$a]}"
      echo "  server   = ${servers[$a]}"
      echo "}"
    } > "$d/consul.hcl"
    echo "http://${ips[$a]}:${https[$a]}" > "$d/http_addr"
    # setsid: the agents outlive this script and ignore the terminal's Ctrl-C.
    setsid nohup "$consul" agent -config-file "$d/consul.hcl" > "$d/consul.log" 2>&1 < /dev/null &
    echo $! > "$d/pid"
  done
  say "waiting for a leader (logs: $dir/*/consul.log)"
  local deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    for a in "${agents[@]}"; do
      pid_alive "$dir/$a/pid" || { say "$a exited; last log lines:"; tail -20 "$dir/$a/consul.log" >&2; stop_quiet; exit 1; }
    done
    if has_leader >/dev/null && client_joined; then print_addrs; return 0; fi
    sleep 0.5
  done
  say "no leader with every agent joined after 60 s; see $dir/*/consul.log"; stop_quiet; exit 1
}

# client_joined: the client agent sees all four agents alive and knows the leader — a raft leader
# among the servers alone is not enough, the client's retry_join may still be under way.
client_joined() {
  local consul addr
  consul="$("$repo/scripts/tools.sh" consul 2>/dev/null)"
  addr="$(cat "$dir/client/http_addr")"
  [ "$(CONSUL_HTTP_ADDR="$addr" "$consul" members 2>/dev/null | grep -c ' alive ')" -ge "${#agents[@]}" ] || return 1
  CONSUL_HTTP_ADDR="$addr" "$consul" operator raft list-peers 2>/dev/null | grep -q leader
}

# has_leader: some running server sees three raft peers, one of them the leader.
has_leader() {
  local consul out a
  consul="$("$repo/scripts/tools.sh" consul 2>/dev/null)"
  for a in server-1 server-2 server-3; do
    pid_alive "$dir/$a/pid" || continue
    out="$(CONSUL_HTTP_ADDR="$(cat "$dir/$a/http_addr")" "$consul" operator raft list-peers 2>/dev/null)" || continue
    [ "$(grep -c -E 'leader|follower' <<<"$out")" -ge 3 ] && grep -q leader <<<"$out" && { echo "$out"; return 0; }
  done
  return 1
}

print_addrs() {
  local a
  for a in "${agents[@]}"; do echo "$a $(cat "$dir/$a/http_addr")"; done
  echo "# export CONSUL_HTTP_ADDR=$(cat "$dir/client/http_addr")" >&2
}

status_quiet() {
  local a
  for a in "${agents[@]}"; do pid_alive "$dir/$a/pid" || return 1; done
}

status() {
  local a up=0
  for a in "${agents[@]}"; do
    if pid_alive "$dir/$a/pid"; then echo "$a up   $(cat "$dir/$a/http_addr") pid $(cat "$dir/$a/pid")"; up=$((up + 1))
    else echo "$a down"; fi
  done
  [ "$up" -gt 0 ] || return 3
  if ! has_leader; then
    echo "no leader"; return 1
  fi
}

# stop_quiet: SIGTERM each agent (servers shut down keeping raft state; the client leaves), then SIGKILL after 15 s.
stop_quiet() {
  local a pid i
  for a in "${agents[@]}"; do
    pid_alive "$dir/$a/pid" && kill -TERM "$(cat "$dir/$a/pid")" 2>/dev/null || true
  done
  for a in "${agents[@]}"; do
    [ -f "$dir/$a/pid" ] || continue
    pid="$(cat "$dir/$a/pid")"
    for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { say "$a did not stop in 15 s; killing"; kill -KILL "$pid" 2>/dev/null || true; }
    rm -f "$dir/$a/pid"
  done
}

case "$cmd" in
  start) start ;;
  stop) stop_quiet; say "stopped ($dir kept for its logs)" ;;
  status) status ;;
  *) echo "usage: scripts/consul-cluster.sh start|stop|status [--dir DIR]" >&2; exit 2 ;;
esac
