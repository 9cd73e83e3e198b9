import assert from "node:assert/strict";
import { Deferred, TimeoutError as DeferTimeoutError } from "../defer.ts";
import {
  CannotListenError,
  ConnectError,
  ConnectionDone,
  ConnectionLost,
  ConnectionRefusedError,
  DNSLookupError,
  NotConnectingError,
  ReactorAlreadyRunning,
  ReactorNotRunning,
  TCPTimedOutError,
  TimeoutError,
  UserError,
} from "../error.ts";
import type { Failure } from "../failure.ts";
import { textFromEvent } from "../log.ts";
import { ClientFactory, type Connector, Factory } from "../protocols/factory.ts";
import type { Protocol } from "../protocols/protocol.ts";
import { connectErrorFor } from "../protocols/_transport.ts";
import { Reactor, reactor } from "../reactor.ts";
import { Clock, realTime } from "../task.ts";
import {
  CollectingFactory,
  OneClientFactory,
  Recorder,
  unixTest,
  withLog,
} from "./fixtures/loopback.ts";
import { countedSignal } from "./fixtures/signals.ts";
import { startProgram } from "./_server_program.ts";

const fixtures = new URL("./fixtures/", import.meta.url);
const certPath = new URL("tls_cert.pem", fixtures).pathname;
const keyPath = new URL("tls_key.pem", fixtures).pathname;

/** Sends `request` on a new connection to `port` and returns all the server sends back. */
async function exchange(port: number, request: string): Promise<string> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(request));
  return await new Response(conn.readable).text();
}

function turn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Echoes each chunk back. */
class Echo extends Recorder {
  override dataReceived(data: Uint8Array): void {
    super.dataReceived(data);
    this.transport.write(data);
  }
}

/** Writes `message` when connected, closes once `message` has come back. */
class Greeter extends Recorder {
  constructor(readonly message: string) {
    super();
  }
  override connectionMade(): void {
    this.transport.write(this.message);
    super.connectionMade();
  }
  override dataReceived(data: Uint8Array): void {
    super.dataReceived(data);
    if (this.text() === this.message) this.transport.loseConnection();
  }
}

// ---- Listening ----

Deno.test("Reactor.listenTCP binds port 0 to a free port; stopListening fires once it is closed", async () => {
  await withLog(async (events) => {
    class PoetryFactory extends Factory {}
    const factory = new PoetryFactory();
    const port = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
    // Typed as a TCP port: the number is there without checking the address's type.
    const number = port.getHost().port;
    assert.ok(number > 0);
    assert.deepEqual(port.getHost(), { type: "TCP", host: "127.0.0.1", port: number });
    assert.equal(factory.numPorts, 1);
    assert.ok(events.some((e) => textFromEvent(e) === `PoetryFactory starting on ${number}`));
    const stopped = port.stopListening();
    assert.equal(factory.numPorts, 1, "the factory stops once the port is really closed");
    await stopped;
    assert.equal(factory.numPorts, 0);
    assert.ok(events.some((e) => textFromEvent(e) === `(TCP Port ${number} Closed)`));
    // The port is free again: nothing refuses to listen there.
    const again = reactor.listenTCP(number, factory, { interface: "127.0.0.1" });
    await again.stopListening();
    // Stopping twice is harmless.
    await port.stopListening();
  });
});

Deno.test("Reactor.listenTCP starts a factory for its first port and stops it after its last", async () => {
  class Counting extends Factory {
    starts = 0;
    stops = 0;
    override startFactory(): void {
      this.starts++;
    }
    override stopFactory(): void {
      this.stops++;
    }
  }
  const factory = new Counting();
  const a = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
  const b = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
  assert.notEqual(a.getHost().port, b.getHost().port);
  assert.deepEqual([factory.starts, factory.stops, factory.numPorts], [1, 0, 2]);
  await a.stopListening();
  assert.deepEqual([factory.starts, factory.stops, factory.numPorts], [1, 0, 1]);
  await b.stopListening();
  assert.deepEqual([factory.starts, factory.stops, factory.numPorts], [1, 1, 0]);
});

Deno.test("Reactor.listenTCP throws CannotListenError naming the address for a port in use", async () => {
  await using port = reactor.listenTCP(0, new Factory(), { interface: "127.0.0.1" });
  const number = port.getHost().port;
  const factory = new Factory();
  assert.throws(
    () => reactor.listenTCP(number, factory, { interface: "127.0.0.1" }),
    (e: unknown) => {
      assert.ok(e instanceof CannotListenError);
      assert.equal(e.name, "CannotListenError");
      assert.equal(e.message, `cannot listen on 127.0.0.1:${number}: address already in use`);
      assert.equal(e.port, number);
      assert.ok(e.cause instanceof Deno.errors.AddrInUse);
      return true;
    },
  );
  assert.equal(factory.numPorts, 0, "a port that failed does not start its factory");
});

