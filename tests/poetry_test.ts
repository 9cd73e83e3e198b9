// The poetry clients (Part 15's tests and more): getPoetry and getPoetryBytes from get.ts, and
// TransformProxy from transform_client.ts, against real servers on loopback port 0.

import assert from "node:assert/strict";
import { CancelledError, TimeoutError } from "../defer.ts";
import { ConnectionDone, ConnectionLost, ConnectionRefusedError } from "../error.ts";
import { Failure } from "../failure.ts";
import { Reactor } from "../reactor.ts";
import { Clock } from "../task.ts";
import {
  assertFailure,
  MemoryReactor,
  StringTransport,
  StringTransportWithDisconnection,
} from "../testing.ts";
import { poems } from "../poetry/poems.ts";
import {
  DEFAULT_MAX_POEM_LENGTH,
  getPoetry,
  getPoetryBytes,
  PoemTooLongError,
  PoetryClientFactory,
  type PoetryClientProtocol,
} from "../services/get.ts";
import {
  TransformClientFactory,
  TransformFailedError,
  TransformProxy,
} from "../services/transform_client.ts";
import { closedPort, poetryServer, silentServer, transformServer } from "./_poetry_servers.ts";

const encoder = new TextEncoder();

// Part 15's test poem, with a non-ASCII character.
const TEST_POEM = "This is a test.\nThis is only a test.\n\u2026";

Deno.test("getPoetry gets the exact poem from a server (test_client)", async () => {
  await using server = poetryServer(TEST_POEM);
  assert.equal(await getPoetry("127.0.0.1", server.port), TEST_POEM);
  assert.equal(server.factory.connections, 1);
});

Deno.test("getPoetry fails with ConnectionRefusedError where nothing listens (test_failure)", async () => {
  const port = await closedPort();
  const error = await assertFailure(getPoetry("127.0.0.1", port), ConnectionRefusedError);
  assert.equal(error.where, `127.0.0.1:${port}`);
});

Deno.test("getPoetryBytes returns a large poem byte for byte, however it is chunked", async () => {
  const poem = new Uint8Array(1_000_003).map((_, i) => (i * 7) % 256);
  await using server = poetryServer(poem);
  assert.deepEqual(await getPoetryBytes("127.0.0.1", server.port), poem);
});

