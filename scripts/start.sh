#!/usr/bin/env bash
# Sets up everything (pinned Bun, dependencies), builds ./bpm and runs the embedded
# default: every role in one process, SQLite under ./data, no Consul needed.
# Extra arguments go to bpm, e.g. ./scripts/start.sh --role=task-service
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/setup.sh" >/dev/null
echo "bpm is starting (Ctrl-C stops it); it prints the gateway address, a dev token and curl examples." >&2
exec "$root/bpm" "$@"
