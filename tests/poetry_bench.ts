// Connections per second of the poetry servers, against plain Deno code doing the same work.
//
//   servers: the fastpoetry plugin's server (its service tree, built as the plugin builds it)
//            against a raw Deno.listen server that writes the poem and closes (baseline).
//   proxy:   the caching proxy with a warm cache (client -> proxy, the poem from memory)
//            against the fastpoetry server (baseline).
//
// The poem is the bundled "keeper" (about 3 KB). In every bench the clients are the same raw
// Deno.connect loops: 50 of them at once, each connecting, reading to end of file, closing,
// and again, for CONNECTIONS connections per iteration; only the server differs. Clients and
// servers share this process. Connections per second = CONNECTIONS / (time per iteration).

import { reactor } from "../reactor.ts";
import { poems } from "../poetry/poems.ts";
import { makeFastPoetryService } from "../services/fastpoetry.ts";
import type { TCPServer } from "../services/internet.ts";
import { PoetryProxyFactory, ProxyService } from "../services/proxy.ts";

const CONNECTIONS = 500;
const CLIENTS = 50;
const POEM = new TextEncoder().encode(poems.keeper);

/** CONNECTIONS connections to `port` by CLIENTS concurrent loops, each read to the end. */
async function load(port: number): Promise<void> {
  let left = CONNECTIONS;
  const client = async () => {
    const buf = new Uint8Array(16 * 1024);
    while (left-- > 0) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      let received = 0;
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        received += n;
      }
      conn.close();
      if (received !== POEM.length) throw new Error(`got ${received} bytes, not ${POEM.length}`);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
}

// The raw server: accept, write the poem, close.
const raw = Deno.listen({ hostname: "127.0.0.1", port: 0 });
(async () => {
  for await (const conn of raw) {
    (async () => {
      try {
        let written = 0;
        while (written < POEM.length) written += await conn.write(POEM.subarray(written));
      } catch {
        // the client went away
      } finally {
        conn.close();
      }
    })();
  }
})();

// The fastpoetry plugin's service tree, started as the runner starts it.
const fast = await makeFastPoetryService({
  poem: ["keeper"],
  port: [0],
  iface: "127.0.0.1",
  files: [],
});
fast.privilegedStartService();
fast.startService();
const fastPort = ([...fast].find((s) => "getHost" in s) as TCPServer).getHost();

// The proxy in front of it, its cache warmed.
const service = new ProxyService("127.0.0.1", fastPort.port);
const proxy = reactor.listenTCP(0, new PoetryProxyFactory(service), { interface: "127.0.0.1" });
await service.getPoem();
const proxyPort = proxy.getHost();

const options = { n: 15, warmup: 3 };

Deno.bench({
  name: `raw Deno.listen poem server (${CONNECTIONS} connections)`,
  group: "servers",
  baseline: true,
  ...options,
  async fn() {
    await load(raw.addr.port);
  },
});

Deno.bench({
  name: `fastpoetry plugin server (${CONNECTIONS} connections)`,
  group: "servers",
  ...options,
  async fn() {
    await load(fastPort.port);
  },
});

Deno.bench({
  name: `fastpoetry server, as the proxy's reference (${CONNECTIONS} connections)`,
  group: "proxy",
  baseline: true,
  ...options,
  async fn() {
    await load(fastPort.port);
  },
});

Deno.bench({
  name: `proxy with a warm cache (${CONNECTIONS} connections)`,
  group: "proxy",
  ...options,
  async fn() {
    await load(proxyPort.port);
  },
});

// Let the process end once the benches are done: close everything at unload.
globalThis.addEventListener("unload", () => {
  raw.close();
});
