import assert from "node:assert/strict";
import { Deferred } from "../defer.ts";
import { addObserver, type LogEvent, removeObserver } from "../log.ts";
import { Application } from "../services/application.ts";
import { MultiService } from "../services/multi_service.ts";
import {
  DuplicateServiceNameError,
  Service,
  ServiceParentError,
  UnknownServiceError,
} from "../services/service.ts";

/** A service that records what happens to it in a shared journal. */
class Recorder extends Service {
  stopResult: Deferred<void> | undefined = undefined;
  constructor(readonly journal: string[], name?: string) {
    super();
    if (name !== undefined) this.setName(name);
  }
  override privilegedStartService(): void {
    this.journal.push(`privileged ${this.name}`);
  }
  override startService(): void {
    super.startService();
    this.journal.push(`start ${this.name}`);
  }
  override stopService(): Deferred<void> | void {
    super.stopService();
    this.journal.push(`stop ${this.name}`);
    return this.stopResult;
  }
}

function captureLog(): { events: LogEvent[]; [Symbol.dispose](): void } {
  const events: LogEvent[] = [];
  const observer = (event: LogEvent) => void events.push(event);
  addObserver(observer);
  return { events, [Symbol.dispose]: () => removeObserver(observer) };
}

Deno.test("Service.startService and stopService set running", () => {
  const service = new Service();
  assert.equal(service.running, false);
  service.startService();
  assert.equal(service.running, true);
  assert.equal(service.stopService(), undefined);
  assert.equal(service.running, false);
});

Deno.test("MultiService starts children in order and stops them in reverse", async () => {
  const journal: string[] = [];
  const top = new MultiService();
  for (const name of ["a", "b", "c"]) new Recorder(journal, name).setServiceParent(top);
  top.privilegedStartService();
  top.startService();
  assert.equal(top.running, true);
  await top.stopService();
  assert.equal(top.running, false);
  assert.deepEqual(journal, [
    "privileged a",
    "privileged b",
    "privileged c",
    "start a",
    "start b",
    "start c",
    "stop c",
    "stop b",
    "stop a",
  ]);
});

Deno.test("MultiService.stopService fires only once every child's Deferred has fired", () => {
  const journal: string[] = [];
  const top = new MultiService();
  const a = new Recorder(journal, "a");
  const b = new Recorder(journal, "b");
  a.stopResult = new Deferred<void>();
  b.stopResult = new Deferred<void>();
  a.setServiceParent(top);
  b.setServiceParent(top);
  top.startService();
  const done = top.stopService();
  // Both children were asked to stop at once; neither waits for the other.
  assert.deepEqual(journal.slice(-2), ["stop b", "stop a"]);
  assert.equal(done.called, false);
  b.stopResult.callback(undefined);
  assert.equal(done.called, false);
  a.stopResult.callback(undefined);
  assert.equal(done.called, true);
});

Deno.test("MultiService.stopService logs a failing child and still stops the others", async () => {
  using log = captureLog();
  const journal: string[] = [];
  const top = new MultiService();
  const a = new Recorder(journal, "a");
  const broken = new (class extends Service {
    override stopService(): void {
      super.stopService();
      throw new Error("disk on fire");
    }
  })();
  broken.setName("broken");
  const failing = new Recorder(journal, "failing");
  failing.stopResult = new Deferred<void>();
  a.setServiceParent(top);
  broken.setServiceParent(top);
  failing.setServiceParent(top);
  top.startService();
  const done = top.stopService();
  failing.stopResult.errback(new Error("could not flush"));
  await done;
  assert.equal(a.running, false);
  assert.deepEqual(journal.slice(-2), ["stop failing", "stop a"]);
  const errors = log.events.filter((e) => e.isError);
  assert.deepEqual(errors.map((e) => [e.why, e.failure?.getErrorMessage()]), [
    ['Error stopping service "broken":', "disk on fire"],
    ['Error stopping service "failing":', "could not flush"],
  ]);
});

Deno.test("MultiService.stopService with no children fires at once", () => {
  const top = new MultiService();
  top.startService();
  assert.equal(top.stopService().called, true);
});

Deno.test("Service.setServiceParent refuses a service that already has a parent", () => {
  const first = new MultiService();
  first.setName("first");
  const service = new Service();
  service.setName("poetry");
  service.setServiceParent(first);
  assert.throws(() => service.setServiceParent(new MultiService()), (e: unknown) => {
    assert.ok(e instanceof ServiceParentError);
    assert.equal(e.name, "ServiceParentError");
    assert.match(e.message, /service "poetry" already has a parent \("first"\)/);
    return true;
  });
  assert.equal(service.parent, first);
  assert.deepEqual([...first], [service]);
});

