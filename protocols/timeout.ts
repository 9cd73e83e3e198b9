/**
 * {@linkcode TimeoutMixin}, Twisted's `policies.TimeoutMixin`: one timeout per connection,
 * set with `setTimeout(seconds)` and pushed back with `resetTimeout()` whenever the peer shows
 * it is still there. When it runs out, `timeoutConnection()` is called, which closes the
 * connection unless overridden. It is how a server drops clients that connect and then say
 * nothing, which would otherwise hold a socket each for ever.
 *
 * As in Twisted, nothing starts the timeout by itself: a protocol calls
 * `this.setTimeout(this.timeOut)` (usually in `connectionMade`) and `this.resetTimeout()` when
 * data arrives. Unlike Twisted's, the timeout is also cancelled when the connection is lost,
 * so that a closed connection never leaves a timer behind.
 *
 * A package published to JSR cannot export a class whose base is a call such as
 * `TimeoutMixin(LineReceiver)` (JSR wants every published type written out). Name the base
 * with its type, export it, and extend that:
 *
 * ```ts ignore
 * export const TimedLineReceiver:
 *   & typeof LineReceiver
 *   & ProtocolConstructor<LineReceiver & TimeoutControl> = TimeoutMixin(LineReceiver);
 * export class Chat extends TimedLineReceiver {}
 * ```
 *
 * @example Drop a client that says nothing for ten seconds
 * ```ts
 * import { LineReceiver } from "@poetry/serve/line-receiver";
 * import { TimeoutMixin } from "@poetry/serve/timeout";
 *
 * class Chat extends TimeoutMixin(LineReceiver) {
 *   override timeOut = 10;
 *   override connectionMade(): void {
 *     this.setTimeout(this.timeOut);
 *   }
 *   override dataReceived(data: Uint8Array): void {
 *     this.resetTimeout();
 *     super.dataReceived(data);
 *   }
 *   override lineReceived(line: Uint8Array): void {
 *     this.sendLine(line);
 *   }
 * }
 * ```
 *
 * @module
 */

import type { Failure } from "../failure.ts";
import { reactor } from "../reactor.ts";
import { checkDelay, type DelayedCall } from "../_timers.ts";
import type { Protocol } from "./protocol.ts";

/**
 * What {@linkcode TimeoutMixin} adds to a protocol.
 *
 * @example Use the timeout of any protocol that has one
 * ```ts
 * import type { TimeoutControl } from "@poetry/serve/timeout";
 *
 * function giveMoreTime(protocol: TimeoutControl): void {
 *   protocol.setTimeout((protocol.timeOut ?? 0) + 60);
 * }
 * ```
 */
export interface TimeoutControl {
  /**
   * The timeout in seconds, as last given to {@linkcode TimeoutControl.setTimeout}; `null` for
   * none. Subclasses set it to the period they start with.
   * @default {null}
   */
  timeOut: number | null;
  /**
   * Sets the timeout to `period` seconds from now, or cancels it with `null`, and returns the
   * previous period. A timeout under way is moved rather than added to.
   *
   * @throws {RangeError} When `period` is negative or not a number (nothing changes then).
   */
  setTimeout(period: number | null): number | null;
  /**
   * Starts the count-down again from {@linkcode TimeoutControl.timeOut} seconds. Does nothing
   * when there is no timeout under way: none was set, it was cancelled, or it has run out.
   */
  resetTimeout(): void;
  /** Called when the timeout runs out. Closes the connection (`loseConnection`) by default. */
  timeoutConnection(): void;
  /**
   * Schedules the timeout: the reactor's `callLater`. Tests override it, or assign a
   * `Clock`'s, as in Twisted: `protocol.callLater = clock.callLater`.
   */
  callLater(seconds: number, fn: () => void): DelayedCall;
}

/**
 * A class whose instances are protocols, such as `Protocol` or `LineReceiver`, abstract or not,
 * taking any constructor arguments: what a mixin extends. (A factory's `protocol` is the
 * narrower `ProtocolClass`, built with no arguments.)
 *
 * @typeParam P The protocols it makes.
 *
 * @example Accept any protocol class
 * ```ts
 * import type { ProtocolConstructor } from "@poetry/serve/timeout";
 * import { LineReceiver } from "@poetry/serve/line-receiver";
 *
 * const classes: ProtocolConstructor[] = [LineReceiver];
 * console.log(classes.length); // 1
 * ```
 */
// deno-lint-ignore no-explicit-any -- a mixin's base must accept any constructor arguments
export type ProtocolConstructor<P extends Protocol = Protocol> = abstract new (...args: any[]) => P;

/**
 * Returns `Base` with a connection timeout added: {@linkcode TimeoutControl}'s `timeOut`,
 * `setTimeout`, `resetTimeout`, `timeoutConnection` and `callLater`, as in Twisted's
 * `TimeoutMixin`. The timeout is cancelled when the connection is lost (an override of
 * `connectionLost` should call `super.connectionLost`).
 *
 * @param Base The protocol class to extend.
 * @returns A subclass of `Base` to extend in turn.
 *
 * @example A server that waits at most 30 seconds for a request, tested on a Clock
 * ```ts
 * import { NetstringReceiver } from "@poetry/serve/netstring-receiver";
 * import { TimeoutMixin } from "@poetry/serve/timeout";
 * import { Clock } from "@poetry/serve/task";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * const clock = new Clock();
 * class Request extends TimeoutMixin(NetstringReceiver) {
 *   override connectionMade(): void {
 *     this.setTimeout(30);
 *   }
 *   override stringReceived(request: Uint8Array): void {
 *     this.setTimeout(null); // got it: no more waiting
 *     this.sendString(request);
 *   }
 *   override callLater(seconds: number, fn: () => void) {
 *     return clock.callLater(seconds, fn);
 *   }
 * }
 * const transport = new StringTransport();
 * new Request().makeConnection(transport);
 * clock.advance(30);
 * console.log(transport.disconnecting); // true
 * ```
 */
export function TimeoutMixin<B extends ProtocolConstructor>(
  Base: B,
): B & ProtocolConstructor<Protocol & TimeoutControl> {
  abstract class Timeout extends Base implements TimeoutControl {
    timeOut: number | null = null;
    #call: DelayedCall | undefined = undefined;

    callLater(seconds: number, fn: () => void): DelayedCall {
      return reactor.callLater(seconds, fn);
    }

    resetTimeout(): void {
      if (this.#call !== undefined && this.timeOut !== null) this.#call.reset(this.timeOut);
    }

    setTimeout(period: number | null): number | null {
      if (period !== null) checkDelay(period);
      const previous = this.timeOut;
      this.timeOut = period;
      if (this.#call !== undefined) {
        if (period === null) this.#cancel();
        else this.#call.reset(period);
      } else if (period !== null) {
        this.#call = this.callLater(period, () => {
          this.#call = undefined;
          this.timeoutConnection();
        });
      }
      return previous;
    }

    timeoutConnection(): void {
      this.transport.loseConnection();
    }

    override connectionLost(reason: Failure): void {
      this.#cancel();
      super.connectionLost(reason);
    }

    #cancel(): void {
      const call = this.#call;
      this.#call = undefined;
      if (call?.active()) call.cancel();
    }
  }
  return Timeout;
}
