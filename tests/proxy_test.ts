// The caching poetry proxy (services/proxy.ts): the cache's states, shared fetches, expiry,
// failures, clients that leave, the transformation proxy, the plugin and the program. Real
// servers on loopback port 0; the cache's age on a test Clock.

import assert from "node:assert/strict";
import { CancelledError, Deferred } from "../defer.ts";
import { ConnectionRefusedError } from "../error.ts";
import type { Failure } from "../failure.ts";
import { parseOptions, UsageError } from "../_options.ts";
import { reactor } from "../reactor.ts";
import { Clock } from "../task.ts";
import {
  assertFailure,
  connectProtocol,
  StringTransport,
  StringTransportWithDisconnection,
} from "../testing.ts";
import { poems } from "../poetry/poems.ts";
import { DEFAULT_MAX_POEM_LENGTH, getPoetry, PoemTooLongError } from "../services/get.ts";
import {
  makeProxyService,
  plugin,
  PoetryProxyFactory,
  PoetryProxyProtocol,
  type ProxyOptions,
  ProxyService,
  TransformProxyFactory,
  TransformProxyService,
} from "../services/proxy.ts";
import { TransformFailedError, TransformProxy } from "../services/transform_client.ts";
import { runServerModule } from "./_server_program.ts";
import {
  closedPort,
  Count,
  CountingPoetryFactory,
  logged,
  poetryServer,
  readAll,
  transformServer,
} from "./_poetry_servers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A {@linkcode PoetryProxyFactory} whose protocols count the connections that ended. */
class CountingProxyFactory extends PoetryProxyFactory {
  readonly ended: Count = new Count();

  constructor(service: ProxyService) {
    super(service);
    const ended = this.ended;
    this.protocol = class extends PoetryProxyProtocol {
      override connectionLost(reason: Failure): void {
        super.connectionLost(reason);
        ended.add();
      }
    };
  }
}

/** A poetry proxy for `service` on a loopback port; stops listening when disposed. */
function proxyServer(
  service: ProxyService,
): { port: number; factory: CountingProxyFactory } & AsyncDisposable {
  const factory = new CountingProxyFactory(service);
  const port = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
  return {
    port: port.getHost().port,
    factory,
    [Symbol.asyncDispose]: async () => {
      await port.stopListening();
      await service.stopService();
    },
  };
}

/** A transformation proxy for `service` on a loopback port. */
function transformProxyServer(service: TransformProxyService): { port: number } & AsyncDisposable {
  const port = reactor.listenTCP(0, new TransformProxyFactory(service), {
    interface: "127.0.0.1",
  });
  return {
    port: port.getHost().port,
    [Symbol.asyncDispose]: async () => await port.stopListening(),
  };
}

/** A connection to `port` that reads to the end; `close()` hangs up early. */
async function rawClient(port: number): Promise<{ text: Promise<string>; close(): void }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let closed = false;
  const text = (async () => {
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(8192);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        chunks.push(buf.slice(0, n));
      }
    } catch (e) {
      if (!closed) throw e;
    }
    if (!closed) conn.close();
    return decoder.decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  })();
  return {
    text,
    close() {
      closed = true;
      conn.close();
    },
  };
}

Deno.test("ProxyService fetches the poem once, then serves it from the cache", async () => {
  await using upstream = poetryServer(poems.kettle);
  await using proxy = proxyServer(new ProxyService("127.0.0.1", upstream.port));
  const lines = await logged(async () => {
    assert.equal(await getPoetry("127.0.0.1", proxy.port), poems.kettle);
    assert.equal(await getPoetry("127.0.0.1", proxy.port), poems.kettle);
    assert.equal(await getPoetry("127.0.0.1", proxy.port), poems.kettle);
  });
  assert.equal(upstream.factory.connections, 1);
  // The proxy's lines (the upstream server, in this process too, logs its own).
  assert.deepEqual(lines.filter((line) => !line.startsWith("sending")), [
    `Fetching poem from 127.0.0.1:${upstream.port}.`,
    `Using cached poem from 127.0.0.1:${upstream.port}.`,
    `Using cached poem from 127.0.0.1:${upstream.port}.`,
  ]);
});

