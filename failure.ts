/**
 * {@linkcode Failure}: an error captured as a value, so that it can travel down a Deferred's
 * errback chain, be inspected, trapped or re-thrown — Twisted's `twisted.python.failure`.
 *
 * @example Trap the errors you can handle
 * ```ts
 * import { Failure } from "@poetry/serve/failure";
 *
 * const failure = new Failure(new RangeError("too long"));
 * failure.trap(RangeError, TypeError); // returns RangeError; anything else is re-thrown
 * console.log(failure.getErrorMessage()); // "too long"
 * ```
 *
 * @module
 */

/**
 * A class whose instances can be failure values (any `Error` subclass, or any constructor).
 *
 * @example Handle only some kinds of error
 * ```ts
 * import { Failure, type ErrorType } from "@poetry/serve/failure";
 *
 * const expected: ErrorType[] = [RangeError, TypeError];
 * const failure = new Failure(new TypeError("not a poem"));
 * console.log(failure.check(...expected) === TypeError); // true
 * ```
 */
// deno-lint-ignore no-explicit-any
export type ErrorType = abstract new (...args: any[]) => unknown;

/**
 * An error wrapped as a value. Errbacks always receive a `Failure`, whatever was thrown or
 * passed to `errback()`: an `Error`, another `Failure` (which is reused, not nested), or any
 * other value.
 *
 * @example Wrap a thrown error
 * ```ts
 * import { Failure } from "@poetry/serve/failure";
 *
 * let failure: Failure;
 * try {
 *   JSON.parse("{");
 * } catch (e) {
 *   failure = Failure.from(e);
 * }
 * console.log(failure!.check(SyntaxError) === SyntaxError); // true
 * ```
 */
export class Failure {
  /** What was thrown: usually an `Error`, but any value can fail a Deferred. */
  readonly value: unknown;

  /**
   * Wraps `value`. Prefer {@linkcode Failure.from}, which returns an existing `Failure`
   * unchanged instead of wrapping it.
   *
   * @example
   * ```ts
   * import { Failure } from "@poetry/serve/failure";
   * const f = new Failure(new Error("oops"));
   * console.log(f.getErrorMessage()); // "oops"
   * ```
   */
  constructor(value: unknown) {
    this.value = value instanceof Failure ? value.value : value;
  }

  /**
   * Returns `value` if it already is a `Failure`, otherwise a new `Failure` wrapping it.
   *
   * @example
   * ```ts
   * import { Failure } from "@poetry/serve/failure";
   * const f = new Failure("oops");
   * console.log(Failure.from(f) === f); // true
   * ```
   */
  static from(value: unknown): Failure {
    return value instanceof Failure ? value : new Failure(value);
  }

  /**
   * The class of {@linkcode Failure.value}: its constructor for objects, `undefined` for
   * primitives such as a thrown string.
   *
   * @example
   * ```ts
   * import { Failure } from "@poetry/serve/failure";
   * console.log(new Failure(new TypeError("x")).type === TypeError); // true
   * ```
   */
  get type(): ErrorType | undefined {
    const v = this.value;
    if (v !== null && (typeof v === "object" || typeof v === "function")) {
      return (v as { constructor?: ErrorType }).constructor;
    }
    return undefined;
  }

  /**
   * Returns the first of `types` that the value is an instance of, or `null` if none is.
   *
   * @example
   * ```ts
   * import { Failure } from "@poetry/serve/failure";
   * const f = new Failure(new RangeError("x"));
   * console.log(f.check(TypeError)); // null
   * console.log(f.check(TypeError, Error) === Error); // true
   * ```
   */
  check<E extends ErrorType>(...types: E[]): E | null {
    for (const type of types) {
      if (this.value instanceof type) return type;
    }
    return null;
  }

  /**
   * Like {@linkcode Failure.check}, but re-throws the original value when none of `types`
   * matches: the idiom for an errback that handles only some errors and lets the rest go on
   * down the chain.
   *
   * @throws the wrapped value, when it is an instance of none of `types`.
   * @example
   * ```ts
   * import { Failure } from "@poetry/serve/failure";
   * const f = new Failure(new RangeError("x"));
   * console.log(f.trap(RangeError) === RangeError); // true
   * ```
   */
  trap<E extends ErrorType>(...types: E[]): E {
    const matched = this.check(...types);
    if (matched === null) this.raiseException();
    return matched;
  }

