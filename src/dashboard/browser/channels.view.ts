import {
  PresenceSnapshot,
  RefusedChannel,
  StreamgateChannelError,
  StreamgateClient,
  StreamgateClientError,
  Unsubscribe,
} from '@streamgate/client';
import { byTestId, el } from './dom';

/**
 * The channel picker and the presence lists. With no channel picked the
 * connection is unfiltered: it receives everything its token sees. Each
 * picked channel gets its member list, or a note when the server has no
 * presence for it.
 */
export class ChannelsView {
  private readonly form = byTestId<HTMLFormElement>('channel-form');
  private readonly input = byTestId<HTMLInputElement>('channel-input');
  private readonly list = byTestId('channel-list');
  private readonly status = byTestId('channel-status');
  private readonly presence = new Map<
    string,
    { box: HTMLElement; stop: Unsubscribe }
  >();

  constructor(private readonly client: StreamgateClient) {}

  init(initial: readonly string[]): void {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const channels = this.input.value
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean);
      if (channels.length === 0) return;
      this.input.value = '';
      void this.subscribe(channels);
    });
    this.client.onRefused((refused) => this.showRefused(refused));
    this.client.onReady(() => this.render());
    this.client.onError((error) => this.presenceFailed(error));
    if (initial.length > 0) void this.subscribe(initial);
    this.render();
  }

  private async subscribe(channels: readonly string[]): Promise<void> {
    this.say(`Subscribing to ${channels.join(', ')}…`);
    this.render();
    try {
      const change = await this.client.subscribe(channels);
      this.say(
        `Subscribed at ${change.position ?? 'the start'}; events after it arrive live.`,
      );
    } catch (error) {
      this.say((error as Error).message, 'error');
    }
    this.render();
  }

  private async unsubscribe(channel: string): Promise<void> {
    try {
      await this.client.unsubscribe([channel]);
      this.say(`Unsubscribed from ${channel}.`);
    } catch (error) {
      this.say((error as Error).message, 'error');
    }
    this.render();
  }

  private render(): void {
    const channels = this.client.channels;
    this.list.dataset.channels = channels === null ? '' : channels.join(',');
    if (channels === null || channels.length === 0) {
      this.list.replaceChildren(
        el(
          'p',
          { class: 'muted', 'data-testid': 'channels-unfiltered' },
          channels === null
            ? 'No channel picked: every event the token sees arrives.'
            : 'No channel left: only events for everyone arrive.',
        ),
      );
    } else {
      this.list.replaceChildren(
        ...channels.map((channel) => this.channelItem(channel)),
      );
    }
    for (const [channel, entry] of this.presence) {
      if (channels?.includes(channel)) continue;
      entry.stop();
      this.presence.delete(channel);
    }
  }

  private channelItem(channel: string): HTMLElement {
    let entry = this.presence.get(channel);
    if (!entry) {
      const box = el(
        'ul',
        {
          class: 'members',
          'data-testid': 'presence',
          'data-channel': channel,
        },
        el('li', { class: 'muted' }, 'Asking who is here…'),
      );
      const stop = this.client.onPresence(channel, (snapshot) =>
        this.showMembers(box, snapshot),
      );
      entry = { box, stop };
      this.presence.set(channel, entry);
    }
    const leave = el(
      'button',
      {
        type: 'button',
        class: 'link',
        title: `Unsubscribe from ${channel}`,
        'data-testid': 'channel-remove',
      },
      '×',
    );
    leave.addEventListener('click', () => void this.unsubscribe(channel));
    return el(
      'div',
      { class: 'channel', 'data-testid': 'channel', 'data-channel': channel },
      el('div', { class: 'row' }, el('code', {}, channel), leave),
      entry.box,
    );
  }

  private showMembers(box: HTMLElement, snapshot: PresenceSnapshot): void {
    box.dataset.count = String(snapshot.members.length);
    const notes = [
      snapshot.members.length === 0 &&
        el('li', { class: 'muted' }, 'Nobody here.'),
      snapshot.truncated &&
        el('li', { class: 'muted' }, 'More than the server lists.'),
    ].filter((note): note is HTMLLIElement => note !== false);
    box.replaceChildren(
      ...snapshot.members.map((member) =>
        el(
          'li',
          { 'data-testid': 'member', 'data-user': member.userId },
          nameOf(member.info) ?? member.userId,
          member.connections > 1
            ? el('span', { class: 'muted' }, ` ×${member.connections}`)
            : null,
        ),
      ),
      ...notes,
    );
  }

  private presenceFailed(error: StreamgateClientError): void {
    if (
      !(error instanceof StreamgateChannelError) ||
      error.request !== 'presence' ||
      error.channel === undefined
    )
      return;
    const box = this.presence.get(error.channel)?.box;
    if (!box) return;
    box.replaceChildren(
      el(
        'li',
        { class: 'muted', 'data-testid': 'presence-off' },
        error.error === 'not_enabled'
          ? 'No presence on this channel.'
          : `Presence unavailable (${error.error}).`,
      ),
    );
  }

  private showRefused(refused: readonly RefusedChannel[]): void {
    this.say(
      `Refused at connect: ${refused.map((r) => `${r.channel} (${r.error})`).join(', ')}.`,
      'error',
    );
    this.render();
  }

  private say(text: string, kind: 'info' | 'error' = 'info'): void {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }
}

function nameOf(info: unknown): string | null {
  const name = (info as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && name.length > 0 ? name : null;
}
