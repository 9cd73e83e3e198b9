/**
 * A small typed command-line parser, in the spirit of Twisted's `usage.Options`: a command
 * declares its options and positional arguments as data ({@linkcode CommandSpec}), and
 * {@linkcode parseOptions} turns an argument list into a typed record, or throws a
 * {@linkcode UsageError} whose message names the option at fault.
 *
 * Accepted forms: `--port=10000`, `--port 10000`, `-p 10000`, `-p10000`, grouped short flags
 * (`-nv`), `--` to end the options, and `-` alone as a plain argument. An option given twice
 * keeps its last value unless it is `repeat`, which collects every value in order (so
 * `--poem a.txt --port 10000 --poem b.txt --port 10001` yields two parallel arrays).
 * `--help` is always recognised and throws {@linkcode HelpRequested}.
 *
 * Two differences from `usage.Options`, which reads its command line with Python's `getopt`:
 * options may follow positional arguments (`poem.txt --port 10001`; getopt stops at the first
 * plain argument), and long options must be spelled out (getopt also takes an unambiguous
 * prefix such as `--nod`, which here could not tell the runner's options from a plugin's).
 *
 * @example Parse a poetry server's options
 * ```ts
 * import { parseOptions, parsePort, type CommandSpec } from "@poetry/serve/plugin";
 *
 * interface ServerOptions {
 *   port: number;
 *   iface: string;
 *   poem: string;
 * }
 * const spec: CommandSpec<ServerOptions> = {
 *   options: [
 *     { name: "port", short: "p", default: 10000, help: "The port to listen on.", parse: parsePort },
 *     { name: "iface", default: "localhost", help: "The interface to listen on." },
 *   ],
 *   positionals: [{ name: "poem", help: "The file holding the poem." }],
 * };
 * const options = parseOptions(spec, ["-p", "10001", "ecstasy.txt"]);
 * console.log(options.port, options.iface, options.poem); // 10001 localhost ecstasy.txt
 * ```
 *
 * @module
 */

/**
 * A command line that cannot be used: an unknown option, a missing or bad value, a missing
 * argument. Plugins' option parsers and `makeService` throw it too (a port that is not a
 * number, a poem file that does not exist); the runner prints its message on one line and
 * exits with status 2.
 *
 * @example Catch a bad option
 * ```ts
 * import { parseOptions, UsageError } from "@poetry/serve/plugin";
 * try {
 *   parseOptions({}, ["--bogus"]);
 * } catch (e) {
 *   console.log(e instanceof UsageError, (e as Error).message); // true option --bogus not recognized
 * }
 * ```
 */
