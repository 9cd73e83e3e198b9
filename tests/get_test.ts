// The get program (services/get.ts) end to end: run as `deno run --allow-net=127.0.0.1
// services/get.ts ...` in a subprocess against servers in this process on loopback port 0.

import assert from "node:assert/strict";
import { reactor } from "../reactor.ts";
import { poems } from "../poetry/poems.ts";
import { PoetryService } from "../services/fastpoetry.ts";
import { SlowPoetryFactory } from "../services/slowpoetry.ts";
import { closedPort, poetryServer, silentServer, transformServer } from "./_poetry_servers.ts";
import { type ProgramOutput, runToEnd } from "./_server_program.ts";

const GET = new URL("../services/get.ts", import.meta.url);

/** Runs the get program with only `--allow-net=127.0.0.1`. */
function get(...args: string[]): Promise<ProgramOutput> {
  return runToEnd(GET, ["--allow-net=127.0.0.1"], args);
}

Deno.test("get prints each poem in the order of the addresses, whichever comes first", async () => {
  // The first server is slow: its poem arrives last but is printed first.
  const service = new PoetryService("kettle");
  service.startService();
  const slow = reactor.listenTCP(
    0,
    new SlowPoetryFactory(service, { numBytes: 200, delay: 0.05 }),
    { interface: "127.0.0.1" },
  );
  await using fast = poetryServer(poems.telegram);
  try {
    const out = await get(String(slow.getHost().port), `127.0.0.1:${fast.port}`, String(fast.port));
    assert.equal(out.stderr, "");
    assert.equal(out.code, 0);
    assert.equal(out.stdout, `${poems.kettle}\n${poems.telegram}\n${poems.telegram}\n`);
  } finally {
    await slow.stopListening();
  }
});

Deno.test("get reports each failed poem on stderr, prints the others and exits with 1", async () => {
  await using server = poetryServer(poems.tide);
  const closed = await closedPort();
  const out = await get(String(closed), String(server.port));
  assert.equal(out.code, 1);
  assert.equal(out.stdout, poems.tide + "\n");
  assert.equal(out.stderr, `Poem failed: connection to 127.0.0.1:${closed} was refused\n`);
});

Deno.test("get --timeout gives up on a server that never finishes", async () => {
  await using silent = silentServer();
  const accepted = silent.accepted();
  const out = await get("--timeout", "0.5", String(silent.port));
  const { closed } = await accepted;
  await closed;
  assert.equal(out.code, 1);
  assert.equal(out.stdout, "");
  assert.equal(
    out.stderr,
    `Poem failed: poem download from 127.0.0.1:${silent.port} timed out after 0.5 seconds\n`,
  );
});

Deno.test("get --transform prints each poem transformed by the transformation server", async () => {
  await using server = poetryServer(poems.telegram);
  await using transform = transformServer();
  const out = await get("--transform", String(transform.port), String(server.port));
  assert.equal(out.stderr, "");
  assert.equal(out.code, 0);
  assert.equal(out.stdout, poems.telegram.toLowerCase() + "\n");
  const reversed = await get(
    `--transform=127.0.0.1:${transform.port}`,
    "--xform",
    "reverse",
    String(server.port),
  );
  assert.equal(reversed.stdout, poems.telegram.split("\n").reverse().join("\n").slice(1) + "\n\n");
});

Deno.test("get --transform falls back to the original poem when the transform fails", async () => {
  await using server = poetryServer(poems.kettle);
  const down = await closedPort();
  const out = await get("--transform", String(down), String(server.port));
  assert.equal(out.code, 0, "a failed transform is not a failed poem");
  assert.equal(out.stdout, poems.kettle + "\n");
  assert.equal(
    out.stderr,
    `Transform cummingsify failed: connection to 127.0.0.1:${down} was refused ` +
      `(printing the poem from 127.0.0.1:${server.port} as it came)\n`,
  );
  await using transform = transformServer();
  const unknown = await get(
    "--transform",
    String(transform.port),
    "--xform",
    "sonnetify",
    String(server.port),
  );
  assert.equal(unknown.code, 0);
  assert.equal(unknown.stdout, poems.kettle + "\n");
  assert.match(unknown.stderr, /^Transform sonnetify failed: .*no reply to "sonnetify"/);
});

Deno.test("get --max-length fails a longer poem, says how to allow more, and prints the rest", async () => {
  await using long = poetryServer("x".repeat(11));
  await using short = poetryServer("y".repeat(10));
  const out = await get("--max-length", "10", String(long.port), String(short.port));
  assert.equal(out.code, 1);
  assert.equal(out.stdout, "y".repeat(10) + "\n", "a poem of exactly the limit is printed");
  assert.equal(
    out.stderr,
    `Poem failed: the poem from 127.0.0.1:${long.port} is longer than 10 bytes ` +
      "(--max-length allows more)\n",
  );
  const allowed = await get("--max-length=11", String(long.port));
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal(allowed.stdout, "x".repeat(11) + "\n");
});

Deno.test("get exits with 2 and one line on stderr for a command line it cannot use", async () => {
  for (
    const [args, message] of [
      [[], "get: missing argument: addresses"],
      [["ten"], 'get: argument addresses: "ten" is not a port number (0 to 65535)'],
      [["0"], `get: argument addresses: "0": port 0 is for listening; give the server's port`],
      [
        ["--transform", "localhost:0", "10000"],
        `get: option --transform: "localhost:0": port 0 is for listening`,
      ],
      [["--timeout", "-1", "10000"], 'get: option --timeout: "-1" is not a number of seconds > 0'],
      [["--xform", "reverse", "10000"], "get: option --xform needs --transform HOST:PORT"],
      [["--transform", "11000", "--xform", "a.b", "10000"], "get: option --xform:"],
      [["--bogus", "10000"], "get: option --bogus not recognized"],
      [
        ["--max-length", "0", "10000"],
        'get: option --max-length: "0" is not a number of bytes > 0',
      ],
      [
        ["--max-length", "1.5", "10000"],
        'get: option --max-length: "1.5" is not a number of bytes',
      ],
      [["--max-length", "lots", "10000"], 'get: option --max-length: "lots" is not a number'],
    ] as const
  ) {
    const out = await get(...args);
    assert.equal(out.code, 2, `${args.join(" ")}: ${out.stderr}`);
    assert.equal(out.stdout, "");
    assert.equal(out.stderr.split("\n").length, 2, out.stderr); // one line and its newline
    assert.ok(out.stderr.startsWith(message), out.stderr);
  }
});

Deno.test("get --help prints the usage and exits with 0", async () => {
  const out = await get("--help");
  assert.equal(out.code, 0);
  assert.match(out.stdout, /^Usage: get \[options\] \[HOST:\]PORT \.\.\./);
  assert.match(out.stdout, /--transform=/);
});
