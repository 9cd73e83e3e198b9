// deno bench tests/defer_bench.ts
//
// "chain" compares a 10-stage Deferred chain with a 10-stage awaited Promise chain (the
// baseline) and with ten plain function calls. Every entry runs the same `inc` ten times and
// uses the result: (c) by awaiting it, (a) and (b) with one more callback. No closure is made
// per iteration in any of them. (e) calls the same eleven functions through an array, as a
// runner must: that call site sees more than one function, so V8 cannot inline it, and (e) is
// the part of (a) that no Deferred can avoid. "scaling" shows that running N callbacks on one
// Deferred costs O(N): 200,000 should take about 8 times as long as 25,000.
import { Deferred, succeed } from "../defer.ts";

const STAGES = 10;
const inc = (n: number): number => n + 1;
const incDeferred = (n: number): Deferred<number> => succeed(n + 1);
let sink = 0;
const collect = (n: number): void => void (sink += n);

Deno.bench({
  name: "(c) awaited Promise.then chain, 10 stages",
  group: "chain",
  baseline: true,
  async fn() {
    let p = Promise.resolve(0);
    for (let i = 0; i < STAGES; i++) p = p.then(inc);
    sink += await p;
  },
});

Deno.bench({
  name: "(a) Deferred, 10 plain callbacks",
  group: "chain",
  fn() {
    const d = new Deferred<number>();
    for (let i = 0; i < STAGES; i++) d.addCallback(inc);
    d.addCallback(collect);
    d.callback(0);
  },
});

Deno.bench({
  name: "(b) Deferred, 10 callbacks returning succeed(x)",
  group: "chain",
  fn() {
    const d = new Deferred<number>();
    for (let i = 0; i < STAGES; i++) d.addCallback(incDeferred);
    d.addCallback(collect);
    d.callback(0);
  },
});

Deno.bench({
  name: "(d) ten plain function calls",
  group: "chain",
  fn() {
    let n = 0;
    for (let i = 0; i < STAGES; i++) n = inc(n);
    sink += n;
  },
});

const chainFunctions: ((n: number) => number | void)[] = [];
for (let i = 0; i < STAGES; i++) chainFunctions.push(inc);
chainFunctions.push(collect);

Deno.bench({
  name: "(e) (a)'s 11 functions called through an array",
  group: "chain",
  fn() {
    let n: number | void = 0;
    for (let i = 0; i < chainFunctions.length; i++) n = chainFunctions[i](n as number);
  },
});

function manyCallbacks(count: number): void {
  const d = new Deferred<number>();
  for (let i = 0; i < count; i++) d.addCallback(inc);
  d.addCallback(collect);
  d.callback(0);
}

Deno.bench({
  name: "25,000 callbacks on one Deferred",
  group: "scaling",
  baseline: true,
  fn: () => manyCallbacks(25_000),
});

Deno.bench({
  name: "200,000 callbacks on one Deferred",
  group: "scaling",
  fn: () => manyCallbacks(200_000),
});