export class UsageError extends Error {
  /**
   * A usage error with a one-line message saying what is wrong.
   *
   * @param message What is wrong, naming the option or value at fault.
   *
   * @example Make one
   * ```ts
   * import { UsageError } from "@poetry/serve/plugin";
   * const e = new UsageError("no such poem file: missing.txt");
   * console.log(e.name); // UsageError
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Thrown by {@linkcode parseOptions} when `--help` is on the command line: the caller prints
 * {@linkcode formatHelp}'s text and exits with status 0 (as twistd does).
 *
 * @example Ask for help
 * ```ts
 * import { HelpRequested, parseOptions } from "@poetry/serve/plugin";
 * try {
 *   parseOptions({}, ["--help"]);
 * } catch (e) {
 *   console.log(e instanceof HelpRequested); // true
 * }
 * ```
 */
export class HelpRequested extends Error {
  /**
   * Says that help was asked for.
   *
   * @example Make one
   * ```ts
   * import { HelpRequested } from "@poetry/serve/plugin";
   * console.log(new HelpRequested().name); // HelpRequested
   * ```
   */
  constructor() {
    super("help requested");
    this.name = "HelpRequested";
  }
}

/**
 * The element type of a repeated option's array, or the value type itself: what an option's
 * `parse` returns.
 *
 * @example Type a parser for a repeated option
 * ```ts
 * import { type OptionItem, parsePort } from "@poetry/serve/plugin";
 *
 * interface ServerOptions {
 *   port: number[];
 * }
 * // One port per `--port`, not the whole array:
 * const parse: (text: string) => OptionItem<ServerOptions["port"]> = parsePort;
 * console.log(parse("10001")); // 10001
 * ```
 */
export type OptionItem<V> = V extends readonly (infer E)[] ? E : V;

/**
 * One option, `--name` (and `-short`), whose value is stored under `name`.
 *
 * - a *flag* (`flag: true`) takes no value and is `true` when given, else its default (`false`);
 * - a *repeated* option (`repeat: true`) collects every value given, in order, into an array;
 * - any other option takes one value; given twice, the last one wins.
 *
 * @example A repeated option with a parser
 * ```ts
 * import { type OptionSpec, parseOptions, parsePort } from "@poetry/serve/plugin";
 *
 * const port: OptionSpec<"port", number[]> = {
 *   name: "port",
 *   short: "p",
 *   repeat: true,
 *   help: "The port to listen on, once per poem.",
 *   parse: parsePort,
 * };
 * const parsed = parseOptions<{ port: number[] }>({ options: [port] }, ["-p10000", "-p", "10001"]);
 * console.log(parsed.port); // [ 10000, 10001 ]
 * ```
 */
export interface OptionSpec<K extends string = string, V = unknown> {
  /** The long name, without dashes: `port` for `--port`. */
  name: K;
  /**
   * A one-character short name, without the dash: `p` for `-p`.
   * @default {undefined} (no short name)
   */
  short?: string;
  /** One sentence for `--help`. */
  help: string;
  /**
   * The option takes no value: it is `true` when given.
   * @default {false}
   */
  flag?: boolean;
  /**
   * Every value given is collected, in order, into an array.
   * @default {false}
   */
  repeat?: boolean;
  /**
   * The value when the option is not given (`false` for flags, `[]` for repeated options,
   * `undefined` otherwise); shown by `--help`.
   * @default {undefined} (so the value is `false` for a flag, `[]` for a repeated option)
   */
  default?: V;
  /**
   * How `--help` shows the default, when `String(default)` would not do.
   * @default {String(default)} (an array's items joined by ", "; nothing for a flag, an undefined
   * default or an empty array)
   */
  defaultText?: string;
  /**
   * Turns the text given into the value; throws (preferably a {@linkcode UsageError}) when the
   * text is not acceptable. Its message is prefixed with the option's name.
   * @default {the text as it is}
   */
  parse?: (text: string) => OptionItem<V>;
  /**
   * The option must be given at least once.
   * @default {false}
   */
  required?: boolean;
}

/**
 * One positional argument, stored under `name` with the options.
 *
 * @example An optional port argument
 * ```ts
 * import { parseOptions, parsePort, type PositionalSpec } from "@poetry/serve/plugin";
 *
 * const port: PositionalSpec<"port", number> = {
 *   name: "port",
 *   optional: true,
 *   default: 10000,
 *   help: "The port to listen on.",
 *   parse: parsePort,
 * };
 * const spec = { positionals: [port] };
 * console.log(parseOptions<{ port: number }>(spec, []).port); // 10000
 * console.log(parseOptions<{ port: number }>(spec, ["10001"]).port); // 10001
 * ```
 */
export interface PositionalSpec<K extends string = string, V = unknown> {
  /** Its name, used as the record key and in `--help`. */
  name: K;
  /** One sentence for `--help`. */
  help: string;
  /**
   * It may be left out; it then takes its `default`.
   * @default {false}
   */
  optional?: boolean;
  /**
   * It collects every remaining argument into an array (and may be empty unless `required`).
   * Only the last positional may be `rest`.
   * @default {false}
   */
  rest?: boolean;
  /**
   * A `rest` positional must receive at least one argument.
   * @default {false}
   */
  required?: boolean;
  /**
   * The value when it is left out.
   * @default {undefined} (`[]` for a `rest` positional)
   */
  default?: V;
  /**
   * Turns the text given into the value; throws (preferably a {@linkcode UsageError}) when the
   * text is not acceptable.
   * @default {the text as it is}
   */
  parse?: (text: string) => OptionItem<V>;
}

/**
 * An option for one of the keys of `O`, whose value type is that key's.
 *
 * @example Options checked against the record they fill
 * ```ts
 * import { type OptionFor, parseOptions } from "@poetry/serve/plugin";
 *
 * interface ServerOptions {
 *   iface: string;
 *   verbose: boolean;
 * }
 * const options: OptionFor<ServerOptions>[] = [
 *   { name: "iface", default: "localhost", help: "The interface to listen on." },
 *   { name: "verbose", short: "v", flag: true, help: "Say more." }, // `default: 1` is a type error
 * ];
 * const parsed = parseOptions<ServerOptions>({ options }, ["-v"]);
 * console.log(parsed); // { verbose: true, iface: "localhost" }
 * ```
 */
export type OptionFor<O> = { [K in keyof O & string]-?: OptionSpec<K, O[K]> }[keyof O & string];

/**
 * A positional argument for one of the keys of `O`, whose value type is that key's.
 *
 * @example Poem files as the rest of the command line
 * ```ts
 * import { parseOptions, type PositionalFor } from "@poetry/serve/plugin";
 *
 * interface ServerOptions {
 *   files: string[];
 * }
 * const positionals: PositionalFor<ServerOptions>[] = [
 *   { name: "files", rest: true, required: true, help: "The poems to serve." },
 * ];
 * const options = parseOptions<ServerOptions>({ positionals }, ["ecstasy.txt", "tide.txt"]);
 * console.log(options.files); // [ "ecstasy.txt", "tide.txt" ]
 * ```
 */
export type PositionalFor<O> = { [K in keyof O & string]-?: PositionalSpec<K, O[K]> }[
  keyof O & string
];

/**
 * What a command accepts: its options and positional arguments, each stored in the parsed
 * record `O` under its name.
 *
 * @example A command with an option and an argument
 * ```ts
 * import { type CommandSpec, formatHelp, parseOptions, parsePort } from "@poetry/serve/plugin";
 *
 * const spec: CommandSpec<{ port: number; poem: string }> = {
 *   options: [{ name: "port", short: "p", default: 10000, help: "The port.", parse: parsePort }],
 *   positionals: [{ name: "poem", help: "The poem to serve." }],
 * };
 * console.log(formatHelp(spec, "poetry").split("\n")[0]); // Usage: poetry [options] poem
 * console.log(parseOptions(spec, ["tide.txt"])); // { port: 10000, poem: "tide.txt" }
 * ```
 */
export interface CommandSpec<O = Record<string, unknown>> {
  /**
   * The usage line after the program's name; made from the spec when left out.
   * @default {made from the spec} (`[options]`, then the positional arguments' names)
   */
  synopsis?: string;
  /**
   * A paragraph printed after the options by `--help`.
   * @default {undefined} (no paragraph)
   */
  description?: string;
  /**
   * The options, in the order `--help` lists them.
   * @default {[]}
   */
  options?: readonly OptionFor<O>[];
  /**
   * The positional arguments, in order.
   * @default {[]}
   */
  positionals?: readonly PositionalFor<O>[];
}

/**
 * The result of {@linkcode parseOptionsUntilCommand}.
 *
 * @example The runner's options, then the plugin's command line
 * ```ts
 * import { type PartialParse, parseOptionsUntilCommand } from "@poetry/serve/plugin";
 *
 * const parsed: PartialParse<{ nodaemon: boolean }> = parseOptionsUntilCommand(
 *   { options: [{ name: "nodaemon", short: "n", flag: true, help: "Stay in the foreground." }] },
 *   ["-n", "fastpoetry", "--port", "10000"],
 * );
 * console.log(parsed.options); // { nodaemon: true }
 * console.log(parsed.rest); // [ "fastpoetry", "--port", "10000" ]
 * ```
 */
export interface PartialParse<O> {
  /** The options given before the first plain argument, with defaults for the rest. */
  options: O;
  /** The arguments from the first one that is neither a known option nor its value. */
  rest: string[];
}

// A spec whatever its record type, for code that treats every command alike.
// deno-lint-ignore no-explicit-any
type LooseSpec = CommandSpec<any>;
type AnyOption = OptionSpec<string, unknown>;
type AnyPositional = PositionalSpec<string, unknown>;

function optionsOf(spec: LooseSpec): readonly AnyOption[] {
  return spec.options ?? [];
}

function positionalsOf(spec: LooseSpec): readonly AnyPositional[] {
  return spec.positionals ?? [];
}

function applyParser(
  what: string,
  parse: ((text: string) => unknown) | undefined,
  text: string,
): unknown {
  if (!parse) return text;
  try {
    return parse(text);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new UsageError(`${what}: ${message}`);
  }
}

interface Scan {
  values: Record<string, unknown>;
  given: Set<string>;
  plain: string[];
  rest: string[] | undefined;
}

/**
 * Reads options from `args`. With `untilCommand`, stops at the first plain argument or
 * unknown option and returns the remaining arguments in `rest`.
 */
function scan(spec: LooseSpec, args: readonly string[], untilCommand: boolean): Scan {
  const options = optionsOf(spec);
  const byLong = new Map<string, AnyOption>();
  const byShort = new Map<string, AnyOption>();
  for (const option of options) {
    byLong.set(option.name, option);
    if (option.short !== undefined) byShort.set(option.short, option);
  }
  const values: Record<string, unknown> = {};
  const given = new Set<string>();
  const plain: string[] = [];
  const store = (option: AnyOption, text: string | undefined, shown: string) => {
    if (option.flag) {
      values[option.name] = true;
    } else {
      const value = applyParser(`option ${shown}`, option.parse, text as string);
      if (option.repeat) {
        if (!given.has(option.name)) values[option.name] = [];
        (values[option.name] as unknown[]).push(value);
      } else {
        values[option.name] = value;
      }
    }
    given.add(option.name);
  };

  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      if (untilCommand) return { values, given, plain, rest: args.slice(i) };
      plain.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      const inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
      const option = byLong.get(name);
      if (!option) {
        if (name === "help") {
          if (inline !== undefined) throw new UsageError("option --help takes no value");
          throw new HelpRequested();
        }
        if (untilCommand) return { values, given, plain, rest: args.slice(i) };
        throw new UsageError(`option --${name} not recognized`);
      }
      if (option.flag) {
        if (inline !== undefined) throw new UsageError(`option --${name} takes no value`);
        store(option, undefined, `--${name}`);
      } else if (inline !== undefined) {
        store(option, inline, `--${name}`);
      } else {
        if (i + 1 >= args.length) throw new UsageError(`option --${name} requires a value`);
        store(option, args[++i], `--${name}`);
      }
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      // A group of short options: flags, then at most one option taking a value, which takes
      // the rest of the group or the next argument.
      for (let j = 1; j < arg.length; j++) {
        const letter = arg[j];
        const option = byShort.get(letter);
        if (!option) {
          if (j === 1 && untilCommand) return { values, given, plain, rest: args.slice(i) };
          throw new UsageError(`option -${letter} not recognized`);
        }
        if (option.flag) {
          store(option, undefined, `-${letter}`);
          continue;
        }
        if (j + 1 < arg.length) {
          store(option, arg.slice(j + 1), `-${letter}`);
        } else {
          if (i + 1 >= args.length) throw new UsageError(`option -${letter} requires a value`);
          store(option, args[++i], `-${letter}`);
        }
        break;
      }
      continue;
    }
    if (untilCommand) return { values, given, plain, rest: args.slice(i) };
    plain.push(arg);
  }
  return { values, given, plain, rest: untilCommand ? [] : undefined };
}

