/**
 * Services: named things that can be started and stopped, and organised in a tree that is
 * started and stopped as one — Twisted's `twisted.application.service.Service`.
 *
 * A service holds the logic of a program (load a poem, open a database) and knows nothing of
 * sockets; ready-made services such as `TCPServer` (in `services/internet.ts`) connect a
 * factory to a port. A {@linkcode ServiceCollection} (`MultiService`, `Application`) groups
 * services: it starts its children in order when it starts and stops them when it stops.
 *
 * - {@linkcode Service.startService} starts the service; override it, and call
 *   `super.startService()` (which sets {@linkcode Service.running}).
 * - {@linkcode Service.stopService} stops it, and returns a `Deferred` or a promise that
 *   settles once the service has really finished stopping (it may be `async`) — or nothing,
 *   if stopping is immediate.
 * - {@linkcode Service.privilegedStartService} runs before the runner drops privileges: bind
 *   low ports there.
 *
 * @example A service that loads a poem when started
 * ```ts
 * import { Service } from "@poetry/serve/service";
 *
 * class PoetryService extends Service {
 *   poem = "";
 *   constructor(readonly poetryFile: string) {
 *     super();
 *   }
 *   override startService(): void {
 *     super.startService();
 *     this.poem = "roses are red"; // e.g. Deno.readTextFileSync(this.poetryFile)
 *   }
 * }
 *
 * const service = new PoetryService("poetry/ecstasy.txt");
 * service.startService();
 * console.log(service.running, service.poem); // true roses are red
 * service.stopService();
 * ```
 *
 * @module
 */

import { describeService } from "./_names.ts";

/**
 * A container of services, as Twisted's `IServiceCollection`: `MultiService` and
 * `Application` implement it. Only {@linkcode Service.setServiceParent} and
 * {@linkcode Service.disownServiceParent} should call `addService` and `removeService`.
 *
 * @example Find a child by its name
 * ```ts
 * import { MultiService } from "@poetry/serve/multi-service";
 * import { Service, type ServiceCollection } from "@poetry/serve/service";
 *
 * const top: ServiceCollection = new MultiService();
 * const poetry = new Service();
 * poetry.setName("poetry");
 * poetry.setServiceParent(top);
 * console.log(top.getServiceNamed("poetry") === poetry, [...top].length); // true 1
 * ```
 */
export interface ServiceCollection {
  /**
   * The child named `name`.
   *
   * @throws {UnknownServiceError} if no child has that name.
   */
  getServiceNamed(name: string): Service;
  /**
   * Adds a child; if the collection is running, the child is started at once.
   *
   * @throws {DuplicateServiceNameError} if another child already has the child's name.
   */
  addService(service: Service): void;
  /**
   * Removes a child; if the collection is running, the child is stopped and what its
   * `stopService` returned is returned.
   *
   * @throws {UnknownServiceError} if `service` is not a child of this collection.
   */
  removeService(service: Service): PromiseLike<void> | void;
  /** The children, in the order they were added (the order they are started in). */
  [Symbol.iterator](): Iterator<Service>;
}

/**
 * Thrown by {@linkcode Service.setServiceParent} when the service already has a parent, by
 * {@linkcode Service.disownServiceParent} when it has none, and by {@linkcode Service.setName}
 * when it has one.
 *
 * @example
 * ```ts
 * import { MultiService } from "@poetry/serve/multi-service";
 * import { Service, ServiceParentError } from "@poetry/serve/service";
 *
 * const service = new Service();
 * service.setServiceParent(new MultiService());
 * try {
 *   service.setServiceParent(new MultiService());
 * } catch (e) {
 *   console.log(e instanceof ServiceParentError); // true
 * }
 * ```
 */
