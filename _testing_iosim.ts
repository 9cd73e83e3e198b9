/**
 * {@linkcode connectedServerAndClient}: a server protocol and a client protocol connected in
 * memory, whose bytes move only when the test pumps them — Twisted's `twisted.test.iosim`.
 *
 * @module
 */

import { ConnectionAborted, ConnectionDone, ConnectionLost } from "./error.ts";
import { Failure } from "./failure.ts";
import { concatBytes } from "./protocols/_bytes.ts";
import type { HalfCloseableProtocol, Protocol } from "./protocols/protocol.ts";
import { CLIENT_ADDRESS, SERVER_ADDRESS } from "./_testing_loopback.ts";
import { StringTransport } from "./_testing_string_transport.ts";

/** One side of the connection: its protocol, its transport and what it wrote, not yet moved. */
interface Side {
  protocol: Protocol;
  transport: StringTransport;
  /** Written, taken from the transport, not yet delivered to the other side. */
  pending: Uint8Array[];
  /** End-of-file (from `loseWriteConnection`) has been delivered. */
  eofSent: boolean;
}

/**
 * Moves the bytes between the two protocols of {@linkcode connectedServerAndClient}, when the
 * test says so — Twisted's `iosim.IOPump`. Nothing moves by itself: each
 * {@linkcode IOPump.pump} delivers what each side wrote since the last one, so a test decides
 * exactly when data arrives (and can move a `Clock` in between).
 *
 * @example Pump by hand
 * ```ts
 * import { LineReceiver } from "@poetry/serve/line-receiver";
 * import { connectedServerAndClient } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * const heard: string[] = [];
 * class Ear extends LineReceiver {
 *   override lineReceived(line: Uint8Array): void {
 *     heard.push(new TextDecoder().decode(line));
 *   }
 * }
 * const { client, pump } = connectedServerAndClient(new Ear(), new LineReceiver());
 * client.sendLine("hello");
 * assert.deepEqual(heard, []); // not yet
 * assert.equal(pump.pump(), true);
 * assert.deepEqual(heard, ["hello"]);
 * assert.equal(pump.pump(), false); // nothing left to move
 * ```
 */
export class IOPump {
  /** The client's side, then the server's: the order each pump delivers in. */
  readonly #sides: [Side, Side];
  #closed = false;

  /**
   * A pump between two protocols already connected to their transports; made by
   * {@linkcode connectedServerAndClient}.
   *
   * @example Through connectedServerAndClient
   * ```ts
   * import { Protocol } from "@poetry/serve/protocol";
   * import { connectedServerAndClient, IOPump } from "@poetry/serve/testing";
   * const { pump } = connectedServerAndClient(new Protocol(), new Protocol());
   * console.log(pump instanceof IOPump); // true
   * ```
   */
  constructor(
    client: Protocol,
    clientTransport: StringTransport,
    server: Protocol,
    serverTransport: StringTransport,
  ) {
    const side = (protocol: Protocol, transport: StringTransport): Side => ({
      protocol,
      transport,
      pending: [],
      eofSent: false,
    });
    this.#sides = [side(client, clientTransport), side(server, serverTransport)];
  }

