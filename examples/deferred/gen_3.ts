// deno run examples/deferred/gen_3.ts
// Two generators taking turns, each resumed in a round until it is done: cooperative
// multitasking, which is how one thread can run many inlineCallbacks at once.
function* small(): Generator<number> {
  yield 1;
  yield 2;
  yield 3;
}

function* large(): Generator<number> {
  yield 10;
  yield 20;
  yield 30;
  yield 40;
}

let running: Generator<number>[] = [small(), large()];
while (running.length > 0) {
  for (const gen of [...running]) {
    const step = gen.next();
    if (step.done) running = running.filter((other) => other !== gen);
    else console.log(step.value);
  }
}
