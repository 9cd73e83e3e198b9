// deno run examples/deferred/defer_unhandled.ts
// A failure that no errback handles is reported as "Unhandled error in Deferred:", when the
// Deferred is garbage collected or, at the latest, as the program ends, as in Twisted.
import { Deferred } from "../../defer.ts";

function callback(_result: string): never {
  throw new Error("oops");
}

const d = new Deferred<string>();
d.addCallback(callback);
d.callback("Here is your result.");
console.log("Finished"); // the report follows, on the way out
