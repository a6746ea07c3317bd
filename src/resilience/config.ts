import * as v from "valibot";

// ---- value schemas ----------------------------------------------------------------------

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const DURATION_MESSAGE = 'must be a duration: milliseconds or a string like "500ms", "60s", "1m", "1h"';

/** "500ms" | "60s" | "1.5m" | "1h" | "250" | 250 → milliseconds; NaN when unreadable. */
export function parseDurationMs(value: number | string): number {
  if (typeof value === "number") return value;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (match === null) return Number.NaN;
  return Number(match[1]) * UNIT_MS[match[2] ?? "ms"]!;
}

/** A duration in ms, given as a number or a string with a unit. */
export const DurationSchema = v.pipe(
  v.union([v.number(), v.string()], DURATION_MESSAGE),
  v.transform(parseDurationMs),
  v.check((ms) => Number.isFinite(ms) && ms >= 0, DURATION_MESSAGE),
);

const PERCENT_MESSAGE = "must be a number in 1..100";
const PercentSchema = v.pipe(v.number(PERCENT_MESSAGE), v.minValue(1, PERCENT_MESSAGE), v.maxValue(100, PERCENT_MESSAGE));

const BUDGET_PERCENT_MESSAGE = "must be a number in 0..100";
const BudgetPercentSchema = v.pipe(v.number(BUDGET_PERCENT_MESSAGE), v.minValue(0, BUDGET_PERCENT_MESSAGE), v.maxValue(100, BUDGET_PERCENT_MESSAGE));

const POSITIVE_INT_MESSAGE = "must be an integer >= 1";
const PositiveIntSchema = v.pipe(v.number(POSITIVE_INT_MESSAGE), v.integer(POSITIVE_INT_MESSAGE), v.minValue(1, POSITIVE_INT_MESSAGE));

const NON_NEGATIVE_INT_MESSAGE = "must be an integer >= 0";
const NonNegativeIntSchema = v.pipe(v.number(NON_NEGATIVE_INT_MESSAGE), v.integer(NON_NEGATIVE_INT_MESSAGE), v.minValue(0, NON_NEGATIVE_INT_MESSAGE));

const POSITIVE_DURATION_MESSAGE = "must be a duration > 0";
const PositiveDurationSchema = v.pipe(DurationSchema, v.check((ms) => ms > 0, POSITIVE_DURATION_MESSAGE));

const BooleanSchema = v.boolean("must be true or false");
const BaseConfigSchema = v.string("must be the name of an entry under configs");

// ---- one entry per policy (Resilience4j option names; every key optional so entries merge) ----

export const BREAKER_TYPES = ["failure_rate", "consecutive"] as const;

export const CircuitBreakerEntrySchema = v.strictObject({
  baseConfig: v.optional(BaseConfigSchema),
  /** failure_rate: Resilience4j's rate over a sliding window; consecutive: seed 004's counts (cockatiel's ConsecutiveBreaker). */
  type: v.optional(v.picklist(BREAKER_TYPES, 'must be "failure_rate" or "consecutive"')),
  /** consecutive: failures in a row that open the breaker. */
  failureThreshold: v.optional(PositiveIntSchema),
  /** consecutive: successful trial calls in HALF_OPEN that close it (any failure reopens it). */
  successThreshold: v.optional(PositiveIntSchema),
  /** consecutive: a call taking longer is abandoned and counts as a failure (the time limiter's timeout, when shorter). */
  timeout: v.optional(PositiveDurationSchema),
  /** consecutive: how long OPEN lasts (the seed's name for waitDurationInOpenState). */
  resetTimeout: v.optional(DurationSchema),
  slidingWindowType: v.optional(v.picklist(["COUNT_BASED", "TIME_BASED"], 'must be "COUNT_BASED" or "TIME_BASED"')),
  /** Calls (COUNT_BASED) or seconds (TIME_BASED). */
  slidingWindowSize: v.optional(PositiveIntSchema),
  minimumNumberOfCalls: v.optional(PositiveIntSchema),
  failureRateThreshold: v.optional(PercentSchema),
  slowCallRateThreshold: v.optional(PercentSchema),
  slowCallDurationThreshold: v.optional(DurationSchema),
  waitDurationInOpenState: v.optional(DurationSchema),
  automaticTransitionFromOpenToHalfOpenEnabled: v.optional(BooleanSchema),
  permittedNumberOfCallsInHalfOpenState: v.optional(PositiveIntSchema),
  /** 0 waits for every trial call; otherwise HALF_OPEN goes back to OPEN after this long. */
  maxWaitDurationInHalfOpenState: v.optional(DurationSchema),
});

