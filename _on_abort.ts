/**
 * Following an `AbortSignal`, the way `Deno.serve` stops on its `signal`: used by
 * `Deferred.addAbortSignal` and by listening ports.
 *
 * @module
 */

/**
 * Calls `onAbort` once when `signal` aborts, or at once if it already has. Returns what to
 * call once the signal no longer matters (the work ended some other way), so that a
 * long-lived signal does not keep the listener, and what it holds, alive.
 */
export function whenAborted(signal: AbortSignal, onAbort: () => void): () => void {
  if (signal.aborted) {
    onAbort();
    return () => {};
  }
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}
