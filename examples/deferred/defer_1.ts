// deno run examples/deferred/defer_1.ts
// A Deferred fired with a result runs the callback of its callback/errback pair.
import { Deferred } from "../../defer.ts";

function gotPoem(poem: string): void {
  console.log("Your poem is served:");
  console.log(poem);
}

function poemFailed(): void {
  console.log("No poetry for you.");
}

const d = new Deferred<string>();
d.addCallbacks(gotPoem, poemFailed); // one callback/errback pair
d.callback("This poem is short."); // fire it with a result
console.log("Finished");
