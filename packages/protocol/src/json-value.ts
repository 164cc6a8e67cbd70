/** What is wrong with a value that must travel as JSON, and where. */
export interface JsonProblem {
  readonly message: string;
  readonly field: string;
}

export interface JsonCheckOptions {
  /** An extra rule for every string, values and keys alike; returns why one is refused. */
  readonly rejectString?: (value: string) => string | null;
}

const MAX_DEPTH = 64;

/**
 * Whether `value` comes back deep-equal after a JSON round trip, decided
 * without building field names: they are made only for a value that has a
 * problem, by the full check below. Any doubt (a string rule, too deep) is
 * left to that check.
 */
function isPlainJson(value: unknown, depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      break;
    default:
      return false;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++)
      if (!isPlainJson(value[i], depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const item = record[key];
    if (item !== undefined && !isPlainJson(item, depth + 1)) return false;
  }
  return true;
}

/**
 * Finds the first part of `value` that would not come back deep-equal after a
 * JSON round trip (non-finite numbers, class instances, functions, ...), or
 * `null` when there is none. `field` names the value in the message.
 */
export function findJsonProblem(
  value: unknown,
  field: string,
  options: JsonCheckOptions = {},
  depth = 0,
): JsonProblem | null {
  if (options.rejectString === undefined && isPlainJson(value, depth))
    return null;
  return findProblem(value, field, options, depth, new Map());
}

function findProblem(
  value: unknown,
  field: string,
  options: JsonCheckOptions,
  depth: number,
  // The objects and arrays from the root down to `value`, with their fields.
  ancestors: Map<object, string>,
): JsonProblem | null {
  const problem = (message: string, at = field): JsonProblem => ({
    message,
    field: at,
  });
  if (typeof value === 'object' && value !== null && ancestors.has(value))
    return problem(
      `${field} is circular: it refers back to ${ancestors.get(value)}, which JSON cannot carry.`,
    );
  if (depth > MAX_DEPTH)
    return problem(`${field} is nested deeper than ${MAX_DEPTH} levels.`);
  if (value === null || typeof value === 'boolean') return null;
  if (typeof value === 'string') {
    const reason = options.rejectString?.(value);
    return reason ? problem(`${field} ${reason}`) : null;
  }
  if (typeof value === 'number') {
    return Number.isFinite(value)
      ? null
      : problem(`${field} holds a non-finite number, which JSON cannot carry.`);
  }
  if (Array.isArray(value)) {
    ancestors.set(value, field);
    for (let i = 0; i < value.length; i++) {
      const found = findProblem(
        value[i],
        `${field}[${i}]`,
        options,
        depth + 1,
        ancestors,
      );
      if (found) return found;
    }
    ancestors.delete(value);
    return null;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      return problem(
        `${field} must be plain JSON; a ${proto?.constructor?.name ?? 'non-plain'} object would not come back deep-equal.`,
      );
    }
    ancestors.set(value, field);
    for (const [key, item] of Object.entries(value)) {
      const keyReason = options.rejectString?.(key);
      if (keyReason)
        return problem(`${field} key ${JSON.stringify(key)} ${keyReason}`);
      if (item === undefined) continue;
      const found = findProblem(
        item,
        `${field}.${key}`,
        options,
        depth + 1,
        ancestors,
      );
      if (found) return found;
    }
    ancestors.delete(value);
    return null;
  }
  return problem(`${field} holds a ${typeof value}, which JSON cannot carry.`);
}

/** A short description of a value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number') return String(value);
  return `a ${typeof value}`;
}
