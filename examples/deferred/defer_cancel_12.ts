// deno run examples/deferred/defer_cancel_12.ts
// Cancelling a Deferred that waits on an inner one cancels the inner one.
import { Deferred } from "../../defer.ts";

const outer = new Deferred<string>(() => console.log("outer cancel callback."));
const inner = new Deferred<string>(() => console.log("inner cancel callback."));

outer.addCallback(() => {
  console.log("first outer callback, returning inner deferred");
  return inner;
});
outer.addCallbacks(
  (result) => console.log("second outer callback got:", result),
  (failure) => console.log("outer errback got:", String(failure)),
);
outer.callback("result");

// The outer Deferred has fired, but waits for the inner one.
console.log("canceling outer deferred.");
outer.cancel();
console.log("done");
