/**
 * poetry: Twisted's core for Deno — Deferreds, protocols, factories, framing receivers,
 * services and a daemon runner, with the poetry servers, clients, caching proxy and
 * transformation service of the *Twisted Introduction* ready to run.
 *
 * As a main module this is the runner (twistd for Deno):
 * `deno run --allow-net jsr:@poetry/serve [runner options] [plugin] [plugin options]`
 * serves a bundled poem on port 10000 by default; `--help` lists everything.
 *
 * Test helpers (`StringTransport`, `MemoryReactor`, `assertFailure`...) live in
 * `@poetry/serve/testing`, so that production imports stay small.
 *
 * @example Chain callbacks on a Deferred
 * ```ts
 * import { Deferred } from "@poetry/serve";
 *
 * const d = new Deferred<string>();
 * d.addCallback((poem) => poem.toUpperCase()).addCallback((poem) => console.log(poem));
 * d.callback("roses are red");
 * ```
 *
 * @module
 */

export * from "./failure.ts";
export * from "./defer.ts";
export * as log from "./log.ts";
export * from "./error.ts";
export * from "./reactor.ts";
export * from "./task.ts";
export * from "./endpoints.ts";
export * from "./protocols/protocol.ts";
export * from "./protocols/factory.ts";
export * from "./protocols/reconnecting_client_factory.ts";
export * from "./protocols/line_receiver.ts";
export * from "./protocols/line_only_receiver.ts";
export * from "./protocols/netstring_receiver.ts";
export * from "./protocols/int_string_receiver.ts";
export * from "./protocols/timeout.ts";
export * from "./services/service.ts";
export * from "./services/multi_service.ts";
export * from "./services/application.ts";
export * from "./services/internet.ts";
export * from "./services/log_file.ts";
export * from "./services/plugin.ts";
export * from "./services/runner.ts";
export {
  DEFAULT_POEM,
  FAST_POETRY_PORT,
  type FastPoetryOptions,
  makeFastPoetryService,
  plugin as fastpoetryPlugin,
  PoemNotFoundError,
  type PoemServerOptions,
  PoetryFactory,
  PoetryProtocol,
  PoetryService,
} from "./services/fastpoetry.ts";
export {
  DEFAULT_DELAY,
  DEFAULT_NUM_BYTES,
  makeSlowPoetryService,
  plugin as slowpoetryPlugin,
  SLOW_POETRY_PORT,
  SlowPoetryFactory,
  type SlowPoetryFactoryOptions,
  type SlowPoetryOptions,
  SlowPoetryProtocol,
} from "./services/slowpoetry.ts";
export {
  makeTransformService,
  plugin as transformPlugin,
  TRANSFORM_PORT,
  TransformFactory,
  type TransformOptions,
  TransformProtocol,
  TransformService,
  XFORM_PREFIX,
} from "./services/transform.ts";
export {
  type ClientReactor,
  DEFAULT_MAX_POEM_LENGTH,
  getPoetry,
  getPoetryBytes,
  type GetPoetryOptions,
  type OutputSync,
  PoemTooLongError,
  PoetryClientFactory,
  PoetryClientProtocol,
  poetryMain,
  type PoetryMainOptions,
} from "./services/get.ts";
export {
  TransformClientFactory,
  TransformClientProtocol,
  TransformFailedError,
  TransformProxy,
  type TransformProxyOptions,
  type XformOptions,
} from "./services/transform_client.ts";
export {
  DEFAULT_MAX_CACHED,
  makeProxyService,
  plugin as proxyPlugin,
  type PoemFetcher,
  PoetryProxyFactory,
  PoetryProxyProtocol,
  type ProxyOptions,
  proxyOptions,
  ProxyService,
  type ProxyServiceOptions,
  type SecondsClock,
  type TransformFetcher,
  TransformProxyFactory,
  TransformProxyProtocol,
  TransformProxyService,
  type TransformProxyServiceOptions,
} from "./services/proxy.ts";
export { getPoem, poems } from "./poetry/poems.ts";

import { plugin as fastpoetry } from "./services/fastpoetry.ts";
import { plugin as slowpoetry } from "./services/slowpoetry.ts";
import { plugin as transform } from "./services/transform.ts";
import { plugin as proxy } from "./services/proxy.ts";
import { runMain } from "./services/runner.ts";

if (import.meta.main) {
  // Not awaited: a --plugin or --config module that imports the package root would wait for
  // ever for this module to finish loading.
  runMain(Deno.args, {
    plugins: [fastpoetry, slowpoetry, transform, proxy],
    defaultPlugin: "fastpoetry",
  }).then((status) => Deno.exit(status));
}
