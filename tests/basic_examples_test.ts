// The tutorial's first reactor programs (basic-twisted), retold in examples/basic: each runs as
// its first line says, with only the permissions that line gives, and prints what the Python
// program prints, in its own words. Where the tutorial's run until interrupted, ours stop
// themselves. Stacks and the log's times vary from run to run: only their stable parts are
// checked.

import assert from "node:assert/strict";
import { check, exampleNames, type Expected, lines, runExample } from "./_examples.ts";

/** The examples whose output is the same on every run. */
const EXPECTED: Record<string, Expected> = {
  hello: {
    stdout: lines(
      "Starting the reactor.",
      "Hello from inside the reactor's loop!",
      "Round and round it goes, the same loop every time.",
    ),
  },
  stack: {
    stdout: lines("The JavaScript stack:"),
    // The function the reactor calls once running, down to the program's call of reactor.run().
    stderrIncludes: [
      "Trace\n",
      "at Object.stack ",
      "/examples/basic/stack.ts:",
      "/_system_events.ts:",
      "/reactor.ts:",
    ],
  },
  exception: {
    stdout: lines("Starting the reactor.", "And up I come again."),
    // What the reactor logs (to stderr, with no observer) for a callWhenRunning call that throws.
    stderr: "Error in a startup trigger (after):\nError: Down I go.",
    stderrIncludes: ["at Object.fall ", "/examples/basic/exception.ts:", "/reactor.ts:"],
  },
  simple: {
    stdout: "",
  },
};

/** The log the log example writes to stdout, with each line's time taken off. */
const LOG = lines(
  "[-] Log opened.",
  "[-] This one is written to stdout.",
  "[-] Unhandled Error",
  "\tstring: And this one is written as an error.",
  "[-] Calling shout() without a poem threw; the error and its stack:",
  "\tTypeError: Cannot read properties of undefined (reading 'toUpperCase')",
  "[-] A callback failed; the errback logs the failure:",
  "\tTypeError: poem.toUpperCase is not a function",
  "[-] That is all.",
);

/** `2026-06-23 20:57:14-0700 `: the time at the start of each event's first line. */
const TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4} /;

/**
 * A log as twistd writes it, split into its text without the times and the stack frames
 * (`\t    at ...`), whose lines vary. Every line is either an event's first line, with its time,
 * or one of the tab-indented lines that follow.
 */
function splitLog(log: string): { text: string; frames: string[] } {
  const text: string[] = [];
  const frames: string[] = [];
  for (const line of log.split("\n").slice(0, -1)) {
    if (line.startsWith("\t    at ")) frames.push(line);
    else if (line.startsWith("\t")) text.push(line);
    else {
      assert.match(line, TIME, "a log line with neither time nor indent");
      text.push(line.replace(TIME, ""));
    }
  }
  return { text: lines(...text), frames };
}

Deno.test("examples/basic: every program has its expected output here", () => {
  const names = exampleNames("basic");
  assert.deepEqual(names.sort(), [...Object.keys(EXPECTED), "log"].sort());
});

for (const [name, expected] of Object.entries(EXPECTED)) {
  Deno.test(`examples/basic/${name}.ts prints what the tutorial's ${name}.py does`, async () => {
    check("basic", name, expected, await runExample("basic", name));
  });
}

Deno.test("examples/basic/log.ts logs to stdout what the tutorial's log.py does", async () => {
  const outcome = await runExample("basic", "log");
  const { text, frames } = splitLog(outcome.stdout);
  check("basic", "log", { stdout: LOG }, { ...outcome, stdout: text });
  // The two errors' stacks: the direct call, then the callback run by Deferred.callback().
  assert.ok(frames.length >= 4, outcome.stdout);
  assert.ok(frames.every((frame) => frame.includes(".ts:")), outcome.stdout);
  assert.equal(frames.filter((frame) => frame.includes("at shout ")).length, 2, outcome.stdout);
  assert.ok(frames.some((frame) => frame.includes("/examples/basic/log.ts:")), outcome.stdout);
  assert.ok(frames.some((frame) => frame.includes("/defer.ts:")), outcome.stdout);
});
