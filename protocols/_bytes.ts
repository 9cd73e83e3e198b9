/**
 * Byte helpers shared by the framing receivers: UTF-8 encoding of outgoing data, joining
 * pieces, a bounded delimiter search, a growable buffer that hands its bytes out without
 * copying them again, the queue of received chunks a receiver parses from, and what has arrived
 * of a payload of known length that spans chunks.
 *
 * @module
 */

import type { Data } from "./protocol.ts";

/** A shared empty array; never written to. */
export const EMPTY: Uint8Array = new Uint8Array(0);

const encoder = new TextEncoder();

/**
 * `data` as bytes: a string is encoded as UTF-8, a `Uint8Array` is returned as it is.
 * Anything else throws TypeError naming `owner`'s class and `member`, the API it was given to
 * (the name is built only then: this is on every send's path).
 */
export function toBytes(data: Data, owner?: object, member?: string): Uint8Array {
  if (typeof data === "string") return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  const what = owner === undefined ? "this call" : `${owner.constructor.name}.${member}`;
  throw new TypeError(`${what} takes a Uint8Array or a string, not ${describe(data)}`);
}

/**
 * Throws unless `data` is a `Uint8Array` or a string, so that a write of anything else fails
 * in the call that made it (as Twisted's `write` refuses what is not bytes), not later in the
 * socket write, which would drop the connection with everything queued after it.
 */
export function checkData(data: unknown, what: string): asserts data is Data {
  if (typeof data !== "string" && !(data instanceof Uint8Array)) {
    throw new TypeError(`${what} takes a Uint8Array or a string, not ${describe(data)}`);
  }
}

/**
 * `data` as bytes of its own, to keep past the call: a string encoded as UTF-8, a `Uint8Array`
 * copied. `what` names the method for the error a wrong type gets.
 */
export function ownBytes(data: Data, what: string): Uint8Array {
  checkData(data, what);
  return copyOf(data);
}

function copyOf(data: Data): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data.slice();
}

/**
 * Each piece of `data` as {@linkcode ownBytes} gives it, all converted before any is used, so
 * that a bad piece writes nothing. Anything not iterable is refused, as `for...of` would.
 */
export function ownSequence(data: Iterable<Data>, what: string): Uint8Array[] {
  return checkedSequence(data, what).map(copyOf);
}

/**
 * The pieces of `data` in an array, each checked with {@linkcode checkData} before any is
 * used, so that a bad piece writes nothing. Anything not iterable is refused, as `for...of`
 * would.
 */
export function checkedSequence(data: Iterable<Data>, what: string): Data[] {
  if (
    data === null ||
    typeof (data as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] !== "function"
  ) {
    throw new TypeError(
      `${what} takes an iterable of Uint8Arrays or strings, not ${describe(data)}`,
    );
  }
  const pieces = [...data];
  for (const piece of pieces) checkData(piece, what);
  return pieces;
}

/** What `value` is, for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return (value as object).constructor?.name ?? "an object";
  return typeof value;
}

/** The pieces joined into one new array (or the only non-empty piece itself, uncopied). */
export function concatBytes(pieces: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  let only: Uint8Array = EMPTY;
  let nonEmpty = 0;
  for (const piece of pieces) {
    if (piece.length === 0) continue;
    total += piece.length;
    only = piece;
    nonEmpty++;
  }
  if (nonEmpty <= 1) return only;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}

/**
 * The first index `i` with `from <= i <= lastStart` at which the whole of `delim` occurs in
 * `buf`, or -1. Only the bytes from `from` to `lastStart + delim.length` can matter, so a
 * caller that bounds `lastStart` bounds the work done. `delim` must not be empty.
 */
