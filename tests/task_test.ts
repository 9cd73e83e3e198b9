import assert from "node:assert/strict";
import { CancelledError, Deferred } from "../defer.ts";
import type { Failure } from "../failure.ts";
import { addObserver, type LogEvent, removeObserver } from "../log.ts";
import {
  AlreadyCalled,
  AlreadyCancelled,
  Clock,
  deferLater,
  type DelayedCall,
  LoopingCall,
  RealTime,
  realTime,
} from "../task.ts";
import { Reactor } from "../reactor.ts";
import { MemoryReactor } from "../testing.ts";

// --- Clock -------------------------------------------------------------------------------

Deno.test("Clock makes calls in order of due time, not of scheduling", () => {
  const clock = new Clock();
  const order: string[] = [];
  clock.callLater(3, () => order.push("c"));
  clock.callLater(1, () => order.push("a"));
  clock.callLater(2, () => order.push("b"));
  clock.advance(10);
  assert.deepEqual(order, ["a", "b", "c"]);
});

Deno.test("Clock makes calls due at the same time in the order they were scheduled", () => {
  const clock = new Clock();
  const order: number[] = [];
  for (let i = 0; i < 20; i++) clock.callLater(1, () => order.push(i));
  clock.callLater(0.5, () => order.push(-1));
  clock.advance(1);
  assert.deepEqual(order, [-1, ...Array.from({ length: 20 }, (_, i) => i)]);
});

Deno.test("Clock.advance makes only the calls due by the new time", () => {
  const clock = new Clock();
  const made: number[] = [];
  clock.callLater(1, () => made.push(1));
  clock.callLater(2, () => made.push(2));
  clock.advance(1);
  assert.deepEqual(made, [1]);
  assert.equal(clock.seconds(), 1);
  assert.equal(clock.getDelayedCalls().length, 1);
  clock.advance(0.999);
  assert.deepEqual(made, [1]);
  clock.advance(0.001);
  assert.deepEqual(made, [1, 2]);
});

Deno.test("Clock.advance also makes calls scheduled during it that are already due", () => {
  const clock = new Clock();
  const made: string[] = [];
  clock.callLater(1, () => {
    made.push("first");
    clock.callLater(0, () => made.push("now"));
    clock.callLater(0.5, () => made.push("soon"));
    clock.callLater(5, () => made.push("later"));
  });
  clock.advance(2);
  // Time is already 2 while the first call runs: "now" is due at 2, "soon" at 2.5.
  assert.deepEqual(made, ["first", "now"]);
  assert.deepEqual(clock.getDelayedCalls().map((c) => c.getTime()), [2.5, 7]);
});

Deno.test("Clock passes the arguments given to callLater", () => {
  const clock = new Clock();
  const got: unknown[] = [];
  clock.callLater(1, (a: number, b: string) => got.push(a, b), 7, "x");
  clock.advance(1);
  assert.deepEqual(got, [7, "x"]);
});

Deno.test("Clock.advance lets an error thrown by a call propagate and keeps later calls", () => {
  const clock = new Clock();
  const made: string[] = [];
  const failing = clock.callLater(1, () => {
    throw new Error("boom");
  });
  clock.callLater(1, () => made.push("after"));
  assert.throws(() => clock.advance(1), { message: "boom" });
  assert.equal(failing.called, true);
  assert.deepEqual(made, []);
  clock.advance(0);
  assert.deepEqual(made, ["after"]);
});

Deno.test("Clock.pump advances by each amount in turn", () => {
  const clock = new Clock();
  const seen: number[] = [];
  const tick = () => {
    seen.push(clock.seconds());
    clock.callLater(1, tick);
  };
  clock.callLater(1, tick);
  clock.pump([1, 1, 0.5, 0.5]);
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(clock.seconds(), 3);
});

