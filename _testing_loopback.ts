/**
 * {@linkcode loopbackAsync}: a server protocol and a client protocol connected to each other
 * in memory — Twisted's `twisted.protocols.loopback.loopbackAsync`.
 *
 * @module
 */

import { Deferred } from "./defer.ts";
import { ConnectionAborted, ConnectionDone, ConnectionLost } from "./error.ts";
import { Failure } from "./failure.ts";
import { concatBytes, ownBytes, ownSequence } from "./protocols/_bytes.ts";
import type {
  Address,
  Data,
  HalfCloseableProtocol,
  Protocol,
  PullProducer,
  PushProducer,
  Transport,
} from "./protocols/protocol.ts";
import { describeAddress, HIGH_WATER_MARK } from "./protocols/_transport.ts";

/**
 * How {@linkcode loopbackAsync} hands one side's writes to the other: given the pieces written
 * since the last delivery, in order, it returns the arrays to pass to `dataReceived`, in
 * order. The bytes must be the same; only where they are cut may differ. (Twisted's pump
 * policies take the queue and the protocol to deliver to instead; port one by returning the
 * pieces it would deliver.)
 *
 * @example Deliver one byte at a time, to test a parser's buffering
 * ```ts
 * import { LineReceiver } from "@poetry/serve/line-receiver";
 * import { Protocol } from "@poetry/serve/protocol";
 * import { loopbackAsync, type PumpPolicy } from "@poetry/serve/testing";
 *
 * const byteByByte: PumpPolicy = (written) =>
 *   written.flatMap((piece) => Array.from(piece, (byte) => Uint8Array.of(byte)));
 *
 * class Lines extends LineReceiver {
 *   lines: string[] = [];
 *   override lineReceived(line: Uint8Array): void {
 *     this.lines.push(new TextDecoder().decode(line));
 *   }
 * }
 * class Sender extends Protocol {
 *   override connectionMade(): void {
 *     this.transport.write("tide\r\nkettle\r\n");
 *     this.transport.loseConnection();
 *   }
 * }
 * const server = new Lines();
 * await loopbackAsync(server, new Sender(), byteByByte);
 * console.log(server.lines); // [ "tide", "kettle" ]
 * ```
 */
export type PumpPolicy = (written: Uint8Array[]) => Uint8Array[];

/**
 * Delivers each write as it was written, one `dataReceived` call per write (the default).
 *
 * @example
 * ```ts
 * import { identityPumpPolicy } from "@poetry/serve/testing";
 * const pieces = [new Uint8Array([1]), new Uint8Array([2])];
 * console.log(identityPumpPolicy(pieces).length); // 2
 * ```
 */
export function identityPumpPolicy(written: Uint8Array[]): Uint8Array[] {
  return written;
}

/**
 * Delivers everything written since the last delivery in one `dataReceived` call, as a busy
 * network would: a protocol must not count on the boundaries of its peer's writes.
 *
 * @example
 * ```ts
 * import { collapsingPumpPolicy } from "@poetry/serve/testing";
 * const pieces = [new Uint8Array([1]), new Uint8Array([2])];
 * console.log(collapsingPumpPolicy(pieces)); // [ Uint8Array(2) [ 1, 2 ] ]
 * ```
 */
export function collapsingPumpPolicy(written: Uint8Array[]): Uint8Array[] {
  return written.length <= 1 ? written : [concatBytes(written)];
}

/** The addresses the two ends report: loopback, the server on the tutorial's port. */
/** The server's end of an in-memory connection (here and in `_testing_iosim.ts`). */
export const SERVER_ADDRESS: Address = { type: "TCP", host: "127.0.0.1", port: 10000 };
/** The client's end of an in-memory connection. */
export const CLIENT_ADDRESS: Address = { type: "TCP", host: "127.0.0.1", port: 54321 };

/** Delivery rounds in one turn of the event loop before it lets timers and I/O run. */
const ROUNDS_PER_TURN = 1000;

