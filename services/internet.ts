/**
 * Ready-made services that connect a factory to the network, or call a function on a timer —
 * Twisted's `twisted.application.internet`. A configuration module builds them; the runner
 * starts them:
 *
 * - {@linkcode TCPServer}, {@linkcode UNIXServer}, {@linkcode SSLServer} listen when started
 *   (in `privilegedStartService`, so a port below 1024 is bound before privileges are dropped)
 *   and stop listening when stopped; their stop Deferred fires once the socket is closed.
 * - {@linkcode StreamServerEndpointService} does the same for an endpoint (`endpoints.ts`), such
 *   as a description like `tcp:10000:interface=127.0.0.1` makes.
 * - {@linkcode TCPClient} connects when started and disconnects when stopped.
 * - {@linkcode TimerService} calls a function at once when started, then every interval.
 *
 * Each takes a `reactor` (or, for `TimerService`, a `clock`) option so tests can pass a fake.
 *
 * @example The fast poetry server's configuration
 * ```ts
 * import { Application } from "@poetry/serve/application";
 * import { Factory } from "@poetry/serve/factory";
 * import { TCPServer } from "@poetry/serve/internet";
 * import { MultiService } from "@poetry/serve/multi-service";
 * import { Protocol } from "@poetry/serve/protocol";
 * import { Service } from "@poetry/serve/service";
 *
 * class PoetryService extends Service {
 *   poem = "";
 *   override startService(): void {
 *     super.startService();
 *     this.poem = "This is a short poem.\n";
 *   }
 * }
 *
 * class PoetryProtocol extends Protocol {
 *   declare factory: PoetryFactory;
 *   override connectionMade(): void {
 *     this.transport.write(this.factory.service.poem);
 *     this.transport.loseConnection();
 *   }
 * }
 *
 * class PoetryFactory extends Factory {
 *   override protocol = PoetryProtocol;
 *   constructor(readonly service: PoetryService) {
 *     super();
 *   }
 * }
 *
 * const topService = new MultiService();
 * const poetryService = new PoetryService();
 * poetryService.setServiceParent(topService);
 * const tcpService = new TCPServer(10000, new PoetryFactory(poetryService), {
 *   interface: "localhost",
 * });
 * tcpService.setServiceParent(topService);
 *
 * export const application = new Application("fastpoetry");
 * topService.setServiceParent(application);
 * ```
 *
 * @module
 */

import { CancelledError, Deferred, succeed } from "../defer.ts";
import type { StreamServerEndpoint } from "../endpoints.ts";
import type { Failure } from "../failure.ts";
import { err } from "../log.ts";
import type { ClientFactory, Factory } from "../protocols/factory.ts";
import type { Address, TCPAddress, UNIXAddress } from "../protocols/protocol.ts";
import {
  type DisposableConnector,
  type ListeningPort,
  reactor as globalReactor,
  type ReactorSSL,
  type ReactorTCP,
  type ReactorUNIX,
} from "../reactor.ts";
import { ReconnectingClientFactory } from "../protocols/reconnecting_client_factory.ts";
import { LoopingCall, type ReactorTime, realTime } from "../task.ts";
import { describeService } from "./_names.ts";
import { Service } from "./service.ts";

/**
 * Thrown by a server service's `getHost()` when it is not listening (not started yet, or
 * stopped).
 *
 * @example
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import { NotListeningError, TCPServer } from "@poetry/serve/internet";
 * try {
 *   new TCPServer(0, new Factory()).getHost();
 * } catch (e) {
 *   console.log(e instanceof NotListeningError); // true
 * }
 * ```
 */
export class NotListeningError extends Error {
  /**
   * An error saying that `what` is not listening.
   *
   * @example
   * ```ts
   * import { NotListeningError } from "@poetry/serve/internet";
   * console.log(new NotListeningError("TCPServer on port 10000").message);
   * // TCPServer on port 10000 is not listening: start it first
   * ```
   */
  constructor(what: string) {
    super(`${what} is not listening: start it first`);
    this.name = "NotListeningError";
  }
}

/**
 * The base of the server services: listens (by calling {@linkcode ListeningService.listen})
 * in `privilegedStartService` — or in `startService` if that was not called — and stops
 * listening in `stopService`, whose Deferred fires once the socket is closed. Extend it to
 * run a server on a listener of another kind.
 *
 * Listening errors (`CannotListenError`: the port is taken, the address is not local) are
 * thrown from the start method that listens, for the runner to report.
 *
 * @example A service listening wherever a function says
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import { ListeningService } from "@poetry/serve/internet";
 * import { type ListeningPort, reactor } from "@poetry/serve/reactor";
 *
 * class LoopbackServer extends ListeningService {
 *   listen(): ListeningPort {
 *     return reactor.listenTCP(0, new Factory(), { interface: "127.0.0.1" });
 *   }
 * }
 * const server = new LoopbackServer();
 * console.log(server.port); // undefined
 * ```
 */