export const RetryEntrySchema = v.pipe(
  v.strictObject({
    baseConfig: v.optional(BaseConfigSchema),
    /** Attempts in total, the first included (3 = one call + two retries). */
    maxAttempts: v.optional(PositiveIntSchema),
    backoffPeriod: v.optional(DurationSchema),
    /** Resilience4j's name for backoffPeriod. */
    waitDuration: v.optional(DurationSchema),
    backoffMultiplier: v.optional(v.pipe(v.number("must be a number >= 1"), v.minValue(1, "must be a number >= 1"))),
    /** Resilience4j's name for backoffMultiplier. */
    exponentialBackoffMultiplier: v.optional(v.pipe(v.number("must be a number >= 1"), v.minValue(1, "must be a number >= 1"))),
    maxBackoffPeriod: v.optional(DurationSchema),
    /** Resilience4j's name for maxBackoffPeriod. */
    exponentialMaxWaitDuration: v.optional(DurationSchema),
    jitter: v.optional(v.picklist(["full", "equal", "none"], 'must be "full", "equal" or "none"')),
    /** Retries allowed as a share of requests over retryBudgetWindow (Linkerd's retryRatio × 100). */
    retryBudgetPercent: v.optional(BudgetPercentSchema),
    /** Retries per second always allowed on top of the percentage, so low traffic can still retry. */
    retryBudgetMinRetriesPerSecond: v.optional(NonNegativeIntSchema),
    retryBudgetWindow: v.optional(v.pipe(DurationSchema, v.check((ms) => ms >= 1000 && ms % 1000 === 0, 'must be whole seconds, at least "1s"'))),
  }),
  v.check((e) => e.backoffPeriod === undefined || e.waitDuration === undefined, "set backoffPeriod or its alias waitDuration, not both"),
  v.check((e) => e.backoffMultiplier === undefined || e.exponentialBackoffMultiplier === undefined, "set backoffMultiplier or its alias exponentialBackoffMultiplier, not both"),
  v.check((e) => e.maxBackoffPeriod === undefined || e.exponentialMaxWaitDuration === undefined, "set maxBackoffPeriod or its alias exponentialMaxWaitDuration, not both"),
  v.transform(({ waitDuration, exponentialBackoffMultiplier, exponentialMaxWaitDuration, ...rest }) => ({
    ...rest,
    backoffPeriod: rest.backoffPeriod ?? waitDuration,
    backoffMultiplier: rest.backoffMultiplier ?? exponentialBackoffMultiplier,
    maxBackoffPeriod: rest.maxBackoffPeriod ?? exponentialMaxWaitDuration,
  })),
);

export const TimeLimiterEntrySchema = v.strictObject({
  baseConfig: v.optional(BaseConfigSchema),
  timeoutDuration: v.optional(PositiveDurationSchema),
  /** true (default): the call's AbortSignal is aborted on timeout, so the transport really cancels. */
  cancelRunningFuture: v.optional(BooleanSchema),
});

export const BulkheadEntrySchema = v.strictObject({
  baseConfig: v.optional(BaseConfigSchema),
  maxConcurrentCalls: v.optional(PositiveIntSchema),
  /** How long a call may queue for a slot; 0 rejects at once when all slots are busy. */
  maxWaitDuration: v.optional(DurationSchema),
  /** Bound on the wait queue; beyond it calls are rejected at once. */
  maxWaitingCalls: v.optional(NonNegativeIntSchema),
});

export const RateLimiterEntrySchema = v.strictObject({
  baseConfig: v.optional(BaseConfigSchema),
  /** Bucket capacity: requests allowed per limitRefreshPeriod. */
  limitForPeriod: v.optional(PositiveIntSchema),
  limitRefreshPeriod: v.optional(PositiveDurationSchema),
  /** How long a call may wait for a token; 0 rejects at once. */
  timeoutDuration: v.optional(DurationSchema),
  /** Keys (clients) tracked at most; idle keys go first. */
  maxKeys: v.optional(PositiveIntSchema),
});

