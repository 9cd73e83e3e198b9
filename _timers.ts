/**
 * Scheduled calls and real time: {@linkcode DelayedCall}, the {@linkcode ReactorTime} interface
 * every clock implements, and {@linkcode RealTime}, the clock backed by `setTimeout` that the
 * reactor uses. Public names are re-exported from `task.ts`.
 *
 * @module
 */

import { err } from "./log.ts";

/** The name of a function for messages: its own name, or "anonymous function". */
function nameOf(func: unknown): string {
  return typeof func === "function" && func.name ? func.name : "anonymous function";
}

/**
 * Thrown by {@linkcode DelayedCall.cancel}, {@linkcode DelayedCall.reset} or
 * {@linkcode DelayedCall.delay} when the call has already been made.
 *
 * @example
 * ```ts
 * import { AlreadyCalled, Clock } from "@poetry/serve/task";
 * const clock = new Clock();
 * const call = clock.callLater(1, () => {});
 * clock.advance(1);
 * try {
 *   call.cancel();
 * } catch (e) {
 *   console.log(e instanceof AlreadyCalled); // true
 * }
 * ```
 */
export class AlreadyCalled extends Error {
  /**
   * An error saying that `action` was attempted on a call to `funcName` already made.
   *
   * @param action What was attempted: `"cancel"`, `"reset"` or `"delay"`.
   * @param funcName The name of the delayed function, for the message.
   *
   * @example
   * ```ts
   * import { AlreadyCalled } from "@poetry/serve/task";
   * console.log(new AlreadyCalled("cancel", "tick").message);
   * // cannot cancel the delayed call to tick: it has already been made
   * ```
   */
  constructor(action = "cancel", funcName = "anonymous function") {
    super(`cannot ${action} the delayed call to ${funcName}: it has already been made`);
    this.name = "AlreadyCalled";
  }
}

/**
 * Thrown by {@linkcode DelayedCall.cancel}, {@linkcode DelayedCall.reset} or
 * {@linkcode DelayedCall.delay} when the call has already been cancelled.
 *
 * @example
 * ```ts
 * import { AlreadyCancelled, Clock } from "@poetry/serve/task";
 * const call = new Clock().callLater(1, () => {});
 * call.cancel();
 * try {
 *   call.cancel();
 * } catch (e) {
 *   console.log(e instanceof AlreadyCancelled); // true
 * }
 * ```
 */
export class AlreadyCancelled extends Error {
  /**
   * An error saying that `action` was attempted on a call to `funcName` already cancelled.
   *
   * @param action What was attempted: `"cancel"`, `"reset"` or `"delay"`.
   * @param funcName The name of the delayed function, for the message.
   *
   * @example
   * ```ts
   * import { AlreadyCancelled } from "@poetry/serve/task";
   * console.log(new AlreadyCancelled("reset", "tick").message);
   * // cannot reset the delayed call to tick: it has already been cancelled
   * ```
   */
  constructor(action = "cancel", funcName = "anonymous function") {
    super(`cannot ${action} the delayed call to ${funcName}: it has already been cancelled`);
    this.name = "AlreadyCancelled";
  }
}

/**
 * What a {@linkcode DelayedCall} needs from the clock that owns it. Only clock implementers
 * need this: users get delayed calls from `callLater`.
 *
 * @example A minimal clock that keeps its calls in a set
 * ```ts
 * import { DelayedCall, type DelayedCallOwner } from "@poetry/serve/task";
 *
 * let now = 0;
 * const pending = new Set<DelayedCall>();
 * const owner: DelayedCallOwner = {
 *   seconds: () => now,
 *   remove: (call) => pending.delete(call),
 *   reschedule: () => {},
 * };
 * const call = new DelayedCall(5, () => console.log("five seconds"), [], owner);
 * pending.add(call);
 * now = 5;
 * for (const due of [...pending]) if (due.getTime() <= now) due.fire(); // five seconds
 * console.log(pending.size); // 0
 * ```
 */
