/**
 * In-memory transports for protocol unit tests: {@linkcode StringTransport} records what a
 * protocol writes and how it asks to close; no socket is involved.
 *
 * @module
 */

import { ConnectionAborted, ConnectionDone } from "./error.ts";
import { Failure } from "./failure.ts";
import { ownBytes, ownSequence } from "./protocols/_bytes.ts";
import { describeAddress } from "./protocols/_transport.ts";
import type {
  Address,
  Data,
  Protocol,
  PullProducer,
  PushProducer,
  Transport,
} from "./protocols/protocol.ts";

const decoder = new TextDecoder();

/**
 * Options for {@linkcode StringTransport}.
 *
 * @example A transport whose peer is on loopback
 * ```ts
 * import { StringTransport, type StringTransportOptions } from "@poetry/serve/testing";
 *
 * const options: StringTransportOptions = { peer: { type: "TCP", host: "127.0.0.1", port: 40000 } };
 * const transport = new StringTransport(options);
 * console.log(transport.getPeer()); // { type: "TCP", host: "127.0.0.1", port: 40000 }
 * ```
 */
export interface StringTransportOptions {
  /**
   * What {@linkcode StringTransport.getPeer} returns.
   *
   * @default {{ type: "TCP", host: "192.168.1.1", port: 54321 }}
   */
  peer?: Address;
  /**
   * What {@linkcode StringTransport.getHost} returns.
   *
   * @default {{ type: "TCP", host: "10.0.0.1", port: 12345 }}
   */
  host?: Address;
  /**
   * Allow {@linkcode StringTransport.pauseProducing} and
   * {@linkcode StringTransport.resumeProducing} after {@linkcode StringTransport.loseConnection}.
   * By default they throw then, so that code which expects more data from a closing connection
   * is caught.
   *
   * @default {false}
   */
  lenient?: boolean;
}

/**
 * The state of a {@linkcode StringTransport} in its role as a push producer.
 *
 * @example See that a protocol stopped reading
 * ```ts
 * import { Protocol } from "@poetry/serve/protocol";
 * import { type ProducerState, StringTransport } from "@poetry/serve/testing";
 *
 * class Slow extends Protocol {
 *   override dataReceived(_data: Uint8Array): void {
 *     this.transport.pauseProducing(); // busy: no more for now
 *   }
 * }
 * const transport = new StringTransport();
 * const protocol = new Slow();
 * protocol.makeConnection(transport);
 * protocol.dataReceived(new Uint8Array(1));
 * const state: ProducerState = transport.producerState;
 * console.log(state); // paused
 * ```
 */
export type ProducerState = "producing" | "paused" | "stopped";

/**
 * A {@linkcode Transport} that keeps in memory everything written to it and records every
 * request made of it, for testing a protocol without a network — Twisted's
 * `twisted.internet.testing.StringTransport`.
 *
 * - Writes are recorded in order: {@linkcode StringTransport.value} returns them as one
 *   `Uint8Array`, {@linkcode StringTransport.valueText} as UTF-8 text, and
 *   {@linkcode StringTransport.clear} forgets them. A string is recorded as its UTF-8 bytes; a
 *   `Uint8Array` is copied, so changing it after `write` does not change the record.
 * - {@linkcode StringTransport.loseConnection} only sets
 *   {@linkcode StringTransport.disconnecting}, and {@linkcode StringTransport.abortConnection}
 *   also sets {@linkcode StringTransport.aborted} (Twisted's `disconnected`, which is kept as
 *   an alias): nothing is closed and the protocol's
 *   `connectionLost` is not called (use {@linkcode StringTransportWithDisconnection} for
 *   that). As in Twisted, writes after `loseConnection` are still recorded, so a test can see
 *   that a protocol wrote after asking to close.
 * - The addresses default to Twisted's: the peer is `192.168.1.1:54321` and this end
 *   `10.0.0.1:12345` (TCP); pass `{ peer, host }` to choose others.
 * - A producer registers as with a real transport; registering a second one, or unregistering
 *   when there is none, throws. The transport's own pause/resume/stop (its role as a push
 *   producer, used by the protocol to stop reading) is recorded in
 *   {@linkcode StringTransport.producerState}.
 *
 * @example Test what a protocol sends
 * ```ts
 * import { Protocol } from "@poetry/serve/protocol";
 * import { StringTransport } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * class Greeter extends Protocol {
 *   override connectionMade(): void {
 *     this.transport.write("hello\r\n");
 *     this.transport.loseConnection();
 *   }
 * }
 *
 * const transport = new StringTransport();
 * new Greeter().makeConnection(transport);
 * assert.equal(transport.valueText(), "hello\r\n");
 * assert.ok(transport.disconnecting);
 * ```
 */
