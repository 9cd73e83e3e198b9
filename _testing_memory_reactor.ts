/**
 * {@linkcode MemoryReactor}: a reactor that records what code asks of it (listening,
 * connecting, start-up and shutdown hooks) without touching the network, with a `Clock` for
 * time; and {@linkcode connectProtocol}, which connects a protocol (or one built by a recorded
 * factory) to an in-memory transport.
 *
 * @module
 */

import { Deferred } from "./defer.ts";
import { ReactorAlreadyRunning } from "./error.ts";
import { Clock } from "./task.ts";
import type { DelayedCall } from "./_timers.ts";
import type { ClientFactory, Factory } from "./protocols/factory.ts";
import type {
  Address,
  Protocol,
  TCPAddress,
  Transport,
  UNIXAddress,
} from "./protocols/protocol.ts";
import type {
  ConnectSSLOptions,
  ConnectTCPOptions,
  ConnectUNIXOptions,
  DisposableConnector,
  ListeningPort,
  ListenSSLOptions,
  ListenTCPOptions,
  ListenUNIXOptions,
  ReactorLike,
  SystemEventPhase,
  SystemEventTriggerID,
  SystemEventType,
} from "./reactor.ts";
import { StringTransportWithDisconnection } from "./_testing_string_transport.ts";
import { whenAborted } from "./_on_abort.ts";
import { SystemEventTriggers, type TriggerRecord } from "./_system_events.ts";

export type { TriggerRecord };

export type { ReactorLike };

/**
 * A port that {@linkcode MemoryReactor} pretends to listen on: it never accepts anything.
 *
 * @example
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import { MemoryReactor } from "@poetry/serve/testing";
 * const reactor = new MemoryReactor();
 * const port = reactor.listenTCP(10000, new Factory());
 * console.log(port.getHost()); // { type: "TCP", host: "0.0.0.0", port: 10000 }
 * ```
 */
export class MemoryPort<A extends Address = Address> implements ListeningPort<A> {
  /** `true` until {@linkcode MemoryPort.stopListening} is called. */
  listening = true;
  #host: A;

  /**
   * A port bound to `host`.
   *
   * @example
   * ```ts
   * import { MemoryPort } from "@poetry/serve/testing";
   * const port = new MemoryPort({ type: "UNIX", path: "/tmp/poetry.sock" });
   * console.log(port.listening); // true
   * ```
   */
  constructor(host: A) {
    this.#host = host;
  }

  /**
   * The address the port was asked to listen on (for TCP with port 0, port 0: nothing is
   * bound).
   *
   * @example
   * ```ts
   * import { MemoryPort } from "@poetry/serve/testing";
   * console.log(new MemoryPort({ type: "TCP", host: "127.0.0.1", port: 0 }).getHost());
   * // { type: "TCP", host: "127.0.0.1", port: 0 }
   * ```
   */
  getHost(): A {
    return this.#host;
  }

  /**
   * Marks the port stopped; the returned Deferred has already fired.
   *
   * @example
   * ```ts
   * import { MemoryPort } from "@poetry/serve/testing";
   * const port = new MemoryPort({ type: "TCP", host: "0.0.0.0", port: 10000 });
   * await port.stopListening();
   * console.log(port.listening); // false
   * ```
   */
  stopListening(): Deferred<void> {
    this.listening = false;
    const d = new Deferred<void>();
    d.callback(undefined);
    return d;
  }

