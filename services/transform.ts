/**
 * The poetry transformation server of Part 12: a client sends a netstring holding
 * `<transform-name>.<poem>` and gets back a netstring holding the transformed poem, after which
 * the server closes the connection. Split as Twisted splits it:
 *
 * - {@linkcode TransformService} holds the transformations, on text; it knows nothing of the
 *   protocol;
 * - {@linkcode TransformFactory} exposes them over the wire through its `xform_`-prefixed
 *   methods only: {@linkcode TransformFactory.transform} looks up `xform_<name>` and nothing
 *   else, so a client cannot call any other method;
 * - {@linkcode TransformProtocol} speaks netstrings and turns each request into
 *   {@linkcode TransformProtocol.xformRequestReceived}`(name, poem)`;
 * - {@linkcode plugin} (`transform`) puts them together: {@linkcode makeTransformService}.
 *
 * Transforms: `cummingsify` (lower case), `uppercase` and `reverse` (the lines in reverse
 * order). A request without a `.`, one that is not UTF-8, an unknown transform or a transform
 * that fails gets the connection closed with no reply, and a log line. A malformed or
 * over-long netstring (more than {@linkcode TransformProtocol.MAX_LENGTH} bytes) is refused by
 * the netstring receiver, which closes the connection.
 *
 * The module is also a program; it needs only `--allow-net`:
 *
 * ```sh
 * deno run --allow-net services/transform.ts --port 11000
 * deno run --allow-net services/transform.ts --port 11000 --timeout 10   # drop idle clients
 * printf '27:cummingsify.HERE IS MY POEM,' | nc -q 1 localhost 11000   # 15:here is my poem,
 * ```
 *
 * @example Transform a poem over a test transport
 * ```ts
 * import { TransformFactory, TransformService } from "@poetry/serve/transform";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * const factory = new TransformFactory(new TransformService());
 * const transport = new StringTransport();
 * const protocol = factory.buildProtocol(transport.getPeer())!;
 * protocol.makeConnection(transport);
 * protocol.dataReceived(new TextEncoder().encode("27:cummingsify.HERE IS MY POEM,"));
 * console.log(transport.valueText(), transport.disconnecting); // 15:here is my poem, true
 * ```
 *
 * @module
 */

import type { Failure } from "../failure.ts";
import { msg } from "../log.ts";
import { parsePort, parsePositiveSeconds } from "../_options.ts";
import { ServerFactory } from "../protocols/factory.ts";
import { NetstringReceiver } from "../protocols/netstring_receiver.ts";
import { reactor, type ReactorTime } from "../reactor.ts";
import type { DelayedCall } from "../task.ts";
import { TCPServer } from "./internet.ts";
import { MultiService } from "./multi_service.ts";
import type { CommandSpec, ServiceMaker } from "./plugin.ts";
import { Service } from "./service.ts";

/**
 * The port the transformation server listens on when given none (the tutorial's).
 *
 * @example Build the server on the tutorial's port
 * ```ts
 * import { TCPServer } from "@poetry/serve/internet";
 * import { makeTransformService, TRANSFORM_PORT } from "@poetry/serve/transform";
 *
 * const top = makeTransformService({ port: TRANSFORM_PORT, iface: "localhost" });
 * const server = [...top].find((service) => service instanceof TCPServer)!;
 * console.log(String(server)); // TCPServer on 11000
 * ```
 */
export const TRANSFORM_PORT = 11000;

/**
 * The prefix that marks a {@linkcode TransformFactory} method as callable over the wire.
 *
 * @example The methods a client can reach
 * ```ts
 * import { TransformFactory, XFORM_PREFIX } from "@poetry/serve/transform";
 *
 * const names = Object.getOwnPropertyNames(TransformFactory.prototype);
 * console.log(names.filter((name) => name.startsWith(XFORM_PREFIX)));
 * // [ "xform_cummingsify", "xform_uppercase", "xform_reverse" ]
 * ```
 */
export const XFORM_PREFIX = "xform_";

/**
 * The poetry transformations, on text. They know nothing of netstrings or sockets: a second
 * protocol could offer the same service. It is a `Service` so that it can sit in a service
 * tree; starting and stopping it does nothing else.
 *
 * @example
 * ```ts
 * import { TransformService } from "@poetry/serve/transform";
 * const service = new TransformService();
 * console.log(service.cummingsify("HERE IS MY POEM,")); // here is my poem,
 * ```
 */