export abstract class ListeningService<A extends Address = Address> extends Service {
  #port: ListeningPort<A> | undefined = undefined;

  /**
   * Opens the listening port. Called once per start.
   *
   * @throws {CannotListenError} (from `error.ts`) if the port cannot be opened.
   */
  abstract listen(): ListeningPort<A>;

  /**
   * The listening port while the service listens, else `undefined`.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { TCPServer } from "@poetry/serve/internet";
   * console.log(new TCPServer(0, new Factory()).port); // undefined
   * ```
   */
  get port(): ListeningPort<A> | undefined {
    return this.#port;
  }

  /**
   * The address the service listens on — for TCP the real port number, even when port 0 was
   * asked for.
   *
   * @throws {NotListeningError} if the service is not listening.
   * @example Find the port that port 0 picked
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { TCPServer } from "@poetry/serve/internet";
   * const server = new TCPServer(0, new Factory(), { interface: "127.0.0.1" });
   * server.startService();
   * console.log(server.getHost().port > 0); // true
   * await server.stopService();
   * ```
   */
  getHost(): A {
    if (this.#port === undefined) throw new NotListeningError(this.toString());
    return this.#port.getHost();
  }

  /**
   * Starts listening, before the runner drops privileges.
   *
   * @throws {CannotListenError} (from `error.ts`) if the port cannot be opened.
   * @example
   * ```ts
   * import { CannotListenError } from "@poetry/serve/error";
   * import { Factory } from "@poetry/serve/factory";
   * import { TCPServer } from "@poetry/serve/internet";
   * const first = new TCPServer(0, new Factory(), { interface: "127.0.0.1" });
   * first.privilegedStartService();
   * const { port } = first.getHost();
   * const second = new TCPServer(port, new Factory(), { interface: "127.0.0.1" });
   * try {
   *   second.privilegedStartService();
   * } catch (e) {
   *   console.log(e instanceof CannotListenError); // true
   * }
   * await first.stopService();
   * ```
   */
  override privilegedStartService(): void {
    super.privilegedStartService();
    if (this.#port === undefined) this.#port = this.listen();
  }

  /**
   * Starts listening (unless `privilegedStartService` already did), then marks the service
   * running.
   *
   * @throws {CannotListenError} (from `error.ts`) if the port cannot be opened; the service
   * is then not running.
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { TCPServer } from "@poetry/serve/internet";
   * const server = new TCPServer(0, new Factory(), { interface: "127.0.0.1" });
   * server.startService();
   * console.log(server.running); // true
   * await server.stopService();
   * ```
   */
  override startService(): void {
    if (this.#port === undefined) this.#port = this.listen();
    super.startService();
  }

  /**
   * Stops listening. Returns a Deferred that fires once the socket is closed (connections
   * already accepted stay open), or nothing if the service was not listening.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { TCPServer } from "@poetry/serve/internet";
   * const server = new TCPServer(0, new Factory(), { interface: "127.0.0.1" });
   * server.startService();
   * await server.stopService();
   * console.log(server.running, server.port); // false undefined
   * ```
   */
  override stopService(): Deferred<void> | void {
    super.stopService();
    const port = this.#port;
    if (port === undefined) return;
    this.#port = undefined;
    return port.stopListening();
  }
}

/**
 * Options of {@linkcode TCPServer}.
 *
 * @example Listen on loopback only, checked on a test reactor
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import { TCPServer, type TCPServerOptions } from "@poetry/serve/internet";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor();
 * const options: TCPServerOptions = { interface: "127.0.0.1", backlog: 50, reactor };
 * const server = new TCPServer(10000, new Factory(), options);
 * server.startService();
 * console.log(reactor.tcpServers[0].options); // { interface: "127.0.0.1", backlog: 50 }
 * await server.stopService();
 * ```
 */
export interface TCPServerOptions {
  /**
   * The local address to listen on: `"0.0.0.0"` for every IPv4 interface, `"::"` for every
   * interface, `"127.0.0.1"` or `"localhost"` for loopback only.
   * @default {"0.0.0.0"}
   */
  interface?: string;
  /**
   * How many connections the system queues before they are accepted.
   * @default {511}
   */
  backlog?: number;
  /**
   * The reactor to listen with (a test's fake, say).
   * @default {reactor} (the shared reactor from `reactor.ts`)
   */
  reactor?: ReactorTCP;
}

/**
 * Serves TCP: calls `reactor.listenTCP(port, factory, ...)` when started and stops listening
 * when stopped. Port 0 picks a free port; {@linkcode ListeningService.getHost} tells which.
 *
 * @example Serve on a free loopback port
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import { TCPServer } from "@poetry/serve/internet";
 * import { Protocol } from "@poetry/serve/protocol";
 *
 * class Hello extends Protocol {
 *   override connectionMade(): void {
 *     this.transport.write("hello\n");
 *     this.transport.loseConnection();
 *   }
 * }
 *
 * const server = new TCPServer(0, Factory.forProtocol(Hello), { interface: "127.0.0.1" });
 * server.startService();
 * const { port } = server.getHost();
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port });
 * console.log(new TextDecoder().decode(await new Response(conn.readable).arrayBuffer()));
 * await server.stopService();
 * ```
 */
export class TCPServer extends ListeningService<TCPAddress> {
  /** The port number asked for (0 for any free port). */
  readonly portNumber: number;
  /** The factory that builds a protocol for each connection. */
  readonly factory: Factory;
  #options: TCPServerOptions;

  /**
   * A server for `factory` on TCP `port`; nothing is opened until it is started.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { TCPServer } from "@poetry/serve/internet";
   * const server = new TCPServer(10000, new Factory(), { interface: "localhost" });
   * console.log(server.portNumber, server.running); // 10000 false
   * ```
   */
  constructor(port: number, factory: Factory, options: TCPServerOptions = {}) {
    super();
    this.portNumber = port;
    this.factory = factory;
    this.#options = options;
  }

  /**
   * Listens with the reactor; called by the start methods.
   *
   * @throws {CannotListenError} (from `error.ts`) if the port cannot be opened.
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { TCPServer } from "@poetry/serve/internet";
   * const port = new TCPServer(0, new Factory(), { interface: "127.0.0.1" }).listen();
   * await port.stopListening();
   * ```
   */
  listen(): ListeningPort<TCPAddress> {
    const { reactor = globalReactor, interface: iface, backlog } = this.#options;
    return reactor.listenTCP(this.portNumber, this.factory, { interface: iface, backlog });
  }

  /**
   * `TCPServer on <port>`, or the service's name.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { TCPServer } from "@poetry/serve/internet";
   * console.log(String(new TCPServer(10000, new Factory()))); // TCPServer on 10000
   * ```
   */
  override toString(): string {
    return this.name ?? `TCPServer on ${this.portNumber}`;
  }
}

/**
 * Options of {@linkcode UNIXServer}.
 *
 * @example A socket only its owner may use
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import { UNIXServer, type UNIXServerOptions } from "@poetry/serve/internet";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor();
 * const options: UNIXServerOptions = { mode: 0o600, reactor };
 * const server = new UNIXServer("/run/poetry.sock", new Factory(), options);
 * server.startService();
 * console.log(reactor.unixServers[0].options.mode === 0o600); // true
 * await server.stopService();
 * ```
 */
export interface UNIXServerOptions {
  /**
   * The file mode to give the socket (e.g. `0o600` for its owner alone).
   * @default {0o666} (as `listenUNIX`: every user may connect)
   */
  mode?: number;
  /**
   * The reactor to listen with.
   * @default {reactor} (the shared reactor from `reactor.ts`)
   */
  reactor?: ReactorUNIX;
}

/**
 * Serves on a UNIX domain socket: calls `reactor.listenUNIX(path, factory)` when started and
 * stops listening when stopped.
 *
 * @example
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import { UNIXServer } from "@poetry/serve/internet";
 * const server = new UNIXServer("/run/poetry.sock", new Factory(), { mode: 0o600 });
 * console.log(server.path); // /run/poetry.sock
 * ```
 */
export class UNIXServer extends ListeningService<UNIXAddress> {
  /** The path of the socket. */
  readonly path: string;
  /** The factory that builds a protocol for each connection. */
  readonly factory: Factory;
  #options: UNIXServerOptions;

  /**
   * A server for `factory` on the UNIX socket at `path`; nothing is opened until it is
   * started.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { UNIXServer } from "@poetry/serve/internet";
   * console.log(new UNIXServer("poetry.sock", new Factory()).running); // false
   * ```
   */
  constructor(path: string, factory: Factory, options: UNIXServerOptions = {}) {
    super();
    this.path = path;
    this.factory = factory;
    this.#options = options;
  }

  /**
   * Listens with the reactor; called by the start methods.
   *
   * @throws {CannotListenError} (from `error.ts`) if the socket cannot be opened.
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { UNIXServer } from "@poetry/serve/internet";
   * const server = new UNIXServer("poetry.sock", new Factory());
   * console.log(typeof server.listen); // function
   * ```
   */
  listen(): ListeningPort<UNIXAddress> {
    const { reactor = globalReactor, mode } = this.#options;
    return reactor.listenUNIX(this.path, this.factory, { mode });
  }

  /**
   * `UNIXServer on <path>`, or the service's name.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { UNIXServer } from "@poetry/serve/internet";
   * console.log(String(new UNIXServer("poetry.sock", new Factory()))); // UNIXServer on poetry.sock
   * ```
   */
  override toString(): string {
    return this.name ?? `UNIXServer on ${this.path}`;
  }
}

/**
 * Options of {@linkcode SSLServer}.
 *
 * @example Serve TLS with a short queue, checked on a test reactor
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import { SSLServer, type SSLServerOptions } from "@poetry/serve/internet";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor(); // reads no files
 * const options: SSLServerOptions = { cert: "cert.pem", key: "key.pem", backlog: 50, reactor };
 * const server = new SSLServer(10443, new Factory(), options);
 * server.startService();
 * console.log(reactor.sslServers[0].options.backlog); // 50
 * await server.stopService();
 * ```
 */
export interface SSLServerOptions {
  /** The certificate chain: PEM text, or the path of a PEM file. */
  cert: string;
  /** The private key: PEM text, or the path of a PEM file. */
  key: string;
  /**
   * The local address to listen on.
   * @default {"0.0.0.0"}
   */
  interface?: string;
  /**
   * How many connections the system queues before they are accepted.
   * @default {511}
   */
  backlog?: number;
  /**
   * The reactor to listen with.
   * @default {reactor} (the shared reactor from `reactor.ts`)
   */
  reactor?: ReactorSSL;
}

/**
 * Serves TLS over TCP: calls `reactor.listenSSL(port, factory, { cert, key, ... })` when
 * started and stops listening when stopped.
 *
 * @example
 * ```ts
 * import { Factory } from "@poetry/serve/factory";
 * import { SSLServer } from "@poetry/serve/internet";
 * const server = new SSLServer(10443, new Factory(), {
 *   cert: "/etc/poetry/cert.pem",
 *   key: "/etc/poetry/key.pem",
 * });
 * console.log(String(server)); // SSLServer on 10443
 * ```
 */
export class SSLServer extends ListeningService<TCPAddress> {
  /** The port number asked for (0 for any free port). */
  readonly portNumber: number;
  /** The factory that builds a protocol for each connection. */
  readonly factory: Factory;
  #options: SSLServerOptions;

  /**
   * A TLS server for `factory` on TCP `port`; nothing is opened (or read) until it is
   * started.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { SSLServer } from "@poetry/serve/internet";
   * const server = new SSLServer(0, new Factory(), { cert: "cert.pem", key: "key.pem" });
   * console.log(server.running); // false
   * ```
   */
  constructor(port: number, factory: Factory, options: SSLServerOptions) {
    super();
    this.portNumber = port;
    this.factory = factory;
    this.#options = options;
  }

  /**
   * Listens with the reactor; called by the start methods.
   *
   * @throws {CannotListenError} (from `error.ts`) if the port cannot be opened, and
   * `TypeError` if the certificate or key cannot be read.
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { SSLServer } from "@poetry/serve/internet";
   * const server = new SSLServer(0, new Factory(), { cert: "cert.pem", key: "key.pem" });
   * console.log(typeof server.listen); // function
   * ```
   */
  listen(): ListeningPort<TCPAddress> {
    const { reactor = globalReactor, cert, key, interface: iface, backlog } = this.#options;
    return reactor.listenSSL(this.portNumber, this.factory, {
      cert,
      key,
      interface: iface,
      backlog,
    });
  }

  /**
   * `SSLServer on <port>`, or the service's name.
   *
   * @example
   * ```ts
   * import { Factory } from "@poetry/serve/factory";
   * import { SSLServer } from "@poetry/serve/internet";
   * const server = new SSLServer(443, new Factory(), { cert: "c.pem", key: "k.pem" });
   * console.log(String(server)); // SSLServer on 443
   * ```
   */
  override toString(): string {
    return this.name ?? `SSLServer on ${this.portNumber}`;
  }
}

/**
 * Listens on an endpoint, as Twisted's `StreamServerEndpointService` (what its
 * `strports.service` makes): `endpoint.listen(factory)` when started (in
 * `privilegedStartService`, before the runner drops privileges), the port closed when stopped.
 *
 * An endpoint that fails at once (a port in use) makes the start method throw, so that the
 * runner reports it and does not start, as with `strports.service`; one that fails later is
 * logged. Stopping before the endpoint has listened cancels the attempt.
 *
 * @typeParam A The kind of address the endpoint listens on.
 *
 * @example A server whose address is a description, as a command line gives it
 * ```ts
 * import { serverFromString } from "@poetry/serve/endpoints";
 * import { Factory } from "@poetry/serve/factory";
 * import { StreamServerEndpointService } from "@poetry/serve/internet";
 * import { Protocol } from "@poetry/serve/protocol";
 * import { reactor } from "@poetry/serve/reactor";
 *
 * const endpoint = serverFromString(reactor, "tcp:0:interface=127.0.0.1");
 * const service = new StreamServerEndpointService(endpoint, Factory.forProtocol(Protocol));
 * service.startService();
 * console.log(service.port?.getHost().port !== 0); // true
 * await service.stopService();
 * ```
 */
export class StreamServerEndpointService<A extends Address = Address> extends Service {
  /** Where to listen. */
  readonly endpoint: StreamServerEndpoint<A>;
  /** The factory that builds a protocol for each connection. */
  readonly factory: Factory;
  #waiting: Deferred<ListeningPort<A> | undefined> | undefined = undefined;
  #port: ListeningPort<A> | undefined = undefined;

  /**
   * A service listening on `endpoint` with `factory`; nothing is opened until it is started.
   *
   * @example
   * ```ts
   * import { serverFromString } from "@poetry/serve/endpoints";
   * import { Factory } from "@poetry/serve/factory";
   * import { StreamServerEndpointService } from "@poetry/serve/internet";
   * import { reactor } from "@poetry/serve/reactor";
   * const endpoint = serverFromString(reactor, "tcp:10000");
   * console.log(new StreamServerEndpointService(endpoint, new Factory()).running); // false
   * ```
   */
  constructor(endpoint: StreamServerEndpoint<A>, factory: Factory) {
    super();
    this.endpoint = endpoint;
    this.factory = factory;
  }

  /**
   * The listening port once the endpoint has listened, until the service stops.
   *
   * @example
   * ```ts
   * import { serverFromString } from "@poetry/serve/endpoints";
   * import { Factory } from "@poetry/serve/factory";
   * import { StreamServerEndpointService } from "@poetry/serve/internet";
   * import { reactor } from "@poetry/serve/reactor";
   * const endpoint = serverFromString(reactor, "tcp:10000");
   * console.log(new StreamServerEndpointService(endpoint, new Factory()).port); // undefined
   * ```
   */
  get port(): ListeningPort<A> | undefined {
    return this.#port;
  }

  /**
   * Starts listening, before the runner drops privileges.
   *
   * @throws what the endpoint failed with, if it failed at once (`CannotListenError`, say).
   * @example
   * ```ts
   * import { CannotListenError } from "@poetry/serve/error";
   * import { serverFromString } from "@poetry/serve/endpoints";
   * import { Factory } from "@poetry/serve/factory";
   * import { StreamServerEndpointService } from "@poetry/serve/internet";
   * import { reactor } from "@poetry/serve/reactor";
   *
   * const first = new StreamServerEndpointService(
   *   serverFromString(reactor, "tcp:0:interface=127.0.0.1"),
   *   new Factory(),
   * );
   * first.privilegedStartService();
   * const taken = `tcp:${first.port!.getHost().port}:interface=127.0.0.1`;
   * const second = new StreamServerEndpointService(serverFromString(reactor, taken), new Factory());
   * try {
   *   second.privilegedStartService();
   * } catch (e) {
   *   console.log(e instanceof CannotListenError); // true
   * }
   * await first.stopService();
   * ```
   */
  override privilegedStartService(): void {
    super.privilegedStartService();
    this.#listen();
  }

  /**
   * Starts listening (unless `privilegedStartService` already did), then marks the service
   * running.
   *
   * @throws what the endpoint failed with, if it failed at once; the service is then not
   *   running.
   * @example
   * ```ts
   * import { serverFromString } from "@poetry/serve/endpoints";
   * import { Factory } from "@poetry/serve/factory";
   * import { StreamServerEndpointService } from "@poetry/serve/internet";
   * import { reactor } from "@poetry/serve/reactor";
   * const endpoint = serverFromString(reactor, "tcp:0:interface=127.0.0.1");
   * const service = new StreamServerEndpointService(endpoint, new Factory());
   * service.startService();
   * console.log(service.running); // true
   * await service.stopService();
   * ```
   */
  override startService(): void {
    this.#listen();
    super.startService();
  }

  #listen(): void {
    if (this.#waiting !== undefined) return;
    let synchronous = true;
    let failedAtOnce: Failure | undefined;
    const waiting = this.endpoint.listen(this.factory).addCallbacks(
      (port) => (this.#port = port),
      (failure): undefined => {
        if (synchronous) failedAtOnce = failure;
        else if (!failure.check(CancelledError)) err(failure, `${this} could not listen`);
      },
    );
    synchronous = false;
    // Not kept when it failed at once, so that starting again tries again.
    if (failedAtOnce !== undefined) failedAtOnce.raiseException();
    this.#waiting = waiting;
  }

  /**
   * Stops listening (or cancels the endpoint's attempt) and marks the service stopped.
   * Returns a Deferred that fires once the port is closed, or nothing if it was not started.
   *
   * @example
   * ```ts
   * import { serverFromString } from "@poetry/serve/endpoints";
   * import { Factory } from "@poetry/serve/factory";
   * import { StreamServerEndpointService } from "@poetry/serve/internet";
   * import { reactor } from "@poetry/serve/reactor";
   * const endpoint = serverFromString(reactor, "tcp:0:interface=127.0.0.1");
   * const service = new StreamServerEndpointService(endpoint, new Factory());
   * service.startService();
   * await service.stopService();
   * console.log(service.running, service.port); // false undefined
   * ```
   */
  override stopService(): Deferred<void> | void {
    super.stopService();
    const waiting = this.#waiting;
    if (waiting === undefined) return;
    this.#waiting = undefined;
    if (!waiting.called) waiting.cancel();
    return waiting.addCallback((port): Deferred<void> | undefined => {
      this.#port = undefined;
      return port?.stopListening();
    }).addCallback((): void => {});
  }

  /**
   * `StreamServerEndpointService`, or the service's name.
   *
   * @example
   * ```ts
   * import { serverFromString } from "@poetry/serve/endpoints";
   * import { Factory } from "@poetry/serve/factory";
   * import { StreamServerEndpointService } from "@poetry/serve/internet";
   * import { reactor } from "@poetry/serve/reactor";
   * const service = new StreamServerEndpointService(serverFromString(reactor, "tcp:80"), new Factory());
   * service.setName("web");
   * console.log(String(service)); // web
   * ```
   */
  override toString(): string {
    return this.name ?? "StreamServerEndpointService";
  }
}

/**
 * Options of {@linkcode TCPClient}.
 *
 * @example Give up connecting after five seconds
 * ```ts
 * import { ClientFactory } from "@poetry/serve/factory";
 * import { TCPClient, type TCPClientOptions } from "@poetry/serve/internet";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor();
 * const options: TCPClientOptions = { timeout: 5, reactor };
 * const client = new TCPClient("localhost", 10000, new ClientFactory(), options);
 * client.startService();
 * console.log(reactor.tcpClients[0].options); // { timeout: 5 }
 * await client.stopService();
 * ```
 */
export interface TCPClientOptions {
  /**
   * Seconds to wait for the connection before the attempt fails; `null` waits as long as
   * the system does.
   * @default {30}
   */
  timeout?: number | null;
  /**
   * The reactor to connect with.
   * @default {reactor} (the shared reactor from `reactor.ts`)
   */
  reactor?: ReactorTCP;
}

/**
 * Connects to a TCP server when started — `reactor.connectTCP(host, port, factory)` — and
 * disconnects when stopped. Its stop Deferred fires once no attempt is under way and the
 * connection (if any) has been closed. To reconnect after a lost connection, give it a
 * `ReconnectingClientFactory`: stopping the service also stops its retries (which Twisted's
 * `TCPClient` leaves running), and starting the service again resumes them.
 *
 * @example
 * ```ts
 * import { ClientFactory } from "@poetry/serve/factory";
 * import { TCPClient } from "@poetry/serve/internet";
 * const client = new TCPClient("localhost", 10000, new ClientFactory(), { timeout: 5 });
 * console.log(client.connector); // undefined (until started)
 * ```
 */
export class TCPClient extends Service {
  /** The host to connect to. */
  readonly host: string;
  /** The port to connect to. */
  readonly portNumber: number;
  /** The factory told how the attempt goes, and that builds the protocol. */
  readonly factory: ClientFactory;
  #options: TCPClientOptions;
  #connector: DisposableConnector | undefined = undefined;
  // Whether stopService turned the factory's retries off, for startService to turn back on.
  #retriesStopped = false;

  /**
   * A client for `factory` to `host`:`port`; nothing is attempted until it is started.
   *
   * @example
   * ```ts
   * import { ClientFactory } from "@poetry/serve/factory";
   * import { TCPClient } from "@poetry/serve/internet";
   * const client = new TCPClient("localhost", 10000, new ClientFactory());
   * console.log(String(client)); // TCPClient to localhost:10000
   * ```
   */
  constructor(host: string, port: number, factory: ClientFactory, options: TCPClientOptions = {}) {
    super();
    this.host = host;
    this.portNumber = port;
    this.factory = factory;
    this.#options = options;
  }

  /**
   * The connector of the current attempt and connection while started, else `undefined`.
   *
   * @example
   * ```ts
   * import { ClientFactory } from "@poetry/serve/factory";
   * import { TCPClient } from "@poetry/serve/internet";
   * console.log(new TCPClient("localhost", 1, new ClientFactory()).connector); // undefined
   * ```
   */
  get connector(): DisposableConnector | undefined {
    return this.#connector;
  }

  /**
   * Starts connecting and marks the service running.
   *
   * @example
   * ```ts
   * import { ClientFactory } from "@poetry/serve/factory";
   * import { TCPClient } from "@poetry/serve/internet";
   * import { Factory } from "@poetry/serve/factory";
   * import { TCPServer } from "@poetry/serve/internet";
   * const server = new TCPServer(0, new Factory(), { interface: "127.0.0.1" });
   * server.startService();
   * const { port } = server.getHost();
   * const client = new TCPClient("127.0.0.1", port, new ClientFactory());
   * client.startService();
   * console.log(client.connector !== undefined); // true
   * await client.stopService();
   * await server.stopService();
   * ```
   */
  override startService(): void {
    super.startService();
    if (this.#retriesStopped && this.factory instanceof ReconnectingClientFactory) {
      this.factory.resetDelay();
    }
    this.#retriesStopped = false;
    const { reactor = globalReactor, timeout } = this.#options;
    this.#connector = reactor.connectTCP(this.host, this.portNumber, this.factory, {
      timeout,
    });
  }

  /**
   * Disconnects (or stops the attempt) and marks the service stopped; a
   * `ReconnectingClientFactory` is told to stop trying, so that no retry outlives the
   * service. Returns a Deferred that fires once the attempt is over and the connection
   * closed, or nothing if the service was not started.
   *
   * @example
   * ```ts
   * import { ClientFactory } from "@poetry/serve/factory";
   * import { TCPClient } from "@poetry/serve/internet";
   * const client = new TCPClient("localhost", 1, new ClientFactory());
   * console.log(client.stopService()); // undefined
   * ```
   */
  override stopService(): Deferred<void> | void {
    super.stopService();
    const connector = this.#connector;
    if (connector === undefined) return;
    this.#connector = undefined;
    // Before disconnecting, or losing the connection would schedule a retry.
    if (this.factory instanceof ReconnectingClientFactory) {
      this.factory.stopTrying();
      this.#retriesStopped = true;
    }
    return Deferred.fromPromise(connector[Symbol.asyncDispose]());
  }

  /**
   * `TCPClient to <host>:<port>`, or the service's name.
   *
   * @example
   * ```ts
   * import { ClientFactory } from "@poetry/serve/factory";
   * import { TCPClient } from "@poetry/serve/internet";
   * console.log(String(new TCPClient("example.com", 79, new ClientFactory())));
   * // TCPClient to example.com:79
   * ```
   */
  override toString(): string {
    return this.name ?? `TCPClient to ${this.host}:${this.portNumber}`;
  }
}

/**
 * Calls a function every `step` seconds while running: once at once when started, then every
 * interval (a `LoopingCall` on {@linkcode TimerService.clock}). If the function returns a
 * Deferred, the next call waits for it. An error thrown by the function, or a failed
 * Deferred, is logged and ends the calls (the service stays running until stopped).
 *
 * Stopping cancels the next call; the stop Deferred fires once a call still waiting on its
 * Deferred has finished.
 *
 * @example Tick with a test clock
 * ```ts
 * import { TimerService } from "@poetry/serve/internet";
 * import { Clock } from "@poetry/serve/task";
 *
 * const clock = new Clock();
 * const ticks: string[] = [];
 * const timer = new TimerService(60, (what: string) => ticks.push(what), "tick");
 * timer.clock = clock;
 * timer.startService();
 * clock.advance(60);
 * clock.advance(60);
 * await timer.stopService();
 * console.log(ticks); // [ "tick", "tick", "tick" ]
 * ```
 */
export class TimerService<A extends unknown[] = []> extends Service {
  /** The interval between calls, in seconds. */
  readonly step: number;
  /** The function called. */
  readonly fn: (...args: A) => unknown;
  /** The arguments it is called with. */
  readonly args: A;
  /**
   * The clock the calls are scheduled on; set it before starting (a `Clock` in tests).
   * @default {realTime} (the reactor's clock)
   */
  clock: ReactorTime = realTime;
  #loop: LoopingCall<A> | undefined = undefined;
  #finished: Deferred<unknown> | undefined = undefined;
  // The Deferreds handed out by stop calls made while a call was still under way.
  #stopWaiters: Deferred<void>[] | undefined = undefined;

  /**
   * A timer that will call `fn(...args)` every `step` seconds once started.
   *
   * @example
   * ```ts
   * import { TimerService } from "@poetry/serve/internet";
   * const timer = new TimerService(3600, () => console.log("hourly"));
   * console.log(timer.step, timer.running); // 3600 false
   * ```
   */
  constructor(step: number, fn: (...args: A) => unknown, ...args: A) {
    super();
    this.step = step;
    this.fn = fn;
    this.args = args;
  }

  /**
   * Marks the service running and makes the first call at once.
   *
   * @throws {RangeError} if `step` is negative.
   * @example
   * ```ts
   * import { TimerService } from "@poetry/serve/internet";
   * import { Clock } from "@poetry/serve/task";
   * let calls = 0;
   * const timer = new TimerService(10, () => calls++);
   * timer.clock = new Clock();
   * timer.startService();
   * console.log(calls); // 1
   * timer.stopService();
   * ```
   */
  override startService(): void {
    super.startService();
    // A stop still waiting on the old loop's call concerns that loop only.
    this.#stopWaiters = undefined;
    const loop = new LoopingCall<A>(this.fn, ...this.args);
    loop.clock = this.clock;
    let finished;
    try {
      finished = loop.start(this.step, true);
    } catch (e) {
      super.stopService();
      throw e;
    }
    this.#loop = loop;
    this.#finished = finished.addErrback((failure: Failure) => {
      err(failure, `Error in the function of ${describeService(this)}:`);
    });
  }

