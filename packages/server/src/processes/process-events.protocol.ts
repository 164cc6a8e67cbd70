import type { ProcessMessage, ProcessStatus } from './domain/process-message';
import { isProcessStatus, isValidProcessId } from './domain/process-message';

/**
 * Event types this module publishes on the event bus. Socket.IO clients and
 * other subscribers depend on them: never rename.
 */
export const PROCESS_MESSAGE_EVENT = 'process_message';
export const PROCESS_STATUS_EVENT = 'process_status';

/** `data` of a `process_status` event. */
export interface ProcessStatusEventData {
  readonly processId: string;
  readonly status: ProcessStatus;
  readonly previous: ProcessStatus | null;
}

/** The scope that lets a principal read one process, on the bus and over HTTP. */
export function processScope(processId: string): string {
  return `process:${processId}`;
}

/**
 * Live events are checked before they are trusted: a malformed event must not
 * end up in a stream, where it would move the reader's cursor.
 */
export function isProcessMessageData(data: unknown): data is ProcessMessage {
  const message = data as Partial<ProcessMessage> | null;
  return (
    typeof message === 'object' &&
    message !== null &&
    isValidProcessId(message.processId) &&
    Number.isSafeInteger(message.seq) &&
    (message.seq as number) > 0 &&
    typeof message.type === 'string'
  );
}

export function isProcessStatusData(
  data: unknown,
): data is ProcessStatusEventData {
  const event = data as Partial<ProcessStatusEventData> | null;
  return (
    typeof event === 'object' &&
    event !== null &&
    isValidProcessId(event.processId) &&
    isProcessStatus(event.status) &&
    (event.previous === null || isProcessStatus(event.previous))
  );
}
