import assert from "node:assert/strict";
import { CancelledError, Deferred } from "../defer.ts";
import { addObserver, type LogEvent, removeObserver } from "../log.ts";
import { CannotListenError } from "../error.ts";
import { Failure } from "../failure.ts";
import { ClientFactory, Factory } from "../protocols/factory.ts";
import { Protocol } from "../protocols/protocol.ts";
import { ReconnectingClientFactory } from "../protocols/reconnecting_client_factory.ts";
import { Clock } from "../task.ts";
import { serverFromString, type StreamServerEndpoint } from "../endpoints.ts";
import { type ListeningPort, reactor } from "../reactor.ts";
import { MemoryReactor } from "../testing.ts";
import { Application } from "../services/application.ts";
import {
  NotListeningError,
  SSLServer,
  StreamServerEndpointService,
  TCPClient,
  TCPServer,
  TimerService,
  UNIXServer,
} from "../services/internet.ts";
import { MultiService } from "../services/multi_service.ts";
import {
  DuplicateServiceNameError,
  Service,
  ServiceParentError,
  UnknownServiceError,
} from "../services/service.ts";
import { unixTest } from "./fixtures/loopback.ts";

/** A service that records what happens to it in a shared journal. */
class Recorder extends Service {
  stopResult: Deferred<void> | undefined = undefined;
  constructor(readonly journal: string[], name?: string) {
    super();
    if (name !== undefined) this.setName(name);
  }
  override privilegedStartService(): void {
    this.journal.push(`privileged ${this.name}`);
  }
  override startService(): void {
    super.startService();
    this.journal.push(`start ${this.name}`);
  }
  override stopService(): Deferred<void> | void {
    super.stopService();
    this.journal.push(`stop ${this.name}`);
    return this.stopResult;
  }
}

function captureLog(): { events: LogEvent[]; [Symbol.dispose](): void } {
  const events: LogEvent[] = [];
  const observer = (event: LogEvent) => void events.push(event);
  addObserver(observer);
  return { events, [Symbol.dispose]: () => removeObserver(observer) };
}

Deno.test("Service.startService and stopService set running", () => {
  const service = new Service();
  assert.equal(service.running, false);
  service.startService();
  assert.equal(service.running, true);
  assert.equal(service.stopService(), undefined);
  assert.equal(service.running, false);
});

Deno.test("MultiService starts children in order and stops them in reverse", async () => {
  const journal: string[] = [];
  const top = new MultiService();
  for (const name of ["a", "b", "c"]) new Recorder(journal, name).setServiceParent(top);
  top.privilegedStartService();
  top.startService();
  assert.equal(top.running, true);
  await top.stopService();
  assert.equal(top.running, false);
  assert.deepEqual(journal, [
    "privileged a",
    "privileged b",
    "privileged c",
    "start a",
    "start b",
    "start c",
    "stop c",
    "stop b",
    "stop a",
  ]);
});

Deno.test("MultiService.stopService fires only once every child's Deferred has fired", () => {
  const journal: string[] = [];
  const top = new MultiService();
  const a = new Recorder(journal, "a");
  const b = new Recorder(journal, "b");
  a.stopResult = new Deferred<void>();
  b.stopResult = new Deferred<void>();
  a.setServiceParent(top);
  b.setServiceParent(top);
  top.startService();
  const done = top.stopService();
  // Both children were asked to stop at once; neither waits for the other.
  assert.deepEqual(journal.slice(-2), ["stop b", "stop a"]);
  assert.equal(done.called, false);
  b.stopResult.callback(undefined);
  assert.equal(done.called, false);
  a.stopResult.callback(undefined);
  assert.equal(done.called, true);
});

