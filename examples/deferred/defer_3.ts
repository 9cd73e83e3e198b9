// deno run examples/deferred/defer_3.ts
// errback() wraps a plain Error in a Failure: errbacks always receive a Failure.
import { Deferred } from "../../defer.ts";
import type { Failure } from "../../failure.ts";

function gotPoem(poem: string): void {
  console.log("Your poem is served:");
  console.log(poem);
}

function poemFailed(failure: Failure): void {
  console.log(failure.constructor.name);
  console.log(String(failure));
  console.log("No poetry for you.");
}

const d = new Deferred<string>();
d.addCallbacks(gotPoem, poemFailed);
d.errback(new Error("I have failed."));
