/**
 * {@linkcode successResultOf}, {@linkcode failureResultOf} and {@linkcode assertNoResult}:
 * trial's checks of what a Deferred holds right now, for tests that drive time with a `Clock`
 * and bytes with a `StringTransport` instead of waiting for them.
 *
 * @module
 */

import { AssertionError } from "node:assert";
import { describeTypes } from "./_testing_assert_failure.ts";
import { Deferred } from "./defer.ts";
import { type ErrorType, Failure } from "./failure.ts";

/** What {@linkcode currentOutcome} finds on a Deferred that has no result now. */
const NONE: unique symbol = Symbol("no result");

/**
 * The result or failure `d` has at the end of its chain now, or `NONE`. A failure found is
 * handled: the test reports it. A Deferred without a result is left as it was.
 */
function currentOutcome(d: Deferred<unknown>): unknown {
  if (!(d instanceof Deferred)) {
    // A promise never has a result yet when a test asks; only a Deferred can.
    throw new TypeError(`expected a Deferred, got ${Deno.inspect(d, { depth: 1 })}`);
  }
  let outcome: unknown = NONE;
  let now = true;
  // A callback added now runs at once only if the Deferred has a result and is not paused,
  // waiting on another Deferred or running its callbacks: exactly "has a result now".
  d.addBoth((value) => {
    if (!now) return value; // a result that came later is none of this check's business
    outcome = value;
    // The test is told of a failure, so the Deferred need not report it as unhandled.
    return value instanceof Failure ? undefined : value;
  });
  now = false;
  return outcome;
}

/**
 * The result `d` has now — trial's `successResultOf`. Throws an `AssertionError` (from
 * `node:assert`) if `d` has no result yet (it has not fired, is paused, or waits on another
 * Deferred) or has a failure, which the message shows with its traceback and which is then
 * handled. The result stays in `d` for callbacks added later.
 *
 * @param d The Deferred under test.
 * @returns Its result.
 * @throws {AssertionError} if `d` has no result, or a failure.
 *
 * @example A timer's Deferred, driven by a test clock
 * ```ts
 * import { Clock, deferLater } from "@poetry/serve/task";
 * import { assertNoResult, successResultOf } from "@poetry/serve/testing";
 *
 * const clock = new Clock();
 * const d = deferLater(clock, 5, () => "Roses are red");
 * assertNoResult(d);
 * clock.advance(5);
 * console.log(successResultOf(d)); // Roses are red
 * ```
 */
export function successResultOf<T>(d: Deferred<T>): T {
  const before = String(d);
  const outcome = currentOutcome(d);
  if (outcome === NONE) {
    throw new AssertionError({
      message: `Success result expected on ${before}, found no result instead`,
    });
  }
  if (outcome instanceof Failure) {
    throw new AssertionError({
      message: `Success result expected on ${before}, found failure result instead:\n` +
        outcome.getTraceback(),
      actual: outcome.value,
    });
  }
  return outcome as T;
}

/**
 * The failure `d` has now — trial's `failureResultOf` — which is then handled: `d` goes on
 * with `undefined`, as in Twisted. With `types`, the failure must be one of them. Throws an
 * `AssertionError` (from `node:assert`) if `d` has no result yet, has succeeded, or has failed
 * with another error (which the message shows with its traceback).
 *
 * @param d The Deferred under test.
 * @param types The error classes the failure may wrap; any error when none is given.
 * @returns The failure; its `value` is the error, typed as one of `types`.
 * @throws {AssertionError} if `d` has no result, a success result, or another failure.
 *
 * @example A Deferred that times out on a test clock
 * ```ts
 * import { Deferred, TimeoutError } from "@poetry/serve/defer";
 * import { Clock } from "@poetry/serve/task";
 * import { failureResultOf } from "@poetry/serve/testing";
 *
 * const clock = new Clock();
 * const d = new Deferred<string>().addTimeout(10, clock);
 * clock.advance(10);
 * console.log(failureResultOf(d, TimeoutError).getErrorMessage()); // Deferred timed out after 10 seconds
 * ```
 */
export function failureResultOf<Types extends ErrorType[]>(
  d: Deferred<unknown>,
  ...types: Types
): Failure & { readonly value: Types extends [] ? unknown : InstanceType<Types[number]> } {
  const before = String(d);
  const outcome = currentOutcome(d);
  if (outcome === NONE) {
    throw new AssertionError({
      message: `Failure result expected on ${before}, found no result instead`,
    });
  }
  if (!(outcome instanceof Failure)) {
    throw new AssertionError({
      message: `Failure result expected on ${before}, found success result (${
        Deno.inspect(outcome, { depth: 2 })
      }) instead`,
      actual: outcome,
    });
  }
  if (types.length > 0 && outcome.check(...types) === null) {
    throw new AssertionError({
      message:
        `Failure of type (${describeTypes(types)}) expected on ${before}, found ${outcome} ` +
        `instead:\n${outcome.getTraceback()}`,
      actual: outcome.value,
      expected: types,
    });
  }
  // Checked above: the value is one of `types`, when any were given.
  return outcome as Failure & {
    readonly value: Types extends [] ? unknown : InstanceType<Types[number]>;
  };
}

/**
 * Checks that `d` has no result yet — trial's `assertNoResult`: it has not fired, or is paused,
 * or waits on another Deferred. If so, `d` is left as it was. If not, it throws an
 * `AssertionError` (from `node:assert`) naming what `d` holds, and a failure `d` held is
 * handled.
 *
 * @param d The Deferred under test.
 * @throws {AssertionError} if `d` has a result.
 *
 * @example Nothing happens before the clock moves
 * ```ts
 * import { Clock, deferLater } from "@poetry/serve/task";
 * import { assertNoResult } from "@poetry/serve/testing";
 *
 * const clock = new Clock();
 * const d = deferLater(clock, 1, () => "late");
 * clock.advance(0.5);
 * assertNoResult(d); // passes: half a second is not enough
 * ```
 */
export function assertNoResult(d: Deferred<unknown>): void {
  const before = String(d);
  const outcome = currentOutcome(d);
  if (outcome === NONE) return;
  throw new AssertionError({
    // A Failure inspects as its one-line `[Failure Type: message]`.
    message: `No result expected on ${before}, found ${
      Deno.inspect(outcome, { depth: 2 })
    } instead`,
    actual: outcome instanceof Failure ? outcome.value : outcome,
  });
}