Deno.test("MultiService.stopService logs a failing child and still stops the others", async () => {
  using log = captureLog();
  const journal: string[] = [];
  const top = new MultiService();
  const a = new Recorder(journal, "a");
  const broken = new (class extends Service {
    override stopService(): void {
      super.stopService();
      throw new Error("disk on fire");
    }
  })();
  broken.setName("broken");
  const failing = new Recorder(journal, "failing");
  failing.stopResult = new Deferred<void>();
  a.setServiceParent(top);
  broken.setServiceParent(top);
  failing.setServiceParent(top);
  top.startService();
  const done = top.stopService();
  failing.stopResult.errback(new Error("could not flush"));
  await done;
  assert.equal(a.running, false);
  assert.deepEqual(journal.slice(-2), ["stop failing", "stop a"]);
  const errors = log.events.filter((e) => e.isError);
  assert.deepEqual(errors.map((e) => [e.why, e.failure?.getErrorMessage()]), [
    ['Error stopping service "broken":', "disk on fire"],
    ['Error stopping service "failing":', "could not flush"],
  ]);
});

Deno.test("MultiService waits for a child's async stopService, and logs one that rejects", async () => {
  using log = captureLog();
  const journal: string[] = [];
  class Database extends Service {
    override async stopService(): Promise<void> {
      super.stopService();
      await new Promise((resolve) => setTimeout(resolve, 10));
      journal.push(`${this.name} closed`);
      if (this.name === "cache") throw new Error("could not flush");
    }
  }
  const top = new MultiService();
  for (const name of ["db", "cache"]) {
    const child = new Database();
    child.setName(name);
    child.setServiceParent(top);
  }
  top.startService();
  await top.stopService();
  journal.push("top stopped");
  assert.deepEqual(journal, ["cache closed", "db closed", "top stopped"]);
  const errors = log.events.filter((e) => e.isError);
  assert.deepEqual(errors.map((e) => [e.why, e.failure?.getErrorMessage()]), [
    ['Error stopping service "cache":', "could not flush"],
  ]);
});

Deno.test("MultiService.stopService cancelled cancels the children's pending stops", async () => {
  using log = captureLog();
  const top = new MultiService();
  const quick = new Service();
  let cancelled = 0;
  const slow = new (class extends Service {
    override stopService(): Deferred<void> {
      super.stopService();
      return new Deferred<void>(() => void cancelled++);
    }
  })();
  slow.setName("slow");
  quick.setServiceParent(top);
  slow.setServiceParent(top);
  top.startService();
  const done = top.stopService();
  assert.equal(done.called, false);
  done.cancel();
  assert.equal(cancelled, 1, "the child's stop was cancelled");
  await done;
  const errors = log.events.filter((e) => e.isError);
  assert.deepEqual(errors.map((e) => e.why), ['Error stopping service "slow":']);
  assert.equal(errors[0].failure?.type, CancelledError);
  assert.equal(quick.running, false);
});

Deno.test("MultiService.stopService with no children fires at once", () => {
  const top = new MultiService();
  top.startService();
  assert.equal(top.stopService().called, true);
});

Deno.test("Service.setServiceParent refuses a service that already has a parent", () => {
  const first = new MultiService();
  first.setName("first");
  const service = new Service();
  service.setName("poetry");
  service.setServiceParent(first);
  assert.throws(() => service.setServiceParent(new MultiService()), (e: unknown) => {
    assert.ok(e instanceof ServiceParentError);
    assert.equal(e.name, "ServiceParentError");
    assert.match(e.message, /^service "poetry" already has a parent \(service "first"\)/);
    return true;
  });
  assert.equal(service.parent, first);
  assert.deepEqual([...first], [service]);
});

Deno.test("Service.setServiceParent refuses a second child of the same name", () => {
  const top = new Application("fastpoetry");
  const a = new Service();
  a.setName("web");
  a.setServiceParent(top);
  const b = new Service();
  b.setName("web");
  assert.throws(() => b.setServiceParent(top), (e: unknown) => {
    assert.ok(e instanceof DuplicateServiceNameError);
    assert.equal(e.name, "DuplicateServiceNameError");
    assert.equal(e.serviceName, "web");
    assert.equal(
      e.message,
      'cannot add service "web" to service "fastpoetry": it already has a service named "web"',
    );
    return true;
  });
  assert.equal(b.parent, undefined, "the refused service is left without a parent");
  assert.deepEqual([...top], [a]);
  // Unnamed services never clash.
  new Service().setServiceParent(top);
  new Service().setServiceParent(top);
  assert.equal([...top].length, 3);
});

