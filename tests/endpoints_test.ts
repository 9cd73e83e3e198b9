import assert from "node:assert/strict";
import type { Deferred } from "../defer.ts";
import {
  clientFromString,
  connectProtocol,
  quoteStringArgument,
  serverFromString,
  SSL4ClientEndpoint,
  SSL4ServerEndpoint,
  TCP4ClientEndpoint,
  TCP4ServerEndpoint,
  TCP6ServerEndpoint,
  UNIXClientEndpoint,
  UNIXServerEndpoint,
} from "../endpoints.ts";
import {
  CannotListenError,
  ConnectingCancelledError,
  ConnectionDone,
  ConnectionRefusedError,
  NoProtocol,
} from "../error.ts";
import type { Failure } from "../failure.ts";
import { ClientFactory, type Connector, Factory } from "../protocols/factory.ts";
import type { Address, Protocol } from "../protocols/protocol.ts";
import { reactor } from "../reactor.ts";
import { MemoryReactor, timeoutAfter } from "../testing.ts";
import { CollectingFactory, Recorder, unixTest, withLog } from "./fixtures/loopback.ts";

const HOST = "127.0.0.1";
const fixtures = new URL("./fixtures/", import.meta.url);
const certPath = new URL("tls_cert.pem", fixtures).pathname;
const keyPath = new URL("tls_key.pem", fixtures).pathname;

/** A free port: one the system gave and that nothing listens on any more. */
async function freePort(): Promise<number> {
  const port = reactor.listenTCP(0, new Factory(), { interface: HOST });
  const { port: number } = port.getHost();
  await port.stopListening();
  return number;
}

/** The failure `d` fails with (it must fail, within ten seconds). */
async function failureOf(d: Deferred<unknown>): Promise<Failure> {
  // Wrapped: an errback returning a Failure would pass it on as a failure.
  const outcome = await timeoutAfter(d, 10).addCallbacks(
    (r): { failure: Failure } => assert.fail(`expected a failure, got ${String(r)}`),
    (failure) => ({ failure }),
  );
  return outcome.failure;
}

// ---- descriptions: servers ----

Deno.test("serverFromString: tcp with a port, an interface and a backlog, in any order", () => {
  const memory = new MemoryReactor();
  const endpoint = serverFromString(memory, "tcp:1234:backlog=12:interface=10.0.0.1");
  assert.ok(endpoint instanceof TCP4ServerEndpoint);
  endpoint.listen(new Factory());
  assert.equal(memory.tcpServers[0].port, 1234);
  assert.deepEqual(memory.tcpServers[0].options, { interface: "10.0.0.1", backlog: 12 });
});

Deno.test("serverFromString: positional arguments follow Twisted's order, keywords may name them", () => {
  const memory = new MemoryReactor();
  serverFromString(memory, "tcp:80:127.0.0.1:7").listen(new Factory());
  serverFromString(memory, "TCP:port=81").listen(new Factory());
  assert.deepEqual(
    memory.tcpServers.map((s) => [s.port, s.options]),
    [[80, { interface: "127.0.0.1", backlog: 7 }], [81, { interface: "0.0.0.0" }]],
  );
});

Deno.test("serverFromString: tcp6 listens on every interface by default", () => {
  const memory = new MemoryReactor();
  const endpoint = serverFromString(memory, "tcp6:8080");
  assert.ok(endpoint instanceof TCP6ServerEndpoint);
  endpoint.listen(new Factory());
  serverFromString(memory, "tcp6:8081:interface=\\:\\:1").listen(new Factory());
  assert.equal(memory.tcpServers[0].options.interface, "::");
  assert.equal(memory.tcpServers[1].options.interface, "::1");
});

Deno.test("serverFromString: a backslash quotes the next character; `=` in a value is kept", () => {
  const memory = new MemoryReactor();
  serverFromString(memory, "unix:foo\\:bar\\=baz\\:qux\\\\").listen(new Factory());
  serverFromString(memory, "tcp:80:interface=a=b").listen(new Factory());
  assert.equal(memory.unixServers[0].path, "foo:bar=baz:qux\\");
  assert.equal(memory.tcpServers[0].options.interface, "a=b");
});

