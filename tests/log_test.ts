import assert from "node:assert/strict";
import { fail, reportUnhandledErrors } from "../defer.ts";
import { Failure } from "../failure.ts";
import {
  addObserver,
  callWithContext,
  currentSystem,
  err,
  FileLogObserver,
  formatEvent,
  formatTime,
  type LogEvent,
  type LogSink,
  msg,
  removeObserver,
  startLogging,
  textFromEvent,
} from "../log.ts";
import { LogFile, LogFileClosedError } from "../services/log_file.ts";

const decoder = new TextDecoder();

function captureLog(): { events: LogEvent[]; [Symbol.dispose](): void } {
  const events: LogEvent[] = [];
  const observer = (event: LogEvent) => void events.push(event);
  addObserver(observer);
  return { events, [Symbol.dispose]: () => removeObserver(observer) };
}

/** A sink that keeps what is written, accepting at most `chunk` bytes per call. */
class MemorySink implements LogSink {
  chunks: Uint8Array[] = [];
  calls = 0;
  constructor(readonly chunk = Infinity) {}
  writeSync(data: Uint8Array): number {
    this.calls++;
    const n = Math.min(data.length, this.chunk);
    this.chunks.push(data.slice(0, n));
    return n;
  }
  get text(): string {
    return this.chunks.map((c) => decoder.decode(c)).join("");
  }
}

const PREFIX = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4} \[([^\]]*)\] /;

Deno.test("formatTime writes local time with the UTC offset as twistd does", async () => {
  const logUrl = new URL("../log.ts", import.meta.url).href;
  const program = `import { formatTime } from ${JSON.stringify(logUrl)};
console.log(formatTime(1277351834));
console.log(formatTime(1277351834.999));
console.log(formatTime(1262304000));`;
  const zones: Record<string, string[]> = {
    "America/Los_Angeles": [
      "2010-06-23 20:57:14-0700",
      "2010-06-23 20:57:14-0700",
      "2009-12-31 16:00:00-0800",
    ],
    "Asia/Kolkata": [
      "2010-06-24 09:27:14+0530",
      "2010-06-24 09:27:14+0530",
      "2010-01-01 05:30:00+0530",
    ],
    "UTC": ["2010-06-24 03:57:14+0000", "2010-06-24 03:57:14+0000", "2010-01-01 00:00:00+0000"],
  };
  for (const [zone, expected] of Object.entries(zones)) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-config", program],
      env: { TZ: zone },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, decoder.decode(out.stderr));
    assert.deepEqual(decoder.decode(out.stdout).trim().split("\n"), expected, zone);
  }
  assert.match(formatTime(Date.now() / 1000), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4}$/);
});

Deno.test("formatEvent puts the time and [system] before the message", () => {
  const line = formatEvent({
    time: 1277351834,
    system: "PoetryFactory,client",
    message: ["sending", 3003, "bytes of poetry to", { type: "TCP", port: 10000 }],
    isError: false,
  });
  assert.equal(
    line.replace(PREFIX, "<$1> "),
    '<PoetryFactory,client> sending 3003 bytes of poetry to { type: "TCP", port: 10000 }',
  );
  assert.ok(line.startsWith(`${formatTime(1277351834)} [PoetryFactory,client] sending`));
});

Deno.test("formatEvent indents every further line with a tab", () => {
  const line = formatEvent({
    time: 0,
    system: "-",
    message: ["multi\nline", "two"],
    isError: false,
  });
  const [first, second, ...rest] = line.split("\n");
  assert.match(first, PREFIX);
  assert.ok(first.endsWith("[-] multi"));
  assert.equal(second, "\tline two");
  assert.deepEqual(rest, []);
});

