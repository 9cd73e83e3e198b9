/**
 * Endpoints, as Twisted's `twisted.internet.endpoints`: where to listen or connect, as an
 * object, so that code that serves or dials does not care whether it is TCP, TLS or a UNIX
 * socket.
 *
 * - A server endpoint's `listen(factory)` returns a Deferred that fires with the listening
 *   port, or fails with why it could not listen (`CannotListenError`).
 * - A client endpoint's `connect(factory)` returns a Deferred that fires with the protocol
 *   the factory built, once it is connected (after its `connectionMade`), or fails with why the
 *   attempt failed (`ConnectionRefusedError`, `TimeoutError`, …). Cancelling it stops the
 *   attempt with `ConnectingCancelledError`. The factory's `doStart` and `doStop` are called;
 *   its client callbacks are not (the Deferred says how the attempt went), as in Twisted.
 * - {@linkcode connectProtocol} connects a protocol you made, without a factory.
 * - {@linkcode serverFromString} and {@linkcode clientFromString} build endpoints from
 *   descriptions such as `tcp:10000:interface=127.0.0.1` or `tcp:host=localhost:port=10000`,
 *   Twisted's syntax, so a command line or a configuration file can say where.
 *
 * Differences from Twisted, each refused with a `TypeError` naming the argument rather than
 * ignored: no lock files (`lockfile=1`, which Twisted's `unix:` server descriptions use by
 * default: a socket file left behind by a crashed server must be removed by hand), no
 * `bindAddress` (Deno cannot choose a connection's local address), no client certificates,
 * no `sslmethod` or `dhParameters` (Deno's TLS chooses). `caCertsDir` and `trustRoots` add
 * to the certificates Deno trusts instead of replacing them. A UNIX server's `backlog` is
 * accepted and left to the system (Deno has no setting for it).
 *
 * @example Serve and connect through endpoints
 * ```ts
 * import { clientFromString, serverFromString } from "@poetry/serve/endpoints";
 * import { Factory } from "@poetry/serve/factory";
 * import { Protocol } from "@poetry/serve/protocol";
 * import { reactor } from "@poetry/serve/reactor";
 *
 * class Greeter extends Protocol {
 *   override connectionMade(): void {
 *     this.transport.write("hello\r\n");
 *     this.transport.loseConnection();
 *   }
 * }
 * class Listener extends Protocol {
 *   override dataReceived(data: Uint8Array): void {
 *     console.log(new TextDecoder().decode(data).trim()); // hello
 *   }
 * }
 *
 * const port = await serverFromString(reactor, "tcp:0:interface=127.0.0.1")
 *   .listen(Factory.forProtocol(Greeter));
 * const where = `tcp:host=127.0.0.1:port=${port.getHost().port}`;
 * const client = await clientFromString(reactor, where).connect(Factory.forProtocol(Listener));
 * console.log(client instanceof Listener); // true
 * await port.stopListening();
 * ```
 *
 * @module
 */

import { Arguments, parseDescription } from "./_endpoint_description.ts";
import { type Deferred, execute, fail } from "./defer.ts";
import { checkFactory } from "./protocols/_check_factory.ts";
import { pemOrFile } from "./protocols/_port.ts";
import { WrappingFactory } from "./protocols/_wrapping_factory.ts";
import { Factory } from "./protocols/factory.ts";
import type { Address, Protocol, TCPAddress, UNIXAddress } from "./protocols/protocol.ts";
import type {
  ConnectSSLOptions,
  ConnectTCPOptions,
  ConnectUNIXOptions,
  ListeningPort,
  ListenSSLOptions,
  ListenTCPOptions,
  ListenUNIXOptions,
  ReactorSSL,
  ReactorTCP,
  ReactorUNIX,
} from "./reactor.ts";

/**
 * Somewhere to listen, as Twisted's `IStreamServerEndpoint`.
 *
 * @typeParam A The kind of address the port is bound to.
 *
 * @example Code that listens wherever it is told
 * ```ts
 * import type { StreamServerEndpoint } from "@poetry/serve/endpoints";
 * import { Factory } from "@poetry/serve/factory";
 * import { Protocol } from "@poetry/serve/protocol";
 *
 * async function serve(endpoint: StreamServerEndpoint): Promise<void> {
 *   const port = await endpoint.listen(Factory.forProtocol(Protocol));
 *   console.log("serving on", port.getHost());
 * }
 * ```
 */