Deno.test("ProxyService.getPoem returns an already-fired Deferred on a hit (Proxy 2.0)", async () => {
  await using upstream = poetryServer(poems.tide);
  const service = new ProxyService("127.0.0.1", upstream.port);
  assert.equal(service.poem, undefined);
  const miss = service.getPoem();
  assert.equal(miss.called, false);
  assert.equal(decoder.decode(await miss), poems.tide);
  const hit = service.getPoem();
  assert.equal(hit.called, true);
  assert.deepEqual(service.poem, encoder.encode(poems.tide));
});

Deno.test("ProxyService relays the poem's bytes exactly, UTF-8 or not", async () => {
  const bytes = new Uint8Array([0x41, 0xff, 0xfe, 0x0a, 0xe2, 0x80, 0xa6]);
  await using upstream = poetryServer(bytes);
  await using proxy = proxyServer(new ProxyService("127.0.0.1", upstream.port));
  assert.deepEqual(await readAll(proxy.port), bytes);
  assert.deepEqual(await readAll(proxy.port), bytes);
});

Deno.test("ProxyService makes one upstream connection for 200 concurrent cold requests", async () => {
  await using upstream = poetryServer(poems.keeper);
  const open = upstream.factory.close(); // hold the poem until every client is waiting
  const service = new ProxyService("127.0.0.1", upstream.port);
  const factory = new (class extends PoetryProxyFactory {
    clients = 0;
    override buildProtocol(addr: Parameters<PoetryProxyFactory["buildProtocol"]>[0]) {
      if (++this.clients === 200) open();
      return super.buildProtocol(addr);
    }
  })(service);
  const port = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
  try {
    const results = await Promise.all(
      Array.from(
        { length: 200 },
        () => getPoetry("127.0.0.1", port.getHost().port, { timeout: 30 }),
      ),
    );
    assert.equal(factory.clients, 200);
    assert.equal(upstream.factory.connections, 1);
    assert.ok(results.every((poem) => poem === poems.keeper));
  } finally {
    await port.stopListening();
  }
});

Deno.test("ProxyService fetches again once the poem is older than the ttl", async () => {
  await using upstream = poetryServer(poems.hours);
  const clock = new Clock();
  const service = new ProxyService("127.0.0.1", upstream.port, { ttl: 7200, clock });
  await using proxy = proxyServer(service);
  assert.equal(await getPoetry("127.0.0.1", proxy.port), poems.hours);
  clock.advance(7199);
  assert.equal(await getPoetry("127.0.0.1", proxy.port), poems.hours);
  assert.equal(upstream.factory.connections, 1);
  clock.advance(1);
  assert.equal(service.poem, undefined, "an expired poem is not offered");
  const lines = await logged(async () => {
    assert.equal(await getPoetry("127.0.0.1", proxy.port), poems.hours);
  });
  assert.equal(upstream.factory.connections, 2);
  assert.match(lines.join("\n"), /older than 7200 seconds: fetching it again/);
  assert.equal(await getPoetry("127.0.0.1", proxy.port), poems.hours);
  assert.equal(upstream.factory.connections, 2);
});

Deno.test("ProxyService keeps the poem for as long as it runs by default", () => {
  assert.equal(new ProxyService("127.0.0.1", 10001).ttl, Infinity);
  assert.throws(() => new ProxyService("127.0.0.1", 10001, { ttl: 0 }), RangeError);
  assert.throws(() => new ProxyService("127.0.0.1", 10001, { ttl: NaN }), RangeError);
});

Deno.test("ProxyService fails every waiter when the upstream is down, caches nothing, then recovers", async () => {
  const upstreamPort = await closedPort();
  const service = new ProxyService("127.0.0.1", upstreamPort);
  await using proxy = proxyServer(service);
  let texts: string[] = [];
  const lines = await logged(async () => {
    const clients = await Promise.all(Array.from({ length: 5 }, () => rawClient(proxy.port)));
    texts = await Promise.all(clients.map((c) => c.text));
  });
  assert.deepEqual(texts, ["", "", "", "", ""], "each client is closed with nothing written");
  assert.equal(service.poem, undefined);
  assert.ok(
    lines.some((line) =>
      line.startsWith(`Fetching poem from 127.0.0.1:${upstreamPort} failed`) &&
      line.includes("was refused")
    ),
    lines.join("\n"),
  );
  // Every direct caller gets the error itself.
  await assertFailure(service.getPoem(), ConnectionRefusedError);

  // The upstream comes back on the same port: the next request fetches the poem.
  const back = new CountingPoetryFactory(poems.tide);
  const upstream = reactor.listenTCP(upstreamPort, back, { interface: "127.0.0.1" });
  try {
    assert.equal(await getPoetry("127.0.0.1", proxy.port), poems.tide);
    assert.equal(await getPoetry("127.0.0.1", proxy.port), poems.tide);
    assert.equal(back.connections, 1);
  } finally {
    await upstream.stopListening();
  }
});