export class StringTransport implements Transport {
  /** `true` once {@linkcode StringTransport.loseConnection} (or abort) has been called. */
  disconnecting = false;
  /** `true` once {@linkcode StringTransport.abortConnection} has been called. */
  aborted = false;
  /**
   * Twisted's name for {@linkcode StringTransport.aborted}: `true` once
   * {@linkcode StringTransport.abortConnection} has been called (not after `loseConnection`),
   * so tests written against Twisted's `StringTransport` read the same.
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport();
   * t.loseConnection();
   * console.log(t.disconnected); // false
   * t.abortConnection();
   * console.log(t.disconnected); // true
   * ```
   */
  get disconnected(): boolean {
    return this.aborted;
  }
  /** `true` once {@linkcode StringTransport.loseWriteConnection} has been called. */
  writeConnectionLost = false;
  /** The registered producer, or `undefined` when none is registered. */
  producer: PushProducer | PullProducer | undefined = undefined;
  /**
   * Whether the registered producer is a push producer (`true`) or a pull producer (`false`);
   * `undefined` when none is registered.
   */
  streaming: boolean | undefined = undefined;
  /**
   * This transport's own state as a push producer: `"paused"` after
   * {@linkcode StringTransport.pauseProducing}, `"producing"` after
   * {@linkcode StringTransport.resumeProducing}, `"stopped"` for good after
   * {@linkcode StringTransport.stopProducing}.
   */
  producerState: ProducerState = "producing";
  /** The last value given to {@linkcode StringTransport.setTcpNoDelay}; `undefined` if never. */
  tcpNoDelay: boolean | undefined = undefined;
  /** The last value given to {@linkcode StringTransport.setTcpKeepAlive}; `undefined` if never. */
  tcpKeepAlive: boolean | undefined = undefined;
  /** The peer's address, as {@linkcode StringTransport.getPeer} returns it. */
  peer: Address;
  /** This end's address, as {@linkcode StringTransport.getHost} returns it. */
  host: Address;

  #chunks: Uint8Array[] = [];
  #length = 0;
  #lenient: boolean;

  /**
   * A transport with nothing written yet.
   *
   * @param options `peer` and `host` addresses, and `lenient`.
   *
   * @example Choose the peer's address
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport({ peer: { type: "UNIX", path: "/tmp/poetry.sock" } });
   * console.log(t.getPeer()); // { type: "UNIX", path: "/tmp/poetry.sock" }
   * ```
   */
  constructor(options: StringTransportOptions = {}) {
    this.peer = options.peer ?? { type: "TCP", host: "192.168.1.1", port: 54321 };
    this.host = options.host ?? { type: "TCP", host: "10.0.0.1", port: 12345 };
    this.#lenient = options.lenient ?? false;
  }

