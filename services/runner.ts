/**
 * The runner — twistd for Deno. It runs an application made by a plugin
 * (`poetry fastpoetry --port 10000`) or exported by a configuration module, the tac file of
 * the tutorial (`poetry --config ./app.ts`), in the foreground or as a daemon, with a pid
 * file, a rotated log file, clean shutdown on SIGINT and SIGTERM, and least privilege: once
 * every service has started it revokes the Deno permissions that start-up alone needed.
 *
 * ```text
 * deno run --allow-net jsr:@poetry/serve [runner options] [plugin] [plugin options]
 * ```
 *
 * Runner options (before the plugin's name):
 *
 * | option | meaning |
 * | --- | --- |
 * | `-n`, `--nodaemon` | run in the foreground (the default) |
 * | `--daemon` | detach and run in the background; then `--pidfile poetry.pid --logfile poetry.log` by default |
 * | `--pidfile=FILE` | write the process id to FILE as it starts; refuse to start if a running server holds it |
 * | `-l`, `--logfile=FILE` | log to FILE, rotated at 1 MB or on SIGUSR1 (`-` for stdout, the foreground's default) |
 * | `-y`, `--config=MODULE` | run the `application` a module exports |
 * | `--plugin=MODULE` | add the plugin a module exports (repeatable) |
 * | `--keep=PERMISSION` | keep this permission after start-up (`read`, `write`, `env`, `run`, `sys`, `ffi`, `import`; repeatable) |
 * | `--keep-permissions` | keep every permission after start-up |
 * | `--version` | print the version and exit |
 *
 * Exit status: 0 after a clean shutdown (or `--help`), 1 when start-up fails (a port in use,
 * a running server holding the pid file), 2 for a command line that cannot be used. After a
 * failed start, only the services that had started are stopped (ports already bound are
 * closed): a service whose `startService` never ran is not told to stop. A clean
 * shutdown that SIGINT or SIGTERM asked for exits 0 too: twistd ends itself with the signal
 * instead, but a Deno program needs `--allow-run` to signal itself, a permission the runner
 * drops once started; a supervisor such as systemd counts either as success.
 *
 * User and group: an `Application` with a `uid` or `gid` is switched to them after its
 * privileged start and before its start, as twistd does (`set uid/gid 1000/1000` in the log).
 * That needs root and `--allow-sys`, and `--allow-ffi` to leave root's other groups (Deno has
 * no `setgroups`); a switch that cannot be made stops the start (exit status 1) rather than
 * run as root.
 *
 * A failed Deferred that no errback handled is logged (`Unhandled error in Deferred:`) when it
 * is garbage collected, as in Twisted, and at the latest when the runner shuts down: a
 * Deferred still referenced may never be collected in a long-running server.
 *
 * Signals: SIGINT and SIGTERM stop the application and exit (a second one exits at once).
 * When logging to a file, SIGUSR1 rotates it (as twistd does) and SIGHUP reopens it, for
 * external rotation (twistd has no SIGHUP handler: it dies of it). Since Deno 2.9.2, SIGUSR1
 * also makes Deno start its debugger on 127.0.0.1:9229, whatever the permissions, and it
 * stays open: anyone who can reach that port can run code in the server. Where other users
 * share the machine, rotate by moving the file and sending SIGHUP instead.
 *
 * A daemon's pid and log files are its owner's alone (mode 0600), as twistd's daemon makes
 * them with its umask of 077. Its standard output is the pipe it told the parent of its
 * start-up on, and breaks once the parent has exited (Deno cannot point it at `/dev/null`
 * as twistd does): a daemon prints with `console`, whose output goes to the log, not by
 * writing to `Deno.stdout`.
 *
 * @example Run a plugin from a program's main module
 * ```ts ignore
 * import { runMain } from "@poetry/serve/runner";
 * import { plugin } from "./my_plugin.ts";
 *
 * if (import.meta.main) {
 *   // Not awaited: a --config or --plugin module that imports this one would otherwise wait
 *   // for ever for it to finish loading.
 *   runMain(Deno.args, { plugins: [plugin], defaultPlugin: plugin.tapname })
 *     .then((status) => Deno.exit(status));
 * }
 * ```
 *
 * @example Print the runner's help
 * ```ts
 * import { runMain } from "@poetry/serve/runner";
 * const status = await runMain(["--help"]);
 * console.log(status); // 0
 * ```
 *
 * @module
 */

