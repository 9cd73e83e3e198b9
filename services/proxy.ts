/**
 * The caching poetry proxy of Part 14: clients connect to the proxy, and the proxy sends them
 * the poem of an upstream poetry server, fetched once and then served from its cache. Split as
 * Twisted splits it:
 *
 * - {@linkcode ProxyService} holds the cache. {@linkcode ProxyService.getPoem} always returns
 *   a Deferred (Proxy 2.0): already fired (`succeed`) when the poem is cached, else one that
 *   fires when the upstream server has sent it. It knows no sockets: it fetches through the
 *   client function it is given (by default `getPoetryBytes` from `get.ts`).
 * - {@linkcode PoetryProxyFactory} builds a {@linkcode PoetryProxyProtocol} per client, which
 *   writes the poem and closes the connection.
 * - {@linkcode TransformProxyService}, {@linkcode TransformProxyFactory} and
 *   {@linkcode TransformProxyProtocol}: the transformation proxy (Part 14's last exercise). It
 *   speaks the transformation protocol of `transform.ts` to its clients and has an upstream
 *   transformation server do the work, through `TransformProxy` (`transform_client.ts`).
 * - {@linkcode plugin} (`proxy`) puts them together: {@linkcode makeProxyService}.
 *
 * How the cache behaves:
 *
 * - **One fetch for many clients.** Requests that arrive while the poem is being fetched wait
 *   for that fetch (each gets a Deferred of its own) instead of starting another: a cold cache
 *   and 200 clients make one upstream connection (Part 14's third exercise).
 * - **Clients that leave.** A client that disconnects while it waits has its Deferred
 *   cancelled; the fetch goes on for the others. When the last one waiting leaves, the fetch
 *   is cancelled (its connection closed) and nothing is cached. A client's end-of-file counts
 *   as leaving, as in Twisted: with nothing yet to write, a proxy cannot tell a client that
 *   closed from one that only half-closed, and holding on to the ones that left would keep
 *   their fetches going.
 * - **One request at a time per client.** Requests a client of the transformation proxy
 *   sends at once are answered one after the other, in order, as the server behind it
 *   answers them, with one upstream request under way for that client at a time: the
 *   connection stops reading while its requests wait.
 * - **Age.** With `ttl`, a poem older than `ttl` seconds is dropped and the next request
 *   fetches it again. Without it (the default, as in the tutorial) a poem is kept for as long
 *   as the proxy runs.
 * - **Failures are not cached.** When the upstream server cannot be reached or breaks the
 *   connection, every waiting client's connection is closed with nothing written and one log
 *   line says why; the next request tries again.
 * - **Transforms are cached too**, by request (transform name and poem): the same request
 *   within `ttl` is answered from the cache, identical requests in flight share one upstream
 *   request, and at most `maxCached` results are kept (the least recently used go first).
 *   A transform that fails is not cached: the client's connection is closed with no reply, as
 *   the transformation server itself would close it.
 *
 * The module is also a program (the runner with this plugin); it needs only `--allow-net`:
 *
 * ```sh
 * deno run --allow-net services/proxy.ts --port 10000 10001          # proxy 127.0.0.1:10001
 * deno run --allow-net services/proxy.ts --port 10000 --ttl 7200 poetry.example.org:10001
 * deno run --allow-net services/proxy.ts --transform 11000 --xform-port 11001
 * ```
 *
 * @example Proxy a poetry server
 * ```ts
 * import { PoetryProxyFactory, ProxyService } from "@poetry/serve/proxy";
 * import { PoetryFactory, PoetryService } from "@poetry/serve/fastpoetry";
 * import { getPoetry } from "@poetry/serve/get";
 * import { reactor } from "@poetry/serve/reactor";
 *
 * const poetry = new PoetryService("kettle");
 * poetry.startService();
 * const upstream = reactor.listenTCP(0, new PoetryFactory(poetry), { interface: "127.0.0.1" });
 * const service = new ProxyService("127.0.0.1", upstream.getHost().port);
 * const proxy = reactor.listenTCP(0, new PoetryProxyFactory(service), { interface: "127.0.0.1" });
 * const proxyPort = proxy.getHost().port;
 * const poem = await getPoetry("127.0.0.1", proxyPort); // fetched from upstream
 * const again = await getPoetry("127.0.0.1", proxyPort); // from the cache
 * console.log(poem === again, poem.split("\n")[0]); // true Sonnet for a Kettle
 * await proxy.stopListening();
 * await upstream.stopListening();
 * ```
 *
 * @module
 */

import { CancelledError, Deferred, maybeDeferred, succeed } from "../defer.ts";
import type { Failure } from "../failure.ts";
import { msg } from "../log.ts";
import { ServerFactory } from "../protocols/factory.ts";
import { type Data, Protocol, type Transport } from "../protocols/protocol.ts";
import { toBytes } from "../protocols/_bytes.ts";
import { reactor as globalReactor, type ReactorTime } from "../reactor.ts";
import {
  type CommandSpec,
  type HostPort,
  parseByteCount,
  parsePort,
  parsePositiveSeconds,
  parseServerAddress,
  UsageError,
} from "../_options.ts";
import { type ClientReactor, DEFAULT_MAX_POEM_LENGTH, getPoetryBytes } from "./get.ts";
import { TCPServer } from "./internet.ts";
import { MultiService } from "./multi_service.ts";
import type { ServiceMaker } from "./plugin.ts";
import { Service } from "./service.ts";
import { TransformProtocol } from "./transform.ts";
import { TransformProxy } from "./transform_client.ts";
import { checkMaxLength, hostPort } from "./_client_request.ts";

