// TimeoutMixin (protocols/timeout.ts): Twisted's TimeoutMixin semantics on a Clock with a
// StringTransport, then over real loopback sockets on the reactor's own time.

import assert from "node:assert/strict";
import { ConnectionDone } from "../error.ts";
import { Failure } from "../failure.ts";
import { Protocol } from "../protocols/protocol.ts";
import { LineReceiver } from "../protocols/line_receiver.ts";
import { TimeoutMixin } from "../protocols/timeout.ts";
import { Clock } from "../task.ts";
import { StringTransport } from "../testing.ts";
import { connectedPair, Recorder } from "./fixtures/loopback.ts";

/** A protocol with a timeout on `clock`, recording the timeouts and the end of the connection. */
class Timed extends TimeoutMixin(Protocol) {
  timeouts = 0;
  lost: Failure[] = [];

  constructor(readonly clock: Clock) {
    super();
  }

  override callLater(seconds: number, fn: () => void) {
    return this.clock.callLater(seconds, fn);
  }

  override timeoutConnection(): void {
    this.timeouts++;
    super.timeoutConnection();
  }

  override connectionLost(reason: Failure): void {
    this.lost.push(reason);
    super.connectionLost(reason);
  }
}

function timed(): { clock: Clock; protocol: Timed; transport: StringTransport } {
  const clock = new Clock();
  const protocol = new Timed(clock);
  const transport = new StringTransport();
  protocol.makeConnection(transport);
  return { clock, protocol, transport };
}

Deno.test("TimeoutMixin: nothing times out until setTimeout is called", () => {
  const { clock, protocol, transport } = timed();
  assert.equal(protocol.timeOut, null);
  clock.advance(1e6);
  assert.equal(protocol.timeouts, 0);
  assert.equal(transport.disconnecting, false);
  assert.deepEqual(clock.getDelayedCalls(), []);
});

Deno.test("TimeoutMixin: the timeout runs out after the period and closes the connection", () => {
  const { clock, protocol, transport } = timed();
  assert.equal(protocol.setTimeout(10), null, "the previous period");
  assert.equal(protocol.timeOut, 10);
  clock.advance(9.9);
  assert.equal(transport.disconnecting, false);
  clock.advance(0.1);
  assert.equal(protocol.timeouts, 1);
  assert.equal(transport.disconnecting, true, "loseConnection, as in Twisted");
  assert.deepEqual(clock.getDelayedCalls(), []);
  clock.advance(100);
  assert.equal(protocol.timeouts, 1, "once");
});

Deno.test("TimeoutMixin: resetTimeout starts the count-down again from timeOut", () => {
  const { clock, protocol } = timed();
  protocol.setTimeout(10);
  clock.advance(6);
  protocol.resetTimeout();
  clock.advance(9.9);
  assert.equal(protocol.timeouts, 0);
  clock.advance(0.1);
  assert.equal(protocol.timeouts, 1);
  // Once it has run out, a reset starts nothing.
  protocol.resetTimeout();
  assert.deepEqual(clock.getDelayedCalls(), []);
});

Deno.test("TimeoutMixin: setTimeout moves a timeout under way and returns the previous period", () => {
  const { clock, protocol } = timed();
  protocol.setTimeout(10);
  clock.advance(5);
  assert.equal(protocol.setTimeout(3), 10);
  assert.equal(clock.getDelayedCalls().length, 1, "moved, not added");
  clock.advance(2.9);
  assert.equal(protocol.timeouts, 0);
  clock.advance(0.1);
  assert.equal(protocol.timeouts, 1, "3 seconds from the second setTimeout");
});

Deno.test("TimeoutMixin: setTimeout(null) cancels it; resetTimeout then does nothing", () => {
  const { clock, protocol, transport } = timed();
  protocol.setTimeout(10);
  assert.equal(protocol.setTimeout(null), 10);
  assert.equal(protocol.timeOut, null);
  assert.deepEqual(clock.getDelayedCalls(), []);
  protocol.resetTimeout();
  assert.deepEqual(clock.getDelayedCalls(), []);
  clock.advance(100);
  assert.equal(protocol.timeouts, 0);
  assert.equal(transport.disconnecting, false);
  assert.equal(protocol.setTimeout(null), null, "cancelling nothing is fine");
});

Deno.test("TimeoutMixin: a bad period throws RangeError and changes nothing", () => {
  const { clock, protocol } = timed();
  protocol.setTimeout(10);
  for (const period of [-1, NaN]) assert.throws(() => protocol.setTimeout(period), RangeError);
  assert.equal(protocol.timeOut, 10);
  clock.advance(10);
  assert.equal(protocol.timeouts, 1, "the timeout set before still runs out on time");
});

