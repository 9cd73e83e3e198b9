import assert from "node:assert/strict";
import { ConnectionAborted, ConnectionClosed, ConnectionDone, ConnectionLost } from "../error.ts";
import type { Failure } from "../failure.ts";
import { addObserver, type LogEvent, msg, removeObserver, textFromEvent } from "../log.ts";
import { Factory } from "../protocols/factory.ts";
import { Protocol, type PullProducer, type PushProducer } from "../protocols/protocol.ts";
import {
  connectionDone,
  protocolLogPrefix,
  type StreamConn,
  StreamTransport,
} from "../protocols/_transport.ts";
import { reactor } from "../reactor.ts";
import type { Deferred } from "../defer.ts";
import { deferLater } from "../task.ts";
import { LineReceiver } from "../protocols/line_receiver.ts";
import { LineOnlyReceiver } from "../protocols/line_only_receiver.ts";
import { NetstringReceiver } from "../protocols/netstring_receiver.ts";
import { Int32StringReceiver } from "../protocols/int_string_receiver.ts";
import {
  CollectingFactory,
  concat,
  connectedPair,
  OneClientFactory,
  pattern,
  Recorder,
  withLog,
} from "./fixtures/loopback.ts";

const encoder = new TextEncoder();

/** Lets pending promise reactions and I/O callbacks run. */
function turn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

// ---- Unit tests over a scripted connection ----

/** A `Deno.Conn` stand-in that records writes and lets the test complete reads. */
class ScriptedConn {
  writes: Uint8Array[] = [];
  readBuffers: Uint8Array[] = [];
  writeLimit = Infinity;
  closed = false;
  #read:
    | { buf: Uint8Array; resolve: (n: number | null) => void; reject: (e: unknown) => void }
    | null = null;
  localAddr: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 1000 };
  remoteAddr: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 2000 };

  read(buf: Uint8Array): Promise<number | null> {
    this.readBuffers.push(buf);
    return new Promise((resolve, reject) => (this.#read = { buf, resolve, reject }));
  }

  /** Completes the pending read with `bytes` (or end of file for `null`). */
  feed(bytes: Uint8Array | null): void {
    const read = this.#read!;
    this.#read = null;
    if (bytes === null) return read.resolve(null);
    read.buf.set(bytes);
    read.resolve(bytes.length);
  }

  write(buf: Uint8Array): Promise<number> {
    const n = Math.min(buf.length, this.writeLimit);
    this.writes.push(buf.slice(0, n));
    return Promise.resolve(n);
  }

  closeWrite(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    this.closed = true;
    const read = this.#read;
    this.#read = null;
    read?.reject(new Deno.errors.Interrupted("operation canceled"));
  }
}

function scripted(protocol: Protocol): { conn: ScriptedConn; transport: StreamTransport } {
  const conn = new ScriptedConn();
  const transport = new StreamTransport(
    conn as unknown as StreamConn,
    "TCP",
    protocol,
    "Test,0,127.0.0.1",
    null,
  );
  transport.start("TestFactory");
  return { conn, transport };
}

Deno.test("StreamTransport coalesces the writes of one turn into one socket write, in order", async () => {
  const protocol = new Recorder();
  const { conn, transport } = scripted(protocol);
  const expected: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const piece = `${i},`;
    expected.push(piece);
    if (i % 2 === 0) transport.write(piece);
    else transport.write(encoder.encode(piece));
  }
  transport.writeSequence(["a", encoder.encode("b"), "", "c", "é€😀"]);
  expected.push("abcé€😀");
  assert.equal(conn.writes.length, 0, "nothing is written before the turn ends");
  await turn();
  assert.equal(conn.writes.length, 1);
  assert.equal(new TextDecoder().decode(conn.writes[0]), expected.join(""));
  transport.write("x");
  transport.write("y");
  await turn();
  assert.equal(conn.writes.length, 2);
  assert.equal(new TextDecoder().decode(conn.writes[1]), "xy");
  transport.abortConnection();
  await protocol.lost.promise;
});

Deno.test("StreamTransport.write refuses what is not bytes or a string, and the connection goes on", async () => {
  const protocol = new Recorder();
  const { conn, transport } = scripted(protocol);
  const wrong: unknown[] = [123, null, new ArrayBuffer(4), new DataView(new ArrayBuffer(2))];
  for (const value of wrong) {
    assert.throws(() => transport.write(value as string), TypeError);
    // A bad piece anywhere in a sequence writes none of it.
    assert.throws(() => transport.writeSequence(["ok", value as string]), TypeError);
  }
  assert.throws(() => transport.writeSequence(5 as unknown as string[]), TypeError);
  transport.write("ok");
  await turn();
  assert.deepEqual(conn.writes.map((w) => new TextDecoder().decode(w)), ["ok"]);
  transport.loseConnection();
  assert.ok((await protocol.lost.promise).check(ConnectionDone));
});

