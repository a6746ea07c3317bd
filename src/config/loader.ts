import * as v from "valibot";
import defaultYaml from "../../config/default.yaml" with { type: "text" };
import { resolveAdvertiseAddress } from "./advertise.ts";
import { ConfigSchema, type Config } from "./schema.ts";
import { withoutReplacedBreakers } from "../resilience/config.ts";

/** A bad flag or config value: main prints `message` alone and exits 2. */
export class UsageError extends Error {}

type Plain = Record<string, unknown>;
const isPlain = (x: unknown): x is Plain => typeof x === "object" && x !== null && !Array.isArray(x);

/** Objects merge key by key; arrays and scalars from `over` replace. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlain(base) || !isPlain(over)) return over === undefined ? base : over;
  const out: Plain = { ...base };
  for (const [k, val] of Object.entries(over)) out[k] = deepMerge(base[k], val);
  return out;
}

export function parseYaml(text: string, source: string): unknown {
  try {
    return Bun.YAML.parse(text) ?? {};
  } catch (err) {
    throw new UsageError(`config: ${source} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
}

export interface LoadOptions {
  /** Path of a YAML file deep-merged over the embedded default. */
  file?: string;
  env?: Record<string, string | undefined>;
  /** Already-structured overrides from flags, applied last. */
  overrides?: Plain;
}

/** Embedded default ← file ← environment ← flags, validated once. */
export async function loadConfig(opts: LoadOptions = {}): Promise<Config> {
  const env = opts.env ?? process.env;
  let raw = parseYaml(defaultYaml, "embedded default");
  if (opts.file) {
    const f = Bun.file(opts.file);
    if (!(await f.exists())) throw new UsageError(`--config: file ${opts.file} does not exist`);
    const fileRaw = parseYaml(await f.text(), opts.file);
    if (!isPlain(fileRaw)) throw new UsageError(`config: ${opts.file} must hold a YAML mapping at the top level`);
    raw = deepMerge(withoutReplacedBreakers(raw, fileRaw), fileRaw);
  }
  raw = deepMerge(raw, envOverrides(env));
  if (opts.overrides) raw = deepMerge(raw, opts.overrides);
  const config = validateConfig(raw);
  return { ...config, advertise_address: resolveAdvertiseAddress(config.advertise_address, config.http.host) };
}

/**
 * `gateway.auth` is the old name of the top-level `auth` section (it now serves every role):
 * still accepted, with `auth` winning key by key where both are given.
 */
export function liftDeprecatedAuth(raw: unknown): unknown {
  if (!isPlain(raw) || !isPlain(raw.gateway) || raw.gateway.auth === undefined) return raw;
  const { auth: old, ...gateway } = raw.gateway;
  return { ...raw, gateway, auth: deepMerge(old, raw.auth ?? {}) };
}

export function validateConfig(raw: unknown): Config {
  const result = v.safeParse(ConfigSchema, liftDeprecatedAuth(raw), { abortPipeEarly: true });
  if (result.success) return result.output;
  throw new UsageError(formatIssue(result.issues[0]));
}

function formatIssue(issue: v.BaseIssue<unknown>): string {
  const path = (issue.path ?? []).map((p) => String(p.key)).join(".") || "(top level)";
  let msg = issue.message;
  if (issue.kind === "schema" && issue.type === "object" && issue.expected === "Object") msg = "must be a mapping";
  else if (issue.type === "object" && issue.input === undefined) msg = "is required";
  const unknownKey = /^Invalid (key|type)/.test(msg) && issue.expected === "never";
  if (unknownKey) msg = "is not a known key";
  else if (/^Invalid (key|type)/.test(msg)) msg = `must be ${issue.expected}`;
  const input = unknownKey ? issue.path?.at(-1)?.value : issue.input;
  // never echo a password from a connection URL
  const got = input === undefined ? "nothing" : JSON.stringify(input).replace(/(\/\/[^:/@"]*:)[^@"]*@/, "$1***@");
  return `config: ${path} ${msg}, got ${got}`;
}

function envOverrides(env: Record<string, string | undefined>): Plain {
  const out: Plain = {};
  const set = (path: string[], value: unknown) => {
    let node = out;
    for (const k of path.slice(0, -1)) node = (node[k] ??= {}) as Plain;
    node[path[path.length - 1]!] = value;
  };
  if (env.CONSUL_HTTP_ADDR) {
    set(["discovery", "mode"], "consul");
    set(["consul", "address"], env.CONSUL_HTTP_ADDR.replace(/^https?:\/\//, ""));
  }
  if (env.CONSUL_HTTP_TOKEN) set(["consul", "token"], env.CONSUL_HTTP_TOKEN);
  if (env.DATABASE_URL) set(["storage", "database_url"], env.DATABASE_URL);
  if (env.BPM_DATA_DIR) set(["data_dir"], env.BPM_DATA_DIR);
  if (env.BPM_AUTH_SECRET) set(["auth", "secret"], env.BPM_AUTH_SECRET);
  if (env.BPM_AUTH_ENABLED === "0" || env.BPM_AUTH_ENABLED === "false") set(["auth", "enabled"], false);
  else if (env.BPM_AUTH_ENABLED === "1" || env.BPM_AUTH_ENABLED === "true") set(["auth", "enabled"], true);
  if (env.BPM_LOG_LEVEL) set(["log", "level"], env.BPM_LOG_LEVEL);
  if (env.BPM_HOST) set(["http", "host"], env.BPM_HOST);
  if (env.BPM_ADVERTISE_ADDRESS) set(["advertise_address"], env.BPM_ADVERTISE_ADDRESS);
  if (env.BPM_FAULT_INJECTION === "1" || env.BPM_FAULT_INJECTION === "true") set(["fault_injection", "enabled"], true);
  return out;
}
