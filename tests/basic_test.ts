// Tests for the framing receivers: LineReceiver, LineOnlyReceiver, NetstringReceiver and the
// IntNStringReceiver family. Every stream is fed whole, byte by byte and in seeded random
// splits, and the callbacks must come out the same. Behaviour the receivers share is tested by
// tables that run the same steps on each of them.

import assert from "node:assert/strict";
import { StringTransport } from "../testing.ts";
import { LineReceiver } from "../protocols/line_receiver.ts";
import { LineOnlyReceiver } from "../protocols/line_only_receiver.ts";
import { NetstringParseError, NetstringReceiver } from "../protocols/netstring_receiver.ts";
import {
  Int16StringReceiver,
  Int32StringReceiver,
  Int8StringReceiver,
  IntNStringReceiver,
  StringTooLongError,
} from "../protocols/int_string_receiver.ts";
import type { Protocol } from "../protocols/protocol.ts";
import { Payload } from "../protocols/_bytes.ts";
import { concat as concatChunks } from "./fixtures/loopback.ts";

// ---------------------------------------------------------------------------------------------
// Helpers

/** Bytes of a string, one byte per char code (test data is ASCII or deliberately binary). */
function b(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** The inverse of `b`. */
function s(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i]);
  return out;
}

const concat = (...parts: Uint8Array[]): Uint8Array => concatChunks(parts);

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cuts `input` into pieces at random points (pieces of 1 to `maxPiece` bytes). */
function randomSplit(input: Uint8Array, rand: () => number, maxPiece: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < input.length) {
    const n = 1 + Math.floor(rand() * maxPiece);
    out.push(input.slice(at, at + n));
    at += n;
  }
  return out;
}

/**
 * The ways each stream is fed: whole, byte by byte, in fixed packets of 2..9 bytes (as Twisted's
 * tests do) and in seeded random splits. Each piece is a fresh copy, as a transport gives.
 */
function chunkings(input: Uint8Array, seed = 1): [string, Uint8Array[]][] {
  const out: [string, Uint8Array[]][] = [["whole", [input.slice()]]];
  out.push(["byte by byte", Array.from(input, (x) => new Uint8Array([x]))]);
  for (let size = 2; size < 10; size++) {
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < input.length; i += size) pieces.push(input.slice(i, i + size));
    out.push([`packets of ${size}`, pieces]);
  }
  const rand = prng(seed);
  for (let i = 0; i < 6; i++) {
    out.push([`random split ${i}`, randomSplit(input, rand, 1 + Math.floor(rand() * 40))]);
  }
  return out;
}

/** Connects `p` to a fresh StringTransport and returns the transport. */
function connect(p: Protocol): StringTransport {
  const t = new StringTransport();
  p.makeConnection(t);
  return t;
}

/** For each way of chunking `input`, a fresh protocol fed with it; `check` sees each. */
function forEachChunking<P extends Protocol>(
  input: Uint8Array,
  make: () => P,
  check: (p: P, t: StringTransport, how: string) => void,
): void {
  for (const [how, pieces] of chunkings(input)) {
    const p = make();
    const t = connect(p);
    for (const piece of pieces) p.dataReceived(piece);
    check(p, t, how);
  }
}

// ---------------------------------------------------------------------------------------------
// LineReceiver

/** Records lines as `line:<text>` and raw data as `raw:<data>`; `react` then sees each line. */
class LineRecorder extends LineReceiver {
  events: string[] = [];
  react: (line: string) => void = () => {};
  override lineReceived(line: Uint8Array): void {
    this.events.push(`line:${s(line)}`);
    this.react(s(line));
  }
  override rawDataReceived(data: Uint8Array): void {
    this.events.push(`raw:${s(data)}`);
  }
}

/**
 * A retelling of Twisted's LineTester: "len N" announces N bytes of raw data after the next
 * (empty) line; "pause", "rawpause", "stop", "produce" and "unproduce" drive the producer
 * methods; lineLengthExceeded re-parses what follows the first MAX_LENGTH + 1 bytes.
 */
class LineTester extends LineReceiver {
  override delimiter = "\n";
  override MAX_LENGTH = 64;
  received: string[] = [];
  length = 0;
  resumes: (() => void)[] = [];

  override lineReceived(line: Uint8Array): void {
    const text = s(line);
    this.received.push(text);
    if (text === "") {
      this.setRawMode();
    } else if (text === "pause") {
      this.pauseProducing();
      this.resumes.push(() => this.resumeProducing());
    } else if (text === "rawpause") {
      this.pauseProducing();
      this.setRawMode();
      this.received.push("");
      this.resumes.push(() => this.resumeProducing());
    } else if (text === "stop") {
      this.stopProducing();
    } else if (text.startsWith("len ")) {
      this.length = Number(text.slice(4));
    } else if (text.startsWith("produce")) {
      this.transport.registerProducer(this, false);
    } else if (text.startsWith("unproduce")) {
      this.transport.unregisterProducer();
    }
  }

  override rawDataReceived(data: Uint8Array): void {
    const mine = data.subarray(0, this.length);
    const rest = data.subarray(this.length);
    this.length -= mine.length;
    this.received[this.received.length - 1] += s(mine);
    if (this.length === 0) this.setLineMode(rest);
  }

  override lineLengthExceeded(line: Uint8Array): void {
    if (line.length > this.MAX_LENGTH + 1) this.setLineMode(line.subarray(this.MAX_LENGTH + 1));
  }

  /** Runs the pending resumeProducing calls, as a clock would. */
  advance(): void {
    const resumes = this.resumes;
    this.resumes = [];
    for (const resume of resumes) resume();
  }
}

const testerInput = "len 10\n\n0123456789len 5\n\n1234\nlen 20\nfoo 123\n\n0123456789\n012345678" +
  "len 0\nfoo 5\n\n1234567890123456789012345678901234567890123456789012345678901234567890\n" +
  "len 1\n\na";
const testerOutput = [
  "len 10",
  "0123456789",
  "len 5",
  "1234\n",
  "len 20",
  "foo 123",
  "0123456789\n012345678",
  "len 0",
  "foo 5",
  "",
  "67890",
  "len 1",
  "a",
];

Deno.test("LineReceiver delivers lines, raw data and over-long lines the same for every chunking", () => {
  forEachChunking(b(testerInput), () => new LineTester(), (p, _t, how) => {
    assert.deepEqual(p.received, testerOutput, how);
  });
});

Deno.test("LineReceiver delivers the rest of a chunk raw after setRawMode", () => {
  class Header extends LineRecorder {
    override lineReceived(line: Uint8Array): void {
      super.lineReceived(line);
      this.setRawMode();
    }
  }
  const p = new Header();
  connect(p);
  p.dataReceived(b("HEAD\r\nline\r\nbody"));
  assert.deepEqual(p.events, ["line:HEAD", "raw:line\r\nbody"]);
  assert.equal(p.lineMode, false);
  p.dataReceived(b("more\r\n"));
  assert.deepEqual(p.events, ["line:HEAD", "raw:line\r\nbody", "raw:more\r\n"]);
});

Deno.test("LineReceiver splits the bytes given to setLineMode before later data", () => {
  class Body extends LineRecorder {
    want = 0;
    override lineReceived(line: Uint8Array): void {
      super.lineReceived(line);
      if (s(line).startsWith("BODY ")) {
        this.want = Number(s(line).slice(5));
        this.setRawMode();
      }
    }
    override rawDataReceived(data: Uint8Array): void {
      const mine = data.subarray(0, this.want);
      super.rawDataReceived(mine);
      this.want -= mine.length;
      if (this.want === 0) this.setLineMode(data.subarray(mine.length));
    }
  }
  const input = b("a\r\nBODY 5\r\n12345b\r\nBODY 3\r\nxyzc\r\nd\r\n");
  const want = [
    "line:a",
    "line:BODY 5",
    "raw:12345",
    "line:b",
    "line:BODY 3",
    "raw:xyz",
    "line:c",
    "line:d",
  ];
  forEachChunking(input, () => new Body(), (p, _t, how) => {
    // Raw data may come in pieces; join consecutive raw events before comparing.
    const joined: string[] = [];
    for (const e of p.events) {
      const last = joined.length - 1;
      if (e.startsWith("raw:") && last >= 0 && joined[last].startsWith("raw:")) {
        joined[last] += e.slice(4);
      } else {
        joined.push(e);
      }
    }
    assert.deepEqual(joined, want, how);
  });
});

Deno.test("LineReceiver delivers a partial line raw after setRawMode from outside", () => {
  const p = new LineRecorder();
  connect(p);
  p.dataReceived(b("done\r\npart"));
  p.setRawMode();
  p.dataReceived(b("ial"));
  assert.deepEqual(p.events, ["line:done", "raw:partial"]);
});

Deno.test("LineReceiver.setLineMode from outside splits the given bytes at once", () => {
  const p = new LineRecorder();
  connect(p);
  p.setRawMode();
  p.setLineMode("x\r\ny");
  assert.deepEqual(p.events, ["line:x"]);
  p.dataReceived(b("z\r\n"));
  assert.deepEqual(p.events, ["line:x", "line:yz"]);
});

