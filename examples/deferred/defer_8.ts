// deno run examples/deferred/defer_8.ts
// Fire a Deferred once the event loop runs. (setTimeout stands in for
// reactor.callWhenRunning and reactor.stop; move to the reactor once it is in.)
import { Deferred } from "../../defer.ts";

function gotPoem(poem: string): void {
  console.log(poem);
}

function poemFailed(): void {
  console.error("poem download failed");
  console.error("I am terribly sorry");
  console.error("try again later?");
}

const d = new Deferred<string>();
d.addCallbacks(gotPoem, poemFailed);
setTimeout(() => d.callback("Another short poem."), 0);