  /**
   * Same as {@linkcode MemoryPort.stopListening}, for `await using`.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * {
   *   await using _port = reactor.listenTCP(10000, new Factory());
   * }
   * console.log(reactor.tcpServers[0].listeningPort.listening); // false
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stopListening();
  }
}

/**
 * A connection attempt that {@linkcode MemoryReactor} records: it never connects by itself.
 * Its methods only record what was asked; to play a connection, connect a protocol built by
 * the factory with {@linkcode connectProtocol}, or call the factory's
 * `clientConnectionFailed(connector, reason)` yourself.
 *
 * @example
 * ```ts
 * import { ClientFactory } from "@poetry/serve/factory";
 * import { MemoryReactor } from "@poetry/serve/testing";
 * const reactor = new MemoryReactor();
 * const connector = reactor.connectTCP("127.0.0.1", 10000, new ClientFactory());
 * connector.stopConnecting();
 * console.log(connector.state, connector.stoppedConnecting); // disconnected true
 * ```
 */
export class MemoryConnector implements DisposableConnector {
  /** The factory the connection attempt is for. */
  readonly factory: ClientFactory;
  /** How many times {@linkcode MemoryConnector.connect} was called (the reactor calls it once). */
  connectCount = 0;
  /** `true` once {@linkcode MemoryConnector.stopConnecting} has been called. */
  stoppedConnecting = false;
  /** `true` once {@linkcode MemoryConnector.disconnect} has been called. */
  disconnected = false;
  /**
   * The connector's state: `"connecting"` after {@linkcode MemoryConnector.connect},
   * `"disconnected"` after {@linkcode MemoryConnector.stopConnecting} or
   * {@linkcode MemoryConnector.disconnect}; a test may set `"connected"` itself.
   */
  state: "disconnected" | "connecting" | "connected" = "disconnected";
  #destination: Address;

  /**
   * A connector to `destination` for `factory`, not yet connecting.
   *
   * @example
   * ```ts
   * import { ClientFactory } from "@poetry/serve/factory";
   * import { MemoryConnector } from "@poetry/serve/testing";
   * const c = new MemoryConnector({ type: "TCP", host: "127.0.0.1", port: 1 }, new ClientFactory());
   * console.log(c.state); // disconnected
   * ```
   */
  constructor(destination: Address, factory: ClientFactory) {
    this.#destination = destination;
    this.factory = factory;
  }

  /**
   * Records an attempt: counts it, sets `state` to `"connecting"` and calls the factory's
   * `startedConnecting(this)`, as the real connector does.
   *
   * @example
   * ```ts
   * import { ClientFactory } from "@poetry/serve/factory";
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const connector = new MemoryReactor().connectTCP("127.0.0.1", 1, new ClientFactory());
   * connector.connect(); // a retry, as ReconnectingClientFactory makes
   * console.log(connector.connectCount); // 2
   * ```
   */
  connect(): void {
    this.connectCount++;
    this.state = "connecting";
    this.factory.startedConnecting(this);
  }

  /**
   * Records a request to close: sets `disconnected` and `state` to `"disconnected"`.
   *
   * @example
   * ```ts
   * import { ClientFactory } from "@poetry/serve/factory";
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const connector = new MemoryReactor().connectTCP("127.0.0.1", 1, new ClientFactory());
   * connector.disconnect();
   * console.log(connector.disconnected); // true
   * ```
   */
  disconnect(): void {
    this.disconnected = true;
    this.state = "disconnected";
  }

  /**
   * Records a request to stop the attempt: sets `stoppedConnecting` and `state` to
   * `"disconnected"`.
   *
   * @example
   * ```ts
   * import { ClientFactory } from "@poetry/serve/factory";
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const connector = new MemoryReactor().connectTCP("127.0.0.1", 1, new ClientFactory());
   * connector.stopConnecting();
   * console.log(connector.stoppedConnecting); // true
   * ```
   */
  stopConnecting(): void {
    this.stoppedConnecting = true;
    this.state = "disconnected";
  }

  /**
   * Where the connector was asked to connect.
   *
   * @example
   * ```ts
   * import { ClientFactory } from "@poetry/serve/factory";
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const connector = new MemoryReactor().connectUNIX("/tmp/poetry.sock", new ClientFactory());
   * console.log(connector.getDestination()); // { type: "UNIX", path: "/tmp/poetry.sock" }
   * ```
   */
  getDestination(): Address {
    return this.#destination;
  }

  /**
   * Same as {@linkcode MemoryConnector.disconnect}, for `using`.
   *
   * @example
   * ```ts
   * import { ClientFactory } from "@poetry/serve/factory";
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * {
   *   using _connector = reactor.connectTCP("127.0.0.1", 1, new ClientFactory());
   * }
   * console.log(reactor.connectors[0].disconnected); // true
   * ```
   */
  [Symbol.dispose](): void {
    this.disconnect();
  }

