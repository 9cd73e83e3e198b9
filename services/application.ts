/**
 * {@linkcode Application}: the top service of a program, the one object a configuration module
 * (Twisted's *tac file*) exports for the runner to start — Twisted's
 * `twisted.application.service.Application`.
 *
 * A configuration module only builds the tree of services; it starts nothing. The runner
 * imports it, takes its `application` export, and runs the application's
 * `privilegedStartService`, then `startService`, and `stopService` at shutdown.
 *
 * @example A configuration module
 * ```ts
 * import { Application } from "@poetry/serve/application";
 * import { MultiService } from "@poetry/serve/multi-service";
 * import { Service } from "@poetry/serve/service";
 *
 * // configuration parameters
 * const poetryFile = "poetry/ecstasy.txt";
 *
 * class PoetryService extends Service {
 *   constructor(readonly poetryFile: string) {
 *     super();
 *   }
 * }
 *
 * const topService = new MultiService();
 * new PoetryService(poetryFile).setServiceParent(topService);
 *
 * // the runner looks for this export
 * export const application = new Application("fastpoetry");
 * topService.setServiceParent(application);
 * console.log(application.name); // fastpoetry
 * ```
 *
 * @module
 */

import { MultiService } from "./multi_service.ts";

/**
 * Options for {@linkcode Application}.
 *
 * @example Drop root for an unprivileged user once the ports are bound
 * ```ts
 * import { Application, type ApplicationOptions } from "@poetry/serve/application";
 *
 * const options: ApplicationOptions = { uid: 1000, gid: 1000 };
 * const application = new Application("fastpoetry", options);
 * console.log(application.uid, application.gid); // 1000 1000
 * ```
 */
export interface ApplicationOptions {
  /**
   * The user id the runner switches to after the privileged start (ports below 1024 are
   * bound by then), as twistd does; it logs `set uid/gid U/G`. It needs root and
   * `--allow-sys`; supplementary groups other than `gid` are dropped, which needs `--allow-ffi`
   * too (Deno has no other way to drop them), and without it the runner refuses to start
   * rather than keep them. A switch that fails stops the program (exit status 1).
   * @default {undefined} (keep the current user)
   */
  uid?: number;
  /**
   * The group id the runner switches to after the privileged start; by default, with a `uid`,
   * that user's primary group (from `/etc/passwd`, which then needs `--allow-read`).
   * @default {undefined} (keep the current group)
   */
  gid?: number;
}

/**
 * The top service of a program: a {@linkcode MultiService} with a name (and, optionally, the
 * user and group the runner should switch to). Everything the program runs is its child or
 * grandchild. A configuration module exports it as `application`.
 *
 * @example Build and run an application by hand
 * ```ts
 * import { Application } from "@poetry/serve/application";
 * import { Service } from "@poetry/serve/service";
 *
 * const application = new Application("fastpoetry");
 * const poetry = new Service();
 * poetry.setServiceParent(application);
 * application.privilegedStartService();
 * application.startService();
 * console.log(poetry.running); // true
 * await application.stopService();
 * console.log(poetry.running); // false
 * ```
 */
export class Application extends MultiService {
  /** The user id to switch to, if any (see {@linkcode ApplicationOptions.uid}). */
  readonly uid: number | undefined;
  /** The group id to switch to, if any (see {@linkcode ApplicationOptions.gid}). */
  readonly gid: number | undefined;

  /**
   * An application named `name` with no children yet.
   *
   * @example
   * ```ts
   * import { Application } from "@poetry/serve/application";
   * const application = new Application("fastpoetry", { uid: 1000, gid: 1000 });
   * console.log(application.name, application.uid); // fastpoetry 1000
   * ```
   */
  constructor(name: string, options: ApplicationOptions = {}) {
    super();
    this.name = name;
    this.uid = options.uid;
    this.gid = options.gid;
  }
}
