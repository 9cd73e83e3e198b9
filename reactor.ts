/**
 * The reactor: listening and connecting over TCP, UNIX sockets and TLS, scheduling calls, and
 * the start-up/shut-down life cycle with its system event triggers, as Twisted's reactor.
 *
 * Deno already runs an event loop, so there is no loop to enter: ports and connections work as
 * soon as they are made, whether or not {@linkcode Reactor.run} was called. `run()` fires the
 * start-up triggers and the {@linkcode Reactor.callWhenRunning} calls, keeps the process alive
 * until {@linkcode Reactor.stop}, and then runs the shutdown (triggers, then every port and
 * connection closed); the promise it returns resolves when that is done.
 *
 * @example Serve a poem on a port, fetch it, and stop
 * ```ts
 * import { reactor } from "@poetry/serve/reactor";
 * import { ClientFactory, Factory } from "@poetry/serve/factory";
 * import { Protocol } from "@poetry/serve/protocol";
 * import type { Failure } from "@poetry/serve/failure";
 *
 * class PoetryProtocol extends Protocol {
 *   override connectionMade(): void {
 *     this.transport.write("Roses are red\n");
 *     this.transport.loseConnection();
 *   }
 * }
 *
 * class PoetryClient extends Protocol {
 *   poem = "";
 *   override dataReceived(data: Uint8Array): void {
 *     this.poem += new TextDecoder().decode(data);
 *   }
 *   override connectionLost(_reason: Failure): void {
 *     console.log(this.poem); // Roses are red
 *     reactor.stop();
 *   }
 * }
 *
 * class PoetryClientFactory extends ClientFactory {
 *   override protocol = PoetryClient;
 * }
 *
 * const port = reactor.listenTCP(0, Factory.forProtocol(PoetryProtocol), { interface: "127.0.0.1" });
 * reactor.callWhenRunning(() => {
 *   reactor.connectTCP("127.0.0.1", port.getHost().port, new PoetryClientFactory());
 * });
 * await reactor.run(); // resolves once stop() has shut everything down
 * ```
 *
 * @module
 */

import type { Deferred } from "./defer.ts";
import { ReactorAlreadyRunning, ReactorNotRunning } from "./error.ts";
import { err, msg } from "./log.ts";
import { type DelayedCall, type ReactorTime, RealTime, realTime, runDueCalls } from "./_timers.ts";
import type { ClientFactory, Connector, Factory } from "./protocols/factory.ts";
import type { Address, TCPAddress, UNIXAddress } from "./protocols/protocol.ts";
import { ClientConnector, type ConnectorHooks } from "./protocols/_connector.ts";
import { pemOrFile, Port, type PortHooks } from "./protocols/_port.ts";
import type { StreamTransport } from "./protocols/_transport.ts";
import { SystemEventTriggers } from "./_system_events.ts";

export type { ReactorTime } from "./_timers.ts";

/**
 * A port listening for connections, as `listenTCP`, `listenUNIX` and `listenSSL` return. `A` is
 * the kind of address it has: `listenTCP` and `listenSSL` give a `ListeningPort<TCPAddress>`,
 * so `port.getHost().port` needs no check of the address's type.
 *
 * @example A port that stops listening at the end of its scope
 * ```ts
 * import { type ListeningPort, reactor } from "@poetry/serve/reactor";
 * import { Factory } from "@poetry/serve/factory";
 * import { Protocol, type TCPAddress } from "@poetry/serve/protocol";
 *
 * async function servedOn(): Promise<number> {
 *   await using port: ListeningPort<TCPAddress> = reactor.listenTCP(
 *     0,
 *     Factory.forProtocol(Protocol),
 *     { interface: "127.0.0.1" },
 *   );
 *   return port.getHost().port; // a number: TCP ports always have one
 * }
 * console.log(await servedOn() > 0); // true
 * ```
 */
export interface ListeningPort<A extends Address = Address> extends AsyncDisposable {
  /**
   * The address the port is bound to: for TCP, `{ type: "TCP", host, port }` with the real
   * port number even when port 0 was asked for; for UNIX, `{ type: "UNIX", path }`.
   */
  getHost(): A;
  /**
   * Stops accepting connections; connections already accepted stay open. The Deferred fires
   * once the socket is closed, `(TCP Port <n> Closed)` logged and the factory's `doStop()`
   * called. `await using port = reactor.listenTCP(...)` calls it at the end of the scope.
   */
  stopListening(): Deferred<void>;
}

/**
 * A connection attempt and its connection, as `connectTCP`, `connectUNIX` and `connectSSL`
 * return: a {@linkcode Connector} that `using` disconnects and `await using` disconnects and
 * waits for (no attempt left under way, the connection's `connectionLost` called).
 *
 * @example Give up on a connection at the end of a scope
 * ```ts
 * import { type DisposableConnector, reactor } from "@poetry/serve/reactor";
 * import { ClientFactory, Factory } from "@poetry/serve/factory";
 *
 * const port = reactor.listenTCP(0, new Factory(), { interface: "127.0.0.1" });
 * const free = port.getHost().port;
 * await port.stopListening(); // nothing listens there now
 * {
 *   await using connector: DisposableConnector = reactor.connectTCP("127.0.0.1", free, new ClientFactory());
 *   console.log(connector.getDestination()); // { type: "TCP", host: "127.0.0.1", port: <free> }
 * } // the attempt is over here
 * ```
 */
