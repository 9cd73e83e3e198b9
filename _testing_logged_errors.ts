/**
 * trial's logged-error discipline for `deno test`: an error logged during a test, or a failure
 * left unhandled in a Deferred, fails the test unless the test claims it.
 *
 * @module
 */

import { reportUnhandledErrors } from "./defer.ts";
import type { ErrorType, Failure } from "./failure.ts";
import { addObserver, type LogEvent, removeObserver } from "./log.ts";

/** The errors logged during one {@linkcode withLoggedErrors} test, not yet claimed. */
interface Capture {
  events: LogEvent[];
}

/** The tests being run under {@linkcode withLoggedErrors}, innermost last. */
const captures: Capture[] = [];

/**
 * The error a {@linkcode withLoggedErrors} test fails with when errors were logged during it
 * and not claimed with {@linkcode flushLoggedErrors}. Its message lists each error's
 * explanation and traceback.
 *
 * @example
 * ```ts
 * import { Failure } from "@poetry/serve/failure";
 * import { LoggedErrorsError } from "@poetry/serve/testing";
 * const e = new LoggedErrorsError([new Failure(new Error("the poem is missing"))]);
 * console.log(e.message.split("\n")[0]); // 1 error was logged during the test and not flushed:
 * ```
 */
export class LoggedErrorsError extends Error {
  /** The unclaimed failures, in the order they were logged. */
  readonly failures: readonly Failure[];

  /**
   * An error listing `failures`; `whys` gives, for each, the explanation it was logged with.
   *
   * @example
   * ```ts
   * import { Failure } from "@poetry/serve/failure";
   * import { LoggedErrorsError } from "@poetry/serve/testing";
   * const e = new LoggedErrorsError([new Failure(new RangeError("x"))], ["while parsing:"]);
   * console.log(e.failures.length, e.message.includes("while parsing:")); // 1 true
   * ```
   */
  constructor(failures: readonly Failure[], whys: readonly (string | undefined)[] = []) {
    const count = failures.length === 1 ? "1 error was" : `${failures.length} errors were`;
    const listed = failures.map((failure, i) => {
      const trace = failure.getTraceback();
      const text = whys[i] ? `${whys[i]}\n${trace}` : trace;
      return `[${i + 1}] ${text.replaceAll("\n", "\n    ")}`;
    });
    super(
      `${count} logged during the test and not flushed:\n${listed.join("\n")}\n` +
        "(claim expected errors with flushLoggedErrors(...types))",
    );
    this.name = "LoggedErrorsError";
    this.failures = failures;
  }
}

/**
 * Wraps a test function with trial's discipline for logged errors: while it runs, every error
 * logged with `err()` (from `log.ts`) is kept instead of printed; when it ends — by returning,
 * by its returned promise or Deferred settling, or by throwing — `reportUnhandledErrors()`
 * (from `defer.ts`) logs every failure still held unhandled by a Deferred, and the test fails
 * with a {@linkcode LoggedErrorsError} if any kept error was not claimed with
 * {@linkcode flushLoggedErrors}. If the test itself failed too, it fails with an
 * `AggregateError` holding both errors.
 *
 * `reportUnhandledErrors()` reports every live Deferred's unhandled failure, including one left
 * behind by code that ran before the test: the test that notices a leak is the first one
 * wrapped after it.
 *
 * The log observer is removed when the test ends, whatever happens. While it is installed it
 * receives every logged event, so errors are not also printed to stderr (other observers still
 * see them). Tests in one file run one at a time, which this relies on; wrapped tests can nest
 * (a step inside a test), and {@linkcode flushLoggedErrors} then claims from the innermost.
 *
 * @param fn The test: takes the `Deno.TestContext` if it wants it, and may return a promise or
 * a Deferred.
 * @returns A test function for `Deno.test` (or `t.step`).
 *
 * @example An expected error, claimed
 * ```ts
 * import { err } from "@poetry/serve/log";
 * import { flushLoggedErrors, withLoggedErrors } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * Deno.test("the server logs a bad request", withLoggedErrors(() => {
 *   err(new RangeError("no such poem"), "while serving a poem:");
 *   assert.equal(flushLoggedErrors(RangeError).length, 1);
 * }));
 * ```
 *
 * @example An unhandled failure fails the test
 * ```ts
 * import { fail } from "@poetry/serve/defer";
 * import { withLoggedErrors } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * const test = withLoggedErrors(() => {
 *   fail(new Error("nobody handled me"));
 * });
 * await assert.rejects(test({} as Deno.TestContext), { name: "LoggedErrorsError" });
 * ```
 */
