import assert from "node:assert/strict";
import { AlreadyRunningError, PidFile } from "../services/_pidfile.ts";
import { runServerModule, runToEnd as runProgram } from "./_server_program.ts";
import { IdentityError, type IdentitySystem, switchIdentity } from "../services/_identity.ts";

const MAIN = new URL("./fixtures/runner/main.ts", import.meta.url).pathname;
const APP = new URL("./fixtures/runner/app.ts", import.meta.url).pathname;
const GREETING = new URL("./fixtures/runner/greeting_plugin.ts", import.meta.url).pathname;
const PID_APP = new URL("./fixtures/runner/pid_app.ts", import.meta.url).pathname;
/** The permissions the runner's README asks for, for a daemon with a pid file and a log. */
const FLAGS = ["--allow-net=127.0.0.1", "--allow-read", "--allow-write", "--allow-run=deno"];
/** The longest any one wait in these tests may take, in seconds. */
const WAIT = 20;

/** The runner fixture in a subprocess, with its output collected as it comes. */
class Runner implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  #pumps: Promise<void>[];
  #status: Deno.CommandStatus | undefined;

  constructor(args: string[], cwd: string, flags: string[] = FLAGS) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, MAIN, ...args],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) this[key] += text;
    };
    this.#pumps = [pump(this.child.stdout, "stdout"), pump(this.child.stderr, "stderr")];
    this.child.status.then((status) => this.#status = status);
  }

  /** Waits until stdout matches `pattern`; fails if the process ends first or time runs out. */
  async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    const deadline = Date.now() + WAIT * 1000;
    while (Date.now() < deadline) {
      const match = this.stdout.match(pattern);
      if (match) return match;
      if (this.#status !== undefined) {
        await Promise.all(this.#pumps);
        const late = this.stdout.match(pattern);
        if (late) return late;
        assert.fail(`exited (${this.#status.code}) before printing ${pattern}:\n${this.output}`);
      }
      await delay(20);
    }
    assert.fail(`no ${pattern} within ${WAIT} s:\n${this.output}`);
  }

  /** The port a TCP server logged it listens on. */
  async port(): Promise<number> {
    return Number((await this.waitFor(/ starting on (\d+)/))[1]);
  }

  /** Waits for the process to exit (bounded) and for its output to be read. */
  async exit(): Promise<Deno.CommandStatus> {
    const timer = setTimeout(() => this.child.kill("SIGKILL"), WAIT * 1000);
    try {
      const status = await this.child.status;
      await Promise.all(this.#pumps);
      return status;
    } finally {
      clearTimeout(timer);
    }
  }

  get output(): string {
    return `--- stdout\n${this.stdout}--- stderr\n${this.stderr}`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#status === undefined) {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await this.exit();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs the runner to completion (for commands that exit by themselves). */
async function runToEnd(args: string[], cwd: string): Promise<[Deno.CommandStatus, Runner]> {
  const runner = new Runner(args, cwd);
  return [await runner.exit(), runner];
}

/** Everything a server on 127.0.0.1:port sends before it closes the connection. */
async function fetchText(port: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(4096);
    const deadline = Date.now() + WAIT * 1000;
    while (Date.now() < deadline) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
    return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  } finally {
    conn.close();
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Whether `pid` has exited (gone, or a zombie no one has reaped yet). */
async function processGone(pid: number): Promise<boolean> {
  try {
    Deno.kill(pid, 0);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return true;
    throw e;
  }
  const { stdout } = await new Deno.Command("ps", { args: ["-o", "stat=", "-p", String(pid)] })
    .output();
  const state = new TextDecoder().decode(stdout).trim();
  return state === "" || state.startsWith("Z");
}

async function waitUntil(what: string, condition: () => boolean | Promise<boolean>) {
  const deadline = Date.now() + WAIT * 1000;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await delay(50);
  }
  assert.fail(`${what} did not happen within ${WAIT} s`);
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

async function withTempDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "runner_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Asserts a usage failure: status 2 and exactly one line on stderr, without a stack trace, and
 * nothing logged before it (no log is begun for a command line that cannot run).
 */
function assertUsageError(status: Deno.CommandStatus, runner: Runner, line: string): void {
  assert.equal(status.code, 2, runner.output);
  assert.equal(runner.stderr, line + "\n");
  assert.doesNotMatch(runner.stderr, /^\s+at /m);
  assert.equal(runner.stdout, "", "nothing logged");
}

// --- The pid file, in this process ---

Deno.test("PidFile refuses a pid file another holder has locked, and says whose it is", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/a.pid`;
    const held = PidFile.acquire(path, () => assert.fail("no warning expected"));
    held.write(4242);
    try {
      assert.throws(() => PidFile.acquire(path, () => {}), (e: unknown) => {
        assert.ok(e instanceof AlreadyRunningError);
        assert.equal(e.pid, 4242);
        assert.match(e.message, /another server is running, PID 4242/);
        return true;
      });
    } finally {
      held.remove();
    }
    assert.equal(exists(path), false);
  });
});

Deno.test("PidFile replaces a pid file naming a dead process, with a warning", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/a.pid`;
    const dead = await deadPid();
    Deno.writeTextFileSync(path, `${dead}\n`);
    const warnings: string[] = [];
    const pidfile = PidFile.acquire(path, (w) => warnings.push(w));
    pidfile.write();
    assert.equal(Deno.readTextFileSync(path), `${Deno.pid}\n`);
    assert.deepEqual(warnings, [`Removing stale pid file ${path}: PID ${dead} is not running`]);
    pidfile.remove();
    pidfile.remove();
    assert.equal(exists(path), false);
  });
});

