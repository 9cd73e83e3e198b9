import assert from "node:assert/strict";
import { Failure } from "../failure.ts";
import { addObserver, type LogEvent, removeObserver } from "../log.ts";
import type { Connector } from "../protocols/factory.ts";
import { ReconnectingClientFactory } from "../protocols/reconnecting_client_factory.ts";
import { Clock, realTime } from "../task.ts";

/** A connector that records what the factory asks of it. */
class RecordingConnector implements Connector {
  state: "disconnected" | "connecting" | "connected" = "disconnected";
  connects = 0;
  stops = 0;
  connect(): void {
    this.connects++;
    this.state = "connecting";
  }
  disconnect(): void {
    this.state = "disconnected";
  }
  stopConnecting(): void {
    if (this.state !== "connecting") throw new Error("not connecting");
    this.stops++;
    this.state = "disconnected";
  }
  getDestination(): { type: "TCP"; host: string; port: number } {
    return { type: "TCP", host: "127.0.0.1", port: 10000 };
  }
}

const refused = new Failure(new Error("connection refused"));

function setup(): {
  factory: ReconnectingClientFactory;
  clock: Clock;
  connector: RecordingConnector;
} {
  const factory = new ReconnectingClientFactory();
  const clock = new Clock();
  factory.clock = clock;
  factory.noisy = false;
  return { factory, clock, connector: new RecordingConnector() };
}

/** Fails the connector's attempt and returns how long until the factory reconnected. */
function failAndWait(
  factory: ReconnectingClientFactory,
  clock: Clock,
  connector: RecordingConnector,
): number {
  connector.state = "disconnected";
  const before = connector.connects;
  factory.clientConnectionFailed(connector, refused);
  const calls = clock.getDelayedCalls();
  assert.equal(calls.length, 1);
  const wait = calls[0].getTime() - clock.seconds();
  clock.advance(wait);
  assert.equal(connector.connects, before + 1);
  return wait;
}

Deno.test("ReconnectingClientFactory has Twisted's defaults", () => {
  const factory = new ReconnectingClientFactory();
  assert.equal(factory.initialDelay, 1);
  assert.equal(factory.delay, 1);
  assert.equal(factory.maxDelay, 3600);
  assert.equal(factory.factor, 2.7182818284590451);
  assert.equal(factory.jitter, 0.119626565582);
  assert.equal(factory.retries, 0);
  assert.equal(factory.maxRetries, undefined);
  assert.equal(factory.continueTrying, true);
  assert.equal(factory.clock, realTime);
});

Deno.test("ReconnectingClientFactory backs off by factor up to maxDelay without jitter", () => {
  const { factory, clock, connector } = setup();
  factory.jitter = 0;
  factory.maxDelay = 30;
  const waits = Array.from({ length: 5 }, () => failAndWait(factory, clock, connector));
  const e = Math.E;
  assert.deepEqual(
    waits.map((w) => w.toFixed(9)),
    [e, e * e, e ** 3, 30, 30].map((w) => w.toFixed(9)),
  );
  assert.equal(factory.retries, 5);
  assert.equal(factory.connector, connector);
});

Deno.test("ReconnectingClientFactory does not reconnect before the wait is over", () => {
  const { factory, clock, connector } = setup();
  factory.jitter = 0;
  factory.clientConnectionFailed(connector, refused);
  clock.advance(2.7);
  assert.equal(connector.connects, 0);
  clock.advance(0.02);
  assert.equal(connector.connects, 1);
});

Deno.test("ReconnectingClientFactory jitters each wait as Twisted's normalvariate does", () => {
  const { factory, clock, connector } = setup();
  factory.maxDelay = 100;
  factory.random = () => 1; // one standard deviation above the mean, every time
  const waits = Array.from({ length: 6 }, () => failAndWait(factory, clock, connector));
  // Twisted 22.4 with random.normalvariate returning mu + sigma, maxDelay = 100:
  assert.deepEqual(
    waits.map((w) => w.toFixed(9)),
    [
      3.0434605478815597,
      9.262652106511524,
      28.19051625491985,
      85.79672404626238,
      111.9626565582,
      111.9626565582,
    ].map((w) => w.toFixed(9)),
  );
});

Deno.test("ReconnectingClientFactory never schedules a negative wait", () => {
  const { factory, clock, connector } = setup();
  factory.random = () => -100;
  factory.clientConnectionFailed(connector, refused);
  assert.equal(factory.delay, 0);
  clock.advance(0);
  assert.equal(connector.connects, 1);
});

Deno.test("ReconnectingClientFactory's default random source is standard normal", () => {
  const factory = new ReconnectingClientFactory();
  const samples = Array.from({ length: 4000 }, () => factory.random());
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  const sd = Math.sqrt(samples.reduce((a, b) => a + (b - mean) ** 2, 0) / samples.length);
  assert.ok(Math.abs(mean) < 0.15, `mean ${mean}`);
  assert.ok(sd > 0.85 && sd < 1.15, `standard deviation ${sd}`);
  assert.ok(samples.every(Number.isFinite));
});