Deno.test("StreamTransport writes the rest of a partial write before anything else", async () => {
  const protocol = new Recorder();
  const { conn, transport } = scripted(protocol);
  conn.writeLimit = 7;
  const data = pattern(50);
  transport.write(data.subarray(0, 20));
  await turn();
  transport.write(data.subarray(20));
  transport.loseConnection();
  const reason = await protocol.lost.promise;
  assert.ok(reason.check(ConnectionDone));
  assert.ok(conn.writes.every((w) => w.length <= 7));
  assert.deepEqual(concat(conn.writes), data);
  assert.ok(conn.closed);
});

Deno.test("StreamTransport.loseConnection still sends what is written right after it, as Twisted does", async () => {
  const decoder = new TextDecoder();
  // loseConnection() then write() in the same turn: the write is sent, then the close.
  {
    const protocol = new Recorder();
    const { conn, transport } = scripted(protocol);
    transport.loseConnection();
    transport.write("bye");
    transport.writeSequence(["!", "\n"]);
    assert.equal(conn.closed, false, "the close waits for the end of the turn");
    assert.ok((await protocol.lost.promise).check(ConnectionDone));
    assert.equal(decoder.decode(concat(conn.writes)), "bye!\n");
    assert.ok(conn.closed);
  }
  // unregisterProducer() after loseConnection(), then write(): the write is sent too.
  {
    const protocol = new Recorder();
    const { conn, transport } = scripted(protocol);
    transport.registerProducer({ resumeProducing() {}, stopProducing() {} }, false);
    transport.loseConnection();
    await turn();
    assert.equal(conn.closed, false, "a pull producer holds the close back");
    transport.unregisterProducer();
    transport.write("last");
    assert.ok((await protocol.lost.promise).check(ConnectionDone));
    assert.equal(decoder.decode(concat(conn.writes)), "last");
  }
  // loseWriteConnection() behind a pull producer: unregistering it lets the end of file go.
  // (Twisted's transports resume only a pending loseConnection() here; the half-close waited.)
  {
    const protocol = new Recorder();
    const { conn, transport } = scripted(protocol);
    let eof = false;
    conn.closeWrite = () => {
      eof = true;
      return Promise.resolve();
    };
    transport.registerProducer({ resumeProducing() {}, stopProducing() {} }, false);
    transport.write("last words");
    transport.loseWriteConnection();
    for (let i = 0; i < 5; i++) await turn();
    assert.equal(eof, false, "a pull producer holds the half-close back");
    transport.unregisterProducer();
    for (let i = 0; i < 20 && !eof; i++) await turn();
    assert.ok(eof, "the end of file went out once the producer was unregistered");
    assert.equal(decoder.decode(concat(conn.writes)), "last words");
    transport.abortConnection();
    await protocol.lost.promise;
  }
  // loseWriteConnection() then write(): the write goes out before the end of file.
  {
    const protocol = new Recorder();
    const { conn, transport } = scripted(protocol);
    const order: string[] = [];
    conn.closeWrite = () => {
      order.push(`eof after ${decoder.decode(concat(conn.writes))}`);
      return Promise.resolve();
    };
    transport.loseWriteConnection();
    transport.write("tail");
    while (order.length === 0) await turn();
    assert.deepEqual(order, ["eof after tail"]);
    transport.abortConnection();
    await protocol.lost.promise;
  }
});

Deno.test("StreamTransport pauses and resumes a producer of multi-byte strings, round after round", async () => {
  const protocol = new Recorder();
  const { conn, transport } = scripted(protocol);
  conn.writeLimit = 3000;
  let pauses = 0;
  let resumes = 0;
  transport.registerProducer({
    pauseProducing: () => void pauses++,
    resumeProducing: () => void resumes++,
    stopProducing: () => {},
  }, true);
  const piece = "é".repeat(1000); // 2000 bytes of UTF-8
  const writesBeforePause: number[] = [];
  for (let round = 1; round <= 3; round++) {
    let writes = 0;
    while (pauses < round && writes < 1000) {
      transport.write(piece);
      writes++;
    }
    writesBeforePause.push(writes);
    while (resumes < round) await turn();
  }
  // Each round starts from an empty buffer: the count of buffered bytes does not drift.
  assert.deepEqual(writesBeforePause, [66, 66, 66]);
  transport.unregisterProducer();
  transport.loseConnection();
  await protocol.lost.promise;
  const sent = new TextDecoder().decode(concat(conn.writes));
  assert.ok(/^é+$/.test(sent));
  assert.ok(conn.writes.every((w) => w.length <= 3000));
});

