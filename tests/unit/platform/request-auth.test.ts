import { describe, expect, test } from "bun:test";
import { UnauthorizedError } from "../../../src/platform/errors.ts";
import { principalOf } from "../../../src/platform/principal.ts";
import { admitRequest, pathOf, principalFrom } from "../../../src/platform/request-auth.ts";

const user = principalOf({ sub: "7", admin: false, roles: [] });
const admin = principalOf({ sub: "1", admin: true, roles: [] });
const byToken = (h: string | null) => {
  if (h === "Bearer user") return user;
  if (h === "Bearer admin") return Promise.resolve(admin);
  throw new UnauthorizedError("missing bearer token");
};
const req = (path: string, authorization?: string) => new Request(`http://127.0.0.1:1${path}`, { headers: authorization ? { authorization } : {} });

describe("admitting a request from its head", () => {
  test.each([["http://h:1/api/tasks?x=/y", "/api/tasks"], ["http://h/admin/breakers#f", "/admin/breakers"], ["http://h:1", "/"], ["http://h/%61dmin/x", "/%61dmin/x"]])("path of %s is %s", (url, path) => {
    expect(pathOf(url)).toBe(path);
  });

  test("open paths need nothing; everything else a credential (a forged identity header is none)", () => {
    for (const p of ["/health", "/metrics", "/openapi.json", "/docs"]) expect(admitRequest(req(p), p, byToken)).toBeUndefined();
    const r = new Request("http://h/api/tasks", { headers: { "x-bpm-user-id": "1", "x-bpm-user-admin": "true" } });
    expect(admitRequest(r, "/api/tasks", byToken)).toBeInstanceOf(UnauthorizedError);
    expect(admitRequest(req("/health/x"), "/health/x", byToken)).toBeInstanceOf(UnauthorizedError);
  });

  test("the caller is remembered for the handler; /admin/* needs the admin claim", async () => {
    const ok = req("/api/tasks", "Bearer user");
    expect(admitRequest(ok, "/api/tasks", byToken)).toBeUndefined();
    expect(principalFrom(ok)).toBe(user);
    expect(admitRequest(req("/admin/breakers", "Bearer user"), "/admin/breakers", byToken)).toMatchObject({ code: "FORBIDDEN" });
    const a = req("/admin/breakers", "Bearer admin");
    expect(await admitRequest(a, "/admin/breakers", byToken)).toBeUndefined();
    expect(principalFrom(a)).toBe(admin);
    expect(() => principalFrom(req("/api/tasks"))).toThrow(/not authenticated/);
  });
});