export function findDelimiter(
  buf: Uint8Array,
  delim: Uint8Array,
  from: number,
  lastStart: number,
): number {
  const dlen = delim.length;
  const limit = Math.min(lastStart, buf.length - dlen);
  if (from > limit) return -1;
  const d0 = delim[0];
  let i = buf.indexOf(d0, from);
  if (dlen === 1) return i !== -1 && i <= limit ? i : -1;
  if (dlen === 2) {
    const d1 = delim[1];
    while (i !== -1 && i <= limit) {
      if (buf[i + 1] === d1) return i;
      i = buf.indexOf(d0, i + 1);
    }
    return -1;
  }
  while (i !== -1 && i <= limit) {
    let k = 1;
    while (k < dlen && buf[i + k] === delim[k]) k++;
    if (k === dlen) return i;
    i = buf.indexOf(d0, i + 1);
  }
  return -1;
}

/**
 * Where a delimiter starts that begins in the last bytes of `head` (its first `headLength`
 * bytes are used) and ends in `next` from `nextPos`: the number `k` of delimiter bytes that lie
 * in `head`, largest (earliest) first, or 0 if there is none. A delimiter that would start
 * after `lastStart` (an index in `head`) is not considered.
 */
export function straddlingDelimiter(
  head: Uint8Array,
  headLength: number,
  next: Uint8Array,
  nextPos: number,
  delim: Uint8Array,
  lastStart: number,
): number {
  const dlen = delim.length;
  const available = next.length - nextPos;
  for (let k = Math.min(dlen - 1, headLength); k >= 1; k--) {
    const start = headLength - k;
    if (start > lastStart) return 0;
    if (dlen - k > available) continue;
    let ok = true;
    for (let j = 0; j < k && ok; j++) ok = head[start + j] === delim[j];
    for (let j = k; j < dlen && ok; j++) ok = next[nextPos + j - k] === delim[j];
    if (ok) return k;
  }
  return 0;
}

/**
 * A buffer the receivers own and append to; {@linkcode Accumulator.take} hands its bytes out as
 * a view and starts afresh, so bytes are copied in once and never copied out.
 */
export class Accumulator {
  /** The storage; only the first {@linkcode Accumulator.length} bytes are meaningful. */
  bytes: Uint8Array = EMPTY;
  /** How many bytes are held. */
  length = 0;

  /** Appends `src[from..to)`. */
  append(src: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (n <= 0) return;
    const needed = this.length + n;
    if (needed > this.bytes.length) {
      const grown = new Uint8Array(Math.max(needed, this.bytes.length * 2, 64));
      if (this.length > 0) grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    if (n < 16) {
      const bytes = this.bytes;
      let at = this.length;
      for (let i = from; i < to; i++) bytes[at++] = src[i];
    } else {
      this.bytes.set(src.subarray(from, to), this.length);
    }
    this.length = needed;
  }

  /** The first `n` bytes held, as a view the caller may keep; the buffer is then empty. */
  take(n: number = this.length): Uint8Array {
    const out = this.bytes.subarray(0, n);
    this.bytes = EMPTY;
    this.length = 0;
    return out;
  }
}

/**
 * What a receiver was given and has not parsed yet: the chunk being parsed, how far into it
 * parsing has got, and the chunks that arrived meanwhile (from a callback, or while paused).
 * Parsers read {@linkcode ChunkQueue.buf} and {@linkcode ChunkQueue.pos} into locals and
 * store `pos` back before each callback, so a callback finds the queue consistent.
 */
export class ChunkQueue {
  /** The chunk being parsed. */
  buf: Uint8Array = EMPTY;
  /** How far into {@linkcode ChunkQueue.buf} parsing has got. */
  pos = 0;
  /** Chunks waiting behind `buf`, oldest first. */
  queue: Uint8Array[] = [];

  /** Takes `data` in: as the chunk to parse when nothing is waiting, else behind what is. */
  push(data: Uint8Array): void {
    if (data.length === 0) return;
    if (this.pos >= this.buf.length && this.queue.length === 0) {
      this.buf = data;
      this.pos = 0;
    } else {
      this.queue.push(data);
    }
  }

  /**
   * `true` if there are bytes to parse at `pos`, moving on to the next waiting chunk when `buf`
   * is used up; `false` when everything has been parsed.
   */
  more(): boolean {
    if (this.pos < this.buf.length) return true;
    const next = this.queue.shift();
    if (next === undefined) return false;
    this.buf = next;
    this.pos = 0;
    return true;
  }

