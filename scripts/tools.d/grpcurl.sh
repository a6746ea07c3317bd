# grpcurl, pinned, built from the Go module proxy: a Go gRPC client (stricter HTTP/2 than JS peers).
GRPCURL_VERSION="${GRPCURL_VERSION:-1.9.4}"
# shellcheck source=lib/go.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh"

install_grpcurl() {
  local dir="$BPM_TOOLS/grpcurl-$GRPCURL_VERSION"
  [ -x "$dir/grpcurl" ] || tool_lock grpcurl
  if [ ! -x "$dir/grpcurl" ]; then
    go_install_pinned "$dir" "github.com/fullstorydev/grpcurl/cmd/grpcurl@v$GRPCURL_VERSION" "-X main.version=v$GRPCURL_VERSION"
  fi
  ln -sf "$dir/grpcurl" "$BPM_TOOLS/bin/grpcurl"
  echo "$dir/grpcurl"
}
