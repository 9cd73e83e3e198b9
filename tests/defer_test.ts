import assert from "node:assert/strict";
import {
  AlreadyCalledError,
  CancelledError,
  Deferred,
  DeferredList,
  type DeferredListOptions,
  type DeferredListOutcome,
  type DeferredListResult,
  DeferredLock,
  DeferredQueue,
  DeferredSemaphore,
  type DelayedCallLike,
  ensureDeferred,
  execute,
  fail,
  FirstError,
  gatherResults,
  getDebugging,
  inlineCallbacks,
  maybeDeferred,
  QueueOverflow,
  QueueUnderflow,
  reportUnhandledErrors,
  setDebugging,
  succeed,
  TimeoutError,
  type TimeSource,
} from "../defer.ts";
import { Failure } from "../failure.ts";
import { addObserver, type LogEvent, removeObserver } from "../log.ts";
import { countedSignal } from "./fixtures/signals.ts";

// --- helpers -----------------------------------------------------------------------------

/** A clock that moves only when told to, so timeouts are tested without real timers. */
class FakeClock implements TimeSource {
  now = 0;
  #calls: { time: number; fn: () => void; live: boolean }[] = [];

  callLater(seconds: number, fn: () => void): DelayedCallLike {
    const call = { time: this.now + seconds, fn, live: true };
    this.#calls.push(call);
    return {
      cancel: () => void (call.live = false),
      active: () => call.live,
    };
  }

  advance(seconds: number): void {
    this.now += seconds;
    for (const call of this.#calls) {
      if (call.live && call.time <= this.now) {
        call.live = false;
        call.fn();
      }
    }
  }

  get pending(): number {
    return this.#calls.filter((c) => c.live).length;
  }
}

/** Runs `fn` with the log captured, and returns the events it logged. */
function captureLog(fn: () => void): LogEvent[] {
  const events: LogEvent[] = [];
  const observer = (event: LogEvent) => void events.push(event);
  addObserver(observer);
  try {
    fn();
  } finally {
    removeObserver(observer);
  }
  return events;
}

/** Reports (and so forgets) any failure an earlier test left unhandled. */
function flushUnhandled(): void {
  captureLog(() => reportUnhandledErrors());
}

/** The outcome a Deferred currently ends with, read by adding a stage that passes it on. */
function outcomeOf<T>(d: Deferred<T>): { value?: unknown; failure?: Failure; fired: boolean } {
  const seen: { value?: unknown; failure?: Failure; fired: boolean } = { fired: false };
  d.addCallbacks(
    (value) => {
      seen.fired = true;
      seen.value = value;
      return value;
    },
    (failure) => {
      seen.fired = true;
      seen.failure = failure;
      return failure;
    },
  );
  return seen;
}

/** Handles whatever failure `d` ends with, so the test leaves nothing unhandled. */
function swallow(d: Deferred<unknown>): void {
  d.addErrback(() => undefined);
}

// --- routing -----------------------------------------------------------------------------

type Outcome = "value" | "throws" | "returns failure";

function stageOne(kind: Outcome): (input: unknown) => unknown {
  return (input) => {
    if (kind === "value") return `ok(${input instanceof Failure ? "failure" : input})`;
    if (kind === "throws") throw new Error("thrown");
    return new Failure(new Error("returned"));
  };
}

for (const fire of ["callback", "errback"] as const) {
  for (const kind of ["value", "throws", "returns failure"] as const) {
    Deno.test(
      `Deferred runs errback N+1 only when stage N failed (${fire}, stage 1 ${kind})`,
      () => {
        const ran: string[] = [];
        const d = new Deferred<string>();
        d.addCallbacks(
          (r) => {
            ran.push("callback 1");
            return stageOne(kind)(r);
          },
          (f) => {
            ran.push("errback 1");
            return stageOne(kind)(f);
          },
        );
        d.addCallbacks(
          (r) => {
            ran.push(`callback 2 with ${r}`);
          },
          (f) => {
            ran.push(`errback 2 with ${f.getErrorMessage()}`);
          },
        );
        if (fire === "callback") d.callback("input");
        else d.errback(new Error("input"));
        const first = fire === "callback" ? "callback 1" : "errback 1";
        const second = kind === "value"
          ? `callback 2 with ok(${fire === "callback" ? "input" : "failure"})`
          : `errback 2 with ${kind === "throws" ? "thrown" : "returned"}`;
        assert.deepEqual(ran, [first, second]);
      },
    );
  }
}

Deno.test("Deferred.addCallback adds a pass-through errback, addErrback a pass-through callback", () => {
  const ran: string[] = [];
  const d = new Deferred<number>();
  d.addCallback(() => ran.push("callback skipped"))
    .addErrback((f) => {
      ran.push(`errback ${f.getErrorMessage()}`);
      return 7;
    })
    .addErrback(() => ran.push("errback skipped"))
    .addCallback((n) => ran.push(`callback ${n}`));
  d.errback(new Error("boom"));
  assert.deepEqual(ran, ["errback boom", "callback 7"]);
});

Deno.test("Deferred.addCallbacks does not route the callback's own failure to its errback", () => {
  const ran: string[] = [];
  const d = new Deferred<number>();
  d.addCallbacks(
    () => {
      throw new Error("in callback");
    },
    () => ran.push("same-stage errback"),
  ).addErrback((f) => ran.push(`next errback ${f.getErrorMessage()}`));
  d.callback(1);
  assert.deepEqual(ran, ["next errback in callback"]);
});

Deno.test("Deferred refuses a stage that is not a function when it is added, and keeps working", () => {
  const d = new Deferred<number>();
  const notAFunction = 5 as unknown as (n: number) => number;
  const adds: [string, () => unknown][] = [
    ["addCallback", () => d.addCallback(notAFunction)],
    ["addErrback", () => d.addErrback(notAFunction as never)],
    ["addBoth", () => d.addBoth(notAFunction as never)],
    ["addCallbacks", () => d.addCallbacks(notAFunction)],
    ["addCallbacks", () => d.addCallbacks((n) => n, "oops" as never)],
  ];
  for (const [method, add] of adds) {
    assert.throws(add, (e: unknown) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, new RegExp(`^Deferred\\.${method}\\(\\) needs a function, not `));
      return true;
    });
  }
  // null and undefined stay pass-through errbacks, as in Twisted.
  let result = 0;
  d.addCallbacks((n) => n + 1, null).addCallbacks((n) => n * 2, undefined)
    .addCallback((n) => void (result = n));
  d.callback(1);
  assert.equal(result, 4);
});

Deno.test("Deferred passes extra arguments to callbacks and errbacks", () => {
  const seen: unknown[] = [];
  const d = new Deferred<number>();
  d.addCallback(
    (n, a: string, b: number) => {
      seen.push([n, a, b]);
      throw new Error("x");
    },
    "a",
    2,
  )
    .addErrback((f, tag: string) => seen.push([f.getErrorMessage(), tag]), "tag")
    .addCallbacks((n, extra: string) => seen.push([n, extra]), null, { callbackArgs: ["cb"] });
  d.callback(1);
  assert.deepEqual(seen, [[1, "a", 2], ["x", "tag"], [2, "cb"]]);
});

Deno.test("Deferred.addBoth gets the result and the failure alike", () => {
  const seen: unknown[] = [];
  const ok = succeed(1).addBoth((r) => seen.push(r));
  const bad = fail(new Error("no")).addBoth((r) => {
    seen.push(r instanceof Failure ? r.getErrorMessage() : r);
    return "recovered";
  });
  assert.deepEqual(seen, [1, "no"]);
  assert.equal(outcomeOf(ok).value, 1);
  assert.equal(outcomeOf(bad).value, "recovered");
});

Deno.test("Deferred runs callbacks added after it fired at once", () => {
  const d = succeed(3);
  let seen: number | undefined;
  d.addCallback((n) => {
    seen = n;
  });
  assert.equal(seen, 3);
});

