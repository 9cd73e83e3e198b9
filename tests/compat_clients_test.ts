// Byte-for-byte checks of the poetry client and proxy against the tutorial's own Python
// programs, run with Twisted: our client reading their fastpoetry.py, our get program printing
// what their clients print, their client 6 going through our transformation proxy, their
// proxy in front of our server and ours in front of theirs, their Proxy 1.0 and 3.0 programs
// next to ours, and a client that leaves early stopping the upstream fetch in their Proxy 3.0
// and in ours. (Their client 6 against our fastpoetry and transformation server is in
// compat_test.ts.) Skipped, with a line saying why, where Python with Twisted or the
// tutorial's programs are missing.

import assert from "node:assert/strict";
import { reactor } from "../reactor.ts";
import { poems } from "../poetry/poems.ts";
import { getPoetry, getPoetryBytes } from "../services/get.ts";
import {
  PoetryProxyFactory,
  ProxyService,
  TransformProxyFactory,
  TransformProxyService,
} from "../services/proxy.ts";
import { closedPort, poetryServer, readAll, transformServer } from "./_poetry_servers.ts";
import { type ListeningProgram, runToEnd, startProgram } from "./_server_program.ts";
import {
  type PythonServer,
  runPython,
  startPythonServer,
  tutorialTests,
} from "./_tutorial_programs.ts";

const PROGRAMS = [
  "twisted-server-1/fastpoetry.py",
  "twisted-server-1/transformedpoetry.py",
  "twisted-server-1/poetry-proxy.py",
  "twisted-server-2/poetry-proxy.py",
  "twisted-server-4/poetry-proxy.py",
  "twisted-client-4/get-poetry.py",
  "twisted-client-6/get-poetry.py",
];

const compatTest = tutorialTests("compat_clients_test", PROGRAMS);

const decoder = new TextDecoder();
const GET = new URL("../services/get.ts", import.meta.url);
const NET = ["--allow-net=127.0.0.1"];
/** Our Proxy 1.0, the example program. */
const PROXY_1 = new URL("../examples/servers/poetry_proxy_1.ts", import.meta.url);
/** Our proxy as a program (the `proxy` plugin): it cancels a fetch no client waits for. */
const PROXY = new URL("../services/proxy.ts", import.meta.url);

/** One of the tutorial's servers in `dir`, listening on loopback. */
function theirServer(dir: string, program: string, ...args: string[]) {
  return startPythonServer(dir, [program, "--iface", "127.0.0.1", ...args]);
}

/** One of our proxy programs (`module`) in front of the poetry server on `upstream`. */
function ourProxy(module: URL, upstream: number): Promise<ListeningProgram> {
  return startProgram(
    Deno.execPath(),
    ["run", ...NET, module.href, "--port", "0", "--iface", "127.0.0.1", String(upstream)],
    { ready: /starting on (\d+)/ },
  );
}

