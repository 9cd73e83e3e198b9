/**
 * Time: scheduled calls and the utilities built on them, as Twisted's `twisted.internet.task`.
 *
 * - {@linkcode ReactorTime}: the `callLater` / `seconds` interface that the reactor and
 *   {@linkcode Clock} both implement; {@linkcode DelayedCall} is what `callLater` returns.
 * - {@linkcode Clock}: time that moves only when a test says so.
 * - {@linkcode realTime}: the real-time clock the reactor uses.
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

import { checkDelay, DelayedCall, type DelayedCallOwner, type ReactorTime } from "./_timers.ts";

export {
  AlreadyCalled,
  AlreadyCancelled,
  DelayedCall,
  type DelayedCallOwner,
  type ReactorTime,
  RealTime,
  realTime,
} from "./_timers.ts";

interface ClockEntry {
  call: DelayedCall;
  seq: number;
}

/**
 * Deterministic time for tests, as Twisted's `task.Clock`: a {@linkcode ReactorTime} whose
 * time starts at 0 and moves only when {@linkcode Clock.advance} is called. Give it to code
 * that takes a `clock` instead of the reactor.
 *
 * Calls due at the same time are made in the order they were scheduled. An error thrown by a
 * call propagates out of `advance` (the call counts as made; later ones wait for the next
 * `advance`).
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
  #calls: ClockEntry[] = [];
  #entries = new Map<DelayedCall, ClockEntry>();
  #seq = 0;
  #owner: DelayedCallOwner = {
    seconds: () => this.rightNow,
    remove: (call) => {
      const entry = this.#entries.get(call);
      if (entry === undefined) return;
      this.#entries.delete(call);
      this.#calls.splice(this.#calls.indexOf(entry), 1);
    },
    reschedule: (call) => {
      const entry = this.#entries.get(call);
      if (entry === undefined) return;
      this.#calls.splice(this.#calls.indexOf(entry), 1);
      this.#insert(entry);
    },
  };

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
    const entry = { call, seq: this.#seq++ };
    this.#entries.set(call, entry);
    this.#insert(entry);
    return call;
  }

  /** Inserts after every entry due no later (ties keep the order calls were scheduled in). */
  #insert(entry: ClockEntry): void {
    const calls = this.#calls;
    const time = entry.call.getTime();
    let lo = 0;
    let hi = calls.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const other = calls[mid];
      const t = other.call.getTime();
      if (t < time || (t === time && other.seq < entry.seq)) lo = mid + 1;
      else hi = mid;
    }
    calls.splice(lo, 0, entry);
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
    return this.#calls.map((entry) => entry.call);
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
    while (this.#calls.length > 0 && this.#calls[0].call.getTime() <= this.rightNow) {
      const { call } = this.#calls.shift()!;
      this.#entries.delete(call);
      call.fire();
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
