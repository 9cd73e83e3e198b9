/**
 * The poetry client — the tutorial's *Get Poetry Now!* client (Parts 8 to 15), as a library
 * and as a program:
 *
 * - {@linkcode getPoetry}`(host, port)` downloads a poem and returns a `Deferred` that fires
 *   with its text; {@linkcode getPoetryBytes} fires with its bytes;
 * - {@linkcode PoetryClientFactory} makes and fires that Deferred ("you make it, you fire
 *   it"), and builds one {@linkcode PoetryClientProtocol}, which collects the bytes;
 * - {@linkcode poetryMain} is the command line: it fetches every poem at once and prints them
 *   in the order the addresses were given, optionally through a transformation server (client
 *   6.0; see `transform_client.ts`).
 *
 * **What counts as a poem.** A poetry server sends its poem and closes the connection. The
 * poem is every byte received until the server closes it cleanly (the protocol sees
 * `ConnectionDone`). A connection that breaks before that — reset by the server, say — fails
 * the download with `ConnectionLost` rather than giving back a poem cut short without a word.
 * The text is decoded as UTF-8; bytes that are not UTF-8 fail the download with a
 * `TypeError`.
 *
 * **Timeouts.** Without a `timeout`, a connection attempt gives up after 30 seconds (the
 * reactor's default) and a download may take as long as the server takes (a slow poetry
 * server takes minutes). With a `timeout` of S seconds, the whole download — connecting and
 * reading — must be over in S seconds, or the Deferred fails with `TimeoutError` and the
 * connection is closed.
 *
 * The program needs only network access to the servers it reads from:
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 services/get.ts 10000 10001        # poems on two ports
 * deno run --allow-net=localhost services/get.ts localhost:10000
 * deno run --allow-net=127.0.0.1 services/get.ts --timeout 5 10001
 * deno run --allow-net=127.0.0.1 services/get.ts --max-length 100000000 10000  # up to 100 MB
 * deno run --allow-net=127.0.0.1 services/get.ts --transform 11000 10000   # cummingsified
 * deno run --allow-net=127.0.0.1 services/get.ts --transform 11000 --xform reverse 10000
 * ```
 *
 * It prints each poem followed by a newline on standard output, in the order of the
 * addresses; says `Poem failed: REASON` on standard error for each poem it could not get (the
 * reason names the address, e.g. `Poem failed: connection to 127.0.0.1:10001 was refused`);
 * and exits with status 1 if any failed, 2 for a command line it cannot use, 0 otherwise.
 * When the transformation server fails, the original poem is printed and standard error says
 * `Transform NAME failed: ...` (as client 6.0 falls back); that does not count as a failure.
 *
 * @example Download a poem
 * ```ts
 * import { getPoetry } from "@poetry/serve/get";
 *
 * const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * (async () => {
 *   const conn = await server.accept();
 *   await conn.write(new TextEncoder().encode("Roses are red,\nviolets are blue.\n"));
 *   conn.close();
 * })();
 * const poem = await getPoetry("127.0.0.1", server.addr.port);
 * console.log(poem.split("\n")[0]); // Roses are red,
 * server.close();
 * ```
 *
 * @module
 */

import { Deferred, gatherResults } from "../defer.ts";
import { ConnectionDone } from "../error.ts";
import { Failure } from "../failure.ts";
import { ClientFactory, type Connector } from "../protocols/factory.ts";
import { Protocol } from "../protocols/protocol.ts";
import { Pieces } from "../protocols/_bytes.ts";
import { reactor as globalReactor } from "../reactor.ts";
import {
  type CommandSpec,
  formatHelp,
  HelpRequested,
  type HostPort,
  parseByteCount,
  parseOptions,
  parsePositiveSeconds,
  parseServerAddress,
  UsageError,
} from "../_options.ts";
import { TransformProxy } from "./transform_client.ts";
import {
  checkMaxLength,
  type ClientReactor,
  connectRequest,
  DEFAULT_MAX_POEM_LENGTH,
  hostPort,
} from "./_client_request.ts";

export type { ClientReactor };
export { DEFAULT_MAX_POEM_LENGTH };

