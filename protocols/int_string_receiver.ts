/**
 * Length-prefixed string protocols, as Twisted's `IntNStringReceiver` family: each string is
 * sent as its length in bytes, big-endian, in a fixed-size prefix, then the bytes.
 * {@linkcode Int32StringReceiver} (4-byte prefix), {@linkcode Int16StringReceiver} (2 bytes)
 * and {@linkcode Int8StringReceiver} (1 byte) share {@linkcode IntNStringReceiver}.
 *
 * A length over `MAX_LENGTH` is refused as soon as the prefix is read, before any payload is
 * buffered.
 *
 * @example Exchange int32-prefixed strings
 * ```ts
 * import { Int32StringReceiver } from "@poetry/serve/int-string-receiver";
 * import { StringTransport } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * class Echo extends Int32StringReceiver {
 *   override stringReceived(s: Uint8Array): void {
 *     this.sendString(s);
 *   }
 * }
 *
 * const transport = new StringTransport();
 * const echo = new Echo();
 * echo.makeConnection(transport);
 * echo.dataReceived(new Uint8Array([0, 0, 0, 2, 104, 105]));
 * assert.deepEqual(transport.value(), new Uint8Array([0, 0, 0, 2, 104, 105]));
 * ```
 *
 * @module
 */

import { type Data, Protocol, type PushProducer } from "./protocol.ts";
import { ChunkQueue, Payload, toBytes } from "./_bytes.ts";
import { notImplemented, resumeTransport, writeFrame } from "./_framing.ts";
import { watchCallbackResult } from "./_async_callbacks.ts";

const WHY = "Unhandled error in stringReceived";

/**
 * A string is too long to send with the receiver's length prefix (65,536 bytes or more with a
 * 2-byte prefix, for example).
 *
 * @example
 * ```ts
 * import { Int8StringReceiver, StringTooLongError } from "@poetry/serve/int-string-receiver";
 * import { StringTransport } from "@poetry/serve/testing";
 * const p = new Int8StringReceiver();
 * p.makeConnection(new StringTransport());
 * try {
 *   p.sendString(new Uint8Array(256));
 * } catch (e) {
 *   console.log(e instanceof StringTooLongError, (e as Error).message);
 *   // true cannot send a string of 256 bytes with a 1-byte length prefix (at most 255)
 * }
 * ```
 */
export class StringTooLongError extends RangeError {
  /** The length of the string that was refused, in bytes. */
  readonly length: number;
  /** The size of the length prefix, in bytes. */
  readonly prefixLength: number;

  /**
   * An error for a string of `length` bytes that a `prefixLength`-byte prefix cannot describe.
   *
   * @param length The string's length in bytes.
   * @param prefixLength The prefix's size in bytes.
   *
   * @example
   * ```ts
   * import { StringTooLongError } from "@poetry/serve/int-string-receiver";
   * console.log(new StringTooLongError(70000, 2).name); // StringTooLongError
   * ```
   */
  constructor(length: number, prefixLength: number) {
    super(
      `cannot send a string of ${length} bytes with a ${prefixLength}-byte length prefix ` +
        `(at most ${2 ** (8 * prefixLength) - 1})`,
    );
    this.name = "StringTooLongError";
    this.length = length;
    this.prefixLength = prefixLength;
  }
}

/** The big-endian unsigned integer of `n` bytes at `buf[pos]`. */
function readLength(buf: Uint8Array, pos: number, n: number): number {
  if (n === 4) {
    return buf[pos] * 0x1000000 + (buf[pos + 1] << 16 | buf[pos + 2] << 8 | buf[pos + 3]);
  }
  if (n === 2) return buf[pos] << 8 | buf[pos + 1];
  if (n === 1) return buf[pos];
  let length = 0;
  for (let i = 0; i < n; i++) length = length * 256 + buf[pos + i];
  return length;
}

const PREFIX = 0;
const PAYLOAD = 1;
const HALTED = 2;

