/**
 * {@linkcode Protocol}, the object that speaks the wire for one connection, and the interfaces
 * it talks to: its {@linkcode Transport}, addresses, and the producer/consumer pair used for
 * flow control. As in Twisted, a protocol never touches a socket: the transport calls
 * {@linkcode Protocol.dataReceived} with what arrived and the protocol calls
 * {@linkcode Transport.write} with what to send.
 *
 * @example Echo every byte back
 * ```ts
 * import { Protocol } from "@poetry/serve/protocol";
 *
 * class Echo extends Protocol {
 *   override dataReceived(data: Uint8Array): void {
 *     this.transport.write(data);
 *   }
 * }
 * ```
 *
 * @module
 */

import type { Failure } from "../failure.ts";
import type { Factory } from "./factory.ts";
import { watchCallbackResult } from "./_async_callbacks.ts";

/**
 * The address of a TCP (or TLS) endpoint.
 *
 * @example Say who connected
 * ```ts
 * import { Protocol, type TCPAddress } from "@poetry/serve/protocol";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * const peer: TCPAddress = { type: "TCP", host: "127.0.0.1", port: 50000 };
 * const protocol = new Protocol();
 * protocol.makeConnection(new StringTransport({ peer }));
 * const { host, port } = protocol.transport.getPeer() as TCPAddress;
 * console.log(`${host}:${port}`); // 127.0.0.1:50000
 * ```
 */
export interface TCPAddress {
  /** Always `"TCP"`. */
  type: "TCP";
  /** The IP address, e.g. `127.0.0.1`. */
  host: string;
  /** The port number. */
  port: number;
}

/**
 * The address of a UNIX domain socket.
 *
 * @example A transport on a UNIX socket
 * ```ts
 * import type { UNIXAddress } from "@poetry/serve/protocol";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * const host: UNIXAddress = { type: "UNIX", path: "/run/poetry.sock" };
 * const transport = new StringTransport({ host });
 * console.log(transport.getHost()); // { type: "UNIX", path: "/run/poetry.sock" }
 * ```
 */
export interface UNIXAddress {
  /** Always `"UNIX"`. */
  type: "UNIX";
  /** The socket's path in the file system. */
  path: string;
}

/**
 * Where a connection's end is: {@linkcode TCPAddress} or {@linkcode UNIXAddress}.
 *
 * @example Describe either kind
 * ```ts
 * import type { Address } from "@poetry/serve/protocol";
 *
 * const describe = (address: Address): string =>
 *   address.type === "TCP" ? `${address.host}:${address.port}` : address.path;
 * console.log(describe({ type: "TCP", host: "127.0.0.1", port: 10000 })); // 127.0.0.1:10000
 * console.log(describe({ type: "UNIX", path: "/run/poetry.sock" })); // /run/poetry.sock
 * ```
 */
export type Address = TCPAddress | UNIXAddress;

/**
 * Bytes to send: a `Uint8Array`, or a string sent as UTF-8.
 *
 * @example Both kinds go out as bytes
 * ```ts
 * import type { Data } from "@poetry/serve/protocol";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * const transport = new StringTransport();
 * const pieces: Data[] = ["ode ", new Uint8Array([0xe2, 0x99, 0xaa])];
 * transport.writeSequence(pieces);
 * console.log(transport.valueText()); // ode ♪
 * ```
 */
export type Data = Uint8Array | string;

/**
 * A producer that writes on its own and can be paused: the consumer calls
 * {@linkcode PushProducer.pauseProducing} when its buffer is full and
 * {@linkcode PushProducer.resumeProducing} when it has drained.
 *
 * @example Stream numbered lines until the transport's buffer fills
 * ```ts
 * import type { PushProducer, Transport } from "@poetry/serve/protocol";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * class Lines implements PushProducer {
 *   paused = false;
 *   constructor(private transport: Transport) {}
 *   pauseProducing(): void {
 *     this.paused = true;
 *   }
 *   resumeProducing(): void {
 *     this.paused = false;
 *     // A real producer writes until paused, from a timer or its own input.
 *     this.transport.write("another line\n");
 *   }
 *   stopProducing(): void {
 *     this.paused = true;
 *   }
 * }
 * const transport = new StringTransport();
 * const lines = new Lines(transport);
 * transport.registerProducer(lines, true);
 * lines.resumeProducing();
 * console.log(transport.valueText()); // another line
 * ```
 */
