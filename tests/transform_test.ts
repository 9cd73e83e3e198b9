import assert from "node:assert/strict";
import { addObserver, removeObserver, textFromEvent } from "../log.ts";
import { loggedSync } from "./_poetry_servers.ts";
import { parseOptions } from "../_options.ts";
import { ConnectionDone } from "../error.ts";
import { Failure } from "../failure.ts";
import { Clock } from "../task.ts";
import { reactor } from "../reactor.ts";
import { connectProtocol, StringTransport, StringTransportWithDisconnection } from "../testing.ts";
import { TCPServer } from "../services/internet.ts";
import { runServerModule } from "./_server_program.ts";
import {
  makeTransformService,
  plugin,
  TransformFactory,
  type TransformProtocol,
  TransformService,
} from "../services/transform.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function netstring(payload: string | Uint8Array): Uint8Array {
  const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
  const out = new Uint8Array([...encoder.encode(`${bytes.length}:`), ...bytes, 0x2c]);
  return out;
}

/** A protocol from `factory` connected to a fresh StringTransport. */
function connect(factory: TransformFactory = new TransformFactory(new TransformService())): {
  protocol: TransformProtocol;
  transport: StringTransport;
} {
  const transport = new StringTransport();
  const protocol = factory.buildProtocol(transport.getPeer()) as TransformProtocol;
  protocol.makeConnection(transport);
  return { protocol, transport };
}