import denoConfig from "../deno.json" with { type: "json" };
import {
  addObserver,
  err,
  type FileLogObserver,
  type LogEvent,
  msg,
  removeObserver,
  startLogging,
} from "../log.ts";
import { reactor } from "../reactor.ts";
import {
  type CommandSpec,
  formatHelp,
  HelpRequested,
  parseOptions,
  parseOptionsUntilCommand,
  UsageError,
} from "../_options.ts";
import { Application } from "./application.ts";
import { ListeningService } from "./internet.ts";
import { MultiService } from "./multi_service.ts";
import { describeService } from "./_names.ts";
import { LogFile } from "./log_file.ts";
import { type AnyServiceMaker, getPlugins, isServiceMaker, loadPlugin } from "./plugin.ts";
import { Service } from "./service.ts";
import { importFromCwd } from "./_import.ts";
import { absolutePath, AlreadyRunningError, checkPidFile, PidFile } from "./_pidfile.ts";
import { DAEMON_CHILD_FLAG, reportDaemonStatus, startDaemon } from "./_daemon.ts";
import { IdentityError, switchIdentity } from "./_identity.ts";
import { reportUnhandledErrors } from "../defer.ts";
import { CannotListenError } from "../error.ts";

/**
 * Options for {@linkcode runMain}.
 *
 * @example A program of your own, with its name and version
 * ```ts
 * import { runMain, type RunMainOptions } from "@poetry/serve/runner";
 * import { plugin } from "@poetry/serve/transform";
 *
 * const options: RunMainOptions = {
 *   plugins: [plugin],
 *   defaultPlugin: "transform",
 *   program: "xformd",
 *   version: "1.2.3",
 * };
 * const status = await runMain(["--version"], options); // prints "xformd 1.2.3 (Deno <version>)"
 * console.log(status); // 0
 * ```
 */
export interface RunMainOptions {
  /**
   * The plugins offered by name, besides those added with `registerPlugin` and `--plugin`.
   * @default {[]}
   */
  plugins?: readonly AnyServiceMaker[];
  /**
   * The plugin run when the command line names none (its options may then follow the
   * runner's directly).
   * @default {undefined} (a plugin or `--config` must be named)
   */
  defaultPlugin?: string;
  /**
   * The program's name in messages and `--help`.
   * @default {"poetry"}
   */
  program?: string;
  /**
   * The version in `--version` and the start-up log line.
   * @default {the package's version}
   */
  version?: string;
  /**
   * How long a daemon's parent waits for the daemon to report its start-up, in seconds.
   * @default {30}
   */
  startTimeout?: number;
}

interface RunnerFlags {
  nodaemon: boolean;
  daemon: boolean;
  pidfile?: string;
  logfile?: string;
  config?: string;
  plugin: string[];
  keep: string[];
  "keep-permissions": boolean;
  version: boolean;
}

