// The tutorial's Deferred programs, retold in examples/deferred: each runs as its first line
// says, with only the permissions that line gives, and prints what the Python program prints
// (in JavaScript's notation for data and failures). The interactive simulator has its own test.

import assert from "node:assert/strict";
import {
  check as checkIn,
  exampleNames,
  type Expected,
  lines,
  type Outcome,
  runExample as runIn,
} from "./_examples.ts";

/** The examples that take seconds of real time (the reactor's clock, or a sleep), side by side. */
const TIMED = [
  "countdown",
  "defer_block",
  "defer_cancel_9",
  "defer_cancel_10",
  "defer_cancel_11",
  "inline_callbacks_1",
  "inline_callbacks_2",
];

/** Deno's report of the error thrown at the top level by a second callback or errback. */
const alreadyCalled = (what: string): string =>
  `error: Uncaught (in promise) AlreadyCalledError: Deferred has already been fired; cannot fire it again ${what}`;

/** What the project's log writes for a failure left at the end of a Deferred's chain. */
const unhandled = (error: string): string => `Unhandled error in Deferred:\n${error}`;

const EXPECTED: Record<string, Expected> = {
  countdown: {
    stdout: lines("Start!", "5 ...", "4 ...", "3 ...", "2 ...", "1 ...", "Stop!"),
  },
  defer_1: {
    stdout: lines("Your poem is served:", "This poem is short.", "Finished"),
  },
  defer_2: {
    stdout: lines("No poetry for you.", "Finished"),
  },
  defer_3: {
    stdout: lines("Failure", "[Failure Error: I have failed.]", "No poetry for you."),
  },
  defer_4: {
    stdout: lines("First result"),
    stderr: alreadyCalled('with "Second result"'),
    code: 1,
  },
  defer_5: {
    stdout: lines("First result"),
    stderr: alreadyCalled("with failure [Failure Error: First error]"),
    code: 1,
  },
  defer_6: {
    stdout: lines("[Failure Error: First error]"),
    stderr: alreadyCalled("with failure [Failure Error: Second error]"),
    code: 1,
  },
  defer_7: {
    stdout: lines("[Failure Error: First error]"),
    stderr: alreadyCalled('with "First result"'),
    code: 1,
  },
  defer_8: {
    stdout: lines("Another short poem."),
  },
  defer_9: {
    stdout: lines("Another short poem."),
  },
  defer_10: {
    stdout: lines(
      "",
      "A callback may return a Deferred of its own; the chain",
      "then waits for it.",
      "",
      "",
      "First, three callbacks that print what they get and return",
      "plain values, fired at once:",
      "",
      "callback_1 got 0",
      "callback_2 got 1",
      "callback_3 got 2",
      "",
      "Now the same, except that the middle callback returns a Deferred:",
      "",
      "callback_1 got 0",
      "callback_2 got 1",
      "",
      "The third callback has not run: the second returned a Deferred, so the",
      "outer Deferred is paused. Nothing is blocked or waiting in a thread; the",
      "outer Deferred has added a callback to the inner one that will start it",
      "again when the inner one fires.",
      "",
      "Let's fire the inner Deferred:",
      "",
      "callback_3 got 2",
      "",
      "The inner Deferred's result became the argument of the outer",
      "Deferred's next callback.",
      "",
    ),
  },
  defer_11: {
    stdout: lines(
      "A Deferred may fire before it has callbacks.",
      "We fire one with no callbacks, then add three.",
      "",
      "Firing empty deferred.",
      "Adding first callback.",
      "callback_1 got 0",
      "Adding second callback.",
      "callback_2 got 1",
      "Adding third callback.",
      "callback_3 got 2",
      "",
      "Each callback ran the moment it was added, since",
      "the result was already there.",
      "",
      "Next: pause a Deferred, fire it, add callbacks,",
      "and only then unpause it.",
      "",
      "Pausing, then firing deferred.",
      "Adding callbacks.",
      "Unpausing the deferred.",
      "callback_1 got 0",
      "callback_2 got 1",
      "callback_3 got 2",
    ),
  },
  defer_block: {
    stdout: lines(
      "Starting reactor.",
      "Firing deferred.",
      "The start of the callback chain.",
      "",
      "I sleep",
      "  inside the chain",
      "and no one else",
      "  can run;",
      "the reactor",
      "  waits with me",
      "until",
      "  my work is done",
      "",
      "The end of the callback chain.",
      "Firing finished.",
      "Done.",
    ),
  },
  defer_cancel_1: {
    stdout: lines("done"),
    stderr: unhandled("CancelledError: Deferred was cancelled"),
  },
  defer_cancel_2: {
    stdout: lines("errback got: [Failure CancelledError: Deferred was cancelled]", "done"),
  },
  defer_cancel_3: {
    stdout: lines("callback got: result", "done"),
  },
  defer_cancel_4: {
    stdout: lines("errback got: [Failure CancelledError: Deferred was cancelled]", "done"),
  },
  defer_cancel_5: {
    stdout: lines(
      "I need to cancel this deferred: Deferred (waiting)",
      "errback got: [Failure CancelledError: Deferred was cancelled]",
      "done",
    ),
  },
  defer_cancel_6: {
    stdout: lines(
      "I need to cancel this deferred: Deferred (waiting)",
      "Firing the deferred with a result",
      "callback got: result",
      "done",
    ),
  },
  defer_cancel_7: {
    stdout: lines(
      "I need to cancel this deferred: Deferred (waiting)",
      "Firing the deferred with an error",
      "errback got: [Failure Error: error!]",
      "done",
    ),
  },
  defer_cancel_8: {
    stdout: lines("callback got: result", "done"),
  },
  defer_cancel_9: {
    stdout: lines("Sending poem", "I got a poem: Once upon a midnight dreary"),
  },
  defer_cancel_10: {
    stdout: lines(
      "get_poem failed: [Failure CancelledError: Deferred was cancelled]",
      "Sending poem",
    ),
  },
  defer_cancel_11: {
    stdout: lines("get_poem failed: [Failure CancelledError: Deferred was cancelled]"),
  },
  defer_cancel_12: {
    stdout: lines(
      "first outer callback, returning inner deferred",
      "canceling outer deferred.",
      "inner cancel callback.",
      "outer errback got: [Failure CancelledError: Deferred was cancelled]",
      "done",
    ),
  },
  defer_unhandled: {
    stdout: lines("Finished"),
    stderr: unhandled("Error: oops"),
  },
  deferred_list_1: {
    stdout: lines("Empty List.", "Adding Callback.", "We got: []"),
  },
  deferred_list_2: {
    stdout: lines(
      "One Deferred.",
      "Adding Callback.",
      "Firing d1.",
      'We got: [ [ true, "d1 result" ] ]',
    ),
  },
  deferred_list_3: {
    stdout: lines(
      "Two Deferreds.",
      "Adding Callback.",
      "Firing d1.",
      "Firing d2.",
      'We got: [ [ true, "d1 result" ], [ true, "d2 result" ] ]',
    ),
  },
  deferred_list_4: {
    stdout: lines(
      "Two Deferreds.",
      "Adding Callback.",
      "Firing d2.",
      "Firing d1.",
      'We got: [ [ true, "d1 result" ], [ true, "d2 result" ] ]',
    ),
  },
  deferred_list_5: {
    stdout: lines(
      "Firing d1.",
      "Firing d2 with errback.",
      'We got: [ [ true, "d1 result" ], [ false, "[Failure Error: d2 failure]" ] ]',
    ),
  },
  deferred_list_6: {
    stdout: lines(
      "Firing d1.",
      "Firing d2 with errback.",
      'We got: [ [ true, "d1 result" ], [ false, "[Failure Error: d2 failure]" ] ]',
    ),
    stderr: unhandled("Error: d2 failure"),
  },
  deferred_list_7: {
    stdout: lines(
      "Firing d1.",
      "Firing d2 with errback.",
      'We got: [ [ true, "d1 result" ], [ false, "[Failure Error: d2 failure]" ] ]',
    ),
  },
  gen_1: {
    stdout: lines("starting up", "1", "workin'", "2", "still workin'", "3", "done"),
  },
  gen_2: {
    stdout: lines("starting up", "1", "workin'", "2", "still workin'", "3", "done"),
  },
  gen_3: {
    stdout: lines("1", "10", "2", "20", "3", "30", "40"),
  },
  gen_4: {
    stdout: lines("starting up", "1", "got: 10", "2", "got: 20", "3", "malfunction!", "4", "done"),
  },
  inline_callbacks_1: {
    stdout: lines(
      "first callback",
      "second callback got 1",
      "third callback got 2",
      "fourth callback got Error: 3",
    ),
  },
  inline_callbacks_2: {
    stdout: lines(
      "my_callbacks_1 first callback",
      "my_callbacks_err first callback",
      "my_callbacks_1 second callback",
      "my_callbacks_err second callback",
      "my_callbacks_1 third callback",
      "got result: 1",
      "my_callbacks_err third callback",
      "got error: [Failure Error: uh oh]",
      "all done",
    ),
  },
  inline_callbacks_tb: {
    stdout: "",
    // The generator, resumed by inlineCallbacks, called when the reactor starts running.
    stderrIncludes: [
      "Trace\n",
      "myCallbacks",
      "/examples/deferred/inline_callbacks_tb.ts:",
      "/defer.ts:",
      "/reactor.ts:",
    ],
  },
};

