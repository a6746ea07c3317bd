# Schemathesis (PyPI) in its own venv: property-based and stateful fuzzing of the REST API from /openapi.json.
SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
install_schemathesis() {
  local venv="$BPM_TOOLS/schemathesis-$SCHEMATHESIS_VERSION"
  if [ ! -x "$venv/bin/st" ]; then
    log "installing schemathesis $SCHEMATHESIS_VERSION from PyPI"
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" >&2
  fi
  echo "$venv/bin/st"
}
