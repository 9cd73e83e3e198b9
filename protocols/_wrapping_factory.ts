/**
 * The factory a client endpoint connects with: it builds the caller's protocol, wrapped in one
 * that fires the endpoint's Deferred once that protocol is connected, as Twisted's
 * `_WrappingFactory` and `_WrappingProtocol` do.
 *
 * @module
 */

import { Deferred } from "../defer.ts";
import { ConnectingCancelledError, NoProtocol } from "../error.ts";
import type { Failure } from "../failure.ts";
import { ClientFactory, type Connector, type Factory } from "./factory.ts";
import { type Address, Protocol, type Transport } from "./protocol.ts";

/**
 * Stands between the transport and the caller's protocol: hands it the transport, fires the
 * Deferred with it, then passes every event on. It has the half-close methods only when the
 * wrapped protocol has them, since the transport decides how to end a half-closed connection
 * by whether they exist.
 */
class WrappingProtocol extends Protocol {
  readonly #onConnection: Deferred<Protocol>;
  readonly #wrapped: Protocol;
  readConnectionLost?: () => unknown;
  writeConnectionLost?: () => unknown;

  constructor(onConnection: Deferred<Protocol>, wrapped: Protocol) {
    super();
    this.#onConnection = onConnection;
    this.#wrapped = wrapped;
    const halfCloseable = wrapped as Partial<
      Record<"readConnectionLost" | "writeConnectionLost", () => unknown>
    >;
    if (typeof halfCloseable.readConnectionLost === "function") {
      this.readConnectionLost = () => halfCloseable.readConnectionLost!();
    }
    if (typeof halfCloseable.writeConnectionLost === "function") {
      this.writeConnectionLost = () => halfCloseable.writeConnectionLost!();
    }
  }

  override makeConnection(transport: Transport): void {
    this.connected = true;
    this.transport = transport;
    // Twisted leaves the Deferred unfired for ever when connectionMade throws; here the caller
    // hears of it, and the transport still logs it and drops the connection.
    try {
      this.#wrapped.makeConnection(transport);
    } catch (e) {
      this.#onConnection.errback(e);
      throw e;
    }
    this.#onConnection.callback(this.#wrapped);
  }

  override dataReceived(data: Uint8Array): void {
    // Returned as it is, so that a rejected promise drops the connection as it would unwrapped.
    return this.#wrapped.dataReceived(data);
  }

  override connectionLost(reason: Failure): void {
    this.#wrapped.connected = false;
    return this.#wrapped.connectionLost(reason);
  }

  override logPrefix(): string {
    return this.#wrapped.logPrefix();
  }
}

/**
 * Builds the caller's protocol with its factory, wrapped. `onConnection` fires with that
 * protocol once it is connected, or fails with why the attempt failed; cancelling it stops the
 * attempt with {@linkcode ConnectingCancelledError}. The wrapped factory's `doStart` and
 * `doStop` are called as the connector uses this one; its client callbacks, if it has any, are
 * not (the Deferred reports the attempt), as in Twisted.
 */
export class WrappingFactory extends ClientFactory {
  readonly onConnection: Deferred<Protocol>;
  readonly #wrapped: Factory;
  #connector: Connector | undefined = undefined;

  constructor(wrapped: Factory) {
    super();
    this.#wrapped = wrapped;
    this.noisy = false;
    this.onConnection = new Deferred<Protocol>((d) => {
      const connector = this.#connector!;
      d.errback(new ConnectingCancelledError(connector.getDestination()));
      if (connector.state === "connecting") connector.stopConnecting();
    });
  }

  override startedConnecting(connector: Connector): void {
    this.#connector = connector;
  }

  override doStart(): void {
    this.#wrapped.doStart();
  }

  override doStop(): void {
    this.#wrapped.doStop();
  }

  override buildProtocol(addr: Address): Protocol | null {
    let wrapped: Protocol | null;
    try {
      wrapped = this.#wrapped.buildProtocol(addr);
      if (wrapped === null) throw new NoProtocol();
    } catch (e) {
      // The caller hears of it through the Deferred; the connector closes the connection.
      this.onConnection.errback(e);
      return null;
    }
    const protocol = new WrappingProtocol(this.onConnection, wrapped);
    protocol.factory = this;
    return protocol;
  }

  override clientConnectionFailed(_connector: Connector, reason: Failure): void {
    if (!this.onConnection.called) this.onConnection.errback(reason);
  }

  override logPrefix(): string {
    return this.#wrapped.logPrefix();
  }

  override toString(): string {
    return `<WrappingFactory of ${this.#wrapped}>`;
  }
}
