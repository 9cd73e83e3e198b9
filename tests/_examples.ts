/**
 * Test helper for the examples that retell the tutorial's short programs: runs
 * `examples/<dir>/<name>.ts` as its first line (`// deno run [flags] <path>`) says, with only
 * the permissions that line gives, and checks what it printed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ProgramOutput, runToEnd } from "./_server_program.ts";

const ROOT = new URL("../", import.meta.url);

/** How long any one example may take before it is killed and its test fails. */
export const LIMIT_MS = 20_000;

/** What an example must print. */
export interface Expected {
  /** Everything the program writes to stdout. */
  stdout: string;
  /** A line or lines that stderr holds in a row; stderr is empty when neither is given. */
  stderr?: string;
  /** Text that stderr holds, each somewhere, for output (a stack) whose lines vary. */
  stderrIncludes?: string[];
  /** @default {0} */
  code?: number;
}

/** How an example ended. */
export type Outcome = ProgramOutput;

/** The lines, each ended by a newline. */
export const lines = (...text: string[]): string => text.map((line) => `${line}\n`).join("");

/** The examples in `examples/<dir>/`, by name, but for `_` modules and those in `except`. */
export function exampleNames(dir: string, except: string[] = []): string[] {
  return [...Deno.readDirSync(new URL(`examples/${dir}/`, ROOT))]
    .map((entry) => entry.name)
    .filter((file) => file.endsWith(".ts") && !file.startsWith("_") && !except.includes(file))
    .map((file) => file.slice(0, -".ts".length));
}

/**
 * Runs `examples/<dir>/<name>.ts` as its first line (`// deno run [flags] <path>`) says,
 * killing it after {@linkcode LIMIT_MS}.
 */
export async function runExample(dir: string, name: string): Promise<Outcome> {
  const path = `examples/${dir}/${name}.ts`;
  const first = Deno.readTextFileSync(new URL(path, ROOT)).split("\n")[0];
  const words = first.split(/\s+/);
  assert.deepEqual(words.slice(0, 3), ["//", "deno", "run"], `${path}: first line ${first}`);
  assert.equal(words.at(-1), path, `${path}: its first line runs another file: ${first}`);
  const flags = words.slice(3, -1);
  assert.ok(flags.every((flag) => flag.startsWith("--")), `${path}: ${first}`);

  const out = await runToEnd(new URL(path, ROOT), flags, [], {
    env: { NO_COLOR: "1" },
    limitMs: LIMIT_MS,
  });
  assert.ok(!out.timedOut, `${path} still ran after ${LIMIT_MS / 1000} s`);
  return out;
}

/** Asserts that `examples/<dir>/<name>.ts` printed what `expected` says and exited with its code. */
export function check(dir: string, name: string, expected: Expected, outcome: Outcome): void {
  const path = `examples/${dir}/${name}.ts`;
  assert.equal(outcome.stdout, expected.stdout, `${path}: stdout`);
  if (expected.stderrIncludes !== undefined) {
    for (const text of expected.stderrIncludes) {
      assert.ok(
        outcome.stderr.includes(text),
        `${path}: stderr lacks ${JSON.stringify(text)}:\n${outcome.stderr}`,
      );
    }
  }
  if (expected.stderr === undefined) {
    if (expected.stderrIncludes === undefined) assert.equal(outcome.stderr, "", `${path}: stderr`);
  } else {
    assert.ok(
      `\n${outcome.stderr}`.includes(`\n${expected.stderr}\n`),
      `${path}: stderr lacks ${JSON.stringify(expected.stderr)}:\n${outcome.stderr}`,
    );
  }
  assert.equal(outcome.code, expected.code ?? 0, `${path}: exit code\n${outcome.stderr}`);
}
