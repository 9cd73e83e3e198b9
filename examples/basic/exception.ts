// deno run examples/basic/exception.ts
// A call that throws does not bring the reactor down: its error is logged, and the next runs.
import { reactor } from "../../reactor.ts";

function fall(): never {
  throw new Error("Down I go.");
}

function riseAgain(): void {
  console.log("And up I come again.");
  reactor.stop();
}

// Nothing observes the log here, so the error is written to stderr with its stack.
reactor.callWhenRunning(fall);
reactor.callWhenRunning(riseAgain);

console.log("Starting the reactor.");
await reactor.run();
