// deno run examples/basic/simple.ts
// The smallest reactor program: the reactor runs, with nothing to do, and prints nothing.
import { reactor } from "../../reactor.ts";

// The tutorial's program idles for ever, until it is interrupted. This one asks the reactor to
// stop after a second of doing nothing, so that it ends on its own.
//
// The tutorial's simple-poll.py is the same program on Twisted's poll()-based reactor, which it
// installs before the default one is chosen. Deno has a single event loop, which this reactor
// runs on, so there is no reactor to choose and that program has no example of its own.
reactor.callLater(1, () => reactor.stop());

await reactor.run();
