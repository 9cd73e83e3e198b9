// deno run examples/deferred/defer_cancel_1.ts
// Cancelling a Deferred without a canceller fails it with CancelledError; with no errback,
// that failure is unhandled.
import { Deferred, reportUnhandledErrors } from "../../defer.ts";

const d = new Deferred<string>();
d.addCallback((result) => console.log("callback got:", result));
d.cancel();
console.log("done");

reportUnhandledErrors(); // Twisted reports this on garbage collection