Deno.test("Service.setServiceParent refuses a second child of the same name", () => {
  const top = new Application("fastpoetry");
  const a = new Service();
  a.setName("web");
  a.setServiceParent(top);
  const b = new Service();
  b.setName("web");
  assert.throws(() => b.setServiceParent(top), (e: unknown) => {
    assert.ok(e instanceof DuplicateServiceNameError);
    assert.equal(e.name, "DuplicateServiceNameError");
    assert.equal(e.serviceName, "web");
    assert.equal(
      e.message,
      'cannot add service "web" to "fastpoetry": it already has a service named "web"',
    );
    return true;
  });
  assert.equal(b.parent, undefined, "the refused service is left without a parent");
  assert.deepEqual([...top], [a]);
  // Unnamed services never clash.
  new Service().setServiceParent(top);
  new Service().setServiceParent(top);
  assert.equal([...top].length, 3);
});

Deno.test("Service.setName refuses to rename a service that has a parent", () => {
  const service = new Service();
  service.setName("old");
  service.setServiceParent(new MultiService());
  assert.throws(() => service.setName("new"), ServiceParentError);
  assert.equal(service.name, "old");
});

Deno.test("Service.disownServiceParent removes the service and lets it join another", () => {
  const first = new MultiService();
  const second = new MultiService();
  const service = new Service();
  service.setName("poetry");
  service.setServiceParent(first);
  assert.equal(service.disownServiceParent(), undefined);
  assert.equal(service.parent, undefined);
  assert.deepEqual([...first], []);
  assert.throws(() => first.getServiceNamed("poetry"), UnknownServiceError);
  service.setServiceParent(second);
  assert.equal(second.getServiceNamed("poetry"), service);
  assert.throws(() => new Service().disownServiceParent(), ServiceParentError);
});

Deno.test("MultiService.getServiceNamed finds a named child and names the unknown one", () => {
  const top = new Application("fastpoetry");
  const web = new Service();
  web.setName("web");
  web.setServiceParent(top);
  assert.equal(top.getServiceNamed("web"), web);
  assert.throws(() => top.getServiceNamed("ftp"), (e: unknown) => {
    assert.ok(e instanceof UnknownServiceError);
    assert.equal(e.message, '"fastpoetry" has no service named "ftp"');
    return true;
  });
});

Deno.test("MultiService.removeService refuses a service that is not its child", () => {
  const top = new MultiService();
  assert.throws(() => top.removeService(new Service()), UnknownServiceError);
});

Deno.test("MultiService starts a child added while it runs", () => {
  const journal: string[] = [];
  const top = new MultiService();
  top.startService();
  const late = new Recorder(journal, "late");
  late.setServiceParent(top);
  assert.equal(late.running, true);
  assert.deepEqual(journal, ["privileged late", "start late"]);
});

Deno.test("MultiService stops a child removed while it runs and returns its Deferred", () => {
  const journal: string[] = [];
  const top = new MultiService();
  const child = new Recorder(journal, "child");
  child.stopResult = new Deferred<void>();
  child.setServiceParent(top);
  top.startService();
  const result = child.disownServiceParent();
  assert.equal(result, child.stopResult);
  assert.equal(child.running, false);
  assert.deepEqual(journal, ["start child", "stop child"]);
  // Removed from a stopped collection, a child is not stopped again.
  const idle = new Recorder(journal, "idle");
  const stopped = new MultiService();
  idle.setServiceParent(stopped);
  assert.equal(idle.disownServiceParent(), undefined);
  assert.deepEqual(journal, ["start child", "stop child"]);
});

Deno.test("MultiService.privilegedStartService reaches grandchildren", () => {
  const journal: string[] = [];
  const application = new Application("app");
  const middle = new MultiService();
  middle.setServiceParent(application);
  new Recorder(journal, "leaf").setServiceParent(middle);
  application.privilegedStartService();
  assert.deepEqual(journal, ["privileged leaf"]);
  assert.equal(application.running, false);
});

Deno.test("MultiService started as a child starts its own children in turn", async () => {
  const journal: string[] = [];
  const application = new Application("app");
  const middle = new MultiService();
  new Recorder(journal, "one").setServiceParent(middle);
  middle.setServiceParent(application);
  new Recorder(journal, "two").setServiceParent(application);
  application.startService();
  await application.stopService();
  assert.deepEqual(journal, ["start one", "start two", "stop two", "stop one"]);
});

Deno.test("Application has its name and optional user and group", () => {
  const application = new Application("fastpoetry", { uid: 1000, gid: 100 });
  assert.equal(application.name, "fastpoetry");
  assert.equal(application.uid, 1000);
  assert.equal(application.gid, 100);
  assert.ok(application instanceof MultiService);
  assert.equal(new Application("x").uid, undefined);
});

Deno.test("Service disposed with await using is stopped", async () => {
  const journal: string[] = [];
  const top = new MultiService();
  const child = new Recorder(journal, "child");
  child.setServiceParent(top);
  {
    await using running = top;
    running.startService();
  }
  assert.equal(top.running, false);
  assert.equal(child.running, false);
  assert.deepEqual(journal, ["start child", "stop child"]);
});
