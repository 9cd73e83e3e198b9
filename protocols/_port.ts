/**
 * Listening ports over `Deno.listen` (TCP, UNIX) and `Deno.listenTls`: open at once (or throw
 * `CannotListenError`), accept in a loop that survives accept errors, build one protocol per
 * connection. Private: the reactor's `listenTCP`, `listenUNIX` and `listenSSL` create these.
 *
 * @module
 */

import { Deferred } from "../defer.ts";
import { checkFactory } from "./_check_factory.ts";
import { CannotListenError } from "../error.ts";
import { whenAborted } from "../_on_abort.ts";
import { callWithContext, err, msg } from "../log.ts";
import type { DelayedCall } from "../_timers.ts";
import type { Factory } from "./factory.ts";
import type { Address } from "./protocol.ts";
import {
  protocolLogPrefix,
  type ReactorHooks,
  type StreamKind,
  StreamTransport,
  systemMessage,
  toAddress,
  type TransportOwner,
} from "./_transport.ts";

/** The mode a UNIX socket gets when none is given: Twisted's `listenUNIX` default. */
const UNIX_SOCKET_MODE = 0o666;

/** What to listen on. */
export type ListenSpec =
  | { kind: "TCP"; port: number; interface: string; backlog?: number }
  | {
    kind: "TLS";
    port: number;
    interface: string;
    backlog?: number;
    cert: string;
    key: string;
  }
  | { kind: "UNIX"; path: string; mode?: number };

/** A PEM string as it is, or the contents of the file it names. */
export function pemOrFile(value: string, what: string): string {
  if (value.includes("-----BEGIN")) return value;
  try {
    return Deno.readTextFileSync(value);
  } catch (e) {
    throw new TypeError(`cannot read the ${what} from ${value}: ${systemMessage(e)}`, {
      cause: e,
    });
  }
}

/** An accept that failed because the connection was reset before it could be accepted. */
function resetBeforeAccepted(e: unknown): boolean {
  return e instanceof Deno.errors.NotConnected || e instanceof Deno.errors.ConnectionReset ||
    e instanceof Deno.errors.ConnectionAborted;
}

/** What a port tells the reactor beyond its connections. */
export interface PortHooks extends ReactorHooks {
  /** The port has stopped listening and its accept loop has ended. */
  portStopped(port: Port): void;
}

/**
 * A listening port: `getHost()`, `stopListening()` and `Symbol.asyncDispose`, as the reactor's
 * `ListeningPort` interface describes.
 */
export class Port implements TransportOwner, AsyncDisposable {
  #spec: ListenSpec;
  #factory: Factory;
  #hooks: PortHooks;
  #listener: Deno.Listener | null = null;
  #host: Address | null = null;
  #sessionno = 0;
  #stopping = false;
  #done: Promise<void> | null = null;
  #nap: { call: DelayedCall; resolve: () => void } | null = null;
  /** Stops following the abort signal given to listen, if any. */
  #unwatch: (() => void) | null = null;

  /** A port for `spec`, building protocols with `factory`; it listens once started. */
  constructor(spec: ListenSpec, factory: Factory, hooks: PortHooks) {
    checkFactory(factory, `listen${spec.kind === "TLS" ? "SSL" : spec.kind}`, false);
    this.#spec = spec;
    this.#factory = factory;
    this.#hooks = hooks;
  }

