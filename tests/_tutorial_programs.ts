/**
 * Test helper: runs the tutorial's own Python programs (Twisted 22.4, Debian's
 * python3-twisted) next to ours, for byte-for-byte comparisons.
 *
 * Needs /usr/bin/python3 with Twisted and a clone (or git directory) of the tutorial's
 * repository (jdavisp3/twisted-intro), by default /work/.mirror/jdavisp3+twisted-intro/repo,
 * or wherever `TWISTED_INTRO_GIT` says. The programs are copied out of it into a temporary
 * directory. {@linkcode whyPythonSkip} says why the comparisons cannot run, when they cannot.
 * Everything listens on 127.0.0.1 only.
 *
 * @module
 */

import { type ListeningProgram, startProgram } from "./_server_program.ts";

const PYTHON = "/usr/bin/python3";
const DEFAULT_INTRO_GIT = "/work/.mirror/jdavisp3+twisted-intro/repo";
/** How long any one Python program may run before it is killed. */
export const PROGRAM_SECONDS = 20;

const decoder = new TextDecoder();
const pythonEnv = { PYTHONUTF8: "1", PYTHONDONTWRITEBYTECODE: "1" };

function introGit(): string {
  return Deno.env.get("TWISTED_INTRO_GIT") ?? DEFAULT_INTRO_GIT;
}

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/** Why the tutorial's `programs` cannot be run here, or `undefined` if they can. */
export function whyPythonSkip(programs: readonly string[]): string | undefined {
  if (!granted({ name: "run" }) || !granted({ name: "env" }) || !granted({ name: "read" })) {
    return "they need --allow-run, --allow-env and --allow-read";
  }
  try {
    const python = new Deno.Command(PYTHON, {
      args: ["-c", "import twisted"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    if (!python.success) return `${PYTHON} cannot import twisted (install python3-twisted)`;
  } catch {
    return `there is no ${PYTHON}`;
  }
  for (const program of programs) {
    try {
      const found = new Deno.Command("git", {
        args: ["-C", introGit(), "cat-file", "-e", `HEAD:${program}`],
        stdout: "null",
        stderr: "null",
      }).outputSync();
      if (!found.success) return `${introGit()} has no ${program} (set TWISTED_INTRO_GIT)`;
    } catch {
      return "there is no git";
    }
  }
  return undefined;
}

/** The tutorial's `programs`, copied into a temporary directory removed when disposed. */
export function tutorialPrograms(programs: readonly string[]): { dir: string } & Disposable {
  const dir = Deno.makeTempDirSync({ prefix: "twisted_intro_" });
  for (const path of programs) {
    const out = new Deno.Command("git", {
      args: ["-C", introGit(), "show", `HEAD:${path}`],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    if (!out.success) throw new Error(`git show ${path}: ${decoder.decode(out.stderr)}`);
    const slash = path.lastIndexOf("/");
    if (slash > 0) Deno.mkdirSync(`${dir}/${path.slice(0, slash)}`, { recursive: true });
    Deno.writeFileSync(`${dir}/${path}`, out.stdout);
  }
  return { dir, [Symbol.dispose]: () => Deno.removeSync(dir, { recursive: true }) };
}

/** Declares one test that compares with the tutorial's programs; `fn` gets their directory. */
export type TutorialTest = (name: string, fn: (dir: string) => Promise<void>) => void;

/**
 * How the test module `module` declares its tests over the tutorial's `programs`: each test
 * runs with them copied into a temporary directory of its own, or, where they cannot run,
 * every test is skipped and one line says why.
 */
export function tutorialTests(module: string, programs: readonly string[]): TutorialTest {
  const skipReason = whyPythonSkip(programs);
  const ignore = skipReason !== undefined;
  if (ignore) console.log(`${module}: skipping the Python comparisons: ${skipReason}`);
  return (name, fn) =>
    Deno.test({
      name,
      ignore,
      async fn() {
        using copy = tutorialPrograms(programs);
        await fn(copy.dir);
      },
    });
}

/** Runs a Python program in `dir` to its end (killed after {@linkcode PROGRAM_SECONDS}). */
export async function runPython(dir: string, args: string[]): Promise<Deno.CommandOutput> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), PROGRAM_SECONDS * 1000);
  try {
    return await new Deno.Command(PYTHON, {
      args: ["-u", ...args],
      cwd: dir,
      env: pythonEnv,
      stdout: "piped",
      stderr: "piped",
      signal: ac.signal,
    }).output();
  } finally {
    clearTimeout(timer);
  }
}

/** A Python server, listening: its port; stopped (SIGTERM) when disposed. */
export type PythonServer = ListeningProgram;

/** Starts a Python server in `dir` that prints `...port=NNNN...` once it listens. */
export function startPythonServer(dir: string, args: string[]): Promise<PythonServer> {
  return startProgram(PYTHON, ["-u", ...args], {
    ready: /port=(\d+)/,
    cwd: dir,
    env: pythonEnv,
    seconds: PROGRAM_SECONDS,
  });
}
