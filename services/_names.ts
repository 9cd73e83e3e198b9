/**
 * How services are named in error and log messages.
 *
 * @module
 */

/** `"name"` for a named service, `a ClassName` for an unnamed one. */
export function describeService(service: object): string {
  const name = (service as { name?: unknown }).name;
  if (typeof name === "string") return JSON.stringify(name);
  const className = service.constructor?.name;
  if (!className) return "an unnamed service";
  return /^[AEIOU]/i.test(className) ? `an ${className}` : `a ${className}`;
}
