/**
 * The transport of a stream connection over a `Deno.Conn` (TCP, UNIX or TLS): buffered, ordered
 * and coalesced writes, reads into buffers that adapt to the traffic, producer/consumer flow
 * control, half-close, and the `connectionLost` bookkeeping. Private: ports and connectors
 * create these; protocols see them as `Transport`.
 *
 * @module
 */

import { Failure } from "../failure.ts";
import { callWithContext, err } from "../log.ts";
import type { ReactorTime } from "../_timers.ts";
import {
  ConnectError,
  ConnectionAborted,
  ConnectionDone,
  ConnectionLost,
  ConnectionRefusedError,
  DNSLookupError,
  TCPTimedOutError,
} from "../error.ts";
import type { Address, Data, Protocol, PullProducer, PushProducer, Transport } from "./protocol.ts";
import { checkData, checkedSequence } from "./_bytes.ts";
import { failProtocol, type FailsProtocol, watchCallbackResult } from "./_async_callbacks.ts";

/** The first read buffer of a connection: small, so that idle connections cost little. */
export const INITIAL_READ_SIZE = 1024;
/** Read buffers never shrink below this. */
const MIN_READ_SIZE = 1024;
/** Read buffers grow (doubling on each read that fills one) up to this. */
export const MAX_READ_SIZE = 256 * 1024;
/**
 * Reads of at least this size are carved out of a slab (see `SLAB_SIZE`) rather than a buffer
 * of their own.
 */
const SLAB_READ_SIZE = 16 * 1024;
/**
 * The slab that a streaming connection reads into, one region after the other, handing each
 * region to the protocol and never reading into it again. In Deno, allocating one 64 KiB
 * buffer per read costs more than the system call that fills it; one 512 KiB allocation per
 * several reads costs a fraction of that. A connection that goes idle right after a burst may
 * keep its slab until its next read completes (its pending read is a region of it).
 */
const SLAB_SIZE = 512 * 1024;
/** Above this many buffered bytes a streaming producer is paused (Twisted's `bufferSize`). */
export const HIGH_WATER_MARK = 64 * 1024;
/** A queued chunk at least this long is written on its own, never copied. */
const COALESCE_CHUNK_LIMIT = 64 * 1024;
/** Queued chunks are gathered into one write of at most this many bytes. */
const COALESCE_WRITE_LIMIT = 256 * 1024;

const encoder = new TextEncoder();

/** The kinds of stream the transport runs over. */
export type StreamKind = "TCP" | "UNIX" | "TLS";

/** A connection as the transport needs it; `setNoDelay`/`setKeepAlive` exist on TCP only. */
export type StreamConn = Deno.Conn & {
  setNoDelay?: (noDelay?: boolean) => void;
  setKeepAlive?: (keepAlive?: boolean) => void;
};

/** Who is told when a transport's connection is over (its port, or its connector). */
export interface TransportOwner {
  /** Called once, after the protocol's `connectionLost`. */
  transportLost(transport: StreamTransport, reason: Failure): void;
}

/** The optional methods of a half-closeable protocol (Twisted's `IHalfCloseableProtocol`). */
interface HalfCloseable {
  readConnectionLost?: () => void;
  writeConnectionLost?: () => void;
  logPrefix?: () => string;
}

/** A Deno address as one of ours. */
export function toAddress(addr: Deno.Addr): Address {
  // Connections made by `Deno.startTls` carry no `transport` field: go by the fields present.
  if ("hostname" in addr) return { type: "TCP", host: addr.hostname, port: addr.port };
  if ("path" in addr) return { type: "UNIX", path: addr.path ?? "" };
  return { type: "UNIX", path: "" };
}

