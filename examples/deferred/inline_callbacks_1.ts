// deno run examples/deferred/inline_callbacks_1.ts
// inlineCallbacks: a generator that yields Deferreds reads like code that waits for them.
import { Deferred, inlineCallbacks } from "../../defer.ts";
import { reactor } from "../../reactor.ts";

// The tutorial waits 5 seconds at each step; 1 second does as well.
const myCallbacks = inlineCallbacks(function* () {
  console.log("first callback");
  let result = yield 1; // a value that is not a Deferred comes straight back

  console.log("second callback got", result);
  const d2 = new Deferred<number>();
  reactor.callLater(1, () => d2.callback(2));
  result = yield d2; // the generator sleeps until d2 fires, and gets its result

  console.log("third callback got", result);

  const d3 = new Deferred<number>();
  reactor.callLater(1, () => d3.errback(new Error("3")));
  try {
    yield d3; // a failure is thrown here
  } catch (e) {
    result = e;
  }

  console.log("fourth callback got", String(result));

  reactor.stop();
});

reactor.callWhenRunning(myCallbacks);
await reactor.run();
