/** `bpm health`: exit 0 when the local /health answers UP (used by container HEALTHCHECKs). */
export async function healthCommand(host: string, port: number | undefined): Promise<number> {
  const ports = port ? [port] : [8000, 8082, 8081, 8080];
  for (const p of ports) {
    try {
      const res = await fetch(`http://${host}:${p}/health`, { signal: AbortSignal.timeout(3_000) });
      const body = (await res.json()) as { status?: string };
      console.log(`${host}:${p} ${body.status ?? "?"}`);
      return body.status === "UP" ? 0 : 1;
    } catch {
      if (port) {
        console.log(`${host}:${p} unreachable`);
        return 1;
      }
    }
  }
  console.log("no bpm /health answered on the default ports");
  return 1;
}