function groupSchema<TEntry extends v.GenericSchema>(entry: TEntry) {
  return v.strictObject({
    configs: v.optional(v.record(v.string(), entry)),
    instances: v.optional(v.record(v.string(), entry)),
  });
}

const GROUPS = ["circuitbreaker", "retry", "timelimiter", "bulkhead", "ratelimiter"] as const;

/** Keys only one breaker type reads; the others (open-state wait, half-open bound) are shared. */
const ONLY_FOR: Record<string, (typeof BREAKER_TYPES)[number]> = {
  failureThreshold: "consecutive", successThreshold: "consecutive", timeout: "consecutive", resetTimeout: "consecutive",
  slidingWindowType: "failure_rate", slidingWindowSize: "failure_rate", minimumNumberOfCalls: "failure_rate", failureRateThreshold: "failure_rate",
  slowCallRateThreshold: "failure_rate", slowCallDurationThreshold: "failure_rate", permittedNumberOfCallsInHalfOpenState: "failure_rate",
};

type BreakerEntry = v.InferOutput<typeof CircuitBreakerEntrySchema>;

/** An entry's type: its own, else its base config's (instances default to configs.default), else failure_rate. */
function breakerType(g: { configs?: Record<string, BreakerEntry> | undefined } | undefined, entry: BreakerEntry, isInstance: boolean): (typeof BREAKER_TYPES)[number] {
  if (entry.type !== undefined) return entry.type;
  const baseName = entry.baseConfig ?? (isInstance ? "default" : undefined);
  const base = baseName === undefined ? undefined : g?.configs?.[baseName];
  return base?.type ?? "failure_rate";
}
type GroupName = (typeof GROUPS)[number];

/** The `resilience4j:` section of bpm's config. */
export const Resilience4jSchema = v.pipe(
  v.strictObject({
    circuitbreaker: v.optional(groupSchema(CircuitBreakerEntrySchema)),
    retry: v.optional(groupSchema(RetryEntrySchema)),
    timelimiter: v.optional(groupSchema(TimeLimiterEntrySchema)),
    bulkhead: v.optional(groupSchema(BulkheadEntrySchema)),
    ratelimiter: v.optional(groupSchema(RateLimiterEntrySchema)),
  }),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const section = dataset.value;
    const issue = (path: string[], message: string, value: unknown) =>
      addIssue({ message, input: value, path: path.map((key) => ({ type: "object", origin: "value", input: section, key, value })) as never });
    const cb = section.circuitbreaker;
    for (const kind of ["configs", "instances"] as const) {
      for (const [name, entry] of Object.entries(cb?.[kind] ?? {})) {
        const type = breakerType(cb, entry, kind === "instances");
        for (const [key, value] of Object.entries(entry)) {
          const only = ONLY_FOR[key];
          if (only !== undefined && only !== type && value !== undefined) {
            issue(["circuitbreaker", kind, name, key], `is only for type: ${only} (this breaker is type: ${type})`, value);
          }
        }
        if (entry.resetTimeout !== undefined && entry.waitDurationInOpenState !== undefined) {
          issue(["circuitbreaker", kind, name, "resetTimeout"], "set resetTimeout or waitDurationInOpenState, not both", entry.resetTimeout);
        }
      }
    }
    for (const group of GROUPS) {
      const g = section[group];
      for (const kind of ["configs", "instances"] as const) {
        for (const [name, entry] of Object.entries(g?.[kind] ?? {})) {
          const base = (entry as { baseConfig?: string }).baseConfig;
          if (base === undefined || g?.configs?.[base] !== undefined) continue;
          addIssue({
            message: `baseConfig "${base}" is not defined under ${group}.configs`,
            path: [group, kind, name, "baseConfig"].map((key) => ({ type: "object", origin: "value", input: section, key, value: base })) as never,
          });
        }
      }
    }
  }),
);

export type Resilience4jInput = v.InferInput<typeof Resilience4jSchema>;
export type Resilience4jConfig = v.InferOutput<typeof Resilience4jSchema>;

