import assert from "node:assert/strict";
import { getPoem, poems } from "../poetry/poems.ts";
import { readPoemFiles, renderBundle } from "../poetry/_bundle.ts";

const bundleFile = new URL("../poetry/poems.ts", import.meta.url);

Deno.test("poems.ts is up to date with poetry/*.txt (run poetry/_bundle.ts if this fails)", async () => {
  const files = await readPoemFiles();
  const expected = renderBundle(files);
  const actual = await Deno.readTextFile(bundleFile);
  assert.equal(
    actual,
    expected,
    "poetry/poems.ts is stale: run deno run --allow-read --allow-write poetry/_bundle.ts",
  );
});

Deno.test("poems holds each poem file byte for byte", async () => {
  const files = await readPoemFiles();
  assert.deepEqual(Object.keys(poems).sort(), files.map((f) => f.name));
  const encoder = new TextEncoder();
  for (const { name } of files) {
    const bytes = await Deno.readFile(new URL(`../poetry/${name}.txt`, import.meta.url));
    assert.deepEqual(encoder.encode(poems[name]), bytes, `${name} differs from ${name}.txt`);
  }
});

Deno.test("poems has at least four poems, one of about 3 KB for the benchmark", () => {
  const sizes = Object.values(poems).map((text) => new TextEncoder().encode(text).length);
  assert.ok(sizes.length >= 4, `only ${sizes.length} poems`);
  assert.ok(sizes.every((n) => n >= 200), `a poem is shorter than 200 bytes: ${sizes}`);
  assert.ok(sizes.some((n) => n >= 2900 && n <= 3300), `no poem of about 3 KB: ${sizes}`);
  assert.ok(poems.keeper !== undefined, "the default poem, keeper, is missing");
});

Deno.test("poems are plain text ending in a newline", () => {
  for (const [name, text] of Object.entries(poems)) {
    assert.ok(text.endsWith("\n"), `${name} does not end in a newline`);
    assert.ok(!text.includes("\r"), `${name} has a carriage return`);
    const control = [...text].find((c) => (c < " " && c !== "\n" && c !== "\t") || c === "\x7f");
    assert.equal(control, undefined, `${name} has a control character`);
  }
});

Deno.test("getPoem returns a bundled poem and undefined for other names", () => {
  assert.equal(getPoem("keeper"), poems.keeper);
  assert.equal(getPoem("no-such-poem"), undefined);
  for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty", ""]) {
    assert.equal(getPoem(name), undefined, `getPoem(${JSON.stringify(name)})`);
  }
});

Deno.test("renderBundle keeps backticks, ${ and backslashes byte for byte", async () => {
  const text = "a `tick`, a ${place} and a \\ back\\slash\r\n";
  const source = renderBundle([{ name: "odd", text }]);
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/poems.ts`;
    await Deno.writeTextFile(file, source);
    const mod = await import(new URL(`file://${file}`).href);
    assert.equal(mod.poems.odd, text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
