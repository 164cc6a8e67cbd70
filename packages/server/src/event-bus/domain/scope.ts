/** The scope that grants everything. */
export const WILDCARD_SCOPE = '*';

const MAX_SCOPE_LENGTH = 256;

export function isValidScope(scope: unknown): scope is string {
  return (
    typeof scope === 'string' &&
    scope.length > 0 &&
    scope.length <= MAX_SCOPE_LENGTH &&
    scope.trim() === scope
  );
}

/**
 * Decides whether a principal holding `granted` may see an event naming
 * `required`: it must hold every scope the event names, `*` matches everything,
 * and an event naming no scope is visible to every authenticated principal.
 *
 * Fails closed: anything malformed on either side means "not visible".
 */
export function isVisibleTo(
  required: unknown,
  granted: ReadonlySet<string> | readonly string[] | null | undefined,
): boolean {
  if (!Array.isArray(required) || granted == null) return false;
  const grants: ReadonlySet<string> =
    granted instanceof Set ? granted : new Set(granted as readonly string[]);
  if (Array.isArray(granted) && !granted.every(isValidScope)) return false;
  if (!required.every(isValidScope)) return false;
  if (grants.has(WILDCARD_SCOPE)) return true;
  return required.every((scope) => grants.has(scope));
}
