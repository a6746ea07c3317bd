import { Elysia } from "elysia";
import * as v from "valibot";
import { parseInput } from "./parse-input.ts";

/** What an operator asked the role to do wrong, for drills and tests (BPM_FAULT_INJECTION=1). */
export const FaultSchema = v.object({
  /** HTTP status to answer instead of handling the request (0 = handle normally after the delay). */
  status: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(599)), 503),
  /** Share of matching requests affected, 0..1. */
  rate: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1)), 1),
  delay_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(60_000)), 0),
  path_prefix: v.optional(v.string(), "/api/"),
});
export type Fault = v.InferOutput<typeof FaultSchema>;

export class FaultInjector {
  fault: Fault | undefined;
  injected = 0;

  /** A Response to answer with instead of the real handler, after any delay; undefined to carry on. */
  async apply(pathname: string): Promise<Response | undefined> {
    const f = this.fault;
    if (!f || !pathname.startsWith(f.path_prefix) || Math.random() >= f.rate) return undefined;
    this.injected++;
    if (f.delay_ms > 0) await Bun.sleep(f.delay_ms);
    if (f.status === 0) return undefined;
    return new Response(JSON.stringify({ error: "injected fault", code: "INJECTED_FAULT" }), { status: f.status, headers: { "content-type": "application/json" } });
  }
}

/** PUT/GET/DELETE /admin/faults; only mounted when fault injection is enabled in config. */
export function faultRoutes(faults: FaultInjector) {
  return new Elysia({ name: "faults" })
    .get("/admin/faults", () => ({ fault: faults.fault ?? null, injected: faults.injected }))
    .put("/admin/faults", ({ body }) => {
      faults.fault = parseInput(FaultSchema, body ?? {}, "fault");
      return { fault: faults.fault };
    })
    .delete("/admin/faults", () => {
      faults.fault = undefined;
      return { fault: null };
    });
}
