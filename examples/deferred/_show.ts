// Shared by the DeferredList examples: prints outcomes with failures as one line each.
import type { DeferredListOutcome } from "../../defer.ts";

/** Prints `We got:` and the outcomes, each failure as `[Failure Error: message]`. */
export function gotResults(outcomes: DeferredListOutcome<string>[]): void {
  console.log("We got:", outcomes.map(([ok, result]) => [ok, ok ? result : String(result)]));
}