Deno.test("PidFile treats a live process that holds no lock as a reused pid", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/a.pid`;
    Deno.writeTextFileSync(path, `${Deno.ppid}`);
    const warnings: string[] = [];
    const pidfile = PidFile.acquire(path, (w) => warnings.push(w));
    pidfile.remove();
    assert.match(warnings[0], /PID \d+ is running but is not this server \(the pid was reused\)/);
  });
});

// --- The runner, in a subprocess ---

Deno.test("runner serves in the foreground and shuts down cleanly on SIGTERM", async () => {
  await withTempDir(async (dir) => {
    await using runner = new Runner(["--pidfile", "hello.pid", "hello", "--port", "0"], dir);
    const port = await runner.port();
    await runner.waitFor(/Dropped the permissions/);
    assert.equal(Deno.readTextFileSync(`${dir}/hello.pid`).trim(), String(runner.child.pid));
    assert.equal(await fetchText(port), "hello from the runner\n");
    await runner.waitFor(/sending 22 bytes/);
    runner.child.kill("SIGTERM");
    const status = await runner.exit();
    assert.equal(status.code, 0, runner.output);
    assert.equal(exists(`${dir}/hello.pid`), false);
    const lines = runner.stdout.split("\n").map((line) => line.replace(/^\S+ \S+ /, ""));
    const expected = [
      "[-] Log opened.",
      `[-] poetry 0.1.0 (Deno ${Deno.version.deno}) starting up.`,
      "[-] reactor class: Reactor.",
      "[-] Received SIGTERM, shutting down.",
      "[-] Main loop terminated.",
      "[-] Server Shut Down.",
    ];
    let at = -1;
    for (const line of expected) {
      const next = lines.indexOf(line, at + 1);
      assert.ok(next > at, `${JSON.stringify(line)} missing or out of order:\n${runner.output}`);
      at = next;
    }
    assert.equal(lines[lines.length - 2], "[-] Server Shut Down.");
    assert.equal(runner.stderr, "");
  });
});

Deno.test("runner stops on SIGINT as on SIGTERM", async () => {
  await withTempDir(async (dir) => {
    await using runner = new Runner(["hello", "--port", "0"], dir);
    await runner.port();
    await runner.waitFor(/Dropped the permissions/);
    runner.child.kill("SIGINT");
    const status = await runner.exit();
    assert.equal(status.code, 0, runner.output);
    assert.match(runner.stdout, /\[-\] Received SIGINT, shutting down\.\n/);
    assert.match(runner.stdout, /Server Shut Down\.\n$/);
  });
});

Deno.test("runner exits at once on a second signal while the first is still stopping", async () => {
  await withTempDir(async (dir) => {
    const args = ["--pidfile", "hello.pid", "hello", "--port", "0", "--hang-on-stop"];
    await using runner = new Runner(args, dir);
    await runner.port();
    await runner.waitFor(/Dropped/);
    runner.child.kill("SIGTERM");
    await runner.waitFor(/stopping, slowly/);
    runner.child.kill("SIGINT");
    const status = await runner.exit();
    assert.equal(status.code, 1, runner.output);
    assert.match(runner.stdout, /Received SIGINT after SIGTERM, exiting at once\.\n$/);
    assert.equal(exists(`${dir}/hello.pid`), false);
  });
});

Deno.test("runMain runs in-process and removes its signal listeners and log observer", async () => {
  const { runMain } = await import("../services/runner.ts");
  const { reactor } = await import("../reactor.ts");
  const { plugin } = await import("./fixtures/runner/hello_plugin.ts");
  const { addObserver, msg, removeObserver } = await import("../log.ts");
  let port = 0;
  const seen: string[] = [];
  const observer = (event: { message: unknown[] }) => seen.push(event.message.join(" "));
  // Once the server runs, fetch from it and stop the reactor, as a signal would.
  let fetched: unknown;
  reactor.callWhenRunning(async () => {
    try {
      port = Number(seen.find((line) => / starting on /.test(line))!.split(" ").pop());
      fetched = await fetchText(port);
    } catch (e) {
      fetched = e;
    } finally {
      reactor.stop();
    }
  });
  addObserver(observer);
  try {
    const status = await runMain(
      ["--keep-permissions", "hello", "--port", "0", "--text", "in-process hello"],
      { plugins: [plugin] },
    );
    assert.equal(status, 0);
  } finally {
    removeObserver(observer);
  }
  assert.equal(fetched, "in-process hello\n");
  assert.ok(seen.includes("Server Shut Down."));
  // Nothing the run added is left: this message reaches no observer, and the sanitizers see no
  // signal listener or open file.
  seen.length = 0;
  msg("after the run");
  assert.deepEqual(seen, []);
});

Deno.test("runner revokes what start-up alone needed, unless --keep-permissions", async () => {
  await withTempDir(async (dir) => {
    {
      await using runner = new Runner(["hello", "--port", "0", "--probe"], dir);
      const port = await runner.port();
      await runner.waitFor(/Dropped the permissions only start-up needed: read, write, env, run/);
      assert.equal(await fetchText(port), "read=prompt write=prompt env=prompt run=prompt\n");
      runner.child.kill("SIGTERM");
      assert.equal((await runner.exit()).code, 0, runner.output);
    }
    {
      // A pid file must still be removed at shutdown: write stays.
      await using runner = new Runner(
        ["--pidfile", "p.pid", "hello", "--port", "0", "--probe"],
        dir,
      );
      const port = await runner.port();
      assert.equal(await fetchText(port), "read=prompt write=granted env=prompt run=prompt\n");
      runner.child.kill("SIGTERM");
      assert.equal((await runner.exit()).code, 0, runner.output);
      assert.equal(exists(`${dir}/p.pid`), false);
    }
    {
      await using runner = new Runner(
        ["--keep-permissions", "hello", "--port", "0", "--probe"],
        dir,
      );
      const port = await runner.port();
      assert.equal(await fetchText(port), "read=granted write=granted env=prompt run=granted\n");
      assert.doesNotMatch(runner.stdout, /Dropped/);
      runner.child.kill("SIGTERM");
      assert.equal((await runner.exit()).code, 0, runner.output);
    }
    {
      // A service that reads a file again later (a periodic reload) keeps read, and only that.
      await using runner = new Runner(
        ["--keep", "read", "--keep=run", "hello", "--port", "0", "--probe"],
        dir,
      );
      const port = await runner.port();
      await runner.waitFor(/kept net, read \(--keep\), run \(--keep\) \(/);
      assert.equal(await fetchText(port), "read=granted write=prompt env=prompt run=granted\n");
      runner.child.kill("SIGTERM");
      assert.equal((await runner.exit()).code, 0, runner.output);
    }
    const [status, refused] = await runToEnd(["--keep", "disk", "hello", "--port", "0"], dir);
    assert.equal(status.code, 2, refused.output);
    assert.match(refused.stderr, /--keep: "disk" is not one of read, write, env, run, sys, ffi/);
  });
});

Deno.test("runner --daemon detaches, prints the pid, and the daemon stops cleanly on kill", async () => {
  await withTempDir(async (dir) => {
    const [status, parent] = await runToEnd(["--daemon", "hello", "--port", "0"], dir);
    assert.equal(status.code, 0, parent.output);
    const pid = Number(parent.stdout.trim());
    assert.ok(Number.isInteger(pid) && pid > 0, parent.output);
    try {
      // The defaults: poetry.pid and poetry.log in the current directory, its owner's alone.
      assert.equal(Deno.readTextFileSync(`${dir}/poetry.pid`).trim(), String(pid));
      for (const name of ["poetry.pid", "poetry.log"]) {
        assert.equal(Deno.statSync(`${dir}/${name}`).mode! & 0o777, 0o600, name);
      }
      const log = () => Deno.readTextFileSync(`${dir}/poetry.log`);
      await waitUntil("the daemon's start-up log", () => / starting on \d+/.test(log()));
      const port = Number(log().match(/ starting on (\d+)/)![1]);
      assert.equal(await fetchText(port), "hello from the runner\n");
      Deno.kill(pid, "SIGTERM");
      await waitUntil("the daemon's exit", () => processGone(pid));
      assert.equal(exists(`${dir}/poetry.pid`), false);
      assert.match(log(), /Received SIGTERM, shutting down\.\n.*Main loop terminated\.\n/s);
      assert.match(log(), /Server Shut Down\.\n$/);
      assert.match(log(), /Dropped the permissions only start-up needed: env, run/);
    } finally {
      if (!(await processGone(pid))) Deno.kill(pid, "SIGKILL");
    }
  });
});

Deno.test("runner --daemon reports a failed start-up with the daemon's reason and status", async () => {
  await withTempDir(async (dir) => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const args = ["--daemon", "hello", "--port", String(listener.addr.port)];
    const [status, parent] = await runToEnd(args, dir);
    assert.equal(status.code, 1, parent.output);
    assert.match(parent.stderr, /^poetry: cannot start: CannotListenError: .*\n$/);
    assert.equal(exists(`${dir}/poetry.pid`), false);
    assert.match(Deno.readTextFileSync(`${dir}/poetry.log`), /Failed to start the application:/);
  });
});

Deno.test("runner --daemon without permission to run Deno says which flag it needs", async () => {
  await withTempDir(async (dir) => {
    await using parent = new Runner(
      ["--daemon", "hello", "--port", "0"],
      dir,
      ["--allow-net=127.0.0.1", "--allow-read", "--allow-write"],
    );
    const status = await parent.exit();
    assert.equal(status.code, 1, parent.output);
    assert.equal(
      parent.stderr,
      "poetry: --daemon starts Deno again, which needs --allow-run=deno\n",
    );
    assert.equal(exists(`${dir}/poetry.pid`), false);
  });
});

Deno.test("runner exits 1 and leaves no pid file when its port is in use", async () => {
  await withTempDir(async (dir) => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    const [status, runner] = await runToEnd(
      ["--pidfile", "hello.pid", "hello", "--port", String(port)],
      dir,
    );
    assert.equal(status.code, 1, runner.output);
    assert.match(runner.stderr, /^poetry: cannot start: CannotListenError: .*\n$/);
    // One line: a port in use is the machine's state, and a traceback says nothing more.
    assert.match(
      runner.stdout,
      /\[-\] Failed to start the application: CannotListenError: cannot listen on 127\.0\.0\.1:\d+: address already in use\n[^\t]*Server Shut Down\.\n$/,
    );
    assert.equal(exists(`${dir}/hello.pid`), false);
    // Logging to a file, the reason still reaches the terminal.
    const [fileStatus, fileRunner] = await runToEnd(
      ["--logfile", "hello.log", "hello", "--port", String(port)],
      dir,
    );
    assert.equal(fileStatus.code, 1, fileRunner.output);
    assert.match(fileRunner.stderr, /^poetry: cannot start: CannotListenError: .*\n$/);
    assert.match(Deno.readTextFileSync(`${dir}/hello.log`), /Failed to start the application:/);
  });
});

Deno.test("runner replaces a stale pid file naming a dead process, with a warning", async () => {
  await withTempDir(async (dir) => {
    const dead = await deadPid();
    Deno.writeTextFileSync(`${dir}/hello.pid`, String(dead));
    await using runner = new Runner(["--pidfile", "hello.pid", "hello", "--port", "0"], dir);
    await runner.port();
    assert.match(
      runner.stdout,
      // Whether the pid is dead can be told only with unscoped --allow-run.
      new RegExp(
        `Removing stale pid file ${dir}/hello\\.pid: PID ${dead} (is not running|does not hold it)`,
      ),
    );
    await runner.waitFor(/Dropped/);
    assert.equal(Deno.readTextFileSync(`${dir}/hello.pid`).trim(), String(runner.child.pid));
    runner.child.kill("SIGTERM");
    assert.equal((await runner.exit()).code, 0, runner.output);
  });
});

Deno.test("runner's pid file names it while the application is still being made", async () => {
  await withTempDir(async (dir) => {
    await using runner = new Runner(["--pidfile", "hello.pid", "--config", PID_APP], dir);
    await runner.port();
    const line = `pid file while loading: ${JSON.stringify(`${runner.child.pid}\n`)}\n`;
    assert.ok(runner.stdout.includes(line), runner.output);
    runner.child.kill("SIGTERM");
    assert.equal((await runner.exit()).code, 0, runner.output);
    assert.equal(exists(`${dir}/hello.pid`), false);
  });
});

Deno.test("runner reads --pidfile= as no pid file and --logfile= as the default log, as twistd", async () => {
  await withTempDir(async (dir) => {
    await using runner = new Runner(["--pidfile=", "--logfile=", "hello", "--port", "0"], dir);
    const port = await runner.port(); // logged on standard output, the foreground's default
    assert.equal(await fetchText(port), "hello from the runner\n");
    assert.deepEqual([...Deno.readDirSync(dir)], [], "no pid file, no log file");
    runner.child.kill("SIGTERM");
    assert.equal((await runner.exit()).code, 0, runner.output);
  });
});

Deno.test("runner refuses to start while a running server holds the pid file", async () => {
  await withTempDir(async (dir) => {
    await using first = new Runner(["--pidfile", "hello.pid", "hello", "--port", "0"], dir);
    const port = await first.port();
    await first.waitFor(/Dropped/);
    const [status, second] = await runToEnd(
      ["--pidfile", "hello.pid", "hello", "--port", "0"],
      dir,
    );
    assert.equal(status.code, 1, second.output);
    assert.match(
      second.stderr,
      new RegExp(`^poetry: another server is running, PID ${first.child.pid} \\(pid file `),
    );
    assert.equal(second.stderr.split("\n").length, 2);
    // The first server is untouched.
    assert.equal(Deno.readTextFileSync(`${dir}/hello.pid`).trim(), String(first.child.pid));
    assert.equal(await fetchText(port), "hello from the runner\n");
    // And so is a daemon's parent, before it starts anything.
    const [daemonStatus, daemon] = await runToEnd(
      ["--daemon", "--pidfile", "hello.pid", "hello", "--port", "0"],
      dir,
    );
    assert.equal(daemonStatus.code, 1, daemon.output);
    assert.match(daemon.stderr, /^poetry: another server is running/);
    first.child.kill("SIGTERM");
    assert.equal((await first.exit()).code, 0);
  });
});

Deno.test("runner logs to a --logfile and reopens it on SIGHUP", async () => {
  await withTempDir(async (dir) => {
    await using runner = new Runner(["--logfile", "hello.log", "hello", "--port", "0"], dir);
    const log = () => Deno.readTextFileSync(`${dir}/hello.log`);
    await waitUntil("the start-up log", () => exists(`${dir}/hello.log`) && /Dropped/.test(log()));
    assert.equal(runner.stdout, "");
    Deno.renameSync(`${dir}/hello.log`, `${dir}/hello.log.old`);
    runner.child.kill("SIGHUP");
    await waitUntil("a new log file", () => exists(`${dir}/hello.log`));
    runner.child.kill("SIGTERM");
    assert.equal((await runner.exit()).code, 0, runner.output);
    assert.match(Deno.readTextFileSync(`${dir}/hello.log.old`), /reopening the log file/);
    assert.match(log(), /Received SIGTERM.*Server Shut Down\.\n$/s);
  });
});

Deno.test("runner rotates its --logfile on SIGUSR1 and keeps serving, as twistd does", async () => {
  await withTempDir(async (dir) => {
    await using runner = new Runner(["--logfile", "hello.log", "hello", "--port", "0"], dir);
    const log = () => Deno.readTextFileSync(`${dir}/hello.log`);
    await waitUntil("the start-up log", () => exists(`${dir}/hello.log`) && /Dropped/.test(log()));
    const port = Number(log().match(/ starting on (\d+)/)![1]);
    runner.child.kill("SIGUSR1");
    await waitUntil("the rotated log", () => exists(`${dir}/hello.log.1`));
    assert.match(
      Deno.readTextFileSync(`${dir}/hello.log.1`),
      /starting up\..*Received SIGUSR1, rotating the log file\.\n$/s,
    );
    // Still serving, and logging into the new file.
    assert.equal(await fetchText(port), "hello from the runner\n");
    await waitUntil("a line in the new log", () => /sending 22 bytes/.test(log()));
    runner.child.kill("SIGTERM");
    assert.equal((await runner.exit()).code, 0, runner.output);
    assert.doesNotMatch(log(), /starting up/);
    assert.match(log(), /Received SIGTERM.*Server Shut Down\.\n$/s);
  });
});

Deno.test("runner --help lists its options and every plugin with its description", async () => {
  await withTempDir(async (dir) => {
    const [status, runner] = await runToEnd(["--plugin", GREETING, "--help"], dir);
    assert.equal(status.code, 0, runner.output);
    assert.match(runner.stdout, /^Usage: poetry \[options\] \[plugin \[plugin options\]\]\n/);
    for (const option of ["--daemon", "--pidfile=", "--logfile=", "--config=", "--plugin="]) {
      assert.ok(runner.stdout.includes(option), `${option} missing:\n${runner.output}`);
    }
    assert.match(runner.stdout, /\nPlugins:\n/);
    assert.match(
      runner.stdout,
      /\n {4}greeting +Greets whoever connects, from a plugin module\.\n/,
    );
    assert.match(runner.stdout, /\n {4}hello +Says hello to whoever connects\.\n/);
    assert.doesNotMatch(runner.stdout, /With no plugin named/, "this runner has no default");
    assert.equal(runner.stderr, "");
  });
});

Deno.test("a one-plugin program's --help says how to see that plugin's options", async () => {
  const module = new URL("../services/fastpoetry.ts", import.meta.url);
  const help = await runProgram(module, ["--allow-net"], ["--help"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(
    help.stdout,
    /\n\nWith no plugin named, it runs fastpoetry with the arguments given;\n`fastpoetry --help` lists its options\.\n$/,
  );
  const options = await runProgram(module, ["--allow-net"], ["fastpoetry", "--help"]);
  assert.equal(options.code, 0, options.stderr);
  assert.match(options.stdout, /^Usage: poetry \[options\] fastpoetry \[options\]/);
  assert.match(options.stdout, /--port=/);
});

Deno.test("runner <plugin> --help shows the plugin's options with their defaults", async () => {
  await withTempDir(async (dir) => {
    const [status, runner] = await runToEnd(["hello", "--help"], dir);
    assert.equal(status.code, 0, runner.output);
    assert.match(runner.stdout, /^Usage: poetry \[options\] hello \[options\]\n/);
    assert.match(runner.stdout, /\n {2}-p, --port= +The port to listen on\. \[default: 10000\]\n/);
    assert.match(
      runner.stdout,
      /\n {6}--iface= +The interface to listen on\. \[default: 127\.0\.0\.1\]\n/,
    );
    assert.match(runner.stdout, /Says hello to whoever connects\./);
  });
});

Deno.test("runner ends bad command lines with one line on stderr and status 2", async () => {
  await withTempDir(async (dir) => {
    const cases: [string[], string][] = [
      [["--bogus"], "poetry: option --bogus not recognized"],
      [["--pidfile"], "poetry: option --pidfile requires a value"],
      [["nosuch"], "poetry: unknown plugin: nosuch (--help lists the plugins)"],
      [
        ["hello", "--port", "abc"],
        'poetry hello: option --port: "abc" is not a port number (0 to 65535)',
      ],
      [["hello", "--bogus"], "poetry hello: option --bogus not recognized"],
      [["hello", "--text-file", "missing.txt"], "poetry hello: no such text file: missing.txt"],
      [["--config", "missing_app.ts"], "poetry: no such configuration module: missing_app.ts"],
      [
        ["--plugin", "missing_plugin.ts", "hello"],
        "poetry: no such plugin module: missing_plugin.ts",
      ],
      [["--daemon", "--logfile", "-", "hello"], "poetry: a daemon cannot log to standard output"],
    ];
    for (const [args, line] of cases) {
      const [status, runner] = await runToEnd(args, dir);
      assertUsageError(status, runner, line);
    }
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("runner: a misspelt plugin name that the default plugin refuses is called no plugin", async () => {
  const cli = new URL("../mod.ts", import.meta.url).pathname;
  const run = async (args: string[]): Promise<[number, string, string]> => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net=127.0.0.1", "--allow-read", cli, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(WAIT * 1000),
    }).output();
    return [out.code, new TextDecoder().decode(out.stdout), new TextDecoder().decode(out.stderr)];
  };
  const hint = '("slowpeotry" is not a plugin either; --help lists them)\n';
  const [code, stdout, stderr] = await run(["slowpeotry"]);
  assert.deepEqual([code, stdout], [2, ""]);
  assert.match(stderr, /^poetry fastpoetry: no such poem file: slowpeotry \(and no bundled poem/);
  assert.ok(stderr.endsWith(` ${hint}`), stderr);
  assert.deepEqual(await run(["slowpeotry", "--delay", "1"]), [
    2,
    "",
    `poetry fastpoetry: option --delay not recognized ${hint}`,
  ]);
  assert.deepEqual(await run(["--delay", "1"]), [
    2,
    "",
    "poetry fastpoetry: option --delay not recognized\n",
  ]);
});

Deno.test("runner --config runs the application a module exports", async () => {
  await withTempDir(async (dir) => {
    await using runner = new Runner(["--config", APP], dir);
    const port = await runner.port();
    assert.match(
      runner.stdout,
      new RegExp(`\\[-\\] Loading ${APP}\\.\\.\\.\n.*\\[-\\] Loaded\\.\n`),
    );
    assert.equal(await fetchText(port), "hello from a configuration module\n");
    runner.child.kill("SIGTERM");
    assert.equal((await runner.exit()).code, 0, runner.output);
  });
});

Deno.test("runner --plugin runs a plugin from a module, by a path relative to the cwd", async () => {
  const fixtures = new URL("./fixtures/runner/", import.meta.url).pathname;
  await using runner = new Runner(["--plugin", "./greeting_plugin.ts", "greeting"], fixtures);
  const port = await runner.port();
  assert.equal(await fetchText(port), "greetings from a plugin module\n");
  runner.child.kill("SIGTERM");
  assert.equal((await runner.exit()).code, 0, runner.output);
});

Deno.test("a --plugin or --config module may import the module that runs it", async () => {
  // mod.ts runs a plugin that imports the package root, as `jsr:@poetry/serve --plugin` does
  // for a plugin importing "jsr:@poetry/serve": the same module, still running.
  const rooted = new URL("./fixtures/runner/root_plugin.ts", import.meta.url).pathname;
  const plugin = await runServerModule(
    "../mod.ts",
    ["--allow-net=127.0.0.1", "--allow-read"],
    ["--plugin", rooted, "rooted"],
    async (port) => {
      assert.equal(await fetchText(port), "greetings from a plugin importing the package root\n");
    },
  );
  assert.equal(plugin.code, 0, plugin.log);
  // A server module run as a program, with a configuration that imports that module.
  const app = new URL("./fixtures/runner/fastpoetry_app.ts", import.meta.url).pathname;
  const config = await runServerModule(
    "../services/fastpoetry.ts",
    ["--allow-net=127.0.0.1", "--allow-read"],
    ["--config", app],
    async (port) => assert.match(await fetchText(port), /^Villanelle of the Tide\n/),
  );
  assert.equal(config.code, 0, config.log);
});

/** A configuration module: services that log their start and stop, in the order given. */
function journalApp(services: string[]): string {
  const at = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
  return `import { Service } from ${at("../services/service.ts")};
import { Application } from ${at("../services/application.ts")};
import { TCPServer } from ${at("../services/internet.ts")};
import { Factory } from ${at("../protocols/factory.ts")};
class Journal extends Service {
  constructor(readonly label: string, readonly fail = false) {
    super();
  }
  override startService(): void {
    if (this.fail) throw new Error(this.label + " cannot start");
    super.startService();
    console.log(this.label + " started");
  }
  override stopService(): void {
    super.stopService();
    console.log(this.label + " stopped");
  }
}
export const application = new Application("journal");
${services.map((s) => `${s}.setServiceParent(application);`).join("\n")}
`;
}

Deno.test("a --config module that throws is logged with the line in it that threw", async () => {
  await withTempDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/bad_app.ts`, `\n\nthrow new Error("boom in config");\n`);
    const [status, runner] = await runToEnd(["--config", "bad_app.ts"], dir);
    assert.equal(status.code, 1, runner.output);
    assert.match(runner.stderr, /cannot load configuration module bad_app\.ts: Error: boom/);
    assert.match(runner.stdout, /\n\tCaused by: Error: boom in config\n\t\s+at .*bad_app\.ts:3:7/);
  });
});

