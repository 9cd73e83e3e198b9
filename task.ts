/**
 * Time: scheduled calls and the utilities built on them, as Twisted's `twisted.internet.task`.
 *
 * - {@linkcode ReactorTime}: the `callLater` / `seconds` interface that the reactor and
 *   {@linkcode Clock} both implement; {@linkcode DelayedCall} is what `callLater` returns.
 * - {@linkcode Clock}: time that moves only when a test says so.
 * - {@linkcode realTime}: the real-time clock the reactor uses.
 * - {@linkcode LoopingCall}: call a function every so many seconds.
 * - {@linkcode deferLater}: a Deferred that fires after a delay.
 *
 * @example Test timed code without waiting
 * ```ts
 * import { Clock } from "@poetry/serve/task";
 *
 * const clock = new Clock();
 * const said: string[] = [];
 * clock.callLater(2, (s: string) => said.push(s), "later");
 * clock.callLater(1, (s: string) => said.push(s), "sooner");
 * clock.advance(5);
 * console.log(said); // [ "sooner", "later" ]
 * ```
 *
 * @module
 */

import {
  checkDelay,
  DelayedCall,
  type DelayedCallOwner,
  type ReactorTime,
  realTime,
} from "./_timers.ts";
import { Deferred, maybeDeferred } from "./defer.ts";
import type { Failure } from "./failure.ts";

export {
  AlreadyCalled,
  AlreadyCancelled,
  DelayedCall,
  type DelayedCallOwner,
  type ReactorTime,
  RealTime,
  realTime,
} from "./_timers.ts";

/** Orders delayed calls by when they are due (a stable sort keeps equals in order). */
function byDueTime(a: DelayedCall, b: DelayedCall): number {
  return a.getTime() - b.getTime();
}

/**
 * Deterministic time for tests, as Twisted's `task.Clock`: a {@linkcode ReactorTime} whose
 * time starts at 0 and moves only when {@linkcode Clock.advance} is called. Give it to code
 * that takes a `clock` instead of the reactor.
 *
 * Calls due at the same time are made in the order they were scheduled. A call moved by
 * `reset` or `delay` keeps its place relative to the calls it comes to share a time with: moved
 * later, it goes before them; moved earlier, after them (as in Twisted, whose `Clock` keeps its
 * calls in a list that it sorts stably by due time). An error thrown by a call propagates out
 * of `advance` (the call counts as made; later ones wait for the next `advance`).
 *
 * @example
 * ```ts
 * import { Clock } from "@poetry/serve/task";
 * const clock = new Clock();
 * let ticks = 0;
 * clock.callLater(1, () => ticks++);
 * clock.advance(0.5);
 * console.log(ticks); // 0
 * clock.advance(0.5);
 * console.log(ticks); // 1
 * ```
 */
