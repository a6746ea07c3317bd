#!/usr/bin/env bash
# deploy/k8s/ on this machine with `podman kube play`, the same images as the compose stack.
#   scripts/kube-play.sh up      Consul, PostgreSQL and Jaeger from deploy/compose.yaml (scripts/stack.sh
#                                up --infra --free-ports), then the four role Deployments as pods on the
#                                host network, each on a free port; waits until the gateway is UP
#   scripts/kube-play.sh down    removes the pods, their volumes, the secret, and the infrastructure
#   scripts/kube-play.sh env     the ports in use (BPM_KUBE_GATEWAY_PORT: the gateway pod, …)
# The manifests are rendered for one host network by scripts/lib/kube-play-render.ts (it says why).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
podman="$root/scripts/podman.sh"
state="$root/.tmp/kube-play"
export BPM_STACK_ENV="$state/stack.env"
# its own compose project, so a compose stack and a kube play can run side by side
export BPM_STACK_PROJECT="${BPM_STACK_PROJECT:-bpm-kube}"
play="$state/play.yaml"
ports_file="$state/ports.env"
bun="$("$root/scripts/tools.sh" bun)"
mkdir -p "$state"

free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))
PY
}
value() { sed -n "s/^$1=//p" "$BPM_STACK_ENV" "$ports_file" 2>/dev/null | head -1; }

case "${1:-}" in
  up)
    "$root/scripts/stack.sh" up --infra --free-ports
    # the four role images (consul, jaeger and postgres were made by stack.sh)
    # the role images when missing or holding another ./bpm
    [ -x "${BPM_BIN:-$root/bpm}" ] || "$root/scripts/build.sh"
    sha="$(sha256sum "${BPM_BIN:-$root/bpm}" | cut -c1-32)"
    missing=()
    for r in gateway task-service form-service process-service; do
      [ "$("$podman" image inspect --format '{{index .Labels "io.bpm.binary"}}' "localhost/bpm-$r:latest" 2>/dev/null || true)" = "$sha" ] || missing+=("$r")
    done
    [ ${#missing[@]} -eq 0 ] || "$root/scripts/image.sh" --no-save "${missing[@]}"
    read -r gw t t2 f f2 p p2 <<<"$(free_ports 7)"
    printf 'BPM_KUBE_GATEWAY_PORT=%s\nBPM_KUBE_TASK_PORT=%s\nBPM_KUBE_FORM_PORT=%s\nBPM_KUBE_PROCESS_PORT=%s\n' "$gw" "$t" "$f" "$p" >"$ports_file"
    BPM_KUBE_PORTS="gateway=$gw task-service=$t,$t2 form-service=$f,$f2 process-service=$p,$p2" \
      BPM_CONSUL_HTTP_ADDR="127.0.0.1:$(value BPM_CONSUL_HTTP_PORT)" \
      BPM_OTLP_ENDPOINT="http://127.0.0.1:$(value BPM_JAEGER_OTLP_PORT)" \
      BPM_JWT_SECRET_FILE="$(value BPM_JWT_SECRET_FILE)" \
      "$bun" "$root/scripts/lib/kube-play-render.ts" >"$play"
    # podman 4.3 reads a secret for secretKeyRef as JSON: key → base64 value
    url="postgres://bpm:${POSTGRES_PASSWORD:-bpm}@127.0.0.1:$(value BPM_POSTGRES_PORT)/bpm"
    "$podman" secret rm bpm-database >/dev/null 2>&1 || true
    python3 -c 'import base64, json, sys; print(json.dumps({"url": base64.b64encode(sys.argv[1].encode()).decode()}))' "$url" \
      | "$podman" secret create bpm-database - >/dev/null
    "$podman" kube play --network host "$play" >/dev/null
    # the manifests' probes (GET /health on the role's port), run as `bpm health` inside each pod
    deadline=$((SECONDS + ${BPM_STACK_TIMEOUT:-180}))
    for rp in "gateway:$gw" "task-service:$t" "form-service:$f" "process-service:$p"; do
      role="${rp%%:*}"
      until "$podman" exec "bpm-$role-pod-0-$role" /bpm health --host 127.0.0.1 --port "${rp##*:}" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then echo "kube-play.sh: the $role pod is not UP on 127.0.0.1:${rp##*:}" >&2; exit 1; fi
        sleep 1
      done
    done
    echo "kube-play.sh: up — gateway pod http://127.0.0.1:$gw, Consul UI http://127.0.0.1:$(value BPM_CONSUL_HTTP_PORT)/ui, Jaeger UI http://127.0.0.1:$(value BPM_JAEGER_UI_PORT)" >&2
    ;;
  down)
    if [ -f "$play" ]; then
      "$podman" kube down "$play" >/dev/null 2>&1 || true
      # podman 4.3's kube down keeps the volumes it made for configMap volumes
      for v in $(awk '/^ *configMap:$/ { getline; sub(/^ *name: /, ""); print }' "$play" | sort -u); do
        "$podman" volume rm --force "$v" >/dev/null 2>&1 || true
      done
    fi
    "$podman" secret rm bpm-database >/dev/null 2>&1 || true
    [ -f "$BPM_STACK_ENV" ] && "$root/scripts/stack.sh" down
    rm -f "$play" "$ports_file"
    ;;
  env) cat "$BPM_STACK_ENV" "$ports_file" 2>/dev/null | grep -v '^#' || true ;;
  *) sed -n '2,8s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
