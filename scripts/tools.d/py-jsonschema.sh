# Python's jsonschema (with PyYAML) from PyPI, pinned, installed under $BPM_TOOLS (never system-wide).
# Prints the directory to put on PYTHONPATH. Keyed by the Python version: wheels are per interpreter.
PY_JSONSCHEMA_VERSION="${PY_JSONSCHEMA_VERSION:-4.23.0}"
PY_YAML_VERSION="${PY_YAML_VERSION:-6.0.2}"

install_py_jsonschema() {
  command -v python3 >/dev/null 2>&1 || { echo "tools.sh: python3 (with pip) is required for jsonschema" >&2; exit 1; }
  local py dir
  py="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
  dir="$BPM_TOOLS/py$py-jsonschema-$PY_JSONSCHEMA_VERSION"
  if [ ! -f "$dir/jsonschema/__init__.py" ] || [ ! -d "$dir/yaml" ]; then
    log "installing jsonschema $PY_JSONSCHEMA_VERSION and PyYAML $PY_YAML_VERSION from PyPI into $dir"
    rm -rf "$dir.tmp"
    python3 -m pip install --quiet --disable-pip-version-check --no-warn-conflicts --root-user-action=ignore --target "$dir.tmp" \
      "jsonschema==$PY_JSONSCHEMA_VERSION" "PyYAML==$PY_YAML_VERSION" >&2
    rm -rf "$dir"; mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}