Deno.test("Clock.getDelayedCalls lists pending calls in due order", () => {
  const clock = new Clock();
  const b = clock.callLater(2, () => {});
  const a = clock.callLater(1, () => {});
  const c = clock.callLater(3, () => {});
  assert.deepEqual(clock.getDelayedCalls(), [a, b, c]);
  b.cancel();
  assert.deepEqual(clock.getDelayedCalls(), [a, c]);
  a.reset(10);
  assert.deepEqual(clock.getDelayedCalls(), [c, a]);
  // Twisted's tests read `clock.calls`: the same list, and a copy.
  assert.deepEqual(clock.calls, [c, a]);
  clock.calls.length = 0;
  assert.equal(clock.calls.length, 2);
});

Deno.test("LoopingCall's string names its interval, function and arguments", () => {
  const clock = new Clock();
  function tick(_who: string, _times: number): void {}
  const loop = new LoopingCall(tick, "world", 2);
  assert.equal(String(loop), 'LoopingCall<undefined>(tick, "world", 2)');
  loop.clock = clock;
  loop.start(1.5, false);
  assert.equal(String(loop), 'LoopingCall<1.5>(tick, "world", 2)');
  loop.stop();
  assert.equal(String(new LoopingCall(() => {})), "LoopingCall<undefined>(anonymous)");
});

Deno.test("Clock: a call moved later goes before the calls it comes to share a time with", () => {
  // Twisted's Clock: `later` was ahead of `waiting`, and stays ahead once they tie.
  for (const move of ["delay", "reset"] as const) {
    const clock = new Clock();
    const order: string[] = [];
    clock.callLater(2, () => order.push("waiting"));
    const later = clock.callLater(1, () => order.push("moved"));
    if (move === "delay") later.delay(1);
    else later.reset(2);
    assert.deepEqual(clock.getDelayedCalls().map((c) => c.getTime()), [2, 2]);
    assert.equal(clock.getDelayedCalls()[0], later, move);
    clock.advance(2);
    assert.deepEqual(order, ["moved", "waiting"], move);
  }
});

Deno.test("Clock: a call moved earlier goes after the calls it comes to share a time with", () => {
  for (const move of ["delay", "reset"] as const) {
    const clock = new Clock();
    const order: string[] = [];
    const earlier = clock.callLater(3, () => order.push("moved"));
    clock.callLater(2, () => order.push("waiting"));
    if (move === "delay") earlier.delay(-1);
    else earlier.reset(2);
    assert.equal(clock.getDelayedCalls()[1], earlier, move);
    clock.advance(2);
    assert.deepEqual(order, ["waiting", "moved"], move);
  }
});

Deno.test("Clock orders calls moved between two advances by where they stood before", () => {
  // Both end up due at 5: `x` was ahead of `y` before either moved, so it stays ahead, even
  // though `x` moved past `y`'s old time first. Reading getDelayedCalls changes nothing.
  const clock = new Clock();
  const order: string[] = [];
  const x = clock.callLater(1, () => order.push("x"));
  const y = clock.callLater(3, () => order.push("y"));
  x.reset(5);
  assert.deepEqual(clock.getDelayedCalls(), [y, x]);
  y.reset(5);
  clock.advance(5);
  assert.deepEqual(order, ["x", "y"]);

  // A callLater in between settles the order first, as in Twisted: then `y`, moved later,
  // goes before `x`.
  order.length = 0;
  const x2 = clock.callLater(1, () => order.push("x"));
  const y2 = clock.callLater(3, () => order.push("y"));
  x2.reset(5);
  clock.callLater(9, () => order.push("z"));
  y2.reset(5);
  clock.advance(10);
  assert.deepEqual(order, ["y", "x", "z"]);
});

Deno.test("Clock.advance orders calls moved by a call it makes", () => {
  const clock = new Clock();
  const order: string[] = [];
  let moved: DelayedCall | undefined = undefined;
  clock.callLater(1, () => {
    order.push("first");
    moved!.delay(2); // from 1 to 3: ahead of `waiting`, already due at 3
  });
  clock.callLater(3, () => order.push("waiting"));
  moved = clock.callLater(1, () => order.push("moved"));
  clock.advance(5);
  assert.deepEqual(order, ["first", "moved", "waiting"]);
});