  /**
   * Same as {@linkcode MemoryConnector.disconnect}, for `await using`.
   *
   * @example
   * ```ts
   * import { ClientFactory } from "@poetry/serve/factory";
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * {
   *   await using _connector = reactor.connectTCP("127.0.0.1", 1, new ClientFactory());
   * }
   * console.log(reactor.connectors[0].disconnected); // true
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    this.disconnect();
    return Promise.resolve();
  }
}

/**
 * A recorded `listenTCP` call.
 *
 * @example Check the `listenTCP` a program made
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import { MemoryReactor, type TCPServerRecord } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor();
 * const factory = new Factory();
 * reactor.listenTCP(10000, factory, { interface: "127.0.0.1" });
 * const record: TCPServerRecord = reactor.tcpServers[0];
 * console.log(record.port, record.options.interface, record.factory === factory); // 10000 127.0.0.1 true
 * ```
 */
export interface TCPServerRecord {
  /** The port asked for. */
  port: number;
  /** The factory given. */
  factory: Factory;
  /** The options given (`{}` when none were). */
  options: ListenTCPOptions;
  /** The port returned. */
  listeningPort: MemoryPort;
}

/**
 * A recorded `connectTCP` call.
 *
 * @example Check the `connectTCP` a program made
 * ```ts
 * import { ClientFactory } from "@poetry/serve/factory";
 * import { MemoryReactor, type TCPClientRecord } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor();
 * const factory = new ClientFactory();
 * reactor.connectTCP("127.0.0.1", 10000, factory, { timeout: 5 });
 * const record: TCPClientRecord = reactor.tcpClients[0];
 * console.log(record.host, record.port, record.options.timeout); // 127.0.0.1 10000 5
 * ```
 */
export interface TCPClientRecord {
  /** The host asked for. */
  host: string;
  /** The port asked for. */
  port: number;
  /** The factory given. */
  factory: ClientFactory;
  /** The options given (`{}` when none were). */
  options: ConnectTCPOptions;
  /** The connector returned. */
  connector: MemoryConnector;
}

/**
 * A recorded `listenSSL` call.
 *
 * @example Check the `listenSSL` a program made
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import { MemoryReactor, type SSLServerRecord } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor();
 * const factory = new Factory();
 * reactor.listenSSL(8443, factory, { cert: "server.crt", key: "server.key" });
 * const record: SSLServerRecord = reactor.sslServers[0];
 * console.log(record.port, record.options.cert); // 8443 server.crt
 * ```
 */
export interface SSLServerRecord {
  /** The port asked for. */
  port: number;
  /** The factory given. */
  factory: Factory;
  /** The options given, with the certificate and key. */
  options: ListenSSLOptions;
  /** The port returned. */
  listeningPort: MemoryPort;
}

/**
 * A recorded `connectSSL` call.
 *
 * @example Check the `connectSSL` a program made
 * ```ts
 * import { ClientFactory } from "@poetry/serve/factory";
 * import { MemoryReactor, type SSLClientRecord } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor();
 * const factory = new ClientFactory();
 * reactor.connectSSL("127.0.0.1", 8443, factory, { hostname: "localhost" });
 * const record: SSLClientRecord = reactor.sslClients[0];
 * console.log(record.port, record.options.hostname); // 8443 localhost
 * ```
 */
export interface SSLClientRecord {
  /** The host asked for. */
  host: string;
  /** The port asked for. */
  port: number;
  /** The factory given. */
  factory: ClientFactory;
  /** The options given (`{}` when none were). */
  options: ConnectSSLOptions;
  /** The connector returned. */
  connector: MemoryConnector;
}

/**
 * A recorded `listenUNIX` call.
 *
 * @example Check the `listenUNIX` a program made
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import { MemoryReactor, type UNIXServerRecord } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor();
 * const factory = new Factory();
 * reactor.listenUNIX("/run/poetry.sock", factory, { mode: 0o600 });
 * const record: UNIXServerRecord = reactor.unixServers[0];
 * console.log(record.path, record.listeningPort.getHost()); // /run/poetry.sock { type: "UNIX", path: "/run/poetry.sock" }
 * ```
 */
export interface UNIXServerRecord {
  /** The socket path asked for. */
  path: string;
  /** The factory given. */
  factory: Factory;
  /** The options given (`{}` when none were). */
  options: ListenUNIXOptions;
  /** The port returned. */
  listeningPort: MemoryPort;
}

/**
 * A recorded `connectUNIX` call.
 *
 * @example Check the `connectUNIX` a program made
 * ```ts
 * import { ClientFactory } from "@poetry/serve/factory";
 * import { MemoryReactor, type UNIXClientRecord } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor();
 * const factory = new ClientFactory();
 * reactor.connectUNIX("/run/poetry.sock", factory);
 * const record: UNIXClientRecord = reactor.unixClients[0];
 * console.log(record.path, record.connector.state); // /run/poetry.sock connecting
 * ```
 */
export interface UNIXClientRecord {
  /** The socket path asked for. */
  path: string;
  /** The factory given. */
  factory: ClientFactory;
  /** The options given (`{}` when none were). */
  options: ConnectUNIXOptions;
  /** The connector returned. */
  connector: MemoryConnector;
}

/**
 * Options for {@linkcode MemoryReactor}.
 *
 * @example Share one clock between a reactor and other timed code
 * ```ts
 * import { Clock } from "@poetry/serve/task";
 * import { MemoryReactor, type MemoryReactorOptions } from "@poetry/serve/testing";
 *
 * const options: MemoryReactorOptions = { clock: new Clock() };
 * const reactor = new MemoryReactor(options);
 * options.clock!.advance(5);
 * console.log(reactor.seconds()); // 5
 * ```
 */
export interface MemoryReactorOptions {
  /**
   * The clock for `callLater` and `seconds`.
   *
   * @default {new Clock()}
   */
  clock?: Clock;
}

function tcpAddress(host: string, port: number): TCPAddress {
  return { type: "TCP", host, port };
}

/**
 * A reactor for tests, as Twisted's `MemoryReactorClock`: every `listen*` and `connect*` call
 * is recorded (in {@linkcode MemoryReactor.tcpServers}, {@linkcode MemoryReactor.tcpClients},
 * and so on) and answered with a {@linkcode MemoryPort} or {@linkcode MemoryConnector} that
 * does nothing on the network; time is a `Clock` that moves only with
 * {@linkcode MemoryReactor.advance}. Code that takes its reactor as a parameter (typed
 * {@linkcode ReactorLike}, or the parts of it it uses) can be given one.
 *
 * Life cycle, as in Twisted's fake: {@linkcode MemoryReactor.run} marks the reactor running,
 * fires the `startup` triggers (making the `callWhenRunning` calls) and then stops at once;
 * {@linkcode MemoryReactor.stop} only records the request (it never throws, and does not fire
 * `shutdown`: call `fireSystemEvent("shutdown")` to test shutdown triggers).
 *
 * @example Check that a program listens where it should
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import type { ReactorTCP } from "@poetry/serve/reactor";
 * import { MemoryReactor } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * function serve(reactor: ReactorTCP, port: number): void {
 *   reactor.listenTCP(port, new Factory(), { interface: "127.0.0.1" });
 * }
 *
 * const reactor = new MemoryReactor();
 * serve(reactor, 10000);
 * assert.equal(reactor.tcpServers.length, 1);
 * assert.equal(reactor.tcpServers[0].port, 10000);
 * assert.equal(reactor.tcpServers[0].options.interface, "127.0.0.1");
 * ```
 *
 * @example Move time forward
 * ```ts
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor();
 * let fired = false;
 * reactor.callLater(30, () => fired = true);
 * reactor.advance(30);
 * console.log(fired); // true
 * ```
 */
export class MemoryReactor implements ReactorLike {
  /** The clock behind `callLater` and `seconds`. */
  readonly clock: Clock;
  /** Every `listenTCP` call, in order. */
  readonly tcpServers: TCPServerRecord[] = [];
  /** Every `connectTCP` call, in order. */
  readonly tcpClients: TCPClientRecord[] = [];
  /** Every `listenSSL` call, in order. */
  readonly sslServers: SSLServerRecord[] = [];
  /** Every `connectSSL` call, in order. */
  readonly sslClients: SSLClientRecord[] = [];
  /** Every `listenUNIX` call, in order. */
  readonly unixServers: UNIXServerRecord[] = [];
  /** Every `connectUNIX` call, in order. */
  readonly unixClients: UNIXClientRecord[] = [];
  /** Every connector returned (TCP, TLS and UNIX), in order. */
  readonly connectors: MemoryConnector[] = [];
  #events = new SystemEventTriggers();

