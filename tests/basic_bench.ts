// Parsing speed of the framing receivers against plain Deno code doing the same work over the
// same 64 KiB chunks. Everything is driven synchronously through dataReceived with a transport
// that does nothing, so the figures measure parsing alone.
//
//   lines:          1,000,000 CRLF lines of 40 bytes (38 + CRLF)
//   netstrings:     1,000,000 netstrings of 16 bytes ("16:...,")
//   big netstrings: 200 netstrings of 1,000,000 bytes
//
// Divide the item count by the time per iteration for lines/s or strings/s.

import { LineReceiver } from "../protocols/line_receiver.ts";
import { LineOnlyReceiver } from "../protocols/line_only_receiver.ts";
import { NetstringReceiver } from "../protocols/netstring_receiver.ts";
import { Int32StringReceiver } from "../protocols/int_string_receiver.ts";
import type { Transport } from "../protocols/protocol.ts";

const CHUNK = 64 * 1024;

/** A transport that accepts everything and does nothing. */
function nullTransport(): Transport {
  const noop = () => {};
  return {
    disconnecting: false,
    write: noop,
    writeSequence: noop,
    loseConnection: noop,
    abortConnection: noop,
    loseWriteConnection: noop,
    getPeer: () => ({ type: "TCP", host: "127.0.0.1", port: 1 }),
    getHost: () => ({ type: "TCP", host: "127.0.0.1", port: 2 }),
    setTcpNoDelay: noop,
    setTcpKeepAlive: noop,
    registerProducer: noop,
    unregisterProducer: noop,
    pauseProducing: noop,
    resumeProducing: noop,
    stopProducing: noop,
  };
}

/** `data` cut into 64 KiB views (a transport hands over fresh buffers; views of one are alike). */
function chunksOf(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += CHUNK) out.push(data.subarray(i, i + CHUNK));
  return out;
}

function assertEqual(actual: number, expected: number, what: string): void {
  if (actual !== expected) throw new Error(`${what}: got ${actual}, expected ${expected}`);
}

// Data -----------------------------------------------------------------------------------------

const LINES = 1_000_000;
const lineData = (() => {
  const out = new Uint8Array(LINES * 40);
  for (let i = 0; i < LINES; i++) {
    const at = i * 40;
    for (let j = 0; j < 38; j++) out[at + j] = 97 + ((i + j) % 26);
    out[at + 38] = 13;
    out[at + 39] = 10;
  }
  return out;
})();
const lineChunks = chunksOf(lineData);

const SMALL = 1_000_000;
const smallData = (() => {
  const out = new Uint8Array(SMALL * 20);
  const header = [0x31, 0x36, 0x3a]; // "16:"
  for (let i = 0; i < SMALL; i++) {
    const at = i * 20;
    out.set(header, at);
    for (let j = 0; j < 16; j++) out[at + 3 + j] = 97 + ((i + j) % 26);
    out[at + 19] = 0x2c;
  }
  return out;
})();
const smallChunks = chunksOf(smallData);

const BIG = 200;
const BIG_SIZE = 1_000_000;
const bigData = (() => {
  const one = new Uint8Array(8 + BIG_SIZE + 1);
  one.set(new TextEncoder().encode("1000000:"));
  for (let j = 0; j < BIG_SIZE; j++) one[8 + j] = j % 251;
  one[one.length - 1] = 0x2c;
  const out = new Uint8Array(one.length * BIG);
  for (let i = 0; i < BIG; i++) out.set(one, i * one.length);
  return out;
})();
const bigChunks = chunksOf(bigData);

const int32Data = (() => {
  const out = new Uint8Array(SMALL * 20);
  for (let i = 0; i < SMALL; i++) {
    const at = i * 20;
    out[at + 3] = 16;
    for (let j = 0; j < 16; j++) out[at + 4 + j] = 97 + ((i + j) % 26);
  }
  return out;
})();
const int32Chunks = chunksOf(int32Data);

// Raw baselines --------------------------------------------------------------------------------

/** `chunk` with the bytes carried over from the chunk before in front of it, joined once. */
function afterCarry(carry: Uint8Array | null, chunk: Uint8Array): Uint8Array {
  if (carry === null) return chunk;
  const joined = new Uint8Array(carry.length + chunk.length);
  joined.set(carry);
  joined.set(chunk, carry.length);
  return joined;
}

/** A plain CRLF splitter: indexOf over each chunk, views for whole lines, a tail carried over. */
function rawLines(chunks: Uint8Array[], onLine: (line: Uint8Array) => void): void {
  let tail: Uint8Array | null = null;
  for (let chunk of chunks) {
    chunk = afterCarry(tail, chunk);
    tail = null;
    let pos = 0;
    for (;;) {
      let i = chunk.indexOf(13, pos);
      while (i !== -1 && chunk[i + 1] !== 10) {
        i = i + 1 < chunk.length ? chunk.indexOf(13, i + 1) : -1;
      }
      if (i === -1) break;
      onLine(chunk.subarray(pos, i));
      pos = i + 2;
    }
    if (pos < chunk.length) tail = chunk.slice(pos);
  }
}