export class Clock implements ReactorTime {
  /** The current time, in seconds. Starts at 0; {@linkcode Clock.advance} moves it. */
  rightNow = 0;
  /** The pending calls, in due order unless `#unsorted`. */
  #calls: DelayedCall[] = [];
  /** Set when a call was moved: `#calls` needs a stable sort before it is read. */
  #unsorted = false;
  #owner: DelayedCallOwner = {
    seconds: () => this.rightNow,
    remove: (call) => {
      const i = this.#calls.indexOf(call);
      if (i !== -1) this.#calls.splice(i, 1);
    },
    // The sort is put off until the calls are next read, as Twisted's is: calls moved in the
    // meantime are ordered among equals by where they stood before any of the moves.
    reschedule: () => {
      this.#unsorted = true;
    },
  };

  /**
   * A clock at time 0 with nothing scheduled. Its `callLater` and `seconds` are bound to it,
   * so that they can be handed on as Twisted code hands them (`protocol.callLater =
   * clock.callLater`).
   *
   * @example Give a protocol the clock's callLater
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * const clock = new Clock();
   * const later = clock.callLater;
   * later(1, () => console.log("a second on"));
   * clock.advance(1); // a second on
   * ```
   */
  constructor() {
    this.callLater = this.callLater.bind(this);
    this.seconds = this.seconds.bind(this);
  }

  /**
   * The current time: {@linkcode Clock.rightNow}.
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * const clock = new Clock();
   * clock.advance(3);
   * console.log(clock.seconds()); // 3
   * ```
   */
  seconds(): number {
    return this.rightNow;
  }

  /**
   * Schedules `fn(...args)` for `seconds` after the clock's current time.
   *
   * @throws {RangeError} if `seconds` is negative or not a number.
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * const clock = new Clock();
   * clock.callLater(1, (name: string) => console.log(`hello ${name}`), "world");
   * clock.advance(1); // hello world
   * ```
   */
  callLater<A extends unknown[]>(
    seconds: number,
    fn: (...args: A) => unknown,
    ...args: A
  ): DelayedCall {
    checkDelay(seconds);
    const call = new DelayedCall(this.rightNow + seconds, fn, args, this.#owner);
    this.#sort();
    // After every call due no later: ties keep the order calls were scheduled in.
    const calls = this.#calls;
    const time = call.getTime();
    let lo = 0;
    let hi = calls.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (calls[mid].getTime() <= time) lo = mid + 1;
      else hi = mid;
    }
    calls.splice(lo, 0, call);
    return call;
  }

  /** Sorts the calls by due time if one was moved; the sort is stable, so equals keep their order. */
  #sort(): void {
    if (!this.#unsorted) return;
    this.#unsorted = false;
    this.#calls.sort(byDueTime);
  }

  /**
   * The pending calls, in the order they will be made.
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * const clock = new Clock();
   * clock.callLater(2, () => {});
   * clock.callLater(1, () => {});
   * console.log(clock.getDelayedCalls().map((c) => c.getTime())); // [ 1, 2 ]
   * ```
   */
  getDelayedCalls(): DelayedCall[] {
    // A sorted copy: sorting the schedule itself here would change how later moves are ordered.
    const calls = [...this.#calls];
    if (this.#unsorted) calls.sort(byDueTime);
    return calls;
  }

  /**
   * The pending calls, in the order they will be made: {@linkcode Clock.getDelayedCalls} under
   * the name Twisted's tests use (`clock.calls`). A copy: changing it changes no call.
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * const clock = new Clock();
   * clock.callLater(5, () => {});
   * console.log(clock.calls.length, clock.calls[0].getTime()); // 1 5
   * ```
   */
  get calls(): DelayedCall[] {
    return this.getDelayedCalls();
  }

  /**
   * Moves time forward by `amount` seconds and makes every call now due, earliest first —
   * including calls that those calls schedule, if they too are due.
   *
   * @throws whatever a call throws; the calls after it stay pending.
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * const clock = new Clock();
   * clock.callLater(1, () => clock.callLater(0, () => console.log("chained")));
   * clock.advance(1); // chained
   * ```
   */
  advance(amount: number): void {
    this.rightNow += amount;
    this.#sort();
    while (this.#calls.length > 0 && this.#calls[0].getTime() <= this.rightNow) {
      this.#calls.shift()!.fire();
      this.#sort();
    }
  }

  /**
   * Advances by each of `timings` in turn, as if {@linkcode Clock.advance} were called once per
   * amount.
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * const clock = new Clock();
   * clock.pump([1, 1, 1]);
   * console.log(clock.seconds()); // 3
   * ```
   */
  pump(timings: Iterable<number>): void {
    for (const amount of timings) this.advance(amount);
  }
}

/**
 * Calls a function repeatedly, every `interval` seconds, as Twisted's `task.LoopingCall`.
 *
 * If the function returns a `Deferred` or a promise, the next call is scheduled only once it
 * settles. If the function throws (or what it returns fails), the loop stops and the Deferred
 * that {@linkcode LoopingCall.start} returned fails with that error; {@linkcode LoopingCall.stop}
 * fires it with the `LoopingCall` instead.
 *
 * Calls keep to the grid of `start time + n × interval`: when a call (or the wait for its
 * result) overruns one or more intervals, the missed calls are skipped, not made late in a
 * burst, and the next call is made at the next point of the grid.
 * {@linkcode LoopingCall.withCount} tells the function how many intervals passed.
 *
 * @example Tick every second, five times
 * ```ts
 * import { Clock, LoopingCall } from "@poetry/serve/task";
 * const clock = new Clock();
 * let ticks = 0;
 * const loop = new LoopingCall(() => {
 *   if (++ticks === 5) loop.stop();
 * });
 * loop.clock = clock;
 * loop.start(1).addCallback(() => console.log("stopped after", ticks, "ticks"));
 * clock.pump([1, 1, 1, 1]); // stopped after 5 ticks
 * ```
 */
export class LoopingCall<A extends unknown[] = []> {
  /** The function called each interval. */
  readonly f: (...args: A) => unknown;
  /** The arguments it is called with. */
  readonly a: A;
  /**
   * The clock the calls are scheduled on; set it before {@linkcode LoopingCall.start}.
   * @default {realTime} (the reactor's clock)
   */
  clock: ReactorTime = realTime;
  /** The scheduled next call, if any (none while a call's result is awaited). */
  call: DelayedCall | undefined = undefined;
  /** Whether the loop is started and not yet stopped or failed. */
  running = false;
  /** The interval given to {@linkcode LoopingCall.start}, in seconds. */
  interval: number | undefined = undefined;
  /** When the loop started (or was last {@linkcode LoopingCall.reset}), on its clock. */
  starttime: number | undefined = undefined;
  #deferred: Deferred<LoopingCall<A>> | undefined = undefined;
  #runAtStart = false;
  #realLastTime: number | undefined = undefined;

  /**
   * A loop that will call `fn(...args)`; nothing happens until {@linkcode LoopingCall.start}.
   *
   * @example
   * ```ts
   * import { LoopingCall } from "@poetry/serve/task";
   * const loop = new LoopingCall((who: string) => console.log(`hello ${who}`), "world");
   * console.log(loop.running); // false
   * ```
   */
  constructor(fn: (...args: A) => unknown, ...args: A) {
    this.f = fn;
    this.a = args;
  }

  /**
   * A loop that calls `countCallable(count)`, where `count` is how many intervals passed
   * since the last call: normally 1, more when calls were skipped (the clock was late, or a
   * result took longer than an interval). With an interval of 0 the count is always 1. A
   * restart counts afresh: its first call gets 1. (Twisted's counts from the last call before
   * the stop, which can give 0 or a large count.)
   *
   * @example Advance an animation by the frames that were due
   * ```ts
   * import { Clock, LoopingCall } from "@poetry/serve/task";
   * const clock = new Clock();
   * const counts: number[] = [];
   * const loop = LoopingCall.withCount((count) => counts.push(count));
   * loop.clock = clock;
   * loop.start(1);
   * clock.advance(1);
   * clock.advance(3);
   * loop.stop();
   * console.log(counts); // [ 1, 1, 3 ]
   * ```
   */
  static withCount(countCallable: (count: number) => unknown): LoopingCall<[]> {
    const loop: LoopingCall<[]> = new LoopingCall(() => {
      const now = loop.clock.seconds();
      if (loop.interval === 0) {
        loop.#realLastTime = now;
        return countCallable(1);
      }
      let lastTime = loop.#realLastTime;
      if (lastTime === undefined) {
        lastTime = loop.starttime!;
        if (loop.#runAtStart) lastTime -= loop.interval!;
      }
      const count = loop.#intervalOf(now) - loop.#intervalOf(lastTime);
      if (count > 0) {
        loop.#realLastTime = now;
        return countCallable(count);
      }
      return undefined;
    });
    return loop;
  }

  /** How many whole intervals separate the start time and `t`. */
  #intervalOf(t: number): number {
    return Math.trunc((t - this.starttime!) / this.interval!);
  }

  /**
   * Starts calling the function every `interval` seconds: at once if `now` (the default),
   * else first after one interval.
   *
   * Returns a Deferred that fires with this `LoopingCall` when {@linkcode LoopingCall.stop} is
   * called, or fails with the error if the function throws or its result fails.
   *
   * @throws {Error} if the loop is already running.
   * @throws {RangeError} if `interval` is negative.
   *
   * @example Wait for the first interval before the first call
   * ```ts
   * import { Clock, LoopingCall } from "@poetry/serve/task";
   * const clock = new Clock();
   * let calls = 0;
   * const loop = new LoopingCall(() => calls++);
   * loop.clock = clock;
   * loop.start(10, false);
   * console.log(calls); // 0
   * clock.advance(10);
   * console.log(calls); // 1
   * loop.stop();
   * ```
   */
  start(interval: number, now = true): Deferred<LoopingCall<A>> {
    if (this.running) throw new Error("LoopingCall.start: the loop is already running");
    if (!(interval >= 0)) {
      throw new RangeError(
        `LoopingCall interval must be a number of seconds >= 0, not ${interval}`,
      );
    }
    this.running = true;
    // The loop may fail during the first call and clear #deferred: keep a local reference.
    const deferred = new Deferred<LoopingCall<A>>();
    this.#deferred = deferred;
    this.starttime = this.clock.seconds();
    this.interval = interval;
    this.#runAtStart = now;
    this.#realLastTime = undefined;
    if (now) this.#run();
    else this.#scheduleFrom(this.starttime);
    return deferred;
  }

  /**
   * Stops the loop: cancels the next call, and fires the Deferred from
   * {@linkcode LoopingCall.start} with this `LoopingCall` — at once, or, if a call's result is
   * still awaited, once it settles.
   *
   * @throws {Error} if the loop is not running.
   *
   * @example
   * ```ts
   * import { Clock, LoopingCall } from "@poetry/serve/task";
   * const loop = new LoopingCall(() => {});
   * loop.clock = new Clock();
   * const done = loop.start(1);
   * loop.stop();
   * console.log(done.called, loop.running); // true false
   * ```
   */
  stop(): void {
    if (!this.running) throw new Error("LoopingCall.stop: the loop is not running");
    this.running = false;
    if (this.call !== undefined) {
      this.call.cancel();
      this.call = undefined;
      this.#fireDeferred();
    }
  }

  /**
   * Skips the next call and starts the intervals afresh from now.
   *
   * @throws {Error} if the loop is not running.
   *
   * @example
   * ```ts
   * import { Clock, LoopingCall } from "@poetry/serve/task";
   * const clock = new Clock();
   * let calls = 0;
   * const loop = new LoopingCall(() => calls++);
   * loop.clock = clock;
   * loop.start(10); // calls: 1
   * clock.advance(8);
   * loop.reset();
   * clock.advance(8);
   * console.log(calls); // 1
   * clock.advance(2);
   * console.log(calls); // 2
   * loop.stop();
   * ```
   */
  reset(): void {
    if (!this.running) throw new Error("LoopingCall.reset: the loop is not running");
    if (this.call !== undefined) {
      this.call.cancel();
      this.call = undefined;
      this.starttime = this.clock.seconds();
      this.#scheduleFrom(this.starttime);
    }
  }

  #fireDeferred(): void {
    const d = this.#deferred!;
    this.#deferred = undefined;
    d.callback(this);
  }

  /** Makes one call, then schedules the next once its result is in. */
  #run(): void {
    this.call = undefined;
    const result = maybeDeferred(this.f, ...this.a);
    // As in Twisted, the errback also catches an error from scheduling the next call.
    result.addCallback(() => {
      if (this.running) this.#scheduleFrom(this.clock.seconds());
      else this.#fireDeferred();
    }).addErrback((failure: Failure) => {
      this.running = false;
      const d = this.#deferred!;
      this.#deferred = undefined;
      d.errback(failure);
    });
  }

  /** Schedules the next call for the next point of the interval grid after `when`. */
  #scheduleFrom(when: number): void {
    this.call = this.clock.callLater(this.#untilNext(when), () => this.#run());
  }

  /**
   * For debugging: the interval, the function and its arguments, as Twisted's `repr` shows
   * them (`LoopingCall<1>(tick, "world")`).
   *
   * @example
   * ```ts
   * import { LoopingCall } from "@poetry/serve/task";
   * function tick(who: string): void {}
   * console.log(String(new LoopingCall(tick, "world"))); // LoopingCall<undefined>(tick, "world")
   * ```
   */
  toString(): string {
    const args = this.a.map((arg) => typeof Deno === "undefined" ? String(arg) : Deno.inspect(arg));
    return `LoopingCall<${this.interval}>(${[this.f.name || "anonymous", ...args].join(", ")})`;
  }

  #untilNext(when: number): number {
    const interval = this.interval!;
    if (interval === 0) return 0;
    const runningFor = when - this.starttime!;
    // Before the start time (the clock went back), `%` in JS keeps the sign: take the floored
    // remainder, as Python's `%` gives, so the next call still falls on the grid.
    let intoInterval = runningFor % interval;
    if (intoInterval < 0) intoInterval += interval;
    const untilNextInterval = interval - intoInterval;
    // So small against `when` that adding it changes nothing: the next point is a whole
    // interval away.
    if (when === when + untilNextInterval) return interval;
    return untilNextInterval;
  }
}

