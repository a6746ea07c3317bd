#!/usr/bin/env bash
# End to end, through the gateway: defines the leave-request forms and the 3-step leave process,
# then runs one instance as two users, each with their own token, printing every step. bob's
# token carries the designer role (publishing forms and deploying processes need it); an admin
# token reads every task at the end (a user sees only their own; docs/security.md).
# Run it against a running bpm (./scripts/start.sh in another terminal):
#   ./scripts/demo.sh
# Environment:
#   BPM_URL       gateway address (default http://127.0.0.1:8000)
#   BPM_DATA_DIR  the running bpm's data dir, whose secret signs the tokens (default: ./data of the repository, as start.sh uses)
#   BPM_CONFIG    the running bpm's --config file, if it had one
#   BPM_BIN       the bpm executable (default ./bpm)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
url="${BPM_URL:-http://127.0.0.1:8000}"
data_dir="${BPM_DATA_DIR:-$root/data}"
bin="${BPM_BIN:-$root/bpm}"
bun="$("$root/scripts/tools.sh" bun)"
run="demo-$(date +%s)-$$" # makes keys unique, so the demo can run again against the same data

if [ -t 1 ]; then say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }; else say() { printf '\n== %s\n' "$*"; }; fi
fail() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# field JSON PATH: prints a dotted path of the JSON on stdin (objects as JSON)
field() {
  P="$1" "$bun" -e 'let v = JSON.parse(await Bun.stdin.text()); for (const k of process.env.P.split(".")) v = v?.[k];
    console.log(v !== null && typeof v === "object" ? JSON.stringify(v) : String(v ?? ""))'
}

# api TOKEN METHOD PATH [BODY] EXPECTED_STATUS: prints the response body; fails on any other status
api() {
  local token="$1" method="$2" path="$3" body="${4:-}" expect="$5" out status
  out="$(mktemp)"
  status="$(curl -sS -o "$out" -w '%{http_code}' -X "$method" "$url$path" \
    -H "authorization: Bearer $token" -H 'content-type: application/json' ${body:+--data-binary "$body"})" || fail "cannot reach $url (is ./scripts/start.sh running?)"
  if [ "$status" != "$expect" ]; then
    printf 'demo: %s %s answered %s, expected %s:\n' "$method" "$path" "$status" "$expect" >&2
    cat "$out" >&2; echo >&2; rm -f "$out"; exit 1
  fi
  cat "$out"; rm -f "$out"
}

# token_for USER [--admin] [--roles=designer]
token_for() {
  "$bin" token --sub="$1" "${@:2}" --ttl=1h --data-dir "$data_dir" ${BPM_CONFIG:+--config "$BPM_CONFIG"}
}

# prints "published KEY vN: field, field…" for a PublishForm answer on stdin
published() {
  "$bun" -e 'const { form } = JSON.parse(await Bun.stdin.text()); console.log(`   published ${form.key} v${form.version}: ${form.fields.map((f) => f.name + (f.required ? "*" : "")).join(", ")}`)'
}

# the step's task, once the outbox has delivered it to task-service
wait_task() {
  local token="$1" instance="$2" step="$3" tries=0 task
  while :; do
    task="$(api "$token" GET "/api/tasks?process_instance_id=$instance" "" 200 | STEP="$step" "$bun" -e '
      const d = JSON.parse(await Bun.stdin.text());
      const t = d.items.find((t) => t.step_id === process.env.STEP && t.status === "todo");
      if (t) console.log(`task #${t.id} "${t.title}" for user ${t.user_id} (${t.priority})`)')"
    [ -n "$task" ] && { echo "$task"; return; }
    tries=$((tries + 1)); [ "$tries" -gt 100 ] && fail "no task for step $step after 10 s"
    sleep 0.1
  done
}

employee=11 # asks for leave
manager=22  # approves it, and records it in HR
alice="$(token_for $employee)" || fail "cannot mint a token (is BPM_DATA_DIR the running bpm's data dir?)"
bob="$(token_for $manager --roles=designer)"
auditor="$(token_for 33 --admin)"
echo "gateway: $url   users: alice=$employee (employee), bob=$manager (manager and HR, designer), auditor=33 (admin)"

