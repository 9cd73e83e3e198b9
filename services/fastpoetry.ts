/**
 * The fast poetry server: it sends its poem to whoever connects, as fast as it can, and hangs
 * up — the tutorial's `fastpoetry` (Parts 11 and 16), split as Twisted splits it:
 *
 * - {@linkcode PoetryService} holds the poem: it loads it when started and knows nothing of
 *   sockets;
 * - {@linkcode PoetryFactory} builds one {@linkcode PoetryProtocol} per connection, and gives
 *   it the service;
 * - {@linkcode PoetryProtocol} writes the poem's bytes and closes the connection;
 * - {@linkcode plugin} (`fastpoetry`) puts them together for the runner:
 *   {@linkcode makeFastPoetryService}.
 *
 * On the wire a client gets exactly the bytes of the poem file, then end-of-file.
 *
 * The module is also a program. With a bundled poem it needs only `--allow-net`:
 *
 * ```sh
 * deno run --allow-net services/fastpoetry.ts --port 10000            # the default poem
 * deno run --allow-net services/fastpoetry.ts --port 10000 --poem tide
 * deno run --allow-net --allow-read=ode.txt services/fastpoetry.ts ode.txt
 * deno run --allow-net services/fastpoetry.ts --poem https://example.com/ode.txt
 * deno run --allow-net services/fastpoetry.ts --poem keeper --port 10000 --poem tide --port 10001
 * ```
 *
 * @example Serve a poem on a port and read it back
 * ```ts
 * import { PoetryFactory, PoetryService } from "@poetry/serve/fastpoetry";
 * import { reactor } from "@poetry/serve/reactor";
 *
 * const service = new PoetryService("kettle");
 * service.startService();
 * const port = reactor.listenTCP(0, new PoetryFactory(service), { interface: "127.0.0.1" });
 * const number = port.getHost().port;
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: number });
 * const poem = await new Response(conn.readable).text();
 * console.log(poem.split("\n")[0]); // Sonnet for a Kettle
 * await port.stopListening();
 * service.stopService();
 * ```
 *
 * @module
 */

import { msg } from "../log.ts";
import type { CommandSpec, ServiceMaker } from "./plugin.ts";
import { ServerFactory } from "../protocols/factory.ts";
import { Protocol } from "../protocols/protocol.ts";
import { MultiService } from "./multi_service.ts";
import { Service } from "./service.ts";
import { TCPServer } from "./internet.ts";
import { UsageError } from "../_options.ts";
import {
  DEFAULT_POEM,
  describePoemSource,
  pairPoemsWithPorts,
  parsePoemSource,
  PoemNotFoundError,
  type PoemServerOptions,
  poemServerOptions,
  type PoemSource,
  readPoem,
  readPoemSync,
} from "./_poem_source.ts";

export { DEFAULT_POEM, PoemNotFoundError, type PoemServerOptions };

/**
 * The port fastpoetry listens on when given none.
 *
 * @example Poems given no port go on consecutive ports from the default
 * ```ts
 * import { FAST_POETRY_PORT, makeFastPoetryService } from "@poetry/serve/fastpoetry";
 * import { TCPServer } from "@poetry/serve/internet";
 *
 * const top = await makeFastPoetryService({
 *   port: [],
 *   iface: "localhost",
 *   poem: ["keeper", "tide"],
 *   files: [],
 * });
 * const servers = [...top].filter((service) => service instanceof TCPServer);
 * const ports = servers.map((server) => server.portNumber);
 * console.log(FAST_POETRY_PORT, ports); // 10000 [ 10000, 10001 ]
 * ```
 */
export const FAST_POETRY_PORT = 10000;

