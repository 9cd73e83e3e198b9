/**
 * {@linkcode LogFile}: a log file that rotates itself by size, as Twisted's
 * `twisted.python.logfile.LogFile`, which twistd writes its log to when it runs as a daemon.
 *
 * When the file has reached its size limit, the next write first renames it `NAME.1` (an older
 * `NAME.1` becomes `NAME.2`, and so on) and starts a new, empty `NAME`. Only the newest
 * `maxRotatedFiles` rotated files are kept — 10 by default, where twistd keeps them all until
 * the disk fills.
 *
 * @example Log to a rotating file
 * ```ts
 * import { msg, startLogging } from "@poetry/serve/log";
 * import { LogFile } from "@poetry/serve/log-file";
 *
 * const dir = await Deno.makeTempDir();
 * using file = new LogFile(`${dir}/twistd.log`, { rotateLength: 1_000_000 });
 * using observer = startLogging(file);
 * msg("loaded a poem from: poetry/ecstasy.txt");
 * observer.stop();
 * console.log(Deno.readTextFileSync(`${dir}/twistd.log`).includes("loaded a poem")); // true
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import type { LogSink } from "../log.ts";

export type { LogSink } from "../log.ts";

/**
 * Options for {@linkcode LogFile}.
 *
 * @example Keep three old logs of 64 KiB each
 * ```ts
 * import { LogFile, type LogFileOptions } from "@poetry/serve/log-file";
 *
 * const dir = await Deno.makeTempDir();
 * const options: LogFileOptions = { rotateLength: 65_536, maxRotatedFiles: 3 };
 * const file = new LogFile(`${dir}/twistd.log`, options);
 * console.log(file.rotateLength, file.maxRotatedFiles); // 65536 3
 * file.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface LogFileOptions {
  /**
   * The size in bytes at which the file is rotated (before the next write; Twisted counts a
   * string's characters). `0` or `Infinity` never rotates (Twisted's `0` or `None`).
   * @default {1_000_000}
   */
  rotateLength?: number;
  /**
   * How many rotated files (`NAME.1` … `NAME.N`) to keep; older ones are deleted at rotation.
   * `0` keeps none (the file just starts again; Twisted keeps one then); `Infinity` keeps all,
   * as twistd does.
   * @default {10}
   */
  maxRotatedFiles?: number;
  /**
   * The mode (e.g. `0o600`) the log file is given whenever it is opened, a new one after
   * rotation included, as Twisted's `defaultMode`. By default, as in Twisted, it is the mode
   * of the file as it is when the `LogFile` is made, so the files that follow rotation keep it;
   * a file made new gets what the umask leaves of `0o666`.
   * @default {the existing file's mode}
   */
  defaultMode?: number;
}

/**
 * Thrown when a {@linkcode LogFile} is written to or rotated after
 * {@linkcode LogFile.close}.
 *
 * @example
 * ```ts
 * import { LogFile, LogFileClosedError } from "@poetry/serve/log-file";
 * const dir = await Deno.makeTempDir();
 * const file = new LogFile(`${dir}/app.log`);
 * file.close();
 * try {
 *   file.write("too late\n");
 * } catch (e) {
 *   console.log(e instanceof LogFileClosedError); // true
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class LogFileClosedError extends Error {
  /** The path of the closed log file. */
  readonly path: string;

  /**
   * An error for the closed file at `path`.
   *
   * @example
   * ```ts
   * import { LogFileClosedError } from "@poetry/serve/log-file";
   * console.log(new LogFileClosedError("twistd.log").message); // log file twistd.log is closed
   * ```
   */
  constructor(path: string) {
    super(`log file ${path} is closed`);
    this.name = "LogFileClosedError";
    this.path = path;
  }
}

const encoder = new TextEncoder();

