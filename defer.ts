/**
 * {@linkcode Deferred}: a result that is not there yet, with a chain of callbacks and errbacks
 * that run when it arrives — Twisted's `twisted.internet.defer`, with its helpers
 * ({@linkcode succeed}, {@linkcode fail}, {@linkcode maybeDeferred}, {@linkcode DeferredList},
 * {@linkcode gatherResults}, {@linkcode inlineCallbacks}) and its concurrency primitives
 * ({@linkcode DeferredLock}, {@linkcode DeferredSemaphore}, {@linkcode DeferredQueue}).
 *
 * The routing is Twisted's: each stage has a callback and an errback; stage N+1's errback runs
 * if and only if stage N threw or returned a {@linkcode Failure}, its callback otherwise. A
 * callback that returns a Deferred (or a Promise, or any thenable) suspends the chain until that
 * one fires.
 *
 * Where it differs from Twisted, on purpose:
 * - the runner never recurses on deep chains: 100,000 nested or chained Deferreds fire
 *   without exhausting the stack;
 * - a callback that returns a Deferred which is still running its own callbacks waits for it
 *   to finish them and takes what it settles on; Twisted takes the value it is working on, so
 *   that both go on with it;
 * - a Deferred that passes its result to a waiting one that is paused goes on with the rest of
 *   its own callbacks; Twisted leaves them until something runs that Deferred again;
 * - `unpause()` never ends the wait for a Deferred that a callback returned (Twisted's issue
 *   12726), and `cancel()` does nothing to Deferreds that wait for each other in a circle,
 *   where Twisted recurses until Python stops it;
 * - cancelling a {@linkcode DeferredList} (or {@linkcode gatherResults}) always settles it,
 *   as cancelling any Deferred does, and cancelling an {@linkcode inlineCallbacks} Deferred
 *   while its generator is running (not waiting) fails it at once.
 *
 * A Deferred is also `PromiseLike`: `await d` gives its result or throws the failure's error,
 * without changing the result that later callbacks see.
 *
 * @example Fire a chain of callbacks
 * ```ts
 * import { Deferred } from "@poetry/serve/defer";
 *
 * const d = new Deferred<string>();
 * d.addCallback((poem) => poem.length)
 *   .addCallback((length) => console.log(`got ${length} bytes of poetry`));
 * d.callback("Roses are red");
 * ```
 *
 * @example Recover from an error in an errback
 * ```ts
 * import { Deferred } from "@poetry/serve/defer";
 *
 * const d = new Deferred<string>();
 * d.addCallback((poem) => poem.toUpperCase())
 *   .addErrback((failure) => `poem download failed: ${failure.getErrorMessage()}`)
 *   .addCallback(console.log); // poem download failed: connection refused
 * d.errback(new Error("connection refused"));
 * ```
 *
 * @module
 */

import { Failure } from "./failure.ts";
import { err } from "./log.ts";
import { whenAborted } from "./_on_abort.ts";

// ---------------------------------------------------------------------------------------------
// Errors

/** A short, single-line rendering of a value for error messages. */
function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Failure) return String(value);
  if (typeof Deno !== "undefined" && typeof Deno.inspect === "function") {
    const text = Deno.inspect(value, { compact: true, depth: 1, colors: false });
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  }
  return String(value);
}

/**
 * Thrown by {@linkcode Deferred.callback} or {@linkcode Deferred.errback} on a Deferred that
 * has already been fired: a Deferred fires once. With {@linkcode setDebugging} on, the message
 * also shows where the Deferred was created and where it was first fired.
 *
 * @example Fire a Deferred twice
 * ```ts
 * import { AlreadyCalledError, Deferred } from "@poetry/serve/defer";
 *
 * const d = new Deferred<number>();
 * d.callback(1);
 * try {
 *   d.callback(2);
 * } catch (e) {
 *   console.log(e instanceof AlreadyCalledError); // true
 * }
 * ```
 */
export class AlreadyCalledError extends Error {
  /**
   * Makes the error; the Deferred passes a message naming the value it was fired with.
   *
   * @param message What was fired twice, and with what.
   *
   * @example Make the error
   * ```ts
   * import { AlreadyCalledError } from "@poetry/serve/defer";
   * console.log(new AlreadyCalledError().name); // AlreadyCalledError
   * ```
   */
  constructor(message = "Deferred has already been fired", options?: ErrorOptions) {
    super(message, options);
    this.name = "AlreadyCalledError";
  }
}

/**
 * The failure a Deferred fires with when it is cancelled and its canceller (if any) did not
 * fire it.
 *
 * @example Cancel a Deferred nobody fired
 * ```ts
 * import { CancelledError, Deferred } from "@poetry/serve/defer";
 *
 * const d = new Deferred<string>();
 * d.addErrback((failure) => console.log(failure.check(CancelledError) === CancelledError));
 * d.cancel(); // true
 * ```
 */
export class CancelledError extends Error {
  /**
   * Makes the error, by default with the message `Deferred was cancelled`.
   *
   * @param message What was cancelled.
   *
   * @example The default message
   * ```ts
   * import { CancelledError } from "@poetry/serve/defer";
   * console.log(new CancelledError().message); // Deferred was cancelled
   * ```
   */
  constructor(message = "Deferred was cancelled", options?: ErrorOptions) {
    super(message, options);
    this.name = "CancelledError";
  }
}

/**
 * Something took longer than it was allowed to: the project's one timeout error, used by
 * {@linkcode Deferred.addTimeout} and by connection attempts.
 *
 * @example Name what timed out
 * ```ts
 * import { TimeoutError } from "@poetry/serve/defer";
 *
 * console.log(new TimeoutError(2).message); // Deferred timed out after 2 seconds
 * console.log(new TimeoutError(30, "connection to 127.0.0.1:10000").message);
 * // connection to 127.0.0.1:10000 timed out after 30 seconds
 * ```
 */
export class TimeoutError extends Error {
  /** The time allowed, in seconds (`undefined` if not known). */
  readonly seconds: number | undefined;

  /**
   * Makes the error: `<what> timed out after <seconds> seconds`, or `<what> timed out` when
   * the time is not given.
   *
   * @param seconds The time that was allowed, in seconds.
   * @param what What timed out.
   * @param options `cause`: the underlying error.
   *
   * @example Keep the time allowed
   * ```ts
   * import { TimeoutError } from "@poetry/serve/defer";
   * const e = new TimeoutError(1, "poem download");
   * console.log(e.message, e.seconds); // poem download timed out after 1 second 1
   * ```
   */
  constructor(seconds?: number, what = "Deferred", options?: ErrorOptions) {
    super(
      seconds === undefined
        ? `${what} timed out`
        : `${what} timed out after ${seconds} second${seconds === 1 ? "" : "s"}`,
      options,
    );
    this.name = "TimeoutError";
    this.seconds = seconds;
  }
}

/**
 * The failure of a {@linkcode DeferredList} with `fireOnOneErrback` (and so of
 * {@linkcode gatherResults}): which Deferred of the list failed first, and how.
 *
 * @example Find which Deferred failed first
 * ```ts
 * import { FirstError, gatherResults, fail, succeed } from "@poetry/serve/defer";
 *
 * // consumeErrors: the failure is handled here, not left in the Deferred that failed.
 * const all = gatherResults([succeed(1), fail(new Error("no poem"))], { consumeErrors: true });
 * all.addErrback((failure) => {
 *   const first = failure.value as FirstError;
 *   console.log(first.index, first.subFailure.getErrorMessage()); // 1 no poem
 * });
 * ```
 */
export class FirstError extends Error {
  /** The failure of the first Deferred that failed. */
  readonly subFailure: Failure;
  /** Its position in the list. */
  readonly index: number;

  /**
   * Makes the error for the Deferred at `index`, which failed with `subFailure`.
   *
   * @param subFailure How the Deferred failed.
   * @param index Its position in the list.
   *
   * @example Make the error
   * ```ts
   * import { FirstError } from "@poetry/serve/defer";
   * import { Failure } from "@poetry/serve/failure";
   * const e = new FirstError(new Failure(new Error("boom")), 3);
   * console.log(e.message); // Deferred #3 of the list failed first: Error: boom
   * ```
   */
  constructor(subFailure: Failure, index: number) {
    const what = subFailure.value instanceof Error
      ? `${subFailure.value.name}: ${subFailure.getErrorMessage()}`
      : describe(subFailure.value);
    super(`Deferred #${index} of the list failed first: ${what}`, { cause: subFailure.value });
    this.name = "FirstError";
    this.subFailure = subFailure;
    this.index = index;
  }
}

/**
 * Thrown by {@linkcode DeferredQueue.put} when the queue already holds `size` items.
 *
 * @example Put into a full queue
 * ```ts
 * import { DeferredQueue, QueueOverflow } from "@poetry/serve/defer";
 *
 * const queue = new DeferredQueue<string>(1);
 * queue.put("a");
 * try {
 *   queue.put("b");
 * } catch (e) {
 *   console.log(e instanceof QueueOverflow); // true
 * }
 * ```
 */
export class QueueOverflow extends Error {
  /**
   * Makes the error; {@linkcode DeferredQueue.put} names the queue's size and the item.
   *
   * @param message Why the item was refused.
   *
   * @example Make the error
   * ```ts
   * import { QueueOverflow } from "@poetry/serve/defer";
   * console.log(new QueueOverflow().name); // QueueOverflow
   * ```
   */
  constructor(message = "DeferredQueue is full", options?: ErrorOptions) {
    super(message, options);
    this.name = "QueueOverflow";
  }
}

/**
 * Thrown by {@linkcode DeferredQueue.get} when `backlog` gets are already waiting.
 *
 * @example Get with too many gets waiting
 * ```ts
 * import { DeferredQueue, QueueUnderflow } from "@poetry/serve/defer";
 *
 * const queue = new DeferredQueue<string>(Infinity, 0);
 * try {
 *   queue.get();
 * } catch (e) {
 *   console.log(e instanceof QueueUnderflow); // true
 * }
 * ```
 */
export class QueueUnderflow extends Error {
  /**
   * Makes the error; {@linkcode DeferredQueue.get} names the queue's backlog.
   *
   * @param message Why the get was refused.
   *
   * @example Make the error
   * ```ts
   * import { QueueUnderflow } from "@poetry/serve/defer";
   * console.log(new QueueUnderflow().name); // QueueUnderflow
   * ```
   */
  constructor(message = "DeferredQueue has too many waiting gets", options?: ErrorOptions) {
    super(message, options);
    this.name = "QueueUnderflow";
  }
}

// ---------------------------------------------------------------------------------------------
// Debugging and unhandled-error tracking

let debugging = false;

/**
 * Turns debugging of Deferreds on or off. While it is on, each new Deferred records the stack
 * where it was created, and each Deferred the stack where it was first fired; an
 * {@linkcode AlreadyCalledError} and an unhandled-error report then show both. It costs a stack
 * capture per Deferred, so leave it off in production.
 *
 * @example See where a Deferred was created and fired
 * ```ts
 * import { Deferred, setDebugging } from "@poetry/serve/defer";
 *
 * setDebugging(true);
 * const d = new Deferred<number>();
 * d.callback(1);
 * try {
 *   d.callback(2);
 * } catch (e) {
 *   console.log((e as Error).message.includes("first fired")); // true
 * } finally {
 *   setDebugging(false);
 * }
 * ```
 */
