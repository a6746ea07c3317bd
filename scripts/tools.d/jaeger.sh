# Jaeger v2 (OTLP receiver + query API in one binary), pinned, built from the Go module proxy.
# Jaeger v2.x ships as Go module versions v1.x of github.com/jaegertracing/jaeger; v1.76.0 is v2.13.0.
# Its go.mod has a replace directive, which makes `go install m@v` refuse: build from a copy instead.
JAEGER_MODULE_VERSION="${JAEGER_MODULE_VERSION:-1.76.0}"
JAEGER_VERSION="${JAEGER_VERSION:-2.13.0}"  # what `jaeger version` reports (CHANGELOG: "v1.76.0 / v2.13.0")
# shellcheck source=lib/go.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh"

install_jaeger() {
  local dir="$BPM_TOOLS/jaeger-$JAEGER_MODULE_VERSION" bin
  bin="$dir/jaeger"
  [ -x "$bin" ] || tool_lock jaeger
  if [ ! -x "$bin" ]; then
    local work="$BPM_TOOLS/src/jaeger-$JAEGER_MODULE_VERSION" t0=$SECONDS go
    log "building jaeger (module v$JAEGER_MODULE_VERSION) from the Go module proxy (first time only)"
    go_prepare_replaced_source github.com/jaegertracing/jaeger "v$JAEGER_MODULE_VERSION" "$work"
    go="$(go_bin)"
    go_env
    mkdir -p "$dir"
    (cd "$work" && "$go" build -mod=mod -p "$BPM_GO_P" -trimpath \
      -ldflags="-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=v$JAEGER_VERSION" \
      -o "$bin.tmp" ./cmd/jaeger) >&2
    mv "$bin.tmp" "$bin"
    rm -rf "$work"
    log "built jaeger in $((SECONDS - t0)) s"
  fi
  ln -sf "$bin" "$BPM_TOOLS/bin/jaeger"
  echo "$bin"
}
