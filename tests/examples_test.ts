// The tutorial's programs in examples/clients, examples/servers, examples/app.ts and
// examples/plugin.ts: each type-checks, and each runs end to end as its first line says, on
// loopback port 0, with only the permissions it documents.

import assert from "node:assert/strict";
import { poems } from "../poetry/poems.ts";
import { runServerModule, runToEnd } from "./_server_program.ts";
import { closedPort, poetryServer, readAll } from "./_poetry_servers.ts";

const decoder = new TextDecoder();
const NET = ["--allow-net=127.0.0.1"];
const example = (path: string): URL => new URL(`../examples/${path}`, import.meta.url);

const EXAMPLES = [
  "clients/get_poetry_4.ts",
  "clients/get_poetry_5.ts",
  "clients/get_poetry_6.ts",
  "servers/fastpoetry_1.ts",
  "servers/fastpoetry_2.ts",
  "servers/transformedpoetry.ts",
  "servers/poetry_proxy_1.ts",
  "servers/poetry_proxy_2.ts",
  "app.ts",
  "plugin.ts",
];

/** The port a tutorial server prints: `... on port N.` */
const ON_PORT = /on port (\d+)\./;

Deno.test("every client and server example type-checks and names its deno run line first", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["check", ...EXAMPLES.map((path) => example(path).pathname)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, decoder.decode(out.stderr));
  for (const path of EXAMPLES) {
    const first = Deno.readTextFileSync(example(path)).split("\n")[0];
    assert.match(first, /^\/\/ deno run /, path);
  }
});

Deno.test("fastpoetry_1 serves a poem that get_poetry_4 prints, twice", async () => {
  const { code, log } = await runServerModule(
    "../examples/servers/fastpoetry_1.ts",
    NET,
    ["--port", "0", "--iface", "127.0.0.1", "tide"],
    async (port) => {
      const out = await runToEnd(example("clients/get_poetry_4.ts"), NET, [
        String(port),
        `127.0.0.1:${port}`,
      ]);
      assert.equal(out.stderr, "");
      assert.equal(out.code, 0);
      assert.equal(out.stdout, `${poems.tide}\n${poems.tide}\n`);
    },
    ON_PORT,
  );
  assert.equal(code, 0, log);
  assert.match(log, /^Serving tide on port \d+\.\n/);
});

Deno.test("fastpoetry_1 serves a poem file's bytes as they are, with --allow-read for it", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const file = `${dir}/ode.txt`;
    // UTF-8, then bytes that are not: both go out unchanged.
    const bytes = new Uint8Array([
      ...new TextEncoder().encode("An ode \u2014 short.\n"),
      0x63,
      0x61,
      0x66,
      0xe9,
      0x20,
      0xff,
      0xfe,
      0x0a,
    ]);
    Deno.writeFileSync(file, bytes);
    const { code } = await runServerModule(
      "../examples/servers/fastpoetry_1.ts",
      [...NET, `--allow-read=${file}`],
      ["--port", "0", "--iface", "127.0.0.1", file],
      async (port) => assert.deepEqual(await readAll(port), bytes),
      ON_PORT,
    );
    assert.equal(code, 0);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("fastpoetry_1 and the clients refuse a missing poem file or a bad address with one line", async () => {
  const missing = await runToEnd(example("servers/fastpoetry_1.ts"), [...NET, "--allow-read"], [
    "no-such-poem.txt",
  ]);
  assert.deepEqual(
    [missing.code, missing.stdout, missing.stderr],
    [2, "", "fastpoetry_1.ts: argument poem: no such file: no-such-poem.txt\n"],
  );
  const bad: [string, string[], string][] = [
    ["get_poetry_4.ts", ["10000", "abc"], 'argument addresses: "abc"'],
    ["get_poetry_6.ts", ["x", "10000"], 'argument xformAddress: "x"'],
  ];
  for (const [program, args, what] of bad) {
    const out = await runToEnd(example(`clients/${program}`), NET, args);
    assert.deepEqual(
      [out.code, out.stdout, out.stderr],
      [2, "", `${program}: ${what} is not a port number (0 to 65535)\n`],
    );
  }
});

Deno.test("get_poetry_4 reports a poem it cannot get and exits with 1", async () => {
  const closed = await closedPort();
  const out = await runToEnd(example("clients/get_poetry_4.ts"), NET, [String(closed)]);
  assert.equal(out.code, 1);
  assert.equal(out.stdout, "");
  assert.equal(out.stderr, `Poem failed: connection to 127.0.0.1:${closed} was refused\n`);
});

Deno.test("get_poetry_5 cummingsifies, or prints the poem on a bug, or fails on gibberish", async () => {
  await using server = poetryServer(poems.telegram);
  const run = (fate: string) =>
    runToEnd(example("clients/get_poetry_5.ts"), NET, ["--fate", fate, String(server.port)]);

  const success = await run("success");
  assert.equal(success.code, 0);
  assert.equal(success.stdout, poems.telegram.toLowerCase() + "\n");

  const bug = await run("bug");
  assert.equal(bug.code, 0);
  assert.equal(bug.stdout, "Cummingsify failed!\n" + poems.telegram + "\n");

  const gibberish = await run("gibberish");
  assert.equal(gibberish.code, 1);
  assert.equal(gibberish.stdout, "");
  assert.equal(gibberish.stderr, "The poem download failed.\n");

  const random = await run("random");
  assert.ok(
    [success.stdout, bug.stdout, gibberish.stdout].includes(random.stdout),
    random.stdout,
  );
  const bad = await run("sometimes");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^get_poetry_5\.ts: option --fate: "sometimes" is not/);
});

