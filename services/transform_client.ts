/**
 * The client side of the poetry transformation service (Part 13, client 6.0):
 * {@linkcode TransformProxy}`(host, port).xform(name, poem)` sends the request
 * `<name>.<poem>` as a netstring to a transformation server (see `transform.ts`) and returns a
 * Deferred that fires with the transformed poem the server sends back as a netstring.
 *
 * - {@linkcode TransformClientFactory} makes and fires that Deferred, once;
 * - {@linkcode TransformClientProtocol} sends the request when connected and hands the reply
 *   to the factory.
 *
 * The server closes the connection without a reply when it cannot transform the poem (an
 * unknown transform, a bad request): the Deferred then fails with
 * {@linkcode TransformFailedError}. A refused connection fails it with
 * `ConnectionRefusedError`, and a `timeout` with `TimeoutError`.
 *
 * @example Cummingsify a poem
 * ```ts
 * import { TransformProxy } from "@poetry/serve/transform-client";
 * import { TransformFactory, TransformService } from "@poetry/serve/transform";
 * import { reactor } from "@poetry/serve/reactor";
 *
 * const factory = new TransformFactory(new TransformService());
 * const port = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
 * const proxy = new TransformProxy("127.0.0.1", port.getHost().port);
 * console.log(await proxy.xform("cummingsify", "HERE IS MY POEM")); // here is my poem
 * await port.stopListening();
 * ```
 *
 * @module
 */

import { Deferred, fail } from "../defer.ts";
import { ConnectionDone } from "../error.ts";
import type { Failure } from "../failure.ts";
import { ClientFactory, type Connector } from "../protocols/factory.ts";
import { NetstringReceiver } from "../protocols/netstring_receiver.ts";
import { reactor as globalReactor } from "../reactor.ts";
import {
  type ClientReactor,
  connectRequest,
  DEFAULT_MAX_POEM_LENGTH,
  hostPort,
} from "./_client_request.ts";

/**
 * A transformation server did not transform the poem: it closed the connection with no reply
 * (an unknown transform, a request it could not read), or the connection broke before the
 * reply came (then `cause` says how).
 *
 * @example The message names the server and the transform
 * ```ts
 * import { TransformFailedError } from "@poetry/serve/transform-client";
 * const e = new TransformFailedError("sonnetify", "127.0.0.1:11000");
 * console.log(e.message);
 * // transform server 127.0.0.1:11000 closed the connection with no reply to "sonnetify"
 * ```
 */
export class TransformFailedError extends Error {
  /** The transform that was asked for. */
  readonly xformName: string;
  /** The transformation server, as `host:port`. */
  readonly where: string;