  /**
   * The triggers and `callWhenRunning` calls not yet removed (or made, for the latter).
   *
   * @example A call made once the reactor runs leaves the list
   * ```ts
   * import { MemoryReactor } from "@poetry/serve/testing";
   *
   * const reactor = new MemoryReactor();
   * reactor.callWhenRunning(() => console.log("running"));
   * console.log(reactor.triggers.length); // 1
   * await reactor.run(); // running
   * console.log(reactor.triggers.length); // 0
   * ```
   */
  get triggers(): TriggerRecord[] {
    return this.#events.records;
  }
  /** `true` once {@linkcode MemoryReactor.run} has been called. */
  hasRun = false;
  /** `true` once {@linkcode MemoryReactor.stop} has been called. */
  hasStopped = false;
  /** How many times {@linkcode MemoryReactor.stop} has been called. */
  stopCount = 0;
  #running = false;
  #nextTriggerId = 1;

  /**
   * A reactor with nothing recorded, its clock at 0 (or the given clock).
   *
   * @example
   * ```ts
   * import { Clock } from "@poetry/serve/task";
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const clock = new Clock();
   * const reactor = new MemoryReactor({ clock });
   * console.log(reactor.clock === clock); // true
   * ```
   */
  constructor(options: MemoryReactorOptions = {}) {
    // Bound, so that they can be handed on (`protocol.callLater = reactor.callLater`).
    this.callLater = this.callLater.bind(this);
    this.seconds = this.seconds.bind(this);
    this.clock = options.clock ?? new Clock();
  }

