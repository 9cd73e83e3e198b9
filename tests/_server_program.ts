/**
 * Test helper: runs one of the poetry server modules as a program (`deno run ... module`), as a
 * user would, and stops it again.
 *
 * @module
 */

/**
 * Runs a server module as a program with `permissions`, waits for its "starting on PORT" log
 * line (or the first match of `ready`, whose first group is the port), calls `use` with the
 * port, then stops it with SIGTERM. Returns its exit code and log.
 */
export async function runServerModule(
  module: string,
  permissions: string[],
  args: string[],
  use: (port: number) => Promise<void>,
  ready: RegExp = /starting on (\d+)/,
): Promise<{ code: number; log: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, new URL(module, import.meta.url).href, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000); // bounded
  try {
    let port: number | undefined;
    while (port === undefined) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${module} exited before listening:\n${log}${await stderr}`);
      log += value;
      const match = log.match(ready);
      if (match) port = Number(match[1]);
    }
    await use(port);
    child.kill("SIGTERM");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      log += value;
    }
    const { code } = await child.status;
    return { code, log: log + (await stderr) };
  } finally {
    clearTimeout(timer);
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await child.status;
    await reader.cancel();
    await stderr;
  }
}