Deno.test("formatEvent shows an error's explanation, then its traceback, indented", () => {
  const error = new Error("the poem is missing");
  const line = formatEvent({
    time: 0,
    system: "-",
    message: [],
    isError: true,
    failure: new Failure(error),
    why: "Unhandled error in Deferred:",
  });
  const lines = line.split("\n");
  assert.ok(lines[0].endsWith("[-] Unhandled error in Deferred:"));
  assert.equal(lines[1], "\tError: the poem is missing");
  assert.ok(lines.length > 2, "the stack follows");
  for (const more of lines.slice(1)) assert.ok(more.startsWith("\t"), more);
  assert.equal(lines.slice(1).map((l) => l.slice(1)).join("\n"), error.stack);
});

Deno.test("textFromEvent calls an error logged without an explanation Unhandled Error", () => {
  const text = textFromEvent({
    time: 0,
    system: "-",
    message: [],
    isError: true,
    failure: new Failure("a string was thrown"),
  });
  assert.equal(text, "Unhandled Error\nstring: a string was thrown");
});

Deno.test("msg joins its arguments with spaces, strings as they are", () => {
  using log = captureLog();
  msg("a", 1, null, undefined, "b", [1, 2]);
  assert.equal(textFromEvent(log.events[0]), "a 1 null undefined b [ 1, 2 ]");
  assert.equal(log.events[0].isError, false);
  assert.ok(Math.abs(log.events[0].time - Date.now() / 1000) < 60);
});

Deno.test("err wraps what it is given in a Failure and keeps the explanation", () => {
  using log = captureLog();
  const failure = new Failure(new RangeError("too long"));
  err(failure, "while serving:");
  err(new TypeError("bad"));
  assert.equal(log.events[0].failure, failure);
  assert.equal(log.events[0].why, "while serving:");
  assert.equal(log.events[0].isError, true);
  assert.ok(log.events[1].failure?.check(TypeError));
  assert.equal(log.events[1].why, undefined);
});

Deno.test("callWithContext names the system of everything logged inside it", () => {
  using log = captureLog();
  msg("outside");
  callWithContext("PoetryFactory", () => {
    msg("factory");
    callWithContext("PoetryProtocol,0,127.0.0.1", () => err(new Error("x"), "protocol:"));
    msg("factory again");
  });
  assert.throws(() =>
    callWithContext("Broken", () => {
      throw new Error("thrown through");
    })
  );
  msg("after");
  assert.deepEqual(log.events.map((e) => e.system), [
    "-",
    "PoetryFactory",
    "PoetryProtocol,0,127.0.0.1",
    "PoetryFactory",
    "-",
  ]);
  assert.equal(currentSystem(), "-");
  assert.equal(callWithContext("S", () => 42), 42);
});

Deno.test("an observer that throws is removed and the others still see the event", () => {
  using log = captureLog();
  let calls = 0;
  const bad = () => {
    calls++;
    throw new Error("observer broke");
  };
  addObserver(bad);
  const originalError = console.error;
  const reported: unknown[][] = [];
  console.error = (...data: unknown[]) => void reported.push(data);
  try {
    msg("first");
    msg("second");
  } finally {
    console.error = originalError;
    removeObserver(bad);
  }
  assert.equal(calls, 1);
  assert.equal(log.events.length, 2);
  assert.equal(reported.length, 1);
  assert.match(String(reported[0][0]), /observer broke/);
});

Deno.test("FileLogObserver goes on after an error it cannot print, and says Unhandled Error for no why", () => {
  const sink = new MemorySink();
  using observer = new FileLogObserver(sink);
  observer.start();
  err(Object.create(null));
  err(new Error("boom"), "");
  msg("still logging");
  assert.equal(observer.started, true);
  observer.stop();
  const lines = sink.text.split("\n");
  assert.ok(lines[0].endsWith("[-] Unhandled Error"), lines[0]);
  assert.equal(lines[1], "\tobject: <unprintable object>");
  assert.ok(lines[2].endsWith("[-] Unhandled Error"), lines[2]);
  assert.equal(lines[3], "\tError: boom");
  assert.ok(lines.some((line) => line.endsWith("[-] still logging")));
});

