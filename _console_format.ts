/**
 * The substitutions `console.log` makes in its first argument (`%s`, `%d`, `%i`, `%f`, `%o`,
 * `%O`, `%j`, `%c`, `%%`), as Deno's console makes them, for a console whose output is turned
 * into log messages.
 *
 * @module
 */

/** The specifiers that take an argument. */
const SPECIFIER = /%[sdifoOjc%]/g;

/**
 * `data` as `console.log` would print it, as message parts: the first argument with its
 * specifiers replaced by the arguments they consume, then the arguments left over. Data
 * without a format string is returned as it is.
 */
export function consoleMessage(data: unknown[]): unknown[] {
  const format = data[0];
  if (typeof format !== "string" || !format.includes("%")) return data;
  let next = 1;
  const text = format.replace(SPECIFIER, (specifier) => {
    if (specifier === "%%") return "%";
    if (next >= data.length) return specifier; // nothing left to put there: kept as written
    const arg = data[next++];
    switch (specifier) {
      case "%s":
        return safeString(arg);
      case "%d":
      case "%i":
        return typeof arg === "bigint" ? String(arg) : String(Math.trunc(Number(arg)));
      case "%f":
        return String(Number(arg));
      case "%j":
        return safeJson(arg);
      case "%c":
        return ""; // CSS: nothing to show in a log file
      default: // %o, %O
        return Deno.inspect(arg, { compact: true });
    }
  });
  return [text, ...data.slice(next)];
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Deno.inspect(value, { compact: true }); // an object without a prototype
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return "[Circular]";
  }
}
