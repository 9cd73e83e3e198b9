// deno run --allow-net=127.0.0.1 examples/clients/get_poetry_6.ts 11000 10001 10002
/**
 * Get Poetry Now! client 6.0 (Part 13: Deferred All The Way Down). Cummingsifying is now a
 * service on the network: the first address is a transformation server, and each poem is sent
 * there once it arrives. The callback returns the Deferred of that request, so the chain
 * waits for it — a Deferred inside a Deferred. When the transformation server fails, the
 * original poem is printed instead.
 *
 * ```sh
 * deno run --allow-net=localhost,127.0.0.1 examples/servers/transformedpoetry.ts --port 10001 &
 * deno run --allow-net=127.0.0.1 examples/clients/get_poetry_6.ts 10001 10002 10003
 * ```
 *
 * @module
 */

import { type HostPort, parseAddress, parseCommandLine } from "../../services/plugin.ts";
import type { Failure } from "../../failure.ts";
import { reactor } from "../../reactor.ts";
import { getPoetry } from "../../services/get.ts";
import { TransformProxy } from "../../services/transform_client.ts";

const { xformAddress, addresses } = parseCommandLine<
  { xformAddress: HostPort; addresses: HostPort[] }
>(
  {
    positionals: [{
      name: "xformAddress",
      help: "The transformation server, [HOST:]PORT.",
      parse: (text) => parseAddress(text),
    }, {
      name: "addresses",
      rest: true,
      required: true,
      help: "The poetry servers, [HOST:]PORT.",
      parse: (text) => parseAddress(text),
    }],
  },
  Deno.args,
  "get_poetry_6.ts",
);
const proxy = new TransformProxy(xformAddress.host, xformAddress.port);

const poems: string[] = [];
const errors: Failure[] = [];

function tryToCummingsify(poem: string) {
  return proxy.xform("cummingsify", poem).addErrback(() => {
    console.error("Cummingsify failed!");
    return poem;
  });
}

function gotPoem(poem: string): void {
  poems.push(poem);
}

function poemFailed(err: Failure): void {
  console.error("The poem download failed.");
  errors.push(err);
}

function poemDone(): void {
  if (poems.length + errors.length === addresses.length) reactor.stop();
}

for (const { host, port } of addresses) {
  const d = getPoetry(host, port);
  d.addCallback(tryToCummingsify);
  d.addCallbacks(gotPoem, poemFailed);
  d.addBoth(poemDone);
}

await reactor.run();

for (const poem of poems) console.log(poem);
if (errors.length > 0) Deno.exitCode = 1;