Deno.test("after a failed start the runner stops only what had started", async () => {
  await withTempDir(async (dir) => {
    using busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    // A port in use fails the privileged start: nothing has started; the port bound before
    // it is closed.
    Deno.writeTextFileSync(
      `${dir}/busy_app.ts`,
      journalApp([
        `new Journal("a")`,
        `new TCPServer(0, new Factory(), { interface: "127.0.0.1" })`,
        `new TCPServer(${busy.addr.port}, new Factory(), { interface: "127.0.0.1" })`,
      ]),
    );
    const [status, runner] = await runToEnd(["--config", "busy_app.ts"], dir);
    assert.equal(status.code, 1, runner.output);
    assert.match(runner.stdout, /Failed to start the application/);
    assert.doesNotMatch(runner.stdout, /a (started|stopped)/, "never started, so not stopped");
    assert.match(runner.stdout, /\(TCP Port \d+ Closed\)/, "the port bound first is closed");

    // A service that throws in startService: the one before it stops, the ones after it and
    // itself were never started and are left alone.
    Deno.writeTextFileSync(
      `${dir}/throwing_app.ts`,
      journalApp([`new Journal("a")`, `new Journal("b", true)`, `new Journal("c")`]),
    );
    const [thrown, second] = await runToEnd(["--config", "throwing_app.ts"], dir);
    assert.equal(thrown.code, 1, second.output);
    assert.match(second.stdout, /a started\n.*b cannot start.*a stopped\n/s);
    assert.doesNotMatch(second.stdout, /[bc] (started|stopped)/);
  });
});