Deno.test("FileLogObserver dropped after its sink threw is not started, and starts again", () => {
  let broken = true;
  const written: string[] = [];
  const sink = {
    writeSync(data: Uint8Array): number {
      if (broken) throw new Error("disk full");
      written.push(new TextDecoder().decode(data));
      return data.length;
    },
  };
  using observer = new FileLogObserver(sink);
  observer.start();
  const originalError = console.error;
  console.error = () => {};
  try {
    msg("lost");
  } finally {
    console.error = originalError;
  }
  assert.equal(observer.started, false);
  broken = false;
  observer.start();
  assert.equal(observer.started, true);
  msg("back");
  observer.stop();
  assert.equal(written.length, 1);
  assert.ok(written[0].endsWith("[-] back\n"));
});

Deno.test("FileLogObserver writes each event whole, even through short writes", () => {
  const sink = new MemorySink(7);
  using observer = new FileLogObserver(sink);
  observer.start();
  assert.equal(observer.started, true);
  msg("a fairly long line that needs several writes");
  err(new Error("boom"), "while testing:");
  msg(); // no arguments: nothing written, as twistd
  observer.stop();
  msg("not written after stop");
  const lines = sink.text.split("\n");
  assert.equal(lines.at(-1), "", "ends with a newline");
  assert.ok(lines[0].endsWith("[-] a fairly long line that needs several writes"));
  assert.ok(lines[1].endsWith("[-] while testing:"));
  assert.equal(lines[2], "\tError: boom");
  for (const line of lines.slice(3, -1)) assert.ok(line.startsWith("\t    at "), line);
  assert.ok(sink.calls > lines.length, "the sink was written in short pieces");
  assert.ok(!sink.text.includes("not written"));
});

Deno.test("an unhandled error in a Deferred is logged as twistd logs it", () => {
  reportUnhandledErrors(); // start clean
  const sink = new MemorySink();
  using observer = new FileLogObserver(sink);
  observer.start();
  callWithContext("PoetryProtocol,0,127.0.0.1", () => {
    fail(new Error("the poem is missing"));
  });
  assert.equal(reportUnhandledErrors(), 1);
  const lines = sink.text.trimEnd().split("\n");
  assert.match(lines[0], PREFIX);
  assert.ok(lines[0].endsWith("] Unhandled error in Deferred:"), lines[0]);
  assert.equal(lines[1], "\tError: the poem is missing");
  assert.ok(lines.length > 2);
  for (const line of lines.slice(2)) assert.match(line, /^\t {4}at /);
});

Deno.test("startLogging logs Log opened. first and stops with its observer", () => {
  const sink = new MemorySink();
  const observer = startLogging(sink);
  callWithContext("PoetryService", () => msg("loaded a poem from: poetry/ecstasy.txt"));
  observer.stop();
  msg("after stop");
  const lines = sink.text.trimEnd().split("\n").map((l) => l.replace(PREFIX, "[$1] "));
  assert.deepEqual(lines, [
    "[-] Log opened.",
    "[PoetryService] loaded a poem from: poetry/ecstasy.txt",
  ]);
});

Deno.test("startLogging with captureConsole logs console output until stopped", () => {
  const sink = new MemorySink();
  const originalLog = console.log;
  const observer = startLogging(sink, { captureConsole: true });
  try {
    console.log("printed", 42);
    console.error("complained");
    console.info("%s of %d poems, 100%%", "two", 3.5, "extra");
  } finally {
    observer.stop();
  }
  assert.equal(console.log, originalLog, "the console is given back");
  const lines = sink.text.trimEnd().split("\n").map((l) => l.replace(PREFIX, "[$1] "));
  assert.deepEqual(lines, [
    "[-] Log opened.",
    "[-] printed 42",
    "[-] complained",
    "[-] two of 3 poems, 100% extra", // substituted as the console would
  ]);
});