Deno.test("serverFromString: unix takes an octal mode, 0o666 by default", () => {
  const memory = new MemoryReactor();
  const endpoint = serverFromString(memory, "unix:/var/foo/bar:backlog=7:mode=0123:lockfile=0");
  assert.ok(endpoint instanceof UNIXServerEndpoint);
  endpoint.listen(new Factory());
  serverFromString(memory, "unix:address=/var/foo/baz").listen(new Factory());
  assert.equal(memory.unixServers[0].path, "/var/foo/bar");
  assert.equal(memory.unixServers[0].options.mode, 0o123);
  assert.equal(memory.unixServers[1].options.mode, 0o666);
});

Deno.test("serverFromString: ssl reads the key from server.pem and the certificate from the key's file by default", () => {
  const memory = new MemoryReactor();
  const endpoint = serverFromString(memory, "ssl:443");
  assert.ok(endpoint instanceof SSL4ServerEndpoint);
  endpoint.listen(new Factory());
  serverFromString(memory, "ssl:444:privateKey=k.pem:certKey=c.pem:interface=127.0.0.1:backlog=5")
    .listen(new Factory());
  assert.deepEqual(memory.sslServers[0].options, {
    cert: "server.pem",
    key: "server.pem",
    interface: "0.0.0.0",
  });
  assert.deepEqual(memory.sslServers[1].options, {
    cert: "c.pem",
    key: "k.pem",
    interface: "127.0.0.1",
    backlog: 5,
  });
});