function finishOptions(spec: LooseSpec, result: Scan): void {
  for (const option of optionsOf(spec)) {
    if (result.given.has(option.name)) continue;
    if (option.required) throw new UsageError(`option --${option.name} is required`);
    if (option.flag) result.values[option.name] = option.default ?? false;
    else if (option.repeat) {
      const fallback = option.default;
      result.values[option.name] = Array.isArray(fallback) ? [...fallback] : [];
    } else result.values[option.name] = option.default;
  }
}

function assignPositionals(spec: LooseSpec, result: Scan): void {
  const positionals = positionalsOf(spec);
  const plain = result.plain;
  let next = 0;
  for (const positional of positionals) {
    const what = `argument ${positional.name}`;
    if (positional.rest) {
      const taken = plain.slice(next);
      next = plain.length;
      if (taken.length === 0 && positional.required) {
        throw new UsageError(`missing argument: ${positional.name}`);
      }
      result.values[positional.name] = taken.length === 0 && Array.isArray(positional.default)
        ? [...positional.default]
        : taken.map((text) => applyParser(what, positional.parse, text));
      continue;
    }
    if (next < plain.length) {
      result.values[positional.name] = applyParser(what, positional.parse, plain[next++]);
    } else if (positional.optional) {
      result.values[positional.name] = positional.default;
    } else {
      throw new UsageError(`missing argument: ${positional.name}`);
    }
  }
  if (next < plain.length) {
    throw new UsageError(`unexpected argument: ${JSON.stringify(plain[next])}`);
  }
}