Deno.test("Deferred.errback wraps an Error, reuses a Failure, and wraps any other value", () => {
  const error = new RangeError("r");
  const failure = new Failure(new Error("f"));
  const got: Failure[] = [];
  for (const reason of [error, failure, "a string", 42]) {
    fail(reason).addErrback((f) => void got.push(f));
  }
  assert.equal(got[0].value, error);
  assert.equal(got[1], failure);
  assert.equal(got[2].value, "a string");
  assert.equal(got[3].value, 42);
  let noReason: Failure | undefined;
  fail().addErrback((f) => void (noReason = f));
  assert.ok(noReason!.value instanceof Error);
});

Deno.test("Deferred.callback a second time throws AlreadyCalledError naming the value", () => {
  const d = new Deferred<string>();
  d.callback("first");
  assert.throws(() => d.callback("second"), (e: unknown) => {
    assert.ok(e instanceof AlreadyCalledError);
    assert.equal(e.name, "AlreadyCalledError");
    assert.match(e.message, /"second"/);
    return true;
  });
  assert.throws(() => d.errback(new Error("late")), AlreadyCalledError);
});

Deno.test("Deferred.callback refuses a Deferred", () => {
  const d = new Deferred<unknown>();
  assert.throws(() => d.callback(new Deferred()), TypeError);
  assert.equal(d.called, false);
});

Deno.test("Deferred waits for a Deferred returned by a callback, then resumes with its result", () => {
  const outer = new Deferred<number>();
  const inner = new Deferred<string>();
  const seen: unknown[] = [];
  outer.addCallback(() => inner).addCallback((s) => seen.push(s));
  outer.callback(1);
  assert.deepEqual(seen, []);
  assert.equal(outer.paused, 1);
  inner.callback("inner result");
  assert.deepEqual(seen, ["inner result"]);
  assert.equal(outer.paused, 0);
  // The outer Deferred took the inner one's result.
  assert.equal(outcomeOf(inner).value, undefined);
});

Deno.test("Deferred resumes with the failure of a Deferred returned by a callback", () => {
  const outer = new Deferred<number>();
  const inner = new Deferred<string>();
  let message = "";
  outer.addCallback(() => inner).addErrback((f) => void (message = f.getErrorMessage()));
  outer.callback(1);
  inner.errback(new Error("inner failed"));
  assert.equal(message, "inner failed");
});

Deno.test("Deferred takes the result of an already-fired returned Deferred at once", () => {
  const d = succeed(1).addCallback((n) => succeed(n + 1)).addCallback((n) => n * 10);
  assert.equal(outcomeOf(d).value, 20);
});

Deno.test("Deferred waits for a returned Deferred that is paused", () => {
  const inner = succeed("x");
  inner.pause();
  const outer = succeed(0).addCallback(() => inner);
  const seen = outcomeOf(outer);
  assert.equal(seen.fired, false);
  inner.unpause();
  assert.equal(seen.value, "x");
});

Deno.test("Deferred waits for a returned Deferred that is still running its callbacks", () => {
  const a = new Deferred<number>();
  const b = new Deferred<number>();
  let seen: number | undefined;
  b.addCallback(() => a).addCallback((n) => void (seen = n));
  a.addCallback((n) => {
    b.callback(n); // b's callback returns a, which is in the middle of this callback
    assert.equal(seen, undefined);
    return n + 1;
  });
  a.callback(1);
  assert.equal(seen, 2); // what a settled on, not the value it was working on
});

Deno.test("Deferred waits for one that is handing its result over through chainDeferred", () => {
  const a = new Deferred<number>();
  const b = new Deferred<number>();
  let seen: unknown;
  a.chainDeferred(b);
  a.addCallback(() => "what a settled on");
  b.addCallback(() => a).addCallback((value) => void (seen = value)); // a is still in its stage
  a.callback(1);
  assert.equal(seen, "what a settled on");
});

Deno.test("Deferred paused by the one it chained to goes on at once, as in Twisted", () => {
  const a = new Deferred<number>();
  const b = new Deferred<number>();
  const seen: unknown[] = [];
  a.chainDeferred(b);
  a.addCallback(() => seen.push("a went on"));
  b.addCallback(() => a.pause());
  a.callback(1);
  assert.deepEqual(seen, ["a went on"]);
  assert.equal(a.paused, 1);
  a.unpause();
  assert.deepEqual(seen, ["a went on"]);
  assert.equal(a.paused, 0);
});

Deno.test("Deferred goes on with its own callbacks after handing its result to a paused one", () => {
  const inner = new Deferred<string>();
  const outer = new Deferred<number>();
  const order: string[] = [];
  outer.addCallback(() => inner).addCallback((poem) => order.push(`outer got ${poem}`));
  outer.callback(0);
  outer.pause();
  inner.addCallback((rest) => order.push(`inner went on with ${rest}`));
  inner.callback("a poem");
  assert.deepEqual(order, ["inner went on with undefined"]);
  outer.unpause();
  assert.deepEqual(order, ["inner went on with undefined", "outer got a poem"]);
});

Deno.test("Deferred fails a callback that returns its own Deferred", () => {
  const d = new Deferred<unknown>();
  d.addCallback(() => d);
  let failure: Failure | undefined;
  d.addErrback((f) => void (failure = f));
  d.callback(1);
  assert.ok(failure?.value instanceof TypeError);
});

Deno.test("Deferred.pause holds the callbacks until unpause", () => {
  const seen: number[] = [];
  const d = new Deferred<number>();
  d.addCallback((n) => seen.push(n));
  d.pause();
  d.pause();
  assert.equal(d.paused, 2);
  d.callback(1);
  d.unpause();
  assert.deepEqual(seen, []);
  d.unpause();
  assert.deepEqual(seen, [1]);
  d.unpause(); // not paused: nothing happens
  assert.equal(d.paused, 0);
});

Deno.test("Deferred.unpause does not end the wait for a Deferred a callback returned", () => {
  const inner = new Deferred<string>();
  const outer = new Deferred<number>();
  const seen: unknown[] = [];
  outer.addCallback(() => inner).addCallback((poem) => seen.push(poem));
  outer.callback(1);
  outer.pause(); // the caller's own pause, on top of the wait
  assert.equal(outer.paused, 2);
  outer.unpause();
  outer.unpause(); // only the wait is left: not the caller's to lift
  assert.equal(outer.paused, 1);
  assert.deepEqual(seen, []);
  inner.callback("a poem");
  assert.deepEqual(seen, ["a poem"]);
  assert.equal(outer.paused, 0);
});

Deno.test("Deferred fired inside a callback runs its callbacks before callback() returns", () => {
  const order: string[] = [];
  const a = new Deferred<number>();
  const b = new Deferred<number>();
  b.addCallback(() => order.push("b's callback"));
  a.addCallback((n) => {
    b.callback(n);
    order.push("after b.callback");
  });
  a.callback(1);
  assert.deepEqual(order, ["b's callback", "after b.callback"]);
});

Deno.test("Deferred runs a callback added from inside its own callback after the current one", () => {
  const order: string[] = [];
  const d = new Deferred<number>();
  d.addCallback((n) => {
    d.addCallback((m) => order.push(`added later saw ${m}`));
    order.push("first");
    return n + 1;
  }).addCallback((n) => {
    order.push(`second saw ${n}`);
    return n;
  });
  d.callback(1);
  assert.deepEqual(order, ["first", "second saw 2", "added later saw 2"]);
});

// --- deep chains -------------------------------------------------------------------------

const DEEP = 100_000;

Deno.test("Deferred completes 100,000 nested Deferreds each returned by a callback", () => {
  const ds = Array.from({ length: DEEP }, () => new Deferred<number>());
  for (let i = 0; i < DEEP - 1; i++) ds[i].addCallback(() => ds[i + 1]);
  const seen = outcomeOf(ds[0]);
  for (let i = 0; i < DEEP - 1; i++) ds[i].callback(i);
  assert.equal(seen.fired, false);
  ds[DEEP - 1].callback(42);
  assert.equal(seen.value, 42);
});

Deno.test("Deferred completes 100,000 nested Deferreds fired innermost first", () => {
  const ds = Array.from({ length: DEEP }, () => new Deferred<number>());
  for (let i = 0; i < DEEP - 1; i++) ds[i].addCallback(() => ds[i + 1]);
  ds[DEEP - 1].callback(42);
  for (let i = DEEP - 2; i >= 0; i--) ds[i].callback(i);
  assert.equal(outcomeOf(ds[0]).value, 42);
});

