# podman (and buildah, runc, catatonit) from Debian; prints podman's path.
# runc, not crun: crun fails on hybrid cgroups. catatonit backs `--init`. Debian bookworm pins 4.3.
install_podman() {
  if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1 || ! command -v catatonit >/dev/null 2>&1; then
    apt_install podman runc catatonit conmon
  fi
  command -v podman
}
