/**
 * Parsing of endpoint description strings (`tcp:10000:interface=127.0.0.1`), by Twisted's
 * rules: `:` separates arguments, `=` makes one a keyword argument (only the first `=` of an
 * argument counts), and a backslash takes the next character literally.
 *
 * @module
 */

/** A description split into its type, positional arguments and keyword arguments. */
export interface Description {
  /** The endpoint type, lower-cased (`tcp`, `unix`, …). */
  type: string;
  /** The arguments without `=`, in order, after the type. */
  args: string[];
  /** The `key=value` arguments. */
  kwargs: Map<string, string>;
}

/**
 * Splits `description` into its type and arguments.
 *
 * @throws {TypeError} if it ends in a lone backslash or repeats a keyword.
 */
export function parseDescription(description: string, what: string): Description {
  const args: string[] = [];
  const kwargs = new Map<string, string>();
  let parts: string[] = [];
  let current = "";
  // After a `:`, both `:` and `=` are operators; after an `=`, only `:` is, so that a value
  // may contain `=`.
  let equalsIsOperator = true;
  const end = (): void => {
    parts.push(current);
    current = "";
    if (parts.length === 1) {
      args.push(parts[0]);
    } else {
      const [key, value] = parts;
      if (kwargs.has(key)) throw new TypeError(`${what}: "${key}" is given twice`);
      kwargs.set(key, value);
    }
    parts = [];
    equalsIsOperator = true;
  };
  for (let i = 0; i < description.length; i++) {
    const c = description[i];
    if (c === ":") {
      end();
    } else if (c === "=" && equalsIsOperator) {
      parts.push(current);
      current = "";
      equalsIsOperator = false;
    } else if (c === "\\") {
      if (++i === description.length) throw new TypeError(`${what}: it ends in a lone backslash`);
      current += description[i];
    } else {
      current += c;
    }
  }
  end();
  const type = args.shift()!.toLowerCase();
  return { type, args, kwargs };
}

/**
 * Reads a description's arguments by name. Positional arguments stand for the names in
 * `positional`, in order, as Python passes them; `done()` refuses any argument left unread.
 */
export class Arguments {
  readonly #what: string;
  readonly #values = new Map<string, string>();

  /**
   * @param positional The names the positional arguments stand for, in order.
   * @param skipGiven Whether a positional argument skips the names given as keywords (Twisted's
   *   client descriptions: `tcp:host=h:80` gives the port); otherwise a name given both ways
   *   is an error.
   * @throws {TypeError} for more positional arguments than names, or a name given twice.
   */
  constructor(
    description: Description,
    positional: string[],
    what: string,
    skipGiven = false,
  ) {
    this.#what = what;
    for (const [key, value] of description.kwargs) this.#values.set(key, value);
    const names = skipGiven ? positional.filter((name) => !this.#values.has(name)) : positional;
    if (description.args.length > names.length) {
      const extra = description.args.slice(names.length).map((a) => `"${a}"`).join(", ");
      throw new TypeError(`${what}: too many arguments (${extra})`);
    }
    description.args.forEach((value, i) => {
      const name = names[i];
      if (this.#values.has(name)) throw new TypeError(`${what}: "${name}" is given twice`);
      this.#values.set(name, value);
    });
  }

  /** The value given for `name`, or `undefined`; it counts as used. */
  string(name: string): string | undefined {
    const value = this.#values.get(name);
    this.#values.delete(name);
    return value;
  }

  /** The value given for `name`, which must have been given. */
  required(name: string): string {
    const value = this.string(name);
    if (value === undefined) throw new TypeError(`${this.#what}: it gives no ${name}`);
    return value;
  }

  /** The value given for `name` as a whole number in `radix`, or `undefined`. */
  integer(name: string, radix: 8 | 10 = 10): number | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    const digits = radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
    if (!digits.test(value)) {
      const kind = radix === 8 ? "an octal number" : "a whole number";
      throw new TypeError(`${this.#what}: ${name} must be ${kind}, not "${value}"`);
    }
    return Number.parseInt(value, radix);
  }

  /** A port number, which must have been given. */
  port(): number {
    if (!this.#values.has("port")) this.required("port");
    const port = this.integer("port")!;
    if (port > 65535) throw new TypeError(`${this.#what}: port ${port} is out of range`);
    return port;
  }

  /** `lockfile`, which may only be `0`: ports and connectors here take no lock file. */
  noLockfile(): void {
    const lockfile = this.string("lockfile");
    if (lockfile === undefined || lockfile === "0") return;
    throw new TypeError(`${this.#what}: lockfile=${lockfile} is not supported (no lock files)`);
  }

  /** Refuses `name` if it was given, saying why it cannot be honoured. */
  unsupported(name: string, why: string): void {
    if (this.#values.has(name)) throw new TypeError(`${this.#what}: ${name} ${why}`);
  }

  /** Refuses any argument not yet read. */
  done(): void {
    const left = [...this.#values.keys()];
    if (left.length === 0) return;
    const names = left.map((k) => `"${k}"`).join(", ");
    throw new TypeError(`${this.#what}: unknown argument${left.length > 1 ? "s" : ""} ${names}`);
  }
}
