// deno run examples/deferred/deferred_list_3.ts
// A DeferredList fires once all its Deferreds have, listing results in list order.
import { Deferred, DeferredList } from "../../defer.ts";
import { gotResults } from "./_show.ts";

console.log("Two Deferreds.");
const d1 = new Deferred<string>();
const d2 = new Deferred<string>();
const d = new DeferredList([d1, d2]);
console.log("Adding Callback.");
d.addCallback(gotResults);
console.log("Firing d1.");
d1.callback("d1 result");
console.log("Firing d2.");
d2.callback("d2 result");