Deno.test("ReconnectingClientFactory reconnects after a lost connection too", () => {
  const { factory, clock, connector } = setup();
  factory.jitter = 0;
  connector.state = "connected";
  factory.clientConnectionLost(connector, new Failure(new Error("connection lost")));
  assert.equal(factory.connector, connector);
  clock.advance(Math.E);
  assert.equal(connector.connects, 1);
});

Deno.test("ReconnectingClientFactory gives up after maxRetries consecutive retries", () => {
  const { factory, clock, connector } = setup();
  factory.jitter = 0;
  factory.maxRetries = 2;
  failAndWait(factory, clock, connector);
  failAndWait(factory, clock, connector);
  factory.clientConnectionFailed(connector, refused);
  assert.equal(factory.retries, 3);
  assert.deepEqual(clock.getDelayedCalls(), []);
  clock.advance(10_000);
  assert.equal(connector.connects, 2);
});

Deno.test("ReconnectingClientFactory.resetDelay starts the back-off and retry count afresh", () => {
  const { factory, clock, connector } = setup();
  factory.jitter = 0;
  factory.maxRetries = 3;
  for (let i = 0; i < 3; i++) failAndWait(factory, clock, connector);
  assert.equal(factory.retries, 3);
  factory.resetDelay();
  assert.equal(factory.delay, factory.initialDelay);
  assert.equal(factory.retries, 0);
  assert.equal(failAndWait(factory, clock, connector).toFixed(9), Math.E.toFixed(9));
  assert.equal(factory.retries, 1);
});

Deno.test("ReconnectingClientFactory.delay follows a subclass's initialDelay", () => {
  class Eager extends ReconnectingClientFactory {
    override initialDelay = 0.5;
  }
  const factory = new Eager();
  factory.clock = new Clock();
  factory.jitter = 0;
  factory.noisy = false;
  assert.equal(factory.delay, 0.5);
  factory.retry(new RecordingConnector());
  assert.equal(factory.delay, 0.5 * Math.E);
  factory.stopTrying();
});

Deno.test("ReconnectingClientFactory.stopTrying cancels a scheduled retry", () => {
  const { factory, clock, connector } = setup();
  factory.clientConnectionFailed(connector, refused);
  assert.equal(clock.getDelayedCalls().length, 1);
  factory.stopTrying();
  assert.equal(factory.continueTrying, false);
  assert.deepEqual(clock.getDelayedCalls(), []);
  clock.advance(10_000);
  assert.equal(connector.connects, 0);
  assert.equal(connector.stops, 0); // it was not connecting
});

Deno.test("ReconnectingClientFactory.stopTrying stops a connector that is connecting", () => {
  const { factory, clock, connector } = setup();
  factory.jitter = 0;
  failAndWait(factory, clock, connector);
  assert.equal(connector.state, "connecting");
  factory.stopTrying();
  assert.equal(connector.stops, 1);
  assert.equal(connector.state, "disconnected");
});

Deno.test("ReconnectingClientFactory does not retry after stopTrying until resetDelay", () => {
  const { factory, clock, connector } = setup();
  factory.stopTrying();
  factory.clientConnectionFailed(connector, refused);
  factory.clientConnectionLost(connector, refused);
  factory.retry(connector);
  assert.deepEqual(clock.getDelayedCalls(), []);
  assert.equal(factory.retries, 0);
  factory.resetDelay();
  assert.equal(factory.continueTrying, true);
  factory.clientConnectionFailed(connector, refused);
  assert.equal(clock.getDelayedCalls().length, 1);
  factory.stopTrying();
});

Deno.test("ReconnectingClientFactory.stopTrying still cancels a retry after resetDelay", () => {
  const { factory, clock, connector } = setup();
  factory.clientConnectionFailed(connector, refused);
  factory.resetDelay();
  factory.stopTrying();
  clock.advance(10_000);
  assert.equal(connector.connects, 0);
});

Deno.test("ReconnectingClientFactory.retry uses the last connector or throws without one", () => {
  const { factory, clock, connector } = setup();
  factory.jitter = 0;
  assert.throws(() => factory.retry(), TypeError);
  factory.connector = connector;
  factory.retry();
  clock.advance(Math.E);
  assert.equal(connector.connects, 1);
  const other = new RecordingConnector();
  factory.retry(other);
  clock.advance(Math.E ** 2);
  assert.equal(other.connects, 1);
  assert.equal(connector.connects, 1);
});

Deno.test("ReconnectingClientFactory logs its retries when noisy", () => {
  const { factory, connector } = setup();
  factory.noisy = true;
  factory.jitter = 0;
  factory.maxRetries = 1;
  const events: LogEvent[] = [];
  const observer = (e: LogEvent) => void events.push(e);
  addObserver(observer);
  try {
    factory.clientConnectionFailed(connector, refused);
    factory.clientConnectionFailed(connector, refused);
  } finally {
    removeObserver(observer);
    factory.stopTrying();
  }
  assert.deepEqual(events.map((e) => e.message.join(" ")), [
    "connector to 127.0.0.1:10000 will retry in 2 seconds",
    "Abandoning connector to 127.0.0.1:10000 after 2 retries.",
  ]);
});