Deno.test("Service.setName refuses to rename a service that has a parent", () => {
  const service = new Service();
  service.setName("old");
  service.setServiceParent(new MultiService());
  assert.throws(() => service.setName("new"), ServiceParentError);
  assert.equal(service.name, "old");
});

Deno.test("Service.disownServiceParent removes the service and lets it join another", () => {
  const first = new MultiService();
  const second = new MultiService();
  const service = new Service();
  service.setName("poetry");
  service.setServiceParent(first);
  assert.equal(service.disownServiceParent(), undefined);
  assert.equal(service.parent, undefined);
  assert.deepEqual([...first], []);
  assert.throws(() => first.getServiceNamed("poetry"), UnknownServiceError);
  service.setServiceParent(second);
  assert.equal(second.getServiceNamed("poetry"), service);
  assert.throws(() => new Service().disownServiceParent(), ServiceParentError);
});

Deno.test("MultiService.getServiceNamed finds a named child and names the unknown one", () => {
  const top = new Application("fastpoetry");
  const web = new Service();
  web.setName("web");
  web.setServiceParent(top);
  assert.equal(top.getServiceNamed("web"), web);
  assert.throws(() => top.getServiceNamed("ftp"), (e: unknown) => {
    assert.ok(e instanceof UnknownServiceError);
    assert.equal(e.message, 'service "fastpoetry" has no service named "ftp"');
    return true;
  });
});

Deno.test("MultiService.removeService refuses a service that is not its child", () => {
  const top = new MultiService();
  assert.throws(() => top.removeService(new Service()), UnknownServiceError);
});

Deno.test("MultiService starts a child added while it runs", () => {
  const journal: string[] = [];
  const top = new MultiService();
  top.startService();
  const late = new Recorder(journal, "late");
  late.setServiceParent(top);
  assert.equal(late.running, true);
  assert.deepEqual(journal, ["privileged late", "start late"]);
});

Deno.test("Service.setServiceParent keeps the parent of a child whose start throws", () => {
  const top = new MultiService();
  top.startService();
  const broken = new (class extends Service {
    override startService(): void {
      super.startService();
      throw new Error("poem file missing");
    }
  })();
  broken.setName("broken");
  assert.throws(() => broken.setServiceParent(top), /poem file missing/);
  // The collection holds it (and will stop it), so the child must say so too.
  assert.equal(broken.parent, top);
  assert.equal(top.getServiceNamed("broken"), broken);
  broken.disownServiceParent();
  assert.equal(broken.parent, undefined);
  assert.deepEqual([...top], []);
  assert.equal(broken.running, false, "disowned from a running parent, it is stopped");
});

Deno.test("MultiService stops a child removed while it runs and returns its Deferred", () => {
  const journal: string[] = [];
  const top = new MultiService();
  const child = new Recorder(journal, "child");
  child.stopResult = new Deferred<void>();
  child.setServiceParent(top);
  top.startService();
  const result = child.disownServiceParent();
  assert.equal(result, child.stopResult);
  assert.equal(child.running, false);
  assert.deepEqual(journal, ["start child", "stop child"]);
  // Removed from a stopped collection, a child is not stopped again.
  const idle = new Recorder(journal, "idle");
  const stopped = new MultiService();
  idle.setServiceParent(stopped);
  assert.equal(idle.disownServiceParent(), undefined);
  assert.deepEqual(journal, ["start child", "stop child"]);
});

Deno.test("MultiService.privilegedStartService reaches grandchildren", () => {
  const journal: string[] = [];
  const application = new Application("app");
  const middle = new MultiService();
  middle.setServiceParent(application);
  new Recorder(journal, "leaf").setServiceParent(middle);
  application.privilegedStartService();
  assert.deepEqual(journal, ["privileged leaf"]);
  assert.equal(application.running, false);
});

Deno.test("MultiService started as a child starts its own children in turn", async () => {
  const journal: string[] = [];
  const application = new Application("app");
  const middle = new MultiService();
  new Recorder(journal, "one").setServiceParent(middle);
  middle.setServiceParent(application);
  new Recorder(journal, "two").setServiceParent(application);
  application.startService();
  await application.stopService();
  assert.deepEqual(journal, ["start one", "start two", "stop two", "stop one"]);
});

