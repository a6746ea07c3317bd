/** Public REST prefixes and the role that serves each (DESIGN.md "REST through the gateway"). */
export interface GatewayRoute {
  prefix: string;
  service: "task-service" | "form-service" | "process-service";
  /** Breaker / retry instance name in resilience4j config. */
  downstream: string;
  /** Methods the role serves under this prefix; any other is answered by the gateway (405), never forwarded. */
  methods: readonly string[];
}

export const ROUTES: readonly GatewayRoute[] = [
  { prefix: "/api/tasks", service: "task-service", downstream: "taskService", methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] },
  { prefix: "/api/forms", service: "form-service", downstream: "formService", methods: ["GET", "HEAD", "POST"] },
  { prefix: "/api/processes", service: "process-service", downstream: "processService", methods: ["GET", "HEAD", "POST"] },
];

/** The route for a path, matching whole segments (`/api/tasksX` is not `/api/tasks`). */
export function matchRoute(pathname: string): GatewayRoute | undefined {
  for (const r of ROUTES) {
    if (pathname.startsWith(r.prefix) && (pathname.length === r.prefix.length || pathname.charCodeAt(r.prefix.length) === 47)) return r;
  }
  return undefined;
}

/** A bounded label for metrics: the prefix plus `/:id` or `/stream`, never raw ids (at most three segments). */
export function routeTemplate(route: GatewayRoute, pathname: string): string {
  const p = route.prefix.length;
  if (pathname.length <= p + 1) return route.prefix;
  // the common `/api/tasks/7`: one segment, not a word → no split, no regex, no array
  let out = route.prefix;
  let segments = 0;
  let start = p;
  while (start < pathname.length && segments < 3) {
    while (start < pathname.length && pathname.charCodeAt(start) === 47) start++;
    if (start >= pathname.length) break;
    let end = start;
    let word = true;
    for (; end < pathname.length; end++) {
      const c = pathname.charCodeAt(end);
      if (c === 47) break;
      if (!((c >= 97 && c <= 122) || c === 95)) word = false;
    }
    out += word ? `/${pathname.slice(start, end)}` : "/:id";
    segments++;
    start = end;
  }
  return out;
}