/**
 * A service that holds one poem: it loads it when started ({@linkcode PoetryService.startService})
 * and keeps its bytes in {@linkcode PoetryService.poem} for any protocol that wants them. It
 * knows nothing of sockets.
 *
 * The poem is a bundled poem's name (`keeper`; see `poetry/poems.ts`), a file path, or a
 * `file:`, `http:` or `https:` URL. A bare name of a bundled poem always means the bundled
 * poem, which needs no permission; write `./keeper` for a file of that name. Files and bundled
 * poems are loaded by `startService` itself (again at each start, so a restarted service
 * serves the file as it is now); a file needs `--allow-read` for it. A poem at an
 * `http:`/`https:` URL must be fetched first with `await service.loadPoem()` (needing
 * `--allow-net` for its host), since `startService` cannot wait.
 *
 * @example
 * ```ts
 * import { PoetryService } from "@poetry/serve/fastpoetry";
 *
 * const service = new PoetryService("tide");
 * service.startService();
 * console.log(service.running, service.poem!.length > 0); // true true
 * service.stopService();
 * ```
 */
export class PoetryService extends Service {
  /** The poem as given: a bundled name, a path or a URL. */
  readonly poetryFile: string;
  /**
   * The poem's bytes, exactly as in its file; `undefined` until the service first starts (or
   * {@linkcode PoetryService.loadPoem} returns).
   */
  poem: Uint8Array | undefined = undefined;
  #source: PoemSource;
  #fetched: Uint8Array | undefined = undefined;

  /**
   * A service for the poem `poetryFile`. Nothing is read until the service starts.
   *
   * @param poetryFile A bundled poem's name, a file path, or a `file:`, `http:` or `https:` URL.
   * @throws {UsageError} For a URL of another scheme, or an empty string.
   *
   * @example
   * ```ts
   * import { PoetryService } from "@poetry/serve/fastpoetry";
   * const service = new PoetryService("poems/ode.txt");
   * console.log(service.poetryFile, service.poem); // poems/ode.txt undefined
   * ```
   */
  constructor(poetryFile: string | URL) {
    super();
    this.poetryFile = poetryFile instanceof URL ? poetryFile.href : poetryFile;
    this.#source = parsePoemSource(poetryFile);
  }