export function setDebugging(on: boolean): void {
  debugging = on;
}

/**
 * Whether {@linkcode setDebugging} is on.
 *
 * @example Check whether debugging is on
 * ```ts
 * import { getDebugging } from "@poetry/serve/defer";
 * console.log(getDebugging()); // false
 * ```
 */
export function getDebugging(): boolean {
  return debugging;
}

/** Where a Deferred was created and first fired, recorded while debugging is on. */
interface DebugInfo {
  created?: string;
  invoked?: string;
}

/** The current stack, without the Error line and the frames inside this module. */
function stackHere(): string {
  const lines = (new Error().stack ?? "").split("\n").slice(1);
  const outside = lines.filter((line) => !line.includes(import.meta.url));
  return outside.join("\n");
}

function debugText(info: DebugInfo | undefined): string {
  if (info === undefined) return "";
  let text = "";
  if (info.created !== undefined) text += `\nDeferred was created at:\n${info.created}`;
  if (info.invoked !== undefined) text += `\nDeferred was first fired at:\n${info.invoked}`;
  return text;
}

/**
 * A failure that a Deferred ended holding with no errback to handle it. The Deferred points at
 * its holder, never the other way round, so that the registry can notice the Deferred die.
 *
 * Nor may the holder keep the failure for long: in Deno an error keeps the receivers of the
 * frames it went through for as long as it lives, and a Deferred's own methods are among
 * them whenever a callback threw. Holding it would keep the Deferred alive for ever, and the
 * failure unreported. So at the end of the turn the holder swaps it for a weak reference and a
 * copy to report once the Deferred is gone.
 */
class Unhandled {
  reported = false;
  #failure: Failure | undefined;
  #ref: WeakRef<Failure> | undefined = undefined;
  #copy: Failure | undefined = undefined;

  constructor(failure: Failure, readonly debug: DebugInfo | undefined) {
    this.#failure = failure;
  }

  /** The failure itself while anything else holds it; otherwise its copy. */
  get failure(): Failure {
    return this.#failure ?? this.#ref?.deref() ?? this.#copy!;
  }

  /** Lets go of the failure, keeping a copy that holds no frame. */
  detach(): void {
    const failure = this.#failure;
    if (failure === undefined) return;
    this.#copy = new Failure(copyError(failure.value, 0));
    this.#ref = new WeakRef(failure);
    this.#failure = undefined;
  }
}

/**
 * An error's stand-in for a report: an object of the same class with the same name, message,
 * stack and causes, holding nothing else. Other values are kept as they are.
 */
function copyError(value: unknown, depth: number): unknown {
  if (!(value instanceof Error)) return value;
  const copy = Object.create(Object.getPrototypeOf(value)) as Error;
  try {
    // Own data properties: the stack read once, now, is all the copy will ever show.
    for (const key of ["name", "message", "stack"] as const) {
      Object.defineProperty(copy, key, { value: value[key], writable: true, configurable: true });
    }
    if (depth < 10 && value.cause !== undefined) {
      Object.defineProperty(copy, "cause", {
        value: copyError(value.cause, depth + 1),
        writable: true,
        configurable: true,
      });
    }
  } catch {
    // A getter that throws: the copy shows what could be read.
  }
  return copy;
}

const UNHANDLED_WHY = "Unhandled error in Deferred:";

function report(holder: Unhandled): void {
  holder.reported = true;
  err(holder.failure, UNHANDLED_WHY + debugText(holder.debug));
}

/** Holders of Deferreds that are alive and end in an unhandled failure. */
const unhandled = new Set<Unhandled>();

/** Holders tracked this turn, detached when it ends (most are handled before then). */
let toDetach: Unhandled[] = [];

function detachAll(): void {
  const holders = toDetach;
  toDetach = [];
  for (const holder of holders) if (unhandled.has(holder)) holder.detach();
}

// Python reports what is left when it exits and collects it; a Deno program's end is its
// `unload` event (also on Deno.exit()).
if (typeof globalThis.addEventListener === "function") {
  globalThis.addEventListener("unload", () => void reportUnhandledErrors());
}

const registry = new FinalizationRegistry<Unhandled>((holder) => {
  if (holder.reported) return;
  unhandled.delete(holder);
  report(holder);
});

/**
 * Logs, with `log.err` and the message `Unhandled error in Deferred:`, every failure that a
 * live Deferred currently ends with and that no errback handled, and returns how many there
 * were. Each is reported once: a failure reported here is not reported again when its Deferred
 * is garbage collected (which is when Twisted, and this module, report the others). What is
 * still unreported when the program ends (its `unload` event, `Deno.exit()` included) is
 * reported then, as Python's exit reports Twisted's.
 *
 * A failure stops counting as unhandled once an errback is added after it, or once the
 * Deferred is awaited (or `then` is called on it).
 *
 * @example Check a test left no failure behind
 * ```ts
 * import { fail, reportUnhandledErrors } from "@poetry/serve/defer";
 * import { addObserver, removeObserver, type LogEvent } from "@poetry/serve/log";
 *
 * const events: LogEvent[] = [];
 * const observer = (event: LogEvent) => void events.push(event);
 * addObserver(observer);
 * const d = fail(new Error("nobody listens"));
 * console.log(reportUnhandledErrors()); // 1
 * console.log(events[0].why); // Unhandled error in Deferred:
 * removeObserver(observer);
 * d.addErrback(() => {}); // handled from now on
 * ```
 */
export function reportUnhandledErrors(): number {
  const holders = [...unhandled];
  unhandled.clear();
  for (const holder of holders) {
    registry.unregister(holder);
    report(holder);
  }
  return holders.length;
}

// ---------------------------------------------------------------------------------------------
// Clocks

/**
 * A scheduled call, as a clock's `callLater` returns it.
 *
 * @example Cancel a call before it is made
 * ```ts
 * import type { DelayedCallLike } from "@poetry/serve/defer";
 * import { Clock } from "@poetry/serve/task";
 *
 * const clock = new Clock();
 * const call: DelayedCallLike = clock.callLater(5, () => console.log("never"));
 * call.cancel();
 * console.log(call.active()); // false
 * ```
 */
export interface DelayedCallLike {
  /** Stops the call from being made. */
  cancel(): void;
  /** Whether the call is still to be made (neither made nor cancelled). */
  active(): boolean;
}

/**
 * Anything that can call a function later: the reactor, `task.Clock` (for tests), or the
 * timer-based clock {@linkcode Deferred.addTimeout} uses by default.
 *
 * @example A time source that counts what it is asked to schedule
 * ```ts
 * import { Deferred, type TimeSource } from "@poetry/serve/defer";
 * import { Clock } from "@poetry/serve/task";
 *
 * const clock = new Clock();
 * const delays: number[] = [];
 * const counting: TimeSource = {
 *   callLater(seconds, fn) {
 *     delays.push(seconds);
 *     return clock.callLater(seconds, fn);
 *   },
 * };
 * const d = new Deferred<string>().addTimeout(3, counting);
 * d.addErrback(() => "timed out").addCallback(console.log);
 * clock.advance(3); // timed out
 * console.log(delays); // [ 3 ]
 * ```
 */
export interface TimeSource {
  /** Calls `fn` after `seconds` seconds; the result can cancel the call. */
  callLater(seconds: number, fn: () => void): DelayedCallLike;
}

/** `setTimeout`-based time, for timeouts given no clock. */
const timerClock: TimeSource = {
  callLater(seconds: number, fn: () => void): DelayedCallLike {
    let active = true;
    const id = setTimeout(() => {
      active = false;
      fn();
    }, seconds * 1000);
    return {
      cancel(): void {
        if (!active) return;
        active = false;
        clearTimeout(id);
      },
      active: (): boolean => active,
    };
  },
};

// ---------------------------------------------------------------------------------------------
// The Deferred

/**
 * A callback's result type once the chain has adopted it: a returned Deferred or Promise is
 * waited for, and a returned {@linkcode Failure} goes to the next errback instead.
 *
 * @example The type a callback returning a Deferred gives the next one
 * ```ts
 * import { type ChainResult, type Deferred, succeed } from "@poetry/serve/defer";
 *
 * const lookUp = (name: string): Deferred<number> => succeed(name.length);
 * const length: ChainResult<ReturnType<typeof lookUp>> = 5; // a number, not a Deferred
 * succeed("kettle").addCallback(lookUp).addCallback((n) => console.log(n + length)); // 11
 * ```
 */
export type ChainResult<U> = Exclude<Awaited<U>, Failure>;

/**
 * Extra arguments for {@linkcode Deferred.addCallbacks}.
 *
 * @example Pass extra arguments to the callback and to the errback
 * ```ts
 * import { type AddCallbacksOptions, succeed } from "@poetry/serve/defer";
 * import type { Failure } from "@poetry/serve/failure";
 *
 * const options: AddCallbacksOptions<[string], [string]> = {
 *   callbackArgs: ["got"],
 *   errbackArgs: ["lost"],
 * };
 * succeed("a poem").addCallbacks(
 *   (poem: string, word: string) => console.log(word, poem), // got a poem
 *   (failure: Failure, word: string) => console.log(word, failure.getErrorMessage()),
 *   options,
 * );
 * ```
 */
export interface AddCallbacksOptions<A extends unknown[], B extends unknown[]> {
  /** Passed to the callback after the result. @default [] */
  callbackArgs?: A;
  /** Passed to the errback after the failure. @default [] */
  errbackArgs?: B;
}

type Fn = (result: unknown, ...args: unknown[]) => unknown;

/** A stage with an errback (the rarer kind). */
const PAIR = 0;
/** Hand the result to the Deferred waiting on this one. */
const CONTINUE = 1;
/** Fire another Deferred with the result (`chainDeferred`). */
const CHAIN = 2;

/** A stage that is not a bare callback: callback and errback, or a hand-over to a Deferred. */
class Stage {
  constructor(
    readonly kind: typeof PAIR | typeof CONTINUE | typeof CHAIN,
    /** For PAIR: the callback (null: pass results through). */
    readonly onResult: Fn | null,
    /** For PAIR: the errback (null: pass failures through). */
    readonly onFailure: Fn | null,
    /** For CONTINUE and CHAIN: the Deferred that gets the outcome. */
    readonly target: Deferred<unknown> | undefined,
  ) {}
}

/**
 * One stage of a chain. The commonest, a callback whose errback passes failures through, is
 * stored as the bare function: one slot, no allocation.
 */
type Slot = Fn | Stage;

function withArgs(fn: unknown, args: unknown[] | undefined): Fn | null {
  if (fn === null || fn === undefined) return null;
  if (args === undefined || args.length === 0) return fn as Fn;
  // Rare: bind the extra arguments once, so the runner only ever makes one-argument calls.
  return (result: unknown) => (fn as Fn)(result, ...args);
}

function slot(onResult: Fn | null, onFailure: Fn | null): Slot {
  return onFailure === null && onResult !== null
    ? onResult
    : new Stage(PAIR, onResult, onFailure, undefined);
}

/** The stages of a Deferred that has none: shared, never written. */
const NO_STAGES: Slot[] = [];

/** #adopt's answer when the Deferred must wait for the one its callback returned. */
const WAITING: unique symbol = Symbol("waiting");

