/**
 * The errors of the network layer, as Twisted's `twisted.internet.error`: why a connection
 * attempt failed ({@linkcode ConnectError} and its kinds), why a connection ended
 * ({@linkcode ConnectionDone}, {@linkcode ConnectionLost}, {@linkcode ConnectionAborted}), why a
 * port could not be opened ({@linkcode CannotListenError}) and misuse of the reactor
 * ({@linkcode ReactorNotRunning}).
 *
 * A connection's end reaches `Protocol.connectionLost` as a `Failure` wrapping one of these, so
 * the usual test is `reason.check(ConnectionDone)`. A connection attempt that takes too long
 * fails with `TimeoutError`, the project's one timeout error (from `defer.ts`, re-exported here),
 * which then also counts as a `ConnectError` and a `UserError`, as in Twisted.
 *
 * @example Tell a clean close from a lost connection
 * ```ts
 * import { ConnectionDone } from "@poetry/serve/error";
 * import { Protocol } from "@poetry/serve/protocol";
 * import type { Failure } from "@poetry/serve/failure";
 *
 * class PoetryClient extends Protocol {
 *   override connectionLost(reason: Failure): void {
 *     console.log(reason.check(ConnectionDone) ? "poem complete" : "poem cut short");
 *   }
 * }
 * ```
 *
 * @module
 */

import { isConnectTimeout } from "./_connect_timeout.ts";
import type { Address } from "./protocols/protocol.ts";

export { TimeoutError } from "./defer.ts";

/** `message`, with `: detail` appended when there is a detail. */
function withDetail(message: string, detail: string | undefined): string {
  return detail ? `${message}: ${detail}` : message;
}

/** `connection to <where> <verb>`, or `connection <verb>` when `where` is empty. */
function attempt(where: string, verb: string, detail: string | undefined): string {
  return withDetail(where ? `connection to ${where} ${verb}` : `connection ${verb}`, detail);
}

/** `connection with <where> <verb>`, or `connection <verb>` when `where` is empty. */
function ended(where: string, verb: string, detail: string | undefined): string {
  return withDetail(where ? `connection with ${where} ${verb}` : `connection ${verb}`, detail);
}

/**
 * A connection attempt failed. The base class of every connection-attempt error; a failure that
 * has no more precise class (an unreachable network, a UNIX socket path that does not exist)
 * is a plain `ConnectError`.
 *
 * @example
 * ```ts
 * import { ConnectError } from "@poetry/serve/error";
 * console.log(new ConnectError("127.0.0.1:10000", "network is unreachable").message);
 * // connection to 127.0.0.1:10000 failed: network is unreachable
 * ```
 */
export class ConnectError extends Error {
  /** The address the attempt was for, as `host:port` or a UNIX socket path (may be empty). */
  readonly where: string;

  /**
   * An error for a failed attempt to connect to `where`, with an optional `detail` saying why.
   *
   * @param where The address, as `host:port` or a path.
   * @param detail Why the attempt failed, e.g. the system's message.
   * @param options `cause`: the underlying error.
   *
   * @example
   * ```ts
   * import { ConnectError } from "@poetry/serve/error";
   * const e = new ConnectError("/tmp/poetry.sock", "no such file or directory");
   * console.log(e.where); // /tmp/poetry.sock
   * ```
   */
  constructor(where = "", detail?: string, options?: ErrorOptions) {
    super(attempt(where, "failed", detail), options);
    this.name = "ConnectError";
    this.where = where;
  }