/**
 * How many transformed poems {@linkcode TransformProxyService} keeps unless told otherwise.
 *
 * @example One poem too many: the least recently used is asked for again
 * ```ts
 * import { DEFAULT_MAX_CACHED, TransformProxyService } from "@poetry/serve/proxy";
 * import { succeed } from "@poetry/serve/defer";
 *
 * let requests = 0;
 * const service = new TransformProxyService("127.0.0.1", 11000, {
 *   xform: (_name, poem) => (requests++, succeed(poem.toLowerCase())),
 * });
 * for (let i = 0; i <= DEFAULT_MAX_CACHED; i++) await service.xform("cummingsify", `POEM ${i}`);
 * await service.xform("cummingsify", "POEM 0"); // no longer cached
 * console.log(DEFAULT_MAX_CACHED, requests); // 100 102
 * ```
 */
export const DEFAULT_MAX_CACHED = 100;

/**
 * What the cache needs of a clock: the time, in seconds.
 *
 * @example Age the cache on a clock of your own
 * ```ts
 * import { ProxyService, type SecondsClock } from "@poetry/serve/proxy";
 * import { succeed } from "@poetry/serve/defer";
 *
 * let now = 0;
 * const clock: SecondsClock = { seconds: () => now };
 * let fetches = 0;
 * const getPoetry = () => succeed(`poem ${++fetches}`);
 * const service = new ProxyService("127.0.0.1", 10001, { ttl: 60, clock, getPoetry });
 * await service.getPoem();
 * now = 60; // a minute later: too old
 * await service.getPoem();
 * console.log(fetches); // 2
 * ```
 */
export type SecondsClock = Pick<ReactorTime, "seconds">;

interface CachedEntry<V> {
  readonly state: "cached";
  readonly value: V;
  readonly at: number;
}

interface FetchingEntry<V> {
  readonly state: "fetching";
  fetch: Deferred<V> | undefined;
  readonly waiters: Set<Deferred<V>>;
}

/**
 * Values by key, each fetched once: concurrent requests for a key being fetched wait for that
 * fetch; values expire after `ttl` seconds; at most `maxEntries` values are kept (least
 * recently used dropped first); failures are not kept.
 */
class SharedCache<V> {
  readonly #entries = new Map<string, CachedEntry<V> | FetchingEntry<V>>();
  readonly #ttl: number;
  readonly #clock: SecondsClock;
  readonly #maxEntries: number;

  constructor(ttl: number, clock: SecondsClock, maxEntries: number) {
    this.#ttl = ttl;
    this.#clock = clock;
    this.#maxEntries = maxEntries;
  }

  /** The value cached for `key`, if it has not expired. */
  peek(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry?.state !== "cached") return undefined;
    return this.#clock.seconds() - entry.at < this.#ttl ? entry.value : undefined;
  }

  /**
   * A Deferred for `key`'s value: already fired from the cache, waiting on the fetch under
   * way, or waiting on a new fetch made with `fetch()`. `what` names the value in log lines.
   */
  get(key: string, what: string, fetch: () => Deferred<V>): Deferred<V> {
    const entry = this.#entries.get(key);
    if (entry?.state === "cached") {
      if (this.#clock.seconds() - entry.at < this.#ttl) {
        // Most recently used: to the end of the map's order.
        this.#entries.delete(key);
        this.#entries.set(key, entry);
        msg(`Using cached ${what}.`);
        return succeed(entry.value);
      }
      this.#entries.delete(key);
      msg(`The cached ${what} is older than ${this.#ttl} seconds: fetching it again.`);
    } else if (entry?.state === "fetching") {
      msg(`Waiting for the ${what} already being fetched.`);
      return this.#waiter(key, entry);
    }
    msg(`Fetching ${what}.`);
    const fetching: FetchingEntry<V> = { state: "fetching", fetch: undefined, waiters: new Set() };
    this.#entries.set(key, fetching);
    const first = this.#waiter(key, fetching);
    const d = maybeDeferred(fetch);
    fetching.fetch = d;
    d.addCallbacks(
      (value) => this.#fetched(key, fetching, value),
      (failure) => this.#failed(key, what, fetching, failure),
    );
    return first;
  }

  /** Cancels every fetch under way (their waiters fail with `CancelledError`). */
  cancelFetches(): void {
    for (const [key, entry] of [...this.#entries]) {
      if (entry.state !== "fetching") continue;
      this.#entries.delete(key);
      entry.fetch?.cancel();
    }
  }

  #waiter(key: string, entry: FetchingEntry<V>): Deferred<V> {
    const waiter: Deferred<V> = new Deferred<V>(() => {
      entry.waiters.delete(waiter);
      if (entry.waiters.size === 0 && this.#entries.get(key) === entry) {
        // Nobody wants it any more: stop fetching it.
        this.#entries.delete(key);
        entry.fetch?.cancel();
      }
    });
    entry.waiters.add(waiter);
    return waiter;
  }

  #fetched(key: string, entry: FetchingEntry<V>, value: V): void {
    if (this.#entries.get(key) === entry) {
      this.#entries.delete(key);
      this.#entries.set(key, { state: "cached", value, at: this.#clock.seconds() });
      this.#evict();
    }
    const waiters = [...entry.waiters];
    entry.waiters.clear();
    for (const waiter of waiters) waiter.callback(value);
  }

  #failed(key: string, what: string, entry: FetchingEntry<V>, failure: Failure): void {
    if (this.#entries.get(key) === entry) this.#entries.delete(key);
    const waiters = [...entry.waiters];
    entry.waiters.clear();
    if (failure.check(CancelledError) !== null) {
      msg(`Stopped fetching ${what}: no client is waiting for it.`);
    } else {
      const clients = waiters.length === 1 ? "1 client" : `${waiters.length} clients`;
      msg(`Fetching ${what} failed (${clients} waiting): ${failure.getErrorMessage()}`);
    }
    for (const waiter of waiters) waiter.errback(failure);
  }

  /** Drops the least recently used values beyond `maxEntries` (the map keeps use order). */
  #evict(): void {
    let excess = -this.#maxEntries;
    for (const entry of this.#entries.values()) if (entry.state === "cached") excess++;
    for (const [key, entry] of this.#entries) {
      if (excess <= 0) return;
      if (entry.state === "cached") {
        this.#entries.delete(key);
        excess--;
      }
    }
  }
}

