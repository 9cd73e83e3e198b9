/**
 * Logging as Twisted's `twisted.python.log`: {@linkcode msg} and {@linkcode err} send events
 * to observers; each event carries the time and the *system* (the factory or protocol on whose
 * behalf the code ran, `-` for none), which {@linkcode formatEvent} renders the way twistd does:
 *
 * ```text
 * 2026-06-23 20:57:14-0700 [PoetryFactory] sending 2970 bytes of poetry to { type: "TCP", ... }
 * ```
 *
 * An error is logged as its explanation followed by its traceback, each further line indented
 * with a tab:
 *
 * ```text
 * 2026-06-23 20:57:14-0700 [-] Unhandled error in Deferred:
 * 	Error: the poem is missing
 * 	    at loadPoem (file:///srv/poetry.ts:3:9)
 * ```
 *
 * {@linkcode startLogging} writes the log to standard output or a file (a rotating `LogFile`
 * from `services/log_file.ts` for daemons); {@linkcode addObserver} takes any function.
 * Until an observer is added, messages are dropped and errors are written to stderr, so that an
 * unhandled error is never lost silently.
 *
 * @example Log to standard output as twistd does
 * ```ts
 * import { err, msg, startLogging } from "@poetry/serve/log";
 *
 * using observer = startLogging(Deno.stdout);
 * msg("loaded a poem from: poetry/ecstasy.txt");
 * err(new Error("the poem is missing"), "while serving a poem:");
 * ```
 *
 * @example Log to the console
 * ```ts
 * import { addObserver, formatEvent, msg, removeObserver } from "@poetry/serve/log";
 *
 * const observer = (event: Parameters<typeof formatEvent>[0]) => console.log(formatEvent(event));
 * addObserver(observer);
 * msg("the poem is", 3003, "bytes long");
 * removeObserver(observer);
 * ```
 *
 * @module
 */

import { Failure } from "./failure.ts";
import { consoleMessage } from "./_console_format.ts";

/**
 * One logged event, as observers receive it.
 *
 * @example Keep the errors
 * ```ts
 * import { addObserver, err, type LogEvent, removeObserver } from "@poetry/serve/log";
 *
 * const errors: LogEvent[] = [];
 * const observer = (event: LogEvent) => {
 *   if (event.isError) errors.push(event);
 * };
 * addObserver(observer);
 * err(new Error("the kettle boiled dry"), "while making tea");
 * removeObserver(observer);
 * console.log(errors[0].why, errors[0].failure?.getErrorMessage()); // while making tea the kettle boiled dry
 * ```
 */
export interface LogEvent {
  /** When it was logged, in seconds since the epoch. */
  time: number;
  /** The context it was logged in (see {@linkcode callWithContext}); `-` for none. */
  system: string;
  /** The arguments given to {@linkcode msg}; empty for {@linkcode err}. */
  message: unknown[];
  /** Whether this event reports an error. */
  isError: boolean;
  /** For errors: what failed. */
  failure?: Failure;
  /** For errors: the explanation given to {@linkcode err}. */
  why?: string;
}

/**
 * A function that receives every logged event. It must not throw; if it does, it is removed.
 *
 * @example Count the messages
 * ```ts
 * import { addObserver, type LogObserver, msg, removeObserver } from "@poetry/serve/log";
 *
 * let count = 0;
 * const counter: LogObserver = () => count++;
 * addObserver(counter);
 * msg("one");
 * msg("two");
 * removeObserver(counter);
 * console.log(count); // 2
 * ```
 */
export type LogObserver = (event: LogEvent) => void;

const observers: LogObserver[] = [];
const systems: string[] = [];

/**
 * Adds an observer; it receives every event logged from now on.
 *
 * @example
 * ```ts
 * import { addObserver, msg, removeObserver, type LogEvent } from "@poetry/serve/log";
 * const seen: LogEvent[] = [];
 * const observer = (e: LogEvent) => void seen.push(e);
 * addObserver(observer);
 * msg("hello");
 * removeObserver(observer);
 * console.log(seen.length); // 1
 * ```
 */
export function addObserver(observer: LogObserver): void {
  observers.push(observer);
}

/**
 * Removes an observer added with {@linkcode addObserver}; does nothing if it was not added.
 *
 * @example
 * ```ts
 * import { addObserver, removeObserver } from "@poetry/serve/log";
 * const observer = () => {};
 * addObserver(observer);
 * removeObserver(observer);
 * ```
 */
