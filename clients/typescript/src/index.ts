import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };

export interface BpmClientOptions {
  /** The gateway, e.g. http://localhost:8000 (every public route of every role is behind it). */
  baseUrl: string;
  /** A bearer token (`bpm token --sub=USER`), or a function returning the current one. */
  token?: string | (() => string | Promise<string>);
  /** Another fetch (tests, proxies, retries). */
  fetch?: (request: Request) => Promise<Response>;
}

/** The error body every bpm route answers with: `{error, code, correlation_id}` (+ `details`, `retryAfter`). */
export type BpmError = components["schemas"]["Error"];

/**
 * A typed client for the bpm REST API, generated from its OpenAPI document: paths, parameters,
 * bodies and answers are checked by the compiler.
 *
 *   const bpm = createBpmClient({ baseUrl: "http://localhost:8000", token });
 *   const { data, error } = await bpm.POST("/api/tasks", { body: { title: "Review", user_id: 7 } });
 */
export function createBpmClient(options: BpmClientOptions): Client<paths> {
  const client = createClient<paths>({ baseUrl: options.baseUrl, ...(options.fetch ? { fetch: options.fetch } : {}) });
  const { token } = options;
  if (token !== undefined) {
    const auth: Middleware = {
      async onRequest({ request }) {
        request.headers.set("authorization", `Bearer ${typeof token === "function" ? await token() : token}`);
        return request;
      },
    };
    client.use(auth);
  }
  return client;
}