function checkTtl(ttl: number): number {
  if (!(ttl > 0)) throw new RangeError(`ttl must be a number of seconds > 0, not ${ttl}`);
  return ttl;
}

/** One request in a {@linkcode PendingReplies} queue, not yet started. */
interface WaitingRequest<T> {
  start: () => Deferred<T>;
  send: (value: T) => void;
}

/**
 * One client's requests to a proxy service, for the proxy's protocols. They are made one at a
 * time, in the order they came, as the server behind the proxy answers them: so one client
 * sending many requests at once holds one upstream request at a time, not one per request,
 * and the connection stops reading while requests wait. A failed request (the service has
 * logged why) is answered with nothing. Once no request is left, the connection is closed. A
 * client that leaves first has its request cancelled and the waiting ones dropped.
 */
class PendingReplies<T> {
  #waiting: WaitingRequest<T>[] = [];
  #current: Deferred<T> | undefined = undefined;
  #paused = false;
  #stopped = false;

  /** Queues a request: `start()` makes it in turn, and `send` gets its answer. */
  add(start: () => Deferred<T>, transport: Transport, send: (value: T) => void): void {
    this.#waiting.push({ start, send });
    if (this.#current === undefined) {
      this.#run(transport);
    } else if (!this.#paused) {
      // Read no more requests until these are answered.
      this.#paused = true;
      transport.pauseProducing();
    }
  }

  /** Makes the waiting requests one after the other; closes once none is left. */
  #run(transport: Transport): void {
    // A loop, not recursion: answers that are ready at once (cached) come one after another.
    while (!this.#stopped && this.#current === undefined) {
      const request = this.#waiting.shift();
      if (request === undefined) {
        transport.loseConnection();
        return;
      }
      if (this.#waiting.length === 0 && this.#paused) {
        this.#paused = false;
        transport.resumeProducing();
      }
      let started = false;
      const d = request.start();
      this.#current = d;
      d.addCallbacks(request.send, (): void => {}).addBoth(() => {
        this.#current = undefined;
        if (started) this.#run(transport);
      });
      started = true;
    }
  }

  /** Cancels the request under way and drops the waiting ones. */
  cancel(): void {
    this.#stopped = true;
    this.#waiting = [];
    const d = this.#current;
    this.#current = undefined;
    d?.cancel();
  }
}

/**
 * Fetches a poem from a poetry server: what {@linkcode ProxyService} fetches with. It returns
 * the poem as bytes or text (text is sent as UTF-8).
 *
 * @example Serve a poem made in the process
 * ```ts
 * import { type PoemFetcher, ProxyService } from "@poetry/serve/proxy";
 * import { succeed } from "@poetry/serve/defer";
 *
 * const fetcher: PoemFetcher = (host, port) => succeed(`the poem of ${host}:${port}`);
 * const service = new ProxyService("127.0.0.1", 10001, { getPoetry: fetcher });
 * console.log(new TextDecoder().decode(await service.getPoem())); // the poem of 127.0.0.1:10001
 * ```
 */
export type PoemFetcher = (host: string, port: number) => Deferred<Data>;

/**
 * Options of {@linkcode ProxyService}.
 *
 * @example Fetch again every two hours; give a slow upstream ten seconds
 * ```ts
 * import { ProxyService, type ProxyServiceOptions } from "@poetry/serve/proxy";
 *
 * const options: ProxyServiceOptions = { ttl: 7200, timeout: 10 };
 * const service = new ProxyService("poetry.example.org", 10001, options);
 * console.log(service.where, service.ttl); // poetry.example.org:10001 7200
 * ```
 */
export interface ProxyServiceOptions {
  /**
   * Seconds a cached poem is served before it is fetched again.
   * @default {Infinity} (kept while the proxy runs, as in the tutorial)
   */
  ttl?: number;
  /**
   * The clock that ages the cache: a `Clock` (from `task.ts`) in tests.
   * @default {reactor}
   */
  clock?: SecondsClock;
  /**
   * The reactor the default fetcher connects with.
   * @default {reactor}
   */
  reactor?: ClientReactor;
  /**
   * Seconds an upstream download may take (with the default fetcher) before it fails.
   * @default {undefined} (no limit but the 30 seconds allowed to connect)
   */
  timeout?: number;
  /**
   * The longest poem accepted from upstream, in bytes (with the default fetcher): a longer
   * one fails the fetch with `PoemTooLongError`, and the clients waiting for it are
   * disconnected. `Infinity` lifts the limit.
   * @default {DEFAULT_MAX_POEM_LENGTH} (16 MiB, from `get.ts`)
   */
  maxLength?: number;
  /**
   * The function that fetches the poem.
   * @default {getPoetryBytes} (from `get.ts`, with `reactor`, `timeout` and `maxLength`)
   */
  getPoetry?: PoemFetcher;
}