export function removeObserver(observer: LogObserver): void {
  const i = observers.indexOf(observer);
  if (i >= 0) observers.splice(i, 1);
}

/**
 * Runs `fn` with `system` as the context of everything it logs synchronously, and returns what
 * `fn` returns. Transports wrap protocol calls in this, so a protocol's log lines name it.
 *
 * @example
 * ```ts
 * import { callWithContext, currentSystem } from "@poetry/serve/log";
 * console.log(callWithContext("PoetryFactory,client", () => currentSystem())); // PoetryFactory,client
 * ```
 */
export function callWithContext<T>(system: string, fn: () => T): T {
  systems.push(system);
  try {
    return fn();
  } finally {
    systems.pop();
  }
}

/**
 * The innermost context set by {@linkcode callWithContext}, or `-` outside any.
 *
 * @example
 * ```ts
 * import { currentSystem } from "@poetry/serve/log";
 * console.log(currentSystem()); // "-"
 * ```
 */
export function currentSystem(): string {
  return systems.length > 0 ? systems[systems.length - 1] : "-";
}

/** How deep we are in delivering events (observers may log, or print, in turn). */
let publishing = 0;

function publish(event: LogEvent): void {
  publishing++;
  try {
    if (observers.length === 0) {
      if (event.isError) console.error(textFromEvent(event));
      return;
    }
    for (const observer of [...observers]) {
      try {
        observer(event);
      } catch (e) {
        // An observer that throws would throw again on every event; drop it and say so.
        removeObserver(observer);
        console.error(`log observer removed after it threw: ${Failure.from(e).getTraceback()}`);
      }
    }
  } finally {
    publishing--;
  }
}

/**
 * Logs a message: its arguments are joined with spaces (strings as they are, other values as
 * `Deno.inspect` shows them).
 *
 * @example
 * ```ts
 * import { msg } from "@poetry/serve/log";
 * msg("sending", 3003, "bytes of poetry");
 * ```
 */
export function msg(...message: unknown[]): void {
  publish({ time: Date.now() / 1000, system: currentSystem(), message, isError: false });
}

/**
 * Logs an error: a {@linkcode Failure}, an `Error` or any value, with an optional explanation
 * printed before its traceback.
 *
 * @example
 * ```ts
 * import { err } from "@poetry/serve/log";
 * err(new Error("the poem is missing"), "while loading the poem:");
 * ```
 */
export function err(failure: unknown, why?: string): void {
  publish({
    time: Date.now() / 1000,
    system: currentSystem(),
    message: [],
    isError: true,
    failure: Failure.from(failure),
    why,
  });
}

/**
 * The text of an event without its time and system: the message, or for an error the
 * explanation (`Unhandled Error` when none was given) and, on the following lines, the
 * traceback.
 *
 * @example
 * ```ts
 * import { textFromEvent } from "@poetry/serve/log";
 * const text = textFromEvent({ time: 0, system: "-", message: ["a", 1], isError: false });
 * console.log(text); // "a 1"
 * ```
 */
export function textFromEvent(event: LogEvent): string {
  if (event.isError && event.failure) {
    return `${event.why || "Unhandled Error"}\n${event.failure.getTraceback()}`;
  }
  return event.message
    .map((part) =>
      typeof part === "string"
        ? part
        : typeof part === "object" || typeof part === "function" || typeof part === "symbol"
        ? Deno.inspect(part, { compact: true })
        : String(part)
    )
    .join(" ");
}

/**
 * `YYYY-MM-DD HH:MM:SS+hhmm` in local time, as `twisted.python.log` writes it (and twistd did in
 * the tutorial; twistd 22.4's newer logger puts a `T` between date and time).
 *
 * @example
 * ```ts
 * import { formatTime } from "@poetry/serve/log";
 * console.log(formatTime(0).length); // 24
 * ```
 */
export function formatTime(seconds: number): string {
  // Servers log many lines a second: reuse the text of the last whole second.
  const whole = Math.floor(seconds);
  if (whole === lastTime.seconds) return lastTime.text;
  const text = formatWholeSecond(whole);
  lastTime = { seconds: whole, text };
  return text;
}

let lastTime = { seconds: NaN, text: "" };

function formatWholeSecond(seconds: number): string {
  const d = new Date(seconds * 1000);
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
}