export interface DisposableConnector extends Connector, Disposable, AsyncDisposable {}

/**
 * Options of {@linkcode Reactor.listenTCP}.
 *
 * @example Listen on loopback only, with a short queue
 * ```ts
 * import { type ListenTCPOptions, reactor } from "@poetry/serve/reactor";
 * import { Factory } from "@poetry/serve/factory";
 * import { Protocol } from "@poetry/serve/protocol";
 *
 * const options: ListenTCPOptions = { interface: "127.0.0.1", backlog: 16 };
 * const port = reactor.listenTCP(0, Factory.forProtocol(Protocol), options);
 * console.log(port.getHost().host); // 127.0.0.1
 * await port.stopListening();
 * ```
 */
export interface ListenTCPOptions {
  /**
   * The local address to listen on. `"0.0.0.0"` listens on every IPv4 interface (what
   * Twisted's default `""` means; `""` is accepted as the same), `"::"` on every interface,
   * `"127.0.0.1"` on loopback only.
   * @default {"0.0.0.0"}
   */
  interface?: string;
  /**
   * How many connections the system queues before they are accepted.
   * @default {511} (Deno's default)
   */
  backlog?: number;
  /**
   * Stops listening (as `stopListening()` does) when the signal aborts, as `Deno.serve` stops
   * on its `signal`; a signal that has already aborted stops the port as soon as it is made.
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * Options of {@linkcode Reactor.listenSSL}.
 *
 * @example Certificate and key from files, on loopback only
 * ```ts
 * import type { ListenSSLOptions } from "@poetry/serve/reactor";
 * import { Factory } from "@poetry/serve/factory";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const options: ListenSSLOptions = { cert: "server.crt", key: "server.key", interface: "127.0.0.1" };
 * // The real reactor reads the files here; a MemoryReactor only records the call.
 * const reactor = new MemoryReactor();
 * reactor.listenSSL(8443, new Factory(), options);
 * console.log(reactor.sslServers[0].options.key); // server.key
 * ```
 */
export interface ListenSSLOptions extends ListenTCPOptions {
  /** The certificate chain: PEM text, or the path of a PEM file. */
  cert: string;
  /** The private key: PEM text, or the path of a PEM file. */
  key: string;
}

/**
 * Options of {@linkcode Reactor.listenUNIX}.
 *
 * @example A socket only its owner may connect to
 * ```ts
 * import type { ListenUNIXOptions } from "@poetry/serve/reactor";
 * import { Factory } from "@poetry/serve/factory";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const options: ListenUNIXOptions = { mode: 0o600 };
 * // The real reactor makes the socket file with this mode; a MemoryReactor only records it.
 * const reactor = new MemoryReactor();
 * reactor.listenUNIX("/run/poetry.sock", new Factory(), options);
 * console.log(reactor.unixServers[0].options.mode?.toString(8)); // 600
 * ```
 */
export interface ListenUNIXOptions {
  /**
   * The file mode to give the socket (e.g. `0o600` for its owner alone). Connecting needs
   * write permission, so the default, Twisted's, lets every user connect.
   * @default {0o666}
   */
  mode?: number;
  /**
   * Stops listening (and removes the socket file) when the signal aborts, as for
   * {@linkcode ListenTCPOptions.signal}.
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * Options of {@linkcode Reactor.connectTCP} and {@linkcode Reactor.connectUNIX}.
 *
 * @example Give up after five seconds
 * ```ts
 * import type { ConnectTCPOptions } from "@poetry/serve/reactor";
 * import { ClientFactory } from "@poetry/serve/factory";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const options: ConnectTCPOptions = { timeout: 5 };
 * const reactor = new MemoryReactor();
 * reactor.connectTCP("127.0.0.1", 10000, new ClientFactory(), options);
 * console.log(reactor.tcpClients[0].options.timeout); // 5
 * ```
 */
export interface ConnectTCPOptions {
  /**
   * Seconds to wait for the connection before the attempt fails with `TimeoutError`; `null`
   * waits as long as the system does.
   * @default {30}
   */
  timeout?: number | null;
}

/**
 * Options of {@linkcode Reactor.connectUNIX}.
 *
 * @example Wait as long as the system does
 * ```ts
 * import type { ConnectUNIXOptions } from "@poetry/serve/reactor";
 * import { ClientFactory } from "@poetry/serve/factory";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const options: ConnectUNIXOptions = { timeout: null };
 * const reactor = new MemoryReactor();
 * reactor.connectUNIX("/run/poetry.sock", new ClientFactory(), options);
 * console.log(reactor.unixClients[0].path); // /run/poetry.sock
 * ```
 */
export type ConnectUNIXOptions = ConnectTCPOptions;

/**
 * Options of {@linkcode Reactor.connectSSL}.
 *
 * @example Trust a self-signed certificate for one name
 * ```ts
 * import type { ConnectSSLOptions } from "@poetry/serve/reactor";
 * import { ClientFactory } from "@poetry/serve/factory";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const options: ConnectSSLOptions = { caCerts: ["server.crt"], hostname: "localhost" };
 * // The real reactor reads the certificate here; a MemoryReactor only records the call.
 * const reactor = new MemoryReactor();
 * reactor.connectSSL("127.0.0.1", 8443, new ClientFactory(), options);
 * console.log(reactor.sslClients[0].options.hostname); // localhost
 * ```
 */
export interface ConnectSSLOptions extends ConnectTCPOptions {
  /**
   * Certificates (PEM text or paths of PEM files) to trust, e.g. a self-signed server
   * certificate, in addition to Deno's: the Mozilla roots it bundles, or the system's with
   * `DENO_TLS_CA_STORE=system`.
   * @default {undefined}
   */
  caCerts?: string[];
  /**
   * The name the server's certificate must carry (and the TLS server name sent); by default
   * the host connected to.
   * @default {undefined}
   */
  hostname?: string;
}

/**
 * Listening and connecting over TCP, as Twisted's `IReactorTCP`.
 *
 * @example Code that takes its reactor, so a test can pass a MemoryReactor
 * ```ts
 * import type { ReactorTCP } from "@poetry/serve/reactor";
 * import { Factory } from "@poetry/serve/factory";
 * import { Protocol } from "@poetry/serve/protocol";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * function serve(reactor: ReactorTCP): void {
 *   reactor.listenTCP(10000, Factory.forProtocol(Protocol), { interface: "127.0.0.1" });
 * }
 * const memory = new MemoryReactor();
 * serve(memory);
 * console.log(memory.tcpServers[0].port); // 10000
 * ```
 */
export interface ReactorTCP {
  /** Listens on TCP `port` (0 for any free port) with `factory` building each protocol. */
  listenTCP(
    port: number,
    factory: Factory,
    options?: ListenTCPOptions,
  ): ListeningPort<TCPAddress>;
  /** Connects to `host`:`port`, telling `factory` how the attempt goes. */
  connectTCP(
    host: string,
    port: number,
    factory: ClientFactory,
    options?: ConnectTCPOptions,
  ): DisposableConnector;
}

/**
 * Listening and connecting over UNIX domain sockets, as Twisted's `IReactorUNIX`.
 *
 * @example Code that takes its reactor, so a test can pass a MemoryReactor
 * ```ts
 * import type { ReactorUNIX } from "@poetry/serve/reactor";
 * import { ClientFactory } from "@poetry/serve/factory";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * function dial(reactor: ReactorUNIX): void {
 *   reactor.connectUNIX("/run/poetry.sock", new ClientFactory());
 * }
 * const memory = new MemoryReactor();
 * dial(memory);
 * console.log(memory.unixClients[0].path); // /run/poetry.sock
 * ```
 */
export interface ReactorUNIX {
  /** Listens on the UNIX socket at `path`. */
  listenUNIX(
    path: string,
    factory: Factory,
    options?: ListenUNIXOptions,
  ): ListeningPort<UNIXAddress>;
  /** Connects to the UNIX socket at `path`. */
  connectUNIX(
    path: string,
    factory: ClientFactory,
    options?: ConnectUNIXOptions,
  ): DisposableConnector;
}

/**
 * Listening and connecting over TLS, as Twisted's `IReactorSSL`.
 *
 * @example Code that takes its reactor, so a test can pass a MemoryReactor
 * ```ts
 * import type { ReactorSSL } from "@poetry/serve/reactor";
 * import { Factory } from "@poetry/serve/factory";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * function serve(reactor: ReactorSSL): void {
 *   reactor.listenSSL(8443, new Factory(), { cert: "server.crt", key: "server.key" });
 * }
 * const memory = new MemoryReactor();
 * serve(memory);
 * console.log(memory.sslServers[0].port); // 8443
 * ```
 */
export interface ReactorSSL {
  /** Listens on TCP `port` for TLS connections, with the given certificate and key. */
  listenSSL(port: number, factory: Factory, options: ListenSSLOptions): ListeningPort<TCPAddress>;
  /** Connects over TLS to `host`:`port`. */
  connectSSL(
    host: string,
    port: number,
    factory: ClientFactory,
    options?: ConnectSSLOptions,
  ): DisposableConnector;
}

/**
 * The phases of a system event, in the order they run.
 *
 * @example One trigger in each phase
 * ```ts
 * import { type SystemEventPhase } from "@poetry/serve/reactor";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor();
 * const phases: SystemEventPhase[] = ["after", "during", "before"];
 * for (const phase of phases) reactor.addSystemEventTrigger(phase, "shutdown", () => console.log(phase));
 * await reactor.fireSystemEvent("shutdown"); // before, during, after
 * ```
 */
export type SystemEventPhase = "before" | "during" | "after";

/**
 * The system events the reactor fires itself; other names can be fired with `fireSystemEvent`.
 *
 * @example Say goodbye at shutdown
 * ```ts
 * import { type SystemEventType } from "@poetry/serve/reactor";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor();
 * const event: SystemEventType = "shutdown";
 * reactor.addSystemEventTrigger("before", event, () => console.log("goodbye"));
 * await reactor.fireSystemEvent(event); // goodbye
 * ```
 */
export type SystemEventType = "startup" | "shutdown";

/**
 * What {@linkcode Reactor.addSystemEventTrigger} returns, to remove the trigger with.
 *
 * @example Remove a trigger before its event
 * ```ts
 * import { type SystemEventTriggerID } from "@poetry/serve/reactor";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor();
 * const id: SystemEventTriggerID = reactor.addSystemEventTrigger("before", "shutdown", () => console.log("never"));
 * reactor.removeSystemEventTrigger(id);
 * await reactor.fireSystemEvent("shutdown"); // prints nothing
 * ```
 */
export type SystemEventTriggerID = number;

/**
 * The reactor's life cycle, as Twisted's `IReactorCore`.
 *
 * @example Code that stops its reactor, tested with a MemoryReactor
 * ```ts
 * import type { ReactorCore } from "@poetry/serve/reactor";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * function finish(reactor: ReactorCore): void {
 *   reactor.addSystemEventTrigger("before", "shutdown", () => console.log("closing"));
 *   reactor.stop();
 * }
 * const memory = new MemoryReactor();
 * finish(memory);
 * console.log(memory.hasStopped); // true
 * ```
 */
export interface ReactorCore {
  /** `true` from the end of start-up until shutdown begins. */
  readonly running: boolean;
  /** Fires start-up, keeps the process alive until `stop()`, resolves once shut down. */
  run(): Promise<void>;
  /** Begins the shutdown. */
  stop(): void;
  /** Calls `fn(...args)` once the reactor is running (now, if it already is). */
  callWhenRunning<A extends unknown[]>(
    fn: (...args: A) => unknown,
    ...args: A
  ): SystemEventTriggerID | undefined;
  /** Adds a trigger to a phase of a system event. */
  addSystemEventTrigger<A extends unknown[]>(
    phase: SystemEventPhase,
    eventType: SystemEventType | (string & Record<never, never>),
    fn: (...args: A) => unknown,
    ...args: A
  ): SystemEventTriggerID;
  /** Removes a trigger added by `addSystemEventTrigger` or `callWhenRunning`. */
  removeSystemEventTrigger(id: SystemEventTriggerID): void;
  /** Runs the three phases of a system event. */
  fireSystemEvent(eventType: string): Deferred<void>;
}

/**
 * Everything a program may ask of its reactor: life cycle, time, TCP, UNIX sockets and TLS.
 * Both the real {@linkcode Reactor} and the test helpers' `MemoryReactor` are one; type a `reactor` parameter
 * with it (or with just the parts the code uses, e.g. `ReactorTCP & ReactorTime`) so that a
 * test can pass a `MemoryReactor`.
 *
 * @example A program that takes its reactor
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import { reactor as realReactor, type ReactorLike } from "@poetry/serve/reactor";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * function serveUntilStopped(reactor: ReactorLike): void {
 *   reactor.listenTCP(10000, new Factory());
 *   reactor.callLater(60, () => reactor.stop());
 * }
 * const memory = new MemoryReactor();
 * serveUntilStopped(memory); // in production: serveUntilStopped(realReactor)
 * memory.advance(60);
 * console.log(memory.hasStopped, realReactor.running); // true false
 * ```
 */
export type ReactorLike = ReactorCore & ReactorTime & ReactorTCP & ReactorUNIX & ReactorSSL;

/**
 * Options of the {@linkcode Reactor} constructor.
 *
 * @example A reactor whose time moves only when a test says
 * ```ts
 * import { Reactor, type ReactorOptions } from "@poetry/serve/reactor";
 * import { Clock } from "@poetry/serve/task";
 *
 * const clock = new Clock();
 * const options: ReactorOptions = { clock };
 * const reactor = new Reactor(options);
 * reactor.callLater(30, () => console.log("half a minute later"));
 * clock.advance(30); // half a minute later
 * ```
 */
export interface ReactorOptions {
  /**
   * The clock `callLater` and connection timeouts use: by default the real-time clock shared
   * with `task.ts`; a `Clock` makes timeouts testable without waiting.
   * @default {realTime}
   */
  clock?: ReactorTime;
}

/**
 * The reactor. Use the shared {@linkcode reactor} instance; construct another only to give it
 * a test clock (`new Reactor({ clock })`).
 *
 * @example Schedule a call
 * ```ts
 * import { reactor } from "@poetry/serve/reactor";
 * const call = reactor.callLater(1, (name: string) => console.log(`hello ${name}`), "world");
 * call.cancel();
 * ```
 */
export class Reactor implements ReactorCore, ReactorTime, ReactorTCP, ReactorUNIX, ReactorSSL {
  #clock: ReactorTime;
  #ports = new Set<Port>();
  #connections = new Set<StreamTransport>();
  #connecting = new Set<ClientConnector>();
  #emptyWaiters: (() => void)[] = [];
  #hooks: PortHooks & ConnectorHooks;

