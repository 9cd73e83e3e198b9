/**
 * Outgoing connections over `Deno.connect` (TCP, UNIX) and `Deno.startTls`: the connector that
 * a `ClientFactory` is told about, as Twisted's `BaseConnector`. Private: the reactor's
 * `connectTCP`, `connectUNIX` and `connectSSL` create these.
 *
 * @module
 */

import { connectTimeout } from "../_connect_timeout.ts";
import { checkFactory } from "./_check_factory.ts";
import { ConnectError, NotConnectingError, UserError } from "../error.ts";
import { Failure } from "../failure.ts";
import { callWithContext, err } from "../log.ts";
import type { DelayedCall } from "../_timers.ts";
import type { ClientFactory, Connector } from "./factory.ts";
import { type Address, Protocol } from "./protocol.ts";
import {
  connectErrorFor,
  describeAddress,
  protocolLogPrefix,
  type ReactorHooks,
  StreamTransport,
  toAddress,
  type TransportOwner,
} from "./_transport.ts";

/** Where to connect to. */
export type ConnectSpec =
  | { kind: "TCP"; host: string; port: number }
  | { kind: "UNIX"; path: string }
  | { kind: "TLS"; host: string; port: number; caCerts?: string[]; hostname?: string };

/** What a connector tells the reactor beyond its connections. */
export interface ConnectorHooks extends ReactorHooks {
  /** An attempt started (`true`) or ended (`false`): the reactor stops attempts on shutdown. */
  connecting(connector: ClientConnector, active: boolean): void;
}

/** One connection attempt; stale once cancelled, timed out or done. */
interface Attempt {
  stale: boolean;
  controller: AbortController | null;
  conn: Deno.Conn | null;
  settled: Promise<void>;
}

/**
 * A connector: `connect()` (again, after a failure or loss), `disconnect()`,
 * `stopConnecting()`, `getDestination()` and `state`, calling the factory's
 * `startedConnecting`, `clientConnectionFailed` and `clientConnectionLost` as Twisted does.
 */
export class ClientConnector implements Connector, TransportOwner, Disposable, AsyncDisposable {
  #spec: ConnectSpec;
  #factory: ClientFactory;
  #timeout: number | null;
  #hooks: ConnectorHooks;
  #state: "disconnected" | "connecting" | "connected" = "disconnected";
  #factoryStarted = false;
  #attempt: Attempt | null = null;
  #timeoutCall: DelayedCall | null = null;
  #transport: StreamTransport | null = null;
  /** Attempts whose Deno operations have not settled yet. */
  #unsettled = new Set<Promise<void>>();
  #lostWaiters: (() => void)[] = [];

  /** A connector to `spec` for `factory`; nothing happens until {@linkcode connect}. */
  constructor(
    spec: ConnectSpec,
    factory: ClientFactory,
    timeout: number | null,
    hooks: ConnectorHooks,
  ) {
    checkFactory(factory, `connect${spec.kind === "TLS" ? "SSL" : spec.kind}`, true);
    this.#spec = spec;
    this.#factory = factory;
    this.#timeout = timeout;
    this.#hooks = hooks;
  }

  /** `"disconnected"`, `"connecting"` or `"connected"`. */
  get state(): "disconnected" | "connecting" | "connected" {
    return this.#state;
  }

  /** The factory this connector builds its protocol with. */
  get factory(): ClientFactory {
    return this.#factory;
  }

  /** Where this connector connects to. */
  getDestination(): Address {
    const spec = this.#spec;
    return spec.kind === "UNIX"
      ? { type: "UNIX", path: spec.path }
      : { type: "TCP", host: spec.host, port: spec.port };
  }