/**
 * A download failed because the server sent more than the longest poem allowed
 * ({@linkcode GetPoetryOptions.maxLength}).
 *
 * @example
 * ```ts
 * import { PoemTooLongError } from "@poetry/serve/get";
 * const e = new PoemTooLongError("127.0.0.1:10000", 1024);
 * console.log(e.message); // the poem from 127.0.0.1:10000 is longer than 1024 bytes
 * ```
 */
export class PoemTooLongError extends Error {
  /** The server's address, as `host:port`. */
  readonly where: string;
  /** The limit that was passed, in bytes. */
  readonly maxLength: number;

  /**
   * An error for a poem from `where` longer than `maxLength` bytes.
   *
   * @example
   * ```ts
   * import { PoemTooLongError } from "@poetry/serve/get";
   * console.log(new PoemTooLongError("h:1", 10).maxLength); // 10
   * ```
   */
  constructor(where: string, maxLength: number) {
    super(`the poem from ${where} is longer than ${maxLength} bytes`);
    this.name = "PoemTooLongError";
    this.where = where;
    this.maxLength = maxLength;
  }
}

/**
 * Options of {@linkcode getPoetry} and {@linkcode getPoetryBytes}.
 *
 * @example A time limit, and a way to give up
 * ```ts
 * import { getPoetry, type GetPoetryOptions } from "@poetry/serve/get";
 * import { MemoryReactor } from "@poetry/serve/testing";
 *
 * const controller = new AbortController();
 * const reactor = new MemoryReactor();
 * const options: GetPoetryOptions = { timeout: 10, signal: controller.signal, reactor };
 * const d = getPoetry("127.0.0.1", 10000, options);
 * controller.abort(); // the user gave up before the 10 seconds
 * d.addErrback((failure) => console.log((failure.value as Error).name)); // AbortError
 * ```
 */
export interface GetPoetryOptions {
  /**
   * Seconds the whole download (connecting and reading) may take before it fails with
   * `TimeoutError` and the connection is closed. Without it, only the connection attempt is
   * limited (to 30 seconds).
   * @default {undefined}
   */
  timeout?: number;
  /**
   * Cancels the download when it aborts: the connection is closed and the Deferred fails with
   * the signal's reason (an `AbortError` `DOMException` unless given another). A signal that
   * has already aborted fails it without connecting.
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * The reactor to connect with and time the download on.
   * @default {reactor} (the shared reactor)
   */
  reactor?: ClientReactor;
  /**
   * The longest poem accepted, in bytes: a server sending more fails the download with
   * {@linkcode PoemTooLongError} and the connection is closed, so that memory stays bounded.
   * `Infinity` lifts the limit; a value that is not a number >= 0 throws `RangeError`.
   * @default {DEFAULT_MAX_POEM_LENGTH} (16 MiB)
   */
  maxLength?: number;
}

/**
 * One download: collects the bytes the server sends and, when the server closes the
 * connection cleanly, hands the poem to its factory ({@linkcode PoetryClientProtocol.poemReceived}).
 * A connection lost any other way is reported to the factory as a failure.
 *
 * @example Feed it a poem by hand
 * ```ts
 * import { PoetryClientFactory } from "@poetry/serve/get";
 * import { StringTransportWithDisconnection } from "@poetry/serve/testing";
 *
 * const factory = new PoetryClientFactory("127.0.0.1:10000");
 * factory.deferred!.addCallback((poem) => console.log(new TextDecoder().decode(poem)));
 * const protocol = factory.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 10000 })!;
 * const transport = new StringTransportWithDisconnection();
 * transport.protocol = protocol;
 * protocol.makeConnection(transport);
 * protocol.dataReceived(new TextEncoder().encode("Roses are red"));
 * transport.loseConnection(); // Roses are red
 * ```
 */
export class PoetryClientProtocol extends Protocol {
  /** The factory that built this protocol. */
  declare factory: PoetryClientFactory;
  /** The poem so far: a server sending a byte at a time costs about a byte a byte. */
  #poem = new Pieces();