const RUNNER_SPEC: CommandSpec<RunnerFlags> = {
  synopsis: "[options] [plugin [plugin options]]",
  options: [
    { name: "nodaemon", short: "n", flag: true, help: "Run in the foreground (the default)." },
    {
      name: "daemon",
      flag: true,
      help: "Detach and run in the background; the pid file and log file then default to " +
        "poetry.pid and poetry.log.",
    },
    {
      name: "pidfile",
      help: "Write the process id to this file as it starts, and remove it on shutdown; " +
        "refuse to start if a running server holds it.",
    },
    {
      name: "logfile",
      short: "l",
      help: "Log to this file, rotated at 1 MB or on SIGUSR1 (10 kept), or - for standard " +
        "output (the default in the foreground).",
    },
    {
      name: "config",
      short: "y",
      help: "Run the application exported (as `application`) by this module: a tac file.",
    },
    {
      name: "plugin",
      repeat: true,
      help: "Add the plugin exported by this module (default export or `plugin`).",
    },
    {
      name: "keep",
      repeat: true,
      help: "Keep this Deno permission after start-up (read, write, env, run, sys, ffi or " +
        "import), for a service that reads a file again later, say; repeatable.",
    },
    {
      name: "keep-permissions",
      flag: true,
      help: "Keep every Deno permission after start-up instead of revoking those that only " +
        "start-up needed.",
    },
    { name: "version", flag: true, help: "Print the version and exit." },
  ],
  description: "Runs an application made by a plugin, or exported by a --config module, in the " +
    "foreground or as a daemon. Put the runner's options before the plugin's name and the " +
    "plugin's options after it; `<plugin> --help` lists a plugin's options.",
};

const DEFAULT_DAEMON_PIDFILE = "poetry.pid";
const DEFAULT_DAEMON_LOGFILE = "poetry.log";
/** The mode of the pid and log files a daemon makes: its owner's alone. */
const DAEMON_FILE_MODE = 0o600;

/**
 * Writes a line for the person at the terminal: straight to stdout or stderr, never into the
 * log (which may be capturing the console).
 */
function writeLine(stream: { writeSync(data: Uint8Array): number }, text: string): void {
  const bytes = new TextEncoder().encode(text + "\n");
  let written = 0;
  try {
    while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
  } catch {
    // No terminal to tell (a closed pipe): the log has the details.
  }
}

function say(text: string): void {
  writeLine(Deno.stdout, text);
}

function complain(text: string): void {
  writeLine(Deno.stderr, text);
}

function oneLine(e: unknown): string {
  if (e instanceof UsageError || e instanceof AlreadyRunningError) return e.message;
  if (e instanceof Error) return `${e.name}: ${e.message}`.split("\n")[0];
  return String(e).split("\n")[0];
}

/** The plugins offered in this run, by name, in the order `--help` lists them. */
function pluginTable(
  builtin: readonly AnyServiceMaker[],
  loaded: readonly AnyServiceMaker[],
): Map<string, AnyServiceMaker> {
  const table = new Map<string, AnyServiceMaker>();
  for (const plugin of [...builtin, ...getPlugins(), ...loaded]) {
    if (!isServiceMaker(plugin)) throw new TypeError(`not a plugin: ${Deno.inspect(plugin)}`);
    table.set(plugin.tapname, plugin);
  }
  return table;
}

function runnerHelp(
  program: string,
  plugins: Map<string, AnyServiceMaker>,
  defaultPlugin: string | undefined,
): string {
  const lines = [formatHelp(RUNNER_SPEC, program).trimEnd()];
  if (plugins.size > 0) {
    lines.push("Plugins:");
    const width = Math.max(...[...plugins.keys()].map((name) => name.length)) + 4;
    for (const plugin of [...plugins.values()].sort((a, b) => a.tapname < b.tapname ? -1 : 1)) {
      lines.push(`    ${plugin.tapname.padEnd(width)}${plugin.description}`);
    }
  }
  if (defaultPlugin !== undefined && plugins.has(defaultPlugin)) {
    // Its options are what a user of a one-plugin program is looking for.
    lines.push(
      "",
      `With no plugin named, it runs ${defaultPlugin} with the arguments given;`,
      `\`${defaultPlugin} --help\` lists its options.`,
    );
  }
  return lines.join("\n");
}