Deno.test("Deferred.chainDeferred completes a 100,000-long chain", () => {
  const ds = Array.from({ length: DEEP }, () => new Deferred<number>());
  for (let i = 0; i < DEEP - 1; i++) ds[i].chainDeferred(ds[i + 1]);
  const seen = outcomeOf(ds[DEEP - 1]);
  ds[0].callback(7);
  assert.equal(seen.value, 7);
});

Deno.test("Deferred completes 100,000 Deferreds whose callbacks fire the next synchronously", () => {
  const ds = Array.from({ length: DEEP }, () => new Deferred<number>());
  for (let i = 0; i < DEEP - 1; i++) {
    ds[i].addCallback((n) => {
      ds[i + 1].callback(n + 1);
      return n;
    });
  }
  const seen = outcomeOf(ds[DEEP - 1]);
  ds[0].callback(0);
  assert.equal(seen.value, DEEP - 1);
});

Deno.test("Deferred runs callbacks in place when fired 240 runners deep, as Twisted can", () => {
  // Twisted gets to about 245 at Python's default recursion limit: up to there, callback()
  // returns only after the callbacks it set off have run.
  const depth = 240;
  const ds = Array.from({ length: depth }, () => new Deferred<number>());
  const ranBeforeReturn: boolean[] = [];
  const ran = new Array<boolean>(depth).fill(false);
  for (let i = 0; i < depth; i++) {
    ds[i].addCallback((n) => {
      ran[i] = true;
      if (i + 1 < depth) {
        ds[i + 1].callback(n + 1);
        ranBeforeReturn.push(ran[i + 1]);
      }
      return n;
    });
  }
  ds[0].callback(0);
  assert.equal(ranBeforeReturn.length, depth - 1);
  assert.ok(ranBeforeReturn.every(Boolean), "every nested callback() ran its callbacks");
});

Deno.test("Deferred: a callback returning one fired too deep to run yet waits for its callbacks", () => {
  // Past the depth where firing is queued for the outermost runner, the returned Deferred has
  // a result but its callbacks have not run: taking the result then skipped them.
  for (const depth of [100, 300, 600]) {
    const ds = Array.from({ length: depth }, () => new Deferred<number>());
    const x = new Deferred<number>();
    const seen: string[] = [];
    x.addCallback((n) => {
      seen.push(`x got ${n}`);
      return n * 10;
    });
    for (let i = 0; i < depth - 1; i++) ds[i].addCallback(() => void ds[i + 1].callback(0));
    ds[depth - 1].addCallback(() => {
      x.callback(7);
      return x;
    }).addCallback((n) => void seen.push(`outer got ${n}`));
    ds[0].callback(0);
    assert.deepEqual(seen, ["x got 7", "outer got 70"], `${depth} deep`);
  }
});

Deno.test("Deferred.cancel reaches the innermost of 100,000 waiting Deferreds", () => {
  let cancelled = false;
  const ds = Array.from(
    { length: DEEP },
    (_, i) => new Deferred<number>(i === DEEP - 1 ? () => void (cancelled = true) : undefined),
  );
  for (let i = 0; i < DEEP - 1; i++) ds[i].addCallback(() => ds[i + 1]);
  for (let i = 0; i < DEEP - 1; i++) ds[i].callback(i);
  const seen = outcomeOf(ds[0]);
  ds[0].cancel();
  assert.ok(cancelled);
  assert.ok(seen.failure?.check(CancelledError));
  swallow(ds[0]);
});

// --- cancellation ------------------------------------------------------------------------

Deno.test("Deferred.cancel calls the canceller with the Deferred", () => {
  let given: Deferred<string> | undefined;
  const d = new Deferred<string>((x) => {
    given = x;
    x.callback("cancelled result");
  });
  d.cancel();
  assert.equal(given, d);
  assert.equal(outcomeOf(d).value, "cancelled result");
});

Deno.test("Deferred.cancel without a canceller fails with CancelledError and drops a late fire", () => {
  const d = new Deferred<string>();
  const seen = outcomeOf(d);
  d.cancel();
  assert.ok(seen.failure?.value instanceof CancelledError);
  d.callback("late"); // dropped, not AlreadyCalledError
  assert.throws(() => d.callback("later still"), AlreadyCalledError);
  swallow(d);
});

Deno.test("Deferred.cancel fails with CancelledError when the canceller does not fire it", () => {
  let calls = 0;
  const d = new Deferred<string>(() => void calls++);
  const seen = outcomeOf(d);
  d.cancel();
  assert.equal(calls, 1);
  assert.ok(seen.failure?.check(CancelledError));
  // The canceller was supposed to stop the source; a late fire is an error, as in Twisted.
  assert.throws(() => d.callback("late"), AlreadyCalledError);
  swallow(d);
});

Deno.test("Deferred.cancel does nothing to a Deferred that has fired", () => {
  let calls = 0;
  const d = new Deferred<string>(() => void calls++);
  d.callback("done");
  d.cancel();
  assert.equal(calls, 0);
  assert.equal(outcomeOf(d).value, "done");
});

Deno.test("Deferred.cancel cancels the inner Deferred a callback returned", () => {
  let innerCancelled = false;
  const inner = new Deferred<string>(() => void (innerCancelled = true));
  const outer = new Deferred<number>();
  outer.addCallback(() => inner);
  outer.callback(1);
  const seen = outcomeOf(outer);
  outer.cancel();
  assert.ok(innerCancelled);
  assert.ok(seen.failure?.check(CancelledError));
  swallow(outer);
});

Deno.test("Deferred.cancel returns when the waits go round in a circle", () => {
  // t0 waits for t1, t1 for c0, and c0 -> c1 -> c2 -> c0 each wait for the next: none can fire.
  let cancellers = 0;
  const make = () => new Deferred<number>(() => void cancellers++);
  const [t0, t1, c0, c1, c2] = [make(), make(), make(), make(), make()];
  c0.addCallback(() => c1);
  c1.addCallback(() => c2);
  c2.addCallback(() => c0);
  t1.addCallback(() => c0);
  t0.addCallback(() => t1);
  for (const d of [c0, c1, c2, t1, t0]) d.callback(0);
  for (const d of [t0, c1]) d.cancel(); // from outside the circle, and from inside it
  assert.equal(cancellers, 0);
  assert.deepEqual([t0, t1, c0, c1, c2].map((d) => d.paused), [1, 1, 1, 1, 1]);
});

// --- chainDeferred -----------------------------------------------------------------------

Deno.test("Deferred.chainDeferred hands the outcome over and leaves undefined behind", () => {
  const a = new Deferred<string>();
  const b = new Deferred<string>();
  const after = outcomeOf(a.chainDeferred(b));
  const got = outcomeOf(b);
  a.callback("poem");
  assert.equal(got.value, "poem");
  assert.equal(after.value, undefined);

  const c = new Deferred<string>();
  const e = new Deferred<string>();
  const cAfter = outcomeOf(c.chainDeferred(e));
  const eGot = outcomeOf(e);
  c.errback(new Error("bad"));
  assert.equal(eGot.failure?.getErrorMessage(), "bad");
  assert.equal(cAfter.failure, undefined); // the failure belongs to e now
  swallow(e);
});

Deno.test("Deferred.chainDeferred: a chain paused by its own callback still runs the stages after", () => {
  // In Twisted the chainDeferred stage is a callback like any other, and pausing a Deferred
  // from one of its callbacks does not stop the loop running them.
  for (const pauseIn of ["earlier stage", "chained Deferred"]) {
    const a = new Deferred<number>();
    const b = new Deferred<number>();
    const seen: string[] = [];
    a.addCallback((n) => {
      if (pauseIn === "earlier stage") a.pause();
      return n;
    });
    a.chainDeferred(b);
    b.addCallback((n) => {
      if (pauseIn === "chained Deferred") a.pause();
      seen.push(`b got ${n}`);
    });
    a.addCallback((n) => void seen.push(`after ${n}`));
    a.callback(5);
    assert.deepEqual(seen, ["b got 5", "after undefined"], pauseIn);
    assert.equal(a.paused, 1);
  }
});

