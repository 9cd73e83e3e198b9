// deno run examples/deferred/deferred_list_2.ts
// A DeferredList of one Deferred fires when that one does.
import { Deferred, DeferredList } from "../../defer.ts";
import { gotResults } from "./_show.ts";

console.log("One Deferred.");
const d1 = new Deferred<string>();
const d = new DeferredList([d1]);
console.log("Adding Callback.");
d.addCallback(gotResults);
console.log("Firing d1.");
d1.callback("d1 result");