export interface StreamServerEndpoint<A extends Address = Address> {
  /**
   * Listens with `factory`: the Deferred fires with the port, or fails with why it could not
   * listen.
   */
  listen(factory: Factory): Deferred<ListeningPort<A>>;
}

/**
 * Somewhere to connect to, as Twisted's `IStreamClientEndpoint`.
 *
 * @example Code that connects wherever it is told
 * ```ts
 * import type { StreamClientEndpoint } from "@poetry/serve/endpoints";
 * import { Factory } from "@poetry/serve/factory";
 * import { Protocol } from "@poetry/serve/protocol";
 *
 * async function dial(endpoint: StreamClientEndpoint): Promise<void> {
 *   const protocol = await endpoint.connect(Factory.forProtocol(Protocol));
 *   protocol.transport.loseConnection();
 * }
 * ```
 */
export interface StreamClientEndpoint {
  /**
   * Connects, with a protocol `factory` builds: the Deferred fires with that protocol once it
   * is connected, or fails with why the attempt failed. Cancelling it stops the attempt.
   */
  connect<F extends Factory>(factory: F): Deferred<NonNullable<ReturnType<F["buildProtocol"]>>>;
}

/** Starts `connect` on a wrapping factory; a call that throws gives a failed Deferred. */
function connectWith<P>(
  factory: Factory,
  what: string,
  connect: (wrapping: WrappingFactory) => void,
): Deferred<P> {
  try {
    checkFactory(factory, what, false);
    const wrapping = new WrappingFactory(factory);
    connect(wrapping);
    return wrapping.onConnection as Deferred<unknown> as Deferred<P>;
  } catch (e) {
    return fail(e);
  }
}

/**
 * A TCP port on IPv4 to listen on, as Twisted's `TCP4ServerEndpoint`.
 *
 * @example Listen on loopback, on a port the system picks
 * ```ts
 * import { TCP4ServerEndpoint } from "@poetry/serve/endpoints";
 * import { Factory } from "@poetry/serve/factory";
 * import { Protocol } from "@poetry/serve/protocol";
 * import { reactor } from "@poetry/serve/reactor";
 *
 * const endpoint = new TCP4ServerEndpoint(reactor, 0, { interface: "127.0.0.1" });
 * const port = await endpoint.listen(Factory.forProtocol(Protocol));
 * console.log(port.getHost().port > 0); // true
 * await port.stopListening();
 * ```
 */
export class TCP4ServerEndpoint implements StreamServerEndpoint<TCPAddress> {
  readonly #reactor: ReactorTCP;
  readonly #port: number;
  readonly #options: ListenTCPOptions;

  /**
   * An endpoint for `port` (0 for one the system picks) on `options.interface`.
   *
   * @param reactor The reactor to listen with.
   * @param port The port number.
   * @param options As for `reactor.listenTCP`; the interface defaults to every IPv4 one.
   *
   * @example
   * ```ts
   * import { TCP4ServerEndpoint } from "@poetry/serve/endpoints";
   * import { reactor } from "@poetry/serve/reactor";
   * new TCP4ServerEndpoint(reactor, 10000, { interface: "127.0.0.1", backlog: 50 });
   * ```
   */
  constructor(reactor: ReactorTCP, port: number, options: ListenTCPOptions = {}) {
    this.#reactor = reactor;
    this.#port = port;
    this.#options = { interface: "0.0.0.0", ...options };
  }

