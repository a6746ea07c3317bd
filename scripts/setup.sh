#!/usr/bin/env bash
# Installs the pinned Bun (from the npm registry) and the project's dependencies,
# then compiles ./bpm. Idempotent; prints the bun path on the last line.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bun="$("$root/scripts/tools.sh" bun)"
export PATH="$(dirname "$bun"):$PATH"
if [ ! -d node_modules ] || [ bun.lock -nt node_modules/.bpm-installed ] || [ package.json -nt node_modules/.bpm-installed ]; then
  echo "setup: installing dependencies (bun install --frozen-lockfile)" >&2
  "$bun" install --frozen-lockfile >&2
  touch node_modules/.bpm-installed
fi
if [ "${BPM_SKIP_BUILD:-0}" != "1" ]; then
  "$root/scripts/build.sh" >&2
fi
echo "$bun"
