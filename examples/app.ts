// deno run --allow-net --allow-read mod.ts --config examples/app.ts
/**
 * The fast poetry server as a configuration module — the tutorial's tac file (Part 16:
 * Twisted Daemonologie). It builds the server's service tree and exports it as
 * `application`; the runner imports it, starts the tree, and runs it in the foreground or as
 * a daemon, with a log file and a pid file, stopping it cleanly on SIGINT or SIGTERM:
 *
 * ```sh
 * deno run --allow-net --allow-read mod.ts --config examples/app.ts
 * deno run --allow-net --allow-read --allow-write --allow-run --allow-env mod.ts --daemon \
 *   --logfile poetry.log --pidfile poetry.pid --config examples/app.ts
 * ```
 *
 * (`--allow-read` lets the runner import this module; it gives it up once the server is up.)
 *
 * @module
 */

import { Application } from "../services/application.ts";
import { PoetryFactory, PoetryService } from "../services/fastpoetry.ts";
import { TCPServer } from "../services/internet.ts";
import { MultiService } from "../services/multi_service.ts";

// Configuration: edit these.
const port = 10000;
const iface = "localhost";
const poetryFile = "keeper"; // a bundled poem; or a file, e.g. "poetry/keeper.txt"

// The services that together make the poetry server.
const topService = new MultiService();

// The poetry service holds the poem; it loads it when it starts.
const poetryService = new PoetryService(poetryFile);
poetryService.setServiceParent(topService);

// The TCP service connects the factory to a listening socket, opened when it starts.
const factory = new PoetryFactory(poetryService);
const tcpService = new TCPServer(port, factory, { interface: iface });
tcpService.setServiceParent(topService);

/** What the runner runs: it must be named `application`. */
export const application: Application = new Application("fastpoetry");
topService.setServiceParent(application);