  /** Forgets everything not parsed yet. */
  clear(): void {
    this.buf = EMPTY;
    this.pos = 0;
    this.queue = [];
  }
}

/**
 * Pieces shorter than this are copied together rather than kept one by one: each array costs a
 * couple of hundred bytes of its own, which a peer sending a byte at a time must not multiply.
 */
const SMALL_PIECE = 1024;

/**
 * Whether keeping `n` bytes of `buf` as a view would keep alive a buffer more than twice their
 * size: a region of a transport's read slab does, and a peer sending its payload a piece at a
 * time must not make a connection hold a slab per piece.
 */
function pinsMore(n: number, buf: Uint8Array): boolean {
  return n * 2 < buf.buffer.byteLength;
}

/**
 * Bytes that arrive in pieces and are wanted whole at the end, kept with no more memory than
 * they need: pieces of 1 KiB or more as the views they came in when they use most of their
 * buffer (a receiver's chunks are its own), others copied into an {@linkcode Accumulator}:
 * small pieces, whose arrays would each cost more than their bytes, and regions of a larger
 * buffer, such as a transport's read slab, that they would otherwise keep alive.
 * {@linkcode Pieces.take} copies the pieces into one array, or hands out a lone piece as it
 * is; only bytes that trickled in are copied more than once.
 */
export class Pieces {
  /** The pieces before those in `#small`, oldest first. */
  #pieces: Uint8Array[] = [];
  /** The small pieces that arrived since the last large one, copied together. */
  #small = new Accumulator();
  /** How many bytes are held. */
  length = 0;

  /** Keeps `buf[from..to)`. */
  add(buf: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (n <= 0) return;
    if (n < SMALL_PIECE || pinsMore(n, buf)) {
      this.#small.append(buf, from, to);
    } else {
      if (this.#small.length > 0) this.#pieces.push(this.#small.take());
      this.#pieces.push(from === 0 && to === buf.length ? buf : buf.subarray(from, to));
    }
    this.length += n;
  }

  /**
   * How many bytes the pieces keep alive: the buffers of those kept as views, and the whole
   * buffer the others were copied into.
   */
  get held(): number {
    let held = this.#small.bytes.length;
    for (const piece of this.#pieces) held += piece.buffer.byteLength;
    return held;
  }

  /** Everything held, whole: the only piece as it is, else the pieces joined; then empty. */
  take(): Uint8Array {
    if (this.#small.length > 0) this.#pieces.push(this.#small.take());
    const whole = concatBytes(this.#pieces);
    this.#pieces = [];
    this.length = 0;
    return whole;
  }

  /** Forgets everything held. */
  clear(): void {
    this.#pieces = [];
    this.#small.take();
    this.length = 0;
  }
}

/**
 * The payload of a frame whose length is known and which runs past the chunk it starts in. It
 * keeps only what has arrived, as the length is the peer's word, not bytes it sent, in
 * {@linkcode Pieces}.
 */
export class Payload {
  #pieces = new Pieces();
  /** How many bytes the payload still lacks. */
  #missing = 0;

  /** Starts a payload of `length` bytes with the rest of `buf` from `pos`, all of it payload. */
  start(length: number, buf: Uint8Array, pos: number): void {
    this.#missing = length;
    this.fill(buf, pos);
  }

  /** Takes what the payload still lacks from `buf` at `pos` on; returns where the rest starts. */
  fill(buf: Uint8Array, pos: number): number {
    const n = Math.min(this.#missing, buf.length - pos);
    this.#pieces.add(buf, pos, pos + n);
    this.#missing -= n;
    return pos + n;
  }

  /** `true` once every byte of the payload has arrived. */
  get full(): boolean {
    return this.#missing === 0;
  }

  /** How many bytes the payload keeps alive (see {@linkcode Pieces.held}). */
  get held(): number {
    return this.#pieces.held;
  }

  /** The payload, whole: the only piece as it is, else the pieces joined; it is then empty. */
  take(): Uint8Array {
    return this.#pieces.take();
  }

  /** Forgets the payload. */
  clear(): void {
    this.#pieces.clear();
    this.#missing = 0;
  }
}
