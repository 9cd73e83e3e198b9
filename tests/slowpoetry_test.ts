import assert from "node:assert/strict";
import { loggedSync } from "./_poetry_servers.ts";
import { parseOptions, UsageError } from "../_options.ts";
import { reactor } from "../reactor.ts";
import { Clock } from "../task.ts";
import { StringTransport, StringTransportWithDisconnection } from "../testing.ts";
import { poems } from "../poetry/poems.ts";
import { runServerModule } from "./_server_program.ts";
import { PoetryService } from "../services/fastpoetry.ts";
import { TCPServer } from "../services/internet.ts";
import {
  makeSlowPoetryService,
  plugin,
  SlowPoetryFactory,
  SlowPoetryProtocol,
} from "../services/slowpoetry.ts";
import type { Failure } from "../failure.ts";
import type { Transport } from "../protocols/protocol.ts";

const encoder = new TextEncoder();

function startedService(poem = "hours"): PoetryService {
  const service = new PoetryService(poem);
  service.startService();
  return service;
}

Deno.test("SlowPoetryProtocol sends numBytes at once, then numBytes per tick of delay", () => {
  const service = startedService("hours");
  const poem = service.poem!;
  const clock = new Clock();
  const factory = new SlowPoetryFactory(service, { numBytes: 10, delay: 0.7, clock });
  const transport = new StringTransport();
  factory.buildProtocol(transport.getPeer())!.makeConnection(transport);
  assert.deepEqual(transport.value(), poem.subarray(0, 10));
  clock.advance(0.69);
  assert.equal(transport.value().length, 10, "nothing before the delay is up");
  clock.advance(0.01);
  assert.deepEqual(transport.value(), poem.subarray(0, 20));
  const ticks = Math.ceil(poem.length / 10) - 2;
  for (let i = 0; i < ticks - 1; i++) clock.advance(0.7);
  assert.equal(transport.disconnecting, false, "not closed before the last piece");
  clock.advance(0.7);
  assert.deepEqual(transport.value(), poem);
  assert.ok(transport.disconnecting, "closed right after the last piece");
  assert.equal(clock.getDelayedCalls().length, 0);
  service.stopService();
});

Deno.test("SlowPoetryProtocol writes pieces of exactly numBytes, the last one shorter", () => {
  const service = startedService("kettle");
  const clock = new Clock();
  const factory = new SlowPoetryFactory(service, { numBytes: 64, delay: 1, clock });
  const writes: number[] = [];
  const transport = new StringTransport();
  const write = transport.write.bind(transport);
  transport.write = (data) => {
    writes.push(typeof data === "string" ? encoder.encode(data).length : data.length);
    write(data);
  };
  factory.buildProtocol(transport.getPeer())!.makeConnection(transport);
  clock.pump(Array(20).fill(1));
  const length = service.poem!.length;
  assert.equal(writes.length, Math.ceil(length / 64));
  assert.ok(writes.slice(0, -1).every((n) => n === 64), String(writes));
  assert.equal(writes.at(-1), length - 64 * (writes.length - 1));
  service.stopService();
});

Deno.test("SlowPoetryProtocol stops its timer at once when the client hangs up mid-poem", () => {
  const service = startedService("keeper");
  const clock = new Clock();
  const factory = new SlowPoetryFactory(service, { numBytes: 10, delay: 0.7, clock });
  const transport = new StringTransportWithDisconnection();
  const protocol = factory.buildProtocol(transport.getPeer()) as SlowPoetryProtocol;
  transport.protocol = protocol;
  protocol.makeConnection(transport);
  clock.advance(0.7);
  clock.advance(0.7);
  assert.equal(transport.value().length, 30);
  assert.equal(clock.getDelayedCalls().length, 1);
  const lines = loggedSync(() => transport.loseConnection()); // the peer went away
  assert.equal(clock.getDelayedCalls().length, 0, "no timer left");
  assert.deepEqual(lines, [`client hung up after 30 of ${service.poem!.length} bytes`]);
  clock.advance(100);
  assert.equal(transport.value().length, 30, "nothing written after the hang-up");
  assert.equal(protocol.bytesSent, 30);
  service.stopService();
});

