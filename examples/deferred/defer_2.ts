// deno run examples/deferred/defer_2.ts
// A Deferred fired with a failure runs the errback of its callback/errback pair.
import { Deferred } from "../../defer.ts";
import { Failure } from "../../failure.ts";

function gotPoem(poem: string): void {
  console.log("Your poem is served:");
  console.log(poem);
}

function poemFailed(): void {
  console.log("No poetry for you.");
}

const d = new Deferred<string>();
d.addCallbacks(gotPoem, poemFailed);
d.errback(new Failure(new Error("I have failed."))); // fire it with a failure
console.log("Finished");