/** #state bits. */
const CALLED = 1;
/** One of the Deferred's own callbacks is executing. */
const RUNNING = 2;
/** Swallow one later fire: set by cancel() when there is no canceller to stop the source. */
const SUPPRESS = 4;

/** What few Deferreds need, kept out of line so that a Deferred stays small. */
interface Extra {
  unhandled?: Unhandled;
  /** The failure last seen by `then`/`await`: it counts as handled. */
  observed?: Failure;
  debug?: DebugInfo;
}

/**
 * How many runners may be active on the stack at once before a newly fired Deferred is queued
 * for the outermost runner instead of run in place. Below it, firing a Deferred from inside a
 * callback runs its callbacks at once, as in Twisted; above it the stack would only grow.
 * Twisted, at Python's default recursion limit, gets to about 245; the JavaScript stack takes
 * several thousand, so this leaves room for the caller's own frames.
 */
const MAX_RUN_DEPTH = 250;
let runDepth = 0;
const overflow: (Deferred<unknown> | undefined)[] = [];
let overflowHead = 0;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

/** Thrown by `callback(aDeferred)`; kept out of `callback` so that it stays small to inline. */
function deferredGiven(): TypeError {
  return new TypeError(
    "Deferred.callback() was given a Deferred; return it from a callback to wait for it, " +
      "or use chainDeferred()",
  );
}

/**
 * Thrown when a stage is added that is not a function (Twisted asserts the same): accepted, it
 * would break the Deferred only when it fired, far from the mistake.
 */
function notCallable(method: string, value: unknown): TypeError {
  return new TypeError(`Deferred.${method}() needs a function, not ${describe(value)}`);
}

/** Set by Deferred's static block: makes `outer` wait for `inner` as if a callback returned it. */
let waitOn: (outer: Deferred<unknown>, inner: Deferred<unknown>) => void;

/**
 * A result that will arrive later, and the chain of callbacks and errbacks waiting for it.
 *
 * - {@linkcode Deferred.addCallback}, {@linkcode Deferred.addErrback},
 *   {@linkcode Deferred.addBoth} and {@linkcode Deferred.addCallbacks} add a stage to the chain
 *   and return the same Deferred, re-typed for what the new stage returns. A stage added to a
 *   Deferred that has fired runs at once.
 * - {@linkcode Deferred.callback} fires it with a result, {@linkcode Deferred.errback} with a
 *   failure. Each stage gets what the previous one returned: its callback runs if that was a
 *   value, its errback if it threw or returned a {@linkcode Failure} (errbacks always receive a
 *   `Failure`). A stage that returns a Deferred, a Promise or any thenable suspends the chain
 *   until that one settles and goes on with its outcome.
 * - {@linkcode Deferred.cancel} asks the code that will fire it to stop.
 *
 * Firing runs the callbacks synchronously, before `callback()` returns, as in Twisted. The only
 * exception is firing from within a callback nested more than 250 runners deep (where
 * Twisted overflows its stack): that Deferred's callbacks then run as soon as the outermost
 * runner is done, still before the outermost `callback()` returns. A callback that returns
 * such a Deferred waits for it, as for one that has not fired.
 *
 * @typeParam T The type of the result the next callback will receive.
 *
 * @example You make it, you fire it
 * ```ts
 * import { Deferred } from "@poetry/serve/defer";
 *
 * function getPoem(): Deferred<string> {
 *   const d = new Deferred<string>();
 *   setTimeout(() => d.callback("This poem is short."), 10);
 *   return d;
 * }
 * console.log(await getPoem()); // This poem is short.
 * ```
 */
export class Deferred<T = unknown> implements PromiseLike<T> {
  /** The chain, one slot a stage; created on the first add. */
  #stages: Slot[] | undefined = undefined;
  /** Index into #stages of the next stage to run: a cursor, so running stays linear. */
  #next = 0;
  #result: unknown = undefined;
  /** CALLED, RUNNING and SUPPRESS bits. */
  #state = 0;
  #paused = 0;
  /** Typed without T, so that a Deferred<T> stays assignable to a Deferred<unknown>. */
  #canceller: ((deferred: never) => void) | undefined;
  #extra: Extra | undefined = undefined;

  static {
    waitOn = (outer, inner) => outer.#waitOn(inner);
  }

  /**
   * Creates a Deferred that has not fired.
   *
   * @param canceller Called with this Deferred by {@linkcode Deferred.cancel} while it has not
   *   fired: it should stop whatever would fire it, and may fire it itself (if it does not, the
   *   Deferred fails with {@linkcode CancelledError}).
   *
   * @example A Deferred that stops a timer when cancelled
   * ```ts
   * import { CancelledError, Deferred } from "@poetry/serve/defer";
   *
   * const d = new Deferred<string>(() => clearTimeout(timer));
   * const timer = setTimeout(() => d.callback("done"), 1000);
   * d.addErrback((failure) => {
   *   failure.trap(CancelledError);
   *   return "cancelled";
   * });
   * d.cancel();
   * console.log(await d); // cancelled
   * ```
   */
  constructor(canceller?: (deferred: Deferred<T>) => void) {
    this.#canceller = canceller;
    if (debugging) this.#extra = { debug: { created: stackHere() } };
  }

  /**
   * Whether {@linkcode Deferred.callback} or {@linkcode Deferred.errback} has been called.
   *
   * @example Tell whether it has fired
   * ```ts
   * import { Deferred } from "@poetry/serve/defer";
   * const d = new Deferred<number>();
   * console.log(d.called); // false
   * d.callback(1);
   * console.log(d.called); // true
   * ```
   */
  get called(): boolean {
    return (this.#state & CALLED) !== 0;
  }

  /**
   * How many times the Deferred is paused: by {@linkcode Deferred.pause}, and once while it
   * waits for a Deferred that one of its callbacks returned. 0 when it is not paused.
   *
   * @example Count the pauses
   * ```ts
   * import { Deferred } from "@poetry/serve/defer";
   * const d = new Deferred<number>();
   * d.pause();
   * console.log(d.paused); // 1
   * ```
   */
  get paused(): number {
    return this.#paused;
  }

  /**
   * The stack where this Deferred was created, if {@linkcode setDebugging} was on then;
   * `undefined` otherwise. Frames inside this module are left out, so it starts at the code
   * that made the Deferred: the place to look when one never fires.
   *
   * @example See where a Deferred was made
   * ```ts
   * import { Deferred, setDebugging } from "@poetry/serve/defer";
   *
   * console.log(new Deferred<string>().creationStack); // undefined
   * setDebugging(true);
   * try {
   *   const d = new Deferred<string>();
   *   console.log(d.creationStack?.includes("at ")); // true
   * } finally {
   *   setDebugging(false);
   * }
   * ```
   */
  get creationStack(): string | undefined {
    return this.#extra?.debug?.created;
  }

  /**
   * Adds a stage: `callback(result, ...args)` if the previous stage succeeded, and a
   * pass-through for failures. Returns this Deferred, typed for what `callback` returns.
   *
   * @throws {TypeError} if `callback` is not a function.
   *
   * @example Pass extra arguments to a callback
   * ```ts
   * import { Deferred } from "@poetry/serve/defer";
   * const d = new Deferred<number>();
   * d.addCallback((n, times: number) => n * times, 3).addCallback(console.log); // 42
   * d.callback(14);
   * ```
   */
  addCallback<U, A extends unknown[] = []>(
    callback: (result: T, ...args: A) => U,
    ...args: A
  ): Deferred<ChainResult<U>> {
    if (typeof callback !== "function") throw notCallable("addCallback", callback);
    return this.#add(args.length === 0 ? callback as Fn : withArgs(callback, args)!);
  }

  /**
   * Adds a stage: `errback(failure, ...args)` if the previous stage failed, and a pass-through
   * for results. The errback handles the failure by returning a value, or passes it on by
   * throwing or returning a `Failure` (`failure.trap(SomeError)` does that for other errors).
   *
   * @throws {TypeError} if `errback` is not a function.
   *
   * @example Turn a failure into a message
   * ```ts
   * import { Deferred } from "@poetry/serve/defer";
   * const d = new Deferred<string>();
   * d.addErrback((failure) => `no poem: ${failure.getErrorMessage()}`).addCallback(console.log);
   * d.errback(new Error("timed out")); // no poem: timed out
   * ```
   */
  addErrback<U = never, A extends unknown[] = []>(
    errback: (failure: Failure, ...args: A) => U,
    ...args: A
  ): Deferred<T | ChainResult<U>> {
    if (typeof errback !== "function") throw notCallable("addErrback", errback);
    return this.#add(new Stage(PAIR, null, withArgs(errback, args), undefined));
  }

  /**
   * Adds a stage whose one function gets the result or the failure, whichever arrives: the
   * place for clean-up that must happen either way. Return the argument to pass it on.
   *
   * @throws {TypeError} if `callback` is not a function.
   *
   * @example Clean up whatever happened
   * ```ts
   * import { Deferred } from "@poetry/serve/defer";
   * const d = new Deferred<string>();
   * d.addBoth((outcome) => {
   *   console.log("closing the connection");
   *   return outcome;
   * });
   * d.callback("poem");
   * ```
   */
  addBoth<U, A extends unknown[] = []>(
    callback: (outcome: T | Failure, ...args: A) => U,
    ...args: A
  ): Deferred<ChainResult<U>> {
    if (typeof callback !== "function") throw notCallable("addBoth", callback);
    const both = withArgs(callback, args);
    return this.#add(new Stage(PAIR, both, both, undefined));
  }

  /**
   * Adds a stage with both a callback and an errback: exactly one of them runs, and the
   * errback does not see a failure thrown by the callback (add it with a separate
   * {@linkcode Deferred.addErrback} for that).
   *
   * @throws {TypeError} if `callback` is not a function, or `errback` is neither a function nor
   *   `null`/`undefined` (a pass-through).
   *
   * @example Add a callback and an errback as one stage
   * ```ts
   * import { Deferred } from "@poetry/serve/defer";
   * const d = new Deferred<string>();
   * d.addCallbacks(
   *   (poem, prefix: string) => prefix + poem,
   *   (failure) => `failed: ${failure.getErrorMessage()}`,
   *   { callbackArgs: ["poem: "] },
   * ).addCallback(console.log); // poem: short
   * d.callback("short");
   * ```
   */
  addCallbacks<U, V = never, A extends unknown[] = [], B extends unknown[] = []>(
    callback: (result: T, ...args: A) => U,
    errback?: ((failure: Failure, ...args: B) => V) | null,
    options?: AddCallbacksOptions<A, B>,
  ): Deferred<ChainResult<U | V>> {
    if (typeof callback !== "function") throw notCallable("addCallbacks", callback);
    if (errback != null && typeof errback !== "function") {
      throw notCallable("addCallbacks", errback);
    }
    return this.#add(
      slot(withArgs(callback, options?.callbackArgs), withArgs(errback, options?.errbackArgs)),
    );
  }