  #events = new SystemEventTriggers();
  #started = false;
  #stopping = false;
  #running = false;
  #startup: Promise<void> = Promise.resolve();
  #finished: (() => void) | null = null;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #signals: [Deno.Signal, () => void][] = [];

  /**
   * A reactor on `options.clock` (by default real time). Programs use the shared
   * {@linkcode reactor}; tests can build one on a `Clock`.
   *
   * @example A reactor whose connection timeouts run on a test clock
   * ```ts
   * import { Reactor } from "@poetry/serve/reactor";
   * import { Clock } from "@poetry/serve/task";
   * const clock = new Clock();
   * const testReactor = new Reactor({ clock });
   * testReactor.callLater(5, () => console.log("five seconds"));
   * clock.advance(5); // five seconds
   * ```
   */
  constructor(options: ReactorOptions = {}) {
    // Bound, so that they can be handed on as Twisted code hands them on
    // (`protocol.callLater = reactor.callLater`).
    this.callLater = this.callLater.bind(this);
    this.seconds = this.seconds.bind(this);
    this.#clock = options.clock ?? realTime;
    this.#hooks = {
      clock: this.#clock,
      connectionStarted: (t) => void this.#connections.add(t),
      connectionEnded: (t) => {
        this.#connections.delete(t);
        if (this.#connections.size === 0 && this.#emptyWaiters.length > 0) {
          const waiters = this.#emptyWaiters;
          this.#emptyWaiters = [];
          for (const wake of waiters) wake();
        }
      },
      portStopped: (port) => void this.#ports.delete(port),
      connecting: (connector, active) => {
        if (active) this.#connecting.add(connector);
        else this.#connecting.delete(connector);
      },
    };
  }

