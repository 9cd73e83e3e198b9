// deno run --allow-net=localhost,127.0.0.1 examples/servers/fastpoetry_2.ts --port 10000 --poem tide
/**
 * The Fast Poetry Server as services (Part 16: Twisted Daemonologie), run by hand. The poem
 * now lives in a `PoetryService`, the listening socket in a `TCPServer`, both under a
 * `MultiService` — the tree `makeFastPoetryService` builds for the `fastpoetry` plugin, and
 * that `examples/app.ts` builds itself. An `Application` is the root of such a tree: starting
 * it starts every service (the poem is loaded, the port opened), and stopping it stops them.
 * The runner does this for you (see `examples/app.ts`); here it is done by hand, to show the
 * life cycle.
 *
 * ```sh
 * deno run --allow-net=localhost,127.0.0.1 examples/servers/fastpoetry_2.ts --port 10000 --poem tide
 * ```
 *
 * @module
 */

import { startLogging } from "../../log.ts";
import { reactor } from "../../reactor.ts";
import { Application } from "../../services/application.ts";
import { fastPoetryOptions, makeFastPoetryService } from "../../services/fastpoetry.ts";
import { parseCommandLine } from "../../services/plugin.ts";

const options = parseCommandLine(fastPoetryOptions, Deno.args, "fastpoetry_2.ts");

startLogging(Deno.stdout);
const application = new Application("fastpoetry");
(await makeFastPoetryService(options)).setServiceParent(application);

// What the runner does: start the tree (ports open first), and stop it when the reactor
// shuts down (on SIGINT or SIGTERM).
application.privilegedStartService();
application.startService();
reactor.addSystemEventTrigger("before", "shutdown", () => application.stopService());
await reactor.run();