Deno.test("PoetryClientProtocol keeps a poem sent a byte at a time in about its own size", async () => {
  // Kept one array a byte, 200,000 bytes took 42 MB. Measured in a child process, where the
  // garbage collector can be run first.
  const script = `
    import { PoetryClientFactory } from ${
    JSON.stringify(new URL("../services/get.ts", import.meta.url).href)
  };
    import { StringTransportWithDisconnection } from ${
    JSON.stringify(new URL("../testing.ts", import.meta.url).href)
  };
    const used = () => (gc(), Deno.memoryUsage().heapUsed + Deno.memoryUsage().external);
    const factory = new PoetryClientFactory("127.0.0.1:10000");
    const protocol = factory.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 10000 });
    const transport = new StringTransportWithDisconnection();
    transport.protocol = protocol;
    protocol.makeConnection(transport);
    const before = used();
    for (let i = 0; i < 200000; i++) protocol.dataReceived(new Uint8Array([65 + (i % 26)]));
    const grown = used() - before;
    let poem;
    factory.deferred.addCallback((p) => void (poem = p));
    transport.loseConnection();
    const right = poem.length === 200000 && poem.every((x, i) => x === 65 + (i % 26));
    console.log(JSON.stringify({ grown, right }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const { grown, right } = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.ok(right, "the poem arrives byte for byte");
  assert.ok(grown < 2_000_000, `200,000 bytes took ${grown} bytes`);
});

Deno.test("getPoetryBytes fails with PoemTooLongError on a server that never stops, and closes", async () => {
  // A plain server that writes until its client goes away.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let written = 0;
  const flood = (async () => {
    using conn = await listener.accept();
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    try {
      for (;;) written += await conn.write(chunk);
    } catch {
      // The client closed the connection.
    }
  })();
  try {
    const d = getPoetryBytes("127.0.0.1", listener.addr.port, { maxLength: 1_000_000 });
    const error = await assertFailure(d, PoemTooLongError);
    assert.equal(
      error.message,
      `the poem from 127.0.0.1:${listener.addr.port} is longer than 1000000 bytes`,
    );
    await flood; // ends: the connection was closed
    assert.ok(written > 1_000_000, `${written} bytes written`);
  } finally {
    listener.close();
  }
  // Exactly the limit is still a poem; and the default limit is 16 MiB.
  const poem = new Uint8Array(1000).fill(0x62);
  await using server = poetryServer(poem);
  assert.deepEqual(await getPoetryBytes("127.0.0.1", server.port, { maxLength: 1000 }), poem);
  assert.equal(new PoetryClientFactory("h:1").maxLength, DEFAULT_MAX_POEM_LENGTH);
  assert.equal(DEFAULT_MAX_POEM_LENGTH, 16 * 1024 * 1024);
});

Deno.test("a maxLength that is not a number >= 0 is refused before connecting; Infinity lifts it", async () => {
  for (const maxLength of [-1, NaN]) {
    assert.throws(
      () => new PoetryClientFactory("h:1", { maxLength }),
      { name: "RangeError", message: `maxLength must be a number of bytes >= 0, not ${maxLength}` },
    );
  }
  const poem = new Uint8Array(100_000).fill(0x63);
  await using server = poetryServer(poem);
  assert.throws(() => getPoetryBytes("127.0.0.1", server.port, { maxLength: NaN }), RangeError);
  const got = await getPoetryBytes("127.0.0.1", server.port, { maxLength: Infinity });
  assert.deepEqual(got, poem);
  assert.equal(server.factory.connections, 1, "only the download with a good limit connected");
});

Deno.test("getPoetry gets an empty poem as an empty string", async () => {
  await using server = poetryServer("");
  assert.equal(await getPoetry("127.0.0.1", server.port), "");
});

Deno.test("getPoetry fails with TypeError naming the server for a poem that is not UTF-8", async () => {
  const bytes = new Uint8Array([0x6f, 0x64, 0x65, 0xff, 0x0a]);
  await using server = poetryServer(bytes);
  const error = await assertFailure(getPoetry("127.0.0.1", server.port), TypeError);
  assert.equal(error.message, `the poem from 127.0.0.1:${server.port} is not UTF-8 text`);
  assert.deepEqual(await getPoetryBytes("127.0.0.1", server.port), bytes);
});

Deno.test("getPoetry times out with TimeoutError and closes the connection", async () => {
  await using server = silentServer();
  const clock = new Clock();
  const reactor = new Reactor({ clock });
  const d = getPoetry("127.0.0.1", server.port, { timeout: 5, reactor });
  const { closed } = await server.accepted();
  clock.advance(4.9);
  assert.equal(d.called, false);
  clock.advance(0.1);
  const error = await assertFailure(d, TimeoutError);
  assert.equal(error.seconds, 5);
  assert.equal(
    error.message,
    `poem download from 127.0.0.1:${server.port} timed out after 5 seconds`,
  );
  await closed; // the server sees the client hang up
});

Deno.test("getPoetry's timeout bounds a slow download, not each read", async () => {
  await using server = poetryServer(poems.tide);
  const open = server.factory.close(); // the server holds the poem back
  const clock = new Clock();
  const reactor = new Reactor({ clock });
  const d = getPoetry("127.0.0.1", server.port, { timeout: 1, reactor });
  await server.factory.accepted.reached(1);
  clock.advance(1);
  await assertFailure(d, TimeoutError);
  open(); // too late: the connection is closed and nothing is delivered
});

Deno.test("getPoetry with a timeout gets a poem that comes in time, and cancels the timer", async () => {
  await using server = poetryServer(poems.kettle);
  const clock = new Clock();
  const reactor = new Reactor({ clock });
  assert.equal(await getPoetry("127.0.0.1", server.port, { timeout: 5, reactor }), poems.kettle);
  assert.equal(clock.getDelayedCalls().length, 0);
});

Deno.test("cancelling getPoetry fails it with CancelledError and closes the connection", async () => {
  await using server = silentServer();
  const d = getPoetry("127.0.0.1", server.port);
  const { closed } = await server.accepted();
  d.cancel();
  await assertFailure(d, CancelledError);
  await closed;
});

Deno.test("a cancelled download does not put together the poem it was receiving", () => {
  let assembled = 0;
  const factory = new PoetryClientFactory("127.0.0.1:10000");
  factory.protocol = class extends (factory.protocol) {
    override poemReceived(poem: Uint8Array): void {
      assembled++;
      super.poemReceived(poem);
    }
  };
  const d = factory.deferred!;
  d.addErrback(() => {}); // CancelledError, expected
  const transport = new StringTransportWithDisconnection();
  const protocol = factory.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 10000 })!;
  transport.protocol = protocol;
  protocol.makeConnection(transport);
  protocol.dataReceived(encoder.encode("the first half of a poem"));
  d.cancel();
  transport.loseConnection(); // the clean close a cancelled download makes itself
  assert.equal(assembled, 0);
});

Deno.test("cancelling getPoetry while it connects stops the attempt", async () => {
  await using server = silentServer();
  const d = getPoetry("127.0.0.1", server.port);
  d.cancel(); // before the connection is made
  await assertFailure(d, CancelledError);
});

Deno.test("getPoetry with a signal fails with AbortError and hangs up when it aborts", async () => {
  await using server = silentServer();
  const controller = new AbortController();
  const d = getPoetry("127.0.0.1", server.port, { signal: controller.signal });
  const { closed } = await server.accepted();
  controller.abort();
  const error = await assertFailure(d, DOMException);
  assert.equal(error.name, "AbortError");
  await closed; // the server sees the client hang up
});

Deno.test("getPoetry with an aborted signal fails with its reason without connecting", async () => {
  const reactor = new MemoryReactor();
  const reason = new RangeError("the reader left");
  const d = getPoetryBytes("127.0.0.1", 10000, { signal: AbortSignal.abort(reason), reactor });
  assert.equal(await assertFailure(d, RangeError), reason);
  assert.equal(reactor.tcpClients.length, 0);
});

Deno.test("getPoetry with a signal and a timeout fails with whichever comes first", async () => {
  await using server = silentServer();
  const clock = new Clock();
  const reactor = new Reactor({ clock });
  const controller = new AbortController();
  const d = getPoetry("127.0.0.1", server.port, { timeout: 5, signal: controller.signal, reactor });
  const { closed } = await server.accepted();
  clock.advance(5);
  await assertFailure(d, TimeoutError);
  controller.abort(); // too late to change anything
  await closed;
  assert.equal(clock.getDelayedCalls().length, 0);
});

Deno.test("PoetryClientProtocol fails the download when the connection is lost mid-poem", async () => {
  const factory = new PoetryClientFactory("127.0.0.1:10000");
  const d = factory.deferred!;
  const protocol = factory.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 10000 })!;
  protocol.makeConnection(new StringTransport());
  protocol.dataReceived(encoder.encode("The first half of a po"));
  protocol.connectionLost(new Failure(new ConnectionLost("127.0.0.1:10000", "reset by peer")));
  const error = await assertFailure(d, ConnectionLost);
  assert.match(error.message, /reset by peer/);
  assert.equal(factory.deferred, undefined);
});

Deno.test("PoetryClientProtocol delivers the poem on a clean close, in one piece", async () => {
  const factory = new PoetryClientFactory("127.0.0.1:10000");
  const d = factory.deferred!;
  const protocol = factory.buildProtocol({
    type: "TCP",
    host: "127.0.0.1",
    port: 10000,
  }) as PoetryClientProtocol;
  const transport = new StringTransportWithDisconnection();
  transport.protocol = protocol;
  protocol.makeConnection(transport);
  for (const piece of ["Roses ", "are ", "", "red"]) protocol.dataReceived(encoder.encode(piece));
  transport.loseConnection();
  assert.equal(new TextDecoder().decode(await d), "Roses are red");
});

Deno.test("PoetryClientFactory fires its Deferred once and lets go of it first", () => {
  const factory = new PoetryClientFactory("127.0.0.1:10000");
  const d = factory.deferred!;
  let seenInside: unknown = "unset";
  d.addCallback(() => {
    seenInside = factory.deferred;
  });
  factory.poemFinished(encoder.encode("one"));
  assert.equal(seenInside, undefined);
  // Later news changes nothing: no AlreadyCalledError either.
  factory.poemFinished(encoder.encode("two"));
  factory.poemFailed(new Failure(new ConnectionDone()));
  factory.clientConnectionFailed(
    { getDestination: () => ({ type: "TCP", host: "127.0.0.1", port: 1 }) } as never,
    new Failure(new ConnectionRefusedError("127.0.0.1:1")),
  );
  assert.equal(d.called, true);
});

Deno.test("TransformProxy.xform transforms a poem with the transformation server", async () => {
  await using server = transformServer();
  const proxy = new TransformProxy("127.0.0.1", server.port);
  assert.equal(await proxy.xform("cummingsify", poems.telegram), poems.telegram.toLowerCase());
  assert.equal(
    await proxy.xform("uppercase", "\u00e9t\u00e9 \u2014 ode"),
    "\u00c9T\u00c9 \u2014 ODE",
  );
  assert.equal(await proxy.xform("reverse", "a\nb\n"), "b\na\n");
  assert.equal(await proxy.xform("cummingsify", ""), "");
  assert.equal(server.factory.connections, 4);
});

Deno.test("TransformProxy.xform fails with TransformFailedError for an unknown transform", async () => {
  await using server = transformServer();
  const proxy = new TransformProxy("127.0.0.1", server.port);
  const error = await assertFailure(proxy.xform("sonnetify", "a poem"), TransformFailedError);
  assert.equal(error.xformName, "sonnetify");
  assert.equal(error.where, `127.0.0.1:${server.port}`);
  assert.equal(
    error.message,
    `transform server 127.0.0.1:${server.port} closed the connection with no reply to "sonnetify"`,
  );
});

Deno.test("TransformProxy.xform says a reply it cannot read is bad, not missing", async () => {
  for (const reply of ["hello, not a netstring", "16777217:"]) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const answering = (async () => {
      using conn = await listener.accept();
      await conn.read(new Uint8Array(1024)); // the request
      await conn.write(encoder.encode(reply));
      await conn.read(new Uint8Array(1024)).catch(() => null); // until the client hangs up
    })();
    try {
      const proxy = new TransformProxy("127.0.0.1", listener.addr.port);
      const error = await assertFailure(proxy.xform("uppercase", "ode"), TransformFailedError);
      assert.equal(
        error.message,
        `transform server 127.0.0.1:${listener.addr.port} did not reply to "uppercase": ` +
          "its reply is not a netstring of at most 16777216 bytes",
      );
      await answering;
    } finally {
      listener.close();
    }
  }
});

Deno.test("TransformProxy.xform takes a reply longer than the server's request limit", async () => {
  // A request the server accepts (66,000 bytes) comes back three times as long upper-cased.
  await using server = transformServer();
  const poem = "\u0390".repeat(33_000);
  assert.equal(encoder.encode(`uppercase.${poem}`).length, 66_010);
  const proxy = new TransformProxy("127.0.0.1", server.port);
  const reply = await proxy.xform("uppercase", poem);
  assert.equal(reply, poem.toUpperCase());
  assert.equal(encoder.encode(reply).length, 198_000);
});

Deno.test("TransformProxy.xform fails with ConnectionRefusedError where nothing listens", async () => {
  const proxy = new TransformProxy("127.0.0.1", await closedPort());
  await assertFailure(proxy.xform("cummingsify", "A POEM"), ConnectionRefusedError);
});

Deno.test("TransformProxy.xform with a signal fails with its reason and hangs up when it aborts", async () => {
  await using server = silentServer();
  const proxy = new TransformProxy("127.0.0.1", server.port);
  const controller = new AbortController();
  const d = proxy.xform("cummingsify", "A POEM", { signal: controller.signal });
  const { closed } = await server.accepted();
  const reason = new Error("no longer wanted");
  controller.abort(reason);
  assert.equal(await assertFailure(d, Error), reason);
  await closed;
  const memory = new MemoryReactor();
  const offline = new TransformProxy("127.0.0.1", 11000, { reactor: memory });
  await assertFailure(
    offline.xform("cummingsify", "A POEM", { signal: AbortSignal.abort() }),
    DOMException,
  );
  assert.equal(memory.tcpClients.length, 0);
});

Deno.test("TransformProxy.xform refuses a transform name with a dot, without connecting", async () => {
  await using server = transformServer();
  const proxy = new TransformProxy("127.0.0.1", server.port);
  const error = await assertFailure(proxy.xform("xform_cummingsify.x", "poem"), RangeError);
  assert.match(error.message, /"xform_cummingsify\.x"/);
  await assertFailure(proxy.xform("", "poem"), RangeError);
  assert.equal(server.factory.connections, 0);
});

Deno.test("TransformProxy.xform times out with TimeoutError and closes the connection", async () => {
  await using server = silentServer();
  const clock = new Clock();
  const proxy = new TransformProxy("127.0.0.1", server.port, {
    timeout: 2,
    reactor: new Reactor({ clock }),
  });
  const d = proxy.xform("cummingsify", "A POEM");
  const { closed } = await server.accepted();
  clock.advance(2);
  const error = await assertFailure(d, TimeoutError);
  assert.equal(
    error.message,
    `transform cummingsify at 127.0.0.1:${server.port} timed out after 2 seconds`,
  );
  await closed;
});

Deno.test("TransformClientFactory fails with TransformFailedError when the connection breaks", async () => {
  const factory = new TransformClientFactory("reverse", "a\nb", "127.0.0.1:11000");
  const d = factory.deferred!;
  const protocol = factory.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 11000 })!;
  const transport = new StringTransport();
  protocol.makeConnection(transport);
  assert.equal(transport.valueText(), "11:reverse.a\nb,");
  protocol.dataReceived(encoder.encode("3:b\n")); // half a reply, then the connection breaks
  const lost = new Failure(new ConnectionLost("127.0.0.1:11000", "reset by peer"));
  factory.clientConnectionLost({} as never, lost);
  const error = await assertFailure(d, TransformFailedError);
  assert.match(error.message, /did not reply to "reverse": .*reset by peer/);
  assert.equal(error.cause, lost.value);
});

Deno.test("TransformClientFactory fails with TypeError for a reply that is not UTF-8", async () => {
  const factory = new TransformClientFactory("reverse", "ode", "127.0.0.1:11000");
  const d = factory.deferred!;
  factory.handlePoem(new Uint8Array([0xff]));
  const error = await assertFailure(d, TypeError);
  assert.equal(error.message, "the transformed poem from 127.0.0.1:11000 is not UTF-8 text");
});