Deno.test("Deferred.chainDeferred to a fired Deferred fails the chain with AlreadyCalledError", () => {
  const target = succeed("already");
  const d = succeed("x").chainDeferred(target);
  assert.ok(outcomeOf(d).failure?.value instanceof AlreadyCalledError);
  swallow(d);
});

// --- addTimeout --------------------------------------------------------------------------

Deno.test("Deferred.addTimeout fails with TimeoutError when the clock runs out", () => {
  const clock = new FakeClock();
  const d = new Deferred<string>().addTimeout(2, clock);
  const seen = outcomeOf(d);
  clock.advance(1);
  assert.equal(seen.fired, false);
  clock.advance(1);
  assert.ok(seen.failure?.value instanceof TimeoutError);
  assert.equal(seen.failure?.getErrorMessage(), "Deferred timed out after 2 seconds");
  swallow(d);
});

Deno.test("Deferred.addTimeout cancels its timer when the Deferred fires in time", () => {
  const clock = new FakeClock();
  const d = new Deferred<string>().addTimeout(2, clock);
  assert.equal(clock.pending, 1);
  d.callback("in time");
  assert.equal(clock.pending, 0);
  assert.equal(outcomeOf(d).value, "in time");
});

Deno.test("Deferred.addTimeout uses onTimeoutCancel to convert the cancellation", () => {
  const clock = new FakeClock();
  const d = new Deferred<string>().addTimeout(
    5,
    clock,
    (outcome, seconds) => `gave up after ${seconds}s (${(outcome as Failure).type?.name})`,
  );
  clock.advance(5);
  assert.equal(outcomeOf(d).value, "gave up after 5s (CancelledError)");
});

Deno.test("Deferred.addTimeout leaves a result the canceller supplied alone", () => {
  const clock = new FakeClock();
  const d = new Deferred<string>((x) => x.callback("canceller's result")).addTimeout(1, clock);
  clock.advance(1);
  assert.equal(outcomeOf(d).value, "canceller's result");
});

Deno.test("Deferred.addTimeout times out a fired Deferred still waiting on an inner one", () => {
  const clock = new FakeClock();
  let innerCancelled = false;
  const inner = new Deferred<string>(() => void (innerCancelled = true));
  const d = new Deferred<null>();
  d.addCallback(() => inner);
  d.callback(null);
  d.addTimeout(1, clock);
  const seen = outcomeOf(d);
  clock.advance(1);
  assert.ok(innerCancelled);
  assert.ok(seen.failure?.value instanceof TimeoutError);
  assert.equal(clock.pending, 0);
  swallow(d);
});

Deno.test("Deferred.addTimeout running out while the Deferred is paused keeps its result", () => {
  const clock = new FakeClock();
  const plain = new Deferred<string>();
  plain.pause();
  plain.callback("v");
  plain.addTimeout(1, clock);
  clock.advance(1);
  const seen = outcomeOf(plain);
  assert.equal(seen.fired, false);
  plain.unpause();
  assert.equal(seen.value, "v");
  // onTimeoutCancel still runs, and gets the result rather than a CancelledError.
  const converted = new Deferred<string>();
  converted.pause();
  converted.callback("v");
  converted.addTimeout(1, clock, (outcome, seconds) => ["late", outcome, seconds]);
  clock.advance(1);
  converted.unpause();
  assert.deepEqual(outcomeOf(converted).value, ["late", "v", 1]);
});

Deno.test("Deferred.addTimeout works with the default timer clock without leaking it", async () => {
  const slow = new Deferred<string>().addTimeout(0.01);
  await assert.rejects(() => slow.asPromise(), TimeoutError);
  const fast = new Deferred<string>().addTimeout(10);
  fast.callback("fast");
  assert.equal(await fast, "fast");
});

// --- addAbortSignal ----------------------------------------------------------------------

Deno.test("Deferred.addAbortSignal cancels on abort and fails with the signal's reason", () => {
  let cancelled = 0;
  const controller = new AbortController();
  const d = new Deferred<string>(() => void cancelled++).addAbortSignal(controller.signal);
  const seen = outcomeOf(d);
  assert.equal(seen.fired, false);
  controller.abort();
  assert.equal(cancelled, 1);
  assert.ok(seen.failure?.value instanceof DOMException);
  assert.equal((seen.failure?.value as DOMException).name, "AbortError");
  assert.equal(seen.failure?.value, controller.signal.reason);
  swallow(d);
});

Deno.test("Deferred.addAbortSignal fails with the reason the code that aborted gave", async () => {
  const controller = new AbortController();
  const d = new Deferred<string>().addAbortSignal(controller.signal);
  const reason = new RangeError("the reader left");
  controller.abort(reason);
  await assert.rejects(() => d.asPromise(), (e) => e === reason);
  const text = new AbortController();
  const e = new Deferred<string>().addAbortSignal(text.signal);
  text.abort("not an Error");
  assert.equal(outcomeOf(e).failure?.value, "not an Error");
  swallow(e);
});

Deno.test("Deferred.addAbortSignal with an aborted signal cancels at once", () => {
  let cancelled = 0;
  const d = new Deferred<string>(() => void cancelled++).addAbortSignal(AbortSignal.abort());
  assert.equal(cancelled, 1);
  assert.equal((outcomeOf(d).failure?.value as DOMException).name, "AbortError");
  swallow(d);
});

Deno.test("Deferred.addAbortSignal stops listening once the Deferred fires", () => {
  const { controller, listeners } = countedSignal();
  let cancelled = 0;
  const d = new Deferred<string>(() => void cancelled++).addAbortSignal(controller.signal);
  const other = new Deferred<string>().addAbortSignal(controller.signal);
  assert.equal(listeners(), 2);
  d.callback("in time");
  assert.equal(listeners(), 1);
  controller.abort();
  assert.equal(cancelled, 0);
  assert.equal(outcomeOf(d).value, "in time");
  assert.equal(listeners(), 0);
  swallow(other);
});

Deno.test("Deferred.addAbortSignal leaves what the canceller fired it with alone", () => {
  const controller = new AbortController();
  const d = new Deferred<string>((x) => x.callback("partial poem"));
  d.addAbortSignal(controller.signal);
  controller.abort();
  assert.equal(outcomeOf(d).value, "partial poem");
  const failing = new Deferred<string>((x) => x.errback(new TypeError("closed")));
  failing.addAbortSignal(AbortSignal.abort());
  assert.ok(outcomeOf(failing).failure?.value instanceof TypeError);
  swallow(failing);
});

Deno.test("Deferred.addAbortSignal cancels the inner Deferred a fired one waits on", () => {
  let innerCancelled = false;
  const inner = new Deferred<string>(() => void (innerCancelled = true));
  const d = new Deferred<null>();
  d.addCallback(() => inner);
  d.callback(null);
  const controller = new AbortController();
  d.addAbortSignal(controller.signal);
  controller.abort();
  assert.ok(innerCancelled);
  assert.equal((outcomeOf(d).failure?.value as DOMException).name, "AbortError");
  swallow(d);
});

Deno.test("Deferred.addAbortSignal and addTimeout: whichever comes first names the failure", () => {
  const clock = new FakeClock();
  const first = new AbortController();
  const aborted = new Deferred<string>().addTimeout(5, clock).addAbortSignal(first.signal);
  first.abort();
  assert.equal((outcomeOf(aborted).failure?.value as DOMException).name, "AbortError");
  assert.equal(clock.pending, 0);
  swallow(aborted);
  const later = new AbortController();
  const timedOut = new Deferred<string>().addTimeout(5, clock).addAbortSignal(later.signal);
  clock.advance(5);
  assert.ok(outcomeOf(timedOut).failure?.value instanceof TimeoutError);
  later.abort();
  swallow(timedOut);
});

// --- promise interop ---------------------------------------------------------------------

Deno.test("Deferred can be awaited for its result, and throws the failure's value", async () => {
  assert.equal(await succeed(5), 5);
  const error = new Error("awaited failure");
  await assert.rejects(async () => await fail(error), (e) => e === error);
});

