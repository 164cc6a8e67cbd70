import {
  PROCESS_ID_PATTERN,
  PROCESS_STATUSES,
  ProcessStatus,
  isProcessStatus,
  isValidProcessId,
} from '@streamgate/server';
import { InvalidActivityError } from './activity.errors';
import { AGENT_NAME_PATTERN, MAX_TEXT_LENGTH } from './activity.types';

export function assertAgentName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !AGENT_NAME_PATTERN.test(value)) {
    throw new InvalidActivityError(
      `${field} must be an agent name matching ${AGENT_NAME_PATTERN}: lower-case letters, digits, "_" and "-", at most 64 characters (got ${describe(value)}).`,
      field,
    );
  }
  return value;
}

export function assertPayloadObject(
  value: unknown,
  shape: string,
): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidActivityError(
      `payload must be an object with ${shape} (got ${describe(value)}).`,
      'payload',
    );
  }
  return value as Record<string, unknown>;
}

export function assertText(value: unknown, field: string): string {
  if (
    typeof value !== 'string' ||
    value.trim() === '' ||
    value.length > MAX_TEXT_LENGTH
  ) {
    throw new InvalidActivityError(
      `${field} must be a non-blank string of at most ${MAX_TEXT_LENGTH} characters (got ${describe(value)}).`,
      field,
    );
  }
  return value;
}

export function assertPattern(
  value: unknown,
  pattern: RegExp,
  field: string,
): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new InvalidActivityError(
      `${field} must be a string matching ${pattern} (got ${describe(value)}).`,
      field,
    );
  }
  return value;
}

export function assertOneOf<T extends string>(
  value: unknown,
  allowed: readonly T[],
  field: string,
): T {
  if (!(allowed as readonly unknown[]).includes(value)) {
    throw new InvalidActivityError(
      `${field} must be one of ${allowed.join(', ')} (got ${describe(value)}).`,
      field,
    );
  }
  return value as T;
}

export function assertProcessIdField(value: unknown, field: string): string {
  if (!isValidProcessId(value)) {
    throw new InvalidActivityError(
      `${field} must be a process id matching ${PROCESS_ID_PATTERN} (got ${describe(value)}).`,
      field,
    );
  }
  return value;
}

export function assertProcessStatusField(
  value: unknown,
  field: string,
): ProcessStatus {
  if (!isProcessStatus(value)) {
    throw new InvalidActivityError(
      `${field} must be one of ${PROCESS_STATUSES.join(', ')} (got ${describe(value)}).`,
      field,
    );
  }
  return value;
}

export function assertPlainObject(
  value: unknown,
  field: string,
): Record<string, unknown> {
  const proto =
    value !== null && typeof value === 'object'
      ? Object.getPrototypeOf(value)
      : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new InvalidActivityError(
      `${field} must be a plain JSON object (got ${describe(value)}).`,
      field,
    );
  }
  return value as Record<string, unknown>;
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  return `a ${typeof value}`;
}
