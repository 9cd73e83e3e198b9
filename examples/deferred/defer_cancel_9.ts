// deno run examples/deferred/defer_cancel_9.ts
// A poem that arrives 5 seconds later. (setTimeout stands in for reactor.callLater; move to
// the reactor once it is in.)
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
