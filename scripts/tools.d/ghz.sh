# ghz, pinned, built from the Go module proxy: gRPC load generator for bench/.
GHZ_VERSION="${GHZ_VERSION:-0.121.0}"
# shellcheck source=lib/go.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh"

install_ghz() {
  local dir="$BPM_TOOLS/ghz-$GHZ_VERSION"
  [ -x "$dir/ghz" ] || tool_lock ghz
  if [ ! -x "$dir/ghz" ]; then
    go_install_pinned "$dir" "github.com/bojand/ghz/cmd/ghz@v$GHZ_VERSION" "-X main.version=v$GHZ_VERSION"
  fi
  ln -sf "$dir/ghz" "$BPM_TOOLS/bin/ghz"
  echo "$dir/ghz"
}
