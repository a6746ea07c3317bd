/** `bpm token` (issue 5 adds JWT minting). */
export async function tokenCommand(_cmd: { sub: string }): Promise<number> {
  process.stderr.write("token: gateway authentication is not built yet\n");
  return 2;
}
