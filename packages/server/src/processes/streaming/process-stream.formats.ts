import type { ProcessStreamEndReason } from '@streamgate/protocol';
import type { ProcessMessage, ProcessStatus } from '../domain/process-message';
import { storedJsonOf } from '../../event-bus/engine/stream-entry.codec';

/**
 * A message's frame, made once per message object: the streams of one
 * process receive the same live message objects (one per event this node
 * read), so each frame is encoded once per node, not once per stream. The
 * map holds a frame only as long as its message is held.
 */
class FrameCache {
  private readonly frames = new WeakMap<ProcessMessage, string>();

  constructor(private readonly encode: (message: ProcessMessage) => string) {}

  of(message: ProcessMessage): string {
    let frame = this.frames.get(message);
    if (frame === undefined) {
      frame = this.encode(message);
      this.frames.set(message, frame);
    }
    return frame;
  }
}

// A live message read from the log goes out as its stored text (the same
// bytes). JSON.stringify escapes CR and LF, so one data line always suffices.
const jsonOf = (message: ProcessMessage) =>
  storedJsonOf(message) ?? JSON.stringify(message);

const sseFrames = new FrameCache(
  (message) =>
    `id: ${message.seq}\nevent: message\ndata: ${jsonOf(message)}\n\n`,
);

const ndjsonLines = new FrameCache(
  (message) => `{"event":"message","message":${jsonOf(message)}}\n`,
);

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
    for (const message of messages) out += sseFrames.of(message);
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
    for (const message of messages) out += ndjsonLines.of(message);
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
