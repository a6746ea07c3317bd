# Sourced (not run): points podman/buildah at bpm's project-local config and storage.
# Renders containers/*.conf.in into $BPM_CONTAINERS_STATE (default: <repo>/.tmp/containers, git-ignored)
# with this machine's ulimits and paths, then exports CONTAINERS_CONF, CONTAINERS_STORAGE_CONF and
# BUILDAH_ISOLATION. Nothing outside the state dir is written.
bpm_containers_env() {
  local here root state nofile nproc init_path driver
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  root="$(dirname "$here")"
  state="${BPM_CONTAINERS_STATE:-$root/.tmp/containers}"
  mkdir -p "$state/tmp"
  state="$(cd "$state" && pwd)"
  # Defaults above the hard limits make every `podman run` fail in setrlimit.
  nofile="$(ulimit -Hn)"; [ "$nofile" = unlimited ] && nofile=1048576
  nproc="$(ulimit -Hu)"; { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
  init_path="$(command -v catatonit 2>/dev/null || echo /usr/libexec/podman/catatonit)"
  driver="${BPM_CONTAINERS_DRIVER:-overlay}"
  sed -e "s|@STATE@|$state|g" -e "s|@NOFILE@|$nofile|g" -e "s|@NPROC@|$nproc|g" -e "s|@INIT_PATH@|$init_path|g" \
    "$here/containers.conf.in" >"$state/containers.conf.$$"
  sed -e "s|@STATE@|$state|g" -e "s|@DRIVER@|$driver|g" "$here/storage.conf.in" >"$state/storage.conf.$$"
  # Renamed into place so a concurrent reader never sees a half-written file.
  mv -f "$state/containers.conf.$$" "$state/containers.conf"
  mv -f "$state/storage.conf.$$" "$state/storage.conf"
  export BPM_CONTAINERS_STATE="$state"
  export CONTAINERS_CONF="$state/containers.conf"
  export CONTAINERS_STORAGE_CONF="$state/storage.conf"
  # No user namespaces or nested runtimes needed to build a FROM-scratch image.
  export BUILDAH_ISOLATION=chroot
  # podman reads registries from the host config; none are reachable, and nothing is pulled.
  export CONTAINERS_REGISTRIES_CONF="$here/registries.conf"
}
bpm_containers_env