  // ---- Time ----

  /**
   * Calls `fn(...args)` in `seconds` seconds; returns the {@linkcode DelayedCall}, which can
   * be cancelled, reset or delayed. An error thrown by `fn` is logged.
   *
   * @throws {RangeError} if `seconds` is negative or not a number.
   *
   * @example
   * ```ts
   * import { reactor } from "@poetry/serve/reactor";
   * const call = reactor.callLater(0.01, () => console.log("later"));
   * console.log(call.active()); // true
   * call.cancel();
   * ```
   */
  callLater<A extends unknown[]>(
    seconds: number,
    fn: (...args: A) => unknown,
    ...args: A
  ): DelayedCall {
    return this.#clock.callLater(seconds, fn, ...args);
  }

  /**
   * The current time in seconds (since the epoch, for the real-time clock).
   *
   * @example
   * ```ts
   * import { reactor } from "@poetry/serve/reactor";
   * console.log(Math.abs(reactor.seconds() - Date.now() / 1000) < 1); // true
   * ```
   */
  seconds(): number {
    return this.#clock.seconds();
  }

  /**
   * The calls scheduled and not yet made or cancelled, in the order they are due.
   *
   * @example
   * ```ts
   * import { reactor } from "@poetry/serve/reactor";
   * const call = reactor.callLater(60, () => {});
   * console.log(reactor.getDelayedCalls().includes(call)); // true
   * call.cancel();
   * ```
   */
  getDelayedCalls(): DelayedCall[] {
    return this.#clock.getDelayedCalls();
  }

