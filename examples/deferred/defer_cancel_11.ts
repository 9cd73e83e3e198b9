// deno run examples/deferred/defer_cancel_11.ts
// With a canceller that cancels the delayed call, cancelling really stops the poem.
import { Deferred } from "../../defer.ts";
import type { Failure } from "../../failure.ts";
import { reactor } from "../../reactor.ts";

function sendPoem(d: Deferred<string>): void {
  console.log("Sending poem");
  d.callback("Once upon a midnight dreary");
}

/** Returns a poem 5 seconds later, unless cancelled first. */
function getPoem(): Deferred<string> {
  const d = new Deferred<string>(() => {
    // They don't want the poem any more, so cancel the delayed call. The canceller could
    // also fire d itself, with another error or a substitute poem; doing nothing lets
    // cancel() fail it with CancelledError.
    delayedCall.cancel();
  });
  const delayedCall = reactor.callLater(5, sendPoem, d);
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

reactor.callLater(2, () => d.cancel()); // cancel after 2 seconds

await reactor.run();
