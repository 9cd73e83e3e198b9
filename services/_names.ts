/**
 * How services are named in error and log messages.
 *
 * @module
 */

/**
 * `service "name"` for a named service, `a ClassName` (`an unnamed service` without a class
 * name) for an unnamed one: either reads as the subject of a sentence.
 */
export function describeService(service: object): string {
  const name = (service as { name?: unknown }).name;
  if (typeof name === "string") return `service ${JSON.stringify(name)}`;
  const className = service.constructor?.name;
  if (!className) return "an unnamed service";
  return /^[AEIOU]/i.test(className) ? `an ${className}` : `a ${className}`;
}
