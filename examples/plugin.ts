// deno run --allow-net --allow-read mod.ts --plugin examples/plugin.ts cummings --port 10000
/**
 * A plugin module (Part 16): a named service maker with its own command-line options, as the
 * tutorial's `fastpoetry_plugin.py`. The runner loads it with `--plugin`, parses the options
 * after the plugin's name with the plugin's spec, and runs the service `makeService` returns:
 *
 * ```sh
 * deno run --allow-net --allow-read mod.ts --plugin examples/plugin.ts cummings --port 10000
 * deno run --allow-net --allow-read mod.ts --plugin examples/plugin.ts cummings --help
 * ```
 *
 * This one, `cummings`, serves a poem as e.e. cummings might have written it: in lower case.
 * It reuses the fast poetry server's service, with a protocol of its own.
 *
 * @module
 */

import { msg } from "../log.ts";
import { PoetryFactory, PoetryProtocol, PoetryService } from "../services/fastpoetry.ts";
import { TCPServer } from "../services/internet.ts";
import { MultiService } from "../services/multi_service.ts";
import { parsePort, type ServiceMaker } from "../services/plugin.ts";

/** Sends the service's poem in lower case, then hangs up. */
export class CummingsProtocol extends PoetryProtocol {
  /** Writes the poem, lower-cased, and closes the connection. */
  override connectionMade(): void {
    const poem = new TextDecoder().decode(this.factory.service.poem).toLowerCase();
    msg(`sending a cummingsified poem to`, this.transport.getPeer());
    this.transport.write(poem);
    this.transport.loseConnection();
  }
}

/** The plugin's options. */
export interface CummingsOptions {
  /** The port to listen on. */
  port: number;
  /** The interface to listen on. */
  iface: string;
  /** The poem: a bundled poem's name or a file. */
  poem: string;
}

/** The `cummings` plugin: the runner finds it as this module's export named `plugin`. */
export const plugin: ServiceMaker<CummingsOptions> = {
  tapname: "cummings",
  description: "Serves a poem in lower case.",
  options: {
    options: [
      { name: "port", short: "p", default: 10000, help: "The port.", parse: parsePort },
      { name: "iface", default: "localhost", help: "The interface to listen on." },
      { name: "poem", default: "keeper", help: "A bundled poem's name, or a poem file." },
    ],
  },
  makeService(options: CummingsOptions): MultiService {
    const top = new MultiService();
    const poetry = new PoetryService(options.poem);
    poetry.setServiceParent(top);
    const factory = new PoetryFactory(poetry);
    factory.protocol = CummingsProtocol;
    new TCPServer(options.port, factory, { interface: options.iface }).setServiceParent(top);
    return top;
  },
};
