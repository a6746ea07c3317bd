#!/usr/bin/env bash
# podman with bpm's project-local config and storage (containers/env.sh): `scripts/podman.sh images`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../containers/env.sh
source "$root/containers/env.sh"
podman="${BPM_PODMAN:-$("$root/scripts/tools.sh" podman)}"
exec "$podman" "$@"