Deno.test("SlowPoetryProtocol closes at once for an empty poem and when the service has no poem", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeFileSync(`${dir}/empty.txt`, new Uint8Array(0));
    const clock = new Clock();
    const empty = new SlowPoetryFactory(startedService(`${dir}/empty.txt`), { clock });
    const t1 = new StringTransport();
    empty.buildProtocol(t1.getPeer())!.makeConnection(t1);
    assert.equal(t1.value().length, 0);
    assert.ok(t1.disconnecting);

    const unstarted = new SlowPoetryFactory(new PoetryService("tide"), { clock });
    const t2 = new StringTransport();
    loggedSync(() => unstarted.buildProtocol(t2.getPeer())!.makeConnection(t2));
    assert.equal(t2.value().length, 0);
    assert.ok(t2.disconnecting);
    assert.equal(clock.getDelayedCalls().length, 0);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("SlowPoetryProtocol logs the poem's size, the pace and the peer", () => {
  const service = startedService("tide");
  const clock = new Clock();
  const factory = new SlowPoetryFactory(service, { numBytes: 10, delay: 0.7, clock });
  const transport = new StringTransport();
  const lines = loggedSync(() =>
    factory.buildProtocol(transport.getPeer())!.makeConnection(transport)
  );
  assert.deepEqual(lines, [
    `sending ${service.poem!.length} bytes of poetry, 10 bytes every 0.7 seconds, to ` +
    `{ type: "TCP", host: "192.168.1.1", port: 54321 }`,
  ]);
  transport.loseConnection();
  for (const call of clock.getDelayedCalls()) call.cancel();
  service.stopService();
});

Deno.test("SlowPoetryFactory checks its pace and defaults to 10 bytes every 0.7 seconds", () => {
  const service = new PoetryService("tide");
  const factory = new SlowPoetryFactory(service);
  assert.equal(factory.numBytes, 10);
  assert.equal(factory.delay, 0.7);
  assert.equal(factory.clock, reactor);
  assert.throws(() => new SlowPoetryFactory(service, { numBytes: 0 }), RangeError);
  assert.throws(() => new SlowPoetryFactory(service, { numBytes: 1.5 }), RangeError);
  assert.throws(() => new SlowPoetryFactory(service, { delay: -1 }), RangeError);
  assert.throws(() => new SlowPoetryFactory(service, { delay: NaN }), RangeError);
  assert.throws(() => new SlowPoetryFactory(service, { delay: Infinity }), RangeError);
});

Deno.test("SlowPoetryFactory sends a whole poem over loopback with a small delay", async () => {
  const service = startedService("kettle");
  const factory = new SlowPoetryFactory(service, { numBytes: 100, delay: 0.01 });
  const port = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
  try {
    const number = port.getHost().port;
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: number });
    const timer = setTimeout(() => conn.close(), 5000); // bounded: fail rather than hang
    const received: number[] = [];
    let reads = 0;
    try {
      const buf = new Uint8Array(1024);
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        reads++;
        received.push(...buf.subarray(0, n));
      }
    } finally {
      clearTimeout(timer);
      conn.close();
    }
    assert.deepEqual(new Uint8Array(received), encoder.encode(poems.kettle));
    assert.ok(reads >= 2, `the poem came in ${reads} read(s), not in pieces`);
  } finally {
    await port.stopListening();
    service.stopService();
  }
});

Deno.test("SlowPoetryProtocol waits while a client does not read, then sends the rest", async () => {
  // 8 MiB in 64 KiB pieces as fast as it can: more than the socket buffers hold.
  const dir = await Deno.makeTempDir();
  const poem = new Uint8Array(8 * 1024 * 1024).map((_, i) => 97 + (i % 26));
  await Deno.writeFile(`${dir}/long.txt`, poem);
  const service = new PoetryService(`${dir}/long.txt`);
  service.startService();
  const pauses = Promise.withResolvers<void>();
  let paused = 0;
  const factory = new SlowPoetryFactory(service, { numBytes: 64 * 1024, delay: 0 });
  factory.protocol = class extends SlowPoetryProtocol {
    override makeConnection(transport: Transport): void {
      // Count the pauses the transport asks of the protocol's producer.
      const register = transport.registerProducer.bind(transport);
      transport.registerProducer = (producer, streaming) => {
        if ("pauseProducing" in producer) {
          const pause = producer.pauseProducing.bind(producer);
          producer.pauseProducing = () => {
            paused++;
            pauses.resolve();
            pause();
          };
        }
        register(producer, streaming);
      };
      super.makeConnection(transport);
    }
  };
  const port = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: port.getHost().port });
    const timer = setTimeout(() => conn.close(), 10_000); // bounded: fail rather than hang
    try {
      // Not reading: the transport's buffer fills and pauses the poem (within 5 s, or never).
      let waited: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) => waited = setTimeout(resolve, 5000));
      await Promise.race([pauses.promise, late]);
      clearTimeout(waited);
      assert.ok(paused >= 1, "the poem was never paused");
      const received = await new Response(conn.readable).bytes();
      assert.equal(received.length, poem.length);
      assert.deepEqual(received, poem);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await port.stopListening();
    service.stopService();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SlowPoetryFactory sends the whole poem to a client that half-closes first", async () => {
  const service = startedService("kettle");
  const factory = new SlowPoetryFactory(service, { numBytes: 200, delay: 0.01 });
  const port = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: port.getHost().port });
    const timer = setTimeout(() => conn.close(), 5000); // bounded: fail rather than hang
    try {
      await conn.closeWrite(); // as `nc -N` does: nothing to send, still reading
      const received = await new Response(conn.readable).bytes();
      assert.deepEqual(received, encoder.encode(poems.kettle));
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await port.stopListening();
    service.stopService();
  }
});