Deno.test("FileLogObserver with captureConsole leaves what observers print on the real console", () => {
  const sink = new MemorySink();
  const printed: unknown[] = [];
  const originalLog = console.log;
  // An observer that prints every event, as the module example does.
  const printer = (event: LogEvent) => console.log(formatEvent(event));
  using observer = new FileLogObserver(sink, { captureConsole: true });
  const realLog = console.log;
  console.log = (...data: unknown[]) => void printed.push(data);
  try {
    observer.start();
    addObserver(printer);
    msg("once");
  } finally {
    removeObserver(printer);
    observer.stop();
    console.log = realLog;
  }
  assert.equal(console.log, originalLog);
  assert.equal(printed.length, 1, "the printer's output reached the real console once");
  assert.equal(sink.text.trimEnd().split("\n").length, 1);
});

// ---- LogFile ----

async function withTempDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "poetry_log_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Numbered lines of 97 bytes: 1,000,000 is not a multiple, so one line crosses each limit. */
function makeLines(totalBytes: number): string[] {
  const lines: string[] = [];
  for (let i = 0, size = 0; size < totalBytes; i++) {
    const line = `line ${String(i).padStart(8, "0")} `.padEnd(96, "x") + "\n";
    lines.push(line);
    size += line.length;
  }
  return lines;
}

function read(path: string): string {
  return Deno.readTextFileSync(path);
}

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("LogFile rotates 3.5 MB at 1 MB into NAME.3, NAME.2, NAME.1 and NAME, losing nothing", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/twistd.log`;
    const lines = makeLines(3_500_000);
    using file = new LogFile(path);
    for (const line of lines) file.write(line);
    file.close();
    assert.deepEqual(names(dir), ["twistd.log", "twistd.log.1", "twistd.log.2", "twistd.log.3"]);
    const everything = lines.join("");
    const parts = [".3", ".2", ".1", ""].map((suffix) => read(path + suffix));
    assert.equal(parts.join(""), everything, "oldest to newest, nothing lost or duplicated");
    for (const part of parts.slice(0, 3)) {
      // Rotation happens between writes: each rotated file passed the limit by less than a
      // line and ends with a whole line.
      assert.ok(part.length >= 1_000_000 && part.length < 1_000_000 + 97, `${part.length}`);
      assert.ok(part.endsWith("\n"));
    }
    assert.ok(parts[0].startsWith("line 00000000 "));
    assert.equal(file.listLogs().join(), "1,2,3");
  });
});

Deno.test("LogFile keeps only maxRotatedFiles rotated files", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/app.log`;
    const lines = makeLines(3_500_000);
    using file = new LogFile(path, { maxRotatedFiles: 2 });
    for (const line of lines) file.write(line);
    assert.deepEqual(names(dir), ["app.log", "app.log.1", "app.log.2"]);
    const kept = [".2", ".1", ""].map((suffix) => read(path + suffix)).join("");
    assert.ok(lines.join("").endsWith(kept), "the newest lines, in order");
    assert.ok(kept.length > 2_000_000);
  });
});

Deno.test("LogFile gives every file it opens its defaultMode, a new one after rotation too", async () => {
  await withTempDir((dir) => {
    const mode = (path: string) => (Deno.statSync(path).mode! & 0o777).toString(8);
    const path = `${dir}/app.log`;
    Deno.writeTextFileSync(path, "an older log\n", { mode: 0o644 });
    Deno.chmodSync(path, 0o644);
    using file = new LogFile(path, { rotateLength: 20, defaultMode: 0o600 });
    assert.equal(mode(path), "600", "an existing file is changed to it");
    file.write("enough to rotate it\n");
    file.write("into a new file\n");
    assert.deepEqual(names(dir), ["app.log", "app.log.1"]);
    assert.equal(mode(path), "600", "the new file is created with it");
    using plain = new LogFile(`${dir}/plain.log`);
    assert.equal(plain.defaultMode, undefined);
    Deno.writeTextFileSync(`${dir}/other`, ""); // what the umask leaves of 0o666
    assert.equal(mode(`${dir}/plain.log`), mode(`${dir}/other`));
  });
});

