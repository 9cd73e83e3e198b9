// deno run examples/deferred/defer_cancel_9.ts
// A poem that arrives 5 seconds later; the reactor stops at 10 seconds.
import { Deferred } from "../../defer.ts";
import type { Failure } from "../../failure.ts";
import { reactor } from "../../reactor.ts";

function sendPoem(d: Deferred<string>): void {
  console.log("Sending poem");
  d.callback("Once upon a midnight dreary");
}

/** Returns a poem 5 seconds later. */
function getPoem(): Deferred<string> {
  const d = new Deferred<string>();
  reactor.callLater(5, sendPoem, d);
  return d;
}

function gotPoem(poem: string): void {
  console.log("I got a poem:", poem);
}

function poemError(err: Failure): void {
  console.log("get_poem failed:", err);
}

reactor.callLater(10, () => reactor.stop()); // stop the reactor in 10 seconds

const d = getPoem();
d.addCallbacks(gotPoem, poemError);

await reactor.run();
