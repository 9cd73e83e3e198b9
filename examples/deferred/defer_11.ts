// deno run examples/deferred/defer_11.ts
// Callbacks added to a fired Deferred run at once, unless it is paused.
import { Deferred } from "../../defer.ts";

console.log(`A Deferred may fire before it has callbacks.
We fire one with no callbacks, then add three.
`);

function callback1(result: unknown): number {
  console.log("callback_1 got", result);
  return 1;
}

function callback2(result: unknown): number {
  console.log("callback_2 got", result);
  return 2;
}

function callback3(result: unknown): number {
  console.log("callback_3 got", result);
  return 3;
}

let d = new Deferred<number>();
console.log("Firing empty deferred.");
d.callback(0);

// Each callback runs as soon as it is added.
console.log("Adding first callback.");
d.addCallback(callback1);
console.log("Adding second callback.");
d.addCallback(callback2);
console.log("Adding third callback.");
d.addCallback(callback3);

console.log(`
Each callback ran the moment it was added, since
the result was already there.

Next: pause a Deferred, fire it, add callbacks,
and only then unpause it.
`);

d = new Deferred<number>();
console.log("Pausing, then firing deferred.");
d.pause();
d.callback(0);

console.log("Adding callbacks.");
d.addCallback(callback1).addCallback(callback2).addCallback(callback3);

console.log("Unpausing the deferred.");
d.unpause();