say "1. bob publishes three forms"
request_form="leave-request-$run"; approval_form="leave-approval-$run"; record_form="leave-record-$run"
api "$bob" POST /api/forms "{\"key\":\"$request_form\",\"title\":\"Leave request\",\"fields\":[
  {\"name\":\"start_date\",\"label\":\"First day of leave\",\"type\":\"date\",\"required\":true},
  {\"name\":\"days\",\"label\":\"Working days\",\"type\":\"integer\",\"required\":true,\"min\":1,\"max\":30},
  {\"name\":\"kind\",\"label\":\"Kind of leave\",\"type\":\"enum\",\"options\":[\"annual\",\"sick\",\"unpaid\"],\"default\":\"annual\"},
  {\"name\":\"reason\",\"label\":\"Reason\",\"type\":\"string\",\"max_length\":500}]}" 201 | published
api "$bob" POST /api/forms "{\"key\":\"$approval_form\",\"title\":\"Manager decision\",\"fields\":[
  {\"name\":\"approved\",\"label\":\"Approve this leave?\",\"type\":\"boolean\",\"required\":true},
  {\"name\":\"manager_comment\",\"label\":\"Comment\",\"type\":\"string\",\"max_length\":500}]}" 201 | published
api "$bob" POST /api/forms "{\"key\":\"$record_form\",\"title\":\"HR record\",\"fields\":[
  {\"name\":\"hr_reference\",\"label\":\"Payroll reference\",\"type\":\"string\",\"required\":true,\"pattern\":\"^HR-[0-9]{4,}$\"}]}" 201 | published

say "2. bob deploys the leave process: request → manager approval (approved == false → rejected) → HR record"
process="leave-$run"
api "$bob" POST /api/processes "{\"key\":\"$process\",\"name\":\"Leave request\",\"steps\":[
  {\"id\":\"request\",\"name\":\"Request leave\",\"form_key\":\"$request_form\",\"assignee\":\"\${employee_id}\",\"default_next\":\"manager-approval\"},
  {\"id\":\"manager-approval\",\"name\":\"Manager approval\",\"form_key\":\"$approval_form\",\"assignee\":\"\${manager_id}\",\"priority\":\"high\",
   \"transitions\":[{\"condition\":\"approved == false\",\"target\":\"rejected\"}],\"default_next\":\"hr-record\"},
  {\"id\":\"hr-record\",\"name\":\"Record in HR\",\"form_key\":\"$record_form\",\"assignee\":\"\${hr_id}\",\"default_next\":\"approved\"}],
  \"end_states\":[{\"id\":\"approved\",\"name\":\"Leave approved and recorded\"},{\"id\":\"rejected\",\"name\":\"Leave rejected by the manager\"}]}" 201 \
  | field definition | "$bun" -e 'const d = JSON.parse(await Bun.stdin.text()); console.log(`   ${d.key} v${d.version}: ${d.steps.map((s) => s.id).join(" → ")} → ${d.end_states.map((e) => e.id).join(" | ")}`)'

say "3. alice starts an instance"
instance_json="$(api "$alice" POST "/api/processes/$process/instances" "{\"variables\":{\"employee_id\":$employee,\"manager_id\":$manager,\"hr_id\":$manager}}" 201)"
instance="$(field id <<<"$instance_json")"
echo "   instance $instance: $(field status <<<"$instance_json"), current step $(field current_step <<<"$instance_json")"
echo "   alice's $(wait_task "$alice" "$instance" request)"

say "4. bob takes no part in alice's instance yet: to him it does not exist (404); alice's first try is invalid (422)"
api "$bob" POST "/api/processes/instances/$instance/complete" '{"step_id":"request","data":{"start_date":"2025-07-01","days":3}}' 404 | field error | sed 's/^/   404: /'
api "$alice" POST "/api/processes/instances/$instance/complete" '{"step_id":"request","data":{"start_date":"2025-02-30","days":45}}' 422 \
  | "$bun" -e 'const d = JSON.parse(await Bun.stdin.text()); console.log(`   422: ${d.error}`); for (const x of d.details) console.log(`        ${x.field}: ${x.message} (${x.code})`)'

say "5. alice requests 3 days from 2025-07-01"
done_json="$(api "$alice" POST "/api/processes/instances/$instance/complete" '{"step_id":"request","data":{"start_date":"2025-07-01","days":3,"reason":"family visit"}}' 200)"
echo "   now at $(field current_step <<<"$done_json") for user $(field current_assignee <<<"$done_json"); variables $(field variables <<<"$done_json")"
echo "   bob's $(wait_task "$bob" "$instance" manager-approval)"
api "$alice" POST "/api/processes/instances/$instance/complete" '{"step_id":"manager-approval","data":{"approved":true}}' 403 | field error | sed 's/^/   alice may not approve her own leave, 403: /'

say "6. bob approves"
done_json="$(api "$bob" POST "/api/processes/instances/$instance/complete" '{"step_id":"manager-approval","data":{"approved":true,"manager_comment":"Enjoy"}}' 200)"
echo "   now at $(field current_step <<<"$done_json") for user $(field current_assignee <<<"$done_json")"
echo "   bob's $(wait_task "$bob" "$instance" hr-record)"

say "7. bob records it in HR"
done_json="$(api "$bob" POST "/api/processes/instances/$instance/complete" '{"step_id":"hr-record","data":{"hr_reference":"HR-20250701"}}' 200)"
echo "   instance $(field status <<<"$done_json"), end state $(field end_state <<<"$done_json")"

say "8. the history (alice took part), and every task of this instance (the auditor's admin token)"
api "$alice" GET "/api/processes/instances/$instance" "" 200 | "$bun" -e '
  const d = JSON.parse(await Bun.stdin.text());
  for (const h of d.history) console.log(`   ${h.at}  ${h.action.padEnd(9)} ${(h.step_id || "-").padEnd(16)} user ${h.user_id}${h.data ? "  " + JSON.stringify(h.data) : ""}`)'
# the outbox delivers the last "task done" asynchronously: wait until no task is open
for _ in $(seq 100); do
  tasks="$(api "$auditor" GET "/api/tasks?process_instance_id=$instance" "" 200)"
  grep -q '"status":"todo"' <<<"$tasks" || break
  sleep 0.1
done
"$bun" -e '
  const d = JSON.parse(await Bun.stdin.text());
  for (const t of d.items) console.log(`   task #${t.id}  ${t.status.padEnd(6)} user ${t.user_id}  ${t.title}`)' <<<"$tasks"
echo
echo "demo: instance $instance completed"
