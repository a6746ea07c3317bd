# Consul: `consul` from PATH when ≥ 1.17, else a pinned release built from the Go module proxy.
# `go install github.com/hashicorp/consul@v…` refuses (go.mod replaces ./api, ./sdk, …), so the
# source is copied out of the module cache and each replaced module is filled in beside it.
CONSUL_VERSION="${CONSUL_VERSION:-1.22.7}"
CONSUL_MIN_MINOR=17
# v1.22.7's go.mod requires api v1.33.7, which lacks fields its ./api has (ACLToken.Name,
# ACLAuthMethod.TokenNameFormat): build fails. api v1.34.1 (published 8 days before) has them. Others: as required.
if [ "$CONSUL_VERSION" = 1.22.7 ]; then
  CONSUL_NESTED_PINS="${CONSUL_NESTED_PINS:-github.com/hashicorp/consul/api@v1.34.1}"
fi
# shellcheck source=lib/go.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh"

# consul_version_ok BIN: true when BIN reports Consul 1.x with x ≥ CONSUL_MIN_MINOR.
consul_version_ok() {
  local v
  v="$("$1" version 2>/dev/null | sed -n '1s/^Consul v\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')"
  [ -n "$v" ] || return 1
  set -- $v
  [ "$1" -gt 1 ] || { [ "$1" -eq 1 ] && [ "$2" -ge "$CONSUL_MIN_MINOR" ]; }
}

install_consul() {
  local dir="$BPM_TOOLS/consul-$CONSUL_VERSION" bin found
  bin="$dir/consul"
  if [ ! -x "$bin" ]; then
    # No cached build: an installed consul ≥ 1.17 saves building one.
    found="$(command -v consul 2>/dev/null || true)"
    if [ -n "$found" ] && consul_version_ok "$found"; then
      readlink -f "$found"
      return
    fi
    tool_lock consul
  fi
  if [ ! -x "$bin" ]; then
    local work="$BPM_TOOLS/src/consul-$CONSUL_VERSION" t0=$SECONDS go
    log "building consul $CONSUL_VERSION from the Go module proxy (first time only; ~10-20 min on 2 cores)"
    go_prepare_replaced_source github.com/hashicorp/consul "v$CONSUL_VERSION" "$work" "${CONSUL_NESTED_PINS:-}"
    go="$(go_bin)"
    go_env
    mkdir -p "$dir"
    # Empty VersionPrerelease: `consul version` says v1.22.7, not v1.22.7-dev.
    (cd "$work" && "$go" build -mod=mod -p "$BPM_GO_P" -trimpath \
      -ldflags="-s -w -X github.com/hashicorp/consul/version.VersionPrerelease= -X github.com/hashicorp/consul/version.GitCommit=v$CONSUL_VERSION" \
      -o "$bin.tmp" .) >&2
    mv "$bin.tmp" "$bin"
    rm -rf "$work"
    log "built consul $CONSUL_VERSION in $((SECONDS - t0)) s"
  fi
  ln -sf "$bin" "$BPM_TOOLS/bin/consul"
  echo "$bin"
}