/**
 * Parses a whole command line against `spec` and returns the record of values: every option
 * (given or defaulted) and every positional argument, under their names.
 *
 * @param spec What the command accepts.
 * @param args The arguments, without the program's name (e.g. `Deno.args`).
 * @returns The parsed values.
 * @throws {UsageError} For an unknown option, a missing or unacceptable value, a missing
 * required option or argument, or an argument too many; the message names the one at fault.
 * @throws {HelpRequested} When `--help` is given (and the spec has no option of that name).
 *
 * @example Repeated options and a positional argument
 * ```ts
 * import { parseOptions, parsePort, type CommandSpec } from "@poetry/serve/plugin";
 *
 * const spec: CommandSpec<{ port: number[]; poem: string[]; verbose: boolean }> = {
 *   options: [
 *     { name: "port", short: "p", repeat: true, help: "A port.", parse: parsePort },
 *     { name: "poem", repeat: true, help: "A poem file." },
 *     { name: "verbose", short: "v", flag: true, help: "Say more." },
 *   ],
 * };
 * const o = parseOptions(spec, ["--poem=a.txt", "-p", "10000", "--poem", "b.txt", "-vp10001"]);
 * console.log(o.poem, o.port, o.verbose); // [ "a.txt", "b.txt" ] [ 10000, 10001 ] true
 * ```
 */
