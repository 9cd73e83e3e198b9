/**
 * {@linkcode LineReceiver}: a protocol that receives lines, or raw data after
 * {@linkcode LineReceiver.setRawMode}, as Twisted's `twisted.protocols.basic.LineReceiver`.
 * For line-oriented protocols (SMTP, POP, IRC, HTTP headers, the poetry transformation
 * protocol) and protocols that switch between lines and a raw body.
 *
 * A line longer than {@linkcode LineReceiver.MAX_LENGTH} is never buffered whole: once that
 * many bytes (plus room for a delimiter) have arrived without a delimiter,
 * {@linkcode LineReceiver.lineLengthExceeded} is called and, by default, the connection is
 * closed. Lines are found by searching only the bytes not searched before, and are delivered as
 * views into the received data.
 *
 * @example Answer each line
 * ```ts
 * import { LineReceiver } from "@poetry/serve/line-receiver";
 * import { StringTransport } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * class Shout extends LineReceiver {
 *   override lineReceived(line: Uint8Array): void {
 *     this.sendLine(new TextDecoder().decode(line).toUpperCase());
 *   }
 * }
 *
 * const transport = new StringTransport();
 * const shout = new Shout();
 * shout.makeConnection(transport);
 * shout.dataReceived(new TextEncoder().encode("roses are red\r\nviolets "));
 * shout.dataReceived(new TextEncoder().encode("are blue\r\n"));
 * assert.equal(transport.valueText(), "ROSES ARE RED\r\nVIOLETS ARE BLUE\r\n");
 * ```
 *
 * @module
 */

import { type Data, Protocol, type PushProducer } from "./protocol.ts";
import { toBytes } from "./_bytes.ts";
import { LineSplitter, notImplemented, resumeTransport, writeLine } from "./_framing.ts";
import { watchCallbackResult } from "./_async_callbacks.ts";

const RAW_DATA_RECEIVED = "Unhandled error in rawDataReceived";

/**
 * A protocol that splits what it receives into lines and calls
 * {@linkcode LineReceiver.lineReceived} with each, without its delimiter; after
 * {@linkcode LineReceiver.setRawMode} it passes data through to
 * {@linkcode LineReceiver.rawDataReceived} instead, until
 * {@linkcode LineReceiver.setLineMode}.
 *
 * The callbacks see the same lines however the network chunks the stream. Each line is a
 * `Uint8Array` the protocol may keep: a view into the received chunk when the line lies wholly
 * inside it (transports never reuse their read buffers), or a fresh array when it spans chunks.
 *
 * Mode switches take effect at once: a `setRawMode()` inside `lineReceived` sends the rest of
 * the current data to `rawDataReceived`, and `setLineMode(rest)` inside `rawDataReceived`
 * splits `rest` into lines before any later data. Once the transport is disconnecting (the
 * protocol called `loseConnection()`), nothing more is delivered.
 *
 * Over-long lines: when a delimiter is found after more than `MAX_LENGTH` bytes, or
 * `MAX_LENGTH + delimiter.length` bytes have arrived with no delimiter among them (so the line
 * cannot fit), {@linkcode LineReceiver.lineLengthExceeded} is called with everything buffered
 * from the start of that line, which is then dropped. A line of exactly `MAX_LENGTH` bytes is
 * accepted, even when its delimiter arrives split across chunks.
 *
 * It is also a push producer: a consumer that cannot keep up may call
 * {@linkcode LineReceiver.pauseProducing} to stop delivery (and reading), and
 * {@linkcode LineReceiver.resumeProducing} to go on.
 *
 * @example Read a header line, then a body of known length
 * ```ts
 * import { LineReceiver } from "@poetry/serve/line-receiver";
 * import { StringTransport } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * class PoemReader extends LineReceiver {
 *   remaining = 0;
 *   poem = "";
 *   override lineReceived(line: Uint8Array): void {
 *     this.remaining = Number(new TextDecoder().decode(line)); // "13"
 *     this.setRawMode();
 *   }
 *   override rawDataReceived(data: Uint8Array): void {
 *     const body = data.subarray(0, this.remaining);
 *     this.poem += new TextDecoder().decode(body);
 *     this.remaining -= body.length;
 *     if (this.remaining === 0) this.setLineMode(data.subarray(body.length));
 *   }
 * }
 *
 * const reader = new PoemReader();
 * reader.makeConnection(new StringTransport());
 * reader.dataReceived(new TextEncoder().encode("13\r\nRoses are red"));
 * assert.equal(reader.poem, "Roses are red");
 * ```
 */