Deno.test("StreamTransport never hands a protocol a buffer it will read into again", async () => {
  const protocol = new Recorder();
  const { conn, transport } = scripted(protocol);
  await turn();
  assert.equal(conn.readBuffers.length, 1);
  assert.equal(conn.readBuffers[0].length, 1024, "reading starts with a small buffer");

  // A read that fills the buffer is handed over as it is, and the next buffer is bigger.
  conn.feed(new Uint8Array(1024).fill(1));
  await turn();
  assert.equal(protocol.chunks[0].buffer, conn.readBuffers[0].buffer);
  assert.notEqual(conn.readBuffers[1].buffer, conn.readBuffers[0].buffer);
  assert.equal(conn.readBuffers[1].length, 2048);

  // A short read is copied out: the protocol does not pin the big buffer, which is reused.
  conn.feed(new Uint8Array(10).fill(2));
  await turn();
  assert.equal(protocol.chunks[1].buffer.byteLength, 10);
  conn.feed(new Uint8Array(10).fill(3));
  await turn();
  assert.deepEqual(protocol.chunks[0], new Uint8Array(1024).fill(1));
  assert.deepEqual(protocol.chunks[1], new Uint8Array(10).fill(2));
  assert.deepEqual(protocol.chunks[2], new Uint8Array(10).fill(3));
  // Short reads shrink the buffer back.
  assert.ok(conn.readBuffers.at(-1)!.length <= 1024);

  // Growth continues while reads fill the buffer, up to a limit.
  for (let i = 0; i < 12; i++) {
    conn.feed(new Uint8Array(conn.readBuffers.at(-1)!.length));
    await turn();
  }
  assert.equal(conn.readBuffers.at(-1)!.length, 256 * 1024);

  // Big reads are carved one after the other out of a shared slab, and never overlap.
  const before = protocol.chunks.length;
  for (let i = 0; i < 6; i++) {
    conn.feed(new Uint8Array(200 * 1024).fill(10 + i));
    await turn();
  }
  const big = protocol.chunks.slice(before);
  for (const [i, chunk] of big.entries()) {
    assert.equal(chunk.length, 200 * 1024);
    assert.ok(chunk.every((b) => b === 10 + i), "earlier chunks are never overwritten");
  }
  const shared = big.slice(1).filter((chunk, i) => chunk.buffer === big[i].buffer);
  assert.ok(shared.length >= 2, "consecutive big reads share a slab");
  for (let i = 1; i < big.length; i++) {
    if (big[i].buffer !== big[i - 1].buffer) continue;
    assert.equal(big[i].byteOffset, big[i - 1].byteOffset + big[i - 1].length);
  }

  // A small read in a stream is copied out; reads that stay short shrink the reads back to
  // small buffers of their own.
  for (let i = 0; i < 6; i++) {
    conn.feed(new Uint8Array(100).fill(99));
    await turn();
    assert.equal(protocol.chunks.at(-1)!.buffer.byteLength, 100);
  }
  const last = conn.readBuffers.at(-1)!;
  assert.ok(last.length < 16 * 1024);
  assert.equal(last.buffer.byteLength, last.length, "no longer a region of a slab");
  transport.loseConnection();
  assert.ok((await protocol.lost.promise).check(ConnectionDone));
});

Deno.test("StreamTransport holds a read that completes while paused until resumed", async () => {
  const protocol = new Recorder();
  const { conn, transport } = scripted(protocol);
  await turn();
  transport.pauseProducing();
  conn.feed(encoder.encode("held"));
  await turn();
  assert.equal(protocol.received, 0);
  assert.equal(conn.readBuffers.length, 1, "no read while paused");
  transport.resumeProducing();
  await turn();
  assert.equal(protocol.text(), "held");
  assert.equal(conn.readBuffers.length, 2);
  transport.abortConnection();
  assert.ok((await protocol.lost.promise).check(ConnectionAborted));
});

Deno.test("connectionDone makes a ConnectionDone that is one in every visible way", () => {
  const made = connectionDone("127.0.0.1:5000");
  const real = new ConnectionDone("127.0.0.1:5000");
  assert.ok(made instanceof ConnectionDone);
  assert.ok(made instanceof ConnectionClosed);
  assert.ok(made instanceof Error);
  assert.equal(made.name, real.name);
  assert.equal(made.message, real.message);
  assert.equal(made.where, "127.0.0.1:5000");
  assert.equal(String(made), String(real));
  assert.equal(made.stack, `ConnectionDone: ${real.message}`);
  assert.equal(connectionDone("").message, new ConnectionDone().message);
});

// ---- Over loopback sockets ----

/** A push producer that writes `total` bytes of `pattern` in `chunk`-sized writes. */
class PatternProducer implements PushProducer {
  sent = 0;
  paused = false;
  pauses = 0;
  resumes = 0;
  stopped = false;
  constructor(
    readonly protocol: Protocol,
    readonly total: number,
    readonly chunk: number,
  ) {}
  start(): void {
    this.protocol.transport.registerProducer(this, true);
    this.#produce();
  }
  pauseProducing(): void {
    this.paused = true;
    this.pauses++;
  }
  resumeProducing(): void {
    this.paused = false;
    this.resumes++;
    this.#produce();
  }
  stopProducing(): void {
    this.stopped = true;
  }
  #produce(): void {
    const transport = this.protocol.transport;
    while (!this.paused && this.sent < this.total) {
      const n = Math.min(this.chunk, this.total - this.sent);
      transport.write(pattern(n, this.sent));
      this.sent += n;
    }
    if (this.sent === this.total && !this.stopped) {
      this.stopped = true;
      transport.unregisterProducer();
      transport.loseConnection();
    }
  }
}