export class TransformService extends Service {
  /**
   * The poem in lower case, as e.e. cummings might have written it.
   *
   * @param poem The poem.
   * @returns The poem, lower-cased.
   *
   * @example
   * ```ts
   * import { TransformService } from "@poetry/serve/transform";
   * console.log(new TransformService().cummingsify("Roses Are RED")); // roses are red
   * ```
   */
  cummingsify(poem: string): string {
    return poem.toLowerCase();
  }

  /**
   * The poem in upper case, as a telegram.
   *
   * @param poem The poem.
   * @returns The poem, upper-cased.
   *
   * @example
   * ```ts
   * import { TransformService } from "@poetry/serve/transform";
   * console.log(new TransformService().uppercase("arrived safe")); // ARRIVED SAFE
   * ```
   */
  uppercase(poem: string): string {
    return poem.toUpperCase();
  }

  /**
   * The poem's lines in reverse order, last line first; each line is unchanged, and a final
   * line ending stays at the end. Lines end at `\n` (a `\r` before it stays with its line).
   *
   * @param poem The poem.
   * @returns The poem, read from the bottom up.
   *
   * @example
   * ```ts
   * import { TransformService } from "@poetry/serve/transform";
   * console.log(JSON.stringify(new TransformService().reverse("one\ntwo\nthree\n")));
   * // "three\ntwo\none\n"
   * ```
   */
  reverse(poem: string): string {
    const ending = poem.endsWith("\n") ? "\n" : "";
    const body = ending ? poem.slice(0, -1) : poem;
    return body.split("\n").reverse().join("\n") + ending;
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const DOT = 0x2e;

/**
 * One connection of the transformation server: it reads netstrings, takes each as a request
 * `<transform-name>.<poem>` (split at the first `.`), and answers with the transformed poem as
 * a netstring, then closes the connection (Twisted's `TransformProtocol`). The poem is decoded
 * from UTF-8 and the answer encoded as UTF-8. A bad request, unknown transform or failed
 * transform closes the connection with no answer.
 *
 * @example
 * ```ts
 * import { TransformFactory, TransformService } from "@poetry/serve/transform";
 * import { StringTransport } from "@poetry/serve/testing";
 * const transport = new StringTransport();
 * const factory = new TransformFactory(new TransformService());
 * const protocol = factory.buildProtocol(transport.getPeer())!;
 * protocol.makeConnection(transport);
 * protocol.dataReceived(new TextEncoder().encode("11:no-dot-here,"));
 * console.log(transport.value().length, transport.disconnecting); // 0 true
 * ```
 */
export class TransformProtocol extends NetstringReceiver {
  /** The factory that built this protocol. */
  declare factory: TransformFactory;
  /** The end of the time the client has to send its request, while it has not. */
  #deadline: DelayedCall | undefined;

  /**
   * Starts the factory's request timeout, if it has one: the whole request must have arrived
   * within {@linkcode TransformFactory.timeout} seconds of connecting, or the connection is
   * closed, with a log line.
   *
   * @example A client that never sends its request, on a test clock
   * ```ts
   * import { TransformFactory, TransformService } from "@poetry/serve/transform";
   * import { StringTransport } from "@poetry/serve/testing";
   * import { Clock } from "@poetry/serve/task";
   *
   * const clock = new Clock();
   * const factory = new TransformFactory(new TransformService(), { timeout: 30, clock });
   * const transport = new StringTransport();
   * factory.buildProtocol(transport.getPeer())!.makeConnection(transport);
   * clock.advance(30); // logs: no request from ... in 30 seconds
   * console.log(transport.disconnecting); // true
   * ```
   */
  override connectionMade(): void {
    // A subclass may be built by a factory of another kind (the transformation proxy's),
    // which sets no request timeout.
    if (!(this.factory instanceof TransformFactory)) return;
    const { timeout, clock } = this.factory;
    if (timeout === null) return;
    this.#deadline = clock.callLater(timeout, () => {
      this.#deadline = undefined;
      msg(`no request from`, this.transport.getPeer(), `in ${timeout} seconds`);
      this.transport.loseConnection();
    });
  }

