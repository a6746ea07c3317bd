# podman-compose (PyPI), pinned, in its own venv: runs deploy/compose.yaml with podman. Debian's podman
# 4.3 has no `podman compose`. Prints the podman-compose executable; use it through scripts/podman.sh's
# environment (scripts/compose.sh) so it gets the project-local podman config.
PODMAN_COMPOSE_VERSION="${PODMAN_COMPOSE_VERSION:-1.6.0}"
install_podman_compose() {
  local venv="$BPM_TOOLS/podman-compose-$PODMAN_COMPOSE_VERSION"
  if [ ! -x "$venv/bin/podman-compose" ]; then
    log "installing podman-compose $PODMAN_COMPOSE_VERSION from PyPI"
    python3 -m venv "$venv.tmp" >&2
    "$venv.tmp/bin/pip" install -q "podman-compose==$PODMAN_COMPOSE_VERSION" >&2
    rm -rf "$venv" && mv "$venv.tmp" "$venv"
    # the venv's scripts name their interpreter by the path they were installed under
    sed -i "1s|$venv.tmp|$venv|" "$venv"/bin/*
  fi
  echo "$venv/bin/podman-compose"
}