export interface DelayedCallOwner {
  /** The clock's current time, in seconds. */
  seconds(): number;
  /**
   * Called when the call leaves the schedule, because it was cancelled or because it is being
   * made ({@linkcode DelayedCall.fire}): the clock stops tracking it. It may be called for a
   * call the clock has already taken off its schedule, and must then do nothing.
   */
  remove(call: DelayedCall): void;
  /** Called after the call's time changed ({@linkcode DelayedCall.reset} or `delay`). */
  reschedule(call: DelayedCall): void;
}

/**
 * A function call scheduled for a later time by `callLater`, as Twisted's `DelayedCall`: it can
 * be cancelled, moved ({@linkcode DelayedCall.reset}, {@linkcode DelayedCall.delay}) and
 * inspected until it is made.
 *
 * @example Push back a timeout each time something happens
 * ```ts
 * import { Clock } from "@poetry/serve/task";
 * const clock = new Clock();
 * const timeout = clock.callLater(5, () => console.log("timed out"));
 * clock.advance(4);
 * timeout.reset(5); // five seconds from now
 * clock.advance(4);
 * console.log(timeout.active()); // true
 * timeout.cancel();
 * ```
 */
export class DelayedCall {
  #time: number;
  // deno-lint-ignore no-explicit-any
  #func: (...args: any[]) => unknown;
  #args: readonly unknown[];
  #owner: DelayedCallOwner;
  #called = false;
  #cancelled = false;

  /**
   * For clock implementers: a call of `func(...args)` due at `time` (seconds on the owner's
   * clock). The owner schedules it, is told through `owner` when it is cancelled or moved, and
   * makes it with {@linkcode DelayedCall.fire} when it is due.
   *
   * @example A clock that keeps its calls in a set
   * ```ts
   * import { DelayedCall } from "@poetry/serve/task";
   * const pending = new Set<DelayedCall>();
   * const owner = {
   *   seconds: () => 0,
   *   remove: (call: DelayedCall) => void pending.delete(call),
   *   reschedule: () => {},
   * };
   * const call = new DelayedCall(2, (x: number) => x * 2, [21], owner);
   * pending.add(call);
   * console.log(call.fire(), pending.size); // 42 0
   * ```
   */
  constructor(
    time: number,
    // deno-lint-ignore no-explicit-any
    func: (...args: any[]) => unknown,
    args: readonly unknown[],
    owner: DelayedCallOwner,
  ) {
    this.#time = time;
    this.#func = func;
    this.#args = args;
    this.#owner = owner;
  }

  /**
   * The function to call.
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * function tick() {}
   * console.log(new Clock().callLater(1, tick).func === tick); // true
   * ```
   */
  // deno-lint-ignore no-explicit-any
  get func(): (...args: any[]) => unknown {
    return this.#func;
  }

  /**
   * The arguments it will be called with.
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * console.log(new Clock().callLater(1, (a: number, b: string) => {}, 1, "b").args); // [ 1, "b" ]
   * ```
   */
  get args(): readonly unknown[] {
    return this.#args;
  }

  /**
   * Whether the call has been made (or is being made).
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * const clock = new Clock();
   * const call = clock.callLater(1, () => {});
   * clock.advance(1);
   * console.log(call.called); // true
   * ```
   */
  get called(): boolean {
    return this.#called;
  }

  /**
   * Whether the call has been cancelled.
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * const call = new Clock().callLater(1, () => {});
   * call.cancel();
   * console.log(call.cancelled); // true
   * ```
   */
  get cancelled(): boolean {
    return this.#cancelled;
  }

  /**
   * When the call is due, in seconds on its clock (for the reactor: since the epoch).
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * const clock = new Clock();
   * clock.advance(10);
   * console.log(clock.callLater(2.5, () => {}).getTime()); // 12.5
   * ```
   */
  getTime(): number {
    return this.#time;
  }

