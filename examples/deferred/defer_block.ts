// deno run examples/deferred/defer_block.ts
// A callback that blocks holds up callback(), and the reactor with it, until it returns.
import { Deferred } from "../../defer.ts";
import { reactor } from "../../reactor.ts";

const encoder = new TextEncoder();

/** Sleeps without giving the event loop a turn, as a blocking call would. */
function sleepSync(seconds: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, seconds * 1000);
}

function startChain(): void {
  console.log("The start of the callback chain.");
}

/** Writes a poem a few words at a time, sleeping in between: about 3.5 seconds in all. */
function blockingPoem(): void {
  // The tutorial's poem takes about 12 seconds; these pauses are shorter.
  const fragments: [text: string, pause: number][] = [
    ["\n", 0],
    ["I", 0.3],
    [" sleep", 0.2],
    ["\n  inside", 0.3],
    [" the chain", 0.2],
    ["\nand no one", 0.3],
    [" else", 0.2],
    ["\n  can run;", 0.3],
    ["\nthe reactor", 0.3],
    ["\n  waits with me", 0.3],
    ["\nuntil", 0.3],
    ["\n  my work", 0.3],
    [" is done", 0.2],
    ["\n\n", 0.5],
  ];
  for (const [text, pause] of fragments) {
    sleepSync(pause);
    Deno.stdout.writeSync(encoder.encode(text));
  }
}

function endChain(): void {
  console.log("The end of the callback chain.");
  reactor.stop();
}

const d = new Deferred<boolean>();
d.addCallback(startChain);
d.addCallback(blockingPoem);
d.addCallback(endChain);

function fire(): void {
  console.log("Firing deferred.");
  d.callback(true); // returns only once every callback has run, the blocking one too
  console.log("Firing finished.");
}

reactor.callWhenRunning(fire);

console.log("Starting reactor.");
await reactor.run();
console.log("Done.");
