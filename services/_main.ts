/**
 * Runs one plugin as a program, for the `if (import.meta.main)` block of a module that exports
 * a plugin: `deno run --allow-net services/fastpoetry.ts --port 10000` is the runner with that
 * plugin as its default, so the runner's options (`--logfile`, `--pidfile`, `--daemon`...)
 * work too, before the plugin's.
 *
 * @module
 */

import type { AnyServiceMaker } from "./plugin.ts";
import { runMain } from "./runner.ts";

/** Runs `plugin` with `args` under the runner, then exits with the runner's status. */
export async function runPluginAsMain(
  plugin: AnyServiceMaker,
  args: readonly string[],
): Promise<never> {
  const status = await runMain(args, {
    plugins: [plugin],
    defaultPlugin: plugin.tapname,
  });
  Deno.exit(status);
}