/**
 * The base of the length-prefixed string protocols: each string on the wire is its length as
 * a big-endian unsigned integer of {@linkcode IntNStringReceiver.prefixLength} bytes, then its
 * bytes. Subclasses set `prefixLength`; use {@linkcode Int32StringReceiver},
 * {@linkcode Int16StringReceiver} or {@linkcode Int8StringReceiver}.
 *
 * Each string is a `Uint8Array` the protocol may keep: a view into the received chunk when it
 * lies wholly inside it (transports never reuse their read buffers), or else the pieces that
 * arrived, joined into one array once the last is in (a view, if it all came in one piece).
 * Until then only what has arrived is held, however long the prefix says the string is.
 *
 * When a prefix announces more than {@linkcode IntNStringReceiver.MAX_LENGTH} bytes,
 * {@linkcode IntNStringReceiver.lengthLimitExceeded} is called with that length at once, and
 * no more strings are delivered on this connection: the data after the prefix cannot be framed
 * any more, so it and all later data are discarded rather than buffered. (Twisted keeps it
 * buffered, and on each later arrival delivers again the strings that came before it in the
 * same data and calls `lengthLimitExceeded` again.) As in Twisted, strings
 * keep being delivered after the protocol calls `loseConnection()`, up to the end of the data
 * already received.
 *
 * It is also a push producer: {@linkcode IntNStringReceiver.pauseProducing} stops delivery
 * (and pauses the transport) until {@linkcode IntNStringReceiver.resumeProducing}.
 *
 * @example A 3-byte prefix
 * ```ts
 * import { IntNStringReceiver } from "@poetry/serve/int-string-receiver";
 * import { StringTransport } from "@poetry/serve/testing";
 * class Int24StringReceiver extends IntNStringReceiver {
 *   readonly prefixLength: number = 3;
 *   override stringReceived(s: Uint8Array): void {
 *     console.log(s.length);
 *   }
 * }
 * const p = new Int24StringReceiver();
 * p.makeConnection(new StringTransport());
 * p.dataReceived(new Uint8Array([0, 0, 1, 42])); // 1
 * ```
 */
export abstract class IntNStringReceiver extends Protocol implements PushProducer {
  /** The size of the length prefix, in bytes (1 to 6). */
  abstract readonly prefixLength: number;
  /**
   * The longest string accepted, in bytes.
   *
   * @default {99999}
   */
  MAX_LENGTH: number = 99999;

  #state = PREFIX;
  /** The length read so far, while a prefix that spans chunks arrives. */
  #length = 0;
  #prefixHave = 0;
  /** The payload of a string that spans chunks. */
  #payload = new Payload();
  #in = new ChunkQueue();
  #busy = false;
  #paused = false;
  /** Set by stopProducing: then resumeProducing delivers nothing more. */
  #stopped = false;

