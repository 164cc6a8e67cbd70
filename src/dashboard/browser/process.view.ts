import { byId, byTestId, clockTime, el, trimChildren } from './dom';
import { compactJson } from './event.format';
import {
  ProcessMessageView,
  ProcessStreamReader,
  ProcessStreamState,
} from './process-stream.reader';

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
    const reader = new ProcessStreamReader(processId, this.token, {
      onState: (state, detail) => {
        if (this.reader === reader) this.showState(processId, state, detail);
      },
      onMessage: (message) => {
        if (this.reader === reader) this.addMessage(message);
      },
      onStatus: (status, previous) => {
        if (this.reader !== reader) return;
        this.processStatus = status;
        this.addNote(`status ${previous ?? '–'} → ${status}`);
      },
      onEnd: (status) => {
        if (this.reader !== reader) return;
        this.processStatus = status;
        this.addNote(`ended: ${status}`);
      },
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

  private addMessage(message: ProcessMessageView): void {
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