Deno.test("Application has its name and optional user and group", () => {
  const application = new Application("fastpoetry", { uid: 1000, gid: 100 });
  assert.equal(application.name, "fastpoetry");
  assert.equal(application.uid, 1000);
  assert.equal(application.gid, 100);
  assert.ok(application instanceof MultiService);
  assert.equal(new Application("x").uid, undefined);
});

Deno.test("Service disposed with await using is stopped", async () => {
  const journal: string[] = [];
  const top = new MultiService();
  const child = new Recorder(journal, "child");
  child.setServiceParent(top);
  {
    await using running = top;
    running.startService();
  }
  assert.equal(top.running, false);
  assert.equal(child.running, false);
  assert.deepEqual(journal, ["start child", "stop child"]);
});

// ---- services/internet.ts ----

/** Writes a greeting to each connection, then closes it. */
class Greeter extends Protocol {
  override connectionMade(): void {
    this.transport.write("hello from the service\n");
    this.transport.loseConnection();
  }
}

async function readAll(conn: Deno.Conn): Promise<string> {
  return new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
}

async function refused(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return false;
  } catch (e) {
    return e instanceof Deno.errors.ConnectionRefused;
  }
}

Deno.test("TCPServer listens on a free port when started and closes it when stopped", async () => {
  const server = new TCPServer(0, Factory.forProtocol(Greeter), { interface: "127.0.0.1" });
  assert.throws(() => server.getHost(), NotListeningError);
  server.startService();
  assert.equal(server.running, true);
  const address = server.getHost();
  assert.equal(address.type, "TCP");
  assert.equal(address.host, "127.0.0.1");
  assert.ok(address.port > 0);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: address.port });
  assert.equal(await readAll(conn), "hello from the service\n");
  const stopped = server.stopService();
  assert.ok(stopped instanceof Deferred);
  await stopped;
  assert.equal(server.running, false);
  assert.equal(server.port, undefined);
  assert.ok(await refused(address.port), "the port is closed once the Deferred fired");
  assert.equal(server.stopService(), undefined, "stopping again has nothing to wait for");
});

Deno.test("TCPServer binds in privilegedStartService, before startService", async () => {
  const application = new Application("app");
  const server = new TCPServer(0, Factory.forProtocol(Greeter), { interface: "127.0.0.1" });
  server.setServiceParent(application);
  application.privilegedStartService();
  assert.equal(server.running, false);
  const port = server.port;
  assert.ok(port !== undefined);
  application.startService();
  assert.equal(server.port, port, "startService keeps the port already bound");
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.getHost().port,
  });
  assert.equal(await readAll(conn), "hello from the service\n");
  await application.stopService();
  assert.equal(server.port, undefined);
});

Deno.test("TCPServer on a port in use throws CannotListenError from its start", async () => {
  const first = new TCPServer(0, new Factory(), { interface: "127.0.0.1" });
  first.startService();
  const { port } = first.getHost();
  try {
    const second = new TCPServer(port, new Factory(), { interface: "127.0.0.1" });
    assert.throws(() => second.privilegedStartService(), (e: unknown) => {
      assert.ok(e instanceof CannotListenError);
      assert.match(e.message, new RegExp(`${port}`));
      return true;
    });
    assert.throws(() => second.startService(), CannotListenError);
    assert.equal(second.running, false);
    assert.equal(second.port, undefined);
  } finally {
    await first.stopService();
  }
});

Deno.test("TCPClient connects when started and disconnects when stopped", async () => {
  const server = new TCPServer(0, Factory.forProtocol(Greeter), { interface: "127.0.0.1" });
  server.startService();
  const received: string[] = [];
  const lost = Promise.withResolvers<Failure>();
  class Listener extends Protocol {
    override dataReceived(data: Uint8Array): void {
      received.push(new TextDecoder().decode(data));
    }
    override connectionLost(reason: Failure): void {
      lost.resolve(reason);
    }
  }
  const factory = new ClientFactory();
  factory.protocol = Listener;
  const { port } = server.getHost();
  const client = new TCPClient("127.0.0.1", port, factory, { timeout: 5 });
  client.startService();
  assert.equal(client.running, true);
  assert.ok(client.connector !== undefined);
  await lost.promise;
  assert.equal(received.join(""), "hello from the service\n");
  await client.stopService();
  assert.equal(client.running, false);
  assert.equal(client.connector, undefined);
  await server.stopService();
});