  /**
   * Splits a request into the transform's name and the poem, and hands them to
   * {@linkcode TransformProtocol.xformRequestReceived}; closes the connection if there is no
   * `.` or the request is not UTF-8.
   *
   * @param request The content of one netstring.
   *
   * @example
   * ```ts
   * import { TransformFactory, TransformProtocol, TransformService } from "@poetry/serve/transform";
   * import { StringTransport } from "@poetry/serve/testing";
   * const transport = new StringTransport();
   * const factory = new TransformFactory(new TransformService());
   * const protocol = factory.buildProtocol(transport.getPeer()) as TransformProtocol;
   * protocol.makeConnection(transport);
   * protocol.stringReceived(new TextEncoder().encode("uppercase.ode"));
   * console.log(transport.valueText()); // 3:ODE,
   * ```
   */
  override stringReceived(request: Uint8Array): void {
    this.#cancelDeadline();
    const dot = request.indexOf(DOT);
    if (dot < 0) {
      msg(`bad request from`, this.transport.getPeer(), `(no "." after the transform name)`);
      this.transport.loseConnection();
      return;
    }
    let text: string;
    try {
      text = decoder.decode(request);
    } catch {
      msg(`bad request from`, this.transport.getPeer(), `(not UTF-8)`);
      this.transport.loseConnection();
      return;
    }
    const split = text.indexOf(".");
    this.xformRequestReceived(text.slice(0, split), text.slice(split + 1));
  }

  /**
   * The connection is over: says so in the log when it was closed for a request that is not a
   * netstring, or is longer than `MAX_LENGTH` bytes, as for the other bad requests.
   *
   * @example A request too long to take
   * ```ts
   * import { TransformFactory, TransformService } from "@poetry/serve/transform";
   * import { StringTransportWithDisconnection, connectProtocol } from "@poetry/serve/testing";
   * import { addObserver, removeObserver, textFromEvent, type LogEvent } from "@poetry/serve/log";
   *
   * const lines: string[] = [];
   * const observer = (event: LogEvent) => lines.push(textFromEvent(event));
   * addObserver(observer);
   * const transport = new StringTransportWithDisconnection();
   * const { protocol } = connectProtocol(new TransformFactory(new TransformService()), transport);
   * protocol.dataReceived(new TextEncoder().encode("100000:"));
   * removeObserver(observer);
   * console.log(lines.at(-1)); // bad request from { type: "TCP", host: "192.168.1.1", port: 54321 } (netstring length of at least 100000 exceeds MAX_LENGTH 99999)
   * ```
   */
  override connectionLost(_reason: Failure): void {
    this.#cancelDeadline();
    if (this.brokenPeer) {
      msg(`bad request from`, this.transport.getPeer(), `(${this.parseError?.message})`);
    }
  }

  /**
   * Asks the factory for the transformation and sends the result, if there is one; then
   * closes the connection either way.
   *
   * @param xformName The transform's name, as the client sent it.
   * @param poem The poem.
   *
   * @example
   * ```ts
   * import { TransformFactory, TransformProtocol, TransformService } from "@poetry/serve/transform";
   * import { StringTransport } from "@poetry/serve/testing";
   * const transport = new StringTransport();
   * const factory = new TransformFactory(new TransformService());
   * const protocol = factory.buildProtocol(transport.getPeer()) as TransformProtocol;
   * protocol.makeConnection(transport);
   * protocol.xformRequestReceived("reverse", "a\nb\n");
   * console.log(JSON.stringify(transport.valueText())); // "4:b\na\n,"
   * ```
   */
  xformRequestReceived(xformName: string, poem: string): void {
    const newPoem = this.factory.transform(xformName, poem);
    if (newPoem !== undefined) this.sendString(newPoem);
    this.transport.loseConnection();
  }

  #cancelDeadline(): void {
    this.#deadline?.cancel();
    this.#deadline = undefined;
  }
}

/**
 * Builds a {@linkcode TransformProtocol} per connection and guards the
 * {@linkcode TransformService}: a client names a transform, and only a method of this factory
 * named `xform_<name>` can be called — `transform("toString", …)` looks up `xform_toString`,
 * which does not exist. To offer a new transform, add the method to the service and an
 * `xform_` method here (in a subclass) that calls it.
 *
 * @example Add a transform in a subclass
 * ```ts
 * import { TransformFactory, TransformService } from "@poetry/serve/transform";
 *
 * class ShoutingFactory extends TransformFactory {
 *   xform_shout(poem: string): string {
 *     return this.service.uppercase(poem) + "!";
 *   }
 * }
 * const factory = new ShoutingFactory(new TransformService());
 * console.log(factory.transform("shout", "hey")); // HEY!
 * console.log(factory.transformNames()); // [ "cummingsify", "reverse", "shout", "uppercase" ]
 * ```
 */
