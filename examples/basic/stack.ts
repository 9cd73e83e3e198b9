// deno run examples/basic/stack.ts
// The stack inside a call the reactor makes: our code runs from within reactor.run().
import { reactor } from "../../reactor.ts";

Error.stackTraceLimit = Infinity; // the whole stack, down to the call of reactor.run()

function stack(): void {
  console.log("The JavaScript stack:");
  console.trace(); // to stderr, like Python's traceback.print_stack()
  // The tutorial's program runs on until it is interrupted; this one stops, so that it ends.
  reactor.stop();
}

reactor.callWhenRunning(stack);
await reactor.run();
