/**
 * Byte-for-byte checks against the tutorial's own Python programs, run with Twisted: our
 * fastpoetry served to the tutorial's poetry clients, and our transformation server and
 * `transformedpoetry.py` given the same requests.
 *
 * Needs /usr/bin/python3 with Twisted (`python3-twisted`) and a clone (or git directory) of the
 * tutorial's repository (jdavisp3/twisted-intro), by default
 * /work/.mirror/jdavisp3+twisted-intro/repo, or wherever `TWISTED_INTRO_GIT` says. The
 * programs are copied out of it into a temporary directory for the run. Without them the tests
 * are skipped, and a line says why. Everything listens on 127.0.0.1 only.
 */

import assert from "node:assert/strict";
import { reactor } from "../reactor.ts";
import { poems } from "../poetry/poems.ts";
import { PoetryFactory, PoetryService } from "../services/fastpoetry.ts";
import { TransformFactory, TransformService } from "../services/transform.ts";
import {
  PROGRAM_SECONDS,
  runPython,
  startPythonServer,
  tutorialTests,
} from "./_tutorial_programs.ts";

const PROGRAMS = [
  "twisted-server-1/fastpoetry.py",
  "twisted-server-1/transformedpoetry.py",
  "twisted-client-3/get-poetry.py",
  "twisted-client-6/get-poetry.py",
];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// The tests run only where Python with Twisted and the tutorial's programs are available, and
// say why not otherwise.
const compatTest = tutorialTests("compat_test", PROGRAMS);

