# wrk (HTTP load generator) from Debian's packages, for bench/.
install_wrk() {
  command -v wrk >/dev/null 2>&1 || apt_install wrk
  command -v wrk
}
