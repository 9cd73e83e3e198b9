// deno run examples/deferred/defer_cancel_11.ts
// With a canceller that stops the timer, cancelling really stops the poem. (setTimeout
// stands in for the reactor.)
import { Deferred } from "../../defer.ts";

function sendPoem(d: Deferred<string>): void {
  console.log("Sending poem");
  d.callback("Once upon a midnight dreary");
}

function getPoem(): Deferred<string> {
  // The canceller could also fire d itself, with another error or a substitute poem; doing
  // nothing lets cancel() fail it with CancelledError.
  const d = new Deferred<string>(() => clearTimeout(timer));
  const timer = setTimeout(sendPoem, 5000, d);
  return d;
}

const d = getPoem();
d.addCallbacks(
  (poem) => console.log("I got a poem:", poem),
  (failure) => console.log("get_poem failed:", String(failure)),
);
setTimeout(() => d.cancel(), 2000);