/** `promise`, or a rejection saying that `what` did not happen within `seconds`. */
async function within<T>(promise: Promise<T>, what: string, seconds = 10): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${seconds} s`)), seconds * 1000);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The tutorial's fastpoetry.py in `dir`, serving a poem file (`file`) with non-ASCII text,
 * blank and indented lines, and no final newline.
 */
async function theirFastpoetry(dir: string): Promise<PythonServer & { file: string }> {
  const file = `${dir}/ode.txt`;
  Deno.writeTextFileSync(
    file,
    "An Ode \u2014 \u00e0 la fa\u00e7on\u2026\nof the tide\n\n  indented\n\tand tabbed\nend",
  );
  return Object.assign(await theirServer(dir, "twisted-server-1/fastpoetry.py", file), { file });
}

compatTest("getPoetry gets exactly the bytes the tutorial's fastpoetry.py sends", async (dir) => {
  await using python = await theirFastpoetry(dir);
  const { file } = python;
  assert.deepEqual(await getPoetryBytes("127.0.0.1", python.port), Deno.readFileSync(file));
  assert.equal(await getPoetry("127.0.0.1", python.port), Deno.readTextFileSync(file));
});

compatTest("the get program prints what the tutorial's client 4 prints", async (dir) => {
  await using python = await theirFastpoetry(dir);
  const { file } = python;
  // The same server twice, so that the order the poems come in does not matter.
  const addresses = [String(python.port), `127.0.0.1:${python.port}`];
  const theirs = await runPython(dir, ["twisted-client-4/get-poetry.py", ...addresses]);
  const ours = await runToEnd(GET, NET, addresses);
  assert.ok(theirs.success, decoder.decode(theirs.stderr));
  assert.equal(ours.code, 0, ours.stderr);
  assert.equal(ours.stdout, decoder.decode(theirs.stdout));
  assert.equal(ours.stdout, `${Deno.readTextFileSync(file)}\n`.repeat(2));
});

compatTest(
  "the get program with --transform prints what the tutorial's client 6 prints",
  async (dir) => {
    await using poetry = await theirFastpoetry(dir);
    const { file } = poetry;
    await using xform = await theirServer(dir, "twisted-server-1/transformedpoetry.py");
    const theirs = await runPython(dir, [
      "twisted-client-6/get-poetry.py",
      String(xform.port),
      String(poetry.port),
    ]);
    const ours = await runToEnd(GET, NET, ["--transform", String(xform.port), String(poetry.port)]);
    assert.ok(theirs.success, decoder.decode(theirs.stderr));
    assert.equal(ours.stderr, "");
    assert.equal(ours.stdout, decoder.decode(theirs.stdout));
    assert.equal(ours.stdout, Deno.readTextFileSync(file).toLowerCase() + "\n");
  },
);

compatTest(
  "the get program falls back to the original poem as client 6 does, transform server down",
  async (dir) => {
    await using poetry = await theirFastpoetry(dir);
    const { file } = poetry;
    const downPort = await closedPort();
    const theirs = await runPython(dir, [
      "twisted-client-6/get-poetry.py",
      String(downPort),
      String(poetry.port),
    ]);
    const ours = await runToEnd(GET, NET, ["--transform", String(downPort), String(poetry.port)]);
    assert.equal(decoder.decode(theirs.stderr), "Cummingsify failed!\n");
    assert.match(ours.stderr, /^Transform cummingsify failed: /);
    assert.equal(ours.stdout, decoder.decode(theirs.stdout));
    assert.equal(ours.stdout, Deno.readTextFileSync(file) + "\n");
  },
);

compatTest(
  "the tutorial's client 6 cummingsifies through our transformation proxy",
  async (dir) => {
    await using poetry = poetryServer(poems.telegram);
    await using upstream = transformServer();
    const service = new TransformProxyService("127.0.0.1", upstream.port);
    const proxy = reactor.listenTCP(0, new TransformProxyFactory(service), {
      interface: "127.0.0.1",
    });
    try {
      for (let i = 0; i < 2; i++) {
        const out = await runPython(dir, [
          "twisted-client-6/get-poetry.py",
          String(proxy.getHost().port),
          String(poetry.port),
        ]);
        assert.equal(decoder.decode(out.stderr), "");
        assert.equal(decoder.decode(out.stdout), poems.telegram.toLowerCase() + "\n");
      }
      assert.equal(upstream.factory.connections, 1, "the second request came from the cache");
    } finally {
      await proxy.stopListening();
    }
  },
);

compatTest(
  "the tutorial's poetry-proxy.py serves our fastpoetry's poem exactly, then from its cache",
  async (dir) => {
    await using ours = poetryServer(poems.keeper);
    const python = await theirServer(
      dir,
      "twisted-server-2/poetry-proxy.py",
      String(ours.port),
    );
    try {
      assert.equal(decoder.decode(await readAll(python.port)), poems.keeper);
      assert.equal(decoder.decode(await readAll(python.port)), poems.keeper);
    } finally {
      await python[Symbol.asyncDispose]();
    }
    assert.equal(ours.factory.connections, 1);
    assert.match(python.output(), /Fetching poem from server\.\nUsing cached poem\.\n/);
  },
);

compatTest(
  "our proxy in front of the tutorial's fastpoetry.py sends the bytes their proxy sends",
  async (dir) => {
    await using poetry = await theirFastpoetry(dir);
    const { file } = poetry;
    await using theirProxy = await theirServer(
      dir,
      "twisted-server-2/poetry-proxy.py",
      String(poetry.port),
    );
    const service = new ProxyService("127.0.0.1", poetry.port);
    const ourProxy = reactor.listenTCP(0, new PoetryProxyFactory(service), {
      interface: "127.0.0.1",
    });
    try {
      const theirs = await readAll(theirProxy.port);
      assert.deepEqual(await readAll(ourProxy.getHost().port), theirs);
      assert.deepEqual(await readAll(ourProxy.getHost().port), theirs);
      assert.deepEqual(theirs, Deno.readFileSync(file));
    } finally {
      await ourProxy.stopListening();
    }
  },
);

/**
 * Puts the tutorial's `theirProgram` and our `ourModule` in front of the tutorial's
 * fastpoetry.py and reads each twice (a fetch, then the cache): the bytes must be the same,
 * and the poem's, and each log must show the fetch and then the cache hit (`ourLog`).
 */
async function compareProxies(
  dir: string,
  theirProgram: string,
  ourModule: URL,
  ourLog: RegExp,
): Promise<void> {
  await using poetry = await theirFastpoetry(dir);
  await using theirProxy = await theirServer(dir, theirProgram, String(poetry.port));
  await using ourProgram = await ourProxy(ourModule, poetry.port);
  const theirs = [await readAll(theirProxy.port), await readAll(theirProxy.port)];
  const ours = [await readAll(ourProgram.port), await readAll(ourProgram.port)];
  assert.deepEqual(ours, theirs);
  assert.deepEqual(theirs, [Deno.readFileSync(poetry.file), Deno.readFileSync(poetry.file)]);
  assert.match(
    (await theirProxy.stop()).stdout,
    /Fetching poem from server\.\nUsing cached poem\.\n/,
  );
  assert.match((await ourProgram.stop()).stdout, ourLog);
}

compatTest(
  "our Proxy 1.0 in front of the tutorial's fastpoetry.py sends the bytes their Proxy 1.0 sends",
  (dir) =>
    compareProxies(
      dir,
      "twisted-server-1/poetry-proxy.py",
      PROXY_1,
      /Fetching poem from server\.\n.*Using cached poem\.\n/,
    ),
);

compatTest(
  "our proxy in front of the tutorial's fastpoetry.py sends the bytes their Proxy 3.0 sends",
  (dir) =>
    compareProxies(
      dir,
      "twisted-server-4/poetry-proxy.py",
      PROXY,
      /Fetching poem from [^\n]+\n.*Using cached poem from /,
    ),
);

compatTest(
  "a client that leaves early stops the upstream fetch in their Proxy 3.0 and in ours",
  async (dir) => {
    // The upstream server holds the poem back until `send()`, so a client that connects and
    // closes is sure to leave before the poem comes, however slow the machine.
    await using poetry = poetryServer(poems.hours);
    const send = poetry.factory.close();
    const upstream = String(poetry.port);
    await using theirProxy = await theirServer(dir, "twisted-server-4/poetry-proxy.py", upstream);
    await using ourProgram = await ourProxy(PROXY, poetry.port);
    const { accepted, ended } = poetry.factory;
    for (const [i, port] of [theirProxy.port, ourProgram.port].entries()) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await within(accepted.reached(i + 1), `the proxy on ${port} fetching the poem`);
      } finally {
        conn.close();
      }
      await within(ended.reached(i + 1), `the proxy on ${port} stopping its fetch`);
    }
    send();
    const theirs = [await readAll(theirProxy.port), await readAll(theirProxy.port)];
    const ours = [await readAll(ourProgram.port), await readAll(ourProgram.port)];
    assert.deepEqual(ours, theirs);
    assert.deepEqual(theirs.map((poem) => decoder.decode(poem)), [poems.hours, poems.hours]);
    assert.equal(poetry.factory.connections, 4, "one fetch stopped and one made by each proxy");
    const theirLog = (await theirProxy.stop()).stdout;
    const ourLog = (await ourProgram.stop()).stdout;
    assert.match(
      theirLog,
      /Fetching poem from server\.\nCanceling poem download\.\nFetching poem from server\.\n/,
    );
    assert.match(ourLog, /Stopped fetching poem from [^\n]+: no client is waiting for it\./);
  },
);