  /**
   * Listens with `factory`; fails with `CannotListenError` if the port cannot be opened.
   *
   * @example
   * ```ts
   * import { CannotListenError } from "@poetry/serve/error";
   * import { TCP4ServerEndpoint } from "@poetry/serve/endpoints";
   * import { Factory } from "@poetry/serve/factory";
   * import { reactor } from "@poetry/serve/reactor";
   *
   * const first = await new TCP4ServerEndpoint(reactor, 0, { interface: "127.0.0.1" })
   *   .listen(new Factory());
   * const taken = new TCP4ServerEndpoint(reactor, first.getHost().port, { interface: "127.0.0.1" });
   * await taken.listen(new Factory()).addErrback((failure) => {
   *   console.log(failure.check(CannotListenError) !== null); // true
   * });
   * await first.stopListening();
   * ```
   */
  listen(factory: Factory): Deferred<ListeningPort<TCPAddress>> {
    return execute(() => this.#reactor.listenTCP(this.#port, factory, this.#options));
  }
}

/**
 * A TCP port on IPv6 (and, where the system maps them, IPv4) to listen on, as Twisted's
 * `TCP6ServerEndpoint`: {@linkcode TCP4ServerEndpoint} with `"::"` as the default interface.
 *
 * @example Listen on IPv6 loopback
 * ```ts
 * import { TCP6ServerEndpoint } from "@poetry/serve/endpoints";
 * import { reactor } from "@poetry/serve/reactor";
 * new TCP6ServerEndpoint(reactor, 10000, { interface: "::1" });
 * ```
 */
export class TCP6ServerEndpoint extends TCP4ServerEndpoint {
  /**
   * An endpoint for `port` on `options.interface`, by default every interface (`"::"`).
   *
   * @param reactor The reactor to listen with.
   * @param port The port number.
   * @param options As for `reactor.listenTCP`.
   *
   * @example
   * ```ts
   * import { TCP6ServerEndpoint } from "@poetry/serve/endpoints";
   * import { reactor } from "@poetry/serve/reactor";
   * new TCP6ServerEndpoint(reactor, 10000);
   * ```
   */
  constructor(reactor: ReactorTCP, port: number, options: ListenTCPOptions = {}) {
    super(reactor, port, { interface: "::", ...options });
  }
}

/**
 * A host and TCP port to connect to, as Twisted's `TCP4ClientEndpoint`.
 *
 * @example Connect, and get the connected protocol
 * ```ts
 * import { TCP4ClientEndpoint, TCP4ServerEndpoint } from "@poetry/serve/endpoints";
 * import { Factory } from "@poetry/serve/factory";
 * import { Protocol } from "@poetry/serve/protocol";
 * import { reactor } from "@poetry/serve/reactor";
 *
 * const port = await new TCP4ServerEndpoint(reactor, 0, { interface: "127.0.0.1" })
 *   .listen(Factory.forProtocol(Protocol));
 * const endpoint = new TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port);
 * const client = await endpoint.connect(Factory.forProtocol(Protocol));
 * console.log(client.connected); // true
 * client.transport.loseConnection();
 * await port.stopListening();
 * ```
 */
export class TCP4ClientEndpoint implements StreamClientEndpoint {
  readonly #reactor: ReactorTCP;
  readonly #host: string;
  readonly #port: number;
  readonly #options: ConnectTCPOptions;

  /**
   * An endpoint for `host`:`port`.
   *
   * @param reactor The reactor to connect with.
   * @param host A host name or address.
   * @param port The port number.
   * @param options As for `reactor.connectTCP` (`timeout`, 30 seconds by default).
   *
   * @example
   * ```ts
   * import { TCP4ClientEndpoint } from "@poetry/serve/endpoints";
   * import { reactor } from "@poetry/serve/reactor";
   * new TCP4ClientEndpoint(reactor, "localhost", 10000, { timeout: 5 });
   * ```
   */
  constructor(reactor: ReactorTCP, host: string, port: number, options: ConnectTCPOptions = {}) {
    this.#reactor = reactor;
    this.#host = host;
    this.#port = port;
    this.#options = options;
  }