  // ---- TCP ----

  /**
   * Listens on TCP `port` (0: any free port; `getHost().port` tells which) and builds a
   * protocol with `factory` for each connection. Logs `<factory> starting on <port>` and calls
   * `factory.doStart()`; `stopListening()` undoes both, and so does aborting `options.signal`.
   *
   * A server protocol's `connectionMade` runs in the log context of the factory's
   * `logPrefix()` (as Twisted's port does), its other calls in
   * `<Protocol>,<session number>,<peer host>`.
   *
   * @throws {CannotListenError} at once if the port cannot be opened (in use, no permission).
   *
   * @example Listen on a free port on loopback
   * ```ts
   * import { reactor } from "@poetry/serve/reactor";
   * import { Factory } from "@poetry/serve/factory";
   * import { Protocol } from "@poetry/serve/protocol";
   * const port = reactor.listenTCP(0, Factory.forProtocol(Protocol), { interface: "127.0.0.1" });
   * const address = port.getHost(); // { type: "TCP", host: "127.0.0.1", port: <the port> }
   * console.log(address.port > 0); // true
   * await port.stopListening();
   * ```
   *
   * @example Stop listening when a signal aborts, as `Deno.serve` does
   * ```ts
   * import { reactor } from "@poetry/serve/reactor";
   * import { Factory } from "@poetry/serve/factory";
   * import { Protocol } from "@poetry/serve/protocol";
   * const controller = new AbortController();
   * const port = reactor.listenTCP(0, Factory.forProtocol(Protocol), {
   *   interface: "127.0.0.1",
   *   signal: controller.signal,
   * });
   * controller.abort(); // the port closes; connections it accepted stay open
   * await port.stopListening(); // fires once it is closed
   * ```
   */
  listenTCP(
    port: number,
    factory: Factory,
    options: ListenTCPOptions = {},
  ): ListeningPort<TCPAddress> {
    return this.#listen(
      { kind: "TCP", port, interface: options.interface || "0.0.0.0", backlog: options.backlog },
      factory,
      options.signal,
    ) as ListeningPort<TCPAddress>;
  }