  /**
   * An error for the transform `xformName` that the server at `where` did not do.
   *
   * @param xformName The transform asked for.
   * @param where The server's address, as `host:port`.
   * @param detail How the connection ended, if not cleanly.
   * @param options `cause`: the connection's end.
   *
   * @example Say how the connection ended
   * ```ts
   * import { TransformFailedError } from "@poetry/serve/transform-client";
   * const e = new TransformFailedError("reverse", "127.0.0.1:11000", "connection reset");
   * console.log(e.name, e.xformName); // TransformFailedError reverse
   * ```
   */
  constructor(xformName: string, where: string, detail?: string, options?: ErrorOptions) {
    super(
      detail === undefined
        ? `transform server ${where} closed the connection with no reply to ` +
          JSON.stringify(xformName)
        : `transform server ${where} did not reply to ${JSON.stringify(xformName)}: ${detail}`,
      options,
    );
    this.name = "TransformFailedError";
    this.xformName = xformName;
    this.where = where;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * One transformation request: sends `<name>.<poem>` as a netstring when connected, and hands
 * the netstring that comes back to its factory, closing the connection.
 *
 * @example Speak to a test transport
 * ```ts
 * import { TransformClientFactory } from "@poetry/serve/transform-client";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * const factory = new TransformClientFactory("uppercase", "ode", "127.0.0.1:11000");
 * factory.deferred!.addCallback(console.log);
 * const protocol = factory.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 11000 })!;
 * const transport = new StringTransport();
 * protocol.makeConnection(transport);
 * console.log(transport.valueText()); // 13:uppercase.ode,
 * protocol.dataReceived(new TextEncoder().encode("3:ODE,")); // ODE
 * ```
 */
export class TransformClientProtocol extends NetstringReceiver {
  /** The factory that built this protocol. */
  declare factory: TransformClientFactory;
  /**
   * The longest reply taken, in bytes: a poem's limit ({@linkcode DEFAULT_MAX_POEM_LENGTH}),
   * not the server's request limit of 99,999 bytes, since a transformed poem can be longer than
   * the request (upper-casing can triple a poem's UTF-8 bytes).
   *
   * @example
   * ```ts
   * import { TransformClientProtocol } from "@poetry/serve/transform-client";
   * console.log(new TransformClientProtocol().MAX_LENGTH); // 16777216
   * ```
   */
  override MAX_LENGTH: number = DEFAULT_MAX_POEM_LENGTH;

  /**
   * Sends the factory's request.
   *
   * @example The request goes out once connected
   * ```ts
   * import { TransformClientFactory } from "@poetry/serve/transform-client";
   * import { StringTransport } from "@poetry/serve/testing";
   *
   * const factory = new TransformClientFactory("cummingsify", "HI", "127.0.0.1:11000");
   * const protocol = factory.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 11000 })!;
   * const transport = new StringTransport();
   * protocol.makeConnection(transport);
   * console.log(transport.valueText()); // 14:cummingsify.HI,
   * ```
   */
  override connectionMade(): void {
    this.sendRequest(this.factory.xformName, this.factory.poem);
  }

  /**
   * Sends the request `<xformName>.<poem>` as a netstring, in UTF-8.
   *
   * @param xformName The transform.
   * @param poem The poem.
   *
   * @example Send a request in UTF-8
   * ```ts
   * import { TransformClientProtocol } from "@poetry/serve/transform-client";
   * import { StringTransport } from "@poetry/serve/testing";
   * const protocol = new TransformClientProtocol();
   * const transport = new StringTransport();
   * protocol.transport = transport;
   * protocol.sendRequest("reverse", "é");
   * console.log(transport.valueText()); // 10:reverse.é,
   * ```
   */
  sendRequest(xformName: string, poem: string): void {
    this.sendString(`${xformName}.${poem}`);
  }

  /**
   * The reply: closes the connection and passes the transformed poem on.
   *
   * @param s The netstring's content.
   *
   * @example The reply closes the connection
   * ```ts
   * import { TransformClientFactory, TransformClientProtocol } from "@poetry/serve/transform-client";
   * import { StringTransport } from "@poetry/serve/testing";
   *
   * const factory = new TransformClientFactory("uppercase", "ode", "127.0.0.1:11000");
   * factory.deferred!.addCallback((poem) => console.log(poem));
   * const address = { type: "TCP", host: "127.0.0.1", port: 11000 } as const;
   * const protocol = factory.buildProtocol(address) as TransformClientProtocol;
   * const transport = new StringTransport();
   * protocol.makeConnection(transport);
   * protocol.stringReceived(new TextEncoder().encode("ODE")); // ODE
   * console.log(transport.disconnecting); // true
   * ```
   */
  override stringReceived(s: Uint8Array): void {
    this.transport.loseConnection();
    this.poemReceived(s);
  }

  /**
   * The connection is over: if it was closed for a reply that is not a netstring of at most
   * `MAX_LENGTH` bytes, the request fails saying so (not as a server that sent no reply).
   *
   * @example A reply too long to take
   * ```ts
   * import { TransformClientFactory } from "@poetry/serve/transform-client";
   * import { StringTransportWithDisconnection, connectProtocol } from "@poetry/serve/testing";
   *
   * const factory = new TransformClientFactory("uppercase", "ode", "127.0.0.1:11000");
   * factory.deferred!.addErrback((failure) => console.log(failure.getErrorMessage()));
   * const { protocol } = connectProtocol(factory, new StringTransportWithDisconnection());
   * protocol.dataReceived(new TextEncoder().encode("16777217:"));
   * // transform server 127.0.0.1:11000 did not reply to "uppercase": its reply is not a netstring of at most 16777216 bytes
   * ```
   */
  override connectionLost(_reason: Failure): void {
    if (this.brokenPeer) {
      this.factory.replyFailed(`its reply is not a netstring of at most ${this.MAX_LENGTH} bytes`);
    }
  }

  /**
   * Called with the transformed poem's bytes; passes them to the factory.
   *
   * @param poem The reply.
   *
   * @example Change the reply on its way (a subclass)
   * ```ts
   * import { TransformClientFactory, TransformClientProtocol } from "@poetry/serve/transform-client";
   * import { StringTransport } from "@poetry/serve/testing";
   *
   * class Trimming extends TransformClientProtocol {
   *   override poemReceived(poem: Uint8Array): void {
   *     super.poemReceived(new TextEncoder().encode(new TextDecoder().decode(poem).trim()));
   *   }
   * }
   * const factory = new TransformClientFactory("uppercase", " ode ", "127.0.0.1:11000");
   * factory.protocol = Trimming;
   * factory.deferred!.addCallback((poem) => console.log(JSON.stringify(poem)));
   * const protocol = factory.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 11000 })!;
   * protocol.makeConnection(new StringTransport());
   * protocol.dataReceived(new TextEncoder().encode("5: ODE ,")); // "ODE"
   * ```
   */
  poemReceived(poem: Uint8Array): void {
    this.factory.handlePoem(poem);
  }
}

/**
 * Builds the {@linkcode TransformClientProtocol} for one request and owns its Deferred
 * ({@linkcode TransformClientFactory.deferred}), which it fires once, letting go of it first:
 * with the transformed poem, or with the failure. Cancelling the Deferred closes the
 * connection.
 *
 * @example One request's factory
 * ```ts
 * import { TransformClientFactory } from "@poetry/serve/transform-client";
 * const factory = new TransformClientFactory("cummingsify", "A POEM", "127.0.0.1:11000");
 * console.log(factory.xformName, factory.poem); // cummingsify A POEM
 * ```
 */
export class TransformClientFactory extends ClientFactory {
  /** Builds {@linkcode TransformClientProtocol}s. */
  override protocol: typeof TransformClientProtocol = TransformClientProtocol;
  /**
   * `false`: a factory serves one request, so its start and stop are not logged (a proxy
   * would log two lines per fetch).
   */
  override noisy = false;
  /** The request's Deferred, until the factory fires it (or it is cancelled). */
  deferred: Deferred<string> | undefined;
  /** The transform asked for. */
  readonly xformName: string;
  /** The poem to transform. */
  readonly poem: string;
  /** The server's address, as `host:port`, for messages. */
  readonly where: string;
  #connector: Connector | undefined = undefined;

  /**
   * A factory for one request: transform `poem` with `xformName` at `where`.
   *
   * @param xformName The transform.
   * @param poem The poem.
   * @param where The server's address, as `host:port`, for messages.
   *
   * @example Take the Deferred before connecting
   * ```ts
   * import { TransformClientFactory } from "@poetry/serve/transform-client";
   * const factory = new TransformClientFactory("reverse", "a\nb\n", "127.0.0.1:11000");
   * console.log(factory.deferred!.called); // false
   * ```
   */
  constructor(xformName: string, poem: string, where: string) {
    super();
    this.xformName = xformName;
    this.poem = poem;
    this.where = where;
    this.deferred = new Deferred<string>(() => {
      this.deferred = undefined;
      this.#connector?.disconnect();
    });
  }

  /**
   * Remembers the connector, so that cancelling can close the connection.
   *
   * @example Cancelling closes the connection
   * ```ts
   * import { TransformClientFactory } from "@poetry/serve/transform-client";
   * import type { Connector } from "@poetry/serve/factory";
   *
   * const factory = new TransformClientFactory("reverse", "a\nb", "127.0.0.1:11000");
   * let closed = false;
   * factory.startedConnecting({ disconnect: () => void (closed = true) } as Connector);
   * const d = factory.deferred!;
   * d.addErrback((failure) => console.log(failure.type?.name));
   * d.cancel(); // CancelledError
   * console.log(closed); // true
   * ```
   */
  override startedConnecting(connector: Connector): void {
    this.#connector = connector;
  }

  /**
   * Fires the Deferred with the transformed poem, decoded from UTF-8 (or fails it with a
   * `TypeError` if the reply is not UTF-8).
   *
   * @param poem The reply's bytes.
   *
   * @example Fire with the decoded reply
   * ```ts
   * import { TransformClientFactory } from "@poetry/serve/transform-client";
   * const factory = new TransformClientFactory("uppercase", "ode", "127.0.0.1:11000");
   * factory.deferred!.addCallback(console.log);
   * factory.handlePoem(new TextEncoder().encode("ODE")); // ODE
   * ```
   */
  handlePoem(poem: Uint8Array): void {
    const d = this.deferred;
    if (d === undefined) return;
    this.deferred = undefined;
    let text: string;
    try {
      text = utf8.decode(poem);
    } catch {
      d.errback(new TypeError(`the transformed poem from ${this.where} is not UTF-8 text`));
      return;
    }
    d.callback(text);
  }

  /**
   * There is no reply to be had: fails the Deferred with {@linkcode TransformFailedError}
   * giving `detail` as the reason (without one, that the server closed with no reply).
   *
   * @param detail Why, e.g. that the reply broke the netstring format.
   * @param options `cause`: the underlying error.
   *
   * @example
   * ```ts
   * import { TransformClientFactory } from "@poetry/serve/transform-client";
   * const factory = new TransformClientFactory("reverse", "ode", "127.0.0.1:11000");
   * factory.deferred!.addErrback((failure) => console.log(failure.type?.name));
   * factory.replyFailed("its reply is not a netstring"); // TransformFailedError
   * ```
   */
  replyFailed(detail?: string, options?: ErrorOptions): void {
    const d = this.deferred;
    if (d === undefined) return;
    this.deferred = undefined;
    d.errback(new TransformFailedError(this.xformName, this.where, detail, options));
  }

  /**
   * The connection ended before a reply: fails the Deferred with
   * {@linkcode TransformFailedError} (its `cause` is how the connection ended).
   *
   * @example Closed with no reply: TransformFailedError
   * ```ts
   * import { TransformClientFactory } from "@poetry/serve/transform-client";
   * import { ConnectionDone } from "@poetry/serve/error";
   * import type { Connector } from "@poetry/serve/factory";
   * import { Failure } from "@poetry/serve/failure";
   *
   * const factory = new TransformClientFactory("sonnetify", "a poem", "127.0.0.1:11000");
   * factory.deferred!.addErrback((failure) => console.log(failure.type?.name));
   * factory.clientConnectionLost({} as Connector, new Failure(new ConnectionDone()));
   * // TransformFailedError
   * ```
   */
  override clientConnectionLost(_connector: Connector, reason: Failure): void {
    const clean = reason.check(ConnectionDone) !== null;
    this.replyFailed(clean ? undefined : reason.getErrorMessage(), { cause: reason.value });
  }

  /**
   * The connection could not be made: fails the Deferred with why
   * (`ConnectionRefusedError`...).
   *
   * @example A refused connection fails the request
   * ```ts
   * import { TransformClientFactory } from "@poetry/serve/transform-client";
   * import { ConnectionRefusedError } from "@poetry/serve/error";
   * import type { Connector } from "@poetry/serve/factory";
   * import { Failure } from "@poetry/serve/failure";
   *
   * const factory = new TransformClientFactory("reverse", "ode", "127.0.0.1:11000");
   * factory.deferred!.addErrback((failure) => console.log(failure.type?.name));
   * const refused = new Failure(new ConnectionRefusedError("127.0.0.1:11000"));
   * factory.clientConnectionFailed({} as Connector, refused); // ConnectionRefusedError
   * ```
   */
  override clientConnectionFailed(_connector: Connector, reason: Failure): void {
    const d = this.deferred;
    if (d === undefined) return;
    this.deferred = undefined;
    d.errback(reason);
  }
}

/**
 * Options of {@linkcode TransformProxy}.
 *
 * @example Two seconds per request, timed on a test reactor
 * ```ts
 * import { TransformProxy, type TransformProxyOptions } from "@poetry/serve/transform-client";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor();
 * const options: TransformProxyOptions = { timeout: 2, reactor };
 * const proxy = new TransformProxy("127.0.0.1", 11000, options);
 * proxy.xform("uppercase", "ode").addErrback((failure) => console.log(failure.getErrorMessage()));
 * reactor.advance(2); // transform uppercase at 127.0.0.1:11000 timed out after 2 seconds
 * ```
 */
export interface TransformProxyOptions {
  /**
   * Seconds each request (connecting, sending, waiting for the reply) may take before it
   * fails with `TimeoutError` and the connection is closed. Without it, only the connection
   * attempt is limited (to 30 seconds).
   * @default {undefined}
   */
  timeout?: number;
  /**
   * The reactor to connect with and time requests on.
   * @default {reactor}
   */
  reactor?: ClientReactor;
}

/**
 * Options of one {@linkcode TransformProxy.xform} request.
 *
 * @example Give up on one request
 * ```ts
 * import { TransformProxy, type XformOptions } from "@poetry/serve/transform-client";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const controller = new AbortController();
 * const options: XformOptions = { signal: controller.signal };
 * const proxy = new TransformProxy("127.0.0.1", 11000, { reactor: new MemoryReactor() });
 * const d = proxy.xform("reverse", "one\ntwo\n", options);
 * d.addErrback((failure) => console.log((failure.value as Error).name));
 * controller.abort(); // AbortError
 * ```
 */
export interface XformOptions {
  /**
   * Cancels the request when it aborts: the connection is closed and the Deferred fails with
   * the signal's reason. A signal that has already aborted fails it without connecting.
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * Stands for a transformation server: each {@linkcode TransformProxy.xform} call is one
 * connection to it, one request and one reply (Twisted's `TransformProxy` of client 6.0).
 *
 * @example Fall back to the original poem, as client 6.0 does
 * ```ts
 * import { TransformProxy } from "@poetry/serve/transform-client";
 *
 * const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = closed.addr.port;
 * closed.close(); // nothing listens there now
 * const proxy = new TransformProxy("127.0.0.1", port);
 * const poem = "Roses Are Red";
 * const result = await proxy.xform("cummingsify", poem).addErrback((failure) => {
 *   console.log("Cummingsify failed!", failure.getErrorMessage());
 *   return poem;
 * });
 * console.log(result); // Roses Are Red
 * ```
 */
export class TransformProxy {
  /** The server's host. */
  readonly host: string;
  /** The server's port. */
  readonly port: number;
  /** The server's address, as `host:port`. */
  readonly where: string;
  #timeout: number | undefined;
  #reactor: ClientReactor;

  /**
   * A proxy for the transformation server at `host`:`port`; nothing connects until
   * {@linkcode TransformProxy.xform}.
   *
   * @param host The server's host.
   * @param port The server's port.
   * @param options A time limit per request, and the reactor.
   *
   * @example A proxy with a time limit per request
   * ```ts
   * import { TransformProxy } from "@poetry/serve/transform-client";
   * console.log(new TransformProxy("localhost", 11000, { timeout: 5 }).where); // localhost:11000
   * ```
   */
  constructor(host: string, port: number, options: TransformProxyOptions = {}) {
    this.host = host;
    this.port = port;
    this.where = hostPort(host, port);
    this.#timeout = options.timeout;
    this.#reactor = options.reactor ?? globalReactor;
  }

  /**
   * Asks the server to transform `poem` with the transform `xformName`.
   *
   * @param xformName The transform (`cummingsify`, `uppercase`, `reverse` on this project's
   *   server); it cannot contain a `.`.
   * @param poem The poem.
   * @param options An abort signal for this request.
   * @returns The transformed poem; or a failure: {@linkcode TransformFailedError} (no reply),
   *   `ConnectionRefusedError`, `TimeoutError`, `RangeError` (a name with a `.`, or empty),
   *   the signal's reason once it aborts.
   *
   * @example A name with a dot fails at once
   * ```ts
   * import { TransformProxy } from "@poetry/serve/transform-client";
   * new TransformProxy("127.0.0.1", 11000).xform("a.b", "poem").addErrback((failure) => {
   *   console.log(failure.getErrorMessage());
   *   // not a transform name: "a.b" (it must be non-empty, without ".")
   * });
   * ```
   */
  xform(xformName: string, poem: string, options: XformOptions = {}): Deferred<string> {
    if (xformName === "" || xformName.includes(".")) {
      return fail(
        new RangeError(
          `not a transform name: ${JSON.stringify(xformName)} (it must be non-empty, without ".")`,
        ),
      );
    }
    const factory = new TransformClientFactory(xformName, poem, this.where);
    return connectRequest(
      this.#reactor,
      this.host,
      this.port,
      factory,
      factory.deferred!,
      `transform ${xformName} at ${this.where}`,
      { timeout: this.#timeout, signal: options.signal },
    );
  }
}
