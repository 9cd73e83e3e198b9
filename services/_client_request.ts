/**
 * What the poetry clients share: one connection for one request, limited in time. Used by
 * `get.ts` (downloads) and `transform_client.ts` (transformations).
 *
 * @module
 */

import { CancelledError, type Deferred, TimeoutError } from "../defer.ts";
import { Failure } from "../failure.ts";
import type { ClientFactory } from "../protocols/factory.ts";
import { describeAddress } from "../protocols/_transport.ts";
import type { ReactorTCP, ReactorTime } from "../reactor.ts";

/**
 * The longest poem a download accepts unless told otherwise, in bytes (16 MiB): a server that
 * never stops sending fails the download instead of filling memory.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_POEM_LENGTH } from "@poetry/serve/get";
 * console.log(DEFAULT_MAX_POEM_LENGTH / 1024 / 1024); // 16
 * ```
 */
export const DEFAULT_MAX_POEM_LENGTH = 16 * 1024 * 1024;

/**
 * What the poetry clients need of a reactor: `connectTCP`, and `callLater` for timeouts.
 *
 * @example Time out a download on a test reactor, with no network
 * ```ts
 * import { type ClientReactor, getPoetry } from "@poetry/serve/get";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const memory = new MemoryReactor(); // records connectTCP; its clock moves when told
 * const reactor: ClientReactor = memory;
 * const d = getPoetry("127.0.0.1", 10000, { reactor, timeout: 5 });
 * d.addErrback((failure) => console.log(failure.type?.name));
 * console.log(memory.tcpClients[0].port); // 10000
 * memory.advance(5); // TimeoutError
 * ```
 */
export type ClientReactor = ReactorTCP & ReactorTime;

/** `host:port`, with an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
  return describeAddress({ type: "TCP", host, port });
}

/**
 * `maxLength`, the longest reply a client accepts in bytes, once checked.
 *
 * @throws {RangeError} When it is not a number >= 0 (`Infinity` is one: no limit).
 */
export function checkMaxLength(maxLength: number): number {
  if (!(maxLength >= 0)) {
    throw new RangeError(`maxLength must be a number of bytes >= 0, not ${maxLength}`);
  }
  return maxLength;
}

/** What limits one request: {@linkcode connectRequest}'s options. */
export interface RequestLimits {
  /** Seconds the whole request may take; without it, only connecting is limited (to 30). */
  timeout?: number;
  /** Cancels the request when it aborts. */
  signal?: AbortSignal;
}

/**
 * Connects `factory` to `host`:`port` and returns `d`, the factory's Deferred (whose canceller
 * closes the connection). With a `timeout`, the whole request must be over in that many
 * seconds, or `d` is cancelled and fails with `TimeoutError("<what> timed out after N
 * seconds")`; without one, only the connection attempt is limited, to 30 seconds. With a
 * `signal`, aborting it cancels `d`, which fails with the signal's reason; a signal that has
 * already aborted fails `d` without connecting, as `fetch` does.
 */
export function connectRequest<T>(
  reactor: ClientReactor,
  host: string,
  port: number,
  factory: ClientFactory,
  d: Deferred<T>,
  what: string,
  { timeout, signal }: RequestLimits,
): Deferred<T> {
  if (signal?.aborted) return d.addAbortSignal(signal);
  reactor.connectTCP(host, port, factory, { timeout: timeout === undefined ? 30 : null });
  if (timeout !== undefined) {
    d.addTimeout(timeout, reactor, (outcome, seconds) => {
      if (outcome instanceof Failure && outcome.check(CancelledError) !== null) {
        throw new TimeoutError(seconds, what, { cause: outcome.value });
      }
      return outcome;
    });
  }
  return signal === undefined ? d : d.addAbortSignal(signal);
}