/**
 * The proxy's cache of one upstream server's poem. {@linkcode ProxyService.getPoem} returns a
 * Deferred for the poem's bytes, fired at once when it is cached. It is a `Service` so that it
 * can sit in a service tree; stopping it cancels a fetch under way.
 *
 * @example Serve from the cache, on a test clock
 * ```ts
 * import { ProxyService } from "@poetry/serve/proxy";
 * import { succeed } from "@poetry/serve/defer";
 * import { Clock } from "@poetry/serve/task";
 *
 * let fetches = 0;
 * const clock = new Clock();
 * const service = new ProxyService("127.0.0.1", 10001, {
 *   ttl: 60,
 *   clock,
 *   getPoetry: () => succeed(`poem number ${++fetches}`),
 * });
 * await service.getPoem(); // fetched
 * await service.getPoem(); // cached
 * clock.advance(60);
 * const poem = await service.getPoem(); // too old: fetched again
 * console.log(new TextDecoder().decode(poem), fetches); // poem number 2 2
 * ```
 */
export class ProxyService extends Service {
  /** The upstream server's host. */
  readonly host: string;
  /** The upstream server's port. */
  readonly port: number;
  /** The upstream server, as `host:port`. */
  readonly where: string;
  /** Seconds a cached poem is served. */
  readonly ttl: number;
  #cache: SharedCache<Uint8Array>;
  #fetch: PoemFetcher;

  /**
   * A proxy for the poetry server at `host`:`port`. Nothing is fetched before the first
   * {@linkcode ProxyService.getPoem}.
   *
   * @param host The upstream server's host.
   * @param port The upstream server's port.
   * @param options The cache's lifetime and clock, and how to fetch.
   * @throws {RangeError} When `ttl` is not a number of seconds above 0, or `maxLength` not a
   *   number >= 0.
   *
   * @example A proxy that fetches the poem again every two hours
   * ```ts
   * import { ProxyService } from "@poetry/serve/proxy";
   * const service = new ProxyService("localhost", 10001, { ttl: 7200 });
   * console.log(service.where, service.ttl, service.poem); // localhost:10001 7200 undefined
   * ```
   */
  constructor(host: string, port: number, options: ProxyServiceOptions = {}) {
    super();
    this.host = host;
    this.port = port;
    this.where = hostPort(host, port);
    this.ttl = checkTtl(options.ttl ?? Infinity);
    this.#cache = new SharedCache(this.ttl, options.clock ?? globalReactor, 1);
    const { reactor, timeout } = options;
    const maxLength = checkMaxLength(options.maxLength ?? DEFAULT_MAX_POEM_LENGTH);
    this.#fetch = options.getPoetry ??
      ((host, port) => getPoetryBytes(host, port, { reactor, timeout, maxLength }));
  }

  /**
   * The cached poem, if there is one and it is not older than the ttl.
   *
   * @example Look into the cache
   * ```ts
   * import { ProxyService } from "@poetry/serve/proxy";
   * import { succeed } from "@poetry/serve/defer";
   * const service = new ProxyService("127.0.0.1", 10001, { getPoetry: () => succeed("ode") });
   * service.getPoem();
   * console.log(service.poem); // Uint8Array(3) [ 111, 100, 101 ]
   * ```
   */
  get poem(): Uint8Array | undefined {
    return this.#cache.peek("poem");
  }

  /**
   * The poem: a Deferred already fired with it when it is cached (`succeed`), else one that
   * fires when the upstream server has sent it — the fetch under way, if there is one, or a
   * new one. Each call gets its own Deferred; cancelling it (a client that left) stops the
   * fetch only if no one else waits for it. When the fetch fails, every waiting Deferred
   * fails with its error and nothing is cached.
   *
   * @returns The poem's bytes.
   *
   * @example Three requests, one fetch
   * ```ts
   * import { ProxyService } from "@poetry/serve/proxy";
   * import { Deferred } from "@poetry/serve/defer";
   *
   * const fetches: Deferred<string>[] = [];
   * const service = new ProxyService("127.0.0.1", 10001, {
   *   getPoetry: () => {
   *     const d = new Deferred<string>();
   *     fetches.push(d);
   *     return d;
   *   },
   * });
   * const waiting = [service.getPoem(), service.getPoem(), service.getPoem()];
   * fetches[0].callback("one poem for all");
   * console.log(fetches.length, waiting.every((d) => d.called)); // 1 true
   * ```
   */
  getPoem(): Deferred<Uint8Array> {
    return this.#cache.get(
      "poem",
      `poem from ${this.where}`,
      () => this.#fetch(this.host, this.port).addCallback((poem) => toBytes(poem)),
    );
  }

  /**
   * Stops the service, cancelling a fetch under way (its waiters fail with
   * `CancelledError`). The cached poem stays.
   *
   * @example Stopping cancels the fetch under way
   * ```ts
   * import { ProxyService } from "@poetry/serve/proxy";
   * import { Deferred } from "@poetry/serve/defer";
   *
   * const service = new ProxyService("127.0.0.1", 10001, { getPoetry: () => new Deferred<string>() });
   * service.startService();
   * service.getPoem().addErrback((failure) => console.log(failure.type?.name));
   * await service.stopService(); // CancelledError
   * console.log(service.running); // false
   * ```
   */
  override stopService(): PromiseLike<void> | void {
    this.#cache.cancelFetches();
    return super.stopService();
  }
}

/**
 * One client of the poetry proxy: asks the factory's {@linkcode ProxyService} for the poem,
 * writes it and closes the connection; closes it with nothing written if the poem cannot be
 * had. A client that disconnects first has its request cancelled.
 *
 * @example Serve the cached poem
 * ```ts
 * import { PoetryProxyFactory, ProxyService } from "@poetry/serve/proxy";
 * import { succeed } from "@poetry/serve/defer";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * const service = new ProxyService("127.0.0.1", 10001, { getPoetry: () => succeed("an ode") });
 * const factory = new PoetryProxyFactory(service);
 * const transport = new StringTransport();
 * factory.buildProtocol(transport.getPeer())!.makeConnection(transport);
 * console.log(transport.valueText(), transport.disconnecting); // an ode true
 * ```
 */