  /**
   * `true` while paused by {@linkcode IntNStringReceiver.pauseProducing} (or stopped).
   *
   * @example
   * ```ts
   * import { Int16StringReceiver } from "@poetry/serve/int-string-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * const p = new Int16StringReceiver();
   * p.makeConnection(new StringTransport());
   * p.pauseProducing();
   * console.log(p.paused); // true
   * ```
   */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Parses `data` and calls {@linkcode IntNStringReceiver.stringReceived} for each complete
   * string; a partial one is kept until the rest arrives. Called by the transport; a call from
   * inside `stringReceived` is parsed after the current data (Twisted's parses it at once, in
   * a nested call). What a callback throws propagates; the strings after it in the data are
   * still delivered on the next call, and those before it are not delivered again (Twisted's
   * delivers them again).
   *
   * @example
   * ```ts
   * import { Int16StringReceiver } from "@poetry/serve/int-string-receiver";
   * const got: string[] = [];
   * const p = new (class extends Int16StringReceiver {
   *   override stringReceived(s: Uint8Array): void {
   *     got.push(new TextDecoder().decode(s));
   *   }
   * })();
   * p.dataReceived(new Uint8Array([0, 2, 104]));
   * p.dataReceived(new Uint8Array([105]));
   * console.log(got); // [ "hi" ]
   * ```
   */
  override dataReceived(data: Uint8Array): void {
    if (this.#state === HALTED) return;
    this.#in.push(data);
    if (!this.#busy && !this.#paused) this.#deliver();
  }

  /**
   * Called with each string received, without its prefix. Override it; the default throws.
   * The string may be kept.
   *
   * @throws {Error} unless overridden.
   *
   * @example
   * ```ts
   * import { Int8StringReceiver } from "@poetry/serve/int-string-receiver";
   * class Printer extends Int8StringReceiver {
   *   override stringReceived(s: Uint8Array): void {
   *     console.log(new TextDecoder().decode(s));
   *   }
   * }
   * new Printer().dataReceived(new Uint8Array([2, 104, 105])); // hi
   * ```
   */
  stringReceived(_s: Uint8Array): void {
    throw notImplemented(this, "stringReceived");
  }

  /**
   * Called when a prefix announces a string longer than
   * {@linkcode IntNStringReceiver.MAX_LENGTH}, with that length; no string is delivered after
   * it. The default closes the connection with `transport.loseConnection()`.
   *
   * @example
   * ```ts
   * import { Int8StringReceiver } from "@poetry/serve/int-string-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * const p = new (class extends Int8StringReceiver {
   *   override MAX_LENGTH = 10;
   *   override lengthLimitExceeded(length: number): void {
   *     console.log("refused", length);
   *     super.lengthLimitExceeded(length);
   *   }
   * })();
   * const transport = new StringTransport();
   * p.makeConnection(transport);
   * p.dataReceived(new Uint8Array([11])); // refused 11
   * console.log(transport.disconnecting); // true
   * ```
   */
  lengthLimitExceeded(_length: number): void {
    this.transport.loseConnection();
  }

  /**
   * Sends `s` with its length prefix, in one write. A string is sent as UTF-8 (the prefix
   * counts bytes).
   *
   * @throws {StringTooLongError} if `s` is too long for the prefix: 2^(8 × prefixLength)
   * bytes or more.
   *
   * @example
   * ```ts
   * import { Int16StringReceiver } from "@poetry/serve/int-string-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * const transport = new StringTransport();
   * const p = new Int16StringReceiver();
   * p.makeConnection(transport);
   * p.sendString("foo");
   * console.log(transport.value()); // Uint8Array(5) [ 0, 3, 102, 111, 111 ]
   * ```
   */
  sendString(s: Data): void {
    const payload = toBytes(s, this, "sendString");
    const n = this.prefixLength;
    let length = payload.length;
    if (length >= 2 ** (8 * n)) throw new StringTooLongError(length, n);
    const header = new Uint8Array(n);
    for (let i = n - 1; i >= 0; i--) {
      header[i] = length % 256;
      length = Math.floor(length / 256);
    }
    writeFrame(this.transport, header, payload);
  }

  /**
   * Stops delivering strings, even in the middle of received data, and pauses the transport.
   *
   * @example
   * ```ts
   * import { Int8StringReceiver } from "@poetry/serve/int-string-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * const got: number[] = [];
   * const p = new (class extends Int8StringReceiver {
   *   override stringReceived(s: Uint8Array): void {
   *     got.push(s[0]);
   *     this.pauseProducing();
   *   }
   * })();
   * const transport = new StringTransport();
   * p.makeConnection(transport);
   * p.dataReceived(new Uint8Array([1, 7, 1, 8]));
   * console.log(got, transport.producerState); // [ 7 ] paused
   * ```
   */
  pauseProducing(): void {
    this.#paused = true;
    this.transport.pauseProducing();
  }

  /**
   * Delivers the strings received while paused, then, unless a callback paused again (or the
   * connection is closing), resumes the transport.
   *
   * @example
   * ```ts
   * import { Int8StringReceiver } from "@poetry/serve/int-string-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * const got: number[] = [];
   * const p = new (class extends Int8StringReceiver {
   *   override stringReceived(s: Uint8Array): void {
   *     got.push(s[0]);
   *   }
   * })();
   * p.makeConnection(new StringTransport());
   * p.pauseProducing();
   * p.dataReceived(new Uint8Array([1, 7]));
   * p.resumeProducing();
   * console.log(got); // [ 7 ]
   * ```
   */
  resumeProducing(): void {
    if (this.#stopped) {
      // Stopping is for good. The transport answers for resuming a stopped producer (a
      // StringTransport throws, as Twisted's does); the strings held stay undelivered.
      this.transport.resumeProducing();
      return;
    }
    this.#paused = false;
    try {
      if (!this.#busy) this.#deliver();
    } finally {
      // Even when a callback threw: a transport left paused would never read again.
      resumeTransport(this.transport, this.#paused);
    }
  }

  /**
   * Stops delivery for good and stops the transport as a producer.
   *
   * @example
   * ```ts
   * import { Int32StringReceiver } from "@poetry/serve/int-string-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * const transport = new StringTransport();
   * const p = new Int32StringReceiver();
   * p.makeConnection(transport);
   * p.stopProducing();
   * console.log(transport.producerState); // stopped
   * ```
   */
  stopProducing(): void {
    this.#paused = true;
    this.#stopped = true;
    this.transport.stopProducing();
  }

  /**
   * Delivers each complete string buffered, until the data runs out or delivery pauses; marked
   * busy meanwhile, so that data given by a callback is only queued.
   */
  #deliver(): void {
    const input = this.#in;
    this.#busy = true;
    try {
      outer: while (!this.#paused && this.#state !== HALTED && input.more()) {
        const buf = input.buf;
        let pos = input.pos;
        const end = buf.length;

        if (this.#state === PAYLOAD) {
          input.pos = this.#payload.fill(buf, pos);
          if (this.#payload.full) {
            this.#state = PREFIX;
            watchCallbackResult(this.transport, this.stringReceived(this.#payload.take()), WHY);
          }
          continue;
        }

        // PREFIX
        const n = this.prefixLength;
        let length: number;
        if (this.#prefixHave > 0 || end - pos < n) {
          // A prefix split across chunks: gather it byte by byte.
          length = this.#length;
          let have = this.#prefixHave;
          while (have < n && pos < end) {
            length = length * 256 + buf[pos++];
            have++;
          }
          input.pos = pos;
          if (have < n) {
            this.#length = length;
            this.#prefixHave = have;
            continue;
          }
          this.#length = 0;
          this.#prefixHave = 0;
        } else {
          length = readLength(buf, pos, n);
          pos += n;
        }
        for (;;) {
          if (length > this.MAX_LENGTH) {
            this.#halt();
            watchCallbackResult(
              this.transport,
              this.lengthLimitExceeded(length),
              "Unhandled error in lengthLimitExceeded",
            );
            return;
          }
          const stop = pos + length;
          if (stop > end) {
            // The string runs past this chunk: keep what arrives until it is all in.
            this.#payload.start(length, buf, pos);
            this.#state = PAYLOAD;
            input.pos = end;
            continue outer;
          }
          input.pos = stop;
          watchCallbackResult(this.transport, this.stringReceived(buf.subarray(pos, stop)), WHY);
          if (this.#paused || input.buf !== buf || end - stop < n) continue outer;
          pos = stop + n;
          length = readLength(buf, stop, n);
        }
      }
    } finally {
      this.#busy = false;
    }
  }

  /** Stops parsing for good and forgets what was buffered. */
  #halt(): void {
    this.#state = HALTED;
    this.#in.clear();
    this.#payload.clear();
  }
}

/**
 * Strings prefixed by their length as a 4-byte big-endian unsigned integer (network byte
 * order). See {@linkcode IntNStringReceiver} for the behaviour.
 *
 * @example
 * ```ts
 * import { Int32StringReceiver } from "@poetry/serve/int-string-receiver";
 * import { StringTransport } from "@poetry/serve/testing";
 * const transport = new StringTransport();
 * const p = new Int32StringReceiver();
 * p.makeConnection(transport);
 * p.sendString("foo");
 * console.log(transport.value()); // Uint8Array(7) [ 0, 0, 0, 3, 102, 111, 111 ]
 * ```
 */
export class Int32StringReceiver extends IntNStringReceiver {
  /** 4 bytes. */
  readonly prefixLength: number = 4;
}

/**
 * Strings prefixed by their length as a 2-byte big-endian unsigned integer, so at most
 * 65,535 bytes each. See {@linkcode IntNStringReceiver} for the behaviour.
 *
 * @example
 * ```ts
 * import { Int16StringReceiver } from "@poetry/serve/int-string-receiver";
 * import { StringTransport } from "@poetry/serve/testing";
 * const transport = new StringTransport();
 * const p = new Int16StringReceiver();
 * p.makeConnection(transport);
 * p.sendString("foo");
 * console.log(transport.value()); // Uint8Array(5) [ 0, 3, 102, 111, 111 ]
 * ```
 */
export class Int16StringReceiver extends IntNStringReceiver {
  /** 2 bytes. */
  readonly prefixLength: number = 2;
}

/**
 * Strings prefixed by their length in one byte, so at most 255 bytes each. See
 * {@linkcode IntNStringReceiver} for the behaviour.
 *
 * @example
 * ```ts
 * import { Int8StringReceiver } from "@poetry/serve/int-string-receiver";
 * import { StringTransport } from "@poetry/serve/testing";
 * const transport = new StringTransport();
 * const p = new Int8StringReceiver();
 * p.makeConnection(transport);
 * p.sendString("foo");
 * console.log(transport.value()); // Uint8Array(4) [ 3, 102, 111, 111 ]
 * ```
 */
export class Int8StringReceiver extends IntNStringReceiver {
  /** 1 byte. */
  readonly prefixLength: number = 1;
}
