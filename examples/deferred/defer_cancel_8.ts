// deno run examples/deferred/defer_cancel_8.ts
// The canceller is not called once the Deferred has fired.
import { Deferred } from "../../defer.ts";

function canceller(d: Deferred<string>): void {
  console.log("I need to cancel this deferred:", String(d));
}

const d = new Deferred<string>(canceller); // made by lower-level code
d.addCallbacks( // added by higher-level code
  (result) => console.log("callback got:", result),
  (failure) => console.log("errback got:", String(failure)),
);
d.callback("result");
d.cancel();
console.log("done");
