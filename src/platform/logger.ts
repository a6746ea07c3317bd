// Moved to src/core/logger.ts; this module keeps the older import path working.
export * from "../core/logger.ts";
