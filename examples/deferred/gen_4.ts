// deno run examples/deferred/gen_4.ts
// Values go into a generator too: next(value) is what its paused yield evaluates to, and
// throw(error) raises the error at that yield. inlineCallbacks sends each Deferred's result in
// with the one and each failure with the other.
class Malfunction extends Error {}

function* machine(): Generator<number, void, number | undefined> {
  console.log("starting up");

  let got = yield 1;
  console.log("got:", got);

  got = yield 2;
  console.log("got:", got);

  try {
    yield 3;
  } catch (e) {
    if (!(e instanceof Malfunction)) throw e;
    console.log("malfunction!");
  }

  yield 4;

  console.log("done");
}

const gen = machine();
console.log(gen.next().value); // start the generator: it runs to its first yield
console.log(gen.next(10).value); // the first yield gives 10
console.log(gen.next(20).value); // the second gives 20
console.log(gen.throw(new Malfunction()).value); // the third throws
gen.next(); // past the last yield: the generator finishes
