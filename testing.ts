/**
 * Test support for code built on poetry, for `deno test` — what Twisted's `trial` and
 * `twisted.internet.testing` give Twisted users:
 *
 * - {@linkcode StringTransport}: a transport that records what a protocol writes, so a
 *   protocol can be unit-tested by feeding it bytes and reading what it answered.
 * - {@linkcode StringTransportWithDisconnection}: the same, but closing it calls the
 *   protocol's `connectionLost`, as a real transport does.
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
 * @module
 */

export {
  type ProducerState,
  StringTransport,
  type StringTransportOptions,
  StringTransportWithDisconnection,
} from "./_testing_string_transport.ts";
