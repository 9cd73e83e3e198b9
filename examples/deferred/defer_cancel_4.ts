// deno run examples/deferred/defer_cancel_4.ts
// After a cancel without a canceller, the late result is dropped: no AlreadyCalledError.
import { Deferred } from "../../defer.ts";

const d = new Deferred<string>();
d.addCallbacks(
  (result) => console.log("callback got:", result),
  (failure) => console.log("errback got:", String(failure)),
);
d.cancel();
d.callback("result");
console.log("done");