Deno.test("LogFile keeps an existing file's mode for the files after rotation, as Twisted", async () => {
  await withTempDir((dir) => {
    const mode = (path: string) => (Deno.statSync(path).mode! & 0o777).toString(8);
    const path = `${dir}/app.log`;
    Deno.writeTextFileSync(path, "");
    Deno.chmodSync(path, 0o640);
    using file = new LogFile(path, { rotateLength: 5 });
    assert.equal(file.defaultMode, 0o640);
    file.write("rotate me\n");
    file.write("new file\n");
    assert.deepEqual(names(dir), ["app.log", "app.log.1"]);
    assert.equal(mode(path), "640");
  });
});

Deno.test("LogFile rotates a file that is due even on an empty write, as Twisted", async () => {
  await withTempDir((dir) => {
    using file = new LogFile(`${dir}/app.log`, { rotateLength: 10 });
    file.write("more than ten bytes\n");
    file.write("");
    assert.deepEqual(file.listLogs(), [1]);
    assert.equal(file.size, 0);
  });
});

Deno.test("LogFile with rotateLength 0 never rotates, as Twisted", async () => {
  await withTempDir((dir) => {
    using file = new LogFile(`${dir}/app.log`, { rotateLength: 0 });
    for (let i = 0; i < 3; i++) file.write("a line of the log\n");
    assert.deepEqual(file.listLogs(), []);
    assert.equal(file.rotateLength, 0);
  });
});

Deno.test("LogFile makes a relative path absolute, so rotation survives a change of directory", async () => {
  await withTempDir((dir) => {
    const before = Deno.cwd();
    Deno.chdir(dir);
    try {
      using file = LogFile.fromFullPath("app.log", { rotateLength: 5 });
      assert.equal(file.path, `${Deno.realPathSync(dir)}/app.log`);
      Deno.chdir(before);
      file.write("rotate me\n");
      file.write("still here\n");
      assert.deepEqual(names(dir), ["app.log", "app.log.1"]);
    } finally {
      Deno.chdir(before);
    }
  });
});

Deno.test("LogFile writes through startLogging rotate between events", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/twistd.log`;
    using file = new LogFile(path, { rotateLength: 200, maxRotatedFiles: Infinity });
    using observer = startLogging(file);
    for (let i = 0; i < 20; i++) msg(`event ${i}\nsecond line of event ${i}`);
    observer.stop();
    const logs = file.listLogs();
    assert.ok(logs.length >= 5, `${logs}`);
    const text = [...logs.reverse().map((n) => read(`${path}.${n}`)), read(path)].join("");
    const events = text.split(/\n(?!\t)/).filter((e) => e !== "");
    assert.equal(events.length, 21);
    assert.ok(events[0].endsWith("[-] Log opened."));
    for (let i = 0; i < 20; i++) {
      assert.ok(events[i + 1].endsWith(`[-] event ${i}\n\tsecond line of event ${i}`));
    }
    // No event was split across two files.
    for (const n of file.listLogs()) assert.match(read(`${path}.${n}`), PREFIX);
  });
});

Deno.test("LogFile.reopen writes to a new file after the old one was renamed", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/app.log`;
    using file = new LogFile(path);
    file.write("before\n");
    Deno.renameSync(path, `${dir}/app.log.old`);
    file.write("still the old file\n");
    file.reopen();
    file.write("after\n");
    assert.equal(read(`${dir}/app.log.old`), "before\nstill the old file\n");
    assert.equal(read(path), "after\n");
    assert.equal(file.size, 6);
  });
});

