/**
 * Switching the process to an application's user and group once its privileged start is done,
 * as twistd does: the group first, then the supplementary groups, then the user. Private to
 * the runner.
 *
 * Deno reaches `setuid`/`setgid` through `node:process` (which needs `--allow-sys`) but has no
 * `setgroups`: groups that root belongs to besides the target one are dropped through libc,
 * with `--allow-ffi`, and without it the switch is refused rather than leave them.
 *
 * @module
 */

import process from "node:process";

/** What a switch needs of the system: `node:process`, libc and the user database. */
export interface IdentitySystem {
  getuid(): number;
  getgid(): number;
  getgroups(): number[];
  setgid(gid: number): void;
  setuid(uid: number): void;
  /** Makes `gids` the process's supplementary groups, or throws. */
  setgroups(gids: number[]): void;
  /** The primary group of user `uid`, or `undefined` if the user database has none. */
  primaryGroup(uid: number): number | undefined;
}

/** A switch that cannot be made: its message says why, for the runner's error line. */
export class IdentityError extends Error {
  override name = "IdentityError";
}

/**
 * Switches to `uid` and `gid` (either may be absent; a missing `gid` is `uid`'s primary group)
 * and returns the lines to log. Switching to the uid the process already has only warns, as
 * twistd does.
 *
 * @throws {IdentityError} if the switch cannot be made.
 */
export function switchIdentity(
  uid: number | undefined,
  gid: number | undefined,
  system: IdentitySystem = realSystem,
): string[] {
  if (uid === undefined && gid === undefined) return [];
  if (uid !== undefined && gid === undefined) gid = primaryGroup(uid, system);
  const what = `uid/gid ${uid ?? "-"}/${gid ?? "-"}`;
  const lines: string[] = [];
  try {
    if (uid !== undefined && uid === system.getuid()) {
      if (gid !== undefined && gid !== system.getgid()) system.setgid(gid);
      lines.push(
        `tried to drop privileges and setuid ${uid} but uid is already ${uid}; ` +
          "should we be root? Continuing.",
      );
    } else {
      if (uid !== undefined) leaveOtherGroups(gid!, what, system);
      if (gid !== undefined) system.setgid(gid);
      if (uid !== undefined) system.setuid(uid);
    }
  } catch (e) {
    if (e instanceof IdentityError) throw e;
    throw new IdentityError(`failed to set ${what}: ${reason(e)}`, { cause: e });
  }
  lines.push(`set ${what}`);
  return lines;
}

/** `uid`'s primary group, as twistd takes it when given no gid. */
function primaryGroup(uid: number, system: IdentitySystem): number {
  let gid: number | undefined;
  try {
    gid = system.primaryGroup(uid);
  } catch (e) {
    throw new IdentityError(`failed to find the group of uid ${uid}: ${reason(e)}`, { cause: e });
  }
  if (gid === undefined) {
    throw new IdentityError(
      `failed to set uid ${uid}: /etc/passwd gives it no group; give the application a gid`,
    );
  }
  return gid;
}

/** A user switch must not keep root's other groups (twistd sets the user's own). */
function leaveOtherGroups(gid: number, what: string, system: IdentitySystem): void {
  const others = system.getgroups().filter((g) => g !== gid);
  if (others.length === 0) return;
  try {
    system.setgroups([gid]);
  } catch (e) {
    throw new IdentityError(
      `failed to set ${what}: cannot leave the supplementary groups ${others.join(", ")}: ` +
        reason(e),
      { cause: e },
    );
  }
}

/** Why a system call failed, with what to do about the usual causes. */
function reason(e: unknown): string {
  if (e instanceof Deno.errors.NotCapable) {
    return `${(e as Error).message.split(",")[0]} (--allow-sys for the switch, --allow-ffi ` +
      "to leave other groups)";
  }
  const text = e instanceof Error ? e.message : String(e);
  return /EPERM|not permitted/i.test(text) ? `${text} (are you root?)` : text;
}

const realSystem: IdentitySystem = {
  getuid: () => process.getuid!(),
  getgid: () => process.getgid!(),
  getgroups: () => process.getgroups!(),
  setgid: (gid) => process.setgid!(gid),
  setuid: (uid) => process.setuid!(uid),
  setgroups(gids) {
    const lib = Deno.dlopen(Deno.build.os === "darwin" ? "libSystem.B.dylib" : "libc.so.6", {
      setgroups: { parameters: ["usize", "buffer"], result: "i32" },
    });
    try {
      if (lib.symbols.setgroups(BigInt(gids.length), new Uint32Array(gids)) !== 0) {
        throw new Error("setgroups failed: EPERM (are you root?)");
      }
    } finally {
      lib.close();
    }
  },
  primaryGroup(uid) {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const fields = line.split(":");
      if (fields.length >= 4 && Number(fields[2]) === uid && fields[2] !== "") {
        return Number(fields[3]);
      }
    }
    return undefined;
  },
};
