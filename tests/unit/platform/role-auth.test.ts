import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { AuthConfigSchema, Authenticator } from "../../../src/platform/auth.ts";
import { actingUser, principalOf } from "../../../src/platform/principal.ts";
import { createRoleAuth, ServiceCredential } from "../../../src/platform/role-auth.ts";
import { liftDeprecatedAuth, loadConfig } from "../../../src/config/loader.ts";
import { tempDir } from "../../support/bpm.ts";

const SECRET = "unit-secret-0123456789abcdef0123456789abcdef";
const cfg = v.parse(AuthConfigSchema, { secret: SECRET, service_token_ttl: "60s" });

describe("a role's service credential", () => {
  test("is verified by another role as service:<role>, with no user and no admin claim", async () => {
    const caller = await createRoleAuth(cfg, tempDir(), "process-service");
    const callee = await createRoleAuth(cfg, tempDir(), "task-service");
    const p = await callee.authenticate((await caller.serviceAuthorization())!);
    expect(p).toMatchObject({ sub: "service:process-service", service: "process-service", userId: undefined, admin: false, local: false });
  });

  test("is kept until half its lifetime is gone, then minted again", async () => {
    let now = 1_000_000;
    const cred = new ServiceCredential(cfg, "process-service", SECRET, () => now);
    const first = await cred.authorization();
    now += 29_000;
    expect(await cred.authorization()).toBe(first);
    now += 2_000;
    const second = await cred.authorization();
    expect(second).not.toBe(first);
    const claims = JSON.parse(Buffer.from(second.split(".")[1]!, "base64url").toString());
    expect(claims).toMatchObject({ sub: "service:process-service", iat: 1_031, exp: 1_091 });
  });

  test("a role verifying with a public key and no private key cannot mint one", async () => {
    const cred = new ServiceCredential(cfg, "process-service", undefined);
    await expect(cred.authorization()).rejects.toThrow(/private_key_file/);
  });

  test("auth off: every caller is the local operator, and no credential is sent", async () => {
    const off = await createRoleAuth(v.parse(AuthConfigSchema, { enabled: false }), tempDir(), "task-service");
    expect(off.authenticate(null)).toMatchObject({ local: true, admin: true });
    expect(await off.serviceAuthorization()).toBeUndefined();
  });
});

describe("who a token speaks for", () => {
  test("a numeric sub is a user id; roles come from the roles claim", async () => {
    const { auth } = await Authenticator.create(cfg, tempDir());
    const { mintToken } = await import("../../../src/platform/auth.ts");
    const t = await mintToken(SECRET, cfg, "42", 60, { roles: ["designer"] });
    expect(await auth.authenticate(`Bearer ${t}`)).toMatchObject({ userId: 42, roles: ["designer"], admin: false });
  });

  test.each([["alice"], ["0"], ["01"], ["99999999999"], ["service:42"]])("sub %p names no user", (sub) => {
    expect(principalOf({ sub, admin: false, roles: [] }).userId).toBeUndefined();
  });

  test("a user acts only as themself; an admin for whoever the request names", () => {
    const user = principalOf({ sub: "7", admin: false, roles: [] });
    expect(actingUser(user, undefined, "x")).toBe(7);
    expect(actingUser(user, 7, "x")).toBe(7);
    expect(() => actingUser(user, 8, "x")).toThrow(/admin or service/);
    expect(actingUser(principalOf({ sub: "1", admin: true, roles: [] }), 8, "x")).toBe(8);
    expect(() => actingUser(principalOf({ sub: "service:p", admin: false, roles: [] }), undefined, "x")).toThrow(/name one/);
  });
});

describe("config", () => {
  test("gateway.auth is still read, as the top-level auth section; auth wins where both say", () => {
    const lifted = liftDeprecatedAuth({ gateway: { auth: { secret: "a".repeat(32), issuer: "old" }, access_log: false }, auth: { issuer: "new" } }) as any;
    expect(lifted.gateway).toEqual({ access_log: false });
    expect(lifted.auth).toEqual({ secret: "a".repeat(32), issuer: "new" });
  });

  test("a bad auth key is named in the error, under either name", async () => {
    await expect(loadConfig({ env: {}, overrides: { auth: { secret: "short" } } })).rejects.toThrow(/^config: auth\.secret must be at least 32 characters/);
    await expect(loadConfig({ env: {}, overrides: { gateway: { auth: { secret: "short" } } } })).rejects.toThrow(/^config: auth\.secret/);
  });

  test("BPM_AUTH_SECRET sets the secret every role verifies with", async () => {
    expect((await loadConfig({ env: { BPM_AUTH_SECRET: SECRET } })).auth.secret).toBe(SECRET);
  });
});