export interface PushProducer {
  /** Stop producing until {@linkcode PushProducer.resumeProducing} is called. */
  pauseProducing(): void;
  /** Produce again after a pause. */
  resumeProducing(): void;
  /** Stop for good: the consumer is gone. */
  stopProducing(): void;
}

/**
 * A producer that writes only when asked: the consumer calls
 * {@linkcode PullProducer.resumeProducing} each time it wants more.
 *
 * @example Hand over a poem one stanza per request
 * ```ts
 * import type { PullProducer, Transport } from "@poetry/serve/protocol";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * class Stanzas implements PullProducer {
 *   constructor(private transport: Transport, private stanzas: string[]) {}
 *   resumeProducing(): void {
 *     const next = this.stanzas.shift();
 *     if (next === undefined) this.transport.unregisterProducer();
 *     else this.transport.write(next);
 *   }
 *   stopProducing(): void {
 *     this.stanzas = [];
 *   }
 * }
 * const transport = new StringTransport();
 * const producer = new Stanzas(transport, ["one\n", "two\n"]);
 * transport.registerProducer(producer, false);
 * producer.resumeProducing(); // as the transport does each time its buffer empties
 * console.log(transport.valueText()); // one
 * ```
 */
export interface PullProducer {
  /** Write the next piece of data to the consumer. */
  resumeProducing(): void;
  /** Stop for good: the consumer is gone. */
  stopProducing(): void;
}

/**
 * Something that data can be written to, with flow control through a registered producer.
 *
 * @example Copy a poem into any consumer
 * ```ts
 * import type { Consumer } from "@poetry/serve/protocol";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * function recite(consumer: Consumer, lines: string[]): void {
 *   for (const line of lines) consumer.write(`${line}\n`);
 * }
 * const transport = new StringTransport();
 * recite(transport, ["Roses are red", "Violets are blue"]);
 * console.log(transport.value().length); // 31
 * ```
 */
export interface Consumer {
  /**
   * Registers the producer that writes to this consumer. `streaming` is `true` for a
   * {@linkcode PushProducer}, `false` for a {@linkcode PullProducer}.
   */
  registerProducer(producer: PushProducer | PullProducer, streaming: boolean): void;
  /** Forgets the registered producer. */
  unregisterProducer(): void;
  /** Writes data; a string is sent as UTF-8. */
  write(data: Data): void;
}

/**
 * One end of a connection, as a protocol sees it. Writes are buffered and sent in order;
 * the transport is itself a {@linkcode PushProducer}: pausing it stops reading from the peer.
 *
 * @example Answer, then close once the answer is sent
 * ```ts
 * import { Protocol, type Transport } from "@poetry/serve/protocol";
 * import { StringTransport } from "@poetry/serve/testing";
 *
 * class Answer extends Protocol {
 *   override dataReceived(_data: Uint8Array): void {
 *     const transport: Transport = this.transport;
 *     transport.write("42\r\n");
 *     transport.loseConnection();
 *   }
 * }
 * const transport = new StringTransport();
 * const answer = new Answer();
 * answer.makeConnection(transport);
 * answer.dataReceived(new TextEncoder().encode("?"));
 * console.log(JSON.stringify(transport.valueText()), transport.disconnecting); // "42\r\n" true
 * ```
 */