Deno.test("callLater and seconds can be handed on unbound, from every clock and reactor", async () => {
  const clock = new Clock();
  const reactors = [clock, new Reactor({ clock }), new MemoryReactor({ clock })];
  const made: string[] = [];
  for (const [i, owner] of reactors.entries()) {
    const { callLater, seconds } = owner;
    callLater(1, (n: number) => made.push(`call ${n} at ${seconds()}`), i);
  }
  clock.advance(1);
  assert.deepEqual(made, ["call 0 at 1", "call 1 at 1", "call 2 at 1"]);
  const own = new RealTime();
  const { callLater } = own;
  await new Promise<void>((resolve) => callLater(0, resolve));
  assert.deepEqual(own.getDelayedCalls(), []);
});

Deno.test("Clock.callLater refuses a negative or NaN delay", () => {
  const clock = new Clock();
  assert.throws(() => clock.callLater(-1, () => {}), RangeError);
  assert.throws(() => clock.callLater(NaN, () => {}), RangeError);
});

// --- DelayedCall -------------------------------------------------------------------------

Deno.test("DelayedCall.cancel stops the call from being made", () => {
  const clock = new Clock();
  let made = false;
  const call = clock.callLater(1, () => (made = true));
  assert.equal(call.active(), true);
  call.cancel();
  assert.equal(call.cancelled, true);
  assert.equal(call.active(), false);
  clock.advance(2);
  assert.equal(made, false);
  assert.deepEqual(clock.getDelayedCalls(), []);
});

Deno.test("DelayedCall.cancel throws AlreadyCancelled, then AlreadyCalled, as appropriate", () => {
  const clock = new Clock();
  const cancelled = clock.callLater(1, function onTimeout() {});
  cancelled.cancel();
  assert.throws(() => cancelled.cancel(), (e: unknown) => {
    assert.ok(e instanceof AlreadyCancelled);
    assert.equal(e.name, "AlreadyCancelled");
    assert.match(e.message, /onTimeout/);
    return true;
  });
  assert.throws(() => cancelled.reset(1), AlreadyCancelled);
  assert.throws(() => cancelled.delay(1), AlreadyCancelled);

  const made = clock.callLater(1, function tick() {});
  clock.advance(1);
  assert.equal(made.called, true);
  assert.equal(made.active(), false);
  assert.throws(() => made.cancel(), (e: unknown) => {
    assert.ok(e instanceof AlreadyCalled);
    assert.equal(e.name, "AlreadyCalled");
    assert.match(e.message, /tick/);
    return true;
  });
  assert.throws(() => made.reset(1), AlreadyCalled);
  assert.throws(() => made.delay(1), AlreadyCalled);
});

Deno.test("DelayedCall.reset reschedules relative to now, earlier or later", () => {
  const clock = new Clock();
  const made: number[] = [];
  const call = clock.callLater(5, () => made.push(clock.seconds()));
  clock.advance(4);
  call.reset(5);
  assert.equal(call.getTime(), 9);
  clock.advance(4);
  assert.deepEqual(made, []);
  call.reset(0.5);
  assert.equal(call.getTime(), 8.5);
  clock.advance(0.5);
  assert.deepEqual(made, [8.5]);
});

Deno.test("DelayedCall.delay moves the call relative to its due time", () => {
  const clock = new Clock();
  const made: number[] = [];
  const call = clock.callLater(5, () => made.push(clock.seconds()));
  clock.advance(1);
  call.delay(2);
  assert.equal(call.getTime(), 7);
  call.delay(-4);
  assert.equal(call.getTime(), 3);
  clock.advance(2);
  assert.deepEqual(made, [3]);
});

Deno.test("DelayedCall keeps its function and arguments and describes itself", () => {
  const clock = new Clock();
  function tick(_n: number) {}
  const call = clock.callLater(1.5, tick, 3);
  assert.equal(call.func, tick);
  assert.deepEqual(call.args, [3]);
  assert.equal(String(call), "<DelayedCall [1.5s] called=false cancelled=false tick(3)>");
});