Deno.test("TCPClient.stopService stops a ReconnectingClientFactory's retries; a restart resumes them", async () => {
  const reactor = new MemoryReactor();
  const clock = new Clock();
  const factory = new ReconnectingClientFactory();
  factory.clock = clock;
  factory.noisy = false;
  const client = new TCPClient("127.0.0.1", 10000, factory, { reactor });
  client.startService();
  const first = reactor.tcpClients[0].connector;
  factory.clientConnectionFailed(first, new Failure(new Error("refused")));
  assert.equal(clock.getDelayedCalls().length, 1, "a retry is scheduled");
  await client.stopService();
  clock.advance(3600);
  assert.equal(first.connectCount, 1, "no attempt after the service stopped");
  assert.deepEqual(clock.getDelayedCalls(), []);
  // Started again, the service's connection is retried as before.
  client.startService();
  const second = reactor.tcpClients[1].connector;
  factory.clientConnectionFailed(second, new Failure(new Error("refused")));
  clock.advance(3600);
  assert.equal(second.connectCount, 2);
  await client.stopService();
  assert.deepEqual(clock.getDelayedCalls(), []);
});

Deno.test("TCPClient stopped while connected closes the connection", async () => {
  const held = Promise.withResolvers<void>();
  const serverLost = Promise.withResolvers<void>();
  class Holder extends Protocol {
    override connectionMade(): void {
      held.resolve();
    }
    override connectionLost(): void {
      serverLost.resolve();
    }
  }
  const connected = Promise.withResolvers<void>();
  class Client extends Protocol {
    override connectionMade(): void {
      connected.resolve();
    }
  }
  const server = new TCPServer(0, Factory.forProtocol(Holder), { interface: "127.0.0.1" });
  server.startService();
  const { port } = server.getHost();
  const factory = new ClientFactory();
  factory.protocol = Client;
  const client = new TCPClient("127.0.0.1", port, factory);
  client.startService();
  await held.promise;
  await connected.promise;
  assert.equal(client.connector?.state, "connected");
  await client.stopService();
  await serverLost.promise;
  await server.stopService();
});

unixTest("UNIXServer serves on a socket file while running", {
  file: import.meta.url,
  sockets: ["poetry.sock"],
}, async (dir) => {
  const path = `${dir}/poetry.sock`;
  const server = new UNIXServer(path, Factory.forProtocol(Greeter));
  server.startService();
  assert.deepEqual(server.getHost(), { type: "UNIX", path });
  const conn = await Deno.connect({ transport: "unix", path });
  assert.equal(await readAll(conn), "hello from the service\n");
  await server.stopService();
  await assert.rejects(() => Deno.connect({ transport: "unix", path }));
});

Deno.test("SSLServer serves TLS with the given certificate and key", async () => {
  const fixtures = new URL("./fixtures/", import.meta.url);
  const cert = Deno.readTextFileSync(new URL("tls_cert.pem", fixtures));
  const server = new SSLServer(0, Factory.forProtocol(Greeter), {
    cert: new URL("tls_cert.pem", fixtures).pathname,
    key: new URL("tls_key.pem", fixtures).pathname,
    interface: "127.0.0.1",
  });
  server.startService();
  const { port } = server.getHost();
  const conn = await Deno.connectTls({ hostname: "localhost", port, caCerts: [cert] });
  assert.equal(await readAll(conn), "hello from the service\n");
  await server.stopService();
  assert.ok(await refused(port));
});

Deno.test("TimerService calls at once, then every interval, until stopped", async () => {
  const clock = new Clock();
  const calls: [number, string][] = [];
  const timer = new TimerService(10, (what: string) => calls.push([clock.seconds(), what]), "tick");
  timer.clock = clock;
  timer.startService();
  assert.equal(timer.running, true);
  assert.deepEqual(calls, [[0, "tick"]]);
  clock.advance(9);
  assert.equal(calls.length, 1);
  clock.advance(1);
  clock.advance(10);
  assert.deepEqual(calls, [[0, "tick"], [10, "tick"], [20, "tick"]]);
  await timer.stopService();
  assert.equal(timer.running, false);
  clock.advance(100);
  assert.equal(calls.length, 3, "no calls after stop");
  assert.deepEqual(clock.getDelayedCalls(), []);
});

