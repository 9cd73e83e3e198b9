// deno run --allow-read examples/deferred/simulator.ts [chain.txt]
//
// A Deferred simulator: reads a chain description (from the file given, or stdin), runs it
// through a real Deferred, and draws which callback or errback ran at each stage, with what
// it got and what it passed on.
//
// The description: the first line fires the Deferred, `callback VALUE` or `errback MESSAGE`;
// every further line is a stage, `CALLBACK ERRBACK`, each side one of
//   r VALUE    return VALUE
//   f MESSAGE  fail with MESSAGE (throw an Error)
//   p          pass the result or failure through
// Values and messages are single words. Blank lines and lines starting with # are skipped.
//
//   $ printf 'callback poem\nr verse f oops\nf bad p\np r fixed\n' | deno run examples/deferred/simulator.ts
import { Deferred } from "../../defer.ts";
import { Failure } from "../../failure.ts";

/** What one side of a stage does. */
export type Action =
  | { kind: "return"; value: string }
  | { kind: "fail"; message: string }
  | { kind: "pass" };

/** A parsed chain: how the Deferred is fired, and its stages as [callback, errback]. */
export interface Chain {
  fire: { kind: "callback"; value: string } | { kind: "errback"; message: string };
  stages: [callback: Action, errback: Action][];
}

/** A result or a failure, as the simulator shows it. */
export interface Outcome {
  failed: boolean;
  text: string;
}

/** What happened at one stage. */
export interface StageRun {
  side: "callback" | "errback";
  input: Outcome;
  output: Outcome;
}

/** Parses a chain description. @throws {SyntaxError} naming the line at fault. */
export function parseChain(text: string): Chain {
  const lines = text.split("\n").map((line, i) => ({ words: line.trim().split(/\s+/), n: i + 1 }))
    .filter(({ words }) => words[0] !== "" && !words[0].startsWith("#"));
  if (lines.length === 0) throw new SyntaxError("empty chain: expected `callback VALUE`");
  const [first, ...rest] = lines;
  const [how, arg, extra] = first.words;
  if ((how !== "callback" && how !== "errback") || arg === undefined || extra !== undefined) {
    throw new SyntaxError(
      `line ${first.n}: expected \`callback VALUE\` or \`errback MESSAGE\`, not ` +
        `\`${first.words.join(" ")}\``,
    );
  }
  const fire: Chain["fire"] = how === "callback"
    ? { kind: "callback", value: arg }
    : { kind: "errback", message: arg };
  const stages = rest.map(({ words, n }) => {
    let at = 0;
    const side = (): Action => {
      const word = words[at++];
      if (word === "p") return { kind: "pass" };
      const operand = words[at++];
      if ((word === "r" || word === "f") && operand !== undefined) {
        return word === "r" ? { kind: "return", value: operand } : {
          kind: "fail",
          message: operand,
        };
      }
      throw new SyntaxError(
        `line ${n}: expected \`r VALUE\`, \`f MESSAGE\` or \`p\` for each side, not ` +
          `\`${words.join(" ")}\``,
      );
    };
    const stage: [Action, Action] = [side(), side()];
    if (at !== words.length) {
      throw new SyntaxError(`line ${n}: unexpected \`${words.slice(at).join(" ")}\``);
    }
    return stage;
  });
  return { fire, stages };
}

function outcome(value: unknown): Outcome {
  return value instanceof Failure
    ? { failed: true, text: `Failure(${value.getErrorMessage()})` }
    : { failed: false, text: String(value) };
}

function perform(action: Action, input: unknown): unknown {
  if (action.kind === "return") return action.value;
  if (action.kind === "fail") throw new Error(action.message);
  return input;
}

/** Runs `chain` through a real Deferred and records each stage, and the final outcome. */
export function simulate(chain: Chain): { runs: StageRun[]; result: Outcome } {
  const runs: StageRun[] = [];
  const d = new Deferred<unknown>();
  for (const [onResult, onFailure] of chain.stages) {
    const run = (side: StageRun["side"], action: Action) => (input: unknown): unknown => {
      const record: StageRun = { side, input: outcome(input), output: outcome(undefined) };
      runs.push(record);
      try {
        const output = perform(action, input);
        record.output = outcome(output);
        return output;
      } catch (e) {
        record.output = outcome(Failure.from(e));
        throw e;
      }
    };
    d.addCallbacks(run("callback", onResult), run("errback", onFailure));
  }
  let result: Outcome = { failed: false, text: "" };
  d.addBoth((last) => void (result = outcome(last)));
  if (chain.fire.kind === "callback") d.callback(chain.fire.value);
  else d.errback(new Error(chain.fire.message));
  return { runs, result };
}

function caption(action: Action): string {
  if (action.kind === "return") return `return ${action.value}`;
  if (action.kind === "fail") return `fail ${action.message}`;
  return "pass";
}

/** Draws `chain` as text: one row a stage, the side that ran marked `[*]`. */
export function renderChain(chain: Chain): string {
  const { runs, result } = simulate(chain);
  const indent = "  ";
  const labels = chain.stages.map(([cb, eb]) => [caption(cb), caption(eb)]).flat();
  const ios = runs.map((run) => `${run.input.text} -> ${run.output.text}`);
  const width = Math.max(16, ...labels.map((l) => l.length + 4), ...ios.map((t) => t.length + 4));
  const column = { callback: indent.length + 1, errback: indent.length + width + 5 };
  const lines: string[] = [];
  const at = (x: number, text: string): string => " ".repeat(x) + text;
  const connect = (from: StageRun["side"], to: StageRun["side"]): void => {
    const a = column[from];
    const b = column[to];
    lines.push(at(a, "|"));
    if (a === b) lines.push(at(a, "|"));
    else if (a < b) lines.push(at(a, "+" + "-".repeat(b - a - 1) + "+"));
    else lines.push(at(b, "+" + "-".repeat(a - b - 1) + "+"));
    lines.push(at(b, "v"));
  };
  const fired: StageRun["side"] = chain.fire.kind;
  lines.push(
    at(
      column[fired] - 1,
      chain.fire.kind === "callback"
        ? `callback(${chain.fire.value})`
        : `errback(${chain.fire.message})`,
    ),
  );
  let from = fired;
  chain.stages.forEach(([cb, eb], i) => {
    const run = runs[i];
    connect(from, run.side);
    const mark = (side: StageRun["side"]) => (run.side === side ? "[*] " : "[ ] ");
    const left = (mark("callback") + caption(cb)).padEnd(width + 3);
    lines.push(`${indent}${left} ${mark("errback")}${caption(eb)}`.trimEnd());
    lines.push(at(column[run.side] + 3, `${run.input.text} -> ${run.output.text}`));
    from = run.side; // the arrow leaves from the box that ran
  });
  const end: StageRun["side"] = result.failed ? "errback" : "callback";
  connect(from, end);
  lines.push(
    at(column[end] - 1, result.failed ? `${result.text} (unhandled)` : `result: ${result.text}`),
  );
  return lines.join("\n") + "\n";
}

if (import.meta.main) {
  const path = Deno.args[0];
  const text = path === undefined
    ? await new Response(Deno.stdin.readable).text()
    : await Deno.readTextFile(path);
  try {
    console.log(renderChain(parseChain(text)));
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    console.error(`simulator: ${e.message}`);
    Deno.exit(2);
  }
}