Deno.test("SlowPoetryFactory leaves no timer when a loopback client hangs up mid-poem", async () => {
  const service = startedService("keeper");
  const lost = Promise.withResolvers<number>();
  class Watched extends SlowPoetryProtocol {
    override connectionLost(reason: Failure): void {
      super.connectionLost(reason);
      lost.resolve(this.bytesSent);
    }
  }
  const factory = new SlowPoetryFactory(service, { numBytes: 10, delay: 0.05 });
  factory.protocol = Watched;
  const port = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
  try {
    const number = port.getHost().port;
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: number });
    const buf = new Uint8Array(64);
    assert.ok((await conn.read(buf)) !== null);
    conn.close();
    const sent = await lost.promise;
    assert.ok(sent < service.poem!.length, `sent ${sent} bytes`);
    assert.equal(reactor.getDelayedCalls().length, 0, "no timer left");
  } finally {
    await port.stopListening();
    service.stopService();
  }
});

Deno.test("slowpoetry plugin takes fastpoetry's poem options and the pace", () => {
  const parse = (args: string[]) => parseOptions(plugin.options, args);
  assert.equal(plugin.tapname, "slowpoetry");
  assert.deepEqual(parse([]), {
    poem: [],
    port: [],
    iface: "localhost",
    files: [],
    "num-bytes": 10,
    delay: 0.7,
  });
  const o = parse(["--num-bytes", "30", "--delay=0.2", "-p", "0", "--poem", "tide", "kettle"]);
  assert.equal(o["num-bytes"], 30);
  assert.equal(o.delay, 0.2);
  assert.deepEqual([o.poem, o.files, o.port], [["tide"], ["kettle"], [0]]);
  assert.throws(() => parse(["--num-bytes", "0"]), UsageError);
  assert.throws(() => parse(["--num-bytes", "ten"]), UsageError);
  assert.throws(() => parse(["--delay", "-1"]), UsageError);
});

Deno.test("makeSlowPoetryService serves each poem on its port at the given pace", async () => {
  const top = await makeSlowPoetryService({
    poem: [],
    port: [],
    iface: "127.0.0.1",
    files: ["tide", "hours"],
    "num-bytes": 25,
    delay: 0.3,
  });
  const children = [...top];
  assert.equal(children.length, 4);
  const servers = children.filter((s) => s instanceof TCPServer) as TCPServer[];
  assert.deepEqual(servers.map((s) => s.portNumber), [10001, 10002]);
  const factories = servers.map((s) => s.factory as SlowPoetryFactory);
  assert.deepEqual(factories.map((f) => [f.numBytes, f.delay]), [[25, 0.3], [25, 0.3]]);
  assert.deepEqual(factories.map((f) => f.service.poetryFile), ["tide", "hours"]);
});

Deno.test("slowpoetry.ts runs as a program with only --allow-net, at the pace it is given", async () => {
  const { code, log } = await runServerModule(
    "../services/slowpoetry.ts",
    ["--allow-net=127.0.0.1"],
    ["--port", "0", "--iface", "127.0.0.1", "--num-bytes", "200", "--delay", "0.01", "kettle"],
    async (port) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const poem = await new Response(conn.readable).text();
      assert.equal(poem, poems.kettle);
    },
  );
  assert.equal(code, 0, log);
  assert.match(log, /sending 617 bytes of poetry, 200 bytes every 0.01 seconds, to/);
});
