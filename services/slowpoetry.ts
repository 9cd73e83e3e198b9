/**
 * The slow poetry server: it sends its poem a few bytes at a time, with a pause between each
 * piece, then hangs up — the tutorial's blocking `slowpoetry` rebuilt on the reactor (Part 11,
 * exercise 3), so one process serves any number of slow clients at once.
 *
 * - `PoetryService` (from `fastpoetry.ts`, shared with it) holds the poem;
 * - {@linkcode SlowPoetryFactory} holds the pace (`numBytes` every `delay` seconds) and the
 *   clock, and builds a {@linkcode SlowPoetryProtocol} per connection;
 * - {@linkcode plugin} (`slowpoetry`) puts them together: {@linkcode makeSlowPoetryService}.
 *
 * The first piece goes out as soon as the client connects, the next one `delay` seconds later,
 * and so on; the connection is closed right after the last piece. A client that hangs up
 * mid-poem stops its timer at once: nothing more is scheduled or written for it.
 *
 * The module is also a program (permissions as for fastpoetry):
 *
 * ```sh
 * deno run --allow-net services/slowpoetry.ts --port 10001 --poem tide --delay 0.2
 * deno run --allow-net --allow-read=ode.txt services/slowpoetry.ts --num-bytes 30 ode.txt
 * ```
 *
 * @example Watch a poem go out, ten bytes per tick, on a test clock
 * ```ts
 * import { PoetryService } from "@poetry/serve/fastpoetry";
 * import { SlowPoetryFactory } from "@poetry/serve/slowpoetry";
 * import { Clock } from "@poetry/serve/task";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * const service = new PoetryService("hours");
 * service.startService();
 * const clock = new Clock();
 * const factory = new SlowPoetryFactory(service, { numBytes: 10, delay: 0.7, clock });
 * const transport = new StringTransport();
 * factory.buildProtocol(transport.getPeer())!.makeConnection(transport);
 * console.log(JSON.stringify(transport.valueText())); // "Small Hour"
 * clock.advance(0.7);
 * console.log(JSON.stringify(transport.valueText())); // "Small Hours\n\nfrost o"
 * ```
 *
 * @module
 */

import type { DelayedCall, ReactorTime } from "../_timers.ts";
import { parseInteger, parseNumber, UsageError } from "../_options.ts";
import type { Failure } from "../failure.ts";
import { msg } from "../log.ts";
import { ServerFactory } from "../protocols/factory.ts";
import { Protocol, type PushProducer } from "../protocols/protocol.ts";
import { reactor } from "../reactor.ts";
import { PoetryService } from "./fastpoetry.ts";
import { TCPServer } from "./internet.ts";
import { MultiService } from "./multi_service.ts";
import type { CommandSpec, ServiceMaker } from "./plugin.ts";
import { pairPoemsWithPorts, type PoemServerOptions, poemServerOptions } from "./_poem_source.ts";

/**
 * The port slowpoetry listens on when given none (fastpoetry's default plus one).
 *
 * @example Poems given no port go on consecutive ports from the default
 * ```ts
 * import { TCPServer } from "@poetry/serve/internet";
 * import { parseOptions } from "@poetry/serve/plugin";
 * import { makeSlowPoetryService, plugin, SLOW_POETRY_PORT } from "@poetry/serve/slowpoetry";
 *
 * const options = parseOptions(plugin.options, ["keeper", "tide"]); // no --port
 * const top = await makeSlowPoetryService(options);
 * const servers = [...top].filter((service) => service instanceof TCPServer);
 * const ports = servers.map((server) => server.portNumber);
 * console.log(SLOW_POETRY_PORT, ports); // 10001 [ 10001, 10002 ]
 * ```
 */
export const SLOW_POETRY_PORT = 10001;
/**
 * How many bytes slowpoetry sends at a time unless told otherwise.
 *
 * @example The first piece a client gets
 * ```ts
 * import { PoetryService } from "@poetry/serve/fastpoetry";
 * import { DEFAULT_NUM_BYTES, SlowPoetryFactory } from "@poetry/serve/slowpoetry";
 * import { Clock } from "@poetry/serve/task";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * const service = new PoetryService("kettle");
 * service.startService();
 * const transport = new StringTransport();
 * const factory = new SlowPoetryFactory(service, { clock: new Clock() });
 * factory.buildProtocol(transport.getPeer())!.makeConnection(transport);
 * console.log(DEFAULT_NUM_BYTES, transport.valueText()); // 10 Sonnet for
 * ```
 */
