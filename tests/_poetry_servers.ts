/**
 * Test helper: poetry and transformation servers on loopback port 0 for the client and proxy
 * tests, each counting the connections it accepts, closed ports to fail against, and the log
 * lines the servers write.
 *
 * @module
 */

import { addObserver, type LogEvent, removeObserver, textFromEvent } from "../log.ts";
import { reactor } from "../reactor.ts";
import type { Address, Protocol } from "../protocols/protocol.ts";
import { PoetryFactory, PoetryProtocol, PoetryService } from "../services/fastpoetry.ts";
import { TransformFactory, TransformService } from "../services/transform.ts";
import { concat } from "./fixtures/loopback.ts";

const encoder = new TextEncoder();

/** A loopback port where nothing listens (it listened a moment ago). */
export async function closedPort(): Promise<number> {
  const listening = reactor.listenTCP(0, new PoetryFactory(new PoetryService("tide")), {
    interface: "127.0.0.1",
  });
  const port = listening.getHost().port;
  await listening.stopListening();
  return port;
}

/** A count that can be waited on: `reached(n)` resolves once it is `n` or more. */
export class Count {
  value = 0;
  #waiters: { n: number; resolve: () => void }[] = [];

  /** Adds one. */
  add(): void {
    this.value++;
    this.#waiters = this.#waiters.filter((w) => {
      if (this.value < w.n) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once the count is at least `n`. */
  reached(n: number): Promise<void> {
    if (this.value >= n) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ n, resolve });
    return promise;
  }
}

/** A {@linkcode PoetryFactory} that counts its connections and may hold the poem back. */
export class CountingPoetryFactory extends PoetryFactory {
  /** The connections it has accepted. */
  readonly accepted: Count = new Count();
  /** Its connections that have ended. */
  readonly ended: Count = new Count();
  /** Resolved when the poem may be sent; every protocol waits for it (open by default). */
  gate: Promise<void> = Promise.resolve();

  constructor(poem: string | Uint8Array) {
    const service = new PoetryService("tide");
    service.poem = typeof poem === "string" ? encoder.encode(poem) : poem;
    super(service);
    this.protocol = GatedPoetryProtocol;
  }

  /** How many connections it has accepted. */
  get connections(): number {
    return this.accepted.value;
  }

  /** Holds every poem back until the returned function is called. */
  close(): () => void {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.gate = promise;
    return resolve;
  }

  override buildProtocol(addr: Address): Protocol | null {
    this.accepted.add();
    return super.buildProtocol(addr);
  }
}

/** Sends the poem once its factory's gate opens (if the connection is still there). */
class GatedPoetryProtocol extends PoetryProtocol {
  declare factory: CountingPoetryFactory;

  override connectionMade(): void {
    this.factory.gate.then(() => {
      if (this.connected) super.connectionMade();
    });
  }

  override connectionLost(): void {
    this.factory.ended.add();
  }
}

/** A listening test server: its port and factory; stops listening when disposed. */
export interface TestServer<F> extends AsyncDisposable {
  port: number;
  factory: F;
}

/** A poetry server for `poem` on a loopback port, counting connections. */
export function poetryServer(poem: string | Uint8Array): TestServer<CountingPoetryFactory> {
  return listening(new CountingPoetryFactory(poem));
}

/** A {@linkcode TransformFactory} that counts its connections. */
export class CountingTransformFactory extends TransformFactory {
  /** How many connections it has accepted. */
  connections = 0;
  /** How many of them are open now. */
  open = 0;
  /** The most that were open at once. */
  mostAtOnce = 0;

  constructor() {
    super(new TransformService());
  }

  override buildProtocol(addr: Address): Protocol | null {
    this.connections++;
    const protocol = super.buildProtocol(addr);
    if (protocol !== null) {
      this.mostAtOnce = Math.max(this.mostAtOnce, ++this.open);
      const lost = protocol.connectionLost.bind(protocol);
      protocol.connectionLost = (reason) => {
        this.open--;
        lost(reason);
      };
    }
    return protocol;
  }
}

/** Our transformation server on a loopback port, counting connections. */
export function transformServer(): TestServer<CountingTransformFactory> {
  return listening(new CountingTransformFactory());
}

/** Serves `factory` on a loopback port until disposed. */
export function listening<F extends PoetryFactory | TransformFactory>(factory: F): TestServer<F> {
  const port = reactor.listenTCP(0, factory, { interface: "127.0.0.1" });
  return {
    port: port.getHost().port,
    factory,
    [Symbol.asyncDispose]: async () => await port.stopListening(),
  };
}

/**
 * A server that accepts connections and never writes: `accepted()` resolves when it accepts
 * one, with `closed`, which resolves when the client closes it.
 */
export function silentServer(): AsyncDisposable & {
  port: number;
  /** Resolves once a connection is accepted, with a promise for its end of file. */
  accepted(): Promise<{ closed: Promise<void> }>;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const ends: Promise<void>[] = [];
  return {
    port: listener.addr.port,
    async accepted() {
      const conn = await listener.accept();
      conns.push(conn);
      const closed = (async () => {
        const buf = new Uint8Array(64);
        try {
          while ((await conn.read(buf)) !== null) {
            // discard
          }
        } catch {
          // reset or closed: an end all the same
        }
      })();
      ends.push(closed);
      return { closed };
    },
    [Symbol.asyncDispose]: async () => {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await Promise.all(ends);
    },
  };
}

/** Reads everything a server on `port` sends until it closes (bounded to 10 seconds). */
export async function readAll(port: number, request?: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), 10_000);
  const chunks: Uint8Array[] = [];
  try {
    if (request) await conn.write(request);
    const buf = new Uint8Array(16 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
  return concat(chunks);
}

/** Log lines written while `fn` runs (awaited). */
export async function logged(fn: () => unknown): Promise<string[]> {
  const lines: string[] = [];
  const observer = (event: LogEvent) => lines.push(textFromEvent(event));
  addObserver(observer);
  try {
    await fn();
  } finally {
    removeObserver(observer);
  }
  return lines;
}

/** Log lines written while `fn` runs, for code that logs synchronously. */
export function loggedSync(fn: () => void): string[] {
  const lines: string[] = [];
  const observer = (event: LogEvent) => lines.push(textFromEvent(event));
  addObserver(observer);
  try {
    fn();
  } finally {
    removeObserver(observer);
  }
  return lines;
}
