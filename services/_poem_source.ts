/**
 * Where a poetry server's poem comes from: a bundled poem by name, a file path, a `file:` URL
 * or an `http:`/`https:` URL. Shared by the fast and slow poetry servers.
 *
 * A source is read as follows:
 *
 * - a **bundled name** (`keeper`: a key of `poetry/poems.ts`, with no `/` or `.`) needs no
 *   permission at all;
 * - a **path** (`poems/ode.txt`, `./keeper`) or **`file:` URL** is read from disk, and needs
 *   `--allow-read` for it;
 * - an **`http:`/`https:` URL** is fetched, and needs `--allow-net` for its host.
 *
 * A name that is both a bundled poem and a file in the current directory means the bundled
 * poem: write `./keeper` for the file.
 *
 * @module
 */

import { type OptionFor, parsePort, type PositionalFor, UsageError } from "../_options.ts";
import { getPoem, poems } from "../poetry/poems.ts";

/**
 * The bundled poem the poetry servers serve when given none.
 *
 * @example A server given no poem serves the default one
 * ```ts
 * import { DEFAULT_POEM, makeFastPoetryService, PoetryService } from "@poetry/serve/fastpoetry";
 *
 * const top = await makeFastPoetryService({ port: [0], iface: "127.0.0.1", poem: [], files: [] });
 * const poetry = [...top].find((service) => service instanceof PoetryService)!;
 * console.log(DEFAULT_POEM, poetry.poetryFile === DEFAULT_POEM); // keeper true
 * ```
 */
export const DEFAULT_POEM = "keeper";

/**
 * Thrown when a poem cannot be found: no such file, no such bundled poem, or a URL that answers
 * 404. It is a {@linkcode UsageError}, so the runner prints its message on one line and exits
 * with status 2. The message names the poem.
 *
 * @example
 * ```ts
 * import { PoemNotFoundError, PoetryService } from "@poetry/serve/fastpoetry";
 *
 * try {
 *   new PoetryService("no-such-poem.txt").startService();
 * } catch (e) {
 *   console.log(e instanceof PoemNotFoundError, (e as Error).message);
 *   // true no such poem file: no-such-poem.txt
 * }
 * ```
 */
export class PoemNotFoundError extends UsageError {
  /** The poem that was asked for, as given (path, URL or name). */
  readonly poem: string;

  /**
   * An error for the missing `poem`, with `message` saying what was looked for.
   *
   * @example
   * ```ts
   * import { PoemNotFoundError } from "@poetry/serve/fastpoetry";
   * const e = new PoemNotFoundError("ode.txt", "no such poem file: ode.txt");
   * console.log(e.name, e.poem); // PoemNotFoundError ode.txt
   * ```
   */
  constructor(poem: string, message: string) {
    super(message);
    this.name = "PoemNotFoundError";
    this.poem = poem;
  }
}

/** A poem source, resolved: what {@linkcode parsePoemSource} returns. */
export type PoemSource =
  | { kind: "bundled"; name: string; text: string }
  | { kind: "file"; path: string | URL }
  | { kind: "url"; url: URL };

const BUNDLED_NAME = /^[a-z0-9][a-z0-9-]*$/;
/** A scheme of two or more letters, so that `C:\poems` stays a path. */
const SCHEME = /^[a-z][a-z0-9+.-]+:/i;

/** Says which source `spec` names, without reading it. */
export function parsePoemSource(spec: string | URL): PoemSource {
  if (spec instanceof URL) return sourceOfUrl(spec);
  if (SCHEME.test(spec)) {
    let url: URL;
    try {
      url = new URL(spec);
    } catch {
      throw new UsageError(`not a valid poem URL: ${spec}`);
    }
    return sourceOfUrl(url);
  }
  if (BUNDLED_NAME.test(spec)) {
    const text = getPoem(spec);
    if (text !== undefined) return { kind: "bundled", name: spec, text };
  }
  if (spec === "") throw new UsageError("the poem is an empty string: give a file, URL or name");
  return { kind: "file", path: spec };
}

