// deno run examples/deferred/deferred_list_7.ts
// Handling d2's failure in its own chain, after the list's stage, also keeps it from being
// reported.
import { Deferred, DeferredList, reportUnhandledErrors } from "../../defer.ts";
import { gotResults } from "./_show.ts";

const d1 = new Deferred<string>();
const d2 = new Deferred<string>();
const d = new DeferredList([d1, d2]);
d2.addErrback(() => undefined); // handle d2's failure
d.addCallback(gotResults);
console.log("Firing d1.");
d1.callback("d1 result");
console.log("Firing d2 with errback.");
d2.errback(new Error("d2 failure"));

reportUnhandledErrors(); // nothing to report