export const DEFAULT_NUM_BYTES = 10;
/**
 * How many seconds slowpoetry waits between pieces unless told otherwise.
 *
 * @example Twice as fast as the default
 * ```ts
 * import { PoetryService } from "@poetry/serve/fastpoetry";
 * import { DEFAULT_DELAY, SlowPoetryFactory } from "@poetry/serve/slowpoetry";
 *
 * const factory = new SlowPoetryFactory(new PoetryService("tide"), { delay: DEFAULT_DELAY / 2 });
 * console.log(DEFAULT_DELAY, factory.delay); // 0.7 0.35
 * ```
 */
export const DEFAULT_DELAY = 0.7;

/**
 * Options for {@linkcode SlowPoetryFactory}.
 *
 * @example Six bytes every two seconds, on a test clock
 * ```ts
 * import { PoetryService } from "@poetry/serve/fastpoetry";
 * import { SlowPoetryFactory, type SlowPoetryFactoryOptions } from "@poetry/serve/slowpoetry";
 * import { Clock } from "@poetry/serve/task";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * const service = new PoetryService("kettle");
 * service.startService();
 * const clock = new Clock();
 * const options: SlowPoetryFactoryOptions = { numBytes: 6, delay: 2, clock };
 * const transport = new StringTransport();
 * const factory = new SlowPoetryFactory(service, options);
 * factory.buildProtocol(transport.getPeer())!.makeConnection(transport);
 * clock.advance(2);
 * console.log(JSON.stringify(transport.valueText())); // "Sonnet for a"
 * ```
 */
export interface SlowPoetryFactoryOptions {
  /**
   * How many bytes to send at a time (a whole number, at least 1).
   * @default {10}
   */
  numBytes?: number;
  /**
   * How many seconds to wait between pieces (0 or more).
   * @default {0.7}
   */
  delay?: number;
  /**
   * The clock the pauses are timed on: a `Clock` in tests.
   * @default {reactor}
   */
  clock?: ReactorTime;
}

/**
 * Sends its factory's poem in pieces of `numBytes` bytes, `delay` seconds apart, then closes
 * the connection. Logs `sending N bytes of poetry, K bytes every D seconds, to ADDR` when a
 * client connects, and a line when one hangs up before the end. It is the transport's push
 * producer: a client that does not read pauses the pieces once the transport holds 64 KiB, and
 * they go on when it drains, so a slow reader never has the poem queued in small pieces.
 *
 * @example
 * ```ts
 * import { PoetryService } from "@poetry/serve/fastpoetry";
 * import { SlowPoetryFactory } from "@poetry/serve/slowpoetry";
 * import { Clock } from "@poetry/serve/task";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * const service = new PoetryService("kettle");
 * service.startService();
 * const clock = new Clock();
 * const transport = new StringTransport();
 * const factory = new SlowPoetryFactory(service, { numBytes: 100, delay: 1, clock });
 * factory.buildProtocol(transport.getPeer())!.makeConnection(transport);
 * clock.pump(Array(10).fill(1));
 * console.log(transport.value().length === service.poem!.length, transport.disconnecting);
 * // true true
 * ```
 */
export class SlowPoetryProtocol extends Protocol {
  /** The factory that built this protocol. */
  declare factory: SlowPoetryFactory;
  #poem: Uint8Array = new Uint8Array(0);
  #sent = 0;
  #call: DelayedCall | undefined = undefined;
  #paused = false;
  /**
   * The protocol as the transport's push producer: a client that does not read fills the
   * transport's buffer, which pauses the pieces until it drains, so a poem is never queued
   * whole in small pieces for a client that is not taking it.
   */
  readonly #producer: PushProducer = {
    pauseProducing: (): void => {
      this.#paused = true;
      this.#cancelNext();
    },
    resumeProducing: (): void => {
      this.#paused = false;
      if (this.#call === undefined && this.#sent < this.#poem.length) this.#scheduleNext();
    },
    stopProducing: (): void => this.#cancelNext(),
  };