/**
 * Connects `server` and `client` to each other in memory and relays what each writes to the
 * other until the connection is closed — Twisted's `loopbackAsync`. The returned Deferred
 * fires once both protocols' `connectionLost` has been called (the server's first).
 *
 * The transports behave as TCP ones do, without a network:
 *
 * - `makeConnection` is called on the server, then on the client, now. What either writes is
 *   delivered later, never from inside `write`: each side's writes in order, cut into
 *   `dataReceived` calls by `pumpPolicy`. Even what `connectionMade` wrote arrives in a later
 *   turn of the event loop (Twisted's delivers it before `loopbackAsync` returns): await the
 *   Deferred, or a timer, before looking.
 * - `loseConnection()` closes the connection once what that side wrote has been delivered
 *   and its producer, if any, is unregistered; both protocols get `ConnectionDone`. From the
 *   call on, that side receives nothing more (a TCP transport stops reading then).
 *   `abortConnection()` closes it at once, dropping what that side had not delivered: it gets
 *   `ConnectionAborted`, its peer `ConnectionLost`, as over Twisted's TCP. (Over this
 *   library's TCP transport the peer sees `ConnectionDone`: Deno cannot send a reset.)
 * - `loseWriteConnection()` sends end-of-file once that side's writes are delivered: the peer's
 *   `readConnectionLost()` is called if it has one (the connection is closed otherwise), and
 *   the side's own `writeConnectionLost()`.
 * - `pauseProducing()` on a transport holds back what its protocol receives until
 *   `resumeProducing()`. A streaming producer is paused once more than 64 KiB it wrote wait
 *   to be delivered, and resumed when all of it has been; a pull producer is asked for more
 *   when it registers and each time what it wrote has been delivered.
 * - `getHost()`/`getPeer()` say `127.0.0.1:10000` for the server and `127.0.0.1:54321` for
 *   the client.
 *
 * An error thrown by a protocol's `dataReceived` (or by a producer) closes the connection, that
 * protocol getting the error as its reason and its peer `ConnectionLost`, and the returned
 * Deferred fails with it. Unlike the reactor's transport, it is not logged: the test sees it
 * through the Deferred, as with Twisted's `loopbackAsync`. Cancelling the Deferred aborts the connection (both sides get
 * `ConnectionAborted`) and fails it with `CancelledError`, so a time limit such as
 * {@linkcode timeoutAfter} leaves nothing running.
 *
 * @param server The protocol of the server's side, connected first.
 * @param client The protocol of the client's side.
 * @param pumpPolicy How writes are cut into `dataReceived` calls: {@linkcode identityPumpPolicy}
 *   (the default) or {@linkcode collapsingPumpPolicy}, or a function of your own.
 * @returns A Deferred that fires once both sides have been told the connection is closed.
 *
 * @example A line server and a line client, with no network
 * ```ts
 * import { LineReceiver } from "@poetry/serve/line-receiver";
 * import { loopbackAsync } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * class Shout extends LineReceiver {
 *   override lineReceived(line: Uint8Array): void {
 *     this.sendLine(new TextDecoder().decode(line).toUpperCase());
 *   }
 * }
 *
 * class Ask extends LineReceiver {
 *   answers: string[] = [];
 *   override connectionMade(): void {
 *     this.sendLine("roses are red");
 *   }
 *   override lineReceived(line: Uint8Array): void {
 *     this.answers.push(new TextDecoder().decode(line));
 *     this.transport.loseConnection();
 *   }
 * }
 *
 * const client = new Ask();
 * await loopbackAsync(new Shout(), client);
 * assert.deepEqual(client.answers, ["ROSES ARE RED"]);
 * ```
 */
export function loopbackAsync(
  server: Protocol,
  client: Protocol,
  pumpPolicy: PumpPolicy = identityPumpPolicy,
): Deferred<void> {
  const link = new Link(pumpPolicy);
  const serverEnd = new LoopbackTransport(link, server, SERVER_ADDRESS, CLIENT_ADDRESS);
  const clientEnd = new LoopbackTransport(link, client, CLIENT_ADDRESS, SERVER_ADDRESS);
  link.ends = [serverEnd, clientEnd];
  try {
    server.makeConnection(serverEnd);
    client.makeConnection(clientEnd);
  } catch (e) {
    link.discard(); // as Twisted's does, the error reaches the caller; nothing is left running
    throw e;
  }
  return link.done;
}

/** The connection between the two ends: it relays, and it closes. */
class Link {
  ends!: [LoopbackTransport, LoopbackTransport];
  readonly done: Deferred<void>;
  closed = false;
  /** The end whose protocol (or producer) is being called: to blame for what it throws. */
  failing: LoopbackTransport | undefined;
  #policy: PumpPolicy;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pumping = false;
  /** Something asked for a relay while one was running: it goes round again. */
  #again = false;
  #cancelled = false;

  constructor(policy: PumpPolicy) {
    this.#policy = policy;
    this.done = new Deferred<void>(() => {
      // Not fired here: cancel() then fails the Deferred with CancelledError.
      this.#cancelled = true;
      this.#closeBoth(ConnectionAborted);
    });
  }