export class PoetryProxyProtocol extends Protocol {
  /** The factory that built this protocol. */
  declare factory: PoetryProxyFactory;
  #reply = new PendingReplies<Uint8Array>();

  /**
   * Asks for the poem; writes it when it comes, then closes the connection.
   *
   * @example No poem to be had: the client gets nothing
   * ```ts
   * import { PoetryProxyFactory, ProxyService } from "@poetry/serve/proxy";
   * import { fail } from "@poetry/serve/defer";
   * import { StringTransport } from "@poetry/serve/testing";
   *
   * const service = new ProxyService("127.0.0.1", 10001, {
   *   getPoetry: () => fail(new Error("the upstream server is down")),
   * });
   * const transport = new StringTransport();
   * new PoetryProxyFactory(service).buildProtocol(transport.getPeer())!.makeConnection(transport);
   * console.log(transport.value().length, transport.disconnecting); // 0 true
   * ```
   */
  override connectionMade(): void {
    this.#reply.add(() => this.factory.service.getPoem(), this.transport, (poem) => {
      this.transport.write(poem);
    });
  }

  /**
   * The client left: cancels its request if the poem has not come yet.
   *
   * @example The last client to leave stops the fetch
   * ```ts
   * import { PoetryProxyFactory, ProxyService } from "@poetry/serve/proxy";
   * import { Deferred } from "@poetry/serve/defer";
   * import { ConnectionDone } from "@poetry/serve/error";
   * import { Failure } from "@poetry/serve/failure";
   * import { StringTransport } from "@poetry/serve/testing";
   *
   * const service = new ProxyService("127.0.0.1", 10001, {
   *   getPoetry: () => new Deferred<string>(() => console.log("fetch cancelled")),
   * });
   * const protocol = new PoetryProxyFactory(service).buildProtocol(new StringTransport().getPeer())!;
   * protocol.makeConnection(new StringTransport());
   * protocol.connectionLost(new Failure(new ConnectionDone())); // fetch cancelled
   * ```
   */
  override connectionLost(_reason: Failure): void {
    this.#reply.cancel();
  }
}

/**
 * Builds a {@linkcode PoetryProxyProtocol} per client and lends it the
 * {@linkcode ProxyService}.
 *
 * @example The protocols share the factory's service
 * ```ts
 * import { PoetryProxyFactory, ProxyService } from "@poetry/serve/proxy";
 * const factory = new PoetryProxyFactory(new ProxyService("127.0.0.1", 10001));
 * console.log(factory.service.where); // 127.0.0.1:10001
 * ```
 */
export class PoetryProxyFactory extends ServerFactory {
  /** Builds {@linkcode PoetryProxyProtocol}s. */
  override protocol: typeof PoetryProxyProtocol = PoetryProxyProtocol;
  /** The cache the protocols ask. */
  readonly service: ProxyService;

  /**
   * A factory serving `service`'s poem.
   *
   * @param service The proxy's cache.
   *
   * @example Serve a service on a port
   * ```ts
   * import { PoetryProxyFactory, ProxyService } from "@poetry/serve/proxy";
   * import { reactor } from "@poetry/serve/reactor";
   *
   * const factory = new PoetryProxyFactory(new ProxyService("127.0.0.1", 10001));
   * const port = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
   * await port.stopListening();
   * ```
   */
  constructor(service: ProxyService) {
    super();
    this.service = service;
  }
}

/**
 * Transforms a poem: what {@linkcode TransformProxyService} transforms with.
 *
 * @example Transform in the process, with no upstream server
 * ```ts
 * import { type TransformFetcher, TransformProxyService } from "@poetry/serve/proxy";
 * import { fail, succeed } from "@poetry/serve/defer";
 * import { TransformFactory, TransformService } from "@poetry/serve/transform";
 *
 * const factory = new TransformFactory(new TransformService());
 * const inProcess: TransformFetcher = (xformName, poem) => {
 *   const result = factory.transform(xformName, poem);
 *   return result === undefined ? fail(new Error(`no transform ${xformName}`)) : succeed(result);
 * };
 * const service = new TransformProxyService("127.0.0.1", 11000, { xform: inProcess });
 * console.log(await service.xform("uppercase", "ode")); // ODE
 * ```
 */
export type TransformFetcher = (xformName: string, poem: string) => Deferred<string>;

/**
 * Options of {@linkcode TransformProxyService}.
 *
 * @example A small cache whose results last a minute, on a test clock
 * ```ts
 * import { TransformProxyService, type TransformProxyServiceOptions } from "@poetry/serve/proxy";
 * import { succeed } from "@poetry/serve/defer";
 * import { Clock } from "@poetry/serve/task";
 *
 * const clock = new Clock();
 * let requests = 0;
 * const options: TransformProxyServiceOptions = {
 *   ttl: 60,
 *   maxCached: 10,
 *   clock,
 *   xform: (_name, poem) => (requests++, succeed(poem.toLowerCase())),
 * };
 * const service = new TransformProxyService("127.0.0.1", 11000, options);
 * await service.xform("cummingsify", "ODE");
 * clock.advance(60);
 * await service.xform("cummingsify", "ODE"); // too old: asked for again
 * console.log(requests); // 2
 * ```
 */
