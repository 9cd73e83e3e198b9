/**
 * {@linkcode NetstringReceiver}: a protocol that sends and receives
 * [netstrings](https://cr.yp.to/proto/netstrings.txt) — `<length>:<bytes>,`, e.g. `5:hello,` —
 * as Twisted's `twisted.protocols.basic.NetstringReceiver`. The poetry transformation protocol
 * speaks it.
 *
 * Hostile input is cut short: a malformed netstring closes the connection at the byte that
 * breaks the format, and a length over {@linkcode NetstringReceiver.MAX_LENGTH} is refused as
 * soon as its digits say so, before any payload is buffered.
 *
 * @example Transform each request
 * ```ts
 * import { NetstringReceiver } from "@poetry/serve/netstring-receiver";
 * import { StringTransport } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * class Cummingsify extends NetstringReceiver {
 *   override stringReceived(poem: Uint8Array): void {
 *     this.sendString(new TextDecoder().decode(poem).toLowerCase());
 *   }
 * }
 *
 * const transport = new StringTransport();
 * const server = new Cummingsify();
 * server.makeConnection(transport);
 * server.dataReceived(new TextEncoder().encode("13:Roses Are Red,"));
 * assert.equal(transport.valueText(), "13:roses are red,");
 * ```
 *
 * @module
 */

import { type Data, Protocol } from "./protocol.ts";
import { ChunkQueue, Payload, toBytes } from "./_bytes.ts";
import { notImplemented, writeFrame } from "./_framing.ts";
import { watchCallbackResult } from "./_async_callbacks.ts";

const WHY = "Unhandled error in stringReceived";

const ZERO = 0x30;
const COLON = 0x3a;
const COMMA = 0x2c;
const TRAILER = new Uint8Array([COMMA]);

const PARSING_LENGTH = 0;
const PARSING_PAYLOAD = 1;
const EXPECTING_COMMA = 2;

/**
 * Received data is not a well-formed netstring: the length is not digits followed by `:`, has a
 * leading zero, or exceeds `MAX_LENGTH`, or the payload is not followed by `,`.
 * {@linkcode NetstringReceiver} raises it while parsing and handles it itself by closing the
 * connection; it never escapes `dataReceived`.
 *
 * @example
 * ```ts
 * import { NetstringParseError } from "@poetry/serve/netstring-receiver";
 * const e = new NetstringParseError("netstring length 100000 exceeds MAX_LENGTH 99999");
 * console.log(e.name, e instanceof Error); // NetstringParseError true
 * ```
 */
export class NetstringParseError extends Error {
  /**
   * An error with a message saying what was wrong.
   *
   * @param message What was malformed, naming the value at fault.
   *
   * @example
   * ```ts
   * import { NetstringParseError } from "@poetry/serve/netstring-receiver";
   * console.log(new NetstringParseError("bad").message); // bad
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "NetstringParseError";
  }
}

/**
 * A protocol that receives netstrings and calls {@linkcode NetstringReceiver.stringReceived}
 * with each payload; {@linkcode NetstringReceiver.sendString} sends one.
 *
 * Each payload is a `Uint8Array` the protocol may keep: a view into the received chunk when
 * the whole netstring lies inside it (transports never reuse their read buffers), or else the
 * pieces that arrived, joined into one array once the last is in (a view, if it all came in
 * one piece). Until then only what has arrived is held, however long the length says it is.
 *
 * Any malformed input — a byte other than a digit before the `:`, a `:` with no digits, a
 * length with a leading zero (`0:,`, the empty string, is fine), a length over
 * {@linkcode NetstringReceiver.MAX_LENGTH} (refused at the first digit that takes it over,
 * before the `:`), a payload not followed by `,` — raises a {@linkcode NetstringParseError}
 * inside the receiver, which then closes the connection with `transport.loseConnection()` and
 * sets {@linkcode NetstringReceiver.brokenPeer}. Nothing after the bad byte is delivered, and
 * later data is ignored. The strings before it were delivered as they arrived.
 *
 * As in Twisted, strings keep being delivered after the protocol itself calls
 * `loseConnection()`, up to the end of the data already received.
 *
 * @example Collect strings
 * ```ts
 * import { NetstringReceiver } from "@poetry/serve/netstring-receiver";
 * import { StringTransport } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * class Collector extends NetstringReceiver {
 *   strings: string[] = [];
 *   override stringReceived(s: Uint8Array): void {
 *     this.strings.push(new TextDecoder().decode(s));
 *   }
 * }
 * const transport = new StringTransport();
 * const c = new Collector();
 * c.makeConnection(transport);
 * c.dataReceived(new TextEncoder().encode("5:hello,0:,5:wor"));
 * c.dataReceived(new TextEncoder().encode("ld,"));
 * assert.deepEqual(c.strings, ["hello", "", "world"]);
 * c.dataReceived(new TextEncoder().encode("007:"));
 * assert.ok(transport.disconnecting && c.brokenPeer);
 * ```
 */
export class NetstringReceiver extends Protocol {
  /**
   * The longest payload accepted, in bytes.
   *
   * @default {99999}
   */
  MAX_LENGTH: number = 99999;
  /**
   * `true` once the peer sent a malformed netstring and the connection was closed for it.
   *
   * @default {false}
   */
  brokenPeer: boolean = false;
  /**
   * What was wrong with the peer's netstring, once {@linkcode NetstringReceiver.brokenPeer} is
   * set (Twisted keeps only the flag).
   *
   * @example Say what the peer got wrong
   * ```ts
   * import { NetstringReceiver } from "@poetry/serve/netstring-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * const p = new NetstringReceiver();
   * p.makeConnection(new StringTransport());
   * p.dataReceived(new TextEncoder().encode("05:hello,"));
   * console.log(p.parseError?.message); // netstring length 05... has a leading zero
   * ```
   */
  parseError: NetstringParseError | undefined = undefined;

