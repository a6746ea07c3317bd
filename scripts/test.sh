#!/usr/bin/env bash
# Sets up everything (Bun, dependencies, real servers and tools), type-checks,
# builds ./bpm and runs every test. Ends with one line: `tests: N passed, N failed`.
#   ./scripts/test.sh                 everything
#   ./scripts/test.sh tests/unit      only what matches (bun test filters)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
start=$(date +%s)

bun="$("$root/scripts/setup.sh")" || { echo "test.sh: setup failed"; echo "tests: 0 passed, 1 failed"; exit 1; }
export PATH="$(dirname "$bun"):$PATH"
export BPM_BIN="$root/bpm"

# Real servers and tools the integration tests use; built/installed once per machine.
tools_log="$(mktemp)"
echo "== tools (built or installed once per machine into ${BPM_TOOLS:-$HOME/.cache/bpm-tools})"
tools_start=$(date +%s)
for t in ${BPM_TEST_TOOLS:-grpcurl wrk node nginx openssl postgres consul jaeger openapi-spec-validator schemathesis metricslint podman dockerfilelint kubeconform k8s-schemas compose-schema py-jsonschema podman-compose postgres-rootfs}; do
  if ! "$root/scripts/tools.sh" "$t" >>"$tools_log" 2>&1; then
    echo "test.sh: installing $t failed:"; tail -20 "$tools_log"
    echo "tests: 0 passed, 1 failed"; exit 1
  fi
done
echo "   ready in $(( $(date +%s) - tools_start )) s"

failed_typecheck=0
echo "== type-check (tsc --noEmit)"
if ! node_modules/.bin/tsc --noEmit -p .; then failed_typecheck=1; echo "type-check FAILED"; fi

echo "== bun test $*"
out="$(mktemp)"
"$bun" test --timeout 120000 "${@:-tests}" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}

pass=$(grep -Eo '^ *[0-9]+ pass$' "$out" | tail -1 | grep -Eo '[0-9]+' || echo 0)
fail=$(grep -Eo '^ *[0-9]+ fail$' "$out" | tail -1 | grep -Eo '[0-9]+' || echo 0)
skip=$(grep -Eo '^ *[0-9]+ skip$' "$out" | tail -1 | grep -Eo '[0-9]+' || echo 0)
errors=$(grep -Eo '^ *[0-9]+ errors?$' "$out" | tail -1 | grep -Eo '[0-9]+' || echo 0)
# the type-check counts as one test; an error outside any test counts as a failure
pass=$((pass + (1 - failed_typecheck)))
fail=$((fail + failed_typecheck + errors))
if [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
echo "== took $(( $(date +%s) - start )) s"
if [ "$skip" -gt 0 ]; then
  echo "tests: $pass passed, $fail failed, $skip skipped"
else
  echo "tests: $pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
