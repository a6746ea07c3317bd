# openapi-spec-validator (PyPI) in its own venv: checks the gateway's /openapi.json against the OpenAPI 3.1 schema.
OPENAPI_VALIDATOR_VERSION="${OPENAPI_VALIDATOR_VERSION:-0.7.1}"
install_openapi_spec_validator() {
  local venv="$BPM_TOOLS/openapi-spec-validator-$OPENAPI_VALIDATOR_VERSION"
  if [ ! -x "$venv/bin/openapi-spec-validator" ]; then
    log "installing openapi-spec-validator $OPENAPI_VALIDATOR_VERSION from PyPI"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q "openapi-spec-validator==$OPENAPI_VALIDATOR_VERSION" >&2
  fi
  echo "$venv/bin/openapi-spec-validator"
}