Deno.test("TimerService stop waits for the call whose Deferred is pending", () => {
  const clock = new Clock();
  const pending: Deferred<void>[] = [];
  const timer = new TimerService(5, () => {
    const d = new Deferred<void>();
    pending.push(d);
    return d;
  });
  timer.clock = clock;
  timer.startService();
  assert.equal(pending.length, 1);
  clock.advance(5);
  assert.equal(pending.length, 1, "the next call waits for the pending Deferred");
  pending[0].callback(undefined);
  clock.advance(5);
  assert.equal(pending.length, 2);
  const stopped = timer.stopService();
  assert.ok(stopped instanceof Deferred);
  assert.equal(stopped.called, false);
  assert.equal(timer.running, true, "still running until the call has finished");
  pending[1].callback(undefined);
  assert.equal(stopped.called, true);
  assert.equal(timer.running, false);
  assert.equal(pending.length, 2);
});

Deno.test("TimerService.stopService called again while a call is pending waits for it too", () => {
  const clock = new Clock();
  const pending = new Deferred<void>();
  const timer = new TimerService(5, () => pending);
  timer.clock = clock;
  timer.startService();
  const first = timer.stopService();
  const second = timer.stopService();
  assert.ok(second instanceof Deferred, "the second stop also returns a Deferred");
  assert.equal(second.called, false);
  assert.equal(timer.running, true, "still running until the call has finished");
  pending.callback(undefined);
  assert.equal(first.called, true);
  assert.equal(second.called, true);
  assert.equal(timer.running, false);
  // Once stopped, stopping again has nothing to wait for: a fired Deferred, as in Twisted.
  const again = timer.stopService();
  assert.ok(again instanceof Deferred);
  assert.equal(again.called, true);
  assert.equal(timer.running, false);
});

Deno.test("TimerService logs a failing call and stops calling", async () => {
  using log = captureLog();
  const clock = new Clock();
  let calls = 0;
  const timer = new TimerService(1, () => {
    if (++calls === 2) throw new Error("poem source gone");
  });
  timer.setName("refresher");
  timer.clock = clock;
  timer.startService();
  clock.advance(1);
  clock.advance(1);
  assert.equal(calls, 2);
  const errors = log.events.filter((e) => e.isError);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].why, 'Error in the function of service "refresher":');
  assert.equal(errors[0].failure?.getErrorMessage(), "poem source gone");
  await timer.stopService();
  assert.equal(timer.running, false);
});

Deno.test("TimerService with a negative step throws RangeError from startService", () => {
  const timer = new TimerService(-1, () => {});
  timer.clock = new Clock();
  assert.throws(() => timer.startService(), RangeError);
  assert.equal(timer.running, false);
  assert.equal(timer.stopService().called, true);
});

Deno.test("TimerService in an Application starts and stops with it", async () => {
  const clock = new Clock();
  let calls = 0;
  const application = new Application("app");
  const timer = new TimerService(1, () => calls++);
  timer.clock = clock;
  timer.setServiceParent(application);
  application.startService();
  clock.advance(1);
  await application.stopService();
  clock.advance(5);
  assert.equal(calls, 2);
});

