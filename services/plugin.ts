/**
 * Plugins for the runner: named service makers with their own command-line options — what
 * twistd's `IServiceMaker` plugins are.
 * `deno run --allow-net jsr:@poetry/serve fastpoetry --port 10000` finds the plugin whose
 * `tapname` is `fastpoetry`, parses `--port 10000` with its {@linkcode CommandSpec}, calls
 * {@linkcode ServiceMaker.makeService} with the typed result and runs the service it returns.
 *
 * A plugin comes from the runner's built-in list, from {@linkcode registerPlugin}, or from a
 * module named by `--plugin ./my_plugin.ts` (its default export, or its export named
 * `plugin`). This module also re-exports the option parser plugins declare their options
 * with.
 *
 * @example A plugin that says hello on a port
 * ```ts
 * import { Factory, Protocol } from "@poetry/serve";
 * import { TCPServer } from "@poetry/serve/internet";
 * import { parsePort, type ServiceMaker } from "@poetry/serve/plugin";
 *
 * class Hello extends Protocol {
 *   override connectionMade(): void {
 *     this.transport!.write("hello\n");
 *     this.transport!.loseConnection();
 *   }
 * }
 *
 * interface HelloOptions {
 *   port: number;
 *   iface: string;
 * }
 *
 * export const plugin: ServiceMaker<HelloOptions> = {
 *   tapname: "hello",
 *   description: "Says hello to whoever connects.",
 *   options: {
 *     options: [
 *       { name: "port", short: "p", default: 10000, help: "The port to listen on.", parse: parsePort },
 *       { name: "iface", default: "localhost", help: "The interface to listen on." },
 *     ],
 *   },
 *   makeService: (options) =>
 *     new TCPServer(options.port, Factory.forProtocol(Hello), { interface: options.iface }),
 * };
 * // `deno run --allow-net --allow-read jsr:@poetry/serve --plugin ./hello.ts hello --port 10001`
 * // runs it (--allow-read to load the plugin module).
 * ```
 *
 * @module
 */

import type { Service } from "./service.ts";
import { type CommandSpec, UsageError } from "../_options.ts";
import { importFromCwd } from "./_import.ts";

export {
  type CommandSpec,
  formatHelp,
  HelpRequested,
  type HostPort,
  type OptionFor,
  type OptionItem,
  type OptionSpec,
  parseAddress,
  parseCommandLine,
  parseExistingFile,
  parseInteger,
  parseNumber,
  parseOptions,
  parseOptionsUntilCommand,
  parsePort,
  type PartialParse,
  type PositionalFor,
  type PositionalSpec,
  UsageError,
} from "../_options.ts";

/**
 * A plugin: a named maker of a service, with the command-line options it is configured by
 * (Twisted's `IServiceMaker`). `O` is the record its options parse into.
 *
 * @example A plugin that makes a named service
 * ```ts
 * import { parseOptions, type ServiceMaker } from "@poetry/serve/plugin";
 * import { Service } from "@poetry/serve/service";
 *
 * const idle: ServiceMaker<{ name: string }> = {
 *   tapname: "idle",
 *   description: "Does nothing, under a name.",
 *   options: { options: [{ name: "name", default: "idle", help: "The service's name." }] },
 *   makeService(options) {
 *     const service = new Service();
 *     service.setName(options.name);
 *     return service;
 *   },
 * };
 * const service = await idle.makeService(parseOptions(idle.options, ["--name", "sleepy"]));
 * console.log(service.name, service.running); // sleepy false
 * ```
 */
export interface ServiceMaker<O = Record<string, unknown>> {
  /** The name the plugin is run by: `fastpoetry`. */
  tapname: string;
  /** One line for the runner's `--help`. */
  description: string;
  /** The options and arguments that follow the plugin's name on the command line. */
  options: CommandSpec<O>;
  /**
   * Makes the service to run from the parsed options. It may be async (to read a file, say).
   * The service is not started yet: the runner starts it. Throw a {@linkcode UsageError} for
   * options that cannot be served (a poem file that does not exist): the runner prints its
   * message on one line and exits with status 2.
   */
  makeService(options: O): Service | Promise<Service>;
}

