// deno run examples/deferred/gen_1.ts
// A generator runs only when asked for its next value, and stops at each yield: the body's
// prints come out between the loop's, in turn. inlineCallbacks is built on this.
function* countToThree(): Generator<number> {
  console.log("starting up");
  yield 1;
  console.log("workin'");
  yield 2;
  console.log("still workin'");
  yield 3;
  console.log("done");
}

for (const n of countToThree()) console.log(n);
