import type { RawLines } from "./raw-lines.ts";

/**
 * Fields of a message as received, lower-case names, in arrival order: read in
 * place from the received bytes (`RawLines`: no string is made for a field
 * nobody asks about), or from a flat `[name, value, …]` array when a text
 * parser read the head. `get` is a linear scan: a request has a dozen fields,
 * and the gateway asks for about six, so this beats building a `Headers`
 * (which copies and validates every field) per request.
 */
export class FlatHeaders {
  constructor(
    protected readonly raw: RawLines | null,
    /** Lines beyond `raw` (or all of them, without it): `[name, value, …]`, lower-case names. */
    protected added: string[] = [],
  ) {}

  /** Whether received line `i` still counts (a subclass may hide some). */
  protected shown(_i: number): boolean {
    return true;
  }

  /** The field's value, several lines joined with ", " (RFC 9110 §5.3); null when absent. */
  get(name: string): string | null {
    let found: string | null = null;
    const raw = this.raw;
    if (raw !== null) {
      for (let i = 0; i < raw.count; i++) {
        if (raw.nameIs(i, name) && this.shown(i)) found = found === null ? raw.value(i) : `${found}, ${raw.value(i)}`;
      }
    }
    const a = this.added;
    for (let i = 0; i < a.length; i += 2) if (a[i] === name) found = found === null ? a[i + 1]! : `${found}, ${a[i + 1]!}`;
    return found;
  }

  /** How many field lines carry `name`. */
  count(name: string): number {
    let n = 0;
    const raw = this.raw;
    if (raw !== null) for (let i = 0; i < raw.count; i++) if (raw.nameIs(i, name) && this.shown(i)) n++;
    const a = this.added;
    for (let i = 0; i < a.length; i += 2) if (a[i] === name) n++;
    return n;
  }

  has(name: string): boolean {
    const raw = this.raw;
    if (raw !== null) for (let i = 0; i < raw.count; i++) if (raw.nameIs(i, name) && this.shown(i)) return true;
    const a = this.added;
    for (let i = 0; i < a.length; i += 2) if (a[i] === name) return true;
    return false;
  }

  /** The received lines (none without them); a proxy relays them as bytes. */
  get received(): RawLines | null {
    return this.raw;
  }

  /** Every line as a flat `[name, value, …]` (names lower-case): for code off the hot path. */
  get fields(): string[] {
    const out: string[] = [];
    const raw = this.raw;
    if (raw !== null) for (let i = 0; i < raw.count; i++) if (this.shown(i)) out.push(raw.name(i), raw.value(i));
    for (const x of this.added) out.push(x);
    return out;
  }

  /** A real Headers (for fetch(), Elysia, the tracing propagator): only off the hot path. */
  toHeaders(): Headers {
    const h = new Headers();
    const f = this.fields;
    for (let i = 0; i < f.length; i += 2) h.append(f[i]!, f[i + 1]!);
    return h;
  }
}