  // ---- Time ----

  /**
   * Schedules `fn(...args)` on {@linkcode MemoryReactor.clock}.
   *
   * @throws {RangeError} if `seconds` is negative or not a number.
   *
   * @example
   * ```ts
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * reactor.callLater(1, (who: string) => console.log(`hello ${who}`), "world");
   * reactor.advance(1); // hello world
   * ```
   */
  callLater<A extends unknown[]>(
    seconds: number,
    fn: (...args: A) => unknown,
    ...args: A
  ): DelayedCall {
    return this.clock.callLater(seconds, fn, ...args);
  }

  /**
   * The clock's time: 0 until {@linkcode MemoryReactor.advance} moves it.
   *
   * @example
   * ```ts
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * reactor.advance(2.5);
   * console.log(reactor.seconds()); // 2.5
   * ```
   */
  seconds(): number {
    return this.clock.seconds();
  }

  /**
   * The calls scheduled and not yet made or cancelled, in the order they are due.
   *
   * @example
   * ```ts
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * reactor.callLater(5, () => {});
   * console.log(reactor.getDelayedCalls().length); // 1
   * ```
   */
  getDelayedCalls(): DelayedCall[] {
    return this.clock.getDelayedCalls();
  }

  /**
   * Moves the clock forward by `seconds` and makes every call now due (the clock's
   * `advance`).
   *
   * @throws whatever a call throws; the calls after it stay pending.
   *
   * @example
   * ```ts
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * reactor.callLater(1, () => console.log("tick"));
   * reactor.advance(1); // tick
   * ```
   */
  advance(seconds: number): void {
    this.clock.advance(seconds);
  }

  /**
   * Advances the clock by each of `timings` in turn, as if
   * {@linkcode MemoryReactor.advance} were called once per amount (the clock's `pump`, as on
   * Twisted's `MemoryReactorClock`).
   *
   * @throws whatever a call throws; the later amounts are not advanced.
   *
   * @example Step through a retry schedule
   * ```ts
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * reactor.callLater(1, () => console.log("first"));
   * reactor.callLater(3, () => console.log("second"));
   * reactor.pump([1, 1, 1]); // first, then second
   * console.log(reactor.seconds()); // 3
   * ```
   */
  pump(timings: Iterable<number>): void {
    this.clock.pump(timings);
  }

  // ---- Listening and connecting ----

