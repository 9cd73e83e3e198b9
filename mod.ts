/**
 * poetry: Twisted's core for Deno — Deferreds, protocols, factories, framing receivers,
 * services and a daemon runner, with the poetry servers and clients of the *Twisted
 * Introduction* ready to run.
 *
 * @example Chain callbacks on a Deferred
 * ```ts
 * import { Deferred } from "@poetry/serve";
 *
 * const d = new Deferred<string>();
 * d.addCallback((poem) => poem.toUpperCase()).addCallback((poem) => console.log(poem));
 * d.callback("roses are red");
 * ```
 *
 * @module
 */

export * from "./failure.ts";
export * as log from "./log.ts";
export * from "./protocols/protocol.ts";
export * from "./protocols/factory.ts";

if (import.meta.main) {
  console.log("usage: deno run --allow-net jsr:@poetry/serve [options] [plugin] [plugin options]");
}
