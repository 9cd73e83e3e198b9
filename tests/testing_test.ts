import assert from "node:assert/strict";
import { ConnectionAborted, ConnectionDone } from "../error.ts";
import type { Failure } from "../failure.ts";
import { Protocol } from "../protocols/protocol.ts";
import { StringTransport, StringTransportWithDisconnection } from "../testing.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

Deno.test("StringTransport records writes in order as bytes and UTF-8 text", () => {
  const t = new StringTransport();
  assert.deepEqual(t.value(), new Uint8Array(0));
  t.write(bytes("Roses "));
  t.write("are réd");
  t.writeSequence([bytes("\n"), "Violets"]);
  assert.deepEqual(t.value(), bytes("Roses are réd\nViolets"));
  assert.equal(t.valueText(), "Roses are réd\nViolets");
  t.write("!");
  assert.equal(t.valueText(), "Roses are réd\nViolets!");
});

Deno.test("StringTransport copies written arrays so later changes do not alter the record", () => {
  const t = new StringTransport();
  const buffer = bytes("abc");
  t.write(buffer);
  buffer[0] = 0x7a;
  assert.equal(t.valueText(), "abc");
});

Deno.test("StringTransport.clear forgets what was written but keeps its flags", () => {
  const t = new StringTransport();
  t.write("old");
  t.loseConnection();
  t.clear();
  assert.equal(t.value().length, 0);
  t.write("new");
  assert.equal(t.valueText(), "new");
  assert.equal(t.disconnecting, true);
});

Deno.test("StringTransport.write rejects values that are neither bytes nor strings", () => {
  const t = new StringTransport();
  assert.throws(() => t.write(42 as unknown as string), {
    name: "TypeError",
    message: /Uint8Array or a string, not number/,
  });
  assert.throws(() => t.writeSequence([{} as unknown as string]), TypeError);
});

Deno.test("StringTransport.loseConnection sets disconnecting and writes are still recorded", () => {
  const t = new StringTransport();
  assert.equal(t.disconnecting, false);
  t.loseConnection();
  assert.equal(t.disconnecting, true);
  assert.equal(t.aborted, false);
  t.write("late");
  assert.equal(t.valueText(), "late");
});

Deno.test("StringTransport.abortConnection sets aborted and disconnecting", () => {
  const t = new StringTransport();
  t.abortConnection();
  assert.equal(t.aborted, true);
  assert.equal(t.disconnecting, true);
});

Deno.test("StringTransport.loseWriteConnection sets writeConnectionLost only", () => {
  const t = new StringTransport();
  t.loseWriteConnection();
  assert.equal(t.writeConnectionLost, true);
  assert.equal(t.disconnecting, false);
});

Deno.test("StringTransport addresses default to Twisted's and can be chosen", () => {
  const t = new StringTransport();
  assert.deepEqual(t.getPeer(), { type: "TCP", host: "192.168.1.1", port: 54321 });
  assert.deepEqual(t.getHost(), { type: "TCP", host: "10.0.0.1", port: 12345 });
  const u = new StringTransport({
    peer: { type: "UNIX", path: "/tmp/peer.sock" },
    host: { type: "TCP", host: "127.0.0.1", port: 10000 },
  });
  assert.deepEqual(u.getPeer(), { type: "UNIX", path: "/tmp/peer.sock" });
  assert.deepEqual(u.getHost(), { type: "TCP", host: "127.0.0.1", port: 10000 });
});

Deno.test("StringTransport records setTcpNoDelay and setTcpKeepAlive", () => {
  const t = new StringTransport();
  assert.equal(t.tcpNoDelay, undefined);
  assert.equal(t.tcpKeepAlive, undefined);
  t.setTcpNoDelay(true);
  t.setTcpKeepAlive(false);
  assert.equal(t.tcpNoDelay, true);
  assert.equal(t.tcpKeepAlive, false);
});

Deno.test("StringTransport registers one producer at a time", () => {
  const t = new StringTransport();
  const push = { pauseProducing() {}, resumeProducing() {}, stopProducing() {} };
  t.registerProducer(push, true);
  assert.equal(t.producer, push);
  assert.equal(t.streaming, true);
  assert.throws(() => t.registerProducer(push, true), /second producer/);
  t.unregisterProducer();
  assert.equal(t.producer, undefined);
  assert.equal(t.streaming, undefined);
  assert.throws(() => t.unregisterProducer(), /none is registered/);
  const pull = { resumeProducing() {}, stopProducing() {} };
  t.registerProducer(pull, false);
  assert.equal(t.streaming, false);
});

