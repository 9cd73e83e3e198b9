import assert from "node:assert/strict";
import { AssertionError } from "node:assert";
import {
  CancelledError,
  Deferred,
  fail,
  reportUnhandledErrors,
  setDebugging,
  succeed,
  TimeoutError,
} from "../defer.ts";
import {
  ConnectError,
  ConnectionAborted,
  ConnectionDone,
  ConnectionLost,
  ConnectionRefusedError,
  ReactorAlreadyRunning,
} from "../error.ts";
import type { Failure } from "../failure.ts";
import { err } from "../log.ts";
import { ClientFactory, type Connector, Factory, ServerFactory } from "../protocols/factory.ts";
import {
  type Address,
  Protocol,
  type PullProducer,
  type PushProducer,
  type TCPAddress,
} from "../protocols/protocol.ts";
import { reactor as realReactor, type ReactorTCP, type ReactorTime } from "../reactor.ts";
import { Clock, deferLater } from "../task.ts";
import { LineReceiver } from "../protocols/line_receiver.ts";
import { PoetryFactory, PoetryService } from "../services/fastpoetry.ts";
import { PoetryClientFactory as GetPoetryClientFactory } from "../services/get.ts";
import { poems } from "../poetry/poems.ts";
import {
  assertFailure,
  assertNoResult,
  collapsingPumpPolicy,
  connectedServerAndClient,
  connectProtocol,
  failureResultOf,
  flushLoggedErrors,
  identityPumpPolicy,
  LoggedErrorsError,
  loopbackAsync,
  MemoryReactor,
  type ReactorLike,
  StringTransport,
  StringTransportWithDisconnection,
  successResultOf,
  timeoutAfter,
  withLoggedErrors,
} from "../testing.ts";

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

Deno.test("StringTransport.writeSequence records nothing of a call with a piece of the wrong type", () => {
  const t = new StringTransport();
  t.write("before ");
  assert.throws(() => t.writeSequence(["a", bytes("b"), 42 as unknown as string]), {
    name: "TypeError",
    message: /writeSequence takes a Uint8Array or a string, not number/,
  });
  // Twisted's joins the pieces before writing, so a bad piece leaves the record as it was.
  assert.equal(t.valueText(), "before ");
  // Something that is not a sequence at all is refused too, not taken as an empty one.
  for (const notASequence of [5, { length: 2 }, null]) {
    assert.throws(() => t.writeSequence(notASequence as unknown as string[]), {
      name: "TypeError",
      message: /writeSequence takes an iterable of Uint8Arrays or strings/,
    });
  }
  assert.equal(t.valueText(), "before ");
});