  /**
   * Keeps a piece of the poem.
   *
   * @example Collect a poem that comes in pieces
   * ```ts
   * import { type PoetryClientProtocol, PoetryClientFactory } from "@poetry/serve/get";
   * import { ConnectionDone } from "@poetry/serve/error";
   * import { Failure } from "@poetry/serve/failure";
   *
   * const factory = new PoetryClientFactory("127.0.0.1:10000");
   * const d = factory.deferred!;
   * const address = { type: "TCP", host: "127.0.0.1", port: 10000 } as const;
   * const protocol = factory.buildProtocol(address) as PoetryClientProtocol;
   * protocol.dataReceived(new TextEncoder().encode("half a "));
   * protocol.dataReceived(new TextEncoder().encode("poem"));
   * protocol.connectionLost(new Failure(new ConnectionDone()));
   * console.log(new TextDecoder().decode(await d)); // half a poem
   * ```
   */
  override dataReceived(data: Uint8Array): void {
    // The download is over (failed as too long, or cancelled): nothing more is kept.
    if (this.factory.deferred === undefined) return;
    const { maxLength, where } = this.factory;
    if (this.#poem.length + data.length > maxLength) {
      // Fail now and let go of what came: a server that never stops must not fill memory.
      this.#poem.clear();
      this.factory.poemFailed(new Failure(new PoemTooLongError(where, maxLength)));
      this.transport.abortConnection();
      return;
    }
    this.#poem.add(data, 0, data.length);
  }

  /**
   * The server is done: a clean close delivers the poem
   * ({@linkcode PoetryClientProtocol.poemReceived}); any other end fails the download.
   *
   * @example A connection reset mid-poem fails the download
   * ```ts
   * import { type PoetryClientProtocol, PoetryClientFactory } from "@poetry/serve/get";
   * import { ConnectionLost } from "@poetry/serve/error";
   * import { Failure } from "@poetry/serve/failure";
   *
   * const factory = new PoetryClientFactory("127.0.0.1:10000");
   * factory.deferred!.addErrback((failure) => console.log(failure.type?.name));
   * const address = { type: "TCP", host: "127.0.0.1", port: 10000 } as const;
   * const protocol = factory.buildProtocol(address) as PoetryClientProtocol;
   * protocol.dataReceived(new TextEncoder().encode("the first li"));
   * protocol.connectionLost(new Failure(new ConnectionLost("127.0.0.1:10000", "reset"))); // ConnectionLost
   * ```
   */
  override connectionLost(reason: Failure): void {
    // Failed already (too long), or cancelled (the download closed the connection itself):
    // nobody wants the poem, so it is not put together.
    if (this.factory.deferred === undefined) {
      this.#poem.clear();
      return;
    }
    if (reason.check(ConnectionDone) === null) {
      this.factory.poemFailed(reason);
      return;
    }
    this.poemReceived(this.#poem.take());
  }

  /**
   * Called with the whole poem; passes it to the factory.
   *
   * @param poem The poem's bytes.
   *
   * @example Change the poem on its way (a subclass)
   * ```ts
   * import { PoetryClientFactory, PoetryClientProtocol } from "@poetry/serve/get";
   * import { ConnectionDone } from "@poetry/serve/error";
   * import { Failure } from "@poetry/serve/failure";
   *
   * class Shouting extends PoetryClientProtocol {
   *   override poemReceived(poem: Uint8Array): void {
   *     const text = new TextDecoder().decode(poem).toUpperCase();
   *     super.poemReceived(new TextEncoder().encode(text));
   *   }
   * }
   * const factory = new PoetryClientFactory("127.0.0.1:10000");
   * factory.protocol = Shouting;
   * const d = factory.deferred!;
   * const protocol = factory.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 10000 })!;
   * protocol.dataReceived(new TextEncoder().encode("ode"));
   * protocol.connectionLost(new Failure(new ConnectionDone()));
   * console.log(new TextDecoder().decode(await d)); // ODE
   * ```
   */
  poemReceived(poem: Uint8Array): void {
    this.factory.poemFinished(poem);
  }
}

/**
 * Builds the {@linkcode PoetryClientProtocol} for one download, and owns the Deferred that
 * reports it: {@linkcode PoetryClientFactory.deferred} fires once, with the poem's bytes or
 * with the failure (a refused connection, a lost one), and the factory lets go of it before
 * firing it. Cancelling the Deferred closes the connection (or stops the attempt).
 *
 * @example Download with a factory of your own
 * ```ts
 * import { PoetryClientFactory } from "@poetry/serve/get";
 * import { reactor } from "@poetry/serve/reactor";
 *
 * const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * server.accept().then(async (conn) => {
 *   await conn.write(new TextEncoder().encode("A short poem.\n"));
 *   conn.close();
 * });
 * const factory = new PoetryClientFactory(`127.0.0.1:${server.addr.port}`);
 * const d = factory.deferred!;
 * reactor.connectTCP("127.0.0.1", server.addr.port, factory);
 * console.log((await d).length); // 14
 * server.close();
 * ```
 */
export class PoetryClientFactory extends ClientFactory {
  /** Builds {@linkcode PoetryClientProtocol}s. */
  override protocol: typeof PoetryClientProtocol = PoetryClientProtocol;
  /**
   * `false`: a factory serves one download, so its start and stop are not logged (a proxy
   * would log two lines per fetch).
   */
  override noisy = false;
  /**
   * The download's Deferred, until it fires: take it before connecting. `undefined` once the
   * factory has fired it (or it was cancelled).
   */
  deferred: Deferred<Uint8Array> | undefined;
  /** The server's address, as `host:port`, for messages. */
  readonly where: string;
  /** The longest poem accepted, in bytes (see {@linkcode GetPoetryOptions.maxLength}). */
  readonly maxLength: number;
  #connector: Connector | undefined = undefined;

