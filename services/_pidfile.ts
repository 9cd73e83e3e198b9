/**
 * The runner's pid file. Unlike twistd, which trusts any live process named in a pid file, the
 * running server holds an exclusive advisory lock on its pid file for as long as it runs: the
 * file names a running server exactly when it is locked. A file naming a dead process, or a
 * live one that reused the pid (and so holds no lock), is stale and is replaced.
 *
 * @module
 */

/** Resolves `path` against the current directory, as twistd makes its pid file absolute. */
export function absolutePath(path: string): string {
  if (path.startsWith("/")) return path;
  const cwd = Deno.cwd();
  return cwd.endsWith("/") ? cwd + path : `${cwd}/${path}`;
}

/** Another server holds the pid file. */
export class AlreadyRunningError extends Error {
  /** The pid the file names, when it names one. */
  readonly pid: number | undefined;
  /** The pid file's absolute path. */
  readonly path: string;

  constructor(path: string, pid: number | undefined) {
    super(
      pid === undefined
        ? `another server is starting with the pid file ${path}`
        : `another server is running, PID ${pid} (pid file ${path}); stop it, or use another ` +
          `--pidfile and --logfile`,
    );
    this.name = "AlreadyRunningError";
    this.pid = pid;
    this.path = path;
  }
}

function readPid(file: Deno.FsFile): { text: string; pid: number | undefined } {
  file.seekSync(0, Deno.SeekMode.Start);
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(64);
  let total = 0;
  while (total < 4096) {
    const n = file.readSync(buffer);
    if (n === null || n === 0) break;
    chunks.push(buffer.slice(0, n));
    total += n;
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  const text = new TextDecoder().decode(bytes).trim();
  return { text, pid: /^\d+$/.test(text) ? Number(text) : undefined };
}

/**
 * Whether a process with this pid exists, when that can be told (`undefined` when not: telling
 * needs Deno's unscoped run permission).
 */
function processExists(pid: number): boolean | undefined {
  try {
    Deno.kill(pid, 0);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    // EPERM: it exists but belongs to someone else.
    if (e instanceof Deno.errors.PermissionDenied) return true;
    // NotCapable: no permission to ask.
    return undefined;
  }
}

/**
 * Fails with {@linkcode AlreadyRunningError} when `path` is held by a running server; does not
 * change the file. The daemon's parent calls this to fail fast before it starts the daemon.
 */
export function checkPidFile(path: string): void {
  const full = absolutePath(path);
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(full, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  try {
    if (!file.tryLockSync(true)) throw new AlreadyRunningError(full, readPid(file).pid);
  } finally {
    file.close();
  }
}

/** A pid file this process holds (locked) until {@linkcode PidFile.remove}. */
export class PidFile {
  /** The pid file's absolute path. */
  readonly path: string;
  #file: Deno.FsFile | undefined;

  /** Wraps an open, locked pid file; use {@linkcode PidFile.acquire}. */
  constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /**
   * Takes the pid file at `path`: creates it or, when it is stale, replaces what it holds, and
   * holds its lock. It names this process from then on, so that nothing reading it while the
   * server starts finds it empty. `warn` receives a line saying why a stale file is replaced.
   * A file it creates gets `mode` (less the umask), by default what the umask leaves of `0o666`.
   *
   * @throws {AlreadyRunningError} When a running server holds it.
   */
  static acquire(path: string, warn: (message: string) => void, mode?: number): PidFile {
    const full = absolutePath(path);
    for (let attempt = 0;; attempt++) {
      const file = Deno.openSync(full, { read: true, write: true, create: true, mode });
      let keep = false;
      try {
        if (!file.tryLockSync(true)) throw new AlreadyRunningError(full, readPid(file).pid);
        // The file may have been removed or replaced between opening and locking it (by the
        // server that held it, shutting down): then lock the file now at that path instead.
        let current: Deno.FileInfo | undefined;
        try {
          current = Deno.statSync(full);
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
        if (current?.ino !== file.statSync().ino && attempt < 5) continue;
        const { text, pid } = readPid(file);
        if (text !== "" && pid !== Deno.pid) {
          if (pid === undefined) {
            warn(`Removing stale pid file ${full}: it holds no pid (${JSON.stringify(text)})`);
          } else {
            const alive = processExists(pid);
            const why = alive === true
              ? `PID ${pid} is running but is not this server (the pid was reused)`
              : alive === false
              ? `PID ${pid} is not running`
              : `PID ${pid} does not hold it`;
            warn(`Removing stale pid file ${full}: ${why}`);
          }
        }
        const pidfile = new PidFile(full, file);
        pidfile.write();
        keep = true;
        return pidfile;
      } finally {
        if (!keep) file.close();
      }
    }
  }

  /** Writes `pid` (this process's by default) into the file. */
  write(pid: number = Deno.pid): void {
    const file = this.#file;
    if (!file) throw new Error(`pid file ${this.path} was already removed`);
    file.truncateSync(0);
    file.seekSync(0, Deno.SeekMode.Start);
    const bytes = new TextEncoder().encode(`${pid}\n`);
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
  }

  /**
   * Removes the file and releases its lock. Does nothing the second time. A file that another
   * server now holds at the path (after someone removed this one) is left alone.
   *
   * This needs only write permission (read is revoked after start-up): the lock is released,
   * then the file at the path is locked afresh and removed only if that succeeds — a file no
   * running server holds is this one, or stale.
   *
   * @throws The error from removing the file, after the lock is released anyway.
   */
  remove(): void {
    const file = this.#file;
    if (!file) return;
    this.#file = undefined;
    try {
      file.unlockSync();
      let probe: Deno.FsFile;
      try {
        probe = Deno.openSync(this.path, { write: true });
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return;
        throw e;
      }
      try {
        if (!probe.tryLockSync(true)) return;
        try {
          Deno.removeSync(this.path);
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
      } finally {
        probe.close();
      }
    } finally {
      file.close();
    }
  }
}
