import assert from "node:assert/strict";
import { addObserver, type LogEvent, removeObserver } from "../log.ts";
import {
  AlreadyCalled,
  AlreadyCancelled,
  Clock,
  type DelayedCall,
  RealTime,
  realTime,
} from "../task.ts";

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

Deno.test("RealTime.callLater refuses a negative delay", () => {
  assert.throws(() => realTime.callLater(-0.1, () => {}), RangeError);
});
