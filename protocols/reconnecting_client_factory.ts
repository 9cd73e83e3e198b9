/**
 * {@linkcode ReconnectingClientFactory}: a client factory that reconnects after a failed or lost
 * connection, waiting longer after each failure (exponential back-off with jitter), as Twisted's
 * `ReconnectingClientFactory`.
 *
 * @example Keep a client connected
 * ```ts
 * import { ReconnectingClientFactory } from "@poetry/serve/reconnecting-client-factory";
 * import { Protocol } from "@poetry/serve/protocol";
 *
 * class Listener extends Protocol {
 *   declare factory: PoetryClientFactory;
 *   override connectionMade(): void {
 *     this.factory.resetDelay(); // connected: the next failure starts the back-off afresh
 *   }
 * }
 *
 * class PoetryClientFactory extends ReconnectingClientFactory {
 *   override protocol = Listener;
 *   override maxDelay = 60;
 * }
 * ```
 *
 * @module
 */

import type { Failure } from "../failure.ts";
import { msg } from "../log.ts";
import { type DelayedCall, type ReactorTime, realTime } from "../_timers.ts";
import { ClientFactory, type Connector } from "./factory.ts";

/** A sample of the standard normal distribution (Box–Muller over `Math.random`). */
function standardNormal(): number {
  const u = 1 - Math.random(); // in (0, 1]: the logarithm stays finite
  const v = Math.random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function describe(connector: Connector): string {
  const dest = connector.getDestination();
  return `connector to ${dest.type === "TCP" ? `${dest.host}:${dest.port}` : dest.path}`;
}

/**
 * A {@linkcode ClientFactory} that retries after each failed or lost connection. The first
 * retry waits about `initialDelay × factor` seconds; each further one multiplies the wait by
 * {@linkcode ReconnectingClientFactory.factor} up to {@linkcode ReconnectingClientFactory.maxDelay},
 * and spreads it randomly (a normal distribution whose standard deviation is
 * {@linkcode ReconnectingClientFactory.jitter} times the wait) so that many clients do not
 * reconnect in step.
 *
 * Call {@linkcode ReconnectingClientFactory.resetDelay} once connected (typically from the
 * protocol's `connectionMade`), and {@linkcode ReconnectingClientFactory.stopTrying} to give up.
 * Closing the connection yourself (`connector.disconnect()`, or an `await using` connector
 * going out of scope) is a lost connection like any other and schedules a retry, as in
 * Twisted: call `stopTrying()` first. If you override `clientConnectionFailed` or `clientConnectionLost`, call `super`'s.
 *
 * @example Watch the back-off on a test clock
 * ```ts
 * import { ReconnectingClientFactory } from "@poetry/serve/reconnecting-client-factory";
 * import type { Connector } from "@poetry/serve/factory";
 * import { Failure } from "@poetry/serve/failure";
 * import { Clock } from "@poetry/serve/task";
 *
 * const clock = new Clock();
 * const factory = new ReconnectingClientFactory();
 * factory.clock = clock;
 * factory.jitter = 0; // no randomness, for the example
 * let attempts = 0;
 * const connector: Connector = {
 *   state: "disconnected",
 *   connect: () => void attempts++,
 *   disconnect: () => {},
 *   stopConnecting: () => {},
 *   getDestination: () => ({ type: "TCP", host: "127.0.0.1", port: 10000 }),
 * };
 * factory.clientConnectionFailed(connector, new Failure(new Error("refused")));
 * console.log(factory.delay.toFixed(3)); // 2.718
 * clock.advance(factory.delay);
 * console.log(attempts); // 1
 * ```
 */
export class ReconnectingClientFactory extends ClientFactory {
  /** The longest wait between attempts, in seconds. @default {3600} */
  maxDelay = 3600;
  /** The wait that the first retry's is computed from, in seconds. @default {1} */
  initialDelay = 1.0;
  /** What each wait is multiplied by (Euler's number). @default {2.7182818284590451} */
  factor = 2.7182818284590451;
  /**
   * The spread of each wait: the standard deviation of the random wait, as a fraction of it.
   * 0 turns randomness off. @default {0.119626565582}
   */
  jitter = 0.119626565582;
  /** How many retries were attempted since the last {@linkcode resetDelay}. */
  retries = 0;
  /** Give up after this many consecutive retries; `undefined` for never. @default {undefined} */
  maxRetries: number | undefined = undefined;
  /** Whether failures and losses lead to retries; {@linkcode stopTrying} clears it. */
  continueTrying = true;
  /** The clock retries are scheduled on. @default {realTime} (the reactor's clock) */
  clock: ReactorTime = realTime;
  /** The connector of the last failed or lost connection, which retries reconnect. */
  connector: Connector | undefined = undefined;
  /**
   * The source of randomness for the jitter: returns a sample of the standard normal
   * distribution (mean 0, standard deviation 1). Replace it to make waits predictable.
   */
  random: () => number = standardNormal;
  #pending: DelayedCall | undefined = undefined;
  #delay: number | undefined = undefined;

  /**
   * The current wait, in seconds: the one last used, or `initialDelay` before the first retry
   * and after {@linkcode resetDelay}. (In Twisted, `delay` starts at 1 whatever
   * `initialDelay` says, until the first `resetDelay()`; here setting `initialDelay` is
   * enough.)
   *
   * @example
   * ```ts
   * import { ReconnectingClientFactory } from "@poetry/serve/reconnecting-client-factory";
   * class Eager extends ReconnectingClientFactory {
   *   override initialDelay = 0.1;
   * }
   * console.log(new Eager().delay); // 0.1
   * ```
   */
  get delay(): number {
    return this.#delay ?? this.initialDelay;
  }

  set delay(seconds: number) {
    this.#delay = seconds;
  }

  /**
   * Retries through `connector`, unless {@linkcode stopTrying} was called.
   *
   * @example
   * ```ts
   * import { ReconnectingClientFactory } from "@poetry/serve/reconnecting-client-factory";
   * import type { Connector } from "@poetry/serve/factory";
   * import type { Failure } from "@poetry/serve/failure";
   * class Verbose extends ReconnectingClientFactory {
   *   override clientConnectionFailed(connector: Connector, reason: Failure): void {
   *     console.log("connection failed:", reason.getErrorMessage());
   *     super.clientConnectionFailed(connector, reason);
   *   }
   * }
   * ```
   */
  override clientConnectionFailed(connector: Connector, _reason: Failure): void {
    if (!this.continueTrying) return;
    this.connector = connector;
    this.retry();
  }

  /**
   * Reconnects through `connector`, unless {@linkcode stopTrying} was called.
   *
   * @example
   * ```ts
   * import { ReconnectingClientFactory } from "@poetry/serve/reconnecting-client-factory";
   * import type { Connector } from "@poetry/serve/factory";
   * import type { Failure } from "@poetry/serve/failure";
   * class Verbose extends ReconnectingClientFactory {
   *   override clientConnectionLost(connector: Connector, reason: Failure): void {
   *     console.log("connection lost:", reason.getErrorMessage());
   *     super.clientConnectionLost(connector, reason);
   *   }
   * }
   * ```
   */
  override clientConnectionLost(connector: Connector, _reason: Failure): void {
    if (!this.continueTrying) return;
    this.connector = connector;
    this.retry();
  }

  /**
   * Schedules `connector.connect()` (by default the last {@linkcode connector}) after the next
   * wait: `delay` becomes `min(delay × factor, maxDelay)`, then is drawn from a normal
   * distribution around that with standard deviation `delay × jitter` (never below 0). Does
   * nothing once {@linkcode stopTrying} was called, or once `retries` exceeds `maxRetries`.
   *
   * @throws {TypeError} if no connector is given and none is known.
   *
   * @example Retry once more by hand
   * ```ts
   * import { ReconnectingClientFactory } from "@poetry/serve/reconnecting-client-factory";
   * import type { Connector } from "@poetry/serve/factory";
   * import { Clock } from "@poetry/serve/task";
   * const factory = new ReconnectingClientFactory();
   * factory.clock = new Clock();
   * const connector = {
   *   state: "disconnected",
   *   connect() {},
   *   disconnect() {},
   *   stopConnecting() {},
   *   getDestination: () => ({ type: "UNIX", path: "/tmp/poetry.sock" }),
   * } satisfies Connector;
   * factory.retry(connector);
   * console.log(factory.retries); // 1
   * factory.stopTrying();
   * ```
   */
  retry(connector?: Connector): void {
    if (!this.continueTrying) {
      if (this.noisy) {
        msg(`Abandoning ${connector ? describe(connector) : "reconnection"} on explicit request`);
      }
      return;
    }
    const target = connector ?? this.connector;
    if (target === undefined) {
      throw new TypeError("ReconnectingClientFactory.retry: no connector to retry");
    }
    this.retries++;
    if (this.maxRetries !== undefined && this.retries > this.maxRetries) {
      if (this.noisy) msg(`Abandoning ${describe(target)} after ${this.retries} retries.`);
      return;
    }
    this.delay = Math.min(this.delay * this.factor, this.maxDelay);
    if (this.jitter) {
      this.delay = Math.max(0, this.delay + this.delay * this.jitter * this.random());
    }
    if (this.noisy) msg(`${describe(target)} will retry in ${Math.trunc(this.delay)} seconds`);
    this.#pending = this.clock.callLater(this.delay, () => {
      this.#pending = undefined;
      target.connect();
    });
  }

  /**
   * Call once connected: the next failure starts the back-off afresh from `initialDelay`, the
   * retry count goes back to 0, and retrying is on again if {@linkcode stopTrying} turned it
   * off. (Unlike Twisted, a retry still pending stays cancellable by `stopTrying`.)
   *
   * @example
   * ```ts
   * import { ReconnectingClientFactory } from "@poetry/serve/reconnecting-client-factory";
   * const factory = new ReconnectingClientFactory();
   * factory.delay = 100;
   * factory.resetDelay();
   * console.log(factory.delay); // 1
   * ```
   */
  resetDelay(): void {
    this.#delay = undefined;
    this.retries = 0;
    this.continueTrying = true;
  }

  /**
   * Gives up: cancels a scheduled retry, stops the connector if it is connecting, and makes
   * later failures and losses final. {@linkcode resetDelay} turns retrying back on.
   *
   * @example
   * ```ts
   * import { ReconnectingClientFactory } from "@poetry/serve/reconnecting-client-factory";
   * const factory = new ReconnectingClientFactory();
   * factory.stopTrying();
   * console.log(factory.continueTrying); // false
   * ```
   */
  stopTrying(): void {
    if (this.#pending !== undefined) {
      if (this.#pending.active()) this.#pending.cancel();
      this.#pending = undefined;
    }
    this.continueTrying = false;
    if (this.connector?.state === "connecting") this.connector.stopConnecting();
  }
}
