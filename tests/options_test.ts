import assert from "node:assert/strict";
import {
  type CommandSpec,
  formatHelp,
  HelpRequested,
  parseAddress,
  parseExistingFile,
  parseInteger,
  parseNumber,
  parseOptions,
  parseOptionsUntilCommand,
  parsePort,
  UsageError,
} from "../_options.ts";

interface Server {
  port: number;
  iface: string;
  delay: number;
  verbose: boolean;
  quiet: boolean;
  poem?: string;
}

const server: CommandSpec<Server> = {
  options: [
    { name: "port", short: "p", default: 10000, help: "The port.", parse: parsePort },
    { name: "iface", default: "localhost", help: "The interface." },
    {
      name: "delay",
      short: "d",
      default: 0.7,
      help: "Seconds between chunks.",
      parse: parseNumber,
    },
    { name: "verbose", short: "v", flag: true, help: "Say more." },
    { name: "quiet", short: "q", flag: true, help: "Say less." },
  ],
  positionals: [{ name: "poem", optional: true, help: "The poem file." }],
};

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${e}`);
    return e;
  }
  assert.fail("no UsageError was thrown");
}

Deno.test("parseOptions gives every option its default when none is given", () => {
  const o = parseOptions(server, []);
  assert.deepEqual(o, {
    port: 10000,
    iface: "localhost",
    delay: 0.7,
    verbose: false,
    quiet: false,
    poem: undefined,
  });
});

Deno.test("parseOptions reads --name=value, --name value, -x value and -xvalue", () => {
  assert.equal(parseOptions(server, ["--port=10001"]).port, 10001);
  assert.equal(parseOptions(server, ["--port", "10002"]).port, 10002);
  assert.equal(parseOptions(server, ["-p", "10003"]).port, 10003);
  assert.equal(parseOptions(server, ["-p10004"]).port, 10004);
  assert.equal(parseOptions(server, ["--iface="]).iface, "");
});

Deno.test("parseOptions keeps the last value of an option given twice", () => {
  assert.equal(parseOptions(server, ["-p", "1", "--port", "2"]).port, 2);
});

Deno.test("parseOptions sets flags, alone or grouped, with a valued option last in a group", () => {
  const o = parseOptions(server, ["-vq"]);
  assert.equal(o.verbose, true);
  assert.equal(o.quiet, true);
  const p = parseOptions(server, ["-vp", "9"]);
  assert.equal(p.verbose, true);
  assert.equal(p.port, 9);
  const q = parseOptions(server, ["-qp8"]);
  assert.equal(q.quiet, true);
  assert.equal(q.port, 8);
});

Deno.test("parseOptions rejects a value given to a flag", () => {
  assert.equal(
    usageError(() => parseOptions(server, ["--verbose=yes"])).message,
    "option --verbose takes no value",
  );
});

Deno.test("parseOptions takes positional arguments between options and after --", () => {
  assert.equal(parseOptions(server, ["ecstasy.txt", "-p", "1"]).poem, "ecstasy.txt");
  assert.equal(parseOptions(server, ["--", "-odd-name.txt"]).poem, "-odd-name.txt");
  assert.equal(parseOptions(server, ["-"]).poem, "-");
});

Deno.test("parseOptions collects repeated options in order and defaults them to []", () => {
  const spec: CommandSpec<{ poem: string[]; port: number[] }> = {
    options: [
      { name: "poem", repeat: true, help: "A poem." },
      { name: "port", short: "p", repeat: true, help: "A port.", parse: parsePort },
    ],
  };
  const o = parseOptions(spec, ["--poem", "a.txt", "-p", "1", "--poem=b.txt", "--port", "2"]);
  assert.deepEqual(o, { poem: ["a.txt", "b.txt"], port: [1, 2] });
  assert.deepEqual(parseOptions(spec, []), { poem: [], port: [] });
});

Deno.test("parseOptions uses a repeated option's default array only when it is not given", () => {
  const spec: CommandSpec<{ port: number[] }> = {
    options: [{ name: "port", repeat: true, default: [10000], help: "A port.", parse: parsePort }],
  };
  assert.deepEqual(parseOptions(spec, []).port, [10000]);
  assert.deepEqual(parseOptions(spec, ["--port", "1"]).port, [1]);
  // The default is copied, not shared between parses.
  parseOptions(spec, []).port.push(5);
  assert.deepEqual(parseOptions(spec, []).port, [10000]);
});

Deno.test("parseOptions fills rest positionals, required ones and parsed ones", () => {
  const spec: CommandSpec<{ host: string; ports: number[] }> = {
    positionals: [
      { name: "host", help: "The host." },
      { name: "ports", rest: true, required: true, help: "Ports.", parse: parsePort },
    ],
  };
  assert.deepEqual(parseOptions(spec, ["h", "1", "2"]), { host: "h", ports: [1, 2] });
  assert.equal(usageError(() => parseOptions(spec, ["h"])).message, "missing argument: ports");
  assert.equal(usageError(() => parseOptions(spec, [])).message, "missing argument: host");
  assert.equal(
    usageError(() => parseOptions(spec, ["h", "x"])).message,
    'argument ports: "x" is not a port number (0 to 65535)',
  );
});

Deno.test("parseOptions names the unknown option, long or short", () => {
  assert.equal(
    usageError(() => parseOptions(server, ["--bogus"])).message,
    "option --bogus not recognized",
  );
  assert.equal(usageError(() => parseOptions(server, ["-x"])).message, "option -x not recognized");
  assert.equal(usageError(() => parseOptions(server, ["-vx"])).message, "option -x not recognized");
});

Deno.test("parseOptions names the option whose value is missing or bad", () => {
  assert.equal(
    usageError(() => parseOptions(server, ["--port"])).message,
    "option --port requires a value",
  );
  assert.equal(
    usageError(() => parseOptions(server, ["-p"])).message,
    "option -p requires a value",
  );
  assert.equal(
    usageError(() => parseOptions(server, ["--port", "abc"])).message,
    'option --port: "abc" is not a port number (0 to 65535)',
  );
  assert.equal(
    usageError(() => parseOptions(server, ["-d", "soon"])).message,
    'option -d: "soon" is not a number',
  );
});

Deno.test("parseOptions wraps any error thrown by a parser in a UsageError naming the option", () => {
  const spec: CommandSpec<{ level: number }> = {
    options: [{
      name: "level",
      help: "A level.",
      parse: () => {
        throw new RangeError("too high");
      },
    }],
  };
  assert.equal(
    usageError(() => parseOptions(spec, ["--level=9"])).message,
    "option --level: too high",
  );
});

Deno.test("parseOptions rejects an argument too many and a missing required option", () => {
  assert.equal(
    usageError(() => parseOptions(server, ["a", "b"])).message,
    'unexpected argument: "b"',
  );
  const spec: CommandSpec<{ poem: string }> = {
    options: [{ name: "poem", required: true, help: "The poem." }],
  };
  assert.equal(usageError(() => parseOptions(spec, [])).message, "option --poem is required");
});

Deno.test("parseOptions throws HelpRequested for --help anywhere", () => {
  assert.throws(() => parseOptions(server, ["-p", "1", "--help"]), HelpRequested);
  // But --help=... is a mistake, as getopt says.
  assert.equal(
    usageError(() => parseOptions(server, ["--help=me"])).message,
    "option --help takes no value",
  );
});

Deno.test("parseOptionsUntilCommand stops at the first plain argument or unknown option", () => {
  const runner: CommandSpec<{ nodaemon: boolean; logfile?: string }> = {
    options: [
      { name: "nodaemon", short: "n", flag: true, help: "Foreground." },
      { name: "logfile", short: "l", help: "Log file." },
    ],
  };
  assert.deepEqual(parseOptionsUntilCommand(runner, ["-n", "-l", "x.log", "fast", "-p", "1"]), {
    options: { nodaemon: true, logfile: "x.log" },
    rest: ["fast", "-p", "1"],
  });
  assert.deepEqual(parseOptionsUntilCommand(runner, ["--port", "1"]).rest, ["--port", "1"]);
  assert.deepEqual(parseOptionsUntilCommand(runner, ["-p", "1"]).rest, ["-p", "1"]);
  assert.deepEqual(parseOptionsUntilCommand(runner, []).rest, []);
  assert.throws(() => parseOptionsUntilCommand(runner, ["-n", "--help", "fast"]), HelpRequested);
  assert.deepEqual(parseOptionsUntilCommand(runner, ["fast", "--help"]).rest, ["fast", "--help"]);
});

Deno.test("formatHelp lists each option with its short name, value marker and default", () => {
  const help = formatHelp(server, "poetry fastpoetry");
  const lines = help.split("\n");
  assert.equal(lines[0], "Usage: poetry fastpoetry [options] [poem]");
  assert.ok(lines.some((l) => /^ {2}-p, --port= +The port\. \[default: 10000\]$/.test(l)), help);
  assert.ok(
    lines.some((l) => /^ {6}--iface= +The interface\. \[default: localhost\]$/.test(l)),
    help,
  );
  assert.ok(lines.some((l) => /^ {2}-v, --verbose +Say more\.$/.test(l)), help);
  assert.ok(lines.some((l) => /^ {6}--help +Display this help and exit\.$/.test(l)), help);
  assert.ok(lines.some((l) => /^ {2}poem +The poem file\.$/.test(l)), help);
});

Deno.test("formatHelp wraps long help text within the width", () => {
  const spec: CommandSpec<{ x: string }> = {
    options: [{ name: "x", help: "word ".repeat(40).trim() }],
    description: "A description ".repeat(12).trim(),
  };
  for (const line of formatHelp(spec, "prog").split("\n")) assert.ok(line.length <= 80, line);
});

Deno.test("parsePort, parseInteger and parseNumber accept what they should and nothing else", () => {
  assert.equal(parsePort("0"), 0);
  assert.equal(parsePort("65535"), 65535);
  for (const bad of ["65536", "-1", "1.5", "", "0x10", "ten"]) {
    assert.throws(() => parsePort(bad), UsageError);
  }
  assert.equal(parseInteger("+12"), 12);
  assert.throws(() => parseInteger("1e3"), UsageError);
  assert.equal(parseNumber("1e3"), 1000);
  for (const bad of ["", "Infinity", "NaN", "x"]) assert.throws(() => parseNumber(bad), UsageError);
});

Deno.test("parseAddress reads [HOST:]PORT, with brackets for IPv6", () => {
  assert.deepEqual(parseAddress("10000"), { host: "127.0.0.1", port: 10000 });
  assert.deepEqual(parseAddress("10000", "localhost"), { host: "localhost", port: 10000 });
  assert.deepEqual(parseAddress("example.org:10001"), { host: "example.org", port: 10001 });
  assert.deepEqual(parseAddress("[::1]:10002"), { host: "::1", port: 10002 });
  assert.throws(() => parseAddress(":10000"), UsageError);
  assert.throws(() => parseAddress("host:port"), UsageError);
  // A host with a colon must be in brackets: anything else is a mistyped address.
  for (const text of ["127.0.0.1:10000:1", "::1:10000", "a:b:10000"]) {
    assert.throws(() => parseAddress(text), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.equal(
        e.message,
        `${JSON.stringify(text)} is not [HOST:]PORT (an IPv6 host goes in brackets: [::1]:PORT)`,
      );
      return true;
    });
  }
});

Deno.test("parseExistingFile accepts a file and rejects a missing path or a directory", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const file = `${dir}/poem.txt`;
    Deno.writeTextFileSync(file, "a poem\n");
    assert.equal(parseExistingFile(file), file);
    assert.equal(
      usageError(() => parseExistingFile(`${dir}/none.txt`)).message,
      `no such file: ${dir}/none.txt`,
    );
    assert.equal(
      usageError(() => parseExistingFile(dir)).message,
      `${dir} is a directory, not a file`,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