Deno.test("StreamTransport delivers 16 MiB through a streaming producer it pauses and resumes", async () => {
  const total = 16 * 1024 * 1024;
  let producer: PatternProducer | undefined;
  class Streamer extends Recorder {
    override connectionMade(): void {
      producer = new PatternProducer(this, total, 64 * 1024);
      producer.start();
      super.connectionMade();
    }
  }
  /** Checks each byte as it arrives instead of keeping 16 MiB. */
  class Checker extends Recorder {
    offset = 0;
    bad = -1;
    override dataReceived(data: Uint8Array): void {
      for (let i = 0; i < data.length; i++) {
        if (data[i] !== (this.offset + i) % 251 && this.bad < 0) this.bad = this.offset + i;
      }
      this.offset += data.length;
      this.received += data.length;
    }
  }
  const client = new Checker();
  const { port, server, clientFactory } = await connectedPair(() => new Streamer(), client);
  const [serverReason, clientReason] = await Promise.all([
    server.lost.promise,
    client.lost.promise,
  ]);
  assert.equal(client.received, total);
  assert.equal(client.bad, -1, "bytes arrive in order");
  assert.ok(producer!.pauses >= 1, "the producer was paused");
  assert.ok(producer!.resumes >= 1, "the producer was resumed");
  assert.ok(serverReason.check(ConnectionDone));
  assert.ok(clientReason.check(ConnectionDone));
  assert.ok((await clientFactory.clientLost.promise).check(ConnectionDone));
  await port.stopListening();
});

Deno.test("StreamTransport asks a pull producer for more each time its buffer drains", async () => {
  const pieces = 200;
  class Puller extends Recorder implements PullProducer {
    asked = 0;
    override connectionMade(): void {
      this.transport.registerProducer(this, false);
    }
    resumeProducing(): void {
      this.asked++;
      if (this.asked > pieces) {
        this.transport.unregisterProducer();
        this.transport.loseConnection();
        return;
      }
      this.transport.write(pattern(4096, (this.asked - 1) * 4096));
    }
    stopProducing(): void {}
  }
  const client = new Recorder();
  const { port, server } = await connectedPair(() => new Puller(), client);
  await client.lost.promise;
  assert.equal(server.asked, pieces + 1);
  assert.deepEqual(client.bytes(), pattern(pieces * 4096));
  await server.lost.promise;
  await port.stopListening();
});

Deno.test("StreamTransport.pauseProducing stops reading, so a writing peer is paused in turn", async () => {
  const total = 8 * 1024 * 1024;
  let producer: PatternProducer | undefined;
  let receivedWhenPaused = -1;
  class Sender extends Recorder {
    override connectionMade(): void {
      producer = new PatternProducer(this, total, 64 * 1024);
      const pause = producer.pauseProducing.bind(producer);
      producer.pauseProducing = () => {
        pause();
        if (receivedWhenPaused < 0) receivedWhenPaused = serverSide!.received;
      };
      producer.start();
    }
  }
  let serverSide: Recorder | undefined;
  class SlowReader extends Recorder {
    override connectionMade(): void {
      serverSide = this;
      this.transport.pauseProducing();
    }
  }
  const client = new Sender();
  const { port, server } = await connectedPair(() => new SlowReader(), client);
  // The server reads nothing while paused: the socket buffers fill and the sender is paused.
  while (receivedWhenPaused < 0 || !producer!.paused) await turn();
  assert.equal(server.received, 0);
  await turn();
  assert.equal(server.received, 0, "nothing is delivered while paused");
  server.transport.resumeProducing();
  await client.lost.promise;
  await server.lost.promise;
  assert.equal(server.received, total);
  assert.deepEqual(server.bytes().subarray(0, 1000), pattern(1000));
  assert.ok(producer!.resumes >= 1);
  await port.stopListening();
});

Deno.test("StreamTransport sends many small writes in order to the peer", async () => {
  class Chatty extends Recorder {
    override connectionMade(): void {
      for (let i = 0; i < 20000; i++) this.transport.write(`${i}\n`);
      this.transport.loseConnection();
    }
  }
  const client = new Recorder();
  const { port, server } = await connectedPair(() => new Chatty(), client);
  await client.lost.promise;
  const lines = client.text().split("\n");
  assert.equal(lines.length, 20001);
  for (let i = 0; i < 20000; i++) assert.equal(lines[i], String(i));
  assert.ok(client.chunks.length < 200, `${client.chunks.length} reads for 20000 writes`);
  await server.lost.promise;
  await port.stopListening();
});

Deno.test("Factory.forProtocol keeps the protocol class, and its name for log contexts", () => {
  class Greeter extends Protocol {}
  const addr = { type: "TCP" as const, host: "127.0.0.1", port: 1 };
  const plain = Factory.forProtocol(Greeter);
  assert.equal(plain.protocol, Greeter);
  const built = plain.buildProtocol(addr) as Greeter;
  assert.ok(built instanceof Greeter);
  assert.equal(built.factory, plain);
  assert.equal(protocolLogPrefix(built), "Greeter");
});

Deno.test("Factory.forProtocol passes its arguments to the factory's constructor, as Twisted", () => {
  class GreetingFactory extends Factory {
    constructor(readonly greeting: string, readonly times = 1) {
      super();
    }
  }
  class Greeter extends Protocol {
    declare factory: GreetingFactory;
  }
  const factory = GreetingFactory.forProtocol(Greeter, "bonjour", 2);
  assert.ok(factory instanceof GreetingFactory);
  assert.equal(factory.greeting, "bonjour");
  assert.equal(factory.times, 2);
  assert.equal(factory.protocol, Greeter);
  const greeter = factory.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 1 }) as Greeter;
  assert.equal(greeter.factory.greeting, "bonjour");
});