  /**
   * Everything written since construction or the last {@linkcode StringTransport.clear}, as
   * one array. Cheap to call repeatedly: the pieces are joined once, when asked for. The
   * returned array is shared with the transport until the next write; copy it before changing
   * it.
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport();
   * t.write(new Uint8Array([1, 2]));
   * t.write("A");
   * console.log(t.value()); // Uint8Array(3) [ 1, 2, 65 ]
   * ```
   */
  value(): Uint8Array {
    if (this.#chunks.length === 0) return new Uint8Array(0);
    if (this.#chunks.length > 1) {
      const joined = new Uint8Array(this.#length);
      let offset = 0;
      for (const chunk of this.#chunks) {
        joined.set(chunk, offset);
        offset += chunk.length;
      }
      this.#chunks = [joined];
    }
    return this.#chunks[0];
  }

  /**
   * {@linkcode StringTransport.value} decoded as UTF-8 (invalid sequences become U+FFFD).
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport();
   * t.writeSequence(["Roses ", "are red\n"]);
   * console.log(t.valueText()); // "Roses are red\n"
   * ```
   */
  valueText(): string {
    return decoder.decode(this.value());
  }

  /**
   * Forgets everything written so far; flags and producers are left as they are.
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport();
   * t.write("old");
   * t.clear();
   * t.write("new");
   * console.log(t.valueText()); // "new"
   * ```
   */
  clear(): void {
    this.#chunks = [];
    this.#length = 0;
  }

  /**
   * Records `data`: a string as its UTF-8 bytes, a `Uint8Array` as a copy. Still records after
   * {@linkcode StringTransport.loseConnection}, as Twisted's does.
   *
   * @throws {TypeError} if `data` is neither a `Uint8Array` nor a string.
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport();
   * t.write("é");
   * console.log(t.value().length); // 2
   * ```
   */
  write(data: Data): void {
    this.#record(ownBytes(data, "StringTransport.write"));
  }

  /**
   * Records each piece in order, as successive {@linkcode StringTransport.write} calls would.
   * The pieces are all checked first, as Twisted's joins them first: if one is of the wrong
   * type, nothing of the call is recorded.
   *
   * @throws {TypeError} if a piece is neither a `Uint8Array` nor a string.
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport();
   * t.writeSequence(["3:", "abc", ","]);
   * console.log(t.valueText()); // "3:abc,"
   * ```
   */
  writeSequence(data: Iterable<Data>): void {
    for (const bytes of ownSequence(data, "StringTransport.writeSequence")) this.#record(bytes);
  }

  #record(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#chunks.push(bytes);
    this.#length += bytes.length;
  }

  /**
   * Sets {@linkcode StringTransport.disconnecting}; nothing else happens.
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport();
   * t.loseConnection();
   * console.log(t.disconnecting); // true
   * ```
   */
  loseConnection(): void {
    this.disconnecting = true;
  }

  /**
   * Sets {@linkcode StringTransport.aborted} and {@linkcode StringTransport.disconnecting};
   * what was written stays recorded.
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport();
   * t.abortConnection();
   * console.log(t.aborted, t.disconnecting); // true true
   * ```
   */
  abortConnection(): void {
    this.aborted = true;
    this.loseConnection();
  }

  /**
   * Sets {@linkcode StringTransport.writeConnectionLost} (a half-close).
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport();
   * t.loseWriteConnection();
   * console.log(t.writeConnectionLost, t.disconnecting); // true false
   * ```
   */
  loseWriteConnection(): void {
    this.writeConnectionLost = true;
  }

  /**
   * The peer's address: the `peer` option, or `192.168.1.1:54321` over TCP.
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * console.log(new StringTransport().getPeer()); // { type: "TCP", host: "192.168.1.1", port: 54321 }
   * ```
   */
  getPeer(): Address {
    return this.peer;
  }

  /**
   * This end's address: the `host` option, or `10.0.0.1:12345` over TCP.
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * console.log(new StringTransport().getHost()); // { type: "TCP", host: "10.0.0.1", port: 12345 }
   * ```
   */
  getHost(): Address {
    return this.host;
  }

  /**
   * Records the setting in {@linkcode StringTransport.tcpNoDelay}.
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport();
   * t.setTcpNoDelay(true);
   * console.log(t.tcpNoDelay); // true
   * ```
   */
  setTcpNoDelay(enabled: boolean): void {
    this.tcpNoDelay = enabled;
  }

  /**
   * Records the setting in {@linkcode StringTransport.tcpKeepAlive}.
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport();
   * t.setTcpKeepAlive(true);
   * console.log(t.tcpKeepAlive); // true
   * ```
   */
  setTcpKeepAlive(enabled: boolean): void {
    this.tcpKeepAlive = enabled;
  }

  /**
   * Registers the producer that writes to this transport; `streaming` is `true` for a push
   * producer. Nothing drives it: a test calls its methods itself.
   *
   * @throws {Error} if a producer is already registered.
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport();
   * const producer = { resumeProducing() {}, stopProducing() {} };
   * t.registerProducer(producer, false);
   * console.log(t.producer === producer, t.streaming); // true false
   * ```
   */
  registerProducer(producer: PushProducer | PullProducer, streaming: boolean): void {
    if (this.producer !== undefined) {
      throw new Error("cannot register a second producer: unregister the first one before");
    }
    this.producer = producer;
    this.streaming = streaming;
  }

  /**
   * Forgets the registered producer.
   *
   * @throws {Error} if no producer is registered.
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport();
   * t.registerProducer({ resumeProducing() {}, stopProducing() {} }, false);
   * t.unregisterProducer();
   * console.log(t.producer); // undefined
   * ```
   */
  unregisterProducer(): void {
    if (this.producer === undefined) {
      throw new Error("cannot unregister a producer: none is registered");
    }
    this.producer = undefined;
    this.streaming = undefined;
  }

  /**
   * Records a pause of this transport as a producer (`producerState` becomes `"paused"`).
   *
   * @throws {Error} after {@linkcode StringTransport.loseConnection} (unless `lenient`) and
   * after {@linkcode StringTransport.stopProducing}.
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport();
   * t.pauseProducing();
   * console.log(t.producerState); // "paused"
   * ```
   */
  pauseProducing(): void {
    this.#checkProducing("pause");
    this.producerState = "paused";
  }

  /**
   * Records a resumption of this transport as a producer (`producerState` becomes
   * `"producing"`).
   *
   * @throws {Error} after {@linkcode StringTransport.loseConnection} (unless `lenient`) and
   * after {@linkcode StringTransport.stopProducing}.
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport();
   * t.pauseProducing();
   * t.resumeProducing();
   * console.log(t.producerState); // "producing"
   * ```
   */
  resumeProducing(): void {
    this.#checkProducing("resume");
    this.producerState = "producing";
  }

  /**
   * Records that this transport was stopped as a producer (`producerState` becomes
   * `"stopped"`, for good).
   *
   * @example
   * ```ts
   * import { StringTransport } from "@poetry/serve/testing";
   * const t = new StringTransport();
   * t.stopProducing();
   * console.log(t.producerState); // "stopped"
   * ```
   */
  stopProducing(): void {
    this.producerState = "stopped";
  }

  #checkProducing(what: string): void {
    if (this.disconnecting && !this.#lenient) {
      throw new Error(
        `cannot ${what} producing after loseConnection (pass lenient: true to allow)`,
      );
    }
    if (this.producerState === "stopped") {
      throw new Error(`cannot ${what} producing: the transport was stopped`);
    }
  }
}

