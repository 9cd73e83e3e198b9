// deno run examples/deferred/deferred_list_6.ts
// Without consumeErrors, d2 still holds its failure after the list has seen it, so it is
// reported as unhandled (Twisted does that on garbage collection; we ask at the end).
import { Deferred, DeferredList, reportUnhandledErrors } from "../../defer.ts";
import { gotResults } from "./_show.ts";

const d1 = new Deferred<string>();
const d2 = new Deferred<string>();
const d = new DeferredList([d1, d2]);
d.addCallback(gotResults);
console.log("Firing d1.");
d1.callback("d1 result");
console.log("Firing d2 with errback.");
d2.errback(new Error("d2 failure"));

reportUnhandledErrors();
