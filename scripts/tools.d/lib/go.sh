# Go helpers for tools built from the Go module proxy. Sourced by tools.d/*.sh, not run.
# Lives in lib/ so `scripts/tools.sh list` does not mistake it for a tool.
# Every Go cache sits under $BPM_TOOLS/go so a second build reuses downloads and objects.

# go_bin: prints the path of a usable `go` (PATH first, then the usual install dir).
go_bin() {
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  local g
  for g in /usr/local/go/bin/go /usr/lib/go/bin/go "$HOME/go/bin/go" "$HOME/sdk/go/bin/go"; do
    [ -x "$g" ] && { echo "$g"; return; }
  done
  echo "tools.sh: Go is required to build this tool (install Go ≥ 1.23, e.g. /usr/local/go)" >&2
  exit 1
}

# go_env: exports the cache locations, so `go` writes only under $BPM_TOOLS/go.
go_env() {
  export GOMODCACHE="$BPM_TOOLS/go/mod"
  export GOCACHE="$BPM_TOOLS/go/cache"
  export GOPATH="$BPM_TOOLS/go/path"
  # -modcacherw: the cache stays deletable with rm -rf; -buildvcs=false: sources come from zips.
  export GOFLAGS="-modcacherw -buildvcs=false"
  export CGO_ENABLED="${CGO_ENABLED:-0}"
  # 2 parallel compiles: the CI machine has 2 cores that tests share.
  export BPM_GO_P="${BPM_GO_P:-2}"
  mkdir -p "$GOMODCACHE" "$GOCACHE" "$GOPATH"
}

# tool_lock NAME: waits while another tools.sh builds NAME (parallel test runs); held until this process exits.
tool_lock() {
  command -v flock >/dev/null 2>&1 || return 0
  local fd
  exec {fd}>"$BPM_TOOLS/.lock-$1"
  flock "$fd"
}

# go_install_pinned DEST_DIR PKG@VERSION [LDFLAGS]: `go install` into DEST_DIR (modules without replaces).
go_install_pinned() {
  local dest="$1" pkgver="$2" ldflags="-s -w ${3:-}" go
  go="$(go_bin)"
  go_env
  mkdir -p "$dest"
  local t0=$SECONDS
  log "building $pkgver with $("$go" env GOVERSION) (first time only)"
  GOBIN="$dest" "$go" install -p "$BPM_GO_P" -trimpath -ldflags="$ldflags" "$pkgver" >&2
  log "built $pkgver in $((SECONDS - t0)) s"
}

# go_module_source MODULE VERSION: prints the read-only source dir of MODULE@VERSION in the module cache.
go_module_source() {
  local go
  go="$(go_bin)"
  go_env
  "$go" mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

# go_local_replaces GOMOD: prints "MODULE DIR" for each replace of a module by a local ./path.
go_local_replaces() {
  awk '
    /^replace[[:space:]]*\(/ { inblock = 1; next }
    inblock && /^\)/ { inblock = 0; next }
    { line = $0; sub(/^replace[[:space:]]+/, "", line) }
    (inblock || $1 == "replace") && line ~ /=>[[:space:]]*\.\.?\// {
      split(line, parts, /[[:space:]]*=>[[:space:]]*/)
      n = split(parts[1], left, /[[:space:]]+/); mod = left[1]; if (mod == "") mod = left[2]
      split(parts[2], right, /[[:space:]]+/)
      print mod, right[1]
    }' "$1"
}

# go_required_version GOMOD MODULE: prints the version GOMOD requires of MODULE.
go_required_version() {
  awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1"
}

# go_prepare_replaced_source MODULE VERSION WORKDIR [PINS]: copies MODULE@VERSION to WORKDIR and fills
# in every module its go.mod replaces with a ./path, at the version its go.mod requires, or at the
# version PINS names ("module@version …") when the required release is older than the tagged source.
# Needed because `go install m@v` refuses modules whose go.mod has replace directives.
go_prepare_replaced_source() {
  local module="$1" version="$2" work="$3" pins=" ${4:-} " src mod dir ver nsrc
  src="$(go_module_source "$module" "$version")"
  [ -n "$src" ] && [ -d "$src" ] || { echo "tools.sh: could not download $module@$version" >&2; exit 1; }
  rm -rf "$work"; mkdir -p "$(dirname "$work")"
  cp -R "$src" "$work"; chmod -R u+w "$work"
  while read -r mod dir; do
    [ -n "$mod" ] || continue
    ver="$(go_required_version "$work/go.mod" "$mod")"
    case "$pins" in *" $mod@"*) ver="${pins#* $mod@}"; ver="${ver%% *}" ;; esac
    if [ -z "$ver" ]; then
      log "  $mod is replaced but not required by $module; skipping"
      continue
    fi
    log "  $mod@$ver -> $dir"
    nsrc="$(go_module_source "$mod" "$ver")"
    [ -n "$nsrc" ] && [ -d "$nsrc" ] || { echo "tools.sh: could not download $mod@$ver" >&2; exit 1; }
    rm -rf "${work:?}/$dir"; mkdir -p "$work/$dir"
    cp -R "$nsrc/." "$work/$dir/"; chmod -R u+w "$work/$dir"
  done < <(go_local_replaces "$work/go.mod")
}