/**
 * After a failed start, stops what had started, last first: each service that is running, and
 * each listening service that opened its port in `privilegedStartService`. A service whose
 * `startService` never ran is not told to stop (twistd, which just exits, does not tell it
 * either), so that a stop that saves state does not save what was never loaded. A
 * `MultiService`'s children are visited one by one; it is only marked stopped, as its own
 * `stopService` would stop every child.
 */
async function stopWhatStarted(service: Service): Promise<void> {
  if (service instanceof MultiService) {
    for (const child of [...service].reverse()) await stopWhatStarted(child);
    if (service.running) Service.prototype.stopService.call(service);
    return;
  }
  const listening = service instanceof ListeningService && service.port !== undefined;
  if (!service.running && !listening) return;
  try {
    await service.stopService();
  } catch (e) {
    err(e, `Error stopping ${describeService(service)}:`);
  }
}

/** The `--plugin` values given before `--help`, read leniently so help can list them. */
function pluginsBeforeHelp(args: readonly string[]): string[] {
  const end = args.findIndex((arg) => arg === "--help");
  try {
    return parseOptionsUntilCommand(RUNNER_SPEC, args.slice(0, end)).options.plugin;
  } catch {
    return [];
  }
}

/** What the command line asks to run. */
type Target =
  | { kind: "config"; module: string }
  | {
    kind: "plugin";
    plugin: AnyServiceMaker;
    options: unknown;
    /** The first argument, when it named no plugin and went to the default plugin instead. */
    notAPlugin?: string;
  };

/** A usage error's message, saying so when the word taken for the default plugin was no plugin. */
function usageMessage(message: string, notAPlugin: string | undefined): string {
  return notAPlugin === undefined
    ? message
    : `${message} (${JSON.stringify(notAPlugin)} is not a plugin either; --help lists them)`;
}

/** Everything {@linkcode serve} needs, decided from the command line. */
interface ServeConfig {
  program: string;
  version: string;
  target: Target;
  pidfile: string | undefined;
  logfile: string | undefined;
  keepPermissions: boolean;
  /** Permissions kept besides those the runner keeps itself (`--keep`). */
  keep: string[];
  daemonChild: boolean;
}

/**
 * Runs the runner with `args` (the program's arguments, usually `Deno.args`) and resolves to
 * the exit status: 0 after a clean shutdown or `--help`, 1 when start-up fails, 2 for a
 * command line that cannot be used (one line on stderr, no stack trace). With `--daemon`, it
 * resolves once the daemon has started (printing its pid) or failed.
 *
 * It can be called more than once in a process (tests do): each call removes the signal
 * listeners, log observer and shutdown trigger it added.
 *
 * @param args The command line after the program: `[runner options] [plugin] [plugin options]`.
 * @param options The plugins offered, the default plugin, the program's name and version.
 * @returns The exit status.
 *
 * @example List the plugins
 * ```ts
 * import { runMain } from "@poetry/serve/runner";
 * import { Service } from "@poetry/serve/service";
 *
 * const idle = {
 *   tapname: "idle",
 *   description: "Does nothing, politely.",
 *   options: {},
 *   makeService: () => new Service(),
 * };
 * await runMain(["--help"], { plugins: [idle] }); // prints "idle    Does nothing, politely."
 * ```
 */
