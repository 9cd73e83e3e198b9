// deno run examples/deferred/defer_unhandled.ts
// A failure that no errback handles is reported as "Unhandled error in Deferred:". Twisted
// reports it when the Deferred is garbage collected; reportUnhandledErrors() asks now.
import { Deferred, reportUnhandledErrors } from "../../defer.ts";

function callback(_result: string): never {
  throw new Error("oops");
}

const d = new Deferred<string>();
d.addCallback(callback);
d.callback("Here is your result.");
console.log("Finished");

reportUnhandledErrors(); // logs the failure d still holds, with its traceback