  /**
   * Connects with a protocol `factory` builds; see {@linkcode StreamClientEndpoint.connect}.
   *
   * @example Nothing listening
   * ```ts
   * import { ConnectionRefusedError } from "@poetry/serve/error";
   * import { TCP4ClientEndpoint, TCP4ServerEndpoint } from "@poetry/serve/endpoints";
   * import { Factory } from "@poetry/serve/factory";
   * import { reactor } from "@poetry/serve/reactor";
   *
   * const port = await new TCP4ServerEndpoint(reactor, 0, { interface: "127.0.0.1" })
   *   .listen(new Factory());
   * const free = port.getHost().port;
   * await port.stopListening();
   * await new TCP4ClientEndpoint(reactor, "127.0.0.1", free).connect(new Factory())
   *   .addErrback((failure) => console.log(failure.check(ConnectionRefusedError) !== null)); // true
   * ```
   */
  connect<F extends Factory>(factory: F): Deferred<NonNullable<ReturnType<F["buildProtocol"]>>> {
    return connectWith(factory, "TCP4ClientEndpoint.connect", (wrapping) => {
      this.#reactor.connectTCP(this.#host, this.#port, wrapping, this.#options);
    });
  }
}

/**
 * A UNIX socket to listen on, as Twisted's `UNIXServerEndpoint`.
 *
 * @example Listen on a socket only its owner may connect to
 * ```ts
 * import { UNIXServerEndpoint } from "@poetry/serve/endpoints";
 * import { reactor } from "@poetry/serve/reactor";
 * new UNIXServerEndpoint(reactor, "/run/poetry.sock", { mode: 0o600 });
 * ```
 */
export class UNIXServerEndpoint implements StreamServerEndpoint<UNIXAddress> {
  readonly #reactor: ReactorUNIX;
  readonly #path: string;
  readonly #options: ListenUNIXOptions;

  /**
   * An endpoint for the socket at `path`.
   *
   * @param reactor The reactor to listen with.
   * @param path The socket file's path.
   * @param options As for `reactor.listenUNIX` (`mode`, 0o666 by default).
   *
   * @example
   * ```ts
   * import { UNIXServerEndpoint } from "@poetry/serve/endpoints";
   * import { reactor } from "@poetry/serve/reactor";
   * new UNIXServerEndpoint(reactor, "/tmp/poetry.sock");
   * ```
   */
  constructor(reactor: ReactorUNIX, path: string, options: ListenUNIXOptions = {}) {
    this.#reactor = reactor;
    this.#path = path;
    this.#options = options;
  }

  /**
   * Listens with `factory`; fails with `CannotListenError` if the socket cannot be made (its
   * file exists, say).
   *
   * @example Checked on a test reactor
   * ```ts
   * import { UNIXServerEndpoint } from "@poetry/serve/endpoints";
   * import { Factory } from "@poetry/serve/factory";
   * import { MemoryReactor } from "@poetry/serve/testing";
   *
   * const reactor = new MemoryReactor();
   * const port = await new UNIXServerEndpoint(reactor, "/run/poetry.sock").listen(new Factory());
   * console.log(port.getHost().path); // /run/poetry.sock
   * ```
   */
  listen(factory: Factory): Deferred<ListeningPort<UNIXAddress>> {
    return execute(() => this.#reactor.listenUNIX(this.#path, factory, this.#options));
  }
}

/**
 * A UNIX socket to connect to, as Twisted's `UNIXClientEndpoint`.
 *
 * @example
 * ```ts
 * import { UNIXClientEndpoint } from "@poetry/serve/endpoints";
 * import { reactor } from "@poetry/serve/reactor";
 * new UNIXClientEndpoint(reactor, "/run/poetry.sock", { timeout: 5 });
 * ```
 */
export class UNIXClientEndpoint implements StreamClientEndpoint {
  readonly #reactor: ReactorUNIX;
  readonly #path: string;
  readonly #options: ConnectUNIXOptions;

  /**
   * An endpoint for the socket at `path`.
   *
   * @param reactor The reactor to connect with.
   * @param path The socket file's path.
   * @param options As for `reactor.connectUNIX`.
   *
   * @example
   * ```ts
   * import { UNIXClientEndpoint } from "@poetry/serve/endpoints";
   * import { reactor } from "@poetry/serve/reactor";
   * new UNIXClientEndpoint(reactor, "/tmp/poetry.sock");
   * ```
   */
  constructor(reactor: ReactorUNIX, path: string, options: ConnectUNIXOptions = {}) {
    this.#reactor = reactor;
    this.#path = path;
    this.#options = options;
  }

