import { Elysia } from "elysia";
import * as v from "valibot";
import type { Downstreams } from "../transport/downstreams.ts";
import { NotFoundError } from "./errors.ts";
import { parseInput } from "./parse-input.ts";

export type AdminGuard = (authorization: string | null) => Promise<void>;

export const TransitionSchema = v.object({
  state: v.picklist(["CLOSED", "OPEN", "HALF_OPEN", "DISABLED", "FORCED_OPEN", "RESET"], "must be CLOSED, OPEN, HALF_OPEN, DISABLED, FORCED_OPEN or RESET"),
});

/** Every role's view of its outbound breakers, and the operator's switches (admin token required). */
export function breakerAdminRoutes(downstreams: Downstreams, guard: AdminGuard) {
  return new Elysia({ name: "breaker-admin" })
    .get("/admin/breakers", async ({ request }) => {
      await guard(request.headers.get("authorization"));
      return Object.fromEntries(downstreams.all().map((d) => [d.name, { ...d.breaker.metrics(), retry: d.retry.metrics(), budget: d.budget.metrics() }]));
    })
    .post("/admin/breakers/:name", async ({ request, params, body }) => {
      await guard(request.headers.get("authorization"));
      const d = downstreams.all().find((x) => x.name === params.name);
      if (!d) throw new NotFoundError(`no breaker named ${params.name}`);
      const { state } = parseInput(TransitionSchema, body ?? {}, "transition");
      const b = d.breaker;
      ({
        CLOSED: () => b.transitionToClosedState(),
        OPEN: () => b.transitionToOpenState(),
        HALF_OPEN: () => b.transitionToHalfOpenState(),
        DISABLED: () => b.transitionToDisabledState(),
        FORCED_OPEN: () => b.transitionToForcedOpenState(),
        RESET: () => b.reset(),
      })[state]();
      return { name: d.name, ...b.metrics() };
    });
}