Deno.test("server and client services hand their options to the reactor they are given", async () => {
  const reactor = new MemoryReactor();
  const factory = new Factory();
  const clientFactory = new ClientFactory();
  const top = new MultiService();
  new TCPServer(10000, factory, { interface: "localhost", backlog: 5, reactor })
    .setServiceParent(top);
  new SSLServer(10443, factory, { cert: "c.pem", key: "k.pem", interface: "::", reactor })
    .setServiceParent(top);
  new UNIXServer("/run/poetry.sock", factory, { mode: 0o600, reactor }).setServiceParent(top);
  new TCPClient("example.com", 79, clientFactory, { timeout: 5, reactor }).setServiceParent(top);
  assert.equal(reactor.tcpServers.length, 0, "nothing happens before start");
  top.privilegedStartService();
  assert.equal(reactor.tcpServers.length, 1);
  assert.equal(reactor.tcpClients.length, 0, "clients connect in startService");
  top.startService();
  const [tcp] = reactor.tcpServers;
  assert.equal(tcp.port, 10000);
  assert.equal(tcp.factory, factory);
  assert.equal(tcp.options.interface, "localhost");
  assert.equal(tcp.options.backlog, 5);
  const [ssl] = reactor.sslServers;
  assert.deepEqual([ssl.port, ssl.options.cert, ssl.options.key, ssl.options.interface], [
    10443,
    "c.pem",
    "k.pem",
    "::",
  ]);
  const [unix] = reactor.unixServers;
  assert.deepEqual([unix.path, unix.options.mode], ["/run/poetry.sock", 0o600]);
  const [client] = reactor.tcpClients;
  assert.deepEqual([client.host, client.port, client.factory, client.options.timeout], [
    "example.com",
    79,
    clientFactory,
    5,
  ]);
  await top.stopService();
  assert.equal(tcp.listeningPort.listening, false);
  assert.equal(ssl.listeningPort.listening, false);
  assert.equal(unix.listeningPort.listening, false);
  assert.equal(reactor.tcpServers.length, 1, "not listened again");
});

Deno.test("StreamServerEndpointService listens on its endpoint when started and closes it when stopped", async () => {
  const endpoint = serverFromString(reactor, "tcp:0:interface=127.0.0.1");
  const service = new StreamServerEndpointService(endpoint, Factory.forProtocol(Greeter));
  assert.equal(service.port, undefined);
  service.privilegedStartService();
  assert.equal(service.running, false);
  const { port } = service.port!.getHost();
  service.startService(); // listens once only
  assert.equal(service.running, true);
  assert.equal(service.port!.getHost().port, port);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  assert.equal(await readAll(conn), "hello from the service\n");
  const stopped = service.stopService();
  assert.ok(stopped instanceof Deferred);
  assert.equal(service.running, false);
  await stopped;
  assert.equal(service.port, undefined);
  assert.ok(await refused(port), "the port is closed once the Deferred fires");
});

Deno.test("StreamServerEndpointService throws when its endpoint fails at once, and can start later", async () => {
  const first = new TCPServer(0, new Factory(), { interface: "127.0.0.1" });
  first.startService();
  const { port } = first.getHost();
  const endpoint = serverFromString(reactor, `tcp:${port}:interface=127.0.0.1`);
  const service = new StreamServerEndpointService(endpoint, Factory.forProtocol(Greeter));
  using log = captureLog();
  assert.throws(() => service.startService(), CannotListenError);
  assert.equal(service.running, false);
  assert.deepEqual(log.events.filter((e) => e.isError), [], "thrown, not logged");
  await first.stopService();
  service.startService();
  assert.equal(service.port!.getHost().port, port);
  await service.stopService();
});

/** An endpoint whose listen() fires only when the test says. */
class LaterEndpoint implements StreamServerEndpoint {
  readonly calls: Deferred<ListeningPort>[] = [];
  cancelled = 0;
  listen(_factory: Factory): Deferred<ListeningPort> {
    const d = new Deferred<ListeningPort>(() => void this.cancelled++);
    this.calls.push(d);
    return d;
  }
}

Deno.test("StreamServerEndpointService cancels an endpoint still listening when stopped, and logs a late failure", async () => {
  using log = captureLog();
  const endpoint = new LaterEndpoint();
  const service = new StreamServerEndpointService(endpoint, new Factory());
  service.startService();
  assert.equal(endpoint.calls.length, 1);
  await service.stopService();
  assert.equal(endpoint.cancelled, 1);
  assert.deepEqual(log.events.filter((e) => e.isError), [], "a cancelled attempt is not an error");

  service.startService();
  endpoint.calls[1].errback(new CannotListenError("", "/run/poetry.sock", "permission denied"));
  const errors = log.events.filter((e) => e.isError);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].why, "StreamServerEndpointService could not listen");
  assert.ok(errors[0].failure?.check(CannotListenError));
  await service.stopService();
});