export class LineReceiver extends Protocol implements PushProducer {
  /**
   * What ends a line: a `Uint8Array` or a string (its UTF-8 bytes). May be changed per
   * instance, even from inside {@linkcode LineReceiver.lineReceived}; assign a new value
   * rather than changing an array in place. Must not be empty.
   *
   * @default {"\r\n"}
   */
  delimiter: Uint8Array | string = "\r\n";
  /**
   * The longest line accepted, in bytes, without its delimiter.
   *
   * @default {16384}
   */
  MAX_LENGTH: number = 16384;

  /** What was received and not delivered yet, and the splitting of it into lines. */
  #in = new LineSplitter();
  #busy = false;
  #paused = false;
  /** Set by stopProducing: then resumeProducing delivers nothing more. */
  #stopped = false;
  #lineMode = true;

  /**
   * `true` while paused by {@linkcode LineReceiver.pauseProducing} (or stopped by
   * {@linkcode LineReceiver.stopProducing}): received data is kept, not delivered.
   *
   * @example
   * ```ts
   * import { LineReceiver } from "@poetry/serve/line-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * const receiver = new LineReceiver();
   * receiver.makeConnection(new StringTransport());
   * receiver.pauseProducing();
   * console.log(receiver.paused); // true
   * ```
   */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * `true` in line mode (the default), `false` after {@linkcode LineReceiver.setRawMode}.
   *
   * @example
   * ```ts
   * import { LineReceiver } from "@poetry/serve/line-receiver";
   * const receiver = new LineReceiver();
   * receiver.setRawMode();
   * console.log(receiver.lineMode); // false
   * ```
   */
  get lineMode(): boolean {
    return this.#lineMode;
  }