  /**
   * How many bytes of the poem have been written so far.
   *
   * @example After the first piece
   * ```ts
   * import { PoetryService } from "@poetry/serve/fastpoetry";
   * import { SlowPoetryFactory, type SlowPoetryProtocol } from "@poetry/serve/slowpoetry";
   * import { Clock } from "@poetry/serve/task";
   * import { StringTransport } from "@poetry/serve/testing";
   *
   * const service = new PoetryService("tide");
   * service.startService();
   * const clock = new Clock();
   * const transport = new StringTransport();
   * const factory = new SlowPoetryFactory(service, { numBytes: 4, clock });
   * const protocol = factory.buildProtocol(transport.getPeer()) as SlowPoetryProtocol;
   * protocol.makeConnection(transport);
   * console.log(protocol.bytesSent); // 4
   * protocol.transport.abortConnection(); // stops the rest
   * ```
   */
  get bytesSent(): number {
    return this.#sent;
  }

  /**
   * Sends the first piece and schedules the next.
   *
   * @example
   * ```ts
   * import { SlowPoetryProtocol } from "@poetry/serve/slowpoetry";
   * console.log(typeof SlowPoetryProtocol.prototype.connectionMade); // function
   * ```
   */
  override connectionMade(): void {
    const { numBytes, delay } = this.factory;
    const poem = this.factory.service.poem;
    if (poem === undefined) {
      msg(`no poem to send to`, this.transport.getPeer(), `(the poetry service is not started)`);
      this.transport.loseConnection();
      return;
    }
    this.#poem = poem;
    msg(
      `sending ${poem.length} bytes of poetry, ${numBytes} bytes every ${delay} seconds, to`,
      this.transport.getPeer(),
    );
    this.transport.registerProducer(this.#producer, true);
    this.#sendNext();
  }

  /**
   * The client has sent end-of-file but still reads (a client that half-closes, as `nc -N`
   * does): the poem goes on to its end. Without this, the end-of-file would close the
   * connection with the poem cut short, which the client could not tell from its end.
   *
   * @example The poem goes on after the client's end-of-file
   * ```ts
   * import { PoetryService } from "@poetry/serve/fastpoetry";
   * import { SlowPoetryFactory } from "@poetry/serve/slowpoetry";
   * import type { SlowPoetryProtocol } from "@poetry/serve/slowpoetry";
   * import { Clock } from "@poetry/serve/task";
   * import { StringTransport } from "@poetry/serve/testing";
   *
   * const service = new PoetryService("tide");
   * service.startService();
   * const clock = new Clock();
   * const transport = new StringTransport();
   * const factory = new SlowPoetryFactory(service, { numBytes: 1000, delay: 1, clock });
   * const protocol = factory.buildProtocol(transport.getPeer()) as SlowPoetryProtocol;
   * protocol.makeConnection(transport);
   * protocol.readConnectionLost();
   * clock.pump([1, 1, 1, 1, 1]);
   * console.log(protocol.bytesSent === service.poem!.length, transport.disconnecting); // true true
   * ```
   */
  readConnectionLost(): void {}

  /**
   * Cancels the next piece, if one is scheduled: a client that hangs up early leaves no timer
   * behind.
   *
   * @example
   * ```ts
   * import { SlowPoetryProtocol } from "@poetry/serve/slowpoetry";
   * console.log(typeof SlowPoetryProtocol.prototype.connectionLost); // function
   * ```
   */
  override connectionLost(_reason: Failure): void {
    this.#cancelNext();
    if (this.#sent < this.#poem.length) {
      msg(`client hung up after ${this.#sent} of ${this.#poem.length} bytes`);
    }
  }

  #sendNext(): void {
    this.#call = undefined;
    if (!this.connected) return;
    const end = Math.min(this.#sent + this.factory.numBytes, this.#poem.length);
    // The write may fill the transport's buffer and pause us (#producer.pauseProducing).
    if (end > this.#sent) this.transport.write(this.#poem.subarray(this.#sent, end));
    this.#sent = end;
    if (this.#sent >= this.#poem.length) {
      this.transport.unregisterProducer();
      this.transport.loseConnection();
      return;
    }
    if (!this.#paused) this.#scheduleNext();
  }

  #scheduleNext(): void {
    const { delay, clock } = this.factory;
    this.#call = clock.callLater(delay, () => this.#sendNext());
  }

  #cancelNext(): void {
    const call = this.#call;
    this.#call = undefined;
    if (call?.active()) call.cancel();
  }
}

/**
 * Builds a {@linkcode SlowPoetryProtocol} for each connection; holds the service with the
 * poem, the pace and the clock.
 *
 * @example
 * ```ts
 * import { PoetryService } from "@poetry/serve/fastpoetry";
 * import { SlowPoetryFactory } from "@poetry/serve/slowpoetry";
 * const factory = new SlowPoetryFactory(new PoetryService("tide"), { delay: 0.1 });
 * console.log(factory.numBytes, factory.delay); // 10 0.1
 * ```
 */
export class SlowPoetryFactory extends ServerFactory {
  /** Builds {@linkcode SlowPoetryProtocol}s. */
  override protocol: typeof SlowPoetryProtocol = SlowPoetryProtocol;
  /** The service whose poem the protocols send. */
  readonly service: PoetryService;
  /** How many bytes are sent at a time. */
  readonly numBytes: number;
  /** How many seconds pass between pieces. */
  readonly delay: number;
  /** The clock the pauses are timed on. */
  readonly clock: ReactorTime;

