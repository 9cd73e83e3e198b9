// deno run examples/deferred/defer_10.ts
// A callback that returns a Deferred pauses the outer chain until that one fires.
import { Deferred } from "../../defer.ts";

console.log(`
A callback may return a Deferred of its own; the chain
then waits for it.
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
d.addCallback(callback1).addCallback(callback2).addCallback(callback3);

console.log(`
First, three callbacks that print what they get and return
plain values, fired at once:
`);
d.callback(0);

// Without a reactor the inner Deferred has to be fired from outside, so it is kept here. A
// real program never does this: whatever makes a Deferred fires it.
let deferred2: Deferred<number> | undefined;

function callback2Async(result: unknown): Deferred<number> {
  console.log("callback_2 got", result);
  deferred2 = new Deferred<number>();
  return deferred2;
}

d = new Deferred<number>();
d.addCallback(callback1).addCallback(callback2Async).addCallback(callback3);

console.log(`
Now the same, except that the middle callback returns a Deferred:
`);
d.callback(0);

console.log(`
The third callback has not run: the second returned a Deferred, so the
outer Deferred is paused. Nothing is blocked or waiting in a thread; the
outer Deferred has added a callback to the inner one that will start it
again when the inner one fires.

Let's fire the inner Deferred:
`);
deferred2!.callback(2);

console.log(`
The inner Deferred's result became the argument of the outer
Deferred's next callback.
`);