  /**
   * The error's message (`value.message` for errors, `String(value)` otherwise). Never throws:
   * a value that cannot be turned into a string (an object without a prototype, a `message`
   * getter that throws) is described as `<unprintable ...>`, so that logging it still works.
   *
   * @example
   * ```ts
   * import { Failure } from "@poetry/serve/failure";
   * console.log(new Failure(42).getErrorMessage()); // "42"
   * ```
   */
  getErrorMessage(): string {
    const v = this.value;
    try {
      if (v instanceof Error) return String(v.message);
      if (v !== null && typeof v === "object" && "message" in v) return String(v.message);
      return String(v);
    } catch {
      return `<unprintable ${kindOf(v)}>`;
    }
  }

  /**
   * A printable traceback: the error's stack when it has one, else `Name: message`, followed
   * by a `Caused by: ` traceback for each error in its `cause` chain, as Deno prints an
   * uncaught error. Never throws. `Name` is the error's class when its `name` is only the
   * inherited `"Error"`.
   *
   * @example
   * ```ts
   * import { Failure } from "@poetry/serve/failure";
   * console.log(new Failure(new Error("oops")).getTraceback().startsWith("Error: oops")); // true
   * const wrapped = new Error("cannot load app.ts", { cause: new SyntaxError("bad token") });
   * console.log(new Failure(wrapped).getTraceback().includes("Caused by: SyntaxError: bad token"));
   * // true
   * ```
   */
  getTraceback(): string {
    let text = this.#ownTraceback();
    // The chain, bounded and without repeats: a cause may be anything, a cycle included.
    const seen = new Set<unknown>([this.value]);
    let cause = causeOf(this.value);
    for (let depth = 0; cause !== undefined && !seen.has(cause) && depth < 10; depth++) {
      seen.add(cause);
      text += `\nCaused by: ${new Failure(cause).#ownTraceback()}`;
      cause = causeOf(cause);
    }
    return text;
  }

  /** The traceback of this failure's own error, without its causes. */
  #ownTraceback(): string {
    const v = this.value;
    const type = this.#typeName();
    const head = `${type}: ${this.getErrorMessage()}`;
    try {
      const stack = v instanceof Error ? v.stack : undefined;
      if (typeof stack === "string" && stack.length > 0) {
        const name = String((v as Error).name);
        const message = String((v as Error).message);
        if (!stack.includes(message) && message !== "") return `${head}\n${stack}`;
        // The stack was headed with `name`; head it with the class, as the one-line forms are.
        return stack.startsWith(`${name}: `) || stack === name
          ? type + stack.slice(name.length)
          : stack;
      }
    } catch {
      // A getter that throws: the one-line form is all there is to show.
    }
    return head;
  }

  /**
   * Throws the wrapped value: the original error, with its own stack.
   *
   * @throws always.
   * @example
   * ```ts
   * import { Failure } from "@poetry/serve/failure";
   * try {
   *   new Failure(new Error("oops")).raiseException();
   * } catch (e) {
   *   console.log((e as Error).message); // "oops"
   * }
   * ```
   */
  raiseException(): never {
    throw this.value;
  }

  /**
   * `[Failure Name: message]`, like Twisted's `[Failure instance: ...]`. Never throws.
   *
   * @example
   * ```ts
   * import { Failure } from "@poetry/serve/failure";
   * console.log(String(new Failure(new TypeError("bad")))); // "[Failure TypeError: bad]"
   * ```
   */
  toString(): string {
    return `[Failure ${this.#typeName()}: ${this.getErrorMessage()}]`;
  }

  /**
   * `Deno.inspect` and `console.log` show a failure as its one-line {@linkcode Failure.toString}.
   *
   * @example
   * ```ts
   * import { Failure } from "@poetry/serve/failure";
   * console.log(Deno.inspect(new Failure(new RangeError("too long")))); // [Failure RangeError: too long]
   * ```
   */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }

  #typeName(): string {
    const v = this.value;
    try {
      if (v instanceof Error) {
        const name = String(v.name);
        // A subclass that does not set `name` still says "Error": name its class instead, as
        // Twisted names the exception's type.
        const type = this.type?.name;
        return name === "Error" && typeof type === "string" && type !== "" ? type : name;
      }
      return this.type?.name ?? typeof v;
    } catch {
      return kindOf(v);
    }
  }
}

/** What `value` is, for a value whose own description throws. */
/** An error's `cause`, or `undefined` when it has none or reading it throws. */
function causeOf(value: unknown): unknown {
  try {
    return value instanceof Error ? value.cause : undefined;
  } catch {
    return undefined;
  }
}

function kindOf(value: unknown): string {
  try {
    const name = (value as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    if (typeof name === "string" && name !== "") return name;
  } catch {
    // A constructor getter that throws: fall back on the primitive type.
  }
  return value === null ? "null" : typeof value;
}