/**
 * A {@linkcode StringTransport} whose {@linkcode StringTransportWithDisconnection.loseConnection}
 * and {@linkcode StringTransportWithDisconnection.abortConnection} end the connection as a real
 * transport would: the attached {@linkcode StringTransportWithDisconnection.protocol} is marked
 * not connected and its `connectionLost` is called — once, whichever is called first and however
 * often — with a `Failure` of `ConnectionDone` (for `loseConnection`) or `ConnectionAborted`
 * (for `abortConnection`), both from `error.ts`. Unlike a real transport, this happens at once,
 * inside the call. `disconnecting` is set as well, as by any transport that is closing
 * (Twisted's leaves it false, and sees `ConnectionDone` for an abort too). A registered
 * producer is left as it is (not stopped, still registered), as in Twisted.
 *
 * Attach the protocol before connecting it, so that a protocol that hangs up in
 * `connectionMade` is told:
 *
 * ```ts ignore
 * const t = new StringTransportWithDisconnection();
 * t.protocol = p;
 * p.makeConnection(t);
 * ```
 *
 * (`connectProtocol(p)` does both.)
 *
 * @example A protocol that hangs up after one line learns that it did
 * ```ts
 * import { ConnectionDone } from "@poetry/serve/error";
 * import type { Failure } from "@poetry/serve/failure";
 * import { Protocol } from "@poetry/serve/protocol";
 * import { StringTransportWithDisconnection } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * class OneLine extends Protocol {
 *   reason: Failure | undefined;
 *   override connectionMade(): void {
 *     this.transport.write("Roses are red\n");
 *     this.transport.loseConnection();
 *   }
 *   override connectionLost(reason: Failure): void {
 *     this.reason = reason;
 *   }
 * }
 *
 * const t = new StringTransportWithDisconnection();
 * const p = new OneLine();
 * t.protocol = p;
 * p.makeConnection(t);
 * assert.equal(p.connected, false);
 * assert.ok(p.reason?.check(ConnectionDone));
 * assert.equal(t.valueText(), "Roses are red\n");
 * ```
 */