Deno.test("runner logs what the application prints as log lines, in the foreground too", async () => {
  await withTempDir(async (dir) => {
    const service = new URL("../services/service.ts", import.meta.url).href;
    const application = new URL("../services/application.ts", import.meta.url).href;
    Deno.writeTextFileSync(
      `${dir}/printing_app.ts`,
      `import { Service } from ${JSON.stringify(service)};
import { Application } from ${JSON.stringify(application)};
class Printer extends Service {
  override startService(): void {
    super.startService();
    console.log("printed at start");
    console.error("complained at start");
  }
}
export const application = new Application("printing");
new Printer().setServiceParent(application);
`,
    );
    await using runner = new Runner(["--config", "printing_app.ts"], dir);
    await runner.waitFor(/Dropped/);
    runner.child.kill("SIGTERM");
    assert.equal((await runner.exit()).code, 0, runner.output);
    assert.match(runner.stdout, /^\S+ \S+ \[-\] printed at start$/m);
    assert.match(runner.stdout, /^\S+ \S+ \[-\] complained at start$/m);
    assert.equal(runner.stderr, "");
  });
});

Deno.test("runner logs the failures no errback handled when it shuts down", async () => {
  // Collected Deferreds report theirs; one still referenced would never be reported.
  const app = new URL("./fixtures/runner/unhandled_app.ts", import.meta.url).pathname;
  const main = new URL("../mod.ts", import.meta.url);
  const out = await runProgram(main, ["--allow-read"], ["-y", app]);
  assert.equal(out.code, 0, out.stdout + out.stderr);
  assert.match(
    out.stdout,
    /Unhandled error in Deferred:\n[^]*RangeError: the lookup failed and nobody looked\n[^]*Server Shut Down\.\n$/,
  );
});

