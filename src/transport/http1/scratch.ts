/** Heads, chunk framing and small bodies are assembled here and written in one syscall (single-threaded, written synchronously; leftovers are copied out). */
export const SCRATCH = Buffer.allocUnsafe(64 * 1024);