/** A plain netstring decoder: digits, ':', payload, ','; views when whole, else preallocated. */
function rawNetstrings(chunks: Uint8Array[], onString: (s: Uint8Array) => void): void {
  let length = 0;
  let inLength = true;
  let payload: Uint8Array | null = null;
  let have = 0;
  for (const chunk of chunks) {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (inLength) {
        const c = chunk[pos++];
        if (c !== 0x3a) {
          length = length * 10 + c - 0x30;
          continue;
        }
        inLength = false;
        if (end - pos > length) {
          onString(chunk.subarray(pos, pos + length));
          pos += length + 1;
          length = 0;
          inLength = true;
          continue;
        }
        payload = new Uint8Array(length);
        have = 0;
      }
      const n = Math.min(length + 1 - have, end - pos);
      const copy = Math.min(n, length - have);
      if (copy > 0) payload!.set(chunk.subarray(pos, pos + copy), have);
      have += n;
      pos += n;
      if (have === length + 1) {
        onString(payload!);
        payload = null;
        length = 0;
        inLength = true;
      }
    }
  }
}

/** A plain int32-prefixed decoder over the same chunks. */
function rawInt32(chunks: Uint8Array[], onString: (s: Uint8Array) => void): void {
  let rest: Uint8Array | null = null;
  for (let chunk of chunks) {
    chunk = afterCarry(rest, chunk);
    rest = null;
    let pos = 0;
    while (chunk.length - pos >= 4) {
      const length = chunk[pos] * 0x1000000 +
        (chunk[pos + 1] << 16 | chunk[pos + 2] << 8 | chunk[pos + 3]);
      if (chunk.length - pos - 4 < length) break;
      onString(chunk.subarray(pos + 4, pos + 4 + length));
      pos += 4 + length;
    }
    if (pos < chunk.length) rest = chunk.slice(pos);
  }
}

// Receivers ------------------------------------------------------------------------------------

let count = 0;
let bytes = 0;
const sink = (s: Uint8Array): void => {
  count++;
  bytes += s.length;
};

class CountingLines extends LineReceiver {
  override lineReceived(line: Uint8Array): void {
    count++;
    bytes += line.length;
  }
}

class CountingLineOnly extends LineOnlyReceiver {
  override lineReceived(line: Uint8Array): void {
    count++;
    bytes += line.length;
  }
}

class CountingNetstrings extends NetstringReceiver {
  override MAX_LENGTH = 2_000_000;
  override stringReceived(s: Uint8Array): void {
    count++;
    bytes += s.length;
  }
}

class CountingInt32 extends Int32StringReceiver {
  override stringReceived(s: Uint8Array): void {
    count++;
    bytes += s.length;
  }
}

function run(
  make: (() => { dataReceived(d: Uint8Array): void; makeConnection(t: Transport): void }) | null,
  raw: ((chunks: Uint8Array[], on: (s: Uint8Array) => void) => void) | null,
  chunks: Uint8Array[],
  expected: number,
  expectedBytes: number,
): void {
  count = 0;
  bytes = 0;
  if (make !== null) {
    const p = make();
    p.makeConnection(nullTransport());
    for (let i = 0; i < chunks.length; i++) p.dataReceived(chunks[i]);
  } else {
    raw!(chunks, sink);
  }
  assertEqual(count, expected, "items");
  assertEqual(bytes, expectedBytes, "bytes");
}

/**
 * Each big-netstring iteration leaves 200 MB of payloads behind, and V8 collects them whenever
 * it likes, so without this whichever bench happens to run into a collection looks several
 * times slower. The bench task passes `--v8-flags=--expose-gc`; without it this does nothing.
 */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

const opts = { n: 25, warmup: 5 };
const bigOpts = { n: 12, warmup: 3 };

Deno.bench({
  name: "raw indexOf line splitter",
  group: "1M lines of 40 bytes",
  baseline: true,
  ...opts,
  fn: () => run(null, rawLines, lineChunks, LINES, LINES * 38),
});
Deno.bench({
  name: "LineReceiver",
  group: "1M lines of 40 bytes",
  ...opts,
  fn: () => run(() => new CountingLines(), null, lineChunks, LINES, LINES * 38),
});
Deno.bench({
  name: "LineOnlyReceiver",
  group: "1M lines of 40 bytes",
  ...opts,
  fn: () => run(() => new CountingLineOnly(), null, lineChunks, LINES, LINES * 38),
});

Deno.bench({
  name: "raw netstring decoder",
  group: "1M netstrings of 16 bytes",
  baseline: true,
  ...opts,
  fn: () => run(null, rawNetstrings, smallChunks, SMALL, SMALL * 16),
});
Deno.bench({
  name: "NetstringReceiver",
  group: "1M netstrings of 16 bytes",
  ...opts,
  fn: () => run(() => new CountingNetstrings(), null, smallChunks, SMALL, SMALL * 16),
});

Deno.bench({
  name: "raw netstring decoder (preallocating)",
  group: "200 netstrings of 1 MB",
  baseline: true,
  ...bigOpts,
  fn: (b) => {
    collectGarbage();
    b.start();
    run(null, rawNetstrings, bigChunks, BIG, BIG * BIG_SIZE);
    b.end();
  },
});
Deno.bench({
  name: "NetstringReceiver",
  group: "200 netstrings of 1 MB",
  ...bigOpts,
  fn: (b) => {
    collectGarbage();
    b.start();
    run(() => new CountingNetstrings(), null, bigChunks, BIG, BIG * BIG_SIZE);
    b.end();
  },
});

Deno.bench({
  name: "raw int32 decoder",
  group: "1M int32 strings of 16 bytes",
  baseline: true,
  ...opts,
  fn: () => run(null, rawInt32, int32Chunks, SMALL, SMALL * 16),
});
Deno.bench({
  name: "Int32StringReceiver",
  group: "1M int32 strings of 16 bytes",
  ...opts,
  fn: () => run(() => new CountingInt32(), null, int32Chunks, SMALL, SMALL * 16),
});
