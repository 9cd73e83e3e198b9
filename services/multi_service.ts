/**
 * {@linkcode MultiService}: a service that is also a collection of services, started and
 * stopped together — Twisted's `twisted.application.service.MultiService`.
 *
 * @example Group a poetry service and its listener
 * ```ts
 * import { MultiService } from "@poetry/serve/multi-service";
 * import { Service } from "@poetry/serve/service";
 *
 * const top = new MultiService();
 * const poetry = new Service();
 * poetry.setName("poetry");
 * poetry.setServiceParent(top);
 *
 * top.startService();
 * console.log(top.getServiceNamed("poetry").running); // true
 * await top.stopService(); // fires once every child has stopped
 * console.log(poetry.running); // false
 * ```
 *
 * @module
 */

import { type Deferred, DeferredList, maybeDeferred } from "../defer.ts";
import type { Failure } from "../failure.ts";
import { err } from "../log.ts";
import { describeService } from "./_names.ts";
import {
  DuplicateServiceNameError,
  Service,
  type ServiceCollection,
  ServiceParentError,
  UnknownServiceError,
} from "./service.ts";

/**
 * A service that holds other services. Starting it starts its children in the order they
 * were added; stopping it stops them in the reverse order, without waiting for one before
 * stopping the next, and its stop Deferred fires once every child has finished stopping.
 *
 * A child added while the collection runs is started at once; a child removed while it runs
 * is stopped.
 *
 * @example Wait for every child to stop
 * ```ts
 * import { Deferred } from "@poetry/serve/defer";
 * import { MultiService } from "@poetry/serve/multi-service";
 * import { Service } from "@poetry/serve/service";
 *
 * class SlowToStop extends Service {
 *   stopped = new Deferred<void>();
 *   override stopService(): Deferred<void> {
 *     super.stopService();
 *     return this.stopped;
 *   }
 * }
 *
 * const top = new MultiService();
 * const slow = new SlowToStop();
 * slow.setServiceParent(top);
 * top.startService();
 * const done = top.stopService();
 * console.log(done.called); // false
 * slow.stopped.callback();
 * console.log(done.called); // true
 * ```
 */
export class MultiService extends Service implements ServiceCollection {
  #services: Service[] = [];
  #named = new Map<string, Service>();