Deno.test("Deferred keeps its result for callbacks added after an await", async () => {
  const d = new Deferred<number>();
  d.addCallback((n) => n * 2);
  setTimeout(() => d.callback(21), 0);
  assert.equal(await d, 42);
  let later: number | undefined;
  d.addCallback((n) => void (later = n));
  assert.equal(later, 42);
});

Deno.test("Deferred.then runs its handlers asynchronously", async () => {
  const order: string[] = [];
  const d = succeed("x");
  const p = d.then((v) => order.push(`then ${v}`));
  order.push("after then()");
  await p;
  assert.deepEqual(order, ["after then()", "then x"]);
});

Deno.test("Deferred adopts a Promise or a thenable returned by a callback", async () => {
  const viaPromise = succeed(1).addCallback((n) => Promise.resolve(n + 1));
  assert.equal(await viaPromise, 2);
  const thenable: PromiseLike<string> = {
    then(onFulfilled) {
      queueMicrotask(() => onFulfilled?.("from thenable"));
      return Promise.resolve() as never;
    },
  };
  assert.equal(await succeed(0).addCallback(() => thenable), "from thenable");
  const rejected = succeed(0).addCallback(() => Promise.reject(new RangeError("no")));
  await assert.rejects(() => rejected.asPromise(), RangeError);
  swallow(rejected);
});

Deno.test("Deferred.fromPromise, asPromise and ensureDeferred convert both ways", async () => {
  const d = Deferred.fromPromise(Promise.resolve("p"));
  assert.equal(await d.asPromise(), "p");
  const same = succeed(1);
  assert.equal(ensureDeferred(same), same);
  assert.equal(await ensureDeferred(Promise.resolve(2)), 2);
  assert.throws(() => ensureDeferred(3 as never), TypeError);
  const rejected = Deferred.fromPromise(Promise.reject(new Error("r")));
  await assert.rejects(() => rejected.asPromise(), /r/);
});

Deno.test("Deferred.fromPromise drops the promise's outcome after a cancel", async () => {
  const { promise, resolve } = Promise.withResolvers<string>();
  const d = Deferred.fromPromise(promise);
  const seen = outcomeOf(d);
  d.cancel();
  resolve("late");
  await promise;
  await Promise.resolve();
  assert.ok(seen.failure?.check(CancelledError));
  swallow(d);
});

// --- typed chains ------------------------------------------------------------------------

Deno.test("Deferred.addCallback types the chain by what its callbacks return", async () => {
  const d = new Deferred<string>();
  const length: Deferred<number> = d.addCallback((s) => s.length);
  const fromDeferred: Deferred<boolean> = length.addCallback((n) => succeed(n > 2));
  const fromPromise: Deferred<string> = fromDeferred.addCallback((b) => Promise.resolve(`${b}`));
  const recovered: Deferred<string | number> = fromPromise.addErrback(() => 0);
  d.callback("poem");
  const result: string | number = await recovered;
  assert.equal(result, "true");
});

// --- succeed, fail, maybeDeferred, execute -----------------------------------------------

Deno.test("succeed and fail return fired Deferreds", () => {
  assert.equal(outcomeOf(succeed("v")).value, "v");
  assert.equal(outcomeOf(succeed()).value, undefined);
  const f = fail(new Error("e"));
  assert.equal(outcomeOf(f).failure?.getErrorMessage(), "e");
  swallow(f);
});

Deno.test("maybeDeferred handles a returned Deferred, Failure, value, Promise, and a throw", async () => {
  const d = new Deferred<number>();
  assert.equal(maybeDeferred(() => d), d);
  const failure = new Failure(new Error("returned"));
  const fromFailure = maybeDeferred(() => failure);
  assert.equal(outcomeOf(fromFailure).failure, failure);
  swallow(fromFailure);
  assert.equal(outcomeOf(maybeDeferred((a: number, b: number) => a + b, 1, 2)).value, 3);
  const thrown = maybeDeferred(() => {
    throw new Error("thrown");
  });
  assert.equal(outcomeOf(thrown).failure?.getErrorMessage(), "thrown");
  swallow(thrown);
  assert.equal(await maybeDeferred(() => Promise.resolve("async")), "async");
});

Deno.test("execute fires with what the function returns or fails with what it throws", () => {
  assert.deepEqual(outcomeOf(execute(JSON.parse, "[1]")).value, [1]);
  const bad = execute(JSON.parse, "{");
  assert.ok(outcomeOf(bad).failure?.value instanceof SyntaxError);
  swallow(bad);
});

// --- DeferredList and gatherResults ------------------------------------------------------

/** `true` only when A and B are the same type: a type test fails to type-check otherwise. */
type Same<A, B> = (<X>() => X extends A ? 1 : 2) extends (<X>() => X extends B ? 1 : 2) ? true
  : false;

Deno.test("DeferredListResult is either shape when fireOnOneCallback is only known to be a boolean", () => {
  type First = [result: string, index: number];
  type All = DeferredListOutcome<string>[];
  const checks: [
    Same<DeferredListResult<string>, All>,
    Same<DeferredListResult<string, { fireOnOneCallback: true }>, First>,
    Same<DeferredListResult<string, { fireOnOneCallback: false }>, All>,
    Same<DeferredListResult<string, { fireOnOneErrback: true; consumeErrors: boolean }>, All>,
    Same<DeferredListResult<string, { fireOnOneCallback: boolean }>, First | All>,
    Same<DeferredListResult<string, DeferredListOptions>, First | All>,
  ] = [true, true, true, true, true, true];
  assert.ok(checks.every(Boolean));
  // What the type now admits, the list really does.
  const options: DeferredListOptions = { fireOnOneCallback: true };
  const fired: (First | All)[] = [];
  new DeferredList([succeed("tide")], options).addCallback((result) => void fired.push(result));
  assert.deepEqual(fired, [["tide", 0]]);
});

Deno.test("DeferredList fires with every outcome in list order once all have fired", () => {
  const a = new Deferred<string>();
  const b = new Deferred<string>();
  const list = new DeferredList([a, b], { consumeErrors: true });
  assert.ok(list instanceof Deferred);
  const seen = outcomeOf(list);
  b.callback("b");
  assert.equal(seen.fired, false);
  a.errback(new Error("a failed"));
  const outcomes = seen.value as DeferredListOutcome<string>[];
  assert.deepEqual(outcomes[1], [true, "b"]);
  assert.equal(outcomes[0][0], false);
  assert.equal((outcomes[0][1] as Failure).getErrorMessage(), "a failed");
  // consumeErrors: a's own chain goes on with undefined.
  assert.equal(outcomeOf(a).value, undefined);
});

Deno.test("DeferredList of nothing fires at once with an empty list", () => {
  assert.deepEqual(outcomeOf(new DeferredList([])).value, []);
  assert.equal(new DeferredList([], { fireOnOneCallback: true }).called, false);
});

Deno.test("DeferredList with fireOnOneCallback fires with the first result and its index", () => {
  const a = new Deferred<string>();
  const b = new Deferred<string>();
  const list = new DeferredList([a, b], { fireOnOneCallback: true });
  const seen = outcomeOf(list);
  b.callback("b first");
  const [result, index]: [string, number] = seen.value as [string, number];
  assert.deepEqual([result, index], ["b first", 1]);
  a.callback("a later"); // no second fire
});

