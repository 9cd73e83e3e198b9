/**
 * Test support for code built on poetry, for `deno test` — what Twisted's `trial` and
 * `twisted.internet.testing` give Twisted users:
 *
 * - {@linkcode StringTransport}: a transport that records what a protocol writes, so a
 *   protocol can be unit-tested by feeding it bytes and reading what it answered.
 * - {@linkcode StringTransportWithDisconnection}: the same, but closing it calls the
 *   protocol's `connectionLost`, as a real transport does.
 * - {@linkcode MemoryReactor}: a reactor that records `listenTCP`, `connectTCP` and the other
 *   calls without touching the network, with a `Clock` for time; and
 *   {@linkcode connectProtocol} to connect a protocol built by a recorded factory.
 * - {@linkcode assertFailure}: check that a Deferred fails with the expected error.
 * - {@linkcode successResultOf}, {@linkcode failureResultOf} and {@linkcode assertNoResult}:
 *   what a Deferred holds right now, for tests that move a `Clock` instead of waiting.
 * - {@linkcode withLoggedErrors} and {@linkcode flushLoggedErrors}: fail a test that logs an
 *   error, or leaves a failure unhandled in a Deferred, unless the test claims it.
 * - {@linkcode timeoutAfter}: a time limit on a Deferred under test, naming it when it expires.
 * - {@linkcode loopbackAsync}: a server protocol and a client protocol talking to each other
 *   in memory, with no socket.
 * - {@linkcode connectedServerAndClient}: the same pair, whose bytes move only when the test
 *   pumps them ({@linkcode IOPump}), for tests that move a `Clock`.
 *
 * A Deno test may return (or `await`) a Deferred: Deferreds are `PromiseLike`, so the test
 * finishes when the Deferred fires and fails if it fails.
 *
 * @example Unit-test a protocol
 * ```ts
 * import { Protocol } from "@poetry/serve/protocol";
 * import { StringTransport } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * class Echo extends Protocol {
 *   override dataReceived(data: Uint8Array): void {
 *     this.transport.write(data);
 *   }
 * }
 *
 * const transport = new StringTransport();
 * const echo = new Echo();
 * echo.makeConnection(transport);
 * echo.dataReceived(new TextEncoder().encode("Roses are red"));
 * assert.equal(transport.valueText(), "Roses are red");
 * ```
 *
 * @example Test asynchronous code: return or await its Deferred
 * ```ts
 * import { Deferred } from "@poetry/serve/defer";
 * import { timeoutAfter, withLoggedErrors } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * function getPoem(): Deferred<string> {
 *   const d = new Deferred<string>();
 *   setTimeout(() => d.callback("Roses are red"), 1);
 *   return d;
 * }
 *
 * Deno.test("getPoem fetches the poem", withLoggedErrors(async () => {
 *   assert.equal(await timeoutAfter(getPoem(), 5), "Roses are red");
 * }));
 * ```
 *
 * @module
 */

export { assertFailure } from "./_testing_assert_failure.ts";
export { type ConnectedPair, connectedServerAndClient, IOPump } from "./_testing_iosim.ts";
export {
  collapsingPumpPolicy,
  identityPumpPolicy,
  loopbackAsync,
  type PumpPolicy,
} from "./_testing_loopback.ts";
export { assertNoResult, failureResultOf, successResultOf } from "./_testing_results.ts";
export {
  flushLoggedErrors,
  LoggedErrorsError,
  withLoggedErrors,
} from "./_testing_logged_errors.ts";
export {
  type ConnectedProtocol,
  connectProtocol,
  MemoryConnector,
  MemoryPort,
  MemoryReactor,
  type MemoryReactorOptions,
  type ReactorLike,
  type SSLClientRecord,
  type SSLServerRecord,
  type TCPClientRecord,
  type TCPServerRecord,
  type TriggerRecord,
  type UNIXClientRecord,
  type UNIXServerRecord,
} from "./_testing_memory_reactor.ts";
export {
  type ProducerState,
  StringTransport,
  type StringTransportOptions,
  StringTransportWithDisconnection,
} from "./_testing_string_transport.ts";
export { timeoutAfter } from "./_testing_timeout.ts";