/** Sends `request` to a server over loopback and reads everything until it closes. */
async function exchange(port: number, request: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  // A bound on the wait: a server that never closes fails the test instead of hanging it.
  const timer = setTimeout(() => conn.close(), 5000);
  try {
    await conn.write(request);
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    return new Uint8Array(chunks.flatMap((c) => [...c]));
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

Deno.test("TransformService.cummingsify lower-cases the poem", () => {
  const s = new TransformService();
  assert.equal(s.cummingsify("HERE IS MY POEM,"), "here is my poem,");
  assert.equal(s.cummingsify("ÉTÉ À PARIS\n"), "été à paris\n");
});

Deno.test("TransformService.uppercase upper-cases the poem", () => {
  const s = new TransformService();
  assert.equal(s.uppercase("arrived safe stop\n"), "ARRIVED SAFE STOP\n");
  assert.equal(s.uppercase("straße"), "STRASSE");
});

Deno.test("TransformService.reverse puts the lines in reverse order and keeps the last newline", () => {
  const s = new TransformService();
  assert.equal(s.reverse("one\ntwo\nthree\n"), "three\ntwo\none\n");
  assert.equal(s.reverse("one\ntwo"), "two\none");
  assert.equal(s.reverse("a\r\nb\r\n"), "b\r\na\r\n");
  assert.equal(s.reverse("stanza\n\nnext\n"), "next\n\nstanza\n");
  assert.equal(s.reverse(""), "");
  assert.equal(s.reverse("\n"), "\n");
});

Deno.test("TransformProtocol answers a request as a netstring, then closes", () => {
  const { protocol, transport } = connect();
  protocol.dataReceived(encoder.encode("27:cummingsify.HERE IS MY POEM,"));
  assert.equal(transport.valueText(), "15:here is my poem,");
  assert.ok(transport.disconnecting);
});

Deno.test("TransformProtocol counts the reply's length in UTF-8 bytes", () => {
  const { protocol, transport } = connect();
  protocol.dataReceived(netstring("uppercase.été"));
  assert.deepEqual(transport.value(), netstring("ÉTÉ"));
});

Deno.test("TransformProtocol splits the request at the first dot only", () => {
  const { protocol, transport } = connect();
  protocol.dataReceived(netstring("cummingsify.A. B. C."));
  assert.equal(transport.valueText(), "8:a. b. c.,");
});

Deno.test("TransformProtocol accepts a request split across many chunks", () => {
  const { protocol, transport } = connect();
  for (const byte of netstring("reverse.x\ny\n")) protocol.dataReceived(new Uint8Array([byte]));
  assert.equal(transport.valueText(), "4:y\nx\n,");
  assert.ok(transport.disconnecting);
});

Deno.test("TransformProtocol transforms an empty poem", () => {
  const { protocol, transport } = connect();
  protocol.dataReceived(netstring("uppercase."));
  assert.equal(transport.valueText(), "0:,");
  assert.ok(transport.disconnecting);
});

Deno.test("TransformProtocol closes with no reply for a request without a dot", () => {
  const { protocol, transport } = connect();
  const lines = loggedSync(() => protocol.dataReceived(netstring("cummingsify")));
  assert.equal(transport.value().length, 0);
  assert.ok(transport.disconnecting);
  assert.ok(lines.some((line) => line.includes("bad request")), lines.join("\n"));
});

Deno.test("TransformProtocol closes with no reply for an unknown transform", () => {
  const { protocol, transport } = connect();
  const lines = loggedSync(() => protocol.dataReceived(netstring("sonnetify.a poem")));
  assert.equal(transport.value().length, 0);
  assert.ok(transport.disconnecting);
  assert.deepEqual(lines, ['"sonnetify" no such transform']);
});

Deno.test("TransformProtocol closes with no reply for a request that is not UTF-8", () => {
  const { protocol, transport } = connect();
  const request = new Uint8Array([...encoder.encode("cummingsify."), 0xff, 0xfe]);
  const lines = loggedSync(() => protocol.dataReceived(netstring(request)));
  assert.equal(transport.value().length, 0);
  assert.ok(transport.disconnecting);
  assert.ok(lines.some((line) => line.includes("not UTF-8")), lines.join("\n"));
});

Deno.test("TransformProtocol closes with no reply when the transform throws", () => {
  class Failing extends TransformFactory {
    xform_boom(_poem: string): string {
      throw new Error("the muse is out");
    }
  }
  const { protocol, transport } = connect(new Failing(new TransformService()));
  const lines = loggedSync(() => protocol.dataReceived(netstring("boom.a poem")));
  assert.equal(transport.value().length, 0);
  assert.ok(transport.disconnecting);
  assert.ok(lines.some((line) => line.includes('transform "boom" failed')), lines.join("\n"));
  assert.ok(lines.some((line) => line.includes("the muse is out")), lines.join("\n"));
});

Deno.test("TransformFactory.transform refuses every name that is not an xform_ method", () => {
  const factory = new TransformFactory(new TransformService());
  const names = [
    "constructor",
    "toString",
    "valueOf",
    "__proto__",
    "hasOwnProperty",
    "startService",
    "stopService",
    "transform",
    "transformNames",
    "buildProtocol",
    "service",
    "protocol",
    "",
    "xform_",
    "xform_cummingsify",
    "_cummingsify",
    "cummingsify ",
    "Cummingsify",
    "prototype",
  ];
  for (const name of names) {
    const lines = loggedSync(() => {
      assert.equal(factory.transform(name, "A POEM"), undefined, `transform(${name})`);
    });
    assert.deepEqual(lines, [`${JSON.stringify(name)} no such transform`]);
  }
});

Deno.test("TransformFactory.transform refuses an xform_ property that is not a method", () => {
  const factory = new TransformFactory(new TransformService());
  Object.assign(factory, { xform_data: "not a function" });
  loggedSync(() => assert.equal(factory.transform("data", "x"), undefined));
});

Deno.test("TransformFactory.transform refuses a transform that returns no string", () => {
  class Odd extends TransformFactory {
    xform_count(poem: string): string {
      return poem.length as unknown as string;
    }
  }
  const lines = loggedSync(() => {
    assert.equal(new Odd(new TransformService()).transform("count", "abc"), undefined);
  });
  assert.ok(lines[0].includes("not a poem"), lines.join("\n"));
});

Deno.test("TransformProtocol refuses names like constructor over the wire", () => {
  for (const name of ["constructor", "toString", "__proto__", "startService", "xform_uppercase"]) {
    const { protocol, transport } = connect();
    loggedSync(() => protocol.dataReceived(netstring(`${name}.a poem`)));
    assert.equal(transport.value().length, 0, name);
    assert.ok(transport.disconnecting, name);
  }
});

Deno.test("TransformFactory.transformNames lists the xform_ methods", () => {
  const factory = new TransformFactory(new TransformService());
  assert.deepEqual(factory.transformNames(), ["cummingsify", "reverse", "uppercase"]);
});

Deno.test("TransformProtocol refuses a malformed netstring with no reply", () => {
  for (const bad of ["abc:cummingsify.x,", "05:upper,", "3:abcd,", ":x,"]) {
    const { protocol, transport } = connect();
    protocol.dataReceived(encoder.encode(bad));
    assert.equal(transport.value().length, 0, bad);
    assert.ok(transport.disconnecting, bad);
    assert.ok(protocol.brokenPeer, bad);
  }
});

Deno.test("TransformProtocol refuses a netstring longer than MAX_LENGTH before reading it", () => {
  const { protocol, transport } = connect();
  protocol.dataReceived(encoder.encode(`${protocol.MAX_LENGTH + 1}:`));
  assert.equal(transport.value().length, 0);
  assert.ok(transport.disconnecting);
  assert.ok(protocol.brokenPeer);
});

Deno.test("TransformProtocol logs a request that is not a netstring, or too long, as a bad request", () => {
  const cases = [
    ["abc:cummingsify.x,", "(netstring length must be digits followed by ':', got 'a' (0x61))"],
    ["100000:", "(netstring length of at least 100000 exceeds MAX_LENGTH 99999)"],
    ["05:abcde,", "(netstring length 05... has a leading zero)"],
  ];
  for (const [bad, why] of cases) {
    const lines = loggedSync(() => {
      const transport = new StringTransportWithDisconnection();
      const factory = new TransformFactory(new TransformService());
      connectProtocol(factory, transport).protocol.dataReceived(encoder.encode(bad));
    });
    assert.ok(lines.some((line) => line.endsWith(why)), `${bad}: ${lines.join("\n")}`);
  }
});

Deno.test("TransformFactory serves each transform over loopback", async () => {
  const port = reactor.listenTCP(0, new TransformFactory(new TransformService()), {
    interface: "127.0.0.1",
  });
  try {
    const number = port.getHost().port;
    const poem = "The Kettle\nDoes Not Hurry\n";
    const cases: [string, string][] = [
      ["cummingsify", "the kettle\ndoes not hurry\n"],
      ["uppercase", "THE KETTLE\nDOES NOT HURRY\n"],
      ["reverse", "Does Not Hurry\nThe Kettle\n"],
    ];
    for (const [name, expected] of cases) {
      const reply = await exchange(number, netstring(`${name}.${poem}`));
      assert.deepEqual(reply, netstring(expected), `${name}: ${decoder.decode(reply)}`);
    }
  } finally {
    await port.stopListening();
  }
});

Deno.test("TransformFactory closes bad requests with no reply over loopback", async () => {
  const port = reactor.listenTCP(0, new TransformFactory(new TransformService()), {
    interface: "127.0.0.1",
  });
  try {
    const number = port.getHost().port;
    const requests = [
      netstring("no dot here"),
      netstring("sonnetify.a poem"),
      netstring("constructor.a poem"),
      encoder.encode("12x:cummingsify.,"),
      encoder.encode("999999:"),
    ];
    const lines: string[] = [];
    const observer = (event: Parameters<Parameters<typeof addObserver>[0]>[0]) =>
      lines.push(textFromEvent(event));
    addObserver(observer);
    try {
      for (const request of requests) {
        const reply = await exchange(number, request);
        assert.equal(reply.length, 0, `${decoder.decode(request)} got ${decoder.decode(reply)}`);
      }
    } finally {
      removeObserver(observer);
    }
    assert.ok(lines.some((line) => line.includes("no such transform")), lines.join("\n"));
  } finally {
    await port.stopListening();
  }
});

Deno.test("TransformProtocol closes a client that sends no request in the factory's timeout", () => {
  const clock = new Clock();
  const factory = new TransformFactory(new TransformService(), { timeout: 30, clock });
  const silent = connect(factory);
  const lines = loggedSync(() => clock.advance(29.9));
  assert.deepEqual(lines, []);
  assert.equal(silent.transport.disconnecting, false);
  const late = loggedSync(() => clock.advance(0.1));
  assert.equal(silent.transport.disconnecting, true);
  assert.match(late.join("\n"), /no request from .* in 30 seconds/);

  // A request in time is answered, and its timer goes with it; so does a client that leaves.
  const prompt = connect(factory);
  prompt.protocol.dataReceived(netstring("uppercase.ode"));
  assert.equal(prompt.transport.valueText(), "3:ODE,");
  const leaving = connect(factory);
  leaving.protocol.connectionLost(new Failure(new ConnectionDone()));
  assert.deepEqual(clock.getDelayedCalls(), []);
  // Without a timeout (the default, as in the tutorial) nothing is timed.
  connect();
  assert.deepEqual(clock.getDelayedCalls(), []);
  for (const timeout of [0, -1, NaN]) {
    assert.throws(() => new TransformFactory(new TransformService(), { timeout }), RangeError);
  }
});

Deno.test("transform --timeout drops a silent client over loopback and serves the others", async () => {
  const top = makeTransformService({ port: 0, iface: "127.0.0.1", timeout: 0.2 });
  top.startService();
  try {
    const server = [...top][1] as TCPServer;
    const { port } = server.getHost();
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    // A bound on the wait: if the server never closes, this fails the read instead.
    let gaveUp = false;
    const timer = setTimeout(() => {
      gaveUp = true;
      silent.close();
    }, 5000);
    try {
      const reply = await exchange(port, netstring("reverse.a\nb\n"));
      assert.equal(decoder.decode(reply), "4:b\na\n,");
      assert.equal(await silent.read(new Uint8Array(8)), null, "closed by the server");
    } finally {
      clearTimeout(timer);
      if (!gaveUp) silent.close();
    }
  } finally {
    await top.stopService();
  }
});

Deno.test("makeTransformService listens with a TransformFactory when started", async () => {
  const top = makeTransformService({ port: 0, iface: "127.0.0.1" });
  top.startService();
  try {
    const [service, server] = [...top];
    assert.ok(service instanceof TransformService && service.running);
    assert.ok(server instanceof TCPServer);
    const { port } = server.getHost();
    const reply = await exchange(port, netstring("cummingsify.TIDE"));
    assert.equal(decoder.decode(reply), "4:tide,");
  } finally {
    await top.stopService();
  }
});

Deno.test("transform plugin defaults to port 11000 on localhost", () => {
  assert.equal(plugin.tapname, "transform");
  assert.deepEqual(parseOptions(plugin.options, []), {
    port: 11000,
    iface: "localhost",
    timeout: undefined,
  });
  assert.deepEqual(parseOptions(plugin.options, ["-p", "0", "--iface", "127.0.0.1"]), {
    port: 0,
    iface: "127.0.0.1",
    timeout: undefined,
  });
  assert.equal(parseOptions(plugin.options, ["--timeout", "2.5"]).timeout, 2.5);
  assert.throws(() => parseOptions(plugin.options, ["--timeout", "0"]), /seconds > 0/);
  assert.throws(() => parseOptions(plugin.options, ["--port", "http"]), /not a port number/);
  assert.throws(() => parseOptions(plugin.options, ["extra"]), /unexpected argument/);
});

Deno.test("transform.ts runs as a program with only --allow-net", async () => {
  const { code, log } = await runServerModule(
    "../services/transform.ts",
    ["--allow-net=127.0.0.1"],
    ["--port", "0", "--iface", "127.0.0.1"],
    async (port) => {
      const reply = await exchange(port, encoder.encode("27:cummingsify.HERE IS MY POEM,"));
      assert.equal(decoder.decode(reply), "15:here is my poem,");
    },
  );
  assert.equal(code, 0, log);
});