export class TransformFactory extends ServerFactory {
  /** Builds {@linkcode TransformProtocol}s. */
  override protocol: typeof TransformProtocol = TransformProtocol;
  /** The service that does the transforming. */
  readonly service: TransformService;
  /** Seconds a client has to send its request once connected; `null` for no limit. */
  readonly timeout: number | null;
  /** The clock the request timeout is timed on: a `Clock` in tests. */
  readonly clock: ReactorTime;

  /**
   * A factory offering `service`'s transforms.
   *
   * @param service The transformations.
   *
   * @param options `timeout`: seconds a client has to send its request once connected, after
   *   which the connection is closed (no limit without it, as in the tutorial); `clock`: what
   *   times it (the reactor's clock by default).
   * @throws {RangeError} When `timeout` is not a number of seconds above 0.
   *
   * @example
   * ```ts
   * import { TransformFactory, TransformService } from "@poetry/serve/transform";
   * const factory = new TransformFactory(new TransformService(), { timeout: 60 });
   * console.log(factory.timeout); // 60
   * ```
   */
  constructor(
    service: TransformService,
    options: { timeout?: number; clock?: ReactorTime } = {},
  ) {
    super();
    this.service = service;
    const { timeout } = options;
    if (timeout !== undefined && !(timeout > 0)) {
      throw new RangeError(`timeout must be a number of seconds > 0, not ${timeout}`);
    }
    this.timeout = timeout ?? null;
    this.clock = options.clock ?? reactor;
  }

  /**
   * Transforms `poem` with the transform named `xformName`: calls this factory's method
   * `xform_<xformName>`, and nothing else. Returns `undefined`, with a log line, if there is no
   * such method, or it throws or returns something other than a string.
   *
   * @param xformName The transform's name, as a client sent it.
   * @param poem The poem.
   * @returns The transformed poem, or `undefined`.
   *
   * @example
   * ```ts
   * import { TransformFactory, TransformService } from "@poetry/serve/transform";
   * const factory = new TransformFactory(new TransformService());
   * console.log(factory.transform("cummingsify", "HI")); // hi
   * console.log(factory.transform("constructor", "HI")); // undefined
   * ```
   */
  transform(xformName: string, poem: string): string | undefined {
    const thunk: unknown = (this as unknown as Record<string, unknown>)[XFORM_PREFIX + xformName];
    if (typeof thunk !== "function") {
      msg(`${JSON.stringify(xformName)} no such transform`);
      return undefined;
    }
    let result: unknown;
    try {
      result = thunk.call(this, poem);
    } catch (e) {
      msg(`transform ${JSON.stringify(xformName)} failed:`, e);
      return undefined;
    }
    if (typeof result !== "string") {
      msg(`transform ${JSON.stringify(xformName)} returned a ${typeof result}, not a poem`);
      return undefined;
    }
    return result;
  }

  /**
   * The names of the transforms this factory offers (its `xform_` methods), sorted.
   *
   * @returns The names, without the prefix.
   *
   * @example
   * ```ts
   * import { TransformFactory, TransformService } from "@poetry/serve/transform";
   * console.log(new TransformFactory(new TransformService()).transformNames());
   * // [ "cummingsify", "reverse", "uppercase" ]
   * ```
   */
  transformNames(): string[] {
    const keys = new Set<string>(Object.getOwnPropertyNames(this));
    let proto: object | null = Object.getPrototypeOf(this);
    for (; proto !== null; proto = Object.getPrototypeOf(proto)) {
      for (const key of Object.getOwnPropertyNames(proto)) keys.add(key);
    }
    const self = this as unknown as Record<string, unknown>;
    return [...keys]
      .filter((key) =>
        key.startsWith(XFORM_PREFIX) && key.length > XFORM_PREFIX.length &&
        typeof self[key] === "function"
      )
      .map((key) => key.slice(XFORM_PREFIX.length))
      .sort();
  }

  /**
   * The `cummingsify` transform: {@linkcode TransformService.cummingsify}.
   *
   * @example
   * ```ts
   * import { TransformFactory, TransformService } from "@poetry/serve/transform";
   * console.log(new TransformFactory(new TransformService()).xform_cummingsify("OH")); // oh
   * ```
   */
  xform_cummingsify(poem: string): string {
    return this.service.cummingsify(poem);
  }

  /**
   * The `uppercase` transform: {@linkcode TransformService.uppercase}.
   *
   * @example
   * ```ts
   * import { TransformFactory, TransformService } from "@poetry/serve/transform";
   * console.log(new TransformFactory(new TransformService()).xform_uppercase("oh")); // OH
   * ```
   */
  xform_uppercase(poem: string): string {
    return this.service.uppercase(poem);
  }

