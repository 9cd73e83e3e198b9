import assert from "node:assert/strict";
import { parseChain, renderChain, simulate } from "../examples/deferred/simulator.ts";

const CHAIN = `
# fire with a result; the second stage fails, the third recovers
callback poem
r verse f oops
f bad p
p r fixed
`;

Deno.test("simulator parseChain reads the firing line and one stage a line", () => {
  assert.deepEqual(parseChain(CHAIN), {
    fire: { kind: "callback", value: "poem" },
    stages: [
      [{ kind: "return", value: "verse" }, { kind: "fail", message: "oops" }],
      [{ kind: "fail", message: "bad" }, { kind: "pass" }],
      [{ kind: "pass" }, { kind: "return", value: "fixed" }],
    ],
  });
});

Deno.test("simulator parseChain names the line at fault", () => {
  assert.throws(() => parseChain("fire x"), /line 1: expected `callback VALUE`/);
  assert.throws(() => parseChain("callback x\nr"), /line 2: expected `r VALUE`/);
  assert.throws(() => parseChain("callback x\np p p"), /line 2: unexpected `p`/);
  assert.throws(() => parseChain(""), SyntaxError);
});

Deno.test("simulator simulate follows Twisted's routing through a real Deferred", () => {
  const { runs, result } = simulate(parseChain(CHAIN));
  assert.deepEqual(runs.map((r) => r.side), ["callback", "callback", "errback"]);
  assert.deepEqual(runs[1].output, { failed: true, text: "Failure(bad)" });
  assert.deepEqual(result, { failed: false, text: "fixed" });
});

Deno.test("simulator renderChain draws which side ran at each stage", () => {
  const expected = [
    "  callback(poem)",
    "   |",
    "   |",
    "   v",
    "  [*] return verse             [ ] fail oops",
    "      poem -> verse",
    "   |",
    "   |",
    "   v",
    "  [*] fail bad                 [ ] pass",
    "      verse -> Failure(bad)",
    "   |",
    "   +----------------------------+",
    "                                v",
    "  [ ] pass                     [*] return fixed",
    "                                   Failure(bad) -> fixed",
    "                                |",
    "   +----------------------------+",
    "   v",
    "  result: fixed",
    "",
  ].join("\n");
  assert.equal(renderChain(parseChain(CHAIN)), expected);
});

Deno.test("simulator renderChain marks a failure left at the end as unhandled", () => {
  const text = renderChain(parseChain("errback boom\np p"));
  assert.match(text, /errback\(boom\)/);
  assert.match(text, /Failure\(boom\) \(unhandled\)\n$/);
});
