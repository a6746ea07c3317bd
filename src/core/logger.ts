/** Structured JSON logs, one line per event, to stdout (errors to stderr). */
export type LogLevel = "debug" | "info" | "warn" | "error";
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Supplies trace_id/span_id of the active span; set by telemetry when tracing is on. */
let traceFields: () => { trace_id?: string; span_id?: string } | undefined = () => undefined;
export function setTraceFieldsProvider(fn: typeof traceFields): void {
  traceFields = fn;
}

let minRank = RANK.info;
export function setLogLevel(level: LogLevel): void {
  minRank = RANK[level];
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  enabled(level: LogLevel): boolean;
}

function errorFields(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const err = fields?.err;
  if (!(err instanceof Error)) return fields;
  return { ...fields, err: { name: err.name, message: err.message, code: (err as { code?: unknown }).code } };
}

export function createLogger(base: Record<string, unknown> = {}): Logger {
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < minRank) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...traceFields(), ...errorFields(fields) });
    if (RANK[level] >= RANK.warn) process.stderr.write(line + "\n");
    else process.stdout.write(line + "\n");
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => createLogger({ ...base, ...fields }),
    enabled: (level) => RANK[level] >= minRank,
  };
}

export const rootLogger = createLogger();
