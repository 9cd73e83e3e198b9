import assert from "node:assert/strict";
import { parseOptions, UsageError } from "../_options.ts";
import { reactor } from "../reactor.ts";
import { TCPServer } from "../services/internet.ts";
import type { MultiService } from "../services/multi_service.ts";
import { StringTransport } from "../testing.ts";
import { runServerModule } from "./_server_program.ts";
import { logged } from "./_poetry_servers.ts";
import { poems } from "../poetry/poems.ts";
import {
  makeFastPoetryService,
  plugin,
  PoemNotFoundError,
  PoetryFactory,
  PoetryProtocol,
  PoetryService,
} from "../services/fastpoetry.ts";

const encoder = new TextEncoder();

/** Everything a server on `port` sends before it closes, read by a plain Deno client. */
async function readAll(port: number): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), 5000); // a server that never closes fails
  try {
    const chunks: number[] = [];
    const buf = new Uint8Array(1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(...buf.subarray(0, n));
    }
    return new Uint8Array(chunks);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

/** The port each TCPServer of `top` listens on, in order. */
function portsOf(top: MultiService): number[] {
  return [...top].filter((s) => s instanceof TCPServer).map((s) => {
    return (s as TCPServer).getHost().port;
  });
}

/** A temporary directory removed when disposed. */
function tempDir(): { path: string } & Disposable {
  const path = Deno.makeTempDirSync({ prefix: "fastpoetry_test_" });
  return { path, [Symbol.dispose]: () => Deno.removeSync(path, { recursive: true }) };
}

Deno.test("PoetryService loads a bundled poem by name", () => {
  const service = new PoetryService("keeper");
  service.startService();
  assert.ok(service.running);
  assert.deepEqual(service.poem, encoder.encode(poems.keeper));
  service.stopService();
});

Deno.test("PoetryService loads a poem file byte for byte", () => {
  using dir = tempDir();
  const bytes = new Uint8Array([...encoder.encode("Ode \u2014 to joy\r\nline two\n"), 0xff, 0x0a]);
  const file = `${dir.path}/ode.txt`;
  Deno.writeFileSync(file, bytes);
  const service = new PoetryService(file);
  service.startService();
  assert.deepEqual(service.poem, bytes);
  service.stopService();
});

Deno.test("PoetryService loads a file: URL", () => {
  using dir = tempDir();
  const file = `${dir.path}/a poem.txt`;
  Deno.writeTextFileSync(file, "spaces in the name\n");
  const url = new URL(`file://${encodeURI(file)}`);
  for (const source of [url, url.href]) {
    const service = new PoetryService(source);
    service.startService();
    assert.equal(new TextDecoder().decode(service.poem), "spaces in the name\n");
    service.stopService();
  }
});

Deno.test("PoetryService with a missing file fails to start with PoemNotFoundError naming it", () => {
  using dir = tempDir();
  const missing = `${dir.path}/missing.txt`;
  const service = new PoetryService(missing);
  assert.throws(
    () => service.startService(),
    (e: unknown) =>
      e instanceof PoemNotFoundError && e instanceof UsageError && e.poem === missing &&
      e.message === `no such poem file: ${missing}`,
  );
  assert.equal(service.running, false);
  assert.equal(service.poem, undefined);
});

Deno.test("PoetryService says which bundled poems exist when a bare name is neither", () => {
  const service = new PoetryService("sonnet-of-nothing");
  assert.throws(() => service.startService(), (e: unknown) => {
    assert.ok(e instanceof PoemNotFoundError);
    assert.match(e.message, /no such poem file: sonnet-of-nothing \(and no bundled poem/);
    assert.match(e.message, /keeper/);
    return true;
  });
});

Deno.test("PoetryService tells a file the system will not let it read from one Deno must allow", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  // A write-only file that even root cannot read. Deno asks for every permission before it
  // opens anything under /proc/sys, so the check runs in a program that has them all.
  const fastpoetry = new URL("../services/fastpoetry.ts", import.meta.url).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { PoetryService } from "${fastpoetry}";
      try {
        new PoetryService("/proc/sys/vm/drop_caches").startService();
      } catch (e) {
        console.log(e.name + ": " + e.message);
      }`,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  assert.equal(
    new TextDecoder().decode(out.stdout),
    "UsageError: cannot read poem file /proc/sys/vm/drop_caches: permission denied\n",
    new TextDecoder().decode(out.stderr),
  );
});

Deno.test("PoetryService refuses a directory and an unsupported URL scheme", () => {
  using dir = tempDir();
  assert.throws(() => new PoetryService(dir.path).startService(), /is a directory/);
  assert.throws(() => new PoetryService("ftp://127.0.0.1/ode.txt"), UsageError);
  assert.throws(() => new PoetryService(""), UsageError);
});

Deno.test("PoetryService reads its file again at each start", () => {
  using dir = tempDir();
  const file = `${dir.path}/draft.txt`;
  Deno.writeTextFileSync(file, "first draft\n");
  const service = new PoetryService(file);
  service.startService();
  service.stopService();
  Deno.writeTextFileSync(file, "second draft\n");
  service.startService();
  assert.equal(new TextDecoder().decode(service.poem), "second draft\n");
  service.stopService();
});

Deno.test("PoetryService logs where it loaded the poem from", async () => {
  const service = new PoetryService("tide");
  const lines = await logged(() => service.startService());
  assert.deepEqual(lines, ['loaded a poem from: bundled poem "tide"']);
  service.stopService();
});

Deno.test("PoetryService.loadPoem fetches an http: URL, and 404 is PoemNotFoundError", async () => {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    (request) =>
      new URL(request.url).pathname === "/ode.txt"
        ? new Response("an ode \u2014 fetched\n")
        : new Response("gone", { status: 404 }),
  );
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const service = new PoetryService(`${base}/ode.txt`);
    assert.throws(() => service.startService(), /await loadPoem\(\) before startService/);
    const poem = await service.loadPoem();
    assert.equal(new TextDecoder().decode(poem), "an ode \u2014 fetched\n");
    service.startService();
    assert.deepEqual(service.poem, poem);
    service.stopService();

    const missing = new PoetryService(`${base}/missing.txt`);
    await assert.rejects(missing.loadPoem(), (e: unknown) => {
      assert.ok(e instanceof PoemNotFoundError);
      assert.equal(e.message, `no poem at ${base}/missing.txt (404 Not Found)`);
      return true;
    });
  } finally {
    ac.abort();
    await server.finished;
  }
});

Deno.test("PoetryProtocol writes the poem, loses the connection and logs the peer", async () => {
  const service = new PoetryService("kettle");
  service.startService();
  const factory = new PoetryFactory(service);
  const transport = new StringTransport();
  const protocol = factory.buildProtocol(transport.getPeer());
  assert.ok(protocol instanceof PoetryProtocol);
  const lines = await logged(() => protocol.makeConnection(transport));
  assert.deepEqual(transport.value(), encoder.encode(poems.kettle));
  assert.ok(transport.disconnecting);
  assert.deepEqual(lines, [
    `sending ${service.poem!.length} bytes of poetry to ` +
    `{ type: "TCP", host: "192.168.1.1", port: 54321 }`,
  ]);
  service.stopService();
});

Deno.test("PoetryProtocol closes with nothing sent when the service never started", async () => {
  const factory = new PoetryFactory(new PoetryService("kettle"));
  const transport = new StringTransport();
  const lines = await logged(() => {
    factory.buildProtocol(transport.getPeer())!.makeConnection(transport);
  });
  assert.equal(transport.value().length, 0);
  assert.ok(transport.disconnecting);
  assert.match(lines[0], /no poem to send/);
});

Deno.test("PoetryFactory serves the exact poem bytes over loopback, to every client", async () => {
  using dir = tempDir();
  const bytes = encoder.encode("Ode \u2014 with a dash\r\nand CRLF\r\n");
  const file = `${dir.path}/ode.txt`;
  Deno.writeFileSync(file, bytes);
  const service = new PoetryService(file);
  service.startService();
  const port = reactor.listenTCP(0, new PoetryFactory(service), { interface: "127.0.0.1" });
  try {
    const number = port.getHost().port;
    const received = await Promise.all([readAll(number), readAll(number), readAll(number)]);
    for (const poem of received) assert.deepEqual(poem, bytes);
  } finally {
    await port.stopListening();
    service.stopService();
  }
});

Deno.test("makeFastPoetryService serves two poems on two ports from one service tree", async () => {
  const top = await makeFastPoetryService({
    poem: ["keeper", "tide"],
    port: [0, 0],
    iface: "127.0.0.1",
    files: [],
  });
  top.startService();
  try {
    const [keeperPort, tidePort] = portsOf(top);
    assert.notEqual(keeperPort, tidePort);
    assert.deepEqual(await readAll(keeperPort), encoder.encode(poems.keeper));
    assert.deepEqual(await readAll(tidePort), encoder.encode(poems.tide));
    const services = [...top].filter((s) => s instanceof PoetryService) as PoetryService[];
    assert.deepEqual(services.map((s) => s.poetryFile), ["keeper", "tide"]);
  } finally {
    await top.stopService();
  }
});

Deno.test("makeFastPoetryService fails before listening when a poem is missing", async () => {
  await assert.rejects(
    makeFastPoetryService({
      poem: ["keeper", "./missing.txt"],
      port: [0, 0],
      iface: "127.0.0.1",
      files: [],
    }),
    (e: unknown) =>
      e instanceof PoemNotFoundError && e.message === "no such poem file: ./missing.txt",
  );
});

Deno.test("fastpoetry plugin pairs the i-th poem with the i-th port", () => {
  const parse = (args: string[]) => parseOptions(plugin.options, args);
  const o = parse(["--poem", "keeper", "--port", "10005", "--poem=tide", "-p", "10007"]);
  assert.deepEqual(o, {
    poem: ["keeper", "tide"],
    port: [10005, 10007],
    iface: "localhost",
    files: [],
  });
  assert.deepEqual(parse(["ode.txt"]).files, ["ode.txt"]);
  assert.deepEqual(parse([]), { poem: [], port: [], iface: "localhost", files: [] });
});

Deno.test("fastpoetry plugin serves the default poem on 10000 and further poems on 10001...", async () => {
  const servedOn = async (args: string[]) => {
    const top = await makeFastPoetryService(parseOptions(plugin.options, args));
    const children = [...top];
    return children.flatMap((s, i) =>
      s instanceof PoetryService
        ? [[s.poetryFile, (children[i + 1] as TCPServer).portNumber] as const]
        : []
    );
  };
  assert.deepEqual(await servedOn([]), [["keeper", 10000]]);
  assert.deepEqual(await servedOn(["tide", "hours", "kettle"]), [
    ["tide", 10000],
    ["hours", 10001],
    ["kettle", 10002],
  ]);
  // --poem options first, then positional poems; each with its own port.
  assert.deepEqual(await servedOn(["-p", "7", "-p", "9", "hours", "--poem", "tide"]), [
    ["tide", 7],
    ["hours", 9],
  ]);
  assert.equal(plugin.makeService, makeFastPoetryService);
  const top = await makeFastPoetryService(parseOptions(plugin.options, ["--poem", "kettle"]));
  const poetry = [...top].find((s) => s instanceof PoetryService) as PoetryService;
  assert.deepEqual(poetry.poem, encoder.encode(poems.kettle), "the poem is loaded by makeService");
});

Deno.test("fastpoetry plugin refuses ports that are not one per poem", async () => {
  await assert.rejects(
    async () =>
      await plugin.makeService(parseOptions(plugin.options, ["-p", "1", "-p", "2", "tide"])),
    (e: unknown) =>
      e instanceof UsageError &&
      e.message === "1 poem but 2 ports: give one --port per poem, in the same order",
  );
  await assert.rejects(
    async () =>
      await plugin.makeService(parseOptions(plugin.options, ["-p", "1", "tide", "kettle"])),
    /2 poems but 1 port/,
  );
});

Deno.test("fastpoetry.ts runs as a program with only --allow-net, serving a bundled poem", async () => {
  const { code, log } = await runServerModule(
    "../services/fastpoetry.ts",
    ["--allow-net=127.0.0.1"],
    ["--port", "0", "--iface", "127.0.0.1", "--poem", "tide"],
    async (port) => assert.deepEqual(await readAll(port), encoder.encode(poems.tide)),
  );
  assert.equal(code, 0, log);
  assert.match(log, /loaded a poem from: bundled poem "tide"/);
  assert.match(
    log,
    /sending 849 bytes of poetry to \{ type: "TCP", host: "127.0.0.1", port: \d+ \}/,
  );
});

Deno.test("fastpoetry.ts serves a poem file given with --allow-read for that file alone", async () => {
  using dir = tempDir();
  const file = `${dir.path}/ode.txt`;
  Deno.writeTextFileSync(file, "a small ode\n");
  const { code, log } = await runServerModule(
    "../services/fastpoetry.ts",
    ["--allow-net=127.0.0.1", `--allow-read=${file}`],
    ["--port", "0", "--iface", "127.0.0.1", file],
    async (port) => assert.equal(new TextDecoder().decode(await readAll(port)), "a small ode\n"),
  );
  assert.equal(code, 0, log);
});

Deno.test("fastpoetry.ts exits with status 2 and one line for a missing poem file", async () => {
  using dir = tempDir();
  const missing = `${dir.path}/missing.txt`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      `--allow-read=${dir.path}`,
      new URL("../services/fastpoetry.ts", import.meta.url).href,
      "--port",
      "0",
      missing,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), new RegExp(`no such poem file: ${missing}\n`));
});
