/**
 * Test helper: runs programs as a user would. {@linkcode runToEnd} runs one to its end;
 * {@linkcode startProgram} starts a server — one of the poetry server modules
 * (`deno run ... module`) or any program that prints the port it listens on — and stops it
 * again.
 *
 * @module
 */

/** How a program ended: its exit code and everything it printed. */
export interface ProgramEnd {
  code: number;
  stdout: string;
  stderr: string;
}

/** A program started and listening; stopped (SIGTERM) when disposed. */
export interface ListeningProgram extends AsyncDisposable {
  /** The port it said it listens on. */
  port: number;
  /** What it printed on stdout so far (all of it once stopped). */
  output(): string;
  /** Sends `signal` if it still runs. */
  kill(signal: Deno.Signal): void;
  /**
   * Sends `signal` if it still runs, waits for it to end and reads the rest of its output.
   * Calls after the first return the same end.
   */
  stop(signal?: Deno.Signal): Promise<ProgramEnd>;
}

/**
 * Starts `command` with `args` and waits until a line it prints on stdout matches `ready`,
 * whose first group is the port. A program that ends first, or does not match within
 * `seconds`, is stopped (SIGKILL) and the returned promise rejects with what it printed.
 */
export async function startProgram(
  command: string,
  args: string[],
  options: { ready: RegExp; cwd?: string; env?: Record<string, string>; seconds?: number },
): Promise<ListeningProgram> {
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  };
  let ended: Promise<ProgramEnd> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM") => {
    kill(signal);
    ended ??= (async () => {
      const { code } = await child.status;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
      return { code, stdout: seen, stderr: await stderr };
    })();
    return ended;
  };
  const timer = setTimeout(() => kill("SIGKILL"), (options.seconds ?? 20) * 1000);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        throw new Error(
          `${command} ${args.join(" ")} exited before listening:\n${seen}${await stderr}`,
        );
      }
      seen += value;
      const match = seen.match(options.ready);
      if (match) {
        return {
          port: Number(match[1]),
          output: () => seen,
          kill,
          stop,
          [Symbol.asyncDispose]: async () => void await stop(),
        };
      }
    }
  } catch (e) {
    await stop("SIGKILL");
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a server module as a program with `permissions`, waits for its "starting on PORT" log
 * line (or the first match of `ready`, whose first group is the port), calls `use` with the
 * port, then stops it with SIGTERM. Returns its exit code and log. The whole run is bounded
 * to 20 seconds (then the program is killed).
 */
export async function runServerModule(
  module: string,
  permissions: string[],
  args: string[],
  use: (port: number) => Promise<void>,
  ready: RegExp = /starting on (\d+)/,
): Promise<{ code: number; log: string }> {
  const started = Date.now();
  const program = await startProgram(
    Deno.execPath(),
    ["run", ...permissions, new URL(module, import.meta.url).href, ...args],
    { ready },
  );
  const timer = setTimeout(() => program.kill("SIGKILL"), 20_000 - (Date.now() - started));
  try {
    await use(program.port);
    const { code, stdout, stderr } = await program.stop();
    return { code, log: stdout + stderr };
  } finally {
    clearTimeout(timer);
    await program.stop("SIGKILL"); // at once if it has stopped
  }
}

/** How a program run by {@linkcode runToEnd} ended. */
export interface ProgramOutput extends ProgramEnd {
  /** It was still running after the time limit, and was killed. */
  timedOut: boolean;
}

/** Options of {@linkcode runToEnd}. */
export interface RunOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** @default {20_000} */
  limitMs?: number;
}

/**
 * Runs the module at `module` (a URL) with `deno run`, the `permissions` given and `args`, to
 * its end; killed after `limitMs`.
 */
export async function runToEnd(
  module: URL,
  permissions: string[],
  args: string[],
  { env, limitMs = 20_000 }: RunOptions = {},
): Promise<ProgramOutput> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), limitMs);
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...permissions, module.href, ...args],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: ac.signal,
    }).output();
    const decoder = new TextDecoder();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
      timedOut: ac.signal.aborted,
    };
  } finally {
    clearTimeout(timer);
  }
}