Deno.test("LineReceiver switches modes many times in one chunk without deep recursion", () => {
  class Flipper extends LineReceiver {
    override delimiter = "\n";
    lines: string[] = [];
    override lineReceived(line: Uint8Array): void {
      this.lines.push(s(line));
      this.setRawMode();
    }
    override rawDataReceived(data: Uint8Array): void {
      this.setLineMode(data.subarray(1));
    }
  }
  const p = new Flipper();
  connect(p);
  const n = 20000;
  p.dataReceived(b("x\nx".repeat(n)));
  assert.equal(p.lines.join(""), "x".repeat(n));
});

Deno.test("LineReceiver.clearLineBuffer returns and drops what is buffered, from a callback", () => {
  class Clearing extends LineReceiver {
    line = "";
    rest = "";
    override lineReceived(line: Uint8Array): void {
      this.line = s(line);
      this.rest = s(this.clearLineBuffer());
    }
  }
  const p = new Clearing();
  p.dataReceived(b("foo\r\nbar\r\nbaz"));
  assert.equal(p.line, "foo");
  assert.equal(p.rest, "bar\r\nbaz");
  p.dataReceived(b("quux\r\n"));
  assert.equal(p.line, "quux");
  assert.equal(p.rest, "");
});

Deno.test("LineReceiver.clearLineBuffer returns a partial line from outside", () => {
  const p = new LineRecorder();
  connect(p);
  p.dataReceived(b("a\r\nhalf a li"));
  assert.equal(s(p.clearLineBuffer()), "half a li");
  p.dataReceived(b("ne\r\n"));
  assert.deepEqual(p.events, ["line:a", "line:ne"]);
  assert.equal(p.clearLineBuffer().length, 0);
});

Deno.test("LineReceiver pauses delivery in the middle of a chunk and resumes it", () => {
  const input = b("twiddle1\ntwiddle2\npause\ntwiddle3\n");
  forEachChunking(input, () => new LineTester(), (p, t, how) => {
    assert.deepEqual(p.received, ["twiddle1", "twiddle2", "pause"], how);
    assert.equal(t.producerState, "paused", how);
    p.advance();
    assert.deepEqual(p.received, ["twiddle1", "twiddle2", "pause", "twiddle3"], how);
    assert.equal(t.producerState, "producing", how);
  });
});

Deno.test("LineReceiver pauses in raw mode and resumes with the buffered data raw", () => {
  const input = b("twiddle1\ntwiddle2\nlen 5\nrawpause\n12345twiddle3\n");
  forEachChunking(input, () => new LineTester(), (p, _t, how) => {
    assert.deepEqual(p.received, ["twiddle1", "twiddle2", "len 5", "rawpause", ""], how);
    p.advance();
    assert.deepEqual(
      p.received,
      ["twiddle1", "twiddle2", "len 5", "rawpause", "12345", "twiddle3"],
      how,
    );
  });
});

Deno.test("LineReceiver.stopProducing stops delivery for good", () => {
  const input = b("twiddle1\ntwiddle2\nstop\nmore\nstuff\n");
  forEachChunking(input, () => new LineTester(), (p, t, how) => {
    assert.deepEqual(p.received, ["twiddle1", "twiddle2", "stop"], how);
    assert.equal(t.producerState, "stopped");
    assert.ok(p.paused);
  });
});

Deno.test("LineReceiver.resumeProducing after stopProducing delivers nothing held", () => {
  const p = new LineTester();
  const t = connect(p);
  p.stopProducing();
  p.dataReceived(b("held\n"));
  assert.throws(() => p.resumeProducing(), /stopped/); // the transport's answer, as in Twisted
  assert.deepEqual(p.received, []);
  assert.equal(t.producerState, "stopped");
});

Deno.test("LineReceiver can register itself as a producer from lineReceived", () => {
  const p = new LineTester();
  const t = connect(p);
  p.dataReceived(b("produce\nhello world\nunproduce\ngoodbye\n"));
  assert.deepEqual(p.received, ["produce", "hello world", "unproduce", "goodbye"]);
  assert.equal(t.producer, undefined);
});

Deno.test("LineReceiver resumes the transport only once the waiting lines are delivered", () => {
  // Pauses itself after every line, like a consumer that wants one line at a time.
  class OneAtATime extends LineReceiver {
    out: string[] = [];
    override lineReceived(line: Uint8Array): void {
      this.out.push(s(line));
      this.pauseProducing();
    }
  }
  const p = new OneAtATime();
  const t = connect(p);
  p.dataReceived(b("hello, "));
  assert.deepEqual(p.out, []);
  assert.equal(t.producerState, "producing");
  assert.equal(p.paused, false);

  p.dataReceived(b("world\r\n"));
  assert.deepEqual(p.out, ["hello, world"]);
  assert.equal(t.producerState, "paused");
  assert.equal(p.paused, true);

  p.resumeProducing();
  assert.deepEqual(p.out, ["hello, world"]);
  assert.equal(t.producerState, "producing");
  assert.equal(p.paused, false);

  p.dataReceived(b("hello\r\nworld\r\n"));
  assert.deepEqual(p.out, ["hello, world", "hello"]);
  assert.equal(t.producerState, "paused");

  // The waiting line is delivered; it pauses again, so the transport stays paused.
  p.resumeProducing();
  assert.deepEqual(p.out, ["hello, world", "hello", "world"]);
  assert.equal(t.producerState, "paused");
  assert.equal(p.paused, true);

  p.dataReceived(b("goodbye\r\n"));
  assert.deepEqual(p.out, ["hello, world", "hello", "world"]);

  p.resumeProducing();
  assert.deepEqual(p.out, ["hello, world", "hello", "world", "goodbye"]);
  assert.equal(t.producerState, "paused");

  p.resumeProducing();
  assert.deepEqual(p.out, ["hello, world", "hello", "world", "goodbye"]);
  assert.equal(t.producerState, "producing");
  assert.equal(p.paused, false);
});

Deno.test("LineReceiver.resumeProducing resumes the transport even when a callback throws", () => {
  const p = new LineRecorder();
  p.react = (line) => {
    if (line === "bad") throw new Error("bad line");
  };
  const t = connect(p);
  p.pauseProducing();
  p.dataReceived(b("bad\r\n"));
  assert.throws(() => p.resumeProducing(), /bad line/);
  assert.equal(t.producerState, "producing");
  p.dataReceived(b("next\r\n"));
  assert.deepEqual(p.events, ["line:bad", "line:next"]);
});

// Over-long lines

/** Records what lineLengthExceeded gets, and does not close. */
class LongLineCatcher extends LineReceiver {
  override MAX_LENGTH = 6;
  lines: string[] = [];
  longLines: string[] = [];
  override lineReceived(line: Uint8Array): void {
    this.lines.push(s(line));
  }
  override lineLengthExceeded(line: Uint8Array): void {
    this.longLines.push(s(line));
  }
}

Deno.test("LineReceiver accepts a MAX_LENGTH line whose delimiter arrives in pieces", () => {
  class Tester extends LineTester {
    override MAX_LENGTH = 4;
  }
  const p = new Tester();
  const t = connect(p);
  p.dataReceived(b("xxx"));
  p.dataReceived(b(""));
  p.dataReceived(b("\nxxx"));
  assert.equal(t.disconnecting, false);
  assert.deepEqual(p.received, ["xxx"]);

  const q = new LineRecorder();
  q.MAX_LENGTH = 4;
  const u = connect(q);
  q.dataReceived(b("xxxx\r"));
  q.dataReceived(b("\nxxxx\r"));
  assert.equal(u.disconnecting, false);
  assert.deepEqual(q.events, ["line:xxxx"]);
});

Deno.test("LineReceiver passes a long unended line whole to lineLengthExceeded", () => {
  const p = new LongLineCatcher();
  connect(p);
  const excessive = "x".repeat(p.MAX_LENGTH * 2 + 2);
  p.dataReceived(b(excessive));
  assert.deepEqual(p.longLines, [excessive]);
});

Deno.test("LineReceiver passes what follows a short line to lineLengthExceeded", () => {
  const p = new LongLineCatcher();
  connect(p);
  const excessive = "x".repeat(p.MAX_LENGTH * 2 + 2);
  p.dataReceived(b("x\r\n" + excessive));
  assert.deepEqual(p.lines, ["x"]);
  assert.deepEqual(p.longLines, [excessive]);
});

Deno.test("LineReceiver passes a long line and everything after it to lineLengthExceeded", () => {
  const p = new LongLineCatcher();
  connect(p);
  const long = "x".repeat(p.MAX_LENGTH * 2 + 2);
  p.dataReceived(b(`${long}\r\n${long}`));
  assert.deepEqual(p.longLines, [`${long}\r\n${long}`]);

  const q = new LongLineCatcher();
  connect(q);
  q.dataReceived(b(`${long}\r\n${long}\r\n`));
  assert.deepEqual(q.longLines, [`${long}\r\n${long}\r\n`]);
});