export function parseOptions<O>(spec: CommandSpec<O>, args: readonly string[]): O {
  const loose = spec as LooseSpec;
  const result = scan(loose, args, false);
  finishOptions(loose, result);
  assignPositionals(loose, result);
  return result.values as O;
}

/**
 * Parses the options at the front of `args` and stops at the first plain argument or unknown
 * option, which is where a sub-command (a plugin's name) and its own options begin. Positional
 * arguments of `spec` are not assigned.
 *
 * @param spec What the command accepts before its sub-command.
 * @param args The arguments.
 * @returns The values of the options read, and the remaining arguments.
 * @throws {UsageError} For a missing or unacceptable value of a known option.
 * @throws {HelpRequested} When `--help` comes before the sub-command.
 *
 * @example Split the runner's options from a plugin's
 * ```ts
 * import { parseOptionsUntilCommand, type CommandSpec } from "@poetry/serve/plugin";
 *
 * const spec: CommandSpec<{ nodaemon: boolean }> = {
 *   options: [{ name: "nodaemon", short: "n", flag: true, help: "Stay in the foreground." }],
 * };
 * const { options, rest } = parseOptionsUntilCommand(spec, ["-n", "fastpoetry", "-p", "1"]);
 * console.log(options.nodaemon, rest); // true [ "fastpoetry", "-p", "1" ]
 * ```
 */
export function parseOptionsUntilCommand<O>(
  spec: CommandSpec<O>,
  args: readonly string[],
): PartialParse<O> {
  const loose = spec as LooseSpec;
  const result = scan(loose, args, true);
  finishOptions(loose, result);
  return { options: result.values as O, rest: result.rest ?? [] };
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w.length > 0)) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line.length > 0 ? `${line} ${word}` : word;
    }
  }
  if (line.length > 0 || lines.length === 0) lines.push(line);
  return lines;
}

