/**
 * The check a port or connector makes of the factory it is given, so that a wrong argument
 * fails in the call that passed it, naming it, and not later inside the port.
 *
 * @module
 */

import { describe } from "./_bytes.ts";

const FACTORY = ["buildProtocol", "doStart", "doStop", "logPrefix"];
const CLIENT_FACTORY = [
  ...FACTORY,
  "startedConnecting",
  "clientConnectionFailed",
  "clientConnectionLost",
];

/**
 * Throws TypeError unless `factory` has the methods a port (or, for `client`, a connector)
 * calls on it. `call` names the reactor method it was given to.
 */
export function checkFactory(factory: unknown, call: string, client: boolean): void {
  const methods = client ? CLIENT_FACTORY : FACTORY;
  const isObject = factory !== null && typeof factory === "object";
  const missing = isObject
    ? methods.filter((m) => typeof (factory as Record<string, unknown>)[m] !== "function")
    : methods;
  if (missing.length === 0) return;
  const kind = client ? "ClientFactory" : "Factory";
  const lacks = isObject ? ` (it has no ${missing.join(", ")})` : "";
  throw new TypeError(`${call} needs a ${kind}, not ${describe(factory)}${lacks}`);
}
