#!/usr/bin/env bash
# Compiles the one self-contained executable ./bpm (protos, config, migrations embedded).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bun="${BUN:-$("$root/scripts/tools.sh" bun)}"
revision="${BPM_REVISION:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
start=$(date +%s%N)
"$bun" build --compile --bytecode --minify-syntax --minify-whitespace --sourcemap=none \
  --define "process.env.BPM_REVISION=\"$revision\"" \
  src/main.ts --outfile bpm >/dev/null
echo "build: ./bpm ($(du -h bpm | cut -f1), $(( ($(date +%s%N) - start) / 1000000 )) ms)" >&2
