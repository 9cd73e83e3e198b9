// deno run examples/deferred/defer_cancel_3.ts
// Cancelling a Deferred that has fired does nothing.
import { Deferred } from "../../defer.ts";

const d = new Deferred<string>();
d.addCallbacks(
  (result) => console.log("callback got:", result),
  (failure) => console.log("errback got:", String(failure)),
);
d.callback("result");
d.cancel();
console.log("done");