Deno.test("LineReceiver never buffers more than MAX_LENGTH plus a delimiter of one line", () => {
  const p = new LongLineCatcher();
  connect(p);
  for (let i = 0; i < 100; i++) p.dataReceived(b("y"));
  // Each time 6 + 2 bytes have piled up with no CRLF, they are handed over and dropped.
  assert.deepEqual(p.longLines, Array(12).fill("yyyyyyyy"));
  assert.equal(s(p.clearLineBuffer()), "yyyy");
  // And the connection carries on with the next line.
  p.dataReceived(b("\r\nok\r\n"));
  assert.deepEqual(p.lines, ["", "ok"]);
});

Deno.test("LineReceiver hands a large chunk with no delimiter to lineLengthExceeded at once", () => {
  const lengths: number[] = [];
  class Catcher extends LineReceiver {
    override MAX_LENGTH = 100;
    override lineLengthExceeded(line: Uint8Array): void {
      lengths.push(line.length);
    }
  }
  const p = new Catcher();
  connect(p);
  p.dataReceived(new Uint8Array(1 << 20).fill(0x61));
  assert.deepEqual(lengths, [1 << 20]);
  assert.equal(p.clearLineBuffer().length, 0);
});

// ---------------------------------------------------------------------------------------------
// LineReceiver and LineOnlyReceiver: what they share, each test run on both

/** LineRecorder's counterpart: records lines as `line:<text>`; `react` then sees each line. */
class LineOnlyRecorder extends LineOnlyReceiver {
  events: string[] = [];
  react: (line: string) => void = () => {};
  override lineReceived(line: Uint8Array): void {
    this.events.push(`line:${s(line)}`);
    this.react(s(line));
  }
}

type AnyLineRecorder = LineRecorder | LineOnlyRecorder;

/** Each line receiver, and the seeded reference fuzz it gets (see the end of the file). */
const lineKinds = [
  {
    name: "LineReceiver",
    Recorder: LineRecorder,
    fuzz: {
      seed: 0x5eed,
      delimiters: ["\r\n", "\n", "aab", "abab", "\0"],
      alphabet: "ab\r\n\0x",
      delimiterAsBytes: true,
      wholeEveryOther: true,
    },
  },
  {
    name: "LineOnlyReceiver",
    Recorder: LineOnlyRecorder,
    fuzz: {
      seed: 0xface,
      delimiters: ["\r\n", "\n", "aab", "abab"],
      alphabet: "ab\r\nx",
      delimiterAsBytes: false,
      wholeEveryOther: false,
    },
  },
];

/** A connected-later recorder of `Recorder` with the given settings. */
function lineRecorder(
  Recorder: typeof LineRecorder | typeof LineOnlyRecorder,
  settings: { delimiter?: string | Uint8Array; max?: number } = {},
): AnyLineRecorder {
  const p = new Recorder();
  if (settings.delimiter !== undefined) p.delimiter = settings.delimiter;
  if (settings.max !== undefined) p.MAX_LENGTH = settings.max;
  return p;
}

/** Each `[data, lines]` step: after `data` arrives, `p` has recorded exactly `lines`. */
function playLines(p: AnyLineRecorder, steps: [string, string[]][]): void {
  connect(p);
  for (const [data, lines] of steps) {
    p.dataReceived(b(data));
    assert.deepEqual(p.events, lines.map((line) => `line:${line}`), JSON.stringify(data));
  }
}

for (const { name, Recorder } of lineKinds) {
  Deno.test(`${name} splits lines on CRLF by default, across chunks, and keeps a partial line`, () => {
    playLines(new Recorder(), [
      ["roses are red\r\nviolets", ["roses are red"]],
      [" are blue\r\n\r\n", ["roses are red", "violets are blue", ""]],
    ]);
    playLines(new Recorder(), [
      ["abc\r", []],
      ["\ndef\r", ["abc"]],
      ["x\r\n", ["abc", "def\rx"]],
    ]);
    playLines(new Recorder(), [["a\r", []], ["\nb\r\nc", ["a", "b"]]]);
  });

  Deno.test(`${name} delivers the same lines for every chunking`, () => {
    const text = "foo\n    bleakness\n    desolation\n    plastic forks\n    ";
    const make = () => lineRecorder(Recorder, { delimiter: "\n", max: 64 });
    forEachChunking(b(text), make, (p, _t, how) => {
      const lines = text.split("\n").slice(0, -1);
      assert.deepEqual(p.events, lines.map((line) => `line:${line}`), how);
    });
  });

  Deno.test(`${name} finds a multi-byte, self-overlapping delimiter split across chunks`, () => {
    const make = () => lineRecorder(Recorder, { delimiter: "aab" });
    forEachChunking(b("xaaabyaabaab-aabzaab"), make, (p, _t, how) => {
      assert.deepEqual(p.events, ["line:xa", "line:y", "line:", "line:-", "line:z"], how);
    });
    // The earliest occurrence wins when two overlap across a chunk boundary.
    const overlapping = () => lineRecorder(Recorder, { delimiter: b("abab") });
    forEachChunking(b("xabababyabab"), overlapping, (p, _t, how) => {
      assert.deepEqual(p.events, ["line:x", "line:aby"], how);
    });
  });

  Deno.test(`${name} takes its delimiter as a string or as bytes, per instance`, () => {
    const a = lineRecorder(Recorder, { delimiter: "\n" });
    connect(a);
    a.dataReceived(b("one\ntwo\r\n"));
    assert.deepEqual(a.events, ["line:one", "line:two\r"]);

    const c = lineRecorder(Recorder, { delimiter: new Uint8Array([0]) });
    const t = connect(c);
    c.dataReceived(b("x\0y\0"));
    assert.deepEqual(c.events, ["line:x", "line:y"]);
    c.sendLine("z");
    assert.deepEqual(t.value(), b("z\0"));

    assert.equal(new Recorder().delimiter, "\r\n");
  });

  Deno.test(`${name} honours a delimiter changed from inside lineReceived`, () => {
    for (const delimiter of ["\n", b("\n")]) {
      const make = () => {
        const p = new Recorder();
        p.react = (line) => {
          if (line === "SWITCH") p.delimiter = delimiter;
        };
        return p;
      };
      forEachChunking(b("a\r\nSWITCH\r\nb\nc\r\nd"), make, (p, _t, how) => {
        assert.deepEqual(p.events, ["line:a", "line:SWITCH", "line:b", "line:c\r"], how);
      });
    }
  });

  Deno.test(`${name} re-splits a partial line after its delimiter changes`, () => {
    const p = new Recorder();
    connect(p);
    p.dataReceived(b("one\ntwo\nthr"));
    assert.deepEqual(p.events, []);
    p.delimiter = "\n";
    p.dataReceived(b("ee\n"));
    assert.deepEqual(p.events, ["line:one", "line:two", "line:three"]);
  });

  Deno.test(`${name} throws a RangeError for an empty delimiter`, () => {
    const p = lineRecorder(Recorder, { delimiter: "" });
    connect(p);
    assert.throws(() => p.dataReceived(b("abc")), RangeError);
  });

  Deno.test(`${name}.sendLine writes the line and the delimiter in one write`, () => {
    const p = new Recorder();
    const t = connect(p);
    p.sendLine("héllo");
    p.sendLine(b("bytes"));
    p.delimiter = b("|");
    p.sendLine("x");
    p.sendLine("");
    assert.equal(t.valueText(), "héllo\r\nbytes\r\nx||");

    const q = new Recorder();
    const u = connect(q);
    q.sendLine("a");
    q.sendLine(b("b"));
    assert.equal(u.valueText(), "a\r\nb\r\n");
  });

  Deno.test(`${name} delivers views into the received chunk and joins spanning lines once`, () => {
    /** A connected receiver that keeps each line as given. */
    const keeper = (): [AnyLineRecorder, Uint8Array[]] => {
      const kept: Uint8Array[] = [];
      const p = new Recorder();
      p.lineReceived = (line) => void kept.push(line);
      connect(p);
      return [p, kept];
    };
    const [p, kept] = keeper();
    const chunk = b("one\r\ntwo\r\nthr");
    p.dataReceived(chunk);
    assert.equal(kept[0].buffer, chunk.buffer);
    assert.equal(kept[1].buffer, chunk.buffer);
    p.dataReceived(b("ee\r\n"));
    assert.notEqual(kept[2].buffer, chunk.buffer);
    // Kept lines stay valid after more data arrives.
    p.dataReceived(b("four\r\n".repeat(100)));
    assert.deepEqual(kept.slice(0, 3).map(s), ["one", "two", "three"]);
    assert.equal(kept.length, 103);

    const [q, spanned] = keeper();
    const first = b("one\r\ntw");
    q.dataReceived(first);
    q.dataReceived(b("o\r\n"));
    assert.equal(spanned[0].buffer, first.buffer);
    assert.deepEqual(spanned.map(s), ["one", "two"]);
  });

  Deno.test(`${name} closes the connection on a line longer than MAX_LENGTH`, () => {
    const cases = [
      // With the defaults: CRLF and the default MAX_LENGTH.
      { input: concat(b("ok\r\n"), b("x".repeat(new Recorder().MAX_LENGTH + 1)), b("\r\nr\r\n")) },
      // Longer than MAX_LENGTH plus a delimiter, with a different delimiter in it.
      { delimiter: "\n", max: 64, input: b("ok\n" + "x".repeat(64 + 2) + "\r\nr\n") },
    ];
    for (const { input, ...settings } of cases) {
      forEachChunking(input, () => lineRecorder(Recorder, settings), (p, t, how) => {
        assert.ok(t.disconnecting, how);
        assert.deepEqual(p.events, ["line:ok"], how);
      });
    }
  });

  Deno.test(`${name} accepts a line of exactly MAX_LENGTH bytes however it is chunked`, () => {
    const make = () => lineRecorder(Recorder, { max: 10 });
    const cases: [string, string[], boolean][] = [
      ["0123456789\r\nnext\r\n", ["0123456789", "next"], false],
      ["0123456789\r\n0123456789\r\n", ["0123456789", "0123456789"], false],
      ["0123456789x\r\n", [], true],
    ];
    for (const [input, lines, closed] of cases) {
      forEachChunking(b(input), make, (p, t, how) => {
        assert.equal(t.disconnecting, closed, how);
        assert.deepEqual(p.events, lines.map((line) => `line:${line}`), how);
      });
    }
  });

  Deno.test(`${name} keeps an unfinished line of MAX_LENGTH bytes plus part of a delimiter`, () => {
    const p = new Recorder();
    const t = connect(p);
    p.dataReceived(concat(b("x".repeat(p.MAX_LENGTH)), b("\r")));
    assert.equal(t.disconnecting, false);
  });

  Deno.test(`${name} closes on an unfinished line of MAX_LENGTH plus delimiter bytes`, () => {
    const p = new Recorder();
    const t = connect(p);
    p.dataReceived(b("x".repeat(p.MAX_LENGTH + 2)));
    assert.equal(t.disconnecting, true);
    assert.deepEqual(p.events, []);
  });

  Deno.test(`${name} passes the buffered bytes to lineLengthExceeded and drops them`, () => {
    const long: string[] = [];
    const p = lineRecorder(Recorder, { max: 4 });
    p.lineLengthExceeded = (line) => void long.push(s(line));
    connect(p);
    p.dataReceived(b("ab\r\nlonglonglong\r\ncd\r\n"));
    assert.deepEqual(p.events, ["line:ab"]);
    assert.deepEqual(long, ["longlonglong\r\ncd\r\n"]);
    p.dataReceived(b("xyz"));
    p.dataReceived(b("abc"));
    assert.deepEqual(long, ["longlonglong\r\ncd\r\n", "xyzabc"]);
    p.dataReceived(b("ok\r\n"));
    assert.deepEqual(p.events, ["line:ab", "line:ok"]);
  });

  Deno.test(`${name} splits at once what lineLengthExceeded gives back`, () => {
    const p = lineRecorder(Recorder, { max: 4 });
    p.lineLengthExceeded = (line) => p.dataReceived(line.subarray(s(line).indexOf("\r\n") + 2));
    const t = connect(p);
    p.dataReceived(b("longlonglong\r\ncd\r\nef"));
    assert.deepEqual(p.events, ["line:cd"]);
    p.dataReceived(b("\r\n"));
    assert.deepEqual(p.events, ["line:cd", "line:ef"]);
    assert.equal(t.disconnecting, false);
  });

  Deno.test(`${name} holds an over-long line given back whole until more data comes`, () => {
    // Reporting it again at once would loop for ever: one report per arrival instead.
    const long: string[] = [];
    const p = lineRecorder(Recorder, { max: 4 });
    p.lineLengthExceeded = (line) => {
      long.push(s(line));
      p.dataReceived(line);
    };
    const t = connect(p);
    p.dataReceived(b("toolong"));
    assert.deepEqual(long, ["toolong"]);
    p.dataReceived(b("er\r\nok\r\n"));
    assert.deepEqual(long, ["toolong", "toolonger\r\nok\r\n"]);
    assert.deepEqual(p.events, []);
    p.lineLengthExceeded = (line) => void long.push(s(line)); // now it drops them
    p.dataReceived(b("!"));
    assert.deepEqual(long.at(-1), "toolonger\r\nok\r\n!");
    p.dataReceived(b("fine\r\n"));
    assert.deepEqual(p.events, ["line:fine"]);
    assert.equal(t.disconnecting, false);
  });
}