Deno.test("ProxyService fails a poem longer than maxLength, caches nothing, and refuses a bad limit", async () => {
  await using upstream = poetryServer("x".repeat(11));
  const service = new ProxyService("127.0.0.1", upstream.port, { maxLength: 10 });
  await using proxy = proxyServer(service);
  let text = "";
  const lines = await logged(async () => {
    text = await (await rawClient(proxy.port)).text;
  });
  assert.equal(text, "", "the client is closed with nothing written");
  assert.equal(service.poem, undefined);
  assert.ok(
    lines.some((line) =>
      line.startsWith(`Fetching poem from 127.0.0.1:${upstream.port} failed`) &&
      line.includes("is longer than 10 bytes")
    ),
    lines.join("\n"),
  );
  await assertFailure(service.getPoem(), PoemTooLongError);
  const roomy = new ProxyService("127.0.0.1", upstream.port, { maxLength: 11 });
  assert.equal(decoder.decode(await roomy.getPoem()), "x".repeat(11));
  assert.throws(() => new ProxyService("127.0.0.1", upstream.port, { maxLength: -1 }), RangeError);
});

Deno.test("proxy.ts --max-length limits the poem it fetches", async () => {
  await using upstream = poetryServer("x".repeat(11));
  const { code, log } = await runServerModule(
    "../services/proxy.ts",
    ["--allow-net=127.0.0.1"],
    ["--iface", "127.0.0.1", "--max-length", "10", String(upstream.port)],
    async (port) => assert.equal((await readAll(port)).length, 0),
  );
  assert.equal(code, 0, log);
  assert.match(
    log,
    /Fetching poem from 127\.0\.0\.1:\d+ failed .*: the poem from .* is longer than 10 bytes/,
  );
});

Deno.test("ProxyService: a client leaving while it waits does not break the others", async () => {
  await using upstream = poetryServer(poems.keeper);
  const open = upstream.factory.close();
  await using proxy = proxyServer(new ProxyService("127.0.0.1", upstream.port));
  const leaving = await rawClient(proxy.port);
  const staying = [await rawClient(proxy.port), await rawClient(proxy.port)];
  await upstream.factory.accepted.reached(1);
  leaving.close();
  await leaving.text;
  await proxy.factory.ended.reached(1); // the proxy has seen it leave
  open();
  assert.deepEqual(await Promise.all(staying.map((c) => c.text)), [poems.keeper, poems.keeper]);
  assert.equal(upstream.factory.connections, 1);
});

Deno.test("ProxyService stops the upstream fetch when every waiting client has left", async () => {
  await using upstream = poetryServer(poems.keeper);
  const open = upstream.factory.close();
  const service = new ProxyService("127.0.0.1", upstream.port);
  await using proxy = proxyServer(service);
  const clients = [await rawClient(proxy.port), await rawClient(proxy.port)];
  await upstream.factory.accepted.reached(1);
  const lines = await logged(async () => {
    for (const client of clients) {
      client.close();
      await client.text;
    }
    await upstream.factory.ended.reached(1); // the proxy hangs up on the upstream server
  });
  assert.match(lines.join("\n"), /Stopped fetching poem from .*: no client is waiting for it/);
  open();
  assert.equal(service.poem, undefined);
  // The next client starts a new fetch, which succeeds.
  assert.equal(await getPoetry("127.0.0.1", proxy.port), poems.keeper);
  assert.equal(upstream.factory.connections, 2);
});