  /**
   * `instanceof` as for any class, except that a connection attempt's `TimeoutError` is also
   * a `ConnectError` and a `UserError` (in Twisted the connect `TimeoutError` is a subclass of
   * both), so that `reason.check(ConnectError)` sees every failed attempt.
   *
   * @example
   * ```ts
   * import { ConnectError, TimeoutError, UserError } from "@poetry/serve/error";
   * console.log(new UserError() instanceof ConnectError); // true
   * console.log(new TimeoutError(1) instanceof ConnectError); // false: not a connection's
   * ```
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return (this === ConnectError || this === UserError) && isConnectTimeout(value);
  }
}

/**
 * The other side refused the connection: nothing listens at that address.
 *
 * @example
 * ```ts
 * import { ConnectError, ConnectionRefusedError } from "@poetry/serve/error";
 * const e = new ConnectionRefusedError("127.0.0.1:10000");
 * console.log(e.message, e instanceof ConnectError); // connection to 127.0.0.1:10000 was refused true
 * ```
 */
export class ConnectionRefusedError extends ConnectError {
  /**
   * An error for a connection to `where` that was refused.
   *
   * @param where The address, as `host:port` or a path.
   * @param detail Any more detail.
   * @param options `cause`: the underlying error.
   *
   * @example
   * ```ts
   * import { ConnectionRefusedError } from "@poetry/serve/error";
   * console.log(new ConnectionRefusedError("localhost:1").name); // ConnectionRefusedError
   * ```
   */
  constructor(where = "", detail?: string, options?: ErrorOptions) {
    super(where, detail, options);
    this.name = "ConnectionRefusedError";
    this.message = attempt(where, "was refused", detail);
  }
}

/**
 * The host name could not be resolved to an address.
 *
 * @example
 * ```ts
 * import { DNSLookupError } from "@poetry/serve/error";
 * console.log(new DNSLookupError("poetry.invalid").message);
 * // DNS lookup failed for poetry.invalid
 * ```
 */
export class DNSLookupError extends ConnectError {
  /**
   * An error for a host name that could not be resolved.
   *
   * @param where The host name (or `host:port`).
   * @param detail Any more detail, e.g. the resolver's message.
   * @param options `cause`: the underlying error.
   *
   * @example
   * ```ts
   * import { DNSLookupError } from "@poetry/serve/error";
   * console.log(new DNSLookupError("poetry.invalid").where); // poetry.invalid
   * ```
   */
  constructor(where = "", detail?: string, options?: ErrorOptions) {
    super(where, detail, options);
    this.name = "DNSLookupError";
    this.message = withDetail(
      where ? `DNS lookup failed for ${where}` : "DNS lookup failed",
      detail,
    );
  }
}

/**
 * The operating system gave up on a connection attempt (the kernel's own TCP timeout, not the
 * connector's `timeout`, which fails with `TimeoutError`).
 *
 * @example
 * ```ts
 * import { TCPTimedOutError } from "@poetry/serve/error";
 * console.log(new TCPTimedOutError("192.0.2.1:80").message);
 * // connection to 192.0.2.1:80 timed out in the network
 * ```
 */
export class TCPTimedOutError extends ConnectError {
  /**
   * An error for a connection attempt to `where` that the system timed out.
   *
   * @param where The address, as `host:port`.
   * @param detail Any more detail.
   * @param options `cause`: the underlying error.
   *
   * @example
   * ```ts
   * import { TCPTimedOutError } from "@poetry/serve/error";
   * console.log(new TCPTimedOutError().name); // TCPTimedOutError
   * ```
   */
  constructor(where = "", detail?: string, options?: ErrorOptions) {
    super(where, detail, options);
    this.name = "TCPTimedOutError";
    this.message = attempt(where, "timed out in the network", detail);
  }
}

/**
 * The connection attempt was stopped by the program: `Connector.stopConnecting()` (or
 * `disconnect()` while connecting) was called.
 *
 * @example
 * ```ts
 * import { UserError } from "@poetry/serve/error";
 * console.log(new UserError("127.0.0.1:10000").message);
 * // connection to 127.0.0.1:10000 was stopped by the user
 * ```
 */
export class UserError extends ConnectError {
  /**
   * An error for a connection attempt to `where` that the program stopped.
   *
   * @param where The address, as `host:port` or a path.
   * @param detail Any more detail.
   * @param options `cause`: the underlying error.
   *
   * @example
   * ```ts
   * import { UserError } from "@poetry/serve/error";
   * console.log(new UserError().message); // connection was stopped by the user
   * ```
   */
  constructor(where = "", detail?: string, options?: ErrorOptions) {
    super(where, detail, options);
    this.name = "UserError";
    this.message = attempt(where, "was stopped by the user", detail);
  }
}

/**
 * Thrown by `Connector.stopConnecting()` when the connector is not trying to connect.
 *
 * @example
 * ```ts
 * import { NotConnectingError } from "@poetry/serve/error";
 * console.log(new NotConnectingError("127.0.0.1:10000", "connected").message);
 * // cannot stop connecting to 127.0.0.1:10000: the connector is connected, not connecting
 * ```
 */
export class NotConnectingError extends Error {
  /**
   * An error for stopping a connector to `where` whose state is `state`.
   *
   * @param where The connector's destination.
   * @param state The connector's state.
   *
   * @example
   * ```ts
   * import { NotConnectingError } from "@poetry/serve/error";
   * console.log(new NotConnectingError().name); // NotConnectingError
   * ```
   */
  constructor(where = "", state = "disconnected") {
    super(
      `cannot stop connecting${where ? ` to ${where}` : ""}: the connector is ${state}, ` +
        "not connecting",
    );
    this.name = "NotConnectingError";
  }
}

/**
 * A connection ended. The base class of {@linkcode ConnectionDone} and
 * {@linkcode ConnectionLost}: `reason.check(ConnectionClosed)` matches any end.
 *
 * @example
 * ```ts
 * import { ConnectionClosed, ConnectionDone } from "@poetry/serve/error";
 * console.log(new ConnectionDone() instanceof ConnectionClosed); // true
 * ```
 */
export class ConnectionClosed extends Error {
  /** The other end's address, as `host:port` or a path (may be empty). */
  readonly where: string;

