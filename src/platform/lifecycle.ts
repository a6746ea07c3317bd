import type { Logger } from "./logger.ts";

/** Phases run in order on shutdown: tell the world we are leaving, let work finish, release resources. */
export type ShutdownPhase = "announce" | "drain" | "close";
const PHASES: ShutdownPhase[] = ["announce", "drain", "close"];

interface Hook {
  phase: ShutdownPhase;
  name: string;
  fn: () => Promise<void> | void;
}

export class Lifecycle {
  private readonly hooks: Hook[] = [];
  private shuttingDown: Promise<void> | undefined;
  /** True from the first signal on: /health answers DOWN, new work may be refused. */
  draining = false;

  constructor(private readonly log: Logger, private readonly graceMs: number) {}

  onShutdown(phase: ShutdownPhase, name: string, fn: Hook["fn"]): void {
    this.hooks.push({ phase, name, fn });
  }

  /** SIGTERM/SIGINT start a graceful shutdown; a second signal exits at once. */
  installSignalHandlers(exit: (code: number) => void = (c) => process.exit(c)): void {
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.shuttingDown) {
        this.log.warn("second signal: exiting now", { signal });
        exit(1);
        return;
      }
      this.log.info("shutting down", { signal, grace_ms: this.graceMs });
      void this.shutdown().then(
        () => exit(0),
        (err) => {
          this.log.error("shutdown failed", { err });
          exit(1);
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  }

  shutdown(): Promise<void> {
    this.shuttingDown ??= this.run();
    return this.shuttingDown;
  }

  private async run(): Promise<void> {
    this.draining = true;
    const deadline = Date.now() + this.graceMs;
    for (const phase of PHASES) {
      const hooks = this.hooks.filter((h) => h.phase === phase);
      // close gets a little time of its own even when drain used the whole grace
      const budget = phase === "close" ? Math.max(1_000, deadline - Date.now()) : Math.max(0, deadline - Date.now());
      await Promise.all(
        hooks.map(async (h) => {
          let timer: ReturnType<typeof setTimeout> | undefined;
          try {
            await Promise.race([
              Promise.resolve().then(h.fn),
              new Promise<void>((resolve) => {
                timer = setTimeout(() => {
                  this.log.warn("shutdown step ran out of time", { phase, step: h.name });
                  resolve();
                }, budget);
              }),
            ]);
          } catch (err) {
            this.log.warn("shutdown step failed", { phase, step: h.name, err });
          } finally {
            clearTimeout(timer);
          }
        }),
      );
    }
  }

  /** Resolves when `count()` reaches zero or `timeoutMs` passes; returns what was left. */
  static async waitForIdle(count: () => number, timeoutMs: number): Promise<number> {
    const until = Date.now() + timeoutMs;
    while (count() > 0 && Date.now() < until) await Bun.sleep(20);
    return count();
  }
}