Deno.test("DelayedCall cancelled by an earlier call in the same advance is not made", () => {
  const clock = new Clock();
  let made = false;
  let second: DelayedCall | undefined = undefined;
  clock.callLater(1, () => second!.cancel());
  second = clock.callLater(1, () => (made = true));
  clock.advance(1);
  assert.equal(made, false);
});

// --- RealTime ----------------------------------------------------------------------------

Deno.test("RealTime.callLater makes the call after about the delay", async () => {
  const start = performance.now();
  const { promise, resolve } = Promise.withResolvers<string>();
  const call = realTime.callLater(0.02, resolve, "done");
  assert.equal(call.active(), true);
  assert.equal(await promise, "done");
  assert.ok(performance.now() - start >= 15);
  assert.equal(call.called, true);
  assert.equal(realTime.getDelayedCalls().includes(call), false);
});

Deno.test("RealTime.cancel clears the timer (the op sanitizer sees none left)", () => {
  const call = realTime.callLater(30, () => {});
  const other = realTime.callLater(60, () => {});
  assert.deepEqual(realTime.getDelayedCalls(), [call, other]);
  call.cancel();
  other.cancel();
  assert.deepEqual(realTime.getDelayedCalls(), []);
});

Deno.test("RealTime makes due calls in time order and skips ones cancelled meanwhile", async () => {
  const time = new RealTime();
  const order: string[] = [];
  const { promise, resolve } = Promise.withResolvers<void>();
  time.callLater(0.03, () => {
    order.push("last");
    resolve();
  });
  let doomed: DelayedCall | undefined = undefined;
  time.callLater(0.01, () => order.push("b"));
  time.callLater(0.01, () => doomed!.cancel());
  doomed = time.callLater(0.01, () => order.push("doomed"));
  time.callLater(0.005, () => order.push("a"));
  const moved = time.callLater(0.5, () => order.push("moved"));
  moved.reset(0.02);
  await promise;
  assert.deepEqual(order, ["a", "b", "moved", "last"]);
  assert.deepEqual(time.getDelayedCalls(), []);
});

Deno.test("RealTime.reset to later re-arms so the call waits", async () => {
  const time = new RealTime();
  const made: number[] = [];
  const start = performance.now();
  const { promise, resolve } = Promise.withResolvers<void>();
  const call = time.callLater(0.01, () => {
    made.push(performance.now() - start);
    resolve();
  });
  call.reset(0.04);
  await promise;
  assert.ok(made[0] >= 35, `made after ${made[0]} ms`);
});

Deno.test("RealTime logs an error thrown by a call and goes on with the others", async () => {
  const time = new RealTime();
  const events: LogEvent[] = [];
  const observer = (e: LogEvent) => void events.push(e);
  addObserver(observer);
  try {
    const { promise, resolve } = Promise.withResolvers<void>();
    time.callLater(0, function explode() {
      throw new Error("kaboom");
    });
    time.callLater(0, resolve);
    await promise;
  } finally {
    removeObserver(observer);
  }
  const errors = events.filter((e) => e.isError);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].failure?.getErrorMessage(), "kaboom");
  assert.match(errors[0].why ?? "", /explode/);
});

Deno.test("RealTime logs a rejected promise returned by a call", async () => {
  const time = new RealTime();
  const { promise, resolve } = Promise.withResolvers<LogEvent>();
  const observer = (e: LogEvent) => void (e.isError && resolve(e));
  addObserver(observer);
  try {
    time.callLater(0, () => Promise.reject(new Error("async kaboom")));
    const event = await promise;
    assert.equal(event.failure?.getErrorMessage(), "async kaboom");
  } finally {
    removeObserver(observer);
  }
});

Deno.test("RealTime waits for a delay longer than setTimeout allows (about 24.8 days)", async () => {
  const time = new RealTime();
  let made = false;
  const far = time.callLater(30 * 24 * 3600, () => (made = true));
  const { promise, resolve } = Promise.withResolvers<void>();
  time.callLater(0.02, resolve);
  await promise;
  assert.equal(made, false);
  assert.equal(far.active(), true);
  far.cancel();
});

Deno.test("RealTime.callLater refuses a negative delay", () => {
  assert.throws(() => realTime.callLater(-0.1, () => {}), RangeError);
});