  /** Calls `fn`, blaming `end` for what it throws (see {@linkcode Link.failing}). */
  callAs(end: LoopbackTransport, fn: () => void): void {
    this.failing = end;
    fn();
    this.failing = undefined;
  }

  /** Stops relaying without telling the protocols: connecting them failed. */
  discard(): void {
    this.closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Relays soon: in a later task, never inside the call that wrote. */
  schedule(): void {
    if (this.#pumping) this.#again = true;
    if (this.closed || this.#pumping || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, 0);
  }

  #pump(): void {
    this.#pumping = true;
    try {
      for (let round = 0; round < ROUNDS_PER_TURN; round++) {
        const [server, client] = this.ends;
        this.#again = false;
        const toClient = this.#relay(server, client);
        const toServer = this.#relay(client, server);
        if (!this.closed) this.#endOfStreams();
        if (this.closed || !(toClient || toServer || this.#again)) return;
      }
    } catch (e) {
      this.#protocolFailed(e);
      return;
    } finally {
      this.#pumping = false;
    }
    this.schedule(); // more to do: let timers and I/O have a turn first
  }

  /** Moves what `from` wrote to `to`, and delivers what `to` may receive. Whether it did. */
  #relay(from: LoopbackTransport, to: LoopbackTransport): boolean {
    let moved = false;
    if (from.written.length > 0) {
      to.inbox.push(...this.#policy(from.written));
      from.written = [];
      moved = true;
    }
    if (to.disconnecting && to.inbox.length > 0) {
      // Like a TCP transport, a side closing its connection reads no more: what was on its way
      // to it is dropped (and no longer holds its peer's close back).
      for (const chunk of to.inbox) from.inFlight -= chunk.length;
      to.inbox = [];
    }
    let delivered = false;
    while (to.inbox.length > 0 && !to.readPaused && !to.aborted && !from.aborted) {
      const chunk = to.inbox.shift()!;
      from.inFlight -= chunk.length;
      delivered = moved = true;
      this.callAs(to, () => to.protocol.dataReceived(chunk));
    }
    // Twisted's transports ask a producer for more when their buffer has just emptied.
    if (delivered && from.inFlight === 0 && !this.closed) from.drained();
    return moved;
  }

  /**
   * Closes at once if an end aborted; else half-closes and closes where the ends asked and
   * their writes are delivered.
   */
  #endOfStreams(): void {
    const aborted = this.ends.find((end) => end.aborted);
    if (aborted !== undefined) {
      this.close(...this.#reasons(aborted, new ConnectionAborted(describeAddress(aborted.peer))));
      return;
    }
    const [server, client] = this.ends;
    for (const [end, peer] of [[server, client], [client, server]] as const) {
      if (end.inFlight > 0 || end.producerHoldsClose()) continue;
      if (end.disconnecting) {
        this.#closeBoth(ConnectionDone);
        return;
      }
      if (end.writeShut && !end.eofSent) {
        end.eofSent = true;
        const halfCloseable = peer.protocol as Partial<HalfCloseableProtocol>;
        if (typeof halfCloseable.readConnectionLost === "function") {
          this.callAs(peer, () => halfCloseable.readConnectionLost!());
        } else {
          peer.disconnecting = true; // as a transport closes on end-of-file for such a protocol
        }
        const own = end.protocol as Partial<HalfCloseableProtocol>;
        if (typeof own.writeConnectionLost === "function") {
          this.callAs(end, () => own.writeConnectionLost!());
        }
        this.schedule(); // the peer may now close, or have answered
      }
    }
  }

  /** Closes the connection with a `kind` failure for each side. */
  #closeBoth(kind: typeof ConnectionDone | typeof ConnectionAborted): void {
    const [server, client] = this.ends;
    this.close(
      new Failure(new kind(describeAddress(server.peer))),
      new Failure(new kind(describeAddress(client.peer))),
    );
  }

  /** The reasons, server's first, when `end` failed with `error`: its peer loses the link. */
  #reasons(end: LoopbackTransport, error: unknown): [Failure, Failure] {
    const own = error instanceof Failure ? error : new Failure(error);
    const lost = new Failure(new ConnectionLost(describeAddress(end.host)));
    return end === this.ends[0] ? [own, lost] : [lost, own];
  }

  #protocolFailed(error: unknown): void {
    const end = this.failing ?? this.ends[0];
    this.failing = undefined;
    this.close(...this.#reasons(end, error), error);
  }

  /** Closes the connection: producers stop, then the server's and the client's connectionLost. */
  close(serverReason: Failure, clientReason: Failure, error?: unknown): void {
    if (this.closed) return;
    this.discard();
    let firstError = error;
    const [server, client] = this.ends;
    for (const [end, reason] of [[server, serverReason], [client, clientReason]] as const) {
      try {
        end.stopProducer();
        end.protocol.connected = false;
        end.protocol.connectionLost(reason);
      } catch (e) {
        firstError ??= e;
      }
    }
    if (this.#cancelled) return;
    if (firstError === undefined) this.done.callback(undefined);
    else this.done.errback(firstError);
  }
}

/** One end of the link: the transport one protocol writes to. */
class LoopbackTransport implements Transport {
  disconnecting = false;
  aborted = false;
  /** `loseWriteConnection()` was called. */
  writeShut = false;
  /** The end-of-file has reached the peer. */
  eofSent = false;
  /** This end's protocol receives nothing until `resumeProducing()`. */
  readPaused = false;
  /** Written here, not yet handed to the peer's inbox. */
  written: Uint8Array[] = [];
  /** For this end's protocol: arrived, not yet delivered. */
  inbox: Uint8Array[] = [];
  /** Bytes written here and not yet delivered to the peer. */
  inFlight = 0;
  producer: PushProducer | PullProducer | undefined;
  #streaming = false;
  #producerPaused = false;

  constructor(
    readonly link: Link,
    readonly protocol: Protocol,
    readonly host: Address,
    readonly peer: Address,
  ) {}

  write(data: Data): void {
    this.#queue(ownBytes(data, "transport.write"));
  }

  writeSequence(data: Iterable<Data>): void {
    for (const bytes of ownSequence(data, "transport.writeSequence")) this.#queue(bytes);
  }

  #queue(bytes: Uint8Array): void {
    if (bytes.length === 0 || this.link.closed || this.writeShut) return;
    this.written.push(bytes);
    this.inFlight += bytes.length;
    if (this.#streaming && !this.#producerPaused && this.inFlight > HIGH_WATER_MARK) {
      this.#producerPaused = true;
      (this.producer as PushProducer).pauseProducing();
    }
    this.link.schedule();
  }

  /** Everything written here has been delivered: as a real transport's drained buffer. */
  drained(): void {
    const producer = this.producer;
    if (producer === undefined || (this.#streaming && !this.#producerPaused)) return;
    this.#producerPaused = false;
    this.link.callAs(this, () => producer.resumeProducing());
  }

  loseConnection(): void {
    if (this.link.closed) return;
    this.disconnecting = true;
    this.link.schedule();
  }

  abortConnection(): void {
    if (this.link.closed) return;
    // Nothing more is delivered either way: the next relay closes before it delivers.
    this.aborted = true;
    this.disconnecting = true;
    this.link.schedule();
  }

  loseWriteConnection(): void {
    if (this.link.closed) return;
    this.writeShut = true;
    this.link.schedule();
  }

  getPeer(): Address {
    return this.peer;
  }

  getHost(): Address {
    return this.host;
  }

  setTcpNoDelay(_enabled: boolean): void {}

  setTcpKeepAlive(_enabled: boolean): void {}

  registerProducer(producer: PushProducer | PullProducer, streaming: boolean): void {
    if (this.producer !== undefined) {
      throw new Error(
        `cannot register producer ${producer.constructor.name}: producer ` +
          `${this.producer.constructor.name} was never unregistered`,
      );
    }
    if (this.link.closed) {
      producer.stopProducing();
      return;
    }
    this.producer = producer;
    this.#streaming = streaming;
    this.#producerPaused = false;
    if (!streaming) producer.resumeProducing();
  }

  unregisterProducer(): void {
    this.producer = undefined;
    this.#producerPaused = false;
    this.link.schedule(); // a close or half-close waiting for it can now complete
  }

  /**
   * Whether a close or half-close must wait for the producer: a pull producer is asked for
   * more instead, until it unregisters; a streaming one that is not paused does not hold it.
   */
  producerHoldsClose(): boolean {
    return this.producer !== undefined && (!this.#streaming || this.#producerPaused);
  }

  /** Stops the registered producer as the connection closes. */
  stopProducer(): void {
    const producer = this.producer;
    this.producer = undefined;
    producer?.stopProducing();
  }

  pauseProducing(): void {
    this.readPaused = true;
  }

  resumeProducing(): void {
    this.readPaused = false;
    this.link.schedule();
  }

  stopProducing(): void {
    this.loseConnection();
  }
}
