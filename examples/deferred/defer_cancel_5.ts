// deno run examples/deferred/defer_cancel_5.ts
// A canceller that does not fire the Deferred: cancel() then fails it with CancelledError.
import { Deferred } from "../../defer.ts";

function canceller(d: Deferred<string>): void {
  console.log("I need to cancel this deferred:", String(d));
}

const d = new Deferred<string>(canceller); // made by lower-level code
d.addCallbacks( // added by higher-level code
  (result) => console.log("callback got:", result),
  (failure) => console.log("errback got:", String(failure)),
);
d.cancel();
console.log("done");
