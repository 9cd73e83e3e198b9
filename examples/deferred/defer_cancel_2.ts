// deno run examples/deferred/defer_cancel_2.ts
// Cancelling a Deferred that has not fired runs its errback with CancelledError.
import { Deferred } from "../../defer.ts";

const d = new Deferred<string>();
d.addCallbacks(
  (result) => console.log("callback got:", result),
  (failure) => console.log("errback got:", String(failure)),
);
d.cancel();
console.log("done");
