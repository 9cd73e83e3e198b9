/**
 * Byte helpers shared by the framing receivers: UTF-8 encoding of outgoing data, joining
 * pieces, a bounded delimiter search and a growable buffer that hands its bytes out without
 * copying them again.
 *
 * @module
 */

import type { Data } from "./protocol.ts";

/** A shared empty array; never written to. */
export const EMPTY: Uint8Array = new Uint8Array(0);

const encoder = new TextEncoder();

/** `data` as bytes: a string is encoded as UTF-8, a `Uint8Array` is returned as it is. */
export function toBytes(data: Data): Uint8Array {
  if (typeof data === "string") return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  throw new TypeError(`expected a Uint8Array or a string, not ${describe(data)}`);
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