/**
 * Calls `fn(...args)` after `seconds` seconds on `clock`, and returns a Deferred for its
 * result (for `undefined` if no `fn` is given), as Twisted's `task.deferLater`. Cancelling the
 * Deferred cancels the call and fails the Deferred with `CancelledError`.
 *
 * @example Wait fifty milliseconds
 * ```ts
 * import { deferLater, realTime } from "@poetry/serve/task";
 * const answer = await deferLater(realTime, 0.05, (a: number) => a * 2, 21);
 * console.log(answer); // 42
 * ```
 *
 * @example Give up waiting
 * ```ts
 * import { CancelledError } from "@poetry/serve/defer";
 * import { Clock, deferLater } from "@poetry/serve/task";
 * const clock = new Clock();
 * const d = deferLater(clock, 60);
 * d.addErrback((f) => console.log(f.check(CancelledError) !== null)); // true
 * d.cancel();
 * console.log(clock.getDelayedCalls().length); // 0
 * ```
 */
export function deferLater(clock: ReactorTime, seconds: number): Deferred<undefined>;
/**
 * Calls `fn(...args)` after `seconds` seconds on `clock`; the Deferred fires with its result
 * (waiting for it if it is a Deferred or a promise) or fails with what it throws.
 *
 * @example
 * ```ts
 * import { Clock, deferLater } from "@poetry/serve/task";
 * const clock = new Clock();
 * deferLater(clock, 1, (who: string) => `hello ${who}`, "world").addCallback(console.log);
 * clock.advance(1); // hello world
 * ```
 */
export function deferLater<T, A extends unknown[]>(
  clock: ReactorTime,
  seconds: number,
  fn: (...args: A) => T | PromiseLike<T>,
  ...args: A
): Deferred<T>;
export function deferLater<T, A extends unknown[]>(
  clock: ReactorTime,
  seconds: number,
  fn?: (...args: A) => T | PromiseLike<T>,
  ...args: A
): Deferred<T | undefined> {
  const d = new Deferred<undefined>(() => delayed.cancel());
  const delayed = clock.callLater(seconds, () => d.callback(undefined));
  return d.addCallback(() => (fn === undefined ? undefined : fn(...args)));
}