  #check(action: string): void {
    if (this.#cancelled) throw new AlreadyCancelled(action, nameOf(this.#func));
    if (this.#called) throw new AlreadyCalled(action, nameOf(this.#func));
  }

  /**
   * Unschedules the call.
   *
   * @throws {AlreadyCancelled} if it was already cancelled.
   * @throws {AlreadyCalled} if it was already made.
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * const clock = new Clock();
   * const call = clock.callLater(1, () => console.log("never"));
   * call.cancel();
   * clock.advance(2);
   * console.log(clock.getDelayedCalls().length); // 0
   * ```
   */
  cancel(): void {
    this.#check("cancel");
    this.#cancelled = true;
    this.#owner.remove(this);
  }

  /**
   * Reschedules the call for `secondsFromNow` seconds after the clock's current time, earlier
   * or later than it was.
   *
   * @throws {AlreadyCancelled} if it was cancelled.
   * @throws {AlreadyCalled} if it was already made.
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * const clock = new Clock();
   * const call = clock.callLater(10, () => {});
   * clock.advance(3);
   * call.reset(1);
   * console.log(call.getTime()); // 4
   * ```
   */
  reset(secondsFromNow: number): void {
    this.#check("reset");
    this.#time = this.#owner.seconds() + secondsFromNow;
    this.#owner.reschedule(this);
  }

  /**
   * Moves the call `secondsLater` seconds after the time it was due (earlier if negative).
   *
   * @throws {AlreadyCancelled} if it was cancelled.
   * @throws {AlreadyCalled} if it was already made.
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * const call = new Clock().callLater(10, () => {});
   * call.delay(5);
   * console.log(call.getTime()); // 15
   * ```
   */
  delay(secondsLater: number): void {
    this.#check("delay");
    this.#time += secondsLater;
    this.#owner.reschedule(this);
  }

  /**
   * Whether the call is still pending: neither made nor cancelled.
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * const clock = new Clock();
   * const call = clock.callLater(1, () => {});
   * console.log(call.active()); // true
   * clock.advance(1);
   * console.log(call.active()); // false
   * ```
   */
  active(): boolean {
    return !(this.#cancelled || this.#called);
  }

  /**
   * For clock implementers: makes the call now. Marks it called, tells the owner to
   * {@linkcode DelayedCallOwner.remove} it, then calls the function and returns what it returns
   * (and lets what it throws propagate). Clocks call this for each due call; users wanting a
   * call made early should `reset(0)` it instead.
   *
   * @throws {AlreadyCancelled} if it was cancelled.
   * @throws {AlreadyCalled} if it was already made.
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * const clock = new Clock();
   * const call = clock.callLater(60, () => "done");
   * console.log(call.fire(), clock.getDelayedCalls().length); // done 0
   * ```
   */
  fire(): unknown {
    this.#check("make");
    this.#called = true;
    this.#owner.remove(this);
    return this.#func(...this.#args);
  }

  /**
   * A description for debugging: the function, its arguments and its state.
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * console.log(String(new Clock().callLater(1.5, function tick(n: number) {}, 3)));
   * // <DelayedCall [1.5s] called=false cancelled=false tick(3)>
   * ```
   */
  toString(): string {
    const when = this.#time - this.#owner.seconds();
    const args = this.#args.map((a) => Deno.inspect(a)).join(", ");
    return `<DelayedCall [${when}s] called=${this.#called} cancelled=${this.#cancelled} ` +
      `${nameOf(this.#func)}(${args})>`;
  }
}

/**
 * Scheduling in time: Twisted's `IReactorTime`. The reactor implements it in real time; a
 * `Clock` implements it in time that only moves when a test says so. Code that takes a
 * `ReactorTime` (a `clock` property or argument) can be tested without waiting.
 *
 * @example Code that works on any clock
 * ```ts
 * import { Clock, type ReactorTime } from "@poetry/serve/task";
 * function remindLater(clock: ReactorTime, say: (s: string) => void): void {
 *   clock.callLater(60, say, "a minute has passed");
 * }
 * const clock = new Clock();
 * remindLater(clock, console.log);
 * clock.advance(60); // a minute has passed
 * ```
 */
export interface ReactorTime {
  /** The current time in seconds (for the reactor: since the epoch, as `Date.now() / 1000`). */
  seconds(): number;
  /**
   * Calls `fn(...args)` after `seconds` seconds (at least; 0 means as soon as possible, after
   * the current code finishes) and returns the {@linkcode DelayedCall}, which can cancel or
   * move it.
   *
   * @throws {RangeError} if `seconds` is negative or not a number.
   */
  callLater<A extends unknown[]>(
    seconds: number,
    fn: (...args: A) => unknown,
    ...args: A
  ): DelayedCall;
  /** The calls scheduled and not yet made or cancelled, in the order they are due. */
  getDelayedCalls(): DelayedCall[];
}

/** Checks a `callLater` delay, as every clock does. */
export function checkDelay(seconds: number): void {
  if (!(seconds >= 0)) {
    throw new RangeError(`callLater delay must be a number of seconds >= 0, not ${seconds}`);
  }
}

/** The longest delay `setTimeout` accepts, in milliseconds; longer waits are re-armed. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** One place of a call in RealTime's heap: the call and the time it was queued for. */
interface Slot {
  call: DelayedCall;
  time: number;
  seq: number;
}

function before(a: Slot, b: Slot): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

// Deno loads its timers on first use of `setTimeout`, and loading drains the microtask queue:
// reactions would run in the middle of the `callLater` that first arms a timer, before it has
// returned its DelayedCall. Taking them here does that loading at import instead.
const setTimer = globalThis.setTimeout;
const clearTimer = globalThis.clearTimeout;

/**
 * Runs the calls of `clock` that are due now, as its timer would on its next turn: the reactor
 * runs them before its shutdown, as Twisted's loop finishes its pass first. Set by RealTime.
 */
export let runDueCalls: (clock: RealTime) => void;

/**
 * Real time: `callLater` backed by `setTimeout`, the clock the reactor uses. All calls share
 * one heap and a single underlying timer, armed for the earliest call and cleared whenever no
 * call is pending, so a program (or a test under Deno's sanitizers) that cancels its calls
 * leaves no timer behind.
 *
 * As in Twisted's reactor, each time the timer fires every call then due runs, in order of
 * due time (calls due at the same time in the order they were scheduled); calls scheduled while
 * they run wait for the next turn even if already due. An error thrown by a call (or a rejected
 * promise it returns) is logged with `log.err` and does not stop the others.
 *
 * Use the shared {@linkcode realTime} instance (which the reactor also uses) rather than
 * making new ones.
 *
 * @example
 * ```ts
 * import { realTime } from "@poetry/serve/task";
 * const { promise, resolve } = Promise.withResolvers<string>();
 * realTime.callLater(0.01, resolve, "ten milliseconds later");
 * console.log(await promise);
 * ```
 */
export class RealTime implements ReactorTime {
  static {
    runDueCalls = (clock) => clock.#runUntilCurrent();
  }

  #heap: Slot[] = [];
  /** Pending calls and their current slot in the heap. */
  #pending = new Map<DelayedCall, Slot>();
  #seq = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #owner: DelayedCallOwner = {
    seconds: () => this.seconds(),
    remove: (call) => this.#remove(call),
    reschedule: (call) => this.#reschedule(call),
  };

  /**
   * A real-time clock with nothing scheduled; `realTime` is the one the reactor uses. Its
   * `callLater` is bound to it, so that it can be handed on (`protocol.callLater =
   * realTime.callLater`).
   *
   * @example Schedule on a clock of your own
   * ```ts
   * import { RealTime } from "@poetry/serve/task";
   * const clock = new RealTime();
   * const later = clock.callLater;
   * await new Promise((resolve) => later(0, resolve, "soon")).then(console.log); // soon
   * ```
   */
  constructor() {
    this.callLater = this.callLater.bind(this);
  }

  /**
   * The current time: seconds since the epoch, as `Date.now() / 1000`.
   *
   * @example
   * ```ts
   * import { realTime } from "@poetry/serve/task";
   * console.log(Math.abs(realTime.seconds() - Date.now() / 1000) < 1); // true
   * ```
   */
  seconds(): number {
    return Date.now() / 1000;
  }

  /**
   * Calls `fn(...args)` `seconds` seconds from now.
   *
   * @throws {RangeError} if `seconds` is negative or not a number.
   *
   * @example
   * ```ts
   * import { realTime } from "@poetry/serve/task";
   * const call = realTime.callLater(30, () => console.log("never"));
   * call.cancel(); // and the timer is gone
   * ```
   */
  callLater<A extends unknown[]>(
    seconds: number,
    fn: (...args: A) => unknown,
    ...args: A
  ): DelayedCall {
    checkDelay(seconds);
    const call = new DelayedCall(this.seconds() + seconds, fn, args, this.#owner);
    this.#push(call);
    this.#arm();
    return call;
  }

  /**
   * The pending calls, in the order they are due.
   *
   * @example
   * ```ts
   * import { realTime } from "@poetry/serve/task";
   * const call = realTime.callLater(30, () => {});
   * console.log(realTime.getDelayedCalls().includes(call)); // true
   * call.cancel();
   * ```
   */
  getDelayedCalls(): DelayedCall[] {
    return [...this.#pending.keys()].sort((a, b) => a.getTime() - b.getTime());
  }

  #push(call: DelayedCall): void {
    const slot = { call, time: call.getTime(), seq: this.#seq++ };
    this.#pending.set(call, slot);
    const heap = this.#heap;
    let i = heap.push(slot) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(slot, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = slot;
  }

  #pop(): Slot {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const c = l + 1 < heap.length && before(heap[l + 1], heap[l]) ? l + 1 : l;
        if (!before(heap[c], last)) break;
        heap[i] = heap[c];
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }

  /** Whether a heap slot still stands for a pending call (cancelled and moved ones do not). */
  #live(slot: Slot): boolean {
    return this.#pending.get(slot.call) === slot;
  }

  #remove(call: DelayedCall): void {
    // The slot stays in the heap and is skipped; compact when dead slots dominate.
    if (!this.#pending.delete(call)) return;
    if (this.#heap.length > 64 && this.#heap.length > 2 * this.#pending.size) this.#compact();
    this.#arm();
  }

  #reschedule(call: DelayedCall): void {
    const slot = this.#pending.get(call);
    if (slot === undefined) return;
    // Moved later: keep the slot; when it comes up early the call is queued again. Moved
    // earlier: queue it anew, which leaves the old slot dead.
    if (call.getTime() < slot.time) {
      this.#push(call);
      this.#arm();
    }
  }

  #compact(): void {
    const live = this.#heap.filter((slot) => this.#live(slot));
    live.sort((a, b) => (before(a, b) ? -1 : 1));
    this.#heap = live;
  }

  /** Arms the timer for the earliest pending call, or clears it if nothing is pending. */
  #arm(): void {
    while (this.#heap.length > 0 && !this.#live(this.#heap[0])) this.#pop();
    if (this.#heap.length === 0) {
      if (this.#timer !== undefined) clearTimer(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Infinity;
      return;
    }
    const at = this.#heap[0].time;
    // A timer armed earlier than needed fires, finds nothing due and re-arms: cheaper than
    // re-arming on every cancel.
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    if (this.#timer !== undefined) clearTimer(this.#timer);
    const ms = Math.min(Math.max(0, Math.ceil((at - this.seconds()) * 1000)), MAX_TIMEOUT_MS);
    this.#timerAt = at;
    this.#timer = setTimer(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#runUntilCurrent();
    }, ms);
  }

  #runUntilCurrent(): void {
    const now = this.seconds();
    const due: DelayedCall[] = [];
    while (this.#heap.length > 0 && this.#heap[0].time <= now) {
      const slot = this.#pop();
      if (!this.#live(slot)) continue;
      if (slot.call.getTime() > slot.time) {
        // Moved later since it was queued: queue it again for its new time.
        this.#push(slot.call);
        continue;
      }
      due.push(slot.call);
    }
    for (const call of due) {
      // An earlier call may have cancelled or moved this one.
      if (!call.active() || call.getTime() > now) {
        if (call.active() && this.#pending.get(call)?.time !== call.getTime()) this.#push(call);
        continue;
      }
      try {
        const result = call.fire();
        if (result instanceof Promise) {
          result.catch((e) => err(e, `Unhandled error in delayed call ${call}`));
        }
      } catch (e) {
        err(e, `Unhandled error in delayed call ${call}`);
      }
    }
    this.#arm();
  }
}

/**
 * The real-time clock shared by the reactor and every object whose `clock` defaults to real
 * time (`LoopingCall`, `ReconnectingClientFactory`).
 *
 * @example
 * ```ts
 * import { realTime } from "@poetry/serve/task";
 * const call = realTime.callLater(1, () => {});
 * console.log(call.active()); // true
 * call.cancel();
 * ```
 */
export const realTime: RealTime = new RealTime();