export class ServiceParentError extends Error {
  /**
   * An error with `message`.
   *
   * @example
   * ```ts
   * import { ServiceParentError } from "@poetry/serve/service";
   * console.log(new ServiceParentError("no parent").name); // ServiceParentError
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "ServiceParentError";
  }
}

/**
 * Thrown when a service is added to a collection that already has a child of the same name.
 *
 * @example
 * ```ts
 * import { MultiService } from "@poetry/serve/multi-service";
 * import { DuplicateServiceNameError, Service } from "@poetry/serve/service";
 *
 * const top = new MultiService();
 * const a = new Service();
 * a.setName("web");
 * a.setServiceParent(top);
 * const b = new Service();
 * b.setName("web");
 * try {
 *   b.setServiceParent(top);
 * } catch (e) {
 *   console.log(e instanceof DuplicateServiceNameError); // true
 * }
 * ```
 */
export class DuplicateServiceNameError extends Error {
  /** The name that is already taken. */
  readonly serviceName: string;

  /**
   * An error for the duplicate `serviceName`, added to the collection described by `parent`.
   *
   * @example
   * ```ts
   * import { DuplicateServiceNameError } from "@poetry/serve/service";
   * console.log(new DuplicateServiceNameError("web", 'service "app"').message);
   * // cannot add service "web" to service "app": it already has a service named "web"
   * ```
   */
  constructor(serviceName: string, parent: string) {
    const quoted = JSON.stringify(serviceName);
    super(`cannot add service ${quoted} to ${parent}: it already has a service named ${quoted}`);
    this.name = "DuplicateServiceNameError";
    this.serviceName = serviceName;
  }
}

/**
 * Thrown when a collection is asked for a child it does not have: an unknown name given to
 * `getServiceNamed`, or a service that is not its child given to `removeService`.
 *
 * @example
 * ```ts
 * import { MultiService } from "@poetry/serve/multi-service";
 * import { UnknownServiceError } from "@poetry/serve/service";
 *
 * try {
 *   new MultiService().getServiceNamed("web");
 * } catch (e) {
 *   console.log(e instanceof UnknownServiceError); // true
 * }
 * ```
 */
export class UnknownServiceError extends Error {
  /**
   * An error with `message`.
   *
   * @example
   * ```ts
   * import { UnknownServiceError } from "@poetry/serve/service";
   * console.log(new UnknownServiceError("no service named \"web\"").name); // UnknownServiceError
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "UnknownServiceError";
  }
}

/**
 * The base class for services. It keeps the book: {@linkcode Service.running},
 * {@linkcode Service.name} and {@linkcode Service.parent}. Subclasses override
 * {@linkcode Service.startService} and {@linkcode Service.stopService} and call the base
 * methods.
 *
 * A service is `AsyncDisposable`: `await using` stops it (if running) when the scope ends.
 *
 * The class has no private state, so code that cannot extend it can still
 * `implements Service`.
 *
 * @example Stop a service when a scope ends
 * ```ts
 * import { Service } from "@poetry/serve/service";
 *
 * const service = new Service();
 * {
 *   await using s = service;
 *   s.startService();
 *   console.log(s.running); // true
 * }
 * console.log(service.running); // false
 * ```
 */
export class Service implements AsyncDisposable {
  /**
   * The service's name, by which its parent's `getServiceNamed` finds it; `undefined` for an
   * unnamed service (names are optional). Set it with {@linkcode Service.setName}.
   */
  name: string | undefined = undefined;
  /** Whether the service has been started and not stopped since. */
  running = false;
  /** The collection this service belongs to, if any. */
  parent: ServiceCollection | undefined = undefined;

  /**
   * Sets the service's name.
   *
   * @throws {ServiceParentError} if the service already has a parent (its parent files it
   * under the old name).
   * @example
   * ```ts
   * import { Service } from "@poetry/serve/service";
   * const service = new Service();
   * service.setName("poetry");
   * console.log(service.name); // poetry
   * ```
   */
  setName(name: string): void {
    if (this.parent !== undefined) {
      throw new ServiceParentError(
        `cannot rename ${describeService(this)} to ${JSON.stringify(name)}: it has a parent`,
      );
    }
    this.name = name;
  }

