/**
 * What the framing receivers share beyond byte helpers: how a frame is written to the
 * transport, and the error a callback raises when it must be overridden.
 *
 * @module
 */

import type { Transport } from "./protocol.ts";
import { EMPTY } from "./_bytes.ts";

/**
 * Writes one frame — `header`, `payload`, then `trailer` — to `transport`: copied into a single
 * write when the payload is small, handed over as a sequence (the payload uncopied) from 64 KiB
 * on.
 */
export function writeFrame(
  transport: Transport,
  header: Uint8Array,
  payload: Uint8Array,
  trailer: Uint8Array = EMPTY,
): void {
  if (payload.length >= 65536) {
    transport.writeSequence(
      trailer.length === 0 ? [header, payload] : [header, payload, trailer],
    );
    return;
  }
  const out = new Uint8Array(header.length + payload.length + trailer.length);
  out.set(header);
  out.set(payload, header.length);
  out.set(trailer, header.length + payload.length);
  transport.write(out);
}

/** The error thrown by a callback of `receiver` that a subclass must override. */
export function notImplemented(receiver: object, method: string): Error {
  return new Error(`${receiver.constructor.name}.${method} is not implemented: override it`);
}
