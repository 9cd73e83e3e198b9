/**
 * What the framing receivers share beyond byte helpers: the line splitter behind
 * `LineReceiver` and `LineOnlyReceiver`, how a line or a frame is written to the transport, and
 * the error a callback raises when it must be overridden.
 *
 * @module
 */

import type { Data, Transport } from "./protocol.ts";
import {
  Accumulator,
  ChunkQueue,
  concatBytes,
  EMPTY,
  findDelimiter,
  straddlingDelimiter,
  toBytes,
} from "./_bytes.ts";
import { watchCallbackResult } from "./_async_callbacks.ts";

const LINE_RECEIVED = "Unhandled error in lineReceived";

/** The receiver a {@linkcode LineSplitter} reads its settings from and delivers to. */
export interface LineTarget {
  /** What ends a line; must not be empty. */
  readonly delimiter: Uint8Array | string;
  /** The longest line accepted, without its delimiter. */
  readonly MAX_LENGTH: number;
  /** Once it is disconnecting, the splitter stops delivering. */
  readonly transport: Transport | undefined;
  /** Called with each line. */
  lineReceived(line: Uint8Array): void;
  /** Called with everything buffered from the start of a line that is too long. */
  lineLengthExceeded(line: Uint8Array): void;
}

/**
 * The received data of a line receiver and the splitting of it into lines. Lines wholly inside
 * a chunk are delivered as views; a line that spans chunks is gathered once in
 * {@linkcode LineSplitter.partial}. Only bytes not searched before are searched, and no more
 * than `MAX_LENGTH` plus a delimiter of one line is ever held.
 */
export class LineSplitter extends ChunkQueue {
  /** The start of a line that is not complete yet (it holds no whole delimiter). */
  partial: Accumulator = new Accumulator();
  /** The delimiter `partial` was searched for. */
  partialDelim: Uint8Array = EMPTY;
  /**
   * Bumped by every change a callback can make to what is delivered next (a mode switch, a
   * pause, data given to `dataReceived`...): {@linkcode LineSplitter.lines} then stops.
   */
  epoch = 0;
  /**
   * Set when an over-long line is held back rather than reported (see
   * {@linkcode LineSplitter.startPass}): the receiver stops delivering until more data arrives.
   */
  held = false;
  /** How many bytes the last over-long line of this pass held; -1 before the first. */
  #reported = -1;
  #delimSource: Uint8Array | string | undefined = undefined;
  #delim: Uint8Array = EMPTY;

  /**
   * Delivers lines from the current chunk, which must have bytes left; returns when the chunk
   * is used up or something a callback did calls for a fresh look at the state. A line found
   * too long goes, with everything buffered, to `target.lineLengthExceeded`.
   *
   * @throws {RangeError} if `target.delimiter` is empty.
   */
  lines(target: LineTarget): void {
    const delimSource = target.delimiter;
    const delim = this.#delimiterBytes(target);
    const dlen = delim.length;
    const max = target.MAX_LENGTH;
    const buf = this.buf;
    const end = buf.length;
    let pos = this.pos;
    const partial = this.partial;

    if (partial.length > 0) {
      if (this.partialDelim !== delim) {
        this.#refeedPartial();
        return;
      }
      const held = partial.length;
      let line: Uint8Array;
      const k = straddlingDelimiter(partial.bytes, held, buf, pos, delim, max);
      if (k > 0) {
        line = partial.take(held - k);
        pos += dlen - k;
      } else {
        const i = findDelimiter(buf, delim, pos, pos + max - held);
        if (i < 0) {
          if (held + (end - pos) >= max + dlen) {
            this.#exceeded(target);
          } else {
            partial.append(buf, pos, end);
            this.pos = end;
          }
          return;
        }
        partial.append(buf, pos, i);
        line = partial.take();
        pos = i + dlen;
      }
      this.pos = pos;
      watchCallbackResult(target.transport, target.lineReceived(line), LINE_RECEIVED);
      return;
    }

    const epoch = this.epoch;
    for (;;) {
      const i = findDelimiter(buf, delim, pos, pos + max);
      if (i < 0) {
        if (end - pos >= max + dlen) {
          this.#exceeded(target);
        } else {
          if (pos < end) {
            partial.append(buf, pos, end);
            this.partialDelim = delim;
          }
          this.pos = end;
        }
        return;
      }
      const next = i + dlen;
      this.pos = next;
      watchCallbackResult(
        target.transport,
        target.lineReceived(buf.subarray(pos, i)),
        LINE_RECEIVED,
      );
      if (this.epoch !== epoch || target.delimiter !== delimSource || target.MAX_LENGTH !== max) {
        return;
      }
      const transport = target.transport;
      if (transport !== undefined && transport.disconnecting) return;
      pos = next;
    }
  }

  /**
   * Begins a delivery pass: called by the receiver when data arrives from outside, or it
   * resumes, but not for data a callback gives it.
   */
  startPass(): void {
    this.held = false;
    this.#reported = -1;
  }

