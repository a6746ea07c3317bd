#!/usr/bin/env bash
# Sets up everything (pinned Bun, dependencies), builds ./bpm and runs the embedded
# default: every role in one process, SQLite under ./data, no Consul needed.
# Extra arguments go to bpm, e.g. ./scripts/start.sh --role=task-service
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/setup.sh" >/dev/null
echo
echo "bpm is starting (Ctrl-C stops it). Once up:"
echo "  gateway:   http://127.0.0.1:8000   (health: curl -s http://127.0.0.1:8000/health)"
echo "  try:       curl -s -X POST http://127.0.0.1:8000/api/tasks -H 'content-type: application/json' -d '{\"title\":\"Review leave request\",\"user_id\":42,\"priority\":\"high\"}'"
echo "             curl -s 'http://127.0.0.1:8000/api/tasks?user_id=42'"
echo
exec "$root/bpm" "$@"