export interface Transport extends Consumer, PushProducer {
  /**
   * Writes data after everything written before; a string is sent as UTF-8. A `Uint8Array` is
   * not copied, so changing it before it has been sent changes what is sent: unlike Twisted's
   * bytes, it is not immutable, so hand over an array you will not change again (or a copy).
   */
  write(data: Data): void;
  /** Writes each piece in order, as if by successive {@linkcode Consumer.write} calls. */
  writeSequence(data: Iterable<Data>): void;
  /** Closes the connection once every byte already written has been sent. */
  loseConnection(): void;
  /** Closes the connection at once; data not yet sent is dropped. */
  abortConnection(): void;
  /** Half-closes: sends end-of-file to the peer once pending data is sent, and keeps reading. */
  loseWriteConnection(): void;
  /** The address of the other end. */
  getPeer(): Address;
  /** The address of this end. */
  getHost(): Address;
  /** Turns Nagle's algorithm off (`true`) or on. No effect on UNIX sockets. */
  setTcpNoDelay(enabled: boolean): void;
  /** Turns TCP keep-alive on or off. No effect on UNIX sockets. */
  setTcpKeepAlive(enabled: boolean): void;
  /** `true` once {@linkcode Transport.loseConnection} has been called. */
  readonly disconnecting: boolean;
}

/**
 * A protocol that is told of half-closes, as Twisted's `IHalfCloseableProtocol`. When the
 * peer sends end-of-file, a protocol without `readConnectionLost` loses its connection (with
 * `ConnectionDone`, once what it has written is sent); one with it hears
 * `readConnectionLost()` instead and may go on writing, then call `loseConnection()`. After
 * the protocol's own `transport.loseWriteConnection()` has sent end-of-file,
 * `writeConnectionLost()` is called. Once both directions are closed the connection ends.
 *
 * Twisted closes the connection of a protocol without `readConnectionLost` at once, dropping
 * what it had not sent yet and stopping its producer. Here end-of-file counts as a
 * `loseConnection()`: the answer to a request that ended with end-of-file still goes out, and
 * a pull producer still registered is asked for more until it unregisters, as it would be
 * after `loseConnection()`. Keeping a connection open after both directions are closed, as
 * Twisted lets a half-closeable protocol do, is not possible here.
 *
 * @example Answer after the whole request has arrived
 * ```ts
 * import { type HalfCloseableProtocol, Protocol } from "@poetry/serve/protocol";
 *
 * class Reverser extends Protocol implements HalfCloseableProtocol {
 *   received = "";
 *   override dataReceived(data: Uint8Array): void {
 *     this.received += new TextDecoder().decode(data);
 *   }
 *   readConnectionLost(): void {
 *     this.transport.write([...this.received].reverse().join(""));
 *     this.transport.loseConnection();
 *   }
 *   writeConnectionLost(): void {}
 * }
 * ```
 */
export interface HalfCloseableProtocol {
  /** The peer has sent end-of-file: nothing more will be received, but writing still works. */
  readConnectionLost(): void;
  /** This side's end-of-file (from `loseWriteConnection()`) has been sent. */
  writeConnectionLost(): void;
}

/**
 * The base class of every protocol: one instance per connection, built by a
 * {@linkcode Factory}. Override the event methods you need; each default does nothing.
 *
 * The transport calls {@linkcode Protocol.makeConnection} once when the connection is up, then
 * {@linkcode Protocol.dataReceived} for each piece of data as it arrives (chunked however the
 * network chunked it), and {@linkcode Protocol.connectionLost} exactly once at the end.
 *
 * On the reactor's connections, an event method that throws is logged with its traceback and
 * drops its own connection; every other connection goes on. An event method may be `async` (or
 * return a Deferred): if its promise rejects, the same happens then, instead of an unhandled
 * rejection ending the process. The connection does not wait for the promise: data that
 * arrives meanwhile is delivered at once, so pause the transport to take one thing at a time.
 * The receivers' callbacks (`lineReceived`, `stringReceived`…) are dealt with the same way.
 * On the test transports (`StringTransport`...) the promise is left alone, so that a
 * rejection fails the test.
 *
 * @example Send a poem and hang up
 * ```ts
 * import { Protocol } from "@poetry/serve/protocol";
 *
 * class PoetryProtocol extends Protocol {
 *   override connectionMade(): void {
 *     this.transport.write("Roses are red\n");
 *     this.transport.loseConnection();
 *   }
 * }
 * ```
 *
 * @example Look something up before answering
 * ```ts
 * import { LineReceiver } from "@poetry/serve/line-receiver";
 *
 * const lookUp = (user: string): Promise<string> => Promise.resolve(`${user} is out`);
 *
 * class Finger extends LineReceiver {
 *   // If lookUp rejects, the error is logged and this one connection dropped.
 *   override async lineReceived(line: Uint8Array): Promise<void> {
 *     this.sendLine(await lookUp(new TextDecoder().decode(line)));
 *     this.transport.loseConnection();
 *   }
 * }
 * ```
 */