export async function runMain(
  args: readonly string[],
  options: RunMainOptions = {},
): Promise<number> {
  const program = options.program ?? "poetry";
  const version = options.version ?? denoConfig.version;
  let daemonChild = false;
  if (args[0] === DAEMON_CHILD_FLAG) {
    daemonChild = true;
    args = args.slice(1);
  }
  const fail = (code: number, message: string, prefix = program): number => {
    if (daemonChild) reportDaemonStatus(code, `${prefix}: ${message}`);
    else complain(`${prefix}: ${message}`);
    return code;
  };

  // The runner's own options, up to the plugin's name.
  let flags: RunnerFlags;
  let rest: string[];
  try {
    ({ options: flags, rest } = parseOptionsUntilCommand(RUNNER_SPEC, args));
  } catch (e) {
    if (e instanceof HelpRequested) {
      try {
        const loaded = await Promise.all(pluginsBeforeHelp(args).map(loadPlugin));
        say(runnerHelp(program, pluginTable(options.plugins ?? [], loaded), options.defaultPlugin));
        return 0;
      } catch (e) {
        return fail(2, oneLine(e));
      }
    }
    if (e instanceof UsageError) return fail(2, e.message);
    throw e;
  }
  if (flags.version) {
    say(`${program} ${version} (Deno ${Deno.version.deno})`);
    return 0;
  }

  let plugins: Map<string, AnyServiceMaker>;
  try {
    const loaded = await Promise.all(flags.plugin.map(loadPlugin));
    plugins = pluginTable(options.plugins ?? [], loaded);
  } catch (e) {
    return fail(e instanceof UsageError ? 2 : 1, oneLine(e));
  }

  if (args.length === 0 && options.defaultPlugin === undefined) {
    say(runnerHelp(program, plugins, options.defaultPlugin));
    return 0;
  }
  if (flags.daemon && flags.nodaemon) {
    return fail(2, "--daemon and --nodaemon cannot both be given");
  }
  const unknown = flags.keep.find((name) => !(DROPPABLE as readonly string[]).includes(name));
  if (unknown !== undefined) {
    return fail(2, `--keep: ${JSON.stringify(unknown)} is not one of ${DROPPABLE.join(", ")}`);
  }

  // What to run: a configuration module, a named plugin, or the default plugin.
  if (rest[0] === "--") rest = rest.slice(1);
  let target: Target;
  if (flags.config !== undefined) {
    if (rest.length > 0) {
      return fail(
        2,
        `--config takes no plugin or arguments, but ${JSON.stringify(rest[0])} follows`,
      );
    }
    target = { kind: "config", module: flags.config };
  } else {
    let plugin = rest.length > 0 ? plugins.get(rest[0]) : undefined;
    let pluginArgs = rest.slice(1);
    let notAPlugin: string | undefined;
    if (plugin === undefined) {
      const fallback = options.defaultPlugin !== undefined
        ? plugins.get(options.defaultPlugin)
        : undefined;
      if (fallback === undefined) {
        if (rest.length === 0) return fail(2, "no plugin named and no --config given");
        if (rest[0].startsWith("-")) {
          return fail(2, `option ${rest[0].split("=")[0]} not recognized`);
        }
        return fail(2, `unknown plugin: ${rest[0]} (--help lists the plugins)`);
      }
      plugin = fallback;
      pluginArgs = rest;
      // A misspelt plugin name reaches the default plugin as its argument: if that plugin
      // refuses the command line, say that the word was no plugin either.
      if (rest.length > 0 && !rest[0].startsWith("-")) notAPlugin = rest[0];
    }
    const prefix = `${program} ${plugin.tapname}`;
    try {
      const parsed = parseOptions(plugin.options, pluginArgs);
      target = { kind: "plugin", plugin, options: parsed, notAPlugin };
    } catch (e) {
      if (e instanceof HelpRequested) {
        let text = formatHelp(plugin.options, `${program} [options] ${plugin.tapname}`).trimEnd();
        if (!plugin.options.description) text += `\n\n${plugin.description}`;
        say(text);
        return 0;
      }
      if (e instanceof UsageError) return fail(2, usageMessage(e.message, notAPlugin), prefix);
      return fail(1, oneLine(e), prefix);
    }
  }

  const daemon = flags.daemon || daemonChild;
  // As twistd reads them, `--pidfile=` asks for no pid file at all and `--logfile=` for the
  // default log (standard output in the foreground).
  const pidfile = flags.pidfile === ""
    ? undefined
    : flags.pidfile ?? (daemon ? DEFAULT_DAEMON_PIDFILE : undefined);
  const logfile = flags.logfile || (daemon ? DEFAULT_DAEMON_LOGFILE : undefined);
  if (daemon && logfile === "-") return fail(2, "a daemon cannot log to standard output");

  if (flags.daemon && !daemonChild) {
    // The parent: fail fast on a held pid file, then start the daemon and wait for its word.
    try {
      if (pidfile !== undefined) checkPidFile(pidfile);
    } catch (e) {
      return fail(1, oneLine(e));
    }
    let started;
    try {
      started = await startDaemon(args, options.startTimeout ?? 30);
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) {
        return fail(1, "--daemon starts Deno again, which needs --allow-run=deno");
      }
      return fail(1, `cannot start the daemon: ${oneLine(e)}`);
    }
    if (started.code !== 0) {
      complain(
        started.message ?? `${program}: the daemon failed to start; see ${logfile}`,
      );
      return started.code;
    }
    say(String(started.pid));
    return 0;
  }

  return await serve({
    program,
    version,
    target,
    pidfile,
    logfile,
    keepPermissions: flags["keep-permissions"],
    keep: flags.keep,
    daemonChild,
  });
}