export function withLoggedErrors(
  fn: (t: Deno.TestContext) => unknown,
): (t: Deno.TestContext) => Promise<void> {
  const test = async (t: Deno.TestContext): Promise<void> => {
    const capture: Capture = { events: [] };
    const observer = (event: LogEvent): void => {
      // Only the innermost test keeps an error, so that one claimed there is not seen again.
      if (event.isError && event.failure !== undefined && captures.at(-1) === capture) {
        capture.events.push(event);
      }
    };
    addObserver(observer);
    captures.push(capture);
    let failed = false;
    let failure: unknown;
    try {
      await fn(t);
    } catch (e) {
      failed = true;
      failure = e;
    } finally {
      try {
        reportUnhandledErrors();
      } finally {
        removeObserver(observer);
        const i = captures.lastIndexOf(capture);
        if (i >= 0) captures.splice(i, 1);
      }
    }
    const left = capture.events;
    const logged = left.length === 0 ? undefined : new LoggedErrorsError(
      left.map((event) => event.failure as Failure),
      left.map((event) => event.why),
    );
    if (failed && logged !== undefined) {
      throw new AggregateError(
        [failure, logged],
        "the test failed and errors were logged during it",
      );
    }
    if (failed) throw failure;
    if (logged !== undefined) throw logged;
  };
  // Named as `fn` is, so that `Deno.test(withLoggedErrors(function test_client() {...}))`
  // still names the test.
  Object.defineProperty(test, "name", { value: fn.name });
  return test;
}

/**
 * Claims the errors logged so far during the current {@linkcode withLoggedErrors} test: those
 * of any of `types` (every one when no type is given) are removed, so they no longer fail the
 * test, and returned, in the order they were logged — trial's `flushLoggedErrors`.
 *
 * A failure left unhandled in a Deferred is logged only when the Deferred's outcome is
 * reported: call `reportUnhandledErrors()` (from `defer.ts`) before flushing to claim those.
 *
 * @param types The error classes to claim.
 * @returns The claimed failures.
 * @throws {Error} if no {@linkcode withLoggedErrors} test is running.
 *
 * @example Claim only the errors you expected
 * ```ts
 * import { err } from "@poetry/serve/log";
 * import { flushLoggedErrors, withLoggedErrors } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * await withLoggedErrors(() => {
 *   err(new TypeError("bad poem"));
 *   err(new RangeError("poem too long"));
 *   const claimed = flushLoggedErrors(RangeError);
 *   assert.equal(claimed[0].getErrorMessage(), "poem too long");
 *   assert.equal(flushLoggedErrors().length, 1); // the TypeError
 * })({} as Deno.TestContext);
 * ```
 */
export function flushLoggedErrors(...types: ErrorType[]): Failure[] {
  const capture = captures[captures.length - 1];
  if (capture === undefined) {
    throw new Error(
      "flushLoggedErrors() was called outside a test wrapped with withLoggedErrors()",
    );
  }
  const claimed: Failure[] = [];
  const kept: LogEvent[] = [];
  for (const event of capture.events) {
    const failure = event.failure as Failure;
    if (types.length === 0 || failure.check(...types) !== null) claimed.push(failure);
    else kept.push(event);
  }
  capture.events = kept;
  return claimed;
}
