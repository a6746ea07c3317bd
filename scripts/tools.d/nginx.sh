# nginx from Debian's packages: a baseline reverse proxy for gateway benchmarks.
# Tests run it with their own -c config and -p prefix; the system service is never used.
install_nginx() {
  local bin=/usr/sbin/nginx
  [ -x "$bin" ] || apt_install nginx
  [ -x "$bin" ] || { echo "tools.sh: nginx installed but $bin is missing" >&2; exit 1; }
  echo "$bin"
}
