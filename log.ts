/**
 * Logging as Twisted's `twisted.python.log`: {@linkcode msg} and {@linkcode err} send events
 * to observers; each event carries the time and the *system* (the factory or protocol on whose
 * behalf the code ran, `-` for none), which {@linkcode formatEvent} renders the way twistd does:
 *
 * ```text
 * 2026-06-23 20:57:14-0700 [PoetryFactory,client] sending 3003 bytes of poetry to ...
 * ```
 *
 * Until an observer is added, messages are dropped and errors are written to stderr, so that an
 * unhandled error is never lost silently.
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

/** One logged event, as observers receive it. */
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

/** A function that receives every logged event. It must not throw; if it does, it is removed. */
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

function publish(event: LogEvent): void {
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
 * explanation followed by the traceback.
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
    const trace = event.failure.getTraceback();
    return event.why ? `${event.why}\n${trace}` : trace;
  }
  return event.message
    .map((part) => typeof part === "string" ? part : Deno.inspect(part, { compact: true }))
    .join(" ");
}

/**
 * `YYYY-MM-DD HH:MM:SS+hhmm` in local time, as twistd writes it.
 *
 * @example
 * ```ts
 * import { formatTime } from "@poetry/serve/log";
 * console.log(formatTime(0).length); // 24
 * ```
 */
export function formatTime(seconds: number): string {
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
 * One log line per line of the event's text, each prefixed with the time and `[system]`.
 *
 * @example
 * ```ts
 * import { formatEvent } from "@poetry/serve/log";
 * const line = formatEvent({ time: 0, system: "PoetryFactory", message: ["hi"], isError: false });
 * console.log(line.endsWith("[PoetryFactory] hi")); // true
 * ```
 */
export function formatEvent(event: LogEvent): string {
  const prefix = `${formatTime(event.time)} [${event.system}] `;
  return textFromEvent(event).split("\n").map((line) => prefix + line).join("\n");
}