Deno.test("Factory.forProtocol's types refuse a protocol that declares another factory class", () => {
  class GreetingFactory extends Factory {
    greeting = "bonjour";
  }
  class Greeter extends Protocol {
    declare factory: GreetingFactory;
  }
  class Plain extends Protocol {}
  // @ts-expect-error: Greeter reads this.factory.greeting, which a plain Factory lacks.
  const wrong = Factory.forProtocol(Greeter);
  assert.equal(wrong.protocol, Greeter); // only the types know: it builds as before
  // A protocol happy with any Factory fits every factory.
  assert.ok(GreetingFactory.forProtocol(Plain) instanceof GreetingFactory);
  assert.ok(GreetingFactory.forProtocol(Greeter) instanceof GreetingFactory);
});

Deno.test("Factory without a protocol class refuses connections loudly, naming itself", async () => {
  class EchoFactory extends Factory {}
  const unset = new EchoFactory();
  assert.throws(
    () => unset.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 1 }),
    (e: unknown) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, /^EchoFactory\.protocol is not set: .*EchoFactory\.forProtocol/);
      return true;
    },
  );
  // Over a real port: logged, that connection closed, the port still listening.
  await withLog(async (events) => {
    const port = reactor.listenTCP(0, unset, { interface: "127.0.0.1" });
    const client = new Recorder();
    reactor.connectTCP("127.0.0.1", port.getHost().port, new OneClientFactory(client));
    assert.ok((await client.lost.promise).check(ConnectionDone));
    const errors = events.filter((e) => e.isError);
    assert.equal(errors.length, 1);
    assert.match(
      textFromEvent(errors[0]),
      /Unhandled error in buildProtocol\n.*protocol is not set/,
    );
    unset.protocol = Recorder;
    const second = new Recorder();
    reactor.connectTCP("127.0.0.1", port.getHost().port, new OneClientFactory(second));
    await second.made.promise;
    second.transport.loseConnection();
    await second.lost.promise;
    await port.stopListening();
  });
});

Deno.test("Factory.buildProtocol returning null closes the connection at once", async () => {
  const serverFactory = new CollectingFactory<Recorder>(() => null);
  const port = reactor.listenTCP(0, serverFactory, { interface: "127.0.0.1" });
  const client = new Recorder();
  const clientFactory = new OneClientFactory(client);
  reactor.connectTCP("127.0.0.1", port.getHost().port, clientFactory);
  const reason = await client.lost.promise;
  assert.ok(reason.check(ConnectionDone));
  assert.equal(client.received, 0);
  assert.equal(serverFactory.built.length, 0);
  assert.deepEqual(clientFactory.events, ["startedConnecting", "clientConnectionLost"]);
  await port.stopListening();
});

Deno.test("StreamTransport half-closes: the peer's readConnectionLost, then a reply", async () => {
  const events: string[] = [];
  class HalfServer extends Recorder {
    readConnectionLost(): void {
      events.push(`server read lost after ${this.text()}`);
      this.transport.write(`you said ${this.text()}`);
      this.transport.loseConnection();
    }
  }
  class HalfClient extends Recorder {
    override connectionMade(): void {
      this.transport.write("hello");
      this.transport.loseWriteConnection();
    }
    writeConnectionLost(): void {
      events.push("client write lost");
    }
    readConnectionLost(): void {
      events.push(`client read lost after ${this.text()}`);
    }
  }
  const client = new HalfClient();
  const { port, server } = await connectedPair(() => new HalfServer(), client);
  const [serverReason, clientReason] = await Promise.all([
    server.lost.promise,
    client.lost.promise,
  ]);
  assert.equal(client.text(), "you said hello");
  assert.ok(serverReason.check(ConnectionDone));
  assert.ok(clientReason.check(ConnectionDone));
  assert.ok(events.includes("server read lost after hello"));
  assert.ok(events.includes("client write lost"));
  assert.ok(events.includes("client read lost after you said hello"));
  assert.equal(server.lostCount, 1);
  assert.equal(client.lostCount, 1);
  await port.stopListening();
});

Deno.test("StreamTransport half-closes from the server; a protocol without readConnectionLost closes", async () => {
  class Announcer extends Recorder {
    override connectionMade(): void {
      this.transport.write("question?");
      this.transport.loseWriteConnection();
    }
    readConnectionLost(): void {
      this.transport.loseConnection();
    }
  }
  /** Not half-closeable: answers, and the end of the question ends the connection. */
  class Answerer extends Recorder {
    override dataReceived(data: Uint8Array): void {
      super.dataReceived(data);
      if (this.text() === "question?") this.transport.write("answer!");
    }
  }
  const client = new Answerer();
  const { port, server } = await connectedPair(() => new Announcer(), client);
  const [serverReason, clientReason] = await Promise.all([
    server.lost.promise,
    client.lost.promise,
  ]);
  assert.equal(server.text(), "answer!", "what was written before the end of file is sent");
  assert.ok(serverReason.check(ConnectionDone));
  assert.ok(clientReason.check(ConnectionDone));
  await port.stopListening();
});

