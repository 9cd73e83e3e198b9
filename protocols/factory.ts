/**
 * Factories: the per-listener (or per-connector) objects that build one
 * {@linkcode Protocol} per connection and hold the state those protocols share, as Twisted's
 * `Factory`, `ServerFactory` and `ClientFactory`.
 *
 * @example Serve one poem to everyone who connects
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import { Protocol } from "@poetry/serve/protocol";
 *
 * class PoetryProtocol extends Protocol {
 *   declare factory: PoetryFactory;
 *   override connectionMade(): void {
 *     this.transport.write(this.factory.poem);
 *     this.transport.loseConnection();
 *   }
 * }
 *
 * class PoetryFactory extends Factory {
 *   override protocol = PoetryProtocol;
 *   constructor(readonly poem: string) {
 *     super();
 *   }
 * }
 * ```
 *
 * @module
 */

import type { Failure } from "../failure.ts";
import { msg } from "../log.ts";
import type { Address, Protocol } from "./protocol.ts";

/**
 * A protocol class that a factory can build with no arguments.
 *
 * @example Choose the protocol class at run time
 * ```ts
 * import { Factory, type ProtocolClass } from "@poetry/serve/factory";
 * import { Protocol } from "@poetry/serve/protocol";
 *
 * class Quiet extends Protocol {}
 * class Loud extends Protocol {}
 * const chosen: ProtocolClass = Deno.args.includes("--loud") ? Loud : Quiet;
 * const factory = new Factory();
 * factory.protocol = chosen;
 * const built = factory.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 50000 });
 * console.log(built instanceof Quiet); // true
 * ```
 */
export type ProtocolClass = new () => Protocol;

/**
 * Builds protocols for incoming or outgoing connections. Set {@linkcode Factory.protocol} to
 * the protocol class, or override {@linkcode Factory.buildProtocol}.
 *
 * {@linkcode Factory.startFactory} runs when the factory's first port starts listening (or its
 * first connection attempt starts) and {@linkcode Factory.stopFactory} when its last one stops:
 * open and release shared resources there.
 *
 * @example
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import { Protocol } from "@poetry/serve/protocol";
 * const factory = Factory.forProtocol(Protocol);
 * console.log(factory.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 1 }) !== null); // true
 * ```
 */
export class Factory {
  /**
   * The class {@linkcode Factory.buildProtocol} instantiates. Unset until a subclass or
   * {@linkcode Factory.forProtocol} sets it (Twisted's is `None`): building a protocol without
   * it throws, rather than serve every connection with a protocol that does nothing.
   */
  declare protocol: ProtocolClass;
  /** How many ports or connectors currently use this factory. */
  numPorts = 0;
  /**
   * Whether to log `Starting factory …` and `Stopping factory …` (and, in subclasses, other
   * routine events), as twistd's logs show them.
   * @default {true}
   */
  noisy = true;

  /**
   * A factory of this class, made with `args` (passed to its constructor, as in Twisted),
   * whose {@linkcode Factory.protocol} is `protocol`. What the connections share goes to the
   * factory; each protocol reaches it as `this.factory`, typed by `declare factory: PoemFactory`
   * in the protocol. A protocol whose declared factory is of another class than this one is
   * refused by the type checker. The factory's type records the protocol class, so that a
   * client endpoint's `connect` gives the protocol typed as its class.
   *
   * @example A poem for every connection, kept by the factory
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { Protocol } from "@poetry/serve/protocol";
   *
   * class PoemFactory extends Factory {
   *   constructor(readonly poem: string) {
   *     super();
   *   }
   * }
   * class PoemSender extends Protocol {
   *   declare factory: PoemFactory;
   *   override connectionMade(): void {
   *     this.transport.write(this.factory.poem);
   *     this.transport.loseConnection();
   *   }
   * }
   * const factory = PoemFactory.forProtocol(PoemSender, "Roses are red\n");
   * console.log(factory.protocol === PoemSender, factory.poem); // true Roses are red
   * ```
   */
  static forProtocol<F extends Factory, A extends unknown[], P extends Protocol>(
    this: new (...args: A) => F,
    // A protocol that declares its factory of another class (`declare factory: PoemFactory`)
    // is refused when the types are checked, rather than find no poem at run time.
    protocol:
      & (new () => P)
      & ([F] extends [NonNullable<P["factory"]>] ? unknown
        : { "the protocol's factory is of another class": P["factory"] }),
    ...args: A
  ): F & { buildProtocol(addr: Address): P | null } {
    const factory = new this(...args);
    factory.protocol = protocol;
    return factory as F & { buildProtocol(addr: Address): P | null };
  }

  /**
   * Called by a port or connector when it starts using this factory; calls
   * {@linkcode Factory.startFactory} for the first one.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * const factory = new Factory();
   * factory.doStart();
   * console.log(factory.numPorts); // 1
   * factory.doStop();
   * ```
   */
  doStart(): void {
    if (this.numPorts === 0) {
      if (this.noisy) msg(`Starting factory ${this}`);
      this.startFactory();
    }
    this.numPorts++;
  }

  /**
   * Called by a port or connector when it stops using this factory; calls
   * {@linkcode Factory.stopFactory} for the last one.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * const factory = new Factory();
   * factory.doStart();
   * factory.doStop();
   * console.log(factory.numPorts); // 0
   * ```
   */
  doStop(): void {
    if (this.numPorts === 0) return;
    this.numPorts--;
    if (this.numPorts === 0) {
      if (this.noisy) msg(`Stopping factory ${this}`);
      this.stopFactory();
    }
  }

