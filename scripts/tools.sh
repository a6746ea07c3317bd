#!/usr/bin/env bash
# Makes a tool available and prints its absolute path: `scripts/tools.sh consul`.
# Each tool lives in scripts/tools.d/NAME.sh, defines install_NAME, and caches under
# ~/.cache/bpm-tools so a second run is instant. `scripts/tools.sh list` names them.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export BPM_TOOLS="${BPM_TOOLS:-$HOME/.cache/bpm-tools}"
mkdir -p "$BPM_TOOLS/bin"
# shellcheck source=tools.d/common.sh
source "$here/tools.d/common.sh"

if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  echo "usage: scripts/tools.sh TOOL [TOOL…] | list" >&2
  exit 2
fi
if [ "$1" = "list" ]; then
  for f in "$here"/tools.d/*.sh; do n=$(basename "$f" .sh); [ "$n" = common ] || echo "$n"; done
  exit 0
fi
for tool in "$@"; do
  f="$here/tools.d/$tool.sh"
  [ -f "$f" ] || { echo "tools.sh: unknown tool '$tool' (see: scripts/tools.sh list)" >&2; exit 2; }
  # shellcheck disable=SC1090
  source "$f"
  "install_${tool//-/_}"
done
