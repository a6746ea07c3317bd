# Shared helpers for scripts/tools.d/*.sh. Sourced, not run.
log() { echo "tools: $*" >&2; }

# apt_install PKG…: installs Debian packages once, running apt-get update only when needed.
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "installing Debian packages: ${missing[*]}"
  # apt refuses to run beside another apt; installers of different tools may meet here
  local lock; exec {lock}>"$BPM_TOOLS/.lock-apt"; flock "$lock"
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  exec {lock}>&-
}