Deno.test("LineOnlyReceiver keeps the partial line ending data whose lineReceived threw", () => {
  // As Twisted: the other whole lines of that data are lost, the unfinished one is completed.
  // Each step: the delimiter to set, the data, whether lineReceived throws on it.
  const cases: [[string, string, boolean][], string[]][] = [
    [[["\r\n", "bad\r\nlost\r\npar", true], ["\r\n", "tial\r\n", false]], ["bad", "partial"]],
    [[["\r\n", "bad\r\nnext\r", true], ["\r\n", "\nmore\r\n", false]], ["bad", "next", "more"]],
    [
      [["\r\n", "ba", false], ["\r\n", "d\r\nlost\r\nend", true], ["\r\n", "ing\r\n", false]],
      ["bad", "ending"],
    ],
    // The data split with a new delimiter includes what was kept under the old one.
    [[["\r\n", "bad\nlo", false], ["\n", "st\npar", true], ["\n", "tial\n", false]], [
      "bad",
      "partial",
    ]],
  ];
  for (const [steps, lines] of cases) {
    const p = new LineOnlyRecorder();
    p.react = (line) => {
      if (line === "bad") throw new Error("lineReceived failed");
    };
    connect(p);
    for (const [delimiter, data, throws] of steps) {
      p.delimiter = delimiter;
      if (throws) assert.throws(() => p.dataReceived(b(data)), /lineReceived failed/);
      else p.dataReceived(b(data));
    }
    assert.deepEqual(p.events, lines.map((line) => `line:${line}`), JSON.stringify(steps));
  }
});

Deno.test("LineReceiver delivers the rest of the data after lineReceived threw", () => {
  const p = new LineRecorder();
  p.react = (line) => {
    if (line === "bad") throw new Error("lineReceived failed");
  };
  connect(p);
  assert.throws(() => p.dataReceived(b("bad\r\nnext\r\npar")), /lineReceived failed/);
  assert.deepEqual(p.events, ["line:bad"]);
  p.dataReceived(b("tial\r\n"));
  assert.deepEqual(p.events, ["line:bad", "line:next", "line:partial"]);
});

// ---------------------------------------------------------------------------------------------
// NetstringReceiver

/** Records the strings received and echoes each, as Twisted's TestNetstring does. */
class NetstringRecorder extends NetstringReceiver {
  override MAX_LENGTH = 50;
  received: string[] = [];
  react: (str: string) => void = () => {};
  override stringReceived(str: Uint8Array): void {
    this.received.push(s(str));
    this.transport.write(str);
    this.react(s(str));
  }
}

function netstringAfter(
  input: string | Uint8Array,
  max = 50,
): [NetstringRecorder, StringTransport] {
  const p = new NetstringRecorder();
  p.MAX_LENGTH = max;
  const t = connect(p);
  p.dataReceived(typeof input === "string" ? b(input) : input);
  return [p, t];
}

Deno.test("NetstringReceiver receives strings however they are chunked", () => {
  const strings = ["hello", "world", "how", "are", "you123", ":today", "a".repeat(515)];
  const sender = new NetstringReceiver();
  const out = connect(sender);
  for (const str of strings) sender.sendString(str);
  const make = () => {
    const p = new NetstringRecorder();
    p.MAX_LENGTH = 699;
    return p;
  };
  forEachChunking(out.value(), make, (p, t, how) => {
    assert.deepEqual(p.received, strings, how);
    assert.equal(t.disconnecting, false, how);
  });
});

Deno.test("NetstringReceiver receives an empty netstring", () => {
  const [p, t] = netstringAfter("0:,");
  assert.deepEqual(p.received, [""]);
  assert.equal(t.disconnecting, false);
});

Deno.test("NetstringReceiver receives one- and two-byte netstrings", () => {
  assert.deepEqual(netstringAfter("1:a,")[0].received, ["a"]);
  assert.deepEqual(netstringAfter("2:ab,")[0].received, ["ab"]);
});

Deno.test("NetstringReceiver is not confused by ':' and ',' inside the payload", () => {
  assert.deepEqual(netstringAfter("4:1:a,,")[0].received, ["1:a,"]);
});

Deno.test("NetstringReceiver receives a netstring in portions", () => {
  for (
    const parts of [["4:aa", "aa,"], ["1", "0:01234", "56789", ","], ["2", ":", "a", "b", ","]]
  ) {
    const p = new NetstringRecorder();
    connect(p);
    for (const part of parts) p.dataReceived(b(part));
    assert.deepEqual(p.received, [parts.join("").replace(/^\d+:/, "").slice(0, -1)]);
  }
});

Deno.test("NetstringReceiver receives two netstrings split after the second length", () => {
  const p = new NetstringRecorder();
  connect(p);
  p.dataReceived(b("1:a,1"));
  assert.deepEqual(p.received, ["a"]);
  p.dataReceived(b(":b,"));
  assert.deepEqual(p.received, ["a", "b"]);
});

