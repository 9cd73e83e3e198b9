// deno run --allow-net=localhost,127.0.0.1 examples/servers/fastpoetry_1.ts --port 10000 keeper
/**
 * The Fast Poetry Server (Part 11: Your Poetry is Served). The server side of a protocol is
 * built like the client side: a factory builds one protocol per connection, and the protocol
 * talks. Here the factory holds the poem and each protocol sends it, then hangs up.
 *
 * The poem is a bundled poem's name (`keeper`, `tide`...) or a file to read:
 *
 * ```sh
 * deno run --allow-net=localhost,127.0.0.1 examples/servers/fastpoetry_1.ts --port 10000 keeper
 * deno run --allow-net=localhost,127.0.0.1 --allow-read=ode.txt examples/servers/fastpoetry_1.ts ode.txt
 * ```
 *
 * @module
 */

import { ServerFactory } from "../../protocols/factory.ts";
import { type Data, Protocol } from "../../protocols/protocol.ts";
import { reactor } from "../../reactor.ts";
import { getPoem } from "../../poetry/poems.ts";
import { parseCommandLine, parseExistingFile, parsePort } from "../../services/plugin.ts";

/** Sends the factory's poem to whoever connects, then closes the connection. */
export class PoetryProtocol extends Protocol {
  declare factory: PoetryFactory;

  /** Writes the poem and hangs up. */
  override connectionMade(): void {
    this.transport.write(this.factory.poem);
    this.transport.loseConnection();
  }
}

/** Holds the poem and builds a {@linkcode PoetryProtocol} per connection. */
export class PoetryFactory extends ServerFactory {
  override protocol: typeof PoetryProtocol = PoetryProtocol;

  /** A factory serving `poem`: text (sent as UTF-8) or the file's bytes as they are. */
  constructor(readonly poem: Data) {
    super();
  }
}

if (import.meta.main) {
  const options = parseCommandLine<{ port: number; iface: string; poem: string }>(
    {
      options: [
        { name: "port", default: 0, help: "The port to listen on (0: any).", parse: parsePort },
        { name: "iface", default: "localhost", help: "The interface to listen on." },
      ],
      positionals: [{
        name: "poem",
        help: "A bundled poem's name, or a poem file.",
        // A file that is not there is a usage error, reported before anything starts.
        parse: (text) => getPoem(text) === undefined ? parseExistingFile(text) : text,
      }],
    },
    Deno.args,
    "fastpoetry_1.ts",
  );

  // The file's bytes are served as they are, whatever their encoding.
  const poem = getPoem(options.poem) ?? Deno.readFileSync(options.poem);
  const factory = new PoetryFactory(poem);
  const port = reactor.listenTCP(options.port, factory, { interface: options.iface });
  const number = port.getHost().port;
  console.log(`Serving ${options.poem} on port ${number}.`);
  await reactor.run();
}
