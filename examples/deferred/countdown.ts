// deno run examples/deferred/countdown.ts
// Counts down from 5, a second a step, then stops the reactor.
import { reactor } from "../../reactor.ts";

class Countdown {
  counter = 5;

  count(): void {
    if (this.counter === 0) {
      reactor.stop();
    } else {
      console.log(this.counter, "...");
      this.counter -= 1;
      reactor.callLater(1, () => this.count());
    }
  }
}

reactor.callWhenRunning(() => new Countdown().count());

console.log("Start!");
await reactor.run();
console.log("Stop!");