Deno.test("NetstringReceiver accepts a length equal to MAX_LENGTH", () => {
  const [p, t] = netstringAfter(`12:${"x".repeat(12)},`, 12);
  assert.deepEqual(p.received, ["x".repeat(12)]);
  assert.equal(t.disconnecting, false);
});

/** Feeds `input` in every chunking and checks the connection is closed, nothing after `good`. */
function assertRejected(input: string, good: string[] = [], max = 50): void {
  forEachChunking(b(input), () => {
    const p = new NetstringRecorder();
    p.MAX_LENGTH = max;
    return p;
  }, (p, t, how) => {
    assert.ok(t.disconnecting, `${JSON.stringify(input)} ${how}: not closed`);
    assert.ok(p.brokenPeer, `${JSON.stringify(input)} ${how}: brokenPeer not set`);
    assert.deepEqual(p.received, good, `${JSON.stringify(input)} ${how}`);
    assert.equal(t.aborted, false);
  });
}

Deno.test("NetstringReceiver closes on more data than the length says", () => {
  assertRejected("2:aaa,");
  assertRejected("0:a,");
});

Deno.test("NetstringReceiver closes on a missing length", () => {
  assertRejected(":aaa,");
});

Deno.test("NetstringReceiver closes on a missing colon", () => {
  assertRejected("3aaa,");
  assertRejected("aaa,");
  assertRejected("aaa");
  assertRejected("abc");
  assertRejected("5 :hello,");
  assertRejected("-5:hello,");
});

Deno.test("NetstringReceiver closes on a missing comma", () => {
  assertRejected("4:abcde");
  assertRejected("3:abc;3:def,");
  assertRejected("51:" + "a".repeat(51) + "b,", [], 51);
});

Deno.test("NetstringReceiver closes on a length with leading zeros", () => {
  assertRejected("01:a,");
  assertRejected("00:,");
  assertRejected("007:bondjam,");
  // Rejected at the second digit, before the colon arrives.
  const [p, t] = netstringAfter("01");
  assert.ok(t.disconnecting && p.brokenPeer);
});

Deno.test("NetstringReceiver closes on a length over MAX_LENGTH before the payload", () => {
  assertRejected(`51:${"a".repeat(51)},`);
  // Refused at the digit that takes the length over, before any colon or payload arrives.
  const [p, t] = netstringAfter("51");
  assert.ok(t.disconnecting && p.brokenPeer);
  const [q, u] = netstringAfter("5");
  assert.ok(!u.disconnecting && !q.brokenPeer);
  const [r, v] = netstringAfter("60", 59);
  assert.ok(v.disconnecting && r.brokenPeer);
});

Deno.test("NetstringReceiver checks a length against MAX_LENGTH as lowered while it arrived", () => {
  // Twisted checks the whole length at the colon, against MAX_LENGTH as it is then.
  const p = new NetstringRecorder();
  p.MAX_LENGTH = 6;
  const t = connect(p);
  p.dataReceived(b("6"));
  p.MAX_LENGTH = 4;
  p.dataReceived(b(":abcdef,"));
  assert.deepEqual(p.received, []);
  assert.ok(t.disconnecting && p.brokenPeer);
});

Deno.test("NetstringReceiver closes on a length prefix with more digits than MAX_LENGTH", () => {
  assertRejected("9999999999999999999999");
  const p = new NetstringRecorder();
  p.MAX_LENGTH = 99999;
  const t = connect(p);
  p.dataReceived(b("99999"));
  assert.equal(t.disconnecting, false);
  p.dataReceived(b("9"));
  assert.equal(t.disconnecting, true);
});

Deno.test("NetstringReceiver delivers the strings before a bad byte and nothing after", () => {
  assertRejected("3:abc,x3:def,", ["abc"]);
  assertRejected("3:abc,3:def!3:ghi,", ["abc"]);
  const [p, t] = netstringAfter("1:a,:");
  assert.ok(t.disconnecting);
  p.dataReceived(b("1:b,"));
  assert.deepEqual(p.received, ["a"]);
});

Deno.test("NetstringReceiver never lets a NetstringParseError escape dataReceived", () => {
  const p = new NetstringRecorder();
  const t = connect(p);
  p.dataReceived(b("x"));
  p.dataReceived(b("1:a,"));
  assert.ok(t.disconnecting);
  assert.deepEqual(p.received, []);
  const e = new NetstringParseError("bad");
  assert.equal(e.name, "NetstringParseError");
  assert.ok(e instanceof Error);
});

Deno.test("NetstringReceiver lets errors from stringReceived propagate", () => {
  class Failing extends NetstringReceiver {
    override stringReceived(_str: Uint8Array): void {
      throw new NetstringParseError("raised by the application");
    }
  }
  const p = new Failing();
  const t = connect(p);
  assert.throws(() => p.dataReceived(b("1:a,")), /raised by the application/);
  assert.equal(t.disconnecting, false);
  assert.equal(p.brokenPeer, false);
});

Deno.test("NetstringReceiver.sendString frames bytes and UTF-8 strings", () => {
  const p = new NetstringReceiver();
  const t = connect(p);
  p.sendString("héllo");
  p.sendString(b(""));
  p.sendString(b("ab"));
  assert.equal(t.valueText(), "6:héllo,0:,2:ab,");
  t.clear();
  const big = new Uint8Array(100000).fill(0x7a);
  p.sendString(big);
  assert.deepEqual(t.value(), concat(b("100000:"), big, b(",")));
});

Deno.test("NetstringReceiver delivers views for whole netstrings and one array for large ones", () => {
  const kept: Uint8Array[] = [];
  class Keeper extends NetstringReceiver {
    override MAX_LENGTH = 1 << 20;
    override stringReceived(str: Uint8Array): void {
      kept.push(str);
    }
  }
  const p = new Keeper();
  connect(p);
  const chunk = b("3:abc,5:he");
  p.dataReceived(chunk);
  assert.equal(kept[0].buffer, chunk.buffer);
  p.dataReceived(b("llo,"));
  assert.equal(s(kept[1]), "hello");
  const payload = new Uint8Array(300000);
  for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
  const wire = concat(b("300000:"), payload, b(","));
  for (let i = 0; i < wire.length; i += 65536) p.dataReceived(wire.slice(i, i + 65536));
  assert.equal(kept.length, 3);
  assert.deepEqual(kept[2], payload);
  assert.equal(kept[2].byteLength, kept[2].buffer.byteLength);
});

// ---------------------------------------------------------------------------------------------
// Int32StringReceiver, Int16StringReceiver, Int8StringReceiver

type IntN = IntNStringReceiver & { received: string[]; react: (str: string) => void };

function recorder(kind: typeof Int32StringReceiver): IntN {
  const p = new (class extends kind {
    override MAX_LENGTH = 50;
    received: string[] = [];
    react: (str: string) => void = () => {};
    override stringReceived(str: Uint8Array): void {
      this.received.push(s(str));
      this.react(s(str));
    }
  })();
  return p;
}

/** `data` with a big-endian `n`-byte length prefix. */
function prefixed(n: number, data: Uint8Array, length = data.length): Uint8Array {
  const head = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    head[i] = length % 256;
    length = Math.floor(length / 256);
  }
  return concat(head, data);
}

const intKinds = [
  {
    name: "Int32StringReceiver",
    kind: Int32StringReceiver,
    n: 4,
    illegal: "\x10\x00\x00\x00aaaaaa",
    foo: "\x00\x00\x00\x03foo",
    ubar: "\x00\x00\x00\x04ubar",
  },
  {
    name: "Int16StringReceiver",
    kind: Int16StringReceiver,
    n: 2,
    illegal: "\x10\x00aaaaaa",
    foo: "\x00\x03foo",
    ubar: "\x00\x04ubar",
  },
  {
    name: "Int8StringReceiver",
    kind: Int8StringReceiver,
    n: 1,
    illegal: "\x40aaaaaa",
    foo: "\x03foo",
    ubar: "\x04ubar",
  },
];

