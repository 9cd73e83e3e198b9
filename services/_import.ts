/**
 * Importing user modules (plugins, application configurations) named on the command line.
 *
 * @module
 */

import { UsageError } from "../_options.ts";

/**
 * The URL of `specifier` taken relative to the current directory (URLs, `jsr:` and `npm:`
 * specifiers as they are).
 */
export function moduleUrl(specifier: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(specifier) && !/^[a-z]:[\\/]/i.test(specifier)) {
    return specifier;
  }
  const cwd = Deno.cwd();
  return new URL(specifier, `file://${cwd.endsWith("/") ? cwd : cwd + "/"}`).href;
}

/**
 * Imports `specifier` relative to the current directory; a failure becomes a one-line
 * {@linkcode UsageError} saying which `kind` of module could not be loaded and why.
 */
export async function importFromCwd(
  specifier: string,
  kind: string,
): Promise<Record<string, unknown>> {
  const url = moduleUrl(specifier);
  try {
    return await import(url);
  } catch (e) {
    const reason = e instanceof Error ? e.message.split("\n")[0] : String(e);
    throw new UsageError(`cannot load ${kind} module ${specifier}: ${reason}`);
  }
}