  /**
   * An error for a connection with `where` that ended.
   *
   * @param where The peer's address.
   * @param detail Any more detail.
   * @param options `cause`: the underlying error.
   *
   * @example
   * ```ts
   * import { ConnectionClosed } from "@poetry/serve/error";
   * console.log(new ConnectionClosed("127.0.0.1:5000").message);
   * // connection with 127.0.0.1:5000 was closed
   * ```
   */
  constructor(where = "", detail?: string, options?: ErrorOptions) {
    super(ended(where, "was closed", detail), options);
    this.name = "ConnectionClosed";
    this.where = where;
  }
}

/**
 * The connection was closed cleanly: this side called `loseConnection()`, or the other side
 * closed it in an orderly way (end of file).
 *
 * @example
 * ```ts
 * import { ConnectionDone } from "@poetry/serve/error";
 * console.log(new ConnectionDone("127.0.0.1:5000").message);
 * // connection with 127.0.0.1:5000 was closed cleanly
 * ```
 */
export class ConnectionDone extends ConnectionClosed {
  /**
   * An error for a connection with `where` that was closed cleanly.
   *
   * @param where The peer's address.
   * @param detail Any more detail.
   * @param options `cause`: the underlying error.
   *
   * @example
   * ```ts
   * import { ConnectionDone } from "@poetry/serve/error";
   * console.log(new ConnectionDone().message); // connection was closed cleanly
   * ```
   */
  constructor(where = "", detail?: string, options?: ErrorOptions) {
    super(where, detail, options);
    this.name = "ConnectionDone";
    this.message = ended(where, "was closed cleanly", detail);
  }
}

/**
 * The connection was lost in a non-clean way: reset by the other side, a broken pipe, a
 * network error.
 *
 * @example
 * ```ts
 * import { ConnectionLost } from "@poetry/serve/error";
 * console.log(new ConnectionLost("127.0.0.1:5000", "connection reset by peer").message);
 * // connection with 127.0.0.1:5000 was lost: connection reset by peer
 * ```
 */
export class ConnectionLost extends ConnectionClosed {
  /**
   * An error for a connection with `where` that was lost.
   *
   * @param where The peer's address.
   * @param detail What happened, e.g. the system's message.
   * @param options `cause`: the underlying error.
   *
   * @example
   * ```ts
   * import { ConnectionLost } from "@poetry/serve/error";
   * console.log(new ConnectionLost().message); // connection was lost
   * ```
   */
  constructor(where = "", detail?: string, options?: ErrorOptions) {
    super(where, detail, options);
    this.name = "ConnectionLost";
    this.message = ended(where, "was lost", detail);
  }
}

/**
 * The connection was closed at once by this side's `abortConnection()`, dropping unsent data.
 * Only the side that aborted sees it; the other side sees `ConnectionDone` or
 * `ConnectionLost`.
 *
 * @example
 * ```ts
 * import { ConnectionAborted, ConnectionLost } from "@poetry/serve/error";
 * const e = new ConnectionAborted("127.0.0.1:5000");
 * console.log(e.message, e instanceof ConnectionLost);
 * // connection with 127.0.0.1:5000 was aborted true
 * ```
 */
export class ConnectionAborted extends ConnectionLost {
  /**
   * An error for a connection with `where` that this side aborted.
   *
   * @param where The peer's address.
   * @param detail Any more detail.
   * @param options `cause`: the underlying error.
   *
   * @example
   * ```ts
   * import { ConnectionAborted } from "@poetry/serve/error";
   * console.log(new ConnectionAborted().message); // connection was aborted
   * ```
   */
  constructor(where = "", detail?: string, options?: ErrorOptions) {
    super(where, detail, options);
    this.name = "ConnectionAborted";
    this.message = ended(where, "was aborted", detail);
  }
}

/**
 * A port could not be opened: the address is in use, binding needs a permission the process
 * does not have, the interface does not exist. Thrown by `listenTCP` (and the other `listen*`
 * methods) at once.
 *
 * @example
 * ```ts
 * import { CannotListenError } from "@poetry/serve/error";
 * const e = new CannotListenError("127.0.0.1", 10000, "address already in use");
 * console.log(`${e}`);
 * // CannotListenError: cannot listen on 127.0.0.1:10000: address already in use
 * ```
 */
export class CannotListenError extends Error {
  /** The interface that was asked for (empty for a UNIX socket). */
  readonly interface: string;
  /** The port number, or the UNIX socket's path. */
  readonly port: number | string;