  /**
   * Connects to `host`:`port` and returns the connector at once. The factory is told
   * `startedConnecting(connector)`, then either builds the protocol (`connectionMade` follows,
   * and `clientConnectionLost(connector, reason)` after the protocol's `connectionLost`) or
   * hears `clientConnectionFailed(connector, reason)`: `ConnectionRefusedError`,
   * `DNSLookupError`, `TimeoutError` after `timeout` seconds, `UserError` after
   * `stopConnecting()`. `connector.connect()` tries again. The protocol's calls are logged in
   * the context `<Protocol>,client`.
   *
   * @example Report a refused connection
   * ```ts
   * import { reactor } from "@poetry/serve/reactor";
   * import { ClientFactory, type Connector } from "@poetry/serve/factory";
   * import type { Failure } from "@poetry/serve/failure";
   * import { Factory } from "@poetry/serve/factory";
   *
   * const port = reactor.listenTCP(0, new Factory(), { interface: "127.0.0.1" });
   * const free = port.getHost().port;
   * await port.stopListening(); // now nothing listens there
   * const { promise, resolve } = Promise.withResolvers<string>();
   * class Reporter extends ClientFactory {
   *   override clientConnectionFailed(_c: Connector, reason: Failure): void {
   *     resolve(reason.type?.name ?? "");
   *   }
   * }
   * await using _connector = reactor.connectTCP("127.0.0.1", free, new Reporter());
   * console.log(await promise); // ConnectionRefusedError
   * ```
   */
  connectTCP(
    host: string,
    port: number,
    factory: ClientFactory,
    options: ConnectTCPOptions = {},
  ): DisposableConnector {
    return this.#connect({ kind: "TCP", host, port }, factory, options.timeout);
  }

  // ---- UNIX ----