function sourceOfUrl(url: URL): PoemSource {
  if (url.protocol === "file:") return { kind: "file", path: url };
  if (url.protocol === "http:" || url.protocol === "https:") return { kind: "url", url };
  throw new UsageError(`cannot load a poem from ${url.href}: use a file, http: or https: URL`);
}

/** How a source is named in messages: its path or URL, or `bundled poem "keeper"`. */
export function describePoemSource(source: PoemSource): string {
  switch (source.kind) {
    case "bundled":
      return `bundled poem ${JSON.stringify(source.name)}`;
    case "file":
      return source.path instanceof URL ? source.path.href : source.path;
    case "url":
      return source.url.href;
  }
}

const encoder = new TextEncoder();

function fileError(source: { path: string | URL }, e: unknown): Error {
  const shown = source.path instanceof URL ? source.path.href : source.path;
  if (e instanceof Deno.errors.NotFound) {
    const looksLikeName = typeof source.path === "string" && BUNDLED_NAME.test(source.path);
    return new PoemNotFoundError(
      shown,
      looksLikeName
        ? `no such poem file: ${shown} (and no bundled poem of that name; bundled: ${
          Object.keys(poems).join(", ")
        })`
        : `no such poem file: ${shown}`,
    );
  }
  // Deno's permissions refused the read: the flag to run with says how to allow it.
  if (e instanceof Deno.errors.NotCapable) {
    const path = source.path instanceof URL ? decodeURIComponent(source.path.pathname) : shown;
    return new UsageError(
      `no permission to read poem file ${shown}: run with --allow-read=${path}`,
    );
  }
  // The system refused it (the file's mode, its owner): no flag would help.
  if (e instanceof Deno.errors.PermissionDenied) {
    return new UsageError(`cannot read poem file ${shown}: permission denied`);
  }
  if (e instanceof Deno.errors.IsADirectory) {
    return new UsageError(`${shown} is a directory, not a poem file`);
  }
  return new UsageError(`cannot read poem file ${shown}: ${e instanceof Error ? e.message : e}`);
}

/**
 * Reads a bundled or file source at once.
 *
 * @throws {PoemNotFoundError} When there is no such file.
 * @throws {UsageError} When the file cannot be read (no permission, a directory), or the
 * source is a URL, which can only be fetched ({@linkcode readPoem}).
 */
export function readPoemSync(source: PoemSource): Uint8Array {
  switch (source.kind) {
    case "bundled":
      return encoder.encode(source.text);
    case "file":
      try {
        return Deno.readFileSync(source.path);
      } catch (e) {
        throw fileError(source, e);
      }
    case "url":
      throw new UsageError(`the poem at ${source.url.href} must be fetched, not read`);
  }
}

/**
 * Reads or fetches any source.
 *
 * @throws {PoemNotFoundError} When there is no such file, or the URL answers 404 or 410.
 * @throws {UsageError} When the file cannot be read, the fetch is not permitted or fails, or
 * the server answers another error status.
 */
export async function readPoem(source: PoemSource, signal?: AbortSignal): Promise<Uint8Array> {
  switch (source.kind) {
    case "bundled":
      return encoder.encode(source.text);
    case "file":
      try {
        return await Deno.readFile(source.path, { signal });
      } catch (e) {
        throw fileError(source, e);
      }
    case "url":
      return await fetchPoem(source.url, signal);
  }
}

async function fetchPoem(url: URL, signal?: AbortSignal): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, { signal });
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new UsageError(`no permission to fetch ${url.href}: run with --allow-net=${url.host}`);
    }
    throw new UsageError(
      `cannot fetch poem from ${url.href}: ${e instanceof Error ? e.message : e}`,
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    const status = `${response.status} ${response.statusText}`.trim();
    if (response.status === 404 || response.status === 410) {
      throw new PoemNotFoundError(url.href, `no poem at ${url.href} (${status})`);
    }
    throw new UsageError(`cannot fetch poem from ${url.href}: ${status}`);
  }
  try {
    return await response.bytes();
  } catch (e) {
    throw new UsageError(
      `cannot fetch poem from ${url.href}: ${e instanceof Error ? e.message : e}`,
    );
  }
}