// ---- Switching user and group ----

/** A system that records what a switch does, as root with supplementary groups 0 and 4. */
function fakeSystem(fail: Partial<Record<"setgroups" | "setgid" | "setuid", Error>> = {}) {
  const calls: string[] = [];
  const system: IdentitySystem = {
    getuid: () => 0,
    getgid: () => 0,
    getgroups: () => [0, 4],
    setgroups(gids) {
      if (fail.setgroups) throw fail.setgroups;
      calls.push(`setgroups ${gids}`);
    },
    setgid(gid) {
      if (fail.setgid) throw fail.setgid;
      calls.push(`setgid ${gid}`);
    },
    setuid(uid) {
      if (fail.setuid) throw fail.setuid;
      calls.push(`setuid ${uid}`);
    },
    primaryGroup: (uid) => (uid === 1000 ? 100 : undefined),
  };
  return { calls, system };
}

Deno.test("switchIdentity leaves root's groups, then sets the group, then the user", () => {
  const { calls, system } = fakeSystem();
  assert.deepEqual(switchIdentity(1000, 1000, system), ["set uid/gid 1000/1000"]);
  assert.deepEqual(calls, ["setgroups 1000", "setgid 1000", "setuid 1000"]);
  assert.deepEqual(switchIdentity(undefined, undefined, system), []);
});

