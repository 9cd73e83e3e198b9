/**
 * Daemonizing without `fork`: the runner launches itself again as a detached child (a new
 * session, no terminal, stdin and stderr on `/dev/null`), with the same Deno flags and main
 * module and a marker argument, and waits until the child reports on its stdout pipe that it
 * has started (or failed), for a bounded time. The child then writes nothing more to that pipe.
 *
 * @module
 */

/** The argument that marks the relaunched child; it comes first among the runner's arguments. */
export const DAEMON_CHILD_FLAG = "--daemon-child";

const STATUS_PREFIX = "poetry-daemon-status ";

/** How the child's start-up ended, as the parent learns it. */
export interface DaemonStart {
  /** 0 when the daemon is running; otherwise the exit status for the parent. */
  code: number;
  /** The daemon's pid. */
  pid: number;
  /** Why start-up failed (one line), when it did. */
  message?: string;
}

/**
 * The Deno executable to run: this one, or `deno` from the PATH when only that name is allowed
 * (`--allow-run=deno` grants the PATH's `deno`, which may be a symlink to this executable
 * rather than its own path).
 */
export function denoExecutable(): string {
  const own = Deno.execPath();
  const allowed = (command: string) =>
    Deno.permissions.querySync({ name: "run", command }).state === "granted";
  if (allowed(own)) return own;
  if (allowed("deno")) return "deno";
  return own;
}

function decodeCmdline(bytes: Uint8Array): string[] {
  const parts = new TextDecoder().decode(bytes).split("\0");
  if (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  return parts;
}

/**
 * This process's own command line. Linux keeps it in `/proc/self/cmdline`, which Deno lets a
 * program read only with `--allow-all`; with permission to run Deno itself (which the daemon
 * needs anyway) a helper Deno reads it instead. `undefined` when neither works.
 */
async function ownCommandLine(): Promise<string[] | undefined> {
  try {
    return decodeCmdline(Deno.readFileSync(`/proc/${Deno.pid}/cmdline`));
  } catch {
    // Not Linux, or not --allow-all: try the helper.
  }
  try {
    const { success, stdout } = await new Deno.Command(denoExecutable(), {
      args: [
        "eval",
        "--no-config",
        `Deno.stdout.writeSync(Deno.readFileSync("/proc/${Deno.pid}/cmdline"))`,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    if (success && stdout.length > 0) return decodeCmdline(stdout);
  } catch {
    // No permission to run Deno, or no /proc.
  }
  return undefined;
}

/** Deno flags granting what this process was granted, as far as a query can tell. */
function flagsFromPermissions(): string[] {
  const names = ["read", "write", "net", "env", "run", "sys", "ffi", "import"] as const;
  const flags: string[] = [];
  for (const name of names) {
    if (Deno.permissions.querySync({ name }).state === "granted") flags.push(`--allow-${name}`);
  }
  return flags;
}

/**
 * The executable and the arguments that start this program again with `args` as its own
 * arguments: the original Deno flags and main module (from the process's command line, or
 * failing that rebuilt from the granted permissions), then `args`.
 */
export async function relaunchCommand(args: readonly string[]): Promise<string[]> {
  const own = await ownCommandLine();
  const tail = Deno.args;
  if (own && own.length >= 1 + tail.length) {
    const start = own.length - tail.length;
    if (tail.every((arg, i) => own[start + i] === arg)) return [...own.slice(1, start), ...args];
  }
  return ["run", ...flagsFromPermissions(), Deno.mainModule, ...args];
}

/**
 * Launches the daemon (this program again, detached, with {@linkcode DAEMON_CHILD_FLAG} before
 * `args`) and waits up to `timeout` seconds for it to report its start-up.
 */
export async function startDaemon(args: readonly string[], timeout: number): Promise<DaemonStart> {
  const command = await relaunchCommand([DAEMON_CHILD_FLAG, ...args]);
  const child = new Deno.Command(denoExecutable(), {
    args: command,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    detached: true,
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const readStatus = async (): Promise<DaemonStart | undefined> => {
    let buffered = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) return undefined;
      buffered += value;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (!line.startsWith(STATUS_PREFIX)) continue;
        const rest = line.slice(STATUS_PREFIX.length);
        const space = rest.indexOf(" ");
        const code = Number(space < 0 ? rest : rest.slice(0, space));
        const message = space < 0 ? undefined : rest.slice(space + 1);
        return { code: Number.isInteger(code) ? code : 1, pid: child.pid, message };
      }
    }
  };
  const expired = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeout * 1000);
  });
  try {
    const outcome = await Promise.race([readStatus(), expired]);
    if (outcome === "timeout") {
      try {
        child.kill("SIGTERM");
      } catch {
        // It has just exited.
      }
      await child.status;
      return {
        code: 1,
        pid: child.pid,
        message: `the daemon did not report its start-up within ${timeout} s; it was stopped`,
      };
    }
    if (outcome === undefined) {
      // The pipe closed without a status: the child died during start-up.
      const status = await child.status;
      const code = status.code !== 0 ? status.code : 1;
      const how = status.signal ? `was killed by ${status.signal}` : `exited with status ${code}`;
      return { code, pid: child.pid, message: `the daemon ${how} during start-up` };
    }
    if (outcome.code !== 0) await child.status;
    return outcome;
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
    child.unref();
  }
}

/**
 * In the daemon: tells the waiting parent how start-up ended (0 for running, else the exit
 * status and a one-line reason). Errors are ignored: the parent may be gone.
 */
export function reportDaemonStatus(code: number, message?: string): void {
  const oneLine = message?.replace(/\s*\n\s*/g, " ");
  const line = `${STATUS_PREFIX}${code}${oneLine ? ` ${oneLine}` : ""}\n`;
  try {
    const bytes = new TextEncoder().encode(line);
    let written = 0;
    while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
  } catch {
    // The parent stopped waiting.
  }
}
