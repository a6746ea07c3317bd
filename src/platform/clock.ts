// Moved to src/core/clock.ts; this module keeps the older import path working.
export * from "../core/clock.ts";