/**
 * The options the poetry servers share: where to listen and which poems to serve. The i-th
 * poem (the `--poem` options in order, then the positional files) is served on the i-th
 * `--port`; with no `--port`, on consecutive ports from the server's default port.
 *
 * @example The same poems from the fast and the slow server
 * ```ts
 * import { makeFastPoetryService, type PoemServerOptions } from "@poetry/serve/fastpoetry";
 * import { makeSlowPoetryService } from "@poetry/serve/slowpoetry";
 *
 * const poems: PoemServerOptions = {
 *   port: [0, 0],
 *   iface: "127.0.0.1",
 *   poem: ["tide"],
 *   files: ["hours"],
 * };
 * const fast = await makeFastPoetryService(poems);
 * const slow = await makeSlowPoetryService({ ...poems, "num-bytes": 20, delay: 0.1 });
 * console.log([...fast].length, [...slow].length); // 4 4
 * ```
 */
export interface PoemServerOptions {
  /**
   * The ports, one per poem, in the same order as the poems.
   * @default {[]} (the command line's default: the server's default port for the first poem,
   * the next ports for the others)
   */
  port: number[];
  /**
   * The interface to listen on.
   * @default {"localhost"} (the command line's default)
   */
  iface: string;
  /**
   * The poems given with `--poem`.
   * @default {[]} (the command line's default; with no `files` either, {@linkcode DEFAULT_POEM} is
   * served)
   */
  poem: string[];
  /**
   * The poems given as positional arguments, served after the `--poem` ones.
   * @default {[]} (the command line's default)
   */
  files: string[];
}

/** One poem and the port to serve it on. */
export interface PoemOnPort {
  /** The poem: a bundled name, a path or a URL. */
  poem: string;
  /** The port. */
  port: number;
}

/** The option specs of {@linkcode PoemServerOptions}, for a server whose first port is `basePort`. */
export function poemServerOptions(basePort: number): {
  options: OptionFor<PoemServerOptions>[];
  positionals: PositionalFor<PoemServerOptions>[];
} {
  return {
    options: [
      {
        name: "port",
        short: "p",
        repeat: true,
        help: "The port number to listen on; give one per poem, in the same order as the poems.",
        defaultText: `${basePort} (then ${basePort + 1}, ... for further poems)`,
        parse: parsePort,
      },
      {
        name: "poem",
        repeat: true,
        help: "The poem to serve: a file, a file:, http: or https: URL, or the name of a " +
          `bundled poem (${Object.keys(poems).join(", ")}).`,
        defaultText: DEFAULT_POEM,
      },
      { name: "iface", default: "localhost", help: "The interface to listen on." },
    ],
    positionals: [
      { name: "files", rest: true, help: "More poems to serve, after those given with --poem." },
    ],
  };
}

/**
 * Pairs poems with ports: the `--poem` options in order, then the positional files (or the
 * default poem if there are none); the i-th poem with the i-th port, or with `basePort + i`
 * when no port is given.
 *
 * @throws {UsageError} When ports are given but not exactly one per poem.
 */
export function pairPoemsWithPorts(options: PoemServerOptions, basePort: number): PoemOnPort[] {
  const given = [...options.poem, ...options.files];
  const list = given.length > 0 ? given : [DEFAULT_POEM];
  if (options.port.length === 0) return list.map((poem, i) => ({ poem, port: basePort + i }));
  if (options.port.length !== list.length) {
    const poemsText = list.length === 1 ? "1 poem" : `${list.length} poems`;
    const portsText = options.port.length === 1 ? "1 port" : `${options.port.length} ports`;
    throw new UsageError(
      `${poemsText} but ${portsText}: give one --port per poem, in the same order`,
    );
  }
  return list.map((poem, i) => ({ poem, port: options.port[i] }));
}
