/**
 * Request fields as parsed off the wire: a flat `[name, value, …]` array with
 * lower-case names, in arrival order. `get` is a linear scan: a request has a
 * dozen fields, and the gateway asks for about six, so this beats building a
 * `Headers` (which copies and validates every field) per request.
 */
export class FlatHeaders {
  constructor(readonly fields: readonly string[]) {}

  /** The field's value, several lines joined with ", " (RFC 9110 §5.3); null when absent. */
  get(name: string): string | null {
    const f = this.fields;
    let found: string | null = null;
    for (let i = 0; i < f.length; i += 2) {
      if (f[i] === name) found = found === null ? f[i + 1]! : `${found}, ${f[i + 1]!}`;
    }
    return found;
  }

  has(name: string): boolean {
    const f = this.fields;
    for (let i = 0; i < f.length; i += 2) if (f[i] === name) return true;
    return false;
  }

  /** A real Headers (for fetch(), Elysia, the tracing propagator): only off the hot path. */
  toHeaders(): Headers {
    const h = new Headers();
    const f = this.fields;
    for (let i = 0; i < f.length; i += 2) h.append(f[i]!, f[i + 1]!);
    return h;
  }
}
