// deno run examples/deferred/countdown.ts
// Counts down from 5, a second a step, then stops. (setTimeout stands in for
// reactor.callLater and reactor.stop; move to the reactor once it is in.)

class Countdown {
  counter = 5;

  count(): void {
    if (this.counter === 0) {
      console.log("Stop!");
      return;
    }
    console.log(this.counter, "...");
    this.counter -= 1;
    setTimeout(() => this.count(), 1000);
  }
}

console.log("Start!");
setTimeout(() => new Countdown().count(), 0);
