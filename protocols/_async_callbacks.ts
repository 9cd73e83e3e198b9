/**
 * Protocol callbacks written as `async` methods. A callback that throws is logged and its
 * connection dropped; one that returns a promise (or a Deferred) that rejects gets the same,
 * once it rejects — instead of an unhandled rejection, which would end the whole process.
 *
 * Only transports that deal with a throwing callback themselves, the reactor's, take part
 * (they implement {@linkcode failProtocol}). On the test transports a rejection stays
 * unhandled, so that the test fails, as a callback that throws there fails the test.
 *
 * @module
 */

/** The method of a transport that logs a protocol callback's error and drops the connection. */
export const failProtocol: unique symbol = Symbol("failProtocol");

/** A transport that deals with a protocol callback's error as the reactor does. */
export interface FailsProtocol {
  /** Logs `error` (`why` says which callback) and drops the connection, `error` as the reason. */
  [failProtocol](error: unknown, why: string): void;
}

/**
 * If `result`, what a protocol callback returned, is a promise or a Deferred, has `transport`
 * fail the connection when it rejects. `why` is the log message, e.g. "Unhandled error in
 * lineReceived".
 */
export function watchCallbackResult(transport: unknown, result: unknown, why: string): void {
  if (result === null || (typeof result !== "object" && typeof result !== "function")) return;
  if (transport === null || typeof transport !== "object" || !(failProtocol in transport)) return;
  let then: unknown;
  try {
    then = (result as PromiseLike<unknown>).then;
  } catch {
    return; // a `then` getter that throws: not a promise
  }
  if (typeof then !== "function") return;
  const fail = (error: unknown): void => (transport as FailsProtocol)[failProtocol](error, why);
  try {
    then.call(result, undefined, fail);
  } catch (e) {
    fail(e);
  }
}