  /**
   * Hands everything buffered to `target.lineLengthExceeded` — unless, in this pass, it has
   * already had at least as many bytes. Then the callback gave back what it was given (or
   * more), and reporting it again would loop for ever: the bytes are held for the next pass,
   * when more data has arrived.
   */
  #exceeded(target: LineTarget): void {
    let size = this.partial.length + this.buf.length - this.pos;
    for (const chunk of this.queue) size += chunk.length;
    if (this.#reported >= 0 && size >= this.#reported) {
      this.held = true;
      return;
    }
    this.#reported = size;
    watchCallbackResult(
      target.transport,
      target.lineLengthExceeded(this.takeAll()),
      "Unhandled error in lineLengthExceeded",
    );
  }

  /** Removes and returns everything buffered (a partial line first), as one array. */
  takeAll(): Uint8Array {
    let out: Uint8Array;
    const buf = this.buf;
    const pos = this.pos;
    if (this.partial.length === 0 && this.queue.length === 0) {
      out = pos === 0 ? buf : buf.subarray(pos);
    } else {
      const pieces: Uint8Array[] = [];
      if (this.partial.length > 0) pieces.push(this.partial.take());
      if (pos < buf.length) pieces.push(buf.subarray(pos));
      for (const chunk of this.queue) pieces.push(chunk);
      this.queue = [];
      out = concatBytes(pieces);
    }
    this.buf = EMPTY;
    this.pos = 0;
    this.epoch++;
    return out;
  }

  /**
   * Drops the whole lines left in the current chunk and keeps what follows the last delimiter
   * in it, to be completed by later data: what is left of a chunk whose `lineReceived` threw.
   */
  dropLines(): void {
    const delim = this.#delim;
    const dlen = delim.length;
    const buf = this.buf;
    let pos = this.pos;
    if (dlen > 0) {
      for (let i = findDelimiter(buf, delim, pos, buf.length); i >= 0;) {
        pos = i + dlen;
        i = findDelimiter(buf, delim, pos, buf.length);
      }
    }
    this.pos = pos;
  }

  /** Forgets everything buffered, a partial line included. */
  override clear(): void {
    super.clear();
    this.partial.take();
    this.epoch++;
  }

  /**
   * Joins a partial line kept for an older delimiter with the rest of the current chunk, to be
   * split again as one piece of data (so that {@linkcode LineSplitter.dropLines} sees it all).
   * Delimiter changes are rare enough for the copy not to matter.
   */
  #refeedPartial(): void {
    this.buf = concatBytes([this.partial.take(), this.buf.subarray(this.pos)]);
    this.pos = 0;
    this.epoch++;
  }

  /** `target.delimiter` as bytes (cached while the property is unchanged). */
  #delimiterBytes(target: LineTarget): Uint8Array {
    const source = target.delimiter;
    if (source !== this.#delimSource) {
      const bytes = toBytes(source, target, "delimiter");
      if (bytes.length === 0) {
        throw new RangeError(`${target.constructor.name}.delimiter must not be empty`);
      }
      this.#delimSource = source;
      this.#delim = bytes;
    }
    return this.#delim;
  }
}

/**
 * Writes `line` then `delimiter` to `transport`, in one write: as one string when both are
 * strings, else as bytes (a string as UTF-8). `sender`, the receiver, is named in the error
 * that a line of the wrong type gets.
 */
export function writeLine(
  transport: Transport,
  line: Data,
  delimiter: Uint8Array | string,
  sender: object,
): void {
  if (typeof line === "string" && typeof delimiter === "string") {
    transport.write(line + delimiter);
  } else {
    transport.write(
      concatBytes([toBytes(line, sender, "sendLine"), toBytes(delimiter, sender, "delimiter")]),
    );
  }
}

/**
 * Writes one frame — `header`, `payload`, then `trailer` — to `transport`: copied into a single
 * write when the payload is small, handed over as a sequence (the payload uncopied) from 64 KiB
 * on.
 */
export function writeFrame(
  transport: Transport,
  header: Uint8Array,
  payload: Uint8Array,
  trailer: Uint8Array = EMPTY,
): void {
  if (payload.length >= 65536) {
    transport.writeSequence(
      trailer.length === 0 ? [header, payload] : [header, payload, trailer],
    );
    return;
  }
  const out = new Uint8Array(header.length + payload.length + trailer.length);
  out.set(header);
  out.set(payload, header.length);
  out.set(trailer, header.length + payload.length);
  transport.write(out);
}

/**
 * The end of a receiver's `resumeProducing`, once it has delivered what it held: resumes
 * `transport` unless a callback paused the receiver again or the connection is closing.
 */
export function resumeTransport(transport: Transport | undefined, paused: boolean): void {
  if (!paused && transport !== undefined && !transport.disconnecting) {
    transport.resumeProducing();
  }
}

/** The error thrown by a callback of `receiver` that a subclass must override. */
export function notImplemented(receiver: object, method: string): Error {
  return new Error(`${receiver.constructor.name}.${method} is not implemented: override it`);
}