  /** A port that stops listening when `options.signal` aborts, as the reactor's ports do. */
  #port<A extends Address>(address: A, options: { signal?: AbortSignal }): MemoryPort<A> {
    const port = new MemoryPort(address);
    if (options.signal !== undefined) whenAborted(options.signal, () => void port.stopListening());
    return port;
  }

  /**
   * Records the call and returns a port bound, in name only, to `options.interface` (default
   * `0.0.0.0`) and `port`. The factory is not started. The port stops listening when
   * `options.signal` aborts, as the reactor's do.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * const port = reactor.listenTCP(10000, new Factory(), { interface: "127.0.0.1" });
   * console.log(port.getHost()); // { type: "TCP", host: "127.0.0.1", port: 10000 }
   * ```
   */
  listenTCP(
    port: number,
    factory: Factory,
    options: ListenTCPOptions = {},
  ): MemoryPort<TCPAddress> {
    const listeningPort = this.#port(tcpAddress(options.interface || "0.0.0.0", port), options);
    this.tcpServers.push({ port, factory, options, listeningPort });
    return listeningPort;
  }

  /**
   * Records the call and returns a connector that is `"connecting"` (the factory's
   * `startedConnecting` has been called) and never connects by itself.
   *
   * @example
   * ```ts
   * import { ClientFactory } from "@poetry/serve/factory";
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * reactor.connectTCP("127.0.0.1", 10000, new ClientFactory(), { timeout: 5 });
   * console.log(reactor.tcpClients[0].options.timeout); // 5
   * ```
   */
  connectTCP(
    host: string,
    port: number,
    factory: ClientFactory,
    options: ConnectTCPOptions = {},
  ): MemoryConnector {
    const connector = new MemoryConnector(tcpAddress(host, port), factory);
    this.tcpClients.push({ host, port, factory, options, connector });
    return this.#startConnecting(connector);
  }

  /**
   * Records the call and returns a port bound, in name only, to `path`.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * reactor.listenUNIX("/tmp/poetry.sock", new Factory(), { mode: 0o600 });
   * console.log(reactor.unixServers[0].options.mode === 0o600); // true
   * ```
   */
  listenUNIX(
    path: string,
    factory: Factory,
    options: ListenUNIXOptions = {},
  ): MemoryPort<UNIXAddress> {
    const listeningPort = this.#port<UNIXAddress>({ type: "UNIX", path }, options);
    this.unixServers.push({ path, factory, options, listeningPort });
    return listeningPort;
  }

  /**
   * Records the call and returns a connector that is `"connecting"` and never connects by
   * itself.
   *
   * @example
   * ```ts
   * import { ClientFactory } from "@poetry/serve/factory";
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * reactor.connectUNIX("/tmp/poetry.sock", new ClientFactory());
   * console.log(reactor.unixClients[0].path); // /tmp/poetry.sock
   * ```
   */
  connectUNIX(
    path: string,
    factory: ClientFactory,
    options: ConnectUNIXOptions = {},
  ): MemoryConnector {
    const connector = new MemoryConnector({ type: "UNIX", path }, factory);
    this.unixClients.push({ path, factory, options, connector });
    return this.#startConnecting(connector);
  }

  /**
   * Records the call (with the certificate and key options) and returns a port bound, in name
   * only, to `options.interface` (default `0.0.0.0`) and `port`.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * reactor.listenSSL(10443, new Factory(), { cert: "cert.pem", key: "key.pem" });
   * console.log(reactor.sslServers[0].options.cert); // cert.pem
   * ```
   */
  listenSSL(port: number, factory: Factory, options: ListenSSLOptions): MemoryPort<TCPAddress> {
    const listeningPort = this.#port(tcpAddress(options.interface || "0.0.0.0", port), options);
    this.sslServers.push({ port, factory, options, listeningPort });
    return listeningPort;
  }

