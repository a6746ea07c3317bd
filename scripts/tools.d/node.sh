# Node.js from Debian's packages: the reference HTTP/1.1 parser (llhttp behind node:http) the raw
# front is fuzzed against (tests/unit/transport/http1-differential.test.ts). Any node ≥ 18 will do.
install_node() {
  local bin=/usr/bin/node
  [ -x "$bin" ] || apt_install nodejs
  [ -x "$bin" ] || { echo "tools.sh: nodejs installed but $bin is missing" >&2; exit 1; }
  echo "$bin"
}