Deno.test("DeferredList with fireOnOneErrback fails with FirstError", () => {
  const a = new Deferred<string>();
  const list = new DeferredList([succeed("ok"), a], { fireOnOneErrback: true });
  const seen = outcomeOf(list);
  const cause = new Error("a failed");
  a.errback(cause);
  const first = seen.failure?.value as FirstError;
  assert.ok(first instanceof FirstError);
  assert.equal(first.name, "FirstError");
  assert.equal(first.index, 1);
  assert.equal(first.subFailure.value, cause);
  assert.match(first.message, /#1.*a failed/);
  swallow(list);
  swallow(a);
});

Deno.test("DeferredList.cancel cancels the Deferreds it waits for", () => {
  const cancelled: number[] = [];
  const a = new Deferred<string>(() => void cancelled.push(0));
  const b = new Deferred<string>(() => void cancelled.push(1));
  const list = new DeferredList([a, b], { consumeErrors: true });
  const seen = outcomeOf(list);
  list.cancel();
  assert.deepEqual(cancelled, [0, 1]);
  const outcomes = seen.value as DeferredListOutcome<string>[];
  assert.ok(outcomes.every(([ok, f]) => !ok && (f as Failure).check(CancelledError)));
});

Deno.test("DeferredList.cancel after fireOnOneCallback fired leaves the other Deferreds alone", () => {
  const a = new Deferred<string>();
  const b = new Deferred<string>();
  const list = new DeferredList([a, b], { fireOnOneCallback: true });
  a.callback("hello");
  list.cancel();
  assert.equal(b.called, false);
  assert.deepEqual(outcomeOf(list).value, ["hello", 0]);
});

Deno.test("gatherResults gives the results in order, or FirstError", async () => {
  const late = new Deferred<number>();
  const all = gatherResults([late, succeed("b")]);
  late.callback(1);
  const [n, s]: [number, string] = await all;
  assert.deepEqual([n, s], [1, "b"]);
  const failing = new Deferred<number>();
  const gathered = gatherResults([succeed(1), failing], { consumeErrors: true });
  failing.errback(new Error("nope"));
  await assert.rejects(() => gathered.asPromise(), FirstError);
  assert.equal(outcomeOf(failing).value, undefined);
});

Deno.test("gatherResults.cancel cancels every Deferred", () => {
  const cancelled: string[] = [];
  const a = new Deferred<number>(() => void cancelled.push("a"));
  const b = new Deferred<number>(() => void cancelled.push("b"));
  const all = gatherResults([a, b], { consumeErrors: true });
  const seen = outcomeOf(all);
  all.cancel();
  assert.deepEqual(cancelled, ["a", "b"]);
  assert.ok((seen.failure?.value as FirstError).subFailure.check(CancelledError));
  swallow(all);
});

Deno.test("gatherResults.cancel after a failure fired it leaves the other Deferreds alone", () => {
  const a = new Deferred<number>();
  const b = new Deferred<number>();
  const all = gatherResults([a, b], { consumeErrors: true });
  a.errback(new Error("a failed"));
  all.cancel();
  assert.equal(b.called, false);
  assert.equal((outcomeOf(all).failure?.value as FirstError).index, 0);
  swallow(all);
});

// --- inlineCallbacks ---------------------------------------------------------------------

Deno.test("inlineCallbacks resumes the generator with Deferred, Promise and plain results", async () => {
  const later = new Deferred<string>();
  const run = inlineCallbacks(function* (prefix: string) {
    const a = (yield succeed(1)) as number;
    const b = (yield Promise.resolve(2)) as number;
    const c = (yield 3) as number;
    const d = (yield later) as string;
    return `${prefix} ${a + b + c} ${d}`;
  });
  const result = run("sum");
  assert.equal(result.called, false);
  later.callback("done");
  assert.equal(await result, "sum 6 done");
});

Deno.test("inlineCallbacks throws TypeError at once for a function that returns no generator", () => {
  const notGenerators = [
    () => 5,
    async () => await Promise.resolve(5),
  ] as unknown as (() => Generator)[];
  for (const fn of notGenerators) {
    const run = inlineCallbacks(fn);
    assert.throws(() => run(), (e: unknown) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, /^inlineCallbacks needs a generator function \(function\*\): /);
      return true;
    });
  }
});

Deno.test("inlineCallbacks throws a failed Deferred's error into the generator", () => {
  const error = new Error("no poem");
  const run = inlineCallbacks(function* () {
    try {
      yield fail(error);
    } catch (e) {
      return e === error ? "caught it" : "wrong error";
    }
    return "not thrown";
  });
  assert.equal(outcomeOf(run()).value, "caught it");
});

Deno.test("inlineCallbacks throws a yielded Failure's error into the generator", () => {
  const error = new RangeError("yielded");
  const run = inlineCallbacks(function* () {
    try {
      yield new Failure(error);
    } catch (e) {
      return e === error ? "caught it" : "wrong error";
    }
    return "not thrown";
  });
  assert.equal(outcomeOf(run()).value, "caught it");
});

Deno.test("inlineCallbacks fails its Deferred with what the generator throws", () => {
  const run = inlineCallbacks(function* () {
    yield succeed(1);
    throw new RangeError("generator failed");
  });
  const d = run();
  assert.ok(outcomeOf(d).failure?.value instanceof RangeError);
  swallow(d);
});

Deno.test("inlineCallbacks runs a generator yielding 100,000 fired Deferreds without overflow", () => {
  const run = inlineCallbacks(function* () {
    let total = 0;
    for (let i = 0; i < DEEP; i++) total += (yield succeed(1)) as number;
    return total;
  });
  assert.equal(outcomeOf(run()).value, DEEP);
});

Deno.test("inlineCallbacks cancels the awaited Deferred and lets the generator handle it", () => {
  let awaitedCancelled = false;
  const awaited = new Deferred<string>(() => void (awaitedCancelled = true));
  const run = inlineCallbacks(function* () {
    try {
      yield awaited;
    } catch (e) {
      if (e instanceof CancelledError) return "handled cancel";
      throw e;
    }
    return "not cancelled";
  });
  const d = run();
  d.cancel();
  assert.ok(awaitedCancelled);
  assert.equal(outcomeOf(d).value, "handled cancel");
});

Deno.test("inlineCallbacks fails with CancelledError when the generator does not catch it", () => {
  const run = inlineCallbacks(function* () {
    yield new Deferred<string>();
    return "never";
  });
  const d = run();
  d.cancel();
  assert.ok(outcomeOf(d).failure?.check(CancelledError));
  swallow(d);
});

Deno.test("inlineCallbacks.cancel fails its Deferred with the error a canceller throws", () => {
  const broken = new Error("canceller broke");
  const awaited = new Deferred<string>(() => {
    throw broken;
  });
  const run = inlineCallbacks(function* () {
    return (yield awaited) as string;
  });
  const d = run();
  d.cancel(); // does not throw
  const seen = outcomeOf(d);
  assert.equal(seen.failure?.value, broken);
  awaited.callback("late"); // the generator finishes, but its Deferred has failed already
  assert.equal(seen.value, undefined);
  swallow(d);
});

Deno.test("inlineCallbacks keeps going after a cancel when the generator yields again", () => {
  const next = new Deferred<string>();
  const run = inlineCallbacks(function* () {
    try {
      yield new Deferred<string>();
    } catch {
      return (yield next) as string;
    }
  });
  const d = run();
  d.cancel();
  const seen = outcomeOf(d);
  assert.equal(seen.fired, false);
  next.callback("second try");
  assert.equal(seen.value, "second try");
});

// --- lock, semaphore, queue --------------------------------------------------------------

Deno.test("DeferredLock hands the lock to waiters in order", () => {
  const lock = new DeferredLock();
  const order: string[] = [];
  lock.acquire().addCallback(() => order.push("first"));
  lock.acquire().addCallback(() => order.push("second"));
  lock.acquire().addCallback(() => order.push("third"));
  assert.deepEqual(order, ["first"]);
  lock.release();
  lock.release();
  assert.deepEqual(order, ["first", "second", "third"]);
  lock.release();
  assert.equal(lock.locked, false);
  assert.throws(() => lock.release(), Error);
});

Deno.test("DeferredLock.acquire cancelled while waiting gives up its place", () => {
  const lock = new DeferredLock();
  lock.acquire();
  const waiting = lock.acquire();
  const seen = outcomeOf(waiting);
  waiting.cancel();
  assert.ok(seen.failure?.check(CancelledError));
  lock.release();
  assert.equal(lock.locked, false);
  swallow(waiting);
});

Deno.test("DeferredLock.run releases the lock after success and failure", async () => {
  const lock = new DeferredLock();
  assert.equal(await lock.run((x: number) => x + 1, 1), 2);
  assert.equal(lock.locked, false);
  const failed = lock.run(() => {
    throw new Error("in run");
  });
  await assert.rejects(() => failed.asPromise(), /in run/);
  assert.equal(lock.locked, false);
  const inner = new Deferred<string>();
  const running = lock.run(() => inner);
  assert.equal(lock.locked, true);
  inner.callback("x");
  assert.equal(await running, "x");
  assert.equal(lock.locked, false);
});