  /**
   * Override to acquire what the factory's protocols share.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * class Counting extends Factory {
   *   connections = 0;
   *   override startFactory(): void {
   *     this.connections = 0;
   *   }
   * }
   * ```
   */
  startFactory(): void {}

  /**
   * Override to release what {@linkcode Factory.startFactory} acquired.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * class Noisy extends Factory {
   *   override stopFactory(): void {
   *     console.log("no ports left");
   *   }
   * }
   * ```
   */
  stopFactory(): void {}

  /**
   * Builds the protocol for a new connection from `addr` (the peer), or returns `null` to
   * refuse it: the transport then closes the connection at once.
   *
   * @example Refuse connections from anywhere but loopback
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import type { Address, Protocol } from "@poetry/serve/protocol";
   * class LocalOnly extends Factory {
   *   override buildProtocol(addr: Address): Protocol | null {
   *     return addr.type === "TCP" && addr.host !== "127.0.0.1" ? null : super.buildProtocol(addr);
   *   }
   * }
   * ```
   *
   * @throws {TypeError} if {@linkcode Factory.protocol} is not set. A port logs it and closes
   *   the connection; a connection attempt fails with it.
   */
  buildProtocol(_addr: Address): Protocol | null {
    const protocol = this.protocol as ProtocolClass | undefined;
    if (protocol === undefined) {
      const name = this.constructor.name;
      throw new TypeError(
        `${name}.protocol is not set: set it to a protocol class, or make the factory with ` +
          `${name}.forProtocol(SomeProtocol)`,
      );
    }
    const p = new protocol();
    p.factory = this;
    return p;
  }

  /**
   * The name log lines use for this factory's context: its class name.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * class PoetryFactory extends Factory {}
   * console.log(new PoetryFactory().logPrefix()); // "PoetryFactory"
   * ```
   */
  logPrefix(): string {
    return this.constructor.name;
  }

  /**
   * `<ClassName>`, the factory's name in log lines such as `Starting factory <PoetryFactory>`.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * class PoetryFactory extends Factory {}
   * console.log(String(new PoetryFactory())); // "<PoetryFactory>"
   * ```
   */
  toString(): string {
    return `<${this.logPrefix()}>`;
  }
}

/**
 * A factory for servers. Twisted keeps it as a separate name for clarity; it adds nothing.
 *
 * @example
 * ```ts
 * import { ServerFactory } from "@poetry/serve/factory";
 * const factory = new ServerFactory();
 * ```
 */
export class ServerFactory extends Factory {}

/**
 * An outgoing connection attempt, as a {@linkcode ClientFactory} sees it.
 *
 * @example Try again when the connection is lost
 * ```ts
 * import { ClientFactory, type Connector } from "@poetry/serve/factory";
 * import type { Failure } from "@poetry/serve/failure";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * class Persistent extends ClientFactory {
 *   override clientConnectionLost(connector: Connector, _reason: Failure): void {
 *     connector.connect();
 *   }
 * }
 * const reactor = new MemoryReactor();
 * const connector: Connector = reactor.connectTCP("127.0.0.1", 10000, new Persistent());
 * console.log(connector.state, connector.getDestination()); // connecting { type: "TCP", host: "127.0.0.1", port: 10000 }
 * ```
 */
export interface Connector {
  /** Starts (or retries) connecting. */
  connect(): void;
  /** Closes the connection, or stops trying if not yet connected. */
  disconnect(): void;
  /** Stops a connection attempt in progress. */
  stopConnecting(): void;
  /** Where this connector connects to. */
  getDestination(): Address;
  /** `"disconnected"`, `"connecting"` or `"connected"`. */
  readonly state: "disconnected" | "connecting" | "connected";
}

/**
 * A factory for clients, told about the fate of each connection attempt.
 *
 * @example Report a failed connection
 * ```ts
 * import { ClientFactory, type Connector } from "@poetry/serve/factory";
 * import type { Failure } from "@poetry/serve/failure";
 * class PoetryClientFactory extends ClientFactory {
 *   override clientConnectionFailed(_connector: Connector, reason: Failure): void {
 *     console.error("Poem failed:", reason.getErrorMessage());
 *   }
 * }
 * ```
 */
export class ClientFactory extends Factory {
  /**
   * Called when a connection attempt starts.
   *
   * @example
   * ```ts
   * import { ClientFactory, type Connector } from "@poetry/serve/factory";
   * class Verbose extends ClientFactory {
   *   override startedConnecting(connector: Connector): void {
   *     console.log("connecting to", connector.getDestination());
   *   }
   * }
   * ```
   */
  startedConnecting(_connector: Connector): void {}

  /**
   * Called when a connection attempt fails (refused, timed out, no such host).
   *
   * @example
   * ```ts
   * import { ClientFactory } from "@poetry/serve/factory";
   * class Quiet extends ClientFactory {
   *   override clientConnectionFailed(): void {}
   * }
   * ```
   */
  clientConnectionFailed(_connector: Connector, _reason: Failure): void {}

  /**
   * Called when an established connection ends, after the protocol's `connectionLost`.
   *
   * @example
   * ```ts
   * import { ClientFactory, type Connector } from "@poetry/serve/factory";
   * import type { Failure } from "@poetry/serve/failure";
   * class Redial extends ClientFactory {
   *   override clientConnectionLost(connector: Connector, _reason: Failure): void {
   *     connector.connect();
   *   }
   * }
   * ```
   */
  clientConnectionLost(_connector: Connector, _reason: Failure): void {}
}
