// deno run --allow-net=localhost,127.0.0.1 examples/servers/poetry_proxy_1.ts --port 10000 10001
/**
 * The Poetry Proxy 1.0 (Part 14: When a Deferred Isn't). The proxy fetches a poem from an
 * upstream poetry server once and then serves it from its cache. Its `getPoem` is
 * asynchronous only some of the time: it returns the poem itself when it is cached, and a
 * Deferred when it must be fetched. The protocol copes with both through `maybeDeferred`,
 * which always hands back a Deferred. (Proxy 2.0, `poetry_proxy_2.ts`, uses `succeed`
 * instead.)
 *
 * ```sh
 * deno run --allow-net=localhost,127.0.0.1 examples/servers/poetry_proxy_1.ts --port 10000 10001
 * ```
 *
 * @module
 */

import { type Deferred, maybeDeferred } from "../../defer.ts";
import { msg, startLogging } from "../../log.ts";
import { ServerFactory } from "../../protocols/factory.ts";
import { Protocol } from "../../protocols/protocol.ts";
import { reactor } from "../../reactor.ts";
import { getPoetryBytes } from "../../services/get.ts";
import { type HostPort, parseAddress, parseCommandLine, parsePort } from "../../services/plugin.ts";

/** Fetches the poem once and keeps it. */
export class ProxyService {
  /** The cached poem, once fetched. */
  poem: Uint8Array | undefined = undefined;

  /** A proxy for the poetry server at `host`:`port`. */
  constructor(readonly host: string, readonly port: number) {}

  /** The poem itself when it is cached; else a Deferred that fires with it. */
  getPoem(): Uint8Array | Deferred<Uint8Array> {
    if (this.poem !== undefined) {
      msg("Using cached poem.");
      return this.poem;
    }
    msg("Fetching poem from server.");
    return getPoetryBytes(this.host, this.port).addCallback((poem) => {
      this.poem = poem;
      return poem;
    });
  }
}

/** Sends the proxy's poem to the client, however it comes, then hangs up. */
export class PoetryProxyProtocol extends Protocol {
  declare factory: PoetryProxyFactory;

  /** Asks for the poem, writes it when it comes, and closes the connection either way. */
  override connectionMade(): void {
    const d = maybeDeferred(() => this.factory.service.getPoem());
    d.addCallback((poem) => this.transport.write(poem));
    d.addErrback((failure) => msg(`no poem: ${failure.getErrorMessage()}`));
    d.addBoth(() => this.transport.loseConnection());
  }
}

/** Builds a {@linkcode PoetryProxyProtocol} per client, lending it the service. */
export class PoetryProxyFactory extends ServerFactory {
  override protocol: typeof PoetryProxyProtocol = PoetryProxyProtocol;

  /** A factory for `service`. */
  constructor(readonly service: ProxyService) {
    super();
  }
}

/**
 * The proxy program: parses `--port`, `--iface` and the server's `[HOST:]PORT` from the
 * command line, listens with the factory `makeFactory` gives for that server, and runs.
 */
export async function runProxy(
  program: string,
  makeFactory: (server: HostPort) => ServerFactory,
): Promise<void> {
  const options = parseCommandLine<{ port: number; iface: string; server: HostPort }>(
    {
      options: [
        { name: "port", default: 0, help: "The port to listen on (0: any).", parse: parsePort },
        { name: "iface", default: "localhost", help: "The interface to listen on." },
      ],
      positionals: [{
        name: "server",
        help: "The poetry server, [HOST:]PORT.",
        parse: (text) => parseAddress(text),
      }],
    },
    Deno.args,
    program,
  );

  startLogging(Deno.stdout);
  const { host, port } = options.server;
  const listening = reactor.listenTCP(options.port, makeFactory(options.server), {
    interface: options.iface,
  });
  const number = listening.getHost().port;
  msg(`Proxying ${host}:${port} on port ${number}.`);
  await reactor.run();
}

if (import.meta.main) {
  await runProxy(
    "poetry_proxy_1.ts",
    ({ host, port }) => new PoetryProxyFactory(new ProxyService(host, port)),
  );
}