  /**
   * Records the call and returns a connector that is `"connecting"` and never connects by
   * itself.
   *
   * @example
   * ```ts
   * import { ClientFactory } from "@poetry/serve/factory";
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * reactor.connectSSL("example.com", 443, new ClientFactory(), { hostname: "example.com" });
   * console.log(reactor.sslClients[0].host); // example.com
   * ```
   */
  connectSSL(
    host: string,
    port: number,
    factory: ClientFactory,
    options: ConnectSSLOptions = {},
  ): MemoryConnector {
    const connector = new MemoryConnector(tcpAddress(host, port), factory);
    this.sslClients.push({ host, port, factory, options, connector });
    return this.#startConnecting(connector);
  }

  #startConnecting(connector: MemoryConnector): MemoryConnector {
    this.connectors.push(connector);
    connector.connect();
    return connector;
  }

  // ---- Life cycle ----

  /**
   * `true` while {@linkcode MemoryReactor.run} fires start-up; `false` once it has stopped.
   *
   * @example
   * ```ts
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * reactor.callWhenRunning(() => console.log(reactor.running)); // true
   * await reactor.run();
   * console.log(reactor.running); // false
   * ```
   */
  get running(): boolean {
    return this.#running;
  }

  /**
   * Marks the reactor running, fires the `startup` triggers (making the
   * {@linkcode MemoryReactor.callWhenRunning} calls), then {@linkcode MemoryReactor.stop}s.
   * Unless a trigger returns a promise or Deferred, all of this happens before `run` returns,
   * as in Twisted's fake, so `hasStopped` can be checked without awaiting; the returned
   * promise resolves once it is done.
   *
   * @throws {ReactorAlreadyRunning} if the reactor is running (start-up has not finished), as
   * the real reactor's `run` does; after it has stopped, `run` may be called again.
   *
   * @example
   * ```ts
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * reactor.callWhenRunning(() => console.log("started"));
   * await reactor.run(); // started
   * console.log(reactor.hasRun, reactor.hasStopped); // true true
   * ```
   */
  run(): Promise<void> {
    if (this.#running) throw new ReactorAlreadyRunning();
    this.hasRun = true;
    this.#running = true;
    // addCallback, not a promise's then: stopping must not wait for a later microtask when
    // start-up has already finished.
    return this.fireSystemEvent("startup").addCallback(() => this.stop()).asPromise();
  }

  /**
   * Records a request to stop (`hasStopped`, `stopCount`) and marks the reactor not running.
   * Unlike the real reactor's, it never throws and fires no `shutdown` triggers.
   *
   * @example
   * ```ts
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * reactor.stop();
   * console.log(reactor.stopCount); // 1
   * ```
   */
  stop(): void {
    this.hasStopped = true;
    this.stopCount++;
    this.#running = false;
  }

  /**
   * Calls `fn(...args)` at once if the reactor is running; otherwise records it as an `after
   * startup` trigger made once by {@linkcode MemoryReactor.run}, and returns its id — as the
   * real reactor does, so the calls run in the same order relative to other triggers.
   *
   * @example
   * ```ts
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * reactor.callWhenRunning((n: number) => console.log(n), 42);
   * console.log(reactor.triggers[0].args); // [ 42 ]
   * ```
   */
  callWhenRunning<A extends unknown[]>(
    fn: (...args: A) => unknown,
    ...args: A
  ): SystemEventTriggerID | undefined {
    return this.#events.whenRunning(this.#running, fn, args);
  }

  /**
   * Records a trigger for a phase of a system event and returns its id.
   *
   * @example
   * ```ts
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * reactor.addSystemEventTrigger("before", "shutdown", () => console.log("saving"));
   * await reactor.fireSystemEvent("shutdown"); // saving
   * ```
   */
  addSystemEventTrigger<A extends unknown[]>(
    phase: SystemEventPhase,
    eventType: SystemEventType | (string & Record<never, never>),
    fn: (...args: A) => unknown,
    ...args: A
  ): SystemEventTriggerID {
    return this.#events.add(phase, eventType, fn, args, false);
  }

  /**
   * Removes a trigger (or a `callWhenRunning` call not yet made).
   *
   * @throws {Error} if no trigger has that id.
   *
   * @example
   * ```ts
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * const id = reactor.addSystemEventTrigger("during", "shutdown", () => {});
   * reactor.removeSystemEventTrigger(id);
   * console.log(reactor.triggers.length); // 0
   * ```
   */
  removeSystemEventTrigger(id: SystemEventTriggerID): void {
    this.#events.remove(id);
  }

  /**
   * Runs the triggers of `eventType`: its `before` phase, then `during`, then `after`, each
   * in the order added. A phase whose triggers return promises or Deferreds waits for them
   * before the next phase; an error thrown (or a failed result) is logged with `err()` and
   * does not stop the event. The Deferred fires once the `after` phase has run — at once when
   * no trigger returned a promise.
   *
   * @example
   * ```ts
   * import { MemoryReactor } from "@poetry/serve/testing";
   * const reactor = new MemoryReactor();
   * reactor.addSystemEventTrigger("after", "shutdown", () => console.log("after"));
   * reactor.addSystemEventTrigger("before", "shutdown", () => console.log("before"));
   * await reactor.fireSystemEvent("shutdown"); // before, then after
   * ```
   */
  fireSystemEvent(eventType: string): Deferred<void> {
    return this.#events.fire(eventType);
  }
}

/**
 * What {@linkcode connectProtocol} returns: the connected protocol and its transport.
 *
 * @example Keep both halves
 * ```ts
 * import { Protocol } from "@poetry/serve/protocol";
 * import {
 *   type ConnectedProtocol,
 *   connectProtocol,
 *   type StringTransportWithDisconnection,
 * } from "@poetry/serve/testing";
 *
 * const connected: ConnectedProtocol<Protocol, StringTransportWithDisconnection> =
 *   connectProtocol(new Protocol());
 * connected.protocol.transport.write("hi");
 * console.log(connected.transport.valueText(), connected.protocol.connected); // hi true
 * ```
 */
export interface ConnectedProtocol<P extends Protocol, T extends Transport> {
  /** The protocol, its `makeConnection` called. */
  protocol: P;
  /** The transport it was connected to. */
  transport: T;
}

/**
 * Connects a protocol to an in-memory transport, as a port or connector would when a
 * connection is made: given a factory (for instance one taken from
 * {@linkcode MemoryReactor.tcpServers}), builds the protocol with `buildProtocol(peer)`; then
 * attaches it to the transport (setting `transport.protocol` when the transport is a
 * {@linkcode StringTransportWithDisconnection}) and calls `makeConnection(transport)`.
 *
 * The transport defaults to a new {@linkcode StringTransportWithDisconnection}, so that the
 * protocol's `loseConnection()` calls its `connectionLost`. The factory is not started (call
 * its `doStart()` if the code under test needs `startFactory`).
 *
 * @param target A protocol, or a factory to build one.
 * @param transport The transport to connect it to.
 * @returns The protocol and the transport.
 * @throws {Error} if the factory's `buildProtocol` returns `null` (it refused the connection).
 *
 * @example Talk to the protocol a server would build
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import { Protocol } from "@poetry/serve/protocol";
 * import { connectProtocol, MemoryReactor } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * class PoetryProtocol extends Protocol {
 *   override connectionMade(): void {
 *     this.transport.write("Roses are red\n");
 *     this.transport.loseConnection();
 *   }
 * }
 *
 * const reactor = new MemoryReactor();
 * reactor.listenTCP(10000, Factory.forProtocol(PoetryProtocol));
 * const { protocol, transport } = connectProtocol(reactor.tcpServers[0].factory);
 * assert.equal(transport.valueText(), "Roses are red\n");
 * assert.equal(protocol.connected, false);
 * ```
 */
export function connectProtocol<
  P extends Protocol = Protocol,
  T extends Transport = StringTransportWithDisconnection,
>(target: P | Factory, transport?: T): ConnectedProtocol<P, T> {
  const t = transport ?? (new StringTransportWithDisconnection() as Transport as T);
  let protocol: P;
  if (typeof (target as Factory).buildProtocol === "function") {
    const factory = target as Factory;
    const built = factory.buildProtocol(t.getPeer());
    if (built === null) {
      throw new Error(
        `${factory.constructor.name}.buildProtocol refused the connection from the peer ` +
          "(it returned null)",
      );
    }
    protocol = built as P;
  } else {
    protocol = target as P;
  }
  if (t instanceof StringTransportWithDisconnection) t.protocol = protocol;
  protocol.makeConnection(t);
  return { protocol, transport: t };
}
