// deno run examples/basic/log.ts
// Logging basics: a message is dropped until logging starts; then each is written with its time.
import { Deferred } from "../../defer.ts";
import type { Failure } from "../../failure.ts";
import { err, msg, startLogging } from "../../log.ts";

msg("Nobody hears this: no observer has been added to the log yet.");

startLogging(Deno.stdout);

msg("This one is written to stdout.");
err("And this one is written as an error.");

/** Wants a poem (a string), and throws when it gets anything else. */
function shout(poem?: unknown): string {
  return (poem as string).toUpperCase();
}

try {
  shout(); // no poem at all
} catch (e) {
  // err() takes the explanation with the error: both are written as one event.
  err(e, "Calling shout() without a poem threw; the error and its stack:");
}

function reportFailure(failure: Failure): void {
  err(failure, "A callback failed; the errback logs the failure:");
}

const d = new Deferred<unknown>();
d.addCallback(shout);
d.addErrback(reportFailure);
d.callback(true); // not a poem

msg("That is all.");