Deno.test("StreamTransport.abortConnection: ConnectionAborted here, a clean or lost end there", async () => {
  class Aborter extends Recorder {
    override connectionMade(): void {
      this.transport.write(new Uint8Array(1024 * 1024));
      this.transport.abortConnection();
      this.transport.abortConnection();
      this.transport.loseConnection();
    }
  }
  const client = new Recorder();
  const { port, server } = await connectedPair(() => new Aborter(), client);
  const [serverReason, clientReason] = await Promise.all([
    server.lost.promise,
    client.lost.promise,
  ]);
  assert.ok(serverReason.check(ConnectionAborted));
  assert.ok(clientReason.check(ConnectionClosed));
  assert.equal(clientReason.check(ConnectionAborted), null);
  assert.ok(client.received < 1024 * 1024, "data pending at the abort is dropped");
  assert.equal(server.connected, false);
  await turn();
  assert.equal(server.lostCount, 1);
  assert.equal(client.lostCount, 1);
  await port.stopListening();
});

Deno.test("Protocol.connectionLost is called exactly once, after connected is set false", async () => {
  let connectedAtLoss: boolean | undefined;
  class Closer extends Recorder {
    override connectionMade(): void {
      this.transport.write("bye");
      this.transport.loseConnection();
      this.transport.loseConnection();
      this.transport.loseWriteConnection();
    }
    override connectionLost(reason: Failure): void {
      connectedAtLoss = this.connected;
      super.connectionLost(reason);
      this.transport.abortConnection();
      this.transport.loseConnection();
    }
  }
  const client = new Recorder();
  const { port, server } = await connectedPair(() => new Closer(), client);
  await Promise.all([server.lost.promise, client.lost.promise]);
  await turn();
  assert.equal(server.lostCount, 1);
  assert.equal(client.lostCount, 1);
  assert.equal(connectedAtLoss, false);
  assert.equal(client.text(), "bye");
  await port.stopListening();
});

/**
 * Serves protocols of class `Fragile`, whose dataReceived fails on "boom", to two clients: the
 * one that sends it is dropped with the error as the reason, and the error logged once under
 * its connection; the other is still served.
 */
async function assertFailureDropsOnlyItsConnection(Fragile: new () => Recorder): Promise<void> {
  await withLog(async (events) => {
    const first = new Recorder();
    const pair = await connectedPair(() => new Fragile(), first);
    await first.made.promise;
    // A second connection to the same port.
    const second = new Recorder();
    reactor.connectTCP("127.0.0.1", pair.portNumber, new OneClientFactory(second));
    await second.made.promise;
    const secondServer = await pair.serverFactory.nth(1);

    first.transport.write("boom");
    const reason = await pair.server.lost.promise;
    assert.ok(reason.check(RangeError), "the connection ends with the error");
    await first.lost.promise;

    second.transport.write("still here");
    while (second.text() !== "still here") await turn();
    second.transport.loseConnection();
    await Promise.all([second.lost.promise, secondServer.lost.promise]);
    assert.ok(secondServer.reason!.check(ConnectionDone));

    const errors = events.filter((e) => e.isError);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].system, `${Fragile.name},0,127.0.0.1`);
    assert.match(textFromEvent(errors[0]), /Unhandled error in dataReceived/);
    assert.match(textFromEvent(errors[0]), /RangeError: poem too long/);
    assert.equal(pair.server.lostCount, 1);
    await pair.port.stopListening();
  });
}

Deno.test("A protocol callback that throws drops only its connection and is logged", async () => {
  class Fragile extends Recorder {
    override dataReceived(data: Uint8Array): void {
      super.dataReceived(data);
      if (this.text() === "boom") throw new RangeError("poem too long");
      this.transport.write(data);
    }
  }
  await assertFailureDropsOnlyItsConnection(Fragile);
});

/**
 * Serves protocols of class `FailsFirst`, whose first connectionMade fails with "not today"
 * and whose later ones write "welcome" and close: the first connection is dropped with that
 * reason and nothing written, the error logged once, and the next connection served.
 */
async function assertConnectionMadeFailureDropsIt(FailsFirst: new () => Recorder): Promise<void> {
  await withLog(async (events) => {
    const first = new Recorder();
    const pair = await connectedPair(() => new FailsFirst(), first);
    const reason = await pair.server.lost.promise;
    assert.match(reason.getErrorMessage(), /not today/);
    await first.lost.promise;
    assert.equal(first.text(), "");
    const second = new Recorder();
    reactor.connectTCP("127.0.0.1", pair.portNumber, new OneClientFactory(second));
    await second.lost.promise;
    assert.equal(second.text(), "welcome");
    await pair.serverFactory.nth(1).then((p) => p.lost.promise);
    const errors = events.filter((e) => e.isError);
    assert.equal(errors.length, 1);
    assert.match(textFromEvent(errors[0]), /Unhandled error in connectionMade/);
    await pair.port.stopListening();
  });
}