  /**
   * Splits `data` into lines (or passes it on raw) and delivers them; a partial line is kept
   * until the rest arrives. Called by the transport. Safe to call from inside a callback: the
   * data is then delivered after what is already waiting.
   *
   * @throws {RangeError} if {@linkcode LineReceiver.delimiter} is empty. Whatever a callback
   * throws propagates; the receiver stays consistent.
   *
   * @example
   * ```ts
   * import { LineReceiver } from "@poetry/serve/line-receiver";
   * const lines: string[] = [];
   * const receiver = new (class extends LineReceiver {
   *   override lineReceived(line: Uint8Array): void {
   *     lines.push(new TextDecoder().decode(line));
   *   }
   * })();
   * receiver.dataReceived(new TextEncoder().encode("one\r\ntw"));
   * receiver.dataReceived(new TextEncoder().encode("o\r\n"));
   * console.log(lines); // [ "one", "two" ]
   * ```
   */
  override dataReceived(data: Uint8Array): void {
    this.#in.push(data);
    if (this.#busy) {
      this.#in.epoch++;
      return;
    }
    if (!this.#paused) this.#deliver();
  }

  /**
   * Called with each line received, without its delimiter. Override it; the default throws.
   *
   * The line may be kept: it is a view into data the transport will not reuse, or a fresh
   * array.
   *
   * @throws {Error} unless overridden.
   *
   * @example
   * ```ts
   * import { LineReceiver } from "@poetry/serve/line-receiver";
   * class Printer extends LineReceiver {
   *   override lineReceived(line: Uint8Array): void {
   *     console.log(new TextDecoder().decode(line));
   *   }
   * }
   * new Printer().dataReceived(new TextEncoder().encode("hello\r\n")); // hello
   * ```
   */
  lineReceived(_line: Uint8Array): void {
    throw notImplemented(this, "lineReceived");
  }

  /**
   * Called in raw mode with each piece of data received (including the rest of the chunk
   * whose line switched to raw mode). Override it if the protocol uses raw mode; the default
   * throws. To go back to lines, call {@linkcode LineReceiver.setLineMode} with any bytes of
   * `data` that belong to the lines.
   *
   * @throws {Error} unless overridden.
   *
   * @example
   * ```ts
   * import { LineReceiver } from "@poetry/serve/line-receiver";
   * class Sink extends LineReceiver {
   *   bytes = 0;
   *   override rawDataReceived(data: Uint8Array): void {
   *     this.bytes += data.length;
   *   }
   * }
   * const sink = new Sink();
   * sink.setRawMode();
   * sink.dataReceived(new Uint8Array(10));
   * console.log(sink.bytes); // 10
   * ```
   */
  rawDataReceived(_data: Uint8Array): void {
    throw notImplemented(this, "rawDataReceived");
  }

  /**
   * Called when a line is longer than {@linkcode LineReceiver.MAX_LENGTH}, with the buffered
   * bytes from the start of that line on (which may hold only its beginning, or more than one
   * line); they are dropped. The default closes the connection with
   * `transport.loseConnection()`. An override that keeps the connection may call
   * {@linkcode LineReceiver.setLineMode} with the part of `line` to parse again: it is split at
   * once. Given back whole (or more), it would only be over-long again: it is then reported once
   * more only when more data arrives, rather than in an endless loop (Twisted waits for more data
   * before it parses anything given back here).
   *
   * @example Keep the connection and report the error
   * ```ts
   * import { LineReceiver } from "@poetry/serve/line-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * class Lenient extends LineReceiver {
   *   override MAX_LENGTH = 8;
   *   override lineReceived(_line: Uint8Array): void {}
   *   override lineLengthExceeded(line: Uint8Array): void {
   *     this.sendLine(`line too long (${line.length}+ bytes)`);
   *   }
   * }
   * const transport = new StringTransport();
   * const p = new Lenient();
   * p.makeConnection(transport);
   * p.dataReceived(new TextEncoder().encode("0123456789"));
   * console.log(JSON.stringify(transport.valueText())); // "line too long (10+ bytes)\r\n"
   * ```
   */
  lineLengthExceeded(_line: Uint8Array): void {
    this.transport.loseConnection();
  }

  /**
   * Writes `line` and the delimiter to the transport, in one write. A string is sent as UTF-8.
   *
   * @example
   * ```ts
   * import { LineReceiver } from "@poetry/serve/line-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * const transport = new StringTransport();
   * const receiver = new LineReceiver();
   * receiver.makeConnection(transport);
   * receiver.sendLine("hello");
   * console.log(JSON.stringify(transport.valueText())); // "hello\r\n"
   * ```
   */
  sendLine(line: Data): void {
    writeLine(this.transport, line, this.delimiter, this);
  }

  /**
   * Switches to raw mode: from now on data goes to {@linkcode LineReceiver.rawDataReceived}.
   * Called from `lineReceived`, the rest of the current data is delivered raw.
   *
   * @example
   * ```ts
   * import { LineReceiver } from "@poetry/serve/line-receiver";
   * class Header extends LineReceiver {
   *   body: string[] = [];
   *   override lineReceived(_line: Uint8Array): void {
   *     this.setRawMode();
   *   }
   *   override rawDataReceived(data: Uint8Array): void {
   *     this.body.push(new TextDecoder().decode(data));
   *   }
   * }
   * const h = new Header();
   * h.dataReceived(new TextEncoder().encode("HEAD\r\nline\r\nbody"));
   * console.log(h.body); // [ "line\r\nbody" ]
   * ```
   */
  setRawMode(): void {
    this.#lineMode = false;
    this.#in.epoch++;
  }

  /**
   * Switches to line mode and splits `extra` (if given) into lines at once. From inside
   * `rawDataReceived`, pass the bytes of the current data that were not consumed: they are
   * split before any later data. (From inside `lineReceived` the rest of the current data is
   * already split as lines; `extra` would be added after everything buffered.)
   *
   * @example
   * ```ts
   * import { LineReceiver } from "@poetry/serve/line-receiver";
   * class Lines extends LineReceiver {
   *   lines: string[] = [];
   *   override lineReceived(line: Uint8Array): void {
   *     this.lines.push(new TextDecoder().decode(line));
   *   }
   * }
   * const p = new Lines();
   * p.setRawMode();
   * p.setLineMode("a\r\nb\r\n");
   * console.log(p.lines); // [ "a", "b" ]
   * ```
   */
  setLineMode(extra?: Data): void {
    this.#lineMode = true;
    this.#in.epoch++;
    if (extra !== undefined) {
      const bytes = toBytes(extra, this, "setLineMode");
      if (bytes.length !== 0) this.dataReceived(bytes);
    }
  }

  /**
   * Removes and returns every byte received but not yet delivered: a partial line, and, when
   * called from a callback, the rest of the current data. Nothing of it is delivered.
   *
   * @example
   * ```ts
   * import { LineReceiver } from "@poetry/serve/line-receiver";
   * class Once extends LineReceiver {
   *   rest = "";
   *   override lineReceived(_line: Uint8Array): void {
   *     this.rest = new TextDecoder().decode(this.clearLineBuffer());
   *   }
   * }
   * const p = new Once();
   * p.dataReceived(new TextEncoder().encode("foo\r\nbar\r\nbaz"));
   * console.log(JSON.stringify(p.rest)); // "bar\r\nbaz"
   * ```
   */
  clearLineBuffer(): Uint8Array {
    return this.#in.takeAll();
  }

  /**
   * Stops delivering lines, even in the middle of received data, and pauses the transport
   * (so it stops reading). Data that still arrives is kept for
   * {@linkcode LineReceiver.resumeProducing}.
   *
   * @example
   * ```ts
   * import { LineReceiver } from "@poetry/serve/line-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * class OneAtATime extends LineReceiver {
   *   lines: string[] = [];
   *   override lineReceived(line: Uint8Array): void {
   *     this.lines.push(new TextDecoder().decode(line));
   *     this.pauseProducing();
   *   }
   * }
   * const transport = new StringTransport();
   * const p = new OneAtATime();
   * p.makeConnection(transport);
   * p.dataReceived(new TextEncoder().encode("a\r\nb\r\n"));
   * console.log(p.lines, transport.producerState); // [ "a" ] paused
   * p.resumeProducing();
   * console.log(p.lines); // [ "a", "b" ]
   * ```
   */
  pauseProducing(): void {
    this.#paused = true;
    this.#in.epoch++;
    this.transport.pauseProducing();
  }

  /**
   * Delivers the lines received while paused, then, unless a callback paused again (or the
   * connection is closing), resumes the transport.
   *
   * @example
   * ```ts
   * import { LineReceiver } from "@poetry/serve/line-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * const seen: string[] = [];
   * const p = new (class extends LineReceiver {
   *   override lineReceived(line: Uint8Array): void {
   *     seen.push(new TextDecoder().decode(line));
   *   }
   * })();
   * const transport = new StringTransport();
   * p.makeConnection(transport);
   * p.pauseProducing();
   * p.dataReceived(new TextEncoder().encode("waiting\r\n"));
   * console.log(seen); // []
   * p.resumeProducing();
   * console.log(seen, transport.producerState); // [ "waiting" ] producing
   * ```
   */
  resumeProducing(): void {
    if (this.#stopped) {
      // Stopping is for good. The transport answers for resuming a stopped producer (a
      // StringTransport throws, as Twisted's does); the lines held stay undelivered.
      this.transport.resumeProducing();
      return;
    }
    this.#paused = false;
    this.#in.epoch++;
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
   * import { LineReceiver } from "@poetry/serve/line-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * const transport = new StringTransport();
   * const p = new LineReceiver();
   * p.makeConnection(transport);
   * p.stopProducing();
   * console.log(p.paused, transport.producerState); // true stopped
   * ```
   */
  stopProducing(): void {
    this.#paused = true;
    this.#stopped = true;
    this.#in.epoch++;
    this.transport.stopProducing();
  }

  /**
   * Delivers what is buffered until it runs out, the receiver pauses or the transport closes;
   * marked busy meanwhile, so that data given by a callback is only queued.
   */
  #deliver(): void {
    const input = this.#in;
    this.#busy = true;
    input.startPass();
    try {
      for (;;) {
        if (this.#paused || input.held) return;
        const transport = this.transport;
        if (transport !== undefined && transport.disconnecting) return;
        if (!input.more()) {
          // Nothing new; but a partial line left from line mode is raw data now.
          if (this.#lineMode || input.partial.length === 0) return;
          watchCallbackResult(transport, this.rawDataReceived(input.takeAll()), RAW_DATA_RECEIVED);
        } else if (this.#lineMode) {
          input.lines(this);
        } else {
          watchCallbackResult(transport, this.rawDataReceived(input.takeAll()), RAW_DATA_RECEIVED);
        }
      }
    } finally {
      this.#busy = false;
    }
  }
}
