// deno run examples/deferred/deferred_list_5.ts
// A failure is listed as [false, failure]; consumeErrors handles it in d2's own chain.
import { Deferred, DeferredList } from "../../defer.ts";
import { gotResults } from "./_show.ts";

const d1 = new Deferred<string>();
const d2 = new Deferred<string>();
const d = new DeferredList([d1, d2], { consumeErrors: true });
d.addCallback(gotResults);
console.log("Firing d1.");
d1.callback("d1 result");
console.log("Firing d2 with errback.");
d2.errback(new Error("d2 failure"));