function splitPath(path: string): { dir: string; base: string } {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (i < 0) return { dir: ".", base: path };
  return { dir: i === 0 ? path.slice(0, 1) : path.slice(0, i), base: path.slice(i + 1) };
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Whether `path` is absolute, on POSIX or Windows. */
function isAbsolute(path: string): boolean {
  return /^(?:[A-Za-z]:)?[\\/]/.test(path);
}

/** The permission bits of the file at `path`, or `undefined` if there is none. */
function existingMode(path: string): number | undefined {
  try {
    const mode = Deno.statSync(path).mode;
    return mode === null ? undefined : mode & 0o7777;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

function checkLimit(name: string, value: number, min: number): void {
  if (!(value === Infinity || (Number.isInteger(value) && value >= min))) {
    throw new RangeError(
      `${name} must be an integer of at least ${min}, or Infinity; got ${value}`,
    );
  }
}

/**
 * A log file that rotates by size. Writes are synchronous and whole: each
 * {@linkcode LogFile.write} reaches the operating system before it returns, and goes entirely
 * into one file — rotation happens only between writes, so a line that crosses the limit stays
 * in the file it started in and nothing is lost or written twice.
 *
 * It is a {@linkcode LogSink}: give it to `startLogging` or `FileLogObserver`.
 *
 * Opening an existing file appends to it (and rotates it at the first write if it is already
 * over the limit). If a rotation fails (the directory is not writable), the error is reported
 * once on stderr, writing goes on in the current file, and automatic rotation stays off until
 * {@linkcode LogFile.reopen} or a successful {@linkcode LogFile.rotate}.
 *
 * @example Rotate at a small size
 * ```ts
 * import { LogFile } from "@poetry/serve/log-file";
 *
 * const dir = await Deno.makeTempDir();
 * const file = new LogFile(`${dir}/app.log`, { rotateLength: 10, maxRotatedFiles: 2 });
 * for (const line of ["one\n", "two\n", "three\n", "four\n", "five\n", "six\n"]) file.write(line);
 * file.close();
 * console.log(file.listLogs()); // [ 1, 2 ]
 * console.log(Deno.readTextFileSync(`${dir}/app.log`)); // "six\n"
 * console.log(Deno.readTextFileSync(`${dir}/app.log.1`)); // "four\nfive\n"
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class LogFile implements LogSink, Disposable {
  /** The path of the current log file. */
  readonly path: string;
  /** The size at which the file rotates (see {@linkcode LogFileOptions.rotateLength}). */
  readonly rotateLength: number;
  /** How many rotated files are kept (see {@linkcode LogFileOptions.maxRotatedFiles}). */
  readonly maxRotatedFiles: number;
  /** The mode each file is given (see {@linkcode LogFileOptions.defaultMode}). */
  readonly defaultMode: number | undefined;
  #file: Deno.FsFile | undefined;
  #size = 0;
  #rotationBroken = false;
  #modeGiven = false;

  /**
   * Opens (creating if needed) the log file at `path` for appending.
   *
   * @throws {RangeError} if `rotateLength` or `maxRotatedFiles` is not a non-negative integer
   *   or `Infinity`.
   * @throws {Deno.errors.NotFound} if the directory does not exist, and the other errors of
   * `Deno.openSync`.
   * @example
   * ```ts
   * import { LogFile } from "@poetry/serve/log-file";
   * const dir = await Deno.makeTempDir();
   * using file = new LogFile(`${dir}/twistd.log`);
   * console.log(file.size, file.rotateLength, file.maxRotatedFiles); // 0 1000000 10
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  constructor(path: string, options: LogFileOptions = {}) {
    const { rotateLength = 1_000_000, maxRotatedFiles = 10 } = options;
    checkLimit("rotateLength", rotateLength, 0);
    checkLimit("maxRotatedFiles", maxRotatedFiles, 0);
    // Absolute, as Twisted makes it: rotation renames by path, and the process may change
    // directory meanwhile (the runner's --rundir, a daemon's chdir to /).
    this.path = isAbsolute(path) ? path : `${Deno.cwd()}/${path}`;
    this.rotateLength = rotateLength;
    this.maxRotatedFiles = maxRotatedFiles;
    this.defaultMode = options.defaultMode ?? existingMode(this.path);
    this.#open(options.defaultMode !== undefined);
  }

  /**
   * The same as `new LogFile(path, options)`, under Twisted's name.
   *
   * @example
   * ```ts
   * import { LogFile } from "@poetry/serve/log-file";
   * const dir = await Deno.makeTempDir();
   * using file = LogFile.fromFullPath(`${dir}/twistd.log`, { maxRotatedFiles: 5 });
   * console.log(file.maxRotatedFiles); // 5
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  static fromFullPath(path: string, options: LogFileOptions = {}): LogFile {
    return new LogFile(path, options);
  }

  /**
   * The size of the current file in bytes.
   *
   * @example
   * ```ts
   * import { LogFile } from "@poetry/serve/log-file";
   * const dir = await Deno.makeTempDir();
   * using file = new LogFile(`${dir}/app.log`);
   * file.write("hello\n");
   * console.log(file.size); // 6
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  get size(): number {
    return this.#size;
  }

  /**
   * Whether {@linkcode LogFile.close} was called (and no {@linkcode LogFile.reopen} since).
   *
   * @example
   * ```ts
   * import { LogFile } from "@poetry/serve/log-file";
   * const dir = await Deno.makeTempDir();
   * const file = new LogFile(`${dir}/app.log`);
   * file.close();
   * console.log(file.closed); // true
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  get closed(): boolean {
    return this.#file === undefined;
  }

  /**
   * Writes `data` (a string is written as UTF-8) wholly to the current file, after rotating
   * it first if it has reached {@linkcode LogFile.rotateLength}.
   *
   * @throws {LogFileClosedError} if the file is closed.
   * @example
   * ```ts
   * import { LogFile } from "@poetry/serve/log-file";
   * const dir = await Deno.makeTempDir();
   * using file = new LogFile(`${dir}/app.log`);
   * file.write("a line\n");
   * console.log(Deno.readTextFileSync(file.path)); // "a line\n"
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  write(data: string | Uint8Array): void {
    this.#current();
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    // Even an empty write rotates a file that is due, as in Twisted.
    const limit = this.rotateLength;
    if (!this.#rotationBroken && this.#size > 0 && limit > 0 && this.#size >= limit) {
      try {
        this.rotate();
      } catch (e) {
        this.#rotationBroken = true;
        const reason = e instanceof Error ? e.message : String(e);
        Deno.stderr.writeSync(encoder.encode(
          `could not rotate log file ${this.path}, writing on without rotating: ${reason}\n`,
        ));
      }
    }
    if (bytes.length !== 0) this.#writeAll(this.#current(), bytes);
  }

  /**
   * The {@linkcode LogSink} method: writes all of `data` as {@linkcode LogFile.write} does and
   * returns its length.
   *
   * @throws {LogFileClosedError} if the file is closed.
   * @example
   * ```ts
   * import { LogFile } from "@poetry/serve/log-file";
   * const dir = await Deno.makeTempDir();
   * using file = new LogFile(`${dir}/app.log`);
   * console.log(file.writeSync(new TextEncoder().encode("hi\n"))); // 3
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  writeSync(data: Uint8Array): number {
    this.write(data);
    return data.length;
  }

  /**
   * The numbers of the rotated files that exist now (`NAME.1` is 1), in increasing order —
   * the newest first.
   *
   * @example
   * ```ts
   * import { LogFile } from "@poetry/serve/log-file";
   * const dir = await Deno.makeTempDir();
   * using file = new LogFile(`${dir}/app.log`);
   * file.write("old\n");
   * file.rotate();
   * console.log(file.listLogs()); // [ 1 ]
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  listLogs(): number[] {
    const { dir, base } = splitPath(this.path);
    const prefix = base + ".";
    const numbers: number[] = [];
    for (const entry of Deno.readDirSync(dir)) {
      if (!entry.name.startsWith(prefix)) continue;
      const suffix = entry.name.slice(prefix.length);
      if (/^[1-9][0-9]*$/.test(suffix)) numbers.push(Number(suffix));
    }
    return numbers.sort((a, b) => a - b);
  }

  /**
   * Rotates now: `NAME.N` becomes `NAME.N+1` (deleted instead when that is past
   * {@linkcode LogFile.maxRotatedFiles}), `NAME` becomes `NAME.1`, and a new empty `NAME` is
   * opened. Whatever happens, a file is open at `NAME` afterwards. If `NAME` was renamed or
   * removed from outside, nothing is shifted: a new `NAME` is opened, as by
   * {@linkcode LogFile.reopen}. (Twisted's then does nothing and goes on writing to the
   * renamed file.)
   *
   * @throws {LogFileClosedError} if the file is closed.
   * @throws the file system's error if a rename or delete fails.
   * @example
   * ```ts
   * import { LogFile } from "@poetry/serve/log-file";
   * const dir = await Deno.makeTempDir();
   * using file = new LogFile(`${dir}/app.log`);
   * file.write("first\n");
   * file.rotate();
   * file.write("second\n");
   * console.log(Deno.readTextFileSync(`${file.path}.1`)); // "first\n"
   * console.log(Deno.readTextFileSync(file.path)); // "second\n"
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  rotate(): void {
    this.#current().close();
    this.#file = undefined;
    try {
      // Renamed or removed from outside (see reopen): there is nothing to become NAME.1, and
      // shifting the numbered files anyway would leave a gap there. Just open a new NAME.
      if (!exists(this.path)) return;
      for (const n of this.listLogs().reverse()) {
        const from = `${this.path}.${n}`;
        if (n + 1 > this.maxRotatedFiles) Deno.removeSync(from);
        else Deno.renameSync(from, `${this.path}.${n + 1}`);
      }
      if (this.maxRotatedFiles >= 1) Deno.renameSync(this.path, `${this.path}.1`);
      else Deno.removeSync(this.path);
      this.#rotationBroken = false;
    } finally {
      this.#open();
    }
  }

  /**
   * Closes the file and opens `path` again — after something outside renamed or removed the
   * file (logrotate, an administrator), so that writing goes on in a file at `path` rather
   * than in the renamed one. Runners call it on `SIGHUP`. Also re-enables automatic rotation
   * after a failed one, and opens a closed `LogFile` again.
   *
   * @example
   * ```ts
   * import { LogFile } from "@poetry/serve/log-file";
   * const dir = await Deno.makeTempDir();
   * using file = new LogFile(`${dir}/app.log`);
   * file.write("before\n");
   * Deno.renameSync(file.path, `${dir}/app.log.old`);
   * file.reopen();
   * file.write("after\n");
   * console.log(Deno.readTextFileSync(file.path)); // "after\n"
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  reopen(): void {
    if (this.#file !== undefined) {
      this.#file.close();
      this.#file = undefined;
    }
    this.#rotationBroken = false;
    this.#open();
  }

  /**
   * Closes the file. Does nothing if it is already closed.
   *
   * @example
   * ```ts
   * import { LogFile } from "@poetry/serve/log-file";
   * const dir = await Deno.makeTempDir();
   * const file = new LogFile(`${dir}/app.log`);
   * file.close();
   * file.close();
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  close(): void {
    if (this.#file === undefined) return;
    this.#file.close();
    this.#file = undefined;
  }

  /**
   * Same as {@linkcode LogFile.close}, for `using`.
   *
   * @example
   * ```ts
   * import { LogFile } from "@poetry/serve/log-file";
   * const dir = await Deno.makeTempDir();
   * {
   *   using file = new LogFile(`${dir}/app.log`);
   *   file.write("closed at the end of the block\n");
   * }
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `given`: the mode was asked for, not read from the file, so it must be set. */
  #open(given = this.#modeGiven): void {
    this.#modeGiven = given;
    const mode = this.defaultMode;
    // A new file is created with the mode (never readable by others, even for a moment); an
    // existing one is changed to it, as Twisted's LogFile does.
    const file = Deno.openSync(this.path, { append: true, create: true, mode });
    try {
      if (mode !== undefined) {
        try {
          Deno.chmodSync(this.path, mode);
        } catch (e) {
          // A file not ours (/dev/null, say) that was already in this mode: as in Twisted.
          if (given || !(e instanceof Deno.errors.PermissionDenied)) throw e;
        }
      }
      this.#size = file.statSync().size;
    } catch (e) {
      file.close();
      throw e;
    }
    this.#file = file;
  }

  #current(): Deno.FsFile {
    if (this.#file === undefined) throw new LogFileClosedError(this.path);
    return this.#file;
  }

  #writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
    let written = 0;
    while (written < bytes.length) {
      const n = file.writeSync(bytes.subarray(written));
      written += n;
      this.#size += n;
    }
  }
}
