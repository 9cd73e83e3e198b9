/**
 * {@linkcode LineOnlyReceiver}: a protocol that receives lines and nothing else, as Twisted's
 * `twisted.protocols.basic.LineOnlyReceiver` — the lean choice when a protocol never switches
 * to raw data and never needs pausing.
 *
 * @example Count the lines of a poem
 * ```ts
 * import { LineOnlyReceiver } from "@poetry/serve/line-only-receiver";
 * import { StringTransport } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * class LineCounter extends LineOnlyReceiver {
 *   override delimiter = "\n";
 *   count = 0;
 *   override lineReceived(_line: Uint8Array): void {
 *     this.count++;
 *   }
 * }
 *
 * const counter = new LineCounter();
 * counter.makeConnection(new StringTransport());
 * counter.dataReceived(new TextEncoder().encode("Roses are red,\nViolets are blue,\n"));
 * assert.equal(counter.count, 2);
 * ```
 *
 * @module
 */

import { type Data, Protocol } from "./protocol.ts";
import { LineSplitter, notImplemented, writeLine } from "./_framing.ts";

/**
 * A protocol that splits what it receives into lines and calls
 * {@linkcode LineOnlyReceiver.lineReceived} with each, without its delimiter. Unlike
 * `LineReceiver` it has no raw mode and is not a producer.
 *
 * Each line is a `Uint8Array` the protocol may keep: a view into the received chunk when the
 * line lies wholly inside it (transports never reuse their read buffers), or a fresh array when
 * it spans chunks. Once the transport is disconnecting, no further line is delivered, even from
 * data already received.
 *
 * Over-long lines follow the same rule as `LineReceiver`: when a delimiter is found after more
 * than `MAX_LENGTH` bytes, or `MAX_LENGTH + delimiter.length` bytes have arrived with no
 * delimiter, {@linkcode LineOnlyReceiver.lineLengthExceeded} gets everything buffered from the
 * start of that line, which is dropped. (Twisted's `LineOnlyReceiver` counts a partial
 * delimiter against the limit, so whether a line of exactly `MAX_LENGTH` bytes passes depends
 * there on how the stream was chunked; here it always passes.) Twisted's also passes only the
 * over-long line, and keeps buffering an unended one without bound, calling again on each
 * arrival; here, as in Twisted's `LineReceiver`, what was buffered is passed and dropped, so
 * the tail of a line that arrives later (if the connection is kept) is a line of its own.
 *
 * A `delimiter` changed inside `lineReceived` splits the rest of the data at once, as
 * `LineReceiver` does; Twisted's `LineOnlyReceiver` splits each chunk up front, so there the
 * change waits for the next chunk, and the lines depend on how the stream was chunked.
 *
 * @example Answer each line
 * ```ts
 * import { LineOnlyReceiver } from "@poetry/serve/line-only-receiver";
 * import { StringTransport } from "@poetry/serve/testing";
 * import assert from "node:assert/strict";
 *
 * class Echo extends LineOnlyReceiver {
 *   override lineReceived(line: Uint8Array): void {
 *     this.sendLine(line);
 *   }
 * }
 * const transport = new StringTransport();
 * const echo = new Echo();
 * echo.makeConnection(transport);
 * echo.dataReceived(new TextEncoder().encode("ping\r\n"));
 * assert.equal(transport.valueText(), "ping\r\n");
 * ```
 */
export class LineOnlyReceiver extends Protocol {
  /**
   * What ends a line: a `Uint8Array` or a string (its UTF-8 bytes). Assign a new value to
   * change it. Must not be empty.
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

  /**
   * Splits `data` into lines and delivers them; a partial line is kept until the rest
   * arrives. Called by the transport; a call from inside `lineReceived` is delivered after the
   * current data (Twisted's delivers it at once, before the lines left in the current data).
   *
   * @throws {RangeError} if {@linkcode LineOnlyReceiver.delimiter} is empty. Whatever
   * `lineReceived` throws propagates; the whole lines left in that data are then dropped,
   * and a partial line at its end is kept for the data that completes it.
   *
   * @example
   * ```ts
   * import { LineOnlyReceiver } from "@poetry/serve/line-only-receiver";
   * const lines: string[] = [];
   * const p = new (class extends LineOnlyReceiver {
   *   override lineReceived(line: Uint8Array): void {
   *     lines.push(new TextDecoder().decode(line));
   *   }
   * })();
   * p.dataReceived(new TextEncoder().encode("a\r"));
   * p.dataReceived(new TextEncoder().encode("\nb\r\n"));
   * console.log(lines); // [ "a", "b" ]
   * ```
   */
  override dataReceived(data: Uint8Array): void {
    const input = this.#in;
    input.push(data);
    if (this.#busy) {
      input.epoch++;
      return;
    }
    this.#busy = true;
    try {
      this.#deliver();
    } catch (e) {
      // As in Twisted: the other whole lines of the data are lost, but a partial line at its
      // end is kept, so the line it starts is not delivered cut short later.
      input.dropLines();
      throw e;
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Called with each line received, without its delimiter. Override it; the default throws.
   * The line may be kept.
   *
   * @throws {Error} unless overridden.
   *
   * @example
   * ```ts
   * import { LineOnlyReceiver } from "@poetry/serve/line-only-receiver";
   * class Printer extends LineOnlyReceiver {
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
   * Called when a line is longer than {@linkcode LineOnlyReceiver.MAX_LENGTH}, with the
   * buffered bytes from the start of that line on; they are dropped. The default closes the
   * connection with `transport.loseConnection()`. An override that keeps the connection may give
   * back the part to parse again with {@linkcode LineOnlyReceiver.dataReceived}: it is split at
   * once. Given back whole (or more), it would only be over-long again: it is then reported once
   * more only when more data arrives, rather than in an endless loop.
   *
   * @example
   * ```ts
   * import { LineOnlyReceiver } from "@poetry/serve/line-only-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * const transport = new StringTransport();
   * const p = new (class extends LineOnlyReceiver {
   *   override MAX_LENGTH = 4;
   * })();
   * p.makeConnection(transport);
   * p.dataReceived(new TextEncoder().encode("far too long"));
   * console.log(transport.disconnecting); // true
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
   * import { LineOnlyReceiver } from "@poetry/serve/line-only-receiver";
   * import { StringTransport } from "@poetry/serve/testing";
   * const transport = new StringTransport();
   * const p = new LineOnlyReceiver();
   * p.makeConnection(transport);
   * p.sendLine(new Uint8Array([104, 105]));
   * console.log(JSON.stringify(transport.valueText())); // "hi\r\n"
   * ```
   */
  sendLine(line: Data): void {
    writeLine(this.transport, line, this.delimiter, this);
  }

  /** Delivers the lines buffered, keeping a trailing partial line; once closing, drops all. */
  #deliver(): void {
    const input = this.#in;
    input.startPass();
    for (;;) {
      const transport = this.transport;
      if (transport !== undefined && transport.disconnecting) {
        input.clear();
        return;
      }
      if (input.held || !input.more()) return;
      input.lines(this);
    }
  }
}
