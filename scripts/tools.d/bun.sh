# Bun, pinned, from the npm registry (the binary ships inside the package).
BUN_VERSION="${BUN_VERSION:-1.4.5}"
install_bun() {
  local dir="$BPM_TOOLS/bun-$BUN_VERSION"
  local bin="$dir/node_modules/.bin/bun"
  if [ ! -x "$bin" ] || [ "$("$bin" --version 2>/dev/null)" != "$BUN_VERSION" ]; then
    log "installing bun $BUN_VERSION from the npm registry"
    command -v npm >/dev/null || { echo "tools.sh: npm is required to install bun" >&2; exit 1; }
    npm install --silent --no-audit --no-fund --prefix "$dir" "bun@$BUN_VERSION" >&2
  fi
  ln -sf "$bin" "$BPM_TOOLS/bin/bun"
  echo "$bin"
}
