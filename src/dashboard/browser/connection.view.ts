import type { ClientState, ReadyInfo } from '@streamgate/client';
import { byTestId, clockTime, el, trimChildren } from './dom';

type Counter =
  'events' | 'ready' | 'replayed' | 'resyncs' | 'evictions' | 'errors';

const STATE_LABELS: Record<ClientState, string> = {
  idle: 'idle',
  connecting: 'connecting',
  connected: 'replaying',
  live: 'live',
  reconnecting: 'reconnecting',
  failed: 'failed (sign in again)',
  closed: 'closed',
};

/** Connection state, counters, the last `ready` and a log of what happened to the connection. */
export class ConnectionView {
  private readonly counts: Record<Counter, number> = {
    events: 0,
    ready: 0,
    replayed: 0,
    resyncs: 0,
    evictions: 0,
    errors: 0,
  };
  private readonly state = byTestId('connection-state');
  private readonly readyStatus = byTestId('ready-status');
  private readonly cursor = byTestId('cursor');
  private readonly log = byTestId('connection-log');

  setState(state: ClientState, detail?: string): void {
    this.state.dataset.state = state;
    this.state.textContent = detail
      ? `${STATE_LABELS[state]} (${detail})`
      : STATE_LABELS[state];
    document.title = `${STATE_LABELS[state]} · streamgate dashboard`;
  }

  ready(info: ReadyInfo): string {
    this.bump('ready');
    this.bump('replayed', info.replayed);
    const text = info.recovered
      ? `recovered · replayed ${info.replayed}`
      : `not recovered (${info.reason ?? 'no reason given'}) · replayed ${info.replayed}`;
    this.readyStatus.textContent = text;
    this.readyStatus.dataset.recovered = String(info.recovered);
    this.readyStatus.dataset.replayed = String(info.replayed);
    this.readyStatus.dataset.reason = info.reason ?? '';
    this.readyStatus.title = `Ready at ${info.lastEventId ?? 'the start of the log'}`;
    return text;
  }

  setCursor(id: string | null): void {
    this.cursor.textContent = id ?? 'none';
  }

  bump(counter: Counter, by = 1): void {
    this.counts[counter] += by;
    byTestId(`counter-${counter}`).textContent =
      this.counts[counter].toLocaleString('en');
  }

  entry(kind: string, text: string): void {
    this.log.prepend(
      el(
        'li',
        { 'data-testid': 'log-entry', 'data-kind': kind, class: `log-${kind}` },
        el('time', {}, clockTime(Date.now())),
        el('span', {}, text),
      ),
    );
    trimChildren(this.log, 100, 'end');
  }
}