for (const { name, kind, n, illegal, foo, ubar } of intKinds) {
  Deno.test(`${name} receives strings however they are chunked`, () => {
    const strings = ["a", "b".repeat(16), "", "c".repeat(50)];
    const wire = concat(...strings.map((x) => prefixed(n, b(x))));
    forEachChunking(wire, () => recorder(kind), (p, t, how) => {
      assert.deepEqual(p.received, strings, how);
      assert.equal(t.disconnecting, false);
    });
  });

  Deno.test(`${name} delivers nothing for a partial string`, () => {
    for (const partial of [b("\x00".repeat(n - 1)), prefixed(n, b("hell"), 5), b("")]) {
      forEachChunking(partial, () => recorder(kind), (p, _t, how) => {
        assert.deepEqual(p.received, [], how);
      });
    }
  });

  Deno.test(`${name}.sendString adds a ${n}-byte big-endian prefix`, () => {
    const p = recorder(kind);
    const t = connect(p);
    p.sendString(b("b".repeat(16)));
    p.sendString("foo");
    assert.deepEqual(t.value(), concat(prefixed(n, b("b".repeat(16))), prefixed(n, b("foo"))));
    assert.equal(p.prefixLength, n);
  });

  Deno.test(`${name} calls lengthLimitExceeded with a length over MAX_LENGTH`, () => {
    const lengths: number[] = [];
    const p = recorder(kind);
    p.lengthLimitExceeded = (length) => void lengths.push(length);
    p.MAX_LENGTH = 10;
    const t = connect(p);
    p.dataReceived(prefixed(n, b(""), 11));
    assert.deepEqual(lengths, [11]);
    assert.equal(t.disconnecting, false);
  });

  Deno.test(`${name} closes on a length over MAX_LENGTH and never delivers that string`, () => {
    const wire = concat(prefixed(n, b("ok")), prefixed(n, b("x".repeat(51))), prefixed(n, b("no")));
    forEachChunking(wire, () => recorder(kind), (p, t, how) => {
      assert.ok(t.disconnecting, how);
      assert.deepEqual(p.received, ["ok"], how);
    });
    forEachChunking(b(illegal), () => recorder(kind), (_p, t, how) => {
      assert.ok(t.disconnecting, how);
    });
  });

  Deno.test(`${name} discards everything after an exceeded length`, () => {
    const lengths: number[] = [];
    const p = recorder(kind);
    p.lengthLimitExceeded = (length) => void lengths.push(length);
    connect(p);
    p.dataReceived(prefixed(n, b("x".repeat(51))));
    p.dataReceived(prefixed(n, b("later")));
    assert.deepEqual(p.received, []);
    assert.deepEqual(lengths, [51]);
  });

  Deno.test(`${name} delivers views into the received chunk`, () => {
    const kept: Uint8Array[] = [];
    const p = new (class extends kind {
      override stringReceived(str: Uint8Array): void {
        kept.push(str);
      }
    })();
    connect(p);
    const chunk = concat(prefixed(n, b("abc")), prefixed(n, b("de")).subarray(0, n + 1));
    p.dataReceived(chunk);
    p.dataReceived(b("e"));
    assert.equal(kept[0].buffer, chunk.buffer);
    assert.deepEqual(kept.map(s), ["abc", "de"]);
  });

  Deno.test(`${name} pauses in the middle of a chunk and resumes`, () => {
    const p = new (class extends kind {
      got: string[] = [];
      override stringReceived(str: Uint8Array): void {
        this.got.push(s(str));
        if (s(str) === "pause") this.pauseProducing();
      }
    })();
    const t = connect(p);
    p.dataReceived(concat(prefixed(n, b("a")), prefixed(n, b("pause")), prefixed(n, b("b"))));
    assert.deepEqual(p.got, ["a", "pause"]);
    assert.equal(t.producerState, "paused");
    p.dataReceived(prefixed(n, b("c")));
    assert.deepEqual(p.got, ["a", "pause"]);
    p.resumeProducing();
    assert.deepEqual(p.got, ["a", "pause", "b", "c"]);
    assert.equal(t.producerState, "producing");
    p.stopProducing();
    assert.equal(t.producerState, "stopped");
    p.dataReceived(prefixed(n, b("held")));
    assert.throws(() => p.resumeProducing(), /stopped/); // the transport's answer, as in Twisted
    assert.deepEqual(p.got, ["a", "pause", "b", "c"]);
  });

  Deno.test(`${name}.resumeProducing resumes the transport even when a callback throws`, () => {
    const p = recorder(kind);
    p.react = (str) => {
      if (str === "bad") throw new Error("bad string");
    };
    const t = connect(p);
    p.pauseProducing();
    p.dataReceived(prefixed(n, b("bad")));
    assert.throws(() => p.resumeProducing(), /bad string/);
    assert.equal(t.producerState, "producing");
    p.dataReceived(prefixed(n, b("next")));
    assert.deepEqual(p.received, ["bad", "next"]);
  });

  Deno.test(`${name} sends and receives ${n}-byte prefixes`, () => {
    const p = recorder(kind);
    const t = connect(p);
    p.sendString(b("foo"));
    assert.deepEqual(t.value(), b(foo));
    p.dataReceived(b(ubar));
    assert.deepEqual(p.received, ["ubar"]);
  });
}

Deno.test("Int32StringReceiver reads lengths of 2^31 and over as unsigned", () => {
  const lengths: number[] = [];
  const p = recorder(Int32StringReceiver);
  p.lengthLimitExceeded = (length) => void lengths.push(length);
  connect(p);
  p.dataReceived(b("\xff\xff\xff\xfe"));
  assert.deepEqual(lengths, [0xfffffffe]);
});

Deno.test("IntNStringReceiver.sendString throws StringTooLongError for a string too long for its prefix", () => {
  const p8 = new Int8StringReceiver();
  const t8 = connect(p8);
  p8.sendString(new Uint8Array(255));
  assert.throws(() => p8.sendString(new Uint8Array(256)), (e: unknown) => {
    assert.ok(e instanceof StringTooLongError);
    assert.equal(e.name, "StringTooLongError");
    assert.match(e.message, /256 bytes with a 1-byte length prefix \(at most 255\)/);
    return true;
  });
  assert.equal(t8.value().length, 256);

  const p16 = new Int16StringReceiver();
  const t16 = connect(p16);
  p16.sendString(new Uint8Array(65535));
  assert.throws(() => p16.sendString(new Uint8Array(65537)), StringTooLongError);
  assert.equal(t16.value().length, 65537);
});

Deno.test("IntNStringReceiver supports other prefix sizes in a subclass", () => {
  class Int24 extends IntNStringReceiver {
    readonly prefixLength: number = 3;
    got: number[] = [];
    override MAX_LENGTH = 1 << 20;
    override stringReceived(str: Uint8Array): void {
      this.got.push(str.length);
    }
  }
  const p = new Int24();
  const t = connect(p);
  p.sendString(new Uint8Array(300));
  forEachChunking(t.value(), () => new Int24(), (q, _u, how) => {
    assert.deepEqual(q.got, [300], how);
  });
  t.clear();
  p.sendString(new Uint8Array(70000));
  assert.deepEqual(t.value().subarray(0, 3), new Uint8Array([0x01, 0x11, 0x70]));
  p.dataReceived(t.value());
  assert.deepEqual(p.got, [70000]);
});

Deno.test("Int16StringReceiver parses data given from a callback, mid-chunk and at its end", () => {
  const p = new (class extends Int16StringReceiver {
    got: string[] = [];
    override stringReceived(str: Uint8Array): void {
      this.got.push(s(str));
      if (s(str) === "inject") this.dataReceived(concat(prefixed(2, b("injected")), b("\x00")));
    }
  })();
  connect(p);
  p.dataReceived(concat(prefixed(2, b("inject")), prefixed(2, b("after"))));
  assert.deepEqual(p.got, ["inject", "after", "injected"]);
  p.dataReceived(b("\x01z"));
  p.dataReceived(prefixed(2, b("inject")));
  assert.deepEqual(p.got, ["inject", "after", "injected", "z", "inject", "injected"]);
});

// ---------------------------------------------------------------------------------------------
// Payloads that span chunks: NetstringReceiver and Int32StringReceiver

/** Keeps the netstrings received, up to 2 MiB each. */
class NetstringKeeper extends NetstringReceiver {
  override MAX_LENGTH = 1 << 21;
  got: Uint8Array[] = [];
  override stringReceived(str: Uint8Array): void {
    this.got.push(str);
  }
}

/** Keeps the int32-prefixed strings received, up to 2 MiB each. */
class Int32Keeper extends Int32StringReceiver {
  override MAX_LENGTH = 1 << 21;
  got: Uint8Array[] = [];
  override stringReceived(str: Uint8Array): void {
    this.got.push(str);
  }
}

const spanKinds = [
  {
    name: "NetstringReceiver",
    make: (): NetstringKeeper | Int32Keeper => new NetstringKeeper(),
    head: (length: number) => b(`${length}:`),
    frame: (payload: Uint8Array) => concat(b(`${payload.length}:`), payload, b(",")),
  },
  {
    name: "Int32StringReceiver",
    make: (): NetstringKeeper | Int32Keeper => new Int32Keeper(),
    head: (length: number) => prefixed(4, new Uint8Array(0), length),
    frame: (payload: Uint8Array) => prefixed(4, payload),
  },
];