  /**
   * A factory sending `service`'s poem at the pace of `options`.
   *
   * @param service The service holding the poem.
   * @param options The pace and the clock.
   * @throws {RangeError} When `numBytes` is not a whole number of at least 1, or `delay` is
   * negative or not a number.
   *
   * @example
   * ```ts
   * import { PoetryService } from "@poetry/serve/fastpoetry";
   * import { SlowPoetryFactory } from "@poetry/serve/slowpoetry";
   * import { Clock } from "@poetry/serve/task";
   * const factory = new SlowPoetryFactory(new PoetryService("tide"), { clock: new Clock() });
   * ```
   */
  constructor(service: PoetryService, options: SlowPoetryFactoryOptions = {}) {
    super();
    const numBytes = options.numBytes ?? DEFAULT_NUM_BYTES;
    const delay = options.delay ?? DEFAULT_DELAY;
    if (!Number.isSafeInteger(numBytes) || numBytes < 1) {
      throw new RangeError(`numBytes must be a whole number of at least 1, not ${numBytes}`);
    }
    if (!(delay >= 0) || !Number.isFinite(delay)) {
      throw new RangeError(`delay must be a number of seconds >= 0, not ${delay}`);
    }
    this.service = service;
    this.numBytes = numBytes;
    this.delay = delay;
    this.clock = options.clock ?? reactor;
  }
}

/**
 * What {@linkcode makeSlowPoetryService} and the `slowpoetry` plugin take.
 *
 * @example Serve a poem slowly, and read it back
 * ```ts
 * import { getPoetry } from "@poetry/serve/get";
 * import { TCPServer } from "@poetry/serve/internet";
 * import { makeSlowPoetryService, type SlowPoetryOptions } from "@poetry/serve/slowpoetry";
 *
 * const options: SlowPoetryOptions = {
 *   port: [0],
 *   iface: "127.0.0.1",
 *   poem: ["kettle"],
 *   files: [],
 *   "num-bytes": 200,
 *   delay: 0.01,
 * };
 * const top = await makeSlowPoetryService(options);
 * top.startService();
 * const server = [...top].find((service) => service instanceof TCPServer)!;
 * const poem = await getPoetry("127.0.0.1", server.getHost().port); // four pieces
 * console.log(poem.split("\n")[0]); // Sonnet for a Kettle
 * await top.stopService();
 * ```
 */
export interface SlowPoetryOptions extends PoemServerOptions {
  /**
   * How many bytes to send at a time.
   * @default {10} (the command line's default: {@linkcode DEFAULT_NUM_BYTES})
   */
  "num-bytes": number;
  /**
   * How many seconds to wait between pieces.
   * @default {0.7} (the command line's default: {@linkcode DEFAULT_DELAY})
   */
  delay: number;
}

function parseNumBytes(text: string): number {
  const n = parseInteger(text);
  if (n < 1) throw new UsageError(`${JSON.stringify(text)} is not a byte count of at least 1`);
  return n;
}

function parseDelay(text: string): number {
  const n = parseNumber(text);
  if (n < 0) throw new UsageError(`${JSON.stringify(text)} is not a delay of 0 seconds or more`);
  return n;
}

const shared = poemServerOptions(SLOW_POETRY_PORT);

/**
 * The `slowpoetry` command line: fastpoetry's options (`--port`, `--poem`, `--iface`, poems as
 * positional arguments, pairs of `--poem`/`--port`) and the pace: `--num-bytes` and `--delay`.
 *
 * @example Parse a slow server's command line
 * ```ts
 * import { parseOptions } from "@poetry/serve/plugin";
 * import { slowPoetryOptions } from "@poetry/serve/slowpoetry";
 *
 * const options = parseOptions(slowPoetryOptions, ["--delay", "0.2", "--poem", "tide"]);
 * console.log(options.delay, options["num-bytes"], options.poem); // 0.2 10 [ "tide" ]
 * ```
 */
export const slowPoetryOptions: CommandSpec<SlowPoetryOptions> = {
  synopsis: "[options] [poem...]",
  description: "Sends a poem a few bytes at a time, pausing between pieces, then hangs up. " +
    "Give several poems (and as many ports) to serve each on its own port.",
  options: [
    ...shared.options,
    {
      name: "num-bytes",
      default: DEFAULT_NUM_BYTES,
      help: "The number of bytes to send at a time.",
      parse: parseNumBytes,
    },
    {
      name: "delay",
      default: DEFAULT_DELAY,
      help: "The number of seconds between sending bytes.",
      parse: parseDelay,
    },
  ],
  positionals: shared.positionals,
};

/**
 * Builds the slow poetry server's service tree: for each poem, a {@linkcode PoetryService}
 * and a `TCPServer` with a {@linkcode SlowPoetryFactory} on its port, under one
 * `MultiService` (not started). Each poem is loaded first, so a missing one fails here.
 *
 * @param options The parsed `slowpoetry` options.
 * @param clock The clock for the pauses.
 * @returns The top service.
 * @throws {PoemNotFoundError} When a poem cannot be found.
 * @throws {UsageError} When ports are given but not one per poem, or a poem cannot be read.
 *
 * @example
 * ```ts
 * import { makeSlowPoetryService } from "@poetry/serve/slowpoetry";
 * const top = await makeSlowPoetryService({
 *   poem: ["tide"],
 *   port: [0],
 *   iface: "127.0.0.1",
 *   files: [],
 *   "num-bytes": 20,
 *   delay: 0.1,
 * });
 * console.log([...top].length); // 2
 * ```
 */
export async function makeSlowPoetryService(
  options: SlowPoetryOptions,
  clock: ReactorTime = reactor,
): Promise<MultiService> {
  const top = new MultiService();
  for (const { poem, port } of pairPoemsWithPorts(options, SLOW_POETRY_PORT)) {
    const poetry = new PoetryService(poem);
    await poetry.loadPoem();
    poetry.setServiceParent(top);
    const factory = new SlowPoetryFactory(poetry, {
      numBytes: options["num-bytes"],
      delay: options.delay,
      clock,
    });
    new TCPServer(port, factory, { interface: options.iface }).setServiceParent(top);
  }
  return top;
}

/**
 * The `slowpoetry` plugin: `poetry slowpoetry --port 10001 --delay 0.2 --poem tide`.
 *
 * @example
 * ```ts
 * import { plugin } from "@poetry/serve/slowpoetry";
 * import { parseOptions } from "@poetry/serve/plugin";
 * const options = parseOptions(plugin.options, ["-p", "0", "--num-bytes", "5", "kettle"]);
 * console.log(options["num-bytes"], options.delay, options.files); // 5 0.7 [ "kettle" ]
 * ```
 */
export const plugin: ServiceMaker<SlowPoetryOptions> = {
  tapname: "slowpoetry",
  description: "A slow poetry service: a few bytes at a time.",
  options: slowPoetryOptions,
  makeService: (options) => makeSlowPoetryService(options),
};

if (import.meta.main) {
  // Imported here so that using the module as a library does not load the runner; not
  // awaited, so that a --config or --plugin module importing this one does not wait for ever
  // for it to finish loading.
  import("./_main.ts").then(({ runPluginAsMain }) => runPluginAsMain(plugin, Deno.args));
}