  /**
   * Reads or fetches the poem now and keeps it, so that {@linkcode PoetryService.startService}
   * has it. Required before starting a service whose poem is at an `http:`/`https:` URL;
   * optional otherwise (a way to find out early that a file is missing).
   *
   * @returns The poem's bytes.
   * @throws {PoemNotFoundError} When there is no such file or bundled poem, or the URL answers
   * 404 (the message names the poem).
   * @throws {UsageError} When the file cannot be read or the URL cannot be fetched (the
   * message says which permission is missing, if one is).
   *
   * @example Fetch a poem before starting
   * ```ts
   * import { PoetryService } from "@poetry/serve/fastpoetry";
   * const service = new PoetryService("hours"); // or "https://example.com/ode.txt"
   * const poem = await service.loadPoem();
   * service.startService();
   * console.log(poem.length === service.poem!.length); // true
   * service.stopService();
   * ```
   */
  async loadPoem(): Promise<Uint8Array> {
    const poem = await readPoem(this.#source);
    this.#fetched = poem;
    this.poem = poem;
    return poem;
  }

  /**
   * Loads the poem and starts the service, and logs `loaded a poem from: <poem>`. A file is
   * read afresh at each start; a URL's poem is the one {@linkcode PoetryService.loadPoem}
   * fetched. If loading fails the service is not started.
   *
   * @throws {PoemNotFoundError} When there is no such file (the message names it).
   * @throws {UsageError} When the file cannot be read, or the poem is at a URL and
   * {@linkcode PoetryService.loadPoem} has not fetched it.
   *
   * @example A missing file is a clear error
   * ```ts
   * import { PoemNotFoundError, PoetryService } from "@poetry/serve/fastpoetry";
   * const service = new PoetryService("missing.txt");
   * try {
   *   service.startService();
   * } catch (e) {
   *   console.log((e as PoemNotFoundError).message); // no such poem file: missing.txt
   * }
   * console.log(service.running); // false
   * ```
   */
  override startService(): void {
    let poem: Uint8Array;
    if (this.#source.kind === "url") {
      if (this.#fetched === undefined) {
        throw new UsageError(
          `the poem at ${this.poetryFile} is not fetched yet: await loadPoem() before startService()`,
        );
      }
      poem = this.#fetched;
    } else {
      poem = readPoemSync(this.#source);
    }
    this.poem = poem;
    super.startService();
    msg(`loaded a poem from: ${describePoemSource(this.#source)}`);
  }
}

/**
 * Sends the poem of its factory's service to the peer, then closes the connection once it is
 * sent. Logs `sending N bytes of poetry to ADDR`, where ADDR is the peer's
 * address object as the log shows objects: `{ type: "TCP", host: "127.0.0.1",
 * port: 58208 }` (Twisted shows its `IPv4Address(type='TCP', host='127.0.0.1', port=58208)`).
 *
 * If the service has no poem (it was never started), the connection is closed with nothing
 * sent, and a log line says so.
 *
 * @example Send the poem to a test transport
 * ```ts
 * import { PoetryFactory, PoetryService } from "@poetry/serve/fastpoetry";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * const service = new PoetryService("kettle");
 * service.startService();
 * const factory = new PoetryFactory(service);
 * const protocol = factory.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 1 })!;
 * const transport = new StringTransport();
 * protocol.makeConnection(transport);
 * console.log(transport.value().length === service.poem!.length, transport.disconnecting);
 * // true true
 * ```
 */
export class PoetryProtocol extends Protocol {
  /** The factory that built this protocol. */
  declare factory: PoetryFactory;

  /**
   * Writes the poem and loses the connection.
   *
   * @example
   * ```ts
   * import { PoetryProtocol } from "@poetry/serve/fastpoetry";
   * console.log(typeof PoetryProtocol.prototype.connectionMade); // function
   * ```
   */
  override connectionMade(): void {
    const poem = this.factory.service.poem;
    if (poem === undefined) {
      msg(`no poem to send to`, this.transport.getPeer(), `(the poetry service is not started)`);
    } else {
      msg(`sending ${poem.length} bytes of poetry to`, this.transport.getPeer());
      this.transport.write(poem);
    }
    this.transport.loseConnection();
  }
}

/**
 * Builds a {@linkcode PoetryProtocol} for each connection and lends it the
 * {@linkcode PoetryService} that holds the poem.
 *
 * @example
 * ```ts
 * import { PoetryFactory, PoetryService } from "@poetry/serve/fastpoetry";
 * const factory = new PoetryFactory(new PoetryService("keeper"));
 * console.log(factory.service.poetryFile); // keeper
 * ```
 */
export class PoetryFactory extends ServerFactory {
  /** Builds {@linkcode PoetryProtocol}s. */
  override protocol: typeof PoetryProtocol = PoetryProtocol;
  /** The service whose poem the protocols send. */
  readonly service: PoetryService;

  /**
   * A factory serving `service`'s poem.
   *
   * @param service The service holding the poem.
   *
   * @example
   * ```ts
   * import { PoetryFactory, PoetryService } from "@poetry/serve/fastpoetry";
   * const factory = new PoetryFactory(new PoetryService("tide"));
   * ```
   */
  constructor(service: PoetryService) {
    super();
    this.service = service;
  }
}

/**
 * What {@linkcode makeFastPoetryService} and the `fastpoetry` plugin take.
 *
 * @example Serve a poem from code, and read it back
 * ```ts
 * import { type FastPoetryOptions, makeFastPoetryService } from "@poetry/serve/fastpoetry";
 * import { getPoetry } from "@poetry/serve/get";
 * import { TCPServer } from "@poetry/serve/internet";
 *
 * const options: FastPoetryOptions = { port: [0], iface: "127.0.0.1", poem: ["tide"], files: [] };
 * const top = await makeFastPoetryService(options);
 * top.startService();
 * const server = [...top].find((service) => service instanceof TCPServer)!;
 * const poem = await getPoetry("127.0.0.1", server.getHost().port);
 * console.log(poem.split("\n")[0]); // Villanelle of the Tide
 * await top.stopService();
 * ```
 */
export type FastPoetryOptions = PoemServerOptions;

/**
 * The `fastpoetry` command line: `--port`/`-p`, `--poem`, `--iface`, and poems as positional
 * arguments. Repeat `--poem` and `--port` to serve several poems: the i-th poem (the `--poem`
 * options in order, then the positional files) goes with the i-th `--port`.
 *
 * @example Two poems, each with its port
 * ```ts
 * import { fastPoetryOptions } from "@poetry/serve/fastpoetry";
 * import { parseOptions } from "@poetry/serve/plugin";
 *
 * const args = ["--poem", "keeper", "-p", "10000", "--poem", "tide", "-p", "10001"];
 * const options = parseOptions(fastPoetryOptions, args);
 * console.log(options.poem, options.port); // [ "keeper", "tide" ] [ 10000, 10001 ]
 * ```
 */
export const fastPoetryOptions: CommandSpec<FastPoetryOptions> = {
  synopsis: "[options] [poem...]",
  description: "Sends a poem to whoever connects, as fast as it can, then hangs up. Give " +
    "several poems (and as many ports) to serve each on its own port.",
  ...poemServerOptions(FAST_POETRY_PORT),
};

/**
 * Builds the fast poetry server's service tree: for each poem, a {@linkcode PoetryService}
 * and a `TCPServer` listening on its port with a {@linkcode PoetryFactory}, all under one
 * `MultiService` (not started). Each poem is loaded first, so a missing one fails here.
 *
 * @param options The parsed `fastpoetry` options.
 * @returns The top service.
 * @throws {PoemNotFoundError} When a poem cannot be found.
 * @throws {UsageError} When ports are given but not one per poem, or a poem cannot be read.
 *
 * @example Two poems on two ports
 * ```ts
 * import { makeFastPoetryService } from "@poetry/serve/fastpoetry";
 *
 * const top = await makeFastPoetryService({
 *   poem: ["keeper", "tide"],
 *   port: [0, 0],
 *   iface: "127.0.0.1",
 *   files: [],
 * });
 * console.log([...top].length); // 4
 * ```
 */
export async function makeFastPoetryService(options: FastPoetryOptions): Promise<MultiService> {
  const top = new MultiService();
  for (const { poem, port } of pairPoemsWithPorts(options, FAST_POETRY_PORT)) {
    const poetry = new PoetryService(poem);
    await poetry.loadPoem();
    poetry.setServiceParent(top);
    new TCPServer(port, new PoetryFactory(poetry), { interface: options.iface })
      .setServiceParent(top);
  }
  return top;
}

/**
 * The `fastpoetry` plugin: `poetry fastpoetry --port 10000 --poem tide`.
 *
 * @example Make the service from a command line
 * ```ts
 * import { plugin } from "@poetry/serve/fastpoetry";
 * import { parseOptions } from "@poetry/serve/plugin";
 *
 * const options = parseOptions(plugin.options, ["--port", "0", "--poem", "kettle"]);
 * console.log(options); // { port: [ 0 ], poem: [ "kettle" ], iface: "localhost", files: [] }
 * const service = await plugin.makeService(options);
 * console.log(plugin.tapname, service.running); // fastpoetry false
 * ```
 */
export const plugin: ServiceMaker<FastPoetryOptions> = {
  tapname: "fastpoetry",
  description: "A fast poetry service.",
  options: fastPoetryOptions,
  makeService: makeFastPoetryService,
};

if (import.meta.main) {
  // Imported here so that using the module as a library does not load the runner; not
  // awaited, so that a --config or --plugin module importing this one does not wait for ever
  // for it to finish loading.
  import("./_main.ts").then(({ runPluginAsMain }) => runPluginAsMain(plugin, Deno.args));
}
