# dockerfilelint (npm), pinned, installed under $BPM_TOOLS with its own prefix (not into package.json).
# An offline Dockerfile linter: hadolint's npm wrapper downloads its binary from GitHub and fails here.
DOCKERFILELINT_VERSION="${DOCKERFILELINT_VERSION:-1.8.0}"

install_dockerfilelint() {
  local dir="$BPM_TOOLS/dockerfilelint-$DOCKERFILELINT_VERSION" bin
  bin="$dir/node_modules/.bin/dockerfilelint"
  if [ ! -x "$bin" ]; then
    command -v npm >/dev/null 2>&1 || { echo "tools.sh: npm is required to install dockerfilelint" >&2; exit 1; }
    log "installing dockerfilelint $DOCKERFILELINT_VERSION from npm into $dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "dockerfilelint@$DOCKERFILELINT_VERSION" >&2
  fi
  ln -sf "$bin" "$BPM_TOOLS/bin/dockerfilelint"
  echo "$bin"
}