type Settled<T> = { [K in keyof Omit<T, "baseConfig">]-?: Exclude<T[K], undefined> };

export type CircuitBreakerConfig = Settled<Omit<v.InferOutput<typeof CircuitBreakerEntrySchema>, "resetTimeout">>;
export type RetryConfig = Settled<v.InferOutput<typeof RetryEntrySchema>>;
export type TimeLimiterConfig = Settled<v.InferOutput<typeof TimeLimiterEntrySchema>>;
export type BulkheadConfig = Settled<v.InferOutput<typeof BulkheadEntrySchema>>;
export type RateLimiterConfig = Settled<v.InferOutput<typeof RateLimiterEntrySchema>>;

// ---- defaults: Resilience4j's, except where a comment says why ----------------------------

export const CIRCUIT_BREAKER_DEFAULTS: CircuitBreakerConfig = {
  type: "failure_rate",
  // consecutive: the seed's CircuitBreaker defaults (5 failures, 2 successes, 60 s call timeout)
  failureThreshold: 5,
  successThreshold: 2,
  timeout: 60_000,
  slidingWindowType: "COUNT_BASED",
  slidingWindowSize: 100,
  minimumNumberOfCalls: 100,
  failureRateThreshold: 50,
  slowCallRateThreshold: 100,
  slowCallDurationThreshold: 60_000,
  waitDurationInOpenState: 60_000,
  automaticTransitionFromOpenToHalfOpenEnabled: false,
  permittedNumberOfCallsInHalfOpenState: 10,
  maxWaitDurationInHalfOpenState: 0,
};

export const RETRY_DEFAULTS: RetryConfig = {
  maxAttempts: 3,
  backoffPeriod: 500,
  backoffMultiplier: 2,
  maxBackoffPeriod: 10_000,
  jitter: "full",
  retryBudgetPercent: 20,
  retryBudgetMinRetriesPerSecond: 10,
  retryBudgetWindow: 10_000,
};

export const TIME_LIMITER_DEFAULTS: TimeLimiterConfig = {
  // Resilience4j's 1 s is short for BPM calls that start processes; deadlines still cap it.
  timeoutDuration: 5_000,
  cancelRunningFuture: true,
};

export const BULKHEAD_DEFAULTS: BulkheadConfig = {
  maxConcurrentCalls: 25,
  maxWaitDuration: 0,
  maxWaitingCalls: 100,
};

export const RATE_LIMITER_DEFAULTS: RateLimiterConfig = {
  // The seed's gateway limit: 100 requests per 60 s per client.
  limitForPeriod: 100,
  limitRefreshPeriod: 60_000,
  timeoutDuration: 0,
  maxKeys: 100_000,
};

// ---- merging configs.<base> with instances.<name> ----------------------------------------

type Group<T> = { configs?: Record<string, T> | undefined; instances?: Record<string, T> | undefined } | undefined;

function definedOnly<T extends object>(entry: T | undefined): Partial<T> {
  const out: Partial<T> = {};
  if (entry === undefined) return out;
  for (const key of Object.keys(entry) as (keyof T)[]) {
    if (key !== "baseConfig" && entry[key] !== undefined) out[key] = entry[key];
  }
  return out;
}

/** defaults ← configs[instance.baseConfig ?? "default"] ← instances[name]. */
function resolve<T extends object, E extends { baseConfig?: string | undefined }>(defaults: T, group: Group<E>, name: string): T {
  const instance = group?.instances?.[name];
  const baseName = instance?.baseConfig ?? "default";
  const base = group?.configs?.[baseName];
  if (instance?.baseConfig !== undefined && base === undefined) {
    throw new Error(`resilience4j: instance '${name}' names baseConfig '${baseName}', which is not under configs`);
  }
  return { ...defaults, ...(definedOnly(base) as Partial<T>), ...(definedOnly(instance) as Partial<T>) };
}