  /**
   * The `reverse` transform: {@linkcode TransformService.reverse}.
   *
   * @example
   * ```ts
   * import { TransformFactory, TransformService } from "@poetry/serve/transform";
   * const factory = new TransformFactory(new TransformService());
   * console.log(JSON.stringify(factory.xform_reverse("a\nb"))); // "b\na"
   * ```
   */
  xform_reverse(poem: string): string {
    return this.service.reverse(poem);
  }
}

/**
 * What {@linkcode makeTransformService} and the `transform` plugin take.
 *
 * @example Serve transforms from code, and ask for one
 * ```ts
 * import { TCPServer } from "@poetry/serve/internet";
 * import { makeTransformService, type TransformOptions } from "@poetry/serve/transform";
 * import { TransformProxy } from "@poetry/serve/transform-client";
 *
 * const options: TransformOptions = { port: 0, iface: "127.0.0.1" };
 * const top = makeTransformService(options);
 * top.startService();
 * const server = [...top].find((service) => service instanceof TCPServer)!;
 * const proxy = new TransformProxy("127.0.0.1", server.getHost().port);
 * console.log(await proxy.xform("uppercase", "ode")); // ODE
 * await top.stopService();
 * ```
 */
export interface TransformOptions {
  /**
   * The port to listen on.
   * @default {11000} (the command line's default: {@linkcode TRANSFORM_PORT})
   */
  port: number;
  /**
   * The interface to listen on.
   * @default {"localhost"} (the command line's default)
   */
  iface: string;
  /**
   * Seconds a client has to send its request once connected.
   * @default {undefined} (no limit, as in the tutorial)
   */
  timeout?: number;
}

/**
 * The `transform` command line: `--port`/`-p`, `--iface` and `--timeout`.
 *
 * @example Parse a transformation server's command line
 * ```ts
 * import { parseOptions } from "@poetry/serve/plugin";
 * import { transformOptions } from "@poetry/serve/transform";
 *
 * console.log(parseOptions(transformOptions, ["-p", "11001", "--iface", "127.0.0.1"]));
 * // { port: 11001, iface: "127.0.0.1", timeout: undefined }
 * ```
 */
export const transformOptions: CommandSpec<TransformOptions> = {
  description: "Transforms poems: send a netstring '<transform>.<poem>' and get the " +
    "transformed poem back as a netstring. Transforms: cummingsify, uppercase, reverse.",
  options: [
    {
      name: "port",
      short: "p",
      default: TRANSFORM_PORT,
      help: "The port number to listen on.",
      parse: parsePort,
    },
    { name: "iface", default: "localhost", help: "The interface to listen on." },
    {
      name: "timeout",
      help: "Seconds a client has to send its request before it is disconnected.",
      defaultText: "no limit",
      parse: parsePositiveSeconds,
    },
  ],
};

/**
 * Builds the transformation server's service tree: a {@linkcode TransformService} and a
 * `TCPServer` on `options.port` with a {@linkcode TransformFactory}, under one `MultiService`
 * (not started).
 *
 * @param options The port and interface.
 * @returns The top service.
 *
 * @example
 * ```ts
 * import { makeTransformService } from "@poetry/serve/transform";
 * const top = makeTransformService({ port: 0, iface: "127.0.0.1" });
 * console.log([...top].length); // 2
 * ```
 */
export function makeTransformService(options: TransformOptions): MultiService {
  const top = new MultiService();
  const service = new TransformService();
  service.setServiceParent(top);
  const factory = new TransformFactory(service, { timeout: options.timeout });
  new TCPServer(options.port, factory, { interface: options.iface }).setServiceParent(top);
  return top;
}

/**
 * The `transform` plugin: `poetry transform --port 11000`.
 *
 * @example
 * ```ts
 * import { plugin } from "@poetry/serve/transform";
 * import { parseOptions } from "@poetry/serve/plugin";
 * console.log(parseOptions(plugin.options, [])); // { port: 11000, iface: "localhost", timeout: undefined }
 * ```
 */
export const plugin: ServiceMaker<TransformOptions> = {
  tapname: "transform",
  description: "A poetry transformation service.",
  options: transformOptions,
  makeService: makeTransformService,
};

if (import.meta.main) {
  // Imported here so that using the module as a library does not load the runner; not
  // awaited, so that a --config or --plugin module importing this one does not wait for ever
  // for it to finish loading.
  import("./_main.ts").then(({ runPluginAsMain }) => runPluginAsMain(plugin, Deno.args));
}
