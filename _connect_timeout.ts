/**
 * The timeout of a connection attempt. It is the project's one {@linkcode TimeoutError}, so
 * that `reason.check(TimeoutError)` catches every timeout; it is also marked here, so that
 * `ConnectError` and `UserError` count it among theirs, as Twisted's connect `TimeoutError` is
 * a `UserError` and so a `ConnectError`.
 *
 * @module
 */

import { TimeoutError } from "./defer.ts";

const connectTimeouts = new WeakSet<object>();

/** A connect timeout: `connecting to <where> timed out after <seconds> seconds`. */
export function connectTimeout(seconds: number, where: string): TimeoutError {
  const error = new TimeoutError(seconds, `connecting to ${where}`);
  // The address, as every ConnectError has it.
  Object.defineProperty(error, "where", { value: where, enumerable: true });
  connectTimeouts.add(error);
  return error;
}

/** Whether `value` is a timeout made by {@linkcode connectTimeout}. */
export function isConnectTimeout(value: unknown): boolean {
  return typeof value === "object" && value !== null && connectTimeouts.has(value);
}