/** A thrown error that says which exit status and stderr line it ends with. */
class StartupError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = "StartupError";
    this.code = code;
  }
}

function looksLikeService(value: unknown): value is Service {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.startService === "function" && typeof v.stopService === "function" &&
    typeof v.privilegedStartService === "function";
}

/** Loads the application: imports the configuration module, or asks the plugin. */
async function makeApplication(target: Target): Promise<Service> {
  if (target.kind === "config") {
    msg(`Loading ${target.module}...`);
    const module = await importFromCwd(target.module, "configuration");
    const application = module.application;
    if (!looksLikeService(application)) {
      throw new UsageError(
        `${target.module} exports no application: it must export one named "application", ` +
          `e.g. export const application = new Application("fastpoetry")`,
      );
    }
    msg("Loaded.");
    return application;
  }
  const { plugin } = target;
  let service: Service;
  try {
    service = await plugin.makeService(target.options);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    err(e, `Failed to make the ${plugin.tapname} service:`);
    throw new StartupError(1, `cannot make the ${plugin.tapname} service: ${oneLine(e)}`);
  }
  if (!looksLikeService(service)) {
    throw new StartupError(1, `the ${plugin.tapname} plugin's makeService returned no service`);
  }
  const application = new Application(plugin.tapname);
  service.setServiceParent(application);
  return application;
}

/** The permissions the runner may revoke after start-up; `net` is always kept. */
const DROPPABLE = ["read", "write", "env", "run", "sys", "ffi", "import"] as const;

/**
 * Revokes what only start-up needed and says what was dropped. A log file keeps read and
 * write (rotation lists, renames and creates files); a pid file keeps write (to remove it);
 * `--keep` keeps what it names. Deno cannot narrow a permission to some paths, so these stay
 * whole.
 */
function dropPermissions(logFile: boolean, pidFile: boolean, asked: string[]): void {
  const why = new Map<string, string>();
  for (const name of asked) why.set(name, "--keep");
  if (logFile && !why.has("read")) why.set("read", "for log rotation");
  const writers = [logFile && "log file", pidFile && "pid file"].filter(Boolean);
  if (writers.length > 0 && !why.has("write")) why.set("write", `for the ${writers.join(" and ")}`);
  const dropped: string[] = [];
  for (const name of DROPPABLE) {
    if (why.has(name)) continue;
    try {
      // `import` (remote modules) is a permission Deno 2 knows, though its types do not list it.
      Deno.permissions.revokeSync({ name } as Deno.PermissionDescriptor);
      dropped.push(name);
    } catch {
      // A permission this Deno does not know.
    }
  }
  const kept = ["net", ...DROPPABLE.filter((n) => why.has(n)).map((n) => `${n} (${why.get(n)})`)];
  msg(
    `Dropped the permissions only start-up needed: ${dropped.join(", ")}; kept ` +
      `${kept.join(", ")} (--keep-permissions keeps them all).`,
  );
}