Deno.test("TimeoutMixin: losing the connection cancels the timeout and still reaches the subclass", () => {
  const { clock, protocol, transport } = timed();
  protocol.setTimeout(10);
  transport.loseConnection();
  protocol.connectionLost(new Failure(new ConnectionDone()));
  assert.equal(protocol.lost.length, 1);
  assert.deepEqual(clock.getDelayedCalls(), [], "no timer left behind");
  assert.equal(protocol.timeOut, 10, "the period is kept");
  clock.advance(100);
  assert.equal(protocol.timeouts, 0);
});

Deno.test("TimeoutMixin: a Clock's callLater can be assigned, as Twisted tests do", () => {
  const clock = new Clock();
  const protocol = new (TimeoutMixin(Protocol))();
  protocol.callLater = clock.callLater;
  const transport = new StringTransport();
  protocol.makeConnection(transport);
  protocol.setTimeout(2);
  clock.advance(2);
  assert.equal(transport.disconnecting, true);
});

Deno.test("TimeoutMixin: an overridden timeoutConnection decides what a timeout does", () => {
  const clock = new Clock();
  const said: string[] = [];
  class Patient extends TimeoutMixin(LineReceiver) {
    override timeOut = 5;
    override connectionMade(): void {
      this.setTimeout(this.timeOut);
    }
    override dataReceived(data: Uint8Array): void {
      this.resetTimeout();
      super.dataReceived(data);
    }
    override lineReceived(line: Uint8Array): void {
      said.push(new TextDecoder().decode(line));
    }
    override timeoutConnection(): void {
      this.sendLine("still there?");
      this.setTimeout(this.timeOut);
    }
    override callLater(seconds: number, fn: () => void) {
      return clock.callLater(seconds, fn);
    }
  }
  const transport = new StringTransport();
  const protocol = new Patient();
  protocol.makeConnection(transport);
  clock.advance(4);
  protocol.dataReceived(new TextEncoder().encode("hi\r\n"));
  clock.advance(4);
  assert.equal(transport.valueText(), "", "data arrived: the count-down started again");
  clock.advance(1);
  assert.equal(transport.valueText(), "still there?\r\n");
  clock.advance(5);
  assert.equal(transport.valueText(), "still there?\r\nstill there?\r\n");
  assert.equal(transport.disconnecting, false);
  assert.deepEqual(said, ["hi"]);
  protocol.connectionLost(new Failure(new ConnectionDone()));
  assert.deepEqual(clock.getDelayedCalls(), []);
});

/** A server that waits `timeOut` seconds for each line on the reactor's time, echoing lines. */
class IdleServer extends TimeoutMixin(LineReceiver) {
  override timeOut = 0.2;
  readonly lost: PromiseWithResolvers<Failure> = Promise.withResolvers<Failure>();
  override connectionMade(): void {
    this.setTimeout(this.timeOut);
  }
  override lineReceived(line: Uint8Array): void {
    this.resetTimeout();
    this.sendLine(line);
  }
  override connectionLost(reason: Failure): void {
    super.connectionLost(reason);
    this.lost.resolve(reason);
  }
}

Deno.test("TimeoutMixin over loopback: a silent client is closed, a talking one is kept", async () => {
  const silent = new Recorder();
  const a = await connectedPair(() => new IdleServer(), silent);
  const started = performance.now();
  try {
    await silent.lost.promise;
    const waited = (performance.now() - started) / 1000;
    assert.ok(waited >= 0.15 && waited < 5, `closed after ${waited} s`);
    assert.ok((await a.server.lost.promise).check(ConnectionDone));
    assert.ok(silent.reason?.check(ConnectionDone), "closed cleanly by the server");

    // A client that sends a line every 0.05 s for 0.5 s outlives several periods.
    const talker = new Recorder();
    a.connector.disconnect();
    const b = await connectedPair(() => new IdleServer(), talker);
    try {
      await talker.made.promise;
      for (let i = 0; i < 10; i++) {
        talker.transport.write(`line ${i}\r\n`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(talker.lostCount, 0, "still connected after 0.5 s");
      assert.ok(talker.text().startsWith("line 0\r\nline 1\r\n"), talker.text());
      await talker.lost.promise; // and closed once it goes quiet
    } finally {
      b.connector.disconnect();
      await b.port.stopListening();
    }
  } finally {
    await a.port.stopListening();
  }
});

Deno.test("TimeoutMixin over loopback: a client that leaves first leaves no timer behind", async () => {
  // The sanitizers fail this test if the server's 60-second timeout outlives the connection.
  class Long extends IdleServer {
    override timeOut = 60;
  }
  const client = new Recorder();
  const pair = await connectedPair(() => new Long(), client);
  try {
    await client.made.promise;
    client.transport.loseConnection();
    await pair.server.lost.promise;
    await client.lost.promise;
  } finally {
    await pair.port.stopListening();
  }
});