function showDefault(option: AnyOption): string | undefined {
  if (option.defaultText !== undefined) return option.defaultText;
  const value = option.default;
  if (option.flag || value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.length > 0 ? value.map(String).join(", ") : undefined;
  return String(value);
}

function table(rows: [string, string][], width: number): string[] {
  const first = Math.max(...rows.map(([left]) => left.length)) + 2;
  const second = Math.max(20, width - first);
  const lines: string[] = [];
  for (const [left, right] of rows) {
    const wrapped = wrap(right, second);
    lines.push((left.padEnd(first) + wrapped[0]).trimEnd());
    for (const more of wrapped.slice(1)) lines.push(" ".repeat(first) + more);
  }
  return lines;
}

function defaultSynopsis(spec: LooseSpec): string {
  const parts = ["[options]"];
  for (const positional of positionalsOf(spec)) {
    const name = positional.rest ? `${positional.name}...` : positional.name;
    parts.push(
      positional.optional || (positional.rest && !positional.required) ? `[${name}]` : name,
    );
  }
  return parts.join(" ");
}

/**
 * The `--help` text for `spec`, laid out as twistd's: a usage line, one line per option with its
 * default, the positional arguments, then the description.
 *
 * @param spec What the command accepts.
 * @param program What to print before the synopsis on the usage line.
 * @param width The column to wrap at.
 * @returns The text, ending with a newline.
 *
 * @example Show a command's options
 * ```ts
 * import { formatHelp, parsePort } from "@poetry/serve/plugin";
 * const help = formatHelp(
 *   { options: [{ name: "port", short: "p", default: 10000, help: "The port.", parse: parsePort }] },
 *   "poetry fastpoetry",
 * );
 * console.log(help.includes("-p, --port=")); // true
 * console.log(help.includes("[default: 10000]")); // true
 * ```
 */
export function formatHelp<O>(spec: CommandSpec<O>, program: string, width = 80): string {
  const loose: LooseSpec = spec;
  const lines = [`Usage: ${program} ${spec.synopsis ?? defaultSynopsis(loose)}`, "Options:"];
  const rows: [string, string][] = [];
  for (const option of optionsOf(loose)) {
    const short = option.short !== undefined ? `-${option.short},` : "   ";
    const long = `--${option.name}${option.flag ? "" : "="}`;
    const shown = showDefault(option);
    const help = shown !== undefined ? `${option.help} [default: ${shown}]` : option.help;
    rows.push([`  ${short} ${long}`, option.repeat ? `${help} (repeatable)` : help]);
  }
  if (!optionsOf(loose).some((option) => option.name === "help")) {
    rows.push(["      --help", "Display this help and exit."]);
  }
  lines.push(...table(rows, width));
  const positionals = positionalsOf(loose);
  if (positionals.length > 0) {
    lines.push("Arguments:");
    lines.push(...table(positionals.map((p) => [`  ${p.name}`, p.help]), width));
  }
  if (spec.description) lines.push("", ...wrap(spec.description, width));
  return lines.join("\n") + "\n";
}

/**
 * Parses `args` for a command-line program: on `--help` prints the help on stdout and exits
 * with status 0; on a usage error prints `program: message` on stderr (one line) and exits
 * with status 2. Otherwise returns the parsed values.
 *
 * @param spec What the program accepts.
 * @param args Its arguments (usually `Deno.args`).
 * @param program Its name, for the usage line and error messages.
 * @returns The parsed values.
 *
 * @example A client's main
 * ```ts
 * import { parseCommandLine, parsePort } from "@poetry/serve/plugin";
 * const options = parseCommandLine<{ port: number }>(
 *   { options: [{ name: "port", default: 10000, help: "The port.", parse: parsePort }] },
 *   ["--port", "10001"],
 *   "get-poetry",
 * );
 * console.log(options.port); // 10001
 * ```
 */
export function parseCommandLine<O>(
  spec: CommandSpec<O>,
  args: readonly string[],
  program: string,
): O {
  try {
    return parseOptions(spec, args);
  } catch (e) {
    if (e instanceof HelpRequested) {
      console.log(formatHelp(spec, program).trimEnd());
      Deno.exit(0);
    }
    if (e instanceof UsageError) {
      console.error(`${program}: ${e.message}`);
      Deno.exit(2);
    }
    throw e;
  }
}

/**
 * Parses a TCP port number: an integer from 0 to 65535 (0 asks for any free port).
 *
 * @param text The text given.
 * @returns The port number.
 * @throws {UsageError} When the text is not such a number.
 *
 * @example Read a port
 * ```ts
 * import { parsePort } from "@poetry/serve/plugin";
 * console.log(parsePort("10000")); // 10000
 * ```
 */
export function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text.trim()) || Number(text) > 65535) {
    throw new UsageError(`${JSON.stringify(text)} is not a port number (0 to 65535)`);
  }
  return Number(text);
}

/**
 * Parses a whole number, such as a byte count.
 *
 * @param text The text given.
 * @returns The number.
 * @throws {UsageError} When the text is not a whole number.
 *
 * @example Read a whole number
 * ```ts
 * import { parseInteger } from "@poetry/serve/plugin";
 * console.log(parseInteger("-3")); // -3
 * ```
 */
export function parseInteger(text: string): number {
  if (!/^[-+]?\d+$/.test(text.trim())) {
    throw new UsageError(`${JSON.stringify(text)} is not a whole number`);
  }
  return Number(text);
}

/**
 * Parses a number of seconds above 0, such as a time limit.
 *
 * @param text The text given.
 * @returns The number of seconds.
 * @throws {UsageError} When the text is not a finite number above 0.
 */
export function parsePositiveSeconds(text: string): number {
  const seconds = parseNumber(text);
  if (!(seconds > 0)) {
    throw new UsageError(`${JSON.stringify(text)} is not a number of seconds > 0`);
  }
  return seconds;
}