  /**
   * Stops the calls. Returns a Deferred that fires once the call under way (one whose
   * Deferred has not fired yet) has finished; the service is marked stopped then. Called
   * again before then, it returns another Deferred that fires at the same moment; called when
   * there is no call to wait for (it was never started, or is stopped already), a Deferred that
   * has fired. (Twisted's returns its loop's Deferred again, or raises if never started.)
   *
   * @example
   * ```ts
   * import { Deferred } from "@poetry/serve/defer";
   * import { TimerService } from "@poetry/serve/internet";
   * import { Clock } from "@poetry/serve/task";
   * const pending = new Deferred<void>();
   * const timer = new TimerService(10, () => pending);
   * timer.clock = new Clock();
   * timer.startService();
   * const stopped = timer.stopService();
   * console.log(stopped.called); // false
   * pending.callback();
   * console.log(stopped.called, timer.running); // true false
   * ```
   */
  override stopService(): Deferred<void> {
    const waiters = this.#stopWaiters;
    if (waiters !== undefined) {
      // Already stopping: the service is still running until the call finishes, so this
      // caller must wait as well rather than see a stop that has not happened.
      const stopped = new Deferred<void>();
      waiters.push(stopped);
      return stopped;
    }
    const loop = this.#loop;
    const finished = this.#finished;
    if (loop === undefined || finished === undefined) {
      super.stopService();
      return succeed<void>(undefined);
    }
    this.#loop = undefined;
    this.#finished = undefined;
    if (loop.running) loop.stop();
    const stopped = new Deferred<void>();
    const mine = [stopped];
    this.#stopWaiters = mine;
    finished.addBoth(() => {
      if (this.#stopWaiters === mine) {
        this.#stopWaiters = undefined;
        super.stopService();
      }
      for (const d of mine) d.callback(undefined);
    });
    return stopped;
  }
}
