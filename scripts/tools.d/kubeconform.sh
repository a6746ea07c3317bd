# kubeconform, pinned, built from the Go module proxy; prints its path.
# Its Kubernetes JSON schemas normally download from GitHub (unreachable here): `kubeconform_schemas`
# (scripts/tools.d/k8s-schemas.sh) installs the ones PyPI's kubernetes-validate package ships.
KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-0.8.0}"
# shellcheck source=lib/go.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh"

install_kubeconform() {
  local dir="$BPM_TOOLS/kubeconform-$KUBECONFORM_VERSION"
  if [ ! -x "$dir/kubeconform" ]; then
    go_install_pinned "$dir" "github.com/yannh/kubeconform/cmd/kubeconform@v$KUBECONFORM_VERSION"
  fi
  ln -sf "$dir/kubeconform" "$BPM_TOOLS/bin/kubeconform"
  echo "$dir/kubeconform"
}