  /**
   * Connects with a protocol `factory` builds; see {@linkcode StreamClientEndpoint.connect}.
   *
   * @example No such socket
   * ```ts
   * import { ConnectError } from "@poetry/serve/error";
   * import { UNIXClientEndpoint } from "@poetry/serve/endpoints";
   * import { Factory } from "@poetry/serve/factory";
   * import { reactor } from "@poetry/serve/reactor";
   *
   * const path = `${Deno.makeTempDirSync()}/nobody.sock`;
   * await new UNIXClientEndpoint(reactor, path).connect(new Factory())
   *   .addErrback((failure) => console.log(failure.check(ConnectError) !== null)); // true
   * ```
   */
  connect<F extends Factory>(factory: F): Deferred<NonNullable<ReturnType<F["buildProtocol"]>>> {
    return connectWith(factory, "UNIXClientEndpoint.connect", (wrapping) => {
      this.#reactor.connectUNIX(this.#path, wrapping, this.#options);
    });
  }
}

/**
 * A TCP port to listen on with TLS, as Twisted's `SSL4ServerEndpoint`.
 *
 * @example
 * ```ts
 * import { SSL4ServerEndpoint } from "@poetry/serve/endpoints";
 * import { reactor } from "@poetry/serve/reactor";
 * new SSL4ServerEndpoint(reactor, 8443, { cert: "server.crt", key: "server.key" });
 * ```
 */
export class SSL4ServerEndpoint implements StreamServerEndpoint<TCPAddress> {
  readonly #reactor: ReactorSSL;
  readonly #port: number;
  readonly #options: ListenSSLOptions;

  /**
   * An endpoint for `port`, serving the certificate and key in `options`.
   *
   * @param reactor The reactor to listen with.
   * @param port The port number.
   * @param options As for `reactor.listenSSL`: `cert` and `key` as PEM text or file paths.
   *
   * @example
   * ```ts
   * import { SSL4ServerEndpoint } from "@poetry/serve/endpoints";
   * import { reactor } from "@poetry/serve/reactor";
   * new SSL4ServerEndpoint(reactor, 0, { cert: "server.crt", key: "server.key", interface: "127.0.0.1" });
   * ```
   */
  constructor(reactor: ReactorSSL, port: number, options: ListenSSLOptions) {
    this.#reactor = reactor;
    this.#port = port;
    this.#options = { interface: "0.0.0.0", ...options };
  }

  /**
   * Listens with `factory`; fails with `CannotListenError` if the port cannot be opened, or
   * `TypeError` if the certificate or key cannot be read.
   *
   * @example A key file that is not there
   * ```ts
   * import { SSL4ServerEndpoint } from "@poetry/serve/endpoints";
   * import { Factory } from "@poetry/serve/factory";
   * import { reactor } from "@poetry/serve/reactor";
   *
   * const options = { cert: "no-such.crt", key: "no-such.key", interface: "127.0.0.1" };
   * await new SSL4ServerEndpoint(reactor, 0, options).listen(new Factory())
   *   .addErrback((failure) => console.log(failure.check(TypeError) !== null)); // true
   * ```
   */
  listen(factory: Factory): Deferred<ListeningPort<TCPAddress>> {
    return execute(() => this.#reactor.listenSSL(this.#port, factory, this.#options));
  }
}

/**
 * A host and TCP port to connect to with TLS, as Twisted's `SSL4ClientEndpoint`. The server's
 * certificate must verify for `options.hostname`, by default `host`.
 *
 * @example Trust a self-signed certificate
 * ```ts
 * import { SSL4ClientEndpoint } from "@poetry/serve/endpoints";
 * import { reactor } from "@poetry/serve/reactor";
 * new SSL4ClientEndpoint(reactor, "127.0.0.1", 8443, { caCerts: ["server.crt"], hostname: "localhost" });
 * ```
 */
export class SSL4ClientEndpoint implements StreamClientEndpoint {
  readonly #reactor: ReactorSSL;
  readonly #host: string;
  readonly #port: number;
  readonly #options: ConnectSSLOptions;

  /**
   * An endpoint for `host`:`port`.
   *
   * @param reactor The reactor to connect with.
   * @param host A host name or address.
   * @param port The port number.
   * @param options As for `reactor.connectSSL` (`caCerts`, `hostname`, `timeout`).
   *
   * @example
   * ```ts
   * import { SSL4ClientEndpoint } from "@poetry/serve/endpoints";
   * import { reactor } from "@poetry/serve/reactor";
   * new SSL4ClientEndpoint(reactor, "poetry.example.org", 443);
   * ```
   */
  constructor(reactor: ReactorSSL, host: string, port: number, options: ConnectSSLOptions = {}) {
    this.#reactor = reactor;
    this.#host = host;
    this.#port = port;
    this.#options = options;
  }