Deno.test("switchIdentity takes a user's primary group when given no gid, as twistd", () => {
  const { calls, system } = fakeSystem();
  assert.deepEqual(switchIdentity(1000, undefined, system), ["set uid/gid 1000/100"]);
  assert.deepEqual(calls, ["setgroups 100", "setgid 100", "setuid 1000"]);
  assert.throws(() => switchIdentity(1001, undefined, system), /gives it no group/);
});

Deno.test("switchIdentity to the uid it has only warns, as twistd does", () => {
  const { calls, system } = fakeSystem();
  assert.deepEqual(switchIdentity(0, 0, system), [
    "tried to drop privileges and setuid 0 but uid is already 0; should we be root? Continuing.",
    "set uid/gid 0/0",
  ]);
  assert.deepEqual(calls, []);
});

Deno.test("switchIdentity refuses to switch when it cannot leave the other groups", () => {
  const { calls, system } = fakeSystem({
    setgroups: new Deno.errors.NotCapable('Requires ffi access to "libc.so.6", run again...'),
  });
  assert.throws(
    () => switchIdentity(1000, 1000, system),
    (e: unknown) => {
      assert.ok(e instanceof IdentityError);
      assert.match(e.message, /cannot leave the supplementary groups 0, 4: .*--allow-ffi/);
      return true;
    },
  );
  assert.deepEqual(calls, [], "nothing switched");
  const { system: notRoot } = fakeSystem({ setgid: new Error("EPERM: Operation not permitted") });
  assert.throws(
    () => switchIdentity(undefined, 1000, notRoot),
    /failed to set uid\/gid -\/1000: EPERM: Operation not permitted \(are you root\?\)/,
  );
});