/**
 * The event as twistd writes it (without the final newline): the time and `[system]` before
 * the first line of its text, and a tab before each following line, so that a traceback stays
 * visibly part of the event it belongs to:
 *
 * ```text
 * 2026-06-23 20:57:14-0700 [-] Unhandled error in Deferred:
 * 	Error: the poem is missing
 * 	    at loadPoem (file:///srv/poetry.ts:3:9)
 * ```
 *
 * @example
 * ```ts
 * import { formatEvent } from "@poetry/serve/log";
 * const line = formatEvent({ time: 0, system: "PoetryFactory", message: ["hi"], isError: false });
 * console.log(line.endsWith("[PoetryFactory] hi")); // true
 * const two = formatEvent({ time: 0, system: "-", message: ["a\nb"], isError: false });
 * console.log(two.endsWith("[-] a\n\tb")); // true
 * ```
 */
export function formatEvent(event: LogEvent): string {
  return `${formatTime(event.time)} [${event.system}] ${
    textFromEvent(event).replaceAll("\n", "\n\t")
  }`;
}

/**
 * Where a {@linkcode FileLogObserver} writes: anything with a synchronous `writeSync`, such as
 * `Deno.stdout`, `Deno.stderr`, a `Deno.FsFile` or a `LogFile` (from `services/log_file.ts`).
 *
 * @example Collect log lines in memory
 * ```ts
 * import { FileLogObserver, type LogSink, msg } from "@poetry/serve/log";
 *
 * const lines: string[] = [];
 * const sink: LogSink = {
 *   writeSync(data: Uint8Array): number {
 *     lines.push(new TextDecoder().decode(data));
 *     return data.length;
 *   },
 * };
 * const observer = new FileLogObserver(sink);
 * observer.start();
 * msg("a poem was served");
 * observer.stop();
 * console.log(lines[0].endsWith("[-] a poem was served\n")); // true
 * ```
 */
export interface LogSink {
  /** Writes some of `data` at once and returns how many bytes were written. */
  writeSync(data: Uint8Array): number;
}

/**
 * Options for {@linkcode FileLogObserver} and {@linkcode startLogging}.
 *
 * @example Log what the program prints, too
 * ```ts
 * import { FileLogObserver, type FileLogObserverOptions } from "@poetry/serve/log";
 *
 * const options: FileLogObserverOptions = { captureConsole: true };
 * const observer = new FileLogObserver(Deno.stdout, options);
 * observer.start();
 * console.log("served tide"); // written as a log line: <time> [-] served tide
 * observer.stop();
 * ```
 */
export interface FileLogObserverOptions {
  /**
   * While the observer is started, send what the program writes with `console.log`,
   * `console.info`, `console.debug`, `console.warn` and `console.error` to the log as
   * messages, as twistd does with a daemon's standard output.
   * @default {false}
   */
  captureConsole?: boolean;
}

const encoder = new TextEncoder();
const CONSOLE_METHODS = ["log", "info", "debug", "warn", "error"] as const;

/** Writes all of `data` to `sink`, looping over short writes. */
function writeAllSync(sink: LogSink, data: Uint8Array): void {
  let written = 0;
  while (written < data.length) written += sink.writeSync(data.subarray(written));
}

/**
 * An observer that writes each event to a {@linkcode LogSink} as twistd's log lines
 * ({@linkcode formatEvent} plus a newline). Each event is written whole and synchronously
 * before the logging call returns, so lines never interleave and nothing is left in a buffer
 * when the program exits. `msg()` with no arguments writes nothing.
 *
 * An error from the sink (a full disk, a closed pipe) propagates out of
 * {@linkcode FileLogObserver.emit}; when the observer is started, the logging system then
 * removes it and reports the error on stderr.
 *
 * @example Log to standard output
 * ```ts
 * import { FileLogObserver, msg } from "@poetry/serve/log";
 *
 * const observer = new FileLogObserver(Deno.stdout);
 * observer.start();
 * msg("loaded a poem from: poetry/ecstasy.txt");
 * observer.stop();
 * ```
 */
export class FileLogObserver implements Disposable {
  #sink: LogSink;
  #captureConsole: boolean;
  #observer: LogObserver | undefined = undefined;
  #savedConsole: Partial<Record<(typeof CONSOLE_METHODS)[number], unknown>> | undefined = undefined;

  /**
   * An observer that will write to `sink` once {@linkcode FileLogObserver.start}ed (or
   * whenever {@linkcode FileLogObserver.emit} is called).
   *
   * @example
   * ```ts
   * import { FileLogObserver } from "@poetry/serve/log";
   * const observer = new FileLogObserver(Deno.stderr, { captureConsole: false });
   * console.log(observer.started); // false
   * ```
   */
  constructor(sink: LogSink, options: FileLogObserverOptions = {}) {
    this.#sink = sink;
    this.#captureConsole = options.captureConsole ?? false;
  }