// --- LoopingCall -------------------------------------------------------------------------

function clockedLoop<A extends unknown[]>(
  clock: Clock,
  fn: (...args: A) => unknown,
  ...args: A
): LoopingCall<A> {
  const loop = new LoopingCall(fn, ...args);
  loop.clock = clock;
  return loop;
}

Deno.test("LoopingCall calls at once, then once per interval", () => {
  const seen: number[] = [];
  const clock = new Clock();
  const loop = clockedLoop(clock, (n: number) => seen.push(n * clock.seconds()), 2);
  loop.start(1);
  assert.deepEqual(seen, [0]);
  clock.pump([1, 1, 0.5, 0.5]);
  assert.deepEqual(seen, [0, 2, 4, 6]);
  assert.equal(loop.running, true);
  assert.equal(loop.interval, 1);
  assert.equal(loop.call?.getTime(), 4);
  loop.stop();
});

Deno.test("LoopingCall.start with now=false waits one interval before the first call", () => {
  const times: number[] = [];
  const clock = new Clock();
  const loop = clockedLoop(clock, () => times.push(clock.seconds()));
  loop.start(5, false);
  assert.deepEqual(times, []);
  clock.advance(4.9);
  assert.deepEqual(times, []);
  clock.advance(0.1);
  assert.deepEqual(times, [5]);
  loop.stop();
});

Deno.test("LoopingCall.stop fires the start Deferred with the LoopingCall", () => {
  let calls = 0;
  const clock = new Clock();
  const loop = clockedLoop(clock, () => calls++);
  const done = loop.start(1);
  let result: unknown;
  done.addCallback((r) => (result = r));
  clock.advance(1);
  loop.stop();
  assert.equal(result, loop);
  assert.equal(loop.running, false);
  assert.equal(loop.call, undefined);
  assert.deepEqual(clock.getDelayedCalls(), []);
  clock.advance(10);
  assert.equal(calls, 2);
});

Deno.test("LoopingCall can be stopped from inside its function", () => {
  let calls = 0;
  const clock = new Clock();
  const loop = clockedLoop(clock, () => {
    if (++calls === 3) loop.stop();
  });
  let stopped = false;
  loop.start(1).addCallback(() => void (stopped = true));
  clock.pump([1, 1, 1, 1]);
  assert.equal(calls, 3);
  assert.equal(stopped, true);
  assert.deepEqual(clock.getDelayedCalls(), []);
});

Deno.test("LoopingCall stops and fails its Deferred when the function throws", () => {
  let calls = 0;
  const clock = new Clock();
  const loop = clockedLoop(clock, () => {
    if (++calls === 2) throw new RangeError("bad tick");
  });
  const done = loop.start(1);
  let failure: Failure | undefined;
  done.addErrback((f: Failure) => void (failure = f));
  clock.advance(1);
  assert.equal(failure?.check(RangeError), RangeError);
  assert.equal(failure?.getErrorMessage(), "bad tick");
  assert.equal(loop.running, false);
  assert.deepEqual(clock.getDelayedCalls(), []);
  clock.advance(10);
  assert.equal(calls, 2);
});

Deno.test("LoopingCall waits for a returned Deferred before scheduling the next call", () => {
  const results: Deferred<void>[] = [];
  const times: number[] = [];
  const clock = new Clock();
  const loop = clockedLoop(clock, () => {
    times.push(clock.seconds());
    const d = new Deferred<void>();
    results.push(d);
    return d;
  });
  loop.start(2);
  clock.advance(5);
  assert.deepEqual(times, [0]);
  assert.deepEqual(clock.getDelayedCalls(), []);
  results[0].callback(undefined);
  // The next call keeps to the grid: the next multiple of 2 after 5.
  assert.deepEqual(clock.getDelayedCalls().map((c) => c.getTime()), [6]);
  clock.advance(1);
  assert.deepEqual(times, [0, 6]);
  loop.stop();
});