  #state = PARSING_LENGTH;
  /** The length read so far, while its digits arrive. */
  #length = 0;
  #digits = 0;
  /** The payload of a netstring that spans chunks. */
  #payload = new Payload();
  #in = new ChunkQueue();
  #busy = false;
  #raised: NetstringParseError | undefined = undefined;

  /**
   * Parses `data` and calls {@linkcode NetstringReceiver.stringReceived} for each complete
   * netstring; a partial one is kept until the rest arrives. Called by the transport; a call
   * from inside `stringReceived` is parsed after the current data. Malformed data closes the
   * connection (see the class); a {@linkcode NetstringParseError} never escapes. What
   * `stringReceived` throws propagates.
   *
   * @example
   * ```ts
   * import { NetstringReceiver } from "@poetry/serve/netstring-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * const got: number[] = [];
   * const p = new (class extends NetstringReceiver {
   *   override stringReceived(s: Uint8Array): void {
   *     got.push(s.length);
   *   }
   * })();
   * p.makeConnection(new StringTransport());
   * p.dataReceived(new TextEncoder().encode("3:abc,1:"));
   * p.dataReceived(new TextEncoder().encode("d,"));
   * console.log(got); // [ 3, 1 ]
   * ```
   */
  override dataReceived(data: Uint8Array): void {
    if (this.brokenPeer) return;
    this.#in.push(data);
    if (this.#busy) return;
    this.#busy = true;
    try {
      this.#parse();
    } catch (e) {
      if (e === undefined || e !== this.#raised) throw e;
      this.#raised = undefined;
      this.parseError = e as NetstringParseError;
      this.#handleParseError();
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Called with the payload of each netstring received. Override it; the default throws. The
   * payload may be kept.
   *
   * @throws {Error} unless overridden.
   *
   * @example
   * ```ts
   * import { NetstringReceiver } from "@poetry/serve/netstring-receiver";
   * class Printer extends NetstringReceiver {
   *   override stringReceived(s: Uint8Array): void {
   *     console.log(new TextDecoder().decode(s));
   *   }
   * }
   * new Printer().dataReceived(new TextEncoder().encode("5:hello,")); // hello
   * ```
   */
  stringReceived(_s: Uint8Array): void {
    throw notImplemented(this, "stringReceived");
  }

  /**
   * Sends `s` as a netstring: its length in bytes, `:`, the bytes, `,`. A string is sent as
   * UTF-8 (the length counts bytes, not characters).
   *
   * @example
   * ```ts
   * import { NetstringReceiver } from "@poetry/serve/netstring-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * const transport = new StringTransport();
   * const p = new NetstringReceiver();
   * p.makeConnection(transport);
   * p.sendString("héllo");
   * console.log(transport.valueText()); // 6:héllo,
   * ```
   */
  sendString(s: Data): void {
    const payload = toBytes(s, this, "sendString");
    writeFrame(this.transport, toBytes(`${payload.length}:`), payload, TRAILER);
  }

  /** Closes the connection for a malformed netstring and forgets what was buffered. */
  #handleParseError(): void {
    this.brokenPeer = true;
    this.#in.clear();
    this.#payload.clear();
    this.transport.loseConnection();
  }

  /** A parse error, remembered so that only errors raised by the parser itself are caught. */
  #raise(message: string): NetstringParseError {
    const error = new NetstringParseError(message);
    this.#raised = error;
    return error;
  }

  /**
   * Parses what is buffered and delivers each complete netstring, until the data runs out.
   *
   * @throws {NetstringParseError} at the first byte that breaks the format.
   */
  #parse(): void {
    const input = this.#in;
    outer: while (input.more()) {
      const buf = input.buf;
      let pos = input.pos;
      const end = buf.length;

      if (this.#state === PARSING_LENGTH) {
        let max = this.MAX_LENGTH;
        let length = this.#length;
        let digits = this.#digits;
        while (pos < end) {
          const c = buf[pos];
          if (c !== COLON) {
            const d = c - ZERO;
            if (d < 0 || d > 9) {
              throw this.#raise(
                `netstring length must be digits followed by ':', got ${byteName(c)}`,
              );
            }
            if (digits === 1 && length === 0) {
              throw this.#raise(`netstring length 0${d}... has a leading zero`);
            }
            length = length * 10 + d;
            digits++;
            if (length > max) {
              throw this.#raise(`netstring length of at least ${length} exceeds MAX_LENGTH ${max}`);
            }
            pos++;
            continue;
          }
          if (digits === 0) throw this.#raise("netstring has no length before ':'");
          // Digits that came before MAX_LENGTH was lowered were checked against the old one.
          if (length > max) {
            throw this.#raise(`netstring length ${length} exceeds MAX_LENGTH ${max}`);
          }
          pos++;
          const stop = pos + length;
          if (stop >= end) {
            // The payload runs past this chunk: keep what arrives until it is all in.
            this.#payload.start(length, buf, pos);
            this.#length = 0;
            this.#digits = 0;
            this.#state = this.#payload.full ? EXPECTING_COMMA : PARSING_PAYLOAD;
            input.pos = end;
            continue outer;
          }
          // The whole netstring is in this chunk: deliver a view.
          if (buf[stop] !== COMMA) throw this.#raise(missingComma(length, buf[stop]));
          this.#length = 0;
          this.#digits = 0;
          input.pos = stop + 1;
          watchCallbackResult(this.transport, this.stringReceived(buf.subarray(pos, stop)), WHY);
          if (this.brokenPeer) return;
          if (input.buf !== buf) continue outer;
          pos = stop + 1;
          length = 0;
          digits = 0;
          max = this.MAX_LENGTH;
        }
        this.#length = length;
        this.#digits = digits;
        input.pos = pos;
        continue;
      }

      if (this.#state === PARSING_PAYLOAD) {
        input.pos = this.#payload.fill(buf, pos);
        if (this.#payload.full) this.#state = EXPECTING_COMMA;
        continue;
      }

      // EXPECTING_COMMA
      const payload = this.#payload.take();
      if (buf[pos] !== COMMA) throw this.#raise(missingComma(payload.length, buf[pos]));
      input.pos = pos + 1;
      this.#state = PARSING_LENGTH;
      watchCallbackResult(this.transport, this.stringReceived(payload), WHY);
      if (this.brokenPeer) return;
    }
  }
}

function missingComma(length: number, got: number): string {
  return `netstring payload of ${length} bytes must be followed by ',', got ${byteName(got)}`;
}

/** A byte for an error message: `'a'` if printable ASCII, `0x0a` otherwise. */
function byteName(c: number): string {
  const hex = `0x${c.toString(16).padStart(2, "0")}`;
  return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}' (${hex})` : hex;
}
