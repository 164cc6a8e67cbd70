import type { ProcessStreamEndReason } from '@streamgate/protocol';
import type { ProcessMessage, ProcessStatus } from '../domain/process-message';

/** How one stream encodes what it sends; each method returns whole frames. */
export interface ProcessStreamFormat {
  readonly contentType: string;
  /** Written once, right after the headers. */
  preamble(): string;
  messages(messages: readonly ProcessMessage[]): string;
  status(status: ProcessStatus, previous: ProcessStatus | null): string;
  heartbeat(): string;
  end(status: ProcessStatus): string;
  /** The server ends the stream before the process ended (token expired, access revoked). */
  endFor(reason: ProcessStreamEndReason): string;
}

/**
 * Server-Sent Events. Only messages carry an `id` (their seq), so the
 * `Last-Event-ID` an EventSource sends back is always the seq of the last
 * message it received, whatever status events or heartbeats came after it.
 */
export class SseFormat implements ProcessStreamFormat {
  readonly contentType = 'text/event-stream';

  constructor(private readonly retryMs: number) {}

  preamble(): string {
    return `retry: ${this.retryMs}\n\n`;
  }

  messages(messages: readonly ProcessMessage[]): string {
    let out = '';
    // JSON.stringify escapes CR and LF, so one data line always suffices.
    for (const message of messages) {
      out += `id: ${message.seq}\nevent: message\ndata: ${JSON.stringify(message)}\n\n`;
    }
    return out;
  }

  status(status: ProcessStatus, previous: ProcessStatus | null): string {
    return `event: status\ndata: ${JSON.stringify({ status, previous })}\n\n`;
  }

  heartbeat(): string {
    return ': heartbeat\n\n';
  }

  end(status: ProcessStatus): string {
    return `event: end\ndata: ${JSON.stringify({ status })}\n\n`;
  }

  endFor(reason: ProcessStreamEndReason): string {
    return `event: end\ndata: ${JSON.stringify({ reason })}\n\n`;
  }
}

/** Newline-delimited JSON: one object per line, told apart by `event`. */
export class NdjsonFormat implements ProcessStreamFormat {
  readonly contentType = 'application/x-ndjson';

  preamble(): string {
    return '';
  }

  messages(messages: readonly ProcessMessage[]): string {
    let out = '';
    for (const message of messages) {
      out += `${JSON.stringify({ event: 'message', message })}\n`;
    }
    return out;
  }

  status(status: ProcessStatus, previous: ProcessStatus | null): string {
    return `${JSON.stringify({ event: 'status', status, previous })}\n`;
  }

  heartbeat(): string {
    return '{"event":"heartbeat"}\n';
  }

  end(status: ProcessStatus): string {
    return `${JSON.stringify({ event: 'end', status })}\n`;
  }

  endFor(reason: ProcessStreamEndReason): string {
    return `${JSON.stringify({ event: 'end', reason })}\n`;
  }
}