Deno.test("A connectionMade that throws drops the connection; the port keeps accepting", async () => {
  let made = 0;
  class FailsFirst extends Recorder {
    override connectionMade(): void {
      if (made++ === 0) throw new Error("not today");
      this.transport.write("welcome");
      this.transport.loseConnection();
    }
  }
  await assertConnectionMadeFailureDropsIt(FailsFirst);
});

Deno.test("An async protocol callback that rejects drops only its connection and is logged", async () => {
  // Without this, the rejection would be unhandled and end the whole process.
  class AsyncFragile extends Recorder {
    override async dataReceived(data: Uint8Array): Promise<void> {
      super.dataReceived(data);
      await turn();
      if (this.text() === "boom") throw new RangeError("poem too long");
      this.transport.write(data);
    }
  }
  await assertFailureDropsOnlyItsConnection(AsyncFragile);
});

Deno.test("An async connectionMade that rejects drops the connection; the port keeps accepting", async () => {
  let made = 0;
  class FailsFirst extends Recorder {
    override async connectionMade(): Promise<void> {
      await turn();
      if (made++ === 0) throw new Error("not today");
      this.transport.write("welcome");
      this.transport.loseConnection();
    }
  }
  await assertConnectionMadeFailureDropsIt(FailsFirst);
});

Deno.test("The receivers' async callbacks that reject, or whose Deferred fails, drop the connection", async () => {
  const bad = new Error("cannot transform");
  const later = (): Promise<void> => turn();
  const ReceiverCases: [string, string, () => Protocol][] = [
    ["lineReceived", "bad\r\n", () =>
      new class extends LineReceiver {
        override async lineReceived(): Promise<void> {
          await later();
          throw bad;
        }
      }()],
    ["rawDataReceived", "raw", () =>
      new class extends LineReceiver {
        override connectionMade(): void {
          this.setRawMode();
        }
        override async rawDataReceived(): Promise<void> {
          await later();
          throw bad;
        }
      }()],
    ["lineReceived", "bad\n", () =>
      new class extends LineOnlyReceiver {
        override delimiter = "\n";
        override async lineReceived(): Promise<void> {
          await later();
          throw bad;
        }
      }()],
    ["lineLengthExceeded", "x".repeat(20), () =>
      new class extends LineReceiver {
        override MAX_LENGTH = 10;
        override async lineLengthExceeded(): Promise<void> {
          await later();
          throw bad;
        }
      }()],
    ["stringReceived", "3:bad,", () =>
      new class extends NetstringReceiver {
        // A Deferred, as inlineCallbacks or a Deferred-returning lookup gives.
        override stringReceived(): Deferred<void> {
          return deferLater(reactor, 0, () => {
            throw bad;
          });
        }
      }()],
    ["stringReceived", "\0\0\0\x03bad", () =>
      new class extends Int32StringReceiver {
        override async stringReceived(): Promise<void> {
          await later();
          throw bad;
        }
      }()],
    ["lengthLimitExceeded", "\xff\xff\xff\xff", () =>
      new class extends Int32StringReceiver {
        override async lengthLimitExceeded(): Promise<void> {
          await later();
          throw bad;
        }
      }()],
  ];
  for (const [name, input, make] of ReceiverCases) {
    await withLog(async (events) => {
      const client = new Recorder();
      const serverLost = Promise.withResolvers<Failure>();
      const pair = await connectedPair(() => {
        const server = make();
        server.connectionLost = (reason) => serverLost.resolve(reason);
        return server;
      }, client);
      await client.made.promise;
      client.transport.write(input);
      const reason = await serverLost.promise;
      assert.equal(reason.value, bad, name);
      await client.lost.promise;
      const errors = events.filter((e) => e.isError);
      assert.equal(errors.length, 1, name);
      assert.match(textFromEvent(errors[0]), new RegExp(`Unhandled error in ${name}\\b`));
      await pair.port.stopListening();
    });
  }
});

Deno.test("A rejected promise from connectionLost is logged", async () => {
  class LosesBadly extends Recorder {
    override async connectionLost(reason: Failure): Promise<void> {
      super.connectionLost(reason);
      await turn();
      throw new Error("could not save the session");
    }
  }
  await withLog(async (events) => {
    const client = new Recorder();
    const pair = await connectedPair(() => new LosesBadly(), client);
    await client.made.promise;
    client.transport.loseConnection();
    await pair.server.lost.promise;
    while (!events.some((e) => e.isError)) await turn();
    const errors = events.filter((e) => e.isError);
    assert.equal(errors.length, 1);
    assert.match(textFromEvent(errors[0]), /Unhandled error in connectionLost/);
    assert.match(textFromEvent(errors[0]), /could not save the session/);
    assert.equal(pair.server.lostCount, 1);
    await pair.port.stopListening();
  });
});