  /**
   * A factory for one download from `where`.
   *
   * @param where The server's address as `host:port`, for messages.
   * @param options `maxLength`: the longest poem accepted, in bytes (16 MiB by default).
   * @throws {RangeError} When `maxLength` is not a number >= 0.
   *
   * @example Take the Deferred before connecting
   * ```ts
   * import { PoetryClientFactory } from "@poetry/serve/get";
   * const factory = new PoetryClientFactory("127.0.0.1:10000");
   * console.log(factory.deferred!.called); // false
   * ```
   */
  constructor(where: string, options: { maxLength?: number } = {}) {
    super();
    this.where = where;
    this.maxLength = checkMaxLength(options.maxLength ?? DEFAULT_MAX_POEM_LENGTH);
    this.deferred = new Deferred<Uint8Array>(() => {
      // Cancelled (or timed out): forget the Deferred, which then fails with CancelledError,
      // and close whatever is open.
      this.deferred = undefined;
      this.#connector?.disconnect();
    });
  }

  /**
   * Remembers the connector, so that cancelling can close the connection.
   *
   * @example Cancelling closes the connection
   * ```ts
   * import { PoetryClientFactory } from "@poetry/serve/get";
   * import type { Connector } from "@poetry/serve/factory";
   *
   * const factory = new PoetryClientFactory("127.0.0.1:10000");
   * let closed = false;
   * factory.startedConnecting({ disconnect: () => void (closed = true) } as Connector);
   * const d = factory.deferred!;
   * d.addErrback((failure) => console.log(failure.type?.name));
   * d.cancel(); // CancelledError
   * console.log(closed, factory.deferred); // true undefined
   * ```
   */
  override startedConnecting(connector: Connector): void {
    this.#connector = connector;
  }

  /**
   * Fires the Deferred with the poem (if it has not fired).
   *
   * @param poem The poem's bytes.
   *
   * @example Fire once, letting go first
   * ```ts
   * import { PoetryClientFactory } from "@poetry/serve/get";
   * const factory = new PoetryClientFactory("127.0.0.1:10000");
   * const d = factory.deferred!;
   * factory.poemFinished(new TextEncoder().encode("ode"));
   * console.log(d.called, factory.deferred); // true undefined
   * ```
   */
  poemFinished(poem: Uint8Array): void {
    const d = this.deferred;
    if (d === undefined) return;
    this.deferred = undefined;
    d.callback(poem);
  }

  /**
   * Fails the Deferred (if it has not fired): the connection was lost before the poem ended.
   *
   * @param reason Why.
   *
   * @example Fail the download
   * ```ts
   * import { PoetryClientFactory } from "@poetry/serve/get";
   * import { ConnectionLost } from "@poetry/serve/error";
   * import { Failure } from "@poetry/serve/failure";
   * const factory = new PoetryClientFactory("127.0.0.1:10000");
   * const d = factory.deferred!;
   * d.addErrback((f) => console.log(f.getErrorMessage()));
   * factory.poemFailed(new Failure(new ConnectionLost("127.0.0.1:10000")));
   * // connection with 127.0.0.1:10000 was lost
   * ```
   */
  poemFailed(reason: Failure): void {
    const d = this.deferred;
    if (d === undefined) return;
    this.deferred = undefined;
    d.errback(reason);
  }

