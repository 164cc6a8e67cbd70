import type { Envelope } from '@streamgate/client';
import { clockTime, el, trimChildren } from './dom';
import { compactJson, headline, hueOf, severity } from './event.format';

interface TypeEntry {
  count: number;
  readonly chip: HTMLButtonElement;
  readonly counter: HTMLElement;
}

/**
 * The live event feed: newest row first, one filter chip per event type with
 * its count, and a text filter. Keeps at most `maxRows` rows.
 */
export class FeedView {
  private readonly types = new Map<string, TypeEntry>();
  private readonly hidden = new Set<string>();
  private readonly searchText = new WeakMap<HTMLElement, string>();
  private search = '';

  constructor(
    private readonly body: HTMLTableSectionElement,
    private readonly chips: HTMLElement,
    private readonly empty: HTMLElement,
    private readonly maxRows = 1000,
  ) {}

  add(envelope: Envelope): void {
    const { id, type, data, ts } = envelope;
    const line = headline(type, data);
    const json = compactJson(data);
    const streamId = id.slice(id.indexOf(':') + 1);
    const level = severity(type, data);
    const row = el(
      'tr',
      {
        'data-testid': 'feed-row',
        'data-event-id': id,
        'data-event-type': type,
        class: `feed-row hue-${hueOf(type)}${level ? ` ${level}` : ''}`,
      },
      el('td', { class: 'time' }, clockTime(ts)),
      el('td', { class: 'id', title: id }, streamId),
      el('td', { class: 'type' }, el('span', { class: 'badge' }, type)),
      el(
        'td',
        { class: 'data' },
        line ? el('div', { class: 'headline' }, line) : null,
        el('code', { class: 'json', title: json }, json),
      ),
    );
    this.searchText.set(row, `${id} ${type} ${json}`.toLowerCase());
    row.hidden = !this.visible(row, type);
    this.body.prepend(row);
    trimChildren(this.body, this.maxRows, 'end');
    this.count(type);
    this.empty.hidden = true;
  }

  /** A full-width line in the feed: a gap, a resync, a reconnect. */
  marker(text: string, kind: string): void {
    this.body.prepend(
      el(
        'tr',
        {
          'data-testid': 'feed-marker',
          'data-kind': kind,
          class: `marker ${kind}`,
        },
        el('td', { colspan: 4 }, `${clockTime(Date.now())}  ${text}`),
      ),
    );
    trimChildren(this.body, this.maxRows, 'end');
  }

  setSearch(text: string): void {
    this.search = text.trim().toLowerCase();
    this.refilter();
  }

  clear(): void {
    this.body.replaceChildren();
    this.empty.hidden = false;
  }

  private count(type: string): void {
    let entry = this.types.get(type);
    if (!entry) {
      const counter = el(
        'span',
        { class: 'count', 'data-testid': 'type-count' },
        '0',
      );
      const chip = el(
        'button',
        {
          type: 'button',
          class: `chip hue-${hueOf(type)}`,
          'data-testid': 'type-filter',
          'data-type': type,
          'aria-pressed': 'true',
          title: 'Show or hide this type',
        },
        el('span', { class: 'name' }, type),
        counter,
      );
      chip.addEventListener('click', () => this.toggle(type));
      entry = { count: 0, chip, counter };
      this.types.set(type, entry);
      const after = [...this.types.keys()].sort().indexOf(type);
      const next = this.chips.children[after] ?? null;
      this.chips.insertBefore(chip, next);
    }
    entry.count++;
    entry.counter.textContent = String(entry.count);
  }

  private toggle(type: string): void {
    const entry = this.types.get(type);
    if (this.hidden.has(type)) this.hidden.delete(type);
    else this.hidden.add(type);
    entry?.chip.setAttribute('aria-pressed', String(!this.hidden.has(type)));
    this.refilter();
  }

  private refilter(): void {
    for (const row of Array.from(this.body.rows)) {
      const type = row.dataset.eventType;
      if (type !== undefined) row.hidden = !this.visible(row, type);
    }
  }

  private visible(row: HTMLElement, type: string): boolean {
    if (this.hidden.has(type)) return false;
    return (
      !this.search || (this.searchText.get(row) ?? '').includes(this.search)
    );
  }
}