Deno.test("transformedpoetry transforms the poems of get_poetry_6; it falls back when down", async () => {
  await using server = poetryServer(poems.keeper);
  const { code, log } = await runServerModule(
    "../examples/servers/transformedpoetry.ts",
    NET,
    ["--port", "0", "--iface", "127.0.0.1"],
    async (xformPort) => {
      const out = await runToEnd(example("clients/get_poetry_6.ts"), NET, [
        String(xformPort),
        String(server.port),
      ]);
      assert.equal(out.stderr, "");
      assert.equal(out.stdout, poems.keeper.toLowerCase() + "\n");
    },
    ON_PORT,
  );
  assert.equal(code, 0, log);
  const down = await runToEnd(example("clients/get_poetry_6.ts"), NET, [
    String(await closedPort()),
    String(server.port),
  ]);
  assert.equal(down.code, 0);
  assert.equal(down.stderr, "Cummingsify failed!\n");
  assert.equal(down.stdout, poems.keeper + "\n");
});

for (const version of ["1", "2"]) {
  Deno.test(`poetry_proxy_${version} fetches the poem once and serves it from its cache`, async () => {
    await using upstream = poetryServer(poems.hours);
    const { code, log } = await runServerModule(
      `../examples/servers/poetry_proxy_${version}.ts`,
      NET,
      ["--port", "0", "--iface", "127.0.0.1", String(upstream.port)],
      async (port) => {
        assert.equal(decoder.decode(await readAll(port)), poems.hours);
        assert.equal(decoder.decode(await readAll(port)), poems.hours);
      },
      ON_PORT,
    );
    assert.equal(code, 0, log);
    assert.equal(upstream.factory.connections, 1);
    assert.match(log, new RegExp(`Proxying 127\\.0\\.0\\.1:${upstream.port} on port \\d+\\.`));
    assert.match(log, /Using cached poem/);
  });
}

Deno.test("fastpoetry_2 runs its Application by hand until SIGTERM", async () => {
  const { code, log } = await runServerModule(
    "../examples/servers/fastpoetry_2.ts",
    NET,
    ["--port", "0", "--iface", "127.0.0.1", "--poem", "kettle"],
    async (port) => assert.equal(decoder.decode(await readAll(port)), poems.kettle),
  );
  assert.equal(code, 0, log);
  assert.match(log, /loaded a poem from: bundled poem "kettle"/);
  assert.match(log, /Received SIGTERM, shutting down\./);
});

/** The runner as a program, as the examples' first lines run it. */
const RUNNER = "../mod.ts";

Deno.test("app.ts is a configuration module the runner runs with --config", async () => {
  // The tac file is configuration: run a copy set to port 0 on loopback.
  const dir = Deno.makeTempDirSync();
  try {
    const text = Deno.readTextFileSync(example("app.ts"));
    const services = new URL("../services/", import.meta.url).href;
    const edited = text
      .replace("const port = 10000;", "const port = 0;")
      .replace('const iface = "localhost";', 'const iface = "127.0.0.1";')
      .replaceAll('"../services/', `"${services}`);
    assert.notEqual(edited.indexOf("const port = 0;"), -1, "app.ts sets `const port = 10000;`");
    assert.notEqual(edited.indexOf(services), -1);
    Deno.writeTextFileSync(`${dir}/app.ts`, edited);
    const { code, log } = await runServerModule(
      RUNNER,
      [...NET, "--allow-read"],
      ["--config", `${dir}/app.ts`],
      async (port) => assert.equal(decoder.decode(await readAll(port)), poems.keeper),
    );
    assert.equal(code, 0, log);
    assert.match(log, /Loaded\./);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("plugin.ts is a plugin module the runner runs with --plugin", async () => {
  const { code, log } = await runServerModule(
    RUNNER,
    [...NET, "--allow-read"],
    [
      "--plugin",
      example("plugin.ts").pathname,
      "cummings",
      "--port",
      "0",
      "--iface",
      "127.0.0.1",
      "--poem",
      "telegram",
    ],
    async (port) => {
      assert.equal(decoder.decode(await readAll(port)), poems.telegram.toLowerCase());
    },
  );
  assert.equal(code, 0, log);
  assert.match(log, /sending a cummingsified poem to/);
});
