// deno run examples/deferred/defer_cancel_7.ts
// A canceller may fail the Deferred with an error of its own.
import { Deferred } from "../../defer.ts";

function canceller(d: Deferred<string>): void {
  console.log("I need to cancel this deferred:", String(d));
  console.log("Firing the deferred with an error");
  d.errback(new Error("error!"));
}

const d = new Deferred<string>(canceller); // made by lower-level code
d.addCallbacks( // added by higher-level code
  (result) => console.log("callback got:", result),
  (failure) => console.log("errback got:", String(failure)),
);
d.cancel();
console.log("done");