Deno.test("DeferredSemaphore admits at most its limit", () => {
  assert.throws(() => new DeferredSemaphore(0), RangeError);
  const semaphore = new DeferredSemaphore(2);
  const acquired: number[] = [];
  for (let i = 0; i < 4; i++) semaphore.acquire().addCallback(() => acquired.push(i));
  assert.deepEqual(acquired, [0, 1]);
  assert.equal(semaphore.tokens, 0);
  const cancelled = semaphore.acquire();
  cancelled.cancel();
  swallow(cancelled);
  semaphore.release();
  assert.deepEqual(acquired, [0, 1, 2]);
  semaphore.release();
  semaphore.release();
  semaphore.release();
  assert.deepEqual(acquired, [0, 1, 2, 3]);
  assert.equal(semaphore.tokens, 2);
  assert.throws(() => semaphore.release(), Error);
});

Deno.test("DeferredSemaphore.run runs at most limit calls at once and never calls a cancelled one", () => {
  const semaphore = new DeferredSemaphore(2);
  const calls: number[] = [];
  const holds: Deferred<string>[] = [];
  const work = (i: number) => {
    calls.push(i);
    const hold = new Deferred<string>();
    holds.push(hold);
    return hold;
  };
  const runs = [0, 1, 2].map((i) => semaphore.run(work, i));
  assert.deepEqual(calls, [0, 1]);
  assert.equal(semaphore.tokens, 0);
  assert.equal(semaphore.limit, 2);
  const cancelled = outcomeOf(runs[2]);
  runs[2].cancel();
  assert.ok(cancelled.failure?.check(CancelledError));
  swallow(runs[2]);
  holds[0].callback("first");
  assert.equal(outcomeOf(runs[0]).value, "first");
  assert.deepEqual(calls, [0, 1], "the cancelled run is not called");
  assert.equal(semaphore.tokens, 1);
  holds[1].callback("second");
  assert.equal(semaphore.tokens, 2);
});

Deno.test("DeferredQueue gives items to gets in order, waiting or not", () => {
  const queue = new DeferredQueue<string>();
  const first = outcomeOf(queue.get());
  queue.put("a");
  queue.put("b");
  assert.equal(first.value, "a");
  assert.deepEqual(queue.pending, ["b"]);
  assert.equal(outcomeOf(queue.get()).value, "b");
});

Deno.test("DeferredQueue.put beyond size throws QueueOverflow, get beyond backlog QueueUnderflow", () => {
  const queue = new DeferredQueue<string>(1, 1);
  queue.put("a");
  assert.throws(() => queue.put("b"), (e: unknown) => {
    assert.ok(e instanceof QueueOverflow);
    assert.match(e.message, /"b"/);
    return true;
  });
  queue.get();
  queue.get();
  assert.throws(() => queue.get(), QueueUnderflow);
  assert.throws(() => new DeferredQueue(-1), RangeError);
});

Deno.test("DeferredQueue of size 0 holds nothing, and of backlog 0 lets no get wait", () => {
  const unheld = new DeferredQueue<number>(0);
  assert.throws(() => unheld.put(1), QueueOverflow);
  const waiting = outcomeOf(unheld.get());
  unheld.put(2); // a waiting get takes it, so the size does not matter
  assert.equal(waiting.value, 2);
  const impatient = new DeferredQueue<number>(Infinity, 0);
  assert.throws(() => impatient.get(), QueueUnderflow);
  impatient.put(3);
  assert.equal(outcomeOf(impatient.get()).value, 3);
});

Deno.test("DeferredQueue.get cancelled while waiting is removed from the line", () => {
  const queue = new DeferredQueue<string>();
  const cancelled = queue.get();
  const kept = outcomeOf(queue.get());
  cancelled.cancel();
  swallow(cancelled);
  assert.equal(queue.waiting, 1);
  queue.put("x");
  assert.equal(kept.value, "x");
});

// --- Failure ---------------------------------------------------------------------------

Deno.test("Failure.check returns the first matching type in the order given, or null", () => {
  const failure = new Failure(new RangeError("r"));
  assert.equal(failure.check(Error, RangeError), Error);
  assert.equal(failure.check(TypeError, RangeError), RangeError);
  assert.equal(failure.check(TypeError), null);
  assert.equal(new Failure("a string").check(Error), null);
});

Deno.test("Failure.trap and raiseException throw the original error object", () => {
  const error = new RangeError("r");
  const failure = new Failure(error);
  assert.equal(failure.trap(TypeError, RangeError), RangeError);
  assert.throws(() => failure.trap(TypeError), (e: unknown) => e === error);
  assert.throws(() => failure.raiseException(), (e: unknown) => e === error);
  // In an errback, a trap that misses passes the same error on down the chain.
  const d = fail<string>(error);
  d.addErrback((f) => f.trap(TypeError));
  assert.equal(outcomeOf(d).failure?.value, error);
  swallow(d);
});

Deno.test("Failure.getErrorMessage gives an error's message, or the value as a string", () => {
  assert.equal(new Failure(new Error("boom")).getErrorMessage(), "boom");
  assert.equal(new Failure(new Error()).getErrorMessage(), "");
  assert.equal(new Failure(42).getErrorMessage(), "42");
  assert.equal(new Failure(new Failure(new Error("inner"))).getErrorMessage(), "inner");
});

Deno.test("Failure describes values that cannot be turned into strings, without throwing", () => {
  const bare = new Failure(Object.create(null));
  assert.equal(bare.getErrorMessage(), "<unprintable object>");
  assert.equal(String(bare), "[Failure object: <unprintable object>]");
  assert.equal(bare.getTraceback(), "object: <unprintable object>");
  const error = new RangeError("x");
  Object.defineProperty(error, "message", {
    get() {
      throw new Error("no message today");
    },
  });
  assert.equal(String(new Failure(error)), "[Failure RangeError: <unprintable RangeError>]");
  assert.match(new Failure(error).getTraceback(), /^RangeError: <unprintable RangeError>/);
});

Deno.test("Failure names an error by its class when its name is only the inherited Error", () => {
  class PoemNotFound extends Error {}
  const failure = new Failure(new PoemNotFound("no such poem"));
  assert.equal(String(failure), "[Failure PoemNotFound: no such poem]");
  assert.match(failure.getTraceback(), /^PoemNotFound: no such poem\n\s+at /);
  class Named extends Error {
    override name = "NamedError";
  }
  assert.equal(String(new Failure(new Named("x"))), "[Failure NamedError: x]");
  assert.equal(String(new Failure(new Error("plain"))), "[Failure Error: plain]");
});

Deno.test("Failure.getTraceback shows the cause chain, bounded and without repeats", () => {
  const root = new SyntaxError("Unexpected token");
  const wrapped = new Error("cannot load configuration module app.ts", { cause: root });
  const text = new Failure(wrapped).getTraceback();
  assert.match(text, /^Error: cannot load configuration module app\.ts\n\s+at /);
  const at = text.indexOf("\nCaused by: SyntaxError: Unexpected token\n");
  assert.ok(at > 0, text);
  assert.match(text.slice(at), /defer_test\.ts/, "the cause's own stack, where it was made");
  // A cycle ends; a value that is not an error is shown too; a throwing getter is skipped.
  const a = new Error("a");
  const b = new Error("b", { cause: a });
  a.cause = b;
  const lines = (f: Failure) =>
    f.getTraceback().split("\n").filter((line) => !/^\s+at /.test(line));
  assert.deepEqual(lines(new Failure(a)), ["Error: a", "Caused by: Error: b"]);
  assert.deepEqual(lines(new Failure(new Error("x", { cause: 42 }))), [
    "Error: x",
    "Caused by: number: 42",
  ]);
  const trap = new Error("y");
  Object.defineProperty(trap, "cause", {
    get() {
      throw new Error("no");
    },
  });
  assert.deepEqual(lines(new Failure(trap)), ["Error: y"]);
  let deep: Error = new Error("0");
  for (let i = 1; i <= 50; i++) deep = new Error(String(i), { cause: deep });
  assert.equal(lines(new Failure(deep)).length, 11, "the error and ten causes");
});

