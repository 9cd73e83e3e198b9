// deno run examples/deferred/inline_callbacks_tb.ts
// The stack after a yield: the generator is resumed from inside inlineCallbacks (defer.ts).
import { inlineCallbacks } from "../../defer.ts";
import { reactor } from "../../reactor.ts";

Error.stackTraceLimit = Infinity; // the whole stack, down to the reactor's start-up

const myCallbacks = inlineCallbacks(function* myCallbacks() {
  yield 1;
  console.trace(); // to stderr, like Python's traceback.print_stack()
  reactor.stop();
});

reactor.callWhenRunning(myCallbacks);
await reactor.run();