Deno.test("ProxyService.getPoem: cancelling one waiter leaves the shared fetch to the others", async () => {
  const fetches: Deferred<string>[] = [];
  let cancelled = 0;
  const service = new ProxyService("127.0.0.1", 10001, {
    getPoetry: () => {
      const d = new Deferred<string>(() => void cancelled++);
      fetches.push(d);
      return d;
    },
  });
  const [a, b, c] = [service.getPoem(), service.getPoem(), service.getPoem()];
  a.cancel();
  await assertFailure(a, CancelledError);
  b.cancel();
  await assertFailure(b, CancelledError);
  assert.equal(cancelled, 0);
  fetches[0].callback("for the last one");
  assert.equal(decoder.decode(await c), "for the last one");
  assert.equal(fetches.length, 1);

  // Now all leave a second fetch (after the cache is dropped by a stop and a fresh service).
  const fresh = new ProxyService("127.0.0.1", 10001, {
    getPoetry: () => {
      const d = new Deferred<string>(() => void cancelled++);
      fetches.push(d);
      return d;
    },
  });
  const [x, y] = [fresh.getPoem(), fresh.getPoem()];
  x.cancel();
  y.cancel();
  await assertFailure(x, CancelledError);
  await assertFailure(y, CancelledError);
  assert.equal(cancelled, 1, "the fetch is cancelled once its last waiter leaves");
  assert.equal(fresh.poem, undefined);
});

Deno.test("ProxyService.stopService cancels the fetch under way", async () => {
  const fetch = new Deferred<string>();
  const service = new ProxyService("127.0.0.1", 10001, { getPoetry: () => fetch });
  service.startService();
  const waiting = service.getPoem();
  await service.stopService();
  await assertFailure(waiting, CancelledError);
  assert.equal(fetch.called, true);
});

Deno.test("TransformProxyService relays transforms and caches them by request", async () => {
  await using upstream = transformServer();
  const service = new TransformProxyService("127.0.0.1", upstream.port);
  await using proxy = transformProxyServer(service);
  const client = new TransformProxy("127.0.0.1", proxy.port);
  assert.equal(await client.xform("cummingsify", poems.telegram), poems.telegram.toLowerCase());
  assert.equal(await client.xform("cummingsify", poems.telegram), poems.telegram.toLowerCase());
  assert.equal(upstream.factory.connections, 1);
  assert.equal(await client.xform("reverse", "a\nb\n"), "b\na\n");
  assert.equal(await client.xform("uppercase", poems.telegram), poems.telegram.toUpperCase());
  assert.equal(upstream.factory.connections, 3);
  // The same bytes as the transformation server itself sends.
  const request = encoder.encode("27:cummingsify.HERE IS MY POEM,");
  assert.deepEqual(await readAll(proxy.port, request), await readAll(upstream.port, request));
});

Deno.test("TransformProxyService does not cache a failed transform: no reply, every time", async () => {
  await using upstream = transformServer();
  await using proxy = transformProxyServer(
    new TransformProxyService("127.0.0.1", upstream.port),
  );
  const client = new TransformProxy("127.0.0.1", proxy.port);
  await assertFailure(client.xform("sonnetify", "a poem"), TransformFailedError);
  await assertFailure(client.xform("sonnetify", "a poem"), TransformFailedError);
  assert.equal(upstream.factory.connections, 2);
  // A request the proxy cannot read is refused as the transformation server refuses it.
  assert.equal((await readAll(proxy.port, encoder.encode("11:no-dot-here,"))).length, 0);
  assert.equal(upstream.factory.connections, 2);
});

Deno.test("TransformProxyService closes the client with no reply when the upstream is down", async () => {
  await using proxy = transformProxyServer(
    new TransformProxyService("127.0.0.1", await closedPort()),
  );
  const client = new TransformProxy("127.0.0.1", proxy.port);
  await assertFailure(client.xform("cummingsify", "A POEM"), TransformFailedError);
});

Deno.test("TransformProxyProtocol answers requests sent on one connection in order, as the server does", async () => {
  await using upstream = transformServer();
  await using proxy = transformProxyServer(new TransformProxyService("127.0.0.1", upstream.port));
  const netstrings = (...requests: string[]): Uint8Array =>
    encoder.encode(requests.map((r) => `${encoder.encode(r).length}:${r},`).join(""));
  const exchange = async (requests: Uint8Array): Promise<string> => {
    const got = decoder.decode(await readAll(proxy.port, requests));
    assert.equal(got, decoder.decode(await readAll(upstream.port, requests)));
    return got;
  };
  // Neither answer cached; then the second cached while the first is not; then a failing
  // transform (answered with nothing) between two that succeed.
  assert.equal(await exchange(netstrings("uppercase.ode", "cummingsify.ODE")), "3:ODE,3:ode,");
  assert.equal(await exchange(netstrings("reverse.a\nb\n", "uppercase.ode")), "4:b\na\n,3:ODE,");
  assert.equal(
    await exchange(netstrings("uppercase.a", "sonnetify.b", "cummingsify.CD")),
    "1:A,2:cd,",
  );
});