  /**
   * Connects with a protocol `factory` builds, once the TLS handshake is done; see
   * {@linkcode StreamClientEndpoint.connect}. A certificate that does not verify fails the
   * attempt.
   *
   * @example A certificate file that is not there
   * ```ts
   * import { SSL4ClientEndpoint } from "@poetry/serve/endpoints";
   * import { Factory } from "@poetry/serve/factory";
   * import { reactor } from "@poetry/serve/reactor";
   *
   * const endpoint = new SSL4ClientEndpoint(reactor, "127.0.0.1", 1, { caCerts: ["no-such.crt"] });
   * await endpoint.connect(new Factory())
   *   .addErrback((failure) => console.log(failure.check(TypeError) !== null)); // true
   * ```
   */
  connect<F extends Factory>(factory: F): Deferred<NonNullable<ReturnType<F["buildProtocol"]>>> {
    return connectWith(factory, "SSL4ClientEndpoint.connect", (wrapping) => {
      this.#reactor.connectSSL(this.#host, this.#port, wrapping, this.#options);
    });
  }
}

/**
 * Connects `protocol` itself through `endpoint`, without a factory of your own, as Twisted's
 * `connectProtocol`: the Deferred fires with `protocol` once it is connected.
 *
 * @example
 * ```ts
 * import { connectProtocol, TCP4ClientEndpoint, TCP4ServerEndpoint } from "@poetry/serve/endpoints";
 * import { Factory } from "@poetry/serve/factory";
 * import { Protocol } from "@poetry/serve/protocol";
 * import { reactor } from "@poetry/serve/reactor";
 *
 * class Hello extends Protocol {
 *   override connectionMade(): void {
 *     this.transport.write("hello\r\n");
 *     this.transport.loseConnection();
 *   }
 * }
 * const port = await new TCP4ServerEndpoint(reactor, 0, { interface: "127.0.0.1" })
 *   .listen(Factory.forProtocol(Protocol));
 * const hello = new Hello();
 * const endpoint = new TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port);
 * console.log(await connectProtocol(endpoint, hello) === hello); // true
 * await port.stopListening();
 * ```
 */
export function connectProtocol<P extends Protocol>(
  endpoint: StreamClientEndpoint,
  protocol: P,
): Deferred<P> {
  const factory = new Factory();
  factory.noisy = false;
  let built = false;
  factory.buildProtocol = (): P | null => {
    // A protocol connects once: a second connection (a retrying endpoint) gets none.
    if (built) return null;
    built = true;
    return protocol;
  };
  return endpoint.connect(factory) as Deferred<unknown> as Deferred<P>;
}

/** `endpoint description "…"`, for messages. */
function described(description: string): string {
  return `endpoint description ${JSON.stringify(description)}`;
}

/**
 * A server endpoint from a description, as Twisted's `serverFromString`:
 *
 * - `tcp:PORT[:interface=ADDRESS][:backlog=N]` (also `tcp:port=PORT`); `tcp6:` the same on
 *   IPv6, every interface (`::`) by default;
 * - `ssl:PORT[:privateKey=FILE][:certKey=FILE][:extraCertChain=FILE][:interface=…][:backlog=…]`
 *   (the key from `server.pem` by default, the certificate from the key's file if not given);
 * - `unix:PATH[:mode=OCTAL][:backlog=N][:lockfile=0]`.
 *
 * Arguments are separated by `:`; a backslash makes the next character literal (see
 * {@linkcode quoteStringArgument}). The type is matched without regard to case.
 *
 * @throws {TypeError} for an unknown type, an argument it does not take or cannot honour, a
 *   missing or malformed value, or an `extraCertChain` file without certificates.
 *
 * @example
 * ```ts
 * import { serverFromString } from "@poetry/serve/endpoints";
 * import { Factory } from "@poetry/serve/factory";
 * import { reactor } from "@poetry/serve/reactor";
 *
 * const endpoint = serverFromString(reactor, "tcp:0:interface=127.0.0.1");
 * const port = await endpoint.listen(new Factory());
 * console.log(port.getHost().host); // 127.0.0.1
 * await port.stopListening();
 * ```
 */
export function serverFromString(
  reactor: ReactorTCP & ReactorUNIX & ReactorSSL,
  description: `${"tcp" | "tcp6" | "ssl"}:${string}`,
): StreamServerEndpoint<TCPAddress>;
/**
 * A UNIX socket server endpoint from a `unix:` description; see the first signature.
 *
 * @example
 * ```ts
 * import { serverFromString } from "@poetry/serve/endpoints";
 * import { reactor } from "@poetry/serve/reactor";
 * serverFromString(reactor, "unix:/run/poetry.sock:mode=660");
 * ```
 */
export function serverFromString(
  reactor: ReactorTCP & ReactorUNIX & ReactorSSL,
  description: `unix:${string}`,
): StreamServerEndpoint<UNIXAddress>;
/**
 * A server endpoint from a description only known at run time, its address type left open;
 * see the first signature.
 *
 * @example A description from the command line
 * ```ts
 * import { serverFromString } from "@poetry/serve/endpoints";
 * import { reactor } from "@poetry/serve/reactor";
 * serverFromString(reactor, Deno.args[0] ?? "tcp:10000");
 * ```
 */
export function serverFromString(
  reactor: ReactorTCP & ReactorUNIX & ReactorSSL,
  description: string,
): StreamServerEndpoint;
export function serverFromString(
  reactor: ReactorTCP & ReactorUNIX & ReactorSSL,
  description: string,
): StreamServerEndpoint {
  const what = described(description);
  const parsed = parseDescription(description, what);
  switch (parsed.type) {
    case "tcp":
    case "tcp6": {
      const a = new Arguments(parsed, ["port", "interface", "backlog"], what);
      const port = a.port();
      const options: ListenTCPOptions = {};
      const iface = a.string("interface");
      if (iface !== undefined) options.interface = iface;
      const backlog = a.integer("backlog");
      if (backlog !== undefined) options.backlog = backlog;
      a.done();
      return parsed.type === "tcp"
        ? new TCP4ServerEndpoint(reactor, port, options)
        : new TCP6ServerEndpoint(reactor, port, options);
    }
    case "ssl": {
      const a = new Arguments(
        parsed,
        ["port", "privateKey", "certKey", "sslmethod", "interface", "backlog"],
        what,
      );
      const port = a.port();
      a.unsupported("sslmethod", "is not supported (Deno's TLS chooses the protocol versions)");
      a.unsupported("dhParameters", "is not supported (Deno's TLS has no DHE ciphers)");
      const key = a.string("privateKey") ?? "server.pem";
      let cert = a.string("certKey") ?? key;
      const chain = a.string("extraCertChain");
      if (chain !== undefined) {
        const chainPem = pemOrFile(chain, "extraCertChain");
        if (!chainPem.includes("-----BEGIN CERTIFICATE-----")) {
          throw new TypeError(`${what}: extraCertChain ${chain} holds no PEM certificate`);
        }
        cert = `${pemOrFile(cert, "certificate").trimEnd()}\n${chainPem}`;
      }
      const options: ListenSSLOptions = { cert, key };
      const iface = a.string("interface");
      if (iface !== undefined) options.interface = iface;
      const backlog = a.integer("backlog");
      if (backlog !== undefined) options.backlog = backlog;
      a.done();
      return new SSL4ServerEndpoint(reactor, port, options);
    }
    case "unix": {
      const a = new Arguments(parsed, ["address", "mode", "backlog", "lockfile"], what);
      const path = a.required("address");
      const mode = a.integer("mode", 8) ?? 0o666;
      a.integer("backlog"); // checked, and left to the system
      a.noLockfile();
      a.done();
      return new UNIXServerEndpoint(reactor, path, { mode });
    }
    default:
      throw new TypeError(
        `${what}: unknown endpoint type ${JSON.stringify(parsed.type)} (known: tcp, tcp6, ` +
          "ssl, unix)",
      );
  }
}

/** The `.pem` files in `dir`, read now (as Twisted loads them), skipping unreadable ones. */
function pemFilesIn(dir: string, what: string, name: string): string[] {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new TypeError(`${what}: cannot list ${name} ${dir}: ${why}`, { cause: e });
  }
  const pems: string[] = [];
  for (const entry of entries.sort((a, b) => a.name < b.name ? -1 : 1)) {
    if (!entry.name.toLowerCase().endsWith(".pem")) continue;
    try {
      pems.push(Deno.readTextFileSync(`${dir}/${entry.name}`));
    } catch {
      // Unreadable: skipped, as Twisted skips it.
    }
  }
  return pems;
}

/**
 * A client endpoint from a description, as Twisted's `clientFromString`:
 *
 * - `tcp:HOST:PORT[:timeout=SECONDS]` (also `tcp:host=HOST:port=PORT`, or one of each);
 * - `ssl:HOST:PORT[:timeout=…][:caCertsDir=DIR][:hostname=NAME]`, trusting the `.pem` files
 *   in `DIR` besides Deno's roots;
 * - `tls:HOST:PORT[:timeout=…][:trustRoots=DIR]`, the same with Twisted's newer names;
 * - `unix:PATH[:timeout=SECONDS][:lockfile=0]` (also `unix:path=PATH`).
 *
 * @throws {TypeError} for an unknown type, an argument it does not take or cannot honour
 *   (`bindAddress`, client certificates, `lockfile=1`), a missing or malformed value, or a
 *   certificate directory it cannot list.
 *
 * @example
 * ```ts
 * import { clientFromString } from "@poetry/serve/endpoints";
 * import { reactor } from "@poetry/serve/reactor";
 * clientFromString(reactor, "tcp:host=localhost:port=10000:timeout=5");
 * ```
 */
export function clientFromString(
  reactor: ReactorTCP & ReactorUNIX & ReactorSSL,
  description: string,
): StreamClientEndpoint {
  const what = described(description);
  const parsed = parseDescription(description, what);
  switch (parsed.type) {
    case "tcp":
    case "ssl":
    case "tls": {
      // Twisted's tcp: and ssl: fill host and port around the ones given as keywords; its tls:
      // takes them in order.
      const a = new Arguments(parsed, ["host", "port"], what, parsed.type !== "tls");
      const host = a.required("host");
      const port = a.port();
      const timeout = a.integer("timeout");
      a.unsupported("bindAddress", "is not supported (Deno cannot choose the local address)");
      if (parsed.type === "tcp") {
        a.done();
        return new TCP4ClientEndpoint(
          reactor,
          host,
          port,
          timeout === undefined ? {} : { timeout },
        );
      }
      const options: ConnectSSLOptions = timeout === undefined ? {} : { timeout };
      for (const name of ["certKey", "privateKey", "certificate", "endpoint"]) {
        a.unsupported(name, "is not supported (no client certificates or wrapped endpoints)");
      }
      const rootsName = parsed.type === "ssl" ? "caCertsDir" : "trustRoots";
      const roots = a.string(rootsName);
      if (roots !== undefined) options.caCerts = pemFilesIn(roots, what, rootsName);
      if (parsed.type === "ssl") {
        const hostname = a.string("hostname");
        if (hostname !== undefined) options.hostname = hostname;
      }
      a.done();
      return new SSL4ClientEndpoint(reactor, host, port, options);
    }
    case "unix": {
      const a = new Arguments(parsed, ["path"], what);
      const path = a.required("path");
      const timeout = a.integer("timeout");
      a.noLockfile();
      a.done();
      return new UNIXClientEndpoint(reactor, path, timeout === undefined ? {} : { timeout });
    }
    default:
      throw new TypeError(
        `${what}: unknown endpoint type ${JSON.stringify(parsed.type)} (known: tcp, ssl, ` +
          "tls, unix)",
      );
  }
}

/**
 * Quotes `argument` for an endpoint description, as Twisted's `quoteStringArgument`: a
 * backslash before each backslash and `:` (and, unlike Twisted's, `=`, so that a quoted
 * positional argument may contain one).
 *
 * @example A path with a colon in it
 * ```ts
 * import { quoteStringArgument } from "@poetry/serve/endpoints";
 * console.log(`unix:${quoteStringArgument("/tmp/a:b.sock")}`); // unix:/tmp/a\:b.sock
 * ```
 */
export function quoteStringArgument(argument: string): string {
  return argument.replace(/[\\:=]/g, (c) => `\\${c}`);
}