  #where(): string {
    return describeAddress(this.getDestination());
  }

  /**
   * Starts a connection attempt: starts the factory (once), arms the timeout and calls the
   * factory's `startedConnecting`.
   *
   * @throws {Error} if the connector is not disconnected.
   */
  connect(): void {
    if (this.#state !== "disconnected") {
      throw new Error(`cannot connect to ${this.#where()}: the connector is ${this.#state}`);
    }
    this.#state = "connecting";
    if (!this.#factoryStarted) {
      this.#factory.doStart();
      this.#factoryStarted = true;
    }
    const attempt: Attempt = {
      stale: false,
      controller: this.#spec.kind === "UNIX" ? null : new AbortController(),
      conn: null,
      settled: Promise.resolve(),
    };
    this.#attempt = attempt;
    this.#hooks.connecting(this, true);
    // The timeout is armed before the attempt starts: arming may run pending reactions (the
    // first timer of a process loads Deno's timers, which drains the microtask queue), and an
    // attempt that had already failed would then leave this timer behind.
    const timeout = this.#timeout;
    if (timeout !== null && Number.isFinite(timeout)) {
      this.#timeoutCall = this.#hooks.clock.callLater(timeout, () => {
        this.#timeoutCall = null;
        if (this.#attempt !== attempt) return;
        this.#cancelAttempt();
        this.#connectionFailed(
          new Failure(connectTimeout(timeout, this.#where())),
        );
      });
    }
    const settled = this.#open(attempt).then(
      (conn) => this.#connected(attempt, conn),
      (e) => this.#failed(attempt, e),
    ).finally(() => this.#unsettled.delete(settled));
    attempt.settled = settled;
    this.#unsettled.add(settled);
    this.#factory.startedConnecting(this);
  }

  async #open(attempt: Attempt): Promise<Deno.Conn> {
    // Dial only once the code that started the attempt has run, as Twisted connects on the
    // reactor's next turn: an attempt stopped right away (`stopConnecting()` after
    // `connectTCP`, or from `startedConnecting`) then sends nothing, and no server sees a
    // connection that its client never had.
    await Promise.resolve();
    if (attempt.stale) throw new Deno.errors.Interrupted("the connection attempt was stopped");
    const spec = this.#spec;
    if (spec.kind === "UNIX") return await Deno.connect({ transport: "unix", path: spec.path });
    const signal = attempt.controller!.signal;
    const tcp = await Deno.connect({ hostname: spec.host, port: spec.port, signal });
    if (spec.kind === "TCP") return tcp;
    if (attempt.stale) return tcp;
    let tls: Deno.TlsConn;
    try {
      tls = await Deno.startTls(tcp, {
        hostname: spec.hostname ?? spec.host,
        caCerts: spec.caCerts,
      });
    } catch (e) {
      tcp.close();
      throw e;
    }
    // Shake hands before the protocol hears of the connection, so that a certificate that
    // fails to verify fails the attempt (clientConnectionFailed), as a refused one does.
    attempt.conn = tls;
    if (attempt.stale) return tls;
    try {
      await tls.handshake();
    } catch (e) {
      if (!attempt.stale) tls.close();
      throw e;
    }
    return tls;
  }

  #connected(attempt: Attempt, conn: Deno.Conn): void {
    if (attempt.stale) {
      try {
        conn.close();
      } catch {
        // Closed by the cancellation already.
      }
      return;
    }
    attempt.stale = true;
    this.#attempt = null;
    this.#hooks.connecting(this, false);
    this.#cancelTimeout();
    this.#state = "connected";
    const addr = toAddress(conn.remoteAddr);
    const factory = this.#factory;
    let protocol: Protocol | null;
    try {
      protocol = factory.buildProtocol(addr);
    } catch (e) {
      conn.close();
      callWithContext(
        `${factory.logPrefix()},client`,
        () => err(e, "Unhandled error in buildProtocol"),
      );
      // The attempt failed, as any failed attempt does: a ConnectError (the error logged above
      // is its cause), so that `reason.check(ConnectError)` holds as in Twisted.
      const detail = `buildProtocol failed: ${e instanceof Error ? e.message : String(e)}`;
      this.#connectionFailed(new Failure(new ConnectError(this.#where(), detail, { cause: e })));
      return;
    }
    const refused = protocol === null;
    if (protocol === null) protocol = new Protocol();
    const logstr = `${protocolLogPrefix(protocol)},client`;
    const transport = new StreamTransport(conn, this.#spec.kind, protocol, logstr, this);
    this.#transport = transport;
    this.#hooks.connectionStarted(transport);
    transport.start(logstr);
    // A factory that returns no protocol gets the connection closed at once, as in Twisted.
    if (refused) transport.loseConnection();
  }

  #failed(attempt: Attempt, e: unknown): void {
    if (attempt.stale) return;
    attempt.stale = true;
    this.#connectionFailed(new Failure(connectErrorFor(e, this.#where())));
  }

  #cancelAttempt(): void {
    const attempt = this.#attempt;
    if (attempt === null) return;
    attempt.stale = true;
    attempt.controller?.abort();
    try {
      attempt.conn?.close();
    } catch {
      // Already closed.
    }
  }

  #cancelTimeout(): void {
    const call = this.#timeoutCall;
    this.#timeoutCall = null;
    if (call !== null && call.active()) call.cancel();
  }

  #connectionFailed(reason: Failure): void {
    this.#cancelTimeout();
    if (this.#attempt !== null) {
      this.#attempt = null;
      this.#hooks.connecting(this, false);
    }
    this.#state = "disconnected";
    try {
      this.#factory.clientConnectionFailed(this, reason);
    } catch (e) {
      err(e, "Unhandled error in clientConnectionFailed");
    }
    if (this.#state === "disconnected" && this.#factoryStarted) {
      this.#factoryStarted = false;
      this.#factory.doStop();
    }
  }

  /** Called by the connection's transport when the connection is over. */
  transportLost(transport: StreamTransport, reason: Failure): void {
    this.#hooks.connectionEnded(transport);
    if (this.#transport === transport) this.#transport = null;
    this.#state = "disconnected";
    try {
      this.#factory.clientConnectionLost(this, reason);
    } catch (e) {
      err(e, "Unhandled error in clientConnectionLost");
    }
    if (this.#state === "disconnected" && this.#factoryStarted) {
      this.#factoryStarted = false;
      this.#factory.doStop();
    }
    const waiters = this.#lostWaiters;
    this.#lostWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Stops the attempt in progress; the factory's `clientConnectionFailed` is called at once
   * with `UserError`.
   *
   * @throws {NotConnectingError} if no attempt is in progress.
   */
  stopConnecting(): void {
    if (this.#state !== "connecting") throw new NotConnectingError(this.#where(), this.#state);
    this.#cancelAttempt();
    this.#connectionFailed(new Failure(new UserError(this.#where())));
  }

  /** Stops connecting, or closes the connection (`loseConnection`) if connected. */
  disconnect(): void {
    if (this.#state === "connecting") this.stopConnecting();
    else if (this.#state === "connected") this.#transport?.loseConnection();
  }

  /** Disconnects (see {@linkcode disconnect}). */
  [Symbol.dispose](): void {
    this.disconnect();
  }

  /**
   * Disconnects and waits until nothing is left: no attempt under way, the connection (if
   * any) lost and its `connectionLost` called.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.disconnect();
    while (this.#unsettled.size > 0 || this.#transport !== null) {
      if (this.#transport !== null) {
        await new Promise<void>((resolve) => this.#lostWaiters.push(resolve));
      } else {
        await Promise.all(this.#unsettled);
      }
    }
  }

  /** For debugging: the destination and the state. */
  toString(): string {
    return `<Connector to ${this.#where()} ${this.#state}>`;
  }
}