export class Protocol {
  /** The factory that built this protocol, if a factory did. */
  factory: Factory | undefined = undefined;
  /**
   * The transport, set by {@linkcode Protocol.makeConnection}. Using it before the connection
   * is made is an error, as in Twisted.
   */
  transport!: Transport;
  /** `true` from {@linkcode Protocol.makeConnection} until the connection is lost. */
  connected = false;

  /**
   * Attaches the transport, marks the protocol connected and calls
   * {@linkcode Protocol.connectionMade}. Called by the transport; rarely overridden.
   *
   * @example
   * ```ts
   * import { Protocol } from "@poetry/serve/protocol";
   * import { StringTransport } from "@poetry/serve/testing";
   * const p = new Protocol();
   * p.makeConnection(new StringTransport());
   * console.log(p.connected); // true
   * ```
   */
  makeConnection(transport: Transport): void {
    this.connected = true;
    this.transport = transport;
    watchCallbackResult(transport, this.connectionMade(), "Unhandled error in connectionMade");
  }

  /**
   * Called once the connection is up and {@linkcode Protocol.transport} is set.
   *
   * @example
   * ```ts
   * import { Protocol } from "@poetry/serve/protocol";
   * class Greeter extends Protocol {
   *   override connectionMade(): void {
   *     this.transport.write("hello\r\n");
   *   }
   * }
   * ```
   */
  connectionMade(): void {}

  /**
   * Called with each piece of data as it arrives. Data may come in pieces of any size: a
   * protocol must not assume one call per message (use a framing receiver for that).
   * The array is the protocol's to keep. A value it returns is not used (Twisted's closing of the
   * connection on a returned error is deprecated since Twisted 11.0): throw to drop the
   * connection. A promise or Deferred it returns only counts if it fails, as above.
   *
   * @example
   * ```ts
   * import { Protocol } from "@poetry/serve/protocol";
   * class Collector extends Protocol {
   *   chunks: Uint8Array[] = [];
   *   override dataReceived(data: Uint8Array): void {
   *     this.chunks.push(data);
   *   }
   * }
   * ```
   */
  dataReceived(_data: Uint8Array): void {}

  /**
   * Called exactly once when the connection ends, with why: a `ConnectionDone` failure for a
   * clean close, `ConnectionLost` (or `ConnectionAborted`) otherwise. The transport sets
   * {@linkcode Protocol.connected} to `false` before calling it.
   *
   * @example
   * ```ts
   * import { Protocol } from "@poetry/serve/protocol";
   * import type { Failure } from "@poetry/serve/failure";
   * class Reporter extends Protocol {
   *   override connectionLost(reason: Failure): void {
   *     console.log("lost:", reason.getErrorMessage());
   *   }
   * }
   * ```
   */
  connectionLost(_reason: Failure): void {}

  /**
   * The name this protocol's log lines carry, before the connection number and the peer's host
   * on a server (`Echo,3,127.0.0.1`): the class name unless overridden, as in Twisted.
   *
   * @example
   * ```ts
   * import { Protocol } from "@poetry/serve/protocol";
   * class Echo extends Protocol {}
   * console.log(new Echo().logPrefix()); // Echo
   * ```
   */
  logPrefix(): string {
    return this.constructor.name;
  }
}
