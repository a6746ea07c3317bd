# openssl from Debian's packages: tests/integration/grpc-tls.test.ts makes a throwaway CA and
# role certificates with it.
install_openssl() {
  local bin=/usr/bin/openssl
  [ -x "$bin" ] || apt_install openssl
  [ -x "$bin" ] || { echo "tools.sh: openssl installed but $bin is missing" >&2; exit 1; }
  echo "$bin"
}