/** Whether this process runs as root: only root can switch users. */
const isRoot = new TextDecoder().decode(
  new Deno.Command("id", { args: ["-u"], stdout: "piped" }).outputSync().stdout,
).trim() === "0";

Deno.test({
  name: "The runner switches to the application's uid and gid after the privileged start",
  ignore: !isRoot,
  async fn() {
    const identityApp = new URL("./fixtures/runner/identity_app.ts", import.meta.url).pathname;
    const main = new URL("../mod.ts", import.meta.url);
    const flags = ["--allow-read", "--allow-env", "--allow-run=deno"];
    const env = { UID: "65534", GID: "65534" };
    const out = await runProgram(main, [...flags, "--allow-sys", "--allow-ffi"], [
      "--keep-permissions",
      "-y",
      identityApp,
    ], { env });
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.match(out.stdout, /set uid\/gid 65534\/65534\n/);
    assert.match(out.stdout, /running as uid=65534 gid=65534 groups=(65534)?\n/);

    // Without --allow-sys it cannot switch, and says so instead of running as root.
    const refused = await runProgram(main, flags, ["-y", identityApp], { env });
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /cannot start: IdentityError: failed to set uid\/gid 65534\/65534/,
    );
    assert.doesNotMatch(refused.stdout, /running as/);
  },
});