/** `host:port` (`[v6]:port`) or the path, for messages. */
export function describeAddress(addr: Address): string {
  if (addr.type === "UNIX") return addr.path;
  return addr.host.includes(":") ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

/** The name a protocol's log lines carry: its `logPrefix()` if it has one, else its class. */
export function protocolLogPrefix(protocol: object): string {
  const p = protocol as HalfCloseable;
  return typeof p.logPrefix === "function" ? p.logPrefix() : protocol.constructor.name;
}

/** A system error message without Deno's ` (os error N)` suffix, in lower case. */
export function systemMessage(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  // Deno 2.9 adds the call and the path after the code ("(os error 2): readfile '/x'"): the
  // callers name the path themselves.
  const bare = text.replace(/\s*\(os error \d+\)(?:: [a-z_]+ '[^']*')?\s*$/, "");
  return bare.charAt(0).toLowerCase() + bare.slice(1);
}

/** The error a failed connection attempt to `where` reports, from what Deno threw. */
export function connectErrorFor(e: unknown, where: string): Error {
  const detail = systemMessage(e);
  const options = { cause: e };
  if (e instanceof Deno.errors.ConnectionRefused) {
    return new ConnectionRefusedError(where, "", options);
  }
  if (e instanceof Deno.errors.TimedOut) return new TCPTimedOutError(where, "", options);
  if (
    e instanceof Error && /lookup address|name or service not known|no address/i.test(e.message)
  ) {
    return new DNSLookupError(where.replace(/:\d+$/, ""), detail, options);
  }
  return new ConnectError(where, detail, options);
}

let doneTemplate: string | undefined;

/** Builds a `ConnectionDone` without running the `Error` constructor (see connectionDone). */
function QuickDone(
  this: { name: string; where: string; message: string; stack: string },
  where: string,
  message: string,
): void {
  this.name = "ConnectionDone";
  this.where = where;
  this.message = message;
  this.stack = `ConnectionDone: ${message}`;
}
QuickDone.prototype = ConnectionDone.prototype;
const makeDone = QuickDone as unknown as new (where: string, message: string) => ConnectionDone;

/**
 * The `ConnectionDone` a clean close reports. Every connection that ends well gets one, and
 * constructing an `Error` in Deno costs microseconds (more than the rest of a short
 * connection's bookkeeping), for a stack that would only show this module's internals: so
 * this one is made without running the `Error` constructor. It is a `ConnectionDone` (and an
 * `Error`) in every way a program can tell — `instanceof`, `name`, `message`, `where`,
 * `stack` — except that it carries no captured frames.
 */
export function connectionDone(where: string): ConnectionDone {
  if (where === "") return new ConnectionDone();
  doneTemplate ??= new ConnectionDone("\u0000").message;
  return new makeDone(where, doneTemplate.replace("\u0000", where));
}

/** The error a connection that broke while open reports, from what Deno threw. */
function lostErrorFor(e: unknown, where: string): Error {
  return new ConnectionLost(where, systemMessage(e), { cause: e });
}

/**
 * A stream connection's transport. Life cycle: the owner constructs it, calls
 * {@linkcode StreamTransport.start} (which makes the protocol's connection), and is told through
 * {@linkcode TransportOwner.transportLost} when it is over — only after every operation on the
 * socket has settled, so nothing is left pending once `connectionLost` has run.
 */
export class StreamTransport implements Transport, FailsProtocol {
  /** `true` once `loseConnection()` has been called (or the peer's EOF makes us close). */
  disconnecting = false;
  /** `true` until the connection is closed. */
  connected = true;

  #conn: StreamConn;
  #kind: StreamKind;
  #protocol: Protocol;
  #owner: TransportOwner | null;
  #logstr: string;

  // Reading.
  #readBuf: Uint8Array | null = null;
  #readSize = INITIAL_READ_SIZE;
  #slab: Uint8Array | null = null;
  #slabOffset = 0;
  #reading = false;
  #readPaused = false;
  #readStopped = false;
  /** A read that completed while paused: its result, delivered on resume. */
  #held: number | null | undefined = undefined;

  // Writing.
  /** Queued writes; strings stay strings until written, so that runs of them encode at once. */
  #queue: (Uint8Array | string | undefined)[] = [];
  #head = 0;
  /** Bytes queued or in flight (a queued string counts its length until it is encoded). */
  #buffered = 0;
  #inflight: Uint8Array | null = null;
  #writing = false;
  #flushScheduled = false;
  #writeDisconnecting = false;
  #writeDisconnected = false;
  #closingWrite = false;

  // Producer registered on us.
  #producer: PushProducer | PullProducer | null = null;
  #streaming = false;
  #producerPaused = false;

  // Closing.
  #closed = false;
  #reason: Failure | null = null;
  #lost = false;

  /**
   * A transport for `conn`, speaking for `protocol`, whose calls are logged under `logstr`.
   * Nothing happens until {@linkcode StreamTransport.start}.
   */
  constructor(
    conn: StreamConn,
    kind: StreamKind,
    protocol: Protocol,
    logstr: string,
    owner: TransportOwner | null,
  ) {
    this.#conn = conn;
    this.#kind = kind;
    this.#protocol = protocol;
    this.#logstr = logstr;
    this.#owner = owner;
  }

  /** The protocol this transport speaks for. */
  get protocol(): Protocol {
    return this.#protocol;
  }

  /** The context the protocol's calls are logged under. */
  get logstr(): string {
    return this.#logstr;
  }

  /**
   * Makes the protocol's connection (calling `makeConnection` under `system`, the context the
   * owner chooses) and starts reading. A `connectionMade` that throws is logged and the
   * connection dropped.
   */
  start(system: string): void {
    try {
      callWithContext(system, () => this.#protocol.makeConnection(this));
    } catch (e) {
      this.#protocolFailed(e, "Unhandled error in connectionMade");
      return;
    }
    this.#read();
  }

  // ---- Transport: addresses and options ----

  /** The address of the other end. */
  getPeer(): Address {
    return toAddress(this.#conn.remoteAddr);
  }

  /** The address of this end. */
  getHost(): Address {
    return toAddress(this.#conn.localAddr);
  }

  /** Turns Nagle's algorithm off (`true`) or on; no effect on UNIX and TLS connections. */
  setTcpNoDelay(enabled: boolean): void {
    if (this.#closed) return;
    this.#conn.setNoDelay?.(enabled);
  }

  /** Turns TCP keep-alive on or off; no effect on UNIX and TLS connections. */
  setTcpKeepAlive(enabled: boolean): void {
    if (this.#closed) return;
    this.#conn.setKeepAlive?.(enabled);
  }

  // ---- Transport: writing ----

  /** Queues `data` (a string as UTF-8); it is sent in order, coalesced with other writes. */
  write(data: Data): void {
    checkData(data, "transport.write");
    if (this.#closed || this.#writeDisconnected) return;
    if (data.length === 0) return;
    this.#queue.push(data);
    this.#buffered += data.length;
    this.#afterQueue();
  }

  /** Queues each piece in order. */
  writeSequence(data: Iterable<Data>): void {
    const pieces = checkedSequence(data, "transport.writeSequence");
    if (this.#closed || this.#writeDisconnected) return;
    let added = 0;
    for (const piece of pieces) {
      if (piece.length === 0) continue;
      this.#queue.push(piece);
      added += piece.length;
    }
    if (added === 0) return;
    this.#buffered += added;
    this.#afterQueue();
  }

  #afterQueue(): void {
    if (
      this.#producer !== null && this.#streaming && !this.#producerPaused &&
      this.#buffered > HIGH_WATER_MARK
    ) {
      this.#producerPaused = true;
      (this.#producer as PushProducer).pauseProducing();
    }
    if (!this.#writing && !this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#closed || this.#writing) return;
    this.#writeNext();
  }

  /**
   * Takes the next write off the queue: one chunk as it is, or small ones joined. Runs of
   * strings are joined and encoded once (encoding many small strings one by one costs far
   * more than encoding their concatenation).
   */
  #takeChunk(): Uint8Array {
    const queue = this.#queue;
    const start = this.#head;
    let end = start + 1;
    let total = queue[start]!.length;
    if (total < COALESCE_CHUNK_LIMIT) {
      while (end < queue.length) {
        const next = queue[end]!.length;
        if (total + next > COALESCE_WRITE_LIMIT) break;
        total += next;
        end++;
      }
    }
    let chunk: Uint8Array;
    const first = queue[start]!;
    if (end === start + 1) {
      chunk = typeof first === "string" ? encoder.encode(first) : first;
    } else {
      // Encode each run of strings at once, then join everything.
      const pieces: Uint8Array[] = [];
      let text = "";
      let bytes = 0;
      for (let i = start; i < end; i++) {
        const piece = queue[i]!;
        if (typeof piece === "string") {
          text += piece;
          continue;
        }
        if (text !== "") {
          const encoded = encoder.encode(text);
          pieces.push(encoded);
          bytes += encoded.length;
          text = "";
        }
        pieces.push(piece);
        bytes += piece.length;
      }
      if (text !== "") {
        const encoded = encoder.encode(text);
        pieces.push(encoded);
        bytes += encoded.length;
      }
      if (pieces.length === 1) {
        chunk = pieces[0];
      } else {
        chunk = new Uint8Array(bytes);
        let offset = 0;
        for (const piece of pieces) {
          chunk.set(piece, offset);
          offset += piece.length;
        }
      }
    }
    // Strings were counted by their length; from now on count their bytes.
    this.#buffered += chunk.length - total;
    for (let i = start; i < end; i++) queue[i] = undefined;
    let head = end;
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    } else if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
    this.#head = head;
    return chunk;
  }

  #writeNext(): void {
    if (this.#head === this.#queue.length) {
      this.#drained();
      return;
    }
    const chunk = this.#takeChunk();
    this.#inflight = chunk;
    this.#writing = true;
    this.#send(chunk);
  }

  /**
   * Writes `chunk` to the socket. The callbacks are made per operation rather than kept on
   * the transport: an idle connection then holds none but its pending read's.
   */
  #send(chunk: Uint8Array): void {
    this.#conn.write(chunk).then((n) => this.#onWritten(n), (e) => this.#onWriteError(e));
  }

  #onWritten(n: number): void {
    this.#writing = false;
    if (this.#closed) {
      this.#inflight = null;
      this.#maybeFinish();
      return;
    }
    this.#buffered -= n;
    const chunk = this.#inflight!;
    if (n < chunk.length) {
      const rest = chunk.subarray(n);
      this.#inflight = rest;
      this.#writing = true;
      this.#send(rest);
      return;
    }
    this.#inflight = null;
    this.#writeNext();
  }

  #onWriteError(e: unknown): void {
    this.#writing = false;
    this.#inflight = null;
    if (this.#closed) {
      this.#maybeFinish();
      return;
    }
    this.#shutdown(new Failure(lostErrorFor(e, this.#where())));
  }

  /** Everything written has been sent: as Twisted's `doWrite` on an empty buffer. */
  #drained(): void {
    const producer = this.#producer;
    if (producer !== null && (!this.#streaming || this.#producerPaused)) {
      this.#producerPaused = false;
      try {
        callWithContext(this.#logstr, () => producer.resumeProducing());
      } catch (e) {
        this.#protocolFailed(e, "Unhandled error in resumeProducing");
      }
    } else if (this.disconnecting) {
      this.#shutdown(new Failure(connectionDone(this.#where())));
    } else if (this.#writeDisconnecting && !this.#writeDisconnected) {
      this.#closeWrite();
    }
  }

  // ---- Transport: closing ----

  /** Closes once everything written has been sent (and a registered producer unregistered). */
  loseConnection(): void {
    if (this.#closed || this.disconnecting) return;
    if (this.#writeDisconnected) {
      this.#shutdown(new Failure(connectionDone(this.#where())));
      return;
    }
    this.disconnecting = true;
    this.#readStopped = true;
    this.#flushSoon();
  }

  /** Closes now; data not yet sent is dropped. The protocol sees `ConnectionAborted`. */
  abortConnection(): void {
    if (this.#closed) return;
    this.#shutdown(new Failure(new ConnectionAborted(this.#where())));
  }

  /** Sends end-of-file once pending data is sent; reading goes on. */
  loseWriteConnection(): void {
    if (this.#closed || this.#writeDisconnecting) return;
    this.#writeDisconnecting = true;
    this.#flushSoon();
  }

  /**
   * Acts on a close asked for, once the current code is done: as in Twisted, what is written
   * right after `loseConnection()` (or `loseWriteConnection()`, or `unregisterProducer()`) in
   * the same turn is still sent before the connection (or its write side) closes.
   */
  #flushSoon(): void {
    if (!this.#writing && !this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.#flush());
    }
  }

  #closeWrite(): void {
    this.#writeDisconnected = true;
    this.#closingWrite = true;
    this.#conn.closeWrite().then(() => this.#onWriteClosed(), (e) => this.#onWriteCloseError(e));
  }

  #onWriteClosed(): void {
    this.#closingWrite = false;
    if (this.#closed) {
      this.#maybeFinish();
      return;
    }
    const p = this.#protocol as unknown as HalfCloseable;
    if (typeof p.writeConnectionLost === "function") {
      if (this.#callProtocol("writeConnectionLost", () => p.writeConnectionLost!())) return;
    }
    if (this.#readStopped && !this.#closed && !this.disconnecting) {
      // Both directions are closed: nothing more can happen on this connection.
      this.#shutdown(new Failure(connectionDone(this.#where())));
    }
  }

  #onWriteCloseError(e: unknown): void {
    this.#closingWrite = false;
    if (this.#closed) {
      this.#maybeFinish();
      return;
    }
    this.#shutdown(new Failure(lostErrorFor(e, this.#where())));
  }

  // ---- Transport as a producer: flow control of reading ----

  /** Stops reading from the peer until {@linkcode StreamTransport.resumeProducing}. */
  pauseProducing(): void {
    this.#readPaused = true;
  }

  /** Reads again after a pause. */
  resumeProducing(): void {
    if (!this.#readPaused) return;
    this.#readPaused = false;
    if (this.#closed || this.#readStopped) return;
    if (this.#held !== undefined) {
      const n = this.#held;
      this.#held = undefined;
      // Deliver what was read during the pause on a later turn, as a fresh read would be.
      this.#reading = true;
      queueMicrotask(() => this.#onRead(n));
      return;
    }
    this.#read();
  }

  /** Stops for good: as in Twisted, stops reading and closes once pending data is sent. */
  stopProducing(): void {
    this.loseConnection();
  }

  // ---- Consumer: the producer registered on this transport ----

  /**
   * Registers the producer that writes to this transport. A streaming producer is paused when
   * more than 64 KiB are buffered and resumed once everything is sent; a pull producer is
   * asked for more each time everything is sent (and once now).
   *
   * @throws {Error} if another producer is registered.
   */
  registerProducer(producer: PushProducer | PullProducer, streaming: boolean): void {
    if (this.#producer !== null) {
      throw new Error(
        `cannot register producer ${producer.constructor.name}: producer ` +
          `${this.#producer.constructor.name} was never unregistered`,
      );
    }
    if (this.#closed) {
      producer.stopProducing();
      return;
    }
    this.#producer = producer;
    this.#streaming = streaming;
    this.#producerPaused = false;
    if (!streaming) producer.resumeProducing();
  }

  /**
   * Forgets the registered producer; a pending `loseConnection()` or `loseWriteConnection()`
   * can now complete. (Twisted's transports resume only a pending `loseConnection()` here, and
   * leave a half-close behind a pull producer waiting for a write that may never come.)
   */
  unregisterProducer(): void {
    this.#producer = null;
    this.#producerPaused = false;
    const closeWaits = this.disconnecting || (this.#writeDisconnecting && !this.#writeDisconnected);
    if (!this.#closed && closeWaits) this.#flushSoon();
  }

  // ---- Reading ----

  #read(): void {
    if (this.#reading || this.#readPaused || this.#readStopped || this.#closed) return;
    if (this.#held !== undefined) return;
    let buf = this.#readBuf;
    if (buf === null) {
      const size = this.#readSize;
      if (size < SLAB_READ_SIZE) {
        buf = new Uint8Array(size);
      } else {
        let slab = this.#slab;
        if (slab === null || slab.length - this.#slabOffset < size) {
          slab = this.#slab = new Uint8Array(SLAB_SIZE);
          this.#slabOffset = 0;
        }
        buf = slab.subarray(this.#slabOffset, this.#slabOffset + size);
      }
      this.#readBuf = buf;
    }
    this.#reading = true;
    this.#conn.read(buf).then((n) => this.#onRead(n), (e) => this.#onReadError(e));
  }

  #onRead(n: number | null): void {
    this.#reading = false;
    if (this.#closed) {
      this.#readBuf = null;
      this.#maybeFinish();
      return;
    }
    if (this.#readStopped) {
      // loseConnection() stopped reading: what arrives now is not delivered.
      return;
    }
    if (this.#readPaused) {
      this.#held = n;
      return;
    }
    if (n === null) {
      this.#readBuf = null;
      this.#eof();
      return;
    }
    const buf = this.#readBuf!;
    const size = buf.length;
    const slab = this.#slab;
    let data: Uint8Array;
    if (slab !== null && buf.buffer === slab.buffer) {
      // Streaming: the region read into is handed over and the slab moves past it, so a
      // partly filled region wastes nothing. Only a small read is copied out, so that a
      // protocol keeping a few bytes does not keep the whole slab.
      this.#readBuf = null;
      if (n * 4 >= size) {
        data = n === size ? buf : buf.subarray(0, n);
        this.#slabOffset += n;
      } else {
        data = buf.slice(0, n);
      }
      if (n === size) {
        if (size < MAX_READ_SIZE) this.#readSize = size * 2;
      } else if (n * 2 < size) {
        // The stream slows down: read less at a time, and below SLAB_READ_SIZE leave the
        // slab, so that a connection going idle keeps only a small buffer.
        this.#readSize = size >> 1;
        if (this.#readSize < SLAB_READ_SIZE) this.#slab = null;
      }
    } else if (n * 2 >= size) {
      // Most of the buffer is used: hand it over as it is, and never read into it again.
      data = n === size ? buf : buf.subarray(0, n);
      this.#readBuf = null;
      if (n === size && size < MAX_READ_SIZE) this.#readSize = size * 2;
    } else {
      // A short read: copy it out, so the protocol never pins a mostly empty buffer, and keep
      // the buffer for the next read — or drop to a smaller one when reads stay short.
      data = buf.slice(0, n);
      if (n * 4 < size && size > MIN_READ_SIZE) {
        this.#readSize = size >> 1;
        this.#readBuf = null;
      }
    }
    const protocol = this.#protocol;
    if (this.#callProtocol("dataReceived", () => protocol.dataReceived(data))) return;
    this.#read();
  }

  #onReadError(e: unknown): void {
    this.#reading = false;
    this.#readBuf = null;
    if (this.#closed) {
      this.#maybeFinish();
      return;
    }
    if (this.#readStopped) {
      // No longer reading (closing, or the peer's end of file was seen): the write side
      // reports how the connection ends.
      return;
    }
    if (this.#readPaused) {
      // Report it on resume? A broken connection cannot wait: close now.
      this.#shutdown(new Failure(lostErrorFor(e, this.#where())));
      return;
    }
    if (e instanceof Deno.errors.UnexpectedEof) {
      // A TLS peer closed the socket without close_notify: what came may have been cut short,
      // so the connection is lost rather than done, as Twisted reports it.
      const detail = "the peer closed it without TLS close_notify";
      this.#shutdown(new Failure(new ConnectionLost(this.#where(), detail, { cause: e })));
      return;
    }
    this.#shutdown(new Failure(lostErrorFor(e, this.#where())));
  }

  /** The peer sent end-of-file. */
  #eof(): void {
    this.#readStopped = true;
    const p = this.#protocol as unknown as HalfCloseable;
    if (typeof p.readConnectionLost === "function") {
      if (this.#callProtocol("readConnectionLost", () => p.readConnectionLost!())) return;
      if (this.#writeDisconnected && !this.#closingWrite && !this.#closed && !this.disconnecting) {
        this.#shutdown(new Failure(connectionDone(this.#where())));
      }
      return;
    }
    // Not half-closeable: the connection ends, cleanly, once what was written is sent.
    if (this.disconnecting) return;
    this.disconnecting = true;
    if (this.#writing || this.#flushScheduled || this.#head !== this.#queue.length) return;
    this.#shutdown(new Failure(connectionDone(this.#where())));
  }

  // ---- Ending ----

  /**
   * Calls the protocol's `name` callback under this connection's log context. If it throws,
   * logs that and drops the connection (returning true); if it returns a promise, does the same
   * when that rejects.
   */
  #callProtocol(name: string, fn: () => unknown): boolean {
    let result: unknown;
    try {
      result = callWithContext(this.#logstr, fn);
    } catch (e) {
      this.#protocolFailed(e, `Unhandled error in ${name}`);
      return true;
    }
    // The message is made only when needed: dataReceived passes here on every read.
    if (result !== undefined) watchCallbackResult(this, result, `Unhandled error in ${name}`);
    return false;
  }

  /** A protocol callback failed (or its promise rejected): logs it; see #protocolFailed. */
  [failProtocol](error: unknown, why: string): void {
    this.#protocolFailed(error, why);
  }

  /**
   * A protocol callback threw: log it and drop this connection, the error as the reason. Once
   * the connection is closed, only logs.
   */
  #protocolFailed(e: unknown, why: string): void {
    const failure = Failure.from(e);
    callWithContext(this.#logstr, () => err(failure, why));
    this.#shutdown(failure);
  }

  /**
   * Closes the socket now. `connectionLost(reason)` follows once every operation on the socket
   * has settled (closing cancels a pending read), and never synchronously.
   */
  #shutdown(reason: Failure): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reason = reason;
    this.disconnecting = true;
    this.#queue = [];
    this.#head = 0;
    this.#buffered = 0;
    this.#held = undefined;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the system: nothing to release.
    }
    queueMicrotask(() => this.#maybeFinish());
  }

  #maybeFinish(): void {
    if (!this.#closed || this.#lost || this.#reading || this.#writing || this.#closingWrite) {
      return;
    }
    this.#lost = true;
    this.connected = false;
    const reason = this.#reason!;
    const protocol = this.#protocol;
    protocol.connected = false;
    const producer = this.#producer;
    this.#producer = null;
    if (producer !== null) {
      try {
        callWithContext(this.#logstr, () => producer.stopProducing());
      } catch (e) {
        callWithContext(this.#logstr, () => err(e, "Unhandled error in stopProducing"));
      }
    }
    this.#callProtocol("connectionLost", () => protocol.connectionLost(reason));
    const owner = this.#owner;
    this.#owner = null;
    owner?.transportLost(this, reason);
  }

  /**
   * Closes the connection at once with `ConnectionLost`, as the reactor does to every
   * connection when it shuts down.
   */
  closeForShutdown(): void {
    if (this.#closed) return;
    this.#shutdown(new Failure(new ConnectionLost(this.#where(), "the reactor shut down")));
  }

  #where(): string {
    try {
      return describeAddress(this.getPeer());
    } catch {
      return "";
    }
  }

  /** For debugging: the protocol, the kind of connection and the peer. */
  toString(): string {
    return `<${this.#protocol.constructor.name} ${this.#kind} connection with ${this.#where()}>`;
  }
}

/** What ports and connectors tell the reactor that made them, so that it can shut them down. */
export interface ReactorHooks {
  /** The clock connection timeouts are scheduled on. */
  readonly clock: ReactorTime;
  /** A connection was made. */
  connectionStarted(transport: StreamTransport): void;
  /** A connection is over (after its `connectionLost`). */
  connectionEnded(transport: StreamTransport): void;
}