  /**
   * Whether the observer is receiving events.
   *
   * @example
   * ```ts
   * import { FileLogObserver } from "@poetry/serve/log";
   * using observer = new FileLogObserver(Deno.stdout);
   * observer.start();
   * console.log(observer.started); // true
   * ```
   */
  get started(): boolean {
    // Not started any more if the logging system dropped it after it threw.
    return this.#observer !== undefined && observers.includes(this.#observer);
  }

  /**
   * Writes `event` to the sink, as a formatted line (or lines) ending in a newline.
   *
   * @throws whatever the sink's `writeSync` throws.
   * @example
   * ```ts
   * import { FileLogObserver } from "@poetry/serve/log";
   * const observer = new FileLogObserver(Deno.stdout);
   * observer.emit({ time: Date.now() / 1000, system: "-", message: ["hello"], isError: false });
   * ```
   */
  emit(event: LogEvent): void {
    if (!event.isError && event.message.length === 0) return;
    writeAllSync(this.#sink, encoder.encode(formatEvent(event) + "\n"));
  }

  /**
   * Starts receiving every logged event (and, if asked, the console's output). Does nothing
   * if already started.
   *
   * @example
   * ```ts
   * import { FileLogObserver, msg } from "@poetry/serve/log";
   * using observer = new FileLogObserver(Deno.stdout);
   * observer.start();
   * msg("written to stdout");
   * ```
   */
  start(): void {
    if (this.started) return;
    this.stop(); // dropped after it threw: undo the rest of the last start first
    this.#observer = (event) => this.emit(event);
    addObserver(this.#observer);
    if (this.#captureConsole) this.#hookConsole();
  }

  /**
   * Stops receiving events and gives the console back. Does nothing if not started.
   * The sink is not closed.
   *
   * @example
   * ```ts
   * import { FileLogObserver, msg } from "@poetry/serve/log";
   * const observer = new FileLogObserver(Deno.stdout);
   * observer.start();
   * observer.stop();
   * msg("not written");
   * ```
   */
  stop(): void {
    if (this.#observer === undefined) return;
    removeObserver(this.#observer);
    this.#observer = undefined;
    this.#unhookConsole();
  }

  /**
   * Same as {@linkcode FileLogObserver.stop}, for `using`.
   *
   * @example
   * ```ts
   * import { FileLogObserver } from "@poetry/serve/log";
   * {
   *   using observer = new FileLogObserver(Deno.stdout);
   *   observer.start();
   * }
   * ```
   */
  [Symbol.dispose](): void {
    this.stop();
  }

  #hookConsole(): void {
    const saved: Record<string, unknown> = {};
    const target = console as unknown as Record<string, (...data: unknown[]) => void>;
    for (const method of CONSOLE_METHODS) {
      const original = target[method];
      saved[method] = original;
      target[method] = (...data: unknown[]) => {
        // What observers (or the logging system itself) print while an event is delivered
        // goes to the real console, never back into the log.
        if (publishing > 0) original.apply(console, data);
        else msg(...consoleMessage(data));
      };
    }
    this.#savedConsole = saved;
  }

  #unhookConsole(): void {
    const saved = this.#savedConsole;
    if (saved === undefined) return;
    Object.assign(console, saved);
    this.#savedConsole = undefined;
  }
}

/**
 * Starts logging to `sink` (standard output, a file, a `LogFile`) in twistd's format and logs
 * `Log opened.`; returns the started {@linkcode FileLogObserver}, whose `stop()` ends it.
 * This is what twistd does at start-up: to the terminal with `--nodaemon`, else to its log
 * file.
 *
 * @example Log to standard output
 * ```ts
 * import { msg, startLogging } from "@poetry/serve/log";
 *
 * using observer = startLogging(Deno.stdout);
 * msg("sending 3003 bytes of poetry");
 * // 2026-06-23 20:57:14-0700 [-] Log opened.
 * // 2026-06-23 20:57:14-0700 [-] sending 3003 bytes of poetry
 * ```
 */
export function startLogging(sink: LogSink, options: FileLogObserverOptions = {}): FileLogObserver {
  const observer = new FileLogObserver(sink, options);
  observer.start();
  msg("Log opened.");
  return observer;
}