/** `n` bytes of every value, ':' and ',' among them. */
function binary(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

Deno.test("Payload holds what has arrived of a payload, not the length it was announced with", () => {
  const payload = new Payload();
  payload.start(99999, b("99999:x"), 6);
  assert.ok(payload.held <= 64, `${payload.held} bytes held for 1 received`);
  let have = 1;
  const rand = prng(5);
  while (have < 99999) {
    // A byte at a time at first, then pieces of up to 4 KiB, small and large mixed.
    const n = Math.min(have < 2000 ? 1 : 1 + Math.floor(rand() * 4096), 99999 - have);
    payload.fill(binary(n, have), 0);
    have += n;
    assert.ok(payload.held <= 2 * have + 64, `${payload.held} bytes held for ${have} received`);
  }
  assert.ok(payload.full);
  assert.equal(payload.take().length, 99999);
  assert.equal(payload.held, 0);
});

Deno.test("Payload copies a piece that would keep a much larger buffer alive", () => {
  // A transport hands over regions of a 512 KiB read slab: a payload arriving 16 KiB at a time
  // must not keep a slab per piece.
  const payload = new Payload();
  payload.start(99999, new Uint8Array(0), 0);
  let have = 0;
  while (have < 99999) {
    const n = Math.min(16384, 99999 - have);
    const slab = new Uint8Array(512 * 1024);
    slab.set(binary(n, have), 1000);
    payload.fill(slab.subarray(1000, 1000 + n), 0);
    have += n;
    assert.ok(payload.held <= 2 * have + 64, `${payload.held} bytes held for ${have} received`);
  }
  const whole = payload.take();
  assert.equal(whole.length, 99999);
  for (let at = 0; at < 99999; at += 16384) {
    assert.deepEqual(whole.subarray(at, at + 10), binary(16384, at).subarray(0, 10));
  }
  // A piece that is most of its buffer is still kept as it came, not copied.
  const big = binary(4096, 1);
  payload.start(8192, big, 0);
  assert.equal(payload.held, 4096);
});

for (const { name, make, head, frame } of spanKinds) {
  Deno.test(`${name} holds what has arrived of a payload, not the length announced`, () => {
    // 1,000 peers each announce 99,999 bytes and send one: holding the announced length would
    // take 100 MB.
    const receivers: Protocol[] = [];
    const before = Deno.memoryUsage().external;
    for (let i = 0; i < 1000; i++) {
      const p = make();
      connect(p);
      p.dataReceived(concat(head(99999), b("x")));
      receivers.push(p);
    }
    const grown = Deno.memoryUsage().external - before;
    assert.equal(receivers.length, 1000);
    assert.ok(grown < 5_000_000, `1,000 receivers took ${grown} more bytes`);
  });

  Deno.test(`${name} delivers payloads split into many pieces byte for byte`, () => {
    const payloads = [0, 1, 1023, 1024, 1025, 5000, 70000].map(binary);
    const wire = concat(...payloads.map(frame));
    const rand = prng(11);
    const ways: [string, Uint8Array[]][] = [
      ["byte by byte", Array.from(wire, (x) => new Uint8Array([x]))],
      ["1 and 2,000 bytes in turn", []],
    ];
    for (let at = 0, k = 0; at < wire.length; k++) {
      const n = k % 2 === 0 ? 1 : 2000;
      ways[1][1].push(wire.slice(at, at + n));
      at += n;
    }
    for (const max of [3, 40, 1500, 3000, 20000]) {
      for (let i = 0; i < 3; i++) {
        ways.push([`random pieces of up to ${max}`, randomSplit(wire, rand, max)]);
      }
    }
    for (const [how, pieces] of ways) {
      const p = make();
      connect(p);
      for (const piece of pieces) p.dataReceived(piece);
      assert.deepEqual(p.got, payloads, how);
    }
  });

  Deno.test(`${name} delivers a 1 MB payload arriving in 64 KiB chunks as one array`, () => {
    const payload = binary(1_000_000, 3);
    const wire = concat(frame(payload), frame(b("next")));
    const p = make();
    connect(p);
    for (let at = 0; at < wire.length; at += 65536) p.dataReceived(wire.slice(at, at + 65536));
    assert.equal(p.got.length, 2);
    assert.deepEqual(p.got[0], payload);
    // An array of its own, that keeps none of the chunks alive.
    assert.equal(p.got[0].byteLength, p.got[0].buffer.byteLength);
    assert.equal(s(p.got[1]), "next");
  });
}

// ---------------------------------------------------------------------------------------------
// Every receiver: what they share, each test run on all of them

/** A recorder of any receiver, with a hook that sees each message after it is recorded. */
type Recorder = Protocol & { react: (text: string) => void };

/** A receiver as the shared tests see it. */
interface Framing {
  name: string;
  /** The wire form of one message. */
  frame(text: string): Uint8Array;
  /** A fresh recorder. */
  make(): Recorder;
  /** What the recorder recorded... */
  seen(p: Recorder): string[];
  /** ...in which a message `text` shows as this. */
  shown(text: string): string;
  /**
   * Whether data already received is still delivered once the protocol closes, as Twisted's
   * string receivers do; the line receivers stop.
   */
  deliversAfterClose: boolean;
}

const framings: Framing[] = [
  ...lineKinds.map(({ name, Recorder }): Framing => ({
    name,
    frame: (text) => b(`${text}\r\n`),
    make: () => new Recorder(),
    seen: (p) => (p as AnyLineRecorder).events,
    shown: (text) => `line:${text}`,
    deliversAfterClose: false,
  })),
  {
    name: "NetstringReceiver",
    frame: (text) => b(`${text.length}:${text},`),
    make: () => new NetstringRecorder(),
    seen: (p) => (p as NetstringRecorder).received,
    shown: (text) => text,
    deliversAfterClose: true,
  },
  ...intKinds.map(({ name, kind, n }): Framing => ({
    name,
    frame: (text) => prefixed(n, b(text)),
    make: () => recorder(kind),
    seen: (p) => (p as IntN).received,
    shown: (text) => text,
    deliversAfterClose: true,
  })),
];

for (const f of framings) {
  Deno.test(`${f.name} delivers data given to dataReceived from a callback after the current data`, () => {
    const p = f.make();
    connect(p);
    p.react = (text) => {
      if (text === "inject") p.dataReceived(f.frame("injected"));
    };
    p.dataReceived(concat(f.frame("inject"), f.frame("after")));
    assert.deepEqual(f.seen(p), ["inject", "after", "injected"].map(f.shown));
  });

  Deno.test(`${f.name} delivers data given from a callback at the end of a chunk`, () => {
    // The data given ends with a whole message, or with the start of one the next data completes.
    const partial = f.frame("partial");
    const cases: [Uint8Array, Uint8Array, string[], string[]][] = [
      [f.frame("x"), f.frame("y"), ["x"], ["y"]],
      [partial.subarray(0, 4), partial.subarray(4), [], ["partial"]],
    ];
    for (const [tail, next, early, late] of cases) {
      const p = f.make();
      connect(p);
      p.react = (text) => {
        if (text === "inject") p.dataReceived(concat(f.frame("injected"), tail));
      };
      p.dataReceived(f.frame("inject"));
      assert.deepEqual(f.seen(p), ["inject", "injected", ...early].map(f.shown));
      p.dataReceived(next);
      assert.deepEqual(f.seen(p), ["inject", "injected", ...early, ...late].map(f.shown));
    }
  });

  Deno.test(`${f.name} keeps data given from callbacks in the order given`, () => {
    // "B" is given once the current data is used up, while "A" is still waiting.
    const p = f.make();
    connect(p);
    p.react = (text) => {
      if (text === "one") p.dataReceived(f.frame("A"));
      if (text === "two") p.dataReceived(f.frame("B"));
    };
    p.dataReceived(concat(f.frame("one"), f.frame("two")));
    assert.deepEqual(f.seen(p), ["one", "two", "A", "B"].map(f.shown));
  });

  const afterClose = f.deliversAfterClose
    ? "keeps delivering after the protocol calls loseConnection, as Twisted"
    : "delivers nothing more once the transport is disconnecting";
  Deno.test(`${f.name} ${afterClose}`, () => {
    // Closing on one message, then on every message.
    const cases: [string[], string | undefined][] = [
      [["a", "quit", "b", "c"], "quit"],
      [["a", "b"], undefined],
    ];
    for (const [texts, closeOn] of cases) {
      const make = () => {
        const p = f.make();
        p.react = (text) => {
          if (closeOn === undefined || text === closeOn) p.transport.loseConnection();
        };
        return p;
      };
      const upTo = closeOn === undefined ? 1 : texts.indexOf(closeOn) + 1;
      const want = f.deliversAfterClose ? texts : texts.slice(0, upTo);
      forEachChunking(concat(...texts.map(f.frame)), make, (p, t, how) => {
        assert.deepEqual(f.seen(p), want.map(f.shown), how);
        assert.ok(t.disconnecting, how);
        if (p instanceof NetstringReceiver) assert.equal(p.brokenPeer, false, how);
      });
    }
  });
}

/** Each callback a subclass must override: its class and name, a maker, a message reaching it. */
const mustOverride: [string, string, () => Protocol, Uint8Array | undefined][] = [
  ["LineReceiver", "lineReceived", () => new LineReceiver(), b("x\r\n")],
  ["LineReceiver", "rawDataReceived", () => new LineReceiver(), undefined],
  ["LineOnlyReceiver", "lineReceived", () => new LineOnlyReceiver(), b("x\r\n")],
  ["NetstringReceiver", "stringReceived", () => new NetstringReceiver(), b("3:foo,")],
  ...intKinds.map(({ name, kind, n }): [string, string, () => Protocol, Uint8Array] => [
    name,
    "stringReceived",
    () => new kind(),
    prefixed(n, b("foo")),
  ]),
];

for (const [name, method, make, message] of mustOverride) {
  Deno.test(`${name}.${method} throws unless overridden`, () => {
    const notImplemented = new RegExp(
      `^Error: ${name}\\.${method} is not implemented: override it$`,
    );
    const receiver = make() as unknown as Record<string, (data: Uint8Array) => void>;
    assert.throws(() => receiver[method](b("foo")), notImplemented);
    // The same error reaches whoever feeds the receiver.
    if (message !== undefined) assert.throws(() => make().dataReceived(message), notImplemented);
  });
}

// ---------------------------------------------------------------------------------------------
// Reference models and fuzzing

/** What Twisted's LineReceiver does with the whole stream at once (lines, and whether closed). */
function referenceLines(
  input: Uint8Array,
  delimiter: Uint8Array,
  max: number,
): { lines: string[]; closed: boolean } {
  const text = s(input);
  const delim = s(delimiter);
  const lines: string[] = [];
  let rest = text;
  for (;;) {
    const i = rest.indexOf(delim);
    if (i < 0) return { lines, closed: rest.length >= max + delim.length };
    if (i > max) return { lines, closed: true };
    lines.push(rest.slice(0, i));
    rest = rest.slice(i + delim.length);
  }
}

/** The netstrings in a whole stream, and whether it is malformed. */
function referenceNetstrings(
  input: Uint8Array,
  max: number,
): { strings: string[]; closed: boolean } {
  const text = s(input);
  const strings: string[] = [];
  let i = 0;
  while (i < text.length) {
    const digits = /^\d*/.exec(text.slice(i))![0];
    if (digits.length === 0) return { strings, closed: true };
    if (digits.length > 1 && digits[0] === "0") return { strings, closed: true };
    if (BigInt(digits) > BigInt(max)) return { strings, closed: true };
    const colon = i + digits.length;
    if (colon === text.length) break;
    if (text[colon] !== ":") return { strings, closed: true };
    const length = Number(digits);
    const start = colon + 1;
    if (text.length - start < length + 1) break;
    if (text[start + length] !== ",") return { strings, closed: true };
    strings.push(text.slice(start, start + length));
    i = start + length + 1;
  }
  return { strings, closed: false };
}

/** The strings in a whole length-prefixed stream, and whether a length was over `max`. */
function referenceIntN(
  input: Uint8Array,
  n: number,
  max: number,
): { strings: string[]; exceeded: boolean } {
  const strings: string[] = [];
  let i = 0;
  while (input.length - i >= n) {
    let length = 0;
    for (let k = 0; k < n; k++) length = length * 256 + input[i + k];
    if (length > max) return { strings, exceeded: true };
    if (input.length - i - n < length) break;
    strings.push(s(input.subarray(i + n, i + n + length)));
    i += n + length;
  }
  return { strings, exceeded: false };
}

/** Random bytes drawn mostly from `alphabet`, sometimes from anywhere. */
function garbage(rand: () => number, alphabet: string, maxLength: number): Uint8Array {
  const out = new Uint8Array(Math.floor(rand() * maxLength));
  for (let i = 0; i < out.length; i++) {
    out[i] = rand() < 0.9
      ? alphabet.charCodeAt(Math.floor(rand() * alphabet.length))
      : Math.floor(rand() * 256);
  }
  return out;
}

/** A run of netstrings, some of them damaged. */
function nearlyNetstrings(rand: () => number): Uint8Array {
  let out = "";
  const count = Math.floor(rand() * 6);
  for (let k = 0; k < count; k++) {
    const payload = s(garbage(rand, "ab:,0123456789", 30));
    out += `${payload.length}:${payload},`;
  }
  const bytes = b(out);
  const damage = Math.floor(rand() * 3);
  for (let k = 0; k < damage && bytes.length > 0; k++) {
    bytes[Math.floor(rand() * bytes.length)] = "0123456789:,x"
      .charCodeAt(Math.floor(rand() * 13));
  }
  return bytes;
}

/** Feeds pieces, failing the test if anything escapes dataReceived. */
function feed(p: Protocol, pieces: Uint8Array[], what: string): void {
  for (const piece of pieces) {
    try {
      p.dataReceived(piece);
    } catch (e) {
      assert.fail(`${what}: dataReceived threw ${e}`);
    }
  }
}

/** Checks a line receiver against referenceLines on 2,000 seeded random inputs. */
for (const { name, Recorder, fuzz } of lineKinds) {
  Deno.test(`${name} matches the reference splitter on 2,000 random inputs and chunkings`, () => {
    const rand = prng(fuzz.seed);
    const { delimiters } = fuzz;
    for (let k = 0; k < 2000; k++) {
      const text = delimiters[k % delimiters.length];
      const max = 1 + Math.floor(rand() * 12);
      const input = garbage(rand, fuzz.alphabet, 120);
      const want = referenceLines(input, b(text), max);
      const whole = fuzz.wholeEveryOther && k % 2 === 1;
      const pieces = whole ? [input] : randomSplit(input, rand, 1 + Math.floor(rand() * 20));
      const p = lineRecorder(Recorder, { delimiter: fuzz.delimiterAsBytes ? b(text) : text, max });
      const t = connect(p);
      const what = `input ${k} ${JSON.stringify(s(input))} delimiter ${
        JSON.stringify(text)
      } max ${max}`;
      feed(p, pieces, what);
      assert.deepEqual(p.events, want.lines.map((line) => `line:${line}`), what);
      assert.equal(t.disconnecting, want.closed, what);
    }
  });
}

Deno.test("NetstringReceiver closes on every malformed input among 2,000 random ones", () => {
  const rand = prng(0xbad);
  let closedCount = 0;
  for (let k = 0; k < 2000; k++) {
    const input = k % 2 === 0 ? garbage(rand, "0123456789:,ab", 60) : nearlyNetstrings(rand);
    const max = 1 + Math.floor(rand() * 40);
    const want = referenceNetstrings(input, max);
    const p = new NetstringRecorder();
    p.MAX_LENGTH = max;
    const t = connect(p);
    const what = `input ${k} ${JSON.stringify(s(input))} max ${max}`;
    feed(p, randomSplit(input, rand, 1 + Math.floor(rand() * 16)), what);
    assert.deepEqual(p.received, want.strings, what);
    assert.equal(t.disconnecting, want.closed, what);
    assert.equal(p.brokenPeer, want.closed, what);
    if (want.closed) closedCount++;
  }
  // Both kinds of input were exercised.
  assert.ok(closedCount > 500 && closedCount < 1900, `${closedCount} closed`);
});

Deno.test("IntNStringReceivers match the reference on 2,000 random inputs", () => {
  const rand = prng(0x1234);
  for (let k = 0; k < 2000; k++) {
    const { kind, n } = intKinds[k % 3];
    const max = Math.floor(rand() * 40);
    let input = garbage(rand, "\x00\x01\x02\x03\x05\x08ab", 80);
    if (k % 4 === 0) {
      // Mostly well-formed: a few strings, maybe a bad prefix at the end.
      const parts: Uint8Array[] = [];
      for (let j = 0; j < 4; j++) parts.push(prefixed(n, garbage(rand, "xyz", max + 1)));
      input = concat(...parts, input.subarray(0, Math.floor(rand() * 4)));
    }
    const want = referenceIntN(input, n, max);
    const p = recorder(kind);
    p.MAX_LENGTH = max;
    const t = connect(p);
    const what = `input ${k} n=${n} max ${max} ${JSON.stringify(s(input))}`;
    feed(p, randomSplit(input, rand, 1 + Math.floor(rand() * 16)), what);
    assert.deepEqual(p.received, want.strings, what);
    assert.equal(t.disconnecting, want.exceeded, what);
  }
});

Deno.test("Receivers name the method given data that is neither bytes nor a string", () => {
  class Chat extends LineReceiver {}
  class Lines extends LineOnlyReceiver {}
  class Requests extends NetstringReceiver {}
  class Frames extends Int16StringReceiver {}
  const wrong = 42 as unknown as string;
  const connected = <P extends Protocol>(p: P): P => (connect(p), p);
  const cases: [string, () => void][] = [
    ["Chat.sendLine", () => connected(new Chat()).sendLine(wrong)],
    ["Lines.sendLine", () => connected(new Lines()).sendLine(wrong)],
    ["Requests.sendString", () => connected(new Requests()).sendString(wrong)],
    ["Frames.sendString", () => connected(new Frames()).sendString(wrong)],
    ["Chat.setLineMode", () => connected(new Chat()).setLineMode(wrong)],
  ];
  for (const [what, call] of cases) {
    assert.throws(call, (e: unknown) => {
      assert.ok(e instanceof TypeError);
      assert.equal(e.message, `${what} takes a Uint8Array or a string, not number`);
      return true;
    });
  }
  // The delimiter too, when a line must be joined to it as bytes.
  const chat = new Chat();
  connect(chat);
  chat.delimiter = 7 as unknown as string;
  assert.throws(() => chat.sendLine(b("hi")), /^TypeError: Chat\.delimiter takes a Uint8Array/);
});