Deno.test("LoopingCall stopped while awaiting a result fires once the result is in", () => {
  const result = new Deferred<void>();
  const loop = clockedLoop(new Clock(), () => result);
  let stopped = false;
  loop.start(1).addCallback(() => void (stopped = true));
  loop.stop();
  assert.equal(stopped, false);
  result.callback(undefined);
  assert.equal(stopped, true);
});

Deno.test("LoopingCall fails when a returned Deferred fails", () => {
  const result = new Deferred<void>();
  const clock = new Clock();
  const loop = clockedLoop(clock, () => result);
  let failure: Failure | undefined;
  loop.start(1).addErrback((f: Failure) => void (failure = f));
  result.errback(new Error("no poem"));
  assert.equal(failure?.getErrorMessage(), "no poem");
  assert.equal(loop.running, false);
  assert.deepEqual(clock.getDelayedCalls(), []);
});

Deno.test("LoopingCall waits for a returned promise, and fails when it rejects", async () => {
  let calls = 0;
  let settle = (_ok: boolean) => {};
  const clock = new Clock();
  const loop = clockedLoop(clock, () => {
    calls++;
    return new Promise<void>((resolve, reject) => {
      settle = (ok) => (ok ? resolve() : reject(new Error("rejected")));
    });
  });
  const done = loop.start(1);
  clock.advance(3);
  assert.equal(calls, 1);
  settle(true);
  await Promise.resolve();
  await Promise.resolve();
  clock.advance(1);
  assert.equal(calls, 2);
  settle(false);
  await assert.rejects(done.asPromise(), { message: "rejected" });
  assert.equal(loop.running, false);
});

Deno.test("LoopingCall skips missed intervals and keeps to the grid", () => {
  const times: number[] = [];
  const clock = new Clock();
  const loop = clockedLoop(clock, () => times.push(clock.seconds()));
  loop.start(1);
  clock.advance(3.5);
  assert.deepEqual(times, [0, 3.5]);
  assert.deepEqual(clock.getDelayedCalls().map((c) => c.getTime()), [4]);
  clock.advance(0.5);
  assert.deepEqual(times, [0, 3.5, 4]);
  loop.stop();
});

Deno.test("LoopingCall keeps to the grid when the clock goes back before its start", () => {
  // Real time can step back (the wall clock is corrected). Started at 10 with an interval of
  // 1, a result that comes in at 7.5 schedules the next call for 8, the next grid point.
  const clock = new Clock();
  clock.advance(10);
  const results: Deferred<unknown>[] = [];
  const loop = clockedLoop(clock, () => {
    const d = new Deferred<unknown>();
    results.push(d);
    return d;
  });
  loop.start(1);
  clock.advance(-2.5);
  results[0].callback(undefined);
  assert.deepEqual(clock.getDelayedCalls().map((c) => c.getTime()), [8]);
  clock.advance(0.5);
  assert.equal(results.length, 2);
  results[1].callback(undefined);
  loop.stop();
});

/** A withCount loop on a test clock that records `[time, count]` for each call. */
function countingLoop(): { clock: Clock; counts: [number, number][]; loop: LoopingCall<[]> } {
  const clock = new Clock();
  const counts: [number, number][] = [];
  const loop = LoopingCall.withCount((n) => counts.push([clock.seconds(), n]));
  loop.clock = clock;
  return { clock, counts, loop };
}

Deno.test("LoopingCall.withCount passes the intervals elapsed, as Twisted", () => {
  const { clock, counts, loop } = countingLoop();
  loop.start(1);
  clock.pump([1, 3, 0.5, 0.6, 2.2]);
  assert.deepEqual(counts, [[0, 1], [1, 1], [4, 3], [5.1, 1], [7.3, 2]]);
  assert.deepEqual(clock.getDelayedCalls().map((c) => c.getTime()), [8]);
  loop.stop();
});

Deno.test("LoopingCall.withCount with now=false counts from the start time", () => {
  const { clock, counts, loop } = countingLoop();
  loop.start(1, false);
  clock.pump([1, 2.5, 1]);
  assert.deepEqual(counts, [[1, 1], [3.5, 2], [4.5, 1]]);
  loop.stop();
});