Deno.test("TransformProxyProtocol makes a client's requests one at a time, reading no more meanwhile", () => {
  const requests: [string, Deferred<string>][] = [];
  const service = new TransformProxyService("127.0.0.1", 11000, {
    xform: (_name, poem) => {
      const d = new Deferred<string>();
      requests.push([poem, d]);
      return d;
    },
  });
  const transport = new StringTransport();
  const protocol = new TransformProxyFactory(service).buildProtocol(transport.getPeer())!;
  protocol.makeConnection(transport);
  protocol.dataReceived(encoder.encode("11:uppercase.a,11:uppercase.b,11:uppercase.c,"));
  // One upstream request for this client, and no more reading while two wait.
  assert.deepEqual(requests.map(([poem]) => poem), ["a"]);
  assert.equal(transport.producerState, "paused");
  requests[0][1].errback(new Error("no such transform")); // answered with nothing, as the server does
  assert.deepEqual(requests.map(([poem]) => poem), ["a", "b"]);
  requests[1][1].callback("B");
  assert.equal(transport.valueText(), "1:B,");
  assert.equal(transport.producerState, "producing", "reading again: the last one is under way");
  requests[2][1].callback("C");
  assert.equal(transport.valueText(), "1:B,1:C,");
  assert.ok(transport.disconnecting);
});

Deno.test("TransformProxyProtocol: one client's 300 requests at once make one upstream request at a time", async () => {
  await using upstream = transformServer();
  await using proxy = transformProxyServer(new TransformProxyService("127.0.0.1", upstream.port));
  const count = 300;
  const requests = Array.from({ length: count }, (_, i) => `uppercase.poem ${i}`);
  const sent = encoder.encode(requests.map((r) => `${r.length}:${r},`).join(""));
  const answers = decoder.decode(await readAll(proxy.port, sent));
  const expected = requests.map((r) => r.slice("uppercase.".length).toUpperCase());
  assert.equal(answers, expected.map((a) => `${a.length}:${a},`).join(""));
  assert.equal(upstream.factory.connections, count);
  // The next request starts once the answer is in, which may be before the server has seen
  // the connection close: at most two are open at once, not one per request.
  assert.ok(upstream.factory.mostAtOnce <= 2, `${upstream.factory.mostAtOnce} at once`);
});

Deno.test("TransformProxyProtocol cancels the request under way and drops the others when the client leaves", () => {
  const made: string[] = [];
  const cancelled: string[] = [];
  const service = new TransformProxyService("127.0.0.1", 11000, {
    xform: (_name, poem) => {
      made.push(poem);
      return new Deferred<string>(() => cancelled.push(poem));
    },
  });
  const transport = new StringTransportWithDisconnection();
  const { protocol } = connectProtocol(new TransformProxyFactory(service), transport);
  protocol.dataReceived(encoder.encode("11:uppercase.a,11:uppercase.b,"));
  transport.loseConnection();
  assert.deepEqual(made, ["a"]);
  assert.deepEqual(cancelled, ["a"]);
  assert.equal(transport.valueText(), "");
});

Deno.test("TransformProxyService shares one upstream request among identical ones, and keeps maxCached", async () => {
  const requests: [string, Deferred<string>][] = [];
  const clock = new Clock();
  const service = new TransformProxyService("127.0.0.1", 11000, {
    maxCached: 2,
    ttl: 10,
    clock,
    xform: (name, poem) => {
      const d = new Deferred<string>();
      requests.push([`${name}.${poem}`, d]);
      return d;
    },
  });
  const same = [service.xform("uppercase", "a"), service.xform("uppercase", "a")];
  assert.equal(requests.length, 1);
  requests[0][1].callback("A");
  assert.deepEqual(await Promise.all(same), ["A", "A"]);
  for (const poem of ["b", "c"]) {
    const d = service.xform("uppercase", poem);
    requests.at(-1)![1].callback(poem.toUpperCase());
    await d;
  }
  assert.equal(requests.length, 3);
  await service.xform("uppercase", "c"); // cached
  await service.xform("uppercase", "b"); // cached
  assert.equal(requests.length, 3);
  service.xform("uppercase", "a"); // the least recently used was dropped
  assert.equal(requests.length, 4);
  requests[3][1].callback("A");
  clock.advance(10);
  service.xform("uppercase", "a"); // expired
  assert.equal(requests.length, 5);
  requests[4][1].callback("A");
  assert.throws(() => new TransformProxyService("h", 1, { maxCached: -1 }), RangeError);
});

