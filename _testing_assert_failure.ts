/**
 * {@linkcode assertFailure}: trial's check that a Deferred fails the way it should.
 *
 * @module
 */

import { AssertionError } from "node:assert";
import { type Deferred, ensureDeferred } from "./defer.ts";
import type { ErrorType, Failure } from "./failure.ts";

/**
 * Checks that `d` fails with one of `types` — trial's `assertFailure`. Returns a Deferred that
 * succeeds with the error (the failure's value) if it does, and fails with an
 * `AssertionError` (from `node:assert`) if `d` succeeds or fails with another error; its
 * message names the types expected and what happened instead. Return or `await` it in the
 * test.
 *
 * Given a Deferred, the checks are added to its chain and the same Deferred is returned (as
 * in Twisted), so the failure counts as handled; a promise is adopted first.
 *
 * @param d The Deferred (or promise) under test.
 * @param types The error classes it may fail with.
 * @returns `d`, now firing with the expected error or failing with an `AssertionError`.
 * @throws {TypeError} if no type is given.
 *
 * @example Part 15's test_failure, in short
 * ```ts
 * import { type Deferred, fail } from "@poetry/serve/defer";
 * import { ConnectionRefusedError } from "@poetry/serve/error";
 * import { assertFailure } from "@poetry/serve/testing";
 *
 * function getPoetry(): Deferred<string> {
 *   return fail(new ConnectionRefusedError("127.0.0.1:10001"));
 * }
 *
 * Deno.test("get_poetry fails when no server listens", async () => {
 *   const error = await assertFailure(getPoetry(), ConnectionRefusedError);
 *   console.log(error.where); // 127.0.0.1:10001
 * });
 * ```
 */
export function assertFailure<Types extends ErrorType[]>(
  d: Deferred<unknown> | PromiseLike<unknown>,
  ...types: Types
): Deferred<InstanceType<Types[number]>> {
  if (types.length === 0) {
    throw new TypeError("assertFailure needs at least one error type to expect");
  }
  const expected = describeTypes(types);
  return ensureDeferred(d).addCallbacks(
    (result: unknown): never => {
      throw new AssertionError({
        message: `expected a failure with ${expected}, but the Deferred succeeded with ${
          Deno.inspect(result, { depth: 2 })
        }`,
        actual: result,
        expected: types,
      });
    },
    (failure: Failure): InstanceType<Types[number]> => {
      if (failure.check(...types) !== null) return failure.value as InstanceType<Types[number]>;
      throw new AssertionError({
        message: `expected a failure with ${expected}, but the Deferred failed with:\n` +
          failure.getTraceback(),
        actual: failure.value,
        expected: types,
      });
    },
  ) as Deferred<InstanceType<Types[number]>>;
}

/** `A or B`: the error classes a check expects, for its message. */
export function describeTypes(types: readonly ErrorType[]): string {
  return types.map((type) => type.name || "an anonymous class").join(" or ");
}