Deno.test("Reactor's listen and connect calls refuse what is not a factory, naming the call", () => {
  const cases: [RegExp, () => unknown][] = [
    [
      /^listenTCP needs a Factory, not Object \(it has no buildProtocol, /,
      () => reactor.listenTCP(0, {} as never),
    ],
    [/^listenUNIX needs a Factory, not null$/, () => reactor.listenUNIX("/tmp/x.sock", null!)],
    [
      /^connectTCP needs a ClientFactory, not Factory \(it has no startedConnecting, /,
      () => reactor.connectTCP("127.0.0.1", 1, new Factory() as never),
    ],
  ];
  for (const [message, call] of cases) {
    assert.throws(call, (e: unknown) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("Reactor.listenTCP releases the port when the factory's startFactory throws", async () => {
  class Broken extends Factory {
    override startFactory(): void {
      throw new RangeError("no database");
    }
  }
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const number = probe.addr.port;
  probe.close();
  assert.throws(
    () => reactor.listenTCP(number, new Broken(), { interface: "127.0.0.1" }),
    RangeError,
  );
  // Nothing is left listening: the address is free again.
  await using port = reactor.listenTCP(number, new Factory(), { interface: "127.0.0.1" });
  assert.equal(port.getHost().port, number);
});

Deno.test("ListeningPort.stopListening leaves the connections it accepted open", async () => {
  const serverFactory = new CollectingFactory(() => new Echo());
  const port = reactor.listenTCP(0, serverFactory, { interface: "127.0.0.1" });
  const client = new Recorder();
  const clientFactory = new OneClientFactory(client);
  reactor.connectTCP("127.0.0.1", port.getHost().port, clientFactory);
  const server = await serverFactory.nth(0);
  await client.made.promise;
  await port.stopListening();
  assert.equal(serverFactory.numPorts, 0);
  assert.equal(server.connected, true, "the accepted connection outlives its port");
  client.transport.write("still here");
  while (client.text() !== "still here") await turn();
  client.transport.loseConnection();
  assert.ok((await server.lost.promise).check(ConnectionDone));
  await clientFactory.clientLost.promise;
});

/** A factory of Recorders whose `stopped` resolves when its last port has closed. */
class Stopping extends CollectingFactory<Recorder> {
  readonly stopped: PromiseWithResolvers<void> = Promise.withResolvers<void>();
  constructor() {
    super(() => new Recorder());
  }
  override stopFactory(): void {
    this.stopped.resolve();
  }
}

Deno.test("Reactor.listenTCP with a signal stops listening when it aborts, as Deno.serve does", async () => {
  const factory = new Stopping();
  const controller = new AbortController();
  const port = reactor.listenTCP(0, factory, { interface: "127.0.0.1", signal: controller.signal });
  const number = port.getHost().port;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: number });
  const server = await factory.nth(0);
  controller.abort();
  await factory.stopped.promise;
  await assert.rejects(
    () => Deno.connect({ hostname: "127.0.0.1", port: number }),
    Deno.errors.ConnectionRefused,
  );
  // The connection accepted before the abort stays open, as with stopListening().
  await conn.write(new TextEncoder().encode("still here"));
  while (server.text() !== "still here") await turn();
  conn.close();
  assert.ok((await server.lost.promise).check(ConnectionDone));
});

Deno.test("Reactor.listenTCP with an aborted signal stops the port as soon as it is made", async () => {
  const factory = new Stopping();
  const port = reactor.listenTCP(0, factory, {
    interface: "127.0.0.1",
    signal: AbortSignal.abort(),
  });
  assert.ok(port.getHost().port > 0);
  await factory.stopped.promise;
  assert.equal(factory.numPorts, 0);
});

Deno.test("Reactor.listenTCP lets go of its signal once the port stops another way", async () => {
  const { controller, listeners } = countedSignal();
  const factory = new Stopping();
  const port = reactor.listenTCP(0, factory, { interface: "127.0.0.1", signal: controller.signal });
  assert.equal(listeners(), 1);
  await port.stopListening();
  assert.equal(listeners(), 0);
  controller.abort(); // nothing left to stop
});

Deno.test("Reactor.listenTCP keeps accepting while connections come and go", async () => {
  const factory = new CollectingFactory(() => new Echo());
  await using port = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
  const clients = Array.from({ length: 20 }, (_, i) => new Greeter(`poem ${i}`));
  for (const client of clients) {
    reactor.connectTCP("127.0.0.1", port.getHost().port, new OneClientFactory(client));
  }
  await Promise.all(clients.map((c) => c.lost.promise));
  for (const [i, client] of clients.entries()) assert.equal(client.text(), `poem ${i}`);
  await Promise.all(factory.built.map((p) => p.lost.promise));
  assert.equal(factory.built.length, 20);
});

/** Whether /usr/bin/python3 runs here (it can reset a connection: Deno cannot). */
function hasPython(): boolean {
  try {
    return new Deno.Command("/usr/bin/python3", { args: ["-c", ""] }).outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "A server out of file descriptors logs one line per failed accept and serves again after",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // The transformation server holds each connection open until it gets a request; with 128
    // descriptors, 200 idle clients leave it none to accept with.
    const transform = new URL("../services/transform.ts", import.meta.url).pathname;
    await using server = await startProgram("sh", [
      "-c",
      'ulimit -n 128 && exec "$0" "$@"',
      Deno.execPath(),
      "run",
      "--allow-net=127.0.0.1",
      transform,
      "--port",
      "0",
      "--iface",
      "127.0.0.1",
    ], { ready: /starting on (\d+)/ });
    const idle: Deno.Conn[] = [];
    try {
      for (let i = 0; i < 200; i++) {
        idle.push(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
      }
      await new Promise((resolve) => setTimeout(resolve, 500)); // the accepts fail meanwhile
    } finally {
      for (const conn of idle) conn.close();
    }
    const answer = await (async () => {
      for (let attempt = 0;; attempt++) {
        try {
          return await exchange(server.port, "13:uppercase.ode,");
        } catch (e) {
          // The back-off may still be waiting (at most a second): try again a few times.
          if (attempt === 20) throw e;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    })();
    assert.equal(answer, "3:ODE,");
    const end = await server.stop();
    assert.equal(end.code, 0, end.stdout + end.stderr);
    assert.doesNotMatch(end.stdout + end.stderr, /panicked|Traceback|Unhandled/);
    assert.match(
      end.stdout,
      /Could not accept a new connection on port \d+: too many open files\n/,
    );
  },
});

Deno.test({
  name: "Reactor.listenTCP logs connections reset before accept at most a line a second, no error",
  ignore: !hasPython(), // no other way to send a reset: Deno sockets have no SO_LINGER
  async fn() {
    await withLog(async (events) => {
      const factory = new CollectingFactory(() => new Echo());
      await using port = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
      // Forty connections reset while they wait to be accepted: the event loop is held up
      // (outputSync) until they are, so the port finds them reset.
      const resets = `import socket, struct
for _ in range(40):
    s = socket.create_connection(("127.0.0.1", ${port.getHost().port}))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()`;
      const run = new Deno.Command("/usr/bin/python3", { args: ["-c", resets] }).outputSync();
      assert.ok(run.success, new TextDecoder().decode(run.stderr));
      const client = new Greeter("still serving");
      reactor.connectTCP("127.0.0.1", port.getHost().port, new OneClientFactory(client));
      await client.lost.promise;
      assert.equal(client.text(), "still serving");
      await Promise.all(factory.built.map((p) => p.lost.promise));
      assert.equal(factory.built.length, 1, "only the good connection got a protocol");
      assert.deepEqual(events.filter((e) => e.isError), []);
      // At most a line a second, the next one counting those left out.
      const notes = events.map(textFromEvent).filter((t) => t.startsWith("Could not accept"));
      assert.ok(notes.length >= 1 && notes.length <= 2, notes.join("\n"));
    });
  },
});

// ---- Connecting ----

/** A port number where nothing listens (it was just released). */
async function freePort(): Promise<number> {
  const port = reactor.listenTCP(0, new Factory(), { interface: "127.0.0.1" });
  const number = port.getHost().port;
  await port.stopListening();
  return number;
}

Deno.test("Reactor.connectTCP reports a refused connection through clientConnectionFailed", async () => {
  const number = await freePort();
  const factory = new OneClientFactory(new Recorder());
  const connector = reactor.connectTCP("127.0.0.1", number, factory);
  assert.equal(connector.state, "connecting");
  assert.equal(factory.numPorts, 1);
  assert.deepEqual(connector.getDestination(), { type: "TCP", host: "127.0.0.1", port: number });
  const reason = await factory.failed.promise;
  assert.ok(reason.check(ConnectionRefusedError));
  assert.ok(reason.check(ConnectError));
  assert.equal(reason.getErrorMessage(), `connection to 127.0.0.1:${number} was refused`);
  assert.deepEqual(factory.events, ["startedConnecting", "clientConnectionFailed"]);
  assert.equal(connector.state, "disconnected");
  assert.equal(factory.numPorts, 0, "the factory is stopped after the failure");
  await connector[Symbol.asyncDispose]();
});

Deno.test("Connector.connect tries again after a failure", async () => {
  const number = await freePort();
  class Retrying extends ClientFactory {
    failures = 0;
    readonly client = new Recorder();
    override buildProtocol(): Protocol {
      return this.client;
    }
    override clientConnectionFailed(connector: Connector, _reason: Failure): void {
      this.failures++;
      // Now something listens there: try again, from within the callback as Twisted allows.
      server = reactor.listenTCP(number, serverFactory, { interface: "127.0.0.1" });
      connector.connect();
    }
  }
  const serverFactory = new CollectingFactory(() => new Echo());
  let server: ReturnType<typeof reactor.listenTCP> | undefined;
  const factory = new Retrying();
  await using connector = reactor.connectTCP("127.0.0.1", number, factory);
  await factory.client.made.promise;
  assert.equal(factory.failures, 1);
  assert.equal(connector.state, "connected");
  assert.equal(factory.numPorts, 1, "the factory stayed started across the retry");
  connector.disconnect();
  assert.ok((await factory.client.lost.promise).check(ConnectionDone));
  assert.equal(connector.state, "disconnected");
  assert.equal(factory.numPorts, 0);
  await (await serverFactory.nth(0)).lost.promise;
  await server!.stopListening();
});

Deno.test("Connector stopped in the turn it started dials nothing: the server never sees it", async () => {
  const serverFactory = new CollectingFactory(() => new Echo());
  await using port = reactor.listenTCP(0, serverFactory, { interface: "127.0.0.1" });
  const number = port.getHost().port;
  class StopsWhenStarted extends ClientFactory {
    failures: Failure[] = [];
    override startedConnecting(connector: Connector): void {
      connector.stopConnecting();
    }
    override clientConnectionFailed(_connector: Connector, reason: Failure): void {
      this.failures.push(reason);
    }
  }
  const stopped = reactor.connectTCP("127.0.0.1", number, new ClientFactory());
  stopped.stopConnecting();
  const disconnected = reactor.connectTCP("127.0.0.1", number, new ClientFactory());
  disconnected.disconnect();
  const fromCallback = new StopsWhenStarted();
  const third = reactor.connectTCP("127.0.0.1", number, fromCallback);
  assert.ok(fromCallback.failures[0]?.check(UserError));
  for (const connector of [stopped, disconnected, third]) await connector[Symbol.asyncDispose]();
  // One real connection afterwards is the first (and only) one the server builds a protocol for.
  const client = new OneClientFactory(new Recorder());
  await using connector = reactor.connectTCP("127.0.0.1", number, client);
  await client.protocolInstance.made.promise;
  const server = await serverFactory.nth(0);
  connector.disconnect();
  await server.lost.promise;
  assert.equal(serverFactory.built.length, 1);
});

Deno.test("Connector: a client buildProtocol that throws fails the attempt with ConnectError", async () => {
  const serverFactory = new CollectingFactory(() => new Echo());
  await using port = reactor.listenTCP(0, serverFactory, { interface: "127.0.0.1" });
  class Broken extends ClientFactory {
    readonly failed = Promise.withResolvers<Failure>();
    override buildProtocol(): Protocol {
      throw new TypeError("no protocol today");
    }
    override clientConnectionFailed(_connector: Connector, reason: Failure): void {
      this.failed.resolve(reason);
    }
  }
  const factory = new Broken();
  await withLog(async (events) => {
    await using _connector = reactor.connectTCP("127.0.0.1", port.getHost().port, factory);
    const reason = await factory.failed.promise;
    assert.ok(reason.check(ConnectError));
    assert.ok(reason.value instanceof ConnectError && reason.value.cause instanceof TypeError);
    assert.match(reason.getErrorMessage(), /buildProtocol failed: no protocol today/);
    assert.equal(factory.numPorts, 0);
    assert.ok(events.some((e) => e.isError && e.failure?.check(TypeError)));
  });
  await (await serverFactory.nth(0)).lost.promise;
});

Deno.test("Connector.stopConnecting fails the attempt with UserError at once", async () => {
  // A raw listener that never accepts: the attempt is stopped before it can complete.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const factory = new OneClientFactory(new Recorder());
  const connector = reactor.connectTCP("127.0.0.1", listener.addr.port, factory);
  connector.stopConnecting();
  assert.equal(connector.state, "disconnected");
  assert.deepEqual(factory.events, ["startedConnecting", "clientConnectionFailed"]);
  const reason = await factory.failed.promise;
  assert.ok(reason.check(UserError));
  assert.throws(() => connector.stopConnecting(), NotConnectingError);
  await connector[Symbol.asyncDispose]();
  assert.equal(factory.protocolInstance.connected, false, "a late connection is never made");
  listener.close();
});

Deno.test("Reactor.connectTCP fails with TimeoutError after timeout seconds (on a test clock)", async () => {
  const clock = new Clock();
  const testReactor = new Reactor({ clock });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const factory = new OneClientFactory(new Recorder());
  const connector = testReactor.connectTCP("127.0.0.1", listener.addr.port, factory, {
    timeout: 5,
  });
  assert.equal(clock.getDelayedCalls().length, 1);
  clock.advance(4.9);
  assert.deepEqual(factory.events, ["startedConnecting"]);
  clock.advance(0.1);
  assert.deepEqual(factory.events, ["startedConnecting", "clientConnectionFailed"]);
  const reason = await factory.failed.promise;
  assert.ok(reason.check(TimeoutError));
  assert.equal(TimeoutError, DeferTimeoutError, "one timeout error for the whole project");
  // As in Twisted, where the connect TimeoutError is a UserError and so a ConnectError.
  assert.equal(reason.check(ConnectError), ConnectError);
  assert.equal(reason.check(UserError), UserError);
  assert.equal(reason.check(ConnectionRefusedError, DNSLookupError), null);
  assert.equal((reason.value as ConnectError).where, `127.0.0.1:${listener.addr.port}`);
  assert.equal(
    reason.getErrorMessage(),
    `connecting to 127.0.0.1:${listener.addr.port} timed out after 5 seconds`,
  );
  assert.equal(connector.state, "disconnected");
  await connector[Symbol.asyncDispose]();
  assert.equal(factory.protocolInstance.connected, false);
  listener.close();
});

Deno.test("ConnectError counts a connection attempt's TimeoutError, and no other", () => {
  const deferredTimeout = new TimeoutError(1, "poem download");
  assert.equal(deferredTimeout instanceof ConnectError, false);
  assert.equal(deferredTimeout instanceof UserError, false);
  // The usual instanceof is untouched, subclasses included.
  assert.ok(new ConnectionRefusedError() instanceof ConnectError);
  assert.ok(new UserError() instanceof ConnectError);
  assert.equal(new ConnectError() instanceof ConnectionRefusedError, false);
  assert.equal(new ConnectError() instanceof UserError, false);
  assert.equal(ConnectError[Symbol.hasInstance](null), false);
});

Deno.test("Reactor.connectTCP cancels its timeout once connected", async () => {
  const clock = new Clock();
  const testReactor = new Reactor({ clock });
  const serverFactory = new CollectingFactory(() => new Echo());
  await using port = testReactor.listenTCP(0, serverFactory, { interface: "127.0.0.1" });
  const client = new Greeter("on time");
  await using _connector = testReactor.connectTCP(
    "127.0.0.1",
    port.getHost().port,
    new OneClientFactory(client),
  );
  await client.made.promise;
  assert.equal(clock.getDelayedCalls().length, 0);
  await client.lost.promise;
  await (await serverFactory.nth(0)).lost.promise;
});

Deno.test("Connector.disconnect closes an established connection", async () => {
  const serverFactory = new CollectingFactory(() => new Recorder());
  await using port = reactor.listenTCP(0, serverFactory, { interface: "127.0.0.1" });
  const factory = new OneClientFactory(new Recorder());
  const connector = reactor.connectTCP("127.0.0.1", port.getHost().port, factory);
  await factory.protocolInstance.made.promise;
  assert.throws(() => connector.connect(), /connector is connected/);
  connector.disconnect();
  const reason = await factory.clientLost.promise;
  assert.ok(reason.check(ConnectionDone));
  assert.deepEqual(factory.events, ["startedConnecting", "clientConnectionLost"]);
  assert.ok((await (await serverFactory.nth(0)).lost.promise).check(ConnectionDone));
});

Deno.test("connectErrorFor maps Deno's connection errors to the reactor's", () => {
  const where = "127.0.0.1:10000";
  const cases: [unknown, new (...args: never[]) => Error, string][] = [
    [
      new Deno.errors.ConnectionRefused("Connection refused (os error 111)"),
      ConnectionRefusedError,
      "connection to 127.0.0.1:10000 was refused",
    ],
    [
      new Deno.errors.TimedOut("Connection timed out (os error 110)"),
      TCPTimedOutError,
      "connection to 127.0.0.1:10000 timed out in the network",
    ],
    [
      new Error("failed to lookup address information: Name or service not known"),
      DNSLookupError,
      "DNS lookup failed for 127.0.0.1: failed to lookup address information: Name or service not known",
    ],
    [
      new Deno.errors.NotFound("No such file or directory (os error 2)"),
      ConnectError,
      "connection to 127.0.0.1:10000 failed: no such file or directory",
    ],
  ];
  for (const [denoError, cls, message] of cases) {
    const mapped = connectErrorFor(denoError, where);
    assert.ok(mapped instanceof cls, `${mapped.name} for ${denoError}`);
    assert.equal(mapped.message, message);
    assert.equal(mapped.cause, denoError);
  }
});

// ---- Time ----

Deno.test("Reactor.callLater schedules on the shared real-time clock", async () => {
  const { promise, resolve } = Promise.withResolvers<string>();
  const call = reactor.callLater(0, resolve, "called");
  assert.ok(realTime.getDelayedCalls().includes(call));
  assert.ok(reactor.getDelayedCalls().includes(call));
  assert.equal(await promise, "called");
  assert.equal(call.called, true);
  const cancelled = reactor.callLater(10, () => assert.fail("cancelled calls are not made"));
  cancelled.cancel();
  assert.equal(cancelled.cancelled, true);
  assert.ok(Math.abs(reactor.seconds() - Date.now() / 1000) < 1);
  assert.throws(() => reactor.callLater(-1, () => {}), RangeError);
});

// ---- Life cycle ----

Deno.test("Reactor.run fires the startup phases in order, then callWhenRunning calls", async () => {
  const r = new Reactor();
  const seen: string[] = [];
  const ids = [
    r.addSystemEventTrigger("after", "startup", () => seen.push(`after ${r.running}`)),
    r.addSystemEventTrigger("during", "startup", () => seen.push(`during ${r.running}`)),
    r.addSystemEventTrigger("before", "startup", () => seen.push(`before ${r.running}`)),
  ];
  r.callWhenRunning((x: string) => seen.push(`${x} ${r.running}`), "running");
  const removed = r.addSystemEventTrigger("before", "startup", () => seen.push("removed"));
  r.removeSystemEventTrigger(removed);
  assert.throws(() => r.removeSystemEventTrigger(removed), /no system event trigger/);
  r.callWhenRunning(() => r.stop());
  const done = r.run({ installSignalHandlers: false });
  assert.throws(() => r.run(), ReactorAlreadyRunning);
  await done;
  assert.deepEqual(seen, ["before false", "during true", "after true", "running true"]);
  assert.equal(r.running, false);
  for (const id of ids) r.removeSystemEventTrigger(id);
});

Deno.test("Reactor.stop runs the shutdown phases; a trigger's Deferred holds back the next", async () => {
  const r = new Reactor();
  const seen: string[] = [];
  const gate = new Deferred<void>();
  r.addSystemEventTrigger("before", "shutdown", () => {
    seen.push("before");
    return gate;
  });
  r.addSystemEventTrigger("before", "shutdown", async () => {
    await turn();
    seen.push("before (promise)");
  });
  r.addSystemEventTrigger("during", "shutdown", () => seen.push(`during ${r.running}`));
  r.addSystemEventTrigger("after", "shutdown", () => seen.push("after"));
  let finished = false;
  const done = r.run({ installSignalHandlers: false }).then(() => (finished = true));
  await turn();
  assert.equal(r.running, true);
  r.stop();
  assert.throws(() => r.stop(), ReactorNotRunning, "stopping twice is an error");
  for (let i = 0; i < 5; i++) await turn();
  assert.deepEqual(seen, ["before", "before (promise)"], "during waits for the Deferred");
  assert.equal(finished, false);
  gate.callback(undefined);
  await done;
  assert.deepEqual(seen, ["before", "before (promise)", "during false", "after"]);
});

Deno.test("Reactor.stop from a start-up trigger waits for start-up, and leaves it stopped", async () => {
  const r = new Reactor();
  const seen: string[] = [];
  const gate = new Deferred<void>();
  r.addSystemEventTrigger("before", "startup", () => {
    r.stop();
    return gate; // start-up is still under way when stop() is called
  });
  r.callWhenRunning(() => seen.push(`running ${r.running}`));
  r.addSystemEventTrigger("before", "shutdown", () => seen.push("shutdown"));
  let finished = false;
  const done = r.run({ installSignalHandlers: false }).then(() => (finished = true));
  await turn();
  assert.deepEqual(seen, []);
  assert.equal(finished, false, "shutdown waits for start-up");
  gate.callback(undefined);
  await done;
  assert.deepEqual(seen, ["running true", "shutdown"]);
  assert.equal(r.running, false);
});

Deno.test("Reactor.stop runs the calls already due before the shutdown begins", async () => {
  const r = new Reactor();
  const seen: string[] = [];
  r.addSystemEventTrigger("before", "shutdown", () => seen.push("shutdown"));
  r.callWhenRunning(() => {
    r.callLater(0, () => seen.push(`due call, running ${r.running}`));
    r.stop();
  });
  await r.run({ installSignalHandlers: false });
  assert.deepEqual(seen, ["due call, running true", "shutdown"]);
});

Deno.test("Reactor.stop throws ReactorNotRunning when the reactor is not running", () => {
  const r = new Reactor();
  assert.throws(() => r.stop(), (e: unknown) => {
    assert.ok(e instanceof ReactorNotRunning);
    assert.equal(e.name, "ReactorNotRunning");
    return true;
  });
  assert.throws(() => reactor.stop(), ReactorNotRunning);
});

Deno.test("Reactor.run can run again after a stop; callWhenRunning calls are made once", async () => {
  const r = new Reactor();
  let startups = 0;
  let once = 0;
  const id = r.addSystemEventTrigger("after", "startup", () => startups++);
  r.callWhenRunning(() => once++);
  for (let i = 0; i < 2; i++) {
    r.callWhenRunning(() => r.stop());
    await r.run({ installSignalHandlers: false });
  }
  assert.equal(startups, 2);
  assert.equal(once, 1);
  // Once running, callWhenRunning calls at once.
  let now = false;
  r.callWhenRunning(() => {
    assert.equal(r.callWhenRunning(() => (now = true)), undefined);
    assert.equal(now, true);
    r.stop();
  });
  await r.run({ installSignalHandlers: false });
  r.removeSystemEventTrigger(id);
});

Deno.test("Reactor.stop closes the reactor's ports, connection attempts and connections", async () => {
  await withLog(async (events) => {
    const r = new Reactor();
    const serverFactory = new CollectingFactory(() => new Recorder());
    const port = r.listenTCP(0, serverFactory, { interface: "127.0.0.1" });
    const number = port.getHost().port;
    const client = new Recorder();
    const clientFactory = new OneClientFactory(client);
    r.connectTCP("127.0.0.1", number, clientFactory);
    const server = await serverFactory.nth(0);
    await client.made.promise;
    // An attempt that cannot complete: a raw listener that never accepts.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const pending = new OneClientFactory(new Recorder());
    r.connectTCP("127.0.0.1", listener.addr.port, pending);
    let portOpenDuringBefore = false;
    r.addSystemEventTrigger("before", "shutdown", () => {
      portOpenDuringBefore = !events.some((e) => textFromEvent(e).includes("Closed)"));
    });
    r.callWhenRunning(() => r.stop());
    await r.run({ installSignalHandlers: false });
    assert.ok(portOpenDuringBefore, "ports close in the during phase, after the before triggers");
    assert.ok(events.some((e) => textFromEvent(e) === `(TCP Port ${number} Closed)`));
    assert.ok(server.reason!.check(ConnectionLost) || server.reason!.check(ConnectionDone));
    assert.ok(client.reason!.check(ConnectionLost) || client.reason!.check(ConnectionDone));
    assert.equal(server.lostCount + client.lostCount, 2);
    assert.ok((await pending.failed.promise).check(UserError));
    assert.equal(serverFactory.numPorts, 0);
    listener.close();
  });
});

Deno.test("Reactor.run stops on SIGTERM when it installs signal handlers", async () => {
  await withLog(async (events) => {
    const r = new Reactor();
    r.callWhenRunning(() => Deno.kill(Deno.pid, "SIGTERM"));
    await r.run();
    assert.ok(events.some((e) => textFromEvent(e) === "Received SIGTERM, shutting down."));
    assert.ok(events.some((e) => textFromEvent(e) === "Main loop terminated."));
  });
});

Deno.test("Reactor.fireSystemEvent runs the phases of any event", async () => {
  const r = new Reactor();
  const seen: string[] = [];
  const ids = [
    r.addSystemEventTrigger("during", "reload", () => seen.push("during")),
    r.addSystemEventTrigger("before", "reload", (x: number) => seen.push(`before ${x}`), 1),
    r.addSystemEventTrigger("after", "reload", () => seen.push("after")),
    r.addSystemEventTrigger("before", "reload", () => {
      throw new Error("a broken trigger");
    }),
  ];
  await withLog(async (events) => {
    await r.fireSystemEvent("reload");
    assert.equal(events.filter((e) => e.isError).length, 1, "a throwing trigger is logged");
  });
  assert.deepEqual(seen, ["before 1", "during", "after"]);
  for (const id of ids) r.removeSystemEventTrigger(id);
  assert.throws(
    () => r.addSystemEventTrigger("later" as "after", "reload", () => {}),
    /phase must be/,
  );
});

Deno.test("Reactor.fireSystemEvent from one of the event's own triggers does not run it again", async () => {
  const r = new Reactor();
  const seen: string[] = [];
  const ids = [
    r.addSystemEventTrigger("before", "reload", () => {
      seen.push("before");
      return r.fireSystemEvent("reload"); // already under way: fires at once, runs nothing
    }),
    r.addSystemEventTrigger("during", "reload", () => seen.push("during")),
  ];
  await r.fireSystemEvent("reload");
  assert.deepEqual(seen, ["before", "during"]);
  await r.fireSystemEvent("reload"); // and over, it can be fired again
  assert.deepEqual(seen, ["before", "during", "before", "during"]);
  for (const id of ids) r.removeSystemEventTrigger(id);
});

Deno.test("Reactor.fireSystemEvent runs a trigger added to the phase under way, in that phase", async () => {
  const r = new Reactor();
  const seen: string[] = [];
  const added: number[] = [];
  const ids = [
    r.addSystemEventTrigger("before", "reload", () => {
      seen.push("before");
      added.push(r.addSystemEventTrigger("before", "reload", () => seen.push("added before")));
    }),
    r.addSystemEventTrigger("during", "reload", () => seen.push("during")),
  ];
  await r.fireSystemEvent("reload");
  assert.deepEqual(seen, ["before", "added before", "during"]);
  for (const id of [...ids, ...added]) r.removeSystemEventTrigger(id);
});

// ---- TLS ----

Deno.test("Reactor.listenSSL and connectSSL carry data over TLS with a self-signed certificate", async () => {
  const cert = Deno.readTextFileSync(certPath);
  const key = Deno.readTextFileSync(keyPath);
  const serverFactory = new CollectingFactory(() => new Echo());
  await using port = reactor.listenSSL(0, serverFactory, { cert, key, interface: "127.0.0.1" });
  const message = "x".repeat(300_000);
  const client = new Greeter(message);
  await using _connector = reactor.connectSSL(
    "127.0.0.1",
    port.getHost().port,
    new OneClientFactory(client),
    { caCerts: [certPath], hostname: "localhost" },
  );
  await client.made.promise;
  assert.deepEqual(client.transport.getPeer(), {
    type: "TCP",
    host: "127.0.0.1",
    port: port.getHost().port,
  });
  const reason = await client.lost.promise;
  assert.equal(client.text(), message);
  assert.ok(reason.check(ConnectionDone));
  const server = await serverFactory.nth(0);
  assert.ok((await server.lost.promise).check(ConnectionDone));
});

Deno.test("Reactor.connectSSL reads its CA files when called, not on each attempt", async () => {
  // The runner drops the read permission once started: a service that connects later, or a
  // connector that retries, must not need it. Here the file is gone before the attempt.
  const cert = Deno.readTextFileSync(certPath);
  const key = Deno.readTextFileSync(keyPath);
  await using port = reactor.listenSSL(0, new CollectingFactory(() => new Echo()), {
    cert,
    key,
    interface: "127.0.0.1",
  });
  const dir = Deno.makeTempDirSync();
  try {
    const caPath = `${dir}/ca.pem`;
    Deno.writeTextFileSync(caPath, cert);
    const client = new Greeter("verified");
    const factory = new OneClientFactory(client);
    await using _connector = reactor.connectSSL("127.0.0.1", port.getHost().port, factory, {
      caCerts: [caPath],
      hostname: "localhost",
    });
    Deno.removeSync(caPath);
    const failed = factory.failed.promise.then((reason) => reason.getErrorMessage());
    assert.equal(
      await Promise.race([client.lost.promise.then(() => "connected"), failed]),
      "connected",
    );
    assert.equal(client.text(), "verified");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Reactor.connectSSL throws at once for a CA file it cannot read, naming it once", () => {
  const missing = `${Deno.makeTempDirSync()}/missing-ca.pem`;
  try {
    assert.throws(
      () => reactor.connectSSL("127.0.0.1", 1, new ClientFactory(), { caCerts: [missing] }),
      (e: unknown) => {
        assert.ok(e instanceof TypeError);
        assert.equal(
          e.message,
          `cannot read the CA certificate from ${missing}: no such file or directory`,
        );
        return true;
      },
    );
  } finally {
    Deno.removeSync(missing.slice(0, missing.lastIndexOf("/")));
  }
});

Deno.test("TLS: a peer that closes without close_notify loses the connection (it may be cut short)", async () => {
  // The server says hello and waits; a plain TCP relay between it and the client then drops
  // both sockets, so neither end gets a close_notify.
  class Hello extends Recorder {
    override connectionMade(): void {
      super.connectionMade();
      this.transport.write("hello");
    }
  }
  class HalfCloseable extends Recorder {
    readonly got = Promise.withResolvers<void>();
    readonly readLost = Promise.withResolvers<"end of file">();
    override dataReceived(data: Uint8Array): void {
      super.dataReceived(data);
      if (this.text() === "hello") this.got.resolve();
    }
    readConnectionLost(): void {
      this.readLost.resolve("end of file");
    }
  }
  const serverFactory = new CollectingFactory(() => new Hello());
  await using port = reactor.listenSSL(0, serverFactory, {
    cert: certPath,
    key: keyPath,
    interface: "127.0.0.1",
  });
  const relay = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const pump = async (from: Deno.Conn, to: Deno.Conn): Promise<void> => {
    const buf = new Uint8Array(16 * 1024);
    try {
      for (let n = await from.read(buf); n !== null; n = await from.read(buf)) {
        await to.write(buf.subarray(0, n));
      }
    } catch {
      // The relay dropped the sockets.
    }
  };
  const relayed = (async () => {
    const down = await relay.accept();
    const up = await Deno.connect({ hostname: "127.0.0.1", port: port.getHost().port });
    return { down, up, pumps: Promise.all([pump(down, up), pump(up, down)]) };
  })();
  const client = new HalfCloseable();
  await using _connector = reactor.connectSSL(
    "127.0.0.1",
    relay.addr.port,
    new OneClientFactory(client),
    { caCerts: [certPath], hostname: "localhost" },
  );
  await client.got.promise;
  const { down, up, pumps } = await relayed;
  down.close();
  up.close();
  relay.close();
  await pumps;
  const reason = await Promise.race([client.lost.promise, client.readLost.promise]);
  assert.ok(typeof reason !== "string" && reason.check(ConnectionLost), String(reason));
  assert.match(reason.getErrorMessage(), /without TLS close_notify/);
  const server = await serverFactory.nth(0);
  assert.ok((await server.lost.promise).check(ConnectionLost));
});

Deno.test("Reactor.listenSSL takes file paths; connectSSL fails an unverified certificate", async () => {
  const serverFactory = new CollectingFactory(() => new Echo());
  await using port = reactor.listenSSL(0, serverFactory, {
    cert: certPath,
    key: keyPath,
    interface: "127.0.0.1",
  });
  const factory = new OneClientFactory(new Recorder());
  await using _connector = reactor.connectSSL("127.0.0.1", port.getHost().port, factory);
  const reason = await factory.failed.promise;
  assert.ok(reason.check(ConnectError));
  assert.match(reason.getErrorMessage(), /certificate/i);
  assert.equal(factory.protocolInstance.connected, false);
  const server = await serverFactory.nth(0);
  assert.ok((await server.lost.promise).check(ConnectionLost));
  assert.throws(
    () => reactor.listenSSL(0, new Factory(), { cert: "/nonexistent/cert.pem", key: keyPath }),
    /cannot read the certificate from \/nonexistent\/cert.pem/,
  );
});

// ---- UNIX sockets ----

unixTest("Reactor.listenUNIX and connectUNIX carry data over a UNIX socket", {
  file: import.meta.url,
  sockets: ["server.sock", "missing.sock"],
}, async (dir) => {
  const path = `${dir}/server.sock`;
  const serverFactory = new CollectingFactory(() => new Echo());
  const port = reactor.listenUNIX(path, serverFactory);
  assert.deepEqual(port.getHost(), { type: "UNIX", path });
  assert.throws(
    () => reactor.listenUNIX(path, new Factory()),
    (e: unknown) =>
      e instanceof CannotListenError && e.message.startsWith(`cannot listen on ${path}: `),
  );
  const client = new Greeter("over a UNIX socket");
  const factory = new OneClientFactory(client);
  const connector = reactor.connectUNIX(path, factory);
  assert.deepEqual(connector.getDestination(), { type: "UNIX", path });
  await client.made.promise;
  assert.deepEqual(client.transport.getPeer(), { type: "UNIX", path });
  assert.equal(client.transport.getHost().type, "UNIX");
  client.transport.setTcpNoDelay(true); // no effect, no error
  assert.ok((await client.lost.promise).check(ConnectionDone));
  assert.equal(client.text(), "over a UNIX socket");
  const server = await serverFactory.nth(0);
  assert.ok((await server.lost.promise).check(ConnectionDone));
  await port.stopListening();
  assert.throws(() => Deno.statSync(path), Deno.errors.NotFound, "the socket file is removed");

  const missing = new OneClientFactory(new Recorder());
  reactor.connectUNIX(`${dir}/missing.sock`, missing);
  const reason = await missing.failed.promise;
  assert.ok(reason.check(ConnectError));
  assert.match(reason.getErrorMessage(), /missing\.sock/);
});

Deno.test("A connection attempt that fails at once leaves no timer, even as a test's first timer", async () => {
  const fixture = new URL("./fixtures/first_timer.ts", import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--no-check", "--allow-read", "--sanitize-ops", "--sanitize-resources", fixture],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, out);
  assert.match(out, /failed: connection to \/nonexistent\/poetry\.sock failed/);
  assert.match(out, /ok \| 1 passed/);
});

unixTest("Reactor.listenUNIX makes the socket 0o666 unless given a mode, whatever the umask", {
  file: import.meta.url,
  sockets: ["open.sock", "private.sock"],
}, async (dir) => {
  const mode = (path: string) => (Deno.statSync(path).mode! & 0o777).toString(8);
  const open = reactor.listenUNIX(`${dir}/open.sock`, new Factory());
  const owner = reactor.listenUNIX(`${dir}/private.sock`, new Factory(), { mode: 0o600 });
  try {
    assert.equal(mode(`${dir}/open.sock`), "666");
    assert.equal(mode(`${dir}/private.sock`), "600");
  } finally {
    await open.stopListening();
    await owner.stopListening();
  }
});
