/**
 * The system event triggers shared by the real reactor and the test reactor: one registry, so
 * that `addSystemEventTrigger`, `removeSystemEventTrigger` and `fireSystemEvent` behave alike
 * in production and in tests.
 *
 * @module
 */

import { Deferred } from "./defer.ts";
import { err } from "./log.ts";
import type { SystemEventPhase, SystemEventTriggerID } from "./reactor.ts";

/**
 * A registered trigger (from `addSystemEventTrigger` or `callWhenRunning`).
 *
 * @example Check the shutdown triggers a program added
 * ```ts
 * import { MemoryReactor, type TriggerRecord } from "@poetry/serve/testing";
 *
 * const reactor = new MemoryReactor();
 * reactor.addSystemEventTrigger("before", "shutdown", () => {});
 * const [trigger]: TriggerRecord[] = reactor.triggers;
 * console.log(trigger.phase, trigger.eventType, trigger.once); // before shutdown false
 * ```
 */
export interface TriggerRecord {
  /** The id returned, for `removeSystemEventTrigger`. */
  id: SystemEventTriggerID;
  /** The phase: `"before"`, `"during"` or `"after"`. */
  phase: SystemEventPhase;
  /** The event, e.g. `"startup"` or `"shutdown"`. */
  eventType: string;
  /** The function to call. */
  fn: (...args: never[]) => unknown;
  /** Its arguments. */
  args: unknown[];
  /** `true` for a `callWhenRunning` call, which is made once. */
  once: boolean;
}

const PHASES: readonly SystemEventPhase[] = ["before", "during", "after"];

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

/** Waits for a trigger's promise, logging its failure instead of failing the event. */
function settle(result: PromiseLike<unknown>, why: string): Promise<void> {
  return Promise.resolve(result).then(() => {}, (e) => err(e, why));
}

/** The triggers of every system event, in the order they were added. */
export class SystemEventTriggers {
  /** The triggers not yet removed (nor made, for `once` ones). */
  readonly records: TriggerRecord[] = [];
  #nextId = 1;
  /** The events whose phases are under way. */
  readonly #firing = new Set<string>();

  /** Adds a trigger and returns its id; throws for an unknown phase. */
  add(
    phase: SystemEventPhase,
    eventType: string,
    // deno-lint-ignore no-explicit-any
    fn: (...args: any[]) => unknown,
    args: unknown[],
    once: boolean,
  ): SystemEventTriggerID {
    if (!PHASES.includes(phase)) {
      throw new TypeError(
        `system event phase must be "before", "during" or "after", not ${JSON.stringify(phase)}`,
      );
    }
    const id = this.#nextId++;
    this.records.push({ id, phase, eventType, fn, args, once });
    return id;
  }

  /**
   * `callWhenRunning`: calls `fn(...args)` now if the owner is `running`, else adds it as an
   * "after startup" trigger made once (as Twisted does), and returns its id.
   */
  whenRunning<A extends unknown[]>(
    running: boolean,
    fn: (...args: A) => unknown,
    args: A,
  ): SystemEventTriggerID | undefined {
    if (running) {
      fn(...args);
      return undefined;
    }
    return this.add("after", "startup", fn, args, true);
  }

  /** Removes a trigger; throws if none has that id. */
  remove(id: SystemEventTriggerID): void {
    const i = this.records.findIndex((record) => record.id === id);
    if (i < 0) throw new Error(`no system event trigger has the id ${id}`);
    this.records.splice(i, 1);
  }

  /**
   * Runs the phases of `eventType` in order. Within a phase the triggers run in the order
   * added (one removed by an earlier one does not run, one added by an earlier one runs after
   * the others); if any returns a promise or Deferred, the next phase waits for all of them.
   * Errors are logged and do not stop the event.
   * `during`, if given, is the owner's own part of the event and runs before the `during`
   * triggers. The Deferred fires once the `after` phase is done: at once when nothing waited.
   * Fired again while it is under way (from one of its own triggers), the event is not run a
   * second time: that Deferred fires at once. (Twisted's triggers are used up as they run, so
   * there too each runs once.)
   */
  fire(eventType: string, during?: () => unknown): Deferred<void> {
    const done = new Deferred<void>();
    if (this.#firing.has(eventType)) {
      done.callback(undefined);
      return done;
    }
    this.#firing.add(eventType);
    const run = (index: number): void => {
      while (index < PHASES.length) {
        const waits = this.#runPhase(PHASES[index++], eventType, during);
        if (waits.length > 0) {
          Promise.all(waits).then(() => run(index));
          return;
        }
      }
      this.#firing.delete(eventType);
      done.callback(undefined);
    };
    run(0);
    return done;
  }

  #runPhase(
    phase: SystemEventPhase,
    eventType: string,
    during: (() => unknown) | undefined,
  ): Promise<void>[] {
    const waits: Promise<void>[] = [];
    if (phase === "during" && during !== undefined) {
      const why = `Error during ${eventType}`;
      try {
        const result = during();
        if (isThenable(result)) waits.push(settle(result, why));
      } catch (e) {
        err(e, why);
      }
    }
    const ran = new Set<TriggerRecord>();
    for (;;) {
      // A trigger added to this phase by one that ran in it runs too, as in Twisted.
      const due = this.records.filter((r) =>
        r.phase === phase && r.eventType === eventType && !ran.has(r)
      );
      if (due.length === 0) return waits;
      for (const record of due) {
        const i = this.records.indexOf(record);
        if (i < 0) continue; // removed by an earlier trigger
        ran.add(record);
        if (record.once) this.records.splice(i, 1);
        const why = `Error in a ${eventType} trigger (${phase}):`;
        try {
          const result = (record.fn as (...args: unknown[]) => unknown)(...record.args);
          if (isThenable(result)) waits.push(settle(result, why));
        } catch (e) {
          err(e, why);
        }
      }
    }
  }
}
