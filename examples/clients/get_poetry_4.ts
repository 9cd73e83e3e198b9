// deno run --allow-net=127.0.0.1 examples/clients/get_poetry_4.ts 10001 10002 10003
/**
 * Get Poetry Now! client 4.0 (Part 8: Deferred Poetry). `getPoetry` no longer takes callbacks:
 * it returns a Deferred, and the caller adds what should happen to the poem — and to a
 * failure — to that Deferred's chain. The reactor stops once every poem is in, and the poems
 * are printed in the order they came.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 examples/clients/get_poetry_4.ts 10001 10002 10003
 * ```
 *
 * @module
 */

import { type HostPort, parseAddress, parseCommandLine } from "../../services/plugin.ts";
import type { Failure } from "../../failure.ts";
import { reactor } from "../../reactor.ts";
import { getPoetry } from "../../services/get.ts";

const { addresses } = parseCommandLine<{ addresses: HostPort[] }>(
  {
    positionals: [{
      name: "addresses",
      rest: true,
      required: true,
      help: "The poetry servers, [HOST:]PORT.",
      parse: (text) => parseAddress(text),
    }],
  },
  Deno.args,
  "get_poetry_4.ts",
);

const poems: string[] = [];
const errors: Failure[] = [];

function gotPoem(poem: string): void {
  poems.push(poem);
}

function poemFailed(err: Failure): void {
  console.error("Poem failed:", err.getErrorMessage());
  errors.push(err);
}

function poemDone(): void {
  if (poems.length + errors.length === addresses.length) reactor.stop();
}

for (const { host, port } of addresses) {
  const d = getPoetry(host, port);
  d.addCallbacks(gotPoem, poemFailed);
  d.addBoth(poemDone);
}

await reactor.run();

for (const poem of poems) console.log(poem);
if (errors.length > 0) Deno.exitCode = 1;
