// deno run examples/deferred/inline_callbacks_2.ts
// Two inlineCallbacks generators run side by side; one returns a value, the other throws.
import { Deferred, inlineCallbacks } from "../../defer.ts";
import type { Failure } from "../../failure.ts";
import { reactor } from "../../reactor.ts";

// The tutorial's steps are 2 and 3 seconds; these are a fifth of that, in the same order.
const FAST = 0.4;
const SLOW = 0.6;

/** A Deferred that fires with nothing `seconds` from now. */
function sleep(seconds: number): Deferred<undefined> {
  const d = new Deferred<undefined>();
  reactor.callLater(seconds, () => d.callback(undefined));
  return d;
}

const myCallbacks1 = inlineCallbacks(function* () {
  console.log("my_callbacks_1 first callback");
  yield sleep(FAST);

  console.log("my_callbacks_1 second callback");
  yield sleep(FAST);

  console.log("my_callbacks_1 third callback");
  return 1; // the result of the Deferred myCallbacks1() returned
});

const myCallbacksErr = inlineCallbacks(function* () {
  console.log("my_callbacks_err first callback");
  yield sleep(SLOW);

  console.log("my_callbacks_err second callback");
  yield sleep(SLOW);

  console.log("my_callbacks_err third callback");
  throw new Error("uh oh"); // fails the Deferred myCallbacksErr() returned
});

function gotResult(result: unknown): void {
  console.log("got result:", result);
}

function gotError(err: Failure): void {
  console.log("got error:", err);
}

function runCallbacks(): void {
  const d1 = myCallbacks1();
  d1.addCallbacks(gotResult, gotError);

  const d2 = myCallbacksErr();
  d2.addCallbacks(gotResult, gotError);

  let finished = 0;
  function callbacksFinished(): void {
    finished += 1;
    if (finished === 2) {
      console.log("all done");
      reactor.stop();
    }
  }

  d1.addBoth(callbacksFinished);
  d2.addBoth(callbacksFinished);
}

reactor.callWhenRunning(runCallbacks);
await reactor.run();