Deno.test("LogFile.rotate after the file was moved away opens a new one and shifts nothing", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/app.log`;
    using file = new LogFile(path, { rotateLength: 6 });
    file.write("abc\n");
    file.rotate();
    Deno.renameSync(path, `${dir}/moved`);
    file.write("def\n"); // to the moved file, still open
    file.rotate(); // nothing to become app.log.1: app.log.1 stays where it is
    file.write("ghi\n");
    assert.deepEqual(names(dir), ["app.log", "app.log.1", "moved"]);
    assert.equal(read(`${path}.1`), "abc\n");
    assert.equal(read(`${dir}/moved`), "def\n");
    assert.equal(read(path), "ghi\n");
    // The same when a write rotates, and rotation goes on afterwards.
    Deno.renameSync(path, `${dir}/moved2`);
    file.write("jklmno\n"); // to moved2, which now needs rotating
    file.write("pqr\n"); // a new app.log
    file.write("stuvwx\n");
    file.write("yz\n"); // rotates app.log as usual
    assert.deepEqual(names(dir), ["app.log", "app.log.1", "app.log.2", "moved", "moved2"]);
    assert.equal(read(`${dir}/moved2`), "ghi\njklmno\n");
    assert.equal(read(`${path}.2`), "abc\n");
    assert.equal(read(`${path}.1`), "pqr\nstuvwx\n");
    assert.equal(read(path), "yz\n");
  });
});

Deno.test("LogFile appends to an existing file and rotates it first if already over", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/app.log`;
    Deno.writeTextFileSync(path, "old line\n");
    {
      using file = new LogFile(path, { rotateLength: 20 });
      assert.equal(file.size, 9);
      file.write("new line\n");
    }
    assert.equal(read(path), "old line\nnew line\n");
    Deno.writeTextFileSync(path, "x".repeat(30) + "\n");
    using file = new LogFile(path, { rotateLength: 20 });
    file.write("fresh\n");
    assert.equal(read(`${path}.1`), "x".repeat(30) + "\n");
    assert.equal(read(path), "fresh\n");
  });
});

Deno.test("LogFile rotation deletes rotated files beyond maxRotatedFiles left from before", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/app.log`;
    for (const n of [1, 2, 5]) Deno.writeTextFileSync(`${path}.${n}`, `old ${n}\n`);
    Deno.writeTextFileSync(`${path}.backup`, "not a rotated file\n");
    using file = new LogFile(path, { maxRotatedFiles: 2 });
    file.write("current\n");
    file.rotate();
    assert.deepEqual(names(dir), ["app.log", "app.log.1", "app.log.2", "app.log.backup"]);
    assert.equal(read(`${path}.1`), "current\n");
    assert.equal(read(`${path}.2`), "old 1\n");
    assert.equal(read(path), "");
  });
});

Deno.test("LogFile with maxRotatedFiles 0 starts the file again at the limit", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/app.log`;
    using file = new LogFile(path, { rotateLength: 10, maxRotatedFiles: 0 });
    file.write("0123456789\n");
    file.write("next\n");
    assert.deepEqual(names(dir), ["app.log"]);
    assert.equal(read(path), "next\n");
  });
});

Deno.test("LogFile refuses writes after close and bad limits", async () => {
  await withTempDir((dir) => {
    const file = new LogFile(`${dir}/app.log`);
    file.close();
    assert.equal(file.closed, true);
    assert.throws(() => file.write("x\n"), LogFileClosedError);
    assert.throws(() => file.rotate(), /log file .*app\.log is closed/);
    file.reopen();
    file.write("open again\n");
    file.close();
    assert.equal(read(`${dir}/app.log`), "open again\n");
    assert.throws(() => new LogFile(`${dir}/b.log`, { rotateLength: -1 }), RangeError);
    assert.throws(() => new LogFile(`${dir}/b.log`, { rotateLength: 1.5 }), RangeError);
    assert.throws(() => new LogFile(`${dir}/b.log`, { maxRotatedFiles: -1 }), RangeError);
    assert.throws(() => new LogFile(`${dir}/missing/c.log`), Deno.errors.NotFound);
  });
});
