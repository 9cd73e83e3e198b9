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
 * Imports `specifier` relative to the current directory. A local module that does not exist
 * is a {@linkcode UsageError} (`kind` says what it was for); any other failure to load it (a
 * syntax error, an error thrown while it runs) is an `Error` whose message says which module
 * and why, with the original as its `cause`.
 */
export async function importFromCwd(
  specifier: string,
  kind: string,
): Promise<Record<string, unknown>> {
  const url = moduleUrl(specifier);
  if (url.startsWith("file:")) {
    try {
      Deno.statSync(new URL(url));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new UsageError(`no such ${kind} module: ${specifier}`);
      }
      // Anything else (no read permission, say) is reported by the import itself.
    }
  }
  try {
    return await import(url);
  } catch (e) {
    const reason = e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e);
    throw new Error(`cannot load ${kind} module ${specifier}: ${reason}`, { cause: e });
  }
}