export function breakerConfigFor(section: Resilience4jConfig | undefined, name: string): CircuitBreakerConfig {
  const { resetTimeout, ...config } = resolve(CIRCUIT_BREAKER_DEFAULTS as CircuitBreakerConfig & { resetTimeout?: number }, section?.circuitbreaker, name);
  if (config.type === "consecutive") {
    // a base config's failure-rate keys do not apply; the trials in HALF_OPEN are successThreshold
    return {
      ...CIRCUIT_BREAKER_DEFAULTS,
      type: "consecutive",
      failureThreshold: config.failureThreshold,
      successThreshold: config.successThreshold,
      timeout: config.timeout,
      permittedNumberOfCallsInHalfOpenState: config.successThreshold,
      // the seed's resetTimeout default (30 s) unless the entry chain says otherwise
      waitDurationInOpenState: resetTimeout ?? (hasOwnWait(section, name) ? config.waitDurationInOpenState : 30_000),
      automaticTransitionFromOpenToHalfOpenEnabled: config.automaticTransitionFromOpenToHalfOpenEnabled,
      maxWaitDurationInHalfOpenState: config.maxWaitDurationInHalfOpenState,
    };
  }
  // As in Resilience4j: a count window can never hold more calls than its size.
  if (config.slidingWindowType === "COUNT_BASED" && config.minimumNumberOfCalls > config.slidingWindowSize) {
    return { ...config, minimumNumberOfCalls: config.slidingWindowSize };
  }
  return config;
}

/** Whether the instance or its base config sets waitDurationInOpenState. */
function hasOwnWait(section: Resilience4jConfig | undefined, name: string): boolean {
  const g = section?.circuitbreaker;
  const instance = g?.instances?.[name];
  const base = g?.configs?.[instance?.baseConfig ?? "default"];
  return instance?.waitDurationInOpenState !== undefined || (base?.type === "consecutive" && base.waitDurationInOpenState !== undefined);
}

export function retryConfigFor(section: Resilience4jConfig | undefined, name: string): RetryConfig {
  return resolve(RETRY_DEFAULTS, section?.retry, name);
}

export function timeLimiterConfigFor(section: Resilience4jConfig | undefined, name: string): TimeLimiterConfig {
  return resolve(TIME_LIMITER_DEFAULTS, section?.timelimiter, name);
}

export function bulkheadConfigFor(section: Resilience4jConfig | undefined, name: string): BulkheadConfig {
  return resolve(BULKHEAD_DEFAULTS, section?.bulkhead, name);
}

export function rateLimiterConfigFor(section: Resilience4jConfig | undefined, name: string): RateLimiterConfig {
  return resolve(RATE_LIMITER_DEFAULTS, section?.ratelimiter, name);
}

/** Whether the section configures `group` for `name` at all (configs.default or instances.<name>). */
export function isConfigured(section: Resilience4jConfig | undefined, group: GroupName, name: string): boolean {
  const g = section?.[group];
  return g?.instances?.[name] !== undefined || g?.configs?.["default"] !== undefined;
}

/**
 * Before a config file is merged over the embedded default: a breaker entry that names its
 * `type` replaces the default's entry of the same name when that one is of another type, so
 * `instances.taskService: { type: consecutive, … }` does not inherit the default's
 * failure-rate keys for it (which the schema would refuse). Returns the base to merge over.
 */
export function withoutReplacedBreakers(base: unknown, over: unknown): unknown {
  const overCb = (over as { resilience4j?: { circuitbreaker?: Record<string, unknown> } } | undefined)?.resilience4j?.circuitbreaker;
  const baseCb = (base as { resilience4j?: { circuitbreaker?: Record<string, unknown> } } | undefined)?.resilience4j?.circuitbreaker;
  if (typeof overCb !== "object" || overCb === null || typeof baseCb !== "object" || baseCb === null) return base;
  const copy = structuredClone(base) as { resilience4j: { circuitbreaker: Record<string, Record<string, { type?: unknown }> | undefined> } };
  for (const kind of ["configs", "instances"]) {
    const entries = overCb[kind];
    const baseEntries = copy.resilience4j.circuitbreaker[kind];
    if (typeof entries !== "object" || entries === null || baseEntries === undefined) continue;
    for (const [name, entry] of Object.entries(entries as Record<string, { type?: unknown }>)) {
      const type = entry?.type;
      if (type !== undefined && baseEntries[name] !== undefined && (baseEntries[name]!.type ?? "failure_rate") !== type) delete baseEntries[name];
    }
  }
  return copy;
}