/** Sends `request` (if any) and reads everything until the server closes. */
async function exchange(port: number, request?: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), PROGRAM_SECONDS * 1000);
  const received: number[] = [];
  try {
    if (request) await conn.write(request);
    const buf = new Uint8Array(8192);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (e) {
        // A server that drops a bad connection may reset it: what came before still counts.
        if (e instanceof Deno.errors.ConnectionReset) break;
        throw e;
      }
      if (n === null) break;
      received.push(...buf.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
  return new Uint8Array(received);
}

function netstring(payload: string | Uint8Array): Uint8Array {
  const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
  return new Uint8Array([...encoder.encode(`${bytes.length}:`), ...bytes, 0x2c]);
}

/** Our fastpoetry for `poem`, on a loopback port; stopped when disposed. */
function ourPoetryServer(poem: string): { port: number } & AsyncDisposable {
  const service = new PoetryService(poem);
  service.startService();
  const listening = reactor.listenTCP(0, new PoetryFactory(service), { interface: "127.0.0.1" });
  return {
    port: listening.getHost().port,
    [Symbol.asyncDispose]: async () => {
      await listening.stopListening();
      service.stopService();
    },
  };
}

/** Our transformation server on a loopback port; stopped when disposed. */
function ourTransformServer(): { port: number } & AsyncDisposable {
  const factory = new TransformFactory(new TransformService());
  const listening = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
  return {
    port: listening.getHost().port,
    [Symbol.asyncDispose]: async () => await listening.stopListening(),
  };
}

compatTest(
  "fastpoetry serves the tutorial's Twisted client (client 3) the exact poems",
  async (dir) => {
    await using keeper = ourPoetryServer("keeper");
    await using telegram = ourPoetryServer("telegram");
    const out = await runPython(dir, [
      "twisted-client-3/get-poetry.py",
      String(keeper.port),
      String(telegram.port),
    ]);
    assert.ok(out.success, decoder.decode(out.stderr));
    // The client prints each poem, then a newline, in the order they arrived.
    const printed = decoder.decode(out.stdout);
    const expected = [
      poems.keeper + "\n" + poems.telegram + "\n",
      poems.telegram + "\n" + poems.keeper + "\n",
    ];
    assert.ok(expected.includes(printed), `client printed:\n${printed}`);
  },
);

compatTest(
  "fastpoetry sends the same bytes as the tutorial's Twisted fastpoetry.py",
  async (dir) => {
    const file = `${dir}/ode.txt`;
    Deno.writeTextFileSync(
      file,
      "An Ode \u2014 \u00e0 la fa\u00e7on\nof the tide\n\n  indented\nend",
    );
    await using python = await startPythonServer(dir, [
      "twisted-server-1/fastpoetry.py",
      "--iface",
      "127.0.0.1",
      file,
    ]);
    await using ours = ourPoetryServer(file);
    const theirs = await exchange(python.port);
    assert.deepEqual(await exchange(ours.port), theirs);
    assert.deepEqual(theirs, Deno.readFileSync(file));
  },
);

/** Requests sent to both transformation servers, with what each must answer. */
const TRANSFORM_REQUESTS: [string, Uint8Array][] = [
  ["the tutorial's transform-test", encoder.encode("27:cummingsify.HERE IS MY POEM,")],
  ["a whole poem", netstring(`cummingsify.${poems.telegram}`)],
  ["non-ASCII text", netstring("cummingsify.\u00c9T\u00c9 \u2014 \u00c0 PARIS\nZ\u00dcRICH\n")],
  ["an empty poem", netstring("cummingsify.")],
  ["dots in the poem", netstring("cummingsify.A.B.C.")],
  ["a request without a dot", netstring("cummingsify")],
  ["an unknown transform", netstring("sonnetify.A POEM")],
  ["a method that is not a transform", netstring("transform.A POEM")],
  ["an empty transform name", netstring(".A POEM")],
  [
    "a request that is not UTF-8",
    netstring(new Uint8Array([...encoder.encode("cummingsify."), 0xff])),
  ],
  ["a malformed length", encoder.encode("12x:cummingsify.,")],
  ["a length with a leading zero", encoder.encode("05:cummingsify.A,")],
  ["a length over MAX_LENGTH", encoder.encode("100000:")],
  ["a payload not followed by a comma", encoder.encode("13:cummingsify.A;")],
  ["an empty netstring", encoder.encode("0:,")],
  [
    "a request and a partial one",
    new Uint8Array([...netstring("cummingsify.A"), ...encoder.encode("5:ab")]),
  ],
];

compatTest(
  "transform answers every request with the same bytes as transformedpoetry.py",
  async (dir) => {
    await using python = await startPythonServer(dir, [
      "twisted-server-1/transformedpoetry.py",
      "--iface",
      "127.0.0.1",
    ]);
    await using ours = ourTransformServer();
    for (const [what, request] of TRANSFORM_REQUESTS) {
      const theirs = await exchange(python.port, request);
      const mine = await exchange(ours.port, request);
      assert.deepEqual(
        mine,
        theirs,
        `${what}: ours ${decoder.decode(mine)} theirs ${decoder.decode(theirs)}`,
      );
    }
    // And the answers are what the tutorial shows.
    assert.equal(
      decoder.decode(await exchange(ours.port, TRANSFORM_REQUESTS[0][1])),
      "15:here is my poem,",
    );
  },
);

compatTest(
  "the tutorial's client 6 cummingsifies a poem with our servers as with its own",
  async (dir) => {
    await using poetry = ourPoetryServer("telegram");
    await using ours = ourTransformServer();
    await using python = await startPythonServer(dir, [
      "twisted-server-1/transformedpoetry.py",
      "--iface",
      "127.0.0.1",
    ]);
    const client = "twisted-client-6/get-poetry.py";
    const withOurs = await runPython(dir, [
      client,
      String(ours.port),
      String(poetry.port),
    ]);
    const withTheirs = await runPython(dir, [
      client,
      String(python.port),
      String(poetry.port),
    ]);
    assert.ok(withOurs.success && withTheirs.success, decoder.decode(withOurs.stderr));
    assert.equal(decoder.decode(withOurs.stderr), "", "the client reported a failure");
    assert.equal(decoder.decode(withOurs.stdout), poems.telegram.toLowerCase() + "\n");
    assert.deepEqual(withOurs.stdout, withTheirs.stdout);
  },
);