Deno.test("On a StringTransport an async callback's promise is left alone: a rejection fails the test", () => {
  // The reactor's transports log a rejection and drop the connection; a test double that did
  // the same would let a test pass over the error.
  let observed = 0;
  const pending: PromiseLike<void> = {
    then() {
      observed++;
      return this as never;
    },
  };
  class Async extends LineReceiver {
    override connectionMade(): PromiseLike<void> {
      return pending;
    }
    override lineReceived(): PromiseLike<void> {
      return pending;
    }
  }
  const t = new StringTransport();
  const p = new Async();
  p.makeConnection(t);
  p.dataReceived(new TextEncoder().encode("a poem\r\n"));
  assert.equal(observed, 0);
  assert.equal(t.disconnecting, false);
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

Deno.test("StringTransport.disconnected is set by abortConnection only, as Twisted's attribute", () => {
  const closed = new StringTransport();
  closed.loseConnection();
  assert.equal(closed.disconnected, false);
  const aborted = new StringTransport();
  aborted.abortConnection();
  assert.equal(aborted.disconnected, true);
  const withProtocol = new StringTransportWithDisconnection();
  connectProtocol(new Protocol(), withProtocol);
  withProtocol.abortConnection();
  assert.equal(withProtocol.disconnected, true);
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

// ---- assertFailure ----

Deno.test("assertFailure succeeds with the error when the Deferred fails with an expected type", async () => {
  const error = new ConnectionRefusedError("127.0.0.1:10001");
  const got = await assertFailure(fail(error), TypeError, ConnectionRefusedError);
  assert.equal(got, error);
  assert.equal(got.where, "127.0.0.1:10001");
});

Deno.test("assertFailure accepts a subclass of an expected type", async () => {
  const got = await assertFailure(fail(new ConnectionAborted()), ConnectionDone, Error);
  assert.ok(got instanceof ConnectionAborted);
});

Deno.test("assertFailure fails with an AssertionError naming the types for another error", async () => {
  const d = assertFailure(fail(new RangeError("poem too long")), TypeError, ConnectionDone);
  await assert.rejects(d.asPromise(), (e: unknown) => {
    assert.ok(e instanceof AssertionError);
    assert.match(e.message, /expected a failure with TypeError or ConnectionDone/);
    assert.match(e.message, /failed with:\nRangeError: poem too long/);
    return true;
  });
});

Deno.test("assertFailure fails with an AssertionError when the Deferred succeeds", async () => {
  const d = assertFailure(succeed({ poem: "Roses are red" }), TypeError);
  await assert.rejects(d.asPromise(), (e: unknown) => {
    assert.ok(e instanceof AssertionError);
    assert.match(e.message, /expected a failure with TypeError/);
    assert.match(e.message, /succeeded with \{ poem: "Roses are red" \}/);
    return true;
  });
});

Deno.test("assertFailure works on a Deferred that fires later and returns that Deferred", async () => {
  const d = new Deferred<string>();
  const checked = assertFailure(d, CancelledError);
  assert.equal(checked as unknown, d);
  d.cancel();
  assert.ok((await checked) instanceof CancelledError);
});

Deno.test("assertFailure works with promises", async () => {
  const got = await assertFailure(Promise.reject(new TypeError("not a poem")), TypeError);
  assert.equal(got.message, "not a poem");
  await assert.rejects(
    assertFailure(Promise.resolve(3), TypeError).asPromise(),
    /succeeded with 3/,
  );
});

Deno.test(
  "assertFailure handles the failure it checks, leaving nothing unhandled",
  withLoggedErrors(async () => {
    await assertFailure(fail(new RangeError("x")), RangeError);
  }),
);

// The name-only form of Deno.test: it throws at once if the wrapper has lost the name.
Deno.test(withLoggedErrors(function withLoggedErrors_keeps_the_name_of_the_test() {
  assert.equal(withLoggedErrors(function named() {}).name, "named");
}));

Deno.test("assertFailure refuses to be called without an error type", () => {
  assert.throws(() => assertFailure(succeed(1)), TypeError);
});

// ---- successResultOf, failureResultOf, assertNoResult ----

/** Deferreds that have no result now, each for another reason. */
function withoutResults(): [string, Deferred<string>][] {
  const paused = new Deferred<string>();
  paused.pause();
  paused.callback("held back");
  const waiting = succeed("outer").addCallback(() => new Deferred<string>());
  return [["unfired", new Deferred<string>()], ["paused", paused], ["waiting", waiting]];
}

Deno.test("successResultOf returns the result now and leaves it for later callbacks", () => {
  const clock = new Clock();
  const d = deferLater(clock, 5, () => "Roses are red");
  clock.advance(5);
  assert.equal(successResultOf(d), "Roses are red");
  let later: string | undefined;
  d.addCallback((poem) => void (later = poem));
  assert.equal(later, "Roses are red");
});

Deno.test("successResultOf fails on a Deferred with no result yet", () => {
  for (const [why, d] of withoutResults()) {
    assert.throws(() => successResultOf(d), (e: unknown) => {
      assert.ok(e instanceof AssertionError, why);
      assert.match(e.message, /^Success result expected on Deferred \(.*\), found no result/);
      return true;
    });
  }
});

Deno.test(
  "successResultOf fails on a failure, showing its traceback, and handles it",
  withLoggedErrors(() => {
    const d = fail(new RangeError("poem too long"));
    assert.throws(() => successResultOf(d), (e: unknown) => {
      assert.ok(e instanceof AssertionError);
      assert.match(e.message, /found failure result instead:\nRangeError: poem too long\n/);
      return true;
    });
    assert.equal(reportUnhandledErrors(), 0);
  }),
);

Deno.test("successResultOf refuses a promise, which never has a result yet", () => {
  assert.throws(
    () => successResultOf(Promise.resolve(1) as unknown as Deferred<number>),
    /expected a Deferred, got Promise/,
  );
});

Deno.test(
  "failureResultOf returns the failure now and handles it",
  withLoggedErrors(() => {
    const clock = new Clock();
    const d = new Deferred<string>().addTimeout(10, clock);
    clock.advance(10);
    const failure = failureResultOf(d, TimeoutError);
    assert.equal(failure.value.seconds, 10, "typed as the error asked for: no cast");
    assert.ok(failure.value instanceof TimeoutError);
    assert.equal(failure.getErrorMessage(), "Deferred timed out after 10 seconds");
    assert.equal(successResultOf(d), undefined);
    assert.equal(reportUnhandledErrors(), 0);
  }),
);

Deno.test("failureResultOf takes any failure without types, and a subclass of one given", () => {
  assert.equal(failureResultOf(fail("just a string")).value, "just a string");
  const refused = new ConnectionRefusedError("127.0.0.1:10001");
  assert.equal(failureResultOf(fail(refused), TypeError, ConnectError).value, refused);
});

Deno.test(
  "failureResultOf fails on another error, naming the types expected, and handles it",
  withLoggedErrors(() => {
    const d = fail(new RangeError("poem too long"));
    assert.throws(() => failureResultOf(d, TypeError, ConnectionDone), (e: unknown) => {
      assert.ok(e instanceof AssertionError);
      assert.match(
        e.message,
        /^Failure of type \(TypeError or ConnectionDone\) expected on Deferred \(fired: .*RangeError.*\), found \[Failure RangeError: poem too long\] instead:\nRangeError: poem too long\n/,
      );
      return true;
    });
    assert.equal(reportUnhandledErrors(), 0);
  }),
);

Deno.test("failureResultOf fails on a success result and on no result", () => {
  assert.throws(
    () => failureResultOf(succeed({ poem: "Roses" })),
    {
      message: 'Failure result expected on Deferred (fired: { poem: "Roses" }), ' +
        'found success result ({ poem: "Roses" }) instead',
    },
  );
  for (const [why, d] of withoutResults()) {
    assert.throws(() => failureResultOf(d), /found no result instead$/, why);
  }
});

Deno.test("assertNoResult passes while there is no result, and changes nothing", () => {
  const clock = new Clock();
  const d = deferLater(clock, 1, () => "late");
  clock.advance(0.5);
  assertNoResult(d);
  clock.advance(0.5);
  assert.equal(successResultOf(d), "late");
  for (const [, waiting] of withoutResults()) assertNoResult(waiting);
});

Deno.test("assertNoResult does not swallow a failure that arrives after it passed", () => {
  const d = new Deferred<string>();
  assertNoResult(d);
  let caught: unknown;
  d.addErrback((failure) => void (caught = failure.value));
  const error = new Error("arrived later");
  d.errback(error);
  assert.equal(caught, error);
});

Deno.test(
  "assertNoResult fails on a result, keeping a success and handling a failure",
  withLoggedErrors(() => {
    const d = succeed(3);
    assert.throws(() => assertNoResult(d), {
      name: "AssertionError",
      message: "No result expected on Deferred (fired: 3), found 3 instead",
    });
    assert.equal(successResultOf(d), 3);
    const failed = fail(new RangeError("poem too long"));
    assert.throws(() => assertNoResult(failed), /found \[Failure RangeError: poem too long\]/);
    assert.equal(reportUnhandledErrors(), 0);
  }),
);

// ---- MemoryReactor ----

class Greeter extends Protocol {
  reasons: Failure[] = [];
  override connectionMade(): void {
    this.transport.write("hello\r\n");
  }
  override dataReceived(data: Uint8Array): void {
    this.transport.write(data);
    this.transport.loseConnection();
  }
  override connectionLost(reason: Failure): void {
    this.reasons.push(reason);
  }
}

class RecordingClientFactory extends ClientFactory {
  started: unknown[] = [];
  override startedConnecting(connector: unknown): void {
    this.started.push(connector);
  }
}

Deno.test("MemoryReactor records listenTCP, listenUNIX and listenSSL and returns ports", async () => {
  const r = new MemoryReactor();
  const factory = Factory.forProtocol(Greeter);
  const tcp = r.listenTCP(10000, factory, { interface: "127.0.0.1", backlog: 5 });
  const any = r.listenTCP(0, factory);
  const unix = r.listenUNIX("/tmp/poetry.sock", factory, { mode: 0o600 });
  const ssl = r.listenSSL(10443, factory, { cert: "c.pem", key: "k.pem" });
  assert.equal(r.tcpServers.length, 2);
  assert.deepEqual(
    { ...r.tcpServers[0], listeningPort: undefined },
    {
      port: 10000,
      factory,
      options: { interface: "127.0.0.1", backlog: 5 },
      listeningPort: undefined,
    },
  );
  assert.equal(r.tcpServers[0].listeningPort, tcp);
  assert.deepEqual(tcp.getHost(), { type: "TCP", host: "127.0.0.1", port: 10000 });
  assert.deepEqual(any.getHost(), { type: "TCP", host: "0.0.0.0", port: 0 });
  assert.deepEqual(r.tcpServers[1].options, {});
  assert.equal(r.unixServers[0].path, "/tmp/poetry.sock");
  assert.equal(r.unixServers[0].options.mode, 0o600);
  assert.deepEqual(unix.getHost(), { type: "UNIX", path: "/tmp/poetry.sock" });
  // Typed by kind, as the real reactor's ports are.
  assert.equal(tcp.getHost().port + ssl.getHost().port, 20443);
  assert.equal(unix.getHost().path, "/tmp/poetry.sock");
  assert.equal(r.sslServers[0].port, 10443);
  assert.equal(r.sslServers[0].options.key, "k.pem");
  assert.deepEqual(ssl.getHost(), { type: "TCP", host: "0.0.0.0", port: 10443 });
  assert.equal(factory.numPorts, 0, "the factory is not started");
  assert.equal(tcp.listening, true);
  const stopped = tcp.stopListening();
  assert.equal(stopped.called, true);
  await stopped;
  assert.equal(tcp.listening, false);
});

Deno.test("MemoryReactor's ports stop listening when the signal given to listen aborts", () => {
  const r = new MemoryReactor();
  const controller = new AbortController();
  const { signal } = controller;
  const tcp = r.listenTCP(10000, new Factory(), { signal });
  const unix = r.listenUNIX("/tmp/poetry.sock", new Factory(), { signal });
  const ssl = r.listenSSL(10443, new Factory(), { cert: "c.pem", key: "k.pem", signal });
  const other = r.listenTCP(10001, new Factory());
  assert.deepEqual([tcp.listening, unix.listening, ssl.listening], [true, true, true]);
  controller.abort();
  assert.deepEqual([tcp.listening, unix.listening, ssl.listening], [false, false, false]);
  assert.equal(other.listening, true);
  assert.equal(r.listenTCP(10002, new Factory(), { signal }).listening, false);
});

Deno.test("MemoryReactor records connectTCP, connectUNIX and connectSSL and returns connectors", () => {
  const r = new MemoryReactor();
  const factory = new RecordingClientFactory();
  const tcp = r.connectTCP("127.0.0.1", 10000, factory, { timeout: 5 });
  const unix = r.connectUNIX("/tmp/poetry.sock", factory);
  const ssl = r.connectSSL("example.com", 443, factory, { hostname: "example.com" });
  assert.deepEqual(r.connectors, [tcp, unix, ssl]);
  assert.deepEqual(factory.started, [tcp, unix, ssl]);
  assert.equal(r.tcpClients[0].host, "127.0.0.1");
  assert.equal(r.tcpClients[0].port, 10000);
  assert.equal(r.tcpClients[0].options.timeout, 5);
  assert.equal(r.tcpClients[0].connector, tcp);
  assert.equal(r.unixClients[0].path, "/tmp/poetry.sock");
  assert.equal(r.sslClients[0].options.hostname, "example.com");
  assert.deepEqual(tcp.getDestination(), { type: "TCP", host: "127.0.0.1", port: 10000 });
  assert.deepEqual(unix.getDestination(), { type: "UNIX", path: "/tmp/poetry.sock" });
  assert.deepEqual(ssl.getDestination(), { type: "TCP", host: "example.com", port: 443 });
  assert.equal(tcp.state, "connecting");
  assert.equal(tcp.connectCount, 1);
  tcp.stopConnecting();
  assert.equal(tcp.stoppedConnecting, true);
  assert.equal(tcp.state, "disconnected");
  tcp.connect();
  assert.equal(tcp.connectCount, 2);
  assert.equal(factory.started.length, 4);
  unix.disconnect();
  assert.equal(unix.disconnected, true);
  {
    using _ssl = ssl;
  }
  assert.equal(ssl.disconnected, true);
});

Deno.test("MemoryReactor's clock runs delayed calls only when advanced", () => {
  const r = new MemoryReactor();
  const calls: string[] = [];
  r.callLater(2, (s: string) => calls.push(s), "later");
  const cancelled = r.callLater(1.5, () => calls.push("cancelled"));
  r.callLater(1, (s: string) => calls.push(s), "sooner");
  cancelled.cancel();
  assert.equal(r.getDelayedCalls().length, 2);
  r.advance(0.5);
  assert.deepEqual(calls, []);
  r.clock.advance(0.5);
  assert.deepEqual(calls, ["sooner"]);
  assert.equal(r.seconds(), 1);
  r.advance(5);
  assert.deepEqual(calls, ["sooner", "later"]);
  assert.equal(r.getDelayedCalls().length, 0);
});

Deno.test("MemoryReactor.pump advances its clock step by step, as MemoryReactorClock.pump does", () => {
  const r = new MemoryReactor();
  const seen: number[] = [];
  r.callLater(1, () => seen.push(r.seconds()));
  // Scheduled from inside a step: it is due at 2.5, so only the third step reaches it.
  r.callLater(1.5, () => r.callLater(1, () => seen.push(r.seconds())));
  r.pump([1, 1, 1]);
  assert.deepEqual(seen, [1, 3]);
  assert.equal(r.seconds(), 3);
  assert.equal(r.clock.seconds(), 3);
});

Deno.test("MemoryReactor uses the clock it is given", () => {
  const clock = new Clock();
  const r = new MemoryReactor({ clock });
  let fired = false;
  r.callLater(1, () => fired = true);
  clock.advance(1);
  assert.equal(fired, true);
});

Deno.test("MemoryReactor.run makes the start-up calls in phase order, as the reactor does, then stops", async () => {
  const r = new MemoryReactor();
  const order: string[] = [];
  r.addSystemEventTrigger("after", "startup", () => order.push("after"));
  r.callWhenRunning((n: number) => {
    order.push(`running ${n} ${r.running}`);
    r.callWhenRunning(() => order.push("at once"));
  }, 1);
  r.addSystemEventTrigger("before", "startup", () => order.push("before"));
  r.addSystemEventTrigger("during", "shutdown", () => order.push("shutdown"));
  assert.equal(r.triggers.length, 4);
  const ran = r.run();
  // callWhenRunning is an "after startup" trigger, as on the real reactor (and in Twisted): it
  // runs after the "after" trigger added before it.
  assert.deepEqual(order, ["before", "after", "running 1 true", "at once"]);
  await ran;
  assert.equal(r.hasRun, true);
  assert.equal(r.hasStopped, true);
  assert.equal(r.running, false);
  assert.equal(r.triggers.length, 3, "the callWhenRunning call is made once");
  r.stop();
  assert.equal(r.stopCount, 2);
  await r.fireSystemEvent("shutdown");
  assert.equal(order.at(-1), "shutdown");
});

Deno.test("MemoryReactor.run stops before it returns when no start-up trigger waits", () => {
  const r = new MemoryReactor();
  const seen: boolean[] = [];
  r.callWhenRunning(() => seen.push(r.running));
  r.run();
  // As in Twisted's fake, whose run() returns stopped: no await is needed to see it.
  assert.deepEqual(seen, [true]);
  assert.equal(r.running, false);
  assert.equal(r.hasStopped, true);
  assert.equal(r.stopCount, 1);
});

Deno.test("MemoryReactor.run stops only once a start-up trigger's Deferred has fired", async () => {
  const r = new MemoryReactor();
  const ready = new Deferred<void>();
  r.addSystemEventTrigger("before", "startup", () => ready);
  const ran = r.run();
  assert.equal(r.running, true);
  assert.equal(r.hasStopped, false);
  ready.callback(undefined);
  await ran;
  assert.equal(r.running, false);
  assert.equal(r.hasStopped, true);
});

Deno.test("MemoryReactor.run refuses to run a reactor already running, then runs again once stopped", async () => {
  const r = new MemoryReactor();
  const ready = new Deferred<void>();
  let startups = 0;
  r.addSystemEventTrigger("before", "startup", () => {
    startups++;
    return ready;
  });
  const ran = r.run();
  assert.throws(() => r.run(), ReactorAlreadyRunning);
  assert.equal(startups, 1, "the refused run fires no start-up");
  ready.callback(undefined);
  await ran;
  await r.run();
  assert.equal(startups, 2);
  assert.equal(r.stopCount, 2);
});

Deno.test("MemoryReactor.fireSystemEvent waits for a phase's promises before the next phase", async () => {
  const r = new MemoryReactor();
  const order: string[] = [];
  const saved = new Deferred<void>();
  r.addSystemEventTrigger("before", "shutdown", () => {
    order.push("saving");
    return saved;
  });
  r.addSystemEventTrigger("during", "shutdown", () => order.push("during"));
  const done = r.fireSystemEvent("shutdown");
  assert.deepEqual(order, ["saving"]);
  assert.equal(done.called, false);
  saved.callback(undefined);
  await done;
  assert.deepEqual(order, ["saving", "during"]);
});

Deno.test(
  "MemoryReactor.fireSystemEvent logs a failing trigger and goes on",
  withLoggedErrors(async () => {
    const r = new MemoryReactor();
    let after = false;
    r.addSystemEventTrigger("before", "shutdown", () => {
      throw new RangeError("thrown");
    });
    r.addSystemEventTrigger("during", "shutdown", () => Promise.reject(new TypeError("rejected")));
    r.addSystemEventTrigger("after", "shutdown", () => after = true);
    await r.fireSystemEvent("shutdown");
    assert.equal(after, true);
    assert.equal(flushLoggedErrors(RangeError).length, 1);
    assert.equal(flushLoggedErrors(TypeError).length, 1);
  }),
);

Deno.test("MemoryReactor.removeSystemEventTrigger removes a trigger and refuses unknown ids", async () => {
  const r = new MemoryReactor();
  let called = false;
  const id = r.addSystemEventTrigger("during", "shutdown", () => called = true);
  r.removeSystemEventTrigger(id);
  await r.fireSystemEvent("shutdown");
  assert.equal(called, false);
  assert.throws(() => r.removeSystemEventTrigger(id), /no system event trigger has the id/);
  assert.throws(
    () => r.addSystemEventTrigger("sometime" as "before", "shutdown", () => {}),
    TypeError,
  );
});

Deno.test("MemoryReactor can stand in for the reactor where code takes one as a parameter", () => {
  function schedule(reactor: ReactorTCP & ReactorTime): void {
    reactor.callLater(1, () => reactor.listenTCP(10000, new Factory()));
  }
  const everything = (reactor: ReactorLike): ReactorLike => reactor;
  const r = new MemoryReactor();
  schedule(r);
  assert.equal(everything(r), r);
  assert.equal(everything(realReactor), realReactor);
  r.advance(1);
  assert.equal(r.tcpServers[0].port, 10000);
});

// ---- connectProtocol ----

Deno.test("connectProtocol builds a protocol from a recorded factory and connects it", () => {
  const r = new MemoryReactor();
  r.listenTCP(10000, Factory.forProtocol(Greeter));
  const { protocol, transport } = connectProtocol<Greeter>(r.tcpServers[0].factory);
  assert.ok(protocol instanceof Greeter);
  assert.equal(protocol.factory, r.tcpServers[0].factory);
  assert.equal(protocol.transport, transport);
  assert.equal(transport.protocol, protocol);
  assert.equal(transport.valueText(), "hello\r\n");
  protocol.dataReceived(bytes("bye"));
  assert.equal(transport.valueText(), "hello\r\nbye");
  assert.equal(protocol.connected, false);
  assert.equal(protocol.reasons.length, 1);
  assert.ok(protocol.reasons[0].check(ConnectionDone));
});

Deno.test("connectProtocol gives buildProtocol the transport's peer address", () => {
  const seen: Address[] = [];
  class Watching extends Factory {
    override protocol = Protocol;
    override buildProtocol(addr: Address): Protocol | null {
      seen.push(addr);
      return super.buildProtocol(addr);
    }
  }
  const peer: Address = { type: "TCP", host: "127.0.0.1", port: 40000 };
  connectProtocol(new Watching(), new StringTransport({ peer }));
  assert.deepEqual(seen, [peer]);
});

Deno.test("connectProtocol connects a protocol instance to the transport given", () => {
  const transport = new StringTransport();
  const { protocol } = connectProtocol(new Greeter(), transport);
  assert.equal(protocol.connected, true);
  assert.equal(transport.valueText(), "hello\r\n");
});

Deno.test("connectProtocol reports a factory that refuses the connection", () => {
  class Refusing extends Factory {
    override buildProtocol(): Protocol | null {
      return null;
    }
  }
  assert.throws(() => connectProtocol(new Refusing()), /Refusing\.buildProtocol refused/);
});

// ---- withLoggedErrors and flushLoggedErrors ----

/** Runs `fn` with console.error replaced, and returns what was printed through it. */
async function stderrOf(fn: () => unknown): Promise<unknown[][]> {
  const printed: unknown[][] = [];
  const original = console.error;
  console.error = (...data: unknown[]) => void printed.push(data);
  try {
    await fn();
  } finally {
    console.error = original;
  }
  return printed;
}

const context = {} as Deno.TestContext;

Deno.test("withLoggedErrors passes a test that logs no error", async () => {
  let ran = false;
  await withLoggedErrors(() => {
    ran = true;
  })(context);
  assert.equal(ran, true);
});

Deno.test("withLoggedErrors fails a test that logs an error it does not claim", async () => {
  const test = withLoggedErrors(() => {
    err(new RangeError("no such poem"), "while serving a poem:");
  });
  await assert.rejects(test(context), (e: unknown) => {
    assert.ok(e instanceof LoggedErrorsError);
    assert.equal(e.failures.length, 1);
    assert.ok(e.failures[0].check(RangeError));
    assert.match(e.message, /^1 error was logged during the test and not flushed:/);
    assert.match(e.message, /while serving a poem:/);
    assert.match(e.message, /RangeError: no such poem\n\s+at /);
    return true;
  });
});

Deno.test("withLoggedErrors fails a test that leaves a failure unhandled in a Deferred", async () => {
  let kept: Deferred<never> | undefined;
  const test = withLoggedErrors(() => {
    kept = fail(new Error("nobody handled me"));
  });
  await assert.rejects(test(context), (e: unknown) => {
    assert.ok(e instanceof LoggedErrorsError);
    assert.match(e.message, /Unhandled error in Deferred:/);
    assert.match(e.message, /nobody handled me/);
    return true;
  });
  assert.ok(kept !== undefined);
  assert.equal(reportUnhandledErrors(), 0, "the failure was reported once, by the test");
});

Deno.test("withLoggedErrors fails an async test whose error is logged after an await", async () => {
  const test = withLoggedErrors(async () => {
    await Promise.resolve();
    err(new TypeError("late"));
  });
  await assert.rejects(test(context), LoggedErrorsError);
});

Deno.test("withLoggedErrors passes when the logged errors are flushed", async () => {
  await withLoggedErrors(() => {
    err(new RangeError("one"));
    err(new TypeError("two"));
    err(new RangeError("three"));
    const ranges = flushLoggedErrors(RangeError);
    assert.deepEqual(ranges.map((f) => f.getErrorMessage()), ["one", "three"]);
    assert.deepEqual(flushLoggedErrors(RangeError), []);
    const rest = flushLoggedErrors();
    assert.deepEqual(rest.map((f) => f.getErrorMessage()), ["two"]);
  })(context);
});

Deno.test("flushLoggedErrors claims an unhandled Deferred failure once it is reported", async () => {
  await withLoggedErrors(() => {
    fail(new RangeError("dropped"));
    assert.equal(reportUnhandledErrors(), 1);
    assert.equal(flushLoggedErrors(RangeError).length, 1);
  })(context);
});

Deno.test("withLoggedErrors fails with both errors when the test fails and logs one", async () => {
  const test = withLoggedErrors(() => {
    err(new RangeError("logged"));
    throw new TypeError("thrown");
  });
  await assert.rejects(test(context), (e: unknown) => {
    assert.ok(e instanceof AggregateError);
    assert.ok(e.errors[0] instanceof TypeError);
    assert.ok(e.errors[1] instanceof LoggedErrorsError);
    return true;
  });
});

Deno.test("withLoggedErrors rethrows the test's own error unchanged", async () => {
  const error = new TypeError("assertion");
  await assert.rejects(
    withLoggedErrors(() => {
      throw error;
    })(context),
    (e: unknown) => e === error,
  );
});

Deno.test("withLoggedErrors removes its observer when the test throws", async () => {
  await assert.rejects(
    withLoggedErrors(() => {
      throw new Error("boom");
    })(context),
  );
  assert.throws(() => flushLoggedErrors(), /outside a test wrapped with withLoggedErrors/);
  // With no observer left, the log prints errors to stderr again.
  const printed = await stderrOf(() => err(new Error("after the test")));
  assert.equal(printed.length, 1);
  assert.match(String(printed[0][0]), /after the test/);
});

Deno.test("withLoggedErrors keeps logged errors off stderr while it captures them", async () => {
  const printed = await stderrOf(() =>
    withLoggedErrors(() => {
      err(new Error("quiet"));
      flushLoggedErrors();
    })(context)
  );
  assert.deepEqual(printed, []);
});

Deno.test("withLoggedErrors passes the test context through", async (t) => {
  let seen: Deno.TestContext | undefined;
  await withLoggedErrors((inner) => {
    seen = inner;
  })(t);
  assert.equal(seen, t);
});

Deno.test(
  "withLoggedErrors lets an inner wrapped step claim its own errors",
  withLoggedErrors(async (t) => {
    await t.step(
      "inner",
      withLoggedErrors(() => {
        err(new RangeError("inner"));
        assert.equal(flushLoggedErrors().length, 1);
      }),
    );
    assert.deepEqual(flushLoggedErrors(), []);
  }),
);

// ---- timeoutAfter ----

Deno.test("timeoutAfter fails with the name of a Deferred that never fires, and cancels it", async () => {
  let cancelled = 0;
  const never = new Deferred<string>(() => cancelled++);
  const error = await assertFailure(timeoutAfter(never, 0, "poem download"), TimeoutError);
  assert.equal(error.message, 'Deferred "poem download" timed out after 0 seconds');
  assert.equal(cancelled, 1);
  assert.equal(never.called, true);
});

Deno.test("timeoutAfter without a name says how to find the Deferred", async () => {
  const error = await assertFailure(timeoutAfter(new Deferred(), 0), TimeoutError);
  assert.match(error.message, /^Deferred timed out after 0 seconds \(pass timeoutAfter a name/);
});

Deno.test("timeoutAfter names the Deferred by where it came from while debugging", async () => {
  setDebugging(true);
  let d: Deferred<string>;
  try {
    d = new Deferred<string>();
  } finally {
    setDebugging(false);
  }
  setDebugging(true);
  let limited: Deferred<string>;
  try {
    limited = timeoutAfter(d, 0);
  } finally {
    setDebugging(false);
  }
  const error = await assertFailure(limited, TimeoutError);
  assert.match(error.message, /^Deferred timed out after 0 seconds\n/);
  assert.match(error.message, /testing_test\.ts/);
});

Deno.test("timeoutAfter leaves no timer behind when the Deferred fires first", async () => {
  const d = new Deferred<string>();
  const limited = timeoutAfter(d, 60);
  d.callback("Roses are red");
  assert.equal(limited.called, true);
  assert.equal(await limited, "Roses are red");
  // The op sanitizer fails this test if the 60-second timer were still pending.
});

Deno.test("timeoutAfter passes on the Deferred's failure", async () => {
  const d = new Deferred<string>();
  const limited = timeoutAfter(d, 60);
  setTimeout(() => d.errback(new RangeError("bad poem")), 0);
  const error = await assertFailure(limited, RangeError);
  assert.equal(error.message, "bad poem");
});

Deno.test("timeoutAfter works on a Deferred that has already fired and on a promise", async () => {
  assert.equal(await timeoutAfter(succeed(7), 60), 7);
  assert.equal(await timeoutAfter(Promise.resolve("p"), 60), "p");
});

Deno.test("timeoutAfter cancels the Deferred, and clears its timer, when it is cancelled", async () => {
  let cancelled = 0;
  const d = new Deferred<string>(() => cancelled++);
  const limited = timeoutAfter(d, 60);
  limited.cancel();
  await assertFailure(limited, CancelledError);
  assert.equal(cancelled, 1);
});

Deno.test("timeoutAfter refuses a negative time limit", () => {
  assert.throws(() => timeoutAfter(new Deferred(), -1), RangeError);
  assert.throws(() => timeoutAfter(new Deferred(), Number.NaN), RangeError);
});

// ---- Part 15's two tests, with the real reactor on loopback ----

const TEST_POEM = "This is a test.\nThis is only a test.\n…";

class PoetryServerProtocol extends Protocol {
  override connectionMade(): void {
    this.transport.write((this.factory as PoetryServerFactory).poem);
    this.transport.loseConnection();
  }
}

class PoetryServerFactory extends ServerFactory {
  override protocol = PoetryServerProtocol;
  constructor(readonly poem: string) {
    super();
  }
}

class PoetryClientProtocol extends Protocol {
  #decoder = new TextDecoder();
  #poem = "";
  override dataReceived(data: Uint8Array): void {
    this.#poem += this.#decoder.decode(data, { stream: true });
  }
  override connectionLost(_reason: Failure): void {
    (this.factory as PoetryClientFactory).poemFinished(this.#poem + this.#decoder.decode());
  }
}

class PoetryClientFactory extends ClientFactory {
  override protocol = PoetryClientProtocol;
  deferred: Deferred<string> | undefined = new Deferred<string>();
  poemFinished(poem: string): void {
    const d = this.deferred;
    this.deferred = undefined;
    d?.callback(poem);
  }
  override clientConnectionFailed(_connector: Connector, reason: Failure): void {
    const d = this.deferred;
    this.deferred = undefined;
    d?.errback(reason);
  }
}

function getPoetry(host: string, port: number): Deferred<string> {
  const factory = new PoetryClientFactory();
  realReactor.connectTCP(host, port, factory);
  return factory.deferred!;
}

Deno.test(
  "Part 15's test_client passes under withLoggedErrors and timeoutAfter",
  withLoggedErrors(async () => {
    await using port = realReactor.listenTCP(0, new PoetryServerFactory(TEST_POEM), {
      interface: "127.0.0.1",
    });
    const { port: portnum } = port.getHost() as TCPAddress;
    assert.equal(await timeoutAfter(getPoetry("127.0.0.1", portnum), 10, "getPoetry"), TEST_POEM);
  }),
);

Deno.test(
  "Part 15's test_failure passes with assertFailure",
  withLoggedErrors(async () => {
    await assertFailure(timeoutAfter(getPoetry("127.0.0.1", 0), 10, "getPoetry"), ConnectError);
  }),
);

// ---- loopbackAsync ----

const text = (data: Uint8Array): string => new TextDecoder().decode(data);

/** Records what it receives and how its connection ended; `onMade` runs in connectionMade. */
class Peer extends Protocol {
  chunks: string[] = [];
  reason: Failure | undefined;
  constructor(readonly events: string[], readonly name: string, readonly onMade = () => {}) {
    super();
  }
  override connectionMade(): void {
    this.onMade();
  }
  override dataReceived(data: Uint8Array): void {
    this.chunks.push(text(data));
    this.events.push(`${this.name} got ${text(data)}`);
  }
  override connectionLost(reason: Failure): void {
    this.reason = reason;
    this.events.push(`${this.name} lost`);
  }
}

/** A Peer that can be half-closed: at end-of-file it sends `reply(what it got)`, if any, and closes. */
class HalfClosingPeer extends Peer {
  reply: (received: string) => string | undefined = () => undefined;
  readConnectionLost(): void {
    this.events.push(`${this.name} read end-of-file`);
    const answer = this.reply(this.chunks.join(""));
    if (answer !== undefined) this.transport.write(answer);
    this.transport.loseConnection();
  }
}

/** Lets `n` turns of the event loop go by. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("loopbackAsync connects the tutorial's poetry server and client in memory", async () => {
  const service = new PoetryService("kettle");
  service.startService();
  const client = new GetPoetryClientFactory("127.0.0.1:10000");
  const poem = client.deferred!;
  const peer = { type: "TCP", host: "127.0.0.1", port: 54321 } as const;
  await loopbackAsync(
    new PoetryFactory(service).buildProtocol(peer)!,
    client.buildProtocol({ type: "TCP", host: "127.0.0.1", port: 10000 })!,
  );
  assert.equal(text(await poem), poems.kettle);
  service.stopService();
});

Deno.test("loopbackAsync relays both ways, then tells the server and the client, in that order", async () => {
  class Shout extends LineReceiver {
    lost: Failure | undefined;
    override lineReceived(line: Uint8Array): void {
      this.sendLine(text(line).toUpperCase());
    }
    override connectionLost(reason: Failure): void {
      this.lost = reason;
      order.push("server");
    }
  }
  class Ask extends LineReceiver {
    answers: string[] = [];
    lost: Failure | undefined;
    override connectionMade(): void {
      this.sendLine("roses are red");
      this.sendLine("violets are blue");
    }
    override lineReceived(line: Uint8Array): void {
      this.answers.push(text(line));
      if (this.answers.length === 2) this.transport.loseConnection();
    }
    override connectionLost(reason: Failure): void {
      this.lost = reason;
      order.push("client");
    }
  }
  const order: string[] = [];
  const server = new Shout();
  const client = new Ask();
  await loopbackAsync(server, client);
  assert.deepEqual(client.answers, ["ROSES ARE RED", "VIOLETS ARE BLUE"]);
  assert.deepEqual(order, ["server", "client"]);
  assert.ok(server.lost?.check(ConnectionDone));
  assert.ok(client.lost?.check(ConnectionDone));
  assert.equal(server.connected, false);
  assert.equal(client.connected, false);
});

Deno.test("loopbackAsync delivers later, never from inside write", async () => {
  const events: string[] = [];
  const server = new Peer(events, "server", () => {
    server.transport.write("hello");
    events.push("server wrote");
    server.transport.loseConnection();
  });
  const client = new Peer(events, "client");
  const done = loopbackAsync(server, client);
  assert.deepEqual(events, ["server wrote"]);
  await done;
  assert.deepEqual(events, ["server wrote", "client got hello", "server lost", "client lost"]);
});

Deno.test("loopbackAsync cuts writes as its pump policy says", async () => {
  const cases = [
    [identityPumpPolicy, ["a", "b", "c"]],
    [collapsingPumpPolicy, ["abc"]],
  ] as const;
  for (const [policy, expected] of cases) {
    const server = new Peer([], "server", () => {
      server.transport.write("a");
      server.transport.writeSequence(["b", new TextEncoder().encode("c")]);
      server.transport.loseConnection(); // after what was written is delivered
    });
    const client = new Peer([], "client");
    await loopbackAsync(server, client, policy);
    assert.deepEqual(client.chunks, expected);
  }
});

Deno.test("loopbackAsync reports loopback addresses, the server on port 10000", async () => {
  const server = new Peer([], "server");
  const client = new Peer([], "client", () => client.transport.loseConnection());
  const done = loopbackAsync(server, client);
  const serverAddress = { type: "TCP", host: "127.0.0.1", port: 10000 };
  const clientAddress = { type: "TCP", host: "127.0.0.1", port: 54321 };
  assert.deepEqual(server.transport.getHost(), serverAddress);
  assert.deepEqual(server.transport.getPeer(), clientAddress);
  assert.deepEqual(client.transport.getHost(), clientAddress);
  assert.deepEqual(client.transport.getPeer(), serverAddress);
  await done;
});

Deno.test("loopbackAsync: abortConnection drops what was not delivered", async () => {
  const events: string[] = [];
  const server = new Peer(events, "server", () => {
    server.transport.write("never delivered");
    server.transport.abortConnection();
  });
  const client = new Peer(events, "client");
  await loopbackAsync(server, client);
  assert.deepEqual(events, ["server lost", "client lost"]);
  assert.ok(server.reason?.check(ConnectionAborted));
  assert.ok(client.reason?.check(ConnectionLost));
  assert.equal(client.reason?.check(ConnectionAborted), null);
});

Deno.test("loopbackAsync delivers nothing more once a side aborts while receiving", async () => {
  const events: string[] = [];
  const server = new Peer(events, "server", () => {
    server.transport.write("first");
    server.transport.write("second");
  });
  class Abrupt extends Peer {
    override dataReceived(data: Uint8Array): void {
      super.dataReceived(data);
      this.transport.abortConnection();
    }
  }
  const client = new Abrupt(events, "client");
  await loopbackAsync(server, client);
  assert.deepEqual(events, ["client got first", "server lost", "client lost"]);
  assert.ok(client.reason?.check(ConnectionAborted));
  assert.ok(server.reason?.check(ConnectionLost));
});

Deno.test("loopbackAsync delivers nothing to a side after its loseConnection", async () => {
  const events: string[] = [];
  class Closer extends Peer {
    override dataReceived(data: Uint8Array): void {
      super.dataReceived(data);
      this.transport.write("bye");
      this.transport.loseConnection();
    }
  }
  class Chatty extends Peer {
    override dataReceived(data: Uint8Array): void {
      super.dataReceived(data);
      if (this.chunks.length === 1) this.transport.write("too late");
    }
  }
  const server = new Closer(events, "server");
  const client = new Chatty(events, "client", () => client.transport.write("hello"));
  await loopbackAsync(server, client);
  assert.deepEqual(events, ["server got hello", "client got bye", "server lost", "client lost"]);
  assert.ok(server.reason?.check(ConnectionDone));
  assert.ok(client.reason?.check(ConnectionDone));
});

Deno.test("loopbackAsync: loseWriteConnection sends end-of-file, and a half-closeable peer answers", async () => {
  const events: string[] = [];
  class Sayer extends Peer {
    writeConnectionLost(): void {
      events.push("client sent end-of-file");
    }
  }
  const server = new HalfClosingPeer(events, "server");
  server.reply = (said) => `you said ${said}`;
  const client = new Sayer(events, "client", () => {
    client.transport.write("hi");
    client.transport.loseWriteConnection();
    client.transport.write("dropped: written after the half-close");
  });
  await loopbackAsync(server, client);
  assert.deepEqual(events, [
    "server got hi",
    "server read end-of-file",
    "client sent end-of-file",
    "client got you said hi",
    "server lost",
    "client lost",
  ]);
  assert.ok(client.reason?.check(ConnectionDone));
});

Deno.test("loopbackAsync: end-of-file sent on an idle connection is answered", async () => {
  const events: string[] = [];
  const server = new HalfClosingPeer(events, "server");
  server.reply = () => "bye";
  const client = new Peer(events, "client");
  const done = loopbackAsync(server, client);
  await turns(1);
  client.transport.loseWriteConnection();
  await done;
  assert.deepEqual(events, [
    "server read end-of-file",
    "client got bye",
    "server lost",
    "client lost",
  ]);
});

Deno.test("loopbackAsync: end-of-file closes the connection of a peer that cannot half-close", async () => {
  const events: string[] = [];
  const server = new Peer(events, "server");
  const client = new Peer(events, "client", () => {
    client.transport.write("hi");
    client.transport.loseWriteConnection();
  });
  await loopbackAsync(server, client);
  assert.deepEqual(events, ["server got hi", "server lost", "client lost"]);
  assert.ok(server.reason?.check(ConnectionDone));
});

Deno.test("loopbackAsync: pauseProducing holds back what a protocol receives", async () => {
  const events: string[] = [];
  const server = new Peer(events, "server", () => server.transport.write("poem"));
  const client = new Peer(events, "client", () => client.transport.pauseProducing());
  const done = loopbackAsync(server, client);
  await turns(3);
  assert.deepEqual(events, []);
  client.transport.resumeProducing();
  await turns(1);
  assert.deepEqual(events, ["client got poem"]);
  client.transport.loseConnection();
  await done;
  assert.deepEqual(events, ["client got poem", "server lost", "client lost"]);
});

Deno.test("loopbackAsync pauses a streaming producer past 64 KiB undelivered, and resumes it", async () => {
  const piece = new Uint8Array(16 * 1024);
  const total = 1024 * 1024;
  const log: string[] = [];
  class Source extends Protocol implements PushProducer {
    sent = 0;
    paused = false;
    override connectionMade(): void {
      this.transport.registerProducer(this, true);
      this.resumeProducing();
    }
    pauseProducing(): void {
      this.paused = true;
      log.push(`paused after ${this.sent / 1024} KiB`);
    }
    resumeProducing(): void {
      this.paused = false;
      while (!this.paused && this.sent < total) {
        this.sent += piece.length;
        this.transport.write(piece);
      }
      if (this.sent === total) {
        this.transport.unregisterProducer();
        this.transport.loseConnection();
      }
    }
    stopProducing(): void {
      log.push("stopped");
    }
  }
  class Sink extends Protocol {
    received = 0;
    override dataReceived(data: Uint8Array): void {
      this.received += data.length;
    }
  }
  const sink = new Sink();
  await loopbackAsync(new Source(), sink);
  assert.equal(sink.received, total);
  // Paused at the write that passes 64 KiB in flight (the fifth of 16 KiB), resumed once all
  // of it is delivered; the last 64 KiB do not pass the mark. Never stopped: it unregistered.
  const pauses = Array.from({ length: 12 }, (_, i) => `paused after ${80 * (i + 1)} KiB`);
  assert.deepEqual(log, pauses);
});

Deno.test("loopbackAsync asks a pull producer for more once what it wrote is delivered", async () => {
  const asked: number[] = [];
  class Pages extends Protocol implements PullProducer {
    page = 0;
    override connectionMade(): void {
      this.transport.registerProducer(this, false);
    }
    resumeProducing(): void {
      asked.push(this.page);
      if (this.page === 3) {
        this.transport.unregisterProducer();
        this.transport.loseConnection();
        return;
      }
      this.transport.write(`page ${++this.page};`);
    }
    stopProducing(): void {}
  }
  const reader = new Peer([], "client");
  await loopbackAsync(new Pages(), reader);
  assert.deepEqual(asked, [0, 1, 2, 3]);
  assert.deepEqual(reader.chunks, ["page 1;", "page 2;", "page 3;"]);
});

Deno.test("loopbackAsync half-closes only once the producer is unregistered", async () => {
  const events: string[] = [];
  const producer = { resumeProducing() {}, stopProducing() {} };
  const client = new Peer(events, "client", () => {
    client.transport.registerProducer(producer, false);
    client.transport.write("last words");
    client.transport.loseWriteConnection();
  });
  const done = loopbackAsync(new HalfClosingPeer(events, "server"), client);
  await turns(3);
  assert.deepEqual(events, ["server got last words"]);
  client.transport.unregisterProducer();
  await done;
  assert.deepEqual(events, [
    "server got last words",
    "server read end-of-file",
    "server lost",
    "client lost",
  ]);
});

Deno.test("loopbackAsync closes with a streaming producer registered, and stops it", async () => {
  const calls: string[] = [];
  const producer = {
    pauseProducing: () => void calls.push("pause"),
    resumeProducing: () => void calls.push("resume"),
    stopProducing: () => void calls.push("stop"),
  };
  const server = new Peer([], "server", () => {
    server.transport.registerProducer(producer, true);
    server.transport.write("a little");
    server.transport.loseConnection();
  });
  const client = new Peer([], "client");
  await loopbackAsync(server, client);
  assert.deepEqual(client.chunks, ["a little"]);
  assert.deepEqual(calls, ["stop"]);
});

Deno.test(
  "loopbackAsync closes on an error in dataReceived, and fails with it",
  withLoggedErrors(async () => {
    const server = new Peer([], "server", () => server.transport.write("bad poem"));
    class Picky extends Peer {
      override dataReceived(): void {
        throw new RangeError("not a sonnet");
      }
    }
    const client = new Picky([], "client");
    const error = await assertFailure(loopbackAsync(server, client), RangeError);
    assert.equal(error.message, "not a sonnet");
    assert.equal(client.reason?.value, error);
    assert.ok(server.reason?.check(ConnectionLost));
  }),
);

Deno.test("loopbackAsync cancelled aborts both sides and leaves nothing running", async () => {
  const server = new Peer([], "server", () => server.transport.write("pending"));
  const client = new Peer([], "client");
  const done = loopbackAsync(server, client);
  done.cancel();
  await assertFailure(done, CancelledError);
  assert.ok(server.reason?.check(ConnectionAborted));
  assert.ok(client.reason?.check(ConnectionAborted));
  assert.deepEqual(client.chunks, []);
  server.transport.write("after the end"); // ignored, schedules nothing
});

Deno.test("loopbackAsync lets an error in connectionMade reach the caller, leaving nothing running", () => {
  const server = new Peer([], "server", () => {
    server.transport.write("half a greeting");
    throw new TypeError("no greeting");
  });
  assert.throws(() => loopbackAsync(server, new Peer([], "client")), /no greeting/);
});

// ---- connectedServerAndClient and IOPump ----

/** A protocol that records what it receives and how its connection ended. */
class Tape extends Protocol {
  text = "";
  lost: Failure[] = [];
  half: string[] = [];
  constructor(readonly reply?: (text: string) => string | undefined) {
    super();
  }
  override dataReceived(data: Uint8Array): void {
    const text = new TextDecoder().decode(data);
    this.text += text;
    const answer = this.reply?.(text);
    if (answer !== undefined) this.transport.write(answer);
  }
  override connectionLost(reason: Failure): void {
    this.lost.push(reason);
  }
}

/** A Tape that can be half-closed. */
class HalfTape extends Tape {
  readConnectionLost(): void {
    this.half.push("read");
  }
  writeConnectionLost(): void {
    this.half.push("write");
  }
}

Deno.test("IOPump moves bytes only when pumped, one round at a time", () => {
  const server = new Tape((text) => `re: ${text}`);
  const client = new Tape();
  const { pump, serverTransport, clientTransport } = connectedServerAndClient(server, client);
  assert.deepEqual(serverTransport.getHost(), { type: "TCP", host: "127.0.0.1", port: 10000 });
  assert.deepEqual(clientTransport.getPeer(), { type: "TCP", host: "127.0.0.1", port: 10000 });
  client.transport.write("a");
  client.transport.write("b");
  assert.equal(server.text, "", "nothing moves by itself");
  assert.equal(pump.pump(), true);
  assert.equal(server.text, "ab", "what was written since the last round, in one call");
  assert.equal(client.text, "", "the reply waits for the next round");
  assert.equal(pump.pump(), true);
  assert.equal(client.text, "re: ab");
  assert.equal(pump.pump(), false);
  assert.equal(pump.closed, false);
});

Deno.test("connectedServerAndClient delivers what connectionMade wrote, unless told not to greet", () => {
  class Greeter extends Tape {
    override connectionMade(): void {
      this.transport.write("hello");
    }
  }
  const greeted = connectedServerAndClient(new Greeter(), new Tape());
  assert.equal(greeted.client.text, "hello");
  const quiet = connectedServerAndClient(new Greeter(), new Tape(), { greet: false });
  assert.equal(quiet.client.text, "");
  quiet.pump.flush();
  assert.equal(quiet.client.text, "hello");
});

Deno.test("IOPump: loseConnection ends the connection once what was written is delivered", () => {
  const { server, client, pump } = connectedServerAndClient(new Tape(), new Tape());
  server.transport.write("last words");
  server.transport.loseConnection();
  client.transport.write("too late");
  pump.flush();
  assert.equal(client.text, "last words");
  assert.equal(server.text, "", "a side that called loseConnection reads no more");
  assert.equal(server.lost.length, 1);
  assert.equal(client.lost.length, 1);
  assert.ok(server.lost[0].check(ConnectionDone) && client.lost[0].check(ConnectionDone));
  assert.equal(pump.closed, true);
  assert.equal(pump.pump(), false);
});

Deno.test("IOPump: abortConnection drops what that side had not delivered", () => {
  const { server, client, pump } = connectedServerAndClient(new Tape(), new Tape());
  client.transport.write("dropped");
  client.transport.abortConnection();
  pump.flush();
  assert.equal(server.text, "");
  assert.ok(client.lost[0].check(ConnectionAborted));
  assert.ok(server.lost[0].check(ConnectionLost));
  assert.equal(server.lost.length + client.lost.length, 2);
});

Deno.test("IOPump: loseWriteConnection is end-of-file for a half-closeable peer", () => {
  const half = connectedServerAndClient(new HalfTape(), new HalfTape());
  half.client.transport.write("request");
  half.client.transport.loseWriteConnection();
  half.pump.flush();
  assert.equal(half.server.text, "request");
  assert.deepEqual(half.server.half, ["read"]);
  assert.deepEqual(half.client.half, ["write"]);
  assert.equal(half.pump.closed, false, "the other way stays open");
  half.server.transport.write("answer");
  half.pump.flush();
  assert.equal(half.client.text, "answer");
  // A peer that cannot be half-closed loses the connection instead.
  const whole = connectedServerAndClient(new Tape(), new HalfTape());
  whole.client.transport.loseWriteConnection();
  whole.pump.flush();
  assert.ok(whole.server.lost[0].check(ConnectionDone));
  assert.equal(whole.pump.closed, true);
});

Deno.test("IOPump holds back data for a paused transport and asks a pull producer for more", () => {
  const { server, client, pump } = connectedServerAndClient(new Tape(), new Tape());
  server.transport.pauseProducing();
  client.transport.write("wait");
  assert.equal(pump.pump(), false);
  assert.equal(server.text, "");
  server.transport.resumeProducing();
  pump.flush();
  assert.equal(server.text, "wait");
  let asked = 0;
  const producer: PullProducer = {
    resumeProducing: () => {
      if (++asked <= 3) client.transport.write(`${asked}`);
    },
    stopProducing: () => {},
  };
  client.transport.registerProducer(producer, false);
  pump.flush();
  assert.equal(server.text, "wait123");
  client.transport.unregisterProducer();
});

Deno.test("IOPump: an error in a protocol reaches the test; flush gives up on endless talk", () => {
  const broken = connectedServerAndClient(
    new Tape(() => {
      throw new RangeError("bad byte");
    }),
    new Tape(),
  );
  broken.client.transport.write("x");
  assert.throws(() => broken.pump.pump(), RangeError);
  const chatty = connectedServerAndClient(new Tape((t) => t), new Tape((t) => t));
  chatty.client.transport.write("ping");
  assert.throws(() => chatty.pump.flush(50), /still busy after 50 rounds/);
});
