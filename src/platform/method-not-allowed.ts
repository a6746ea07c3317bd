/** Route patterns as a router names them (`/api/tasks/:id`, a trailing `*`) and the methods each serves. */
export interface RouteMethod {
  method: string;
  path: string;
}

interface Compiled {
  re: RegExp;
  methods: Set<string>;
}

function patternToRegExp(path: string): RegExp {
  const body = path
    .split("/")
    .map((seg) => (seg.startsWith(":") ? "[^/]+" : seg === "*" ? ".*" : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${body}/?$`);
}

/**
 * Answers "which methods does this path serve?" from a route list, so a request whose path is
 * known but whose method is not gets 405 with `Allow` rather than 404 (RFC 9110 §15.5.6).
 */
export class AllowedMethods {
  private compiled: Compiled[] = [];
  private seen = -1;

  constructor(private readonly routes: () => readonly RouteMethod[]) {}

  /** The methods `pathname` serves (sorted, HEAD beside GET), or undefined when no route has that path. */
  allow(pathname: string): string[] | undefined {
    this.refresh();
    const methods = new Set<string>();
    for (const c of this.compiled) if (c.re.test(pathname)) for (const m of c.methods) methods.add(m);
    if (methods.size === 0) return undefined;
    if (methods.has("GET")) methods.add("HEAD");
    return [...methods].sort();
  }

  private refresh(): void {
    const routes = this.routes();
    if (routes.length === this.seen) return;
    const byPath = new Map<string, Set<string>>();
    for (const r of routes) {
      const m = r.method.toUpperCase();
      if (m === "ALL" || m === "WS") continue;
      (byPath.get(r.path) ?? byPath.set(r.path, new Set()).get(r.path)!).add(m);
    }
    this.compiled = [...byPath].map(([path, methods]) => ({ re: patternToRegExp(path), methods }));
    this.seen = routes.length;
  }
}