Deno.test("LoopingCall.withCount counts afresh after a restart", () => {
  const { clock, counts, loop } = countingLoop();
  loop.start(1, false);
  clock.pump([3.5, 1.25]);
  loop.stop();
  clock.advance(5);
  loop.start(1);
  clock.advance(1);
  loop.stop();
  // Twisted would pass 5 at 9.75: the intervals since the last call before the stop.
  assert.deepEqual(counts, [[3.5, 3], [4.75, 1], [9.75, 1], [10.75, 1]]);
});

Deno.test("LoopingCall with interval 0 calls again each turn, with count 1", () => {
  const clock = new Clock();
  const counts: number[] = [];
  const loop = LoopingCall.withCount((n) => {
    counts.push(n);
    if (counts.length === 4) loop.stop();
  });
  loop.clock = clock;
  loop.start(0);
  clock.advance(0);
  assert.deepEqual(counts, [1, 1, 1, 1]);
  assert.equal(loop.running, false);
});

Deno.test("LoopingCall.reset skips the next call and restarts the intervals", () => {
  const times: number[] = [];
  const clock = new Clock();
  const loop = clockedLoop(clock, () => times.push(clock.seconds()));
  loop.start(10);
  clock.advance(8);
  loop.reset();
  clock.advance(9);
  assert.deepEqual(times, [0]);
  clock.advance(1);
  assert.deepEqual(times, [0, 18]);
  loop.stop();
});

Deno.test("LoopingCall refuses to start twice, to stop when stopped, and a negative interval", () => {
  const loop = clockedLoop(new Clock(), () => {});
  assert.throws(() => loop.stop(), Error);
  assert.throws(() => loop.start(-1), RangeError);
  assert.equal(loop.running, false);
  loop.start(1);
  assert.throws(() => loop.start(1), Error);
  loop.stop();
});

Deno.test("LoopingCall runs on real time by default", async () => {
  let calls = 0;
  const loop = new LoopingCall(() => {
    if (++calls === 3) loop.stop();
  });
  assert.equal(loop.clock, realTime);
  const result = await loop.start(0.01);
  assert.equal(result, loop);
  assert.equal(calls, 3);
});

// --- deferLater --------------------------------------------------------------------------

Deno.test("deferLater fires with the function's result after the delay", () => {
  const clock = new Clock();
  const d = deferLater(clock, 2, (a: number, b: number) => a + b, 40, 2);
  let result: number | undefined;
  d.addCallback((r) => void (result = r));
  clock.advance(1.9);
  assert.equal(result, undefined);
  assert.equal(d.called, false);
  clock.advance(0.1);
  assert.equal(result, 42);
});

Deno.test("deferLater without a function fires with undefined", () => {
  const clock = new Clock();
  const d = deferLater(clock, 1);
  let fired = false;
  d.addCallback((r) => {
    assert.equal(r, undefined);
    fired = true;
  });
  clock.advance(1);
  assert.equal(fired, true);
});

Deno.test("deferLater fails with what the function throws", () => {
  const clock = new Clock();
  const d = deferLater(clock, 1, () => {
    throw new TypeError("no");
  });
  let failure: Failure | undefined;
  d.addErrback((f: Failure) => void (failure = f));
  clock.advance(1);
  assert.equal(failure?.check(TypeError), TypeError);
});

Deno.test("deferLater cancelled fails with CancelledError and never calls the function", () => {
  const clock = new Clock();
  let called = false;
  const d = deferLater(clock, 5, () => (called = true));
  let failure: Failure | undefined;
  d.addErrback((f: Failure) => void (failure = f));
  d.cancel();
  assert.equal(failure?.check(CancelledError), CancelledError);
  assert.deepEqual(clock.getDelayedCalls(), []);
  clock.advance(10);
  assert.equal(called, false);
});

Deno.test("deferLater on real time can be awaited, and cancelled without a leaked timer", async () => {
  assert.equal(await deferLater(realTime, 0.01, () => "late"), "late");
  const d = deferLater(realTime, 30);
  d.addErrback(() => {});
  d.cancel();
  assert.deepEqual(realTime.getDelayedCalls(), []);
});