/**
 * Runs the application in this process until a signal stops it. The foreground run, and the
 * daemon's own run.
 */
async function serve(config: ServeConfig): Promise<number> {
  const { program, daemonChild } = config;
  // Errors about the plugin's options name the plugin, as its option parser's do.
  const usagePrefix = config.target.kind === "plugin"
    ? `${program} ${config.target.plugin.tapname}`
    : program;
  const report = (code: number, message: string): number => {
    if (daemonChild) reportDaemonStatus(code, message);
    else complain(message);
    return code;
  };

  // Signals: from here on SIGINT and SIGTERM stop the server cleanly (at once if it is still
  // starting), a second one exits at once. SIGHUP reopens a log file and SIGUSR1 rotates it;
  // without one they keep their default action (a closed terminal ends a foreground server).
  let stopRequested: string | undefined;
  let reactorStarted = false;
  let pidfile: PidFile | undefined;
  let logFile: LogFile | undefined;
  const onStop = (signal: string) => () => {
    if (stopRequested !== undefined) {
      const again = signal === stopRequested
        ? `${signal} again`
        : `${signal} after ${stopRequested}`;
      msg(`Received ${again}, exiting at once.`);
      removePidFile();
      Deno.exit(1);
    }
    stopRequested = signal;
    msg(`Received ${signal}, shutting down.`);
    if (reactorStarted) reactor.stop();
  };
  // SIGUSR1 rotates the log file, as twistd does; SIGHUP reopens it, for external rotation
  // (twistd dies of a SIGHUP). Without a handler, either signal would end the server.
  const onLogFileSignal = (signal: string, verb: "reopen" | "rotate") => (): void => {
    if (logFile === undefined) return;
    msg(`Received ${signal}, ${verb === "reopen" ? "reopening" : "rotating"} the log file.`);
    try {
      if (verb === "reopen") logFile.reopen();
      else logFile.rotate();
    } catch (e) {
      err(e, `Cannot ${verb} the log file:`);
    }
  };
  const signals: [Deno.Signal, () => void][] = [
    ["SIGINT", onStop("SIGINT")],
    ["SIGTERM", onStop("SIGTERM")],
  ];
  if (config.logfile !== undefined && config.logfile !== "-") {
    signals.push(
      ["SIGHUP", onLogFileSignal("SIGHUP", "reopen")],
      ["SIGUSR1", onLogFileSignal("SIGUSR1", "rotate")],
    );
  }
  for (const [signal, listener] of signals) Deno.addSignalListener(signal, listener);
  const removeSignals = (): void => {
    for (const [signal, listener] of signals) Deno.removeSignalListener(signal, listener);
  };
  const removePidFile = (): void => {
    const held = pidfile;
    pidfile = undefined;
    try {
      held?.remove();
    } catch (e) {
      err(e, `Failed to remove the pid file ${held?.path}:`);
    }
  };

  // A daemon's files are its owner's alone, as twistd's daemon (umask 077) makes them.
  const fileMode = daemonChild ? DAEMON_FILE_MODE : undefined;

  // The pid file first: refuse to start while another server runs.
  const warnings: string[] = [];
  if (config.pidfile !== undefined) {
    try {
      pidfile = PidFile.acquire(config.pidfile, (warning) => warnings.push(warning), fileMode);
    } catch (e) {
      removeSignals();
      return report(1, `${program}: ${oneLine(e)}`);
    }
  }

  // The application next, as twistd makes it before its log begins: a plugin refusing its
  // options (a poem file that is not there) is a usage error with nothing logged before it.
  // What making it logs is kept, and written once the log has begun.
  const early: LogEvent[] = [];
  const keep = (event: LogEvent): void => void early.push(event);
  addObserver(keep);
  let made: Service | undefined;
  let makeError: unknown;
  try {
    made = await makeApplication(config.target);
  } catch (e) {
    makeError = e ?? new Error("the application could not be made");
  } finally {
    removeObserver(keep);
  }
  if (makeError instanceof UsageError) {
    removePidFile();
    removeSignals();
    const notAPlugin = config.target.kind === "plugin" ? config.target.notAPlugin : undefined;
    return report(2, `${usagePrefix}: ${usageMessage(makeError.message, notAPlugin)}`);
  }

  let observer: FileLogObserver;
  try {
    // What the program prints goes into the log as timestamped lines, as twistd logs a
    // program's standard output in the foreground too (and a daemon has no terminal).
    if (config.logfile === undefined || config.logfile === "-") {
      observer = startLogging(Deno.stdout, { captureConsole: true });
    } else {
      logFile = new LogFile(absolutePath(config.logfile), { defaultMode: fileMode });
      observer = startLogging(logFile, { captureConsole: true });
    }
  } catch (e) {
    removePidFile();
    removeSignals();
    return report(1, `${program}: cannot open the log file ${config.logfile}: ${oneLine(e)}`);
  }
  for (const warning of warnings) msg(warning);
  for (const event of early) observer.emit(event);

  // Errors no one handled reach the log before Deno ends the process.
  const onError = (event: ErrorEvent): void => err(event.error, "Unhandled error:");
  const onRejection = (event: PromiseRejectionEvent): void =>
    err(event.reason, "Unhandled error in a promise:");
  globalThis.addEventListener("error", onError);
  globalThis.addEventListener("unhandledrejection", onRejection);

  const finish = (code: number, message?: string): number => {
    removePidFile();
    msg("Server Shut Down.");
    observer.stop();
    logFile?.close();
    globalThis.removeEventListener("error", onError);
    globalThis.removeEventListener("unhandledrejection", onRejection);
    removeSignals();
    return message === undefined ? code : report(code, message);
  };

  if (made === undefined) {
    const e = makeError;
    if (e instanceof StartupError) return finish(e.code, `${program}: ${e.message}`);
    err(e, "Failed to load the application:");
    return finish(1, `${program}: failed to load the application: ${oneLine(e)}`);
  }
  const application = made;

  msg(`${program} ${config.version} (Deno ${Deno.version.deno}) starting up.`);
  msg(`reactor class: ${reactor.constructor.name}.`);

  // Start, as twistd does: privileged start, the switch to the application's user and group,
  // then start; a failure stops what had started.
  try {
    application.privilegedStartService();
    // Any top service may say whom to run as, as twistd asks the application (IProcess).
    const { uid, gid } = application as { uid?: number; gid?: number };
    for (const line of switchIdentity(uid, gid)) msg(line);
    application.startService();
  } catch (e) {
    // A port in use or a user it cannot become is the machine's state, not a bug: one line,
    // as for a failed accept. Anything else keeps its traceback.
    if (e instanceof CannotListenError || e instanceof IdentityError) {
      msg(`Failed to start the application: ${oneLine(e)}`);
    } else {
      err(e, "Failed to start the application:");
    }
    await stopWhatStarted(application);
    return finish(1, `${program}: cannot start: ${oneLine(e)}`);
  }

  if (!config.keepPermissions) {
    dropPermissions(logFile !== undefined, pidfile !== undefined, config.keep);
  }
  if (daemonChild) reportDaemonStatus(0, String(Deno.pid));

  // The application stops before the reactor closes what is left, as twistd arranges it.
  const trigger = reactor.addSystemEventTrigger(
    "before",
    "shutdown",
    () => application.stopService(),
  );
  const running = reactor.run({ installSignalHandlers: false });
  reactorStarted = true;
  if (stopRequested !== undefined) reactor.stop();
  await running;
  reactor.removeSystemEventTrigger(trigger);
  // Failures no errback handled are logged when their Deferreds are collected, which in a
  // long-running server may be never: whatever is left is logged now, as Python's exit would.
  reportUnhandledErrors();
  return finish(0);
}