  /**
   * Runs every child's `privilegedStartService`, in order.
   *
   * @example
   * ```ts
   * import { MultiService } from "@poetry/serve/multi-service";
   * import { Service } from "@poetry/serve/service";
   * const seen: string[] = [];
   * class Early extends Service {
   *   override privilegedStartService(): void {
   *     seen.push("bound");
   *   }
   * }
   * const top = new MultiService();
   * new Early().setServiceParent(top);
   * top.privilegedStartService();
   * console.log(seen); // [ "bound" ]
   * ```
   */
  override privilegedStartService(): void {
    super.privilegedStartService();
    for (const service of [...this.#services]) service.privilegedStartService();
  }

  /**
   * Marks this service running, then starts every child in the order they were added. An
   * error thrown by a child's `startService` propagates (the children after it are not
   * started).
   *
   * @example
   * ```ts
   * import { MultiService } from "@poetry/serve/multi-service";
   * import { Service } from "@poetry/serve/service";
   * const top = new MultiService();
   * const child = new Service();
   * child.setServiceParent(top);
   * top.startService();
   * console.log(top.running, child.running); // true true
   * ```
   */
  override startService(): void {
    super.startService();
    for (const service of [...this.#services]) service.startService();
  }

  /**
   * Marks this service stopped and stops every child, last-added first, without waiting for
   * one before stopping the next. Returns a Deferred that fires (with `undefined`) once every
   * child has finished stopping. A child whose `stopService` throws or whose Deferred fails is
   * logged with `log.err` and does not keep the others from stopping or the returned Deferred
   * from firing. Cancelling the returned Deferred cancels the children's stops still under
   * way (each such child is then logged as failing with `CancelledError`).
   *
   * @example
   * ```ts
   * import { MultiService } from "@poetry/serve/multi-service";
   * import { Service } from "@poetry/serve/service";
   * const order: string[] = [];
   * class Named extends Service {
   *   override stopService(): void {
   *     super.stopService();
   *     order.push(this.name!);
   *   }
   * }
   * const top = new MultiService();
   * for (const name of ["first", "second"]) {
   *   const s = new Named();
   *   s.setName(name);
   *   s.setServiceParent(top);
   * }
   * top.startService();
   * await top.stopService();
   * console.log(order); // [ "second", "first" ]
   * ```
   */
  override stopService(): Deferred<void> {
    super.stopService();
    const stops = [...this.#services].reverse().map((child) => {
      const why = `Error stopping ${describeService(child)}:`;
      const stopped: Deferred<unknown> = maybeDeferred(() => child.stopService());
      return stopped.addErrback((failure: Failure) => void err(failure, why));
    });
    // A DeferredList, so that cancelling what is returned reaches every child's stop.
    return new DeferredList(stops).addCallback((): void => {});
  }

  /**
   * The child named `name`.
   *
   * @throws {UnknownServiceError} if no child has that name.
   * @example
   * ```ts
   * import { MultiService } from "@poetry/serve/multi-service";
   * import { Service } from "@poetry/serve/service";
   * const top = new MultiService();
   * const web = new Service();
   * web.setName("web");
   * web.setServiceParent(top);
   * console.log(top.getServiceNamed("web") === web); // true
   * ```
   */
  getServiceNamed(name: string): Service {
    const service = this.#named.get(name);
    if (service === undefined) {
      throw new UnknownServiceError(
        `${describeService(this)} has no service named ${JSON.stringify(name)}`,
      );
    }
    return service;
  }

  /**
   * The children, in the order they were added.
   *
   * @example
   * ```ts
   * import { MultiService } from "@poetry/serve/multi-service";
   * import { Service } from "@poetry/serve/service";
   * const top = new MultiService();
   * new Service().setServiceParent(top);
   * new Service().setServiceParent(top);
   * console.log([...top].length); // 2
   * ```
   */
  [Symbol.iterator](): Iterator<Service> {
    return this.#services[Symbol.iterator]();
  }

  /**
   * Adds `service` as a child and sets its `parent`; if this collection is running, runs the
   * child's `privilegedStartService` and `startService` at once; an error they throw
   * propagates, and the child stays added. Prefer `service.setServiceParent(collection)`,
   * which calls this.
   *
   * @throws {DuplicateServiceNameError} if another child has the same name.
   * @throws {ServiceParentError} if `service` is already a child here or has another parent.
   * @example
   * ```ts
   * import { MultiService } from "@poetry/serve/multi-service";
   * import { Service } from "@poetry/serve/service";
   * const top = new MultiService();
   * top.startService();
   * const late = new Service();
   * top.addService(late);
   * console.log(late.running, late.parent === top); // true true
   * ```
   */
  addService(service: Service): void {
    if (service.parent !== undefined && service.parent !== this) {
      throw new ServiceParentError(
        `${describeService(service)} already has a parent (${
          describeService(service.parent)
        }); disown it first`,
      );
    }
    if (this.#services.includes(service)) {
      throw new ServiceParentError(
        `${describeService(service)} is already a child of ${describeService(this)}`,
      );
    }
    if (service.name !== undefined) {
      if (this.#named.has(service.name)) {
        throw new DuplicateServiceNameError(service.name, describeService(this));
      }
      this.#named.set(service.name, service);
    }
    this.#services.push(service);
    service.parent = this;
    if (this.running) {
      // Started late: privileges may already be dropped, but do the best we can.
      service.privilegedStartService();
      service.startService();
    }
  }

  /**
   * Removes the child `service` and clears its `parent`. If this collection is running, the
   * child is stopped and what its `stopService` returned (a Deferred that fires once it has
   * stopped, or nothing) is returned. Prefer `service.disownServiceParent()`, which calls
   * this.
   *
   * @throws {UnknownServiceError} if `service` is not a child of this collection.
   * @example
   * ```ts
   * import { MultiService } from "@poetry/serve/multi-service";
   * import { Service } from "@poetry/serve/service";
   * const top = new MultiService();
   * const child = new Service();
   * child.setServiceParent(top);
   * top.startService();
   * top.removeService(child);
   * console.log(child.running, child.parent); // false undefined
   * ```
   */
  removeService(service: Service): PromiseLike<void> | void {
    const index = this.#services.indexOf(service);
    if (index < 0) {
      throw new UnknownServiceError(
        `${describeService(service)} is not a child of ${describeService(this)}`,
      );
    }
    this.#services.splice(index, 1);
    if (service.name !== undefined && this.#named.get(service.name) === service) {
      this.#named.delete(service.name);
    }
    if (service.parent === this) service.parent = undefined;
    if (this.running) return service.stopService();
  }
}