Deno.test("serverFromString: ssl's extraCertChain is appended to the certificate; a file without one is refused", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const chain = `${dir}/chain.pem`;
    const cert = Deno.readTextFileSync(certPath);
    Deno.writeTextFileSync(chain, cert);
    const memory = new MemoryReactor();
    const description = `ssl:443:privateKey=${keyPath}:certKey=${certPath}:extraCertChain=${chain}`;
    serverFromString(memory, description).listen(new Factory());
    const sent = memory.sslServers[0].options.cert;
    assert.equal(sent.match(/-----BEGIN CERTIFICATE-----/g)?.length, 2);
    assert.ok(sent.startsWith(cert.trimEnd()));

    const empty = `${dir}/empty.pem`;
    Deno.writeTextFileSync(empty, "not a certificate\n");
    assert.throws(
      () => serverFromString(memory, `ssl:443:privateKey=${keyPath}:extraCertChain=${empty}`),
      { name: "TypeError", message: /extraCertChain .*empty\.pem holds no PEM certificate/ },
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("serverFromString refuses what it cannot parse or honour, naming the description", () => {
  const memory = new MemoryReactor();
  const cases: [string, RegExp][] = [
    ["foo:80", /"foo:80": unknown endpoint type "foo" \(known: tcp, tcp6, ssl, unix\)/],
    ["", /unknown endpoint type ""/],
    ["80", /unknown endpoint type "80"/],
    ["tcp:abc", /port must be a whole number, not "abc"/],
    ["tcp:-1", /port must be a whole number, not "-1"/],
    ["tcp:65536", /port 65536 is out of range/],
    ["tcp", /it gives no port/],
    ["tcp:80:port=81", /"port" is given twice/],
    ["tcp:80:interface=a:interface=b", /"interface" is given twice/],
    ["tcp:80:bogus=1", /unknown argument "bogus"/],
    ["tcp:80:a:1:extra", /too many arguments \("extra"\)/],
    ["tcp:80:backlog=x", /backlog must be a whole number, not "x"/],
    ["tcp:80\\", /ends in a lone backslash/],
    ["unix:/x:mode=9", /mode must be an octal number, not "9"/],
    ["unix:/x:lockfile=1", /lockfile=1 is not supported/],
    ["unix", /it gives no address/],
    ["ssl:443:sslmethod=TLSv1_METHOD", /sslmethod is not supported/],
    ["ssl:443:dhParameters=dh.pem", /dhParameters is not supported/],
  ];
  for (const [description, message] of cases) {
    assert.throws(() => serverFromString(memory, description), { name: "TypeError", message });
  }
  assert.equal(memory.tcpServers.length + memory.unixServers.length, 0);
});

// ---- descriptions: clients ----

Deno.test("clientFromString: tcp's host and port, positional or named, and a timeout", () => {
  const memory = new MemoryReactor();
  for (
    const description of [
      "tcp:example.com:80",
      "tcp:host=example.com:port=80",
      "tcp:host=example.com:80",
      "tcp:example.com:port=80",
      "TCP:port=80:example.com:timeout=7",
    ]
  ) {
    const endpoint = clientFromString(memory, description);
    assert.ok(endpoint instanceof TCP4ClientEndpoint, description);
    endpoint.connect(new Factory());
  }
  assert.deepEqual(
    memory.tcpClients.map((c) => [c.host, c.port]),
    Array(5).fill(["example.com", 80]),
  );
  assert.deepEqual(memory.tcpClients.map((c) => c.options.timeout), [
    undefined,
    undefined,
    undefined,
    undefined,
    7,
  ]);
});

Deno.test("clientFromString: unix's path, positional or named, with a timeout", () => {
  const memory = new MemoryReactor();
  const endpoint = clientFromString(memory, "unix:path=/var/foo/bar:lockfile=0:timeout=9");
  assert.ok(endpoint instanceof UNIXClientEndpoint);
  endpoint.connect(new Factory());
  clientFromString(memory, "unix:/var/foo/baz").connect(new Factory());
  assert.deepEqual(memory.unixClients.map((c) => [c.path, c.options.timeout]), [
    ["/var/foo/bar", 9],
    ["/var/foo/baz", undefined],
  ]);
});

Deno.test("clientFromString: ssl and tls trust the .pem files of a directory, read when parsed", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/b.pem`, "B");
    Deno.writeTextFileSync(`${dir}/a.PEM`, "A");
    Deno.writeTextFileSync(`${dir}/c.txt`, "C");
    const memory = new MemoryReactor();
    const ssl = clientFromString(
      memory,
      `ssl:host=example.com:443:caCertsDir=${dir}:hostname=poetry.example.com`,
    );
    assert.ok(ssl instanceof SSL4ClientEndpoint);
    ssl.connect(new Factory());
    clientFromString(memory, `tls:example.com:443:timeout=3:trustRoots=${dir}`)
      .connect(new Factory());
    clientFromString(memory, "ssl:example.com:443").connect(new Factory());
    Deno.removeSync(dir, { recursive: true }); // read already: connecting needs no file
    assert.deepEqual(memory.sslClients.map((c) => [c.host, c.port, c.options]), [
      ["example.com", 443, { caCerts: ["A", "B"], hostname: "poetry.example.com" }],
      ["example.com", 443, { caCerts: ["A", "B"], timeout: 3 }],
      ["example.com", 443, {}],
    ]);
  } finally {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // Removed by the test already.
    }
  }
});

Deno.test("clientFromString refuses what it cannot parse or honour, naming the description", () => {
  const memory = new MemoryReactor();
  const cases: [string, RegExp][] = [
    ["udp:a:1", /unknown endpoint type "udp" \(known: tcp, ssl, tls, unix\)/],
    ["tcp:host=a", /it gives no port/],
    ["tcp:port=80", /it gives no host/],
    ["tcp:a:80:bindAddress=10.0.0.1", /bindAddress is not supported/],
    ["tcp:a:80:timeout=soon", /timeout must be a whole number, not "soon"/],
    ["tcp:a:80:nodelay=1", /unknown argument "nodelay"/],
    ["tls:host=a:80", /"host" is given twice/],
    ["ssl:a:443:certKey=c.pem", /certKey is not supported/],
    ["tls:a:443:privateKey=k.pem", /privateKey is not supported/],
    ["ssl:a:443:caCertsDir=/no/such/dir", /cannot list caCertsDir \/no\/such\/dir/],
    ["unix:/x:lockfile=1", /lockfile=1 is not supported/],
    ["unix:/x:/y", /too many arguments \("\/y"\)/],
  ];
  for (const [description, message] of cases) {
    assert.throws(() => clientFromString(memory, description), { name: "TypeError", message });
  }
});

Deno.test("quoteStringArgument: any string survives a description's parsing", () => {
  const memory = new MemoryReactor();
  const paths = ["/tmp/a:b.sock", "C:\\key.pem", "x=y", "\\:=\\\\::==", "plain"];
  for (const path of paths) {
    serverFromString(memory, `unix:${quoteStringArgument(path)}:mode=600`).listen(new Factory());
  }
  assert.deepEqual(memory.unixServers.map((s) => s.path), paths);
  assert.equal(quoteStringArgument("a:b\\c=d"), "a\\:b\\\\c\\=d");
});

// ---- listening and connecting over real sockets ----

/** Records when its connection is made, so a test can see the order of events. */
class Marker extends Recorder {
  readonly events: string[] = [];
  override connectionMade(): void {
    this.events.push("connectionMade");
    super.connectionMade();
  }
}

Deno.test("A TCP endpoint pair: connect fires with the factory's protocol after its connectionMade", async () => {
  const server = new CollectingFactory(() => new Recorder());
  const port = await serverFromString(reactor, `tcp:0:interface=${HOST}`).listen(server);
  try {
    const factory = Factory.forProtocol(Marker);
    const d = clientFromString(reactor, `tcp:${HOST}:${port.getHost().port}`).connect(factory);
    assert.equal(d.called, false);
    const client = await d.addCallback((p) => {
      p.events.push("callback");
      return p;
    });
    assert.ok(client instanceof Marker);
    assert.deepEqual(client.events, ["connectionMade", "callback"]);
    assert.equal(client.factory, factory);
    assert.equal(client.connected, true);
    client.transport.write("ode");
    const accepted = await server.nth(0);
    client.transport.loseConnection();
    const [serverLost, clientLost] = await Promise.all([
      accepted.lost.promise,
      client.lost.promise,
    ]);
    assert.equal(accepted.text(), "ode");
    assert.ok(serverLost.check(ConnectionDone));
    assert.ok(clientLost.check(ConnectionDone));
    assert.equal(client.connected, false);
    assert.equal(factory.numPorts, 0, "the factory was started and stopped");
  } finally {
    await port.stopListening();
  }
});

Deno.test("A server endpoint fails with CannotListenError on a port in use", async () => {
  const first = await new TCP4ServerEndpoint(reactor, 0, { interface: HOST }).listen(new Factory());
  try {
    const taken = new TCP4ServerEndpoint(reactor, first.getHost().port, { interface: HOST });
    const failure = await failureOf(taken.listen(new Factory()));
    assert.ok(failure.check(CannotListenError));
  } finally {
    await first.stopListening();
  }
});

/** A client factory that records which of its callbacks the connector calls. */
class Watching extends ClientFactory {
  readonly events: string[] = [];
  constructor(readonly make: () => Protocol | null) {
    super();
    this.noisy = false;
  }
  override buildProtocol(_addr: Address): Protocol | null {
    return this.make();
  }
  override doStart(): void {
    this.events.push("doStart");
    super.doStart();
  }
  override doStop(): void {
    this.events.push("doStop");
    super.doStop();
  }
  override startedConnecting(_c: Connector): void {
    this.events.push("startedConnecting");
  }
  override clientConnectionFailed(_c: Connector, _r: Failure): void {
    this.events.push("clientConnectionFailed");
  }
}

Deno.test("A refused connection fails the Deferred; the factory is started and stopped, and its client callbacks are not called", async () => {
  const factory = new Watching(() => new Recorder());
  const endpoint = new TCP4ClientEndpoint(reactor, HOST, await freePort());
  const failure = await failureOf(endpoint.connect(factory));
  assert.ok(failure.check(ConnectionRefusedError));
  assert.deepEqual(factory.events, ["doStart", "doStop"]);
});

Deno.test("Cancelling connect stops the attempt with ConnectingCancelledError naming the address", async () => {
  const server = new CollectingFactory(() => new Recorder());
  const port = reactor.listenTCP(0, server, { interface: HOST });
  try {
    const factory = new Watching(() => new Recorder());
    const d = new TCP4ClientEndpoint(reactor, HOST, port.getHost().port).connect(factory);
    d.cancel();
    const failure = await failureOf(d);
    assert.ok(failure.check(ConnectingCancelledError));
    const error = failure.value as ConnectingCancelledError;
    assert.deepEqual(error.address, { type: "TCP", host: HOST, port: port.getHost().port });
    assert.deepEqual(factory.events, ["doStart", "doStop"]);
    assert.equal(server.built.length, 0, "no connection was made");
  } finally {
    await port.stopListening();
  }
});

Deno.test("A factory that builds no protocol fails connect with NoProtocol, and the connection is closed", async () => {
  const server = new CollectingFactory(() => new Recorder());
  const port = reactor.listenTCP(0, server, { interface: HOST });
  try {
    const d = new TCP4ClientEndpoint(reactor, HOST, port.getHost().port)
      .connect(new Watching(() => null));
    const failure = await failureOf(d);
    assert.ok(failure.check(NoProtocol));
    const accepted = await server.nth(0);
    assert.ok((await accepted.lost.promise).check(ConnectionDone));
  } finally {
    await port.stopListening();
  }
});

Deno.test("A factory whose buildProtocol throws fails connect with that error, not logged", async () => {
  const server = new CollectingFactory(() => new Recorder());
  const port = reactor.listenTCP(0, server, { interface: HOST });
  try {
    await withLog(async (events) => {
      const d = new TCP4ClientEndpoint(reactor, HOST, port.getHost().port)
        .connect(
          new Watching(() => {
            throw new RangeError("no more protocols");
          }),
        );
      const failure = await failureOf(d);
      assert.ok(failure.check(RangeError));
      assert.equal(failure.getErrorMessage(), "no more protocols");
      await (await server.nth(0)).lost.promise;
      assert.deepEqual(events.filter((e) => e.isError), []);
    });
  } finally {
    await port.stopListening();
  }
});

class Exploding extends Recorder {
  override connectionMade(): void {
    throw new RangeError("cannot greet");
  }
}

Deno.test("A connectionMade that throws fails connect (Twisted never fires it) and is logged as unwrapped", async () => {
  const server = new CollectingFactory(() => new Recorder());
  const port = reactor.listenTCP(0, server, { interface: HOST });
  try {
    await withLog(async (events) => {
      const client = new Exploding();
      const d = new TCP4ClientEndpoint(reactor, HOST, port.getHost().port)
        .connect(new Watching(() => client));
      const failure = await failureOf(d);
      assert.ok(failure.check(RangeError));
      const lost = await client.lost.promise;
      assert.ok(lost.check(RangeError), "the connection is dropped with the error");
      const logged = events.filter((e) => e.isError);
      assert.equal(logged.length, 1);
      assert.match(String(logged[0].why), /Unhandled error in connectionMade/);
    });
  } finally {
    await port.stopListening();
  }
});

/** Answers the server's end-of-file with a line, then closes: it needs a half-open connection. */
class HalfCloser extends Recorder {
  readConnectionLost(): void {
    this.transport.write(`got ${this.text()}`);
    this.transport.loseConnection();
  }
  writeConnectionLost(): void {}
}

/** Sends a word, then closes its side for writing, and records what comes back. */
class WordThenEof extends Recorder {
  override connectionMade(): void {
    super.connectionMade();
    this.transport.write("tide");
    this.transport.loseWriteConnection();
  }
  readConnectionLost(): void {}
  writeConnectionLost(): void {}
}

Deno.test("A half-closeable protocol stays half-closeable behind an endpoint; another is closed by end-of-file", async () => {
  const server = new CollectingFactory(() => new WordThenEof());
  const port = reactor.listenTCP(0, server, { interface: HOST });
  try {
    const endpoint = new TCP4ClientEndpoint(reactor, HOST, port.getHost().port);
    const halfCloser = await endpoint.connect(Factory.forProtocol(HalfCloser));
    const first = await server.nth(0);
    await Promise.all([halfCloser.lost.promise, first.lost.promise]);
    assert.equal(first.text(), "got tide");

    const plain = await endpoint.connect(Factory.forProtocol(Recorder));
    const reason = await plain.lost.promise;
    assert.equal(plain.text(), "tide");
    assert.ok(reason.check(ConnectionDone));
    await (await server.nth(1)).lost.promise;
  } finally {
    await port.stopListening();
  }
});

Deno.test("connectProtocol connects the protocol given and fires with it", async () => {
  const server = new CollectingFactory(() => new Recorder());
  const port = await new TCP4ServerEndpoint(reactor, 0, { interface: HOST }).listen(server);
  try {
    const mine = new Recorder();
    const endpoint = new TCP4ClientEndpoint(reactor, HOST, port.getHost().port);
    assert.equal(await connectProtocol(endpoint, mine), mine);
    mine.transport.write("kettle");
    mine.transport.loseConnection();
    const accepted = await server.nth(0);
    await Promise.all([mine.lost.promise, accepted.lost.promise]);
    assert.equal(accepted.text(), "kettle");
  } finally {
    await port.stopListening();
  }
});

Deno.test("TLS endpoints: ssl: descriptions with the key and certificate files, and a trusted directory", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.copyFileSync(certPath, `${dir}/server.pem`);
    const server = new CollectingFactory(() => new Recorder());
    const port = await serverFromString(
      reactor,
      `ssl:0:privateKey=${quoteStringArgument(keyPath)}:certKey=${
        quoteStringArgument(certPath)
      }:interface=${HOST}`,
    ).listen(server);
    try {
      const description = `ssl:${HOST}:${port.getHost().port}:caCertsDir=${
        quoteStringArgument(dir)
      }:hostname=localhost`;
      const client = await clientFromString(reactor, description)
        .connect(Factory.forProtocol(Recorder));
      client.transport.write("sonnet");
      client.transport.loseConnection();
      const accepted = await server.nth(0);
      await Promise.all([client.lost.promise, accepted.lost.promise]);
      assert.equal(accepted.text(), "sonnet");
    } finally {
      await port.stopListening();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

unixTest(
  "UNIX endpoints: unix: descriptions listen with the mode given, and connect",
  { file: import.meta.url, sockets: ["a:b.sock"] },
  async (dir) => {
    const path = `${dir}/a:b.sock`;
    const server = new CollectingFactory(() => new Recorder());
    const port = await serverFromString(reactor, `unix:${quoteStringArgument(path)}:mode=600`)
      .listen(server);
    try {
      assert.equal(port.getHost().path, path);
      assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
      const taken = await failureOf(new UNIXServerEndpoint(reactor, path).listen(new Factory()));
      assert.ok(taken.check(CannotListenError));
      const client = await clientFromString(reactor, `unix:path=${quoteStringArgument(path)}`)
        .connect(Factory.forProtocol(Recorder));
      client.transport.write("haiku");
      client.transport.loseConnection();
      const accepted = await server.nth(0);
      await Promise.all([client.lost.promise, accepted.lost.promise]);
      assert.equal(accepted.text(), "haiku");
    } finally {
      await port.stopListening();
    }
    const gone = await failureOf(new UNIXClientEndpoint(reactor, path).connect(new Factory()));
    assert.equal(gone.check(ConnectingCancelledError), null);
    assert.ok(gone.value instanceof Error);
  },
);

Deno.test("connect given no factory fails its Deferred with TypeError, as listen does", async () => {
  const endpoint = new TCP4ClientEndpoint(reactor, HOST, 1);
  const connecting = await failureOf(endpoint.connect({} as Factory));
  assert.ok(connecting.check(TypeError));
  assert.match(connecting.getErrorMessage(), /TCP4ClientEndpoint\.connect needs a Factory/);
  const listening = await failureOf(
    new TCP4ServerEndpoint(reactor, 0, { interface: HOST }).listen({} as Factory),
  );
  assert.ok(listening.check(TypeError));
});