Deno.test("proxy plugin: the tutorial's command line, and --transform", () => {
  const options = parseOptions(plugin.options, ["--port", "10000", "10001"]);
  assert.deepEqual(
    options,
    {
      port: 10000,
      iface: "localhost",
      ttl: undefined,
      timeout: undefined,
      "max-length": DEFAULT_MAX_POEM_LENGTH,
      transform: undefined,
      "xform-port": 0,
      server: { host: "127.0.0.1", port: 10001 },
    } satisfies ProxyOptions,
  );
  const both = parseOptions(plugin.options, [
    "--ttl=60",
    "--transform",
    "localhost:11000",
    "--xform-port",
    "11001",
    "poetry.example.org:10001",
  ]);
  assert.equal(both.ttl, 60);
  assert.deepEqual(both.transform, { host: "localhost", port: 11000 });
  assert.deepEqual(both.server, { host: "poetry.example.org", port: 10001 });
  assert.equal([...makeProxyService(both)].length, 4);
  assert.throws(() => parseOptions(plugin.options, ["--ttl", "0", "10001"]), UsageError);
  assert.throws(() => parseOptions(plugin.options, ["--max-length", "0", "10001"]), UsageError);
  assert.throws(() => parseOptions(plugin.options, ["10001", "10002"]), UsageError);
  // Port 0 is for listening: an upstream server has a real port.
  assert.throws(() => parseOptions(plugin.options, ["0"]), /port 0 is for listening/);
  assert.throws(
    () => parseOptions(plugin.options, ["--transform", "localhost:0"]),
    /port 0 is for listening/,
  );
  assert.throws(
    () => makeProxyService(parseOptions(plugin.options, [])),
    (e: Error) => e instanceof UsageError && /--transform/.test(e.message),
  );
});

Deno.test("proxy.ts runs as a program with --allow-net=127.0.0.1 alone", async () => {
  await using upstream = poetryServer(poems.kettle);
  const { code, log } = await runServerModule(
    "../services/proxy.ts",
    ["--allow-net=127.0.0.1"],
    ["--port", "0", "--iface", "127.0.0.1", String(upstream.port)],
    async (port) => {
      assert.equal(decoder.decode(await readAll(port)), poems.kettle);
      assert.equal(decoder.decode(await readAll(port)), poems.kettle);
    },
  );
  assert.equal(code, 0, log);
  assert.equal(upstream.factory.connections, 1);
  assert.match(log, /Fetching poem from 127\.0\.0\.1:\d+\./);
  assert.match(log, /Using cached poem from 127\.0\.0\.1:\d+\./);
});

Deno.test("proxy.ts runs a transformation proxy with --transform alone", async () => {
  await using upstream = transformServer();
  const { code, log } = await runServerModule(
    "../services/proxy.ts",
    ["--allow-net=127.0.0.1"],
    ["--iface", "127.0.0.1", "--transform", String(upstream.port)],
    async (port) => {
      const client = new TransformProxy("127.0.0.1", port);
      assert.equal(await client.xform("uppercase", "ode"), "ODE");
    },
  );
  assert.equal(code, 0, log);
  assert.match(log, /TransformProxyFactory starting on \d+/);
});

Deno.test("proxy.ts exits with status 2 and one line when given no server", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", new URL("../services/proxy.ts", import.meta.url).href],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  const stderr = decoder.decode(out.stderr);
  assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
  assert.match(stderr, /give the poetry server to proxy/);
});

Deno.test("ProxyService fetches through the client function it is given", async () => {
  await using upstream = poetryServer(poems.kettle);
  const asked: string[] = [];
  const service = new ProxyService("127.0.0.1", upstream.port, {
    getPoetry: (host, port) => {
      asked.push(`${host}:${port}`);
      return getPoetry(host, port);
    },
  });
  assert.equal(decoder.decode(await service.getPoem()), poems.kettle);
  assert.deepEqual(asked, [`127.0.0.1:${upstream.port}`]);
});
