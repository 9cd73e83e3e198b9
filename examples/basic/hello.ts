// deno run examples/basic/hello.ts
// A function given to callWhenRunning is called by the reactor once it has started.
import { reactor } from "../../reactor.ts";

function hello(): void {
  console.log("Hello from inside the reactor's loop!");
  console.log("Round and round it goes, the same loop every time.");
  // The tutorial's program keeps running until it is interrupted; this one stops here, so that
  // it ends on its own.
  reactor.stop();
}

reactor.callWhenRunning(hello);

console.log("Starting the reactor.");
await reactor.run();