  /**
   * Listens on a UNIX domain socket at `path` (which must not exist yet; it is removed when
   * the port stops). Needs `--allow-read`, `--allow-write` and net access to `unix:<path>`.
   *
   * @throws {CannotListenError} at once if the socket cannot be made.
   *
   * @example
   * ```ts ignore
   * import { reactor } from "@poetry/serve/reactor";
   * import { Factory } from "@poetry/serve/factory";
   * import { Protocol } from "@poetry/serve/protocol";
   * const port = reactor.listenUNIX("/tmp/poetry.sock", Factory.forProtocol(Protocol));
   * await port.stopListening();
   * ```
   */
  listenUNIX(
    path: string,
    factory: Factory,
    options: ListenUNIXOptions = {},
  ): ListeningPort<UNIXAddress> {
    return this.#listen(
      { kind: "UNIX", path, mode: options.mode },
      factory,
      options.signal,
    ) as ListeningPort<UNIXAddress>;
  }

  /**
   * Connects to the UNIX domain socket at `path`; the factory is told as for
   * {@linkcode Reactor.connectTCP} (a path where nothing listens fails with
   * `ConnectionRefusedError`, one that does not exist with `ConnectError`).
   *
   * @example
   * ```ts ignore
   * import { reactor } from "@poetry/serve/reactor";
   * import { ClientFactory } from "@poetry/serve/factory";
   * const connector = reactor.connectUNIX("/tmp/poetry.sock", new ClientFactory());
   * connector.disconnect();
   * ```
   */
  connectUNIX(
    path: string,
    factory: ClientFactory,
    options: ConnectUNIXOptions = {},
  ): DisposableConnector {
    return this.#connect({ kind: "UNIX", path }, factory, options.timeout);
  }

  // ---- TLS ----

  /**
   * Listens on TCP `port` for TLS connections, with the certificate chain and private key
   * given (as PEM text or paths of PEM files). Otherwise as {@linkcode Reactor.listenTCP};
   * the handshake happens as the first data flows.
   *
   * The certificate must be one for a server, not for a certificate authority: Deno's TLS
   * refuses a peer certificate marked `CA:TRUE`, which `openssl req -x509` makes unless given
   * `-addext basicConstraints=critical,CA:FALSE`. A peer that closes the socket without TLS
   * `close_notify` loses its connection (`ConnectionLost`), as in Twisted, since what came may
   * have been cut short; `abortConnection()` still sends `close_notify`, as Deno gives no way
   * not to.
   *
   * A connection closed before its handshake has finished keeps its socket until the client
   * sends something or goes away: Deno finishes a handshake before it closes. The protocol
   * sees `connectionLost` at once, but a client that connects and stays silent holds a file
   * descriptor however soon the server gives up on it (Twisted frees it). Where that matters,
   * put a TLS-terminating proxy in front, or a limit on connections per client.
   *
   * @throws {CannotListenError} at once if the port cannot be opened or the key material is
   * not usable.
   * @throws {TypeError} if a certificate or key file cannot be read.
   *
   * @example
   * ```ts ignore
   * import { reactor } from "@poetry/serve/reactor";
   * import { Factory } from "@poetry/serve/factory";
   * import { Protocol } from "@poetry/serve/protocol";
   * const port = reactor.listenSSL(0, Factory.forProtocol(Protocol), {
   *   cert: "server.crt",
   *   key: "server.key",
   * });
   * await port.stopListening();
   * ```
   */
  listenSSL(
    port: number,
    factory: Factory,
    options: ListenSSLOptions,
  ): ListeningPort<TCPAddress> {
    return this.#listen(
      {
        kind: "TLS",
        port,
        interface: options.interface || "0.0.0.0",
        backlog: options.backlog,
        cert: options.cert,
        key: options.key,
      },
      factory,
      options.signal,
    ) as ListeningPort<TCPAddress>;
  }

  /**
   * Connects over TLS to `host`:`port`. The handshake completes before the protocol is built,
   * so a certificate that does not verify fails the attempt (`clientConnectionFailed` with a
   * `ConnectError`; Twisted makes the connection and then loses it), and `timeout` covers the
   * handshake too. Otherwise as {@linkcode Reactor.connectTCP}. The CA files are read here,
   * once, so that later attempts need no read permission.
   *
   * An attempt stopped during the handshake (by `timeout`, `stopConnecting()` or
   * `disconnect()`) fails at once, but its socket stays open until the server answers or
   * closes: Deno finishes a handshake before it closes. A server that accepts and never
   * speaks TLS therefore keeps one descriptor per attempt, retries included.
   *
   * @throws {TypeError} if a CA file cannot be read.
   *
   * @example
   * ```ts ignore
   * import { reactor } from "@poetry/serve/reactor";
   * import { ClientFactory } from "@poetry/serve/factory";
   * const connector = reactor.connectSSL("localhost", 8443, new ClientFactory(), {
   *   caCerts: ["server.crt"],
   * });
   * connector.disconnect();
   * ```
   */
  connectSSL(
    host: string,
    port: number,
    factory: ClientFactory,
    options: ConnectSSLOptions = {},
  ): DisposableConnector {
    // Read now, not on each attempt: the runner drops the read permission after start-up,
    // and a connector that retries would fail on every attempt after that.
    const caCerts = options.caCerts?.map((ca) => pemOrFile(ca, "CA certificate"));
    return this.#connect(
      { kind: "TLS", host, port, caCerts, hostname: options.hostname },
      factory,
      options.timeout,
    );
  }

  #listen(
    spec: ConstructorParameters<typeof Port>[0],
    factory: Factory,
    signal: AbortSignal | undefined,
  ): ListeningPort {
    const port = new Port(spec, factory, this.#hooks);
    port.startListening();
    this.#ports.add(port);
    if (signal !== undefined) port.stopOnAbort(signal);
    return port;
  }

  #connect(
    spec: ConstructorParameters<typeof ClientConnector>[0],
    factory: ClientFactory,
    timeout: number | null | undefined,
  ): DisposableConnector {
    const connector = new ClientConnector(
      spec,
      factory,
      timeout === undefined ? 30 : timeout,
      this.#hooks,
    );
    connector.connect();
    return connector;
  }

  // ---- Life cycle ----

  /**
   * `true` from the end of start-up (the "during startup" phase) until shutdown begins.
   *
   * @example
   * ```ts
   * import { reactor } from "@poetry/serve/reactor";
   * console.log(reactor.running); // false
   * ```
   */
  get running(): boolean {
    return this.#running;
  }

  /**
   * Starts the reactor: fires the `"startup"` event (its "before" triggers, then "during", in
   * which {@linkcode Reactor.running} becomes `true`, then "after", where
   * {@linkcode Reactor.callWhenRunning} calls are made), and keeps the process alive until
   * {@linkcode Reactor.stop}. The promise resolves once the shutdown has run.
   *
   * With `installSignalHandlers` (the default, as in Twisted), SIGINT and SIGTERM stop the
   * reactor (logging `Received SIGINT, shutting down.`) while it runs.
   *
   * Unlike Twisted's, this reactor can be run again after it has stopped (useful in tests);
   * triggers added with `addSystemEventTrigger` stay registered and fire on each run, while
   * `callWhenRunning` calls are made once.
   *
   * @throws {ReactorAlreadyRunning} if it is running (or starting, or stopping).
   *
   * @example Run until a start-up call stops it
   * ```ts
   * import { reactor } from "@poetry/serve/reactor";
   * reactor.callWhenRunning(() => {
   *   console.log("running:", reactor.running); // running: true
   *   reactor.stop();
   * });
   * await reactor.run({ installSignalHandlers: false });
   * ```
   */
  run(options: { installSignalHandlers?: boolean } = {}): Promise<void> {
    if (this.#started) throw new ReactorAlreadyRunning();
    this.#started = true;
    this.#stopping = false;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#finished = resolve;
    // Deno's event loop ends when nothing is pending; a running reactor keeps it going.
    this.#keepAlive = setInterval(() => {}, 2 ** 31 - 1);
    if (options.installSignalHandlers ?? true) this.#installSignalHandlers();
    // Set before the triggers run: a stop() from one of them must wait for this start-up, not
    // for the last one.
    const startup = Promise.withResolvers<void>();
    this.#startup = startup.promise;
    this.#fire("startup", () => {
      this.#running = true;
    }).then(startup.resolve);
    return promise;
  }

  #installSignalHandlers(): void {
    const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
    for (const signal of signals) {
      const handler = () => {
        msg(`Received ${signal}, shutting down.`);
        if (this.#started && !this.#stopping) this.stop();
      };
      try {
        Deno.addSignalListener(signal, handler);
        this.#signals.push([signal, handler]);
      } catch {
        // Not allowed here (e.g. no such signal on this system): run without it.
      }
    }
  }

  #removeSignalHandlers(): void {
    for (const [signal, handler] of this.#signals) Deno.removeSignalListener(signal, handler);
    this.#signals = [];
  }

  /**
   * Begins the shutdown, after the current code and after start-up if it is still under
   * way: the `"shutdown"` event's "before" triggers (services stop here, with their ports
   * still open), then "during" (where {@linkcode Reactor.running} becomes `false` and every
   * port, connection attempt and connection the reactor made is closed), then "after". A
   * trigger that returns a Deferred or promise holds back the next phase until it settles.
   * Then `run()`'s promise resolves.
   *
   * Calls already due when the shutdown begins (a `callLater(0)` made just before `stop()`)
   * run first, as in Twisted. Delayed calls are timers, as in Deno: one still pending when
   * `run()`'s promise resolves runs when due (in Twisted it would never run), so cancel it, or
   * stop what made it, for the program to end.
   *
   * @throws {ReactorNotRunning} if the reactor is not running, or is already stopping.
   *
   * @example
   * ```ts
   * import { reactor } from "@poetry/serve/reactor";
   * import { ReactorNotRunning } from "@poetry/serve/error";
   * try {
   *   reactor.stop();
   * } catch (e) {
   *   console.log(e instanceof ReactorNotRunning); // true
   * }
   * ```
   */
  stop(): void {
    if (!this.#started || this.#stopping) throw new ReactorNotRunning();
    this.#stopping = true;
    const startup = this.#startup;
    (async () => {
      await startup;
      // Calls already due (a callLater(0) made just before stop()) run first, as Twisted's
      // loop finishes its pass before it fires "shutdown".
      const clock = this.#clock;
      if (clock instanceof RealTime) runDueCalls(clock);
      await this.#fire("shutdown", async () => {
        this.#running = false;
        await this.#disconnectAll();
      });
      this.#removeSignalHandlers();
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
      this.#started = false;
      this.#stopping = false;
      msg("Main loop terminated.");
      const finished = this.#finished;
      this.#finished = null;
      finished?.();
    })();
  }

  /** Closes every port, attempt and connection this reactor made, and waits until they are. */
  async #disconnectAll(): Promise<void> {
    const waits: Promise<unknown>[] = [];
    for (const port of [...this.#ports]) waits.push(Promise.resolve(port.stopListening()));
    for (const connector of [...this.#connecting]) {
      try {
        connector.stopConnecting();
      } catch (e) {
        err(e, "while stopping a connection attempt at shutdown");
      }
      waits.push(connector[Symbol.asyncDispose]());
    }
    for (const transport of [...this.#connections]) transport.closeForShutdown();
    if (this.#connections.size > 0) {
      waits.push(new Promise<void>((resolve) => this.#emptyWaiters.push(resolve)));
    }
    await Promise.all(waits);
  }

  /**
   * Calls `fn(...args)` once the reactor is running: now if it is, otherwise in the "after"
   * phase of start-up. Returns the trigger's id (to cancel the call with
   * {@linkcode Reactor.removeSystemEventTrigger}), or `undefined` if the call was made now.
   *
   * @example
   * ```ts
   * import { reactor } from "@poetry/serve/reactor";
   * const id = reactor.callWhenRunning(() => console.log("started"));
   * reactor.removeSystemEventTrigger(id!); // changed my mind
   * ```
   */
  callWhenRunning<A extends unknown[]>(
    fn: (...args: A) => unknown,
    ...args: A
  ): SystemEventTriggerID | undefined {
    return this.#events.whenRunning(this.#running, fn, args);
  }

  /**
   * Adds `fn(...args)` to the `phase` of the system event `eventType` (`"startup"`,
   * `"shutdown"`, or a name fired with {@linkcode Reactor.fireSystemEvent}). Phases run in
   * the order before → during → after; within a phase, triggers run in the order they were
   * added, and if any returns a Deferred or promise, the next phase waits until all of them
   * have settled. A trigger that throws (or whose result fails) is logged; the others still
   * run. Triggers stay registered until removed.
   *
   * @example Flush a cache before shutdown
   * ```ts
   * import { reactor } from "@poetry/serve/reactor";
   * const id = reactor.addSystemEventTrigger("before", "shutdown", async () => {
   *   // ... save state; the shutdown waits for this promise
   * });
   * reactor.removeSystemEventTrigger(id);
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
   * Removes a trigger. A trigger removed while its event is firing does not run if its phase
   * has not reached it yet.
   *
   * @throws {Error} if there is no such trigger.
   *
   * @example
   * ```ts
   * import { reactor } from "@poetry/serve/reactor";
   * const id = reactor.addSystemEventTrigger("after", "shutdown", () => console.log("bye"));
   * reactor.removeSystemEventTrigger(id);
   * ```
   */
  removeSystemEventTrigger(id: SystemEventTriggerID): void {
    this.#events.remove(id);
  }

  /**
   * Runs the triggers of system event `eventType`, phase by phase; the Deferred fires when the
   * "after" phase is done.
   *
   * @example
   * ```ts
   * import { reactor } from "@poetry/serve/reactor";
   * const id = reactor.addSystemEventTrigger("during", "reload", () => console.log("reloading"));
   * await reactor.fireSystemEvent("reload"); // reloading
   * reactor.removeSystemEventTrigger(id);
   * ```
   */
  fireSystemEvent(eventType: string): Deferred<void> {
    return this.#events.fire(eventType);
  }

  /** The phases of `eventType`; `during` (the reactor's own part) runs before the triggers. */
  #fire(eventType: string, during: () => unknown): Promise<void> {
    return this.#events.fire(eventType, during).asPromise();
  }
}

/**
 * The reactor every program shares, on real time.
 *
 * @example
 * ```ts
 * import { reactor } from "@poetry/serve/reactor";
 * console.log(reactor.running); // false until run()
 * ```
 */
export const reactor: Reactor = new Reactor();