  /**
   * Adds this service to `parent`, a `MultiService` or `Application`. If the parent is
   * running, this service is started at once.
   *
   * @throws {ServiceParentError} if this service already has a parent (call
   * {@linkcode Service.disownServiceParent} first).
   * @throws {DuplicateServiceNameError} if `parent` already has a child with this name; the
   * service is then left without a parent.
   * @throws what this service's start methods throw, when `parent` is running; the service
   * then stays `parent`'s child (disown it to take it out).
   * @example
   * ```ts
   * import { MultiService } from "@poetry/serve/multi-service";
   * import { Service } from "@poetry/serve/service";
   * const top = new MultiService();
   * const service = new Service();
   * service.setServiceParent(top);
   * console.log(service.parent === top, [...top].length); // true 1
   * ```
   */
  setServiceParent(parent: ServiceCollection): void {
    if (this.parent !== undefined) {
      throw new ServiceParentError(
        `${describeService(this)} already has a parent (${
          describeService(this.parent)
        }); disown it first`,
      );
    }
    // The parent is set before adding, so that a service started by a running parent can
    // already see its siblings.
    this.parent = parent;
    try {
      parent.addService(this);
    } catch (e) {
      // Refused (a duplicate name): no parent. Added but failed to start in a running
      // parent: the parent holds it and will stop it, so it keeps that parent.
      if (![...parent].includes(this)) this.parent = undefined;
      throw e;
    }
  }

  /**
   * Removes this service from its parent. If the parent is running, this service is stopped,
   * and what its {@linkcode Service.stopService} returned (a Deferred or promise that settles
   * once it has stopped, or nothing) is returned.
   *
   * @throws {ServiceParentError} if the service has no parent.
   * @example
   * ```ts
   * import { MultiService } from "@poetry/serve/multi-service";
   * import { Service } from "@poetry/serve/service";
   * const top = new MultiService();
   * const service = new Service();
   * service.setServiceParent(top);
   * service.disownServiceParent();
   * console.log(service.parent, [...top].length); // undefined 0
   * ```
   */
  disownServiceParent(): PromiseLike<void> | void {
    const parent = this.parent;
    if (parent === undefined) {
      throw new ServiceParentError(`${describeService(this)} has no parent to disown`);
    }
    const result = parent.removeService(this);
    this.parent = undefined;
    return result;
  }

  /**
   * Preparation done before the runner changes directory or drops privileges — binding a
   * port below 1024, opening a root-only file. Does nothing by default.
   *
   * @example
   * ```ts
   * import { Service } from "@poetry/serve/service";
   * const service = new Service();
   * service.privilegedStartService();
   * console.log(service.running); // false
   * ```
   */
  privilegedStartService(): void {}

  /**
   * Starts the service: sets {@linkcode Service.running}. Subclasses override it to do their
   * work and call `super.startService()`.
   *
   * @example
   * ```ts
   * import { Service } from "@poetry/serve/service";
   * const service = new Service();
   * service.startService();
   * console.log(service.running); // true
   * ```
   */
  startService(): void {
    this.running = true;
  }

  /**
   * Stops the service: clears {@linkcode Service.running}. Subclasses override it to release
   * what they hold, call `super.stopService()`, and return a Deferred or a promise (it may be
   * `async`) that settles once they have really stopped, or nothing if stopping is immediate.
   * One that fails reports an error in stopping.
   *
   * @example
   * ```ts
   * import { Service } from "@poetry/serve/service";
   * const service = new Service();
   * service.startService();
   * service.stopService();
   * console.log(service.running); // false
   * ```
   */
  stopService(): PromiseLike<void> | void {
    this.running = false;
  }

  /**
   * Stops the service if it is running, and resolves once it has stopped.
   *
   * @example
   * ```ts
   * import { Service } from "@poetry/serve/service";
   * const service = new Service();
   * service.startService();
   * await service[Symbol.asyncDispose]();
   * console.log(service.running); // false
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.running) await this.stopService();
  }
}
