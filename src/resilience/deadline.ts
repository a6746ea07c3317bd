import { type Clock, systemClock } from "../core/clock.ts";

/**
 * Deadlines are absolute epoch milliseconds (`Clock.now()` domain). Over HTTP they travel as
 * `X-Request-Deadline: <epoch ms>`; `grpc-timeout` (relative) is accepted too, and gRPC
 * clients take the same number as their `deadline` option.
 */
export type Deadline = number;

export const DEADLINE_HEADER = "x-request-deadline";
export const GRPC_TIMEOUT_HEADER = "grpc-timeout";

interface HeaderReader { get(name: string): string | null }
interface HeaderWriter { set(name: string, value: string): void }

/** The deadline `ms` from now. */
export function deadlineAfter(ms: number, clock: Clock = systemClock): Deadline {
  return clock.now() + ms;
}

/** Milliseconds left before `deadline` (Infinity without one; <= 0 once passed). */
export function remainingMs(deadline: Deadline | undefined, clock: Clock = systemClock): number {
  return deadline === undefined ? Number.POSITIVE_INFINITY : deadline - clock.now();
}

export function isExpired(deadline: Deadline | undefined, clock: Clock = systemClock): boolean {
  return deadline !== undefined && deadline <= clock.now();
}

/** The tighter of two optional deadlines. */
export function earliest(a: Deadline | undefined, b: Deadline | undefined): Deadline | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}

const GRPC_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };

/** gRPC's `grpc-timeout` value ("100m", "5S", at most 8 digits) → milliseconds; undefined if malformed. */
export function parseGrpcTimeout(value: string): number | undefined {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value.trim());
  return match === null ? undefined : Number(match[1]) * GRPC_UNIT_MS[match[2]!]!;
}

/** Milliseconds → a `grpc-timeout` value, in the finest unit that fits 8 digits. */
export function formatGrpcTimeout(ms: number): string {
  const value = Math.max(0, Math.ceil(ms));
  if (value < 100_000_000) return `${value}m`;
  const seconds = Math.ceil(value / 1_000);
  if (seconds < 100_000_000) return `${seconds}S`;
  return `${Math.min(99_999_999, Math.ceil(value / 3_600_000))}H`;
}

/**
 * The deadline a request carries: the earlier of `X-Request-Deadline` (epoch ms) and
 * `grpc-timeout` (relative to now). Unreadable values are ignored, not fatal.
 */
export function readDeadline(headers: HeaderReader, clock: Clock = systemClock): Deadline | undefined {
  let deadline: Deadline | undefined;
  const absolute = headers.get(DEADLINE_HEADER);
  if (absolute !== null && /^\s*\d{1,16}\s*$/.test(absolute)) deadline = Number(absolute);
  const relative = headers.get(GRPC_TIMEOUT_HEADER);
  if (relative !== null) {
    const ms = parseGrpcTimeout(relative);
    if (ms !== undefined) deadline = earliest(deadline, clock.now() + ms);
  }
  return deadline;
}

/** Writes `X-Request-Deadline` (whole epoch ms, rounded down so a hop never gains time). */
export function writeDeadline(headers: HeaderWriter, deadline: Deadline | undefined): void {
  if (deadline !== undefined && Number.isFinite(deadline)) headers.set(DEADLINE_HEADER, String(Math.floor(deadline)));
}

/** A grpc-js deadline (`call.getDeadline()`: Date, epoch ms, or Infinity for none) → Deadline. */
export function fromGrpcDeadline(deadline: Date | number | undefined): Deadline | undefined {
  if (deadline === undefined) return undefined;
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}
