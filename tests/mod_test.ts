// The package as its users get it: `deno run --allow-net jsr:@poetry/serve` runs mod.ts from a
// URL, and their programs import it from one. A loopback HTTP server stands in for the registry,
// serving the files `deno publish` would publish (and nothing it leaves out), to a Deno with an
// empty module cache. A module that read its own files from disk, or imported something left out
// of the package, would fail here while every local test passed.
//
// Its documentation as users read it: `deno doc` over every entry point the package exports,
// each exported symbol with an `@example` (which `deno test --doc` then runs).

import assert from "node:assert/strict";

import config from "../deno.json" with { type: "json" };
import { poems } from "../poetry/poems.ts";
import { readAll } from "./_poetry_servers.ts";
import { startProgram } from "./_server_program.ts";

const ROOT = new URL("../", import.meta.url);
const decoder = new TextDecoder();

/** Whether `path` (from the package root, no leading slash) is left out of the package. */
function unpublished(path: string): boolean {
  return config.publish.exclude.some((prefix) => path.startsWith(prefix));
}

/** Serves the package's published files over HTTP on loopback, as a registry would. */
function packageServer(): Deno.HttpServer<Deno.NetAddr> & { served: string[] } {
  const served: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const path = decodeURIComponent(new URL(request.url).pathname).slice(1);
      if (path.split("/").includes("..") || unpublished(path)) {
        return new Response("not published\n", { status: 404 });
      }
      try {
        const body = await Deno.readFile(new URL(path, ROOT));
        served.push(path);
        const type = path.endsWith(".json") ? "application/json" : "application/typescript";
        return new Response(body, { headers: { "content-type": type } });
      } catch {
        return new Response("no such file\n", { status: 404 });
      }
    },
  );
  return Object.assign(server, { served });
}

Deno.test("mod.ts runs from a URL with --allow-net alone, and programs import it from one", async () => {
  await using registry = packageServer();
  const origin = `127.0.0.1:${registry.addr.port}`;
  const cache = Deno.makeTempDirSync({ prefix: "poetry-cache-" });
  const user = Deno.makeTempDirSync({ prefix: "poetry-user-" });
  try {
    const env = { DENO_DIR: cache, NO_COLOR: "1" };
    const net = "--allow-net=127.0.0.1,localhost";

    // The CLI, from its URL: the default plugin, a bundled poem, no file access at all.
    await using server = await startProgram(
      Deno.execPath(),
      [
        "run",
        net,
        `--allow-import=${origin}`,
        `http://${origin}/mod.ts`,
        "--port",
        "0",
        "--iface",
        "127.0.0.1",
      ],
      { ready: /PoetryFactory starting on (\d+)/, env, seconds: 30 },
    );
    assert.equal(decoder.decode(await readAll(server.port)), poems.keeper);
    assert.ok(registry.served.includes("mod.ts"));

    // A user's program importing the package from the same URL fetches that poem.
    Deno.writeTextFileSync(
      `${user}/main.ts`,
      `import { getPoetry } from "http://${origin}/mod.ts";\n` +
        `console.log(await getPoetry("127.0.0.1", ${server.port}));\n`,
    );
    const client = await new Deno.Command(Deno.execPath(), {
      args: ["run", net, `--allow-import=${origin}`, `${user}/main.ts`],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    assert.equal(decoder.decode(client.stdout), poems.keeper + "\n", decoder.decode(client.stderr));
    assert.equal(client.code, 0);

    const end = await server.stop();
    assert.equal(end.code, 0, end.stdout + end.stderr);
    assert.match(end.stdout, /Dropped the permissions only start-up needed/);
    assert.equal(end.stderr.replace(/^Download .*\n/gm, ""), "");
  } finally {
    Deno.removeSync(cache, { recursive: true });
    Deno.removeSync(user, { recursive: true });
  }
});

/** A symbol as `deno doc --json` lists it, with only the fields this test reads. */
interface DocSymbol {
  name: string;
  declarations: {
    kind: string;
    location: { filename: string; line: number };
    jsDoc?: { tags?: { kind: string }[] };
  }[];
}

Deno.test("every symbol the package exports has JSDoc with an @example", async () => {
  const entryPoints = Object.values(config.exports).map((path) => new URL(path, ROOT).pathname);
  const doc = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", ...entryPoints],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  assert.equal(doc.code, 0, decoder.decode(doc.stderr));
  const nodes: Record<string, { symbols?: DocSymbol[] }> = JSON.parse(
    decoder.decode(doc.stdout),
  ).nodes;
  const without: string[] = [];
  let checked = 0;
  for (const { symbols = [] } of Object.values(nodes)) {
    for (const symbol of symbols) {
      // A renamed re-export (`plugin as fastpoetryPlugin`) is documented where it is declared.
      const declared = symbol.declarations.filter((d) => d.kind !== "reference");
      if (declared.length === 0) continue;
      checked++;
      const example = declared.some((d) => d.jsDoc?.tags?.some((tag) => tag.kind === "example"));
      if (!example) {
        const { filename, line } = declared[0].location;
        without.push(`${symbol.name} (${filename.slice(ROOT.href.length)}:${line})`);
      }
    }
  }
  assert.ok(checked > 200, `only ${checked} symbols found`);
  assert.deepEqual([...new Set(without)].sort(), []);
});
