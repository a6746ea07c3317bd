import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { authHeaders, type BpmProcess, runBpm, startBpm, tempDir } from "../support/bpm.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** An upstream that answers 200 to everything (and to /health). */
function okUpstream() {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ ok: true }) });
  return { server, instance: { address: "127.0.0.1", port: server.port } };
}

/** Requests until the first non-200 (at most `max`); how many passed, and the refusal. */
async function untilRefused(url: string, headers: Record<string, string>, max = 200, pass = 200): Promise<{ passed: number; refusal: Response }> {
  for (let i = 0; i < max; i++) {
    const res = await fetch(url, { headers });
    if (res.status !== pass) return { passed: i, refusal: res };
    await res.arrayBuffer();
  }
  throw new Error(`no refusal in ${max} requests`);
}

describe("gateway rate limit (the seed's 100 requests per 60 s, through the binary)", () => {
  let bpm: BpmProcess;
  let up: ReturnType<typeof okUpstream>;
  // one token for user 301 in both tests: minted again in another second it would be a new,
  // unverified token, charged to the client IP that the first test leaves exhausted
  let cached: Record<string, string>;
  beforeAll(async () => {
    cached = await authHeaders(301);
    up = okUpstream();
    bpm = await startBpm({
      roles: ["gateway"],
      config: {
        gateway: { rate_limit: { requests: 100, window: "60s", services: { "form-service": { requests: 3, window: "60s" } } } },
        discovery: { static: { "task-service": [up.instance], "form-service": [up.instance] } },
      },
    });
  });
  afterAll(async () => {
    await bpm?.stop();
    up?.server.stop(true);
  });

  test("fixed window by default: the 101st request of a subject is refused until its window ends", async () => {
    // verified once now (charged to the IP as a new token, and to its subject)
    expect((await fetch(`${bpm.url()}/api/tasks/1`, { headers: cached })).status).toBe(200);
    const { passed, refusal } = await untilRefused(`${bpm.url()}/api/tasks/1`, await authHeaders(302));
    expect(passed).toBe(100);
    expect(refusal.status).toBe(429);
    const retryAfter = Number(refusal.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refusal.headers.get("ratelimit-reset")).toBe(String(retryAfter));
    expect(refusal.headers.get("ratelimit-remaining")).toBe("0");
    expect(refusal.headers.get("ratelimit-policy")).toBe("100;w=60");
    expect(((await refusal.json()) as { code: string }).code).toBe("RATE_LIMITED");

    // requests without a token are limited per client IP: 2 of its 100 went to the two new tokens
    const anonymous = await untilRefused(`${bpm.url()}/api/tasks/1`, {}, 200, 401);
    expect(anonymous.passed).toBe(98);
    expect(anonymous.refusal.status).toBe(429);
    // the IP is out: a junk token, and a valid token never seen, are refused before their signature is checked
    expect((await fetch(`${bpm.url()}/api/tasks/1`, { headers: { authorization: "Bearer a.b.c" } })).status).toBe(429);
    expect((await fetch(`${bpm.url()}/api/tasks/1`, { headers: await authHeaders(303) })).status).toBe(429);
    // a verified token from the same IP is its subject's business (99 left)
    const ok = await fetch(`${bpm.url()}/api/tasks/1`, { headers: cached });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("ratelimit-remaining")).toBe("98");
  });

  test("a per-service limit applies to its routes only", async () => {
    const h = cached;
    const { passed, refusal } = await untilRefused(`${bpm.url()}/api/forms/1`, h, 10);
    expect(passed).toBe(3);
    expect(refusal.status).toBe(429);
    expect(refusal.headers.get("ratelimit-policy")).toBe("3;w=60");
    expect((await fetch(`${bpm.url()}/api/tasks/1`, { headers: h })).status).toBe(200);
  });
});

describe("gateway rate limit per service, each algorithm's own rule", () => {
  const cases = [
    // fixed: to the window's end; sliding: the next window, plus 0.6 s of the previous one's weight; gcra: one token's 0.6 s
    { algorithm: "fixed_window", retryAfter: (s: number, reset: number) => s >= 1 && s <= 60 && reset === s },
    // reset: both windows' requests have slid out, two windows after the first request
    { algorithm: "sliding_window", retryAfter: (s: number, reset: number) => s >= 60 && s <= 61 && reset >= 119 && reset <= 120 },
    { algorithm: "gcra", retryAfter: (s: number, reset: number) => s === 1 && reset <= 60 },
  ] as const;
  for (const c of cases) {
    test(`${c.algorithm}: the 101st request to form-service is refused, task-service still served`, async () => {
      const up = okUpstream();
      const bpm = await startBpm({
        roles: ["gateway"],
        config: {
          gateway: { rate_limit: { requests: 1000, window: "60s", services: { "form-service": { requests: 100, window: "60s", algorithm: c.algorithm } } } },
          discovery: { static: { "task-service": [up.instance], "form-service": [up.instance] } },
        },
      });
      try {
        const h = await authHeaders(400);
        const { passed, refusal } = await untilRefused(`${bpm.url()}/api/forms/1`, h);
        expect(passed).toBe(100);
        expect(refusal.status).toBe(429);
        expect(c.retryAfter(Number(refusal.headers.get("retry-after")), Number(refusal.headers.get("ratelimit-reset")))).toBe(true);
        expect(refusal.headers.get("ratelimit-policy")).toBe("100;w=60");
        expect((await fetch(`${bpm.url()}/api/tasks/1`, { headers: h })).status).toBe(200);
      } finally {
        await bpm.stop();
        up.server.stop(true);
      }
    });
  }
});

describe("gateway rate limit config", () => {
  test("an unknown algorithm or service is refused, naming the key", async () => {
    const dir = tempDir();
    const file = join(dir, "c.yaml");
    writeFileSync(file, JSON.stringify({ gateway: { rate_limit: { requests: 5, window: "1s", algorithm: "leaky" } } }));
    let r = await runBpm(["--role=gateway", "--config", file, "--data-dir", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("config: gateway.rate_limit.algorithm must be one of fixed_window, sliding_window, gcra");
    writeFileSync(file, JSON.stringify({ gateway: { rate_limit: { requests: 5, window: "1s", services: { "user-service": { requests: 1, window: "1s" } } } } }));
    r = await runBpm(["--role=gateway", "--config", file, "--data-dir", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("gateway.rate_limit.services");
    writeFileSync(file, JSON.stringify({ gateway: { rate_limit: { requests: 5, window: "1s", shared: "postgres" } } }));
    r = await runBpm(["--role=gateway", "--config", file, "--data-dir", dir], { env: { DATABASE_URL: "" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("config: gateway.rate_limit.shared is postgres, which needs DATABASE_URL");
  });
});