  /**
   * Fires the Deferred with a result: its callbacks run now, in order. A {@linkcode Failure}
   * given as the result goes to the errbacks, as in Twisted: to pass a failure on as a value,
   * wrap it (`d.callback({ reason })`).
   *
   * @throws {AlreadyCalledError} if it has already fired (unless it was cancelled without a
   *   canceller, in which case the late result is dropped).
   * @throws {TypeError} if `result` is a Deferred: return it from a callback to chain it.
   *
   * @example Fire with a result
   * ```ts
   * import { Deferred } from "@poetry/serve/defer";
   * const d = new Deferred<string>();
   * d.addCallback(console.log);
   * d.callback("hello"); // hello
   * ```
   */
  callback(result: T): void {
    if (result instanceof Deferred) throw deferredGiven();
    this.#fire(result);
  }

  /**
   * Fires the Deferred with a failure: its errbacks run now. `reason` can be an `Error`, a
   * {@linkcode Failure} (passed on as it is) or any other value (wrapped in a `Failure`).
   *
   * @throws {AlreadyCalledError} if it has already fired (unless it was cancelled without a
   *   canceller).
   *
   * @example Fire with a failure
   * ```ts
   * import { Deferred } from "@poetry/serve/defer";
   * const d = new Deferred<string>();
   * d.addErrback((failure) => console.log(failure.getErrorMessage()));
   * d.errback(new Error("no such poem")); // no such poem
   * ```
   */
  errback(reason?: unknown): void {
    this.#fire(
      Failure.from(
        arguments.length === 0
          ? new Error("Deferred.errback() was called without a reason")
          : reason,
      ),
    );
  }

  /**
   * Stops the callbacks from running until {@linkcode Deferred.unpause} is called as many
   * times. Firing a paused Deferred records the result; the callbacks run on unpause.
   *
   * @example Hold the callbacks back
   * ```ts
   * import { Deferred } from "@poetry/serve/defer";
   * const d = new Deferred<string>();
   * d.addCallback(console.log);
   * d.pause();
   * d.callback("later");
   * d.unpause(); // later
   * ```
   */
  pause(): void {
    this.#paused++;
  }

  /**
   * Undoes one {@linkcode Deferred.pause}; once none is left, runs the callbacks that are due.
   * Does nothing on a Deferred that is not paused, and never ends the wait for a Deferred that
   * one of its callbacks returned: that ends only when the other one has a result.
   *
   * @example Release the callbacks
   * ```ts
   * import { Deferred } from "@poetry/serve/defer";
   * const d = new Deferred<number>();
   * d.pause();
   * d.callback(1);
   * d.unpause();
   * console.log(d.paused); // 0
   * ```
   */
  unpause(): void {
    // The pause that waits for a returned Deferred is not the caller's to lift: ending it early
    // would hand that Deferred itself to the next callback (Twisted's issue 12726).
    const waiting = (this.#state & CALLED) !== 0 && this.#result instanceof Deferred ? 1 : 0;
    if (this.#paused <= waiting) return;
    this.#paused--;
    if (this.#paused === 0 && (this.#state & CALLED) !== 0) this.#runCallbacks();
  }

  /**
   * Cancels the Deferred. If it has not fired, its canceller is called (with the Deferred);
   * if that did not fire it, or there was none, it fails with {@linkcode CancelledError}, and
   * without a canceller a later `callback()` from the code that would have fired it is dropped.
   * If it has fired but is waiting for a Deferred that one of its callbacks returned, that one
   * is cancelled instead. Otherwise it does nothing: also when the waits go round in a circle
   * (two Deferreds each waiting for the other), where nothing is left that could fire.
   *
   * @example Cancel and drop a late result
   * ```ts
   * import { CancelledError, Deferred } from "@poetry/serve/defer";
   * const d = new Deferred<string>();
   * d.addErrback((failure) => console.log(failure.check(CancelledError) !== null));
   * d.cancel(); // true
   * d.callback("too late"); // dropped: there was no canceller to stop it
   * ```
   */
  cancel(): void {
    // Walk down the waits instead of recursing: a chain can be 100,000 Deferreds deep. `behind`
    // follows at half the pace, so that a circle of waits is noticed instead of walked forever.
    // deno-lint-ignore no-this-alias
    let d: Deferred<unknown> = this;
    let behind = d;
    let step = false;
    while ((d.#state & CALLED) !== 0) {
      const result = d.#result;
      if (!(result instanceof Deferred)) return;
      d = result;
      if (step) behind = behind.#result as Deferred<unknown>;
      step = !step;
      if (d === behind) return;
    }
    if (d === this) this.#cancelUnfired();
    else d.cancel(); // it may override cancel(), as DeferredList does
  }

  /**
   * Makes `other` fire with this Deferred's result (or failure) when this one gets to this
   * point of its chain. This Deferred's result becomes `undefined`: the outcome now belongs to
   * `other`, including the duty to handle a failure.
   *
   * @example Hand the result to another Deferred
   * ```ts
   * import { Deferred } from "@poetry/serve/defer";
   * const d1 = new Deferred<string>();
   * const d2 = new Deferred<string>();
   * d2.addCallback((poem) => console.log("d2 got", poem));
   * d1.chainDeferred(d2);
   * d1.callback("a poem"); // d2 got a poem
   * ```
   */
  chainDeferred(other: Deferred<T>): Deferred<undefined> {
    return this.#add(new Stage(CHAIN, null, null, other as Deferred<unknown>));
  }

  /**
   * Cancels the Deferred if it has not fired (and, as far as this point of the chain, finished
   * waiting) within `seconds`; the `CancelledError` that results becomes a
   * {@linkcode TimeoutError}, or whatever `onTimeoutCancel(outcome, seconds)` returns or throws.
   * Firing in time cancels the timer.
   *
   * @param seconds How long to wait.
   * @param clock What measures the time: the reactor, a test clock, or by default a
   *   `setTimeout` timer.
   * @param onTimeoutCancel Replaces the conversion to `TimeoutError`; it receives whatever the
   *   cancellation produced (usually a `CancelledError` failure).
   *
   * @example Give up on a slow poem
   * ```ts
   * import { Deferred, TimeoutError } from "@poetry/serve/defer";
   * const d = new Deferred<string>();
   * d.addTimeout(0.01).addErrback((failure) => {
   *   failure.trap(TimeoutError);
   *   return "the poem took too long";
   * });
   * console.log(await d); // the poem took too long
   * ```
   */
  addTimeout(
    seconds: number,
    clock: TimeSource = timerClock,
    onTimeoutCancel?: (outcome: T | Failure, seconds: number) => unknown,
  ): Deferred<T> {
    let timedOut = false;
    const call = clock.callLater(seconds, () => {
      timedOut = true;
      this.cancel();
    });
    this.addBoth((outcome) => {
      if (!timedOut) return outcome;
      if (onTimeoutCancel !== undefined) return onTimeoutCancel(outcome, seconds);
      if (outcome instanceof Failure && outcome.check(CancelledError) !== null) {
        return new Failure(new TimeoutError(seconds, "Deferred", { cause: outcome.value }));
      }
      return outcome;
    });
    this.addBoth((outcome) => {
      if (call.active()) call.cancel();
      return outcome;
    });
    return this;
  }

  /**
   * Cancels the Deferred when `signal` aborts, as `fetch` and `Deno.serve` stop on theirs. If
   * the Deferred has not fired (or, as far as this point of the chain, finished waiting), the
   * `CancelledError` that results becomes the signal's `reason` (a `DOMException` named
   * `AbortError` unless whoever aborted gave another), as {@linkcode Deferred.addTimeout} turns
   * it into a `TimeoutError`; a canceller that fires the Deferred itself has the last word. A
   * signal that has already aborted cancels it at once. Once the chain gets here, the signal
   * is no longer listened to, so one long-lived signal can serve many Deferreds.
   *
   * @param signal The signal to follow.
   *
   * @example Stop waiting when the user gives up
   * ```ts
   * import { Deferred } from "@poetry/serve/defer";
   *
   * const controller = new AbortController();
   * const d = new Deferred<string>().addAbortSignal(controller.signal);
   * controller.abort();
   * try {
   *   await d;
   * } catch (e) {
   *   console.log((e as Error).name); // AbortError
   * }
   * ```
   */
  addAbortSignal(signal: AbortSignal): Deferred<T> {
    let aborted = false;
    const unwatch = whenAborted(signal, () => {
      aborted = true;
      this.cancel();
    });
    this.addBoth((outcome) => {
      unwatch();
      if (aborted && outcome instanceof Failure && outcome.check(CancelledError) !== null) {
        return Failure.from(signal.reason);
      }
      return outcome;
    });
    return this;
  }

  /**
   * Registers handlers as a Promise's `then` does (Promises/A+: they run later, in a
   * microtask), for the result at this point of the chain. It only observes: the Deferred
   * keeps its result, so callbacks added after an `await` still receive it, and a failure
   * seen this way counts as handled.
   *
   * @example Await a Deferred and keep using it
   * ```ts
   * import { succeed } from "@poetry/serve/defer";
   * const d = succeed(5);
   * console.log(await d); // 5
   * d.addCallback((n) => console.log(n + 1)); // 6
   * ```
   */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    const settled = new Promise<T>((resolve, reject) => {
      this.#add(
        new Stage(
          PAIR,
          (result: unknown) => {
            resolve(result as T);
            return result;
          },
          (failure: unknown) => {
            (this.#extra ??= {}).observed = failure as Failure;
            reject((failure as Failure).value);
            return failure;
          },
          undefined,
        ),
      );
    });
    return settled.then(onfulfilled, onrejected);
  }

  /**
   * A Promise for the result at this point of the chain; like `then`, it only observes.
   *
   * @example Get a Promise
   * ```ts
   * import { succeed } from "@poetry/serve/defer";
   * const promise: Promise<string> = succeed("poem").asPromise();
   * console.log(await promise); // poem
   * ```
   */
  asPromise(): Promise<T> {
    return this.then();
  }

  /**
   * A Deferred that fires with the outcome of `promise` (or any thenable). Cancelling it makes
   * it fail with {@linkcode CancelledError} and drop the promise's later outcome (a Promise
   * cannot be stopped).
   *
   * @example Adopt a Promise
   * ```ts
   * import { Deferred } from "@poetry/serve/defer";
   * const d = Deferred.fromPromise(Promise.resolve(42));
   * d.addCallback(console.log);
   * await d; // 42
   * ```
   */
  static fromPromise<T>(promise: PromiseLike<T>): Deferred<T> {
    const d = new Deferred<T>();
    promise.then(
      (value) => {
        if (value instanceof Deferred) value.chainDeferred(d);
        else d.callback(value);
      },
      (reason) => d.errback(reason),
    );
    return d;
  }

  /**
   * `Deferred (waiting)`, `Deferred (fired: <result>)` or `Deferred (waiting on a Deferred)`.
   *
   * @example Show the state
   * ```ts
   * import { succeed } from "@poetry/serve/defer";
   * console.log(String(succeed(3))); // Deferred (fired: 3)
   * ```
   */
  toString(): string {
    if ((this.#state & CALLED) === 0) return "Deferred (waiting)";
    if (this.#result instanceof Deferred) return "Deferred (waiting on a Deferred)";
    return `Deferred (fired: ${describe(this.#result)})`;
  }

  /**
   * `Deno.inspect` and `console.log` show a Deferred as its {@linkcode Deferred.toString}: its
   * fields are private, and would show as `Deferred {}`.
   *
   * @example
   * ```ts
   * import { Deferred } from "@poetry/serve/defer";
   * console.log(new Deferred<string>()); // Deferred (waiting)
   * ```
   */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }

  // ---- internals --------------------------------------------------------------------------

  #add(stage: Slot): never {
    const stages = this.#stages;
    if (stages === undefined) this.#stages = [stage];
    else stages.push(stage);
    if ((this.#state & CALLED) !== 0) this.#runCallbacks();
    return this as never;
  }

  /**
   * The common case (first fire, with a value, no debugging) inline and small enough for V8 to
   * inline into callers; everything else in #fireSlow.
   */
  #fire(result: unknown): void {
    if (this.#state !== 0 || debugging || result instanceof Failure) {
      this.#fireSlow(result);
      return;
    }
    this.#state = CALLED;
    this.#result = result;
    const stages = this.#stages;
    if (stages === undefined) return; // nothing to run (succeed() is on hot paths)
    if (this.#paused === 0 && runDepth < MAX_RUN_DEPTH) this.#runFast(stages, result);
    else this.#runCallbacks();
  }

  /**
   * What #runCallbacks and #run would do for a Deferred just fired with a value and not paused,
   * for the commonest chain: bare callbacks that return plain values or fired Deferreds. It
   * skips #run's per-Deferred set-up and its per-stage dispatch on the kind of stage. At the
   * first stage it does not handle (one with an errback, a hand-over, a failure) it passes
   * the cursor and the result to #run, which goes on exactly as if it had run from the start.
   */
  #runFast(stages: Slot[], result: unknown): void {
    this.#state = CALLED | RUNNING;
    runDepth++;
    try {
      let i = 0;
      for (;;) {
        if (i === stages.length) {
          this.#state &= ~RUNNING;
          this.#result = result;
          this.#stages = undefined; // drop the functions, and what they hold, once run
          break;
        }
        const stage = stages[i];
        if (typeof stage === "function") {
          i++;
          try {
            result = stage(result);
          } catch (e) {
            result = Failure.from(e);
          }
          // Primitives go straight on. Numbers and undefined are tested first: V8 compiles those
          // two tests to a few instructions, far cheaper than the general one.
          if (typeof result === "number" || result === undefined) continue;
          if (result === null || (typeof result !== "object" && typeof result !== "function")) {
            continue;
          }
          result = Deferred.#adopt(this as Deferred<unknown>, result);
          if (result === WAITING) {
            // #adopt has made this Deferred wait for the one the callback returned.
            this.#state &= ~RUNNING;
            if (i === stages.length) this.#stages = undefined;
            else this.#next = i;
            break;
          }
          if (!(result instanceof Failure)) continue;
        }
        this.#next = i;
        Deferred.#run(this as Deferred<unknown>, true, result);
        break;
      }
    } finally {
      runDepth--;
    }
    if (runDepth === 0 && overflowHead < overflow.length) Deferred.#drain();
  }

  #fireSlow(result: unknown): void {
    const state = this.#state;
    if ((state & CALLED) !== 0) {
      if ((state & SUPPRESS) !== 0) {
        this.#state = state & ~SUPPRESS;
        return;
      }
      throw this.#alreadyCalled(result);
    }
    this.#state = state | CALLED;
    this.#result = result;
    if (debugging) this.#recordInvoker();
    // Nothing to run and nothing to track: skip the runner (succeed() is on hot paths).
    if (this.#stages === undefined && !(result instanceof Failure)) return;
    this.#runCallbacks();
  }

  #alreadyCalled(result: unknown): AlreadyCalledError {
    const what = result instanceof Failure ? `failure ${result}` : describe(result);
    return new AlreadyCalledError(
      `Deferred has already been fired; cannot fire it again with ${what}` +
        debugText(this.#extra?.debug),
    );
  }

  #cancelUnfired(): void {
    const canceller = this.#canceller;
    if (canceller !== undefined) canceller(this as never);
    else this.#state |= SUPPRESS;
    if ((this.#state & CALLED) === 0) this.errback(new Failure(new CancelledError()));
  }

  #recordInvoker(): void {
    const extra = this.#extra ??= {};
    (extra.debug ??= {}).invoked = stackHere();
  }

  #waitOn(inner: Deferred<unknown>): void {
    this.#state |= CALLED;
    this.#result = inner;
    this.#paused++;
    if (debugging) this.#recordInvoker();
    inner.#add(new Stage(CONTINUE, null, null, this as Deferred<unknown>));
  }

  #runCallbacks(): void {
    if ((this.#state & RUNNING) !== 0) return; // the loop running our callbacks picks them up
    if (runDepth >= MAX_RUN_DEPTH) {
      overflow.push(this as Deferred<unknown>);
      return;
    }
    runDepth++;
    try {
      Deferred.#run(this as Deferred<unknown>);
    } finally {
      runDepth--;
    }
    if (runDepth === 0 && overflowHead < overflow.length) Deferred.#drain();
  }

  /** Runs the Deferreds queued by runners nested too deep; called by the outermost one. */
  static #drain(): void {
    runDepth++;
    try {
      while (overflowHead < overflow.length) {
        const d = overflow[overflowHead]!;
        overflow[overflowHead++] = undefined;
        if ((d.#state & RUNNING) === 0) Deferred.#run(d);
      }
      overflow.length = 0;
      overflowHead = 0;
    } finally {
      runDepth--;
    }
  }

  /**
   * Runs callbacks, iteratively. When a result passes to another Deferred (a waiting one, or
   * one given to chainDeferred), that one is pushed on an explicit stack and run here, and the
   * one it came from resumes after it — the order recursion would give, without the recursion.
   *
   * `started`: #runFast has already run `start`'s stages up to its cursor, and `startResult`
   * is where they got to. A callback that paused `start` does not stop the stages after it,
   * any more than it would stop this loop; and `start`'s #result stays what it was fired with
   * until the loop ends, as if this loop had run it all.
   */
  static #run(start: Deferred<unknown>, started = false, startResult?: unknown): void {
    let current = start;
    let stack: Deferred<unknown>[] | undefined;
    // Resuming a Deferred whose chainDeferred stage has handed its result on: it goes on even
    // if that paused it, as in Twisted, where the stage is a callback like any other.
    let chained = false;
    for (;;) {
      if (current.#paused === 0 || started || chained) {
        if (current.#extra?.unhandled !== undefined) current.#forgetUnhandled();
        const stages = current.#stages ?? NO_STAGES;
        // RUNNING for the whole loop: callbacks added meanwhile join it instead of starting
        // another, so the cursor and the result can live in locals until the loop ends.
        current.#state |= RUNNING;
        let i = current.#next;
        let result = started ? startResult : current.#result;
        started = false;
        chained = false;
        let next: Deferred<unknown> | undefined;
        while (i < stages.length) {
          const stage = stages[i++];
          let fn: Fn | null;
          if (typeof stage === "function") {
            if (result instanceof Failure) continue; // a bare callback passes failures on
            fn = stage;
          } else if (stage.kind === PAIR) {
            fn = result instanceof Failure ? stage.onFailure : stage.onResult;
            if (fn === null) continue;
          } else {
            current.#result = result;
            next = Deferred.#handOver(current, stage, result);
            result = current.#result;
            if (next !== undefined) break;
            continue;
          }
          try {
            result = fn(result);
          } catch (e) {
            result = Failure.from(e);
          }
          // Only objects need a second look (Deferreds, thenables); plain values go straight on.
          // Numbers and undefined are ruled out first, as in #runFast.
          if (
            typeof result !== "number" && result !== undefined && result !== null &&
            (typeof result === "object" || typeof result === "function")
          ) {
            result = Deferred.#adopt(current, result);
            if (result === WAITING) break; // #adopt has made current wait
          }
        }
        // A Deferred that fired another through chainDeferred is still in that stage until it
        // resumes here (in Twisted the other runs inside its callback), so it stays RUNNING: a
        // callback that returns it is made to wait for it, as for any running Deferred.
        if (next === undefined || (stages[i - 1] as Stage).kind !== CHAIN) {
          current.#state &= ~RUNNING;
        }
        current.#next = i;
        if (result !== WAITING) current.#result = result;
        if (next !== undefined) {
          // Run the Deferred the result went to, then come back for the rest of this one.
          (stack ??= []).push(current);
          current = next;
          continue;
        }
        if (i === stages.length && stages !== NO_STAGES) {
          current.#stages = undefined; // drop the functions, and what they hold, once run
          current.#next = 0;
        }
        if (result instanceof Failure) current.#endsInFailure(result);
      }
      if (stack === undefined || stack.length === 0) return;
      current = stack.pop()!;
      // Only a Deferred in a chainDeferred stage stays RUNNING while the other one runs.
      chained = (current.#state & RUNNING) !== 0;
      current.#state &= ~RUNNING; // set again below, unless it was paused meanwhile
    }
  }

  /**
   * What a callback's object result means for `current`: a thenable becomes a Deferred; a
   * Deferred that has settled gives up its result; one that has not (unfired, paused, waiting,
   * or still running its own callbacks) makes `current` wait for it, and #adopt returns
   * WAITING. Anything else is the result as it is.
   */
  static #adopt(current: Deferred<unknown>, result: object): unknown {
    if (!(result instanceof Deferred)) {
      if (result instanceof Failure) return result;
      try {
        if (!isThenable(result)) return result;
        result = Deferred.fromPromise(result);
      } catch (e) {
        return Failure.from(e); // a `then` getter or method that throws
      }
    }
    const inner = result as Deferred<unknown>;
    if (inner === current) {
      return new Failure(new TypeError("a callback returned the Deferred it was added to"));
    }
    const pending = inner.#stages;
    if (
      (inner.#state & (CALLED | RUNNING)) === CALLED && inner.#paused === 0 &&
      !(inner.#result instanceof Deferred) &&
      // Stages not run yet: it fired too deep and waits for the outermost runner.
      (pending === undefined || inner.#next >= pending.length)
    ) {
      // It has a result already: take it, and with it the duty to handle a failure.
      const taken = inner.#result;
      inner.#result = undefined;
      if (inner.#extra?.unhandled !== undefined) inner.#forgetUnhandled();
      return taken;
    }
    current.#paused++;
    current.#result = inner;
    const stage = new Stage(CONTINUE, null, null, current);
    const innerStages = inner.#stages;
    if (innerStages === undefined) inner.#stages = [stage];
    else innerStages.push(stage);
    return WAITING;
  }

  /**
   * Passes `result` on as `stage` says: to the Deferred waiting on `current` (CONTINUE) or to
   * the one given to chainDeferred (CHAIN). Returns the Deferred to run next, if any.
   */
  static #handOver(
    current: Deferred<unknown>,
    stage: Stage,
    result: unknown,
  ): Deferred<unknown> | undefined {
    const target = stage.target!;
    if (stage.kind === CONTINUE) {
      current.#result = undefined;
      target.#result = result;
      target.#paused--;
      return target;
    }
    const state = target.#state;
    if ((state & CALLED) !== 0) {
      // As target.callback() would have thrown from a callback in Twisted.
      if ((state & SUPPRESS) !== 0) {
        target.#state = state & ~SUPPRESS;
        current.#result = undefined;
      } else {
        current.#result = new Failure(target.#alreadyCalled(result));
      }
      return undefined;
    }
    current.#result = undefined;
    target.#state = state | CALLED;
    target.#result = result;
    if (debugging) target.#recordInvoker();
    return target;
  }

  #endsInFailure(failure: Failure): void {
    const extra = this.#extra;
    if (extra !== undefined && (extra.unhandled !== undefined || extra.observed === failure)) {
      return;
    }
    this.#trackUnhandled(failure);
  }

  #trackUnhandled(failure: Failure): void {
    const extra = this.#extra ??= {};
    const holder = new Unhandled(failure, extra.debug);
    extra.unhandled = holder;
    unhandled.add(holder);
    if (toDetach.push(holder) === 1) queueMicrotask(detachAll);
    registry.register(this, holder, holder);
  }

  #forgetUnhandled(): void {
    const extra = this.#extra!;
    const holder = extra.unhandled!;
    extra.unhandled = undefined;
    if (holder.reported) return;
    unhandled.delete(holder);
    registry.unregister(holder);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * A Deferred that has already fired with `value`.
 *
 * @example An already-fired Deferred
 * ```ts
 * import { succeed } from "@poetry/serve/defer";
 * succeed("a poem").addCallback(console.log); // a poem
 * ```
 */
export function succeed(): Deferred<undefined>;
/**
 * A Deferred that has already fired with `value`.
 *
 * @example An already-fired Deferred with a value
 * ```ts
 * import { succeed } from "@poetry/serve/defer";
 * succeed(42).addCallback(console.log); // 42
 * ```
 */
export function succeed<T>(value: T): Deferred<T>;
export function succeed<T>(value?: T): Deferred<T | undefined> {
  const d = new Deferred<T | undefined>();
  d.callback(value);
  return d;
}

/**
 * A Deferred that has already failed with `reason` (an `Error`, a {@linkcode Failure} or any
 * value).
 *
 * @example An already-failed Deferred
 * ```ts
 * import { fail } from "@poetry/serve/defer";
 * fail(new Error("no poem")).addErrback((f) => console.log(f.getErrorMessage())); // no poem
 * ```
 */
export function fail<T = never>(reason?: unknown): Deferred<T> {
  const d = new Deferred<T>();
  if (arguments.length === 0) d.errback();
  else d.errback(reason);
  return d;
}

/**
 * Calls `fn(...args)` and returns a Deferred for its outcome, whatever form it takes: a
 * returned Deferred is returned as it is, a Promise or thenable is adopted, a returned
 * {@linkcode Failure} or a thrown error becomes a failed Deferred, and any other value a
 * fired one.
 *
 * @example Call a function that may or may not return a Deferred
 * ```ts
 * import { maybeDeferred } from "@poetry/serve/defer";
 * maybeDeferred(() => 42).addCallback(console.log); // 42
 * maybeDeferred(() => {
 *   throw new Error("boom");
 * }).addErrback((f) => console.log(f.getErrorMessage())); // boom
 * ```
 */
export function maybeDeferred<U, A extends unknown[]>(
  fn: (...args: A) => U,
  ...args: A
): Deferred<ChainResult<U>> {
  let result: unknown;
  try {
    result = fn(...args);
    if (result instanceof Deferred) return result as Deferred<ChainResult<U>>;
    if (!(result instanceof Failure) && isThenable(result)) {
      return Deferred.fromPromise(result) as Deferred<ChainResult<U>>;
    }
  } catch (e) {
    result = Failure.from(e);
  }
  const d = new Deferred<ChainResult<U>>();
  d.callback(result as ChainResult<U>); // a Failure goes to the errbacks
  return d;
}

/**
 * Calls `fn(...args)` and returns a fired Deferred with what it returned, or a failed one with
 * what it threw. Unlike {@linkcode maybeDeferred}, it does not adopt a returned Promise (it
 * becomes the result).
 *
 * @throws {TypeError} if `fn` returns a Deferred (use {@linkcode maybeDeferred}).
 *
 * @example Call a function, catching what it throws
 * ```ts
 * import { execute } from "@poetry/serve/defer";
 * execute(JSON.parse, "[1, 2]").addCallback(console.log); // [ 1, 2 ]
 * execute(JSON.parse, "{").addErrback((f) => console.log(f.type === SyntaxError)); // true
 * ```
 */
export function execute<U, A extends unknown[]>(fn: (...args: A) => U, ...args: A): Deferred<U> {
  const d = new Deferred<U>();
  let result: U;
  try {
    result = fn(...args);
  } catch (e) {
    d.errback(e);
    return d;
  }
  d.callback(result);
  return d;
}

/**
 * `value` as a Deferred: a Deferred is returned as it is, a Promise or thenable is adopted
 * (as {@linkcode Deferred.fromPromise}).
 *
 * @throws {TypeError} for anything else.
 *
 * @example Adopt an async function's Promise
 * ```ts
 * import { ensureDeferred } from "@poetry/serve/defer";
 * async function getPoem(): Promise<string> {
 *   return "An async poem";
 * }
 * ensureDeferred(getPoem()).addCallback(console.log);
 * ```
 */
export function ensureDeferred<T>(value: Deferred<T> | PromiseLike<T>): Deferred<T> {
  if (value instanceof Deferred) return value;
  if (isThenable(value)) return Deferred.fromPromise(value);
  throw new TypeError(`ensureDeferred() needs a Deferred or a Promise, not ${describe(value)}`);
}

// ---------------------------------------------------------------------------------------------
// DeferredList and gatherResults

/**
 * Options for {@linkcode DeferredList}.
 *
 * @example Take the first poem to arrive
 * ```ts
 * import { Deferred, DeferredList, type DeferredListOptions } from "@poetry/serve/defer";
 *
 * // Typed DeferredListOptions, the result may be either shape; a literal option decides it.
 * const options = { fireOnOneCallback: true, consumeErrors: true } satisfies DeferredListOptions;
 * const slow = new Deferred<string>();
 * const fast = new Deferred<string>();
 * new DeferredList([slow, fast], options).addCallback(([poem, index]) => {
 *   console.log(poem.toUpperCase(), index); // TIDE 1
 * });
 * fast.callback("tide");
 * slow.callback("kettle"); // too late: the list has fired
 * ```
 */
export interface DeferredListOptions {
  /**
   * Fire as soon as one Deferred succeeds, with `[result, index]`, instead of waiting for all.
   * @default false
   */
  fireOnOneCallback?: boolean;
  /**
   * Fail as soon as one Deferred fails, with a {@linkcode FirstError}, instead of waiting for
   * all.
   * @default false
   */
  fireOnOneErrback?: boolean;
  /**
   * Handle each Deferred's failure (its chain goes on with `undefined`), so that the failures
   * are reported only through the list and not as unhandled errors.
   * @default false
   */
  consumeErrors?: boolean;
}

/**
 * One Deferred's outcome in a {@linkcode DeferredList}: `[true, result]` or `[false, failure]`.
 *
 * @example Tell successes from failures
 * ```ts
 * import { DeferredList, type DeferredListOutcome, fail, succeed } from "@poetry/serve/defer";
 *
 * const show = ([ok, value]: DeferredListOutcome<string>): string =>
 *   ok ? `poem: ${value}` : `error: ${value.getErrorMessage()}`;
 * new DeferredList([succeed("tide"), fail(new Error("no kettle"))], { consumeErrors: true })
 *   .addCallback((outcomes) => console.log(outcomes.map(show))); // [ "poem: tide", "error: no kettle" ]
 * ```
 */
export type DeferredListOutcome<T> = [success: true, result: T] | [
  success: false,
  failure: Failure,
];

/**
 * What a {@linkcode DeferredList} fires with: `[result, index]` of the first success with
 * `fireOnOneCallback: true`, otherwise every outcome, in the order of the list.
 *
 * @example The result type follows the options
 * ```ts
 * import { DeferredList, type DeferredListResult, succeed } from "@poetry/serve/defer";
 *
 * const first: DeferredListResult<string, { fireOnOneCallback: true }> = ["tide", 0];
 * const all: DeferredListResult<string> = [[true, "tide"], [true, "kettle"]];
 * new DeferredList([succeed("tide"), succeed("kettle")]).addCallback((outcomes) => {
 *   console.log(outcomes.length === all.length, first[1]); // true 0
 * });
 * ```
 */
export type DeferredListResult<T, O extends DeferredListOptions = Record<never, never>> = O extends
  { fireOnOneCallback: true } ? [result: T, index: number]
  // A fireOnOneCallback only known to be a boolean (options typed DeferredListOptions, say):
  // either shape, for the callback to tell apart.
  : true extends ("fireOnOneCallback" extends keyof O ? O[keyof O & "fireOnOneCallback"] : false)
    ? [result: T, index: number] | DeferredListOutcome<T>[]
  : DeferredListOutcome<T>[];

/**
 * A Deferred for a list of Deferreds: it fires once all of them have fired, with
 * `[success, resultOrFailure]` for each, in the order of the list (not the order they fired
 * in). An empty list fires at once with `[]`.
 *
 * With `fireOnOneCallback` it fires with `[result, index]` as soon as one succeeds; with
 * `fireOnOneErrback` it fails with a {@linkcode FirstError} as soon as one fails. Cancelling it
 * cancels every Deferred in the list that has not fired.
 *
 * @typeParam T The result type of the Deferreds in the list.
 * @typeParam O The options, which decide the type of the result.
 *
 * @example Wait for two poems
 * ```ts
 * import { DeferredList, fail, succeed } from "@poetry/serve/defer";
 *
 * new DeferredList([succeed("poem 1"), fail(new Error("no poem 2"))], { consumeErrors: true })
 *   .addCallback((outcomes) => {
 *     for (const [success, result] of outcomes) {
 *       console.log(success ? result : `failed: ${result.getErrorMessage()}`);
 *     }
 *   });
 * // poem 1
 * // failed: no poem 2
 * ```
 *
 * @example Deferreds of different types: name the union
 * ```ts
 * import { DeferredList, succeed } from "@poetry/serve/defer";
 *
 * new DeferredList<string | number>([succeed("tide"), succeed(3)])
 *   .addCallback((outcomes) => console.log(outcomes.map(([, value]) => value))); // [ "tide", 3 ]
 * ```
 */
export class DeferredList<T, O extends DeferredListOptions = Record<never, never>>
  extends Deferred<DeferredListResult<T, O>> {
  /** The outcomes so far, by position in the list; `undefined` for those not yet fired. */
  readonly resultList: (DeferredListOutcome<T> | undefined)[];
  #deferreds: Deferred<T>[];
  #finished = 0;
  #fireOnOneCallback: boolean;
  #fireOnOneErrback: boolean;
  #consumeErrors: boolean;

  /**
   * Watches `deferreds`, adding a stage to each (which passes its outcome on, or, with
   * `consumeErrors`, replaces a failure with `undefined`).
   *
   * @example Fire on the first success
   * ```ts
   * import { DeferredList, Deferred } from "@poetry/serve/defer";
   * const slow = new Deferred<string>();
   * const list = new DeferredList([slow, new Deferred<string>()], { fireOnOneCallback: true });
   * list.addCallback(([result, index]) => console.log(result, index)); // fast 0
   * slow.callback("fast");
   * ```
   */
  constructor(deferreds: Iterable<Deferred<T>>, options?: O) {
    super();
    this.#deferreds = [...deferreds];
    this.#fireOnOneCallback = options?.fireOnOneCallback ?? false;
    this.#fireOnOneErrback = options?.fireOnOneErrback ?? false;
    this.#consumeErrors = options?.consumeErrors ?? false;
    this.resultList = new Array(this.#deferreds.length).fill(undefined);
    if (this.#deferreds.length === 0 && !this.#fireOnOneCallback) {
      this.callback(this.resultList as DeferredListResult<T, O>);
    }
    for (let index = 0; index < this.#deferreds.length; index++) {
      this.#deferreds[index].addCallbacks(
        (result) => this.#got(index, true, result),
        (failure) => this.#got(index, false, failure),
      );
    }
  }

  #got(index: number, success: boolean, outcome: unknown): unknown {
    this.resultList[index] = [success, outcome] as DeferredListOutcome<T>;
    this.#finished++;
    if (!this.called) {
      if (success && this.#fireOnOneCallback) {
        this.callback([outcome, index] as DeferredListResult<T, O>);
      } else if (!success && this.#fireOnOneErrback) {
        this.errback(new Failure(new FirstError(outcome as Failure, index)));
      } else if (this.#finished === this.resultList.length) {
        this.callback(this.resultList as DeferredListResult<T, O>);
      }
    }
    return !success && this.#consumeErrors ? undefined : outcome;
  }

  /**
   * Cancels every Deferred in the list that has not fired; if that did not fire the list, it
   * fails with {@linkcode CancelledError}. An error thrown by one canceller is logged and does
   * not stop the others. Once the list has fired, it cancels as any Deferred does: the
   * Deferred one of its callbacks returned, if it waits for one.
   *
   * Twisted's `DeferredList.cancel` does neither: a list its cancellations did not fire stays
   * unfired, and a list that has fired ignores `cancel()`. Here, as with any Deferred,
   * `cancel()` always settles what it cancels, so a timeout on a list always fires.
   *
   * @example Cancel every Deferred in the list
   * ```ts
   * import { Deferred, DeferredList } from "@poetry/serve/defer";
   * const a = new Deferred<string>();
   * const list = new DeferredList([a], { consumeErrors: true });
   * list.addCallback((outcomes) => console.log(outcomes[0][0])); // false
   * list.cancel();
   * ```
   */
  override cancel(): void {
    if (this.called) {
      super.cancel(); // it may be waiting on a Deferred returned by one of its callbacks
      return;
    }
    for (const d of this.#deferreds) {
      try {
        d.cancel();
      } catch (e) {
        err(e, "Exception raised from user supplied canceller");
      }
    }
    if (!this.called) super.cancel();
  }
}

/**
 * The result types of a tuple of Deferreds.
 *
 * @example The results `gatherResults` fires with
 * ```ts
 * import { type Deferred, type DeferredResults, gatherResults, succeed } from "@poetry/serve/defer";
 *
 * type Pending = [Deferred<string>, Deferred<number>];
 * const pending: Pending = [succeed("tide"), succeed(3)];
 * gatherResults(pending).addCallback((results: DeferredResults<Pending>) => {
 *   const [poem, stanzas] = results; // a string and a number
 *   console.log(poem.toUpperCase(), stanzas + 1); // TIDE 4
 * });
 * ```
 */
export type DeferredResults<D extends readonly Deferred<unknown>[]> = {
  -readonly [K in keyof D]: D[K] extends Deferred<infer U> ? U : never;
};

/**
 * A Deferred for the results of all of `deferreds`, in their order; it fails with a
 * {@linkcode FirstError} as soon as one fails. Cancelling it cancels them all.
 *
 * @param options `consumeErrors`: handle each Deferred's failure, so that it is reported only
 *   through the `FirstError` (see {@linkcode DeferredListOptions}).
 *
 * @example Gather a tuple of results
 * ```ts
 * import { gatherResults, succeed } from "@poetry/serve/defer";
 * const [poem, length] = await gatherResults([succeed("poem"), succeed(4)]);
 * console.log(poem, length); // poem 4
 * ```
 */
export function gatherResults<const D extends readonly Deferred<unknown>[]>(
  deferreds: D,
  options?: { consumeErrors?: boolean },
): Deferred<DeferredResults<D>>;
/**
 * A Deferred for the results of all of `deferreds` (any iterable), in their order; it fails
 * with a {@linkcode FirstError} as soon as one fails.
 *
 * @example Gather from any iterable
 * ```ts
 * import { gatherResults, succeed } from "@poetry/serve/defer";
 * const lengths = new Set([succeed(1), succeed(2)]);
 * console.log(await gatherResults(lengths)); // [ 1, 2 ]
 * ```
 */
export function gatherResults<T>(
  deferreds: Iterable<Deferred<T>>,
  options?: { consumeErrors?: boolean },
): Deferred<T[]>;
export function gatherResults<T>(
  deferreds: Iterable<Deferred<T>>,
  options?: { consumeErrors?: boolean },
): Deferred<T[]> {
  return new DeferredList(deferreds, {
    fireOnOneErrback: true,
    consumeErrors: options?.consumeErrors ?? false,
  }).addCallback((outcomes) => outcomes.map((outcome) => outcome[1] as T));
}

// ---------------------------------------------------------------------------------------------
// inlineCallbacks

/**
 * Turns a generator function into a function returning a Deferred, Twisted's
 * `@inlineCallbacks`: inside it, `yield` a Deferred, a Promise or a plain value to get its
 * result (a failure is thrown at the `yield`, so `try`/`catch` works), and `return` the
 * result. The generator runs synchronously as far as its first unfired Deferred.
 *
 * Cancelling the returned Deferred cancels the Deferred the generator is waiting for; its
 * `CancelledError` is thrown at the `yield`, and the generator may catch it and go on. If that
 * Deferred's canceller throws, the returned Deferred fails with what it threw. Cancelling it
 * while the generator is running rather than waiting (from inside the generator, or from a
 * callback it set off) fails it with `CancelledError` at once, and what the generator returns
 * later is dropped; Twisted, which only expects cancellation during a wait, lets the generator
 * finish then. A generator that returns a Deferred or a Promise passes on its outcome.
 *
 * The value of a `yield` is typed `unknown`: assert the type you expect
 * (`const poem = (yield getPoem()) as string`).
 *
 * @throws {TypeError} from the returned function, when `fn` returns something other than a
 *   generator (an `async` function, say).
 *
 * @example Get a poem, then transform it
 * ```ts
 * import { inlineCallbacks, succeed } from "@poetry/serve/defer";
 *
 * const getPoem = () => succeed("roses are red");
 * const getShoutedPoem = inlineCallbacks(function* () {
 *   const poem = (yield getPoem()) as string;
 *   try {
 *     yield Promise.reject(new Error("the shouting service is down"));
 *   } catch (e) {
 *     console.log((e as Error).message); // the shouting service is down
 *   }
 *   return poem.toUpperCase();
 * });
 * console.log(await getShoutedPoem()); // ROSES ARE RED
 * ```
 */
export function inlineCallbacks<This, A extends unknown[], R>(
  fn: (this: This, ...args: A) => Generator<unknown, R, unknown>,
): (this: This, ...args: A) => Deferred<Awaited<R>> {
  return function (this: This, ...args: A): Deferred<Awaited<R>> {
    let generator: Generator<unknown, R, unknown>;
    try {
      generator = fn.apply(this, args);
    } catch (e) {
      return fail(e);
    }
    // Checked at once, as Twisted does: run, it would only fail with "next is not a function".
    if (
      generator === null || typeof generator !== "object" ||
      typeof generator.next !== "function" || typeof generator.throw !== "function"
    ) {
      throw new TypeError(
        `inlineCallbacks needs a generator function (function*): ${fn.name || "the function"} ` +
          `returned ${describe(generator)}`,
      );
    }
    return runGenerator(generator) as Deferred<Awaited<R>>;
  };
}

function runGenerator(generator: Generator<unknown, unknown, unknown>): Deferred<unknown> {
  /** The Deferred the generator is suspended on, if any. */
  let waitingOn: Deferred<unknown> | undefined;
  /** What the generator's outcome fires; a cancellation swaps in a fresh one (see below). */
  let target: Deferred<unknown>;

  // Cancelling must let the generator see CancelledError and decide the outcome, so the
  // returned Deferred is made to wait on a fresh one and the awaited Deferred is cancelled.
  const canceller = (outer: Deferred<unknown>): void => {
    const awaited = waitingOn;
    if (awaited === undefined) return; // not suspended: a plain CancelledError it is
    const next = new Deferred<unknown>(canceller);
    target = next;
    waitOn(outer, next);
    try {
      awaited.cancel();
    } catch (e) {
      // As in Twisted, cancelling never throws here: the broken canceller's error is the
      // outcome, and whatever the generator does later is dropped (see finish).
      if (!next.called) next.errback(e);
      else err(e, "Exception raised from user supplied canceller");
    }
  };

  const finish = (outcome: unknown): void => {
    const d = target;
    if (d.called) return; // failed already: cancelled while running, or a canceller broke
    if (outcome instanceof Deferred) outcome.chainDeferred(d);
    else if (!(outcome instanceof Failure) && isThenable(outcome)) {
      Deferred.fromPromise(outcome).chainDeferred(d);
    } else d.callback(outcome); // a returned Failure goes to the errbacks, as in Twisted
  };

  const resume = (input: unknown): void => {
    // A loop, not recursion: a generator may yield any number of fired Deferreds.
    for (;;) {
      let yielded: unknown;
      try {
        const step = input instanceof Failure
          ? generator.throw(input.value)
          : generator.next(input);
        if (step.done) {
          finish(step.value);
          return;
        }
        yielded = step.value;
        if (!(yielded instanceof Deferred)) {
          if (!isThenable(yielded)) {
            input = yielded;
            continue;
          }
          yielded = Deferred.fromPromise(yielded);
        }
      } catch (e) {
        finish(Failure.from(e));
        return;
      }
      const d = yielded as Deferred<unknown>;
      let synchronous = true;
      let fired = false;
      let outcome: unknown;
      d.addBoth((result) => {
        if (synchronous) {
          fired = true;
          outcome = result;
        } else {
          waitingOn = undefined;
          resume(result);
        }
        return undefined; // the generator has taken the result, and a failure with it
      });
      synchronous = false;
      if (!fired) {
        waitingOn = d;
        return;
      }
      input = outcome;
    }
  };

  const outer = new Deferred<unknown>(canceller);
  target = outer;
  resume(undefined);
  return outer;
}

// ---------------------------------------------------------------------------------------------
// Lock, semaphore and queue

/** A first-in first-out list with a moving head: no shift(), so taking is O(1). */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T {
    const item = this.#items[this.#head] as T;
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  remove(item: T): boolean {
    const i = this.#items.indexOf(item, this.#head);
    if (i < 0) return false;
    this.#items.splice(i, 1);
    return true;
  }

  toArray(): T[] {
    return this.#items.slice(this.#head) as T[];
  }
}

/**
 * A lock for code that runs across callbacks: {@linkcode DeferredLock.acquire} returns a
 * Deferred that fires (with the lock) once the lock is yours, in the order asked;
 * {@linkcode DeferredLock.release} passes it to the next waiter. Cancelling a waiting
 * `acquire()` Deferred gives up the place in line.
 *
 * @example One poem download at a time
 * ```ts
 * import { DeferredLock, succeed } from "@poetry/serve/defer";
 *
 * const lock = new DeferredLock();
 * const download = (name: string) => succeed(`poem ${name}`);
 * lock.run(download, "a").addCallback(console.log); // poem a
 * ```
 */
export class DeferredLock {
  #locked = false;
  #waiting = new Fifo<Deferred<DeferredLock>>();

  /**
   * Whether the lock is held.
   *
   * @example Check whether the lock is held
   * ```ts
   * import { DeferredLock } from "@poetry/serve/defer";
   * const lock = new DeferredLock();
   * lock.acquire();
   * console.log(lock.locked); // true
   * ```
   */
  get locked(): boolean {
    return this.#locked;
  }

  /**
   * A Deferred that fires with this lock once it is acquired: at once if it is free, else when
   * the holders before it have released it.
   *
   * @example Wait for the lock
   * ```ts
   * import { DeferredLock } from "@poetry/serve/defer";
   * const lock = new DeferredLock();
   * lock.acquire().addCallback(() => console.log("first"));
   * const second = lock.acquire().addCallback(() => console.log("second"));
   * lock.release(); // second
   * ```
   */
  acquire(): Deferred<DeferredLock> {
    const d = new Deferred<DeferredLock>((d) => void this.#waiting.remove(d));
    if (this.#locked) {
      this.#waiting.push(d);
    } else {
      this.#locked = true;
      d.callback(this);
    }
    return d;
  }

  /**
   * Releases the lock, handing it to the next waiter if there is one.
   *
   * @throws {Error} if the lock is not held.
   *
   * @example Release the lock
   * ```ts
   * import { DeferredLock } from "@poetry/serve/defer";
   * const lock = new DeferredLock();
   * lock.acquire();
   * lock.release();
   * console.log(lock.locked); // false
   * ```
   */
  release(): void {
    if (!this.#locked) throw new Error("DeferredLock.release() called on a lock that is not held");
    this.#locked = false;
    if (this.#waiting.length > 0) {
      this.#locked = true;
      this.#waiting.shift().callback(this);
    }
  }

  /**
   * Acquires the lock, calls `fn(...args)` (as {@linkcode maybeDeferred}), and releases the
   * lock once its outcome is in; returns a Deferred for that outcome.
   *
   * @example Run a function under the lock
   * ```ts
   * import { DeferredLock } from "@poetry/serve/defer";
   * const lock = new DeferredLock();
   * console.log(await lock.run((a: number, b: number) => a + b, 1, 2)); // 3
   * ```
   */
  run<U, A extends unknown[]>(fn: (...args: A) => U, ...args: A): Deferred<ChainResult<U>> {
    return runLocked(this, fn, args);
  }
}

function runLocked<U, A extends unknown[]>(
  primitive: { acquire(): Deferred<unknown>; release(): void },
  fn: (...args: A) => U,
  args: A,
): Deferred<ChainResult<U>> {
  return primitive.acquire().addCallback(() =>
    maybeDeferred(fn, ...args).addBoth((outcome) => {
      primitive.release();
      return outcome;
    })
  ) as Deferred<ChainResult<U>>;
}

/**
 * A semaphore for code that runs across callbacks: at most `tokens` holders at once.
 * {@linkcode DeferredSemaphore.acquire} returns a Deferred that fires (with the semaphore) once
 * a token is yours, in the order asked; cancelling a waiting one gives up the place in line.
 *
 * @example At most two downloads at once
 * ```ts
 * import { DeferredSemaphore, gatherResults, succeed } from "@poetry/serve/defer";
 *
 * const semaphore = new DeferredSemaphore(2);
 * const download = (name: string) => succeed(`poem ${name}`);
 * const poems = await gatherResults(["a", "b", "c"].map((n) => semaphore.run(download, n)));
 * console.log(poems); // [ "poem a", "poem b", "poem c" ]
 * ```
 */
export class DeferredSemaphore {
  /** How many holders at once. */
  readonly limit: number;
  #tokens: number;
  #waiting = new Fifo<Deferred<DeferredSemaphore>>();

  /**
   * Makes a semaphore with `tokens` tokens, all free.
   *
   * @param tokens How many may hold the semaphore at once.
   * @throws {RangeError} if `tokens` is not a whole number of at least 1.
   *
   * @example Make a semaphore
   * ```ts
   * import { DeferredSemaphore } from "@poetry/serve/defer";
   * console.log(new DeferredSemaphore(3).tokens); // 3
   * ```
   */
  constructor(tokens: number) {
    if (!Number.isInteger(tokens) || tokens < 1) {
      throw new RangeError(`DeferredSemaphore needs at least 1 token, not ${tokens}`);
    }
    this.limit = tokens;
    this.#tokens = tokens;
  }

  /**
   * How many tokens are free.
   *
   * @example Count the free tokens
   * ```ts
   * import { DeferredSemaphore } from "@poetry/serve/defer";
   * const semaphore = new DeferredSemaphore(2);
   * semaphore.acquire();
   * console.log(semaphore.tokens); // 1
   * ```
   */
  get tokens(): number {
    return this.#tokens;
  }

  /**
   * A Deferred that fires with this semaphore once a token is taken: at once if one is free.
   *
   * @example Give up a waiting acquire
   * ```ts
   * import { DeferredSemaphore } from "@poetry/serve/defer";
   * const semaphore = new DeferredSemaphore(1);
   * semaphore.acquire();
   * const waiting = semaphore.acquire();
   * console.log(waiting.called); // false
   * waiting.addErrback(() => console.log("gave up")); // the failure: CancelledError
   * waiting.cancel(); // gives up its place: gave up
   * ```
   */
  acquire(): Deferred<DeferredSemaphore> {
    const d = new Deferred<DeferredSemaphore>((d) => void this.#waiting.remove(d));
    if (this.#tokens <= 0) {
      this.#waiting.push(d);
    } else {
      this.#tokens--;
      d.callback(this);
    }
    return d;
  }

  /**
   * Gives a token back, handing it to the next waiter if there is one.
   *
   * @throws {Error} if more tokens would be free than the limit.
   *
   * @example Give a token back
   * ```ts
   * import { DeferredSemaphore } from "@poetry/serve/defer";
   * const semaphore = new DeferredSemaphore(1);
   * semaphore.acquire();
   * semaphore.release();
   * console.log(semaphore.tokens); // 1
   * ```
   */
  release(): void {
    if (this.#tokens >= this.limit) {
      throw new Error(
        `DeferredSemaphore.release() called with all ${this.limit} tokens already free`,
      );
    }
    this.#tokens++;
    if (this.#waiting.length > 0) {
      this.#tokens--;
      this.#waiting.shift().callback(this);
    }
  }

  /**
   * Takes a token, calls `fn(...args)` (as {@linkcode maybeDeferred}), and gives the token back
   * once its outcome is in; returns a Deferred for that outcome.
   *
   * @example Run a function with a token
   * ```ts
   * import { DeferredSemaphore } from "@poetry/serve/defer";
   * const semaphore = new DeferredSemaphore(2);
   * console.log(await semaphore.run(() => Promise.resolve("done"))); // done
   * ```
   */
  run<U, A extends unknown[]>(fn: (...args: A) => U, ...args: A): Deferred<ChainResult<U>> {
    return runLocked(this, fn, args);
  }
}

/**
 * A queue whose `get()` returns a Deferred: it fires at once with the oldest item, or later
 * with the next item put. `size` bounds the items held ({@linkcode QueueOverflow} beyond it),
 * `backlog` the gets waiting ({@linkcode QueueUnderflow} beyond it). Cancelling a waiting
 * `get()` Deferred removes it from the line.
 *
 * @typeParam T The items.
 *
 * @example Lines of a poem, as they arrive
 * ```ts
 * import { DeferredQueue } from "@poetry/serve/defer";
 *
 * const lines = new DeferredQueue<string>();
 * lines.get().addCallback((line) => console.log("first:", line)); // first: Roses are red
 * lines.put("Roses are red");
 * lines.put("Violets are blue");
 * console.log(await lines.get()); // Violets are blue
 * ```
 */
export class DeferredQueue<T> {
  /** The most items the queue holds. */
  readonly size: number;
  /** The most gets that may wait. */
  readonly backlog: number;
  #waiting = new Fifo<Deferred<T>>();
  #pending = new Fifo<T>();

  /**
   * Makes an empty queue, by default unbounded both ways.
   *
   * @param size The most items held before `put` throws {@linkcode QueueOverflow}.
   * @param backlog The most gets waiting before `get` throws {@linkcode QueueUnderflow}.
   * @throws {RangeError} if either is negative or not a number.
   *
   * @example Bound the queue
   * ```ts
   * import { DeferredQueue } from "@poetry/serve/defer";
   * const queue = new DeferredQueue<number>(10, 2);
   * console.log(queue.size, queue.backlog); // 10 2
   * ```
   */
  constructor(size: number = Infinity, backlog: number = Infinity) {
    if (!(size >= 0)) throw new RangeError(`DeferredQueue size must be >= 0, not ${size}`);
    if (!(backlog >= 0)) {
      throw new RangeError(`DeferredQueue backlog must be >= 0, not ${backlog}`);
    }
    this.size = size;
    this.backlog = backlog;
  }

  /**
   * The items put and not yet taken, oldest first (a copy).
   *
   * @example Look at the held items
   * ```ts
   * import { DeferredQueue } from "@poetry/serve/defer";
   * const queue = new DeferredQueue<number>();
   * queue.put(1);
   * console.log(queue.pending); // [ 1 ]
   * ```
   */
  get pending(): T[] {
    return this.#pending.toArray();
  }

  /**
   * How many gets are waiting for an item.
   *
   * @example Count the waiting gets
   * ```ts
   * import { DeferredQueue } from "@poetry/serve/defer";
   * const queue = new DeferredQueue<number>();
   * queue.get();
   * console.log(queue.waiting); // 1
   * ```
   */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Adds an item: it goes to the oldest waiting get, or is held.
   *
   * @throws {QueueOverflow} if no get is waiting and `size` items are held already.
   *
   * @example Put an item
   * ```ts
   * import { DeferredQueue } from "@poetry/serve/defer";
   * const queue = new DeferredQueue<string>();
   * queue.put("a line");
   * ```
   */
  put(item: T): void {
    if (this.#waiting.length > 0) {
      this.#waiting.shift().callback(item);
    } else if (this.#pending.length < this.size) {
      this.#pending.push(item);
    } else {
      throw new QueueOverflow(
        `DeferredQueue is full (size ${this.size}); cannot put ${describe(item)}`,
      );
    }
  }

  /**
   * A Deferred for the next item: fired with the oldest held item, or waiting for a `put`.
   *
   * @throws {QueueUnderflow} if no item is held and `backlog` gets are waiting already.
   *
   * @example Wait for the next item
   * ```ts
   * import { DeferredQueue } from "@poetry/serve/defer";
   * const queue = new DeferredQueue<string>();
   * const next = queue.get();
   * queue.put("hello");
   * console.log(await next); // hello
   * ```
   */
  get(): Deferred<T> {
    if (this.#pending.length > 0) return succeed(this.#pending.shift());
    if (this.#waiting.length >= this.backlog) {
      throw new QueueUnderflow(
        `DeferredQueue already has ${this.#waiting.length} gets waiting (backlog ${this.backlog})`,
      );
    }
    const d = new Deferred<T>((d) => void this.#waiting.remove(d));
    this.#waiting.push(d);
    return d;
  }
}
