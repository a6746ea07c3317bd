# Kubernetes JSON schemas for kubeconform, offline: the ones PyPI's kubernetes-validate package ships
# (kubeconform's default download from GitHub is unreachable here). Prints a folder holding
# v1.NN.0-local[-strict]/<kind>[-<group>]-<version>.json for Kubernetes 1.25…1.37, the layout
# kubeconform's -schema-location template names. Only the schemas are used, not the package.
K8S_SCHEMAS_VERSION="${K8S_SCHEMAS_VERSION:-1.37.0}"

install_k8s_schemas() {
  local dir="$BPM_TOOLS/kubernetes-validate-$K8S_SCHEMAS_VERSION" out="$BPM_TOOLS/k8s-schemas-$K8S_SCHEMAS_VERSION" schemas
  schemas="$dir/kubernetes_validate/kubernetes-json-schema"
  if [ -d "$out" ]; then echo "$out"; return; fi
  if [ ! -d "$schemas" ]; then
    command -v python3 >/dev/null 2>&1 || { echo "tools.sh: python3 (with pip) is required for the Kubernetes schemas" >&2; exit 1; }
    log "installing kubernetes-validate $K8S_SCHEMAS_VERSION from PyPI for its Kubernetes JSON schemas"
    rm -rf "$dir.tmp"
    python3 -m pip install --quiet --disable-pip-version-check --no-warn-conflicts --root-user-action=ignore --no-deps --target "$dir.tmp" "kubernetes-validate==$K8S_SCHEMAS_VERSION" >&2
    rm -rf "$dir"; mv "$dir.tmp" "$dir"
  fi
  # The package maps its "$id": "https://kubernetes.io/api/…" URLs itself; kubeconform would fetch
  # them. Without the $id, a $ref resolves against the file, so "/api/_definitions.json" becomes
  # the sibling file "_definitions.json".
  rm -rf "$out.tmp"; cp -R "$schemas" "$out.tmp"
  find "$out.tmp" -name '*.json' -exec sed -i \
    -e 's|"/api/_definitions.json#|"_definitions.json#|g' \
    -e 's|"\$id": "https://kubernetes.io/api/[^"]*"|"$comment": "$id dropped so $refs resolve against this file"|' {} +
  mv "$out.tmp" "$out"
  echo "$out"
}
