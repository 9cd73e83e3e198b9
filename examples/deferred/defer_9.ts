// deno run examples/deferred/defer_9.ts
// addBoth runs whatever happened: the place to stop (in Twisted, reactor.stop()).
// (setTimeout stands in for the reactor; move to the reactor once it is in.)
import { Deferred } from "../../defer.ts";

function gotPoem(poem: string): void {
  console.log(poem);
}

function poemFailed(): void {
  console.error("poem download failed");
  console.error("I am terribly sorry");
  console.error("try again later?");
}

function poemDone(): void {
  console.log("(done: this is where the reactor would stop)");
}

const d = new Deferred<string>();
d.addCallbacks(gotPoem, poemFailed);
d.addBoth(poemDone);
setTimeout(() => d.callback("Another short poem."), 0);