/**
 * A plugin whatever its options' type: what registries and the runner hold.
 *
 * @example Plugins with different options in one list
 * ```ts
 * import { plugin as fastpoetry } from "@poetry/serve/fastpoetry";
 * import type { AnyServiceMaker } from "@poetry/serve/plugin";
 * import { plugin as transform } from "@poetry/serve/transform";
 *
 * const plugins: AnyServiceMaker[] = [fastpoetry, transform];
 * console.log(plugins.map((plugin) => plugin.tapname)); // [ "fastpoetry", "transform" ]
 * ```
 */
// deno-lint-ignore no-explicit-any
export type AnyServiceMaker = ServiceMaker<any>;

const registered = new Map<string, AnyServiceMaker>();

/**
 * Adds a plugin to those the runner offers (after the runner's built-in ones, which it
 * replaces if it has the same name).
 *
 * @param plugin The plugin.
 * @throws {TypeError} When `plugin` is not a plugin (see {@linkcode isServiceMaker}).
 *
 * @example Register a plugin
 * ```ts
 * import { getPlugins, registerPlugin, unregisterPlugin } from "@poetry/serve/plugin";
 * import { Service } from "@poetry/serve/service";
 *
 * registerPlugin({
 *   tapname: "idle",
 *   description: "Does nothing, politely.",
 *   options: {},
 *   makeService: () => new Service(),
 * });
 * console.log(getPlugins().map((p) => p.tapname).includes("idle")); // true
 * unregisterPlugin("idle");
 * ```
 */
export function registerPlugin<O>(plugin: ServiceMaker<O>): void {
  if (!isServiceMaker(plugin)) {
    throw new TypeError(`not a plugin: ${Deno.inspect(plugin, { depth: 0 })}`);
  }
  registered.set(plugin.tapname, plugin);
}

/**
 * Removes the plugin registered under `tapname`; returns whether there was one.
 *
 * @param tapname The plugin's name.
 * @returns Whether a plugin was removed.
 *
 * @example Unregister a plugin
 * ```ts
 * import { unregisterPlugin } from "@poetry/serve/plugin";
 * console.log(unregisterPlugin("no-such-plugin")); // false
 * ```
 */
export function unregisterPlugin(tapname: string): boolean {
  return registered.delete(tapname);
}

/**
 * The plugins added with {@linkcode registerPlugin}, in the order they were added.
 *
 * @returns The registered plugins.
 *
 * @example List the registered plugins
 * ```ts
 * import { getPlugins } from "@poetry/serve/plugin";
 * for (const plugin of getPlugins()) console.log(plugin.tapname, plugin.description);
 * ```
 */
export function getPlugins(): AnyServiceMaker[] {
  return [...registered.values()];
}

/**
 * Whether `value` has the shape of a plugin: a non-empty string `tapname` without spaces that
 * does not start with `-`, a string `description`, an `options` object and a `makeService`
 * function.
 *
 * @param value Anything.
 * @returns Whether it is a plugin.
 *
 * @example Check a plugin's shape
 * ```ts
 * import { isServiceMaker } from "@poetry/serve/plugin";
 * console.log(isServiceMaker({ tapname: "x" })); // false
 * ```
 */
export function isServiceMaker(value: unknown): value is AnyServiceMaker {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.tapname === "string" && /^[^\s-]\S*$/.test(v.tapname) &&
    typeof v.description === "string" && typeof v.options === "object" &&
    v.options !== null && typeof v.makeService === "function";
}

/**
 * Imports a plugin from a module: its default export, or else its export named `plugin`. A
 * relative path or bare file name is taken relative to the current directory; URLs and
 * `jsr:` specifiers are imported as they are.
 *
 * @param specifier The module's path or URL.
 * @returns The plugin.
 * @throws {UsageError} When the module does not exist or exports no plugin.
 * @throws {Error} When the module fails to load (a syntax error, an error thrown while it
 * runs), saying which module and why.
 *
 * @example Load a plugin module
 * ```ts
 * import { loadPlugin, UsageError } from "@poetry/serve/plugin";
 * try {
 *   await loadPlugin("./no-such-plugin.ts");
 * } catch (e) {
 *   console.log(e instanceof UsageError); // true
 * }
 * ```
 */
export async function loadPlugin(specifier: string): Promise<AnyServiceMaker> {
  const module = await importFromCwd(specifier, "plugin");
  const candidate = isServiceMaker(module.default) ? module.default : module.plugin;
  if (!isServiceMaker(candidate)) {
    throw new UsageError(
      `${specifier} exports no plugin (a default export or an export named "plugin" with ` +
        `tapname, description, options and makeService)`,
    );
  }
  return candidate;
}