/** The tutorial program an example retells: `defer_cancel_9` → `defer-cancel-9.py`. */
const tutorialName = (name: string): string => `${name.replaceAll("_", "-")}.py`;

/** Runs `examples/deferred/<name>.ts` as its first line says. */
const runExample = (name: string): Promise<Outcome> => runIn("deferred", name);

/** Asserts that the example printed what {@linkcode EXPECTED} says. */
const check = (name: string, outcome: Outcome): void =>
  checkIn("deferred", name, EXPECTED[name], outcome);

Deno.test("examples/deferred: every program but the simulator has its expected output here", () => {
  const names = exampleNames("deferred", ["simulator.ts"]);
  assert.deepEqual(names.sort(), Object.keys(EXPECTED).sort());
});

for (const name of Object.keys(EXPECTED)) {
  if (TIMED.includes(name)) continue;
  Deno.test(`examples/deferred/${name}.ts prints what the tutorial's ${tutorialName(name)} does`, async () => {
    check(name, await runExample(name));
  });
}

Deno.test(
  "examples/deferred that take seconds (the reactor's clock, or a blocking callback) print what the tutorial's do",
  async () => {
    // Each takes 1 to 10 seconds of real time; running them together keeps this to about 10.
    const settled = await Promise.allSettled(TIMED.map((name) => runExample(name)));
    settled.forEach((outcome, i) => {
      if (outcome.status === "rejected") throw outcome.reason;
      check(TIMED[i], outcome.value);
    });
  },
);