export class StringTransportWithDisconnection extends StringTransport {
  /**
   * The protocol told of the disconnection. Must be set before the connection is lost.
   */
  protocol: Protocol | undefined = undefined;
  #lost = false;

  /**
   * `true` until the connection has been lost (by either close method).
   *
   * @example
   * ```ts
   * import { Protocol } from "@poetry/serve/protocol";
   * import { StringTransportWithDisconnection } from "@poetry/serve/testing";
   * const t = new StringTransportWithDisconnection();
   * t.protocol = new Protocol();
   * t.protocol.makeConnection(t);
   * t.loseConnection();
   * console.log(t.connected); // false
   * ```
   */
  get connected(): boolean {
    return !this.#lost;
  }

  /**
   * Sets `disconnecting` and, the first time the connection is lost, marks the protocol not
   * connected and calls its `connectionLost` with a `ConnectionDone` failure.
   *
   * @throws {Error} if no {@linkcode StringTransportWithDisconnection.protocol} is attached.
   *
   * @example
   * ```ts
   * import { Protocol } from "@poetry/serve/protocol";
   * import { StringTransportWithDisconnection } from "@poetry/serve/testing";
   * const t = new StringTransportWithDisconnection();
   * const p = new Protocol();
   * t.protocol = p;
   * p.makeConnection(t);
   * t.loseConnection();
   * console.log(t.disconnecting, p.connected); // true false
   * ```
   */
  override loseConnection(): void {
    this.disconnecting = true;
    this.#lose(ConnectionDone);
  }

  /**
   * Sets `aborted` and `disconnecting` and, the first time the connection is lost, marks the
   * protocol not connected and calls its `connectionLost` with a `ConnectionAborted` failure.
   *
   * @throws {Error} if no {@linkcode StringTransportWithDisconnection.protocol} is attached.
   *
   * @example
   * ```ts
   * import { ConnectionAborted } from "@poetry/serve/error";
   * import type { Failure } from "@poetry/serve/failure";
   * import { Protocol } from "@poetry/serve/protocol";
   * import { StringTransportWithDisconnection } from "@poetry/serve/testing";
   * let reason: Failure | undefined;
   * const p = new class extends Protocol {
   *   override connectionLost(r: Failure): void {
   *     reason = r;
   *   }
   * }();
   * const t = new StringTransportWithDisconnection();
   * t.protocol = p;
   * p.makeConnection(t);
   * t.abortConnection();
   * console.log(reason?.check(ConnectionAborted) === ConnectionAborted); // true
   * ```
   */
  override abortConnection(): void {
    this.aborted = true;
    this.disconnecting = true;
    this.#lose(ConnectionAborted);
  }

  #lose(kind: typeof ConnectionDone | typeof ConnectionAborted): void {
    if (this.#lost) return;
    const protocol = this.protocol;
    if (protocol === undefined) {
      throw new Error(
        "StringTransportWithDisconnection has no protocol to tell of the disconnection: " +
          "set transport.protocol before connecting the protocol",
      );
    }
    this.#lost = true;
    protocol.connected = false;
    protocol.connectionLost(new Failure(new kind(describeAddress(this.getPeer()))));
  }
}
