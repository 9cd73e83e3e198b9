/**
 * Tying a resource's stop to an `AbortSignal`, the way `Deno.serve` stops on its `signal`.
 *
 * @module
 */

/**
 * Calls `stop` once when `signal` aborts, or at once if it already has. Returns what to call
 * once the resource has stopped some other way, so that a long-lived signal does not keep it
 * (and its listener) alive.
 */
export function stopOnAbort(signal: AbortSignal, stop: () => void): () => void {
  if (signal.aborted) {
    stop();
    return () => {};
  }
  signal.addEventListener("abort", stop, { once: true });
  return () => signal.removeEventListener("abort", stop);
}