export interface TransformProxyServiceOptions {
  /**
   * Seconds a transformed poem is served from the cache.
   * @default {Infinity}
   */
  ttl?: number;
  /**
   * How many transformed poems are kept (the least recently used go first); 0 keeps none,
   * though identical requests in flight still share one upstream request.
   * @default {100}
   */
  maxCached?: number;
  /**
   * The clock that ages the cache.
   * @default {reactor}
   */
  clock?: SecondsClock;
  /**
   * The reactor the default transformer connects with.
   * @default {reactor}
   */
  reactor?: ClientReactor;
  /**
   * Seconds an upstream request may take (with the default transformer) before it fails.
   * @default {undefined}
   */
  timeout?: number;
  /**
   * The function that transforms.
   * @default {TransformProxy(host, port).xform} (from `transform_client.ts`)
   */
  xform?: TransformFetcher;
}

/**
 * The transformation proxy's service: {@linkcode TransformProxyService.xform} has the upstream
 * transformation server at `host`:`port` transform a poem, and caches the result by request.
 *
 * @example Transforms cached by request
 * ```ts
 * import { TransformProxyService } from "@poetry/serve/proxy";
 * import { succeed } from "@poetry/serve/defer";
 *
 * let requests = 0;
 * const service = new TransformProxyService("127.0.0.1", 11000, {
 *   xform: (_name, poem) => (requests++, succeed(poem.toLowerCase())),
 * });
 * console.log(await service.xform("cummingsify", "HELLO")); // hello
 * console.log(await service.xform("cummingsify", "HELLO"), requests); // hello 1
 * ```
 */
export class TransformProxyService extends Service {
  /** The upstream server, as `host:port`. */
  readonly where: string;
  #cache: SharedCache<string>;
  #xform: TransformFetcher;

  /**
   * A proxy for the transformation server at `host`:`port`.
   *
   * @param host The upstream server's host.
   * @param port The upstream server's port.
   * @param options The cache's lifetime, size and clock, and how to transform.
   * @throws {RangeError} When `ttl` is not above 0 or `maxCached` is not a whole number.
   *
   * @example Keep a thousand transformed poems for an hour
   * ```ts
   * import { TransformProxyService } from "@poetry/serve/proxy";
   * const service = new TransformProxyService("localhost", 11000, { maxCached: 1000, ttl: 3600 });
   * console.log(service.where); // localhost:11000
   * ```
   */
  constructor(host: string, port: number, options: TransformProxyServiceOptions = {}) {
    super();
    this.where = hostPort(host, port);
    const maxCached = options.maxCached ?? DEFAULT_MAX_CACHED;
    if (!Number.isSafeInteger(maxCached) || maxCached < 0) {
      throw new RangeError(`maxCached must be a whole number >= 0, not ${maxCached}`);
    }
    const ttl = checkTtl(options.ttl ?? Infinity);
    this.#cache = new SharedCache(ttl, options.clock ?? globalReactor, maxCached);
    if (options.xform !== undefined) {
      this.#xform = options.xform;
    } else {
      const proxy = new TransformProxy(host, port, {
        reactor: options.reactor,
        timeout: options.timeout,
      });
      this.#xform = (name, poem) => proxy.xform(name, poem);
    }
  }

  /**
   * The poem transformed by the upstream server: from the cache when the same request was
   * answered within the ttl, else from the request under way or a new one. Fails as the
   * upstream request fails (`TransformFailedError`, `ConnectionRefusedError`...), and such a
   * failure is not cached.
   *
   * @param xformName The transform.
   * @param poem The poem.
   * @returns The transformed poem.
   *
   * @example Transform through the upstream server
   * ```ts
   * import { TransformProxyService } from "@poetry/serve/proxy";
   * import { succeed } from "@poetry/serve/defer";
   * const service = new TransformProxyService("127.0.0.1", 11000, {
   *   xform: (_name, poem) => succeed(poem.toUpperCase()),
   * });
   * service.xform("uppercase", "ode").addCallback(console.log); // ODE
   * ```
   */
  xform(xformName: string, poem: string): Deferred<string> {
    return this.#cache.get(
      `${xformName}.${poem}`,
      `transform ${xformName} of a poem (${poem.length} characters) from ${this.where}`,
      () => this.#xform(xformName, poem),
    );
  }

  /**
   * Stops the service, cancelling the requests under way.
   *
   * @example Stopping cancels the requests under way
   * ```ts
   * import { TransformProxyService } from "@poetry/serve/proxy";
   * import { Deferred } from "@poetry/serve/defer";
   *
   * const service = new TransformProxyService("127.0.0.1", 11000, {
   *   xform: () => new Deferred<string>(),
   * });
   * service.startService();
   * service.xform("uppercase", "ode").addErrback((failure) => console.log(failure.type?.name));
   * await service.stopService(); // CancelledError
   * ```
   */
  override stopService(): PromiseLike<void> | void {
    this.#cache.cancelFetches();
    return super.stopService();
  }
}

/**
 * One client of the transformation proxy: reads a request as the transformation server does
 * (`TransformProtocol` of `transform.ts`: a netstring `<name>.<poem>`), has the
 * {@linkcode TransformProxyService} transform it, and answers with the transformed poem as a
 * netstring; a transform that fails is answered with nothing. Several requests sent at once on
 * one connection are answered in the order they came, as the server answers them, and the
 * connection is closed after the last answer.
 *
 * @example Answer a request through the proxy
 * ```ts
 * import { TransformProxyFactory, TransformProxyService } from "@poetry/serve/proxy";
 * import { succeed } from "@poetry/serve/defer";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * const service = new TransformProxyService("127.0.0.1", 11000, {
 *   xform: (_name, poem) => succeed(poem.toLowerCase()),
 * });
 * const transport = new StringTransport();
 * const protocol = new TransformProxyFactory(service).buildProtocol(transport.getPeer())!;
 * protocol.makeConnection(transport);
 * protocol.dataReceived(new TextEncoder().encode("15:cummingsify.ODE,"));
 * console.log(transport.valueText(), transport.disconnecting); // 3:ode, true
 * ```
 */
