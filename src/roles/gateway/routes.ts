/** Public REST prefixes and the role that serves each (DESIGN.md "REST through the gateway"). */
export interface GatewayRoute {
  prefix: string;
  service: "task-service" | "form-service" | "process-service";
  /** Breaker / retry instance name in resilience4j config. */
  downstream: string;
}

export const ROUTES: readonly GatewayRoute[] = [
  { prefix: "/api/tasks", service: "task-service", downstream: "taskService" },
  { prefix: "/api/forms", service: "form-service", downstream: "formService" },
  { prefix: "/api/processes", service: "process-service", downstream: "processService" },
];

/** The route for a path, matching whole segments (`/api/tasksX` is not `/api/tasks`). */
export function matchRoute(pathname: string): GatewayRoute | undefined {
  for (const r of ROUTES) {
    if (pathname.startsWith(r.prefix) && (pathname.length === r.prefix.length || pathname.charCodeAt(r.prefix.length) === 47)) return r;
  }
  return undefined;
}

/** A bounded label for metrics: the prefix plus `/:id` or `/stream`, never raw ids. */
export function routeTemplate(route: GatewayRoute, pathname: string): string {
  const rest = pathname.slice(route.prefix.length);
  if (rest === "" || rest === "/") return route.prefix;
  const seg = rest.split("/").filter(Boolean);
  return route.prefix + "/" + seg.map((s) => (/^[a-z_]+$/.test(s) ? s : ":id")).slice(0, 3).join("/");
}
