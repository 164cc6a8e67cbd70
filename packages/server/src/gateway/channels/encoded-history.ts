import { StoredEvent } from '../../event-bus/domain/event';
import { storedEnvelopeOf } from '../../event-bus/engine/stream-entry.codec';

function envelopeOf(event: StoredEvent): string {
  const stored = storedEnvelopeOf(event, false);
  if (stored !== null) return stored;
  const { id, type, data, ts } = event;
  return JSON.stringify({ id, type, data, ts });
}

/**
 * A `history` acknowledgement `{ ok: true, events, next }` whose envelopes
 * are written from the stored text of each event, as a replayed batch's are.
 */
export class EncodedHistory {
  constructor(
    readonly events: readonly StoredEvent[],
    readonly next: string | null,
  ) {}

  get json(): string {
    const parts = new Array<string>(this.events.length);
    for (let i = 0; i < this.events.length; i++)
      parts[i] = envelopeOf(this.events[i]);
    return `{"ok":true,"events":[${parts.join(',')}],"next":${JSON.stringify(this.next)}}`;
  }

  toJSON(): {
    ok: true;
    events: { id: string; type: string; data: unknown; ts: number }[];
    next: string | null;
  } {
    return {
      ok: true,
      events: this.events.map(({ id, type, data, ts }) => ({
        id,
        type,
        data,
        ts,
      })),
      next: this.next,
    };
  }
}

/** The body of `GET /events/history`: the acknowledgement without `ok`. */
export function historyBodyOf(history: EncodedHistory): string {
  return `{${history.json.slice('{"ok":true,'.length)}`;
}