Deno.test("StringTransport records its producer state and refuses to resume once stopped", () => {
  const t = new StringTransport();
  assert.equal(t.producerState, "producing");
  t.pauseProducing();
  assert.equal(t.producerState, "paused");
  t.resumeProducing();
  assert.equal(t.producerState, "producing");
  t.stopProducing();
  assert.equal(t.producerState, "stopped");
  assert.throws(() => t.resumeProducing(), /stopped/);
  assert.throws(() => t.pauseProducing(), /stopped/);
});

Deno.test("StringTransport refuses pause and resume after loseConnection unless lenient", () => {
  const strict = new StringTransport();
  strict.loseConnection();
  assert.throws(() => strict.resumeProducing(), /after loseConnection/);
  assert.throws(() => strict.pauseProducing(), /after loseConnection/);
  const lenient = new StringTransport({ lenient: true });
  lenient.loseConnection();
  lenient.pauseProducing();
  lenient.resumeProducing();
  assert.equal(lenient.producerState, "producing");
});

Deno.test("StringTransport is a Transport a protocol can be connected to", () => {
  class Greeter extends Protocol {
    override connectionMade(): void {
      this.transport.write("hello\r\n");
      this.transport.loseConnection();
    }
  }
  const t = new StringTransport();
  const p = new Greeter();
  p.makeConnection(t);
  assert.equal(p.connected, true);
  assert.equal(p.transport, t);
  assert.equal(t.valueText(), "hello\r\n");
  assert.equal(t.disconnecting, true);
});

class Recorder extends Protocol {
  reasons: Failure[] = [];
  connectedWhenLost: boolean[] = [];
  override connectionLost(reason: Failure): void {
    this.connectedWhenLost.push(this.connected);
    this.reasons.push(reason);
  }
}

Deno.test("StringTransportWithDisconnection.loseConnection calls connectionLost once with ConnectionDone", () => {
  const t = new StringTransportWithDisconnection();
  const p = new Recorder();
  t.protocol = p;
  p.makeConnection(t);
  assert.equal(t.connected, true);
  t.loseConnection();
  t.loseConnection();
  t.abortConnection();
  assert.equal(p.reasons.length, 1);
  assert.ok(p.reasons[0].check(ConnectionDone));
  assert.match(p.reasons[0].getErrorMessage(), /192\.168\.1\.1:54321/);
  assert.deepEqual(p.connectedWhenLost, [false]);
  assert.equal(p.connected, false);
  assert.equal(t.connected, false);
  assert.equal(t.disconnecting, true);
});

Deno.test("StringTransportWithDisconnection.abortConnection calls connectionLost once with ConnectionAborted", () => {
  const t = new StringTransportWithDisconnection();
  const p = new Recorder();
  t.protocol = p;
  p.makeConnection(t);
  t.abortConnection();
  t.loseConnection();
  assert.equal(p.reasons.length, 1);
  assert.ok(p.reasons[0].check(ConnectionAborted));
  assert.equal(t.aborted, true);
  assert.equal(t.disconnecting, true);
  assert.equal(p.connected, false);
});

Deno.test("StringTransportWithDisconnection tells a protocol that hangs up inside connectionLost only once", () => {
  class HangUpAgain extends Recorder {
    override connectionLost(reason: Failure): void {
      super.connectionLost(reason);
      this.transport.loseConnection();
    }
  }
  const t = new StringTransportWithDisconnection();
  const p = new HangUpAgain();
  t.protocol = p;
  p.makeConnection(t);
  t.loseConnection();
  assert.equal(p.reasons.length, 1);
});

Deno.test("StringTransportWithDisconnection refuses to lose a connection with no protocol attached", () => {
  const t = new StringTransportWithDisconnection();
  assert.throws(() => t.loseConnection(), /no protocol/);
  const p = new Recorder();
  t.protocol = p;
  p.makeConnection(t);
  t.loseConnection();
  assert.equal(p.reasons.length, 1);
});
