// deno run --allow-net=localhost,127.0.0.1 examples/servers/transformedpoetry.ts --port 11000
/**
 * The Poetry Transformation Server (Part 12). A client sends a netstring
 * `cummingsify.<poem>` and gets the transformed poem back as a netstring. The transformations
 * live in a `TransformService`, which knows nothing of the network; the factory exposes only
 * its `xform_` methods to the protocol.
 *
 * ```sh
 * deno run --allow-net=localhost,127.0.0.1 examples/servers/transformedpoetry.ts --port 11000
 * ```
 *
 * @module
 */

import { reactor } from "../../reactor.ts";
import { parseCommandLine, parsePort } from "../../services/plugin.ts";
import { TransformFactory, TransformService } from "../../services/transform.ts";

const options = parseCommandLine<{ port: number; iface: string }>(
  {
    options: [
      { name: "port", default: 0, help: "The port to listen on (0: any).", parse: parsePort },
      { name: "iface", default: "localhost", help: "The interface to listen on." },
    ],
  },
  Deno.args,
  "transformedpoetry.ts",
);

const factory = new TransformFactory(new TransformService());
const port = reactor.listenTCP(options.port, factory, { interface: options.iface });
const number = port.getHost().port;
console.log(`Serving transforms on port ${number}.`);
await reactor.run();