  /**
   * Whether the connection has ended: both protocols have been given `connectionLost`.
   *
   * @example After a side hangs up
   * ```ts
   * import { Protocol } from "@poetry/serve/protocol";
   * import { connectedServerAndClient } from "@poetry/serve/testing";
   * const { server, pump } = connectedServerAndClient(new Protocol(), new Protocol());
   * server.transport.loseConnection();
   * pump.flush();
   * console.log(pump.closed); // true
   * ```
   */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * One round: asks each registered pull producer for more, then delivers to each protocol,
   * client first, what the other side wrote since the last round, in one `dataReceived` call
   * (held back while the receiving side's transport is paused, and dropped for a side that
   * has called `loseConnection()`, which reads no more). When there was nothing to deliver,
   * it ends what a side closed:
   *
   * - after `loseConnection()`, both protocols get `connectionLost` with `ConnectionDone`;
   * - after `abortConnection()` (at once, dropping what that side had not delivered), that
   *   side gets `ConnectionAborted` and the other `ConnectionLost`;
   * - after `loseWriteConnection()`, the other protocol's `readConnectionLost()` is called if
   *   it has one (else the connection is closed, as a transport does), and the side's own
   *   `writeConnectionLost()`.
   *
   * Both protocols learn of a close in the same round, the side that closed first (Twisted's
   * pump tells the peer in one round and the closer in the next). An error thrown by a
   * protocol propagates out of the call, to the test.
   *
   * @returns Whether anything was delivered or ended.
   *
   * @example A server that answers and hangs up
   * ```ts
   * import { Protocol } from "@poetry/serve/protocol";
   * import { connectedServerAndClient } from "@poetry/serve/testing";
   * import { ConnectionDone } from "@poetry/serve/error";
   * import type { Failure } from "@poetry/serve/failure";
   *
   * class Poet extends Protocol {
   *   override connectionMade(): void {
   *     this.transport.write("Roses are red");
   *     this.transport.loseConnection();
   *   }
   * }
   * let reason: Failure | undefined;
   * class Reader extends Protocol {
   *   override connectionLost(why: Failure): void {
   *     reason = why;
   *   }
   * }
   * const { clientTransport, pump } = connectedServerAndClient(new Poet(), new Reader(), {
   *   greet: false,
   * });
   * console.log(pump.pump(), reason); // true undefined: the poem is delivered first
   * console.log(pump.pump(), reason?.check(ConnectionDone) !== null); // true true
   * console.log(clientTransport.disconnecting); // false: the server hung up
   * ```
   */
  pump(): boolean {
    if (this.#closed) return false;
    const [a, b] = this.#sides;
    for (const side of this.#sides) {
      const { producer, streaming } = side.transport;
      if (producer !== undefined && streaming === false) producer.resumeProducing();
    }
    for (const side of this.#sides) this.#take(side);
    for (const side of this.#sides) {
      if (side.transport.aborted) {
        this.#end(side, true);
        return true;
      }
    }
    const toServer = this.#deliver(a, b);
    const toClient = this.#deliver(b, a);
    if (toServer || toClient) return true;
    for (const side of this.#sides) {
      if (side.transport.disconnecting) {
        this.#end(side, false);
        return true;
      }
    }
    let ended = false;
    for (const side of this.#sides) {
      if (side.transport.writeConnectionLost && !side.eofSent) {
        side.eofSent = true;
        ended = true;
        const reader = this.#other(side).protocol as Partial<HalfCloseableProtocol>;
        if (typeof reader.readConnectionLost !== "function") {
          this.#end(side, false);
          return true;
        }
        reader.readConnectionLost();
        (side.protocol as Partial<HalfCloseableProtocol>).writeConnectionLost?.();
      }
    }
    return ended;
  }

  /**
   * Pumps until a round moves nothing: everything written, and everything written in reply,
   * has been delivered (Twisted's `IOPump.flush`).
   *
   * @param maxRounds The most rounds to pump before giving up.
   * @throws {Error} after `maxRounds` rounds that all moved something (two protocols that
   *   talk for ever).
   *
   * @example An echo, flushed
   * ```ts
   * import { Protocol } from "@poetry/serve/protocol";
   * import { connectedServerAndClient, StringTransport } from "@poetry/serve/testing";
   *
   * class Echo extends Protocol {
   *   override dataReceived(data: Uint8Array): void {
   *     this.transport.write(data);
   *   }
   * }
   * const heard: string[] = [];
   * class Ear extends Protocol {
   *   override dataReceived(data: Uint8Array): void {
   *     heard.push(new TextDecoder().decode(data));
   *   }
   * }
   * const { client, pump } = connectedServerAndClient(new Echo(), new Ear());
   * client.transport.write("ping");
   * pump.flush();
   * console.log(heard); // [ "ping" ]
   * ```
   */
  flush(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      if (!this.pump()) return;
    }
    throw new Error(`the connection was still busy after ${maxRounds} rounds of pumping`);
  }

  #other(side: Side): Side {
    return side === this.#sides[0] ? this.#sides[1] : this.#sides[0];
  }

  /** Takes what `side` wrote from its transport. */
  #take(side: Side): void {
    const written = side.transport.value();
    if (written.length > 0) {
      side.pending.push(written);
      side.transport.clear();
    }
  }

  /** Delivers what `from` wrote to `to`; whether anything was delivered or dropped. */
  #deliver(from: Side, to: Side): boolean {
    if (from.pending.length === 0 || to.transport.producerState === "paused") return false;
    const data = concatBytes(from.pending);
    from.pending = [];
    // A side that has called loseConnection() reads no more, as a TCP transport stops then.
    if (!to.transport.disconnecting) to.protocol.dataReceived(data);
    return true;
  }

  /** Ends the connection that `closer` closed: both protocols are told, `closer` first. */
  #end(closer: Side, aborted: boolean): void {
    const other = this.#other(closer);
    this.#closed = true;
    for (const side of this.#sides) side.pending = [];
    closer.protocol.connectionLost(
      new Failure(aborted ? new ConnectionAborted() : new ConnectionDone()),
    );
    other.protocol.connectionLost(
      new Failure(aborted ? new ConnectionLost() : new ConnectionDone()),
    );
  }
}

