// deno run examples/deferred/defer_cancel_10.ts
// Cancelled after 2 seconds, without a canceller: the errback runs at once, but the poem is
// still sent at 5 seconds (and dropped). (setTimeout stands in for the reactor.)
import { Deferred } from "../../defer.ts";

function sendPoem(d: Deferred<string>): void {
  console.log("Sending poem");
  d.callback("Once upon a midnight dreary");
}

function getPoem(): Deferred<string> {
  const d = new Deferred<string>();
  setTimeout(sendPoem, 5000, d);
  return d;
}

const d = getPoem();
d.addCallbacks(
  (poem) => console.log("I got a poem:", poem),
  (failure) => console.log("get_poem failed:", String(failure)),
);
setTimeout(() => d.cancel(), 2000);
