# The Compose Specification's JSON schema, as Docker Compose itself embeds it: schema/compose-spec.json
# of the compose-go Go module, fetched with `go mod download` (no build). Prints the schema's path.
COMPOSE_GO_VERSION="${COMPOSE_GO_VERSION:-2.16.2}"
# shellcheck source=lib/go.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh"

install_compose_schema() {
  local dir="$BPM_TOOLS/compose-spec-$COMPOSE_GO_VERSION" src
  if [ ! -f "$dir/compose-spec.json" ]; then
    src="$(go_module_source github.com/compose-spec/compose-go/v2 "v$COMPOSE_GO_VERSION")"
    [ -f "$src/schema/compose-spec.json" ] || { echo "tools.sh: no schema/compose-spec.json in compose-go v$COMPOSE_GO_VERSION" >&2; exit 1; }
    mkdir -p "$dir"
    cp "$src/schema/compose-spec.json" "$dir/compose-spec.json"
  fi
  echo "$dir/compose-spec.json"
}
