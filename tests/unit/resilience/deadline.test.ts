import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../../src/platform/clock.ts";
import {
  DEADLINE_HEADER, deadlineAfter, earliest, formatGrpcTimeout, fromGrpcDeadline, isExpired, parseGrpcTimeout, readDeadline, remainingMs, writeDeadline,
} from "../../../src/resilience/deadline.ts";

describe("deadline propagation", () => {
  test("a deadline written as X-Request-Deadline is read back by the next hop", () => {
    const clock = new FakeClock();
    const deadline = deadlineAfter(1_500.7, clock);
    const headers = new Headers();
    writeDeadline(headers, deadline);
    expect(headers.get("X-Request-Deadline")).toBe(String(Math.floor(deadline)));
    clock.advance(400);
    const next = readDeadline(headers, clock)!;
    expect(remainingMs(next, clock)).toBe(1_100); // the hop's own time was spent, rounding never adds time
  });

  test("grpc-timeout is accepted relative to now, and the earlier of both wins", () => {
    const clock = new FakeClock();
    expect(readDeadline(new Headers({ "grpc-timeout": "250m" }), clock)).toBe(clock.now() + 250);
    const both = new Headers({ "grpc-timeout": "2S", [DEADLINE_HEADER]: String(clock.now() + 5_000) });
    expect(readDeadline(both, clock)).toBe(clock.now() + 2_000);
  });

  test("unreadable headers are ignored, not fatal", () => {
    const clock = new FakeClock();
    expect(readDeadline(new Headers({ [DEADLINE_HEADER]: "tomorrow", "grpc-timeout": "5 seconds" }), clock)).toBeUndefined();
    expect(readDeadline(new Headers(), clock)).toBeUndefined();
  });

  test("grpc-timeout units round-trip and stay within 8 digits", () => {
    expect(parseGrpcTimeout("1H")).toBe(3_600_000);
    expect(parseGrpcTimeout("3M")).toBe(180_000);
    expect(parseGrpcTimeout("1500u")).toBe(1.5);
    expect(parseGrpcTimeout("123456789m")).toBeUndefined();
    expect(formatGrpcTimeout(1_234.2)).toBe("1235m");
    expect(formatGrpcTimeout(200_000_000)).toBe("200000S");
    expect(formatGrpcTimeout(-5)).toBe("0m");
  });

  test("remaining budget, expiry and the tighter of two deadlines", () => {
    const clock = new FakeClock();
    expect(remainingMs(undefined, clock)).toBe(Number.POSITIVE_INFINITY);
    const d = deadlineAfter(10, clock);
    expect(isExpired(d, clock)).toBe(false);
    clock.advance(10);
    expect(isExpired(d, clock)).toBe(true);
    expect(earliest(d, undefined)).toBe(d);
    expect(earliest(d + 5, d)).toBe(d);
    expect(fromGrpcDeadline(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(fromGrpcDeadline(new Date(d))).toBe(d);
  });
});
