// deno run --allow-net=127.0.0.1 examples/clients/get_poetry_5.ts [--fate success|gibberish|bug] 10001
/**
 * Get Poetry Now! client 5.0 (Part 10: Poetry Transformed). Each poem goes through
 * `cummingsify` on its way to being printed — a transformation that does not always work: it
 * may succeed, fail with a `GibberishError` (the poem was gibberish: treat it as a failed
 * download), or fail with some other error (a bug in cummingsify: print the original poem).
 * The errback chain sorts one from the other.
 *
 * The tutorial's cummingsify picks its fate at random; here `--fate` picks it
 * (`success`, `gibberish`, `bug`, or `random`, the default), so each path can be tried:
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 examples/clients/get_poetry_5.ts 10001 10002
 * deno run --allow-net=127.0.0.1 examples/clients/get_poetry_5.ts --fate bug 10001
 * ```
 *
 * @module
 */

import { type HostPort, parseAddress, parseCommandLine } from "../../services/plugin.ts";
import type { Failure } from "../../failure.ts";
import { reactor } from "../../reactor.ts";
import { getPoetry } from "../../services/get.ts";

/** The poem is gibberish: there is no poem. */
export class GibberishError extends Error {
  /** A GibberishError. */
  constructor() {
    super("the poem is gibberish");
    this.name = "GibberishError";
  }
}

/** How a call to {@linkcode cummingsify} turns out. */
export type Fate = "success" | "gibberish" | "bug";
const FATES: readonly Fate[] = ["success", "gibberish", "bug"];

/**
 * Returns the poem in lower case, or throws a `GibberishError`, or fails as buggy code does
 * (a `TypeError`), as `fate` says.
 */
export function cummingsify(poem: string, fate: Fate): string {
  switch (fate) {
    case "success":
      return poem.toLowerCase();
    case "gibberish":
      throw new GibberishError();
    case "bug":
      throw new TypeError("cummingsify has a bug");
  }
}

interface Options {
  fate: Fate | "random";
  addresses: HostPort[];
}

if (import.meta.main) {
  const { fate, addresses } = parseCommandLine<Options>(
    {
      options: [{
        name: "fate",
        default: "random",
        help: "How cummingsify turns out: success, gibberish, bug or random.",
        parse: (text) => {
          if (text !== "random" && !FATES.includes(text as Fate)) {
            throw new Error(`${JSON.stringify(text)} is not success, gibberish, bug or random`);
          }
          return text as Fate | "random";
        },
      }],
      positionals: [{
        name: "addresses",
        rest: true,
        required: true,
        help: "The poetry servers, [HOST:]PORT.",
        parse: (text) => parseAddress(text),
      }],
    },
    Deno.args,
    "get_poetry_5.ts",
  );

  const poems: string[] = [];
  const errors: Failure[] = [];

  const tryToCummingsify = (poem: string): string => {
    const chosen = fate === "random" ? FATES[Math.floor(Math.random() * 3)] : fate;
    try {
      return cummingsify(poem, chosen);
    } catch (e) {
      if (e instanceof GibberishError) throw e;
      console.log("Cummingsify failed!");
      return poem;
    }
  };

  const gotPoem = (poem: string): void => {
    console.log(poem);
    poems.push(poem);
  };

  const poemFailed = (err: Failure): void => {
    console.error("The poem download failed.");
    errors.push(err);
  };

  const poemDone = (): void => {
    if (poems.length + errors.length === addresses.length) reactor.stop();
  };

  for (const { host, port } of addresses) {
    const d = getPoetry(host, port);
    d.addCallback(tryToCummingsify);
    d.addCallbacks(gotPoem, poemFailed);
    d.addBoth(poemDone);
  }

  await reactor.run();
  if (errors.length > 0) Deno.exitCode = 1;
}