export class TransformProxyProtocol extends TransformProtocol {
  #replies = new PendingReplies<string>();

  /**
   * Has the proxy service transform the poem; sends the result once the requests before it are
   * answered (nothing if the transform fails), and closes the connection when no request is
   * left waiting.
   *
   * @param xformName The transform.
   * @param poem The poem.
   *
   * @example Relay the transformed poem
   * ```ts
   * import { TransformProxyFactory, TransformProxyService } from "@poetry/serve/proxy";
   * import type { TransformProxyProtocol } from "@poetry/serve/proxy";
   * import { succeed } from "@poetry/serve/defer";
   * import { StringTransport } from "@poetry/serve/testing";
   *
   * const service = new TransformProxyService("127.0.0.1", 11000, {
   *   xform: (_name, poem) => succeed(poem.toUpperCase()),
   * });
   * const transport = new StringTransport();
   * const factory = new TransformProxyFactory(service);
   * const protocol = factory.buildProtocol(transport.getPeer()) as TransformProxyProtocol;
   * protocol.makeConnection(transport);
   * protocol.xformRequestReceived("uppercase", "ode");
   * console.log(transport.valueText(), transport.disconnecting); // 3:ODE, true
   * ```
   */
  override xformRequestReceived(xformName: string, poem: string): void {
    const factory = this.factory as unknown as TransformProxyFactory;
    this.#replies.add(() => factory.service.xform(xformName, poem), this.transport, (newPoem) => {
      this.sendString(newPoem);
    });
  }

  /**
   * The client left: cancels its request if the reply has not come yet.
   *
   * @example The last client to leave stops the request
   * ```ts
   * import { TransformProxyFactory, TransformProxyService } from "@poetry/serve/proxy";
   * import type { TransformProxyProtocol } from "@poetry/serve/proxy";
   * import { Deferred } from "@poetry/serve/defer";
   * import { ConnectionDone } from "@poetry/serve/error";
   * import { Failure } from "@poetry/serve/failure";
   * import { StringTransport } from "@poetry/serve/testing";
   *
   * const service = new TransformProxyService("127.0.0.1", 11000, {
   *   xform: () => new Deferred<string>(() => console.log("request cancelled")),
   * });
   * const transport = new StringTransport();
   * const factory = new TransformProxyFactory(service);
   * const protocol = factory.buildProtocol(transport.getPeer()) as TransformProxyProtocol;
   * protocol.makeConnection(transport);
   * protocol.xformRequestReceived("uppercase", "ode");
   * protocol.connectionLost(new Failure(new ConnectionDone())); // request cancelled
   * ```
   */
  override connectionLost(reason: Failure): void {
    super.connectionLost(reason);
    this.#replies.cancel();
  }
}

/**
 * Builds a {@linkcode TransformProxyProtocol} per client and lends it the
 * {@linkcode TransformProxyService}.
 *
 * @example The protocols share the factory's service
 * ```ts
 * import { TransformProxyFactory, TransformProxyService } from "@poetry/serve/proxy";
 * const factory = new TransformProxyFactory(new TransformProxyService("127.0.0.1", 11000));
 * console.log(factory.service.where); // 127.0.0.1:11000
 * ```
 */
export class TransformProxyFactory extends ServerFactory {
  /** Builds {@linkcode TransformProxyProtocol}s. */
  override protocol: typeof TransformProxyProtocol = TransformProxyProtocol;
  /** The service the protocols ask. */
  readonly service: TransformProxyService;

  /**
   * A factory for `service`.
   *
   * @param service The transformation proxy's service.
   *
   * @example Serve a transformation proxy on a port
   * ```ts
   * import { TransformProxyFactory, TransformProxyService } from "@poetry/serve/proxy";
   * import { reactor } from "@poetry/serve/reactor";
   *
   * const factory = new TransformProxyFactory(new TransformProxyService("127.0.0.1", 11000));
   * const port = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
   * await port.stopListening();
   * ```
   */
  constructor(service: TransformProxyService) {
    super();
    this.service = service;
  }
}

/**
 * What {@linkcode makeProxyService} and the `proxy` plugin take.
 *
 * @example Proxy a poetry server from code
 * ```ts
 * import { makeProxyService, type ProxyOptions } from "@poetry/serve/proxy";
 *
 * const options: ProxyOptions = {
 *   port: 0,
 *   iface: "127.0.0.1",
 *   ttl: 3600,
 *   timeout: 10,
 *   transform: undefined,
 *   "xform-port": 0,
 *   server: { host: "127.0.0.1", port: 10001 },
 * };
 * console.log([...makeProxyService(options)].length); // 2 (the ProxyService and its TCPServer)
 * ```
 */
export interface ProxyOptions {
  /**
   * The port to serve the poem on (0: any free port).
   * @default {0} (the command line's default)
   */
  port: number;
  /**
   * The interface to listen on.
   * @default {"localhost"} (the command line's default)
   */
  iface: string;
  /**
   * Seconds a cached poem (or transform) is served; `undefined` for as long as the proxy runs.
   * @default {undefined} (the command line's default)
   */
  ttl: number | undefined;
  /**
   * Seconds an upstream request may take; `undefined` for no limit.
   * @default {undefined} (the command line's default)
   */
  timeout: number | undefined;
  /**
   * The longest poem accepted from the poetry server, in bytes.
   * @default {DEFAULT_MAX_POEM_LENGTH} (16 MiB, the command line's default)
   */
  "max-length"?: number;
  /**
   * The upstream transformation server, for the transformation proxy.
   * @default {undefined} (the command line's default: no transformation proxy)
   */
  transform: HostPort | undefined;
  /**
   * The port the transformation proxy listens on (0: any free port).
   * @default {0} (the command line's default)
   */
  "xform-port": number;
  /**
   * The upstream poetry server.
   * @default {undefined} (the command line's default: no poetry proxy)
   */
  server: HostPort | undefined;
}