/**
 * What {@linkcode connectedServerAndClient} returns.
 *
 * @typeParam S The server's protocol.
 * @typeParam C The client's protocol.
 *
 * @example Take the parts you need
 * ```ts
 * import { Protocol } from "@poetry/serve/protocol";
 * import { type ConnectedPair, connectedServerAndClient } from "@poetry/serve/testing";
 * const pair: ConnectedPair<Protocol, Protocol> = connectedServerAndClient(
 *   new Protocol(),
 *   new Protocol(),
 * );
 * console.log(pair.serverTransport.getPeer()); // { type: "TCP", host: "127.0.0.1", port: 54321 }
 * ```
 */
export interface ConnectedPair<S extends Protocol, C extends Protocol> {
  /** The server's protocol. */
  server: S;
  /** The client's protocol. */
  client: C;
  /** The server's transport: a `StringTransport` at 127.0.0.1:10000. */
  serverTransport: StringTransport;
  /** The client's transport: a `StringTransport` at 127.0.0.1:54321. */
  clientTransport: StringTransport;
  /** What moves the bytes between them. */
  pump: IOPump;
}

/**
 * Connects `server` and `client` to each other in memory, server first, as
 * `makeConnection(transport)` on each, and returns them with the {@linkcode IOPump} that
 * moves their bytes — Twisted's `iosim.connectedServerAndClient`, given protocols rather than
 * their classes. Unless `greet` is `false`, it then flushes once, so that what
 * `connectionMade` wrote has been delivered when it returns.
 *
 * Nothing is delivered except by the pump, which makes it the helper for tests that move a
 * `Clock`: advance the clock, then `pump.flush()`, then look. (`loopbackAsync` instead
 * delivers on the event loop, as the network would.) The transports are
 * {@linkcode StringTransport}s: their producer registration works as usual, but streaming
 * producers are not paused for a full buffer.
 *
 * @param server The server's protocol.
 * @param client The client's protocol.
 * @param options `greet`: flush once after connecting (default `true`).
 * @returns Both protocols, their transports and the pump.
 *
 * @example A heartbeat, on a test clock
 * ```ts
 * import { Protocol } from "@poetry/serve/protocol";
 * import { Clock, LoopingCall } from "@poetry/serve/task";
 * import { connectedServerAndClient } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * const clock = new Clock();
 * class Beating extends Protocol {
 *   beat = new LoopingCall(() => this.transport.write("."));
 *   override connectionMade(): void {
 *     this.beat.clock = clock;
 *     this.beat.start(1);
 *   }
 *   override connectionLost(): void {
 *     this.beat.stop();
 *   }
 * }
 * let heard = "";
 * class Ear extends Protocol {
 *   override dataReceived(data: Uint8Array): void {
 *     heard += new TextDecoder().decode(data);
 *   }
 * }
 * const { server, pump } = connectedServerAndClient(new Beating(), new Ear());
 * assert.equal(heard, "."); // the first beat, at once
 * clock.pump([1, 1]); // two more seconds, a beat each
 * pump.flush();
 * assert.equal(heard, "...");
 * server.transport.loseConnection();
 * pump.flush(); // both sides told: the heartbeat stops
 * ```
 */
export function connectedServerAndClient<S extends Protocol, C extends Protocol>(
  server: S,
  client: C,
  options: { greet?: boolean } = {},
): ConnectedPair<S, C> {
  const serverTransport = new StringTransport({ host: SERVER_ADDRESS, peer: CLIENT_ADDRESS });
  const clientTransport = new StringTransport({ host: CLIENT_ADDRESS, peer: SERVER_ADDRESS });
  server.makeConnection(serverTransport);
  client.makeConnection(clientTransport);
  const pump = new IOPump(client, clientTransport, server, serverTransport);
  if (options.greet ?? true) pump.flush();
  return { server, client, serverTransport, clientTransport, pump };
}
