// deno run examples/deferred/defer_9.ts
// addBoth runs whatever happened, so it is the one place to stop the reactor.
import { Deferred } from "../../defer.ts";
import { reactor } from "../../reactor.ts";

function gotPoem(poem: string): void {
  console.log(poem);
}

function poemFailed(): void {
  console.error("poem download failed");
  console.error("I am terribly sorry");
  console.error("try again later?");
}

function poemDone(): void {
  reactor.stop();
}

const d = new Deferred<string>();
d.addCallbacks(gotPoem, poemFailed);
d.addBoth(poemDone);

reactor.callWhenRunning(() => d.callback("Another short poem."));

await reactor.run();