/**
 * The `proxy` command line: `[--port P] [--iface I] [--ttl S] [--timeout S] [--max-length N]
 * [--transform HOST:PORT [--xform-port P]] [[HOST:]PORT]`.
 *
 * @example Parse a proxy's command line
 * ```ts
 * import { proxyOptions } from "@poetry/serve/proxy";
 * import { parseOptions } from "@poetry/serve/plugin";
 *
 * const options = parseOptions(proxyOptions, ["--ttl", "7200", "poetry.example.org:10001"]);
 * console.log(options.server, options.ttl); // { host: "poetry.example.org", port: 10001 } 7200
 * console.log(options.port, options.iface); // 0 localhost
 * ```
 */
export const proxyOptions: CommandSpec<ProxyOptions> = {
  synopsis: "[options] [HOST:]PORT",
  description: "The caching poetry proxy: serves the poem of the poetry server at [HOST:]PORT " +
    "(a bare PORT means 127.0.0.1:PORT), fetched once and then served from its cache. With " +
    "--transform, also (or only) a transformation proxy that has that transformation server " +
    "do the work, and caches the results.",
  options: [
    {
      name: "port",
      short: "p",
      default: 0,
      defaultText: "any free port",
      help: "The port to serve the poem on.",
      parse: parsePort,
    },
    { name: "iface", default: "localhost", help: "The interface to listen on." },
    {
      name: "ttl",
      help: "Seconds a cached poem (or transformed poem) is served before it is fetched again.",
      defaultText: "for as long as the proxy runs",
      parse: parsePositiveSeconds,
    },
    {
      name: "timeout",
      help: "Seconds an upstream request may take before it fails.",
      defaultText: "no limit (30 seconds to connect)",
      parse: parsePositiveSeconds,
    },
    {
      name: "max-length",
      default: DEFAULT_MAX_POEM_LENGTH,
      defaultText: `${DEFAULT_MAX_POEM_LENGTH} (16 MiB)`,
      help: "The longest poem accepted from the poetry server, in bytes: a longer one fails.",
      parse: parseByteCount,
    },
    {
      name: "transform",
      help: "The transformation server, [HOST:]PORT, to proxy.",
      parse: parseServerAddress,
    },
    {
      name: "xform-port",
      default: 0,
      defaultText: "any free port",
      help: "The port the transformation proxy listens on (with --transform).",
      parse: parsePort,
    },
  ],
  positionals: [
    {
      name: "server",
      optional: true,
      help: "The poetry server to proxy, [HOST:]PORT.",
      parse: parseServerAddress,
    },
  ],
};

/**
 * Builds the proxy's service tree, under one `MultiService` (not started): for the poetry
 * server, a {@linkcode ProxyService} and a `TCPServer` on `port` with a
 * {@linkcode PoetryProxyFactory}; for `--transform`, a {@linkcode TransformProxyService} and a
 * `TCPServer` on `xform-port` with a {@linkcode TransformProxyFactory}.
 *
 * @param options The parsed `proxy` options.
 * @returns The top service.
 * @throws {UsageError} When neither a poetry server nor `--transform` is given.
 *
 * @example Build the tree from a command line
 * ```ts
 * import { makeProxyService, plugin } from "@poetry/serve/proxy";
 * import { parseOptions } from "@poetry/serve/plugin";
 *
 * const options = parseOptions(plugin.options, ["--port", "0", "--ttl", "60", "10001"]);
 * console.log(options.server, options.ttl); // { host: "127.0.0.1", port: 10001 } 60
 * const top = makeProxyService(options);
 * console.log([...top].length); // 2 (the ProxyService and its TCPServer)
 * ```
 */
export function makeProxyService(options: ProxyOptions): MultiService {
  const { server, transform, ttl, timeout, iface } = options;
  if (server === undefined && transform === undefined) {
    throw new UsageError(
      "give the poetry server to proxy ([HOST:]PORT), or --transform HOST:PORT, or both",
    );
  }
  const top = new MultiService();
  if (server !== undefined) {
    const maxLength = options["max-length"];
    const service = new ProxyService(server.host, server.port, { ttl, timeout, maxLength });
    service.setServiceParent(top);
    new TCPServer(options.port, new PoetryProxyFactory(service), { interface: iface })
      .setServiceParent(top);
  }
  if (transform !== undefined) {
    const service = new TransformProxyService(transform.host, transform.port, { ttl, timeout });
    service.setServiceParent(top);
    new TCPServer(options["xform-port"], new TransformProxyFactory(service), { interface: iface })
      .setServiceParent(top);
  }
  return top;
}

/**
 * The `proxy` plugin: `poetry proxy --port 10000 10001`.
 *
 * @example The transformation proxy alone
 * ```ts
 * import { plugin } from "@poetry/serve/proxy";
 * import { parseOptions } from "@poetry/serve/plugin";
 * const options = parseOptions(plugin.options, ["--transform", "11000"]);
 * console.log(options.transform, options["xform-port"]); // { host: "127.0.0.1", port: 11000 } 0
 * ```
 */
export const plugin: ServiceMaker<ProxyOptions> = {
  tapname: "proxy",
  description: "A caching poetry proxy.",
  options: proxyOptions,
  makeService: makeProxyService,
};

if (import.meta.main) {
  // Imported here so that using the module as a library does not load the runner; not
  // awaited, so that a --config or --plugin module importing this one does not wait for ever
  // for it to finish loading.
  import("./_main.ts").then(({ runPluginAsMain }) => runPluginAsMain(plugin, Deno.args));
}
