// deno run examples/deferred/defer_4.ts
// A Deferred fires once: firing it again throws AlreadyCalledError (and ends this script).
import { Deferred } from "../../defer.ts";

const out = (s: unknown): void => console.log(String(s));
const d = new Deferred<string>();
d.addCallbacks(out, out);
d.callback("First result");
d.callback("Second result");
console.log("Finished");
