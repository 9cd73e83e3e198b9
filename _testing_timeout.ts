/**
 * {@linkcode timeoutAfter}: trial's per-test time limit, for one Deferred under test.
 *
 * @module
 */

import { CancelledError, Deferred, getDebugging, TimeoutError } from "./defer.ts";
import type { Failure } from "./failure.ts";

/**
 * Gives a Deferred under test `seconds` to fire, so that a test waiting for one that never
 * fires fails with a message saying so instead of hanging the run — the time limit trial puts
 * on each test.
 *
 * The returned Deferred fires with `d`'s result, or fails with `d`'s failure; `d`'s outcome
 * moves to it (as with `chainDeferred`, `d` itself is left with `undefined`, and its failure
 * counts as handled). If `d` has not fired after `seconds`, the returned Deferred fails with a
 * `TimeoutError` naming `d` — by `name` when given; else, when `setDebugging(true)` is on, by
 * the stack where `d` was created (or, when that is not known, where `timeoutAfter` was
 * called) — and `d` is cancelled. What `d` does after that (usually failing with
 * `CancelledError`) is dropped, except a failure other than `CancelledError`, which stays in
 * `d` to be reported as unhandled.
 *
 * The timer is a real-time `setTimeout`, cleared as soon as `d` fires (so Deno's sanitizers
 * see no leak) or when the returned Deferred is cancelled, which cancels `d`. A promise can be
 * given instead of a Deferred; it cannot be cancelled.
 *
 * @param d The Deferred (or promise) to wait for.
 * @param seconds The time limit.
 * @param name A name for `d` in the timeout message.
 * @returns A Deferred with `d`'s outcome, or a `TimeoutError`.
 * @throws {RangeError} if `seconds` is negative or not a finite number.
 *
 * @example Fail instead of hanging
 * ```ts
 * import { Deferred, TimeoutError } from "@poetry/serve/defer";
 * import { assertFailure, timeoutAfter } from "@poetry/serve/testing";
 *
 * const never = new Deferred<string>();
 * const error = await assertFailure(timeoutAfter(never, 0.01, "poem download"), TimeoutError);
 * console.log(error.message); // Deferred "poem download" timed out after 0.01 seconds
 * ```
 *
 * @example A Deferred that fires in time
 * ```ts
 * import { Deferred } from "@poetry/serve/defer";
 * import { timeoutAfter } from "@poetry/serve/testing";
 *
 * const d = new Deferred<string>();
 * setTimeout(() => d.callback("Roses are red"), 1);
 * console.log(await timeoutAfter(d, 5)); // Roses are red
 * ```
 */
export function timeoutAfter<T>(
  d: Deferred<T> | PromiseLike<T>,
  seconds: number,
  name?: string,
): Deferred<T> {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) {
    throw new RangeError(`timeoutAfter needs a time limit of 0 seconds or more, not ${seconds}`);
  }
  const isDeferred = d instanceof Deferred;
  // Where the Deferred came from, captured now: it is what the timeout message needs later.
  let origin: string | undefined;
  if (name === undefined && getDebugging()) {
    const created = isDeferred
      ? (d as unknown as { creationStack?: string }).creationStack
      : undefined;
    origin = created !== undefined
      ? `The Deferred was created at:\n${created}`
      : `timeoutAfter was called at:\n${callerStack()}`;
  }
  const source: Deferred<T> = isDeferred ? d : Deferred.fromPromise(d);
  let timer: ReturnType<typeof setTimeout> | undefined = undefined;
  let timedOut = false;
  const result = new Deferred<T>(() => source.cancel());
  timer = setTimeout(() => {
    timer = undefined;
    timedOut = true;
    const error = new TimeoutError(seconds, name === undefined ? "Deferred" : `Deferred "${name}"`);
    if (origin !== undefined) {
      error.message += `\n${origin}`;
    } else if (name === undefined) {
      error.message += " (pass timeoutAfter a name, or call setDebugging(true), to tell which)";
    }
    result.errback(error);
    source.cancel();
  }, seconds * 1000);
  const settled = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  source.addCallbacks(
    (value: T): undefined => {
      settled();
      if (!timedOut) result.callback(value);
      return undefined;
    },
    (failure: Failure): Failure | undefined => {
      settled();
      if (!timedOut) {
        result.errback(failure);
        return undefined;
      }
      return failure.check(CancelledError) !== null ? undefined : failure;
    },
  );
  return result;
}

/** The stack of the code that called the exported function, without this module's frames. */
function callerStack(): string {
  const lines = (new Error().stack ?? "").split("\n").slice(1);
  return lines.filter((line) => !line.includes(import.meta.url)).join("\n");
}
