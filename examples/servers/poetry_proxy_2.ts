// deno run --allow-net=localhost,127.0.0.1 examples/servers/poetry_proxy_2.ts --port 10000 10001
/**
 * The Poetry Proxy 2.0 (Part 14: When a Deferred Isn't). A Deferred can fire before it is
 * returned, and callbacks added to a fired Deferred run at once. So the proxy's service can
 * always return a Deferred — already fired with `succeed(poem)` when the poem is cached — and
 * the protocol needs no `maybeDeferred`:
 *
 * ```ts ignore
 * getPoem(): Deferred<Uint8Array> {
 *   if (this.poem !== undefined) return succeed(this.poem); // cached: fired already
 *   return getPoetryBytes(this.host, this.port).addCallback((poem) => (this.poem = poem));
 * }
 * // and in the protocol:
 * const d = this.factory.service.getPoem();
 * d.addCallback((poem) => this.transport.write(poem));
 * d.addBoth(() => this.transport.loseConnection());
 * ```
 *
 * Everything else is Proxy 1.0 (`poetry_proxy_1.ts`). The service and the protocol here are
 * the library's `ProxyService` and `PoetryProxyFactory` (`services/proxy.ts`), which work this
 * way — and also share one fetch among clients that arrive together, stop a fetch no client
 * waits for any more, and can age the cache (`--ttl` of the `proxy` program).
 *
 * ```sh
 * deno run --allow-net=localhost,127.0.0.1 examples/servers/poetry_proxy_2.ts --port 10000 10001
 * ```
 *
 * @module
 */

import { PoetryProxyFactory, ProxyService } from "../../services/proxy.ts";
import { runProxy } from "./poetry_proxy_1.ts";

await runProxy(
  "poetry_proxy_2.ts",
  ({ host, port }) => new PoetryProxyFactory(new ProxyService(host, port)),
);