Deno.test("StreamTransport logs protocol calls in Twisted's contexts", async () => {
  const systems: Record<string, string> = {};
  class Server extends Recorder {
    override connectionMade(): void {
      msg("made");
      systems.serverMade = (events.at(-1) as LogEvent).system;
    }
    override dataReceived(data: Uint8Array): void {
      super.dataReceived(data);
      msg("data");
      systems.serverData = (events.at(-1) as LogEvent).system;
      this.transport.loseConnection();
    }
  }
  class Client extends Recorder {
    override connectionMade(): void {
      msg("made");
      systems.clientMade = (events.at(-1) as LogEvent).system;
      this.transport.write("hi");
      super.connectionMade();
    }
    override connectionLost(reason: Failure): void {
      msg("lost");
      systems.clientLost = (events.at(-1) as LogEvent).system;
      super.connectionLost(reason);
    }
  }
  const events: LogEvent[] = [];
  const observer = (e: LogEvent) => void events.push(e);
  addObserver(observer);
  try {
    const client = new Client();
    const { port, server, portNumber, serverFactory } = await connectedPair(
      () => new Server(),
      client,
    );
    await Promise.all([client.lost.promise, server.lost.promise]);
    await port.stopListening();
    const texts = events.map((e) => textFromEvent(e));
    assert.ok(texts.includes(`${serverFactory.logPrefix()} starting on ${portNumber}`));
    const closed = events.find((e) => textFromEvent(e) === `(TCP Port ${portNumber} Closed)`);
    assert.equal(closed?.system, "CollectingFactory");
    assert.deepEqual(systems, {
      serverMade: "CollectingFactory",
      serverData: "Server,0,127.0.0.1",
      clientMade: "Client,client",
      clientLost: "Client,client",
    });
  } finally {
    removeObserver(observer);
  }
});

Deno.test("Protocol.logPrefix names the connection's log lines, the class name by default", async () => {
  class Server extends Recorder {
    override logPrefix(): string {
      return "Poetry";
    }
    override dataReceived(data: Uint8Array): void {
      super.dataReceived(data);
      msg("data");
      this.transport.loseConnection();
    }
  }
  assert.equal(new Recorder().logPrefix(), "Recorder");
  await withLog(async (events) => {
    const client = new Recorder();
    const { port, server } = await connectedPair(() => new Server(), client);
    client.transport.write("hi");
    await Promise.all([client.lost.promise, server.lost.promise]);
    await port.stopListening();
    const data = events.find((e) => textFromEvent(e) === "data");
    assert.equal(data?.system, "Poetry,0,127.0.0.1");
  });
});

Deno.test("StreamTransport reports TCP addresses and accepts TCP options", async () => {
  const client = new Recorder();
  const { port, server, portNumber } = await connectedPair(() => new Recorder(), client);
  await client.made.promise;
  const serverHost = server.transport.getHost();
  const clientPeer = client.transport.getPeer();
  assert.deepEqual(serverHost, { type: "TCP", host: "127.0.0.1", port: portNumber });
  assert.deepEqual(clientPeer, serverHost);
  assert.deepEqual(server.transport.getPeer(), client.transport.getHost());
  client.transport.setTcpNoDelay(true);
  client.transport.setTcpKeepAlive(true);
  assert.equal(client.transport.disconnecting, false);
  client.transport.loseConnection();
  assert.equal(client.transport.disconnecting, true);
  await Promise.all([client.lost.promise, server.lost.promise]);
  await port.stopListening();
});

Deno.test("StreamTransport stops a registered producer when the connection ends", async () => {
  class Idle implements PushProducer {
    stopped = 0;
    pauseProducing(): void {}
    resumeProducing(): void {}
    stopProducing(): void {
      this.stopped++;
    }
  }
  const producer = new Idle();
  class Registers extends Recorder {
    override connectionMade(): void {
      this.transport.registerProducer(producer, true);
      assert.throws(() => this.transport.registerProducer(new Idle(), true), /never unregistered/);
    }
  }
  const client = new Recorder();
  const { port, server } = await connectedPair(() => new Registers(), client);
  await client.made.promise;
  client.transport.loseConnection();
  const reason = await server.lost.promise;
  assert.ok(reason.check(ConnectionDone));
  assert.equal(producer.stopped, 1);
  // Registering on a closed transport stops the producer at once.
  const late = new Idle();
  server.transport.registerProducer(late, true);
  assert.equal(late.stopped, 1);
  await client.lost.promise;
  await port.stopListening();
});

Deno.test("A connection reset by the peer while data is in flight ends with ConnectionLost", async () => {
  let producer: PatternProducer | undefined;
  class Flood extends Recorder {
    override connectionMade(): void {
      producer = new PatternProducer(this, Number.MAX_SAFE_INTEGER, 64 * 1024);
      producer.start();
    }
  }
  /** Stops reading at the first chunk, so the sender's buffers fill up. */
  class Abandons extends Recorder {
    override dataReceived(data: Uint8Array): void {
      super.dataReceived(data);
      this.transport.pauseProducing();
    }
  }
  const client = new Abandons();
  const { port, server } = await connectedPair(() => new Flood(), client);
  while (client.received === 0 || !producer?.paused) await turn();
  // Closing with unread data makes the system send a reset; the sender's write fails.
  client.transport.abortConnection();
  assert.ok((await client.lost.promise).check(ConnectionAborted));
  const reason = await server.lost.promise;
  assert.ok(reason.check(ConnectionLost), String(reason));
  assert.equal(reason.check(ConnectionAborted), null);
  assert.equal(producer!.stopped, true, "the producer is stopped when the connection is lost");
  await port.stopListening();
});