  /**
   * An error for a port that could not listen on `iface`:`port`, because of `reason`.
   *
   * @param iface The interface address (`""` for a UNIX socket).
   * @param port The port number, or a UNIX socket's path.
   * @param reason Why, e.g. `"address already in use"`.
   * @param options `cause`: the underlying error.
   *
   * @example
   * ```ts
   * import { CannotListenError } from "@poetry/serve/error";
   * console.log(new CannotListenError("", "/tmp/poetry.sock", "address already in use").message);
   * // cannot listen on /tmp/poetry.sock: address already in use
   * ```
   */
  constructor(iface: string, port: number | string, reason: string, options?: ErrorOptions) {
    const host = iface.includes(":") ? `[${iface}]` : iface;
    const where = iface === "" ? String(port) : `${host}:${port}`;
    super(`cannot listen on ${where}: ${reason}`, options);
    this.name = "CannotListenError";
    this.interface = iface;
    this.port = port;
  }
}

/**
 * Thrown by `reactor.stop()` when the reactor is not running (or is already stopping).
 *
 * @example
 * ```ts
 * import { ReactorNotRunning } from "@poetry/serve/error";
 * console.log(new ReactorNotRunning().message); // cannot stop the reactor: it is not running
 * ```
 */
export class ReactorNotRunning extends Error {
  /**
   * An error for stopping a reactor that is not running.
   *
   * @param message The message.
   *
   * @example
   * ```ts
   * import { ReactorNotRunning } from "@poetry/serve/error";
   * console.log(new ReactorNotRunning().name); // ReactorNotRunning
   * ```
   */
  constructor(message = "cannot stop the reactor: it is not running") {
    super(message);
    this.name = "ReactorNotRunning";
  }
}

/**
 * Thrown by `reactor.run()` when the reactor is already running.
 *
 * @example
 * ```ts
 * import { ReactorAlreadyRunning } from "@poetry/serve/error";
 * console.log(new ReactorAlreadyRunning().message); // cannot run the reactor: it is already running
 * ```
 */
export class ReactorAlreadyRunning extends Error {
  /**
   * An error for running a reactor that already runs.
   *
   * @param message The message.
   *
   * @example
   * ```ts
   * import { ReactorAlreadyRunning } from "@poetry/serve/error";
   * console.log(new ReactorAlreadyRunning().name); // ReactorAlreadyRunning
   * ```
   */
  constructor(message = "cannot run the reactor: it is already running") {
    super(message);
    this.name = "ReactorAlreadyRunning";
  }
}

/**
 * A client endpoint's connection attempt was cancelled: the Deferred that
 * `endpoint.connect(factory)` returned was cancelled before the connection was made.
 *
 * @example
 * ```ts
 * import { ConnectingCancelledError } from "@poetry/serve/error";
 * const e = new ConnectingCancelledError({ type: "TCP", host: "127.0.0.1", port: 10000 });
 * console.log(e.message); // connecting to 127.0.0.1:10000 was cancelled
 * ```
 */
export class ConnectingCancelledError extends Error {
  /** Where the cancelled attempt was connecting to. */
  readonly address: Address;

  /**
   * An error for a cancelled attempt to connect to `address`.
   *
   * @param address The destination of the attempt.
   *
   * @example
   * ```ts
   * import { ConnectingCancelledError } from "@poetry/serve/error";
   * const e = new ConnectingCancelledError({ type: "UNIX", path: "/run/poetry.sock" });
   * console.log(e.address.type); // UNIX
   * ```
   */
  constructor(address: Address) {
    const where = address.type === "UNIX"
      ? address.path
      : address.host.includes(":")
      ? `[${address.host}]:${address.port}`
      : `${address.host}:${address.port}`;
    super(`connecting to ${where} was cancelled`);
    this.name = "ConnectingCancelledError";
    this.address = address;
  }
}

/**
 * The factory given to a client endpoint built no protocol for the connection (its
 * `buildProtocol` returned `null`), so the connection was closed.
 *
 * @example
 * ```ts
 * import { NoProtocol } from "@poetry/serve/error";
 * console.log(new NoProtocol().message); // the factory built no protocol for the connection
 * ```
 */
export class NoProtocol extends Error {
  /**
   * An error for a factory that returned no protocol.
   *
   * @param message The message.
   *
   * @example
   * ```ts
   * import { NoProtocol } from "@poetry/serve/error";
   * console.log(new NoProtocol().name); // NoProtocol
   * ```
   */
  constructor(message = "the factory built no protocol for the connection") {
    super(message);
    this.name = "NoProtocol";
  }
}