// --- unhandled errors --------------------------------------------------------------------

Deno.test("reportUnhandledErrors logs each failure a live Deferred holds unhandled", () => {
  flushUnhandled();
  const d = fail(new Error("nobody listens"));
  let count = 0;
  const events = captureLog(() => void (count = reportUnhandledErrors()));
  assert.equal(count, 1);
  assert.equal(events.length, 1);
  assert.equal(events[0].why, "Unhandled error in Deferred:");
  assert.equal(events[0].failure?.getErrorMessage(), "nobody listens");
  assert.match(events[0].failure!.getTraceback(), /nobody listens/);
  // Reported once only.
  assert.equal(captureLog(() => void (count = reportUnhandledErrors())).length, 0);
  assert.equal(count, 0);
  swallow(d);
});

Deno.test("reportUnhandledErrors skips failures handled later by an errback or an await", async () => {
  flushUnhandled();
  const handledLater = fail(new Error("a"));
  handledLater.addErrback(() => "fine");
  const awaited = fail(new Error("b"));
  await assert.rejects(() => awaited.asPromise());
  const passedOn = fail(new Error("c")).addCallback(() => "skipped");
  let count = 0;
  const events = captureLog(() => void (count = reportUnhandledErrors()));
  assert.equal(count, 1);
  assert.equal(events[0].failure?.getErrorMessage(), "c");
  swallow(passedOn);
});

Deno.test("reportUnhandledErrors counts a failure raised after an await", async () => {
  flushUnhandled();
  const d = succeed(1);
  await d;
  d.addCallback(() => {
    throw new Error("after await");
  });
  let count = 0;
  captureLog(() => void (count = reportUnhandledErrors()));
  assert.equal(count, 1);
  swallow(d);
});

/** Runs a fixture of tests/fixtures/defer with Deno; returns its exit code and output. */
async function runFixture(
  name: string,
  args: string[],
  flags: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = new URL(`./fixtures/defer/${name}`, import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-check", ...flags, script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

Deno.test("Deferred whose callback threw is reported when garbage collected", async () => {
  // Deno's errors keep the receivers of their frames, the Deferred among them: holding the
  // failure for the report kept every such Deferred alive and unreported.
  const { code, stdout } = await runFixture("unhandled_gc.ts", ["50"], ["--v8-flags=--expose-gc"]);
  assert.equal(code, 0);
  const result = JSON.parse(stdout);
  assert.equal(result.reports, 50);
  assert.equal(result.why, "Unhandled error in Deferred:");
  assert.ok(result.isPoemError, "the report's failure checks as the error's class");
  assert.match(
    result.traceback,
    /^Unhandled error in Deferred:\nPoemError: bad request \d+\n\s+at /,
  );
  assert.match(result.traceback, /\nCaused by: RangeError: too long\n/);
});

Deno.test("Deferred failures left unhandled are reported when the program ends", async () => {
  for (const args of [[], ["exit"]]) {
    const { code, stdout, stderr } = await runFixture("unhandled_exit.ts", args);
    assert.equal(code, 0);
    assert.equal(stdout, "done\n");
    assert.match(stderr, /^Unhandled error in Deferred:\nError: nobody handled this\n\s+at /);
  }
});

Deno.test("reportUnhandledErrors reports the failure itself while it is alive, after the turn", async () => {
  flushUnhandled();
  const error = new RangeError("kept");
  const d = fail(error);
  await Promise.resolve(); // the turn ends: the holder lets go of the failure
  const events = captureLog(() => void reportUnhandledErrors());
  assert.equal(events.length, 1);
  assert.equal(events[0].failure?.value, error);
  swallow(d);
});

Deno.test("reportUnhandledErrors does not count a failure handed to a waiting Deferred", () => {
  flushUnhandled();
  const inner = new Deferred<string>();
  const outer = succeed(0).addCallback(() => inner).addErrback(() => "handled by outer");
  inner.errback(new Error("inner"));
  let count = 0;
  captureLog(() => void (count = reportUnhandledErrors()));
  assert.equal(count, 0);
  assert.equal(outcomeOf(outer).value, "handled by outer");
});

// --- debugging ---------------------------------------------------------------------------

Deno.test("setDebugging makes AlreadyCalledError show where it was created and first fired", () => {
  assert.equal(getDebugging(), false);
  setDebugging(true);
  try {
    assert.equal(getDebugging(), true);
    const d = new Deferred<number>();
    d.callback(1);
    assert.throws(() => d.callback(2), (e: unknown) => {
      assert.ok(e instanceof AlreadyCalledError);
      assert.match(e.message, /was created at:\n.*defer_test\.ts/);
      assert.match(e.message, /was first fired at:\n.*defer_test\.ts/);
      return true;
    });
  } finally {
    setDebugging(false);
  }
  const quiet = new Deferred<number>();
  quiet.callback(1);
  assert.throws(() => quiet.callback(2), (e: unknown) => !(e as Error).message.includes("created"));
});

// --- errors ------------------------------------------------------------------------------

Deno.test("Deferred's errors have names and say what went wrong", () => {
  assert.equal(new CancelledError().name, "CancelledError");
  assert.equal(new TimeoutError().message, "Deferred timed out");
  assert.equal(new TimeoutError(1).message, "Deferred timed out after 1 second");
  const connect = new TimeoutError(30, "connection to 127.0.0.1:10000");
  assert.equal(connect.message, "connection to 127.0.0.1:10000 timed out after 30 seconds");
  assert.equal(connect.seconds, 30);
  assert.equal(connect.name, "TimeoutError");
  assert.equal(new QueueUnderflow().name, "QueueUnderflow");
});

Deno.test("Deferred shows its state in String() and console.log", () => {
  assert.equal(String(succeed(3)), "Deferred (fired: 3)");
  assert.equal(String(new Deferred()), "Deferred (waiting)");
  // console.log shows the same, and the result inside, rather than `Deferred {}`.
  assert.equal(Deno.inspect(succeed({ poem: "tide" })), 'Deferred (fired: { poem: "tide" })');
  assert.equal(Deno.inspect([new Deferred()]), "[ Deferred (waiting) ]");
});

Deno.test("Deferred runs the rest of its chain after a callback pauses it", () => {
  // Twisted checks `paused` only between Deferreds of a chain, not between callbacks: the
  // callbacks already added still run; those added later wait for unpause().
  const seen: string[] = [];
  const d = new Deferred<number>();
  d.addCallback((n) => {
    seen.push(`a ${n}`);
    d.pause();
    return n + 1;
  });
  d.addCallback((n) => {
    seen.push(`b ${n}`);
    return n + 1;
  });
  d.callback(1);
  assert.deepEqual(seen, ["a 1", "b 2"]);
  assert.equal(d.paused, 1);
  d.addCallback((n) => {
    seen.push(`c ${n}`);
    return n;
  });
  assert.deepEqual(seen, ["a 1", "b 2"]);
  d.unpause();
  assert.deepEqual(seen, ["a 1", "b 2", "c 3"]);
});

Deno.test("Deferred runs Deferreds queued past the depth limit before the outermost callback() returns", () => {
  const n = 150; // deeper than the runner nests before it queues
  const ds = Array.from({ length: n }, () => new Deferred<number>());
  const order: string[] = [];
  ds.forEach((d, i) =>
    d.addCallback((v) => {
      order.push(`enter ${i}`);
      if (i + 1 < n) ds[i + 1].callback(v + 1);
      order.push(`leave ${i}`);
      return v;
    })
  );
  ds[0].callback(0);
  const results: number[] = [];
  for (const d of ds) d.addCallback((v) => void results.push(v));
  assert.deepEqual(results, Array.from({ length: n }, (_, i) => i));
  assert.equal(order.filter((e) => e.startsWith("enter")).length, n);
  // Shallow firings nest as in Twisted: the next Deferred's callbacks run inside this one's.
  assert.ok(order.indexOf("enter 1") < order.indexOf("leave 0"));
});
