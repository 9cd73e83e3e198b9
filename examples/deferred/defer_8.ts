// deno run examples/deferred/defer_8.ts
// Fire a Deferred once the reactor is running; whichever callback runs stops the reactor.
import { Deferred } from "../../defer.ts";
import { reactor } from "../../reactor.ts";

function gotPoem(poem: string): void {
  console.log(poem);
  reactor.stop();
}

function poemFailed(): void {
  console.error("poem download failed");
  console.error("I am terribly sorry");
  console.error("try again later?");
  reactor.stop();
}

const d = new Deferred<string>();
d.addCallbacks(gotPoem, poemFailed);

reactor.callWhenRunning(() => d.callback("Another short poem."));

await reactor.run();
