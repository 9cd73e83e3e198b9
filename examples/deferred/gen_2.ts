// deno run examples/deferred/gen_2.ts
// The same generator as gen_1.ts, driven by hand: what `for … of` does, one next() at a time,
// until the generator says it is done.
function* countToThree(): Generator<number> {
  console.log("starting up");
  yield 1;
  console.log("workin'");
  yield 2;
  console.log("still workin'");
  yield 3;
  console.log("done");
}

const gen = countToThree();
for (;;) {
  const step = gen.next();
  if (step.done) break;
  console.log(step.value);
}
