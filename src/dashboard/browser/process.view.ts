import { byId, byTestId, clockTime, el, trimChildren } from './dom';
import { compactJson } from './event.format';
import {
  ProcessMessage,
  ProcessStreamReader,
  ProcessStreamState,
} from '@streamgate/client';

/** Follow one process: history first, then live messages, over `GET /processes/:id/messages`. */
export class ProcessView {
  private readonly form = byId<HTMLFormElement>('process-form');
  private readonly input = byTestId<HTMLInputElement>('process-id');
  private readonly stopButton = byTestId<HTMLButtonElement>('process-stop');
  private readonly status = byTestId('process-status');
  private readonly list = byTestId('process-messages');
  private reader: ProcessStreamReader | null = null;
  private processStatus = '';

  constructor(private readonly token: () => Promise<string>) {}

  init(): void {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const id = this.input.value.trim();
      if (id) this.follow(id);
    });
    this.stopButton.addEventListener('click', () => this.reader?.stop());
  }

  follow(processId: string): void {
    this.reader?.stop();
    this.list.replaceChildren();
    this.processStatus = '';
    const reader = new ProcessStreamReader({
      url: location.origin,
      processId,
      token: this.token,
    });
    let problem = '';
    reader.onError((error) => {
      problem = error.message;
    });
    reader.onStateChange((state) => {
      if (this.reader !== reader) return;
      this.showState(processId, state, state === 'open' ? '' : problem);
      if (state === 'open') problem = '';
    });
    reader.onMessage((message) => {
      if (this.reader === reader) this.addMessage(message);
    });
    reader.onStatus((status, previous) => {
      if (this.reader !== reader) return;
      this.processStatus = status;
      this.addNote(`status ${previous ?? '–'} → ${status}`);
    });
    reader.onEnd((end) => {
      if (this.reader !== reader) return;
      const how = end.status ?? end.reason ?? 'ended';
      this.processStatus = how;
      this.addNote(`ended: ${how}`);
    });
    this.reader = reader;
    this.stopButton.disabled = false;
    reader.start();
  }

  private showState(
    processId: string,
    state: ProcessStreamState,
    detail?: string,
  ): void {
    this.status.dataset.state = state;
    const status = this.processStatus ? ` · ${this.processStatus}` : '';
    this.status.textContent = `${processId}: ${state}${status}${detail ? ` — ${detail}` : ''}`;
    if (state === 'ended' || state === 'failed' || state === 'stopped')
      this.stopButton.disabled = true;
  }

  private addMessage(message: ProcessMessage): void {
    const who = [message.agent, message.model].filter(Boolean).join(' · ');
    this.list.append(
      el(
        'li',
        { 'data-testid': 'process-message', 'data-seq': String(message.seq) },
        el('span', { class: 'seq' }, `#${message.seq}`),
        el('span', { class: 'badge' }, String(message.type)),
        who ? el('span', { class: 'who' }, who) : null,
        el('code', { class: 'json' }, compactJson(message.payload, 600)),
      ),
    );
    trimChildren(this.list, 500, 'start');
    this.list.scrollTop = this.list.scrollHeight;
  }

  private addNote(text: string): void {
    this.list.append(
      el('li', { class: 'note' }, `${clockTime(Date.now())}  ${text}`),
    );
  }
}
