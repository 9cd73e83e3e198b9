// deno run examples/deferred/deferred_list_1.ts
// A DeferredList of nothing has fired already: the callback runs as it is added.
import { DeferredList } from "../../defer.ts";
import { gotResults } from "./_show.ts";

console.log("Empty List.");
const d = new DeferredList<string>([]);
console.log("Adding Callback.");
d.addCallback(gotResults);