  /** The port number (or path) as log lines show it. */
  get #label(): string {
    const host = this.#host;
    if (host === null) {
      return this.#spec.kind === "UNIX" ? this.#spec.path : String(this.#spec.port);
    }
    return host.type === "UNIX" ? host.path : String(host.port);
  }

  /**
   * Opens the listening socket, logs `<factory> starting on <port>`, starts the factory and
   * begins accepting.
   *
   * @throws {CannotListenError} if the socket cannot be opened.
   * @throws what the factory's `startFactory()` throws, after closing the socket.
   */
  startListening(): void {
    const spec = this.#spec;
    // Unreadable key material is the caller's mistake, not the port's: it throws as it is.
    const cert = spec.kind === "TLS" ? pemOrFile(spec.cert, "certificate") : "";
    const key = spec.kind === "TLS" ? pemOrFile(spec.key, "private key") : "";
    let listener: Deno.Listener;
    try {
      if (spec.kind === "UNIX") {
        listener = Deno.listen({ transport: "unix", path: spec.path });
        // As Twisted, 0o666 unless told otherwise: connecting needs write permission, and the
        // umask alone (commonly 0o022) would let no other user connect.
        try {
          Deno.chmodSync(spec.path, spec.mode ?? UNIX_SOCKET_MODE);
        } catch (e) {
          this.#release(listener);
          throw e;
        }
      } else if (spec.kind === "TCP") {
        listener = Deno.listen({
          transport: "tcp",
          hostname: spec.interface,
          port: spec.port,
          ...(spec.backlog === undefined ? {} : { tcpBacklog: spec.backlog }),
        });
      } else {
        listener = Deno.listenTls({
          transport: "tcp",
          hostname: spec.interface,
          port: spec.port,
          cert,
          key,
          ...(spec.backlog === undefined ? {} : { tcpBacklog: spec.backlog }),
        });
      }
    } catch (e) {
      throw spec.kind === "UNIX"
        ? new CannotListenError("", spec.path, systemMessage(e), { cause: e })
        : new CannotListenError(spec.interface, spec.port, systemMessage(e), { cause: e });
    }
    this.#listener = listener;
    this.#host = spec.kind === "UNIX"
      ? { type: "UNIX", path: spec.path }
      : toAddress(listener.addr);
    this.#stopping = false;
    msg(`${this.#factory.logPrefix()} starting on ${this.#label}`);
    try {
      this.#factory.doStart();
    } catch (e) {
      // The port is not made: release the socket, so that the address can be listened on
      // again (Twisted's socket, never stored, goes with the exception).
      this.#release(listener);
      this.#listener = null;
      this.#host = null;
      throw e;
    }
    this.#done = this.#acceptLoop(listener);
  }

  /** Closes a listener that never became a port, and removes its UNIX socket file. */
  #release(listener: Deno.Listener): void {
    listener.close();
    this.#removeSocketFile();
  }

  /** Removes a UNIX port's socket file, if there is still one. */
  #removeSocketFile(): void {
    if (this.#spec.kind !== "UNIX") return;
    try {
      Deno.removeSync(this.#spec.path);
    } catch {
      // Already gone (Deno removes it on close).
    }
  }

  /**
   * The address the port is bound to, with the real port number when it was asked for port 0.
   *
   * @throws {Error} if the port never listened.
   */
  getHost(): Address {
    if (this.#host === null) throw new Error("the port is not listening");
    return { ...this.#host };
  }

  /**
   * Stops accepting connections (connections already accepted stay open). The Deferred fires
   * once the listening socket is closed, `(TCP Port <n> Closed)` logged and the factory
   * stopped. Calling it again returns a Deferred that fires at the same time (at once if the
   * port is already closed).
   */
  stopListening(): Deferred<void> {
    const done = this.#done;
    if (done === null) {
      const d = new Deferred<void>();
      d.callback(undefined);
      return d;
    }
    if (!this.#stopping) {
      this.#stopping = true;
      try {
        this.#listener?.close();
      } catch {
        // Already closed.
      }
      const nap = this.#nap;
      if (nap !== null) {
        this.#nap = null;
        nap.call.cancel();
        nap.resolve();
      }
    }
    return Deferred.fromPromise(done);
  }

  /** Stops listening when `signal` aborts (at once if it has), as `Deno.serve` does. */
  stopOnAbort(signal: AbortSignal): void {
    this.#unwatch = whenAborted(signal, () => void this.stopListening());
  }

  /** Stops listening and waits until the port is closed. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stopListening();
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    let failures = 0;
    // Resets before accept are logged at most once a second, with a count of the others: a
    // client resetting thousands of connections must not fill the log.
    let resetLoggedAt = -Infinity;
    let resetsUnlogged = 0;
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (this.#stopping || e instanceof Deno.errors.BadResource) break;
        if (resetBeforeAccepted(e)) {
          // The peer reset the connection while it waited to be accepted: nothing to serve and
          // nothing wrong here, so one line (as Twisted logs ECONNABORTED) and no back-off,
          // which a client resetting on purpose could otherwise stretch out.
          const now = this.#hooks.clock.seconds();
          if (now - resetLoggedAt < 1) {
            resetsUnlogged++;
            continue;
          }
          const more = resetsUnlogged === 0 ? "" : ` (and ${resetsUnlogged} more since the last)`;
          resetLoggedAt = now;
          resetsUnlogged = 0;
          callWithContext(
            this.#factory.logPrefix(),
            () =>
              msg(
                `Could not accept a new connection on port ${this.#label}: ${systemMessage(e)}` +
                  more,
              ),
          );
          continue;
        }
        failures++;
        // One line, as Twisted logs EMFILE and the like: a traceback says nothing more about a
        // system error, and with no file descriptors left formatting one can bring Deno down.
        callWithContext(
          this.#factory.logPrefix(),
          () =>
            msg(`Could not accept a new connection on port ${this.#label}: ${systemMessage(e)}`),
        );
        // A persistent error (no file descriptors left...) would spin: back off, up to 1 s.
        if (failures > 1) await this.#sleep(Math.min(0.01 * 2 ** (failures - 2), 1));
        if (this.#stopping) break;
        continue;
      }
      failures = 0;
      if (this.#stopping) {
        conn.close();
        break;
      }
      this.#accepted(conn);
    }
    this.#listener = null;
    this.#done = null;
    this.#unwatch?.();
    this.#unwatch = null;
    this.#removeSocketFile();
    const spec = this.#spec;
    // Twisted logs this in the port's context: the factory's.
    callWithContext(
      this.#factory.logPrefix(),
      () => msg(`(${spec.kind} Port ${this.#label} Closed)`),
    );
    try {
      this.#factory.doStop();
    } finally {
      this.#hooks.portStopped(this);
    }
  }

  #sleep(seconds: number): Promise<void> {
    return new Promise((resolve) => {
      const call = this.#hooks.clock.callLater(seconds, () => {
        this.#nap = null;
        resolve();
      });
      this.#nap = { call, resolve };
    });
  }

  #accepted(conn: Deno.Conn): void {
    const spec = this.#spec;
    const factory = this.#factory;
    const system = factory.logPrefix();
    const addr = toAddress(conn.remoteAddr);
    const session = this.#sessionno++;
    let protocol;
    try {
      protocol = callWithContext(system, () => factory.buildProtocol(addr));
    } catch (e) {
      callWithContext(system, () => err(e, "Unhandled error in buildProtocol"));
      conn.close();
      return;
    }
    if (protocol === null) {
      conn.close();
      return;
    }
    const peer = addr.type === "TCP" ? addr.host : addr.path;
    const kind: StreamKind = spec.kind;
    const transport = new StreamTransport(
      conn,
      kind,
      protocol,
      `${protocolLogPrefix(protocol)},${session},${peer}`,
      this,
    );
    this.#hooks.connectionStarted(transport);
    transport.start(system);
  }

  /** Called by a connection's transport when it is over. */
  transportLost(transport: StreamTransport): void {
    this.#hooks.connectionEnded(transport);
  }

  /** For debugging: the kind of port, the factory and where it listens. */
  toString(): string {
    return `<${this.#factory.constructor.name} on ${this.#spec.kind} port ${this.#label}>`;
  }
}