/**
 * Parses a number of bytes above 0, such as a size limit.
 *
 * @param text The text given.
 * @returns The number of bytes.
 * @throws {UsageError} When the text is not a whole number above 0.
 */
export function parseByteCount(text: string): number {
  if (!/^\+?\d+$/.test(text.trim()) || !(Number(text) > 0)) {
    throw new UsageError(`${JSON.stringify(text)} is not a number of bytes > 0`);
  }
  return Number(text);
}

/**
 * Parses a finite number, such as a delay in seconds (`0.1`).
 *
 * @param text The text given.
 * @returns The number.
 * @throws {UsageError} When the text is not a finite number.
 *
 * @example Read a delay
 * ```ts
 * import { parseNumber } from "@poetry/serve/plugin";
 * console.log(parseNumber("0.1")); // 0.1
 * ```
 */
export function parseNumber(text: string): number {
  const value = text.trim() === "" ? NaN : Number(text);
  if (!Number.isFinite(value)) throw new UsageError(`${JSON.stringify(text)} is not a number`);
  return value;
}

/**
 * A host and port, as {@linkcode parseAddress} reads them.
 *
 * @example Read a server's address
 * ```ts
 * import { type HostPort, parseAddress } from "@poetry/serve/plugin";
 *
 * const server: HostPort = parseAddress("[::1]:10001");
 * console.log(server.host, server.port); // ::1 10001
 * ```
 */
export interface HostPort {
  /** The host name or address. */
  host: string;
  /** The port number. */
  port: number;
}

/**
 * Parses `[HOST:]PORT` (an IPv6 host goes in brackets: `[::1]:10000`), as the poetry clients
 * and the proxy take their addresses.
 *
 * @param text The text given.
 * @param defaultHost The host when only a port is given.
 * @returns The host and port.
 * @throws {UsageError} When the port is not a port number, the host is empty, or a host with
 * a colon is not in brackets (`127.0.0.1:10000:1` is a mistake, not the host `127.0.0.1:10000`).
 *
 * @example Read an address
 * ```ts
 * import { parseAddress } from "@poetry/serve/plugin";
 * console.log(parseAddress("10000")); // { host: "127.0.0.1", port: 10000 }
 * console.log(parseAddress("localhost:10001")); // { host: "localhost", port: 10001 }
 * ```
 */
export function parseAddress(text: string, defaultHost = "127.0.0.1"): HostPort {
  const colon = text.lastIndexOf(":");
  if (colon < 0) return { host: defaultHost, port: parsePort(text) };
  let host = text.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) {
    host = host.slice(1, -1);
  } else if (host.includes(":")) {
    throw new UsageError(
      `${JSON.stringify(text)} is not [HOST:]PORT (an IPv6 host goes in brackets: [::1]:PORT)`,
    );
  }
  if (host === "") throw new UsageError(`${JSON.stringify(text)} has an empty host`);
  return { host, port: parsePort(text.slice(colon + 1)) };
}

/**
 * Parses the `[HOST:]PORT` of a server to connect to: as {@linkcode parseAddress}, but port 0,
 * which only a listener can ask for, is refused as a usage error.
 *
 * @param text The text given.
 * @returns The host and port.
 * @throws {UsageError} When the text is not `[HOST:]PORT`, or the port is 0.
 */
export function parseServerAddress(text: string): HostPort {
  const address = parseAddress(text);
  if (address.port === 0) {
    throw new UsageError(
      `${JSON.stringify(text)}: port 0 is for listening; give the server's port`,
    );
  }
  return address;
}

/**
 * Checks that a file exists and is not a directory (as a server that will read it at start-up
 * wants to know before it starts), and returns its path as given.
 *
 * @param text The path given.
 * @returns The path.
 * @throws {UsageError} When there is no such file, or it is a directory.
 *
 * @example Reject a missing file
 * ```ts
 * import { parseExistingFile, UsageError } from "@poetry/serve/plugin";
 * try {
 *   parseExistingFile("no-such-poem.txt");
 * } catch (e) {
 *   console.log(e instanceof UsageError); // true
 * }
 * ```
 */
export function parseExistingFile(text: string): string {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(text);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new UsageError(`no such file: ${text}`);
    throw e;
  }
  if (info.isDirectory) throw new UsageError(`${text} is a directory, not a file`);
  return text;
}