  /**
   * Fails the Deferred with why the connection could not be made (`ConnectionRefusedError`,
   * `DNSLookupError`, `TimeoutError`...).
   *
   * @example A refused connection fails the download
   * ```ts
   * import { PoetryClientFactory } from "@poetry/serve/get";
   * import { ConnectionRefusedError } from "@poetry/serve/error";
   * import type { Connector } from "@poetry/serve/factory";
   * import { Failure } from "@poetry/serve/failure";
   *
   * const factory = new PoetryClientFactory("127.0.0.1:10000");
   * factory.deferred!.addErrback((failure) => console.log(failure.getErrorMessage()));
   * const refused = new Failure(new ConnectionRefusedError("127.0.0.1:10000"));
   * factory.clientConnectionFailed({} as Connector, refused);
   * // connection to 127.0.0.1:10000 was refused
   * ```
   */
  override clientConnectionFailed(_connector: Connector, reason: Failure): void {
    this.poemFailed(reason);
  }
}

/**
 * Downloads the poem at `host`:`port` and returns a Deferred that fires with its bytes,
 * exactly as the server sent them, or fails: `ConnectionRefusedError` (nothing listens there),
 * `DNSLookupError`, `ConnectionLost` (the connection broke before the server closed it),
 * `TimeoutError` (after `options.timeout` seconds, or 30 seconds of trying to connect).
 * Cancelling the Deferred, or aborting `options.signal`, closes the connection.
 *
 * @param host The server's host name or address.
 * @param port The server's port.
 * @param options The time limit, an abort signal and the reactor.
 * @returns The poem's bytes, when the server has closed the connection.
 *
 * @example The bytes exactly as the server sent them
 * ```ts
 * import { getPoetryBytes } from "@poetry/serve/get";
 *
 * const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * server.accept().then(async (conn) => {
 *   await conn.write(new Uint8Array([0x6f, 0x64, 0x65]));
 *   conn.close();
 * });
 * console.log(await getPoetryBytes("127.0.0.1", server.addr.port)); // Uint8Array(3) [ 111, 100, 101 ]
 * server.close();
 * ```
 */
export function getPoetryBytes(
  host: string,
  port: number,
  options: GetPoetryOptions = {},
): Deferred<Uint8Array> {
  const { reactor = globalReactor } = options;
  const where = hostPort(host, port);
  const factory = new PoetryClientFactory(where, { maxLength: options.maxLength });
  return connectRequest(
    reactor,
    host,
    port,
    factory,
    factory.deferred!,
    `poem download from ${where}`,
    options,
  );
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Decodes a poem's bytes as UTF-8.
 *
 * @throws {TypeError} When they are not UTF-8 (the message names `where`).
 */
function decodePoem(poem: Uint8Array, where: string): string {
  try {
    return utf8.decode(poem);
  } catch {
    throw new TypeError(`the poem from ${where} is not UTF-8 text`);
  }
}

/**
 * Downloads the poem at `host`:`port` and returns a Deferred that fires with its text
 * (decoded from UTF-8): {@linkcode getPoetryBytes}, decoded. Besides the failures of
 * `getPoetryBytes`, it fails with `TypeError` when the poem is not UTF-8.
 *
 * @param host The server's host name or address.
 * @param port The server's port.
 * @param options The time limit, an abort signal and the reactor.
 * @returns The poem.
 *
 * @example Part 15's test_client
 * ```ts
 * import { getPoetry } from "@poetry/serve/get";
 * import { PoetryFactory, PoetryService } from "@poetry/serve/fastpoetry";
 * import { reactor } from "@poetry/serve/reactor";
 *
 * const service = new PoetryService("tide");
 * service.startService();
 * const port = reactor.listenTCP(0, new PoetryFactory(service), { interface: "127.0.0.1" });
 * const poem = await getPoetry("127.0.0.1", port.getHost().port);
 * console.log(poem.length > 0); // true
 * await port.stopListening();
 * ```
 *
 * @example Give up after a second
 * ```ts
 * import { getPoetry } from "@poetry/serve/get";
 * import { TimeoutError } from "@poetry/serve/defer";
 *
 * const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 }); // accepts, never answers
 * const d = getPoetry("127.0.0.1", silent.addr.port, { timeout: 0.1 });
 * try {
 *   await d;
 * } catch (e) {
 *   console.log(e instanceof TimeoutError, (e as Error).message);
 *   // true poem download from 127.0.0.1:<port> timed out after 0.1 seconds
 * }
 * silent.close();
 * ```
 *
 * @example Stop when the user gives up
 * ```ts
 * import { getPoetry } from "@poetry/serve/get";
 *
 * const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 }); // accepts, never answers
 * const controller = new AbortController();
 * const d = getPoetry("127.0.0.1", silent.addr.port, { signal: controller.signal });
 * setTimeout(() => controller.abort(), 100);
 * try {
 *   await d;
 * } catch (e) {
 *   console.log((e as Error).name); // AbortError
 * }
 * silent.close();
 * ```
 */
export function getPoetry(
  host: string,
  port: number,
  options: GetPoetryOptions = {},
): Deferred<string> {
  const where = hostPort(host, port);
  return getPoetryBytes(host, port, options).addCallback((poem) => decodePoem(poem, where));
}

// ---- The command line -----------------------------------------------------------------------

interface GetCommandOptions {
  timeout: number | undefined;
  "max-length": number;
  transform: HostPort | undefined;
  xform: string | undefined;
  addresses: HostPort[];
}

function parseTransformName(text: string): string {
  if (text === "" || text.includes(".")) {
    throw new UsageError(`${JSON.stringify(text)} is not a transform name (no "." allowed)`);
  }
  return text;
}

const GET_COMMAND: CommandSpec<GetCommandOptions> = {
  synopsis: "[options] [HOST:]PORT ...",
  description: "Gets Poetry Now! Downloads the poems from the servers at the addresses given " +
    "(a bare PORT means 127.0.0.1:PORT), all at once, and prints them in the order given. " +
    "With --transform, each poem is first sent to that transformation server; if it fails, " +
    "the original poem is printed. Exit status: 0 when every poem came, 1 when one failed, " +
    "2 for a bad command line.",
  options: [
    {
      name: "timeout",
      short: "t",
      help: "Seconds each download (and each transformation) may take.",
      defaultText: "no limit (30 seconds to connect)",
      parse: parsePositiveSeconds,
    },
    {
      name: "max-length",
      default: DEFAULT_MAX_POEM_LENGTH,
      defaultText: `${DEFAULT_MAX_POEM_LENGTH} (16 MiB)`,
      help: "The longest poem accepted, in bytes: a server sending more fails.",
      parse: parseByteCount,
    },
    {
      name: "transform",
      help: "The transformation server, [HOST:]PORT, to send each poem through.",
      parse: parseServerAddress,
    },
    {
      name: "xform",
      help: "The transform to ask for (with --transform).",
      defaultText: "cummingsify",
      parse: parseTransformName,
    },
  ],
  positionals: [
    {
      name: "addresses",
      rest: true,
      required: true,
      help: "The poetry servers, as [HOST:]PORT.",
      parse: parseServerAddress,
    },
  ],
};

/**
 * A place to write the program's output: `Deno.stdout`, `Deno.stderr` or a test's.
 *
 * @example Catch the program's complaint
 * ```ts
 * import { type OutputSync, poetryMain } from "@poetry/serve/get";
 *
 * let text = "";
 * const stderr: OutputSync = {
 *   writeSync(data: Uint8Array): number {
 *     text += new TextDecoder().decode(data);
 *     return data.length;
 *   },
 * };
 * console.log(await poetryMain(["10000", "ten"], { stderr })); // 2
 * console.log(text.trimEnd()); // get: argument addresses: "ten" is not a port number (0 to 65535)
 * ```
 */
export interface OutputSync {
  /** Writes some of `data`; returns how many bytes were written. */
  writeSync(data: Uint8Array): number;
}

/**
 * Options of {@linkcode poetryMain}.
 *
 * @example Run the program on a test reactor
 * ```ts
 * import { poetryMain, type PoetryMainOptions } from "@poetry/serve/get";
 * import { connectProtocol, MemoryReactor } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor();
 * const options: PoetryMainOptions = { reactor }; // and the process's stdout and stderr
 * const status = poetryMain(["10000"], options); // connects at once
 * const { protocol, transport } = connectProtocol(reactor.tcpClients[0].factory);
 * protocol.dataReceived(new TextEncoder().encode("Roses are red"));
 * transport.loseConnection();
 * console.log(await status); // prints the poem, "Roses are red", then 0
 * ```
 */
export interface PoetryMainOptions {
  /**
   * Where the poems go.
   * @default {Deno.stdout}
   */
  stdout?: OutputSync;
  /**
   * Where failures and help go.
   * @default {Deno.stderr}
   */
  stderr?: OutputSync;
  /**
   * The reactor to connect with.
   * @default {reactor}
   */
  reactor?: ClientReactor;
}

const encoder = new TextEncoder();

/** `message`, after `where: ` unless it already names `where`. */
function naming(where: string, message: string): string {
  return message.includes(where) ? message : `${where}: ${message}`;
}

function writeText(out: OutputSync, text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += out.writeSync(bytes.subarray(written));
}

/**
 * The `get` program: parses `args`, downloads every poem at once (through the transformation
 * server with `--transform`), prints the poems in the order of the addresses, and returns the
 * exit status: 0 when every poem came, 1 when one failed (each failure is reported on
 * standard error as `Poem failed: REASON`, naming the address), 2 for a command line it
 * cannot use (one line on standard error). `--help` prints the help and returns 0.
 *
 * @param args The command line, without the program's name.
 * @param options Where to write, and the reactor.
 * @returns The exit status.
 *
 * @example Fetch two poems
 * ```ts
 * import { poetryMain } from "@poetry/serve/get";
 * import { PoetryFactory, PoetryService } from "@poetry/serve/fastpoetry";
 * import { reactor } from "@poetry/serve/reactor";
 *
 * const service = new PoetryService("telegram");
 * service.startService();
 * const port = reactor.listenTCP(0, new PoetryFactory(service), { interface: "127.0.0.1" });
 * const number = port.getHost().port;
 * const printed: string[] = [];
 * const stdout = {
 *   writeSync(data: Uint8Array): number {
 *     printed.push(new TextDecoder().decode(data));
 *     return data.length;
 *   },
 * };
 * const status = await poetryMain([String(number), `127.0.0.1:${number}`], { stdout });
 * console.log(status, printed.length, printed[0].startsWith("TELEGRAM")); // 0 2 true
 * await port.stopListening();
 * ```
 */
export async function poetryMain(
  args: readonly string[],
  options: PoetryMainOptions = {},
): Promise<number> {
  const { stdout = Deno.stdout, stderr = Deno.stderr, reactor = globalReactor } = options;
  let parsed: GetCommandOptions;
  try {
    parsed = parseOptions(GET_COMMAND, args);
    if (parsed.xform !== undefined && parsed.transform === undefined) {
      throw new UsageError("option --xform needs --transform HOST:PORT");
    }
  } catch (e) {
    if (e instanceof HelpRequested) {
      writeText(stdout, formatHelp(GET_COMMAND, "get"));
      return 0;
    }
    if (e instanceof UsageError) {
      writeText(stderr, `get: ${e.message}\n`);
      return 2;
    }
    throw e;
  }

  const { timeout, transform, addresses } = parsed;
  const maxLength = parsed["max-length"];
  const xformName = parsed.xform ?? "cummingsify";
  const proxy = transform && new TransformProxy(transform.host, transform.port, {
    timeout,
    reactor,
  });

  const poems = addresses.map(({ host, port }) => {
    const where = hostPort(host, port);
    let d: Deferred<string> = getPoetry(host, port, { timeout, reactor, maxLength });
    if (proxy) {
      d = d.addCallback((poem) =>
        proxy.xform(xformName, poem).addErrback((failure) => {
          writeText(
            stderr,
            `Transform ${xformName} failed: ${naming(proxy.where, failure.getErrorMessage())}` +
              ` (printing the poem from ${where} as it came)\n`,
          );
          return poem;
        })
      );
    }
    return d.addErrback((failure): undefined => {
      const hint = failure.check(PoemTooLongError) ? " (--max-length allows more)" : "";
      writeText(stderr, `Poem failed: ${naming(where, failure.getErrorMessage())}${hint}\n`);
      return undefined;
    });
  });
  const results = await gatherResults(poems);
  let failed = 0;
  for (const poem of results) {
    if (poem === undefined) failed++;
    else writeText(stdout, poem + "\n");
  }
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await poetryMain(Deno.args));
}
